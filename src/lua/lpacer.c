/*
** lpacer.c — a client's pacer as Lua sees it: the functions client:pace()
** was given, which the core asks before each send that counts against one of
** Cloud Run's quotas and tells of a 429's pause (cr_pacer). The policy is
** Lua's (cloudrun.rate); this file only calls it from inside the core.
*/
#include "lbinding.h"

void cr_lua_pacer_init(cr_lua_pacer *p)
{
    p->L = NULL;
    p->before_ref = p->wait_ref = p->failure_ref = LUA_NOREF;
}

/*
** Calls the function at ref with the quota (and seconds): its number, or 0.
** It runs on the thread of the call under way, which is running: a call
** never yields. What it raises cannot unwind through the core (it would skip
** the core's frees): it is kept, and cr_lua_pacer_check raises it once the
** call is back. A pacer that raises is a bug, never the outside world.
*/
static double call_ref(cr_lua_pacer *p, int ref, const char *quota, double seconds, int nargs)
{
    lua_State *L = p->L;
    if (!L || ref == LUA_NOREF || !lua_checkstack(L, 4))
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushstring(L, quota);
    if (nargs > 1)
        lua_pushnumber(L, (lua_Number)seconds);
    if (lua_pcall(L, nargs, 1, 0) != 0) {
        if (p->failure_ref == LUA_NOREF)
            p->failure_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
        return 0;
    }
    double out = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return out == out ? out : 0; /* NaN: none */
}

static double before_send(void *ud, const char *quota)
{
    cr_lua_pacer *p = ud;
    return call_ref(p, p->before_ref, quota, 0, 1);
}

static void server_wait(void *ud, const char *quota, double seconds)
{
    cr_lua_pacer *p = ud;
    call_ref(p, p->wait_ref, quota, seconds, 2);
}

/* Tells the core whether the client has a pacer now. */
static void install(cr_lua_pacer *p, cr_client *c)
{
    cr_pacer core = {before_send, server_wait, p};
    cr_client_set_pacer(c, p->before_ref != LUA_NOREF || p->wait_ref != LUA_NOREF ? &core : NULL);
}

static int ref_function(lua_State *L, int idx, int old)
{
    luaL_unref(L, LUA_REGISTRYINDEX, old);
    if (lua_isnoneornil(L, idx))
        return LUA_NOREF;
    lua_pushvalue(L, idx);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

void cr_lua_pacer_set(lua_State *L, cr_lua_pacer *p, cr_client *c, int before_idx, int wait_idx)
{
    if (!lua_isnoneornil(L, before_idx))
        luaL_checktype(L, before_idx, LUA_TFUNCTION);
    if (!lua_isnoneornil(L, wait_idx))
        luaL_checktype(L, wait_idx, LUA_TFUNCTION);
    p->before_ref = ref_function(L, before_idx, p->before_ref);
    p->wait_ref = ref_function(L, wait_idx, p->wait_ref);
    install(p, c);
}

int cr_lua_pacer_swap_before(lua_State *L, cr_lua_pacer *p, cr_client *c, int idx)
{
    int own = p->before_ref;
    if (lua_isnoneornil(L, idx))
        return own;
    lua_pushvalue(L, idx);
    p->before_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    install(p, c);
    return own;
}

void cr_lua_pacer_restore_before(lua_State *L, cr_lua_pacer *p, cr_client *c, int own)
{
    if (p->before_ref == own)
        return;
    luaL_unref(L, LUA_REGISTRYINDEX, p->before_ref);
    p->before_ref = own;
    install(p, c);
}

void cr_lua_pacer_check(lua_State *L, cr_lua_pacer *p)
{
    if (p->failure_ref == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->failure_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->failure_ref);
    p->failure_ref = LUA_NOREF;
    lua_error(L);
}

void cr_lua_pacer_release(lua_State *L, cr_lua_pacer *p)
{
    luaL_unref(L, LUA_REGISTRYINDEX, p->before_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->wait_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->failure_ref);
    cr_lua_pacer_init(p);
}
