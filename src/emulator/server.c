/*
** server.c — the libmicrohttpd daemon: binding (IPv4 or IPv6, port 0 for a
** free one), the front door (access.c) before anything else, gathering
** request bodies within their bounds, turning MHD's connection data into an
** emu_request, answering with the JSON that api.c produced, and the limits
** that keep slow or greedy clients from starving the others: a connection
** limit, per-connection memory, deadlines for headers and bodies (the
** doorman), and a cap on body bytes held at once.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "access.h"
#include "api.h"
#include "log_line.h"
#include "mhd_lib.h"
#include "request.h"
#include "server.h"
#include "wire_values.h"

#define MAX_BODY (16u * 1024 * 1024)
/* Request bodies held at once, all connections together: beyond it, 429 (nothing done, try again). */
#define MAX_INFLIGHT (4u * MAX_BODY)
/* Each connection's own buffer for a request's line and headers (larger: 431 from MHD). */
#define CONNECTION_MEMORY (32u * 1024)
/* A body must have arrived within this many header timeouts after its headers (60 s by default). */
#define BODY_TIMEOUTS 6
/* A kept-alive connection may wait this much longer than header_timeout for its next request. */
#define KEEPALIVE_NS (30 * 1000000000LL)
/* How often the doorman looks for connections past their deadline. */
#define DOORMAN_TICK_NS (100 * 1000000LL)

#define CONTROL_PREFIX "/emulator/v1/"

/* Where a connection is, for its deadline. */
typedef enum phase {
    AWAIT_HEADERS, /* deadline: header_timeout (plus KEEPALIVE_NS after an earlier request) */
    AWAIT_BODY,    /* deadline: BODY_TIMEOUTS header timeouts after the headers */
    HANDLING,      /* none: a handler (WaitOperation, a fault's delay) may take long */
} phase;

/* One connection as the doorman sees it (MHD's socket context). */
typedef struct guard {
    int fd;
    phase phase;
    int64_t deadline; /* monotonic ns */
    int shut;         /* shutdown() done: MHD is closing it */
    struct guard *prev, *next;
} guard;

struct emu_server {
    struct MHD_Daemon *daemon;
    emu_store *store;
    emu_faults *faults;
    emu_access access;
    int port;
    int64_t header_timeout_ns;
    /* the doorman: closes connections past their deadline (MHD's own timeout is
    ** for idleness only, so a client that drips one byte a second would keep a
    ** connection for ever) */
    pthread_mutex_t mu; /* guards the list, inflight and stopping */
    pthread_cond_t tick;
    guard *guards;
    size_t inflight; /* body bytes reserved by requests in progress */
    int stopping;
    pthread_t doorman;
    int doorman_started;
};

/* What one request accumulates between MHD's calls (made by on_target, before them). */
typedef struct pending {
    emu_target target;    /* decoded from the target as sent, with lengths */
    emu_error bad_target; /* status 0, or why the target is refused (a NUL or %2F where it would change a name) */
    char *shown;          /* the decoded path as log lines show it: escaped; NULL when out of memory */
    int started;          /* on_headers done */
    char *body;
    size_t len, cap;
    size_t received; /* every body byte, kept or not */
    size_t reserved; /* of the server's inflight */
    int too_large, too_busy;
    emu_verdict verdict;
    emu_error refusal; /* why, when verdict is EMU_REFUSE */
} pending;

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return EMU_MHD->lookup_connection_value(conn, MHD_HEADER_KIND, name);
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
    EMU_MHD->add_response_header(r, "Access-Control-Allow-Origin", origin);
    EMU_MHD->add_response_header(r, "Vary", "Origin");
    EMU_MHD->add_response_header(r, "Access-Control-Expose-Headers", "Retry-After");
}

