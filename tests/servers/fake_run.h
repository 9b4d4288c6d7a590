/*
** fake_run.h — cr-fake-google's Cloud Run Admin API v2 jobs: CreateJob, GetJob and
** UpdateJob over an in-memory store, each change answered with a done Operation, and
** every one of those requests kept as it came, for the tests to read back.
*/
#ifndef CR_TEST_SERVERS_FAKE_RUN_H
#define CR_TEST_SERVERS_FAKE_RUN_H

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "request.h"

/* What the server lends: whether `token` (an Authorization: Bearer value) is one it
** handed out, and its JSON parser (cJSON's keeps a global error pointer: the server
** parses under one lock). */
typedef struct fake_run_hooks {
    int (*bearer_ok)(const char *token);
    cJSON *(*parse)(const char *text, size_t len);
} fake_run_hooks;

/* Whether method and url name a request fake_run_answer takes: GET, PATCH
** /v2/projects/P/locations/L/jobs/J, POST /v2/projects/P/locations/L/jobs, GET /run/requests. */
int fake_run_takes(const char *url, const char *method);

/* Answers one such request; rq is the body as collected (borrowed). */
enum MHD_Result fake_run_answer(struct MHD_Connection *conn, const char *url, const char *method, const request *rq,
                                const fake_run_hooks *hooks);

/* Frees the store and the requests kept; once, when the server has stopped. */
void fake_run_free(void);

#endif
