/*
** curl_exchange.h — one cr_http_request on a libcurl easy handle, for both
** libcurl drivers: setting the handle up, collecting the answer, mapping
** libcurl's failures to google.rpc terms, and the rule that a change is
** never sent twice. The easy driver performs it at once; the multi driver
** adds the handle to its multi stack.
*/
#ifndef CR_DRIVERS_CURL_EXCHANGE_H
#define CR_DRIVERS_CURL_EXCHANGE_H

#include <curl/curl.h>

#include "util/util.h"

typedef struct cr_upload {
    const char *data;
    size_t len, off;
} cr_upload;

/* What one answer may take, at most: its body after decompression (a
** generous bound for any Cloud Run answer: a page of 1,000 jobs is a few MB),
** and its headers. The nginx driver applies the same. */
#define CR_MAX_BODY (32L * 1024 * 1024)
#define CR_MAX_HEADERS (64L * 1024)

/* Request header lines an exchange holds without allocating a list (more take one). */
#define CR_EXCHANGE_HEADERS 8

/* What one exchange holds while libcurl works. Zero it before setup. */
typedef struct cr_curl_exchange {
    CURL *easy;                 /* borrowed: the driver's handle */
    const cr_http_request *req; /* borrowed: the machine's, valid until the feed */
    char *lines;                /* the request's header lines, NUL-separated (one allocation; a secret) */
    size_t lines_len;
    struct curl_slist nodes[CR_EXCHANGE_HEADERS]; /* libcurl's list over `lines` */
    struct curl_slist *more;                      /* the list, when it is longer than nodes */
    cr_upload up;
    cr_buf body;
    cr_header *resp_headers;
    cr_header **resp_tail; /* where the next answer header goes */
    size_t header_bytes;
    int too_large;      /* the body or the headers went past their cap */
    int attempts;       /* a change's attempts so far (libcurl's own resends included) */
    int resend_refused; /* a change was not sent again after its connection died */
} cr_curl_exchange;

/*
** Sets easy up for req (keeping its connection cache). ca_file: a CA bundle
** trusted besides the system's (NULL: $CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, or
** none). Options that do not change between requests of the same shape
** (method, body handling, CA) stay on the handle from the last one; only
** what differs is set again. Every handle given here must come from
** cr_curl_easy_new (it marks what was set with CURLOPT_PRIVATE). 0, or -1
** with err set.
*/
CR_HIDDEN int cr_curl_exchange_setup(cr_curl_exchange *x, CURL *easy, const cr_http_request *req, const char *ca_file,
                                     cr_error *err);

/*
** After libcurl finished with result rc: 0 with *resp filled (any HTTP
** status), or -1 with err set (UNAVAILABLE / DEADLINE_EXCEEDED naming the
** URL, err->sent = 0 when the request cannot have reached the server).
** Frees what the exchange held either way.
*/
CR_HIDDEN int cr_curl_exchange_finish(cr_curl_exchange *x, CURLcode rc, cr_http_response *resp, cr_error *err);

/* A new easy handle (NULL when libcurl cannot make one). */
CR_HIDDEN CURL *cr_curl_easy_new(void);

#endif
