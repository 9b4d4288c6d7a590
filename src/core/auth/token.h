/*
** token.h — the token machine (see token.c) and the freshness rule.
*/
#ifndef CR_AUTH_TOKEN_H
#define CR_AUTH_TOKEN_H

#include <stdint.h>

#include "util/util.h"

/* Whether a token expiring at `expires_at` may still be used at `now`
** (Unix seconds): until CR_TOKEN_REFRESH_MARGIN seconds before it expires. */
CR_HIDDEN int cr_token_is_fresh(int64_t expires_at, int64_t now);

/*
** A machine whose result is a token of creds fit to use: the stored one while
** fresh, else a new one. refused_token: the API refused this token (a 401),
** so a new one is asked for at once, with refused = 1. within: seconds a
** fetch may take (<= 0: the default). NULL with err set when out of memory.
*/
CR_HIDDEN cr_machine *cr_token_machine_new(cr_credentials *creds, const char *refused_token, double within,
                                           cr_error *err);

#endif
