/*
** store.c — the in-memory resources: creating, finding (hash indexes) and
** freeing Jobs, Executions (with their Tasks) and Operations, the lists they
** are kept in, and execution ids that are never the same twice. Every
** function expects the caller to hold s->mu, except init, free and the gate.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iam_policy.h"
#include "store.h"
#include "wire_values.h"

/* Keys are "P/L/ID": segments never hold '/', so they are unambiguous. */
#define KEY_MAX 1024

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

/* Doubly-linked list helpers over named link fields. */
#define LINK_TAIL(head, tail, item, prev, next)                                                                        \
    do {                                                                                                               \
        (item)->prev = (tail);                                                                                         \
        (item)->next = NULL;                                                                                           \
        if (tail)                                                                                                      \
            (tail)->next = (item);                                                                                     \
        else                                                                                                           \
            (head) = (item);                                                                                           \
        (tail) = (item);                                                                                               \
    } while (0)
#define UNLINK(head, tail, item, prev, next)                                                                           \
    do {                                                                                                               \
        if ((item)->prev)                                                                                              \
            (item)->prev->next = (item)->next;                                                                         \
        else                                                                                                           \
            (head) = (item)->next;                                                                                     \
        if ((item)->next)                                                                                              \
            (item)->next->prev = (item)->prev;                                                                         \
        else                                                                                                           \
            (tail) = (item)->prev;                                                                                     \
        (item)->prev = (item)->next = NULL;                                                                            \
    } while (0)

void emu_store_wake(emu_store *s)
{
    pthread_cond_signal(&s->wake);
    if (s->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(s->wake_fd, &one, sizeof one); /* EAGAIN: a wake is pending already */
        (void)w;
    }
}

int emu_store_init(emu_store *s, const char *log_root)
{
    memset(s, 0, sizeof *s);
    s->wake_fd = -1;
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
    if (getrandom(s->id_key, sizeof s->id_key, 0) != (ssize_t)sizeof s->id_key) {
        for (int i = 0; i < 4; i++)
            s->id_key[i] = (uint32_t)(emu_mono_ns() >> (i * 7)) * 2654435761u;
    }
    s->next_seq = 1;
    s->keep_executions = 1000;
    s->keep_operations = 1000;
    s->operation_ttl_ns = 3600 * EMU_NS_PER_S;
    s->max_processes = 8;
    s->log_limit = 10 * 1024 * 1024;
    if (log_root && !(s->log_root = emu_strdup(log_root)))
        return -1;
    return 0;
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
    free(j->key);
    cJSON_Delete(j->spec);
    free(j->token.message);
    emu_iam_policy_free(j->iam);
    free(j);
}

static void execution_release_memory(emu_execution *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->project);
    free(e->location);
    free(e->job);
    free(e->id);
    free(e->key);
    cJSON_Delete(e->labels);
    cJSON_Delete(e->annotations);
    cJSON_Delete(e->template);
    free(e->fail_message);
    free(e->log_dir);
    if (e->tasks) {
        for (int i = 0; i < e->task_count; i++) {
            free(e->tasks[i].result_message);
            free(e->tasks[i].marks);
        }
    }
    free(e->tasks);
    free(e);
}

static void operation_release_memory(emu_operation *op)
{
    free(op->name);
    free(op->text);
    free(op);
}

