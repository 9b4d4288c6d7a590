/*
** trigger.c — a C program of a user's, built against an installed libcloudrun
** with nothing but `pkg-config --cflags --libs cloudrun`: it runs a job with
** overrides and prints the Execution's name (scripts/test-install, the
** Debian packages' test). Against the emulator: CLOUD_RUN_EMULATOR_HOST.
**
**   cc trigger.c $(pkg-config --cflags --libs cloudrun) -o trigger && ./trigger JOB
*/
#include <cloudrun.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: trigger JOB\n");
        return 2;
    }
    cr_error err = CR_ERROR_INIT;
    cr_client_options o = {.project = "demo-project", .region = "us-central1"};
    cr_client *client = cr_client_new(&o, &err);
    if (!client) {
        fprintf(stderr, "trigger: %s\n", err.message);
        cr_error_clear(&err);
        return 1;
    }
    static const char *const args[] = {"job", "--id=7"};
    static const cr_env_var env[] = {{"ID", "7"}};
    cr_run_job_options run = {.args = args, .nargs = 2, .has_args = 1, .env = env, .nenv = 1};
    cJSON *op = cr_client_run_job(client, argv[1], &run, NULL, &err);
    int rc = 0;
    if (op) {
        const cJSON *exec = cJSON_GetObjectItemCaseSensitive(op, "execution");
        printf("libcloudrun %s started %s\n", CR_VERSION, cJSON_IsString(exec) ? exec->valuestring : "?");
        cJSON_Delete(op);
    } else {
        fprintf(stderr, "trigger: %s: %s\n", err.code, err.message);
        cr_error_clear(&err);
        rc = 3;
    }
    cr_client_free(client);
    return rc;
}
