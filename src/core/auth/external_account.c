/*
** external_account.c — workload identity federation: reads the subject
** token afresh on every refresh (files rotate), trades it at STS (RFC 8693
** token exchange), and impersonates a service account with the result when
** the file says so. The subject token and the STS token are secrets: wiped,
** never quoted — nor is anything read from the subject token's source.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/credentials.h"
#include "auth/external_account.h"
#include "auth/iam.h"
#include "auth/jwt.h"
#include "auth/keyfile.h"
#include "auth/token_exchange.h"
#include "machine/exchange.h"
#include "machine/machine.h"

#define TOKEN_EXCHANGE_GRANT "urn:ietf:params:oauth:grant-type:token-exchange"
#define ACCESS_TOKEN_TYPE "urn:ietf:params:oauth:token-type:access_token"

typedef struct ext_source {
    char *what;
    char *audience;
    char *subject_token_type;
    char *token_url;
    char *file;       /* credential_source.file, or NULL */
    char *url;        /* credential_source.url, or NULL */
    cJSON *headers;   /* credential_source.headers (object of strings) or NULL */
    char *json_field; /* format json: subject_token_field_name; NULL: text */
    char *impersonation_url;
    char *user_project; /* workforce_pool_user_project */
} ext_source;

static void ext_destroy(void *data)
{
    ext_source *x = data;
    if (!x)
        return;
    free(x->what);
    free(x->audience);
    free(x->subject_token_type);
    free(x->token_url);
    free(x->file);
    free(x->url);
    cr_keyfile_delete_json(x->headers);
    free(x->json_field);
    free(x->impersonation_url);
    free(x->user_project);
    free(x);
}

/* Prefixes err with the file and the field the failure belongs to. */
static void blame(cr_error *err, const char *what, const char *field)
{
    char *m = cr_asprintf("%s: %s: %s", what, field, err->message ? err->message : err->code);
    if (m) {
        free(err->message);
        err->message = m;
    }
}

/* Takes the subject token out of what its source gave (raw, len bytes; the
** caller wipes raw): trimmed text, or the named string field of JSON. */
static char *subject_from(const ext_source *x, const char *raw, size_t len, const char *where, cr_error *err)
{
    char *out = NULL;
    if (x->json_field) {
        cJSON *root = cr_json_parse(raw, len, NULL);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, x->json_field);
        if (!root)
            cr_error_set(err, "INVALID_ARGUMENT", 0, "the subject token from %s is not JSON (format type json)", where);
        else if (!cJSON_IsString(f) || !f->valuestring || !*f->valuestring)
            cr_error_set(err, "INVALID_ARGUMENT", 0, "the subject token JSON from %s has no string field \"%s\"", where,
                         x->json_field);
        else if (!(out = cr_strdup(f->valuestring)))
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "subject token from %s: out of memory", where);
        cr_keyfile_delete_json(root);
        return out;
    }
    size_t a = 0, b = len;
    while (a < b && isspace((unsigned char)raw[a]))
        a++;
    while (b > a && isspace((unsigned char)raw[b - 1]))
        b--;
    if (a == b)
        cr_error_set(err, "INVALID_ARGUMENT", 0, "the subject token from %s is empty", where);
    else if (!(out = cr_strndup(raw + a, b - a)))
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "subject token from %s: out of memory", where);
    return out;
}

/* GET the subject token's URL (with the file's headers): a token result.
** `ud` is the source, alive while the fetch machine holds the credential. */
static int read_subject_answer(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                               cr_exchange_result *out, cr_error *err)
{
    const ext_source *x = ud;
    (void)req, (void)sent_at;
    if (resp->status != 200) {
        /* The body is not quoted: whatever serves subject tokens may echo one. */
        const char *code = resp->status >= 500 ? "UNAVAILABLE" : cr_code_for_http_status((int)resp->status);
        cr_error_set(err, code, (int)resp->status, "subject token URL %s answered %ld", x->url, resp->status);
        return -1;
    }
    char where[1024];
    snprintf(where, sizeof where, "URL %s", x->url);
    out->token = subject_from(x, resp->body ? resp->body : "", resp->body ? resp->body_len : 0, where, err);
    out->expires_at = 0;
    return out->token ? 0 : -1;
}

