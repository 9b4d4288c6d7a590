/*
** fake_google.c — cr-fake-google, a loopback stand-in for Google's OAuth2
** token endpoint and the GCE/Cloud Run metadata server, with scriptable
** faults, for the C and Lua tests. Real HTTP (libmicrohttpd), real RS256
** verification (OpenSSL).
**
** Usage:
**   cr-fake-google [--port N] [--public-key PEM_FILE] [--mode MODE] [--token TOKEN]
**                  [--expires-in SECONDS] [--kid KEY_ID] [--project ID] [--delay SECONDS]
**
**   --port N          TCP port on 127.0.0.1; 0 (the default) picks a free one.
**   --public-key F    PEM public key (SubjectPublicKeyInfo) that JWT assertions must
**                     verify against; without it signatures are not checked (the
**                     rest of the assertion still is).
**   --mode MODE       how token requests (POST /token and the metadata token) go:
**                       ok             verify and hand out a token (default)
**                       invalid_grant  400 {"error":"invalid_grant","error_description":"Invalid JWT Signature."}
**                       500            500 with a google.rpc.Status body
**                       garbage        200 with an HTML body that is not a token response
**                                      (it contains the token, so tests can check it is not echoed)
**                       slow           wait --delay seconds (default 5), then answer as ok
**                       no_flavor      as ok, but metadata answers lack "Metadata-Flavor: Google"
**   --token TOKEN     the access token to hand out; default "ya29.fake-N", N counting
**                     the tokens issued (1, 2, ...), so a refresh is visible.
**   --expires-in N    expires_in of issued tokens (default 3600).
**   --kid KEY_ID      the JWT header's kid must be this.
**   --project ID      what project/project-id answers (default "fake-project").
**   --delay SECONDS   how long token answers wait: in --mode slow 5 s unless given, in
**                     the other modes 0 unless given (e.g. a slow invalid_grant).
**
** The first line on stdout is "fake-google listening on 127.0.0.1:PORT". Runs until
** SIGTERM or SIGINT.
**
** Endpoints:
**   POST /token    form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
**                  (Content-Type application/x-www-form-urlencoded). The JWT must have
**                  header alg RS256, typ JWT (kid as above), a valid signature, claims
**                  iss (non-empty), scope (a googleapis.com/auth scope), aud (this
**                  server's http://127.0.0.1:PORT/token or http://localhost:PORT/token,
**                  or https://oauth2.googleapis.com/token), iat within 5 min of now,
**                  iat < exp <= iat + 3600, exp in the future. Failures answer 400
**                  {"error":"invalid_grant","error_description":"<what was wrong>"}.
**   GET /computeMetadata/v1/                                     probe (lists "instance/ project/")
**   GET /computeMetadata/v1/instance/service-accounts/default/token   {access_token, expires_in, token_type}
**   GET /computeMetadata/v1/project/project-id                    text/plain project id
**                  All three need request header "Metadata-Flavor: Google" (else 403) and
**                  answer with it (except in --mode no_flavor).
**   GET /stats     {"token_requests":N,"metadata_requests":N,"rejected":N,"probe_requests":N,
**                   "project_requests":N}: POSTs to /token, metadata token GETs, requests
**                  refused (bad grant, missing Metadata-Flavor), probes, project lookups.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define MAX_BODY (64 * 1024)

static struct {
    unsigned port;
    EVP_PKEY *public_key;
    const char *mode;
    const char *token;
    long expires_in;
    const char *kid;
    const char *project;
    double delay;
} opt = {0, NULL, "ok", NULL, 3600, NULL, "fake-project", -1};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long token_requests, metadata_requests, rejected, probe_requests, project_requests, tokens_issued;
/* Written by main after the daemon started / when stopping; read by its threads. */
static atomic_int stopping;
static atomic_uint bound_port;

static void count(long *counter)
{
    pthread_mutex_lock(&stats_lock);
    (*counter)++;
    pthread_mutex_unlock(&stats_lock);
}

