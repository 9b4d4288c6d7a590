/*
** call.h — an API call as the machines carry it: a cr_request turned into
** what it needs to become an HTTP request once names can be resolved, the
** client's state those machines read and fill (credentials, project,
** region), and the discovery machine. Internal to the core.
*/
#ifndef CR_API_CALL_H
#define CR_API_CALL_H

#include <pthread.h>

#include "api/api.h"

struct cr_client {
    pthread_mutex_t lock; /* guards project, region, creds, creds_resolved, rng */
    char *endpoint;       /* no trailing slash */
    char *project;        /* NULL until known */
    char *region;
    long timeout_ms;
    int anonymous;
    int creds_resolved;
    cr_credentials *creds;
    cr_retry retry; /* resolved: no zero fields */
    char *ca_file;  /* a CA bundle trusted besides the system's, or NULL */
    char *gcloud_project_where; /* the gcloud configuration looked at for the project (for messages) */
    char *gcloud_region_where;
    void *conns;    /* the blocking driver's kept-alive handles */
    void (*conns_free)(void *);
};

/* The longest a single exchange may be given (a week), and a WaitOperation's
** wait (a day): numbers past them are mistakes, refused before any arithmetic
** could wrap. */
#define CR_MAX_EXCHANGE_SECONDS (7.0 * 24 * 3600)
#define CR_MAX_WAIT_SECONDS (24.0 * 3600)

/* A request, copied and encoded as far as it can be before names resolve. */
typedef struct cr_call {
    cr_method method;
    char http_method[8];
    char *name;         /* the name given (short or full); NULL: the parent itself */
    const char *kind;   /* what `name` is: "jobs", "executions", "tasks", "operations" */
    const char *suffix; /* after the resolved name: ":run", "/executions", ... */
    char *path;         /* CR_CALL: the path under /v2/ as given */
    char *base;         /* CR_CALL: another API's endpoint, or NULL for the client's */
    char *query;        /* encoded, or NULL */
    char *body;         /* JSON text (malloc'd; a secret may be in it), or NULL; the request takes it */
    cJSON *spec;        /* UPDATE_JOB: the Job, whose name is set when it is known */
    int idempotent;     /* a read: retried after any transient failure */
    long min_timeout_ms;
} cr_call;

/* Fills `call` from `r` (copies). -1 with err set for a request wrong in itself. */
CR_HIDDEN int cr_call_init(cr_call *call, const cr_request *r, cr_error *err);
CR_HIDDEN void cr_call_clear(cr_call *call);

/*
** The HTTP request of `call` for client c: 0 with req filled (its timeout
** and bearer are the machine's to set), -1 with err set, or 1 when a name
** needs the project and region and they are not known yet (discover first).
** Once it gets that far (0 or -1 after the names), the request has taken the
** call's body: a call is built once.
*/
CR_HIDDEN int cr_call_build(cr_client *c, cr_call *call, cr_http_request *req, cr_error *err);

/*
** A full name from a name given to a call of this kind: 0 with *out (caller
** frees), -1 with err set (a malformed name), 1 when it needs the project and
** region and they are not known yet.
*/
CR_HIDDEN int cr_client_resolve(cr_client *c, const char *name, const char *kind, char **out, cr_error *err);

/*
** Finds the project and region the client lacks: the credentials' project
** (a key file's, or the metadata server's), then the metadata server's
** project and region. What it finds is kept in the client; its error, when
** one is still missing, says every place it looked.
*/
CR_HIDDEN cr_machine *cr_discovery_machine(cr_client *c, cr_error *err);

/* The API call machine of a prepared call (taken: *call is zeroed) and, when
** it could be built already, its request (taken too; NULL: built later).
** text: its result is the answer's text, for cr_call_take_text. */
CR_HIDDEN cr_machine *cr_call_machine(cr_client *c, cr_call *call, cr_http_request *built, const cr_call_options *opts,
                                      int text, cr_error *err);

/* The result of a finished call machine made with `text`: as cr_client_perform_text. */
CR_HIDDEN char *cr_call_take_text(cr_machine *m, size_t *len, char **execution, cr_error *err);

/* The client's credentials: 1 with *creds (a new reference, or NULL for an
** anonymous client) once resolved, 0 while ADC has not been looked up. */
CR_HIDDEN int cr_client_credentials(cr_client *c, cr_credentials **creds);

/* Keeps the credentials ADC found (a reference is taken), unless some were meanwhile. */
CR_HIDDEN void cr_client_adopt_credentials(cr_client *c, cr_credentials *creds);

#endif
