/*
** api_logs.h — Cloud Logging's entries:list, answered from the tasks' log
** files (api_logs.c says which filters it understands).
*/
#ifndef EMU_API_LOGS_H
#define EMU_API_LOGS_H

#include <cjson/cJSON.h>

#include "errors.h"
#include "store.h"

/* The path it is served at (POST). */
#define EMU_LOGS_PATH "/v2/entries:list"

/* A ListLogEntriesResponse for the request `body` (a JSON object), or NULL
** with err set. Takes the store's mutex itself, only to copy the paths and
** marks of the logs it reads, never while reading them; its time and memory
** go with the page it answers, not with the size of the logs. */
cJSON *emu_logs_list(emu_store *s, const cJSON *body, emu_error *err);

#endif
