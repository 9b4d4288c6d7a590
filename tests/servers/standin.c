/*
** standin.c — cr-standin, a strict loopback stand-in for the two Cloud Run
** Admin API v2 calls the benchmarks make (RunJob, GetExecution): it checks
** every request as Google would refuse it and answers with fixed, realistic
** JSON, cheaply enough that the client under measurement, not the server, is
** what a benchmark sees.
**
** Usage: cr-standin [--port N] [--delay-ms MS] [--require-auth] [--verbose]
**   --port N        TCP port on 127.0.0.1; 0 (the default) picks a free one.
**   --delay-ms MS   each RunJob answer waits MS milliseconds (Google's own
**                   latency); requests on different connections wait in
**                   parallel (a thread per connection).
**   --require-auth  API calls without "Authorization: Bearer <token>" get 401.
**   --verbose       every request's method, path, headers and body on stderr.
** The first line on stdout is "standin listening on 127.0.0.1:PORT". Runs until
** SIGTERM or SIGINT. Connections are kept alive (HTTP/1.1).
**
** Endpoints:
**   POST /v2/projects/P/locations/L/jobs/J:run
**       P, L, J: [a-z0-9-]+ (J starts with a letter); a body, when there is one,
**       must be Content-Type: application/json and a JSON object with only
**       RunJobRequest's fields (validateOnly, etag, overrides{containerOverrides[
**       {name, args[], env[{name, value}], clearArgs}], taskCount, timeout}).
**       200: the Operation the emulator answers (metadata: a pending Execution
**       named .../jobs/J/executions/J-xxxxx, xxxxx from a counter).
**   GET /v2/projects/P/locations/L/jobs/J/executions/E
**       200: a fixed Execution that succeeded, under that name.
**   GET /stats
**       {"run_job":N,"get_execution":N,"rejected":N,"run_job_body_bytes":N,
**        "cpu_us":N,"last_rejection":"..."}: the calls answered 200, the
**       requests refused (400, 401), the RunJob body bytes received, and this
**       process's own CPU time so far.
** Anything else is refused with 400 and a google.rpc.Status saying why (401
** UNAUTHENTICATED for a missing bearer under --require-auth).
** Query strings: only $alt (what Google's REST clients add) is accepted.
*/
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "request.h"

#define MAX_BODY (64 * 1024)
#define MAX_NAME 63

static struct {
    unsigned port;
    long delay_ms;
    int require_auth;
    int verbose;
} opt;

static atomic_long run_jobs, get_executions, rejected, body_bytes, executions_named;
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_rejection[320];

/* cJSON's parser writes a process-global error pointer: one parse at a time. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- answers ------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A refusal as Google words one (google.rpc.Status), counted, and kept for /stats. */
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *why)
{
    atomic_fetch_add(&rejected, 1);
    pthread_mutex_lock(&last_lock);
    snprintf(last_rejection, sizeof last_rejection, "%s", why);
    pthread_mutex_unlock(&last_lock);
    if (opt.verbose)
        fprintf(stderr, "standin: %u %s\n", status, why);
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddNumberToObject(e, "code", status);
    cJSON_AddStringToObject(e, "message", why);
    cJSON_AddStringToObject(e, "status", status == 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT");
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text ? reply(conn, status, text) : MHD_NO;
}

/* ---- what a request must look like ---------------------------------------------- */

/* A resource id: [a-z0-9-]{1,63}, a letter first when `letter`. Returns its length
** (the id ends at `stop` or at the end of the string), 0 when it is not one. */
static size_t id_len(const char *s, char stop, int letter)
{
    size_t n = 0;
    while (s[n] && s[n] != stop) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        n++;
    }
    if (n == 0 || n > MAX_NAME || (letter && !(s[0] >= 'a' && s[0] <= 'z')))
        return 0;
    return n;
}

/* Matches "/v2/projects/P/locations/L/jobs/J" at the start of url and returns what
** follows it, with the job id's place and length; NULL when the path is not that. */
static const char *match_job(const char *url, const char **job, size_t *job_len)
{
    static const char v2[] = "/v2/projects/", loc[] = "/locations/", jobs[] = "/jobs/";
    const char *p = url;
    size_t n;
    if (strncmp(p, v2, sizeof v2 - 1) != 0)
        return NULL;
    p += sizeof v2 - 1;
    if (!(n = id_len(p, '/', 0)) || strncmp(p + n, loc, sizeof loc - 1) != 0)
        return NULL;
    p += n + sizeof loc - 1;
    if (!(n = id_len(p, '/', 0)) || strncmp(p + n, jobs, sizeof jobs - 1) != 0)
        return NULL;
    p += n + sizeof jobs - 1;
    size_t j = 0;
    while (p[j] && p[j] != '/' && p[j] != ':')
        j++;
    char stop = p[j];
    if (j == 0 || id_len(p, stop, 1) != j)
        return NULL;
    *job = p;
    *job_len = j;
    return p + j;
}

