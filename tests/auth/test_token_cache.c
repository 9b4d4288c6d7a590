/*
** test_token_cache.c — the per-user access-token file of one-shot processes
** (drivers/token_file.c under the token store), against cr-fake-google,
** whose counters show every token request: the hosts run twice as real
** one-shot processes, a credential loaded again in this process (the last
** reference gone, so its memory with it), and each way the file can be
** wrong, stale, foreign, shared or turned off.
*/
#include <fcntl.h>
#include <sys/file.h>

#include "check.h"
#include "testkit.h"

#define EMAIL "cache@test-project.iam.gserviceaccount.com"

/* ---- set-up ------------------------------------------------------------------- */

static int dirs;

/* A fresh gcloud configuration directory (not made yet), as $CLOUDSDK_CONFIG,
** with the cache on; returns its path (static until the next call). */
static const char *fresh_config(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/gcloud-%d", kit_tmpdir(), ++dirs);
    setenv("CLOUDSDK_CONFIG", path, 1);
    setenv("CLOUDRUN_TOKEN_CACHE", "1", 1);
    return path;
}

/* config/cloudrun[/access_tokens.json] in buf. */
static const char *cache_path(const char *config, int file, char *buf, size_t size)
{
    snprintf(buf, size, "%s/cloudrun%s", config, file ? "/access_tokens.json" : "");
    return buf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* The file's "tokens" object as parsed JSON (caller deletes), NULL if it is not valid. */
static cJSON *entries_of(const char *config)
{
    char p[256];
    char *text = slurp(cache_path(config, 1, p, sizeof p));
    cJSON *root = text ? cr_json_parse(text, strlen(text), NULL) : NULL;
    free(text);
    cJSON *tokens = cJSON_DetachItemFromObjectCaseSensitive(root, "tokens");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    int ok = cJSON_IsObject(tokens) && cJSON_IsNumber(v) && v->valueint == 1;
    cJSON_Delete(root);
    if (!ok) {
        cJSON_Delete(tokens);
        return NULL;
    }
    return tokens;
}

/* Whether the file holds `token` under some key. */
static int file_holds(const char *config, const char *token)
{
    cJSON *tokens = entries_of(config), *e;
    int found = 0;
    cJSON_ArrayForEach(e, tokens)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "access_token");
        found |= cJSON_IsString(t) && strcmp(t->valuestring, token) == 0;
    }
    cJSON_Delete(tokens);
    return found;
}

/* Loads the file, takes a token, lets the credential go (and its memory of
** the token with it): what one one-shot process does. The token, or NULL. */
static char *one_shot(const char *path)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    char *t = c ? kit_token(c, NULL) : NULL;
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    cr_error_clear(&err);
    cr_credentials_unref(c);
    return t;
}

static long requests(const kit_fake *f)
{
    return kit_fake_stat(f, "token_requests");
}

/* Runs argv to its end with stdout into out (size bytes); the exit status, or -1. */
static int run(const char *const *argv, char *out, size_t size)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fds[0], out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* cloudrun-lua -e printing a token of the key file at path. */
static int lua_token(const char *path, char *out, size_t size)
{
    char script[512];
    snprintf(script, sizeof script, "print((assert(require('cloudrun').auth.from_file('%s')):token()))", path);
    const char *argv[] = {CR_HOST_LUA, "-e", script, NULL};
    return run(argv, out, size);
}

/* ---- one-shot processes -------------------------------------------------------------- */

/* Every case's start: env e, up (its servers and gcloud directory), or the case fails here. */
#define START_ENV(e, arg)                                                                                              \
    env e;                                                                                                             \
    if (env_start(&e, arg) < 0) {                                                                                      \
        CHECK(0);                                                                                                      \
        return;                                                                                                        \
    }

TEST(a_second_cloudrun_lua_process_makes_no_token_request)
{
    kit_fake f;
    if (kit_fake_start(&f, 0, NULL) < 0) {
        CHECK(0);
        return;
    }
    char *path = kit_sa_file("lua.json", 0, EMAIL, "kid-0", f.token_uri);
    fresh_config();
    char first[256], second[256];
    CHECK_INT(lua_token(path, first, sizeof first), 0);
    CHECK_INT(lua_token(path, second, sizeof second), 0);
    CHECK_STR(first, "ya29.fake-1\n");
    CHECK_STR(second, first);
    CHECK_INT(requests(&f), 1);
    kit_fake_stop(&f);
    free(path);
}

