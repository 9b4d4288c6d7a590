/*
** cloudrun_cli.c — the `cloudrun` command: `cloudrun emulator ...` runs the
** built-in emulator; everything else is the Lua CLI (cloudrun.cli), which
** returns the exit status. Only this file exits.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../lua/compat.h"
#include "host.h"

#include "../emulator/emulator.h"

/* The command's Lua state. It is left to the end of the process to take back
** rather than closed object by object (lua_close: about 2% of a one-shot
** trigger, bench part (e)); nothing of the CLI waits on a finalizer (output is
** C stdio, flushed by exit). Held here (volatile: the store stays), it is
** reachable to leak checkers. Under AddressSanitizer, and under valgrind when
** its header was there to build with, it is closed all the same, so that a
** leak of the binding's still shows. */
static lua_State *volatile cli_state;

#if defined(__SANITIZE_ADDRESS__)
#define CLOSE_AT_EXIT() 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLOSE_AT_EXIT() 1
#endif
#endif
#if !defined(CLOSE_AT_EXIT) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CLOSE_AT_EXIT() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef CLOSE_AT_EXIT
#define CLOSE_AT_EXIT() 0
#endif

static int run_cli(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    luaL_openlibs(L);
    cr_host_preload(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cloudrun.cli");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_createtable(L, 0, 1); /* what this launcher adds: the emulator's help, for the man page */
    lua_pushstring(L, cr_emulator_usage());
    lua_setfield(L, -2, "emulator_usage");
    lua_call(L, 2, 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "emulator") == 0)
        return cr_emulator_main(argc - 1, argv + 1);
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "emulator") == 0) {
        char *help[] = {argv[2], "--help", NULL};
        return cr_emulator_main(2, help);
    }

    lua_State *L = cli_state = luaL_newstate();
    if (!L) {
        fprintf(stderr, "cloudrun: not enough memory\n");
        return 3;
    }
    lua_pushcfunction(L, run_cli);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = cr_host_docall(L, 2, 1);
    int code;
    if (status != LUA_OK) {
        /* a raised error in the CLI is a bug, and is reported as one */
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "cloudrun: internal error: %s\n", msg ? msg : "(no message)");
        code = 3;
    } else {
        code = cr_lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    }
    if (CLOSE_AT_EXIT()) {
        lua_close(L);
        cli_state = NULL;
    }
    return code; /* cli_state: see above */
}
