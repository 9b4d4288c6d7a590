/*
** call.c — the API call machine: everything one Cloud Run v2 call does on
** the wire, without doing it. It looks credentials up when the client has
** none yet (ADC), discovers project and region when a name needs them,
** builds the request, asks for a token, sends, and then decides: the result;
** one fresh token and one resend after a 401; a wait and another attempt
** under the retry rules (retry.c) within the call's deadline; or the error.
** "Never resend a change" is the retry rule's half of it here; the driver
** enforces the other half (no silent resend on a dead kept-alive connection).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"
#include "auth/token.h"
#include "machine/machine.h"

/* ---- the call as data ----------------------------------------------------- */

/* Appends "&name=value" (value URL-escaped) to a query being built. */
static void query_add(cr_buf *q, const char *name, const char *value)
{
    char *v = cr_url_escape(value);
    if (!v) {
        q->failed = 1;
        return;
    }
    cr_buf_printf(q, "%s%s=%s", q->len ? "&" : "", name, v);
    free(v);
}

static void query_list(cr_buf *q, const cr_list_options *list)
{
    if (!list)
        return;
    if (list->page_size > 0)
        cr_buf_printf(q, "%spageSize=%d", q->len ? "&" : "", (int)list->page_size);
    if (list->page_token && *list->page_token)
        query_add(q, "pageToken", list->page_token);
    if (list->show_deleted)
        query_add(q, "showDeleted", "true");
    if (list->filter && *list->filter)
        query_add(q, "filter", list->filter);
}

/* DeleteJob and DeleteExecution: validateOnly and etag in the query (no allowMissing there) */
static void query_write(cr_buf *q, const cr_write_options *write)
{
    if (!write)
        return;
    if (write->validate_only)
        query_add(q, "validateOnly", "true");
    if (write->etag && *write->etag)
        query_add(q, "etag", write->etag);
}

/* A body's JSON text as a malloc'd string (what a request owns and frees):
** cJSON's own allocator may be someone else's (cJSON_InitHooks). */
static char *print_json(const cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    char *out = cr_strdup(text);
    if (text) {
        cr_wipe(text, strlen(text));
        cJSON_free(text);
    }
    return out;
}

/* What each method is: HTTP method, what its name names, what follows it, whether it is a read. */
static const struct method_shape {
    const char *http;
    const char *kind;
    const char *suffix;
    int read;
} shapes[] = {
    [CR_RUN_JOB] = {"POST", "jobs", ":run", 0},
    [CR_GET_JOB] = {"GET", "jobs", "", 1},
    [CR_LIST_JOBS] = {"GET", NULL, "/jobs", 1},
    [CR_CREATE_JOB] = {"POST", "jobs", "", 0},
    [CR_UPDATE_JOB] = {"PATCH", "jobs", "", 0},
    [CR_DELETE_JOB] = {"DELETE", "jobs", "", 0},
    [CR_GET_EXECUTION] = {"GET", "executions", "", 1},
    [CR_LIST_EXECUTIONS] = {"GET", "jobs", "/executions", 1},
    [CR_CANCEL_EXECUTION] = {"POST", "executions", ":cancel", 0},
    [CR_DELETE_EXECUTION] = {"DELETE", "executions", "", 0},
    [CR_GET_TASK] = {"GET", "tasks", "", 1},
    [CR_LIST_TASKS] = {"GET", "executions", "/tasks", 1},
    [CR_GET_OPERATION] = {"GET", "operations", "", 1},
    [CR_LIST_OPERATIONS] = {"GET", NULL, "/operations", 1},
    /* WaitOperation changes nothing: it retries as a read */
    [CR_WAIT_OPERATION] = {"POST", "operations", ":wait", 1},
};

static const char *what_of(const char *kind)
{
    return !kind                             ? "parent"
           : strcmp(kind, "jobs") == 0       ? "job"
           : strcmp(kind, "executions") == 0 ? "execution"
           : strcmp(kind, "tasks") == 0      ? "task"
                                             : "operation";
}