void emu_store_free(emu_store *s)
{
    while (s->jobs_head) {
        emu_job *next = s->jobs_head->next;
        job_free(s->jobs_head);
        s->jobs_head = next;
    }
    /* visible executions, then the deleted ones still active */
    while (s->execs_head) {
        emu_execution *next = s->execs_head->all_next;
        if (s->execs_head->active)
            UNLINK(s->active_head, s->active_tail, s->execs_head, active_prev, active_next);
        execution_release_memory(s->execs_head);
        s->execs_head = next;
    }
    while (s->active_head) {
        emu_execution *next = s->active_head->active_next;
        execution_release_memory(s->active_head);
        s->active_head = next;
    }
    while (s->ops_head) {
        emu_operation *next = s->ops_head->next;
        operation_release_memory(s->ops_head);
        s->ops_head = next;
    }
    emu_index_free(&s->jobs_by_key);
    emu_index_free(&s->execs_by_key);
    emu_index_free(&s->ops_by_name);
    free(s->log_root);
    sem_destroy(&s->gate);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

emu_job *emu_store_find_job(emu_store *s, const char *project, const char *location, const char *id)
{
    char key[KEY_MAX];
    if (snprintf(key, sizeof key, "%s/%s/%s", project, location, id) >= (int)sizeof key)
        return NULL;
    return emu_index_get(&s->jobs_by_key, key);
}

emu_execution *emu_store_find_execution(emu_store *s, const char *project, const char *location, const char *job,
                                        const char *id)
{
    char key[KEY_MAX];
    if (snprintf(key, sizeof key, "%s/%s/%s", project, location, id) >= (int)sizeof key)
        return NULL;
    emu_execution *e = emu_index_get(&s->execs_by_key, key);
    return e && (strcmp(job, "-") == 0 || strcmp(e->job, job) == 0) ? e : NULL;
}

emu_operation *emu_store_find_operation(emu_store *s, const char *name)
{
    return emu_index_get(&s->ops_by_name, name);
}

emu_execution *emu_store_latest_execution(emu_store *s, const emu_job *job)
{
    return job->exec_tail;
}

emu_job *emu_store_add_job(emu_store *s, const char *project, const char *location, const char *id, cJSON *spec)
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
    j->key = emu_strfmt("%s/%s/%s", project, location, id);
    if (!j->project || !j->location || !j->id || !j->name || !j->key || strlen(j->key) >= KEY_MAX ||
        emu_index_put(&s->jobs_by_key, j->key, j) < 0) {
        job_free(j);
        return NULL;
    }
    LINK_TAIL(s->jobs_head, s->jobs_tail, j, prev, next);
    s->njobs++;
    emu_uuid4(j->uid);
    j->seq = s->next_seq++;
    j->generation = 1;
    j->create_ns = j->update_ns = emu_now_ns();
    return j;
}

void emu_store_remove_job(emu_store *s, emu_job *job)
{
    /* executions still listed lose their job (lifecycle.c deletes them first) */
    for (emu_execution *e = job->exec_head; e; e = e->job_next)
        e->owner = NULL;
    emu_index_remove(&s->jobs_by_key, job->key);
    UNLINK(s->jobs_head, s->jobs_tail, job, prev, next);
    s->njobs--;
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

/*
** A bijection of [0, 2^26) (a four-round Feistel network keyed at startup),
** walked until it lands below 36^5: the n-th execution gets the n-th point
** of a random-looking permutation of every 5-character suffix, so no id ever
** comes twice (Cloud Run's names look like job-x7k2p) and nothing needs to
** remember the ids given.
*/
static uint32_t feistel(uint32_t x, const uint32_t key[4])
{
    uint32_t l = x >> 13, r = x & 0x1FFF;
    for (int i = 0; i < 4; i++) {
        uint32_t f = (r ^ key[i]) * 0x9E3779B1u;
        f ^= f >> 15;
        f *= 0x85EBCA6Bu;
        f ^= f >> 13;
        uint32_t nl = r;
        r = l ^ (f & 0x1FFF);
        l = nl;
    }
    return (l << 13) | r;
}

#define SUFFIX_SPACE 60466176u /* 36^5 */

static void execution_suffix(emu_store *s, char out[16])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t n = s->next_exec_number++;
    uint64_t v = n;
    int width = 5;
    if (n < SUFFIX_SPACE) {
        uint32_t x = (uint32_t)n;
        do
            x = feistel(x, s->id_key);
        while (x >= SUFFIX_SPACE);
        v = x;
    } else { /* past 60 million executions: longer suffixes, in order */
        v = n;
        for (uint64_t room = SUFFIX_SPACE; v >= room && width < 12; room *= 36)
            width++;
    }
    for (int i = width - 1; i >= 0; i--) {
        out[i] = alphabet[v % 36];
        v /= 36;
    }
    out[width] = '\0';
}

int emu_store_execution_id_taken(emu_store *s, const char *project, const char *location, const char *id)
{
    if (emu_store_find_execution(s, project, location, "-", id))
        return 1;
    for (const emu_execution *e = s->active_head; e; e = e->active_next) /* deleted, still stopping */
        if (e->deleted && strcmp(e->id, id) == 0 && strcmp(e->project, project) == 0 &&
            strcmp(e->location, location) == 0)
            return 1;
    return 0;
}

/* Creates e's log directory <log-root>/<name>: 0, 1 when it exists already, -1 on failure. */
static int make_log_dir(emu_store *s, emu_execution *e, const char *name)
{
    free(e->log_dir);
    if (!(e->log_dir = emu_strfmt("%s/%s", s->log_root, name)))
        return -1;
    if (mkdir(e->log_dir, 0755) == 0)
        return 0;
    int exists = errno == EEXIST;
    free(e->log_dir);
    e->log_dir = NULL;
    return exists ? 1 : -1;
}

