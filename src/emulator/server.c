/*
** server.c — the libmicrohttpd daemon: binding (IPv4 or IPv6, port 0 for a
** free one), gathering request bodies, turning MHD's connection data into an
** emu_request, and answering with the JSON that api.c produced.
*/
#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "api.h"
#include "server.h"

#define MAX_BODY (16u * 1024 * 1024)

#define CONTROL_PREFIX "/emulator/v1/"

struct emu_server {
    struct MHD_Daemon *daemon;
    emu_store *store;
    emu_faults *faults;
    int port;
};

/* What one request accumulates between MHD's calls. */
typedef struct pending {
    char *body;
    size_t len, cap;
    int too_large;
} pending;

static const char *lookup_query(void *ctx, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* A fault's wait, in slices so that a shutdown is not held up by it. */
static void pause_ms(emu_server *srv, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        pthread_mutex_lock(&srv->store->mu);
        int draining = srv->store->draining;
        pthread_mutex_unlock(&srv->store->mu);
        if (draining)
            return;
        long slice = ms - waited < 10 ? ms - waited : 10;
        nanosleep(&(struct timespec){slice / 1000, (slice % 1000) * 1000000L}, NULL);
    }
}

static void reset_store(void *ctx)
{
    emu_api_reset(ctx);
}

static enum MHD_Result respond(struct MHD_Connection *conn, int status, char *body, const char *allow,
                               double retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    if (retry_after >= 0) {
        char secs[32];
        /* delay-seconds is a whole number; a fraction is the emulator's own, for fast tests */
        if (retry_after == (double)(long)retry_after)
            snprintf(secs, sizeof secs, "%ld", (long)retry_after);
        else
            snprintf(secs, sizeof secs, "%g", retry_after);
        MHD_add_response_header(r, "Retry-After", secs);
    }
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

/*
** MHD calls this once when headers arrive (we set up a `pending`), then for
** each piece of the body, then once more with no data: that last call answers.
*/
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    emu_server *srv = cls;
    pending *p = *state;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return MHD_NO;
        *state = p;
        return MHD_YES;
    }
    if (*upload_size) {
        if (p->len + *upload_size > MAX_BODY) {
            p->too_large = 1;
        } else if (!p->too_large) {
            if (p->len + *upload_size + 1 > p->cap) {
                size_t ncap = (p->len + *upload_size + 1) * 2;
                char *grown = realloc(p->body, ncap);
                if (!grown)
                    return MHD_NO;
                p->body = grown;
                p->cap = ncap;
            }
            memcpy(p->body + p->len, upload, *upload_size);
            p->len += *upload_size;
            p->body[p->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    char *body = NULL;
    const char *allow = NULL;
    int status;
    emu_fault fault = {EMU_FAULT_NONE, -1, "", 0};
    if (strncmp(url, CONTROL_PREFIX, strlen(CONTROL_PREFIX)) == 0) {
        status = emu_faults_control(srv->faults, method, url, p->body, p->len, reset_store, srv->store, &body);
    } else {
        const char *rpc = emu_api_rpc_name(method, url);
        emu_faults_take(srv->faults, rpc, &fault);
        switch (fault.kind) {
        case EMU_FAULT_DROP:
            pause_ms(srv, fault.delay_ms);
            if (!srv->store->quiet)
                fprintf(stderr, "%s %s dropped (injected fault)\n", method, url);
            return MHD_NO; /* MHD closes the connection: no answer at all */
        case EMU_FAULT_UNAVAILABLE:
        case EMU_FAULT_RESOURCE_EXHAUSTED:
        case EMU_FAULT_INTERNAL:
        case EMU_FAULT_DEADLINE:
            pause_ms(srv, fault.delay_ms);
            status = emu_fault_error(&fault, rpc, &body);
            break;
        default:
            if (p->too_large) {
                status = 413;
                body = strdup("{\"error\":{\"code\":413,\"message\":\"The request body is too large.\",\"status\":"
                              "\"INVALID_ARGUMENT\"}}");
            } else {
                emu_request req = {method, url, p->body, p->len, lookup_query, conn};
                status = emu_api_handle(srv->store, &req, &body, &allow);
            }
            pause_ms(srv, fault.delay_ms);
            if (fault.kind == EMU_FAULT_RESET_AFTER_EFFECT) {
                if (!srv->store->quiet)
                    fprintf(stderr, "%s %s %d, then reset (injected fault)\n", method, url, status);
                free(body);
                return MHD_NO;
            }
            break;
        }
    }
    if (!body)
        return MHD_NO;
    if (!srv->store->quiet)
        fprintf(stderr, "%s %s %d%s\n", method, url, status, fault.kind != EMU_FAULT_NONE ? " (injected fault)" : "");
    return respond(conn, status, body, allow, fault.kind == EMU_FAULT_DELAY ? -1 : fault.retry_after);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    pending *p = *state;
    if (p) {
        free(p->body);
        free(p);
        *state = NULL;
    }
}

emu_server *emu_server_start(emu_store *s, emu_faults *faults, const char *host, int port)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    int gai = getaddrinfo(host, portbuf, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "cloudrun emulator: cannot use host '%s': %s\n", host, gai_strerror(gai));
        return NULL;
    }
    emu_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(ai);
        return NULL;
    }
    srv->store = s;
    srv->faults = faults;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* A thread per connection: WaitOperation may block one, and a laptop's
    ** clients are few. Keep-alive connections idle out after a while. */
    srv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
                                   ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        fprintf(stderr, "cloudrun emulator: cannot listen on %s:%d (is the port in use?)\n", host, port);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    srv->port = port;
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) == 0)
        srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return srv;
}

int emu_server_port(const emu_server *srv)
{
    return srv->port;
}

void emu_server_stop(emu_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
