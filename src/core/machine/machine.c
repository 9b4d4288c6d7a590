/*
** machine.c — the driver-facing half of every machine: stepping through
** sub-machines, routing each feed to the machine that asked, the results,
** and the clock. What a kind does with a step is in its own file.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "machine/machine.h"

static double real_monotonic(void *ud)
{
    (void)ud;
    return cr_monotonic();
}

static int64_t real_unix_time(void *ud)
{
    (void)ud;
    return cr_unix_time();
}

void cr_machine_init(cr_machine *m, const cr_machine_ops *ops, const cr_clock *clock)
{
    memset(m, 0, sizeof *m);
    m->ops = ops;
    if (clock)
        m->clock = *clock;
    if (!m->clock.monotonic)
        m->clock.monotonic = real_monotonic;
    if (!m->clock.unix_time)
        m->clock.unix_time = real_unix_time;
}

void cr_machine_share_clock(cr_machine *to, const cr_machine *from)
{
    to->clock = from->clock;
}

void cr_machine_push(cr_machine *m, cr_machine *sub)
{
    if (!sub)
        return;
    cr_machine_share_clock(sub, m);
    m->sub = sub;
}

double cr_machine_now(cr_machine *m)
{
    return m->clock.monotonic(m->clock.ud);
}

int64_t cr_machine_unix_time(cr_machine *m)
{
    return m->clock.unix_time(m->clock.ud);
}

/* xorshift64*: jitter only, not security. Seeded when first needed (a
** retry), so that the calls that never retry make no getrandom call. */
double cr_machine_jitter(cr_machine *m)
{
    if (m->clock.jitter)
        return m->clock.jitter(m->clock.ud);
    if (m->rng == 0 && (getrandom(&m->rng, sizeof m->rng, GRND_NONBLOCK) != sizeof m->rng || m->rng == 0))
        m->rng = (uint64_t)(uintptr_t)m ^ ((uint64_t)cr_unix_time() << 20) ^ 0x9e3779b97f4a7c15ULL;
    uint64_t x = m->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

void cr_machine_finish_error(cr_machine *m, cr_error *err)
{
    cr_error_clear(&m->err);
    m->err = *err;
    if (!m->err.code[0])
        snprintf(m->err.code, sizeof m->err.code, "UNKNOWN");
    memset(err, 0, sizeof *err);
    m->done = 1;
}

void cr_machine_finish_errorf(cr_machine *m, const char *code, int status, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cr_error e = CR_ERROR_INIT;
    cr_error_set(&e, code, status, "%s", buf);
    cr_machine_finish_error(m, &e);
}

void cr_machine_finish_json(cr_machine *m, cJSON *json)
{
    m->json = json;
    m->done = 1;
}

void cr_machine_finish_token(cr_machine *m, const char *token, int64_t expires_at)
{
    cr_secret_free(m->token);
    m->token = cr_strdup(token);
    m->expires_at = expires_at;
    m->done = 1;
    if (!m->token)
        cr_machine_finish_errorf(m, "RESOURCE_EXHAUSTED", 0, "out of memory keeping a token");
}

void cr_machine_finish_text(cr_machine *m, char *text)
{
    free(m->text);
    m->text = text;
    m->done = 1;
}

/* The machine that asked for the step being answered: the innermost sub. */
static cr_machine *asking(cr_machine *m)
{
    while (m->sub)
        m = m->sub;
    return m;
}

void cr_machine_step(cr_machine *m, cr_step *s)
{
    memset(s, 0, sizeof *s);
    while (m->sub) {
        /* A sub-machine reads its parent's clock, also one pushed before the
        ** parent's clock was set (by a constructor). */
        cr_machine_share_clock(m->sub, m);
        cr_machine_step(m->sub, s);
        if (s->kind != CR_STEP_DONE)
            return;
        cr_machine *sub = m->sub;
        m->sub = NULL;
        memset(s, 0, sizeof *s);
        if (m->ops->sub_done)
            m->ops->sub_done(m, sub);
        else
            cr_machine_finish_errorf(m, "INTERNAL", 0, "%s: a sub-machine finished unexpectedly", m->ops->what);
        cr_machine_free(sub);
    }
    if (m->done) {
        s->kind = CR_STEP_DONE;
        return;
    }
    m->ops->step(m, s);
    /* A kind's step may instead have finished the machine or pushed a
    ** sub-machine (work it does at its first step): go again. */
    if (s->kind)
        return;
    if (!m->done && !m->sub)
        cr_machine_finish_errorf(m, "INTERNAL", 0, "%s: no step to take", m->ops->what);
    cr_machine_step(m, s);
}

static void driver_mistake(cr_machine *m, const char *fed)
{
    cr_machine_finish_errorf(m, "INTERNAL", 0, "%s: the driver fed %s, which was not asked for", m->ops->what, fed);
}

void cr_machine_respond(cr_machine *m, cr_http_response *resp)
{
    m = asking(m);
    if (!m->done && m->ops->respond)
        m->ops->respond(m, resp);
    else if (!m->done)
        driver_mistake(m, "a response");
    cr_http_response_clear(resp);
}

void cr_machine_fail(cr_machine *m, cr_error *err)
{
    m = asking(m);
    if (!m->done && m->ops->fail)
        m->ops->fail(m, err);
    else if (!m->done)
        driver_mistake(m, "a failure");
    cr_error_clear(err);
}

void cr_machine_give_token(cr_machine *m, const char *token, int64_t expires_at)
{
    m = asking(m);
    if (!m->done && m->ops->token)
        m->ops->token(m, token, expires_at);
    else if (!m->done)
        driver_mistake(m, "a token");
}

void cr_machine_waited(cr_machine *m)
{
    m = asking(m);
    if (!m->done && m->ops->waited)
        m->ops->waited(m);
    else if (!m->done)
        driver_mistake(m, "the end of a wait");
}

static int not_done(cr_machine *m, cr_error *err)
{
    if (m->done)
        return 0;
    cr_error_set(err, "INTERNAL", 0, "%s: the result was asked for before the machine finished", m->ops->what);
    return 1;
}

/* Hands the error over: the machine's copy is moved out (taken once). */
static void take_error(cr_machine *m, cr_error *err)
{
    cr_error_clear(err);
    *err = m->err;
    memset(&m->err, 0, sizeof m->err);
    if (!err->code[0])
        cr_error_set(err, "INTERNAL", 0, "%s: no result (taken already?)", m->ops->what);
}

int cr_machine_finish_from(cr_machine *m, cr_machine *sub)
{
    if (sub->token) {
        cr_secret_free(m->token);
        m->token = sub->token;
        m->expires_at = sub->expires_at;
        sub->token = NULL;
        m->done = 1;
        return 0;
    }
    cr_error err = CR_ERROR_INIT;
    take_error(sub, &err);
    cr_machine_finish_error(m, &err);
    return -1;
}

cJSON *cr_machine_take_json(cr_machine *m, cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    cJSON *out = NULL;
    if (!not_done(m, err)) {
        if (m->json) {
            out = m->json;
            m->json = NULL;
        } else {
            take_error(m, err);
        }
    }
    cr_error_clear(&scratch);
    return out;
}

int cr_machine_take_token(cr_machine *m, char **token, int64_t *expires_at, cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    int rc = -1;
    *token = NULL;
    if (!not_done(m, err)) {
        if (m->token) {
            *token = m->token;
            m->token = NULL;
            if (expires_at)
                *expires_at = m->expires_at;
            rc = 0;
        } else {
            take_error(m, err);
        }
    }
    cr_error_clear(&scratch);
    return rc;
}

char *cr_machine_take_text(cr_machine *m, cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    char *out = NULL;
    if (!not_done(m, err)) {
        if (m->text) {
            out = m->text;
            m->text = NULL;
        } else {
            take_error(m, err);
        }
    }
    cr_error_clear(&scratch);
    return out;
}

void cr_machine_free(cr_machine *m)
{
    if (!m)
        return;
    cr_machine_free(m->sub);
    if (m->ops->destroy)
        m->ops->destroy(m);
    cr_error_clear(&m->err);
    cJSON_Delete(m->json);
    cr_secret_free(m->token);
    free(m->text);
    free(m);
}

void cr_http_response_move(cr_http_response *to, cr_http_response *from)
{
    *to = *from;
    memset(from, 0, sizeof *from);
}

static void ready_step(cr_machine *m, cr_step *s)
{
    (void)m;
    s->kind = CR_STEP_DONE; /* not reached: a ready machine is done */
}

static const cr_machine_ops ready_ops = {.what = "result", .step = ready_step};

cr_machine *cr_machine_ready_token(const char *token, int64_t expires_at)
{
    cr_machine *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    cr_machine_init(m, &ready_ops, NULL);
    cr_machine_finish_token(m, token, expires_at);
    return m;
}

cr_machine *cr_machine_ready_error(cr_error *err)
{
    cr_machine *m = malloc(sizeof *m);
    if (!m) {
        cr_error_clear(err);
        return NULL;
    }
    cr_machine_init(m, &ready_ops, NULL);
    cr_machine_finish_error(m, err);
    return m;
}
