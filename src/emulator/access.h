/*
** access.h — who may talk to the emulator. It runs commands as the user who
** started it, so only that machine's own clients may reach it: a request from
** a web page (an Origin header), through a DNS name that is not loopback (a
** Host that rebinding would bring), or with a body a browser can send
** without a CORS preflight (not application/json) is refused before any
** handler sees it. The decision is a pure function of the request's headers.
*/
#ifndef EMU_ACCESS_H
#define EMU_ACCESS_H

#include <stddef.h>

#include "errors.h"

/* The --allow-origin and --allow-host lists; strings borrowed from argv. */
typedef struct emu_access {
    const char *const *origins; /* exact origins, e.g. "http://localhost:3000" */
    int norigins;
    const char *const *hosts; /* host names (any port) or name:port */
    int nhosts;
    const char *bound; /* the --host address, also accepted as a Host name; may be NULL */
    int port;          /* the port served: loopback names must carry it */
} emu_access;

typedef enum emu_verdict {
    EMU_ALLOW,     /* serve it */
    EMU_PREFLIGHT, /* a CORS preflight from an allowed origin: answer 204 with the CORS headers */
    EMU_REFUSE     /* answer err (403 PERMISSION_DENIED) and do nothing */
} emu_verdict;

/*
** Judges one request. host, origin, content_type: the header values or NULL
** when absent; preflight_method: Access-Control-Request-Method or NULL;
** has_body: the request carries a non-empty body. On EMU_REFUSE err says why,
** naming the option that would allow it.
*/
emu_verdict emu_access_check(const emu_access *a, const char *method, const char *host, const char *origin,
                             const char *preflight_method, const char *content_type, int has_body, emu_error *err);

/* Whether origin (non-NULL) is one of --allow-origin's. */
int emu_access_origin_allowed(const emu_access *a, const char *origin);

#endif