/* e's id and log directory: JOB-TOKEN, or a generated id never given before
** and free in the index (a token's execution may hold any name). A directory
** that exists (a reused --log-dir) is skipped: for a generated id, the id
** with it; for a token's, whose name is fixed, the directory gets a suffix. */
static int name_execution(emu_store *s, emu_execution *e, const emu_job *job, const char *token, const char **why)
{
    for (int tries = 0; tries < 1000; tries++) {
        int rc = 0;
        if (token) {
            if (!e->id && !(e->id = emu_strfmt("%s-%s", job->id, token)))
                return -1;
            char *dir = tries ? emu_strfmt("%s.%d", e->id, tries + 1) : emu_strdup(e->id);
            rc = !dir ? -1 : s->log_root ? make_log_dir(s, e, dir) : 0;
            free(dir);
        } else {
            char suffix[16];
            execution_suffix(s, suffix);
            free(e->id);
            if (!(e->id = emu_strfmt("%s-%s", job->id, suffix)))
                return -1;
            if (emu_store_find_execution(s, job->project, job->location, "-", e->id))
                continue; /* a token's; a deleted one still stopping has its directory */
            rc = s->log_root ? make_log_dir(s, e, e->id) : 0;
        }
        if (rc == 0)
            return 0;
        if (rc < 0) {
            *why = "cannot create the execution's log directory";
            return -1;
        }
    }
    *why = "no free log directory for it";
    return -1;
}

emu_execution *emu_store_add_execution(emu_store *s, emu_job *job, cJSON *task_template, int task_count,
                                       const char *token, const char **why)
{
    *why = "out of memory";
    emu_execution *e = calloc(1, sizeof *e);
    if (!e) {
        cJSON_Delete(task_template);
        return NULL;
    }
    e->template = task_template;
    const cJSON *exec_tmpl = cJSON_GetObjectItemCaseSensitive(job->spec, "template");
    if (name_execution(s, e, job, token, why) < 0)
        goto fail;
    e->project = emu_strdup(job->project);
    e->location = emu_strdup(job->location);
    e->job = emu_strdup(job->id);
    e->name = emu_strfmt("%s/executions/%s", job->name, e->id);
    e->key = emu_strfmt("%s/%s/%s", job->project, job->location, e->id);
    e->tasks = calloc((size_t)(task_count > 0 ? task_count : 1), sizeof *e->tasks);
    e->labels = spec_copy(exec_tmpl, "labels");
    e->annotations = spec_copy(exec_tmpl, "annotations");
    if (!e->project || !e->location || !e->job || !e->name || !e->key || !e->tasks || strlen(e->key) >= KEY_MAX ||
        emu_index_put(&s->execs_by_key, e->key, e) < 0)
        goto fail;
    LINK_TAIL(s->execs_head, s->execs_tail, e, all_prev, all_next);
    LINK_TAIL(job->exec_head, job->exec_tail, e, job_prev, job_next);
    LINK_TAIL(s->active_head, s->active_tail, e, active_prev, active_next);
    e->active = 1;
    e->owner = job;
    emu_uuid4(e->uid);
    e->seq = s->next_seq++;
    e->create_ns = e->update_ns = emu_now_ns();
    e->task_count = task_count;
    e->parallelism = spec_int(exec_tmpl, "parallelism", 0);
    e->max_retries = spec_int(task_template, "maxRetries", 3);
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(task_template, "timeout");
    emu_duration d;
    /* validated on the way in (job_spec.c): positive and at most 168 hours */
    e->timeout_ns = cJSON_IsString(timeout) && emu_duration_parse(timeout->valuestring, &d) == 0 ? emu_duration_ns(d)
                                                                                                 : 600 * EMU_NS_PER_S;
    for (int i = 0; i < task_count; i++) {
        emu_task *t = &e->tasks[i];
        t->index = i;
        t->out_fd = t->log_fd = -1;
        emu_uuid4(t->uid);
        t->create_ns = t->update_ns = e->create_ns;
    }
    job->execution_count++;
    return e;
fail:
    if (e->log_dir)
        rmdir(e->log_dir);
    execution_release_memory(e);
    return NULL;
}

void emu_store_hide_execution(emu_store *s, emu_execution *e)
{
    if (!e->key || emu_index_get(&s->execs_by_key, e->key) != e)
        return; /* not visible */
    emu_index_remove(&s->execs_by_key, e->key);
    UNLINK(s->execs_head, s->execs_tail, e, all_prev, all_next);
    if (e->owner) {
        UNLINK(e->owner->exec_head, e->owner->exec_tail, e, job_prev, job_next);
        if (emu_execution_done(e))
            e->owner->completed--;
        e->owner = NULL;
    }
}

