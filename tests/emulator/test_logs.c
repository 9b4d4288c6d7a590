/*
** test_logs.c — Cloud Logging's entries:list at scale (issue 19): a page
** costs what its entries cost, in time and in the emulator's memory, however
** long the tasks' logs are; pages follow one another without a gap or a
** repeat in either order; a page token belongs to the query it came from.
** (test_emulator.c covers what an entry says and the filter language.)
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

int main(void)
{
    static const char *const options[] = {"--log-limit", "16M", NULL};
    return kit_main(options);
}
