/*
** bench.h — what the C benchmark clients share: the RunJob body every path
** sends (byte for byte what lua-cloudrun sends for args {"--id=42"}, env
** {ID=42}), and the warm-loop report: wall and this process's own CPU per call
** and its peak RSS, as one JSON line.
*/
#ifndef CR_BENCH_H
#define CR_BENCH_H

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_RUN_BODY                                                                                                 \
    "{\"overrides\":{\"containerOverrides\":[{\"args\":[\"--id=42\"],\"env\":[{\"name\":\"ID\",\"value\":\"42\"}]}]}}"

static double bench_wall0 __attribute__((unused)), bench_cpu0 __attribute__((unused));

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* This process's CPU so far, user and system, every thread. */
static inline double bench_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_usec;
}

static inline void bench_start(void)
{
    bench_wall0 = bench_now_us();
    bench_cpu0 = bench_cpu_us();
}

/* {"n":N,"wall_us":per call,"cpu_us":per call,"rss_kb":peak} on stdout. */
static inline void bench_report(int n)
{
    double wall = bench_now_us() - bench_wall0, cpu = bench_cpu_us() - bench_cpu0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"n\":%d,\"wall_us\":%.2f,\"cpu_us\":%.2f,\"rss_kb\":%ld}\n", n, wall / n, cpu / n, ru.ru_maxrss);
    fflush(stdout);
}

#endif
