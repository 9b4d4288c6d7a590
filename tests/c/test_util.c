/*
** test_util.c — the core's shared rules, each written once: copying an
** error, what may go into a header line, and the single-exchange machine
** every one-request credential fetch is made of. No server needed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "check.h"
#include "cloudrun.h"
#include "machine/exchange.h"
#include "machine/machine.h"
#include "util/dynlib.h"
#include "util/sha256.h"
#include "util/util.h"
#include "util/yaml_lib.h"

TEST(an_error_copy_has_every_field_and_its_own_details)
{
    cr_error src = CR_ERROR_INIT, dst = CR_ERROR_INIT;
    cr_error_set(&src, "UNAVAILABLE", 503, "server %s is down", "x");
    src.sent = 1;
    src.retryable = 0; /* not what the code alone says: the copy keeps it */
    src.details = cJSON_Parse("[{\"reason\":\"R\"}]");
    cr_error_set(&dst, "INTERNAL", 500, "what dst held before");
    cr_error_copy(&dst, &src);
    CHECK_STR(dst.code, "UNAVAILABLE");
    CHECK_INT(dst.status, 503);
    CHECK_INT(dst.sent, 1);
    CHECK_INT(dst.retryable, 0);
    CHECK_STR(dst.message, "server x is down");
    CHECK(dst.message != src.message);
    CHECK(cJSON_IsArray(dst.details) && dst.details != src.details);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(dst.details, 0), "reason")), "R");
    cr_error_clear(&src); /* the copy outlives its source */
    CHECK_STR(dst.message, "server x is down");
    cr_error_clear(&dst);
}

TEST(a_header_name_is_an_rfc_7230_token)
{
    CHECK_INT(cr_header_name_ok("Metadata-Flavor"), 1);
    CHECK_INT(cr_header_name_ok("x-goog-user-project"), 1);
    CHECK_INT(cr_header_name_ok("a!#$%&'*+-.^_`|~9"), 1);
    CHECK_INT(cr_header_name_ok(""), 0);
    CHECK_INT(cr_header_name_ok(NULL), 0);
    CHECK_INT(cr_header_name_ok("Bad Name"), 0);
    CHECK_INT(cr_header_name_ok("Bad:Name"), 0);
    CHECK_INT(cr_header_name_ok("X\r\nInjected"), 0);
    CHECK_INT(cr_header_name_ok("caf\xc3\xa9"), 0);
}

TEST(a_header_value_may_hold_spaces_and_tabs_but_no_line_break_or_control)
{
    CHECK_INT(cr_header_value_ok("Bearer abc.def"), 1);
    CHECK_INT(cr_header_value_ok("a\tb"), 1);
    CHECK_INT(cr_header_value_ok(""), 1);
    CHECK_INT(cr_header_value_ok("caf\xc3\xa9"), 1);
    CHECK_INT(cr_header_value_ok(NULL), 0);
    CHECK_INT(cr_header_value_ok("a\r\nX-Injected: 1"), 0);
    CHECK_INT(cr_header_value_ok("a\rb"), 0);
    CHECK_INT(cr_header_value_ok("a\nb"), 0);
    CHECK_INT(cr_header_value_ok("a\x01"), 0);
    CHECK_INT(cr_header_value_ok("a\x7f"), 0);
}

TEST(a_request_with_a_bad_header_is_refused_naming_the_header_not_its_value)
{
    cr_http_request req = {.method = "POST"};
    req.url = strdup("http://127.0.0.1:9/v2/x");
    CHECK_INT(cr_header_add(&req.headers, "Content-Type", "application/json"), 0);
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_http_request_check(&req, &err), 0);
    CHECK_INT(cr_header_add(&req.headers, "x-goog-user-project", "p\r\nX-Injected: secret-value"), 0);
    CHECK_INT(cr_http_request_check(&req, &err), -1);
    CHECK_STR(err.code, "INVALID_ARGUMENT");
    CHECK(strstr(err.message, "x-goog-user-project") != NULL);
    CHECK(strstr(err.message, "secret-value") == NULL);
    cr_error_clear(&err);
    cr_http_request_clear(&req);
    req = (cr_http_request){.method = "GET", .url = strdup("http://127.0.0.1:9/v2/x")};
    CHECK_INT(cr_header_add(&req.headers, "bad name", "v"), 0);
    CHECK_INT(cr_http_request_check(&req, &err), -1);
    cr_error_clear(&err);
    cr_http_request_clear(&req);
}

