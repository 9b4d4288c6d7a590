/*
** enum_encoding.h — the protobuf enums of the Jobs surface on the JSON wire:
** names ("CONDITION_SUCCEEDED") by default, numbers (4) when a request asks
** for `$alt=json;enum-encoding=int` as Google's Node REST transport does.
** Input is normalized to names, whichever a client sent.
*/
#ifndef EMU_ENUM_ENCODING_H
#define EMU_ENUM_ENCODING_H

#include <cjson/cJSON.h>

/* Whether a `$alt` query value ("json;enum-encoding=int") asks for numbers. NULL is fine. */
int emu_alt_wants_int_enums(const char *alt);

/* Rewrites every known enum field under node from its name to its number,
** in place (Condition.state, severity, reason, executionReason, launchStage,
** completionStatus, executionEnvironment, egress, medium). Names it does not
** know are left alone; map fields (labels, annotations, limits) are not entered. */
void emu_enums_to_numbers(cJSON *node);

/* The inverse, for request bodies: numbers of known enum fields become names. */
void emu_enums_to_names(cJSON *node);

#endif
