/*
** floor_oneshot.c — floor B: the least a one-shot trigger process can do.
** The harness execs it once per trigger (bench/measure.c times each run and
** reads its peak RSS): libcurl init, one POST of the RunJob body with a ready
** bearer token, the status checked, exit.
**
**   floor_oneshot URL TOKEN
*/
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static size_t drop(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data;
    (void)ud;
    return size * nmemb;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: floor_oneshot URL TOKEN\n");
        return 2;
    }
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    curl_global_init(CURL_GLOBAL_ALL);
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, BENCH_RUN_BODY);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(BENCH_RUN_BODY));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "floor_oneshot: %s, HTTP %ld\n", curl_easy_strerror(rc), status);
        return 1;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
