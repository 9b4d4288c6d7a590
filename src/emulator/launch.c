/*
** launch.c — an execution's secrets and image, got once before its first
** task (launch.h): secretKeyRef env values and secret volume files from the
** --secrets file, then `RT image inspect` and, by the --pull policy, `RT
** pull`, each run under a supervisor from the spawner while the runner goes
** on with everything else.
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

#include "launch.h"
#include "runtime.h"
#include "spawner.h"
#include "store.h"
#include "supervisor.h"

extern char **environ;

#define MAX_SECRET_VOLUMES 32
#define OUTPUT_KEPT 1024

typedef enum step { RESOLVE, CHECK, PULL, READY, FAILED } step;

struct emu_launch {
    step step;
    char **env; /* "NAME=value", NULL-terminated; the values wiped when freed */
    int nenv;
    char *dir; /* <run_dir>/<execution id>: the secret volumes' files */
    /* the image command under way */
    int out_fd, report_fd, control_fd;
    pid_t pid;
    char out[OUTPUT_KEPT]; /* the last bytes it wrote */
    size_t outlen;
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void stop_command(emu_launch *l)
{
    if (l->control_fd >= 0) {
        emu_supervisor_signal(l->control_fd, SIGKILL);
        close(l->control_fd);
    }
    if (l->report_fd >= 0)
        close(l->report_fd);
    if (l->out_fd >= 0)
        close(l->out_fd);
    l->out_fd = l->report_fd = l->control_fd = -1;
}

void emu_launch_free(emu_launch *l)
{
    if (!l)
        return;
    stop_command(l);
    for (int i = 0; i < l->nenv; i++)
        wipe_free(l->env[i]);
    free(l->env);
    if (l->dir)
        emu_runtime_remove_tree(l->dir);
    free(l->dir);
    free(l);
}

char *const *emu_launch_env(const emu_execution *e)
{
    return e->launch && e->launch->nenv ? e->launch->env : NULL;
}

/* The index of the template's volume named `name`, -1 when none. */
static int volume_index(const emu_execution *e, const char *name)
{
    const cJSON *vols = cJSON_GetObjectItemCaseSensitive(e->template, "volumes");
    int k = 0;
    for (const cJSON *v = vols ? vols->child : NULL; v; v = v->next, k++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return k;
    }
    return -1;
}

/* A volume's files are in <dir>/v<index>: its name is the user's, never part of a path. */
char *emu_launch_secret_dir(const emu_execution *e, const char *volume)
{
    int k = volume_index(e, volume);
    return e->launch && e->launch->dir && k >= 0 ? emu_strfmt("%s/v%d", e->launch->dir, k) : NULL;
}

static const cJSON *first_container(const emu_execution *e)
{
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(e->template, "containers");
    return containers ? containers->child : NULL;
}

/* The secret's value, or NULL with e->fail_message naming the secret and the version. */
static const char *secret_value(emu_store *s, emu_execution *e, const char *secret, const char *version)
{
    const emu_runtime *rt = s->runtime;
    const char *v = version && *version ? version : "latest";
    const char *value = rt && rt->secrets ? emu_secrets_lookup(rt->secrets, e->project, secret, v) : NULL;
    if (value)
        return value;
    int full = strncmp(secret, "projects/", 9) == 0;
    free(e->fail_message);
    e->fail_message = emu_strfmt("Secret '%s%s%s%s' version '%s' is not in the --secrets file%s.",
                                 full ? "" : "projects/", full ? "" : e->project, full ? "" : "/secrets/", secret, v,
                                 rt && rt->secrets ? "" : ": the emulator was started without --secrets");
    e->fail_code = 9;
    return NULL;
}

