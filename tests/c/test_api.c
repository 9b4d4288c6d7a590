/*
** test_api.c — the Cloud Run v2 protocol as data: resource names, the RunJob
** request body, responses and google.rpc errors, durations. No server needed.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/call.h"
#include "check.h"
#include "cloudrun.h"
#include "util/rfc3339.h"

static cr_client *anonymous_client(const char *project, const char *region)
{
    cr_client_options o = {0};
    o.project = project;
    o.region = region;
    o.endpoint = "http://127.0.0.1:9";
    o.anonymous = 1;
    cr_error err = CR_ERROR_INIT;
    cr_client *c = cr_client_new(&o, &err);
    cr_error_clear(&err);
    return c;
}

TEST(a_short_job_name_becomes_a_full_resource_name)
{
    cr_client *c = anonymous_client("my-project", "asia-northeast1");
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_job_name(c, "my-job", &err);
    CHECK_STR(name, "projects/my-project/locations/asia-northeast1/jobs/my-job");
    free(name);
    name = cr_client_job_name(c, "projects/other/locations/europe-west1/jobs/j", &err);
    CHECK_STR(name, "projects/other/locations/europe-west1/jobs/j");
    free(name);
    cr_client_free(c);
}

TEST(a_short_execution_id_names_its_job)
{
    cr_client *c = anonymous_client("p", "r");
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_execution_name(c, "nightly-report-x7k2p", &err);
    CHECK_STR(name, "projects/p/locations/r/jobs/nightly-report/executions/nightly-report-x7k2p");
    free(name);
    name = cr_client_execution_name(c, "noDash", &err);
    CHECK(name == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "noDash");
    cr_error_clear(&err);
    cr_client_free(c);
}

TEST(a_malformed_full_name_or_url_syntax_is_refused)
{
    cr_client *c = anonymous_client("p", "r");
    const char *bad[] = {"projects/p/locations/r/jobs/",
                         "projects/p/jobs/j",
                         "projects/p/locations/r/jobs/j/x",
                         "my job",
                         "job?x=1",
                         "../etc",
                         "a/b",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_error err = CR_ERROR_INIT;
        char *name = cr_client_job_name(c, bad[i], &err);
        CHECK(name == NULL);
        CHECK_STR(err.code, "INVALID_ARGUMENT");
        free(name);
        cr_error_clear(&err);
    }
    cr_client_free(c);
}

TEST(a_missing_project_or_region_says_where_it_looked)
{
    unsetenv("GOOGLE_CLOUD_PROJECT");
    unsetenv("CLOUDSDK_CORE_PROJECT");
    unsetenv("CLOUDSDK_RUN_REGION");
    cr_client *c = anonymous_client(NULL, "r");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_client_job_name(c, "j", &err) == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "GOOGLE_CLOUD_PROJECT");
    CHECK_CONTAINS(err.message, "CLOUDSDK_CORE_PROJECT");
    cr_error_clear(&err);
    cr_client_free(c);

    c = anonymous_client("p", NULL);
    CHECK(cr_client_job_name(c, "j", &err) == NULL);
    CHECK_CONTAINS(err.message, "CLOUDSDK_RUN_REGION");
    cr_error_clear(&err);
    cr_client_free(c);

    setenv("GOOGLE_CLOUD_PROJECT", "from-env", 1);
    setenv("CLOUDSDK_RUN_REGION", "env-region", 1);
    c = anonymous_client(NULL, NULL);
    char *name = cr_client_job_name(c, "j", &err);
    CHECK_STR(name, "projects/from-env/locations/env-region/jobs/j");
    free(name);
    cr_client_free(c);
    unsetenv("GOOGLE_CLOUD_PROJECT");
    unsetenv("CLOUDSDK_RUN_REGION");
}

TEST(the_emulator_host_variable_selects_plain_http_without_credentials)
{
    setenv("CLOUD_RUN_EMULATOR_HOST", "127.0.0.1:8123", 1);
    cr_error err = CR_ERROR_INIT;
    cr_client_options o = {0};
    cr_client *c = cr_client_new(&o, &err);
    CHECK_STR(cr_client_endpoint(c), "http://127.0.0.1:8123");
    CHECK_INT(cr_client_is_anonymous(c), 1);
    cr_client_free(c);
    unsetenv("CLOUD_RUN_EMULATOR_HOST");

    setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN", "https://example.test/", 1);
    c = cr_client_new(&o, &err);
    CHECK_STR(cr_client_endpoint(c), "https://example.test");
    CHECK_INT(cr_client_is_anonymous(c), 0);
    cr_client_free(c);
    unsetenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN");

    c = cr_client_new(&o, &err);
    CHECK_STR(cr_client_endpoint(c), "https://run.googleapis.com");
    cr_client_free(c);

    o.endpoint = "ftp://x";
    CHECK(cr_client_new(&o, &err) == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    cr_error_clear(&err);
}

TEST(run_job_sends_the_overrides_as_v2_rest_json)
{
    const char *args[] = {"manage.py", "job", "--id=42"};
    cr_env_var env[] = {{"ID", "42"}, {"MODE", "full"}};
    cr_run_job_options o = {0};
    o.args = args;
    o.nargs = 3;
    o.has_args = 1;
    o.env = env;
    o.nenv = 2;
    o.container = "worker";
    o.task_count = 4;
    o.timeout_nanos = 600LL * 1000000000LL;
    cr_http_request req;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_api_build_run_job("https://run.googleapis.com", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
    CHECK_STR(req.method, "POST");
    CHECK_STR(req.url, "https://run.googleapis.com/v2/projects/p/locations/l/jobs/j:run");
    CHECK_STR(cr_header_get(req.headers, "content-type"), "application/json");
    CHECK_STR(req.body, "{\"overrides\":{\"containerOverrides\":[{\"name\":\"worker\",\"args\":[\"manage.py\",\"job\","
                        "\"--id=42\"],\"env\":[{\"name\":\"ID\",\"value\":\"42\"},{\"name\":\"MODE\",\"value\":"
                        "\"full\"}]}],\"taskCount\":4,\"timeout\":\"600s\"}}");
    cr_http_request_clear(&req);
}

TEST(run_job_without_overrides_sends_an_empty_object)
{
    cr_http_request req;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", NULL, &req, &err), 0);
    CHECK_STR(req.body, "{}");
    cr_http_request_clear(&req);

    cr_run_job_options o = {0};
    o.clear_args = 1;
    o.validate_only = 1;
    o.etag = "\"abc\"";
    o.timeout_nanos = 1500000000LL;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
    CHECK_STR(req.body, "{\"validateOnly\":true,\"etag\":\"\\\"abc\\\"\",\"overrides\":{\"containerOverrides\":[{"
                        "\"clearArgs\":true}],\"timeout\":\"1.500s\"}}");
    cr_http_request_clear(&req);

    /* an explicitly empty args list is sent: it is how a caller says "no args" */
    o = (cr_run_job_options){0};
    o.has_args = 1;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
    CHECK_STR(req.body, "{\"overrides\":{\"containerOverrides\":[{\"args\":[]}]}}");
    cr_http_request_clear(&req);

    o = (cr_run_job_options){0};
    o.task_count = -1;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    cr_error_clear(&err);
}

