/*
** faults.c — scripted failures and call counts, so that a client's retry
** rules can be tested against a real server. Everything here sits outside the
** Cloud Run API namespace (/v2/...), under /emulator/v1/.
**
** The control API
** ---------------
** POST   /emulator/v1/faults   adds a fault; the body is
**            {"method": "RunJob",          an RPC name (CreateJob, GetJob, ListJobs, UpdateJob, DeleteJob,
**                                          RunJob, GetExecution, ListExecutions, DeleteExecution,
**                                          CancelExecution, GetTask, ListTasks, GetOperation,
**                                          ListOperations, WaitOperation, DeleteOperation, GetIamPolicy,
**                                          SetIamPolicy, TestIamPermissions; a full name such as
**                                          google.cloud.run.v2.Jobs.RunJob works too) or "*" for any
**             "fault": "unavailable",      what the matching calls get, below
**             "count": 2,                  how many of the next matching calls (default 1)
**             "retry_after": 1,            optional: a Retry-After header (seconds; for 429/503 answers)
**             "retry_info": "1.5s",        optional: a google.rpc.RetryInfo detail with this retryDelay
**             "delay_ms": 200}             optional: wait this long first (the "delay" fault: default 1000)
**          camelCase keys (retryAfter, retryInfo, delayMs) are accepted too. Answers
**          {"fault": {...as stored...}}; 400 INVALID_ARGUMENT naming a bad field.
**          Faults:
**            unavailable          503 UNAVAILABLE        "The service is currently unavailable."
**            resource_exhausted   429 RESOURCE_EXHAUSTED  a Cloud Run quota message + ErrorInfo RATE_LIMIT_EXCEEDED
**            internal             500 INTERNAL           "Internal error encountered."
**            deadline             504 DEADLINE_EXCEEDED  "Deadline expired before operation could complete."
**            unauthenticated      401 UNAUTHENTICATED    "Request had invalid authentication credentials. ..."
**            permission_denied    403 PERMISSION_DENIED  "The caller does not have permission"
**              (these six do nothing: the call never reaches the API)
**            delay                the call is performed, then the answer waits delay_ms
**            drop                 the connection is closed without an answer before anything is done
**            reset_after_effect   the call is performed (a RunJob really starts its execution), then
**                                 the connection is closed without an answer: the case in which a
**                                 client must not retry a RunJob
**          A call takes the oldest pending fault that matches its RPC (or "*"); several faults
**          queue up one after another.
** GET    /emulator/v1/faults   {"faults": [pending faults with their remaining count]}
** DELETE /emulator/v1/faults   clears every pending fault; answers {}
** GET    /emulator/v1/stats    {"calls": {"RunJob": 3, ...}, "faulted": {"RunJob": 2, ...}, "total": N,
**                               "other": N}: every request that reached the server per RPC, faulted
**                               and dropped ones included ("other": paths that are no RPC)
** DELETE /emulator/v1/stats    sets the counts back to zero; answers {}
** POST   /emulator/v1/reset    clears faults and counts, and deletes every job, execution (running
**                              ones are stopped as by a cancel) and operation; answers {}
** The command line takes the same faults with --fault SPEC (repeatable): the JSON above, or
** METHOD:FAULT[:COUNT] such as RunJob:unavailable:2.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudrun.h"
#include "faults.h"
#include "json_strict.h"
#include "schema.h"
#include "wire_values.h"

#define MAX_DELAY_MS 600000L
#define DEFAULT_DELAY_MS 1000L

struct emu_fault_entry {
    char method[40]; /* an RPC name or "*" */
    long count;      /* calls still to fault */
    emu_fault fault;
    emu_fault_entry *next;
};

static const char *const rpc_names[] = {
#define X(name) #name,
    EMU_RPC_NAMES
#undef X
        NULL,
};

static const char *const kind_names[] = {
    "none", "unavailable",        "resource_exhausted", "internal",          "deadline", "delay",
    "drop", "reset_after_effect", "unauthenticated",    "permission_denied", NULL,
};

