/*
** resource_json.h — the resources as Cloud Run Admin API v2 writes them:
** Job, Execution, Task and google.longrunning.Operation JSON (lowerCamelCase,
** defaults omitted, int64 as strings, RFC 3339 Timestamps, enum names).
** Every function reads the store, so the caller holds the store's mutex.
*/
#ifndef EMU_RESOURCE_JSON_H
#define EMU_RESOURCE_JSON_H

#include <cjson/cJSON.h>

#include "store.h"

#define EMU_TYPE_JOB "type.googleapis.com/google.cloud.run.v2.Job"
#define EMU_TYPE_EXECUTION "type.googleapis.com/google.cloud.run.v2.Execution"

/* Each returns a new object the caller frees with cJSON_Delete(). */
cJSON *emu_job_json(emu_store *s, const emu_job *job);
cJSON *emu_execution_json(const emu_execution *e);
cJSON *emu_task_json(const emu_execution *e, const emu_task *t);
cJSON *emu_operation_json(const emu_operation *op);

/* The resource as a google.protobuf.Any: "@type" first, then its fields. Takes ownership. */
cJSON *emu_as_any(cJSON *resource, const char *type);

/* body with "name" as its first member (takes body, returns it). */
cJSON *emu_named_operation(const char *name, cJSON *body);

/* A finished Operation's body (no name; the store adds it): done, metadata and response. */
cJSON *emu_done_operation(cJSON *resource, const char *type);

/* "file:///abs/path" with unsafe bytes percent-encoded; caller frees. */
char *emu_file_uri(const char *path);

/* The etag the job currently has (buf >= 40 bytes). */
char *emu_job_etag(const emu_job *job, char *buf, size_t size);

#endif
