/*
** cloudrun.h — the public C interface of libcloudrun: credentials, the HTTP
** request/response types and transport plug, and the Cloud Run Admin API v2
** client. Every exported symbol starts with cr_. No Lua in here.
**
** Ownership rule used throughout: a function that returns a pointer says who
** frees it; a `const` pointer argument is borrowed for the duration of the call.
*/
#ifndef CLOUDRUN_H
#define CLOUDRUN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CR_API __attribute__((visibility("default")))
#else
#define CR_API
#endif

#define CR_VERSION "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
** An error as Google's APIs describe one: the google.rpc code name
** ("NOT_FOUND", "UNAVAILABLE", ...), the HTTP status when there was one, a
** readable message that never contains a secret, the server's `details`
** array when it sent one, and whether a read may be retried.
** Initialise with CR_ERROR_INIT (or zero it); release with cr_error_clear().
*/
typedef struct cr_error {
    char code[32];  /* google.rpc code name; "" while there is no error */
    int status;     /* HTTP status, 0 when no response was received */
    int retryable;  /* 1 when a read that failed this way may be retried */
    int sent;       /* 1 when the request may have reached the server */
    char *message;  /* owned by the error */
    cJSON *details; /* owned by the error; NULL when none */
} cr_error;

#define CR_ERROR_INIT                                                                                                  \
    {                                                                                                                  \
        "", 0, 0, 0, NULL, NULL                                                                                        \
    }

/* Frees what the error owns and resets it to "no error". Idempotent. */
CR_API void cr_error_clear(cr_error *err);

