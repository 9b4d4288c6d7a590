/*
** test_self_signed.c — service accounts signing their own access JWTs
** (AIP-4111) with the exchange as the fallback; the quota project and its
** environment override; the cached token's expiry; cr_metadata_lookup with
** its remembered failed probe; the metadata credential's account email.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "testkit.h"

#include "auth/credentials.h"

#include <time.h>

#include <openssl/err.h>

static double cr_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static cJSON *decode_part(const char *s, size_t n)
{
    BIO *b64 = BIO_new(BIO_f_base64()), *mem;
    char *std = malloc(n + 4);
    size_t i;
    for (i = 0; i < n; i++)
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (i % 4)
        std[i++] = '=';
    mem = BIO_new_mem_buf(std, (int)i);
    BIO_set_flags(b64, BIO_FLAGS_BASE64_NO_NL);
    BIO_push(b64, mem);
    char out[4096];
    int len = BIO_read(b64, out, sizeof out - 1);
    BIO_free_all(b64);
    free(std);
    return len > 0 ? cr_json_parse(out, (size_t)len, NULL) : NULL;
}

/* Verifies an RS256 JWT with key `which`; returns its claims (caller frees) or NULL. */
static cJSON *verify_jwt(const char *jwt, int which, cJSON **header)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2)
        return NULL;
    size_t siglen = 0;
    char *sig64 = strdup(d2 + 1);
    size_t n = strlen(sig64);
    char *std = malloc(n + 4);
    size_t i;
    for (i = 0; i < n; i++)
        std[i] = sig64[i] == '-' ? '+' : sig64[i] == '_' ? '/' : sig64[i];
    while (i % 4)
        std[i++] = '=';
    unsigned char sig[1024];
    BIO *b64 = BIO_new(BIO_f_base64()), *mem = BIO_new_mem_buf(std, (int)i);
    BIO_set_flags(b64, BIO_FLAGS_BASE64_NO_NL);
    BIO_push(b64, mem);
    int r = BIO_read(b64, sig, sizeof sig);
    siglen = r > 0 ? (size_t)r : 0;
    BIO_free_all(b64);
    free(std), free(sig64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, kit_key(which)) == 1 &&
             EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok)
        return NULL;
    *header = decode_part(jwt, (size_t)(d1 - jwt));
    return decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

TEST(a_self_signed_jwt_is_the_token_signed_by_the_key_without_any_request)
{
    kit_fake f;
    if (kit_fake_start(&f, 0, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *path = kit_sa_file("self.json", 0, "self@p.iam.gserviceaccount.com", "kid-self", f.token_uri);
    cr_credentials_options opts = {.self_signed_jwt = 1};
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file_opts(path, &opts, &err);
    CHECK(c != NULL);
    cr_credentials *exchanging = cr_credentials_from_file(path, &err);
    CHECK(exchanging != NULL && exchanging != c); /* the mode is part of the registry key */
    cr_credentials *again = cr_credentials_from_file_opts(path, &opts, &err);
    CHECK(again == c);
    cr_credentials_unref(again);

    char *t = NULL, *t2 = NULL;
    int64_t exp = 0, now = time(NULL);
    CHECK_INT(cr_credentials_token(c, &t, &exp, &err), 0);
    cJSON *header = NULL, *claims = t ? verify_jwt(t, 0, &header) : NULL;
    CHECK(claims != NULL);
    CHECK_STR(str(header, "alg"), "RS256");
    CHECK_STR(str(header, "typ"), "JWT");
    CHECK_STR(str(header, "kid"), "kid-self");
    CHECK_STR(str(claims, "iss"), "self@p.iam.gserviceaccount.com");
    CHECK_STR(str(claims, "sub"), "self@p.iam.gserviceaccount.com");
    CHECK_STR(str(claims, "aud"), "https://run.googleapis.com/");
    CHECK(cJSON_GetObjectItemCaseSensitive(claims, "scope") == NULL);
    double iat = num(claims, "iat");
    CHECK(iat >= now - 5 && iat <= now + 5);
    CHECK_INT((int64_t)num(claims, "exp"), (int64_t)iat + 3600);
    CHECK_INT(exp, (int64_t)iat + 3600);
    CHECK_INT(cr_credentials_expires_at(c), exp);
    /* Cached like any token. */
    CHECK_INT(cr_credentials_token(c, &t2, NULL, &err), 0);
    CHECK_STR(t2, t);
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 0);

    /* The API refuses it: from now on the JWT-bearer exchange, for good. */
    cr_credentials_invalidate(c, t);
    cr_secret_free(t2);
    t2 = NULL;
    CHECK_INT(cr_credentials_token(c, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 1);
    cr_credentials_invalidate(c, t2);
    char *t3 = NULL;
    CHECK_INT(cr_credentials_token(c, &t3, NULL, &err), 0);
    CHECK_STR(t3, "ya29.fake-2");
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cJSON_Delete(header), cJSON_Delete(claims);
    cr_secret_free(t), cr_secret_free(t2), cr_secret_free(t3);
    cr_credentials_unref(exchanging);
    cr_credentials_unref(c);
    free(path);
    kit_fake_stop(&f);
}

TEST(the_self_signed_audience_can_be_chosen_and_json_in_memory_works_too)
{
    char *pem = kit_private_pem(kit_key(1));
    char *json = kit_sa_json("aud@p.iam", pem, NULL, NULL, NULL);
    cr_credentials_options opts = {.self_signed_jwt = 1, .audience = "https://pubsub.googleapis.com/"};
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_json_opts(json, strlen(json), "inline", &opts, &err);
    CHECK(c != NULL);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), 0);
    cJSON *header = NULL, *claims = t ? verify_jwt(t, 1, &header) : NULL;
    CHECK(claims != NULL);
    CHECK_STR(str(claims, "aud"), "https://pubsub.googleapis.com/");
    CHECK(cJSON_GetObjectItemCaseSensitive(header, "kid") == NULL);
    cJSON_Delete(header), cJSON_Delete(claims);
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json), free(pem);
}

