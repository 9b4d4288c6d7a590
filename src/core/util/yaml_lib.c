/*
** yaml_lib.c — libyaml, loaded at the first YAML read (see yaml_lib.h).
*/
#include "yaml_lib.h"
#include "dynlib.h"

#ifndef CR_YAML_SONAME
#define CR_YAML_SONAME "libyaml-0.so.2"
#endif

cr_yaml_api cr_yaml_api_loaded;

/* in the order of cr_yaml_api's fields */
static const char *const names[] = {"yaml_parser_initialize", "yaml_parser_set_input_string",
                                    "yaml_parser_parse",      "yaml_parser_delete",
                                    "yaml_event_delete",      NULL};
static cr_dynlib lib = {
    .soname = CR_YAML_SONAME,
    .what = "reading YAML",
    .names = names,
    .api = &cr_yaml_api_loaded,
    .api_size = sizeof cr_yaml_api_loaded,
    .once = PTHREAD_ONCE_INIT,
};

int cr_yaml_load(const char *origin, cr_error *err)
{
    cr_error e = {0};
    if (cr_dynlib_load(&lib, "libyaml-0-2", &e))
        return 1;
    const char *why = e.message ? e.message : "libyaml could not be loaded";
    if (origin)
        cr_error_set(err, e.code, 0, "%s: %s", origin, why);
    else
        cr_error_set(err, e.code, 0, "%s", why);
    cr_error_clear(&e);
    return 0;
}
