/*
** cloudrun_lua.c — `cloudrun-lua`: a Lua interpreter with the same options as
** the standard `lua` (-e -l -i -v -E -W - --), with require("cloudrun")
** working out of the box because the module is built in. After lua.c: all
** work happens in pmain under lua_pcall, and errors go through one report().
*/
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../lua/compat.h"
#include "cloudrun.h"
#include "host.h"

static const char *progname = "cloudrun-lua";

/* The options, once: the usage text prints them, and so does the man page (--man). */
static const struct {
    const char *label, *help;
} options[] = {
    {"-e stat", "execute string 'stat'"},
    {"-i", "enter interactive mode after executing 'script'"},
    {"-l mod", "require library 'mod' into global 'mod'"},
    {"-l g=mod", "require library 'mod' into global 'g'"},
    {"-v", "show version information"},
    {"-E", "ignore environment variables"},
    {"-W", "turn warnings on"},
    {"--", "stop handling options"},
    {"-", "stop handling options and execute stdin"},
};
#define NOPTIONS (sizeof options / sizeof options[0])
static const char synopsis[] = "[options] [script [args]]";

static void print_usage(const char *badoption)
{
    if (badoption[1] == 'e' || badoption[1] == 'l')
        fprintf(stderr, "%s: '%s' needs argument\n", progname, badoption);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
    fprintf(stderr, "usage: %s %s\nAvailable options are:\n", progname, synopsis);
    for (size_t i = 0; i < NOPTIONS; i++)
        fprintf(stderr, "  %-10s%s\n", options[i].label, options[i].help);
}

/* Text as roff prints it: see cloudrun.cli.man's escape, which this follows. */
static void roff(const char *text, const char *font)
{
    if (font)
        printf("\\f%s", font);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", stdout);
        else if (*p == '-')
            fputs("\\-", stdout);
        else if (*p == '\'')
            fputs("\\(aq", stdout);
        else if (*p == '.' && p == text && !font)
            fputs("\\&.", stdout);
        else
            putchar(*p);
    }
    if (font)
        fputs("\\fR", stdout);
}

/*
** `cloudrun-lua --man` (for the build, not in the usage): the man page, its
** options from the table the usage prints. An option's letter in bold, its
** argument in italics; the synopsis's words in italics.
*/
static void print_man(void)
{
    printf(".TH CLOUDRUN\\-LUA 1 \"\" \"lua\\-cloudrun %s\" \"User Commands\"\n.nh\n.ad l\n", CR_VERSION);
    printf(".SH NAME\ncloudrun\\-lua \\- a Lua interpreter with the cloudrun module built in\n");
    printf(".SH SYNOPSIS\n\\fBcloudrun\\-lua\\fR ");
    for (const char *p = synopsis; *p; p++) {
        int word = islower((unsigned char)*p);
        if (word && (p == synopsis || !islower((unsigned char)p[-1])))
            fputs("\\fI", stdout);
        putchar(*p);
        if (word && !islower((unsigned char)p[1]))
            fputs("\\fR", stdout);
    }
    printf("\n.SH DESCRIPTION\n");
    roff("The standard lua interpreter, with its options and behaviour, of the Lua it was built with "
         "(-v names it), and with require(\"cloudrun\") and the cloudrun command's modules inside, so that "
         "they need no LUA_PATH or LUA_CPATH. With no script and no -e, it reads a script from standard "
         "input, or runs interactively on a terminal. Before the options are handled it runs the code "
         "in " CR_LUA_INIT_VAR,
         NULL);
    if (strcmp(CR_LUA_INIT_VAR, "LUA_INIT") != 0)
        roff(", or else in LUA_INIT", NULL);
    roff(" (a file's when it begins with @), unless -E is given.", NULL);
    printf("\n.SH OPTIONS\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char label[32];
        snprintf(label, sizeof label, "%s", options[i].label);
        char *arg = strchr(label, ' ');
        if (arg)
            *arg++ = '\0';
        printf(".TP\n");
        roff(label, "B");
        if (arg) {
            putchar(' ');
            roff(arg, "I");
        }
        putchar('\n');
        roff(options[i].help, NULL);
        putchar('\n');
    }
    printf(".SH \"EXIT STATUS\"\n0 when the script and every option ran without an error, 1 otherwise.\n");
    printf(".SH \"SEE ALSO\"\n.BR cloudrun (1),\n.BR lua (1)\n");
}

static void print_version(void)
{
    printf("%s (lua-cloudrun %s)\n", CR_LUA_COPYRIGHT, CR_VERSION);
    fflush(stdout);
}

#define has_error 1 /* bad option */
#define has_i 2
#define has_v 4
#define has_e 8
#define has_E 16

/* Scans options like lua.c; returns the flags and, in *first, the index of the script (or argc). */
static int collect_args(char **argv, int *first)
{
    int args = 0;
    int i;
    for (i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-')
            return args;
        switch (argv[i][1]) {
        case '-':
            if (argv[i][2] != '\0')
                return has_error;
            *first = i + 1;
            return args;
        case '\0':
            return args;
        case 'E':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_E;
            break;
        case 'W':
            if (argv[i][2] != '\0')
                return has_error;
            break;
        case 'i':
            args |= has_i; /* -i implies -v */
            /* fall through */
        case 'v':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_v;
            break;
        case 'e':
            args |= has_e;
            /* fall through */
        case 'l':
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-')
                    return has_error;
            }
            break;
        default:
            return has_error;
        }
    }
    *first = i;
    return args;
}

