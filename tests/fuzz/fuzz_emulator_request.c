/*
** fuzz_emulator_request.c — libFuzzer target: the emulator's request
** handling as the server drives it (the front door's verdict from the
** headers, then the Cloud Run API or the /emulator/v1/ control API), on an
** in-memory store with no task processes, no log files and no sockets.
**
** An input is up to 16 requests separated by a line "%%":
**     METHOD URL                      (percent-decoded as libmicrohttpd does)
**     Header: value                   (any number, up to a blank line)
**
**     body
** "{op}" and "{exec}" in a URL stand for the last operation and execution
** names answered, so that a sequence can follow what it made.
**
** Every answer must be strict JSON in UTF-8; an error must be Google-shaped
** ({"error": {"code": <the HTTP status>, "message", "status"}}) and never
** a 500. Anything else aborts, as does any sanitizer finding.
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
#include "store.h"

#define MAX_REQUESTS 16
#define MAX_HEADERS 16

typedef struct request {
    char method[32];
    char *path; /* decoded */
    emu_param query[EMU_MAX_QUERY_PARAMS + 1];
    size_t nquery;
    char *query_text; /* decoded keys and values live here */
    const char *hdr_name[MAX_HEADERS], *hdr_value[MAX_HEADERS];
    int nheaders;
    const char *body;
    size_t body_len;
} request;

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes in place (plus as space when plus); a NUL ends the string, as for MHD's C strings. */
static void decode(char *s, int plus)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else {
            *w++ = plus && *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
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
    char *q = strchr(url, '?');
    if (q) {
        *q++ = '\0';
        rq->query_text = strdup(q);
    }
    decode(url, 0);
    rq->path = url;
    for (char *p = rq->query_text, *next; p && *p && rq->nquery <= EMU_MAX_QUERY_PARAMS; p = next) {
        next = strchr(p, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(p, '=');
        if (eq)
            *eq++ = '\0';
        decode(p, 1);
        if (eq)
            decode(eq, 1);
        rq->query[rq->nquery++] = (emu_param){p, eq ? eq : ""};
    }
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
    free(rq->path);
    free(rq->query_text);
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
            if (v == EMU_REFUSE) {
                status = refusal.status;
                body = emu_error_body(&refusal);
            } else if (v == EMU_ALLOW && strncmp(rq.path, "/emulator/v1/", 13) == 0) {
                status = emu_faults_control(&f, rq.method, rq.path, rq.body, rq.body_len, reset_store, &s, &body);
            } else if (v == EMU_ALLOW) {
                emu_fault fault;
                emu_faults_take(&f, emu_api_rpc_name(rq.method, rq.path), &fault);
                emu_request req = {rq.method, rq.path, rq.body, rq.body_len, rq.query, rq.nquery};
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