/* Sets code (a google.rpc code name), HTTP status (0 for none) and a printf
** message. Replaces any previous contents. The message must not contain
** secrets: callers never pass a token or key to it. */
CR_API void cr_error_set(cr_error *err, const char *code, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The google.rpc code name for an HTTP status (404 -> "NOT_FOUND"). Static string. */
CR_API const char *cr_code_for_http_status(int status);

/* The conventional HTTP status for a google.rpc code name, 500 when unknown. */
CR_API int cr_http_status_for_code(const char *code);

/* google.rpc.Code numbers and names (5 <-> "NOT_FOUND"); unknown ones map to
** "UNKNOWN" / 2. Static strings. */
CR_API const char *cr_code_name(int number);
CR_API int cr_code_number(const char *code);

/* Whether a read failing with this code/status may be retried. */
CR_API int cr_code_is_retryable(const char *code, int status);

/* Wipes a secret string (token, key) before freeing it. NULL is fine. */
CR_API void cr_secret_free(char *secret);

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

/* Parses JSON text of `len` bytes into a new tree (caller frees with
** cJSON_Delete). cJSON's parser writes a process-global error position on
** every call, so concurrent parses race; this one serialises them. On
** invalid JSON it returns NULL and, when error_offset is not NULL, sets it
** to the 0-based byte where parsing failed. */
CR_API cJSON *cr_json_parse(const char *text, size_t len, size_t *error_offset);

/* A YAML document that is a map of names to scalars (gcloud's
** --env-vars-file: `NAME: value` lines) as a JSON object of strings (caller
** frees with cJSON_Delete), a value as written (PORT: 8080 is "8080"), or NULL
** with err naming `origin` and what is wrong (a list, a nested map, a name
** given twice, a NUL in a name or a value, not YAML). */
CR_API cJSON *cr_yaml_string_map(const char *text, size_t len, const char *origin, cr_error *err);

/* cr_yaml_string_map of the file at `path`, read as credentials files are
** read: a regular file (never a FIFO, a device or a directory; never blocking)
** of at most 1 MiB, else NULL with err naming `what` ("--env-vars-file") and
** the path. */
CR_API cJSON *cr_yaml_file_string_map(const char *path, const char *what, cr_error *err);

/* Any YAML document (JSON too: it is YAML's flow style) of maps, lists and
** scalars as the JSON it stands for (caller frees with cJSON_Delete): plain
** scalars typed as YAML 1.2's core schema types them (null, true and false,
** numbers), quoted ones text. NULL with err naming `origin` and what is wrong
** (not YAML, an alias, a second document, a key given twice or not text, a NUL,
** deeper than 64 levels, nothing at all). */
CR_API cJSON *cr_yaml_json(const char *text, size_t len, const char *origin, cr_error *err);

/* cr_yaml_json of the file at `path`, read as cr_yaml_file_string_map reads one. */
CR_API cJSON *cr_yaml_file_json(const char *path, const char *what, cr_error *err);

/* Frees a tree after wiping every string in it (names and values): for trees
** that held a private key or a token. NULL is fine. */
CR_API void cr_json_delete_secret(cJSON *root);

/* ------------------------------------------------------------------------ */
/* Durations ("600s", "1.5s", and gcloud's "10m", "1h30m", plain seconds)    */
/* ------------------------------------------------------------------------ */

/* Parses a duration into nanoseconds. Accepts the protobuf JSON form
** ("600s", "1.5s", "0.000000001s"), plain seconds ("600", "1.5") and gcloud's
** unit form ("10m", "1h30m", "2h", "45s", "1d"). Returns 0, or -1 for text
** that is not a duration or is negative or overflows. */
CR_API int cr_duration_parse(const char *text, int64_t *nanos);

/* Formats nanoseconds as a protobuf JSON Duration ("600s", "1.500s") into buf,
** which must hold at least 32 bytes. Returns buf. */
CR_API char *cr_duration_format(int64_t nanos, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* HTTP: the request/response types                                          */
/* ------------------------------------------------------------------------ */

/* A header list: each node owns its name and value. */
typedef struct cr_header {
    struct cr_header *next;
    char *name;
    char *value;
} cr_header;

/* Appends a copy of name/value to *list. Returns 0, or -1 out of memory. */
CR_API int cr_header_add(cr_header **list, const char *name, const char *value);

/* Case-insensitive lookup; the value is owned by the list. NULL when absent. */
CR_API const char *cr_header_get(const cr_header *list, const char *name);

/* Frees the whole list, wiping values (an Authorization header is a secret). */
CR_API void cr_header_free(cr_header *list);

/* One HTTP request, as data. The request owns url, headers and body. */
typedef struct cr_http_request {
    char method[8]; /* "GET", "POST", "PATCH", "DELETE" */
    char *url;
    cr_header *headers;
    char *body; /* NULL for no body */
    size_t body_len;
    long timeout_ms; /* whole exchange, > 0 */
    int idempotent;  /* 0: a change; the driver must never send it twice, not even on a fresh
                        connection after a kept-alive one turned out dead */
} cr_http_request;

/* One HTTP response. Owns headers and body (body is NUL-terminated). */
typedef struct cr_http_response {
    long status;
    cr_header *headers;
    char *body;
    size_t body_len;
} cr_http_response;

/* Free what a request/response owns (bodies are wiped: they may hold a
** credential grant or a token) and zero the struct. Idempotent. */
CR_API void cr_http_request_clear(cr_http_request *req);
CR_API void cr_http_response_clear(cr_http_response *resp);

/* Whether every header of req can go on the wire as it is: names RFC 7230
** tokens, values without CR, LF, NUL or other control characters (a value
** from a credentials file or the environment must not add a header line).
** Every driver asks before it sends; 0, or -1 with err (INVALID_ARGUMENT,
** naming the method, URL and header, never its value). */
CR_API int cr_http_request_check(const cr_http_request *req, cr_error *err);

/* Initialise libcurl and OpenSSL once for the process (thread-safe, idempotent).
** Every constructor here calls it; call it yourself before starting threads. */
CR_API void cr_global_init(void);

/* The step machines (cloudrun_machine.h, included at the end) run everything below. */
typedef struct cr_machine cr_machine;
typedef struct cr_credentials cr_credentials;

/* ------------------------------------------------------------------------ */
/* Credentials                                                               */
/* ------------------------------------------------------------------------ */

/*
** A source of OAuth2 access tokens. Reference-counted and thread-safe: one
** object per credential source in the process (two loads of the same key
** file, or two metadata-server credentials for the same host, return the
** same object). It knows how to fetch a token (a machine); where tokens are
** kept is the driver's: the libcurl drivers keep one per source for the whole
** process, reused until shortly before it expires, one fetch in flight.
*/

/* How to load a credentials file. Zero-initialise; zero means the default. */
typedef struct cr_credentials_options {
    /* service_account only: send a self-signed JWT as the bearer (AIP-4111, what
    ** Google's client libraries do) instead of exchanging it at token_uri. When
    ** the API rejects one (the client calls cr_credentials_invalidate after a
    ** 401), the credential falls back to the exchange for good. */
    int self_signed_jwt;
    const char *audience; /* self-signed JWT `aud`; NULL: "https://run.googleapis.com/" */
} cr_credentials_options;

/* A fixed access token (never refreshed; expires_at 0 = unknown). */
CR_API cr_credentials *cr_credentials_from_access_token(const char *token, int64_t expires_at, cr_error *err);

/* A credentials JSON file (type service_account, ...). Errors name the file
** and the field, never the key. */
CR_API cr_credentials *cr_credentials_from_file(const char *path, cr_error *err);

/* The same from JSON text in memory; `origin` names it in error messages. */
CR_API cr_credentials *cr_credentials_from_json(const char *json, size_t len, const char *origin, cr_error *err);

/* The same with options (NULL = defaults). Every credentials type Google's
** libraries accept: service_account, authorized_user,
** impersonated_service_account, external_account (file- and URL-sourced). */
CR_API cr_credentials *cr_credentials_from_file_opts(const char *path, const cr_credentials_options *opts,
                                                     cr_error *err);
CR_API cr_credentials *cr_credentials_from_json_opts(const char *json, size_t len, const char *origin,
                                                     const cr_credentials_options *opts, cr_error *err);

/* cr_credentials_default as a machine, for a driver of one's own: its result
** is taken with cr_machine_take_credentials (a new reference, or NULL with
** err set naming every place looked at). */
CR_API cr_machine *cr_credentials_default_machine(cr_error *err);
CR_API cr_credentials *cr_machine_take_credentials(cr_machine *m, cr_error *err);

/* The metadata server at `host` ("host[:port]"); NULL means $GCE_METADATA_HOST,
** else metadata.google.internal. */
CR_API cr_credentials *cr_credentials_from_metadata(const char *host, cr_error *err);

/* Application Default Credentials: $GOOGLE_APPLICATION_CREDENTIALS, then
** gcloud's well-known file, then the metadata server. The error for "none
** found" names every place looked at. */
CR_API cr_credentials *cr_credentials_default(cr_error *err);

CR_API cr_credentials *cr_credentials_ref(cr_credentials *creds);
CR_API void cr_credentials_unref(cr_credentials *creds);

/* A valid access token: from the process-wide store, or fetched now (the
** token machine run by the blocking driver). *token is a new string the
** caller frees with cr_secret_free(); *expires_at is Unix seconds (0 when
** unknown). expires_at may be NULL. */
CR_API int cr_credentials_token(cr_credentials *creds, char **token, int64_t *expires_at, cr_error *err);

/* Drops the stored token if it is still `token` (the API answered 401 to it,
** so cr_credentials_refused is called too), so that the next
** cr_credentials_token() fetches a fresh one. */
CR_API void cr_credentials_invalidate(cr_credentials *creds, const char *token);

/* Descriptions for diagnostics; strings owned by creds, never secrets.
** type: "access_token", "service_account", "authorized_user",
** "impersonated_service_account", "external_account", "metadata"; account:
** the service account email or NULL (for the metadata server, known once a
** first token has been fetched); project: the file's project_id or NULL;
** origin: the file path or metadata URL it came from. */
CR_API const char *cr_credentials_type(const cr_credentials *creds);
CR_API const char *cr_credentials_account(const cr_credentials *creds);
CR_API const char *cr_credentials_project(const cr_credentials *creds);
CR_API const char *cr_credentials_origin(const cr_credentials *creds);

/* The file's quota_project_id (sent as x-goog-user-project), or NULL. */
CR_API const char *cr_credentials_quota_project(const cr_credentials *creds);

/* Unix seconds at which the token in the process-wide store expires; 0 when none is stored. */
CR_API int64_t cr_credentials_expires_at(cr_credentials *creds);

/* The key of this source in a token store: "<type>:<hex>", the same for every
** object made from the same source, never a secret. Owned by creds. */
CR_API const char *cr_credentials_key(const cr_credentials *creds);

/* A machine that fetches a new token (its result: cr_machine_take_token),
** waiting at most timeout_ms for each exchange (0: the default, 30 s). NULL
** with err set for a fixed access token, which cannot be fetched again. */
CR_API cr_machine *cr_credentials_fetch(cr_credentials *creds, long timeout_ms, cr_error *err);

/* A machine whose result (cr_machine_take_token) is a token fit to use now:
** the stored one while it is fresh, else a new one (TOKEN steps decide). */
CR_API cr_machine *cr_credentials_token_machine(cr_credentials *creds, cr_error *err);

/* Tells the credentials that the API refused their current token (a 401): a
** service account sending self-signed JWTs falls back to the exchange for
** good, as Google's clients do. The driver that drops a refused token calls it. */
CR_API void cr_credentials_refused(cr_credentials *creds);

/* A value from the metadata server ($GCE_METADATA_HOST or
** metadata.google.internal), e.g. "project/project-id" or "instance/region",
** as a new string the caller frees; NULL with err set when there is no
** metadata server (a failed probe is remembered, so asking again is cheap)
** or it has no such value. */
CR_API char *cr_metadata_lookup(const char *path, cr_error *err);

/* ------------------------------------------------------------------------ */
/* The Cloud Run Admin API v2 client                                         */
/* ------------------------------------------------------------------------ */

typedef struct cr_client cr_client;

/*
** Retries. Reads (get, list, operations) are retried on UNAVAILABLE, 429,
** 500/502/504, timeouts and dropped connections; calls that change something
** only when they cannot have taken effect (429, a connection never made).
** Backoff is exponential with full jitter; a server's Retry-After header or
** google.rpc.RetryInfo is honoured; all of it within `deadline`.
** A zero field means the default.
*/
typedef struct cr_retry {
    int attempts;      /* tries in all, the first included; default 5; 1 = no retries */
    double initial;    /* the first backoff's ceiling, seconds; default 0.5 */
    double max;        /* the largest backoff ceiling, seconds; default 30 */
    double multiplier; /* growth of the ceiling per retry; default 2 */
    double deadline;   /* seconds for the whole call, retries and waits included; default 120 */
} cr_retry;

/* Per-call settings; pass NULL for the client's. */
typedef struct cr_call_options {
    const cr_retry *retry; /* NULL: the client's policy */
    double timeout;        /* seconds for one HTTP exchange; 0: the client's */
} cr_call_options;

typedef struct cr_client_options {
    const char *project;         /* NULL: $GOOGLE_CLOUD_PROJECT, $CLOUDSDK_CORE_PROJECT, credentials */
    const char *region;          /* NULL: $CLOUDSDK_RUN_REGION */
    const char *endpoint;        /* base URL; NULL: $CLOUD_RUN_EMULATOR_HOST (no credentials),
                                    $CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN, https://run.googleapis.com/ */
    double timeout;              /* seconds for one HTTP exchange; <= 0 means 30 */
    cr_credentials *credentials; /* borrowed (the client takes its own reference); NULL: ADC, looked
                                    up at the first call that needs a token */
    int anonymous;               /* 1: send no credentials at all */
    const cr_retry *retry;       /* NULL: the defaults above */
    const char *ca_file;         /* PEM CA bundle trusted besides the system's (a TLS-inspecting proxy's
                                    CA); NULL: $CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, or none. TLS is always
                                    verified. */
} cr_client_options;

/* A client. NULL with err set for an unusable option (a bad endpoint URL). */
CR_API cr_client *cr_client_new(const cr_client_options *opts, cr_error *err);
CR_API void cr_client_free(cr_client *client);

/* Where the client sends requests (no trailing slash), and whether it is in
** emulator mode. Strings owned by the client. */
CR_API const char *cr_client_endpoint(const cr_client *client);
CR_API int cr_client_is_anonymous(const cr_client *client);

/* Full resource names from short ones. A name already of the full form
** (projects/P/locations/L/jobs/J[...]) is returned as is (copied); a short
** job id becomes projects/P/locations/L/jobs/J; a short execution id
** "J-xxxxx" becomes .../jobs/J/executions/J-xxxxx. Returns a new string (caller
** frees) or NULL with err set (no project or region known: the message says
** where it looked; a malformed name: INVALID_ARGUMENT). */
CR_API char *cr_client_job_name(cr_client *client, const char *job, cr_error *err);
CR_API char *cr_client_execution_name(cr_client *client, const char *execution, cr_error *err);
CR_API char *cr_client_parent_name(cr_client *client, cr_error *err); /* projects/P/locations/L */
/* A task "J-xxxxx-task0" -> .../jobs/J/executions/J-xxxxx/tasks/J-xxxxx-task0; an
** operation id -> projects/P/locations/L/operations/ID. */
CR_API char *cr_client_task_name(cr_client *client, const char *task, cr_error *err);
CR_API char *cr_client_operation_name(cr_client *client, const char *operation, cr_error *err);

/* An environment variable override. */
typedef struct cr_env_var {
    const char *name;
    const char *value;
} cr_env_var;

/* One container's overrides (RunJobRequest.Overrides.ContainerOverride), for a
** job with several containers: the container it is for, and what to change. */
typedef struct cr_container_override {
    const char *name;        /* the container's name in the job; required */
    const char *const *args; /* has_args says whether to send them (replacing the container's) */
    size_t nargs;
    int has_args;
    const cr_env_var *env; /* merged with the container's env by the server */
    size_t nenv;
    int clear_args;
} cr_container_override;

/* RunJobRequest's per-execution overrides. Zero-initialise, then set what
** you need: a field left zero / NULL is not sent. The container fields above
** `containers` override one container (the job's only one, or `container`);
** `containers` overrides several, each naming its own: use one form or the
** other (both at once is INVALID_ARGUMENT). */
typedef struct cr_run_job_options {
    const char *const *args; /* ContainerOverride.args; has_args says whether to send them */
    size_t nargs;
    int has_args;
    const cr_env_var *env; /* ContainerOverride.env (merged with the job's env by the server) */
    size_t nenv;
    int clear_args;        /* ContainerOverride.clearArgs */
    const char *container; /* ContainerOverride.name */
    int32_t task_count;    /* Overrides.taskCount; 0 = not overridden */
    int64_t timeout_nanos; /* Overrides.timeout; 0 = not overridden */
    int validate_only;
    const char *etag;
    const cr_container_override *containers; /* Overrides.containerOverrides, one per container named */
    size_t ncontainers;
} cr_run_job_options;

/* Builds RunJob's request (URL and JSON body) without sending it: the
** protocol as data. `job_name` is a full resource name. */
CR_API int cr_api_build_run_job(const char *endpoint, const char *job_name, const cr_run_job_options *opts,
                                cr_http_request *req, cr_error *err);

/* Turns a response into decoded JSON, or an error: a non-2xx status becomes
** the google.rpc.Status it carries (or one made from the HTTP status); a body
** that is not JSON, or an empty 2xx body (every method answers with a
** resource), becomes an error naming the URL. The server's message is kept to
** 2 KiB (marked when cut). Caller frees the result with cJSON_Delete(). */
CR_API cJSON *cr_api_parse_response(const cr_http_response *resp, const char *url, cr_error *err);

/* Maps a google.rpc.Status JSON object ({code, message, status, details}) into err. */
CR_API void cr_api_status_to_error(const cJSON *status, int http_status, cr_error *err);

/* Paging of list calls; zero / NULL fields are not sent. */
typedef struct cr_list_options {
    int32_t page_size;
    const char *page_token;
    int show_deleted;
    const char *filter; /* ListOperations only */
} cr_list_options;

/* What calls that change something may also say; zero / NULL fields are not sent.
** Where each goes is the REST API's: DeleteJob and DeleteExecution take validateOnly
** and etag in the query, CancelExecution in its body; UpdateJob takes validateOnly and
** allowMissing in the query and the etag as the Job's own field (it replaces one in the
** spec); CreateJob has only validateOnly. */
typedef struct cr_write_options {
    int validate_only;
    const char *etag;  /* the version the change is made from: ABORTED when it is not current */
    int allow_missing; /* UpdateJob: create the job when it does not exist */
} cr_write_options;

/*
** The calls. Each returns decoded JSON the caller frees with cJSON_Delete(),
** or NULL with err set. Names may be short (see cr_client_job_name). `call`
** may be NULL (the client's retry policy and timeout). List calls return one
** page as the REST API does ({"jobs": [...], "nextPageToken": "..."}).
** Calls that change something return the google.longrunning.Operation.
*/

/* RunJob: the Operation, with one field added at the top level:
** "execution", the Execution's resource name taken from the metadata. */
CR_API cJSON *cr_client_run_job(cr_client *client, const char *job, const cr_run_job_options *opts,
                                const cr_call_options *call, cr_error *err);

CR_API cJSON *cr_client_get_job(cr_client *client, const char *job, const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_list_jobs(cr_client *client, const cr_list_options *list, const cr_call_options *call,
                                  cr_error *err);
/* `job` is the new job's short id (or full name); `spec` a Job in its REST form. */
CR_API cJSON *cr_client_create_job(cr_client *client, const char *job, const cJSON *spec, const cr_write_options *write,
                                   const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_update_job(cr_client *client, const char *job, const cJSON *spec, const cr_write_options *write,
                                   const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_delete_job(cr_client *client, const char *job, const cr_write_options *write,
                                   const cr_call_options *call, cr_error *err);

CR_API cJSON *cr_client_get_execution(cr_client *client, const char *execution, const cr_call_options *call,
                                      cr_error *err);
/* `job` NULL or "-": the executions of every job in the location. */
CR_API cJSON *cr_client_list_executions(cr_client *client, const char *job, const cr_list_options *list,
                                        const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_cancel_execution(cr_client *client, const char *execution, const cr_write_options *write,
                                         const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_delete_execution(cr_client *client, const char *execution, const cr_write_options *write,
                                         const cr_call_options *call, cr_error *err);

CR_API cJSON *cr_client_get_task(cr_client *client, const char *task, const cr_call_options *call, cr_error *err);
CR_API cJSON *cr_client_list_tasks(cr_client *client, const char *execution, const cr_list_options *list,
                                   const cr_call_options *call, cr_error *err);

CR_API cJSON *cr_client_get_operation(cr_client *client, const char *operation, const cr_call_options *call,
                                      cr_error *err);
CR_API cJSON *cr_client_list_operations(cr_client *client, const cr_list_options *list, const cr_call_options *call,
                                        cr_error *err);
/* WaitOperation: the server answers when the operation is done or `timeout`
** seconds passed, whichever comes first (so the answer may not be done). */
CR_API cJSON *cr_client_wait_operation(cr_client *client, const char *operation, double timeout,
                                       const cr_call_options *call, cr_error *err);

/* Any Cloud Run v2 call: `path` is relative to the endpoint's /v2/ (e.g.
** "projects/p/locations/l/jobs/j"), `query` is an already-encoded query string
** or NULL, `body` is JSON to send or NULL. GET is retried as a read, anything
** else as a change. */
CR_API cJSON *cr_client_call(cr_client *client, const char *method, const char *path, const char *query,
                             const cJSON *body, const cr_call_options *call, cr_error *err);

/*
** IAM on a job, google.iam.v1 as the REST API has it. A Policy is JSON:
** {"version": 1 or 3, "bindings": [{"role": "roles/...", "members": ["user:...", ...],
** "condition": {"expression", "title", "description"}}], "etag": "<base64>"}; the
** library passes bindings and conditions through as they are.
*/
typedef struct cr_iam_options {
    int32_t requested_policy_version; /* GetIamPolicy's options.requestedPolicyVersion (1 or 3); 0: 3, as gcloud
                                         asks (a policy shows its conditions only at version 3) */
    const char *update_mask;          /* SetIamPolicy: the Policy's fields to change, a FieldMask in its JSON form
                                         ("bindings,etag"); NULL: none sent (the server takes bindings and etag) */
} cr_iam_options;

/* The job's policy. `iam` may be NULL. */
CR_API cJSON *cr_client_get_iam_policy(cr_client *client, const char *job, const cr_iam_options *iam,
                                       const cr_call_options *call, cr_error *err);
/* Replaces the job's policy with `policy` (a JSON object, borrowed) and returns
** the new one. With the etag of the policy it was read from, a change made
** meanwhile makes it fail with ABORTED (read again, change, set again). */
CR_API cJSON *cr_client_set_iam_policy(cr_client *client, const char *job, const cJSON *policy,
                                       const cr_iam_options *iam, const cr_call_options *call, cr_error *err);
/* Which of the n `permissions` the caller has on the job: {"permissions": [...]},
** {} when none. A read (retried as one). */
CR_API cJSON *cr_client_test_iam_permissions(cr_client *client, const char *job, const char *const *permissions,
                                             size_t n, const cr_call_options *call, cr_error *err);

#include "cloudrun_machine.h"

#ifdef __cplusplus
}
#endif

#endif