static int rpc_index(const char *rpc)
{
    for (int i = 0; rpc && rpc_names[i]; i++)
        if (strcmp(rpc_names[i], rpc) == 0)
            return i;
    return -1;
}

int emu_faults_init(emu_faults *f)
{
    memset(f, 0, sizeof *f);
    return pthread_mutex_init(&f->mu, NULL) == 0 ? 0 : -1;
}

static void clear_entries(emu_faults *f)
{
    while (f->head) {
        emu_fault_entry *next = f->head->next;
        free(f->head);
        f->head = next;
    }
}

void emu_faults_free(emu_faults *f)
{
    clear_entries(f);
    pthread_mutex_destroy(&f->mu);
}

int emu_faults_take(emu_faults *f, const char *rpc, emu_fault *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after = -1;
    int i = rpc_index(rpc);
    pthread_mutex_lock(&f->mu);
    if (i < 0) {
        f->other_calls++;
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    f->calls[i]++;
    for (emu_fault_entry **p = &f->head; *p; p = &(*p)->next) {
        emu_fault_entry *e = *p;
        if (strcmp(e->method, "*") != 0 && strcmp(e->method, rpc) != 0)
            continue;
        *out = e->fault;
        f->faulted[i]++;
        if (--e->count <= 0) {
            *p = e->next;
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&f->mu);
    return out->kind != EMU_FAULT_NONE;
}

/* Reads are metered apart from writes on Cloud Run, as its quota errors say. */
static int is_read(const char *rpc)
{
    return rpc && (strncmp(rpc, "Get", 3) == 0 || strncmp(rpc, "List", 4) == 0 || strcmp(rpc, "WaitOperation") == 0);
}

int emu_fault_error(const emu_fault *fault, const char *rpc, char **body)
{
    emu_error err = {0};
    cJSON *info = NULL;
    switch (fault->kind) {
    case EMU_FAULT_RESOURCE_EXHAUSTED: {
        const char *metric = is_read(rpc) ? "Read requests" : "Write requests";
        emu_error_set(&err, "RESOURCE_EXHAUSTED",
                      "Quota exceeded for quota metric '%s' and limit '%s per minute per region' of service "
                      "'run.googleapis.com' for consumer 'project_number:000000000000'.",
                      metric, metric);
        info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "@type", "type.googleapis.com/google.rpc.ErrorInfo");
        cJSON_AddStringToObject(info, "reason", "RATE_LIMIT_EXCEEDED");
        cJSON_AddStringToObject(info, "domain", "googleapis.com");
        cJSON *md = cJSON_AddObjectToObject(info, "metadata");
        cJSON_AddStringToObject(md, "service", "run.googleapis.com");
        cJSON_AddStringToObject(md, "quota_metric",
                                is_read(rpc) ? "run.googleapis.com/read_requests"
                                             : "run.googleapis.com/write_requests");
        cJSON_AddStringToObject(md, "quota_limit",
                                is_read(rpc) ? "ReadRequestsPerMinutePerRegion" : "WriteRequestsPerMinutePerRegion");
        break;
    }
    case EMU_FAULT_INTERNAL:
        emu_error_set(&err, "INTERNAL", "Internal error encountered.");
        break;
    case EMU_FAULT_DEADLINE:
        emu_error_set(&err, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.");
        break;
    case EMU_FAULT_PERMISSION_DENIED:
        /* what Google's front end says when IAM refuses the caller */
        emu_error_set(&err, "PERMISSION_DENIED", "The caller does not have permission");
        break;
    case EMU_FAULT_UNAUTHENTICATED:
        emu_error_set(&err, "UNAUTHENTICATED",
                      "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                      "or other valid authentication credential.");
        break;
    default:
        emu_error_set(&err, "UNAVAILABLE", "The service is currently unavailable.");
        break;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(e, "code", err.status);
    cJSON_AddStringToObject(e, "message", err.message);
    cJSON_AddStringToObject(e, "status", err.code);
    if (info || fault->retry_info[0]) {
        cJSON *details = cJSON_AddArrayToObject(e, "details");
        if (info)
            cJSON_AddItemToArray(details, info);
        if (fault->retry_info[0]) {
            cJSON *ri = cJSON_CreateObject();
            cJSON_AddStringToObject(ri, "@type", "type.googleapis.com/google.rpc.RetryInfo");
            cJSON_AddStringToObject(ri, "retryDelay", fault->retry_info);
            cJSON_AddItemToArray(details, ri);
        }
    }
    *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return err.status;
}

/* ---- describing faults in JSON -------------------------------------------------- */

static const cJSON *member(const cJSON *o, const char *snake, const char *camel)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, snake);
    return v ? v : cJSON_GetObjectItemCaseSensitive(o, camel);
}

static int parse_entry(const cJSON *spec, emu_fault_entry *out, emu_error *err)
{
    memset(out, 0, sizeof *out);
    out->count = 1;
    out->fault.retry_after = -1;
    if (!cJSON_IsObject(spec)) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "A fault must be a JSON object such as "
                      "{\"method\": \"RunJob\", \"fault\": \"unavailable\", \"count\": 1}.");
        return -1;
    }
    const cJSON *method = member(spec, "method", "method");
    const char *m = cJSON_IsString(method) ? method->valuestring : NULL;
    const char *dot = m ? strrchr(m, '.') : NULL;
    if (dot)
        m = dot + 1;
    if (!m || (strcmp(m, "*") != 0 && rpc_index(m) < 0)) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "fault.method must be \"*\" or one of the RPC names (CreateJob, GetJob, "
                      "ListJobs, UpdateJob, DeleteJob, RunJob, GetExecution, ListExecutions, DeleteExecution, "
                      "CancelExecution, GetTask, ListTasks, GetOperation, ListOperations, WaitOperation, "
                      "DeleteOperation, GetIamPolicy, SetIamPolicy, TestIamPermissions)%s%s%s.",
                      m ? ", not '" : "", m ? m : "", m ? "'" : "");
        return -1;
    }
    snprintf(out->method, sizeof out->method, "%s", m);
    const cJSON *kind = member(spec, "fault", "fault");
    for (int k = 1; cJSON_IsString(kind) && kind_names[k]; k++)
        if (strcmp(kind_names[k], kind->valuestring) == 0)
            out->fault.kind = (emu_fault_kind)k;
    if (out->fault.kind == EMU_FAULT_NONE) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "fault.fault must be one of unavailable, resource_exhausted, internal, "
                      "deadline, unauthenticated, permission_denied, delay, drop, reset_after_effect.");
        return -1;
    }
    const cJSON *count = member(spec, "count", "count");
    if (count) {
        if (!cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble != floor(count->valuedouble) ||
            count->valuedouble > 1e9) {
            emu_error_set(err, "INVALID_ARGUMENT", "fault.count must be a whole number of calls, at least 1.");
            return -1;
        }
        out->count = (long)count->valuedouble;
    }
    const cJSON *ra = member(spec, "retry_after", "retryAfter");
    if (ra) {
        if (!cJSON_IsNumber(ra) || ra->valuedouble < 0 || ra->valuedouble > 86400) {
            emu_error_set(err, "INVALID_ARGUMENT", "fault.retry_after must be a number of seconds (0 to 86400).");
            return -1;
        }
        out->fault.retry_after = ra->valuedouble;
    }
    const cJSON *ri = member(spec, "retry_info", "retryInfo");
    if (ri) {
        emu_duration d;
        if (!cJSON_IsString(ri) || emu_duration_parse(ri->valuestring, &d) < 0 ||
            emu_duration_less(d, (emu_duration){0, 0}) || strlen(ri->valuestring) >= sizeof out->fault.retry_info) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "fault.retry_info must be a Duration of 0s or more such as \"1.5s\" (at most %llds).",
                          (long long)EMU_DURATION_MAX_SECONDS);
            return -1;
        }
        snprintf(out->fault.retry_info, sizeof out->fault.retry_info, "%s", ri->valuestring);
    }
    const cJSON *delay = member(spec, "delay_ms", "delayMs");
    if (delay) {
        if (!cJSON_IsNumber(delay) || delay->valuedouble < 0 || delay->valuedouble > MAX_DELAY_MS) {
            emu_error_set(err, "INVALID_ARGUMENT", "fault.delay_ms must be a number of milliseconds (0 to %ld).",
                          MAX_DELAY_MS);
            return -1;
        }
        out->fault.delay_ms = (long)delay->valuedouble;
    } else if (out->fault.kind == EMU_FAULT_DELAY) {
        out->fault.delay_ms = DEFAULT_DELAY_MS;
    }
    return 0;
}

