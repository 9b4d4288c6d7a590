/*
** response.c — turns an HTTP response from the Cloud Run Admin API into
** decoded JSON or a cr_error carrying the google.rpc.Status the server sent.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

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