/* The global `arg`: script at 0, its arguments at 1.., the interpreter and options below 0. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    if (script == argc)
        script = 0;
    int narg = argc - (script + 1);
    lua_createtable(L, narg, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = cr_host_docall(L, 0, 0);
    return cr_host_report(L, status, progname);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod or -l g=mod: global[g] = require(mod) */
static int dolibrary(lua_State *L, char *globname)
{
    char *modname = strchr(globname, '=');
    if (modname == NULL) {
        modname = globname;
        globname = NULL;
    } else {
        *modname = '\0';
        modname++;
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    int status = cr_host_docall(L, 1, 1);
    if (status == LUA_OK) {
        if (globname == NULL) {
            /* "a.b-c" -> global "a": like lua.c, up to the first '-' and after the last '.' */
            const char *dot = strrchr(modname, '.');
            const char *g = dot ? dot + 1 : modname;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", g);
            char *dash = strchr(buf, '-');
            if (dash)
                *dash = '\0';
            lua_setglobal(L, buf);
        } else {
            lua_setglobal(L, globname);
        }
    }
    return cr_host_report(L, status, progname);
}

static int runargs(lua_State *L, char **argv, int n)
{
    for (int i = 1; i < n; i++) {
        int option = argv[i][1];
        if (option != 'e' && option != 'l')
            continue;
        char *extra = argv[i] + 2;
        if (*extra == '\0')
            extra = argv[++i];
        int status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
        if (status != LUA_OK)
            return 0;
    }
    return 1;
}

static int pushargs(lua_State *L)
{
    lua_getglobal(L, "arg");
    if (!lua_istable(L, -1))
        luaL_error(L, "'arg' is not a table");
    int n = (int)lua_rawlen(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1);
    return n;
}

static int handle_script(lua_State *L, char **argv)
{
    const char *fname = argv[0];
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
        fname = NULL; /* stdin */
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = cr_host_docall(L, n, LUA_MULTRET);
    }
    return cr_host_report(L, status, progname);
}

/* ---- interactive mode (no readline dependency: plain lines from stdin) ---- */

static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        const char *eof = CR_LUA_EOFMARK;
        size_t le = strlen(eof);
        if (lmsg >= le && strcmp(msg + lmsg - le, eof) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

static int read_line(lua_State *L, int first)
{
    char buf[4096];
    fputs(first ? "> " : ">> ", stdout);
    fflush(stdout);
    if (fgets(buf, sizeof buf, stdin) == NULL)
        return 0;
    size_t l = strlen(buf);
    if (l > 0 && buf[l - 1] == '\n')
        buf[--l] = '\0';
    lua_pushlstring(L, buf, l);
    return 1;
}

/* Tries "return <line>" first so that expressions print their value, as lua.c does. */
static int load_line(lua_State *L)
{
    lua_settop(L, 0);
    if (!read_line(L, 1))
        return -1;
    const char *line = lua_tostring(L, 1);
    const char *retline = lua_pushfstring(L, "return %s", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK) {
        lua_remove(L, -2);
        lua_remove(L, 1);
        return LUA_OK;
    }
    lua_pop(L, 2);
    for (;;) {
        size_t len;
        const char *code = lua_tolstring(L, 1, &len);
        status = luaL_loadbuffer(L, code, len, "=stdin");
        if (!incomplete(L, status))
            break;
        if (!read_line(L, 0))
            return status;
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
    lua_remove(L, 1);
    return status;
}

static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        lua_getglobal(L, "print");
        lua_insert(L, 1);
        if (lua_pcall(L, n, 0, 0) != LUA_OK)
            cr_host_report(L, LUA_ERRRUN, progname);
    }
}

static void do_repl(lua_State *L)
{
    int status;
    while ((status = load_line(L)) != -1) {
        if (status == LUA_OK)
            status = cr_host_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else
            cr_host_report(L, status, NULL);
    }
    lua_settop(L, 0);
    fputs("\n", stdout);
    fflush(stdout);
}

static int handle_luainit(lua_State *L)
{
    const char *name = "=" CR_LUA_INIT_VAR;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dochunk(L, luaL_loadfile(L, init + 1));
    return dostring(L, init, name);
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script = argc;
    int args = collect_args(argv, &script);
    luaL_checkversion(L);
    if (args == has_error) {
        print_usage(argv[script]);
        return 0;
    }
    if (args & has_v)
        print_version();
    if (args & has_E) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    cr_host_preload(L);
    create_arg_table(L, argv, argc, script);
    cr_lua_gc(L, LUA_GCRESTART);
#if LUA_VERSION_NUM >= 504
    lua_gc(L, LUA_GCGEN, 0, 0);
#endif
    if (!(args & has_E) && handle_luainit(L) != LUA_OK)
        return 0;
    if (!runargs(L, argv, script))
        return 0;
    if (script < argc && handle_script(L, argv + script) != LUA_OK)
        return 0;
    if (args & has_i) {
        do_repl(L);
    } else if (script == argc && !(args & (has_e | has_v))) {
        if (isatty(0)) {
            print_version();
            do_repl(L);
        } else {
            dochunk(L, luaL_loadfile(L, NULL));
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--man") == 0) {
        print_man();
        return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    if (argv[0] && argv[0][0])
        progname = argv[0];
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    cr_lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int result = lua_toboolean(L, -1);
    cr_host_report(L, status, progname);
    lua_close(L);
    return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
