/*
** curl_multi.c — the multi driver: many machines at once on one thread,
** their SENDs on a libcurl multi stack, their WAITs as timers, their TOKEN
** steps against the process-wide store, a fetch it must make running as one
** more machine beside them (the others that need that token wait for it).
** It runs any machines (cr_machines_run); cr_client_run_jobs, the fan-out,
** is it over RunJob machines. A client's pacer holds a send back as a timer
** too (HELD), without the machine knowing.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/credentials.h"
#include "drivers/curl_exchange.h"
#include "drivers/drivers.h"
#include "drivers/token_store.h"
#include "machine/machine.h"

/* How often a machine waiting for another thread's token fetch looks again (ms). */
#define PARKED_POLL_MS 5

typedef enum { S_READY, S_SENDING, S_WAITING, S_HELD, S_PARKED, S_DONE } slot_state;

typedef struct slot {
    cr_machine *m;
    size_t index;          /* the request's index; fetches have none */
    cr_credentials *fetch; /* a token fetch for these credentials (a reference), or NULL */
    slot_state state;
    CURL *easy; /* while SENDING */
    cr_curl_exchange x;
    double wake_at;         /* while WAITING or HELD */
    const char *quota;      /* the send the pacer was asked about (it is not asked again), or NULL */
    cr_credentials *parked; /* while PARKED: whose token (a reference) */
    char *stale;            /* while PARKED */
    int refused;
    double within;
    unsigned long since;
    struct slot *next;
} slot;

typedef struct multi {
    CURLM *stack;
    slot *slots;
    CURL *idle[64];
    int nidle;
    const char *ca_file;   /* trusted besides the system's, or NULL */
    const cr_pacer *pacer; /* or NULL */
} multi;

static CURL *easy_get(multi *mu)
{
    return mu->nidle > 0 ? mu->idle[--mu->nidle] : cr_curl_easy_new();
}

static void easy_put(multi *mu, CURL *easy)
{
    if (mu->nidle < (int)(sizeof mu->idle / sizeof *mu->idle))
        mu->idle[mu->nidle++] = easy;
    else
        curl_easy_cleanup(easy);
}

/* A machine that cannot be run here: fed `err` at every step that needs the wire, until it is done. */
static void fail_to_end(cr_machine *m, cr_error *err)
{
    for (int i = 0; i < 64; i++) {
        cr_step st;
        cr_machine_step(m, &st);
        if (st.kind == CR_STEP_DONE)
            break;
        if (st.kind == CR_STEP_WAIT) {
            cr_machine_waited(m);
            continue;
        }
        cr_error copy = CR_ERROR_INIT;
        cr_error_set(&copy, err->code, err->status, "%s", err->message ? err->message : "");
        cr_machine_fail(m, &copy);
    }
    cr_error_clear(err);
}

static slot *slot_add(multi *mu, cr_machine *m, size_t index, cr_credentials *fetch)
{
    slot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->index = index;
    s->fetch = fetch ? cr_credentials_ref(fetch) : NULL;
    s->next = mu->slots;
    mu->slots = s;
    return s;
}

/* A machine finished: its result goes to its index, or (a fetch) to the store. */
static void settle(multi *mu, slot *s)
{
    cr_error err = CR_ERROR_INIT;
    if (s->fetch) {
        char *token = NULL;
        int64_t exp = 0;
        if (cr_machine_take_token(s->m, &token, &exp, &err) == 0)
            cr_store_end(s->fetch, token, exp, NULL); /* takes the token */
        else
            cr_store_end(s->fetch, NULL, 0, &err);
    } /* a caller's machine keeps its result for the caller */
    cr_error_clear(&err);
    s->state = S_DONE;
}

static void advance(multi *mu, slot *s, double now);

/* A TOKEN step with fresh = 1, asked again until the store can answer it. */
static void try_fresh(multi *mu, slot *s)
{
    char *token = NULL;
    int64_t exp = 0;
    cr_error err = CR_ERROR_INIT;
    int rc = cr_store_begin(s->parked, s->stale, s->refused, &s->since, &token, &exp, &err);
    if (rc == CR_STORE_BUSY) {
        s->state = S_PARKED;
        return;
    }
    if (rc == CR_STORE_FETCH) {
        long timeout_ms = cr_credentials_timeout_ms(s->parked);
        if (s->within > 0 && s->within * 1000.0 < (double)timeout_ms)
            timeout_ms = (long)(s->within * 1000.0) + 1;
        cr_machine *f = cr_credentials_fetch(s->parked, timeout_ms, &err);
        slot *fs = f ? slot_add(mu, f, 0, s->parked) : NULL;
        if (!fs) {
            if (!f)
                cr_store_end(s->parked, NULL, 0, &err);
            else {
                cr_machine_free(f);
                cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "out of memory");
                cr_store_end(s->parked, NULL, 0, &err);
            }
            cr_machine_fail(s->m, &err);
            s->state = S_READY;
        } else {
            s->state = S_PARKED; /* the fetch runs as a slot of its own; this one asks again after it */
            advance(mu, fs, cr_monotonic());
        }
        cr_error_clear(&err);
        return;
    }
    if (rc == CR_STORE_READY)
        cr_machine_give_token(s->m, token, exp);
    else
        cr_machine_fail(s->m, &err);
    cr_secret_free(token);
    cr_error_clear(&err);
    cr_credentials_unref(s->parked);
    s->parked = NULL;
    cr_secret_free(s->stale);
    s->stale = NULL;
    s->state = S_READY;
}

