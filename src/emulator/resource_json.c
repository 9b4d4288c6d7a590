/*
** resource_json.c — output JSON of Jobs, Executions, Tasks and Operations,
** following ProtoJSON: default values are left out (0, false, ""), int64s
** are strings, Timestamps RFC 3339 UTC, Conditions as Cloud Run reports them.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudrun.h"
#include "resource_json.h"
#include "wire_values.h"

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
}

static void add_int(cJSON *o, const char *key, long long v)
{
    if (v)
        cJSON_AddNumberToObject(o, key, (double)v);
}

static void add_int64(cJSON *o, const char *key, long long v)
{
    char buf[32];
    if (v) {
        snprintf(buf, sizeof buf, "%lld", v);
        cJSON_AddStringToObject(o, key, buf);
    }
}

static void add_time(cJSON *o, const char *key, int64_t ns)
{
    char buf[48];
    if (ns)
        cJSON_AddStringToObject(o, key, emu_timestamp_format(ns, buf, sizeof buf));
}

static void add_copy(cJSON *o, const char *key, const cJSON *v)
{
    if (v && (v->child || !(cJSON_IsObject(v) || cJSON_IsArray(v))))
        cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, 1));
}

static void add_condition(cJSON *list, const char *type, const char *state, const char *message, int64_t when,
                          const char *reason)
{
    cJSON *c = cJSON_CreateObject();
    add_str(c, "type", type);
    add_str(c, "state", state);
    add_str(c, "message", message);
    add_time(c, "lastTransitionTime", when);
    if (reason && strcmp(state, "CONDITION_SUCCEEDED") != 0)
        add_str(c, "severity", "ERROR");
    add_str(c, "executionReason", reason);
    cJSON_AddItemToArray(list, c);
}

char *emu_file_uri(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(8 + n * 3 + 1);
    if (!out)
        return NULL;
    char *w = out + sprintf(out, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
            *w++ = (char)*p;
        else
            w += sprintf(w, "%%%02X", *p);
    }
    *w = '\0';
    return out;
}

char *emu_job_etag(const emu_job *job, char *buf, size_t size)
{
    emu_etag(buf, size, job->uid, job->generation, job->update_ns);
    return buf;
}

/* Links item as the first member of obj under key ("@type" and "name" go
** first, as Google writes them; cJSON keeps head->prev pointing at the tail). */
static void prepend(cJSON *obj, const char *key, cJSON *item)
{
    item->string = emu_strdup(key);
    item->next = obj->child;
    item->prev = obj->child ? obj->child->prev : item;
    if (obj->child)
        obj->child->prev = item;
    obj->child = item;
}

cJSON *emu_as_any(cJSON *resource, const char *type)
{
    prepend(resource, "@type", cJSON_CreateString(type));
    return resource;
}

cJSON *emu_done_operation(cJSON *resource, const char *type)
{
    cJSON *op = cJSON_CreateObject();
    cJSON_AddItemToObject(op, "metadata", emu_as_any(cJSON_Duplicate(resource, 1), type));
    cJSON_AddBoolToObject(op, "done", 1);
    cJSON_AddItemToObject(op, "response", emu_as_any(resource, type));
    return op;
}

static const char *completion_status(const emu_execution *e)
{
    switch (e->state) {
    case EMU_EXEC_SUCCEEDED:
        return "EXECUTION_SUCCEEDED";
    case EMU_EXEC_FAILED:
        return "EXECUTION_FAILED";
    case EMU_EXEC_CANCELLED:
        return "EXECUTION_CANCELLED";
    default:
        return "EXECUTION_RUNNING";
    }
}

/*
** The job's terminalCondition. Ready at once, unless an execution token
** started an execution: then "the Job will become ready when the execution is
** successfully started" (startExecutionToken) or "completed"
** (runExecutionToken), reconciling until then, and failed with the
** execution's message when it ends otherwise (or could not start at all).
** Whether the job is reconciling.
*/
static int job_ready(cJSON *o, const emu_job *job)
{
    const emu_job_token *t = &job->token;
    const emu_execution *e = t->exec;
    emu_exec_state state = e ? e->state : t->state;
    int64_t create = e ? e->create_ns : t->create_ns, start = e ? e->start_ns : t->start_ns;
    int64_t done = e ? e->completion_ns : t->completion_ns;
    const char *message = e ? e->fail_message : t->message;
    cJSON *tc = cJSON_AddObjectToObject(o, "terminalCondition");
    add_str(tc, "type", "Ready");
    if (!t->set || (t->run ? state == EMU_EXEC_SUCCEEDED : start != 0)) {
        add_str(tc, "state", "CONDITION_SUCCEEDED");
        add_time(tc, "lastTransitionTime", !t->set ? job->update_ns : t->run ? done : start);
        return 0;
    }
    if (state == EMU_EXEC_FAILED || state == EMU_EXEC_CANCELLED || state == EMU_EXEC_SUCCEEDED) {
        add_str(tc, "state", "CONDITION_FAILED");
        add_str(tc, "message", state == EMU_EXEC_CANCELLED ? "Cancelled by user." : message);
        add_time(tc, "lastTransitionTime", done);
        add_str(tc, "severity", "ERROR");
        return 0;
    }
    add_str(tc, "state", "CONDITION_RECONCILING");
    add_time(tc, "lastTransitionTime", create);
    return 1;
}

