/*
** fuzz_client_text.c — libFuzzer target: the client's parsers of local and
** server text that are not whole HTTP answers. The first byte picks one:
** the credentials file reader (every type, any JSON), durations as users
** write them (600, 10m, 1h30m), ProtoJSON Durations as servers send them
** (RetryInfo's retryDelay), a --env-vars-file YAML map (and the same text as
** any YAML document, a policy file), and JSON turned into
** an error through google.rpc.Status. Findings: a crash, a duration out of
** range or negative, a YAML result that is not a map of strings, an error
** without a code, a secret of the file (a refresh token, a client secret, a
** private key's text) in its error.
*/
#include "fuzz_client.h"

#include "util/util.h"

/* The value of `field` in a JSON object text, when it is a long enough string. */
static char *field(const cJSON *root, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    return cJSON_IsString(v) && strlen(v->valuestring) >= 16 ? strdup(v->valuestring) : NULL;
}

/* How many times `needle` occurs in text[0..len). */
static int count(const char *text, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), needle, nl)); p++)
        n++;
    return n;
}

/* A "secret" that is part of what our messages say themselves (the endpoints they name
** as expected) is no leak when it shows: the fuzzer found ".googleapis.com/v1/pr". */
static int in_our_wording(const char *secret)
{
    static const char *const ours[] = {
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken",
        "https://oauth2.googleapis.com/token",
        "https://sts.googleapis.com/v1/token",
    };
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strstr(ours[i], secret))
            return 1;
    return 0;
}

static void credentials(const char *text, size_t len)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_json(text, len, "fuzz.json", &err);
    if (c) {
        (void)cr_credentials_type(c);
        (void)cr_credentials_account(c);
        (void)cr_credentials_project(c);
        (void)cr_credentials_key(c);
        cr_credentials_unref(c);
        return;
    }
    if (!err.code[0])
        abort();
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (root) {
        const char *names[] = {"refresh_token", "client_secret", "private_key"};
        for (size_t i = 0; i < 3; i++) {
            char *secret = field(root, names[i]);
            /* a secret that is also elsewhere in the file (a type, a name) may be quoted from there */
            if (secret && count(text, len, secret) == 1 && !in_our_wording(secret))
                fz_no_secret(&err, secret);
            free(secret);
        }
        cJSON_Delete(root);
    }
    cr_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    size_t len = size - 1;
    switch (data[0] % 5) {
    case 0:
        credentials(text, len);
        break;
    case 1: {
        int64_t ns = 0;
        if (cr_duration_parse(text, &ns) == 0 && ns < 0)
            abort();
        char buf[64];
        if (cr_duration_parse(text, &ns) == 0)
            (void)cr_duration_format(ns, buf, sizeof buf);
        break;
    }
    case 2: {
        double s = 0;
        if (cr_duration_parse_proto(text, &s) == 0 && !(s >= -315576000000.0 && s <= 315576000000.0))
            abort();
        break;
    }
    case 3: {
        cr_error err = CR_ERROR_INIT;
        cJSON *map = cr_yaml_string_map(text, len, "env.yaml", &err);
        int took_names = map && map->child;
        if (map) {
            if (!cJSON_IsObject(map))
                abort();
            for (const cJSON *e = map->child; e; e = e->next)
                if (!cJSON_IsString(e) || !e->string)
                    abort();
            cJSON_Delete(map);
        } else if (!err.code[0]) {
            abort();
        }
        cr_error_clear(&err);
        /* the same text as any document (a policy file): a map the map reader took is a map here too */
        cJSON *doc = cr_yaml_json(text, len, "policy.yaml", &err);
        if ((!doc && !err.code[0]) || (took_names && !cJSON_IsObject(doc)))
            abort();
        cJSON_Delete(doc);
        cr_error_clear(&err);
        break;
    }
    default: {
        cJSON *status = cr_json_parse(text, len, NULL);
        cr_error err = CR_ERROR_INIT;
        cr_api_status_to_error(status, 503, &err);
        if (!err.code[0])
            abort();
        cr_error_clear(&err);
        cJSON_Delete(status);
        break;
    }
    }
    free(text);
    return 0;
}
