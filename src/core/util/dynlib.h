/*
** dynlib.h — a library loaded at its first use (dlopen), not at every
** process start: each DT_NEEDED library costs a one-shot process about 2% of
** a bare libcurl process's time (bench part (e)), and most runs never read
** YAML or serve the emulator. A cr_dynlib is loaded once, whatever the
** threads; it is never unloaded.
*/
#ifndef CR_DYNLIB_H
#define CR_DYNLIB_H

#include <pthread.h>
#include <stddef.h>

#include "cloudrun.h"

#define CR_HIDDEN_DL __attribute__((visibility("hidden")))

typedef struct cr_dynlib {
    const char *soname;       /* "libyaml-0.so.2" */
    const char *what;         /* what it is for, for the message: "reading YAML" */
    const char *const *names; /* the functions to resolve, NULL-terminated (at most 16) */
    void *api;                /* a struct of as many function pointers, in names' order: filled */
    size_t api_size;          /* its size (checked against names) */
    pthread_once_t once;      /* PTHREAD_ONCE_INIT */
    int loaded;
    char why[192]; /* dlerror's words, when it could not be loaded */
} cr_dynlib;

/* Loads lib (once) and says whether its functions are there; when not, err
** says which library, for what, and why, with the Debian package to install. */
CR_HIDDEN_DL int cr_dynlib_load(cr_dynlib *lib, const char *package, cr_error *err);

#endif
