/*
** error.c — cr_error: google.rpc code names, their HTTP statuses, and which
** of them a read may retry. The one place that maps between the two.
*/
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void cr_error_clear(cr_error *err)
{
    if (!err)
        return;
    free(err->message);
    cJSON_Delete(err->details);
    memset(err, 0, sizeof *err);
}

void cr_error_set(cr_error *err, const char *code, int status, const char *fmt, ...)
{
    if (!err)
        return;
    cr_error_clear(err);
    snprintf(err->code, sizeof err->code, "%s", code ? code : "UNKNOWN");
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&err->message, fmt, ap) < 0)
        err->message = NULL;
    va_end(ap);
    err->retryable = cr_code_is_retryable(err->code, status);
}

/*
** Every field, details as a deep copy: a remembered failure (the token
** store's last fetch, a metadata host that did not answer) is handed to many
** callers, each of whom clears their own copy.
*/
void cr_error_copy(cr_error *dst, const cr_error *src)
{
    if (!dst || dst == src)
        return;
    cr_error_clear(dst);
    if (!src)
        return;
    memcpy(dst->code, src->code, sizeof dst->code);
    dst->code[sizeof dst->code - 1] = '\0';
    dst->status = src->status;
    dst->retryable = src->retryable;
    dst->sent = src->sent;
    dst->message = src->message ? strdup(src->message) : NULL;
    dst->details = src->details ? cJSON_Duplicate(src->details, 1) : NULL;
}

/* https://cloud.google.com/apis/design/errors "HTTP Mapping" */
static const struct {
    const char *code;
    int status;
} code_map[] = {
    {"OK", 200},
    {"INVALID_ARGUMENT", 400},
    {"FAILED_PRECONDITION", 400},
    {"OUT_OF_RANGE", 400},
    {"UNAUTHENTICATED", 401},
    {"PERMISSION_DENIED", 403},
    {"NOT_FOUND", 404},
    {"ALREADY_EXISTS", 409},
    {"ABORTED", 409},
    {"RESOURCE_EXHAUSTED", 429},
    {"CANCELLED", 499},
    {"INTERNAL", 500},
    {"UNKNOWN", 500},
    {"DATA_LOSS", 500},
    {"UNIMPLEMENTED", 501},
    {"UNAVAILABLE", 503},
    {"DEADLINE_EXCEEDED", 504},
};

/* google.rpc.Code numbers, in order: an Operation's `error.code` is one of these. */
static const char *const rpc_code_names[] = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};

const char *cr_code_name(int number)
{
    if (number < 0 || (size_t)number >= sizeof rpc_code_names / sizeof rpc_code_names[0])
        return "UNKNOWN";
    return rpc_code_names[number];
}

int cr_code_number(const char *code)
{
    for (size_t i = 0; i < sizeof rpc_code_names / sizeof rpc_code_names[0]; i++)
        if (strcmp(rpc_code_names[i], code) == 0)
            return (int)i;
    return 2; /* UNKNOWN */
}

const char *cr_code_for_http_status(int status)
{
    switch (status) {
    case 400:
        return "INVALID_ARGUMENT";
    case 401:
        return "UNAUTHENTICATED";
    case 403:
        return "PERMISSION_DENIED";
    case 404:
        return "NOT_FOUND";
    case 409:
        return "ABORTED";
    case 412:
        return "FAILED_PRECONDITION";
    case 416:
        return "OUT_OF_RANGE";
    case 429:
        return "RESOURCE_EXHAUSTED";
    case 499:
        return "CANCELLED";
    case 501:
        return "UNIMPLEMENTED";
    case 502:
        return "UNAVAILABLE";
    case 503:
        return "UNAVAILABLE";
    case 504:
        return "DEADLINE_EXCEEDED";
    default:
        break;
    }
    if (status >= 200 && status < 300)
        return "OK";
    if (status >= 400 && status < 500)
        return "FAILED_PRECONDITION";
    if (status >= 500)
        return "INTERNAL";
    return "UNKNOWN";
}

int cr_http_status_for_code(const char *code)
{
    for (size_t i = 0; i < sizeof code_map / sizeof code_map[0]; i++)
        if (strcmp(code_map[i].code, code) == 0)
            return code_map[i].status;
    return 500;
}

/*
** What a read may retry: the server said "try again" (UNAVAILABLE, 429) or a
** proxy/server hiccup (500/502/504), or the exchange timed out. Whether a
** write may be retried is decided by the caller, which knows err->sent.
*/
int cr_code_is_retryable(const char *code, int status)
{
    if (strcmp(code, "UNAVAILABLE") == 0 || strcmp(code, "RESOURCE_EXHAUSTED") == 0 ||
        strcmp(code, "DEADLINE_EXCEEDED") == 0)
        return 1;
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}
