/*
** lclient.c — Client userdata: Lua option tables converted to the core's
** request options (run_job overrides, paging, write and call options), one
** cr_client_* call per method, the result pushed as plain tables.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbinding.h"

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

/* ------------------------------------------------------------------------ */
/* Reading option tables: every mistake raises, naming the option            */
/* ------------------------------------------------------------------------ */

/* Raises for a key of `t` that is not in `known` (a NULL-terminated list). */
static void check_known(lua_State *L, int t, const char *fn, const char *const *known)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option names must be strings (got a %s)", fn, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok)
            luaL_error(L, "%s: unknown option '%s'", fn, k);
    }
}

/* A string option or NULL; the string stays owned by the table. */
static const char *opt_string(lua_State *L, int t, const char *field, const char *fn)
{
    lua_getfield(L, t, field);
    int ty = lua_type(L, -1);
    const char *s = ty == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    if (ty != LUA_TNIL && ty != LUA_TSTRING)
        luaL_error(L, "%s: option '%s' must be a string (got %s)", fn, field, lua_typename(L, ty));
    return s;
}

static int opt_bool(lua_State *L, int t, const char *field, const char *fn)
{
    lua_getfield(L, t, field);
    int ty = lua_type(L, -1);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (ty != LUA_TNIL && ty != LUA_TBOOLEAN)
        luaL_error(L, "%s: option '%s' must be a boolean (got %s)", fn, field, lua_typename(L, ty));
    return v;
}

/* An integer option in [0, max]; absent -> 0. */
static lua_Integer opt_count(lua_State *L, int t, const char *field, lua_Integer max, const char *fn)
{
    lua_getfield(L, t, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!cr_lua_isinteger(L, -1) || lua_tonumber(L, -1) < 0 || lua_tonumber(L, -1) > (lua_Number)max)
        luaL_error(L, "%s: option '%s' must be a non-negative integer up to %d (got %s)", fn, field, (int)max,
                   luaL_tolstring(L, -1, NULL));
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* A positive number of seconds, or 0 when absent. */
static double opt_seconds(lua_State *L, int t, const char *field, const char *fn)
{
    lua_getfield(L, t, field);
    int ty = lua_type(L, -1);
    double v = ty == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    if (ty != LUA_TNIL && (ty != LUA_TNUMBER || !(v > 0)))
        luaL_error(L, "%s: option '%s' must be a positive number of seconds", fn, field);
    return v;
}

static const char *const retry_fields[] = {"attempts", "initial", "max", "multiplier", "deadline", NULL};

/* retry = {attempts=, initial=, max=, multiplier=, deadline=} */
static void read_retry(lua_State *L, int t, const char *fn, cr_retry *r)
{
    memset(r, 0, sizeof *r);
    char where[64];
    snprintf(where, sizeof where, "%s: retry", fn);
    check_known(L, t, where, retry_fields);
    lua_getfield(L, t, "attempts");
    if (!lua_isnil(L, -1) && (!cr_lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 100))
        luaL_error(L, "%s: option 'retry.attempts' must be an integer from 1 to 100", fn);
    r->attempts = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    r->initial = opt_seconds(L, t, "initial", where);
    r->max = opt_seconds(L, t, "max", where);
    r->deadline = opt_seconds(L, t, "deadline", where);
    lua_getfield(L, t, "multiplier");
    if (!lua_isnil(L, -1) && (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 1))
        luaL_error(L, "%s: option 'retry.multiplier' must be a number >= 1", fn);
    r->multiplier = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
}

/* The per-call part of an options table: retry= and timeout=. */
static const cr_call_options *read_call(lua_State *L, int t, const char *fn, cr_call_options *call, cr_retry *r)
{
    memset(call, 0, sizeof *call);
    if (t == 0)
        return NULL;
    lua_getfield(L, t, "retry");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: option 'retry' must be a table {attempts=, initial=, max=, multiplier=, deadline=}", fn);
        read_retry(L, lua_gettop(L), fn, r);
        call->retry = r;
    }
    lua_pop(L, 1);
    call->timeout = opt_seconds(L, t, "timeout", fn);
    return call;
}

