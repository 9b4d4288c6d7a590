/*
** fake_iam.h — Cloud Run's IAM methods on jobs as cr-fake-google serves them:
** GET /v2/projects/P/locations/L/jobs/J:getIamPolicy, POST ...:setIamPolicy and
** POST ...:testIamPermissions, answered by the emulator's own rules
** (src/emulator/iam_policy.c) and body checks (schema.c), so that a client
** talking to "Google" (with credentials) and to the emulator sees the same
** answers. Every job exists here: a policy is kept per resource name. Each
** request is recorded (method, path, query, body) for the tests to read.
*/
#ifndef CR_TEST_SERVERS_FAKE_IAM_H
#define CR_TEST_SERVERS_FAKE_IAM_H

#include <stddef.h>

/* A query parameter as libmicrohttpd hands it (decoded). */
typedef struct fake_param {
    const char *key, *value;
} fake_param;

/* Whether url is one of the three methods' paths (whatever the HTTP method). */
int fake_iam_path(const char *url);

/* Answers one request to such a path: the HTTP status, *answer a JSON text the
** caller frees, *allow the allowed method for a 405 (static) or NULL. body may
** be NULL (none); too_big: the body was over the server's limit. */
unsigned fake_iam_handle(const char *method, const char *url, const fake_param *query, size_t nquery, const char *body,
                         size_t len, int too_big, char **answer, const char **allow);

/* {"requests": [{"method", "path", "query", "body"}, ...]}: the requests so far, oldest
** first (the newest 200), query as sent but re-encoded, body as sent; a new string. */
char *fake_iam_requests(void);

/* Frees every policy and record (at exit). */
void fake_iam_free(void);

#endif