TEST(a_second_cloudrun_cli_process_makes_no_token_request)
{
    kit_fake f;
    if (kit_fake_start(&f, 0, NULL) < 0) {
        CHECK(0);
        return;
    }
    char *path = kit_sa_file("cli.json", 0, EMAIL, "kid-0", f.token_uri);
    fresh_config();
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    const char *argv[] = {CR_HOST_CLI, "auth", "print-access-token", NULL};
    char first[256], second[256];
    CHECK_INT(run(argv, first, sizeof first), 0);
    CHECK_INT(run(argv, second, sizeof second), 0);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    CHECK_STR(first, "ya29.fake-1\n");
    CHECK_STR(second, first);
    CHECK_INT(requests(&f), 1);
    kit_fake_stop(&f);
    free(path);
}

/* Many processes at once, each with a source of its own: every one gets its
** token, and the file stays whole with every entry (writers take turns). */
TEST(processes_at_once_all_succeed_and_the_file_stays_whole)
{
    enum { N = 8 };
    kit_fake f;
    if (kit_fake_start(&f, 0, NULL) < 0) {
        CHECK(0);
        return;
    }
    const char *config = fresh_config();
    char *paths[N];
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        char name[32], email[96];
        snprintf(name, sizeof name, "many-%d.json", i);
        snprintf(email, sizeof email, "many-%d@test-project.iam.gserviceaccount.com", i);
        paths[i] = kit_sa_file(name, 0, email, "kid-0", f.token_uri);
    }
    fflush(NULL);
    for (int i = 0; i < N; i++) {
        if ((pids[i] = fork()) == 0) {
            char out[256];
            _exit(lua_token(paths[i], out, sizeof out) == 0 && strncmp(out, "ya29.fake-", 10) == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < N; i++) {
        int status = -1;
        CHECK(pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(paths[i]);
    }
    cJSON *tokens = entries_of(config);
    CHECK(tokens != NULL);
    CHECK_INT(cJSON_GetArraySize(tokens), N);
    cJSON_Delete(tokens);
    CHECK_INT(requests(&f), N);
    kit_fake_stop(&f);
}

/* ---- in this process: the file's rules --------------------------------------------------- */

/* A fake, a key file pointing at it, and a fresh configuration directory. */
typedef struct env {
    kit_fake fake;
    char *path;
    char config[128];
} env;

static int env_start(env *e, const char *const *extra)
{
    memset(e, 0, sizeof *e);
    if (kit_fake_start(&e->fake, 0, extra) < 0)
        return -1;
    char name[32];
    snprintf(name, sizeof name, "sa-%d.json", dirs + 1);
    e->path = kit_sa_file(name, 0, EMAIL, "kid-0", e->fake.token_uri);
    snprintf(e->config, sizeof e->config, "%s", fresh_config());
    return 0;
}

static void env_stop(env *e)
{
    kit_fake_stop(&e->fake);
    free(e->path);
}

/* One load: the token it got must be `want` (NULL: any), and the fake must
** have answered `total` token requests by now. */
static void shot(env *e, const char *want, long total)
{
    char *t = one_shot(e->path);
    CHECK(t != NULL);
    if (want)
        CHECK_STR(t, want);
    CHECK_INT(requests(&e->fake), total);
    cr_secret_free(t);
}

TEST(a_second_load_takes_the_token_from_a_0600_file_in_a_0700_directory)
{
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1);
    shot(&e, "ya29.fake-1", 1);
    char p[256];
    struct stat st;
    CHECK(stat(cache_path(e.config, 0, p, sizeof p), &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(stat(cache_path(e.config, 1, p, sizeof p), &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(file_holds(e.config, "ya29.fake-1"));
    char *text = slurp(p);
    CHECK_NOT_CONTAINS(text, kit_key_fragment(0)); /* the key, the email, the key file's path: none */
    CHECK_NOT_CONTAINS(text, "PRIVATE KEY");
    CHECK_NOT_CONTAINS(text, EMAIL);
    CHECK_NOT_CONTAINS(text, e.path);
    free(text);
    env_stop(&e);
}

TEST(a_token_inside_the_refresh_margin_is_not_taken_from_the_file)
{
    const char *const extra[] = {"--expires-in", "200", NULL}; /* 200 s < the 225 s margin */
    START_ENV(e, extra);
    shot(&e, "ya29.fake-1", 1);
    shot(&e, "ya29.fake-2", 2);
    CHECK(file_holds(e.config, "ya29.fake-2"));
    CHECK(!file_holds(e.config, "ya29.fake-1"));
    env_stop(&e);
}

TEST(cloudrun_token_cache_0_turns_the_file_off)
{
    START_ENV(e, NULL);
    setenv("CLOUDRUN_TOKEN_CACHE", "0", 1);
    shot(&e, "ya29.fake-1", 1);
    shot(&e, "ya29.fake-2", 2);
    struct stat st;
    CHECK(stat(e.config, &st) < 0); /* not even the directory was made */
    env_stop(&e);
}

TEST(a_configuration_directory_that_cannot_be_made_leaves_no_cache_and_the_call_works)
{
    START_ENV(e, NULL);
    char *file = kit_write("plain-file", "x"); /* a directory cannot be made under a file */
    char config[256];
    snprintf(config, sizeof config, "%s/gcloud", file);
    setenv("CLOUDSDK_CONFIG", config, 1);
    shot(&e, "ya29.fake-1", 1);
    shot(&e, "ya29.fake-2", 2);
    unsetenv("CLOUDSDK_CONFIG");
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    unsetenv("HOME"); /* and with neither variable, no directory at all */
    shot(&e, "ya29.fake-3", 3);
    if (home)
        setenv("HOME", home, 1);
    free(home);
    free(file);
    env_stop(&e);
}

TEST(a_symlink_in_place_of_the_file_is_not_followed_and_the_call_still_works)
{
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1); /* a good file, in the first directory */
    char good[256], p[256];
    cache_path(e.config, 1, good, sizeof good);
    char *before = slurp(good);
    const char *other = fresh_config();
    mkdir(other, 0700);
    mkdir(cache_path(other, 0, p, sizeof p), 0700);
    CHECK(symlink(good, cache_path(other, 1, p, sizeof p)) == 0);
    shot(&e, "ya29.fake-2", 2); /* fetched: the link was not read ... */
    shot(&e, "ya29.fake-3", 3);
    struct stat st;
    CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode)); /* ... nor replaced */
    char *after = slurp(good);
    CHECK_STR(after, before); /* nor written through */
    free(before);
    free(after);
    env_stop(&e);
}

TEST(a_symlink_in_place_of_the_directory_is_not_followed_and_the_call_still_works)
{
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1);
    char good_dir[256], good[256], p[256];
    cache_path(e.config, 0, good_dir, sizeof good_dir);
    char *before = slurp(cache_path(e.config, 1, good, sizeof good));
    const char *other = fresh_config();
    mkdir(other, 0700);
    CHECK(symlink(good_dir, cache_path(other, 0, p, sizeof p)) == 0);
    shot(&e, "ya29.fake-2", 2);
    char *after = slurp(good);
    CHECK_STR(after, before);
    free(before);
    free(after);
    env_stop(&e);
}

TEST(a_directory_others_may_write_is_not_trusted)
{
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1);
    char p[256];
    chmod(cache_path(e.config, 0, p, sizeof p), 0770);
    shot(&e, "ya29.fake-2", 2);
    chmod(p, 0700);
    CHECK(file_holds(e.config, "ya29.fake-1")); /* and nothing was written there */
    env_stop(&e);
}

