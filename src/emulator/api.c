/*
** api.c — routes and handlers of the REST surface: Jobs (create, get, list,
** update, delete, run), Executions (get, list, cancel, delete), Tasks (get,
** list) and Operations (get, list, wait, delete), with Cloud Run's error codes
** and messages.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "cloudrun.h"
#include "enum_encoding.h"
#include "errors.h"
#include "job_spec.h"
#include "json_strict.h"
#include "resource_json.h"
#include "runner.h"
#include "schema.h"
#include "wire_values.h"

#define DEFAULT_PAGE_SIZE 100
#define MAX_PAGE_SIZE 1000
#define MAX_SEGMENTS 12
#define MAX_SEGMENT 255 /* bytes of one path segment */
#define WAIT_DEFAULT_NS (30 * EMU_NS_PER_S)
#define WAIT_MAX_NS (600 * EMU_NS_PER_S) /* a WaitOperation holds a thread at most this long */

/* A parsed path: /v2/projects/P/locations/L/<collection>/... */
typedef struct route {
    char *buf;
    const char *seg[MAX_SEGMENTS];
    int n;
    const char *verb;          /* after ':' in the last segment, or NULL */
    const char *project, *location;
} route;

typedef struct call {
    emu_store *s;
    const emu_request *req;
    route rt;
    cJSON *body;               /* parsed body (an object) for POST/PATCH, else NULL */
    int64_t wait_ns;           /* WaitOperation: how long, read from the body before the wait */
    emu_error err;
} call;

/* ---- small helpers -------------------------------------------------------------- */

/* A query parameter's value by its JSON name (checked_query has made sure
** it came at most once, by either of its names). */
static const char *query(const call *c, const char *name)
{
    char snake[64];
    size_t w = 0;
    for (const char *p = name; *p && w + 2 < sizeof snake; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            snake[w++] = '_';
            snake[w++] = (char)(*p - 'A' + 'a');
        } else {
            snake[w++] = *p;
        }
    }
    snake[w] = '\0';
    for (size_t i = 0; i < c->req->nquery; i++)
        if (strcmp(c->req->query[i].key, name) == 0 || strcmp(c->req->query[i].key, snake) == 0)
            return c->req->query[i].value;
    return NULL;
}

/* A bool query parameter (checked: true, false, 1 or 0). */
static int query_bool(const call *c, const char *name)
{
    const char *v = query(c, name);
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static int body_bool(const call *c, const char *key)
{
    return c->body && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->body, key));
}

static const char *body_string(const call *c, const char *key)
{
    const cJSON *v = c->body ? cJSON_GetObjectItemCaseSensitive(c->body, key) : NULL;
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static cJSON *not_found(call *c, const char *id, const char *kind)
{
    emu_error_set(&c->err, "NOT_FOUND", "Resource '%s' of kind '%s' in region '%s' in project '%s' does not exist.",
                  id, kind, c->rt.location, c->rt.project);
    return NULL;
}

/* pageSize: the default when absent or 0, at most MAX_PAGE_SIZE (checked_query has made it an int32). */
static int page_size(call *c, int *size)
{
    const char *ps = query(c, "pageSize");
    *size = DEFAULT_PAGE_SIZE;
    if (ps) {
        long v = strtol(ps, NULL, 10);
        if (v < 0) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "pageSize must not be negative, got %ld.", v);
            emu_error_field(&c->err, "page_size");
            return -1;
        }
        if (v > 0)
            *size = v > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : (int)v;
    }
    return 0;
}

/* A page token: the decimal text of a non-negative int64, or -1 when it is not one. */
static long long token_value(const char *text, const char **end)
{
    if (!isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *stop;
    long long v = strtoll(text, &stop, 10);
    if (errno == ERANGE)
        return -1;
    *end = stop;
    return v;
}

/* pageSize and pageToken; the token is the opaque position after the last item. */
static int paging(call *c, int *size, long long *token)
{
    const char *pt = query(c, "pageToken");
    *token = -1;
    if (page_size(c, size) < 0)
        return -1;
    if (pt && *pt) {
        const char *end = pt;
        long long v = token_value(pt, &end);
        if (v < 0 || *end) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid pageToken '%s'.", pt);
            emu_error_field(&c->err, "page_token");
            return -1;
        }
        *token = v;
    }
    return 0;
}

