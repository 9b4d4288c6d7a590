/*
** client_state.h — the client's state, which the API files read and fill
** (credentials, project, region) and nothing else does: drivers ask for what
** they need through api.h's accessors. Internal to the core's api/.
*/
#ifndef CR_API_CLIENT_STATE_H
#define CR_API_CLIENT_STATE_H

#include <pthread.h>

#include "api/api.h"

struct cr_client {
    pthread_mutex_t lock; /* guards project, region, creds, creds_resolved, driver */
    char *endpoint;       /* no trailing slash */
    char *project;        /* NULL until known */
    char *region;
    long timeout_ms;
    int anonymous;
    int creds_resolved;
    cr_credentials *creds;
    cr_retry retry;             /* resolved: no zero fields */
    char *ca_file;              /* a CA bundle trusted besides the system's, or NULL */
    char *gcloud_project_where; /* the gcloud configuration looked at for the project (for messages) */
    char *gcloud_region_where;
    cr_pacer pacer; /* pacer.before_send NULL: none (set between calls: no lock) */
    void *driver;   /* what a driver keeps with the client (its kept-alive handles), see cr_client_driver_data */
    void (*driver_free)(void *);
};

/* The client's credentials: 1 with *creds (a new reference, or NULL for an
** anonymous client) once resolved, 0 while ADC has not been looked up. */
CR_HIDDEN int cr_client_credentials(cr_client *c, cr_credentials **creds);

/* Keeps the credentials ADC found (a reference is taken), unless some were meanwhile. */
CR_HIDDEN void cr_client_adopt_credentials(cr_client *c, cr_credentials *creds);

#endif
