/*
** container.h — a task attempt as a container of the job's image: the
** runtime's `run` command for it (Cloud Run's container contract: command
** as the ENTRYPOINT, args as the CMD, workingDir, env through a private env
** file, its volumes, cpu and memory limits, the labels that name its
** emulator) and the `rm` that takes it down. process.c runs them.
*/
#ifndef EMU_CONTAINER_H
#define EMU_CONTAINER_H

#include <stddef.h>

#include "runtime.h"
#include "store.h"

/* A NULL-terminated list of strings it owns. */
typedef struct emu_argv {
    char **v;
    int n, cap;
    int failed; /* out of memory on the way: the list is incomplete */
} emu_argv;

void emu_argv_add(emu_argv *a, const char *s);
void emu_argv_free(emu_argv *a);

/*
** The attempt's commands: run (what the supervisor runs as the task's main
** process), cleanup (what it runs when the attempt ends or is killed), and
** env: what the runtime's own process needs in its environment (the
** emulator's, plus variables whose values cannot go in an env file). The env
** file is written here (0600, in the private directory). 0, or -1 with why
** filled in (a task failure, never the emulator's). A warning (limits that
** cannot be given) is put in warning, "" when none.
*/
int emu_container_commands(const emu_runtime *rt, const emu_execution *e, const emu_task *t, emu_argv *run,
                           emu_argv *cleanup, emu_argv *env, char *why, size_t why_size, char *warning,
                           size_t warning_size);

/* Removes the attempt's env file (the runtime has read it once the container runs; at its end at the latest). */
void emu_container_forget(const emu_runtime *rt, const emu_execution *e, const emu_task *t);

#endif
