/*
** json_walk.c — JSON text walked without building a tree: each value handed
** to a callback as it is met, for readers that build their own values (the
** Lua binding's tables) or look for one field. It accepts exactly what
** cJSON_ParseWithLengthOpts accepts (without require_null_terminated) and
** reads every value as cJSON does, so that both readings of one answer agree.
*/
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* cJSON's CJSON_NESTING_LIMIT: deeper arrays and objects are a syntax error. */
#define NESTING_LIMIT 1000

typedef struct walker {
    const unsigned char *p;
    size_t len, off, depth;
    const cr_json_events *ev;
    void *ud;
    int stop; /* a callback's non-zero answer */
} walker;

/* Calls event fn (when the reader has one); its non-zero answer stops the walk. */
#define EMIT(w, fn, ...)                                                                                               \
    do {                                                                                                               \
        if ((w)->ev->fn && ((w)->stop = (w)->ev->fn((w)->ud, __VA_ARGS__)) != 0)                                       \
            return -1;                                                                                                 \
    } while (0)
#define EMIT0(w, fn)                                                                                                   \
    do {                                                                                                               \
        if ((w)->ev->fn && ((w)->stop = (w)->ev->fn((w)->ud)) != 0)                                                    \
            return -1;                                                                                                 \
    } while (0)

/* cJSON skips every byte up to the space, control characters and NULs included. */
static void skip_space(walker *w)
{
    while (w->off < w->len && w->p[w->off] <= 32)
        w->off++;
}

/* cJSON's parse_hex4: an invalid digit makes the whole code 0 (not an error). */
static unsigned hex4(const unsigned char *s)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return 0;
        h = (h << 4) | d;
    }
    return h;
}

