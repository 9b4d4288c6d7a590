/*
** cloudrun_machine.h — the machine/driver half of libcloudrun's public C
** interface: the step machines every call and token fetch is made of, the
** calls as data (cr_request) and the method table they are described by, the
** drivers that run machines, and JSON walked without a tree. Included by
** cloudrun.h (include that): it uses the types declared there.
*/
#ifndef CLOUDRUN_MACHINE_H
#define CLOUDRUN_MACHINE_H

#ifndef CLOUDRUN_H
#error "include cloudrun.h: cloudrun_machine.h is its machine/driver half"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Step machines: the protocol without I/O                                   */
/* ------------------------------------------------------------------------ */

/*
** Everything the library does on the wire — an API call with its retries and
** its one 401 refresh, a token fetch of any credential type, metadata probes,
** project and region discovery — is a machine that performs no I/O and never
** sleeps (it may read a local key or subject-token file). It hands out the
** next step and is fed what came of it; a driver does the I/O. The libcurl
** drivers below run machines from C; the Lua binding exposes the same steps
** to Lua drivers (nginx cosockets).
**
**     for (;;) {
**         cr_step s;
**         cr_machine_step(m, &s);
**         if (s.kind == CR_STEP_DONE) break;
**         ... do what s asks, then feed exactly one of the cr_machine_* calls below
**     }
**     json = cr_machine_take_json(m, &err);   (or cr_machine_take_token)
**     cr_machine_free(m);
*/

typedef enum cr_step_kind {
    CR_STEP_SEND = 1, /* send `request`; feed cr_machine_respond, or cr_machine_fail when no answer came */
    CR_STEP_WAIT,     /* wait `seconds`; feed cr_machine_waited */
    CR_STEP_TOKEN,    /* a token of `credentials`; feed cr_machine_give_token, or cr_machine_fail */
    CR_STEP_DONE      /* finished: take the result */
} cr_step_kind;

/*
** What a machine wants next. Pointers are borrowed from the machine and valid
** until the next feed.
**
** TOKEN: `key` names the credential source in the driver's token store (it
** never contains a secret). With fresh = 0, give the stored token and its
** expiry, or NULL when none is stored: the machine decides whether it is
** still fresh (3 min 45 s before it expires it no longer is). With fresh = 1
** the machine needs a new one: when the stored token is still `stale`, drop
** it (with refused = 1 the API refused it: tell the credentials, see
** cr_credentials_refused) and fetch another with cr_credentials_fetch, one
** fetch at a time per key; when the store meanwhile holds another token,
** give that. A token fetch may take at most `within` seconds.
*/
typedef struct cr_step {
    cr_step_kind kind;
    const cr_http_request *request; /* SEND */
    double seconds;                 /* WAIT */
    cr_credentials *credentials;    /* TOKEN */
    const char *key;                /* TOKEN */
    int fresh;                      /* TOKEN: 1 = the stored token will not do */
    const char *stale;              /* TOKEN with fresh: the token not to give again, or NULL */
    int refused;                    /* TOKEN with fresh: the API refused `stale` (a 401) */
    double within;                  /* TOKEN: seconds a fetch may take */
} cr_step;

/* The next step. Calling it again without a feed returns the same step. */
CR_API void cr_machine_step(cr_machine *m, cr_step *step);

/* Feeds for SEND: the response (its contents are taken; *resp is zeroed), or
** the failure to get one: code UNAVAILABLE (no connection, reset) or
** DEADLINE_EXCEEDED (timed out), err->sent = 0 when the request cannot have
** reached the server. The machine takes the error's contents (*err cleared). */
CR_API void cr_machine_respond(cr_machine *m, cr_http_response *resp);
CR_API void cr_machine_fail(cr_machine *m, cr_error *err);

/* Feed for TOKEN: the token (copied; NULL: none stored) and its expiry in
** Unix seconds (0: unknown). A token that cannot be had is cr_machine_fail. */
CR_API void cr_machine_give_token(cr_machine *m, const char *token, int64_t expires_at);

/* Feed for WAIT. */
CR_API void cr_machine_waited(cr_machine *m);

/* After DONE: the API call's decoded JSON (caller frees) or NULL with err
** set; for a token machine, the token (cr_secret_free) and its expiry, 0 or
** -1 with err set. Each may be taken once. */
CR_API cJSON *cr_machine_take_json(cr_machine *m, cr_error *err);
CR_API int cr_machine_take_token(cr_machine *m, char **token, int64_t *expires_at, cr_error *err);