cJSON *emu_job_json(emu_store *s, const emu_job *job)
{
    cJSON *o = cJSON_CreateObject();
    char etag[48];
    add_str(o, "name", job->name);
    add_str(o, "uid", job->uid);
    add_int64(o, "generation", job->generation);
    for (const cJSON *f = job->spec->child; f; f = f->next)
        if (strcmp(f->string, "launchStage") != 0)
            cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, 1));
    add_time(o, "createTime", job->create_ns);
    add_time(o, "updateTime", job->update_ns);
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(job->spec, "launchStage");
    add_str(o, "launchStage", cJSON_IsString(stage) ? stage->valuestring : "GA");
    add_int64(o, "observedGeneration", job->generation);
    int reconciling = job_ready(o, job);
    add_int(o, "executionCount", job->execution_count);
    const emu_execution *e = emu_store_latest_execution(s, job);
    if (e) {
        cJSON *l = cJSON_AddObjectToObject(o, "latestCreatedExecution");
        add_str(l, "name", e->name);
        add_time(l, "createTime", e->create_ns);
        add_time(l, "completionTime", e->completion_ns);
        add_str(l, "completionStatus", completion_status(e));
    }
    if (reconciling)
        cJSON_AddBoolToObject(o, "reconciling", 1);
    add_str(o, "etag", emu_job_etag(job, etag, sizeof etag));
    return o;
}

/* The execution's terminal condition, the one clients watch. */
static void execution_completed(cJSON *conds, const emu_execution *e)
{
    char msg[256];
    switch (e->state) {
    case EMU_EXEC_PENDING:
        add_condition(conds, "Completed", "CONDITION_PENDING", NULL, e->create_ns, NULL);
        break;
    case EMU_EXEC_RUNNING:
        add_condition(conds, "Completed", "CONDITION_RECONCILING", e->cancel_requested ? "Cancelling." : NULL,
                      e->start_ns, e->cancel_requested ? "CANCELLING" : NULL);
        break;
    case EMU_EXEC_SUCCEEDED: {
        char d[40];
        int64_t took = e->completion_ns - (e->start_ns ? e->start_ns : e->create_ns);
        snprintf(msg, sizeof msg, "Execution completed successfully in %s.",
                 emu_duration_format(took / 1000000 * 1000000, d, sizeof d));
        add_condition(conds, "Completed", "CONDITION_SUCCEEDED", msg, e->completion_ns, NULL);
        break;
    }
    case EMU_EXEC_FAILED:
        add_condition(conds, "Completed", "CONDITION_FAILED", e->fail_message, e->completion_ns,
                      e->fail_code == 10 ? "NON_ZERO_EXIT_CODE" : NULL);
        break;
    case EMU_EXEC_CANCELLED:
        add_condition(conds, "Completed", "CONDITION_FAILED", "Cancelled by user.", e->completion_ns, "CANCELLED");
        break;
    }
}

cJSON *emu_execution_json(const emu_execution *e)
{
    cJSON *o = cJSON_CreateObject();
    char etag[48];
    add_str(o, "name", e->name);
    add_str(o, "uid", e->uid);
    add_int64(o, "generation", 1);
    add_copy(o, "labels", e->labels);
    add_copy(o, "annotations", e->annotations);
    add_time(o, "createTime", e->create_ns);
    add_time(o, "startTime", e->start_ns);
    add_time(o, "completionTime", e->completion_ns);
    add_time(o, "updateTime", e->update_ns);
    add_time(o, "deleteTime", e->delete_ns);
    add_str(o, "launchStage", "GA");
    add_str(o, "job", e->job);
    add_int(o, "parallelism", e->parallelism);
    add_int(o, "taskCount", e->task_count);
    add_copy(o, "template", e->template);
    if (!emu_execution_done(e))
        cJSON_AddBoolToObject(o, "reconciling", 1);
    cJSON *conds = cJSON_AddArrayToObject(o, "conditions");
    execution_completed(conds, e);
    if (e->start_ns)
        add_condition(conds, "Started", "CONDITION_SUCCEEDED", "Started deployed execution.", e->start_ns, NULL);
    else
        add_condition(conds, "Started", "CONDITION_PENDING", NULL, e->create_ns, NULL);
    add_int64(o, "observedGeneration", 1);
    add_int(o, "runningCount", e->running);
    add_int(o, "succeededCount", e->succeeded);
    add_int(o, "failedCount", e->failed);
    add_int(o, "cancelledCount", e->cancelled);
    add_int(o, "retriedCount", e->retried);
    char *uri = e->log_dir ? emu_file_uri(e->log_dir) : NULL; /* none without logs (the fuzz targets) */
    add_str(o, "logUri", uri);
    free(uri);
    emu_etag(etag, sizeof etag, e->uid, e->succeeded + e->failed + e->cancelled + e->retried, e->update_ns);
    add_str(o, "etag", etag);
    return o;
}