/*
** One escape at s (a backslash) in a string that ends at `end`: how many
** input bytes it takes and its code point, or 0 where cJSON fails the parse.
** Shared by the walk (which checks) and cr_json_unescape (which decodes), so
** that a string the walk accepted always decodes.
*/
static size_t escape_at(const unsigned char *s, const unsigned char *end, unsigned long *cp)
{
    switch (s[1]) {
    case 'b':
        *cp = '\b';
        return 2;
    case 'f':
        *cp = '\f';
        return 2;
    case 'n':
        *cp = '\n';
        return 2;
    case 'r':
        *cp = '\r';
        return 2;
    case 't':
        *cp = '\t';
        return 2;
    case '"':
    case '\\':
    case '/':
        *cp = s[1];
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    if (end - s < 6)
        return 0;
    unsigned first = hex4(s + 2);
    if (first >= 0xDC00 && first <= 0xDFFF)
        return 0;
    if (first < 0xD800 || first > 0xDBFF) {
        *cp = first;
        return 6;
    }
    if (end - (s + 6) < 6 || s[6] != '\\' || s[7] != 'u')
        return 0;
    unsigned second = hex4(s + 8);
    if (second < 0xDC00 || second > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((unsigned long)(first & 0x3FF) << 10) | (second & 0x3FF));
    return 12;
}

/* Both unescapes: `whole` keeps a NUL (\u0000) as a byte where cJSON ends the string. */
static size_t unescape(const char *raw, size_t len, char *out, size_t cap, int whole)
{
    const unsigned char *s = (const unsigned char *)raw, *end = s + len;
    size_t n = 0;
    while (s < end) {
        unsigned long cp;
        size_t take = 1;
        if (*s != '\\') {
            cp = *s;
        } else if (!(take = escape_at(s, end, &cp))) {
            break; /* not reached for a string the walk handed over */
        }
        if (cp == 0 && !whole)
            break; /* cJSON's strings end at their first NUL */
        unsigned char utf8[4];
        size_t k;
        if (*s != '\\' || cp < 0x80) {
            utf8[0] = (unsigned char)cp;
            k = 1;
        } else if (cp < 0x800) {
            utf8[0] = (unsigned char)(0xC0 | (cp >> 6));
            utf8[1] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            utf8[0] = (unsigned char)(0xE0 | (cp >> 12));
            utf8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[2] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            utf8[0] = (unsigned char)(0xF0 | (cp >> 18));
            utf8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            utf8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[3] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (n + k > cap)
            break;
        /* the output never gets ahead of the input (k <= take): `out` may be `raw` */
        memcpy(out + n, utf8, k);
        n += k;
        s += take;
    }
    return n;
}

size_t cr_json_unescape(const char *raw, size_t len, char *out, size_t cap)
{
    return unescape(raw, len, out, cap, 0);
}

size_t cr_json_unescape_whole(const char *raw, size_t len, char *out, size_t cap)
{
    return unescape(raw, len, out, cap, 1);
}

/* A string at w->off (its opening quote): its raw bytes checked as cJSON decodes them. */
static int walk_string(walker *w, int is_key)
{
    const unsigned char *start = w->p + w->off + 1, *limit = w->p + w->len;
    /* most strings have no backslash: the closing quote is the first quote */
    const unsigned char *end = memchr(start, '"', (size_t)(limit - start));
    if (!end)
        return -1;
    const unsigned char *bs = memchr(start, '\\', (size_t)(end - start));
    int escaped = bs != NULL;
    if (escaped) {
        end = bs;
        /* from the first backslash on, each one takes the byte after it along */
        while (end < limit && *end != '"') {
            if (*end == '\\') {
                if (end + 1 >= limit)
                    return -1;
                end++;
            }
            end++;
        }
        if (end >= limit)
            return -1;
    }
    if (escaped) {
        for (const unsigned char *s = start; s < end;) {
            unsigned long cp;
            size_t take = *s == '\\' ? escape_at(s, end, &cp) : 1;
            if (!take)
                return -1;
            s += take;
        }
    }
    size_t n = (size_t)(end - start);
    if (is_key)
        EMIT(w, key, (const char *)start, n, escaped);
    else
        EMIT(w, string, (const char *)start, n, escaped);
    w->off = (size_t)(end - w->p) + 1;
    return 0;
}

/* cJSON's parse_number: at most 63 bytes of [0-9+-eE.] through strtod, in the locale's decimal point. */
static int walk_number(walker *w)
{
    char buf[64];
    char point = localeconv()->decimal_point[0];
    size_t i = 0;
    for (; i < sizeof buf - 1 && w->off + i < w->len; i++) {
        unsigned char c = w->p[w->off + i];
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E')
            buf[i] = (char)c;
        else if (c == '.')
            buf[i] = point;
        else
            break;
    }
    buf[i] = '\0';
    char *after = NULL;
    double d = strtod(buf, &after);
    if (after == buf)
        return -1;
    w->off += (size_t)(after - buf);
    EMIT(w, number, d);
    return 0;
}

static int walk_value(walker *w);

/* After its first byte ('[' or '{'): the members, separated by commas, up to `close`. */
static int walk_container(walker *w, int object)
{
    if (w->depth >= NESTING_LIMIT)
        return -1;
    w->depth++;
    if (object)
        EMIT0(w, begin_object);
    else
        EMIT0(w, begin_array);
    unsigned char close = object ? '}' : ']';
    w->off++;
    skip_space(w);
    if (w->off < w->len && w->p[w->off] == close) {
        w->off++;
    } else {
        for (;;) {
            skip_space(w);
            if (object) {
                if (w->off >= w->len || w->p[w->off] != '"' || walk_string(w, 1) < 0)
                    return -1;
                skip_space(w);
                if (w->off >= w->len || w->p[w->off] != ':')
                    return -1;
                w->off++;
                skip_space(w);
            }
            if (walk_value(w) < 0)
                return -1;
            skip_space(w);
            if (w->off < w->len && w->p[w->off] == ',') {
                w->off++;
                continue;
            }
            if (w->off >= w->len || w->p[w->off] != close)
                return -1;
            w->off++;
            break;
        }
    }
    w->depth--;
    if (object)
        EMIT0(w, end_object);
    else
        EMIT0(w, end_array);
    return 0;
}

/* cJSON tries null, false and true first, then looks at the first byte: the
** same, in the other order (no literal starts like another kind of value). */
static int walk_value(walker *w)
{
    const unsigned char *s = w->p + w->off;
    size_t left = w->len - w->off;
    if (w->off >= w->len)
        return -1;
    switch (*s) {
    case '"':
        return walk_string(w, 0);
    case '{':
    case '[':
        return walk_container(w, *s == '{');
    case 'n':
        if (left < 4 || memcmp(s, "null", 4) != 0)
            return -1;
        w->off += 4;
        EMIT0(w, null);
        return 0;
    case 'f':
        if (left < 5 || memcmp(s, "false", 5) != 0)
            return -1;
        w->off += 5;
        EMIT(w, boolean, 0);
        return 0;
    case 't':
        if (left < 4 || memcmp(s, "true", 4) != 0)
            return -1;
        w->off += 4;
        EMIT(w, boolean, 1);
        return 0;
    default:
        if (*s == '-' || (*s >= '0' && *s <= '9'))
            return walk_number(w);
        return -1;
    }
}

int cr_json_walk(const char *text, size_t len, const cr_json_events *ev, void *ud)
{
    walker w = {(const unsigned char *)text, len, 0, 0, ev, ud, 0};
    if (!text || len == 0)
        return -1;
    /* a UTF-8 byte order mark, skipped as cJSON skips it (when 5 bytes or more follow it, sic) */
    if (len >= 5 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        w.off = 3;
    skip_space(&w);
    if (walk_value(&w) < 0)
        return w.stop ? w.stop : -1;
    return 0;
}
