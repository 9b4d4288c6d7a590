/*
** runtime.c — the runtime options, the private directory, the check that
** a container runtime answers, and the sweep of dead emulators' containers
** (runtime.h); and RunJob's check that a template's volumes can be honoured.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"
#include "store.h"

extern char **environ;

static const char *const OPTIONS[] = {"--runtime", "--pull", "--secrets", "--volume-dir", NULL};

int emu_runtime_takes(const char *opt)
{
    for (int i = 0; OPTIONS[i]; i++)
        if (strcmp(opt, OPTIONS[i]) == 0)
            return 1;
    return 0;
}

/* Whether a host path can be given to --mount as it is (its syntax splits at commas). */
static int mountable_path(const char *p)
{
    for (; *p; p++)
        if (*p == ',' || *p == '=' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int emu_runtime_option(emu_runtime *rt, const char *opt, const char *value, char *why, size_t why_size)
{
    if (strcmp(opt, "--runtime") == 0) {
        static const char *const names[] = {"process", "podman", "docker"};
        for (int k = 0; k < 3; k++)
            if (strcmp(value, names[k]) == 0) {
                rt->kind = (emu_runtime_kind)k;
                rt->program = k ? names[k] : NULL;
                return 1;
            }
        snprintf(why, why_size, "--runtime takes process, podman or docker, not '%s'", value);
        return -1;
    }
    if (strcmp(opt, "--pull") == 0) {
        static const char *const names[] = {"missing", "never", "always"};
        for (int k = 0; k < 3; k++)
            if (strcmp(value, names[k]) == 0) {
                rt->pull = (emu_pull_policy)k;
                return 1;
            }
        snprintf(why, why_size, "--pull takes missing, never or always, not '%s'", value);
        return -1;
    }
    if (strcmp(opt, "--secrets") == 0) {
        rt->secrets_path = value;
        return 1;
    }
    if (strcmp(opt, "--volume-dir") != 0)
        return 0;
    const char *eq = strchr(value, '=');
    if (!eq || eq == value || !eq[1]) {
        snprintf(why, why_size, "--volume-dir takes NAME=DIR (a volume of the job's template, a directory), not '%s'",
                 value);
        return -1;
    }
    if (rt->ndirs == EMU_MAX_VOLUME_DIRS) {
        snprintf(why, why_size, "at most %d --volume-dir options", EMU_MAX_VOLUME_DIRS);
        return -1;
    }
    size_t n = (size_t)(eq - value);
    for (int i = 0; i < rt->ndirs; i++)
        if (strncmp(rt->dirs[i].name, value, n) == 0 && rt->dirs[i].name[n] == '=') {
            snprintf(why, why_size, "--volume-dir: the volume '%.*s' is given twice", (int)n, value);
            return -1;
        }
    char *dir = realpath(eq + 1, NULL);
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "--volume-dir %.*s=%s: %s", (int)n, value, eq + 1,
                 dir ? "not a directory" : strerror(errno));
        free(dir);
        return -1;
    }
    if (!mountable_path(dir)) {
        snprintf(why, why_size, "--volume-dir %.*s=%s: a directory whose path holds no ',' or '=' is needed", (int)n,
                 value, dir);
        free(dir);
        return -1;
    }
    rt->dirs[rt->ndirs].name = value; /* "NAME=DIR": compared up to its '=' */
    rt->dirs[rt->ndirs++].dir = dir;
    return 1;
}

const char *emu_runtime_volume_dir(const emu_runtime *rt, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; rt && i < rt->ndirs; i++)
        if (strncmp(rt->dirs[i].name, name, n) == 0 && rt->dirs[i].name[n] == '=')
            return rt->dirs[i].dir;
    return NULL;
}

const char *emu_runtime_name(const emu_runtime *rt)
{
    return !rt || rt->kind == EMU_RUNTIME_PROCESS ? "process" : rt->program;
}

/* ---- running the runtime's CLI, at start ------------------------------------------------- */

size_t emu_keep_tail(char *out, size_t len, size_t cap, const char *buf, size_t n)
{
    size_t room = cap - 1;
    if (n >= room) { /* what it is given alone fills the room */
        memcpy(out, buf + (n - room), room);
        return room;
    }
    if (len + n > room) { /* once per read, not once per byte */
        size_t drop = len + n - room;
        memmove(out, out + drop, len - drop);
        len -= drop;
    }
    memcpy(out + len, buf, n);
    return len + n;
}

