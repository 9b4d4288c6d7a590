/*
** lcloudrun.c — the Lua binding `cloudrun.core`: checks arguments, converts
** Lua values to core values, calls one cr_ function, pushes the result or
** nil, err. No HTTP, JSON field names or retry policy here.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudrun.h"
#include "compat.h"
#include "ljson.h"

#define CLIENT_MT "cloudrun.core.Client"
#define CREDS_MT "cloudrun.core.Credentials"
#define ERROR_MT "cloudrun.Error"

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
                             int retryable)
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
    luaL_getmetatable(L, ERROR_MT);
    lua_setmetatable(L, -2);
}

/* return nil, err — and release the core error */
static int push_failure(lua_State *L, cr_error *err)
{
    lua_pushnil(L);
    push_error_table(L, err->code, err->status, err->message, err->details, err->retryable);
    cr_error_clear(err);
    return 2;
}

/* core.error(code, message [, status [, details]]) -> err: for errors made in Lua. */
static int l_error(lua_State *L)
{
    const char *code = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    int status = (int)luaL_optinteger(L, 3, 0);
    push_error_table(L, code, status, msg, NULL, cr_code_is_retryable(code, status));
    if (!lua_isnoneornil(L, 4)) {
        lua_pushvalue(L, 4);
        lua_setfield(L, -2, "details");
    }
    return 1;
}

/* Pushes a decoded resource and frees it, or nil, err. */
static int push_result(lua_State *L, cJSON *json, cr_error *err)
{
    if (!json)
        return push_failure(L, err);
    cr_lua_push_json(L, json);
    cJSON_Delete(json);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Credentials                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    cr_credentials *creds;
} creds_box;

static creds_box *check_creds(lua_State *L, int idx)
{
    creds_box *b = luaL_checkudata(L, idx, CREDS_MT);
    if (!b->creds)
        luaL_argerror(L, idx, "credentials already released");
    return b;
}

/* The userdata exists before the C object, so __gc never meets half a thing. */
static creds_box *new_creds_box(lua_State *L)
{
    creds_box *b = lua_newuserdata(L, sizeof *b);
    b->creds = NULL;
    luaL_getmetatable(L, CREDS_MT);
    lua_setmetatable(L, -2);
    return b;
}

static int finish_creds(lua_State *L, creds_box *b, cr_credentials *creds, cr_error *err)
{
    if (!creds)
        return push_failure(L, err);
    b->creds = creds;
    return 1;
}

/* core.credentials_file(path) */
static int l_credentials_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_file(path, &err), &err);
}

/* core.credentials_json(text_or_table [, origin]) */
static int l_credentials_json(lua_State *L)
{
    const char *origin = luaL_optstring(L, 2, "credentials table");
    char *owned = NULL;
    size_t len = 0;
    const char *text;
    if (lua_type(L, 1) == LUA_TTABLE) {
        cJSON *j = cr_lua_to_json(L, 1, "credentials");
        if (!j)
            return luaL_argerror(L, 1, lua_tostring(L, -1));
        owned = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!owned)
            return luaL_error(L, "out of memory");
        text = owned;
        len = strlen(owned);
    } else {
        text = luaL_checklstring(L, 1, &len);
    }
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_json(text, len, origin, &err);
    cr_secret_free(owned);
    return finish_creds(L, b, c, &err);
}

/* core.credentials_metadata([host]) */
static int l_credentials_metadata(lua_State *L)
{
    const char *host = luaL_optstring(L, 1, NULL);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_metadata(host, &err), &err);
}

/* core.credentials_token(token [, expires_at]) */
static int l_credentials_token(lua_State *L)
{
    const char *token = luaL_checkstring(L, 1);
    lua_Integer exp = luaL_optinteger(L, 2, 0);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_access_token(token, (int64_t)exp, &err), &err);
}

/* core.credentials_default() — the ADC chain */
static int l_credentials_default(lua_State *L)
{
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_default(&err), &err);
}

