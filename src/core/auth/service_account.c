/*
** service_account.c — the service_account credential kind: owns the key
** (until the credential's last reference goes; imported into OpenSSL at its
** first signature), names the registry entry, and fetches a token by signing
** a grant assertion (jwt.c) and exchanging it (token_exchange.c) — or, in
** self-signed mode, by signing an access JWT that is the token, until the
** API refuses one.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/credentials.h"
#include "auth/jwt.h"
#include "auth/rsa_pem.h"
#include "auth/service_account.h"
#include "auth/token_exchange.h"
#include "machine/machine.h"

typedef struct sa_source {
    cr_keyfile kf;
    char *audience;           /* self-signed JWT's aud; NULL: exchange only */
    atomic_int exchange;      /* 1 once a self-signed JWT was refused: exchange for good */
    pthread_mutex_t key_lock; /* over pkey and kf.private_key */
    EVP_PKEY *pkey;           /* kf.private_key imported; NULL until the first signature */
} sa_source;

/*
** The key to sign with: imported from the PEM at the first signature, which
** then is wiped (the key has one owner, the EVP_PKEY). Why under a lock: the
** libcurl drivers' store lets one fetch of a credential run at a time, but
** the binding's fetch machine (the nginx driver's) goes around the store, and
** credentials are shared by every Lua state and thread of the process (the
** registry) — and a lock is cheap against a signature. Once set,
** pkey never changes until the credential goes, and OpenSSL signs with one
** EVP_PKEY from several threads at once. NULL with err naming the key file
** (the shape was checked at load; what is left to fail is the numbers).
*/
static EVP_PKEY *sa_key(sa_source *sa, cr_error *err)
{
    pthread_mutex_lock(&sa->key_lock);
    if (!sa->pkey && (sa->pkey = cr_rsa_pem_import(sa->kf.private_key, sa->kf.what, "private_key", err))) {
        cr_secret_free(sa->kf.private_key);
        sa->kf.private_key = NULL;
    }
    EVP_PKEY *pkey = sa->pkey;
    pthread_mutex_unlock(&sa->key_lock);
    return pkey;
}

/*
** A self-signed JWT needs no exchange: it is the token. Otherwise the grant
** assertion is exchanged. Either is signed at the first step, on the
** machine's clock. The audience of the assertion is the endpoint it is meant
** for: the file's token_uri (as Go does), which is also what a test server
** checks.
*/
typedef struct sa_machine {
    cr_machine base;
    cr_credentials *creds; /* keeps `sa` alive */
    sa_source *sa;
    long timeout_ms;
    int signed_;
} sa_machine;

static void sa_step(cr_machine *m, cr_step *s)
{
    (void)s;
    sa_machine *x = (sa_machine *)m;
    sa_source *sa = x->sa;
    cr_keyfile *kf = &sa->kf;
    if (x->signed_) {
        cr_machine_finish_errorf(m, "INTERNAL", 0, "service account: nothing left to do");
        return;
    }
    x->signed_ = 1;
    cr_error err = CR_ERROR_INIT;
    int64_t now = cr_machine_unix_time(m);
    EVP_PKEY *pkey = sa_key(sa, &err);
    if (!pkey) {
        cr_machine_finish_error(m, &err);
        return;
    }
    if (sa->audience && !atomic_load(&sa->exchange)) {
        char *jwt = cr_jwt_self_signed(pkey, kf->private_key_id, kf->client_email, sa->audience, now, &err);
        if (jwt)
            cr_machine_finish_token(m, jwt, now + CR_JWT_LIFETIME);
        else
            cr_machine_finish_error(m, &err);
        cr_secret_free(jwt);
        return;
    }
    char *jwt = cr_jwt_grant_assertion(pkey, kf->private_key_id, kf->client_email, CR_CLOUD_PLATFORM_SCOPE,
                                       kf->token_uri, now, &err);
    if (!jwt) {
        cr_machine_finish_error(m, &err);
        return;
    }
    char *form = cr_token_jwt_form(jwt);
    cr_secret_free(jwt);
    cr_machine *ex = form ? cr_token_exchange_machine(x->creds, "token endpoint", kf->token_uri, form, x->timeout_ms,
                                                      NULL, NULL, &err)
                          : NULL;
    if (!form)
        cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "token endpoint %s: out of memory", kf->token_uri);
    cr_secret_free(form);
    if (!ex) {
        cr_machine_finish_error(m, &err);
        return;
    }
    cr_machine_push(m, ex);
}

