/*
** methods.c — the method table: each Cloud Run Admin API v2 method described
** once (HTTP method, path shape, read or change, arguments, options with
** their types and ranges, encoder, answer), and the one place where an
** option's value is checked against its description (cr_args_set_*). The C
** functions, the Lua binding and the nginx driver all go through here.
*/
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/call.h"

#define AT(field) ((long)offsetof(cr_args, field))
#define NONE (-1L)

/* Each option once; the lists below pick from them. */
#define OPT_RETRY                                                                                                      \
    {                                                                                                                  \
        "retry", CR_OPT_RETRY, AT(call), NONE, NONE, 0, 0,                                                             \
            "a table {attempts=, initial=, max=, multiplier=, deadline=}"                                              \
    }
#define OPT_TIMEOUT                                                                                                    \
    {                                                                                                                  \
        "timeout", CR_OPT_SECONDS, AT(call.timeout), NONE, NONE, 0, 0, "a positive number of seconds"                  \
    }
#define OPT_VALIDATE(f)                                                                                                \
    {                                                                                                                  \
        "validate_only", CR_OPT_BOOL, AT(f.validate_only), NONE, NONE, 0, 0, "a boolean"                               \
    }
#define OPT_ETAG(f)                                                                                                    \
    {                                                                                                                  \
        "etag", CR_OPT_STRING, AT(f.etag), NONE, NONE, 0, 0, "a string"                                                \
    }
#define OPT_PAGING                                                                                                     \
    {"page_size", CR_OPT_COUNT, AT(list.page_size), NONE, NONE, 0, 1000000, "a non-negative integer up to 1000000"},   \
    {                                                                                                                  \
        "page_token", CR_OPT_STRING, AT(list.page_token), NONE, NONE, 0, 0, "a string"                                 \
    }
#define OPT_END                                                                                                        \
    {                                                                                                                  \
        NULL, 0, 0, 0, 0, 0, 0, NULL                                                                                   \
    }

static const cr_option run_job_options[] = {
    {"args", CR_OPT_STRINGS, AT(run.args), AT(run.nargs), AT(run.has_args), 0, 0, "a list of strings"},
    {"env", CR_OPT_ENV, AT(run.env), AT(run.nenv), NONE, 0, 0,
     "a table of names to strings or numbers, or a list of {name=, value=}"},
    {"clear_args", CR_OPT_BOOL, AT(run.clear_args), NONE, NONE, 0, 0, "a boolean"},
    {"container", CR_OPT_STRING, AT(run.container), NONE, NONE, 0, 0, "a string"},
    {"containers", CR_OPT_CONTAINERS, AT(run.containers), AT(run.ncontainers), NONE, 0, 0,
     "a table of container names to {args=, env=, clear_args=}"},
    {"task_count", CR_OPT_COUNT, AT(run.task_count), NONE, NONE, 0, 10000, "a non-negative integer up to 10000"},
    {"timeout", CR_OPT_DURATION, AT(run.timeout_nanos), NONE, NONE, 0, 0,
     "seconds or a duration like \"600s\" or \"10m\""},
    OPT_VALIDATE(run),
    OPT_ETAG(run),
    OPT_RETRY,
    OPT_END,
};

static const cr_option call_only[] = {OPT_RETRY, OPT_TIMEOUT, OPT_END};

static const cr_option list_options[] = {
    OPT_PAGING, {"show_deleted", CR_OPT_BOOL, AT(list.show_deleted), NONE, NONE, 0, 0, "a boolean"},
    OPT_RETRY,  OPT_TIMEOUT,
    OPT_END,
};

static const cr_option operation_list_options[] = {
    OPT_PAGING, {"filter", CR_OPT_STRING, AT(list.filter), NONE, NONE, 0, 0, "a string"}, OPT_RETRY, OPT_TIMEOUT,
    OPT_END,
};

static const cr_option write_options[] = {OPT_VALIDATE(write), OPT_ETAG(write), OPT_RETRY, OPT_TIMEOUT, OPT_END};
static const cr_option create_options[] = {OPT_VALIDATE(write), OPT_RETRY, OPT_TIMEOUT, OPT_END};
static const cr_option update_options[] = {
    OPT_VALIDATE(write),
    {"allow_missing", CR_OPT_BOOL, AT(write.allow_missing), NONE, NONE, 0, 0, "a boolean"},
    OPT_RETRY,
    OPT_TIMEOUT,
    OPT_END,
};