/* env entries with valueSource.secretKeyRef: their values. 0, or -1 (e->fail_message set). */
static int resolve_env(emu_store *s, emu_execution *e, emu_launch *l, const cJSON *c)
{
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(c, "env");
    int n = cJSON_GetArraySize(vars);
    l->env = calloc((size_t)n + 1, sizeof *l->env);
    if (!l->env)
        return -1;
    for (const cJSON *v = vars ? vars->child : NULL; v; v = v->next) {
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(v, "valueSource");
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(src, "secretKeyRef");
        const char *name = emu_str(v, "name"), *secret = emu_str(ref, "secret");
        if (!ref || !name || !secret)
            continue;
        const char *value = secret_value(s, e, secret, emu_str(ref, "version"));
        if (!value)
            return -1;
        if (!(l->env[l->nenv] = emu_strfmt("%s=%s", name, value)))
            return -1;
        l->nenv++;
    }
    return 0;
}

/* Writes `value` to dir/path with mode, making the directories on the way. 0 or -1. */
static int write_secret_file(const char *dir, const char *path, const char *value, int mode)
{
    char *full = emu_strfmt("%s/%s", dir, path);
    if (!full)
        return -1;
    for (char *p = full + strlen(dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(full, 0755);
            *p = '/';
        }
    int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    free(full);
    if (fd < 0)
        return -1;
    size_t len = strlen(value);
    int ok = write(fd, value, len) == (ssize_t)len && fchmod(fd, (mode_t)(mode & 0777)) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* Secret volumes: their files under <dir>/<volume name>/. 0, or -1 (e->fail_message set). */
static int resolve_volumes(emu_store *s, emu_execution *e, emu_launch *l)
{
    const cJSON *vols = cJSON_GetObjectItemCaseSensitive(e->template, "volumes");
    for (const cJSON *v = vols ? vols->child : NULL; v; v = v->next) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(v, "secret");
        const char *name = emu_str(v, "name"), *secret = emu_str(sec, "secret");
        if (!sec || !name || !secret || !s->runtime || !s->runtime->run_dir || s->runtime->kind == EMU_RUNTIME_PROCESS)
            continue;
        if (!l->dir && (emu_runtime_private_dir(s->runtime) < 0 ||
                        !(l->dir = emu_strfmt("%s/%s", s->runtime->run_dir, e->id)) || mkdir(l->dir, 0700) < 0))
            goto cannot;
        char *vdir = emu_launch_secret_dir(e, name);
        if (!vdir || mkdir(vdir, 0755) < 0) {
            free(vdir);
            goto cannot;
        }
        const cJSON *dm = cJSON_GetObjectItemCaseSensitive(sec, "defaultMode");
        int mode = cJSON_IsNumber(dm) ? dm->valueint : 0444;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(sec, "items");
        const char *short_name = strrchr(secret, '/') ? strrchr(secret, '/') + 1 : secret;
        if (!emu_runtime_relative_path(short_name)) {
            free(e->fail_message);
            e->fail_message =
                emu_strfmt("The secret volume '%s' names a secret '%s' that cannot be a file name.", name, secret);
            e->fail_code = 3;
            return -1;
        }
        int rc = 0;
        if (cJSON_GetArraySize(items) == 0) {
            const char *value = secret_value(s, e, secret, "latest");
            rc = !value ? -2 : write_secret_file(vdir, short_name, value, mode);
        }
        for (const cJSON *it = items ? items->child : NULL; it && rc == 0; it = it->next) {
            const char *path = emu_str(it, "path");
            const cJSON *im = cJSON_GetObjectItemCaseSensitive(it, "mode");
            if (!path || !emu_runtime_relative_path(path)) {
                free(e->fail_message);
                e->fail_message = emu_strfmt("The secret volume '%s' has an item path '%s' that is not a plain "
                                             "relative path.",
                                             name, path ? path : "");
                e->fail_code = 3;
                rc = -2;
                break;
            }
            const char *value = secret_value(s, e, secret, emu_str(it, "version"));
            rc = !value ? -2 : write_secret_file(vdir, path, value, cJSON_IsNumber(im) ? im->valueint : mode);
        }
        free(vdir);
        if (rc == -2)
            return -1;
        if (rc < 0)
            goto cannot;
    }
    return 0;
cannot:
    free(e->fail_message);
    e->fail_message = emu_strfmt("The emulator could not write the secret volumes' files under %s: %s.",
                                 l->dir ? l->dir : "its private directory", strerror(errno));
    e->fail_code = 13;
    return -1;
}

/* ---- the image ------------------------------------------------------------------------------ */

static int start_command(emu_spawner *z, emu_launch *l, char **argv)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return errno;
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    int err = emu_spawner_run(z, argv, environ, NULL, NULL, out[1], &l->report_fd, &l->control_fd);
    close(out[1]);
    if (err) {
        close(out[0]);
        return err;
    }
    l->out_fd = out[0];
    l->pid = 0;
    l->outlen = 0;
    return 0;
}

