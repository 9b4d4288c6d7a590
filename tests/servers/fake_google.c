/*
** fake_google.c — cr-fake-google, a loopback stand-in for Google's OAuth2
** token endpoint and the GCE/Cloud Run metadata server (and of the few Google
** API methods the tests call with credentials), with scriptable faults, for
** the C and Lua tests. Real HTTP (libmicrohttpd), real RS256
** verification (OpenSSL).
**
** Usage:
**   cr-fake-google [--port N] [--public-key PEM_FILE] [--mode MODE] [--token TOKEN]
**                  [--expires-in SECONDS] [--kid KEY_ID] [--project ID] [--delay SECONDS]
**                  [--fault-on LIST] [--client-id X] [--client-secret Y] [--refresh-token Z]
**                  [--rotate-refresh-token NEW] [--subject-token VALUE] [--subject-header NAME:VALUE]
**                  [--region R] [--email E] [--entries-busy N]
**                  [--entries-body FILE]
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
**                       denied         403 with a google.rpc.Status PERMISSION_DENIED body
**                     IAM Credentials answers invalid_grant as 400 google.rpc INVALID_ARGUMENT.
**   --fault-on LIST   comma-separated endpoints --mode and --delay apply to: token (POST /token),
**                     sts (POST /sts), iam (generateAccessToken), metadata (all metadata paths);
**                     default all of them. The others behave as in --mode ok.
**   --token TOKEN     the access token to hand out everywhere; default "ya29.fake-N" from
**                     /token and metadata, "ya29.sts-N" from /sts, "ya29.impersonated-N" from
**                     IAM, N counting the tokens each issued (1, 2, ...), so a refresh is visible.
**   --expires-in N    expires_in of issued tokens (default 3600).
**   --kid KEY_ID      the JWT header's kid must be this.
**   --project ID      what project/project-id answers (default "fake-project").
**   --delay SECONDS   how long token answers wait: in --mode slow 5 s unless given, in
**                     the other modes 0 unless given (e.g. a slow invalid_grant).
**   --client-id X, --client-secret Y, --refresh-token Z
**                     what the refresh_token grant must carry (defaults "test-client",
**                     "test-secret", "test-refresh").
**   --rotate-refresh-token NEW
**                     the refresh_token grant answers with refresh_token NEW, and from then on
**                     only NEW is accepted (the old one is revoked, as a rotation does).
**   --subject-token V what STS requires as subject_token, and what /subject-token serves
**                     (default "test-subject-token").
**   --subject-header NAME:VALUE
**                     GET /subject-token requires this request header (403 otherwise).
**   --region R        what instance/region answers: projects/123456/regions/R (default us-central1).
**   --email E         instance/service-accounts/default/email (default
**                     fake-sa@fake-project.iam.gserviceaccount.com).
**   --entries-busy N  the first N entries:list requests (checked as below) fail: the
**                     first 503 UNAVAILABLE (which only a read may retry), the others 429
**                     RESOURCE_EXHAUSTED with Retry-After: 1.
**   --entries-body F  entries:list requests that pass the checks are answered 200 with the
**                     text of file F (read at each request, so a test may rewrite it), as
**                     application/json whatever it holds: a server that answers garbage.
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
**   POST /token    form grant_type=refresh_token&client_id&client_secret&refresh_token: each
**                  must match the flags above (else 400 invalid_grant); answers a token, with
**                  refresh_token when --rotate-refresh-token is given.
**   POST /sts      form grant_type=urn:ietf:params:oauth:grant-type:token-exchange,
**                  requested_token_type=urn:ietf:params:oauth:token-type:access_token,
**                  subject_token_type (any non-empty), audience (non-empty), scope (a
**                  googleapis.com/auth scope), subject_token (= --subject-token); else 400
**                  {"error":"invalid_grant","error_description":...}. Answers {access_token,
**                  issued_token_type, token_type, expires_in}.
**   POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken
**                  needs "Authorization: Bearer T" with T a token this fake issued (from /token,
**                  /sts, metadata or IAM), else 401 google.rpc UNAUTHENTICATED; a JSON body with
**                  "scope" (a list with a googleapis.com/auth scope), "lifetime" ("Ns") and
**                  optional "delegates" (a list of strings; recorded), else 400 google.rpc.
**                  Answers {"accessToken":"ya29.impersonated-N","expireTime":"<RFC 3339 now+lifetime>"}.
**   POST /v2/entries:list   (Cloud Logging) needs "Authorization: Bearer T" with T a token this
**                  fake issued; a JSON body with resourceNames ["projects/P"], orderBy "timestamp
**                  asc" (or absent), pageSize 1..1000, optional pageToken, and a filter that is
**                  clauses joined by " AND ": resource.type = "cloud_run_job", then
**                  resource.labels.project_id, resource.labels.location, resource.labels.job_name,
**                  labels."run.googleapis.com/execution_name" = "..." (all required, in that
**                  order), optional labels."run.googleapis.com/task_index" = "N" and
**                  timestamp >= "RFC 3339"; anything else 400 google.rpc INVALID_ARGUMENT. Serves
**                  three lines for each of tasks 0 and 1 (timestamps 2026-01-01T00:00:0Ns),
**                  those the filter keeps, at most 4 a page (nextPageToken for the rest).
**   POST /v2/projects/P/locations/L/jobs?jobId=J, GET and PATCH .../jobs/J
**                  (Cloud Run Admin API v2, fake_run.c) need a bearer token this fake issued;
**                  jobs kept in memory, each write answered with a done Operation.
**   GET /run/requests  every CreateJob and UpdateJob as it came (fake_run.c).
**   GET  /v2/projects/P/locations/L/jobs/J:getIamPolicy[?options.requestedPolicyVersion=N]
**   POST /v2/projects/P/locations/L/jobs/J:setIamPolicy      {"policy": Policy, "updateMask": "..."}
**   POST /v2/projects/P/locations/L/jobs/J:testIamPermissions {"permissions": [...]}
**                  Cloud Run's IAM methods on a job, as the emulator answers them (fake_iam.c:
**                  its rules and body checks are the emulator's own); every job exists, with a
**                  policy of its own. Need "Authorization: Bearer T" with T a token this fake
**                  issued (else 401 UNAUTHENTICATED).
**   GET /iam-requests  {"requests": [{"method", "path", "query", "body"}, ...]}: the IAM
**                  requests so far (the newest 200), as sent.
**   GET /subject-token[?format=json]
**                  the subject token as text, or {"id_token": "<subject token>"} with format=json.
**   GET /computeMetadata/v1/                                     probe (lists "instance/ project/")
**   GET /computeMetadata/v1/instance/service-accounts/default/token   {access_token, expires_in, token_type}
**   GET /computeMetadata/v1/project/project-id                    text/plain project id
**   GET /computeMetadata/v1/instance/region                       projects/123456/regions/R
**   GET /computeMetadata/v1/instance/service-accounts/default/email   the --email
**                  All need request header "Metadata-Flavor: Google" (else 403) and
**                  answer with it (except in --mode no_flavor).
**   GET /stats     {"token_requests":N,"metadata_requests":N,"rejected":N,"probe_requests":N,
**                   "project_requests":N,"refresh_requests":N,"sts_requests":N,"iam_requests":N,
**                   "subject_requests":N,"region_requests":N,"email_requests":N,
**                   "last_delegates":[...] or null,
**                   "entries_requests":N,"last_filter":"..." or null,
**                   "last_page_size":N or null,"run_iam_requests":N}: POSTs to /token (refresh_requests: those
**                  with the refresh_token grant), metadata token GETs, requests refused (bad
**                  grant, missing Metadata-Flavor, bad bearer), probes, project lookups, STS
**                  exchanges, IAM calls, subject token GETs, region and email lookups, the
**                  delegates the last IAM call sent, the last entries:list's filter and
**                  pageSize, and the calls of Cloud Run's IAM methods.
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

#include "fake_iam.h"
#include "fake_run.h"
#include "request.h"

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
    const char *fault_on;
    const char *client_id, *client_secret, *refresh_token, *rotate_refresh_token;
    const char *subject_token, *subject_header, *region, *email;
    long entries_busy;        /* the first N entries:list fail: a 503, then 429s with Retry-After: 1 */
    const char *entries_body; /* a file whose text answers entries:list (read at each request) */
} opt = {0,
         NULL,
         "ok",
         NULL,
         3600,
         NULL,
         "fake-project",
         -1,
         NULL,
         "test-client",
         "test-secret",
         "test-refresh",
         NULL,
         "test-subject-token",
         NULL,
         "us-central1",
         "fake-sa@fake-project.iam.gserviceaccount.com",
         0,
         NULL};

