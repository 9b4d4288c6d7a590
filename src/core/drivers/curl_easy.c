/*
** curl_easy.c — the blocking driver: runs one machine to its end on the
** calling thread. SEND is curl_easy_perform on a kept-alive handle, WAIT is
** nanosleep, TOKEN goes to the process-wide store (a fetch it has to make
** runs here too, on the store's own handle). A client's pacer holds a send
** back here as well, with the same sleep as a WAIT. Scripts, cloudrun-lua and
** the CLI run every call this way; there is no Lua loop in between.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/credentials.h"
#include "drivers/curl_exchange.h"
#include "drivers/drivers.h"
#include "drivers/token_store.h"
#include "machine/machine.h"

/* What one run holds: the handle its SENDs go on, and the CA bundle they trust
** besides the system's (the client's ca_file, or NULL). */
typedef struct run_ctx {
    CURL *easy;
    const char *ca_file;
    const cr_pacer *pacer; /* the client's, or NULL (token fetches never have one) */
} run_ctx;

static void run_with(cr_machine *m, run_ctx *ctx);

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void perform(cr_machine *m, CURL *easy, const char *ca_file, const cr_http_request *req)
{
    cr_curl_exchange x;
    memset(&x, 0, sizeof x);
    cr_error err = CR_ERROR_INIT;
    cr_http_response resp;
    if (!easy) {
        cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "%s %s: cannot create a libcurl handle", req->method, req->url);
        cr_machine_fail(m, &err);
        return;
    }
    if (cr_curl_exchange_setup(&x, easy, req, ca_file, &err) < 0) {
        cr_machine_fail(m, &err);
        return;
    }
    CURLcode rc = curl_easy_perform(easy);
    if (cr_curl_exchange_finish(&x, rc, &resp, &err) == 0)
        cr_machine_respond(m, &resp);
    else
        cr_machine_fail(m, &err);
}

/* The fetch this thread was chosen for: run it, then tell the store (and so
** every thread waiting for it) how it went. */
static int fetch_now(cr_credentials *creds, double within, const char *ca_file, char **token, int64_t *expires_at,
                     cr_error *err)
{
    long timeout_ms = cr_credentials_timeout_ms(creds);
    if (within > 0 && within * 1000.0 < (double)timeout_ms)
        timeout_ms = (long)(within * 1000.0) + 1;
    int rc = -1;
    cr_machine *f = cr_credentials_fetch(creds, timeout_ms, err);
    if (f) {
        run_ctx fetch_ctx = {cr_store_easy(creds), ca_file, NULL};
        run_with(f, &fetch_ctx);
        rc = cr_machine_take_token(f, token, expires_at, err);
        cr_machine_free(f);
    }
    char *kept = rc == 0 ? cr_strdup(*token) : NULL;
    if (rc == 0 && !kept)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory in the token store");
    cr_store_end(creds, kept, expires_at ? *expires_at : 0, err);
    return rc == 0 ? CR_STORE_READY : CR_STORE_FAILED;
}

static void give_token(cr_machine *m, const cr_step *s, const char *ca_file)
{
    char *token = NULL;
    int64_t exp = 0;
    cr_error err = CR_ERROR_INIT;
    int rc;
    if (!s->fresh) {
        rc = cr_store_lookup(s->credentials, &token, &exp, &err);
    } else {
        unsigned long since = 0;
        while ((rc = cr_store_begin(s->credentials, s->stale, s->refused, &since, &token, &exp, &err)) == CR_STORE_BUSY)
            cr_store_wait(s->credentials);
        if (rc == CR_STORE_FETCH)
            rc = fetch_now(s->credentials, s->within, ca_file, &token, &exp, &err);
    }
    if (rc == CR_STORE_READY)
        cr_machine_give_token(m, token, exp);
    else
        cr_machine_fail(m, &err);
    cr_secret_free(token);
    cr_error_clear(&err);
}

/* Runs m to DONE; ctx->easy NULL: a handle made for the run (kept for its sends). */
static void run_with(cr_machine *m, run_ctx *ctx)
{
    CURL *own = NULL;
    for (;;) {
        cr_step s;
        cr_machine_step(m, &s);
        switch (s.kind) {
        case CR_STEP_SEND: {
            const char *quota = ctx->pacer ? cr_machine_quota(m) : NULL;
            if (quota)
                sleep_seconds(ctx->pacer->before_send(ctx->pacer->ud, quota));
            if (!ctx->easy)
                ctx->easy = own = cr_curl_easy_new();
            perform(m, ctx->easy, ctx->ca_file, s.request);
            double asked = quota ? cr_machine_server_wait(m) : 0;
            if (asked > 0 && ctx->pacer->server_wait)
                ctx->pacer->server_wait(ctx->pacer->ud, quota, asked);
            break;
        }
        case CR_STEP_WAIT:
            sleep_seconds(s.seconds);
            cr_machine_waited(m);
            break;
        case CR_STEP_TOKEN:
            give_token(m, &s, ctx->ca_file);
            break;
        case CR_STEP_DONE:
        default:
            if (own) {
                curl_easy_cleanup(own);
                ctx->easy = NULL;
            }
            return;
        }
    }
}

void cr_machine_run(cr_machine *m)
{
    run_ctx ctx = {NULL, NULL, NULL};
    if (m)
        run_with(m, &ctx);
}

/* ---- kept-alive handles ---------------------------------------------------------- */

#define POOL_MAX 8

struct cr_easy_pool {
    pthread_mutex_t lock;
    CURL *idle[POOL_MAX];
    int n;
};

void *cr_easy_pool_new(void)
{
    cr_easy_pool *pool = calloc(1, sizeof *pool);
    if (pool)
        pthread_mutex_init(&pool->lock, NULL);
    return pool;
}

void cr_easy_pool_free(void *p)
{
    cr_easy_pool *pool = p;
    if (!pool)
        return;
    for (int i = 0; i < pool->n; i++)
        curl_easy_cleanup(pool->idle[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* A handle of the pool's (one whose connection is likely still open), or a new one. */
static CURL *pool_take(cr_easy_pool *pool)
{
    CURL *easy = NULL;
    if (pool) {
        pthread_mutex_lock(&pool->lock);
        if (pool->n > 0)
            easy = pool->idle[--pool->n];
        pthread_mutex_unlock(&pool->lock);
    }
    return easy ? easy : cr_curl_easy_new();
}

static void pool_give(cr_easy_pool *pool, CURL *easy)
{
    if (!easy)
        return;
    if (pool) {
        pthread_mutex_lock(&pool->lock);
        if (pool->n < POOL_MAX) {
            pool->idle[pool->n++] = easy;
            easy = NULL;
        }
        pthread_mutex_unlock(&pool->lock);
    }
    if (easy)
        curl_easy_cleanup(easy);
}

void cr_easy_run(cr_machine *m, cr_easy_pool *pool, const char *ca_file, const cr_pacer *pacer)
{
    run_ctx ctx = {pool_take(pool), ca_file, pacer};
    run_with(m, &ctx);
    pool_give(pool, ctx.easy);
}
