/*
** test_logs.c — Cloud Logging's entries:list at scale (issue 19): a page
** costs what its entries cost, in time and in the emulator's memory, however
** long the tasks' logs are; pages follow one another without a gap or a
** repeat in either order; a page token belongs to the query it came from.
** And a job's logs across its executions (issue 22: `cloudrun jobs logs
** read`): the filter gcloud writes, with the user's terms in parentheses,
** time bounds, both orders, and a term the emulator does not understand
** refused by name. (test_emulator.c covers what an entry says.)
*/
#include <pthread.h>

#include "emukit.h"

static int under_valgrind(void)
{
    const char *vg = getenv("CR_EMULATOR_VALGRIND");
    return vg && *vg;
}

/* A line of the emulator's /proc status in KiB ("VmRSS", "VmHWM"), or -1. */
static long status_kib(pid_t pid, const char *field)
{
    char path[64], line[256], want[32];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(want, sizeof want, "%s: %%ld kB", field);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, want, &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* An entries:list body for one execution's entries. */
static char *list_body(const char *execution, const char *extra)
{
    char *body = NULL;
    if (asprintf(&body,
                 "{\"resourceNames\":[\"projects/test-project\"],\"filter\":\"labels.\\\"run.googleapis.com/"
                 "execution_name\\\" = \\\"%s\\\"\"%s%s}",
                 execution, extra && *extra ? "," : "", extra ? extra : "") < 0)
        return NULL;
    return body;
}

/* Runs a job of `tasks` tasks running `script` and waits for its end; its execution id (caller frees). */
static char *run_to_end(const char *id, const char *script, int tasks)
{
    CHECK_INT(create_job(id, sh_job(script, "/tmp", 0)), 200);
    char body[64];
    snprintf(body, sizeof body, "{\"overrides\":{\"taskCount\":%d}}", tasks);
    cJSON *op = run_job(id, body, NULL);
    const char *name = str(op, "metadata.name");
    CHECK(name != NULL);
    cJSON *e = name ? wait_execution(name) : NULL;
    CHECK(e != NULL);
    char *out = name ? strdup(strrchr(name, '/') + 1) : NULL;
    cJSON_Delete(e);
    cJSON_Delete(op);
    return out;
}

typedef struct call {
    const char *method, *path;
    char *body;
    resp r;
} call;

static void *call_thread(void *arg)
{
    call *c = arg;
    c->r = http(c->method, c->path, c->body);
    return NULL;
}

TEST(a_page_of_ten_over_40_MiB_of_short_lines_answers_at_once_and_the_emulator_stays_small)
{
    /* 4 tasks x 10 MiB of "y\n": 21 million lines; the emulator once built a record for each */
    char *id = run_to_end("forty", "yes | head -c 10485760", 4);
    double bound = under_valgrind() ? 30 : 2;
    long rss_before = status_kib(main_emu.pid, "VmRSS");
    char *asc = list_body(id, "\"pageSize\":10");
    char *desc = list_body(id, "\"pageSize\":10,\"orderBy\":\"timestamp desc\"");
    resp first = http("POST", "/v2/entries:list", asc);
    CHECK_INT(first.status, 200);
    CHECK(first.seconds < bound);
    CHECK_INT(cJSON_GetArraySize(get(first.json, "entries")), 10);
    CHECK_STR(str(first.json, "entries.0.textPayload"), "y");
    const cJSON *labels = get(first.json, "entries.9.labels");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, "run.googleapis.com/execution_name")), id);
    const char *token = str(first.json, "nextPageToken");
    CHECK(token != NULL);

    /* the next page, newest first, and several at once while other calls (a body too) go on */
    char extra[256];
    snprintf(extra, sizeof extra, "\"pageSize\":10,\"pageToken\":\"%s\"", token ? token : "");
    char *next_body = list_body(id, extra);
    resp next = http("POST", "/v2/entries:list", next_body);
    CHECK_INT(next.status, 200);
    CHECK(next.seconds < bound);
    CHECK_INT(cJSON_GetArraySize(get(next.json, "entries")), 10);
    char *job = sh_job_text(sh_job("exit 0", "/tmp", 0));
    call calls[] = {{"POST", "/v2/entries:list", desc, {0}},
                    {"POST", "/v2/entries:list", asc, {0}},
                    {"POST", "/v2/entries:list", desc, {0}},
                    {"GET", PARENT "/jobs/forty", NULL, {0}},
                    {"POST", PARENT "/jobs?jobId=meanwhile", job, {0}}};
    enum { NCALLS = sizeof calls / sizeof *calls };
    pthread_t threads[NCALLS];
    for (int i = 0; i < NCALLS; i++)
        CHECK_INT(pthread_create(&threads[i], NULL, call_thread, &calls[i]), 0);
    for (int i = 0; i < NCALLS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(calls[i].r.status, 200);
        CHECK(calls[i].r.seconds < bound);
    }
    CHECK_INT(cJSON_GetArraySize(get(calls[0].r.json, "entries")), 10);
    CHECK_STR(str(calls[0].r.json, "entries.0.textPayload"), "y");

    /* the peak of the emulator's memory over all of that: a few windows and pages, not the logs */
    long peak = status_kib(main_emu.pid, "VmHWM");
