/*
** lclient.c — Client userdata: Lua option tables converted to the core's
** request options (run_job overrides, paging, write and call options), one
** cr_client_* call per method, the result pushed as plain tables; its pacer
** (lpacer.c) set by client:pace().
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbinding.h"

typedef struct {
    cr_client *client;
    cr_lua_pacer pacer; /* the functions client:pace() was given (lpacer.c) */
} client_box;

static client_box *check_client(lua_State *L)
{
    client_box *b = luaL_checkudata(L, 1, CLIENT_MT);
    if (!b->client)
        luaL_argerror(L, 1, "client is closed");
    b->pacer.L = L; /* whatever runs now runs on this thread (a call never yields) */
    return b;
}

/*
** client:pace(before_send, server_wait): before_send(quota) -> seconds to
** hold a send that counts against quota ("run", "read", "write"), asked
** before each; server_wait(quota, seconds) is told of a 429's pause. Either
** may be nil; both nil: no pacer.
*/
static int l_client_pace(lua_State *L)
{
    client_box *b = check_client(L);
    cr_lua_pacer_set(L, &b->pacer, b->client, 2, 3);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The client's own options                                                  */
/* ------------------------------------------------------------------------ */

static const char *const client_options[] = {"project",     "region", "endpoint", "timeout",
                                             "credentials", "retry",  "ca_file",  NULL};

static const char *client_string(lua_State *L, const char *field)
{
    lua_getfield(L, 1, field);
    int ty = lua_type(L, -1);
    char what[48];
    snprintf(what, sizeof what, "option '%s'", field);
    const char *s = ty == LUA_TSTRING ? cr_lua_whole(L, -1, "client", what) : NULL;
    lua_pop(L, 1);
    if (ty != LUA_TNIL && ty != LUA_TSTRING)
        cr_lua_raise(L, "client: option '%s' must be a string (got %s)", field, lua_typename(L, ty));
    return s;
}

/* ------------------------------------------------------------------------ */
/* The client                                                                */
/* ------------------------------------------------------------------------ */

/*
** core.client{project=, region=, endpoint=, timeout=, retry=, credentials=
** <Credentials userdata>|false|nil}
*/
static int l_client(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        int known = 0;
        for (int i = 0; client_options[i] && !known; i++)
            known = lua_type(L, -1) == LUA_TSTRING &&
                    strcmp(cr_lua_whole(L, -1, "client", "an option name"), client_options[i]) == 0;
        if (!known)
            cr_lua_raise(L, "client: unknown option '%s'", luaL_tolstring(L, -1, NULL));
    }
    cr_client_options o = {0};
    o.project = client_string(L, "project");
    o.region = client_string(L, "region");
    o.endpoint = client_string(L, "endpoint");
    o.ca_file = client_string(L, "ca_file");
    /* timeout= and retry= as a call takes them: the method table's rules */
    lua_args q;
    cr_args_init(&q.a, NULL);
    lua_newtable(L);
    q.anchor = lua_gettop(L);
    lua_createtable(L, 0, 2);
    lua_getfield(L, 1, "timeout");
    lua_setfield(L, -2, "timeout");
    lua_getfield(L, 1, "retry");
    lua_setfield(L, -2, "retry");
    cr_lua_read_options(L, -1, cr_method_find("get_job")->options, &q, "client", NULL, NULL);
    lua_pop(L, 2);
    o.timeout = q.a.call.timeout;
    o.retry = q.a.call.retry;
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
    cr_lua_pacer_init(&b->pacer);
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
    cr_lua_pacer_release(L, &b->pacer);
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
/* The methods: each one's arguments read by the method table                */
/* ------------------------------------------------------------------------ */

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

/* Pushes an answer's tables from its text (taken), or nil, err. */
int cr_lua_push_answer(lua_State *L, char *text, size_t len, char *execution, cr_error *err)
{
    if (!text) {
        free(execution);
        return cr_lua_push_failure(L, err);
    }
    answer_box *a = lua_newuserdata(L, sizeof *a);
    a->text = text;
    a->len = len;
    a->execution = execution;
    lua_pushlightuserdata(L, (void *)answer_release);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    int rc = cr_lua_push_json_text(L, a->text, a->len, a->execution);
    answer_clear(a);
    if (rc < 0) {
        lua_pop(L, 1);
        cr_error_set(err, "INTERNAL", 0, "an answer that was checked could not be read");
        return cr_lua_push_failure(L, err);
    }
    lua_remove(L, -2); /* the box */
    return 1;
}

/*
** client:<method>(...) — the method's table entry is upvalue 1. The answer
** comes as text and goes straight to tables (no cJSON tree made and freed).
*/
static int l_method(lua_State *L)
{
    const cr_method_def *d = lua_touserdata(L, lua_upvalueindex(1));
    client_box *b = check_client(L);
    lua_args q;
    cr_lua_read_args(L, d, 2, &q);
    cr_error err = CR_ERROR_INIT;
    size_t len = 0;
    char *execution = NULL;
    char *text = cr_client_perform_text(b->client, &q.a.r, q.a.call.retry || q.a.call.timeout > 0 ? &q.a.call : NULL,
                                        &len, &execution, &err);
    cJSON_Delete(q.owned);
    int n = cr_lua_push_answer(L, text, len, execution, &err);
    cr_lua_pacer_check(L, &b->pacer);
    return n;
}

/* The method named by the string at idx, or a raise. */
static const cr_method_def *method_at(lua_State *L, int idx)
{
    const char *name = cr_lua_checktext(L, idx);
    const cr_method_def *d = cr_method_find(name);
    if (!d)
        luaL_argerror(L, idx, lua_pushfstring(L, "no method '%s'", name));
    return d;
}

/*
** client:start(method, ...) -> Machine | nil, err — the API call machine of
** any method, for a Lua driver to run (see lmachine.c): its result is read
** from the answer's text, as client:<method>'s is. The machine keeps the
** client alive.
*/
static int l_client_start(lua_State *L)
{
    client_box *b = check_client(L);
    const cr_method_def *d = method_at(L, 2);
    lua_args q;
    cr_lua_read_args(L, d, 3, &q);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m =
        cr_client_start_text(b->client, &q.a.r, q.a.call.retry || q.a.call.timeout > 0 ? &q.a.call : NULL, &err);
    cJSON_Delete(q.owned);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_text_machine(L, m, 1);
    return 1;
}

/*
** run_jobs' list, every entry read and its machine made before any is run:
** a malformed entry raises and nothing is sent, whichever driver then runs
** them. Pushes a list of Machines (or err tables, for a request wrong in
** itself, such as a malformed name) and returns in_flight.
*/
static size_t start_jobs(lua_State *L, client_box *b)
{
    if (!lua_istable(L, 2))
        cr_lua_raise(L, "bad argument #1 to 'run_jobs' (list of {job=, ...} expected, got %s)", luaL_typename(L, 2));
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
        cr_lua_raise(L, "bad argument #2 to 'run_jobs' (table of options expected, got %s)", luaL_typename(L, 3));
    const cr_method_def *d = cr_method_of(CR_RUN_JOB);
    size_t n = (size_t)lua_rawlen(L, 2);
    lua_args *all = lua_newuserdata(L, (n + 1) * sizeof *all); /* [0]: run_jobs' own options */
    int holder = lua_gettop(L);
    lua_newtable(L);
    int anchor = lua_gettop(L);
    /* run_jobs' own: in_flight= and retry= (for every entry) */
    lua_Integer in_flight = 0;
    cr_args_init(&all[0].a, d);
    all[0].anchor = anchor;
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            const char *k = lua_type(L, -1) == LUA_TSTRING ? cr_lua_whole(L, -1, "run_jobs", "an option name") : "";
            if (strcmp(k, "in_flight") != 0 && strcmp(k, "retry") != 0)
                cr_lua_raise(L, "run_jobs: unknown option '%s'", luaL_tolstring(L, -1, NULL));
        }
        lua_getfield(L, 3, "in_flight");
        if (!lua_isnil(L, -1) && (!cr_lua_isinteger(L, -1) || lua_tonumber(L, -1) < 0 || lua_tonumber(L, -1) > 1000))
            cr_lua_raise(L, "run_jobs: option 'in_flight' must be a non-negative integer up to 1000 (got %s)",
                         luaL_tolstring(L, -1, NULL));
        in_flight = lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_getfield(L, 3, "retry");
        lua_setfield(L, -2, "retry");
        cr_lua_read_options(L, -1, d->options, &all[0], "run_jobs", NULL, NULL);
        lua_pop(L, 1);
    }
    const cr_call_options *call = all[0].a.call.retry ? &all[0].a.call : NULL;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i);
        int e = lua_gettop(L);
        if (!lua_istable(L, e))
            cr_lua_raise(L, "run_jobs: entry %d must be a table {job=, args=, ...} (got %s)", (int)i,
                         luaL_typename(L, e));
        lua_getfield(L, e, "job");
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            cr_lua_raise(L, "run_jobs: entry %d needs a job name (job=)", (int)i);
        char where[48];
        snprintf(where, sizeof where, "run_jobs: entry %d", (int)i);
        cr_lua_whole(L, -1, where, "the job name");
        lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
        /* the entry without its job= is run_job's options */
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, e)) {
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "job") == 0) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
        cr_args_init(&all[i].a, d);
        all[i].anchor = anchor;
        cr_lua_read_options(L, -1, d->options, &all[i], where, "retry", " (give it to run_jobs)");
        lua_getfield(L, e, "job");
        all[i].a.r.name = lua_tostring(L, -1);
        lua_pop(L, 3);
    }
    /* every entry is well formed: now the machines */
    lua_createtable(L, (int)n, 0);
    for (size_t i = 1; i <= n; i++) {
        cr_error err = CR_ERROR_INIT;
        cr_machine *m = cr_client_start_text(b->client, &all[i].a.r, call, &err);
        if (m) {
            cr_lua_push_text_machine(L, m, 1);
        } else {
            cr_lua_push_failure(L, &err);
            lua_remove(L, -2); /* the nil */
        }
        lua_rawseti(L, -2, (lua_Integer)i);
    }
    /* the machines copied what they need: the entries' arguments may go */
    lua_replace(L, holder);
    lua_settop(L, holder);
    return (size_t)in_flight;
}