/* Frees a machine at any point (a driver that gives up). NULL is fine. */
CR_API void cr_machine_free(cr_machine *m);

/* Runs a machine to DONE with the blocking libcurl driver: one easy handle,
** waits with nanosleep, tokens from the process-wide store (below). */
CR_API void cr_machine_run(cr_machine *m);

/*
** Every call above as data, for the machines: what cr_client_start turns
** into an API call machine (names resolved, project and region discovered
** when needed, the token asked for, retries and the one 401 refresh) and
** what the functions above run with the blocking driver.
*/
typedef enum cr_method {
    CR_RUN_JOB = 1,
    CR_GET_JOB,
    CR_LIST_JOBS,
    CR_CREATE_JOB,
    CR_UPDATE_JOB,
    CR_DELETE_JOB,
    CR_GET_EXECUTION,
    CR_LIST_EXECUTIONS,
    CR_CANCEL_EXECUTION,
    CR_DELETE_EXECUTION,
    CR_GET_TASK,
    CR_LIST_TASKS,
    CR_GET_OPERATION,
    CR_LIST_OPERATIONS,
    CR_WAIT_OPERATION,
    CR_CALL, /* cr_client_call: http_method, path, query, body (and base, read) */
    CR_GET_IAM_POLICY,
    CR_SET_IAM_POLICY,
    CR_TEST_IAM_PERMISSIONS
} cr_method;

/* Borrowed for the duration of cr_client_start (the machine copies what it needs). */
typedef struct cr_request {
    cr_method method;
    const char *name;               /* the job, execution, task or operation; for LIST_EXECUTIONS the
                                       job (NULL: every job), for LIST_TASKS the execution */
    const cr_run_job_options *run;  /* RUN_JOB; NULL: no overrides */
    const cJSON *spec;              /* CREATE_JOB, UPDATE_JOB: the Job */
    const cr_list_options *list;    /* LIST_*; NULL: defaults */
    const cr_write_options *write;  /* changes; NULL: defaults */
    double wait_timeout;            /* WAIT_OPERATION: seconds the server may hold the call */
    const char *http_method;        /* CR_CALL: "GET", "POST", "PATCH", "DELETE" */
    const char *path;               /* CR_CALL: relative to /v2/ */
    const char *query;              /* CR_CALL: encoded, or NULL */
    const cJSON *body;              /* CR_CALL: or NULL */
    const char *base;               /* CR_CALL: another Google API's endpoint (http(s)://host[:port], its
                                       path then under base/v2/), with the client's credentials; NULL:
                                       the client's Cloud Run endpoint */
    int read;                       /* CR_CALL: 1 = retried as a read whatever the method (a POST that
                                       only reads, as Cloud Logging's entries:list) */
    const cr_iam_options *iam;      /* GET_IAM_POLICY, SET_IAM_POLICY; NULL: defaults */
    const cJSON *policy;            /* SET_IAM_POLICY: the google.iam.v1.Policy */
    const char *const *permissions; /* TEST_IAM_PERMISSIONS: the permissions asked about */
    size_t npermissions;
} cr_request;

/*
** The method table: every API method described once — its HTTP method and
** path shape, whether it is a read, the arguments it takes, its options with
** their types and ranges, how its request is encoded and how its answer is
** read. cr_client_start encodes a cr_request by it; the Lua binding builds
** client:<method> by walking it and reads option tables by it; the nginx
** driver starts the same machines. Adding a method is an entry here (and,
** when it has a body, one encoder in api/encode.c).
*/
typedef enum cr_option_type {
    CR_OPT_STRING = 1, /* const char * */
    CR_OPT_BOOL,       /* int, 0 or 1 */
    CR_OPT_COUNT,      /* int32_t, a whole number from `min` to `max` */
    CR_OPT_NUMBER,     /* double, at least `min` */
    CR_OPT_SECONDS,    /* double, more than 0 (at most a week) */
    CR_OPT_DURATION,   /* int64_t nanoseconds, more than 0: seconds, or a duration's text ("600s", "10m") */
    CR_OPT_STRINGS,    /* a list of strings: const char *const * at `at`, its length (size_t) at `at_count`,
                          and the int at `at_set` set to 1 */
    CR_OPT_ENV,        /* env vars: const cr_env_var * at `at`, their number (size_t) at `at_count` */
    CR_OPT_RETRY,      /* a table of cr_retry_options, into cr_args.retry */
    CR_OPT_CONTAINERS  /* containers' overrides: const cr_container_override * at `at`, their number (size_t)
                          at `at_count` */
} cr_option_type;

