/*
** test_jwt.c — the RS256 grant assertion: its signature verifies with the
** public key, and its header and claims are what Google's token endpoint
** expects.
*/
#include "check.h"
#include "testkit.h"

#include "auth/jwt.h"
#include "util/util.h"

/* Splits a JWT into its three parts (pointers into a copy the caller frees). */
static char *split(const char *jwt, char **parts)
{
    char *copy = strdup(jwt), *p = copy;
    for (int i = 0; i < 3; i++) {
        parts[i] = p;
        p = strchr(p, '.');
        if (i < 2) {
            if (!p)
                return copy;
            *p++ = 0;
        }
    }
    return copy;
}

static cJSON *decode(const char *part)
{
    size_t n;
    unsigned char *raw = cr_base64url_decode(part, strlen(part), &n);
    cJSON *j = raw ? cJSON_ParseWithLength((const char *)raw, n) : NULL;
    free(raw);
    return j;
}

TEST(a_grant_assertion_verifies_with_the_public_key_and_carries_the_claims)
{
    cr_error err = CR_ERROR_INIT;
    char *jwt = cr_jwt_grant_assertion(kit_key(0), "key-1", "sa@p.iam.gserviceaccount.com", CR_CLOUD_PLATFORM_SCOPE,
                                       "https://oauth2.googleapis.com/token", 1700000000, &err);
    CHECK(jwt != NULL);
    if (!jwt)
        return;
    char *parts[3] = {0};
    char *copy = split(jwt, parts);
    CHECK(parts[2] != NULL);

    /* Signature over "header.claims" with the public half only. */
    char *pub = kit_public_pem(kit_key(0));
    BIO *bio = BIO_new_mem_buf(pub, -1);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    size_t siglen;
    unsigned char *sig = cr_base64url_decode(parts[2], strlen(parts[2]), &siglen);
    CHECK_INT(siglen, 256);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t signed_len = strlen(parts[0]) + 1 + strlen(parts[1]);
    CHECK_INT(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
    CHECK_INT(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt, signed_len), 1);
    /* ... and a tampered message does not verify. */
    char *tampered = strdup(jwt);
    tampered[strlen(parts[0]) + 3] ^= 1;
    EVP_MD_CTX_reset(md);
    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk);
    CHECK(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)tampered, signed_len) != 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    free(sig);
    free(pub);
    free(tampered);

    cJSON *h = decode(parts[0]), *c = decode(parts[1]);
    CHECK(h && c);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "alg")), "RS256");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "typ")), "JWT");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "kid")), "key-1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "iss")), "sa@p.iam.gserviceaccount.com");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "scope")), "https://www.googleapis.com/auth/cloud-platform");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "aud")), "https://oauth2.googleapis.com/token");
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "iat")), 1700000000);
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c, "exp")), 1700003600);
    cJSON_Delete(h);
    cJSON_Delete(c);
    free(copy);
    cr_secret_free(jwt);
    cr_error_clear(&err);
}

TEST(the_kid_is_left_out_when_the_key_file_has_no_private_key_id)
{
    cr_error err = CR_ERROR_INIT;
    char *jwt = cr_jwt_grant_assertion(kit_key(0), NULL, "sa@x", "s", "a", 1, &err);
    CHECK(jwt != NULL);
    char *parts[3];
    char *copy = split(jwt, parts);
    cJSON *h = decode(parts[0]);
    CHECK(h != NULL);
    CHECK(cJSON_GetObjectItem(h, "kid") == NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h, "alg")), "RS256");
    cJSON_Delete(h);
    free(copy);
    cr_secret_free(jwt);
}

TEST(the_parts_are_base64url_without_padding)
{
    cr_error err = CR_ERROR_INIT;
    char *jwt = cr_jwt_grant_assertion(kit_key(0), "k", "a-service-account-with-a-long-name@p.iam", "s?>", "a~",
                                       1234567890, &err);
    CHECK(jwt != NULL);
    CHECK(jwt && strcspn(jwt, "=+/ \n") == strlen(jwt));
    cr_secret_free(jwt);
}

int main(void)
{
    return check_run();
}
