/*
** c_api.c — (b) our C API on a warm client: cr_client_run_job N times with
** the overrides every path sends (args --id=42, env ID=42) and a fixed access
** token, against ENDPOINT (the stand-in); each Operation decoded and freed.
** Prints one JSON line (bench.h) after one call to open the connection.
**
**   c_api ENDPOINT TOKEN N
*/
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "cloudrun.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: c_api ENDPOINT TOKEN N\n");
        return 2;
    }
    int n = atoi(argv[3]);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *creds = cr_credentials_from_access_token(argv[2], 0, &err);
    if (!creds) {
        fprintf(stderr, "c_api: %s\n", err.message);
        return 1;
    }
    cr_client_options o = {.project = "bench", .region = "local", .endpoint = argv[1], .credentials = creds};
    cr_client *client = cr_client_new(&o, &err);
    cr_credentials_unref(creds);
    if (!client) {
        fprintf(stderr, "c_api: %s\n", err.message);
        return 1;
    }
    static const char *const args[] = {"--id=42"};
    static const cr_env_var env[] = {{"ID", "42"}};
    cr_run_job_options run = {.args = args, .nargs = 1, .has_args = 1, .env = env, .nenv = 1};

    for (int i = -1; i < n; i++) {
        if (i == 0)
            bench_start();
        cJSON *op = cr_client_run_job(client, "noop", &run, NULL, &err);
        if (!op) {
            fprintf(stderr, "c_api: call %d: %s\n", i + 1, err.message);
            return 1;
        }
        cJSON_Delete(op);
    }
    bench_report(n);
    cr_client_free(client);
    return 0;
}
