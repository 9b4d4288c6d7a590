/*
** store.h — the in-memory resources (Jobs, Executions with their Tasks,
** Operations), their indexes and lists, and the one mutex that guards them.
** HTTP handler threads and the runner thread both work on them, always with
** `mu` held. What happens to them over time (cancel, delete, retention) is
** lifecycle.h's; this file only keeps them.
*/
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "index.h"

typedef enum emu_task_state {
    EMU_TASK_PENDING,
    EMU_TASK_RUNNING,
    EMU_TASK_SUCCEEDED,
    EMU_TASK_FAILED,
    EMU_TASK_CANCELLED,
} emu_task_state;

typedef enum emu_exec_state {
    EMU_EXEC_PENDING, /* created, no task started yet */
    EMU_EXEC_RUNNING,
    EMU_EXEC_SUCCEEDED,
    EMU_EXEC_FAILED,
    EMU_EXEC_CANCELLED,
} emu_exec_state;

/* When a stretch of a task's log was written: the file offset it starts at,
** the wall clock then, and the attempt that wrote it. Cloud Logging's
** entries:list (api_logs.c) dates each line by the mark before it. */
typedef struct emu_log_mark {
    int64_t offset;
    int64_t ns;
    int attempt;
} emu_log_mark;

/* Marks kept per task: when full, every other one is dropped (coarser dates, bounded memory). */
#define EMU_LOG_MARKS 128

/* One task of an execution; attempts are retries of the same task. */
typedef struct emu_task {
    int index;
    char uid[37];
    emu_task_state state;
    int attempt;          /* current (or last) attempt, 0-based */
    int retried;          /* attempts that were retried */
    pid_t pid;            /* > 0 while an attempt's main process runs (it leads its own group) */
    int report_fd;        /* while an attempt runs: its supervisor's report (supervisor.h) */
    int control_fd;       /* while an attempt runs: the runner's word to its supervisor */
    int out_fd;           /* the read end of its output pipe while it runs, else -1 (runner.c) */
    int log_fd;           /* its log file while it runs, else -1 */
    int64_t attempt_mono; /* when the running attempt started (monotonic) */
    int64_t term_mono;    /* when SIGTERM was sent to it, 0 if not */
    int timed_out;        /* the running attempt hit the timeout */
    int killed;           /* SIGKILL was sent to the running attempt */
    /* result of the last finished attempt */
    int has_result;
    int exit_code; /* valid when term_signal == 0 */
    int term_signal;
    int result_code;      /* google.rpc code number, 0 = OK */
    char *result_message; /* owned; NULL = none */
    int64_t log_bytes;    /* bytes of output kept in its log file */
    int log_truncated;    /* output beyond the limit was dropped (and said so once) */
    emu_log_mark *marks;  /* owned, up to EMU_LOG_MARKS, by offset; NULL until output came */
    int nmarks;
    int64_t create_ns, scheduled_ns, start_ns, completion_ns, update_ns;
} emu_task;

typedef struct emu_job emu_job;
typedef struct emu_operation emu_operation;
struct emu_launch;
struct emu_runtime;

typedef struct emu_execution {
    char *name, *project, *location, *job, *id; /* owned; job/id are the short ids */
    char *key;                                  /* owned: "P/L/ID", its key in the store's index */
    char uid[37];
    int64_t seq; /* store-wide creation order */
    int64_t create_ns, start_ns, completion_ns, update_ns;
    int64_t delete_ns; /* when it was deleted (0: not), shown as deleteTime */
    int parallelism;   /* as the job says (0 = unlimited) */
    int task_count;
    int max_retries;
    int64_t timeout_ns;          /* per attempt */
    cJSON *labels, *annotations; /* owned, ExecutionTemplate's; may be NULL */
    cJSON *template;             /* owned: the TaskTemplate after overrides */
    emu_exec_state state;
    int cancel_requested;
    int deleted; /* hidden from the API; kept only until its processes have stopped */
    int running, succeeded, failed, cancelled, retried;
    int next_pending;          /* tasks [next_pending, task_count) have never started */
    int fail_code;             /* google.rpc number for the RunJob operation's error */
    char *fail_message;        /* owned; the first task failure, NULL while none */
    char *log_dir;             /* owned absolute path: <log-root>/<execution-id>, NULL without logs */
    emu_task *tasks;           /* owned array of task_count */
    struct emu_launch *launch; /* its secrets and image, got before it starts (launch.h); the runner's */
    int launched;              /* launch.h has said it is ready: tasks may start */
    emu_job *owner;            /* its job while it is visible, NULL once deleted */
    emu_operation *followers;  /* operations that follow it (RunJob, cancel), linked by follow_next */
    struct emu_execution *all_prev, *all_next;       /* the store's visible executions, oldest first */
    struct emu_execution *job_prev, *job_next;       /* its job's visible executions, oldest first */
    struct emu_execution *active_prev, *active_next; /* the store's executions not yet done */
    int active;
} emu_execution;

