/*
** utf8.c — the UTF-8 checks every text that reaches an answer goes through:
** request strings (json_strict.c), paths and query values, error messages;
** and the escaping of what a request put into the emulator's log lines.
*/
#include <string.h>

#include "utf8.h"

size_t emu_utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

int emu_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = emu_utf8_sequence(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

int emu_text_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 0;
    return emu_utf8_valid(s, strlen(s));
}

size_t emu_utf8_length(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* Whether the valid character at s (k bytes) is one a terminal may act on: a C0
** control other than tab (newline included: a log line stays one line), DEL,
** or a C1 control (U+0080-U+009F, which some terminals take as ESC [ and such). */
static int acts_on_terminal(const unsigned char *s, size_t k)
{
    return (k == 1 && ((s[0] < 0x20 && s[0] != '\t') || s[0] == 0x7F)) || (k == 2 && s[0] == 0xC2 && s[1] < 0xA0);
}

/*
** The one walker behind emu_utf8_sanitize and emu_utf8_escape: src[0..n)
** into dst, a whole character or escape at a time so that a cut never falls
** inside one. Invalid bytes become U+FFFD (sanitize) or \xNN (escape).
*/
static char *rewrite(char *dst, size_t size, const char *src, size_t n, int escape)
{
    static const char replacement[] = "\xEF\xBF\xBD", hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)src;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t k = emu_utf8_sequence(p + i, n - i);
        char shown[16];
        const char *piece = src + i;
        size_t len = k, used = k ? k : 1;
        if (escape && (!k || acts_on_terminal(p + i, k))) {
            len = 0;
            for (size_t b = 0; b < used; b++) {
                shown[len++] = '\\';
                shown[len++] = 'x';
                shown[len++] = hex[p[i + b] >> 4];
                shown[len++] = hex[p[i + b] & 15];
            }
            piece = shown;
        } else if (!k) {
            piece = replacement;
            len = 3;
        }
        if (w + len >= size)
            break;
        memcpy(dst + w, piece, len);
        w += len;
        i += used;
    }
    dst[w] = '\0';
    return dst;
}

char *emu_utf8_sanitize(char *dst, size_t size, const char *src)
{
    return rewrite(dst, size, src, strlen(src), 0);
}

char *emu_utf8_escape(char *dst, size_t size, const char *src, size_t n)
{
    return rewrite(dst, size, src, n, 1);
}
