/*
** emulator.h — the local Cloud Run Jobs emulator as one entry point, for the
** `cloudrun emulator` command and the `cloudrun-emulator` program.
*/
#ifndef CLOUDRUN_EMULATOR_H
#define CLOUDRUN_EMULATOR_H

/*
** Runs the emulator until SIGINT or SIGTERM. argv[0] is the program name, the
** rest are the options (--host, --port, --jobs, --log-dir, --quiet, --help).
** Prints "cloudrun emulator listening on http://HOST:PORT" and
** "export CLOUD_RUN_EMULATOR_HOST=HOST:PORT" on stdout once it listens.
** Returns the exit status: 0 after a signal (or --help), 2 for bad usage or a
** bad --jobs file, 1 when it cannot start (port in use, log directory).
** Blocks SIGINT/SIGTERM in the calling thread while it runs (restored after).
*/
int cr_emulator_main(int argc, char **argv);

/*
** The text `cloudrun emulator --help` prints (static, never freed): `cloudrun
** help --man` renders it into the man page, so the two cannot drift.
*/
const char *cr_emulator_usage(void);

#endif
