/*
** hints.c — what a refusal may mean where people get stuck: a call that
** Google answers PERMISSION_DENIED gets a hint added to its message when the
** request is one that needs a permission the usual roles lack. The rule lives
** here, once, and every driver gets it (the call machine applies it to the
** error it ends with); code and status stay as Google sent them.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/call.h"

/* The service account a Job's tasks run as (template.template.serviceAccount), or NULL. */
static const char *job_service_account(const cJSON *spec)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "template");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(t, "template");
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(tt, "serviceAccount");
    return cJSON_IsString(sa) && sa->valuestring[0] ? sa->valuestring : NULL;
}

/*
** Why these two: RunJob with overrides needs run.jobs.runWithOverrides as
** well as run.jobs.run, and roles/run.invoker, the role people grant to run
** a job, has only the second; a job that runs as a service account can only
** be deployed by someone who may act as that account. Google's message names
** the permission at best, never the role that has it.
*/
void cr_hint_prepare(cr_call *call, const cr_request *r)
{
    call->hint = CR_HINT_NONE;
    if (r->method == CR_RUN_JOB && cr_api_run_job_has_overrides(r->run)) {
        call->hint = CR_HINT_RUN_OVERRIDES;
    } else if (r->method == CR_CREATE_JOB || r->method == CR_UPDATE_JOB) {
        const char *sa = job_service_account(r->spec);
        /* no hint rather than a failed call when there is no memory for it */
        if (sa && (call->hint_account = cr_quote_bounded(sa, strlen(sa), 256)))
            call->hint = CR_HINT_ACT_AS;
    }
}

void cr_hint_apply(const cr_call *call, cr_error *err)
{
    if (call->hint == CR_HINT_NONE || strcmp(err->code, "PERMISSION_DENIED") != 0)
        return;
    const char *msg = err->message ? err->message : "PERMISSION_DENIED";
    size_t n = strlen(msg);
    const char *stop = n && strchr(".!?)", msg[n - 1]) ? "" : ".";
    char *hinted = NULL;
    if (call->hint == CR_HINT_RUN_OVERRIDES)
        hinted = cr_asprintf("%s%s Hint: running a job with overrides (args, env, task count, timeout) needs "
                             "run.jobs.runWithOverrides besides run.jobs.run, and roles/run.invoker has only "
                             "run.jobs.run: grant roles/run.jobsExecutorWithOverrides on the job (or "
                             "roles/run.developer), or run it without overrides.",
                             msg, stop);
    else
        hinted = cr_asprintf("%s%s Hint: the job runs as the service account %s, so whoever creates or updates it "
                             "needs iam.serviceAccounts.actAs on that account: roles/iam.serviceAccountUser granted "
                             "on %s.",
                             msg, stop, call->hint_account, call->hint_account);
    if (hinted) { /* out of memory: the message as Google sent it */
        free(err->message);
        err->message = hinted;
    }
}
