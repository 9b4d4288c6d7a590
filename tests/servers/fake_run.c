/*
** fake_run.c — cr-fake-google's Cloud Run jobs (fake_run.h). The job store is what the
** client wrote, named and kept whole; reads add the output-only fields Cloud Run adds
** (uid, generation, times, etag, terminalCondition), so that a client which sends a
** job back must leave them out. GET /run/requests answers {"requests": [{"method",
** "path", "jobId", "validateOnly", "allowMissing", "body"}, ...]}: every CreateJob and
** UpdateJob in the order they came, the body as sent (null when it was not JSON).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_run.h"

typedef struct stored_job {
    char *name; /* projects/P/locations/L/jobs/J */
    cJSON *job; /* as written, with its name */
    long generation;
    struct stored_job *next;
} stored_job;

/* Guarded by lock: the jobs, the requests kept, the operation counter. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static stored_job *jobs;
static cJSON *requests;
static long operations;

static const char JOB_TYPE[] = "type.googleapis.com/google.cloud.run.v2.Job";

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        cJSON_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result rpc_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddNumberToObject(e, "code", status);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "status", code);
    return reply_json(conn, status, j);
}

/* The parent (projects/P/locations/L) and job id of a jobs URL, in out (at most n
** bytes); *id points into out after the parent, or is NULL for the collection.
** Returns -1 for any other URL. */
static int split_url(const char *url, char *out, size_t n, const char **id)
{
    static const char pre[] = "/v2/projects/";
    if (strncmp(url, pre, sizeof pre - 1) != 0 || strlen(url) >= n)
        return -1;
    strcpy(out, url + 4); /* projects/... */
    char *seg[6] = {0};
    int k = 0;
    for (char *p = out; k < 6;) {
        seg[k++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = 0;
        p = slash + 1;
    }
    if (k < 5 || strcmp(seg[2], "locations") != 0 || strcmp(seg[4], "jobs") != 0 || !*seg[1] || !*seg[3])
        return -1;
    if (k == 6 && (!*seg[5] || strchr(seg[5], '/')))
        return -1;
    /* join projects/P/locations/L back; the id (if any) stays apart */
    seg[1][-1] = seg[2][-1] = seg[3][-1] = '/';
    *id = k == 6 ? seg[5] : NULL;
    return 0;
}

int fake_run_takes(const char *url, const char *method)
{
    if (strcmp(url, "/run/requests") == 0)
        return strcmp(method, "GET") == 0;
    char buf[1024];
    const char *id;
    if (split_url(url, buf, sizeof buf, &id) != 0)
        return 0;
    return id ? (strcmp(method, "GET") == 0 || strcmp(method, "PATCH") == 0) : strcmp(method, "POST") == 0;
}

static stored_job *find(const char *name)
{
    for (stored_job *j = jobs; j; j = j->next)
        if (strcmp(j->name, name) == 0)
            return j;
    return NULL;
}

/* A copy of a stored job as Cloud Run shows it: with the output-only fields. Under lock. */
static cJSON *shown(const stored_job *j)
{
    char buf[128];
    cJSON *out = cJSON_Duplicate(j->job, 1);
    snprintf(buf, sizeof buf, "fake-uid-%.100s", strrchr(j->name, '/') + 1);
    cJSON_AddStringToObject(out, "uid", buf);
    snprintf(buf, sizeof buf, "%ld", j->generation);
    cJSON_AddStringToObject(out, "generation", buf);
    cJSON_AddStringToObject(out, "observedGeneration", buf);
    cJSON_AddStringToObject(out, "createTime", "2026-01-01T00:00:00Z");
    cJSON_AddStringToObject(out, "updateTime", "2026-01-01T00:00:01Z");
    cJSON_AddStringToObject(out, "creator", "runner@fake-project.iam.gserviceaccount.com");
    cJSON_AddStringToObject(out, "lastModifier", "runner@fake-project.iam.gserviceaccount.com");
    snprintf(buf, sizeof buf, "\"fake-etag-%ld\"", j->generation);
    cJSON_AddStringToObject(out, "etag", buf);
    cJSON *tc = cJSON_AddObjectToObject(out, "terminalCondition");
    cJSON_AddStringToObject(tc, "type", "Ready");
    cJSON_AddStringToObject(tc, "state", "CONDITION_SUCCEEDED");
    return out;
}

/* A done Operation whose metadata and response are `job` (taken). */
static cJSON *done_operation(const char *parent, cJSON *job)
{
    char name[1200];
    pthread_mutex_lock(&lock);
    long n = ++operations;
    pthread_mutex_unlock(&lock);
    snprintf(name, sizeof name, "%s/operations/fake-op-%ld", parent, n);
    cJSON *op = cJSON_CreateObject();
    cJSON_AddStringToObject(op, "name", name);
    cJSON_AddBoolToObject(op, "done", 1);
    cJSON *meta = cJSON_Duplicate(job, 1);
    cJSON_AddItemToObject(op, "metadata", meta);
    cJSON_AddItemToObject(op, "response", job);
    cJSON_AddItemToObject(meta, "@type", cJSON_CreateString(JOB_TYPE));
    cJSON_AddItemToObject(job, "@type", cJSON_CreateString(JOB_TYPE));
    return op;
}

static int query_true(struct MHD_Connection *conn, const char *key)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    return v && strcmp(v, "true") == 0;
}

