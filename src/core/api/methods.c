/*
** methods.c — the Cloud Run Admin API v2 methods for jobs, executions, tasks
** and operations: which HTTP method and path each uses, which query
** parameters and body, and whether it is a read (retried freely) or a change.
*/
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

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

static void query_write(cr_buf *q, const cr_write_options *write)
{
    if (!write)
        return;
    if (write->validate_only)
        query_add(q, "validateOnly", "true");
    if (write->etag && *write->etag)
        query_add(q, "etag", write->etag);
    if (write->allow_missing)
        query_add(q, "allowMissing", "true");
}

/* Sends and frees the path and query; NULL path means resolution failed (err set). */
static cJSON *send_owned(cr_client *c, const char *method, char *path, cr_buf *q, const cJSON *body, int idempotent,
                         const cr_call_options *call, long min_timeout_ms, cr_error *err)
{
    cJSON *out = NULL;
    if (path) {
        if (q && q->failed) {
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a query");
        } else {
            out = cr_client_send(c, method, path, q && q->len ? q->data : NULL, body, idempotent, call,
                                 min_timeout_ms, err);
        }
    }
    free(path);
    if (q)
        cr_buf_free(q);
    return out;
}

/* ---- jobs ---------------------------------------------------------------- */

cJSON *cr_client_get_job(cr_client *c, const char *job, const cr_call_options *call, cr_error *err)
{
    return send_owned(c, "GET", cr_client_job_name(c, job, err), NULL, NULL, 1, call, 0, err);
}

cJSON *cr_client_list_jobs(cr_client *c, const cr_list_options *list, const cr_call_options *call, cr_error *err)
{
    char *parent = cr_client_parent_name(c, err);
    char *path = parent ? cr_asprintf("%s/jobs", parent) : NULL;
    free(parent);
    cr_buf q = {0};
    query_list(&q, list);
    return send_owned(c, "GET", path, &q, NULL, 1, call, 0, err);
}

/* CreateJob: POST parent/jobs?jobId=ID, the Job as the body. */
cJSON *cr_client_create_job(cr_client *c, const char *job, const cJSON *spec, const cr_write_options *write,
                            const cr_call_options *call, cr_error *err)
{
    if (!cJSON_IsObject(spec)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "create_job: the job spec must be a JSON object");
        return NULL;
    }
    char *name = cr_client_job_name(c, job, err);
    if (!name)
        return NULL;
    char *slash = strrchr(name, '/');
    *slash = '\0'; /* name = parent/jobs */
    cr_buf q = {0};
    query_add(&q, "jobId", slash + 1);
    query_write(&q, write);
    return send_owned(c, "POST", name, &q, spec, 0, call, 0, err);
}

/* UpdateJob: PATCH name, the Job (with its full name) as the body. */
cJSON *cr_client_update_job(cr_client *c, const char *job, const cJSON *spec, const cr_write_options *write,
                            const cr_call_options *call, cr_error *err)
{
    if (!cJSON_IsObject(spec)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "update_job: the job spec must be a JSON object");
        return NULL;
    }
    char *name = cr_client_job_name(c, job, err);
    if (!name)
        return NULL;
    cJSON *body = cJSON_Duplicate(spec, 1);
    if (body) {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "name");
        if (!cJSON_AddStringToObject(body, "name", name)) {
            cJSON_Delete(body);
            body = NULL;
        }
    }
    if (!body) {
        free(name);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_buf q = {0};
    query_write(&q, write);
    cJSON *out = send_owned(c, "PATCH", name, &q, body, 0, call, 0, err);
    cJSON_Delete(body);
    return out;
}

cJSON *cr_client_delete_job(cr_client *c, const char *job, const cr_write_options *write,
                            const cr_call_options *call, cr_error *err)
{
    cr_buf q = {0};
    query_write(&q, write);
    return send_owned(c, "DELETE", cr_client_job_name(c, job, err), &q, NULL, 0, call, 0, err);
}

/* ---- executions ------------------------------------------------------------ */

cJSON *cr_client_get_execution(cr_client *c, const char *execution, const cr_call_options *call, cr_error *err)
{
    return send_owned(c, "GET", cr_client_execution_name(c, execution, err), NULL, NULL, 1, call, 0, err);
}