/* What a job's execution token (startExecutionToken or runExecutionToken, api_jobs.c) has
** done: the job's terminalCondition follows the execution it started (resource_json.c). */
typedef struct emu_job_token {
    int set;             /* a token has started an execution, or been refused one */
    int run;             /* a runExecutionToken: ready once it has completed; else once it has started */
    emu_execution *exec; /* borrowed until it is freed; then NULL, what it came to kept below */
    emu_exec_state state;
    int64_t create_ns, start_ns, completion_ns;
    char *message; /* owned: why it failed, or why it could not start; NULL */
} emu_job_token;

struct emu_job {
    char *name, *project, *location, *id; /* owned */
    char *key;                            /* owned: "P/L/ID" */
    char uid[37];
    int64_t seq, generation, create_ns, update_ns;
    cJSON *spec; /* owned: user-settable fields, normalized, server defaults filled */
    emu_job_token token;
    int execution_count;
    int completed;                        /* of its visible executions, those that are done */
    emu_execution *exec_head, *exec_tail; /* its visible executions, oldest first */
    emu_job *prev, *next;                 /* the store's jobs, oldest first */
    struct emu_iam_policy *iam;           /* owned: its IAM policy (iam_policy.h); NULL until one is set */
};

/* An Operation either follows an execution (RunJob, CancelExecution) and is
** rendered from it, or is frozen: its final JSON kept as text (job create,
** update and delete; execution delete; and a follower whose execution has
** been freed). Frozen ones are kept for a while (lifecycle.h). */
struct emu_operation {
    char *name; /* owned: projects/P/locations/L/operations/<uuid> */
    int64_t seq;
    char *text;                               /* owned: the frozen Operation JSON, or NULL while following */
    emu_execution *execution;                 /* followed (borrowed), NULL once frozen */
    int run_job;                              /* RunJob: a failed execution ends it with `error` */
    int64_t frozen_mono;                      /* when it was frozen */
    emu_operation *prev, *next;               /* the store's operations, oldest first */
    emu_operation *follow_next;               /* its execution's followers */
    emu_operation *frozen_prev, *frozen_next; /* frozen operations, oldest first */
};

typedef struct emu_store {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* signalled when the runner has something new to do (emu_store_wake) */
    int wake_fd;         /* the runner's eventfd while it runs, else -1: written with wake (emu_store_wake) */
    int stopping;        /* the runner is to wind down */
    int draining;        /* the server is closing: long waits (WaitOperation) return now */
    int quiet;
    const struct emu_runtime *runtime; /* where tasks run (runtime.h); NULL: local processes, no secrets */
    char *log_root;                    /* owned absolute path; NULL: no logs and no processes (fuzzing) */
    emu_index jobs_by_key, execs_by_key, ops_by_name;
    emu_job *jobs_head, *jobs_tail;
    size_t njobs;
    emu_execution *execs_head, *execs_tail;   /* visible */
    emu_execution *active_head, *active_tail; /* not yet done, deleted ones included */
    emu_operation *ops_head, *ops_tail;
    size_t nops;
    emu_operation *frozen_head, *frozen_tail;
    size_t nfrozen;
    int64_t next_seq;
    uint64_t next_exec_number; /* execution ids: never the same twice (store.c) */
    uint32_t id_key[4];
    /* limits (emulator.c's options) */
    int keep_executions;      /* done executions kept per job */
    int keep_operations;      /* frozen operations kept */
    int64_t operation_ttl_ns; /* how long a frozen operation is kept */
    int max_processes;        /* task processes at once, all executions together */
    int64_t log_limit;        /* bytes of output kept per task */
    int processes;            /* task processes running now */
    sem_t gate;               /* request bodies being parsed and handled at once (emu_store_gate_enter) */
} emu_store;