static void sa_sub_done(cr_machine *m, cr_machine *sub)
{
    cr_machine_finish_from(m, sub);
}

static void sa_machine_destroy(cr_machine *m)
{
    cr_credentials_unref(((sa_machine *)m)->creds);
}

static const cr_machine_ops sa_ops = {
    .what = "service account token",
    .step = sa_step,
    .sub_done = sa_sub_done,
    .destroy = sa_machine_destroy,
};

static cr_machine *sa_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    sa_machine *x = calloc(1, sizeof *x);
    if (!x) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&x->base, &sa_ops, NULL);
    x->creds = cr_credentials_ref(creds);
    x->sa = data;
    x->timeout_ms = timeout_ms;
    return &x->base;
}

static void sa_destroy(void *data)
{
    sa_source *sa = data;
    if (sa) {
        EVP_PKEY_free(sa->pkey);
        pthread_mutex_destroy(&sa->key_lock);
        cr_keyfile_clear(&sa->kf);
        free(sa->audience);
        free(sa);
    }
}

/* The API refused the current token. For a self-signed JWT that means this
** API does not take them (or not with this audience): the exchange, which
** every Google API accepts, from now on — as Google's clients fall back. */
static void sa_refused(void *data)
{
    sa_source *sa = data;
    if (sa->audience)
        atomic_store(&sa->exchange, 1);
}

static const cr_credentials_source service_account_source = {
    .type = "service_account",
    .persist = 1,
    .fetch = sa_fetch,
    .destroy = sa_destroy,
    .refused = sa_refused,
};

cr_credentials *cr_service_account_new(cr_keyfile *kf, const char *origin, const cr_credentials_options *opts,
                                       cr_error *err)
{
    char *key = NULL;
    sa_source *owned = calloc(1, sizeof *owned);
    if (owned) {
        owned->kf = *kf;
        memset(kf, 0, sizeof *kf);
        pthread_mutex_init(&owned->key_lock, NULL);
    } else {
        cr_keyfile_clear(kf);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
        return NULL;
    }
    cr_keyfile *k = &owned->kf;
    if (opts && opts->self_signed_jwt) {
        owned->audience = cr_strdup(opts->audience && *opts->audience ? opts->audience : CR_SELF_SIGNED_AUDIENCE);
        if (!owned->audience) {
            sa_destroy(owned);
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
            return NULL;
        }
    }
    /* The key's part is its public fingerprint, read from the PEM at load
    ** (cr_rsa_pem_check): the same as it always was, so a cache file keeps
    ** its entries; nothing of the private half is in it. */
    if (!(key = cr_asprintf("service_account\n%s\n%s\n%s\n%s\n%s\n%s%s", k->client_email,
                            k->private_key_id ? k->private_key_id : "", k->token_uri, k->key_fingerprint,
                            k->quota_project_id ? k->quota_project_id : "",
                            owned->audience ? "self-signed\n" : "exchange", owned->audience ? owned->audience : ""))) {
        sa_destroy(owned);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
        return NULL;
    }
    cr_credentials_desc d = {
        .source = &service_account_source,
        .data = owned,
        .key = key,
        .account = k->client_email,
        .project = k->project_id,
        .quota_project = k->quota_project_id,
        .origin = origin,
    };
    cr_credentials *c = cr_credentials_intern(&d, err);
    free(key);
    return c;
}
