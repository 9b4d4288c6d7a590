/*
** runner.c — the runner thread and the bookkeeping of executions, tasks
** and attempts: when an attempt starts, retries, timeouts, cancellation,
** parallelism and --max-processes, and the counts and states that follow.
** How a process is started, read, signalled and reaped is process.c's.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "lifecycle.h"
#include "process.h"
#include "runner.h"
#include "runtime.h"
#include "wire_values.h"

#define POLL_NS (10 * EMU_NS_PER_MS)
#define GRACE_NS ((int64_t)EMU_KILL_GRACE_MS * EMU_NS_PER_MS)

/* ---- task and execution bookkeeping --------------------------------------------- */

static void set_result(emu_task *t, int exit_code, int term_signal, int rpc_code, const char *message)
{
    t->has_result = 1;
    t->exit_code = exit_code;
    t->term_signal = term_signal;
    t->result_code = rpc_code;
    free(t->result_message);
    t->result_message = message ? emu_strdup(message) : NULL;
}

/* The final failure of a task: counted, and the first one becomes the
** execution's (and the RunJob operation's) error. */
static void task_failed(emu_execution *e, emu_task *t, int64_t now)
{
    t->state = EMU_TASK_FAILED;
    t->completion_ns = t->update_ns = now;
    e->failed++;
    if (!e->fail_message) {
        const char *what = t->result_message ? t->result_message : "The container exited with an error.";
        if (t->exit_code && !t->term_signal)
            e->fail_message = emu_strfmt("Task %s-task%d failed with exit code: %d and message: %s", e->id, t->index,
                                         t->exit_code, what);
        else
            e->fail_message = emu_strfmt("Task %s-task%d failed with message: %s", e->id, t->index, what);
        e->fail_code = t->result_code == 4 ? 4 : 10;
    }
}

/*
** Runs the task's current attempt, and on a failure to even start, the retries
** that follow, until one process runs or the task has failed for good.
*/
static void launch(emu_store *s, emu_spawner *z, emu_execution *e, emu_task *t)
{
    for (;;) {
        int64_t now = emu_now_ns();
        if (!t->scheduled_ns)
            t->scheduled_ns = now;
        t->timed_out = t->killed = 0;
        t->term_mono = 0;
        emu_spawn_failure why;
        if (emu_process_start(s, z, e, t, &why) == 0) {
            if (!s->quiet)
                fprintf(stderr, "cloudrun emulator: started %s-task%d attempt %d\n", e->id, t->index, t->attempt);
            s->processes++;
            t->state = EMU_TASK_RUNNING;
            t->attempt_mono = emu_mono_ns();
            if (!t->start_ns)
                t->start_ns = now;
            t->update_ns = now;
            e->running++;
            if (e->state == EMU_EXEC_PENDING) {
                e->state = EMU_EXEC_RUNNING;
                e->start_ns = now;
            }
            e->update_ns = now;
            return;
        }
        set_result(t, why.exit_code, 0, why.rpc_code, why.message);
        if (e->state == EMU_EXEC_PENDING) { /* it did try to start: the execution is under way */
            e->state = EMU_EXEC_RUNNING;
            e->start_ns = now;
        }
        e->update_ns = now;
        if (t->result_code == 10 && t->attempt < e->max_retries && !e->cancel_requested && !s->stopping) {
            t->attempt++;
            t->retried++;
            e->retried++;
            continue;
        }
        task_failed(e, t, now);
        return;
    }
}

/* A reaped attempt: success, a retry, or the task's final failure/cancellation. */
static void attempt_ended(emu_store *s, emu_spawner *z, emu_execution *e, emu_task *t, int status)
{
    int64_t now = emu_now_ns();
    emu_process_ended(s, e, t);
    s->processes--;
    e->running--;
    e->update_ns = t->update_ns = now;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    /* stopped by us (a cancel, the timeout, the kill after the grace): never a success, whatever its exit code
    ** (`docker run` exits 0 when its container is removed under it; a task may exit 0 on SIGTERM) */
    int stopped = t->timed_out || t->killed || (e->cancel_requested && t->term_mono);
    if (!sig && code == 0 && !stopped) {
        set_result(t, 0, 0, 0, NULL);
        t->state = EMU_TASK_SUCCEEDED;
        t->completion_ns = now;
        e->succeeded++;
        return;
    }
    if (e->cancel_requested) {
        set_result(t, code, sig, 1, "Cancelled by user.");
        t->state = EMU_TASK_CANCELLED;
        t->completion_ns = now;
        e->cancelled++;
        return;
    }
    char msg[128];
    if (t->timed_out)
        set_result(t, code, sig, 4, "The configured timeout was reached.");
    else if (sig) {
        snprintf(msg, sizeof msg, "The container was terminated by signal %d (%s).", sig, strsignal(sig));
        set_result(t, 0, sig, 10, msg);
    } else if (s->runtime && s->runtime->kind != EMU_RUNTIME_PROCESS && code >= 125 && code <= 127) {
        /* the runtime's own exit codes, as `docker run` documents them */
        snprintf(msg, sizeof msg, "%s",
                 code == 125   ? "The container runtime could not run the container; its reason is in the task's log."
                 : code == 126 ? "The container's command could not be invoked; see the task's log."
                               : "The container's command was not found; see the task's log.");
        set_result(t, code, 0, 10, msg);
    } else
        set_result(t, code, 0, 10, "The container exited with an error.");
    if (t->attempt < e->max_retries && !s->stopping) {
        t->attempt++;
        t->retried++;
        e->retried++;
        t->state = EMU_TASK_PENDING;
        launch(s, z, e, t);
        return;
    }
    task_failed(e, t, now);
}

