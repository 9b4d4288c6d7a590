/*
** errors.c — google.rpc code names, their numbers and HTTP statuses, and the
** error body every failed request gets; the code tables themselves are the
** core's (cr_code_number, cr_http_status_for_code).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cloudrun.h"
#include "errors.h"
#include "utf8.h"

static void set_va(emu_error *err, int status, const char *code, const char *fmt, va_list ap)
{
    err->code = cr_code_name(cr_code_number(code)); /* a static string, UNKNOWN for nonsense */
    err->status = status ? status : cr_http_status_for_code(err->code);
    /* messages quote what clients sent, and a long one is cut: never inside a character */
    char text[sizeof err->message];
    vsnprintf(text, sizeof text, fmt, ap);
    emu_utf8_sanitize(err->message, sizeof err->message, text);
    err->field[0] = '\0';
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

void emu_error_field(emu_error *err, const char *field)
{
    emu_utf8_sanitize(err->field, sizeof err->field, field ? field : "");
}

char *emu_error_body(const emu_error *err)
{
    /* messages quote what clients sent (paths, values): never let a byte through that is not UTF-8 */
    char message[sizeof err->message * 3 / 2], field[sizeof err->field * 3 / 2];
    emu_utf8_sanitize(message, sizeof message, err->message);
    emu_utf8_sanitize(field, sizeof field, err->field);
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(e, "code", err->status ? err->status : 500);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "status", err->code ? err->code : "UNKNOWN");
    if (field[0]) {
        cJSON *bad = cJSON_CreateObject();
        cJSON_AddStringToObject(bad, "@type", "type.googleapis.com/google.rpc.BadRequest");
        cJSON *violation = cJSON_CreateObject();
        cJSON_AddStringToObject(violation, "field", field);
        cJSON_AddStringToObject(violation, "description", message);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(bad, "fieldViolations"), violation);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "details"), bad);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

int emu_code_number(const char *code)
{
    return cr_code_number(code);
}
