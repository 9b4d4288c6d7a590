/*
** compat.h — the Lua C API differences between Lua 5.1 (PUC-Rio's and
** LuaJIT 2.1), 5.2, 5.3 and 5.4 that the binding and the hosts meet, so that
** one source builds for all of them. Everything version-dependent is here.
*/
#ifndef CR_LUA_COMPAT_H
#define CR_LUA_COMPAT_H

/* A Lua API function that this Lua lacks must stop the build here, not become
** an implicit declaration that only fails when the module is loaded. */
#pragma GCC diagnostic error "-Wimplicit-function-declaration"

#include <lauxlib.h>
#include <lua.h>

/* LUAJIT_VERSION, when these are LuaJIT's headers (luajit.h sits beside them). */
#if LUA_VERSION_NUM == 501 && defined(__has_include)
#if __has_include(<luajit.h>)
#include <luajit.h>
#endif
#endif

#ifndef LUA_OK
#define LUA_OK 0
#endif

#if LUA_VERSION_NUM < 502
/*
** Lua 5.1 and LuaJIT. LuaJIT 2.1's lauxlib.h declares some 5.2 functions
** (luaL_setfuncs, luaL_testudata, luaL_traceback) that PUC-Rio's 5.1 lacks.
** We use our own under cr_ names in both, declaring nothing of LuaJIT's again:
** a module built with either's headers then needs only the 5.1 API, and loads
** into lua5.1 and LuaJIT alike (luarocks' 5.1 tree serves both).
*/
#define lua_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
#define lua_rawlen(L, i) lua_objlen(L, (i))
#define luaL_checkversion(L) ((void)0)

#define luaL_setfuncs cr_luaL_setfuncs
static inline void cr_luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup, "too many upvalues");
    for (; l->name; l++) {
        for (int i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#ifndef luaL_newlib /* LuaJIT's is a macro over luaL_setfuncs, so it takes ours */
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, (l), 0))
#endif

#define luaL_testudata cr_luaL_testudata
static inline void *cr_luaL_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

/* 5.2's luaL_tolstring: __tostring, else the value as print shows it; pushed. */
#define luaL_tolstring cr_luaL_tolstring
static inline const char *cr_luaL_tolstring(lua_State *L, int idx, size_t *len)
{
    idx = lua_absindex(L, idx);
    if (!luaL_callmeta(L, idx, "__tostring")) {
        switch (lua_type(L, idx)) {
        case LUA_TNUMBER:
        case LUA_TSTRING:
            lua_pushvalue(L, idx);
            break;
        case LUA_TBOOLEAN:
            lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
            break;
        case LUA_TNIL:
            lua_pushliteral(L, "nil");
            break;
        default:
            lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
            break;
        }
    }
    return lua_tolstring(L, -1, len);
}

/* luaL_traceback as the hosts use it (L1 == L): debug.traceback(msg, level). */
#define luaL_traceback cr_luaL_traceback
static inline void cr_luaL_traceback(lua_State *L, lua_State *L1, const char *msg, int level)
{
    (void)L1;
    lua_getglobal(L, "debug");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "traceback");
        lua_remove(L, -2);
    }
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        lua_pushstring(L, msg);
        return;
    }
    lua_pushstring(L, msg);
    lua_pushinteger(L, level + 1);
    lua_call(L, 2, 1);
}

/* How the parser ends a message about an unfinished chunk (interactive mode). */
#define CR_LUA_EOFMARK "'<eof>'"
#define CR_LUA_INIT_VAR "LUA_INIT"
#else
#define CR_LUA_EOFMARK "<eof>"
#define CR_LUA_INIT_VAR "LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR
#endif

/* 5.1 and 5.2 have no lua_gc data argument to leave out, 5.4's is variadic. */
#define cr_lua_gc(L, what) lua_gc(L, (what), 0)

/*
** An integer, or a float with an integral value: users write
** task_count = n / 2 and mean an integer (5.3's math.type would say float).
*/
static inline int cr_lua_isinteger(lua_State *L, int i)
{
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, i))
        return 1;
#endif
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    lua_Number n = lua_tonumber(L, i);
    return n > -9.2e18 && n < 9.2e18 && n == (lua_Number)(long long)n;
}

/* A 64-bit integer: a Lua integer from 5.3 on, a number before (exact below 2^53). */
#if LUA_VERSION_NUM >= 503
#define lua_pushinteger_ll(L, v) lua_pushinteger(L, (lua_Integer)(v))
#else
#define lua_pushinteger_ll(L, v) lua_pushnumber(L, (lua_Number)(v))
#endif

/* What the module and the hosts were built against, for `-v` and messages. */
#ifdef LUAJIT_VERSION
#define CR_LUA_BUILT_FOR LUAJIT_VERSION
#define CR_LUA_COPYRIGHT LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT
#elif LUA_VERSION_NUM < 502
#define CR_LUA_BUILT_FOR LUA_RELEASE
#define CR_LUA_COPYRIGHT LUA_RELEASE "  " LUA_COPYRIGHT
#else
#define CR_LUA_BUILT_FOR LUA_RELEASE
#define CR_LUA_COPYRIGHT LUA_COPYRIGHT
#endif

#endif
