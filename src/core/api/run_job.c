/*
** run_job.c — the RunJob request as data: the URL and the RunJobRequest JSON
** body with its per-execution overrides (v2 REST field names live here).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/util.h"

/*
** The body is written straight from the options, without a cJSON tree (a
** RunJob is the call that is made thousands of times): the bytes are those
** cJSON_PrintUnformatted gives for the same tree — keys in this order, strings
** escaped as cJSON escapes them (", \, \b \f \n \r \t, other bytes below 32 as
** \u00xx, the rest as they are), whole numbers in decimal.
*/
typedef struct json_out {
    char *p;  /* NULL: only count */
    size_t n; /* bytes written (or counted) */
    int first;
} json_out;

static void put(json_out *o, const char *s, size_t len)
{
    if (o->p)
        memcpy(o->p + o->n, s, len);
    o->n += len;
}

#define PUT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_string(json_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    PUT(o, "\"");
    const char *run = s;
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 31 && c != '"' && c != '\\')
            continue;
        put(o, run, (size_t)(s - run));
        if (c == '\0')
            break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
            break;
        }
        put(o, esc, len);
        run = s + 1;
    }
    PUT(o, "\"");
}

/* A member's key, after a comma unless it is the object's first. */
static void put_key(json_out *o, const char *key)
{
    if (!o->first)
        PUT(o, ",");
    o->first = 0;
    put_string(o, key);
    PUT(o, ":");
}

/* One ContainerOverride: only what is set (an empty args list is sent: the caller gave it). */
static void put_container(json_out *o, const cr_container_override *c)
{
    PUT(o, "{");
    o->first = 1;
    if (c->name) {
        put_key(o, "name");
        put_string(o, c->name);
    }
    if (c->has_args) {
        put_key(o, "args");
        PUT(o, "[");
        for (size_t i = 0; i < c->nargs; i++) {
            if (i)
                PUT(o, ",");
            put_string(o, c->args[i]);
        }
        PUT(o, "]");
    }
    if (c->nenv > 0) {
        put_key(o, "env");
        PUT(o, "[");
        for (size_t i = 0; i < c->nenv; i++) {
            if (i)
                PUT(o, ",");
            PUT(o, "{\"name\":");
            put_string(o, c->env[i].name);
            PUT(o, ",\"value\":");
            put_string(o, c->env[i].value ? c->env[i].value : "");
            PUT(o, "}");
        }
        PUT(o, "]");
    }
    if (c->clear_args) {
        put_key(o, "clearArgs");
        PUT(o, "true");
    }
    PUT(o, "}");
}

/* The one container the single-container options override, as an override of it. */
static cr_container_override single_container(const cr_run_job_options *opts)
{
    cr_container_override c = {opts->container, opts->args, opts->nargs,     opts->has_args,
                               opts->env,       opts->nenv, opts->clear_args};
    return c;
}

const char *cr_api_run_job_single_option(const cr_run_job_options *opts)
{
    return !opts              ? NULL
           : opts->has_args   ? "args"
           : opts->nenv > 0   ? "env"
           : opts->clear_args ? "clear_args"
           : opts->container  ? "container"
                              : NULL;
}

int cr_api_run_job_has_overrides(const cr_run_job_options *opts)
{
    return cr_api_run_job_single_option(opts) ||
           (opts && (opts->ncontainers > 0 || opts->task_count > 0 || opts->timeout_nanos > 0));
}

int cr_api_run_job_check_containers(const cr_container_override *items, size_t n, cr_error *err)
{
    if (n > 0 && !items) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "containers: %zu overrides given without their list", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const cr_container_override *c = &items[i];
        if (!c->name || !*c->name) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "containers[%zu] names no container", i + 1);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(items[k].name, c->name) == 0) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "containers: container '%.100s' is named twice", c->name);
                return -1;
            }
        for (size_t k = 0; k < c->nargs; k++)
            if (!c->args || !c->args[k]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "containers: '%.100s': args[%zu] is NULL", c->name, k + 1);
                return -1;
            }
        for (size_t k = 0; k < c->nenv; k++)
            if (!c->env || !c->env[k].name || !c->env[k].name[0]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "containers: '%.100s': env[%zu] has no name", c->name, k + 1);
                return -1;
            }
    }
    return 0;
}