static cJSON *entry_json(const emu_fault_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", e->method);
    cJSON_AddStringToObject(o, "fault", kind_names[e->fault.kind]);
    cJSON_AddNumberToObject(o, "count", (double)e->count);
    if (e->fault.retry_after >= 0)
        cJSON_AddNumberToObject(o, "retry_after", e->fault.retry_after);
    if (e->fault.retry_info[0])
        cJSON_AddStringToObject(o, "retry_info", e->fault.retry_info);
    if (e->fault.delay_ms)
        cJSON_AddNumberToObject(o, "delay_ms", (double)e->fault.delay_ms);
    return o;
}

static emu_fault_entry *add_entry(emu_faults *f, const emu_fault_entry *proto)
{
    emu_fault_entry *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    *e = *proto;
    e->next = NULL;
    pthread_mutex_lock(&f->mu);
    emu_fault_entry **p = &f->head;
    while (*p)
        p = &(*p)->next;
    *p = e;
    pthread_mutex_unlock(&f->mu);
    return e;
}

int emu_faults_add_json(emu_faults *f, const cJSON *spec, emu_error *err)
{
    emu_fault_entry entry;
    if (parse_entry(spec, &entry, err) < 0)
        return -1;
    if (!add_entry(f, &entry)) {
        emu_error_set(err, "INTERNAL", "out of memory");
        return -1;
    }
    return 0;
}

