/*
** iam.h — the IAM Credentials API's generateAccessToken: trading one
** credential's token for a service account's (impersonation), as both
** impersonated_service_account files and external_account files with
** service_account_impersonation_url do.
*/
#ifndef CR_AUTH_IAM_H
#define CR_AUTH_IAM_H

#include <stdint.h>

#include "util/util.h"

#define CR_IAM_LIFETIME "3600s"

/*
** The target service account's email from a generateAccessToken URL
** (".../serviceAccounts/EMAIL:generateAccessToken"), as a new string, or
** NULL when the URL is not of that form.
*/
CR_HIDDEN char *cr_iam_target_from_url(const char *url);

/*
** A machine that POSTs {"delegates": delegates, "scope": [cloud-platform],
** "lifetime": "3600s"} to url with "Authorization: Bearer <bearer>" and
** reads {"accessToken", "expireTime"} into its token result. `delegates` is
** a JSON array or NULL (copied). Errors name the URL: "IAM Credentials URL
** answered 403: <google.rpc message>" (err.status 401 when the bearer was
** refused), the driver's (UNAVAILABLE / DEADLINE_EXCEEDED), or INTERNAL for
** an answer that is not a token.
*/
CR_HIDDEN cr_machine *cr_iam_machine(const char *url, const char *bearer, const cJSON *delegates, long timeout_ms,
                                     cr_error *err);

#endif
