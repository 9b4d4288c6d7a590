/*
** test_failures.c — every way each credentials type can fail, table-driven:
** a missing field, a field of the wrong type, an unreadable file (and an
** unreadable subject-token file), and a token endpoint (token_uri, IAM
** Credentials, STS) answering 400 invalid_grant, 500, non-JSON, or too
** slowly. Each error must name the file and field or the endpoint URL and
** status; and no error may carry a secret: the last test runs every path
** again, plus the successful ones to collect every token the fake issued,
** and looks for all of them in every message.
*/
#include "check.h"
#include "testkit.h"

#include "auth/credentials.h"

#define CLIENT_SECRET "CLIENT-SECRET-s3cr3t"
#define REFRESH "1//REFRESH-s3cr3t"
#define SUBJECT "SUBJECT-s3cr3t"
#define GARBAGE_TOKEN "ya29.SECRET-in-garbage"

/* What one failure path produced. */
typedef struct outcome {
    int failed; /* 1 when the load or the token call failed, as it must */
    cr_error err;
    char where[256]; /* the path or URL the message must name */
} outcome;

/* ---- building credentials ----------------------------------------------------------- */

static const char *const fake_secrets[] = {"--client-secret", CLIENT_SECRET,     "--refresh-token",
                                           REFRESH,           "--subject-token", SUBJECT};

/* Starts the fake with the secrets above, key 0, and `extra`. */
static int start(kit_fake *f, const char *const *extra)
{
    const char *argv[24];
    int n = 0;
    for (size_t i = 0; i < sizeof fake_secrets / sizeof *fake_secrets; i++)
        argv[n++] = fake_secrets[i];
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return kit_fake_start(f, 0, argv);
}

static char *sa_json(const char *token_uri)
{
    char *pem = kit_private_pem(kit_key(0));
    char *j = kit_sa_json("fail@p.iam.gserviceaccount.com", pem, NULL, token_uri, NULL);
    free(pem);
    return j;
}

/* The JSON of a credential of `type` ('S', 'U', 'I', 'E') whose endpoints are on f. */
static char *json_for(char type, const kit_fake *f, char *where, size_t size)
{
    char iam[192], sts[96], source[256];
    kit_iam_url(f, "target@p.iam.gserviceaccount.com", iam, sizeof iam);
    kit_fake_url(f, "/sts", sts, sizeof sts);
    switch (type) {
    case 'S':
        snprintf(where, size, "%s", f->token_uri);
        return sa_json(f->token_uri);
    case 'U':
        snprintf(where, size, "%s", f->token_uri);
        return kit_user_json("test-client", CLIENT_SECRET, REFRESH, f->token_uri, NULL);
    case 'I':
    case 'J': /* the same, failing at the source's token endpoint */ {
        snprintf(where, size, "%s", type == 'J' ? f->token_uri : iam);
        char *src = sa_json(f->token_uri);
        char *j = kit_imp_json(src, iam, "[\"projects/-/serviceAccounts/d@p.iam\"]", NULL);
        free(src);
        return j;
    }
    default: {
        snprintf(where, size, "%s", type == 'X' ? iam : sts);
        char *subject = kit_write("fail/subject.txt", SUBJECT "\n");
        snprintf(source, sizeof source, "{\"file\": \"%s\"}", subject);
        free(subject);
        return kit_ext_json(KIT_AUDIENCE, sts, source, type == 'X' ? iam : NULL, NULL);
    }
    }
}

/* Loads json from a file; a failure is the outcome (naming the path). */
static cr_credentials *load(outcome *o, const char *name, const char *json)
{
    char *path = kit_write(name, json);
    snprintf(o->where, sizeof o->where, "%s", path);
    cr_credentials *c = cr_credentials_from_file(path, &o->err);
    free(path);
    if (!c)
        o->failed = 1;
    return c;
}

