/*
** store.c — the in-memory resources: creating, finding and freeing Jobs,
** Executions (with their Tasks) and Operations. Every function expects the
** caller to hold s->mu, except init and free.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "wire_values.h"

char *emu_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *emu_strfmt(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* Grows a pointer array by one slot; returns 0 or -1 out of memory. */
static int push(void ***items, size_t *n, size_t *cap, void *item)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void **grown = realloc(*items, ncap * sizeof *grown);
        if (!grown)
            return -1;
        *items = grown;
        *cap = ncap;
    }
    (*items)[(*n)++] = item;
    return 0;
}

int emu_store_init(emu_store *s, const char *log_root)
{
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the runner waits on the monotonic clock */
    int rc = pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&s->mu);
        return -1;
    }
    if (sem_init(&s->gate, 0, EMU_PARSE_SLOTS) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        return -1;
    }
    s->log_root = emu_strdup(log_root);
    s->next_seq = 1;
    return s->log_root ? 0 : -1;
}

void emu_store_gate_enter(emu_store *s)
{
    while (sem_wait(&s->gate) != 0) /* EINTR only */
        ;
}

void emu_store_gate_leave(emu_store *s)
{
    sem_post(&s->gate);
}

static void job_free(emu_job *j)
{
    if (!j)
        return;
    free(j->name);
    free(j->project);
    free(j->location);
    free(j->id);
    cJSON_Delete(j->spec);
    free(j);
}

static void execution_free(emu_execution *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->project);
    free(e->location);
    free(e->job);
    free(e->id);
    cJSON_Delete(e->labels);
    cJSON_Delete(e->annotations);
    cJSON_Delete(e->template);
    free(e->fail_message);
    free(e->log_dir);
    if (e->tasks)
        for (int i = 0; i < e->task_count; i++)
            free(e->tasks[i].result_message);
    free(e->tasks);
    free(e);
}

