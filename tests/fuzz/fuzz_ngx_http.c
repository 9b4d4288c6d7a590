/*
** fuzz_ngx_http.c — libFuzzer target: the nginx driver's HTTP reader
** (lua/cloudrun/ngx_http.lua) in LuaJIT, on a stub cosocket that serves the
** input as the server's answer, in pieces whose sizes the input sets; the
** stub, the clock and the oracle are fuzz_ngx_http.lua. Findings: any raised
** Lua error — the reader's own (it must answer every server with status,
** headers, body or nil, failure), or the oracle's (the answer within the
** deadline on the stub clock, a bounded number of receives, the caps kept,
** the socket closed or pooled, nothing of the request's in a message).
** Coverage of the Lua code comes back to libFuzzer through a line hook (the
** JIT off, so that every line is seen) counting line-to-line edges in
** libFuzzer's extra counters. Both Lua files are read from the source tree
** (scripts/fuzz runs from its top), or from $CR_FUZZ_NGX_HARNESS and
** $CR_FUZZ_NGX_HTTP.
*/
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#define EDGES 16384

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer reads this section as coverage counters, beside the C code's own. */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[EDGES];

static lua_State *L;
static int run_ref, traceback_ref;
static unsigned prev_line;

/* A line event: the edge from the last line run to this one. */
static void on_line(lua_State *l, lua_Debug *ar)
{
    (void)l;
    unsigned line = (unsigned)ar->currentline;
    lua_edges[((prev_line * 7919u) ^ line) % EDGES]++;
    prev_line = line;
}

static const char *path_from(const char *var, const char *fallback)
{
    const char *p = getenv(var);
    return p && *p ? p : fallback;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *harness = path_from("CR_FUZZ_NGX_HARNESS", "tests/fuzz/fuzz_ngx_http.lua");
    const char *module = path_from("CR_FUZZ_NGX_HTTP", "lua/cloudrun/ngx_http.lua");
    L = luaL_newstate();
    if (!L)
        abort();
    luaL_openlibs(L);
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF); /* hooks do not run in compiled traces */
    lua_getglobal(L, "debug");
    lua_getfield(L, -1, "traceback");
    traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    if (luaL_loadfile(L, harness) != 0 || (lua_pushstring(L, module), lua_pcall(L, 1, 1, 0)) != 0) {
        fprintf(stderr,
                "fuzz_ngx_http: %s (run it from the top of the source tree, or set CR_FUZZ_NGX_HARNESS "
                "and CR_FUZZ_NGX_HTTP)\n",
                lua_tostring(L, -1));
        exit(2);
    }
    run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_sethook(L, on_line, LUA_MASKLINE, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prev_line = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, traceback_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, run_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, -3) != 0) {
        fprintf(stderr, "fuzz_ngx_http: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 1); /* the traceback function */
    return 0;
}
