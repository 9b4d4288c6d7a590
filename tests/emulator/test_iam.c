/*
** test_iam.c — IAM on a job (issue 22) over HTTP, as Google's front end and
** Cloud IAM answer: the three methods' routes and HTTP methods, GetIamPolicy's
** query, SetIamPolicy's and TestIamPermissions' bodies held to their messages,
** the etag (ACAB for a policy never set, new on every set, ABORTED when stale,
** standard or URL-safe base64 alike), the principals' limit, policies freed
** with their jobs (the valgrind run), and the RPC names the fault API and the
** call counts know them by. The Lua spec (tests/lua/iam_spec.lua) holds the
** rules themselves; the emulator runs as a subprocess.
*/
#include "emukit.h"

#define JOB PARENT "/jobs/guarded"

static const char *violation(const cJSON *error_body)
{
    return str(error_body, "error.details.0.fieldViolations.0.field");
}

static resp set_policy(const char *body)
{
    return http("POST", JOB ":setIamPolicy", body);
}

static char *current_etag(void)
{
    resp r = http("GET", JOB ":getIamPolicy", NULL);
    char *etag = r.status == 200 && str(r.json, "etag") ? strdup(str(r.json, "etag")) : NULL;
    resp_free(&r);
    return etag;
}

TEST(the_three_methods_have_their_routes_and_http_methods)
{
    CHECK_INT(create_job("guarded", sh_job("true", "/tmp", 0)), 200);
    resp r = http("GET", JOB ":getIamPolicy", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"version\":1,\"etag\":\"ACAB\"}");
    resp_free(&r);
    r = http("POST", JOB ":getIamPolicy", "{}");
    CHECK_INT(r.status, 405);
    resp_free(&r);
    r = http("GET", JOB ":setIamPolicy", NULL);
    CHECK_INT(r.status, 405);
    resp_free(&r);
    r = http("PUT", JOB ":testIamPermissions", "{}");
    CHECK_INT(r.status, 405);
    resp_free(&r);
    r = http("GET", PARENT "/jobs/missing:getIamPolicy", NULL);
    CHECK_INT(r.status, 404);
    CHECK_STR(str(r.json, "error.status"), "NOT_FOUND");
    resp_free(&r);
    r = http("POST", PARENT "/jobs/missing:testIamPermissions", "{\"permissions\":[\"run.jobs.run\"]}");
    CHECK_INT(r.status, 404);
    resp_free(&r);
    r = http("POST", JOB ":getIamPolicyy", "{}");
    CHECK_INT(r.status, 501); /* a verb the emulator lacks, as before */
    resp_free(&r);
}

TEST(get_iam_policy_takes_its_options_from_the_query_by_either_name)
{
    resp r = http("GET", JOB ":getIamPolicy?options.requested_policy_version=3", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy?options.requestedPolicyVersion=three", NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "TYPE_INT32");
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy?options.requestedPolicyVersion=3&options.requestedPolicyVersion=1", NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "Duplicate query parameter");
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy?options.requestedPolicyVersion=2", NULL);
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "options.requested_policy_version");
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy?version=3", NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "Cannot bind query parameter");
    resp_free(&r);
    r = http("POST", JOB ":setIamPolicy?updateMask=bindings", "{\"policy\":{}}");
    CHECK_INT(r.status, 400); /* body "*": no field is left for the query */
    resp_free(&r);
}

TEST(the_bodies_are_held_to_google_iam_v1s_messages)
{
    resp r =
        set_policy("{\"policy\":{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\"user:a@example.com\"],"
                   "\"condition\":{\"expression\":\"true\",\"title\":\"t\",\"lokation\":\"x\"}}]}}");
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "Unknown name \\\"lokation\\\" at 'policy.bindings[0].condition'");
    resp_free(&r);
    r = set_policy("{\"policy\":{\"etag\":\"not base64!\"}}");
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "Invalid value at 'policy.etag' (TYPE_BYTES)");
    resp_free(&r);
    r = set_policy("{\"policy\":{\"bindings\":{}}}");
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "policy.bindings");
    resp_free(&r);
    r = set_policy("{\"policy\":{},\"updateMask\":\"bindings,\"}");
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "google.protobuf.FieldMask");
    resp_free(&r);
    r = set_policy("{\"policy\":{\"version\":\"3\",\"bindings\":[]},\"update_mask\":\"bindings\"}"); /* proto names */
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = set_policy(NULL);
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "policy");
    resp_free(&r);
    r = set_policy("{\"policy\":{\"auditConfigs\":[{\"service\":\"allServices\",\"auditLogConfigs\":"
                   "[{\"logType\":\"DATA_READ\"}]}]}}");
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "policy.audit_configs");
    resp_free(&r);
    r = http("POST", JOB ":testIamPermissions", "{\"permissions\":\"run.jobs.run\"}");
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "permissions");
    resp_free(&r);
    r = http("POST", JOB ":testIamPermissions", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{}");
    resp_free(&r);
}

