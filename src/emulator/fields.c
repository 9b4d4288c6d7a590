/*
** fields.c — the fate of every field a Job can carry (fields.h), one row a
** field, grouped by the message that holds it; and RunJob's walk of what
** would run against the rows, guided by schema.c's tables.
*/
#include <stdio.h>
#include <string.h>

#include "fields.h"
#include "schema.h"

/* The table reads best one row to a line. */
// clang-format off
#define H(p, why) {p, EMU_HONOURED, NULL, why, 0}
#define R(p, why) {p, EMU_RECORDED, NULL, why, 0}
#define UNIMPL(p, why) {p, EMU_REFUSED, "UNIMPLEMENTED", why, 0}
#define PRECOND(p, why) {p, EMU_REFUSED, "FAILED_PRECONDITION", why, 0}
#define OUT(p, why) {p, EMU_HONOURED, NULL, "output only: " why, 0}
#define OUT_WHOLE(p, why) {p, EMU_HONOURED, NULL, "output only: " why, 1}

#define TT "template.template."
#define C TT "containers[]."
#define WITH_PROBE "with the probe"
#define PROBE(p, why)                                                                                                  \
    UNIMPL(C p, why),                                                                                                  \
    UNIMPL(C p ".initialDelaySeconds", WITH_PROBE), UNIMPL(C p ".timeoutSeconds", WITH_PROBE),                         \
    UNIMPL(C p ".periodSeconds", WITH_PROBE), UNIMPL(C p ".failureThreshold", WITH_PROBE),                             \
    UNIMPL(C p ".httpGet", WITH_PROBE), UNIMPL(C p ".httpGet.path", WITH_PROBE),                                       \
    UNIMPL(C p ".httpGet.httpHeaders", WITH_PROBE), UNIMPL(C p ".httpGet.httpHeaders[].name", WITH_PROBE),             \
    UNIMPL(C p ".httpGet.httpHeaders[].value", WITH_PROBE), UNIMPL(C p ".httpGet.port", WITH_PROBE),                   \
    UNIMPL(C p ".tcpSocket", WITH_PROBE), UNIMPL(C p ".tcpSocket.port", WITH_PROBE),                                   \
    UNIMPL(C p ".grpc", WITH_PROBE), UNIMPL(C p ".grpc.port", WITH_PROBE), UNIMPL(C p ".grpc.service", WITH_PROBE)

