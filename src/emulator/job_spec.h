/*
** job_spec.h — what clients send: a Job body (CreateJob, UpdateJob, the
** --jobs file) turned into the stored spec (camelCase keys, defaults
** omitted, server defaults filled, validated), and RunJob's overrides applied
** to a job's template to give an execution's TaskTemplate.
*/
#ifndef EMU_JOB_SPEC_H
#define EMU_JOB_SPEC_H

#include <cjson/cJSON.h>

#include "errors.h"

#define EMU_MAX_TASKS 10000
#define EMU_MAX_RETRIES 10
#define EMU_MAX_CONTAINERS 10           /* per task (Cloud Run's multi-container limit) */
#define EMU_MAX_ENV 1000                /* variables per container */
#define EMU_MAX_ENV_BYTES 32768         /* of one variable's name, and of its value */
#define EMU_MAX_ANNOTATION_BYTES 262144 /* keys and values together (Kubernetes' limit) */
/* A task's timeout: at most 168 hours (Cloud Run's limit; beyond 24 h in Preview). */
#define EMU_MAX_TASK_TIMEOUT_S (168LL * 3600)

/* Whether a job id is valid (lowercase letter first, then [-a-z0-9], no
** trailing '-', at most 63 characters). */
int emu_job_id_valid(const char *id);

/* Splits "projects/P/locations/L/jobs/J" into new strings. 0 or -1. */
int emu_job_name_split(const char *name, char **project, char **location, char **id);

/* A stored spec from a Job body (borrowed) that emu_schema_check has
** accepted as a Job: a new object the caller owns, or NULL with err set to
** INVALID_ARGUMENT naming the field (a range, a size, a name Cloud Run refuses). */
cJSON *emu_job_spec_from_json(const cJSON *body, emu_error *err);

/* A spec's execution token (startExecutionToken or runExecutionToken: the
** schema has made them a oneof), NULL when it has none; *run says which. */
const char *emu_spec_token(const cJSON *spec, int *run);

/* An execution token must name an execution of job_id: JOB-TOKEN, a DNS
** label (Cloud Run: the job name and the token "must be fewer than 63
** characters" together). 0, or -1 with err set to INVALID_ARGUMENT naming
** the field. */
int emu_job_token_check(const cJSON *spec, const char *job_id, emu_error *err);

/*
** RunJob: applies `overrides` (the RunJobRequest's, may be NULL) to the job
** spec. On success returns the TaskTemplate to run (new, caller owns) and sets
** *task_count. NULL with err set (INVALID_ARGUMENT) otherwise.
*/
cJSON *emu_overrides_apply(const cJSON *spec, const cJSON *overrides, const char *job_id, int *task_count,
                           emu_error *err);

#endif
