/*
** ljson.c — conversion between Lua values and cJSON trees, with errors that
** say which part of a nested value could not be converted.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudrun.h"
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

/* ---- JSON text straight to Lua ---------------------------------------------------- */

/*
** The text of an answer (cr_client_perform_text) pushed as push_json would
** push its cJSON tree, without the tree: the same values, tables made with
** the same sizes and filled in the same order (so that even `#` over an array
** with a null in it and the order of pairs agree), nil beyond push_json's
** depth. A container's members wait on the Lua stack until it closes and its
** size is known; when the stack cannot grow (a C function gets 8,000 slots on
** Lua 5.1 and LuaJIT) the open containers become tables at once and their
** members are set as they come.
*/
#define PUSHED_DEPTH 200 /* push_json's: values deeper than this are nil */

typedef struct frame {
    int base;   /* the stack top before the container's first member */
    int count;  /* members so far, null ones too */
    int object; /* members are key, value pairs */
    int table;  /* 0, or where the table already is (its members are set as they come) */
} frame;

typedef struct text_decoder {
    lua_State *L;
    int array_mt;          /* stack index of CR_ARRAY_MT */
    int skip;              /* > 0: inside a container deeper than push_json goes */
    int nframes;           /* containers open (the depth of the next value) */
    const char *execution; /* a member for the root object, after the others, or NULL */
    int has_nul;           /* the text has a NUL byte somewhere */
    int whole;             /* strings keep their NULs (cloudrun.json.decode), else cut as cJSON cuts them */
    int bottom;            /* the stack's top when decoding began */
    frame f[PUSHED_DEPTH + 1];
} text_decoder;

/* Members of frame i that are complete, in stack slots. */
static int frame_slots(const frame *f)
{
    return f->object ? 2 * f->count : f->count;
}

/* Frame i's members go into its table now; everything above moves down. */
static void spill_frame(text_decoder *d, int i)
{
    lua_State *L = d->L;
    frame *f = &d->f[i];
    int n = frame_slots(f);
    lua_createtable(L, f->object ? 0 : f->count, f->object ? f->count : 0);
    for (int j = 0; j < f->count; j++) {
        if (f->object) {
            if (lua_isnil(L, f->base + 2 * j + 2))
                continue;
            lua_pushvalue(L, f->base + 2 * j + 1);
            lua_pushvalue(L, f->base + 2 * j + 2);
            lua_rawset(L, -3);
        } else {
            lua_pushvalue(L, f->base + j + 1);
            lua_rawseti(L, -2, j + 1);
        }
    }
    if (n == 0) {
        lua_insert(L, f->base + 1);
    } else {
        /* the table takes the first member's slot; what lies above the members
        ** moves down into the others' (one by one: lua_remove would make this
        ** quadratic in the members) */
        lua_replace(L, f->base + 1);
        int top = lua_gettop(L);
        for (int k = f->base + 1 + n; k <= top; k++) {
            lua_pushvalue(L, k);
            lua_replace(L, k - (n - 1));
        }
        lua_settop(L, top - (n - 1));
    }
    f->table = f->base + 1;
    for (int k = i + 1; k < d->nframes; k++) {
        d->f[k].base += 1 - n;
        if (d->f[k].table)
            d->f[k].table += 1 - n;
    }
}

/*
** Members wait on the stack until their container ends (so that its table is
** made with its size, and pairs gives cJSON's order), but never more than
** STACK_BUDGET slots of it: a stack filled to Lua's limit leaves nothing for
** a finalizer the collector runs meanwhile (Lua 5.2 then raises "stack
** overflow" from inside the decoder), and 5.1 and LuaJIT allow 8,000 in all.
*/
#define STACK_BUDGET 4000

/* Room for a few more slots, making tables of the open containers when there is none. */
static void need_room(text_decoder *d)
{
    if (lua_gettop(d->L) - d->bottom < STACK_BUDGET && lua_checkstack(d->L, 4))
        return;
    for (int i = 0; i < d->nframes; i++)
        if (!d->f[i].table)
            spill_frame(d, i);
    luaL_checkstack(d->L, 4, "JSON too large");
}

