/*
** client.c — cr_client: where requests go (endpoint, emulator mode), which
** project and region short names mean, which credentials authorize them,
** and the way in for every call: a machine (cr_client_start). The blocking
** functions that run it are the drivers' (drivers/blocking.c).
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/client_state.h"
#include "api/gcloud_config.h"
#include "machine/machine.h"

#define DEFAULT_ENDPOINT "https://run.googleapis.com"

static char *normalize_endpoint(const char *url, int add_scheme)
{
    char *e = add_scheme && !strstr(url, "://") ? cr_asprintf("http://%s", url) : cr_strdup(url);
    if (!e)
        return NULL;
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/')
        e[--n] = '\0';
    return e;
}

/*
** The endpoint, in the order a Google client user expects: an explicit
** option; then CLOUD_RUN_EMULATOR_HOST (plain HTTP, no credentials, as
** PUBSUB_EMULATOR_HOST does); then gcloud's endpoint override; then Google.
*/
cr_client *cr_client_new(const cr_client_options *opts, cr_error *err)
{
    cr_global_init();
    cr_client_options none = {0};
    if (!opts)
        opts = &none;
    cr_client *c = calloc(1, sizeof *c);
    if (!c) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->anonymous = opts->anonymous;
    const char *emulator = cr_getenv("CLOUD_RUN_EMULATOR_HOST");
    if (opts->endpoint) {
        c->endpoint = normalize_endpoint(opts->endpoint, 0);
    } else if (emulator) {
        c->endpoint = normalize_endpoint(emulator, 1);
        c->anonymous = 1;
    } else if (cr_getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN")) {
        c->endpoint = normalize_endpoint(cr_getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"), 0);
    } else {
        c->endpoint = cr_strdup(DEFAULT_ENDPOINT);
    }
    if (!c->endpoint) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        cr_client_free(c);
        return NULL;
    }
    if (strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "endpoint \"%s\" is not an http:// or https:// URL", c->endpoint);
        cr_client_free(c);
        return NULL;
    }
    c->project = cr_strdup(opts->project                       ? opts->project
                           : cr_getenv("GOOGLE_CLOUD_PROJECT") ? cr_getenv("GOOGLE_CLOUD_PROJECT")
                                                               : cr_getenv("CLOUDSDK_CORE_PROJECT"));
    c->region = cr_strdup(opts->region ? opts->region : cr_getenv("CLOUDSDK_RUN_REGION"));
    /* then what `gcloud config set` keeps (a local file: read now, as gcloud would) */
    if (!c->project) {
        c->project = cr_gcloud_property("core", "project", &c->gcloud_project_where);
    }
    if (!c->region)
        c->region = cr_gcloud_property("run", "region", &c->gcloud_region_where);
    if (!(opts->timeout <= CR_MAX_EXCHANGE_SECONDS)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "timeout must be at most %.0f seconds", CR_MAX_EXCHANGE_SECONDS);
        cr_client_free(c);
        return NULL;
    }
    c->timeout_ms = opts->timeout > 0 ? (long)(opts->timeout * 1000.0) : 30000;
    const char *ca = opts->ca_file ? opts->ca_file : cr_getenv("CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE");
    if (ca) {
        /* checked now: a bundle that cannot be read would otherwise fail every call with a TLS error
        ** (read up to its first certificate: a system bundle is 200 kB, and the client is made at every start) */
        int has = cr_file_contains(ca, "-----BEGIN CERTIFICATE-----",
                                   opts->ca_file ? "ca_file" : "$CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", err);
        int looks_pem = has > 0;
        if (has == 0)
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: no PEM certificate in it",
                         opts->ca_file ? "ca_file" : "$CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", ca);
        if (!looks_pem || !(c->ca_file = cr_strdup(ca))) {
            cr_client_free(c);
            return NULL;
        }
    }
    cr_retry_resolve(opts->retry, &c->retry);
    if (c->anonymous) {
        c->creds_resolved = 1;
    } else if (opts->credentials) {
        c->creds = cr_credentials_ref(opts->credentials);
        c->creds_resolved = 1;
    }
    return c;
}

