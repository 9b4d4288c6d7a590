/*
** fields.h — what the emulator does with each field of a Job: the one table
** of every field a Job can carry (schema.c's Job and the messages inside it),
** each honoured, recorded or refused with a one-line reason, and RunJob's
** refusal of what it cannot run. The README's table of fields is this table,
** and tests/emulator/test_fields.c holds the two to each other and to schema.c.
*/
#ifndef EMU_FIELDS_H
#define EMU_FIELDS_H

#include <cjson/cJSON.h>

#include "errors.h"

typedef enum emu_fate {
    EMU_HONOURED, /* as Cloud Run honours it, in the runtime chosen (the reason says where it differs) */
    EMU_RECORDED, /* kept and shown in answers; no local meaning (the reason says why) */
    EMU_REFUSED   /* CreateJob and UpdateJob take it; RunJob refuses a job that has it */
} emu_fate;

typedef struct emu_field_fate {
    /* The field's JSON path from the Job: names joined by '.', "[]" after a
    ** list ("template.template.containers[].env[].name"); a map's keys as
    ** "limits[cpu]", and "limits[*]" for every key no row of its own names. */
    const char *path;
    emu_fate fate;
    const char *code; /* EMU_REFUSED: "UNIMPLEMENTED" or "FAILED_PRECONDITION"; else NULL */
    const char *why;  /* one line, no '|': what the emulator does, or (refused) what running would need */
    int whole;        /* the row answers for every field under this one (messages that are output only) */
} emu_field_fate;

/* Every row, in the README's order; the last has a NULL path. Static. */
extern const emu_field_fate emu_field_fates[];

/* The row of an exact path, NULL when the table has none. */
const emu_field_fate *emu_field_fate_find(const char *path);

/* "honoured", "recorded" or "refused". */
const char *emu_fate_name(emu_fate fate);

/*
** RunJob's check of what would run: the job's spec (job_spec.c's stored
** form) with task_template (the TaskTemplate after the overrides) in place of
** its own. 0 when nothing stands in the way; -1 with err set when the task
** template has more than one container (UNIMPLEMENTED: sidecars) or a refused
** field is present (its row's code; the message names the field by its path,
** "template.template.containers[0].startupProbe", and says what is needed).
*/
int emu_fields_refusal(const cJSON *job_spec, const cJSON *task_template, emu_error *err);

#endif