#ifndef CR_EMULATOR_SANITIZED /* ASan's quarantine and valgrind's own heap make RSS meaningless */
    if (!under_valgrind()) {
        CHECK(rss_before > 0 && peak > 0);
        if (peak - rss_before >= 64 * 1024)
            fprintf(stderr, "  the emulator's peak RSS grew from %ld KiB to %ld KiB\n", rss_before, peak);
        CHECK(peak - rss_before < 64 * 1024);
    }
#else
    (void)peak;
    (void)rss_before;
#endif
    for (int i = 0; i < NCALLS; i++)
        resp_free(&calls[i].r);
    resp_free(&first);
    resp_free(&next);
    free(next_body);
    free(job);
    free(asc);
    free(desc);
    free(id);
}

/* Every page of a query, pageSize at a time, the texts and insertIds joined by newlines (caller frees). */
static char *every_page(const char *id, const char *order, int page_size, int *pages)
{
    size_t cap = 1 << 16, len = 0;
    char *all = calloc(1, cap);
    char token[256] = "";
    *pages = 0;
    do {
        char extra[400];
        snprintf(extra, sizeof extra, "\"pageSize\":%d,\"orderBy\":\"timestamp %s\"%s%s%s", page_size, order,
                 *token ? ",\"pageToken\":\"" : "", token, *token ? "\"" : "");
        char *body = list_body(id, extra);
        resp r = http("POST", "/v2/entries:list", body);
        free(body);
        CHECK_INT(r.status, 200);
        if (r.status != 200) {
            resp_free(&r);
            break;
        }
        (*pages)++;
        for (const cJSON *e = get(r.json, "entries") ? get(r.json, "entries")->child : NULL; e; e = e->next) {
            const char *text = str(e, "textPayload"), *insert = str(e, "insertId");
            size_t need = strlen(text) + strlen(insert) + 3;
            if (len + need >= cap)
                all = realloc(all, cap = (cap + need) * 2);
            len += (size_t)sprintf(all + len, "%s %s\n", insert, text);
        }
        snprintf(token, sizeof token, "%s", str(r.json, "nextPageToken") ? str(r.json, "nextPageToken") : "");
        resp_free(&r);
    } while (*token && *pages < 1000);
    return all;
}

/* The lines of text in reverse order. */
static char *reversed(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 1), *w = out;
    const char *end = text + n;
    while (end > text) {
        const char *start = end - 1;
        while (start > text && start[-1] != '\n')
            start--;
        memcpy(w, start, (size_t)(end - start));
        w += end - start;
        end = start;
    }
    *w = '\0';
    return out;
}

