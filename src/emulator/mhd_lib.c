/*
** mhd_lib.c — libmicrohttpd, loaded when an emulator starts (see mhd_lib.h).
*/
#include "mhd_lib.h"
#include "util/dynlib.h"

#ifndef EMU_MHD_SONAME
#define EMU_MHD_SONAME "libmicrohttpd.so.12"
#endif

emu_mhd_api emu_mhd_api_loaded;

/* in the order of emu_mhd_api's fields */
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
static cr_dynlib lib = {
    .soname = EMU_MHD_SONAME,
    .what = "the emulator's HTTP server",
    .names = names,
    .api = &emu_mhd_api_loaded,
    .api_size = sizeof emu_mhd_api_loaded,
    .once = PTHREAD_ONCE_INIT,
};

int emu_mhd_load(cr_error *err)
{
    return cr_dynlib_load(&lib, "libmicrohttpd12", err);
}
