/*
** curl_exchange.c — a cr_http_request on a libcurl easy handle: options,
** the body (fed so that a change can never be rewound and resent), the
** answer's headers and body, and libcurl's failures in google.rpc terms.
** It moves bytes and reports failures; it knows nothing of Google.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/curl_exchange.h"

/* Where Debian (and most distributions) keep the system's CA certificates, hashed. */
#define CR_SYSTEM_CA_DIR "/etc/ssl/certs"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/* Whether the libcurl running has the pre-request callback (7.80), for
** changes sent inline (see once_only). Set once, by cr_global_init. */
static int has_prereq;

static void global_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    has_prereq = v && v->version_num >= 0x075000;
}

/* libcurl's global init is not thread-safe on old versions: do it once, here. */
void cr_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

CURL *cr_curl_easy_new(void)
{
    cr_global_init();
    return curl_easy_init();
}

/*
** libcurl silently resends a request when a kept-alive connection turns out
** to have died with no answer. For a RunJob that may already have started an
** execution, that would start a second one. Two guards, one per libcurl:
**
** From 7.80 the body goes inline with the headers (CURLOPT_POSTFIELDS: one
** send, where a read callback costs a second send and ~7 us of CPU a call on
** loopback) and the pre-request callback, which libcurl calls before every
** attempt on a connection, refuses a second attempt once any byte of the
** first went out (CURLINFO_REQUEST_SIZE counts what every attempt of the
** transfer wrote).
**
** Before 7.80 the body is fed by a read callback: libcurl then has to rewind
** it to resend, and seek_refuse says no once any of it was read.
*/
#if LIBCURL_VERSION_NUM >= 0x075000
static int once_only(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    cr_curl_exchange *x = ud;
    if (x->attempts++ == 0)
        return CURL_PREREQFUNC_OK;
    long written = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &written) != CURLE_OK || written > 0) {
        x->resend_refused = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK; /* nothing went out yet */
}
#endif

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    cr_upload *u = ud;
    size_t n = size * nitems;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

static int seek_refuse(void *ud, curl_off_t offset, int origin)
{
    cr_upload *u = ud;
    if (offset == 0 && origin == SEEK_SET && u->off == 0)
        return CURL_SEEKFUNC_OK; /* nothing went out yet */
    return CURL_SEEKFUNC_FAIL;
}

/* The body as it arrives, decompressed; past the cap the transfer stops.
** The buffer is sized from Content-Length when there is one, so that a
** typical answer is copied once rather than through every doubling. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    cr_curl_exchange *x = ud;
    size_t n = size * nmemb;
    if (x->body.len + n > (size_t)CR_MAX_BODY) {
        x->too_large = 1;
        return 0;
    }
    if (!x->body.data) {
        curl_off_t announced = -1;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
            announced > (curl_off_t)n && announced <= (curl_off_t)CR_MAX_BODY)
            cr_buf_reserve(&x->body, (size_t)announced);
    }
    cr_buf_append(&x->body, data, n);
    return x->body.failed ? 0 : n;
}

/* Collects response headers; a new status line (after a 100 Continue or a
** redirect) starts the list afresh. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    cr_curl_exchange *x = ud;
    size_t n = size * nmemb;
    if ((x->header_bytes += n) > (size_t)CR_MAX_HEADERS) {
        x->too_large = 1;
        return 0;
    }
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        cr_header_free(x->resp_headers);
        x->resp_headers = NULL;
        x->resp_tail = &x->resp_headers;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    cr_header *h = calloc(1, sizeof *h);
    if (h && (h->name = cr_strndup(data, (size_t)(colon - data))) && (h->value = cr_strndup(v, (size_t)(end - v)))) {
        *x->resp_tail = h;
        x->resp_tail = &h->next;
    } else if (h) {
        free(h->name);
        free(h);
    }
    return n;
}

/*
** What a handle was last set up for, kept in its CURLOPT_PRIVATE: the method,
** how the body goes, whether the connection must be fresh, whether a CA
** bundle is added. A request of the same shape only sets what differs per
** request (URL, timeouts, body, headers, callback data); another shape starts
** from curl_easy_reset, so that nothing of the last one (a custom method, a
** read callback, FRESH_CONNECT) carries over. 0: unknown, always reset.
*/
/* How a body goes: none; inline (a read, which libcurl may resend); inline
** once (a change, from libcurl 7.80); through the read callback (a change,
** before 7.80). */
typedef enum { BODY_NONE, BODY_FIELDS, BODY_ONCE, BODY_READ } body_mode;

