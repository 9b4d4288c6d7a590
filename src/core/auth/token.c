/*
** token.c — the token machine: the one place that decides whether a stored
** token is still fresh (CR_TOKEN_REFRESH_MARGIN before it expires it no
** longer is), and asks for a new one when it is not or when the API refused
** it. Where tokens are kept, and how one fetch is shared, is the driver's.
*/
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "auth/token.h"
#include "machine/machine.h"

typedef struct token_machine {
    cr_machine base;
    cr_credentials *creds; /* a reference */
    int fresh;             /* asking for a new token */
    char *stale;           /* the token not to be given again (a secret) */
    int refused;
    double within;
} token_machine;

int cr_token_is_fresh(int64_t expires_at, int64_t now)
{
    return now < expires_at - CR_TOKEN_REFRESH_MARGIN;
}

static void tm_step(cr_machine *m, cr_step *s)
{
    token_machine *t = (token_machine *)m;
    s->kind = CR_STEP_TOKEN;
    s->credentials = t->creds;
    s->key = cr_credentials_key(t->creds);
    s->fresh = t->fresh;
    s->stale = t->stale;
    s->refused = t->refused;
    s->within = t->within;
}

/*
** A stored token is used while fresh. Whatever comes back from a fetch is
** used even when it is already inside the margin: a source that hands out
** short-lived tokens must not send every caller back to it.
*/
static void tm_token(cr_machine *m, const char *token, int64_t expires_at)
{
    token_machine *t = (token_machine *)m;
    if (token && (t->fresh || cr_token_is_fresh(expires_at, cr_machine_unix_time(m)))) {
        cr_machine_finish_token(m, token, expires_at);
        return;
    }
    if (t->fresh) {
        cr_machine_finish_errorf(m, "INTERNAL", 0, "token store: no token was given for %s",
                                 cr_credentials_key(t->creds));
        return;
    }
    t->fresh = 1;
    cr_secret_free(t->stale);
    t->stale = cr_strdup(token); /* NULL when none was stored */
}

static void tm_fail(cr_machine *m, cr_error *err)
{
    cr_machine_finish_error(m, err);
}

static void tm_destroy(cr_machine *m)
{
    token_machine *t = (token_machine *)m;
    cr_credentials_unref(t->creds);
    cr_secret_free(t->stale);
}

static const cr_machine_ops token_ops = {
    .what = "token",
    .step = tm_step,
    .token = tm_token,
    .fail = tm_fail,
    .destroy = tm_destroy,
};

cr_machine *cr_token_machine_new(cr_credentials *creds, const char *refused_token, double within, cr_error *err)
{
    token_machine *t = calloc(1, sizeof *t);
    if (!t) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&t->base, &token_ops, NULL);
    t->creds = cr_credentials_ref(creds);
    t->within = within > 0 ? within : (double)CR_TOKEN_TIMEOUT_MS / 1000.0;
    /* A fixed token is the credential itself: nothing to ask a store for,
    ** and nothing to refresh it from. */
    const char *fixed = cr_credentials_fixed_token(creds, NULL);
    if (fixed) {
        if (refused_token)
            cr_machine_finish_errorf(&t->base, "UNAUTHENTICATED", 401,
                                     "the access token was rejected and cannot be refreshed");
        else
            cr_machine_finish_token(&t->base, fixed, cr_credentials_fixed_expiry(creds));
        return &t->base;
    }
    if (refused_token) {
        t->fresh = 1;
        t->refused = 1;
        t->stale = cr_strdup(refused_token);
        if (!t->stale) {
            cr_machine_free(&t->base);
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
            return NULL;
        }
    }
    return &t->base;
}

cr_machine *cr_credentials_token_machine(cr_credentials *creds, cr_error *err)
{
    if (!creds) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_credentials_token_machine: no credentials");
        return NULL;
    }
    return cr_token_machine_new(creds, NULL, 0, err);
}
