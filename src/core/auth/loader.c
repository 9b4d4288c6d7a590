/*
** loader.c — credentials JSON to the credential it describes: reading a file
** (wiping every copy of its text afterwards) or taking JSON text, and the
** dispatch on "type" to the kind that handles it. Nesting (impersonation's
** source_credentials) comes back here through a pointer the kind is handed.
*/
#include <stdlib.h>
#include <string.h>

#include "auth/authorized_user.h"
#include "auth/external_account.h"
#include "auth/impersonated.h"
#include "auth/keyfile.h"
#include "auth/loader.h"
#include "auth/service_account.h"

/* source_credentials inside source_credentials ... stops here. */
#define MAX_NESTING 3

cr_credentials *cr_credentials_from_object(const cJSON *root, const char *what, const char *origin,
                                           const cr_credentials_options *opts, int depth, cr_error *err)
{
    const char *type;
    if (cr_keyfile_type(root, what, &type, err) < 0)
        return NULL;
    if (depth > MAX_NESTING) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: credentials nested more than %d deep", what, MAX_NESTING);
        return NULL;
    }
    if (strcmp(type, "service_account") == 0) {
        cr_keyfile kf;
        memset(&kf, 0, sizeof kf);
        if (cr_keyfile_from_object(root, what, &kf, err) < 0)
            return NULL;
        return cr_service_account_new(&kf, origin, opts, err);
    }
    if (strcmp(type, "authorized_user") == 0)
        return cr_authorized_user_new(root, what, origin, err);
    if (strcmp(type, "impersonated_service_account") == 0)
        return cr_impersonated_new(root, what, origin, depth, cr_credentials_from_object, err);
    if (strcmp(type, "external_account") == 0)
        return cr_external_account_new(root, what, origin, err);
    cr_keyfile_unknown_type(type, what, err);
    return NULL;
}

static cr_credentials *from_json(const char *json, size_t len, const char *what, const char *origin,
                                 const cr_credentials_options *opts, cr_error *err)
{
    size_t at = 0;
    cJSON *root = cr_json_parse(json, len, &at);
    if (!root) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: is not valid JSON (at byte %zu)", what, at);
        return NULL;
    }
    cr_credentials *c = cr_credentials_from_object(root, what, origin, opts, 0, err);
    cr_keyfile_delete_json(root);
    return c;
}

cr_credentials *cr_credentials_from_file(const char *path, cr_error *err)
{
    return cr_credentials_from_file_opts(path, NULL, err);
}

cr_credentials *cr_credentials_from_file_opts(const char *path, const cr_credentials_options *opts, cr_error *err)
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
        c = from_json(json, len, what, path, opts, err);
    cr_wipe(json, len);
    free(json);
    free(what);
    return c;
}

cr_credentials *cr_credentials_from_json(const char *json, size_t len, const char *origin, cr_error *err)
{
    return cr_credentials_from_json_opts(json, len, origin, NULL, err);
}

cr_credentials *cr_credentials_from_json_opts(const char *json, size_t len, const char *origin,
                                              const cr_credentials_options *opts, cr_error *err)
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
    cr_credentials *c = from_json(json, len, what, origin && *origin ? origin : "JSON", opts, err);
    free(what);
    return c;
}