/* The RunJob body is written without cJSON: it must be the bytes cJSON would print. */
TEST(the_run_job_body_is_byte_for_byte_what_cjson_prints_for_the_same_overrides)
{
    static const char *const tricky[] = {"plain",        "quote \" and back\\slash",      "tab\tnl\ncr\rbs\bff\f",
                                         "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac / <>", "",
                                         "--id=42"};
    size_t n = sizeof tricky / sizeof *tricky;
    cr_env_var env[7];
    for (size_t i = 0; i < n; i++)
        env[i] = (cr_env_var){tricky[(i + 1) % n][0] ? tricky[(i + 1) % n] : "E", i % 3 ? tricky[i] : NULL};
    for (int shape = 0; shape < 6; shape++) {
        cr_run_job_options o = {0};
        o.args = (const char **)tricky;
        o.nargs = shape == 1 ? 0 : n;
        o.has_args = shape != 2;
        o.env = env;
        o.nenv = shape == 3 ? 0 : n;
        o.container = shape == 4 ? NULL : tricky[shape];
        o.clear_args = shape % 2;
        o.validate_only = shape == 5;
        o.etag = shape >= 4 ? tricky[shape - 3] : NULL;
        o.task_count = shape == 0 ? 0 : shape == 1 ? 2147483647 : 10000;
        o.timeout_nanos = shape == 2 ? 0 : 1500000000LL * shape;

        cJSON *want = cJSON_CreateObject();
        if (o.validate_only)
            cJSON_AddBoolToObject(want, "validateOnly", 1);
        if (o.etag)
            cJSON_AddStringToObject(want, "etag", o.etag);
        cJSON *ov = cJSON_AddObjectToObject(want, "overrides");
        cJSON *co = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(ov, "containerOverrides"), co);
        if (o.container)
            cJSON_AddStringToObject(co, "name", o.container);
        if (o.has_args) {
            cJSON *args = cJSON_AddArrayToObject(co, "args");
            for (size_t i = 0; i < o.nargs; i++)
                cJSON_AddItemToArray(args, cJSON_CreateString(o.args[i]));
        }
        if (o.nenv) {
            cJSON *list = cJSON_AddArrayToObject(co, "env");
            for (size_t i = 0; i < o.nenv; i++) {
                cJSON *var = cJSON_CreateObject();
                cJSON_AddStringToObject(var, "name", env[i].name);
                cJSON_AddStringToObject(var, "value", env[i].value ? env[i].value : "");
                cJSON_AddItemToArray(list, var);
            }
        }
        if (o.clear_args)
            cJSON_AddBoolToObject(co, "clearArgs", 1);
        if (o.task_count)
            cJSON_AddNumberToObject(ov, "taskCount", o.task_count);
        if (o.timeout_nanos) {
            char buf[40];
            cJSON_AddStringToObject(ov, "timeout", cr_duration_format(o.timeout_nanos, buf, sizeof buf));
        }
        char *text = cJSON_PrintUnformatted(want);
        cr_http_request req;
        cr_error err = CR_ERROR_INIT;
        CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
        CHECK_STR(req.body, text);
        CHECK_INT(req.body_len, strlen(text));
        cr_http_request_clear(&req);
        cJSON_free(text);
        cJSON_Delete(want);
    }
}

/* Counts what a walk met, to compare with a cJSON tree. */
typedef struct walk_count {
    int values, strings, numbers;
    double sum;
} walk_count;

static int wc_value(void *ud)
{
    ((walk_count *)ud)->values++;
    return 0;
}
static int wc_string(void *ud, const char *raw, size_t len, int escaped)
{
    (void)raw, (void)len, (void)escaped;
    ((walk_count *)ud)->strings++;
    return wc_value(ud);
}
static int wc_number(void *ud, double v)
{
    walk_count *c = ud;
    c->numbers++;
    if (v == v && v - v == 0)
        c->sum += v;
    return wc_value(ud);
}
static int wc_boolean(void *ud, int v)
{
    (void)v;
    return wc_value(ud);
}

static void tree_count(const cJSON *j, walk_count *c)
{
    c->values++;
    if (cJSON_IsString(j))
        c->strings++;
    if (cJSON_IsNumber(j)) {
        c->numbers++;
        if (j->valuedouble == j->valuedouble && j->valuedouble - j->valuedouble == 0)
            c->sum += j->valuedouble;
    }
    for (const cJSON *k = j->child; k; k = k->next)
        tree_count(k, c);
}

