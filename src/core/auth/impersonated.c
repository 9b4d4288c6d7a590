/*
** impersonated.c — the impersonated_service_account credential kind: holds
** a reference to its source credential, and on refresh asks it for a token
** (from the source's own cache) and trades that at IAM Credentials. A 401
** from IAM drops the source's token, so the next refresh gets a new one.
*/
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "auth/iam.h"
#include "auth/impersonated.h"
#include "auth/keyfile.h"
#include "auth/token.h"
#include "machine/machine.h"

typedef struct imp_source {
    cr_credentials *source; /* the credential whose token is traded */
    char *url;
    char *what; /* "credentials file X", for the source's errors */
    cJSON *delegates;
} imp_source;

static void imp_destroy(void *data)
{
    imp_source *m = data;
    if (m) {
        cr_credentials_unref(m->source);
        free(m->url);
        free(m->what);
        cJSON_Delete(m->delegates);
        free(m);
    }
}

/* Prefixes an error of the source credential with where it came from. */
static void blame_source(cr_error *err, const char *what)
{
    char *m = cr_asprintf("%s: source_credentials: %s", what, err->message ? err->message : err->code);
    if (m) {
        free(err->message);
        err->message = m;
    }
}

/*
** The source's token (from the store, through a token machine), traded at
** IAM Credentials. A 401 from IAM means the source's token was refused:
** that one is dropped, a new one asked for, and the trade tried once more.
*/
typedef struct imp_machine {
    cr_machine base;
    cr_credentials *creds; /* keeps `src` alive */
    imp_source *src;
    long timeout_ms;
    char *bearer; /* the source's token in use */
    int trading;  /* the sub-machine running is the IAM call (else the source's token) */
    int retried;
} imp_machine;

static void imp_step(cr_machine *m, cr_step *s)
{
    (void)s;
    cr_machine_finish_errorf(m, "INTERNAL", 0, "impersonation: nothing left to do");
}

static void imp_sub_done(cr_machine *m, cr_machine *sub)
{
    imp_machine *x = (imp_machine *)m;
    cr_error err = CR_ERROR_INIT;
    if (!x->trading) {
        cr_secret_free(x->bearer);
        if (cr_machine_take_token(sub, &x->bearer, NULL, &err) < 0) {
            blame_source(&err, x->src->what);
            cr_machine_finish_error(m, &err);
            return;
        }
        x->trading = 1;
        cr_machine *iam = cr_iam_machine(x->src->url, x->bearer, x->src->delegates, x->timeout_ms, &err);
        if (!iam)
            cr_machine_finish_error(m, &err);
        cr_machine_push(m, iam);
        return;
    }
    /* the trade's outcome, unless IAM refused the source's token the first time */
    if (sub->token || sub->err.status != 401 || x->retried) {
        cr_machine_finish_from(m, sub);
        return;
    }
    x->retried = 1;
    x->trading = 0;
    cr_machine *again = cr_token_machine_new(x->src->source, x->bearer, (double)x->timeout_ms / 1000.0, &err);
    if (!again)
        cr_machine_finish_error(m, &err);
    cr_machine_push(m, again);
}

static void imp_machine_destroy(cr_machine *m)
{
    imp_machine *x = (imp_machine *)m;
    cr_secret_free(x->bearer);
    cr_credentials_unref(x->creds);
}

static const cr_machine_ops imp_ops = {
    .what = "impersonation",
    .step = imp_step,
    .sub_done = imp_sub_done,
    .destroy = imp_machine_destroy,
};

static cr_machine *imp_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    imp_machine *x = calloc(1, sizeof *x);
    if (!x) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&x->base, &imp_ops, NULL);
    x->creds = cr_credentials_ref(creds);
    x->src = data;
    x->timeout_ms = timeout_ms;
    cr_machine *first = cr_token_machine_new(x->src->source, NULL, (double)timeout_ms / 1000.0, err);
    if (!first) {
        cr_machine_free(&x->base);
        return NULL;
    }
    cr_machine_push(&x->base, first);
    return &x->base;
}

static const cr_credentials_source impersonated_source = {
    .type = "impersonated_service_account",
    .persist = 1,
    .fetch = imp_fetch,
    .destroy = imp_destroy,
};

int cr_impersonated_delegates(const cJSON *root, const char *what, cJSON **out, cr_error *err)
{
    *out = NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delegates");
    if (!d || cJSON_IsNull(d))
        return 0;
    if (!cJSON_IsArray(d)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"delegates\" is not a list", what);
        return -1;
    }
    int i = 0;
    for (const cJSON *e = d->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e) || !e->valuestring || !*e->valuestring) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"delegates\" item %d is not a non-empty string", what,
                         i);
            return -1;
        }
    }
    if (!(*out = cJSON_Duplicate(d, 1))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

cr_credentials *cr_impersonated_new(const cJSON *root, const char *what, const char *origin, int depth,
                                    cr_credentials_loader load, cr_error *err)
{
    imp_source *m = calloc(1, sizeof *m);
    char *quota = NULL, *target = NULL, *key = NULL, *dl = NULL, *nested = NULL;
    cr_credentials *c = NULL;
    if (!m || !(m->what = cr_strdup(what))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    if (cr_keyfile_string(root, "", "service_account_impersonation_url", 1, what, &m->url, err) < 0 ||
        cr_keyfile_quota_project(root, what, &quota, err) < 0 ||
        cr_impersonated_delegates(root, what, &m->delegates, err) < 0)
        goto done;
    if (!(target = cr_iam_target_from_url(m->url))) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"service_account_impersonation_url\" is not an IAM Credentials URL "
                     "(https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken)",
                     what);
        goto done;
    }
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source_credentials");
    if (!src || cJSON_IsNull(src)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"source_credentials\" is missing", what);
        goto done;
    }
    if (!cJSON_IsObject(src)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"source_credentials\" is not an object", what);
        goto done;
    }
    if (!(nested = cr_asprintf("%s: field \"source_credentials\"", what))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    if (!(m->source = load(src, nested, origin, NULL, depth + 1, err)))
        goto done;
    dl = m->delegates ? cJSON_PrintUnformatted(m->delegates) : NULL;
    if (!(key = cr_asprintf("impersonated_service_account\n%s\n%s\n%s\n%s", m->url, dl ? dl : "[]", quota ? quota : "",
                            cr_credentials_registry_key(m->source) ? cr_credentials_registry_key(m->source) : ""))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    cr_credentials_desc d = {
        .source = &impersonated_source,
        .data = m,
        .key = cr_credentials_registry_key(m->source) ? key : NULL,
        .account = target,
        .quota_project = quota,
        .origin = origin,
    };
    m = NULL;
    c = cr_credentials_intern(&d, err);
done:
    imp_destroy(m);
    free(quota);
    free(target);
    free(key);
    free(nested);
    if (dl)
        cJSON_free(dl);
    return c;
}