/* Keeps a CreateJob or UpdateJob as it came. */
static void keep_request(struct MHD_Connection *conn, const char *method, const char *url, const cJSON *body)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "method", method);
    cJSON_AddStringToObject(r, "path", url);
    const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "jobId");
    cJSON_AddItemToObject(r, "jobId", id ? cJSON_CreateString(id) : cJSON_CreateNull());
    cJSON_AddBoolToObject(r, "validateOnly", query_true(conn, "validateOnly"));
    cJSON_AddBoolToObject(r, "allowMissing", query_true(conn, "allowMissing"));
    cJSON_AddItemToObject(r, "body", body ? cJSON_Duplicate(body, 1) : cJSON_CreateNull());
    pthread_mutex_lock(&lock);
    if (!requests)
        requests = cJSON_CreateArray();
    cJSON_AddItemToArray(requests, r);
    pthread_mutex_unlock(&lock);
}

static enum MHD_Result answer_requests(struct MHD_Connection *conn)
{
    cJSON *j = cJSON_CreateObject();
    pthread_mutex_lock(&lock);
    cJSON_AddItemToObject(j, "requests", requests ? cJSON_Duplicate(requests, 1) : cJSON_CreateArray());
    pthread_mutex_unlock(&lock);
    return reply_json(conn, 200, j);
}

/* A job id as Cloud Run takes one: a lowercase letter, then lowercase letters, digits
** and hyphens, not ending in a hyphen, at most 63 characters. */
static int good_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 63 || id[0] < 'a' || id[0] > 'z' || id[n - 1] == '-')
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Writes (creates or replaces) a job; answers the done Operation. */
static enum MHD_Result write_job(struct MHD_Connection *conn, const char *parent, const char *name, cJSON *body,
                                 int creating)
{
    int validate_only = query_true(conn, "validateOnly");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "name");
    cJSON_AddStringToObject(body, "name", name);
    pthread_mutex_lock(&lock);
    stored_job *j = find(name);
    if (creating && j) {
        pthread_mutex_unlock(&lock);
        cJSON_Delete(body);
        return rpc_error(conn, 409, "ALREADY_EXISTS", "Resource already exists.");
    }
    if (!creating && !j && !query_true(conn, "allowMissing")) {
        pthread_mutex_unlock(&lock);
        cJSON_Delete(body);
        return rpc_error(conn, 404, "NOT_FOUND", "Resource of kind 'JOB' does not exist.");
    }
    stored_job scratch = {0};
    if (validate_only) {
        scratch.name = (char *)name;
        scratch.job = body;
        scratch.generation = j ? j->generation + 1 : 1;
        j = &scratch;
    } else if (j) {
        cJSON_Delete(j->job);
        j->job = body;
        j->generation++;
    } else {
        j = calloc(1, sizeof *j);
        if (j)
            j->name = strdup(name);
        if (!j || !j->name) {
            pthread_mutex_unlock(&lock);
            if (j)
                free(j);
            cJSON_Delete(body);
            return rpc_error(conn, 500, "INTERNAL", "out of memory");
        }
        j->job = body;
        j->generation = 1;
        j->next = jobs;
        jobs = j;
    }
    cJSON *show = shown(j);
    pthread_mutex_unlock(&lock);
    if (validate_only)
        cJSON_Delete(body);
    return reply_json(conn, 200, done_operation(parent, show));
}

enum MHD_Result fake_run_answer(struct MHD_Connection *conn, const char *url, const char *method, const request *rq,
                                const fake_run_hooks *hooks)
{
    if (strcmp(url, "/run/requests") == 0)
        return answer_requests(conn);
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !hooks->bearer_ok(auth + 7))
        return rpc_error(conn, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    char parent[1024], name[1200];
    const char *id;
    if (split_url(url, parent, sizeof parent, &id) != 0)
        return rpc_error(conn, 404, "NOT_FOUND", "no such method");
    if (strcmp(method, "GET") == 0) {
        snprintf(name, sizeof name, "%s/jobs/%s", parent, id);
        pthread_mutex_lock(&lock);
        stored_job *j = find(name);
        cJSON *show = j ? shown(j) : NULL;
        pthread_mutex_unlock(&lock);
        if (!show)
            return rpc_error(conn, 404, "NOT_FOUND", "Resource of kind 'JOB' does not exist.");
        return reply_json(conn, 200, show);
    }
    cJSON *body = rq->body && !rq->too_big ? hooks->parse(rq->body, rq->len) : NULL;
    keep_request(conn, method, url, body);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return rpc_error(conn, 400, "INVALID_ARGUMENT", "The request body is not a JSON object (a Job).");
    }
    if (strcmp(method, "POST") == 0) {
        const char *job_id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "jobId");
        if (!job_id || !good_id(job_id)) {
            cJSON_Delete(body);
            return rpc_error(conn, 400, "INVALID_ARGUMENT",
                             "jobId must be a lowercase letter, then lowercase "
                             "letters, digits and hyphens.");
        }
        snprintf(name, sizeof name, "%s/jobs/%s", parent, job_id);
        return write_job(conn, parent, name, body, 1);
    }
    snprintf(name, sizeof name, "%s/jobs/%s", parent, id);
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(body, "name");
    if (!cJSON_IsString(given) || strcmp(given->valuestring, name) != 0) {
        cJSON_Delete(body);
        return rpc_error(conn, 400, "INVALID_ARGUMENT", "job.name must be the job's full name, as in the URL.");
    }
    return write_job(conn, parent, name, body, 0);
}

void fake_run_free(void)
{
    while (jobs) {
        stored_job *next = jobs->next;
        free(jobs->name);
        cJSON_Delete(jobs->job);
        free(jobs);
        jobs = next;
    }
    cJSON_Delete(requests);
    requests = NULL;
}
