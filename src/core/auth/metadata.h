/*
** metadata.h — the GCE / Cloud Run metadata server: where it is, whether it
** is there, and the token and project it hands out.
*/
#ifndef CR_AUTH_METADATA_H
#define CR_AUTH_METADATA_H

#include <stdint.h>

#include "util/util.h"

#define CR_METADATA_DEFAULT_HOST "metadata.google.internal"
#define CR_METADATA_TOKEN_PATH "instance/service-accounts/default/token"

/* The host[:port] to use: `host` when given, else $GCE_METADATA_HOST, else
** metadata.google.internal; a leading http:// and trailing slashes dropped.
** New string, caller frees; NULL when out of memory. */
CR_HIDDEN char *cr_metadata_host(const char *host);

/* http://HOST/computeMetadata/v1/PATH, new string. */
CR_HIDDEN char *cr_metadata_url(const char *host, const char *path);

/* The registry key of the metadata credential for `host` (resolved). */
CR_HIDDEN char *cr_metadata_registry_key(const char *host);

/*
** A machine that GETs http://HOST/computeMetadata/v1/PATH with
** Metadata-Flavor: Google, insisting the answer carries Metadata-Flavor:
** Google too (anything else is not a metadata server). Its text result is
** the body, trimmed; its errors name the URL: the driver's, FAILED_PRECONDITION
** for a server that is not a metadata server, or the status's code (5xx ->
** UNAVAILABLE).
*/
CR_HIDDEN cr_machine *cr_metadata_get_machine(const char *host, const char *path, long timeout_ms, cr_error *err);

/* The same against the environment's metadata server, with a timeout of
** cr_metadata_timeout_ms(), remembering for the life of the process a host
** that is not there (later lookups then fail at once with its error). */
CR_HIDDEN cr_machine *cr_metadata_lookup_machine(const char *path, cr_error *err);

#define CR_METADATA_EMAIL_PATH "instance/service-accounts/default/email"

/* How long a metadata probe or lookup may take: $GCE_METADATA_TIMEOUT
** (seconds, as Python's google-auth reads it), else 2 s. */
CR_HIDDEN long cr_metadata_timeout_ms(void);

#endif