void cr_client_free(cr_client *c)
{
    if (!c)
        return;
    if (c->driver && c->driver_free)
        c->driver_free(c->driver);
    if (c->creds)
        cr_credentials_unref(c->creds);
    free(c->endpoint);
    free(c->ca_file);
    free(c->gcloud_project_where);
    free(c->gcloud_region_where);
    free(c->project);
    free(c->region);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const char *cr_client_endpoint(const cr_client *c)
{
    return c->endpoint;
}

int cr_client_is_anonymous(const cr_client *c)
{
    return c->anonymous;
}

/* ADC is looked up at the first call that needs it, not when the client is
** made: a metadata-server probe must not slow down creating a client. */
int cr_client_credentials(cr_client *c, cr_credentials **creds)
{
    pthread_mutex_lock(&c->lock);
    int resolved = c->creds_resolved;
    *creds = resolved ? cr_credentials_ref(c->creds) : NULL;
    pthread_mutex_unlock(&c->lock);
    return resolved;
}

void cr_client_adopt_credentials(cr_client *c, cr_credentials *creds)
{
    pthread_mutex_lock(&c->lock);
    if (!c->creds_resolved) {
        c->creds = cr_credentials_ref(creds);
        c->creds_resolved = 1;
    }
    pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

/* The parent if project and region are known (and valid): 0 with *out, -1
** with err, 1 when they are not known yet. */
int cr_client_known_parent(cr_client *c, char **out, cr_error *err)
{
    pthread_mutex_lock(&c->lock);
    int rc = 1;
    if (c->project && c->region) {
        if (!cr_api_id_is_valid(c->project) || !cr_api_id_is_valid(c->region)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "project \"%s\" or region \"%s\" is not a valid resource id",
                         c->project, c->region);
            rc = -1;
        } else if (!(*out = cr_concat("projects/", c->project, "/locations/", c->region, NULL))) {
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
            rc = -1;
        } else {
            rc = 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/*
** A full name is checked and copied; a short id is put under parent/<kind>/
** (an execution "J-xxxxx" under its job J, a task "J-xxxxx-task3" under its
** execution). Malformed names are refused before anything else, so that a
** typo never sends anyone looking for a project.
*/
int cr_client_resolve(cr_client *c, const char *name, const char *kind, char **out, cr_error *err)
{
    const char *what = cr_kind_noun(kind);
    *out = NULL;
    if (!name || !*name) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name is empty", what);
        return -1;
    }
    if (strncmp(name, "projects/", 9) == 0) {
        if (!cr_api_name_is_valid(name, kind)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name \"%s\" is not of the form %s", what, name,
                         strcmp(kind, "jobs") == 0         ? "projects/P/locations/L/jobs/J"
                         : strcmp(kind, "executions") == 0 ? "projects/P/locations/L/jobs/J/executions/E"
                         : strcmp(kind, "tasks") == 0      ? "projects/P/locations/L/jobs/J/executions/E/tasks/T"
                                                           : "projects/P/locations/L/operations/O");
            return -1;
        }
        if (!(*out = cr_strdup(name))) {
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
            return -1;
        }
        return 0;
    }
    if (!cr_api_id_is_valid(name)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name \"%s\" is neither a short id nor a full resource name", what,
                     name);
        return -1;
    }
    /* Where the short id goes: executions "<job>-<suffix>" under the job (what
    ** precedes the last '-'); tasks "<execution>-taskN" under the execution. */
    const char *cut = NULL;
    if (strcmp(kind, "executions") == 0) {
        cut = strrchr(name, '-');
        if (!cut || cut == name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "execution name \"%s\": a short execution id looks like JOB-xxxxx; pass the full name "
                         "projects/P/locations/L/jobs/J/executions/E otherwise",
                         name);
            return -1;
        }
    } else if (strcmp(kind, "tasks") == 0) {
        for (const char *t = strstr(name, "-task"); t; t = strstr(t + 1, "-task"))
            cut = t;
        if (!cut || cut == name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "task name \"%s\": a short task id looks like EXECUTION-taskN; pass the full name "
                         "projects/P/locations/L/jobs/J/executions/E/tasks/T otherwise",
                         name);
            return -1;
        }
        /* the execution id itself must look like JOB-xxxxx */
        const char *exec_dash = NULL;
        for (const char *p = name; p < cut; p++)
            if (*p == '-')
                exec_dash = p;
        if (!exec_dash || exec_dash == name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "execution name \"%.*s\": a short execution id looks like JOB-xxxxx; pass the full name "
                         "projects/P/locations/L/jobs/J/executions/E otherwise",
                         (int)(cut - name), name);
            return -1;
        }
    }
    char *parent = NULL;
    int rc = cr_client_known_parent(c, &parent, err);
    if (rc != 0)
        return rc;
    if (strcmp(kind, "executions") == 0) {
        *out = cr_asprintf("%s/jobs/%.*s/executions/%s", parent, (int)(cut - name), name, name);
    } else if (strcmp(kind, "tasks") == 0) {
        const char *exec_dash = NULL;
        for (const char *p = name; p < cut; p++)
            if (*p == '-')
                exec_dash = p;
        *out = cr_asprintf("%s/jobs/%.*s/executions/%.*s/tasks/%s", parent, (int)(exec_dash - name), name,
                           (int)(cut - name), name, name);
    } else {
        *out = cr_concat(parent, "/", kind, "/", name, NULL);
    }
    free(parent);
    if (!*out) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