cJSON *cr_client_list_executions(cr_client *c, const char *job, const cr_list_options *list,
                                 const cr_call_options *call, cr_error *err)
{
    char *jobname = cr_client_job_name(c, job && *job ? job : "-", err);
    char *path = jobname ? cr_asprintf("%s/executions", jobname) : NULL;
    free(jobname);
    cr_buf q = {0};
    query_list(&q, list);
    return send_owned(c, "GET", path, &q, NULL, 1, call, 0, err);
}

/* CancelExecution: POST name:cancel with validateOnly/etag in the body (body: "*"). */
cJSON *cr_client_cancel_execution(cr_client *c, const char *execution, const cr_write_options *write,
                                  const cr_call_options *call, cr_error *err)
{
    char *name = cr_client_execution_name(c, execution, err);
    char *path = name ? cr_asprintf("%s:cancel", name) : NULL;
    free(name);
    cJSON *body = cJSON_CreateObject();
    if (write && write->validate_only)
        cJSON_AddBoolToObject(body, "validateOnly", 1);
    if (write && write->etag)
        cJSON_AddStringToObject(body, "etag", write->etag);
    cJSON *out = send_owned(c, "POST", path, NULL, body, 0, call, 0, err);
    cJSON_Delete(body);
    return out;
}

cJSON *cr_client_delete_execution(cr_client *c, const char *execution, const cr_write_options *write,
                                  const cr_call_options *call, cr_error *err)
{
    cr_buf q = {0};
    query_write(&q, write);
    return send_owned(c, "DELETE", cr_client_execution_name(c, execution, err), &q, NULL, 0, call, 0, err);
}

/* ---- tasks ------------------------------------------------------------------- */

cJSON *cr_client_get_task(cr_client *c, const char *task, const cr_call_options *call, cr_error *err)
{
    return send_owned(c, "GET", cr_client_task_name(c, task, err), NULL, NULL, 1, call, 0, err);
}

cJSON *cr_client_list_tasks(cr_client *c, const char *execution, const cr_list_options *list,
                            const cr_call_options *call, cr_error *err)
{
    char *name = cr_client_execution_name(c, execution, err);
    char *path = name ? cr_asprintf("%s/tasks", name) : NULL;
    free(name);
    cr_buf q = {0};
    query_list(&q, list);
    return send_owned(c, "GET", path, &q, NULL, 1, call, 0, err);
}

/* ---- operations ------------------------------------------------------------ */

cJSON *cr_client_get_operation(cr_client *c, const char *operation, const cr_call_options *call, cr_error *err)
{
    return send_owned(c, "GET", cr_client_operation_name(c, operation, err), NULL, NULL, 1, call, 0, err);
}

cJSON *cr_client_list_operations(cr_client *c, const cr_list_options *list, const cr_call_options *call,
                                 cr_error *err)
{
    char *parent = cr_client_parent_name(c, err);
    char *path = parent ? cr_asprintf("%s/operations", parent) : NULL;
    free(parent);
    cr_buf q = {0};
    query_list(&q, list);
    return send_owned(c, "GET", path, &q, NULL, 1, call, 0, err);
}

/* WaitOperation holds the request open up to `timeout`: the exchange's own
** timeout must outlast it. Waiting changes nothing, so it retries as a read. */
cJSON *cr_client_wait_operation(cr_client *c, const char *operation, double timeout, const cr_call_options *call,
                                cr_error *err)
{
    char *name = cr_client_operation_name(c, operation, err);
    char *path = name ? cr_asprintf("%s:wait", name) : NULL;
    free(name);
    cJSON *body = cJSON_CreateObject();
    if (timeout > 0) {
        char buf[40];
        cJSON_AddStringToObject(body, "timeout", cr_duration_format((int64_t)(timeout * 1e9), buf, sizeof buf));
    }
    cJSON *out = send_owned(c, "POST", path, NULL, body, 1, call, timeout > 0 ? (long)(timeout * 1000.0) + 10000 : 0,
                            err);
    cJSON_Delete(body);
    return out;
}
