/*
** emulator.c — the command: options, seeding jobs from a --jobs file, the log
** directory, starting the runner and the HTTP server, waiting for SIGINT or
** SIGTERM, and shutting everything down in order.
*/
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulator.h"
#include "errors.h"
#include "faults.h"
#include "jobs_file.h"
#include "mhd_lib.h"
#include "runner.h"
#include "runtime.h"
#include "server.h"
#include "store.h"

#define USAGE                                                                                                          \
    "usage: cloudrun emulator [--host ADDR] [--port N] [--jobs FILE] [--log-dir DIR] [--fault SPEC]...\n"              \
    "                         [--allow-origin ORIGIN]... [--allow-host NAME]... [--quiet]\n"                           \
    "                         [--max-processes N] [--max-connections N] [--header-timeout SECONDS]\n"                  \
    "                         [--keep-executions N] [--keep-operations N] [--log-limit BYTES]\n"                       \
    "                         [--runtime process|podman|docker] [--pull missing|never|always]\n"                       \
    "                         [--secrets FILE] [--volume-dir NAME=DIR]...\n"                                           \
    "\n"                                                                                                               \
    "A local Cloud Run Admin API v2 (Jobs) on plain HTTP. Executions really run: each\n"                               \
    "task's command + args as a local process (no shell, no image pulled), or with\n"                                  \
    "--runtime podman or docker each task as a container of the job's image.\n"                                        \
    "\n"                                                                                                               \
    "  --host ADDR     address to listen on (default 127.0.0.1)\n"                                                     \
    "  --port N        port to listen on (default 8123; 0 picks a free port)\n"                                        \
    "  --jobs FILE     seed jobs from a JSON file: {\"jobs\": [Job, ...]} or [Job, ...],\n"                            \
    "                  each with its full name projects/P/locations/L/jobs/J\n"                                        \
    "  --log-dir DIR   where task output goes: DIR/<execution>/task<i>.log\n"                                          \
    "                  (default: a new cloudrun-emulator-XXXXXX under $TMPDIR or /tmp)\n"                              \
    "  --fault SPEC    start with a pending fault (repeatable): METHOD:FAULT[:COUNT], e.g.\n"                          \
    "                  RunJob:unavailable:2, or the JSON that POST /emulator/v1/faults takes;\n"                       \
    "                  FAULT: unavailable, resource_exhausted, internal, deadline, unauthenticated,\n"                 \
    "                  permission_denied (an error, nothing done), delay, drop, reset_after_effect\n"                  \
    "  --allow-origin ORIGIN  serve requests from this web origin (repeatable), e.g.\n"                                \
    "                  http://localhost:3000, and answer its CORS preflights; requests that\n"                         \
    "                  carry any other Origin header are refused (403)\n"                                              \
    "  --allow-host NAME  serve requests whose Host is NAME (any port) or NAME:PORT (repeatable);\n"                   \
    "                  by default only localhost, 127.0.0.1, [::1] and the --host address\n"                           \
    "                  with the serving port are, against DNS rebinding\n"                                             \
    "  --quiet         no request or task log lines on stderr\n"                                                       \
    "\n"                                                                                                               \
    "Where tasks run:\n"                                                                                               \
    "  --runtime R     process (default): command + args as a local process, as you, with the\n"                       \
    "                  emulator's environment; podman or docker: a container of the job's image\n"                     \
    "                  (command as its ENTRYPOINT, args as its CMD, neither: the image's own),\n"                      \
    "                  driven through that program's CLI, with only the job's env and CLOUD_RUN_*\n"                   \
    "  --pull P        missing (default): pull an image that is not on this machine; never:\n"                         \
    "                  fail the execution instead; always: pull before every execution\n"                              \
    "  --secrets FILE  Secret Manager, locally: a JSON or YAML map of secret (NAME or\n"                               \
    "                  projects/P/secrets/NAME) to a value, or to {VERSION: value} (latest is\n"                       \
    "                  the highest); env valueSource.secretKeyRef gets it, secret volumes become\n"                    \
    "                  files (container runtimes). A secret the file lacks fails the execution\n"                      \
    "  --volume-dir NAME=DIR  the job's Cloud Storage, NFS or Cloud SQL volume NAME is the host\n"                     \
    "                  directory DIR (repeatable; read-only when the volume says so); in-memory\n"                     \
    "                  volumes are a tmpfs. RunJob refuses a mount that cannot be honoured\n"                          \
    "                  (FAILED_PRECONDITION, saying which option to add)\n"                                            \
    "\n"                                                                                                               \
    "Limits, so that it stays the same size however long it runs and whoever calls:\n"                                 \
    "  --max-processes N    task processes at once, all executions together (default: 4 per\n"                         \
    "                  CPU core); tasks beyond it wait, pending\n"                                                     \
    "  --max-connections N  connections at once (default 2048)\n"                                                      \
    "  --header-timeout S   a request's headers must arrive within S seconds (default 10),\n"                          \
    "                  its body within 6 times S after them; slower connections are closed\n"                          \
    "  --keep-executions N  done executions kept per job, older ones deleted (default 1000,\n"                         \
    "                  Cloud Run's)\n"                                                                                 \
    "  --keep-operations N  finished operations kept after what they follow is gone, for an\n"                         \
    "                  hour at most (default 1000)\n"                                                                  \
    "  --log-limit BYTES    output kept per task (default 10M; K, M, G suffixes); the rest is\n"                       \
    "                  dropped with a note in the log\n"                                                               \
    "  --help          this text\n"                                                                                    \
    "\n"                                                                                                               \
    "It runs commands as you, so it serves only this machine's own programs: a request\n"                              \
    "with a foreign Host or Origin header, or with a body that is not\n"                                               \
    "Content-Type: application/json, is refused with 403 PERMISSION_DENIED. The test\n"                                \
    "control API below follows the same rules.\n"                                                                      \
    "\n"                                                                                                               \
    "Test control API (outside the Cloud Run API, for testing clients' retries):\n"                                    \
    "  POST   /emulator/v1/faults  {\"method\": RPC name (RunJob, GetExecution, GetOperation, ...) or \"*\",\n"        \
    "                               \"fault\": \"unavailable\" (503) | \"resource_exhausted\" (429) |\n"               \
    "                                        \"internal\" (500) | \"deadline\" (504) | \"delay\" |\n"                  \
    "                                        \"drop\" (close, nothing done) |\n"                                       \
    "                                        \"reset_after_effect\" (done, then close unanswered),\n"                  \
    "                               \"count\": N (default 1), \"retry_after\": seconds (Retry-After header),\n"        \
    "                               \"retry_info\": \"1.5s\" (google.rpc.RetryInfo), \"delay_ms\": N}\n"               \
    "                              the next N matching calls fail that way\n"                                          \
    "  GET    /emulator/v1/faults  pending faults        DELETE /emulator/v1/faults  clear them\n"                     \
    "  GET    /emulator/v1/stats   calls per RPC (faulted ones too)   DELETE: zero them\n"                             \
    "  POST   /emulator/v1/reset   clear faults and counts, delete every job, execution and operation\n"