static int is_string_array(const cJSON *a)
{
    if (!cJSON_IsArray(a))
        return 0;
    for (const cJSON *e = a->child; e; e = e->next)
        if (!cJSON_IsString(e))
            return 0;
    return 1;
}

/* Only the fields `allowed` names (NULL-terminated); the first other one or NULL. */
static const char *unknown_field(const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *f = obj->child; f; f = f->next) {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(f->string, *a) == 0;
        if (!known)
            return f->string;
    }
    return NULL;
}

/* RunJobRequest's JSON, as strictly as Google reads it: NULL when good, else why not. */
static const char *check_run_body(const cJSON *b, char *why, size_t size)
{
    static const char *const top[] = {"validateOnly", "etag", "overrides", NULL};
    static const char *const ov[] = {"containerOverrides", "taskCount", "timeout", NULL};
    static const char *const co[] = {"name", "args", "env", "clearArgs", NULL};
    static const char *const ev[] = {"name", "value", NULL};
    const char *bad;
    if (!cJSON_IsObject(b))
        return "Invalid JSON payload received. The body is not a JSON object.";
    if ((bad = unknown_field(b, top)))
        goto unknown;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, "overrides");
    if (!o)
        return NULL;
    if (!cJSON_IsObject(o))
        return "Invalid value at 'overrides': not an object.";
    if ((bad = unknown_field(o, ov)))
        goto unknown;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(o, "taskCount");
    if (tc && !cJSON_IsNumber(tc))
        return "Invalid value at 'overrides.task_count' (TYPE_INT32).";
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "timeout");
    if (to && !cJSON_IsString(to))
        return "Invalid value at 'overrides.timeout' (type.googleapis.com/google.protobuf.Duration).";
    const cJSON *cos = cJSON_GetObjectItemCaseSensitive(o, "containerOverrides");
    if (cos && !cJSON_IsArray(cos))
        return "Invalid value at 'overrides.container_overrides': not a list.";
    for (const cJSON *c = cos ? cos->child : NULL; c; c = c->next) {
        if (!cJSON_IsObject(c))
            return "Invalid value at 'overrides.container_overrides': not an object.";
        if ((bad = unknown_field(c, co)))
            goto unknown;
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "args");
        if (args && !is_string_array(args))
            return "Invalid value at 'overrides.container_overrides.args': not a list of strings.";
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "env");
        if (env && !cJSON_IsArray(env))
            return "Invalid value at 'overrides.container_overrides.env': not a list.";
        for (const cJSON *e = env ? env->child : NULL; e; e = e->next) {
            if (!cJSON_IsObject(e) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "name")))
                return "Invalid value at 'overrides.container_overrides.env': an entry without a name.";
            if ((bad = unknown_field(e, ev)))
                goto unknown;
        }
    }
    return NULL;
unknown:
    snprintf(why, size, "Invalid JSON payload received. Unknown name \"%.64s\": Cannot find field.", bad);
    return why;
}

/* Only $alt in the query string (Google's REST clients ask for JSON with it). */
static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    int *unknown = cls;
    if (strcmp(key, "$alt") != 0)
        *unknown = 1;
    return MHD_YES;
}

/* NULL when the headers every API call needs are right, else why not (*status set). */
static const char *check_headers(struct MHD_Connection *conn, unsigned *status)
{
    int unknown = 0;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &unknown);
    *status = 400;
    if (unknown)
        return "Invalid query parameter: only $alt is accepted.";
    if (opt.require_auth) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
            *status = 401;
            return "Request is missing required authentication credential. Expected OAuth 2 access token, login "
                   "cookie or other valid authentication credential.";
        }
    }
    return NULL;
}

/* ---- the two calls ------------------------------------------------------------------ */