#if LIBCURL_VERSION_NUM >= 0x075000
#define CHANGE_BODY BODY_ONCE
#else
#define CHANGE_BODY BODY_READ
#endif

static uintptr_t shape_of(const char *method, body_mode mode, int fresh, int ca)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE"};
    for (uintptr_t m = 0; m < 4; m++)
        if (strcmp(method, methods[m]) == 0)
            return 1 + (((m * 4 + (uintptr_t)mode) * 2 + (uintptr_t)(fresh != 0)) * 2 + (uintptr_t)(ca != 0));
    return 0;
}

/* The options every request on a handle shares, and the method and body
** handling of its shape: set after a reset only. */
static void set_shape(CURL *h, const cr_http_request *req, body_mode mode, int fresh, uintptr_t shape)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* gzip, which Google's APIs serve: decoded by libcurl, the caps apply after */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "lua-cloudrun/" CR_VERSION);
    /* a Content-Length past the cap is refused before anything is read */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CR_MAX_BODY);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (mode != BODY_NONE) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
#if CHANGE_BODY == BODY_ONCE
    if (mode == BODY_ONCE)
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, once_only);
#endif
    if (mode == BODY_READ) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_refuse);
    }
    /* Without a body there is nothing to rewind, so libcurl's resend cannot be
    ** refused: a change without a body (a DELETE) goes on a connection of its own. */
    if (fresh)
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)shape);
}

/*
** The request's header lines for libcurl, in one allocation (wiped and freed
** by finish: the Authorization line is a secret) with the list's nodes in the
** exchange, and no "Expect: 100-continue" round trip for our small bodies.
*/
static int header_lines(cr_curl_exchange *x, const cr_http_request *req)
{
    static const char expect[] = "Expect:";
    size_t n = 1, bytes = sizeof expect;
    for (const cr_header *hd = req->headers; hd; hd = hd->next, n++)
        bytes += strlen(hd->name) + 2 + strlen(hd->value) + 1;
    struct curl_slist *list = x->nodes;
    if (n > CR_EXCHANGE_HEADERS && !(list = x->more = calloc(n, sizeof *list)))
        return -1;
    if (!(x->lines = malloc(bytes)))
        return -1;
    x->lines_len = bytes;
    char *p = x->lines;
    size_t i = 0;
    for (const cr_header *hd = req->headers; hd; hd = hd->next, i++) {
        size_t nl = strlen(hd->name), vl = strlen(hd->value);
        list[i].data = p;
        memcpy(p, hd->name, nl);
        p += nl;
        *p++ = ':';
        *p++ = ' ';
        memcpy(p, hd->value, vl);
        p += vl;
        *p++ = '\0';
        list[i].next = &list[i + 1];
    }
    memcpy(p, expect, sizeof expect);
    list[i].data = p;
    list[i].next = NULL;
    return 0;
}

int cr_curl_exchange_setup(cr_curl_exchange *x, CURL *h, const cr_http_request *req, const char *ca_file, cr_error *err)
{
    x->easy = h;
    x->req = req;
    x->resp_tail = &x->resp_headers;
    if (cr_http_request_check(req, err) < 0)
        return -1; /* nothing went out */
    /* TLS is always verified (libcurl's default, never switched off here); a
    ** bundle of one's own (a TLS-inspecting proxy's CA) is trusted besides the
    ** system's, as NODE_EXTRA_CA_CERTS does */
    if (!ca_file)
        ca_file = cr_getenv("CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE");
    x->up = (cr_upload){req->body ? req->body : "", req->body ? req->body_len : 0, 0};
    int has_body = req->body || strcmp(req->method, "POST") == 0;
    body_mode mode = !has_body ? BODY_NONE : req->idempotent ? BODY_FIELDS : has_prereq ? CHANGE_BODY : BODY_READ;
    int fresh = !req->idempotent && (!has_body || x->up.len == 0);

    if (header_lines(x, req) < 0) {
        free(x->more);
        x->more = NULL;
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", req->method, req->url);
        return -1;
    }
    /* Keep the connection cache and, for a request shaped like the last, the options. */
    uintptr_t shape = shape_of(req->method, mode, fresh, ca_file != NULL);
    char *was = NULL;
    if (!shape || curl_easy_getinfo(h, CURLINFO_PRIVATE, &was) != CURLE_OK || (uintptr_t)was != shape)
        set_shape(h, req, mode, fresh, shape);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : 30000;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
    if (ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, CR_SYSTEM_CA_DIR);
    }
    if (mode == BODY_FIELDS || mode == BODY_ONCE) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->up.data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->up.len);
