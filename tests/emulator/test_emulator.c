/*
** test_emulator.c — the cloudrun-emulator program as users run it: started as
** a subprocess on a free port, driven over HTTP with libcurl, its task
** processes observed through the files they write.
*/
#include "emukit.h"

#include <stdarg.h>

#define RECORD_SCRIPT                                                                                                  \
    "printf '%s\\n' \"$0\" \"$@\" > \"$OUT_DIR/args.$CLOUD_RUN_TASK_INDEX\"; "                                         \
    "env > \"$OUT_DIR/env.$CLOUD_RUN_TASK_INDEX\"; pwd > \"$OUT_DIR/pwd.$CLOUD_RUN_TASK_INDEX\""

/* ---- the tests ---------------------------------------------------------------------------- */

TEST(the_first_line_says_where_it_listens_and_the_second_is_an_export)
{
    char want[128];
    snprintf(want, sizeof want, "cloudrun emulator listening on http://127.0.0.1:%d\n", main_emu.port);
    CHECK_STR(main_emu.first_line, want);
    snprintf(want, sizeof want, "export CLOUD_RUN_EMULATOR_HOST=127.0.0.1:%d\n", main_emu.port);
    CHECK_STR(main_emu.second_line, want);
}

TEST(a_run_with_overrides_runs_every_task_with_the_overridden_args_and_merged_env)
{
    char *dir = new_dir("overrides");
    CHECK_INT(create_job("record", sh_job(RECORD_SCRIPT, dir, -1)), 200);
    cJSON *body = cJSON_CreateObject();
    cJSON *ov = cJSON_AddObjectToObject(body, "overrides");
    cJSON *co = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ov, "containerOverrides"), co);
    const char *args[] = {"-c", RECORD_SCRIPT, "zero", "one two", ""};
    cJSON_AddItemToObject(co, "args", cJSON_CreateStringArray(args, 5));
    cJSON *env = cJSON_AddArrayToObject(co, "env");
    add_env(env, "B", "over-b");
    add_env(env, "C", "over-c");
    cJSON_AddNumberToObject(ov, "taskCount", 3);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    long status;
    cJSON *op = run_job("record", text, &status);
    free(text);
    CHECK_INT(status, 200);

    /* The operation as Google's clients need it on the first answer. */
    CHECK(matches(str(op, "name"), "^projects/test-project/locations/us-central1/operations/[0-9a-f-]{36}$"));
    CHECK(get(op, "done") == NULL || cJSON_IsFalse(get(op, "done")));
    CHECK(get(op, "response") == NULL && get(op, "error") == NULL);
    CHECK_STR(str(op, "metadata.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    const char *name = str(op, "metadata.name");
    CHECK(matches(name, "^projects/test-project/locations/us-central1/jobs/record/executions/record-[a-z0-9]{5}$"));
    CHECK_STR(str(op, "metadata.job"), "record");
    CHECK_INT(num(op, "metadata.taskCount"), 3);
    CHECK_STR(str(op, "metadata.generation"), "1");
    CHECK(cJSON_IsTrue(get(op, "metadata.reconciling")));
    CHECK_STR(str(condition(get(op, "metadata"), "Completed"), "state"), "CONDITION_PENDING");
    CHECK_STR(str(op, "metadata.template.containers.0.args.2"), "zero");

    cJSON *e = name ? wait_execution(name) : NULL;
    CHECK(e != NULL);
    CHECK_INT(num(e, "succeededCount"), 3);
    CHECK(get(e, "failedCount") == NULL && get(e, "runningCount") == NULL && get(e, "reconciling") == NULL);
    CHECK_STR(str(condition(e, "Completed"), "state"), "CONDITION_SUCCEEDED");
    CHECK_STR(str(condition(e, "Started"), "state"), "CONDITION_SUCCEEDED");
    CHECK(matches(str(e, "completionTime"), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"));
    CHECK(matches(str(e, "logUri"), "^file:///"));
    const char *exec_id = name ? strrchr(name, '/') + 1 : "";

    for (int i = 0; i < 3; i++) {
        char path[512], want[128];
        snprintf(path, sizeof path, "%s/args.%d", dir, i);
        char *a = read_text(path);
        CHECK_STR(a, "zero\none two\n\n");
        free(a);
        snprintf(path, sizeof path, "%s/env.%d", dir, i);
        char *envs = read_text(path);
        CHECK_CONTAINS(envs, "\nA=job-a\n");
        CHECK_CONTAINS(envs, "\nB=over-b\n");
        CHECK_NOT_CONTAINS(envs, "B=job-b");
        CHECK_CONTAINS(envs, "\nC=over-c\n");
        CHECK_CONTAINS(envs, "\nPATH=");
        CHECK_CONTAINS(envs, "\nCLOUD_RUN_JOB=record\n");
        snprintf(want, sizeof want, "\nCLOUD_RUN_EXECUTION=%s\n", exec_id);
        CHECK_CONTAINS(envs, want);
        snprintf(want, sizeof want, "\nCLOUD_RUN_TASK_INDEX=%d\n", i);
        CHECK_CONTAINS(envs, want);
        CHECK_CONTAINS(envs, "\nCLOUD_RUN_TASK_COUNT=3\n");
        CHECK_CONTAINS(envs, "\nCLOUD_RUN_TASK_ATTEMPT=0\n");
        free(envs);
    }

    /* The operation is now done with the Execution as its response. */
    cJSON *done = get_json("/v2/%s", str(op, "name"));
    CHECK(cJSON_IsTrue(get(done, "done")));
    CHECK_STR(str(done, "response.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    CHECK_INT(num(done, "response.succeededCount"), 3);
    CHECK(get(done, "error") == NULL);

    /* Tasks: listed in index order, named <execution>-task<i>, with their log file. */
    cJSON *tasks = get_json("/v2/%s/tasks", name);
    CHECK_INT(cJSON_GetArraySize(get(tasks, "tasks")), 3);
    char want[512];
    snprintf(want, sizeof want, "%s/tasks/%s-task1", name, exec_id);
    CHECK_STR(str(tasks, "tasks.1.name"), want);
    CHECK_INT(num(tasks, "tasks.1.index"), 1);
    CHECK(get(tasks, "tasks.0.index") == NULL); /* 0 is omitted */
    CHECK_STR(str(tasks, "tasks.1.execution"), exec_id);
    CHECK_STR(str(tasks, "tasks.1.job"), "record");
    CHECK(matches(str(tasks, "tasks.1.logUri"), "^file:///.*/task1\\.log$"));
    CHECK_STR(str(condition(get(tasks, "tasks.2"), "Completed"), "state"), "CONDITION_SUCCEEDED");
    cJSON *task = get_json("/v2/%s", want);
    CHECK_STR(str(task, "name"), want);
    cJSON *job = get_json(PARENT "/jobs/record");
    CHECK_INT(num(job, "executionCount"), 1);
    CHECK_STR(str(job, "latestCreatedExecution.name"), name);
    CHECK_STR(str(job, "latestCreatedExecution.completionStatus"), "EXECUTION_SUCCEEDED");
    cJSON_Delete(job);
    cJSON_Delete(task);
    cJSON_Delete(tasks);
    cJSON_Delete(done);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(a_task_that_exits_3_fails_the_execution_and_the_operation)
{
    char *dir = new_dir("fail");
    CHECK_INT(create_job("fails", sh_job("echo oops; exit 3", dir, 0)), 200);
    cJSON *op = run_job("fails", NULL, NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    CHECK(get(e, "succeededCount") == NULL);
    const cJSON *c = condition(e, "Completed");
    CHECK_STR(str(c, "state"), "CONDITION_FAILED");
    CHECK_STR(str(c, "executionReason"), "NON_ZERO_EXIT_CODE");
    CHECK_CONTAINS(str(c, "message"), "failed with exit code: 3");
    cJSON *done = get_json("/v2/%s", str(op, "name"));
    CHECK(cJSON_IsTrue(get(done, "done")));
    CHECK_INT(num(done, "error.code"), 10);
    char want[256];
    snprintf(want, sizeof want,
             "Task %s-task0 failed with exit code: 3 and message: The container exited with an error.",
             strrchr(str(op, "metadata.name"), '/') + 1);
    CHECK_STR(str(done, "error.message"), want);
    CHECK(get(done, "response") == NULL);
    CHECK_STR(str(done, "metadata.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    cJSON *task =
        get_json("/v2/%s/tasks/%s-task0", str(op, "metadata.name"), strrchr(str(op, "metadata.name"), '/') + 1);
    CHECK_INT(num(task, "lastAttemptResult.exitCode"), 3);
    CHECK_STR(str(condition(task, "Completed"), "state"), "CONDITION_FAILED");
    /* Its output went to the task's log file. */
    char *log = read_text(str(task, "logUri") + strlen("file://"));
    CHECK_STR(log, "oops\n");
    free(log);
    cJSON *job = get_json(PARENT "/jobs/fails");
    CHECK_STR(str(job, "latestCreatedExecution.completionStatus"), "EXECUTION_FAILED");
    cJSON_Delete(job);
    cJSON_Delete(task);
    cJSON_Delete(done);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(max_retries_1_gives_two_attempts_counting_up)
{
    char *dir = new_dir("retry");
    CHECK_INT(create_job("retries", sh_job("echo $CLOUD_RUN_TASK_ATTEMPT >> \"$OUT_DIR/attempts\"; exit 1", dir, 1)),
              200);
    cJSON *op = run_job("retries", NULL, NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    CHECK_INT(num(e, "retriedCount"), 1);
    char path[512];
    snprintf(path, sizeof path, "%s/attempts", dir);
    char *attempts = read_text(path);
    CHECK_STR(attempts, "0\n1\n");
    free(attempts);
    cJSON *tasks = get_json("/v2/%s/tasks", str(op, "metadata.name"));
    CHECK_INT(num(tasks, "tasks.0.retried"), 1);
    CHECK_INT(num(tasks, "tasks.0.maxRetries"), 1);
    cJSON_Delete(tasks);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(a_retry_that_succeeds_makes_the_task_succeed)
{
    char *dir = new_dir("retry-ok");
    CHECK_INT(create_job("second-time", sh_job("[ \"$CLOUD_RUN_TASK_ATTEMPT\" = 1 ]", dir, -1)), 200);
    cJSON *op = run_job("second-time", NULL, NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "succeededCount"), 1);
    CHECK_INT(num(e, "retriedCount"), 1);
    CHECK(get(e, "failedCount") == NULL);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(a_command_that_does_not_exist_fails_the_task_with_exit_code_127)
{
    cJSON *job = sh_job("true", "/tmp", 0);
    cJSON *c = (cJSON *)get(job, "template.template.containers.0");
    cJSON_ReplaceItemInObject(c, "command", cJSON_CreateStringArray((const char *[]){"no-such-command-cr-test"}, 1));
    CHECK_INT(create_job("missing-cmd", job), 200);
    cJSON *op = run_job("missing-cmd", NULL, NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    CHECK_STR(str(condition(e, "Completed"), "state"), "CONDITION_FAILED");
    CHECK_CONTAINS(str(condition(e, "Completed"), "message"), "exit code: 127");
    CHECK_CONTAINS(str(condition(e, "Completed"), "message"), "no-such-command-cr-test");
    cJSON *tasks = get_json("/v2/%s/tasks", str(op, "metadata.name"));
    CHECK_INT(num(tasks, "tasks.0.lastAttemptResult.exitCode"), 127);
    CHECK_CONTAINS(str(tasks, "tasks.0.lastAttemptResult.status.message"), "was not found");
    cJSON *done = get_json("/v2/%s", str(op, "name"));
    CHECK_INT(num(done, "error.code"), 10);
    cJSON_Delete(done);
    cJSON_Delete(tasks);
    cJSON_Delete(e);
    cJSON_Delete(op);
}

TEST(a_task_past_its_timeout_is_killed_and_fails_with_code_4)
{
    char *dir = new_dir("timeout");
    CHECK_INT(create_job("sleepy", sh_job("sleep 30", dir, 0)), 200);
    cJSON *op = run_job("sleepy", "{\"overrides\":{\"timeout\":\"0.5s\"}}", NULL);
    CHECK_STR(str(op, "metadata.template.timeout"), "0.500s"); /* ProtoJSON's canonical form */
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    cJSON *done = get_json("/v2/%s", str(op, "name"));
    CHECK_INT(num(done, "error.code"), 4);
    CHECK_CONTAINS(str(done, "error.message"), "The configured timeout was reached.");
    cJSON *tasks = get_json("/v2/%s/tasks", str(op, "metadata.name"));
    CHECK_INT(num(tasks, "tasks.0.lastAttemptResult.termSignal"), 15);
    cJSON_Delete(tasks);
    cJSON_Delete(done);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(cancel_stops_running_tasks_and_ends_the_execution_cancelled)
{
    char *dir = new_dir("cancel");
    CHECK_INT(create_job("to-cancel", sh_job("touch \"$OUT_DIR/started.$CLOUD_RUN_TASK_INDEX\"; sleep 30", dir, 3)),
              200);
    cJSON *op = run_job("to-cancel", "{\"overrides\":{\"taskCount\":2}}", NULL);
    const char *name = str(op, "metadata.name");
    char path[512];
    snprintf(path, sizeof path, "%s/started.1", dir);
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    cJSON *running = get_json("/v2/%s", name);
    CHECK_INT(num(running, "runningCount"), 2);
    CHECK_STR(str(condition(running, "Completed"), "state"), "CONDITION_RECONCILING");
    snprintf(path, sizeof path, "/v2/%s:cancel", name);
    resp r = http("POST", path, "{}");
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "metadata.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    resp_free(&r);
    cJSON *e = wait_execution(name);
    CHECK_INT(num(e, "cancelledCount"), 2);
    CHECK(get(e, "retriedCount") == NULL); /* a cancelled task is not retried */
    const cJSON *c = condition(e, "Completed");
    CHECK_STR(str(c, "state"), "CONDITION_FAILED");
    CHECK_STR(str(c, "executionReason"), "CANCELLED");
    CHECK_STR(str(c, "message"), "Cancelled by user.");
    cJSON *done = get_json("/v2/%s", str(op, "name"));
    CHECK(cJSON_IsTrue(get(done, "done")));
    CHECK_STR(str(done, "response.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    cJSON *job = get_json(PARENT "/jobs/to-cancel");
    CHECK_STR(str(job, "latestCreatedExecution.completionStatus"), "EXECUTION_CANCELLED");
    r = http("POST", path, "{}");
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "FAILED_PRECONDITION");
    char want[256];
    snprintf(want, sizeof want, "Execution '%s' cannot be cancelled because it is not running.",
             strrchr(name, '/') + 1);
    CHECK_STR(str(r.json, "error.message"), want);
    resp_free(&r);
    cJSON_Delete(job);
    cJSON_Delete(done);
    cJSON_Delete(e);
    cJSON_Delete(running);
    cJSON_Delete(op);
    free(dir);
}

TEST(parallelism_1_runs_one_task_at_a_time_and_working_dir_is_the_cwd)
{
    char *dir = new_dir("serial");
    cJSON *job = sh_job("mkdir lock || exit 9; sleep 0.05; rmdir lock", dir, 0);
    cJSON_AddNumberToObject((cJSON *)get(job, "template"), "parallelism", 1);
    cJSON_AddNumberToObject((cJSON *)get(job, "template"), "taskCount", 4);
    cJSON_AddStringToObject((cJSON *)get(job, "template.template.containers.0"), "workingDir", dir);
    CHECK_INT(create_job("serial", job), 200);
    cJSON *op = run_job("serial", NULL, NULL);
    CHECK_INT(num(op, "metadata.parallelism"), 1);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "succeededCount"), 4);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(wait_operation_returns_when_the_execution_is_done_and_tasks_page)
{
    CHECK_INT(create_job("waited", sh_job("sleep 0.2", "/tmp", 0)), 200);
    cJSON *op = run_job("waited", "{\"overrides\":{\"taskCount\":5}}", NULL);
    char path[512];
    snprintf(path, sizeof path, "/v2/%s:wait", str(op, "name"));
    resp r = http("POST", path, "{\"timeout\":\"30s\"}");
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK_INT(num(r.json, "response.succeededCount"), 5);
    resp_free(&r);
    const char *name = str(op, "metadata.name");
    cJSON *p1 = get_json("/v2/%s/tasks?pageSize=3", name);
    CHECK_INT(cJSON_GetArraySize(get(p1, "tasks")), 3);
    CHECK(str(p1, "nextPageToken") != NULL);
    cJSON *p2 = get_json("/v2/%s/tasks?pageSize=3&pageToken=%s", name, str(p1, "nextPageToken"));
    CHECK_INT(cJSON_GetArraySize(get(p2, "tasks")), 2);
    CHECK_INT(num(p2, "tasks.0.index"), 3);
    CHECK(str(p2, "nextPageToken") == NULL);
    /* DeleteExecution: a finished operation with the Execution, then it is gone. */
    snprintf(path, sizeof path, "/v2/%s", name);
    r = http("DELETE", path, NULL);
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK_STR(str(r.json, "response.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    resp_free(&r);
    r = http("GET", path, NULL);
    CHECK_INT(r.status, 404);
    CHECK_CONTAINS(str(r.json, "error.message"), "of kind 'EXECUTION'");
    resp_free(&r);
    cJSON_Delete(p2);
    cJSON_Delete(p1);
    cJSON_Delete(op);
}

TEST(an_unknown_job_is_404_with_cloud_runs_message)
{
    resp r = http("GET", PARENT "/jobs/nope", NULL);
    CHECK_INT(r.status, 404);
    CHECK_INT(num(r.json, "error.code"), 404);
    CHECK_STR(str(r.json, "error.status"), "NOT_FOUND");
    CHECK_STR(str(r.json, "error.message"),
              "Resource 'nope' of kind 'JOB' in region 'us-central1' in project 'test-project' does not exist.");
    resp_free(&r);
    long status;
    cJSON *op = run_job("nope", "{}", &status);
    CHECK_INT(status, 404);
    CHECK_STR(str(op, "error.status"), "NOT_FOUND");
    cJSON_Delete(op);
}

TEST(creating_a_job_twice_is_409_and_a_missing_job_id_is_400)
{
    CHECK_INT(create_job("twice", sh_job("true", "/tmp", -1)), 200);
    char *body = sh_job_text(sh_job("true", "/tmp", -1));
    resp r = http("POST", PARENT "/jobs?jobId=twice", body);
    CHECK_INT(r.status, 409);
    CHECK_STR(str(r.json, "error.status"), "ALREADY_EXISTS");
    CHECK_STR(str(r.json, "error.message"), "Resource 'twice' already exists.");
    resp_free(&r);
    r = http("POST", PARENT "/jobs", body);
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
    resp_free(&r);
    r = http("POST", PARENT "/jobs?jobId=Bad_Name", body);
    CHECK_INT(r.status, 400);
    resp_free(&r);
    r = http("POST", PARENT "/jobs?jobId=only-validated&validateOnly=true", body);
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    resp_free(&r);
    r = http("GET", PARENT "/jobs/only-validated", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    free(body);
}

TEST(the_job_create_operation_is_done_with_the_job_and_server_defaults)
{
    cJSON *job = sh_job("true", "/tmp", -1);
    cJSON_AddItemToObject(job, "labels", cJSON_CreateObject()); /* as the Node client sends */
    char *body = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    resp r = http("POST", PARENT "/jobs?jobId=defaults&%24alt=json%3Benum-encoding%3Dint", body);
    free(body);
    CHECK_INT(r.status, 200);
    CHECK(matches(str(r.json, "name"), "^projects/test-project/locations/us-central1/operations/"));
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK_STR(str(r.json, "metadata.@type"), "type.googleapis.com/google.cloud.run.v2.Job");
    CHECK_STR(str(r.json, "response.@type"), "type.googleapis.com/google.cloud.run.v2.Job");
    const cJSON *j = get(r.json, "response");
    CHECK_STR(str(j, "name"), "projects/test-project/locations/us-central1/jobs/defaults");
    CHECK(matches(str(j, "uid"), "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"));
    CHECK_STR(str(j, "generation"), "1");
    CHECK_INT(num(j, "launchStage"), 4); /* GA: the client asked for numeric enums */
    CHECK_INT(num(j, "template.taskCount"), 1);
    CHECK_INT(num(j, "template.template.maxRetries"), 3);
    CHECK_STR(str(j, "template.template.timeout"), "600s");
    CHECK(get(j, "labels") == NULL);
    CHECK_INT(num(j, "terminalCondition.state"), 4); /* CONDITION_SUCCEEDED */
    CHECK(str(j, "etag") != NULL);
    resp_free(&r);
    /* An explicit maxRetries 0 is a value, not "use the default". */
    CHECK_INT(create_job("zero-retries", sh_job("true", "/tmp", 0)), 200);
    cJSON *got = get_json(PARENT "/jobs/zero-retries?%%24alt=json%%3Benum-encoding%%3Dint");
    CHECK(got != NULL);
    CHECK_INT(num(got, "template.template.maxRetries"), 0);
    cJSON_Delete(got);
}

TEST(bad_overrides_are_400_invalid_argument)
{
    CHECK_INT(create_job("overridden", sh_job("true", "/tmp", -1)), 200);
    static const char *const bodies[] = {
        "{\"overrides\":{\"containerOverrides\":[{\"name\":\"nope\",\"args\":[\"x\"]}]}}",
        "{\"overrides\":{\"taskCount\":-1}}",
        "{\"overrides\":{\"taskCount\":10001}}",
        "{\"overrides\":{\"timeout\":\"10 minutes\"}}",
        "{\"overrides\":{\"containerOverrides\":[{\"env\":[{\"value\":\"no name\"}]}]}}",
        NULL,
    };
    for (int i = 0; bodies[i]; i++) {
        long status;
        cJSON *op = run_job("overridden", bodies[i], &status);
        CHECK_INT(status, 400);
        CHECK_STR(str(op, "error.status"), "INVALID_ARGUMENT");
        cJSON_Delete(op);
    }
    long status;
    cJSON *op = run_job("overridden", bodies[0], &status);
    CHECK_CONTAINS(str(op, "error.message"), "'nope'");
    cJSON_Delete(op);
    op = run_job("overridden", "{\"overrides\": {", &status);
    CHECK_INT(status, 400);
    CHECK_CONTAINS(str(op, "error.message"), "Invalid JSON payload received.");
    cJSON_Delete(op);
    /* validateOnly answers without starting anything. */
    op = run_job("overridden", "{\"validateOnly\":true}", &status);
    CHECK_INT(status, 200);
    CHECK_STR(str(op, "metadata.@type"), "type.googleapis.com/google.cloud.run.v2.Execution");
    cJSON_Delete(op);
    cJSON *list = get_json(PARENT "/jobs/overridden/executions");
    CHECK(list != NULL && get(list, "executions") == NULL);
    cJSON_Delete(list);
}

TEST(list_jobs_pages_newest_first)
{
    char path[256];
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "page-%d", i);
        char *body = sh_job_text(sh_job("true", "/tmp", -1));
        snprintf(path, sizeof path, "/v2/projects/paging/locations/l/jobs?jobId=%s", id);
        resp r = http("POST", path, body);
        CHECK_INT(r.status, 200);
        resp_free(&r);
        free(body);
    }
    const char *want[] = {"page-4", "page-3", "page-2", "page-1", "page-0"};
    char token[64] = "";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        snprintf(path, sizeof path, "/v2/projects/paging/locations/l/jobs?pageSize=2%s%s", *token ? "&pageToken=" : "",
                 token);
        cJSON *p = get_json("%s", path);
        const cJSON *jobs = get(p, "jobs");
        CHECK_INT(cJSON_GetArraySize(jobs), page < 2 ? 2 : 1);
        for (const cJSON *j = jobs ? jobs->child : NULL; j && seen < 5; j = j->next, seen++)
            CHECK_STR(strrchr(str(j, "name"), '/') + 1, want[seen]);
        const char *next = str(p, "nextPageToken");
        if (page < 2)
            CHECK(next != NULL);
        else
            CHECK(next == NULL);
        snprintf(token, sizeof token, "%s", next ? next : "");
        cJSON_Delete(p);
    }
    CHECK_INT(seen, 5);
}

TEST(list_executions_is_newest_first_and_accepts_a_dash_for_all_jobs)
{
    CHECK_INT(create_job("listed", sh_job("true", "/tmp", -1)), 200);
    cJSON *a = run_job("listed", NULL, NULL), *b = run_job("listed", NULL, NULL);
    cJSON *ea = wait_execution(str(a, "metadata.name")), *eb = wait_execution(str(b, "metadata.name"));
    cJSON *page = get_json(PARENT "/jobs/listed/executions?pageSize=1");
    CHECK_STR(str(page, "executions.0.name"), str(b, "metadata.name"));
    CHECK(str(page, "nextPageToken") != NULL);
    cJSON *rest = get_json(PARENT "/jobs/listed/executions?pageSize=1&pageToken=%s", str(page, "nextPageToken"));
    CHECK_STR(str(rest, "executions.0.name"), str(a, "metadata.name"));
    CHECK(str(rest, "nextPageToken") == NULL);
    cJSON *all = get_json(PARENT "/jobs/-/executions?pageSize=1000");
    CHECK(cJSON_GetArraySize(get(all, "executions")) >= 2);
    cJSON *via_dash = get_json(PARENT "/jobs/-/executions/%s", strrchr(str(a, "metadata.name"), '/') + 1);
    CHECK_STR(str(via_dash, "name"), str(a, "metadata.name"));
    cJSON_Delete(via_dash);
    cJSON_Delete(all);
    cJSON_Delete(rest);
    cJSON_Delete(page);
    cJSON_Delete(ea);
    cJSON_Delete(eb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

TEST(update_and_delete_a_job)
{
    CHECK_INT(create_job("changing", sh_job("true", "/tmp", -1)), 200);
    char *body = sh_job_text(sh_job("exit 0", "/tmp", 2));
    resp r = http("PATCH", PARENT "/jobs/changing", body);
    free(body);
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.generation"), "2");
    CHECK_INT(num(r.json, "response.template.template.maxRetries"), 2);
    resp_free(&r);
    r = http("DELETE", PARENT "/jobs/changing", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.@type"), "type.googleapis.com/google.cloud.run.v2.Job");
    resp_free(&r);
    r = http("GET", PARENT "/jobs/changing", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

TEST(an_update_made_from_a_stale_etag_is_aborted_and_changes_nothing)
{
    CHECK_INT(create_job("versioned", sh_job("true", "/tmp", -1)), 200);
    cJSON *first = get_json(PARENT "/jobs/versioned");
    char *etag1 = strdup(str(first, "etag"));
    cJSON_Delete(first);
    /* a change made from the current version goes through */
    cJSON *spec = sh_job("exit 0", "/tmp", 2);
    cJSON_AddStringToObject(spec, "etag", etag1);
    char *body = sh_job_text(spec);
    resp r = http("PATCH", PARENT "/jobs/versioned", body);
    free(body);
    CHECK_INT(r.status, 200);
    CHECK_STR(str(r.json, "response.generation"), "2");
    resp_free(&r);
    /* the same etag again is now stale: ABORTED (409), the job as it was */
    spec = sh_job("exit 1", "/tmp", 5);
    cJSON_AddStringToObject(spec, "etag", etag1);
    body = sh_job_text(spec);
    r = http("PATCH", PARENT "/jobs/versioned", body);
    free(body);
    CHECK_INT(r.status, 409);
    CHECK_STR(str(r.json, "error.status"), "ABORTED");
    CHECK(strstr(str(r.json, "error.message"), etag1) != NULL);
    resp_free(&r);
    cJSON *job = get_json(PARENT "/jobs/versioned");
    CHECK_STR(str(job, "generation"), "2");
    CHECK_INT(num(job, "template.template.maxRetries"), 2);
    cJSON_Delete(job);
    free(etag1);
}

TEST(unknown_paths_are_404_and_wrong_methods_405_both_as_google_rpc_errors)
{
    resp r = http("GET", "/v2/projects/p/locations/l/whatever", NULL);
    CHECK_INT(r.status, 404);
    CHECK_STR(str(r.json, "error.status"), "NOT_FOUND");
    resp_free(&r);
    r = http("GET", "/", NULL);
    CHECK_INT(r.status, 404);
    CHECK_INT(num(r.json, "error.code"), 404);
    resp_free(&r);
    r = http("PUT", PARENT "/jobs/x", "{}");
    CHECK_INT(r.status, 405);
    CHECK_STR(str(r.json, "error.status"), "UNIMPLEMENTED");
    resp_free(&r);
    r = http("GET", PARENT "/operations/no-such-op", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

TEST(jobs_from_a_jobs_file_are_served_and_run)
{
    char path[512];
    snprintf(path, sizeof path, "%s/jobs.json", scratch);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"jobs\": [\n"
            " {\"name\": \"projects/seed/locations/europe-west1/jobs/seeded\", \"template\": {\"template\": "
            "{\"containers\": [{\"image\": \"i\", \"command\": [\"/bin/sh\"], \"args\": [\"-c\", \"exit 0\"]}]}}},\n"
            " {\"name\": \"projects/other/locations/asia-northeast1/jobs/second\", \"template\": {\"task_count\": 2, "
            "\"template\": {\"max_retries\": 0, \"containers\": [{\"image\": \"i\", \"args\": [\"true\"]}]}}}\n"
            "]}\n");
    fclose(f);
    emulator e;
    char logs[512];
    snprintf(logs, sizeof logs, "%s/seeded-logs", scratch);
    const char *extra[] = {"--jobs", path, "--log-dir", logs, NULL};
    CHECK_INT(emulator_start(&e, extra, NULL, NULL), 0);
    resp r = http_on(&e, "GET", "/v2/projects/seed/locations/europe-west1/jobs/seeded", NULL);
    CHECK_INT(r.status, 200);
    CHECK_INT(num(r.json, "template.template.maxRetries"), 3);
    resp_free(&r);
    r = http_on(&e, "GET", "/v2/projects/other/locations/asia-northeast1/jobs/second", NULL);
    CHECK_INT(r.status, 200);
    CHECK_INT(num(r.json, "template.taskCount"), 2);
    CHECK_INT(num(r.json, "template.template.maxRetries"), 0);
    resp_free(&r);
    r = http_on(&e, "POST", "/v2/projects/other/locations/asia-northeast1/jobs/second:run", "{}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(emulator_stop(&e), 0);
}

TEST(a_malformed_jobs_file_exits_2_naming_the_file_and_the_job)
{
    char path[512], err_path[512];
    snprintf(path, sizeof path, "%s/bad-jobs.json", scratch);
    snprintf(err_path, sizeof err_path, "%s/bad-jobs.err", scratch);
    FILE *f = fopen(path, "w");
    fprintf(f, "[{\"name\": \"projects/p/locations/l/jobs/ok\", \"template\": {\"template\": {\"containers\": [{}]}}},"
               " {\"template\": {}}]");
    fclose(f);
    emulator e;
    int status = -1;
    const char *extra[] = {"--jobs", path, NULL};
    CHECK_INT(emulator_start(&e, extra, err_path, &status), -1);
    CHECK_INT(status, 2);
    char *err = read_text(err_path);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, "jobs[1].name");
    free(err);

    f = fopen(path, "w");
    fprintf(f, "{\"jobs\": [ {\"name\": \"projects/p/locations/l/jobs/x\", }");
    fclose(f);
    CHECK_INT(emulator_start(&e, extra, err_path, &status), -1);
    CHECK_INT(status, 2);
    err = read_text(err_path);
    CHECK_CONTAINS(err, path);
    CHECK_CONTAINS(err, "not valid JSON");
    free(err);
}

TEST(bad_usage_exits_2)
{
    emulator e;
    int status = -1;
    const char *unknown[] = {"--bogus", NULL};
    CHECK_INT(emulator_start(&e, unknown, NULL, &status), -1);
    CHECK_INT(status, 2);
    const char *bad_port[] = {"--port", "http", NULL};
    CHECK_INT(emulator_start(&e, bad_port, NULL, &status), -1);
    CHECK_INT(status, 2);
}

/* ---- fault injection ---------------------------------------------------------------------- */

TEST(unavailable_faults_answer_503_for_the_next_n_calls_then_the_call_goes_through)
{
    CHECK_INT(create_job("faulty-get", sh_job("true", "/tmp", 0)), 200);
    zero_stats();
    CHECK_INT(add_fault("{\"method\":\"GetJob\",\"fault\":\"unavailable\",\"count\":2,\"retry_after\":3}"), 200);
    for (int i = 0; i < 2; i++) {
        resp r = http("GET", PARENT "/jobs/faulty-get", NULL);
        CHECK_INT(r.status, 503);
        CHECK_INT(num(r.json, "error.code"), 503);
        CHECK_STR(str(r.json, "error.status"), "UNAVAILABLE");
        CHECK_STR(str(r.json, "error.message"), "The service is currently unavailable.");
        CHECK_STR(r.retry_after, "3");
        resp_free(&r);
    }
    resp r = http("GET", PARENT "/jobs/faulty-get", NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.retry_after, "");
    resp_free(&r);
    /* Other RPCs were never affected, and every attempt was counted. */
    CHECK_INT(stat_of(&main_emu, "calls", "GetJob"), 3);
    CHECK_INT(stat_of(&main_emu, "faulted", "GetJob"), 2);
    CHECK_INT(stat_of(&main_emu, "calls", "RunJob"), 0);
}

TEST(resource_exhausted_carries_retry_after_error_info_and_retry_info)
{
    zero_stats();
    CHECK_INT(add_fault("{\"method\":\"google.cloud.run.v2.Jobs.ListJobs\",\"fault\":\"resource_exhausted\","
                        "\"retryAfter\":1,\"retryInfo\":\"1.5s\"}"),
              200);
    resp r = http("GET", PARENT "/jobs", NULL);
    CHECK_INT(r.status, 429);
    CHECK_STR(str(r.json, "error.status"), "RESOURCE_EXHAUSTED");
    CHECK_CONTAINS(str(r.json, "error.message"), "Quota exceeded for quota metric 'Read requests'");
    CHECK_STR(r.retry_after, "1");
    CHECK_STR(str(r.json, "error.details.0.@type"), "type.googleapis.com/google.rpc.ErrorInfo");
    CHECK_STR(str(r.json, "error.details.0.reason"), "RATE_LIMIT_EXCEEDED");
    CHECK_STR(str(r.json, "error.details.1.@type"), "type.googleapis.com/google.rpc.RetryInfo");
    CHECK_STR(str(r.json, "error.details.1.retryDelay"), "1.5s");
    resp_free(&r);
    r = http("GET", PARENT "/jobs", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(stat_of(&main_emu, "calls", "ListJobs"), 2);
}

TEST(internal_and_deadline_faults_answer_500_and_504_and_do_nothing)
{
    CHECK_INT(create_job("faulty-run", sh_job("true", "/tmp", 0)), 200);
    CHECK_INT(add_fault("{\"method\":\"RunJob\",\"fault\":\"internal\"}"), 200);
    CHECK_INT(add_fault("{\"method\":\"RunJob\",\"fault\":\"deadline\",\"retry_info\":\"2s\"}"), 200);
    long status;
    cJSON *op = run_job("faulty-run", NULL, &status);
    CHECK_INT(status, 500);
    CHECK_STR(str(op, "error.status"), "INTERNAL");
    CHECK_STR(str(op, "error.message"), "Internal error encountered.");
    cJSON_Delete(op);
    op = run_job("faulty-run", NULL, &status);
    CHECK_INT(status, 504);
    CHECK_STR(str(op, "error.status"), "DEADLINE_EXCEEDED");
    CHECK_STR(str(op, "error.details.0.retryDelay"), "2s");
    cJSON_Delete(op);
    CHECK_INT(execution_count("faulty-run"), 0);
}

TEST(a_permission_denied_fault_answers_403_as_iam_refuses_and_does_nothing)
{
    CHECK_INT(create_job("refused-run", sh_job("true", "/tmp", 0)), 200);
    CHECK_INT(add_fault("{\"method\":\"RunJob\",\"fault\":\"permission_denied\"}"), 200);
    long status;
    cJSON *op = run_job("refused-run", NULL, &status);
    CHECK_INT(status, 403);
    CHECK_INT(num(op, "error.code"), 403);
    CHECK_STR(str(op, "error.status"), "PERMISSION_DENIED");
    CHECK_STR(str(op, "error.message"), "The caller does not have permission");
    cJSON_Delete(op);
    CHECK_INT(execution_count("refused-run"), 0);
}

TEST(a_delay_fault_answers_normally_after_the_delay)
{
    CHECK_INT(create_job("slow-get", sh_job("true", "/tmp", 0)), 200);
    CHECK_INT(add_fault("{\"method\":\"GetJob\",\"fault\":\"delay\",\"delay_ms\":400}"), 200);
    resp r = http("GET", PARENT "/jobs/slow-get", NULL);
    CHECK_INT(r.status, 200);
    CHECK(r.seconds >= 0.4);
    CHECK_STR(str(r.json, "name"), "projects/test-project/locations/us-central1/jobs/slow-get");
    resp_free(&r);
    r = http("GET", PARENT "/jobs/slow-get", NULL);
    CHECK(r.seconds < 0.4);
    resp_free(&r);
}

TEST(a_drop_fault_closes_the_connection_unanswered_before_anything_is_done)
{
    CHECK_INT(create_job("dropped", sh_job("true", "/tmp", 0)), 200);
    zero_stats();
    CHECK_INT(add_fault("{\"method\":\"RunJob\",\"fault\":\"drop\"}"), 200);
    resp r = http("POST", PARENT "/jobs/dropped:run", "{}");
    CHECK_INT(r.curl_code, CURLE_GOT_NOTHING);
    CHECK_INT(r.status, 0);
    CHECK(r.body == NULL);
    resp_free(&r);
    CHECK_INT(execution_count("dropped"), 0);
    CHECK_INT(stat_of(&main_emu, "calls", "RunJob"), 1);
    CHECK_INT(stat_of(&main_emu, "faulted", "RunJob"), 1);
}

TEST(reset_after_effect_really_starts_the_execution_but_never_answers)
{
    char *dir = new_dir("reset-after-effect");
    CHECK_INT(create_job("reset-run", sh_job("touch \"$OUT_DIR/ran\"", dir, 0)), 200);
    CHECK_INT(add_fault("{\"method\":\"RunJob\",\"fault\":\"reset_after_effect\"}"), 200);
    resp r = http("POST", PARENT "/jobs/reset-run:run", "{}");
    CHECK_INT(r.curl_code, CURLE_GOT_NOTHING);
    CHECK(r.body == NULL);
    resp_free(&r);
    cJSON *list = get_json(PARENT "/jobs/reset-run/executions");
    CHECK_INT(cJSON_GetArraySize(get(list, "executions")), 1);
    cJSON *e = wait_execution(str(list, "executions.0.name"));
    CHECK_INT(num(e, "succeededCount"), 1);
    char path[512];
    snprintf(path, sizeof path, "%s/ran", dir);
    CHECK(access(path, F_OK) == 0);
    cJSON_Delete(e);
    cJSON_Delete(list);
    free(dir);
}

TEST(pending_faults_are_listed_consumed_in_order_and_cleared)
{
    CHECK_INT(add_fault("{\"method\":\"*\",\"fault\":\"unavailable\",\"count\":3}"), 200);
    CHECK_INT(add_fault("{\"method\":\"GetTask\",\"fault\":\"internal\"}"), 200);
    cJSON *list = get_json("/emulator/v1/faults");
    CHECK_INT(cJSON_GetArraySize(get(list, "faults")), 2);
    CHECK_STR(str(list, "faults.0.method"), "*");
    CHECK_INT(num(list, "faults.0.count"), 3);
    CHECK_STR(str(list, "faults.1.fault"), "internal");
    cJSON_Delete(list);
    /* "*" matches any RPC: one call consumes one of its three. */
    resp r = http("GET", PARENT "/operations", NULL);
    CHECK_INT(r.status, 503);
    resp_free(&r);
    list = get_json("/emulator/v1/faults");
    CHECK_INT(num(list, "faults.0.count"), 2);
    cJSON_Delete(list);
    r = http("DELETE", "/emulator/v1/faults", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    list = get_json("/emulator/v1/faults");
    CHECK_INT(cJSON_GetArraySize(get(list, "faults")), 0);
    cJSON_Delete(list);
    r = http("GET", PARENT "/operations", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

TEST(bad_fault_descriptions_are_400_naming_the_field)
{
    static const char *const bad[][2] = {
        {"{\"method\":\"Nope\",\"fault\":\"drop\"}", "fault.method"},
        {"{\"method\":\"RunJob\",\"fault\":\"explode\"}", "fault.fault"},
        {"{\"method\":\"RunJob\",\"fault\":\"drop\",\"count\":0}", "fault.count"},
        {"{\"method\":\"RunJob\",\"fault\":\"unavailable\",\"retry_info\":\"soon\"}", "fault.retry_info"},
        {"{\"method\":\"RunJob\",\"fault\":\"unavailable\",\"retry_after\":\"1\"}", "fault.retry_after"},
        {"{\"method\":\"RunJob\",\"fault\":\"delay\",\"delay_ms\":-5}", "fault.delay_ms"},
        {"[1]", "JSON object"},
        {"{", "Invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp r = http("POST", "/emulator/v1/faults", bad[i][0]);
        CHECK_INT(r.status, 400);
        CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
        CHECK_CONTAINS(str(r.json, "error.message"), bad[i][1]);
        resp_free(&r);
    }
    resp r = http("PUT", "/emulator/v1/faults", "{}");
    CHECK_INT(r.status, 405);
    resp_free(&r);
    r = http("GET", "/emulator/v1/nothing", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    cJSON *list = get_json("/emulator/v1/faults");
    CHECK_INT(cJSON_GetArraySize(get(list, "faults")), 0);
    cJSON_Delete(list);
}

TEST(fault_options_on_the_command_line_and_reset)
{
    char logs[512], jobs[512];
    snprintf(logs, sizeof logs, "%s/fault-cli-logs", scratch);
    snprintf(jobs, sizeof jobs, "%s/fault-jobs.json", scratch);
    FILE *f = fopen(jobs, "w");
    fprintf(f, "[{\"name\": \"projects/p/locations/l/jobs/j\", \"template\": {\"template\": "
               "{\"containers\": [{\"image\": \"i\", \"command\": [\"true\"]}]}}}]");
    fclose(f);
    emulator e;
    const char *extra[] = {"--log-dir", logs,
                           "--jobs",    jobs,
                           "--fault",   "GetJob:unavailable:2",
                           "--fault",   "{\"method\":\"ListJobs\",\"fault\":\"resource_exhausted\",\"retry_after\":1}",
                           NULL};
    CHECK_INT(emulator_start(&e, extra, NULL, NULL), 0);
    resp r = http_on(&e, "GET", "/v2/projects/p/locations/l/jobs/j", NULL);
    CHECK_INT(r.status, 503);
    resp_free(&r);
    r = http_on(&e, "GET", "/v2/projects/p/locations/l/jobs", NULL);
    CHECK_INT(r.status, 429);
    CHECK_STR(r.retry_after, "1");
    resp_free(&r);
    CHECK_INT(stat_of(&e, "calls", "GetJob"), 1);
    /* reset: no faults, no counts, no resources */
    r = http_on(&e, "POST", "/emulator/v1/reset", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(stat_of(&e, "calls", "GetJob"), 0);
    r = http_on(&e, "GET", "/v2/projects/p/locations/l/jobs/j", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    CHECK_INT(emulator_stop(&e), 0);

    int status = -1;
    const char *bad[] = {"--fault", "RunJob", NULL};
    CHECK_INT(emulator_start(&e, bad, NULL, &status), -1);
    CHECK_INT(status, 2);
    const char *bad_kind[] = {"--fault", "RunJob:explode", NULL};
    CHECK_INT(emulator_start(&e, bad_kind, NULL, &status), -1);
    CHECK_INT(status, 2);
}

/* ---- the front door: only this machine's own programs ------------------------------------------ */

#define EVIL_ORIGIN "Origin: https://evil.example"

TEST(a_cross_origin_text_plain_create_job_is_refused_and_creates_nothing)
{
    char *dir = new_dir("cross-origin");
    char *job = sh_job_text(sh_job("touch \"$OUT_DIR/ran\"", dir, 0));
    /* a "simple" request: a browser sends it cross-origin without a preflight */
    const char *simple[] = {EVIL_ORIGIN, "Content-Type: text/plain", NULL};
    resp r = http_with(&main_emu, "POST", PARENT "/jobs?jobId=from-a-page", job, simple);
    CHECK_INT(r.status, 403);
    CHECK_STR(str(r.json, "error.status"), "PERMISSION_DENIED");
    CHECK(r.body && strstr(r.body, "--allow-origin"));
    resp_free(&r);
    r = http("GET", PARENT "/jobs/from-a-page", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);

    /* with the right Content-Type but a foreign Origin: refused all the same, and RunJob too */
    const char *json_from_page[] = {EVIL_ORIGIN, "Content-Type: application/json", NULL};
    r = http_with(&main_emu, "POST", PARENT "/jobs?jobId=from-a-page", job, json_from_page);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    CHECK_INT(create_job("page-target", sh_job("touch \"$OUT_DIR/ran\"", dir, 0)), 200);
    long before = stat_of(&main_emu, "calls", "RunJob");
    r = http_with(&main_emu, "POST", PARENT "/jobs/page-target:run", "{}", simple);
    CHECK_INT(r.status, 403);
    CHECK_STR(r.allow_origin, "");
    resp_free(&r);
    CHECK_INT(stat_of(&main_emu, "calls", "RunJob"), before);
    cJSON *list = get_json(PARENT "/jobs/page-target/executions");
    CHECK(list && !get(list, "executions"));
    cJSON_Delete(list);
    char ran[600];
    snprintf(ran, sizeof ran, "%s/ran", dir);
    CHECK(access(ran, F_OK) != 0);
    free(job);
    free(dir);
}

TEST(a_foreign_host_is_refused_against_dns_rebinding_and_loopback_names_are_served)
{
    char host[128];
    snprintf(host, sizeof host, "Host: rebound.example:%d", main_emu.port);
    const char *foreign[] = {host, NULL};
    resp r = http_with(&main_emu, "GET", PARENT "/jobs", NULL, foreign);
    CHECK_INT(r.status, 403);
    CHECK_STR(str(r.json, "error.status"), "PERMISSION_DENIED");
    CHECK(r.body && strstr(r.body, "--allow-host"));
    resp_free(&r);
    const char *other_port[] = {"Host: localhost:1", NULL};
    r = http_with(&main_emu, "GET", PARENT "/jobs", NULL, other_port);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    const char *names[] = {"localhost", "127.0.0.1", "[::1]", "LocalHost"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(host, sizeof host, "Host: %s:%d", names[i], main_emu.port);
        const char *loopback[] = {host, NULL};
        r = http_with(&main_emu, "GET", PARENT "/jobs", NULL, loopback);
        CHECK_INT(r.status, 200);
        resp_free(&r);
    }
}

TEST(the_control_api_refuses_a_cross_origin_reset_and_a_text_plain_fault)
{
    char *dir = new_dir("control-origin");
    CHECK_INT(create_job("survives-reset", sh_job("true", dir, 0)), 200);
    const char *from_page[] = {EVIL_ORIGIN, NULL};
    resp r = http_with(&main_emu, "POST", "/emulator/v1/reset", NULL, from_page);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    r = http("GET", PARENT "/jobs/survives-reset", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    const char *plain[] = {"Content-Type: text/plain", NULL};
    r = http_with(&main_emu, "POST", "/emulator/v1/faults", "{\"method\":\"*\",\"fault\":\"unavailable\"}", plain);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    cJSON *faults = get_json("/emulator/v1/faults");
    CHECK_INT(cJSON_GetArraySize(get(faults, "faults")), 0);
    cJSON_Delete(faults);
    free(dir);
}

TEST(a_body_needs_json_content_type_and_an_empty_body_needs_none)
{
    char *dir = new_dir("content-type");
    CHECK_INT(create_job("typed", sh_job("true", dir, 0)), 200);
    const char *none[] = {"Content-Type:", NULL};
    resp r = http_with(&main_emu, "POST", PARENT "/jobs/typed:run", "{}", none);
    CHECK_INT(r.status, 403);
    CHECK(r.body && strstr(r.body, "application/json"));
    resp_free(&r);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    r = http_with(&main_emu, "POST", PARENT "/jobs/typed:run", "{}", form);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    const char *charset[] = {"Content-Type: Application/JSON; charset=utf-8", NULL};
    r = http_with(&main_emu, "POST", PARENT "/jobs/typed:run", "{}", charset);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http_with(&main_emu, "POST", PARENT "/jobs/typed:run", "", none);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http_with(&main_emu, "GET", PARENT "/jobs/typed", NULL, none);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    free(dir);
}

TEST(allowed_origins_get_cors_answers_and_allowed_hosts_are_served)
{
    char logs[512];
    snprintf(logs, sizeof logs, "%s/allow-logs", scratch);
    emulator e;
    const char *extra[] = {
        "--log-dir",   logs, "--allow-origin", "http://localhost:3000", "--allow-host", "devbox", "--allow-host",
        "pinned:9999", NULL};
    CHECK_INT(emulator_start(&e, extra, NULL, NULL), 0);
    const char *preflight[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: POST",
                               "Access-Control-Request-Headers: content-type,x-goog-api-client", NULL};
    resp r = http_with(&e, "OPTIONS", PARENT "/jobs?jobId=x", NULL, preflight);
    CHECK_INT(r.status, 204);
    CHECK_STR(r.allow_origin, "http://localhost:3000");
    resp_free(&r);
    const char *evil_preflight[] = {EVIL_ORIGIN, "Access-Control-Request-Method: POST", NULL};
    r = http_with(&e, "OPTIONS", PARENT "/jobs?jobId=x", NULL, evil_preflight);
    CHECK_INT(r.status, 403);
    CHECK_STR(r.allow_origin, "");
    resp_free(&r);
    const char *page[] = {"Origin: http://localhost:3000", "Content-Type: application/json", NULL};
    r = http_with(&e, "GET", PARENT "/jobs", NULL, page);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.allow_origin, "http://localhost:3000");
    resp_free(&r);
    const char *devbox[] = {"Host: devbox:4321", NULL};
    r = http_with(&e, "GET", PARENT "/jobs", NULL, devbox);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    const char *pinned_wrong[] = {"Host: pinned:4321", NULL};
    r = http_with(&e, "GET", PARENT "/jobs", NULL, pinned_wrong);
    CHECK_INT(r.status, 403);
    resp_free(&r);
    const char *pinned[] = {"Host: pinned:9999", NULL};
    r = http_with(&e, "GET", PARENT "/jobs", NULL, pinned);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    CHECK_INT(emulator_stop(&e), 0);

    int status = -1;
    const char *wildcard[] = {"--allow-origin", "*", NULL};
    CHECK_INT(emulator_start(&e, wildcard, NULL, &status), -1);
    CHECK_INT(status, 2);
    const char *path_origin[] = {"--allow-origin", "http://x.example/app", NULL};
    CHECK_INT(emulator_start(&e, path_origin, NULL, &status), -1);
    CHECK_INT(status, 2);
}

/* ---- faithfulness ----------------------------------------------------------------------------- */

TEST(enum_encoding_int_answers_enums_as_numbers_and_names_otherwise)
{
    char *dir = new_dir("enums");
    CHECK_INT(create_job("enum-fail", sh_job("exit 2", dir, 0)), 200);
    cJSON *op = run_job("enum-fail", NULL, NULL);
    const char *name = str(op, "metadata.name");
    cJSON *e = wait_execution(name);
    cJSON *n = get_json("/v2/%s?%%24alt=json%%3Benum-encoding%%3Dint", name);
    const cJSON *c = condition(n, "Completed");
    CHECK_INT(num(c, "state"), 3);           /* CONDITION_FAILED */
    CHECK_INT(num(c, "severity"), 1);        /* ERROR */
    CHECK_INT(num(c, "executionReason"), 2); /* NON_ZERO_EXIT_CODE */
    CHECK_INT(num(n, "launchStage"), 4);     /* GA */
    CHECK_INT(num(condition(n, "Started"), "state"), 4);
    CHECK_STR(str(condition(e, "Completed"), "state"), "CONDITION_FAILED");
    CHECK_STR(str(condition(e, "Completed"), "executionReason"), "NON_ZERO_EXIT_CODE");
    /* The form Google's Node client sends: a literal $ and an encoded ';'. */
    cJSON *t = get_json("/v2/%s/tasks?$alt=json%%3Benum-encoding=int", name);
    CHECK_INT(num(condition(get(t, "tasks.0"), "Completed"), "state"), 3);
    cJSON *j = get_json(PARENT "/jobs/enum-fail?$alt=json%%3Benum-encoding=int");
    CHECK_INT(num(j, "latestCreatedExecution.completionStatus"), 2); /* EXECUTION_FAILED */
    cJSON *o = get_json("/v2/%s?$alt=json%%3Benum-encoding=int", str(op, "name"));
    CHECK_INT(num(condition(get(o, "metadata"), "Completed"), "state"), 3);
    cJSON_Delete(o);
    cJSON_Delete(j);
    cJSON_Delete(t);
    cJSON_Delete(n);
    cJSON_Delete(e);
    cJSON_Delete(op);
    /* Numbers sent in a body are understood and kept as names. */
    cJSON *job = sh_job("true", "/tmp", 0);
    cJSON_AddNumberToObject(job, "launchStage", 3);
    cJSON_AddNumberToObject((cJSON *)get(job, "template.template"), "executionEnvironment", 2);
    CHECK_INT(create_job("enum-in", job), 200);
    j = get_json(PARENT "/jobs/enum-in");
    CHECK_STR(str(j, "launchStage"), "BETA");
    CHECK_STR(str(j, "template.template.executionEnvironment"), "EXECUTION_ENVIRONMENT_GEN2");
    cJSON_Delete(j);
    free(dir);
}

TEST(list_tasks_with_a_dash_lists_every_execution_s_tasks_in_pages)
{
    CHECK_INT(create_job("dash-tasks", sh_job("true", "/tmp", 0)), 200);
    cJSON *a = run_job("dash-tasks", "{\"overrides\":{\"taskCount\":2}}", NULL);
    cJSON *b = run_job("dash-tasks", "{\"overrides\":{\"taskCount\":3}}", NULL);
    cJSON *ea = wait_execution(str(a, "metadata.name")), *eb = wait_execution(str(b, "metadata.name"));
    cJSON *all = get_json(PARENT "/jobs/dash-tasks/executions/-/tasks");
    CHECK_INT(cJSON_GetArraySize(get(all, "tasks")), 5);
    CHECK(str(all, "nextPageToken") == NULL);
    /* newest execution first, each one's tasks in index order */
    CHECK_STR(str(all, "tasks.0.execution"), strrchr(str(b, "metadata.name"), '/') + 1);
    CHECK_INT(num(all, "tasks.2.index"), 2);
    CHECK_STR(str(all, "tasks.3.execution"), strrchr(str(a, "metadata.name"), '/') + 1);
    char token[64] = "";
    int seen = 0, pages = 0;
    do {
        cJSON *p =
            get_json(PARENT "/jobs/dash-tasks/executions/-/tasks?pageSize=2%s%s", *token ? "&pageToken=" : "", token);
        const cJSON *tasks = get(p, "tasks");
        for (const cJSON *t = tasks ? tasks->child : NULL; t; t = t->next, seen++)
            CHECK_STR(str(t, "name"), str(all, seen == 0   ? "tasks.0.name"
                                               : seen == 1 ? "tasks.1.name"
                                               : seen == 2 ? "tasks.2.name"
                                               : seen == 3 ? "tasks.3.name"
                                                           : "tasks.4.name"));
        snprintf(token, sizeof token, "%s", str(p, "nextPageToken") ? str(p, "nextPageToken") : "");
        cJSON_Delete(p);
        pages++;
    } while (*token && pages < 10);
    CHECK_INT(seen, 5);
    CHECK_INT(pages, 3);
    cJSON *every = get_json(PARENT "/jobs/-/executions/-/tasks?pageSize=1000");
    CHECK(cJSON_GetArraySize(get(every, "tasks")) >= 5);
    resp r = http("GET", PARENT "/jobs/no-such-job/executions/-/tasks", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    cJSON_Delete(every);
    cJSON_Delete(all);
    cJSON_Delete(ea);
    cJSON_Delete(eb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

TEST(deleting_a_running_execution_cancels_it_and_deletes_it)
{
    char *dir = new_dir("delete-running");
    CHECK_INT(create_job("delete-running",
                         sh_job("trap 'touch \"$OUT_DIR/term\"; exit 143' TERM; touch \"$OUT_DIR/started\"; "
                                "sleep 30 & wait",
                                dir, 3)),
              200);
    cJSON *op = run_job("delete-running", NULL, NULL);
    const char *name = str(op, "metadata.name");
    char path[512];
    snprintf(path, sizeof path, "%s/started", dir);
    for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    snprintf(path, sizeof path, "/v2/%s", name);
    resp r = http("DELETE", path, NULL);
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK(str(r.json, "response.deleteTime") != NULL);
    resp_free(&r);
    r = http("GET", path, NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    /* The RunJob operation ends with the cancelled execution; the task got SIGTERM. */
    cJSON *done = wait_done(str(op, "name"));
    CHECK(done != NULL);
    CHECK_INT(num(done, "response.cancelledCount"), 1);
    CHECK(str(done, "response.deleteTime") != NULL);
    CHECK_STR(str(condition(get(done, "response"), "Completed"), "message"), "Cancelled by user.");
    snprintf(path, sizeof path, "%s/term", dir);
    CHECK(access(path, F_OK) == 0);
    cJSON_Delete(done);
    cJSON_Delete(op);
    free(dir);
}

TEST(cancel_kills_a_task_that_ignores_sigterm_after_the_grace_period)
{
    char *dir = new_dir("stubborn");
    CHECK_INT(
        create_job("stubborn", sh_job("trap '' TERM; touch \"$OUT_DIR/started\"; while :; do sleep 0.1; done", dir, 0)),
        200);
    cJSON *op = run_job("stubborn", NULL, NULL);
    const char *name = str(op, "metadata.name");
    char path[512];
    snprintf(path, sizeof path, "%s/started", dir);
    for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    snprintf(path, sizeof path, "/v2/%s:cancel", name);
    resp r = http("POST", path, "{}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *cancelling = get_json("/v2/%s", name);
    CHECK_STR(str(condition(cancelling, "Completed"), "executionReason"), "CANCELLING");
    cJSON *e = wait_execution(name);
    CHECK_INT(num(e, "cancelledCount"), 1);
    cJSON *task = get_json("/v2/%s/tasks/%s-task0", name, strrchr(name, '/') + 1);
    CHECK_INT(num(task, "lastAttemptResult.termSignal"), 9);
    CHECK_STR(str(condition(task, "Completed"), "message"), "Cancelled by user.");
    cJSON_Delete(task);
    cJSON_Delete(e);
    cJSON_Delete(cancelling);
    cJSON_Delete(op);
    free(dir);
}

TEST(validate_only_creates_changes_and_deletes_nothing)
{
#define VO "/v2/projects/validate/locations/l"
    char *dir = new_dir("validate-only");
    char *body = sh_job_text(sh_job("touch \"$OUT_DIR/started\"; sleep 30", dir, 0));
    resp r = http("POST", VO "/jobs?jobId=vo", body);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    int ops = operation_count(VO);
    /* create */
    r = http("POST", VO "/jobs?jobId=vo-new&validateOnly=true", body);
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    CHECK_STR(str(r.json, "response.name"), "projects/validate/locations/l/jobs/vo-new");
    resp_free(&r);
    r = http("GET", VO "/jobs/vo-new", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    /* update (also with allowMissing) */
    char *changed = sh_job_text(sh_job("exit 0", dir, 5));
    r = http("PATCH", VO "/jobs/vo?validateOnly=true", changed);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("PATCH", VO "/jobs/vo-missing?validateOnly=true&allowMissing=true", changed);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    r = http("GET", VO "/jobs/vo-missing", NULL);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    cJSON *job = get_json(VO "/jobs/vo");
    CHECK_STR(str(job, "generation"), "1");
    CHECK_INT(num(job, "template.template.maxRetries"), 0);
    cJSON_Delete(job);
    /* delete */
    r = http("DELETE", VO "/jobs/vo?validateOnly=true", NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    job = get_json(VO "/jobs/vo");
    CHECK(job != NULL);
    cJSON_Delete(job);
    /* run */
    r = http("POST", VO "/jobs/vo:run", "{\"validateOnly\":true}");
    CHECK_INT(r.status, 200);
    CHECK(cJSON_IsTrue(get(r.json, "done")));
    resp_free(&r);
    cJSON *list = get_json(VO "/jobs/vo/executions");
    CHECK(get(list, "executions") == NULL);
    cJSON_Delete(list);
    CHECK_INT(operation_count(VO), ops);
    /* cancel and delete of a running execution */
    r = http("POST", VO "/jobs/vo:run", "{}");
    char *name = strdup(str(r.json, "metadata.name"));
    resp_free(&r);
    char path[512];
    snprintf(path, sizeof path, "%s/started", dir);
    for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    ops = operation_count(VO);
    snprintf(path, sizeof path, "/v2/%s:cancel", name);
    r = http("POST", path, "{\"validateOnly\":true}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    snprintf(path, sizeof path, "/v2/%s?validateOnly=true", name);
    r = http("DELETE", path, NULL);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *e = get_json("/v2/%s", name);
    CHECK(e != NULL);
    CHECK_INT(num(e, "runningCount"), 1);
    CHECK(get(e, "cancelledCount") == NULL);
    CHECK_INT(operation_count(VO), ops);
    cJSON_Delete(e);
    /* done with it for real */
    snprintf(path, sizeof path, "/v2/%s:cancel", name);
    r = http("POST", path, "{}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    e = wait_execution(name);
    CHECK_INT(num(e, "cancelledCount"), 1);
    cJSON_Delete(e);
    free(name);
    free(changed);
    free(body);
    free(dir);
#undef VO
}

/* ---- Cloud Logging's entries:list, from the tasks' logs -------------------------------- */

static cJSON *entries(const char *filter_fmt, const char *extra, ...)
{
    char filter[1024];
    va_list ap;
    va_start(ap, extra);
    vsnprintf(filter, sizeof filter, filter_fmt, ap);
    va_end(ap);
    cJSON *body = cJSON_CreateObject();
    const char *names[] = {"projects/test-project"};
    cJSON_AddItemToObject(body, "resourceNames", cJSON_CreateStringArray(names, 1));
    cJSON_AddStringToObject(body, "filter", filter);
    if (extra) {
        cJSON *more = cJSON_Parse(extra);
        for (cJSON *m = more ? more->child : NULL; m; m = m->next)
            cJSON_AddItemReferenceToObject(body, m->string, m);
        char *text = cJSON_PrintUnformatted(body);
        resp r = http("POST", "/v2/entries:list", text);
        free(text);
        cJSON_Delete(body);
        cJSON_Delete(more);
        cJSON *j = r.json;
        r.json = NULL;
        if (r.status != 200) {
            cJSON_Delete(j);
            j = cJSON_CreateNumber((double)r.status);
        }
        resp_free(&r);
        return j;
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    resp r = http("POST", "/v2/entries:list", text);
    free(text);
    cJSON *j = r.json;
    r.json = NULL;
    if (r.status != 200) {
        cJSON_Delete(j);
        j = cJSON_CreateNumber((double)r.status);
    }
    resp_free(&r);
    return j;
}

TEST(entries_list_answers_each_line_of_an_executions_task_logs_as_a_cloud_run_job_entry)
{
    char *dir = new_dir("logs");
    /* task 1 writes later than task 0: entries come in time order across tasks */
    CHECK_INT(
        create_job("logs", sh_job("[ $CLOUD_RUN_TASK_INDEX = 1 ] && sleep 0.3; echo \"first $CLOUD_RUN_TASK_INDEX\"; "
                                  "sleep 0.2; printf 'caf\\303\\251 \\377\\n'; printf 'no newline'",
                                  dir, 0)),
        200);
    cJSON *op = run_job("logs", "{\"overrides\":{\"taskCount\":2}}", NULL);
    const char *name = str(op, "metadata.name");
    cJSON *e = wait_execution(name);
    const char *id = strrchr(name, '/') + 1;
    cJSON *all = entries("resource.type = \"cloud_run_job\" AND resource.labels.project_id = \"test-project\" AND "
                         "resource.labels.location = \"us-central1\" AND resource.labels.job_name = \"logs\" AND "
                         "labels.\"run.googleapis.com/execution_name\" = \"%s\"",
                         "{\"orderBy\":\"timestamp asc\",\"pageSize\":1000}", id);
    CHECK(cJSON_IsObject(all));
    const cJSON *list = get(all, "entries");
    CHECK_INT(cJSON_GetArraySize(list), 6);
    CHECK_STR(str(list, "0.textPayload"), "first 0");
    CHECK_STR(str(list, "1.textPayload"), "caf\xc3\xa9 \xef\xbf\xbd"); /* a byte that is not UTF-8: U+FFFD */
    CHECK_STR(str(list, "2.textPayload"), "no newline");
    CHECK_STR(str(list, "3.textPayload"), "first 1");
    CHECK_STR(str(list, "0.resource.type"), "cloud_run_job");
    CHECK_STR(str(list, "0.resource.labels.job_name"), "logs");
    CHECK_STR(str(list, "0.resource.labels.location"), "us-central1");
    const cJSON *labels = get(list, "0.labels");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, "run.googleapis.com/execution_name")), id);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, "run.googleapis.com/task_index")), "0");
    for (int i = 1; i < 6; i++) /* in time order */
        CHECK(strcmp(str(cJSON_GetArrayItem(list, i - 1), "timestamp"),
                     str(cJSON_GetArrayItem(list, i), "timestamp")) <= 0);
    /* the time a line was read, within the execution's own times */
    CHECK(strcmp(str(list, "0.timestamp"), str(e, "startTime")) >= 0);
    CHECK(strcmp(str(list, "5.timestamp"), str(e, "completionTime")) <= 0);

    /* one task; a page at a time; after a time; newest first */
    cJSON *one = entries("resource.labels.job_name=logs labels.\"run.googleapis.com/task_index\"=\"1\"", NULL);
    CHECK_INT(cJSON_GetArraySize(get(one, "entries")), 3);
    CHECK_STR(str(one, "entries.0.textPayload"), "first 1");
    cJSON *page = entries("resource.labels.job_name = \"logs\"", "{\"pageSize\":4}");
    CHECK_INT(cJSON_GetArraySize(get(page, "entries")), 4);
    char more[128];
    snprintf(more, sizeof more, "{\"pageSize\":4,\"pageToken\":\"%s\"}", str(page, "nextPageToken"));
    cJSON *rest = entries("resource.labels.job_name = \"logs\"", more);
    CHECK_INT(cJSON_GetArraySize(get(rest, "entries")), 2);
    CHECK(get(rest, "nextPageToken") == NULL);
    cJSON *later =
        entries("resource.labels.job_name = \"logs\" AND timestamp >= \"%s\"", NULL, str(list, "3.timestamp"));
    CHECK_INT(cJSON_GetArraySize(get(later, "entries")), 3);
    /* fuzz finding: a time past 2262 no longer overflows nanoseconds; it is after every entry */
    cJSON *far =
        entries("resource.labels.job_name = \"logs\" AND timestamp < \"9999-12-31T23:59:59.999999999Z\"", NULL);
    CHECK_INT(cJSON_GetArraySize(get(far, "entries")), 6);
    cJSON_Delete(far);
    far = entries("resource.labels.job_name = \"logs\" AND timestamp > \"9999-12-31T23:59:59Z\"", NULL);
    CHECK(cJSON_IsObject(far) && get(far, "entries") == NULL); /* fuzz finding: no lines, no qsort of NULL */
    cJSON_Delete(far);
    cJSON *desc = entries("resource.labels.job_name = \"logs\"", "{\"orderBy\":\"timestamp desc\"}");
    CHECK_STR(str(desc, "entries.0.textPayload"), "no newline");
    CHECK_STR(str(desc, "entries.5.textPayload"), "first 0");
    /* another type of resource has no entries here; an unknown execution has none either */
    cJSON *other = entries("resource.type = \"cloud_run_revision\" AND resource.labels.job_name = \"logs\"", NULL);
    CHECK(cJSON_IsObject(other) && get(other, "entries") == NULL);
    cJSON *none = entries("labels.\"run.googleapis.com/execution_name\" = \"logs-zzzzz\"", NULL);
    CHECK(cJSON_IsObject(none) && get(none, "entries") == NULL);
    cJSON *v[] = {all, one, page, rest, later, desc, other, none, e, op};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        cJSON_Delete(v[i]);
    free(dir);
}

TEST(entries_list_refuses_what_it_cannot_answer_naming_what_it_understands)
{
    struct {
        const char *body;
        long status;
        const char *says;
    } cases[] = {
        {"{\"resourceNames\":[\"projects/test-project\"],\"filter\":\"resource.type = \\\"cloud_run_job\\\"\"}", 400,
         "name it with resource.labels.job_name"},
        {"{\"resourceNames\":[\"projects/test-project\"],\"filter\":\"resource.labels.job_name=x AND "
         "httpRequest.status>=500\"}",
         400, "the emulator understands"},
        {"{\"resourceNames\":[\"projects/test-project\"],\"filter\":\"resource.labels.job_name=x AND "
         "timestamp>\\\"yesterday\\\"\"}",
         400, "RFC 3339"},
        {"{\"resourceNames\":[\"folders/1\"],\"filter\":\"resource.labels.job_name=x\"}", 400, "projects/PROJECT"},
        {"{\"filter\":\"resource.labels.job_name=x\"}", 400, "resourceNames"},
        {"{\"resourceNames\":[\"projects/p\"],\"filter\":\"resource.labels.job_name=x\",\"pageSize\":5000}", 400,
         "page size"},
        {"{\"resourceNames\":[\"projects/p\"],\"filter\":\"resource.labels.job_name=x\",\"pageToken\":\"zz\"}", 400,
         "page token"},
        {"{\"resourceNames\":[\"projects/p\"],\"filter\":\"resource.labels.job_name=x\",\"orderBy\":\"severity\"}", 400,
         "timestamp asc"},
        {"{\"resourceNames\":[\"projects/p\"],\"filter\":\"resource.labels.job_name=x\",\"extra\":1}", 400,
         "Unknown name \\\"extra\\\""},
        {"[1]", 400, "JSON object"},
        {"", 400, "needs a JSON body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        resp r = http("POST", "/v2/entries:list", cases[i].body[0] ? cases[i].body : NULL);
        CHECK_INT(r.status, cases[i].status);
        CHECK_CONTAINS(r.body, cases[i].says);
        CHECK_INT(num(r.json, "error.code"), cases[i].status);
        resp_free(&r);
    }
    resp r = http("GET", "/v2/entries:list", NULL);
    CHECK_INT(r.status, 405);
    resp_free(&r);
}

int main(void)
{
    return kit_main(NULL);
}
