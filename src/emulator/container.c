/*
** container.c — one attempt's `RT run` and `RT rm` (container.h). No value
** of the task's environment goes on a command line: they are in a 0600 env
** file in the private directory, or (a value with a line break, which an env
** file cannot hold) in the runtime process's own environment, named by -e.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "launch.h"

extern char **environ;

void emu_argv_add(emu_argv *a, const char *s)
{
    if (a->failed)
        return;
    if (a->n + 2 > a->cap) {
        int ncap = a->cap ? a->cap * 2 : 32;
        char **grown = realloc(a->v, (size_t)ncap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return;
        }
        a->v = grown;
        a->cap = ncap;
    }
    if (!(a->v[a->n] = strdup(s))) {
        a->failed = 1;
        return;
    }
    a->v[++a->n] = NULL;
}

void emu_argv_free(emu_argv *a)
{
    for (int i = 0; i < a->n; i++) {
        explicit_bzero(a->v[i], strlen(a->v[i])); /* the runtime's env may hold a secret */
        free(a->v[i]);
    }
    free(a->v);
    *a = (emu_argv){0};
}

static void add_fmt(emu_argv *a, const char *fmt, const char *x, const char *y)
{
    char *s = emu_strfmt(fmt, x, y);
    if (!s) {
        a->failed = 1;
        return;
    }
    emu_argv_add(a, s);
    free(s);
}

static char *env_file_path(const emu_runtime *rt, const emu_execution *e, const emu_task *t)
{
    char index[32];
    snprintf(index, sizeof index, "%d-%d", t->index, t->attempt);
    return emu_strfmt("%s/%s-task%s.env", rt->run_dir, e->id, index);
}

void emu_container_forget(const emu_runtime *rt, const emu_execution *e, const emu_task *t)
{
    char *path = rt && rt->kind != EMU_RUNTIME_PROCESS && rt->run_dir ? env_file_path(rt, e, t) : NULL;
    if (path)
        unlink(path);
    free(path);
}

/* ---- the environment ----------------------------------------------------------------------- */

/* Whether NAME can be a line's name in an env file (and a -e NAME). */
static int env_name_ok(const char *name)
{
    if (!*name || *name == '#' || *name == ' ' || *name == '\t')
        return 0;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* One variable: a line of the env file, or (a value with a line break) -e NAME with the value in the runtime's env. */
static int put_var(FILE *f, emu_argv *run, emu_argv *env, const char *name, const char *value)
{
    if (!env_name_ok(name))
        return -1;
    if (!strpbrk(value, "\r\n"))
        return fprintf(f, "%s=%s\n", name, value) < 0 ? -1 : 0;
    emu_argv_add(run, "-e");
    emu_argv_add(run, name);
    add_fmt(env, "%s=%s", name, value);
    return 0;
}

/* The env file: the container's env (after overrides; secret ones resolved), then Cloud Run's task variables. */
static int write_env(const char *path, const emu_execution *e, const emu_task *t, const cJSON *c, emu_argv *run,
                     emu_argv *env, const char **bad)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(c, "env");
    for (const cJSON *v = vars ? vars->child : NULL; v && rc == 0; v = v->next) {
        const char *name = emu_str(v, "name");
        if (!name || cJSON_GetObjectItemCaseSensitive(v, "valueSource"))
            continue; /* a secret's: below, resolved */
        const char *value = emu_str(v, "value");
        if ((rc = put_var(f, run, env, name, value ? value : "")) < 0)
            *bad = name;
    }
    char *const *secret = emu_launch_env(e);
    for (int i = 0; secret && secret[i] && rc == 0; i++) {
        char *eq = strchr(secret[i], '=');
        *eq = '\0';
        if ((rc = put_var(f, run, env, secret[i], eq + 1)) < 0)
            *bad = secret[i];
        *eq = '=';
    }
    char n[4][16];
    snprintf(n[0], sizeof n[0], "%d", t->index);
    snprintf(n[1], sizeof n[1], "%d", e->task_count);
    snprintf(n[2], sizeof n[2], "%d", t->attempt);
    if (rc == 0)
        rc = fprintf(f,
                     "CLOUD_RUN_JOB=%s\nCLOUD_RUN_EXECUTION=%s\nCLOUD_RUN_TASK_INDEX=%s\nCLOUD_RUN_TASK_COUNT=%s\n"
                     "CLOUD_RUN_TASK_ATTEMPT=%s\n",
                     e->job, e->id, n[0], n[1], n[2]) < 0
                 ? -1
                 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

/* ---- limits and volumes ---------------------------------------------------------------------- */

/* A Kubernetes quantity ("512Mi", "1G", "1.5Gi", "100m", "2") in units: bytes, or cores for cpu. -1 when it is not one.
 */
static double quantity(const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v <= 0)
        return -1;
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1},
                 {"m", 1e-3},
                 {"k", 1e3},
                 {"K", 1e3},
                 {"M", 1e6},
                 {"G", 1e9},
                 {"T", 1e12},
                 {"Ki", 1024.0},
                 {"Mi", 1048576.0},
                 {"Gi", 1073741824.0},
                 {"Ti", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0)
            return v * units[i].scale;
    return -1;
}

