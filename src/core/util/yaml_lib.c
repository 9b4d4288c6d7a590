/*
** yaml_lib.c — libyaml, loaded at the first YAML read (see yaml_lib.h).
*/
#include <string.h>

#include "dynlib.h"
#include "yaml_lib.h"

#ifndef CR_YAML_SONAME
#define CR_YAML_SONAME "libyaml-0.so.2"
#endif

cr_yaml_api cr_yaml_api_loaded;

static const char *const names[] = {"yaml_parser_initialize", "yaml_parser_set_input_string",
                                    "yaml_parser_parse",      "yaml_parser_delete",
                                    "yaml_event_delete",      NULL};
static void *fns[sizeof names / sizeof names[0]];

/* dlsym's pointers to the typed ones (POSIX: a function's address fits a void *) */
static void ready(void **f)
{
    cr_yaml_api *a = &cr_yaml_api_loaded;
    memcpy(&a->parser_initialize, &f[0], sizeof f[0]);
    memcpy(&a->parser_set_input_string, &f[1], sizeof f[1]);
    memcpy(&a->parser_parse, &f[2], sizeof f[2]);
    memcpy(&a->parser_delete, &f[3], sizeof f[3]);
    memcpy(&a->event_delete, &f[4], sizeof f[4]);
}

static cr_dynlib lib = {
    .soname = CR_YAML_SONAME,
    .what = "reading YAML",
    .names = names,
    .fns = fns,
    .ready = ready,
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