/* The Lua binding reads answers with cr_json_walk, cr_client_run_job with
** cJSON: they must accept the same texts and see the same values. */
TEST(the_json_walk_accepts_exactly_what_cjson_parses)
{
    static const char *const seeds[] = {
        "{\"a\":[1,-2.5e3,true,false,null,\"s\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"],\"b\":{}}",
        "{\"name\":\"projects/p/operations/1\",\"metadata\":{\"name\":\"x\",\"n\":[[],[{}]]},\"done\":false}",
        "\xEF\xBB\xBF{\"x\":01,\"y\":1.,\"z\":\"\\u12G4\"} tail",
        " [ 1 , 2 ] ",
        "\"just a string\"",
        "-0",
    };
    static const char interesting[] = "{}[]:,\"\\u0123456789-+.eEtrufalsn \t\x01\xEF\xBB\xBF";
    walk_count none = {0};
    cr_json_events ev = {wc_value, NULL, wc_value, NULL, NULL, wc_string, wc_number, wc_boolean, wc_value};
    unsigned long long rng = 0x9e3779b97f4a7c15ULL;
    char buf[512];
    int accepted = 0, refused = 0;
    for (int round = 0; round < 40000; round++) {
        const char *seed = seeds[round % (sizeof seeds / sizeof *seeds)];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        for (int m = round % 4; m > 0; m--) { /* a few bytes replaced, added or dropped */
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t at = (size_t)(rng % (len + 1));
            char c = interesting[(rng >> 20) % (sizeof interesting - 1)];
            int op = (int)((rng >> 40) % 3);
            if (op == 0 && at < len) {
                buf[at] = c;
            } else if (op == 1 && len + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = c;
                len++;
            } else if (op == 2 && at < len) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
        }
        const char *end = NULL;
        cJSON *tree = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
        walk_count w = none, t = none;
        int rc = cr_json_walk(buf, len, &ev, &w);
        if ((rc == 0) != (tree != NULL)) {
            fprintf(stderr, "  differs on [%.*s]: walk %d, cJSON %s\n", (int)len, buf, rc, tree ? "parsed" : "refused");
            CHECK(0);
            break;
        }
        if (tree) {
            tree_count(tree, &t);
            CHECK_INT(w.values, t.values);
            CHECK_INT(w.strings, t.strings);
            CHECK_INT(w.numbers, t.numbers);
            CHECK(w.sum == t.sum);
            accepted++;
        } else {
            refused++;
        }
        cJSON_Delete(tree);
    }
    CHECK(accepted > 1000 && refused > 1000);

    /* strings decode as cJSON decodes them, to their first NUL */
    static const char *const strings[] = {"{\"k\":\"caf\\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\t\"}",
                                          "{\"k\":\"ab\\u0000cd\"}", "{\"k\":\"x\\u12G4y\"}", "{\"k\":\"plain\"}"};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        cJSON *tree = cJSON_Parse(strings[i]);
        const char *want = cJSON_GetObjectItem(tree, "k")->valuestring;
        const char *raw = strstr(strings[i], ":\"") + 2;
        size_t rawlen = strlen(raw) - 2;
        char out[64];
        size_t n = cr_json_unescape(raw, rawlen, out, sizeof out);
        CHECK_INT(n, strlen(want));
        CHECK(memcmp(out, want, n) == 0);
        cJSON_Delete(tree);
    }
}

/* The CA bundle check reads up to the first certificate, in chunks: a marker across two is found. */
TEST(a_file_is_searched_up_to_what_it_holds_across_chunk_boundaries)
{
    char path[] = "/tmp/cr-contains-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static char big[5000];
    for (size_t at = 4080; at < 4100; at++) {
        memset(big, 'x', sizeof big);
        memcpy(big + at, "-----BEGIN CERTIFICATE-----", 27);
        CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, big, sizeof big, 0) == (ssize_t)sizeof big);
        cr_error err = CR_ERROR_INIT;
        CHECK_INT(cr_file_contains(path, "-----BEGIN CERTIFICATE-----", "ca_file", &err), 1);
        CHECK_INT(cr_file_contains(path, "-----BEGIN CERTIFICATE-----X", "ca_file", &err), 0);
    }
    CHECK(ftruncate(fd, CR_MAX_FILE + 1) == 0);
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_file_contains(path, "-----BEGIN CERTIFICATE-----", "ca_file", &err), -1);
    CHECK_CONTAINS(err.message, "larger than");
    cr_error_clear(&err);
    close(fd);
    unlink(path);
    CHECK_INT(cr_file_contains(path, "x", "ca_file", &err), -1);
    CHECK_STR(err.code, "NOT_FOUND");
    cr_error_clear(&err);
}

static cr_http_response response(long status, const char *body)
{
    cr_http_response r = {0};
    r.status = status;
    r.body = (char *)body;
    r.body_len = strlen(body);
    return r;
}