static void add_token(cJSON *page, long long token)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", token);
    cJSON_AddStringToObject(page, "nextPageToken", buf);
}

static int same_parent(const call *c, const char *project, const char *location)
{
    return strcmp(project, c->rt.project) == 0 && strcmp(location, c->rt.location) == 0;
}

static emu_job *find_job(call *c, const char *id)
{
    emu_job *j = emu_store_find_job(c->s, c->rt.project, c->rt.location, id);
    if (!j)
        not_found(c, id, "JOB");
    return j;
}

static emu_execution *find_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = emu_store_find_execution(c->s, c->rt.project, c->rt.location, job, id);
    if (!e)
        not_found(c, id, "EXECUTION");
    return e;
}

/* Stores a finished operation around a resource and answers with it. */
static cJSON *done_operation(call *c, cJSON *resource, const char *type)
{
    emu_operation *op =
        emu_store_add_operation(c->s, c->rt.project, c->rt.location, emu_done_operation(resource, type), NULL);
    if (!op) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    return emu_operation_json(op);
}

/* The answer to a validateOnly request: a finished operation around what
** would have been, never stored (validateOnly creates nothing, operations
** included; the answer is done, so no client polls it). */
static cJSON *validated_operation(call *c, cJSON *resource, const char *type)
{
    char uuid[37];
    emu_uuid4(uuid);
    emu_operation op = {0};
    op.name = emu_strfmt("projects/%s/locations/%s/operations/%s", c->rt.project, c->rt.location, uuid);
    op.snapshot = emu_done_operation(resource, type);
    cJSON *json = op.name ? emu_operation_json(&op) : NULL;
    free(op.name);
    cJSON_Delete(op.snapshot);
    if (!json)
        emu_error_set(&c->err, "INTERNAL", "out of memory");
    return json;
}

/*
** Deleting an execution (itself, or with its job): as on Cloud Run, a running
** one is cancelled (its task processes get SIGTERM, SIGKILL after the grace
** period) and deleted at once; it answers 404 from then on, and a RunJob
** operation that follows it ends once its processes have stopped, with the
** cancelled Execution (deleteTime set) as its response.
*/
static void delete_execution(emu_store *s, emu_execution *e)
{
    emu_runner_cancel(s, e);
    e->deleted = 1;
    e->update_ns = e->delete_ns = emu_now_ns();
}

/* ---- Jobs ------------------------------------------------------------------------- */

static cJSON *create_job(call *c)
{
    const char *id = query(c, "jobId");
    if (!id || !*id) {
        emu_error_set(&c->err, "INVALID_ARGUMENT", "The request is missing the required query parameter 'jobId'.");
        return NULL;
    }
    if (!emu_job_id_valid(id)) {
        emu_error_set(&c->err, "INVALID_ARGUMENT",
                      "Invalid jobId '%s': it must start with a lowercase letter, contain only lowercase letters, "
                      "digits and hyphens, not end with a hyphen, and be at most 63 characters long.",
                      id);
        return NULL;
    }
    if (emu_store_find_job(c->s, c->rt.project, c->rt.location, id)) {
        emu_error_set(&c->err, "ALREADY_EXISTS", "Resource '%s' already exists.", id);
        return NULL;
    }
    cJSON *spec = emu_job_spec_from_json(c->body, &c->err);
    if (!spec)
        return NULL;
    emu_job *job = emu_store_add_job(c->s, c->rt.project, c->rt.location, id, spec);
    if (!job) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    cJSON *json = emu_job_json(c->s, job);
    if (query_bool(c, "validateOnly")) {
        emu_store_remove_job(c->s, job);
        return validated_operation(c, json, EMU_TYPE_JOB);
    }
    return done_operation(c, json, EMU_TYPE_JOB);
}

static cJSON *get_job(call *c, const char *id)
{
    emu_job *job = find_job(c, id);
    return job ? emu_job_json(c->s, job) : NULL;
}

static cJSON *list_jobs(call *c)
{
    int size;
    long long token;
    if (paging(c, &size, &token) < 0)
        return NULL;
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "jobs");
    int count = 0;
    long long last = 0;
    for (size_t i = c->s->njobs; i-- > 0;) { /* newest first */
        emu_job *j = c->s->jobs[i];
        if (!same_parent(c, j->project, j->location) || (token >= 0 && j->seq >= token))
            continue;
        if (count == size) {
            add_token(page, last);
            break;
        }
        cJSON_AddItemToArray(list, emu_job_json(c->s, j));
        last = j->seq;
        count++;
    }
    if (!count)
        cJSON_DeleteItemFromObject(page, "jobs");
    return page;
}