#define MAX_LIST_OPTIONS 32

typedef struct options {
    const char *host;
    int port;
    const char *jobs;
    const char *log_dir;
    int quiet;
    const char *faults[MAX_LIST_OPTIONS];
    int nfaults;
    const char *origins[MAX_LIST_OPTIONS];
    int norigins;
    const char *hosts[MAX_LIST_OPTIONS];
    int nhosts;
    long max_processes, max_connections, header_timeout, keep_executions, keep_operations;
    long long log_limit;
    emu_runtime runtime; /* --runtime, --pull, --secrets, --volume-dir */
} options;

/* A whole number in [lo, hi] with an optional K, M or G suffix (when suffixes). 0, or -1. */
static int parse_number(const char *text, long long lo, long long hi, int suffixes, long long *out)
{
    if (!isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    long long scale = 1;
    if (suffixes && *end && !end[1]) {
        scale = *end == 'K' || *end == 'k'   ? 1024LL
                : *end == 'M' || *end == 'm' ? 1024LL * 1024
                : *end == 'G' || *end == 'g' ? 1024LL * 1024 * 1024
                                             : 0;
        end += scale != 0;
    }
    if (errno == ERANGE || *end || !scale || v > hi / scale || v * scale < lo)
        return -1;
    *out = v * scale;
    return 0;
}

const char *cr_emulator_usage(void)
{
    return USAGE;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cloudrun emulator: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cloudrun emulator --help'.\n");
    return 2;
}

/* Returns -1 to go on, or the exit status (0 for --help, 2 for bad usage). */
static int parse_options(int argc, char **argv, options *o)
{
    static const char *const with_value[] = {"--host",
                                             "--port",
                                             "--jobs",
                                             "--log-dir",
                                             "--fault",
                                             "--allow-origin",
                                             "--allow-host",
                                             "--max-processes",
                                             "--max-connections",
                                             "--header-timeout",
                                             "--keep-executions",
                                             "--keep-operations",
                                             "--log-limit",
                                             NULL};
    static const struct {
        const char *name;
        long long lo, hi;
        int suffixes;
        const char *what;
    } numbers[] = {
        {"--max-processes", 1, 4096, 0, "a number of processes from 1 to 4096"},
        {"--max-connections", 16, 65536, 0, "a number of connections from 16 to 65536"},
        {"--header-timeout", 1, 3600, 0, "a number of seconds from 1 to 3600"},
        {"--keep-executions", 1, 1000000, 0, "a number of executions from 1 to 1000000"},
        {"--keep-operations", 0, 1000000, 0, "a number of operations from 0 to 1000000"},
        {"--log-limit", 0, 1LL << 40, 1, "a number of bytes (K, M, G suffixes) up to 1T"},
    };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            o->quiet = 1;
            continue;
        }
        const char *value = NULL;
        const char *opt = NULL;
        for (int k = 0; with_value[k]; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(arg, with_value[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                opt = with_value[k];
                if (arg[n] == '=')
                    value = arg + n + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return usage_error("option '%s' needs a value", opt);
                break;
            }
        }
        if (!opt && arg[0] == '-' && arg[1] == '-') { /* where tasks run: runtime.c's */
            char name[32];
            size_t n = strcspn(arg, "=");
            snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), arg);
            if (emu_runtime_takes(name)) {
                opt = name;
                value = arg[n] == '=' ? arg + n + 1 : i + 1 < argc ? argv[++i] : NULL;
                if (!value)
                    return usage_error("option '%s' needs a value", arg);
                char why[600];
                if (!*value || emu_runtime_option(&o->runtime, name, value, why, sizeof why) < 0)
                    return usage_error("%s", *value ? why : "an option needs a non-empty value");
                continue;
            }
        }
        if (!opt)
            return usage_error(arg[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", arg);
        if (!*value)
            return usage_error("option '%s' needs a non-empty value", opt);
        long long number = -1;
        for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
            if (strcmp(opt, numbers[k].name) == 0 &&
                parse_number(value, numbers[k].lo, numbers[k].hi, numbers[k].suffixes, &number) < 0) {
                char msg[160];
                snprintf(msg, sizeof msg, "%s takes %s, not '%%s'", opt, numbers[k].what);
                return usage_error(msg, value);
            }
        }
        if (strcmp(opt, "--max-processes") == 0) {
            o->max_processes = (long)number;
        } else if (strcmp(opt, "--max-connections") == 0) {
            o->max_connections = (long)number;
        } else if (strcmp(opt, "--header-timeout") == 0) {
            o->header_timeout = (long)number;
        } else if (strcmp(opt, "--keep-executions") == 0) {
            o->keep_executions = (long)number;
        } else if (strcmp(opt, "--keep-operations") == 0) {
            o->keep_operations = (long)number;
        } else if (strcmp(opt, "--log-limit") == 0) {
            o->log_limit = number;
        } else if (strcmp(opt, "--host") == 0) {
            o->host = value;
        } else if (strcmp(opt, "--port") == 0) {
            char *end;
            long p = strtol(value, &end, 10);
            if (*end || p < 0 || p > 65535)
                return usage_error("--port must be a number from 0 to 65535, not '%s'", value);
            o->port = (int)p;
        } else if (strcmp(opt, "--jobs") == 0) {
            o->jobs = value;
        } else if (strcmp(opt, "--fault") == 0) {
            if (o->nfaults == MAX_LIST_OPTIONS)
                return usage_error("at most 32 %s options", opt);
            o->faults[o->nfaults++] = value;
        } else if (strcmp(opt, "--allow-origin") == 0) {
            if (o->norigins == MAX_LIST_OPTIONS)
                return usage_error("at most 32 %s options", opt);
            if (strcmp(value, "*") == 0 || !strstr(value, "://") || strchr(strstr(value, "://") + 3, '/'))
                return usage_error("--allow-origin takes an origin such as http://localhost:3000 (scheme, host and "
                                   "port, no path, no wildcard), not '%s'",
                                   value);
            o->origins[o->norigins++] = value;
        } else if (strcmp(opt, "--allow-host") == 0) {
            if (o->nhosts == MAX_LIST_OPTIONS)
                return usage_error("at most 32 %s options", opt);
            if (strchr(value, '/') || strchr(value, '*'))
                return usage_error("--allow-host takes a host name or NAME:PORT, not '%s'", value);
            o->hosts[o->nhosts++] = value;
        } else {
            o->log_dir = value;
        }
    }
    return -1;
}