/* Asks for a token, expecting a failure. */
static void token_fails(cr_credentials *c, outcome *o)
{
    char *t = NULL;
    if (cr_credentials_token(c, &t, NULL, &o->err) < 0)
        o->failed = 1;
    cr_secret_free(t);
}

/* ---- the endpoint failures ----------------------------------------------------------------- */

typedef struct endpoint_case {
    const char *name;
    char type;           /* S service_account, U authorized_user, I impersonated (J: its source fails), E external,
                            X external + impersonation */
    const char *args[8]; /* NULL-terminated */
    const char *code;
    int status;
    const char *says;
} endpoint_case;

static const endpoint_case endpoint_cases[] = {
    {"sa_invalid_grant",
     'S',
     {"--mode", "invalid_grant"},
     "UNAUTHENTICATED",
     400,
     "answered 400: invalid_grant: Invalid JWT Signature."},
    {"sa_500", 'S', {"--mode", "500"}, "UNAVAILABLE", 500, "answered 500"},
    {"sa_not_json", 'S', {"--mode", "garbage", "--token", GARBAGE_TOKEN}, "INTERNAL", 200, "not a token response"},
    {"sa_slow", 'S', {"--mode", "slow", "--delay", "3"}, "DEADLINE_EXCEEDED", 0, "token endpoint"},
    {"user_invalid_grant", 'U', {"--mode", "invalid_grant"}, "UNAUTHENTICATED", 400, "token endpoint http://127.0.0.1"},
    {"user_wrong_secret",
     'U',
     {"--client-secret", "another-secret"},
     "UNAUTHENTICATED",
     400,
     "answered 400: invalid_grant: Unauthorized client or scope in request."},
    {"user_revoked_refresh_token",
     'U',
     {"--refresh-token", "1//another"},
     "UNAUTHENTICATED",
     400,
     "answered 400: invalid_grant: Token has been expired or revoked."},
    {"user_500", 'U', {"--mode", "500"}, "UNAVAILABLE", 500, "answered 500"},
    {"user_not_json", 'U', {"--mode", "garbage", "--token", GARBAGE_TOKEN}, "INTERNAL", 200, "not a token response"},
    {"user_slow", 'U', {"--mode", "slow", "--delay", "3"}, "DEADLINE_EXCEEDED", 0, "token endpoint"},
    {"imp_invalid_grant",
     'I',
     {"--mode", "invalid_grant", "--fault-on", "iam"},
     "INVALID_ARGUMENT",
     400,
     "IAM Credentials http://127.0.0.1"},
    {"imp_denied",
     'I',
     {"--mode", "denied", "--fault-on", "iam"},
     "PERMISSION_DENIED",
     403,
     "answered 403: Permission 'iam.serviceAccounts.getAccessToken' denied"},
    {"imp_500",
     'I',
     {"--mode", "500", "--fault-on", "iam"},
     "UNAVAILABLE",
     500,
     "answered 500: Internal error encountered."},
    {"imp_not_json",
     'I',
     {"--mode", "garbage", "--fault-on", "iam"},
     "INTERNAL",
     200,
     "not a generateAccessToken response (not JSON)"},
    {"imp_slow",
     'I',
     {"--mode", "slow", "--delay", "3", "--fault-on", "iam"},
     "DEADLINE_EXCEEDED",
     0,
     "IAM Credentials"},
    {"imp_source_invalid_grant",
     'J',
     {"--mode", "invalid_grant", "--fault-on", "token"},
     "UNAUTHENTICATED",
     400,
     "source_credentials: token endpoint http://127.0.0.1"},
    {"imp_source_slow",
     'J',
     {"--mode", "slow", "--delay", "3", "--fault-on", "token"},
     "DEADLINE_EXCEEDED",
     0,
     "source_credentials: token endpoint"},
    {"ext_invalid_grant",
     'E',
     {"--mode", "invalid_grant", "--fault-on", "sts"},
     "UNAUTHENTICATED",
     400,
     "STS endpoint http://127.0.0.1"},
    {"ext_wrong_subject",
     'E',
     {"--subject-token", "another-subject"},
     "UNAUTHENTICATED",
     400,
     "answered 400: invalid_grant: The subject token is invalid."},
    {"ext_500", 'E', {"--mode", "500", "--fault-on", "sts"}, "UNAVAILABLE", 500, "answered 500"},
    {"ext_not_json",
     'E',
     {"--mode", "garbage", "--token", GARBAGE_TOKEN, "--fault-on", "sts"},
     "INTERNAL",
     200,
     "not a token response"},
    {"ext_slow", 'E', {"--mode", "slow", "--delay", "3", "--fault-on", "sts"}, "DEADLINE_EXCEEDED", 0, "STS endpoint"},
    {"ext_impersonation_denied",
     'X',
     {"--mode", "denied", "--fault-on", "iam"},
     "PERMISSION_DENIED",
     403,
     "IAM Credentials http://127.0.0.1"},
};

