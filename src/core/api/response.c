/*
** response.c — turns an HTTP response from the Cloud Run Admin API into
** decoded JSON (or, checked, its text) or a cr_error carrying the
** google.rpc.Status the server sent.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/*
** In HTTP/JSON error bodies `code` is the HTTP status and `status` the code
** name; inside an Operation's `error` the same message has `code` = the
** google.rpc number and no `status`. Accept both.
*/
void cr_api_status_to_error(const cJSON *status, int http_status, cr_error *err)
{
    const cJSON *jstatus = cJSON_GetObjectItemCaseSensitive(status, "status");
    const cJSON *jcode = cJSON_GetObjectItemCaseSensitive(status, "code");
    const cJSON *jmsg = cJSON_GetObjectItemCaseSensitive(status, "message");
    const cJSON *jdetails = cJSON_GetObjectItemCaseSensitive(status, "details");

    const char *code = NULL;
    /* the server's code name when it is one of google.rpc's (never "OK" on an error);
       anything else is read from the HTTP status */
    if (cJSON_IsString(jstatus) && jstatus->valuestring[0] && strcmp(jstatus->valuestring, "OK") != 0 &&
        (cr_code_number(jstatus->valuestring) != 2 || strcmp(jstatus->valuestring, "UNKNOWN") == 0))
        code = jstatus->valuestring;
    else if (http_status == 0 && cJSON_IsNumber(jcode) && jcode->valueint != 0)
        code = cr_code_name(jcode->valueint);
    else if (http_status)
        code = cr_code_for_http_status(http_status);
    else
        code = "UNKNOWN";

    const char *msg = cJSON_IsString(jmsg) ? jmsg->valuestring : "";
    /* the server's words, but not without bound: a 50 MB message stays a line */
    char *quoted = *msg ? cr_quote_bounded(msg, strlen(msg), CR_MAX_QUOTE) : NULL;
    if (quoted)
        cr_error_set(err, code, http_status, "%s", quoted);
    else if (*msg)
        cr_error_set(err, code, http_status, "HTTP %d %s (the message could not be kept)", http_status, code);
    else if (http_status)
        cr_error_set(err, code, http_status, "HTTP %d %s", http_status, code);
    else
        cr_error_set(err, code, 0, "%s", code);
    free(quoted);
    if (cJSON_IsArray(jdetails))
        err->details = cJSON_Duplicate(jdetails, 1);
}

