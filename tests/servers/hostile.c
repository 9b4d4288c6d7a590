/*
** hostile.c — cr-hostile, a loopback server that answers the way a broken or
** hostile server might, for the client's tests: bodies without end or far too
** large, a compressed body that expands a thousandfold, messages of 50 MB,
** errors that quote the request's secrets back, empty successes.
**
** Usage: cr-hostile [--port N] [--bomb GZIP_FILE] [--answers DIR]
** The first line on stdout is "hostile listening on 127.0.0.1:PORT".
**
** What a request gets is chosen by the last segment of its path (so that an
** API client reaches it as a job name: .../jobs/endless):
**   endless    200, chunked, 'x' without end
**   huge       200, Content-Length: 1 GiB (and 'x' for as long as it is read)
**   bomb       200, Content-Encoding: gzip, the --bomb file's bytes
**   long-error 500 with a google.rpc.Status whose message is 20 MB (under the client's body cap)
**   echo-auth  401 with a google.rpc.Status whose message quotes the Authorization header
**   empty      200 with no body
**   token      400 {"error":"invalid_grant","error_description":<the whole request body>}
**   file-NAME  200 with the bytes of the file NAME in the --answers directory, as they are
** and answers written raw on the socket, then the connection closed:
**   drip         headers at once, then the body one byte a second
**   drip-head    the status line and headers one byte a second
**   badchunk     chunked, a chunk size of -1
**   hugechunk    chunked, a chunk size of 24 hex digits
**   garbagechunk chunked, a chunk size that is not hex
**   chunknocrlf  chunked, a chunk's data not followed by CRLF
**   liar         Content-Length: 1000, 10 bytes of body
**   nanlength    Content-Length: ten
**   neglength    Content-Length: -5
**   nocolon      a header line without a colon
**   longheader   one header line of 70 KB
**   manyheaders  10,000 short header lines (110 KB)
**   nothttp      a status line that is not HTTP
** GET /stats  {"requests": N}
*/
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *bomb_path, *answers;
static char *bomb;
static size_t bomb_len;
static atomic_long requests;

typedef struct body {
    char *data;
    size_t len;
} body;

static ssize_t endless(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    memset(buf, 'x', max);
    return (ssize_t)max;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* JSON string escaping, enough for what the tests send. */
static char *json_quote(const char *s, size_t n)
{
    char *out = malloc(n * 6 + 3), *w = out;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            w += sprintf(w, "\\u%04x", c);
        } else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    *w = '\0';
    return out;
}

/* All of buf on fd (MHD's sockets are non-blocking): 0, or -1 once the peer is gone. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, 5000) <= 0)
                return -1;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* buf one byte a second (at most 120 of them), until the peer is gone. */
static int drip(int fd, const char *buf, size_t n)
{
    for (size_t i = 0; i < n && i < 120; i++) {
        if (i > 0)
            nanosleep(&(struct timespec){1, 0}, NULL);
        if (write_all(fd, buf + i, 1) < 0)
            return -1;
    }
    return 0;
}

