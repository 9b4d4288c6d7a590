/*
** jwt.h — JSON Web Tokens signed with RS256 (RFC 7515/7519), as Google's
** JWT-bearer grant wants them. Pure: no I/O, no clock of its own.
*/
#ifndef CR_AUTH_JWT_H
#define CR_AUTH_JWT_H

#include <stdint.h>

#include <openssl/evp.h>

#include "util/util.h"

#define CR_CLOUD_PLATFORM_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define CR_JWT_LIFETIME 3600

/* header.claims.signature, each part base64url without padding, signed with
** RSASSA-PKCS1-v1_5 SHA-256 by `key`. Returns a new string the caller frees
** with cr_secret_free (it is a credential for an hour), or NULL with err set. */
CR_HIDDEN char *cr_jwt_sign_rs256(const cJSON *header, const cJSON *claims, EVP_PKEY *key, cr_error *err);

/* The service account's grant assertion: header {alg RS256, typ JWT, kid
** (when key_id is not NULL)}, claims {iss, scope, aud, iat, exp = iat + 3600}. */
CR_HIDDEN char *cr_jwt_grant_assertion(EVP_PKEY *key, const char *key_id, const char *issuer, const char *scope,
                                       const char *audience, int64_t issued_at, cr_error *err);

/* A self-signed access JWT (AIP-4111): header {alg RS256, typ JWT, kid
** (when key_id is not NULL)}, claims {iss = sub = email, aud, iat,
** exp = iat + 3600}. Sent as the bearer itself; no exchange. */
CR_HIDDEN char *cr_jwt_self_signed(EVP_PKEY *key, const char *key_id, const char *email, const char *audience,
                                   int64_t issued_at, cr_error *err);

#endif
