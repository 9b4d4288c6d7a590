/*
** keyfile.c — the fields of credentials JSON: each checked with a message
** that names the file and the field (never a secret), the "type" field, a
** service_account's fields and its PEM key. Which kind handles which type is
** loader.c's; the kinds build on this file, and it on none of them.
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/keyfile.h"
#include "auth/rsa_pem.h"

/* Types Google's libraries accept that we recognise but do not handle yet. */
static const char *const unsupported_types[] = {
    "external_account_authorized_user",
    "gdch_service_account",
};

void cr_keyfile_delete_json(cJSON *root)
{
    cr_json_delete_secret(root); /* the parser made copies of the key */
}

/* A short, printable value may be quoted back in a message; anything else
** (long, binary — possibly pasted secrets) is not. */
static int quotable(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f || s[n] == '"' || n >= 64)
            return 0;
    return 1;
}

int cr_keyfile_string(const cJSON *root, const char *prefix, const char *name, int required, const char *what,
                      char **out, cr_error *err)
{
    *out = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item || cJSON_IsNull(item)) {
        if (required) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is missing", what, prefix, name);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is not a string", what, prefix, name);
        return -1;
    }
    if (required && !*item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s%s\" is empty", what, prefix, name);
        return -1;
    }
    *out = cr_strdup(item->valuestring);
    if (!*out) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

/*
** Why at load time: quota_project_id is sent as the x-goog-user-project
** header of every call. The send-time check (cr_http_request_check) would
** refuse a CR or LF too, but could only name the header; here the message
** names the file and the field (never the value: it may be anything).
*/
int cr_keyfile_quota_project(const cJSON *root, const char *what, char **out, cr_error *err)
{
    if (cr_keyfile_string(root, "", "quota_project_id", 0, what, out, err) < 0)
        return -1;
    if (*out && !cr_header_value_ok(*out)) {
        free(*out);
        *out = NULL;
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"quota_project_id\" has a line break or control character (it is sent as the "
                     "x-goog-user-project header)",
                     what);
        return -1;
    }
    return 0;
}

void cr_keyfile_clear(cr_keyfile *kf)
{
    free(kf->client_email);
    free(kf->private_key_id);
    free(kf->token_uri);
    free(kf->project_id);
    free(kf->quota_project_id);
    cr_secret_free(kf->private_key);
    free(kf->what);
    memset(kf, 0, sizeof *kf);
}

int cr_keyfile_from_object(const cJSON *root, const char *what, cr_keyfile *kf, cr_error *err)
{
    memset(kf, 0, sizeof *kf);
    if (cr_keyfile_string(root, "", "client_email", 1, what, &kf->client_email, err) < 0 ||
        cr_keyfile_string(root, "", "private_key", 1, what, &kf->private_key, err) < 0 ||
        cr_keyfile_string(root, "", "private_key_id", 0, what, &kf->private_key_id, err) < 0 ||
        cr_keyfile_string(root, "", "token_uri", 0, what, &kf->token_uri, err) < 0 ||
        cr_keyfile_string(root, "", "project_id", 0, what, &kf->project_id, err) < 0 ||
        cr_keyfile_quota_project(root, what, &kf->quota_project_id, err) < 0)
        goto fail;
    if ((!kf->token_uri && !(kf->token_uri = cr_strdup(CR_DEFAULT_TOKEN_URI))) || !(kf->what = cr_strdup(what))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto fail;
    }
    if (cr_keyfile_check_url(kf->token_uri, "token_uri", what, err) < 0 ||
        cr_rsa_pem_check(kf->private_key, what, "private_key", kf->key_fingerprint, err) < 0)
        goto fail;
    return 0;
fail:
    cr_keyfile_clear(kf);
    return -1;
}

int cr_keyfile_check_url(const char *url, const char *name, const char *what, cr_error *err)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not an http(s) URL", what, name);
        return -1;
    }
    return 0;
}

