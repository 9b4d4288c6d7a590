/*
** lbinding.h — what the files of the binding share: metatable names, how
** results and failures are pushed, and each object's registration.
*/
#ifndef CR_LBINDING_H
#define CR_LBINDING_H

#include "cloudrun.h"
#include "compat.h"
#include "ljson.h"

#define CLIENT_MT "cloudrun.core.Client"
#define CREDS_MT "cloudrun.core.Credentials"
#define MACHINE_MT "cloudrun.core.Machine"
#define ERROR_MT "cloudrun.Error"

/* Lists as long as a call usually has, kept in the caller's C frame rather than in userdata. */
#define CR_SMALL_LIST 8

/* A method's arguments as the core takes them (largs.c). Strings stay owned
** by Lua: on the stack, or anchored in the table at `anchor` while the call lasts. */
typedef struct lua_args {
    cr_args a;
    const char *small_args[CR_SMALL_LIST];
    cr_env_var small_env[CR_SMALL_LIST];
    int anchor;   /* stack index of the anchor table */
    cJSON *owned; /* a spec or body converted from Lua: the caller frees it */
} lua_args;

/* Reads method d's arguments from stack index `base` on into q, raising for
** every mistake (naming the method, argument or option). Pushes the anchor table. */
void cr_lua_read_args(lua_State *L, const cr_method_def *d, int base, lua_args *q);

/* Reads the options table at t against `options` into q->a (q->anchor must
** be set); `refuse` (or NULL) names an option that is not taken here, and
** refuse_hint is added to its message. fn prefixes messages. */
void cr_lua_read_options(lua_State *L, int t, const cr_option *options, lua_args *q, const char *fn, const char *refuse,
                         const char *refuse_hint);

/* Raises "file:line: <message>" at the first frame outside cloudrun's own modules. */
void cr_lua_raise(lua_State *L, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;

/* The string at idx (a string, or a number Lua converts), raising "<fn>: <what>
** holds a NUL byte" when it has one: the core takes C strings, and one cut at a
** NUL would send something else than was given. */
const char *cr_lua_whole(lua_State *L, int idx, const char *fn, const char *what);

/* luaL_checkstring / luaL_optstring that refuse a string holding a NUL byte (an argument error). */
const char *cr_lua_checktext(lua_State *L, int arg);
const char *cr_lua_opttext(lua_State *L, int arg, const char *def);

/* return nil, err — releasing the core error */
int cr_lua_push_failure(lua_State *L, cr_error *err);

/* Pushes token, expires_at (nil when unknown) and frees the token; or nil, err when rc < 0. */
int cr_lua_push_token(lua_State *L, int rc, char *token, int64_t expires_at, cr_error *err);

/* Pushes an answer's tables from its text (text and execution are taken and
** freed), or nil, err when text is NULL: what every driver's result goes through. */
int cr_lua_push_answer(lua_State *L, char *text, size_t len, char *execution, cr_error *err);

/* Pushes a decoded resource and frees it, or nil, err. */
int cr_lua_push_result(lua_State *L, cJSON *json, cr_error *err);

/* A metatable with methods as __index and one idempotent release as __gc and __close. */
void cr_lua_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release,
                      lua_CFunction tostr);

/* The credentials behind a Credentials userdata at idx, or NULL if it is not one. */
cr_credentials *cr_lua_to_credentials(lua_State *L, int idx);

/* A new Credentials userdata holding a new reference to creds. */
void cr_lua_push_credentials(lua_State *L, cr_credentials *creds);

/* A new Machine userdata owning m; the value at index `owner` (0: none) is
** kept alive as long as the machine is. */
void cr_lua_push_machine(lua_State *L, cr_machine *m, int owner);

/* The same for a machine of cr_client_start_text, whose result is read from the answer's text. */
void cr_lua_push_text_machine(lua_State *L, cr_machine *m, int owner);

/* The machine of a Machine userdata at idx, or NULL if it is not one (or is closed). */
cr_machine *cr_lua_to_machine(lua_State *L, int idx);

/* Register each object's metatable and put its constructors into the module table at the top. */
/*
** A client's pacer (lpacer.c): the Lua functions the core asks before each
** send (cr_pacer), as registry references (LUA_NOREF: none). L is the thread
** of the call under way, set by every method before it calls the core.
*/
typedef struct cr_lua_pacer {
    lua_State *L;
    int before_ref, wait_ref;
    int failure_ref; /* what one of them raised during the call, or LUA_NOREF */
} cr_lua_pacer;

void cr_lua_pacer_init(cr_lua_pacer *p);
/* Sets the functions at before_idx and wait_idx (each a function or nil; else a raise) as client c's pacer. */
void cr_lua_pacer_set(lua_State *L, cr_lua_pacer *p, cr_client *c, int before_idx, int wait_idx);
/* For one run: the function at idx (nil: no change) asked before each send instead; returns what to restore. */
int cr_lua_pacer_swap_before(lua_State *L, cr_lua_pacer *p, cr_client *c, int idx);
void cr_lua_pacer_restore_before(lua_State *L, cr_lua_pacer *p, cr_client *c, int own);
/* After a call: raises what a pacer function raised during it. */
void cr_lua_pacer_check(lua_State *L, cr_lua_pacer *p);
/* Drops the references (the client is going). */
void cr_lua_pacer_release(lua_State *L, cr_lua_pacer *p);

void cr_lua_open_credentials(lua_State *L);
void cr_lua_open_client(lua_State *L);
void cr_lua_open_machine(lua_State *L);

#endif
