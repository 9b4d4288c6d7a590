/*
** api.c — the front of the REST surface: a request's path routed to its RPC
** (404, 405 and 501 as Google answers them), its query, path and body
** checked as Google's front end checks them (api_call.h has the handlers),
** the handler run under the store's mutex, and the answer in JSON.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_call.h"
#include "api_logs.h"
#include "enum_encoding.h"
#include "json_strict.h"
#include "lifecycle.h"
#include "schema.h"
#include "utf8.h"
#include "wire_values.h"

/* ---- routing ----------------------------------------------------------------------------------- */

static int parse_route(route *rt, const char *path)
{
    memset(rt, 0, sizeof *rt);
    rt->buf = emu_strdup(path);
    if (!rt->buf)
        return -1;
    char *save = NULL;
    for (char *p = strtok_r(rt->buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (rt->n == MAX_SEGMENTS)
            return -1;
        rt->seg[rt->n++] = p;
    }
    /* Empty segments ("//") are not part of any resource name. */
    size_t slashes = 0;
    for (const char *p = path; *p; p++)
        slashes += *p == '/';
    if (path[0] != '/' || slashes != (size_t)rt->n || rt->n < 6)
        return -1;
    if (strcmp(rt->seg[0], "v2") || strcmp(rt->seg[1], "projects") || strcmp(rt->seg[3], "locations"))
        return -1;
    char *last = (char *)rt->seg[rt->n - 1];
    char *colon = strchr(last, ':');
    if (colon) {
        *colon = '\0';
        rt->verb = colon + 1;
    }
    for (int i = 0; i < rt->n; i++)
        if (!rt->seg[i][0] || strchr(rt->seg[i], ':'))
            return -1;
    rt->project = rt->seg[2];
    rt->location = rt->seg[4];
    return 0;
}

static int is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

typedef enum rpc {
    RPC_NONE = -1,
#define X(name) RPC_##name,
    EMU_RPC_NAMES
#undef X
} rpc;

static const char *const rpc_names[] = {
#define X(name) #name,
    EMU_RPC_NAMES
#undef X
};

/* The RPC from the path's shape, then the method; RPC_NONE with err set
** (404, 405 with *allow, or 501 for a verb the emulator lacks) otherwise. */
static rpc classify(const route *rt, const char *m, const char *path, const char **allow, emu_error *err)
{
    const char *const *seg = rt->seg;
    int n = rt->n;
    const char *verb = rt->verb;
#define METHOD(name, id)                                                                                               \
    do {                                                                                                               \
        if (is(m, name))                                                                                               \
            return id;                                                                                                 \
    } while (0)
#define METHODS(list)                                                                                                  \
    do {                                                                                                               \
        *allow = list;                                                                                                 \
        emu_error_set_status(err, 405, "UNIMPLEMENTED", "Method %s is not allowed on %s (allowed: %s).", m, path,      \
                             list);                                                                                    \
        return RPC_NONE;                                                                                               \
    } while (0)

    if (is(seg[5], "jobs")) {
        if (n == 6 && !verb) {
            METHOD("POST", RPC_CreateJob);
            METHOD("GET", RPC_ListJobs);
            METHODS("GET, POST");
        }
        if (n == 7 && is(verb, "run")) {
            METHOD("POST", RPC_RunJob);
            METHODS("POST");
        }
        if (n == 7 && !verb) {
            METHOD("GET", RPC_GetJob);
            METHOD("PATCH", RPC_UpdateJob);
            METHOD("DELETE", RPC_DeleteJob);
            METHODS("GET, PATCH, DELETE");
        }
        if (n == 7 && is(verb, "getIamPolicy")) {
            METHOD("GET", RPC_GetIamPolicy);
            METHODS("GET");
        }
        if (n == 7 && is(verb, "setIamPolicy")) {
            METHOD("POST", RPC_SetIamPolicy);
            METHODS("POST");
        }
        if (n == 7 && is(verb, "testIamPermissions")) {
            METHOD("POST", RPC_TestIamPermissions);
            METHODS("POST");
        }
        if (n == 7 && verb) {
            emu_error_set(err, "UNIMPLEMENTED", "The emulator does not implement '%s' on jobs.", verb);
            return RPC_NONE;
        }
        if (n == 8 && !verb && is(seg[7], "executions")) {
            METHOD("GET", RPC_ListExecutions);
            METHODS("GET");
        }
        if (n == 9 && is(seg[7], "executions") && is(verb, "cancel")) {
            METHOD("POST", RPC_CancelExecution);
            METHODS("POST");
        }
        if (n == 9 && is(seg[7], "executions") && !verb) {
            METHOD("GET", RPC_GetExecution);
            METHOD("DELETE", RPC_DeleteExecution);
            METHODS("GET, DELETE");
        }
        if (n == 10 && is(seg[7], "executions") && is(seg[9], "tasks") && !verb) {
            METHOD("GET", RPC_ListTasks);
            METHODS("GET");
        }
        if (n == 11 && is(seg[7], "executions") && is(seg[9], "tasks") && !verb) {
            METHOD("GET", RPC_GetTask);
            METHODS("GET");
        }
    } else if (is(seg[5], "operations")) {
        if (n == 6 && !verb) {
            METHOD("GET", RPC_ListOperations);
            METHODS("GET");
        }
        if (n == 7 && is(verb, "wait")) {
            METHOD("POST", RPC_WaitOperation);
            METHODS("POST");
        }
        if (n == 7 && !verb) {
            METHOD("GET", RPC_GetOperation);
            METHOD("DELETE", RPC_DeleteOperation);
            METHODS("GET, DELETE");
        }
    }
    emu_error_set(err, "NOT_FOUND", "The requested URL %s was not found on this server.", path);
    return RPC_NONE;
#undef METHOD
#undef METHODS
}

static cJSON *dispatch(call *c, rpc which)
{
    const char *const *seg = c->rt.seg;
    /* one row per method */
    // clang-format off
    switch (which) {
    case RPC_CreateJob: return api_create_job(c);
    case RPC_ListJobs: return api_list_jobs(c);
    case RPC_RunJob: return api_run_job(c, seg[6]);
    case RPC_GetJob: return api_get_job(c, seg[6]);
    case RPC_UpdateJob: return api_update_job(c, seg[6]);
    case RPC_DeleteJob: return api_delete_job(c, seg[6]);
    case RPC_ListExecutions: return api_list_executions(c, seg[6]);
    case RPC_CancelExecution: return api_cancel_execution(c, seg[6], seg[8]);
    case RPC_GetExecution: return api_get_execution(c, seg[6], seg[8]);
    case RPC_DeleteExecution: return api_delete_execution(c, seg[6], seg[8]);
    case RPC_ListTasks: return api_list_tasks(c, seg[6], seg[8]);
    case RPC_GetTask: return api_get_task(c, seg[6], seg[8], seg[10]);
    case RPC_ListOperations: return api_list_operations(c);
    case RPC_WaitOperation: return api_wait_operation(c, seg[6]);
    case RPC_GetOperation: return api_get_operation(c, seg[6]);
    case RPC_DeleteOperation: return api_delete_operation(c, seg[6]);
    case RPC_GetIamPolicy: return api_get_iam_policy(c, seg[6]);
    case RPC_SetIamPolicy: return api_set_iam_policy(c, seg[6]);
    case RPC_TestIamPermissions: return api_test_iam_permissions(c, seg[6]);
    case RPC_ListLogEntries: /* emu_api_handle answers it before routing */
    case RPC_NONE: break;
    }
    // clang-format on
    return NULL;
}

const char *emu_api_rpc_name(const char *method, const char *path)
{
    route rt;
    emu_error err;
    const char *allow = NULL;
    if (strcmp(path, EMU_LOGS_PATH) == 0)
        return strcmp(method, "POST") == 0 ? rpc_names[RPC_ListLogEntries] : NULL;
    rpc which = parse_route(&rt, path) == 0 ? classify(&rt, method, path, &allow, &err) : RPC_NONE;
    free(rt.buf);
    return which == RPC_NONE ? NULL : rpc_names[which];
}

void emu_api_reset(emu_store *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->execs_head) /* running ones are cancelled, freed once stopped */
        emu_execution_delete(s, s->execs_head, NULL);
    while (s->jobs_head)
        emu_store_remove_job(s, s->jobs_tail);
    while (s->ops_head)
        emu_store_remove_operation(s, s->ops_tail);
    pthread_mutex_unlock(&s->mu);
}

