/*
** dynlib.c — libraries loaded at their first use (see dynlib.h).
*/
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "dynlib.h"

static __thread cr_dynlib *loading; /* pthread_once takes no argument */

static void load_once(void)
{
    cr_dynlib *lib = loading;
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s", e ? e : "dlopen failed");
        return;
    }
    for (size_t i = 0; lib->names[i]; i++) {
        void *f = dlsym(h, lib->names[i]);
        if (!f) {
            snprintf(lib->why, sizeof lib->why, "%s has no %s", lib->soname, lib->names[i]);
            return; /* h stays open: dlclose of a half-used library gains nothing */
        }
        lib->fns[i] = f;
    }
    if (lib->ready)
        lib->ready(lib->fns);
    lib->loaded = 1;
}

int cr_dynlib_load(cr_dynlib *lib, const char *package, cr_error *err)
{
    loading = lib;
    pthread_once(&lib->once, load_once);
    loading = NULL;
    if (lib->loaded)
        return 1;
    cr_error_set(err, "FAILED_PRECONDITION", 0, "%s needs %s, which could not be loaded (%s): install %s", lib->what,
                 lib->soname, lib->why, package);
    return 0;
}