TEST(pages_follow_one_another_without_a_gap_or_a_repeat_in_either_order)
{
    /* three tasks writing at once, empty lines, a CR LF, a last line without a newline */
    char *id = run_to_end("paged",
                          "for n in 1 2 3 4 5 6; do printf \"task $CLOUD_RUN_TASK_INDEX line $n\\n\\n\"; "
                          "sleep 0.0$((CLOUD_RUN_TASK_INDEX + 2)); done; printf 'crlf\\r\\nlast'",
                          3);
    int pages = 0;
    char *whole = every_page(id, "asc", 1000, &pages);
    CHECK_INT(pages, 1);
    int lines = 0;
    for (const char *p = whole; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 3 * 14);
    char *whole_desc = every_page(id, "desc", 1000, &pages);
    char *back = reversed(whole);
    CHECK_STR(whole_desc, back);
    for (int size = 1; size <= 5; size += 2) {
        char *asc = every_page(id, "asc", size, &pages);
        CHECK_STR(asc, whole);
        CHECK_INT(pages, (3 * 14 + size - 1) / size);
        char *desc = every_page(id, "desc", size, &pages);
        CHECK_STR(desc, back);
        free(asc);
        free(desc);
    }
    free(whole);
    free(whole_desc);
    free(back);
    free(id);
}

TEST(a_page_token_used_with_another_filter_or_order_is_400_naming_the_token)
{
    char *id = run_to_end("tokens", "seq 1 5", 1);
    char *body = list_body(id, "\"pageSize\":2");
    resp r = http("POST", "/v2/entries:list", body);
    const char *token = str(r.json, "nextPageToken");
    CHECK(token != NULL);
    char extra[3][300];
    snprintf(extra[0], sizeof extra[0], "\"pageSize\":2,\"orderBy\":\"timestamp desc\",\"pageToken\":\"%s\"", token);
    snprintf(extra[1], sizeof extra[1], "\"pageSize\":2,\"pageToken\":\"%s\"", token);
    snprintf(extra[2], sizeof extra[2], "\"pageSize\":3,\"pageToken\":\"%s\"", token);
    for (int i = 0; i < 3; i++) {
        char *other = list_body(id, extra[i]);
        if (i == 1) { /* the same execution through another filter */
            free(other);
            if (asprintf(
                    &other,
                    "{\"resourceNames\":[\"projects/test-project\"],\"filter\":\"resource.labels.job_name = tokens\","
                    "%s}",
                    extra[1]) < 0)
                other = NULL;
        }
        resp o = http("POST", "/v2/entries:list", other);
        if (i < 2) {
            CHECK_INT(o.status, 400);
            CHECK_STR(str(o.json, "error.status"), "INVALID_ARGUMENT");
            CHECK_CONTAINS(str(o.json, "error.message"), "pageToken");
            CHECK_CONTAINS(str(o.json, "error.message"), "another query");
        } else { /* another page size is the same query */
            CHECK_INT(o.status, 200);
            CHECK_INT(cJSON_GetArraySize(get(o.json, "entries")), 3);
            CHECK_STR(str(o.json, "entries.0.textPayload"), "3");
        }
        resp_free(&o);
        free(other);
    }
    /* a token this server never gave, or one cut short */
    static const char *const forged[] = {"e2", "0123456789abcdef.1.2.3", "0123456789abcdef.1.2.3.4.5",
                                         "0123456789ABCDEF.1.2.3.4", "0123456789abcdef.1.2.-3.4"};
    for (size_t i = 0; i < sizeof forged / sizeof *forged; i++) {
        char e[200];
        snprintf(e, sizeof e, "\"pageToken\":\"%s\"", forged[i]);
        char *b = list_body(id, e);
        resp o = http("POST", "/v2/entries:list", b);
        CHECK_INT(o.status, 400);
        CHECK_CONTAINS(str(o.json, "error.message"), "not a page token this server gave");
        resp_free(&o);
        free(b);
    }
    resp_free(&r);
    free(body);
    free(id);
}

