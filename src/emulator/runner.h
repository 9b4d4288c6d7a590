/*
** runner.h — executions really run: one thread starts each task
** as a local process (command + args, no shell, its own process group,
** under a supervisor that ends everything it starts with it),
** copies its output into its log file (up to the store's log_limit), reaps
** it, enforces timeouts, retries, parallelism, the store's max_processes
** (tasks beyond it wait, pending) and cancellation (lifecycle.h asks for
** it), and moves the execution's counts and state along. It works under the
** store's mutex like everyone else; the processes themselves are process.h's.
*/
#ifndef EMU_RUNNER_H
#define EMU_RUNNER_H

#include <pthread.h>

#include "spawner.h"
#include "store.h"

/* At most this many processes of one execution run at once, whatever the
** job's parallelism says (0/unset means "as many as possible" on Cloud Run;
** on one machine that has to be bounded). */
#define EMU_MAX_PARALLEL 32

/* SIGTERM to the task's group first; SIGKILL to everything the task started
** when its main process is still there after this. */
#define EMU_KILL_GRACE_MS 3000

struct pollfd;

typedef struct emu_runner {
    emu_store *store;
    emu_spawner spawner; /* forks every attempt's supervisor (spawner.h) */
    pthread_t thread;
    int started;
    struct pollfd *fds; /* what the runner waits on while tasks run (runner.c) */
    size_t nfds_cap;
} emu_runner;

/* Starts the runner thread. 0, or -1 (errno set). */
int emu_runner_start(emu_runner *r, emu_store *s);

/* Terminates every running task (SIGTERM to its group, then SIGKILL to all it started after
** the grace period), reaps them and joins the thread. Takes the mutex itself. */
void emu_runner_stop(emu_runner *r);

/* Tells the runner thread there is something new (a new execution). Mutex held. */
void emu_runner_wake(emu_store *s);

#endif