void cr_call_clear(cr_call *call)
{
    free(call->name);
    free(call->path);
    free(call->base);
    free(call->query);
    cr_secret_free(call->body);
    cJSON_Delete(call->spec);
    memset(call, 0, sizeof *call);
}

int cr_call_init(cr_call *call, const cr_request *r, cr_error *err)
{
    memset(call, 0, sizeof *call);
    if (!r || r->method < CR_RUN_JOB || r->method > CR_CALL) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_client_start: unknown method");
        return -1;
    }
    call->method = r->method;
    cr_buf q = {0};
    int oom = 0;
    if (r->method == CR_CALL) {
        static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
        int known = 0;
        for (size_t i = 0; i < 4 && !known; i++)
            known = r->http_method && strcmp(r->http_method, methods[i]) == 0;
        if (!known || !r->path || !*r->path) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "cr_client_call: a method (GET, POST, PATCH, DELETE) and a "
                         "path are needed");
            return -1;
        }
        if (!cr_api_path_is_valid(r->path)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "call: path \"%.200s\" is not a resource path (segments of letters, digits and -_.~, an "
                         "optional :verb at the end; no . or .. segments)",
                         r->path);
            return -1;
        }
        if (r->base && ((strncmp(r->base, "http://", 7) != 0 && strncmp(r->base, "https://", 8) != 0) ||
                        strpbrk(r->base + 7, "@?#") || strchr(r->base + (r->base[4] == 's' ? 8 : 7), '/'))) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "call: base \"%.200s\" is not an http(s)://host[:port] endpoint",
                         r->base);
            return -1;
        }
        snprintf(call->http_method, sizeof call->http_method, "%s", r->http_method);
        call->idempotent = strcmp(r->http_method, "GET") == 0 || r->read;
        call->path = cr_strdup(r->path);
        call->base = r->base ? cr_strdup(r->base) : NULL;
        call->query = r->query && *r->query ? cr_strdup(r->query) : NULL;
        call->body = print_json(r->body);
        oom = !call->path || (r->base && !call->base) || (r->query && *r->query && !call->query) ||
              (r->body && !call->body);
        goto done;
    }
    const struct method_shape *shape = &shapes[r->method];
    snprintf(call->http_method, sizeof call->http_method, "%s", shape->http);
    call->kind = shape->kind;
    call->suffix = shape->suffix;
    call->idempotent = shape->read;
    const char *name = r->name;
    if (r->method == CR_LIST_EXECUTIONS && (!name || !*name))
        name = "-"; /* every job's executions */
    if (shape->kind && (!name || !*name)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name is empty", what_of(shape->kind));
        return -1;
    }
    if (shape->kind && !(call->name = cr_strdup(name))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return -1;
    }
    switch (r->method) {
    case CR_RUN_JOB:
        if (!(call->body = cr_api_run_job_body(r->run, err))) {
            cr_call_clear(call);
            return -1;
        }
        break;
    case CR_LIST_JOBS:
    case CR_LIST_EXECUTIONS:
    case CR_LIST_TASKS:
    case CR_LIST_OPERATIONS:
        query_list(&q, r->list);
        break;
    case CR_CREATE_JOB:
    case CR_UPDATE_JOB:
        if (!cJSON_IsObject(r->spec)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: the job spec must be a JSON object",
                         r->method == CR_CREATE_JOB ? "create_job" : "update_job");
            cr_call_clear(call);
            return -1;
        }
        if (r->method == CR_CREATE_JOB) {
            /* POST parent/jobs?jobId=ID: the id is the name's last segment. CreateJobRequest
            ** has validateOnly, and no etag or allowMissing to send. */
            const char *slash = strrchr(name, '/');
            query_add(&q, "jobId", slash ? slash + 1 : name);
            if (r->write && r->write->validate_only)
                query_add(&q, "validateOnly", "true");
            call->body = print_json(r->spec);
            oom |= !call->body;
        } else {
            /* UpdateJobRequest: validateOnly and allowMissing in the query; an etag is the
            ** Job's own field (the version the change was made from), in the body */
            call->spec = cJSON_Duplicate(r->spec, 1);
            oom |= !call->spec;
            if (call->spec && r->write && r->write->etag && *r->write->etag) {
                cJSON_DeleteItemFromObjectCaseSensitive(call->spec, "etag");
                oom |= !cJSON_AddStringToObject(call->spec, "etag", r->write->etag);
            }
            if (r->write && r->write->validate_only)
                query_add(&q, "validateOnly", "true");
            if (r->write && r->write->allow_missing)
                query_add(&q, "allowMissing", "true");
        }
        break;
    case CR_DELETE_JOB:
    case CR_DELETE_EXECUTION:
        query_write(&q, r->write);
        break;
    case CR_CANCEL_EXECUTION: {
        /* validateOnly and etag travel in the body ("body: *") */
        cJSON *body = cJSON_CreateObject();
        if (r->write && r->write->validate_only)
            cJSON_AddBoolToObject(body, "validateOnly", 1);
        if (r->write && r->write->etag)
            cJSON_AddStringToObject(body, "etag", r->write->etag);
        call->body = print_json(body);
        oom |= !call->body;
        cJSON_Delete(body);
        break;
    }
    case CR_WAIT_OPERATION: {
        /* the server holds the call up to `timeout`: the exchange must outlast it */
        if (!(r->wait_timeout >= 0 && r->wait_timeout <= CR_MAX_WAIT_SECONDS)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "wait_operation: the timeout must be 0 to %.0f seconds",
                         CR_MAX_WAIT_SECONDS);
            cr_call_clear(call);
            return -1;
        }
        cJSON *body = cJSON_CreateObject();
        if (r->wait_timeout > 0) {
            char buf[40];
            cJSON_AddStringToObject(body, "timeout",
                                    cr_duration_format((int64_t)(r->wait_timeout * 1e9), buf, sizeof buf));
            call->min_timeout_ms = (long)(r->wait_timeout * 1000.0) + 10000;
        }
        call->body = print_json(body);
        oom |= !call->body;
        cJSON_Delete(body);
        break;
    }
    default:
        break;
    }
    if (q.len && !q.failed)
        call->query = cr_buf_take(&q, NULL);
    oom |= q.failed;