/* One option of a method: where its value goes in a cr_args (byte offsets). */
typedef struct cr_option {
    const char *name; /* as Lua options and messages name it: "task_count" */
    cr_option_type type;
    long at;             /* offsetof(cr_args, ...) of the value */
    long at_count;       /* STRINGS, ENV: of the count; -1 otherwise */
    long at_set;         /* STRINGS: of the flag that says it was given; -1 otherwise */
    double min, max;     /* COUNT, NUMBER: the range */
    const char *expects; /* what a value must be, for messages: "a non-negative integer up to 10000" */
} cr_option;

/* How a method takes its arguments (after the client). */
typedef enum cr_takes {
    CR_TAKES_NAME = 1,    /* (name [, opts]) */
    CR_TAKES_OPTS,        /* ([opts]) */
    CR_TAKES_OPT_NAME,    /* (name or nothing [, opts]) */
    CR_TAKES_NAME_SPEC,   /* (name, spec [, opts]) */
    CR_TAKES_WAIT,        /* (name, seconds [, opts]) */
    CR_TAKES_CALL,        /* (http method, path [, query [, body [, opts]]]) */
    CR_TAKES_NAME_POLICY, /* (name, policy [, update mask] [, opts]) */
    CR_TAKES_NAME_LIST    /* (name, list of strings [, opts]) */
} cr_takes;

/* How a method's answer is read. */
typedef enum cr_answer {
    CR_ANSWER_RESOURCE = 0, /* the resource (or Operation) as sent */
    CR_ANSWER_RUN           /* a RunJob Operation: "execution" added, the Execution's name */
} cr_answer;

struct cr_call;

typedef struct cr_method_def {
    const char *name; /* "run_job": cr_client_run_job in C, client:run_job in Lua */
    cr_method method;
    const char *http;   /* "GET", "POST", "PATCH", "DELETE"; NULL: the caller's (CR_CALL) */
    const char *kind;   /* what the name argument names: "jobs", "executions", "tasks",
                           "operations"; NULL: the parent projects/P/locations/L */
    const char *suffix; /* after the resolved name: ":run", "/executions", ... */
    int read;           /* retried as a read */
    cr_takes takes;
    const cr_option *options; /* ends with an entry whose name is NULL */
    cr_answer answer;
    /* its query and body from the request (NULL: none); 0, or -1 with err set */
    int (*encode)(struct cr_call *call, const cr_request *r, cr_error *err);
    /* once its name has resolved to `target` (NULL: nothing more to do); 0, or -1 with err set */
    int (*resolved)(struct cr_call *call, char *target, char **body, cr_error *err);
} cr_method_def;

/* The table, in cr_method order, ending with an entry whose name is NULL. */
CR_API const cr_method_def *cr_methods(void);

/* A method by its name ("get_job") or its number; NULL when there is none. */
CR_API const cr_method_def *cr_method_find(const char *name);
CR_API const cr_method_def *cr_method_of(cr_method method);

/* What a name of `kind` ("jobs", "executions", "tasks", "operations"; NULL:
** the parent) is called in messages: "job", "execution", ... "parent". */
CR_API const char *cr_kind_noun(const char *kind);

/* An option of a list by name; NULL when the list has none. */
CR_API const cr_option *cr_option_find(const cr_option *options, const char *name);

/* The options of a retry table ({attempts=, initial=, max=, multiplier=, deadline=}). */
CR_API const cr_option *cr_retry_options(void);

/* Everything a method's arguments and options fill, as cr_args_init wires it. */
typedef struct cr_args {
    cr_request r;
    cr_run_job_options run;
    cr_list_options list;
    cr_write_options write;
    cr_call_options call;
    cr_retry retry;
    cr_iam_options iam;
} cr_args;

/* Zeroes a and points r at its option structs as method d takes them. */
CR_API void cr_args_init(cr_args *a, const cr_method_def *d);