/* ---- a job's logs across its executions (issue 22) ------------------------------------------ */

/* POSTs entries:list with this filter (and more fields, a JSON object's members, or NULL). */
static resp list_filter(const char *filter, const char *extra)
{
    cJSON *body = extra ? cJSON_Parse(extra) : cJSON_CreateObject();
    const char *names[] = {"projects/test-project"};
    cJSON_AddItemToObject(body, "resourceNames", cJSON_CreateStringArray(names, 1));
    cJSON_AddStringToObject(body, "filter", filter);
    char *text = cJSON_PrintUnformatted(body);
    resp r = http("POST", "/v2/entries:list", text);
    free(text);
    cJSON_Delete(body);
    return r;
}

/* The entries' texts, each followed by a newline (caller frees). */
static char *texts(const cJSON *page)
{
    size_t cap = 1024, len = 0;
    char *out = calloc(1, cap);
    for (const cJSON *e = get(page, "entries") ? get(page, "entries")->child : NULL; e; e = e->next) {
        const char *t = str(e, "textPayload");
        size_t need = strlen(t) + 2;
        if (len + need >= cap)
            out = realloc(out, cap = (cap + need) * 2);
        len += (size_t)sprintf(out + len, "%s\n", t);
    }
    return out;
}

/* Runs job `id` once more with `tasks` tasks and waits for its end; the execution's id (caller frees). */
static char *run_again(const char *id, int tasks)
{
    char body[64];
    snprintf(body, sizeof body, "{\"overrides\":{\"taskCount\":%d}}", tasks);
    cJSON *op = run_job(id, body, NULL);
    const char *name = str(op, "metadata.name");
    CHECK(name != NULL);
    cJSON *e = name ? wait_execution(name) : NULL;
    char *out = name ? strdup(strrchr(name, '/') + 1) : NULL;
    cJSON_Delete(e);
    cJSON_Delete(op);
    return out;
}

/* gcloud's filter for a job's logs (`beta run jobs logs read`), with the user's terms in parentheses. */
static char *job_filter(const char *job, const char *user, const char *since)
{
    char *f = NULL;
    if (asprintf(&f,
                 "%s%s%sresource.type = \"cloud_run_job\" AND resource.labels.job_name = \"%s\" AND "
                 "resource.labels.location = \"us-central1\" AND resource.labels.project_id = \"test-project\" AND "
                 "severity >= DEFAULT%s%s%s",
                 user ? "(" : "", user ? user : "", user ? ") AND " : "", job, since ? " AND timestamp >= \"" : "",
                 since ? since : "", since ? "\"" : "") < 0)
        return NULL;
    return f;
}

/* The texts a job-wide query answers (pageSize 1000, one page), or "400 <message>" (caller frees). */
static char *answer(const char *job, const char *user, const char *since, const char *extra)
{
    char *f = job_filter(job, user, since);
    char more[128];
    snprintf(more, sizeof more, "{\"pageSize\":1000%s%s}", extra ? "," : "", extra ? extra : "");
    resp r = list_filter(f, more);
    char *out = NULL;
    if (r.status == 200) {
        CHECK(get(r.json, "nextPageToken") == NULL);
        out = texts(r.json);
    } else if (asprintf(&out, "%ld %s", r.status, str(r.json, "error.message")) < 0) {
        out = NULL;
    }
    resp_free(&r);
    free(f);
    return out;
}