TEST(an_error_body_becomes_code_status_message_and_details)
{
    cr_http_response r = response(
        404, "{\"error\":{\"code\":404,\"message\":\"Resource 'x' of kind 'JOB' in region 'r' in project 'p' does not "
             "exist.\",\"status\":\"NOT_FOUND\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
             "\"reason\":\"X\"}]}}");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_INT(err.status, 404);
    CHECK_STR(err.message, "Resource 'x' of kind 'JOB' in region 'r' in project 'p' does not exist.");
    CHECK(cJSON_IsArray(err.details) && cJSON_GetArraySize(err.details) == 1);
    CHECK_INT(err.retryable, 0);
    cr_error_clear(&err);

    r = response(429, "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_STR(err.code, "RESOURCE_EXHAUSTED");
    CHECK_INT(err.retryable, 1);
    cr_error_clear(&err);
}

TEST(a_status_name_that_is_not_google_rpcs_is_read_from_the_http_status)
{
    /* a server cannot name its own code: "OK", made-up names and over-long ones fall back */
    const char *bodies[] = {
        "{\"error\":{\"code\":400,\"message\":\"m\",\"status\":\"OK\"}}",
        "{\"error\":{\"code\":400,\"message\":\"m\",\"status\":\"PLEASE_RETRY\"}}",
        "{\"error\":{\"code\":400,\"message\":\"m\",\"status\":\"UNAVAILABLEUNAVAILABLEUNAVAILABLEUNAVAILABLE\"}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        cr_http_response r = response(400, bodies[i]);
        cr_error err = CR_ERROR_INIT;
        CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
        CHECK_STR(err.code, "INVALID_ARGUMENT");
        CHECK_INT(err.retryable, 0);
        cr_error_clear(&err);
    }
    /* an Operation's error with code 0 (OK) is still an error */
    cJSON *st = cJSON_Parse("{\"code\":0,\"message\":\"odd\"}");
    cr_error err = CR_ERROR_INIT;
    cr_api_status_to_error(st, 0, &err);
    CHECK_STR(err.code, "UNKNOWN");
    cr_error_clear(&err);
    cJSON_Delete(st);
}

TEST(an_error_without_a_status_body_is_named_by_its_http_status)
{
    cr_http_response r = response(503, "<html>Service Unavailable</html>");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_INT(err.status, 503);
    CHECK_CONTAINS(err.message, "http://h/v2/x");
    CHECK_CONTAINS(err.message, "Service Unavailable");
    CHECK_INT(err.retryable, 1);
    cr_error_clear(&err);

    r = response(403, "");
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_STR(err.code, "PERMISSION_DENIED");
    cr_error_clear(&err);
}

TEST(a_success_that_is_not_json_is_an_error_naming_the_url)
{
    cr_http_response r = response(200, "this is not json");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_STR(err.code, "UNKNOWN");
    CHECK_CONTAINS(err.message, "http://h/v2/x");
    CHECK_CONTAINS(err.message, "not a JSON object");
    cr_error_clear(&err);

    r = response(200, "[1,2]");
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    cr_error_clear(&err);

    /* every method answers with a resource or an Operation: an empty success is not an answer */
    r = response(200, "  ");
    CHECK(cr_api_parse_response(&r, "http://h/v2/x", &err) == NULL);
    CHECK_CONTAINS(err.message, "empty where a resource was expected");
    cr_error_clear(&err);
}

TEST(an_operation_error_uses_the_numeric_rpc_code)
{
    cJSON *st = cJSON_Parse("{\"code\":10,\"message\":\"Task j-abcde-task0 failed with exit code: 3\"}");
    cr_error err = CR_ERROR_INIT;
    cr_api_status_to_error(st, 0, &err);
    CHECK_STR(err.code, "ABORTED");
    CHECK_CONTAINS(err.message, "exit code: 3");
    cr_error_clear(&err);
    cJSON_Delete(st);
}

TEST(the_execution_name_comes_from_the_operation_metadata)
{
    cJSON *op = cJSON_Parse("{\"name\":\"projects/p/locations/l/operations/1\",\"metadata\":{\"@type\":\"t\","
                            "\"name\":\"projects/p/locations/l/jobs/j/executions/j-abcde\"}}");
    CHECK_STR(cr_api_operation_execution(op), "projects/p/locations/l/jobs/j/executions/j-abcde");
    cJSON_Delete(op);
    op = cJSON_Parse("{\"name\":\"projects/p/locations/l/operations/1\"}");
    CHECK(cr_api_operation_execution(op) == NULL);
    cJSON_Delete(op);
}

TEST(rfc3339_times_parse_to_seconds_and_nanoseconds_with_fractions_and_offsets)
{
    struct {
        const char *text;
        long long seconds, nanos;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2024-05-01T12:00:00Z", 1714564800LL, 0},
        {"2024-05-01T12:00:00.5Z", 1714564800LL, 500000000},
        {"2024-05-01T12:00:00.123456789Z", 1714564800LL, 123456789},
        {"2024-05-01T12:00:00.000000001Z", 1714564800LL, 1},
        {"2024-05-01T14:30:00+02:30", 1714564800LL, 0},
        {"2024-05-01T04:00:00-08:00", 1714564800LL, 0},
        {"2024-05-01T12:00:00.25+00:00", 1714564800LL, 250000000},
        {"1969-12-31T23:59:59.5Z", -1, 500000000},
        {"2024-02-29T00:00:00Z", 1709164800LL, 0},
        {"2000-02-29T00:00:00Z", 951782400LL, 0},
        {"2023-12-31T23:59:59Z", 1704067199LL, 0},
        {"0001-01-01T00:00:00Z", -62135596800LL, 0},
        {"9999-12-31T23:59:59.999999999Z", 253402300799LL, 999999999},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t secs = -7, whole = -7;
        int32_t nanos = -7;
        if (cr_rfc3339_parse_parts(ok[i].text, &secs, &nanos) != 0)
            fprintf(stderr, "  refused \"%s\"\n", ok[i].text);
        CHECK_INT(secs, ok[i].seconds);
        CHECK_INT(nanos, ok[i].nanos);
        CHECK_INT(cr_rfc3339_parse(ok[i].text, &whole), 0);
        CHECK_INT(whole, ok[i].seconds);
    }
    int64_t ns = 0;
    CHECK_INT(cr_rfc3339_parse_ns("2024-05-01T12:00:00.123456789Z", &ns), 0);
    CHECK_INT(ns, 1714564800123456789LL);
    CHECK_INT(cr_rfc3339_parse_ns("1969-12-31T23:59:59.5Z", &ns), 0);
    CHECK_INT(ns, -500000000LL);
}

TEST(an_rfc3339_time_that_is_not_a_calendar_time_or_has_anything_more_is_refused)
{
    const char *bad[] = {
        "",
        "2024",
        "2024-05-01",
        "2024-05-01T12:00:00",  /* no zone */
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* nor is a century not divisible by 400 */
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-32T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:60Z", /* protobuf's Timestamp has no leap second */
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.1234567891Z", /* ten digits */
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00+",
        "2024-01-01T00:00:00Zjunk",
        "2024-01-01T00:00:00Z ",
        "2024-01-01T00:00:00+01:00x",
        " 2024-01-01T00:00:00Z",
        "+2024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01t00:00:00z",
        "2024-01-01T00:00:00z",
        "20240101T000000Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t secs = 7, ns = 7;
        int32_t nanos = 7;
        if (cr_rfc3339_parse_parts(bad[i], &secs, &nanos) == 0)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK_INT(cr_rfc3339_parse_parts(bad[i], &secs, &nanos), -1);
        CHECK_INT(cr_rfc3339_parse(bad[i], &secs), -1);
        CHECK_INT(cr_rfc3339_parse_ns(bad[i], &ns), -1);
        CHECK_INT(secs, 7); /* nothing written */
        CHECK_INT(ns, 7);
    }
}

TEST(rfc3339_nanoseconds_reach_both_ends_of_int64_and_refuse_what_lies_beyond)
{
    int64_t ns = 0;
    CHECK_INT(cr_rfc3339_parse_ns("2262-04-11T23:47:16.854775807Z", &ns), 0);
    CHECK(ns == INT64_MAX);
    CHECK_INT(cr_rfc3339_parse_ns("1677-09-21T00:12:43.145224192Z", &ns), 0);
    CHECK(ns == INT64_MIN);
    CHECK_INT(cr_rfc3339_parse_ns("1677-09-21T00:12:44Z", &ns), 0);
    CHECK(ns == INT64_MIN + 854775808LL);
    ns = 7;
    CHECK_INT(cr_rfc3339_parse_ns("2262-04-11T23:47:16.854775808Z", &ns), -1);
    CHECK_INT(cr_rfc3339_parse_ns("1677-09-21T00:12:43.145224191Z", &ns), -1);
    CHECK_INT(cr_rfc3339_parse_ns("1677-09-21T00:12:42Z", &ns), -1);
    CHECK_INT(cr_rfc3339_parse_ns("9999-12-31T23:59:59Z", &ns), -1);
    CHECK_INT(cr_rfc3339_parse_ns("0001-01-01T00:00:00Z", &ns), -1);
    CHECK_INT(ns, 7);
    int64_t secs = 0; /* the seconds form holds all of them */
    CHECK_INT(cr_rfc3339_parse("9999-12-31T23:59:59Z", &secs), 0);
    CHECK_INT(secs, 253402300799LL);
}

TEST(durations_parse_protobuf_and_gcloud_forms)
{
    struct {
        const char *text;
        long long nanos;
    } ok[] = {{"600s", 600000000000LL}, {"1.5s", 1500000000LL},     {"600", 600000000000LL},
              {"10m", 600000000000LL},  {"1h30m", 5400000000000LL}, {"0.000000001s", 1},
              {"2h", 7200000000000LL},  {"1d", 86400000000000LL},   {"250ms", 250000000LL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = -1;
        CHECK_INT(cr_duration_parse(ok[i].text, &ns), 0);
        CHECK_INT(ns, ok[i].nanos);
    }
    const char *bad[] = {"", "s", "-5s", "10x", "1.s", "abc", "5s5", "99999999999999999999s", "1m 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns;
        if (cr_duration_parse(bad[i], &ns) == 0)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK_INT(cr_duration_parse(bad[i], &ns), -1);
    }
    char buf[40];
    CHECK_STR(cr_duration_format(600000000000LL, buf, sizeof buf), "600s");
    CHECK_STR(cr_duration_format(1500000000LL, buf, sizeof buf), "1.500s");
    CHECK_STR(cr_duration_format(1000, buf, sizeof buf), "0.000001s");
    CHECK_STR(cr_duration_format(1, buf, sizeof buf), "0.000000001s");
}

TEST(no_duration_wraps_however_many_parts_it_has)
{
    const char *bad[] = {"3153600000000ms3153600000000ms3153600000000ms",
                         "3153600000s3153600000s3153600000s",
                         "18446744074s1s",
                         "106751d",
                         "9223372036854775807ms",
                         "100000000000h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 0;
        CHECK_INT(cr_duration_parse(bad[i], &ns), -1);
    }
    int64_t ns = 0;
    CHECK_INT(cr_duration_parse("36500d", &ns), 0); /* 100 years: the most a client duration takes */
    CHECK_INT(ns, 36500LL * 86400 * 1000000000LL);
}

TEST(a_servers_duration_is_read_strictly_over_the_whole_duration_range)
{
    struct {
        const char *text;
        double seconds;
    } ok[] = {{"1.5s", 1.5}, {"0s", 0}, {"-3s", -3}, {"0.000000001s", 1e-9}, {"315576000000s", 315576000000.0}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double s = -99;
        CHECK_INT(cr_duration_parse_proto(ok[i].text, &s), 0);
        double d = s - ok[i].seconds;
        CHECK(d * d <= 1e-24 * (1 + ok[i].seconds * ok[i].seconds));
    }
    const char *bad[] = {"1.5", "1m",  "1h30m", "315576000001s", "1.0000000001s", "s",   "1.s",
                         " 1s", "1s ", "+1s",   "0x10s",         "1e3s",          "nan", "99999999999999s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double s;
        if (cr_duration_parse_proto(bad[i], &s) == 0)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK_INT(cr_duration_parse_proto(bad[i], &s), -1);
    }
}

TEST(a_secret_quoted_back_is_redacted_whole_in_part_and_encoded)
{
    const char *secret = "1//0gREFRESH+token/SECRET=value-0123456789";
    const char *secrets[] = {secret};
    const char *quoted[] = {
        "grant failed for refresh_token=1//0gREFRESH+token/SECRET=value-0123456789 (raw)",
        "refresh_token=1%2F%2F0gREFRESH%2Btoken%2FSECRET%3Dvalue-0123456789&client_id=x",
        "refresh_token=1%2f%2f0gREFRESH%2btoken%2fSECRET%3dvalue-0123456789",
        "{\"refresh_token\":\"1\\/\\/0gREFRESH+token\\/SECRET=value-0123456789\"}",
        "cut at 40: 1//0gREFRESH+token/SECRET=val...",
    };
    for (size_t i = 0; i < sizeof quoted / sizeof quoted[0]; i++) {
        char *text = strdup(quoted[i]);
        cr_scrub(&text, secrets, 1);
        CHECK_CONTAINS(text, "[REDACTED]");
        CHECK(!strstr(text, "REFRESH") && !strstr(text, "SECRET"));
        free(text);
    }
    /* what is not the secret stays */
    char *text = strdup("invalid_grant: Token has been expired or revoked.");
    cr_scrub(&text, secrets, 1);
    CHECK_STR(text, "invalid_grant: Token has been expired or revoked.");
    free(text);
    /* and a long server text is kept to its bound, marked */
    char big[5000];
    memset(big, 'm', sizeof big);
    char *cut = cr_quote_bounded(big, sizeof big, 2048);
    CHECK(strlen(cut) < 2100);
    CHECK_CONTAINS(cut, "[2952 more bytes not shown]");
    free(cut);
}

TEST(http_statuses_and_rpc_codes_map_both_ways)
{
    CHECK_STR(cr_code_for_http_status(404), "NOT_FOUND");
    CHECK_STR(cr_code_for_http_status(429), "RESOURCE_EXHAUSTED");
    CHECK_STR(cr_code_for_http_status(503), "UNAVAILABLE");
    CHECK_STR(cr_code_for_http_status(418), "FAILED_PRECONDITION");
    CHECK_INT(cr_http_status_for_code("DEADLINE_EXCEEDED"), 504);
    CHECK_INT(cr_http_status_for_code("FAILED_PRECONDITION"), 400);
    CHECK_INT(cr_http_status_for_code("nonsense"), 500);
}

static cr_error http_error(int status, const char *code)
{
    cr_error e = CR_ERROR_INIT;
    cr_error_set(&e, code, status, "test");
    e.sent = 1;
    return e;
}

static cr_error transport_error(const char *code, int sent)
{
    cr_error e = CR_ERROR_INIT;
    cr_error_set(&e, code, 0, "test");
    e.sent = sent;
    return e;
}

/* The retry table: what a read and a change may retry. */
TEST(reads_retry_transient_failures_and_changes_only_what_cannot_have_taken_effect)
{
    struct {
        cr_error err;
        int read_retries;
        int write_retries;
    } table[] = {
        {http_error(503, "UNAVAILABLE"), 1, 0},
        {http_error(429, "RESOURCE_EXHAUSTED"), 1, 1},
        {http_error(500, "INTERNAL"), 1, 0},
        {http_error(502, "UNAVAILABLE"), 1, 0},
        {http_error(504, "DEADLINE_EXCEEDED"), 1, 0},
        {http_error(404, "NOT_FOUND"), 0, 0},
        {http_error(400, "INVALID_ARGUMENT"), 0, 0},
        {http_error(403, "PERMISSION_DENIED"), 0, 0},
        {http_error(409, "ALREADY_EXISTS"), 0, 0},
        {transport_error("UNAVAILABLE", 0), 1, 1},       /* connection never made */
        {transport_error("UNAVAILABLE", 1), 1, 0},       /* reset after sending */
        {transport_error("DEADLINE_EXCEEDED", 1), 1, 0}, /* timed out after sending */
        {transport_error("INVALID_ARGUMENT", 0), 0, 0},  /* malformed URL */
    };
    cr_retry p = {5, 1, 30, 2, 100};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        double r = cr_retry_delay(&p, 1, &table[i].err, 1, -1, 100, 0.5);
        double w = cr_retry_delay(&p, 1, &table[i].err, 0, -1, 100, 0.5);
        if ((r >= 0) != table[i].read_retries || (w >= 0) != table[i].write_retries)
            fprintf(stderr, "  case %zu: %s/%d sent=%d\n", i, table[i].err.code, table[i].err.status,
                    table[i].err.sent);
        CHECK_INT(r >= 0, table[i].read_retries);
        CHECK_INT(w >= 0, table[i].write_retries);
        cr_error_clear(&table[i].err);
    }
}

TEST(backoff_grows_with_full_jitter_up_to_the_cap_and_the_attempts_run_out)
{
    cr_retry p = {4, 0.5, 3, 2, 100};
    cr_error e = http_error(503, "UNAVAILABLE");
    /* jitter 1.0-: the ceiling itself; 0: no wait at all (full jitter) */
    CHECK(cr_retry_delay(&p, 1, &e, 1, -1, 100, 0.999999) > 0.49);
    CHECK(cr_retry_delay(&p, 2, &e, 1, -1, 100, 0.999999) > 0.99);
    CHECK(cr_retry_delay(&p, 3, &e, 1, -1, 100, 0.999999) < 2.0 + 1e-9);
    CHECK(cr_retry_delay(&p, 1, &e, 1, -1, 100, 0.0) == 0.0);
    p.attempts = 10;
    CHECK(cr_retry_delay(&p, 8, &e, 1, -1, 100, 0.999999) <= 3.0); /* capped at max */
    p.attempts = 4;
    CHECK(cr_retry_delay(&p, 4, &e, 1, -1, 100, 0.5) < 0); /* 4 attempts made: no more */
    cr_error_clear(&e);
}

TEST(a_servers_retry_after_is_honoured_but_never_past_the_deadline)
{
    cr_retry p = {5, 0.1, 30, 2, 100};
    cr_error e = http_error(429, "RESOURCE_EXHAUSTED");
    CHECK(cr_retry_delay(&p, 1, &e, 0, 2.5, 100, 0.5) == 2.5);
    CHECK(cr_retry_delay(&p, 1, &e, 0, 2.5, 2.0, 0.5) < 0); /* would end after the deadline */
    CHECK(cr_retry_delay(&p, 1, &e, 1, -1, 0.01, 0.9) < 0);
    cr_error_clear(&e);
}

/* ---- several containers in one execution ----------------------------------------------- */

TEST(run_job_sends_one_container_override_per_container_in_the_order_given)
{
    const char *main_args[] = {"manage.py", "job"};
    cr_env_var main_env[] = {{"ID", "42"}};
    cr_env_var side_env[] = {{"MODE", "full"}, {"EMPTY", NULL}};
    cr_container_override c[3] = {
        {"main", main_args, 2, 1, main_env, 1, 0},
        {"sidecar", NULL, 0, 0, side_env, 2, 1},
        {"quiet", NULL, 0, 1, NULL, 0, 0}, /* an explicitly empty args list is sent */
    };
    cr_run_job_options o = {0};
    o.containers = c;
    o.ncontainers = 3;
    o.task_count = 2;
    cr_http_request req;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
    CHECK_STR(req.body, "{\"overrides\":{\"containerOverrides\":[{\"name\":\"main\",\"args\":[\"manage.py\",\"job\"],"
                        "\"env\":[{\"name\":\"ID\",\"value\":\"42\"}]},{\"name\":\"sidecar\",\"env\":[{\"name\":"
                        "\"MODE\",\"value\":\"full\"},{\"name\":\"EMPTY\",\"value\":\"\"}],\"clearArgs\":true},{"
                        "\"name\":\"quiet\",\"args\":[]}],\"taskCount\":2}}");
    cr_http_request_clear(&req);

    /* the bytes cJSON prints for the same tree, escapes included */
    static const char *const tricky[] = {"quote \" back\\slash", "tab\tnl\n\x01", "caf\xc3\xa9"};
    cr_env_var env[] = {{tricky[0], tricky[1]}};
    cr_container_override t[2] = {{tricky[2], tricky, 3, 1, env, 1, 1}, {tricky[0], NULL, 0, 0, NULL, 0, 0}};
    o = (cr_run_job_options){0};
    o.containers = t;
    o.ncontainers = 2;
    cJSON *want = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(want, "overrides"), "containerOverrides");
    cJSON *one = cJSON_CreateObject(), *two = cJSON_CreateObject();
    cJSON_AddStringToObject(one, "name", tricky[2]);
    cJSON_AddItemToObject(one, "args", cJSON_CreateStringArray(tricky, 3));
    cJSON *var = cJSON_CreateObject();
    cJSON_AddStringToObject(var, "name", tricky[0]);
    cJSON_AddStringToObject(var, "value", tricky[1]);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(one, "env"), var);
    cJSON_AddBoolToObject(one, "clearArgs", 1);
    cJSON_AddStringToObject(two, "name", tricky[0]);
    cJSON_AddItemToArray(list, one);
    cJSON_AddItemToArray(list, two);
    char *text = cJSON_PrintUnformatted(want);
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), 0);
    CHECK_STR(req.body, text);
    cr_http_request_clear(&req);
    cJSON_free(text);
    cJSON_Delete(want);
}

