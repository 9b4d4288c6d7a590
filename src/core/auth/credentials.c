/*
** credentials.c — the credential object: reference counting, the
** process-wide registry that makes every load of one source share one
** object, and the token cache with its single-refresh-in-flight locking.
** How a token is fetched is the source's business (service_account.c,
** metadata.c); this file only decides when, and keeps the result.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/credentials.h"

struct cr_credentials {
    /* Immutable after construction. */
    const cr_credentials_source *source; /* NULL: a static access token */
    void *data;
    char *key; /* registry key, NULL when not registered */
    char *account;
    char *quota_project;
    char *origin;

    /* Guarded by registry_lock. */
    long refs;
    struct cr_credentials *next;

    /* Guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    int refreshing;           /* one thread is fetching; others wait on `refreshed` */
    unsigned long generation; /* bumped at the end of every fetch */
    int last_failed;          /* the fetch that ended `generation` failed with last_error */
    cr_error last_error;
    char *token;
    int64_t expires_at;
    long timeout_ms;
    cr_transport *transport; /* used only by the refreshing thread */

    /* Guarded by project_lock: the project, from the file or looked up once;
    ** and every $GOOGLE_CLOUD_QUOTA_PROJECT value seen, kept until the end so
    ** that a returned string stays valid when the variable changes. */
    pthread_mutex_t project_lock;
    char *project;
    struct quota_override *overrides;
};

struct quota_override {
    struct quota_override *next;
    char value[];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static cr_credentials *registry;

static void error_copy(cr_error *dst, const cr_error *src)
{
    if (!dst)
        return;
    cr_error_set(dst, src->code, src->status, "%s", src->message ? src->message : src->code);
    dst->retryable = src->retryable;
    dst->sent = src->sent;
    dst->details = src->details ? cJSON_Duplicate(src->details, 1) : NULL;
}

static void destroy(cr_credentials *c)
{
    if (c->source && c->source->destroy)
        c->source->destroy(c->data);
    cr_transport_free(c->transport);
    cr_secret_free(c->token);
    cr_error_clear(&c->last_error);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->refreshed);
    pthread_mutex_destroy(&c->project_lock);
    free(c->key);
    free(c->account);
    free(c->project);
    free(c->quota_project);
    free(c->origin);
    while (c->overrides) {
        struct quota_override *o = c->overrides;
        c->overrides = o->next;
        free(o);
    }
    free(c);
}

/* Must hold registry_lock. */
static cr_credentials *registry_find(const char *key)
{
    for (cr_credentials *c = registry; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

cr_credentials *cr_credentials_lookup(const char *key)
{
    pthread_mutex_lock(&registry_lock);
    cr_credentials *c = registry_find(key);
    if (c)
        c->refs++;
    pthread_mutex_unlock(&registry_lock);
    return c;
}

/*
** Why the lookup and the insertion happen under one lock: two threads loading
** the same key file at once must still end up with one object, one cache.
*/
cr_credentials *cr_credentials_intern(const cr_credentials_desc *d, cr_error *err)
{
    if (d->key) {
        cr_credentials *found = cr_credentials_lookup(d->key);
        if (found) {
            if (d->source && d->source->destroy)
                d->source->destroy(d->data);
            return found;
        }
    }
    cr_credentials *c = calloc(1, sizeof *c);
    if (!c) {
        if (d->source && d->source->destroy)
            d->source->destroy(d->data);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
        return NULL;
    }
    c->source = d->source;
    c->data = d->data;
    c->refs = 1;
    c->timeout_ms = CR_TOKEN_TIMEOUT_MS;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->refreshed, NULL);
    pthread_mutex_init(&c->project_lock, NULL);
    c->key = cr_strdup(d->key);
    c->account = cr_strdup(d->account);
    c->project = cr_strdup(d->project);
    c->origin = cr_strdup(d->origin);
    c->quota_project = cr_strdup(d->quota_project);
    if ((d->key && !c->key) || (d->account && !c->account) || (d->project && !c->project) ||
        (d->origin && !c->origin) || (d->quota_project && !c->quota_project)) {
        destroy(c);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
        return NULL;
    }
    if (!c->key)
        return c;

    pthread_mutex_lock(&registry_lock);
    cr_credentials *raced = registry_find(c->key);
    if (raced) {
        raced->refs++;
    } else {
        c->next = registry;
        registry = c;
    }
    pthread_mutex_unlock(&registry_lock);
    if (raced) {
        destroy(c);
        return raced;
    }
    return c;
}

cr_credentials *cr_credentials_from_access_token(const char *token, int64_t expires_at, cr_error *err)
{
    if (!token || !*token) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "access token is empty");
        return NULL;
    }
    for (const char *p = token; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            /* It would end up in an Authorization header: no spaces, no CR/LF. */
            cr_error_set(err, "INVALID_ARGUMENT", 0, "access token contains a character not allowed in an HTTP header");
            return NULL;
        }
    }
    cr_credentials_desc d = {.origin = "access token"};
    cr_credentials *c = cr_credentials_intern(&d, err);
    if (!c)
        return NULL;
    c->token = cr_strdup(token);
    c->expires_at = expires_at;
    if (!c->token) {
        cr_credentials_unref(c);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making credentials");
        return NULL;
    }
    return c;
}

