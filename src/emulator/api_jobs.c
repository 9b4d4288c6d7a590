/*
** api_jobs.c — the Jobs methods: create, get, list, update, delete and run,
** with Cloud Run's answers and errors; the one way an execution starts, for
** RunJob and for an execution token on create or update.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_call.h"
#include "fields.h"
#include "job_spec.h"
#include "lifecycle.h"
#include "resource_json.h"
#include "runner.h"
#include "runtime.h"
#include "wire_values.h"

/* Whether this emulator can run an execution with this TaskTemplate (the
** job's, after any overrides). 0, or -1 with err set. */
static int run_checks(emu_store *s, const emu_job *job, const cJSON *tt, emu_error *err)
{
    if (emu_fields_refusal(job->spec, tt, err) < 0) /* sidecars, and the fields the emulator refuses */
        return -1;
    char refusal[600];
    if (emu_runtime_refusal(s->runtime, tt, refusal, sizeof refusal)) { /* whether this emulator can run it */
        emu_error_set(err, "FAILED_PRECONDITION", "%s", refusal);
        return -1;
    }
    return 0;
}

/*
** The one way an execution of a job starts, for RunJob and for an execution
** token: run_checks, then the execution in the store, named JOB-TOKEN for a
** token, else by the store. Takes tt. NULL with err set.
*/
static emu_execution *start_execution(emu_store *s, emu_job *job, cJSON *tt, int task_count, const char *token,
                                      emu_error *err)
{
    if (run_checks(s, job, tt, err) < 0) {
        cJSON_Delete(tt);
        return NULL;
    }
    const char *why;
    emu_execution *e = emu_store_add_execution(s, job, tt, task_count, token, &why);
    if (!e)
        emu_error_set(err, "INTERNAL", "Cannot create the execution: %s.", why);
    return e;
}

/* ---- execution tokens ---------------------------------------------------------------------- */

/*
** startExecutionToken or runExecutionToken on CreateJob or UpdateJob starts an
** execution named JOB-TOKEN, as RunJob would with no overrides. The job holds
** the token that made its generation: sent again (Terraform sends it with every
** change), it starts nothing. A token the job does not hold whose execution
** still exists is ALREADY_EXISTS: Cloud Run drops a job's token once an
** execution starts any other way (RunJob, below), and a re-sent token then fails
** so ("Resource 'JOB-TOKEN' already exists", as observed in
** GoogleCloudPlatform/magic-modules#19060). Decided before anything changes.
*/
enum { TOKEN_NONE, TOKEN_HELD, TOKEN_START };

static int token_plan(call *c, const emu_job *job, const char *id, const cJSON *spec)
{
    int run, held_run;
    const char *token = emu_spec_token(spec, &run);
    const char *held = job ? emu_spec_token(job->spec, &held_run) : NULL;
    if (emu_job_token_check(spec, id, &c->err) < 0)
        return -1;
    if (!token)
        return TOKEN_NONE;
    if (held && strcmp(held, token) == 0)
        return TOKEN_HELD;
    char exec_id[160];
    snprintf(exec_id, sizeof exec_id, "%s-%s", id, token); /* checked: at most 63 characters */
    if (emu_store_execution_id_taken(c->s, c->rt.project, c->rt.location, exec_id)) {
        emu_error_set(&c->err, "ALREADY_EXISTS", "Resource '%s' already exists.", exec_id);
        return -1;
    }
    return TOKEN_START;
}

/*
** The token's execution, once the job has its new spec. The job's
** terminalCondition follows it (resource_json.c); one that cannot start (a
** refusal RunJob would answer) fails that condition with the refusal's
** message, so it is never silently dropped.
*/
static void token_start(call *c, emu_job *job)
{
    emu_job_token_clear(job);
    const char *token = emu_spec_token(job->spec, &job->token.run);
    job->token.set = 1;
    emu_error why = {0};
    int task_count;
    cJSON *tt = emu_overrides_apply(job->spec, NULL, job->id, &task_count, &why);
    emu_execution *e = tt ? start_execution(c->s, job, tt, task_count, token, &why) : NULL;
    if (!e) {
        job->token.state = EMU_EXEC_FAILED;
        job->token.create_ns = job->token.completion_ns = emu_now_ns();
        job->token.message = emu_strdup(why.message);
        return;
    }
    job->token.exec = e;
    emu_runner_wake(c->s);
}

/* A job just made (CreateJob, or UpdateJob with allowMissing): its operation, done at once. */
static cJSON *job_created(call *c, emu_job *job, int plan)
{
    if (call_query_bool(c, "validateOnly")) {
        cJSON *json = emu_job_json(c->s, job);
        emu_store_remove_job(c->s, job);
        return call_validated_operation(c, json, EMU_TYPE_JOB);
    }
    if (plan == TOKEN_START)
        token_start(c, job);
    return call_done_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
}

/* ---- the methods --------------------------------------------------------------------------- */

