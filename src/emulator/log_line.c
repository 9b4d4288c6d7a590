/*
** log_line.c — request log lines escaped whole: a cross-site <img> may name
** any path, and a decoded path holding ESC ] 0 ; ... BEL would set the
** terminal's title (or, with OSC 52, its clipboard) if written raw.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log_line.h"
#include "utf8.h"

char *emu_log_escape(const char *s, size_t n)
{
    size_t size = 4 * n + 1; /* each byte at most \xNN */
    char *out = malloc(size);
    return out ? emu_utf8_escape(out, size, s, n) : NULL;
}

void emu_log_line(int quiet, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    char small[512], *text = small;
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof small) {
        text = malloc((size_t)n + 1);
        if (!text)
            return;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    char *line = emu_log_escape(text, (size_t)n);
    if (line)
        fprintf(stderr, "%s\n", line);
    free(line);
    if (text != small)
        free(text);
}
