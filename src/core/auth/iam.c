/*
** iam.c — IAM Credentials generateAccessToken over the transport: the
** request body, the google.rpc errors it answers with (their message is
** safe to quote; the body otherwise never is), the RFC 3339 expireTime.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "auth/iam.h"
#include "auth/jwt.h"
#include "auth/token_exchange.h"
#include "machine/exchange.h"
#include "util/rfc3339.h"

char *cr_iam_target_from_url(const char *url)
{
    static const char marker[] = "/serviceAccounts/", suffix[] = ":generateAccessToken";
    const char *at = strstr(url, marker);
    if (!at || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return NULL;
    at += sizeof marker - 1;
    const char *end = strstr(at, suffix);
    if (!end || end == at || end[sizeof suffix - 1] != '\0')
        return NULL;
    for (const char *p = at; p < end; p++)
        if (*p == '/' || (unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return NULL;
    return cr_strndup(at, (size_t)(end - at));
}

static char *request_body(const cJSON *delegates)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *scope = cJSON_CreateArray();
    cJSON *dl = delegates ? cJSON_Duplicate(delegates, 1) : cJSON_CreateArray();
    char *text = NULL;
    if (body && scope && dl && cJSON_AddItemToObject(body, "delegates", dl) && (dl = NULL, 1) &&
        cJSON_AddItemToArray(scope, cJSON_CreateString(CR_CLOUD_PLATFORM_SCOPE)) &&
        cJSON_AddItemToObject(body, "scope", scope) && (scope = NULL, 1) &&
        cJSON_AddStringToObject(body, "lifetime", CR_IAM_LIFETIME))
        text = cJSON_PrintUnformatted(body);
    cJSON_Delete(dl);
    cJSON_Delete(scope);
    cJSON_Delete(body);
    return text;
}

static int parse_answer(const cr_http_response *resp, const char *url, char **token, int64_t *expires_at, cr_error *err)
{
    const char *why = NULL;
    cJSON *root = resp->body ? cr_json_parse(resp->body, resp->body_len, NULL) : NULL;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "accessToken");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "expireTime");
    int64_t when = 0;
    if (!root || !cJSON_IsObject(root))
        why = root ? "not a JSON object" : "not JSON";
    else if (!cJSON_IsString(at) || !at->valuestring)
        why = "no \"accessToken\"";
    else if (!cr_bearer_token_ok(at->valuestring))
        why = "\"accessToken\" is not a header-safe string";
    else if (!cJSON_IsString(exp) || !exp->valuestring || cr_rfc3339_parse(exp->valuestring, &when) < 0)
        why = "\"expireTime\" is not an RFC 3339 time";
    else if (!(*token = cr_strdup(at->valuestring)))
        why = "out of memory";
    if (why)
        cr_error_set(err, "INTERNAL", (int)resp->status,
                     "IAM Credentials %s answered %ld with something that is not a generateAccessToken response (%s)",
                     url, resp->status, why);
    else
        *expires_at = when;
    if (root)
        cr_json_delete_secret(root);
    return why ? -1 : 0;
}

/* The google.rpc status name when the server sent a known one, else the
** HTTP status's; 5xx is UNAVAILABLE as for the token endpoint. */
static const char *error_code(const cr_http_response *resp)
{
    if (resp->status >= 500)
        return "UNAVAILABLE";
    const char *code = cr_code_for_http_status((int)resp->status);
    cJSON *root = resp->body ? cr_json_parse(resp->body, resp->body_len, NULL) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "status");
    if (cJSON_IsString(st) && st->valuestring && strcmp(cr_code_name(cr_code_number(st->valuestring)), "UNKNOWN"))
        code = cr_code_name(cr_code_number(st->valuestring));
    if (root)
        cr_json_delete_secret(root);
    return code;
}

static int read_iam_answer(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                           cr_exchange_result *out, cr_error *err)
{
    (void)ud, (void)sent_at; /* the answer says when the token expires */
    if (resp->status >= 200 && resp->status < 300)
        return parse_answer(resp, req->url, &out->token, &out->expires_at, err);
    char detail[512];
    cr_auth_error_text(resp, detail, sizeof detail);
    cr_error_set(err, error_code(resp), (int)resp->status, "IAM Credentials %s answered %ld%s", req->url, resp->status,
                 detail);
    /* the bearer it was sent must not come back in a message */
    const char *auth = cr_header_get(req->headers, "Authorization");
    const char *secrets[] = {auth && strlen(auth) > 7 ? auth + 7 : NULL};
    cr_error_scrub(err, secrets, 1);
    return -1;
}

cr_machine *cr_iam_machine(const char *url, const char *bearer, const cJSON *delegates, long timeout_ms, cr_error *err)
{
    cr_http_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "POST");
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : CR_TOKEN_TIMEOUT_MS;
    req.idempotent = 1; /* it mints a token; asking twice mints two, harmlessly */
    char *auth = cr_asprintf("Bearer %s", bearer);
    req.url = cr_strdup(url);
    req.body = request_body(delegates);
    req.body_len = req.body ? strlen(req.body) : 0;
    int ok = auth && req.url && req.body && cr_header_add(&req.headers, "Authorization", auth) == 0 &&
             cr_header_add(&req.headers, "Content-Type", "application/json") == 0 &&
             cr_header_add(&req.headers, "Accept", "application/json") == 0;
    cr_secret_free(auth);
    if (!ok) {
        cr_http_request_clear(&req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "IAM Credentials %s: out of memory", url);
        return NULL;
    }
    return cr_exchange_machine(&req, "IAM Credentials", read_iam_answer, NULL, NULL, err);
}
