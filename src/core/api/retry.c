/*
** retry.c — when to try a call again, and after how long. Reads are retried
** on transient failures; a call that changes something only when it cannot
** have taken effect (a retried RunJob could start a second execution).
*/
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"

#define DEFAULT_ATTEMPTS 5
#define DEFAULT_INITIAL 0.5
#define DEFAULT_MAX 30.0
#define DEFAULT_MULTIPLIER 2.0
#define DEFAULT_DEADLINE 120.0

void cr_retry_resolve(const cr_retry *in, cr_retry *out)
{
    cr_retry d = {DEFAULT_ATTEMPTS, DEFAULT_INITIAL, DEFAULT_MAX, DEFAULT_MULTIPLIER, DEFAULT_DEADLINE};
    if (in) {
        if (in->attempts > 0)
            d.attempts = in->attempts;
        if (in->initial > 0)
            d.initial = in->initial;
        if (in->max > 0)
            d.max = in->max;
        if (in->multiplier > 0)
            d.multiplier = in->multiplier;
        if (in->deadline > 0)
            d.deadline = in->deadline;
    }
    *out = d;
}

/*
** Whether the failure can be retried at all. A transport failure (no HTTP
** status) is retried for a read; for a write only when the connection was
** never made. 429 means the server did nothing: retry either. 500/502/503/504
** may hide a change that happened: reads only.
*/
static int may_retry(const cr_error *err, int idempotent)
{
    if (err->status == 0) {
        if (strcmp(err->code, "UNAVAILABLE") != 0 && strcmp(err->code, "DEADLINE_EXCEEDED") != 0)
            return 0;
        return idempotent || !err->sent;
    }
    if (err->status == 429)
        return 1;
    if (!idempotent)
        return 0;
    return err->status == 500 || err->status == 502 || err->status == 503 || err->status == 504;
}

double cr_retry_delay(const cr_retry *policy, int attempt, const cr_error *err, int idempotent, double retry_after,
                      double remaining, double jitter)
{
    cr_retry p;
    cr_retry_resolve(policy, &p);
    if (attempt >= p.attempts || !may_retry(err, idempotent))
        return -1;
    double ceiling = p.initial * pow(p.multiplier, attempt - 1);
    if (ceiling > p.max)
        ceiling = p.max;
    double delay = jitter * ceiling;
    if (retry_after > delay)
        delay = retry_after;
    if (delay >= remaining)
        return -1;
    return delay;
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), the date
** against `now` (Unix seconds). */
static double parse_retry_after(const char *v, int64_t now)
{
    if (!v || !*v)
        return -1;
    char *end;
    double secs = strtod(v, &end);
    if (end != v && *end == '\0')
        return secs >= 0 ? secs : -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!rest)
        return -1;
    double d = difftime(timegm(&tm), (time_t)now);
    return d > 0 ? d : 0;
}

/* The wait the server asked for: the Retry-After header, or a
** google.rpc.RetryInfo detail's retryDelay, whichever is longer; -1 if none. */
double cr_retry_after(const cr_header *headers, const cr_error *err, int64_t now)
{
    double after = parse_retry_after(cr_header_get(headers, "Retry-After"), now);
    const cJSON *details = err ? err->details : NULL;
    const cJSON *d;
    cJSON_ArrayForEach(d, details)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "@type");
        const cJSON *delay = cJSON_GetObjectItemCaseSensitive(d, "retryDelay");
        if (cJSON_IsString(type) && strstr(type->valuestring, "google.rpc.RetryInfo") && cJSON_IsString(delay)) {
            /* the server's Duration, strictly: "1.5s" (a longer one than any deadline just ends the call) */
            double secs;
            if (cr_duration_parse_proto(delay->valuestring, &secs) == 0 && secs > after)
                after = secs;
        }
    }
    return after;
}
