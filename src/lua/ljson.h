/*
** ljson.h — Lua values <-> cJSON trees, for the binding: resources come back
** from the core as cJSON and go to Lua as plain tables; request bodies go the
** other way.
*/
#ifndef CR_LJSON_H
#define CR_LJSON_H

#include <cjson/cJSON.h>
#include <lua.h>

/* Registry key of the metatable marking decoded JSON arrays (so that an empty
** array encodes back as [] rather than {}). */
#define CR_ARRAY_MT "cloudrun.array"

/* Pushes the Lua form of `json`: objects and arrays as tables, numbers as
** integers when integral, null as nil (keys with null values are left out). */
void cr_lua_push_json(lua_State *L, const cJSON *json);

/* Pushes the JSON text of an answer (len bytes, as cr_client_perform_text
** returns it; its strings are decoded in place) as cr_lua_push_json pushes
** the same answer decoded by cJSON, with `execution` (when not NULL) as its
** last member: 0, or -1 (nothing pushed) when the text does not walk. */
int cr_lua_push_json_text(lua_State *L, char *text, size_t len, const char *execution);

/* Pushes any JSON text (len bytes, decoded in place) as cloudrun.json.decode
** gives it: as cr_lua_push_json_text, but a string keeps a NUL (\u0000) it
** holds, as Lua strings may. 0, or -1 (nothing pushed) when it does not walk. */
int cr_lua_push_json_whole(lua_State *L, char *text, size_t len);

/* Converts the value at `idx` to a new cJSON tree (caller frees). On a value
** that JSON cannot carry (a function, a table with mixed keys, a cycle, a
** string or key holding a NUL byte, which cJSON would cut) it
** returns NULL and pushes a message naming where ("body.template[2]: ..."). */
cJSON *cr_lua_to_json(lua_State *L, int idx, const char *where);

/* cr_lua_to_json for cloudrun.json.encode: a string holding a NUL becomes a
** raw item that prints it as \u0000 (what a request sends refuses it). */
cJSON *cr_lua_to_json_whole(lua_State *L, int idx, const char *where);

#endif
