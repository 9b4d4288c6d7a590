/*
** discovery.c — the machine that finds the project and region a client
** lacks, so that short names can become full ones.
*/
#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/client_state.h"
#include "auth/adc.h"
#include "auth/credentials.h"
#include "auth/metadata.h"
#include "machine/machine.h"

/* ---- discovery --------------------------------------------------------------- */

/*
** Project: the credentials' project_id, their quota_project_id, what their
** source can look up (the metadata server's project), the metadata server.
** Region: the metadata server's instance/region. An anonymous (emulator)
** client asks no metadata server. Each place looked at is noted, for the
** error when something is still missing.
*/
typedef enum {
    D_PROJECT,       /* is the project known? */
    D_CREDS,         /* the credentials, by ADC when the client has none yet */
    D_CREDS_PROJECT, /* their project_id / quota_project_id, or their source's lookup */
    D_MD_PROJECT,    /* the metadata server's project */
    D_REGION,        /* the metadata server's region */
    D_FINISH
} d_stage;

typedef struct discovery {
    cr_machine base;
    cr_client *client;
    d_stage stage; /* what to do next; while a sub-machine runs, what it is for */
    cr_credentials *creds;
    char *creds_error; /* why ADC found none */
    cr_buf looked;
} discovery;

/* The last path segment of a metadata answer ("projects/123/regions/us-central1"). */
static const char *last_segment(const char *value)
{
    const char *slash = strrchr(value, '/');
    return slash ? slash + 1 : value;
}

static void set_found(cr_client *c, char **field, const char *value)
{
    pthread_mutex_lock(&c->lock);
    if (!*field && value && *value)
        *field = cr_strdup(value);
    pthread_mutex_unlock(&c->lock);
}

static int have(cr_client *c, char *const *field)
{
    pthread_mutex_lock(&c->lock);
    int known = *field != NULL;
    pthread_mutex_unlock(&c->lock);
    return known;
}

static void d_finish(discovery *d)
{
    cr_client *c = d->client;
    cr_machine *m = &d->base;
    const char *looked = d->looked.data ? d->looked.data : "";
    if (!have(c, &c->project))
        cr_machine_finish_errorf(m, "INVALID_ARGUMENT", 0,
                                 "no project: pass project= to the client (--project), set GOOGLE_CLOUD_PROJECT, or "
                                 "run `gcloud config set project PROJECT` (%s)",
                                 looked);
    else if (!have(c, &c->region))
        cr_machine_finish_errorf(m, "INVALID_ARGUMENT", 0,
                                 "no region: pass region= to the client (--region), set CLOUDSDK_RUN_REGION, or run "
                                 "`gcloud config set run/region REGION` (%s)",
                                 looked);
    else
        cr_machine_finish_json(m, cJSON_CreateTrue());
}