TEST(a_jobs_logs_are_every_executions_in_time_order_either_way_and_the_users_terms_narrow_them)
{
    CHECK_INT(create_job("wide", sh_job("echo \"Hello from $CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_EXECUTION\"; "
                                        "sleep 0.2; echo \"bye $CLOUD_RUN_TASK_INDEX\"",
                                        "/tmp", 0)),
              200);
    CHECK_INT(create_job("other", sh_job("echo not this one", "/tmp", 0)), 200);
    char *first = run_again("wide", 2);
    char *other = run_again("other", 1);
    char *second = run_again("wide", 1);

    /* both executions, the first one's lines before the second's; newest first the other way round */
    char *all = answer("wide", NULL, NULL, NULL);
    char want[1024];
    snprintf(want, sizeof want, "Hello from 0 of %s\nHello from 1 of %s\nbye 0\nbye 1\nHello from 0 of %s\nbye 0\n",
             first, first, second);
    /* the tasks of one execution start together: their lines interleave by time, whichever task writes first */
    char tail[256];
    snprintf(tail, sizeof tail, "Hello from 0 of %s\nbye 0\n", second);
    CHECK_INT((int)strlen(all), (int)strlen(want));
    CHECK(strlen(all) > strlen(tail) && strcmp(all + strlen(all) - strlen(tail), tail) == 0);
    CHECK(strstr(all, "not this one") == NULL);
    char *first_half = strndup(all, strlen(all) - strlen(tail));
    CHECK(strstr(first_half, second) == NULL);
    CHECK(strstr(first_half, "bye") > strstr(first_half, "Hello from 1"));
    CHECK(strstr(first_half, "bye") > strstr(first_half, "Hello from 0"));
    char *desc = answer("wide", NULL, NULL, "\"orderBy\":\"timestamp desc\"");
    char *back = reversed(all);
    CHECK_STR(desc, back);

    /* the user's terms, ANDed in parentheses */
    char *one = answer("wide", "labels.\"run.googleapis.com/task_index\"=\"1\"", NULL, NULL);
    snprintf(want, sizeof want, "Hello from 1 of %s\nbye 1\n", first);
    CHECK_STR(one, want);
    char *hello = answer("wide", "textPayload:\"HELLO FROM 0\"", NULL, NULL); /* ':' is "contains", any case */
    snprintf(want, sizeof want, "Hello from 0 of %s\nHello from 0 of %s\n", first, second);
    CHECK_STR(hello, want);
    char user[256];
    snprintf(user, sizeof user, "textPayload:\"bye 1\" OR labels.\"run.googleapis.com/execution_name\"=\"%s\"", second);
    char *either = answer("wide", user, NULL, NULL);
    snprintf(want, sizeof want, "bye 1\nHello from 0 of %s\nbye 0\n", second);
    CHECK_STR(either, want);
    char *not_bye = answer("wide", "NOT textPayload:bye -textPayload:\"from 1\"", NULL, NULL);
    snprintf(want, sizeof want, "Hello from 0 of %s\nHello from 0 of %s\n", first, second);
    CHECK_STR(not_bye, want);
    char *loud = answer("wide", "severity>=ERROR", NULL, NULL); /* every line here is DEFAULT */
    CHECK_STR(loud, "");
    char *any = answer("wide", "textPayload:* AND severity=DEFAULT AND severity<INFO", NULL, NULL);
    CHECK_STR(any, all);
    char *exact =
        answer("wide", "textPayload=\"BYE 0\" AND -labels.\"run.googleapis.com/task_attempt\"!=0", NULL, NULL);
    CHECK_STR(exact, "bye 0\nbye 0\n");

    /* a time bound: from the second execution's first line on; after the last line, nothing */
    char *filter = job_filter("wide", NULL, NULL);
    resp whole = list_filter(filter, "{\"pageSize\":1000}");
    int n = cJSON_GetArraySize(get(whole.json, "entries"));
    CHECK_INT(n, 6);
    const cJSON *entries = get(whole.json, "entries");
    char *since = answer("wide", NULL, str(cJSON_GetArrayItem(entries, 4), "timestamp"), NULL);
    snprintf(want, sizeof want, "Hello from 0 of %s\nbye 0\n", second);
    CHECK_STR(since, want);
    char user_time[128];
    snprintf(user_time, sizeof user_time, "timestamp>\"%s\"", str(cJSON_GetArrayItem(entries, 5), "timestamp"));
    char *none = answer("wide", user_time, NULL, NULL);
    CHECK_STR(none, "");
    char *upper = answer("WIDE", NULL, NULL, NULL); /* names match whatever their case, as Cloud Logging's */
    CHECK_STR(upper, all);

    /* a page at a time through a filter tested on each line: no gap, no repeat, either way */
    char *f = job_filter("wide", "textPayload:o", NULL);
    for (int d = 0; d < 2; d++) {
        char token[256] = "", got[1024] = "";
        int pages = 0;
        do {
            char more[400];
            snprintf(more, sizeof more, "{\"pageSize\":1,\"orderBy\":\"timestamp %s\"%s%s%s}", d ? "desc" : "asc",
                     *token ? ",\"pageToken\":\"" : "", token, *token ? "\"" : "");
            resp r = list_filter(f, more);
            CHECK_INT(r.status, 200);
            char *t = texts(r.json);
            strncat(got, t, sizeof got - strlen(got) - 1);
            free(t);
            snprintf(token, sizeof token, "%s", str(r.json, "nextPageToken") ? str(r.json, "nextPageToken") : "");
            resp_free(&r);
        } while (*token && ++pages < 20);
        char *whole_answer = answer("wide", "textPayload:o", NULL, d ? "\"orderBy\":\"timestamp desc\"" : NULL);
        CHECK_STR(got, whole_answer);
        CHECK(pages <= 3); /* three entries, a page each (and maybe an empty last page) */
        free(whole_answer);
    }
    char *v[] = {first,   other, second, all,   first_half, desc,  back, one,   hello, either,
                 not_bye, loud,  any,    exact, filter,     since, none, upper, f};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        free(v[i]);
    resp_free(&whole);
}

