/*
** trigger.c — the C side of the smoke tests: a program built with
** `pkg-config --cflags --libs cloudrun` runs the emulator's "smoke" job with an
** args and an env override, waits for the execution, and checks it succeeded.
**   trigger HOST:PORT NAME
*/
#include <stdio.h>
#include <string.h>

#include <cloudrun.h>

static int fail(const char *what, cr_error *err)
{
    fprintf(stderr, "trigger: %s: %s %s\n", what, err->code, err->message ? err->message : "");
    cr_error_clear(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: trigger HOST:PORT NAME\n");
        return 2;
    }
    char endpoint[256];
    snprintf(endpoint, sizeof endpoint, "http://%s", argv[1]);

    cr_error err = CR_ERROR_INIT;
    cr_client_options o;
    memset(&o, 0, sizeof o);
    o.project = "smoke-project";
    o.region = "us-central1";
    o.endpoint = endpoint;
    o.anonymous = 1;
    cr_client *client = cr_client_new(&o, &err);
    if (!client)
        return fail("cr_client_new", &err);

    const char *args[] = {argv[2]};
    cr_env_var env[] = {{"SMOKE", "ok"}};
    cr_run_job_options run;
    memset(&run, 0, sizeof run);
    run.args = args;
    run.nargs = 1;
    run.has_args = 1;
    run.env = env;
    run.nenv = 1;
    cJSON *op = cr_client_run_job(client, "smoke", &run, NULL, &err);
    if (!op)
        return fail("cr_client_run_job", &err);
    const char *execution = cJSON_GetStringValue(cJSON_GetObjectItem(op, "execution"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(op, "name"));

    /* RunJob's operation is done when the execution is. */
    int done = cJSON_IsTrue(cJSON_GetObjectItem(op, "done"));
    for (int i = 0; !done && i < 6; i++) {
        cJSON *now = cr_client_wait_operation(client, name, 10, NULL, &err);
        if (!now)
            return fail("cr_client_wait_operation", &err);
        done = cJSON_IsTrue(cJSON_GetObjectItem(now, "done"));
        cJSON_Delete(now);
    }
    cJSON *e = cr_client_get_execution(client, execution, NULL, &err);
    if (!e)
        return fail("cr_client_get_execution", &err);
    double succeeded = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "succeededCount"));
    int ok = done && succeeded == 1;
    printf("%s: %s %s (libcloudrun %s)\n", argv[2], strrchr(execution, '/') + 1, ok ? "succeeded" : "did not succeed",
           CR_VERSION);
    cJSON_Delete(e);
    cJSON_Delete(op);
    cr_client_free(client);
    return ok ? 0 : 1;
}