static cJSON *update_job(call *c, const char *id)
{
    emu_job *job = emu_store_find_job(c->s, c->rt.project, c->rt.location, id);
    if (!job && !query_bool(c, "allowMissing"))
        return not_found(c, id, "JOB");
    cJSON *spec = emu_job_spec_from_json(c->body, &c->err);
    if (!spec)
        return NULL;
    if (!job) {
        if (!emu_job_id_valid(id)) {
            cJSON_Delete(spec);
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid job id '%s'.", id);
            return NULL;
        }
        job = emu_store_add_job(c->s, c->rt.project, c->rt.location, id, spec);
        if (!job) {
            emu_error_set(&c->err, "INTERNAL", "out of memory");
            return NULL;
        }
        cJSON *json = emu_job_json(c->s, job);
        if (query_bool(c, "validateOnly")) {
            emu_store_remove_job(c->s, job);
            return validated_operation(c, json, EMU_TYPE_JOB);
        }
        return done_operation(c, json, EMU_TYPE_JOB);
    }
    if (query_bool(c, "validateOnly")) {
        cJSON_Delete(spec);
        return validated_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
    }
    cJSON_Delete(job->spec);
    job->spec = spec;
    job->generation++;
    job->update_ns = emu_now_ns();
    return done_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
}

static int etag_matches(call *c, const char *want, const char *have, const char *what)
{
    if (!want || strcmp(want, have) == 0)
        return 1;
    emu_error_set(&c->err, "ABORTED", "The etag '%s' does not match the current etag of %s '%s'.", want, what,
                  have);
    return 0;
}

static cJSON *delete_job(call *c, const char *id)
{
    emu_job *job = find_job(c, id);
    char etag[48];
    if (!job || !etag_matches(c, query(c, "etag"), emu_job_etag(job, etag, sizeof etag), "job"))
        return NULL;
    cJSON *json = emu_job_json(c->s, job);
    if (query_bool(c, "validateOnly"))
        return validated_operation(c, json, EMU_TYPE_JOB);
    char ts[48];
    cJSON_AddStringToObject(json, "deleteTime", emu_timestamp_format(emu_now_ns(), ts, sizeof ts));
    for (size_t i = 0; i < c->s->nexecs; i++) {
        emu_execution *e = c->s->execs[i];
        if (!e->deleted && e->seq > job->seq && strcmp(e->job, job->id) == 0 &&
            same_parent(c, e->project, e->location))
            delete_execution(c->s, e);
    }
    emu_store_remove_job(c->s, job);
    return done_operation(c, json, EMU_TYPE_JOB);
}

static cJSON *run_job(call *c, const char *id)
{
    emu_job *job = find_job(c, id);
    char etag[48];
    if (!job || !etag_matches(c, body_string(c, "etag"), emu_job_etag(job, etag, sizeof etag), "job"))
        return NULL;
    int task_count;
    cJSON *tt = emu_overrides_apply(job->spec, c->body ? cJSON_GetObjectItemCaseSensitive(c->body, "overrides") : NULL,
                                    job->id, &task_count, &c->err);
    if (!tt)
        return NULL;
    const char *why;
    emu_execution *e = emu_store_add_execution(c->s, job, tt, task_count, &why);
    if (!e) {
        emu_error_set(&c->err, "INTERNAL", "Cannot create the execution: %s.", why);
        return NULL;
    }
    if (body_bool(c, "validateOnly")) {
        /* Nothing starts; the operation is finished so that a waiting client returns. */
        cJSON *json = emu_execution_json(e);
        emu_store_discard_execution(c->s, job, e);
        return validated_operation(c, json, EMU_TYPE_EXECUTION);
    }
    emu_operation *op = emu_store_add_operation(c->s, c->rt.project, c->rt.location, NULL, e);
    if (!op) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    op->run_job = 1;
    emu_runner_wake(c->s);
    return emu_operation_json(op); /* rendered before the runner can move: the fresh, pending state */
}

/* ---- Executions and Tasks ------------------------------------------------------------ */

