/*
** supervisor.c — a task attempt's supervisor (supervisor.h): forked from the
** emulator, a child subreaper that spawns the main process, passes the
** runner's SIGTERM on to its group, and at the end kills and reaps every
** descendant left before it reports the main process's status.
**
** The supervisor is a fork of a threaded program that never execs: from the
** fork on it calls only what is safe there (system calls, posix_spawn with
** what the parent prepared), never malloc or stdio.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

/* The runner's "kill everything now", and the supervisor's parent-death
** signal. SIGTERM is passed on; anything else is ignored. */
#define KILL_ALL SIGUSR1

/* At most this many processes are killed in one pass over the tree; the
** passes go on until nothing is left. */
#define PASS_MAX 512

/* ---- finding the descendants ------------------------------------------------------------ */

/* Writes pid's digits at p; returns the end. Without stdio. */
static char *put_pid(char *p, pid_t pid)
{
    char digits[16];
    int n = 0;
    for (unsigned v = (unsigned)pid; n == 0 || v; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    while (n)
        *p++ = digits[--n];
    *p = '\0';
    return p;
}

/* Reads what fits of a small /proc file, NUL-terminated. Its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t)n) == size - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Adds the pids written in text (separated by anything else) to list[n..max).
** Returns the new count. */
static int add_pids(const char *text, pid_t *list, int n, int max)
{
    for (const char *p = text; *p && n < max;) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        long v = 0;
        while (*p >= '0' && *p <= '9' && v < INT_MAX / 10)
            v = v * 10 + (*p++ - '0');
        if (v > 0)
            list[n++] = (pid_t)v;
    }
    return n;
}

/* Without CONFIG_PROC_CHILDREN: the processes whose parent is pid, by a
** scan of /proc (raw getdents64: opendir would allocate). */
static int scan_children(pid_t pid, pid_t *list, int n, int max)
{
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return n;
    char ents[4096] __attribute__((aligned(8)));
    ssize_t got;
    while (n < max && (got = getdents64(dir, ents, sizeof ents)) > 0) {
        for (ssize_t off = 0; off < got && n < max;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(ents + off);
            off += d->d_reclen;
            pid_t child = 0;
            if (strspn(d->d_name, "0123456789") != strlen(d->d_name) || add_pids(d->d_name, &child, 0, 1) != 1)
                continue;
            char path[64], stat[512];
            strcpy(put_pid(stpcpy(path, "/proc/"), child), "/stat");
            /* "pid (comm) state ppid ...": comm may hold anything, so from its last ')' */
            char *close_paren = read_small(path, stat, sizeof stat) > 0 ? strrchr(stat, ')') : NULL;
            pid_t parent = 0;
            if (close_paren && add_pids(close_paren + 1, &parent, 0, 1) == 1 && parent == pid)
                list[n++] = child;
        }
    }
    close(dir);
    return n;
}

/* Adds pid's children to list[n..max): its main thread's, from
** /proc/<pid>/task/<pid>/children. Returns the new count, or -1 when there
** is no such file. */
static int children_of(pid_t pid, pid_t *list, int n, int max)
{
    char path[64], text[4096];
    strcpy(put_pid(stpcpy(put_pid(stpcpy(path, "/proc/"), pid), "/task/"), pid), "/children");
    if (read_small(path, text, sizeof text) < 0)
        return -1;
    return add_pids(text, list, n, max);
}

/*
** One pass of SIGKILL over the supervisor's descendants, parents before
** their children, so that none is left to fork again. A child of a thread
** other than a process's first, or one beyond PASS_MAX, or one forked
** meanwhile, is found in a later pass: when its ancestors die it becomes
** the supervisor's own child, since the supervisor is the subreaper.
*/
static void kill_pass(pid_t self)
{
    pid_t list[PASS_MAX];
    int n = children_of(self, list, 0, PASS_MAX);
    if (n < 0)
        n = scan_children(self, list, 0, PASS_MAX);
    for (int i = 0; i < n; i++) {
        kill(list[i], SIGKILL);
        int m = children_of(list[i], list, n, PASS_MAX);
        if (m > n)
            n = m;
    }
}

/* ---- the supervisor ------------------------------------------------------------------------ */

