/*
** lifecycle.c — cancelling, deleting, ending and retaining executions, and
** freezing and expiring operations (see lifecycle.h for the rules).
*/
#include <stdlib.h>

#include "lifecycle.h"
#include "resource_json.h"
#include "wire_values.h"

void emu_execution_cancel(emu_store *s, emu_execution *e)
{
    if (emu_execution_done(e) || e->cancel_requested)
        return;
    e->cancel_requested = 1;
    e->update_ns = emu_now_ns();
    emu_store_wake(s);
}

/* Frees a done execution: its followers frozen with its final state first, its logs removed. */
static void release(emu_store *s, emu_execution *e)
{
    while (e->followers) {
        emu_operation *op = e->followers;
        e->followers = op->follow_next;
        op->follow_next = NULL;
        cJSON *json = emu_operation_json(op);
        char *text = json ? cJSON_PrintUnformatted(json) : NULL;
        cJSON_Delete(json);
        if (text) {
            emu_store_freeze_operation(s, op, text);
        } else { /* out of memory: the operation goes with its execution */
            op->execution = NULL;
            emu_store_remove_operation(s, op);
        }
    }
    emu_store_free_execution(s, e, 1);
    emu_operations_expire(s);
}

void emu_execution_delete(emu_store *s, emu_execution *e, cJSON **rendered)
{
    emu_execution_cancel(s, e);
    if (!e->deleted) {
        e->deleted = 1;
        e->update_ns = e->delete_ns = emu_now_ns();
        emu_store_hide_execution(s, e);
    }
    if (rendered)
        *rendered = emu_execution_json(e);
    if (emu_execution_done(e))
        release(s, e);
}

void emu_execution_finished(emu_store *s, emu_execution *e)
{
    emu_store_deactivate(s, e);
    if (e->deleted) {
        release(s, e);
        return;
    }
    emu_job *job = e->owner;
    if (!job)
        return;
    job->completed++;
    /* Cloud Run keeps a job's newest done executions and deletes the older ones. */
    for (emu_execution *old = job->exec_head; old && job->completed > s->keep_executions;) {
        emu_execution *next = old->job_next;
        if (emu_execution_done(old)) {
            old->deleted = 1;
            old->update_ns = old->delete_ns = emu_now_ns();
            emu_store_hide_execution(s, old);
            release(s, old);
        }
        old = next;
    }
}

void emu_operations_expire(emu_store *s)
{
    int64_t now = emu_mono_ns();
    while (s->frozen_head &&
           ((long)s->nfrozen > s->keep_operations || now - s->frozen_head->frozen_mono > s->operation_ttl_ns))
        emu_store_remove_operation(s, s->frozen_head);
}

int emu_operation_done(const emu_operation *op)
{
    return op->text || (op->execution && emu_execution_done(op->execution));
}