/* Goes through the places to look until one needs the wire (a sub-machine
** is pushed, and `stage` says what for) or there is nothing left. */
static void d_advance(discovery *d)
{
    cr_client *c = d->client;
    cr_machine *m = &d->base;
    cr_error err = CR_ERROR_INIT;
    cr_machine *sub = NULL;
    while (!sub && !m->done) {
        switch (d->stage) {
        case D_PROJECT:
            if (have(c, &c->project)) {
                d->stage = D_REGION;
                break;
            }
            cr_buf_puts(&d->looked, "the project option, $GOOGLE_CLOUD_PROJECT and $CLOUDSDK_CORE_PROJECT are unset");
            if (c->gcloud_project_where)
                cr_buf_printf(&d->looked, "; %s sets no [core] project", c->gcloud_project_where);
            d->stage = c->anonymous ? D_FINISH : D_CREDS;
            break;
        case D_CREDS:
            if (!d->creds && !d->creds_error && !cr_client_credentials(c, &d->creds)) {
                sub = cr_adc_machine(&err); /* stage stays D_CREDS while it runs */
                break;
            }
            d->stage = D_CREDS_PROJECT;
            break;
        case D_CREDS_PROJECT: {
            const char *p = d->creds ? cr_credentials_known_project(d->creds) : NULL;
            if (!p && d->creds)
                p = cr_credentials_quota_project(d->creds);
            if (p) {
                set_found(c, &c->project, p);
                d->stage = D_REGION;
            } else if (d->creds &&
                       (sub = cr_credentials_project_machine(d->creds, cr_credentials_timeout_ms(d->creds)))) {
                /* a source that can look its project up (the metadata server); stage stays */
            } else {
                cr_buf_printf(&d->looked, "; the credentials (%s) name no project_id",
                              d->creds         ? cr_credentials_origin(d->creds)
                              : d->creds_error ? d->creds_error
                                               : "none");
                d->stage = D_MD_PROJECT;
            }
            break;
        }
        case D_MD_PROJECT:
            sub = cr_metadata_lookup_machine("project/project-id", &err);
            break;
        case D_REGION:
            if (!have(c, &c->project) || have(c, &c->region)) {
                d->stage = D_FINISH;
                break;
            }
            cr_buf_puts(&d->looked, "the region option and $CLOUDSDK_RUN_REGION are unset");
            if (c->gcloud_region_where)
                cr_buf_printf(&d->looked, "; %s sets no [run] region", c->gcloud_region_where);
            if (c->anonymous)
                d->stage = D_FINISH;
            else
                sub = cr_metadata_lookup_machine("instance/region", &err);
            break;
        case D_FINISH:
            d_finish(d);
            break;
        }
        if (!sub && err.code[0]) {
            cr_machine_finish_error(m, &err);
            return;
        }
    }
    cr_machine_push(m, sub);
}

static void d_step(cr_machine *m, cr_step *s)
{
    discovery *d = (discovery *)m;
    d_advance(d);
    if (m->sub)
        cr_machine_step(m, s);
    else
        s->kind = CR_STEP_DONE;
}

static void d_sub_done(cr_machine *m, cr_machine *sub)
{
    discovery *d = (discovery *)m;
    cr_client *c = d->client;
    cr_error err = CR_ERROR_INIT;
    switch (d->stage) {
    case D_CREDS:
        d->creds = cr_adc_take(sub, &err);
        if (d->creds)
            cr_client_adopt_credentials(c, d->creds);
        else if (!(d->creds_error = cr_strdup(err.message ? err.message : err.code)))
            d->creds_error = cr_strdup("none found");
        d->stage = D_CREDS_PROJECT;
        break;
    case D_CREDS_PROJECT: {
        char *p = cr_machine_take_text(sub, &err);
        if (p && *p) {
            cr_credentials_set_project(d->creds, p);
            set_found(c, &c->project, p);
            d->stage = D_REGION;
        } else {
            /* the source that looks its project up is the metadata server: asked already */
            cr_buf_printf(&d->looked, "; the credentials (%s) name no project_id; the metadata server: %s",
                          cr_credentials_origin(d->creds), err.message ? err.message : err.code);
            d->stage = D_REGION;
        }
        free(p);
        break;
    }
    case D_MD_PROJECT:
    case D_REGION: {
        char *v = cr_machine_take_text(sub, &err);
        if (v && *v)
            set_found(c, d->stage == D_MD_PROJECT ? &c->project : &c->region,
                      d->stage == D_MD_PROJECT ? v : last_segment(v));
        else
            cr_buf_printf(&d->looked, "; the metadata server: %s", err.message ? err.message : err.code);
        free(v);
        d->stage = d->stage == D_MD_PROJECT ? D_REGION : D_FINISH;
        break;
    }
    default:
        break;
    }
    cr_error_clear(&err);
}

static void d_destroy(cr_machine *m)
{
    discovery *d = (discovery *)m;
    cr_credentials_unref(d->creds);
    free(d->creds_error);
    cr_buf_free(&d->looked);
}

static const cr_machine_ops discovery_ops = {
    .what = "project and region discovery",
    .step = d_step,
    .sub_done = d_sub_done,
    .destroy = d_destroy,
};

cr_machine *cr_discovery_machine(cr_client *c, cr_error *err)
{
    discovery *d = calloc(1, sizeof *d);
    if (!d) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "out of memory");
        return NULL;
    }
    cr_machine_init(&d->base, &discovery_ops, NULL);
    d->client = c;
    return &d->base;
}
