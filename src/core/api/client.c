/*
** client.c — cr_client: where requests go (endpoint, emulator mode), which
** project and region short names mean, which credentials authorize them,
** and the one call path every Cloud Run v2 method goes through.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/api.h"

#define DEFAULT_ENDPOINT "https://run.googleapis.com"

struct cr_client {
    pthread_mutex_t lock; /* guards transport, creds resolution */
    char *endpoint;       /* no trailing slash */
    char *project;        /* NULL until known */
    char *region;
    long timeout_ms;
    int anonymous;
    int creds_resolved;
    cr_credentials *creds;
    cr_transport *transport;
    cr_retry retry;       /* resolved: no zero fields */
    uint64_t rng;         /* xorshift state for backoff jitter */
};

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
    c->project = cr_strdup(opts->project ? opts->project
                                         : cr_getenv("GOOGLE_CLOUD_PROJECT") ? cr_getenv("GOOGLE_CLOUD_PROJECT")
                                                                             : cr_getenv("CLOUDSDK_CORE_PROJECT"));
    c->region = cr_strdup(opts->region ? opts->region : cr_getenv("CLOUDSDK_RUN_REGION"));
    c->timeout_ms = opts->timeout > 0 ? (long)(opts->timeout * 1000.0) : 30000;
    cr_retry_resolve(opts->retry, &c->retry);
    if (getrandom(&c->rng, sizeof c->rng, 0) != sizeof c->rng || c->rng == 0)
        c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
    if (opts->credentials && !c->anonymous) {
        c->creds = cr_credentials_ref(opts->credentials);
        c->creds_resolved = 1;
    }
    if (opts->transport) {
        c->transport = opts->transport;
    } else if (!(c->transport = cr_curl_transport_new(err))) {
        cr_client_free(c);
        return NULL;
    }
    return c;
}

void cr_client_free(cr_client *c)
{
    if (!c)
        return;
    cr_transport_free(c->transport);
    if (c->creds)
        cr_credentials_unref(c->creds);
    free(c->endpoint);
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
** made: a metadata-server probe must not slow down creating a client. Called
** with c->lock held. */
static cr_credentials *client_credentials(cr_client *c, cr_error *err)
{
    if (c->anonymous)
        return NULL;
    if (!c->creds_resolved) {
        c->creds = cr_credentials_default(err);
        if (!c->creds)
            return NULL;
        c->creds_resolved = 1;
    }
    return c->creds;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

/* The last path segment of a metadata answer ("projects/123/regions/us-central1"). */
static char *last_segment(char *value)
{
    char *slash = value ? strrchr(value, '/') : NULL;
    if (slash) {
        char *last = cr_strdup(slash + 1);
        free(value);
        return last;
    }
    return value;
}

/*
** Project: the option, $GOOGLE_CLOUD_PROJECT / $CLOUDSDK_CORE_PROJECT (taken
** at creation), the credentials' project_id, their quota_project_id, the
** metadata server. Region: the option, $CLOUDSDK_RUN_REGION, the metadata
** server's instance/region. An emulator client asks no metadata server.
** Found values are kept. Called with c->lock held.
*/
static void discover(cr_client *c, cr_buf *looked)
{
    if (!c->project) {
        cr_buf_puts(looked, "the project option, $GOOGLE_CLOUD_PROJECT and $CLOUDSDK_CORE_PROJECT are unset");
        if (!c->anonymous) {
            cr_error ignored = CR_ERROR_INIT;
            cr_credentials *creds = client_credentials(c, &ignored);
            if (creds && cr_credentials_project(creds))
                c->project = cr_strdup(cr_credentials_project(creds));
            else if (creds && cr_credentials_quota_project(creds))
                c->project = cr_strdup(cr_credentials_quota_project(creds));
            else
                cr_buf_printf(looked, "; the credentials (%s) name no project_id",
                              creds ? cr_credentials_origin(creds) : ignored.message ? ignored.message : "none");
            cr_error_clear(&ignored);
        }
        if (!c->project && !c->anonymous) {
            cr_error merr = CR_ERROR_INIT;
            c->project = cr_metadata_lookup("project/project-id", &merr);
            if (!c->project)
                cr_buf_printf(looked, "; the metadata server: %s", merr.message ? merr.message : merr.code);
            cr_error_clear(&merr);
        }
    }
    if (c->project && !c->region) {
        cr_buf_puts(looked, "the region option and $CLOUDSDK_RUN_REGION are unset");
        if (!c->anonymous) {
            cr_error merr = CR_ERROR_INIT;
            c->region = last_segment(cr_metadata_lookup("instance/region", &merr));
            if (!c->region)
                cr_buf_printf(looked, "; the metadata server: %s", merr.message ? merr.message : merr.code);
            cr_error_clear(&merr);
        }
    }
}

char *cr_client_parent_name(cr_client *c, cr_error *err)
{
    pthread_mutex_lock(&c->lock);
    cr_buf looked = {0};
    if (!c->project || !c->region)
        discover(c, &looked);
    char *parent = NULL;
    if (!c->project) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "no project: pass project= to the client, or set GOOGLE_CLOUD_PROJECT (%s)",
                     looked.data ? looked.data : "");
    } else if (!c->region) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "no region: pass region= to the client, or set CLOUDSDK_RUN_REGION (%s)",
                     looked.data ? looked.data : "");
    } else if (!cr_api_id_is_valid(c->project) || !cr_api_id_is_valid(c->region)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "project \"%s\" or region \"%s\" is not a valid resource id",
                     c->project, c->region);
    } else {
        parent = cr_asprintf("projects/%s/locations/%s", c->project, c->region);
    }
    cr_buf_free(&looked);
    pthread_mutex_unlock(&c->lock);
    return parent;
}

