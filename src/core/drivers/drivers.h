/*
** drivers.h — what the core's synchronous functions need from the drivers:
** running a machine to its end on the calling thread. The drivers are the
** only files that include curl.h.
*/
#ifndef CR_DRIVERS_H
#define CR_DRIVERS_H

#include "util/util.h"

/* cr_machine_run, reusing the kept-alive connections of client c (its pool of
** easy handles; one per thread at a time). */
CR_HIDDEN void cr_machine_run_on(cr_machine *m, cr_client *c);

#endif
