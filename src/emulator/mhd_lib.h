/*
** mhd_lib.h — libmicrohttpd, loaded when an emulator starts serving
** (util/dynlib.h): the `cloudrun` command carries the emulator, and every
** other command, a one-shot trigger above all, then never maps it. Call
** emu_mhd_load first; then EMU_MHD->start_daemon(...) and so on, with the
** very types of <microhttpd.h>.
*/
#ifndef EMU_MHD_LIB_H
#define EMU_MHD_LIB_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "cloudrun.h"

typedef struct emu_mhd_api {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
} emu_mhd_api;

/* libmicrohttpd's functions, once emu_mhd_load has said yes. */
extern emu_mhd_api emu_mhd_api_loaded;
#define EMU_MHD (&emu_mhd_api_loaded)

/* Loads libmicrohttpd (once): 1, or 0 with err saying why. */
int emu_mhd_load(cr_error *err);

#endif
