/*
** call.c — the API call machine: everything one Cloud Run v2 call does on
** the wire, without doing it. It looks credentials up when the client has
** none yet (ADC), discovers project and region when a name needs them,
** builds the request, asks for a token, sends, and then decides: the result;
** one fresh token and one resend after a 401; a wait and another attempt
** under the retry rules (retry.c) within the call's deadline; or the error.
** "Never resend a change" is the retry rule's half of it here; the driver
** enforces the other half (no silent resend on a dead kept-alive connection).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/client_state.h"
#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"
#include "auth/token.h"
#include "machine/machine.h"

/* ---- the machine ------------------------------------------------------------ */

typedef enum { SUB_NONE, SUB_ADC, SUB_DISCOVERY, SUB_TOKEN } sub_kind;

typedef struct call_machine {
    cr_machine base;
    cr_client *client; /* outlives the machine (the caller's promise) */
    cr_call call;
    cr_retry policy;
    long timeout_ms; /* one exchange */
    double deadline; /* on the machine's monotonic clock; 0 until the first step */
    cr_http_request req;
    int built;
    int attempt;           /* attempts sent so far */
    int refreshed;         /* this attempt already refreshed the token after a 401 */
    int sending;           /* the request is ready: the next step is SEND */
    double wait;           /* > 0: the next step is WAIT */
    cr_credentials *creds; /* a reference, once resolved */
    int have_creds;
    char *token; /* the bearer in use (a secret) */
    sub_kind sub;
    int text;        /* the result is the answer's text (cr_call_take_text), not a tree */
    size_t text_len; /* of the text result */
    char *execution; /* with a RunJob's text result: the "execution" field to add, or NULL */
} call_machine;

static double remaining(call_machine *k)
{
    return k->deadline - cr_machine_now(&k->base);
}

/* How long a token fetch may take: the client's timeout for one exchange,
** within what is left of the call. */
static double token_within(call_machine *k)
{
    double left = remaining(k), per = (double)k->timeout_ms / 1000.0;
    return left < per ? left : per;
}

/* Replaces (or adds) the Authorization header with a bearer token. */
static int set_bearer(cr_http_request *req, const char *token)
{
    for (cr_header *h = req->headers, **pp = &req->headers; h; pp = &h->next, h = h->next) {
        if (strcmp(h->name, "Authorization") == 0) {
            *pp = h->next;
            h->next = NULL;
            cr_header_free(h);
            break;
        }
    }
    return cr_header_add_owned(&req->headers, "Authorization", cr_concat("Bearer ", token, NULL));
}

/*
** Gets the request ready for an attempt: credentials (ADC, once per client),
** then names (discovery, once per client), then a token. Each need that the
** wire must answer becomes a sub-machine; this runs again when it is done.
*/
static void prepare(call_machine *k)
{
    cr_machine *m = &k->base;
    cr_error err = CR_ERROR_INIT;
    if (!k->built) {
        int rc = cr_call_build(k->client, &k->call, &k->req, &err);
        if (rc < 0) {
            cr_machine_finish_error(m, &err);
            return;
        }
        if (rc > 0) {
            k->sub = SUB_DISCOVERY;
            cr_machine *d = cr_discovery_machine(k->client, &err);
            if (!d)
                cr_machine_finish_error(m, &err);
            cr_machine_push(m, d);
            return;
        }
        k->built = 1;
    }
    if (!k->have_creds) {
        if (!cr_client_credentials(k->client, &k->creds)) {
            k->sub = SUB_ADC;
            cr_machine *adc = cr_adc_machine(&err);
            if (!adc)
                cr_machine_finish_error(m, &err);
            cr_machine_push(m, adc);
            return;
        }
        k->have_creds = 1;
    }
    if (k->creds && !k->token) {
        k->sub = SUB_TOKEN;
        cr_machine *t = cr_token_machine_new(k->creds, NULL, token_within(k), &err);
        if (!t)
            cr_machine_finish_error(m, &err);
        cr_machine_push(m, t);
        return;
    }
    if (k->creds) {
        const char *quota = cr_credentials_quota_project(k->creds);
        if (set_bearer(&k->req, k->token) < 0 || (quota && !cr_header_get(k->req.headers, "x-goog-user-project") &&
                                                  cr_header_add(&k->req.headers, "x-goog-user-project", quota) < 0)) {
            cr_machine_finish_errorf(m, "RESOURCE_EXHAUSTED", 0, "out of memory");
            return;
        }
    }
    double left = remaining(k);
    long timeout = k->timeout_ms;
    if (k->call.min_timeout_ms > timeout)
        timeout = k->call.min_timeout_ms; /* a call that needs longer (WaitOperation) says so */
    k->req.timeout_ms = left * 1000.0 < (double)timeout ? (long)(left * 1000.0) + 1 : timeout;
    if (k->req.timeout_ms < 1)
        k->req.timeout_ms = 1;
    k->sending = 1;
}

