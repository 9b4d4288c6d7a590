/*
** credentials.h — the credential object as the auth files share it: a
** source (how to fetch a token) plus the process-wide registry and the token
** cache that credentials.c owns. Internal to the core.
*/
#ifndef CR_AUTH_CREDENTIALS_H
#define CR_AUTH_CREDENTIALS_H

#include <stdint.h>

#include "util/util.h"

/* A token is reused until this many seconds before it expires (3 min 45 s:
** what Google's libraries use, sized to the metadata server's own cache). */
#define CR_TOKEN_REFRESH_MARGIN 225

/* Default timeout of one token request, and of the ADC metadata probe. */
#define CR_TOKEN_TIMEOUT_MS 30000L
#define CR_METADATA_PROBE_TIMEOUT_MS 2000L

/*
** What a kind of credential knows how to do. `fetch` gets a new token over
** `t` (a transport owned by the credential, handed exclusively to the one
** thread that refreshes); it returns 0 with *token (a new string, freed with
** cr_secret_free) and *expires_at set, or -1 with err set. `destroy` frees
** the source's data. `project` (optional) looks the project up when no file
** said it; it returns a new string or NULL. `invalidated` (optional) is
** told when the current token was dropped by cr_credentials_invalidate (the
** API refused it); it may run while another thread is inside `fetch`.
** `account` (optional) names the account when it is learnt only later (the
** metadata server's email): a string owned by data, set at most once.
*/
typedef struct cr_credentials_source {
    const char *type;
    int (*fetch)(void *data, cr_transport *t, long timeout_ms, char **token, int64_t *expires_at, cr_error *err);
    void (*destroy)(void *data);
    char *(*project)(void *data, long timeout_ms);
    void (*invalidated)(void *data);
    const char *(*account)(void *data);
} cr_credentials_source;

/* Describes a credential being made; strings are copied. */
typedef struct cr_credentials_desc {
    const cr_credentials_source *source; /* NULL: a static token */
    void *data;                          /* owned by the new object (or destroyed) */
    const char *key;                     /* registry key; NULL: not shared */
    const char *account;
    const char *project;
    const char *quota_project; /* the file's quota_project_id */
    const char *origin;
} cr_credentials_desc;

/*
** Returns the registered credential with desc->key (a new reference; the
** new data is then destroyed), or creates one (refcount 1), registering it
** when it has a key. Takes ownership of desc->data in every case. NULL with
** err set when out of memory.
*/
CR_HIDDEN cr_credentials *cr_credentials_intern(const cr_credentials_desc *desc, cr_error *err);

/* The registered credential with this key, as a new reference, or NULL. */
CR_HIDDEN cr_credentials *cr_credentials_lookup(const char *key);

/* Timeout of each token request this credential makes (ms, > 0). Tests and
** clients with a short deadline use it. */
CR_HIDDEN void cr_credentials_set_timeout_ms(cr_credentials *creds, long timeout_ms);

/* The registry key (owned by creds), NULL when not registered. */
CR_HIDDEN const char *cr_credentials_key(const cr_credentials *creds);

/* cr_credentials_token, but a fetch it makes waits at most timeout_ms (when
** shorter than the credential's own): a credential used as the source of
** another one fails within the outer deadline. */
CR_HIDDEN int cr_credentials_token_within(cr_credentials *creds, long timeout_ms, char **token, int64_t *expires_at,
                                          cr_error *err);

/* Lower-case hex SHA-256 of data: how a secret takes part in a registry key
** without being in it. Returns 0, or -1 when OpenSSL fails. */
CR_HIDDEN int cr_sha256_hex(const void *data, size_t len, char out[65]);

#endif
