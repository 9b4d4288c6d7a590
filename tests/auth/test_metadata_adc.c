/*
** test_metadata_adc.c — the metadata server as a credential (through
** $GCE_METADATA_HOST and directly), its Metadata-Flavor handshake, and the
** Application Default Credentials order, including the "nothing found"
** message that names every place looked at.
*/
#include "check.h"
#include "testkit.h"

/* A clean environment for ADC: no env file, gcloud's folder an empty
** directory, the metadata server on a closed port. */
static void adc_env_reset(void)
{
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/empty-gcloud", kit_tmpdir());
    mkdir(dir, 0700);
    setenv("CLOUDSDK_CONFIG", dir, 1);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", kit_closed_port());
    setenv("GCE_METADATA_HOST", host, 1);
}

TEST(the_metadata_server_named_by_gce_metadata_host_hands_out_tokens_and_the_project)
{
    kit_fake f;
    const char *args[] = {"--project", "meta-project", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    setenv("GCE_METADATA_HOST", f.host, 1);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(NULL, &err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "metadata");
    char origin[160];
    snprintf(origin, sizeof origin, "http://%s/computeMetadata/v1/instance/service-accounts/default/token", f.host);
    CHECK_STR(cr_credentials_origin(c), origin);
    char *t1 = NULL, *t2 = NULL;
    int64_t exp = 0;
    CHECK_INT(cr_credentials_token(c, &t1, &exp, &err), 0);
    CHECK_STR(t1, "ya29.fake-1");
    CHECK(exp > time(NULL) + 3000);
    CHECK_INT(cr_credentials_token(c, &t2, NULL, &err), 0);
    CHECK_STR(t2, "ya29.fake-1");
    CHECK_INT(kit_fake_stat(&f, "metadata_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    CHECK_STR(cr_credentials_project(c), "meta-project");
    CHECK_STR(cr_credentials_project(c), "meta-project");
    CHECK_INT(kit_fake_stat(&f, "project_requests"), 1);

    /* The same host, named directly, is the same object. */
    cr_credentials *d = cr_credentials_from_metadata(f.host, &err);
    CHECK(d == c);
    cr_credentials_unref(d);
    cr_secret_free(t1), cr_secret_free(t2);
    cr_credentials_unref(c);
    unsetenv("GCE_METADATA_HOST");
    kit_fake_stop(&f);
}

TEST(a_server_that_does_not_answer_with_metadata_flavor_is_not_trusted)
{
    kit_fake f;
    const char *args[] = {"--mode", "no_flavor", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(f.host, &err);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), -1);
    CHECK(t == NULL);
    CHECK_STR(err.code, "FAILED_PRECONDITION");
    CHECK_CONTAINS(err.message, f.host);
    CHECK_CONTAINS(err.message, "Metadata-Flavor");
    CHECK_NOT_CONTAINS(err.message, "ya29.");
    cr_error_clear(&err);
    CHECK(cr_credentials_project(c) == NULL);
    cr_credentials_unref(c);
    kit_fake_stop(&f);
}

TEST(metadata_server_failures_name_the_metadata_url)
{
    kit_fake f;
    const char *args[] = {"--mode", "500", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_metadata(f.host, &err);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), -1);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_INT(err.status, 500);
    CHECK_CONTAINS(err.message, "metadata server http://");
    CHECK_CONTAINS(err.message, "/computeMetadata/v1/instance/service-accounts/default/token answered 500");
    cr_error_clear(&err);
    cr_credentials_unref(c);
    kit_fake_stop(&f);

    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", kit_closed_port());
    c = cr_credentials_from_metadata(host, &err);
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), -1);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_CONTAINS(err.message, host);
    cr_error_clear(&err);
    cr_credentials_unref(c);
}

