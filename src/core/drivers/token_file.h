/*
** token_file.h — the per-user access-token cache of one-shot processes (see
** token_file.c), which the libcurl drivers' token store reads and writes.
*/
#ifndef CR_DRIVERS_TOKEN_FILE_H
#define CR_DRIVERS_TOKEN_FILE_H

#include <stdint.h>

#include "util/util.h"

/* The file, under gcloud's configuration directory. */
#define CR_TOKEN_FILE_DIR "cloudrun"
#define CR_TOKEN_FILE_NAME "access_tokens.json"

/* The most entries it keeps (those expiring last), and the most it reads. */
#define CR_TOKEN_FILE_MAX_ENTRIES 32
#define CR_TOKEN_FILE_MAX_TOKEN 8192
#define CR_TOKEN_FILE_MAX_BYTES (CR_TOKEN_FILE_MAX_ENTRIES * (CR_TOKEN_FILE_MAX_TOKEN + 256))

/* Whether the cache is on: $CLOUDRUN_TOKEN_CACHE is not 0 (nor false, no, off). */
CR_HIDDEN int cr_token_file_enabled(void);

/*
** The token kept under key and its expiry, fresh or not (the token machine
** decides): 0 with *token a new string (free with cr_secret_free), or -1
** with *token NULL: none, or no file that may be trusted.
*/
CR_HIDDEN int cr_token_file_get(const char *key, char **token, int64_t *expires_at);

/* Keeps token under key (replacing what was there), dropping expired entries
** and, past CR_TOKEN_FILE_MAX_ENTRIES, those expiring first. Best effort:
** 0, or -1 when nothing was written (the process goes on without). */
CR_HIDDEN int cr_token_file_put(const char *key, const char *token, int64_t expires_at);

/* Removes key's entry when it holds `token` (the API refused it). 0, or -1. */
CR_HIDDEN int cr_token_file_drop(const char *key, const char *token);

#endif
