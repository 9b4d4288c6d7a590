/*
** test_user_impersonated.c — authorized_user (the refresh_token grant, a
** rotated refresh token kept) and impersonated_service_account (a source
** credential's token traded at IAM Credentials, delegates passed through)
** end to end against cr-fake-google, each with 64 threads asking at once.
*/
#include <pthread.h>

#include "check.h"
#include "testkit.h"

#include "auth/credentials.h"

TEST(an_authorized_user_refreshes_with_its_refresh_token_and_reuses_the_token)
{
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *json = kit_user_json("test-client", "test-secret", "test-refresh", f.token_uri, "quota-p");
    cr_credentials *c = kit_load("user.json", json);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "authorized_user");
    CHECK(cr_credentials_account(c) == NULL);
    CHECK(cr_credentials_project(c) == NULL);
    CHECK_INT(cr_credentials_expires_at(c), 0);
    int64_t exp = 0, now = time(NULL);
    char *t1 = kit_token(c, &exp), *t2 = kit_token(c, NULL);
    CHECK_STR(t1, "ya29.fake-1");
    CHECK_STR(t2, "ya29.fake-1");
    CHECK(exp >= now + 3590 && exp <= now + 3610);
    CHECK_INT(cr_credentials_expires_at(c), exp);
    CHECK_INT(kit_fake_stat(&f, "refresh_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    /* A second load of the same file is the same object. */
    cr_credentials *again = kit_load("user.json", json);
    CHECK(again == c);
    cr_credentials_unref(again);
    cr_secret_free(t1), cr_secret_free(t2);
    cr_credentials_unref(c);
    free(json);
    kit_fake_stop(&f);
}

TEST(an_authorized_user_keeps_a_rotated_refresh_token)
{
    kit_fake f;
    const char *args[] = {"--refresh-token", "1//old", "--rotate-refresh-token", "1//new", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    char *json = kit_user_json("test-client", "test-secret", "1//old", f.token_uri, NULL);
    cr_credentials *c = kit_load("user-rotate.json", json);
    char *t1 = kit_token(c, NULL);
    CHECK_STR(t1, "ya29.fake-1");
    /* The fake now refuses 1//old: the next refresh works only with 1//new. */
    cr_credentials_invalidate(c, t1);
    char *t2 = kit_token(c, NULL);
    CHECK_STR(t2, "ya29.fake-2");
    cr_credentials_invalidate(c, t2);
    char *t3 = kit_token(c, NULL);
    CHECK_STR(t3, "ya29.fake-3");
    CHECK_INT(kit_fake_stat(&f, "refresh_requests"), 3);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cr_secret_free(t1), cr_secret_free(t2), cr_secret_free(t3);
    cr_credentials_unref(c);
    free(json);
    kit_fake_stop(&f);
}

TEST(another_refresh_token_or_client_is_another_object)
{
    char *a = kit_user_json("c1", "s", "r1", NULL, NULL), *b = kit_user_json("c1", "s", "r2", NULL, NULL),
         *d = kit_user_json("c2", "s", "r1", NULL, NULL);
    cr_credentials *ca = kit_load("ua.json", a), *cb = kit_load("ub.json", b), *cd = kit_load("ud.json", d);
    cr_credentials *ca2 = kit_load("ua2.json", a);
    CHECK(ca && cb && cd);
    CHECK(ca != cb && ca != cd && cb != cd);
    CHECK(ca2 == ca);
    CHECK_NOT_CONTAINS(cr_credentials_key(ca), "r1");
    cr_credentials_unref(ca), cr_credentials_unref(cb), cr_credentials_unref(cd), cr_credentials_unref(ca2);
    free(a), free(b), free(d);
}

TEST(an_impersonated_account_trades_the_source_token_with_its_delegates)
{
    kit_fake f;
    if (kit_fake_start(&f, 0, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *pem = kit_private_pem(kit_key(0));
    char *src = kit_sa_json("source@p.iam.gserviceaccount.com", pem, "kid-src", f.token_uri, "src-project");
    char url[192];
    kit_iam_url(&f, "target@p.iam.gserviceaccount.com", url, sizeof url);
    char *json = kit_imp_json(
        src, url, "[\"projects/-/serviceAccounts/d1@p.iam\",\"projects/-/serviceAccounts/d2@p.iam\"]", "imp-quota");
    cr_credentials *c = kit_load("imp.json", json);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "impersonated_service_account");
    CHECK_STR(cr_credentials_account(c), "target@p.iam.gserviceaccount.com");
    CHECK_STR(cr_credentials_quota_project(c), "imp-quota");
    int64_t exp = 0, now = time(NULL);
    char *t1 = kit_token(c, &exp), *t2 = kit_token(c, NULL);
    CHECK_STR(t1, "ya29.impersonated-1");
    CHECK_STR(t2, "ya29.impersonated-1");
    CHECK(exp >= now + 3590 && exp <= now + 3610);
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "iam_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cJSON *stats = kit_fake_stats(&f);
    char *dl = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(stats, "last_delegates"));
    CHECK_STR(dl, "[\"projects/-/serviceAccounts/d1@p.iam\",\"projects/-/serviceAccounts/d2@p.iam\"]");
    free(dl);
    cJSON_Delete(stats);

    /* The source is shared through the registry: loading it alone gets its cached token. */
    cr_credentials *s = kit_load("imp-src.json", src);
    char *ts = kit_token(s, NULL);
    CHECK_STR(ts, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 1);
    /* A refresh of the impersonated token reuses the source's token. */
    cr_credentials_invalidate(c, t1);
    char *t3 = kit_token(c, NULL);
    CHECK_STR(t3, "ya29.impersonated-2");
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "iam_requests"), 2);
    cr_secret_free(t1), cr_secret_free(t2), cr_secret_free(t3), cr_secret_free(ts);
    cr_credentials_unref(s);
    cr_credentials_unref(c);
    free(json), free(src), free(pem);
    kit_fake_stop(&f);
}

