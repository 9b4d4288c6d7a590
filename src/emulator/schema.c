/*
** schema.c — the request messages as field tables (from the published
** protos google/cloud/run/v2/{job,execution_template,task_template,k8s.min,
** vendor_settings,condition}.proto and google/longrunning/operations.proto),
** and the one walk that checks and normalizes a body against them with
** Google's messages: "Invalid JSON payload received. Unknown name \"x\" at
** 'job.template': Cannot find field." and "Invalid value at
** 'job.template.task_count' (TYPE_INT32), \"x\"".
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enum_encoding.h"
#include "json_strict.h"
#include "schema.h"
#include "schema_table.h"
#include "util/rfc3339.h"
#include "wire_values.h"

#define MAX_MAP_ENTRIES 1000 /* no map of the surface needs more (labels: 64) */

// clang-format off
#define V2 "google.cloud.run.v2."

static const field condition_f[] = {
    S("type"),
    EN("state", V2 "Condition.State"),
    S("message"),
    TS("lastTransitionTime"),
    EN("severity", V2 "Condition.Severity"),
    ENO("reason", V2 "Condition.CommonReason", 1),
    ENO("revisionReason", V2 "Condition.RevisionReason", 1),
    ENO("executionReason", V2 "Condition.ExecutionReason", 1),
    END,
};
static const char *const condition_oneofs[] = {"reasons"};
static const emu_message condition = {V2 "Condition", condition_f, condition_oneofs};

static const field execution_reference_f[] = {
    S("name"),
    TS("createTime"),
    TS("completionTime"),
    TS("deleteTime"),
    EN("completionStatus", V2 "ExecutionReference.CompletionStatus"),
    END,
};
static const emu_message execution_reference = {V2 "ExecutionReference", execution_reference_f, NULL};

static const field binary_authorization_f[] = {BO("useDefault", 1), SO("policy", 1), S("breakglassJustification"), END};
static const char *const binary_authorization_oneofs[] = {"binauthz_method"};
static const emu_message binary_authorization = {V2 "BinaryAuthorization", binary_authorization_f,
                                                 binary_authorization_oneofs};

static const field secret_key_selector_f[] = {S("secret"), S("version"), END};
static const emu_message secret_key_selector = {V2 "SecretKeySelector", secret_key_selector_f, NULL};
static const field env_var_source_f[] = {M("secretKeyRef", secret_key_selector), END};
static const emu_message env_var_source = {V2 "EnvVarSource", env_var_source_f, NULL};
static const field env_var_f[] = {S("name"), SO("value", 1), MO("valueSource", env_var_source, 1), END};
static const char *const env_var_oneofs[] = {"values"};
static const emu_message env_var = {V2 "EnvVar", env_var_f, env_var_oneofs};

static const field resources_f[] = {MAP("limits"), B("cpuIdle"), B("startupCpuBoost"), END};
static const emu_message resources = {V2 "ResourceRequirements", resources_f, NULL};
static const field container_port_f[] = {S("name"), I32("containerPort"), END};
static const emu_message container_port = {V2 "ContainerPort", container_port_f, NULL};
static const field volume_mount_f[] = {S("name"), S("mountPath"), S("subPath"), END};
static const emu_message volume_mount = {V2 "VolumeMount", volume_mount_f, NULL};

static const field http_header_f[] = {S("name"), S("value"), END};
static const emu_message http_header = {V2 "HTTPHeader", http_header_f, NULL};
static const field http_get_f[] = {S("path"), MS("httpHeaders", http_header), I32("port"), END};
static const emu_message http_get = {V2 "HTTPGetAction", http_get_f, NULL};
static const field tcp_socket_f[] = {I32("port"), END};
static const emu_message tcp_socket = {V2 "TCPSocketAction", tcp_socket_f, NULL};
static const field grpc_f[] = {I32("port"), S("service"), END};
static const emu_message grpc = {V2 "GRPCAction", grpc_f, NULL};
static const field probe_f[] = {
    I32("initialDelaySeconds"), I32("timeoutSeconds"),          I32("periodSeconds"), I32("failureThreshold"),
    MO("httpGet", http_get, 1), MO("tcpSocket", tcp_socket, 1), MO("grpc", grpc, 1),  END,
};
static const char *const probe_oneofs[] = {"probe_type"};
static const emu_message probe = {V2 "Probe", probe_f, probe_oneofs};

