/*
** machine.h — what every step machine shares: the vtable a kind fills in,
** the result slots, the clock it reads time from (a test's fake, or the real
** one), and sub-machines — a machine that needs another's result first (an
** API call that must discover its project, an impersonation that needs its
** source's token) runs it as a sub-machine whose steps come out first.
*/
#ifndef CR_MACHINE_H
#define CR_MACHINE_H

#include <stdint.h>

#include "util/util.h"

/* Where a machine reads time and jitter. Tests pass their own; NULL fields
** mean the real clocks (and a random seed). */
typedef struct cr_clock {
    double (*monotonic)(void *ud);  /* seconds, never going back */
    int64_t (*unix_time)(void *ud); /* Unix seconds */
    double (*jitter)(void *ud);     /* in [0, 1) */
    void *ud;
} cr_clock;

/*
** A kind of machine. step() is called only while the machine is not done
** and has no sub-machine; it fills the step from the machine's state and
** changes nothing (so asking twice gives the same step) — or, leaving the
** step empty, does work that needs no I/O (signing a JWT) and finishes the
** machine or pushes a sub-machine, whose step is then given instead. The feeds move the
** state on; a feed the kind does not expect (NULL here) ends the machine
** with INTERNAL, naming the driver's mistake. sub_done() is handed a
** finished sub-machine (freed after it returns). destroy() frees what the
** kind owns, not the struct.
*/
typedef struct cr_machine_ops {
    const char *what; /* "API call", "token fetch", ... for the driver-mistake message */
    void (*step)(cr_machine *m, cr_step *s);
    void (*respond)(cr_machine *m, cr_http_response *resp);
    void (*fail)(cr_machine *m, cr_error *err);
    void (*token)(cr_machine *m, const char *token, int64_t expires_at);
    void (*waited)(cr_machine *m);
    void (*sub_done)(cr_machine *m, cr_machine *sub);
    void (*destroy)(cr_machine *m);
} cr_machine_ops;

struct cr_machine {
    const cr_machine_ops *ops;
    cr_machine *sub; /* runs first while not NULL */
    cr_clock clock;
    uint64_t rng; /* xorshift state for jitter when the clock has none */
    int done;
    cr_error err;       /* the outcome, when it failed */
    cJSON *json;        /* an API call's result */
    char *token;        /* a token machine's result (a secret) */
    int64_t expires_at; /* its expiry */
    char *text;         /* a lookup's result */
};

/* Sets up the shared part; clock NULL: the real clocks. */
CR_HIDDEN void cr_machine_init(cr_machine *m, const cr_machine_ops *ops, const cr_clock *clock);

/* Makes `sub` (a new machine, owned from now on) run before m goes on; it
** reads m's clock. sub NULL (its constructor failed) is ignored. */
CR_HIDDEN void cr_machine_push(cr_machine *m, cr_machine *sub);

/* Ends the machine: with an error (its contents taken), JSON (taken), a
** token (copied) or text (taken). */
CR_HIDDEN void cr_machine_finish_error(cr_machine *m, cr_error *err);
CR_HIDDEN void cr_machine_finish_json(cr_machine *m, cJSON *json);
CR_HIDDEN void cr_machine_finish_token(cr_machine *m, const char *token, int64_t expires_at);
CR_HIDDEN void cr_machine_finish_text(cr_machine *m, char *text);

/* Ends m with the token result of a finished sub-machine (moved), or with
** its error. 0 for a token, -1 for an error. */
CR_HIDDEN int cr_machine_finish_from(cr_machine *m, cr_machine *sub);

/* Ends it with a new error (printf message). */
CR_HIDDEN void cr_machine_finish_errorf(cr_machine *m, const char *code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A machine that is done from the start: with a token (copied), or with an
** error (its contents taken). NULL when out of memory. */
CR_HIDDEN cr_machine *cr_machine_ready_token(const char *token, int64_t expires_at);
CR_HIDDEN cr_machine *cr_machine_ready_error(cr_error *err);

/* A lookup's text (caller frees), or NULL with err set. */
CR_HIDDEN char *cr_machine_take_text(cr_machine *m, cr_error *err);

/* Time and jitter, from the machine's clock. */
CR_HIDDEN double cr_machine_now(cr_machine *m);
CR_HIDDEN int64_t cr_machine_unix_time(cr_machine *m);
CR_HIDDEN double cr_machine_jitter(cr_machine *m);

/* Copies the clock of `from` into `to` (a machine made to run on behalf of another). */
CR_HIDDEN void cr_machine_share_clock(cr_machine *to, const cr_machine *from);

/* Moves a response's contents out (zeroing *from). */
CR_HIDDEN void cr_http_response_move(cr_http_response *to, cr_http_response *from);

#endif
