/*
** largs.c — a method's Lua arguments read into the core's cr_args by the
** method table: the argument shape (cr_takes) says where the name, spec,
** seconds or body stand; each option is converted by its type and handed to
** cr_args_set_*, which checks it against the table (so the rules and their
** messages live once, in the core). Every mistake raises, naming the
** method, the argument or the option, at the caller's line.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbinding.h"

/* Whether a Lua chunk is one of cloudrun's own modules (errors point past them, at their caller). */
static int ours(const char *source)
{
    size_t n = strlen(source);
    return source[0] == '@' && n > 4 && strcmp(source + n - 4, ".lua") == 0 &&
           (strstr(source, "/cloudrun/") || strncmp(source, "@cloudrun/", 10) == 0 ||
            strncmp(source, "@lua/cloudrun/", 14) == 0);
}

void cr_lua_raise(lua_State *L, const char *fmt, ...)
{
    lua_Debug ar;
    int level = 1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (lua_getstack(L, level, &ar)) {
        lua_getinfo(L, "Sl", &ar);
        /* Lua 5.1 marks a frame a tail call replaced with what "tail": no line of its own, look further up */
        if (strcmp(ar.what, "C") != 0 && strcmp(ar.what, "tail") != 0 && !ours(ar.source)) {
            if (ar.currentline > 0) {
                lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
                luaL_addvalue(&b);
            }
            break;
        }
        level++;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_addstring(&b, msg);
    luaL_pushresult(&b);
    lua_error(L);
    abort(); /* lua_error does not return */
}

/*
** Why every string is checked for a NUL before the core sees it: the core
** takes C strings, so a string with a NUL in it would be sent cut there — a
** different name, argument or value than the caller gave. Refused whole.
*/
const char *cr_lua_whole(lua_State *L, int idx, const char *fn, const char *what)
{
    size_t n = 0;
    const char *s = lua_tolstring(L, idx, &n);
    if (s && memchr(s, '\0', n))
        cr_lua_raise(L, "%s: %s holds a NUL byte", fn, what);
    return s;
}

const char *cr_lua_checktext(lua_State *L, int arg)
{
    size_t n = 0;
    const char *s = luaL_checklstring(L, arg, &n);
    if (memchr(s, '\0', n))
        luaL_argerror(L, arg, "string holds a NUL byte");
    return s;
}

const char *cr_lua_opttext(lua_State *L, int arg, const char *def)
{
    return lua_isnoneornil(L, arg) ? def : cr_lua_checktext(L, arg);
}

/* Raises with the core's message for an option the core refused. */
static void refused(lua_State *L, const char *fn, cr_error *err)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s", err->message ? err->message : err->code);
    cr_error_clear(err);
    cr_lua_raise(L, "%s: %s", fn, msg);
}

/* Room for n items of `size`: `small` when there is one and they fit, else userdata anchored for the call. */
static void *list_room(lua_State *L, int anchor, void *small, size_t n, size_t size)
{
    if (small && n <= CR_SMALL_LIST)
        return small;
    void *p = lua_newuserdata(L, (n ? n : 1) * size);
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    return p;
}

/* The string at idx, a number there turned into text and anchored for the call (it lives nowhere else). */
static const char *env_text(lua_State *L, int idx, int anchor, const char *fn, const char *label, const char *name)
{
    int ty = lua_type(L, idx);
    if (ty == LUA_TSTRING) {
        char what[240];
        snprintf(what, sizeof what, "%s: the value of %s", label, name);
        return cr_lua_whole(L, idx, fn, what);
    }
    if (ty != LUA_TNUMBER)
        cr_lua_raise(L, "%s: %s: the value of %s must be a string or a number (got %s)", fn, label, name,
                     lua_typename(L, ty));
    lua_pushvalue(L, idx);
    const char *v = lua_tostring(L, -1); /* converts the copy */
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
    return v;
}

static int cmp_env(const void *a, const void *b)
{
    return strcmp(((const cr_env_var *)a)->name, ((const cr_env_var *)b)->name);
}

/* A list of strings at v, keys 1..n and nothing else, into room for the call (`small` when it fits);
** `label` names it in messages ("option 'args'"). */
static const char **collect_strings(lua_State *L, int v, lua_args *q, const char **small, const char *fn,
                                    const char *label, size_t *count_out)
{
    size_t n = (size_t)lua_rawlen(L, v);
    const char **items = list_room(L, q->anchor, small, n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, v, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            cr_lua_raise(L, "%s: %s: element %d must be a string (got %s)", fn, label, (int)i + 1,
                         luaL_typename(L, -1));
        char what[240];
        snprintf(what, sizeof what, "%s: element %d", label, (int)i + 1);
        items[i] = cr_lua_whole(L, -1, fn, what);
        lua_pop(L, 1);
    }
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, v)) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        cr_lua_raise(L, "%s: %s must be a list (keys 1..n) of strings", fn, label);
    *count_out = n;
    return items;
}