cr_credentials *cr_credentials_ref(cr_credentials *c)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&registry_lock);
    c->refs++;
    pthread_mutex_unlock(&registry_lock);
    return c;
}

/* The registry entry goes with the last reference, under the same lock that
** lookups take, so nobody can find an object that is being destroyed. */
void cr_credentials_unref(cr_credentials *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&registry_lock);
    int last = --c->refs == 0;
    if (last && c->key) {
        for (cr_credentials **p = &registry; *p; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (last)
        destroy(c);
}

void cr_credentials_set_timeout_ms(cr_credentials *c, long timeout_ms)
{
    if (!c || timeout_ms <= 0)
        return;
    pthread_mutex_lock(&c->lock);
    c->timeout_ms = timeout_ms;
    pthread_mutex_unlock(&c->lock);
}

/* Must hold c->lock. A static token is always usable; a fetched one until
** the refresh margin before it expires. */
static int cached_token_usable(const cr_credentials *c, int64_t now)
{
    if (!c->token)
        return 0;
    if (!c->source)
        return 1;
    return now < c->expires_at - CR_TOKEN_REFRESH_MARGIN;
}

/* Must hold c->lock. */
static int hand_out(const cr_credentials *c, char **token, int64_t *expires_at, cr_error *err)
{
    *token = cr_strdup(c->token);
    if (!*token) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory copying a token");
        return -1;
    }
    if (expires_at)
        *expires_at = c->expires_at;
    return 0;
}

/*
** Why a flag and a condition variable rather than holding the lock across
** the fetch: exactly one request is in flight, while invalidate() and
** set_timeout() stay instant. A thread that waited for a refresh takes that
** refresh's outcome — its token even when it is already inside the margin
** (a short-lived token must not send every waiter back to the server), or
** its error (a dead token endpoint is asked once, not once per waiter).
*/
int cr_credentials_token(cr_credentials *c, char **token, int64_t *expires_at, cr_error *err)
{
    return cr_credentials_token_within(c, 0, token, expires_at, err);
}

