/*
** enum_encoding.c — name <-> number tables of the enums a Job, Execution or
** Task carries (and an IAM policy's audit configs), from the published protos
** (google/cloud/run/v2/condition.proto, job.proto, vendor_settings.proto,
** k8s.min.proto, google/api/launch_stage.proto, google/iam/v1/policy.proto),
** and the walk that rewrites them. Fields are recognised by key: in these
** resources each enum field's key is used by that enum alone.
*/
#include <math.h>
#include <string.h>

#include "enum_encoding.h"
#include "json_strict.h"

typedef struct enum_value {
    const char *name;
    int number;
} enum_value;

static const enum_value condition_state[] = {
    {"STATE_UNSPECIFIED", 0}, {"CONDITION_PENDING", 1},   {"CONDITION_RECONCILING", 2},
    {"CONDITION_FAILED", 3},  {"CONDITION_SUCCEEDED", 4}, {NULL, 0},
};
static const enum_value severity[] = {
    {"SEVERITY_UNSPECIFIED", 0}, {"ERROR", 1}, {"WARNING", 2}, {"INFO", 3}, {NULL, 0},
};
static const enum_value common_reason[] = {
    {"COMMON_REASON_UNDEFINED", 0},
    {"UNKNOWN", 1},
    {"REVISION_FAILED", 3},
    {"PROGRESS_DEADLINE_EXCEEDED", 4},
    {"CONTAINER_MISSING", 6},
    {"CONTAINER_PERMISSION_DENIED", 7},
    {"CONTAINER_IMAGE_UNAUTHORIZED", 8},
    {"CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED", 9},
    {"ENCRYPTION_KEY_PERMISSION_DENIED", 10},
    {"ENCRYPTION_KEY_CHECK_FAILED", 11},
    {"SECRETS_ACCESS_CHECK_FAILED", 12},
    {"WAITING_FOR_OPERATION", 13},
    {"IMMEDIATE_RETRY", 14},
    {"POSTPONED_RETRY", 15},
    {"INTERNAL", 16},
    {"VPC_NETWORK_NOT_FOUND", 17},
    {NULL, 0},
};
static const enum_value revision_reason[] = {
    {"REVISION_REASON_UNDEFINED", 0},
    {"PENDING", 1},
    {"RESERVE", 2},
    {"RETIRED", 3},
    {"RETIRING", 4},
    {"RECREATING", 5},
    {"HEALTH_CHECK_CONTAINER_ERROR", 6},
    {"CUSTOMIZED_PATH_RESPONSE_PENDING", 7},
    {"MIN_INSTANCES_NOT_PROVISIONED", 8},
    {"ACTIVE_REVISION_LIMIT_REACHED", 9},
    {"NO_DEPLOYMENT", 10},
    {"HEALTH_CHECK_SKIPPED", 11},
    {"MIN_INSTANCES_WARMING", 12},
    {NULL, 0},
};
static const enum_value execution_reason[] = {
    {"EXECUTION_REASON_UNDEFINED", 0},
    {"JOB_STATUS_SERVICE_POLLING_ERROR", 1},
    {"NON_ZERO_EXIT_CODE", 2},
    {"CANCELLED", 3},
    {"CANCELLING", 4},
    {"DELETED", 5},
    {"DELAYED_START_PENDING", 6},
    {NULL, 0},
};
static const enum_value launch_stage[] = {
    {"LAUNCH_STAGE_UNSPECIFIED", 0},
    {"UNIMPLEMENTED", 6},
    {"PRELAUNCH", 7},
    {"EARLY_ACCESS", 1},
    {"ALPHA", 2},
    {"BETA", 3},
    {"GA", 4},
    {"DEPRECATED", 5},
    {NULL, 0},
};
static const enum_value completion_status[] = {
    {"COMPLETION_STATUS_UNSPECIFIED", 0},
    {"EXECUTION_SUCCEEDED", 1},
    {"EXECUTION_FAILED", 2},
    {"EXECUTION_RUNNING", 3},
    {"EXECUTION_PENDING", 4},
    {"EXECUTION_CANCELLED", 5},
    {NULL, 0},
};
static const enum_value execution_environment[] = {
    {"EXECUTION_ENVIRONMENT_UNSPECIFIED", 0},
    {"EXECUTION_ENVIRONMENT_GEN1", 1},
    {"EXECUTION_ENVIRONMENT_GEN2", 2},
    {NULL, 0},
};
static const enum_value vpc_egress[] = {
    {"VPC_EGRESS_UNSPECIFIED", 0},
    {"ALL_TRAFFIC", 1},
    {"PRIVATE_RANGES_ONLY", 2},
    {NULL, 0},
};
static const enum_value medium[] = {
    {"MEDIUM_UNSPECIFIED", 0},
    {"MEMORY", 1},
    {NULL, 0},
};

static const enum_value log_type[] = {
    /* google.iam.v1.AuditLogConfig.LogType */
    {"LOG_TYPE_UNSPECIFIED", 0}, {"ADMIN_READ", 1}, {"DATA_WRITE", 2}, {"DATA_READ", 3}, {NULL, 0},
};

static const struct {
    const char *key;
    const enum_value *values;
} fields[] = {
    {"state", condition_state},
    {"severity", severity},
    {"reason", common_reason},
    {"revisionReason", revision_reason},
    {"executionReason", execution_reason},
    {"launchStage", launch_stage},
    {"completionStatus", completion_status},
    {"executionEnvironment", execution_environment},
    {"egress", vpc_egress},
    {"medium", medium},
    {"logType", log_type},
};

int emu_alt_wants_int_enums(const char *alt)
{
    return alt && strstr(alt, "enum-encoding=int") != NULL;
}

static const enum_value *table_for(const char *key)
{
    for (size_t i = 0; key && i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].key, key) == 0)
            return fields[i].values;
    return NULL;
}

static int is_map_field(const char *key)
{
    return key && (strcmp(key, "labels") == 0 || strcmp(key, "annotations") == 0 || strcmp(key, "limits") == 0);
}

int emu_enum_input(const char *key, cJSON *parent, cJSON *item)
{
    const enum_value *t = table_for(key);
    if (!t)
        return -1;
    if (cJSON_IsString(item)) {
        for (; t->name; t++)
            if (strcmp(t->name, item->valuestring) == 0)
                return 0;
        return -1;
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : 0.5;
    if (v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
        return -1;
    for (; t->name; t++)
        if (t->number == (int)v) {
            return emu_json_replace(parent, item, cJSON_CreateString(t->name));
        }
    return 0; /* proto3 enums are open: a number the emulator does not know is kept */
}

/* Names of known enum fields become numbers, everywhere under node. */
static void walk(cJSON *node)
{
    cJSON *c = node ? node->child : NULL;
    while (c) {
        cJSON *next = c->next; /* c may be replaced below */
        const enum_value *t = cJSON_IsObject(node) ? table_for(c->string) : NULL;
        int replaced = 0;
        for (; t && t->name && !replaced && cJSON_IsString(c); t++)
            if (strcmp(t->name, c->valuestring) == 0)
                replaced = emu_json_replace(node, c, cJSON_CreateNumber(t->number)) == 0;
        if (!replaced && ((cJSON_IsObject(c) && !is_map_field(c->string)) || cJSON_IsArray(c)))
            walk(c);
        c = next;
    }
}

void emu_enums_to_numbers(cJSON *node)
{
    walk(node);
}