/*
** Sets option o (of d's list, or of cr_retry_options) from a value, checked
** against the option's type and range: 0, or -1 with err (INVALID_ARGUMENT)
** saying "option 'NAME' must be EXPECTS (got ...)". Strings and lists are
** borrowed: they must outlive the call made with a. _text takes a string
** option's value or a duration's text; _number a number of any numeric type.
** RunJob's `containers` and its single-container options (args, env,
** clear_args = true, container) refuse each other: whichever comes second is
** INVALID_ARGUMENT, saying so, and is not set.
*/
CR_API int cr_args_set_text(cr_args *a, const cr_option *o, const char *text, cr_error *err);
CR_API int cr_args_set_number(cr_args *a, const cr_option *o, double value, cr_error *err);
CR_API int cr_args_set_bool(cr_args *a, const cr_option *o, int value, cr_error *err);
CR_API int cr_args_set_strings(cr_args *a, const cr_option *o, const char *const *items, size_t n, cr_error *err);
CR_API int cr_args_set_env(cr_args *a, const cr_option *o, const cr_env_var *vars, size_t n, cr_error *err);
/* Each override names its container (non-empty, no two alike); every arg a string, every env var named. */
CR_API int cr_args_set_containers(cr_args *a, const cr_option *o, const cr_container_override *items, size_t n,
                                  cr_error *err);

/* The name of the Execution an answer is about, by the one rule: the Operation's own "execution" (ours),
** else its metadata.name, else its response.name, else the resource's own name, the first of them that names an
** execution (".../executions/..."). Any may be NULL. Returns one of them, or NULL. */
CR_API const char *cr_execution_name_pick(const char *execution, const char *metadata_name, const char *response_name,
                                          const char *own_name);

/* The API call machine for `r` (its result: cr_machine_take_json). NULL with
** err set for a request that is wrong whatever the server says (a malformed
** name, a spec that is not an object). */
CR_API cr_machine *cr_client_start(cr_client *client, const cr_request *r, const cr_call_options *call, cr_error *err);

/* cr_client_start for a caller that reads answers itself: the machine's result
** is the answer's text, taken with cr_machine_take_answer. */
CR_API cr_machine *cr_client_start_text(cr_client *client, const cr_request *r, const cr_call_options *call,
                                        cr_error *err);

/* The result of a finished machine made by cr_client_start_text: as
** cr_client_perform_text returns it. */
CR_API char *cr_machine_take_answer(cr_machine *m, size_t *len, char **execution, cr_error *err);

/* A machine that finds the project and region the client lacks (from the
** credentials, then the metadata server) and keeps them in the client; its
** result (cr_machine_take_json) is true, or the error saying where it looked. */
CR_API cr_machine *cr_client_discovery(cr_client *client, cr_error *err);

/* cr_client_start, run with the blocking driver: the decoded JSON, or NULL with err set. */
CR_API cJSON *cr_client_perform(cr_client *client, const cr_request *r, const cr_call_options *call, cr_error *err);

/*
** cr_client_perform with the answer left as the JSON text the server sent
** instead of decoded into a cJSON tree, for a caller that reads it into values
** of its own with cr_json_walk (the Lua binding: no tree is built and freed).
** The text is checked as cr_client_perform checks an answer (a JSON object,
** else the same error). Returns it (*len bytes, NUL-terminated; caller frees)
** or NULL with err set. *execution: the field cr_client_perform adds to a
** RunJob's Operation ("execution", the Execution's name), NULL when it would
** add none; caller frees.
*/
CR_API char *cr_client_perform_text(cr_client *client, const cr_request *r, const cr_call_options *call, size_t *len,
                                    char **execution, cr_error *err);

/*
** JSON text walked without a tree. The events come in document order; any may
** be NULL. Each returns 0 to go on; anything else stops the walk and is what
** cr_json_walk returns. A string (a key too) is handed as the raw bytes
** between its quotes, `escaped` when a backslash is among them;
** cr_json_unescape gives its value.
*/
typedef struct cr_json_events {
    int (*begin_object)(void *ud);
    int (*end_object)(void *ud);
    int (*begin_array)(void *ud);
    int (*end_array)(void *ud);
    int (*key)(void *ud, const char *raw, size_t len, int escaped);
    int (*string)(void *ud, const char *raw, size_t len, int escaped);
    int (*number)(void *ud, double value);
    int (*boolean)(void *ud, int value);
    int (*null)(void *ud);
} cr_json_events;

/*
** Walks the first JSON value in text (len bytes, no NUL needed; what follows
** the value is not looked at), accepting exactly what cJSON_ParseWithLength
** accepts and reading numbers as it reads them. 0; -1 for text cJSON would not
** parse (events may have come before the fault); or an event's answer.
*/
CR_API int cr_json_walk(const char *text, size_t len, const cr_json_events *ev, void *ud);

