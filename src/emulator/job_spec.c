/*
** job_spec.c — input JSON: accepting a Job the way Google's API does
** (camelCase or snake_case, output-only fields ignored, proto3 defaults),
** filling server defaults, validating what the emulator needs to run it, and
** applying RunJob overrides.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_spec.h"
#include "store.h"
#include "utf8.h"
#include "wire_values.h"

/* Keys whose values are maps with user-chosen keys. */
static int is_map_field(const char *key)
{
    return key && (strcmp(key, "labels") == 0 || strcmp(key, "annotations") == 0 || strcmp(key, "limits") == 0);
}

/* Drops members holding proto3 default values (null, false, 0, "", {} and
** []), as Google's JSON never carries them. maxRetries is the exception: it is
** a presence-tracked field, so an explicit 0 means "no retries". Array
** elements are kept: an empty argument is still an argument. */
static void prune_defaults(cJSON *obj)
{
    cJSON *c = obj ? obj->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            if (cJSON_IsObject(c) && !is_map_field(c->string))
                prune_defaults(c);
            if (cJSON_IsArray(c))
                for (cJSON *el = c->child; el; el = el->next)
                    if (cJSON_IsObject(el))
                        prune_defaults(el);
        }
        int dflt = cJSON_IsNull(c) || cJSON_IsFalse(c) || (cJSON_IsNumber(c) && c->valuedouble == 0) ||
                   (cJSON_IsString(c) && c->valuestring[0] == '\0') ||
                   ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !c->child);
        if (cJSON_IsObject(obj) && dflt && !(c->string && strcmp(c->string, "maxRetries") == 0 && cJSON_IsNumber(c)))
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
}

int emu_job_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 63 || !islower((unsigned char)id[0]) || id[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)id[i]) && !isdigit((unsigned char)id[i]) && id[i] != '-')
            return 0;
    return 1;
}

int emu_job_name_split(const char *name, char **project, char **location, char **id)
{
    char p[256], l[256], j[256];
    int used = 0;
    *project = *location = *id = NULL;
    if (!name || strlen(name) > 700 ||
        sscanf(name, "projects/%255[^/]/locations/%255[^/]/jobs/%255[^/]%n", p, l, j, &used) != 3 || name[used] != '\0')
        return -1;
    *project = emu_strdup(p);
    *location = emu_strdup(l);
    *id = emu_strdup(j);
    return 0;
}

/* Fields the server owns: ignored on input. */
static const char *const output_only[] = {
    "name",
    "uid",
    "generation",
    "createTime",
    "updateTime",
    "deleteTime",
    "expireTime",
    "creator",
    "lastModifier",
    "observedGeneration",
    "terminalCondition",
    "conditions",
    "executionCount",
    "latestCreatedExecution",
    "reconciling",
    "satisfiesPzs",
    "etag",
    NULL,
};

/* Sets an INVALID_ARGUMENT naming field (printf-formatted path) as the violation. */
static int bad_field(emu_error *err, const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int bad_field(emu_error *err, const char *field, const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emu_error_set(err, "INVALID_ARGUMENT", "%s", msg);
    emu_error_field(err, field);
    return -1;
}

/* An int32 field already typed by the schema (schema.c): its range. */
static int check_int(const cJSON *obj, const char *key, const char *path, int lo, int hi, emu_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || (cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi))
        return 0;
    char field[160];
    snprintf(field, sizeof field, "%s", path);
    return bad_field(err, field, "%s must be an integer between %d and %d.", path, lo, hi);
}

/* A DNS label (RFC 1123) as Kubernetes names containers and volumes. */
static int dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int check_env(const cJSON *env, const char *path, emu_error *err)
{
    int i = 0;
    for (const cJSON *el = env ? env->child : NULL; el; el = el->next, i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(el, "name");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(el, "value");
        char field[160];
        snprintf(field, sizeof field, "%s[%d].name", path, i);
        if (i == EMU_MAX_ENV)
            return bad_field(err, path, "%s: at most %d environment variables per container.", path, EMU_MAX_ENV);
        if (!cJSON_IsString(name) || !name->valuestring[0] || strchr(name->valuestring, '='))
            return bad_field(err, field, "%s must be a non-empty string without '='.", field);
        if (strlen(name->valuestring) > EMU_MAX_ENV_BYTES)
            return bad_field(err, field, "%s is longer than %d bytes.", field, EMU_MAX_ENV_BYTES);
        if (strncmp(name->valuestring, "CLOUD_RUN_", 10) == 0)
            return bad_field(err, field, "%s: '%s' is reserved (CLOUD_RUN_* variables are set by Cloud Run).", field,
                             name->valuestring);
        snprintf(field, sizeof field, "%s[%d].value", path, i);
        if (cJSON_IsString(value) && strlen(value->valuestring) > EMU_MAX_ENV_BYTES)
            return bad_field(err, field, "%s is longer than %d bytes.", field, EMU_MAX_ENV_BYTES);
    }
    return 0;
}

