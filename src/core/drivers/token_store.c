/*
** token_store.c — the libcurl drivers' token store: one entry per credential
** source for the whole process (hung on the credential's slot, so it goes
** with it), one fetch in flight per source however many threads and
** machines ask, and the public token functions built on it. Whether a
** token is fresh is not decided here: the token machine decides.
**
** Below it, for sources that allow it, the per-user file (token_file.c):
** an entry with no token yet looks there once, every fetched token is
** written there, and a token the API refused is removed there too. Only the
** libcurl drivers get here — scripts, cloudrun-lua, the CLI, C programs —
** never nginx, whose driver (cloudrun/ngx.lua) keeps tokens in Lua and
** touches no file.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "drivers/curl_exchange.h"
#include "drivers/token_file.h"
#include "drivers/token_store.h"

typedef struct store_entry {
    pthread_mutex_t lock;
    pthread_cond_t fetched;
    int fetching;             /* a fetch is in flight; the others wait for it */
    unsigned long generation; /* bumped at the end of every fetch */
    int last_failed;          /* the fetch that ended `generation` failed with last_error */
    cr_error last_error;
    char *token;
    int64_t expires_at;
    CURL *easy;           /* the fetching thread's, kept alive between fetches */
    const char *file_key; /* the source's key in the per-user file (owned by
                          ** the credential); NULL: not kept there */
    int file_read;        /* the file was looked at for this entry */
} store_entry;

static void *entry_make(cr_credentials *creds)
{
    store_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->file_key = cr_token_file_enabled() ? cr_credentials_persist_key(creds) : NULL;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->fetched, NULL);
    return e;
}

static void entry_drop(void *p)
{
    store_entry *e = p;
    cr_secret_free(e->token);
    cr_error_clear(&e->last_error);
    if (e->easy)
        curl_easy_cleanup(e->easy);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->fetched);
    free(e);
}

static store_entry *entry(cr_credentials *creds)
{
    return cr_credentials_slot(creds, entry_make, entry_drop);
}

static int oom(cr_error *err)
{
    cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory in the token store");
    return CR_STORE_FAILED;
}

int cr_store_lookup(cr_credentials *creds, char **token, int64_t *expires_at, cr_error *err)
{
    store_entry *e = entry(creds);
    *token = NULL;
    *expires_at = 0;
    if (!e)
        return oom(err);
    pthread_mutex_lock(&e->lock);
    if (!e->token && e->file_key && !e->file_read) {
        /* a token an earlier process fetched: the token machine judges it */
        e->file_read = 1;
        cr_token_file_get(e->file_key, &e->token, &e->expires_at);
    }
    if (e->token) {
        *token = cr_strdup(e->token);
        *expires_at = e->expires_at;
    }
    int failed = e->token && !*token;
    pthread_mutex_unlock(&e->lock);
    return failed ? oom(err) : CR_STORE_READY;
}

/* Must hold e->lock. Drops `stale` when it is still the stored token; a
** refused one from the file too (every stored token was written there). */
static void drop_stale(cr_credentials *creds, store_entry *e, const char *stale, int refused)
{
    if (stale && e->token && strcmp(e->token, stale) == 0) {
        if (refused && e->file_key)
            cr_token_file_drop(e->file_key, stale);
        cr_secret_free(e->token);
        e->token = NULL;
        e->expires_at = 0;
        if (refused)
            cr_credentials_refused(creds);
    }
}

/* Must hold e->lock. A token other than `stale` is there: hand it out. */
static int give_stored(store_entry *e, const char *stale, char **token, int64_t *expires_at, cr_error *err)
{
    if (!e->token || (stale && strcmp(e->token, stale) == 0))
        return -1;
    if (!(*token = cr_strdup(e->token)))
        return oom(err);
    *expires_at = e->expires_at;
    return CR_STORE_READY;
}

int cr_store_begin(cr_credentials *creds, const char *stale, int refused, unsigned long *since, char **token,
                   int64_t *expires_at, cr_error *err)
{
    store_entry *e = entry(creds);
    *token = NULL;
    *expires_at = 0;
    if (!e)
        return oom(err);
    pthread_mutex_lock(&e->lock);
    int rc;
    drop_stale(creds, e, stale, refused);
    if (*since && e->generation + 1 != *since && e->last_failed) {
        /* the fetch this caller waited for failed: its error, not another fetch */
        cr_error_copy(err, &e->last_error);
        rc = CR_STORE_FAILED;
    } else if ((rc = give_stored(e, stale, token, expires_at, err)) >= 0) {
        /* someone else fetched meanwhile */
    } else if (e->fetching) {
        *since = e->generation + 1; /* never 0: 0 means "not waited yet" */
        rc = CR_STORE_BUSY;
    } else {
        e->fetching = 1;
        *since = e->generation + 1; /* so that the fetcher too can wait for its own fetch */
        rc = CR_STORE_FETCH;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

void cr_store_end(cr_credentials *creds, char *token, int64_t expires_at, const cr_error *err)
{
    store_entry *e = entry(creds); /* exists: begin made it */
    pthread_mutex_lock(&e->lock);
    e->fetching = 0;
    e->generation++;
    if (token) {
        if (e->file_key)
            cr_token_file_put(e->file_key, token, expires_at);
        cr_secret_free(e->token);
        e->token = token;
        e->expires_at = expires_at;
        e->last_failed = 0;
        cr_error_clear(&e->last_error);
    } else {
        e->last_failed = 1;
        cr_error_clear(&e->last_error);
        cr_error_copy(&e->last_error, err);
    }
    pthread_cond_broadcast(&e->fetched);
    pthread_mutex_unlock(&e->lock);
}

void cr_store_wait(cr_credentials *creds)
{
    store_entry *e = entry(creds);
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    while (e->fetching)
        pthread_cond_wait(&e->fetched, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

CURL *cr_store_easy(cr_credentials *creds)
{
    store_entry *e = entry(creds);
    if (!e)
        return NULL;
    /* only the fetching thread gets here: no other user of the handle */
    if (!e->easy)
        e->easy = cr_curl_easy_new();
    return e->easy;
}

/* ---- the public token functions ----------------------------------------------- */

void cr_credentials_invalidate(cr_credentials *creds, const char *token)
{
    if (!creds || !token || cr_credentials_fixed_token(creds, NULL))
        return;
    store_entry *e = entry(creds);
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    drop_stale(creds, e, token, 1);
    pthread_mutex_unlock(&e->lock);
}

int64_t cr_credentials_expires_at(cr_credentials *creds)
{
    if (!creds)
        return 0;
    int64_t fixed = 0;
    if (cr_credentials_fixed_token(creds, &fixed))
        return fixed;
    store_entry *e = entry(creds);
    if (!e)
        return 0;
    pthread_mutex_lock(&e->lock);
    int64_t at = e->token ? e->expires_at : 0;
    pthread_mutex_unlock(&e->lock);
    return at;
}