static const field build_info_f[] = {S("functionTarget"), S("sourceLocation"), END};
static const emu_message build_info = {V2 "BuildInfo", build_info_f, NULL};
static const field storage_source_f[] = {S("bucket"), S("object"), I64("generation"), END};
static const emu_message storage_source = {V2 "SourceCode.CloudStorageSource", storage_source_f, NULL};
static const field source_code_f[] = {MO("cloudStorageSource", storage_source, 1), END};
static const char *const source_code_oneofs[] = {"source_type"};
static const emu_message source_code = {V2 "SourceCode", source_code_f, source_code_oneofs};

static const field container_f[] = {
    S("name"),
    S("image"),
    M("sourceCode", source_code),
    SS("command"),
    SS("args"),
    MS("env", env_var),
    M("resources", resources),
    MS("ports", container_port),
    MS("volumeMounts", volume_mount),
    S("workingDir"),
    M("livenessProbe", probe),
    M("startupProbe", probe),
    M("readinessProbe", probe),
    SS("dependsOn"),
    S("baseImageUri"),
    M("buildInfo", build_info),
    END,
};
static const emu_message container = {V2 "Container", container_f, NULL};

static const field version_to_path_f[] = {S("path"), S("version"), I32("mode"), END};
static const emu_message version_to_path = {V2 "VersionToPath", version_to_path_f, NULL};
static const field secret_volume_f[] = {S("secret"), MS("items", version_to_path), I32("defaultMode"), END};
static const emu_message secret_volume = {V2 "SecretVolumeSource", secret_volume_f, NULL};
static const field cloud_sql_f[] = {SS("instances"), END};
static const emu_message cloud_sql = {V2 "CloudSqlInstance", cloud_sql_f, NULL};
static const field empty_dir_f[] = {EN("medium", V2 "EmptyDirVolumeSource.Medium"), S("sizeLimit"), END};
static const emu_message empty_dir = {V2 "EmptyDirVolumeSource", empty_dir_f, NULL};
static const field nfs_f[] = {S("server"), S("path"), B("readOnly"), END};
static const emu_message nfs = {V2 "NFSVolumeSource", nfs_f, NULL};
static const field gcs_f[] = {S("bucket"), B("readOnly"), SS("mountOptions"), END};
static const emu_message gcs = {V2 "GCSVolumeSource", gcs_f, NULL};
static const field volume_f[] = {
    S("name"),
    MO("secret", secret_volume, 1),
    MO("cloudSqlInstance", cloud_sql, 1),
    MO("emptyDir", empty_dir, 1),
    MO("nfs", nfs, 1),
    MO("gcs", gcs, 1),
    END,
};
static const char *const volume_oneofs[] = {"volume_type"};
static const emu_message volume = {V2 "Volume", volume_f, volume_oneofs};

static const field network_interface_f[] = {S("network"), S("subnetwork"), SS("tags"), END};
static const emu_message network_interface = {V2 "VpcAccess.NetworkInterface", network_interface_f, NULL};
static const field vpc_access_f[] = {
    S("connector"),
    EN("egress", V2 "VpcAccess.VpcEgress"),
    MS("networkInterfaces", network_interface),
    END,
};
static const emu_message vpc_access = {V2 "VpcAccess", vpc_access_f, NULL};
static const field node_selector_f[] = {S("accelerator"), END};
static const emu_message node_selector = {V2 "NodeSelector", node_selector_f, NULL};

static const field task_template_f[] = {
    MS("containers", container),
    MS("volumes", volume),
    {"maxRetries", K_INT32, 0, 1, NULL, NULL},
    DUR("timeout"),
    S("serviceAccount"),
    EN("executionEnvironment", V2 "ExecutionEnvironment"),
    S("encryptionKey"),
    M("vpcAccess", vpc_access),
    M("nodeSelector", node_selector),
    B("gpuZonalRedundancyDisabled"),
    END,
};
static const char *const task_template_oneofs[] = {"retries"};
static const emu_message task_template = {V2 "TaskTemplate", task_template_f, task_template_oneofs};

static const field execution_template_f[] = {
    MAP("labels"), MAP("annotations"), I32("parallelism"), I32("taskCount"), M("template", task_template), END,
};
static const emu_message execution_template = {V2 "ExecutionTemplate", execution_template_f, NULL};

