/*
** test_transport.c — the client and the libcurl transport against a real
** HTTP server on loopback (libmicrohttpd, in this process): keep-alive,
** headers, timeouts, refused connections, answers that are not JSON.
*/
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "auth/credentials.h"
#include "check.h"
#include "cloudrun.h"
#include "machine/machine.h"

static int connections;
static int requests;
static char last_auth[256];
static char last_quota[256];
static char last_path[512];
static char last_body[2048];
static int quota_refusals; /* how many "/quota-once" requests are still refused with a 429 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&mu);
        connections++;
        pthread_mutex_unlock(&mu);
    }
}

struct body {
    char data[2048];
    size_t len;
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct body *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size < sizeof b->data - 1 - b->len ? *upload_size : sizeof b->data - 1 - b->len;
        memcpy(b->data + b->len, upload_data, n);
        b->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&mu);
    requests++;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    snprintf(last_auth, sizeof last_auth, "%s", auth ? auth : "");
    const char *quota = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-goog-user-project");
    snprintf(last_quota, sizeof last_quota, "%s", quota ? quota : "");
    snprintf(last_path, sizeof last_path, "%s %s", method, url);
    snprintf(last_body, sizeof last_body, "%s", b->data);
    pthread_mutex_unlock(&mu);

    const char *text = "{\"name\":\"projects/p/locations/l/jobs/j/executions/j-abcde\",\"succeededCount\":1}";
    int status = 200;
    const char *retry_after = NULL;
    pthread_mutex_lock(&mu);
    int refuse = strstr(url, "/quota-once") && quota_refusals > 0 ? quota_refusals-- : 0;
    pthread_mutex_unlock(&mu);
    if (refuse) {
        status = 429;
        retry_after = "1";
        text = "{\"error\":{\"code\":429,\"message\":\"Quota exceeded.\",\"status\":\"RESOURCE_EXHAUSTED\"}}";
    } else if (strstr(url, "/slow")) {
        usleep(1500 * 1000);
    } else if (strstr(url, "/garbage")) {
        text = "<html>oops</html>";
    } else if (strstr(url, "/missing")) {
        status = 404;
        text = "{\"error\":{\"code\":404,\"message\":\"Resource 'missing' of kind 'JOB' in region 'l' in project 'p' "
               "does not exist.\",\"status\":\"NOT_FOUND\"}}";
    } else if (strstr(url, "/guarded") && strcmp(last_auth, "Bearer token-1") == 0) {
        status = 401;
        text = "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication credentials.\","
               "\"status\":\"UNAUTHENTICATED\"}}";
    } else if (strstr(url, ":run")) {
        text = "{\"name\":\"projects/p/locations/l/operations/op1\",\"metadata\":{\"@type\":\"type.googleapis.com/"
               "google.cloud.run.v2.Execution\",\"name\":\"projects/p/locations/l/jobs/j/executions/j-abcde\"}}";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    free(*con_cls);
    *con_cls = NULL;
}

static struct MHD_Daemon *server;
static char endpoint[64];

static void start_server(void)
{
    server = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
                              NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", (unsigned)info->port);
}

static cr_client *client_with(cr_credentials *creds, double timeout)
{
    cr_client_options o = {0};
    o.endpoint = endpoint;
    o.project = "p";
    o.region = "l";
    o.timeout = timeout;
    o.credentials = creds;
    o.anonymous = creds == NULL;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    cr_error_clear(&err);
    return c;
}

TEST(one_client_reuses_one_connection_across_calls)
{
    cr_client *c = client_with(NULL, 5);
    int before = connections;
    for (int i = 0; i < 3; i++) {
        cr_error err = CR_ERROR_INIT;
        cJSON *e = cr_client_get_execution(c, "j-abcde", NULL, &err);
        CHECK(e != NULL);
        CHECK_INT(cJSON_GetObjectItem(e, "succeededCount")->valueint, 1);
        cJSON_Delete(e);
        cr_error_clear(&err);
    }
    CHECK_INT(connections - before, 1);
    CHECK_STR(last_path, "GET /v2/projects/p/locations/l/jobs/j/executions/j-abcde");
    CHECK_STR(last_auth, ""); /* anonymous: no credentials sent */
    cr_client_free(c);
}

