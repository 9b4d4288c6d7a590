/*
** impersonated.h — the impersonated_service_account credential kind: a
** source credential (any kind, nested in the file) whose token buys a
** target service account's token from IAM Credentials.
*/
#ifndef CR_AUTH_IMPERSONATED_H
#define CR_AUTH_IMPERSONATED_H

#include "util/util.h"

/* How a kind that nests credentials loads the nested object: the dispatch on
** "type" (cr_credentials_from_object, loader.h), handed in so that the kind
** needs no header of the dispatcher's, which includes the kinds. */
typedef cr_credentials *(*cr_credentials_loader)(const cJSON *root, const char *what, const char *origin,
                                                 const cr_credentials_options *opts, int depth, cr_error *err);

/*
** The (shared) credential for a parsed impersonated_service_account object
** (borrowed). Fields: source_credentials (an object, any supported type,
** loaded with `load`; made through the registry, so it shares its cache with every other user of
** that source), service_account_impersonation_url (used as is; the account
** is the email in it), delegates (optional list of strings),
** quota_project_id. The registry key is the type, the URL, the delegates,
** the source's own registry key and the quota project.
*/
CR_HIDDEN cr_credentials *cr_impersonated_new(const cJSON *root, const char *what, const char *origin, int depth,
                                              cr_credentials_loader load, cr_error *err);

/* Checks an optional "delegates" field (a list of strings): 0 with *out a
** copy (NULL when absent), or -1 naming the field. */
CR_HIDDEN int cr_impersonated_delegates(const cJSON *root, const char *what, cJSON **out, cr_error *err);

#endif
