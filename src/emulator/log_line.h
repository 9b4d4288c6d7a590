/*
** log_line.h — the emulator's request log lines on stderr ("METHOD PATH
** STATUS"): whatever a request put into one (its path, a header quoted in a
** refusal) is escaped first, so that no request drives the terminal of whoever
** runs the emulator and every line stays one line.
*/
#ifndef EMU_LOG_LINE_H
#define EMU_LOG_LINE_H

#include <stddef.h>

/* s[0..n) (NULs included) escaped as emu_utf8_escape does: a new string the
** caller frees, or NULL when out of memory. */
char *emu_log_escape(const char *s, size_t n);

/* Writes one line, printf-formatted, to stderr, the whole of it escaped (tab
** kept, newline and every other control shown as \xNN), then a newline.
** Nothing when quiet. */
void emu_log_line(int quiet, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
