/*
** rsa_pem.h — a Google key file's private key, PEM text: its shape and its
** public key's fingerprint read without OpenSSL (when the file is loaded),
** and its import into OpenSSL (at the first signature). Why two steps: a
** one-shot process whose token is in the per-user cache signs nothing, and
** OpenSSL's first key import (its providers' set-up) would cost it more than
** everything else it does before its one request.
*/
#ifndef CR_AUTH_RSA_PEM_H
#define CR_AUTH_RSA_PEM_H

#include <openssl/evp.h>

#include "util/util.h"

/*
** Checks that pem is a PEM RSA private key, as far as can be told without
** OpenSSL: the armour ("PRIVATE KEY", PKCS#8, or "RSA PRIVATE KEY", PKCS#1),
** base64 in between, and the DER inside: PKCS#8 of an rsaEncryption key (the
** key type named otherwise), an RSAPrivateKey of version 0 or 1 and at least
** eight positive integers. 0 with fingerprint set to the lower-case hex
** SHA-256 of the public key (the modulus and the exponent, each after its
** length in four big-endian bytes: what the key was always named by); -1
** with err "WHAT: field "FIELD" is not a PEM RSA private key[ (why)]",
** quoting nothing of it.
*/
CR_HIDDEN int cr_rsa_pem_check(const char *pem, const char *what, const char *field, char fingerprint[65],
                               cr_error *err);

/* Imports a PEM private key (PKCS#8 or PKCS#1) that must be RSA; no passphrase
** prompt ever. The caller owns (EVP_PKEY_free) the key. NULL with err set
** naming `what` and the field, as cr_rsa_pem_check's. */
CR_HIDDEN EVP_PKEY *cr_rsa_pem_import(const char *pem, const char *what, const char *field, cr_error *err);

#endif