static void run_endpoint_case(const endpoint_case *ec, outcome *o)
{
    kit_fake f;
    memset(o, 0, sizeof *o);
    if (start(&f, ec->args) < 0)
        return;
    char name[64];
    snprintf(name, sizeof name, "fail/%s.json", ec->name);
    char where[256];
    char *json = json_for(ec->type, &f, where, sizeof where);
    cr_credentials *c = load(o, name, json);
    free(json);
    if (c) {
        snprintf(o->where, sizeof o->where, "%s", where);
        if (strcmp(ec->code, "DEADLINE_EXCEEDED") == 0)
            cr_credentials_set_timeout_ms(c, 300);
        token_fails(c, o);
        cr_credentials_unref(c);
    }
    kit_fake_stop(&f);
}

/* ---- the file failures ---------------------------------------------------------------------- */

typedef struct file_case {
    const char *name;
    const char *json; /* NULL: the case's own builder below */
    const char *code;
    const char *says;
} file_case;

#define SUBJECT_FILE "{\"file\": \"/nonexistent/subject-token\"}"

static const file_case file_cases[] = {
    {"sa_missing_field", "{\"type\": \"service_account\", \"private_key\": \"x\"}", "INVALID_ARGUMENT",
     "field \"client_email\" is missing"},
    {"sa_wrong_type", "{\"type\": \"service_account\", \"client_email\": \"a@b\", \"private_key\": 42}",
     "INVALID_ARGUMENT", "field \"private_key\" is not a string"},
    {"sa_not_pem", NULL, "INVALID_ARGUMENT", "field \"private_key\" is not a PEM RSA private key"},
    {"user_missing_field",
     "{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"" CLIENT_SECRET "\"}",
     "INVALID_ARGUMENT", "field \"refresh_token\" is missing"},
    {"user_wrong_type",
     "{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": 42, \"refresh_token\": \"" REFRESH "\"}",
     "INVALID_ARGUMENT", "field \"client_secret\" is not a string"},
    {"user_bad_token_uri",
     "{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"" CLIENT_SECRET
     "\", \"refresh_token\": \"" REFRESH "\", \"token_uri\": \"ftp://x\"}",
     "INVALID_ARGUMENT", "field \"token_uri\" is not an http(s) URL"},
    {"imp_missing_field",
     "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
     "\"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken\"}",
     "INVALID_ARGUMENT", "field \"source_credentials\" is missing"},
    {"imp_wrong_type",
     "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
     "\"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken\", "
     "\"delegates\": \"d@p.iam\", \"source_credentials\": {}}",
     "INVALID_ARGUMENT", "field \"delegates\" is not a list"},
    {"imp_source_not_an_object",
     "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
     "\"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken\", "
     "\"source_credentials\": \"" REFRESH "\"}",
     "INVALID_ARGUMENT", "field \"source_credentials\" is not an object"},
    {"imp_nested_missing_field",
     "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
     "\"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken\", "
     "\"source_credentials\": {\"type\": \"authorized_user\", \"client_id\": \"c\", \"refresh_token\": \"" REFRESH
     "\"}}",
     "INVALID_ARGUMENT", "field \"source_credentials\": field \"client_secret\" is missing"},
    {"imp_bad_url",
     "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
     "\"https://example.com/x\", \"source_credentials\": {}}",
     "INVALID_ARGUMENT", "field \"service_account_impersonation_url\" is not an IAM Credentials URL"},
    {"ext_missing_field",
     "{\"type\": \"external_account\", \"subject_token_type\": \"urn:ietf:params:oauth:token-type:jwt\", "
     "\"credential_source\": " SUBJECT_FILE "}",
     "INVALID_ARGUMENT", "field \"audience\" is missing"},
    {"ext_missing_source", "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\"}",
     "INVALID_ARGUMENT", "field \"credential_source\" is missing"},
    {"ext_wrong_type",
     "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
     "\"credential_source\": {\"file\": 42}}",
     "INVALID_ARGUMENT", "field \"credential_source.file\" is not a string"},
    {"ext_wrong_format",
     "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
     "\"credential_source\": {\"file\": \"/x\", \"format\": {\"type\": \"json\"}}}",
     "INVALID_ARGUMENT", "field \"credential_source.format.subject_token_field_name\" is missing"},
    {"ext_headers_wrong_type",
     "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
     "\"credential_source\": {\"url\": \"http://127.0.0.1:1/\", \"headers\": {\"X\": 1}}}",
     "INVALID_ARGUMENT", "field \"credential_source.headers\" is not an object of strings"},
    {"ext_executable",
     "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
     "\"credential_source\": {\"executable\": {\"command\": \"/bin/echo " SUBJECT "\"}}}",
     "UNIMPLEMENTED", "field \"credential_source\" is an executable source"},
    {"ext_aws",
     "{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
     "\"credential_source\": {\"environment_id\": \"aws1\", \"region_url\": \"http://169.254.169.254\"}}",
     "UNIMPLEMENTED", "field \"credential_source\" is an AWS source"},
};

