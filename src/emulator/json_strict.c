/*
** json_strict.c — a strict RFC 8259 scanner run over request bytes before
** cJSON sees them (cJSON alone accepts trailing garbage, any byte as a
** string, control characters as whitespace and numbers it then truncates);
** its strings' UTF-8 is checked by utf8.c.
*/
#include <stdlib.h>
#include <string.h>

#include "cloudrun.h"
#include "json_strict.h"
#include "utf8.h"

int emu_json_replace(cJSON *parent, cJSON *item, cJSON *replacement)
{
    if (!replacement)
        return -1;
    if (item->string) { /* cJSON_ReplaceItemViaPointer leaves the key behind */
        size_t n = strlen(item->string) + 1;
        char *key = malloc(n);
        if (!key) {
            cJSON_Delete(replacement);
            return -1;
        }
        memcpy(key, item->string, n);
        replacement->string = key;
        replacement->type &= ~cJSON_StringIsConst;
    }
    cJSON_ReplaceItemViaPointer(parent, item, replacement);
    return 0;
}

/* ---- the scanner ---------------------------------------------------------------------- */

typedef struct scan {
    const unsigned char *start, *p, *end;
    int depth;
    long values;
    const char *why;
} scan;

static int fail(scan *s, const char *why)
{
    if (!s->why)
        s->why = why;
    return -1;
}

static void skip_space(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(scan *s, unsigned *out)
{
    if (s->end - s->p < 4)
        return fail(s, "an incomplete \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(s, "a \\u escape that is not 4 hex digits");
    }
    s->p += 4;
    *out = v;
    return 0;
}

static int string(scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "a control character in a string (it must be escaped)");
        if (c == '\\') {
            s->p++;
            if (s->p >= s->end)
                break;
            c = *s->p++;
            if (c == 'u') {
                unsigned cp;
                if (hex4(s, &cp) < 0)
                    return -1;
                if (cp == 0) {
                    s->p -= 6;
                    return fail(s, "\\u0000 in a string");
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    s->p -= 6;
                    return fail(s, "a lone UTF-16 low surrogate escape");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned low;
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
                        return fail(s, "a UTF-16 high surrogate escape without its low half");
                    s->p += 2;
                    if (hex4(s, &low) < 0)
                        return -1;
                    if (low < 0xDC00 || low > 0xDFFF) {
                        s->p -= 6;
                        return fail(s, "a UTF-16 high surrogate escape without its low half");
                    }
                }
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                s->p--;
                return fail(s, "an invalid escape in a string");
            }
            continue;
        }
        size_t k = emu_utf8_sequence(s->p, (size_t)(s->end - s->p));
        if (!k)
            return fail(s, "invalid UTF-8 in a string");
        s->p += k;
    }
    return fail(s, "an unterminated string");
}

static int digits(scan *s)
{
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return fail(s, "a malformed number");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return 0;
}

static int number(scan *s)
{
    const unsigned char *at = s->p;
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (digits(s) < 0) {
        return -1;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) < 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s) < 0)
            return -1;
    }
    if (s->p - at > EMU_JSON_MAX_NUMBER) {
        s->p = at;
        return fail(s, "a number literal too long");
    }
    return 0;
}

static int literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "an unexpected token");
    s->p += n;
    return 0;
}

static int value(scan *s);

static int container(scan *s, unsigned char close)
{
    if (++s->depth > EMU_JSON_MAX_DEPTH)
        return fail(s, "nesting too deep");
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        skip_space(s);
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"')
                return fail(s, "an object key that is not a string");
            if (string(s) < 0)
                return -1;
            skip_space(s);
            if (s->p >= s->end || *s->p != ':')
                return fail(s, "a missing ':' after an object key");
            s->p++;
        }
        if (value(s) < 0)
            return -1;
        skip_space(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }
        return fail(s, close == '}' ? "a missing ',' or '}' in an object" : "a missing ',' or ']' in a list");
    }
}

static int value(scan *s)
{
    skip_space(s);
    if (s->p >= s->end)
        return fail(s, "an unexpected end of the text");
    if (++s->values > EMU_JSON_MAX_VALUES)
        return fail(s, "too many values");
    switch (*s->p) {
    case '{':
        return container(s, '}');
    case '[':
        return container(s, ']');
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return number(s);
        return fail(s, "an unexpected token");
    }
}

long emu_json_check(const char *text, size_t len, const char **why)
{
    scan s = {(const unsigned char *)text, (const unsigned char *)text, (const unsigned char *)text + len, 0, 0, NULL};
    if (value(&s) == 0) {
        skip_space(&s);
        if (s.p == s.end)
            return -1;
        fail(&s, "text after the JSON value");
    }
    *why = s.why;
    return (long)(s.p - s.start);
}

cJSON *emu_json_parse_strict(const char *text, size_t len, emu_error *err)
{
    const char *why = NULL;
    long at = emu_json_check(text, len, &why);
    if (at >= 0) {
        emu_error_set(err, "INVALID_ARGUMENT", "Invalid JSON payload received. %s at byte %ld.",
                      why ? why : "Unexpected token", at);
        /* capitalised as Google's messages are */
        char *w = err->message + strlen("Invalid JSON payload received. ");
        if (*w >= 'a' && *w <= 'z')
            *w = (char)(*w - 'a' + 'A');
        return NULL;
    }
    /* valid by now: cJSON fails only out of memory (and keeps its one global error behind the core's lock) */
    cJSON *root = cr_json_parse(text, len, NULL);
    if (!root)
        emu_error_set(err, "RESOURCE_EXHAUSTED", "The request could not be read: out of memory.");
    return root;
}