static void call_step(cr_machine *m, cr_step *s)
{
    call_machine *k = (call_machine *)m;
    if (k->deadline == 0)
        k->deadline = cr_machine_now(m) + k->policy.deadline;
    if (k->wait > 0) {
        s->kind = CR_STEP_WAIT;
        s->seconds = k->wait;
        return;
    }
    while (!k->sending && !m->done && !m->sub)
        prepare(k);
    if (m->sub) {
        cr_machine_step(m, s); /* the sub-machine's first step */
        return;
    }
    if (m->done) {
        s->kind = CR_STEP_DONE;
        return;
    }
    s->kind = CR_STEP_SEND;
    s->request = &k->req;
}

static void call_sub_done(cr_machine *m, cr_machine *sub)
{
    call_machine *k = (call_machine *)m;
    cr_error err = CR_ERROR_INIT;
    sub_kind which = k->sub;
    k->sub = SUB_NONE;
    switch (which) {
    case SUB_ADC: {
        cr_credentials *found = cr_adc_take(sub, &err);
        if (!found) {
            cr_machine_finish_error(m, &err);
            return;
        }
        cr_client_adopt_credentials(k->client, found);
        cr_credentials_unref(found);
        break;
    }
    case SUB_DISCOVERY: {
        cJSON *found = cr_machine_take_json(sub, &err);
        if (!found) {
            cr_machine_finish_error(m, &err);
            return;
        }
        cJSON_Delete(found);
        break;
    }
    case SUB_TOKEN:
        cr_secret_free(k->token);
        if (cr_machine_take_token(sub, &k->token, NULL, &err) < 0) {
            cr_machine_finish_error(m, &err);
            return;
        }
        break;
    default:
        cr_machine_finish_errorf(m, "INTERNAL", 0, "API call: an unexpected sub-machine finished");
        return;
    }
}

/* After a failed attempt: another one after a wait, or the error for good. */
static void decide(call_machine *k, cr_error *err, double retry_after)
{
    cr_machine *m = &k->base;
    double delay = cr_retry_delay(&k->policy, k->attempt, err, k->call.idempotent, retry_after, remaining(k),
                                  cr_machine_jitter(m));
    if (delay < 0) {
        if (k->attempt > 1 && err->message) {
            char *msg = cr_asprintf("%s (after %d attempts)", err->message, k->attempt);
            if (msg) {
                free(err->message);
                err->message = msg;
            }
        }
        cr_hint_apply(&k->call, err);
        cr_machine_finish_error(m, err);
        return;
    }
    cr_error_clear(err);
    k->wait = delay > 0 ? delay : 1e-9;
}

