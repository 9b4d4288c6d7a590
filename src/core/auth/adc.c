/*
** adc.c — Application Default Credentials as a machine (which
** cr_credentials_default runs, drivers/sync_auth.c): $GOOGLE_APPLICATION_CREDENTIALS,
** then gcloud's well-known file, then a quick probe of the metadata server;
** and, when all three come up empty, one error that says what each one was.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"
#include "machine/machine.h"

#define ADC_FILE_NAME "application_default_credentials.json"

char *cr_gcloud_config_dir(void)
{
    const char *config = cr_getenv("CLOUDSDK_CONFIG");
    if (config)
        return cr_strdup(config);
    const char *home = cr_getenv("HOME");
    return home ? cr_asprintf("%s/.config/gcloud", home) : NULL;
}

char *cr_adc_well_known_file(void)
{
    char *config = cr_gcloud_config_dir();
    char *path = config ? cr_asprintf("%s/%s", config, ADC_FILE_NAME) : NULL;
    free(config);
    return path;
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
** Application Default Credentials as a machine: the variable and gcloud's
** file are read in place; only the metadata server needs the wire (a probe
** of its root, whose failure is remembered for the process).
**
** Why a file that exists but is broken is an error rather than a reason to
** move on: the user pointed at it (or gcloud wrote it) and means it; silently
** using another identity would be worse than failing.
*/
typedef struct adc_machine {
    cr_machine base;
    cr_credentials *found;
    char *well_known; /* for the "none found" message */
    char *host;
} adc_machine;

static void adc_step(cr_machine *m, cr_step *s)
{
    (void)s;
    cr_machine_finish_errorf(m, "INTERNAL", 0, "credentials: nothing left to do");
}

static void adc_sub_done(cr_machine *m, cr_machine *sub)
{
    adc_machine *a = (adc_machine *)m;
    cr_error probe = CR_ERROR_INIT, err = CR_ERROR_INIT;
    char *root = cr_machine_take_text(sub, &probe);
    if (root) {
        free(root);
        a->found = cr_credentials_from_metadata(a->host, &err);
        if (a->found)
            m->done = 1;
        else
            cr_machine_finish_error(m, &err);
        return;
    }
    /* The probe's message names the URL already, after "metadata server: ". */
    const char *why = probe.message ? probe.message : probe.code;
    if (strncmp(why, "metadata server: ", 17) == 0)
        why += 17;
    char *url = cr_metadata_url(a->host, "");
    cr_machine_finish_errorf(m, "UNAUTHENTICATED", 0,
                             "no credentials found: $GOOGLE_APPLICATION_CREDENTIALS is unset; %s%s%s; the metadata "
                             "server at %s did not answer (%s). Set GOOGLE_APPLICATION_CREDENTIALS to a key file, run "
                             "`gcloud auth application-default login`, or run on Google Cloud",
                             a->well_known ? "gcloud's file " : "gcloud's file was not looked for (",
                             a->well_known ? a->well_known : "neither $CLOUDSDK_CONFIG nor $HOME is set",
                             a->well_known ? " does not exist" : ")", url ? url : a->host, why);
    free(url);
    cr_error_clear(&probe);
}

static void adc_destroy(cr_machine *m)
{
    adc_machine *a = (adc_machine *)m;
    cr_credentials_unref(a->found);
    free(a->well_known);
    free(a->host);
}

static const cr_machine_ops adc_ops = {
    .what = "credentials lookup",
    .step = adc_step,
    .sub_done = adc_sub_done,
    .destroy = adc_destroy,
};

/* Ends the machine with what a file gave: the credential, or its error. */
static cr_machine *adc_settle(adc_machine *a, cr_credentials *c, cr_error *err)
{
    if (c) {
        a->found = c;
        a->base.done = 1;
    } else {
        cr_machine_finish_error(&a->base, err);
    }
    return &a->base;
}

cr_machine *cr_adc_machine(cr_error *err)
{
    adc_machine *a = calloc(1, sizeof *a);
    if (!a) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory looking for credentials");
        return NULL;
    }
    cr_machine_init(&a->base, &adc_ops, NULL);
    cr_error e = CR_ERROR_INIT;
    if (cr_credentials_check_quota_env(&e) < 0) /* before anything is read or asked */
        return adc_settle(a, NULL, &e);
    const char *env = cr_getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (env) {
        cr_credentials *c = cr_credentials_from_file(env, &e);
        if (!c)
            blame_env(&e, "GOOGLE_APPLICATION_CREDENTIALS");
        return adc_settle(a, c, &e);
    }
    a->well_known = cr_adc_well_known_file();
    if (a->well_known && access(a->well_known, F_OK) == 0)
        return adc_settle(a, cr_credentials_from_file(a->well_known, &e), &e);

    a->host = cr_metadata_host(NULL);
    char *key = a->host ? cr_metadata_registry_key(a->host) : NULL;
    if (!key) {
        cr_machine_free(&a->base);
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory looking for credentials");
        return NULL;
    }
    /* Already in use in this process: no need to ask again. */
    cr_credentials *known = cr_credentials_lookup(key);
    free(key);
    if (known)
        return adc_settle(a, known, &e);
    cr_machine *probe = cr_metadata_lookup_machine("", err);
    if (!probe) {
        cr_machine_free(&a->base);
        return NULL;
    }
    cr_machine_push(&a->base, probe);
    return &a->base;
}

cr_machine *cr_credentials_default_machine(cr_error *err)
{
    return cr_adc_machine(err);
}

cr_credentials *cr_machine_take_credentials(cr_machine *m, cr_error *err)
{
    return cr_adc_take(m, err);
}

cr_credentials *cr_adc_take(cr_machine *m, cr_error *err)
{
    if (m->ops != &adc_ops) {
        cr_error_set(err, "INVALID_ARGUMENT", 0, "this machine does not look up credentials");
        return NULL;
    }
    adc_machine *a = (adc_machine *)m;
    if (a->found) {
        cr_credentials *c = a->found;
        a->found = NULL;
        return c;
    }
    cr_machine_take_text(m, err); /* no text: hands the error over */
    return NULL;
}
