/*
** lcloudrun.c — the Lua binding `cloudrun.core`: the module table, error
** values, and the small utilities the pure-Lua layer needs (sleep, clocks,
** JSON, durations). The objects live in lcredentials.c and lclient.c.
** Every binding function checks its arguments, converts Lua values to core
** values, calls one cr_ function and pushes the result or nil, err.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lbinding.h"

/* ------------------------------------------------------------------------ */
/* Errors: outside-world failures become nil, err                            */
/* ------------------------------------------------------------------------ */

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "status");
    const char *code = lua_tostring(L, -3);
    const char *msg = lua_tostring(L, -2);
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tointeger(L, -1) > 0)
        lua_pushfstring(L, "%s: %s (HTTP %d)", code ? code : "UNKNOWN", msg ? msg : "", (int)lua_tointeger(L, -1));
    else
        lua_pushfstring(L, "%s: %s", code ? code : "UNKNOWN", msg ? msg : "");
    return 1;
}

/* Pushes an error table {code, status, message, details, retryable} with the
** shared metatable. */
static void push_error_table(lua_State *L, const char *code, int status, const char *message, const cJSON *details,
                             int retryable, int sent)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, code && *code ? code : "UNKNOWN");
    lua_setfield(L, -2, "code");
    if (status > 0) {
        lua_pushinteger(L, status);
        lua_setfield(L, -2, "status");
    }
    lua_pushstring(L, message ? message : "");
    lua_setfield(L, -2, "message");
    if (details) {
        cr_lua_push_json(L, details);
        lua_setfield(L, -2, "details");
    }
    lua_pushboolean(L, retryable);
    lua_setfield(L, -2, "retryable");
    if (sent) { /* the request may have reached the server: a change may have taken effect */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "sent");
    }
    luaL_getmetatable(L, ERROR_MT);
    lua_setmetatable(L, -2);
}

/* return nil, err — and release the core error */
int cr_lua_push_failure(lua_State *L, cr_error *err)
{
    lua_pushnil(L);
    push_error_table(L, err->code, err->status, err->message, err->details, err->retryable, err->sent);
    cr_error_clear(err);
    return 2;
}

/* core.error(code, message [, status [, details]]) -> err: for errors made in Lua. */
static int l_error(lua_State *L)
{
    const char *code = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    int status = (int)luaL_optinteger(L, 3, 0);
    push_error_table(L, code, status, msg, NULL, cr_code_is_retryable(code, status), 0);
    if (!lua_isnoneornil(L, 4)) {
        lua_pushvalue(L, 4);
        lua_setfield(L, -2, "details");
    }
    return 1;
}

/* core.yaml_string_map(text, origin) -> {NAME = "value"} | nil, err (gcloud's --env-vars-file) */
static int l_yaml_string_map(lua_State *L)
{
    size_t len = 0;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *origin = luaL_optstring(L, 2, "YAML");
    cr_error err = CR_ERROR_INIT;
    return cr_lua_push_result(L, cr_yaml_string_map(text, len, origin, &err), &err);
}

/* core.yaml_file_string_map(path, what) -> {NAME = "value"} | nil, err: the
** file read by the core's one reader (a regular file of at most 1 MiB, never
** blocking), `what` ("--env-vars-file") naming it in every message. */
static int l_yaml_file_string_map(lua_State *L)
{
    const char *path = cr_lua_checktext(L, 1);
    const char *what = cr_lua_checktext(L, 2);
    cr_error err = CR_ERROR_INIT;
    return cr_lua_push_result(L, cr_yaml_file_string_map(path, what, &err), &err);
}

/* core.yaml_file_json(path, what) -> the YAML (or JSON) document as Lua values | nil, err: the file read
** as yaml_file_string_map reads one; lists come marked as lists, as every decoded answer's do */
static int l_yaml_file_json(lua_State *L)
{
    const char *path = cr_lua_checktext(L, 1);
    const char *what = cr_lua_checktext(L, 2);
    cr_error err = CR_ERROR_INIT;
    return cr_lua_push_result(L, cr_yaml_file_json(path, what, &err), &err);
}

/* core.code_name(number) -> the google.rpc code name (5 -> "NOT_FOUND"; "UNKNOWN" for others) */
static int l_code_name(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    lua_pushstring(L, cr_code_name(n >= 0 && n <= 64 ? (int)n : -1));
    return 1;
}

/* Pushes token, expires_at (nil when unknown) and frees the token; or nil, err when rc < 0. */
int cr_lua_push_token(lua_State *L, int rc, char *token, int64_t expires_at, cr_error *err)
{
    if (rc < 0)
        return cr_lua_push_failure(L, err);
    lua_pushstring(L, token);
    cr_secret_free(token);
    if (expires_at > 0)
        lua_pushinteger_ll(L, expires_at);
    else
        lua_pushnil(L);
    return 2;
}

/* Pushes a decoded resource and frees it, or nil, err. */
int cr_lua_push_result(lua_State *L, cJSON *json, cr_error *err)
{
    if (!json)
        return cr_lua_push_failure(L, err);
    cr_lua_push_json(L, json);
    cJSON_Delete(json);
    return 1;
}

void cr_lua_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release,
                      lua_CFunction tostr)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
