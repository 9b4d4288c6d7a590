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

/* The same, and when refresh_token is not NULL, *refresh_token = the
** response's "refresh_token" (a rotated one, new string) or NULL. */
CR_HIDDEN int cr_token_response_parse_ex(const cr_http_response *resp, const char *who, int64_t now, char **token,
                                         int64_t *expires_at, char **refresh_token, cr_error *err);

/*
** A machine that POSTs an application/x-www-form-urlencoded `form` (a secret:
** copied, wiped) to `url` and reads a token response into its token result.
** `what` names the endpoint in messages ("token endpoint", "STS endpoint"),
** which read "WHAT URL answered STATUS: error: error_description"; 400/401
** are UNAUTHENTICATED, 5xx UNAVAILABLE, a 2xx that is not a token response
** INTERNAL, a failed send the driver's error prefixed with WHAT. When
** `rotated` is not NULL it is handed a rotated refresh token the answer
** carried (a new string it takes) with `data`. The machine holds a reference
** to creds (NULL is fine).
*/
CR_HIDDEN cr_machine *cr_token_exchange_machine(cr_credentials *creds, const char *what, const char *url,
                                                const char *form, long timeout_ms,
                                                void (*rotated)(void *data, char *refresh_token), void *data,
                                                cr_error *err);

/* The JWT-bearer grant's form for a signed assertion: a new string (a secret,
** cr_secret_free), NULL when out of memory. */
CR_HIDDEN char *cr_token_jwt_form(const char *assertion);

/* Printable ASCII only, at most size-1 bytes: what may be quoted from a
** server's answer. Writes ": <error>[: <description>]" for an OAuth2 error
** body, ": <message>" for a google.rpc.Status body, or "" into out. */
CR_HIDDEN void cr_auth_error_text(const cr_http_response *resp, char *out, size_t size);

#endif