static const field job_f[] = {
    S("name"),
    S("uid"),
    I64("generation"),
    MAP("labels"),
    MAP("annotations"),
    TS("createTime"),
    TS("updateTime"),
    TS("deleteTime"),
    TS("expireTime"),
    S("creator"),
    S("lastModifier"),
    S("client"),
    S("clientVersion"),
    EN("launchStage", "google.api.LaunchStage"),
    M("binaryAuthorization", binary_authorization),
    M("template", execution_template),
    I64("observedGeneration"),
    M("terminalCondition", condition),
    MS("conditions", condition),
    I32("executionCount"),
    M("latestCreatedExecution", execution_reference),
    B("reconciling"),
    B("satisfiesPzs"),
    SO("startExecutionToken", 1),
    SO("runExecutionToken", 1),
    S("etag"),
    END,
};
static const char *const job_oneofs[] = {"create_execution"};
const emu_message emu_msg_job = {V2 "Job", job_f, job_oneofs};

static const field container_override_f[] = {S("name"), SS("args"), MS("env", env_var), B("clearArgs"), END};
static const emu_message container_override = {V2 "RunJobRequest.Overrides.ContainerOverride", container_override_f,
                                               NULL};
static const field overrides_f[] = {MS("containerOverrides", container_override), I32("taskCount"), DUR("timeout"),
                                    END};
static const emu_message overrides = {V2 "RunJobRequest.Overrides", overrides_f, NULL};
static const field run_job_request_f[] = {S("name"), B("validateOnly"), S("etag"), M("overrides", overrides), END};
const emu_message emu_msg_run_job_request = {V2 "RunJobRequest", run_job_request_f, NULL};

static const field cancel_request_f[] = {S("name"), B("validateOnly"), S("etag"), END};
const emu_message emu_msg_cancel_request = {V2 "CancelExecutionRequest", cancel_request_f, NULL};

static const field wait_request_f[] = {S("name"), DUR("timeout"), END};
const emu_message emu_msg_wait_request = {"google.longrunning.WaitOperationRequest", wait_request_f, NULL};

static const field jobs_file_f[] = {MS("jobs", emu_msg_job), S("nextPageToken"), END};
const emu_message emu_msg_jobs_file = {V2 "ListJobsResponse", jobs_file_f, NULL};

static const field fault_f[] = {S("method"),    S("fault"),     I32("count"), DBL("retryAfter"),
                                S("retryInfo"), I32("delayMs"), END};
const emu_message emu_msg_fault = {"emulator.v1.Fault", fault_f, NULL};

// clang-format on

/* ---- the walk ----------------------------------------------------------------------------- */

typedef struct walk {
    emu_error *err;
    char path[256];
} walk;

const char *emu_proto_name(const char *json, char *buf, size_t size)
{
    size_t w = 0;
    for (const char *p = json; *p && w + 2 < size; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            buf[w++] = '_';
            buf[w++] = (char)(*p - 'A' + 'a');
        } else {
            buf[w++] = *p;
        }
    }
    buf[w] = '\0';
    return buf;
}

static const field *find_field(const emu_message *msg, const char *key)
{
    char snake[64];
    for (const field *f = msg->fields; f->name; f++)
        if (strcmp(key, f->name) == 0 || strcmp(key, emu_proto_name(f->name, snake, sizeof snake)) == 0)
            return f;
    return NULL;
}

/* Appends ".name" (or "name" at the start), "[i]" or "[key]" to the path; returns the old length. */
static size_t push_path(walk *w, const char *sep, const char *piece, const char *close)
{
    size_t n = strlen(w->path);
    snprintf(w->path + n, sizeof w->path - n, "%s%s%s", n || sep[0] == '[' ? sep : "", piece, close);
    return n;
}

/* A short rendering of a value for messages: strings quoted and cut, containers elided. */
static void preview(const cJSON *v, char *buf, size_t size)
{
    if (cJSON_IsString(v)) {
        const char *t = v->valuestring;
        size_t len = strlen(t), n = len > 60 ? 60 : len;
        while (n > 0 && n < len && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--; /* never cut a UTF-8 sequence */
        snprintf(buf, size, "\"%.*s%s\"", (int)n, t, n < len ? "..." : "");
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, size, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsObject(v)) {
        snprintf(buf, size, "{...}");
    } else if (cJSON_IsArray(v)) {
        snprintf(buf, size, "[...]");
    } else {
        snprintf(buf, size, "null");
    }
}

static int invalid_value(walk *w, const char *type, const cJSON *v)
{
    char shown[96];
    preview(v, shown, sizeof shown);
    emu_error_set(w->err, "INVALID_ARGUMENT", "Invalid value at '%s' (%s), %s", w->path, type, shown);
    emu_error_field(w->err, w->path);
    return -1;
}

static int invalid_payload(walk *w, const char *fmt, const char *name, const char *tail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, name);
    if (w->path[0])
        emu_error_set(w->err, "INVALID_ARGUMENT", "Invalid JSON payload received. %s at '%s': %s", msg, w->path, tail);
    else
        emu_error_set(w->err, "INVALID_ARGUMENT", "Invalid JSON payload received. %s: %s", msg, tail);
    emu_error_field(w->err, w->path);
    return -1;
}

