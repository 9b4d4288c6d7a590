/*
** encode.c — a cr_request turned into a call: the method table's entry says
** the HTTP method, the path shape and whether it is a read; its encoder
** writes the query and body (each method's REST field names live here), and
** cr_call_build puts the resolved name in front once project and region are
** known.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/client_state.h"

/* Appends "&name=value" (value URL-escaped) to a query being built. */
static void query_add(cr_buf *q, const char *name, const char *value)
{
    char *v = cr_url_escape(value);
    if (!v) {
        q->failed = 1;
        return;
    }
    cr_buf_printf(q, "%s%s=%s", q->len ? "&" : "", name, v);
    free(v);
}

/* The query built so far becomes the call's; -1 out of memory. */
static int query_done(cr_call *call, cr_buf *q, cr_error *err)
{
    int failed = q->failed;
    if (q->len && !failed)
        call->query = cr_buf_take(q, NULL);
    cr_buf_free(q);
    if (failed) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

/* A body's JSON text as a malloc'd string (what a request owns and frees):
** cJSON's own allocator may be someone else's (cJSON_InitHooks). */
static char *print_json(const cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    char *out = cr_strdup(text);
    if (text) {
        cr_wipe(text, strlen(text));
        cJSON_free(text);
    }
    return out;
}

static int body_of(cr_call *call, cJSON *body, cr_error *err)
{
    call->body = body ? print_json(body) : NULL;
    cJSON_Delete(body);
    if (!call->body) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

/* ---- the encoders, one per shape of request ---------------------------------- */

int cr_encode_run_job(cr_call *call, const cr_request *r, cr_error *err)
{
    return (call->body = cr_api_run_job_body(r->run, err)) ? 0 : -1;
}

int cr_encode_list(cr_call *call, const cr_request *r, cr_error *err)
{
    cr_buf q = {0};
    const cr_list_options *list = r->list;
    if (list) {
        if (list->page_size > 0)
            cr_buf_printf(&q, "pageSize=%d", (int)list->page_size);
        if (list->page_token && *list->page_token)
            query_add(&q, "pageToken", list->page_token);
        if (list->show_deleted)
            query_add(&q, "showDeleted", "true");
        if (list->filter && *list->filter)
            query_add(&q, "filter", list->filter);
    }
    return query_done(call, &q, err);
}

/* DeleteJob and DeleteExecution: validateOnly and etag in the query (no allowMissing there) */
int cr_encode_delete(cr_call *call, const cr_request *r, cr_error *err)
{
    cr_buf q = {0};
    if (r->write && r->write->validate_only)
        query_add(&q, "validateOnly", "true");
    if (r->write && r->write->etag && *r->write->etag)
        query_add(&q, "etag", r->write->etag);
    return query_done(call, &q, err);
}

static int spec_is_object(const cr_request *r, const char *fn, cr_error *err)
{
    if (cJSON_IsObject(r->spec))
        return 1;
    cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: the job spec must be a JSON object", fn);
    return 0;
}

/* POST parent/jobs?jobId=ID: the id is the name's last segment. CreateJobRequest
** has validateOnly, and no etag or allowMissing to send. */
int cr_encode_create_job(cr_call *call, const cr_request *r, cr_error *err)
{
    if (!spec_is_object(r, "create_job", err))
        return -1;
    cr_buf q = {0};
    const char *slash = strrchr(call->name, '/');
    query_add(&q, "jobId", slash ? slash + 1 : call->name);
    if (r->write && r->write->validate_only)
        query_add(&q, "validateOnly", "true");
    if (query_done(call, &q, err) < 0)
        return -1;
    if (!(call->body = print_json(r->spec))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

int cr_resolved_create_job(cr_call *call, char *target, char **body, cr_error *err)
{
    (void)call, (void)body, (void)err;
    *strrchr(target, '/') = '\0'; /* projects/P/locations/L/jobs */
    return 0;
}

/* UpdateJobRequest: validateOnly and allowMissing in the query; an etag is the
** Job's own field (the version the change was made from), in the body, and so
** is the Job's full name, known once the name resolves. */
int cr_encode_update_job(cr_call *call, const cr_request *r, cr_error *err)
{
    if (!spec_is_object(r, "update_job", err))
        return -1;
    call->spec = cJSON_Duplicate(r->spec, 1);
    int oom = !call->spec;
    if (call->spec && r->write && r->write->etag && *r->write->etag) {
        cJSON_DeleteItemFromObjectCaseSensitive(call->spec, "etag");
        oom |= !cJSON_AddStringToObject(call->spec, "etag", r->write->etag);
    }
    cr_buf q = {0};
    if (r->write && r->write->validate_only)
        query_add(&q, "validateOnly", "true");
    if (r->write && r->write->allow_missing)
        query_add(&q, "allowMissing", "true");
    q.failed |= oom;
    return query_done(call, &q, err);
}

int cr_resolved_update_job(cr_call *call, char *target, char **body, cr_error *err)
{
    cJSON *spec = cJSON_Duplicate(call->spec, 1);
    if (spec) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "name");
        if (cJSON_AddStringToObject(spec, "name", target))
            *body = print_json(spec);
    }
    cJSON_Delete(spec);
    if (!*body) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

/* CancelExecution: validateOnly and etag travel in the body ("body: *") */
int cr_encode_cancel(cr_call *call, const cr_request *r, cr_error *err)
{
    cJSON *body = cJSON_CreateObject();
    if (body && r->write && r->write->validate_only)
        cJSON_AddBoolToObject(body, "validateOnly", 1);
    if (body && r->write && r->write->etag)
        cJSON_AddStringToObject(body, "etag", r->write->etag);
    return body_of(call, body, err);
}

/* WaitOperation: the server holds the call up to `timeout`, so the exchange must outlast it */
int cr_encode_wait(cr_call *call, const cr_request *r, cr_error *err)
{
    if (!(r->wait_timeout >= 0 && r->wait_timeout <= CR_MAX_WAIT_SECONDS)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "wait_operation: the timeout must be 0 to %.0f seconds",
                     CR_MAX_WAIT_SECONDS);
        return -1;
    }
    cJSON *body = cJSON_CreateObject();
    if (body && r->wait_timeout > 0) {
        char buf[40];
        cJSON_AddStringToObject(body, "timeout", cr_duration_format((int64_t)(r->wait_timeout * 1e9), buf, sizeof buf));
        call->min_timeout_ms = (long)(r->wait_timeout * 1000.0) + 10000;
    }
    return body_of(call, body, err);
}

/* cr_client_call: the caller's HTTP method, path (checked), query and body, and another API's base. */
int cr_encode_call(cr_call *call, const cr_request *r, cr_error *err)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
    int known = 0;
    for (size_t i = 0; i < 4 && !known; i++)
        known = r->http_method && strcmp(r->http_method, methods[i]) == 0;
    if (!known || !r->path || !*r->path) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "cr_client_call: a method (GET, POST, PATCH, DELETE) and a "
                     "path are needed");
        return -1;
    }
    if (!cr_api_path_is_valid(r->path)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "call: path \"%.200s\" is not a resource path (segments of letters, digits and -_.~, an "
                     "optional :verb at the end; no . or .. segments)",
                     r->path);
        return -1;
    }
    if (r->base && ((strncmp(r->base, "http://", 7) != 0 && strncmp(r->base, "https://", 8) != 0) ||
                    strpbrk(r->base + 7, "@?#") || strchr(r->base + (r->base[4] == 's' ? 8 : 7), '/'))) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "call: base \"%.200s\" is not an http(s)://host[:port] endpoint",
                     r->base);
        return -1;
    }
    snprintf(call->http_method, sizeof call->http_method, "%s", r->http_method);
    call->idempotent = strcmp(r->http_method, "GET") == 0 || r->read;
    call->path = cr_strdup(r->path);
    call->base = r->base ? cr_strdup(r->base) : NULL;
    call->query = r->query && *r->query ? cr_strdup(r->query) : NULL;
    call->body = r->body ? print_json(r->body) : NULL;
    if (!call->path || (r->base && !call->base) || (r->query && *r->query && !call->query) ||
        (r->body && !call->body)) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    return 0;
}