typedef struct request {
    char *body;
    size_t len;
    int too_big;
} request;

/* ---- responses ------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
                             int flavor)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (flavor)
        MHD_add_response_header(r, "Metadata-Flavor", "Google");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, cJSON *json, int flavor)
{
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    enum MHD_Result ret = reply(conn, status, "application/json", text ? text : "{}", flavor);
    cJSON_free(text);
    return ret;
}

static enum MHD_Result invalid_grant(struct MHD_Connection *conn, const char *fmt, ...)
{
    char desc[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    count(&rejected);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", "invalid_grant");
    cJSON_AddStringToObject(j, "error_description", desc);
    return reply_json(conn, 400, j, 0);
}

/* What the current --mode makes of a token request that passed its checks. */
static enum MHD_Result token_answer(struct MHD_Connection *conn, int flavor)
{
    {
        for (double waited = 0; waited < opt.delay && !atomic_load(&stopping); waited += 0.05)
            usleep(50000);
    }
    if (strcmp(opt.mode, "invalid_grant") == 0) {
        count(&rejected);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", "invalid_grant");
        cJSON_AddStringToObject(j, "error_description", "Invalid JWT Signature.");
        return reply_json(conn, 400, j, flavor);
    }
    if (strcmp(opt.mode, "500") == 0) {
        return reply(conn, 500, "application/json",
                     "{\"error\":{\"code\":500,\"message\":\"Internal error.\",\"status\":\"INTERNAL\"}}", flavor);
    }
    pthread_mutex_lock(&stats_lock);
    long n = ++tokens_issued;
    pthread_mutex_unlock(&stats_lock);
    char token[256];
    if (opt.token)
        snprintf(token, sizeof token, "%s", opt.token);
    else
        snprintf(token, sizeof token, "ya29.fake-%ld", n);
    if (strcmp(opt.mode, "garbage") == 0) {
        char body[512];
        snprintf(body, sizeof body, "<html><body>Service temporarily confused. %s</body></html>", token);
        return reply(conn, 200, "text/html", body, flavor);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "access_token", token);
    cJSON_AddNumberToObject(j, "expires_in", (double)opt.expires_in);
    cJSON_AddStringToObject(j, "token_type", "Bearer");
    return reply_json(conn, 200, j, flavor);
}

/* ---- the JWT-bearer grant ---------------------------------------------------- */

static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    unsigned char *out = malloc(n * 3 / 4 + 3);
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

static cJSON *decode_part(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)raw, len);
    free(raw);
    return j;
}

/* Decodes one application/x-www-form-urlencoded field; NULL when absent. */
static char *form_field(const char *body, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1, *end = p + plen;
            char *out = malloc((size_t)(end - v) + 1), *o = out;
            for (; v < end; v++) {
                if (*v == '+') {
                    *o++ = ' ';
                } else if (*v == '%' && end - v >= 3) {
                    char hex[3] = {v[1], v[2], 0};
                    *o++ = (char)strtol(hex, NULL, 16);
                    v += 2;
                } else {
                    *o++ = *v;
                }
            }
            *o = 0;
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int json_num(const cJSON *obj, const char *name, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(j))
        return 0;
    *out = j->valuedouble;
    return 1;
}

