/*
** floor_keepalive.c — floor A: the least a client can do per warm RunJob.
** One libcurl easy handle, set up once and reused (one kept-alive
** connection), POSTs the RunJob body our clients send with a ready bearer
** token N times; the answer is read and dropped, only its status checked.
** Prints one JSON line: wall and this process's CPU (getrusage) per call,
** after one call to open the connection.
**
**   floor_keepalive URL TOKEN N
*/
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

static size_t drop(char *data, size_t size, size_t nmemb, void *ud)
{
    (void)data;
    (void)ud;
    return size * nmemb;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: floor_keepalive URL TOKEN N\n");
        return 2;
    }
    const char *url = argv[1];
    int n = atoi(argv[3]);
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);

    curl_global_init(CURL_GLOBAL_ALL);
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, BENCH_RUN_BODY);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(BENCH_RUN_BODY));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

    for (int i = -1; i < n; i++) {
        if (i == 0)
            bench_start();
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) {
            fprintf(stderr, "floor_keepalive: call %d: %s, HTTP %ld\n", i + 1, curl_easy_strerror(rc), status);
            return 1;
        }
    }
    bench_report(n);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