static void call_respond(cr_machine *m, cr_http_response *resp)
{
    call_machine *k = (call_machine *)m;
    k->sending = 0;
    /* A 401 to a token we fetched means it was revoked or expired early: one
    ** fresh token, and the same attempt sent once more. A fixed token cannot
    ** be refreshed: the server's answer stands. */
    if (resp->status == 401 && k->token && !k->refreshed && !cr_credentials_fixed_token(k->creds, NULL)) {
        k->refreshed = 1;
        k->sub = SUB_TOKEN;
        cr_error err = CR_ERROR_INIT;
        cr_machine *t = cr_token_machine_new(k->creds, k->token, token_within(k), &err);
        if (!t)
            cr_machine_finish_error(m, &err);
        cr_machine_push(m, t);
        return;
    }
    k->attempt++;
    cr_error err = CR_ERROR_INIT;
    cJSON *result = NULL;
    if (k->text && resp->status >= 200 && resp->status < 300) {
        if (cr_api_check_answer_text(resp, k->req.url, k->call.def->answer == CR_ANSWER_RUN, &k->execution, &err) ==
            0) {
            k->text_len = resp->body_len;
            cr_machine_finish_text(m, resp->body);
            resp->body = NULL;
            resp->body_len = 0;
            return;
        }
    } else {
        result = cr_api_parse_response(resp, k->req.url, &err);
    }
    if (!result && k->token) {
        /* a server that quotes the request back must not put our token into a message */
        const char *secrets[] = {k->token};
        cr_error_scrub(&err, secrets, 1);
    }
    if (result) {
        if (k->call.def->answer == CR_ANSWER_RUN) {
            const char *exec = cr_api_operation_execution(result);
            if (exec && !cJSON_GetObjectItemCaseSensitive(result, "execution"))
                cJSON_AddStringToObject(result, "execution", exec);
        }
        cr_machine_finish_json(m, result);
        return;
    }
    decide(k, &err, cr_retry_after(resp->headers, &err, cr_machine_unix_time(m)));
}

static void call_fail(cr_machine *m, cr_error *err)
{
    call_machine *k = (call_machine *)m;
    k->sending = 0;
    k->attempt++;
    cr_error mine = *err;
    memset(err, 0, sizeof *err);
    decide(k, &mine, -1);
}

static void call_waited(cr_machine *m)
{
    call_machine *k = (call_machine *)m;
    k->wait = 0;
    k->refreshed = 0;
}

static void call_destroy(cr_machine *m)
{
    call_machine *k = (call_machine *)m;
    cr_call_clear(&k->call);
    cr_http_request_clear(&k->req);
    cr_credentials_unref(k->creds);
    cr_secret_free(k->token);
    free(k->execution);
}

static const cr_machine_ops call_ops = {
    .what = "API call",
    .step = call_step,
    .respond = call_respond,
    .fail = call_fail,
    .waited = call_waited,
    .sub_done = call_sub_done,
    .destroy = call_destroy,
};

cr_machine *cr_call_machine(cr_client *c, cr_call *call, cr_http_request *built, const cr_call_options *opts, int text,
                            cr_error *err)
{
    if (opts && !(opts->timeout <= CR_MAX_EXCHANGE_SECONDS)) {
        cr_call_clear(call);
        cr_http_request_clear(built);
        cr_error_set(err, "INVALID_ARGUMENT", 0, "timeout must be at most %.0f seconds", CR_MAX_EXCHANGE_SECONDS);
        return NULL;
    }
    call_machine *k = calloc(1, sizeof *k);
    if (!k) {
        cr_call_clear(call);
        cr_http_request_clear(built);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    if (built) {
        k->req = *built;
        memset(built, 0, sizeof *built);
        k->built = 1;
    }
    cr_machine_init(&k->base, &call_ops, NULL);
    k->client = c;
    k->text = text;
    k->call = *call;
    memset(call, 0, sizeof *call);
    if (opts && opts->retry)
        cr_retry_resolve(opts->retry, &k->policy);
    else
        k->policy = c->retry;
    k->timeout_ms = opts && opts->timeout > 0 ? (long)(opts->timeout * 1000.0) : c->timeout_ms;
    return &k->base;
}

char *cr_machine_take_answer(cr_machine *m, size_t *len, char **execution, cr_error *err)
{
    call_machine *k = (call_machine *)m;
    *len = 0;
    *execution = NULL;
    if (!m || m->ops != &call_ops || !k->text) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_machine_take_answer: not a machine of cr_client_start_text");
        return NULL;
    }
    char *text = cr_machine_take_text(m, err);
    if (text) {
        *len = k->text_len;
        *execution = k->execution;
        k->execution = NULL;
    }
    return text;
}
