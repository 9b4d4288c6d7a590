/*
** api_iam.c — IAM on a job (google.iam.v1's GetIamPolicy, SetIamPolicy and
** TestIamPermissions on projects/P/locations/L/jobs/J): the job found under
** the call's parent, its policy (kept with the job, freed with it) read and
** changed by iam_policy.c's rules.
*/
#include "api_call.h"
#include "iam_policy.h"

cJSON *api_get_iam_policy(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    return job ? emu_iam_get(job->iam, call_query(c, "options.requestedPolicyVersion"), &c->err) : NULL;
}

cJSON *api_set_iam_policy(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    return job ? emu_iam_set(&job->iam, c->body, &c->err) : NULL;
}

/* The emulator authorises nothing: whatever run.jobs.* permission is asked about is granted. */
cJSON *api_test_iam_permissions(call *c, const char *id)
{
    emu_job *job = call_find_job(c, id);
    return job ? emu_iam_test(c->body, &c->err) : NULL;
}
