/*
** api_jobs.c — the Jobs methods: create, get, list, update, delete and run,
** with Cloud Run's answers and errors.
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
    if (!spec)
        return NULL;
    emu_job *job = emu_store_add_job(c->s, c->rt.project, c->rt.location, id, spec);
    if (!job) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    cJSON *json = emu_job_json(c->s, job);
    if (call_query_bool(c, "validateOnly")) {
        emu_store_remove_job(c->s, job);
        return call_validated_operation(c, json, EMU_TYPE_JOB);
    }
    return call_done_operation(c, json, EMU_TYPE_JOB);
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
        if (call_query_bool(c, "validateOnly")) {
            emu_store_remove_job(c->s, job);
            return call_validated_operation(c, json, EMU_TYPE_JOB);
        }
        return call_done_operation(c, json, EMU_TYPE_JOB);
    }
    if (call_query_bool(c, "validateOnly")) {
        cJSON_Delete(spec);
        return call_validated_operation(c, emu_job_json(c->s, job), EMU_TYPE_JOB);
    }
    cJSON_Delete(job->spec);
    job->spec = spec;
    job->generation++;
    job->update_ns = emu_now_ns();
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
    if (emu_fields_refusal(job->spec, tt, &c->err) < 0) { /* sidecars, and the fields the emulator refuses */
        cJSON_Delete(tt);
        return NULL;
    }
    char refusal[600];
    if (emu_runtime_refusal(c->s->runtime, tt, refusal, sizeof refusal)) { /* whether this emulator can run it */
        emu_error_set(&c->err, "FAILED_PRECONDITION", "%s", refusal);
        cJSON_Delete(tt);
        return NULL;
    }
    const char *why;
    emu_execution *e = emu_store_add_execution(c->s, job, tt, task_count, &why);
    if (!e) {
        emu_error_set(&c->err, "INTERNAL", "Cannot create the execution: %s.", why);
        return NULL;
    }
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
    emu_runner_wake(c->s);
    return emu_operation_json(op); /* rendered before the runner can move: the fresh, pending state */
}