const char *emu_last_line(char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    char *line = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return line;
}

const cJSON *emu_find_volume(const cJSON *task_template, const char *name)
{
    const cJSON *vols = cJSON_GetObjectItemCaseSensitive(task_template, "volumes");
    for (const cJSON *v = vols ? vols->child : NULL; v; v = v->next)
        if (emu_str(v, "name") && strcmp(emu_str(v, "name"), name) == 0)
            return v;
    return NULL;
}

const char *emu_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int emu_runtime_capture(char *const *argv, char *out, size_t size)
{
    int p[2];
    out[0] = '\0';
    if (pipe2(p, O_CLOEXEC) < 0)
        return 127;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    size_t len = 0;
    char buf[4096];
    for (ssize_t n; !err && ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR));) {
        len = emu_keep_tail(out, len, size, buf, n > 0 ? (size_t)n : 0);
    }
    out[len] = '\0';
    close(p[0]);
    if (err)
        return 127;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot), 0 when it is not there. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')'); /* the command name may hold anything: fields from its last ')' */
    unsigned long long v = 0;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        v = strtoull(p + 1, NULL, 10);
    return v;
}

/* The last line of a command's output, for a message. */

/*
** Removes the containers whose emulator has gone: a container carries the
** PID and start time of the emulator that made it; one whose PID is not
** there, or is another process now, has nobody left to remove it. A
** running emulator's containers are never touched.
*/
static int sweep(const emu_runtime *rt, char *why, size_t why_size)
{
    static char out[65536];
    char *ps[] = {(char *)rt->program, "ps", "-a", "-q", "--no-trunc", "--filter", "label=" EMU_LABEL_PID, NULL};
    int rc = emu_runtime_capture(ps, out, sizeof out);
    const char *said = emu_last_line(out);
    if (rc == 127 && !*said)
        snprintf(why, why_size,
                 "--runtime %s: '%s' was not found on $PATH: install it, or run tasks as local "
                 "processes (--runtime process)",
                 rt->program, rt->program);
    else if (rc != 0)
        snprintf(why, why_size, "--runtime %s: '%s ps' failed (exit %d), so %s does not answer: %s", rt->program,
                 rt->program, rc, rt->program, *said ? said : "it said nothing");
    if (rc != 0)
        return -1;
    char *argv[4 + 256 + 1] = {(char *)rt->program, "inspect", "--format",
                               "{{.Id}} {{index .Config.Labels \"" EMU_LABEL_PID
                               "\"}} {{index .Config.Labels \"" EMU_LABEL_START "\"}}"};
    int n = 4;
    char *save = NULL;
    for (char *id = strtok_r(out, " \n", &save); id && n < 4 + 256; id = strtok_r(NULL, " \n", &save))
        argv[n++] = id;
    argv[n] = NULL;
    if (n == 4)
        return 0;
    static char details[65536];
    if (emu_runtime_capture(argv, details, sizeof details) != 0)
        return 0; /* one went meanwhile: the next emulator sweeps the rest */
    char *rm[4 + 256 + 1] = {(char *)rt->program, "rm", "-f"};
    int m = 3;
    if (rt->kind == EMU_RUNTIME_PODMAN) {
        rm[m++] = "-t";
        rm[m++] = "0";
    }
    int first = m;
    save = NULL;
    for (char *line = strtok_r(details, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[129];
        long pid = 0;
        unsigned long long start = 0;
        if (sscanf(line, "%128s %ld %llu", id, &pid, &start) != 3 || pid <= 0 || pid > INT_MAX)
            continue;
        int alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
        if (alive && start_time((pid_t)pid) == start)
            continue;
        char *copy = m < 4 + 256 ? strdup(id) : NULL;
        if (copy)
            rm[m++] = copy;
    }
    rm[m] = NULL;
    if (m > first) {
        emu_runtime_capture(rm, out, sizeof out);
        fprintf(stderr, "cloudrun emulator: removed %d container(s) left by emulators that are gone\n", m - first);
    }
    for (int k = first; k < m; k++)
        free(rm[k]);
    return 0;
}

/* ---- open and close ---------------------------------------------------------------------- */

/* The private directory's name: the emulator's pid and start time, so that the next emulator can tell a dead one's. */
#define RUN_DIR_PREFIX "cloudrun-emulator-run-"

static void remove_tree(int parent, const char *name);

/* Removes the private directories (env files, secret files) of this user's emulators that have died. */
static void sweep_run_dirs(const char *tmp)
{
    DIR *d = opendir(tmp);
    for (struct dirent *de; d && (de = readdir(d));) {
        int pid = 0;
        unsigned long long start = 0;
        struct stat st;
        if (strncmp(de->d_name, RUN_DIR_PREFIX, strlen(RUN_DIR_PREFIX)) != 0 ||
            sscanf(de->d_name + strlen(RUN_DIR_PREFIX), "%d-%llu-", &pid, &start) != 2 || pid <= 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        int alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
        if (!alive || start_time((pid_t)pid) != start)
            remove_tree(dirfd(d), de->d_name);
    }
    if (d)
        closedir(d);
}

/* Whether cpu and memory limits reach the container: podman as another user than root on
** cgroup v1 cannot give them (it has no delegated cgroup to put them in). */
static void check_limits(emu_runtime *rt)
{
    struct stat st;
    int v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
    rt->limits = rt->kind == EMU_RUNTIME_DOCKER || geteuid() == 0 || v2;
    if (!rt->limits)
        snprintf(rt->why_no_limits, sizeof rt->why_no_limits,
                 "rootless podman cannot apply cpu and memory limits on this machine's cgroup v1");
}

int emu_runtime_open(emu_runtime *rt, char *why, size_t why_size, int *usage)
{
    *usage = 0;
    rt->pid = getpid();
    rt->start = start_time(rt->pid);
    if (rt->secrets_path) {
        rt->secrets = emu_secrets_load(rt->secrets_path, why, why_size);
        if (!rt->secrets) {
            *usage = 1;
            return -1;
        }
    }
    if (rt->kind == EMU_RUNTIME_PROCESS && rt->ndirs > 0) {
        snprintf(why, why_size, "--volume-dir needs a container runtime: add --runtime podman or --runtime docker");
        *usage = 1;
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    sweep_run_dirs(tmp);
    rt->run_dir = emu_strfmt("%s/" RUN_DIR_PREFIX "%d-%llu-XXXXXX", tmp, (int)rt->pid, rt->start);
    if (!rt->run_dir || !mkdtemp(rt->run_dir)) {
        snprintf(why, why_size, "cannot make a private directory %s: %s", rt->run_dir ? rt->run_dir : "",
                 strerror(errno));
        free(rt->run_dir);
        rt->run_dir = NULL;
        return -1;
    }
    char *abs = realpath(rt->run_dir, NULL);
    if (abs) {
        free(rt->run_dir);
        rt->run_dir = abs;
    }
    if (rt->kind == EMU_RUNTIME_PROCESS)
        return 0;
    if (!mountable_path(rt->run_dir)) {
        snprintf(why, why_size, "the private directory %s holds a ',' or '=': set TMPDIR to a plainer one",
                 rt->run_dir);
        return -1;
    }
    check_limits(rt);
    return sweep(rt, why, why_size);
}

/* rm -rf of a directory of ours (no symlinks followed: unlinkat never does). */
static void remove_tree(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d && fd >= 0)
        close(fd);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM))
            remove_tree(dirfd(d), de->d_name);
    }
    if (d)
        closedir(d);
    unlinkat(parent, name, AT_REMOVEDIR);
}