const emu_field_fate emu_field_fates[] = {
    /* Job */
    OUT("name", "CreateJob names the job by its jobId, as Cloud Run does; a --jobs file names its jobs with it"),
    OUT("uid", "set by the emulator"),
    OUT("generation", "counts the job's versions"),
    R("labels", "kept and shown (checked as Cloud Run checks labels); on Google Cloud they group, filter and bill jobs"),
    R("annotations", "kept and shown (reserved prefixes refused at create, as on Cloud Run); no local effect"),
    OUT("createTime", "set by the emulator"),
    OUT("updateTime", "set by the emulator"),
    OUT("deleteTime", "in DeleteJob's answer"),
    OUT("expireTime", "never set (a deleted job is gone at once)"),
    OUT("creator", "never set (the emulator knows no caller's identity)"),
    OUT("lastModifier", "never set (the emulator knows no caller's identity)"),
    R("client", "kept and shown: the name of the tool that deployed the job, for people to read"),
    R("clientVersion", "kept and shown: the version of that tool"),
    R("launchStage", "kept and shown (GA when unset); it opens preview features on Cloud Run, which the emulator does not tell apart"),
    R("binaryAuthorization", "kept and shown: signature policies for images are Google Cloud's; the emulator runs any image"),
    R("binaryAuthorization.useDefault", "with binaryAuthorization"),
    R("binaryAuthorization.policy", "with binaryAuthorization"),
    R("binaryAuthorization.breakglassJustification", "with binaryAuthorization"),
    H("template", "the ExecutionTemplate each execution is made from"),
    OUT("observedGeneration", "set by the emulator"),
    OUT_WHOLE("terminalCondition", "set by the emulator (Ready once the job is written)"),
    OUT_WHOLE("conditions", "ignored; the emulator reports terminalCondition alone"),
    OUT("executionCount", "set by the emulator"),
    OUT_WHOLE("latestCreatedExecution", "set by the emulator"),
    OUT("reconciling", "never set (a job is ready once written)"),
    OUT("satisfiesPzs", "never set (no zone separation here)"),
    H("startExecutionToken", "issue 21: tokens; CreateJob or UpdateJob starts the execution JOB-TOKEN, once per token"),
    H("runExecutionToken", "issue 21: tokens; CreateJob or UpdateJob starts the execution JOB-TOKEN, once per token"),
    OUT("etag", "set by the emulator; UpdateJob's etag, when sent, must be the job's (ABORTED otherwise)"),

    /* ExecutionTemplate */
    H("template.labels", "copied onto each execution and its tasks, as Cloud Run does"),
    H("template.annotations", "copied onto each execution and its tasks, as Cloud Run does"),
    H("template.parallelism", "at most this many of an execution's tasks run at once (0: as many as --max-processes lets)"),
    H("template.taskCount", "the tasks of an execution (RunJob may override it)"),
    H("template.template", "the TaskTemplate each task runs, after RunJob's overrides"),

    /* TaskTemplate */
    H(TT "containers", "the task's container; more than one (sidecars) is refused at RunJob with UNIMPLEMENTED"),
    H(TT "volumes", "the volumes the container's volumeMounts name"),
    H(TT "maxRetries", "a failed task is tried again up to this many times"),
    H(TT "timeout", "per attempt: SIGTERM, then SIGKILL after 3 s (RunJob may override it)"),
    R(TT "serviceAccount", "the task's identity on Google Cloud; a local task has the credentials you give it in its environment"),
    R(TT "executionEnvironment", "the gen1 or gen2 sandbox on Cloud Run; a local task runs on this machine's kernel"),
    R(TT "encryptionKey", "a Cloud KMS key for the image and data at rest on Google Cloud; nothing is encrypted here"),
    R(TT "vpcAccess", "a VPC connector or Direct VPC egress on Google Cloud; a local task uses this machine's network"),
    R(TT "vpcAccess.connector", "with vpcAccess"),
    R(TT "vpcAccess.egress", "with vpcAccess"),
    R(TT "vpcAccess.networkInterfaces", "with vpcAccess"),
    R(TT "vpcAccess.networkInterfaces[].network", "with vpcAccess"),
    R(TT "vpcAccess.networkInterfaces[].subnetwork", "with vpcAccess"),
    R(TT "vpcAccess.networkInterfaces[].tags", "with vpcAccess"),
    R(TT "nodeSelector", "the GPU type on Cloud Run; the emulator gives a task no GPU"),
    R(TT "nodeSelector.accelerator", "with nodeSelector"),
    R(TT "gpuZonalRedundancyDisabled", "GPU zonal redundancy on Cloud Run; the emulator gives a task no GPU"),

    /* Volume */
    H(TT "volumes[].name", "what a volume mount names"),
    H(TT "volumes[].secret", "container runtimes: files from --secrets at each mount; a secret the file lacks fails the execution before its tasks"),
    H(TT "volumes[].secret.secret", "the secret, a short name or projects/P/secrets/NAME, looked up in --secrets"),
    H(TT "volumes[].secret.items", "the files to write; without items, one file named after the secret, holding latest"),
    H(TT "volumes[].secret.items[].path", "the file's path under the mount"),
    H(TT "volumes[].secret.items[].version", "the version the file holds (latest when unset)"),
    H(TT "volumes[].secret.items[].mode", "the file's mode"),
    H(TT "volumes[].secret.defaultMode", "the files' mode where an item sets none (0444 when unset)"),
    H(TT "volumes[].cloudSqlInstance", "container runtimes: the directory of --volume-dir NAME=DIR (run the Cloud SQL Auth Proxy there); refused at RunJob without one"),
    R(TT "volumes[].cloudSqlInstance.instances", "the instances Cloud Run connects to; the --volume-dir directory stands in for their sockets"),
    H(TT "volumes[].emptyDir", "container runtimes: a tmpfs at each mount"),
    H(TT "volumes[].emptyDir.medium", "MEMORY, Cloud Run's one medium: a tmpfs"),
    H(TT "volumes[].emptyDir.sizeLimit", "the tmpfs's size"),
    H(TT "volumes[].nfs", "container runtimes: the directory of --volume-dir NAME=DIR, bind-mounted; refused at RunJob without one"),
    R(TT "volumes[].nfs.server", "the --volume-dir directory stands in for the share"),
    R(TT "volumes[].nfs.path", "the --volume-dir directory stands in for the share"),
    H(TT "volumes[].nfs.readOnly", "the mount is read-only"),
    H(TT "volumes[].gcs", "container runtimes: the directory of --volume-dir NAME=DIR, bind-mounted; refused at RunJob without one"),
    R(TT "volumes[].gcs.bucket", "the --volume-dir directory stands in for the bucket"),
    H(TT "volumes[].gcs.readOnly", "the mount is read-only"),
    R(TT "volumes[].gcs.mountOptions", "Cloud Storage FUSE's options; the local directory is mounted as it is"),

    /* Container */
    H(C "name", "what RunJob's containerOverrides name"),
    H(C "image", "container runtimes run it (looked up, then pulled by --pull); under --runtime process it is only recorded"),
    UNIMPL(C "sourceCode", "running source from Cloud Storage is not emulated: build an image of it and give that as image, without sourceCode"),
    UNIMPL(C "sourceCode.cloudStorageSource", "with sourceCode"),
    UNIMPL(C "sourceCode.cloudStorageSource.bucket", "with sourceCode"),
    UNIMPL(C "sourceCode.cloudStorageSource.object", "with sourceCode"),
    UNIMPL(C "sourceCode.cloudStorageSource.generation", "with sourceCode"),
    H(C "command", "the ENTRYPOINT (container runtimes), or the program to run (--runtime process)"),
    H(C "args", "the CMD (container runtimes), or the program's arguments (--runtime process); RunJob may override them"),
    H(C "env", "the task's environment, merged with RunJob's overrides"),
    H(C "env[].name", "the variable's name (CLOUD_RUN_* refused at create, as on Cloud Run)"),
    H(C "env[].value", "its value"),
    H(C "env[].valueSource", "a value from Secret Manager"),
    H(C "env[].valueSource.secretKeyRef", "the secret's value from --secrets, in both runtimes; one the file lacks fails the execution before its tasks"),
    H(C "env[].valueSource.secretKeyRef.secret", "the secret, a short name or projects/P/secrets/NAME"),
    H(C "env[].valueSource.secretKeyRef.version", "its version (latest when unset)"),
    H(C "resources", "the container's limits"),
    H(C "resources.limits", "by key, below"),
    H(C "resources.limits[cpu]", "container runtimes: --cpus (where the runtime cannot apply it, a warning in the task's log); not applied under --runtime process"),
    H(C "resources.limits[memory]", "container runtimes: --memory (where the runtime cannot apply it, a warning in the task's log); not applied under --runtime process"),
    R(C "resources.limits[nvidia.com/gpu]", "the emulator gives a task no GPU: it runs without one"),
    PRECOND(C "resources.limits[*]", "Cloud Run takes only the limits cpu, memory and nvidia.com/gpu: remove the others"),
    R(C "resources.cpuIdle", "CPU only while serving requests is a service's setting; a job's task has its CPU throughout, here as on Cloud Run"),
    R(C "resources.startupCpuBoost", "more CPU while a container starts on Cloud Run; a local task has what its limits give it"),
    R(C "ports", "a job's task takes no requests, and Cloud Run gives jobs no PORT"),
    R(C "ports[].name", "with ports"),
    R(C "ports[].containerPort", "with ports"),
    H(C "volumeMounts", "container runtimes; refused at RunJob under --runtime process (issue 20)"),
    H(C "volumeMounts[].name", "the volume to mount; a name no volume has is refused at RunJob"),
    H(C "volumeMounts[].mountPath", "where it is mounted: an absolute path"),
    H(C "volumeMounts[].subPath", "container runtimes: that file or directory of a --volume-dir directory or a secret volume is mounted, not the whole; an emptyDir is a fresh tmpfs either way"),
    H(C "workingDir", "the container's working directory (--runtime process: a directory on this machine)"),
    UNIMPL(C "dependsOn", "the order a task's containers start in: multi-container executions are not emulated; remove dependsOn"),
    PRECOND(C "baseImageUri", "automatic base image updates are for Cloud Run services, not jobs: remove baseImageUri"),
    {C "buildInfo", EMU_RECORDED, NULL, "output only on Cloud Run (the build that made the image): kept as sent", 1},

    /* Probe, in each of the three places */
    PROBE("livenessProbe", "probes are not emulated, and Cloud Run's jobs take only startup probes: remove livenessProbe"),
    PROBE("startupProbe", "startup probes are not emulated: remove startupProbe to run the job here"),
    PROBE("readinessProbe", "probes are not emulated, and Cloud Run's jobs take only startup probes: remove readinessProbe"),

    {NULL, EMU_HONOURED, NULL, NULL, 0},
};
// clang-format on

