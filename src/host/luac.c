/*
** luac.c — cr-luac, run at build time: compiles one Lua module to the
** bytecode of the very Lua library the hosts link (PUC-Rio's 5.1-5.4 or
** LuaJIT, whose formats differ), so that a host loads its embedded modules
** without parsing them at every start. Debug information is kept: messages
** and tracebacks name the same file and lines as the source would.
**
**   cr-luac CHUNKNAME SOURCE OUTPUT
*/
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../lua/compat.h"

static int write_chunk(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    return fwrite(p, 1, n, ud) == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cr-luac CHUNKNAME SOURCE OUTPUT\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *src = malloc(cap);
    while (src && (n = fread(src + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) {
            char *more = realloc(src, cap * 2);
            if (!more)
                free(src);
            src = more;
            cap *= 2;
        }
    }
    fclose(in);
    if (!src) {
        fprintf(stderr, "cr-luac: out of memory\n");
        return 1;
    }
    lua_State *L = luaL_newstate();
    int rc = 1;
    if (!L) {
        fprintf(stderr, "cr-luac: out of memory\n");
    } else if (luaL_loadbuffer(L, src, len, argv[1]) != LUA_OK) {
        fprintf(stderr, "cr-luac: %s\n", lua_tostring(L, -1));
    } else {
        FILE *out = fopen(argv[3], "wb");
        if (!out) {
            perror(argv[3]);
        } else {
#if LUA_VERSION_NUM >= 503
            int failed = lua_dump(L, write_chunk, out, 0);
#else
            int failed = lua_dump(L, write_chunk, out);
#endif
            if (fclose(out) != 0 || failed)
                fprintf(stderr, "cr-luac: cannot write %s\n", argv[3]);
            else
                rc = 0;
        }
    }
    if (L)
        lua_close(L);
    free(src);
    return rc;
}