/* "J-xxxxx": the job id and five base-36 digits of a counter, as Cloud Run names them. */
static void execution_id(char *out, size_t size, const char *job, size_t job_len)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned long n = (unsigned long)atomic_fetch_add(&executions_named, 1);
    char suffix[6];
    for (int i = 4; i >= 0; i--, n /= 36)
        suffix[i] = digits[n % 36];
    suffix[5] = 0;
    snprintf(out, size, "%.*s-%s", (int)job_len, job, suffix);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static enum MHD_Result run_job(struct MHD_Connection *conn, const char *url, const char *job, size_t job_len,
                               request *rq)
{
    unsigned status;
    const char *why = check_headers(conn, &status);
    if (why)
        return refuse(conn, status, why);
    if (rq->too_big)
        return refuse(conn, 400, "The request body is too large.");
    if (rq->len) {
        const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        size_t tl = strlen("application/json");
        if (!type || strncasecmp(type, "application/json", tl) != 0 || (type[tl] && type[tl] != ';'))
            return refuse(conn, 400, "Invalid JSON payload received: the Content-Type is not application/json.");
        pthread_mutex_lock(&parse_lock);
        cJSON *b = cJSON_ParseWithLength(rq->body, rq->len);
        pthread_mutex_unlock(&parse_lock);
        char buf[160];
        why = b ? check_run_body(b, buf, sizeof buf) : "Invalid JSON payload received. Unexpected token.";
        cJSON_Delete(b);
        if (why)
            return refuse(conn, 400, why);
    }
    if (opt.delay_ms > 0)
        sleep_ms(opt.delay_ms);
    atomic_fetch_add(&run_jobs, 1);
    atomic_fetch_add(&body_bytes, (long)rq->len);

    /* url is /v2/projects/P/locations/L/jobs/J:run; the parent is what precedes /jobs/ */
    int parent_len = (int)(job - url) - (int)strlen("/v2/") - (int)strlen("/jobs/");
    const char *parent = url + strlen("/v2/");
    char exec[MAX_NAME + 8];
    execution_id(exec, sizeof exec, job, job_len);
    unsigned long op = (unsigned long)atomic_load(&run_jobs);
    char *body = NULL;
    int n = asprintf(
        &body,
        "{\"name\":\"%.*s/operations/4d111dbf-1409-49ba-9294-%012lx\","
        "\"metadata\":{\"@type\":\"type.googleapis.com/google.cloud.run.v2.Execution\","
        "\"name\":\"%.*s/jobs/%.*s/executions/%s\",\"uid\":\"f2a410c9-60dc-453a-9bb5-c2bc8360da8c\","
        "\"generation\":\"1\",\"createTime\":\"2026-11-30T04:28:18.646074Z\","
        "\"updateTime\":\"2026-11-30T04:28:18.646074Z\",\"launchStage\":\"GA\",\"job\":\"%.*s\",\"taskCount\":1,"
        "\"template\":{\"maxRetries\":0,\"containers\":[{\"image\":\"us-docker.pkg.dev/cloudrun/container/job:latest\","
        "\"command\":[\"true\"],\"args\":[\"--id=42\"],\"env\":[{\"name\":\"ID\",\"value\":\"42\"}]}],"
        "\"timeout\":\"600s\",\"serviceAccount\":\"123456789-compute@developer.gserviceaccount.com\"},"
        "\"reconciling\":true,\"conditions\":[{\"type\":\"Completed\",\"state\":\"CONDITION_PENDING\","
        "\"lastTransitionTime\":\"2026-11-30T04:28:18.646074Z\"},{\"type\":\"Started\",\"state\":"
        "\"CONDITION_PENDING\",\"lastTransitionTime\":\"2026-11-30T04:28:18.646074Z\"}],\"observedGeneration\":\"1\","
        "\"logUri\":\"https://console.cloud.google.com/logs/viewer?advancedFilter=resource.type%%3D%%22"
        "cloud_run_job%%22\",\"etag\":\"\\\"78fd73aea4bfc4ab\\\"\"}}",
        parent_len, parent, op, parent_len, parent, (int)job_len, job, exec, (int)job_len, job);
    return n < 0 ? MHD_NO : reply(conn, 200, body);
}

