/*
** util.c — the small helpers of util.h: string copies, the growing buffer,
** base64url, URL escaping, whole-file reads, clocks and memory wiping.
*/
#define _GNU_SOURCE
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

char *cr_concat(const char *first, ...)
{
    va_list ap;
    size_t len = 0;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        len += strlen(p);
    va_end(ap);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    char *w = out;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *)) {
        size_t n = strlen(p);
        memcpy(w, p, n);
        w += n;
    }
    va_end(ap);
    *w = '\0';
    return out;
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
int cr_buf_reserve(cr_buf *b, size_t extra)
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
    if (cr_buf_reserve(b, len) < 0)
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
    if (!b->data && cr_buf_reserve(b, 0) < 0)
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
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
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

/*
** Why regular files only, opened without blocking, and a size cap: a path
** that names a FIFO would block the caller forever, a device (/dev/zero) or a
** huge sparse file would eat memory, and no file we read comes near its cap.
*/
static void too_large(const char *path, size_t max, const char *what, cr_error *err)
{
    cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: larger than %zu bytes, the most that is read", what, path, max);
}

/* The file opened for reading when it is a regular file of at most max bytes: its fd, or -1 with err set. */
static int open_regular(const char *path, size_t max, const char *what, cr_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        cr_error_set(err,
                     e == ENOENT   ? "NOT_FOUND"
                     : e == EACCES ? "PERMISSION_DENIED"
                                   : "INVALID_ARGUMENT",
                     0, "%s %s: %s", what, path, strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: is a directory", what, path);
        else
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: not a regular file", what, path);
        return -1;
    }
    if ((uintmax_t)st.st_size > max) {
        close(fd);
        too_large(path, max, what, err);
        return -1;
    }
    return fd;
}

int cr_file_contains(const char *path, const char *needle, const char *what, cr_error *err)
{
    int fd = open_regular(path, CR_MAX_FILE, what, err);
    if (fd < 0)
        return -1;
    size_t keep = strlen(needle) - 1, have = 0, total = 0;
    char buf[4096 + 64];
    ssize_t n;
    int found = 0;
    /* each chunk after the tail of the last, so that a needle across two chunks is found */
    while (!found && (n = read(fd, buf + have, sizeof buf - have - 1)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: read error", what, path);
            return -1;
        }
        if ((total += (size_t)n) > CR_MAX_FILE) {
            close(fd);
            too_large(path, CR_MAX_FILE, what, err);
            return -1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        found = memmem(buf, have, needle, keep + 1) != NULL;
        if (have > keep) {
            memmove(buf, buf + have - keep, keep);
            have = keep;
        }
    }
    close(fd);
    return found;
}

char *cr_read_file(const char *path, size_t *len, const char *what, cr_error *err)
{
    return cr_read_file_max(path, CR_MAX_FILE, len, what, err);
}

char *cr_read_file_max(const char *path, size_t max, size_t *len, const char *what, cr_error *err)
{
    int fd = open_regular(path, max, what, err);
    if (fd < 0)
        return NULL;
    cr_buf b = {0};
    char chunk[4096];
    ssize_t n;
    int failed = 0;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            failed = 1;
            break;
        }
        if (b.len + (size_t)n > max) {
            failed = 2; /* it grew while we read */
            break;
        }
        cr_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    cr_wipe(chunk, sizeof chunk);
    if (failed) {
        cr_buf_free(&b);
        if (failed == 2)
            too_large(path, max, what, err);
        else
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: read error", what, path);
        return NULL;
    }
    char *data = cr_buf_take(&b, len);
    if (!data)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, path);
    return data;
}

