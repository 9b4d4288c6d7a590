/*
** errors.c — google.rpc code names, their numbers and HTTP statuses, and the
** error body every failed request gets. Statuses follow
** https://cloud.google.com/apis/design/errors ("HTTP Mapping").
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "errors.h"

static const struct {
    const char *code;
    int number;
    int status;
} codes[] = {
    {"OK", 0, 200},
    {"CANCELLED", 1, 499},
    {"UNKNOWN", 2, 500},
    {"INVALID_ARGUMENT", 3, 400},
    {"DEADLINE_EXCEEDED", 4, 504},
    {"NOT_FOUND", 5, 404},
    {"ALREADY_EXISTS", 6, 409},
    {"PERMISSION_DENIED", 7, 403},
    {"RESOURCE_EXHAUSTED", 8, 429},
    {"FAILED_PRECONDITION", 9, 400},
    {"ABORTED", 10, 409},
    {"OUT_OF_RANGE", 11, 400},
    {"UNIMPLEMENTED", 12, 501},
    {"INTERNAL", 13, 500},
    {"UNAVAILABLE", 14, 503},
    {"DATA_LOSS", 15, 500},
    {"UNAUTHENTICATED", 16, 401},
};

static int lookup(const char *code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].code, code) == 0)
            return (int)i;
    return 2; /* UNKNOWN */
}

static void set_va(emu_error *err, int status, const char *code, const char *fmt, va_list ap)
{
    int i = lookup(code);
    err->code = codes[i].code;
    err->status = status ? status : codes[i].status;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void emu_error_set(emu_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, 0, code, fmt, ap);
    va_end(ap);
}

void emu_error_set_status(emu_error *err, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, status, code, fmt, ap);
    va_end(ap);
}

char *emu_error_body(const emu_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(e, "code", err->status ? err->status : 500);
    cJSON_AddStringToObject(e, "message", err->message);
    cJSON_AddStringToObject(e, "status", err->code ? err->code : "UNKNOWN");
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

int emu_code_number(const char *code)
{
    return codes[lookup(code)].number;
}