static cr_machine *subject_url_machine(const ext_source *x, long timeout_ms, cr_error *err)
{
    cr_http_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "GET");
    req.timeout_ms = timeout_ms > 0 ? timeout_ms : CR_TOKEN_TIMEOUT_MS;
    req.idempotent = 1;
    int ok = (req.url = cr_strdup(x->url)) != NULL;
    for (const cJSON *h = x->headers ? x->headers->child : NULL; ok && h; h = h->next)
        ok = cr_header_add(&req.headers, h->string, h->valuestring) == 0;
    if (!ok) {
        cr_http_request_clear(&req);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "subject token URL %s: out of memory", x->url);
        return NULL;
    }
    return cr_exchange_machine(&req, "subject token URL", read_subject_answer, (void *)x, NULL, err);
}

/* The subject token from the file, read now (files rotate), or NULL with err. */
static char *subject_from_file(const ext_source *x, cr_error *err)
{
    size_t len = 0;
    char *raw = cr_read_file(x->file, &len, "subject token file", err);
    if (!raw)
        return NULL;
    char where[1024];
    snprintf(where, sizeof where, "file %s", x->file);
    char *out = subject_from(x, raw, len, where, err);
    cr_wipe(raw, len);
    free(raw);
    return out;
}

static char *sts_form(const ext_source *x, const char *subject)
{
    char *aud = cr_url_escape(x->audience), *stt = cr_url_escape(x->subject_token_type),
         *scope = cr_url_escape(CR_CLOUD_PLATFORM_SCOPE), *grant = cr_url_escape(TOKEN_EXCHANGE_GRANT),
         *rtt = cr_url_escape(ACCESS_TOKEN_TYPE), *subj = cr_url_escape(subject), *options = NULL, *form = NULL;
    if (x->user_project && !x->impersonation_url) {
        /* Workforce pools bill the exchange to this project unless a service
        ** account is impersonated (which then carries the project). */
        cJSON *o = cJSON_CreateObject();
        char *text = o && cJSON_AddStringToObject(o, "userProject", x->user_project) ? cJSON_PrintUnformatted(o) : NULL;
        options = text ? cr_url_escape(text) : NULL;
        if (text)
            cJSON_free(text);
        cJSON_Delete(o);
        if (!options)
            goto done;
    }
    if (aud && stt && scope && grant && rtt && subj)
        form = cr_asprintf("grant_type=%s&audience=%s&scope=%s&requested_token_type=%s&subject_token=%s"
                           "&subject_token_type=%s%s%s",
                           grant, aud, scope, rtt, subj, stt, options ? "&options=" : "", options ? options : "");
done:
    free(aud), free(stt), free(scope), free(grant), free(rtt), free(options);
    cr_secret_free(subj);
    return form;
}

/*
** The subject token (read from its file, or fetched from its URL), traded at
** STS, and the STS token traded at IAM Credentials when the file asks for
** impersonation. Each exchange is a sub-machine; `stage` says which finished.
*/
typedef struct ext_machine {
    cr_machine base;
    cr_credentials *creds; /* keeps `x` alive */
    ext_source *x;
    long timeout_ms;
    int stage; /* 0: subject token from the URL, 1: STS, 2: IAM */
} ext_machine;

static void ext_step(cr_machine *m, cr_step *s)
{
    (void)s;
    cr_machine_finish_errorf(m, "INTERNAL", 0, "external account: nothing left to do");
}

/* Takes the subject token (a secret). */
static void trade_at_sts(ext_machine *e, char *subject)
{
    cr_error err = CR_ERROR_INIT;
    char *form = sts_form(e->x, subject);
    cr_secret_free(subject);
    if (!form) {
        cr_machine_finish_errorf(&e->base, "RESOURCE_EXHAUSTED", 0, "STS endpoint %s: out of memory", e->x->token_url);
        return;
    }
    cr_machine *sts =
        cr_token_exchange_machine(NULL, "STS endpoint", e->x->token_url, form, e->timeout_ms, NULL, NULL, &err);
    cr_secret_free(form);
    if (!sts)
        cr_machine_finish_error(&e->base, &err);
    e->stage = 1;
    cr_machine_push(&e->base, sts);
}