/* The value on top of the stack becomes a member of the open container (or the root). */
static int put_value(text_decoder *d)
{
    if (d->nframes == 0)
        return 0;
    lua_State *L = d->L;
    frame *f = &d->f[d->nframes - 1];
    if (f->table) {
        if (!f->object)
            lua_rawseti(L, f->table, f->count + 1);
        else if (lua_isnil(L, -1))
            lua_pop(L, 2);
        else
            lua_rawset(L, f->table);
    }
    f->count++;
    return 0;
}

static int td_begin(text_decoder *d, int object)
{
    if (d->skip > 0 || d->nframes > PUSHED_DEPTH) {
        d->skip++;
        return 0;
    }
    need_room(d);
    frame *f = &d->f[d->nframes++];
    f->base = lua_gettop(d->L);
    f->count = 0;
    f->object = object;
    f->table = 0;
    return 0;
}

static int td_begin_object(void *ud)
{
    return td_begin(ud, 1);
}

static int td_begin_array(void *ud)
{
    return td_begin(ud, 0);
}

static int td_end(void *ud)
{
    text_decoder *d = ud;
    lua_State *L = d->L;
    if (d->skip > 0) {
        if (--d->skip == 0) {
            lua_pushnil(L);
            return put_value(d);
        }
        return 0;
    }
    frame *f = &d->f[--d->nframes];
    int extra = d->nframes == 0 && d->execution ? 1 : 0;
    if (!f->table) {
        lua_createtable(L, f->object ? 0 : f->count, f->object ? f->count + extra : 0);
        lua_insert(L, f->base + 1);
        if (f->object) {
            for (int j = 0; j < f->count; j++) {
                if (lua_isnil(L, f->base + 2 * j + 3))
                    continue;
                lua_pushvalue(L, f->base + 2 * j + 2);
                lua_pushvalue(L, f->base + 2 * j + 3);
                lua_rawset(L, f->base + 1);
            }
            lua_settop(L, f->base + 1);
        } else {
            for (int j = f->count; j > 0; j--)
                lua_rawseti(L, f->base + 1, j);
        }
    }
    if (extra) {
        lua_pushstring(L, d->execution);
        lua_setfield(L, -2, "execution");
    }
    if (!f->object) {
        lua_pushvalue(L, d->array_mt);
        lua_setmetatable(L, -2);
    }
    return put_value(d);
}

/* A string's value pushed, decoded in place (the text is the caller's): whole,
** or as cJSON keeps it, cut at a NUL (looked for only when the text has one). */
static void push_text_string(text_decoder *d, const char *raw, size_t len, int escaped)
{
    size_t n = len;
    if (escaped) {
        n = d->whole ? cr_json_unescape_whole(raw, len, (char *)raw, len)
                     : cr_json_unescape(raw, len, (char *)raw, len);
    } else if (d->has_nul && !d->whole) {
        const char *nul = memchr(raw, '\0', len);
        if (nul)
            n = (size_t)(nul - raw);
    }
    lua_pushlstring(d->L, raw, n);
}

static int td_key(void *ud, const char *raw, size_t len, int escaped)
{
    text_decoder *d = ud;
    if (d->skip > 0)
        return 0;
    need_room(d);
    push_text_string(d, raw, len, escaped);
    return 0;
}

/* A scalar: nil when deeper than push_json goes. */
static int td_scalar(text_decoder *d, int pushed)
{
    if (d->skip > 0) {
        if (pushed)
            lua_pop(d->L, 1);
        return 0;
    }
    if (d->nframes > PUSHED_DEPTH) {
        if (pushed)
            lua_pop(d->L, 1);
        lua_pushnil(d->L);
    } else if (!pushed) {
        lua_pushnil(d->L);
    }
    return put_value(d);
}

static int td_string(void *ud, const char *raw, size_t len, int escaped)
{
    text_decoder *d = ud;
    if (d->skip > 0)
        return 0;
    need_room(d);
    push_text_string(d, raw, len, escaped);
    return td_scalar(d, 1);
}