/* ---- what a request may carry ------------------------------------------------------------ */

/* A query parameter of a request message: its JSON name and type ('s' string, 'b' bool, 'i' int32). */
typedef struct qparam {
    const char *name;
    char kind;
} qparam;

static const qparam q_none[] = {{NULL, 0}};
static const qparam q_create[] = {{"jobId", 's'}, {"validateOnly", 'b'}, {NULL, 0}};
static const qparam q_list[] = {{"pageSize", 'i'}, {"pageToken", 's'}, {"showDeleted", 'b'}, {NULL, 0}};
static const qparam q_update[] = {{"validateOnly", 'b'}, {"allowMissing", 'b'}, {NULL, 0}};
static const qparam q_delete[] = {{"validateOnly", 'b'}, {"etag", 's'}, {NULL, 0}};
static const qparam q_get_iam[] = {{"options.requestedPolicyVersion", 'i'}, {NULL, 0}};
static const qparam q_list_operations[] = {
    {"filter", 's'}, {"pageSize", 'i'}, {"pageToken", 's'}, {"returnPartialSuccess", 'b'}, {NULL, 0}};

/* The fields of each request message that are not in its path or body (body "*" leaves none). */
static const qparam *query_fields(rpc which)
{
    /* one row per method */
    // clang-format off
    switch (which) {
    case RPC_CreateJob: return q_create;
    case RPC_ListJobs:
    case RPC_ListExecutions:
    case RPC_ListTasks: return q_list;
    case RPC_UpdateJob: return q_update;
    case RPC_DeleteJob:
    case RPC_DeleteExecution: return q_delete;
    case RPC_ListOperations: return q_list_operations;
    case RPC_GetIamPolicy: return q_get_iam;
    default: return q_none;
    }
    // clang-format on
}