/* A full name is checked and copied; a short id is put under parent/<kind>/. */
static char *resolve(cr_client *c, const char *name, const char *kind, const char *what, cr_error *err)
{
    if (!name || !*name) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name is empty", what);
        return NULL;
    }
    if (strncmp(name, "projects/", 9) == 0) {
        if (!cr_api_name_is_valid(name, kind)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name \"%s\" is not of the form %s", what, name,
                         strcmp(kind, "jobs") == 0         ? "projects/P/locations/L/jobs/J"
                         : strcmp(kind, "executions") == 0 ? "projects/P/locations/L/jobs/J/executions/E"
                         : strcmp(kind, "tasks") == 0      ? "projects/P/locations/L/jobs/J/executions/E/tasks/T"
                                                           : "projects/P/locations/L/operations/O");
            return NULL;
        }
        return cr_strdup(name);
    }
    if (!cr_api_id_is_valid(name)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name \"%s\" is neither a short id nor a full resource name", what,
                     name);
        return NULL;
    }
    char *parent = cr_client_parent_name(c, err);
    if (!parent)
        return NULL;
    char *full = NULL;
    if (strcmp(kind, "executions") == 0) {
        /* Execution ids are "<job>-<suffix>": the job is what precedes the last '-'. */
        const char *dash = strrchr(name, '-');
        if (!dash || dash == name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "execution name \"%s\": a short execution id looks like JOB-xxxxx; pass the full name "
                         "projects/P/locations/L/jobs/J/executions/E otherwise",
                         name);
        } else {
            full = cr_asprintf("%s/jobs/%.*s/executions/%s", parent, (int)(dash - name), name, name);
        }
    } else {
        full = cr_asprintf("%s/%s/%s", parent, kind, name);
    }
    free(parent);
    return full;
}

