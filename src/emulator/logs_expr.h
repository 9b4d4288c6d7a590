/*
** logs_expr.h — Cloud Logging's filter language, the part the emulator
** answers: comparisons of a log entry's fields joined by AND (or a space), OR,
** NOT (or '-') and parentheses, read into a small tree of fixed arrays
** (nothing to free) and tested against one line at a time. logs_filter.c
** reads the rest of an entries:list request and takes from the tree what
** picks the files to read.
*/
#ifndef EMU_LOGS_EXPR_H
#define EMU_LOGS_EXPR_H

#include <stdint.h>

#include "errors.h"

#define EMU_LOGS_MAX_FILTER 20000 /* bytes of a filter: Cloud Logging's own limit */
#define EMU_LOGS_MAX_NODES 128    /* comparisons, ANDs, ORs and NOTs of one filter */
#define EMU_LOGS_MAX_DEPTH 32     /* parentheses and NOTs inside one another */

/* The fields a comparison may name. */
typedef enum emu_logs_field {
    EMU_LOGS_TYPE,      /* resource.type */
    EMU_LOGS_PROJECT,   /* resource.labels.project_id */
    EMU_LOGS_LOCATION,  /* resource.labels.location */
    EMU_LOGS_JOB,       /* resource.labels.job_name */
    EMU_LOGS_EXECUTION, /* labels."run.googleapis.com/execution_name" */
    EMU_LOGS_TASK,      /* labels."run.googleapis.com/task_index" */
    EMU_LOGS_ATTEMPT,   /* labels."run.googleapis.com/task_attempt" */
    EMU_LOGS_TIMESTAMP, /* timestamp */
    EMU_LOGS_RECEIVED,  /* receiveTimestamp (the same time here) */
    EMU_LOGS_SEVERITY,  /* severity (every line here is DEFAULT) */
    EMU_LOGS_TEXT,      /* textPayload */
    EMU_LOGS_LOG_NAME,  /* logName */
    EMU_LOGS_INSERT_ID, /* insertId */
} emu_logs_field;

typedef enum emu_logs_op {
    EMU_LOGS_EQ,
    EMU_LOGS_NE,
    EMU_LOGS_LT,
    EMU_LOGS_LE,
    EMU_LOGS_GT,
    EMU_LOGS_GE,
    EMU_LOGS_HAS,     /* ':' — contains */
    EMU_LOGS_PRESENT, /* ':*' — has a value */
} emu_logs_op;

typedef enum emu_logs_kind { EMU_LOGS_AND, EMU_LOGS_OR, EMU_LOGS_NOT, EMU_LOGS_CMP } emu_logs_kind;

typedef struct emu_logs_node {
    unsigned char kind, field, op;
    int a, b;       /* AND, OR: both sides; NOT: a (node indices) */
    int64_t number; /* task, attempt, severity; a time in Unix ns */
    int value;      /* the value's text: an offset into the tree's text (lower case for ':') */
} emu_logs_node;

typedef struct emu_logs_expr {
    emu_logs_node node[EMU_LOGS_MAX_NODES];
    int n;
    int root;      /* -1: an empty filter, which keeps everything */
    int uses_text; /* a comparison reads textPayload */
    size_t used;
    char text[EMU_LOGS_MAX_FILTER + 1]; /* the values, one after another, each NUL-terminated */
} emu_logs_expr;

/* One log line as a filter sees it. text and lower (textPayload, and the same
** in ASCII lower case) are needed only when the tree's uses_text is set. */
typedef struct emu_logs_line {
    const char *project, *location, *job, *execution, *insert_id;
    int task, attempt;
    int64_t ns;
    const char *text, *lower;
} emu_logs_line;

/* Reads `filter` into x. 0, or -1 with err set to INVALID_ARGUMENT quoting
** the term it could not read, or naming what it does not understand. */
int emu_logs_expr_parse(const char *filter, emu_logs_expr *x, emu_error *err);

/* 1 when the line passes the filter, else 0. */
int emu_logs_expr_match(const emu_logs_expr *x, const emu_logs_line *line);

/* The value of comparison node i, as read (lower case for ':'). */
const char *emu_logs_expr_value(const emu_logs_expr *x, int i);

/* An RFC 3339 time as Unix nanoseconds (one int64 ns cannot hold is before
** or after every entry); 0, or -1 when it is not one. */
int emu_logs_time(const char *s, int64_t *ns);

/* ASCII lower case of src into dst (size bytes, at least 1), cut to fit. */
void emu_logs_lower(char *dst, size_t size, const char *src);

#endif
