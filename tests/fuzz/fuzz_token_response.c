/*
** fuzz_token_response.c — libFuzzer target: what a token endpoint answers,
** fed to every credential type's fetch machine (no network): the OAuth token
** endpoint for a service account's JWT grant and an authorized_user's
** refresh grant, the metadata server, STS for an external account and IAM
** Credentials for impersonation (both in a row when the file asks for both).
** The first byte picks the type. Findings: a crash, a token that is empty, an
** error without a code, and any secret the machine sent — the JWT
** assertion, refresh token, client secret, subject token, the source's
** token — in an error.
*/
#include "fuzz_client.h"

#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define CLIENT_SECRET "FUZZ-client-secret-0123456789"
#define REFRESH_TOKEN "1//FUZZ-refresh-token-0123456789"
#define SUBJECT_TOKEN "FUZZ-subject-token-0123456789abcdef"
#define IAM_URL "http://127.0.0.1:9/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken"

static char *key_json_pem; /* the PEM, JSON-escaped */
static char subject_path[64];

static char *json_escape(const char *s)
{
    cJSON *str = cJSON_CreateString(s);
    char *out = cJSON_PrintUnformatted(str);
    cJSON_Delete(str);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    if (!k || !b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
        abort();
    char *pem = NULL;
    long n = BIO_get_mem_data(b, &pem);
    char *copy = strndup(pem, (size_t)n);
    key_json_pem = json_escape(copy);
    free(copy);
    BIO_free(b);
    EVP_PKEY_free(k);
    snprintf(subject_path, sizeof subject_path, "/tmp/fuzz-subject-%ld", (long)getpid());
    FILE *f = fopen(subject_path, "w");
    if (!f)
        abort();
    fputs(SUBJECT_TOKEN "\n", f);
    fclose(f);
    return 0;
}

static char *credentials_json(int kind)
{
    static const char user[] =
        "{\"type\":\"authorized_user\",\"client_id\":\"fuzz-client\",\"client_secret\":\"" CLIENT_SECRET
        "\",\"refresh_token\":\"" REFRESH_TOKEN "\",\"token_uri\":\"http://127.0.0.1:9/token\"}";
    char *out = NULL;
    int rc = -1;
    switch (kind) {
    case 0:
        rc =
            asprintf(&out,
                     "{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key_id\":\"kid\",\"private_key\":%s,"
                     "\"client_email\":\"sa@p.iam.gserviceaccount.com\",\"client_id\":\"1\","
                     "\"token_uri\":\"http://127.0.0.1:9/token\"}",
                     key_json_pem);
        break;
    case 1:
        rc = asprintf(&out, "%s", user);
        break;
    case 2:
    case 3:
        rc = asprintf(&out,
                      "{\"type\":\"external_account\",\"audience\":\"//iam.googleapis.com/projects/1/locations/global/"
                      "workloadIdentityPools/p/providers/x\",\"subject_token_type\":\"urn:ietf:params:oauth:token-type:"
                      "jwt\",\"token_url\":\"http://127.0.0.1:9/sts\",\"credential_source\":{\"file\":\"%s\"}%s%s%s}",
                      subject_path, kind == 3 ? ",\"service_account_impersonation_url\":\"" : "",
                      kind == 3 ? IAM_URL : "", kind == 3 ? "\"" : "");
        break;
    default:
        rc = asprintf(&out,
                      "{\"type\":\"impersonated_service_account\",\"service_account_impersonation_url\":\"" IAM_URL
                      "\",\"delegates\":[\"d@p.iam.gserviceaccount.com\"],\"source_credentials\":%s}",
                      user);
        break;
    }
    return rc < 0 ? NULL : out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 128 * 1024)
        return 0;
    int kind = data[0] % 6;
    cr_error err = CR_ERROR_INIT;
    cr_credentials *creds;
    if (kind == 5) {
        creds = cr_credentials_from_metadata("127.0.0.1:9", &err);
    } else {
        char *json = credentials_json(kind);
        if (!json)
            abort();
        creds = cr_credentials_from_json(json, strlen(json), "fuzz.json", &err);
        free(json);
    }
    if (!creds)
        abort(); /* every file above is well formed */
    cr_machine *m = cr_credentials_fetch(creds, 1000, &err);
    if (!m)
        abort();
    fz_input in = {data + 1, data + size};
    if (!fz_drive(m, &in, 40))
        abort();
    char *token = NULL;
    int64_t exp = 0;
    int got = cr_machine_take_token(m, &token, &exp, &err);
    if (getenv("FZ_DEBUG")) /* what a seed does: FZ_DEBUG=1 fuzz_token_response -runs=0 corpus */
        fprintf(stderr, "fuzz: kind %d: %s %s\n", kind, got == 0 ? "token" : err.code, got == 0 ? "" : err.message);
    if (got == 0) {
        if (!token || !*token)
            abort();
        cr_secret_free(token);
    } else {
        if (!err.code[0])
            abort();
        /* what went on the wire: the JWT assertion, the refresh token and client secret,
           the subject token, a source's bearer token (a server sees the private key never) */
        fz_no_sent_secret(&err);
    }
    cr_error_clear(&err);
    cr_machine_free(m);
    cr_credentials_unref(creds);
    return 0;
}