/* env at e: a map NAME -> value (sorted by name), or a list of {name=, value=}; `label` as above. */
static cr_env_var *collect_env(lua_State *L, int e, lua_args *q, cr_env_var *small, const char *fn, const char *label,
                               size_t *count_out)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, e)) {
        lua_pop(L, 1);
        count++;
    }
    cr_env_var *vars = list_room(L, q->anchor, small, count, sizeof *vars);
    size_t n = 0, len = (size_t)lua_rawlen(L, e);
    if (len > 0 && len == count) {
        for (size_t i = 1; i <= len; i++) {
            lua_rawgeti(L, e, (lua_Integer)i);
            if (!lua_istable(L, -1))
                cr_lua_raise(L, "%s: %s: element %d must be a table {name=, value=}", fn, label, (int)i);
            lua_getfield(L, -1, "name");
            if (lua_type(L, -1) != LUA_TSTRING || !*lua_tostring(L, -1))
                cr_lua_raise(L, "%s: %s: element %d needs a string 'name'", fn, label, (int)i);
            char where[240];
            snprintf(where, sizeof where, "%s: the name of element %d", label, (int)i);
            vars[n].name = cr_lua_whole(L, -1, fn, where);
            lua_getfield(L, -2, "value");
            if (lua_isnil(L, -1)) {
                vars[n].value = "";
            } else {
                char what[32];
                snprintf(what, sizeof what, "element %d", (int)i);
                vars[n].value = env_text(L, lua_gettop(L), q->anchor, fn, label, what);
            }
            lua_pop(L, 3);
            n++;
        }
    } else if (count > 0) {
        char what[240];
        snprintf(what, sizeof what, "%s: a name", label);
        lua_pushnil(L);
        while (lua_next(L, e)) {
            if (lua_type(L, -2) != LUA_TSTRING || !*lua_tostring(L, -2))
                cr_lua_raise(L, "%s: %s must map names (strings) to values, or list {name=, value=}", fn, label);
            vars[n].name = cr_lua_whole(L, -2, fn, what);
            vars[n].value = env_text(L, lua_gettop(L), q->anchor, fn, label, vars[n].name);
            lua_pop(L, 1);
            n++;
        }
        qsort(vars, n, sizeof *vars, cmp_env);
    }
    *count_out = n;
    return vars;
}

static void read_strings(lua_State *L, int v, const cr_option *o, cr_args *a, lua_args *q, const char *fn)
{
    char label[64];
    snprintf(label, sizeof label, "option '%s'", o->name);
    size_t n = 0;
    const char **items = collect_strings(L, v, q, q->small_args, fn, label, &n);
    cr_error err = CR_ERROR_INIT;
    if (cr_args_set_strings(a, o, items, n, &err) < 0)
        refused(L, fn, &err);
}

static void read_env(lua_State *L, int e, const cr_option *o, cr_args *a, lua_args *q, const char *fn)
{
    char label[64];
    snprintf(label, sizeof label, "option '%s'", o->name);
    size_t n = 0;
    cr_env_var *vars = collect_env(L, e, q, q->small_env, fn, label, &n);
    cr_error err = CR_ERROR_INIT;
    if (cr_args_set_env(a, o, vars, n, &err) < 0)
        refused(L, fn, &err);
}

static int cmp_container(const void *a, const void *b)
{
    return strcmp(((const cr_container_override *)a)->name, ((const cr_container_override *)b)->name);
}