cJSON *emu_task_json(const emu_execution *e, const emu_task *t)
{
    cJSON *o = cJSON_CreateObject();
    char buf[64];
    char *name = emu_strfmt("%s/tasks/%s-task%d", e->name, e->id, t->index);
    add_str(o, "name", name);
    free(name);
    add_str(o, "uid", t->uid);
    add_int64(o, "generation", 1);
    add_copy(o, "labels", e->labels);
    add_copy(o, "annotations", e->annotations);
    add_time(o, "createTime", t->create_ns);
    add_time(o, "scheduledTime", t->scheduled_ns);
    add_time(o, "startTime", t->start_ns);
    add_time(o, "completionTime", t->completion_ns);
    add_time(o, "updateTime", t->update_ns);
    add_str(o, "job", e->job);
    add_str(o, "execution", e->id);
    /* TaskTemplate's fields (containers, maxRetries, timeout, ...) are all Task fields too. */
    for (const cJSON *f = e->template ? e->template->child : NULL; f; f = f->next)
        cJSON_AddItemToObject(o, f->string, cJSON_Duplicate(f, 1));
    int done = t->state == EMU_TASK_SUCCEEDED || t->state == EMU_TASK_FAILED || t->state == EMU_TASK_CANCELLED;
    if (!done)
        cJSON_AddBoolToObject(o, "reconciling", 1);
    cJSON *conds = cJSON_AddArrayToObject(o, "conditions");
    switch (t->state) {
    case EMU_TASK_PENDING:
        add_condition(conds, "Completed", "CONDITION_PENDING", NULL, t->create_ns, NULL);
        break;
    case EMU_TASK_RUNNING:
        add_condition(conds, "Completed", "CONDITION_RECONCILING", NULL, t->start_ns, NULL);
        break;
    case EMU_TASK_SUCCEEDED:
        add_condition(conds, "Completed", "CONDITION_SUCCEEDED", "Completed successfully.", t->completion_ns, NULL);
        break;
    case EMU_TASK_FAILED:
        add_condition(conds, "Completed", "CONDITION_FAILED", t->result_message, t->completion_ns,
                      t->result_code == 10 ? "NON_ZERO_EXIT_CODE" : NULL);
        break;
    case EMU_TASK_CANCELLED:
        add_condition(conds, "Completed", "CONDITION_FAILED", "Cancelled by user.", t->completion_ns, "CANCELLED");
        break;
    }
    if (t->start_ns)
        add_condition(conds, "Started", "CONDITION_SUCCEEDED", NULL, t->start_ns, NULL);
    add_int64(o, "observedGeneration", 1);
    add_int(o, "index", t->index);
    add_int(o, "retried", t->retried);
    if (t->has_result) {
        cJSON *r = cJSON_AddObjectToObject(o, "lastAttemptResult");
        if (t->term_signal)
            add_int(r, "termSignal", t->term_signal);
        else
            add_int(r, "exitCode", t->exit_code);
        if (t->result_code || t->result_message) {
            cJSON *st = cJSON_AddObjectToObject(r, "status");
            add_int(st, "code", t->result_code);
            add_str(st, "message", t->result_message);
        }
    }
    char *path = e->log_dir ? emu_strfmt("%s/task%d.log", e->log_dir, t->index) : NULL;
    char *uri = path ? emu_file_uri(path) : NULL;
    add_str(o, "logUri", uri);
    free(uri);
    free(path);
    emu_etag(buf, sizeof buf, t->uid, (int64_t)t->state * 100 + t->attempt, t->update_ns);
    add_str(o, "etag", buf);
    return o;
}

cJSON *emu_operation_json(const emu_operation *op)
{
    if (op->text) /* frozen: its final JSON, name included */
        return cr_json_parse(op->text, strlen(op->text), NULL);
    const emu_execution *e = op->execution;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "metadata", emu_as_any(emu_execution_json(e), EMU_TYPE_EXECUTION));
    if (emu_execution_done(e)) {
        cJSON_AddBoolToObject(o, "done", 1);
        if (op->run_job && e->state == EMU_EXEC_FAILED) {
            cJSON *err = cJSON_AddObjectToObject(o, "error");
            cJSON_AddNumberToObject(err, "code", e->fail_code ? e->fail_code : 2);
            add_str(err, "message", e->fail_message);
        } else {
            cJSON_AddItemToObject(o, "response", emu_as_any(emu_execution_json(e), EMU_TYPE_EXECUTION));
        }
    }
    return emu_named_operation(op->name, o);
}

cJSON *emu_named_operation(const char *name, cJSON *body)
{
    prepend(body, "name", cJSON_CreateString(name));
    return body;
}
