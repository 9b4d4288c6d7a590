/*
** metadata.c — the metadata server as a credential source: GETs with the
** Metadata-Flavor handshake in both directions, the token at
** instance/service-accounts/default/token, the project at
** project/project-id, the account's email (learnt with the first token),
** cr_credentials_from_metadata(), and cr_metadata_lookup() with its
** process-wide memory of hosts that did not answer.
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

/* Performs the GET; on success the response is left in *resp for the caller
** (status 200 and the flavor header checked). *url is the URL, for messages. */
static int metadata_request(cr_transport *t, const char *host, const char *path, long timeout_ms,
                            cr_http_response *resp, char **url, cr_error *err)
{
    cr_http_request req = {.method = "GET", .timeout_ms = timeout_ms};
    memset(resp, 0, sizeof *resp);
    *url = cr_metadata_url(host, path);
    req.url = cr_strdup(*url);
    if (!*url || !req.url || cr_header_add(&req.headers, "Metadata-Flavor", "Google") < 0) {
        cr_http_request_clear(&req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server: out of memory");
        return -1;
    }
    int rc = cr_transport_perform(t, &req, resp, err);
    cr_http_request_clear(&req);
    if (rc < 0) {
        cr_auth_transport_error(err, "metadata server", *url);
        return -1;
    }
    /* Anything can listen on a name or port; only the metadata server says
    ** so. A token from anything else must not be used. */
    const char *flavor = cr_header_get(resp->headers, "Metadata-Flavor");
    if (!flavor || strcmp(flavor, "Google") != 0) {
        cr_error_set(
            err, "FAILED_PRECONDITION", (int)resp->status,
            "metadata server %s answered %ld without the \"Metadata-Flavor: Google\" header: not a metadata server",
            *url, resp->status);
        cr_http_response_clear(resp);
        return -1;
    }
    if (resp->status != 200) {
        const char *code = resp->status >= 500 ? "UNAVAILABLE" : cr_code_for_http_status((int)resp->status);
        cr_error_set(err, code, (int)resp->status, "metadata server %s answered %ld%s", *url, resp->status,
                     resp->status == 404 && strstr(path, "service-accounts")
                         ? " (no service account is attached to this instance)"
                         : "");
        cr_http_response_clear(resp);
        return -1;
    }
    return 0;
}

char *cr_metadata_get(cr_transport *t, const char *host, const char *path, long timeout_ms, cr_error *err)
{
    cr_http_response resp;
    char *url = NULL;
    char *body = NULL;
    if (metadata_request(t, host, path, timeout_ms, &resp, &url, err) == 0) {
        body = cr_strndup(resp.body ? resp.body : "", resp.body ? resp.body_len : 0);
        if (!body)
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server %s: out of memory", url);
        cr_http_response_clear(&resp);
    }
    free(url);
    return body;
}

typedef struct metadata_source {
    char *host;
    _Atomic(char *) email; /* set once, by the refreshing thread; read by anyone */
} metadata_source;

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
** The account is learnt on the refreshing thread, with the first token and
** over the same connection: asking for it at construction would cost every
** process a round trip it may not need. A failure here is not the token's;
** the next refresh tries again.
*/
static void learn_email(metadata_source *m, cr_transport *t, long timeout_ms)
{
    if (atomic_load(&m->email))
        return;
    cr_error err = CR_ERROR_INIT;
    char *email = cr_metadata_get(t, m->host, CR_METADATA_EMAIL_PATH, timeout_ms, &err);
    cr_error_clear(&err);
    if (email) {
        trim(email, 1);
        char *expected = NULL;
        if (!*email || !atomic_compare_exchange_strong(&m->email, &expected, email))
            free(email);
    }
}

static const char *md_account(void *data)
{
    metadata_source *m = data;
    return atomic_load(&m->email);
}

static int md_fetch(void *data, cr_transport *t, long timeout_ms, char **token, int64_t *expires_at, cr_error *err)
{
    metadata_source *m = data;
    cr_http_response resp;
    char *url = NULL;
    int64_t now = cr_unix_time();
    int rc = metadata_request(t, m->host, CR_METADATA_TOKEN_PATH, timeout_ms, &resp, &url, err);
    if (rc == 0) {
        char who[1024];
        snprintf(who, sizeof who, "metadata server %s", url);
        rc = cr_token_response_parse(&resp, who, now, token, expires_at, err);
        cr_http_response_clear(&resp);
    }
    free(url);
    if (rc == 0)
        learn_email(m, t, timeout_ms);
    return rc;
}

/* Why a private transport: the credential's own one belongs to whichever
** thread refreshes, and this runs at most a few times per process. */
static char *md_project(void *data, long timeout_ms)
{
    metadata_source *m = data;
    cr_error err = CR_ERROR_INIT;
    cr_transport *t = cr_curl_transport_new(&err);
    char *project = t ? cr_metadata_get(t, m->host, "project/project-id", timeout_ms, &err) : NULL;
    cr_transport_free(t);
    cr_error_clear(&err);
    if (project) {
        trim(project, 0);
        if (!*project) {
            free(project);
            project = NULL;
        }
    }
    return project;
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

static const cr_credentials_source metadata_credentials_source = {
    .type = "metadata",
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

static void error_copy(cr_error *dst, const cr_error *src)
{
    cr_error_set(dst, src->code, src->status, "%s", src->message ? src->message : src->code);
    dst->retryable = src->retryable;
    dst->sent = src->sent;
}

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
            error_copy(&d->why, why);
            d->next = dead_hosts;
            dead_hosts = d;
        } else {
            free(d);
        }
    }
    pthread_mutex_unlock(&dead_lock);
}

/*
** Why failures are remembered and successes are not: off Google Cloud every
** lookup would otherwise wait for the probe's timeout again (project, then
** region, then ...), while a metadata server that answered once is cheap to
** ask again and its values may change (a region never does, but a project
** lookup is the client's to cache).
*/
char *cr_metadata_lookup(const char *path, cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    if (!path) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_metadata_lookup: no path given");
        return NULL;
    }
    while (*path == '/')
        path++;
    char *host = cr_metadata_host(NULL);
    if (!host) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "metadata server: out of memory");
        return NULL;
    }
    char *value = NULL;
    pthread_mutex_lock(&dead_lock);
    dead_host *d = dead_find(host);
    if (d)
        error_copy(err, &d->why);
    pthread_mutex_unlock(&dead_lock);
    if (!d) {
        cr_transport *t = cr_curl_transport_new(err);
        value = t ? cr_metadata_get(t, host, path, cr_metadata_timeout_ms(), err) : NULL;
        cr_transport_free(t);
        if (value)
            trim(value, 1);
        else if (t && host_is_dead(err))
            remember_dead(host, err);
    }
    free(host);
    cr_error_clear(&scratch);
    return value;
}
