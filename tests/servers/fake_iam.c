/*
** fake_iam.c — the IAM methods of cr-fake-google (fake_iam.h): a path checked
** and routed as the emulator routes it, its query and body held to the
** request message as the emulator holds them, and the emulator's rules
** (iam_policy.h) over a policy per resource name.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "fake_iam.h"
#include "iam_policy.h"
#include "json_strict.h"
#include "schema.h"

#define MAX_RECORDS 200

typedef struct kept {
    char *resource;
    emu_iam_policy *policy;
} kept;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kept *policies;
static size_t npolicies;
static cJSON *records; /* the requests, oldest first */

static const char *const verbs[] = {"getIamPolicy", "setIamPolicy", "testIamPermissions"};

/* /v2/projects/P/locations/L/jobs/J:VERB: the verb's index (the resource in out), else -1. */
static int parse(const char *url, char *resource, size_t size)
{
    static const char *const words[] = {"projects", "locations", "jobs"};
    if (strncmp(url, "/v2/", 4) != 0)
        return -1;
    const char *p = url + 4;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (strncmp(p, words[i], n) != 0 || p[n] != '/')
            return -1;
        p += n + 1;
        size_t id = strcspn(p, "/:");
        if (id == 0 || (i < 2 && p[id] != '/') || (i == 2 && p[id] != ':'))
            return -1;
        p += id + (i < 2);
    }
    for (int v = 0; v < 3; v++)
        if (strcmp(p + 1, verbs[v]) == 0) {
            snprintf(resource, size, "%.*s", (int)(p - url - 4), url + 4);
            return (size_t)(p - url - 4) < size ? v : -1;
        }
    return -1;
}

int fake_iam_path(const char *url)
{
    char resource[512];
    return parse(url, resource, sizeof resource) >= 0;
}

static void record(const char *method, const char *url, const fake_param *query, size_t nquery, const char *body,
                   size_t len)
{
    cJSON *r = cJSON_CreateObject();
    char q[1024] = "";
    for (size_t i = 0; i < nquery; i++) {
        size_t w = strlen(q);
        snprintf(q + w, sizeof q - w, "%s%s=", i ? "&" : "", query[i].key);
        for (const char *c = query[i].value ? query[i].value : ""; *c && (w = strlen(q)) + 4 < sizeof q; c++)
            snprintf(q + w, sizeof q - w, strchr("&=%+# ", *c) || (unsigned char)*c < 32 ? "%%%02X" : "%c",
                     (unsigned char)*c);
    }
    cJSON_AddStringToObject(r, "method", method);
    cJSON_AddStringToObject(r, "path", url);
    cJSON_AddStringToObject(r, "query", q);
    char *text = body ? strndup(body, len) : NULL;
    cJSON_AddItemToObject(r, "body", text ? cJSON_CreateString(text) : cJSON_CreateNull());
    free(text);
    pthread_mutex_lock(&lock);
    if (!records)
        records = cJSON_CreateArray();
    cJSON_AddItemToArray(records, r);
    if (cJSON_GetArraySize(records) > MAX_RECORDS)
        cJSON_DeleteItemFromArray(records, 0);
    pthread_mutex_unlock(&lock);
}

char *fake_iam_requests(void)
{
    pthread_mutex_lock(&lock);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "requests", records ? cJSON_Duplicate(records, 1) : cJSON_CreateArray());
    pthread_mutex_unlock(&lock);
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return text;
}

void fake_iam_free(void)
{
    for (size_t i = 0; i < npolicies; i++) {
        free(policies[i].resource);
        emu_iam_policy_free(policies[i].policy);
    }
    free(policies);
    cJSON_Delete(records);
}