int emu_faults_add_spec(emu_faults *f, const char *spec, emu_error *err)
{
    cJSON *json = NULL;
    if (spec[0] == '{') {
        emu_error why = {0};
        json = emu_json_parse_strict(spec, strlen(spec), &why);
        if (!json || (cJSON_IsObject(json) && emu_schema_check(json, &emu_msg_fault, "fault", &why) < 0)) {
            cJSON_Delete(json);
            emu_error_set(err, "INVALID_ARGUMENT", "--fault '%s': %s", spec, why.message);
            return -1;
        }
    } else {
        /* METHOD:FAULT[:COUNT], each part non-empty; COUNT checked by emu_faults_add_json */
        char method[64], kind[64];
        long count = 1;
        const char *c1 = strchr(spec, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        size_t mlen = c1 ? (size_t)(c1 - spec) : 0;
        size_t klen = c1 ? (c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1)) : 0;
        char *end = NULL;
        if (c2) {
            errno = 0;
            count = strtol(c2 + 1, &end, 10);
        }
        if (!c1 || !mlen || mlen >= sizeof method || !klen || klen >= sizeof kind ||
            (c2 && (!isdigit((unsigned char)c2[1]) || *end || errno == ERANGE))) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "--fault '%s': expected METHOD:FAULT[:COUNT] (e.g. RunJob:unavailable:2) or a JSON object.",
                          spec);
            return -1;
        }
        memcpy(method, spec, mlen);
        method[mlen] = '\0';
        memcpy(kind, c1 + 1, klen);
        kind[klen] = '\0';
        json = cJSON_CreateObject();
        cJSON_AddStringToObject(json, "method", method);
        cJSON_AddStringToObject(json, "fault", kind);
        cJSON_AddNumberToObject(json, "count", (double)count);
    }
    int rc = emu_faults_add_json(f, json, err);
    cJSON_Delete(json);
    return rc;
}

