/*
** spawner.h — the process that starts every task attempt's supervisor
** (supervisor.h). Forked once, when the runner starts and the emulator is
** still small; each attempt is then a fork of the spawner, never of the
** emulator: a fork of the emulator would copy its page tables, and make
** every page its threads write next a copy (COW) while the fork lives.
** The runner sends an attempt (argv, env, workingDir and the output pipe)
** over a socket; it hears back through the attempt's own pipes.
*/
#ifndef EMU_SPAWNER_H
#define EMU_SPAWNER_H

#include <sys/types.h>

typedef struct emu_spawner {
    pid_t pid; /* the spawner, the emulator's child; 0 when none */
    int sock;  /* the emulator's end of their socket, -1 when none */
} emu_spawner;

/* Forks the spawner. 0, or -1 (errno set). */
int emu_spawner_start(emu_spawner *z);

/* Ends the spawner (the supervisors it started go on to their ends) and reaps it. */
void emu_spawner_stop(emu_spawner *z);

/*
** Has an attempt started: argv (argv[0] looked up along $PATH), envp, wd
** (NULL: the emulator's), cleanup (NULL, or a command its supervisor runs
** when the attempt ends or is killed, before it kills what is left), out_fd the write end of its output pipe (left
** open: the caller closes it). Returns 0 with *report_fd and *control_fd
** (non-blocking, the caller's to close; supervisor.h says what they carry),
** or an errno. A spawner that has died is started again, once.
*/
int emu_spawner_run(emu_spawner *z, char *const *argv, char *const *envp, const char *wd, char *const *cleanup,
                    int out_fd, int *report_fd, int *control_fd);

#endif