static int out_of_memory(walk *w)
{
    emu_error_set(w->err, "RESOURCE_EXHAUSTED", "The request could not be read: out of memory.");
    return -1;
}

/* "-12" style text: optional '-', then digits without a leading zero. */
static int integer_text(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s || (*s == '0' && s[1]))
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* int32 and int64: a whole number in range, or (ProtoJSON) the same as a decimal string. */
static int check_integer(walk *w, cJSON *parent, cJSON *v, int bits)
{
    const char *type = bits == 32 ? "TYPE_INT32" : "TYPE_INT64";
    double lo = bits == 32 ? -2147483648.0 : -9223372036854775808.0;
    double hi = bits == 32 ? 2147483647.0 : 9223372036854775807.0;
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi ||
            (bits == 64 && v->valuedouble >= 9223372036854775807.0))
            return invalid_value(w, type, v);
        return 0;
    }
    if (!cJSON_IsString(v) || !integer_text(v->valuestring))
        return invalid_value(w, type, v);
    errno = 0;
    long long n = strtoll(v->valuestring, NULL, 10);
    if (errno == ERANGE || n < (long long)lo || (bits == 32 && n > (long long)hi))
        return invalid_value(w, type, v);
    if (bits == 32 && emu_json_replace(parent, v, cJSON_CreateNumber((double)n)) < 0) /* one form: a number */
        return out_of_memory(w);
    return 0;
}

static int check_message(walk *w, cJSON *obj, const emu_message *msg);

/* One value (not a list) of field f; parent holds it (for replacement). */
static int check_single(walk *w, cJSON *parent, cJSON *v, const field *f)
{
    switch (f->kind) {
    case K_STRING:
        return cJSON_IsString(v) ? 0 : invalid_value(w, "TYPE_STRING", v);
    case K_BOOL:
        return cJSON_IsBool(v) ? 0 : invalid_value(w, "TYPE_BOOL", v);
    case K_INT32:
        return check_integer(w, parent, v, 32);
    case K_INT64:
        return check_integer(w, parent, v, 64);
    case K_DOUBLE:
        return cJSON_IsNumber(v) ? 0 : invalid_value(w, "TYPE_DOUBLE", v);
    case K_ENUM: {
        char type[128];
        snprintf(type, sizeof type, "type.googleapis.com/%s", f->type);
        return emu_enum_input(f->name, parent, v) == 0 ? 0 : invalid_value(w, type, v);
    }
    case K_DURATION: {
        emu_duration d;
        char canonical[48];
        if (!cJSON_IsString(v) || emu_duration_parse(v->valuestring, &d) < 0)
            return invalid_value(w, "type.googleapis.com/google.protobuf.Duration", v);
        if (strcmp(v->valuestring, emu_duration_text(d, canonical, sizeof canonical)) != 0 &&
            emu_json_replace(parent, v, cJSON_CreateString(canonical)) < 0)
            return out_of_memory(w);
        return 0;
    }
    case K_TIMESTAMP: {
        int64_t secs;
        int32_t nanos;
        return cJSON_IsString(v) && cr_rfc3339_parse_parts(v->valuestring, &secs, &nanos) == 0
                   ? 0
                   : invalid_value(w, "type.googleapis.com/google.protobuf.Timestamp", v);
    }
    case K_BYTES:
        return cJSON_IsString(v) && emu_base64_decode(v->valuestring, NULL, 0) >= 0 ? 0
                                                                                    : invalid_value(w, "TYPE_BYTES", v);
    case K_FIELD_MASK:
        return cJSON_IsString(v) && emu_field_mask_valid(v->valuestring)
                   ? 0
                   : invalid_value(w, "type.googleapis.com/google.protobuf.FieldMask", v);
    case K_MESSAGE: {
        char type[128];
        snprintf(type, sizeof type, "type.googleapis.com/%s", f->message->type);
        return cJSON_IsObject(v) ? check_message(w, v, f->message) : invalid_value(w, type, v);
    }
    case K_MAP: {
        if (!cJSON_IsObject(v))
            return invalid_value(w, "map<string, string>", v);
        int n = 0;
        for (cJSON *e = v->child; e; e = e->next, n++) {
            size_t mark = push_path(w, "[", e->string, "]");
            if (n == MAX_MAP_ENTRIES) {
                emu_error_set(w->err, "INVALID_ARGUMENT", "Invalid value at '%.*s': more than %d entries.", (int)mark,
                              w->path, MAX_MAP_ENTRIES);
                emu_error_field(w->err, w->path);
                return -1;
            }
            if (!cJSON_IsString(e))
                return invalid_value(w, "TYPE_STRING", e);
            for (cJSON *o = v->child; o != e; o = o->next)
                if (strcmp(o->string, e->string) == 0)
                    return invalid_payload(w, "Duplicate map key \"%s\"", e->string, "Map keys must be unique.");
            w->path[mark] = '\0';
        }
        return 0;
    }
    }
    return 0;
}