static enum MHD_Result get_execution(struct MHD_Connection *conn, const char *url, const char *job, size_t job_len,
                                     const char *rest)
{
    unsigned status;
    const char *why = check_headers(conn, &status);
    if (why)
        return refuse(conn, status, why);
    /* rest is /executions/E with E = J-xxxxx */
    static const char ex[] = "/executions/";
    const char *e = rest + sizeof ex - 1;
    if (strncmp(rest, ex, sizeof ex - 1) != 0 || !id_len(e, 0, 1))
        return refuse(conn, 400, "Invalid resource name: not projects/P/locations/L/jobs/J/executions/E.");
    atomic_fetch_add(&get_executions, 1);
    char *body = NULL;
    int n = asprintf(
        &body,
        "{\"name\":\"%s\",\"uid\":\"f2a410c9-60dc-453a-9bb5-c2bc8360da8c\",\"generation\":\"1\","
        "\"createTime\":\"2026-11-30T04:28:18.646074Z\",\"startTime\":\"2026-11-30T04:28:18.646199Z\","
        "\"completionTime\":\"2026-11-30T04:28:18.657032Z\",\"updateTime\":\"2026-11-30T04:28:18.657032Z\","
        "\"launchStage\":\"GA\",\"job\":\"%.*s\",\"taskCount\":1,\"template\":{\"maxRetries\":0,\"containers\":"
        "[{\"image\":\"us-docker.pkg.dev/cloudrun/container/job:latest\",\"command\":[\"true\"]}],"
        "\"timeout\":\"600s\"},\"conditions\":[{\"type\":\"Completed\",\"state\":\"CONDITION_SUCCEEDED\","
        "\"message\":\"Execution completed successfully in 0.010s.\","
        "\"lastTransitionTime\":\"2026-11-30T04:28:18.657032Z\"},{\"type\":\"Started\",\"state\":"
        "\"CONDITION_SUCCEEDED\",\"message\":\"Started deployed execution.\","
        "\"lastTransitionTime\":\"2026-11-30T04:28:18.646199Z\"}],\"observedGeneration\":\"1\","
        "\"succeededCount\":1,\"etag\":\"\\\"fff324c1983432a8\\\"\"}",
        url + strlen("/v2/"), (int)job_len, job);
    return n < 0 ? MHD_NO : reply(conn, 200, body);
}

static enum MHD_Result stats(struct MHD_Connection *conn)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "run_job", (double)atomic_load(&run_jobs));
    cJSON_AddNumberToObject(j, "get_execution", (double)atomic_load(&get_executions));
    cJSON_AddNumberToObject(j, "rejected", (double)atomic_load(&rejected));
    cJSON_AddNumberToObject(j, "run_job_body_bytes", (double)atomic_load(&body_bytes));
    cJSON_AddNumberToObject(j, "cpu_us", cpu);
    pthread_mutex_lock(&last_lock);
    cJSON_AddStringToObject(j, "last_rejection", last_rejection);
    pthread_mutex_unlock(&last_lock);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text ? reply(conn, 200, text) : MHD_NO;
}

/* ---- the daemon ------------------------------------------------------------------------ */

static enum MHD_Result show_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    fprintf(stderr, "  %s: %s\n", key, value);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    enum MHD_Result taken;
    if (request_collect(con_cls, upload_data, upload_data_size, MAX_BODY, &taken))
        return taken;
    request *rq = *con_cls;
    if (opt.verbose) {
        fprintf(stderr, "standin: %s %s %s\n", method, url, version);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, show_header, NULL);
        if (rq->len)
            fprintf(stderr, "  body (%zu bytes): %.*s\n", rq->len, (int)rq->len, rq->body);
    }
    if (strcmp(url, "/stats") == 0 && strcmp(method, "GET") == 0)
        return stats(conn);
    const char *job;
    size_t job_len;
    const char *rest = match_job(url, &job, &job_len);
    if (rest && strcmp(rest, ":run") == 0 && strcmp(method, "POST") == 0)
        return run_job(conn, url, job, job_len, rq);
    if (rest && strncmp(rest, "/executions/", 12) == 0 && strcmp(method, "GET") == 0 && !rq->len)
        return get_execution(conn, url, job, job_len, rest);
    char why[320];
    snprintf(why, sizeof why, "The stand-in does not take %.8s %.120s%s", method, url,
             rest ? " (a known path with the wrong method or a body)" : "");
    return refuse(conn, 400, why);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: cr-standin [--port N] [--delay-ms MS] [--require-auth] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--require-auth") == 0) {
            opt.require_auth = 1;
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            opt.verbose = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 0)
            usage();
        if (strcmp(a, "--port") == 0 && n < 65536)
            opt.port = (unsigned)n;
        else if (strcmp(a, "--delay-ms") == 0 && n <= 600000)
            opt.delay_ms = n;
        else
            usage();
    }

    /* Block the stop signals before any thread exists, so that only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cr-standin: cannot listen on 127.0.0.1:%u\n", opt.port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("standin listening on 127.0.0.1:%u\n", info ? info->port : opt.port);
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