/* The options table at `idx` (absent/nil -> 0), checked against `known`. */
static int options_at(lua_State *L, int idx, const char *fn, const char *const *known)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        luaL_error(L, "bad argument #%d to '%s' (table of options expected, got %s)", idx - 1, fn,
                   luaL_typename(L, idx));
    check_known(L, idx, fn, known);
    return lua_absindex(L, idx);
}

static void read_list(lua_State *L, int t, const char *fn, cr_list_options *o)
{
    memset(o, 0, sizeof *o);
    if (!t)
        return;
    o->page_size = (int32_t)opt_count(L, t, "page_size", 1000000, fn);
    o->page_token = opt_string(L, t, "page_token", fn);
    o->show_deleted = opt_bool(L, t, "show_deleted", fn);
    o->filter = opt_string(L, t, "filter", fn);
}

static void read_write(lua_State *L, int t, const char *fn, cr_write_options *o)
{
    memset(o, 0, sizeof *o);
    if (!t)
        return;
    o->validate_only = opt_bool(L, t, "validate_only", fn);
    o->etag = opt_string(L, t, "etag", fn);
    o->allow_missing = opt_bool(L, t, "allow_missing", fn);
}

/* ------------------------------------------------------------------------ */
/* The client                                                                */
/* ------------------------------------------------------------------------ */

static const char *const client_options[] = {"project",     "region", "endpoint", "timeout",
                                             "credentials", "retry",  "ca_file",  NULL};

/*
** core.client{project=, region=, endpoint=, timeout=, retry=, credentials=
** <Credentials userdata>|false|nil}
*/
static int l_client(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    check_known(L, 1, "client", client_options);
    cr_client_options o = {0};
    o.project = opt_string(L, 1, "project", "client");
    o.region = opt_string(L, 1, "region", "client");
    o.endpoint = opt_string(L, 1, "endpoint", "client");
    o.ca_file = opt_string(L, 1, "ca_file", "client");
    o.timeout = opt_seconds(L, 1, "timeout", "client");
    cr_retry retry;
    lua_getfield(L, 1, "retry");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "client: option 'retry' must be a table");
        read_retry(L, lua_gettop(L), "client", &retry);
        o.retry = &retry;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "credentials");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
        o.anonymous = 1;
    } else if (!lua_isnil(L, -1)) {
        o.credentials = cr_lua_to_credentials(L, -1);
        if (!o.credentials)
            return luaL_error(L, "client: option 'credentials' must be a cloudrun credentials object or false");
    }
    lua_pop(L, 1);

    client_box *b = lua_newuserdata(L, sizeof *b);
    b->client = NULL;
    luaL_getmetatable(L, CLIENT_MT);
    lua_setmetatable(L, -2);
    cr_error err = CR_ERROR_INIT;
    b->client = cr_client_new(&o, &err);
    if (!b->client)
        return cr_lua_push_failure(L, &err);
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

/* ------------------------------------------------------------------------ */
/* run_job's overrides                                                       */
/* ------------------------------------------------------------------------ */

static const char *const run_job_options[] = {"args",    "env",           "clear_args", "container", "task_count",
                                              "timeout", "validate_only", "etag",       "retry",     NULL};

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

/* Lists as long as a call usually has, kept in the caller's C frame rather than in userdata. */
#define SMALL_LIST 8

typedef struct run_job_space {
    const char *args[SMALL_LIST];
    cr_env_var env[SMALL_LIST];
} run_job_space;

/* Room for n items of `size`: `small` when there is one and they fit, else userdata anchored for the call. */
static void *list_room(lua_State *L, int anchor, void *small, size_t n, size_t size)
{
    if (small && n <= SMALL_LIST)
        return small;
    void *p = lua_newuserdata(L, (n ? n : 1) * size);
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    return p;
}

/* The string at idx, a number there converted to text and anchored for the call (it lives nowhere else). */
static const char *env_text(lua_State *L, int idx, int anchor, const char *name)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        return env_value(L, idx, name);
    lua_pushvalue(L, idx);
    const char *v = env_value(L, lua_gettop(L), name);
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    return v;
}

