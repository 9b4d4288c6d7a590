/*
** test_tokens.c — execution tokens (issue 21): startExecutionToken and
** runExecutionToken on CreateJob and UpdateJob start an execution named
** JOB-TOKEN, once per token, and the job's terminalCondition follows it, as
** Cloud Run documents; the emulator run as a subprocess, over HTTP.
*/
#include "emukit.h"

/* Waits until the task has started (it touches $OUT_DIR/started), then until $OUT_DIR/go exists. */
#define GATED_SCRIPT "touch \"$OUT_DIR/started\"; while [ ! -e \"$OUT_DIR/go\" ]; do sleep 0.02; done"

/* POST .../jobs?jobId=ID (or PATCH .../jobs/ID with query) with the job (freed); the answer. */
static resp send_job(const char *method, const char *id, const char *query, cJSON *job)
{
    char path[512];
    if (strcmp(method, "POST") == 0)
        snprintf(path, sizeof path, PARENT "/jobs?jobId=%s%s", id, query ? query : "");
    else
        snprintf(path, sizeof path, PARENT "/jobs/%s%s", id, query ? query : "");
    char *body = sh_job_text(job);
    resp r = http(method, path, body);
    free(body);
    return r;
}

/* job with a token member ("startExecutionToken" or "runExecutionToken") set; returns job. */
static cJSON *with_token(cJSON *job, const char *member, const char *token)
{
    cJSON_AddStringToObject(job, member, token);
    return job;
}

static int wait_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int i = 0; i < 3000; i++) {
        if (access(path, F_OK) == 0)
            return 1;
        nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
    }
    return 0;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

/* The field a 400's BadRequest names. */
static const char *violation(const cJSON *error_body)
{
    return str(error_body, "error.details.0.fieldViolations.0.field");
}

TEST(a_start_token_runs_JOB_TOKEN_and_the_job_is_ready_once_it_has_started)
{
    char *dir = new_dir("start-token");
    resp r = send_job("POST", "tk-start", NULL,
                      with_token(sh_job(GATED_SCRIPT, dir, 0), "startExecutionToken", "deploy-42"));
    CHECK_INT(r.status, 200);
    /* The operation is done at once; its Job was rendered before the runner could start anything. */
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK_STR(str(r.json, "response.startExecutionToken"), "deploy-42");
    CHECK_STR(str(r.json, "response.terminalCondition.type"), "Ready");
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_RECONCILING");
    CHECK(cJSON_IsTrue(get(r.json, "response.reconciling")));
    const char *name = PARENT "/jobs/tk-start/executions/tk-start-deploy-42";
    CHECK_STR(str(r.json, "response.latestCreatedExecution.name"), name + 4);
    CHECK_INT(num(r.json, "response.executionCount"), 1);
    resp_free(&r);

    CHECK(wait_file(dir, "started"));
    cJSON *e = get_json("%s", name);
    CHECK_STR(str(e, "name"), name + 4);
    CHECK_STR(str(e, "job"), "tk-start");
    CHECK_STR(str(condition(e, "Completed"), "state"), "CONDITION_RECONCILING"); /* still running */
    cJSON *job = get_json(PARENT "/jobs/tk-start");
    CHECK_STR(str(job, "terminalCondition.state"), "CONDITION_SUCCEEDED");
    CHECK_STR(str(job, "terminalCondition.lastTransitionTime"), str(e, "startTime"));
    CHECK(get(job, "reconciling") == NULL);
    CHECK_STR(str(job, "latestCreatedExecution.completionStatus"), "EXECUTION_RUNNING");
    touch(dir, "go");
    cJSON *done = wait_execution(name + 4);
    CHECK_INT(num(done, "succeededCount"), 1);
    CHECK_INT(execution_count("tk-start"), 1);
    cJSON_Delete(done);
    cJSON_Delete(job);
    cJSON_Delete(e);
    free(dir);
}