/* A task timeout: a Duration above zero and at most EMU_MAX_TASK_TIMEOUT_S. */
static int check_timeout(const cJSON *obj, const char *path, emu_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    emu_duration d;
    if (v && (!cJSON_IsString(v) || emu_duration_parse(v->valuestring, &d) < 0 ||
              !emu_duration_less((emu_duration){0, 0}, d) ||
              emu_duration_less((emu_duration){EMU_MAX_TASK_TIMEOUT_S, 0}, d))) {
        char field[160];
        snprintf(field, sizeof field, "%s.timeout", path);
        return bad_field(err, field, "%s must be a Duration above 0s and at most %llds (168 hours), such as \"600s\".",
                         field, (long long)EMU_MAX_TASK_TIMEOUT_S);
    }
    return 0;
}

/* Google Cloud's label rules: at most 64; keys start with a lowercase letter;
** keys and values use lowercase letters, digits, '_' and '-' (and letters
** beyond ASCII), at most 63 characters. */
static int check_labels(const cJSON *labels, const char *path, emu_error *err)
{
    int n = 0;
    for (const cJSON *l = labels ? labels->child : NULL; l; l = l->next, n++) {
        char field[320];
        snprintf(field, sizeof field, "%s[%s]", path, l->string);
        if (n == 64)
            return bad_field(err, path, "%s: at most 64 labels.", path);
        const char *k = l->string, *v = l->valuestring;
        int ok = k[0] && (islower((unsigned char)k[0]) || (unsigned char)k[0] >= 0x80) && emu_utf8_length(k) <= 63 &&
                 emu_utf8_length(v) <= 63;
        for (const char *p = k; ok && *p; p++)
            ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-' ||
                 (unsigned char)*p >= 0x80;
        for (const char *p = v; ok && *p; p++)
            ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-' ||
                 (unsigned char)*p >= 0x80;
        if (!ok)
            return bad_field(err, field,
                             "%s: label keys start with a lowercase letter; keys and values hold lowercase letters, "
                             "digits, '_' and '-', at most 63 characters.",
                             field);
    }
    return 0;
}

/* Annotations: Kubernetes' size, and the namespaces Cloud Run v2 reserves. */
static int check_annotations(const cJSON *annotations, const char *path, emu_error *err)
{
    static const char *const reserved[] = {"run.googleapis.com/", "cloud.googleapis.com/", "serving.knative.dev/",
                                           "autoscaling.knative.dev/", NULL};
    size_t total = 0;
    for (const cJSON *a = annotations ? annotations->child : NULL; a; a = a->next) {
        char field[320];
        snprintf(field, sizeof field, "%s[%s]", path, a->string);
        total += strlen(a->string) + strlen(a->valuestring);
        if (total > EMU_MAX_ANNOTATION_BYTES)
            return bad_field(err, path, "%s: at most %d bytes of keys and values in all.", path,
                             EMU_MAX_ANNOTATION_BYTES);
        if (!a->string[0] || strlen(a->string) > 317)
            return bad_field(err, field, "%s: an annotation key is 1 to 317 characters.", field);
        for (int i = 0; reserved[i]; i++)
            if (strncmp(a->string, reserved[i], strlen(reserved[i])) == 0)
                return bad_field(err, field, "%s: the %.*s namespace is reserved.", field, (int)strlen(reserved[i]) - 1,
                                 reserved[i]);
    }
    return 0;
}

