/*
** wire_values.c — clocks, Timestamps, Durations and random identifiers in the
** exact text forms the Cloud Run Admin API uses (ProtoJSON rules).
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cloudrun.h"
#include "wire_values.h"

int64_t emu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * EMU_NS_PER_S + ts.tv_nsec;
}

int64_t emu_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * EMU_NS_PER_S + ts.tv_nsec;
}

char *emu_timestamp_format(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / EMU_NS_PER_S);
    long micros = (long)((ns % EMU_NS_PER_S) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

/* Strict on purpose: the real API rejects "10m" or a bare number in JSON, so an
** emulator that accepted them would hide a client bug until production. */
int emu_duration_parse(const char *text, emu_duration *out)
{
    if (!text)
        return -1;
    const char *p = text;
    int negative = *p == '-';
    p += negative;
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t secs = 0, frac = 0;
    while (isdigit((unsigned char)*p)) {
        /* checked before it can grow: secs <= MAX keeps secs * 10 + 9 far from INT64_MAX */
        secs = secs * 10 + (*p++ - '0');
        if (secs > EMU_DURATION_MAX_SECONDS)
            return -1;
    }
    if (*p == '.') {
        p++;
        int digits = 0;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            if (digits++ >= 9)
                return -1;
            frac = frac * 10 + (*p++ - '0');
        }
        while (digits++ < 9)
            frac *= 10;
    }
    if (p[0] != 's' || p[1] != '\0')
        return -1;
    out->seconds = negative ? -secs : secs;
    out->nanos = (int32_t)(negative ? -frac : frac);
    return 0;
}

int64_t emu_duration_ns(emu_duration d)
{
    /* |seconds| <= 9223372036 keeps seconds * 1e9 + nanos inside int64 */
    if (d.seconds > INT64_MAX / EMU_NS_PER_S - 1)
        return INT64_MAX;
    if (d.seconds < INT64_MIN / EMU_NS_PER_S + 1)
        return INT64_MIN;
    return d.seconds * EMU_NS_PER_S + d.nanos;
}

int emu_duration_less(emu_duration a, emu_duration b)
{
    return a.seconds < b.seconds || (a.seconds == b.seconds && a.nanos < b.nanos);
}

char *emu_duration_text(emu_duration d, char *buf, size_t size)
{
    int negative = d.seconds < 0 || d.nanos < 0;
    unsigned long long secs = (unsigned long long)(d.seconds < 0 ? -d.seconds : d.seconds);
    long nanos = d.nanos < 0 ? -(long)d.nanos : d.nanos;
    const char *sign = negative ? "-" : "";
    if (nanos == 0)
        snprintf(buf, size, "%s%llus", sign, secs);
    else if (nanos % 1000000 == 0)
        snprintf(buf, size, "%s%llu.%03lds", sign, secs, nanos / 1000000);
    else if (nanos % 1000 == 0)
        snprintf(buf, size, "%s%llu.%06lds", sign, secs, nanos / 1000);
    else
        snprintf(buf, size, "%s%llu.%09lds", sign, secs, nanos);
    return buf;
}

int64_t emu_add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

char *emu_duration_format(int64_t nanos, char *buf, size_t size)
{
    return cr_duration_format(nanos, buf, size);
}

static void random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0) { /* cannot really happen; fall back to something non-constant */
            for (; got < n; got++)
                buf[got] = (unsigned char)(emu_mono_ns() >> (got % 8));
            return;
        }
        got += (size_t)r;
    }
}

void emu_uuid4(char *out)
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void emu_random_alnum(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char b[64];
    if (n > sizeof b)
        n = sizeof b;
    random_bytes(b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] % 36];
    out[n] = '\0';
}

void emu_etag(char *out, size_t size, const char *uid, int64_t version, int64_t update_ns)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = uid; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (unsigned char)(version >> (i * 8))) * 1099511628211ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (unsigned char)(update_ns >> (i * 8))) * 1099511628211ULL;
    snprintf(out, size, "\"%016llx\"", (unsigned long long)h);
}

static int b64_value(int c, int *alphabet)
{
    int std = c == '+' || c == '/', url = c == '-' || c == '_';
    if (std || url) {
        int kind = std ? 1 : 2;
        if (*alphabet && *alphabet != kind)
            return -1;
        *alphabet = kind;
        return c == '+' || c == '-' ? 62 : 63;
    }
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
                                  : -1;
}

long emu_base64_decode(const char *text, unsigned char *out, size_t cap)
{
    size_t len = strlen(text), pad = 0;
    while (pad < len && pad < 2 && text[len - 1 - pad] == '=')
        pad++;
    size_t n = len - pad; /* the digits */
    if (n % 4 == 1 || (pad && len % 4 != 0))
        return -1;
    int alphabet = 0;
    uint32_t acc = 0;
    size_t bits = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)text[i], &alphabet);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out && w >= cap)
                return -1;
            if (out)
                out[w] = (unsigned char)(acc >> bits);
            w++;
        }
    }
    return (long)w;
}

char *emu_base64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t w = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[w++] = digits[v >> 18 & 63];
        out[w++] = digits[v >> 12 & 63];
        out[w++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[w++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[w] = '\0';
    return out;
}

int emu_field_mask_valid(const char *m)
{
    if (!*m)
        return 1;
    for (;;) {
        if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z')))
            return 0;
        m += strspn(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        if (!*m)
            return 1;
        if (*m != '.' && *m != ',')
            return 0;
        m++;
    }
}