/*
** Converts run_job's option table into cr_run_job_options. Strings stay owned
** by Lua: held by the option table, or (numbers turned into text, long
** lists) anchored in a scratch table at `anchor` for the call. `space`, when
** not NULL, holds short lists.
*/
static void read_run_job_options(lua_State *L, int t, int anchor, run_job_space *space, cr_run_job_options *o)
{
    memset(o, 0, sizeof *o);
    lua_getfield(L, t, "args");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L, "run_job: option 'args' must be a list of strings (got %s)", luaL_typename(L, -1));
        size_t n = (size_t)lua_rawlen(L, -1);
        const char **args = list_room(L, anchor, space ? space->args : NULL, n, sizeof *args);
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
        cr_env_var *vars = list_room(L, anchor, space ? space->env : NULL, count, sizeof *vars);
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
                    vars[n].value = env_text(L, lua_gettop(L), anchor, what);
                }
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
                /* a number is converted in a copy: lua_next needs the value as it was */
                vars[n].value = env_text(L, lua_gettop(L), anchor, vars[n].name);
                lua_pop(L, 1);
                n++;
            }
            qsort(vars, n, sizeof *vars, cmp_env);
        }
        o->env = vars;
        o->nenv = n;
    }
    lua_pop(L, 1);

    o->clear_args = opt_bool(L, t, "clear_args", "run_job");
    o->validate_only = opt_bool(L, t, "validate_only", "run_job");
    o->container = opt_string(L, t, "container", "run_job");
    o->etag = opt_string(L, t, "etag", "run_job");
    o->task_count = (int32_t)opt_count(L, t, "task_count", 10000, "run_job");

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
            luaL_error(L,
                       "run_job: option 'timeout' must be seconds or a duration like \"600s\" or \"10m\" (got \"%s\")",
                       lua_tostring(L, -1));
        o->timeout_nanos = ns;
    } else if (ty != LUA_TNIL) {
        luaL_error(L, "run_job: option 'timeout' must be a number of seconds or a duration string (got %s)",
                   lua_typename(L, ty));
    }
    lua_pop(L, 1);
}

/*
** client:run_jobs(list, {in_flight=, retry=}) — each entry {job=, <run_job
** options>}, all of them on the multi driver. Returns a list in the same
** order, each an Operation or an err table, and the number that failed.
*/
static const char *const run_jobs_options[] = {"in_flight", "retry", NULL};
static const char *const run_jobs_entry[] = {"job",        "args",    "env",           "clear_args", "container",
                                             "task_count", "timeout", "validate_only", "etag",       NULL};

static int l_client_run_jobs(lua_State *L)
{
    client_box *b = check_client(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    int t = options_at(L, 3, "run_jobs", run_jobs_options);
    size_t in_flight = t ? (size_t)opt_count(L, t, "in_flight", 1000, "run_jobs") : 0;
    cr_call_options call;
    cr_retry retry;
    const cr_call_options *cp = read_call(L, t, "run_jobs", &call, &retry);
    size_t n = (size_t)lua_rawlen(L, 2);
    lua_newtable(L); /* anchors every string and array until the call is over */
    int anchor = lua_gettop(L);
    cr_run_job_request *reqs = lua_newuserdata(L, (n ? n : 1) * sizeof *reqs);
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    cr_run_job_options *opts = lua_newuserdata(L, (n ? n : 1) * sizeof *opts);
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        int e = lua_gettop(L);
        if (!lua_istable(L, e))
            return luaL_error(L, "run_jobs: entry %d must be a table {job=, args=, ...} (got %s)", (int)i + 1,
                              luaL_typename(L, e));
        char where[48];
        snprintf(where, sizeof where, "run_jobs: entry %d", (int)i + 1);
        check_known(L, e, where, run_jobs_entry);
        lua_getfield(L, e, "job");
        if (lua_type(L, -1) != LUA_TSTRING || !*lua_tostring(L, -1))
            return luaL_error(L, "run_jobs: entry %d needs a job name (job=)", (int)i + 1);
        reqs[i].job = lua_tostring(L, -1);
        lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
        read_run_job_options(L, e, anchor, NULL, &opts[i]);
        reqs[i].opts = &opts[i];
        lua_pop(L, 1);
    }
    cJSON **results = lua_newuserdata(L, (n ? n : 1) * sizeof *results);
    cr_error *errs = lua_newuserdata(L, (n ? n : 1) * sizeof *errs);
    cr_client_run_jobs(b->client, reqs, n, in_flight, cp, results, errs);
    /* from here on nothing raises before every result is pushed (or freed) */
    lua_createtable(L, (int)n, 0);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i]) {
            cr_lua_push_json(L, results[i]);
            cJSON_Delete(results[i]);
        } else {
            cr_lua_push_failure(L, &errs[i]);
            lua_remove(L, -2); /* the nil */
            failed++;
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, failed);
    return 2;
}

