/*
** metadata.c — the metadata server as a credential source: GETs with the
** Metadata-Flavor handshake in both directions, the token at
** instance/service-accounts/default/token, the project at
** project/project-id, the account's email (learnt with the first token),
** cr_credentials_from_metadata(), and the lookup machine (which
** cr_metadata_lookup runs, drivers/sync_auth.c) with its process-wide memory
** of hosts that did not answer.
*/
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "auth/metadata.h"
#include "auth/token_exchange.h"
#include "machine/exchange.h"
#include "machine/machine.h"

char *cr_metadata_host(const char *host)
{
    if (!host || !*host)
        host = cr_getenv("GCE_METADATA_HOST");
    if (!host)
        host = CR_METADATA_DEFAULT_HOST;
    if (strncmp(host, "http://", 7) == 0)
        host += 7;
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    return cr_strndup(host, n);
}

char *cr_metadata_url(const char *host, const char *path)
{
    return cr_asprintf("http://%s/computeMetadata/v1/%s", host, path);
}

char *cr_metadata_registry_key(const char *host)
{
    return cr_asprintf("metadata\n%s", host);
}

/* Trims trailing (and, with both, leading) whitespace in place. */
static void trim(char *s, int both)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (both) {
        size_t a = 0;
        while (a < n && isspace((unsigned char)s[a]))
            a++;
        memmove(s, s + a, n - a + 1);
    }
}

/*
** One GET with the Metadata-Flavor handshake: its text result is the body
** (trimmed), or for the token its token result is the token response's.
** Anything can listen on a name or port; only the metadata server says so in
** its answer, and a token from anything else must not be used. `ud` is the
** path asked for.
*/
static int md_refused(const char *path, const cr_http_request *req, const cr_http_response *resp, cr_error *err)
{
    const char *flavor = cr_header_get(resp->headers, "Metadata-Flavor");
    if (!flavor || strcmp(flavor, "Google") != 0) {
        cr_error_set(
            err, "FAILED_PRECONDITION", (int)resp->status,
            "metadata server %s answered %ld without the \"Metadata-Flavor: Google\" header: not a metadata server",
            req->url, resp->status);
        return -1;
    }
    if (resp->status != 200) {
        const char *code = resp->status >= 500 ? "UNAVAILABLE" : cr_code_for_http_status((int)resp->status);
        cr_error_set(err, code, (int)resp->status, "metadata server %s answered %ld%s", req->url, resp->status,
                     resp->status == 404 && strstr(path, "service-accounts")
                         ? " (no service account is attached to this instance)"
                         : "");
        return -1;
    }
    return 0;
}

static int read_md_text(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                        cr_exchange_result *out, cr_error *err)
{
    (void)sent_at;
    if (md_refused(ud, req, resp, err) < 0)
        return -1;
    if (!(out->text = cr_strndup(resp->body ? resp->body : "", resp->body ? resp->body_len : 0))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server %s: out of memory", req->url);
        return -1;
    }
    trim(out->text, 1);
    return 0;
}

static int read_md_token(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                         cr_exchange_result *out, cr_error *err)
{
    if (md_refused(ud, req, resp, err) < 0)
        return -1;
    char who[1024];
    snprintf(who, sizeof who, "metadata server %s", req->url);
    return cr_token_response_parse(resp, who, sent_at, &out->token, &out->expires_at, err);
}

static cr_machine *metadata_get(const char *host, const char *path, long timeout_ms, int as_token, cr_error *err)
{
    cr_http_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "GET");
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : CR_TOKEN_TIMEOUT_MS;
    req.idempotent = 1;
    req.url = cr_metadata_url(host, path);
    char *asked = cr_strdup(path);
    if (!req.url || !asked || cr_header_add(&req.headers, "Metadata-Flavor", "Google") < 0) {
        cr_http_request_clear(&req);
        free(asked);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server: out of memory");
        return NULL;
    }
    return cr_exchange_machine(&req, "metadata server", as_token ? read_md_token : read_md_text, asked, free, err);
}

cr_machine *cr_metadata_get_machine(const char *host, const char *path, long timeout_ms, cr_error *err)
{
    return metadata_get(host, path, timeout_ms, 0, err);
}

