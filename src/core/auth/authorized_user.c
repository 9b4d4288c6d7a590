/*
** authorized_user.c — the authorized_user credential kind: owns the OAuth2
** client secret and the refresh token (wiped on free), refreshes with the
** refresh_token grant, and keeps a rotated refresh token when the endpoint
** sends one.
*/
#include <stdlib.h>
#include <string.h>

#include "auth/authorized_user.h"
#include "auth/credentials.h"
#include "auth/keyfile.h"
#include "auth/token_exchange.h"

typedef struct user_source {
    char *client_id;
    char *client_secret;
    char *refresh_token; /* replaced when the endpoint rotates it; only the refreshing thread touches it */
    char *token_uri;
} user_source;

static void user_destroy(void *data)
{
    user_source *u = data;
    if (u) {
        free(u->client_id);
        cr_secret_free(u->client_secret);
        cr_secret_free(u->refresh_token);
        free(u->token_uri);
        free(u);
    }
}

/* The endpoint rotated the refresh token: the old one may no longer work.
** Only the one fetch in flight for this source writes it. */
static void user_rotated(void *data, char *refresh_token)
{
    user_source *u = data;
    cr_secret_free(u->refresh_token);
    u->refresh_token = refresh_token;
}

static cr_machine *user_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    user_source *u = data;
    char *id = cr_url_escape(u->client_id), *secret = cr_url_escape(u->client_secret),
         *refresh = cr_url_escape(u->refresh_token);
    char *form = id && secret && refresh
                     ? cr_asprintf("grant_type=refresh_token&client_id=%s&client_secret=%s&refresh_token=%s", id,
                                   secret, refresh)
                     : NULL;
    free(id);
    cr_secret_free(secret);
    cr_secret_free(refresh);
    if (!form) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "token endpoint %s: out of memory", u->token_uri);
        return NULL;
    }
    cr_machine *m =
        cr_token_exchange_machine(creds, "token endpoint", u->token_uri, form, timeout_ms, user_rotated, u, err);
    cr_secret_free(form);
    return m;
}

static const cr_credentials_source authorized_user_source = {
    .type = "authorized_user",
    .persist = 1,
    .fetch = user_fetch,
    .destroy = user_destroy,
};

cr_credentials *cr_authorized_user_new(const cJSON *root, const char *what, const char *origin, cr_error *err)
{
    user_source *u = calloc(1, sizeof *u);
    char *quota = NULL, *account = NULL, *key = NULL, *secrets = NULL;
    char hash[65];
    cr_credentials *c = NULL;
    if (!u) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return NULL;
    }
    if (cr_keyfile_string(root, "", "client_id", 1, what, &u->client_id, err) < 0 ||
        cr_keyfile_string(root, "", "client_secret", 1, what, &u->client_secret, err) < 0 ||
        cr_keyfile_string(root, "", "refresh_token", 1, what, &u->refresh_token, err) < 0 ||
        cr_keyfile_string(root, "", "token_uri", 0, what, &u->token_uri, err) < 0 ||
        cr_keyfile_quota_project(root, what, &quota, err) < 0 ||
        cr_keyfile_string(root, "", "account", 0, what, &account, err) < 0)
        goto done;
    if (!u->token_uri && !(u->token_uri = cr_strdup(CR_DEFAULT_TOKEN_URI))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    if (cr_keyfile_check_url(u->token_uri, "token_uri", what, err) < 0)
        goto done;
    /* Both secrets in one digest: a new secret or a new refresh token is
    ** another credential, and neither appears in the key. */
    if (!(secrets = cr_asprintf("%s\n%s", u->client_secret, u->refresh_token)) ||
        cr_sha256_hex(secrets, strlen(secrets), hash) < 0 ||
        !(key = cr_asprintf("authorized_user\n%s\n%s\n%s\n%s", u->client_id, u->token_uri, hash, quota ? quota : ""))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    cr_credentials_desc d = {
        .source = &authorized_user_source,
        .data = u,
        .key = key,
        .account = account,
        .quota_project = quota,
        .origin = origin,
    };
    u = NULL; /* intern owns it now, in every case */
    c = cr_credentials_intern(&d, err);
done:
    user_destroy(u);
    cr_secret_free(secrets);
    free(quota);
    free(account);
    free(key);
    return c;
}
