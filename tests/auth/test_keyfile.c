/*
** test_keyfile.c — loading credentials files: what a good service_account
** file gives, the registry sharing one object per key, static tokens, and
** every kind of bad file, each error naming the file and the field and
** never quoting the key.
*/
#include <openssl/core_names.h>

#include "auth/credentials.h"
#include "auth/keyfile.h"
#include "auth/rsa_pem.h"
#include "check.h"
#include "testkit.h"

/* Loads `path` expecting failure with `code`; checks the message names the
** path and contains `want`, and holds no key material. */
static void expect_file_error(const char *path, const char *code, const char *want)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c == NULL);
    cr_credentials_unref(c);
    CHECK_STR(err.code, code);
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, want);
    CHECK_NOT_CONTAINS(err.message, kit_key_fragment(0));
    CHECK_NOT_CONTAINS(err.message, "PRIVATE KEY");
    cr_error_clear(&err);
}

TEST(a_service_account_file_gives_its_type_account_project_and_origin)
{
    char *path = kit_sa_file("good.json", 0, "sa@test-project.iam.gserviceaccount.com", "kid-1", NULL);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "service_account");
    CHECK_STR(cr_credentials_account(c), "sa@test-project.iam.gserviceaccount.com");
    CHECK_STR(cr_credentials_project(c), "test-project");
    CHECK_STR(cr_credentials_origin(c), path);
    cr_credentials_unref(c);
    cr_error_clear(&err);
    free(path);
}

TEST(the_same_file_loaded_twice_is_the_same_object)
{
    char *path = kit_sa_file("twice.json", 0, "twice@p.iam", "kid-2", NULL);
    char *copy = kit_sa_file("sub/copy-of-twice.json", 0, "twice@p.iam", "kid-2", NULL);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *a = cr_credentials_from_file(path, &err);
    cr_credentials *b = cr_credentials_from_file(path, &err);
    cr_credentials *c = cr_credentials_from_file(copy, &err);
    CHECK(a != NULL);
    CHECK(a == b);
    CHECK(a == c); /* same key in another file: still one token cache */
    cr_credentials_unref(b);
    cr_credentials_unref(c);
    CHECK_STR(cr_credentials_account(a), "twice@p.iam"); /* still alive */
    cr_credentials_unref(a);
    free(path);
    free(copy);
}

TEST(another_key_or_key_id_or_token_uri_is_another_object)
{
    char *p1 = kit_sa_file("k1.json", 0, "same@p.iam", "kid", NULL);
    char *p2 = kit_sa_file("k2.json", 1, "same@p.iam", "kid", NULL);
    char *p3 = kit_sa_file("k3.json", 0, "same@p.iam", "other-kid", NULL);
    char *p4 = kit_sa_file("k4.json", 0, "same@p.iam", "kid", "http://127.0.0.1:9/token");
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c1 = cr_credentials_from_file(p1, &err), *c2 = cr_credentials_from_file(p2, &err),
                   *c3 = cr_credentials_from_file(p3, &err), *c4 = cr_credentials_from_file(p4, &err);
    CHECK(c1 && c2 && c3 && c4);
    CHECK(c1 != c2);
    CHECK(c1 != c3);
    CHECK(c1 != c4);
    cr_credentials_unref(c1);
    cr_credentials_unref(c2);
    cr_credentials_unref(c3);
    cr_credentials_unref(c4);
    free(p1), free(p2), free(p3), free(p4);
}