int emu_runtime_private_dir(const emu_runtime *rt)
{
    struct stat st;
    if (!rt || !rt->run_dir) {
        errno = ENOENT;
        return -1;
    }
    if (lstat(rt->run_dir, &st) == 0)
        return S_ISDIR(st.st_mode) && st.st_uid == geteuid() ? 0 : (errno = EEXIST, -1);
    if (errno != ENOENT || mkdir(rt->run_dir, 0700) < 0)
        return -1;
    fprintf(stderr, "cloudrun emulator: its private directory %s was removed from under it; made again\n", rt->run_dir);
    return 0;
}

void emu_runtime_remove_tree(const char *path)
{
    remove_tree(AT_FDCWD, path);
}

void emu_runtime_close(emu_runtime *rt)
{
    emu_secrets_free(rt->secrets);
    rt->secrets = NULL;
    for (int i = 0; i < rt->ndirs; i++)
        free(rt->dirs[i].dir);
    rt->ndirs = 0;
    if (rt->run_dir)
        emu_runtime_remove_tree(rt->run_dir);
    free(rt->run_dir);
    rt->run_dir = NULL;
}

/* ---- RunJob's check ------------------------------------------------------------------------ */

int emu_runtime_relative_path(const char *p)
{
    if (!*p || *p == '/')
        return 0;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        c += n + (c[n] == '/');
    }
    return 1;
}