/* What Cloud Run checks beyond the types (the schema has checked those): ranges, sizes, names. */
static int validate(const cJSON *spec, emu_error *err)
{
    if (check_labels(cJSON_GetObjectItemCaseSensitive(spec, "labels"), "job.labels", err) < 0 ||
        check_annotations(cJSON_GetObjectItemCaseSensitive(spec, "annotations"), "job.annotations", err) < 0)
        return -1;
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(spec, "template");
    if (!cJSON_IsObject(et))
        return bad_field(err, "job.template", "job.template is required (an ExecutionTemplate).");
    if (check_int(et, "taskCount", "job.template.task_count", 0, EMU_MAX_TASKS, err) < 0 ||
        check_int(et, "parallelism", "job.template.parallelism", 0, EMU_MAX_TASKS, err) < 0 ||
        check_labels(cJSON_GetObjectItemCaseSensitive(et, "labels"), "job.template.labels", err) < 0 ||
        check_annotations(cJSON_GetObjectItemCaseSensitive(et, "annotations"), "job.template.annotations", err) < 0)
        return -1;
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(et, "template");
    if (!cJSON_IsObject(tt))
        return bad_field(err, "job.template.template", "job.template.template is required (a TaskTemplate).");
    if (check_int(tt, "maxRetries", "job.template.template.max_retries", 0, EMU_MAX_RETRIES, err) < 0 ||
        check_timeout(tt, "job.template.template", err) < 0)
        return -1;
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(tt, "containers");
    if (!containers || !containers->child)
        return bad_field(err, "job.template.template.containers",
                         "job.template.template.containers must list at least one container.");
    if (cJSON_GetArraySize(containers) > EMU_MAX_CONTAINERS)
        return bad_field(err, "job.template.template.containers",
                         "job.template.template.containers: at most %d containers.", EMU_MAX_CONTAINERS);
    int i = 0;
    for (const cJSON *c = containers->child; c; c = c->next, i++) {
        char path[96], field[128];
        snprintf(path, sizeof path, "job.template.template.containers[%d]", i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        snprintf(field, sizeof field, "%s.name", path);
        if (name && !dns_label(name->valuestring))
            return bad_field(err, field,
                             "%s must be a DNS label: lowercase letters, digits and '-', at most 63 characters, "
                             "not starting or ending with '-'.",
                             field);
        for (const cJSON *o = containers->child; name && o != c; o = o->next) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(o, "name");
            if (other && strcmp(other->valuestring, name->valuestring) == 0)
                return bad_field(err, field, "%s: container names must be unique ('%s' is used twice).", field,
                                 name->valuestring);
        }
        snprintf(field, sizeof field, "%s.env", path);
        if (check_env(cJSON_GetObjectItemCaseSensitive(c, "env"), field, err) < 0)
            return -1;
    }
    return 0;
}

const char *emu_spec_token(const cJSON *spec, int *run)
{
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(spec, "startExecutionToken");
    const cJSON *token = start ? start : cJSON_GetObjectItemCaseSensitive(spec, "runExecutionToken");
    *run = !start;
    return cJSON_IsString(token) && token->valuestring[0] ? token->valuestring : NULL;
}

/*
** The token ends the execution's id, JOB-TOKEN: lowercase letters, digits
** and '-', not ending with '-', and the whole at most 63 characters (a DNS
** label, as every execution id). The API's "the sum of job name and token
** length must be fewer than 63 characters" is the same bound: the '-' is
** the 63rd character.
*/
int emu_job_token_check(const cJSON *spec, const char *job_id, emu_error *err)
{
    int run;
    const char *token = emu_spec_token(spec, &run);
    if (!token)
        return 0;
    const char *field = run ? "job.run_execution_token" : "job.start_execution_token";
    size_t n = strlen(token), used = strlen(job_id) + n;
    int ok = token[n - 1] != '-';
    for (const char *p = token; ok && *p; p++)
        ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-';
    if (!ok)
        return bad_field(err, field,
                         "%s may hold only lowercase letters, digits and '-', and must not end with '-': it ends the "
                         "name of the execution it starts (JOB-TOKEN).",
                         field);
    if (used >= 63)
        return bad_field(err, field,
                         "%s: the job name and the token must be fewer than 63 characters together (here %zu + %zu).",
                         field, strlen(job_id), n);
    return 0;
}

static cJSON *object_at(cJSON *obj, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsObject(v)) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        v = cJSON_AddObjectToObject(obj, key);
    }
    return v;
}

cJSON *emu_job_spec_from_json(const cJSON *body, emu_error *err)
{
    if (!body) /* no body at all: a Job without its template */
        return bad_field(err, "job.template", "job.template is required (an ExecutionTemplate)."), NULL;
    if (!cJSON_IsObject(body)) { /* the schema has checked it: a caller's mistake */
        emu_error_set(err, "INTERNAL", "A Job must be a JSON object.");
        return NULL;
    }
    cJSON *spec = cJSON_Duplicate(body, 1);
    if (!spec) {
        emu_error_set(err, "INTERNAL", "out of memory");
        return NULL;
    }
    for (int i = 0; output_only[i]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(spec, output_only[i]);
    /* Server defaults are judged before pruning: an explicit maxRetries 0 must stay 0. */
    if (validate(spec, err) < 0) {
        cJSON_Delete(spec);
        return NULL;
    }
    prune_defaults(spec);
    cJSON *et = object_at(spec, "template");
    cJSON *tt = object_at(et, "template");
    if (!cJSON_GetObjectItemCaseSensitive(et, "taskCount"))
        cJSON_AddNumberToObject(et, "taskCount", 1);
    if (!cJSON_GetObjectItemCaseSensitive(tt, "maxRetries"))
        cJSON_AddNumberToObject(tt, "maxRetries", 3);
    if (!cJSON_GetObjectItemCaseSensitive(tt, "timeout"))
        cJSON_AddStringToObject(tt, "timeout", "600s");
    return spec;
}

/* Env merge: an override replaces the variable of the same name, else is appended. */
static void merge_env(cJSON *container, const cJSON *env)
{
    cJSON *mine = cJSON_GetObjectItemCaseSensitive(container, "env");
    if (!mine)
        mine = cJSON_AddArrayToObject(container, "env");
    for (const cJSON *o = env->child; o; o = o->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring;
        cJSON *copy = cJSON_Duplicate(o, 1);
        cJSON *old = mine->child;
        int i = 0;
        for (; old; old = old->next, i++) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(old, "name");
            if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
                break;
        }
        if (old)
            cJSON_ReplaceItemInArray(mine, i, copy);
        else
            cJSON_AddItemToArray(mine, copy);
    }
}

