/*
** logs_expr.c — entries:list's filter as the emulator reads it (logs_expr.h):
** a recursive descent in Cloud Logging's precedence (NOT or '-' binds
** tightest, then OR, then AND, which a space between terms also means) into a
** tree, and the tree tested against a line. String comparisons ignore ASCII
** case, as Cloud Logging's do; ':' is "contains", ':*' "has a value". What it
** does not understand it refuses, quoting the term: a filter is never half
** applied, so a query never answers more than it asked for.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logs_expr.h"
#include "util/rfc3339.h"

enum value_kind { TEXT, NUMBER, TIME, SEVERITY };

static const struct {
    const char *path; /* as written, a segment that is not a plain name in quotes */
    unsigned char field, kind;
} FIELDS[] = {
    {"resource.type", EMU_LOGS_TYPE, TEXT},
    {"resource.labels.project_id", EMU_LOGS_PROJECT, TEXT},
    {"resource.labels.location", EMU_LOGS_LOCATION, TEXT},
    {"resource.labels.job_name", EMU_LOGS_JOB, TEXT},
    {"labels.\"run.googleapis.com/execution_name\"", EMU_LOGS_EXECUTION, TEXT},
    {"labels.\"run.googleapis.com/task_index\"", EMU_LOGS_TASK, NUMBER},
    {"labels.\"run.googleapis.com/task_attempt\"", EMU_LOGS_ATTEMPT, NUMBER},
    {"timestamp", EMU_LOGS_TIMESTAMP, TIME},
    {"receiveTimestamp", EMU_LOGS_RECEIVED, TIME},
    {"severity", EMU_LOGS_SEVERITY, SEVERITY},
    {"textPayload", EMU_LOGS_TEXT, TEXT},
    {"logName", EMU_LOGS_LOG_NAME, TEXT},
    {"insertId", EMU_LOGS_INSERT_ID, TEXT},
};

static const char UNDERSTOOD[] =
    "resource.type, resource.labels.project_id, resource.labels.location, resource.labels.job_name, "
    "labels.\"run.googleapis.com/execution_name\", labels.\"run.googleapis.com/task_index\", "
    "labels.\"run.googleapis.com/task_attempt\", timestamp, receiveTimestamp, severity, textPayload, logName and "
    "insertId";

static const struct {
    const char *name;
    int value;
} SEVERITIES[] = {{"DEFAULT", 0}, {"DEBUG", 100},    {"INFO", 200},  {"NOTICE", 300},   {"WARNING", 400},
                  {"ERROR", 500}, {"CRITICAL", 600}, {"ALERT", 700}, {"EMERGENCY", 800}};

static const char *const OP_TEXT[] = {"=", "!=", "<", "<=", ">", ">=", ":", ":*"};

#define QUOTED 60 /* bytes of a term an error quotes */

typedef struct parser {
    const char *p;
    emu_logs_expr *x;
    emu_error *err;
    int depth;
} parser;

