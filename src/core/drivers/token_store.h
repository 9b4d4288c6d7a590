/*
** token_store.h — the libcurl drivers' process-wide token store (see
** token_store.c): lookups for TOKEN steps that will take the stored token,
** and the single flight for those that need a new one.
*/
#ifndef CR_DRIVERS_TOKEN_STORE_H
#define CR_DRIVERS_TOKEN_STORE_H

#include <curl/curl.h>

#include "util/util.h"

enum {
    CR_STORE_FAILED = -2, /* err is set */
    CR_STORE_READY = 0,   /* *token (a new string, or NULL: none stored) is the answer */
    CR_STORE_FETCH = 1,   /* the caller fetches now, then calls cr_store_end */
    CR_STORE_BUSY = 2     /* another fetch is in flight: wait for it, then begin again */
};

/* A TOKEN step with fresh = 0: the stored token and its expiry (NULL, 0 when none). */
CR_HIDDEN int cr_store_lookup(cr_credentials *creds, char **token, int64_t *expires_at, cr_error *err);

/*
** A TOKEN step with fresh = 1: drops `stale` when it is still stored (telling
** the credentials when `refused`), then READY with another stored token,
** FETCH (the caller is the one fetch in flight), BUSY (another is), or
** FAILED with the error of the fetch waited for. Pass *since = 0 the first
** time and the same variable after that: FETCH and BUSY record in it the
** fetch to wait for, so that asking again after it failed gives its error
** rather than starting another.
*/
CR_HIDDEN int cr_store_begin(cr_credentials *creds, const char *stale, int refused, unsigned long *since, char **token,
                             int64_t *expires_at, cr_error *err);

/* Ends the caller's fetch: the token (taken) and its expiry, or err (copied). */
CR_HIDDEN void cr_store_end(cr_credentials *creds, char *token, int64_t expires_at, const cr_error *err);

/* Blocks until no fetch is in flight for creds. */
CR_HIDDEN void cr_store_wait(cr_credentials *creds);

/* The easy handle of the fetching thread for creds (kept alive across fetches). */
CR_HIDDEN CURL *cr_store_easy(cr_credentials *creds);

#endif
