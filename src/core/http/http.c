/*
** http.c — the request/response data types every layer passes around:
** header lists and the clear functions that wipe what may be secret.
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