static const cr_option call_options[] = {
    {"base", CR_OPT_STRING, AT(r.base), NONE, NONE, 0, 0, "a string"},
    {"read", CR_OPT_BOOL, AT(r.read), NONE, NONE, 0, 0, "a boolean"},
    OPT_RETRY,
    OPT_TIMEOUT,
    OPT_END,
};

static const cr_option get_iam_options[] = {
    {"requested_policy_version", CR_OPT_COUNT, AT(iam.requested_policy_version), NONE, NONE, 1, 3, "1 or 3"},
    OPT_RETRY,
    OPT_TIMEOUT,
    OPT_END,
};

static const cr_option retry_options[] = {
    {"attempts", CR_OPT_COUNT, AT(retry.attempts), NONE, NONE, 1, 100, "an integer from 1 to 100"},
    {"initial", CR_OPT_SECONDS, AT(retry.initial), NONE, NONE, 0, 0, "a positive number of seconds"},
    {"max", CR_OPT_SECONDS, AT(retry.max), NONE, NONE, 0, 0, "a positive number of seconds"},
    {"multiplier", CR_OPT_NUMBER, AT(retry.multiplier), NONE, NONE, 1, 0, "a number >= 1"},
    {"deadline", CR_OPT_SECONDS, AT(retry.deadline), NONE, NONE, 0, 0, "a positive number of seconds"},
    OPT_END,
};

/* clang-format off */
static const cr_method_def methods[] = {
    {"run_job", CR_RUN_JOB, "POST", "jobs", ":run", 0, CR_TAKES_NAME, run_job_options, CR_ANSWER_RUN,
     cr_encode_run_job, NULL},
    {"get_job", CR_GET_JOB, "GET", "jobs", "", 1, CR_TAKES_NAME, call_only, 0, NULL, NULL},
    {"list_jobs", CR_LIST_JOBS, "GET", NULL, "/jobs", 1, CR_TAKES_OPTS, list_options, 0, cr_encode_list, NULL},
    {"create_job", CR_CREATE_JOB, "POST", "jobs", "", 0, CR_TAKES_NAME_SPEC, create_options, 0,
     cr_encode_create_job, cr_resolved_create_job},
    {"update_job", CR_UPDATE_JOB, "PATCH", "jobs", "", 0, CR_TAKES_NAME_SPEC, update_options, 0,
     cr_encode_update_job, cr_resolved_update_job},
    {"delete_job", CR_DELETE_JOB, "DELETE", "jobs", "", 0, CR_TAKES_NAME, write_options, 0, cr_encode_delete, NULL},
    {"get_execution", CR_GET_EXECUTION, "GET", "executions", "", 1, CR_TAKES_NAME, call_only, 0, NULL, NULL},
    {"list_executions", CR_LIST_EXECUTIONS, "GET", "jobs", "/executions", 1, CR_TAKES_OPT_NAME, list_options, 0,
     cr_encode_list, NULL},
    {"cancel_execution", CR_CANCEL_EXECUTION, "POST", "executions", ":cancel", 0, CR_TAKES_NAME, write_options, 0,
     cr_encode_cancel, NULL},
    {"delete_execution", CR_DELETE_EXECUTION, "DELETE", "executions", "", 0, CR_TAKES_NAME, write_options, 0,
     cr_encode_delete, NULL},
    {"get_task", CR_GET_TASK, "GET", "tasks", "", 1, CR_TAKES_NAME, call_only, 0, NULL, NULL},
    {"list_tasks", CR_LIST_TASKS, "GET", "executions", "/tasks", 1, CR_TAKES_NAME, list_options, 0,
     cr_encode_list, NULL},
    {"get_operation", CR_GET_OPERATION, "GET", "operations", "", 1, CR_TAKES_NAME, call_only, 0, NULL, NULL},
    {"list_operations", CR_LIST_OPERATIONS, "GET", NULL, "/operations", 1, CR_TAKES_OPTS, operation_list_options, 0,
     cr_encode_list, NULL},
    /* WaitOperation changes nothing: it retries as a read */
    {"wait_operation", CR_WAIT_OPERATION, "POST", "operations", ":wait", 1, CR_TAKES_WAIT, call_only, 0,
     cr_encode_wait, NULL},
    {"call", CR_CALL, NULL, NULL, NULL, 0, CR_TAKES_CALL, call_options, 0, cr_encode_call, NULL},
    {"get_iam_policy", CR_GET_IAM_POLICY, "GET", "jobs", ":getIamPolicy", 1, CR_TAKES_NAME, get_iam_options, 0,
     cr_encode_get_iam_policy, NULL},
    {"set_iam_policy", CR_SET_IAM_POLICY, "POST", "jobs", ":setIamPolicy", 0, CR_TAKES_NAME_POLICY, call_only, 0,
     cr_encode_set_iam_policy, NULL},
    /* TestIamPermissions changes nothing: it retries as a read */
    {"test_iam_permissions", CR_TEST_IAM_PERMISSIONS, "POST", "jobs", ":testIamPermissions", 1, CR_TAKES_NAME_LIST,
     call_only, 0, cr_encode_test_iam_permissions, NULL},
    {NULL, 0, NULL, NULL, NULL, 0, 0, NULL, 0, NULL, NULL},
};
/* clang-format on */

