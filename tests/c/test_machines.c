/*
** test_machines.c — the step machines driven with no server and no sleeping:
** a fake clock that WAIT steps move, a scripted driver that answers each SEND
** from a list and records what was sent, and a small token store that
** follows the TOKEN protocol of cr_step. Retries, backoff, the deadline, the
** 401 refresh, token freshness, every credential type's requests and
** failures, and discovery are each checked exactly.
*/
#define CR_FAKE_GOOGLE "/nonexistent" /* testkit.h's cr-fake-google helpers are not used here */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/testkit.h"
#include "auth/credentials.h"
#include "check.h"
#include "cloudrun.h"
#include "machine/machine.h"

/* ---- the fake clock -------------------------------------------------------- */

/* Unix time when each test begins (2033-05-18T03:33:20Z): far from the real
** clock, so that a machine reading the real one shows. */
#define T0 2000000000LL

static struct {
    double elapsed; /* seconds since the test began: WAIT steps and slow exchanges move it */
    double jitter;
} fake;

static double fake_monotonic(void *ud)
{
    (void)ud;
    return 1000.0 + fake.elapsed;
}

static int64_t fake_unix_time(void *ud)
{
    (void)ud;
    return T0 + (int64_t)fake.elapsed;
}

static double fake_jitter(void *ud)
{
    (void)ud;
    return fake.jitter;
}

static const cr_clock fake_clock = {fake_monotonic, fake_unix_time, fake_jitter, NULL};

/* ---- the script, and what the driver saw --------------------------------------- */

#define MAX_LOG 32

/* One answer to a SEND: a response, or (code set) the failure to get one. */
typedef struct reply {
    long status;
    const char *headers; /* "Name: value\nName: value", or NULL */
    const char *body;
    const char *code; /* a transport failure: UNAVAILABLE or DEADLINE_EXCEEDED */
    int sent;         /* with code: the request may have reached the server */
    double took;      /* seconds the exchange takes on the fake clock */
} reply;

typedef struct sent_request {
    char method[8];
    char *url;
    cr_header *headers;
    char *body;
    long timeout_ms;
    int idempotent;
    const char *quota;  /* cr_machine_quota at the SEND */
    double server_wait; /* cr_machine_server_wait after its answer */
    double again;       /* ... asked a second time */
} sent_request;

typedef struct token_ask {
    char key[200];
    int fresh;
    char *stale;
    int refused;
    double within;
} token_ask;

/* The token store: one token per key, as the libcurl drivers keep them. */
typedef struct stored {
    char key[200];
    char *token;
    int64_t expires_at;
} stored;

static struct {
    reply script[MAX_LOG];
    int nscript, next;
    sent_request sent[MAX_LOG];
    int nsent;
    double waits[MAX_LOG];
    int nwaits;
    token_ask asks[MAX_LOG];
    int nasks;
    stored store[16];
    int nstore;
} W;

/* Forgets everything: script, records, store; the clock back to T0, jitter 0.5. */
static void begin(void)
{
    for (int i = 0; i < W.nsent; i++) {
        free(W.sent[i].url);
        cr_header_free(W.sent[i].headers);
        free(W.sent[i].body);
    }
    for (int i = 0; i < W.nasks; i++)
        free(W.asks[i].stale);
    for (int i = 0; i < W.nstore; i++)
        free(W.store[i].token);
    memset(&W, 0, sizeof W);
    fake.elapsed = 0;
    fake.jitter = 0.5;
}

static void push(reply r)
{
    if (W.nscript < MAX_LOG)
        W.script[W.nscript++] = r;
}

/* The next SEND gets this response. */
static void answer(long status, const char *headers, const char *body)
{
    push((reply){.status = status, .headers = headers, .body = body});
}

/* ... after `took` seconds. */
static void answer_after(double took, long status, const char *headers, const char *body)
{
    push((reply){.status = status, .headers = headers, .body = body, .took = took});
}

/* The next SEND gets no response. */
static void fail_send(const char *code, int sent)
{
    push((reply){.code = code, .sent = sent});
}

static const char *sent_header(int i, const char *name)
{
    return i < W.nsent ? cr_header_get(W.sent[i].headers, name) : NULL;
}

static stored *store_entry(const char *key)
{
    for (int i = 0; i < W.nstore; i++)
        if (strcmp(W.store[i].key, key) == 0)
            return &W.store[i];
    if (W.nstore == 16) {
        fprintf(stderr, "  the test's token store is full\n");
        exit(2);
    }
    stored *e = &W.store[W.nstore++];
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

static void store_put(const char *key, const char *token, int64_t expires_at)
{
    stored *e = store_entry(key);
    free(e->token);
    e->token = token ? strdup(token) : NULL;
    e->expires_at = expires_at;
}

static void drive(cr_machine *m);

static void answer_send(cr_machine *m, const cr_http_request *req);

/* Records the request (and what a pacer would be told of it), then answers it from the script. */
static void on_send(cr_machine *m, const cr_http_request *req)
{
    int i = W.nsent;
    const char *quota = cr_machine_quota(m);
    answer_send(m, req);
    if (i < W.nsent) {
        W.sent[i].quota = quota;
        W.sent[i].server_wait = cr_machine_server_wait(m);
        W.sent[i].again = cr_machine_server_wait(m);
    }
}

static void answer_send(cr_machine *m, const cr_http_request *req)
{
    if (W.nsent < MAX_LOG) {
        sent_request *s = &W.sent[W.nsent++];
        snprintf(s->method, sizeof s->method, "%s", req->method);
        s->url = strdup(req->url);
        for (const cr_header *h = req->headers; h; h = h->next)
            cr_header_add(&s->headers, h->name, h->value);
        s->body = req->body ? strndup(req->body, req->body_len) : NULL;
        s->timeout_ms = req->timeout_ms;
        s->idempotent = req->idempotent;
    }
    if (W.next >= W.nscript) {
        fprintf(stderr, "  an unexpected SEND: %s %s\n", req->method, req->url);
        check_failures_in_case++;
        cr_error e = CR_ERROR_INIT;
        cr_error_set(&e, "UNAVAILABLE", 0, "the test's script has no answer left");
        cr_machine_fail(m, &e);
        return;
    }
    reply *r = &W.script[W.next++];
    fake.elapsed += r->took;
    if (r->code) {
        /* as the libcurl driver says it, less the URL: the machines must name it */
        cr_error e = CR_ERROR_INIT;
        cr_error_set(&e, r->code, 0, "%s",
                     strcmp(r->code, "DEADLINE_EXCEEDED") == 0 ? "Timeout was reached"
                     : r->sent                                 ? "Connection reset by peer"
                                                               : "Couldn't connect to server");
        e.sent = r->sent;
        cr_machine_fail(m, &e);
        return;
    }
    cr_http_response resp;
    memset(&resp, 0, sizeof resp);
    resp.status = r->status;
    for (const char *line = r->headers; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)n, line);
        char *colon = strchr(buf, ':');
        if (colon) {
            *colon = '\0';
            cr_header_add(&resp.headers, buf, colon + 1 + strspn(colon + 1, " "));
        }
        line = end ? end + 1 : line + n;
    }
    if (r->body) {
        resp.body = strdup(r->body);
        resp.body_len = strlen(r->body);
    }
    cr_machine_respond(m, &resp);
    cr_http_response_clear(&resp); /* zeroed by respond: nothing left to free */
}