done:
    cr_buf_free(&q);
    if (oom) {
        cr_call_clear(call);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

int cr_call_build(cr_client *c, cr_call *call, cr_http_request *req, cr_error *err)
{
    char *target = NULL;
    if (call->path) {
        target = cr_strdup(call->path);
    } else if (call->name) {
        int rc = cr_client_resolve(c, call->name, call->kind, &target, err);
        if (rc != 0)
            return rc;
    } else {
        pthread_mutex_lock(&c->lock);
        if (c->project && c->region)
            target = cr_concat("projects/", c->project, "/locations/", c->region, NULL);
        int known = c->project && c->region;
        pthread_mutex_unlock(&c->lock);
        if (!known)
            return 1;
        if (target && (!cr_api_id_is_valid(c->project) || !cr_api_id_is_valid(c->region))) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "project \"%s\" or region \"%s\" is not a valid resource id",
                         c->project, c->region);
            free(target);
            return -1;
        }
    }
    if (!target) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    /* The body goes to the request (built once per call): the call keeps none. */
    char *body = call->body;
    call->body = NULL;
    if (call->method == CR_CREATE_JOB) {
        *strrchr(target, '/') = '\0'; /* projects/P/locations/L/jobs */
    } else if (call->spec) {
        /* UpdateJob: PATCH name, the Job (with its full name) as the body */
        cJSON *spec = cJSON_Duplicate(call->spec, 1);
        if (spec) {
            cJSON_DeleteItemFromObjectCaseSensitive(spec, "name");
            if (cJSON_AddStringToObject(spec, "name", target))
                body = print_json(spec);
        }
        cJSON_Delete(spec);
        if (!body) {
            free(target);
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
            return -1;
        }
    }
    int rc = cr_api_build_request(call->base ? call->base : c->endpoint, call->http_method, target, call->suffix,
                                  call->query, body, req, err);
    free(target);
    if (rc == 0)
        req->idempotent = call->idempotent;
    return rc;
}