static int fail(parser *ps, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(parser *ps, const char *fmt, ...)
{
    char what[sizeof ps->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    emu_error_set(ps->err, "INVALID_ARGUMENT", "filter: %s", what);
    emu_error_field(ps->err, "filter");
    return -1;
}

static int space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void skip_space(parser *ps)
{
    while (space(*ps->p))
        ps->p++;
}

/* AND, OR or NOT as a word of its own (Cloud Logging's are upper case only). */
static int keyword(const char *p, const char *word)
{
    size_t n = strlen(word);
    return strncmp(p, word, n) == 0 &&
           (!p[n] || space(p[n]) || p[n] == '(' || p[n] == ')' || p[n] == '"' || p[n] == '-');
}

void emu_logs_lower(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = src[i] >= 'A' && src[i] <= 'Z' ? (char)(src[i] - 'A' + 'a') : src[i];
    dst[i] = '\0';
}

int emu_logs_time(const char *s, int64_t *ns)
{
    int64_t secs;
    int32_t nanos;
    if (cr_rfc3339_parse_parts(s, &secs, &nanos) < 0)
        return -1;
    if (cr_rfc3339_parse_ns(s, ns) < 0)
        *ns = secs > 0 ? INT64_MAX : INT64_MIN;
    if (*ns == INT64_MAX) /* kept free for the +1 of > and <= */
        *ns = INT64_MAX - 1;
    return 0;
}

static int whole_number(const char *s, int64_t *out)
{
    if (!*s || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
        return -1;
    *out = atoi(s);
    return 0;
}

/*
** A "quoted string" at *pp (\" \\ \n \t \r escapes; any other escaped
** character stands for itself) into out (cap bytes): *len is its whole
** length, which may be more than was kept. 0, or -1 when it never ends.
*/
static int read_string(const char **pp, char *out, size_t cap, size_t *len)
{
    const char *p = *pp + 1;
    size_t n = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = *++p;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        if (n + 1 < cap)
            out[n] = c;
        n++;
    }
    if (*p != '"')
        return -1;
    out[n + 1 < cap ? n : cap - 1] = '\0';
    *len = n;
    *pp = p + 1;
    return 0;
}

static int new_node(parser *ps, int kind, int a, int b)
{
    emu_logs_expr *x = ps->x;
    if (x->n == EMU_LOGS_MAX_NODES)
        return fail(ps, "more than %d terms and operators.", EMU_LOGS_MAX_NODES);
    emu_logs_node *n = &x->node[x->n];
    memset(n, 0, sizeof *n);
    n->kind = (unsigned char)kind;
    n->a = a;
    n->b = b;
    return x->n++;
}

/* The field path at ps->p, written as FIELDS writes it, into path; its segment count, 0 for none. */
static int read_path(parser *ps, char *path, size_t size)
{
    size_t w = 0;
    int segments = 0;
    path[0] = '\0';
    for (;;) {
        char seg[256];
        size_t len = 0;
        if (*ps->p == '"') {
            if (read_string(&ps->p, seg, sizeof seg, &len) < 0)
                return fail(ps, "a quoted name that does not end: \"%.*s\".", QUOTED, ps->p);
        } else {
            for (; name_char(*ps->p); ps->p++)
                if (len + 1 < sizeof seg)
                    seg[len++] = *ps->p;
            seg[len < sizeof seg ? len : sizeof seg - 1] = '\0';
            if (len == 0)
                return segments;
        }
        int plain = len > 0 && len < sizeof seg;
        for (size_t i = 0; plain && seg[i]; i++)
            plain = name_char(seg[i]);
        int n = snprintf(path + w, size - w, plain ? "%s%s" : "%s\"%s\"", segments ? "." : "", seg);
        w = n < 0 || (size_t)n >= size - w ? size - 1 : w + (size_t)n;
        segments++;
        if (*ps->p != '.')
            return segments;
        ps->p++;
    }
}

static int read_op(parser *ps)
{
    static const struct {
        const char *text;
        int op;
    } ops[] = {{"!=", EMU_LOGS_NE}, {"<=", EMU_LOGS_LE}, {">=", EMU_LOGS_GE}, {"=", EMU_LOGS_EQ},
               {"<", EMU_LOGS_LT},  {">", EMU_LOGS_GT},  {":", EMU_LOGS_HAS}};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(ps->p, ops[i].text, n) == 0) {
            ps->p += n;
            return ops[i].op;
        }
    }
    return -1;
}