static void run_file_case(const file_case *fc, outcome *o)
{
    memset(o, 0, sizeof *o);
    char name[64];
    snprintf(name, sizeof name, "fail/%s.json", fc->name);
    char *json = fc->json ? strdup(fc->json) : NULL;
    if (!json) {
        /* A key that is not PEM: a secret-looking value that must not be quoted. */
        json = kit_sa_json("a@b", "-----BEGIN PRIVATE KEY-----\n" REFRESH "\n-----END PRIVATE KEY-----\n", NULL, NULL,
                           NULL);
    }
    cr_credentials *c = load(o, name, json);
    free(json);
    if (c) {
        token_fails(c, o);
        cr_credentials_unref(c);
    }
}

/* ---- the unreadable files --------------------------------------------------------------------- */

static void unreadable_credentials_file(char type, outcome *o)
{
    memset(o, 0, sizeof *o);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/fail/missing-%c.json", kit_tmpdir(), type);
    snprintf(o->where, sizeof o->where, "%s", dir);
    if (!cr_credentials_from_file(dir, &o->err))
        o->failed = 1;
}

static void unreadable_subject_token_file(outcome *o)
{
    memset(o, 0, sizeof *o);
    char sts[] = "http://127.0.0.1:1/sts";
    char *json = kit_ext_json(KIT_AUDIENCE, sts, SUBJECT_FILE, NULL, NULL);
    cr_credentials *c = load(o, "fail/ext-unreadable-subject.json", json);
    free(json);
    if (c) {
        token_fails(c, o);
        cr_credentials_unref(c);
    }
}

static void subject_json_without_the_field(outcome *o)
{
    memset(o, 0, sizeof *o);
    char *subject = kit_write("fail/subject.json", "{\"not_it\": \"" SUBJECT "\"}");
    char source[320];
    snprintf(source, sizeof source,
             "{\"file\": \"%s\", \"format\": {\"type\": \"json\", \"subject_token_field_name\": \"id_token\"}}",
             subject);
    char *json = kit_ext_json(KIT_AUDIENCE, "http://127.0.0.1:1/sts", source, NULL, NULL);
    cr_credentials *c = load(o, "fail/ext-json-nofield.json", json);
    snprintf(o->where, sizeof o->where, "%s", subject);
    free(json), free(subject);
    if (c) {
        token_fails(c, o);
        cr_credentials_unref(c);
    }
}