/* ------------------------------------------------------------------------ */
/* The methods: each one's arguments read into a cr_request                  */
/* ------------------------------------------------------------------------ */

static const char *const call_only[] = {"retry", "timeout", NULL};
static const char *const list_opts[] = {"page_size", "page_token", "show_deleted", "retry", "timeout", NULL};
static const char *const op_list_opts[] = {"page_size", "page_token", "filter", "retry", "timeout", NULL};
static const char *const write_opts[] = {"validate_only", "etag", "retry", "timeout", NULL};
static const char *const update_opts[] = {"validate_only", "allow_missing", "retry", "timeout", NULL};
static const char *const create_opts[] = {"validate_only", "retry", "timeout", NULL};
static const char *const call_opts[] = {"base", "read", "retry", "timeout", NULL};

/* How a method takes its arguments. */
typedef enum {
    TAKES_NAME,      /* (name [, opts]) */
    TAKES_OPTS,      /* ([opts]) */
    TAKES_OPT_NAME,  /* (name|nil [, opts]) */
    TAKES_NAME_SPEC, /* (name, spec [, opts]) */
    TAKES_RUN,       /* (job [, run_job opts]) */
    TAKES_WAIT,      /* (name, seconds [, opts]) */
    TAKES_CALL       /* (method, path [, query [, body [, opts]]]) */
} takes;

typedef struct method_def {
    const char *name;
    cr_method method;
    takes args;
    const char *const *known;
} method_def;

static const method_def method_defs[] = {
    {"run_job", CR_RUN_JOB, TAKES_RUN, run_job_options},
    {"get_job", CR_GET_JOB, TAKES_NAME, call_only},
    {"list_jobs", CR_LIST_JOBS, TAKES_OPTS, list_opts},
    {"create_job", CR_CREATE_JOB, TAKES_NAME_SPEC, create_opts},
    {"update_job", CR_UPDATE_JOB, TAKES_NAME_SPEC, update_opts},
    {"delete_job", CR_DELETE_JOB, TAKES_NAME, write_opts},
    {"get_execution", CR_GET_EXECUTION, TAKES_NAME, call_only},
    {"list_executions", CR_LIST_EXECUTIONS, TAKES_OPT_NAME, list_opts},
    {"cancel_execution", CR_CANCEL_EXECUTION, TAKES_NAME, write_opts},
    {"delete_execution", CR_DELETE_EXECUTION, TAKES_NAME, write_opts},
    {"get_task", CR_GET_TASK, TAKES_NAME, call_only},
    {"list_tasks", CR_LIST_TASKS, TAKES_NAME, list_opts},
    {"get_operation", CR_GET_OPERATION, TAKES_NAME, call_only},
    {"list_operations", CR_LIST_OPERATIONS, TAKES_OPTS, op_list_opts},
    {"wait_operation", CR_WAIT_OPERATION, TAKES_WAIT, call_only},
    {"call", CR_CALL, TAKES_CALL, call_opts},
    {NULL, 0, 0, NULL},
};

/* A method's arguments as the core takes them. Strings stay owned by Lua
** (on the stack, or anchored in a table pushed by read_request). */
typedef struct lrequest {
    cr_request r;
    cr_run_job_options run;
    run_job_space space; /* run's short lists */
    cr_list_options list;
    cr_write_options write;
    cr_call_options call;
    cr_retry retry;
    const cr_call_options *cp;
    cJSON *owned; /* a spec or body converted from Lua: the caller frees it */
} lrequest;

