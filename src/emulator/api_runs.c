/*
** api_runs.c — what running a job makes: the Executions methods (get, list,
** cancel, delete), the Tasks methods (get, list, "-" for every execution)
** and the Operations methods (get, list, wait, delete).
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_call.h"
#include "job_spec.h"
#include "lifecycle.h"
#include "resource_json.h"
#include "wire_values.h"

cJSON *api_get_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = call_find_execution(c, job, id);
    return e ? emu_execution_json(e) : NULL;
}

cJSON *api_list_executions(call *c, const char *job)
{
    int size;
    long long token;
    emu_job *one = NULL;
    if (strcmp(job, "-") != 0 && !(one = call_find_job(c, job)))
        return NULL;
    if (call_paging(c, &size, &token) < 0)
        return NULL;
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "executions");
    int count = 0;
    long long last = 0;
    /* newest first: one job's own list, or every visible execution */
    for (emu_execution *e = one ? one->exec_tail : c->s->execs_tail; e; e = one ? e->job_prev : e->all_prev) {
        if (!call_same_parent(c, e->project, e->location) || (token >= 0 && e->seq >= token))
            continue;
        if (count == size) {
            call_add_token(page, last);
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

cJSON *api_cancel_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = call_find_execution(c, job, id);
    if (!e)
        return NULL;
    if (emu_execution_done(e)) {
        emu_error_set(&c->err, "FAILED_PRECONDITION", "Execution '%s' cannot be cancelled because it is not running.",
                      id);
        return NULL;
    }
    if (call_body_bool(c, "validateOnly"))
        return call_validated_operation(c, emu_execution_json(e), EMU_TYPE_EXECUTION);
    emu_execution_cancel(c->s, e);
    emu_operation *op = emu_store_add_operation(c->s, c->rt.project, c->rt.location, NULL, e);
    if (!op) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    return emu_operation_json(op);
}

cJSON *api_delete_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = call_find_execution(c, job, id);
    if (!e)
        return NULL;
    const char *want = call_query(c, "etag");
    if (want) {
        cJSON *now = emu_execution_json(e);
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(now, "etag");
        int ok = call_etag_matches(c, want, cJSON_IsString(have) ? have->valuestring : "", "execution");
        cJSON_Delete(now);
        if (!ok)
            return NULL;
    }
    if (call_query_bool(c, "validateOnly"))
        return call_validated_operation(c, emu_execution_json(e), EMU_TYPE_EXECUTION);
    /* hidden at once, freed once its processes have stopped: rendered before it may go */
    cJSON *deleted = NULL;
    emu_execution_delete(c->s, e, &deleted);
    return call_done_operation(c, deleted, EMU_TYPE_EXECUTION);
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

cJSON *api_get_task(call *c, const char *job, const char *exec, const char *id)
{
    emu_execution *e = call_find_execution(c, job, exec);
    if (!e)
        return NULL;
    int i = task_index(e, id);
    return i < 0 ? call_not_found(c, id, "TASK") : emu_task_json(e, &e->tasks[i]);
}

/*
** ListTasks. With execution "-" (and job "-" or one job) it lists the tasks of
** every matching execution, executions newest first and each one's tasks in
** index order; the page token is then "<execution seq>.<task index>", the
** position to go on from.
*/
cJSON *api_list_tasks(call *c, const char *job, const char *exec)
{
    int size;
    long long token = -1;
    int all = strcmp(exec, "-") == 0;
    emu_execution *one = NULL;
    emu_job *of_job = NULL;
    if (all ? (strcmp(job, "-") != 0 && !(of_job = call_find_job(c, job))) : !(one = call_find_execution(c, job, exec)))
        return NULL;
    long long from_seq = -1;
    int from_index = 0;
    const char *pt = call_query(c, "pageToken");
    if (all && pt && *pt) {
        const char *end = pt;
        from_seq = call_token_value(pt, &end);
        if (from_seq >= 0 && *end == '.') {
            long long index = call_token_value(end + 1, &end);
            from_index = index >= 0 && index <= EMU_MAX_TASKS ? (int)index : -1;
        }
        if (from_seq < 0 || from_index < 0 || *end) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid pageToken '%s'.", pt);
            return NULL;
        }
    }
    if (all ? call_page_size(c, &size) < 0 : call_paging(c, &size, &token) < 0)
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
            call_add_token(page, to);
        count = to - from;
    }
    /* executions newest first: one job's own list, or every visible execution */
    for (emu_execution *e = !all     ? NULL
                            : of_job ? of_job->exec_tail
                                     : c->s->execs_tail;
         all && e; e = of_job ? e->job_prev : e->all_prev) {
        if (!call_same_parent(c, e->project, e->location) || (from_seq >= 0 && e->seq > from_seq))
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

cJSON *api_get_operation(call *c, const char *id)
{
    emu_operation *op = call_find_operation(c, id);
    return op ? emu_operation_json(op) : NULL;
}

cJSON *api_delete_operation(call *c, const char *id)
{
    emu_operation *op = call_find_operation(c, id);
    if (!op)
        return NULL;
    emu_store_remove_operation(c->s, op);
    return cJSON_CreateObject();
}

/* WaitOperation: blocks (the mutex released) until done or the timeout; may return early, as the API allows. */
cJSON *api_wait_operation(call *c, const char *id)
{
    emu_operation *op = call_find_operation(c, id);
    if (!op)
        return NULL;
    int64_t timeout = c->wait_ns;
    int64_t until = emu_add_sat(emu_mono_ns(), timeout);
    char *name = emu_strdup(op->name); /* op may be deleted while the mutex is released */
    while (op && name && !emu_operation_done(op) && emu_mono_ns() < until && !c->s->draining) {
        pthread_mutex_unlock(&c->s->mu);
        nanosleep(&(struct timespec){0, 20 * EMU_NS_PER_MS}, NULL);
        pthread_mutex_lock(&c->s->mu);
        op = emu_store_find_operation(c->s, name);
    }
    free(name);
    if (!op) {
        call_find_operation(c, id); /* deleted meanwhile: answers NOT_FOUND */
        return NULL;
    }
    return emu_operation_json(op);
}

cJSON *api_list_operations(call *c)
{
    int size;
    long long token;
    if (call_paging(c, &size, &token) < 0)
        return NULL;
    char *prefix = emu_strfmt("projects/%s/locations/%s/operations/", c->rt.project, c->rt.location);
    cJSON *page = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(page, "operations");
    int count = 0;
    /* oldest first; the token is the seq of the first operation of the next page */
    for (emu_operation *op = c->s->ops_head; prefix && op; op = op->next) {
        if ((token >= 0 && op->seq < token) || strncmp(op->name, prefix, strlen(prefix)) != 0)
            continue;
        if (count == size) {
            call_add_token(page, op->seq);
            break;
        }
        cJSON *json = emu_operation_json(op);
        if (json)
            cJSON_AddItemToArray(list, json);
        count++;
    }
    free(prefix);
    if (!count)
        cJSON_DeleteItemFromObject(page, "operations");
    return page;
}
