/*
** server.h — the HTTP side: a libmicrohttpd daemon on HOST:PORT that
** collects each request (path, query, body), hands it to api.c and writes
** the JSON answer, logging "METHOD PATH STATUS" to stderr unless quiet.
*/
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include "store.h"

typedef struct emu_server emu_server;

/* Listens on host:port (port 0 = a free port). NULL with a message on stderr on failure. */
emu_server *emu_server_start(emu_store *s, const char *host, int port);

/* The port actually listened on. */
int emu_server_port(const emu_server *srv);

/* Stops listening, finishes in-flight requests and frees the server. NULL is fine. */
void emu_server_stop(emu_server *srv);

#endif
