/*
** authorized_user.h — the authorized_user credential kind: what
** `gcloud auth application-default login` writes, an OAuth2 client and a
** user's refresh token, traded at token_uri on every refresh.
*/
#ifndef CR_AUTH_AUTHORIZED_USER_H
#define CR_AUTH_AUTHORIZED_USER_H

#include "util/util.h"

/*
** The (shared) credential for a parsed authorized_user object (borrowed;
** the secrets are copied). Fields: client_id, client_secret, refresh_token
** (required), token_uri (default https://oauth2.googleapis.com/token),
** quota_project_id, account (optional). The registry key is the type,
** client_id, token_uri, the SHA-256 of client_secret and refresh_token
** (never the secrets themselves) and the quota project.
*/
CR_HIDDEN cr_credentials *cr_authorized_user_new(const cJSON *root, const char *what, const char *origin,
                                                 cr_error *err);

#endif