/* Written by main after the daemon started / when stopping; read by its threads. */
static atomic_int stopping;
static atomic_uint bound_port;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long token_requests, metadata_requests, rejected, probe_requests, project_requests, tokens_issued;
static long refresh_requests, sts_requests, iam_requests, subject_requests, region_requests, email_requests;
static long sts_issued, iam_issued;
/* Guarded by stats_lock too: the refresh token accepted now, every token handed out (for
** the IAM bearer check), and the delegates of the last IAM call (JSON text or NULL). */
static char *current_refresh;
static char **issued;
static size_t nissued;
static char *last_delegates;
static char *last_filter;
static double last_page_size = -1; /* the last entries:list's pageSize, -1: none */
static long entries_requests;
static long run_iam_requests; /* Cloud Run's IAM methods (fake_iam.c) */

/* cJSON's parser writes a process-global error pointer: one parse at a time. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

static cJSON *parse_json(const char *text, size_t len)
{
    pthread_mutex_lock(&parse_lock);
    cJSON *j = cJSON_ParseWithLength(text, len);
    pthread_mutex_unlock(&parse_lock);
    return j;
}

static void remember_issued(const char *token)
{
    pthread_mutex_lock(&stats_lock);
    char **grown = realloc(issued, (nissued + 1) * sizeof *issued);
    if (grown) {
        issued = grown;
        issued[nissued] = strdup(token);
        if (issued[nissued])
            nissued++;
    }
    pthread_mutex_unlock(&stats_lock);
}

static int was_issued(const char *token)
{
    int found = 0;
    pthread_mutex_lock(&stats_lock);
    for (size_t i = 0; i < nissued && !found; i++)
        found = strcmp(issued[i], token) == 0;
    pthread_mutex_unlock(&stats_lock);
    return found;
}

/* The mode for one endpoint: --mode where --fault-on lists it (or lists nothing). */
static const char *mode_for(const char *endpoint)
{
    if (!opt.fault_on)
        return opt.mode;
    size_t n = strlen(endpoint);
    for (const char *p = opt.fault_on; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, endpoint, n) == 0)
            return opt.mode;
        p = comma ? comma + 1 : NULL;
    }
    return "ok";
}

