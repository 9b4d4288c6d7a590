/*
** supervisor.c — a task attempt's supervisor (supervisor.h): a child
** subreaper that spawns the main process, passes the runner's SIGTERM on to
** its group, and at the end kills and reaps every descendant left before it
** reports the main process's status; and the runner's side of its pipes.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

/* At most this many processes are killed in one pass over the tree; the
** passes go on until nothing is left. */
#define PASS_MAX 512

/* ---- finding the descendants ------------------------------------------------------------ */

/* Writes pid's digits at p; returns the end. */
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

/* posix_spawn's attributes for the main process: its own process group, so
** that SIGTERM reaches its children too, and none of the emulator's blocked
** signals or ignored SIGPIPE; its stdin /dev/null, stdout and stderr the
** output pipe, nothing else open (as in a container), in the workingDir. */
static int spawn_main(const emu_attempt *a, pid_t *main)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, a->null_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, a->out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, a->out_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (a->wd)
        posix_spawn_file_actions_addchdir_np(&fa, a->wd);
    posix_spawnattr_init(&attr);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    int dflt_signals[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof dflt_signals / sizeof dflt_signals[0]; k++)
        sigaddset(&dflt, dflt_signals[k]);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    int err = posix_spawnp(main, a->argv[0], &fa, &attr, a->argv, a->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* The cleanup command, to its end (at most CLEANUP_MS): the main process's
** status noted should it end meanwhile. */
#define CLEANUP_MS 60000
static void run_cleanup(const emu_attempt *a, int sigchld_fd, pid_t main, int *status, int *reaped);

/* Waits up to ms for a SIGCHLD or, when control_fd >= 0, a word on the
** control pipe. Returns whether the control pipe can be read. */
static int wait_for(int sigchld_fd, int control_fd, int ms)
{
    struct pollfd p[2] = {{sigchld_fd, POLLIN, 0}, {control_fd, POLLIN, 0}};
    int n = poll(p, control_fd >= 0 ? 2 : 1, ms);
    struct signalfd_siginfo si;
    while (read(sigchld_fd, &si, sizeof si) > 0)
        ;
    return n > 0 && control_fd >= 0 && p[1].revents != 0;
}

static void run_cleanup(const emu_attempt *a, int sigchld_fd, pid_t main, int *status, int *reaped)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, a->null_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, a->null_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, a->null_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid;
    int err = posix_spawnp(&pid, a->cleanup[0], &fa, NULL, a->cleanup, a->envp);
    posix_spawn_file_actions_destroy(&fa);
    for (int waited = 0; !err;) {
        int st;
        pid_t r = waitpid(-1, &st, WNOHANG);
        if (r == main) {
            *status = st;
            *reaped = 1;
        }
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        if (r > 0)
            continue;
        if (waited >= CLEANUP_MS) {
            kill(pid, SIGKILL);
            waited = 0; /* reaped on the next round */
            continue;
        }
        wait_for(sigchld_fd, -1, 100);
        waited += 100;
    }
}

/*
** The supervisor's life. SIGCHLD comes through a signalfd, the emulator's
** word through the control pipe: 'T' passes SIGTERM on to the main process's
** group, 'K' kills everything, and the pipe's end (the emulator has gone,
** however it went) kills everything too. A task cannot reach the pipe, and
** a signal it sends the supervisor (which is not in its group) is ignored.
*/
void emu_supervise(const emu_attempt *a)
{
    sigset_t all, chld;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    signal(SIGCHLD, SIG_DFL); /* the spawner's SIG_IGN would reap for us */
    int sigchld_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    setpgid(0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t main;
    int err = sigchld_fd < 0 ? errno : spawn_main(a, &main);
    write_int(a->report_fd, err ? -err : (int)main);
    if (err)
        _exit(0);
    close(a->out_fd); /* the task's output pipe ends when the task's processes do */
    pid_t self = getpid();
    int status = 0x7f00, reaped = 0, killing = 0, cleaned = 0, control = a->control_fd;
    while (reap_all(main, &status, &reaped) && !reaped) {
        char word[16];
        ssize_t n = wait_for(sigchld_fd, control, killing ? 10 : -1) ? read(control, word, sizeof word) : -1;
        for (ssize_t i = 0; i < n; i++) {
            if (word[i] == 'T')
                kill(-main, SIGTERM); /* main leads its group and is not reaped: the group is the task's */
            killing |= word[i] == 'K';
        }
        if (n == 0) { /* the emulator has gone */
            killing = 1;
            control = -1;
        }
        if (killing && a->cleanup && !cleaned) { /* a container: its runtime takes it down first */
            cleaned = 1;
            run_cleanup(a, sigchld_fd, main, &status, &reaped);
        }
        if (killing)
            kill_pass(self);
    }
    if (a->cleanup && !cleaned) /* its container is removed (--rm) or on its way: make sure */
        run_cleanup(a, sigchld_fd, main, &status, &reaped);
    /* The main process has ended: as a container's, everything else it started goes now. */
    while (reap_all(main, &status, &reaped)) {
        kill_pass(self);
        wait_for(sigchld_fd, -1, 10);
    }
    write_int(a->report_fd, status);
    _exit(0);
}

void emu_supervisor_signal(int control_fd, int sig)
{
    char word = sig == SIGKILL ? 'K' : 'T';
    if (control_fd >= 0)
        while (write(control_fd, &word, 1) < 0 && errno == EINTR)
            ;
}

int emu_supervisor_poll(int report_fd, pid_t *main_pid, int *status, int *spawn_err)
{
    *spawn_err = 0;
    for (;;) {
        int word;
        ssize_t n = read(report_fd, &word, sizeof word); /* each word was written whole, at once */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n != (ssize_t)sizeof word) { /* it ended without its report: killed */
            *status = 0x7f00;            /* exit 127 */
            return 1;
        }
        if (*main_pid == 0 && word <= 0) {
            *spawn_err = word < 0 ? -word : EINVAL;
            return 1;
        }
        if (*main_pid == 0) {
            *main_pid = word;
            continue;
        }
        *status = word;
        return 1;
    }
}
