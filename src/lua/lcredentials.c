/*
** lcredentials.c — Credentials userdata: a reference to a core credential
** (shared token cache), its token and a description that never shows a secret.
*/
#include <stdlib.h>
#include <string.h>

#include "lbinding.h"

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
        return cr_lua_push_failure(L, err);
    b->creds = creds;
    return 1;
}

/* {self_signed_jwt=, audience=} at idx (absent -> NULL); raises on a wrong option. */
static const cr_credentials_options *read_options(lua_State *L, int idx, const char *fn, cr_credentials_options *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? cr_lua_whole(L, -1, fn, "an option name") : "?";
        if (strcmp(k, "self_signed_jwt") != 0 && strcmp(k, "audience") != 0)
            luaL_error(L, "%s: unknown option '%s'", fn, k);
    }
    lua_getfield(L, idx, "self_signed_jwt");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "%s: option 'self_signed_jwt' must be a boolean", fn);
    o->self_signed_jwt = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "audience");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: option 'audience' must be a string", fn);
    o->audience = lua_isnil(L, -1) ? NULL : cr_lua_whole(L, -1, fn, "option 'audience'"); /* anchored in the table */
    lua_pop(L, 1);
    return o;
}

/* core.credentials_file(path [, opts]) */
static int l_credentials_file(lua_State *L)
{
    const char *path = cr_lua_checktext(L, 1);
    cr_credentials_options o;
    const cr_credentials_options *op = read_options(L, 2, "from_file", &o);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_file_opts(path, op, &err), &err);
}

/* core.credentials_json(text_or_table [, origin [, opts]]) */
static int l_credentials_json(lua_State *L)
{
    const char *origin = cr_lua_opttext(L, 2, "credentials table");
    cr_credentials_options o;
    const cr_credentials_options *op = read_options(L, 3, "from_json", &o);
    char *owned = NULL;
    size_t len = 0;
    const char *text;
    if (lua_type(L, 1) == LUA_TTABLE) {
        cJSON *j = cr_lua_to_json(L, 1, "credentials");
        if (!j)
            return luaL_argerror(L, 1, lua_tostring(L, -1));
        owned = cJSON_PrintUnformatted(j);
        cr_json_delete_secret(j); /* the tree holds the private key */
        if (!owned)
            return luaL_error(L, "out of memory");
        text = owned;
        len = strlen(owned);
    } else {
        text = luaL_checklstring(L, 1, &len);
    }
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_json_opts(text, len, origin, op, &err);
    cr_secret_free(owned);
    return finish_creds(L, b, c, &err);
}

/* core.credentials_metadata([host]) */
static int l_credentials_metadata(lua_State *L)
{
    const char *host = cr_lua_opttext(L, 1, NULL);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_metadata(host, &err), &err);
}

/* core.credentials_token(token [, expires_at]) */
static int l_credentials_token(lua_State *L)
{
    const char *token = cr_lua_checktext(L, 1);
    lua_Integer exp = luaL_optinteger(L, 2, 0);
    creds_box *b = new_creds_box(L);
    cr_error err = CR_ERROR_INIT;
    return finish_creds(L, b, cr_credentials_from_access_token(token, (int64_t)exp, &err), &err);
}

/* core.credentials_default_machine() -> Machine: the ADC chain for a Lua driver
** (its result: m:credentials_result()) */
static int l_credentials_default_machine(lua_State *L)
{
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_credentials_default_machine(&err);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_machine(L, m, 0);
    return 1;
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
    int rc = cr_credentials_token(b->creds, &token, &exp, &err);
    return cr_lua_push_token(L, rc, token, exp, &err);
}

/* creds:info() -> {type=, account=, project=, origin=} — never a secret */
static int l_creds_info(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    lua_createtable(L, 0, 4);
    const char *fields[][2] = {{"type", cr_credentials_type(b->creds)},
                               {"account", cr_credentials_account(b->creds)},
                               {"project", cr_credentials_project(b->creds)},
                               {"quota_project", cr_credentials_quota_project(b->creds)},
                               {"origin", cr_credentials_origin(b->creds)}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i][1]) {
            lua_pushstring(L, fields[i][1]);
            lua_setfield(L, -2, fields[i][0]);
        }
    }
    int64_t exp = cr_credentials_expires_at(b->creds);
    if (exp > 0) {
        lua_pushinteger_ll(L, exp);
        lua_setfield(L, -2, "expires_at");
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

void cr_lua_push_credentials(lua_State *L, cr_credentials *creds)
{
    creds_box *b = new_creds_box(L);
    b->creds = cr_credentials_ref(creds);
}

/* creds:key() -> the store key of this source ("<type>:<hex>", never a secret) */
static int l_creds_key(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    lua_pushstring(L, cr_credentials_key(b->creds));
    return 1;
}

/* creds:fetch_machine([timeout_seconds]) -> Machine | nil, err: a new token, for a Lua driver */
static int l_creds_fetch_machine(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    lua_Number timeout = luaL_optnumber(L, 2, 0);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_credentials_fetch(b->creds, timeout > 0 ? (long)(timeout * 1000.0) : 0, &err);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_machine(L, m, 1);
    return 1;
}

/* creds:token_machine() -> Machine: a token fit to use (asks its driver for the stored one first) */
static int l_creds_token_machine(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_credentials_token_machine(b->creds, &err);
    if (!m)
        return cr_lua_push_failure(L, &err);
    cr_lua_push_machine(L, m, 1);
    return 1;
}

/* creds:refused() — the API refused the current token (a Lua driver's store dropped it) */
static int l_creds_refused(lua_State *L)
{
    creds_box *b = check_creds(L, 1);
    cr_credentials_refused(b->creds);
    return 0;
}

cr_credentials *cr_lua_to_credentials(lua_State *L, int idx)
{
    creds_box *b = luaL_testudata(L, idx, CREDS_MT);
    return b ? b->creds : NULL;
}

static const luaL_Reg creds_methods[] = {
    {"token", l_creds_token},
    {"info", l_creds_info},
    {"key", l_creds_key},
    {"fetch_machine", l_creds_fetch_machine},
    {"token_machine", l_creds_token_machine},
    {"refused", l_creds_refused},
    {"release", l_creds_release},
    {NULL, NULL},
};

static const luaL_Reg creds_functions[] = {
    {"credentials_file", l_credentials_file},
    {"credentials_json", l_credentials_json},
    {"credentials_metadata", l_credentials_metadata},
    {"credentials_token", l_credentials_token},
    {"credentials_default", l_credentials_default},
    {"credentials_default_machine", l_credentials_default_machine},
    {NULL, NULL},
};

void cr_lua_open_credentials(lua_State *L)
{
    cr_lua_new_class(L, CREDS_MT, creds_methods, l_creds_release, l_creds_tostring);
    luaL_setfuncs(L, creds_functions, 0);
}