typedef struct metadata_source {
    char *host;
    _Atomic(char *) email; /* set once, by the one fetch in flight; read by anyone */
} metadata_source;

/*
** The token, then — once — the account's email, over the same connection:
** asking for it when the credential is made would cost every process a round
** trip it may not need. A failure to learn the email is not the token's; the
** next fetch tries again.
*/
typedef struct md_fetch_machine {
    cr_machine base;
    cr_credentials *creds; /* keeps `src` alive */
    metadata_source *src;
    long timeout_ms;
    int asking_email;
} md_fetch_machine;

static void mf_step(cr_machine *m, cr_step *s)
{
    (void)s;
    cr_machine_finish_errorf(m, "INTERNAL", 0, "metadata token: nothing left to do");
}

static void mf_sub_done(cr_machine *m, cr_machine *sub)
{
    md_fetch_machine *f = (md_fetch_machine *)m;
    cr_error err = CR_ERROR_INIT;
    if (f->asking_email) {
        char *email = cr_machine_take_text(sub, &err);
        cr_error_clear(&err);
        char *expected = NULL;
        if (email && (!*email || !atomic_compare_exchange_strong(&f->src->email, &expected, email)))
            free(email);
        m->done = 1; /* the token result was kept */
        return;
    }
    if (cr_machine_finish_from(m, sub) < 0)
        return;
    if (!atomic_load(&f->src->email)) {
        cr_machine *ask = metadata_get(f->src->host, CR_METADATA_EMAIL_PATH, f->timeout_ms, 0, &err);
        cr_error_clear(&err);
        if (ask) {
            m->done = 0; /* not yet: the email first */
            f->asking_email = 1;
            cr_machine_push(m, ask);
        }
    }
}

static void mf_destroy(cr_machine *m)
{
    cr_credentials_unref(((md_fetch_machine *)m)->creds);
}

static const cr_machine_ops mf_ops = {
    .what = "metadata token",
    .step = mf_step,
    .sub_done = mf_sub_done,
    .destroy = mf_destroy,
};

static const char *md_account(void *data)
{
    metadata_source *m = data;
    return atomic_load(&m->email);
}

static cr_machine *md_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    metadata_source *src = data;
    md_fetch_machine *f = calloc(1, sizeof *f);
    cr_machine *get = f ? metadata_get(src->host, CR_METADATA_TOKEN_PATH, timeout_ms, 1, err) : NULL;
    if (!get) {
        if (!f)
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        free(f);
        return NULL;
    }
    cr_machine_init(&f->base, &mf_ops, NULL);
    f->creds = cr_credentials_ref(creds);
    f->src = src;
    f->timeout_ms = timeout_ms;
    cr_machine_push(&f->base, get);
    return &f->base;
}

static cr_machine *md_project(void *data, long timeout_ms)
{
    metadata_source *m = data;
    cr_error err = CR_ERROR_INIT;
    cr_machine *get = metadata_get(m->host, "project/project-id", timeout_ms, 0, &err);
    cr_error_clear(&err);
    return get;
}

static void md_destroy(void *data)
{
    metadata_source *m = data;
    if (m) {
        free(m->host);
        free(atomic_load(&m->email));
        free(m);
    }
}

/*
** Why its tokens stay in memory (persist 0): the key is only the host, and
** "metadata.google.internal" names a different account on every VM, so a
** home directory shared between machines would hand one VM's token to
** another; and the server is on the machine, caches its tokens itself and
** signs nothing, so asking it again costs a one-shot process little.
*/
static const cr_credentials_source metadata_credentials_source = {
    .type = "metadata",
    .persist = 0,
    .fetch = md_fetch,
    .destroy = md_destroy,
    .project = md_project,
    .account = md_account,
};

cr_credentials *cr_credentials_from_metadata(const char *host, cr_error *err)
{
    metadata_source *m = calloc(1, sizeof *m);
    char *key = NULL, *origin = NULL;
    if (!m || !(m->host = cr_metadata_host(host)) || !(key = cr_metadata_registry_key(m->host)) ||
        !(origin = cr_metadata_url(m->host, CR_METADATA_TOKEN_PATH))) {
        md_destroy(m);
        free(key);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory making metadata credentials");
        return NULL;
    }
    cr_credentials_desc d = {
        .source = &metadata_credentials_source,
        .data = m,
        .key = key,
        .origin = origin,
    };
    cr_credentials *c = cr_credentials_intern(&d, err);
    free(key);
    free(origin);
    return c;
}