const emu_field_fate *emu_field_fate_find(const char *path)
{
    for (const emu_field_fate *f = emu_field_fates; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}

const char *emu_fate_name(emu_fate fate)
{
    return fate == EMU_HONOURED ? "honoured" : fate == EMU_RECORDED ? "recorded" : "refused";
}

/* ---- RunJob's walk ------------------------------------------------------------------------- */

typedef struct walk {
    const cJSON *task_template; /* walked in place of the job's template.template */
    char path[256];             /* the row's path: containers[].env[].name */
    char at[256];               /* the member's: containers[0].env[2].name */
    emu_error *err;
} walk;

/* Appends to both paths: sep + name (sep only after something); the old lengths in *mark. */
static void push(walk *w, const char *sep, const char *name, const char *row_tail, const char *at_tail, size_t mark[2])
{
    mark[0] = strlen(w->path);
    mark[1] = strlen(w->at);
    snprintf(w->path + mark[0], sizeof w->path - mark[0], "%s%s%s", mark[0] ? sep : "", name, row_tail);
    snprintf(w->at + mark[1], sizeof w->at - mark[1], "%s%s%s", mark[1] ? sep : "", name, at_tail);
}

static void pop(walk *w, const size_t mark[2])
{
    w->path[mark[0]] = '\0';
    w->at[mark[1]] = '\0';
}

/* Refuses with the row's code, naming the member at w->at (and what follows it). -1. */
static int refuse(walk *w, const emu_field_fate *row, const char *tail)
{
    emu_error_set(w->err, row->code, "%s%s: %s.", w->at, tail, row->why);
    return -1;
}

/* A present field's row: -1 with err set when it is refused (or, a bug, has none). */
static int judge(walk *w, const emu_field_fate **row)
{
    *row = emu_field_fate_find(w->path);
    if (!*row) {
        emu_error_set(w->err, "INTERNAL", "The emulator states no fate for the field %s (fields.c).", w->path);
        return -1;
    }
    return (*row)->fate == EMU_REFUSED ? refuse(w, *row, "") : 0;
}

static int walk_message(walk *w, const cJSON *obj, const emu_message *msg);

/* A map's keys, each judged by its own row or else by the row of the map's
** other keys ([*]); a map with neither (labels) has been judged whole. */
static int walk_map(walk *w, const cJSON *map)
{
    size_t len = strlen(w->path);
    for (const cJSON *e = map->child; e; e = e->next) {
        char key[160];
        snprintf(key, sizeof key, "[%s]", e->string);
        snprintf(w->path + len, sizeof w->path - len, "%s", key);
        const emu_field_fate *row = emu_field_fate_find(w->path);
        snprintf(w->path + len, sizeof w->path - len, "[*]");
        if (!row)
            row = emu_field_fate_find(w->path);
        w->path[len] = '\0';
        if (row && row->fate == EMU_REFUSED)
            return refuse(w, row, key);
    }
    return 0;
}

/* One member of obj that msg knows as f. */
static int walk_field(walk *w, const cJSON *m, const emu_schema_field *f)
{
    const emu_field_fate *row;
    if (judge(w, &row) < 0)
        return -1;
    if (row->whole)
        return 0;
    if (f->map)
        return walk_map(w, m);
    if (!f->message)
        return 0;
    if (strcmp(w->path, "template.template") == 0) /* what runs: the overridden template */
        m = w->task_template;
    if (!f->repeated)
        return cJSON_IsObject(m) ? walk_message(w, m, f->message) : 0;
    int i = 0;
    for (const cJSON *el = m->child; el; el = el->next, i++) {
        size_t mark[2];
        char index[24];
        snprintf(index, sizeof index, "[%d]", i);
        push(w, "", "", "[]", index, mark);
        int rc = cJSON_IsObject(el) ? walk_message(w, el, f->message) : 0;
        pop(w, mark);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int walk_message(walk *w, const cJSON *obj, const emu_message *msg)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        emu_schema_field f;
        int found = 0;
        for (int i = 0; !found && emu_schema_field_at(msg, i, &f); i++)
            found = strcmp(f.name, m->string) == 0;
        if (!found)
            continue; /* the schema has held the body to its fields: nothing else is stored */
        size_t mark[2];
        push(w, ".", m->string, "", "", mark);
        int rc = walk_field(w, m, &f);
        pop(w, mark);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int emu_fields_refusal(const cJSON *job_spec, const cJSON *task_template, emu_error *err)
{
    const cJSON *containers = cJSON_GetObjectItemCaseSensitive(task_template, "containers");
    int n = cJSON_GetArraySize(containers);
    if (n > 1) {
        emu_error_set(err, "UNIMPLEMENTED",
                      "template.template.containers: the job has %d containers (a container and its sidecars), and "
                      "multi-container executions are not emulated yet: when such a task ends, and which container's "
                      "exit counts, are not pinned down. Run a job with one container here.",
                      n);
        return -1;
    }
    walk w = {task_template, "", "", err};
    return walk_message(&w, job_spec, &emu_msg_job);
}