/* Google's system parameters, taken by every method (with or without a leading '$'). */
static int system_param(const char *key)
{
    static const char *const names[] = {"alt",         "fields",    "key",         "access_token",
                                        "prettyPrint", "quotaUser", "callback",    "upload_protocol",
                                        "uploadType",  ".xgafv",    "oauth_token", NULL};
    if (*key == '$')
        key++;
    for (int i = 0; names[i]; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/* "-12": an optional '-', then digits without a leading zero, within int32. */
static int int32_text(const char *s)
{
    const char *d = *s == '-' ? s + 1 : s;
    if (!*d || (*d == '0' && d[1]) || strspn(d, "0123456789") != strlen(d) || strlen(d) > 10)
        return 0;
    long long v = strtoll(s, NULL, 10);
    return v >= -2147483648LL && v <= 2147483647LL;
}

/*
** The query as Google's front end takes it: each parameter a field of the
** request message (by its JSON or proto name) or a system parameter, each
** given once, with a value of the field's type. 0, or -1 with c->err set.
*/
static int checked_query(call *c, rpc which)
{
    const qparam *fields = query_fields(which);
    const qparam *seen[EMU_MAX_QUERY_PARAMS] = {NULL};
    for (size_t i = 0; i < c->req->nquery && i < EMU_MAX_QUERY_PARAMS; i++) {
        const emu_param *p = &c->req->query[i];
        if (!emu_text_clean(p->key) || !emu_text_clean(p->value)) {
            emu_error_set(&c->err, "INVALID_ARGUMENT",
                          "Invalid query parameter: names and values must be UTF-8 text without control characters.");
            return -1;
        }
        if (system_param(p->key))
            continue;
        const qparam *f = fields;
        char snake[64];
        for (; f->name; f++) {
            emu_proto_name(f->name, snake, sizeof snake);
            if (strcmp(p->key, f->name) == 0 || strcmp(p->key, snake) == 0)
                break;
        }
        if (!f->name) {
            emu_error_set(&c->err, "INVALID_ARGUMENT",
                          "Invalid JSON payload received. Unknown name \"%s\": Cannot bind query parameter. Field "
                          "'%s' could not be found in request message.",
                          p->key, p->key);
            emu_error_field(&c->err, p->key);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (seen[k] == f) {
                emu_error_set(&c->err, "INVALID_ARGUMENT",
                              "Invalid JSON payload received. Duplicate query parameter \"%s\": a field that is not "
                              "repeated takes one value.",
                              f->name);
                emu_error_field(&c->err, snake);
                return -1;
            }
        }
        seen[i] = f;
        int ok = f->kind == 's' ||
                 (f->kind == 'b' && (strcasecmp(p->value, "true") == 0 || strcasecmp(p->value, "false") == 0 ||
                                     strcmp(p->value, "1") == 0 || strcmp(p->value, "0") == 0)) ||
                 (f->kind == 'i' && int32_text(p->value));
        if (!ok) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid value at '%s' (%s), \"%s\"", snake,
                          f->kind == 'b' ? "TYPE_BOOL" : "TYPE_INT32", p->value);
            emu_error_field(&c->err, snake);
            return -1;
        }
    }
    if (c->req->nquery > EMU_MAX_QUERY_PARAMS) {
        emu_error_set(&c->err, "INVALID_ARGUMENT", "Too many query parameters (at most %d).", EMU_MAX_QUERY_PARAMS);
        return -1;
    }
    return 0;
}

