/*
** run_job.c — the RunJob request as data: the URL and the RunJobRequest JSON
** body with its per-execution overrides (v2 REST field names live here).
*/
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/util.h"

/*
** Only what the caller set is sent: the server merges env, replaces args and
** treats an absent taskCount/timeout as "use the job's". A container override
** is sent when any container-level field is set.
*/
static cJSON *run_job_body(const cr_run_job_options *o)
{
    cJSON *body = cJSON_CreateObject();
    if (!body || !o)
        return body;
    if (o->validate_only)
        cJSON_AddBoolToObject(body, "validateOnly", 1);
    if (o->etag)
        cJSON_AddStringToObject(body, "etag", o->etag);

    int has_container = o->has_args || o->nenv > 0 || o->clear_args || o->container;
    int has_overrides = has_container || o->task_count > 0 || o->timeout_nanos > 0;
    if (!has_overrides)
        return body;
    cJSON *ov = cJSON_AddObjectToObject(body, "overrides");
    if (has_container) {
        cJSON *list = cJSON_AddArrayToObject(ov, "containerOverrides");
        cJSON *co = cJSON_CreateObject();
        cJSON_AddItemToArray(list, co);
        if (o->container)
            cJSON_AddStringToObject(co, "name", o->container);
        if (o->has_args) {
            cJSON *args = cJSON_AddArrayToObject(co, "args");
            for (size_t i = 0; i < o->nargs; i++)
                cJSON_AddItemToArray(args, cJSON_CreateString(o->args[i]));
        }
        if (o->nenv > 0) {
            cJSON *env = cJSON_AddArrayToObject(co, "env");
            for (size_t i = 0; i < o->nenv; i++) {
                cJSON *var = cJSON_CreateObject();
                cJSON_AddStringToObject(var, "name", o->env[i].name);
                cJSON_AddStringToObject(var, "value", o->env[i].value ? o->env[i].value : "");
                cJSON_AddItemToArray(env, var);
            }
        }
        if (o->clear_args)
            cJSON_AddBoolToObject(co, "clearArgs", 1);
    }
    if (o->task_count > 0)
        cJSON_AddNumberToObject(ov, "taskCount", o->task_count);
    if (o->timeout_nanos > 0) {
        char buf[40];
        cJSON_AddStringToObject(ov, "timeout", cr_duration_format(o->timeout_nanos, buf, sizeof buf));
    }
    return body;
}

char *cr_api_run_job_body(const cr_run_job_options *opts, cr_error *err)
{
    if (opts) {
        for (size_t i = 0; i < opts->nargs; i++)
            if (!opts->args[i]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "args[%zu] is NULL", i + 1);
                return NULL;
            }
        for (size_t i = 0; i < opts->nenv; i++)
            if (!opts->env[i].name || !opts->env[i].name[0]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "env[%zu] has no name", i + 1);
                return NULL;
            }
        if (opts->task_count < 0) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "task_count must not be negative");
            return NULL;
        }
    }
    cJSON *body = run_job_body(opts);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building RunJob");
    return text;
}

int cr_api_build_run_job(const char *endpoint, const char *job_name, const cr_run_job_options *opts,
                         cr_http_request *req, cr_error *err)
{
    memset(req, 0, sizeof *req);
    char *text = cr_api_run_job_body(opts, err);
    if (!text)
        return -1;
    char *path = cr_asprintf("%s:run", job_name);
    int rc = path ? cr_api_build_request(endpoint, "POST", path, NULL, text, req, err) : -1;
    if (!path)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building RunJob");
    free(path);
    cJSON_free(text);
    return rc;
}

/* The Execution name lives in the Operation's metadata from the first answer on. */
const char *cr_api_operation_execution(const cJSON *op)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(op, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    if (cJSON_IsString(name) && strstr(name->valuestring, "/executions/"))
        return name->valuestring;
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(op, "response");
    name = cJSON_GetObjectItemCaseSensitive(resp, "name");
    if (cJSON_IsString(name) && strstr(name->valuestring, "/executions/"))
        return name->valuestring;
    return NULL;
}
