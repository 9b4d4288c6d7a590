/*
** credentials.h — the credential object as the auth files share it: a
** source (how to fetch a token: a machine) plus the process-wide registry
** that credentials.c owns, and one slot a driver may hang its token store
** entry on. Internal to the core.
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
** What a kind of credential knows how to do. `fetch` makes a machine whose
** result is a new token (each exchange waits at most timeout_ms), or NULL
** with err set; the machine holds a reference to creds while it runs. `destroy` frees the source's data. `project`
*(optional)
** makes a machine whose text result is the project, when no file said it.
** `refused` (optional) is told that the API refused the current token; it
** may run while a fetch machine of the source is running. `account`
** (optional) names the account when it is learnt only later (the metadata
** server's email): a string owned by data, set at most once. `persist`: its
** tokens may outlive the process in the per-user cache file of one-shot
** processes (drivers/token_file.c), because its registry key says whose
** they are on any machine.
*/
typedef struct cr_credentials_source {
    const char *type;
    int persist;
    cr_machine *(*fetch)(cr_credentials *creds, void *data, long timeout_ms, cr_error *err);
    void (*destroy)(void *data);
    cr_machine *(*project)(void *data, long timeout_ms);
    void (*refused)(void *data);
    const char *(*account)(void *data);
} cr_credentials_source;

/* Describes a credential being made; strings are copied. */
typedef struct cr_credentials_desc {
    const cr_credentials_source *source; /* NULL: a fixed token */
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

/* 0, or -1 with err naming $GOOGLE_CLOUD_QUOTA_PROJECT when it is set to a
** value that cannot be a header value (CR, LF, a control character). */
CR_HIDDEN int cr_credentials_check_quota_env(cr_error *err);

/* The key under which a token of creds may be kept beyond the process (the
** store key, owned by creds: no secret in it), or NULL: not registered (so
** not the same source in another process), a fixed token, or a kind whose
** tokens stay in memory (source->persist 0). */
CR_HIDDEN const char *cr_credentials_persist_key(const cr_credentials *creds);

/* The registry key (owned by creds), NULL when not registered. */
CR_HIDDEN const char *cr_credentials_registry_key(const cr_credentials *creds);

/* The registered credential with this registry key, as a new reference, or NULL. */
CR_HIDDEN cr_credentials *cr_credentials_lookup(const char *registry_key);

/* Timeout of each token request this credential's fetches make (ms, > 0). */
CR_HIDDEN void cr_credentials_set_timeout_ms(cr_credentials *creds, long timeout_ms);
CR_HIDDEN long cr_credentials_timeout_ms(cr_credentials *creds);

/* The fixed token of a cr_credentials_from_access_token credential (owned by
** creds), or NULL for one that fetches. */
CR_HIDDEN const char *cr_credentials_fixed_token(const cr_credentials *creds, int64_t *expires_at);
CR_HIDDEN int64_t cr_credentials_fixed_expiry(const cr_credentials *creds);

/* Whether the source can look its project up (a machine, see cr_credentials_project_machine). */
CR_HIDDEN cr_machine *cr_credentials_project_machine(cr_credentials *creds, long timeout_ms);

/* Records the project a lookup found (copied), unless one is known. */
CR_HIDDEN void cr_credentials_set_project(cr_credentials *creds, const char *project);

/* The project known so far (from the file, or a finished lookup), without asking anyone. */
CR_HIDDEN const char *cr_credentials_known_project(const cr_credentials *creds);

/*
** The driver's slot: the first call for a credential makes the entry with
** make() (under the credential's lock); every later call returns the same
** one. drop() frees it with the credential. NULL when make() failed.
*/
CR_HIDDEN void *cr_credentials_slot(cr_credentials *creds, void *(*make)(cr_credentials *), void (*drop)(void *));

/* Lower-case hex SHA-256 of data: how a secret takes part in a registry key
** without being in it. Always 0 (util/sha256.c needs no provider that could
** fail). */
CR_HIDDEN int cr_sha256_hex(const void *data, size_t len, char out[65]);

#endif
