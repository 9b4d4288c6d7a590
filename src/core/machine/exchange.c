/*
** exchange.c — the single-exchange machine (see exchange.h): it owns the
** request, hands it out, records when it first did, and names the server in
** a transport failure. What an answer means is the reader's.
*/
#include <stdlib.h>
#include <string.h>

#include "machine/exchange.h"
#include "machine/machine.h"

typedef struct exchange_machine {
    cr_machine base;
    cr_http_request req;
    char *who; /* "metadata server", "token endpoint", ... */
    cr_exchange_reader read;
    void *ud;
    void (*drop)(void *ud);
    int64_t sent_at;
} exchange_machine;

static void ex_step(cr_machine *m, cr_step *s)
{
    exchange_machine *x = (exchange_machine *)m;
    if (!x->sent_at)
        x->sent_at = cr_machine_unix_time(m); /* a token's life counts from when it was asked for */
    s->kind = CR_STEP_SEND;
    s->request = &x->req;
}

static void ex_respond(cr_machine *m, cr_http_response *resp)
{
    exchange_machine *x = (exchange_machine *)m;
    cr_exchange_result out;
    memset(&out, 0, sizeof out);
    cr_error err = CR_ERROR_INIT;
    int rc = x->read(x->ud, &x->req, resp, x->sent_at, &out, &err);
    if (rc == 0 && out.token) {
        cr_machine_finish_token(m, out.token, out.expires_at); /* copied: wiped below */
    } else if (rc == 0 && out.text) {
        cr_machine_finish_text(m, out.text);
        out.text = NULL;
    } else if (rc == 0 && out.json) {
        cr_machine_finish_json(m, out.json);
        out.json = NULL;
    } else {
        if (rc == 0)
            cr_error_set(&err, "INTERNAL", 0, "%s %s: the answer was read into no result", x->who, x->req.url);
        cr_machine_finish_error(m, &err);
    }
    cr_secret_free(out.token);
    free(out.text);
    cJSON_Delete(out.json);
}

/* Names the server in the driver's error, unless the message does already. */
static void ex_fail(cr_machine *m, cr_error *err)
{
    exchange_machine *x = (exchange_machine *)m;
    const char *url = x->req.url;
    char *msg = err->message && strstr(err->message, url)
                    ? cr_asprintf("%s: %s", x->who, err->message)
                    : cr_asprintf("%s %s: %s", x->who, url, err->message ? err->message : err->code);
    if (msg) {
        free(err->message);
        err->message = msg;
    }
    cr_machine_finish_error(m, err);
}

static void ex_destroy(cr_machine *m)
{
    exchange_machine *x = (exchange_machine *)m;
    cr_http_request_clear(&x->req);
    free(x->who);
    if (x->drop)
        x->drop(x->ud);
}

static const cr_machine_ops exchange_ops = {
    .what = "HTTP exchange",
    .step = ex_step,
    .respond = ex_respond,
    .fail = ex_fail,
    .destroy = ex_destroy,
};

cr_machine *cr_exchange_machine(cr_http_request *req, const char *who, cr_exchange_reader read, void *ud,
                                void (*drop)(void *ud), cr_error *err)
{
    exchange_machine *x = calloc(1, sizeof *x);
    char *w = cr_strdup(who);
    if (!x || !w) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", who, req->url ? req->url : "");
        free(x);
        free(w);
        cr_http_request_clear(req);
        if (drop)
            drop(ud);
        return NULL;
    }
    cr_machine_init(&x->base, &exchange_ops, NULL);
    x->req = *req;
    memset(req, 0, sizeof *req);
    x->who = w;
    x->read = read;
    x->ud = ud;
    x->drop = drop;
    return &x->base;
}