/* ---- the control API ---------------------------------------------------------------- */

static cJSON *stats_json(emu_faults *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *calls = cJSON_AddObjectToObject(o, "calls");
    cJSON *faulted = cJSON_AddObjectToObject(o, "faulted");
    long total = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; rpc_names[i]; i++) {
        if (f->calls[i])
            cJSON_AddNumberToObject(calls, rpc_names[i], (double)f->calls[i]);
        if (f->faulted[i])
            cJSON_AddNumberToObject(faulted, rpc_names[i], (double)f->faulted[i]);
        total += f->calls[i];
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "other", (double)f->other_calls);
    pthread_mutex_unlock(&f->mu);
    return o;
}

static void reset_stats(emu_faults *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->calls, 0, sizeof f->calls);
    memset(f->faulted, 0, sizeof f->faulted);
    f->other_calls = 0;
    pthread_mutex_unlock(&f->mu);
}

static void clear_faults(emu_faults *f)
{
    pthread_mutex_lock(&f->mu);
    clear_entries(f);
    pthread_mutex_unlock(&f->mu);
}

int emu_faults_control(emu_faults *f, const char *method, const char *path, const char *body, size_t body_len,
                       void (*reset_resources)(void *ctx), void *ctx, char **out)
{
    emu_error err = {0};
    cJSON *result = NULL;
    const char *allow = NULL;
    const char *what = path + strlen("/emulator/v1/");
    if (strcmp(what, "faults") == 0) {
        allow = "GET, POST, DELETE";
        if (strcmp(method, "POST") == 0) {
            cJSON *spec = body_len ? emu_json_parse_strict(body, body_len, &err) : NULL;
            emu_fault_entry entry;
            if (cJSON_IsObject(spec) && emu_schema_check(spec, &emu_msg_fault, "fault", &err) < 0)
                ; /* err says which field */
            else if (!spec && body_len)
                ; /* err says where the JSON is wrong */
            else if (parse_entry(spec, &entry, &err) == 0 && !add_entry(f, &entry))
                emu_error_set(&err, "INTERNAL", "out of memory");
            else if (!err.status) {
                result = cJSON_CreateObject();
                cJSON_AddItemToObject(result, "fault", entry_json(&entry));
            }
            cJSON_Delete(spec);
        } else if (strcmp(method, "GET") == 0) {
            result = cJSON_CreateObject();
            cJSON *list = cJSON_AddArrayToObject(result, "faults");
            pthread_mutex_lock(&f->mu);
            for (const emu_fault_entry *e = f->head; e; e = e->next)
                cJSON_AddItemToArray(list, entry_json(e));
            pthread_mutex_unlock(&f->mu);
        } else if (strcmp(method, "DELETE") == 0) {
            clear_faults(f);
            result = cJSON_CreateObject();
        }
    } else if (strcmp(what, "stats") == 0) {
        allow = "GET, DELETE";
        if (strcmp(method, "GET") == 0) {
            result = stats_json(f);
        } else if (strcmp(method, "DELETE") == 0) {
            reset_stats(f);
            result = cJSON_CreateObject();
        }
    } else if (strcmp(what, "reset") == 0) {
        allow = "POST";
        if (strcmp(method, "POST") == 0) {
            clear_faults(f);
            reset_stats(f);
            if (reset_resources)
                reset_resources(ctx);
            result = cJSON_CreateObject();
        }
    } else {
        emu_error_set(&err, "NOT_FOUND", "The requested URL %s was not found on this server.", path);
    }
    if (!result && !err.status)
        emu_error_set_status(&err, 405, "UNIMPLEMENTED", "Method %s is not allowed on %s (allowed: %s).", method, path,
                             allow);
    if (result) {
        *out = cJSON_PrintUnformatted(result);
        cJSON_Delete(result);
        return 200;
    }
    *out = emu_error_body(&err);
    return err.status;
}