void emu_store_free(emu_store *s)
{
    for (size_t i = 0; i < s->njobs; i++)
        job_free(s->jobs[i]);
    for (size_t i = 0; i < s->nexecs; i++)
        execution_free(s->execs[i]);
    for (size_t i = 0; i < s->nops; i++) {
        free(s->ops[i]->name);
        cJSON_Delete(s->ops[i]->snapshot);
        free(s->ops[i]);
    }
    free(s->jobs);
    free(s->execs);
    free(s->ops);
    free(s->log_root);
    sem_destroy(&s->gate);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

emu_job *emu_store_find_job(emu_store *s, const char *project, const char *location, const char *id)
{
    for (size_t i = 0; i < s->njobs; i++) {
        emu_job *j = s->jobs[i];
        if (strcmp(j->id, id) == 0 && strcmp(j->location, location) == 0 && strcmp(j->project, project) == 0)
            return j;
    }
    return NULL;
}

emu_execution *emu_store_find_execution(emu_store *s, const char *project, const char *location,
                                        const char *job, const char *id)
{
    for (size_t i = 0; i < s->nexecs; i++) {
        emu_execution *e = s->execs[i];
        if (!e->deleted && strcmp(e->id, id) == 0 && strcmp(e->location, location) == 0 &&
            strcmp(e->project, project) == 0 && (strcmp(job, "-") == 0 || strcmp(e->job, job) == 0))
            return e;
    }
    return NULL;
}

emu_operation *emu_store_find_operation(emu_store *s, const char *name)
{
    for (size_t i = 0; i < s->nops; i++)
        if (strcmp(s->ops[i]->name, name) == 0)
            return s->ops[i];
    return NULL;
}

emu_execution *emu_store_latest_execution(emu_store *s, const emu_job *job)
{
    for (size_t i = s->nexecs; i-- > 0;) {
        emu_execution *e = s->execs[i];
        if (!e->deleted && e->seq > job->seq && strcmp(e->job, job->id) == 0 &&
            strcmp(e->location, job->location) == 0 && strcmp(e->project, job->project) == 0)
            return e;
    }
    return NULL;
}

emu_job *emu_store_add_job(emu_store *s, const char *project, const char *location, const char *id,
                           cJSON *spec)
{
    emu_job *j = calloc(1, sizeof *j);
    if (!j) {
        cJSON_Delete(spec);
        return NULL;
    }
    j->spec = spec;
    j->project = emu_strdup(project);
    j->location = emu_strdup(location);
    j->id = emu_strdup(id);
    j->name = emu_strfmt("projects/%s/locations/%s/jobs/%s", project, location, id);
    if (!j->project || !j->location || !j->id || !j->name ||
        push((void ***)&s->jobs, &s->njobs, &s->capjobs, j) < 0) {
        job_free(j);
        return NULL;
    }
    emu_uuid4(j->uid);
    j->seq = s->next_seq++;
    j->generation = 1;
    j->create_ns = j->update_ns = emu_now_ns();
    return j;
}

void emu_store_remove_job(emu_store *s, emu_job *job)
{
    for (size_t i = 0; i < s->njobs; i++) {
        if (s->jobs[i] == job) {
            memmove(&s->jobs[i], &s->jobs[i + 1], (s->njobs - i - 1) * sizeof s->jobs[0]);
            s->njobs--;
            break;
        }
    }
    job_free(job);
}

static int spec_int(const cJSON *obj, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : dflt;
}

static cJSON *spec_copy(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v ? cJSON_Duplicate(v, 1) : NULL;
}

emu_execution *emu_store_add_execution(emu_store *s, emu_job *job, cJSON *task_template, int task_count,
                                       const char **why)
{
    *why = "out of memory";
    emu_execution *e = calloc(1, sizeof *e);
    if (!e) {
        cJSON_Delete(task_template);
        return NULL;
    }
    e->template = task_template;
    const cJSON *exec_tmpl = cJSON_GetObjectItemCaseSensitive(job->spec, "template");
    /* A short random suffix, as Cloud Run does; retried if it collides. */
    char suffix[6];
    for (int tries = 0; tries < 100; tries++) {
        emu_random_alnum(suffix, 5);
        free(e->id);
        e->id = emu_strfmt("%s-%s", job->id, suffix);
        if (!e->id || !emu_store_find_execution(s, job->project, job->location, job->id, e->id))
            break;
    }
    e->project = emu_strdup(job->project);
    e->location = emu_strdup(job->location);
    e->job = emu_strdup(job->id);
    e->name = e->id ? emu_strfmt("%s/executions/%s", job->name, e->id) : NULL;
    e->log_dir = e->id ? emu_strfmt("%s/%s", s->log_root, e->id) : NULL;
    e->tasks = calloc((size_t)(task_count > 0 ? task_count : 1), sizeof *e->tasks);
    e->labels = spec_copy(exec_tmpl, "labels");
    e->annotations = spec_copy(exec_tmpl, "annotations");
    if (!e->project || !e->location || !e->job || !e->name || !e->log_dir || !e->tasks)
        goto fail;
    if (mkdir(e->log_dir, 0755) != 0 && errno != EEXIST) {
        *why = "cannot create the execution's log directory";
        goto fail;
    }
    if (push((void ***)&s->execs, &s->nexecs, &s->capexecs, e) < 0)
        goto fail;
    emu_uuid4(e->uid);
    e->seq = s->next_seq++;
    e->create_ns = e->update_ns = emu_now_ns();
    e->task_count = task_count;
    e->parallelism = spec_int(exec_tmpl, "parallelism", 0);
    e->max_retries = spec_int(task_template, "maxRetries", 3);
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(task_template, "timeout");
    emu_duration d;
    /* validated on the way in (job_spec.c): positive and at most 168 hours */
    e->timeout_ns = cJSON_IsString(timeout) && emu_duration_parse(timeout->valuestring, &d) == 0
                        ? emu_duration_ns(d)
                        : 600 * EMU_NS_PER_S;
    for (int i = 0; i < task_count; i++) {
        emu_task *t = &e->tasks[i];
        t->index = i;
        emu_uuid4(t->uid);
        t->create_ns = t->update_ns = e->create_ns;
    }
    job->execution_count++;
    return e;
fail:
    execution_free(e);
    return NULL;
}

void emu_store_discard_execution(emu_store *s, emu_job *job, emu_execution *e)
{
    if (s->nexecs && s->execs[s->nexecs - 1] == e)
        s->nexecs--;
    job->execution_count--;
    rmdir(e->log_dir);
    execution_free(e);
}

void emu_store_remove_operation(emu_store *s, emu_operation *op)
{
    for (size_t i = 0; i < s->nops; i++) {
        if (s->ops[i] == op) {
            memmove(&s->ops[i], &s->ops[i + 1], (s->nops - i - 1) * sizeof s->ops[0]);
            s->nops--;
            break;
        }
    }
    free(op->name);
    cJSON_Delete(op->snapshot);
    free(op);
}

emu_operation *emu_store_add_operation(emu_store *s, const char *project, const char *location,
                                       cJSON *snapshot, emu_execution *execution)
{
    emu_operation *op = calloc(1, sizeof *op);
    char uuid[37];
    emu_uuid4(uuid);
    if (op)
        op->name = emu_strfmt("projects/%s/locations/%s/operations/%s", project, location, uuid);
    if (!op || !op->name || push((void ***)&s->ops, &s->nops, &s->capops, op) < 0) {
        if (op)
            free(op->name);
        free(op);
        cJSON_Delete(snapshot);
        return NULL;
    }
    op->snapshot = snapshot;
    op->execution = execution;
    return op;
}

int emu_execution_done(const emu_execution *e)
{
    return e->state == EMU_EXEC_SUCCEEDED || e->state == EMU_EXEC_FAILED || e->state == EMU_EXEC_CANCELLED;
}
