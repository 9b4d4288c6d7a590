/*
** check.h — the C tests' tiny harness: named test functions, CHECK macros
** that report file:line and keep going, and a main() that runs them all and
** ends with "N passed, N failed".
**
** Use:
**   #include "check.h"
**   TEST(a_short_job_name_becomes_a_full_resource_name) { CHECK_STR(x, "..."); }
**   ...
**   int main(void) { return check_run(); }   // runs every TEST in the file
*/
#ifndef CR_CHECK_H
#define CR_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);

struct check_case {
    const char *name;
    check_fn fn;
};

#define CHECK_MAX_CASES 256
static struct check_case check_cases[CHECK_MAX_CASES];
static int check_ncases;
static int check_failures_in_case;

#define TEST(name)                                                                                                     \
    static void test_##name(void);                                                                                     \
    __attribute__((constructor)) static void register_##name(void)                                                     \
    {                                                                                                                  \
        if (check_ncases < CHECK_MAX_CASES)                                                                            \
            check_cases[check_ncases++] = (struct check_case){#name, test_##name};                                     \
    }                                                                                                                  \
    static void test_##name(void)

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                                 \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

#define CHECK_INT(got, want)                                                                                           \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) {                                                                                                \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #got, g_, w_);                 \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(got, want)                                                                                           \
    do {                                                                                                               \
        const char *g_ = (got), *w_ = (want);                                                                          \
        if (!g_ || !w_ || strcmp(g_, w_) != 0) {                                                                       \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
                    w_ ? w_ : "(null)");                                                                               \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                                    \
    do {                                                                                                               \
        const char *h_ = (hay), *n_ = (needle);                                                                        \
        if (!h_ || !strstr(h_, n_)) {                                                                                  \
            fprintf(stderr, "  %s:%d: %s == \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, #hay,               \
                    h_ ? h_ : "(null)", n_);                                                                           \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

#define CHECK_NOT_CONTAINS(hay, needle)                                                                                \
    do {                                                                                                               \
        const char *h_ = (hay), *n_ = (needle);                                                                        \
        if (h_ && strstr(h_, n_)) {                                                                                    \
            fprintf(stderr, "  %s:%d: %s contains \"%s\", which it must not\n", __FILE__, __LINE__, #hay, n_);         \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

/* Runs the cases whose name contains $CHECK_FILTER (all when unset). */
static int check_run(void)
{
    const char *filter = getenv("CHECK_FILTER");
    int passed = 0, failed = 0;
    for (int i = 0; i < check_ncases; i++) {
        if (filter && *filter && !strstr(check_cases[i].name, filter))
            continue;
        check_failures_in_case = 0;
        check_cases[i].fn();
        if (check_failures_in_case) {
            failed++;
            printf("not ok - %s\n", check_cases[i].name);
        } else {
            passed++;
            printf("ok - %s\n", check_cases[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
