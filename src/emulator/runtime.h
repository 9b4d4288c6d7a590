/*
** runtime.h — where a task runs: as a local process (the default), or as a
** container of the job's image under podman or docker, driven through the
** runtime's own CLI as a user would drive it. The options that say so
** (--runtime, --pull, --secrets, --volume-dir), the private directory
** that env files and secret files live in, the labels every container
** carries, and the sweep of containers a dead emulator left behind.
** What one attempt's container is: container.h.
*/
#ifndef EMU_RUNTIME_H
#define EMU_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "secrets.h"

typedef enum emu_runtime_kind { EMU_RUNTIME_PROCESS, EMU_RUNTIME_PODMAN, EMU_RUNTIME_DOCKER } emu_runtime_kind;
typedef enum emu_pull_policy { EMU_PULL_MISSING, EMU_PULL_NEVER, EMU_PULL_ALWAYS } emu_pull_policy;

#define EMU_MAX_VOLUME_DIRS 64

/* The labels on every container an emulator starts (runtime.c sweeps by them). */
#define EMU_LABEL_PID "lua-cloudrun.emulator.pid"
#define EMU_LABEL_START "lua-cloudrun.emulator.start"
#define EMU_LABEL_EXECUTION "lua-cloudrun.execution"
#define EMU_LABEL_TASK "lua-cloudrun.task"

typedef struct emu_volume_dir {
    const char *name; /* the volume's name in the job's template (points into argv) */
    char *dir;        /* owned: the absolute host directory */
} emu_volume_dir;

typedef struct emu_runtime {
    emu_runtime_kind kind;
    const char *program; /* "podman" or "docker", looked up along $PATH */
    emu_pull_policy pull;
    const char *secrets_path; /* --secrets, NULL without */
    emu_secrets *secrets;     /* owned, NULL without --secrets */
    emu_volume_dir dirs[EMU_MAX_VOLUME_DIRS];
    int ndirs;
    char *run_dir; /* owned: a private (0700) directory for env files and secret files; NULL until opened */
    pid_t pid;     /* the emulator's, and its start time (/proc/self/stat): the containers' labels */
    unsigned long long start;
    int limits; /* whether cpu and memory limits can be given to the runtime */
    char why_no_limits[160];
} emu_runtime;

/* Takes one of the options above (opt without its value). 1 when it was one
** of ours and is fine, 0 when it is not ours, -1 with why filled in when its
** value is wrong. */
int emu_runtime_option(emu_runtime *rt, const char *opt, const char *value, char *why, size_t why_size);

/* Whether opt is one of the options emu_runtime_option takes. */
int emu_runtime_takes(const char *opt);

/*
** After the options: reads --secrets, checks the --volume-dir directories,
** makes the private directory and, with a container runtime, checks that it
** answers and removes the containers of emulators that have died. 0, or -1
** with why filled in and *usage set when the fault is the user's options or
** files (exit 2) rather than the machine (exit 1).
*/
int emu_runtime_open(emu_runtime *rt, char *why, size_t why_size, int *usage);

/* Frees what open made and removes the private directory. */
void emu_runtime_close(emu_runtime *rt);

/* Makes sure the private directory is there (made again, 0700, should something
** have removed it while the emulator runs). 0, or -1 (errno set). */
int emu_runtime_private_dir(const emu_runtime *rt);

/* rm -rf of a directory the emulator made (symlinks in it are removed, never followed). */
void emu_runtime_remove_tree(const char *path);

/* The --volume-dir directory for a volume, NULL when none was given. */
const char *emu_runtime_volume_dir(const emu_runtime *rt, const char *name);

/* The runtime's name as the options spell it ("process", "podman", "docker"). */
const char *emu_runtime_name(const emu_runtime *rt);

/* Whether p is a relative path with no '..', '.' or empty component: what
** may be named under a volume (a secret's item, a mount's subPath). */
int emu_runtime_relative_path(const char *p);

/*
** RunJob's check of a TaskTemplate against what this emulator can honour:
** NULL when it can run, else the message of a FAILED_PRECONDITION in buf (a
** volume mount under the process runtime; a Cloud Storage, NFS or Cloud SQL
** volume mounted without a --volume-dir; a volume mount naming no volume; a
** subPath that is not a plain relative path, or that a --volume-dir
** directory lacks).
*/
const char *emu_runtime_refusal(const emu_runtime *rt, const cJSON *task_template, char *buf, size_t size);

/*
** Runs argv (argv[0] along $PATH) to its end and gives back what it wrote on
** stdout and stderr together, the last `size - 1` bytes of it, in out
** (NUL-terminated). Its exit status as a shell says it (128+N for a signal,
** 127 when it could not start). Blocks: for the start and the end of the
** emulator only.
*/
int emu_runtime_capture(char *const *argv, char *out, size_t size);

/* What the runtime code shares, each written once. */

/* Appends buf[0..n) to out, which holds len bytes and has room for cap - 1 (and
** a NUL), keeping the last cap - 1 bytes of all it was given; the new length. */
size_t emu_keep_tail(char *out, size_t len, size_t cap, const char *buf, size_t n);

/* The last line of text (NUL-terminated; its trailing line ends removed in
** place), control and non-ASCII bytes shown as '?': a command's words for a
** message. "" when it said nothing. */
const char *emu_last_line(char *text);

/* The volume of a task template named name, or NULL. */
const cJSON *emu_find_volume(const cJSON *task_template, const char *name);

/* o[key] when it is a string, else NULL. */
const char *emu_str(const cJSON *o, const char *key);

#endif
