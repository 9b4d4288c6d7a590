/*
** blocking.c — the blocking facade of the API: every synchronous client
** function is its machine run to the end by the blocking driver on the
** calling thread, on the client's kept-alive handles. The protocol (api/)
** never calls a driver; this file calls the protocol.
*/
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "drivers/drivers.h"

/* Runs m on client c's kept-alive handles, trusting its CA bundle, paced by its pacer. */
static void run_for(cr_machine *m, cr_client *c)
{
    cr_easy_pool *pool = cr_client_driver_data(c, cr_easy_pool_new, cr_easy_pool_free);
    cr_easy_run(m, pool, cr_client_ca_file(c), cr_client_pacer(c));
}

cJSON *cr_client_perform(cr_client *c, const cr_request *r, const cr_call_options *opts, cr_error *err)
{
    cr_machine *m = cr_client_start(c, r, opts, err);
    if (!m)
        return NULL;
    run_for(m, c);
    cJSON *out = cr_machine_take_json(m, err);
    cr_machine_free(m);
    return out;
}

char *cr_client_perform_text(cr_client *c, const cr_request *r, const cr_call_options *opts, size_t *len,
                             char **execution, cr_error *err)
{
    *len = 0;
    *execution = NULL;
    cr_machine *m = cr_client_start_text(c, r, opts, err);
    if (!m)
        return NULL;
    run_for(m, c);
    char *text = cr_machine_take_answer(m, len, execution, err);
    cr_machine_free(m);
    return text;
}

/* ---- names: discovery first when project and region are not known ----------------- */

/* 0 when project and region are now known, -1 with err saying where it looked. */
static int discover_now(cr_client *c, cr_error *err)
{
    if (cr_client_has_location(c))
        return 0;
    cr_machine *d = cr_client_discovery(c, err);
    if (!d)
        return -1;
    run_for(d, c);
    cJSON *ok = cr_machine_take_json(d, err);
    cr_machine_free(d);
    cJSON_Delete(ok);
    return ok ? 0 : -1;
}

/* cr_client_resolve, discovering project and region first when a short name needs them
** (a malformed name is refused before: a typo never sends anyone looking for a project). */
static char *resolve_now(cr_client *c, const char *name, const char *kind, cr_error *err)
{
    char *out = NULL;
    int rc = cr_client_resolve(c, name, kind, &out, err);
    if (rc > 0 && discover_now(c, err) == 0)
        rc = cr_client_resolve(c, name, kind, &out, err);
    return rc == 0 ? out : NULL;
}

char *cr_client_job_name(cr_client *c, const char *job, cr_error *err)
{
    return resolve_now(c, job, "jobs", err);
}

char *cr_client_execution_name(cr_client *c, const char *execution, cr_error *err)
{
    return resolve_now(c, execution, "executions", err);
}

char *cr_client_task_name(cr_client *c, const char *task, cr_error *err)
{
    return resolve_now(c, task, "tasks", err);
}

char *cr_client_operation_name(cr_client *c, const char *operation, cr_error *err)
{
    return resolve_now(c, operation, "operations", err);
}

char *cr_client_parent_name(cr_client *c, cr_error *err)
{
    char *parent = NULL;
    int rc = cr_client_known_parent(c, &parent, err);
    if (rc > 0 && discover_now(c, err) == 0)
        rc = cr_client_known_parent(c, &parent, err);
    if (rc > 0)
        cr_error_set(err, "INVALID_ARGUMENT", 0, "no project or region");
    return rc == 0 ? parent : NULL;
}

/* ---- the methods: each one a cr_request of the method table, performed ------------- */

cJSON *cr_client_run_job(cr_client *c, const char *job, const cr_run_job_options *opts, const cr_call_options *call,
                         cr_error *err)
{
    cr_request r = {.method = CR_RUN_JOB, .name = job, .run = opts};
    return cr_client_perform(c, &r, call, err);
}

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

cJSON *cr_client_call(cr_client *c, const char *method, const char *path, const char *query, const cJSON *body,
                      const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_CALL, .http_method = method, .path = path, .query = query, .body = body};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_get_iam_policy(cr_client *c, const char *job, const cr_iam_options *iam, const cr_call_options *call,
                                cr_error *err)
{
    cr_request r = {.method = CR_GET_IAM_POLICY, .name = job, .iam = iam};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_set_iam_policy(cr_client *c, const char *job, const cJSON *policy, const cr_iam_options *iam,
                                const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_SET_IAM_POLICY, .name = job, .policy = policy, .iam = iam};
    return cr_client_perform(c, &r, call, err);
}

cJSON *cr_client_test_iam_permissions(cr_client *c, const char *job, const char *const *permissions, size_t n,
                                      const cr_call_options *call, cr_error *err)
{
    cr_request r = {.method = CR_TEST_IAM_PERMISSIONS, .name = job, .permissions = permissions, .npermissions = n};
    return cr_client_perform(c, &r, call, err);
}
