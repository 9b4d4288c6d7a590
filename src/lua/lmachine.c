/*
** lmachine.c — Machine userdata: a core step machine driven from Lua. Each
** step comes out as plain Lua values and each feed goes in as plain Lua
** values, so that a Lua driver (nginx cosockets) can run the same protocol
** the libcurl drivers run. What to do with a step is the driver's business.
**
**   kind, what = m:step()
**     "send",  {method=, url=, headers={{name, value}, ...}, body=, timeout=, idempotent=, quota=}
**              (quota: "run", "read" or "write", the Cloud Run quota it counts against; nil: none)
**     "wait",  seconds
**     "token", {key=, credentials=, fresh=, stale=, refused=, within=}
**     "done"
**   m:respond(status, headers, body)   headers: {{name, value}, ...} or {name = value}
**   m:fail(code, message [, sent [, status]])  a SEND that got no answer, a token that could not be had
**   m:token(token|nil [, expires_at])
**   m:waited()
**   m:server_wait() -> seconds: the pause a 429 just fed asked for (0: none; taken once)
**   m:result() -> resource | nil, err        m:token_result() -> token, expires_at | nil, err
*/
#include <stdlib.h>
#include <string.h>

#include "lbinding.h"

typedef struct {
    cr_machine *m;
    int text; /* a machine of cr_client_start_text: its result is read from the answer's text */
} machine_box;

/* Weak-keyed: machine userdata -> what it must keep alive (its client). */
static const char OWNERS_KEY[] = "cloudrun.core.machine_owners";

static machine_box *check_machine(lua_State *L)
{
    machine_box *b = luaL_checkudata(L, 1, MACHINE_MT);
    if (!b->m)
        luaL_argerror(L, 1, "machine is closed");
    return b;
}

static void push_machine(lua_State *L, cr_machine *m, int owner, int text)
{
    owner = owner ? lua_absindex(L, owner) : 0;
    machine_box *b = lua_newuserdata(L, sizeof *b);
    b->m = m;
    b->text = text;
    luaL_getmetatable(L, MACHINE_MT);
    lua_setmetatable(L, -2);
    if (owner) {
        lua_getfield(L, LUA_REGISTRYINDEX, OWNERS_KEY);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, owner);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
}

void cr_lua_push_machine(lua_State *L, cr_machine *m, int owner)
{
    push_machine(L, m, owner, 0);
}

void cr_lua_push_text_machine(lua_State *L, cr_machine *m, int owner)
{
    push_machine(L, m, owner, 1);
}

cr_machine *cr_lua_to_machine(lua_State *L, int idx)
{
    machine_box *b = luaL_testudata(L, idx, MACHINE_MT);
    return b ? b->m : NULL;
}

static void push_headers(lua_State *L, const cr_header *h)
{
    lua_newtable(L);
    int i = 1;
    for (; h; h = h->next, i++) {
        lua_createtable(L, 2, 0);
        lua_pushstring(L, h->name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, h->value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, i);
    }
}

/* m:server_wait() -> seconds the server just asked every call of its quota to wait (0: none) */
static int l_server_wait(lua_State *L)
{
    machine_box *b = check_machine(L);
    lua_pushnumber(L, (lua_Number)cr_machine_server_wait(b->m));
    return 1;
}

static int l_step(lua_State *L)
{
    machine_box *b = check_machine(L);
    cr_step s;
    cr_machine_step(b->m, &s);
    /* the core's header rule for the Lua drivers too: a request that cannot go on the wire is
    ** failed here, as the libcurl drivers fail it, and the machine says what comes next */
    for (int guard = 0; s.kind == CR_STEP_SEND && guard < 1000; guard++) {
        cr_error err = CR_ERROR_INIT;
        if (cr_http_request_check(s.request, &err) == 0)
            break;
        cr_machine_fail(b->m, &err);
        cr_machine_step(b->m, &s);
    }
    switch (s.kind) {
    case CR_STEP_SEND: {
        const cr_http_request *r = s.request;
        lua_pushliteral(L, "send");
        lua_createtable(L, 0, 6);
        lua_pushstring(L, r->method);
        lua_setfield(L, -2, "method");
        lua_pushstring(L, r->url);
        lua_setfield(L, -2, "url");
        push_headers(L, r->headers);
        lua_setfield(L, -2, "headers");
        if (r->body) {
            lua_pushlstring(L, r->body, r->body_len);
            lua_setfield(L, -2, "body");
        }
        lua_pushnumber(L, (lua_Number)r->timeout_ms / 1000.0);
        lua_setfield(L, -2, "timeout");
        lua_pushboolean(L, r->idempotent);
        lua_setfield(L, -2, "idempotent");
        const char *quota = cr_machine_quota(b->m);
        if (quota) {
            lua_pushstring(L, quota);
            lua_setfield(L, -2, "quota");
        }
        return 2;
    }
    case CR_STEP_WAIT:
        lua_pushliteral(L, "wait");
        lua_pushnumber(L, (lua_Number)s.seconds);
        return 2;
    case CR_STEP_TOKEN:
        lua_pushliteral(L, "token");
        lua_createtable(L, 0, 6);
        lua_pushstring(L, s.key);
        lua_setfield(L, -2, "key");
        cr_lua_push_credentials(L, s.credentials);
        lua_setfield(L, -2, "credentials");
        lua_pushboolean(L, s.fresh);
        lua_setfield(L, -2, "fresh");
        if (s.stale) {
            lua_pushstring(L, s.stale);
            lua_setfield(L, -2, "stale");
        }
        lua_pushboolean(L, s.refused);
        lua_setfield(L, -2, "refused");
        lua_pushnumber(L, (lua_Number)s.within);
        lua_setfield(L, -2, "within");
        return 2;
    case CR_STEP_DONE:
    default:
        lua_pushliteral(L, "done");
        return 1;
    }
}