TEST(a_file_others_may_read_is_not_trusted_and_is_replaced_by_a_0600_one)
{
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1);
    char p[256];
    chmod(cache_path(e.config, 1, p, sizeof p), 0644);
    shot(&e, "ya29.fake-2", 2);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(file_holds(e.config, "ya29.fake-2"));
    shot(&e, "ya29.fake-2", 2);
    env_stop(&e);
}

TEST(a_corrupt_or_cut_file_is_ignored_and_rewritten)
{
    static const char *const bad[] = {
        "{\"version\":1,\"tokens\":{\"service_account:", /* cut short by a crash */
        "\x01\x02 not json at all",
        "[]",
        "{\"version\":2,\"tokens\":{}}",
        "{\"version\":1,\"tokens\":{\"k\":{\"access_token\":\"a b\",\"expires_at\":\"soon\"}}}",
    };
    START_ENV(e, NULL);
    shot(&e, "ya29.fake-1", 1);
    char p[256];
    cache_path(e.config, 1, p, sizeof p);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int fd = open(p, O_WRONLY | O_TRUNC);
        CHECK(fd >= 0 && write(fd, bad[i], strlen(bad[i])) == (ssize_t)strlen(bad[i]));
        close(fd);
        char want[32];
        snprintf(want, sizeof want, "ya29.fake-%d", (int)i + 2);
        shot(&e, want, (long)i + 2);
        CHECK(file_holds(e.config, want));
    }
    env_stop(&e);
}

