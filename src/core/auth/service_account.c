/*
** service_account.c — the service_account credential kind: owns the parsed
** key (until the credential's last reference goes), names the registry
** entry, and fetches a token by signing a grant assertion (jwt.c) and
** exchanging it (token_exchange.c) — or, in self-signed mode, by signing an
** access JWT that is the token, until the API refuses one.
*/
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/credentials.h"
#include "auth/jwt.h"
#include "auth/service_account.h"
#include "auth/token_exchange.h"
#include "machine/machine.h"

typedef struct sa_source {
    cr_keyfile kf;
    char *audience;      /* self-signed JWT's aud; NULL: exchange only */
    atomic_int exchange; /* 1 once a self-signed JWT was refused: exchange for good */
} sa_source;

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
    if (sa->audience && !atomic_load(&sa->exchange)) {
        char *jwt = cr_jwt_self_signed(kf->pkey, kf->private_key_id, kf->client_email, sa->audience, now, &err);
        if (jwt)
            cr_machine_finish_token(m, jwt, now + CR_JWT_LIFETIME);
        else
            cr_machine_finish_error(m, &err);
        cr_secret_free(jwt);
        return;
    }
    char *jwt = cr_jwt_grant_assertion(kf->pkey, kf->private_key_id, kf->client_email, CR_CLOUD_PLATFORM_SCOPE,
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

/*
** Hex SHA-256 of the public key — its modulus and exponent, each after its
** length: identifies the key without revealing anything about the private
** half. (Not of i2d_PUBKEY's DER: OpenSSL 3 encodes that through its encoder
** machinery, 3.7M instructions of a one-shot trigger's 42M.)
*/
static int public_key_fingerprint(EVP_PKEY *pkey, char out[65])
{
    BIGNUM *n = NULL, *e = NULL;
    int rc = -1;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
        int nl = BN_num_bytes(n), el = BN_num_bytes(e);
        unsigned char *buf = malloc((size_t)(nl + el) + 8);
        if (buf) {
            unsigned char *w = buf;
            for (int i = 3; i >= 0; i--)
                *w++ = (unsigned char)((unsigned)nl >> (8 * i));
            w += BN_bn2bin(n, w);
            for (int i = 3; i >= 0; i--)
                *w++ = (unsigned char)((unsigned)el >> (8 * i));
            w += BN_bn2bin(e, w);
            rc = cr_sha256_hex(buf, (size_t)(w - buf), out);
            free(buf);
        }
    }
    BN_free(n);
    BN_free(e);
    ERR_clear_error();
    return rc;
}

cr_credentials *cr_service_account_new(cr_keyfile *kf, const char *origin, const cr_credentials_options *opts,
                                       cr_error *err)
{
    char fp[65];
    char *key = NULL;
    sa_source *owned = calloc(1, sizeof *owned);
    if (owned) {
        owned->kf = *kf;
        memset(kf, 0, sizeof *kf);
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
    if (public_key_fingerprint(k->pkey, fp) < 0 ||
        !(key = cr_asprintf("service_account\n%s\n%s\n%s\n%s\n%s\n%s%s", k->client_email,
                            k->private_key_id ? k->private_key_id : "", k->token_uri, fp,
                            k->quota_project_id ? k->quota_project_id : "",
                            owned->audience ? "self-signed\n" : "exchange", owned->audience ? owned->audience : ""))) {
        sa_destroy(owned);
        cr_error_set(err, "INTERNAL", 0, "credentials %s: cannot fingerprint the key", origin ? origin : "JSON");
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