TEST(a_container_override_without_a_name_twice_or_with_a_null_arg_or_an_unnamed_env_var_is_refused)
{
    const char *null_arg[] = {"a", NULL};
    cr_env_var unnamed[] = {{"", "x"}};
    struct {
        cr_container_override c[2];
        size_t n;
        const char *says;
    } bad[] = {
        {{{NULL, NULL, 0, 0, NULL, 0, 1}}, 1, "containers[1] names no container"},
        {{{"main", NULL, 0, 0, NULL, 0, 1}, {"", NULL, 0, 0, NULL, 0, 1}}, 2, "containers[2] names no container"},
        {{{"main", NULL, 0, 0, NULL, 0, 1}, {"main", NULL, 0, 0, NULL, 0, 0}}, 2, "'main' is named twice"},
        {{{"main", null_arg, 2, 1, NULL, 0, 0}}, 1, "'main': args[2] is NULL"},
        {{{"side", NULL, 0, 0, unnamed, 1, 0}}, 1, "'side': env[1] has no name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_run_job_options o = {0};
        o.containers = bad[i].c;
        o.ncontainers = bad[i].n;
        cr_http_request req;
        cr_error err = CR_ERROR_INIT;
        CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), -1);
        CHECK_STR(err.code, "INVALID_ARGUMENT");
        CHECK_CONTAINS(err.message, bad[i].says);
        cr_error_clear(&err);
        /* the method table's setter holds them to the same rule */
        const cr_method_def *d = cr_method_of(CR_RUN_JOB);
        cr_args a;
        cr_args_init(&a, d);
        CHECK_INT(cr_args_set_containers(&a, cr_option_find(d->options, "containers"), bad[i].c, bad[i].n, &err), -1);
        CHECK_CONTAINS(err.message, bad[i].says);
        CHECK_INT(a.run.ncontainers, 0);
        cr_error_clear(&err);
    }
}