/* How many request bodies may be parsed and held as trees at once: each tree
** may cost up to EMU_JSON_MAX_VALUES nodes, and handlers run one at a time
** under the mutex anyway. */
#define EMU_PARSE_SLOTS 2

/* Tells the runner it has something new to do, whether it waits on the condition or on
** its tasks' pipes. Called with mu held. */
void emu_store_wake(emu_store *s);

/* log_root NULL: no log directories and no processes (the fuzz targets). */
int emu_store_init(emu_store *s, const char *log_root);
/* Frees every resource. The runner must be stopped first. */
void emu_store_free(emu_store *s);

/* Takes (waiting if need be) and gives back one of the EMU_PARSE_SLOTS; never with mu held. */
void emu_store_gate_enter(emu_store *s);
void emu_store_gate_leave(emu_store *s);

/* Lookups by index; NULL when absent. Deleted executions are never returned. `job` may be "-". */
emu_job *emu_store_find_job(emu_store *s, const char *project, const char *location, const char *id);
emu_execution *emu_store_find_execution(emu_store *s, const char *project, const char *location, const char *job,
                                        const char *id);
emu_operation *emu_store_find_operation(emu_store *s, const char *name);
/* The newest visible execution of a job, NULL if none. */
emu_execution *emu_store_latest_execution(emu_store *s, const emu_job *job);

/* A new job (takes ownership of spec). NULL on out of memory. */
emu_job *emu_store_add_job(emu_store *s, const char *project, const char *location, const char *id, cJSON *spec);
/* Removes and frees a job; its executions must have been deleted (lifecycle.h). */
void emu_store_remove_job(emu_store *s, emu_job *job);

/* A new execution of job with the given TaskTemplate (ownership taken), its
** log directory created. Its id is JOB-TOKEN when token is not NULL (the
** caller has made sure it is free: emu_store_execution_id_taken), else one
** never given before. NULL with *why set (static text) on failure. */
emu_execution *emu_store_add_execution(emu_store *s, emu_job *job, cJSON *task_template, int task_count,
                                       const char *token, const char **why);
/* Whether an execution of that id exists under project and location, visible
** or deleted and not yet stopped (ids are unique there, whatever the job). */
int emu_store_execution_id_taken(emu_store *s, const char *project, const char *location, const char *id);
/* Forgets what the job's execution token did (a new generation without one). */
void emu_job_token_clear(emu_job *job);
/* Takes a visible execution out of the index and the visible lists (it stays
** active until done). */
void emu_store_hide_execution(emu_store *s, emu_execution *e);
/* Unlinks an execution from every list and frees it, its log directory with
** it when remove_logs. Its followers must have been frozen or removed. */
void emu_store_free_execution(emu_store *s, emu_execution *e, int remove_logs);
/* Marks an execution done for the runner: off the active list. */
void emu_store_deactivate(emu_store *s, emu_execution *e);

/* A new operation under projects/P/locations/L: frozen with the JSON body
** (ownership taken: its text is kept, the tree freed; the name is added
** here) or following execution. NULL on out of memory. */
emu_operation *emu_store_add_operation(emu_store *s, const char *project, const char *location, cJSON *done_body,
                                       emu_execution *execution);
/* Freezes a following operation with its final JSON text (ownership taken). */
void emu_store_freeze_operation(emu_store *s, emu_operation *op, char *text);
/* Removes and frees an operation. */
void emu_store_remove_operation(emu_store *s, emu_operation *op);

/* Whether an execution has ended (succeeded, failed or cancelled). */
int emu_execution_done(const emu_execution *e);

char *emu_strdup(const char *s);
char *emu_strfmt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
