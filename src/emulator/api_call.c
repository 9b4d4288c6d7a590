/*
** api_call.c — what the handlers share: the query and body of a call,
** Cloud Run's NOT_FOUND, paging, lookups under the call's parent, and
** operations around a finished change.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_call.h"
#include "lifecycle.h"
#include "resource_json.h"
#include "wire_values.h"

/* ---- small helpers -------------------------------------------------------------- */

/* A query parameter's value by its JSON name (checked_query has made sure
** it came at most once, by either of its names). */
const char *call_query(const call *c, const char *name)
{
    char snake[64];
    size_t w = 0;
    for (const char *p = name; *p && w + 2 < sizeof snake; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            snake[w++] = '_';
            snake[w++] = (char)(*p - 'A' + 'a');
        } else {
            snake[w++] = *p;
        }
    }
    snake[w] = '\0';
    for (size_t i = 0; i < c->req->nquery; i++)
        if (strcmp(c->req->query[i].key, name) == 0 || strcmp(c->req->query[i].key, snake) == 0)
            return c->req->query[i].value;
    return NULL;
}

/* A bool query parameter (checked: true, false, 1 or 0). */
int call_query_bool(const call *c, const char *name)
{
    const char *v = call_query(c, name);
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

int call_body_bool(const call *c, const char *key)
{
    return c->body && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->body, key));
}

const char *call_body_string(const call *c, const char *key)
{
    const cJSON *v = c->body ? cJSON_GetObjectItemCaseSensitive(c->body, key) : NULL;
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

cJSON *call_not_found(call *c, const char *id, const char *kind)
{
    emu_error_set(&c->err, "NOT_FOUND", "Resource '%s' of kind '%s' in region '%s' in project '%s' does not exist.", id,
                  kind, c->rt.location, c->rt.project);
    return NULL;
}

/* pageSize: the default when absent or 0, at most MAX_PAGE_SIZE (checked_query has made it an int32). */
int call_page_size(call *c, int *size)
{
    const char *ps = call_query(c, "pageSize");
    *size = DEFAULT_PAGE_SIZE;
    if (ps) {
        long v = strtol(ps, NULL, 10);
        if (v < 0) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "pageSize must not be negative, got %ld.", v);
            emu_error_field(&c->err, "page_size");
            return -1;
        }
        if (v > 0)
            *size = v > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : (int)v;
    }
    return 0;
}

/* A page token: the decimal text of a non-negative int64, or -1 when it is not one. */
long long call_token_value(const char *text, const char **end)
{
    if (!isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *stop;
    long long v = strtoll(text, &stop, 10);
    if (errno == ERANGE)
        return -1;
    *end = stop;
    return v;
}

/* pageSize and pageToken; the token is the opaque position after the last item. */
int call_paging(call *c, int *size, long long *token)
{
    const char *pt = call_query(c, "pageToken");
    *token = -1;
    if (call_page_size(c, size) < 0)
        return -1;
    if (pt && *pt) {
        const char *end = pt;
        long long v = call_token_value(pt, &end);
        if (v < 0 || *end) {
            emu_error_set(&c->err, "INVALID_ARGUMENT", "Invalid pageToken '%s'.", pt);
            emu_error_field(&c->err, "page_token");
            return -1;
        }
        *token = v;
    }
    return 0;
}

void call_add_token(cJSON *page, long long token)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", token);
    cJSON_AddStringToObject(page, "nextPageToken", buf);
}

int call_same_parent(const call *c, const char *project, const char *location)
{
    return strcmp(project, c->rt.project) == 0 && strcmp(location, c->rt.location) == 0;
}

emu_job *call_find_job(call *c, const char *id)
{
    emu_job *j = emu_store_find_job(c->s, c->rt.project, c->rt.location, id);
    if (!j)
        call_not_found(c, id, "JOB");
    return j;
}

emu_execution *call_find_execution(call *c, const char *job, const char *id)
{
    emu_execution *e = emu_store_find_execution(c->s, c->rt.project, c->rt.location, job, id);
    if (!e)
        call_not_found(c, id, "EXECUTION");
    return e;
}

/* Stores a finished operation around a resource and answers with it. */
cJSON *call_done_operation(call *c, cJSON *resource, const char *type)
{
    emu_operation *op =
        emu_store_add_operation(c->s, c->rt.project, c->rt.location, emu_done_operation(resource, type), NULL);
    if (!op) {
        emu_error_set(&c->err, "INTERNAL", "out of memory");
        return NULL;
    }
    cJSON *json = emu_operation_json(op);
    emu_operations_expire(c->s); /* may drop op itself when keep_operations is 0: rendered first */
    return json;
}

/* The answer to a validateOnly request: a finished operation around what
** would have been, never stored (validateOnly creates nothing, operations
** included; the answer is done, so no client polls it). */
cJSON *call_validated_operation(call *c, cJSON *resource, const char *type)
{
    char uuid[37];
    emu_uuid4(uuid);
    char *name = emu_strfmt("projects/%s/locations/%s/operations/%s", c->rt.project, c->rt.location, uuid);
    cJSON *json = name ? emu_named_operation(name, emu_done_operation(resource, type)) : NULL;
    free(name);
    if (!json) {
        cJSON_Delete(resource);
        emu_error_set(&c->err, "INTERNAL", "out of memory");
    }
    return json;
}

int call_etag_matches(call *c, const char *want, const char *have, const char *what)
{
    if (!want || strcmp(want, have) == 0)
        return 1;
    emu_error_set(&c->err, "ABORTED", "The etag '%s' does not match the current etag of %s '%s'.", want, what, have);
    return 0;
}

emu_operation *call_find_operation(call *c, const char *id)
{
    char name[1024];
    snprintf(name, sizeof name, "projects/%s/locations/%s/operations/%s", c->rt.project, c->rt.location, id);
    emu_operation *op = emu_store_find_operation(c->s, name);
    if (!op)
        emu_error_set(&c->err, "NOT_FOUND", "Operation '%s' does not exist.", name);
    return op;
}
