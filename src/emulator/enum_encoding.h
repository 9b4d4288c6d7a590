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

/*
** One enum field of a request (schema.c): item, a member of parent under the
** enum field key, must be one of the enum's names or an int32; a known number
** is replaced by its name (item is then freed), an unknown one kept (proto3
** enums are open). 0, or -1 when it is neither.
*/
int emu_enum_input(const char *key, cJSON *parent, cJSON *item);

#endif
