/*
** service_account.h — the service_account credential kind: a key file's
** RSA key, signed into a fresh assertion and traded at token_uri on every
** refresh, or (self_signed_jwt) signed into the access token itself.
*/
#ifndef CR_AUTH_SERVICE_ACCOUNT_H
#define CR_AUTH_SERVICE_ACCOUNT_H

#include "auth/keyfile.h"

/* The self-signed JWT's audience when the options name none. */
#define CR_SELF_SIGNED_AUDIENCE "https://run.googleapis.com/"

/*
** The (shared) credential for a parsed key file; takes ownership of kf's
** contents in every case and clears it. `origin` is the file path or the
** JSON's origin; opts may be NULL. The registry key is the type,
** client_email, private_key_id, token_uri, the public key's SHA-256, the
** quota project and the mode ("exchange", or "self-signed" and the
** audience), so reloading the file returns the same object while a rotated
** key, or the other mode, makes a new one.
*/
CR_HIDDEN cr_credentials *cr_service_account_new(cr_keyfile *kf, const char *origin, const cr_credentials_options *opts,
                                                 cr_error *err);

#endif