TEST(a_filter_tested_on_each_line_ends_a_long_search_with_a_short_page_and_its_token)
{
    /* 250,000 lines, one of which the filter wants, at the end */
    CHECK_INT(create_job("haystack", sh_job("yes | head -n 250000; echo needle", "/tmp", 0)), 200);
    char *id = run_again("haystack", 1);
    char *f = job_filter("haystack", "textPayload:needle", NULL);
    char token[256] = "";
    int pages = 0, found = 0;
    do {
        char more[400];
        snprintf(more, sizeof more, "{\"pageSize\":10%s%s%s}", *token ? ",\"pageToken\":\"" : "", token,
                 *token ? "\"" : "");
        resp r = list_filter(f, more);
        CHECK_INT(r.status, 200);
        CHECK(r.seconds < (under_valgrind() ? 60 : 5));
        found += cJSON_GetArraySize(get(r.json, "entries"));
        if (get(r.json, "entries"))
            CHECK_STR(str(r.json, "entries.0.textPayload"), "needle");
        snprintf(token, sizeof token, "%s", str(r.json, "nextPageToken") ? str(r.json, "nextPageToken") : "");
        pages++;
        resp_free(&r);
    } while (*token && pages < 10);
    CHECK_INT(found, 1);
    CHECK_INT(pages, 3); /* 100,000 lines read a page */
    free(f);
    free(id);
}