/* The system parameter $alt (or alt): "json;enum-encoding=int" asks for enums as numbers. */
static const char *alt_param(const call *c)
{
    for (size_t i = 0; i < c->req->nquery; i++)
        if (strcmp(c->req->query[i].key, "$alt") == 0 || strcmp(c->req->query[i].key, "alt") == 0)
            return c->req->query[i].value;
    return NULL;
}

/* Path segments are names and ids: UTF-8 text, no control characters, of a sane length. */
static int checked_path(call *c)
{
    for (int i = 0; i < c->rt.n; i++) {
        if (!emu_text_clean(c->rt.seg[i]) || strlen(c->rt.seg[i]) > MAX_SEGMENT) {
            emu_error_set(&c->err, "INVALID_ARGUMENT",
                          "Invalid resource name: each segment must be UTF-8 text without control characters, at "
                          "most %d bytes.",
                          MAX_SEGMENT);
            return -1;
        }
    }
    if (c->rt.verb && (!emu_text_clean(c->rt.verb) || strlen(c->rt.verb) > MAX_SEGMENT)) {
        emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid custom method name.");
        return -1;
    }
    return 0;
}

/* The body's message: what the RPC's HTTP rule maps its body to, and where that sits in the request. */
static const emu_message *body_message(rpc which, const char **at)
{
    *at = "";
    /* one row per method */
    // clang-format off
    switch (which) {
    case RPC_CreateJob:
    case RPC_UpdateJob: *at = "job"; return &emu_msg_job;
    case RPC_RunJob: return &emu_msg_run_job_request;
    case RPC_CancelExecution: return &emu_msg_cancel_request;
    case RPC_WaitOperation: return &emu_msg_wait_request;
    case RPC_SetIamPolicy: return &emu_msg_set_iam_policy;
    case RPC_TestIamPermissions: return &emu_msg_test_iam;
    default: return NULL;
    }
    // clang-format on
}