TEST(adc_uses_google_application_credentials_first)
{
    adc_env_reset();
    char *env_file = kit_sa_file("adc/env.json", 0, "from-env@p.iam", "kid-env", NULL);
    char *gcloud =
        kit_sa_file("adc/gcloud/application_default_credentials.json", 1, "from-gcloud@p.iam", "kid-g", NULL);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/adc/gcloud", kit_tmpdir());
    setenv("CLOUDSDK_CONFIG", dir, 1);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", env_file, 1);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_default(&err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_account(c), "from-env@p.iam");
    CHECK_STR(cr_credentials_origin(c), env_file);
    cr_credentials_unref(c);

    /* ... and without it, gcloud's well-known file under $CLOUDSDK_CONFIG. */
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    c = cr_credentials_default(&err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_account(c), "from-gcloud@p.iam");
    CHECK_STR(cr_credentials_origin(c), gcloud);
    cr_credentials_unref(c);
    free(env_file), free(gcloud);
    adc_env_reset();
}

TEST(adc_finds_gcloud_file_under_home_when_cloudsdk_config_is_unset)
{
    adc_env_reset();
    unsetenv("CLOUDSDK_CONFIG");
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char home[128];
    snprintf(home, sizeof home, "%s/home", kit_tmpdir());
    char *path =
        kit_sa_file("home/.config/gcloud/application_default_credentials.json", 0, "from-home@p.iam", "kid-home", NULL);
    setenv("HOME", home, 1);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_default(&err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_account(c), "from-home@p.iam");
    cr_credentials_unref(c);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    free(path);
    adc_env_reset();
}

TEST(adc_does_not_fall_through_when_the_env_file_is_unreadable)
{
    adc_env_reset();
    char *gcloud = kit_sa_file("empty-gcloud/application_default_credentials.json", 0, "fallback@p.iam", "kid-f", NULL);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/adc/missing.json", kit_tmpdir());
    setenv("GOOGLE_APPLICATION_CREDENTIALS", missing, 1);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_default(&err);
    CHECK(c == NULL);
    CHECK_STR(err.code, "NOT_FOUND");
    CHECK_CONTAINS(err.message, "GOOGLE_APPLICATION_CREDENTIALS");
    CHECK_CONTAINS(err.message, missing);
    cr_error_clear(&err);
    remove(gcloud);
    free(gcloud);
    adc_env_reset();
}

TEST(adc_falls_back_to_a_metadata_server_that_answers_the_probe)
{
    adc_env_reset();
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    setenv("GCE_METADATA_HOST", f.host, 1);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_default(&err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "metadata");
    CHECK_INT(kit_fake_stat(&f, "probe_requests"), 1);
    /* While that credential lives, ADC hands it out again without probing. */
    cr_credentials *d = cr_credentials_default(&err);
    CHECK(d == c);
    CHECK_INT(kit_fake_stat(&f, "probe_requests"), 1);
    char *t = NULL;
    CHECK_INT(cr_credentials_token(d, &t, NULL, &err), 0);
    CHECK_STR(t, "ya29.fake-1");
    cr_secret_free(t);
    cr_credentials_unref(d);
    cr_credentials_unref(c);
    kit_fake_stop(&f);
    adc_env_reset();
}

TEST(adc_finding_nothing_names_every_place_it_looked)
{
    adc_env_reset();
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_default(&err);
    CHECK(c == NULL);
    CHECK_STR(err.code, "UNAUTHENTICATED");
    CHECK_CONTAINS(err.message, "$GOOGLE_APPLICATION_CREDENTIALS is unset");
    char path[192];
    snprintf(path, sizeof path, "%s/empty-gcloud/application_default_credentials.json does not exist", kit_tmpdir());
    CHECK_CONTAINS(err.message, path);
    char url[96];
    snprintf(url, sizeof url, "http://%s/computeMetadata/v1/", getenv("GCE_METADATA_HOST"));
    CHECK_CONTAINS(err.message, url);
    CHECK_CONTAINS(err.message, "Couldn't connect");
    cr_error_clear(&err);

    /* A server that is not a metadata server does not count either. */
    kit_fake f;
    const char *args[] = {"--mode", "no_flavor", NULL};
    if (kit_fake_start(&f, -1, args) == 0) {
        setenv("GCE_METADATA_HOST", f.host, 1);
        c = cr_credentials_default(&err);
        CHECK(c == NULL);
        CHECK_STR(err.code, "UNAUTHENTICATED");
        CHECK_CONTAINS(err.message, "Metadata-Flavor");
        cr_error_clear(&err);
        kit_fake_stop(&f);
    }
    adc_env_reset();
}

int main(void)
{
    return check_run();
}
