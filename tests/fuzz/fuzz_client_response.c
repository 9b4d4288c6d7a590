/*
** fuzz_client_response.c — libFuzzer target: what an API server answers, fed
** to the call machine of a real client (no network): statuses, headers
** (Retry-After, Content-Type), bodies (JSON or not, google.rpc errors with
** details, RetryInfo durations), up to six answers across retries and the 401
** refresh. The first byte picks the call. Findings: a crash, a wait that is
** negative or NaN, a machine that neither finishes nor keeps within its
** attempts, a bearer token in the error, an error without a code, a result
** that is not a JSON object.
*/
#include "fuzz_client.h"

#include <stdio.h>

static cr_client *client;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cr_error err = CR_ERROR_INIT;
    cr_credentials *creds = cr_credentials_from_access_token(FZ_TOKEN, 0, &err);
    cr_retry retry = {.attempts = 4, .initial = 0.001, .max = 0.002, .deadline = 3600};
    cr_client_options o = {.project = "fuzz-project",
                           .region = "us-central1",
                           .endpoint = "http://127.0.0.1:9",
                           .credentials = creds,
                           .retry = &retry};
    client = cr_client_new(&o, &err);
    cr_credentials_unref(creds);
    if (!client)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return 0;
    cr_request r;
    memset(&r, 0, sizeof r);
    cr_run_job_options run;
    memset(&run, 0, sizeof run);
    switch (data[0] % 5) {
    case 0:
        r.method = CR_RUN_JOB;
        r.name = "report";
        r.run = &run;
        break;
    case 1:
        r.method = CR_GET_EXECUTION;
        r.name = "report-x7k2p";
        break;
    case 2:
        r.method = CR_LIST_JOBS;
        break;
    case 3:
        r.method = CR_WAIT_OPERATION;
        r.name = "projects/fuzz-project/locations/us-central1/operations/op-1";
        r.wait_timeout = 30;
        break;
    default:
        r.method = CR_CALL;
        r.http_method = "POST";
        r.path = "entries:list";
        r.base = "http://127.0.0.1:10";
        r.read = 1;
        break;
    }
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_client_start(client, &r, NULL, &err);
    if (!m)
        abort(); /* these requests are all well formed */
    fz_input in = {data + 1, data + size};
    /* 4 attempts, a 401 refresh and its resend, tokens: well under 40 steps */
    if (!fz_drive(m, &in, 40))
        abort();
    cJSON *json = cr_machine_take_json(m, &err);
    if (getenv("FZ_DEBUG")) /* what a seed does: FZ_DEBUG=1 fuzz_client_response -runs=0 corpus */
        fprintf(stderr, "fuzz: %s %s\n", json ? "result" : err.code, json ? "" : err.message);
    if (json) {
        if (!cJSON_IsObject(json))
            abort();
        cJSON_Delete(json);
    } else {
        if (!err.code[0])
            abort();
        fz_no_sent_secret(&err); /* the bearer tokens it sent */
    }
    cr_error_clear(&err);
    cr_machine_free(m);
    return 0;
}
