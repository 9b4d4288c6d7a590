/*
** methods.c — the synchronous Cloud Run Admin API v2 calls: each one a
** cr_request (what the method is and takes; how it becomes HTTP is call.c's)
** run by the blocking driver through cr_client_perform.
*/
#include <string.h>

#include "api/call.h"

cJSON *cr_client_run_job(cr_client *c, const char *job, const cr_run_job_options *opts, const cr_call_options *call,
                         cr_error *err)
{
    cr_request r = {.method = CR_RUN_JOB, .name = job, .run = opts};
    return cr_client_perform(c, &r, call, err);
}

/* ---- jobs ---------------------------------------------------------------- */

cJSON *cr_client_get_job(cr_client *c, const char *job, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_GET_JOB, .name = job};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_list_jobs(cr_client *c, const cr_list_options *list, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_LIST_JOBS, .list = list};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_create_job(cr_client *c, const char *job, const cJSON *spec, const cr_write_options *write,
                            const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_CREATE_JOB, .name = job, .spec = spec, .write = write};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_update_job(cr_client *c, const char *job, const cJSON *spec, const cr_write_options *write,
                            const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_UPDATE_JOB, .name = job, .spec = spec, .write = write};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_delete_job(cr_client *c, const char *job, const cr_write_options *write, const cr_call_options *call,
                            cr_error *err)
{
    cr_request r = {.method = CR_DELETE_JOB, .name = job, .write = write};
    return cr_client_perform(c, &r, call, err);
}

/* ---- executions ------------------------------------------------------------ */

cJSON *cr_client_get_execution(cr_client *c, const char *execution, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_GET_EXECUTION, .name = execution};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_list_executions(cr_client *c, const char *job, const cr_list_options *list,
                                 const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_LIST_EXECUTIONS, .name = job, .list = list};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_cancel_execution(cr_client *c, const char *execution, const cr_write_options *write,
                                  const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_CANCEL_EXECUTION, .name = execution, .write = write};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_delete_execution(cr_client *c, const char *execution, const cr_write_options *write,
                                  const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_DELETE_EXECUTION, .name = execution, .write = write};
    return cr_client_perform(c, &r, call, err);
}

/* ---- tasks ------------------------------------------------------------------- */

cJSON *cr_client_get_task(cr_client *c, const char *task, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_GET_TASK, .name = task};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_list_tasks(cr_client *c, const char *execution, const cr_list_options *list,
                            const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_LIST_TASKS, .name = execution, .list = list};
    return cr_client_perform(c, &r, call, err);
}

/* ---- operations ------------------------------------------------------------ */

cJSON *cr_client_get_operation(cr_client *c, const char *operation, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_GET_OPERATION, .name = operation};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_list_operations(cr_client *c, const cr_list_options *list, const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_LIST_OPERATIONS, .list = list};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_wait_operation(cr_client *c, const char *operation, double timeout, const cr_call_options *call,
                                cr_error *err)
{
    cr_request r = {.method = CR_WAIT_OPERATION, .name = operation, .wait_timeout = timeout};
    return cr_client_perform(c, &r, call, err);
}

/* ---- any call ------------------------------------------------------------------ */

cJSON *cr_client_call(cr_client *c, const char *method, const char *path, const char *query, const cJSON *body,
                      const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_CALL, .http_method = method, .path = path, .query = query, .body = body};
    return cr_client_perform(c, &r, call, err);
}