/* ---- IAM (google.iam.v1, on a job) ------------------------------------------------ */

/* GetIamPolicy is a GET: its `options` message travels as the query, by its
** field's dotted path. Version 3 unless asked otherwise, as gcloud asks: at a
** lower version a policy with conditions hides them (its roles then end in
** "_withcond_" and a hash), and a change made from that would lose them. */
int cr_encode_get_iam_policy(cr_call *call, const cr_request *r, cr_error *err)
{
    int32_t v = r->iam ? r->iam->requested_policy_version : 0;
    if (v != 0 && v != 1 && v != 3) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "get_iam_policy: option 'requested_policy_version' must be 1 or 3 (got %ld)", (long)v);
        return -1;
    }
    cr_buf q = {0};
    cr_buf_printf(&q, "options.requestedPolicyVersion=%d", v ? (int)v : 3);
    return query_done(call, &q, err);
}

/* A FieldMask in its JSON form: paths of field names (a letter, then letters,
** digits or '_') joined by dots, separated by commas. */
static int field_mask_ok(const char *m)
{
    for (;;) {
        if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z')))
            return 0;
        m += strspn(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        if (*m == '\0')
            return 1;
        if (*m != '.' && *m != ',')
            return 0;
        m++;
    }
}

/* A list the caller built as an empty table (Lua's {} is an object when empty) made a list again. */
static int as_list(cJSON *parent, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
    if (!cJSON_IsObject(v) || v->child)
        return 0;
    cJSON *list = cJSON_CreateArray();
    return list && cJSON_ReplaceItemInObjectCaseSensitive(parent, name, list) ? 0 : (cJSON_Delete(list), -1);
}

/* SetIamPolicy: {"policy": ..., "updateMask": "..."} (body "*"). The policy goes
** as given, its empty lists (bindings, members, auditConfigs) sent as lists. */
int cr_encode_set_iam_policy(cr_call *call, const cr_request *r, cr_error *err)
{
    const char *mask = r->iam ? r->iam->update_mask : NULL;
    if (!cJSON_IsObject(r->policy)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "set_iam_policy: the policy must be a JSON object");
        return -1;
    }
    if (mask && *mask && !field_mask_ok(mask)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "set_iam_policy: update mask \"%.200s\" is not a FieldMask (field names such as bindings, etag "
                     "and version, separated by commas)",
                     mask);
        return -1;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *policy = cJSON_Duplicate(r->policy, 1);
    int oom = !body || !policy || as_list(policy, "bindings") < 0 || as_list(policy, "auditConfigs") < 0;
    cJSON *bindings = policy ? cJSON_GetObjectItemCaseSensitive(policy, "bindings") : NULL;
    for (cJSON *b = cJSON_IsArray(bindings) ? bindings->child : NULL; b && !oom; b = b->next)
        oom = cJSON_IsObject(b) && as_list(b, "members") < 0;
    if (!oom && cJSON_AddItemToObject(body, "policy", policy))
        policy = NULL;
    else
        oom = 1;
    if (!oom && mask && *mask)
        oom = !cJSON_AddStringToObject(body, "updateMask", mask);
    cJSON_Delete(policy);
    if (oom) {
        cJSON_Delete(body);
        body = NULL;
    }
    return body_of(call, body, err);
}