/* The IAM server at one fake does not know the tokens another one issued. */
static void impersonation_with_a_bearer_iam_does_not_know(outcome *o)
{
    memset(o, 0, sizeof *o);
    kit_fake a, b;
    if (start(&a, NULL) < 0)
        return;
    if (start(&b, NULL) < 0) {
        kit_fake_stop(&a);
        return;
    }
    char iam[192];
    kit_iam_url(&a, "target@p.iam", iam, sizeof iam);
    char *src = sa_json(b.token_uri);
    char *json = kit_imp_json(src, iam, NULL, NULL);
    cr_credentials *c = load(o, "fail/imp-bearer.json", json);
    snprintf(o->where, sizeof o->where, "%s", iam);
    if (c) {
        token_fails(c, o);
        cr_credentials_unref(c);
    }
    free(json), free(src);
    kit_fake_stop(&a);
    kit_fake_stop(&b);
}

/* ---- checks ---------------------------------------------------------------------------------------- */

static void expect(const char *name, outcome *o, const char *code, int status, const char *says)
{
    if (!o->failed)
        fprintf(stderr, "  case %s did not fail\n", name);
    CHECK(o->failed);
    if (strcmp(o->err.code, code) != 0 || (status >= 0 && o->err.status != status))
        fprintf(stderr, "  case %s: %s %d: %s\n", name, o->err.code, o->err.status, o->err.message);
    CHECK_STR(o->err.code, code);
    if (status >= 0)
        CHECK_INT(o->err.status, status);
    CHECK_CONTAINS(o->err.message, says);
    CHECK_CONTAINS(o->err.message, o->where);
}

TEST(each_token_endpoint_failure_names_the_endpoint_and_status)
{
    for (size_t i = 0; i < sizeof endpoint_cases / sizeof *endpoint_cases; i++) {
        outcome o;
        run_endpoint_case(&endpoint_cases[i], &o);
        expect(endpoint_cases[i].name, &o, endpoint_cases[i].code, endpoint_cases[i].status, endpoint_cases[i].says);
        cr_error_clear(&o.err);
    }
}

TEST(each_bad_file_names_the_file_and_the_field)
{
    for (size_t i = 0; i < sizeof file_cases / sizeof *file_cases; i++) {
        outcome o;
        run_file_case(&file_cases[i], &o);
        expect(file_cases[i].name, &o, file_cases[i].code, 0, file_cases[i].says);
        cr_error_clear(&o.err);
    }
}

TEST(an_unreadable_credentials_file_of_any_type_is_not_found_naming_the_path)
{
    const char types[] = "SUIE";
    for (int i = 0; types[i]; i++) {
        outcome o;
        unreadable_credentials_file(types[i], &o);
        expect("unreadable", &o, "NOT_FOUND", 0, "credentials file");
        cr_error_clear(&o.err);
    }
}

TEST(an_unreadable_subject_token_file_is_named_at_refresh_time)
{
    outcome o;
    unreadable_subject_token_file(&o);
    snprintf(o.where, sizeof o.where, "/nonexistent/subject-token");
    expect("unreadable_subject", &o, "NOT_FOUND", 0, "No such file");
    CHECK_CONTAINS(o.err.message, "credential_source: subject token file /nonexistent/subject-token");
    CHECK_CONTAINS(o.err.message, "ext-unreadable-subject.json");
    cr_error_clear(&o.err);
    subject_json_without_the_field(&o);
    expect("subject_json", &o, "INVALID_ARGUMENT", 0, "has no string field \"id_token\"");
    cr_error_clear(&o.err);
}