/* creds:token() -> token, expires_at | nil, err */
static int l_creds_token(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    cr_error err = CR_ERROR_INIT;
    char *token = NULL;
    int64_t exp = 0;
    if (cr_credentials_token(b->creds, &token, &exp, &err) < 0)
        return push_failure(L, &err);
    lua_pushstring(L, token);
    cr_secret_free(token);
    if (exp > 0)
        lua_pushinteger_ll(L, exp);
    else
        lua_pushnil(L);
    return 2;
}

/* creds:info() -> {type=, account=, project=, origin=} — never a secret */
static int l_creds_info(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    lua_createtable(L, 0, 4);
    const char *fields[][2] = {{"type", cr_credentials_type(b->creds)},
                               {"account", cr_credentials_account(b->creds)},
                               {"project", cr_credentials_project(b->creds)},
                               {"origin", cr_credentials_origin(b->creds)}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i][1]) {
            lua_pushstring(L, fields[i][1]);
            lua_setfield(L, -2, fields[i][0]);
        }
    }
    return 1;
}

static int l_creds_tostring(lua_State *L)
{
    creds_box *b = luaL_checkudata(L, 1, CREDS_MT);
    if (!b->creds) {
        lua_pushliteral(L, "cloudrun.Credentials (released)");
        return 1;
    }
    const char *account = cr_credentials_account(b->creds);
    lua_pushfstring(L, "cloudrun.Credentials (%s%s%s)", cr_credentials_type(b->creds), account ? ", " : "",
                    account ? account : "");
    return 1;
}

/* __gc and __close: the same idempotent release. */
static int l_creds_release(lua_State *L)
{
    creds_box *b = luaL_checkudata(L, 1, CREDS_MT);
    if (b->creds) {
        cr_credentials_unref(b->creds);
        b->creds = NULL;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    cr_client *client;
} client_box;

static client_box *check_client(lua_State *L)
{
    client_box *b = luaL_checkudata(L, 1, CLIENT_MT);
    if (!b->client)
        luaL_argerror(L, 1, "client is closed");
    return b;
}

static const char *opt_string_field(lua_State *L, int t, const char *field, const char *fn)
{
    lua_getfield(L, t, field);
    int ty = lua_type(L, -1);
    lua_pop(L, 1);
    if (ty == LUA_TNIL)
        return NULL;
    if (ty != LUA_TSTRING)
        luaL_error(L, "%s: option '%s' must be a string (got %s)", fn, field, lua_typename(L, ty));
    lua_getfield(L, t, field);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the table */
    return s;
}

/*
** core.client{project=, region=, endpoint=, timeout=, credentials=<Credentials
** userdata>|false|nil}. Option names and types are checked by the Lua layer
** too, but a C caller of this module gets the same clear errors.
*/
static int l_client(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    cr_client_options o = {0};
    o.project = opt_string_field(L, 1, "project", "client");
    o.region = opt_string_field(L, 1, "region", "client");
    o.endpoint = opt_string_field(L, 1, "endpoint", "client");
    lua_getfield(L, 1, "timeout");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) <= 0)
            return luaL_error(L, "client: option 'timeout' must be a positive number of seconds");
        o.timeout = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "credentials");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        o.anonymous = 1;
    } else if (!lua_isnil(L, -1)) {
        creds_box *cb = luaL_testudata(L, -1, CREDS_MT);
        if (!cb || !cb->creds)
            return luaL_error(L, "client: option 'credentials' must be a cloudrun credentials object or false");
        o.credentials = cb->creds;
    }
    lua_pop(L, 1);

    client_box *b = lua_newuserdata(L, sizeof *b);
    b->client = NULL;
    luaL_getmetatable(L, CLIENT_MT);
    lua_setmetatable(L, -2);
    cr_error err = CR_ERROR_INIT;
    b->client = cr_client_new(&o, &err);
    if (!b->client)
        return push_failure(L, &err);
    return 1;
}