char *cr_url_unescape_inplace(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
            char hex[3] = {r[1], r[2], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
        } else {
            *w++ = *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
    return s;
}

/* ---- text quoted from a server -------------------------------------------------- */

/* Appends `s` in the form `form` takes it: 0 raw, 1 percent-encoded (upper
** hex), 2 percent-encoded (lower hex), 3 JSON-escaped (with "\/"). */
static char *secret_form(const char *s, int form)
{
    if (form == 0)
        return cr_strdup(s);
    cr_buf b = {0};
    static const char upper[] = "0123456789ABCDEF", lower[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char c = (char)*p;
        if (form == 3) {
            if (c == '"' || c == '\\' || c == '/') {
                char e[2] = {'\\', c};
                cr_buf_append(&b, e, 2);
            } else if (*p < 0x20) {
                cr_buf_printf(&b, "\\u%04x", *p);
            } else {
                cr_buf_append(&b, &c, 1);
            }
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                   c == '.' || c == '~') {
            cr_buf_append(&b, &c, 1);
        } else {
            const char *hex = form == 1 ? upper : lower;
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            cr_buf_append(&b, e, 3);
        }
    }
    return cr_buf_take(&b, NULL);
}

/* The shortest run of a secret's characters worth hiding: a server may quote
** a token only in part (an 80-byte excerpt), and 16 characters of one are
** still too many to show. */
#define MIN_RUN 16

/* Whether text[0..len) occurs in secret. */
static int occurs_in(const char *secret, const char *text, size_t len)
{
    size_t n = strlen(secret);
    for (const char *p = secret; (size_t)(p - secret) + len <= n; p++) {
        p = memchr(p, text[0], n - (size_t)(p - secret));
        if (!p || (size_t)(p - secret) + len > n)
            return 0;
        if (memcmp(p, text, len) == 0)
            return 1;
    }
    return 0;
}

/* Replaces in *text (a heap string) every run of MIN_RUN or more characters
** that also occurs in `secret` with "[REDACTED]". */
static void redact(char **text, const char *secret)
{
    size_t tlen = strlen(*text);
    if (strlen(secret) < MIN_RUN || tlen < MIN_RUN)
        return;
    cr_buf out = {0};
    int changed = 0;
    size_t i = 0;
    while (i < tlen) {
        if (i + MIN_RUN <= tlen && occurs_in(secret, *text + i, MIN_RUN)) {
            size_t j = i + MIN_RUN;
            while (j < tlen && occurs_in(secret, *text + i, j + 1 - i))
                j++;
            cr_buf_puts(&out, "[REDACTED]");
            changed = 1;
            i = j;
        } else {
            cr_buf_append(&out, *text + i, 1);
            i++;
        }
    }
    char *fresh = cr_buf_take(&out, NULL);
    if (fresh && changed) {
        cr_wipe(*text, tlen);
        free(*text);
        *text = fresh;
    } else {
        cr_secret_free(fresh);
    }
}

void cr_scrub(char **text, const char *const *secrets, size_t n)
{
    if (!text || !*text)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!secrets[i] || !*secrets[i])
            continue;
        for (int form = 0; form < 4; form++) {
            char *variant = secret_form(secrets[i], form);
            if (variant)
                redact(text, variant);
            cr_secret_free(variant);
        }
    }
}

/* A cJSON-owned string (a value or a member's name) with every secret redacted in place. */
static void scrub_owned(char **text, const char *const *secrets, size_t n)
{
    char *copy = cr_strdup(*text);
    if (!copy)
        return;
    cr_scrub(&copy, secrets, n);
    if (strcmp(copy, *text) != 0) {
        cr_wipe(*text, strlen(*text));
        cJSON_free(*text);
        *text = cJSON_malloc(strlen(copy) + 1);
        if (*text)
            strcpy(*text, copy);
    }
    free(copy);
}

/* Values and member names alike: a server may quote a secret as a key of its details. */
static void scrub_json(cJSON *j, const char *const *secrets, size_t n)
{
    for (; j; j = j->next) {
        if (cJSON_IsString(j) && j->valuestring)
            scrub_owned(&j->valuestring, secrets, n);
        if (j->string && !(j->type & cJSON_StringIsConst))
            scrub_owned(&j->string, secrets, n);
        scrub_json(j->child, secrets, n);
    }
}

void cr_error_scrub(cr_error *err, const char *const *secrets, size_t n)
{
    if (!err)
        return;
    cr_scrub(&err->message, secrets, n);
    if (err->details)
        scrub_json(err->details->child, secrets, n);
}

char *cr_quote_bounded(const char *text, size_t len, size_t max)
{
    if (len <= max)
        return cr_strndup(text, len);
    /* cut at a character boundary: no half of a UTF-8 sequence */
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return cr_asprintf("%.*s... [%zu more bytes not shown]", (int)cut, text, len - cut);
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