TEST(run_job_posts_the_body_and_names_the_execution)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *creds = cr_credentials_from_access_token("test-token-123", 0, &err);
    cr_client *c = client_with(creds, 5);
    const char *args[] = {"--id=42"};
    cr_run_job_options o = {0};
    o.args = args;
    o.nargs = 1;
    o.has_args = 1;
    cJSON *op = cr_client_run_job(c, "j", &o, NULL, &err);
    CHECK(op != NULL);
    CHECK_STR(cJSON_GetObjectItem(op, "execution")->valuestring, "projects/p/locations/l/jobs/j/executions/j-abcde");
    CHECK_STR(last_path, "POST /v2/projects/p/locations/l/jobs/j:run");
    CHECK_STR(last_body, "{\"overrides\":{\"containerOverrides\":[{\"args\":[\"--id=42\"]}]}}");
    CHECK_STR(last_auth, "Bearer test-token-123");
    cJSON_Delete(op);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(an_api_error_comes_back_as_the_servers_status)
{
    cr_client *c = client_with(NULL, 5);
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_client_call(c, "GET", "projects/p/locations/l/jobs/missing", NULL, NULL, NULL, &err) == NULL);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_INT(err.status, 404);
    CHECK_CONTAINS(err.message, "does not exist");
    cr_error_clear(&err);
    CHECK(cr_client_call(c, "GET", "projects/p/locations/l/jobs/garbage", NULL, NULL, NULL, &err) == NULL);
    CHECK_STR(err.code, "UNKNOWN");
    CHECK_CONTAINS(err.message, endpoint);
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(a_slow_server_is_a_deadline_exceeded_naming_the_url)
{
    cr_client *c = client_with(NULL, 0.3);
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_client_call(c, "GET", "projects/p/locations/l/jobs/slow", NULL, NULL, NULL, &err) == NULL);
    CHECK_STR(err.code, "DEADLINE_EXCEEDED");
    CHECK_CONTAINS(err.message, "/v2/projects/p/locations/l/jobs/slow");
    CHECK_INT(err.sent, 1);
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(an_unreachable_endpoint_is_unavailable_and_never_sent)
{
    cr_client_options o = {0};
    o.endpoint = "http://127.0.0.1:1";
    o.project = "p";
    o.region = "l";
    o.anonymous = 1;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    CHECK(cr_client_run_job(c, "j", NULL, NULL, &err) == NULL);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_CONTAINS(err.message, "http://127.0.0.1:1/v2/projects/p/locations/l/jobs/j:run");
    CHECK_INT(err.sent, 0);
    cr_error_clear(&err);
    cr_client_free(c);
}

/* A credential source that hands out token-1, token-2, ... */
static int fetches;
static cr_machine *counting_fetch(cr_credentials *creds, void *data, long timeout_ms, cr_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "token-%d", ++fetches);
    return cr_machine_ready_token(buf, time(NULL) + 3600);
}
static void no_destroy(void *data)
{
}
static const cr_credentials_source counting_source = {.type = "test", .fetch = counting_fetch, .destroy = no_destroy};

TEST(a_401_refreshes_the_token_once_and_sends_the_call_again)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials_desc d = {0};
    d.source = &counting_source;
    d.origin = "test";
    cr_credentials *creds = cr_credentials_intern(&d, &err);
    CHECK(creds != NULL);
    cr_client *c = client_with(creds, 5);
    int before = requests;
    cJSON *j = cr_client_call(c, "GET", "projects/p/locations/l/jobs/guarded", NULL, NULL, NULL, &err);
    CHECK(j != NULL);
    CHECK_INT(requests - before, 2);
    CHECK_INT(fetches, 2);
    CHECK_STR(last_auth, "Bearer token-2");
    cJSON_Delete(j);
    cr_client_free(c);
    cr_credentials_unref(creds);
}

TEST(a_quota_project_is_sent_as_x_goog_user_project)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials_desc d = {0};
    d.source = &counting_source;
    d.origin = "test";
    d.quota_project = "billing-project";
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    cr_credentials *creds = cr_credentials_intern(&d, &err);
    cr_client *c = client_with(creds, 5);
    cJSON *j = cr_client_get_execution(c, "j-abcde", NULL, &err);
    CHECK(j != NULL);
    CHECK_STR(last_quota, "billing-project");
    cJSON_Delete(j);
    cr_client_free(c);
    cr_credentials_unref(creds);

    c = client_with(NULL, 5); /* anonymous: no credentials, no quota project */
    j = cr_client_get_execution(c, "j-abcde", NULL, &err);
    CHECK_STR(last_quota, "");
    cJSON_Delete(j);
    cr_client_free(c);
}

