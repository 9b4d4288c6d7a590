/*
** measure.c — runs commands again and again and says what each run cost:
** wall time (posix_spawnp to wait4), the child's own CPU and its peak RSS
** (wait4's rusage), as one JSON line of medians per command. Several commands
** take turns, run by run (A B C A B C ...), so that a machine busy with other
** work weighs on each of them alike and their ratios hold. With /bin/true it
** is floor C: spawn-and-wait, the most processes per second this machine can
** start and reap one after another.
**
**   measure [-n RUNS] -- [NAME=VALUE...] COMMAND [ARG...] [-- [NAME=VALUE...] COMMAND [ARG...]]...
**
** NAME=VALUE words before a command set its environment as env(1) would, but
** without a process in between (what would be measured too).
**
** The children's stdout goes to /dev/null, their stderr stays; a run that exits
** non-zero stops the measurement (exit 1, the status on stderr).
** Output, a line per command: {"runs":N,"wall_us":median,"wall_us_min":..,
**   "wall_us_max":..,"cpu_us":median,"rss_kb":median,"rss_kb_max":..,
**   "per_s":runs over the wall time of its own runs}
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct command {
    char **argv;
    char **envp; /* environ with the command's NAME=VALUE words */
    double *wall, *cpu, *rss;
    double total, rss_max;
} command;

/* Takes the NAME=VALUE words at the start of c->argv into c->envp (a copy of
** environ where each replaces its NAME). 0, or -1 when out of memory. */
static int take_env(command *c)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (c->argv[k] && strchr(c->argv[k], '=') && c->argv[k][0] != '=' && c->argv[k][0] != '/')
        k++;
    if (!(c->envp = calloc(n + k + 1, sizeof *c->envp)))
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < k && !replaced; j++) {
            size_t len = (size_t)(strchr(c->argv[j], '=') - c->argv[j]) + 1;
            replaced = strncmp(environ[i], c->argv[j], len) == 0;
        }
        if (!replaced)
            c->envp[m++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        c->envp[m++] = c->argv[j];
    c->argv += k;
    return c->argv[0] ? 0 : -1;
}

/* Runs c once as run r; 0, or -1 when it could not run or failed. */
static int run_once(command *c, int r, const posix_spawn_file_actions_t *fa)
{
    pid_t pid;
    double t0 = now_us();
    int rc = posix_spawnp(&pid, c->argv[0], fa, NULL, c->argv, c->envp);
    if (rc != 0) {
        fprintf(stderr, "measure: cannot run %s: %s\n", c->argv[0], strerror(rc));
        return -1;
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("measure: wait4");
        return -1;
    }
    c->wall[r] = now_us() - t0;
    c->total += c->wall[r];
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "measure: %s failed (status %d) on run %d\n", c->argv[0], status, r + 1);
        return -1;
    }
    c->cpu[r] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)ru.ru_utime.tv_usec +
                (double)ru.ru_stime.tv_usec;
    c->rss[r] = (double)ru.ru_maxrss; /* kB on Linux */
    if (c->rss[r] > c->rss_max)
        c->rss_max = c->rss[r];
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 10, i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-n") == 0) {
        runs = atoi(argv[i + 1]);
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc || runs < 1) {
        fprintf(stderr, "usage: measure [-n RUNS] -- [NAME=VALUE...] COMMAND [ARG...] [-- ...]...\n");
        return 2;
    }
    /* split argv at each "--" into commands, in place */
    command cmds[16];
    int ncmd = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") != 0)
            continue;
        argv[i] = NULL;
        if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0 || ncmd == 16) {
            fprintf(stderr, "measure: an empty command, or more than 16\n");
            return 2;
        }
        command *c = &cmds[ncmd++];
        memset(c, 0, sizeof *c);
        c->argv = argv + i + 1;
        c->wall = calloc((size_t)runs, sizeof(double));
        c->cpu = calloc((size_t)runs, sizeof(double));
        c->rss = calloc((size_t)runs, sizeof(double));
        if (!c->wall || !c->cpu || !c->rss)
            return 1;
    }
    for (int k = 0; k < ncmd; k++) {
        if (take_env(&cmds[k]) < 0) {
            fprintf(stderr, "measure: a command of NAME=VALUE words only\n");
            return 2;
        }
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < ncmd; k++)
            if (run_once(&cmds[k], r, &fa) < 0)
                return 1;
    posix_spawn_file_actions_destroy(&fa);
    for (int k = 0; k < ncmd; k++) {
        command *c = &cmds[k];
        double total = c->total, w = median(c->wall, runs);
        printf("{\"runs\":%d,\"wall_us\":%.1f,\"wall_us_min\":%.1f,\"wall_us_max\":%.1f,\"cpu_us\":%.1f,"
               "\"rss_kb\":%.0f,\"rss_kb_max\":%.0f,\"per_s\":%.1f}\n",
               runs, w, c->wall[0], c->wall[runs - 1], median(c->cpu, runs), median(c->rss, runs), c->rss_max,
               runs / total * 1e6);
    }
    return 0;
}