char *cr_client_task_name(cr_client *c, const char *task, cr_error *err)
{
    if (task && strncmp(task, "projects/", 9) != 0 && cr_api_id_is_valid(task)) {
        /* "J-xxxxx-task3": the execution is what precedes "-task" */
        const char *t = strstr(task, "-task");
        const char *last = NULL;
        for (; t; t = strstr(t + 1, "-task"))
            last = t;
        if (!last || last == task) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "task name \"%s\": a short task id looks like EXECUTION-taskN; pass the full name "
                         "projects/P/locations/L/jobs/J/executions/E/tasks/T otherwise",
                         task);
            return NULL;
        }
        char *exec_id = cr_strndup(task, (size_t)(last - task));
        char *exec = exec_id ? cr_client_execution_name(c, exec_id, err) : NULL;
        free(exec_id);
        char *full = exec ? cr_asprintf("%s/tasks/%s", exec, task) : NULL;
        free(exec);
        return full;
    }
    return resolve(c, task, "tasks", "task", err);
}

char *cr_client_operation_name(cr_client *c, const char *operation, cr_error *err)
{
    return resolve(c, operation, "operations", "operation", err);
}

char *cr_client_job_name(cr_client *c, const char *job, cr_error *err)
{
    return resolve(c, job, "jobs", "job", err);
}

