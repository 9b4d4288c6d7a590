/*
** logs_filter.h — an entries:list request read: the projects it names, its
** order and page, its filter (logs_expr.h reads the language) with what of it
** picks the files to read, and its page tokens. api_logs.c answers it.
*/
#ifndef EMU_LOGS_FILTER_H
#define EMU_LOGS_FILTER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "logs_expr.h"

#define EMU_LOGS_MAX_VALUE 256 /* bytes of one filter value or project id, NUL included */
#define EMU_LOGS_MAX_PROJECTS 8

/* What a filter's top-level AND asks for, which picks the executions, tasks
** and stretches of their files to read; "" and -1: any. */
typedef struct emu_logs_filter {
    char type[EMU_LOGS_MAX_VALUE], project[EMU_LOGS_MAX_VALUE], location[EMU_LOGS_MAX_VALUE];
    char job[EMU_LOGS_MAX_VALUE], execution[EMU_LOGS_MAX_VALUE];
    int task, attempt;
    int have_type;
    int64_t after_ns, before_ns; /* entries with after_ns <= ts < before_ns (as adjusted by >, <=) */
    int residual;                /* the filter says more than this: each line is tested against the tree */
} emu_logs_filter;

/* A place in an answer's order (time, then execution, then task, then the
** file's order; api_logs.c): the last entry of a page, as its token says. */
typedef struct emu_logs_position {
    int64_t ns;  /* the entry's time */
    int64_t seq; /* its execution's store-wide creation order */
    int task;    /* its task's index */
    int64_t pos; /* in that task's log, where the next page starts (forwards: after the
                    entry's line; backwards: at it) */
} emu_logs_position;

typedef struct emu_logs_request {
    char projects[EMU_LOGS_MAX_PROJECTS][EMU_LOGS_MAX_VALUE];
    int nprojects;
    int descending;
    int page_size;
    int have_from;          /* a page token was given: the page starts after `from` */
    emu_logs_position from; /* (the token is checked to be this query's, see query) */
    uint64_t query;         /* a hash of what selects and orders the entries (not the page size) */
    emu_logs_filter f;
    emu_logs_expr expr; /* the whole filter */
} emu_logs_request;

#define EMU_LOGS_TOKEN_SIZE 112 /* room for a page token, NUL included */

/* Reads a ListLogEntriesRequest (body, a JSON object) into r. 0, or -1 with
** err set to INVALID_ARGUMENT naming the field or what the filter may say. */
int emu_logs_read_request(const cJSON *body, emu_logs_request *r, emu_error *err);

/* Writes the page token that resumes r's answer after `at` into out
** (EMU_LOGS_TOKEN_SIZE bytes): it names the query it belongs to, and
** emu_logs_read_request refuses it with any other. */
void emu_logs_token(const emu_logs_request *r, const emu_logs_position *at, char *out);

#endif
