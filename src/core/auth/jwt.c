/*
** jwt.c — building and signing RS256 JWTs with OpenSSL's EVP interface.
** The key stays an EVP_PKEY owned by the caller; only the signature and the
** encoded parts pass through here.
*/
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "auth/jwt.h"

/* base64url of a cJSON object's compact form. */
static char *encode_part(const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    if (!text)
        return NULL;
    char *out = cr_base64url_encode((const unsigned char *)text, strlen(text));
    cr_wipe(text, strlen(text));
    cJSON_free(text);
    return out;
}

char *cr_jwt_sign_rs256(const cJSON *header, const cJSON *claims, EVP_PKEY *key, cr_error *err)
{
    char *h = encode_part(header), *c = encode_part(claims), *input = NULL, *sig64 = NULL, *jwt = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *md = NULL;
    if (!h || !c || !(input = cr_asprintf("%s.%s", h, c))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a JWT");
        goto done;
    }
    /* Sign the ASCII "header.claims" (RFC 7515 §5.1); the size query first,
    ** since the signature is as long as the modulus. */
    if (!(md = EVP_MD_CTX_new()) || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1 ||
        !(sig = malloc(siglen)) || EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        cr_error_set(err, "INTERNAL", 0, "signing a JWT with RS256 failed: %s",
                     e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "OpenSSL error" : "out of memory");
        goto done;
    }
    if (!(sig64 = cr_base64url_encode(sig, siglen)) || !(jwt = cr_asprintf("%s.%s", input, sig64)))
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a JWT");
done:
    EVP_MD_CTX_free(md);
    free(sig);
    free(sig64);
    cr_secret_free(input);
    cr_secret_free(c);
    free(h);
    return jwt;
}

/* The header both kinds share, {"alg":"RS256","typ":"JWT"[,"kid"]}, and the
** signature over it and `claims` (which this frees). */
static char *sign_claims(EVP_PKEY *key, const char *key_id, cJSON *claims, int ok, cr_error *err)
{
    cJSON *header = cJSON_CreateObject();
    char *jwt = NULL;
    ok = ok && header && claims && cJSON_AddStringToObject(header, "alg", "RS256") &&
         cJSON_AddStringToObject(header, "typ", "JWT") && (!key_id || cJSON_AddStringToObject(header, "kid", key_id));
    if (ok)
        jwt = cr_jwt_sign_rs256(header, claims, key, err);
    else
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a JWT");
    cJSON_Delete(header);
    cJSON_Delete(claims);
    return jwt;
}

char *cr_jwt_grant_assertion(EVP_PKEY *key, const char *key_id, const char *issuer, const char *scope,
                             const char *audience, int64_t issued_at, cr_error *err)
{
    cJSON *claims = cJSON_CreateObject();
    int ok = claims && cJSON_AddStringToObject(claims, "iss", issuer) &&
             cJSON_AddStringToObject(claims, "scope", scope) && cJSON_AddStringToObject(claims, "aud", audience) &&
             cJSON_AddNumberToObject(claims, "iat", (double)issued_at) &&
             cJSON_AddNumberToObject(claims, "exp", (double)(issued_at + CR_JWT_LIFETIME));
    return sign_claims(key, key_id, claims, ok, err);
}

char *cr_jwt_self_signed(EVP_PKEY *key, const char *key_id, const char *email, const char *audience, int64_t issued_at,
                         cr_error *err)
{
    cJSON *claims = cJSON_CreateObject();
    int ok = claims && cJSON_AddStringToObject(claims, "iss", email) && cJSON_AddStringToObject(claims, "sub", email) &&
             cJSON_AddStringToObject(claims, "aud", audience) &&
             cJSON_AddNumberToObject(claims, "iat", (double)issued_at) &&
             cJSON_AddNumberToObject(claims, "exp", (double)(issued_at + CR_JWT_LIFETIME));
    return sign_claims(key, key_id, claims, ok, err);
}