char *cr_client_execution_name(cr_client *c, const char *execution, cr_error *err)
{
    return resolve(c, execution, "executions", "execution", err);
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

int cr_api_build_request(const char *endpoint, const char *method, const char *path, const char *query,
                         const char *body, cr_http_request *req, cr_error *err)
{
    memset(req, 0, sizeof *req);
    snprintf(req->method, sizeof req->method, "%s", method);
    req->url = cr_asprintf("%s/v2/%s%s%s", endpoint, path, query && *query ? "?" : "", query ? query : "");
    int oom = !req->url;
    if (body) {
        req->body = cr_strdup(body);
        req->body_len = strlen(body);
        oom |= !req->body || cr_header_add(&req->headers, "Content-Type", "application/json") < 0;
    }
    oom |= cr_header_add(&req->headers, "x-goog-api-client", "lua-cloudrun/" CR_VERSION) < 0;
    if (oom) {
        cr_http_request_clear(req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

/* xorshift64*: jitter only, not security; called with c->lock held. */
static double next_jitter(cr_client *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Replaces (or adds) the Authorization header with a bearer token. */
static int set_bearer(cr_http_request *req, const char *token)
{
    for (cr_header *h = req->headers, **pp = &req->headers; h; pp = &h->next, h = h->next) {
        if (strcmp(h->name, "Authorization") == 0) {
            *pp = h->next;
            h->next = NULL;
            cr_header_free(h);
            break;
        }
    }
    char *auth = cr_asprintf("Bearer %s", token);
    int rc = auth && cr_header_add(&req->headers, "Authorization", auth) == 0 ? 0 : -1;
    cr_secret_free(auth);
    return rc;
}

/*
** One exchange: the bearer token (unless anonymous), the request, the
** decoded answer. A 401 to a token we fetched means it was revoked or expired
** early: drop it, fetch another, send once more. *retry_after is what the
** server asked us to wait, -1 if nothing. Called with c->lock held.
*/
static cJSON *exchange(cr_client *c, cr_http_request *req, double *retry_after, cr_error *err)
{
    *retry_after = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *token = NULL;
        cr_credentials *creds = client_credentials(c, err);
        if (!creds && !c->anonymous)
            return NULL;
        if (creds) {
            if (cr_credentials_token(creds, &token, NULL, err) < 0)
                return NULL;
            if (set_bearer(req, token) < 0) {
                cr_secret_free(token);
                cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
                return NULL;
            }
            const char *quota = cr_credentials_quota_project(creds);
            if (quota && !cr_header_get(req->headers, "x-goog-user-project"))
                cr_header_add(&req->headers, "x-goog-user-project", quota);
        }
        cr_http_response resp = {0};
        if (cr_transport_perform(c->transport, req, &resp, err) < 0) {
            cr_secret_free(token);
            return NULL;
        }
        if (resp.status == 401 && creds && token && attempt == 0) {
            cr_credentials_invalidate(creds, token);
            cr_secret_free(token);
            cr_http_response_clear(&resp);
            continue;
        }
        cr_secret_free(token);
        cJSON *result = cr_api_parse_response(&resp, req->url, err);
        if (!result)
            *retry_after = cr_retry_after(resp.headers, err);
        cr_http_response_clear(&resp);
        return result;
    }
    return NULL; /* not reached */
}

/*
** Sends a built request under the retry policy (the call's, else the
** client's). `idempotent`: a read, which may be repeated after any transient
** failure; otherwise only after failures that cannot have taken effect. The
** lock is released while waiting between attempts.
*/
static cJSON *send_request(cr_client *c, cr_http_request *req, int idempotent, const cr_call_options *call,
                           cr_error *err)
{
    cr_retry policy;
    if (call && call->retry)
        cr_retry_resolve(call->retry, &policy);
    else
        policy = c->retry;
    long timeout_ms = call && call->timeout > 0 ? (long)(call->timeout * 1000.0) : c->timeout_ms;
    if (req->timeout_ms > timeout_ms)
        timeout_ms = req->timeout_ms; /* a call that needs longer (WaitOperation) says so */
    req->idempotent = idempotent;
    double start = cr_monotonic();
    for (int attempt = 1;; attempt++) {
        double remaining = policy.deadline - (cr_monotonic() - start);
        req->timeout_ms = remaining * 1000.0 < (double)timeout_ms ? (long)(remaining * 1000.0) + 1 : timeout_ms;
        double retry_after;
        pthread_mutex_lock(&c->lock);
        cJSON *result = exchange(c, req, &retry_after, err);
        double jitter = next_jitter(c);
        pthread_mutex_unlock(&c->lock);
        if (result)
            return result;
        remaining = policy.deadline - (cr_monotonic() - start);
        double delay = cr_retry_delay(&policy, attempt, err, idempotent, retry_after, remaining, jitter);
        if (delay < 0) {
            if (attempt > 1 && err->message) {
                char *m = cr_asprintf("%s (after %d attempts)", err->message, attempt);
                if (m) {
                    free(err->message);
                    err->message = m;
                }
            }
            return NULL;
        }
        sleep_seconds(delay);
        cr_error_clear(err);
    }
}

/* Builds METHOD path?query with a JSON body and sends it. */
cJSON *cr_client_send(cr_client *c, const char *method, const char *path, const char *query, const cJSON *body,
                      int idempotent, const cr_call_options *call, long min_timeout_ms, cr_error *err)
{
    char *text = NULL;
    if (body && !(text = cJSON_PrintUnformatted(body))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory encoding the request");
        return NULL;
    }
    cr_http_request req;
    int rc = cr_api_build_request(c->endpoint, method, path, query, text, &req, err);
    free(text);
    if (rc < 0)
        return NULL;
    req.timeout_ms = min_timeout_ms;
    cJSON *out = send_request(c, &req, idempotent, call, err);
    cr_http_request_clear(&req);
    return out;
}

cJSON *cr_client_call(cr_client *c, const char *method, const char *path, const char *query, const cJSON *body,
                      const cr_call_options *call, cr_error *err)
{
    return cr_client_send(c, method, path, query, body, strcmp(method, "GET") == 0, call, 0, err);
}

cJSON *cr_client_run_job(cr_client *c, const char *job, const cr_run_job_options *opts, const cr_call_options *call,
                         cr_error *err)
{
    char *name = cr_client_job_name(c, job, err);
    if (!name)
        return NULL;
    cr_http_request req;
    int rc = cr_api_build_run_job(c->endpoint, name, opts, &req, err);
    free(name);
    if (rc < 0)
        return NULL;
    cJSON *op = send_request(c, &req, 0, call, err);
    cr_http_request_clear(&req);
    if (op) {
        const char *exec = cr_api_operation_execution(op);
        if (exec && !cJSON_GetObjectItemCaseSensitive(op, "execution"))
            cJSON_AddStringToObject(op, "execution", exec);
    }
    return op;
}
