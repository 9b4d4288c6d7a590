/*
** runner.c — task processes: spawning (posix_spawnp, PATH search, no shell,
** own process group, log file as stdout/stderr, Cloud Run's task
** environment), reaping, timeouts, retries, cancellation, and the execution's
** bookkeeping that follows from them.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle.h"
#include "runner.h"
#include "wire_values.h"

extern char **environ;

#define POLL_NS (10 * EMU_NS_PER_MS)
#define GRACE_NS ((int64_t)EMU_KILL_GRACE_MS * EMU_NS_PER_MS)

/* ---- the task's environment ------------------------------------------------ */

typedef struct env_list {
    char **items;
    size_t n, cap;
} env_list;

/* Sets NAME=value, replacing an earlier NAME. 0, or -1 out of memory. */
static int env_set(env_list *env, const char *name, const char *value)
{
    size_t len = strlen(name);
    char *item = emu_strfmt("%s=%s", name, value ? value : "");
    if (!item)
        return -1;
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->items[i], name, len) == 0 && env->items[i][len] == '=') {
            free(env->items[i]);
            env->items[i] = item;
            return 0;
        }
    }
    if (env->n + 2 > env->cap) {
        size_t ncap = env->cap ? env->cap * 2 : 64;
        char **grown = realloc(env->items, ncap * sizeof *grown);
        if (!grown) {
            free(item);
            return -1;
        }
        env->items = grown;
        env->cap = ncap;
    }
    env->items[env->n++] = item;
    env->items[env->n] = NULL;
    return 0;
}

static void env_free(env_list *env)
{
    for (size_t i = 0; i < env->n; i++)
        free(env->items[i]);
    free(env->items);
}

/* The emulator's own environment, then the container's env (job env already
** merged with the overrides), then Cloud Run's reserved task variables. */
static int build_env(env_list *env, const cJSON *container, const emu_execution *e, const emu_task *t)
{
    int rc = 0;
    for (char **p = environ; p && *p && rc == 0; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq)
            continue;
        char *name = strndup(*p, (size_t)(eq - *p));
        rc = name ? env_set(env, name, eq + 1) : -1;
        free(name);
    }
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(container, "env");
    for (const cJSON *v = vars ? vars->child : NULL; v && rc == 0; v = v->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(v, "value");
        if (!cJSON_IsString(name))
            continue;
        if (!value && cJSON_GetObjectItemCaseSensitive(v, "valueSource"))
            continue; /* a Secret Manager reference: nothing local to resolve it with */
        rc = env_set(env, name->valuestring, cJSON_IsString(value) ? value->valuestring : "");
    }
    char idx[16], count[16], attempt[16];
    snprintf(idx, sizeof idx, "%d", t->index);
    snprintf(count, sizeof count, "%d", e->task_count);
    snprintf(attempt, sizeof attempt, "%d", t->attempt);
    if (rc == 0)
        rc = env_set(env, "CLOUD_RUN_JOB", e->job) | env_set(env, "CLOUD_RUN_EXECUTION", e->id) |
             env_set(env, "CLOUD_RUN_TASK_INDEX", idx) | env_set(env, "CLOUD_RUN_TASK_COUNT", count) |
             env_set(env, "CLOUD_RUN_TASK_ATTEMPT", attempt);
    return rc;
}

