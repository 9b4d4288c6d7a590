/*
** call.h — an API call as the machines carry it: a cr_request encoded by its
** method table entry as far as it can be before names resolve, the encoders
** the table points at, and the call machine. Internal to the core.
*/
#ifndef CR_API_CALL_H
#define CR_API_CALL_H

#include "api/api.h"

/* The longest a single exchange may be given (a week), and a WaitOperation's
** wait (a day): numbers past them are mistakes, refused before any arithmetic
** could wrap. */
#define CR_MAX_EXCHANGE_SECONDS (7.0 * 24 * 3600)
#define CR_MAX_WAIT_SECONDS (24.0 * 3600)

/* What a PERMISSION_DENIED to a call may mean (hints.c). */
typedef enum cr_hint_kind {
    CR_HINT_NONE = 0,
    CR_HINT_RUN_OVERRIDES, /* a RunJob with overrides: run.jobs.runWithOverrides */
    CR_HINT_ACT_AS         /* a CreateJob/UpdateJob of a job that runs as hint_account: actAs on it */
} cr_hint_kind;

/* A request, copied and encoded as far as it can be before names resolve. */
typedef struct cr_call {
    const cr_method_def *def;
    cr_method method;
    char http_method[8];
    char *name;         /* the name given (short or full); NULL: the parent itself */
    const char *kind;   /* what `name` is: "jobs", "executions", "tasks", "operations" */
    const char *suffix; /* after the resolved name: ":run", "/executions", ... */
    char *path;         /* CR_CALL: the path under /v2/ as given */
    char *base;         /* CR_CALL: another API's endpoint, or NULL for the client's */
    char *query;        /* encoded, or NULL */
    char *body;         /* JSON text (malloc'd; a secret may be in it), or NULL; the request takes it */
    cJSON *spec;        /* UPDATE_JOB: the Job, whose name is set when it is known */
    int idempotent;     /* a read: retried after any transient failure */
    long min_timeout_ms;
    cr_hint_kind hint;  /* what to add to a PERMISSION_DENIED's message */
    char *hint_account; /* CR_HINT_ACT_AS: the job's service account (bounded, owned) */
} cr_call;

/* Fills `call` from `r` by its method's table entry (copies). -1 with err
** set for a request wrong in itself. */
CR_HIDDEN int cr_call_init(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN void cr_call_clear(cr_call *call);

/*
** The HTTP request of `call` for client c: 0 with req filled (its timeout
** and bearer are the machine's to set), -1 with err set, or 1 when a name
** needs the project and region and they are not known yet (discover first).
** Once it gets that far (0 or -1 after the names), the request has taken the
** call's body: a call is built once.
*/
CR_HIDDEN int cr_call_build(cr_client *c, cr_call *call, cr_http_request *req, cr_error *err);

/* The encoders the method table names (encode.c): each writes its method's
** query and body into the call; the `resolved` ones finish it once the name is known. */
CR_HIDDEN int cr_encode_run_job(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_list(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_delete(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_create_job(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_update_job(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_cancel(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_wait(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_call(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_get_iam_policy(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_set_iam_policy(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_encode_test_iam_permissions(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN int cr_resolved_create_job(cr_call *call, char *target, char **body, cr_error *err);
CR_HIDDEN int cr_resolved_update_job(cr_call *call, char *target, char **body, cr_error *err);

/* The hint a PERMISSION_DENIED to the call of `r` would get (hints.c): set in
** call when r is a RunJob with overrides or a CreateJob/UpdateJob of a job
** that names its service account. No memory for it: no hint. */
CR_HIDDEN void cr_hint_prepare(cr_call *call, const cr_request *r);

/* Adds the call's hint to err's message when err is PERMISSION_DENIED; code,
** status and details stay as they are. */
CR_HIDDEN void cr_hint_apply(const cr_call *call, cr_error *err);

/*
** Finds the project and region the client lacks: the credentials' project
** (a key file's, or the metadata server's), then the metadata server's
** project and region. What it finds is kept in the client; its error, when
** one is still missing, says every place it looked.
*/
CR_HIDDEN cr_machine *cr_discovery_machine(cr_client *c, cr_error *err);

/* The API call machine of a prepared call (taken: *call is zeroed) and, when
** it could be built already, its request (taken too; NULL: built later).
** text: its result is the answer's text, for cr_machine_take_answer. */
CR_HIDDEN cr_machine *cr_call_machine(cr_client *c, cr_call *call, cr_http_request *built, const cr_call_options *opts,
                                      int text, cr_error *err);

#endif