static void drain(emu_launch *l)
{
    char buf[4096];
    ssize_t n;
    while (l->out_fd >= 0 && (n = read(l->out_fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            break;
        }
        l->outlen = emu_keep_tail(l->out, l->outlen, OUTPUT_KEPT, buf, (size_t)n);
    }
    close(l->out_fd);
    l->out_fd = -1;
}

/* The command's last line of output, for a message (printable ASCII only). */
static const char *last_line(emu_launch *l)
{
    l->out[l->outlen] = '\0';
    const char *line = emu_last_line(l->out);
    l->outlen = strlen(l->out);
    return *line ? line : "(it said nothing)";
}

static int fail(emu_execution *e, emu_launch *l, int code, char *message)
{
    free(e->fail_message);
    e->fail_message = message;
    e->fail_code = code;
    l->step = FAILED;
    return -1;
}

static int image_step(emu_store *s, emu_spawner *z, emu_execution *e, emu_launch *l, const char *image)
{
    const emu_runtime *rt = s->runtime;
    if (l->report_fd < 0) {
        char *inspect[] = {(char *)rt->program, "image", "inspect", "--format", "{{.Id}}", (char *)image, NULL};
        char *pull[] = {(char *)rt->program, "pull", (char *)image, NULL};
        int err = start_command(z, l, l->step == CHECK ? inspect : pull);
        if (err)
            return fail(e, l, 13,
                        emu_strfmt("The emulator could not run '%s' for the image '%s': %s.", rt->program, image,
                                   strerror(err)));
        return 0;
    }
    drain(l);
    int status, spawn_err;
    if (!emu_supervisor_poll(l->report_fd, &l->pid, &status, &spawn_err))
        return 0;
    drain(l);
    stop_command(l);
    int ok = !spawn_err && status == 0;
    if (spawn_err)
        return fail(e, l, 13, emu_strfmt("The emulator could not run '%s': %s.", rt->program, strerror(spawn_err)));
    if (l->step == CHECK && !ok && rt->pull == EMU_PULL_NEVER)
        return fail(
            e, l, 9,
            emu_strfmt("Image '%s' is not on this machine, and the emulator was started with --pull never.", image));
    if (l->step == PULL && !ok)
        return fail(e, l, 9, emu_strfmt("Image '%s' could not be pulled: %s", image, last_line(l)));
    if (l->step == CHECK && !ok) {
        l->step = PULL;
        return image_step(s, z, e, l, image);
    }
    l->step = READY;
    return 1;
}

int emu_launch_step(emu_store *s, emu_spawner *z, emu_execution *e)
{
    emu_launch *l = e->launch;
    if (!l) {
        if (!(l = e->launch = calloc(1, sizeof *l)))
            return -1;
        l->out_fd = l->report_fd = l->control_fd = -1;
    }
    const cJSON *c = first_container(e);
    const char *image = emu_str(c, "image");
    if (l->step == RESOLVE) {
        if (resolve_env(s, e, l, c) < 0 || resolve_volumes(s, e, l) < 0) {
            if (!e->fail_message)
                return fail(e, l, 13, emu_strfmt("The emulator ran out of memory preparing the execution."));
            l->step = FAILED;
            return -1;
        }
        const emu_runtime *rt = s->runtime;
        l->step = !rt || rt->kind == EMU_RUNTIME_PROCESS ? READY : rt->pull == EMU_PULL_ALWAYS ? PULL : CHECK;
        if (l->step != READY && !image)
            return fail(e, l, 3, emu_strfmt("The container has no image to run."));
    }
    if (l->step == CHECK || l->step == PULL)
        return image_step(s, z, e, l, image);
    return l->step == READY ? 1 : -1;
}