/* The value of the comparison at `term`, stored in the tree's text (lower case when `lower`); its offset. */
static int read_value(parser *ps, const char *term, int lower)
{
    emu_logs_expr *x = ps->x;
    size_t room = sizeof x->text - x->used, len = 0;
    char *out = x->text + x->used;
    if (room < 2)
        return fail(ps, "longer than %d bytes.", EMU_LOGS_MAX_FILTER);
    if (*ps->p == '(')
        return fail(ps,
                    "the emulator does not answer a list of values in parentheses: write each comparison "
                    "(a = x OR a = y); not \"%.*s\".",
                    QUOTED, term);
    if (*ps->p == '"') {
        if (read_string(&ps->p, out, room, &len) < 0)
            return fail(ps, "a quoted value that does not end: \"%.*s\".", QUOTED, term);
    } else {
        const char *start = ps->p;
        while (*ps->p && !space(*ps->p) && *ps->p != '(' && *ps->p != ')')
            ps->p++;
        len = (size_t)(ps->p - start);
        if (len == 0)
            return fail(ps, "a comparison without a value: \"%.*s\".", QUOTED, term);
        if (len < room) {
            memcpy(out, start, len);
            out[len] = '\0';
        }
    }
    if (len >= room) /* values are never longer than the filter that holds them; a guard all the same */
        return fail(ps, "longer than %d bytes.", EMU_LOGS_MAX_FILTER);
    if (lower)
        emu_logs_lower(out, len + 1, out);
    int at = (int)x->used;
    x->used += len + 1;
    return at;
}

/* field OP value, into a node. */
static int comparison(parser *ps)
{
    const char *term = ps->p;
    char path[256];
    int segments = read_path(ps, path, sizeof path);
    if (segments < 0)
        return -1;
    const char *after_path = ps->p;
    skip_space(ps);
    if (segments == 1 && *ps->p == '(')
        return fail(ps, "the emulator does not answer functions such as %s(); not \"%.*s\".", path, QUOTED, term);
    if ((ps->p[0] == '=' || ps->p[0] == '!') && ps->p[1] == '~')
        return fail(ps, "the emulator does not answer regular expressions (=~, !~); not \"%.*s\".", QUOTED, term);
    int op = segments ? read_op(ps) : -1;
    if (op < 0 && (!*term || *term == ')'))
        return fail(ps, "%s", *term ? "a term is missing before a ')'." : "it ends where a term should be.");
    if (op < 0) {
        size_t n = segments ? (size_t)(after_path - term) : strcspn(term, " \t\r\n()");
        return fail(ps,
                    "\"%.*s\" is not a comparison (FIELD OPERATOR VALUE): the emulator does not search every "
                    "field; write textPayload:\"...\" to search the text.",
                    (int)(n ? (n < QUOTED ? n : QUOTED) : 1), n ? term : ps->p);
    }
    size_t k = 0;
    while (k < sizeof FIELDS / sizeof *FIELDS && strcmp(FIELDS[k].path, path) != 0)
        k++;
    if (k == sizeof FIELDS / sizeof *FIELDS)
        return fail(ps, "\"%.*s\" is not a field the emulator understands (it understands %s).",
                    (int)((size_t)(after_path - term) < QUOTED ? (size_t)(after_path - term) : QUOTED), term,
                    UNDERSTOOD);
    skip_space(ps);
    if (op == EMU_LOGS_HAS && ps->p[0] == '*' && (!ps->p[1] || space(ps->p[1]) || ps->p[1] == ')')) {
        ps->p++;
        op = EMU_LOGS_PRESENT;
    }
    int kind = FIELDS[k].kind;
    int ordered = op == EMU_LOGS_LT || op == EMU_LOGS_LE || op == EMU_LOGS_GT || op == EMU_LOGS_GE;
    if ((ordered && (kind == TEXT || kind == NUMBER)) || (op == EMU_LOGS_HAS && (kind == TIME || kind == SEVERITY)))
        return fail(ps, "the emulator compares %s with %s, not %s; not \"%.*s\".", path,
                    kind == TEXT || kind == NUMBER ? "=, != or :" : "=, !=, <, <=, > or >=", OP_TEXT[op], QUOTED, term);
    int value = op == EMU_LOGS_PRESENT ? -1 : read_value(ps, term, op == EMU_LOGS_HAS);
    if (op != EMU_LOGS_PRESENT && value < 0)
        return -1;
    int i = new_node(ps, EMU_LOGS_CMP, -1, -1);
    if (i < 0)
        return -1;
    emu_logs_node *n = &ps->x->node[i];
    n->field = FIELDS[k].field;
    n->op = (unsigned char)op;
    n->value = value;
    const char *v = value >= 0 ? ps->x->text + value : "";
    if (op == EMU_LOGS_PRESENT || op == EMU_LOGS_HAS) {
        /* nothing to convert: ':' reads the value as text */
    } else if (kind == NUMBER && whole_number(v, &n->number) < 0) {
        return fail(ps, "%s must be a whole number, not \"%.64s\".", path, v);
    } else if (kind == TIME && emu_logs_time(v, &n->number) < 0) {
        return fail(ps, "%s \"%.64s\" is not an RFC 3339 time.", path, v);
    } else if (kind == SEVERITY && whole_number(v, &n->number) < 0) {
        size_t s = 0;
        while (s < sizeof SEVERITIES / sizeof *SEVERITIES && strcasecmp(SEVERITIES[s].name, v) != 0)
            s++;
        if (s == sizeof SEVERITIES / sizeof *SEVERITIES)
            return fail(ps,
                        "severity \"%.64s\" is not DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, "
                        "EMERGENCY or a number.",
                        v);
        n->number = SEVERITIES[s].value;
    }
    if (n->field == EMU_LOGS_TEXT)
        ps->x->uses_text = 1;
    return i;
}

