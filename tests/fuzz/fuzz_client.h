/*
** fuzz_client.h — what the client-side fuzz targets share: an input cut into
** server answers, a driver loop that feeds them to a machine (no network, no
** sleeping), and the check that no secret shows in an error.
*/
#ifndef CR_FUZZ_CLIENT_H
#define CR_FUZZ_CLIENT_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudrun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A server's answer cut from the input: "SSS" (the status, three digits),
** then header lines up to an empty line, then the body up to "\n--\n". */
typedef struct fz_input {
    const uint8_t *p, *end;
} fz_input;

static inline int fz_next(fz_input *in, cr_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    if (in->end - in->p < 3)
        return 0;
    long status = 0;
    for (int i = 0; i < 3; i++)
        status = status * 10 + (in->p[i] >= '0' && in->p[i] <= '9' ? in->p[i] - '0' : 0);
    resp->status = status;
    in->p += 3;
    const uint8_t *stop = memmem(in->p, (size_t)(in->end - in->p), "\n--\n", 4);
    const uint8_t *part_end = stop ? stop : in->end;
    const uint8_t *blank = memmem(in->p, (size_t)(part_end - in->p), "\n\n", 2);
    const uint8_t *body = blank ? blank + 2 : in->p;
    /* headers: Name: value lines */
    for (const uint8_t *line = in->p; blank && line < blank;) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(blank - line));
        const uint8_t *le = nl ? nl : blank;
        const uint8_t *colon = memchr(line, ':', (size_t)(le - line));
        if (colon && colon > line && le - line < 4096) {
            char name[4096], value[4096];
            memcpy(name, line, (size_t)(colon - line));
            name[colon - line] = 0;
            const uint8_t *v = colon + 1;
            while (v < le && *v == ' ')
                v++;
            memcpy(value, v, (size_t)(le - v));
            value[le - v] = 0;
            if (strlen(name) == (size_t)(colon - line))
                cr_header_add(&resp->headers, name, value);
        }
        line = le + 1;
    }
    size_t n = (size_t)(part_end - body);
    resp->body = malloc(n + 1);
    if (!resp->body)
        abort();
    memcpy(resp->body, body, n);
    resp->body[n] = 0;
    resp->body_len = n;
    in->p = stop ? stop + 4 : in->end;
    return 1;
}

/* Aborts (a finding) when `secret` shows in the error's message or details. */
static inline void fz_no_secret(const cr_error *err, const char *secret)
{
    if (!secret || strlen(secret) < 8)
        return;
    if (err->message && strstr(err->message, secret))
        abort();
    if (err->details) {
        char *d = cJSON_PrintUnformatted(err->details);
        int found = d && strstr(d, secret) != NULL;
        free(d);
        if (found)
            abort();
    }
}

/* The tokens a driver hands out: the stored one, and the one a fresh fetch gives. */
#define FZ_TOKEN "ya29.FUZZ-stored-token-0123456789abcdef"
#define FZ_FRESH_TOKEN "ya29.FUZZ-fresh-token-fedcba9876543210"

/* The secrets this input's machine put on the wire (a bearer token, the form
** fields of a grant): only those can a server quote back, so only those are
** looked for in the error. */
#define FZ_MAX_SENT 16
static struct {
    char *v[FZ_MAX_SENT];
    int n;
} fz_sent;

static inline void fz_sent_clear(void)
{
    for (int i = 0; i < fz_sent.n; i++)
        free(fz_sent.v[i]);
    fz_sent.n = 0;
}

static inline void fz_sent_add(const char *v, size_t len)
{
    if (len < 8 || fz_sent.n == FZ_MAX_SENT)
        return;
    char *copy = malloc(len + 1);
    if (!copy)
        abort();
    /* form values are percent-encoded on the wire; a server may quote either */
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '%' && i + 2 < len) {
            char hex[3] = {v[i + 1], v[i + 2], 0};
            copy[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            copy[o++] = v[i] == '+' ? ' ' : v[i];
        }
    }
    copy[o] = 0;
    fz_sent.v[fz_sent.n++] = copy;
}

/* Notes the secrets of a request: its bearer token, its grant's form fields. */
static inline void fz_note_request(const cr_http_request *r)
{
    const char *auth = cr_header_get(r->headers, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0)
        fz_sent_add(auth + 7, strlen(auth + 7));
    if (!r->body)
        return;
    static const char *const fields[] = {"assertion=", "refresh_token=", "client_secret=", "subject_token="};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *f = strstr(r->body, fields[i]);
        if (f && (f == r->body || f[-1] == '&')) {
            f += strlen(fields[i]);
            fz_sent_add(f, strcspn(f, "&"));
        }
    }
}

/* Aborts when a secret this input's machine sent shows in the error. */
static inline void fz_no_sent_secret(const cr_error *err)
{
    for (int i = 0; i < fz_sent.n; i++)
        fz_no_secret(err, fz_sent.v[i]);
}

/* Runs `m` to DONE (or `max_steps`), answering SENDs from the input (a
** connection failure once it runs out), WAITs at once, TOKENs with
** FZ_TOKEN (FZ_FRESH_TOKEN when a fresh one is asked for), noting what each
** request sent (fz_sent). Returns 1 when the machine finished. */
static inline int fz_drive(cr_machine *m, fz_input *in, int max_steps)
{
    fz_sent_clear();
    for (int i = 0; i < max_steps; i++) {
        cr_step s;
        cr_machine_step(m, &s);
        switch (s.kind) {
        case CR_STEP_SEND: {
            if (!s.request || !s.request->url)
                abort();
            fz_note_request(s.request);
            cr_http_response resp;
            if (fz_next(in, &resp)) {
                cr_machine_respond(m, &resp);
                cr_http_response_clear(&resp);
            } else {
                cr_error e = CR_ERROR_INIT;
                cr_error_set(&e, "UNAVAILABLE", 0, "fuzz: no more answers");
                e.sent = 0;
                cr_machine_fail(m, &e);
                cr_error_clear(&e);
            }
            break;
        }
        case CR_STEP_WAIT:
            if (!(s.seconds >= 0))
                abort(); /* a negative or NaN wait */
            cr_machine_waited(m);
            break;
        case CR_STEP_TOKEN:
            cr_machine_give_token(m, s.fresh ? FZ_FRESH_TOKEN : FZ_TOKEN, 0);
            break;
        case CR_STEP_DONE:
            return 1;
        default:
            abort();
        }
    }
    return 0;
}

#endif
