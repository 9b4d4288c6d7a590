/*
** supervisor.h — a task attempt's supervisor: a small fork of the emulator
** that spawns the attempt's main process and is a child subreaper
** (PR_SET_CHILD_SUBREAPER) for all it starts, so that what leaves the main
** process's group (setsid, a group of its own, a double fork) stays its
** descendant. When the main process ends, when the runner says so, or when
** the emulator dies, it kills every descendant left, reaps them, reports the
** main process's wait status and exits: a task's processes end with the task,
** as a container's do. Needs no privileges and nothing from the kernel but
** Linux 3.4's subreapers and /proc.
*/
#ifndef EMU_SUPERVISOR_H
#define EMU_SUPERVISOR_H

#include <spawn.h>
#include <sys/types.h>

/* What the supervisor spawns, as posix_spawnp takes it; prepared by the
** caller, which frees it once emu_supervisor_start returns. */
typedef struct emu_task_spawn {
    const char *file;
    char *const *argv, *const *envp;
    const posix_spawn_file_actions_t *actions;
    const posix_spawnattr_t *attr;
    int null_fd, out_fd; /* /dev/null and the output pipe's write end, which the actions use (both >= 3) */
} emu_task_spawn;

/*
** Forks the supervisor, which goes on to spawn the main process. Returns 0
** with *supervisor (the caller's child, to reap) and *report_fd (the read
** end of its report, non-blocking, the caller's to close), or fork's
** errno. Call it on a thread that outlives the supervisor: when the thread
** that forked it ends, the supervisor takes the task down (its parent-death
** signal).
*/
int emu_supervisor_start(const emu_task_spawn *spawn, pid_t *supervisor, int *report_fd);

/* SIGTERM: the supervisor passes it on to the main process's group while
** the main process runs. SIGKILL: it kills everything the task started. */
void emu_supervisor_signal(pid_t supervisor, int sig);

/* After waitpid gave the supervisor's own status: posix_spawnp's errno when
** the main process could not be spawned; else 0 with *status the main
** process's wait status, or, when the supervisor ended without its report
** (the task killed it), its own status if a signal ended it, else exit 127.
** *main_pid is the main process (leader of its own group) when it ran, else 0. */
int emu_supervisor_result(int report_fd, int supervisor_status, pid_t *main_pid, int *status);

#endif
