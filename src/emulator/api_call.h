/*
** api_call.h — one API call as the handlers see it (api.c routes and checks
** it first): its route, its checked query and body, the error it ends with;
** the helpers the handlers share (api_call.c) and the handlers themselves
** (api_jobs.c: Jobs; api_runs.c: Executions, Tasks, Operations; api_iam.c: a
** job's IAM policy). Handlers run with the store's mutex held and return the
** answer's JSON, or NULL with c->err set.
*/
#ifndef EMU_API_CALL_H
#define EMU_API_CALL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "request.h"
#include "store.h"

#define DEFAULT_PAGE_SIZE 100
#define MAX_PAGE_SIZE 1000
#define MAX_SEGMENTS 12
#define MAX_SEGMENT 255 /* bytes of one path segment */
#define WAIT_DEFAULT_NS (30 * 1000000000LL)
#define WAIT_MAX_NS (600 * 1000000000LL) /* a WaitOperation holds a thread at most this long */

/* A parsed path: /v2/projects/P/locations/L/<collection>/... */
typedef struct route {
    char *buf;
    const char *seg[MAX_SEGMENTS];
    int n;
    const char *verb; /* after ':' in the last segment, or NULL */
    const char *project, *location;
} route;

typedef struct call {
    emu_store *s;
    const emu_request *req;
    route rt;
    cJSON *body;     /* parsed body (an object) for POST/PATCH, else NULL */
    int64_t wait_ns; /* WaitOperation: how long, read from the body before the wait */
    emu_error err;
} call;

/* ---- helpers (api_call.c) ---- */

/* A query parameter by its JSON name (it came at most once, by either name), or NULL. */
const char *call_query(const call *c, const char *name);
/* A bool query parameter (true, false, 1 or 0): whether it is true. */
int call_query_bool(const call *c, const char *name);
int call_body_bool(const call *c, const char *key);
/* A non-empty string member of the body, or NULL. */
const char *call_body_string(const call *c, const char *key);
/* Sets Cloud Run's NOT_FOUND for a resource; returns NULL. */
cJSON *call_not_found(call *c, const char *id, const char *kind);
/* pageSize (default when absent or 0, at most MAX_PAGE_SIZE). 0 or -1 with c->err. */
int call_page_size(call *c, int *size);
/* A page token's leading non-negative int64 (end: what follows), or -1. */
long long call_token_value(const char *text, const char **end);
/* pageSize and pageToken (an int64 position, -1 when absent). 0 or -1 with c->err. */
int call_paging(call *c, int *size, long long *token);
void call_add_token(cJSON *page, long long token);
int call_same_parent(const call *c, const char *project, const char *location);
/* Lookups under the call's parent; NULL with NOT_FOUND set. */
emu_job *call_find_job(call *c, const char *id);
emu_execution *call_find_execution(call *c, const char *job, const char *id);
emu_operation *call_find_operation(call *c, const char *id);
/* Stores a done operation around a resource (taken) and answers with it. */
cJSON *call_done_operation(call *c, cJSON *resource, const char *type);
/* validateOnly's answer: a done operation around what would have been, never stored. */
cJSON *call_validated_operation(call *c, cJSON *resource, const char *type);
/* 1 when want is NULL or matches have, else 0 with ABORTED set. */
int call_etag_matches(call *c, const char *want, const char *have, const char *what);

/* ---- handlers ---- */

cJSON *api_create_job(call *c);
cJSON *api_get_job(call *c, const char *id);
cJSON *api_list_jobs(call *c);
cJSON *api_update_job(call *c, const char *id);
cJSON *api_delete_job(call *c, const char *id);
cJSON *api_run_job(call *c, const char *id);
cJSON *api_get_execution(call *c, const char *job, const char *id);
cJSON *api_list_executions(call *c, const char *job);
cJSON *api_cancel_execution(call *c, const char *job, const char *id);
cJSON *api_delete_execution(call *c, const char *job, const char *id);
cJSON *api_get_task(call *c, const char *job, const char *exec, const char *id);
cJSON *api_list_tasks(call *c, const char *job, const char *exec);
cJSON *api_get_operation(call *c, const char *id);
cJSON *api_list_operations(call *c);
cJSON *api_wait_operation(call *c, const char *id);
cJSON *api_delete_operation(call *c, const char *id);
/* api_iam.c */
cJSON *api_get_iam_policy(call *c, const char *id);
cJSON *api_set_iam_policy(call *c, const char *id);
cJSON *api_test_iam_permissions(call *c, const char *id);

#endif