static void wait_delay(const char *endpoint)
{
    if (opt.fault_on && mode_for(endpoint) != opt.mode)
        return;
    for (double waited = 0; waited < opt.delay && !atomic_load(&stopping); waited += 0.05)
        usleep(50000);
}

static void count(long *counter)
{
    pthread_mutex_lock(&stats_lock);
    (*counter)++;
    pthread_mutex_unlock(&stats_lock);
}

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

static enum MHD_Result rpc_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddNumberToObject(e, "code", status);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "status", code);
    return reply_json(conn, status, j, 0);
}

/* What the endpoint's --mode makes of a token request that passed its checks.
** `endpoint` is "token", "sts" or "metadata"; `refresh` a rotated refresh token or NULL. */
static enum MHD_Result token_answer(struct MHD_Connection *conn, int flavor, const char *endpoint, const char *refresh)
{
    const char *mode = mode_for(endpoint);
    wait_delay(endpoint);
    if (strcmp(mode, "denied") == 0) {
        count(&rejected);
        return rpc_error(conn, 403, "PERMISSION_DENIED", "The caller does not have permission");
    }
    if (strcmp(mode, "invalid_grant") == 0) {
        count(&rejected);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", "invalid_grant");
        cJSON_AddStringToObject(j, "error_description", "Invalid JWT Signature.");
        return reply_json(conn, 400, j, flavor);
    }
    if (strcmp(mode, "500") == 0) {
        return reply(conn, 500, "application/json",
                     "{\"error\":{\"code\":500,\"message\":\"Internal error.\",\"status\":\"INTERNAL\"}}", flavor);
    }
    int sts = strcmp(endpoint, "sts") == 0;
    pthread_mutex_lock(&stats_lock);
    long n = sts ? ++sts_issued : ++tokens_issued;
    pthread_mutex_unlock(&stats_lock);
    char token[256];
    if (opt.token)
        snprintf(token, sizeof token, "%s", opt.token);
    else
        snprintf(token, sizeof token, "ya29.%s-%ld", sts ? "sts" : "fake", n);
    remember_issued(token);
    if (strcmp(mode, "garbage") == 0) {
        char body[512];
        snprintf(body, sizeof body, "<html><body>Service temporarily confused. %s</body></html>", token);
        return reply(conn, 200, "text/html", body, flavor);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "access_token", token);
    cJSON_AddNumberToObject(j, "expires_in", (double)opt.expires_in);
    cJSON_AddStringToObject(j, "token_type", "Bearer");
    if (sts)
        cJSON_AddStringToObject(j, "issued_token_type", "urn:ietf:params:oauth:token-type:access_token");
    if (refresh)
        cJSON_AddStringToObject(j, "refresh_token", refresh);
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
    cJSON *j = parse_json((const char *)raw, len);
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
        else if (!aud ||
                 (strcmp(aud, aud1) && strcmp(aud, aud2) && strcmp(aud, "https://oauth2.googleapis.com/token"))) {
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

/* Whether the endpoint's mode still checks what it receives (the faults answer regardless). */
static int checking(const char *endpoint)
{
    const char *m = mode_for(endpoint);
    return strcmp(m, "ok") == 0 || strcmp(m, "slow") == 0 || strcmp(m, "no_flavor") == 0;
}

static int str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The refresh_token grant (authorized_user). */
static enum MHD_Result handle_refresh(struct MHD_Connection *conn, const char *body)
{
    count(&refresh_requests);
    char *id = form_field(body, "client_id"), *secret = form_field(body, "client_secret"),
         *refresh = form_field(body, "refresh_token");
    const char *bad = NULL;
    char *rotated = NULL;
    if (checking("token")) {
        pthread_mutex_lock(&stats_lock);
        if (!id || !*id)
            bad = "client_id is missing";
        else if (!str_eq(id, opt.client_id))
            bad = "The OAuth client was not found.";
        else if (!str_eq(secret, opt.client_secret))
            bad = "Unauthorized client or scope in request.";
        else if (!refresh || !*refresh)
            bad = "refresh_token is missing";
        else if (!str_eq(refresh, current_refresh))
            bad = "Token has been expired or revoked.";
        else if (opt.rotate_refresh_token) {
            free(current_refresh);
            current_refresh = strdup(opt.rotate_refresh_token);
            rotated = strdup(opt.rotate_refresh_token);
        }
        pthread_mutex_unlock(&stats_lock);
    }
    enum MHD_Result ret = bad ? invalid_grant(conn, "%s", bad) : token_answer(conn, 0, "token", rotated);
    free(id), free(secret), free(refresh), free(rotated);
    return ret;
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
    if (grant && strcmp(grant, "refresh_token") == 0) {
        free(grant);
        free(assertion);
        return handle_refresh(conn, body);
    }
    enum MHD_Result ret;
    char why[256];
    const char *bad = NULL;
    if (!grant || strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0)
        bad = "grant_type is not urn:ietf:params:oauth:grant-type:jwt-bearer";
    else if (!assertion)
        bad = "assertion is missing";
    /* invalid_grant / 500 / garbage answer regardless of the assertion. */
    else if (checking("token"))
        bad = check_assertion(assertion, why, sizeof why);
    ret = bad ? invalid_grant(conn, "%s", bad) : token_answer(conn, 0, "token", NULL);
    free(grant);
    free(assertion);
    return ret;
}

/* ---- STS (workload identity federation) --------------------------------------- */

static enum MHD_Result handle_sts(struct MHD_Connection *conn, request *rq)
{
    count(&sts_requests);
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
        return invalid_grant(conn, "Content-Type is not application/x-www-form-urlencoded");
    if (rq->too_big)
        return invalid_grant(conn, "request body too large");
    const char *body = rq->body ? rq->body : "";
    static const char *const names[] = {"grant_type", "requested_token_type", "subject_token_type", "audience",
                                        "scope",      "subject_token"};
    char *f[6];
    for (int i = 0; i < 6; i++)
        f[i] = form_field(body, names[i]);
    const char *bad = NULL;
    if (!checking("sts"))
        bad = NULL;
    else if (!str_eq(f[0], "urn:ietf:params:oauth:grant-type:token-exchange"))
        bad = "grant_type is not urn:ietf:params:oauth:grant-type:token-exchange";
    else if (!str_eq(f[1], "urn:ietf:params:oauth:token-type:access_token"))
        bad = "requested_token_type is not urn:ietf:params:oauth:token-type:access_token";
    else if (!f[2] || !*f[2])
        bad = "subject_token_type is missing";
    else if (!f[3] || !*f[3])
        bad = "audience is missing";
    else if (!f[4] || !strstr(f[4], "https://www.googleapis.com/auth/"))
        bad = "scope is missing or not a googleapis.com scope";
    else if (!f[5] || !*f[5])
        bad = "subject_token is missing";
    else if (!str_eq(f[5], opt.subject_token))
        bad = "The subject token is invalid.";
    enum MHD_Result ret = bad ? invalid_grant(conn, "%s", bad) : token_answer(conn, 0, "sts", NULL);
    for (int i = 0; i < 6; i++)
        free(f[i]);
    return ret;
}

/* ---- IAM Credentials generateAccessToken ------------------------------------------ */

static enum MHD_Result handle_iam(struct MHD_Connection *conn, request *rq)
{
    count(&iam_requests);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !was_issued(auth + 7)) {
        count(&rejected);
        return rpc_error(conn, 401, "UNAUTHENTICATED",
                         "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                         "or other valid authentication credential.");
    }
    const char *mode = mode_for("iam");
    wait_delay("iam");
    if (strcmp(mode, "invalid_grant") == 0) {
        count(&rejected);
        return rpc_error(conn, 400, "INVALID_ARGUMENT", "Invalid grant: the source credential was refused.");
    }
    if (strcmp(mode, "denied") == 0) {
        count(&rejected);
        return rpc_error(conn, 403, "PERMISSION_DENIED",
                         "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    }
    if (strcmp(mode, "500") == 0)
        return rpc_error(conn, 500, "INTERNAL", "Internal error encountered.");
    cJSON *body = rq->body && !rq->too_big ? parse_json(rq->body, rq->len) : NULL;
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(body, "scope");
    const cJSON *lifetime = cJSON_GetObjectItemCaseSensitive(body, "lifetime");
    const cJSON *delegates = cJSON_GetObjectItemCaseSensitive(body, "delegates");
    const char *bad = NULL;
    int scope_ok = 0;
    for (const cJSON *e = cJSON_IsArray(scope) ? scope->child : NULL; e; e = e->next)
        scope_ok |= cJSON_IsString(e) && strstr(e->valuestring, "https://www.googleapis.com/auth/") != NULL;
    char *end = NULL;
    long secs = cJSON_IsString(lifetime) ? strtol(lifetime->valuestring, &end, 10) : -1;
    if (!cJSON_IsObject(body))
        bad = "The request body is not a JSON object.";
    else if (!scope_ok)
        bad = "Field \"scope\" must be a list with a googleapis.com scope.";
    else if (secs <= 0 || secs > 43200 || !end || strcmp(end, "s") != 0)
        bad = "Field \"lifetime\" must be a duration such as \"3600s\".";
    else if (delegates && !cJSON_IsArray(delegates))
        bad = "Field \"delegates\" must be a list.";
    for (const cJSON *e = cJSON_IsArray(delegates) ? delegates->child : NULL; !bad && e; e = e->next)
        if (!cJSON_IsString(e))
            bad = "Field \"delegates\" must be a list of strings.";
    if (bad) {
        cJSON_Delete(body);
        count(&rejected);
        return rpc_error(conn, 400, "INVALID_ARGUMENT", bad);
    }
    char *dl = delegates ? cJSON_PrintUnformatted(delegates) : strdup("[]");
    pthread_mutex_lock(&stats_lock);
    free(last_delegates);
    last_delegates = dl;
    long n = ++iam_issued;
    pthread_mutex_unlock(&stats_lock);
    cJSON_Delete(body);
    char token[256];
    if (opt.token)
        snprintf(token, sizeof token, "%s", opt.token);
    else
        snprintf(token, sizeof token, "ya29.impersonated-%ld", n);
    remember_issued(token);
    if (strcmp(mode, "garbage") == 0) {
        char html[512];
        snprintf(html, sizeof html, "<html><body>Service temporarily confused. %s</body></html>", token);
        return reply(conn, 200, "text/html", html, 0);
    }
    time_t at = time(NULL) + secs;
    struct tm tm;
    gmtime_r(&at, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "accessToken", token);
    cJSON_AddStringToObject(j, "expireTime", when);
    return reply_json(conn, 200, j, 0);
}

/* ---- Cloud Logging's entries:list ------------------------------------------------ */

/* Reads `"VALUE"` at *p (no escapes needed for the names tests use) into out. */
static int quoted(const char **p, char *out, size_t size)
{
    const char *s = *p;
    if (*s != '"')
        return -1;
    const char *e = strchr(s + 1, '"');
    if (!e || (size_t)(e - s - 1) >= size)
        return -1;
    memcpy(out, s + 1, (size_t)(e - s - 1));
    out[e - s - 1] = 0;
    *p = e + 1;
    return 0;
}

/* The filter's clauses, in the order the client must write them. */
static const char *parse_filter(const char *f, char vals[7][128])
{
    static const char *const keys[] = {"resource.type = ",
                                       "resource.labels.project_id = ",
                                       "resource.labels.location = ",
                                       "resource.labels.job_name = ",
                                       "labels.\"run.googleapis.com/execution_name\" = ",
                                       "labels.\"run.googleapis.com/task_index\" = ",
                                       "timestamp >= "};
    for (int i = 0; i < 7; i++)
        vals[i][0] = 0;
    const char *p = f;
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(keys[i]);
        if (strncmp(p, keys[i], n) != 0) {
            if (i < 5)
                return "filter: a clause is missing or out of order";
            continue;
        }
        p += n;
        if (quoted(&p, vals[i], sizeof vals[i]) != 0 || !vals[i][0])
            return "filter: a value is not a quoted string";
        if (*p == 0)
            break;
        if (strncmp(p, " AND ", 5) != 0)
            return "filter: clauses must be joined by \" AND \"";
        p += 5;
    }
    if (*p)
        return "filter: an unknown clause, or one out of order";
    if (strcmp(vals[0], "cloud_run_job") != 0)
        return "filter: resource.type must be \"cloud_run_job\"";
    if (vals[5][0] && strspn(vals[5], "0123456789") != strlen(vals[5]))
        return "filter: task_index must be a number";
    return NULL;
}

static enum MHD_Result handle_entries(struct MHD_Connection *conn, request *rq)
{
    count(&entries_requests);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !was_issued(auth + 7)) {
        count(&rejected);
        return rpc_error(conn, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    }
    cJSON *body = rq->body && !rq->too_big ? parse_json(rq->body, rq->len) : NULL;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(body, "resourceNames");
    const cJSON *filter = cJSON_GetObjectItemCaseSensitive(body, "filter");
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(body, "orderBy");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(body, "pageSize");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(body, "pageToken");
    char vals[7][128];
    const char *bad = NULL;
    if (!cJSON_IsObject(body))
        bad = "The request body is not a JSON object.";
    else if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) != 1 || !cJSON_IsString(names->child) ||
             strncmp(names->child->valuestring, "projects/", 9) != 0 || !names->child->valuestring[9])
        bad = "resourceNames must be [\"projects/PROJECT\"].";
    else if (order && (!cJSON_IsString(order) || strcmp(order->valuestring, "timestamp asc") != 0))
        bad = "orderBy must be \"timestamp asc\".";
    else if (size && (!cJSON_IsNumber(size) || size->valuedouble < 1 || size->valuedouble > 1000))
        bad = "pageSize must be 1 to 1000.";
    else if (token && !cJSON_IsString(token))
        bad = "pageToken must be a string.";
    else if (!cJSON_IsString(filter))
        bad = "filter must be a string.";
    else
        bad = parse_filter(filter->valuestring, vals);
    if (cJSON_IsString(filter)) {
        char *copy = strdup(filter->valuestring);
        pthread_mutex_lock(&stats_lock);
        free(last_filter);
        last_filter = copy;
        last_page_size = cJSON_IsNumber(size) ? size->valuedouble : -1;
        pthread_mutex_unlock(&stats_lock);
    }
    if (!bad && strcmp(names->child->valuestring + 9, vals[1]) != 0)
        bad = "resourceNames and the filter's project_id differ.";
    if (bad) {
        cJSON_Delete(body);
        count(&rejected);
        return rpc_error(conn, 400, "INVALID_ARGUMENT", bad);
    }
    pthread_mutex_lock(&stats_lock);
    static long busy_answers;
    int busy = opt.entries_busy > 0;
    int first = busy && busy_answers++ == 0;
    if (busy)
        opt.entries_busy--;
    pthread_mutex_unlock(&stats_lock);
    if (first) {
        cJSON_Delete(body);
        return rpc_error(conn, 503, "UNAVAILABLE", "The service is currently unavailable.");
    }
    if (busy) {
        cJSON_Delete(body);
        cJSON *j = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(j, "error");
        cJSON_AddNumberToObject(e, "code", 429);
        cJSON_AddStringToObject(e, "message", "Quota exceeded for quota metric 'Read requests'.");
        cJSON_AddStringToObject(e, "status", "RESOURCE_EXHAUSTED");
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Retry-After", "1");
        enum MHD_Result ret = MHD_queue_response(conn, 429, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (opt.entries_body) {
        cJSON_Delete(body);
        FILE *f = fopen(opt.entries_body, "rb");
        char *text = calloc(1, MAX_BODY + 1);
        size_t n = f && text ? fread(text, 1, MAX_BODY, f) : 0;
        if (f)
            fclose(f);
        if (!text)
            return MHD_NO;
        struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    int from = cJSON_IsString(token) ? atoi(token->valuestring) : 0;
    int limit = size ? (int)size->valuedouble : 50;
    if (limit > 4)
        limit = 4;
    cJSON *j = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(j, "entries");
    int seen = 0, more = 0;
    for (int task = 0; task < 2; task++)
        for (int n = 1; n <= 3; n++) {
            char when[32], idx[8], text[160], id[32];
            snprintf(when, sizeof when, "2026-01-01T00:00:0%dZ", task * 3 + n);
            snprintf(idx, sizeof idx, "%d", task);
            if (vals[5][0] && strcmp(vals[5], idx) != 0)
                continue;
            if (vals[6][0] && strcmp(when, vals[6]) < 0)
                continue;
            if (seen++ < from)
                continue;
            if (cJSON_GetArraySize(list) >= limit) {
                more = 1;
                continue;
            }
            snprintf(text, sizeof text, "line %d of task %d of %s", n, task, vals[4]);
            snprintf(id, sizeof id, "e-%d-%d", task, n);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "insertId", id);
            cJSON_AddStringToObject(e, "timestamp", when);
            cJSON_AddStringToObject(e, "textPayload", text);
            cJSON *labels = cJSON_AddObjectToObject(e, "labels");
            cJSON_AddStringToObject(labels, "run.googleapis.com/execution_name", vals[4]);
            cJSON_AddStringToObject(labels, "run.googleapis.com/task_index", idx);
            cJSON *res = cJSON_AddObjectToObject(e, "resource");
            cJSON_AddStringToObject(res, "type", "cloud_run_job");
            cJSON *rl = cJSON_AddObjectToObject(res, "labels");
            cJSON_AddStringToObject(rl, "project_id", vals[1]);
            cJSON_AddStringToObject(rl, "location", vals[2]);
            cJSON_AddStringToObject(rl, "job_name", vals[3]);
            cJSON_AddItemToArray(list, e);
        }
    if (more) {
        char next[16];
        snprintf(next, sizeof next, "%d", from + cJSON_GetArraySize(list));
        cJSON_AddStringToObject(j, "nextPageToken", next);
    }
    cJSON_Delete(body);
    return reply_json(conn, 200, j, 0);
}

/* ---- a URL-sourced subject token ------------------------------------------------- */

static enum MHD_Result handle_subject(struct MHD_Connection *conn)
{
    count(&subject_requests);
    if (opt.subject_header) {
        const char *colon = strchr(opt.subject_header, ':');
        char name[128];
        snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - opt.subject_header) : 0, opt.subject_header);
        const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
        if (!colon || !got || strcmp(got, colon + 1) != 0) {
            count(&rejected);
            return reply(conn, 403, "text/plain", "Missing or wrong subject token header\n", 0);
        }
    }
    const char *format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
    if (format && strcmp(format, "json") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id_token", opt.subject_token);
        return reply_json(conn, 200, j, 0);
    }
    return reply(conn, 200, "text/plain", opt.subject_token, 0);
}

/* ---- the metadata server ------------------------------------------------------ */

static enum MHD_Result handle_metadata(struct MHD_Connection *conn, const char *path)
{
    int flavor = strcmp(mode_for("metadata"), "no_flavor") != 0;
    int is_token = strcmp(path, "instance/service-accounts/default/token") == 0;
    int is_project = strcmp(path, "project/project-id") == 0;
    int is_root = strcmp(path, "") == 0;
    int is_region = strcmp(path, "instance/region") == 0;
    int is_email = strcmp(path, "instance/service-accounts/default/email") == 0;
    if (is_token)
        count(&metadata_requests);
    else if (is_project)
        count(&project_requests);
    else if (is_root)
        count(&probe_requests);
    else if (is_region)
        count(&region_requests);
    else if (is_email)
        count(&email_requests);
    const char *f = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata-Flavor");
    if (!f || strcmp(f, "Google") != 0) {
        count(&rejected);
        return reply(conn, 403, "text/plain", "Missing required header: Metadata-Flavor\n", flavor);
    }
    if (is_token)
        return token_answer(conn, flavor, "metadata", NULL);
    if (is_region) {
        char region[256];
        snprintf(region, sizeof region, "projects/123456/regions/%s", opt.region);
        return reply(conn, 200, "application/text", region, flavor);
    }
    if (is_email)
        return reply(conn, 200, "application/text", opt.email, flavor);
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
    cJSON_AddNumberToObject(j, "refresh_requests", (double)refresh_requests);
    cJSON_AddNumberToObject(j, "sts_requests", (double)sts_requests);
    cJSON_AddNumberToObject(j, "iam_requests", (double)iam_requests);
    cJSON_AddNumberToObject(j, "subject_requests", (double)subject_requests);
    cJSON_AddNumberToObject(j, "region_requests", (double)region_requests);
    cJSON_AddNumberToObject(j, "email_requests", (double)email_requests);
    cJSON *dl = last_delegates ? parse_json(last_delegates, strlen(last_delegates)) : NULL;
    cJSON_AddItemToObject(j, "last_delegates", dl ? dl : cJSON_CreateNull());
    cJSON_AddNumberToObject(j, "entries_requests", (double)entries_requests);
    cJSON_AddNumberToObject(j, "run_iam_requests", (double)run_iam_requests);
    cJSON_AddItemToObject(j, "last_filter", last_filter ? cJSON_CreateString(last_filter) : cJSON_CreateNull());
    cJSON_AddItemToObject(j, "last_page_size",
                          last_page_size >= 0 ? cJSON_CreateNumber(last_page_size) : cJSON_CreateNull());
    pthread_mutex_unlock(&stats_lock);
    return reply_json(conn, 200, j, 0);
}

/* ---- Cloud Run's IAM methods on jobs (fake_iam.c) ---------------------------------- */

typedef struct params {
    fake_param p[16];
    size_t n;
} params;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    params *ps = cls;
    if (ps->n < sizeof ps->p / sizeof ps->p[0])
        ps->p[ps->n++] = (fake_param){key, value};
    return MHD_YES;
}

