/*
** emukit.h — what the emulator's test programs share: the cloudrun-emulator
** program started as a subprocess on a free port (optionally under valgrind),
** HTTP exchanges with libcurl, JSON lookups, jobs that run /bin/sh scripts,
** faults, and a main() that runs every TEST against one emulator.
*/
#ifndef CR_EMUKIT_H
#define CR_EMUKIT_H

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"

#define KIT static __attribute__((unused))

#define PARENT "/v2/projects/test-project/locations/us-central1"

/* Milliseconds on the monotonic clock. */
KIT int64_t kit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the emulator process ------------------------------------------------------- */

typedef struct emulator {
    pid_t pid;
    int port;
    char first_line[256], second_line[256];
} emulator;

static emulator main_emu;
static char scratch[] = "/tmp/cr-emu-test-XXXXXX";
/* A command that emulator_start puts before everything else (and before
** valgrind), e.g. {"setpriv", "--reuid=65534", ..., NULL}; none when empty. */
static const char *kit_wrapper[8];

/* Starts the emulator with extra options, --quiet unless logging (its request
** log lines then go to err_path); stderr goes to err_path (or /dev/null).
** Returns 0 with the port parsed from the first stdout line, or -1 (the
** process exited: *status is its exit status). */
KIT int emulator_spawn(emulator *e, const char *const *extra, const char *err_path, int *status, int logging)
{
    const char *vg = getenv("CR_EMULATOR_VALGRIND");
    const char *argv[64];
    int n = 0;
    for (int i = 0; kit_wrapper[i]; i++)
        argv[n++] = kit_wrapper[i];
    if (vg && *vg) {
        argv[n++] = vg;
        argv[n++] = "--quiet";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--show-leak-kinds=definite,indirect,possible";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
        argv[n++] = "--error-exitcode=99";
        /* the spawner and a task's supervisors are forks of the emulator that never
        ** exec (spawner.h): valgrind would check their copies of its heap when they end */
        argv[n++] = "--child-silent-after-fork=yes";
    }
    argv[n++] = EMULATOR_BIN;
    argv[n++] = "--port";
    argv[n++] = "0";
    if (!logging)
        argv[n++] = "--quiet";
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (err >= 0)
            dup2(err, 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    e->pid = pid;
    e->port = 0;
    e->first_line[0] = e->second_line[0] = '\0';
    if (!fgets(e->first_line, sizeof e->first_line, out) || !fgets(e->second_line, sizeof e->second_line, out)) {
        fclose(out);
        int st = 0;
        waitpid(pid, &st, 0);
        if (status)
            *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return -1;
    }
    fclose(out); /* the emulator prints nothing more on stdout */
    const char *colon = strrchr(e->first_line, ':');
    e->port = colon ? atoi(colon + 1) : 0;
    return e->port > 0 ? 0 : -1;
}

/* emulator_spawn with --quiet. */
KIT int emulator_start(emulator *e, const char *const *extra, const char *err_path, int *status)
{
    return emulator_spawn(e, extra, err_path, status, 0);
}

/* SIGTERM, then the exit status (0 expected: clean shutdown, and under valgrind no errors). */
KIT int emulator_stop(emulator *e)
{
    int st = 0;
    kill(e->pid, SIGTERM);
    waitpid(e->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- HTTP ----------------------------------------------------------------------- */

typedef struct resp {
    long status; /* 0 when no answer came */
    char *body;
    size_t len;
    cJSON *json;
    int curl_code;          /* CURLE_GOT_NOTHING: the connection closed without an answer */
    char retry_after[64];   /* the Retry-After header, "" when absent */
    char allow_origin[128]; /* Access-Control-Allow-Origin, "" when absent */
    double seconds;         /* how long the exchange took */
} resp;

/* Copies the value of header `name` from a header line into out, when it is that header. */
KIT void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    const char *v = line + n + 1;
    while (*v == ' ')
        v++;
    size_t vlen = (size_t)(line + len - v);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    snprintf(out, size, "%.*s", (int)vlen, v);
}

KIT size_t header_line(char *data, size_t size, size_t n, void *arg)
{
    resp *r = arg;
    size_t len = size * n;
    header_value(data, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    header_value(data, len, "Access-Control-Allow-Origin", r->allow_origin, sizeof r->allow_origin);
    return len;
}

KIT size_t collect(char *data, size_t size, size_t n, void *arg)
{
    resp *r = arg;
    char *grown = realloc(r->body, r->len + size * n + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

/* One exchange with these request headers ("Name: value"; "Name:" removes one
** libcurl would add), or with Content-Type: application/json when NULL. */
KIT resp http_with(const emulator *e, const char *method, const char *path, const char *body,
                   const char *const *headers)
{
    resp r = {0};
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", e->port, path);
    CURL *curl = curl_easy_init();
    struct curl_slist *h = NULL;
    static const char *const json[] = {"Content-Type: application/json", NULL};
    for (const char *const *x = headers ? headers : json; *x; x++)
        h = curl_slist_append(h, *x);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    r.curl_code = (int)curl_easy_perform(curl);
    if (r.curl_code == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &r.seconds);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    r.json = r.body ? cJSON_Parse(r.body) : NULL;
    return r;
}

KIT resp http_on(const emulator *e, const char *method, const char *path, const char *body)
{
    return http_with(e, method, path, body, NULL);
}

KIT resp http(const char *method, const char *path, const char *body)
{
    return http_on(&main_emu, method, path, body);
}

KIT void resp_free(resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/* ---- JSON helpers ------------------------------------------------------------------ */

/* get(json, "a.b.0.c"): nested lookup, numbers index arrays. */
KIT const cJSON *get(const cJSON *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(j))
            j = cJSON_GetArrayItem(j, atoi(k));
        else
            j = cJSON_GetObjectItemCaseSensitive(j, k);
    }
    return j;
}

KIT const char *str(const cJSON *j, const char *path)
{
    const cJSON *v = get(j, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

KIT long num(const cJSON *j, const char *path)
{
    const cJSON *v = get(j, path);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

/* The condition of a type in a resource's conditions. */
KIT const cJSON *condition(const cJSON *res, const char *type)
{
    const cJSON *conds = get(res, "conditions");
    for (const cJSON *c = conds ? conds->child : NULL; c; c = c->next)
        if (str(c, "type") && strcmp(str(c, "type"), type) == 0)
            return c;
    return NULL;
}

KIT char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

KIT int matches(const char *text, const char *pattern)
{
    regex_t re;
    if (!text || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* ---- jobs ------------------------------------------------------------------------------ */

KIT char *new_dir(const char *name)
{
    char *d = NULL;
    if (asprintf(&d, "%s/%s", scratch, name) < 0)
        return NULL;
    mkdir(d, 0755);
    return d;
}

KIT void add_env(cJSON *env, const char *name, const char *value)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "name", name);
    cJSON_AddStringToObject(v, "value", value);
    cJSON_AddItemToArray(env, v);
}

/* A Job whose one container runs `/bin/sh -c SCRIPT orig-arg`, with OUT_DIR, A and B in its env. */
KIT cJSON *sh_job(const char *script, const char *out_dir, int max_retries)
{
    cJSON *job = cJSON_CreateObject();
    cJSON *tt = cJSON_AddObjectToObject(cJSON_AddObjectToObject(job, "template"), "template");
    if (max_retries >= 0)
        cJSON_AddNumberToObject(tt, "maxRetries", max_retries);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(tt, "containers"), c);
    cJSON_AddStringToObject(c, "image", "us-docker.pkg.dev/cloudrun/container/job:latest");
    const char *cmd[] = {"/bin/sh"};
    cJSON_AddItemToObject(c, "command", cJSON_CreateStringArray(cmd, 1));
    const char *args[] = {"-c", script, "orig-arg"};
    cJSON_AddItemToObject(c, "args", cJSON_CreateStringArray(args, 3));
    cJSON *env = cJSON_AddArrayToObject(c, "env");
    add_env(env, "OUT_DIR", out_dir);
    add_env(env, "A", "job-a");
    add_env(env, "B", "job-b");
    return job;
}

/* CreateJob; returns the HTTP status. */
KIT long create_job(const char *id, cJSON *job)
{
    char path[256];
    snprintf(path, sizeof path, PARENT "/jobs?jobId=%s", id);
    char *body = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    resp r = http("POST", path, body);
    free(body);
    long st = r.status;
    if (st != 200)
        fprintf(stderr, "  create %s: %ld %s\n", id, st, r.body ? r.body : "");
    resp_free(&r);
    return st;
}

/* RunJob; returns the Operation (caller frees) or NULL. */
/* The JSON text of a job definition; frees the tree. Caller frees the text. */
KIT char *sh_job_text(cJSON *job)
{
    char *text = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    return text;
}

KIT cJSON *run_job(const char *id, const char *body, long *status)
{
    char path[256];
    snprintf(path, sizeof path, PARENT "/jobs/%s:run", id);
    resp r = http("POST", path, body ? body : "{}");
    cJSON *op = r.json;
    r.json = NULL;
    if (status)
        *status = r.status;
    resp_free(&r);
    return op;
}

/* Polls GetExecution until completionTime appears; the final Execution or NULL. */
KIT cJSON *wait_execution(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/v2/%s", name);
    for (int i = 0; i < 3000; i++) {
        resp r = http("GET", path, NULL);
        if (r.status == 200 && str(r.json, "completionTime")) {
            cJSON *e = r.json;
            r.json = NULL;
            resp_free(&r);
            return e;
        }
        resp_free(&r);
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    return NULL;
}

KIT cJSON *get_json(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    resp r = http("GET", path, NULL);
    cJSON *j = r.status == 200 ? r.json : NULL;
    if (j)
        r.json = NULL;
    resp_free(&r);
    return j;
}

/* POST /emulator/v1/faults; returns the HTTP status. */
KIT long add_fault_on(const emulator *e, const char *json)
{
    resp r = http_on(e, "POST", "/emulator/v1/faults", json);
    long st = r.status;
    if (st != 200)
        fprintf(stderr, "  add fault %s: %ld %s\n", json, st, r.body ? r.body : "");
    resp_free(&r);
    return st;
}

KIT long add_fault(const char *json)
{
    return add_fault_on(&main_emu, json);
}

KIT void zero_stats(void)
{
    resp r = http("DELETE", "/emulator/v1/stats", NULL);
    resp_free(&r);
}

/* calls.<rpc> or faulted.<rpc> of GET /emulator/v1/stats (0 when absent). */
KIT long stat_of(const emulator *e, const char *which, const char *rpc)
{
    resp r = http_on(e, "GET", "/emulator/v1/stats", NULL);
    char path[128];
    snprintf(path, sizeof path, "%s.%s", which, rpc);
    long v = num(r.json, path);
    resp_free(&r);
    return v < 0 ? 0 : v;
}

/* How many executions a job has (0 when none or the job is unknown). */
KIT int execution_count(const char *job)
{
    cJSON *list = get_json(PARENT "/jobs/%s/executions", job);
    int n = cJSON_GetArraySize(get(list, "executions"));
    cJSON_Delete(list);
    return n;
}

/* Polls an operation until done; the final Operation or NULL. */
KIT cJSON *wait_done(const char *op_name)
{
    for (int i = 0; i < 3000; i++) {
        cJSON *op = get_json("/v2/%s", op_name);
        if (cJSON_IsTrue(get(op, "done")))
            return op;
        cJSON_Delete(op);
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    return NULL;
}

/* The operations under a parent (count). */
KIT int operation_count(const char *parent)
{
    cJSON *list = get_json("%s/operations?pageSize=1000", parent);
    int n = cJSON_GetArraySize(get(list, "operations"));
    cJSON_Delete(list);
    return n;
}

/* Starts the shared emulator (extra options appended), runs every TEST, stops it: the program's exit status. */
KIT int kit_main(const char *const *extra_options)
{
    /* a test writing to a connection the emulator has closed (a slow client cut at its deadline)
    ** gets EPIPE and says what failed; SIGPIPE would end the whole run unexplained */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    char logs[600];
    snprintf(logs, sizeof logs, "%s/logs", scratch);
    const char *extra[32] = {"--log-dir", logs};
    int n = 2;
    for (int i = 0; extra_options && extra_options[i] && n < 31; i++)
        extra[n++] = extra_options[i];
    extra[n] = NULL;
    if (emulator_start(&main_emu, extra, NULL, NULL) < 0) {
        fprintf(stderr, "could not start %s\n", EMULATOR_BIN);
        return 1;
    }
    int rc = check_run();
    int exit_status = emulator_stop(&main_emu);
    if (exit_status != 0) {
        fprintf(stderr, "the emulator exited with status %d after SIGTERM (99: valgrind found errors)\n", exit_status);
        rc = 1;
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (rc == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    curl_global_cleanup();
    return rc;
}

#endif