/* One container's {args=, env=, clear_args=} at t into c (its name set); nothing else may be in it. */
static void read_container(lua_State *L, int t, cr_container_override *c, lua_args *q, const char *fn)
{
    if (!lua_istable(L, t))
        cr_lua_raise(L, "%s: option 'containers': container '%s' must be a table {args=, env=, clear_args=} (got %s)",
                     fn, c->name, luaL_typename(L, t));
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!k || (strcmp(k, "args") != 0 && strcmp(k, "env") != 0 && strcmp(k, "clear_args") != 0))
            cr_lua_raise(L,
                         "%s: option 'containers': container '%s': unknown field '%s' (it takes args, env, clear_args)",
                         fn, c->name, k ? k : luaL_typename(L, -1));
    }
    char label[200];
    lua_getfield(L, t, "args");
    if (!lua_isnil(L, -1)) {
        snprintf(label, sizeof label, "option 'containers.%s.args'", c->name);
        if (!lua_istable(L, -1))
            cr_lua_raise(L, "%s: %s must be a list of strings (got %s)", fn, label, luaL_typename(L, -1));
        c->args = collect_strings(L, lua_gettop(L), q, NULL, fn, label, &c->nargs);
        c->has_args = 1;
    }
    lua_getfield(L, t, "env");
    if (!lua_isnil(L, -1)) {
        snprintf(label, sizeof label, "option 'containers.%s.env'", c->name);
        if (!lua_istable(L, -1))
            cr_lua_raise(L,
                         "%s: %s must be a table of names to strings or numbers, or a list of {name=, value=} "
                         "(got %s)",
                         fn, label, luaL_typename(L, -1));
        c->env = collect_env(L, lua_gettop(L), q, NULL, fn, label, &c->nenv);
    }
    lua_getfield(L, t, "clear_args");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            cr_lua_raise(L, "%s: option 'containers.%s.clear_args' must be a boolean (got %s)", fn, c->name,
                         luaL_typename(L, -1));
        c->clear_args = lua_toboolean(L, -1);
    }
    lua_pop(L, 3);
}

/* containers: a map of container names to {args=, env=, clear_args=}, sent in name order. */
static void read_containers(lua_State *L, int t, const cr_option *o, cr_args *a, lua_args *q, const char *fn)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        count++;
    }
    cr_container_override *items = list_room(L, q->anchor, NULL, count, sizeof *items);
    memset(items, 0, (count ? count : 1) * sizeof *items);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_rawlen(L, -2) == 0)
            cr_lua_raise(L,
                         "%s: option 'containers' must map container names (strings) to {args=, env=, "
                         "clear_args=}",
                         fn);
        items[n].name = cr_lua_whole(L, -2, fn, "option 'containers': a container name");
        read_container(L, lua_gettop(L), &items[n], q, fn);
        lua_pop(L, 1);
        n++;
    }
    qsort(items, n, sizeof *items, cmp_container);
    cr_error err = CR_ERROR_INIT;
    if (cr_args_set_containers(a, o, items, n, &err) < 0)
        refused(L, fn, &err);
}

static void read_table(lua_State *L, int t, const cr_option *options, cr_args *a, lua_args *q, const char *fn,
                       const char *refuse, const char *refuse_hint);

/* A string option's value, whole. */
static const char *whole_option(lua_State *L, int v, const cr_option *o, const char *fn)
{
    char what[64];
    snprintf(what, sizeof what, "option '%s'", o->name);
    return cr_lua_whole(L, v, fn, what);
}

/* One option's value at v, converted by its type and set through the core's check. */
static void read_value(lua_State *L, int v, const cr_option *o, cr_args *a, lua_args *q, const char *fn)
{
    int ty = lua_type(L, v);
    cr_error err = CR_ERROR_INIT;
    int rc = 0;
    switch (o->type) {
    case CR_OPT_STRING:
        if (ty != LUA_TSTRING)
            break;
        rc = cr_args_set_text(a, o, whole_option(L, v, o, fn), &err);
        goto done;
    case CR_OPT_BOOL:
        if (ty != LUA_TBOOLEAN)
            break;
        rc = cr_args_set_bool(a, o, lua_toboolean(L, v), &err);
        goto done;
    case CR_OPT_COUNT:
    case CR_OPT_NUMBER:
    case CR_OPT_SECONDS:
        if (ty != LUA_TNUMBER)
            break;
        rc = cr_args_set_number(a, o, (double)lua_tonumber(L, v), &err);
        goto done;
    case CR_OPT_DURATION:
        if (ty == LUA_TNUMBER)
            rc = cr_args_set_number(a, o, (double)lua_tonumber(L, v), &err);
        else if (ty == LUA_TSTRING)
            rc = cr_args_set_text(a, o, whole_option(L, v, o, fn), &err);
        else
            break;
        goto done;
    case CR_OPT_STRINGS:
        if (ty != LUA_TTABLE)
            break;
        read_strings(L, v, o, a, q, fn);
        return;
    case CR_OPT_ENV:
        if (ty != LUA_TTABLE)
            break;
        read_env(L, v, o, a, q, fn);
        return;
    case CR_OPT_CONTAINERS:
        if (ty != LUA_TTABLE)
            break;
        read_containers(L, v, o, a, q, fn);
        return;
    case CR_OPT_RETRY: {
        if (ty != LUA_TTABLE)
            break;
        char where[80];
        snprintf(where, sizeof where, "%s: retry", fn);
        read_table(L, v, cr_retry_options(), a, q, where, NULL, NULL);
        cr_args_set_bool(a, o, 1, &err);
        return;
    }
    }
    cr_lua_raise(L, "%s: option '%s' must be %s (got %s)", fn, o->name, o->expects, lua_typename(L, ty));
done:
    if (rc < 0)
        refused(L, fn, &err);
}