/*
** A string cr_json_walk handed over (raw, len), as cJSON keeps it: escapes
** decoded, and ending at its first NUL (cJSON's strings are C strings). Writes
** at most cap bytes to out, which may be raw itself (decoding never gets ahead
** of reading); returns how many it wrote.
*/
CR_API size_t cr_json_unescape(const char *raw, size_t len, char *out, size_t cap);

/* cr_json_unescape for a reader whose strings have a length (Lua's): a NUL
** (\u0000, or a raw NUL byte) is kept as a byte instead of ending the string. */
CR_API size_t cr_json_unescape_whole(const char *raw, size_t len, char *out, size_t cap);

/*
** Fan-out: the n RunJob requests at once on the multi driver (libcurl multi),
** at most `in_flight` on the wire (0: 16), each under its own retry rules as
** cr_client_run_job (`call` may be NULL). results[i] is the Operation of
** jobs[i] (with "execution" added) or NULL with errs[i] set: one failure
** never hides the others. The caller frees each result and clears each error.
*/
typedef struct cr_run_job_request {
    const char *job;
    const cr_run_job_options *opts; /* NULL: no overrides */
} cr_run_job_request;

CR_API void cr_client_run_jobs(cr_client *client, const cr_run_job_request *jobs, size_t n, size_t in_flight,
                               const cr_call_options *call, cJSON **results, cr_error *errs);

/*
** The multi driver for machines of one's own: runs machines[0..n) to DONE on
** one thread (libcurl multi), at most `in_flight` (0: 16) started at a time,
** in order, tokens from the process-wide store; ca_file: a CA bundle trusted
** besides the system's, or NULL. The machines stay the caller's: take each
** result, then free them. cr_client_run_jobs is this over RunJob machines.
*/
CR_API void cr_machines_run(cr_machine *const *machines, size_t n, size_t in_flight, const char *ca_file);

/* cr_machines_run for machines of client c (started by it), trusting its CA bundle. */
CR_API void cr_client_run_machines(cr_client *c, cr_machine *const *machines, size_t n, size_t in_flight);

/*
** Pacing: a client's requests held back before they go out, so that they keep
** within Cloud Run's request quotas (per project and region, per minute: job
** runs, reads, writes). How long is the pacer's to say; the drivers above ask
** it. Before every SEND of one of the client's machines that counts against
** one of the quotas (cr_machine_quota) — retries and the resend after a 401
** included; token fetches, metadata probes and other APIs' calls not — a
** driver calls before_send and holds that request the seconds it answers (0
** or less: none), then sends it without asking again. After feeding the
** answer, it tells server_wait (may be NULL) of the pause the server asked
** for (cr_machine_server_wait), so that the pacer can hold the client's other
** calls as well. Both are called on the thread that runs the machine, inside
** the blocking functions (cr_client_perform, ...) and cr_client_run_machines;
** they must not call the client. A driver of one's own asks the same two.
*/
typedef struct cr_pacer {
    double (*before_send)(void *ud, const char *quota);
    void (*server_wait)(void *ud, const char *quota, double seconds);
    void *ud;
} cr_pacer;

/* Sets client c's pacer (copied; NULL: none, as a new client has). Not while a call of c runs. */
CR_API void cr_client_set_pacer(cr_client *client, const cr_pacer *pacer);

/* Which of Cloud Run's request quotas the SEND that m asks for counts
** against: "run" (RunJob), "read" (the calls retried as reads: gets, lists,
** operations), "write" (every other change), or NULL (a token fetch, a
** metadata probe, a cr_client_call to another API's base, or m is not at a
** SEND of its own). Static strings. */
CR_API const char *cr_machine_quota(cr_machine *m);

/* The pause the server asked for in the answer m was last fed, in seconds (a
** 429's Retry-After or google.rpc.RetryInfo, the longer); 0 when it asked for
** none. Taken: asking again gives 0 until the next answer. */
CR_API double cr_machine_server_wait(cr_machine *m);

/*
** The retry decision, as data (the call machine uses it; exposed for
** tests): after attempt number `attempt` (1-based) failed with `err`, with `retry_after` seconds asked by the server (<
*0: none), for a
** call that is a read (`idempotent`) or not, with `remaining` seconds left of
** the deadline: returns the seconds to wait before the next attempt, or -1
** to give up. `jitter` is a number in [0, 1) (full jitter).
*/
CR_API double cr_retry_delay(const cr_retry *policy, int attempt, const cr_error *err, int idempotent,
                             double retry_after, double remaining, double jitter);

#ifdef __cplusplus
}
#endif

#endif
