/*
** logs_filter.h — an entries:list request read: the projects it names, its
** order and page, and its filter (the subset of Cloud Logging's language
** that logs_filter.c understands). api_logs.c answers it.
*/
#ifndef EMU_LOGS_FILTER_H
#define EMU_LOGS_FILTER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"

#define EMU_LOGS_MAX_VALUE 256 /* bytes of one filter value or project id, NUL included */
#define EMU_LOGS_MAX_PROJECTS 8

/* What a filter asks for; "" and -1: any. */
typedef struct emu_logs_filter {
    char type[EMU_LOGS_MAX_VALUE], project[EMU_LOGS_MAX_VALUE], location[EMU_LOGS_MAX_VALUE];
    char job[EMU_LOGS_MAX_VALUE], execution[EMU_LOGS_MAX_VALUE];
    int task, attempt;
    int have_type;
    int64_t after_ns, before_ns; /* entries with after_ns <= ts < before_ns (as adjusted by >, <=) */
} emu_logs_filter;

typedef struct emu_logs_request {
    char projects[EMU_LOGS_MAX_PROJECTS][EMU_LOGS_MAX_VALUE];
    int nprojects;
    int descending;
    int page_size;
    long long from; /* the page token: how many entries earlier pages had */
    emu_logs_filter f;
} emu_logs_request;

/* Reads a ListLogEntriesRequest (body, a JSON object) into r. 0, or -1 with
** err set to INVALID_ARGUMENT naming the field or what the filter may say. */
int emu_logs_read_request(const cJSON *body, emu_logs_request *r, emu_error *err);

#endif