/* Reaps a running task if it ended, else enforces its timeout, a cancel and the kill grace. */
static void watch_task(emu_store *s, emu_spawner *z, emu_execution *e, emu_task *t, int64_t mono)
{
    int status;
    if (emu_process_reap(e, t, &status)) {
        attempt_ended(s, z, e, t, status);
        return;
    }
    if (!t->term_mono && (e->cancel_requested || s->stopping)) {
        emu_process_signal(t, SIGTERM);
        t->term_mono = mono;
    } else if (!t->term_mono && mono - t->attempt_mono >= e->timeout_ns) {
        t->timed_out = 1;
        emu_process_signal(t, SIGTERM);
        t->term_mono = mono;
        if (!s->quiet)
            fprintf(stderr, "cloudrun emulator: %s-task%d reached its timeout; sent SIGTERM\n", e->id, t->index);
    } else if (t->term_mono && !t->killed && mono - t->term_mono >= GRACE_NS) {
        emu_process_signal(t, SIGKILL);
        t->killed = 1;
    }
}

static void finish_execution(emu_execution *e)
{
    int64_t now = emu_now_ns();
    e->completion_ns = e->update_ns = now;
    if (e->cancel_requested && e->cancelled > 0)
        e->state = EMU_EXEC_CANCELLED;
    else if (e->failed > 0)
        e->state = EMU_EXEC_FAILED;
    else
        e->state = EMU_EXEC_SUCCEEDED;
}

/* An execution that cannot start (launch.h said why, in e->fail_message):
** every task fails without having run. */
static void fail_unlaunched(emu_execution *e)
{
    int64_t now = emu_now_ns();
    for (; e->next_pending < e->task_count; e->next_pending++) {
        emu_task *t = &e->tasks[e->next_pending];
        set_result(t, 0, 0, e->fail_code, e->fail_message);
        t->state = EMU_TASK_FAILED;
        t->completion_ns = t->update_ns = now;
        e->failed++;
    }
    e->update_ns = now;
}

/* One supervision step for an execution. Returns 1 while it is still active
** (0: it has ended, and may have been freed). */
static int step_execution(emu_store *s, emu_spawner *z, emu_execution *e, int64_t mono)
{
    if (!e->launched && !e->cancel_requested && !s->stopping) {
        int ready = emu_launch_step(s, z, e);
        if (ready == 0)
            return 1; /* its image is being looked up or pulled */
        if (ready < 0) {
            if (!e->fail_message) {
                e->fail_message = emu_strfmt("The emulator ran out of memory preparing the execution.");
                e->fail_code = 13;
            }
            fail_unlaunched(e);
        }
        e->launched = 1;
    }
    for (int i = 0; i < e->next_pending; i++) {
        emu_task *t = &e->tasks[i];
        if (t->state == EMU_TASK_RUNNING) {
            emu_process_drain(s, e, t, 0);
            watch_task(s, z, e, t, mono);
        }
    }
    if (e->cancel_requested || s->stopping) {
        int64_t now = emu_now_ns();
        for (; e->next_pending < e->task_count; e->next_pending++) {
            emu_task *t = &e->tasks[e->next_pending];
            t->state = EMU_TASK_CANCELLED;
            t->completion_ns = t->update_ns = now;
            e->cancelled++;
        }
    }
    /* the job's parallelism, and the machine's: tasks beyond either wait, pending, oldest execution first */
    int limit = e->parallelism > 0 && e->parallelism < EMU_MAX_PARALLEL ? e->parallelism : EMU_MAX_PARALLEL;
    while (e->running < limit && e->next_pending < e->task_count && s->processes < s->max_processes)
        launch(s, z, e, &e->tasks[e->next_pending++]);
    if (e->succeeded + e->failed + e->cancelled == e->task_count) {
        emu_launch_free(e->launch); /* its secrets: wiped, their files removed, now that no task needs them */
        e->launch = NULL;
        finish_execution(e);
        emu_execution_finished(s, e);
        return 0;
    }
    return 1;
}

/* ---- the runner thread ----------------------------------------------------------- */

