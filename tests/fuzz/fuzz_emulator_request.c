/*
** fuzz_emulator_request.c — libFuzzer target: the emulator's request
** handling as the server drives it (the front door's verdict from the
** headers, then the Cloud Run API or the /emulator/v1/ control API), on an
** in-memory store with no task processes, no log files and no sockets.
**
** An input is up to 16 requests separated by a line "%%":
**     METHOD URL                      (decoded by the server's own decoder, request.c)
**     Header: value                   (any number, up to a blank line)
**
**     body
** "{op}" and "{exec}" in a URL stand for the last operation and execution
** names answered, so that a sequence can follow what it made.
**
** Every answer must be strict JSON in UTF-8; an error must be Google-shaped
** ({"error": {"code": <the HTTP status>, "message", "status"}}) and never
** a 500. The decoded target must be whole (no NUL inside a path, key or value
** that is taken, no '/' that was not one in the URL), and the path's log form
** must hold no control character. Anything else aborts, as does any sanitizer
** finding.
*/
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "api.h"
#include "faults.h"
#include "json_strict.h"
#include "log_line.h"
#include "request.h"
#include "store.h"
#include "utf8.h"

#define MAX_REQUESTS 16
#define MAX_HEADERS 16

typedef struct request {
    char method[32];
    emu_target target; /* decoded as server.c decodes it */
    emu_error bad_target;
    const char *hdr_name[MAX_HEADERS], *hdr_value[MAX_HEADERS];
    int nheaders;
    const char *body;
    size_t body_len;
} request;

/* The oracles of a decoded target: whatever was taken is whole, and its log form is inert. */
static void check_target(const char *url, const emu_target *t, int ok)
{
    if (!t->path)
        abort(); /* out of memory aside, a path always comes back */
    size_t slashes_sent = 0, slashes = 0;
    for (const char *p = url; *p && *p != '?'; p++)
        slashes_sent += *p == '/';
    for (size_t i = 0; i < t->path_len; i++)
        slashes += t->path[i] == '/';
    if (ok && (strlen(t->path) != t->path_len || slashes != slashes_sent)) {
        fprintf(stderr, "a path taken with a NUL or an encoded '/': %s\n", url);
        abort();
    }
    for (size_t i = 0; ok && i < t->nquery; i++) {
        if (strlen(t->query[i].key) != t->query[i].key_len || strlen(t->query[i].value) != t->query[i].value_len) {
            fprintf(stderr, "a query parameter taken with a NUL: %s\n", url);
            abort();
        }
    }
    char *shown = emu_log_escape(t->path, t->path_len);
    for (const unsigned char *p = (const unsigned char *)shown; p && *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] < 0xA0)) {
            fprintf(stderr, "a control character in a log line: %s\n", url);
            abort();
        }
    }
    if (shown && !emu_utf8_valid(shown, strlen(shown)))
        abort();
    free(shown);
}

static const char *header_of(const request *rq, const char *name)
{
    for (int i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->hdr_name[i], name) == 0)
            return rq->hdr_value[i];
    return NULL;
}

/* Replaces "{op}" and "{exec}" in url (a new string the caller frees). */
static char *substitute(const char *url, const char *op, const char *exec)
{
    size_t cap = strlen(url) + 1 + 8 * (strlen(op) + strlen(exec));
    char *out = malloc(cap), *w = out;
    for (const char *r = url; *r && (size_t)(w - out) + 1 < cap;) {
        const char *with = NULL;
        size_t skip = 0;
        if (strncmp(r, "{op}", 4) == 0)
            with = op, skip = 4;
        else if (strncmp(r, "{exec}", 6) == 0)
            with = exec, skip = 6;
        if (with && (size_t)(w - out) + strlen(with) + 1 < cap) {
            w += sprintf(w, "%s", with);
            r += skip;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return out;
}

/* Parses one request from text (NUL-terminated, modified in place). 0, or -1 when it is no request. */
static int parse_request(char *text, size_t len, request *rq, const char *op, const char *exec)
{
    memset(rq, 0, sizeof *rq);
    char *nl = memchr(text, '\n', len);
    char *line_end = nl ? nl : text + len;
    *line_end = '\0';
    char *sp = strchr(text, ' ');
    if (!sp || sp == text || (size_t)(sp - text) >= sizeof rq->method)
        return -1;
    memcpy(rq->method, text, (size_t)(sp - text));
    char *url = substitute(sp + 1, op, exec);
    int ok = emu_target_decode(&rq->target, url, &rq->bad_target) == 0;
    check_target(url, &rq->target, ok);
    free(url);
    char *p = nl ? nl + 1 : text + len;
    char *end = text + len;
    while (p < end && *p != '\n' && rq->nheaders < MAX_HEADERS) { /* headers up to a blank line */
        char *e = memchr(p, '\n', (size_t)(end - p));
        char *stop = e ? e : end;
        *stop = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            rq->hdr_name[rq->nheaders] = p;
            rq->hdr_value[rq->nheaders++] = v;
        }
        p = e ? e + 1 : end;
    }
    if (p < end && *p == '\n')
        p++;
    rq->body = p < end ? p : NULL;
    rq->body_len = p < end ? (size_t)(end - p) : 0;
    return 0;
}

static void request_free(request *rq)
{
    emu_target_free(&rq->target);
}

/* The invariants of every answer. */
static void check_answer(int status, const char *body)
{
    if (!body)
        abort();
    const char *why = NULL;
    if (emu_json_check(body, strlen(body), &why) >= 0) {
        fprintf(stderr, "answer %d is not strict JSON (%s): %s\n", status, why, body);
        abort();
    }
    if (status == 200)
        return;
    /* no 500: without processes or files, nothing but a bug can make one (out of memory aside) */
    static const int known[] = {400, 403, 404, 405, 409, 412, 413, 429, 501, 503, 504, 0};
    int ok = 0;
    for (int i = 0; known[i]; i++)
        ok |= known[i] == status;
    cJSON *j = cJSON_Parse(body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    if (!ok || !cJSON_IsNumber(code) || code->valueint != status ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "status"))) {
        fprintf(stderr, "answer %d is not a Google-shaped error: %s\n", status, body);
        abort();
    }
    cJSON_Delete(j);
}

