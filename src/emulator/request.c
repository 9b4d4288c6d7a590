/*
** request.c — a request target as sent, decoded with lengths: libmicrohttpd
** hands its handler C strings, so a %00 cut a job's name or a query value
** short, and a %2F became a path separator; here both are seen and refused.
*/
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "utf8.h"

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Whether s[i..n) starts with a %XX escape. */
static int escape_at(const char *s, size_t i, size_t n)
{
    return s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0;
}

/* Decodes s[0..n) into out (room for n + 1), as libmicrohttpd does: %XX (a
** malformed '%' kept as it is), and '+' as a space when plus. Returns the
** decoded length; out is NUL-terminated after it. */
static size_t decode(const char *s, size_t n, int plus, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (escape_at(s, i, n)) {
            out[w++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[w++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[w] = '\0';
    return w;
}

/* The bytes quoted in a message, escaped (at most 200 of them shown). */
static const char *quoted(char *buf, size_t size, const char *s, size_t n)
{
    return emu_utf8_escape(buf, size, s, n > 200 ? 200 : n);
}

/* The path's first segment (as sent, s[0..n)) that decodes to a NUL or holds an encoded '/'. 0, or -1 with err. */
static int check_segments(const char *s, size_t n, emu_error *err)
{
    for (size_t start = 0; start < n;) {
        const char *slash = memchr(s + start, '/', n - start);
        size_t end = slash ? (size_t)(slash - s) : n;
        for (size_t i = start; i < end; i++) {
            if (!escape_at(s, i, n)) /* its two hex digits are no '/': within the segment */
                continue;
            int byte = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            if (byte != 0 && byte != '/')
                continue;
            char seg[1024];
            quoted(seg, sizeof seg, s + start, end - start);
            emu_error_set(err, "INVALID_ARGUMENT",
                          byte == 0 ? "Invalid path segment \"%s\": it decodes to a NUL byte (%%00), which no name "
                                      "holds; nothing was done."
                                    : "Invalid path segment \"%s\": it holds an encoded '/' (%%2F), which would split "
                                      "a name in two; nothing was done.",
                          seg);
            return -1;
        }
        start = end + 1;
    }
    return 0;
}

int emu_target_decode(emu_target *t, const char *raw, emu_error *err)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(raw);
    const char *q = memchr(raw, '?', n);
    size_t path_n = q ? (size_t)(q - raw) : n;
    t->path = malloc(path_n + 1);
    t->text = malloc(2 * (n - path_n) + 2); /* every key and value decoded, each with its NUL */
    if (!t->path || !t->text) {
        emu_target_free(t);
        emu_error_set(err, "INTERNAL", "out of memory");
        return -1;
    }
    t->path_len = decode(raw, path_n, 0, t->path);
    int rc = check_segments(raw, path_n, err);
    char *w = t->text;
    /* every parameter is looked at, the ones past the cap too: a NUL anywhere is refused */
    for (const char *p = q ? q + 1 : NULL, *end = raw + n; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        emu_param k = {.key = w};
        k.key_len = decode(p, (size_t)((eq ? eq : stop) - p), 1, w);
        w += k.key_len + 1;
        k.value = w;
        k.value_len = eq ? decode(eq + 1, (size_t)(stop - eq - 1), 1, w) : 0;
        w[k.value_len] = '\0';
        w += k.value_len + 1;
        int bad_key = memchr(k.key, 0, k.key_len) != NULL, bad_value = memchr(k.value, 0, k.value_len) != NULL;
        if (rc == 0 && (bad_key || bad_value)) {
            char name[1024];
            quoted(name, sizeof name, k.key, k.key_len);
            if (bad_key)
                emu_error_set(err, "INVALID_ARGUMENT",
                              "Invalid query parameter name \"%s\": it holds a NUL byte (%%00); nothing was done.",
                              name);
            else
                emu_error_set(err, "INVALID_ARGUMENT",
                              "Invalid value for query parameter \"%s\": it holds a NUL byte (%%00), which would cut "
                              "it short; nothing was done.",
                              name);
            emu_error_field(err, name);
            rc = -1;
        }
        if (t->nquery < EMU_MAX_QUERY_PARAMS + 1)
            t->query[t->nquery++] = k;
        else
            w = (char *)k.key; /* not kept: its room serves the next one */
        p = amp ? amp + 1 : end;
    }
    return rc;
}

void emu_target_free(emu_target *t)
{
    free(t->path);
    free(t->text);
    memset(t, 0, sizeof *t);
}
