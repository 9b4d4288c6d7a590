/*
** api_logs.c — Cloud Logging's entries:list (POST /v2/entries:list), answered
** from the tasks' own log files, so that `cloudrun jobs executions logs` (and
** any Cloud Logging client pointed here) reads an execution's output as it
** would on Google. Each line of a task's log is one LogEntry: textPayload the
** line, timestamp when the emulator read it from the task's pipe (runner.c's
** marks), the labels Cloud Run puts on a job's entries.
**
** A page costs what its entries cost, however long the logs: each task's
** file is read through a cursor (logs_cursor.c) that finds one line at a time
** in a few fixed windows, and the cursors are merged in time order (a heap
** of their next lines), until the page is full. Its token is the place in
** that order where the page ended (logs_filter.c reads and writes it), so the
** next page starts there without counting what came before. A filter that
** says more than which job, execution, task, attempt and times (a text, a
** severity, an OR) is tested on each line (logs_expr.c); a page then also
** ends after SCAN_LINES lines read, as Cloud Logging ends a long search with
** a short page and a token. The store's mutex is held only to copy what the
** files need (paths and marks), never while a file is read.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_logs.h"
#include "logs_cursor.h"
#include "logs_filter.h"
#include "utf8.h"
#include "wire_values.h"

/* An entry's text is at most this much of its line (Cloud Logging's own limit
** for an entry is 256 KB); a page stops early, with its token, once it holds
** PAGE_TEXT bytes of text. */
#define MAX_LINE (256 * 1024)
#define PAGE_TEXT (4 * 1024 * 1024)
#define SCAN_LINES 100000

/* ---- what to read, taken under the store's mutex ------------------------------------------- */

typedef struct task_snap {
    int index;
    char *path;
    emu_log_mark *marks; /* a copy */
    int nmarks;
} task_snap;

typedef struct exec_snap {
    char *project, *location, *job, *id;
    int64_t seq;
    task_snap *tasks;
    int ntasks;
} exec_snap;

typedef struct snapshot {
    exec_snap *execs;
    int n, cap;
} snapshot;

static void snapshot_free(snapshot *sn)
{
    for (int i = 0; i < sn->n; i++) {
        exec_snap *x = &sn->execs[i];
        for (int t = 0; t < x->ntasks; t++) {
            free(x->tasks[t].path);
            free(x->tasks[t].marks);
        }
        free(x->tasks);
        free(x->project);
        free(x->location);
        free(x->job);
        free(x->id);
    }
    free(sn->execs);
}

static int wanted_project(const emu_logs_request *r, const char *project)
{
    if (r->f.project[0] && strcasecmp(r->f.project, project) != 0)
        return 0;
    for (int i = 0; i < r->nprojects; i++)
        if (strcmp(r->projects[i], project) == 0)
            return 1;
    return 0;
}

