/*
** lifecycle.h — what happens to executions and operations over time, so
** that the emulator stays the same size however long it runs: a cancel
** asked for, a delete (hidden at once, freed with its logs once its
** processes have stopped), an execution's end (Cloud Run keeps the newest
** keep_executions done executions of a job and deletes older ones), and
** operations frozen to their final text when what they follow goes, kept
** for operation_ttl_ns and at most keep_operations of them. Mutex held for all.
*/
#ifndef EMU_LIFECYCLE_H
#define EMU_LIFECYCLE_H

#include <cjson/cJSON.h>

#include "store.h"

/* Asks for an execution to be cancelled: pending tasks never start, running
** ones get SIGTERM (SIGKILL after the grace period). Nothing if it is done. */
void emu_execution_cancel(emu_store *s, emu_execution *e);

/*
** Deletes an execution as DeleteExecution does (and DeleteJob, reset): a
** running one is cancelled; it is hidden from the API at once (404 from now
** on) and freed, its task logs removed, as soon as its processes have
** stopped. *rendered (when not NULL) receives its JSON as deleted, made
** before it may be freed; the caller owns it.
*/
void emu_execution_delete(emu_store *s, emu_execution *e, cJSON **rendered);

/* The runner: e has just ended (its state is final). Frees it if deleted,
** else applies its job's retention. */
void emu_execution_finished(emu_store *s, emu_execution *e);

/* Drops frozen operations beyond keep_operations, and those frozen more than operation_ttl_ns ago. */
void emu_operations_expire(emu_store *s);

/* Whether an operation is done. */
int emu_operation_done(const emu_operation *op);

#endif