static cJSON *list_executions(call *c, const char *job)
{
    int size;
    long long token;
    if (strcmp(job, "-") != 0 && !find_job(c, job))
        return NULL;
    if (paging(c, &size, &token) < 0)
        return NULL;
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "executions");
    int count = 0;
    long long last = 0;
    for (size_t i = c->s->nexecs; i-- > 0;) {
        emu_execution *e = c->s->execs[i];
        if (e->deleted || !same_parent(c, e->project, e->location) || (strcmp(job, "-") && strcmp(job, e->job)) ||
            (token >= 0 && e->seq >= token))
            continue;
        if (count == size) {
            add_token(page, last);
            break;
        }
        cJSON_AddItemToArray(list, emu_execution_json(e));
        last = e->seq;
        count++;
    }
    if (!count)
        cJSON_DeleteItemFromObject(page, "executions");
    return page;
}

static cJSON *cancel_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = find_execution(c, job, id);
    if (!e)
        return NULL;
    if (emu_execution_done(e)) {
        emu_error_set(&c->err, "FAILED_PRECONDITION", "Execution '%s' cannot be cancelled because it is not running.",
                      id);
        return NULL;
    }
    if (body_bool(c, "validateOnly"))
        return validated_operation(c, emu_execution_json(e), EMU_TYPE_EXECUTION);
    emu_runner_cancel(c->s, e);
    emu_operation *op = emu_store_add_operation(c->s, c->rt.project, c->rt.location, NULL, e);
    if (!op) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    return emu_operation_json(op);
}

static cJSON *delete_execution_call(call *c, const char *job, const char *id)
{
    emu_execution *e = find_execution(c, job, id);
    if (!e)
        return NULL;
    const char *want = query(c, "etag");
    if (want) {
        cJSON *now = emu_execution_json(e);
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(now, "etag");
        int ok = etag_matches(c, want, cJSON_IsString(have) ? have->valuestring : "", "execution");
        cJSON_Delete(now);
        if (!ok)
            return NULL;
    }
    if (query_bool(c, "validateOnly"))
        return validated_operation(c, emu_execution_json(e), EMU_TYPE_EXECUTION);
    delete_execution(c->s, e);
    return done_operation(c, emu_execution_json(e), EMU_TYPE_EXECUTION);
}

/* "J-abcde-task3" -> 3 for execution "J-abcde"; -1 when it is not one of its tasks. */
static int task_index(const emu_execution *e, const char *id)
{
    size_t n = strlen(e->id);
    if (strncmp(id, e->id, n) != 0 || strncmp(id + n, "-task", 5) != 0)
        return -1;
    const char *digits = id + n + 5;
    char *end;
    long v = strtol(digits, &end, 10);
    if (!*digits || *end || v < 0 || v >= e->task_count || (digits[0] == '0' && digits[1]))
        return -1;
    return (int)v;
}

static cJSON *get_task(call *c, const char *job, const char *exec, const char *id)
{
    emu_execution *e = find_execution(c, job, exec);
    if (!e)
        return NULL;
    int i = task_index(e, id);
    return i < 0 ? not_found(c, id, "TASK") : emu_task_json(e, &e->tasks[i]);
}