TEST(json_in_memory_names_its_origin_in_errors)
{
    cr_error err = CR_ERROR_INIT;
    const char *json = "{\"type\":\"service_account\",\"private_key\":\"x\"}";
    cr_credentials *c = cr_credentials_from_json(json, strlen(json), "lua table", &err);
    CHECK(c == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_STR(err.message, "credentials lua table: field \"client_email\" is missing");
    cr_error_clear(&err);

    char *pem = kit_private_pem(kit_key(0));
    char *good = kit_sa_json("mem@p.iam", pem, NULL, NULL, NULL);
    c = cr_credentials_from_json(good, strlen(good), "lua table", &err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_origin(c), "lua table");
    CHECK(cr_credentials_project(c) == NULL);
    cr_credentials_unref(c);
    free(good);
    free(pem);
}

TEST(a_static_access_token_is_handed_out_as_is_and_never_dropped)
{
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_access_token("ya29.static", 1999999999, &err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_type(c), "access_token");
    char *tok = NULL;
    int64_t exp = 0;
    CHECK_INT(cr_credentials_token(c, &tok, &exp, &err), 0);
    CHECK_STR(tok, "ya29.static");
    CHECK_INT(exp, 1999999999);
    cr_credentials_invalidate(c, tok);
    cr_secret_free(tok);
    CHECK_INT(cr_credentials_token(c, &tok, NULL, &err), 0);
    CHECK_STR(tok, "ya29.static");
    cr_secret_free(tok);
    cr_credentials_unref(c);

    CHECK(cr_credentials_from_access_token("bad token\r\nX: y", 0, &err) == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK(cr_credentials_from_access_token("", 0, &err) == NULL);
    cr_error_clear(&err);
}

TEST(a_missing_file_is_not_found_naming_the_path)
{
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-key.json", kit_tmpdir());
    expect_file_error(missing, "NOT_FOUND", "credentials file");
}

TEST(a_directory_is_rejected_naming_the_path)
{
    expect_file_error(kit_tmpdir(), "INVALID_ARGUMENT", "is a directory");
}

TEST(text_that_is_not_json_is_rejected_with_the_byte_offset)
{
    char *path = kit_write("notjson.json", "{\"type\": \"service_account\", oops}");
    expect_file_error(path, "INVALID_ARGUMENT", "is not valid JSON (at byte 29)");
    free(path);
    path = kit_write("array.json", "[1,2]");
    expect_file_error(path, "INVALID_ARGUMENT", "is not a JSON object");
    free(path);
}

TEST(a_type_that_is_missing_or_not_a_string_is_rejected)
{
    char *path = kit_write("type-num.json", "{\"type\": 7}");
    expect_file_error(path, "INVALID_ARGUMENT", "field \"type\" is not a string");
    free(path);
    path = kit_write("type-none.json", "{\"client_email\": \"x@y\"}");
    expect_file_error(path, "INVALID_ARGUMENT", "field \"type\" is missing");
    free(path);
}

TEST(an_unknown_type_is_invalid_and_a_known_unsupported_one_is_unimplemented)
{
    char *path = kit_write("type-odd.json", "{\"type\": \"magic_beans\"}");
    expect_file_error(path, "INVALID_ARGUMENT", "field \"type\" is \"magic_beans\", which is not a credentials type");
    free(path);
    path = kit_write("type-eau.json",
                     "{\"type\": \"external_account_authorized_user\", \"client_id\": \"c\", \"client_secret\": "
                     "\"SECRET-S\", \"refresh_token\": \"1//REFRESH-R\"}");
    expect_file_error(path, "UNIMPLEMENTED", "\"external_account_authorized_user\": recognised, but not supported yet");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_credentials_from_file(path, &err) == NULL);
    CHECK_NOT_CONTAINS(err.message, "SECRET-S");
    CHECK_NOT_CONTAINS(err.message, "REFRESH-R");
    cr_error_clear(&err);
    free(path);
    path = kit_write("type-gdch.json", "{\"type\": \"gdch_service_account\"}");
    expect_file_error(path, "UNIMPLEMENTED", "gdch_service_account");
    free(path);
}

TEST(a_missing_client_email_is_named)
{
    char *pem = kit_private_pem(kit_key(0));
    char *json = kit_sa_json(NULL, pem, "kid", NULL, NULL);
    char *path = kit_write("no-email.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"client_email\" is missing");
    free(path), free(json), free(pem);
}

TEST(a_private_key_that_is_not_pem_is_named_without_quoting_it)
{
    char *json = kit_sa_json("sa@p", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ-NOT-A-PEM", "kid", NULL, NULL);
    char *path = kit_write("not-pem.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"private_key\" is not a PEM RSA private key");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_credentials_from_file(path, &err) == NULL);
    CHECK_NOT_CONTAINS(err.message, "MIIEvQ");
    cr_error_clear(&err);
    free(path), free(json);

    /* A real key with its body damaged: the message still quotes nothing. */
    char *pem = kit_private_pem(kit_key(0));
    pem[strlen(pem) / 2] = '*';
    json = kit_sa_json("sa@p", pem, "kid", NULL, NULL);
    path = kit_write("damaged-pem.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"private_key\" is not a PEM RSA private key");
    free(path), free(json), free(pem);
}

TEST(a_private_key_that_is_not_rsa_is_rejected)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *pem = kit_private_pem(ec);
    char *json = kit_sa_json("sa@p", pem, "kid", NULL, NULL);
    char *path = kit_write("ec.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"private_key\" is not a PEM RSA private key");
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_credentials_from_file(path, &err) == NULL);
    CHECK_CONTAINS(err.message, "EC");
    CHECK_NOT_CONTAINS(err.message, pem + 40);
    cr_error_clear(&err);
    EVP_PKEY_free(ec);
    free(path), free(json), free(pem);
}