long cr_metadata_timeout_ms(void)
{
    const char *s = cr_getenv("GCE_METADATA_TIMEOUT");
    if (s) {
        char *end;
        double v = strtod(s, &end);
        if (end != s && !*end && v > 0 && v < 600)
            return (long)(v * 1000);
    }
    return CR_METADATA_PROBE_TIMEOUT_MS;
}

/* A host that did not answer as a metadata server, and what went wrong.
** Kept for the life of the process (a handful of bytes per host): no atexit
** handler, since the library may be dlclose()d as a Lua module. */
typedef struct dead_host {
    struct dead_host *next;
    char *host;
    cr_error why;
} dead_host;

static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static dead_host *dead_hosts;

/* Must hold dead_lock. */
static dead_host *dead_find(const char *host)
{
    for (dead_host *d = dead_hosts; d; d = d->next)
        if (strcmp(d->host, host) == 0)
            return d;
    return NULL;
}

/* A failure that says nobody is there (no connection, no answer in time, not
** a metadata server) — as opposed to a server that lacks this one value. */
static int host_is_dead(const cr_error *err)
{
    return err->status == 0 || strcmp(err->code, "FAILED_PRECONDITION") == 0;
}

static void remember_dead(const char *host, const cr_error *why)
{
    pthread_mutex_lock(&dead_lock);
    if (!dead_find(host)) {
        dead_host *d = calloc(1, sizeof *d);
        if (d && (d->host = cr_strdup(host))) {
            cr_error_copy(&d->why, why);
            d->next = dead_hosts;
            dead_hosts = d;
        } else {
            free(d);
        }
    }
    pthread_mutex_unlock(&dead_lock);
}

/*
** A lookup against the metadata server of the environment, remembering
** hosts that are not there. Why failures are remembered and successes are
** not: off Google Cloud every lookup would otherwise wait for the probe's
** timeout again (project, then region, then ...), while a metadata server
** that answered once is cheap to ask again.
*/
typedef struct lookup_machine {
    cr_machine base;
    char *host;
} lookup_machine;

static void lookup_step(cr_machine *m, cr_step *s)
{
    (void)s;
    cr_machine_finish_errorf(m, "INTERNAL", 0, "metadata lookup: nothing left to do");
}

static void lookup_sub_done(cr_machine *m, cr_machine *sub)
{
    lookup_machine *l = (lookup_machine *)m;
    cr_error err = CR_ERROR_INIT;
    char *value = cr_machine_take_text(sub, &err);
    if (value) {
        cr_machine_finish_text(m, value);
        return;
    }
    if (host_is_dead(&err))
        remember_dead(l->host, &err);
    cr_machine_finish_error(m, &err);
}

static void lookup_destroy(cr_machine *m)
{
    free(((lookup_machine *)m)->host);
}

static const cr_machine_ops lookup_ops = {
    .what = "metadata lookup",
    .step = lookup_step,
    .sub_done = lookup_sub_done,
    .destroy = lookup_destroy,
};

cr_machine *cr_metadata_lookup_machine(const char *path, cr_error *err)
{
    if (!path) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_metadata_lookup: no path given");
        return NULL;
    }
    while (*path == '/')
        path++;
    lookup_machine *l = calloc(1, sizeof *l);
    if (!l || !(l->host = cr_metadata_host(NULL))) {
        free(l);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server: out of memory");
        return NULL;
    }
    cr_machine_init(&l->base, &lookup_ops, NULL);
    pthread_mutex_lock(&dead_lock);
    dead_host *d = dead_find(l->host);
    cr_error why = CR_ERROR_INIT;
    if (d)
        cr_error_copy(&why, &d->why);
    pthread_mutex_unlock(&dead_lock);
    if (d) {
        cr_machine_finish_error(&l->base, &why);
        return &l->base;
    }
    cr_machine *get = metadata_get(l->host, path, cr_metadata_timeout_ms(), 0, err);
    if (!get) {
        cr_machine_free(&l->base);
        return NULL;
    }
    cr_machine_push(&l->base, get);
    return &l->base;
}