/* Every key of the table at t is an option of `options`, read into a; `refuse` names one that must not be here. */
static void read_table(lua_State *L, int t, const cr_option *options, cr_args *a, lua_args *q, const char *fn,
                       const char *refuse, const char *refuse_hint)
{
    t = lua_absindex(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            cr_lua_raise(L, "%s: option names must be strings (got a %s)", fn, luaL_typename(L, -2));
        const char *k = cr_lua_whole(L, -2, fn, "an option name");
        const cr_option *o = refuse && strcmp(k, refuse) == 0 ? NULL : cr_option_find(options, k);
        if (!o)
            cr_lua_raise(L, "%s: unknown option '%s'%s", fn, k, refuse && strcmp(k, refuse) == 0 ? refuse_hint : "");
        read_value(L, lua_gettop(L), o, a, q, fn);
        lua_pop(L, 1);
    }
}

void cr_lua_read_options(lua_State *L, int t, const cr_option *options, lua_args *q, const char *fn, const char *refuse,
                         const char *refuse_hint)
{
    read_table(L, t, options, &q->a, q, fn, refuse, refuse_hint);
}

/* ---- a method's arguments ----------------------------------------------------------- */

/* The name at idx: a non-empty string (an operation also as the Operation table with its name). */
static const char *read_name(lua_State *L, int idx, int pos, const cr_method_def *d)
{
    if (d->kind && strcmp(d->kind, "operations") == 0 && lua_istable(L, idx)) {
        lua_getfield(L, idx, "name");
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_replace(L, idx); /* the name stands where the table stood */
        } else {
            lua_pop(L, 1);
        }
    }
    int ty = lua_type(L, idx);
    if (ty != LUA_TSTRING || lua_rawlen(L, idx) == 0)
        cr_lua_raise(L, "bad argument #%d to '%s' (%s name expected, got %s)", pos, d->name, cr_kind_noun(d->kind),
                     ty == LUA_TSTRING ? "an empty string" : lua_typename(L, ty));
    if (memchr(lua_tostring(L, idx), '\0', lua_rawlen(L, idx)))
        cr_lua_raise(L, "bad argument #%d to '%s' (the %s name holds a NUL byte)", pos, d->name, cr_kind_noun(d->kind));
    return lua_tostring(L, idx);
}

static int options_at(lua_State *L, int idx, int pos, const char *fn)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        cr_lua_raise(L, "bad argument #%d to '%s' (table of options expected, got %s)", pos, fn, luaL_typename(L, idx));
    return lua_absindex(L, idx);
}