TEST(the_etag_is_new_on_every_set_and_a_stale_one_is_aborted_whatever_its_base64)
{
    resp r = set_policy("{\"policy\":{\"bindings\":[]}}"); /* a blind write: no etag, no check */
    CHECK_INT(r.status, 200);
    resp_free(&r);
    char *etag = current_etag();
    CHECK(etag && strlen(etag) == 12 && etag[11] == '=');
    /* the same etag in URL-safe base64 without its padding is the same etag */
    char body[256], safe[16];
    snprintf(safe, sizeof safe, "%s", etag ? etag : "");
    for (char *c = safe; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c == '=' ? '\0' : *c;
    snprintf(body, sizeof body, "{\"policy\":{\"etag\":\"%s\"}}", safe);
    r = set_policy(body);
    CHECK_INT(r.status, 200);
    const char *next = str(r.json, "etag");
    CHECK(next && etag && strcmp(next, etag) != 0);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"policy\":{\"etag\":\"%s\"}}", etag ? etag : "");
    r = set_policy(body);
    CHECK_INT(r.status, 409);
    CHECK_STR(str(r.json, "error.status"), "ABORTED");
    resp_free(&r);
    r = set_policy("{\"policy\":{\"etag\":\"ACAB\"}}"); /* the never-set policy's, long gone */
    CHECK_INT(r.status, 409);
    resp_free(&r);
    free(etag);
}

TEST(a_policy_holds_at_most_1500_principals)
{
    size_t cap = 1501 * 40 + 200;
    char *body = malloc(cap);
    for (int n = 1500; n <= 1501; n++) {
        size_t w =
            (size_t)snprintf(body, cap, "{\"policy\":{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[");
        for (int i = 0; i < n; i++)
            w += (size_t)snprintf(body + w, cap - w, "%s\"user:u%d@example.com\"", i ? "," : "", i);
        snprintf(body + w, cap - w, "]}]}}");
        resp r = set_policy(body);
        CHECK_INT(r.status, n == 1500 ? 200 : 400);
        if (n > 1500)
            CHECK_CONTAINS(r.body, "larger than the maximum allowed size 1500");
        resp_free(&r);
    }
    free(body);
}

TEST(the_fault_api_and_the_call_counts_know_the_iam_rpcs)
{
    zero_stats();
    CHECK_INT(add_fault("{\"method\":\"google.cloud.run.v2.Jobs.SetIamPolicy\",\"fault\":\"unavailable\"}"), 200);
    resp r = set_policy("{\"policy\":{}}");
    CHECK_INT(r.status, 503);
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy", NULL);
    resp_free(&r);
    r = http("POST", JOB ":testIamPermissions", "{}");
    resp_free(&r);
    CHECK_INT(stat_of(&main_emu, "calls", "SetIamPolicy"), 1);
    CHECK_INT(stat_of(&main_emu, "faulted", "SetIamPolicy"), 1);
    CHECK_INT(stat_of(&main_emu, "calls", "GetIamPolicy"), 1);
    CHECK_INT(stat_of(&main_emu, "calls", "TestIamPermissions"), 1);
}

TEST(a_jobs_policy_goes_with_it_deleted_or_reset)
{
    CHECK_INT(create_job("short-lived", sh_job("true", "/tmp", 0)), 200);
    resp r = http("POST", PARENT "/jobs/short-lived:setIamPolicy",
                  "{\"policy\":{\"bindings\":[{\"role\":\"roles/run.invoker\",\"members\":[\"allUsers\"]}]}}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("DELETE", PARENT "/jobs/short-lived", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("GET", PARENT "/jobs/short-lived:getIamPolicy", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    /* the reset frees every job with its policy (the valgrind run holds it to that) */
    r = http("POST", "/emulator/v1/reset", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("GET", JOB ":getIamPolicy", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

int main(void)
{
    return kit_main(NULL);
}
