/*
** test_token.c — service-account tokens from cr-fake-google over real
** loopback HTTP: the JWT-bearer exchange, the cache and its refresh margin,
** invalidation, one refresh for many threads, and each way the token
** endpoint can fail.
*/
#include <pthread.h>

#include "check.h"
#include "testkit.h"

#include "auth/credentials.h"

/* A fake with key 0's public key plus `extra` args, and a key file for key
** `which` pointing at it. */
typedef struct setup {
    kit_fake fake;
    char *path;
    cr_credentials *creds;
    int up;
} setup;

static int setup_start(setup *s, const char *name, int which, const char *kid, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    if (kit_fake_start(&s->fake, 0, extra) < 0)
        return -1;
    s->path = kit_sa_file(name, which, "tester@test-project.iam.gserviceaccount.com", kid, s->fake.token_uri);
    cr_error err = CR_ERROR_INIT;
    s->creds = cr_credentials_from_file(s->path, &err);
    if (!s->creds) {
        fprintf(stderr, "  %s\n", err.message);
        cr_error_clear(&err);
        kit_fake_stop(&s->fake);
        return -1;
    }
    s->up = 1;
    return 0;
}

static void setup_stop(setup *s)
{
    cr_credentials_unref(s->creds);
    kit_fake_stop(&s->fake);
    free(s->path);
}

/* Asks for a token expecting failure; checks code, status, the message names
** the token endpoint, and it holds no secret. */
static void expect_token_error(setup *s, const char *code, int status, const char *want)
{
    cr_error err = CR_ERROR_INIT;
    char *tok = NULL;
    CHECK_INT(cr_credentials_token(s->creds, &tok, NULL, &err), -1);
    CHECK(tok == NULL);
    CHECK_STR(err.code, code);
    CHECK_INT(err.status, status);
    CHECK_CONTAINS(err.message, s->fake.token_uri);
    CHECK_CONTAINS(err.message, want);
    CHECK_NOT_CONTAINS(err.message, kit_key_fragment(0));
    CHECK_NOT_CONTAINS(err.message, "ya29.");
    CHECK_NOT_CONTAINS(err.message, "eyJ"); /* the start of any JWT: the assertion */
    cr_error_clear(&err);
}