/* A printable, bounded excerpt of a body that is not JSON (an HTML error page, say). */
static char *excerpt(const char *body, size_t len)
{
    size_t n = len < 80 ? len : 80;
    char *out = malloc(n + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        out[o++] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    if (len > n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

cJSON *cr_api_parse_response(const cr_http_response *resp, const char *url, cr_error *err)
{
    int status = (int)resp->status;
    const char *body = resp->body ? resp->body : "";
    size_t len = resp->body ? resp->body_len : 0;
    int ok = status >= 200 && status < 300;

    cJSON *json = NULL;
    if (!is_blank(body, len)) {
        json = cr_json_parse(body, len, NULL);
    } else if (ok) {
        /* every method answers with a resource or an Operation: nothing is not an answer */
        cr_error_set(err, "UNKNOWN", status, "%s: the answer (HTTP %d) is empty where a resource was expected", url,
                     status);
        return NULL;
    }

    if (ok) {
        if (!json || !(cJSON_IsObject(json))) {
            cJSON_Delete(json);
            char *ex = excerpt(body, len);
            cr_error_set(err, "UNKNOWN", status, "%s: the response (HTTP %d) is not a JSON object: \"%s\"", url, status,
                         ex ? ex : "");
            free(ex);
            return NULL;
        }
        return json;
    }

    const cJSON *e = json ? cJSON_GetObjectItemCaseSensitive(json, "error") : NULL;
    if (cJSON_IsObject(e)) {
        cr_api_status_to_error(e, status, err);
    } else {
        char *ex = excerpt(body, len);
        cr_error_set(err, cr_code_for_http_status(status), status, "%s: HTTP %d%s%s%s", url, status,
                     ex && *ex ? " \"" : "", ex ? ex : "", ex && *ex ? "\"" : "");
        free(ex);
    }
    cJSON_Delete(json);
    return NULL;
}

/* ---- a successful answer kept as text -------------------------------------------- */

/*
** What cr_api_parse_response and cr_api_operation_execution would find,
** read from the events of one walk: whether the root is an object and, for a
** RunJob, the "name" of the first "metadata" member and of the first
** "response" member (each the first "name" in it, when that is a string) and
** whether an "execution" member is there already. First members, as
** cJSON_GetObjectItemCaseSensitive finds them; names cut at a NUL, as cJSON's
** C strings are.
*/
enum { IN_NONE, IN_METADATA, IN_RESPONSE };

typedef struct answer_scan {
    int depth;       /* containers open */
    int root_object; /* the root value is an object */
    int want;        /* looking for the Execution's name */
    int pending;     /* what the value after the last key is: IN_* at depth 1, or NAME_VALUE at depth 2 */
    int in;          /* inside the first "metadata" / "response" object (depth 2) */
    int seen[3];     /* the first "metadata" / "response" member met */
    int name_seen[3];
    char *name[3];
    int has_execution;
} answer_scan;

#define NAME_VALUE 3

/* A key's value as a C string (cut at a NUL), compared with `want`. */
static int key_is(const char *raw, size_t len, int escaped, const char *want)
{
    char buf[16]; /* decoded up to 16 bytes: a longer key never matches */
    size_t n = len;
    if (escaped) {
        n = cr_json_unescape(raw, len, buf, sizeof buf);
        raw = buf;
    } else {
        const char *nul = memchr(raw, '\0', len);
        if (nul)
            n = (size_t)(nul - raw);
    }
    return n == strlen(want) && memcmp(raw, want, n) == 0;
}

static int scan_key(void *ud, const char *raw, size_t len, int escaped)
{
    answer_scan *a = ud;
    a->pending = IN_NONE;
    if (!a->want)
        return 0;
    if (a->depth == 1) {
        int which = key_is(raw, len, escaped, "metadata")   ? IN_METADATA
                    : key_is(raw, len, escaped, "response") ? IN_RESPONSE
                                                            : IN_NONE;
        if (which && !a->seen[which]) {
            a->seen[which] = 1;
            a->pending = which;
        }
        if (!which && key_is(raw, len, escaped, "execution"))
            a->has_execution = 1;
    } else if (a->depth == 2 && a->in && !a->name_seen[a->in] && key_is(raw, len, escaped, "name")) {
        a->name_seen[a->in] = 1;
        a->pending = NAME_VALUE;
    }
    return 0;
}

static int scan_string(void *ud, const char *raw, size_t len, int escaped)
{
    (void)escaped;
    answer_scan *a = ud;
    if (a->pending == NAME_VALUE && a->depth == 2 && a->in) {
        char *v = malloc(len + 1);
        if (!v)
            return 1; /* out of memory: stops the walk */
        v[cr_json_unescape(raw, len, v, len)] = '\0';
        a->name[a->in] = v;
    }
    a->pending = IN_NONE;
    return 0;
}

static int scan_begin(void *ud, int object)
{
    answer_scan *a = ud;
    if (a->depth == 0)
        a->root_object = object;
    else if (a->depth == 1 && object && (a->pending == IN_METADATA || a->pending == IN_RESPONSE))
        a->in = a->pending;
    a->pending = IN_NONE;
    a->depth++;
    return 0;
}

static int scan_begin_object(void *ud)
{
    return scan_begin(ud, 1);
}

static int scan_begin_array(void *ud)
{
    return scan_begin(ud, 0);
}

static int scan_end(void *ud)
{
    answer_scan *a = ud;
    if (--a->depth == 1)
        a->in = IN_NONE;
    a->pending = IN_NONE;
    return 0;
}

static int scan_scalar(void *ud)
{
    ((answer_scan *)ud)->pending = IN_NONE;
    return 0;
}

static int scan_number(void *ud, double value)
{
    (void)value;
    return scan_scalar(ud);
}

static int scan_boolean(void *ud, int value)
{
    (void)value;
    return scan_scalar(ud);
}

static const cr_json_events answer_events = {
    .begin_object = scan_begin_object,
    .end_object = scan_end,
    .begin_array = scan_begin_array,
    .end_array = scan_end,
    .key = scan_key,
    .string = scan_string,
    .number = scan_number,
    .boolean = scan_boolean,
    .null = scan_scalar,
};

int cr_api_check_answer_text(const cr_http_response *resp, const char *url, int run_job, char **execution,
                             cr_error *err)
{
    int status = (int)resp->status;
    const char *body = resp->body ? resp->body : "";
    size_t len = resp->body ? resp->body_len : 0;
    *execution = NULL;
    if (is_blank(body, len)) {
        cr_error_set(err, "UNKNOWN", status, "%s: the answer (HTTP %d) is empty where a resource was expected", url,
                     status);
        return -1;
    }
    answer_scan a = {0};
    a.want = run_job;
    int rc = cr_json_walk(body, len, &answer_events, &a);
    if (rc > 0) {
        free(a.name[IN_METADATA]);
        free(a.name[IN_RESPONSE]);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory reading the answer", url);
        return -1;
    }
    if (rc < 0 || !a.root_object) {
        free(a.name[IN_METADATA]);
        free(a.name[IN_RESPONSE]);
        char *ex = excerpt(body, len);
        cr_error_set(err, "UNKNOWN", status, "%s: the response (HTTP %d) is not a JSON object: \"%s\"", url, status,
                     ex ? ex : "");
        free(ex);
        return -1;
    }
    /* an Operation that names its execution already needs nothing added */
    const char *pick =
        a.has_execution ? NULL : cr_execution_name_pick(NULL, a.name[IN_METADATA], a.name[IN_RESPONSE], NULL);
    for (int i = IN_METADATA; i <= IN_RESPONSE; i++) {
        if (a.name[i] && a.name[i] == pick)
            *execution = a.name[i];
        else
            free(a.name[i]);
    }
    return 0;
}