static enum MHD_Result handle_run_iam(struct MHD_Connection *conn, const char *url, const char *method, request *rq)
{
    count(&run_iam_requests);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !was_issued(auth + 7)) {
        count(&rejected);
        return rpc_error(conn, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    }
    params ps = {.n = 0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &ps);
    char *answer = NULL;
    const char *allow = NULL;
    unsigned status = fake_iam_handle(method, url, ps.p, ps.n, rq->body, rq->len, rq->too_big, &answer, &allow);
    enum MHD_Result ret = reply(conn, status, "application/json; charset=UTF-8", answer ? answer : "{}", 0);
    free(answer);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    enum MHD_Result taken;
    if (request_collect(con_cls, upload_data, upload_data_size, MAX_BODY, &taken))
        return taken;
    request *rq = *con_cls;
    static const char md_prefix[] = "/computeMetadata/v1/";
    if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0)
        return handle_token(conn, rq);
    if (strncmp(url, md_prefix, sizeof md_prefix - 1) == 0 && strcmp(method, "GET") == 0)
        return handle_metadata(conn, url + sizeof md_prefix - 1);
    if (strcmp(url, "/stats") == 0 && strcmp(method, "GET") == 0)
        return handle_stats(conn);
    if (strcmp(url, "/sts") == 0 && strcmp(method, "POST") == 0)
        return handle_sts(conn, rq);
    static const char iam_prefix[] = "/v1/projects/-/serviceAccounts/", iam_suffix[] = ":generateAccessToken";
    size_t ulen = strlen(url);
    if (strncmp(url, iam_prefix, sizeof iam_prefix - 1) == 0 && ulen > sizeof iam_prefix + sizeof iam_suffix - 2 &&
        strcmp(url + ulen - (sizeof iam_suffix - 1), iam_suffix) == 0 && strcmp(method, "POST") == 0)
        return handle_iam(conn, rq);
    if (strcmp(url, "/subject-token") == 0 && strcmp(method, "GET") == 0)
        return handle_subject(conn);
    if (strcmp(url, "/v2/entries:list") == 0 && strcmp(method, "POST") == 0)
        return handle_entries(conn, rq);
    if (fake_iam_path(url))
        return handle_run_iam(conn, url, method, rq);
    if (strcmp(url, "/iam-requests") == 0 && strcmp(method, "GET") == 0) {
        char *text = fake_iam_requests();
        enum MHD_Result ret = reply(conn, 200, "application/json", text ? text : "{}", 0);
        free(text);
        return ret;
    }
    if (fake_run_takes(url, method)) {
        static const fake_run_hooks hooks = {was_issued, parse_json};
        return fake_run_answer(conn, url, method, rq, &hooks);
    }
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
                    "no_flavor|denied] [--token T] [--expires-in N] [--kid ID] [--project ID] [--delay S]\n"
                    "                      [--fault-on token,sts,iam,metadata] [--client-id X] [--client-secret Y]\n"
                    "                      [--refresh-token Z] [--rotate-refresh-token NEW] [--subject-token V]\n"
                    "                      [--subject-header NAME:VALUE] [--region R] [--email E] [--entries-busy N]\n"
                    "                      [--entries-body FILE]\n");
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
        else if (strcmp(a, "--fault-on") == 0)
            opt.fault_on = v;
        else if (strcmp(a, "--client-id") == 0)
            opt.client_id = v;
        else if (strcmp(a, "--client-secret") == 0)
            opt.client_secret = v;
        else if (strcmp(a, "--refresh-token") == 0)
            opt.refresh_token = v;
        else if (strcmp(a, "--rotate-refresh-token") == 0)
            opt.rotate_refresh_token = v;
        else if (strcmp(a, "--subject-token") == 0)
            opt.subject_token = v;
        else if (strcmp(a, "--subject-header") == 0)
            opt.subject_header = v;
        else if (strcmp(a, "--region") == 0)
            opt.region = v;
        else if (strcmp(a, "--email") == 0)
            opt.email = v;
        else if (strcmp(a, "--entries-busy") == 0)
            opt.entries_busy = atol(v);
        else if (strcmp(a, "--entries-body") == 0)
            opt.entries_body = v;
        else
            usage();
        i++;
    }
    static const char *const modes[] = {"ok", "invalid_grant", "500", "garbage", "slow", "no_flavor", "denied"};
    int known = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        known |= strcmp(opt.mode, modes[i]) == 0;
    if (!known)
        usage();
    if (opt.delay < 0)
        opt.delay = strcmp(opt.mode, "slow") == 0 ? 5 : 0;
    current_refresh = strdup(opt.refresh_token);

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
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
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
    free(current_refresh);
    free(last_delegates);
    free(last_filter);
    fake_run_free();
    fake_iam_free();
    for (size_t i = 0; i < nissued; i++)
        free(issued[i]);
    free(issued);
    return 0;
}