TEST(an_impersonation_whose_bearer_iam_refuses_is_unauthenticated_naming_the_url)
{
    outcome o;
    impersonation_with_a_bearer_iam_does_not_know(&o);
    expect("imp_bearer", &o, "UNAUTHENTICATED", 401, "answered 401: Request had invalid authentication credentials");
    cr_error_clear(&o.err);
}

/* ---- no secret leaks ----------------------------------------------------------------------------- */

static char *issued[16];
static int nissued;

/* The successful path of each type, keeping every token handed out. */
static void collect_tokens(void)
{
    kit_fake f;
    if (start(&f, NULL) < 0)
        return;
    const char types[] = "SUIEX";
    for (int i = 0; types[i]; i++) {
        char where[256], name[64];
        char *json = json_for(types[i], &f, where, sizeof where);
        snprintf(name, sizeof name, "fail/ok-%c.json", types[i]);
        char *path = kit_write(name, json);
        cr_error err = CR_ERROR_INIT;
        cr_credentials_options opts = {.self_signed_jwt = types[i] == 'S'};
        cr_credentials *c = cr_credentials_from_file_opts(path, &opts, &err);
        char *t = NULL;
        if (c && cr_credentials_token(c, &t, NULL, &err) == 0 && nissued < 16)
            issued[nissued++] = t;
        else
            fprintf(stderr, "  %s\n", err.message);
        cr_error_clear(&err);
        cr_credentials_unref(c);
        free(path), free(json);
    }
    kit_fake_stop(&f);
}

static void check_clean(const char *name, const outcome *o)
{
    const char *m = o->err.message;
    if (getenv("CR_SHOW_MESSAGES")) /* for reading the messages as a user would */
        fprintf(stderr, "  %-28s %s %d: %s\n", name, o->err.code, o->err.status, m);
    const char *secrets[] = {kit_key_fragment(0), CLIENT_SECRET, REFRESH, SUBJECT, GARBAGE_TOKEN, "ya29.", "eyJ"};
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        if (m && strstr(m, secrets[i]))
            fprintf(stderr, "  case %s leaks a secret: %s\n", name, m);
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        CHECK_NOT_CONTAINS(m, secrets[i]);
    for (int i = 0; i < nissued; i++)
        CHECK_NOT_CONTAINS(m, issued[i]);
    CHECK(m != NULL);
}

TEST(no_failure_of_any_kind_leaks_a_key_a_secret_or_a_token)
{
    collect_tokens();
    CHECK_INT(nissued, 5);
    int runs = 0;
    outcome o;
    for (size_t i = 0; i < sizeof endpoint_cases / sizeof *endpoint_cases; i++, runs++) {
        run_endpoint_case(&endpoint_cases[i], &o);
        check_clean(endpoint_cases[i].name, &o);
        cr_error_clear(&o.err);
    }
    for (size_t i = 0; i < sizeof file_cases / sizeof *file_cases; i++, runs++) {
        run_file_case(&file_cases[i], &o);
        check_clean(file_cases[i].name, &o);
        cr_error_clear(&o.err);
    }
    const char types[] = "SUIE";
    for (int i = 0; types[i]; i++, runs++) {
        unreadable_credentials_file(types[i], &o);
        check_clean("unreadable", &o);
        cr_error_clear(&o.err);
    }
    unreadable_subject_token_file(&o);
    check_clean("unreadable_subject", &o);
    cr_error_clear(&o.err);
    subject_json_without_the_field(&o);
    check_clean("subject_json", &o);
    cr_error_clear(&o.err);
    impersonation_with_a_bearer_iam_does_not_know(&o);
    check_clean("imp_bearer", &o);
    cr_error_clear(&o.err);
    fprintf(stderr, "  %d failure paths checked against %d issued tokens\n", runs + 3, nissued);
    for (int i = 0; i < nissued; i++)
        cr_secret_free(issued[i]);
    nissued = 0;
}

int main(void)
{
    return check_run();
}
