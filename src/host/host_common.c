/*
** host_common.c — the parts of a Lua host both of ours need: preloading
** cloudrun (the C module and the embedded Lua sources), the message handler
** and error reporting, after lua.c.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../lua/compat.h"
#include "embedded.h"
#include "host.h"

int luaopen_cloudrun_core(lua_State *L);

static int load_embedded(lua_State *L)
{
    const cr_embedded_module *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, (const char *)m->source, m->len, m->chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1); /* module name, as require passes it */
    lua_call(L, 1, 1);
    return 1;
}

/* package.preload: the same table on every Lua (5.1 keeps no _PRELOAD in the registry). */
void cr_host_preload(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_remove(L, -2);
    lua_pushcfunction(L, luaopen_cloudrun_core);
    lua_setfield(L, -2, "cloudrun.core");
    for (const cr_embedded_module *m = cr_embedded_modules; m->name; m++) {
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
}

int cr_host_msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int cr_host_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, cr_host_msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

int cr_host_report(lua_State *L, int status, const char *progname)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (progname)
            fprintf(stderr, "%s: ", progname);
        fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}