/*
** ListTasks. With execution "-" (and job "-" or one job) it lists the tasks of
** every matching execution, executions newest first and each one's tasks in
** index order; the page token is then "<execution seq>.<task index>", the
** position to go on from.
*/
static cJSON *list_tasks(call *c, const char *job, const char *exec)
{
    int size;
    long long token = -1;
    int all = strcmp(exec, "-") == 0;
    emu_execution *one = NULL;
    if (all ? (strcmp(job, "-") != 0 && !find_job(c, job)) : !(one = find_execution(c, job, exec)))
        return NULL;
    long long from_seq = -1;
    int from_index = 0;
    const char *pt = query(c, "pageToken");
    if (all && pt && *pt) {
        const char *end = pt;
        from_seq = token_value(pt, &end);
        if (from_seq >= 0 && *end == '.') {
            long long index = token_value(end + 1, &end);
            from_index = index >= 0 && index <= EMU_MAX_TASKS ? (int)index : -1;
        }
        if (from_seq < 0 || from_index < 0 || *end) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid pageToken '%s'.", pt);
            return NULL;
        }
    }
    if (all ? page_size(c, &size) < 0 : paging(c, &size, &token) < 0)
        return NULL;
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "tasks");
    int count = 0;
    if (one) {
        int from = token >= 0 ? (int)(token < one->task_count ? token : one->task_count) : 0;
        int to = from + size < one->task_count ? from + size : one->task_count;
        for (int i = from; i < to; i++)
            cJSON_AddItemToArray(list, emu_task_json(one, &one->tasks[i]));
        if (to < one->task_count)
            add_token(page, to);
        count = to - from;
    }
    for (size_t k = c->s->nexecs; all && k-- > 0;) {
        emu_execution *e = c->s->execs[k];
        if (e->deleted || !same_parent(c, e->project, e->location) || (strcmp(job, "-") && strcmp(job, e->job)) ||
            (from_seq >= 0 && e->seq > from_seq))
            continue;
        for (int i = from_seq == e->seq ? from_index : 0; i < e->task_count; i++) {
            if (count == size) {
                char buf[48];
                snprintf(buf, sizeof buf, "%lld.%d", (long long)e->seq, i);
                cJSON_AddStringToObject(page, "nextPageToken", buf);
                all = 0;
                break;
            }
            cJSON_AddItemToArray(list, emu_task_json(e, &e->tasks[i]));
            count++;
        }
    }
    if (!count)
        cJSON_DeleteItemFromObject(page, "tasks");
    return page;
}

/* ---- Operations ---------------------------------------------------------------------------- */

static emu_operation *find_operation(call *c, const char *id)
{
    char *name = emu_strfmt("projects/%s/locations/%s/operations/%s", c->rt.project, c->rt.location, id);
    emu_operation *op = name ? emu_store_find_operation(c->s, name) : NULL;
    if (!op)
        emu_error_set(&c->err, "NOT_FOUND", "Operation '%s' does not exist.", name ? name : id);
    free(name);
    return op;
}

static int operation_done(const emu_operation *op)
{
    return op->snapshot || emu_execution_done(op->execution);
}

/* WaitOperation: blocks (the mutex released) until done or the timeout; may return early, as the API allows. */
static cJSON *wait_operation(call *c, const char *id)
{
    emu_operation *op = find_operation(c, id);
    if (!op)
        return NULL;
    int64_t timeout = c->wait_ns;
    int64_t until = emu_add_sat(emu_mono_ns(), timeout);
    char *name = emu_strdup(op->name); /* op may be deleted while the mutex is released */
    while (op && name && !operation_done(op) && emu_mono_ns() < until && !c->s->draining) {
        pthread_mutex_unlock(&c->s->mu);
        nanosleep(&(struct timespec){0, 20 * EMU_NS_PER_MS}, NULL);
        pthread_mutex_lock(&c->s->mu);
        op = emu_store_find_operation(c->s, name);
    }
    free(name);
    if (!op) {
        find_operation(c, id); /* deleted meanwhile: answers NOT_FOUND */
        return NULL;
    }
    return emu_operation_json(op);
}

static cJSON *list_operations(call *c)
{
    int size;
    long long token;
    if (paging(c, &size, &token) < 0)
        return NULL;
    char *prefix = emu_strfmt("projects/%s/locations/%s/operations/", c->rt.project, c->rt.location);
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "operations");
    int count = 0;
    size_t start = token >= 0 ? (size_t)token : 0;
    for (size_t i = start; prefix && i < c->s->nops; i++) {
        if (strncmp(c->s->ops[i]->name, prefix, strlen(prefix)) != 0)
            continue;
        if (count == size) {
            add_token(page, (long long)i);
            break;
        }
        cJSON_AddItemToArray(list, emu_operation_json(c->s->ops[i]));
        count++;
    }
    free(prefix);
    if (!count)
        cJSON_DeleteItemFromObject(page, "operations");
    return page;
}

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
#define METHOD(name, id)                                                                                           \
    do {                                                                                                           \
        if (is(m, name))                                                                                           \
            return id;                                                                                             \
    } while (0)
