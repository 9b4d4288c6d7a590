/*
** request.h — what the loopback test servers (standin.c, fake_google.c) share: a
** request's body collected from libmicrohttpd's calls, at most `max` bytes (beyond
** that, too_big and the rest dropped, so that the server can answer 413).
*/
#ifndef CR_TEST_SERVERS_REQUEST_H
#define CR_TEST_SERVERS_REQUEST_H

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

typedef struct request {
    char *body; /* NUL-terminated; NULL without a body */
    size_t len;
    int too_big;
} request;

/*
** libmicrohttpd's first call of a request and its upload calls: returns 1 with the
** answer to give in *result (a request begun, a piece of its body taken), or 0 once the
** whole request is in (*con_cls).
*/
static inline int request_collect(void **con_cls, const char *data, size_t *size, size_t max, enum MHD_Result *result)
{
    request *rq = *con_cls;
    *result = MHD_YES;
    if (!rq) {
        *con_cls = calloc(1, sizeof(request));
        if (!*con_cls)
            *result = MHD_NO;
        return 1;
    }
    if (!*size)
        return 0;
    if (rq->len + *size > max) {
        rq->too_big = 1;
    } else {
        char *nb = realloc(rq->body, rq->len + *size + 1);
        if (!nb) {
            *result = MHD_NO;
            return 1;
        }
        memcpy(nb + rq->len, data, *size);
        rq->body = nb;
        rq->len += *size;
        rq->body[rq->len] = 0;
    }
    *size = 0;
    return 1;
}

#endif
