/*
** store.h — the in-memory resources (Jobs, Executions with their Tasks,
** Operations) and the one mutex that guards them. HTTP handler threads and
** the runner thread both work on them, always with `mu` held.
*/
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

typedef enum emu_task_state {
    EMU_TASK_PENDING,
    EMU_TASK_RUNNING,
    EMU_TASK_SUCCEEDED,
    EMU_TASK_FAILED,
    EMU_TASK_CANCELLED,
} emu_task_state;

typedef enum emu_exec_state {
    EMU_EXEC_PENDING,    /* created, no task started yet */
    EMU_EXEC_RUNNING,
    EMU_EXEC_SUCCEEDED,
    EMU_EXEC_FAILED,
    EMU_EXEC_CANCELLED,
} emu_exec_state;

/* One task of an execution; attempts are retries of the same task. */
typedef struct emu_task {
    int index;
    char uid[37];
    emu_task_state state;
    int attempt;             /* current (or last) attempt, 0-based */
    int retried;             /* attempts that were retried */
    pid_t pid;               /* > 0 while an attempt's process runs (it leads its own group) */
    int64_t attempt_mono;    /* when the running attempt started (monotonic) */
    int64_t term_mono;       /* when SIGTERM was sent to it, 0 if not */
    int timed_out;           /* the running attempt hit the timeout */
    int killed;              /* SIGKILL was sent to the running attempt */
    /* result of the last finished attempt */
    int has_result;
    int exit_code;           /* valid when term_signal == 0 */
    int term_signal;
    int result_code;         /* google.rpc code number, 0 = OK */
    char *result_message;    /* owned; NULL = none */
    int64_t create_ns, scheduled_ns, start_ns, completion_ns, update_ns;
} emu_task;

typedef struct emu_execution {
    char *name, *project, *location, *job, *id;  /* owned; job/id are the short ids */
    char uid[37];
    int64_t seq;             /* store-wide creation order */
    int64_t create_ns, start_ns, completion_ns, update_ns;
    int64_t delete_ns;       /* when it was deleted (0: not), shown as deleteTime */
    int parallelism;         /* as the job says (0 = unlimited) */
    int task_count;
    int max_retries;
    int64_t timeout_ns;      /* per attempt */
    cJSON *labels, *annotations; /* owned, ExecutionTemplate's; may be NULL */
    cJSON *template;         /* owned: the TaskTemplate after overrides */
    emu_exec_state state;
    int cancel_requested;
    int deleted;             /* hidden from the API; memory kept for live operations */
    int running, succeeded, failed, cancelled, retried;
    int next_pending;        /* tasks [next_pending, task_count) have never started */
    int fail_code;           /* google.rpc number for the RunJob operation's error */
    char *fail_message;      /* owned; the first task failure, NULL while none */
    char *log_dir;           /* owned absolute path: <log-root>/<execution-id> */
    emu_task *tasks;         /* owned array of task_count */
} emu_execution;

typedef struct emu_job {
    char *name, *project, *location, *id;  /* owned */
    char uid[37];
    int64_t seq, generation, create_ns, update_ns;
    cJSON *spec;             /* owned: user-settable fields, normalized, server defaults filled */
    int execution_count;
} emu_job;

/* An Operation is either finished at creation (a frozen snapshot of its JSON:
** job create/update/delete, execution delete) or follows an execution until
** it ends (RunJob, CancelExecution). */
typedef struct emu_operation {
    char *name;              /* owned: projects/P/locations/L/operations/<uuid> */
    cJSON *snapshot;         /* owned, or NULL for a live operation */
    emu_execution *execution;/* borrowed from the store (executions outlive operations) */
    int run_job;             /* live RunJob: a failed execution ends it with `error` */
} emu_operation;

typedef struct emu_store {
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* signalled when the runner has something new to do */
    int stopping;            /* the runner is to wind down */
    int draining;            /* the server is closing: long waits (WaitOperation) return now */
    int quiet;
    char *log_root;          /* owned absolute path */
    emu_job **jobs;
    size_t njobs, capjobs;
    emu_execution **execs;
    size_t nexecs, capexecs;
    emu_operation **ops;
    size_t nops, capops;
    int64_t next_seq;
    sem_t gate;              /* request bodies being parsed and handled at once (emu_store_gate_enter) */
} emu_store;

/* How many request bodies may be parsed and held as trees at once: each tree
** may cost up to EMU_JSON_MAX_VALUES nodes, and handlers run one at a time
** under the mutex anyway. */
#define EMU_PARSE_SLOTS 2

int emu_store_init(emu_store *s, const char *log_root);
/* Takes (waiting if need be) and gives back one of the EMU_PARSE_SLOTS; never with mu held. */
void emu_store_gate_enter(emu_store *s);
void emu_store_gate_leave(emu_store *s);

/* Frees every resource. The runner must be stopped first. */
void emu_store_free(emu_store *s);

/* Lookups; NULL when absent. Deleted executions are never returned. `job` may be "-". */
emu_job *emu_store_find_job(emu_store *s, const char *project, const char *location, const char *id);
emu_execution *emu_store_find_execution(emu_store *s, const char *project, const char *location,
                                        const char *job, const char *id);
emu_operation *emu_store_find_operation(emu_store *s, const char *name);
/* The newest non-deleted execution of a job, NULL if none. */
emu_execution *emu_store_latest_execution(emu_store *s, const emu_job *job);

/* A new job (takes ownership of spec). NULL on out of memory. */
emu_job *emu_store_add_job(emu_store *s, const char *project, const char *location, const char *id,
                           cJSON *spec);
/* Removes and frees a job (its executions are the caller's business). */
void emu_store_remove_job(emu_store *s, emu_job *job);

/* A new execution of job with the given TaskTemplate (ownership taken), its
** log directory created. NULL with *why set (static text) on failure. */
emu_execution *emu_store_add_execution(emu_store *s, emu_job *job, cJSON *task_template, int task_count,
                                       const char **why);

/* Undoes the newest emu_store_add_execution (validateOnly): frees it and its
** (empty) log directory. */
void emu_store_discard_execution(emu_store *s, emu_job *job, emu_execution *e);

/* Removes and frees an operation. */
void emu_store_remove_operation(emu_store *s, emu_operation *op);

/* A new operation under projects/P/locations/L; snapshot or execution. */
emu_operation *emu_store_add_operation(emu_store *s, const char *project, const char *location,
                                       cJSON *snapshot, emu_execution *execution);

/* Whether an execution has ended (succeeded, failed or cancelled). */
int emu_execution_done(const emu_execution *e);

char *emu_strdup(const char *s);
char *emu_strfmt(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