TEST(containers_and_the_single_container_options_are_refused_together_in_either_order)
{
    cr_container_override c[1] = {{"main", NULL, 0, 0, NULL, 0, 1}};
    const char *args[] = {"x"};
    cr_env_var env[] = {{"A", "1"}};
    cr_run_job_options o = {0};
    o.containers = c;
    o.ncontainers = 1;
    o.container = "main";
    cr_http_request req;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_api_build_run_job("http://h", "projects/p/locations/l/jobs/j", &o, &req, &err), -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "options 'containers' and 'container' cannot be given together");
    cr_error_clear(&err);

    const cr_method_def *d = cr_method_of(CR_RUN_JOB);
    const cr_option *containers = cr_option_find(d->options, "containers");
    const char *singles[] = {"args", "env", "clear_args", "container"};
    for (int i = 0; i < 4; i++) {
        const cr_option *single = cr_option_find(d->options, singles[i]);
        for (int containers_first = 0; containers_first < 2; containers_first++) {
            cr_args a;
            cr_args_init(&a, d);
            int rc = 0;
            if (containers_first)
                rc = cr_args_set_containers(&a, containers, c, 1, &err);
            rc |= i == 0   ? cr_args_set_strings(&a, single, args, 1, &err)
                  : i == 1 ? cr_args_set_env(&a, single, env, 1, &err)
                  : i == 2 ? cr_args_set_bool(&a, single, 1, &err)
                           : cr_args_set_text(&a, single, "main", &err);
            if (!containers_first)
                rc = cr_args_set_containers(&a, containers, c, 1, &err);
            CHECK_INT(rc, -1);
            CHECK_STR(err.code, "INVALID_ARGUMENT");
            CHECK_CONTAINS(err.message, singles[i]);
            CHECK_CONTAINS(err.message, "cannot be given together");
            cr_error_clear(&err);
            /* the refused option is undone: the first stays */
            CHECK_INT(a.run.ncontainers, containers_first ? 1 : 0);
            CHECK_INT(cr_api_run_job_single_option(&a.run) != NULL, !containers_first);
        }
    }
    /* what sets nothing does not count: clear_args = false beside containers */
    cr_args a;
    cr_args_init(&a, d);
    CHECK_INT(cr_args_set_containers(&a, containers, c, 1, &err), 0);
    CHECK_INT(cr_args_set_bool(&a, cr_option_find(d->options, "clear_args"), 0, &err), 0);
    CHECK_INT(cr_args_set_number(&a, cr_option_find(d->options, "task_count"), 3, &err), 0);
    CHECK_INT(a.run.ncontainers, 1);
}

