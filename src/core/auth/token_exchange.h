/*
** token_exchange.h — talking to an OAuth2 token endpoint: the JWT-bearer
** grant (RFC 7523) and reading a token response, shared with the metadata
** server, whose token answers have the same shape.
*/
#ifndef CR_AUTH_TOKEN_EXCHANGE_H
#define CR_AUTH_TOKEN_EXCHANGE_H

#include <stdint.h>

#include "util/util.h"

#define CR_JWT_BEARER_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"

/*
** Reads {access_token, expires_in, token_type} from a 2xx response of
** `who` ("token endpoint URL", "metadata server URL"). On success *token is a
** new string (cr_secret_free) and *expires_at = now + expires_in (3600 when
** the server gave none). Otherwise -1 and INTERNAL naming `who`; the body is
** never quoted, since it may hold a token.
*/
CR_HIDDEN int cr_token_response_parse(const cr_http_response *resp, const char *who, int64_t now, char **token,
                                      int64_t *expires_at, cr_error *err);

/*
** POSTs the grant to token_uri over t and reads the answer. Errors:
** the transport's (UNAVAILABLE / DEADLINE_EXCEEDED naming the URL);
** 400/401 -> UNAUTHENTICATED with the OAuth2 error and error_description;
** 5xx -> UNAVAILABLE; other statuses -> their google.rpc code; a 2xx that is
** not a token response -> INTERNAL.
*/
CR_HIDDEN int cr_token_exchange_jwt(cr_transport *t, const char *token_uri, const char *assertion, long timeout_ms,
                                    char **token, int64_t *expires_at, cr_error *err);

/* Prefixes err->message with `who` unless it already names `url`. */
CR_HIDDEN void cr_auth_transport_error(cr_error *err, const char *who, const char *url);

#endif