TEST(a_run_token_makes_the_job_ready_only_once_its_execution_has_completed)
{
    char *dir = new_dir("run-token");
    resp r = send_job("POST", "tk-run", NULL, with_token(sh_job(GATED_SCRIPT, dir, 0), "runExecutionToken", "v1"));
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_RECONCILING");
    resp_free(&r);
    CHECK(wait_file(dir, "started"));
    cJSON *job = get_json(PARENT "/jobs/tk-run");
    CHECK_STR(str(job, "terminalCondition.state"), "CONDITION_RECONCILING"); /* started is not enough */
    CHECK(cJSON_IsTrue(get(job, "reconciling")));
    touch(dir, "go");
    cJSON *e = wait_execution("projects/test-project/locations/us-central1/jobs/tk-run/executions/tk-run-v1");
    CHECK_INT(num(e, "succeededCount"), 1);
    cJSON *ready = get_json(PARENT "/jobs/tk-run");
    CHECK_STR(str(ready, "terminalCondition.state"), "CONDITION_SUCCEEDED");
    CHECK_STR(str(ready, "terminalCondition.lastTransitionTime"), str(e, "completionTime"));
    CHECK(get(ready, "reconciling") == NULL);
    CHECK_STR(str(ready, "latestCreatedExecution.completionStatus"), "EXECUTION_SUCCEEDED");
    cJSON_Delete(ready);
    cJSON_Delete(e);
    cJSON_Delete(job);
    free(dir);
}

