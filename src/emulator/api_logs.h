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
** with err set. Takes the store's mutex itself, only to copy what it reads. */
cJSON *emu_logs_list(emu_store *s, const cJSON *body, emu_error *err);

#endif
