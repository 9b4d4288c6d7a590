/*
** testkit.h — what the auth tests share: an RSA key made at test time, a
** temporary directory for key files, service_account JSON, and
** cr-fake-google run as a real subprocess on a loopback port.
*/
#ifndef CR_AUTH_TESTKIT_H
#define CR_AUTH_TESTKIT_H

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cloudrun.h"

#define KIT static __attribute__((unused))

/* ---- keys ---------------------------------------------------------------- */

static EVP_PKEY *kit_key_cache[2];

/* Two RSA-2048 keys, made once per process (which = 0 or 1). */
KIT EVP_PKEY *kit_key(int which)
{
    if (!kit_key_cache[which])
        kit_key_cache[which] = EVP_RSA_gen(2048);
    return kit_key_cache[which];
}

KIT char *kit_bio_string(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = 0;
    BIO_free(bio);
    return s;
}

/* PKCS#8 PEM ("BEGIN PRIVATE KEY"), as Google's key files carry. Caller frees. */
KIT char *kit_private_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    return kit_bio_string(bio);
}

KIT char *kit_public_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k);
    return kit_bio_string(bio);
}

/* 40 characters from the middle of the key's base64 body: what must never
** show up in a message. */
KIT const char *kit_key_fragment(int which)
{
    static char frag[2][41];
    if (!frag[which][0]) {
        char *pem = kit_private_pem(kit_key(which));
        const char *body = strchr(pem, '\n') + 1;
        memcpy(frag[which], body + 200, 40);
        free(pem);
    }
    return frag[which];
}

/* ---- files ------------------------------------------------------------------ */

static char kit_dir[64];

KIT int kit_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

KIT void kit_cleanup(void)
{
    if (kit_dir[0])
        nftw(kit_dir, kit_rm, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < 2; i++)
        EVP_PKEY_free(kit_key_cache[i]);
}

KIT const char *kit_tmpdir(void)
{
    if (!kit_dir[0]) {
        snprintf(kit_dir, sizeof kit_dir, "/tmp/cr-auth-test-XXXXXX");
        if (!mkdtemp(kit_dir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(kit_cleanup);
    }
    return kit_dir;
}

/* Writes `text` to tmpdir/name (making parent directories); returns the path (static storage per call site is
** not enough, so the caller frees). */
KIT char *kit_write(const char *name, const char *text)
{
    char *path = malloc(strlen(kit_tmpdir()) + strlen(name) + 2);
    sprintf(path, "%s/%s", kit_tmpdir(), name);
    for (char *p = path + strlen(kit_tmpdir()) + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0700);
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* A service_account key file's JSON; NULL fields are left out. Caller frees. */
KIT char *kit_sa_json(const char *email, const char *pem, const char *kid, const char *token_uri, const char *project)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "service_account");
    if (project)
        cJSON_AddStringToObject(j, "project_id", project);
    if (kid)
        cJSON_AddStringToObject(j, "private_key_id", kid);
    if (pem)
        cJSON_AddStringToObject(j, "private_key", pem);
    if (email)
        cJSON_AddStringToObject(j, "client_email", email);
    cJSON_AddStringToObject(j, "client_id", "123456789");
    if (token_uri)
        cJSON_AddStringToObject(j, "token_uri", token_uri);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

/* Writes a service_account file for key `which` pointing at token_uri. Caller frees the path. */
KIT char *kit_sa_file(const char *name, int which, const char *email, const char *kid, const char *token_uri)
{
    char *pem = kit_private_pem(kit_key(which));
    char *json = kit_sa_json(email, pem, kid, token_uri, "test-project");
    char *path = kit_write(name, json);
    free(pem);
    free(json);
    return path;
}

/* ---- cr-fake-google -------------------------------------------------------------- */

typedef struct kit_fake {
    pid_t pid;
    int port;
    char host[64];      /* 127.0.0.1:PORT */
    char token_uri[96]; /* http://127.0.0.1:PORT/token */
} kit_fake;

/* Starts cr-fake-google with the public key of key `which` (-1: none) and
** extra arguments (NULL-terminated). Returns 0, or -1 if it did not come up. */
KIT int kit_fake_start(kit_fake *f, int which, const char *const *extra)
{
    char pubpath[128] = "";
    if (which >= 0) {
        char *pem = kit_public_pem(kit_key(which));
        char name[32];
        snprintf(name, sizeof name, "pub%d.pem", which);
        char *p = kit_write(name, pem);
        snprintf(pubpath, sizeof pubpath, "%s", p);
        free(p);
        free(pem);
    }
    const char *argv[32];
    int n = 0;
    argv[n++] = CR_FAKE_GOOGLE;
    argv[n++] = "--port";
    argv[n++] = "0";
    if (pubpath[0]) {
        argv[n++] = "--public-key";
        argv[n++] = pubpath;
    }
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a crashed test */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[256] = "";
    int ok = fgets(line, sizeof line, out) && sscanf(line, "fake-google listening on 127.0.0.1:%d", &f->port) == 1;
    fclose(out);
    f->pid = pid;
    if (!ok) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "  cr-fake-google did not start (%s)\n", line);
        return -1;
    }
    snprintf(f->host, sizeof f->host, "127.0.0.1:%d", f->port);
    snprintf(f->token_uri, sizeof f->token_uri, "http://127.0.0.1:%d/token", f->port);
    return 0;
}