#if CHANGE_BODY == BODY_ONCE
        if (mode == BODY_ONCE)
            curl_easy_setopt(h, CURLOPT_PREREQDATA, x);
#endif
    } else if (mode == BODY_READ) {
        curl_easy_setopt(h, CURLOPT_READDATA, &x->up);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x->up);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->up.len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->more ? x->more : x->nodes);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    return 0;
}

/*
** Maps a libcurl failure to google.rpc terms. Whether the request could have
** reached the server matters to retries of non-idempotent calls: only a
** connection that was never made is safe to retry.
*/
static void set_transport_error(cr_error *err, CURLcode rc, const char *method, const char *url, int too_large)
{
    int sent = 1;
    const char *code = "UNAVAILABLE";
    if (too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        /* not transient: asking again brings the same; not retried (a code retries do not take) */
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0,
                     "%s %s: the answer is larger than this client takes (%ld MiB of body, %ld KiB of headers): "
                     "refused",
                     method, url, CR_MAX_BODY >> 20, CR_MAX_HEADERS >> 10);
        err->sent = 1;
        return;
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR) {
        /* a certificate that does not verify will not verify on the next try either */
        cr_error_set(err, "FAILED_PRECONDITION", 0,
                     "%s %s: the server's TLS certificate did not verify (%s); if a proxy of yours inspects TLS, "
                     "trust its CA with the client's ca_file option or $CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
                     method, url, curl_easy_strerror(rc));
        err->sent = 0;
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        sent = 0;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        code = "DEADLINE_EXCEEDED";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        sent = 0;
        break;
    case CURLE_SEND_FAIL_REWIND:
        cr_error_set(err, "UNAVAILABLE", 0,
                     "%s %s: the connection closed with no answer after the request went out; it was not sent "
                     "again, as it may have taken effect",
                     method, url);
        err->sent = 1;
        return;
    default:
        break;
    }
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        code = "INVALID_ARGUMENT";
    cr_error_set(err, code, 0, "%s %s: %s", method, url, curl_easy_strerror(rc));
    err->sent = sent;
    if (strcmp(code, "DEADLINE_EXCEEDED") == 0 && !sent)
        err->retryable = 1;
}

int cr_curl_exchange_finish(cr_curl_exchange *x, CURLcode rc, cr_http_response *resp, cr_error *err)
{
    memset(resp, 0, sizeof *resp);
    /* The header lines hold the Authorization line: wiped before freeing. */
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    if (x->lines) {
        cr_wipe(x->lines, x->lines_len);
        free(x->lines);
        x->lines = NULL;
    }
    free(x->more);
    x->more = NULL;
    const cr_http_request *req = x->req;
    if (x->resend_refused)
        rc = CURLE_SEND_FAIL_REWIND; /* once_only refused to send it again: as a refused rewind */
    if (rc != CURLE_OK) {
        cr_buf_free(&x->body);
        cr_header_free(x->resp_headers);
        x->resp_headers = NULL;
        set_transport_error(err, rc, req->method, req->url, x->too_large);
        return -1;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->headers = x->resp_headers;
    x->resp_headers = NULL;
    resp->body = cr_buf_take(&x->body, &resp->body_len);
    if (!resp->body) {
        cr_http_response_clear(resp);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", req->method, req->url);
        return -1;
    }
    return 0;
}
