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

/* return nil, err — releasing the core error */
int cr_lua_push_failure(lua_State *L, cr_error *err);

/* Pushes token, expires_at (nil when unknown) and frees the token; or nil, err when rc < 0. */
int cr_lua_push_token(lua_State *L, int rc, char *token, int64_t expires_at, cr_error *err);

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

/* Register each object's metatable and put its constructors into the module table at the top. */
void cr_lua_open_credentials(lua_State *L);
void cr_lua_open_client(lua_State *L);
void cr_lua_open_machine(lua_State *L);

#endif
