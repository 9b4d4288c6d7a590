/*
** adc.c — cr_credentials_default(): $GOOGLE_APPLICATION_CREDENTIALS, then
** gcloud's well-known file, then a quick probe of the metadata server; and,
** when all three come up empty, one error that says what each one was.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"

#define ADC_FILE_NAME "application_default_credentials.json"

char *cr_adc_well_known_file(void)
{
    const char *config = cr_getenv("CLOUDSDK_CONFIG");
    if (config)
        return cr_asprintf("%s/%s", config, ADC_FILE_NAME);
    const char *home = cr_getenv("HOME");
    if (home)
        return cr_asprintf("%s/.config/gcloud/%s", home, ADC_FILE_NAME);
    return NULL;
}

/* Prefixes the error with the variable the path came from. */
static void blame_env(cr_error *err, const char *var)
{
    char *m = cr_asprintf("$%s: %s", var, err->message ? err->message : err->code);
    if (m) {
        free(err->message);
        err->message = m;
    }
}

/*
** Why a file that exists but is broken is an error rather than a reason to
** move on: the user pointed at it (or gcloud wrote it) and means it; silently
** using another identity would be worse than failing. The metadata server is
** only probed when no file applies, and its verdict kept for the message.
*/
cr_credentials *cr_credentials_default(cr_error *err)
{
    if (!err) {
        cr_error scratch = CR_ERROR_INIT;
        cr_credentials *c = cr_credentials_default(&scratch);
        cr_error_clear(&scratch);
        return c;
    }
    const char *env = cr_getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (env) {
        cr_credentials *c = cr_credentials_from_file(env, err);
        if (!c)
            blame_env(err, "GOOGLE_APPLICATION_CREDENTIALS");
        return c;
    }

    char *well_known = cr_adc_well_known_file();
    if (well_known && access(well_known, F_OK) == 0) {
        cr_credentials *c = cr_credentials_from_file(well_known, err);
        free(well_known);
        return c;
    }

    char *host = cr_metadata_host(NULL);
    char *key = host ? cr_metadata_registry_key(host) : NULL;
    char *probe_url = host ? cr_metadata_url(host, "") : NULL;
    if (!host || !key || !probe_url) {
        free(well_known), free(host), free(key), free(probe_url);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory looking for credentials");
        return NULL;
    }
    /* Already in use in this process: no need to ask again. */
    cr_credentials *c = cr_credentials_lookup(key);
    if (!c) {
        cr_error probe = CR_ERROR_INIT;
        cr_transport *t = cr_curl_transport_new(&probe);
        char *root = t ? cr_metadata_get(t, host, "", cr_metadata_timeout_ms(), &probe) : NULL;
        cr_transport_free(t);
        if (root) {
            free(root);
            c = cr_credentials_from_metadata(host, err);
        } else {
            /* The probe's message names the URL already, after "metadata server: ". */
            const char *why = probe.message ? probe.message : probe.code;
            if (strncmp(why, "metadata server: ", 17) == 0)
                why += 17;
            cr_error_set(err, "UNAUTHENTICATED", 0,
                         "no credentials found: $GOOGLE_APPLICATION_CREDENTIALS is unset; %s%s%s; the metadata "
                         "server at %s did not answer (%s). Set GOOGLE_APPLICATION_CREDENTIALS to a key file, run "
                         "`gcloud auth application-default login`, or run on Google Cloud",
                         well_known ? "gcloud's file " : "gcloud's file was not looked for (",
                         well_known ? well_known : "neither $CLOUDSDK_CONFIG nor $HOME is set",
                         well_known ? " does not exist" : ")", probe_url, why);
        }
        cr_error_clear(&probe);
    }
    free(well_known), free(host), free(key), free(probe_url);
    return c;
}