/* A CORS preflight from an allowed origin: which methods and headers may follow. */
static enum MHD_Result answer_preflight(const emu_server *srv, struct MHD_Connection *conn)
{
    struct MHD_Response *r = EMU_MHD->create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_cors(srv, r, conn);
    EMU_MHD->add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE");
    const char *asked = header(conn, "Access-Control-Request-Headers");
    if (asked)
        EMU_MHD->add_response_header(r, "Access-Control-Allow-Headers", asked);
    const char *private_network = header(conn, "Access-Control-Request-Private-Network");
    if (private_network && strcmp(private_network, "true") == 0)
        EMU_MHD->add_response_header(r, "Access-Control-Allow-Private-Network", "true");
    EMU_MHD->add_response_header(r, "Access-Control-Max-Age", "600");
    EMU_MHD->add_response_header(r, "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
    enum MHD_Result ok = EMU_MHD->queue_response(conn, MHD_HTTP_NO_CONTENT, r);
    EMU_MHD->destroy_response(r);
    return ok;
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
    struct MHD_Response *r = EMU_MHD->create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    EMU_MHD->add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    add_cors(srv, r, conn);
    if (allow)
        EMU_MHD->add_response_header(r, "Allow", allow);
    if (retry_after >= 0) {
        char secs[32];
        /* delay-seconds is a whole number; a fraction is the emulator's own, for fast tests */
        if (retry_after == (double)(long)retry_after)
            snprintf(secs, sizeof secs, "%ld", (long)retry_after);
        else
            snprintf(secs, sizeof secs, "%g", retry_after);
        EMU_MHD->add_response_header(r, "Retry-After", secs);
    }
    enum MHD_Result ok = EMU_MHD->queue_response(conn, (unsigned)status, r);
    EMU_MHD->destroy_response(r);
    return ok;
}

/* ---- the doorman ----------------------------------------------------------------------- */

static guard *guard_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = EMU_MHD->get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Moves a connection on to its next phase and deadline (after == 0: none). */
static void set_phase(emu_server *srv, struct MHD_Connection *conn, phase next, int64_t after)
{
    guard *g = guard_of(conn);
    if (!g)
        return;
    pthread_mutex_lock(&srv->mu);
    g->phase = next;
    g->deadline = after ? emu_add_sat(emu_mono_ns(), after) : 0;
    pthread_mutex_unlock(&srv->mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    emu_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        guard *g = calloc(1, sizeof *g);
        const union MHD_ConnectionInfo *ci = EMU_MHD->get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!g || !ci) {
            free(g);
            return; /* unguarded: MHD's idle timeout still applies */
        }
        g->fd = ci->connect_fd;
        g->phase = AWAIT_HEADERS;
        g->deadline = emu_add_sat(emu_mono_ns(), srv->header_timeout_ns);
        pthread_mutex_lock(&srv->mu);
        g->next = srv->guards;
        if (g->next)
            g->next->prev = g;
        srv->guards = g;
        pthread_mutex_unlock(&srv->mu);
        *socket_context = g;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        /* MHD closes the socket after this: under the lock, the doorman never shuts a reused fd */
        guard *g = *socket_context;
        pthread_mutex_lock(&srv->mu);
        if (g->prev)
            g->prev->next = g->next;
        else
            srv->guards = g->next;
        if (g->next)
            g->next->prev = g->prev;
        pthread_mutex_unlock(&srv->mu);
        free(g);
        *socket_context = NULL;
    }
}

