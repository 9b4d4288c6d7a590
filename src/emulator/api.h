/*
** api.h — the Cloud Run Admin API v2 REST surface: a request (method, path,
** query, body) in, a status and JSON body out. Knows the paths, methods and
** Cloud Run's answers; knows nothing of sockets (server.c) or processes
** (runner.c).
*/
#ifndef EMU_API_H
#define EMU_API_H

#include <stddef.h>

#include "store.h"

typedef struct emu_request {
    const char *method;
    const char *path;         /* percent-decoded, without the query */
    const char *body;         /* NULL or body_len bytes */
    size_t body_len;
    /* A query parameter's (decoded) value, NULL when absent. */
    const char *(*query)(void *ctx, const char *key);
    void *query_ctx;
} emu_request;

/* Handles one request under the store's mutex (it takes the mutex itself).
** Returns the HTTP status; *body is a new JSON string the caller frees, and
** *allow is set to the allowed methods for a 405 (static string) or NULL. */
int emu_api_handle(emu_store *s, const emu_request *req, char **body, const char **allow);

#endif