/* The policy slot of a resource, made when absent; NULL out of memory. Under the lock. */
static emu_iam_policy **slot_of(const char *resource)
{
    for (size_t i = 0; i < npolicies; i++)
        if (strcmp(policies[i].resource, resource) == 0)
            return &policies[i].policy;
    kept *grown = realloc(policies, (npolicies + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    policies = grown;
    if (!(policies[npolicies].resource = strdup(resource)))
        return NULL;
    policies[npolicies].policy = NULL;
    return &policies[npolicies++].policy;
}

/* The query as the emulator reads it: GetIamPolicy's options.requestedPolicyVersion (an int32, by either
** name, once); nothing for the others. Google's system parameters pass. 0, or -1 with err set. */
static int read_query(int verb, const fake_param *query, size_t nquery, const char **version, emu_error *err)
{
    *version = NULL;
    for (size_t i = 0; i < nquery; i++) {
        const char *k = query[i].key, *v = query[i].value ? query[i].value : "";
        if (strcmp(k, "alt") == 0 || strcmp(k, "$alt") == 0 || strcmp(k, "prettyPrint") == 0)
            continue;
        int ours = verb == 0 && (strcmp(k, "options.requestedPolicyVersion") == 0 ||
                                 strcmp(k, "options.requested_policy_version") == 0);
        if (!ours) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "Invalid JSON payload received. Unknown name \"%s\": Cannot bind query parameter. Field "
                          "'%s' could not be found in request message.",
                          k, k);
            emu_error_field(err, k);
            return -1;
        }
        if (*version) {
            emu_error_set(
                err, "INVALID_ARGUMENT",
                "Invalid JSON payload received. Duplicate query parameter \"options.requestedPolicyVersion\": "
                "a field that is not repeated takes one value.");
            emu_error_field(err, "options.requested_policy_version");
            return -1;
        }
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < -2147483647L - 1 || n > 2147483647L || (v[0] == '0' && v[1])) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "Invalid value at 'options.requested_policy_version' (TYPE_INT32), \"%s\"", v);
            emu_error_field(err, "options.requested_policy_version");
            return -1;
        }
        *version = v;
    }
    return 0;
}

unsigned fake_iam_handle(const char *method, const char *url, const fake_param *query, size_t nquery, const char *body,
                         size_t len, int too_big, char **answer, const char **allow)
{
    char resource[512];
    int verb = parse(url, resource, sizeof resource);
    emu_error err = {0};
    cJSON *in = NULL, *out = NULL;
    const char *version = NULL;
    *allow = NULL;
    record(method, url, query, nquery, body, len);
    if (verb < 0) {
        emu_error_set(&err, "NOT_FOUND", "The requested URL %s was not found on this server.", url);
    } else if (strcmp(method, verb == 0 ? "GET" : "POST") != 0) {
        *allow = verb == 0 ? "GET" : "POST";
        emu_error_set_status(&err, 405, "UNIMPLEMENTED", "Method %s is not allowed on %s (allowed: %s).", method, url,
                             *allow);
    } else if (too_big) {
        emu_error_set_status(&err, 413, "INVALID_ARGUMENT", "The request body is too large.");
    } else if (read_query(verb, query, nquery, &version, &err) == 0) {
        int ok = 1;
        if (verb > 0 && body && len > 0)
            ok = (in = emu_json_parse_strict(body, len, &err)) &&
                 emu_schema_check(in, verb == 1 ? &emu_msg_set_iam_policy : &emu_msg_test_iam, "", &err) == 0;
        pthread_mutex_lock(&lock);
        emu_iam_policy **slot = ok ? slot_of(resource) : NULL;
        if (ok && !slot)
            emu_error_set(&err, "RESOURCE_EXHAUSTED", "out of memory");
        else if (ok)
            out = verb == 0   ? emu_iam_get(*slot, version, &err)
                  : verb == 1 ? emu_iam_set(slot, in, &err)
                              : emu_iam_test(in, &err);
        pthread_mutex_unlock(&lock);
    }
    cJSON_Delete(in);
    if (out) {
        *answer = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        return 200;
    }
    if (!err.status)
        emu_error_set(&err, "INTERNAL", "internal error");
    *answer = emu_error_body(&err);
    return (unsigned)err.status;
}
