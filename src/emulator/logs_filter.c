/*
** logs_filter.c — Cloud Logging's entries:list request as the emulator reads
** it: resourceNames (projects only), orderBy by timestamp, the page and its
** token, and the filter. The filter language is a subset, the one clients use for a job's
** logs: comparisons joined by AND (or by spaces), each one of
**   resource.type = "cloud_run_job"
**   resource.labels.project_id | location | job_name = "..."
**   labels."run.googleapis.com/execution_name" | task_index | task_attempt = "..."
**   timestamp = | > | >= | < | <= "RFC 3339"
** with the value quoted or bare. Anything else is 400 naming what is
** understood. A job or an execution must be named (the emulator keeps
** everything on local disk: a filter over all of it would read all of it).
*/
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs_filter.h"
#include "utf8.h"
#include "util/rfc3339.h"

#define DEFAULT_LOG_PAGE 50 /* Cloud Logging's default pageSize */
#define MAX_LOG_PAGE 1000

static const char UNDERSTOOD[] =
    "resource.type, resource.labels.project_id, resource.labels.location, resource.labels.job_name, "
    "labels.\"run.googleapis.com/execution_name\", labels.\"run.googleapis.com/task_index\", "
    "labels.\"run.googleapis.com/task_attempt\" compared with =, and timestamp with =, >, >=, < or <=, joined by AND";

/* ---- the filter ------------------------------------------------------------------------------ */

/* An RFC 3339 time as Unix nanoseconds; one that int64 nanoseconds cannot
** hold (before 1677, after 2262) is before or after every entry. INT64_MAX
** itself is kept free for the +1 of > and <=. */
static int filter_time(const char *s, int64_t *ns)
{
    int64_t secs;
    int32_t nanos;
    if (cr_rfc3339_parse_parts(s, &secs, &nanos) < 0)
        return -1;
    if (cr_rfc3339_parse_ns(s, ns) < 0)
        *ns = secs > 0 ? INT64_MAX : INT64_MIN;
    if (*ns == INT64_MAX)
        *ns = INT64_MAX - 1;
    return 0;
}

/* A value: "quoted" (\" and \\ escapes) or a bare word. Returns the text after it, or NULL. */
static const char *read_value(const char *p, char *out)
{
    size_t w = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (w + 1 >= EMU_LOGS_MAX_VALUE)
                return NULL;
            out[w++] = *p;
        }
        if (*p != '"')
            return NULL;
        p++;
    } else {
        for (; *p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ')' && *p != '('; p++) {
            if (w + 1 >= EMU_LOGS_MAX_VALUE)
                return NULL;
            out[w++] = *p;
        }
        if (w == 0)
            return NULL;
    }
    out[w] = '\0';
    return p;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int whole_number(const char *s, int *out)
{
    if (!*s || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
        return -1;
    *out = atoi(s);
    return 0;
}

static int parse_filter(const char *text, emu_logs_filter *f, emu_error *err)
{
    memset(f, 0, sizeof *f);
    f->task = f->attempt = -1;
    f->after_ns = INT64_MIN;
    f->before_ns = INT64_MAX;
    static const struct {
        const char *key;
        size_t at; /* offset of the field in filter, or (size_t)-1 */
    } keys[] = {
        {"resource.type", offsetof(emu_logs_filter, type)},
        {"resource.labels.project_id", offsetof(emu_logs_filter, project)},
        {"resource.labels.location", offsetof(emu_logs_filter, location)},
        {"resource.labels.job_name", offsetof(emu_logs_filter, job)},
        {"labels.\"run.googleapis.com/execution_name\"", offsetof(emu_logs_filter, execution)},
        {"labels.\"run.googleapis.com/task_index\"", (size_t)-1},
        {"labels.\"run.googleapis.com/task_attempt\"", (size_t)-2},
        {"timestamp", (size_t)-3},
    };
    const char *p = skip_space(text);
    while (*p) {
        size_t k = 0, klen = 0;
        for (; k < sizeof keys / sizeof *keys; k++) {
            klen = strlen(keys[k].key);
            if (strncmp(p, keys[k].key, klen) == 0 && strchr(" \t\n=<>!:", p[klen]))
                break;
        }
        if (k == sizeof keys / sizeof *keys)
            goto unknown;
        p = skip_space(p + klen);
        char op[3] = {0};
        if (p[0] == '>' || p[0] == '<') {
            op[0] = p[0];
            if (p[1] == '=')
                op[1] = '=';
        } else if (p[0] == '=') {
            op[0] = '=';
        } else {
            goto unknown;
        }
        p = skip_space(p + strlen(op));
        char value[EMU_LOGS_MAX_VALUE];
        if (!(p = read_value(p, value)))
            goto unknown;
        if (keys[k].at == (size_t)-3) {
            int64_t ns;
            if (filter_time(value, &ns) < 0) {
                emu_error_set(err, "INVALID_ARGUMENT", "filter: timestamp \"%.64s\" is not an RFC 3339 time.", value);
                return -1;
            }
            if (strcmp(op, "=") == 0 || strcmp(op, ">=") == 0)
                f->after_ns = ns > f->after_ns ? ns : f->after_ns;
            if (strcmp(op, ">") == 0)
                f->after_ns = ns + 1 > f->after_ns ? ns + 1 : f->after_ns;
            if (strcmp(op, "=") == 0 || strcmp(op, "<=") == 0)
                f->before_ns = ns + 1 < f->before_ns ? ns + 1 : f->before_ns;
            if (strcmp(op, "<") == 0)
                f->before_ns = ns < f->before_ns ? ns : f->before_ns;
        } else if (strcmp(op, "=") != 0) {
            goto unknown;
        } else if (keys[k].at == (size_t)-1 || keys[k].at == (size_t)-2) {
            int *slot = keys[k].at == (size_t)-1 ? &f->task : &f->attempt;
            if (whole_number(value, slot) < 0) {
                emu_error_set(err, "INVALID_ARGUMENT", "filter: %s must be a whole number, not \"%.64s\".", keys[k].key,
                              value);
                return -1;
            }
        } else {
            memcpy((char *)f + keys[k].at, value, strlen(value) + 1);
            if (k == 0)
                f->have_type = 1;
        }
        p = skip_space(p);
        if (strncmp(p, "AND", 3) == 0 && strchr(" \t\n\r", p[3]))
            p = skip_space(p + 3);
    }
    if (!f->job[0] && !f->execution[0]) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "filter: the emulator answers entries:list for one job or execution: name it with "
                      "resource.labels.job_name or labels.\"run.googleapis.com/execution_name\".");
        return -1;
    }
    return 0;
