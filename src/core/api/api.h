/*
** api.h — internal declarations shared by the Cloud Run v2 API files:
** request building and resource-name helpers.
*/
#ifndef CR_API_INTERNAL_H
#define CR_API_INTERNAL_H

#include "cloudrun.h"
#include "util/util.h"

/* Fills req with METHOD endpoint/v2/path[suffix][?query] and, when body is
** not NULL, that JSON text with Content-Type: application/json. The request
** takes body (a malloc'd string) whatever happens: it is freed on failure. */
CR_HIDDEN int cr_api_build_request(const char *endpoint, const char *method, const char *path, const char *suffix,
                                   const char *query, char *body, cr_http_request *req, cr_error *err);

/* RunJobRequest's JSON text for these overrides (NULL: none), checked: a new
** string (caller frees), or NULL with err set. */
CR_HIDDEN char *cr_api_run_job_body(const cr_run_job_options *opts, cr_error *err);

/* Whether the RunJobRequest of opts carries overrides (what run.jobs.runWithOverrides is for). */
CR_HIDDEN int cr_api_run_job_has_overrides(const cr_run_job_options *opts);

/* The single-container option (args, env, clear_args, container) that opts sets, or NULL. */
CR_HIDDEN const char *cr_api_run_job_single_option(const cr_run_job_options *opts);

/* Several containers' overrides checked: each names its container (non-empty,
** no two alike), every arg a string, every env var named. 0, or -1 with err. */
CR_HIDDEN int cr_api_run_job_check_containers(const cr_container_override *items, size_t n, cr_error *err);

/* The message for both forms at once; %s: the single-container option given. */
#define CR_RUN_JOB_BOTH_FORMS                                                                                          \
    "options 'containers' and '%s' cannot be given together: with containers, give each container's args, env "        \
    "and clear_args in its own entry"

/*
** A 2xx answer checked as cr_api_parse_response checks it, without decoding
** it: 0 when its body is a JSON object, with *execution the name
** cr_api_operation_execution would find for a RunJob (run_job set) when the
** Operation has no "execution" member (else NULL; caller frees); -1 with err
** set as cr_api_parse_response sets it.
*/
CR_HIDDEN int cr_api_check_answer_text(const cr_http_response *resp, const char *url, int run_job, char **execution,
                                       cr_error *err);

/* The Execution resource name in a RunJob Operation (metadata.name), or NULL. Borrowed. */
CR_HIDDEN const char *cr_api_operation_execution(const cJSON *op);

/* Whether `name` is projects/P/locations/L/<kind>/X with every segment non-empty
** (kind "jobs", "operations"; "executions" expects .../jobs/J/executions/E). */
CR_HIDDEN int cr_api_name_is_valid(const char *name, const char *kind);

/* Whether a path for cr_client_call addresses exactly what it says (see names.c). */
CR_HIDDEN int cr_api_path_is_valid(const char *path);

/* Whether `id` is a plausible short resource id (no URL syntax in it). */
CR_HIDDEN int cr_api_id_is_valid(const char *id);

/* Fills `out` with `in`'s settings, defaults for its zero fields (in may be NULL). */
CR_HIDDEN void cr_retry_resolve(const cr_retry *in, cr_retry *out);

/* Seconds the server asked to wait (Retry-After, whose HTTP-date form is
** counted from `now` in Unix seconds, or google.rpc.RetryInfo), -1 if it did not. */
CR_HIDDEN double cr_retry_after(const cr_header *headers, const cr_error *err, int64_t now);

/*
** A full name from a name given to a call of this kind: 0 with *out (caller
** frees), -1 with err set (a malformed name), 1 when it needs the project and
** region and they are not known yet.
*/
CR_HIDDEN int cr_client_resolve(cr_client *c, const char *name, const char *kind, char **out, cr_error *err);

/* The parent projects/P/locations/L: 0 with *out (caller frees), -1 with err
** (an invalid project or region), 1 when they are not known yet. */
CR_HIDDEN int cr_client_known_parent(cr_client *c, char **out, cr_error *err);

/* What a driver needs of a client, handed over as values. The CA bundle the
** client trusts besides the system's (NULL: none). */
CR_HIDDEN const char *cr_client_ca_file(const cr_client *c);

/* What a driver keeps with a client (its kept-alive connections): made by
** make() at the first ask, freed by release() with the client. NULL when make fails. */
CR_HIDDEN void *cr_client_driver_data(cr_client *c, void *(*make)(void), void (*release)(void *));

/* Whether project and region are known (a name can be resolved without discovery). */
CR_HIDDEN int cr_client_has_location(cr_client *c);

#endif