/* TestIamPermissions: {"permissions": [...]} (body "*"). */
int cr_encode_test_iam_permissions(cr_call *call, const cr_request *r, cr_error *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *list = body ? cJSON_AddArrayToObject(body, "permissions") : NULL;
    for (size_t i = 0; list && i < r->npermissions; i++) {
        if (!r->permissions || !r->permissions[i]) {
            cJSON_Delete(body);
            cr_error_set(err, "INVALID_ARGUMENT", 0, "test_iam_permissions: permission %zu is NULL", i + 1);
            return -1;
        }
        if (!cJSON_AddItemToArray(list, cJSON_CreateString(r->permissions[i])))
            list = NULL;
    }
    if (!list) {
        cJSON_Delete(body);
        body = NULL;
    }
    return body_of(call, body, err);
}

/* ---- the dispatcher ------------------------------------------------------------ */

void cr_call_clear(cr_call *call)
{
    free(call->name);
    free(call->path);
    free(call->base);
    free(call->query);
    cr_secret_free(call->body);
    cJSON_Delete(call->spec);
    free(call->hint_account);
    memset(call, 0, sizeof *call);
}

int cr_call_init(cr_call *call, const cr_request *r, cr_error *err)
{
    memset(call, 0, sizeof *call);
    const cr_method_def *d = r ? cr_method_of(r->method) : NULL;
    if (!d) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_client_start: unknown method");
        return -1;
    }
    call->def = d;
    call->method = r->method;
    if (d->http)
        snprintf(call->http_method, sizeof call->http_method, "%s", d->http);
    call->kind = d->kind;
    call->suffix = d->suffix;
    call->idempotent = d->read;
    const char *name = r->name;
    if (r->method == CR_LIST_EXECUTIONS && (!name || !*name))
        name = "-"; /* every job's executions */
    if (d->kind && (!name || !*name)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s name is empty", cr_kind_noun(d->kind));
        return -1;
    }
    if (d->kind && !(call->name = cr_strdup(name))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return -1;
    }
    if (d->encode && d->encode(call, r, err) < 0) {
        cr_call_clear(call);
        return -1;
    }
    cr_hint_prepare(call, r);
    return 0;
}

int cr_call_build(cr_client *c, cr_call *call, cr_http_request *req, cr_error *err)
{
    char *target = NULL;
    if (call->path) {
        target = cr_strdup(call->path);
    } else if (call->name) {
        int rc = cr_client_resolve(c, call->name, call->kind, &target, err);
        if (rc != 0)
            return rc;
    } else {
        int rc = cr_client_known_parent(c, &target, err);
        if (rc != 0)
            return rc;
    }
    if (!target) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building a request");
        return -1;
    }
    /* The body goes to the request (built once per call): the call keeps none. */
    char *body = call->body;
    call->body = NULL;
    if (call->def->resolved && call->def->resolved(call, target, &body, err) < 0) {
        free(target);
        cr_secret_free(body);
        return -1;
    }
    int rc = cr_api_build_request(call->base ? call->base : cr_client_endpoint(c), call->http_method, target,
                                  call->suffix, call->query, body, req, err);
    free(target);
    if (rc == 0)
        req->idempotent = call->idempotent;
    return rc;
}