/* TOKEN as cr_step documents it, fetching through the same scripted driver. */
static void on_token(cr_machine *m, const cr_step *s)
{
    if (W.nasks < MAX_LOG) {
        token_ask *a = &W.asks[W.nasks++];
        snprintf(a->key, sizeof a->key, "%s", s->key);
        a->fresh = s->fresh;
        a->stale = s->stale ? strdup(s->stale) : NULL;
        a->refused = s->refused;
        a->within = s->within;
    }
    stored *e = store_entry(s->key);
    if (!s->fresh) {
        cr_machine_give_token(m, e->token, e->expires_at);
        return;
    }
    if (s->stale && e->token && strcmp(e->token, s->stale) == 0) {
        free(e->token);
        e->token = NULL;
        e->expires_at = 0;
        if (s->refused)
            cr_credentials_refused(s->credentials);
    }
    if (e->token) {
        cr_machine_give_token(m, e->token, e->expires_at);
        return;
    }
    cr_error err = CR_ERROR_INIT;
    long timeout_ms = s->within > 0 && s->within < 30 ? (long)(s->within * 1000.0) + 1 : 0;
    cr_machine *f = cr_credentials_fetch(s->credentials, timeout_ms, &err);
    char *token = NULL;
    int64_t expires_at = 0;
    if (f) {
        drive(f);
        cr_machine_take_token(f, &token, &expires_at, &err);
        cr_machine_free(f);
    }
    if (token) {
        e->token = strdup(token);
        e->expires_at = expires_at;
        cr_machine_give_token(m, token, expires_at);
        cr_secret_free(token);
    } else {
        cr_machine_fail(m, &err);
    }
    cr_error_clear(&err);
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Asking twice without a feed must give the same step (cloudrun.h). */
static void step_twice(cr_machine *m, cr_step *s)
{
    cr_step again;
    cr_machine_step(m, s);
    cr_machine_step(m, &again);
    if (again.kind != s->kind || again.seconds != s->seconds || again.fresh != s->fresh ||
        again.refused != s->refused || !same_text(again.key, s->key) || !same_text(again.stale, s->stale) ||
        !same_text(again.request ? again.request->url : NULL, s->request ? s->request->url : NULL)) {
        fprintf(stderr, "  a step asked for twice was not the same step (kind %d, then %d)\n", (int)s->kind,
                (int)again.kind);
        check_failures_in_case++;
    }
}

/* Runs a machine to DONE on the fake clock. */
static void drive(cr_machine *m)
{
    m->clock = fake_clock;
    for (int i = 0; i < 200; i++) {
        cr_step s;
        step_twice(m, &s);
        switch (s.kind) {
        case CR_STEP_SEND:
            on_send(m, s.request);
            break;
        case CR_STEP_WAIT:
            if (W.nwaits < MAX_LOG)
                W.waits[W.nwaits++] = s.seconds;
            fake.elapsed += s.seconds;
            cr_machine_waited(m);
            break;
        case CR_STEP_TOKEN:
            on_token(m, &s);
            break;
        case CR_STEP_DONE:
            return;
        }
    }
    fprintf(stderr, "  the machine did not finish in 200 steps\n");
    check_failures_in_case++;
}

/* drive(), then every scripted answer must have been asked for. */
static void run_at(cr_machine *m, int line)
{
    drive(m);
    if (W.next < W.nscript) {
        fprintf(stderr, "  %s:%d: %d scripted answer(s) were never asked for\n", __FILE__, line, W.nscript - W.next);
        check_failures_in_case++;
    }
}

static int no_machine(const cr_error *err, int line)
{
    fprintf(stderr, "  %s:%d: no machine: %s\n", __FILE__, line, err->message ? err->message : err->code);
    check_failures_in_case++;
    return -1;
}

/* An API call machine run to its end: its JSON, or NULL with err set. */
static cJSON *call_at(cr_machine *m, cr_error *err, int line)
{
    if (!m) {
        no_machine(err, line);
        return NULL;
    }
    run_at(m, line);
    cJSON *out = cr_machine_take_json(m, err);
    cr_machine_free(m);
    return out;
}

/* A token machine run to its end: 0 with *token (cr_secret_free), or -1 with err set. */
static int token_at(cr_machine *m, char **token, int64_t *expires_at, cr_error *err, int line)
{
    *token = NULL;
    if (!m)
        return no_machine(err, line);
    run_at(m, line);
    int rc = cr_machine_take_token(m, token, expires_at, err);
    cr_machine_free(m);
    return rc;
}

/* A fetch of creds: NULL machine (an error before any step) is -1 with err set. */
static int fetch_at(cr_credentials *creds, char **token, int64_t *expires_at, cr_error *err, int line)
{
    *token = NULL;
    cr_machine *m = cr_credentials_fetch(creds, 0, err);
    if (!m)
        return -1;
    return token_at(m, token, expires_at, err, line);
}

#define CALL(m, err) call_at((m), (err), __LINE__)
#define TOKEN_OF(m, token, exp, err) token_at((m), (token), (exp), (err), __LINE__)
#define FETCH(creds, token, exp, err) fetch_at((creds), (token), (exp), (err), __LINE__)

#define CHECK_NEAR(got, want)                                                                                          \
    do {                                                                                                               \
        double g_ = (got), w_ = (want);                                                                                \
        if (g_ - w_ > 1e-9 || w_ - g_ > 1e-9) {                                                                        \
            fprintf(stderr, "  %s:%d: %s == %.9g, expected %.9g\n", __FILE__, __LINE__, #got, g_, w_);                 \
            check_failures_in_case++;                                                                                  \
        }                                                                                                              \
    } while (0)

/* Every token this file hands out starts with "ya29.", every refresh token
** with "1//", every client secret with "client-secret-", every subject token
** with "subject-token-"; a signed JWT starts with "eyJ". None may show in a
** message, nor may a fragment of the private key. */
#define CHECK_NO_SECRET(msg)                                                                                           \
    do {                                                                                                               \
        CHECK(msg != NULL);                                                                                            \
        CHECK_NOT_CONTAINS(msg, "ya29.");                                                                              \
        CHECK_NOT_CONTAINS(msg, "1//");                                                                                \
        CHECK_NOT_CONTAINS(msg, "client-secret-");                                                                     \
        CHECK_NOT_CONTAINS(msg, "subject-token-");                                                                     \
        CHECK_NOT_CONTAINS(msg, "eyJ");                                                                                \
        CHECK_NOT_CONTAINS(msg, kit_key_fragment(0));                                                                  \
    } while (0)

/* ---- clients, requests and answers ------------------------------------------------ */

#define JOB_URL "http://api.test/v2/projects/p/locations/r/jobs/J"
#define RUN_URL "http://api.test/v2/projects/p/locations/r/jobs/J:run"
#define RUN_BODY "{\"overrides\":{\"containerOverrides\":[{\"args\":[\"--n=1\"]}]}}"
#define JOB_JSON "{\"name\":\"projects/p/locations/r/jobs/J\"}"
#define RUN_OPERATION                                                                                                  \
    "{\"name\":\"projects/p/locations/r/operations/op1\",\"metadata\":{\"@type\":\"type.googleapis.com/"               \
    "google.cloud.run.v2.Execution\",\"name\":\"projects/p/locations/r/jobs/J/executions/J-abcde\"}}"
#define FLAVOR "Metadata-Flavor: Google"
#define TOKEN_URI "http://oauth.test/token"
#define STS_URL "https://sts.test/v1/token"
#define IAM_URL(email) "https://iam.test/v1/projects/-/serviceAccounts/" email ":generateAccessToken"
#define JWT_GRANT "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="

static cr_client *client_for(cr_credentials *creds, double timeout)
{
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.project = "p";
    o.region = "r";
    o.timeout = timeout;
    o.credentials = creds;
    o.anonymous = creds == NULL;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    if (!c)
        fprintf(stderr, "  cr_client_new: %s\n", err.message);
    cr_error_clear(&err);
    return c;
}

/* A read (GetJob J) or a change (RunJob J with one argument). */
static cr_machine *start(cr_client *c, int change, const cr_retry *retry)
{
    static const char *const args[] = {"--n=1"};
    cr_run_job_options run = {0};
    run.args = args;
    run.nargs = 1;
    run.has_args = 1;
    cr_request r = {0};
    r.method = change ? CR_RUN_JOB : CR_GET_JOB;
    r.name = "J";
    r.run = change ? &run : NULL;
    cr_call_options o = {0};
    o.retry = retry;
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_client_start(c, &r, &o, &err);
    if (!m)
        fprintf(stderr, "  cr_client_start: %s\n", err.message);
    cr_error_clear(&err);
    return m;
}

/* A google.rpc.Status error body for an HTTP status (static storage). */
static const char *status_body(long status, const char *message)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "{\"error\":{\"code\":%ld,\"message\":\"%s\",\"status\":\"%s\"}}", status, message,
             cr_code_for_http_status((int)status));
    return buf;
}

/* A credential source that hands out ya29.count-1, ya29.count-2, ..., each
** living `counting_lifetime` seconds on the fake clock, and counts refusals. */
static int counting_fetches, counting_refusals, counting_lifetime;

static cr_machine *counting_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "ya29.count-%d", ++counting_fetches);
    return cr_machine_ready_token(buf, fake_unix_time(NULL) + counting_lifetime);
}

static void counting_refused(void *data)
{
    counting_refusals++;
}

static void no_destroy(void *data)
{
}

static const cr_credentials_source counting_source = {
    .type = "counting",
    .fetch = counting_fetch,
    .destroy = no_destroy,
    .refused = counting_refused,
};

static cr_credentials *counting_credentials(void)
{
    counting_fetches = counting_refusals = 0;
    counting_lifetime = 3600;
    cr_credentials_desc d = {0};
    d.source = &counting_source;
    d.origin = "counting test source";
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_intern(&d, &err);
    cr_error_clear(&err);
    return c;
}

static cr_credentials *from_json(const char *json, const cr_credentials_options *opts)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_json_opts(json, strlen(json), "test JSON", opts, &err);
    if (!c)
        fprintf(stderr, "  credentials: %s\n", err.message);
    cr_error_clear(&err);
    return c;
}

/* A service account with key 0, the token_uri above and this email. */
static cr_credentials *service_account(const char *email, const cr_credentials_options *opts)
{
    char *pem = kit_private_pem(kit_key(0));
    char *json = kit_sa_json(email, pem, "kid-1", TOKEN_URI, "sa-project");
    cr_credentials *c = from_json(json, opts);
    free(json);
    free(pem);
    return c;
}

static cr_credentials *metadata_credentials(const char *host)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(host, &err);
    cr_error_clear(&err);
    return c;
}

/* Part `which` (0 header, 1 claims) of a JWT, decoded (caller frees); NULL when not one. */
static cJSON *jwt_part(const char *jwt, int which)
{
    const char *a = jwt, *dot = NULL;
    for (int i = 0; i <= which; i++) {
        dot = strchr(a, '.');
        if (!dot)
            return NULL;
        if (i < which)
            a = dot + 1;
    }
    size_t n = 0;
    unsigned char *text = cr_base64url_decode(a, (size_t)(dot - a), &n);
    cJSON *out = text ? cr_json_parse((const char *)text, n, NULL) : NULL;
    free(text);
    return out;
}

/* Whether s is three non-empty base64url parts joined by dots. */
static int is_jwt(const char *s)
{
    int parts = 1, len = 0;
    for (; s && *s; s++) {
        if (*s == '.') {
            if (len == 0)
                return 0;
            parts++;
            len = 0;
        } else if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *s)) {
            len++;
        } else {
            return 0;
        }
    }
    return s && parts == 3 && len > 0;
}

