/*
** token_file.c — the per-user access-token cache of one-shot processes:
** <gcloud's configuration>/cloudrun/access_tokens.json, beside gcloud's own
** access_tokens.db, so that a second `cloudrun` or `cloudrun-lua` within a
** token's life signs and exchanges nothing. It holds access tokens only
** (never a refresh token, a key or a subject token), each under its source's
** store key (no secret in it). Whether one is fresh is the token machine's
** to say, as for a token in memory.
**
** A cache is never a reason to fail: anything that cannot be read, or may
** not be trusted, is no entry, and a write that cannot be made is skipped.
** What may be trusted: a directory and a file that are this user's, that
** nobody else may write (nor, the file, read), reached without following a
** symlink in our own two names; the file is replaced whole (a temporary file
** in the same directory, renamed over it), so a reader sees the old or the
** new text, never half of one, and writers take turns on a lock.
*/
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, flock */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/adc.h"
#include "drivers/token_file.h"

#define FILE_VERSION 1

int cr_token_file_enabled(void)
{
    const char *v = cr_getenv("CLOUDRUN_TOKEN_CACHE");
    return !v || !(strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
                   strcasecmp(v, "off") == 0);
}

/* Whether an open directory or file is this user's and nobody else may write it. */
static int ours(int fd, struct stat *st)
{
    return fstat(fd, st) == 0 && st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* mkdir -p, each new directory 0700 (gcloud's configuration may not exist yet). */
static void make_parents(const char *path)
{
    char *p = cr_strdup(path);
    for (char *s = p ? p + 1 : NULL; s && *s; s++) {
        if (*s == '/') {
            *s = '\0';
            (void)mkdir(p, 0700);
            *s = '/';
        }
    }
    if (p)
        (void)mkdir(p, 0700);
    free(p);
}

/*
** The cache's directory, open, or -1. gcloud's configuration directory is
** taken as the user set it (it may be a symlink, as dotfile managers make
** it); our directory in it is never followed through a symlink and must be
** ours. `create`: make what is missing — but nothing inside another user's
** configuration (sudo keeps $HOME).
*/
static int open_dir(int create)
{
    char *config = cr_gcloud_config_dir();
    if (!config)
        return -1;
    int cfd = open(config, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cfd < 0 && errno == ENOENT && create) {
        make_parents(config);
        cfd = open(config, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    free(config);
    if (cfd < 0)
        return -1;
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int dfd = openat(cfd, CR_TOKEN_FILE_DIR, flags);
    struct stat st;
    if (dfd < 0 && errno == ENOENT && create && fstat(cfd, &st) == 0 && st.st_uid == geteuid() &&
        (mkdirat(cfd, CR_TOKEN_FILE_DIR, 0700) == 0 || errno == EEXIST))
        dfd = openat(cfd, CR_TOKEN_FILE_DIR, flags);
    close(cfd);
    if (dfd >= 0 && !ours(dfd, &st)) {
        close(dfd);
        dfd = -1;
    }
    return dfd;
}

/*
** The file's entries ("tokens": an object), or NULL: no file, or one that
** cannot be trusted or read (empty, then). *foreign: the name holds a
** symlink or something other than a regular file, which a write must leave
** alone. O_NONBLOCK: a FIFO put there is refused, not waited on.
*/
static cJSON *read_entries(int dfd, int *foreign)
{
    *foreign = 0;
    int fd = openat(dfd, CR_TOKEN_FILE_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *foreign = errno == ELOOP;
        return NULL;
    }
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *foreign = 1;
    } else if (st.st_uid == geteuid() && !(st.st_mode & 077) && st.st_size > 0 &&
               st.st_size <= CR_TOKEN_FILE_MAX_BYTES && (text = malloc((size_t)st.st_size + 1))) {
        ssize_t n;
        while (len < (size_t)st.st_size &&
               ((n = read(fd, text + len, (size_t)st.st_size - len)) > 0 || (n < 0 && errno == EINTR)))
            len += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    cJSON *root = text ? cr_json_parse(text, len, NULL) : NULL;
    if (text) {
        cr_wipe(text, len);
        free(text);
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    int known = cJSON_IsNumber(version) && version->valuedouble == FILE_VERSION;
    cJSON *tokens = known ? cJSON_DetachItemFromObjectCaseSensitive(root, "tokens") : NULL;
    cr_json_delete_secret(root);
    if (!cJSON_IsObject(tokens)) {
        cr_json_delete_secret(tokens);
        return NULL;
    }
    return tokens;
}

/* An entry's token and expiry when it is well formed (a bearer token of a sane size). */
static const char *entry_token(const cJSON *e, int64_t *expires_at)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "access_token");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "expires_at");
    if (!cJSON_IsString(t) || !cr_bearer_token_ok(t->valuestring) || strlen(t->valuestring) > CR_TOKEN_FILE_MAX_TOKEN ||
        !cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble > 1e15)
        return NULL;
    *expires_at = (int64_t)x->valuedouble;
    return t->valuestring;
}

int cr_token_file_get(const char *key, char **token, int64_t *expires_at)
{
    *token = NULL;
    *expires_at = 0;
    int dfd = open_dir(0);
    if (dfd < 0)
        return -1;
    int foreign;
    cJSON *entries = read_entries(dfd, &foreign);
    close(dfd);
    const char *t = entry_token(cJSON_GetObjectItemCaseSensitive(entries, key), expires_at);
    if (t)
        *token = cr_strdup(t);
    cr_json_delete_secret(entries);
    return *token ? 0 : -1;
}

/* Writers take turns (the directory's flock), for a while: one that cannot
** get it writes anyway, since the rename alone keeps the file whole. */
static void take_turn(int dfd)
{
    for (int i = 0; i < 50 && flock(dfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK; i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* Writes text as the file: a new 0600 file in the directory, renamed over it. */
static int replace_file(int dfd, const char *text)
{
    static atomic_uint serial;
    char tmp[96];
    snprintf(tmp, sizeof tmp, ".%s.%ld.%u.tmp", CR_TOKEN_FILE_NAME, (long)getpid(), atomic_fetch_add(&serial, 1));
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), done = 0;
    int ok = fchmod(fd, 0600) == 0; /* whatever the umask */
    while (ok && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno != EINTR)
            ok = 0;
    }
    ok = close(fd) == 0 && ok;
    if (ok && renameat(dfd, tmp, dfd, CR_TOKEN_FILE_NAME) == 0)
        return 0;
    unlinkat(dfd, tmp, 0);
    return -1;
}

typedef struct kept {
    const char *key, *token;
    int64_t expires_at;
} kept;

static int later_first(const void *a, const void *b)
{
    int64_t x = ((const kept *)a)->expires_at, y = ((const kept *)b)->expires_at;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*
** The file's text with key's entry replaced by (token, expires_at), or
** removed (token NULL); expired and malformed entries dropped, and past
** the limit those expiring first. NULL when out of memory.
*/
static char *rewrite(const cJSON *entries, const char *key, const char *token, int64_t expires_at)
{
    kept *k = malloc(((size_t)cJSON_GetArraySize(entries) + 1) * sizeof *k);
    if (!k)
        return NULL;
    size_t n = 0, first;
    if (token)
        k[n++] = (kept){key, token, expires_at};
    first = n; /* the new entry stays, whatever the others' expiry */
    int64_t now = cr_unix_time();
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        int64_t at;
        const char *t = entry_token(e, &at);
        if (t && at > now && strcmp(e->string, key) != 0)
            k[n++] = (kept){e->string, t, at};
    }
    qsort(k + first, n - first, sizeof *k, later_first);
    if (n > CR_TOKEN_FILE_MAX_ENTRIES)
        n = CR_TOKEN_FILE_MAX_ENTRIES;
    cJSON *root = cJSON_CreateObject();
    int ok = cJSON_AddNumberToObject(root, "version", FILE_VERSION) != NULL;
    cJSON *tokens = ok ? cJSON_AddObjectToObject(root, "tokens") : NULL;
    for (size_t i = 0; tokens && i < n; i++) {
        cJSON *o = cJSON_AddObjectToObject(tokens, k[i].key);
        if (!o || !cJSON_AddStringToObject(o, "access_token", k[i].token) ||
            !cJSON_AddNumberToObject(o, "expires_at", (double)k[i].expires_at))
            tokens = NULL;
    }
    free(k);
    char *text = tokens ? cJSON_PrintUnformatted(root) : NULL;
    cr_json_delete_secret(root);
    return text;
}

/*
** Reads, changes and replaces the file, in turn with other writers: key's
** entry becomes (token, expires_at), or with token NULL is removed if it
** still holds `refused` (another process may have put a new one since).
*/
static int update(const char *key, const char *token, int64_t expires_at, const char *refused)
{
    int dfd = open_dir(token != NULL);
    if (dfd < 0)
        return -1;
    take_turn(dfd);
    int foreign, rc = -1;
    cJSON *entries = read_entries(dfd, &foreign);
    int64_t at;
    const char *held = entry_token(cJSON_GetObjectItemCaseSensitive(entries, key), &at);
    if (!foreign && (token || (held && strcmp(held, refused) == 0))) {
        char *text = rewrite(entries, key, token, expires_at);
        rc = text ? replace_file(dfd, text) : -1;
        cr_secret_free(text);
    } else if (!token) {
        rc = 0; /* nothing of it to drop */
    }
    cr_json_delete_secret(entries);
    close(dfd); /* and with it the lock */
    return rc;
}

int cr_token_file_put(const char *key, const char *token, int64_t expires_at)
{
    if (!key || !token || !cr_bearer_token_ok(token) || strlen(token) > CR_TOKEN_FILE_MAX_TOKEN)
        return -1;
    return update(key, token, expires_at, NULL);
}

int cr_token_file_drop(const char *key, const char *token)
{
    return key && token ? update(key, NULL, 0, token) : -1;
}