TEST(a_fifo_in_place_of_the_file_is_neither_waited_on_nor_replaced)
{
    START_ENV(e, NULL);
    char p[256];
    mkdir(e.config, 0700);
    mkdir(cache_path(e.config, 0, p, sizeof p), 0700);
    CHECK(mkfifo(cache_path(e.config, 1, p, sizeof p), 0600) == 0);
    shot(&e, "ya29.fake-1", 1);
    shot(&e, "ya29.fake-2", 2);
    struct stat st;
    CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
    env_stop(&e);
}

TEST(a_refused_token_is_dropped_from_the_file)
{
    START_ENV(e, NULL);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(e.path, &err);
    char *t = c ? kit_token(c, NULL) : NULL;
    CHECK_STR(t, "ya29.fake-1");
    CHECK(file_holds(e.config, "ya29.fake-1"));
    cr_credentials_invalidate(c, t); /* what a 401 does (test_token_cache_spec: a real one) */
    CHECK(!file_holds(e.config, "ya29.fake-1"));
    cJSON *left = entries_of(e.config);
    CHECK(left != NULL && cJSON_GetArraySize(left) == 0);
    cJSON_Delete(left);
    cr_secret_free(t);
    cr_credentials_unref(c);
    shot(&e, "ya29.fake-2", 2);
    env_stop(&e);
}

TEST(the_file_keeps_at_most_32_entries_and_always_the_newest)
{
    START_ENV(e, NULL);
    for (int i = 0; i < 40; i++) {
        char name[32], email[96];
        snprintf(name, sizeof name, "bound-%d.json", i);
        snprintf(email, sizeof email, "bound-%d@test-project.iam.gserviceaccount.com", i);
        char *path = kit_sa_file(name, 0, email, "kid-0", e.fake.token_uri);
        char *t = one_shot(path);
        CHECK(t != NULL && file_holds(e.config, t));
        cr_secret_free(t);
        free(path);
    }
    cJSON *tokens = entries_of(e.config);
    CHECK_INT(cJSON_GetArraySize(tokens), 32);
    cJSON_Delete(tokens);
    env_stop(&e);
}

TEST(an_authorized_user_file_keeps_the_access_token_only)
{
    START_ENV(e, NULL);
    char *json = kit_user_json("test-client", "test-secret", "test-refresh", e.fake.token_uri, NULL);
    char *path = kit_write("user.json", json);
    char *t1 = one_shot(path), *t2 = one_shot(path);
    CHECK_STR(t1, "ya29.fake-1");
    CHECK_STR(t2, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&e.fake, "refresh_requests"), 1);
    char p[256];
    char *text = slurp(cache_path(e.config, 1, p, sizeof p));
    CHECK_CONTAINS(text, "ya29.fake-1");
    CHECK_NOT_CONTAINS(text, "test-refresh");
    CHECK_NOT_CONTAINS(text, "test-secret");
    CHECK_NOT_CONTAINS(text, "test-client");
    free(text);
    cr_secret_free(t1);
    cr_secret_free(t2);
    free(json);
    free(path);
    env_stop(&e);
}

TEST(metadata_server_tokens_stay_in_memory)
{
    START_ENV(e, NULL);
    for (int i = 0; i < 2; i++) {
        cr_error err = CR_ERROR_INIT;
        cr_credentials *c = cr_credentials_from_metadata(e.fake.host, &err);
        char *t = c ? kit_token(c, NULL) : NULL;
        CHECK(t != NULL);
        cr_secret_free(t);
        cr_credentials_unref(c);
        cr_error_clear(&err);
    }
    CHECK_INT(kit_fake_stat(&e.fake, "metadata_requests"), 2);
    char p[256];
    struct stat st;
    CHECK(stat(cache_path(e.config, 0, p, sizeof p), &st) < 0);
    env_stop(&e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    setenv("GCE_METADATA_HOST", "127.0.0.1:9", 1); /* no metadata server in the ADC chain */
    return check_run();
}