int cr_api_build_request(const char *endpoint, const char *method, const char *path, const char *suffix,
                         const char *query, char *body, cr_http_request *req, cr_error *err)
{
    memset(req, 0, sizeof *req);
    snprintf(req->method, sizeof req->method, "%s", method);
    req->body = body;
    req->body_len = body ? strlen(body) : 0;
    int q = query && *query;
    req->url = cr_concat(endpoint, "/v2/", path, suffix ? suffix : "", q ? "?" : "", q ? query : "", NULL);
    int oom = !req->url;
    if (body)
        oom |= cr_header_add(&req->headers, "Content-Type", "application/json") < 0;
    oom |= cr_header_add(&req->headers, "x-goog-api-client", "lua-cloudrun/" CR_VERSION) < 0;
    if (oom) {
        cr_http_request_clear(req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

cr_machine *cr_client_discovery(cr_client *c, cr_error *err)
{
    return cr_discovery_machine(c, err);
}

static cr_machine *start(cr_client *c, const cr_request *r, const cr_call_options *opts, int text, cr_error *err)
{
    cr_call call;
    if (cr_call_init(&call, r, err) < 0)
        return NULL;
    /* Built now when the names allow it (a malformed one is refused here,
    ** before any step); otherwise once discovery has found project and region. */
    cr_http_request req;
    int rc = cr_call_build(c, &call, &req, err);
    if (rc < 0) {
        cr_call_clear(&call);
        return NULL;
    }
    return cr_call_machine(c, &call, rc == 0 ? &req : NULL, opts, text, err);
}

cr_machine *cr_client_start(cr_client *c, const cr_request *r, const cr_call_options *opts, cr_error *err)
{
    return start(c, r, opts, 0, err);
}

cr_machine *cr_client_start_text(cr_client *c, const cr_request *r, const cr_call_options *opts, cr_error *err)
{
    return start(c, r, opts, 1, err);
}

/* ---- what drivers ask of a client ------------------------------------------------ */

const char *cr_client_ca_file(const cr_client *c)
{
    return c->ca_file;
}

void cr_client_set_pacer(cr_client *c, const cr_pacer *pacer)
{
    if (!c)
        return;
    if (pacer && pacer->before_send)
        c->pacer = *pacer;
    else
        memset(&c->pacer, 0, sizeof c->pacer);
}

const cr_pacer *cr_client_pacer(const cr_client *c)
{
    return c && c->pacer.before_send ? &c->pacer : NULL;
}

void *cr_client_driver_data(cr_client *c, void *(*make)(void), void (*release)(void *))
{
    pthread_mutex_lock(&c->lock);
    if (!c->driver && (c->driver = make()) != NULL)
        c->driver_free = release;
    void *data = c->driver;
    pthread_mutex_unlock(&c->lock);
    return data;
}

int cr_client_has_location(cr_client *c)
{
    pthread_mutex_lock(&c->lock);
    int known = c->project && c->region;
    pthread_mutex_unlock(&c->lock);
    return known;
}
