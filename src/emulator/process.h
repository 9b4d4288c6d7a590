/*
** process.h — a task attempt as a local process: started from the first
** container (command + args, no shell, its own process group, Cloud Run's
** task environment) under a supervisor that ends all it started with it
** (supervisor.h, started by spawner.h), its output copied into the task's
** log, signalled, and its end noticed. runner.c decides when; this file
** knows how. Everything here runs under the store's mutex, on the runner's
** thread.
*/
#ifndef EMU_PROCESS_H
#define EMU_PROCESS_H

#include "spawner.h"
#include "store.h"

/* Why an attempt did not start: the exit code and google.rpc code number its
** result shows, and the message (also noted in the task's log). */
typedef struct emu_spawn_failure {
    int exit_code;
    int rpc_code;
    char message[1024];
} emu_spawn_failure;

/*
** Starts t's current attempt through z: a local process, or a container of
** the job's image under s's container runtime (container.h). Returns 0 when it is under way
** (t->out_fd, t->log_fd, t->report_fd and t->control_fd, which the task now
** owns; t->pid once the supervisor has spawned the main process), or -1
** with *why filled in: nothing to run, the executable not found, a bad
** workingDir, or no pipe, log file or supervisor. Those are the task's
** failures, never the emulator's.
*/
int emu_process_start(const emu_store *s, emu_spawner *z, const emu_execution *e, emu_task *t, emu_spawn_failure *why);

/* Copies what the task's processes wrote into its log file, up to the
** store's log_limit per task, dating it with a mark (store.h: emu_log_mark).
** all: until the pipe is empty (the process has been reaped); else a few
** slices, once per supervision step. */
void emu_process_drain(const emu_store *s, const emu_execution *e, emu_task *t, int all);

/* For t's running attempt, if there is one: SIGTERM to its main process's
** group; SIGKILL to everything it started, in any session or group. */
void emu_process_signal(const emu_task *t, int sig);

/* Whether t's attempt has ended: its main process, and then everything else
** it started, which dies with it as a container's processes do (Cloud Run
** tears the container down when its main process exits). 1 with *status the
** main process's, as waitpid gives it (exit 127 when it is lost, 126 when it
** could not be started: noted in the task's log), 0 while it runs. Never
** blocks. */
int emu_process_reap(const emu_execution *e, emu_task *t, int *status);

/* After emu_process_reap said 1: copies the rest of the output into the log
** and closes the pipe and the log file; t->pid is 0. */
void emu_process_ended(const emu_store *s, const emu_execution *e, emu_task *t);

#endif
