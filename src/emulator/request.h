/*
** request.h — one HTTP request as server.c hands it on: method, decoded
** path, query parameters and body. api.c routes it; api_call.h's handlers
** read it.
*/
#ifndef EMU_REQUEST_H
#define EMU_REQUEST_H

#include <stddef.h>

/* One query parameter, decoded; value "" when it had no '='. */
typedef struct emu_param {
    const char *key, *value;
} emu_param;

#define EMU_MAX_QUERY_PARAMS 64

typedef struct emu_request {
    const char *method;
    const char *path; /* percent-decoded, without the query */
    const char *body; /* NULL or body_len bytes */
    size_t body_len;
    const emu_param *query; /* nquery parameters in the order sent ("$alt=json;enum-encoding=int": enums as numbers) */
    size_t nquery;
} emu_request;

#endif