static int mkdir_p(const char *dir)
{
    char *copy = strdup(dir);
    if (!copy)
        return -1;
    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(copy, 0755);
            *p = '/';
        }
    }
    int rc = mkdir(copy, 0755) == 0 || errno == EEXIST ? 0 : -1;
    free(copy);
    return rc;
}

/* The absolute log root: the given directory (created), or a fresh one. NULL on failure, said on stderr. */
static char *make_log_root(const char *given)
{
    char *dir;
    if (given) {
        if (mkdir_p(given) < 0) {
            fprintf(stderr, "cloudrun emulator: --log-dir %s: %s\n", given, strerror(errno));
            return NULL;
        }
        dir = strdup(given);
    } else {
        const char *tmp = getenv("TMPDIR");
        dir = emu_strfmt("%s/cloudrun-emulator-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (dir && !mkdtemp(dir)) {
            fprintf(stderr, "cloudrun emulator: cannot create a log directory %s: %s\n", dir, strerror(errno));
            free(dir);
            return NULL;
        }
    }
    char *abs = dir ? realpath(dir, NULL) : NULL;
    if (!abs && dir)
        fprintf(stderr, "cloudrun emulator: log directory %s: %s\n", dir, strerror(errno));
    free(dir);
    return abs;
}

int cr_emulator_main(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* Tasks here are mostly scripts that wait on I/O: 4 per core keeps a laptop responsive while
    ** a fan-out still overlaps; more just queues in the scheduler instead of here. */
    options o = {.host = "127.0.0.1",
                 .port = 8123,
                 .max_processes = 4 * (cores > 0 ? cores : 1),
                 .max_connections = 2048,
                 .header_timeout = 10,
                 .keep_executions = 1000,
                 .keep_operations = 1000,
                 .log_limit = 10LL * 1024 * 1024};
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) {
        emu_runtime_close(&o.runtime);
        return rc;
    }
    char why[1200];
    int usage = 0;
    if (emu_runtime_open(&o.runtime, why, sizeof why, &usage) < 0) {
        emu_runtime_close(&o.runtime);
        if (usage)
            return usage_error("%s", why);
        fprintf(stderr, "cloudrun emulator: %s\n", why);
        return 1;
    }
    emu_faults faults;
    if (emu_faults_init(&faults) < 0) {
        fprintf(stderr, "cloudrun emulator: out of memory\n");
        emu_runtime_close(&o.runtime);
        return 1;
    }
    for (int i = 0; i < o.nfaults; i++) {
        emu_error err = {0};
        if (emu_faults_add_spec(&faults, o.faults[i], &err) < 0) {
            emu_faults_free(&faults);
            emu_runtime_close(&o.runtime);
            return usage_error("%s", err.message);
        }
    }

    /* Signals: SIGINT/SIGTERM are taken with sigwait below, so they are blocked
    ** before any thread starts (threads inherit the mask); SIGPIPE must not kill
    ** us when a client goes away; SIGCHLD must not be ignored, or the kernel would
    ** reap tasks before the runner reads their exit status. */
    sigset_t stop, old_mask;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old_mask);
    struct sigaction ign = {0}, dfl = {0}, old_pipe, old_chld;
    ign.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigaction(SIGCHLD, &dfl, &old_chld);

    emu_store store;
    emu_runner runner = {0};
    emu_server *server = NULL;
    cr_error mhd_err = {0};
    rc = 1;
    if (!emu_mhd_load(&mhd_err)) { /* before anything starts: emu_server_start's calls need it */
        fprintf(stderr, "cloudrun emulator: %s\n", mhd_err.message ? mhd_err.message : "no libmicrohttpd");
        cr_error_clear(&mhd_err);
        goto restore;
    }
    char *log_root = make_log_root(o.log_dir);
    if (!log_root)
        goto restore;
    if (emu_store_init(&store, log_root) < 0) {
        fprintf(stderr, "cloudrun emulator: out of memory\n");
        free(log_root);
        goto restore;
    }
    free(log_root);
    store.quiet = o.quiet;
    store.max_processes = (int)o.max_processes;
    store.keep_executions = (int)o.keep_executions;
    store.keep_operations = (int)o.keep_operations;
    store.log_limit = o.log_limit;
    store.runtime = &o.runtime;
    if (o.jobs && emu_jobs_load_file(&store, o.jobs, why, sizeof why) < 0) {
        fprintf(stderr, "cloudrun emulator: %s\n", why);
        rc = 2;
        goto free_store;
    }
    if (emu_runner_start(&runner, &store) < 0) {
        fprintf(stderr, "cloudrun emulator: cannot start the task runner: %s\n", strerror(errno));
        goto free_store;
    }
    emu_access access = {o.origins, o.norigins, o.hosts, o.nhosts, NULL, 0};
    emu_server_limits limits = {(unsigned)o.max_connections, (int)o.header_timeout};
    server = emu_server_start(&store, &faults, &access, o.host, o.port, &limits);
    if (!server)
        goto stop_runner;

    int ipv6 = strchr(o.host, ':') != NULL;
    printf("cloudrun emulator listening on http://%s%s%s:%d\n", ipv6 ? "[" : "", o.host, ipv6 ? "]" : "",
           emu_server_port(server));
    printf("export CLOUD_RUN_EMULATOR_HOST=%s%s%s:%d\n", ipv6 ? "[" : "", o.host, ipv6 ? "]" : "",
           emu_server_port(server));
    fflush(stdout);
    if (!o.quiet)
        fprintf(stderr, "cloudrun emulator: %zu job(s) loaded; task logs in %s; tasks run as %s%s\n", store.njobs,
                store.log_root, o.runtime.kind == EMU_RUNTIME_PROCESS ? "local processes" : o.runtime.program,
                o.runtime.kind == EMU_RUNTIME_PROCESS ? "" : " containers");

    int sig = 0;
    sigwait(&stop, &sig);
    if (!o.quiet)
        fprintf(stderr, "cloudrun emulator: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
    pthread_mutex_lock(&store.mu);
    store.draining = 1; /* so that no handler holds the server up */
    pthread_mutex_unlock(&store.mu);
    emu_server_stop(server); /* no new requests while the runner winds down */
stop_runner:
    emu_runner_stop(&runner);
free_store:
    if (rc != 0 && !o.log_dir)
        rmdir(store.log_root); /* the fresh directory we made, still empty: don't litter /tmp */
    emu_store_free(&store);
restore:
    emu_faults_free(&faults);
    emu_runtime_close(&o.runtime); /* after the store: the executions' secret files are in its directory */
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}