/* Copies what the matching executions' logs need; the caller holds the mutex. */
static int take_snapshot(emu_store *s, const emu_logs_request *r, snapshot *sn)
{
    const emu_logs_filter *f = &r->f;
    for (emu_execution *e = s->execs_head; e; e = e->all_next) {
        /* a filter's names match whatever their ASCII case (logs_expr.c) */
        if (!e->log_dir || !wanted_project(r, e->project) || (f->location[0] && strcasecmp(f->location, e->location)) ||
            (f->job[0] && strcasecmp(f->job, e->job)) || (f->execution[0] && strcasecmp(f->execution, e->id)))
            continue;
        if (sn->n == sn->cap) {
            int ncap = sn->cap ? sn->cap * 2 : 8;
            exec_snap *grown = realloc(sn->execs, (size_t)ncap * sizeof *grown);
            if (!grown)
                return -1;
            sn->execs = grown;
            sn->cap = ncap;
        }
        exec_snap *x = &sn->execs[sn->n++];
        memset(x, 0, sizeof *x);
        x->project = emu_strdup(e->project);
        x->location = emu_strdup(e->location);
        x->job = emu_strdup(e->job);
        x->id = emu_strdup(e->id);
        x->seq = e->seq;
        x->tasks = calloc((size_t)(e->task_count > 0 ? e->task_count : 1), sizeof *x->tasks);
        if (!x->project || !x->location || !x->job || !x->id || !x->tasks)
            return -1;
        for (int i = 0; i < e->task_count; i++) {
            const emu_task *t = &e->tasks[i];
            if (f->task >= 0 && t->index != f->task)
                continue;
            task_snap *ts = &x->tasks[x->ntasks++];
            ts->index = t->index;
            ts->path = emu_strfmt("%s/task%d.log", e->log_dir, t->index);
            if (!ts->path)
                return -1;
            if (t->nmarks > 0) {
                ts->marks = malloc((size_t)t->nmarks * sizeof *ts->marks);
                if (!ts->marks)
                    return -1;
                memcpy(ts->marks, t->marks, (size_t)t->nmarks * sizeof *ts->marks);
                ts->nmarks = t->nmarks;
                /* to the microsecond, as an entry's timestamp shows it: a filter on a time a client was
                ** shown (timestamp > the last one) compares with what it was shown */
                for (int m = 0; m < ts->nmarks; m++)
                    ts->marks[m].ns -= ts->marks[m].ns % 1000;
                /* a clock set back never dates a later line earlier: a file's order stays its time order */
                for (int m = 1; m < ts->nmarks; m++)
                    if (ts->marks[m].ns < ts->marks[m - 1].ns)
                        ts->marks[m].ns = ts->marks[m - 1].ns;
            }
        }
    }
    return 0;
}

/* ---- one entry ------------------------------------------------------------------------------ */

/* One line's text as JSON can carry it: valid UTF-8, no NUL, no trailing CR. */
static char *clean_text(const char *p, size_t len, int cut)
{
    if (!cut && len > 0 && p[len - 1] == '\r')
        len--;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = p[i] ? p[i] : '?';
    copy[len] = '\0';
    size_t size = len * 3 + 1;
    char *out = malloc(size);
    if (out)
        emu_utf8_sanitize(out, size, copy);
    free(copy);
    return out;
}

/* The text of the line at hand (cleaned: what textPayload says), or NULL when out of memory; *bytes its length. */
static char *line_text(emu_log_reader *rd, emu_log_cursor *c, size_t *bytes)
{
    size_t len = 0;
    int cut = 0;
    char *raw = emu_log_cursor_text(rd, c, MAX_LINE, &len, &cut);
    char *text = raw ? clean_text(raw, len, cut) : NULL;
    free(raw);
    *bytes = len;
    return text;
}

static void insert_id(char *out, size_t size, const exec_snap *x, const task_snap *t, const emu_log_cursor *c)
{
    snprintf(out, size, "%.40s-%d-%lld", x->id, t->index, (long long)c->start);
}

/* Whether the line at hand passes the whole filter; its text is read into *text when the filter needs it.
** 1, 0, or -1 when out of memory. */
static int line_kept(const emu_logs_request *r, emu_log_reader *rd, emu_log_cursor *c, const exec_snap *x,
                     const task_snap *t, char **text, size_t *bytes)
{
    char id[96], *lower = NULL;
    insert_id(id, sizeof id, x, t, c);
    if (r->expr.uses_text) {
        if (!(*text = line_text(rd, c, bytes)) || !(lower = strdup(*text)))
            return -1;
        emu_logs_lower(lower, strlen(lower) + 1, lower);
    }
    emu_logs_line line = {.project = x->project,
                          .location = x->location,
                          .job = x->job,
                          .execution = x->id,
                          .insert_id = id,
                          .task = t->index,
                          .attempt = c->attempt,
                          .ns = c->ns,
                          .text = *text,
                          .lower = lower};
    int kept = emu_logs_expr_match(&r->expr, &line);
    free(lower);
    return kept;
}

