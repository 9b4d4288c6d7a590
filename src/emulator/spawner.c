/*
** spawner.c — the spawner (spawner.h): the emulator's side, which sends an
** attempt as a header, three descriptors and its strings over a Unix
** socket; and the spawner's, which reads them and forks a supervisor for it.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner.h"
#include "supervisor.h"

/* What comes before an attempt's strings (argv, then env, then the cleanup
** command, then wd if any, each NUL-terminated), with its descriptors: out,
** report, control. */
typedef struct request {
    uint32_t len, argc, envc, cleanc, has_wd;
} request;

/* ---- the spawner's side ---------------------------------------------------------------- */

/* Closes every descriptor from 3 up but the three kept. */
static void close_all_but(int a, int b, int c)
{
    int keep[3] = {a, b, c};
    for (int i = 0; i < 3; i++) /* sort the three */
        for (int j = i + 1; j < 3; j++)
            if (keep[j] < keep[i]) {
                int t = keep[i];
                keep[i] = keep[j];
                keep[j] = t;
            }
    unsigned from = 3;
    for (int i = 0; i <= 3; i++) {
        unsigned to = i < 3 ? (unsigned)keep[i] : UINT_MAX;
        if (to < from)
            continue;
        if (to > from && close_range(from, to - 1, 0) < 0) { /* before Linux 5.9 */
            struct rlimit rl;
            unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (unsigned)rl.rlim_cur : 65536;
            for (unsigned fd = from; fd < to && fd < max; fd++)
                close((int)fd);
        }
        from = to == UINT_MAX ? to : to + 1;
    }
}

static int read_all(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* One request: 0 with *rq, fds[3] and *strings (malloc'd), or -1 when the
** emulator has closed its end (or sent what cannot be read). */
static int receive(int sock, request *rq, int fds[3], char **strings)
{
    char control[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {rq, sizeof *rq};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    while ((n = recvmsg(sock, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    struct cmsghdr *c = n == (ssize_t)sizeof *rq ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int)))
        return -1;
    memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
    *strings = malloc(rq->len + 1);
    if (!*strings || read_all(sock, *strings, rq->len) < 0) {
        free(*strings);
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        return -1;
    }
    (*strings)[rq->len] = '\0';
    return 0;
}

/* In the supervisor: the request's strings as argv, envp and wd. Never returns. */
static void supervise_request(const request *rq, char *strings, const int fds[3], int null_fd)
{
    emu_attempt a = {0};
    a.argv = calloc((size_t)rq->argc + 1, sizeof *a.argv);
    a.envp = calloc((size_t)rq->envc + 1, sizeof *a.envp);
    a.cleanup = rq->cleanc ? calloc((size_t)rq->cleanc + 1, sizeof *a.cleanup) : NULL;
    if (!a.argv || !a.envp || rq->argc == 0 || (rq->cleanc && !a.cleanup))
        _exit(1); /* the report's end unwritten: the runner counts the attempt as lost */
    char *p = strings, *end = strings + rq->len;
    for (uint32_t i = 0; i < rq->argc && p < end; i++, p += strlen(p) + 1)
        a.argv[i] = p;
    for (uint32_t i = 0; i < rq->envc && p < end; i++, p += strlen(p) + 1)
        a.envp[i] = p;
    for (uint32_t i = 0; i < rq->cleanc && p < end; i++, p += strlen(p) + 1)
        a.cleanup[i] = p;
    a.wd = rq->has_wd && p < end ? p : NULL;
    a.null_fd = null_fd;
    a.out_fd = fds[0];
    a.report_fd = fds[1];
    a.control_fd = fds[2];
    emu_supervise(&a);
}

/*
** The spawner's life: every signal blocked (the emulator's own, a
** terminal's ^C, are the emulator's to handle), its children reaped by the
** kernel (SIGCHLD ignored), nothing of the emulator's held but its socket,
** until the emulator closes it or goes.
*/
static void spawner_main(int sock)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGCHLD, SIG_IGN);
    setpgid(0, 0);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
        _exit(1);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (null_fd < 3 || sock < 3)
        _exit(1); /* the emulator's stdio was closed: its descriptors were made above 2 */
    close_all_but(sock, null_fd, sock);
    for (;;) {
        request rq;
        int fds[3];
        char *strings;
        if (receive(sock, &rq, fds, &strings) < 0)
            _exit(0);
        pid_t pid = fork();
        if (pid == 0) {
            close(sock);
            supervise_request(&rq, strings, fds, null_fd);
        }
        /* pid < 0: the report ends unwritten when its end is closed here: the runner counts the attempt as lost */
        for (int i = 0; i < 3; i++)
            close(fds[i]);
        free(strings);
    }
}

/* ---- the emulator's side ----------------------------------------------------------------- */

/* fd itself, or a copy of it above 0, 1 and 2 (closing fd). -1 stays -1. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return high;
}

int emu_spawner_start(emu_spawner *z)
{
    int sv[2];
    z->pid = 0;
    z->sock = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    sv[0] = above_stdio(sv[0]);
    sv[1] = above_stdio(sv[1]);
    pid_t pid = sv[0] >= 0 && sv[1] >= 0 ? fork() : -1;
    if (pid == 0) {
        close(sv[0]);
        spawner_main(sv[1]);
    }
    int err = errno;
    close(sv[1]);
    if (pid < 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        errno = err;
        return -1;
    }
    z->pid = pid;
    z->sock = sv[0];
    return 0;
}

void emu_spawner_stop(emu_spawner *z)
{
    if (z->sock >= 0)
        close(z->sock); /* the spawner reads the end of it, and exits */
    if (z->pid > 0)
        while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    z->pid = 0;
    z->sock = -1;
}