/* ---- the machine ------------------------------------------------------------ */

typedef enum { SUB_NONE, SUB_ADC, SUB_DISCOVERY, SUB_TOKEN } sub_kind;

typedef struct call_machine {
    cr_machine base;
    cr_client *client; /* outlives the machine (the caller's promise) */
    cr_call call;
    cr_retry policy;
    long timeout_ms; /* one exchange */
    double deadline; /* on the machine's monotonic clock; 0 until the first step */
    cr_http_request req;
    int built;
    int attempt;           /* attempts sent so far */
    int refreshed;         /* this attempt already refreshed the token after a 401 */
    int sending;           /* the request is ready: the next step is SEND */
    double wait;           /* > 0: the next step is WAIT */
    cr_credentials *creds; /* a reference, once resolved */
    int have_creds;
    char *token; /* the bearer in use (a secret) */
    sub_kind sub;
    int text;        /* the result is the answer's text (cr_call_take_text), not a tree */
    size_t text_len; /* of the text result */
    char *execution; /* with a RunJob's text result: the "execution" field to add, or NULL */
} call_machine;

static double remaining(call_machine *k)
{
    return k->deadline - cr_machine_now(&k->base);
}

/* How long a token fetch may take: the client's timeout for one exchange,
** within what is left of the call. */
static double token_within(call_machine *k)
{
    double left = remaining(k), per = (double)k->timeout_ms / 1000.0;
    return left < per ? left : per;
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
    return cr_header_add_owned(&req->headers, "Authorization", cr_concat("Bearer ", token, NULL));
}

/*
** Gets the request ready for an attempt: credentials (ADC, once per client),
** then names (discovery, once per client), then a token. Each need that the
** wire must answer becomes a sub-machine; this runs again when it is done.
*/
static void prepare(call_machine *k)
{
    cr_machine *m = &k->base;
    cr_error err = CR_ERROR_INIT;
    if (!k->built) {
        int rc = cr_call_build(k->client, &k->call, &k->req, &err);
        if (rc < 0) {
            cr_machine_finish_error(m, &err);
            return;
        }
        if (rc > 0) {
            k->sub = SUB_DISCOVERY;
            cr_machine *d = cr_discovery_machine(k->client, &err);
            if (!d)
                cr_machine_finish_error(m, &err);
            cr_machine_push(m, d);
            return;
        }
        k->built = 1;
    }
    if (!k->have_creds) {
        if (!cr_client_credentials(k->client, &k->creds)) {
            k->sub = SUB_ADC;
            cr_machine *adc = cr_adc_machine(&err);
            if (!adc)
                cr_machine_finish_error(m, &err);
            cr_machine_push(m, adc);
            return;
        }
        k->have_creds = 1;
    }
    if (k->creds && !k->token) {
        k->sub = SUB_TOKEN;
        cr_machine *t = cr_token_machine_new(k->creds, NULL, token_within(k), &err);
        if (!t)
            cr_machine_finish_error(m, &err);
        cr_machine_push(m, t);
        return;
    }
    if (k->creds) {
        const char *quota = cr_credentials_quota_project(k->creds);
        if (set_bearer(&k->req, k->token) < 0 || (quota && !cr_header_get(k->req.headers, "x-goog-user-project") &&
                                                  cr_header_add(&k->req.headers, "x-goog-user-project", quota) < 0)) {
            cr_machine_finish_errorf(m, "RESOURCE_EXHAUSTED", 0, "out of memory");
            return;
        }
    }
    double left = remaining(k);
    long timeout = k->timeout_ms;
    if (k->call.min_timeout_ms > timeout)
        timeout = k->call.min_timeout_ms; /* a call that needs longer (WaitOperation) says so */
    k->req.timeout_ms = left * 1000.0 < (double)timeout ? (long)(left * 1000.0) + 1 : timeout;
    if (k->req.timeout_ms < 1)
        k->req.timeout_ms = 1;
    k->sending = 1;
}

