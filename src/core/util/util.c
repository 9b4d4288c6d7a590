/*
** util.c — the small helpers of util.h: string copies, the growing buffer,
** base64url, URL escaping, whole-file reads, clocks and memory wiping.
*/
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

char *cr_strdup(const char *s)
{
    return s ? cr_strndup(s, strlen(s)) : NULL;
}

char *cr_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cr_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/*
** Growth wipes the old block: a buffer may carry a JWT assertion or a token
** response, and realloc would leave the old copy behind in freed memory.
*/
static int buf_reserve(cr_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *n = malloc(cap);
    if (!n) {
        b->failed = 1;
        return -1;
    }
    if (b->data) {
        memcpy(n, b->data, b->len);
        cr_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = n;
    b->cap = cap;
    return 0;
}

void cr_buf_append(cr_buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void cr_buf_puts(cr_buf *b, const char *s)
{
    cr_buf_append(b, s, strlen(s));
}

void cr_buf_printf(cr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    cr_buf_append(b, s, (size_t)n);
    free(s);
}

char *cr_buf_take(cr_buf *b, size_t *len)
{
    if (b->failed) {
        cr_buf_free(b);
        return NULL;
    }
    if (!b->data && buf_reserve(b, 0) < 0)
        return NULL;
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void cr_buf_free(cr_buf *b)
{
    if (b->data) {
        cr_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *cr_base64url_encode(const unsigned char *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

unsigned char *cr_base64url_decode(const char *text, size_t len, size_t *out_len)
{
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len * 3 / 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(text[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

char *cr_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

char *cr_read_file(const char *path, size_t *len, const char *what, cr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        cr_error_set(err, e == ENOENT ? "NOT_FOUND" : e == EACCES ? "PERMISSION_DENIED" : "INVALID_ARGUMENT", 0,
                     "%s %s: %s", what, path, strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: is a directory", what, path);
        return NULL;
    }
    cr_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cr_buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    cr_wipe(chunk, sizeof chunk);
    if (failed) {
        cr_buf_free(&b);
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: read error", what, path);
        return NULL;
    }
    char *data = cr_buf_take(&b, len);
    if (!data)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, path);
    return data;
}

int64_t cr_unix_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

double cr_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cr_wipe(void *p, size_t n)
{
    if (p)
        explicit_bzero(p, n);
}

const char *cr_getenv(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void cr_secret_free(char *secret)
{
    if (secret) {
        cr_wipe(secret, strlen(secret));
        free(secret);
    }
}
