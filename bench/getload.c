/*
** getload.c — a small HTTP/1.1 load generator: C kept-alive connections,
** each sending one request at a time and reading the whole answer
** (Content-Length) before the next, on one thread with epoll. Says how many
** 200s per second came back. (What wrk does, without adding a package.)
**
**   getload HOST PORT PATH CONNECTIONS SECONDS [BODY [COUNT]]
**
** Without BODY: GETs for SECONDS. With BODY: POSTs of BODY (Content-Type:
** application/json), COUNT of them in all when COUNT is given (then SECONDS
** is only a limit), e.g. COUNT RunJob calls with CONNECTIONS in flight.
** Output: {"conns":C,"seconds":S,"requests":N,"per_s":..,"errors":E,"cpu_us":per request}
** Exit 1 when any answer was not a 200, a connection failed, or COUNT was not reached.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define BUF 65536

typedef struct conn {
    int fd;
    char *in;
    size_t have;
    int busy; /* a request is out, its answer not yet read */
} conn;

static char *request;
static size_t request_len;

static int connect_to(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("getload: connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_request(conn *c)
{
    for (size_t sent = 0; sent < request_len;) {
        ssize_t n = write(c->fd, request + sent, request_len - sent);
        if (n <= 0) {
            perror("getload: write");
            exit(1);
        }
        sent += (size_t)n;
    }
    c->busy = 1;
}

/* 1 when c->in holds a whole answer (its length in *len and status in *status), else 0. */
static int whole_answer(const conn *c, size_t *len, int *status)
{
    const char *end = memmem(c->in, c->have, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->in) + 4;
    const char *cl = memmem(c->in, head, "\r\nContent-Length:", 17);
    if (!cl)
        cl = memmem(c->in, head, "\r\ncontent-length:", 17);
    if (!cl) {
        fprintf(stderr, "getload: an answer without Content-Length\n");
        exit(1);
    }
    size_t body = strtoul(cl + 17, NULL, 10);
    if (c->have < head + body)
        return 0;
    *len = head + body;
    *status = atoi(c->in + 9); /* "HTTP/1.1 200" */
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "usage: getload HOST PORT PATH CONNECTIONS SECONDS [BODY [COUNT]]\n");
        return 2;
    }
    const char *host = argv[1], *body = argc > 6 ? argv[6] : NULL;
    int port = atoi(argv[2]), nconn = atoi(argv[4]);
    double seconds = atof(argv[5]);
    long count = argc > 7 ? atol(argv[7]) : -1, started = 0;
    int n = body ? asprintf(&request,
                            "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s",
                            argv[3], host, port, strlen(body), body)
                 : asprintf(&request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n\r\n", argv[3], host, port);
    if (n < 0)
        return 1;
    request_len = (size_t)n;
    int ep = epoll_create1(0);
    conn *conns = calloc((size_t)nconn, sizeof *conns);
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = connect_to(host, port);
        conns[i].in = malloc(BUF);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    long done = 0, errors = 0;
    int busy = 0;
    bench_start();
    double until = bench_now_us() + seconds * 1e6;
    for (int i = 0; i < nconn && (count < 0 || started < count); i++, started++, busy++)
        send_request(&conns[i]);
    struct epoll_event evs[64];
    while (busy > 0 && bench_now_us() < until) {
        int k = epoll_wait(ep, evs, 64, 100);
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t got = read(c->fd, c->in + c->have, BUF - c->have);
            if (got <= 0) {
                fprintf(stderr, "getload: the server closed a connection (%s)\n", got ? strerror(errno) : "EOF");
                return 1;
            }
            c->have += (size_t)got;
            size_t len;
            int status;
            if (whole_answer(c, &len, &status)) {
                if (status == 200)
                    done++;
                else if (errors++ == 0)
                    fprintf(stderr, "getload: HTTP %d: %.*s\n", status, (int)(len < 600 ? len : 600), c->in);
                memmove(c->in, c->in + len, c->have - len);
                c->have -= len;
                c->busy = 0;
                busy--;
                if (count < 0 || started < count) {
                    send_request(c);
                    started++;
                    busy++;
                }
            } else if (c->have == BUF) {
                fprintf(stderr, "getload: an answer larger than %d bytes\n", BUF);
                return 1;
            }
        }
    }
    double wall = bench_now_us() - bench_wall0, cpu = bench_cpu_us() - bench_cpu0;
    printf("{\"conns\":%d,\"seconds\":%.4f,\"requests\":%ld,\"per_s\":%.1f,\"errors\":%ld,\"cpu_us\":%.2f}\n", nconn,
           wall / 1e6, done, done / wall * 1e6, errors, done ? cpu / done : 0);
    if (count >= 0 && done < count) {
        fprintf(stderr, "getload: %ld of %ld answered within %.0f s\n", done, count, seconds);
        return 1;
    }
    return errors ? 1 : 0;
}
