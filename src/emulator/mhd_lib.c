/*
** mhd_lib.c — libmicrohttpd, loaded when an emulator starts (see mhd_lib.h).
*/
#include <string.h>

#include "mhd_lib.h"
#include "util/dynlib.h"

#ifndef EMU_MHD_SONAME
#define EMU_MHD_SONAME "libmicrohttpd.so.12"
#endif

emu_mhd_api emu_mhd_api_loaded;

static const char *const names[] = {
    "MHD_start_daemon",
    "MHD_stop_daemon",
    "MHD_get_daemon_info",
    "MHD_get_connection_info",
    "MHD_lookup_connection_value",
    "MHD_create_response_from_buffer",
    "MHD_add_response_header",
    "MHD_queue_response",
    "MHD_destroy_response",
    NULL,
};
static void *fns[sizeof names / sizeof names[0]];

/* dlsym's pointers to the typed ones, in names' order (POSIX: a function's address fits a void *) */
static void ready(void **f)
{
    emu_mhd_api *a = &emu_mhd_api_loaded;
    memcpy(&a->start_daemon, &f[0], sizeof f[0]);
    memcpy(&a->stop_daemon, &f[1], sizeof f[1]);
    memcpy(&a->get_daemon_info, &f[2], sizeof f[2]);
    memcpy(&a->get_connection_info, &f[3], sizeof f[3]);
    memcpy(&a->lookup_connection_value, &f[4], sizeof f[4]);
    memcpy(&a->create_response_from_buffer, &f[5], sizeof f[5]);
    memcpy(&a->add_response_header, &f[6], sizeof f[6]);
    memcpy(&a->queue_response, &f[7], sizeof f[7]);
    memcpy(&a->destroy_response, &f[8], sizeof f[8]);
}

static cr_dynlib lib = {
    .soname = EMU_MHD_SONAME,
    .what = "the emulator's HTTP server",
    .names = names,
    .fns = fns,
    .ready = ready,
    .once = PTHREAD_ONCE_INIT,
};

int emu_mhd_load(cr_error *err)
{
    return cr_dynlib_load(&lib, "libmicrohttpd12", err);
}