TEST(the_quota_project_comes_from_the_file_and_the_environment_overrides_it)
{
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    char *pem = kit_private_pem(kit_key(0));
    cJSON *j = cr_json_parse("{}", 2, NULL);
    cJSON_AddStringToObject(j, "type", "service_account");
    cJSON_AddStringToObject(j, "client_email", "q@p.iam");
    cJSON_AddStringToObject(j, "private_key", pem);
    cJSON_AddStringToObject(j, "quota_project_id", "file-quota");
    char *sa = cJSON_Print(j);
    cJSON_Delete(j);
    char *user = kit_user_json("c", "s", "r", NULL, "user-quota");
    cr_error err = CR_ERROR_INIT;
    cr_credentials *a = cr_credentials_from_json(sa, strlen(sa), "sa", &err);
    cr_credentials *b = cr_credentials_from_json(user, strlen(user), "user", &err);
    cr_credentials *s = cr_credentials_from_access_token("ya29.static", 0, &err);
    CHECK_STR(cr_credentials_quota_project(a), "file-quota");
    CHECK_STR(cr_credentials_quota_project(b), "user-quota");
    CHECK(cr_credentials_quota_project(s) == NULL);
    setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota", 1);
    const char *q = cr_credentials_quota_project(a);
    CHECK_STR(q, "env-quota");
    CHECK_STR(cr_credentials_quota_project(s), "env-quota");
    setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "env-quota-2", 1);
    CHECK_STR(cr_credentials_quota_project(b), "env-quota-2");
    CHECK_STR(q, "env-quota"); /* a string handed out stays valid */
    setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "", 1);
    CHECK_STR(cr_credentials_quota_project(a), "file-quota");
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    CHECK_STR(cr_credentials_quota_project(b), "user-quota");
    cr_credentials_unref(a), cr_credentials_unref(b), cr_credentials_unref(s);
    free(sa), free(user), free(pem);
}