/* Adds one header name/value pair at the top two slots to *list; pops them. */
static void add_header(lua_State *L, cr_header **list)
{
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
        cr_header_free(*list);
        luaL_error(L, "respond: headers must be {{name, value}, ...} or {name = value} with strings");
    }
    if (cr_header_add(list, lua_tostring(L, -2), lua_tostring(L, -1)) < 0) {
        cr_header_free(*list);
        luaL_error(L, "respond: out of memory");
    }
    lua_pop(L, 2);
}

/* m:respond(status, headers, body) */
static int l_respond(lua_State *L)
{
    machine_box *b = check_machine(L);
    lua_Integer status = luaL_checkinteger(L, 2);
    luaL_argcheck(L, status >= 100 && status <= 999, 2, "an HTTP status");
    size_t len = 0;
    const char *body = luaL_optlstring(L, 4, "", &len);
    cr_header *headers = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        size_t n = (size_t)lua_rawlen(L, 3);
        if (n > 0) {
            for (size_t i = 1; i <= n; i++) {
                lua_rawgeti(L, 3, (lua_Integer)i);
                if (!lua_istable(L, -1)) {
                    cr_header_free(headers);
                    return luaL_error(L, "respond: header %d must be a {name, value} pair", (int)i);
                }
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                add_header(L, &headers);
                lua_pop(L, 1);
            }
        } else {
            lua_pushnil(L);
            while (lua_next(L, 3)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                add_header(L, &headers);
            }
        }
    }
    cr_http_response resp = {(long)status, headers, malloc(len + 1), len};
    if (!resp.body) {
        cr_header_free(headers);
        return luaL_error(L, "respond: out of memory");
    }
    memcpy(resp.body, body, len);
    resp.body[len] = '\0';
    cr_machine_respond(b->m, &resp);
    return 0;
}

/* m:fail(code, message [, sent [, status]]) */
static int l_fail(lua_State *L)
{
    machine_box *b = check_machine(L);
    const char *code = luaL_checkstring(L, 2);
    const char *message = luaL_checkstring(L, 3);
    lua_Integer status = luaL_optinteger(L, 5, 0);
    cr_error err = CR_ERROR_INIT;
    cr_error_set(&err, code, status >= 100 && status <= 999 ? (int)status : 0, "%s", message);
    err.sent = lua_toboolean(L, 4);
    cr_machine_fail(b->m, &err);
    return 0;
}

/* m:token(token|nil [, expires_at]) */
static int l_token(lua_State *L)
{
    machine_box *b = check_machine(L);
    const char *token = cr_lua_opttext(L, 2, NULL);
    lua_Number exp = luaL_optnumber(L, 3, 0);
    cr_machine_give_token(b->m, token, (int64_t)exp);
    return 0;
}

static int l_waited(lua_State *L)
{
    machine_box *b = check_machine(L);
    cr_machine_waited(b->m);
    return 0;
}

static int l_result(lua_State *L)
{
    machine_box *b = check_machine(L);
    cr_error err = CR_ERROR_INIT;
    if (b->text) {
        /* the same reader as client:<method>'s: every driver's answers become the same tables */
        size_t len = 0;
        char *execution = NULL;
        char *text = cr_machine_take_answer(b->m, &len, &execution, &err);
        return cr_lua_push_answer(L, text, len, execution, &err);
    }
    return cr_lua_push_result(L, cr_machine_take_json(b->m, &err), &err);
}

static int l_token_result(lua_State *L)
{
    machine_box *b = check_machine(L);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    int rc = cr_machine_take_token(b->m, &token, &exp, &err);
    return cr_lua_push_token(L, rc, token, exp, &err);
}

/* m:credentials_result() -> Credentials | nil, err (the ADC machine's) */
static int l_credentials_result(lua_State *L)
{
    machine_box *b = check_machine(L);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_machine_take_credentials(b->m, &err);
    if (!c)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_credentials(L, c);
    cr_credentials_unref(c); /* the userdata holds its own reference */
    return 1;
}

/* __gc and __close: the same idempotent release. */
static int l_machine_release(lua_State *L)
{
    machine_box *b = luaL_checkudata(L, 1, MACHINE_MT);
    if (b->m) {
        cr_machine_free(b->m);
        b->m = NULL;
    }
    return 0;
}

static int l_machine_tostring(lua_State *L)
{
    machine_box *b = luaL_checkudata(L, 1, MACHINE_MT);
    lua_pushstring(L, b->m ? "cloudrun.Machine" : "cloudrun.Machine (closed)");
    return 1;
}

static const luaL_Reg machine_methods[] = {
    {"step", l_step},
    {"respond", l_respond},
    {"fail", l_fail},
    {"token", l_token},
    {"waited", l_waited},
    {"server_wait", l_server_wait},
    {"result", l_result},
    {"token_result", l_token_result},
    {"credentials_result", l_credentials_result},
    {"close", l_machine_release},
    {NULL, NULL},
};

void cr_lua_open_machine(lua_State *L)
{
    cr_lua_new_class(L, MACHINE_MT, machine_methods, l_machine_release, l_machine_tostring);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, OWNERS_KEY);
}
