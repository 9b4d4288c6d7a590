/*
** faults.h — fault injection and call statistics, for testing clients'
** retry rules against a real server: a queue of pending faults ("the next N
** RunJob calls answer 503"), per-RPC call counts, and the control API under
** /emulator/v1/ that scripts them. The control API is documented in faults.c.
*/
#ifndef EMU_FAULTS_H
#define EMU_FAULTS_H

#include <pthread.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "errors.h"

typedef enum emu_fault_kind {
    EMU_FAULT_NONE,
    EMU_FAULT_UNAVAILABLE,        /* 503 UNAVAILABLE, nothing done */
    EMU_FAULT_RESOURCE_EXHAUSTED, /* 429 RESOURCE_EXHAUSTED, nothing done */
    EMU_FAULT_INTERNAL,           /* 500 INTERNAL, nothing done */
    EMU_FAULT_DEADLINE,           /* 504 DEADLINE_EXCEEDED, nothing done */
    EMU_FAULT_DELAY,              /* the call is done, the answer waits delay_ms */
    EMU_FAULT_DROP,               /* the connection is closed before anything is done */
    EMU_FAULT_RESET_AFTER_EFFECT, /* the call is done, then the connection is closed unanswered */
    EMU_FAULT_UNAUTHENTICATED,    /* 401 UNAUTHENTICATED, nothing done (a token the API refused) */
    EMU_FAULT_PERMISSION_DENIED,  /* 403 PERMISSION_DENIED, nothing done (IAM refused the caller) */
} emu_fault_kind;

/* What one faulted call is to do; filled by emu_faults_take. */
typedef struct emu_fault {
    emu_fault_kind kind;
    double retry_after;  /* seconds for a Retry-After header; < 0 = none */
    char retry_info[32]; /* google.rpc.RetryInfo retryDelay ("1.5s"); "" = none */
    long delay_ms;       /* wait before answering (or closing); 0 = none */
} emu_fault;

typedef struct emu_fault_entry emu_fault_entry;

typedef struct emu_faults {
    pthread_mutex_t mu;    /* guards everything below; never held with the store's mutex */
    emu_fault_entry *head; /* owned list, in the order they were added */
    long calls[32];        /* per RPC (index of its name in EMU_RPC_NAMES, api.h) */
    long faulted[32];
    long other_calls; /* requests that named no RPC (unknown paths) */
} emu_faults;

int emu_faults_init(emu_faults *f);
void emu_faults_free(emu_faults *f);

/* Counts a call of rpc (NULL: a request that is no RPC) and, when a pending
** fault matches it, consumes one of its count into *out. Returns 1 when the
** call is to be faulted, else 0 (out->kind = EMU_FAULT_NONE). */
int emu_faults_take(emu_faults *f, const char *rpc, emu_fault *out);

/* The error a faulted call answers with (for the error kinds): the HTTP
** status, and a google.rpc JSON body the caller frees. */
int emu_fault_error(const emu_fault *fault, const char *rpc, char **body);

/* Adds a fault from its JSON description (the control API's POST body). 0,
** or -1 with err set to INVALID_ARGUMENT naming the field. */
int emu_faults_add_json(emu_faults *f, const cJSON *spec, emu_error *err);

/* Adds a fault from the command line's --fault SPEC: the same JSON, or the
** short form METHOD:FAULT[:COUNT] ("RunJob:unavailable:2"). */
int emu_faults_add_spec(emu_faults *f, const char *spec, emu_error *err);

/* The control API: a request under /emulator/v1/. Returns the HTTP status;
** *body is a new JSON string the caller frees. reset_resources, when not NULL,
** is called for POST /emulator/v1/reset with ctx. */
int emu_faults_control(emu_faults *f, const char *method, const char *path, const char *body, size_t body_len,
                       void (*reset_resources)(void *ctx), void *ctx, char **out);

#endif
