/*
** job_spec.c — input JSON: accepting a Job the way Google's API does
** (camelCase or snake_case, output-only fields ignored, proto3 defaults),
** filling server defaults, validating what the emulator needs to run it, and
** applying RunJob overrides.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enum_encoding.h"
#include "job_spec.h"
#include "store.h"
#include "wire_values.h"

/* Keys whose values are maps with user-chosen keys: never rewritten. */
static int is_map_field(const char *key)
{
    return key && (strcmp(key, "labels") == 0 || strcmp(key, "annotations") == 0 ||
                   strcmp(key, "nodeSelector") == 0 || strcmp(key, "limits") == 0);
}

void emu_json_camelize(cJSON *node)
{
    for (cJSON *c = node ? node->child : NULL; c; c = c->next) {
        if (cJSON_IsObject(node) && c->string && strchr(c->string, '_')) {
            char *k = c->string, *w = k;
            for (char *r = k; *r; r++) {
                if (*r == '_' && r[1] && w != k) {
                    *w++ = (char)toupper((unsigned char)*++r);
                } else {
                    *w++ = *r;
                }
            }
            *w = '\0';
        }
        if (!is_map_field(c->string))
            emu_json_camelize(c);
    }
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
        sscanf(name, "projects/%255[^/]/locations/%255[^/]/jobs/%255[^/]%n", p, l, j, &used) != 3 ||
        name[used] != '\0')
        return -1;
    *project = emu_strdup(p);
    *location = emu_strdup(l);
    *id = emu_strdup(j);
    return 0;
}

/* Fields the server owns: ignored on input. */
static const char *const output_only[] = {
    "name", "uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime", "creator",
    "lastModifier", "observedGeneration", "terminalCondition", "conditions", "executionCount",
    "latestCreatedExecution", "reconciling", "satisfiesPzs", "etag", NULL,
};

static int check_int(const cJSON *obj, const char *key, const char *path, int lo, int hi, emu_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi) {
        emu_error_set(err, "INVALID_ARGUMENT", "%s.%s must be an integer between %d and %d.", path, key, lo, hi);
        return -1;
    }
    return 0;
}

static int check_string_array(const cJSON *obj, const char *key, const char *path, emu_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        goto bad;
    for (const cJSON *el = v->child; el; el = el->next)
        if (!cJSON_IsString(el))
            goto bad;
    return 0;
bad:
    emu_error_set(err, "INVALID_ARGUMENT", "%s.%s must be a list of strings.", path, key);
    return -1;
}

static int check_env(const cJSON *env, const char *path, emu_error *err)
{
    if (!env)
        return 0;
    if (!cJSON_IsArray(env)) {
        emu_error_set(err, "INVALID_ARGUMENT", "%s must be a list of {name, value}.", path);
        return -1;
    }
    int i = 0;
    for (const cJSON *el = env->child; el; el = el->next, i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(el, "name");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(el, "value");
        if (!cJSON_IsObject(el) || !cJSON_IsString(name) || !name->valuestring[0] || strchr(name->valuestring, '=')) {
            emu_error_set(err, "INVALID_ARGUMENT", "%s[%d].name must be a non-empty string without '='.", path, i);
            return -1;
        }
        if (value && !cJSON_IsString(value) && !cJSON_IsNull(value)) {
            emu_error_set(err, "INVALID_ARGUMENT", "%s[%d].value must be a string.", path, i);
            return -1;
        }
        if (strncmp(name->valuestring, "CLOUD_RUN_", 10) == 0) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "%s[%d].name: '%s' is reserved (CLOUD_RUN_* variables are set by Cloud Run).", path, i,
                          name->valuestring);
            return -1;
        }
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
        emu_error_set(err, "INVALID_ARGUMENT",
                      "%s.timeout must be a Duration above 0s and at most %llds (168 hours), such as \"600s\".", path,
                      (long long)EMU_MAX_TASK_TIMEOUT_S);
        return -1;
    }
    return 0;
}

