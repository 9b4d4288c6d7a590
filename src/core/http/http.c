/*
** http.c — the request/response data types every layer passes around:
** header lists, the clear functions that wipe what may be secret, and the
** one rule for what may go into a header line.
*/
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

int cr_header_add(cr_header **list, const char *name, const char *value)
{
    cr_header *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->name = cr_strdup(name);
    h->value = cr_strdup(value ? value : "");
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        free(h);
        return -1;
    }
    while (*list)
        list = &(*list)->next;
    *list = h;
    return 0;
}

int cr_header_add_owned(cr_header **list, const char *name, char *value)
{
    cr_header *h = value ? calloc(1, sizeof *h) : NULL;
    if (!h || !(h->name = cr_strdup(name))) {
        free(h);
        cr_secret_free(value);
        return -1;
    }
    h->value = value;
    while (*list)
        list = &(*list)->next;
    *list = h;
    return 0;
}

/* RFC 7230 §3.2.6 tchar: what a header name (a token) is made of. */
static int tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int cr_header_name_ok(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!tchar(*p))
            return 0;
    return 1;
}

/*
** Why CR and LF above all: a value that carries them ends its header line
** and starts another (header injection, or a request smuggled behind it).
** The other control characters have no place in a field-value either; a
** tab does (RFC 7230 §3.2), as do bytes above 0x7f (obs-text).
*/
int cr_header_value_ok(const char *value)
{
    if (!value)
        return 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

/* Narrower than a value: a token follows "Bearer " as the whole rest of the
** line, so a space or tab in it would change what the server reads. */
int cr_bearer_token_ok(const char *token)
{
    if (!token || !*token)
        return 0;
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

const char *cr_header_get(const cr_header *list, const char *name)
{
    for (; list; list = list->next)
        if (strcasecmp(list->name, name) == 0)
            return list->value;
    return NULL;
}

void cr_header_free(cr_header *list)
{
    while (list) {
        cr_header *next = list->next;
        free(list->name);
        cr_secret_free(list->value);
        free(list);
        list = next;
    }
}

void cr_http_request_clear(cr_http_request *req)
{
    if (!req)
        return;
    free(req->url);
    cr_header_free(req->headers);
    if (req->body) {
        cr_wipe(req->body, req->body_len);
        free(req->body);
    }
    memset(req, 0, sizeof *req);
}

void cr_http_response_clear(cr_http_response *resp)
{
    if (!resp)
        return;
    cr_header_free(resp->headers);
    if (resp->body) {
        cr_wipe(resp->body, resp->body_len);
        free(resp->body);
    }
    memset(resp, 0, sizeof *resp);
}

int cr_http_request_check(const cr_http_request *req, cr_error *err)
{
    for (const cr_header *h = req->headers; h; h = h->next) {
        if (!cr_header_name_ok(h->name)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s %s: a header name is not an HTTP token", req->method,
                         req->url);
            return -1;
        }
        if (!cr_header_value_ok(h->value)) {
            cr_error_set(err, "INVALID_ARGUMENT", 0,
                         "%s %s: the value of header %s has a line break or control character: not sent", req->method,
                         req->url, h->name);
            return -1;
        }
    }
    return 0;
}