static int l_client_release(lua_State *L)
{
    client_box *b = luaL_checkudata(L, 1, CLIENT_MT);
    if (b->client) {
        cr_client_free(b->client);
        b->client = NULL;
    }
    return 0;
}

static int l_client_endpoint(lua_State *L)
{
    client_box *b = check_client(L);
    lua_pushstring(L, cr_client_endpoint(b->client));
    lua_pushboolean(L, cr_client_is_anonymous(b->client));
    return 2;
}

/* Reads an integer option: absent -> 0 / not set; otherwise a non-negative integer. */
static int32_t opt_count(lua_State *L, int t, const char *field, int32_t max)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!cr_lua_isinteger(L, -1) || lua_tonumber(L, -1) < 0 || lua_tonumber(L, -1) > max)
        luaL_error(L, "run_job: option '%s' must be a non-negative integer up to %d (got %s)", field, (int)max,
                   luaL_tolstring(L, -1, NULL));
    int32_t v = (int32_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    int ty = lua_type(L, -1);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
        luaL_error(L, "run_job: option '%s' must be a boolean (got %s)", field, lua_typename(L, ty));
    return v;
}

static const char *const run_job_options[] = {"args",     "env",           "clear_args", "container", "task_count",
                                              "timeout",  "validate_only", "etag",       NULL};

/* A string, or a number turned into its decimal text (env values are strings on the wire). */
static const char *env_value(lua_State *L, int idx, const char *name)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        lua_tostring(L, idx); /* converts in place; safe: not during lua_next on this slot */
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "run_job: option 'env': the value of %s must be a string or a number (got %s)", name,
                   luaL_typename(L, idx));
    return lua_tostring(L, idx);
}

static int cmp_env(const void *a, const void *b)
{
    return strcmp(((const cr_env_var *)a)->name, ((const cr_env_var *)b)->name);
}

