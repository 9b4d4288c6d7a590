/*
** json_strict.h — request bytes to a cJSON tree the way Google's front end
** reads them: RFC 8259 and nothing more (no trailing garbage, no comments,
** no BOM, no bare control characters), valid UTF-8 in every string (no
** overlong forms, no surrogates, escapes paired), and bounded: a depth, a
** count of values and a length of number literals that no Cloud Run request
** needs, so that a hostile body cannot cost more than a fixed multiple of
** its size. Also the UTF-8 checks the rest of the emulator uses on paths,
** query values and messages.
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

/* Whether s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF). */
int emu_utf8_valid(const char *s, size_t n);

/* Whether s (NUL-terminated) is valid UTF-8 without control characters (C0, DEL). */
int emu_text_clean(const char *s);

/* The number of code points in valid UTF-8 s. */
size_t emu_utf8_length(const char *s);

/* Copies src into dst (size > 0), NUL-terminated, each invalid UTF-8 byte
** replaced by U+FFFD and never cutting a character in two. Returns dst. */
char *emu_utf8_sanitize(char *dst, size_t size, const char *src);

#endif
