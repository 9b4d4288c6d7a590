/*
** keyfile.h — reading Google credentials JSON (what `gcloud` and the Cloud
** console hand out) into checked fields, with errors that name the file and
** the field and never its secrets.
*/
#ifndef CR_AUTH_KEYFILE_H
#define CR_AUTH_KEYFILE_H

#include <openssl/evp.h>

#include "util/util.h"

#define CR_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

/* A parsed service_account file. Strings and the key are owned by it. */
typedef struct cr_keyfile {
    char *client_email;
    char *private_key_id; /* NULL when absent */
    char *token_uri;      /* the file's, else CR_DEFAULT_TOKEN_URI */
    char *project_id;     /* NULL when absent */
    EVP_PKEY *pkey;       /* an RSA private key */
} cr_keyfile;

/*
** Parses credentials JSON. `what` names the source in messages
** ("credentials file /tmp/k.json"). Returns 0 with *kf filled for a
** service_account; -1 with err set otherwise: INVALID_ARGUMENT for bad JSON,
** a missing/mistyped field or an unknown type, UNIMPLEMENTED for a known type
** this library does not support yet. The caller wipes `json` itself.
*/
CR_HIDDEN int cr_keyfile_parse(const char *json, size_t len, const char *what, cr_keyfile *kf, cr_error *err);

/* Frees what kf owns and zeroes it. */
CR_HIDDEN void cr_keyfile_clear(cr_keyfile *kf);

/* Loads a PEM private key (PKCS#8 or PKCS#1) that must be RSA; no passphrase
** prompt ever. NULL with err set naming `what` and the field. */
CR_HIDDEN EVP_PKEY *cr_keyfile_load_rsa_pem(const char *pem, const char *what, const char *field, cr_error *err);

#endif