void emu_store_deactivate(emu_store *s, emu_execution *e)
{
    if (!e->active)
        return;
    UNLINK(s->active_head, s->active_tail, e, active_prev, active_next);
    e->active = 0;
}

/* Removes the execution's log files and directory (task<i>.log only: nothing else is ours). */
static void remove_logs(const emu_execution *e)
{
    if (!e->log_dir)
        return;
    for (int i = 0; i < e->task_count; i++) {
        char *path = emu_strfmt("%s/task%d.log", e->log_dir, i);
        if (path)
            unlink(path);
        free(path);
    }
    rmdir(e->log_dir);
}

void emu_job_token_clear(emu_job *job)
{
    free(job->token.message);
    memset(&job->token, 0, sizeof job->token);
}

/* A job whose execution token started e keeps what e came to, for its
** terminalCondition, once e is freed (deleted, or past the job's retention). */
static void token_keep(emu_store *s, emu_execution *e)
{
    emu_job *job = e->owner;
    if (!job && e->project && e->location && e->job)
        job = emu_store_find_job(s, e->project, e->location, e->job);
    if (!job || job->token.exec != e)
        return;
    emu_job_token *t = &job->token;
    t->exec = NULL;
    t->state = e->state;
    t->create_ns = e->create_ns;
    t->start_ns = e->start_ns;
    t->completion_ns = e->completion_ns;
    free(t->message);
    t->message = e->fail_message;
    e->fail_message = NULL;
}

void emu_store_free_execution(emu_store *s, emu_execution *e, int remove)
{
    token_keep(s, e);
    emu_store_hide_execution(s, e);
    emu_store_deactivate(s, e);
    for (emu_operation *op = e->followers; op; op = op->follow_next)
        op->execution = NULL; /* lifecycle.c froze them; never left pointing at freed memory */
    if (remove)
        remove_logs(e);
    execution_release_memory(e);
}

emu_operation *emu_store_add_operation(emu_store *s, const char *project, const char *location, cJSON *done_body,
                                       emu_execution *execution)
{
    emu_operation *op = calloc(1, sizeof *op);
    char uuid[37];
    emu_uuid4(uuid);
    if (op)
        op->name = emu_strfmt("projects/%s/locations/%s/operations/%s", project, location, uuid);
    if (op && op->name && done_body) {
        /* the name first, as Google writes it */
        cJSON *name = cJSON_CreateString(op->name);
        if (name) {
            name->string = emu_strdup("name");
            name->next = done_body->child;
            name->prev = done_body->child ? done_body->child->prev : name;
            if (done_body->child)
                done_body->child->prev = name;
            done_body->child = name;
            op->text = name->string ? cJSON_PrintUnformatted(done_body) : NULL;
        }
    }
    cJSON_Delete(done_body);
    if (!op || !op->name || (done_body && !op->text) || emu_index_put(&s->ops_by_name, op->name, op) < 0) {
        if (op) {
            free(op->name);
            free(op->text);
        }
        free(op);
        return NULL;
    }
    op->seq = s->next_seq++;
    LINK_TAIL(s->ops_head, s->ops_tail, op, prev, next);
    s->nops++;
    if (op->text) {
        op->frozen_mono = emu_mono_ns();
        LINK_TAIL(s->frozen_head, s->frozen_tail, op, frozen_prev, frozen_next);
        s->nfrozen++;
    } else {
        op->execution = execution;
        op->follow_next = execution->followers;
        execution->followers = op;
    }
    return op;
}

void emu_store_freeze_operation(emu_store *s, emu_operation *op, char *text)
{
    op->text = text;
    op->execution = NULL;
    op->frozen_mono = emu_mono_ns();
    LINK_TAIL(s->frozen_head, s->frozen_tail, op, frozen_prev, frozen_next);
    s->nfrozen++;
}

void emu_store_remove_operation(emu_store *s, emu_operation *op)
{
    if (op->execution) { /* off its execution's followers */
        for (emu_operation **p = &op->execution->followers; *p; p = &(*p)->follow_next) {
            if (*p == op) {
                *p = op->follow_next;
                break;
            }
        }
    } else if (op->text) {
        UNLINK(s->frozen_head, s->frozen_tail, op, frozen_prev, frozen_next);
        s->nfrozen--;
    }
    emu_index_remove(&s->ops_by_name, op->name);
    UNLINK(s->ops_head, s->ops_tail, op, prev, next);
    s->nops--;
    operation_release_memory(op);
}

int emu_execution_done(const emu_execution *e)
{
    return e->state == EMU_EXEC_SUCCEEDED || e->state == EMU_EXEC_FAILED || e->state == EMU_EXEC_CANCELLED;
}
