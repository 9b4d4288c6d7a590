/*
** errors.h — google.rpc errors as the emulator answers them: a code name, the
** HTTP status that goes with it and a message; plus the JSON error body
** ({"error":{"code","message","status"}}) and the numeric codes an
** Operation's `error` carries. The one place that maps between them.
*/
#ifndef EMU_ERRORS_H
#define EMU_ERRORS_H

#include <stddef.h>

typedef struct emu_error {
    int status;       /* HTTP status; 0 while there is no error */
    const char *code; /* google.rpc code name (static string) */
    char message[1024];
    char field[256]; /* the request field at fault ("job.template.task_count"), "" for none */
} emu_error;

/* Sets code, the HTTP status for it and a printf message (always valid UTF-8:
** a cut or a byte that is not becomes U+FFFD). */
void emu_error_set(emu_error *err, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Like emu_error_set with an explicit HTTP status (405 for a wrong method). */
void emu_error_set_status(emu_error *err, int status, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Names the request field at fault: the body then carries a google.rpc.BadRequest
** detail with one field violation (field, and the message as its description). */
void emu_error_field(emu_error *err, const char *field);

/* The JSON error body, a new string the caller frees with free(). Always valid
** UTF-8: a byte of the message that is not is replaced by U+FFFD. */
char *emu_error_body(const emu_error *err);

/* google.rpc.Code number for a code name (NOT_FOUND -> 5), 2 (UNKNOWN) when unknown. */
int emu_code_number(const char *code);

#endif