/* Whether a and b make the same RS256 signature (PKCS#1 v1.5 is deterministic): the same private key. */
static int same_signature(EVP_PKEY *a, EVP_PKEY *b)
{
    unsigned char sa[512], sb[512];
    size_t la = sizeof sa, lb = sizeof sb;
    EVP_MD_CTX *ma = EVP_MD_CTX_new(), *mb = EVP_MD_CTX_new();
    int ok = EVP_DigestSignInit(ma, NULL, EVP_sha256(), NULL, a) == 1 &&
             EVP_DigestSign(ma, sa, &la, (const unsigned char *)"x.y", 3) == 1 &&
             EVP_DigestSignInit(mb, NULL, EVP_sha256(), NULL, b) == 1 &&
             EVP_DigestSign(mb, sb, &lb, (const unsigned char *)"x.y", 3) == 1 && la == lb && memcmp(sa, sb, la) == 0;
    EVP_MD_CTX_free(ma), EVP_MD_CTX_free(mb);
    return ok;
}

/* The public fingerprint as OpenSSL's numbers give it (the store key's part,
** as service_account.c computed it before the key was read by hand). */
static void openssl_fingerprint(EVP_PKEY *k, char out[65])
{
    BIGNUM *n = NULL, *e = NULL;
    CHECK(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
          EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
    unsigned char buf[1100], *w = buf;
    BIGNUM *parts[2] = {n, e};
    for (int p = 0; p < 2; p++) {
        int len = BN_num_bytes(parts[p]);
        for (int i = 3; i >= 0; i--)
            *w++ = (unsigned char)((unsigned)len >> (8 * i));
        w += BN_bn2bin(parts[p], w);
    }
    CHECK(cr_sha256_hex(buf, (size_t)(w - buf), out) == 0);
    BN_free(n), BN_free(e);
}

/* The key is read from its DER for the usual forms, by OpenSSL's decoders for the rest: the same key either way. */
TEST(every_form_of_an_rsa_key_loads_as_that_key)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *three = NULL; /* three primes: the general way */
    CHECK(ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) == 1 &&
          EVP_PKEY_CTX_set_rsa_keygen_primes(ctx, 3) == 1 && EVP_PKEY_keygen(ctx, &three) == 1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY *keys[] = {kit_key(0), kit_key(0), three};
    for (int form = 0; form < 3; form++) {
        BIO *bio = BIO_new(BIO_s_mem());
        if (form == 1)
            PEM_write_bio_PrivateKey_traditional(bio, keys[form], NULL, NULL, 0, NULL,
                                                 NULL); /* BEGIN RSA PRIVATE KEY */
        else
            PEM_write_bio_PrivateKey(bio, keys[form], NULL, NULL, 0, NULL, NULL);
        char *pem = kit_bio_string(bio);
        cr_error err = CR_ERROR_INIT;
        char fp[65] = "", want[65];
        CHECK(cr_rsa_pem_check(pem, "test", "private_key", fp, &err) == 0);
        openssl_fingerprint(keys[form], want);
        CHECK_STR(fp, want);
        EVP_PKEY *got = cr_rsa_pem_import(pem, "test", "private_key", &err);
        CHECK(got != NULL);
        CHECK(got && EVP_PKEY_eq(got, keys[form]) == 1);
        CHECK(got && same_signature(got, keys[form]));
        EVP_PKEY_free(got);
        cr_error_clear(&err);
        free(pem);
    }
    EVP_PKEY_free(three);
}

