/*
** iam_policy.h — a job's IAM policy and the three google.iam.v1 methods on it,
** as Cloud IAM answers them: the policy shown at a requested version (a
** conditional binding's role ends in "_withcond_" and a hash below version 3),
** a new policy checked (member and role syntax, conditions only at version 3,
** the etag: ABORTED when it is not the current one's), normalized and kept
** under a new etag, and the permissions a caller asks about. No store, no
** HTTP: the emulator (api_iam.c) and the fake Google (tests/servers) serve the
** methods through it, so that the two answer alike.
*/
#ifndef EMU_IAM_POLICY_H
#define EMU_IAM_POLICY_H

#include <cjson/cJSON.h>

#include "errors.h"

/* Cloud IAM's limit on the principals of one policy; the emulator also holds bindings to it. */
#define EMU_IAM_MAX_MEMBERS 1500

typedef struct emu_iam_policy emu_iam_policy;

/* Frees a policy; NULL is fine. */
void emu_iam_policy_free(emu_iam_policy *p);

/* GetIamPolicy's answer for p (NULL: never set: no bindings, etag "ACAB") at
** the version `requested` asks (its text, as the query has it; NULL: 0). NULL
** with err set (INVALID_ARGUMENT for a version other than 0, 1 and 3). */
cJSON *emu_iam_get(const emu_iam_policy *p, const char *requested, emu_error *err);

/*
** SetIamPolicy: body is the request (checked against emu_msg_set_iam_policy;
** NULL: none). On success *p is the new policy (the old one freed, a new one
** made when *p was NULL) and the answer is returned; else NULL with err set
** and *p untouched.
*/
cJSON *emu_iam_set(emu_iam_policy **p, const cJSON *body, emu_error *err);

/* TestIamPermissions: of the permissions body asks about (checked against
** emu_msg_test_iam), those of run.jobs.*: nobody is refused anything. */
cJSON *emu_iam_test(const cJSON *body, emu_error *err);

#endif
