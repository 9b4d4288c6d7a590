/*
** server.h — the HTTP side: a libmicrohttpd daemon on HOST:PORT that
** refuses what its front door (access.h) refuses, collects each request
** (its target decoded by request.c, and its body), hands it to api.c (or the
** /emulator/v1/ control API to faults.c), applies any pending fault, and
** writes the JSON answer, logging "METHOD PATH STATUS" to stderr unless quiet
** (escaped whole: log_line.h).
*/
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include "access.h"
#include "faults.h"
#include "store.h"

typedef struct emu_server emu_server;

/* What the server allows (emulator.c's options). */
typedef struct emu_server_limits {
    unsigned max_connections; /* at once (lowered to what RLIMIT_NOFILE allows) */
    int header_timeout_s;     /* a request's headers must arrive within it (its body within 6 times it more) */
} emu_server_limits;

/* Listens on host:port (port 0 = a free port); faults (borrowed, outlives the
** server) holds the scripted faults and the counts; access (copied; its
** strings borrowed and outliving the server) the allowed origins and hosts,
** its bound and port filled in here; limits (copied) what it allows. NULL
** with a message on stderr on failure. libmicrohttpd must be loaded
** (emu_mhd_load, mhd_lib.h). */
emu_server *emu_server_start(emu_store *s, emu_faults *faults, const emu_access *access, const char *host, int port,
                             const emu_server_limits *limits);

/* The port actually listened on. */
int emu_server_port(const emu_server *srv);

/* Stops listening, finishes in-flight requests and frees the server. NULL is fine. */
void emu_server_stop(emu_server *srv);

#endif