/* Checks the assertion; returns NULL when good, else what was wrong. */
static const char *check_assertion(const char *jwt, char *why, size_t size)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
        return "assertion is not a JWS compact serialization (three dot-separated parts)";
    cJSON *header = decode_part(jwt, (size_t)(dot1 - jwt));
    cJSON *claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const char *bad = NULL;
    double iat, exp, now = (double)time(NULL);
    if (!header || !cJSON_IsObject(header)) {
        bad = "JWT header is not base64url JSON";
    } else if (!claims || !cJSON_IsObject(claims)) {
        bad = "JWT claims are not base64url JSON";
    } else if (!json_str(header, "alg") || strcmp(json_str(header, "alg"), "RS256") != 0) {
        bad = "JWT header alg is not RS256";
    } else if (!json_str(header, "typ") || strcmp(json_str(header, "typ"), "JWT") != 0) {
        bad = "JWT header typ is not JWT";
    } else if (cJSON_GetObjectItemCaseSensitive(header, "kid") &&
               (!json_str(header, "kid") || !*json_str(header, "kid"))) {
        bad = "JWT header kid is not a non-empty string";
    } else if (opt.kid && (!json_str(header, "kid") || strcmp(json_str(header, "kid"), opt.kid) != 0)) {
        bad = "JWT header kid does not name the expected key";
    }
    if (!bad && opt.public_key) {
        size_t siglen;
        unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = sig && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, opt.public_key) == 1 &&
                 EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1;
        ERR_clear_error();
        EVP_MD_CTX_free(md);
        free(sig);
        if (!ok)
            bad = "Invalid JWT Signature.";
    }
    if (!bad) {
        const char *iss = json_str(claims, "iss"), *aud = json_str(claims, "aud"), *scope = json_str(claims, "scope");
        char aud1[128], aud2[128];
        unsigned port = atomic_load(&bound_port);
        snprintf(aud1, sizeof aud1, "http://127.0.0.1:%u/token", port);
        snprintf(aud2, sizeof aud2, "http://localhost:%u/token", port);
        if (!iss || !*iss)
            bad = "JWT claim iss is missing";
        else if (!aud || (strcmp(aud, aud1) && strcmp(aud, aud2) && strcmp(aud, "https://oauth2.googleapis.com/token"))) {
            snprintf(why, size, "JWT claim aud is not this token endpoint (%s)", aud1);
            bad = why;
        } else if (!scope || !strstr(scope, "https://www.googleapis.com/auth/"))
            bad = "JWT claim scope is missing or not a googleapis.com scope";
        else if (!json_num(claims, "iat", &iat) || iat > now + 300 || iat < now - 300)
            bad = "JWT claim iat is missing or not within 5 minutes of now";
        else if (!json_num(claims, "exp", &exp) || exp <= iat || exp - iat > 3600)
            bad = "JWT claim exp is missing or not within an hour after iat";
        else if (exp <= now)
            bad = "JWT has expired";
    }
    cJSON_Delete(header);
    cJSON_Delete(claims);
    return bad;
}

static enum MHD_Result handle_token(struct MHD_Connection *conn, request *rq)
{
    count(&token_requests);
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
        return invalid_grant(conn, "Content-Type is not application/x-www-form-urlencoded");
    if (rq->too_big)
        return invalid_grant(conn, "request body too large");
    const char *body = rq->body ? rq->body : "";
    char *grant = form_field(body, "grant_type"), *assertion = form_field(body, "assertion");
    enum MHD_Result ret;
    char why[256];
    const char *bad = NULL;
    if (!grant || strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0)
        bad = "grant_type is not urn:ietf:params:oauth:grant-type:jwt-bearer";
    else if (!assertion)
        bad = "assertion is missing";
    /* invalid_grant / 500 / garbage answer regardless of the assertion. */
    else if (strcmp(opt.mode, "ok") == 0 || strcmp(opt.mode, "slow") == 0 || strcmp(opt.mode, "no_flavor") == 0)
        bad = check_assertion(assertion, why, sizeof why);
    ret = bad ? invalid_grant(conn, "%s", bad) : token_answer(conn, 0);
    free(grant);
    free(assertion);
    return ret;
}

/* ---- the metadata server ------------------------------------------------------ */

static enum MHD_Result handle_metadata(struct MHD_Connection *conn, const char *path)
{
    int flavor = strcmp(opt.mode, "no_flavor") != 0;
    int is_token = strcmp(path, "instance/service-accounts/default/token") == 0;
    int is_project = strcmp(path, "project/project-id") == 0;
    int is_root = strcmp(path, "") == 0;
    if (is_token)
        count(&metadata_requests);
    else if (is_project)
        count(&project_requests);
    else if (is_root)
        count(&probe_requests);
    const char *f = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata-Flavor");
    if (!f || strcmp(f, "Google") != 0) {
        count(&rejected);
        return reply(conn, 403, "text/plain", "Missing required header: Metadata-Flavor\n", flavor);
    }
    if (is_token)
        return token_answer(conn, flavor);
    if (is_project)
        return reply(conn, 200, "application/text", opt.project, flavor);
    if (is_root)
        return reply(conn, 200, "application/text", "instance/\nproject/\n", flavor);
    return reply(conn, 404, "text/plain", "Not Found\n", flavor);
}

