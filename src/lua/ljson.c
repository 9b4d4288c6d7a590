/*
** ljson.c — conversion between Lua values and cJSON trees, with errors that
** say which part of a nested value could not be converted.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "ljson.h"

#define MAX_DEPTH 64

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "JSON too deeply nested");
    if (depth > 200) { /* cJSON itself refuses deeper input; defence in depth */
        lua_pushnil(L);
        return;
    }
    if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsNull(c) || !c->string)
                continue;
            push_json(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
        luaL_getmetatable(L, CR_ARRAY_MT);
        lua_setmetatable(L, -2);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            lua_pushinteger_ll(L, (long long)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else {
        lua_pushnil(L);
    }
}

void cr_lua_push_json(lua_State *L, const cJSON *json)
{
    push_json(L, json, 0);
}

/* An array when marked as one, or when its keys are exactly 1..n (n > 0). */
static int table_is_array(lua_State *L, int idx, size_t *len)
{
    *len = (size_t)lua_rawlen(L, idx);
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, CR_ARRAY_MT);
        int marked = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (marked)
            return 1;
    }
    if (*len == 0)
        return 0;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!cr_lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == *len;
}

static cJSON *to_json(lua_State *L, int idx, char *path, size_t pathcap, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (isnan(d) || isinf(d)) {
            lua_pushfstring(L, "%s: %s cannot be encoded as JSON", path, isnan(d) ? "NaN" : "infinity");
            return NULL;
        }
        /* cJSON prints doubles with 15-17 significant digits and a loose
        ** round-trip check, which can change a large integer: print those
        ** ourselves — a Lua integer (5.3+), and an integral float (the only
        ** kind of number 5.1 and 5.2 have). */
        if (d > 2147483647.0 || d < -2147483648.0) {
            char buf[32];
#if LUA_VERSION_NUM >= 503
            if (lua_isinteger(L, idx)) {
                snprintf(buf, sizeof buf, LUA_INTEGER_FMT, lua_tointeger(L, idx));
                return cJSON_CreateRaw(buf);
            }
#endif
            if (d == floor(d) && fabs(d) < 9.2e18) {
                snprintf(buf, sizeof buf, "%.0f", d);
                return cJSON_CreateRaw(buf);
            }
        }
        return cJSON_CreateNumber(d);
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (strlen(s) != n) {
            lua_pushfstring(L, "%s: string contains a NUL byte", path);
            return NULL;
        }
        return cJSON_CreateString(s);
    }
    case LUA_TTABLE:
        break;
    default:
        lua_pushfstring(L, "%s: a %s cannot be encoded as JSON", path, luaL_typename(L, idx));
        return NULL;
    }
    if (depth >= MAX_DEPTH) {
        lua_pushfstring(L, "%s: nested too deeply (a cycle?)", path);
        return NULL;
    }
    luaL_checkstack(L, 6, "JSON too deeply nested");
    size_t plen = strlen(path), len;
    cJSON *out;
    if (table_is_array(L, idx, &len)) {
        out = cJSON_CreateArray();
        for (size_t i = 1; out && i <= len; i++) {
            snprintf(path + plen, pathcap - plen, "[%zu]", i);
            lua_rawgeti(L, idx, (lua_Integer)i);
            cJSON *item = to_json(L, -1, path, pathcap, depth + 1);
            if (!item) {
                lua_remove(L, -2);
                cJSON_Delete(out);
                path[plen] = '\0';
                return NULL;
            }
            lua_pop(L, 1);
            cJSON_AddItemToArray(out, item);
        }
    } else {
        out = cJSON_CreateObject();
        lua_pushnil(L);
        while (out && lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                const char *kt = luaL_typename(L, -2);
                lua_pop(L, 2);
                cJSON_Delete(out);
                lua_pushfstring(L, "%s: a table with a %s key cannot be encoded as a JSON object", path, kt);
                return NULL;
            }
            const char *key = lua_tostring(L, -2);
            snprintf(path + plen, pathcap - plen, ".%s", key);
            cJSON *item = to_json(L, -1, path, pathcap, depth + 1);
            if (!item) {
                /* stack: key, value, message */
                lua_insert(L, -3);
                lua_pop(L, 2);
                cJSON_Delete(out);
                path[plen] = '\0';
                return NULL;
            }
            lua_pop(L, 1);
            cJSON_AddItemToObject(out, key, item);
        }
    }
    path[plen] = '\0';
    if (!out)
        lua_pushfstring(L, "%s: out of memory", path);
    return out;
}

cJSON *cr_lua_to_json(lua_State *L, int idx, const char *where)
{
    char path[512];
    snprintf(path, sizeof path, "%s", where);
    return to_json(L, idx, path, sizeof path, 0);
}