static int conjunction(parser *ps);

/* NOT term, -term, (expression) or a comparison. */
static int factor(parser *ps)
{
    skip_space(ps);
    if (ps->depth == EMU_LOGS_MAX_DEPTH)
        return fail(ps, "more than %d parentheses and NOTs inside one another.", EMU_LOGS_MAX_DEPTH);
    int negated = keyword(ps->p, "NOT") ? 3 : ps->p[0] == '-' ? 1 : 0;
    int inner;
    ps->depth++;
    if (negated) {
        ps->p += negated;
        inner = factor(ps);
        inner = inner < 0 ? -1 : new_node(ps, EMU_LOGS_NOT, inner, -1);
    } else if (*ps->p == '(') {
        const char *open = ps->p++;
        inner = conjunction(ps);
        if (inner >= 0 && *ps->p != ')')
            inner = fail(ps, "a '(' without its ')': \"%.*s\".", QUOTED, open);
        else if (inner >= 0)
            ps->p++;
    } else {
        inner = comparison(ps);
    }
    ps->depth--;
    return inner;
}

/* Terms joined by OR (which binds tighter than AND). */
static int disjunction(parser *ps)
{
    int left = factor(ps);
    for (;;) {
        if (left < 0)
            return -1;
        skip_space(ps);
        if (!keyword(ps->p, "OR"))
            return left;
        ps->p += 2;
        int right = factor(ps);
        left = right < 0 ? -1 : new_node(ps, EMU_LOGS_OR, left, right);
    }
}

/* Terms joined by AND or by a space, up to a ')' or the end. */
static int conjunction(parser *ps)
{
    int left = disjunction(ps);
    for (;;) {
        if (left < 0)
            return -1;
        skip_space(ps);
        if (!*ps->p || *ps->p == ')')
            return left;
        if (keyword(ps->p, "AND"))
            ps->p += 3;
        int right = disjunction(ps);
        left = right < 0 ? -1 : new_node(ps, EMU_LOGS_AND, left, right);
    }
}

int emu_logs_expr_parse(const char *filter, emu_logs_expr *x, emu_error *err)
{
    x->n = 0;
    x->root = -1;
    x->uses_text = 0;
    x->used = 0;
    parser ps = {filter, x, err, 0};
    if (strlen(filter) > EMU_LOGS_MAX_FILTER)
        return fail(&ps, "longer than %d bytes.", EMU_LOGS_MAX_FILTER);
    skip_space(&ps);
    if (!*ps.p)
        return 0;
    int root = conjunction(&ps);
    if (root < 0)
        return -1;
    if (*ps.p) /* conjunction stops at the end or at a ')' */
        return fail(&ps, "a ')' without its '(': \"%.*s\".", QUOTED, ps.p);
    x->root = root;
    return 0;
}