/* The checks that keep the runner safe: types it reads, and ranges Cloud Run enforces. */
static int validate(const cJSON *spec, emu_error *err)
{
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(spec, "template");
    if (!cJSON_IsObject(et)) {
        emu_error_set(err, "INVALID_ARGUMENT", "job.template is required (an ExecutionTemplate).");
        return -1;
    }
    if (check_int(et, "taskCount", "job.template", 0, EMU_MAX_TASKS, err) < 0 ||
        check_int(et, "parallelism", "job.template", 0, EMU_MAX_TASKS, err) < 0)
        return -1;
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(et, "template");
    if (!cJSON_IsObject(tt)) {
        emu_error_set(err, "INVALID_ARGUMENT", "job.template.template is required (a TaskTemplate).");
        return -1;
    }
    if (check_int(tt, "maxRetries", "job.template.template", 0, EMU_MAX_RETRIES, err) < 0 ||
        check_timeout(tt, "job.template.template", err) < 0)
        return -1;
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(tt, "containers");
    if (!cJSON_IsArray(containers) || !containers->child) {
        emu_error_set(err, "INVALID_ARGUMENT", "job.template.template.containers must list at least one container.");
        return -1;
    }
    int i = 0;
    for (const cJSON *c = containers->child; c; c = c->next, i++) {
        char path[96];
        snprintf(path, sizeof path, "job.template.template.containers[%d]", i);
        if (!cJSON_IsObject(c)) {
            emu_error_set(err, "INVALID_ARGUMENT", "%s must be an object (a Container).", path);
            return -1;
        }
        const cJSON *wd = cJSON_GetObjectItemCaseSensitive(c, "workingDir");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *image = cJSON_GetObjectItemCaseSensitive(c, "image");
        char envpath[128];
        snprintf(envpath, sizeof envpath, "%s.env", path);
        if (check_string_array(c, "command", path, err) < 0 || check_string_array(c, "args", path, err) < 0 ||
            check_env(cJSON_GetObjectItemCaseSensitive(c, "env"), envpath, err) < 0)
            return -1;
        if ((wd && !cJSON_IsString(wd)) || (name && !cJSON_IsString(name)) || (image && !cJSON_IsString(image))) {
            emu_error_set(err, "INVALID_ARGUMENT", "%s: name, image and workingDir must be strings.", path);
            return -1;
        }
    }
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
    if (!cJSON_IsObject(body)) {
        emu_error_set(err, "INVALID_ARGUMENT", "Invalid JSON payload received. A Job must be a JSON object.");
        return NULL;
    }
    cJSON *spec = cJSON_Duplicate(body, 1);
    if (!spec) {
        emu_error_set(err, "INTERNAL", "out of memory");
        return NULL;
    }
    emu_json_camelize(spec);
    emu_enums_to_names(spec); /* stored as names, whichever a client sent */
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
    if (!overrides || cJSON_IsNull(overrides))
        return tt;
    if (!cJSON_IsObject(overrides)) {
        emu_error_set(err, "INVALID_ARGUMENT", "overrides must be an object.");
        goto fail;
    }
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(overrides, "taskCount");
    if (n && !cJSON_IsNull(n)) {
        if (!cJSON_IsNumber(n) || n->valuedouble != (double)(long long)n->valuedouble || n->valuedouble < 0 ||
            n->valuedouble > EMU_MAX_TASKS) {
            emu_error_set(err, "INVALID_ARGUMENT", "overrides.taskCount must be an integer between 0 and %d.",
                          EMU_MAX_TASKS);
            goto fail;
        }
        if (n->valueint > 0) /* 0 is proto3's "not set" */
            *task_count = n->valueint;
    }
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(overrides, "timeout");
    if (timeout && !cJSON_IsNull(timeout)) {
        emu_duration d;
        if (!cJSON_IsString(timeout) || emu_duration_parse(timeout->valuestring, &d) < 0 ||
            emu_duration_less(d, (emu_duration){0, 0}) ||
            emu_duration_less((emu_duration){EMU_MAX_TASK_TIMEOUT_S, 0}, d)) {
            emu_error_set(err, "INVALID_ARGUMENT",
                          "overrides.timeout must be a Duration from 0s to %llds (168 hours), such as \"600s\".",
                          (long long)EMU_MAX_TASK_TIMEOUT_S);
            goto fail;
        }
        if (d.seconds || d.nanos) /* 0 is proto3's "not set" */
            set_item(tt, "timeout", cJSON_CreateString(timeout->valuestring));
    }
    const cJSON *cos = cJSON_GetObjectItemCaseSensitive(overrides, "containerOverrides");
    if (cos && !cJSON_IsNull(cos) && !cJSON_IsArray(cos)) {
        emu_error_set(err, "INVALID_ARGUMENT", "overrides.containerOverrides must be a list.");
        goto fail;
    }
    cJSON *containers = cJSON_GetObjectItemCaseSensitive(tt, "containers");
    int i = 0;
    for (const cJSON *co = cJSON_IsArray(cos) ? cos->child : NULL; co; co = co->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "overrides.containerOverrides[%d]", i);
        if (!cJSON_IsObject(co)) {
            emu_error_set(err, "INVALID_ARGUMENT", "%s must be an object.", path);
            goto fail;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(co, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(co, "args");
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(co, "env");
        const cJSON *clear = cJSON_GetObjectItemCaseSensitive(co, "clearArgs");
        char envpath[96];
        snprintf(envpath, sizeof envpath, "%s.env", path);
        if ((name && !cJSON_IsString(name) && !cJSON_IsNull(name)) ||
            check_string_array(co, "args", path, err) < 0 || check_env(env, envpath, err) < 0 ||
            (clear && !cJSON_IsBool(clear))) {
            if (!err->status)
                emu_error_set(err, "INVALID_ARGUMENT", "%s: name must be a string and clearArgs a boolean.", path);
            goto fail;
        }
        cJSON *target = containers ? containers->child : NULL;
        if (cJSON_IsString(name) && name->valuestring[0]) {
            target = containers ? find_container(containers, name->valuestring) : NULL;
            if (!target) {
                emu_error_set(err, "INVALID_ARGUMENT",
                              "%s.name: container '%s' does not exist in job '%s'.", path, name->valuestring, job_id);
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
    }
    return tt;
fail:
    cJSON_Delete(tt);
    return NULL;
}
