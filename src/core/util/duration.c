/*
** duration.c — durations as the protobuf JSON mapping writes them ("600s",
** "1.500s") and as people type them (gcloud's "10m", "1h30m", plain seconds).
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define NS_PER_S 1000000000LL
/* Cloud Run's longest task timeout is 7 days; allow far more, but stay well inside int64. */
#define MAX_SECONDS (100LL * 365 * 24 * 3600)

/* Reads "<digits>[.<digits>]" at *p: whole seconds-or-units and a nano fraction. */
static int read_number(const char **p, int64_t *whole, int64_t *frac_nanos, int *had_frac)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
        return -1;
    int64_t w = 0;
    while (isdigit((unsigned char)*s)) {
        w = w * 10 + (*s - '0');
        if (w > MAX_SECONDS)
            return -1;
        s++;
    }
    int64_t f = 0;
    *had_frac = 0;
    if (*s == '.') {
        s++;
        *had_frac = 1;
        int digits = 0;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s)) {
            if (digits < 9) {
                f = f * 10 + (*s - '0');
                digits++;
            }
            s++;
        }
        while (digits++ < 9)
            f *= 10;
    }
    *whole = w;
    *frac_nanos = f;
    *p = s;
    return 0;
}

int cr_duration_parse(const char *text, int64_t *nanos)
{
    if (!text)
        return -1;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return -1;
    int64_t total = 0;
    int parts = 0;
    while (*p && !isspace((unsigned char)*p)) {
        int64_t whole, frac;
        int had_frac;
        if (read_number(&p, &whole, &frac, &had_frac) < 0)
            return -1;
        int64_t unit;
        switch (*p) {
        case 'd':
            unit = 86400;
            p++;
            break;
        case 'h':
            unit = 3600;
            p++;
            break;
        case 'm':
            if (p[1] == 's') { /* "ms" */
                p += 2;
                if (whole > MAX_SECONDS * 1000)
                    return -1;
                int64_t part = whole * 1000000 + frac / 1000;
                if (part > MAX_SECONDS * NS_PER_S - total)
                    return -1;
                total += part;
                parts++;
                continue;
            }
            unit = 60;
            p++;
            break;
        case 's':
            unit = 1;
            p++;
            break;
        case '\0':
            unit = parts == 0 ? 1 : -1;
            break; /* a bare number is seconds */
        default:
            return -1;
        }
        if (unit < 0)
            return -1;
        if (whole > MAX_SECONDS / unit)
            return -1;
        /* each part is at most MAX_SECONDS (~3.2e18 ns), so the check below
        ** is made before a sum could leave int64 */
        int64_t part = whole * unit * NS_PER_S + frac * unit;
        if (part > MAX_SECONDS * NS_PER_S - total)
            return -1;
        total += part;
        parts++;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0' || parts == 0)
        return -1;
    *nanos = total;
    return 0;
}

char *cr_duration_format(int64_t nanos, char *buf, size_t size)
{
    if (nanos < 0)
        nanos = 0;
    int64_t s = nanos / NS_PER_S, ns = nanos % NS_PER_S;
    if (ns == 0)
        snprintf(buf, size, "%llds", (long long)s);
    else if (ns % 1000000 == 0)
        snprintf(buf, size, "%lld.%03llds", (long long)s, (long long)(ns / 1000000));
    else if (ns % 1000 == 0)
        snprintf(buf, size, "%lld.%06llds", (long long)s, (long long)(ns / 1000));
    else
        snprintf(buf, size, "%lld.%09llds", (long long)s, (long long)ns);
    return buf;
}

/*
** A Duration as the protobuf JSON mapping writes it, and nothing else: an
** optional '-', whole seconds, at most 9 fraction digits, 's'. The range is
** the message's own, +-315,576,000,000 s (10,000 years) — wider than int64
** nanoseconds, hence a double: this is for a server's retryDelay, which only
** needs comparing with a deadline.
*/
int cr_duration_parse_proto(const char *text, double *seconds)
{
    if (!text)
        return -1;
    const char *p = text;
    int negative = *p == '-';
    if (negative)
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t whole = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        if (++digits > 12)
            return -1;
        whole = whole * 10 + (*p++ - '0');
    }
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        int fdigits = 0;
        while (isdigit((unsigned char)*p)) {
            if (++fdigits > 9)
                return -1;
            frac += (*p++ - '0') * scale;
            scale /= 10;
        }
        if (fdigits == 0)
            return -1;
    }
    if (*p++ != 's' || *p != '\0' || whole > CR_DURATION_MAX_SECONDS)
        return -1;
    *seconds = (negative ? -1.0 : 1.0) * ((double)whole + frac);
    return 0;
}
