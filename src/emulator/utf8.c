/*
** utf8.c — the UTF-8 checks every text that reaches an answer goes through:
** request strings (json_strict.c), paths and query values, error messages.
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

char *emu_utf8_sanitize(char *dst, size_t size, const char *src)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)src;
    size_t n = strlen(src), w = 0;
    for (size_t i = 0; i < n;) {
        size_t k = emu_utf8_sequence(p + i, n - i);
        const char *piece = k ? src + i : replacement;
        size_t len = k ? k : 3;
        if (w + len >= size)
            break;
        memcpy(dst + w, piece, len);
        w += len;
        i += k ? k : 1;
    }
    dst[w] = '\0';
    return dst;
}