TEST(an_impersonated_account_from_an_authorized_user_without_delegates_sends_an_empty_list)
{
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *src = kit_user_json("test-client", "test-secret", "test-refresh", f.token_uri, NULL);
    char url[192];
    char *json = kit_imp_json(src, kit_iam_url(&f, "t2@p.iam", url, sizeof url), NULL, NULL);
    cr_credentials *c = kit_load("imp-user.json", json);
    char *t = kit_token(c, NULL);
    CHECK_STR(t, "ya29.impersonated-1");
    CHECK_INT(kit_fake_stat(&f, "refresh_requests"), 1);
    cJSON *stats = kit_fake_stats(&f);
    char *dl = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(stats, "last_delegates"));
    CHECK_STR(dl, "[]");
    free(dl);
    cJSON_Delete(stats);
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json), free(src);
    kit_fake_stop(&f);
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

/* 64 threads on one credential; every one gets `want`. */
static void race64(cr_credentials *c, const char *want)
{
    enum { N = 64 };
    pthread_t th[N];
    racer r[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.creds = c, .start = &start};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(r[i].rc, 0);
        CHECK_STR(r[i].token, want);
        cr_secret_free(r[i].token);
    }
    pthread_barrier_destroy(&start);
}

TEST(sixty_four_threads_on_an_authorized_user_cause_exactly_one_refresh)
{
    kit_fake f;
    const char *args[] = {"--mode", "slow", "--delay", "0.3", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    char *json = kit_user_json("test-client", "test-secret", "test-refresh", f.token_uri, NULL);
    cr_credentials *c = kit_load("user-race.json", json);
    race64(c, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&f, "refresh_requests"), 1);
    cr_credentials_unref(c);
    free(json);
    kit_fake_stop(&f);
}

TEST(sixty_four_threads_on_an_impersonated_account_cause_one_source_and_one_iam_request)
{
    kit_fake f;
    const char *args[] = {"--mode", "slow", "--delay", "0.2", NULL};
    if (kit_fake_start(&f, 0, args) < 0) {
        CHECK(!"fake");
        return;
    }
    char *pem = kit_private_pem(kit_key(0));
    char *src = kit_sa_json("race-src@p.iam", pem, NULL, f.token_uri, NULL);
    char url[192];
    char *json = kit_imp_json(src, kit_iam_url(&f, "race-target@p.iam", url, sizeof url), NULL, NULL);
    cr_credentials *c = kit_load("imp-race.json", json);
    race64(c, "ya29.impersonated-1");
    CHECK_INT(kit_fake_stat(&f, "token_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "iam_requests"), 1);
    cr_credentials_unref(c);
    free(json), free(src), free(pem);
    kit_fake_stop(&f);
}

int main(void)
{
    return check_run();
}