const char *emu_logs_expr_value(const emu_logs_expr *x, int i)
{
    return x->node[i].value >= 0 ? x->text + x->node[i].value : "";
}

/* ---- a line against the tree ------------------------------------------------------------------ */

static int ordered(int op, int64_t have, int64_t want)
{
    switch (op) {
    case EMU_LOGS_EQ:
        return have == want;
    case EMU_LOGS_NE:
        return have != want;
    case EMU_LOGS_LT:
        return have < want;
    case EMU_LOGS_LE:
        return have <= want;
    case EMU_LOGS_GT:
        return have > want;
    case EMU_LOGS_GE:
        return have >= want;
    default:
        return 1; /* ':*' */
    }
}

/* A text field against =, != or : (lower: the text in lower case, when the caller has it). */
static int text_matches(const emu_logs_node *n, const char *want, const char *have, const char *lower)
{
    if (n->op == EMU_LOGS_PRESENT)
        return 1;
    if (n->op == EMU_LOGS_HAS) {
        char buf[1024];
        if (!lower) { /* the fields other than textPayload: names, short */
            emu_logs_lower(buf, sizeof buf, have);
            lower = buf;
        }
        return strstr(lower, want) != NULL;
    }
    int same = strcasecmp(have, want) == 0;
    return n->op == EMU_LOGS_EQ ? same : !same;
}

static int node_matches(const emu_logs_expr *x, int i, const emu_logs_line *l)
{
    const emu_logs_node *n = &x->node[i];
    switch (n->kind) {
    case EMU_LOGS_AND:
        return node_matches(x, n->a, l) && node_matches(x, n->b, l);
    case EMU_LOGS_OR:
        return node_matches(x, n->a, l) || node_matches(x, n->b, l);
    case EMU_LOGS_NOT:
        return !node_matches(x, n->a, l);
    default:
        break;
    }
    const char *want = emu_logs_expr_value(x, i);
    char buf[200];
    switch (n->field) {
    case EMU_LOGS_TYPE:
        return text_matches(n, want, "cloud_run_job", NULL);
    case EMU_LOGS_PROJECT:
        return text_matches(n, want, l->project, NULL);
    case EMU_LOGS_LOCATION:
        return text_matches(n, want, l->location, NULL);
    case EMU_LOGS_JOB:
        return text_matches(n, want, l->job, NULL);
    case EMU_LOGS_EXECUTION:
        return text_matches(n, want, l->execution, NULL);
    case EMU_LOGS_LOG_NAME:
        snprintf(buf, sizeof buf, "projects/%.64s/logs/run.googleapis.com%%2Fstdout", l->project);
        return text_matches(n, want, buf, NULL);
    case EMU_LOGS_INSERT_ID:
        return text_matches(n, want, l->insert_id, NULL);
    case EMU_LOGS_TEXT:
        return text_matches(n, want, l->text ? l->text : "", l->lower ? l->lower : "");
    case EMU_LOGS_TASK:
    case EMU_LOGS_ATTEMPT: {
        int v = n->field == EMU_LOGS_TASK ? l->task : l->attempt;
        if (n->op != EMU_LOGS_HAS)
            return ordered(n->op, v, n->number);
        snprintf(buf, sizeof buf, "%d", v); /* a label is text: ':' finds digits in it */
        return strstr(buf, want) != NULL;
    }
    case EMU_LOGS_SEVERITY:
        return ordered(n->op, 0, n->number); /* DEFAULT */
    default:                                 /* timestamp, receiveTimestamp */
        return ordered(n->op, l->ns, n->number);
    }
}

int emu_logs_expr_match(const emu_logs_expr *x, const emu_logs_line *line)
{
    return x->root < 0 || node_matches(x, x->root, line);
}