/* A pacer that holds the k-th send k tenths of a second, and writes down what it is asked and told. */
static struct {
    int asks;
    char quota[16][8];
    int told;
    double told_seconds;
    char told_quota[8];
} pacing;

static double test_before_send(void *ud, const char *quota)
{
    (void)ud;
    int k = pacing.asks++;
    if (k < 16)
        snprintf(pacing.quota[k], sizeof pacing.quota[k], "%s", quota);
    return 0.1 * (k + 1);
}

static void test_server_wait(void *ud, const char *quota, double seconds)
{
    (void)ud;
    pacing.told++;
    pacing.told_seconds = seconds;
    snprintf(pacing.told_quota, sizeof pacing.told_quota, "%s", quota);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(a_clients_pacer_holds_each_send_on_the_blocking_and_the_multi_driver)
{
    cr_client *c = client_with(NULL, 5);
    cr_pacer p = {test_before_send, test_server_wait, NULL};
    cr_client_set_pacer(c, &p);
    memset(&pacing, 0, sizeof pacing);
    cr_error err = CR_ERROR_INIT;
    double t0 = seconds_now();
    cJSON *e = cr_client_get_execution(c, "j-abcde", NULL, &err);
    CHECK(e != NULL);
    cJSON_Delete(e);
    CHECK(seconds_now() - t0 >= 0.1);
    CHECK_INT(pacing.asks, 1);
    CHECK_STR(pacing.quota[0], "read");

    /* three RunJobs at once on the multi driver, held 0.2, 0.3 and 0.4 s */
    cr_run_job_request jobs[3] = {{"j", NULL}, {"j", NULL}, {"j", NULL}};
    cJSON *results[3];
    cr_error errs[3];
    int before = requests;
    t0 = seconds_now();
    cr_client_run_jobs(c, jobs, 3, 3, NULL, results, errs);
    CHECK(seconds_now() - t0 >= 0.4);
    for (int i = 0; i < 3; i++) {
        CHECK(results[i] != NULL);
        cJSON_Delete(results[i]);
        cr_error_clear(&errs[i]);
    }
    CHECK_INT(requests - before, 3);
    CHECK_INT(pacing.asks, 4);
    for (int i = 1; i < 4; i++)
        CHECK_STR(pacing.quota[i], "run");
    CHECK_INT(pacing.told, 0);

    /* a 429 with Retry-After: the pacer is told, and the retry is asked about as well */
    memset(&pacing, 0, sizeof pacing);
    quota_refusals = 1;
    e = cr_client_get_job(c, "quota-once", NULL, &err);
    CHECK(e != NULL);
    cJSON_Delete(e);
    CHECK_INT(pacing.asks, 2);
    CHECK_INT(pacing.told, 1);
    CHECK_STR(pacing.told_quota, "read");
    CHECK(pacing.told_seconds == 1.0);
    /* ... on the multi driver too */
    memset(&pacing, 0, sizeof pacing);
    quota_refusals = 1;
    cr_run_job_request quota_job[1] = {{"quota-once", NULL}};
    cr_client_run_jobs(c, quota_job, 1, 1, NULL, results, errs);
    CHECK(results[0] != NULL);
    cJSON_Delete(results[0]);
    cr_error_clear(&errs[0]);
    CHECK_INT(pacing.asks, 2);
    CHECK_INT(pacing.told, 1);
    CHECK_STR(pacing.told_quota, "run");

    /* no pacer: nothing asked */
    cr_client_set_pacer(c, NULL);
    memset(&pacing, 0, sizeof pacing);
    e = cr_client_get_execution(c, "j-abcde", NULL, &err);
    cJSON_Delete(e);
    CHECK_INT(pacing.asks, 0);
    cr_error_clear(&err);
    cr_client_free(c);
}

int main(void)
{
    start_server();
    int rc = check_run();
    MHD_stop_daemon(server);
    return rc;
}
