/*
** api.h — the Cloud Run Admin API v2 REST surface: a request (method, path,
** query, body) in, a status and JSON body out. Knows the paths, methods and
** Cloud Run's answers; knows nothing of sockets (server.c) or processes
** (runner.c).
*/
#ifndef EMU_API_H
#define EMU_API_H

#include "request.h"
#include "store.h"

/* The RPCs of the surface, in one list (X-macro) for routing, counts and faults. */
// clang-format off
#define EMU_RPC_NAMES                                                                                      \
    X(CreateJob) X(GetJob) X(ListJobs) X(UpdateJob) X(DeleteJob) X(RunJob) X(GetExecution)                 \
    X(ListExecutions) X(DeleteExecution) X(CancelExecution) X(GetTask) X(ListTasks) X(GetOperation)        \
    X(ListOperations) X(WaitOperation) X(DeleteOperation) X(ListLogEntries) X(GetIamPolicy) X(SetIamPolicy)     \
    X(TestIamPermissions)
// clang-format on

/* The RPC a request is (a static name such as "RunJob"), without doing it;
** NULL for a path or method that is none. */
const char *emu_api_rpc_name(const char *method, const char *path);

/* Deletes every job, execution (running ones are stopped as by a cancel) and
** operation. Takes the mutex itself. */
void emu_api_reset(emu_store *s);

/* Handles one request under the store's mutex (it takes the mutex itself).
** Returns the HTTP status; *body is a new JSON string the caller frees, and
** *allow is set to the allowed methods for a 405 (static string) or NULL. */
int emu_api_handle(emu_store *s, const emu_request *req, char **body, const char **allow);

#endif