static void ext_sub_done(cr_machine *m, cr_machine *sub)
{
    ext_machine *e = (ext_machine *)m;
    if (e->stage != 0 && !(e->stage == 1 && e->x->impersonation_url)) {
        cr_machine_finish_from(m, sub); /* the last exchange's token is the result */
        return;
    }
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    if (cr_machine_take_token(sub, &token, NULL, &err) < 0) {
        if (e->stage == 0)
            blame(&err, e->x->what, "credential_source");
        cr_machine_finish_error(m, &err);
        return;
    }
    if (e->stage == 0) {
        trade_at_sts(e, token);
        return;
    }
    cr_machine *iam = cr_iam_machine(e->x->impersonation_url, token, NULL, e->timeout_ms, &err);
    cr_secret_free(token);
    if (!iam)
        cr_machine_finish_error(m, &err);
    e->stage = 2;
    cr_machine_push(m, iam);
}

static void ext_machine_destroy(cr_machine *m)
{
    cr_credentials_unref(((ext_machine *)m)->creds);
}

static const cr_machine_ops ext_ops = {
    .what = "external account",
    .step = ext_step,
    .sub_done = ext_sub_done,
    .destroy = ext_machine_destroy,
};

static cr_machine *ext_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    ext_machine *e = calloc(1, sizeof *e);
    if (!e) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&e->base, &ext_ops, NULL);
    e->creds = cr_credentials_ref(creds);
    e->x = data;
    e->timeout_ms = timeout_ms;
    if (e->x->url) {
        cr_machine *get = subject_url_machine(e->x, timeout_ms, err);
        if (!get) {
            cr_machine_free(&e->base);
            return NULL;
        }
        cr_machine_push(&e->base, get);
        return &e->base;
    }
    char *subject = subject_from_file(e->x, err);
    if (!subject) {
        blame(err, e->x->what, "credential_source");
        cr_machine_free(&e->base);
        return NULL;
    }
    trade_at_sts(e, subject);
    return &e->base;
}

static const cr_credentials_source external_account_source = {
    .type = "external_account",
    .persist = 1,
    .fetch = ext_fetch,
    .destroy = ext_destroy,
};

/* credential_source: exactly one of file / url, optional headers (url only)
** and format. */
static int parse_source(const cJSON *root, const char *what, ext_source *x, cr_error *err)
{
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "credential_source");
    if (!cs || cJSON_IsNull(cs)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"credential_source\" is missing", what);
        return -1;
    }
    if (!cJSON_IsObject(cs)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"credential_source\" is not an object", what);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(cs, "executable")) {
        cr_error_set(err, "UNIMPLEMENTED", 0,
                     "%s: field \"credential_source\" is an executable source: not supported (file and url "
                     "sources are)",
                     what);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(cs, "environment_id") ||
        cJSON_GetObjectItemCaseSensitive(cs, "regional_cred_verification_url")) {
        cr_error_set(err, "UNIMPLEMENTED", 0,
                     "%s: field \"credential_source\" is an AWS source: not supported (file and url sources are)",
                     what);
        return -1;
    }
    if (cr_keyfile_string(cs, "credential_source.", "file", 0, what, &x->file, err) < 0 ||
        cr_keyfile_string(cs, "credential_source.", "url", 0, what, &x->url, err) < 0)
        return -1;
    if (x->file && x->url) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"credential_source\" has both \"file\" and \"url\" (exactly one is needed)", what);
        return -1;
    }
    if ((!x->file || !*x->file) && (!x->url || !*x->url)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"credential_source\" has no \"file\" or \"url\" (or an empty one)", what);
        return -1;
    }
    if (x->url && cr_keyfile_check_secure_url(x->url, "credential_source.url", what, 1, err) < 0)
        return -1;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(cs, "headers");
    if (h && !cJSON_IsNull(h)) {
        int ok = cJSON_IsObject(h);
        for (const cJSON *e = ok ? h->child : NULL; e; e = e->next)
            ok = ok && cJSON_IsString(e) && e->valuestring && e->string && *e->string;
        if (!ok) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "%s: field \"credential_source.headers\" is not an object of strings", what);
            return -1;
        }
        /* sent with the subject token's request: refused here, naming the file, rather than at send */
        for (const cJSON *e = h->child; e; e = e->next) {
            if (!cr_header_name_ok(e->string)) {
                cr_error_set(err, "INVALID_ARGUMENT", 0,
                             "%s: field \"credential_source.headers\" has a name that is not an HTTP header name",
                             what);
                return -1;
            }
            if (!cr_header_value_ok(e->valuestring)) {
                cr_error_set(err, "INVALID_ARGUMENT", 0,
                             "%s: field \"credential_source.headers\": the value of %s has a line break or control "
                             "character",
                             what, e->string);
                return -1;
            }
        }
        if (!(x->headers = cJSON_Duplicate(h, 1))) {
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
            return -1;
        }
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cs, "format");
    if (!f || cJSON_IsNull(f))
        return 0;
    if (!cJSON_IsObject(f)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"credential_source.format\" is not an object", what);
        return -1;
    }
    char *type = NULL;
    if (cr_keyfile_string(f, "credential_source.format.", "type", 0, what, &type, err) < 0)
        return -1;
    int rc = 0;
    if (!type || strcmp(type, "text") == 0) {
        /* the default */
    } else if (strcmp(type, "json") == 0) {
        rc =
            cr_keyfile_string(f, "credential_source.format.", "subject_token_field_name", 1, what, &x->json_field, err);
    } else {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"credential_source.format.type\" is neither \"text\" nor \"json\"", what);
        rc = -1;
    }
    free(type);
    return rc;
}