/*
** Converts run_job's option table into cr_run_job_options. Strings stay owned
** by Lua: they are anchored in a scratch table at `anchor` for the call.
*/
static void read_run_job_options(lua_State *L, int t, int anchor, cr_run_job_options *o)
{
    memset(o, 0, sizeof *o);
    /* unknown options are a caller's mistake */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "run_job: option names must be strings");
        const char *k = lua_tostring(L, -1);
        int known = 0;
        for (int i = 0; run_job_options[i]; i++)
            known |= strcmp(k, run_job_options[i]) == 0;
        if (!known)
            luaL_error(L, "run_job: unknown option '%s'", k);
    }

    lua_getfield(L, t, "args");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L, "run_job: option 'args' must be a list of strings (got %s)", luaL_typename(L, -1));
        size_t n = (size_t)lua_rawlen(L, -1);
        const char **args = lua_newuserdata(L, (n ? n : 1) * sizeof *args);
        lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "run_job: option 'args': element %d must be a string (got %s)", (int)i + 1,
                           luaL_typename(L, -1));
            args[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        /* a list with holes or extra keys is a mistake too */
        size_t count = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            count++;
        }
        if (count != n)
            luaL_error(L, "run_job: option 'args' must be a list (keys 1..n) of strings");
        o->args = args;
        o->nargs = n;
        o->has_args = 1;
    }
    lua_pop(L, 1);

    lua_getfield(L, t, "env");
    if (!lua_isnil(L, -1)) {
        int e = lua_gettop(L);
        if (!lua_istable(L, e))
            luaL_error(L, "run_job: option 'env' must be a table (got %s)", luaL_typename(L, e));
        size_t count = 0;
        lua_pushnil(L);
        while (lua_next(L, e)) {
            lua_pop(L, 1);
            count++;
        }
        cr_env_var *vars = lua_newuserdata(L, (count ? count : 1) * sizeof *vars);
        lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
        size_t n = 0;
        size_t len = (size_t)lua_rawlen(L, e);
        if (len > 0 && len == count) {
            /* a list of {name=, value=} */
            for (size_t i = 1; i <= len; i++) {
                lua_rawgeti(L, e, (lua_Integer)i);
                if (!lua_istable(L, -1))
                    luaL_error(L, "run_job: option 'env': element %d must be a table {name=, value=}", (int)i);
                lua_getfield(L, -1, "name");
                if (lua_type(L, -1) != LUA_TSTRING || !*lua_tostring(L, -1))
                    luaL_error(L, "run_job: option 'env': element %d needs a string 'name'", (int)i);
                vars[n].name = lua_tostring(L, -1);
                lua_getfield(L, -2, "value");
                if (lua_isnil(L, -1)) {
                    vars[n].value = "";
                } else {
                    char what[32];
                    snprintf(what, sizeof what, "element %d", (int)i);
                    vars[n].value = env_value(L, lua_gettop(L), what);
                }
                /* a number converted to text lives only on the stack: anchor it */
                lua_pushvalue(L, -1);
                lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
                lua_pop(L, 3);
                n++;
            }
        } else if (count > 0) {
            /* a map NAME -> value */
            lua_pushnil(L);
            while (lua_next(L, e)) {
                if (lua_type(L, -2) != LUA_TSTRING || !*lua_tostring(L, -2))
                    luaL_error(L, "run_job: option 'env' must map names (strings) to values, or list {name=, value=}");
                vars[n].name = lua_tostring(L, -2);
                /* copy the value so a number can be converted without disturbing lua_next */
                lua_pushvalue(L, -1);
                vars[n].value = env_value(L, lua_gettop(L), vars[n].name);
                lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
                lua_pop(L, 1);
                n++;
            }
            qsort(vars, n, sizeof *vars, cmp_env);
        }
        o->env = vars;
        o->nenv = n;
    }
    lua_pop(L, 1);

    o->clear_args = opt_bool(L, t, "clear_args");
    o->validate_only = opt_bool(L, t, "validate_only");
    o->container = opt_string_field(L, t, "container", "run_job");
    o->etag = opt_string_field(L, t, "etag", "run_job");
    o->task_count = opt_count(L, t, "task_count", 10000);

    lua_getfield(L, t, "timeout");
    int ty = lua_type(L, -1);
    if (ty == LUA_TNUMBER) {
        lua_Number s = lua_tonumber(L, -1);
        if (!(s > 0) || s > 3153600000.0)
            luaL_error(L, "run_job: option 'timeout' must be a positive number of seconds (got %s)",
                       luaL_tolstring(L, -1, NULL));
        o->timeout_nanos = (int64_t)(s * 1e9 + 0.5);
    } else if (ty == LUA_TSTRING) {
        int64_t ns;
        if (cr_duration_parse(lua_tostring(L, -1), &ns) < 0 || ns <= 0)
            luaL_error(L, "run_job: option 'timeout' must be seconds or a duration like \"600s\" or \"10m\" (got \"%s\")",
                       lua_tostring(L, -1));
        o->timeout_nanos = ns;
    } else if (ty != LUA_TNIL) {
        luaL_error(L, "run_job: option 'timeout' must be a number of seconds or a duration string (got %s)",
                   lua_typename(L, ty));
    }
    lua_pop(L, 1);
}

static int l_client_run_job(lua_State *L)
{
    client_box *b = check_client(L);
    const char *job = luaL_checkstring(L, 2);
    cr_run_job_options o;
    memset(&o, 0, sizeof o);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_newtable(L);
        read_run_job_options(L, 3, lua_gettop(L), &o);
    }
    cr_error err = CR_ERROR_INIT;
    return push_result(L, cr_client_run_job(b->client, job, &o, &err), &err);
}

static int l_client_get_execution(lua_State *L)
{
    client_box *b = check_client(L);
    const char *name = luaL_checkstring(L, 2);
    cr_error err = CR_ERROR_INIT;
    return push_result(L, cr_client_get_execution(b->client, name, &err), &err);
}

static int l_client_get_operation(lua_State *L)
{
    client_box *b = check_client(L);
    const char *name = luaL_checkstring(L, 2);
    cr_error err = CR_ERROR_INIT;
    return push_result(L, cr_client_get_operation(b->client, name, &err), &err);
}

