/*
** host.h — what the two hosts (cloudrun-lua and cloudrun) share: a Lua state
** with cloudrun preloaded, and lua.c's way of reporting errors.
*/
#ifndef CR_HOST_H
#define CR_HOST_H

#include <lua.h>

/* Registers cloudrun.core and the embedded Lua modules in package.preload. */
void cr_host_preload(lua_State *L);

/* Message handler for lua_pcall: a traceback, using __tostring on error objects. */
int cr_host_msghandler(lua_State *L);

/* Calls the function below narg arguments under cr_host_msghandler. */
int cr_host_docall(lua_State *L, int narg, int nres);

/* Prints the error on top of the stack (if status is not OK) as "progname: msg". */
int cr_host_report(lua_State *L, int status, const char *progname);

#endif
