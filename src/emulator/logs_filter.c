/*
** logs_filter.c — Cloud Logging's entries:list request as the emulator reads
** it: resourceNames (projects only), orderBy by timestamp, the page and its
** token, and the filter (its language is logs_expr.c's). From the filter's
** top-level AND this file takes what picks the files to read: the job or the
** execution (one must be named there: the emulator keeps everything on local
** disk, and a filter over all of it would read all of it), the task, the
** attempt and the time bounds. When the filter says anything more, each line
** is also tested against the whole of it.
*/
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logs_filter.h"
#include "utf8.h"

#define DEFAULT_LOG_PAGE 50 /* Cloud Logging's default pageSize */
#define MAX_LOG_PAGE 1000

/* ---- what picks the files -------------------------------------------------------------------- */

/* Copies a name compared with '=' into its slot; 0 when the slot is taken or the name is too long. */
static int take_name(char *slot, const char *value)
{
    if (slot[0] || strlen(value) >= EMU_LOGS_MAX_VALUE)
        return 0;
    memcpy(slot, value, strlen(value) + 1);
    return 1;
}

/* Takes into f what node i (a term of the top-level AND) asks; 1 when f now says all it does. */
static int absorb(const emu_logs_expr *x, int i, emu_logs_filter *f)
{
    const emu_logs_node *n = &x->node[i];
    if (n->kind == EMU_LOGS_AND) {
        int a = absorb(x, n->a, f); /* both sides, whatever the first says */
        return absorb(x, n->b, f) && a;
    }
    if (n->kind != EMU_LOGS_CMP)
        return 0;
    const char *v = emu_logs_expr_value(x, i);
    if (n->field == EMU_LOGS_TIMESTAMP && n->op != EMU_LOGS_NE && n->op != EMU_LOGS_PRESENT) {
        int64_t ns = n->number;
        if (n->op == EMU_LOGS_EQ || n->op == EMU_LOGS_GE)
            f->after_ns = ns > f->after_ns ? ns : f->after_ns;
        if (n->op == EMU_LOGS_GT)
            f->after_ns = ns + 1 > f->after_ns ? ns + 1 : f->after_ns;
        if (n->op == EMU_LOGS_EQ || n->op == EMU_LOGS_LE)
            f->before_ns = ns + 1 < f->before_ns ? ns + 1 : f->before_ns;
        if (n->op == EMU_LOGS_LT)
            f->before_ns = ns < f->before_ns ? ns : f->before_ns;
        return 1;
    }
    if (n->op != EMU_LOGS_EQ)
        return 0;
    switch (n->field) {
    case EMU_LOGS_TYPE:
        f->have_type = 1;
        return take_name(f->type, v);
    case EMU_LOGS_PROJECT:
        return take_name(f->project, v);
    case EMU_LOGS_LOCATION:
        return take_name(f->location, v);
    case EMU_LOGS_JOB:
        return take_name(f->job, v);
    case EMU_LOGS_EXECUTION:
        return take_name(f->execution, v);
    case EMU_LOGS_TASK:
    case EMU_LOGS_ATTEMPT: {
        int *slot = n->field == EMU_LOGS_TASK ? &f->task : &f->attempt;
        if (*slot >= 0)
            return 0;
        *slot = (int)n->number;
        return 1;
    }
    default:
        return 0;
    }
}

static int parse_filter(const char *text, emu_logs_request *r, emu_error *err)
{
    emu_logs_filter *f = &r->f;
    memset(f, 0, sizeof *f);
    f->task = f->attempt = -1;
    f->after_ns = INT64_MIN;
    f->before_ns = INT64_MAX;
    if (emu_logs_expr_parse(text, &r->expr, err) < 0)
        return -1;
    f->residual = r->expr.root >= 0 && !absorb(&r->expr, r->expr.root, f);
    if (!f->job[0] && !f->execution[0]) {
        emu_error_set(err, "INVALID_ARGUMENT",
                      "filter: the emulator answers entries:list for one job or execution: name it with "
                      "resource.labels.job_name = \"JOB\" or labels.\"run.googleapis.com/execution_name\" = "
                      "\"EXECUTION\", joined to the rest by AND.");
        emu_error_field(err, "filter");
        return -1;
    }
    return 0;
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

/* What selects and orders the entries: the projects, the order and the filter, as written. */
static uint64_t query_hash(const emu_logs_request *r, const char *filter)
{
    uint64_t h = 14695981039346656037u;
    for (int i = 0; i < r->nprojects; i++)
        h = mix_text(h, r->projects[i]);
    int64_t numbers[] = {r->nprojects, r->descending};
    h = mix(h, numbers, sizeof numbers);
    return mix_text(h, filter);
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
    if (parse_filter(filter_text, r, err) < 0)
        return -1;
    r->query = query_hash(r, filter_text);
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