static void call_step(cr_machine *m, cr_step *s)
{
    call_machine *k = (call_machine *)m;
    if (k->deadline == 0)
        k->deadline = cr_machine_now(m) + k->policy.deadline;
    if (k->wait > 0) {
        s->kind = CR_STEP_WAIT;
        s->seconds = k->wait;
        return;
    }
    while (!k->sending && !m->done && !m->sub)
        prepare(k);
    if (m->sub) {
        cr_machine_step(m, s); /* the sub-machine's first step */
        return;
    }
    if (m->done) {
        s->kind = CR_STEP_DONE;
        return;
    }
    s->kind = CR_STEP_SEND;
    s->request = &k->req;
}

static void call_sub_done(cr_machine *m, cr_machine *sub)
{
    call_machine *k = (call_machine *)m;
    cr_error err = CR_ERROR_INIT;
    sub_kind which = k->sub;
    k->sub = SUB_NONE;
    switch (which) {
    case SUB_ADC: {
        cr_credentials *found = cr_adc_take(sub, &err);
        if (!found) {
            cr_machine_finish_error(m, &err);
            return;
        }
        cr_client_adopt_credentials(k->client, found);
        cr_credentials_unref(found);
        break;
    }
    case SUB_DISCOVERY: {
        cJSON *found = cr_machine_take_json(sub, &err);
        if (!found) {
            cr_machine_finish_error(m, &err);
            return;
        }
        cJSON_Delete(found);
        break;
    }
    case SUB_TOKEN:
        cr_secret_free(k->token);
        if (cr_machine_take_token(sub, &k->token, NULL, &err) < 0) {
            cr_machine_finish_error(m, &err);
            return;
        }
        break;
    default:
        cr_machine_finish_errorf(m, "INTERNAL", 0, "API call: an unexpected sub-machine finished");
        return;
    }
}

/* After a failed attempt: another one after a wait, or the error for good. */
static void decide(call_machine *k, cr_error *err, double retry_after)
{
    cr_machine *m = &k->base;
    double delay = cr_retry_delay(&k->policy, k->attempt, err, k->call.idempotent, retry_after, remaining(k),
                                  cr_machine_jitter(m));
    if (delay < 0) {
        if (k->attempt > 1 && err->message) {
            char *msg = cr_asprintf("%s (after %d attempts)", err->message, k->attempt);
            if (msg) {
                free(err->message);
                err->message = msg;
            }
        }
        cr_machine_finish_error(m, err);
        return;
    }
    cr_error_clear(err);
    k->wait = delay > 0 ? delay : 1e-9;
}

