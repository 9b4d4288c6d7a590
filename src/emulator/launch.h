/*
** launch.h — what an execution needs before its first task starts, done once
** per execution: its secrets resolved from --secrets (env values, and secret
** volumes written as files in the private directory), and under a container
** runtime its image present (looked up, pulled by the --pull policy) through
** the runtime's CLI, run by the spawner so the runner never blocks. When one
** of them cannot be had, the execution fails before any task starts, saying
** which secret or image.
*/
#ifndef EMU_LAUNCH_H
#define EMU_LAUNCH_H

struct emu_store;
struct emu_execution;
struct emu_spawner;

typedef struct emu_launch emu_launch;

/* One step (the store's mutex held, on the runner's thread): 1 when the
** execution is ready to start tasks, 0 while its image is being looked up or
** pulled, -1 when it cannot start: e->fail_message says why. */
int emu_launch_step(struct emu_store *s, struct emu_spawner *z, struct emu_execution *e);

/* The resolved secret env of the execution's container, "NAME=value" each,
** NULL-terminated (NULL: none). */
char *const *emu_launch_env(const struct emu_execution *e);

/* The directory of its secret volume VOLUME (a new string), NULL when it has none. */
char *emu_launch_secret_dir(const struct emu_execution *e, const char *volume);

/* Stops what is under way (a pull), wipes the secret values and removes the
** secret files. NULL is fine. */
void emu_launch_free(emu_launch *l);

#endif