/*
** The shape is read at load, the numbers when the key first signs: a key
** whose armour, base64 and DER are sound but which OpenSSL refuses (here an
** RSAPrivateKey of version 1, "more primes", with none) loads, and the first
** token fails with the message a load would have given, naming the file.
*/
TEST(a_key_sound_in_shape_but_not_in_its_numbers_fails_at_the_first_signature_naming_the_file)
{
    unsigned char *der = NULL;
    int len = i2d_PrivateKey(kit_key(0), &der); /* PKCS#1: 30 82 LL LL 02 01 00 ... */
    CHECK(len > 7 && der[4] == 0x02 && der[5] == 0x01 && der[6] == 0x00);
    der[6] = 0x01;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio(bio, "RSA PRIVATE KEY", "", der, len);
    OPENSSL_clear_free(der, (size_t)len);
    char *pem = kit_bio_string(bio);
    char *json = kit_sa_json("sa@p", pem, "kid", NULL, NULL);
    char *path = kit_write("bad-numbers.json", json);
    cr_error err = CR_ERROR_INIT;
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c != NULL);
    char *token = NULL;
    int64_t exp = 0;
    CHECK(c && cr_credentials_token(c, &token, &exp, &err) < 0);
    CHECK(token == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, "field \"private_key\" is not a PEM RSA private key");
    CHECK_NOT_CONTAINS(err.message, kit_key_fragment(0));
    cr_error_clear(&err);
    /* and the same again at the next attempt: nothing half-imported stays */
    CHECK(c && cr_credentials_token(c, &token, &exp, &err) < 0);
    CHECK_CONTAINS(err.message, "is not a PEM RSA private key");
    cr_error_clear(&err);
    cr_credentials_unref(c);
    free(path), free(json), free(pem);
}

TEST(an_encrypted_private_key_is_refused_without_asking_for_a_passphrase)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS8PrivateKey(bio, kit_key(0), EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"secret");
    char *pem = kit_bio_string(bio);
    char *json = kit_sa_json("sa@p", pem, "kid", NULL, NULL);
    char *path = kit_write("encrypted.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"private_key\" is not a PEM RSA private key");
    free(path), free(json), free(pem);
}

TEST(fields_of_the_wrong_type_are_named)
{
    char *pem = kit_private_pem(kit_key(0));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "service_account");
    cJSON_AddStringToObject(j, "client_email", "sa@p");
    cJSON_AddStringToObject(j, "private_key", pem);
    cJSON_AddNumberToObject(j, "token_uri", 5);
    char *json = cJSON_Print(j);
    char *path = kit_write("uri-num.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"token_uri\" is not a string");
    free(path), free(json);
    cJSON_ReplaceItemInObject(j, "token_uri", cJSON_CreateString("ftp://x/token"));
    json = cJSON_Print(j);
    path = kit_write("uri-ftp.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"token_uri\" is not an http(s) URL");
    free(path), free(json);
    cJSON_DeleteItemFromObject(j, "token_uri");
    cJSON_AddItemToObject(j, "client_email", cJSON_CreateTrue());
    cJSON_DeleteItemFromObject(j, "client_email");
    cJSON_AddItemToObject(j, "client_email", cJSON_CreateTrue());
    json = cJSON_Print(j);
    path = kit_write("email-bool.json", json);
    expect_file_error(path, "INVALID_ARGUMENT", "field \"client_email\" is not a string");
    free(path), free(json), free(pem);
    cJSON_Delete(j);
}