cJSON *api_create_job(call *c)
{
    const char *id = call_query(c, "jobId");
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
    int plan = spec ? token_plan(c, NULL, id, spec) : -1;
    if (plan < 0) {
        cJSON_Delete(spec);
        return NULL;
    }
    emu_job *job = emu_store_add_job(c->s, c->rt.project, c->rt.location, id, spec);
    if (!job) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    return job_created(c, job, plan);
}

cJSON *api_get_job(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    return job ? emu_job_json(c->s, job) : NULL;
}

cJSON *api_list_jobs(call *c)
{
    int size;
    long long token;
    if (call_paging(c, &size, &token) < 0)
        return NULL;
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "jobs");
    int count = 0;
    long long last = 0;
    for (emu_job *j = c->s->jobs_tail; j; j = j->prev) { /* newest first */
        if (!call_same_parent(c, j->project, j->location) || (token >= 0 && j->seq >= token))
            continue;
        if (count == size) {
            call_add_token(page, last);
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

cJSON *api_update_job(call *c, const char *id)
{
    emu_job *job = emu_store_find_job(c->s, c->rt.project, c->rt.location, id);
    if (!job && !call_query_bool(c, "allowMissing"))
        return call_not_found(c, id, "JOB");
    /* the Job's etag, when sent, names the version the change was made from */
    char etag[48];
    if (job && !call_etag_matches(c, call_body_string(c, "etag"), emu_job_etag(job, etag, sizeof etag), "job"))
        return NULL;
    cJSON *spec = emu_job_spec_from_json(c->body, &c->err);
    if (!spec)
        return NULL;
    if (!job && !emu_job_id_valid(id)) {
        cJSON_Delete(spec);
        emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid job id '%s'.", id);
        return NULL;
    }
    int plan = token_plan(c, job, id, spec);
    if (plan < 0) {
        cJSON_Delete(spec);
        return NULL;
    }
    if (!job) {
        job = emu_store_add_job(c->s, c->rt.project, c->rt.location, id, spec);
        if (!job) {
            emu_error_set(&c->err, "INTERNAL", "out of memory");
            return NULL;
        }
        return job_created(c, job, plan);
    }
    if (call_query_bool(c, "validateOnly")) {
        cJSON_Delete(spec);
        return call_validated_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
    }
    cJSON_Delete(job->spec);
    job->spec = spec;
    job->generation++;
    job->update_ns = emu_now_ns();
    if (plan == TOKEN_START)
        token_start(c, job);
    else if (plan == TOKEN_NONE) /* a generation without a token: ready as it is */
        emu_job_token_clear(job);
    return call_done_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
}

cJSON *api_delete_job(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    char etag[48];
    if (!job || !call_etag_matches(c, call_query(c, "etag"), emu_job_etag(job, etag, sizeof etag), "job"))
        return NULL;
    cJSON *json = emu_job_json(c->s, job);
    if (call_query_bool(c, "validateOnly"))
        return call_validated_operation(c, json, EMU_TYPE_JOB);
    char ts[48];
    cJSON_AddStringToObject(json, "deleteTime", emu_timestamp_format(emu_now_ns(), ts, sizeof ts));
    /* its executions go with it, running ones cancelled (lifecycle.c) */
    while (job->exec_head)
        emu_execution_delete(c->s, job->exec_head, NULL);
    emu_store_remove_job(c->s, job);
    return call_done_operation(c, json, EMU_TYPE_JOB);
}

cJSON *api_run_job(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    char etag[48];
    if (!job || !call_etag_matches(c, call_body_string(c, "etag"), emu_job_etag(job, etag, sizeof etag), "job"))
        return NULL;
    int task_count;
    cJSON *tt = emu_overrides_apply(job->spec, c->body ? cJSON_GetObjectItemCaseSensitive(c->body, "overrides") : NULL,
                                    job->id, &task_count, &c->err);
    if (!tt) /* first: an override that names no container of the job */
        return NULL;
    emu_execution *e = start_execution(c->s, job, tt, task_count, NULL, &c->err); /* run_checks first */
    if (!e)
        return NULL;
    if (call_body_bool(c, "validateOnly")) {
        /* Nothing starts; the operation is finished so that a waiting client returns. */
        cJSON *json = emu_execution_json(e);
        emu_store_free_execution(c->s, e, 1);
        job->execution_count--;
        return call_validated_operation(c, json, EMU_TYPE_EXECUTION);
    }
    emu_operation *op = emu_store_add_operation(c->s, c->rt.project, c->rt.location, NULL, e);
    if (!op) {
        emu_store_free_execution(c->s, e, 1);
        job->execution_count--;
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    op->run_job = 1;
    /* Cloud Run drops the job's execution token once an execution starts any other way */
    cJSON_DeleteItemFromObjectCaseSensitive(job->spec, "startExecutionToken");
    cJSON_DeleteItemFromObjectCaseSensitive(job->spec, "runExecutionToken");
    emu_runner_wake(c->s);
    return emu_operation_json(op); /* rendered before the runner can move: the fresh, pending state */
}
