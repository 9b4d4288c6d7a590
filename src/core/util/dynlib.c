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
    void *fns[16];
    size_t n = 0;
    while (lib->names[n] && n < sizeof fns / sizeof fns[0])
        n++;
    if (lib->names[n] || lib->api_size != n * sizeof(void (*)(void))) {
        snprintf(lib->why, sizeof lib->why, "the table of %s's functions does not match its names", lib->soname);
        return;
    }
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(lib->why, sizeof lib->why, "%s", e ? e : "dlopen failed");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fns[i] = dlsym(h, lib->names[i]);
        if (!fns[i]) {
            snprintf(lib->why, sizeof lib->why, "%s has no %s", lib->soname, lib->names[i]);
            return; /* h stays open: dlclose of a half-used library gains nothing */
        }
    }
    /* each into its typed pointer (POSIX: a function's address fits a void *, as dlsym gives it) */
    for (size_t i = 0; i < n; i++)
        memcpy((char *)lib->api + i * sizeof fns[i], &fns[i], sizeof fns[i]);
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