/* client:start_jobs(list, {in_flight=, retry=}) -> machines, in_flight: for a Lua driver (nginx) */
static int l_client_start_jobs(lua_State *L)
{
    client_box *b = check_client(L);
    size_t in_flight = start_jobs(L, b);
    lua_pushinteger(L, (lua_Integer)(in_flight ? in_flight : 16));
    return 2;
}

/*
** client:run_jobs(list, {in_flight=, retry=} [, before_send]) — each entry
** {job=, <run_job options>}, all of them on the multi driver. Returns a list
** in the same order, each an Operation or an err table, and the number that
** failed. before_send: the pacer's first function for this run instead of the
** client's (run_jobs' own per_minute, composed in Lua with the client's).
*/
static int l_client_run_jobs(lua_State *L)
{
    client_box *b = check_client(L);
    lua_settop(L, 4);
    if (!lua_isnil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    size_t in_flight = start_jobs(L, b);
    int list = lua_gettop(L);
    size_t n = (size_t)lua_rawlen(L, list);
    cr_machine **ms = lua_newuserdata(L, (n ? n : 1) * sizeof *ms);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, list, (lua_Integer)i + 1);
        ms[i] = cr_lua_to_machine(L, -1);
        lua_pop(L, 1);
    }
    /* nothing from here to the run's end can raise: the client's own function comes back after it */
    int own = cr_lua_pacer_swap_before(L, &b->pacer, b->client, 4);
    cr_client_run_machines(b->client, ms, n, in_flight);
    cr_lua_pacer_restore_before(L, &b->pacer, b->client, own);
    cr_lua_pacer_check(L, &b->pacer);
    lua_createtable(L, (int)n, 0);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (ms[i]) {
            cr_error err = CR_ERROR_INIT;
            size_t len = 0;
            char *execution = NULL;
            char *text = cr_machine_take_answer(ms[i], &len, &execution, &err);
            cr_lua_push_answer(L, text, len, execution, &err);
            if (!text) {
                lua_remove(L, -2); /* the nil */
                failed++;
            }
        } else {
            lua_rawgeti(L, list, (lua_Integer)i + 1); /* the err made when it could not start */
            failed++;
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, failed);
    return 2;
}

