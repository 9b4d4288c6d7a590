/*
** supervisor.h — a task attempt's supervisor: a small process (a child of
** the spawner, spawner.h) that spawns the attempt's main process and is a
** child subreaper (PR_SET_CHILD_SUBREAPER) for all it starts, so that what
** leaves the main process's group (setsid, a group of its own, a double
** fork) stays its descendant. When the main process ends, when the runner
** says so, or when the emulator goes, it kills every descendant left, reaps
** them, reports the main process's wait status and exits: a task's
** processes end with the task, as a container's do. Needs no privilege and
** nothing of the kernel but Linux 3.4's subreapers and /proc.
*/
#ifndef EMU_SUPERVISOR_H
#define EMU_SUPERVISOR_H

#include <sys/types.h>

/* An attempt as the supervisor runs it: its strings in the supervisor's
** memory, its descriptors the supervisor's own. */
typedef struct emu_attempt {
    char **argv, **envp; /* NULL-terminated; argv[0] is looked up along $PATH */
    char **cleanup;      /* NULL, or run (with envp) once the main process has ended or everything is to be killed,
                         ** before the rest is: a container runtime's `rm -f` */
    const char *wd;      /* NULL: the emulator's working directory */
    int null_fd, out_fd; /* /dev/null, and the output pipe's write end (stdout and stderr) */
    int report_fd;       /* written: the main process's pid (or -errno: not spawned), then its wait status */
    int control_fd;      /* read: 'T' SIGTERM to the main process's group, 'K' or its end: kill everything */
} emu_attempt;

/* In a fresh, single-threaded process: runs the attempt to its end, then
** exits. Never returns. */
void emu_supervise(const emu_attempt *a) __attribute__((noreturn));

/* The runner's side. SIGTERM: passed on to the main process's group while
** the main process runs; SIGKILL: everything the task started is killed. */
void emu_supervisor_signal(int control_fd, int sig);

/* Reads the supervisor's report, never blocking. 0 while the attempt runs
** (*main_pid set once it is known; start it at 0). 1 when it has ended:
** *status the main process's wait status (exit 127 when the supervisor
** was killed before it could tell), or *spawn_err posix_spawnp's errno
** when the main process never started. */
int emu_supervisor_poll(int report_fd, pid_t *main_pid, int *status, int *spawn_err);

#endif
