/*
** exchange.h — one HTTP exchange as a machine: a request its maker built,
** handed out as one SEND, and the answer turned into the machine's result by
** the maker's reader. Every credential fetch that is a single request is one
** (the token endpoint, STS, IAM Credentials, the metadata server, a subject
** token URL); what differs between them is only the request and the reader.
*/
#ifndef CR_MACHINE_EXCHANGE_H
#define CR_MACHINE_EXCHANGE_H

#include <stdint.h>

#include "util/util.h"

/* What a reader makes of an answer: one of a token (a secret, with its
** expiry), a text or a JSON tree. The machine takes whichever is set. */
typedef struct cr_exchange_result {
    char *token;
    int64_t expires_at;
    char *text;
    cJSON *json;
} cr_exchange_result;

/*
** Reads the answer `resp` to `req` (whatever its status: a refusal is the
** reader's to turn into an error) into *out and returns 0, or sets err and
** returns -1 (what it put into *out is freed then). `sent_at` is when the
** request was first handed out, in Unix seconds on the machine's clock: a
** token's life counts from then. `ud` is the maker's. Neither resp nor req
** may be kept.
*/
typedef int (*cr_exchange_reader)(void *ud, const cr_http_request *req, const cr_http_response *resp, int64_t sent_at,
                                  cr_exchange_result *out, cr_error *err);

/*
** A machine that sends *req (its contents taken and the struct zeroed, also
** when this fails) once, and ends with what `read` makes of the answer. A
** failure to get one (the driver's error) ends it prefixed with `who` and
** the URL ("metadata server http://...: ..."), or with just `who` when the
** message names the URL already. `who` is copied; `drop` (NULL: none) frees
** ud with the machine. NULL with err set (and ud dropped) when out of memory.
*/
CR_HIDDEN cr_machine *cr_exchange_machine(cr_http_request *req, const char *who, cr_exchange_reader read, void *ud,
                                          void (*drop)(void *ud), cr_error *err);

#endif
