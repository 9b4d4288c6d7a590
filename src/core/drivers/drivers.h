/*
** drivers.h — the drivers' own declarations: running machines to their end
** (the blocking driver on the calling thread, with a pool of kept-alive
** handles), for the blocking facade that the synchronous functions are. The
** drivers are the only files that include curl.h; what they need of a client
** (its CA bundle, a place for their pool) they get as values through api.h.
*/
#ifndef CR_DRIVERS_H
#define CR_DRIVERS_H

#include "util/util.h"

/* Kept-alive easy handles, one per thread at a time (thread-safe). */
typedef struct cr_easy_pool cr_easy_pool;
CR_HIDDEN void *cr_easy_pool_new(void);
CR_HIDDEN void cr_easy_pool_free(void *pool);

/* cr_machine_run on a handle of `pool` (NULL: a handle of its own), trusting
** ca_file (NULL: only the system's CAs) besides the system's, each send held
** back as `pacer` says (NULL: none; see cr_pacer). */
CR_HIDDEN void cr_easy_run(cr_machine *m, cr_easy_pool *pool, const char *ca_file, const cr_pacer *pacer);

#endif
