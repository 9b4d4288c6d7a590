/*
** rsa_pem.c — a key file's RSA private key: the shape of its PEM and the
** fingerprint of its public half, read here by hand (no OpenSSL: a cached
** token must cost none of it), and the import into OpenSSL for signing.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/rsa_pem.h"
#include "util/sha256.h"

/* ---- the shape, without OpenSSL ---------------------------------------------- */

/* One DER element: tag, content. Short-form tags only; definite lengths. */
typedef struct der_span {
    const unsigned char *p, *end; /* what is left to read */
} der_span;

static int der_next(der_span *d, int tag, der_span *content)
{
    if (d->end - d->p < 2 || d->p[0] != tag)
        return -1;
    const unsigned char *p = d->p + 1;
    size_t len = *p++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(d->end - p) < n)
            return -1;
        for (len = 0; n > 0; n--)
            len = len << 8 | *p++;
    }
    if ((size_t)(d->end - p) < len)
        return -1;
    content->p = p;
    content->end = p + len;
    d->p = p + len;
    return 0;
}

/* A positive INTEGER's bytes without its leading zeros (as BN_bn2bin gives them). */
static int der_positive(der_span *d, der_span *value)
{
    if (der_next(d, 0x02, value) < 0 || value->p == value->end || (value->p[0] & 0x80))
        return -1;
    while (value->p < value->end && value->p[0] == 0)
        value->p++;
    return value->p < value->end ? 0 : -1;
}

static int der_version(der_span *d, int max)
{
    der_span v;
    return der_next(d, 0x02, &v) == 0 && v.end - v.p == 1 && v.p[0] <= max ? 0 : -1;
}

/* The key types a PKCS#8 key may be and RS256 cannot sign with, by their OIDs' DER. */
static const struct {
    const char *name;
    unsigned char len, oid[9];
} other_types[] = {
    {"EC", 7, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}},
    {"RSA-PSS", 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a}},
    {"DSA", 7, {0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01}},
    {"ED25519", 3, {0x2b, 0x65, 0x70}},
    {"ED448", 3, {0x2b, 0x65, 0x71}},
};
static const unsigned char rsa_encryption[9] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

/*
** PKCS#8's PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier
** SEQUENCE { OID, parameters }, OCTET STRING key, ... } — the key's DER in
** *key when the algorithm is rsaEncryption; else *type names the other, when known.
*/
static int pkcs8_rsa(der_span d, der_span *key, const char **type)
{
    der_span info, alg, oid;
    if (der_next(&d, 0x30, &info) < 0 || der_version(&info, 1) < 0 || der_next(&info, 0x30, &alg) < 0 ||
        der_next(&alg, 0x06, &oid) < 0 || der_next(&info, 0x04, key) < 0)
        return -1;
    size_t n = (size_t)(oid.end - oid.p);
    if (n == sizeof rsa_encryption && memcmp(oid.p, rsa_encryption, n) == 0)
        return 0;
    *type = "non-RSA";
    for (size_t i = 0; i < sizeof other_types / sizeof other_types[0]; i++)
        if (n == other_types[i].len && memcmp(oid.p, other_types[i].oid, n) == 0)
            *type = other_types[i].name;
    return -1;
}

/*
** RSAPrivateKey ::= SEQUENCE { version (0, or 1 with more primes), n, e, d,
** p, q, dp, dq, qinv, ... }: the public key's fingerprint from n and e.
*/
static int rsa_fingerprint(der_span d, char out[65])
{
    der_span key, n, e, other;
    if (der_next(&d, 0x30, &key) < 0 || der_version(&key, 1) < 0 || der_positive(&key, &n) < 0 ||
        der_positive(&key, &e) < 0)
        return -1;
    for (int i = 0; i < 6; i++)
        if (der_positive(&key, &other) < 0)
            return -1;
    cr_sha256_ctx ctx;
    cr_sha256_init(&ctx);
    const der_span *parts[2] = {&n, &e};
    for (int i = 0; i < 2; i++) {
        size_t len = (size_t)(parts[i]->end - parts[i]->p);
        unsigned char be[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                               (unsigned char)len};
        cr_sha256_update(&ctx, be, 4);
        cr_sha256_update(&ctx, parts[i]->p, len);
    }
    unsigned char md[32];
    cr_sha256_final(&ctx, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (RFC 4648 §4) between s and end, line breaks and blanks
** skipped, '=' only at the end: the bytes into out (room for 3/4 of the
** text), *len set. -1 for anything else. */
static int pem_base64(const char *s, const char *end, unsigned char *out, size_t *len)
{
    unsigned acc = 0;
    int bits = 0, pad = 0;
    *len = 0;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad)
            return -1;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[(*len)++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1; /* what is left of the text's bits */
    }
    return pad > 2 || acc != 0 ? -1 : 0;
}

/* Why a PEM is not one, or NULL when it is: the label's and the DER's reading. */
static const char *pem_problem(const char *pem, char fingerprint[65], const char **type)
{
    const char *begin = strstr(pem, "-----BEGIN ");
    if (!begin)
        return "";
    const char *label = begin + 11, *label_end = strstr(label, "-----");
    if (!label_end)
        return "";
    size_t label_len = (size_t)(label_end - label);
    int pkcs8 = label_len == 11 && strncmp(label, "PRIVATE KEY", 11) == 0;
    int pkcs1 = label_len == 15 && strncmp(label, "RSA PRIVATE KEY", 15) == 0;
    if (label_len == 21 && strncmp(label, "ENCRYPTED PRIVATE KEY", 21) == 0)
        return " (it is encrypted, and no passphrase is ever asked for)";
    if (!pkcs8 && !pkcs1)
        return "";
    const char *body = label_end + 5, *end = strstr(body, "-----END ");
    if (!end || strncmp(end + 9, label, label_len) != 0 || strncmp(end + 9 + label_len, "-----", 5) != 0)
        return "";
    size_t cap = (size_t)(end - body) / 4 * 3 + 3, len = 0;
    unsigned char *bytes = malloc(cap);
    if (!bytes)
        return " (out of memory)";
    const char *problem = "";
    der_span d = {bytes, bytes};
    if (pem_base64(body, end, bytes, &len) == 0) {
        d.end = bytes + len;
        der_span key = d;
        if (pkcs1 || pkcs8_rsa(d, &key, type) == 0)
            problem = rsa_fingerprint(key, fingerprint) == 0 ? NULL : "";
    }
    cr_wipe(bytes, cap); /* the private numbers */
    free(bytes);
    return problem;
}

int cr_rsa_pem_check(const char *pem, const char *what, const char *field, char fingerprint[65], cr_error *err)
{
    const char *type = NULL;
    const char *problem = pem_problem(pem, fingerprint, &type);
    if (!problem)
        return 0;
    if (type)
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"%s\" is not a PEM RSA private key (key type %s; RS256 needs RSA)", what, field, type);
    else
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not a PEM RSA private key%s", what, field,
                     problem);
    return -1;
}

/* ---- the import, with OpenSSL --------------------------------------------------- */

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

EVP_PKEY *cr_rsa_pem_import(const char *pem, const char *what, const char *field, cr_error *err)
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
