/*
** json_strict.h — request bytes to a cJSON tree the way Google's front end
** reads them: RFC 8259 and nothing more (no trailing garbage, no comments,
** no BOM, no bare control characters), valid UTF-8 in every string (no
** overlong forms, no surrogates, escapes paired), and bounded: a depth, a
** count of values and a length of number literals that no Cloud Run request
** needs, so that a hostile body cannot cost more than a fixed multiple of
** its size.
*/
#ifndef EMU_JSON_STRICT_H
#define EMU_JSON_STRICT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "errors.h"

#define EMU_JSON_MAX_DEPTH 64      /* nesting of objects and arrays */
#define EMU_JSON_MAX_VALUES 100000 /* values of any kind in one document */
#define EMU_JSON_MAX_NUMBER 63     /* characters of one number literal */

/*
** Parses len bytes of JSON text (not NUL-terminated). Returns the tree (the
** caller frees it with cJSON_Delete), or NULL with err set to
** INVALID_ARGUMENT "Invalid JSON payload received. ..." naming what is wrong
** and the byte offset where it is (RESOURCE_EXHAUSTED out of memory).
*/
cJSON *emu_json_parse_strict(const char *text, size_t len, emu_error *err);

/* The byte offset of the first problem in text[0..len), or -1 when it is valid
** strict JSON; *why (static text) says what is wrong. */
long emu_json_check(const char *text, size_t len, const char **why);

/* Replaces item (a member or element of parent) by replacement, which takes
** item's key in an object; item is freed. 0, or -1 (replacement freed) out of memory. */
int emu_json_replace(cJSON *parent, cJSON *item, cJSON *replacement);

#endif