TEST(a_bearer_token_is_non_empty_visible_ascii)
{
    CHECK_INT(cr_bearer_token_ok("ya29.a0AfH6SM-_~+/="), 1);
    CHECK_INT(cr_bearer_token_ok(""), 0);
    CHECK_INT(cr_bearer_token_ok(NULL), 0);
    CHECK_INT(cr_bearer_token_ok("two words"), 0);
    CHECK_INT(cr_bearer_token_ok("tab\there"), 0);
    CHECK_INT(cr_bearer_token_ok("line\r\nbreak"), 0);
    CHECK_INT(cr_bearer_token_ok("caf\xc3\xa9"), 0);
}

/* ---- the single-exchange machine -------------------------------------------- */

static int64_t fixed_time(void *ud)
{
    return *(int64_t *)ud;
}

static int drops;

static void count_drop(void *ud)
{
    (void)ud;
    drops++;
}

/* Reads "T <token>" as a token that lives 60 s from sent_at, "X <text>" as
** text, anything else (or a non-200) as an error naming the URL. */
static int read_test(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                     cr_exchange_result *out, cr_error *err)
{
    (void)ud;
    if (resp->status == 200 && resp->body && strncmp(resp->body, "T ", 2) == 0) {
        out->token = cr_strdup(resp->body + 2);
        out->expires_at = sent_at + 60;
        return 0;
    }
    if (resp->status == 200 && resp->body && strncmp(resp->body, "X ", 2) == 0) {
        out->text = cr_strdup(resp->body + 2);
        return 0;
    }
    cr_error_set(err, "INTERNAL", (int)resp->status, "test server %s answered %ld", req->url, resp->status);
    return -1;
}

static cr_machine *test_exchange(const char *url)
{
    cr_http_request req;
    memset(&req, 0, sizeof req);
    strcpy(req.method, "GET");
    req.url = cr_strdup(url);
    req.timeout_ms = 1000;
    req.idempotent = 1;
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = cr_exchange_machine(&req, "test server", read_test, NULL, count_drop, &err);
    CHECK(m != NULL);
    CHECK(req.url == NULL); /* taken */
    cr_error_clear(&err);
    return m;
}

static void answer(cr_machine *m, long status, const char *body)
{
    cr_http_response resp;
    memset(&resp, 0, sizeof resp);
    resp.status = status;
    resp.body = cr_strdup(body);
    resp.body_len = strlen(body);
    cr_machine_respond(m, &resp);
}

TEST(an_exchange_sends_its_request_once_and_ends_with_what_its_reader_read)
{
    int64_t now = 1000;
    cr_clock clock = {.unix_time = fixed_time, .ud = &now};
    drops = 0;
    cr_machine *m = test_exchange("http://h/token");
    cr_machine_share_clock(m, &(cr_machine){.clock = clock});
    cr_step s;
    cr_machine_step(m, &s);
    CHECK_INT(s.kind, CR_STEP_SEND);
    CHECK_STR(s.request->url, "http://h/token");
    CHECK_STR(s.request->method, "GET");
    now = 1005; /* the token's life counts from the send, not the answer */
    answer(m, 200, "T tok");
    cr_machine_step(m, &s);
    CHECK_INT(s.kind, CR_STEP_DONE);
    char *token = NULL;
    int64_t exp = 0;
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_machine_take_token(m, &token, &exp, &err), 0);
    CHECK_STR(token, "tok");
    CHECK_INT(exp, 1060);
    cr_secret_free(token);
    cr_machine_free(m);
    CHECK_INT(drops, 1);

    m = test_exchange("http://h/value");
    cr_machine_step(m, &s);
    answer(m, 200, "X some text");
    char *text = cr_machine_take_text(m, &err);
    CHECK_STR(text, "some text");
    free(text);
    cr_machine_free(m);
    CHECK_INT(drops, 2);
}

TEST(an_exchange_ends_with_its_readers_error_or_the_drivers_naming_the_server)
{
    cr_step s;
    cr_error err = CR_ERROR_INIT;
    cr_machine *m = test_exchange("http://h/x");
    cr_machine_step(m, &s);
    answer(m, 403, "no");
    CHECK(cr_machine_take_text(m, &err) == NULL);
    CHECK_STR(err.code, "INTERNAL");
    CHECK_STR(err.message, "test server http://h/x answered 403");
    cr_error_clear(&err);
    cr_machine_free(m);

    m = test_exchange("http://h/x");
    cr_machine_step(m, &s);
    cr_error_set(&err, "UNAVAILABLE", 0, "connection refused");
    cr_machine_fail(m, &err);
    CHECK(cr_machine_take_text(m, &err) == NULL);
    CHECK_STR(err.code, "UNAVAILABLE");
    CHECK_STR(err.message, "test server http://h/x: connection refused");
    cr_error_clear(&err);
    cr_machine_free(m);

    /* a message that names the URL already gets only the server's name */
    m = test_exchange("http://h/x");
    cr_machine_step(m, &s);
    cr_error_set(&err, "DEADLINE_EXCEEDED", 0, "GET http://h/x: timed out");
    cr_machine_fail(m, &err);
    CHECK(cr_machine_take_text(m, &err) == NULL);
    CHECK_STR(err.message, "test server: GET http://h/x: timed out");
    cr_error_clear(&err);
    cr_machine_free(m);
}