void cr_lua_read_args(lua_State *L, const cr_method_def *d, int base, lua_args *q)
{
    static const int nargs[] = {0, 2, 1, 2, 3, 3, 5, 4, 3}; /* by cr_takes: the arguments after the client */
    cr_args_init(&q->a, d);
    q->owned = NULL;
    lua_settop(L, base + nargs[d->takes] - 1); /* absent arguments are nils below the anchor */
    lua_createtable(L, 2, 0);                  /* anchors converted strings and long lists while the call lasts */
    q->anchor = lua_gettop(L);
    cr_request *r = &q->a.r;
    const char *fn = d->name;
    int t = 0, json_at = 0;
    switch (d->takes) {
    case CR_TAKES_NAME:
        r->name = read_name(L, base, 1, d);
        t = options_at(L, base + 1, 2, fn);
        break;
    case CR_TAKES_OPTS:
        t = options_at(L, base, 1, fn);
        break;
    case CR_TAKES_OPT_NAME:
        if (!lua_isnoneornil(L, base))
            r->name = read_name(L, base, 1, d);
        t = options_at(L, base + 1, 2, fn);
        break;
    case CR_TAKES_NAME_SPEC:
        r->name = read_name(L, base, 1, d);
        if (!lua_istable(L, base + 1))
            cr_lua_raise(L, "bad argument #2 to '%s' (Job table expected, got %s)", fn, luaL_typename(L, base + 1));
        json_at = base + 1;
        t = options_at(L, base + 2, 3, fn);
        break;
    case CR_TAKES_WAIT:
        r->name = read_name(L, base, 1, d);
        if (!lua_isnoneornil(L, base + 1) &&
            (lua_type(L, base + 1) != LUA_TNUMBER || !(lua_tonumber(L, base + 1) >= 0)))
            cr_lua_raise(L, "bad argument #2 to '%s' (seconds expected)", fn);
        r->wait_timeout = lua_isnoneornil(L, base + 1) ? 0 : (double)lua_tonumber(L, base + 1);
        t = options_at(L, base + 2, 3, fn);
        break;
    case CR_TAKES_CALL: {
        static const char *const verbs[] = {"GET", "POST", "PATCH", "DELETE", NULL};
        const char *verb = lua_type(L, base) == LUA_TSTRING ? cr_lua_whole(L, base, fn, "the method") : NULL;
        int i = 0;
        while (verb && lua_type(L, base) == LUA_TSTRING && verbs[i] && strcmp(verbs[i], verb) != 0)
            i++;
        if (!verb || lua_type(L, base) != LUA_TSTRING || !verbs[i])
            cr_lua_raise(L, "bad argument #1 to '%s' (GET, POST, PATCH or DELETE expected)", fn);
        r->http_method = verbs[i];
        if (lua_type(L, base + 1) != LUA_TSTRING)
            cr_lua_raise(L, "bad argument #2 to '%s' (path expected, got %s)", fn, luaL_typename(L, base + 1));
        r->path = cr_lua_whole(L, base + 1, fn, "the path");
        if (!lua_isnoneornil(L, base + 2) && lua_type(L, base + 2) != LUA_TSTRING)
            cr_lua_raise(L, "bad argument #3 to '%s' (query string expected, got %s)", fn, luaL_typename(L, base + 2));
        r->query = lua_isnoneornil(L, base + 2) ? NULL : cr_lua_whole(L, base + 2, fn, "the query");
        if (!lua_isnoneornil(L, base + 3) && !lua_istable(L, base + 3))
            cr_lua_raise(L, "bad argument #4 to '%s' (body table expected, got %s)", fn, luaL_typename(L, base + 3));
        json_at = lua_istable(L, base + 3) ? base + 3 : 0;
        t = options_at(L, base + 4, 5, fn);
        break;
    }
    case CR_TAKES_NAME_POLICY: /* (name, policy [, update mask] [, opts]): a table third is the options */
        r->name = read_name(L, base, 1, d);
        if (!lua_istable(L, base + 1))
            cr_lua_raise(L, "bad argument #2 to '%s' (policy table expected, got %s)", fn, luaL_typename(L, base + 1));
        json_at = base + 1;
        if (lua_istable(L, base + 2) && lua_isnoneornil(L, base + 3)) {
            t = options_at(L, base + 2, 3, fn);
            break;
        }
        if (lua_type(L, base + 2) == LUA_TSTRING)
            q->a.iam.update_mask = cr_lua_whole(L, base + 2, fn, "the update mask");
        else if (!lua_isnoneornil(L, base + 2))
            cr_lua_raise(L, "bad argument #3 to '%s' (update mask string expected, got %s)", fn,
                         luaL_typename(L, base + 2));
        t = options_at(L, base + 3, 4, fn);
        break;
    case CR_TAKES_NAME_LIST:
        r->name = read_name(L, base, 1, d);
        if (!lua_istable(L, base + 1))
            cr_lua_raise(L, "bad argument #2 to '%s' (list of strings expected, got %s)", fn,
                         luaL_typename(L, base + 1));
        r->permissions = collect_strings(L, base + 1, q, NULL, fn, "argument #2", &r->npermissions);
        t = options_at(L, base + 2, 3, fn);
        break;
    }
    if (t)
        read_table(L, t, d->options, &q->a, q, fn, NULL, NULL);
    /* Last: a Lua table becomes JSON only once nothing else can raise. */
    if (json_at) {
        const char *what = d->takes == CR_TAKES_CALL ? "body" : d->takes == CR_TAKES_NAME_POLICY ? "policy" : "spec";
        q->owned = cr_lua_to_json(L, json_at, what);
        if (!q->owned)
            cr_lua_raise(L, "bad argument #%d to '%s' (%s)", json_at - base + 1, fn, lua_tostring(L, -1));
        if (d->takes == CR_TAKES_CALL)
            r->body = q->owned;
        else if (d->takes == CR_TAKES_NAME_POLICY)
            r->policy = q->owned;
        else
            r->spec = q->owned;
    }
}