static int check_message(walk *w, cJSON *obj, const emu_message *msg)
{
    const cJSON *oneof_set[8] = {NULL};
    cJSON *m = obj->child;
    while (m) {
        cJSON *next = m->next;
        const field *f = find_field(msg, m->string);
        if (!f)
            return invalid_payload(w, "Unknown name \"%s\"", m->string, "Cannot find field.");
        if (strcmp(m->string, f->name) != 0) { /* the proto name: renamed to the JSON name */
            char *renamed = malloc(strlen(f->name) + 1);
            if (!renamed)
                return out_of_memory(w);
            strcpy(renamed, f->name);
            if (!(m->type & cJSON_StringIsConst))
                free(m->string);
            m->string = renamed;
            m->type &= ~cJSON_StringIsConst;
        }
        for (cJSON *o = obj->child; o != m; o = o->next)
            if (strcmp(o->string, f->name) == 0)
                return invalid_payload(w, "Duplicate field \"%s\"", f->name,
                                       "A field may be given once, by either of its names.");
        if (cJSON_IsNull(m)) { /* null: the field is not set */
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, m));
            m = next;
            continue;
        }
        char snake[64];
        size_t mark = push_path(w, ".", emu_proto_name(f->name, snake, sizeof snake), "");
        if (f->oneof) {
            if (oneof_set[f->oneof]) {
                char both[160];
                snprintf(both, sizeof both, "oneof field '%s' is already set. Cannot set '%s'",
                         msg->oneofs[f->oneof - 1], f->name);
                emu_error_set(w->err, "INVALID_ARGUMENT", "Invalid JSON payload received. %s.", both);
                emu_error_field(w->err, w->path);
                return -1;
            }
            oneof_set[f->oneof] = m;
        }
        if (f->repeated) {
            if (!cJSON_IsArray(m)) {
                char type[160];
                snprintf(type, sizeof type, "repeated %s", f->kind == K_MESSAGE ? f->message->type : "TYPE_STRING");
                return invalid_value(w, type, m);
            }
            int i = 0;
            for (cJSON *el = m->child, *el_next; el; el = el_next, i++) {
                el_next = el->next; /* el may be replaced */
                char index[24];
                snprintf(index, sizeof index, "%d", i);
                size_t at = push_path(w, "[", index, "]");
                if (cJSON_IsNull(el) || check_single(w, m, el, f) < 0) {
                    if (cJSON_IsNull(el))
                        invalid_value(w, f->kind == K_MESSAGE ? f->message->type : "TYPE_STRING", el);
                    return -1;
                }
                w->path[at] = '\0';
            }
        } else if (check_single(w, obj, m, f) < 0) {
            return -1;
        }
        w->path[mark] = '\0';
        m = next;
    }
    return 0;
}

int emu_schema_field_at(const emu_message *msg, int i, emu_schema_field *out)
{
    for (int k = 0; k < i; k++)
        if (!msg->fields[k].name)
            return 0;
    const field *f = &msg->fields[i];
    if (!f->name)
        return 0;
    *out = (emu_schema_field){f->name, f->repeated, f->kind == K_MAP, f->kind == K_MESSAGE ? f->message : NULL};
    return 1;
}

const char *emu_schema_type(const emu_message *msg)
{
    return msg->type;
}

int emu_schema_check(cJSON *obj, const emu_message *msg, const char *at, emu_error *err)
{
    walk w;
    w.err = err;
    snprintf(w.path, sizeof w.path, "%s", at ? at : "");
    if (!cJSON_IsObject(obj)) {
        char type[128];
        snprintf(type, sizeof type, "type.googleapis.com/%s", msg->type);
        return invalid_value(&w, type, obj);
    }
    return check_message(&w, obj, msg);
}