static const char *claim(const cJSON *claims, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- 1. the retry table -------------------------------------------------------------- */

static const cr_retry three_tries = {.attempts = 3, .initial = 1, .max = 30, .multiplier = 2, .deadline = 120};

/* One row: what the first attempt meets, and whether a read and a change try again. */
static const struct retry_row {
    const char *what;
    long status;      /* an HTTP answer, or 0 for ... */
    const char *code; /* ... a transport failure */
    int sent;
    int read_retried, change_retried;
} retry_table[] = {
    {"429", 429, NULL, 0, 1, 1},
    {"500", 500, NULL, 0, 1, 0},
    {"502", 502, NULL, 0, 1, 0},
    {"503", 503, NULL, 0, 1, 0},
    {"504", 504, NULL, 0, 1, 0},
    {"no connection", 0, "UNAVAILABLE", 0, 1, 1},
    {"a connect timeout", 0, "DEADLINE_EXCEEDED", 0, 1, 1},
    {"a reset after sending", 0, "UNAVAILABLE", 1, 1, 0},
    {"a timeout after sending", 0, "DEADLINE_EXCEEDED", 1, 1, 0},
    {"404", 404, NULL, 0, 0, 0},
    {"400", 400, NULL, 0, 0, 0},
    {"403", 403, NULL, 0, 0, 0},
};

static void first_attempt_meets(const struct retry_row *row)
{
    if (row->code)
        fail_send(row->code, row->sent);
    else
        answer(row->status, NULL, status_body(row->status, "the server says no"));
}

TEST(the_retry_table_row_by_row_for_a_read_and_for_a_change)
{
    cr_client *c = client_for(NULL, 30);
    for (size_t i = 0; i < sizeof retry_table / sizeof retry_table[0]; i++) {
        const struct retry_row *row = &retry_table[i];
        for (int change = 0; change <= 1; change++) {
            int before = check_failures_in_case;
            int retried = change ? row->change_retried : row->read_retried;
            begin();
            first_attempt_meets(row);
            if (retried)
                answer(200, NULL, change ? RUN_OPERATION : JOB_JSON);
            cr_error err = CR_ERROR_INIT;
            cJSON *out = CALL(start(c, change, &three_tries), &err);
            CHECK_INT(W.nsent, retried ? 2 : 1);
            CHECK_INT(W.nwaits, retried ? 1 : 0);
            for (int k = 0; k < W.nsent; k++) {
                CHECK_STR(W.sent[k].method, change ? "POST" : "GET");
                CHECK_STR(W.sent[k].url, change ? RUN_URL : JOB_URL);
                CHECK_INT(W.sent[k].idempotent, !change);
                if (change)
                    CHECK_STR(W.sent[k].body, RUN_BODY); /* the same bytes again */
                else
                    CHECK(W.sent[k].body == NULL);
            }
            if (retried) {
                CHECK(out != NULL);
                CHECK_NEAR(W.waits[0], 0.5); /* jitter 0.5 of the first ceiling, 1 s */
            } else {
                CHECK(out == NULL);
                CHECK_STR(err.code, row->code ? row->code : cr_code_for_http_status((int)row->status));
                CHECK_INT(err.status, row->status);
                CHECK_NOT_CONTAINS(err.message, "attempts)");
                if (row->code)
                    CHECK_INT(err.sent, row->sent);
                else if (change && row->status == 403) /* a RunJob with overrides refused: hints.c's hint */
                    CHECK(strncmp(err.message, "the server says no. Hint: ", 26) == 0);
                else
                    CHECK_STR(err.message, "the server says no");
            }
            if (check_failures_in_case != before)
                fprintf(stderr, "  ^ the row: %s, for a %s\n", row->what, change ? "change (RunJob)" : "read (GetJob)");
            cJSON_Delete(out);
            cr_error_clear(&err);
        }
    }
    cr_client_free(c);
}

TEST(a_call_that_keeps_failing_is_tried_the_policys_number_of_attempts)
{
    cr_client *c = client_for(NULL, 30);
    for (size_t i = 0; i < sizeof retry_table / sizeof retry_table[0]; i++) {
        const struct retry_row *row = &retry_table[i];
        for (int change = 0; change <= 1; change++) {
            if (!(change ? row->change_retried : row->read_retried))
                continue;
            int before = check_failures_in_case;
            begin();
            for (int k = 0; k < three_tries.attempts; k++)
                first_attempt_meets(row);
            cr_error err = CR_ERROR_INIT;
            CHECK(CALL(start(c, change, &three_tries), &err) == NULL);
            CHECK_INT(W.nsent, 3);
            CHECK_INT(W.nwaits, 2);
            CHECK_NEAR(W.waits[0], 0.5);
            CHECK_NEAR(W.waits[1], 1.0);
            CHECK_STR(err.code, row->code ? row->code : cr_code_for_http_status((int)row->status));
            CHECK_CONTAINS(err.message, " (after 3 attempts)");
            if (check_failures_in_case != before)
                fprintf(stderr, "  ^ the row: %s, for a %s\n", row->what, change ? "change (RunJob)" : "read (GetJob)");
            cr_error_clear(&err);
        }
    }

    /* attempts = 1: no retry at all, and no suffix */
    cr_retry once = three_tries;
    once.attempts = 1;
    begin();
    answer(503, NULL, status_body(503, "Service unavailable."));
    cr_error err = CR_ERROR_INIT;
    CHECK(CALL(start(c, 0, &once), &err) == NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_INT(W.nwaits, 0);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_STR(err.message, "Service unavailable.");
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(a_429_is_retried_after_the_seconds_of_its_retry_after_header)
{
    cr_client *c = client_for(NULL, 30);
    for (int change = 0; change <= 1; change++) {
        begin();
        answer(429, "Retry-After: 7", status_body(429, "Quota exceeded."));
        answer(200, NULL, change ? RUN_OPERATION : JOB_JSON);
        cr_error err = CR_ERROR_INIT;
        cJSON *out = CALL(start(c, change, &three_tries), &err);
        CHECK(out != NULL);
        CHECK_INT(W.nsent, 2);
        CHECK_INT(W.nwaits, 1);
        CHECK_NEAR(W.waits[0], 7.0);
        if (change)
            CHECK_STR(cJSON_GetObjectItem(out, "execution")->valuestring,
                      "projects/p/locations/r/jobs/J/executions/J-abcde");
        cJSON_Delete(out);
        cr_error_clear(&err);
    }
    /* a Retry-After shorter than the backoff does not shorten it */
    begin();
    answer(429, "Retry-After: 0", status_body(429, "Quota exceeded."));
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_NEAR(W.waits[0], 0.5);
    cJSON_Delete(out);
    cr_client_free(c);
}

TEST(a_429_is_retried_after_the_retry_delay_of_its_retry_info_detail)
{
    static const char body[] =
        "{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{"
        "\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"3.500s\"}]}}";
    cr_client *c = client_for(NULL, 30);
    for (int change = 0; change <= 1; change++) {
        begin();
        answer(429, NULL, body);
        answer(200, NULL, change ? RUN_OPERATION : JOB_JSON);
        cr_error err = CR_ERROR_INIT;
        cJSON *out = CALL(start(c, change, &three_tries), &err);
        CHECK(out != NULL);
        CHECK_INT(W.nsent, 2);
        CHECK_INT(W.nwaits, 1);
        CHECK_NEAR(W.waits[0], 3.5);
        cJSON_Delete(out);
        cr_error_clear(&err);
    }
    /* both: the longer one */
    begin();
    answer(429, "Retry-After: 2", body);
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_NEAR(W.waits[0], 3.5);
    cJSON_Delete(out);
    cr_client_free(c);
}

/* What a driver's pacer is asked about: every send of a Cloud Run call by
** the quota Cloud Run counts it against, nothing else (a token fetch, another
** API's call). */
TEST(each_send_says_which_of_cloud_runs_request_quotas_it_counts_against)
{
    cr_client *c = client_for(NULL, 30);
    cr_error err = CR_ERROR_INIT;
    begin();
    answer(200, NULL, JOB_JSON);
    cJSON_Delete(CALL(start(c, 0, NULL), &err));
    answer(200, NULL, RUN_OPERATION);
    cJSON_Delete(CALL(start(c, 1, NULL), &err));
    cr_request del = {.method = CR_DELETE_JOB, .name = "J"};
    answer(200, NULL, "{\"name\":\"projects/p/locations/r/operations/o\"}");
    cJSON_Delete(CALL(cr_client_start(c, &del, NULL, &err), &err));
    cr_request list = {.method = CR_LIST_EXECUTIONS, .name = "J"};
    answer(200, NULL, "{}");
    cJSON_Delete(CALL(cr_client_start(c, &list, NULL, &err), &err));
    cr_request read_post = {
        .method = CR_CALL, .http_method = "POST", .path = "projects/p/locations/r/jobs/J:x", .read = 1};
    answer(200, NULL, "{}");
    cJSON_Delete(CALL(cr_client_start(c, &read_post, NULL, &err), &err));
    cr_request other_api = {.method = CR_CALL, .http_method = "GET", .path = "entries", .base = "http://logs.test"};
    answer(200, NULL, "{}");
    cJSON_Delete(CALL(cr_client_start(c, &other_api, NULL, &err), &err));
    CHECK_INT(W.nsent, 6);
    CHECK_STR(W.sent[0].quota, "read");
    CHECK_STR(W.sent[1].quota, "run");
    CHECK_STR(W.sent[2].quota, "write");
    CHECK_STR(W.sent[3].quota, "read");
    CHECK_STR(W.sent[4].quota, "read");
    CHECK(W.sent[5].quota == NULL);
    cr_client_free(c);

    /* a service account's token fetch, a sub-machine's send, counts against none */
    cr_credentials *sa = service_account("quota@p.iam.gserviceaccount.com", NULL);
    c = client_for(sa, 30);
    begin();
    answer(200, NULL, "{\"access_token\":\"ya29.quota\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, JOB_JSON);
    cJSON_Delete(CALL(start(c, 0, NULL), &err));
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK(W.sent[0].quota == NULL);
    CHECK_STR(W.sent[1].quota, "read");
    cr_error_clear(&err);
    cr_client_free(c);
    cr_credentials_unref(sa);
}

/* A 429's pause (Retry-After or RetryInfo, the longer) is handed to the
** driver once, for the pacer to hold the client's other calls too; other
** failures ask for none, whatever their headers. */
TEST(a_429s_pause_is_handed_to_the_driver_once)
{
    static const char info[] =
        "{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{"
        "\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"3.500s\"}]}}";
    cr_client *c = client_for(NULL, 30);
    cr_error err = CR_ERROR_INIT;
    begin();
    answer(429, "Retry-After: 7", status_body(429, "Quota exceeded."));
    answer(429, "Retry-After: 2", info);
    answer(503, "Retry-After: 9", status_body(503, "Service unavailable."));
    answer(200, NULL, JOB_JSON);
    cr_retry four = three_tries;
    four.attempts = 4;
    cJSON *out = CALL(start(c, 0, &four), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 4);
    CHECK_NEAR(W.sent[0].server_wait, 7.0);
    CHECK_NEAR(W.sent[1].server_wait, 3.5);
    CHECK_NEAR(W.sent[2].server_wait, 0);
    CHECK_NEAR(W.sent[3].server_wait, 0);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(W.sent[i].again, 0);
    /* the call itself waits them out as before */
    CHECK_INT(W.nwaits, 3);
    CHECK_NEAR(W.waits[0], 7.0);
    CHECK_NEAR(W.waits[1], 3.5);
    cJSON_Delete(out);
    /* a change refused for its quota asks the same */
    begin();
    answer(429, "Retry-After: 5", status_body(429, "Quota exceeded."));
    answer(200, NULL, RUN_OPERATION);
    out = CALL(start(c, 1, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_STR(W.sent[0].quota, "run");
    CHECK_NEAR(W.sent[0].server_wait, 5.0);
    cJSON_Delete(out);
    cr_error_clear(&err);
    cr_client_free(c);
}

/* The HTTP-date form of Retry-After is a time, not a span: the wait is that
** time less the machine's clock, like every other wait on that clock. */
TEST(a_retry_after_http_date_is_counted_on_the_machines_clock)
{
    cr_client *c = client_for(NULL, 30);
    begin();
    /* T0 + 8 s */
    answer(429, "Retry-After: Wed, 18 May 2033 03:33:28 GMT", status_body(429, "Quota exceeded."));
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 2);
    CHECK_INT(W.nwaits, 1);
    CHECK_NEAR(W.waits[0], 8.0);
    cJSON_Delete(out);
    cr_error_clear(&err);
    cr_client_free(c);
}

/* ---- 2. backoff and the deadline ---------------------------------------------------------- */

TEST(backoff_is_the_jitter_times_a_ceiling_growing_by_the_multiplier_up_to_the_max)
{
    const cr_retry policy = {.attempts = 6, .initial = 1, .max = 10, .multiplier = 3, .deadline = 1000};
    /* ceilings 1, 3, 9, then 27 and 81 capped at 10 */
    static const double ceilings[] = {1, 3, 9, 10, 10};
    static const double jitters[] = {0.5, 0.25, 0.9};
    cr_client *c = client_for(NULL, 30);
    for (size_t j = 0; j < 3; j++) {
        begin();
        fake.jitter = jitters[j];
        for (int k = 0; k < 6; k++)
            answer(503, NULL, status_body(503, "Service unavailable."));
        cr_error err = CR_ERROR_INIT;
        CHECK(CALL(start(c, 0, &policy), &err) == NULL);
        CHECK_INT(W.nsent, 6);
        CHECK_INT(W.nwaits, 5);
        for (int k = 0; k < 5; k++)
            CHECK_NEAR(W.waits[k], jitters[j] * ceilings[k]);
        CHECK_STR(err.message, "Service unavailable. (after 6 attempts)");
        cr_error_clear(&err);
    }
    cr_client_free(c);
}

TEST(a_wait_that_would_outlast_the_deadline_ends_the_call_instead)
{
    const cr_retry policy = {.attempts = 10, .initial = 1, .max = 30, .multiplier = 2, .deadline = 2};
    cr_client *c = client_for(NULL, 30);
    begin();
    for (int k = 0; k < 3; k++)
        answer(503, NULL, status_body(503, "Service unavailable."));
    cr_error err = CR_ERROR_INIT;
    CHECK(CALL(start(c, 0, &policy), &err) == NULL);
    /* waits 0.5 and 1 (1.5 s in all); the next, 2 s, would end past 2 s */
    CHECK_INT(W.nsent, 3);
    CHECK_INT(W.nwaits, 2);
    CHECK_NEAR(W.waits[0], 0.5);
    CHECK_NEAR(W.waits[1], 1.0);
    CHECK(fake.elapsed <= policy.deadline);
    CHECK_STR(err.message, "Service unavailable. (after 3 attempts)");
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(a_retry_after_longer_than_the_deadline_left_ends_the_call_with_the_error)
{
    const cr_retry policy = {.attempts = 5, .deadline = 10};
    cr_client *c = client_for(NULL, 30);
    for (int change = 0; change <= 1; change++) {
        begin();
        answer(429, "Retry-After: 30", status_body(429, "Quota exceeded."));
        cr_error err = CR_ERROR_INIT;
        CHECK(CALL(start(c, change, &policy), &err) == NULL);
        CHECK_INT(W.nsent, 1);
        CHECK_INT(W.nwaits, 0);
        CHECK_STR(err.code, "RESOURCE_EXHAUSTED");
        CHECK_INT(err.status, 429);
        CHECK_STR(err.message, "Quota exceeded.");
        cr_error_clear(&err);
    }
    /* 9 s fit into 10 s ... */
    begin();
    answer(429, "Retry-After: 9", status_body(429, "Quota exceeded."));
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &policy), &err);
    CHECK(out != NULL);
    CHECK_NEAR(W.waits[0], 9.0);
    cJSON_Delete(out);
    /* ... but not into the 8 s left after a 2 s exchange */
    begin();
    answer_after(2, 429, "Retry-After: 9", status_body(429, "Quota exceeded."));
    CHECK(CALL(start(c, 0, &policy), &err) == NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_INT(W.nwaits, 0);
    CHECK_STR(err.code, "RESOURCE_EXHAUSTED");
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(each_exchange_may_take_at_most_the_deadline_left)
{
    const cr_retry policy = {.attempts = 5, .initial = 1, .multiplier = 2, .deadline = 40};
    cr_client *c = client_for(NULL, 30);
    begin();
    answer_after(25, 503, NULL, status_body(503, "Service unavailable."));
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &policy), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 2);
    CHECK_INT(W.sent[0].timeout_ms, 30000); /* the client's 30 s fit into the 40 s */
    /* 40 - 25 - 0.5 = 14.5 s left, rounded up to the next millisecond */
    CHECK(W.sent[1].timeout_ms >= 14500 && W.sent[1].timeout_ms <= 14501);
    cJSON_Delete(out);

    /* a per-call timeout is shrunk the same way */
    begin();
    const cr_retry short_deadline = {.attempts = 1, .deadline = 5};
    answer(200, NULL, JOB_JSON);
    out = CALL(start(c, 0, &short_deadline), &err);
    CHECK(out != NULL);
    CHECK(W.sent[0].timeout_ms >= 5000 && W.sent[0].timeout_ms <= 5001);
    cJSON_Delete(out);
    cr_client_free(c);
}

/* ---- 3. the 401 refresh ------------------------------------------------------------------ */

TEST(a_401_to_a_fetched_token_fetches_one_fresh_token_and_sends_the_attempt_again)
{
    begin();
    cr_credentials *creds = counting_credentials();
    cr_client *c = client_for(creds, 30);
    const char *key = cr_credentials_key(creds);
    answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);

    /* none stored, so a fresh one; then after the 401 a fresh one instead of the refused one */
    CHECK_INT(W.nasks, 3);
    CHECK_STR(W.asks[0].key, key);
    CHECK_INT(W.asks[0].fresh, 0);
    CHECK_NEAR(W.asks[0].within, 30); /* the client's timeout for one exchange (the deadline has 120 s left) */
    CHECK_INT(W.asks[1].fresh, 1);
    CHECK(W.asks[1].stale == NULL);
    CHECK_INT(W.asks[1].refused, 0);
    CHECK_INT(W.asks[2].fresh, 1);
    CHECK_STR(W.asks[2].stale, "ya29.count-1");
    CHECK_INT(W.asks[2].refused, 1);
    CHECK_INT(counting_fetches, 2);
    CHECK_INT(counting_refusals, 1);

    /* the same attempt, sent again at once with the new bearer */
    CHECK_INT(W.nsent, 2);
    CHECK_INT(W.nwaits, 0);
    CHECK_STR(sent_header(0, "Authorization"), "Bearer ya29.count-1");
    CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.count-2");
    CHECK_STR(W.sent[1].url, JOB_URL);
    CHECK_STR(W.store[0].token, "ya29.count-2");
    cJSON_Delete(out);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(a_second_401_after_the_refresh_is_the_final_error)
{
    begin();
    cr_credentials *creds = counting_credentials();
    cr_client *c = client_for(creds, 30);
    for (int change = 0; change <= 1; change++) {
        begin();
        counting_fetches = 0;
        answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
        answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
        cr_error err = CR_ERROR_INIT;
        CHECK(CALL(start(c, change, &three_tries), &err) == NULL);
        CHECK_INT(W.nsent, 2);
        CHECK_INT(W.nwaits, 0);
        CHECK_INT(W.nasks, 3);
        CHECK_INT(counting_fetches, 2);
        CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.count-2");
        CHECK_STR(err.code, "UNAUTHENTICATED");
        CHECK_INT(err.status, 401);
        CHECK_STR(err.message, "Request had invalid authentication credentials.");
        CHECK_NO_SECRET(err.message);
        cr_error_clear(&err);
    }
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(the_resend_after_a_401_is_part_of_the_same_attempt)
{
    begin();
    cr_credentials *creds = counting_credentials();
    cr_client *c = client_for(creds, 30);
    answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
    for (int k = 0; k < 3; k++)
        answer(503, NULL, status_body(503, "Service unavailable."));
    cr_error err = CR_ERROR_INIT;
    CHECK(CALL(start(c, 0, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 4);
    CHECK_INT(W.nwaits, 2);
    CHECK_INT(counting_fetches, 2);
    for (int k = 1; k < 4; k++)
        CHECK_STR(sent_header(k, "Authorization"), "Bearer ya29.count-2");
    CHECK_STR(err.message, "Service unavailable. (after 3 attempts)");
    cr_error_clear(&err);

    /* each attempt may refresh once: a 401 after a wait refreshes again */
    begin();
    counting_fetches = 0;
    answer(503, NULL, status_body(503, "Service unavailable."));
    answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
    answer(200, NULL, JOB_JSON);
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 3);
    CHECK_INT(W.nwaits, 1);
    CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.count-1");
    CHECK_STR(sent_header(2, "Authorization"), "Bearer ya29.count-2");
    cJSON_Delete(out);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(a_401_to_a_fixed_access_token_is_the_servers_error_without_a_refresh)
{
    begin();
    cr_error err = CR_ERROR_INIT;
    cr_credentials *creds = cr_credentials_from_access_token("ya29.fixed-token", T0 + 3600, &err);
    CHECK(creds != NULL);
    cr_client *c = client_for(creds, 30);
    answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
    CHECK(CALL(start(c, 0, &three_tries), &err) == NULL);
    CHECK_INT(W.nasks, 0); /* the token is the credential: no store, no fetch */
    CHECK_INT(W.nsent, 1);
    CHECK_STR(sent_header(0, "Authorization"), "Bearer ya29.fixed-token");
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_INT(err.status, 401);
    CHECK_STR(err.message, "Request had invalid authentication credentials.");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

/* ---- 4. token freshness ----------------------------------------------------------------- */

TEST(a_stored_token_is_used_until_225_seconds_before_it_expires)
{
    static const struct {
        int64_t left; /* seconds the stored token has left */
        int used;
    } rows[] = {{3600, 1}, {226, 1}, {225, 0}, {224, 0}, {0, 0}, {-60, 0}};
    cr_credentials *creds = counting_credentials();
    const char *key = cr_credentials_key(creds);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int before = check_failures_in_case;
        begin();
        counting_fetches = 0;
        fake.elapsed = 100;
        store_put(key, "ya29.stored", T0 + 100 + rows[i].left);
        cr_error err = CR_ERROR_INIT;
        char *token = NULL;
        int64_t exp = 0;
        CHECK_INT(TOKEN_OF(cr_credentials_token_machine(creds, &err), &token, &exp, &err), 0);
        if (rows[i].used) {
            CHECK_STR(token, "ya29.stored");
            CHECK_INT(exp, T0 + 100 + rows[i].left);
            CHECK_INT(W.nasks, 1);
            CHECK_INT(counting_fetches, 0);
        } else {
            CHECK_STR(token, "ya29.count-1");
            CHECK_INT(exp, T0 + 100 + 3600);
            CHECK_INT(W.nasks, 2);
            CHECK_INT(W.asks[1].fresh, 1);
            CHECK_STR(W.asks[1].stale, "ya29.stored");
            CHECK_INT(W.asks[1].refused, 0);
            CHECK_INT(counting_fetches, 1);
        }
        CHECK_INT(W.asks[0].fresh, 0);
        CHECK_INT(W.nsent, 0);
        if (check_failures_in_case != before)
            fprintf(stderr, "  ^ a stored token with %lld s left\n", (long long)rows[i].left);
        cr_secret_free(token);
        cr_error_clear(&err);
    }
    cr_credentials_unref(creds);
}

TEST(a_token_fetched_after_a_fresh_request_is_used_even_if_short_lived)
{
    begin();
    cr_credentials *creds = counting_credentials();
    counting_lifetime = 60; /* well inside the margin */
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    CHECK_INT(TOKEN_OF(cr_credentials_token_machine(creds, &err), &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.count-1");
    CHECK_INT(exp, T0 + 60);
    CHECK_INT(W.nasks, 2);
    CHECK_INT(W.asks[0].fresh, 0);
    CHECK_INT(W.asks[1].fresh, 1);
    CHECK(W.asks[1].stale == NULL);
    cr_secret_free(token);

    /* stored, it is not fresh for the next machine: that one fetches again */
    CHECK_INT(TOKEN_OF(cr_credentials_token_machine(creds, &err), &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.count-2");
    CHECK_INT(W.nasks, 4);
    CHECK_STR(W.asks[3].stale, "ya29.count-1");
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

/* ---- 5. each credential type ---------------------------------------------------------------- */

TEST(a_service_account_exchanges_a_signed_jwt_at_its_token_uri)
{
    begin();
    cr_credentials *creds = service_account("sa-exchange@p.iam.gserviceaccount.com", NULL);
    CHECK(creds != NULL);
    fake.elapsed = 10;
    answer(200, NULL, "{\"access_token\":\"ya29.sa-1\",\"expires_in\":3599,\"token_type\":\"Bearer\"}");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    CHECK_INT(FETCH(creds, &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.sa-1");
    CHECK_INT(exp, T0 + 10 + 3599);

    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].method, "POST");
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_STR(sent_header(0, "Content-Type"), "application/x-www-form-urlencoded");
    CHECK(sent_header(0, "Authorization") == NULL);
    CHECK_INT(W.sent[0].timeout_ms, 30000);
    const char *body = W.sent[0].body;
    CHECK(body && strncmp(body, JWT_GRANT, strlen(JWT_GRANT)) == 0);
    const char *assertion = body ? body + strlen(JWT_GRANT) : NULL;
    CHECK(is_jwt(assertion));
    cJSON *header = jwt_part(assertion, 0), *claims = jwt_part(assertion, 1);
    CHECK_STR(claim(header, "alg"), "RS256");
    CHECK_STR(claim(header, "kid"), "kid-1");
    CHECK_STR(claim(claims, "iss"), "sa-exchange@p.iam.gserviceaccount.com");
    CHECK_STR(claim(claims, "aud"), TOKEN_URI);
    CHECK_STR(claim(claims, "scope"), "https://www.googleapis.com/auth/cloud-platform");
    cJSON_Delete(header);
    cJSON_Delete(claims);
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

TEST(a_service_account_exchange_failure_says_what_the_endpoint_answered)
{
    cr_credentials *creds = service_account("sa-failures@p.iam.gserviceaccount.com", NULL);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;

    begin();
    answer(400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_INT(err.status, 400);
    CHECK_STR(err.message, "token endpoint " TOKEN_URI " answered 400: invalid_grant: Invalid JWT Signature.");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    begin();
    answer(503, NULL, "upstream connect error");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_INT(err.status, 503);
    CHECK_CONTAINS(err.message, "token endpoint " TOKEN_URI " answered 503");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    begin();
    answer(200, NULL, "<html>ya29.not-json</html>");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "INTERNAL");
    CHECK_CONTAINS(err.message, TOKEN_URI);
    CHECK_CONTAINS(err.message, "not a token response");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    begin();
    fail_send("UNAVAILABLE", 0);
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_INT(err.sent, 0);
    CHECK_CONTAINS(err.message, TOKEN_URI);
    CHECK_CONTAINS(err.message, "Couldn't connect to server");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    CHECK(token == NULL);
    cr_credentials_unref(creds);
}

TEST(a_self_signed_jwt_needs_no_send_until_the_api_refuses_one)
{
    begin();
    cr_credentials_options opts = {0};
    opts.self_signed_jwt = 1;
    cr_credentials *creds = service_account("self-signed@p.iam.gserviceaccount.com", &opts);
    CHECK(creds != NULL);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_INT(W.nsent, 0);
    CHECK(is_jwt(token));
    cJSON *claims = token ? jwt_part(token, 1) : NULL;
    CHECK_STR(claim(claims, "aud"), "https://run.googleapis.com/");
    CHECK_STR(claim(claims, "iss"), "self-signed@p.iam.gserviceaccount.com");
    CHECK_STR(claim(claims, "sub"), "self-signed@p.iam.gserviceaccount.com");
    cJSON_Delete(claims);
    cr_secret_free(token);

    /* refused once: the exchange from now on */
    cr_credentials_refused(creds);
    for (int i = 1; i <= 2; i++) {
        begin();
        answer(200, NULL, "{\"access_token\":\"ya29.exchanged\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
        CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
        CHECK_STR(token, "ya29.exchanged");
        CHECK_INT(W.nsent, 1);
        CHECK_STR(W.sent[0].url, TOKEN_URI);
        CHECK(W.sent[0].body && strncmp(W.sent[0].body, JWT_GRANT, strlen(JWT_GRANT)) == 0);
        cr_secret_free(token);
    }
    cr_credentials_unref(creds);
}

TEST(an_api_call_falls_back_from_a_refused_self_signed_jwt_to_the_exchange)
{
    begin();
    cr_credentials_options opts = {0};
    opts.self_signed_jwt = 1;
    cr_credentials *creds = service_account("self-signed-api@p.iam.gserviceaccount.com", &opts);
    cr_client *c = client_for(creds, 30);
    answer(401, NULL, status_body(401, "Request had invalid authentication credentials."));
    answer(200, NULL, "{\"access_token\":\"ya29.exchanged\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, JOB_JSON);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 3);
    const char *first = sent_header(0, "Authorization");
    CHECK(first && strncmp(first, "Bearer ", 7) == 0 && is_jwt(first + 7));
    CHECK_STR(W.sent[1].url, TOKEN_URI);
    CHECK_STR(W.sent[2].url, JOB_URL);
    CHECK_STR(sent_header(2, "Authorization"), "Bearer ya29.exchanged");
    CHECK_INT(W.nasks, 3);
    CHECK_INT(W.asks[2].refused, 1);
    CHECK_STR(W.asks[2].stale, first ? first + 7 : NULL);
    cJSON_Delete(out);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(an_api_call_with_a_service_account_fetches_the_token_before_sending)
{
    begin();
    cr_credentials *creds = service_account("sa-api@p.iam.gserviceaccount.com", NULL);
    cr_client *c = client_for(creds, 30);
    answer(200, NULL, "{\"access_token\":\"ya29.sa-api\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, RUN_OPERATION);
    cr_error err = CR_ERROR_INIT;
    cJSON *out = CALL(start(c, 1, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_STR(W.sent[1].url, RUN_URL);
    CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.sa-api");
    CHECK_STR(sent_header(1, "Content-Type"), "application/json");
    CHECK_STR(W.sent[1].body, RUN_BODY);
    cJSON_Delete(out);

    /* the next call uses the stored token: no fetch */
    begin();
    store_put(cr_credentials_key(creds), "ya29.sa-api", T0 + 3600);
    answer(200, NULL, JOB_JSON);
    out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_INT(W.nasks, 1);
    CHECK_STR(sent_header(0, "Authorization"), "Bearer ya29.sa-api");
    cJSON_Delete(out);

    /* a token that cannot be had is the call's error, and nothing goes to the API */
    begin();
    answer(400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
    CHECK(CALL(start(c, 1, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_CONTAINS(err.message, "token endpoint " TOKEN_URI " answered 400: invalid_grant");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(an_authorized_user_refreshes_and_keeps_a_rotated_refresh_token)
{
    begin();
    char *json = kit_user_json("user-rotation.apps.googleusercontent.com", "client-secret-XYZ", "1//refresh-one",
                               TOKEN_URI, NULL);
    cr_credentials *creds = from_json(json, NULL);
    free(json);
    CHECK(creds != NULL);
    answer(200, NULL,
           "{\"access_token\":\"ya29.user-1\",\"expires_in\":3600,\"token_type\":\"Bearer\","
           "\"refresh_token\":\"1//refresh-two\"}");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    CHECK_INT(FETCH(creds, &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.user-1");
    CHECK_INT(exp, T0 + 3600);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].method, "POST");
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_STR(sent_header(0, "Content-Type"), "application/x-www-form-urlencoded");
    CHECK_STR(W.sent[0].body, "grant_type=refresh_token&client_id=user-rotation.apps.googleusercontent.com"
                              "&client_secret=client-secret-XYZ&refresh_token=1%2F%2Frefresh-one");
    cr_secret_free(token);

    /* the next refresh uses the rotated one */
    begin();
    answer(400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}");
    CHECK_INT(FETCH(creds, &token, &exp, &err), -1);
    CHECK_STR(W.sent[0].body, "grant_type=refresh_token&client_id=user-rotation.apps.googleusercontent.com"
                              "&client_secret=client-secret-XYZ&refresh_token=1%2F%2Frefresh-two");
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_STR(err.message,
              "token endpoint " TOKEN_URI " answered 400: invalid_grant: Token has been expired or revoked.");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(creds);
}

TEST(the_metadata_server_gives_a_token_then_once_the_accounts_email)
{
    begin();
    cr_credentials *creds = metadata_credentials("md-token.test");
    CHECK(creds != NULL);
    CHECK(cr_credentials_account(creds) == NULL);
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-1\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    answer(200, FLAVOR, "md-sa@p.iam.gserviceaccount.com\n");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.md-1");
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[0].method, "GET");
    CHECK_STR(W.sent[0].url, "http://md-token.test/computeMetadata/v1/instance/service-accounts/default/token");
    CHECK_STR(sent_header(0, "Metadata-Flavor"), "Google");
    CHECK(W.sent[0].body == NULL);
    CHECK_STR(W.sent[1].method, "GET");
    CHECK_STR(W.sent[1].url, "http://md-token.test/computeMetadata/v1/instance/service-accounts/default/email");
    CHECK_STR(sent_header(1, "Metadata-Flavor"), "Google");
    CHECK_STR(cr_credentials_account(creds), "md-sa@p.iam.gserviceaccount.com");
    cr_secret_free(token);

    /* known now: the next fetch asks for the token only */
    begin();
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-2\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.md-2");
    CHECK_INT(W.nsent, 1);
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

TEST(an_answer_without_metadata_flavor_is_not_a_metadata_server)
{
    begin();
    cr_credentials *creds = metadata_credentials("md-flavorless.test");
    answer(200, NULL, "{\"access_token\":\"ya29.from-an-impostor\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK(token == NULL);
    CHECK_INT(W.nsent, 1); /* and no email asked for */
    CHECK_STR(err.code, "FAILED_PRECONDITION");
    CHECK_CONTAINS(err.message, "http://md-flavorless.test/computeMetadata/v1/instance/service-accounts/default/token");
    CHECK_CONTAINS(err.message, "Metadata-Flavor: Google");
    CHECK_NO_SECRET(err.message);
    CHECK(cr_credentials_account(creds) == NULL);
    cr_error_clear(&err);

    /* another flavor is no better */
    begin();
    answer(200, "Metadata-Flavor: Amazon", "{\"access_token\":\"ya29.x\",\"expires_in\":3000}");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "FAILED_PRECONDITION");
    cr_error_clear(&err);
    cr_credentials_unref(creds);
}

TEST(a_metadata_email_that_cannot_be_had_does_not_fail_the_token)
{
    begin();
    cr_credentials *creds = metadata_credentials("md-no-email.test");
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-1\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    fail_send("DEADLINE_EXCEEDED", 1);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.md-1");
    CHECK_INT(W.nsent, 2);
    CHECK(cr_credentials_account(creds) == NULL);
    cr_secret_free(token);

    /* the next fetch asks again */
    begin();
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-2\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    answer(200, FLAVOR, "late@p.iam.gserviceaccount.com");
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[1].url, "http://md-no-email.test/computeMetadata/v1/instance/service-accounts/default/email");
    CHECK_STR(cr_credentials_account(creds), "late@p.iam.gserviceaccount.com");
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

/* An impersonated_service_account whose source is an authorized_user. */
#define IMP_TARGET "imp-target@p.iam.gserviceaccount.com"

static char *imp_source_json(const char *client_id)
{
    return kit_user_json(client_id, "client-secret-IMP", "1//refresh-imp", TOKEN_URI, NULL);
}

static cr_credentials *impersonated(const char *client_id, cr_credentials **source)
{
    char *src = imp_source_json(client_id);
    char *json =
        kit_imp_json(src, IAM_URL(IMP_TARGET), "[\"projects/-/serviceAccounts/d1@p.iam.gserviceaccount.com\"]", NULL);
    cr_credentials *c = from_json(json, NULL);
    *source = from_json(src, NULL); /* the registry: the same object as the one inside */
    free(json);
    free(src);
    return c;
}

#define IAM_BODY                                                                                                       \
    "{\"delegates\":[\"projects/-/serviceAccounts/d1@p.iam.gserviceaccount.com\"],\"scope\":[\"https://"               \
    "www.googleapis.com/auth/cloud-platform\"],\"lifetime\":\"3600s\"}"
#define IAM_ANSWER "{\"accessToken\":\"ya29.imp-1\",\"expireTime\":\"2033-05-18T04:33:20Z\"}"

TEST(impersonation_trades_the_source_token_at_iam)
{
    begin();
    cr_credentials *source = NULL;
    cr_credentials *creds = impersonated("imp-plain.apps.googleusercontent.com", &source);
    CHECK(creds != NULL && source != NULL);
    CHECK_STR(cr_credentials_account(creds), IMP_TARGET);
    answer(200, NULL, "{\"access_token\":\"ya29.src-1\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, IAM_ANSWER);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    CHECK_INT(FETCH(creds, &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.imp-1");
    CHECK_INT(exp, T0 + 3600);

    /* the source's token comes from the store (none there: a fetch of the source) */
    CHECK_INT(W.nasks, 2);
    CHECK_STR(W.asks[0].key, cr_credentials_key(source));
    CHECK_INT(W.asks[0].fresh, 0);
    CHECK_STR(W.asks[1].key, cr_credentials_key(source));
    CHECK_INT(W.asks[1].fresh, 1);
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_CONTAINS(W.sent[0].body, "grant_type=refresh_token");
    CHECK_STR(W.sent[1].method, "POST");
    CHECK_STR(W.sent[1].url, IAM_URL(IMP_TARGET));
    CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.src-1");
    CHECK_STR(sent_header(1, "Content-Type"), "application/json");
    CHECK_STR(W.sent[1].body, IAM_BODY);
    cr_secret_free(token);

    /* with the source's token stored, only IAM is asked */
    begin();
    store_put(cr_credentials_key(source), "ya29.src-stored", T0 + 3600);
    answer(200, NULL, IAM_ANSWER);
    CHECK_INT(FETCH(creds, &token, &exp, &err), 0);
    CHECK_INT(W.nasks, 1);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(sent_header(0, "Authorization"), "Bearer ya29.src-stored");
    cr_secret_free(token);
    cr_credentials_unref(creds);
    cr_credentials_unref(source);
}

TEST(impersonation_retries_once_with_a_fresh_source_token_after_a_401_from_iam)
{
    static const char iam_401[] = "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication "
                                  "credentials.\",\"status\":\"UNAUTHENTICATED\"}}";
    begin();
    cr_credentials *source = NULL;
    cr_credentials *creds = impersonated("imp-401.apps.googleusercontent.com", &source);
    store_put(cr_credentials_key(source), "ya29.src-revoked", T0 + 3600);
    answer(401, NULL, iam_401);
    answer(200, NULL, "{\"access_token\":\"ya29.src-2\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, IAM_ANSWER);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.imp-1");
    CHECK_INT(W.nasks, 2);
    CHECK_INT(W.asks[1].fresh, 1);
    CHECK_STR(W.asks[1].stale, "ya29.src-revoked");
    CHECK_INT(W.asks[1].refused, 1);
    CHECK_INT(W.nsent, 3);
    CHECK_STR(W.sent[0].url, IAM_URL(IMP_TARGET));
    CHECK_STR(sent_header(0, "Authorization"), "Bearer ya29.src-revoked");
    CHECK_STR(W.sent[1].url, TOKEN_URI);
    CHECK_STR(W.sent[2].url, IAM_URL(IMP_TARGET));
    CHECK_STR(sent_header(2, "Authorization"), "Bearer ya29.src-2");
    cr_secret_free(token);

    /* a second 401 is the error */
    begin();
    store_put(cr_credentials_key(source), "ya29.src-revoked", T0 + 3600);
    answer(401, NULL, iam_401);
    answer(200, NULL, "{\"access_token\":\"ya29.src-3\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(401, NULL, iam_401);
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_INT(W.nsent, 3);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_INT(err.status, 401);
    CHECK_CONTAINS(err.message, IAM_URL(IMP_TARGET));
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(creds);
    cr_credentials_unref(source);
}

TEST(impersonation_refused_by_iam_is_permission_denied_naming_the_url)
{
    begin();
    cr_credentials *source = NULL;
    cr_credentials *creds = impersonated("imp-403.apps.googleusercontent.com", &source);
    store_put(cr_credentials_key(source), "ya29.src-ok", T0 + 3600);
    answer(403, NULL,
           "{\"error\":{\"code\":403,\"message\":\"Permission 'iam.serviceAccounts.getAccessToken' denied on "
           "resource (or it may not exist).\",\"status\":\"PERMISSION_DENIED\"}}");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(err.code, "PERMISSION_DENIED");
    CHECK_INT(err.status, 403);
    CHECK_STR(err.message,
              "IAM Credentials " IAM_URL(
                  IMP_TARGET) " answered 403: Permission "
                              "'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    /* the source's failure is named as the source's */
    begin();
    answer(400, NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"Bad Request\"}");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].url, TOKEN_URI);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_CONTAINS(err.message, "source_credentials");
    CHECK_CONTAINS(err.message, "invalid_grant");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(creds);
    cr_credentials_unref(source);
}

#define STS_FORM_HEAD                                                                                                  \
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&audience=%2F%2Fiam.googleapis.com%"          \
    "2Fprojects%2F123456%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fpool%2Fproviders%2Fprov&scope=https%3A%2F%"    \
    "2Fwww.googleapis.com%2Fauth%2Fcloud-platform&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%"      \
    "3Aaccess_token&subject_token="
#define STS_FORM_TAIL "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
#define STS_ANSWER                                                                                                     \
    "{\"access_token\":\"ya29.sts-1\",\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\","        \
    "\"token_type\":\"Bearer\",\"expires_in\":3600}"

/* An external_account reading its subject token from tmpdir/name. */
static cr_credentials *external_from_file(const char *name, const char *content, const char *impersonation_url)
{
    char *path = kit_write(name, content);
    char source[512];
    snprintf(source, sizeof source, "{\"file\":\"%s\"}", path);
    char *json = kit_ext_json(KIT_AUDIENCE, STS_URL, source, impersonation_url, NULL);
    cr_credentials *c = from_json(json, NULL);
    free(json);
    free(path);
    return c;
}

TEST(an_external_account_trades_its_subject_token_file_at_sts)
{
    begin();
    cr_credentials *creds = external_from_file("subject-plain.txt", "subject-token-from-file\n", NULL);
    CHECK(creds != NULL);
    answer(200, NULL, STS_ANSWER);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.sts-1");
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].method, "POST");
    CHECK_STR(W.sent[0].url, STS_URL);
    CHECK_STR(sent_header(0, "Content-Type"), "application/x-www-form-urlencoded");
    CHECK(sent_header(0, "Authorization") == NULL);
    CHECK_STR(W.sent[0].body, STS_FORM_HEAD "subject-token-from-file" STS_FORM_TAIL);
    cr_secret_free(token);

    /* the file is read afresh on every fetch */
    begin();
    free(kit_write("subject-plain.txt", "subject-token-rotated"));
    answer(200, NULL, STS_ANSWER);
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(W.sent[0].body, STS_FORM_HEAD "subject-token-rotated" STS_FORM_TAIL);
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

TEST(an_external_account_with_impersonation_trades_the_sts_token_at_iam)
{
    begin();
    cr_credentials *creds =
        external_from_file("subject-imp.txt", "subject-token-for-iam", IAM_URL("wif@p.iam.gserviceaccount.com"));
    CHECK(creds != NULL);
    CHECK_STR(cr_credentials_account(creds), "wif@p.iam.gserviceaccount.com");
    answer(200, NULL, STS_ANSWER);
    answer(200, NULL, "{\"accessToken\":\"ya29.wif-1\",\"expireTime\":\"2033-05-18T04:33:20Z\"}");
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    CHECK_INT(FETCH(creds, &token, &exp, &err), 0);
    CHECK_STR(token, "ya29.wif-1");
    CHECK_INT(exp, T0 + 3600);
    CHECK_INT(W.nsent, 2);
    CHECK_STR(W.sent[0].url, STS_URL);
    CHECK_STR(W.sent[0].body, STS_FORM_HEAD "subject-token-for-iam" STS_FORM_TAIL);
    CHECK_STR(W.sent[1].method, "POST");
    CHECK_STR(W.sent[1].url, IAM_URL("wif@p.iam.gserviceaccount.com"));
    CHECK_STR(sent_header(1, "Authorization"), "Bearer ya29.sts-1");
    CHECK_STR(
        W.sent[1].body,
        "{\"delegates\":[],\"scope\":[\"https://www.googleapis.com/auth/cloud-platform\"],\"lifetime\":\"3600s\"}");
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

TEST(an_external_account_failure_never_quotes_the_subject_token)
{
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;

    begin();
    cr_credentials *creds = external_from_file("subject-fail.txt", "subject-token-refused", NULL);
    answer(400, NULL,
           "{\"error\":\"invalid_grant\",\"error_description\":\"The audience in ID Token does not match the expected "
           "audience.\"}");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_INT(err.status, 400);
    CHECK_STR(err.message, "STS endpoint " STS_URL
                           " answered 400: invalid_grant: The audience in ID Token does not match the expected "
                           "audience.");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    /* the file gone: no SEND, the file and the field named */
    begin();
    char *path = kit_write("subject-fail.txt", "");
    remove(path);
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_INT(W.nsent, 0);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, "credential_source");
    cr_error_clear(&err);
    free(path);
    cr_credentials_unref(creds);

    /* a URL source that answers with an error echoing the token */
    begin();
    char *json = kit_ext_json(KIT_AUDIENCE, STS_URL,
                              "{\"url\":\"https://idp.test/token\",\"headers\":{\"X-Ask\":\"1\"}}", NULL, NULL);
    creds = from_json(json, NULL);
    free(json);
    answer(500, NULL, "subject-token-echoed ya29.echoed");
    CHECK_INT(FETCH(creds, &token, NULL, &err), -1);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].method, "GET");
    CHECK_STR(W.sent[0].url, "https://idp.test/token");
    CHECK_STR(sent_header(0, "X-Ask"), "1");
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_CONTAINS(err.message, "https://idp.test/token");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);

    /* ... and when it answers, its token goes to STS */
    begin();
    answer(200, NULL, "subject-token-from-url\n");
    answer(200, NULL, STS_ANSWER);
    CHECK_INT(FETCH(creds, &token, NULL, &err), 0);
    CHECK_STR(token, "ya29.sts-1");
    CHECK_STR(W.sent[1].body, STS_FORM_HEAD "subject-token-from-url" STS_FORM_TAIL);
    cr_secret_free(token);
    cr_credentials_unref(creds);
}

/* ---- 6. secrets ------------------------------------------------------------------------------ */

TEST(no_failure_message_carries_a_key_a_secret_or_a_token)
{
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;

    /* answers that carry a token, but not as a usable token response */
    static const char *const bad_token_answers[] = {
        "{\"access_token\":\"ya29.has a space\",\"expires_in\":3600}",
        "{\"access_token\":\"ya29.wrong-type\",\"token_type\":\"MAC\",\"expires_in\":3600}",
        "{\"access_token\":\"ya29.bad-expiry\",\"expires_in\":\"soon\"}",
        "[\"ya29.in-a-list\"]",
        "ya29.plain-text",
    };
    cr_credentials *sa = service_account("sa-secrets@p.iam.gserviceaccount.com", NULL);
    for (size_t i = 0; i < sizeof bad_token_answers / sizeof bad_token_answers[0]; i++) {
        begin();
        answer(200, NULL, bad_token_answers[i]);
        CHECK_INT(FETCH(sa, &token, NULL, &err), -1);
        CHECK_STR(err.code, "INTERNAL");
        CHECK_CONTAINS(err.message, TOKEN_URI);
        CHECK_NO_SECRET(err.message);
        cr_error_clear(&err);
    }
    begin();
    fail_send("DEADLINE_EXCEEDED", 1);
    CHECK_INT(FETCH(sa, &token, NULL, &err), -1);
    CHECK_STR(err.code, "DEADLINE_EXCEEDED");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(sa);

    /* an authorized_user whose endpoint fails every way */
    char *json =
        kit_user_json("user-secrets.apps.googleusercontent.com", "client-secret-S", "1//refresh-s", TOKEN_URI, NULL);
    cr_credentials *user = from_json(json, NULL);
    free(json);
    static const long statuses[] = {401, 403, 500};
    for (size_t i = 0; i < 3; i++) {
        begin();
        answer(statuses[i], NULL, "{\"error\":\"unauthorized_client\"}");
        CHECK_INT(FETCH(user, &token, NULL, &err), -1);
        CHECK_INT(err.status, statuses[i]);
        CHECK_NO_SECRET(err.message);
        cr_error_clear(&err);
    }
    begin();
    fail_send("UNAVAILABLE", 1);
    CHECK_INT(FETCH(user, &token, NULL, &err), -1);
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(user);

    /* IAM answering 200 with something that is not a token */
    cr_credentials *source = NULL;
    cr_credentials *imp = impersonated("imp-secrets.apps.googleusercontent.com", &source);
    begin();
    store_put(cr_credentials_key(source), "ya29.src-secret", T0 + 3600);
    answer(200, NULL, "{\"accessToken\":\"ya29.imp-no-expiry\"}");
    CHECK_INT(FETCH(imp, &token, NULL, &err), -1);
    CHECK_STR(err.code, "INTERNAL");
    CHECK_CONTAINS(err.message, "expireTime");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(imp);
    cr_credentials_unref(source);

    /* the metadata server answering 404 */
    cr_credentials *md = metadata_credentials("md-secrets.test");
    begin();
    answer(404, FLAVOR, "ya29.not-found");
    CHECK_INT(FETCH(md, &token, NULL, &err), -1);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_CONTAINS(err.message, "no service account");
    CHECK_NO_SECRET(err.message);
    cr_error_clear(&err);
    cr_credentials_unref(md);
    CHECK(token == NULL);
}

/* ---- 7. discovery ---------------------------------------------------------------------------- */

static void unset_discovery_variables(void)
{
    unsetenv("GOOGLE_CLOUD_PROJECT");
    unsetenv("CLOUDSDK_CORE_PROJECT");
    unsetenv("CLOUDSDK_RUN_REGION");
    unsetenv("CLOUD_RUN_EMULATOR_HOST");
}

TEST(an_anonymous_client_without_project_or_region_names_the_variables_without_sending)
{
    unset_discovery_variables();
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.anonymous = 1;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    CHECK(c != NULL);
    begin();
    CHECK(CALL(start(c, 0, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 0);
    CHECK_INT(W.nasks, 0);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "GOOGLE_CLOUD_PROJECT");
    CHECK_CONTAINS(err.message, "CLOUDSDK_CORE_PROJECT");
    cr_error_clear(&err);
    cr_client_free(c);

    /* a project but no region */
    o.project = "p";
    c = cr_client_new(&o, &err);
    begin();
    CHECK(CALL(start(c, 1, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 0);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "CLOUDSDK_RUN_REGION");
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(a_metadata_client_discovers_project_and_region_before_calling)
{
    unset_discovery_variables();
    setenv("GCE_METADATA_HOST", "md-discovery.test", 1);
    cr_credentials *creds = metadata_credentials(NULL);
    CHECK(creds != NULL);
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.credentials = creds;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    begin();
    answer(200, FLAVOR, "my-project\n");
    answer(200, FLAVOR, "projects/123456789/regions/europe-west1");
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-disc\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, FLAVOR, "disc@my-project.iam.gserviceaccount.com");
    answer(200, NULL, "{\"name\":\"projects/my-project/locations/europe-west1/jobs/J\"}");
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 5);
    CHECK_STR(W.sent[0].url, "http://md-discovery.test/computeMetadata/v1/project/project-id");
    CHECK_STR(sent_header(0, "Metadata-Flavor"), "Google");
    CHECK_STR(W.sent[1].url, "http://md-discovery.test/computeMetadata/v1/instance/region");
    CHECK_STR(sent_header(1, "Metadata-Flavor"), "Google");
    CHECK_STR(W.sent[2].url, "http://md-discovery.test/computeMetadata/v1/instance/service-accounts/default/token");
    CHECK_STR(W.sent[3].url, "http://md-discovery.test/computeMetadata/v1/instance/service-accounts/default/email");
    CHECK_STR(W.sent[4].method, "GET");
    CHECK_STR(W.sent[4].url, "http://api.test/v2/projects/my-project/locations/europe-west1/jobs/J");
    CHECK_STR(sent_header(4, "Authorization"), "Bearer ya29.md-disc");
    CHECK(sent_header(4, "Metadata-Flavor") == NULL);
    cJSON_Delete(out);

    /* found once, kept: the next call goes straight to the API */
    begin();
    store_put(cr_credentials_key(creds), "ya29.md-disc", T0 + 3600);
    answer(200, NULL, RUN_OPERATION);
    out = CALL(start(c, 1, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].url, "http://api.test/v2/projects/my-project/locations/europe-west1/jobs/J:run");
    cJSON_Delete(out);
    cr_client_free(c);
    cr_credentials_unref(creds);
    unsetenv("GCE_METADATA_HOST");
}

TEST(a_key_files_project_is_used_and_only_the_region_is_asked_for)
{
    unset_discovery_variables();
    setenv("GCE_METADATA_HOST", "md-region.test", 1);
    begin();
    cr_credentials *creds = service_account("sa-discovery@p.iam.gserviceaccount.com", NULL);
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.credentials = creds;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    answer(200, FLAVOR, "projects/123456789/regions/us-east4");
    answer(200, NULL, "{\"access_token\":\"ya29.sa-disc\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, NULL, JOB_JSON);
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 3);
    CHECK_STR(W.sent[0].url, "http://md-region.test/computeMetadata/v1/instance/region");
    CHECK_STR(W.sent[1].url, TOKEN_URI);
    CHECK_STR(W.sent[2].url, "http://api.test/v2/projects/sa-project/locations/us-east4/jobs/J");
    cJSON_Delete(out);
    cr_client_free(c);
    cr_credentials_unref(creds);
    unsetenv("GCE_METADATA_HOST");
}

/* Metadata credentials look their project up on their metadata server; when
** that is the environment's too, asking it again is the same question. */
TEST(a_metadata_server_that_does_not_know_the_project_is_asked_once)
{
    unset_discovery_variables();
    setenv("GCE_METADATA_HOST", "md-no-project.test", 1);
    begin();
    cr_credentials *creds = metadata_credentials(NULL);
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.region = "r";
    o.credentials = creds;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    answer(404, FLAVOR, "");
    CHECK(CALL(start(c, 0, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(W.sent[0].url, "http://md-no-project.test/computeMetadata/v1/project/project-id");
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "GOOGLE_CLOUD_PROJECT");
    cr_error_clear(&err);
    cr_client_free(c);
    cr_credentials_unref(creds);
    unsetenv("GCE_METADATA_HOST");
}

TEST(a_client_without_credentials_finds_them_by_adc_before_the_first_token)
{
    char config[128];
    snprintf(config, sizeof config, "%s/no-gcloud-config", kit_tmpdir());
    setenv("CLOUDSDK_CONFIG", config, 1); /* gcloud's file: not there */
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    setenv("GCE_METADATA_HOST", "md-adc.test", 1);
    cr_client_options o = {0};
    o.endpoint = "http://api.test";
    o.project = "p";
    o.region = "r";
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    begin();
    answer(200, FLAVOR, "computeMetadata/\n");
    answer(200, FLAVOR, "{\"access_token\":\"ya29.adc\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    answer(200, FLAVOR, "adc@p.iam.gserviceaccount.com");
    answer(200, NULL, JOB_JSON);
    cJSON *out = CALL(start(c, 0, &three_tries), &err);
    CHECK(out != NULL);
    CHECK_INT(W.nsent, 4);
    CHECK_STR(W.sent[0].url, "http://md-adc.test/computeMetadata/v1/");
    CHECK_STR(sent_header(0, "Metadata-Flavor"), "Google");
    CHECK_INT(W.sent[0].timeout_ms, 2000); /* a probe: quick */
    CHECK_STR(W.sent[1].url, "http://md-adc.test/computeMetadata/v1/instance/service-accounts/default/token");
    CHECK_STR(W.sent[3].url, JOB_URL);
    CHECK_STR(sent_header(3, "Authorization"), "Bearer ya29.adc");
    cJSON_Delete(out);
    cr_client_free(c);

    /* nothing anywhere: the error says where it looked, and nothing goes to the API */
    setenv("GCE_METADATA_HOST", "md-adc-none.test", 1);
    c = cr_client_new(&o, &err);
    begin();
    fail_send("UNAVAILABLE", 0);
    CHECK(CALL(start(c, 0, &three_tries), &err) == NULL);
    CHECK_INT(W.nsent, 1);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_CONTAINS(err.message, "GOOGLE_APPLICATION_CREDENTIALS");
    CHECK_CONTAINS(err.message, config);
    CHECK_CONTAINS(err.message, "http://md-adc-none.test/computeMetadata/v1/");
    cr_error_clear(&err);
    cr_client_free(c);
    unsetenv("GCE_METADATA_HOST");
    unsetenv("CLOUDSDK_CONFIG");
}

/* ---- the clock ------------------------------------------------------------------------------- */

/*
** A driver sets its clock on the machine it is handed, before the first
** step; sub-machines copy it when pushed. A token's expiry is counted from
** when it was asked for, on that clock — also when the constructor already
** pushed the sub-machine that asks.
*/
TEST(a_clock_set_before_the_first_step_reaches_the_sub_machines_its_constructor_pushed)
{
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;

    begin();
    cr_credentials *md = metadata_credentials("md-clock.test");
    answer(200, FLAVOR, "{\"access_token\":\"ya29.md-clock\",\"expires_in\":3000,\"token_type\":\"Bearer\"}");
    answer(200, FLAVOR, "clock@p.iam.gserviceaccount.com");
    CHECK_INT(FETCH(md, &token, &exp, &err), 0);
    CHECK_INT(exp, T0 + 3000); /* the metadata server's token GET */
    cr_secret_free(token);
    cr_credentials_unref(md);

    begin();
    cr_credentials *ext = external_from_file("subject-clock.txt", "subject-token-clock", NULL);
    answer(200, NULL, STS_ANSWER);
    CHECK_INT(FETCH(ext, &token, &exp, &err), 0);
    CHECK_INT(exp, T0 + 3600); /* the STS exchange of a file-sourced external account */
    cr_secret_free(token);
    cr_credentials_unref(ext);
}

/* The request the machine asks to send first for `r` (anonymous: no token step). */
static void first_send(const cr_request *r, char **url, char **body, char **method)
{
    cr_client *c = client_for(NULL, 10);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = c ? cr_client_start(c, r, NULL, &err) : NULL;
    *url = *body = *method = NULL;
    if (m) {
        cr_step s;
        cr_machine_step(m, &s);
        if (s.kind == CR_STEP_SEND) {
            *url = strdup(s.request->url);
            *body = s.request->body ? strdup(s.request->body) : NULL;
            *method = strdup(s.request->method);
        }
        cr_machine_free(m);
    } else {
        fprintf(stderr, "  cr_client_start: %s\n", err.message);
    }
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(write_options_go_where_the_rest_api_has_them)
{
    char *url, *body, *method;
    cJSON *spec = cJSON_Parse("{\"etag\":\"\\\"from-get\\\"\",\"labels\":{\"team\":\"data\"}}");
    cr_write_options w = {0};
    w.validate_only = 1;
    w.etag = "\"v7\"";
    w.allow_missing = 1;
    cr_request r = {0};
    /* UpdateJob: validateOnly and allowMissing in the query, the etag the Job's own field */
    r.method = CR_UPDATE_JOB;
    r.name = "j";
    r.spec = spec;
    r.write = &w;
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "PATCH");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j?validateOnly=true&allowMissing=true");
    cJSON *sent = body ? cJSON_Parse(body) : NULL;
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sent, "etag")), "\"v7\"");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sent, "name")), "projects/p/locations/r/jobs/j");
    cJSON_Delete(sent);
    free(url), free(body), free(method);
    /* without one, the spec's own etag (as a get gave it) is what goes */
    w.etag = NULL;
    first_send(&r, &url, &body, &method);
    CHECK(body && strstr(body, "\"etag\":\"\\\"from-get\\\"\"") != NULL);
    free(url), free(body), free(method);
    /* CreateJob: only validateOnly (its request has no etag or allowMissing) */
    w.etag = "\"v7\"";
    r.method = CR_CREATE_JOB;
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "POST");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs?jobId=j&validateOnly=true");
    free(url), free(body), free(method);
    /* DeleteJob: both in the query */
    r.method = CR_DELETE_JOB;
    r.spec = NULL;
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "DELETE");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j?validateOnly=true&etag=%22v7%22");
    free(url), free(body), free(method);
    cJSON_Delete(spec);
}

/* cr_client_start's refusal of r (before anything is sent): the error's message, or NULL when it started. */
static char *refused_start(const cr_request *r)
{
    cr_client *c = client_for(NULL, 10);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = c ? cr_client_start(c, r, NULL, &err) : NULL;
    char *why = m ? NULL : strdup(err.message ? err.message : err.code);
    cr_machine_free(m);
    cr_error_clear(&err);
    cr_client_free(c);
    return why;
}

TEST(iam_requests_go_where_the_rest_api_has_them)
{
    char *url, *body, *method;
    cr_iam_options iam = {0};
    cr_request r = {0};
    /* GetIamPolicy: a GET, its options message in the query; version 3 unless asked */
    r.method = CR_GET_IAM_POLICY;
    r.name = "j";
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "GET");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j:getIamPolicy?options.requestedPolicyVersion=3");
    CHECK(body == NULL);
    free(url), free(body), free(method);
    iam.requested_policy_version = 1;
    r.iam = &iam;
    first_send(&r, &url, &body, &method);
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j:getIamPolicy?options.requestedPolicyVersion=1");
    free(url), free(body), free(method);
    iam.requested_policy_version = 2;
    char *why = refused_start(&r);
    CHECK(why && strstr(why, "'requested_policy_version' must be 1 or 3 (got 2)"));
    free(why);

    /* SetIamPolicy: {"policy", "updateMask"}; an empty object where a list belongs goes as a list */
    cJSON *policy = cJSON_Parse("{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":{}}],\"etag\":\"ACAB\","
                                "\"auditConfigs\":{}}");
    iam = (cr_iam_options){0};
    iam.update_mask = "bindings,etag";
    r.method = CR_SET_IAM_POLICY;
    r.policy = policy;
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "POST");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j:setIamPolicy");
    CHECK_STR(body, "{\"policy\":{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[]}],\"etag\":\"ACAB\","
                    "\"auditConfigs\":[]},\"updateMask\":\"bindings,etag\"}");
    free(url), free(body), free(method);
    iam.update_mask = NULL; /* none: no updateMask at all */
    first_send(&r, &url, &body, &method);
    CHECK(body && !strstr(body, "updateMask"));
    free(url), free(body), free(method);
    iam.update_mask = "bindings, etag";
    why = refused_start(&r);
    CHECK(why && strstr(why, "update mask \"bindings, etag\" is not a FieldMask"));
    free(why);
    iam.update_mask = NULL;
    r.policy = NULL;
    why = refused_start(&r);
    CHECK(why && strstr(why, "the policy must be a JSON object"));
    free(why);
    cJSON_Delete(policy);

    /* TestIamPermissions: {"permissions": [...]}, retried as a read (a POST that changes nothing) */
    const char *perms[] = {"run.jobs.run", "run.jobs.runWithOverrides"};
    r = (cr_request){0};
    r.method = CR_TEST_IAM_PERMISSIONS;
    r.name = "projects/p/locations/r/jobs/j";
    r.permissions = perms;
    r.npermissions = 2;
    first_send(&r, &url, &body, &method);
    CHECK_STR(method, "POST");
    CHECK_STR(url, "http://api.test/v2/projects/p/locations/r/jobs/j:testIamPermissions");
    CHECK_STR(body, "{\"permissions\":[\"run.jobs.run\",\"run.jobs.runWithOverrides\"]}");
    free(url), free(body), free(method);
    CHECK_INT(cr_method_of(CR_TEST_IAM_PERMISSIONS)->read, 1);
    CHECK_INT(cr_method_of(CR_GET_IAM_POLICY)->read, 1);
    CHECK_INT(cr_method_of(CR_SET_IAM_POLICY)->read, 0); /* a change: never resent once sent */
    CHECK_STR(cr_method_find("set_iam_policy")->suffix, ":setIamPolicy");
}

int main(void)
{
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    unsetenv("GCE_METADATA_HOST");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    int rc = check_run();
    begin(); /* frees the last test's records */
    return rc;
}
