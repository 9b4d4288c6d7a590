/*
** service_account.h — the service_account credential kind: a key file's
** RSA key, signed into a fresh assertion and traded at token_uri on every
** refresh.
*/
#ifndef CR_AUTH_SERVICE_ACCOUNT_H
#define CR_AUTH_SERVICE_ACCOUNT_H

#include "auth/keyfile.h"

/*
** The (shared) credential for a parsed key file; takes ownership of kf's
** contents in every case and clears it. `origin` is the file path or the
** JSON's origin. The registry key is the type, client_email,
** private_key_id, token_uri and the public key's SHA-256, so reloading the
** file returns the same object while a rotated key makes a new one.
*/
CR_HIDDEN cr_credentials *cr_service_account_new(cr_keyfile *kf, const char *origin, cr_error *err);

#endif