TEST(expires_at_is_the_cached_tokens_expiry_and_zero_before_any)
{
    kit_fake f;
    const char *args[] = {"--expires-in", "1800", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(f.host, &err);
    CHECK_INT(cr_credentials_expires_at(c), 0);
    CHECK_INT(kit_fake_stat(&f, "metadata_requests"), 0); /* no fetch */
    char *t = NULL;
    int64_t exp = 0;
    CHECK_INT(cr_credentials_token(c, &t, &exp, &err), 0);
    CHECK(exp >= time(NULL) + 1790);
    CHECK_INT(cr_credentials_expires_at(c), exp);
    cr_credentials_invalidate(c, t);
    CHECK_INT(cr_credentials_expires_at(c), 0);
    cr_credentials *s = cr_credentials_from_access_token("ya29.static", 12345, &err);
    CHECK_INT(cr_credentials_expires_at(s), 12345);
    cr_secret_free(t);
    cr_credentials_unref(s);
    cr_credentials_unref(c);
    kit_fake_stop(&f);
}

TEST(the_metadata_credential_learns_its_account_email_with_the_first_token)
{
    kit_fake f;
    const char *args[] = {"--email", "runner@proj.iam.gserviceaccount.com", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(f.host, &err);
    CHECK(cr_credentials_account(c) == NULL);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), 0);
    CHECK_STR(cr_credentials_account(c), "runner@proj.iam.gserviceaccount.com");
    cr_credentials_invalidate(c, t);
    cr_secret_free(t);
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), 0);
    CHECK_INT(kit_fake_stat(&f, "email_requests"), 1);
    cr_secret_free(t);
    cr_credentials_unref(c);
    kit_fake_stop(&f);
}

TEST(metadata_lookup_answers_project_and_region_trimmed)
{
    kit_fake f;
    const char *args[] = {"--project", "look-project", "--region", "europe-west1", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    setenv("GCE_METADATA_HOST", f.host, 1);
    cr_error err = CR_ERROR_INIT;
    char *p = cr_metadata_lookup("project/project-id", &err);
    char *r = cr_metadata_lookup("/instance/region", &err);
    CHECK_STR(p, "look-project");
    CHECK_STR(r, "projects/123456/regions/europe-west1");
    char *missing = cr_metadata_lookup("instance/nothing-here", &err);
    CHECK(missing == NULL);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_CONTAINS(err.message, "instance/nothing-here answered 404");
    cr_error_clear(&err);
    /* A 404 does not make the server count as absent. */
    char *again = cr_metadata_lookup("project/project-id", NULL);
    CHECK_STR(again, "look-project");
    CHECK_INT(kit_fake_stat(&f, "project_requests"), 2);
    CHECK_INT(kit_fake_stat(&f, "region_requests"), 1);
    free(p), free(r), free(again);
    unsetenv("GCE_METADATA_HOST");
    kit_fake_stop(&f);
}

TEST(a_failed_metadata_probe_is_remembered_and_the_second_lookup_is_fast)
{
    /* A loopback listener that never accepts nor answers: the first lookup
    ** waits for the timeout, the second one must not. (Loopback only: tests
    ** send nothing to any other address.) */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    CHECK(bind(silent, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(silent, 8) == 0 &&
          getsockname(silent, (struct sockaddr *)&sa, &salen) == 0);
    char silent_host[64];
    snprintf(silent_host, sizeof silent_host, "127.0.0.1:%d", ntohs(sa.sin_port));
    setenv("GCE_METADATA_HOST", silent_host, 1);
    setenv("GCE_METADATA_TIMEOUT", "0.3", 1);
    cr_error err = CR_ERROR_INIT, err2 = CR_ERROR_INIT;
    double t0 = cr_test_now();
    char *p = cr_metadata_lookup("project/project-id", &err);
    double t1 = cr_test_now();
    char *r = cr_metadata_lookup("instance/region", &err2);
    double t2 = cr_test_now();
    CHECK(p == NULL && r == NULL);
    CHECK_CONTAINS(err.message, silent_host);
    CHECK_CONTAINS(err.message, "/computeMetadata/v1/project/project-id");
    CHECK_STR(err2.message, err.message);
    CHECK_STR(err2.code, err.code);
    CHECK(t1 - t0 < 5);
    CHECK(t2 - t1 < 0.05);
    fprintf(stderr, "  first lookup %.3f s, remembered failure %.6f s\n", t1 - t0, t2 - t1);
    cr_error_clear(&err), cr_error_clear(&err2);
    close(silent);

    /* A closed port fails at once, and is remembered too. */
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", kit_closed_port());
    setenv("GCE_METADATA_HOST", host, 1);
    p = cr_metadata_lookup("project/project-id", &err);
    CHECK(p == NULL);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_CONTAINS(err.message, host);
    cr_error_clear(&err);
    unsetenv("GCE_METADATA_HOST");
    unsetenv("GCE_METADATA_TIMEOUT");
}

int main(void)
{
    return check_run();
}