/* A mount's subPath: a plain relative path, and under a --volume-dir directory
** (dir, NULL for the other volumes) something that is there. NULL, or buf. */
static const char *subpath_refusal(const cJSON *m, const char *n, const char *p, const char *dir, char *buf,
                                   size_t size)
{
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(m, "subPath");
    if (!cJSON_IsString(sub))
        return NULL;
    const char *s = sub->valuestring;
    if (!emu_runtime_relative_path(s) || !mountable_path(s)) {
        snprintf(buf, size,
                 "The volume mount '%s' at %s: its subPath '%s' must be a relative path inside the volume, "
                 "without '.' or '..' components, ',' or '='.",
                 n, p, s);
        return buf;
    }
    struct stat st;
    char *full = dir ? emu_strfmt("%s/%s", dir, s) : NULL;
    int missing = full && stat(full, &st) != 0;
    free(full);
    if (!missing)
        return NULL;
    snprintf(buf, size, "The volume mount '%s' at %s: its subPath '%s' is not in the volume's directory %s: create it.",
             n, p, s, dir);
    return buf;
}

/* Whether an image reference can be handed to the runtime's CLI as one: never
** mistaken for an option, nothing but printable ASCII without spaces. */
static int plausible_image(const char *image)
{
    if (!*image || *image == '-')
        return 0;
    for (const char *p = image; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

const char *emu_runtime_refusal(const emu_runtime *rt, const cJSON *tt, char *buf, size_t size)
{
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(tt, "containers");
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(containers ? containers->child : NULL, "image");
    if (rt && rt->kind != EMU_RUNTIME_PROCESS && (!cJSON_IsString(image) || !plausible_image(image->valuestring))) {
        snprintf(buf, size, "The container's image '%.200s' is not an image reference %s can be given.",
                 cJSON_IsString(image) ? image->valuestring : "", rt->program);
        return buf;
    }
    for (const cJSON *c = containers ? containers->child : NULL; c; c = c->next) {
        const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(c, "volumeMounts");
        for (const cJSON *m = mounts ? mounts->child : NULL; m; m = m->next) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
            const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "mountPath");
            const char *n = cJSON_IsString(name) ? name->valuestring : "";
            const char *p = cJSON_IsString(path) ? path->valuestring : "";
            if (!rt || rt->kind == EMU_RUNTIME_PROCESS) {
                snprintf(buf, size,
                         "The volume mount '%s' at %s needs a container runtime: start the emulator with --runtime "
                         "podman or --runtime docker.",
                         n, p);
                return buf;
            }
            const cJSON *v = emu_find_volume(tt, n);
            if (!v) {
                snprintf(buf, size, "The volume mount '%s' at %s names no volume of the template.", n, p);
                return buf;
            }
            int external = cJSON_GetObjectItemCaseSensitive(v, "gcs") || cJSON_GetObjectItemCaseSensitive(v, "nfs") ||
                           cJSON_GetObjectItemCaseSensitive(v, "cloudSqlInstance");
            if (external && !emu_runtime_volume_dir(rt, n)) {
                snprintf(buf, size,
                         "The volume '%s' (mounted at %s) has no local directory: start the emulator with "
                         "--volume-dir %s=DIR.",
                         n, p, n);
                return buf;
            }
            if (!mountable_path(p) || p[0] != '/') {
                snprintf(buf, size,
                         "The volume mount '%s' at '%s': the emulator mounts only absolute paths "
                         "without ',' or '='.",
                         n, p);
                return buf;
            }
            if (subpath_refusal(m, n, p, external ? emu_runtime_volume_dir(rt, n) : NULL, buf, size))
                return buf;
        }
    }
    return NULL;
}