/*
** Reads the arguments of method d from stack index `base` on, raising for
** every mistake (naming the argument or option). For run_job's overrides it
** pushes a table that anchors their arrays while the call lasts.
*/
static void read_request(lua_State *L, const method_def *d, int base, lrequest *q)
{
    memset(q, 0, sizeof *q);
    q->r.method = d->method;
    const char *fn = d->name;
    int t = 0;
    switch (d->args) {
    case TAKES_NAME:
        q->r.name = luaL_checkstring(L, base);
        t = options_at(L, base + 1, fn, d->known);
        break;
    case TAKES_OPTS:
        t = options_at(L, base, fn, d->known);
        break;
    case TAKES_OPT_NAME:
        q->r.name = luaL_optstring(L, base, NULL);
        t = options_at(L, base + 1, fn, d->known);
        break;
    case TAKES_NAME_SPEC:
        q->r.name = luaL_checkstring(L, base);
        luaL_checktype(L, base + 1, LUA_TTABLE);
        t = options_at(L, base + 2, fn, d->known);
        break;
    case TAKES_RUN:
        q->r.name = luaL_checkstring(L, base);
        t = options_at(L, base + 1, fn, d->known);
        break;
    case TAKES_WAIT: {
        q->r.name = luaL_checkstring(L, base);
        lua_Number timeout = luaL_optnumber(L, base + 1, 0);
        luaL_argcheck(L, timeout >= 0, base + 1, "timeout must not be negative");
        q->r.wait_timeout = (double)timeout;
        t = options_at(L, base + 2, fn, d->known);
        break;
    }
    case TAKES_CALL: {
        static const char *const verbs[] = {"GET", "POST", "PATCH", "DELETE", NULL};
        q->r.http_method = verbs[luaL_checkoption(L, base, NULL, verbs)];
        q->r.path = luaL_checkstring(L, base + 1);
        q->r.query = luaL_optstring(L, base + 2, NULL);
        if (!lua_isnoneornil(L, base + 3))
            luaL_checktype(L, base + 3, LUA_TTABLE);
        t = options_at(L, base + 4, fn, d->known);
        if (t) {
            q->r.base = opt_string(L, t, "base", fn);
            q->r.read = opt_bool(L, t, "read", fn);
        }
        break;
    }
    }
    if (d->args == TAKES_RUN) {
        if (t) {
            lua_createtable(L, 2, 0);
            read_run_job_options(L, t, lua_gettop(L), &q->space, &q->run);
            /* run_job's `timeout` is the task timeout override: only retry= is per call here */
            lua_getfield(L, t, "retry");
            if (!lua_isnil(L, -1)) {
                if (!lua_istable(L, -1))
                    luaL_error(L, "run_job: option 'retry' must be a table");
                read_retry(L, lua_gettop(L), fn, &q->retry);
                q->call.retry = &q->retry;
                q->cp = &q->call;
            }
            lua_pop(L, 1);
        }
        q->r.run = &q->run;
    } else {
        q->cp = read_call(L, t, fn, &q->call, &q->retry);
        if (d->known == list_opts || d->known == op_list_opts) {
            read_list(L, t, fn, &q->list);
            q->r.list = &q->list;
        } else if (d->known == write_opts || d->known == update_opts || d->known == create_opts) {
            read_write(L, t, fn, &q->write);
            q->r.write = &q->write;
        }
    }
    /* Last: a Lua table becomes JSON only once nothing else can raise. */
    int json_at = d->args == TAKES_NAME_SPEC ? base + 1 : d->args == TAKES_CALL ? base + 3 : 0;
    if (json_at && lua_istable(L, json_at)) {
        q->owned = cr_lua_to_json(L, json_at, d->args == TAKES_CALL ? "body" : "spec");
        if (!q->owned)
            luaL_argerror(L, json_at, lua_tostring(L, -1));
        if (d->args == TAKES_CALL)
            q->r.body = q->owned;
        else
            q->r.spec = q->owned;
    }
}

/* An answer's text while it becomes tables: freed by its __gc should that raise. */
typedef struct answer_box {
    char *text;
    size_t len;
    char *execution;
} answer_box;

static void answer_clear(answer_box *a)
{
    cr_secret_free(a->text);
    free(a->execution);
    a->text = a->execution = NULL;
}

static int answer_release(lua_State *L)
{
    answer_clear(lua_touserdata(L, 1));
    return 0;
}