TEST(a_service_account_gets_a_token_and_reuses_it_from_the_cache)
{
    setup s;
    const char *args[] = {"--kid", "kid-ok", NULL};
    if (setup_start(&s, "ok.json", 0, "kid-ok", args) < 0) {
        CHECK(!"setup");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    char *t1 = NULL, *t2 = NULL;
    int64_t exp = 0, now = time(NULL);
    CHECK_INT(cr_credentials_token(s.creds, &t1, &exp, &err), 0);
    if (err.message)
        fprintf(stderr, "  %s\n", err.message);
    CHECK_STR(t1, "ya29.fake-1");
    CHECK(exp >= now + 3600 - 5 && exp <= now + 3600 + 5);
    CHECK_INT(cr_credentials_token(s.creds, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-1");
    CHECK(t1 != t2); /* a copy each time */
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 1);
    CHECK_INT(kit_fake_stat(&s.fake, "rejected"), 0);

    /* A second load of the file shares the cache. */
    cr_credentials *again = cr_credentials_from_file(s.path, &err);
    CHECK(again == s.creds);
    char *t3 = NULL;
    CHECK_INT(cr_credentials_token(again, &t3, NULL, &err), 0);
    CHECK_STR(t3, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 1);
    cr_credentials_unref(again);
    cr_secret_free(t1), cr_secret_free(t2), cr_secret_free(t3);
    setup_stop(&s);
}

TEST(a_token_inside_the_refresh_margin_is_refreshed_on_the_next_call)
{
    setup s;
    const char *args[] = {"--expires-in", "100", NULL};
    if (setup_start(&s, "short.json", 0, "kid-short", args) < 0) {
        CHECK(!"setup");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    char *t1 = NULL, *t2 = NULL;
    CHECK_INT(cr_credentials_token(s.creds, &t1, NULL, &err), 0);
    CHECK_STR(t1, "ya29.fake-1");
    CHECK_INT(cr_credentials_token(s.creds, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-2");
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 2);
    cr_secret_free(t1), cr_secret_free(t2);
    setup_stop(&s);
}

TEST(a_token_just_outside_the_margin_is_still_reused)
{
    setup s;
    const char *args[] = {"--expires-in", "240", NULL};
    if (setup_start(&s, "margin.json", 0, "kid-margin", args) < 0) {
        CHECK(!"setup");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    char *t1 = NULL, *t2 = NULL;
    CHECK_INT(cr_credentials_token(s.creds, &t1, NULL, &err), 0);
    CHECK_INT(cr_credentials_token(s.creds, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 1);
    cr_secret_free(t1), cr_secret_free(t2);
    setup_stop(&s);
}

TEST(invalidating_the_current_token_forces_a_refresh_and_a_stale_one_does_not)
{
    setup s;
    if (setup_start(&s, "inval.json", 0, "kid-inval", NULL) < 0) {
        CHECK(!"setup");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    char *t1 = NULL, *t2 = NULL, *t3 = NULL;
    CHECK_INT(cr_credentials_token(s.creds, &t1, NULL, &err), 0);
    cr_credentials_invalidate(s.creds, t1);
    CHECK_INT(cr_credentials_token(s.creds, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-2");
    /* Another holder's 401 for the old token must not throw away the new one. */
    cr_credentials_invalidate(s.creds, t1);
    CHECK_INT(cr_credentials_token(s.creds, &t3, NULL, &err), 0);
    CHECK_STR(t3, "ya29.fake-2");
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 2);
    cr_secret_free(t1), cr_secret_free(t2), cr_secret_free(t3);
    setup_stop(&s);
}

typedef struct racer {
    cr_credentials *creds;
    pthread_barrier_t *start;
    char *token;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    cr_error err = CR_ERROR_INIT;
    pthread_barrier_wait(r->start);
    r->rc = cr_credentials_token(r->creds, &r->token, NULL, &err);
    cr_error_clear(&err);
    return NULL;
}

TEST(many_threads_asking_at_once_cause_exactly_one_token_request)
{
    setup s;
    /* A slow endpoint keeps the refresh in flight while the others arrive. */
    const char *args[] = {"--mode", "slow", "--delay", "0.3", NULL};
    if (setup_start(&s, "race.json", 0, "kid-race", args) < 0) {
        CHECK(!"setup");
        return;
    }
    enum { N = 64 };
    pthread_t th[N];
    racer r[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.creds = s.creds, .start = &start};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(r[i].rc, 0);
        CHECK_STR(r[i].token, "ya29.fake-1");
        cr_secret_free(r[i].token);
    }
    pthread_barrier_destroy(&start);
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 1);
    setup_stop(&s);
}

TEST(threads_waiting_on_a_failing_refresh_share_its_error)
{
    setup s;
    const char *args[] = {"--mode", "invalid_grant", "--delay", "0.5", NULL};
    if (setup_start(&s, "race-fail.json", 0, "kid-race-fail", args) < 0) {
        CHECK(!"setup");
        return;
    }
    enum { N = 16 };
    pthread_t th[N];
    racer r[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.creds = s.creds, .start = &start};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(r[i].rc, -1);
        CHECK(r[i].token == NULL);
    }
    pthread_barrier_destroy(&start);
    CHECK_INT(kit_fake_stat(&s.fake, "token_requests"), 1);
    setup_stop(&s);
}

TEST(a_rejected_grant_is_unauthenticated_with_the_oauth_error)
{
    setup s;
    const char *args[] = {"--mode", "invalid_grant", NULL};
    if (setup_start(&s, "grant.json", 0, "kid-grant", args) < 0) {
        CHECK(!"setup");
        return;
    }
    expect_token_error(&s, "UNAUTHENTICATED", 400, "answered 400: invalid_grant: Invalid JWT Signature.");
    cr_error err = CR_ERROR_INIT;
    char *t = NULL;
    cr_credentials_token(s.creds, &t, NULL, &err);
    char want[256];
    snprintf(want, sizeof want, "token endpoint %s answered 400: invalid_grant: Invalid JWT Signature.",
             s.fake.token_uri);
    CHECK_STR(err.message, want);
    CHECK(!err.retryable);
    cr_error_clear(&err);
    setup_stop(&s);
}

TEST(a_key_the_server_does_not_know_is_refused_by_real_signature_checking)
{
    setup s;
    /* The fake knows key 0's public half; the file holds key 1. */
    if (setup_start(&s, "wrongkey.json", 1, "kid-wrong", NULL) < 0) {
        CHECK(!"setup");
        return;
    }
    expect_token_error(&s, "UNAUTHENTICATED", 400, "invalid_grant: Invalid JWT Signature.");
    CHECK_INT(kit_fake_stat(&s.fake, "rejected"), 1);
    setup_stop(&s);
}

TEST(a_wrong_kid_is_refused)
{
    setup s;
    const char *args[] = {"--kid", "the-right-one", NULL};
    if (setup_start(&s, "kid.json", 0, "not-the-right-one", args) < 0) {
        CHECK(!"setup");
        return;
    }
    expect_token_error(&s, "UNAUTHENTICATED", 400, "kid does not name the expected key");
    setup_stop(&s);
}

TEST(a_server_error_is_unavailable_with_its_status)
{
    setup s;
    const char *args[] = {"--mode", "500", NULL};
    if (setup_start(&s, "e500.json", 0, "kid-500", args) < 0) {
        CHECK(!"setup");
        return;
    }
    expect_token_error(&s, "UNAVAILABLE", 500, "answered 500");
    setup_stop(&s);
}

TEST(a_body_that_is_not_a_token_response_is_not_echoed)
{
    setup s;
    const char *args[] = {"--mode", "garbage", "--token", "ya29.SECRET-IN-GARBAGE", NULL};
    if (setup_start(&s, "garbage.json", 0, "kid-garbage", args) < 0) {
        CHECK(!"setup");
        return;
    }
    expect_token_error(&s, "INTERNAL", 200, "not a token response");
    cr_error err = CR_ERROR_INIT;
    char *t = NULL;
    cr_credentials_token(s.creds, &t, NULL, &err);
    CHECK_NOT_CONTAINS(err.message, "SECRET-IN-GARBAGE");
    CHECK_NOT_CONTAINS(err.message, "html");
    cr_error_clear(&err);
    setup_stop(&s);
}

TEST(a_slow_token_endpoint_times_out_as_deadline_exceeded)
{
    setup s;
    const char *args[] = {"--mode", "slow", "--delay", "3", NULL};
    if (setup_start(&s, "slow.json", 0, "kid-slow", args) < 0) {
        CHECK(!"setup");
        return;
    }
    cr_credentials_set_timeout_ms(s.creds, 300);
    expect_token_error(&s, "DEADLINE_EXCEEDED", 0, "token endpoint");
    setup_stop(&s);
}

TEST(an_unreachable_token_endpoint_is_unavailable_naming_the_url)
{
    char uri[64];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/token", kit_closed_port());
    char *path = kit_sa_file("closed.json", 0, "closed@p.iam", "kid-closed", uri);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c != NULL);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), -1);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_CONTAINS(err.message, "token endpoint");
    CHECK_CONTAINS(err.message, uri);
    CHECK_INT(err.sent, 0);
    CHECK_NOT_CONTAINS(err.message, "eyJ");
    cr_error_clear(&err);
    /* A caller that does not want the error may pass NULL. */
    CHECK_INT(cr_credentials_token(c, &t, NULL, NULL), -1);
    cr_credentials_unref(c);
    free(path);
}

int main(void)
{
    return check_run();
}