cr_credentials *cr_external_account_new(const cJSON *root, const char *what, const char *origin, cr_error *err)
{
    ext_source *x = calloc(1, sizeof *x);
    char *quota = NULL, *target = NULL, *key = NULL, *text = NULL;
    char hash[65];
    cr_credentials *c = NULL;
    if (!x || !(x->what = cr_strdup(what))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    if (cr_keyfile_string(root, "", "audience", 1, what, &x->audience, err) < 0 ||
        cr_keyfile_string(root, "", "subject_token_type", 1, what, &x->subject_token_type, err) < 0 ||
        cr_keyfile_string(root, "", "token_url", 0, what, &x->token_url, err) < 0 ||
        cr_keyfile_string(root, "", "service_account_impersonation_url", 0, what, &x->impersonation_url, err) < 0 ||
        cr_keyfile_quota_project(root, what, &quota, err) < 0 ||
        cr_keyfile_string(root, "", "workforce_pool_user_project", 0, what, &x->user_project, err) < 0 ||
        parse_source(root, what, x, err) < 0)
        goto done;
    if (!x->token_url && !(x->token_url = cr_strdup(CR_DEFAULT_STS_URL))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    if (cr_keyfile_check_secure_url(x->token_url, "token_url", what, 0, err) < 0 ||
        (x->impersonation_url &&
         cr_keyfile_check_secure_url(x->impersonation_url, "service_account_impersonation_url", what, 0, err) < 0))
        goto done;
    if (x->impersonation_url && !(target = cr_iam_target_from_url(x->impersonation_url))) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"service_account_impersonation_url\" is not an IAM Credentials URL "
                     "(https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken)",
                     what);
        goto done;
    }
    if (x->user_project && !strstr(x->audience, "/workforcePools/")) {
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"workforce_pool_user_project\" is only valid with a workforce pool audience", what);
        goto done;
    }
    if (!(text = cJSON_PrintUnformatted(root)) || cr_sha256_hex(text, strlen(text), hash) < 0 ||
        !(key = cr_asprintf("external_account\n%s", hash))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto done;
    }
    cr_credentials_desc d = {
        .source = &external_account_source,
        .data = x,
        .key = key,
        .account = target,
        .quota_project = quota,
        .origin = origin,
    };
    x = NULL;
    c = cr_credentials_intern(&d, err);
done:
    ext_destroy(x);
    if (text) {
        cr_wipe(text, strlen(text));
        cJSON_free(text);
    }
    free(quota);
    free(target);
    free(key);
    return c;
}