#endif
    if (tostr) {
        lua_pushcfunction(L, tostr);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------------ */
/* Small utilities the pure-Lua layer needs                                  */
/* ------------------------------------------------------------------------ */

/* core.sleep(seconds): blocks this thread (the Lua layer uses ngx.sleep inside nginx). */
/* Set by SIGINT once core.catch_interrupt() installed the handler. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* core.catch_interrupt() — from now on Ctrl-C (SIGINT) does not kill the
** process but is noted: core.interrupted() says so, and core.sleep returns
** early. For the CLI's waits, which stop waiting and say how to go on. */
static int l_catch_interrupt(lua_State *L)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    lua_pushboolean(L, sigaction(SIGINT, &sa, NULL) == 0);
    return 1;
}

/* core.interrupted() -> whether Ctrl-C came since core.catch_interrupt() */
static int l_interrupted(lua_State *L)
{
    lua_pushboolean(L, interrupted);
    return 1;
}

/* core.sleep(seconds) -> false, or true when Ctrl-C cut it short (see catch_interrupt) */
static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    if (s > 0) {
        struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted) {
        }
    }
    lua_pushboolean(L, interrupted);
    return 1;
}

/* core.monotonic() -> seconds from an arbitrary start, never going back */
static int l_monotonic(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.time() -> Unix time in seconds, with its fraction (os.time() has none):
** what is compared with the API's timestamps */
static int l_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.isatty(fd) -> whether the descriptor is a terminal (the CLI asks
** before deleting only when someone can answer) */
static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= INT_MAX && isatty((int)fd));
    return 1;
}

/* core.duration(text) -> seconds | nil, message */
static int l_duration(lua_State *L)
{
    const char *text = luaL_checkstring(L, 1);
    int64_t ns;
    if (cr_duration_parse(text, &ns) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "\"%s\" is not a duration (examples: 600, \"600s\", \"10m\", \"1h30m\")", text);
        return 2;
    }
    lua_pushnumber(L, (lua_Number)ns / 1e9);
    return 1;
}

/* core.json_encode(value [, pretty]) -> text | error */
static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    int pretty = lua_toboolean(L, 2);
    cJSON *j = cr_lua_to_json_whole(L, 1, "value");
    if (!j)
        return luaL_argerror(L, 1, lua_tostring(L, -1));
    char *text = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return luaL_error(L, "out of memory");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* core.json_decode(text) -> value | nil, message: strings whole, a \u0000 in
** them kept (a cJSON tree would cut them there); read as cJSON reads them. */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char *copy = lua_newuserdata(L, len + 1); /* decoded in place; collected if a raise comes */
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (cr_lua_push_json_whole(L, copy, len) == 0) {
        lua_remove(L, -2);
        return 1;
    }
    size_t at = 0; /* only cJSON says where the text goes wrong */
    cJSON_Delete(cr_json_parse(text, len, &at));
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d", (int)at + 1);
    return 2;
}

/* Which Lua's headers this module was built against, kept readable in the
** .so itself: the rock's post-install check names it when a Lua cannot load
** the module (rockspec/lua-cloudrun-scm-1.rockspec). */
__attribute__((used)) static const char built_against[] = "lua-cloudrun built against " CR_LUA_BUILT_FOR;

/* The string at t.field (or t.a.b), or NULL. Pops what it pushed. */
static const char *string_at(lua_State *L, int t, const char *field, const char *sub)
{
    if (!lua_istable(L, t))
        return NULL;
    lua_getfield(L, t, field);
    if (sub) {
        int inner = lua_gettop(L);
        const char *s = string_at(L, inner, sub, NULL);
        lua_pop(L, 1);
        return s;
    }
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the string stays alive in the table */
    return s;
}

/* core.execution_name(target) -> the name of the Execution an Operation (run_job's
** or another's), an Execution or a name is about, or nil: the core's one rule. */
static int l_execution_name(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_settop(L, 1);
        return 1;
    }
    const char *name = cr_execution_name_pick(string_at(L, 1, "execution", NULL), string_at(L, 1, "metadata", "name"),
                                              string_at(L, 1, "response", "name"), string_at(L, 1, "name", NULL));
    if (!name)
        return 0;
    lua_pushstring(L, name);
    return 1;
}

static const luaL_Reg module_functions[] = {
    {"execution_name", l_execution_name},
    {"error", l_error},
    {"code_name", l_code_name},
    {"yaml_string_map", l_yaml_string_map},
    {"yaml_file_string_map", l_yaml_file_string_map},
    {"yaml_file_json", l_yaml_file_json},
    {"sleep", l_sleep},
    {"monotonic", l_monotonic},
    {"time", l_time},
    {"isatty", l_isatty},
    {"catch_interrupt", l_catch_interrupt},
    {"interrupted", l_interrupted},
    {"duration", l_duration},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {NULL, NULL},
};

int luaopen_cloudrun_core(lua_State *L);

__attribute__((visibility("default"))) int luaopen_cloudrun_core(lua_State *L)
{
    cr_global_init();
    luaL_newmetatable(L, ERROR_MT);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "cloudrun.Error");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);

    luaL_newmetatable(L, CR_ARRAY_MT);
    lua_pop(L, 1);

    luaL_newlib(L, module_functions);
    cr_lua_open_credentials(L);
    cr_lua_open_client(L);
    cr_lua_open_machine(L);
    luaL_getmetatable(L, CR_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");
    luaL_getmetatable(L, ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    lua_pushliteral(L, CR_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
