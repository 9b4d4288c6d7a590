/*
** request.h — one HTTP request as server.c hands it on: method, decoded
** path, query parameters and body; and the decoding of a request target as
** sent (request.c), with lengths, where a NUL or an encoded '/' that would
** change what a name means is refused. api.c routes a request; api_call.h's
** handlers read it.
*/
#ifndef EMU_REQUEST_H
#define EMU_REQUEST_H

#include <stddef.h>

#include "errors.h"

/* One query parameter, decoded; value "" when it had no '='. Neither holds a
** NUL (emu_target_decode refuses one), so each is whole as a C string. */
typedef struct emu_param {
    const char *key, *value;
    size_t key_len, value_len;
} emu_param;

#define EMU_MAX_QUERY_PARAMS 64

typedef struct emu_request {
    const char *method;
    const char *path; /* percent-decoded, without the query; no NUL, no segment from an encoded '/' */
    const char *body; /* NULL or body_len bytes */
    size_t body_len;
    const emu_param *query; /* nquery parameters in the order sent ("$alt=json;enum-encoding=int": enums as numbers) */
    size_t nquery;
} emu_request;

/* A request target decoded (emu_target_decode); its strings live until emu_target_free. */
typedef struct emu_target {
    char *path;                                /* percent-decoded, NUL-terminated; path_len bytes */
    size_t path_len;                           /* a NUL inside the path only when decoding refused it */
    emu_param query[EMU_MAX_QUERY_PARAMS + 1]; /* the first ones; one more than the cap so "too many" can be told */
    size_t nquery;
    char *text; /* the decoded keys and values */
} emu_target;

/*
** Decodes a request target as the client sent it ("/v2/...?a=b+c&d=%2F"; the
** whole of raw, a C string as libmicrohttpd gives it) the way libmicrohttpd
** does — the path up to the first '?', %XX decoded; the query split at '&' and
** the first '=', '+' as a space, %XX decoded — but keeping every length. 0,
** or -1 with err a 400 INVALID_ARGUMENT naming the path segment or query
** parameter when a path segment holds an encoded NUL or '/' (%00, %2F: it
** would end a name early or split it in two) or a query parameter's name or
** value holds a NUL. Either way t is filled (t->path for the log line) and
** must be freed with emu_target_free; out of memory is -1 with a 500 and t->path NULL.
*/
int emu_target_decode(emu_target *t, const char *raw, emu_error *err);

/* Frees what t holds (a zeroed t is fine). */
void emu_target_free(emu_target *t);

#endif
