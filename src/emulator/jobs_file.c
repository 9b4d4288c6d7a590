/*
** jobs_file.c — seeding the store from a --jobs file: reading it (the core's
** one bounded reader), the strict JSON reader and the Job schema, then each
** job's name and spec.
** Every problem is the user's to fix, so it names the job's index and field.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "job_spec.h"
#include "jobs_file.h"
#include "json_strict.h"
#include "schema.h"
#include "utf8.h"
#include "util/util.h"

/* One job of the document (j, at index i): its name, then its spec. 0 or -1 with why. */
static int load_one(emu_store *s, const cJSON *j, int i, char *why, size_t why_size)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    char *project = NULL, *location = NULL, *id = NULL;
    emu_error err = {0};
    int rc = -1;
    /* names quoted in messages are cut to 200 bytes, never inside a character */
    char shown[200];
    emu_utf8_sanitize(shown, sizeof shown, cJSON_IsString(name) ? name->valuestring : "");
    if (!cJSON_IsString(name) || emu_job_name_split(name->valuestring, &project, &location, &id) < 0) {
        snprintf(why, why_size, "jobs[%d].name: expected projects/PROJECT/locations/REGION/jobs/JOB, got %s%s%s", i,
                 cJSON_IsString(name) ? "'" : "", cJSON_IsString(name) ? shown : "nothing",
                 cJSON_IsString(name) ? "'" : "");
    } else if (!project || !location || !id) {
        snprintf(why, why_size, "out of memory");
    } else if (!emu_text_clean(project) || !emu_text_clean(location)) {
        snprintf(why, why_size, "jobs[%d].name: the project and region must be text without control characters", i);
    } else if (!emu_job_id_valid(id)) { /* its id is the end of the name: the name says it */
        snprintf(why, why_size,
                 "jobs[%d].name: invalid job id in '%s' (lowercase letters, digits and hyphens, starting with a "
                 "letter, at most 63 characters)",
                 i, shown);
    } else if (emu_store_find_job(s, project, location, id)) {
        snprintf(why, why_size, "jobs[%d].name: job '%s' is listed twice", i, shown);
    } else {
        /* a token is kept as the job's, and starts nothing: the file lists jobs as they are */
        cJSON *spec = emu_job_spec_from_json(j, &err);
        if (spec && emu_job_token_check(spec, id, &err) < 0) {
            cJSON_Delete(spec);
            spec = NULL;
        }
        if (!spec)
            snprintf(why, why_size, "jobs[%d] (%s): %s", i, id, err.message);
        else if (!emu_store_add_job(s, project, location, id, spec))
            snprintf(why, why_size, "out of memory");
        else
            rc = 0;
    }
    free(project);
    free(location);
    free(id);
    return rc;
}

int emu_jobs_load(emu_store *s, const char *text, size_t len, char *why, size_t why_size)
{
    const char *what = NULL;
    long at = emu_json_check(text, len, &what);
    if (at >= 0) {
        int line = 1;
        for (long i = 0; i < at; i++)
            line += text[i] == '\n';
        snprintf(why, why_size, "not valid JSON (near line %d, byte %ld): %s", line, at,
                 what ? what : "an unexpected token");
        return -1;
    }
    emu_error err = {0};
    cJSON *root = emu_json_parse_strict(text, len, &err);
    if (!root) {
        snprintf(why, why_size, "%s", err.message);
        return -1;
    }
    int rc = 0;
    if (cJSON_IsArray(root)) {
        int i = 0;
        for (cJSON *j = root->child; j && rc == 0; j = j->next, i++) {
            char where[32];
            snprintf(where, sizeof where, "jobs[%d]", i);
            if (emu_schema_check(j, &emu_msg_job, where, &err) < 0)
                rc = -1;
        }
    } else if (!cJSON_IsObject(root) || emu_schema_check(root, &emu_msg_jobs_file, "", &err) < 0) {
        rc = -1;
        if (!cJSON_IsObject(root))
            emu_error_set(&err, "INVALID_ARGUMENT", "expected {\"jobs\": [Job, ...]} or a list of Jobs");
    }
    if (rc < 0)
        snprintf(why, why_size, "%s", err.message);
    const cJSON *jobs = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "jobs");
    int i = 0;
    for (const cJSON *j = jobs ? jobs->child : NULL; j && rc >= 0; j = j->next, i++)
        rc = load_one(s, j, i, why, why_size) < 0 ? -1 : rc + 1;
    cJSON_Delete(root);
    return rc;
}

int emu_jobs_load_file(emu_store *s, const char *path, char *why, size_t why_size)
{
    /* the core's reader: a regular file only, refused at once when it is not, and at most the cap */
    cr_error err = CR_ERROR_INIT;
    size_t len = 0;
    char *text = cr_read_file_max(path, EMU_JOBS_FILE_MAX, &len, "--jobs", &err);
    if (!text) {
        snprintf(why, why_size, "%s", err.message ? err.message : "--jobs: out of memory");
        cr_error_clear(&err);
        return -1;
    }
    int n = snprintf(why, why_size, "--jobs %s: ", path);
    size_t used = n > 0 && (size_t)n < why_size ? (size_t)n : 0;
    int rc = emu_jobs_load(s, text, len, why + used, why_size - used);
    free(text);
    return rc;
}