/* ---- hints where people get stuck ------------------------------------------------------------ */

/* The message a PERMISSION_DENIED to request r ends with, after the call's hint (caller frees). */
static char *hinted(const cr_request *r, const char *code, const char *message)
{
    cr_call call;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_call_init(&call, r, &err), 0);
    cr_error_set(&err, code, 403, "%s", message);
    cr_hint_apply(&call, &err);
    CHECK_STR(err.code, code);
    CHECK_INT(err.status, 403);
    char *out = cr_strdup(err.message);
    cr_error_clear(&err);
    cr_call_clear(&call);
    return out;
}

TEST(a_permission_denied_run_job_with_overrides_names_run_with_overrides_and_the_roles_that_have_it)
{
    cr_run_job_options o = {0};
    cr_request r = {0};
    r.method = CR_RUN_JOB;
    r.name = "j";
    r.run = &o;
    const char *denied = "Permission 'run.jobs.runWithOverrides' denied on resource (or resource may not exist).";
    /* every kind of override counts */
    const char *args[] = {"x"};
    cr_container_override c[1] = {{"side", NULL, 0, 0, NULL, 0, 1}};
    for (int kind = 0; kind < 4; kind++) {
        o = (cr_run_job_options){0};
        if (kind == 0)
            o.args = args, o.nargs = 1, o.has_args = 1;
        else if (kind == 1)
            o.task_count = 2;
        else if (kind == 2)
            o.timeout_nanos = 1000000000LL;
        else
            o.containers = c, o.ncontainers = 1;
        char *msg = hinted(&r, "PERMISSION_DENIED", denied);
        CHECK(strncmp(msg, denied, strlen(denied)) == 0); /* Google's words first, as sent */
        CHECK_CONTAINS(msg, " Hint: ");
        CHECK_CONTAINS(msg, "run.jobs.runWithOverrides");
        CHECK_CONTAINS(msg, "roles/run.jobsExecutorWithOverrides");
        CHECK_CONTAINS(msg, "roles/run.developer");
        CHECK_CONTAINS(msg, "roles/run.invoker");
        free(msg);
    }
    /* no overrides, or another refusal: the message as sent */
    o = (cr_run_job_options){0};
    char *msg = hinted(&r, "PERMISSION_DENIED", "The caller does not have permission");
    CHECK_STR(msg, "The caller does not have permission");
    free(msg);
    r.run = NULL;
    msg = hinted(&r, "PERMISSION_DENIED", "The caller does not have permission");
    CHECK_STR(msg, "The caller does not have permission");
    free(msg);
    o.task_count = 2;
    r.run = &o;
    msg = hinted(&r, "NOT_FOUND", "Resource 'j' of kind 'JOB' does not exist.");
    CHECK_STR(msg, "Resource 'j' of kind 'JOB' does not exist.");
    free(msg);
    /* a message without a stop gets one before the hint */
    msg = hinted(&r, "PERMISSION_DENIED", "denied");
    CHECK(strncmp(msg, "denied. Hint: ", 14) == 0);
    free(msg);
}

