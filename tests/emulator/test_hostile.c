/*
** test_hostile.c — the emulator against hostile and careless clients (issue
** 11): numbers and Durations out of Google's ranges, malformed and oversized
** input, long runs that must stay flat, more connections and processes than a
** machine should give one program. Each finding of the fuzzers (tests/fuzz)
** becomes a test here.
*/
#include "emukit.h"

/* The error status of an answer ("INVALID_ARGUMENT"), or "" when it is no error. */
static const char *status_of(const resp *r)
{
    const char *s = str(r->json, "error.status");
    return s ? s : "";
}

/* ---- numbers and Durations ------------------------------------------------------------------ */

TEST(a_run_timeout_beyond_168_hours_is_400_and_never_wraps_to_a_short_one)
{
    CHECK_INT(create_job("dur-run", sh_job("exit 0", "/tmp", 0)), 200);
    /* 18446744074 s * 1e9 wraps a 64-bit nanosecond count to 0.29 s */
    static const char *const bad[] = {"18446744074s", "99999999999s", "315576000000s", "315576000001s",
                                      "604800.000000001s", "-1s", "1.0000000001s", "10m", "1e3s", NULL};
    for (int i = 0; bad[i]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"overrides\":{\"timeout\":\"%s\"}}", bad[i]);
        long status = 0;
        cJSON *op = run_job("dur-run", body, &status);
        CHECK_INT(status, 400);
        CHECK_STR(str(op, "error.status"), "INVALID_ARGUMENT");
        CHECK_CONTAINS(str(op, "error.message"), "timeout");
        cJSON_Delete(op);
    }
    CHECK_INT(execution_count("dur-run"), 0);
    long status = 0;
    cJSON *op = run_job("dur-run", "{\"overrides\":{\"timeout\":\"604800s\"}}", &status);
    CHECK_INT(status, 200);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "succeededCount"), 1);
    cJSON_Delete(e);
    cJSON_Delete(op);
}

TEST(a_job_timeout_out_of_range_is_400_naming_the_field)
{
    static const char *const bad[] = {"99999999999s", "604801s", "0s", "-5s", "0.5", NULL};
    for (int i = 0; bad[i]; i++) {
        cJSON *job = sh_job("exit 0", "/tmp", 0);
        cJSON_AddStringToObject((cJSON *)get(job, "template.template"), "timeout", bad[i]);
        char *text = sh_job_text(job);
        resp r = http("POST", PARENT "/jobs?jobId=dur-job", text);
        CHECK_INT(r.status, 400);
        CHECK_STR(status_of(&r), "INVALID_ARGUMENT");
        CHECK_CONTAINS(str(r.json, "error.message"), "timeout");
        resp_free(&r);
        free(text);
    }
    cJSON *job = sh_job("exit 0", "/tmp", 0);
    cJSON_AddStringToObject((cJSON *)get(job, "template.template"), "timeout", "604800s");
    CHECK_INT(create_job("dur-job", job), 200);
}

TEST(wait_operation_takes_any_duration_in_range_and_refuses_the_rest)
{
    CHECK_INT(create_job("dur-wait", sh_job("exit 0", "/tmp", 0)), 200);
    cJSON *op = run_job("dur-wait", "{}", NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    cJSON_Delete(e);
    char path[512];
    snprintf(path, sizeof path, "/v2/%s:wait", str(op, "name"));
    /* in range: answered at once, the operation being done (a long wait is cut short anyway) */
    static const char *const good[] = {"99999999999s", "315576000000.999999999s", "0s", "0.000000001s", NULL};
    for (int i = 0; good[i]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"timeout\":\"%s\"}", good[i]);
        resp r = http("POST", path, body);
        CHECK_INT(r.status, 200);
        CHECK(cJSON_IsTrue(get(r.json, "done")));
        CHECK(r.seconds < 5);
        resp_free(&r);
    }
    static const char *const bad[] = {"315576000001s", "-1s", "18446744074000000000s", "1.5", "s", NULL};
    for (int i = 0; bad[i]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"timeout\":\"%s\"}", bad[i]);
        resp r = http("POST", path, body);
        CHECK_INT(r.status, 400);
        CHECK_STR(status_of(&r), "INVALID_ARGUMENT");
        resp_free(&r);
    }
    cJSON_Delete(op);
}

TEST(fault_numbers_out_of_range_are_400_and_a_huge_count_on_the_command_line_exits_2)
{
    resp r = http("POST", "/emulator/v1/faults",
                  "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"retry_info\":\"99999999999s\"}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("DELETE", "/emulator/v1/faults", NULL);
    resp_free(&r);
    static const char *const bad[] = {
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"retry_info\":\"315576000001s\"}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"retry_info\":\"-1s\"}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"count\":1e300}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"count\":99999999999}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"count\":1.5}",
        "{\"method\":\"GetJob\",\"fault\":\"delay\",\"delay_ms\":99999999999}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"retry_after\":-1}",
        "{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"retry_after\":1e400}",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        r = http("POST", "/emulator/v1/faults", bad[i]);
        CHECK_INT(r.status, 400);
        CHECK_STR(status_of(&r), "INVALID_ARGUMENT");
        resp_free(&r);
    }
    r = http("GET", "/emulator/v1/faults", NULL);
    CHECK_INT(cJSON_GetArraySize(get(r.json, "faults")), 0);
    resp_free(&r);
    emulator e;
    int status = -1;
    const char *huge[] = {"--fault", "RunJob:unavailable:99999999999999999999", NULL};
    CHECK_INT(emulator_start(&e, huge, NULL, &status), -1);
    CHECK_INT(status, 2);
    const char *negative[] = {"--fault", "RunJob:unavailable:-1", NULL};
    CHECK_INT(emulator_start(&e, negative, NULL, &status), -1);
    CHECK_INT(status, 2);
}

int main(void)
{
    return kit_main(NULL);
}