/*
** What the runner waits on while processes run: each running attempt's
** supervisor report (it says when the main process has ended) and output
** pipe, and the store's eventfd (new work: emu_store_wake). The runner wakes
** at once when a task ends or writes, and every POLL_NS regardless:
** waitpid(WNOHANG)-style polling keeps timeouts, kill grace periods, reaping
** and output in one loop without SIGCHLD handlers, which would not mix with an
** embedding program's own. Returns how many fds are in r->fds.
*/
static size_t gather(emu_runner *r, emu_store *s)
{
    size_t n = 0;
    for (emu_execution *e = s->active_head; e; e = e->active_next)
        for (int k = 0; k < e->next_pending; k++) {
            const emu_task *t = &e->tasks[k];
            if (t->state != EMU_TASK_RUNNING)
                continue;
            if (n + 3 > r->nfds_cap) {
                size_t cap = r->nfds_cap ? 2 * r->nfds_cap : 64;
                struct pollfd *more = realloc(r->fds, cap * sizeof *more);
                if (!more)
                    return n; /* the others wait for POLL_NS */
                r->fds = more;
                r->nfds_cap = cap;
            }
            if (t->report_fd >= 0)
                r->fds[n++] = (struct pollfd){.fd = t->report_fd, .events = POLLIN};
            if (t->out_fd >= 0)
                r->fds[n++] = (struct pollfd){.fd = t->out_fd, .events = POLLIN};
        }
    return n;
}

/* Waits, without mu, until a running task has news, new work comes or POLL_NS pass. */
static void wait_for_news(emu_runner *r, emu_store *s)
{
    size_t n = gather(r, s);
    struct pollfd one, *fds = r->fds;
    if (n >= r->nfds_cap) { /* no array yet: gather leaves room for the wake in one */
        fds = &one;
        n = 0;
    }
    fds[n++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    pthread_mutex_unlock(&s->mu);
    poll(fds, (nfds_t)n, (int)(POLL_NS / EMU_NS_PER_MS));
    uint64_t count;
    ssize_t got = read(s->wake_fd, &count, sizeof count); /* the wake, taken (EAGAIN: none came) */
    (void)got;
    pthread_mutex_lock(&s->mu);
}

static void *run(void *arg)
{
    emu_runner *r = arg;
    emu_store *s = r->store;
    emu_spawner *z = &r->spawner;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int active = 0;
        int64_t mono = emu_mono_ns();
        for (emu_execution *e = s->active_head, *next; e; e = next) {
            next = e->active_next; /* e may end and be freed; nothing else active goes */
            active |= step_execution(s, z, e, mono);
        }
        if (active) {
            wait_for_news(r, s);
        } else {
            pthread_cond_wait(&s->wake, &s->mu);
        }
    }
    /* Shutting down: SIGTERM every task's group, give them the grace period, then SIGKILL all they started. */
    int64_t deadline = emu_mono_ns() + GRACE_NS;
    for (;;) {
        int running = 0;
        int64_t mono = emu_mono_ns();
        for (emu_execution *e = s->active_head; e; e = e->active_next) {
            for (int k = 0; k < e->next_pending; k++) {
                emu_task *t = &e->tasks[k];
                if (t->state != EMU_TASK_RUNNING)
                    continue;
                if (mono >= deadline && !t->killed) {
                    emu_process_signal(t, SIGKILL);
                    t->killed = 1;
                }
                emu_process_drain(s, e, t, 0);
                watch_task(s, z, e, t, mono);
                running += t->state == EMU_TASK_RUNNING;
            }
        }
        if (!running)
            break;
        pthread_mutex_unlock(&s->mu);
        nanosleep(&(struct timespec){0, POLL_NS}, NULL);
        pthread_mutex_lock(&s->mu);
    }
    for (emu_execution *e = s->active_head; e; e = e->active_next) { /* secrets wiped, their files and pulls gone */
        emu_launch_free(e->launch);
        e->launch = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int emu_runner_start(emu_runner *r, emu_store *s)
{
    r->store = s;
    r->fds = NULL;
    r->nfds_cap = 0;
    /* before the server's threads, while the emulator is small: see spawner.h */
    if (emu_spawner_start(&r->spawner) < 0)
        return -1;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        int err = errno;
        emu_spawner_stop(&r->spawner);
        errno = err;
        return -1;
    }
    int rc = pthread_create(&r->thread, NULL, run, r);
    if (rc != 0) {
        close(s->wake_fd);
        s->wake_fd = -1;
        emu_spawner_stop(&r->spawner);
        errno = rc;
        return -1;
    }
    r->started = 1;
    return 0;
}

void emu_runner_stop(emu_runner *r)
{
    if (!r->started)
        return;
    pthread_mutex_lock(&r->store->mu);
    r->store->stopping = 1;
    emu_store_wake(r->store);
    pthread_mutex_unlock(&r->store->mu);
    pthread_join(r->thread, NULL);
    emu_spawner_stop(&r->spawner);
    pthread_mutex_lock(&r->store->mu);
    close(r->store->wake_fd);
    r->store->wake_fd = -1;
    pthread_mutex_unlock(&r->store->mu);
    free(r->fds);
    r->fds = NULL;
    r->nfds_cap = 0;
    r->started = 0;
}

void emu_runner_wake(emu_store *s)
{
    emu_store_wake(s);
}