static enum MHD_Result handle_stats(struct MHD_Connection *conn)
{
    cJSON *j = cJSON_CreateObject();
    pthread_mutex_lock(&stats_lock);
    cJSON_AddNumberToObject(j, "token_requests", (double)token_requests);
    cJSON_AddNumberToObject(j, "metadata_requests", (double)metadata_requests);
    cJSON_AddNumberToObject(j, "rejected", (double)rejected);
    cJSON_AddNumberToObject(j, "probe_requests", (double)probe_requests);
    cJSON_AddNumberToObject(j, "project_requests", (double)project_requests);
    pthread_mutex_unlock(&stats_lock);
    return reply_json(conn, 200, j, 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    request *rq = *con_cls;
    if (!rq) {
        *con_cls = calloc(1, sizeof(request));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        if (rq->len + *upload_data_size > MAX_BODY) {
            rq->too_big = 1;
        } else {
            char *nb = realloc(rq->body, rq->len + *upload_data_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + rq->len, upload_data, *upload_data_size);
            rq->body = nb;
            rq->len += *upload_data_size;
            rq->body[rq->len] = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    static const char md_prefix[] = "/computeMetadata/v1/";
    if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0)
        return handle_token(conn, rq);
    if (strncmp(url, md_prefix, sizeof md_prefix - 1) == 0 && strcmp(method, "GET") == 0)
        return handle_metadata(conn, url + sizeof md_prefix - 1);
    if (strcmp(url, "/stats") == 0 && strcmp(method, "GET") == 0)
        return handle_stats(conn);
    return reply(conn, 404, "text/plain", "Not Found\n", 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: cr-fake-google [--port N] [--public-key PEM] [--mode ok|invalid_grant|500|garbage|slow|"
                    "no_flavor] [--token T] [--expires-in N] [--kid ID] [--project ID] [--delay S]\n");
    exit(2);
}

static EVP_PKEY *load_public_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        fprintf(stderr, "cr-fake-google: %s is not a PEM public key\n", path);
        exit(2);
    }
    return k;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--port") == 0)
            opt.port = (unsigned)atoi(v);
        else if (strcmp(a, "--public-key") == 0)
            opt.public_key = load_public_key(v);
        else if (strcmp(a, "--mode") == 0)
            opt.mode = v;
        else if (strcmp(a, "--token") == 0)
            opt.token = v;
        else if (strcmp(a, "--expires-in") == 0)
            opt.expires_in = atol(v);
        else if (strcmp(a, "--kid") == 0)
            opt.kid = v;
        else if (strcmp(a, "--project") == 0)
            opt.project = v;
        else if (strcmp(a, "--delay") == 0)
            opt.delay = atof(v);
        else
            usage();
        i++;
    }
    static const char *const modes[] = {"ok", "invalid_grant", "500", "garbage", "slow", "no_flavor"};
    int known = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        known |= strcmp(opt.mode, modes[i]) == 0;
    if (!known)
        usage();
    if (opt.delay < 0)
        opt.delay = strcmp(opt.mode, "slow") == 0 ? 5 : 0;

    /* Block the stop signals before any thread exists, so that only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cr-fake-google: cannot listen on 127.0.0.1:%u\n", opt.port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    atomic_store(&bound_port, info ? info->port : opt.port);
    printf("fake-google listening on 127.0.0.1:%u\n", atomic_load(&bound_port));
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    atomic_store(&stopping, 1);
    MHD_stop_daemon(d);
    EVP_PKEY_free(opt.public_key);
    return 0;
}
