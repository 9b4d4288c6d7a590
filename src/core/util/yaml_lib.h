/*
** yaml_lib.h — libyaml, loaded at the first YAML read (util/dynlib.h): a
** process that reads none (a one-shot trigger) never maps it. Call
** cr_yaml_load first; then CR_YAML->parser_parse(...) and so on.
*/
#ifndef CR_YAML_LIB_H
#define CR_YAML_LIB_H

#include <yaml.h>

#include "cloudrun.h"

typedef struct cr_yaml_api {
    int (*parser_initialize)(yaml_parser_t *parser);
    void (*parser_set_input_string)(yaml_parser_t *parser, const unsigned char *input, size_t size);
    int (*parser_parse)(yaml_parser_t *parser, yaml_event_t *event);
    void (*parser_delete)(yaml_parser_t *parser);
    void (*event_delete)(yaml_event_t *event);
} cr_yaml_api;

/* libyaml's functions, once cr_yaml_load has said yes. */
__attribute__((visibility("hidden"))) extern cr_yaml_api cr_yaml_api_loaded;
#define CR_YAML (&cr_yaml_api_loaded)

/* Loads libyaml (once): 1, or 0 with err saying why (after origin, the file or text being read, when not NULL). */
__attribute__((visibility("hidden"))) int cr_yaml_load(const char *origin, cr_error *err);

#endif