static void call_respond(cr_machine *m, cr_http_response *resp)
{
    call_machine *k = (call_machine *)m;
    k->sending = 0;
    /* A 401 to a token we fetched means it was revoked or expired early: one
    ** fresh token, and the same attempt sent once more. A fixed token cannot
    ** be refreshed: the server's answer stands. */
    if (resp->status == 401 && k->token && !k->refreshed && !cr_credentials_fixed_token(k->creds, NULL)) {
        k->refreshed = 1;
        k->sub = SUB_TOKEN;
        cr_error err = CR_ERROR_INIT;
        cr_machine *t = cr_token_machine_new(k->creds, k->token, token_within(k), &err);
        if (!t)
            cr_machine_finish_error(m, &err);
        cr_machine_push(m, t);
        return;
    }
    k->attempt++;
    cr_error err = CR_ERROR_INIT;
    cJSON *result = NULL;
    if (k->text && resp->status >= 200 && resp->status < 300) {
        if (cr_api_check_answer_text(resp, k->req.url, k->call.method == CR_RUN_JOB, &k->execution, &err) == 0) {
            k->text_len = resp->body_len;
            cr_machine_finish_text(m, resp->body);
            resp->body = NULL;
            resp->body_len = 0;
            return;
        }
    } else {
        result = cr_api_parse_response(resp, k->req.url, &err);
    }
    if (!result && k->token) {
        /* a server that quotes the request back must not put our token into a message */
        const char *secrets[] = {k->token};
        cr_error_scrub(&err, secrets, 1);
    }
    if (result) {
        if (k->call.method == CR_RUN_JOB) {
            const char *exec = cr_api_operation_execution(result);
            if (exec && !cJSON_GetObjectItemCaseSensitive(result, "execution"))
                cJSON_AddStringToObject(result, "execution", exec);
        }
        cr_machine_finish_json(m, result);
        return;
    }
    decide(k, &err, cr_retry_after(resp->headers, &err, cr_machine_unix_time(m)));
}

static void call_fail(cr_machine *m, cr_error *err)
{
    call_machine *k = (call_machine *)m;
    k->sending = 0;
    k->attempt++;
    cr_error mine = *err;
    memset(err, 0, sizeof *err);
    decide(k, &mine, -1);
}

static void call_waited(cr_machine *m)
{
    call_machine *k = (call_machine *)m;
    k->wait = 0;
    k->refreshed = 0;
}

static void call_destroy(cr_machine *m)
{
    call_machine *k = (call_machine *)m;
    cr_call_clear(&k->call);
    cr_http_request_clear(&k->req);
    cr_credentials_unref(k->creds);
    cr_secret_free(k->token);
    free(k->execution);
}

static const cr_machine_ops call_ops = {
    .what = "API call",
    .step = call_step,
    .respond = call_respond,
    .fail = call_fail,
    .waited = call_waited,
    .sub_done = call_sub_done,
    .destroy = call_destroy,
};