/* client:call(method, path [, query [, body]]) — any v2 method. */
static int l_client_call(lua_State *L)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", NULL};
    client_box *b = check_client(L);
    const char *method = methods[luaL_checkoption(L, 2, NULL, methods)];
    const char *path = luaL_checkstring(L, 3);
    const char *query = luaL_optstring(L, 4, NULL);
    cJSON *body = NULL;
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        body = cr_lua_to_json(L, 5, "body");
        if (!body)
            return luaL_argerror(L, 5, lua_tostring(L, -1));
    }
    cr_error err = CR_ERROR_INIT;
    cJSON *out = cr_client_call(b->client, method, path, query, body, &err);
    cJSON_Delete(body);
    return push_result(L, out, &err);
}

/* client:job_name(job) / client:execution_name(e) -> full name | nil, err */
static int l_client_job_name(lua_State *L)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_job_name(b->client, luaL_checkstring(L, 2), &err);
    if (!name)
        return push_failure(L, &err);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

static int l_client_execution_name(lua_State *L)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_execution_name(b->client, luaL_checkstring(L, 2), &err);
    if (!name)
        return push_failure(L, &err);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

static int l_client_parent(lua_State *L)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_parent_name(b->client, &err);
    if (!name)
        return push_failure(L, &err);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Small utilities the pure-Lua layer needs                                  */
/* ------------------------------------------------------------------------ */

/* core.sleep(seconds): blocks this thread (the Lua layer uses ngx.sleep inside nginx). */
static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    if (s <= 0)
        return 0;
    struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
}

/* core.monotonic() -> seconds from an arbitrary start, never going back */
static int l_monotonic(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
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
    cJSON *j = cr_lua_to_json(L, 1, "value");
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

/* core.json_decode(text) -> value | nil, message */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    size_t at = 0;
    cJSON *j = cr_json_parse(text, len, &at);
    if (!j) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at byte %d", (int)at + 1);
        return 2;
    }
    cr_lua_push_json(L, j);
    cJSON_Delete(j);
    return 1;
}

static const luaL_Reg client_methods[] = {
    {"run_job", l_client_run_job},
    {"get_execution", l_client_get_execution},
    {"get_operation", l_client_get_operation},
    {"call", l_client_call},
    {"job_name", l_client_job_name},
    {"execution_name", l_client_execution_name},
    {"parent", l_client_parent},
    {"endpoint", l_client_endpoint},
    {"close", l_client_release},
    {NULL, NULL},
};

static const luaL_Reg creds_methods[] = {
    {"token", l_creds_token},
    {"info", l_creds_info},
    {"release", l_creds_release},
    {NULL, NULL},
};

static const luaL_Reg module_functions[] = {
    {"client", l_client},
    {"credentials_file", l_credentials_file},
    {"credentials_json", l_credentials_json},
    {"credentials_metadata", l_credentials_metadata},
    {"credentials_token", l_credentials_token},
    {"credentials_default", l_credentials_default},
    {"error", l_error},
    {"sleep", l_sleep},
    {"monotonic", l_monotonic},
    {"duration", l_duration},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {NULL, NULL},
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release,
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

int luaopen_cloudrun_core(lua_State *L);

__attribute__((visibility("default"))) int luaopen_cloudrun_core(lua_State *L)
{
    cr_global_init();
    new_class(L, CLIENT_MT, client_methods, l_client_release, NULL);
    new_class(L, CREDS_MT, creds_methods, l_creds_release, l_creds_tostring);

    luaL_newmetatable(L, ERROR_MT);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "cloudrun.Error");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);

    luaL_newmetatable(L, CR_ARRAY_MT);
    lua_pop(L, 1);

    luaL_newlib(L, module_functions);
    luaL_getmetatable(L, CR_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");
    luaL_getmetatable(L, ERROR_MT);
    lua_setfield(L, -2, "error_mt");
    lua_pushliteral(L, CR_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
