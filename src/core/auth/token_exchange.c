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

#include "auth/credentials.h"
#include "auth/token_exchange.h"
#include "machine/exchange.h"
#include "machine/machine.h"

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
    if (!cr_bearer_token_ok(at->valuestring)) {
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
        if (!cr_bearer_token_ok(rt->valuestring)) {
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

/* The JWT-bearer grant's form: the signed assertion, escaped. A secret. */
char *cr_token_jwt_form(const char *assertion)
{
    char *escaped = cr_url_escape(assertion);
    char *form = escaped ? cr_asprintf("grant_type=%s&assertion=%s",
                                       "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", escaped)
                         : NULL;
    cr_secret_free(escaped);
    return form;
}

/*
** POST form -> token response: the reader of the single exchange. It holds a
** reference to the credential whose token it fetches, so that `rotated`
** (which writes into the credential's data) never outlives it.
*/
typedef struct form_reader {
    char *who; /* "token endpoint URL" */
    cr_credentials *creds;
    void (*rotated)(void *data, char *refresh_token);
    void *data;
} form_reader;

static void form_drop(void *ud)
{
    form_reader *f = ud;
    if (f) {
        free(f->who);
        cr_credentials_unref(f->creds);
        free(f);
    }
}

/* Hides from err whatever secret the form sent (an OAuth error_description
** may quote the request back): the assertion, a refresh token, the client
** secret, a subject token. */
static void scrub_form_secrets(cr_error *err, const char *form)
{
    static const char *const secret_fields[] = {"assertion", "refresh_token", "client_secret", "subject_token"};
    char *copy = cr_strdup(form);
    if (!copy)
        return;
    const char *secrets[8];
    size_t n = 0;
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair && n < 8; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq)
            continue;
        *eq = '\0';
        for (size_t i = 0; i < sizeof secret_fields / sizeof *secret_fields; i++)
            if (strcmp(pair, secret_fields[i]) == 0)
                secrets[n++] = cr_url_unescape_inplace(eq + 1);
    }
    cr_error_scrub(err, secrets, n);
    cr_wipe(copy, strlen(form));
    free(copy);
}

static int read_form_answer(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                            cr_exchange_result *out, cr_error *err)
{
    form_reader *f = ud;
    if (resp->status >= 200 && resp->status < 300) {
        char *refresh = NULL;
        if (cr_token_response_parse_ex(resp, f->who, sent_at, &out->token, &out->expires_at,
                                       f->rotated ? &refresh : NULL, err) < 0)
            return -1;
        if (refresh)
            f->rotated(f->data, refresh); /* takes it */
        return 0;
    }
    char detail[512];
    cr_auth_error_text(resp, detail, sizeof detail);
    const char *code = resp->status == 400 || resp->status == 401 ? "UNAUTHENTICATED"
                       : resp->status >= 500                      ? "UNAVAILABLE"
                                                                  : cr_code_for_http_status((int)resp->status);
    cr_error_set(err, code, (int)resp->status, "%s answered %ld%s", f->who, resp->status, detail);
    scrub_form_secrets(err, req->body);
    return -1;
}

cr_machine *cr_token_exchange_machine(cr_credentials *creds, const char *what, const char *url, const char *form,
                                      long timeout_ms, void (*rotated)(void *data, char *refresh_token), void *data,
                                      cr_error *err)
{
    cr_http_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "POST");
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : CR_TOKEN_TIMEOUT_MS;
    req.idempotent = 1; /* a token grant changes nothing: a resend only fetches another */
    req.url = cr_strdup(url);
    req.body = cr_strdup(form);
    req.body_len = req.body ? strlen(req.body) : 0;
    form_reader *f = calloc(1, sizeof *f);
    if (f) {
        f->who = cr_asprintf("%s %s", what, url);
        f->creds = cr_credentials_ref(creds);
        f->rotated = rotated;
        f->data = data;
    }
    if (!f || !f->who || !req.url || !req.body ||
        cr_header_add(&req.headers, "Content-Type", "application/x-www-form-urlencoded") < 0 ||
        cr_header_add(&req.headers, "Accept", "application/json") < 0) {
        cr_http_request_clear(&req);
        form_drop(f);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, url);
        return NULL;
    }
    return cr_exchange_machine(&req, what, read_form_answer, f, form_drop, err);
}
