/*
** external_account.h — the external_account credential kind (workload
** identity federation): a subject token from a file or a URL, traded at STS
** for a Google token, optionally traded again at IAM Credentials for a
** service account's.
*/
#ifndef CR_AUTH_EXTERNAL_ACCOUNT_H
#define CR_AUTH_EXTERNAL_ACCOUNT_H

#include "util/util.h"

#define CR_DEFAULT_STS_URL "https://sts.googleapis.com/v1/token"

/*
** The (shared) credential for a parsed external_account object (borrowed).
** Fields: audience, subject_token_type, credential_source ({"file": PATH} or
** {"url": URL, "headers": {...}}, each with an optional
** "format": {"type": "text"|"json", "subject_token_field_name": NAME}),
** token_url (default CR_DEFAULT_STS_URL), service_account_impersonation_url,
** quota_project_id, workforce_pool_user_project. Executable and AWS sources
** are UNIMPLEMENTED. The registry key is the type and the SHA-256 of the
** whole object (its headers may be secrets).
*/
CR_HIDDEN cr_credentials *cr_external_account_new(const cJSON *root, const char *what, const char *origin,
                                                  cr_error *err);

#endif