typedef char *(*name_fn)(cr_client *, const char *, cr_error *);

static int do_name(lua_State *L, name_fn f)
{
    client_box *b = check_client(L);
    cr_error err = CR_ERROR_INIT;
    char *name = f(b->client, cr_lua_checktext(L, 2), &err);
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
    {"pace", l_client_pace},
    {"start_jobs", l_client_start_jobs},
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

/* core.methods: the method table as Lua sees it, {name=, takes=, kind=, read=} in its order */
static void push_method_table(lua_State *L)
{
    static const char *const takes[] = {"",     "name", "opts",        "opt_name", "name_spec",
                                        "wait", "call", "name_policy", "name_list"};
    lua_newtable(L);
    int i = 1;
    for (const cr_method_def *d = cr_methods(); d->name; d++, i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, d->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, takes[d->takes]);
        lua_setfield(L, -2, "takes");
        if (d->kind) {
            lua_pushstring(L, d->kind);
            lua_setfield(L, -2, "kind");
        }
        lua_pushboolean(L, d->read);
        lua_setfield(L, -2, "read");
        lua_rawseti(L, -2, i);
    }
}

void cr_lua_open_client(lua_State *L)
{
    cr_lua_new_class(L, CLIENT_MT, client_methods, l_client_release, NULL);
    /* the answer box's metatable, found by a key only this file has */
    lua_pushlightuserdata(L, (void *)answer_release);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, answer_release);
    lua_setfield(L, -2, "__gc");
    lua_rawset(L, LUA_REGISTRYINDEX);
    /* every API method of the table: one C function with its entry as upvalue */
    luaL_getmetatable(L, CLIENT_MT);
    lua_getfield(L, -1, "__index");
    for (const cr_method_def *d = cr_methods(); d->name; d++) {
        lua_pushlightuserdata(L, (void *)d);
        lua_pushcclosure(L, l_method, 1);
        lua_setfield(L, -2, d->name);
    }
    lua_pop(L, 2);
    luaL_setfuncs(L, client_functions, 0);
    push_method_table(L);
    lua_setfield(L, -2, "methods");
}