#define METHODS(list)                                                                                              \
    do {                                                                                                           \
        *allow = list;                                                                                             \
        emu_error_set_status(err, 405, "UNIMPLEMENTED", "Method %s is not allowed on %s (allowed: %s).", m, path,  \
                             list);                                                                                \
        return RPC_NONE;                                                                                           \
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
    switch (which) {
    case RPC_CreateJob: return create_job(c);
    case RPC_ListJobs: return list_jobs(c);
    case RPC_RunJob: return run_job(c, seg[6]);
    case RPC_GetJob: return get_job(c, seg[6]);
    case RPC_UpdateJob: return update_job(c, seg[6]);
    case RPC_DeleteJob: return delete_job(c, seg[6]);
    case RPC_ListExecutions: return list_executions(c, seg[6]);
    case RPC_CancelExecution: return cancel_execution(c, seg[6], seg[8]);
    case RPC_GetExecution: {
        emu_execution *e = find_execution(c, seg[6], seg[8]);
        return e ? emu_execution_json(e) : NULL;
    }
    case RPC_DeleteExecution: return delete_execution_call(c, seg[6], seg[8]);
    case RPC_ListTasks: return list_tasks(c, seg[6], seg[8]);
    case RPC_GetTask: return get_task(c, seg[6], seg[8], seg[10]);
    case RPC_ListOperations: return list_operations(c);
    case RPC_WaitOperation: return wait_operation(c, seg[6]);
    case RPC_GetOperation: {
        emu_operation *op = find_operation(c, seg[6]);
        return op ? emu_operation_json(op) : NULL;
    }
    case RPC_DeleteOperation: {
        emu_operation *op = find_operation(c, seg[6]);
        if (!op)
            return NULL;
        emu_store_remove_operation(c->s, op);
        return cJSON_CreateObject();
    }
    case RPC_NONE: break;
    }
    return NULL;
}

const char *emu_api_rpc_name(const char *method, const char *path)
{
    route rt;
    emu_error err;
    const char *allow = NULL;
    rpc which = parse_route(&rt, path) == 0 ? classify(&rt, method, path, &allow, &err) : RPC_NONE;
    free(rt.buf);
    return which == RPC_NONE ? NULL : rpc_names[which];
}

void emu_api_reset(emu_store *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nexecs; i++)
        if (!s->execs[i]->deleted)
            delete_execution(s, s->execs[i]);
    while (s->njobs)
        emu_store_remove_job(s, s->jobs[s->njobs - 1]);
    while (s->nops)
        emu_store_remove_operation(s, s->ops[s->nops - 1]);
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
static const qparam q_list_operations[] = {
    {"filter", 's'}, {"pageSize", 'i'}, {"pageToken", 's'}, {"returnPartialSuccess", 'b'}, {NULL, 0}};

/* The fields of each request message that are not in its path or body (body "*" leaves none). */
static const qparam *query_fields(rpc which)
{
    switch (which) {
    case RPC_CreateJob: return q_create;
    case RPC_ListJobs:
    case RPC_ListExecutions:
    case RPC_ListTasks: return q_list;
    case RPC_UpdateJob: return q_update;
    case RPC_DeleteJob:
    case RPC_DeleteExecution: return q_delete;
    case RPC_ListOperations: return q_list_operations;
    default: return q_none;
    }
}

/* Google's system parameters, taken by every method (with or without a leading '$'). */
static int system_param(const char *key)
{
    static const char *const names[] = {"alt",         "fields",          "key",        "access_token",
                                        "prettyPrint", "quotaUser",       "callback",   "upload_protocol",
                                        "uploadType",  ".xgafv",          "oauth_token", NULL};
    if (*key == '$')
        key++;
    for (int i = 0; names[i]; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

static void to_snake(const char *json, char *buf, size_t size)
{
    size_t w = 0;
    for (const char *p = json; *p && w + 2 < size; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            buf[w++] = '_';
            buf[w++] = (char)(*p - 'A' + 'a');
        } else {
            buf[w++] = *p;
        }
    }
    buf[w] = '\0';
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
            to_snake(f->name, snake, sizeof snake);
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
    switch (which) {
    case RPC_CreateJob:
    case RPC_UpdateJob: *at = "job"; return &emu_msg_job;
    case RPC_RunJob: return &emu_msg_run_job_request;
    case RPC_CancelExecution: return &emu_msg_cancel_request;
    case RPC_WaitOperation: return &emu_msg_wait_request;
    default: return NULL;
    }
}

/* WaitOperation's timeout, read before the wait: 0 s or more, a longer wait cut short. */
static int read_wait_timeout(call *c)
{
    const char *t = body_string(c, "timeout");
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
