/*
** keyfile.c — the fields of credentials JSON: each checked with a message
** that names the file and the field (never a secret), the "type" field, a
** service_account's fields and its PEM key. Which kind handles which type is
** loader.c's; the kinds build on this file, and it on none of them.
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/keyfile.h"

/* Types Google's libraries accept that we recognise but do not handle yet. */
static const char *const unsupported_types[] = {
    "external_account_authorized_user",
    "gdch_service_account",
};

void cr_keyfile_delete_json(cJSON *root)
{
    cr_json_delete_secret(root); /* the parser made copies of the key */
}

/* A short, printable value may be quoted back in a message; anything else
** (long, binary — possibly pasted secrets) is not. */
static int quotable(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f || s[n] == '"' || n >= 64)
            return 0;
    return 1;
}

int cr_keyfile_string(const cJSON *root, const char *prefix, const char *name, int required, const char *what,
                      char **out, cr_error *err)
{
    *out = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item || cJSON_IsNull(item)) {
        if (required) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is missing", what, prefix, name);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is not a string", what, prefix, name);
        return -1;
    }
    if (required && !*item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is empty", what, prefix, name);
        return -1;
    }
    *out = cr_strdup(item->valuestring);
    if (!*out) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

/*
** Why at load time: quota_project_id is sent as the x-goog-user-project
** header of every call. The send-time check (cr_http_request_check) would
** refuse a CR or LF too, but could only name the header; here the message
** names the file and the field (never the value: it may be anything).
*/
int cr_keyfile_quota_project(const cJSON *root, const char *what, char **out, cr_error *err)
{
    if (cr_keyfile_string(root, "", "quota_project_id", 0, what, out, err) < 0)
        return -1;
    if (*out && !cr_header_value_ok(*out)) {
        free(*out);
        *out = NULL;
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"quota_project_id\" has a line break or control character (it is sent as the "
                     "x-goog-user-project header)",
                     what);
        return -1;
    }
    return 0;
}

/* OpenSSL would otherwise prompt on the terminal for an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/*
** The RSA key of a Google key file (PKCS#8 "PRIVATE KEY", or PKCS#1 "RSA
** PRIVATE KEY"; two primes) read from its DER and handed to OpenSSL's RSA key
** manager as numbers: OpenSSL 3's decoders (PEM_read_bio_PrivateKey) build a
** chain from every key type and structure it knows first, 5 to 8M
** instructions of a one-shot trigger's 42M. NULL for anything else (another
** key type, an encrypted key, more primes, not PEM), which then goes the
** general way: the same key, or the same message, either way.
*/
static EVP_PKEY *rsa_from_der(const unsigned char *der, long len)
{
    static const char *const names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                                        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                                        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    /* RSAPrivateKey ::= SEQUENCE { version 0, n, e, d, p, q, dp, dq, qinv } */
    const unsigned char *p = der;
    long seq = 0;
    int tag = 0, cls = 0;
    if (ASN1_get_object(&p, &seq, &tag, &cls, len) != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
        cls != V_ASN1_UNIVERSAL)
        return NULL;
    const unsigned char *end = p + seq;
    BIGNUM *bn[9] = {NULL};
    int ok = 1;
    for (int i = 0; i < 9 && ok; i++) {
        ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, end - p);
        ok = ai && (bn[i] = ASN1_INTEGER_to_BN(ai, NULL)) != NULL;
        ASN1_INTEGER_free(ai);
    }
    ok = ok && p == end && BN_is_zero(bn[0]);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = ok ? OSSL_PARAM_BLD_new() : NULL;
    for (int i = 0; i < 8 && bld && ok; i++)
        ok = OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i + 1]);
    OSSL_PARAM *params = bld && ok ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    if (ctx && EVP_PKEY_fromdata_init(ctx) > 0 && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    for (OSSL_PARAM *q = params; q && q->key; q++)
        OPENSSL_cleanse(q->data, q->data_size); /* the private numbers */
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 9; i++)
        BN_clear_free(bn[i]);
    return pkey;
}

static EVP_PKEY *rsa_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    EVP_PKEY *pkey = NULL;
    if (bio && PEM_read_bio(bio, &name, &header, &der, &len) && !*header) {
        if (strcmp(name, "RSA PRIVATE KEY") == 0) {
            pkey = rsa_from_der(der, len);
        } else if (strcmp(name, "PRIVATE KEY") == 0) {
            const unsigned char *p = der;
            PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
            const ASN1_OBJECT *type = NULL;
            const unsigned char *key = NULL;
            int keylen = 0;
            if (p8 && PKCS8_pkey_get0(&type, &key, &keylen, NULL, p8) && OBJ_obj2nid(type) == NID_rsaEncryption)
                pkey = rsa_from_der(key, keylen);
            PKCS8_PRIV_KEY_INFO_free(p8);
        }
    }
    BIO_free(bio);
    OPENSSL_free(name);
    OPENSSL_free(header);
    if (der)
        OPENSSL_clear_free(der, (size_t)len);
    ERR_clear_error();
    return pkey;
}

EVP_PKEY *cr_keyfile_load_rsa_pem(const char *pem, const char *what, const char *field, cr_error *err)
{
    EVP_PKEY *pkey = rsa_pem(pem);
    if (pkey)
        return pkey;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return NULL;
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not a PEM RSA private key", what, field);
        return NULL;
    }
    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        const char *kind = EVP_PKEY_get0_type_name(pkey);
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"%s\" is not a PEM RSA private key (key type %s; RS256 needs RSA)", what, field,
                     kind ? kind : "non-RSA");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

void cr_keyfile_clear(cr_keyfile *kf)
{
    free(kf->client_email);
    free(kf->private_key_id);
    free(kf->token_uri);
    free(kf->project_id);
    free(kf->quota_project_id);
    EVP_PKEY_free(kf->pkey);
    memset(kf, 0, sizeof *kf);
}

