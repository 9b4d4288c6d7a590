/*
** process.c — a task attempt as a process: what it runs (command + args,
** no shell, the executable looked up first), Cloud Run's task environment,
** a pipe for stdout and stderr, handed to the spawner (spawner.h) to run
** under a supervisor that takes everything it starts down with it
** (supervisor.h: posix_spawnp, the main process's own group); its output
** copied into the task's log with the marks that date it, signals, its end.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "launch.h"
#include "process.h"
#include "spawner.h"
#include "supervisor.h"
#include "wire_values.h"

extern char **environ;

/* ---- the task's environment -------------------------------------------------------------- */

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
    for (size_t i = 0; i < env->n; i++) {
        explicit_bzero(env->items[i], strlen(env->items[i])); /* a secret's value, perhaps */
        free(env->items[i]);
    }
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
            continue; /* a Secret Manager reference: resolved from --secrets (launch.c), below */
        rc = env_set(env, name->valuestring, cJSON_IsString(value) ? value->valuestring : "");
    }
    char *const *secret = emu_launch_env(e);
    for (int i = 0; secret && secret[i] && rc == 0; i++) {
        char *eq = strchr(secret[i], '=');
        *eq = '\0';
        rc = env_set(env, secret[i], eq + 1);
        *eq = '=';
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

/* ---- starting an attempt -------------------------------------------------------------- */

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

/* Fills in why an attempt did not start and notes it in the task's log. Returns -1. */
static int not_started(const emu_execution *e, emu_task *t, emu_spawn_failure *why, int exit_code, int rpc_code)
{
    why->exit_code = exit_code;
    why->rpc_code = rpc_code;
    log_note(e, t, why->message);
    return -1;
}

/*
** Runs argv (with envp, in wd, cleanup for its supervisor) with its output
** into the task's log: 0 when under way (the task owns the descriptors),
** or -1 with why filled in (ENOENT: err_noent when the caller checked).
*/
static int spawn_attempt(emu_spawner *z, const emu_execution *e, emu_task *t, char *const *argv, char *const *envp,
                         const char *wd, char *const *cleanup, emu_spawn_failure *why)
{
    char *msg = why->message;
    size_t size = sizeof why->message;
    char *path = log_path(e, t);
    int logfd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    int out[2] = {-1, -1}; /* the task's stdout and stderr: a pipe the runner copies into the log, up to the limit */
    int rc = -1;
    free(path);
    if (logfd < 0 || pipe2(out, O_CLOEXEC) < 0) {
        snprintf(msg, size, "The emulator could not prepare the process: %s.",
                 logfd < 0 ? "cannot open the task's log file" : strerror(errno));
        not_started(e, t, why, 0, 13);
        goto done;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer stalls for a chatty task */
    int report_fd, control_fd;
    int err = emu_spawner_run(z, argv, envp, wd, cleanup, out[1], &report_fd, &control_fd);
    if (err == 0) {
        t->pid = 0; /* known once the supervisor says */
        t->report_fd = report_fd;
        t->control_fd = control_fd;
        t->out_fd = out[0];
        t->log_fd = logfd;
        out[0] = logfd = -1; /* the task's now */
        rc = 0;
    } else {
        snprintf(msg, size, "The emulator could not start a process for the task: %s.", strerror(err));
        not_started(e, t, why, 126, 10);
    }
done:
    if (logfd >= 0)
        close(logfd);
    for (int k = 0; k < 2; k++)
        if (out[k] >= 0)
            close(out[k]);
    return rc;
}

/* The attempt as a container of the job's image (container.h). */
static int start_container(const emu_runtime *rt, emu_spawner *z, const emu_execution *e, emu_task *t,
                           emu_spawn_failure *why)
{
    emu_argv run = {0}, cleanup = {0}, env = {0};
    char warning[256];
    int rc = -1;
    if (emu_container_commands(rt, e, t, &run, &cleanup, &env, why->message, sizeof why->message, warning,
                               sizeof warning) < 0) {
        emu_container_forget(rt, e, t);
        not_started(e, t, why, 0, 9);
    } else {
        if (warning[0])
            log_note(e, t, warning);
        rc = spawn_attempt(z, e, t, run.v, env.v, NULL, cleanup.v, why);
        if (rc < 0)
            emu_container_forget(rt, e, t);
    }
    emu_argv_free(&run);
    emu_argv_free(&cleanup);
    emu_argv_free(&env);
    return rc;
}

int emu_process_start(const emu_store *s, emu_spawner *z, const emu_execution *e, emu_task *t, emu_spawn_failure *why)
{
    if (s->runtime && s->runtime->kind != EMU_RUNTIME_PROCESS)
        return start_container(s->runtime, z, e, t, why);
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(e->template, "containers");
    const cJSON *c = containers ? containers->child : NULL; /* the one container: RunJob refuses more (fields.c) */
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(c, "command");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(c, "workingDir");
    int argc = cJSON_GetArraySize(command) + cJSON_GetArraySize(args);
    char *msg = why->message;
    size_t size = sizeof why->message;
    if (argc == 0) {
        const cJSON *image = cJSON_GetObjectItemCaseSensitive(c, "image");
        snprintf(msg, size,
                 "The container has neither command nor args, so there is nothing to run locally (the process runtime "
                 "runs command + args; start the emulator with --runtime podman or docker to run the image%s%s).",
                 cJSON_IsString(image) ? " " : "", cJSON_IsString(image) ? image->valuestring : "");
        return not_started(e, t, why, 0, 9);
    }
    struct stat st;
    if (cJSON_IsString(wd) && (stat(wd->valuestring, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(msg, size, "The container's workingDir '%s' is not a directory on this machine.", wd->valuestring);
        return not_started(e, t, why, 127, 10);
    }
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    int i = 0;
    for (const cJSON *a = command ? command->child : NULL; argv && a; a = a->next)
        argv[i++] = a->valuestring;
    for (const cJSON *a = args ? args->child : NULL; argv && a; a = a->next)
        argv[i++] = a->valuestring;
    env_list env = {0};
    int rc = -1;
    const char *dir = cJSON_IsString(wd) ? wd->valuestring : NULL;
    if (!argv || build_env(&env, c, e, t) < 0) {
        snprintf(msg, size, "The emulator could not prepare the process: out of memory.");
        not_started(e, t, why, 0, 13);
    } else if (!executable_exists(argv[0], dir)) {
        snprintf(msg, size, "The executable '%s' was not found%s: %s.", argv[0],
                 strchr(argv[0], '/') ? "" : " in $PATH", strerror(ENOENT));
        not_started(e, t, why, 127, 10);
    } else {
        rc = spawn_attempt(z, e, t, argv, env.items, dir, NULL, why);
    }
    free(argv);
    env_free(&env);
    return rc;
}

/* ---- its output, signals, its end ----------------------------------------------------------- */

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
** At most log_limit bytes per task are kept: what comes after is read and
** dropped, once noted in the log, so that a task never blocks on a full
** pipe and a chatty one never fills the disk. all: a reaped process wrote
** at most a pipe's capacity (1 MiB), but one that left the group may write
** on for ever, so never more than 2 MiB.
*/
void emu_process_drain(const emu_store *s, const emu_execution *e, emu_task *t, int all)
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

void emu_process_signal(const emu_task *t, int sig)
{
    emu_supervisor_signal(t->control_fd, sig);
}

int emu_process_reap(const emu_execution *e, emu_task *t, int *status)
{
    int spawn_err;
    if (!emu_supervisor_poll(t->report_fd, &t->pid, status, &spawn_err))
        return 0;
    if (spawn_err) {
        /* found (checked before), yet not started: ENOEXEC, EACCES, ... exit 126 as a shell would say */
        char msg[256];
        snprintf(msg, sizeof msg, "The executable could not be started: %s.", strerror(spawn_err));
        log_note(e, t, msg);
        *status = 126 << 8;
    } else if (*status == 0x7f00 && t->pid > 0) {
        /* perhaps the supervisor was killed: what it would have killed is
        ** out of reach then but for the main process's group */
        kill(-t->pid, SIGKILL);
    }
    return 1;
}

void emu_process_ended(const emu_store *s, const emu_execution *e, emu_task *t)
{
    emu_container_forget(s->runtime, e, t); /* its env file: the container has read it, and is gone */
    /* Cloud Run tears the whole container down when its main process exits:
    ** the supervisor has, before it ended. */
    close(t->report_fd);
    close(t->control_fd); /* a supervisor still there (it never is) would take its task down */
    t->report_fd = t->control_fd = -1;
    t->pid = 0;
    /* what it wrote before it went is in the pipe: into the log before the attempt counts as over */
    emu_process_drain(s, e, t, 1);
    close_output(t);
}