/* WaitOperation's timeout, read before the wait: 0 s or more, a longer wait cut short. */
static int read_wait_timeout(call *c)
{
    const char *t = call_body_string(c, "timeout");
    emu_duration d;
    c->wait_ns = WAIT_DEFAULT_NS;
    if (!t)
        return 0;
    if (emu_duration_parse(t, &d) < 0 || emu_duration_less(d, (emu_duration){0, 0})) {
        emu_error_set(&c->err, "INVALID_ARGUMENT", "timeout must be a Duration of 0s or more, such as \"30s\".");
        emu_error_field(&c->err, "timeout");
        return -1;
    }
    /* the API allows an answer before the operation is done: a longer wait is cut short */
    c->wait_ns = emu_duration_ns(d) < WAIT_MAX_NS ? emu_duration_ns(d) : WAIT_MAX_NS;
    return 0;
}

int emu_api_handle(emu_store *s, const emu_request *req, char **body, const char **allow)
{
    call c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.req = req;
    *allow = NULL;
    cJSON *result = NULL;
    rpc which = RPC_NONE;
    int gate = 0;
    if (strcmp(req->path, EMU_LOGS_PATH) == 0) {
        /* Cloud Logging's, beside Cloud Run's: only system parameters in the query */
        if (strcmp(req->method, "POST") != 0) {
            *allow = "POST";
            emu_error_set_status(&c.err, 405, "UNIMPLEMENTED", "Method %s is not allowed on %s (allowed: POST).",
                                 req->method, req->path);
            goto answer;
        }
        if (checked_query(&c, RPC_ListLogEntries) < 0)
            goto answer;
        emu_store_gate_enter(s);
        gate = 1;
        c.body = req->body_len > 0 ? emu_json_parse_strict(req->body, req->body_len, &c.err) : NULL;
        if (!c.body && !c.err.status)
            emu_error_set(&c.err, "INVALID_ARGUMENT", "entries:list needs a JSON body (a ListLogEntriesRequest).");
        else if (c.body && !cJSON_IsObject(c.body))
            emu_error_set(&c.err, "INVALID_ARGUMENT", "The body must be a JSON object (a ListLogEntriesRequest).");
        else if (c.body)
            result = emu_logs_list(s, c.body, &c.err);
        goto answer;
    }
    if (parse_route(&c.rt, req->path) < 0)
        emu_error_set(&c.err, "NOT_FOUND", "The requested URL %s was not found on this server.", req->path);
    else if (checked_path(&c) == 0)
        which = classify(&c.rt, req->method, req->path, allow, &c.err);
    if (which == RPC_NONE || checked_query(&c, which) < 0)
        goto answer;
    const char *at;
    const emu_message *msg = body_message(which, &at);
    if (msg && req->body_len > 0) {
        /* few trees at once: a body's tree costs a bounded multiple of its size, but bodies come in parallel */
        emu_store_gate_enter(s);
        gate = 1;
        c.body = emu_json_parse_strict(req->body, req->body_len, &c.err);
        if (!c.body)
            goto answer;
        if (emu_schema_check(c.body, msg, at, &c.err) < 0)
            goto answer;
    }
    if (which == RPC_WaitOperation) {
        if (read_wait_timeout(&c) < 0)
            goto answer;
        cJSON_Delete(c.body); /* nothing more is read from it, and the wait may be long */
        c.body = NULL;
        if (gate)
            emu_store_gate_leave(s);
        gate = 0;
    }
    pthread_mutex_lock(&s->mu);
    result = dispatch(&c, which);
    pthread_mutex_unlock(&s->mu);
    if (result && emu_alt_wants_int_enums(alt_param(&c)))
        emu_enums_to_numbers(result);
answer:
    cJSON_Delete(c.body);
    if (gate)
        emu_store_gate_leave(s);
    free(c.rt.buf);
    if (result) {
        *body = cJSON_PrintUnformatted(result);
        cJSON_Delete(result);
        return *body ? 200 : 500;
    }
    if (!c.err.status)
        emu_error_set(&c.err, "INTERNAL", "internal error");
    *body = emu_error_body(&c.err);
    return c.err.status;
}