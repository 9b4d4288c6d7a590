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
** POSTs an application/x-www-form-urlencoded `form` (a secret: wiped) to
** `url` and reads a token response, as cr_token_exchange_jwt does; `who`
** names the endpoint in messages ("token endpoint", "STS endpoint"), which
** read "WHO URL answered STATUS: error: error_description".
*/
CR_HIDDEN int cr_token_exchange_form(cr_transport *t, const char *who, const char *url, const char *form,
                                     long timeout_ms, char **token, int64_t *expires_at, char **refresh_token,
                                     cr_error *err);

/* Printable ASCII only, at most size-1 bytes: what may be quoted from a
** server's answer. Writes ": <error>[: <description>]" for an OAuth2 error
** body, ": <message>" for a google.rpc.Status body, or "" into out. */
CR_HIDDEN void cr_auth_error_text(const cr_http_response *resp, char *out, size_t size);

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