/* Remembers the names the next requests may refer to. */
static void remember(const char *body, char *op, char *exec, size_t size)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *mname = cJSON_GetObjectItemCaseSensitive(md, "name");
    if (cJSON_IsString(name) && strstr(name->valuestring, "/operations/"))
        snprintf(op, size, "%s", name->valuestring);
    if (cJSON_IsString(mname) && strstr(mname->valuestring, "/executions/"))
        snprintf(exec, size, "%s", mname->valuestring);
    if (cJSON_IsString(name) && strstr(name->valuestring, "/executions/") && !strstr(name->valuestring, "/tasks/"))
        snprintf(exec, size, "%s", name->valuestring);
    cJSON_Delete(j);
}

static void reset_store(void *ctx)
{
    emu_api_reset(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    emu_store s;
    emu_faults f;
    if (emu_store_init(&s, NULL) < 0 || emu_faults_init(&f) < 0)
        abort();
    s.quiet = 1;
    s.draining = 1; /* WaitOperation answers at once */
    static const char *const hosts[] = {"emulator.test"};
    static const char *const origins[] = {"http://localhost:3000"};
    emu_access access = {origins, 1, hosts, 1, "127.0.0.1", 8123};
    char op[1024] = "", exec[1024] = "";
    char *p = text;
    for (int n = 0; p && n < MAX_REQUESTS; n++) {
        char *sep = strstr(p, "\n%%\n");
        size_t len = sep ? (size_t)(sep - p) : strlen(p);
        if (sep)
            *sep = '\0';
        request rq;
        if (parse_request(p, len, &rq, op, exec) == 0) {
            emu_error refusal = {0};
            const char *length = header_of(&rq, "Content-Length");
            int has_body = rq.body_len > 0 || (length && strspn(length, "0") != strlen(length)) ||
                           header_of(&rq, "Transfer-Encoding");
            emu_verdict v = emu_access_check(&access, rq.method, header_of(&rq, "Host"), header_of(&rq, "Origin"),
                                             header_of(&rq, "Access-Control-Request-Method"),
                                             header_of(&rq, "Content-Type"), has_body, &refusal);
            char *body = NULL;
            int status = 200;
            const char *path = rq.target.path;
            if (v == EMU_REFUSE) {
                status = refusal.status;
                body = emu_error_body(&refusal);
            } else if (v == EMU_ALLOW && rq.bad_target.status) {
                if (rq.bad_target.status != 400)
                    abort();
                status = rq.bad_target.status;
                body = emu_error_body(&rq.bad_target);
            } else if (v == EMU_ALLOW && strncmp(path, "/emulator/v1/", 13) == 0) {
                status = emu_faults_control(&f, rq.method, path, rq.body, rq.body_len, reset_store, &s, &body);
            } else if (v == EMU_ALLOW) {
                emu_fault fault;
                emu_faults_take(&f, emu_api_rpc_name(rq.method, path), &fault);
                emu_request req = {rq.method, path, rq.body, rq.body_len, rq.target.query, rq.target.nquery};
                const char *allow = NULL;
                status = emu_api_handle(&s, &req, &body, &allow);
            }
            if (v != EMU_PREFLIGHT) {
                check_answer(status, body);
                if (status == 200)
                    remember(body, op, exec, sizeof op);
            }
            free(body);
            request_free(&rq);
        }
        p = sep ? sep + 4 : NULL;
    }
    emu_store_free(&s);
    emu_faults_free(&f);
    free(text);
    return 0;
}