/* The LogEntry for the line at hand of task t of execution x, its text `text` (taken); NULL when out of memory. */
static cJSON *entry_json(const emu_log_cursor *c, const exec_snap *x, const task_snap *t, char *text)
{
    char when[40], id[96], index[16], attempt[16];
    emu_timestamp_format(c->ns, when, sizeof when);
    insert_id(id, sizeof id, x, t, c);
    snprintf(index, sizeof index, "%d", t->index);
    snprintf(attempt, sizeof attempt, "%d", c->attempt);
    char *log_name = emu_strfmt("projects/%s/logs/run.googleapis.com%%2Fstdout", x->project);
    cJSON *e = cJSON_CreateObject();
    cJSON *res = cJSON_AddObjectToObject(e, "resource");
    cJSON *rl = cJSON_AddObjectToObject(res, "labels");
    cJSON *labels = cJSON_AddObjectToObject(e, "labels");
    if (!text || !log_name || !e || !res || !rl || !labels) {
        free(text);
        free(log_name);
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddStringToObject(e, "insertId", id);
    cJSON_AddStringToObject(e, "logName", log_name);
    cJSON_AddStringToObject(res, "type", "cloud_run_job");
    cJSON_AddStringToObject(rl, "project_id", x->project);
    cJSON_AddStringToObject(rl, "location", x->location);
    cJSON_AddStringToObject(rl, "job_name", x->job);
    cJSON_AddStringToObject(labels, "run.googleapis.com/execution_name", x->id);
    cJSON_AddStringToObject(labels, "run.googleapis.com/task_index", index);
    cJSON_AddStringToObject(labels, "run.googleapis.com/task_attempt", attempt);
    cJSON_AddStringToObject(e, "textPayload", text);
    cJSON_AddStringToObject(e, "timestamp", when);
    cJSON_AddStringToObject(e, "receiveTimestamp", when);
    cJSON_AddStringToObject(e, "severity", "DEFAULT");
    free(text);
    free(log_name);
    return e;
}

/* ---- the merge ------------------------------------------------------------------------------ */

/* A task's file and the line it is at; the heap holds those that have one. */
typedef struct source {
    emu_log_cursor c;
    const exec_snap *x;
    const task_snap *t;
} source;

typedef struct merge {
    source *src;
    int n;
    int *heap, nheap;
    int descending;
} merge;

/* The answer's order: time, then execution (oldest first), then task, then the file's order. */
static int comes_first(const merge *m, int a, int b)
{
    const source *p = &m->src[a], *q = &m->src[b];
    int c;
    if (p->c.ns != q->c.ns)
        c = p->c.ns < q->c.ns ? -1 : 1;
    else if (p->x->seq != q->x->seq)
        c = p->x->seq < q->x->seq ? -1 : 1;
    else if (p->t->index != q->t->index)
        c = p->t->index < q->t->index ? -1 : 1;
    else
        c = p->c.start < q->c.start ? -1 : p->c.start > q->c.start;
    return m->descending ? c > 0 : c < 0;
}

static void sift_down(merge *m, int i)
{
    for (;;) {
        int best = i, l = 2 * i + 1, r = l + 1;
        if (l < m->nheap && comes_first(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && comes_first(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        int t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

static void push(merge *m, int s)
{
    int i = m->nheap++;
    m->heap[i] = s;
    while (i > 0 && comes_first(m, m->heap[i], m->heap[(i - 1) / 2])) {
        int p = (i - 1) / 2, t = m->heap[i];
        m->heap[i] = m->heap[p];
        m->heap[p] = t;
        i = p;
    }
}

/* Every matching task's cursor, at the page's start, its first line in the heap. */
static int start_merge(merge *m, emu_log_reader *rd, const snapshot *sn, const emu_logs_request *r)
{
    for (int i = 0; i < sn->n; i++)
        m->n += sn->execs[i].ntasks;
    m->src = calloc((size_t)(m->n ? m->n : 1), sizeof *m->src);
    m->heap = malloc((size_t)(m->n ? m->n : 1) * sizeof *m->heap);
    if (!m->src || !m->heap)
        return -1;
    int k = 0;
    for (int i = 0; i < sn->n; i++) {
        const exec_snap *x = &sn->execs[i];
        for (int t = 0; t < x->ntasks; t++, k++) {
            source *s = &m->src[k];
            s->x = x;
            s->t = &x->tasks[t];
            s->c = (emu_log_cursor){.path = s->t->path, .marks = s->t->marks, .nmarks = s->t->nmarks, .id = k};
            emu_log_cursor_open(&s->c, m->descending);
            if (r->have_from) {
                const emu_logs_position *at = &r->from;
                int same = x->seq == at->seq && s->t->index == at->task;
                int later = x->seq > at->seq || (x->seq == at->seq && s->t->index > at->task);
                emu_log_cursor_seek(rd, &s->c, at, same, later);
            }
            if (emu_log_cursor_head(rd, &s->c, &r->f, m->descending))
                push(m, k);
        }
    }
    return 0;
}

cJSON *emu_logs_list(emu_store *s, const cJSON *body, emu_error *err)
{
    emu_logs_request r;
    if (emu_logs_read_request(body, &r, err) < 0)
        return NULL;
    if (r.f.have_type && strcmp(r.f.type, "cloud_run_job") != 0)
        return cJSON_CreateObject(); /* the emulator's logs are all a job's */
    snapshot sn = {0};
    pthread_mutex_lock(&s->mu);
    int rc = take_snapshot(s, &r, &sn);
    pthread_mutex_unlock(&s->mu);
    emu_log_reader rd;
    merge m = {.descending = r.descending};
    cJSON *out = NULL, *list = NULL;
    if (emu_log_reader_init(&rd) < 0) {
        snapshot_free(&sn);
        emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
        return NULL;
    }
    if (rc < 0 || start_merge(&m, &rd, &sn, &r) < 0 || !(out = cJSON_CreateObject()) ||
        !(list = cJSON_AddArrayToObject(out, "entries")))
        goto oom;
    emu_logs_position last = {0};
    size_t text = 0;
    int n = 0;
    /* only a filter tested on each line reads lines that are not entries: only then does SCAN_LINES count */
    for (int scanned = 0; m.nheap > 0 && n < r.page_size && text < PAGE_TEXT && (!r.f.residual || scanned < SCAN_LINES);
         scanned++) {
        source *top = &m.src[m.heap[0]];
        size_t bytes = 0;
        char *line = NULL;
        int kept = r.f.residual ? line_kept(&r, &rd, &top->c, top->x, top->t, &line, &bytes) : 1;
        if (kept < 0) {
            free(line);
            goto oom;
        }
        if (kept) {
            if (!line)
                line = line_text(&rd, &top->c, &bytes);
            cJSON *e = entry_json(&top->c, top->x, top->t, line); /* takes line */
            if (!e)
                goto oom;
            cJSON_AddItemToArray(list, e);
            text += bytes;
            n++;
        } else {
            free(line);
        }
        emu_log_cursor_next(&top->c, m.descending);
        last = (emu_logs_position){top->c.ns, top->x->seq, top->t->index, top->c.pos};
        if (!emu_log_cursor_head(&rd, &top->c, &r.f, m.descending))
            m.heap[0] = m.heap[--m.nheap];
        sift_down(&m, 0);
    }
    if (cJSON_GetArraySize(list) == 0)
        cJSON_DeleteItemFromObject(out, "entries"); /* as Google: an empty page has no entries field */
    if (m.nheap > 0) {
        char token[EMU_LOGS_TOKEN_SIZE];
        emu_logs_token(&r, &last, token);
        cJSON_AddStringToObject(out, "nextPageToken", token);
    }
    goto done;
oom:
    emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
    cJSON_Delete(out);
    out = NULL;
done:
    free(m.src);
    free(m.heap);
    emu_log_reader_free(&rd);
    snapshot_free(&sn);
    return out;
}