static int td_number(void *ud, double v)
{
    text_decoder *d = ud;
    if (d->skip > 0)
        return 0;
    need_room(d);
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        lua_pushinteger_ll(d->L, (long long)v);
    else
        lua_pushnumber(d->L, v);
    return td_scalar(d, 1);
}

static int td_boolean(void *ud, int v)
{
    text_decoder *d = ud;
    if (d->skip > 0)
        return 0;
    need_room(d);
    lua_pushboolean(d->L, v);
    return td_scalar(d, 1);
}

static int td_null(void *ud)
{
    text_decoder *d = ud;
    if (d->skip > 0)
        return 0;
    need_room(d);
    return td_scalar(d, 0);
}

static const cr_json_events text_events = {
    .begin_object = td_begin_object,
    .end_object = td_end,
    .begin_array = td_begin_array,
    .end_array = td_end,
    .key = td_key,
    .string = td_string,
    .number = td_number,
    .boolean = td_boolean,
    .null = td_null,
};

static int push_text(lua_State *L, char *text, size_t len, const char *execution, int whole)
{
    int top = lua_gettop(L);
    luaL_checkstack(L, 8, "JSON too large");
    luaL_getmetatable(L, CR_ARRAY_MT);
    text_decoder d;
    d.L = L;
    d.array_mt = top + 1;
    d.skip = 0;
    d.nframes = 0;
    d.execution = execution;
    d.has_nul = memchr(text, '\0', len) != NULL;
    d.whole = whole;
    d.bottom = top;
    if (cr_json_walk(text, len, &text_events, &d) != 0 || lua_gettop(L) != top + 2) {
        lua_settop(L, top);
        return -1;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
}

int cr_lua_push_json_text(lua_State *L, char *text, size_t len, const char *execution)
{
    return push_text(L, text, len, execution, 0);
}

int cr_lua_push_json_whole(lua_State *L, char *text, size_t len)
{
    return push_text(L, text, len, NULL, 1);
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

/*
** A string holding a NUL as JSON text, escaped as cJSON escapes (so that the
** printed document reads the same), the NUL as \u0000: cJSON's strings are C
** strings, so the item is raw text.
*/
static cJSON *raw_string(const char *s, size_t n)
{
    size_t cap = 2 + 6 * n + 1, k = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (esc) {
            memcpy(out + k, esc, 2);
            k += 2;
        } else if (c < 32) {
            k += (size_t)snprintf(out + k, cap - k, "\\u%04x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = '\0';
    cJSON *item = cJSON_CreateRaw(out);
    free(out);
    return item;
}

static cJSON *to_json(lua_State *L, int idx, char *path, size_t pathcap, int depth, int whole)
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
            cJSON *raw = whole ? raw_string(s, n) : NULL;
            if (raw)
                return raw;
            if (whole) {
                lua_pushfstring(L, "%s: out of memory", path);
                return NULL;
            }
            lua_pushfstring(L, "%s: string holds a NUL byte", path);
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
            cJSON *item = to_json(L, -1, path, pathcap, depth + 1, whole);
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
            size_t klen = 0;
            const char *key = lua_tolstring(L, -2, &klen);
            snprintf(path + plen, pathcap - plen, ".%s", key);
            if (strlen(key) != klen) { /* cJSON's keys are C strings: it would be cut */
                lua_pop(L, 2);
                cJSON_Delete(out);
                lua_pushfstring(L, "%s: key holds a NUL byte", path);
                path[plen] = '\0';
                return NULL;
            }
            cJSON *item = to_json(L, -1, path, pathcap, depth + 1, whole);
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
    return to_json(L, idx, path, sizeof path, 0, 0);
}

cJSON *cr_lua_to_json_whole(lua_State *L, int idx, const char *where)
{
    char path[512];
    snprintf(path, sizeof path, "%s", where);
    return to_json(L, idx, path, sizeof path, 0, 1);
}