/* Each kind of file with a quota_project_id that would put a header line of
** its own into every request: refused when loaded, naming the file and the
** field, never quoting the value. */
static cJSON *parse(const char *text)
{
    return cr_json_parse(text, strlen(text), NULL);
}

TEST(a_quota_project_id_with_a_line_break_is_refused_naming_the_file_and_the_field)
{
    static const char *const bad[] = {"p\r\nX-Injected: 1", "p\nX-Injected: 1", "p\x01"};
    char *pem = kit_private_pem(kit_key(0));
    char *sa = kit_sa_json("quota@p", pem, "kid-q", NULL, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *kinds[4];
        kinds[0] = parse(sa);
        kinds[1] = parse("{\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"s\", "
                         "\"refresh_token\": \"r\"}");
        kinds[2] = parse(
            "{\"type\": \"impersonated_service_account\", \"service_account_impersonation_url\": "
            "\"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam:generateAccessToken\", "
            "\"source_credentials\": {\"type\": \"authorized_user\", \"client_id\": \"c\", \"client_secret\": \"s\", "
            "\"refresh_token\": \"r\"}}");
        kinds[3] = parse("{\"type\": \"external_account\", \"audience\": \"a\", \"subject_token_type\": \"t\", "
                         "\"credential_source\": {\"file\": \"/nonexistent/subject\"}}");
        for (int k = 0; k < 4; k++) {
            CHECK(kinds[k] != NULL);
            cJSON_AddStringToObject(kinds[k], "quota_project_id", bad[i]);
            char *json = cJSON_Print(kinds[k]);
            char name[64];
            snprintf(name, sizeof name, "quota-%zu-%d.json", i, k);
            char *path = kit_write(name, json);
            expect_file_error(path, "INVALID_ARGUMENT",
                              "field \"quota_project_id\" has a line break or control character");
            cr_error err = CR_ERROR_INIT;
            CHECK(cr_credentials_from_file(path, &err) == NULL);
            CHECK_NOT_CONTAINS(err.message, "X-Injected");
            cr_error_clear(&err);
            free(path), free(json);
            cJSON_Delete(kinds[k]);
        }
    }
    free(sa), free(pem);
}

/* $GOOGLE_CLOUD_QUOTA_PROJECT is sent as the same header: a value with a line
** break is refused when credentials are made, naming the variable. */
TEST(a_quota_project_from_the_environment_with_a_line_break_is_refused_naming_the_variable)
{
    char *path = kit_sa_file("quota-env.json", 0, "quota-env@p.iam", "kid-qe", NULL);
    setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "p\r\nX-Injected: 1", 1);
    cr_error err = CR_ERROR_INIT;
    CHECK(cr_credentials_from_file(path, &err) == NULL);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK_CONTAINS(err.message, "$GOOGLE_CLOUD_QUOTA_PROJECT has a line break or control character");
    CHECK_NOT_CONTAINS(err.message, "X-Injected");
    cr_error_clear(&err);
    CHECK(cr_credentials_from_access_token("ya29.static", 0, &err) == NULL);
    CHECK_CONTAINS(err.message, "$GOOGLE_CLOUD_QUOTA_PROJECT");
    cr_error_clear(&err);
    cr_machine *adc = cr_credentials_default_machine(&err);
    CHECK(adc != NULL);
    CHECK(cr_machine_take_credentials(adc, &err) == NULL);
    CHECK_CONTAINS(err.message, "$GOOGLE_CLOUD_QUOTA_PROJECT");
    cr_error_clear(&err);
    cr_machine_free(adc);
    /* a good value is taken, and sent as it is */
    setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "billing-project", 1);
    cr_credentials *c = cr_credentials_from_file(path, &err);
    CHECK(c != NULL);
    CHECK_STR(cr_credentials_quota_project(c), "billing-project");
    cr_credentials_unref(c);
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    free(path);
}

int main(void)
{
    return check_run();
}
