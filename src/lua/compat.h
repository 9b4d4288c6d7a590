/*
** compat.h — the handful of Lua C API differences between Lua 5.1/LuaJIT and
** 5.2–5.4 that the binding meets, so that one source builds for all of them.
*/
#ifndef CR_LUA_COMPAT_H
#define CR_LUA_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 502
#define lua_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
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
#define lua_rawlen(L, i) lua_objlen(L, (i))
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, (l)))
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
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
static inline int lua_isinteger_compat(lua_State *L, int i)
{
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    lua_Number n = lua_tonumber(L, i);
    return n == (lua_Number)(long long)n;
}
#define cr_lua_isinteger lua_isinteger_compat
#define lua_pushinteger_ll(L, v) lua_pushnumber(L, (lua_Number)(v))
#else
#if LUA_VERSION_NUM < 503
static inline int cr_lua_isinteger(lua_State *L, int i)
{
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    lua_Number n = lua_tonumber(L, i);
    return n == (lua_Number)(long long)n;
}
#define lua_pushinteger_ll(L, v) lua_pushnumber(L, (lua_Number)(v))
#else
/* A float with an integral value counts as an integer, as math.type would not:
** users write task_count = n / 2 and mean an integer. */
static inline int cr_lua_isinteger(lua_State *L, int i)
{
    if (lua_isinteger(L, i))
        return 1;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    lua_Number n = lua_tonumber(L, i);
    return n == (lua_Number)(long long)n && n > -9.2e18 && n < 9.2e18;
}
#define lua_pushinteger_ll(L, v) lua_pushinteger(L, (lua_Integer)(v))
#endif
#endif

#endif