/* Whether the authority (up to the first '/', '?', '#' or the end) is
** exactly `host` with an optional :port, and nothing else (no user@). */
static int authority_is(const char *auth, size_t n, const char *host)
{
    size_t h = strlen(host);
    if (n < h || strncasecmp(auth, host, h) != 0)
        return 0;
    if (n == h)
        return 1;
    if (auth[h] != ':' || n == h + 1 || n - h - 1 > 5)
        return 0;
    for (size_t i = h + 1; i < n; i++)
        if (auth[i] < '0' || auth[i] > '9')
            return 0;
    return 1;
}

/* 127.0.0.0/8 written as four decimal parts, with an optional :port. */
static int authority_is_127(const char *auth, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && (i >= n || auth[i++] != '.'))
            return 0;
        size_t start = i;
        unsigned v = 0;
        while (i < n && auth[i] >= '0' && auth[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(auth[i++] - '0');
        if (i == start || v > 255 || (part == 0 && v != 127))
            return 0;
    }
    char host[16];
    if (i >= sizeof host)
        return 0;
    memcpy(host, auth, i);
    host[i] = '\0';
    return authority_is(auth, n, host);
}

/*
** Why plain http only to these hosts: a credential file from elsewhere names
** where the subject token and the tokens traded for it go. Over plain http to
** anywhere else, they would cross networks in the clear (or to whoever
** answers). Loopback is this machine (tests, a local proxy); the link-local
** metadata address serves tokens only from inside the machine's VM (Azure's
** instance metadata hands out workload identity tokens over plain http).
*/
int cr_keyfile_check_secure_url(const char *url, const char *name, const char *what, int metadata_ok, cr_error *err)
{
    if (strncmp(url, "https://", 8) == 0)
        return 0;
    if (strncmp(url, "http://", 7) == 0) {
        const char *auth = url + 7;
        size_t n = strcspn(auth, "/?#");
        if (authority_is(auth, n, "localhost") || authority_is(auth, n, "[::1]") || authority_is_127(auth, n) ||
            (metadata_ok && authority_is(auth, n, "169.254.169.254")))
            return 0;
    }
    cr_error_set(err, "INVALID_ARGUMENT", 0,
                 "%s: field \"%s\" must be an https:// URL (plain http:// only to a loopback address%s)", what, name,
                 metadata_ok ? " or the metadata address 169.254.169.254" : "");
    return -1;
}

int cr_keyfile_type(const cJSON *root, const char *what, const char **type, cr_error *err)
{
    if (!cJSON_IsObject(root)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not a JSON object", what);
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!t) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is missing", what);
        return -1;
    }
    if (!cJSON_IsString(t) || !t->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a string", what);
        return -1;
    }
    *type = t->valuestring;
    return 0;
}

void cr_keyfile_unknown_type(const char *type, const char *what, cr_error *err)
{
    for (size_t i = 0; i < sizeof unsupported_types / sizeof unsupported_types[0]; i++) {
        if (strcmp(type, unsupported_types[i]) == 0) {
            cr_error_set(err, "UNIMPLEMENTED", 0,
                         "%s: field \"type\" is \"%s\": recognised, but not supported yet (service_account, "
                         "authorized_user, impersonated_service_account and external_account are)",
                         what, unsupported_types[i]);
            return;
        }
    }
    if (quotable(type))
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is \"%s\", which is not a credentials type", what,
                     type);
    else
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a credentials type", what);
}

int cr_keyfile_parse(const char *json, size_t len, const char *what, cr_keyfile *kf, cr_error *err)
{
    memset(kf, 0, sizeof *kf);
    size_t at = 0;
    cJSON *root = cr_json_parse(json, len, &at);
    if (!root) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not valid JSON (at byte %zu)", what, at);
        return -1;
    }
    int rc = -1;
    const char *type;
    if (cr_keyfile_type(root, what, &type, err) == 0) {
        if (strcmp(type, "service_account") == 0)
            rc = cr_keyfile_from_object(root, what, kf, err);
        else
            cr_keyfile_unknown_type(type, what, err);
    }
    cr_keyfile_delete_json(root);
    return rc;
}
