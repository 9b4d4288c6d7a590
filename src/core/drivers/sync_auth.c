/*
** sync_auth.c — the blocking face of the credentials: each synchronous
** public function here is a machine of auth/ run to its end on the calling
** thread by the blocking driver (cr_machine_run, curl_easy.c). The protocol
** stays in the machines; auth/ never calls a driver.
*/
#include <stdlib.h>

#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"
#include "machine/machine.h"

cr_credentials *cr_credentials_default(cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    cr_credentials *c = NULL;
    cr_machine *m = cr_adc_machine(err);
    if (m) {
        cr_machine_run(m);
        c = cr_adc_take(m, err);
        cr_machine_free(m);
    }
    cr_error_clear(&scratch);
    return c;
}

/* A token fit to use: the stored one while fresh, else one fetched now (by
** this thread, or by the one already fetching it, whose result it waits for). */
int cr_credentials_token(cr_credentials *creds, char **token, int64_t *expires_at, cr_error *err)
{
    cr_error scratch = CR_ERROR_INIT;
    if (!err)
        err = &scratch;
    if (!creds || !token) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "cr_credentials_token: no credentials or no place for the token");
        cr_error_clear(&scratch);
        return -1;
    }
    *token = NULL;
    cr_machine *m = cr_credentials_token_machine(creds, err);
    int rc = -1;
    if (m) {
        cr_machine_run(m);
        rc = cr_machine_take_token(m, token, expires_at, err);
        cr_machine_free(m);
    }
    cr_error_clear(&scratch);
    return rc;
}

/*
** The project from the key file, or — for a source that can look it up, the
** metadata server — asked once (a machine, run here) and then kept on the
** credential. A failed lookup is not remembered, so a later call may
** succeed; the string lives as long as creds.
*/
const char *cr_credentials_project(const cr_credentials *cc)
{
    if (!cc)
        return NULL;
    cr_credentials *c = (cr_credentials *)cc; /* the lookup fills a cache */
    const char *known = cr_credentials_known_project(c);
    if (known)
        return known;
    cr_machine *m = cr_credentials_project_machine(c, cr_credentials_timeout_ms(c));
    if (!m)
        return NULL;
    cr_machine_run(m);
    char *found = cr_machine_take_text(m, NULL);
    cr_machine_free(m);
    cr_credentials_set_project(c, found);
    free(found);
    return cr_credentials_known_project(c);
}

char *cr_metadata_lookup(const char *path, cr_error *err)
{
    cr_machine *m = cr_metadata_lookup_machine(path, err);
    if (!m)
        return NULL;
    cr_machine_run(m);
    char *value = cr_machine_take_text(m, err);
    cr_machine_free(m);
    return value;
}