unknown:
    emu_error_set(err, "INVALID_ARGUMENT", "filter: the emulator understands %s; not \"%.80s\".", UNDERSTOOD, p);
    emu_error_field(err, "filter");
    return -1;
}

/* ---- page tokens ----------------------------------------------------------------------------- */

/*
** A token is "QUERY.NS.SEQ.TASK.POS": the query's hash (16 hex digits) and
** an emu_logs_position in decimal. It holds a place in the order, not a count
** of entries, so a page costs the same however deep it is, and lines that
** come in meanwhile never shift it.
*/

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u; /* FNV-1a */
    return h;
}

static uint64_t mix_text(uint64_t h, const char *s)
{
    return mix(h, s, strlen(s) + 1);
}

/* What selects and orders the entries: the projects, the order and the filter. */
static uint64_t query_hash(const emu_logs_request *r)
{
    const emu_logs_filter *f = &r->f;
    uint64_t h = 14695981039346656037u;
    for (int i = 0; i < r->nprojects; i++)
        h = mix_text(h, r->projects[i]);
    int64_t numbers[] = {r->nprojects, r->descending, f->have_type, f->task, f->attempt, f->after_ns, f->before_ns};
    h = mix(h, numbers, sizeof numbers);
    const char *texts[] = {f->type, f->project, f->location, f->job, f->execution};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        h = mix_text(h, texts[i]);
    return h;
}

void emu_logs_token(const emu_logs_request *r, const emu_logs_position *at, char *out)
{
    snprintf(out, EMU_LOGS_TOKEN_SIZE, "%016llx.%lld.%lld.%d.%lld", (unsigned long long)r->query, (long long)at->ns,
             (long long)at->seq, at->task, (long long)at->pos);
}

/* A decimal number at *p (a sign only where `sign`) up to the next '.' or the end. */
static int token_number(const char **p, int sign, long long min, long long max, long long *out)
{
    const char *s = *p;
    size_t digits = strspn(s + (sign && *s == '-'), "0123456789");
    if (digits == 0 || digits > 19)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end != s + (sign && *s == '-') + digits || (*end && *end != '.') || v < min || v > max)
        return -1;
    *out = v;
    *p = *end ? end + 1 : end;
    return 0;
}

static int read_token(const char *t, uint64_t *query, emu_logs_position *at)
{
    if (strlen(t) >= EMU_LOGS_TOKEN_SIZE || strspn(t, "0123456789abcdef") != 16 || t[16] != '.')
        return -1;
    char hex[17];
    memcpy(hex, t, 16);
    hex[16] = '\0';
    *query = strtoull(hex, NULL, 16);
    const char *p = t + 17;
    long long ns, seq, task, pos;
    if (token_number(&p, 1, INT64_MIN, INT64_MAX, &ns) < 0 || token_number(&p, 0, 0, INT64_MAX, &seq) < 0 ||
        token_number(&p, 0, 0, INT32_MAX, &task) < 0 || token_number(&p, 0, 0, INT64_MAX, &pos) < 0 || *p ||
        p[-1] == '.')
        return -1;
    *at = (emu_logs_position){.ns = ns, .seq = seq, .task = (int)task, .pos = pos};
    return 0;
}