int cr_credentials_token_within(cr_credentials *c, long within_ms, char **token, int64_t *expires_at, cr_error *err)
{
    if (!err) {
        /* The sources write into the error as they go; give them one. */
        cr_error scratch = CR_ERROR_INIT;
        int rc = cr_credentials_token_within(c, within_ms, token, expires_at, &scratch);
        cr_error_clear(&scratch);
        return rc;
    }
    if (!c || !token) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_credentials_token: no credentials or no place for the token");
        return -1;
    }
    *token = NULL;
    int rc;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (cached_token_usable(c, cr_unix_time())) {
            rc = hand_out(c, token, expires_at, err);
            pthread_mutex_unlock(&c->lock);
            return rc;
        }
        if (!c->source) {
            /* A static token that was invalidated: there is nothing to refresh from. */
            pthread_mutex_unlock(&c->lock);
            cr_error_set(err, "UNAUTHENTICATED", 0, "the access token was rejected and cannot be refreshed");
            return -1;
        }
        if (!c->refreshing)
            break;
        unsigned long gen = c->generation;
        while (c->refreshing)
            pthread_cond_wait(&c->refreshed, &c->lock);
        if (c->generation != gen) {
            if (c->last_failed) {
                error_copy(err, &c->last_error);
                pthread_mutex_unlock(&c->lock);
                return -1;
            }
            if (c->token) {
                rc = hand_out(c, token, expires_at, err);
                pthread_mutex_unlock(&c->lock);
                return rc;
            }
        }
        /* Invalidated meanwhile: go round and refresh. */
    }

    c->refreshing = 1;
    long timeout_ms = c->timeout_ms;
    if (within_ms > 0 && within_ms < timeout_ms)
        timeout_ms = within_ms;
    if (!c->transport)
        c->transport = cr_curl_transport_new(err);
    cr_transport *t = c->transport;
    pthread_mutex_unlock(&c->lock);

    char *fresh = NULL;
    int64_t fresh_exp = 0;
    rc = t ? c->source->fetch(c->data, t, timeout_ms, &fresh, &fresh_exp, err) : -1;

    pthread_mutex_lock(&c->lock);
    c->refreshing = 0;
    c->generation++;
    if (rc == 0) {
        cr_secret_free(c->token);
        c->token = fresh;
        c->expires_at = fresh_exp;
        c->last_failed = 0;
        cr_error_clear(&c->last_error);
        rc = hand_out(c, token, expires_at, err);
    } else {
        c->last_failed = 1;
        error_copy(&c->last_error, err);
    }
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void cr_credentials_invalidate(cr_credentials *c, const char *token)
{
    if (!c || !token || !c->source)
        return;
    pthread_mutex_lock(&c->lock);
    int dropped = c->token && strcmp(c->token, token) == 0;
    if (dropped) {
        cr_secret_free(c->token);
        c->token = NULL;
        c->expires_at = 0;
        /* Under the lock, so that the refresh this drop causes already sees
        ** the source's new mode (the self-signed JWT's fallback). */
        if (c->source->invalidated)
            c->source->invalidated(c->data);
    }
    pthread_mutex_unlock(&c->lock);
}

int64_t cr_credentials_expires_at(cr_credentials *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    int64_t at = c->token ? c->expires_at : 0;
    pthread_mutex_unlock(&c->lock);
    return at;
}

const char *cr_credentials_key(const cr_credentials *c)
{
    return c ? c->key : NULL;
}

int cr_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    cr_wipe(md, sizeof md);
    return 0;
}

/*
** Why the override lives here rather than in the client: every user of the
** credential (a client, the CLI's describe, the Lua binding) must send the
** same x-goog-user-project, as google-auth does with
** GOOGLE_CLOUD_QUOTA_PROJECT.
*/
const char *cr_credentials_quota_project(const cr_credentials *cc)
{
    if (!cc)
        return NULL;
    cr_credentials *c = (cr_credentials *)cc; /* the override list grows */
    pthread_mutex_lock(&c->project_lock);
    const char *env = cr_getenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    const char *out = c->quota_project;
    if (env) {
        struct quota_override *o = c->overrides;
        while (o && strcmp(o->value, env) != 0)
            o = o->next;
        if (!o && (o = malloc(sizeof *o + strlen(env) + 1))) {
            strcpy(o->value, env);
            o->next = c->overrides;
            c->overrides = o;
        }
        if (o)
            out = o->value;
    }
    pthread_mutex_unlock(&c->project_lock);
    return out;
}

const char *cr_credentials_type(const cr_credentials *c)
{
    if (!c)
        return NULL;
    return c->source ? c->source->type : "access_token";
}

const char *cr_credentials_account(const cr_credentials *c)
{
    if (!c)
        return NULL;
    if (!c->account && c->source && c->source->account)
        return c->source->account(c->data);
    return c->account;
}

const char *cr_credentials_origin(const cr_credentials *c)
{
    return c ? c->origin : NULL;
}

/*
** The project from the key file, or — for a source that can look it up, the
** metadata server — asked once and then kept. A failed lookup is not
** remembered, so a later call may succeed; the string lives as long as creds.
*/
const char *cr_credentials_project(const cr_credentials *cc)
{
    if (!cc)
        return NULL;
    cr_credentials *c = (cr_credentials *)cc; /* the lookup fills a cache */
    pthread_mutex_lock(&c->project_lock);
    if (!c->project && c->source && c->source->project) {
        pthread_mutex_lock(&c->lock);
        long timeout_ms = c->timeout_ms;
        pthread_mutex_unlock(&c->lock);
        c->project = c->source->project(c->data, timeout_ms);
    }
    const char *p = c->project;
    pthread_mutex_unlock(&c->project_lock);
    return p;
}