static void add_limits(const emu_runtime *rt, const cJSON *c, emu_argv *run, char *warning, size_t size)
{
    const cJSON *limits = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "resources"), "limits");
    const char *cpu = emu_str(limits, "cpu"), *memory = emu_str(limits, "memory");
    if (!cpu && !memory)
        return;
    if (!rt->limits) {
        snprintf(warning, size, "warning: the limits cpu=%s memory=%s are not applied: %s", cpu ? cpu : "-",
                 memory ? memory : "-", rt->why_no_limits);
        return;
    }
    double cores = cpu ? quantity(cpu) : 0, bytes = memory ? quantity(memory) : 0;
    char v[64];
    if (cores > 0) {
        snprintf(v, sizeof v, "%.3f", cores);
        emu_argv_add(run, "--cpus");
        emu_argv_add(run, v);
    }
    if (bytes >= 1) {
        snprintf(v, sizeof v, "%.0f", bytes);
        emu_argv_add(run, "--memory");
        emu_argv_add(run, v);
    }
    if (cores < 0 || bytes < 0)
        snprintf(warning, size, "warning: the limit %s='%s' is not a quantity the emulator reads; not applied",
                 cores < 0 ? "cpu" : "memory", cores < 0 ? cpu : memory);
}

/* The container's volume mounts (RunJob has refused what cannot be honoured). 0, or -1 with why. */
static int add_mounts(const emu_runtime *rt, const emu_execution *e, const cJSON *c, emu_argv *run, char *why,
                      size_t size)
{
    const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(c, "volumeMounts");
    for (const cJSON *m = mounts ? mounts->child : NULL; m; m = m->next) {
        const char *name = emu_str(m, "name"), *path = emu_str(m, "mountPath");
        const cJSON *v = name ? emu_find_volume(e->template, name) : NULL;
        if (!v || !path) {
            snprintf(why, size, "The volume mount '%s' names no volume of the template.", name ? name : "");
            return -1;
        }
        const cJSON *empty = cJSON_GetObjectItemCaseSensitive(v, "emptyDir");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(v, "gcs");
        if (!src)
            src = cJSON_GetObjectItemCaseSensitive(v, "nfs");
        const char *sub = emu_str(m, "subPath"); /* RunJob has held it to a plain relative path */
        char *spec;
        if (empty) { /* a subPath of a fresh emptyDir is a fresh empty directory: the tmpfs itself */
            const char *limit = emu_str(empty, "sizeLimit");
            double bytes = limit ? quantity(limit) : 0;
            spec = bytes >= 1 ? emu_strfmt("type=tmpfs,destination=%s,tmpfs-size=%.0f", path, bytes)
                              : emu_strfmt("type=tmpfs,destination=%s", path);
        } else if (cJSON_GetObjectItemCaseSensitive(v, "secret")) {
            char *dir = emu_launch_secret_dir(e, name);
            char *source = !dir ? NULL : sub ? emu_strfmt("%s/%s", dir, sub) : strdup(dir);
            free(dir);
            struct stat st;
            if (!source || stat(source, &st) != 0) {
                if (sub)
                    snprintf(why, size,
                             "The secret volume '%s' has no file or directory '%s' (the subPath of its mount at %s).",
                             name, sub, path);
                else
                    snprintf(why, size, "The secret volume '%s' has no files.", name);
                free(source);
                return -1;
            }
            spec = emu_strfmt("type=bind,source=%s,destination=%s,ro=true", source, path);
            free(source);
        } else {
            const char *dir = emu_runtime_volume_dir(rt, name);
            if (!dir) {
                snprintf(why, size,
                         "The volume '%s' has no local directory: start the emulator with --volume-dir %s=DIR.", name,
                         name);
                return -1;
            }
            int ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(src, "readOnly"));
            spec = emu_strfmt("type=bind,source=%s%s%s,destination=%s%s", dir, sub ? "/" : "", sub ? sub : "", path,
                              ro ? ",ro=true" : "");
        }
        emu_argv_add(run, "--mount");
        emu_argv_add(run, spec ? spec : "");
        run->failed |= !spec;
        free(spec);
    }
    return 0;
}