/* cr_yaml_json of text: its JSON as cJSON prints it, or "error: MESSAGE". Caller frees. */
static char *yaml_as_json(const char *text)
{
    cr_error err = CR_ERROR_INIT;
    cJSON *doc = cr_yaml_json(text, strlen(text), "policy.yaml", &err);
    char *out = doc ? cJSON_PrintUnformatted(doc) : NULL;
    if (!doc) {
        out = malloc(strlen(err.message) + 8);
        sprintf(out, "error: %s", err.message);
    }
    cJSON_Delete(doc);
    cr_error_clear(&err);
    return out;
}

TEST(a_yaml_document_becomes_the_json_it_stands_for_plain_scalars_typed_quoted_ones_text)
{
    static const struct {
        const char *yaml, *json;
    } cases[] = {
        {"bindings:\n- members:\n  - user:a@example.com\n  role: roles/run.invoker\netag: BwX=\nversion: 3\n",
         "{\"bindings\":[{\"members\":[\"user:a@example.com\"],\"role\":\"roles/run.invoker\"}],\"etag\":\"BwX=\","
         "\"version\":3}"},
        {"{\"bindings\": [], \"etag\": \"ACAB\", \"version\": 1}", "{\"bindings\":[],\"etag\":\"ACAB\",\"version\":1}"},
        {"a: '3'\nb: \"true\"\nc: true\nd: ~\ne: -1.5e2\nf: 0x1F\ng: 12abc\nh:\n", /* 0x1F: text, not a number */
         "{\"a\":\"3\",\"b\":\"true\",\"c\":true,\"d\":null,\"e\":-150,\"f\":\"0x1F\",\"g\":\"12abc\",\"h\":null}"},
        {"- [1, 2]\n- {x: y}\n", "[[1,2],{\"x\":\"y\"}]"},
        {"a: 1\na: 2\n", "error: policy.yaml: a is given twice"},
        {"a: &x 1\nb: *x\n", "error: policy.yaml: aliases are not taken; write each value out"},
        {"", "error: policy.yaml: the file is empty"},
        {"- a\n---\n- b\n", "error: policy.yaml: more than one YAML document"},
        {"a: [1, 2\n", "error: policy.yaml: not valid YAML"},
        {"a: \"x\\0y\"\n", "error: policy.yaml: a value holds a NUL byte"},
        {"? [1]\n: 2\n", "error: policy.yaml: a key must be text (without a NUL byte)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = yaml_as_json(cases[i].yaml);
        if (strncmp(cases[i].json, "error: ", 7) == 0)
            CHECK(got && strncmp(got, cases[i].json, strlen(cases[i].json)) == 0);
        else
            CHECK_STR(got, cases[i].json);
        free(got);
    }
    /* 64 levels deep and no more */
    char deep[400] = "";
    for (int i = 0; i < 66; i++)
        strcat(deep, "[");
    char *got = yaml_as_json(deep);
    CHECK(got && strstr(got, "nested deeper than 64 levels"));
    free(got);
}

static void sha256_hex_of(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    cr_sha256(data, len, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* FIPS 180-4's examples (and NIST's CAVS short messages: the empty one, the million a's). */
TEST(sha256_gives_the_digests_of_the_standards_examples)
{
    static const struct {
        const char *text, *digest;
    } cases[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqr"
         "stu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sha256_hex_of(cases[i].text, strlen(cases[i].text), hex);
        CHECK_STR(hex, cases[i].digest);
    }
    /* a million 'a', in pieces that straddle the blocks */
    cr_sha256_ctx ctx;
    char piece[1001];
    memset(piece, 'a', sizeof piece);
    cr_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++)
        cr_sha256_update(&ctx, piece, (size_t)(i % 2 ? 999 : 1001));
    unsigned char md[32];
    cr_sha256_final(&ctx, md);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length around the padding's edges (55, 56, 63, 64 mod 64), fed whole and a byte at a time, against OpenSSL's.
 */
TEST(sha256_agrees_with_openssl_at_every_length_up_to_300)
{
    unsigned char data[300], ours[32], theirs[32];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof data; len++) {
        unsigned int n = 0;
        CHECK(EVP_Digest(data, len, theirs, &n, EVP_sha256(), NULL) == 1 && n == 32);
        cr_sha256(data, len, ours);
        CHECK(memcmp(ours, theirs, 32) == 0);
        cr_sha256_ctx ctx;
        cr_sha256_init(&ctx);
        for (size_t i = 0; i < len; i++)
            cr_sha256_update(&ctx, data + i, 1);
        cr_sha256_final(&ctx, ours);
        CHECK(memcmp(ours, theirs, 32) == 0);
    }
}

/* Libraries loaded at their first use (dynlib.h): once, whatever the callers, into a table
** of typed pointers; a missing library or function is an error naming it, what it was for and
** the package to install. */
TEST(a_library_loaded_at_first_use_is_loaded_once_or_named_when_it_cannot_be)
{
    static const char *const libc_names[] = {"strlen", "strchr", NULL};
    static struct {
        size_t (*len)(const char *);
        char *(*chr)(const char *, int);
    } libc_api;
    static cr_dynlib libc = {.soname = "libc.so.6",
                             .what = "counting",
                             .names = libc_names,
                             .api = &libc_api,
                             .api_size = sizeof libc_api,
                             .once = PTHREAD_ONCE_INIT};
    cr_error err = CR_ERROR_INIT;
    CHECK_INT(cr_dynlib_load(&libc, "libc6", &err), 1);
    CHECK(err.code[0] == 0);
    CHECK_INT((int)libc_api.len("abcd"), 4);
    CHECK_STR(libc_api.chr("key=value", '='), "=value");
    libc_api.len = NULL; /* a second load finds it loaded: nothing is resolved again */
    CHECK_INT(cr_dynlib_load(&libc, "libc6", &err), 1);
    CHECK(libc_api.len == NULL);

    static const char *const none_names[] = {"f", NULL};
    static struct {
        void (*f)(void);
    } none_api;
    static cr_dynlib none = {.soname = "libcloudrun-none.so.9",
                             .what = "testing",
                             .names = none_names,
                             .api = &none_api,
                             .api_size = sizeof none_api,
                             .once = PTHREAD_ONCE_INIT};
    CHECK_INT(cr_dynlib_load(&none, "libnone9", &err), 0);
    CHECK_STR(err.code, "FAILED_PRECONDITION");
    CHECK(strstr(err.message, "testing needs libcloudrun-none.so.9, which could not be loaded (") == err.message);
    CHECK(strstr(err.message, "): install libnone9") != NULL);
    cr_error_clear(&err);
    CHECK_INT(cr_dynlib_load(&none, "libnone9", &err), 0); /* and says so again */
    CHECK(strstr(err.message, "libcloudrun-none.so.9") != NULL);
    cr_error_clear(&err);

    static const char *const missing_names[] = {"strlen", "cr_no_such_function", NULL};
    static struct {
        size_t (*len)(const char *);
        void (*none)(void);
    } missing_api;
    static cr_dynlib missing = {.soname = "libc.so.6",
                                .what = "testing",
                                .names = missing_names,
                                .api = &missing_api,
                                .api_size = sizeof missing_api,
                                .once = PTHREAD_ONCE_INIT};
    CHECK_INT(cr_dynlib_load(&missing, "libc6", &err), 0);
    CHECK(strstr(err.message, "(libc.so.6 has no cr_no_such_function)") != NULL);
    CHECK(missing_api.len == NULL); /* all or nothing */
    cr_error_clear(&err);

    static cr_dynlib short_table = {.soname = "libc.so.6",
                                    .what = "testing",
                                    .names = libc_names,
                                    .api = &none_api,
                                    .api_size = sizeof none_api,
                                    .once = PTHREAD_ONCE_INIT};
    CHECK_INT(cr_dynlib_load(&short_table, "libc6", &err), 0); /* two names, one pointer: a bug, said */
    CHECK(strstr(err.message, "the table of libc.so.6's functions does not match its names") != NULL);
    cr_error_clear(&err);

    /* libyaml, as the YAML readers load it */
    CHECK_INT(cr_yaml_load("x.yaml", &err), 1);
    CHECK(CR_YAML->parser_parse != NULL && CR_YAML->event_delete != NULL);
}

int main(void)
{
    return check_run();
}