static void set_item(cJSON *obj, const char *key, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, item);
}

static cJSON *find_container(cJSON *containers, const char *name)
{
    for (cJSON *c = containers->child; c; c = c->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return c;
    }
    return NULL;
}

cJSON *emu_overrides_apply(const cJSON *spec, const cJSON *overrides, const char *job_id, int *task_count,
                           emu_error *err)
{
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(spec, "template");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(et, "taskCount");
    *task_count = cJSON_IsNumber(count) && count->valueint > 0 ? count->valueint : 1;
    cJSON *tt = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(et, "template"), 1);
    if (!tt) {
        emu_error_set(err, "INTERNAL", "out of memory");
        return NULL;
    }
    if (!overrides) /* the schema has checked its types; the ranges and names follow */
        return tt;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(overrides, "taskCount");
    if (n) {
        if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > EMU_MAX_TASKS) {
            bad_field(err, "overrides.task_count", "overrides.task_count must be an integer between 0 and %d.",
                      EMU_MAX_TASKS);
            goto fail;
        }
        if (n->valueint > 0) /* 0 is proto3's "not set" */
            *task_count = n->valueint;
    }
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(overrides, "timeout");
    if (timeout) {
        emu_duration d;
        if (!cJSON_IsString(timeout) || emu_duration_parse(timeout->valuestring, &d) < 0 ||
            emu_duration_less(d, (emu_duration){0, 0}) ||
            emu_duration_less((emu_duration){EMU_MAX_TASK_TIMEOUT_S, 0}, d)) {
            bad_field(err, "overrides.timeout",
                      "overrides.timeout must be a Duration from 0s to %llds (168 hours), such as \"600s\".",
                      (long long)EMU_MAX_TASK_TIMEOUT_S);
            goto fail;
        }
        if (d.seconds || d.nanos) /* 0 is proto3's "not set" */
            set_item(tt, "timeout", cJSON_CreateString(timeout->valuestring));
    }
    const cJSON *cos = cJSON_GetObjectItemCaseSensitive(overrides, "containerOverrides");
    cJSON *containers = cJSON_GetObjectItemCaseSensitive(tt, "containers");
    int i = 0;
    for (const cJSON *co = cos ? cos->child : NULL; co; co = co->next, i++) {
        char path[64], field[96];
        snprintf(path, sizeof path, "overrides.container_overrides[%d]", i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(co, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(co, "args");
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(co, "env");
        const cJSON *clear = cJSON_GetObjectItemCaseSensitive(co, "clearArgs");
        snprintf(field, sizeof field, "%s.env", path);
        if (check_env(env, field, err) < 0)
            goto fail;
        cJSON *target = containers ? containers->child : NULL;
        if (cJSON_IsString(name) && name->valuestring[0]) {
            target = containers ? find_container(containers, name->valuestring) : NULL;
            if (!target) {
                snprintf(field, sizeof field, "%s.name", path);
                bad_field(err, field, "%s: container '%s' does not exist in job '%s'.", field, name->valuestring,
                          job_id);
                goto fail;
            }
        }
        if (!target) {
            emu_error_set(err, "INVALID_ARGUMENT", "Job '%s' has no container to override.", job_id);
            goto fail;
        }
        if (cJSON_IsTrue(clear))
            cJSON_DeleteItemFromObjectCaseSensitive(target, "args");
        if (args && args->child) /* an empty list is proto3's "not set": the job's args stay */
            set_item(target, "args", cJSON_Duplicate(args, 1));
        if (env && env->child)
            merge_env(target, env);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(target, "env")) > EMU_MAX_ENV) {
            bad_field(err, field, "%s: the merged environment has more than %d variables.", field, EMU_MAX_ENV);
            goto fail;
        }
    }
    return tt;
fail:
    cJSON_Delete(tt);
    return NULL;
}