/* ---- the request ----------------------------------------------------------------------------- */

static int bad_field(emu_error *err, const char *field, const char *what)
{
    emu_error_set(err, "INVALID_ARGUMENT", "Invalid value at '%s': %s", field, what);
    emu_error_field(err, field);
    return -1;
}

int emu_logs_read_request(const cJSON *body, emu_logs_request *r, emu_error *err)
{
    memset(r, 0, sizeof *r);
    r->page_size = DEFAULT_LOG_PAGE;
    const char *filter_text = NULL, *token = NULL, *token_field = NULL;
    for (const cJSON *m = body->child; m; m = m->next) {
        const char *k = m->string;
        if (strcmp(k, "resourceNames") == 0 || strcmp(k, "resource_names") == 0 || strcmp(k, "projectIds") == 0 ||
            strcmp(k, "project_ids") == 0) {
            int ids = k[0] == 'p';
            if (!cJSON_IsArray(m))
                return bad_field(err, k, "a list of strings was expected.");
            for (const cJSON *e = m->child; e; e = e->next) {
                const char *v = cJSON_IsString(e) ? e->valuestring : NULL;
                if (!v || (!ids && strncmp(v, "projects/", 9) != 0))
                    return bad_field(err, k,
                                     "each must be \"projects/PROJECT\" (the emulator keeps no folders, "
                                     "organizations or buckets).");
                v += ids ? 0 : 9;
                if (!*v || strchr(v, '/') || strlen(v) >= EMU_LOGS_MAX_VALUE || !emu_text_clean(v))
                    return bad_field(err, k, "a project id was expected.");
                if (r->nprojects == EMU_LOGS_MAX_PROJECTS)
                    return bad_field(err, k, "at most 8 projects.");
                snprintf(r->projects[r->nprojects++], EMU_LOGS_MAX_VALUE, "%s", v);
            }
        } else if (strcmp(k, "filter") == 0) {
            if (!cJSON_IsString(m))
                return bad_field(err, k, "a string was expected.");
            filter_text = m->valuestring;
        } else if (strcmp(k, "orderBy") == 0 || strcmp(k, "order_by") == 0) {
            if (!cJSON_IsString(m))
                return bad_field(err, k, "a string was expected.");
            if (strcmp(m->valuestring, "timestamp desc") == 0)
                r->descending = 1;
            else if (strcmp(m->valuestring, "timestamp asc") != 0 && m->valuestring[0])
                return bad_field(err, k, "\"timestamp asc\" or \"timestamp desc\".");
        } else if (strcmp(k, "pageSize") == 0 || strcmp(k, "page_size") == 0) {
            double v = cJSON_IsNumber(m) ? m->valuedouble : -1;
            if (cJSON_IsString(m) && strspn(m->valuestring, "0123456789") == strlen(m->valuestring) &&
                strlen(m->valuestring) < 8)
                v = atof(m->valuestring);
            if (v < 0 || v > MAX_LOG_PAGE || v != (double)(int)v)
                return bad_field(err, k, "a page size from 0 to 1000.");
            r->page_size = v == 0 ? DEFAULT_LOG_PAGE : (int)v;
        } else if (strcmp(k, "pageToken") == 0 || strcmp(k, "page_token") == 0) {
            if (!cJSON_IsString(m))
                return bad_field(err, k, "a string was expected.");
            token = m->valuestring;
            token_field = k;
        } else {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "Invalid JSON payload received. Unknown name \"%.64s\": Cannot find field.", k);
            emu_error_field(err, k);
            return -1;
        }
    }
    if (r->nprojects == 0)
        return bad_field(err, "resourceNames", "at least one \"projects/PROJECT\" is required.");
    if (!filter_text)
        return bad_field(err, "filter", "the emulator needs a filter naming a job or an execution.");
    if (parse_filter(filter_text, &r->f, err) < 0)
        return -1;
    r->query = query_hash(r);
    if (token && *token) {
        uint64_t query;
        if (read_token(token, &query, &r->from) < 0)
            return bad_field(err, token_field, "not a page token this server gave.");
        if (query != r->query)
            return bad_field(err, token_field,
                             "a page token of another query: use it with the filter, orderBy and resourceNames "
                             "it came with.");
        r->have_from = 1;
    }
    return 0;
}
