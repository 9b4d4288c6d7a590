/*
** test_external.c — external_account (workload identity federation) end to
** end against cr-fake-google: subject tokens from a file (text and JSON,
** re-read on every refresh) and from a URL (with a required header, text
** and JSON), traded at STS, with and without service account impersonation.
*/
#include "check.h"
#include "testkit.h"

#include "auth/credentials.h"

TEST(a_file_sourced_text_subject_token_is_trimmed_and_traded_at_sts)
{
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *subject = kit_write("ext/subject.txt", "  test-subject-token\n");
    char sts[96], source[256];
    snprintf(source, sizeof source, "{\"file\": \"%s\"}", subject);
    char *json = kit_ext_json(KIT_AUDIENCE, kit_fake_url(&f, "/sts", sts, sizeof sts), source, NULL, "ext-quota");
    cr_credentials *c = kit_load("ext-file.json", json);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "external_account");
    CHECK(cr_credentials_account(c) == NULL);
    CHECK_STR(cr_credentials_quota_project(c), "ext-quota");
    int64_t exp = 0, now = time(NULL);
    char *t1 = kit_token(c, &exp);
    CHECK_STR(t1, "ya29.sts-1");
    CHECK(exp >= now + 3590 && exp <= now + 3610);
    CHECK_INT(kit_fake_stat(&f, "sts_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    /* The file is read again on each refresh: a rotated token that STS no
    ** longer accepts shows up at once. */
    free(kit_write("ext/subject.txt", "rotated-subject-token"));
    cr_credentials_invalidate(c, t1);
    cr_error err = CR_ERROR_INIT;
    char *t2 = NULL;
    CHECK_INT(cr_credentials_token(c, &t2, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "The subject token is invalid.");
    cr_error_clear(&err);
    CHECK_INT(kit_fake_stat(&f, "sts_requests"), 2);
    cr_secret_free(t1);
    cr_credentials_unref(c);
    free(json), free(subject);
    kit_fake_stop(&f);
}

TEST(a_file_sourced_json_subject_token_takes_the_named_field)
{
    kit_fake f;
    const char *args[] = {"--subject-token", "json-subject", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    char *subject = kit_write("ext/subject.json", "{\"access_token\": \"json-subject\", \"other\": 1}");
    char sts[96], source[320];
    snprintf(source, sizeof source,
             "{\"file\": \"%s\", \"format\": {\"type\": \"json\", \"subject_token_field_name\": \"access_token\"}}",
             subject);
    char *json = kit_ext_json(KIT_AUDIENCE, kit_fake_url(&f, "/sts", sts, sizeof sts), source, NULL, NULL);
    cr_credentials *c = kit_load("ext-json.json", json);
    char *t = kit_token(c, NULL);
    CHECK_STR(t, "ya29.sts-1");
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json), free(subject);
    kit_fake_stop(&f);
}

TEST(a_url_sourced_subject_token_is_fetched_with_its_headers)
{
    kit_fake f;
    const char *args[] = {"--subject-header", "X-Identity:yes-please", NULL};
    if (kit_fake_start(&f, -1, args) < 0) {
        CHECK(!"fake");
        return;
    }
    char sts[96], subj[96], source[320];
    kit_fake_url(&f, "/subject-token", subj, sizeof subj);
    snprintf(source, sizeof source, "{\"url\": \"%s\", \"headers\": {\"X-Identity\": \"yes-please\"}}", subj);
    char *json = kit_ext_json(KIT_AUDIENCE, kit_fake_url(&f, "/sts", sts, sizeof sts), source, NULL, NULL);
    cr_credentials *c = kit_load("ext-url.json", json);
    char *t = kit_token(c, NULL);
    CHECK_STR(t, "ya29.sts-1");
    CHECK_INT(kit_fake_stat(&f, "subject_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json);

    /* JSON format from the URL. */
    char url[128];
    snprintf(url, sizeof url, "%s?format=json", subj);
    snprintf(source, sizeof source,
             "{\"url\": \"%s\", \"headers\": {\"X-Identity\": \"yes-please\"}, \"format\": {\"type\": \"json\", "
             "\"subject_token_field_name\": \"id_token\"}}",
             url);
    json = kit_ext_json(KIT_AUDIENCE, sts, source, NULL, NULL);
    c = kit_load("ext-url-json.json", json);
    t = kit_token(c, NULL);
    CHECK_STR(t, "ya29.sts-2");
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json);

    /* Without the header the URL refuses, and the error says which URL and status. */
    snprintf(source, sizeof source, "{\"url\": \"%s\"}", subj);
    json = kit_ext_json(KIT_AUDIENCE, sts, source, NULL, NULL);
    c = kit_load("ext-url-nohdr.json", json);
    cr_error err = CR_ERROR_INIT;
    t = NULL;
    CHECK_INT(cr_credentials_token(c, &t, NULL, &err), -1);
    CHECK_STR(err.code, "PERMISSION_DENIED");
    CHECK_CONTAINS(err.message, "credential_source: subject token URL");
    CHECK_CONTAINS(err.message, subj);
    CHECK_CONTAINS(err.message, "answered 403");
    CHECK_NOT_CONTAINS(err.message, "test-subject-token");
    cr_error_clear(&err);
    cr_credentials_unref(c);
    free(json);
    kit_fake_stop(&f);
}

TEST(an_external_account_with_impersonation_trades_the_sts_token_at_iam)
{
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char *subject = kit_write("ext/imp-subject.txt", "test-subject-token");
    char sts[96], iam[192], source[256];
    snprintf(source, sizeof source, "{\"file\": \"%s\"}", subject);
    char *json = kit_ext_json(KIT_AUDIENCE, kit_fake_url(&f, "/sts", sts, sizeof sts), source,
                              kit_iam_url(&f, "wif-target@p.iam.gserviceaccount.com", iam, sizeof iam), NULL);
    cr_credentials *c = kit_load("ext-imp.json", json);
    CHECK_STR(cr_credentials_account(c), "wif-target@p.iam.gserviceaccount.com");
    int64_t exp = 0, now = time(NULL);
    char *t = kit_token(c, &exp);
    CHECK_STR(t, "ya29.impersonated-1");
    CHECK(exp >= now + 3590 && exp <= now + 3610);
    CHECK_INT(kit_fake_stat(&f, "sts_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "iam_requests"), 1);
    CHECK_INT(kit_fake_stat(&f, "rejected"), 0);
    cr_secret_free(t);
    cr_credentials_unref(c);
    free(json), free(subject);
    kit_fake_stop(&f);
}

TEST(the_same_external_account_file_is_one_object_and_the_sts_default_is_google)
{
    char source[] = "{\"file\": \"/nonexistent/subject\"}";
    char *a = kit_ext_json(KIT_AUDIENCE, NULL, source, NULL, NULL);
    char *b = kit_ext_json(KIT_AUDIENCE "2", NULL, source, NULL, NULL);
    cr_credentials *ca = kit_load("ext-a.json", a), *ca2 = kit_load("ext-a2.json", a), *cb = kit_load("ext-b.json", b);
    CHECK(ca && ca == ca2 && cb && cb != ca);
    cr_credentials_unref(ca), cr_credentials_unref(ca2), cr_credentials_unref(cb);
    free(a), free(b);
}

/* Loads `json` expecting INVALID_ARGUMENT naming the file and containing `want`. */
static void expect_refused(const char *name, const char *json, const char *want)
{
    char *path = kit_write(name, json);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c == NULL);
    cr_credentials_unref(c);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, want);
    CHECK_NOT_CONTAINS(err.message, "X-Injected");
    cr_error_clear(&err);
    free(path);
}

/* A credential file from elsewhere names where the subject token and the
** tokens traded for it go: over plain http only to this machine. */
TEST(token_and_impersonation_urls_must_be_https_or_loopback_and_are_refused_at_load_naming_the_field)
{
    static const char *const refused[] = {
        "http://sts.example.com/v1/token",
        "http://127.0.0.1@sts.example.com/",
        "http://127.0.0.1.example.com/",
        "http://169.254.169.254/token",
        "http://128.0.0.1/token",
        "http://localhost.example.com/",
        "http://[::2]/token",
        "ftp://127.0.0.1/token",
        "http://127.0.0.1:80x/token",
        "HTTP://sts.example.com/v1/token",
    };
    const char source[] = "{\"file\": \"/nonexistent/subject\"}";
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *json = kit_ext_json(KIT_AUDIENCE, refused[i], source, NULL, NULL);
        expect_refused("ext-bad-sts.json", json, "field \"token_url\" must be an https:// URL");
        free(json);
        char imp[256];
        snprintf(imp, sizeof imp, "%s/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken", refused[i]);
        json = kit_ext_json(KIT_AUDIENCE, NULL, source, imp, NULL);
        expect_refused("ext-bad-imp.json", json, "field \"service_account_impersonation_url\" must be an https:// URL");
        free(json);
    }
    static const char *const taken[] = {
        "https://sts.example.com/v1/token", "http://127.0.0.1:9/sts", "http://127.1.2.3/sts",
        "http://localhost:8080/sts",        "http://[::1]:9/sts",     "http://LOCALHOST"};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        char *json = kit_ext_json(KIT_AUDIENCE, taken[i], source, NULL, NULL);
        cr_credentials *c = kit_load("ext-good-sts.json", json);
        CHECK(c != NULL);
        cr_credentials_unref(c);
        free(json);
    }
}

/* credential_source.url may also be the link-local metadata address over
** plain http (Azure's instance metadata serves workload identity tokens so);
** the load fetches nothing. */
TEST(a_subject_token_url_must_be_https_loopback_or_the_metadata_address)
{
    static const char *const refused[] = {"http://token.example.com/subject", "http://169.254.169.253/token",
                                          "http://169.254.169.254@example.com/", "file:///etc/passwd"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char source[256];
        snprintf(source, sizeof source, "{\"url\": \"%s\"}", refused[i]);
        char *json = kit_ext_json(KIT_AUDIENCE, NULL, source, NULL, NULL);
        expect_refused("ext-bad-url.json", json, "field \"credential_source.url\" must be an https:// URL");
        free(json);
    }
    char *json = kit_ext_json(KIT_AUDIENCE, NULL,
                              "{\"url\": \"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                              "&resource=api://x\", \"headers\": {\"Metadata\": \"true\"}, \"format\": {\"type\": "
                              "\"json\", \"subject_token_field_name\": \"access_token\"}}",
                              NULL, NULL);
    cr_credentials *c = kit_load("ext-azure.json", json);
    CHECK(c != NULL);
    cr_credentials_unref(c);
    free(json);
}

/* The headers sent with the subject token's request: a line break in a value,
** or a name that is not a header name, is refused at load naming the field. */
TEST(credential_source_headers_that_would_inject_a_header_line_are_refused_at_load)
{
    char *json = kit_ext_json(KIT_AUDIENCE, NULL,
                              "{\"url\": \"http://127.0.0.1:9/subject\", \"headers\": {\"X-Identity\": \"yes\\r\\n"
                              "X-Injected: 1\"}}",
                              NULL, NULL);
    expect_refused(
        "ext-hdr-value.json", json,
        "field \"credential_source.headers\": the value of X-Identity has a line break or control character");
    free(json);
    json = kit_ext_json(KIT_AUDIENCE, NULL,
                        "{\"url\": \"http://127.0.0.1:9/subject\", \"headers\": {\"X-Identity: 1\\r\\nX-Injected\": "
                        "\"yes\"}}",
                        NULL, NULL);
    expect_refused("ext-hdr-name.json", json,
                   "field \"credential_source.headers\" has a name that is not an HTTP header name");
    free(json);
}

/* Nothing named by a file is read or fetched before the whole file is taken:
** a subject token FIFO (which would block a read) and a subject token URL
** with a bad token_url beside them. */
TEST(nothing_is_read_or_fetched_before_the_whole_file_validates)
{
    kit_fake f;
    if (kit_fake_start(&f, -1, NULL) < 0) {
        CHECK(!"fake");
        return;
    }
    char fifo[256], source[320], subj[96];
    snprintf(fifo, sizeof fifo, "%s/ext-subject.fifo", kit_tmpdir());
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    snprintf(source, sizeof source, "{\"file\": \"%s\"}", fifo);
    char *json = kit_ext_json(KIT_AUDIENCE, "http://sts.example.com/token", source, NULL, NULL);
    expect_refused("ext-fifo.json", json, "field \"token_url\"");
    free(json);
    snprintf(source, sizeof source, "{\"url\": \"%s\"}", kit_fake_url(&f, "/subject-token", subj, sizeof subj));
    json = kit_ext_json(KIT_AUDIENCE, "http://sts.example.com/token", source, NULL, NULL);
    expect_refused("ext-fetch.json", json, "field \"token_url\"");
    free(json);
    CHECK_INT(kit_fake_stat(&f, "subject_requests"), 0);
    unlink(fifo);
    kit_fake_stop(&f);
}

int main(void)
{
    return check_run();
}
