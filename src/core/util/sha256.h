/*
** sha256.h — SHA-256 (FIPS 180-4) in plain C, for identifiers: the store keys
** of credentials and a key's public fingerprint. Why not OpenSSL's: its EVP
** digest (and SHA256(), built on it) fetches the algorithm from a provider,
** whose first use costs a one-shot process more than its whole token lookup.
** Signing still uses OpenSSL.
*/
#ifndef CR_UTIL_SHA256_H
#define CR_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct cr_sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;          /* hashed so far */
    unsigned char block[64]; /* the part of a block not yet hashed */
} cr_sha256_ctx;

CR_HIDDEN void cr_sha256_init(cr_sha256_ctx *ctx);
CR_HIDDEN void cr_sha256_update(cr_sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx (it held a state of the input). */
CR_HIDDEN void cr_sha256_final(cr_sha256_ctx *ctx, unsigned char out[32]);

/* The digest of data, in one call. */
CR_HIDDEN void cr_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