/* Steps a READY machine until it needs the wire, a timer or a token someone else fetches. */
static void advance(multi *mu, slot *s, double now)
{
    while (s->state == S_READY) {
        cr_step st;
        cr_machine_step(s->m, &st);
        switch (st.kind) {
        case CR_STEP_SEND: {
            if (mu->pacer && !s->quota && (s->quota = cr_machine_quota(s->m)) != NULL) {
                double hold = mu->pacer->before_send(mu->pacer->ud, s->quota);
                if (hold > 0) {
                    s->wake_at = now + hold;
                    s->state = S_HELD;
                    break;
                }
            }
            cr_error err = CR_ERROR_INIT;
            memset(&s->x, 0, sizeof s->x);
            s->easy = easy_get(mu);
            if (!s->easy || cr_curl_exchange_setup(&s->x, s->easy, st.request, mu->ca_file, &err) < 0 ||
                curl_multi_add_handle(mu->stack, s->easy) != CURLM_OK) {
                if (!err.code[0])
                    cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "%s %s: cannot start the request", st.request->method,
                                 st.request->url);
                if (s->easy)
                    easy_put(mu, s->easy);
                s->easy = NULL;
                s->quota = NULL;
                cr_machine_fail(s->m, &err);
                break;
            }
            s->state = S_SENDING;
            break;
        }
        case CR_STEP_WAIT:
            s->wake_at = now + st.seconds;
            s->state = S_WAITING;
            break;
        case CR_STEP_TOKEN:
            if (!st.fresh) {
                char *token = NULL;
                int64_t exp = 0;
                cr_error err = CR_ERROR_INIT;
                if (cr_store_lookup(st.credentials, &token, &exp, &err) == CR_STORE_READY)
                    cr_machine_give_token(s->m, token, exp);
                else
                    cr_machine_fail(s->m, &err);
                cr_secret_free(token);
                break;
            }
            s->parked = cr_credentials_ref(st.credentials);
            s->stale = cr_strdup(st.stale);
            s->refused = st.refused;
            s->within = st.within;
            s->since = 0;
            try_fresh(mu, s);
            break;
        case CR_STEP_DONE:
        default:
            settle(mu, s);
            break;
        }
    }
}

static void slot_free(multi *mu, slot *s)
{
    if (s->easy) {
        curl_multi_remove_handle(mu->stack, s->easy);
        cr_http_response r;
        cr_error e = CR_ERROR_INIT;
        cr_curl_exchange_finish(&s->x, CURLE_ABORTED_BY_CALLBACK, &r, &e);
        cr_error_clear(&e);
        curl_easy_cleanup(s->easy);
    }
    if (s->fetch)
        cr_machine_free(s->m); /* the caller's machines are the caller's to free */
    cr_credentials_unref(s->fetch);
    cr_credentials_unref(s->parked);
    cr_secret_free(s->stale);
    free(s);
}

/* Hands every finished exchange to its machine; returns how many there were. */
static int drain(multi *mu)
{
    int finished = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(mu->stack, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (slot *s = mu->slots; s; s = s->next) {
            if (s->easy != msg->easy_handle)
                continue;
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(mu->stack, s->easy);
            cr_http_response resp;
            cr_error err = CR_ERROR_INIT;
            if (cr_curl_exchange_finish(&s->x, rc, &resp, &err) == 0)
                cr_machine_respond(s->m, &resp);
            else
                cr_machine_fail(s->m, &err);
            if (s->quota) {
                double asked = cr_machine_server_wait(s->m);
                if (asked > 0 && mu->pacer->server_wait)
                    mu->pacer->server_wait(mu->pacer->ud, s->quota, asked);
                s->quota = NULL;
            }
            easy_put(mu, s->easy);
            s->easy = NULL;
            s->state = S_READY;
            finished++;
            break;
        }
    }
    return finished;
}