/* The raw answers: head (written at once), then body (at once, or dripped). */
static const struct raw {
    const char *name, *head, *body;
    int drip_head, drip_body;
} raws[] = {
    {"drip", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 49\r\n\r\n",
     "{\"name\":\"projects/p/locations/r/operations/drip\"}", 0, 1},
    {"drip-head", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n", "{}", 1, 0},
    {"badchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "-1\r\nxx\r\n0\r\n\r\n", 0, 0},
    {"hugechunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "ffffffffffffffffffffffff\r\nxx\r\n", 0, 0},
    {"garbagechunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "zz\r\nxx\r\n0\r\n\r\n", 0, 0},
    {"chunknocrlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "2\r\n{}XX0\r\n\r\n", 0, 0},
    {"liar", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", "{\"name\":1}", 0, 0},
    {"nanlength", "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "{}", 0, 0},
    {"neglength", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "{}", 0, 0},
    {"nocolon", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nThis line has no colon\r\n\r\n", "{}", 0, 0},
    {"nothttp", "SMTP/1.0 220 mail.example ESMTP\r\n\r\n", "{}", 0, 0},
    {"longheader", NULL, NULL, 0, 0},
    {"manyheaders", NULL, NULL, 0, 0},
};

/* Writes raw answer `r` on the connection's socket; MHD_NO then closes it. */
static enum MHD_Result send_raw(struct MHD_Connection *conn, const struct raw *r)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return MHD_NO;
    int fd = ci->connect_fd;
    if (!r->head) { /* the large heads, made here */
        size_t cap = 200 * 1024, n = 0;
        char *head = malloc(cap);
        n += (size_t)sprintf(head, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        if (strcmp(r->name, "longheader") == 0) {
            n += (size_t)sprintf(head + n, "X-Long: ");
            memset(head + n, 'l', 70 * 1024);
            n += 70 * 1024;
            n += (size_t)sprintf(head + n, "\r\n");
        } else {
            for (int i = 0; i < 10000; i++)
                n += (size_t)sprintf(head + n, "X-Many: 1\r\n");
        }
        n += (size_t)sprintf(head + n, "\r\n{}");
        write_all(fd, head, n);
        free(head);
        return MHD_NO;
    }
    if ((r->drip_head ? drip(fd, r->head, strlen(r->head)) : write_all(fd, r->head, strlen(r->head))) < 0)
        return MHD_NO;
    if (r->drip_body)
        drip(fd, r->body, strlen(r->body));
    else
        write_all(fd, r->body, strlen(r->body));
    return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    body *b = *state;
    if (!b) {
        *state = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*upload_size) {
        b->data = realloc(b->data, b->len + *upload_size + 1);
        memcpy(b->data + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&requests, 1);
    const char *slash = strrchr(url, '/');
    const char *mode = slash ? slash + 1 : url;
    char *colon = strchr(mode, ':'); /* RunJob's ":run" */
    char name[64];
    snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - mode) : (int)strlen(mode), mode);
    struct MHD_Response *r = NULL;
    unsigned status = 200;
    if (strcmp(url, "/stats") == 0) {
        char *text = malloc(64);
        snprintf(text, 64, "{\"requests\":%ld}", atomic_load(&requests));
        return send_json(conn, 200, text);
    }
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++)
        if (strcmp(name, raws[i].name) == 0)
            return send_raw(conn, &raws[i]);
    if (strcmp(name, "endless") == 0) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, endless, NULL, NULL);
    } else if (strcmp(name, "huge") == 0) {
        r = MHD_create_response_from_callback(1024ULL * 1024 * 1024, 64 * 1024, endless, NULL, NULL);
    } else if (strcmp(name, "bomb") == 0) {
        r = MHD_create_response_from_buffer(bomb_len, bomb, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    } else if (strcmp(name, "long-error") == 0) {
        size_t n = 20u * 1024 * 1024;
        char *text = malloc(n + 128);
        int head = sprintf(text, "{\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":\"");
        memset(text + head, 'm', n);
        strcpy(text + head + n, "\"}}");
        return send_json(conn, 500, text);
    } else if (strcmp(name, "echo-auth") == 0) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        char msg[4096];
        snprintf(msg, sizeof msg, "Request had invalid authentication credentials: %s (first 40: %.40s)",
                 auth ? auth : "(none)", auth ? auth + 7 : "");
        char *q = json_quote(msg, strlen(msg));
        char *text = malloc(strlen(q) + 128);
        sprintf(text, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\",\"message\":%s}}", q);
        free(q);
        return send_json(conn, 401, text);
    } else if (answers && strncmp(name, "file-", 5) == 0 && !strchr(name, '/') && !strchr(name, '.')) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", answers, name + 5);
        FILE *f = fopen(path, "rb");
        if (!f)
            return send_json(conn, 404,
                             strdup("{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":\"no file\"}}"));
        fseek(f, 0, SEEK_END);
        size_t n = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        char *text = malloc(n ? n : 1);
        n = fread(text, 1, n, f);
        fclose(f);
        r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(name, "empty") == 0) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(name, "token") == 0) {
        char *q = json_quote(b->data ? b->data : "", b->len);
        char *text = malloc(strlen(q) + 128);
        sprintf(text, "{\"error\":\"invalid_grant\",\"error_description\":%s}", q);
        free(q);
        return send_json(conn, 400, text);
    } else {
        return send_json(conn, 404, strdup("{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":\"?\"}}"));
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    body *b = *state;
    if (b) {
        free(b->data);
        free(b);
        *state = NULL;
    }
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--bomb") == 0)
            bomb_path = argv[i + 1];
        else if (strcmp(argv[i], "--answers") == 0)
            answers = argv[i + 1];
    }
    if (bomb_path) {
        FILE *f = fopen(bomb_path, "rb");
        if (!f) {
            perror(bomb_path);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        bomb_len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        bomb = malloc(bomb_len ? bomb_len : 1);
        if (fread(bomb, 1, bomb_len, f) != bomb_len)
            return 2;
        fclose(f);
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cr-hostile: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("hostile listening on 127.0.0.1:%u\n", info ? info->port : port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(bomb);
    return 0;
}