TEST(a_run_token_whose_execution_fails_fails_the_job_with_the_executions_message)
{
    char *dir = new_dir("run-token-fails");
    resp r = send_job("POST", "tk-fail", NULL,
                      with_token(sh_job("echo broken >&2; exit 3", dir, 0), "runExecutionToken", "v1"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *e = wait_execution("projects/test-project/locations/us-central1/jobs/tk-fail/executions/tk-fail-v1");
    CHECK_INT(num(e, "failedCount"), 1);
    cJSON *job = get_json(PARENT "/jobs/tk-fail");
    CHECK_STR(str(job, "terminalCondition.state"), "CONDITION_FAILED");
    CHECK_STR(str(job, "terminalCondition.message"), str(condition(e, "Completed"), "message"));
    CHECK_CONTAINS(str(job, "terminalCondition.message"), "tk-fail-v1-task0 failed with exit code: 3");
    CHECK_STR(str(job, "terminalCondition.severity"), "ERROR");
    CHECK_STR(str(job, "terminalCondition.lastTransitionTime"), str(e, "completionTime"));
    /* deleting the execution leaves the job as its token left it */
    char path[512];
    snprintf(path, sizeof path, "/v2/%s", str(e, "name"));
    resp d = http("DELETE", path, NULL);
    CHECK_INT(d.status, 200);
    resp_free(&d);
    cJSON *after = get_json(PARENT "/jobs/tk-fail");
    CHECK_STR(str(after, "terminalCondition.state"), "CONDITION_FAILED");
    CHECK_STR(str(after, "terminalCondition.message"), str(job, "terminalCondition.message"));
    cJSON_Delete(after);
    cJSON_Delete(job);
    cJSON_Delete(e);
    free(dir);
}

TEST(the_token_the_job_holds_starts_nothing_again_and_a_new_token_starts_a_new_execution)
{
    char *dir = new_dir("token-update");
    resp r = send_job("POST", "tk-update", NULL, with_token(sh_job("true", dir, 0), "startExecutionToken", "one"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON_Delete(wait_execution("projects/test-project/locations/us-central1/jobs/tk-update/executions/tk-update-one"));

    /* the same deployment again, with a change: a new generation, no second execution, no error */
    cJSON *job = with_token(sh_job("true", dir, 0), "startExecutionToken", "one");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(job, "labels"), "deploy", "again");
    r = send_job("PATCH", "tk-update", NULL, job);
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.generation"), "2");
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_SUCCEEDED");
    resp_free(&r);
    /* and its run-token twin names the same execution: still nothing */
    r = send_job("PATCH", "tk-update", NULL, with_token(sh_job("true", dir, 0), "runExecutionToken", "one"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(execution_count("tk-update"), 1);

    /* a new deployment, a new token: a new execution */
    r = send_job("PATCH", "tk-update", NULL, with_token(sh_job("true", dir, 0), "startExecutionToken", "two"));
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.latestCreatedExecution.name"),
              "projects/test-project/locations/us-central1/jobs/tk-update/executions/tk-update-two");
    CHECK_INT(num(r.json, "response.executionCount"), 2);
    resp_free(&r);
    cJSON_Delete(wait_execution("projects/test-project/locations/us-central1/jobs/tk-update/executions/tk-update-two"));
    CHECK_INT(execution_count("tk-update"), 2);

    /* a generation without a token: ready as it is, and the token is gone from the job */
    r = send_job("PATCH", "tk-update", NULL, sh_job("true", dir, 0));
    CHECK_INT(r.status, 200);
    CHECK(get(r.json, "response.startExecutionToken") == NULL);
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_SUCCEEDED");
    resp_free(&r);
    /* sent again, a token whose execution exists is Cloud Run's ALREADY_EXISTS */
    r = send_job("PATCH", "tk-update", NULL, with_token(sh_job("true", dir, 0), "startExecutionToken", "one"));
    CHECK_INT(r.status, 409);
    CHECK_STR(str(r.json, "error.status"), "ALREADY_EXISTS");
    CHECK_STR(str(r.json, "error.message"), "Resource 'tk-update-one' already exists.");
    resp_free(&r);
    CHECK_INT(execution_count("tk-update"), 2);
    free(dir);
}

TEST(run_job_drops_the_jobs_token_so_that_sending_it_again_is_already_exists)
{
    char *dir = new_dir("token-run");
    resp r = send_job("POST", "tk-then-run", NULL, with_token(sh_job("true", dir, 0), "startExecutionToken", "t1"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *op = run_job("tk-then-run", NULL, NULL);
    cJSON_Delete(wait_execution(str(op, "metadata.name")));
    cJSON *job = get_json(PARENT "/jobs/tk-then-run");
    CHECK(get(job, "startExecutionToken") == NULL);
    CHECK_INT(num(job, "executionCount"), 2);
    r = send_job("PATCH", "tk-then-run", NULL, with_token(sh_job("true", dir, 0), "startExecutionToken", "t1"));
    CHECK_INT(r.status, 409);
    CHECK_STR(str(r.json, "error.message"), "Resource 'tk-then-run-t1' already exists.");
    resp_free(&r);
    CHECK_INT(execution_count("tk-then-run"), 2);
    cJSON_Delete(job);
    cJSON_Delete(op);
    free(dir);
}

TEST(both_tokens_at_once_are_invalid_argument_naming_the_oneof_and_the_field)
{
    cJSON *job =
        with_token(with_token(sh_job("true", "/tmp", 0), "startExecutionToken", "a"), "runExecutionToken", "b");
    resp r = send_job("POST", "tk-both", NULL, job);
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
    CHECK_STR(str(r.json, "error.message"), "Invalid JSON payload received. oneof field 'create_execution' is already "
                                            "set. Cannot set 'runExecutionToken'.");
    CHECK_STR(violation(r.json), "job.run_execution_token");
    resp_free(&r);
    CHECK(get_json(PARENT "/jobs/tk-both") == NULL); /* nothing made */
    /* by their proto names too, and on UpdateJob */
    job = with_token(with_token(sh_job("true", "/tmp", 0), "run_execution_token", "a"), "start_execution_token", "b");
    r = send_job("PATCH", "tk-both", "?allowMissing=true", job);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(str(r.json, "error.message"), "oneof field 'create_execution' is already set");
    CHECK_STR(violation(r.json), "job.start_execution_token");
    resp_free(&r);
}

TEST(a_token_too_long_or_not_of_an_execution_ids_characters_is_invalid_argument_naming_the_field)
{
    /* the job name and the token fewer than 63 characters together: 20 + 42 runs, 20 + 43 does not */
    const char *id = "tk-long-aaaaaaaaaaaa";
    char token[64];
    memset(token, 'x', 43);
    token[43] = '\0';
    resp r = send_job("POST", id, NULL, with_token(sh_job("true", "/tmp", 0), "startExecutionToken", token));
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
    CHECK_STR(violation(r.json), "job.start_execution_token");
    CHECK_CONTAINS(str(r.json, "error.message"), "fewer than 63 characters together (here 20 + 43)");
    resp_free(&r);
    CHECK(get_json(PARENT "/jobs/%s", id) == NULL);
    token[42] = '\0';
    r = send_job("POST", id, NULL, with_token(sh_job("true", "/tmp", 0), "runExecutionToken", token));
    CHECK_INT(r.status, 200);
    char name[256];
    snprintf(name, sizeof name, "projects/test-project/locations/us-central1/jobs/%s/executions/%s-%s", id, id, token);
    CHECK_INT((long)strlen(strrchr(name, '/') + 1), 63); /* the longest execution id, a DNS label */
    CHECK_STR(str(r.json, "response.latestCreatedExecution.name"), name);
    resp_free(&r);
    cJSON_Delete(wait_execution(name));

    static const char *const bad[] = {"Deploy", "a_b", "a.b", "ends-", "a b", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = send_job("POST", "tk-bad", NULL, with_token(sh_job("true", "/tmp", 0), "runExecutionToken", bad[i]));
        CHECK_INT(r.status, 400);
        CHECK_STR(violation(r.json), "job.run_execution_token");
        CHECK_CONTAINS(str(r.json, "error.message"), "only lowercase letters, digits and '-'");
        resp_free(&r);
    }
    /* UpdateJob holds it to the same rules */
    r = send_job("PATCH", id, NULL, with_token(sh_job("true", "/tmp", 0), "startExecutionToken", "Nope"));
    CHECK_INT(r.status, 400);
    CHECK_STR(violation(r.json), "job.start_execution_token");
    resp_free(&r);
    CHECK(get_json(PARENT "/jobs/tk-bad") == NULL);
}

TEST(a_token_job_the_runtime_cannot_run_is_made_but_starts_nothing_and_fails_its_terminal_condition)
{
    cJSON *job = sh_job("true", "/tmp", 0);
    cJSON *tt = (cJSON *)get(job, "template.template");
    cJSON *mount = cJSON_CreateObject();
    cJSON_AddStringToObject(mount, "name", "data");
    cJSON_AddStringToObject(mount, "mountPath", "/data");
    cJSON_AddItemToArray(cJSON_AddArrayToObject((cJSON *)get(tt, "containers.0"), "volumeMounts"), mount);
    cJSON *volume = cJSON_CreateObject();
    cJSON_AddStringToObject(volume, "name", "data");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(volume, "emptyDir"), "medium", "MEMORY");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(tt, "volumes"), volume);
    resp r = send_job("POST", "tk-mount", NULL, with_token(job, "runExecutionToken", "v1"));
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_FAILED");
    CHECK(get(r.json, "response.latestCreatedExecution") == NULL);
    CHECK(get(r.json, "response.executionCount") == NULL);
    /* the message is RunJob's refusal of the same job */
    long status;
    cJSON *refused = run_job("tk-mount", NULL, &status);
    CHECK_INT(status, 400);
    CHECK_STR(str(refused, "error.status"), "FAILED_PRECONDITION");
    CHECK_STR(str(r.json, "response.terminalCondition.message"), str(refused, "error.message"));
    CHECK_CONTAINS(str(r.json, "response.terminalCondition.message"), "needs a container runtime");
    CHECK_INT(execution_count("tk-mount"), 0);
    cJSON *got = get_json(PARENT "/jobs/tk-mount");
    CHECK_STR(str(got, "terminalCondition.state"), "CONDITION_FAILED");
    cJSON_Delete(got);
    cJSON_Delete(refused);
    resp_free(&r);
}

TEST(a_token_on_a_sidecar_job_starts_nothing_and_its_terminal_condition_says_why)
{
    cJSON *job = sh_job("true", "/tmp", 0);
    cJSON *containers = (cJSON *)get(job, "template.template.containers");
    cJSON_AddStringToObject(containers->child, "name", "main");
    cJSON *sidecar = cJSON_Duplicate(containers->child, 1);
    cJSON_ReplaceItemInObject(sidecar, "name", cJSON_CreateString("sidecar"));
    cJSON_AddItemToArray(containers, sidecar);
    resp r = send_job("POST", "tk-side", NULL, with_token(job, "startExecutionToken", "s1"));
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.terminalCondition.state"), "CONDITION_FAILED");
    CHECK_CONTAINS(str(r.json, "response.terminalCondition.message"), "multi-container executions are not emulated");
    CHECK(get(r.json, "response.latestCreatedExecution") == NULL);
    CHECK_INT(execution_count("tk-side"), 0);
    resp_free(&r);
}

TEST(validate_only_with_a_token_starts_nothing_and_allow_missing_starts_it)
{
    char *dir = new_dir("token-validate");
    resp r = send_job("POST", "tk-validate", "&validateOnly=true",
                      with_token(sh_job("true", dir, 0), "startExecutionToken", "v1"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK(get_json(PARENT "/jobs/tk-validate") == NULL);
    CHECK(get_json(PARENT "/jobs/tk-validate/executions/tk-validate-v1") == NULL);
    r = send_job("PATCH", "tk-validate", "?allowMissing=true",
                 with_token(sh_job("true", dir, 0), "startExecutionToken", "v1"));
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *e = wait_execution("projects/test-project/locations/us-central1/jobs/tk-validate/executions/tk-validate-v1");
    CHECK_INT(num(e, "succeededCount"), 1);
    cJSON_Delete(e);
    free(dir);
}

TEST(a_jobs_file_keeps_a_jobs_token_starting_nothing_and_holds_it_to_the_same_rules)
{
    char path[512], err_path[512];
    snprintf(path, sizeof path, "%s/token-jobs.json", scratch);
    snprintf(err_path, sizeof err_path, "%s/token-jobs.err", scratch);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"jobs\": [{\"name\": \"projects/p/locations/l/jobs/seeded\", \"startExecutionToken\": \"v1\", "
               "\"template\": {\"template\": {\"containers\": [{\"image\": \"i\", \"args\": [\"true\"]}]}}}]}");
    fclose(f);
    emulator e;
    const char *extra[] = {"--jobs", path, NULL};
    CHECK_INT(emulator_start(&e, extra, NULL, NULL), 0);
    resp r = http_on(&e, "GET", "/v2/projects/p/locations/l/jobs/seeded", NULL);
    CHECK_STR(str(r.json, "startExecutionToken"), "v1");
    CHECK_STR(str(r.json, "terminalCondition.state"), "CONDITION_SUCCEEDED");
    CHECK(get(r.json, "executionCount") == NULL);
    resp_free(&r);
    CHECK_INT(emulator_stop(&e), 0);

    f = fopen(path, "w");
    fprintf(f, "[{\"name\": \"projects/p/locations/l/jobs/seeded\", \"runExecutionToken\": \"V1\", "
               "\"template\": {\"template\": {\"containers\": [{\"image\": \"i\"}]}}}]");
    fclose(f);
    int status = -1;
    CHECK_INT(emulator_start(&e, extra, err_path, &status), -1);
    CHECK_INT(status, 2);
    char *err = read_text(err_path);
    CHECK_CONTAINS(err, "jobs[0] (seeded): job.run_execution_token may hold only lowercase letters");
    free(err);
}

int main(void)
{
    return kit_main(NULL);
}