const cr_method_def *cr_methods(void)
{
    return methods;
}

const cr_method_def *cr_method_of(cr_method method)
{
    for (const cr_method_def *d = methods; d->name; d++)
        if (d->method == method)
            return d;
    return NULL;
}

const cr_method_def *cr_method_find(const char *name)
{
    for (const cr_method_def *d = methods; name && d->name; d++)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

const cr_option *cr_option_find(const cr_option *options, const char *name)
{
    for (const cr_option *o = options; o && name && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

const char *cr_kind_noun(const char *kind)
{
    return !kind                             ? "parent"
           : strcmp(kind, "jobs") == 0       ? "job"
           : strcmp(kind, "executions") == 0 ? "execution"
           : strcmp(kind, "tasks") == 0      ? "task"
                                             : "operation";
}

const cr_option *cr_retry_options(void)
{
    return retry_options;
}

void cr_args_init(cr_args *a, const cr_method_def *d)
{
    memset(a, 0, sizeof *a);
    a->r.method = d ? d->method : 0;
    a->r.run = &a->run;
    a->r.list = &a->list;
    a->r.write = &a->write;
    a->r.iam = &a->iam;
}

/* ---- setting an option, checked -------------------------------------------------- */

#define FIELD(a, o, type) ((type *)(void *)((char *)(a) + (o)->at))

static int bad(const cr_option *o, cr_error *err, const char *got)
{
    cr_error_set(err, "INVALID_ARGUMENT", 0, "option '%s' must be %s (got %s)", o->name, o->expects, got);
    return -1;
}

/* A retry field set means the call has a retry policy of its own. */
static void touched(cr_args *a, const cr_option *o)
{
    if (o->at >= AT(retry) && o->at < AT(retry) + (long)sizeof(cr_retry))
        a->call.retry = &a->retry;
}

/*
** RunJob overrides one container with args, env, clear_args and container, or
** several with containers: never both. Set in either order, the option that
** makes both is refused and undone (`before`: the RunJob options before it).
*/
static int one_form(cr_args *a, const cr_option *o, const cr_run_job_options *before, cr_error *err)
{
    if (o->at < AT(run) || o->at >= AT(run) + (long)sizeof(cr_run_job_options))
        return 0;
    const char *single = cr_api_run_job_single_option(&a->run);
    if (!single || a->run.ncontainers == 0)
        return 0;
    a->run = *before;
    cr_error_set(err, "INVALID_ARGUMENT", 0, CR_RUN_JOB_BOTH_FORMS, single);
    return -1;
}

int cr_args_set_text(cr_args *a, const cr_option *o, const char *text, cr_error *err)
{
    if (o->type == CR_OPT_STRING) {
        cr_run_job_options before = a->run;
        *FIELD(a, o, const char *) = text;
        return one_form(a, o, &before, err);
    }
    if (o->type == CR_OPT_DURATION) {
        int64_t ns;
        if (!text || cr_duration_parse(text, &ns) < 0 || ns <= 0) {
            char got[96];
            snprintf(got, sizeof got, "\"%.80s\"", text ? text : "");
            return bad(o, err, got);
        }
        *FIELD(a, o, int64_t) = ns;
        return 0;
    }
    return bad(o, err, "a string");
}

int cr_args_set_number(cr_args *a, const cr_option *o, double v, cr_error *err)
{
    char got[48];
    snprintf(got, sizeof got, "%.14g", v);
    switch (o->type) {
    case CR_OPT_COUNT:
        if (!(v >= o->min && v <= o->max) || v != floor(v))
            return bad(o, err, got);
        *FIELD(a, o, int32_t) = (int32_t)v;
        break;
    case CR_OPT_NUMBER:
        if (!(v >= o->min) || isinf(v))
            return bad(o, err, got);
        *FIELD(a, o, double) = v;
        break;
    case CR_OPT_SECONDS:
        /* past a week is refused by the call (INVALID_ARGUMENT), as the C API's callers see it */
        if (!(v > 0))
            return bad(o, err, got);
        *FIELD(a, o, double) = v;
        break;
    case CR_OPT_DURATION:
        /* at most a century (int64_t nanoseconds hold 292 years) */
        if (!(v > 0 && v <= 3153600000.0))
            return bad(o, err, got);
        *FIELD(a, o, int64_t) = (int64_t)(v * 1e9 + 0.5);
        break;
    default:
        return bad(o, err, "a number");
    }
    touched(a, o);
    return 0;
}

int cr_args_set_bool(cr_args *a, const cr_option *o, int value, cr_error *err)
{
    if (o->type == CR_OPT_RETRY) { /* the call has a policy of its own (its fields: cr_retry_options) */
        a->call.retry = value ? &a->retry : NULL;
        return 0;
    }
    if (o->type != CR_OPT_BOOL)
        return bad(o, err, "a boolean");
    cr_run_job_options before = a->run;
    *FIELD(a, o, int) = value != 0;
    return one_form(a, o, &before, err);
}

int cr_args_set_strings(cr_args *a, const cr_option *o, const char *const *items, size_t n, cr_error *err)
{
    if (o->type != CR_OPT_STRINGS)
        return bad(o, err, "a list");
    for (size_t i = 0; i < n; i++)
        if (!items[i]) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "option '%s': element %zu must be a string", o->name, i + 1);
            return -1;
        }
    cr_run_job_options before = a->run;
    *FIELD(a, o, const char *const *) = items;
    *(size_t *)(void *)((char *)a + o->at_count) = n;
    *(int *)(void *)((char *)a + o->at_set) = 1;
    return one_form(a, o, &before, err);
}

int cr_args_set_env(cr_args *a, const cr_option *o, const cr_env_var *vars, size_t n, cr_error *err)
{
    if (o->type != CR_OPT_ENV)
        return bad(o, err, "a table");
    for (size_t i = 0; i < n; i++)
        if (!vars[i].name || !*vars[i].name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "option '%s': element %zu needs a string 'name'", o->name, i + 1);
            return -1;
        }
    cr_run_job_options before = a->run;
    *FIELD(a, o, const cr_env_var *) = vars;
    *(size_t *)(void *)((char *)a + o->at_count) = n;
    return one_form(a, o, &before, err);
}

int cr_args_set_containers(cr_args *a, const cr_option *o, const cr_container_override *items, size_t n, cr_error *err)
{
    if (o->type != CR_OPT_CONTAINERS)
        return bad(o, err, "a table");
    if (cr_api_run_job_check_containers(items, n, err) < 0)
        return -1;
    cr_run_job_options before = a->run;
    *FIELD(a, o, const cr_container_override *) = items;
    *(size_t *)(void *)((char *)a + o->at_count) = n;
    return one_form(a, o, &before, err);
}

/* ---- reading answers ------------------------------------------------------------- */

static int names_execution(const char *name)
{
    return name && strstr(name, "/executions/") != NULL;
}

const char *cr_execution_name_pick(const char *execution, const char *metadata_name, const char *response_name,
                                   const char *own_name)
{
    if (execution && *execution)
        return execution;
    return names_execution(metadata_name)   ? metadata_name
           : names_execution(response_name) ? response_name
           : names_execution(own_name)      ? own_name
                                            : NULL;
}
