/*
** rfc3339.c — the one reader of RFC 3339 timestamps, for the core and the
** emulator alike: calendar-checked, in Google's Timestamp form, never
** overflowing.
*/
#include "util/rfc3339.h"

#define NS_PER_S 1000000000LL

/* n digits at s as a number, or -1 when one of them is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
** days_from_civil): timegm() is not POSIX. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/*
** Fixed positions (each digit() call also stops at the string's NUL, which
** is not a digit), so nothing is read past the end: sscanf's %d would take
** signs, spaces and short fields.
*/
int cr_rfc3339_parse_parts(const char *s, int64_t *unix_seconds, int32_t *nanos)
{
    int y = digits(s, 4);
    if (y < 1 || s[4] != '-')
        return -1;
    int mo = digits(s + 5, 2);
    if (mo < 1 || mo > 12 || s[7] != '-')
        return -1;
    int d = digits(s + 8, 2);
    if (d < 1 || d > days_in_month(y, mo) || s[10] != 'T')
        return -1;
    int h = digits(s + 11, 2);
    if (h < 0 || h > 23 || s[13] != ':')
        return -1;
    int mi = digits(s + 14, 2);
    if (mi < 0 || mi > 59 || s[16] != ':')
        return -1;
    int sec = digits(s + 17, 2);
    if (sec < 0 || sec > 59)
        return -1;
    const char *p = s + 19;
    int32_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 9)
                frac = frac * 10 + (*p - '0');
        if (n < 1 || n > 9)
            return -1;
        for (; n < 9; n++)
            frac *= 10;
    }
    int offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2);
        if (oh < 0 || oh > 23 || p[3] != ':')
            return -1;
        int om = digits(p + 4, 2);
        if (om < 0 || om > 59)
            return -1;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *unix_seconds = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *nanos = frac;
    return 0;
}

int cr_rfc3339_parse_ns(const char *s, int64_t *unix_ns)
{
    int64_t secs;
    int32_t nanos;
    if (cr_rfc3339_parse_parts(s, &secs, &nanos) < 0)
        return -1;
    if (secs > INT64_MAX / NS_PER_S || (secs == INT64_MAX / NS_PER_S && nanos > INT64_MAX % NS_PER_S))
        return -1;
    if (secs < INT64_MIN / NS_PER_S) {
        /* the one second below INT64_MIN / NS_PER_S (C division rounds towards zero) fits in part */
        if (secs < INT64_MIN / NS_PER_S - 1 || nanos - NS_PER_S < INT64_MIN - (secs + 1) * NS_PER_S)
            return -1;
        *unix_ns = (secs + 1) * NS_PER_S + (nanos - NS_PER_S);
        return 0;
    }
    *unix_ns = secs * NS_PER_S + nanos;
    return 0;
}

int cr_rfc3339_parse(const char *s, int64_t *unix_seconds)
{
    int32_t nanos;
    return cr_rfc3339_parse_parts(s, unix_seconds, &nanos);
}