TEST(a_permission_denied_create_or_update_of_a_job_with_a_service_account_names_act_as_on_it)
{
    cJSON *spec = cJSON_Parse("{\"template\":{\"template\":{\"serviceAccount\":\"runner@p.iam.gserviceaccount.com\","
                              "\"containers\":[{\"image\":\"x\"}]}}}");
    cr_request r = {0};
    r.name = "j";
    r.spec = spec;
    cr_method methods[] = {CR_CREATE_JOB, CR_UPDATE_JOB};
    for (int i = 0; i < 2; i++) {
        r.method = methods[i];
        char *msg = hinted(&r, "PERMISSION_DENIED", "Permission 'iam.serviceaccounts.actAs' denied.");
        CHECK(strncmp(msg, "Permission 'iam.serviceaccounts.actAs' denied. Hint: ", 53) == 0);
        CHECK_CONTAINS(msg, "iam.serviceAccounts.actAs");
        CHECK_CONTAINS(msg, "roles/iam.serviceAccountUser");
        CHECK_CONTAINS(msg, "on runner@p.iam.gserviceaccount.com");
        free(msg);
        msg = hinted(&r, "INVALID_ARGUMENT", "bad");
        CHECK_STR(msg, "bad");
        free(msg);
    }
    /* a job that names no service account (it runs as the default): no hint */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "template"), "template"),
                               "serviceAccount");
    r.method = CR_CREATE_JOB;
    char *msg = hinted(&r, "PERMISSION_DENIED", "The caller does not have permission");
    CHECK_STR(msg, "The caller does not have permission");
    free(msg);
    /* nor another method */
    r.method = CR_GET_JOB;
    r.spec = NULL;
    msg = hinted(&r, "PERMISSION_DENIED", "The caller does not have permission");
    CHECK_STR(msg, "The caller does not have permission");
    free(msg);
    cJSON_Delete(spec);
}

int main(void)
{
    return check_run();
}
