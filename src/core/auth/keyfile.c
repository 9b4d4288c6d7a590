/*
** keyfile.c — credentials JSON files: reading them (wiping every copy of the
** text afterwards), checking each field with a message that names the file
** and the field, loading the PEM key, and dispatching on "type" to the
** credential kind that handles it (cr_credentials_from_file/_from_json).
*/
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "auth/keyfile.h"
#include "auth/service_account.h"

/* Types Google's libraries accept that we recognise but do not handle yet. */
static const char *const unsupported_types[] = {
    "authorized_user",
    "impersonated_service_account",
    "external_account",
    "external_account_authorized_user",
    "gdch_service_account",
};

/* Wipes every string in a cJSON tree: the parser made copies of the key. */
static void wipe_json(cJSON *item)
{
    for (; item; item = item->next) {
        if (item->valuestring)
            cr_wipe(item->valuestring, strlen(item->valuestring));
        if (item->string)
            cr_wipe(item->string, strlen(item->string));
        wipe_json(item->child);
    }
}

static void delete_json(cJSON *root)
{
    wipe_json(root);
    cJSON_Delete(root);
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

/* Fetches an optional string field: 0 (absent or a string), -1 (present but
** not a string, err set). *out is a new copy or NULL. */
static int string_field(const cJSON *root, const char *name, int required, const char *what, char **out,
                        cr_error *err)
{
    *out = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!item || cJSON_IsNull(item)) {
        if (required) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is missing", what, name);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not a string", what, name);
        return -1;
    }
    if (required && !*item->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is empty", what, name);
        return -1;
    }
    *out = cr_strdup(item->valuestring);
    if (!*out) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

/* OpenSSL would otherwise prompt on the terminal for an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

EVP_PKEY *cr_keyfile_load_rsa_pem(const char *pem, const char *what, const char *field, cr_error *err)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"%s\" is not a PEM RSA private key", what, field);
        return NULL;
    }
    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        const char *kind = EVP_PKEY_get0_type_name(pkey);
        cr_error_set(err, "INVALID_ARGUMENT", 0,
                     "%s: field \"%s\" is not a PEM RSA private key (key type %s; RS256 needs RSA)", what,
                     field, kind ? kind : "non-RSA");
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

void cr_keyfile_clear(cr_keyfile *kf)
{
    free(kf->client_email);
    free(kf->private_key_id);
    free(kf->token_uri);
    free(kf->project_id);
    EVP_PKEY_free(kf->pkey);
    memset(kf, 0, sizeof *kf);
}

static int parse_service_account(const cJSON *root, const char *what, cr_keyfile *kf, cr_error *err)
{
    char *pem = NULL;
    if (string_field(root, "client_email", 1, what, &kf->client_email, err) < 0 ||
        string_field(root, "private_key", 1, what, &pem, err) < 0 ||
        string_field(root, "private_key_id", 0, what, &kf->private_key_id, err) < 0 ||
        string_field(root, "token_uri", 0, what, &kf->token_uri, err) < 0 ||
        string_field(root, "project_id", 0, what, &kf->project_id, err) < 0)
        goto fail;
    if (!kf->token_uri && !(kf->token_uri = cr_strdup(CR_DEFAULT_TOKEN_URI))) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", what);
        goto fail;
    }
    if (strncmp(kf->token_uri, "https://", 8) != 0 && strncmp(kf->token_uri, "http://", 7) != 0) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"token_uri\" is not an http(s) URL", what);
        goto fail;
    }
    if (!(kf->pkey = cr_keyfile_load_rsa_pem(pem, what, "private_key", err)))
        goto fail;
    cr_secret_free(pem);
    return 0;
fail:
    cr_secret_free(pem);
    cr_keyfile_clear(kf);
    return -1;
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
    if (!cJSON_IsObject(root)) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not a JSON object", what);
        goto done;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!type) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is missing", what);
        goto done;
    }
    if (!cJSON_IsString(type) || !type->valuestring) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a string", what);
        goto done;
    }
    if (strcmp(type->valuestring, "service_account") == 0) {
        rc = parse_service_account(root, what, kf, err);
        goto done;
    }
    for (size_t i = 0; i < sizeof unsupported_types / sizeof unsupported_types[0]; i++) {
        if (strcmp(type->valuestring, unsupported_types[i]) == 0) {
            cr_error_set(err, "UNIMPLEMENTED", 0,
                         "%s: field \"type\" is \"%s\": recognised, but not supported yet (only \"service_account\" "
                         "is)",
                         what, unsupported_types[i]);
            goto done;
        }
    }
    if (quotable(type->valuestring))
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is \"%s\", which is not a credentials type", what,
                     type->valuestring);
    else
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: field \"type\" is not a credentials type", what);
done:
    delete_json(root);
    return rc;
}

static cr_credentials *from_json(const char *json, size_t len, const char *what, const char *origin,
                                 cr_error *err)
{
    cr_keyfile kf;
    if (cr_keyfile_parse(json, len, what, &kf, err) < 0)
        return NULL;
    return cr_service_account_new(&kf, origin, err);
}

cr_credentials *cr_credentials_from_file(const char *path, cr_error *err)
{
    if (!path || !*path) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "credentials file: no path given");
        return NULL;
    }
    size_t len = 0;
    char *json = cr_read_file(path, &len, "credentials file", err);
    if (!json)
        return NULL;
    char *what = cr_asprintf("credentials file %s", path);
    cr_credentials *c = NULL;
    if (!what)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "credentials file %s: out of memory", path);
    else
        c = from_json(json, len, what, path, err);
    cr_wipe(json, len);
    free(json);
    free(what);
    return c;
}

cr_credentials *cr_credentials_from_json(const char *json, size_t len, const char *origin, cr_error *err)
{
    if (!json) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "credentials JSON: none given");
        return NULL;
    }
    char *what = origin && *origin ? cr_asprintf("credentials %s", origin) : cr_strdup("credentials JSON");
    if (!what) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "credentials JSON: out of memory");
        return NULL;
    }
    cr_credentials *c = from_json(json, len, what, origin && *origin ? origin : "JSON", err);
    free(what);
    return c;
}