/*
** Closes connections past their deadline: a request's headers must come in
** within header_timeout, its body within BODY_TIMEOUTS of them after. A
** shutdown() wakes the connection's thread, which sees the end of the stream
** and closes it; the slot is free for a client that talks.
*/
static void *doorman(void *arg)
{
    emu_server *srv = arg;
    pthread_mutex_lock(&srv->mu);
    while (!srv->stopping) {
        int64_t now = emu_mono_ns();
        for (guard *g = srv->guards; g; g = g->next) {
            if (!g->shut && g->deadline && now >= g->deadline) {
                shutdown(g->fd, SHUT_RDWR);
                g->shut = 1;
                if (!srv->store->quiet)
                    fprintf(stderr, "cloudrun emulator: closed a connection that sent no complete %s in time\n",
                            g->phase == AWAIT_BODY ? "body" : "request");
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += DOORMAN_TICK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->tick, &srv->mu, &until);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* Reserves n more body bytes of MAX_INFLIGHT for p. 0, or -1 when they do not fit. */
static int reserve(emu_server *srv, pending *p, size_t n)
{
    pthread_mutex_lock(&srv->mu);
    int ok = srv->inflight + n <= MAX_INFLIGHT;
    if (ok) {
        srv->inflight += n;
        p->reserved += n;
    }
    pthread_mutex_unlock(&srv->mu);
    return ok ? 0 : -1;
}

static void release(emu_server *srv, pending *p)
{
    pthread_mutex_lock(&srv->mu);
    srv->inflight -= p->reserved;
    p->reserved = 0;
    pthread_mutex_unlock(&srv->mu);
}

/* A Google-shaped error answered at once, before the body is read (MHD then
** closes the connection instead of reading what was announced). */
static enum MHD_Result answer_early(emu_server *srv, struct MHD_Connection *conn, const char *method, const char *url,
                                    const emu_error *err, double retry_after)
{
    char *body = emu_error_body(err);
    emu_log_line(srv->store->quiet, "%s %s %d refused: %s", method, url, err->status, err->message);
    set_phase(srv, conn, HANDLING, 0);
    return body ? respond(srv, conn, err->status, body, NULL, retry_after) : MHD_NO;
}

/*
** The first call, headers in: the front door's verdict, and what the body
** may cost. A refused request, a body announced larger than MAX_BODY, or
** one that does not fit what all requests together may hold is answered now,
** unread.
*/
static enum MHD_Result on_headers(emu_server *srv, struct MHD_Connection *conn, const char *method, pending *p)
{
    p->started = 1;
    set_phase(srv, conn, AWAIT_BODY, BODY_TIMEOUTS * srv->header_timeout_ns);
    const char *url = p->shown;
    p->verdict = judge(srv, conn, method, 0, &p->refusal);
    if (p->verdict == EMU_REFUSE)
        return answer_early(srv, conn, method, url, &p->refusal, -1);
    /* before any fault, handler or count: a name cut at a NUL or split at a %2F is no name asked for */
    if (p->verdict == EMU_ALLOW && p->bad_target.status)
        return answer_early(srv, conn, method, url, &p->bad_target, -1);
    const char *length = header(conn, "Content-Length");
    if (!length || !*length)
        return MHD_YES; /* none, or chunked: counted as it comes */
    errno = 0;
    char *end;
    unsigned long long n = strtoull(length, &end, 10);
    emu_error err = {0};
    if (*end || errno == ERANGE || n > MAX_BODY) {
        emu_error_set_status(&err, 413, "INVALID_ARGUMENT", "The request body is too large: at most %u bytes are read.",
                             MAX_BODY);
        return answer_early(srv, conn, method, url, &err, -1);
    }
    if (n == 0)
        return MHD_YES;
    if (reserve(srv, p, (size_t)n + 1) < 0) {
        emu_error_set(&err, "RESOURCE_EXHAUSTED",
                      "Too many large request bodies are in progress; nothing was done, try again shortly.");
        return answer_early(srv, conn, method, url, &err, 1);
    }
    p->body = malloc((size_t)n + 1);
    if (!p->body)
        return MHD_NO;
    p->cap = (size_t)n + 1;
    return MHD_YES;
}

/* A piece of the body: kept while it fits what was announced (or, chunked, what may be reserved). */
static enum MHD_Result on_upload(emu_server *srv, pending *p, const char *upload, size_t size)
{
    p->received += size;
    if (p->too_large || p->too_busy)
        return MHD_YES; /* read and dropped */
    if (p->len + size > MAX_BODY) {
        p->too_large = 1;
        return MHD_YES;
    }
    if (p->len + size + 1 > p->cap) {
        /* chunked (or more than announced, which MHD does not pass): grown by doubling, within MAX_BODY */
        size_t ncap = (p->len + size + 1) * 2;
        if (ncap > MAX_BODY + 1)
            ncap = MAX_BODY + 1;
        if (reserve(srv, p, ncap - p->cap) < 0) {
            p->too_busy = 1;
            return MHD_YES;
        }
        char *grown = realloc(p->body, ncap);
        if (!grown)
            return MHD_NO;
        p->body = grown;
        p->cap = ncap;
    }
    memcpy(p->body + p->len, upload, size);
    p->len += size;
    p->body[p->len] = '\0';
    return MHD_YES;
}

/*
** MHD calls this once when headers arrive (on_headers), then for each piece
** of the body (on_upload), then once more with no data: that last call answers.
*/
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *mhd_url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    emu_server *srv = cls;
    pending *p = *state;
    (void)mhd_url; /* cut at a %00: p->target has the whole of it */
    if (!p || !p->shown)
        return MHD_NO; /* on_target ran out of memory */
    if (!p->started)
        return on_headers(srv, conn, method, p);
    const char *url = p->shown, *path = p->target.path;
    if (*upload_size) {
        enum MHD_Result r = on_upload(srv, p, upload, *upload_size);
        *upload_size = 0;
        return r;
    }
    set_phase(srv, conn, HANDLING, 0);
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
        emu_log_line(srv->store->quiet, "%s %s %d refused: %s", method, url, status, p->refusal.message);
        return body ? respond(srv, conn, status, body, NULL, -1) : MHD_NO;
    }
    if (p->too_large || p->too_busy) {
        emu_error err = {0};
        if (p->too_large)
            emu_error_set_status(&err, 413, "INVALID_ARGUMENT",
                                 "The request body is too large: at most %u bytes are read.", MAX_BODY);
        else
            emu_error_set(&err, "RESOURCE_EXHAUSTED",
                          "Too many large request bodies are in progress; nothing was done, try again shortly.");
        body = emu_error_body(&err);
        emu_log_line(srv->store->quiet, "%s %s %d refused: %s", method, url, err.status, err.message);
        return body ? respond(srv, conn, err.status, body, NULL, p->too_busy ? 1 : -1) : MHD_NO;
    }
    if (strncmp(path, CONTROL_PREFIX, strlen(CONTROL_PREFIX)) == 0) {
        status = emu_faults_control(srv->faults, method, path, p->body, p->len, reset_store, srv->store, &body);
    } else {
        const char *rpc = emu_api_rpc_name(method, path);
        emu_faults_take(srv->faults, rpc, &fault);
        switch (fault.kind) {
        case EMU_FAULT_DROP:
            pause_ms(srv, fault.delay_ms);
            emu_log_line(srv->store->quiet, "%s %s dropped (injected fault)", method, url);
            return MHD_NO; /* MHD closes the connection: no answer at all */
        case EMU_FAULT_UNAVAILABLE:
        case EMU_FAULT_RESOURCE_EXHAUSTED:
        case EMU_FAULT_INTERNAL:
        case EMU_FAULT_DEADLINE:
        case EMU_FAULT_UNAUTHENTICATED:
        case EMU_FAULT_PERMISSION_DENIED:
            pause_ms(srv, fault.delay_ms);
            status = emu_fault_error(&fault, rpc, &body);
            break;
        default: {
            emu_request req = {method, path, p->body, p->len, p->target.query, p->target.nquery};
            status = emu_api_handle(srv->store, &req, &body, &allow);
            pause_ms(srv, fault.delay_ms);
            if (fault.kind == EMU_FAULT_RESET_AFTER_EFFECT) {
                emu_log_line(srv->store->quiet, "%s %s %d, then reset (injected fault)", method, url, status);
                free(body);
                return MHD_NO;
            }
            break;
        }
        }
    }
    if (!body)
        return MHD_NO;
    emu_log_line(srv->store->quiet, "%s %s %d%s", method, url, status,
                 fault.kind != EMU_FAULT_NONE ? " (injected fault)" : "");
    return respond(srv, conn, status, body, allow, fault.kind == EMU_FAULT_DELAY ? -1 : fault.retry_after);
}

/* Before MHD parses a request's line: its target as sent, before MHD decodes it into C strings. */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    pending *p = calloc(1, sizeof *p);
    if (p && (emu_target_decode(&p->target, uri, &p->bad_target), p->target.path))
        p->shown = emu_log_escape(p->target.path, p->target.path_len); /* NULL: on_request drops the request */
    return p;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    emu_server *srv = cls;
    pending *p = *state;
    if (p) {
        release(srv, p);
        emu_target_free(&p->target);
        free(p->shown);
        free(p->body);
        free(p);
        *state = NULL;
    }
    /* kept alive: the next request's headers have their own deadline, with room for idling first */
    set_phase(srv, conn, AWAIT_HEADERS, emu_add_sat(srv->header_timeout_ns, KEEPALIVE_NS));
}

