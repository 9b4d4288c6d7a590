/*
** credentials.c — the credential object: reference counting, the
** process-wide registry that makes every load of one source share one
** object, the project it knows, and the slot a driver hangs its token store
** on (drivers/token_store.c keeps the tokens; auth/token.c decides whether
** one is fresh). How a token is fetched is the source's business
** (service_account.c, metadata.c, ...).
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "auth/credentials.h"
#include "machine/machine.h"
#include "util/sha256.h"

struct cr_credentials {
    /* Immutable after construction. */
    const cr_credentials_source *source; /* NULL: a fixed access token */
    void *data;
    char *key;       /* registry key, NULL when not registered */
    char *store_key; /* "<type>:<hex>": the key drivers store tokens under */
    char *account;
    char *quota_project;
    char *origin;
    char *fixed_token; /* a fixed access token (source NULL) */
    int64_t fixed_expires_at;

    /* Guarded by registry_lock. */
    long refs;
    struct cr_credentials *next;

    /* Guarded by lock. */
    pthread_mutex_t lock;
    long timeout_ms;
    void *slot; /* the driver's token store entry */
    void (*slot_drop)(void *);

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

static void destroy(cr_credentials *c)
{
    if (c->slot && c->slot_drop)
        c->slot_drop(c->slot);
    if (c->source && c->source->destroy)
        c->source->destroy(c->data);
    cr_secret_free(c->fixed_token);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->project_lock);
    free(c->key);
    free(c->store_key);
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
** The store key: the registry key hashed (it names files and accounts, and
** drivers put it into shared memory and logs), or for a source that is not
** shared a number of its own, so that two such objects never share a token.
*/
static char *make_store_key(const char *type, const char *registry_key)
{
    static atomic_ulong serial;
    char hex[65];
    if (registry_key) {
        if (cr_sha256_hex(registry_key, strlen(registry_key), hex) < 0)
            return NULL;
        hex[32] = '\0';
        return cr_asprintf("%s:%s", type, hex);
    }
    return cr_asprintf("%s:local-%lu-%lu", type, (unsigned long)getpid(),
                       (unsigned long)atomic_fetch_add(&serial, 1) + 1);
}

/*
** Why $GOOGLE_CLOUD_QUOTA_PROJECT is checked when credentials are made: it is
** sent as the x-goog-user-project header of every call, and a value with a
** line break would be refused only at send (cr_http_request_check), naming
** the header rather than where the value came from.
*/
int cr_credentials_check_quota_env(cr_error *err)
{
    const char *env = cr_getenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    if (!env || cr_header_value_ok(env))
        return 0;
    cr_error_set(err, "INVALID_ARGUMENT", 0,
                 "$GOOGLE_CLOUD_QUOTA_PROJECT has a line break or control character (it is sent as the "
                 "x-goog-user-project header)");
    return -1;
}

/*
** Why the lookup and the insertion happen under one lock: two threads loading
** the same key file at once must still end up with one object, one cache.
*/
cr_credentials *cr_credentials_intern(const cr_credentials_desc *d, cr_error *err)
{
    if (cr_credentials_check_quota_env(err) < 0) {
        if (d->source && d->source->destroy)
            d->source->destroy(d->data);
        return NULL;
    }
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
    pthread_mutex_init(&c->project_lock, NULL);
    c->key = cr_strdup(d->key);
    c->store_key = make_store_key(d->source ? d->source->type : "access_token", d->key);
    c->account = cr_strdup(d->account);
    c->project = cr_strdup(d->project);
    c->origin = cr_strdup(d->origin);
    c->quota_project = cr_strdup(d->quota_project);
    if (!c->store_key || (d->key && !c->key) || (d->account && !c->account) || (d->project && !c->project) ||
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
    if (!cr_bearer_token_ok(token)) {
        /* It would end up in an Authorization header: no spaces, no CR/LF. */
        cr_error_set(err, "INVALID_ARGUMENT", 0, "access token contains a character not allowed in an HTTP header");
        return NULL;
    }
    cr_credentials_desc d = {.origin = "access token"};
    cr_credentials *c = cr_credentials_intern(&d, err);
    if (!c)
        return NULL;
    c->fixed_token = cr_strdup(token);
    c->fixed_expires_at = expires_at;
    if (!c->fixed_token) {
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

long cr_credentials_timeout_ms(cr_credentials *c)
{
    pthread_mutex_lock(&c->lock);
    long ms = c->timeout_ms;
    pthread_mutex_unlock(&c->lock);
    return ms;
}

const char *cr_credentials_fixed_token(const cr_credentials *c, int64_t *expires_at)
{
    if (!c || c->source)
        return NULL;
    if (expires_at)
        *expires_at = c->fixed_expires_at;
    return c->fixed_token;
}

int64_t cr_credentials_fixed_expiry(const cr_credentials *c)
{
    return c && !c->source ? c->fixed_expires_at : 0;
}

cr_machine *cr_credentials_fetch(cr_credentials *c, long timeout_ms, cr_error *err)
{
    if (!c) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_credentials_fetch: no credentials");
        return NULL;
    }
    if (!c->source) {
        cr_error_set(err, "UNAUTHENTICATED", 0, "a fixed access token cannot be fetched again");
        return NULL;
    }
    return c->source->fetch(c, c->data, timeout_ms > 0 ? timeout_ms : cr_credentials_timeout_ms(c), err);
}

/* Under the lock, so that a fetch this refusal causes already sees the
** source's new mode (the self-signed JWT's fallback). */
void cr_credentials_refused(cr_credentials *c)
{
    if (!c || !c->source || !c->source->refused)
        return;
    pthread_mutex_lock(&c->lock);
    c->source->refused(c->data);
    pthread_mutex_unlock(&c->lock);
}

void *cr_credentials_slot(cr_credentials *c, void *(*make)(cr_credentials *), void (*drop)(void *))
{
    pthread_mutex_lock(&c->lock);
    if (!c->slot && (c->slot = make(c)))
        c->slot_drop = drop;
    void *slot = c->slot;
    pthread_mutex_unlock(&c->lock);
    return slot;
}

const char *cr_credentials_key(const cr_credentials *c)
{
    return c ? c->store_key : NULL;
}

const char *cr_credentials_persist_key(const cr_credentials *c)
{
    return c && c->key && c->source && c->source->persist ? c->store_key : NULL;
}

/* The registry key, for credentials built on another (impersonation). */
const char *cr_credentials_registry_key(const cr_credentials *c)
{
    return c ? c->key : NULL;
}

int cr_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    cr_sha256(data, len, md); /* not EVP_Digest: see sha256.h */
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

const char *cr_credentials_known_project(const cr_credentials *cc)
{
    if (!cc)
        return NULL;
    cr_credentials *c = (cr_credentials *)cc;
    pthread_mutex_lock(&c->project_lock);
    const char *p = c->project;
    pthread_mutex_unlock(&c->project_lock);
    return p;
}

void cr_credentials_set_project(cr_credentials *c, const char *project)
{
    if (!c || !project || !*project)
        return;
    pthread_mutex_lock(&c->project_lock);
    if (!c->project)
        c->project = cr_strdup(project);
    pthread_mutex_unlock(&c->project_lock);
}

cr_machine *cr_credentials_project_machine(cr_credentials *c, long timeout_ms)
{
    if (!c || !c->source || !c->source->project)
        return NULL;
    return c->source->project(c->data, timeout_ms);
}