static void write_int(int fd, int v)
{
    while (write(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

/* Reaps what has ended. Returns 1 while children are left (0 at ECHILD);
** *main_status is set when main is among the reaped. */
static int reap_all(pid_t main, int *main_status, int *main_reaped)
{
    for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, WNOHANG);
        if (r == main) {
            *main_status = st;
            *main_reaped = 1;
        }
        if (r == 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

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

/*
** The supervisor's life. Every signal stays blocked and is taken with
** sigtimedwait: SIGCHLD wakes it to reap; SIGTERM and KILL_ALL count only
** when the emulator sent them (a task may signal its own group, which the
** supervisor is not in, or its parent); the emulator's death is noticed by
** the parent-death signal, and at the latest within a second.
*/
static void supervise(const emu_task_spawn *sp, pid_t emulator, int report)
{
    sigset_t all, watched;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    sigemptyset(&watched);
    sigaddset(&watched, SIGCHLD);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, KILL_ALL);
    signal(SIGCHLD, SIG_DFL); /* never SIG_IGN, which would reap for us */
    /* out of the emulator's process group: a terminal's ^C is the emulator's to handle */
    setpgid(0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_PDEATHSIG, KILL_ALL);
    if (getppid() != emulator)
        _exit(1); /* the emulator is gone already: start nothing */
    /* it holds nothing of the emulator's: no socket, no terminal, no other task's log */
    dup2(sp->null_fd, 0);
    dup2(sp->null_fd, 1);
    dup2(sp->null_fd, 2);
    close_all_but(sp->null_fd, sp->out_fd, report);
    pid_t main;
    int err = posix_spawnp(&main, sp->file, sp->actions, sp->attr, sp->argv, sp->envp);
    write_int(report, err ? -err : (int)main);
    if (err)
        _exit(0);
    close(sp->out_fd); /* the task's output pipe ends when the task's processes do */
    pid_t self = getpid();
    int status = 0x7f00, reaped = 0, killing = 0;
    while (!reaped) {
        siginfo_t si;
        if (!reap_all(main, &status, &reaped))
            break;
        if (reaped)
            break;
        int sig = sigtimedwait(&watched, &si, &(struct timespec){1, 0});
        int from_emulator = sig > 0 && si.si_pid == emulator;
        if (getppid() != emulator || (sig == KILL_ALL && from_emulator))
            killing = 1;
        else if (sig == SIGTERM && from_emulator)
            kill(-main, SIGTERM); /* main leads its group, and is not reaped: the group is the task's */
        if (killing)
            kill_pass(self);
    }
    /* The main process has ended: as a container's, everything else it started goes now. */
    struct timespec tick = {0, 10 * 1000 * 1000};
    while (reap_all(main, &status, &reaped)) {
        kill_pass(self);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigtimedwait(&chld, NULL, &tick);
    }
    write_int(report, status);
    _exit(0);
}

int emu_supervisor_start(const emu_task_spawn *sp, pid_t *supervisor, int *report_fd)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0)
        return errno;
    pid_t emulator = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(rp[0]);
        close(rp[1]);
        return err;
    }
    if (pid == 0) {
        close(rp[0]);
        supervise(sp, emulator, rp[1]);
    }
    /* Not waiting for it to spawn the main process keeps the runner's thread
    ** free for the next task: a fork and a spawn cost twice one spawn. */
    close(rp[1]);
    fcntl(rp[0], F_SETFL, O_NONBLOCK);
    *supervisor = pid;
    *report_fd = rp[0];
    return 0;
}

void emu_supervisor_signal(pid_t supervisor, int sig)
{
    if (supervisor > 0)
        kill(supervisor, sig == SIGKILL ? KILL_ALL : sig);
}

int emu_supervisor_result(int report_fd, int supervisor_status, pid_t *main_pid, int *status)
{
    int report[2]; /* the main process's pid (or -errno: it was never spawned), then its wait status */
    size_t got = 0;
    for (;;) {
        ssize_t n = read(report_fd, (char *)report + got, sizeof report - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == sizeof report)
            break;
    }
    *main_pid = got >= sizeof report[0] && report[0] > 0 ? report[0] : 0;
    if (got >= sizeof report[0] && report[0] < 0)
        return -report[0];
    /* without its report, something killed the supervisor */
    *status = got == sizeof report             ? report[1]
              : WIFSIGNALED(supervisor_status) ? supervisor_status
                                               : 0x7f00; /* exit 127 */
    return 0;
}