cr_machine *cr_call_machine(cr_client *c, cr_call *call, cr_http_request *built, const cr_call_options *opts, int text,
                            cr_error *err)
{
    if (opts && !(opts->timeout <= CR_MAX_EXCHANGE_SECONDS)) {
        cr_call_clear(call);
        cr_http_request_clear(built);
        cr_error_set(err, "INVALID_ARGUMENT", 0, "timeout must be at most %.0f seconds", CR_MAX_EXCHANGE_SECONDS);
        return NULL;
    }
    call_machine *k = calloc(1, sizeof *k);
    if (!k) {
        cr_call_clear(call);
        cr_http_request_clear(built);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    if (built) {
        k->req = *built;
        memset(built, 0, sizeof *built);
        k->built = 1;
    }
    cr_machine_init(&k->base, &call_ops, NULL);
    k->client = c;
    k->text = text;
    k->call = *call;
    memset(call, 0, sizeof *call);
    if (opts && opts->retry)
        cr_retry_resolve(opts->retry, &k->policy);
    else
        k->policy = c->retry;
    k->timeout_ms = opts && opts->timeout > 0 ? (long)(opts->timeout * 1000.0) : c->timeout_ms;
    return &k->base;
}

char *cr_call_take_text(cr_machine *m, size_t *len, char **execution, cr_error *err)
{
    call_machine *k = (call_machine *)m;
    *len = 0;
    *execution = NULL;
    char *text = cr_machine_take_text(m, err);
    if (text) {
        *len = k->text_len;
        *execution = k->execution;
        k->execution = NULL;
    }
    return text;
}

/* ---- discovery --------------------------------------------------------------- */

/*
** Project: the credentials' project_id, their quota_project_id, what their
** source can look up (the metadata server's project), the metadata server.
** Region: the metadata server's instance/region. An anonymous (emulator)
** client asks no metadata server. Each place looked at is noted, for the
** error when something is still missing.
*/
typedef enum {
    D_PROJECT,       /* is the project known? */
    D_CREDS,         /* the credentials, by ADC when the client has none yet */
    D_CREDS_PROJECT, /* their project_id / quota_project_id, or their source's lookup */
    D_MD_PROJECT,    /* the metadata server's project */
    D_REGION,        /* the metadata server's region */
    D_FINISH
} d_stage;

typedef struct discovery {
    cr_machine base;
    cr_client *client;
    d_stage stage; /* what to do next; while a sub-machine runs, what it is for */
    cr_credentials *creds;
    char *creds_error; /* why ADC found none */
    cr_buf looked;
} discovery;

/* The last path segment of a metadata answer ("projects/123/regions/us-central1"). */
static const char *last_segment(const char *value)
{
    const char *slash = strrchr(value, '/');
    return slash ? slash + 1 : value;
}

static void set_found(cr_client *c, char **field, const char *value)
{
    pthread_mutex_lock(&c->lock);
    if (!*field && value && *value)
        *field = cr_strdup(value);
    pthread_mutex_unlock(&c->lock);
}

static int have(cr_client *c, char *const *field)
{
    pthread_mutex_lock(&c->lock);
    int known = *field != NULL;
    pthread_mutex_unlock(&c->lock);
    return known;
}

static void d_finish(discovery *d)
{
    cr_client *c = d->client;
    cr_machine *m = &d->base;
    const char *looked = d->looked.data ? d->looked.data : "";
    if (!have(c, &c->project))
        cr_machine_finish_errorf(m, "INVALID_ARGUMENT", 0,
                                 "no project: pass project= to the client (--project), set GOOGLE_CLOUD_PROJECT, or "
                                 "run `gcloud config set project PROJECT` (%s)",
                                 looked);
    else if (!have(c, &c->region))
        cr_machine_finish_errorf(m, "INVALID_ARGUMENT", 0,
                                 "no region: pass region= to the client (--region), set CLOUDSDK_RUN_REGION, or run "
                                 "`gcloud config set run/region REGION` (%s)",
                                 looked);
    else
        cr_machine_finish_json(m, cJSON_CreateTrue());
}

/* Goes through the places to look until one needs the wire (a sub-machine
** is pushed, and `stage` says what for) or there is nothing left. */
static void d_advance(discovery *d)
{
    cr_client *c = d->client;
    cr_machine *m = &d->base;
    cr_error err = CR_ERROR_INIT;
    cr_machine *sub = NULL;
    while (!sub && !m->done) {
        switch (d->stage) {
        case D_PROJECT:
            if (have(c, &c->project)) {
                d->stage = D_REGION;
                break;
            }
            cr_buf_puts(&d->looked, "the project option, $GOOGLE_CLOUD_PROJECT and $CLOUDSDK_CORE_PROJECT are unset");
            if (c->gcloud_project_where)
                cr_buf_printf(&d->looked, "; %s sets no [core] project", c->gcloud_project_where);
            d->stage = c->anonymous ? D_FINISH : D_CREDS;
            break;
        case D_CREDS:
            if (!d->creds && !d->creds_error && !cr_client_credentials(c, &d->creds)) {
                sub = cr_adc_machine(&err); /* stage stays D_CREDS while it runs */
                break;
            }
            d->stage = D_CREDS_PROJECT;
            break;
        case D_CREDS_PROJECT: {
            const char *p = d->creds ? cr_credentials_known_project(d->creds) : NULL;
            if (!p && d->creds)
                p = cr_credentials_quota_project(d->creds);
            if (p) {
                set_found(c, &c->project, p);
                d->stage = D_REGION;
            } else if (d->creds &&
                       (sub = cr_credentials_project_machine(d->creds, cr_credentials_timeout_ms(d->creds)))) {
                /* a source that can look its project up (the metadata server); stage stays */
            } else {
                cr_buf_printf(&d->looked, "; the credentials (%s) name no project_id",
                              d->creds         ? cr_credentials_origin(d->creds)
                              : d->creds_error ? d->creds_error
                                               : "none");
                d->stage = D_MD_PROJECT;
            }
            break;
        }
        case D_MD_PROJECT:
            sub = cr_metadata_lookup_machine("project/project-id", &err);
            break;
        case D_REGION:
            if (!have(c, &c->project) || have(c, &c->region)) {
                d->stage = D_FINISH;
                break;
            }
            cr_buf_puts(&d->looked, "the region option and $CLOUDSDK_RUN_REGION are unset");
            if (c->gcloud_region_where)
                cr_buf_printf(&d->looked, "; %s sets no [run] region", c->gcloud_region_where);
            if (c->anonymous)
                d->stage = D_FINISH;
            else
                sub = cr_metadata_lookup_machine("instance/region", &err);
            break;
        case D_FINISH:
            d_finish(d);
            break;
        }
        if (!sub && err.code[0]) {
            cr_machine_finish_error(m, &err);
            return;
        }
    }
    cr_machine_push(m, sub);
}

static void d_step(cr_machine *m, cr_step *s)
{
    discovery *d = (discovery *)m;
    d_advance(d);
    if (m->sub)
        cr_machine_step(m, s);
    else
        s->kind = CR_STEP_DONE;
}

static void d_sub_done(cr_machine *m, cr_machine *sub)
{
    discovery *d = (discovery *)m;
    cr_client *c = d->client;
    cr_error err = CR_ERROR_INIT;
    switch (d->stage) {
    case D_CREDS:
        d->creds = cr_adc_take(sub, &err);
        if (d->creds)
            cr_client_adopt_credentials(c, d->creds);
        else if (!(d->creds_error = cr_strdup(err.message ? err.message : err.code)))
            d->creds_error = cr_strdup("none found");
        d->stage = D_CREDS_PROJECT;
        break;
    case D_CREDS_PROJECT: {
        char *p = cr_machine_take_text(sub, &err);
        if (p && *p) {
            cr_credentials_set_project(d->creds, p);
            set_found(c, &c->project, p);
            d->stage = D_REGION;
        } else {
            /* the source that looks its project up is the metadata server: asked already */
            cr_buf_printf(&d->looked, "; the credentials (%s) name no project_id; the metadata server: %s",
                          cr_credentials_origin(d->creds), err.message ? err.message : err.code);
            d->stage = D_REGION;
        }
        free(p);
        break;
    }
    case D_MD_PROJECT:
    case D_REGION: {
        char *v = cr_machine_take_text(sub, &err);
        if (v && *v)
            set_found(c, d->stage == D_MD_PROJECT ? &c->project : &c->region,
                      d->stage == D_MD_PROJECT ? v : last_segment(v));
        else
            cr_buf_printf(&d->looked, "; the metadata server: %s", err.message ? err.message : err.code);
        free(v);
        d->stage = d->stage == D_MD_PROJECT ? D_REGION : D_FINISH;
        break;
    }
    default:
        break;
    }
    cr_error_clear(&err);
}

static void d_destroy(cr_machine *m)
{
    discovery *d = (discovery *)m;
    cr_credentials_unref(d->creds);
    free(d->creds_error);
    cr_buf_free(&d->looked);
}

static const cr_machine_ops discovery_ops = {
    .what = "project and region discovery",
    .step = d_step,
    .sub_done = d_sub_done,
    .destroy = d_destroy,
};

cr_machine *cr_discovery_machine(cr_client *c, cr_error *err)
{
    discovery *d = calloc(1, sizeof *d);
    if (!d) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&d->base, &discovery_ops, NULL);
    d->client = c;
    return &d->base;
}