/* Runs every slot to DONE, starting requests from `next` as room frees up. */
static void run(multi *mu, cr_machine *const *machines, size_t n, size_t in_flight)
{
    size_t next = 0, active = 0;
    for (;;) {
        /* fill the room with the next machines */
        while (active < in_flight && next < n) {
            cr_machine *m = machines[next];
            if (!m) {
                /* nothing to run here */
            } else if (!slot_add(mu, m, next, NULL)) {
                cr_error err = CR_ERROR_INIT;
                cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "out of memory starting a call");
                fail_to_end(m, &err);
            } else {
                active++;
            }
            next++;
        }
        double now = cr_monotonic();
        int parked = 0, pending = 0;
        double soonest = -1;
        for (slot *s = mu->slots; s; s = s->next) {
            if (s->state == S_WAITING && s->wake_at <= now) {
                cr_machine_waited(s->m);
                s->state = S_READY;
            }
            if (s->state == S_HELD && s->wake_at <= now)
                s->state = S_READY; /* the same SEND again, sent this time */
            if (s->state == S_PARKED)
                try_fresh(mu, s);
            advance(mu, s, now);
            if ((s->state == S_WAITING || s->state == S_HELD) && (soonest < 0 || s->wake_at < soonest))
                soonest = s->wake_at;
            parked |= s->state == S_PARKED;
            pending |= s->state != S_DONE;
        }
        /* drop the finished ones */
        for (slot **pp = &mu->slots; *pp;) {
            slot *s = *pp;
            if (s->state == S_DONE) {
                *pp = s->next;
                if (!s->fetch)
                    active--;
                slot_free(mu, s);
            } else {
                pp = &s->next;
            }
        }
        if (!pending && next >= n)
            return;
        if (!pending)
            continue;
        int timeout_ms = 1000;
        if (soonest >= 0) {
            double ms = (soonest - now) * 1000.0;
            timeout_ms = ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms + 1;
        }
        if (parked && timeout_ms > PARKED_POLL_MS)
            timeout_ms = PARKED_POLL_MS;
        /* Exchanges that finish in this perform are read at once: polling first
           would wait out the whole timeout for a socket that has nothing more to say. */
        int running = 0;
        curl_multi_perform(mu->stack, &running);
        if (drain(mu) == 0) {
            long curl_ms = -1;
            if (curl_multi_timeout(mu->stack, &curl_ms) == CURLM_OK && curl_ms >= 0 && curl_ms < timeout_ms)
                timeout_ms = (int)curl_ms;
            curl_multi_poll(mu->stack, NULL, 0, timeout_ms, NULL);
            curl_multi_perform(mu->stack, &running);
            drain(mu);
        }
    }
}

static void machines_run(cr_machine *const *machines, size_t n, size_t in_flight, const char *ca_file,
                         const cr_pacer *pacer)
{
    if (n == 0 || !machines)
        return;
    multi mu;
    memset(&mu, 0, sizeof mu);
    mu.ca_file = ca_file;
    mu.pacer = pacer;
    cr_global_init();
    mu.stack = curl_multi_init();
    if (!mu.stack) {
        for (size_t i = 0; i < n; i++) {
            cr_error err = CR_ERROR_INIT;
            cr_error_set(&err, "RESOURCE_EXHAUSTED", 0, "cannot create a libcurl multi handle");
            if (machines[i])
                fail_to_end(machines[i], &err);
        }
        return;
    }
    run(&mu, machines, n, in_flight ? in_flight : 16);
    while (mu.slots) {
        slot *s = mu.slots;
        mu.slots = s->next;
        slot_free(&mu, s);
    }
    for (int i = 0; i < mu.nidle; i++)
        curl_easy_cleanup(mu.idle[i]);
    curl_multi_cleanup(mu.stack);
}

void cr_machines_run(cr_machine *const *machines, size_t n, size_t in_flight, const char *ca_file)
{
    machines_run(machines, n, in_flight, ca_file, NULL);
}

void cr_client_run_machines(cr_client *c, cr_machine *const *machines, size_t n, size_t in_flight)
{
    machines_run(machines, n, in_flight, c ? cr_client_ca_file(c) : NULL, c ? cr_client_pacer(c) : NULL);
}

void cr_client_run_jobs(cr_client *c, const cr_run_job_request *jobs, size_t n, size_t in_flight,
                        const cr_call_options *call, cJSON **results, cr_error *errs)
{
    if (!c || !results || !errs || (n > 0 && !jobs))
        return;
    cr_machine **machines = n ? calloc(n, sizeof *machines) : NULL;
    for (size_t i = 0; i < n; i++) {
        results[i] = NULL;
        memset(&errs[i], 0, sizeof errs[i]);
        if (!machines) {
            cr_error_set(&errs[i], "RESOURCE_EXHAUSTED", 0, "out of memory");
            continue;
        }
        cr_request r = {.method = CR_RUN_JOB, .name = jobs[i].job, .run = jobs[i].opts};
        machines[i] = cr_client_start(c, &r, call, &errs[i]);
    }
    if (!machines)
        return;
    machines_run(machines, n, in_flight, cr_client_ca_file(c), cr_client_pacer(c));
    for (size_t i = 0; i < n; i++) {
        if (machines[i]) {
            results[i] = cr_machine_take_json(machines[i], &errs[i]);
            cr_machine_free(machines[i]);
        }
    }
    free(machines);
}