int cr_keyfile_from_object(const cJSON *root, const char *what, cr_keyfile *kf, cr_error *err)
{
    char *pem = NULL;
    if (cr_keyfile_string(root, "", "client_email", 1, what, &kf->client_email, err) < 0 ||
        cr_keyfile_string(root, "", "private_key", 1, what, &pem, err) < 0 ||
        cr_keyfile_string(root, "", "private_key_id", 0, what, &kf->private_key_id, err) < 0 ||
        cr_keyfile_string(root, "", "token_uri", 0, what, &kf->token_uri, err) < 0 ||
        cr_keyfile_string(root, "", "project_id", 0, what, &kf->project_id, err) < 0 ||
        cr_keyfile_quota_project(root, what, &kf->quota_project_id, err) < 0)
        goto fail;
    if (!kf->token_uri && !(kf->token_uri = cr_strdup(CR_DEFAULT_TOKEN_URI))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto fail;
    }
    if (cr_keyfile_check_url(kf->token_uri, "token_uri", what, err) < 0)
        goto fail;
    if (!(kf->pkey = cr_keyfile_load_rsa_pem(pem, what, "private_key", err)))
        goto fail;
    cr_secret_free(pem);
    return 0;
fail:
    cr_secret_free(pem);
    cr_keyfile_clear(kf);
    return -1;
}

int cr_keyfile_check_url(const char *url, const char *name, const char *what, cr_error *err)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not an http(s) URL", what, name);
        return -1;
    }
    return 0;
}

/* Whether the authority (up to the first '/', '?', '#' or the end) is
** exactly `host` with an optional :port, and nothing else (no user@). */
static int authority_is(const char *auth, size_t n, const char *host)
{
    size_t h = strlen(host);
    if (n < h || strncasecmp(auth, host, h) != 0)
        return 0;
    if (n == h)
        return 1;
    if (auth[h] != ':' || n == h + 1 || n - h - 1 > 5)
        return 0;
    for (size_t i = h + 1; i < n; i++)
        if (auth[i] < '0' || auth[i] > '9')
            return 0;
    return 1;
}

/* 127.0.0.0/8 written as four decimal parts, with an optional :port. */
static int authority_is_127(const char *auth, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && (i >= n || auth[i++] != '.'))
            return 0;
        size_t start = i;
        unsigned v = 0;
        while (i < n && auth[i] >= '0' && auth[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(auth[i++] - '0');
        if (i == start || v > 255 || (part == 0 && v != 127))
            return 0;
    }
    char host[16];
    if (i >= sizeof host)
        return 0;
    memcpy(host, auth, i);
    host[i] = '\0';
    return authority_is(auth, n, host);
}

/*
** Why plain http only to these hosts: a credential file from elsewhere names
** where the subject token and the tokens traded for it go. Over plain http to
** anywhere else, they would cross networks in the clear (or to whoever
** answers). Loopback is this machine (tests, a local proxy); the link-local
** metadata address serves tokens only from inside the machine's VM (Azure's
** instance metadata hands out workload identity tokens over plain http).
*/
int cr_keyfile_check_secure_url(const char *url, const char *name, const char *what, int metadata_ok, cr_error *err)
{
    if (strncmp(url, "https://", 8) == 0)
        return 0;
    if (strncmp(url, "http://", 7) == 0) {
        const char *auth = url + 7;
        size_t n = strcspn(auth, "/?#");
        if (authority_is(auth, n, "localhost") || authority_is(auth, n, "[::1]") || authority_is_127(auth, n) ||
            (metadata_ok && authority_is(auth, n, "169.254.169.254")))
            return 0;
    }
    cr_error_set(err, "INVALID_ARGUMENT", 0,
                 "%s: field \"%s\" must be an https:// URL (plain http:// only to a loopback address%s)", what, name,
                 metadata_ok ? " or the metadata address 169.254.169.254" : "");
    return -1;
}

int cr_keyfile_type(const cJSON *root, const char *what, const char **type, cr_error *err)
{
    if (!cJSON_IsObject(root)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not a JSON object", what);
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!t) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is missing", what);
        return -1;
    }
    if (!cJSON_IsString(t) || !t->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a string", what);
        return -1;
    }
    *type = t->valuestring;
    return 0;
}

void cr_keyfile_unknown_type(const char *type, const char *what, cr_error *err)
{
    for (size_t i = 0; i < sizeof unsupported_types / sizeof unsupported_types[0]; i++) {
        if (strcmp(type, unsupported_types[i]) == 0) {
            cr_error_set(err, "UNIMPLEMENTED", 0,
                         "%s: field \"type\" is \"%s\": recognised, but not supported yet (service_account, "
                         "authorized_user, impersonated_service_account and external_account are)",
                         what, unsupported_types[i]);
            return;
        }
    }
    if (quotable(type))
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is \"%s\", which is not a credentials type", what,
                     type);
    else
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a credentials type", what);
}

int cr_keyfile_parse(const char *json, size_t len, const char *what, cr_keyfile *kf, cr_error *err)
{
    memset(kf, 0, sizeof *kf);
    size_t at = 0;
    cJSON *root = cr_json_parse(json, len, &at);
    if (!root) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not valid JSON (at byte %zu)", what, at);
        return -1;
    }
    int rc = -1;
    const char *type;
    if (cr_keyfile_type(root, what, &type, err) == 0) {
        if (strcmp(type, "service_account") == 0)
            rc = cr_keyfile_from_object(root, what, kf, err);
        else
            cr_keyfile_unknown_type(type, what, err);
    }
    cr_keyfile_delete_json(root);
    return rc;
}