/*
** Only what the caller set is sent: the server merges env, replaces args and
** treats an absent taskCount/timeout as "use the job's". A container override
** is sent when any container-level field is set: one for the single-container
** options, or one per entry of `containers`, in their order.
*/
static void write_body(json_out *o, const cr_run_job_options *opts)
{
    PUT(o, "{");
    o->first = 1;
    int has_single = cr_api_run_job_single_option(opts) != NULL;
    int has_container = has_single || (opts && opts->ncontainers > 0);
    int has_overrides = cr_api_run_job_has_overrides(opts);
    if (opts && opts->validate_only) {
        put_key(o, "validateOnly");
        PUT(o, "true");
    }
    if (opts && opts->etag) {
        put_key(o, "etag");
        put_string(o, opts->etag);
    }
    if (has_overrides) {
        put_key(o, "overrides");
        PUT(o, "{");
        o->first = 1;
        if (has_container) {
            put_key(o, "containerOverrides");
            PUT(o, "[");
            if (has_single) {
                cr_container_override one = single_container(opts);
                put_container(o, &one);
            }
            for (size_t i = 0; !has_single && i < opts->ncontainers; i++) {
                if (i)
                    PUT(o, ",");
                put_container(o, &opts->containers[i]);
            }
            PUT(o, "]");
            o->first = 0;
        }
        if (opts->task_count > 0) {
            char buf[16];
            int n = snprintf(buf, sizeof buf, "%d", (int)opts->task_count);
            put_key(o, "taskCount");
            put(o, buf, (size_t)n);
        }
        if (opts->timeout_nanos > 0) {
            char buf[40];
            put_key(o, "timeout");
            put_string(o, cr_duration_format(opts->timeout_nanos, buf, sizeof buf));
        }
        PUT(o, "}");
    }
    PUT(o, "}");
}

char *cr_api_run_job_body(const cr_run_job_options *opts, cr_error *err)
{
    if (opts) {
        for (size_t i = 0; i < opts->nargs; i++)
            if (!opts->args[i]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "args[%zu] is NULL", i + 1);
                return NULL;
            }
        for (size_t i = 0; i < opts->nenv; i++)
            if (!opts->env[i].name || !opts->env[i].name[0]) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "env[%zu] has no name", i + 1);
                return NULL;
            }
        if (opts->task_count < 0) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "task_count must not be negative");
            return NULL;
        }
        const char *single = cr_api_run_job_single_option(opts);
        if (single && opts->ncontainers > 0) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, CR_RUN_JOB_BOTH_FORMS, single);
            return NULL;
        }
        if (cr_api_run_job_check_containers(opts->containers, opts->ncontainers, err) < 0)
            return NULL;
    }
    json_out count = {NULL, 0, 1};
    write_body(&count, opts);
    json_out out = {malloc(count.n + 1), 0, 1};
    if (!out.p) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory building RunJob");
        return NULL;
    }
    write_body(&out, opts);
    out.p[out.n] = '\0';
    return out.p;
}

int cr_api_build_run_job(const char *endpoint, const char *job_name, const cr_run_job_options *opts,
                         cr_http_request *req, cr_error *err)
{
    memset(req, 0, sizeof *req);
    char *text = cr_api_run_job_body(opts, err);
    if (!text)
        return -1;
    return cr_api_build_request(endpoint, "POST", job_name, ":run", NULL, text, req, err);
}

/* The Execution name lives in the Operation's metadata from the first answer on (cr_execution_name_pick's rule). */
const char *cr_api_operation_execution(const cJSON *op)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(op, "metadata");
    const cJSON *md_name = cJSON_GetObjectItemCaseSensitive(md, "name");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(op, "response");
    const cJSON *resp_name = cJSON_GetObjectItemCaseSensitive(resp, "name");
    return cr_execution_name_pick(NULL, cJSON_IsString(md_name) ? md_name->valuestring : NULL,
                                  cJSON_IsString(resp_name) ? resp_name->valuestring : NULL, NULL);
}