TEST(a_term_the_emulator_does_not_understand_is_400_naming_it)
{
    static const struct {
        const char *user, *says;
    } cases[] = {
        {"jsonPayload.message:\"x\"", "\"jsonPayload.message\" is not a field the emulator understands"},
        {"httpRequest.status>=500", "\"httpRequest.status\" is not a field"},
        {"textPayload=~\"^a\"", "regular expressions"},
        {"textPayload!~\"^a\"", "regular expressions"},
        {"SEARCH(\"hello\")", "functions such as SEARCH()"},
        {"\"the cat in the hat\"", "\"\"the cat in the hat\"\" is not a comparison"},
        {"hello", "\"hello\" is not a comparison"},
        {"textPayload:x and textPayload:y", "\"and\" is not a comparison"},
        {"(textPayload:x", "a '(' without its ')'"},
        {"textPayload:x)", "a ')' without its '('"},
        {"severity>=LOUD", "severity \"LOUD\" is not DEFAULT"},
        {"textPayload>\"a\"", "compares textPayload with =, != or :, not >"},
        {"timestamp:\"2026\"", "compares timestamp with =, !=, <, <=, > or >=, not :"},
        {"resource.labels.job_name = (\"a\" OR \"b\")", "a list of values"},
        {"labels.\"run.googleapis.com/task_index\"=one", "must be a whole number"},
        {"timestamp>=\"yesterday\"", "not an RFC 3339 time"},
        {"textPayload:x AND", "a term is missing before a ')'"},
        {"textPayload:x OR ()", "a term is missing before a ')'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *f = job_filter("wide", cases[i].user, NULL);
        resp r = list_filter(f, NULL);
        CHECK_INT(r.status, 400);
        CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
        CHECK_CONTAINS(str(r.json, "error.message"), "filter: ");
        CHECK_CONTAINS(str(r.json, "error.message"), cases[i].says);
        CHECK_STR(str(r.json, "error.details.0.fieldViolations.0.field"), "filter");
        resp_free(&r);
        free(f);
    }
    /* a value or a filter that ends too soon */
    static const struct {
        const char *filter, *says;
    } short_ones[] = {
        {"resource.labels.job_name=wide textPayload:\"open", "a quoted value that does not end"},
        {"resource.labels.job_name=wide textPayload:", "a comparison without a value"},
        {"resource.labels.job_name=wide AND", "it ends where a term should be"},
        {"resource.labels.job_name=wide labels.\"run.googleapis.com/task_index=0", "a quoted name that does not end"},
    };
    for (size_t i = 0; i < sizeof short_ones / sizeof *short_ones; i++) {
        resp s = list_filter(short_ones[i].filter, NULL);
        CHECK_INT(s.status, 400);
        CHECK_CONTAINS(str(s.json, "error.message"), short_ones[i].says);
        resp_free(&s);
    }
    /* the job named only inside an OR picks no files: say how to name it */
    resp r = list_filter("resource.labels.job_name = \"a\" OR resource.labels.job_name = \"b\"", NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(str(r.json, "error.message"), "joined to the rest by AND");
    resp_free(&r);
    /* parentheses 40 deep, and 200 terms: refused, not a deep recursion */
    char deep[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "textPayload:x");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    char *f = job_filter("wide", deep, NULL);
    r = list_filter(f, NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(str(r.json, "error.message"), "more than 32 parentheses");
    resp_free(&r);
    free(f);
    char *many = calloc(1, 200 * 20);
    for (int i = 0; i < 200; i++)
        strcat(many, i ? " OR textPayload:x" : "textPayload:x");
    f = job_filter("wide", many, NULL);
    r = list_filter(f, NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(str(r.json, "error.message"), "more than 128 terms");
    resp_free(&r);
    free(f);
    /* longer than Cloud Logging's 20,000 bytes */
    char *big = malloc(20100);
    memset(big, 'x', 20099);
    big[20099] = '\0';
    memcpy(big, "textPayload:", 12);
    f = job_filter("wide", big, NULL);
    r = list_filter(f, NULL);
    CHECK_INT(r.status, 400);
    CHECK_CONTAINS(str(r.json, "error.message"), "longer than 20000 bytes");
    resp_free(&r);
    free(f);
    free(big);
    free(many);
}

int main(void)
{
    static const char *const options[] = {"--log-limit", "16M", NULL};
    return kit_main(options);
}
