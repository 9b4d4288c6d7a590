/*
** schema.h — the request messages of the Jobs surface as ProtoJSON reads
** them: which fields each message has, of which type, and the check that
** holds a parsed body to them as Google's front end does (unknown fields,
** wrong types, numbers out of range, a oneof set twice: 400), while taking
** what ProtoJSON takes (proto field names beside JSON names, quoted integers,
** enum numbers, null for "not set"). The check also normalizes the body so
** that the handlers see one form.
*/
#ifndef EMU_SCHEMA_H
#define EMU_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "errors.h"

typedef struct emu_message emu_message;

/* The bodies the emulator reads. */
extern const emu_message emu_msg_job;             /* CreateJob, UpdateJob (body: job), the --jobs file */
extern const emu_message emu_msg_run_job_request; /* RunJob (body: *) */
extern const emu_message emu_msg_cancel_request;  /* CancelExecution (body: *) */
extern const emu_message emu_msg_wait_request;    /* WaitOperation (body: *) */
extern const emu_message emu_msg_jobs_file;       /* --jobs: a ListJobsResponse */
extern const emu_message emu_msg_fault;           /* POST /emulator/v1/faults */
extern const emu_message emu_msg_set_iam_policy;  /* google.iam.v1.SetIamPolicyRequest (body: *; schema_iam.c) */
extern const emu_message emu_msg_test_iam;        /* google.iam.v1.TestIamPermissionsRequest (body: *) */

/* A field's proto name from its JSON name ("taskCount" -> "task_count"),
** written into buf (cut to fit size > 0). Returns buf. Both names are
** accepted wherever Google reads a request's fields: body and query. */
const char *emu_proto_name(const char *json, char *buf, size_t size);

/*
** Checks obj (a JSON object) against msg and normalizes it in place: members
** named by their proto name (task_count) are renamed to the JSON name
** (taskCount); members set to null are removed; int32 fields given as
** strings ("5") become numbers; enum fields given as numbers become their
** names when known; Durations are rewritten in their canonical form
** ("0.5s" -> "0.500s"). at is the path of obj in messages ("job", or "" for a
** request body itself). Returns 0, or -1 with err set to INVALID_ARGUMENT
** with Google's wording, naming the field (proto names, indexes:
** "job.template.template.containers[0].env[2].value") as a field violation.
*/
int emu_schema_check(cJSON *obj, const emu_message *msg, const char *at, emu_error *err);

/* One field of a message as the tables list it, for walks over a message's
** fields (fields.c and its test); the strings are static. */
typedef struct emu_schema_field {
    const char *name;           /* the JSON name */
    int repeated;               /* a list */
    int map;                    /* a map<string, string> */
    const emu_message *message; /* a message field's type, else NULL */
} emu_schema_field;

/* The i-th field (from 0) of msg in *out: 1, or 0 past the last. */
int emu_schema_field_at(const emu_message *msg, int i, emu_schema_field *out);

/* A message's full name ("google.cloud.run.v2.Container"), static. */
const char *emu_schema_type(const emu_message *msg);

#endif