/*
** client:<method>(...) — the method's def is upvalue 1, the answer box's
** metatable upvalue 2. The answer comes as text and goes straight to tables
** (no cJSON tree made and freed on the way).
*/
static int l_method(lua_State *L)
{
    const method_def *d = lua_touserdata(L, lua_upvalueindex(1));
    client_box *b = check_client(L);
    lrequest q;
    read_request(L, d, 2, &q);
    answer_box *a = lua_newuserdata(L, sizeof *a);
    memset(a, 0, sizeof *a);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_setmetatable(L, -2);
    cr_error err = CR_ERROR_INIT;
    a->text = cr_client_perform_text(b->client, &q.r, q.cp, &a->len, &a->execution, &err);
    cJSON_Delete(q.owned);
    if (!a->text)
        return cr_lua_push_failure(L, &err);
    int rc = cr_lua_push_json_text(L, a->text, a->len, a->execution);
    answer_clear(a);
    if (rc < 0) {
        cr_error_set(&err, "INTERNAL", 0, "an answer that was checked could not be read");
        return cr_lua_push_failure(L, &err);
    }
    return 1;
}

/*
** client:start(method, ...) -> Machine | nil, err — the API call machine of
** any method, for a Lua driver to run (see lmachine.c). The machine keeps
** the client alive.
*/
static int l_client_start(lua_State *L)
{
    client_box *b = check_client(L);
    const char *name = luaL_checkstring(L, 2);
    const method_def *d = method_defs;
    while (d->name && strcmp(d->name, name) != 0)
        d++;
    if (!d->name)
        return luaL_argerror(L, 2, lua_pushfstring(L, "no method '%s'", name));
    lrequest q;
    read_request(L, d, 3, &q);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_client_start(b->client, &q.r, q.cp, &err);
    cJSON_Delete(q.owned);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_machine(L, m, 1);
    return 1;
}

typedef char *(*name_fn)(cr_client *, const char *, cr_error *);

static int do_name(lua_State *L, name_fn f)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = f(b->client, luaL_checkstring(L, 2), &err);
    if (!name)
        return cr_lua_push_failure(L, &err);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

static int l_job_name(lua_State *L)
{
    return do_name(L, cr_client_job_name);
}
static int l_execution_name(lua_State *L)
{
    return do_name(L, cr_client_execution_name);
}
static int l_task_name(lua_State *L)
{
    return do_name(L, cr_client_task_name);
}
static int l_operation_name(lua_State *L)
{
    return do_name(L, cr_client_operation_name);
}

static int l_client_parent(lua_State *L)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = cr_client_parent_name(b->client, &err);
    if (!name)
        return cr_lua_push_failure(L, &err);
    lua_pushstring(L, name);
    free(name);
    return 1;
}

/* client:discovery() -> Machine: finds the project and region the client
** lacks (its result: true, or nil, err saying where it looked) */
static int l_client_discovery(lua_State *L)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_client_discovery(b->client, &err);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_machine(L, m, 1);
    return 1;
}

static const luaL_Reg client_methods[] = {
    {"discovery", l_client_discovery},
    {"run_jobs", l_client_run_jobs},
    {"start", l_client_start},
    {"job_name", l_job_name},
    {"execution_name", l_execution_name},
    {"task_name", l_task_name},
    {"operation_name", l_operation_name},
    {"parent", l_client_parent},
    {"endpoint", l_client_endpoint},
    {"close", l_client_release},
    {NULL, NULL},
};

static const luaL_Reg client_functions[] = {
    {"client", l_client},
    {NULL, NULL},
};

void cr_lua_open_client(lua_State *L)
{
    cr_lua_new_class(L, CLIENT_MT, client_methods, l_client_release, NULL);
    /* every API method: one C function, its def and the answer box's metatable as upvalues */
    luaL_getmetatable(L, CLIENT_MT);
    lua_getfield(L, -1, "__index");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, answer_release);
    lua_setfield(L, -2, "__gc");
    for (const method_def *d = method_defs; d->name; d++) {
        lua_pushlightuserdata(L, (void *)d);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, l_method, 2);
        lua_setfield(L, -3, d->name);
    }
    lua_pop(L, 3);
    luaL_setfuncs(L, client_functions, 0);
}
