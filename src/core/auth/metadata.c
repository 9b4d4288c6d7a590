/*
** metadata.c — the metadata server as a credential source: GETs with the
** Metadata-Flavor handshake in both directions, the token at
** instance/service-accounts/default/token, the project at
** project/project-id, and cr_credentials_from_metadata().
*/
#include <ctype.h>
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
        cr_error_set(err, "FAILED_PRECONDITION", (int)resp->status,
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
} metadata_source;

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
        size_t n = strlen(project);
        while (n > 0 && isspace((unsigned char)project[n - 1]))
            project[--n] = '\0';
        if (!n) {
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
        free(m);
    }
}

static const cr_credentials_source metadata_credentials_source = {
    .type = "metadata",
    .fetch = md_fetch,
    .destroy = md_destroy,
    .project = md_project,
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
