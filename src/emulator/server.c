/*
** server.c — the libmicrohttpd daemon: binding (IPv4 or IPv6, port 0 for a
** free one), the front door (access.c) before anything else, gathering
** request bodies, turning MHD's connection data into an emu_request, and
** answering with the JSON that api.c produced.
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

#include "access.h"
#include "api.h"
#include "server.h"

#define MAX_BODY (16u * 1024 * 1024)

#define CONTROL_PREFIX "/emulator/v1/"

struct emu_server {
    struct MHD_Daemon *daemon;
    emu_store *store;
    emu_faults *faults;
    emu_access access;
    int port;
};

/* What one request accumulates between MHD's calls. */
typedef struct pending {
    char *body;
    size_t len, cap;
    size_t received; /* every body byte, kept or not */
    int too_large;
    emu_verdict verdict;
    emu_error refusal; /* why, when verdict is EMU_REFUSE */
} pending;

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The front door's verdict (access.c) from this request's headers. */
static emu_verdict judge(emu_server *srv, struct MHD_Connection *conn, const char *method, int has_body, emu_error *err)
{
    const char *length = header(conn, "Content-Length");
    has_body |= (length && strspn(length, "0") != strlen(length)) || header(conn, "Transfer-Encoding");
    return emu_access_check(&srv->access, method, header(conn, "Host"), header(conn, "Origin"),
                            header(conn, "Access-Control-Request-Method"), header(conn, "Content-Type"), has_body, err);
}

/* The CORS headers an allowed origin's requests get (a refused one gets none). */
static void add_cors(const emu_server *srv, struct MHD_Response *r, struct MHD_Connection *conn)
{
    const char *origin = header(conn, "Origin");
    if (!origin || !emu_access_origin_allowed(&srv->access, origin))
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Vary", "Origin");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "Retry-After");
}

/* A CORS preflight from an allowed origin: which methods and headers may follow. */
static enum MHD_Result answer_preflight(const emu_server *srv, struct MHD_Connection *conn)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_cors(srv, r, conn);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE");
    const char *asked = header(conn, "Access-Control-Request-Headers");
    if (asked)
        MHD_add_response_header(r, "Access-Control-Allow-Headers", asked);
    const char *private_network = header(conn, "Access-Control-Request-Private-Network");
    if (private_network && strcmp(private_network, "true") == 0)
        MHD_add_response_header(r, "Access-Control-Allow-Private-Network", "true");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    MHD_add_response_header(r, "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ok;
}

/* The query parameters, in order; one more than the cap is kept so that "too many" can be told. */
typedef struct params {
    emu_param items[EMU_MAX_QUERY_PARAMS + 1];
    size_t n;
} params;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    params *p = cls;
    if (p->n == EMU_MAX_QUERY_PARAMS + 1)
        return MHD_NO;
    p->items[p->n++] = (emu_param){key, value ? value : ""};
    return MHD_YES;
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

static enum MHD_Result respond(const emu_server *srv, struct MHD_Connection *conn, int status, char *body,
                               const char *allow, double retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    add_cors(srv, r, conn);
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
        /* Judged before the body is read, so that a refused one is not kept. */
        p->verdict = judge(srv, conn, method, 0, &p->refusal);
        return MHD_YES;
    }
    if (*upload_size) {
        p->received += *upload_size;
        if (p->verdict == EMU_REFUSE) {
            /* read and dropped */
        } else if (p->len + *upload_size > MAX_BODY) {
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
    /* Again with the body seen: a chunked one announces no length. */
    if (p->verdict != EMU_REFUSE)
        p->verdict = judge(srv, conn, method, p->received > 0, &p->refusal);
    if (p->verdict == EMU_PREFLIGHT)
        return answer_preflight(srv, conn);
    char *body = NULL;
    const char *allow = NULL;
    int status;
    emu_fault fault = {EMU_FAULT_NONE, -1, "", 0};
    if (p->verdict == EMU_REFUSE) {
        /* Before any handler, fault or call count: a refused request changes nothing. */
        status = p->refusal.status;
        body = emu_error_body(&p->refusal);
        if (!srv->store->quiet)
            fprintf(stderr, "%s %s %d refused: %s\n", method, url, status, p->refusal.message);
        return body ? respond(srv, conn, status, body, NULL, -1) : MHD_NO;
    }
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
                params q = {.n = 0};
                MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &q);
                emu_request req = {method, url, p->body, p->len, q.items, q.n};
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
    return respond(srv, conn, status, body, allow, fault.kind == EMU_FAULT_DELAY ? -1 : fault.retry_after);
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

emu_server *emu_server_start(emu_store *s, emu_faults *faults, const emu_access *access, const char *host, int port)
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
    srv->access = *access;
    srv->access.bound = host;
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
    srv->access.port = srv->port;
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