static int send_all(int sock, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(sock, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends one request. 0, or an errno. */
static int send_request(int sock, char *const *argv, char *const *envp, const char *wd, char *const *cleanup,
                        const int fds[3])
{
    request rq = {0, 0, 0, 0, wd != NULL};
    size_t len = 0;
    for (; argv[rq.argc]; rq.argc++)
        len += strlen(argv[rq.argc]) + 1;
    for (; envp[rq.envc]; rq.envc++)
        len += strlen(envp[rq.envc]) + 1;
    for (; cleanup && cleanup[rq.cleanc]; rq.cleanc++)
        len += strlen(cleanup[rq.cleanc]) + 1;
    len += wd ? strlen(wd) + 1 : 0;
    if (len > UINT32_MAX)
        return E2BIG;
    rq.len = (uint32_t)len;
    char *strings = malloc(len ? len : 1), *p = strings;
    if (!strings)
        return ENOMEM;
    for (uint32_t i = 0; i < rq.argc; i++)
        p = stpcpy(p, argv[i]) + 1;
    for (uint32_t i = 0; i < rq.envc; i++)
        p = stpcpy(p, envp[i]) + 1;
    for (uint32_t i = 0; i < rq.cleanc; i++)
        p = stpcpy(p, cleanup[i]) + 1;
    if (wd)
        stpcpy(p, wd);
    char control[CMSG_SPACE(3 * sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = {&rq, sizeof rq};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(3 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
    ssize_t n;
    while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    int err = n < 0 ? errno : n != (ssize_t)sizeof rq ? EPIPE : send_all(sock, strings, len) < 0 ? errno : 0;
    free(strings);
    return err;
}

int emu_spawner_run(emu_spawner *z, char *const *argv, char *const *envp, const char *wd, char *const *cleanup,
                    int out_fd, int *report_fd, int *control_fd)
{
    int rp[2], cp[2];
    if (pipe2(rp, O_CLOEXEC) < 0)
        return errno;
    if (pipe2(cp, O_CLOEXEC) < 0) {
        int err = errno;
        close(rp[0]);
        close(rp[1]);
        return err;
    }
    int fds[3] = {out_fd, rp[1], cp[0]};
    int err = z->sock >= 0 ? send_request(z->sock, argv, envp, wd, cleanup, fds) : EPIPE;
    if (err == EPIPE || err == ECONNRESET) { /* the spawner has died: once more with a new one */
        emu_spawner_stop(z);
        err = emu_spawner_start(z) < 0 ? errno : send_request(z->sock, argv, envp, wd, cleanup, fds);
    }
    close(rp[1]); /* the supervisor's now: the report ends when it does */
    close(cp[0]);
    if (err) {
        close(rp[0]);
        close(cp[1]);
        return err;
    }
    fcntl(rp[0], F_SETFL, O_NONBLOCK);
    fcntl(cp[1], F_SETFL, O_NONBLOCK);
    *report_fd = rp[0];
    *control_fd = cp[1];
    return 0;
}
