/*
** soak.c — does the emulator stay flat? Starts `cloudrun-emulator` (the
** program named first) on a free port, creates a job whose task is `true`,
** and for SECONDS runs a steady load from WORKERS client threads, each on
** its own kept-alive connection: RunJob, GetExecution, DeleteExecution,
** DeleteOperation (of the RunJob operation), GetJob — one cycle. Every
** WINDOW seconds it prints the cycles per second and the emulator's resident
** memory (VmRSS), and at the end compares the last window with the first:
** the pass mark is last/first RSS <= 1.1 and last/first throughput >= 0.9.
**
**   cr-soak EMULATOR_BIN [--seconds N] [--window N] [--workers N] [--strict]
**
** Defaults: 60 s, 10 s windows, 2 workers. The tasks' logs go to $SOAK_TMP,
** else /dev/shm (tmpfs) when writable, else /tmp.
**
** Exit status 0 whatever the mark (a benchmark, not a test), unless --strict:
** then 1 on FAIL. 2 when the run itself could not be made.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define PARENT "/v2/projects/soak/locations/local"
#define MAX_WINDOWS 1024

static int port;
static atomic_long cycles;
static atomic_long failures;
static atomic_int stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The emulator's VmRSS in KiB, or -1. */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    buf *b = arg;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, data, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* One exchange on the worker's handle; the parsed answer (caller frees) when it is a 200, else NULL. */
static cJSON *call(CURL *curl, struct curl_slist *headers, const char *method, const char *path, const char *body)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    buf b = {NULL, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, body ? 0L : 1L);
    if (!body)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    cJSON *json = status == 200 && b.data ? cJSON_Parse(b.data) : NULL;
    free(b.data);
    return json;
}

static const char *str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* run -> get execution -> delete execution -> delete operation -> get job, until told to stop. */
static void *worker(void *arg)
{
    (void)arg;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    while (!atomic_load(&stop)) {
        cJSON *op = call(curl, headers, "POST", PARENT "/jobs/soak:run", "{}");
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(op, "metadata");
        const char *exec = str(md, "name"), *name = str(op, "name");
        char path[512];
        int ok = exec && name;
        cJSON *got = NULL;
        if (ok) {
            snprintf(path, sizeof path, "/v2/%s", exec);
            ok = (got = call(curl, headers, "GET", path, NULL)) != NULL;
            cJSON_Delete(got);
            cJSON *del = ok ? call(curl, headers, "DELETE", path, NULL) : NULL;
            ok = del != NULL;
            cJSON_Delete(del);
            snprintf(path, sizeof path, "/v2/%s", name);
            cJSON *gone = ok ? call(curl, headers, "DELETE", path, NULL) : NULL;
            ok = gone != NULL;
            cJSON_Delete(gone);
            got = ok ? call(curl, headers, "GET", PARENT "/jobs/soak", NULL) : NULL;
            ok = got != NULL;
            cJSON_Delete(got);
        }
        cJSON_Delete(op);
        if (ok)
            atomic_fetch_add(&cycles, 1);
        else
            atomic_fetch_add(&failures, 1);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

/* Starts the emulator on a free port (stdout read for the port); its pid, or -1. */
static pid_t start_emulator(const char *bin, const char *logs)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "--port", "0", "--quiet", "--log-dir", logs, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[256] = "";
    if (!out || !fgets(line, sizeof line, out)) {
        if (out)
            fclose(out);
        return -1;
    }
    fclose(out);
    const char *colon = strrchr(line, ':');
    port = colon ? atoi(colon + 1) : 0;
    return port > 0 ? pid : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cr-soak EMULATOR_BIN [--seconds N] [--window N] [--workers N] [--strict]\n");
        return 2;
    }
    const char *bin = argv[1];
    int seconds = 60, window = 10, workers = 2, strict = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0)
            strict = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
            seconds = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--window") == 0)
            window = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--workers") == 0)
            workers = atoi(argv[++i]);
        else {
            fprintf(stderr, "cr-soak: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (seconds < 2 || window < 1 || window * 2 > seconds || seconds / window > MAX_WINDOWS || workers < 1 ||
        workers > 64) {
        fprintf(stderr, "cr-soak: need --seconds >= 2 windows, --window >= 1, 1 to 64 --workers\n");
        return 2;
    }
    /* the tasks' logs on tmpfs when there is one: the disk's journal flushes would swamp the measure */
    const char *tmp = getenv("SOAK_TMP");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char logs[4096];
    if (snprintf(logs, sizeof logs, "%s/cr-soak-XXXXXX", tmp) >= (int)sizeof logs)
        return 2;
    if (!mkdtemp(logs))
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pid_t emu = start_emulator(bin, logs);
    if (emu < 0) {
        fprintf(stderr, "cr-soak: could not start %s\n", bin);
        return 2;
    }
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    cJSON *created = call(curl, headers, "POST", PARENT "/jobs?jobId=soak",
                          "{\"template\":{\"template\":{\"maxRetries\":0,\"containers\":"
                          "[{\"image\":\"soak\",\"command\":[\"true\"]}]}}}");
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    int rc = 2;
    if (!created) {
        fprintf(stderr, "cr-soak: could not create the job\n");
        goto done;
    }
    cJSON_Delete(created);
    printf("soak: %d s, %d workers, run -> get execution -> delete execution -> delete operation -> get job; "
           "emulator pid %d, task logs in %s\n",
           seconds, workers, (int)emu, logs);
    pthread_t threads[64];
    for (int i = 0; i < workers; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    int nwin = seconds / window;
    double rate[MAX_WINDOWS];
    long rss[MAX_WINDOWS];
    double t0 = now_s();
    long last_cycles = 0;
    for (int w = 0; w < nwin; w++) {
        double until = t0 + (double)(w + 1) * window;
        while (now_s() < until)
            nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
        long c = atomic_load(&cycles);
        rate[w] = (double)(c - last_cycles) / window;
        last_cycles = c;
        rss[w] = rss_kib(emu);
        printf("  window %3d (%4d-%4d s): %8.1f cycles/s   RSS %7.1f MB\n", w + 1, w * window, (w + 1) * window,
               rate[w], rss[w] / 1024.0);
        fflush(stdout);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < workers; i++)
        pthread_join(threads[i], NULL);
    double rss_ratio = rss[0] > 0 ? (double)rss[nwin - 1] / (double)rss[0] : 99;
    double rate_ratio = rate[0] > 0 ? rate[nwin - 1] / rate[0] : 0;
    int pass = rss_ratio <= 1.1 && rate_ratio >= 0.9;
    printf("soak: %ld cycles, %ld failed; first window %.1f cycles/s, RSS %.1f MB; last window %.1f cycles/s, "
           "RSS %.1f MB\n",
           atomic_load(&cycles), atomic_load(&failures), rate[0], rss[0] / 1024.0, rate[nwin - 1],
           rss[nwin - 1] / 1024.0);
    printf("soak: last/first RSS %.3f (pass mark <= 1.1), throughput %.3f (pass mark >= 0.9): %s\n", rss_ratio,
           rate_ratio, pass ? "PASS" : "FAIL");
    rc = strict && !pass ? 1 : 0;
done:
    kill(emu, SIGTERM);
    int st = 0;
    waitpid(emu, &st, 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", logs);
    if (system(cmd) != 0)
        fprintf(stderr, "cr-soak: could not remove %s\n", logs);
    curl_global_cleanup();
    return rc;
}
