/*
** keyfile.h — reading Google credentials JSON (what `gcloud` and the Cloud
** console hand out) into checked fields, with errors that name the file and
** the field and never its secrets. What every credential kind builds on;
** the dispatch on "type" is loader.h's.
*/
#ifndef CR_AUTH_KEYFILE_H
#define CR_AUTH_KEYFILE_H

#include "util/util.h"

#define CR_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"

/*
** A parsed service_account file; it owns its strings. The key stays PEM text
** until something signs with it (cr_rsa_pem_import, rsa_pem.h): a process
** whose token is cached never needs it, and OpenSSL's import would be most of
** what such a process costs. Its shape and its public fingerprint are read at
** load, so that a malformed key is still reported then.
*/
typedef struct cr_keyfile {
    char *client_email;
    char *private_key_id;     /* NULL when absent */
    char *token_uri;          /* the file's, else CR_DEFAULT_TOKEN_URI */
    char *project_id;         /* NULL when absent */
    char *quota_project_id;   /* NULL when absent */
    char *private_key;        /* the PEM, a secret: wiped when freed (cr_secret_free) */
    char *what;               /* the source as messages name it, for the key's errors at first use */
    char key_fingerprint[65]; /* hex SHA-256 of the public key (cr_rsa_pem_check) */
} cr_keyfile;

/*
** Parses credentials JSON. `what` names the source in messages
** ("credentials file /tmp/k.json"). Returns 0 with *kf filled for a
** service_account; -1 with err set otherwise: INVALID_ARGUMENT for bad JSON,
** a missing/mistyped field or an unknown type, UNIMPLEMENTED for a known type
** this library does not support yet. The caller wipes `json` itself.
*/
CR_HIDDEN int cr_keyfile_parse(const char *json, size_t len, const char *what, cr_keyfile *kf, cr_error *err);

/* A service_account object's fields, as cr_keyfile_parse reads them: 0 with
** *kf filled (zeroed first), or -1 with err set and *kf cleared. */
CR_HIDDEN int cr_keyfile_from_object(const cJSON *root, const char *what, cr_keyfile *kf, cr_error *err);

/* The "type" field, checked (root must be an object that has one, a string):
** 0 with *type borrowed from root, or -1 with err naming `what`. */
CR_HIDDEN int cr_keyfile_type(const cJSON *root, const char *what, const char **type, cr_error *err);

/* The error for a "type" no kind handles: UNIMPLEMENTED for one Google's
** libraries know and we do not support yet, else INVALID_ARGUMENT (quoting
** the type only when it is short and printable). */
CR_HIDDEN void cr_keyfile_unknown_type(const char *type, const char *what, cr_error *err);

/*
** Reads string field `name` of obj: 0 with *out a new copy (NULL when
** absent and not required), or -1 with err "WHAT: field "PREFIXNAME" is
** missing / is not a string / is empty". `prefix` ("" or
** "credential_source.") only shapes the message.
*/
CR_HIDDEN int cr_keyfile_string(const cJSON *obj, const char *prefix, const char *name, int required, const char *what,
                                char **out, cr_error *err);

/* quota_project_id (optional): cr_keyfile_string's, refused with a message
** naming the file and the field when it would not pass as a header value
** (CR, LF, any control character but tab). */
CR_HIDDEN int cr_keyfile_quota_project(const cJSON *root, const char *what, char **out, cr_error *err);

/* -1 with err naming the file and the field unless url is https://, or
** http:// to a loopback address (127.0.0.0/8, [::1], localhost, with an
** optional port; no user@), or, when metadata_ok, to 169.254.169.254: for
** URLs a credential file from elsewhere sends tokens to or reads them from. */
CR_HIDDEN int cr_keyfile_check_secure_url(const char *url, const char *name, const char *what, int metadata_ok,
                                          cr_error *err);

/* -1 with err "WHAT: field "NAME" is not an http(s) URL" unless url is one. */
CR_HIDDEN int cr_keyfile_check_url(const char *url, const char *name, const char *what, cr_error *err);

/* Wipes every string of a cJSON tree (it held secrets), then frees it. */
CR_HIDDEN void cr_keyfile_delete_json(cJSON *root);

/* Frees what kf owns and zeroes it. */
CR_HIDDEN void cr_keyfile_clear(cr_keyfile *kf);

#endif