/* ---- finding the executable ------------------------------------------------------ */

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
** Whether argv0 names a runnable file, the way execvp would look for it: as a
** path (relative ones from the task's working directory) when it has a '/',
** else along the emulator's $PATH. Checked before spawning so that "not found"
** never depends on whether posix_spawn can report exec errors (it cannot under
** valgrind, for one).
*/
static int executable_exists(const char *argv0, const char *wd)
{
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/' || !wd)
            return is_executable_file(argv0);
        char *p = emu_strfmt("%s/%s", wd, argv0);
        int ok = p && is_executable_file(p);
        free(p);
        return ok;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    for (const char *dir = path;; dir = strchr(dir, ':') + 1) {
        size_t n = strcspn(dir, ":");
        char *p = emu_strfmt("%.*s/%s", (int)(n ? n : 1), n ? dir : ".", argv0);
        int ok = p && is_executable_file(p);
        free(p);
        if (ok)
            return 1;
        if (!dir[n])
            return 0;
    }
}

/* ---- one attempt --------------------------------------------------------------- */

static void set_result(emu_task *t, int exit_code, int term_signal, int rpc_code, const char *message)
{
    t->has_result = 1;
    t->exit_code = exit_code;
    t->term_signal = term_signal;
    t->result_code = rpc_code;
    free(t->result_message);
    t->result_message = message ? emu_strdup(message) : NULL;
}

static char *log_path(const emu_execution *e, const emu_task *t)
{
    return emu_strfmt("%s/task%d.log", e->log_dir, t->index);
}

/* Notes that what is written to the log from `offset` on is written now, by
** the current attempt (store.h: emu_log_mark). A mark as recent as the last
** one of the same attempt adds nothing; a full list keeps every other mark. */
static void log_mark(emu_task *t, int64_t offset)
{
    if (offset < 0)
        return;
    int64_t now = emu_now_ns();
    if (t->nmarks > 0) {
        emu_log_mark *last = &t->marks[t->nmarks - 1];
        if (offset <= last->offset || (last->attempt == t->attempt && now - last->ns < EMU_NS_PER_MS))
            return;
    }
    if (!t->marks && !(t->marks = malloc(EMU_LOG_MARKS * sizeof *t->marks)))
        return;
    if (t->nmarks == EMU_LOG_MARKS) {
        int w = 0;
        for (int i = 0; i < t->nmarks; i += 2)
            t->marks[w++] = t->marks[i];
        t->nmarks = w;
    }
    t->marks[t->nmarks++] = (emu_log_mark){offset, now, t->attempt};
}

/* Appends a line of our own to the task's log, so the reason a process never
** started is where the user looks for its output. */
static void log_note(const emu_execution *e, emu_task *t, const char *message)
{
    char *path = log_path(e, t);
    FILE *f = path ? fopen(path, "ae") : NULL;
    if (f) {
        struct stat st;
        if (fstat(fileno(f), &st) == 0)
            log_mark(t, (int64_t)st.st_size);
        fprintf(f, "cloudrun emulator: %s-task%d attempt %d: %s\n", e->id, t->index, t->attempt, message);
        fclose(f);
    }
    free(path);
}

/*
** Starts the task's current attempt. Returns 0 when a process runs, or -1 with
** the attempt's result already recorded (nothing to run, command not found,
** bad workingDir): those are task failures, never emulator failures.
*/
static int spawn_attempt(emu_store *s, emu_execution *e, emu_task *t)
{
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(e->template, "containers");
    const cJSON *c = containers ? containers->child : NULL; /* the first container is what runs */
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(c, "command");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(c, "workingDir");
    int argc = cJSON_GetArraySize(command) + cJSON_GetArraySize(args);
    char msg[1024];
    if (argc == 0) {
        const cJSON *image = cJSON_GetObjectItemCaseSensitive(c, "image");
        snprintf(msg, sizeof msg,
                 "The container has neither command nor args, so there is nothing to run locally (the emulator "
                 "runs command + args as a process; it does not run the image%s%s).",
                 cJSON_IsString(image) ? " " : "", cJSON_IsString(image) ? image->valuestring : "");
        set_result(t, 0, 0, 9, msg);
        log_note(e, t, msg);
        return -1;
    }
    struct stat st;
    if (cJSON_IsString(wd) && (stat(wd->valuestring, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(msg, sizeof msg, "The container's workingDir '%s' is not a directory on this machine.",
                 wd->valuestring);
        set_result(t, 127, 0, 10, msg);
        log_note(e, t, msg);
        return -1;
    }
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    int i = 0;
    for (const cJSON *a = command ? command->child : NULL; argv && a; a = a->next)
        argv[i++] = a->valuestring;
    for (const cJSON *a = args ? args->child : NULL; argv && a; a = a->next)
        argv[i++] = a->valuestring;
    env_list env = {0};
    char *path = log_path(e, t);
    int logfd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out[2] = {-1, -1}; /* the task's stdout and stderr: a pipe the runner copies into the log, up to the limit */
    int rc = -1;
    if (!argv || build_env(&env, c, e, t) < 0 || logfd < 0 || nullfd < 0 || pipe2(out, O_CLOEXEC) < 0) {
        snprintf(msg, sizeof msg, "The emulator could not prepare the process: %s.",
                 logfd < 0 ? "cannot open the task's log file" : nullfd < 0 || out[0] < 0 ? strerror(errno)
                                                                                        : "out of memory");
        set_result(t, 0, 0, 13, msg);
        goto done;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer stalls for a chatty task */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, nullfd, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    /* Nothing else the emulator's parent left open reaches the task, as in a container. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (cJSON_IsString(wd))
        posix_spawn_file_actions_addchdir_np(&fa, wd->valuestring);
    posix_spawnattr_init(&attr);
    /* Its own process group, so that a timeout or cancel reaches its children
    ** too; and none of the emulator's blocked signals or ignored SIGPIPE. */
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    int dflt_signals[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof dflt_signals / sizeof dflt_signals[0]; k++)
        sigaddset(&dflt, dflt_signals[k]);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    pid_t pid;
    int err = executable_exists(argv[0], cJSON_IsString(wd) ? wd->valuestring : NULL)
                  ? posix_spawnp(&pid, argv[0], &fa, &attr, argv, env.items)
                  : ENOENT;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err == 0) {
        t->pid = pid;
        t->out_fd = out[0];
        t->log_fd = logfd;
        out[0] = logfd = -1; /* the task's now */
        rc = 0;
    } else if (err == ENOENT) {
        snprintf(msg, sizeof msg, "The executable '%s' was not found%s: %s.", argv[0],
                 strchr(argv[0], '/') ? "" : " in $PATH", strerror(err));
        set_result(t, 127, 0, 10, msg);
    } else {
        snprintf(msg, sizeof msg, "The executable '%s' could not be started: %s.", argv[0], strerror(err));
        set_result(t, 126, 0, 10, msg);
    }
done:
    if (rc < 0 && t->result_message)
        log_note(e, t, t->result_message);
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    for (int k = 0; k < 2; k++)
        if (out[k] >= 0)
            close(out[k]);
    free(path);
    free(argv);
    env_free(&env);
    if (rc == 0 && !s->quiet)
        fprintf(stderr, "cloudrun emulator: started %s-task%d attempt %d (pid %d)\n", e->id, t->index, t->attempt,
                (int)t->pid);
    return rc;
}

/* ---- task and execution bookkeeping --------------------------------------------- */

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
            e->fail_message = emu_strfmt("Task %s-task%d failed with exit code: %d and message: %s", e->id,
                                         t->index, t->exit_code, what);
        else
            e->fail_message = emu_strfmt("Task %s-task%d failed with message: %s", e->id, t->index, what);
        e->fail_code = t->result_code == 4 ? 4 : 10;
    }
}

/*
** Runs the task's current attempt, and on a failure to even start, the retries
** that follow, until one process runs or the task has failed for good.
*/
static void launch(emu_store *s, emu_execution *e, emu_task *t)
{
    for (;;) {
        int64_t now = emu_now_ns();
        if (!t->scheduled_ns)
            t->scheduled_ns = now;
        t->timed_out = t->killed = 0;
        t->term_mono = 0;
        if (spawn_attempt(s, e, t) == 0) {
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

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full disk: the output is lost, the task goes on */
        buf += w;
        n -= (size_t)w;
    }
}

static void close_output(emu_task *t)
{
    if (t->out_fd >= 0)
        close(t->out_fd);
    if (t->log_fd >= 0)
        close(t->log_fd);
    t->out_fd = t->log_fd = -1;
}

/*
** Copies what the task's processes wrote into its log file, at most
** log_limit bytes per task (what comes after is read and dropped, once
** noted in the log, so that a task never blocks on a full pipe and a chatty
** one never fills the disk). all: until the pipe is empty (its process has
** been reaped: what it wrote is at most a pipe's capacity, 1 MiB), but never
** more than 2 MiB, for a process that left the group may write on for ever;
** else a few slices per supervision step.
*/
static void drain(emu_store *s, const emu_execution *e, emu_task *t, int all)
{
    char buf[65536];
    for (int round = 0; t->out_fd >= 0 && round < (all ? 32 : 4); round++) {
        ssize_t n = read(t->out_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN)
                close_output(t); /* every writer has gone */
            return;
        }
        int64_t room = s->log_limit - t->log_bytes;
        size_t keep = room <= 0 ? 0 : (size_t)n < (uint64_t)room ? (size_t)n : (size_t)room;
        if (keep && t->log_fd >= 0) {
            log_mark(t, (int64_t)lseek(t->log_fd, 0, SEEK_END));
            write_all(t->log_fd, buf, keep);
        }
        t->log_bytes += (int64_t)keep;
        if (keep < (size_t)n && !t->log_truncated && t->log_fd >= 0) {
            t->log_truncated = 1;
            dprintf(t->log_fd, "\ncloudrun emulator: %s-task%d: output beyond %lld bytes is not kept\n", e->id,
                    t->index, (long long)s->log_limit);
        }
    }
}

/* A reaped attempt: success, a retry, or the task's final failure/cancellation. */
static void attempt_ended(emu_store *s, emu_execution *e, emu_task *t, int status)
{
    int64_t now = emu_now_ns();
    /* Cloud Run tears the whole container down when its main process exits. */
    kill(-t->pid, SIGKILL);
    t->pid = 0;
    s->processes--;
    /* what it wrote before it went is in the pipe: into the log before the attempt counts as over */
    drain(s, e, t, 1);
    close_output(t);
    e->running--;
    e->update_ns = t->update_ns = now;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (!sig && code == 0 && !t->timed_out) {
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
    } else
        set_result(t, code, 0, 10, "The container exited with an error.");
    if (t->attempt < e->max_retries && !s->stopping) {
        t->attempt++;
        t->retried++;
        e->retried++;
        t->state = EMU_TASK_PENDING;
        launch(s, e, t);
        return;
    }
    task_failed(e, t, now);
}

static void signal_group(emu_task *t, int sig)
{
    if (t->pid > 0)
        kill(-t->pid, sig);
}

/* Reaps a running task if it ended, else enforces its timeout, a cancel and the kill grace. */
static void watch_task(emu_store *s, emu_execution *e, emu_task *t, int64_t mono)
{
    int status;
    pid_t r = waitpid(t->pid, &status, WNOHANG);
    if (r == t->pid) {
        attempt_ended(s, e, t, status);
        return;
    }
    if (r < 0) { /* someone else reaped it: count it as lost rather than wait forever */
        attempt_ended(s, e, t, 0x7f00 /* exit 127 */);
        return;
    }
    if (!t->term_mono && (e->cancel_requested || s->stopping)) {
        signal_group(t, SIGTERM);
        t->term_mono = mono;
    } else if (!t->term_mono && mono - t->attempt_mono >= e->timeout_ns) {
        t->timed_out = 1;
        signal_group(t, SIGTERM);
        t->term_mono = mono;
        if (!s->quiet)
            fprintf(stderr, "cloudrun emulator: %s-task%d reached its timeout; sent SIGTERM\n", e->id, t->index);
    } else if (t->term_mono && !t->killed && mono - t->term_mono >= GRACE_NS) {
        signal_group(t, SIGKILL);
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

/* One supervision step for an execution. Returns 1 while it is still active
** (0: it has ended, and may have been freed). */
static int step_execution(emu_store *s, emu_execution *e, int64_t mono)
{
    for (int i = 0; i < e->next_pending; i++) {
        emu_task *t = &e->tasks[i];
        if (t->state == EMU_TASK_RUNNING) {
            drain(s, e, t, 0);
            watch_task(s, e, t, mono);
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
        launch(s, e, &e->tasks[e->next_pending++]);
    if (e->succeeded + e->failed + e->cancelled == e->task_count) {
        finish_execution(e);
        emu_execution_finished(s, e);
        return 0;
    }
    return 1;
}

/* ---- the supervisor thread --------------------------------------------------------- */

/*
** Wakes for new work (a condition signal) or every POLL_NS while processes run:
** waitpid(WNOHANG) per running task is cheap, and a sleep-poll keeps timeouts,
** kill grace periods, reaping and output in one loop without SIGCHLD
** handlers, which would not mix with an embedding program's own.
*/
static void *supervise(void *arg)
{
    emu_store *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        int active = 0;
        int64_t mono = emu_mono_ns();
        for (emu_execution *e = s->active_head, *next; e; e = next) {
            next = e->active_next; /* e may end and be freed; nothing else active goes */
            active |= step_execution(s, e, mono);
        }
        if (active) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += POLL_NS;
            if (until.tv_nsec >= EMU_NS_PER_S) {
                until.tv_sec++;
                until.tv_nsec -= EMU_NS_PER_S;
            }
            pthread_cond_timedwait(&s->wake, &s->mu, &until);
        } else {
            pthread_cond_wait(&s->wake, &s->mu);
        }
    }
    /* Shutting down: SIGTERM every group, give them the grace period, then SIGKILL. */
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
                    signal_group(t, SIGKILL);
                    t->killed = 1;
                }
                drain(s, e, t, 0);
                watch_task(s, e, t, mono);
                running += t->state == EMU_TASK_RUNNING;
            }
        }
        if (!running)
            break;
        pthread_mutex_unlock(&s->mu);
        nanosleep(&(struct timespec){0, POLL_NS}, NULL);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int emu_runner_start(emu_runner *r, emu_store *s)
{
    r->store = s;
    int rc = pthread_create(&r->thread, NULL, supervise, s);
    if (rc != 0) {
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
    pthread_cond_signal(&r->store->wake);
    pthread_mutex_unlock(&r->store->mu);
    pthread_join(r->thread, NULL);
    r->started = 0;
}

void emu_runner_wake(emu_store *s)
{
    pthread_cond_signal(&s->wake);
}