/* ---- the commands ---------------------------------------------------------------------------- */

int emu_container_commands(const emu_runtime *rt, const emu_execution *e, const emu_task *t, emu_argv *run,
                           emu_argv *cleanup, emu_argv *env, char *why, size_t why_size, char *warning,
                           size_t warning_size)
{
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(e->template, "containers");
    const cJSON *c = containers ? containers->child : NULL; /* the one container: RunJob refuses more (fields.c) */
    const char *image = emu_str(c, "image"), *wd = emu_str(c, "workingDir");
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(c, "command");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
    warning[0] = '\0';
    char name[160], pid[24], start[24], index[16];
    snprintf(name, sizeof name, "cloudrun-%s-task%d-a%d-%d", e->id, t->index, t->attempt, (int)rt->pid);
    snprintf(pid, sizeof pid, "%d", (int)rt->pid);
    snprintf(start, sizeof start, "%llu", rt->start);
    snprintf(index, sizeof index, "%d", t->index);
    for (char **p = environ; p && *p; p++)
        emu_argv_add(env, *p);
    emu_argv_add(run, rt->program);
    emu_argv_add(run, "run");
    emu_argv_add(run, "--rm");
    emu_argv_add(run, "--pull=never"); /* launch.c has looked it up or pulled it, once for the execution */
    emu_argv_add(run, "--name");
    emu_argv_add(run, name);
    add_fmt(run, "--label=%s=%s", EMU_LABEL_PID, pid);
    add_fmt(run, "--label=%s=%s", EMU_LABEL_START, start);
    add_fmt(run, "--label=%s=%s", EMU_LABEL_EXECUTION, e->name);
    add_fmt(run, "--label=%s=%s", EMU_LABEL_TASK, index);
    char *path = emu_runtime_private_dir(rt) == 0 ? env_file_path(rt, e, t) : NULL;
    const char *bad = NULL;
    if (!path || write_env(path, e, t, c, run, env, &bad) < 0) {
        if (bad)
            snprintf(why, why_size,
                     "The environment variable '%s' cannot be given to %s (a name with a control "
                     "character, or starting with '#' or a space).",
                     bad, rt->program);
        else
            snprintf(why, why_size, "The emulator could not write the task's env file: %s.", strerror(errno));
        free(path);
        return -1;
    }
    emu_argv_add(run, "--env-file");
    emu_argv_add(run, path);
    free(path);
    if (wd) {
        emu_argv_add(run, "--workdir");
        emu_argv_add(run, wd);
    }
    add_limits(rt, c, run, warning, warning_size);
    if (add_mounts(rt, e, c, run, why, why_size) < 0)
        return -1;
    const cJSON *first = command ? command->child : NULL;
    if (first) { /* command[0] is the ENTRYPOINT; the rest of command and args, the CMD (so the image's is not used) */
        emu_argv_add(run, "--entrypoint");
        if (rt->kind == EMU_RUNTIME_PODMAN) { /* podman reads a JSON array there: one element, whatever it holds */
            cJSON *one = cJSON_CreateArray();
            cJSON_AddItemToArray(one, cJSON_CreateString(first->valuestring));
            char *text = one ? cJSON_PrintUnformatted(one) : NULL;
            emu_argv_add(run, text ? text : "");
            run->failed |= !text;
            free(text);
            cJSON_Delete(one);
        } else {
            emu_argv_add(run, first->valuestring);
        }
    }
    emu_argv_add(run, image ? image : "");
    for (const cJSON *a = first ? first->next : NULL; a; a = a->next)
        emu_argv_add(run, a->valuestring);
    for (const cJSON *a = args ? args->child : NULL; a; a = a->next)
        emu_argv_add(run, a->valuestring);
    emu_argv_add(cleanup, rt->program);
    emu_argv_add(cleanup, "rm");
    emu_argv_add(cleanup, "-f");
    if (rt->kind == EMU_RUNTIME_PODMAN) {
        emu_argv_add(cleanup, "--time");
        emu_argv_add(cleanup, "0");
        emu_argv_add(cleanup, "--ignore");
    }
    emu_argv_add(cleanup, name);
    if (run->failed || cleanup->failed || env->failed) {
        snprintf(why, why_size, "The emulator ran out of memory preparing the container.");
        return -1;
    }
    return 0;
}
