/*
** api_logs.c — Cloud Logging's entries:list (POST /v2/entries:list), answered
** from the tasks' own log files, so that `cloudrun jobs executions logs` (and
** any Cloud Logging client pointed here) reads an execution's output as it
** would on Google. Each line of a task's log is one LogEntry: textPayload the
** line, timestamp when the emulator read it from the task's pipe (runner.c's
** marks), the labels Cloud Run puts on a job's entries.
**
** The request and its filter are read by logs_filter.c; one request reads
** at most MAX_READ bytes of logs.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_logs.h"
#include "logs_filter.h"
#include "utf8.h"
#include "wire_values.h"

#define MAX_READ (64 * 1024 * 1024) /* bytes of logs one request may read */

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
    if (r->f.project[0] && strcmp(r->f.project, project) != 0)
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
        if (!e->log_dir || !wanted_project(r, e->project) || (f->location[0] && strcmp(f->location, e->location)) ||
            (f->job[0] && strcmp(f->job, e->job)) || (f->execution[0] && strcmp(f->execution, e->id)))
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
            }
        }
    }
    return 0;
}

/* ---- the entries ---------------------------------------------------------------------------- */

typedef struct line {
    int64_t ns;
    int attempt;
    int exec, task; /* indexes into the snapshot */
    size_t offset, len;
    const char *text; /* into the task's buffer */
} line;

typedef struct lines {
    line *v;
    size_t n, cap;
    int descending;
    const snapshot *sn;
} lines;

/* What the comparator reads: each connection's thread sorts its own request's lines. */
static _Thread_local lines *sort_ctx;

static int by_time(const void *pa, const void *pb)
{
    const line *a = pa, *b = pb;
    int c = 0;
    if (a->ns != b->ns)
        c = a->ns < b->ns ? -1 : 1;
    else if (a->exec != b->exec)
        c = sort_ctx->sn->execs[a->exec].seq < sort_ctx->sn->execs[b->exec].seq ? -1 : 1;
    else if (a->task != b->task)
        c = a->task < b->task ? -1 : 1;
    else if (a->offset != b->offset)
        c = a->offset < b->offset ? -1 : 1;
    return sort_ctx->descending ? -c : c;
}

/* The whole file (it may still grow: what is there now), or NULL for none;
** *too_big when it does not fit in what the request may still read. */
static char *read_log(const char *path, size_t *len, size_t *budget, int *too_big)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > *budget) {
        *too_big = S_ISREG(st.st_mode) && (uint64_t)st.st_size > *budget;
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *buf = malloc(want + 1);
    while (buf && got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    *len = got;
    *budget -= got;
    return buf;
}

static int add_line(lines *ls, line l)
{
    if (ls->n == ls->cap) {
        size_t ncap = ls->cap ? ls->cap * 2 : 256;
        line *grown = realloc(ls->v, ncap * sizeof *grown);
        if (!grown)
            return -1;
        ls->v = grown;
        ls->cap = ncap;
    }
    ls->v[ls->n++] = l;
    return 0;
}

/* The mark a line at `offset` was written under: the last one at or before it. */
static const emu_log_mark *mark_for(const task_snap *t, size_t offset)
{
    int lo = 0, hi = t->nmarks - 1, found = -1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t->marks[mid].offset <= (int64_t)offset) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found >= 0 ? &t->marks[found] : t->nmarks > 0 ? &t->marks[0] : NULL;
}

/* One line's text as JSON can carry it: valid UTF-8, no NUL, no trailing CR. */
static char *clean_text(const char *p, size_t len)
{
    if (len > 0 && p[len - 1] == '\r')
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

static cJSON *entry_json(const snapshot *sn, const line *l)
{
    const exec_snap *x = &sn->execs[l->exec];
    const task_snap *t = &x->tasks[l->task];
    char when[40], id[96], index[16], attempt[16];
    emu_timestamp_format(l->ns, when, sizeof when);
    snprintf(id, sizeof id, "%.40s-%d-%zu", x->id, t->index, l->offset);
    snprintf(index, sizeof index, "%d", t->index);
    snprintf(attempt, sizeof attempt, "%d", l->attempt);
    char *text = clean_text(l->text, l->len);
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
    cJSON *out = NULL;
    char **bufs = NULL;
    int nbufs = 0;
    lines ls = {.descending = r.descending, .sn = &sn};
    if (rc < 0) {
        emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
        goto done;
    }
    size_t budget = MAX_READ;
    for (int i = 0; i < sn.n; i++)
        nbufs += sn.execs[i].ntasks;
    bufs = calloc((size_t)(nbufs ? nbufs : 1), sizeof *bufs);
    if (!bufs) {
        emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
        goto done;
    }
    int b = 0;
    for (int i = 0; i < sn.n; i++) {
        for (int t = 0; t < sn.execs[i].ntasks; t++, b++) {
            const task_snap *ts = &sn.execs[i].tasks[t];
            size_t len = 0;
            int too_big = 0;
            bufs[b] = read_log(ts->path, &len, &budget, &too_big);
            if (too_big) {
                emu_error_set(err, "RESOURCE_EXHAUSTED",
                              "entries:list would read more than %d MiB of task logs: narrow the filter to an "
                              "execution or a task.",
                              MAX_READ / (1024 * 1024));
                goto done;
            }
            for (size_t at = 0; bufs[b] && at < len;) {
                const char *nl = memchr(bufs[b] + at, '\n', len - at);
                size_t end = nl ? (size_t)(nl - bufs[b]) : len;
                const emu_log_mark *m = mark_for(ts, at);
                line l = {m ? m->ns : 0, m ? m->attempt : 0, i, t, at, end - at, bufs[b] + at};
                if (m && l.ns >= r.f.after_ns && l.ns < r.f.before_ns &&
                    (r.f.attempt < 0 || l.attempt == r.f.attempt) && add_line(&ls, l) < 0) {
                    emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
                    goto done;
                }
                at = end + 1;
            }
        }
    }
    if (ls.n > 1) {
        sort_ctx = &ls;
        qsort(ls.v, ls.n, sizeof *ls.v, by_time);
        sort_ctx = NULL;
    }
    out = cJSON_CreateObject();
    cJSON *list = out ? cJSON_AddArrayToObject(out, "entries") : NULL;
    if (!list) {
        emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
        cJSON_Delete(out);
        out = NULL;
        goto done;
    }
    size_t from = r.from < 0 ? 0 : (size_t)r.from, upto = from + (size_t)r.page_size;
    for (size_t i = from; i < ls.n && i < upto; i++) {
        cJSON *e = entry_json(&sn, &ls.v[i]);
        if (!e) {
            emu_error_set(err, "RESOURCE_EXHAUSTED", "out of memory");
            cJSON_Delete(out);
            out = NULL;
            goto done;
        }
        cJSON_AddItemToArray(list, e);
    }
    if (cJSON_GetArraySize(list) == 0)
        cJSON_DeleteItemFromObject(out, "entries"); /* as Google: an empty page has no entries field */
    if (upto < ls.n) {
        char token[24];
        snprintf(token, sizeof token, "e%zu", upto);
        cJSON_AddStringToObject(out, "nextPageToken", token);
    }
done:
    for (int i = 0; bufs && i < nbufs; i++)
        free(bufs[i]);
    free(bufs);
    free(ls.v);
    snapshot_free(&sn);
    return out;
}
