/*
** token_exchange.c — the OAuth2 token endpoint: sending the JWT-bearer grant
** and turning what comes back into a token or a google.rpc error. Nothing
** from the request (the assertion) and nothing from the response other than
** the OAuth2 `error` and `error_description` ever reaches a message.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/token_exchange.h"

/* An access token travels in an Authorization header: visible ASCII only. */
static int header_safe(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static void not_a_token_response(cr_error *err, const char *who, long status, const char *why)
{
    cr_error_set(err, "INTERNAL", (int)status, "%s answered %ld with something that is not a token response (%s)", who,
                 status, why);
}

int cr_token_response_parse(const cr_http_response *resp, const char *who, int64_t now, char **token,
                            int64_t *expires_at, cr_error *err)
{
    return cr_token_response_parse_ex(resp, who, now, token, expires_at, NULL, err);
}

int cr_token_response_parse_ex(const cr_http_response *resp, const char *who, int64_t now, char **token,
                               int64_t *expires_at, char **refresh_token, cr_error *err)
{
    *token = NULL;
    if (refresh_token)
        *refresh_token = NULL;
    cJSON *root = resp->body ? cr_json_parse(resp->body, resp->body_len, NULL) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        not_a_token_response(err, who, resp->status, root ? "not a JSON object" : "not JSON");
        if (root)
            cr_json_delete_secret(root);
        return -1;
    }
    int rc = -1;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    const cJSON *ttype = cJSON_GetObjectItemCaseSensitive(root, "token_type");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
    double lifetime = 3600;
    if (!cJSON_IsString(at) || !at->valuestring) {
        not_a_token_response(err, who, resp->status, "no \"access_token\"");
        goto done;
    }
    if (!header_safe(at->valuestring)) {
        not_a_token_response(err, who, resp->status, "\"access_token\" is not a header-safe string");
        goto done;
    }
    if (ttype && (!cJSON_IsString(ttype) || strcasecmp(ttype->valuestring, "Bearer") != 0)) {
        not_a_token_response(err, who, resp->status, "\"token_type\" is not \"Bearer\"");
        goto done;
    }
    if (cJSON_IsNumber(exp)) {
        lifetime = exp->valuedouble;
    } else if (cJSON_IsString(exp) && exp->valuestring) {
        char *end;
        lifetime = strtod(exp->valuestring, &end);
        if (end == exp->valuestring || *end)
            lifetime = -1;
    } else if (exp) {
        lifetime = -1;
    }
    if (!(lifetime >= 0 && lifetime < 1e9)) {
        not_a_token_response(err, who, resp->status, "\"expires_in\" is not a number of seconds");
        goto done;
    }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "refresh_token");
    if (refresh_token && cJSON_IsString(rt) && rt->valuestring && *rt->valuestring) {
        if (!header_safe(rt->valuestring)) {
            not_a_token_response(err, who, resp->status, "\"refresh_token\" is not a printable string");
            goto done;
        }
        if (!(*refresh_token = cr_strdup(rt->valuestring))) {
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", who);
            goto done;
        }
    }
    if (!(*token = cr_strdup(at->valuestring))) {
        if (refresh_token) {
            cr_secret_free(*refresh_token);
            *refresh_token = NULL;
        }
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", who);
        goto done;
    }
    *expires_at = now + (int64_t)lifetime;
    rc = 0;
done:
    cr_json_delete_secret(root);
    return rc;
}

void cr_auth_transport_error(cr_error *err, const char *who, const char *url)
{
    if (!err)
        return;
    if (err->message && strstr(err->message, url)) {
        char *m = cr_asprintf("%s: %s", who, err->message);
        if (m) {
            free(err->message);
            err->message = m;
        }
    } else {
        char *m = cr_asprintf("%s %s: %s", who, url, err->message ? err->message : err->code);
        if (m) {
            free(err->message);
            err->message = m;
        }
    }
}

/* The OAuth2 error (RFC 6749 §5.2), with only printable ASCII kept and a
** bounded length: it is quoted back to the user. */
void cr_auth_error_text(const cr_http_response *resp, char *out, size_t size)
{
    out[0] = '\0';
    cJSON *root = resp->body ? cr_json_parse(resp->body, resp->body_len, NULL) : NULL;
    if (!root)
        return;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "error_description");
    if (cJSON_IsString(e) && e->valuestring) {
        snprintf(out, size, ": %s%s%s", e->valuestring, cJSON_IsString(d) && d->valuestring ? ": " : "",
                 cJSON_IsString(d) && d->valuestring ? d->valuestring : "");
    } else if (cJSON_IsObject(e)) {
        /* Some Google endpoints answer with a google.rpc.Status instead. */
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        if (cJSON_IsString(m) && m->valuestring)
            snprintf(out, size, ": %s", m->valuestring);
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    cr_json_delete_secret(root);
}

int cr_token_exchange_jwt(cr_transport *t, const char *token_uri, const char *assertion, long timeout_ms, char **token,
                          int64_t *expires_at, cr_error *err)
{
    *token = NULL;
    char *escaped = cr_url_escape(assertion);
    char *form = escaped ? cr_asprintf("grant_type=%s&assertion=%s",
                                       "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", escaped)
                         : NULL;
    cr_secret_free(escaped);
    if (!form) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "token endpoint %s: out of memory", token_uri);
        return -1;
    }
    int rc = cr_token_exchange_form(t, "token endpoint", token_uri, form, timeout_ms, token, expires_at, NULL, err);
    cr_secret_free(form);
    return rc;
}

int cr_token_exchange_form(cr_transport *t, const char *what, const char *url, const char *form, long timeout_ms,
                           char **token, int64_t *expires_at, char **refresh_token, cr_error *err)
{
    *token = NULL;
    if (refresh_token)
        *refresh_token = NULL;
    cr_http_request req = {.method = "POST", .timeout_ms = timeout_ms};
    cr_http_response resp = {0};
    req.url = cr_strdup(url);
    req.body = cr_strdup(form);
    if (!req.url || !req.body || cr_header_add(&req.headers, "Content-Type", "application/x-www-form-urlencoded") < 0 ||
        cr_header_add(&req.headers, "Accept", "application/json") < 0) {
        cr_http_request_clear(&req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, url);
        return -1;
    }
    req.body_len = strlen(req.body);

    int64_t now = cr_unix_time();
    int rc = cr_transport_perform(t, &req, &resp, err);
    cr_http_request_clear(&req);
    if (rc < 0) {
        cr_auth_transport_error(err, what, url);
        return -1;
    }
    char who[1024];
    snprintf(who, sizeof who, "%s %s", what, url);
    rc = -1;
    if (resp.status >= 200 && resp.status < 300) {
        rc = cr_token_response_parse_ex(&resp, who, now, token, expires_at, refresh_token, err);
    } else {
        char detail[512];
        cr_auth_error_text(&resp, detail, sizeof detail);
        const char *code = resp.status == 400 || resp.status == 401 ? "UNAUTHENTICATED"
                           : resp.status >= 500                     ? "UNAVAILABLE"
                                                                    : cr_code_for_http_status((int)resp.status);
        cr_error_set(err, code, (int)resp.status, "%s answered %ld%s", who, resp.status, detail);
    }
    cr_http_response_clear(&resp);
    return rc;
}