KIT void kit_fake_stop(kit_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

/* The whole of GET /stats as JSON (caller frees), read with a plain socket
** (independent of the transport under test); NULL on failure. */
KIT cJSON *kit_fake_stats(const kit_fake *f)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        close(s);
        return NULL;
    }
    const char req[] = "GET /stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(s, req, sizeof req - 1) < 0) {
        close(s);
        return NULL;
    }
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(s, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(s);
    const char *body = strstr(buf, "\r\n\r\n");
    return body ? cr_json_parse(body + 4, strlen(body + 4), NULL) : NULL;
}

/* One counter from GET /stats. -1 on failure. */
KIT long kit_fake_stat(const kit_fake *f, const char *name)
{
    cJSON *j = kit_fake_stats(f);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    long out = cJSON_IsNumber(v) ? (long)v->valueint : -1;
    cJSON_Delete(j);
    return out;
}

/* http://127.0.0.1:PORT + path, in a static buffer per call site's `buf`. */
KIT char *kit_fake_url(const kit_fake *f, const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "http://127.0.0.1:%d%s", f->port, path);
    return buf;
}

/* The IAM Credentials URL for `email` on the fake. */
KIT char *kit_iam_url(const kit_fake *f, const char *email, char *buf, size_t size)
{
    snprintf(buf, size, "http://127.0.0.1:%d/v1/projects/-/serviceAccounts/%s:generateAccessToken", f->port, email);
    return buf;
}

/* An authorized_user file's JSON (NULL fields left out). Caller frees. */
KIT char *kit_user_json(const char *client_id, const char *secret, const char *refresh, const char *token_uri,
                        const char *quota)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "authorized_user");
    if (client_id)
        cJSON_AddStringToObject(j, "client_id", client_id);
    if (secret)
        cJSON_AddStringToObject(j, "client_secret", secret);
    if (refresh)
        cJSON_AddStringToObject(j, "refresh_token", refresh);
    if (token_uri)
        cJSON_AddStringToObject(j, "token_uri", token_uri);
    if (quota)
        cJSON_AddStringToObject(j, "quota_project_id", quota);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

/* An impersonated_service_account file's JSON around `source` (JSON text, or
** NULL to leave it out); delegates is JSON text or NULL. Caller frees. */
KIT char *kit_imp_json(const char *source, const char *url, const char *delegates, const char *quota)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "impersonated_service_account");
    if (url)
        cJSON_AddStringToObject(j, "service_account_impersonation_url", url);
    if (source)
        cJSON_AddItemToObject(j, "source_credentials", cr_json_parse(source, strlen(source), NULL));
    if (delegates)
        cJSON_AddItemToObject(j, "delegates", cr_json_parse(delegates, strlen(delegates), NULL));
    if (quota)
        cJSON_AddStringToObject(j, "quota_project_id", quota);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

/* An external_account file's JSON: credential_source is JSON text; NULL
** fields left out. Caller frees. */
KIT char *kit_ext_json(const char *audience, const char *token_url, const char *credential_source,
                       const char *impersonation_url, const char *quota)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "external_account");
    if (audience)
        cJSON_AddStringToObject(j, "audience", audience);
    cJSON_AddStringToObject(j, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
    if (token_url)
        cJSON_AddStringToObject(j, "token_url", token_url);
    if (credential_source)
        cJSON_AddItemToObject(j, "credential_source",
                              cr_json_parse(credential_source, strlen(credential_source), NULL));
    if (impersonation_url)
        cJSON_AddStringToObject(j, "service_account_impersonation_url", impersonation_url);
    if (quota)
        cJSON_AddStringToObject(j, "quota_project_id", quota);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

#define KIT_AUDIENCE "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/prov"

/* A loopback port that nothing listens on (bound, then closed). */
KIT int kit_closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &alen);
    close(s);
    return ntohs(a.sin_port);
}

/* Loads a credentials file written under the test dir; prints why on failure. */
KIT cr_credentials *kit_load(const char *name, const char *json)
{
    char *path = kit_write(name, json);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    cr_error_clear(&err);
    free(path);
    return c;
}

/* A token (caller frees with cr_secret_free), or NULL after printing why. */
KIT char *kit_token(cr_credentials *c, int64_t *exp)
{
    cr_error err = CR_ERROR_INIT;
    char *t = NULL;
    if (cr_credentials_token(c, &t, exp, &err) < 0)
        fprintf(stderr, "  %s\n", err.message);
    cr_error_clear(&err);
    return t;
}

#endif