/* Enough descriptors for the connections allowed, the tasks' pipes and logs, and some to spare. */
static unsigned connection_limit(unsigned wanted, int max_processes)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)wanted + 2 * (rlim_t)max_processes + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t spare = 2 * (rlim_t)max_processes + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        return rl.rlim_cur > spare + 16 ? (unsigned)(rl.rlim_cur - spare) : 16;
    return wanted;
}

emu_server *emu_server_start(emu_store *s, emu_faults *faults, const emu_access *access, const char *host, int port,
                             const emu_server_limits *limits)
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
    if (!srv || pthread_mutex_init(&srv->mu, NULL) != 0) {
        free(srv);
        freeaddrinfo(ai);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->tick, &ca);
    pthread_condattr_destroy(&ca);
    srv->store = s;
    srv->faults = faults;
    srv->access = *access;
    srv->access.bound = host;
    srv->header_timeout_ns = (int64_t)limits->header_timeout_s * 1000000000LL;
    unsigned max_connections = connection_limit(limits->max_connections, s->max_processes);
    /* A thread per connection: WaitOperation may block one, and most connections sit idle; poll()
    ** rather than select() so that no descriptor number is too high; the doorman thread gives
    ** each request its deadlines. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (pthread_create(&srv->doorman, NULL, doorman, srv) == 0)
        srv->doorman_started = 1;
    srv->daemon = EMU_MHD->start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_target, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon || !srv->doorman_started) {
        fprintf(stderr, "cloudrun emulator: cannot listen on %s:%d (is the port in use?)\n", host, port);
        emu_server_stop(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = EMU_MHD->get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
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
    if (srv->doorman_started) {
        pthread_mutex_lock(&srv->mu);
        srv->stopping = 1;
        pthread_cond_signal(&srv->tick);
        pthread_mutex_unlock(&srv->mu);
        pthread_join(srv->doorman, NULL);
    }
    if (srv->daemon)
        EMU_MHD->stop_daemon(srv->daemon); /* every connection closed: the guards freed */
    pthread_cond_destroy(&srv->tick);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
