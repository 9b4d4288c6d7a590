/*
** test_task_tree.c — a task's processes end with the task (issue 19): what a
** task starts in a session or a process group of its own, or double-forks
** away, is gone once its execution is done, whether the task's main process
** exits, reaches its timeout or is cancelled; gone too when the emulator runs
** as an unprivileged user, and when the emulator itself is killed.
**
** The leftovers are found by their command lines in /proc: each runs
** `sleep 300.<this test's pid><case><kind>`, a mark no other process has.
*/
#include <dirent.h>

#include "emukit.h"

static char self_path[4096]; /* this program: the tasks run it as a double-forking daemon */

/* `this-program --daemon MARK`: a daemon as the books make one. Forks, the
** child leads a process group of its own and forks again, the grandchild
** runs `sleep MARK`; the first two exit at once, so that the sleep is an
** orphan in a group nobody signals. */
static int daemon_main(const char *mark)
{
    if (fork() != 0)
        _exit(0);
    setpgid(0, 0);
    if (fork() != 0)
        _exit(0);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    execlp("sleep", "sleep", mark, (char *)NULL);
    _exit(127);
}

/* The processes whose command line holds `mark`: exactly one argument equal
** to it (exact), else anywhere in it. Those are killed when kill_them is set,
** so that a failing test leaves nothing behind. Returns how many there are. */
static int marked(const char *mark, int exact, int kill_them)
{
    DIR *proc = opendir("/proc");
    int n = 0;
    for (struct dirent *d; proc && (d = readdir(proc));) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        int fd = open(path, O_RDONLY);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (len <= 0)
            continue; /* gone, or a zombie */
        buf[len] = '\0';
        int hit = 0;
        for (char *arg = buf; arg < buf + len; arg += strlen(arg) + 1)
            hit |= exact ? strcmp(arg, mark) == 0 : strstr(arg, mark) != NULL;
        if (hit) {
            n++;
            if (kill_them)
                kill((pid_t)pid, SIGKILL);
        }
    }
    if (proc)
        closedir(proc);
    return n;
}

typedef struct leftovers {
    char session[64], group[64]; /* the marks of the setsid'd one and the daemon */
    char dir[600];               /* the task's OUT_DIR: the test creates "go" there */
} leftovers;

/* A job that starts a `setsid` sleep and a double-forked daemon, then waits
** for OUT_DIR/go and exits 0 (or, told to, sleeps on until stopped). */
static cJSON *leftover_job(leftovers *l, int test_case, const char *dir, int exit_when_told)
{
    snprintf(l->session, sizeof l->session, "300.%d%d1", (int)getpid(), test_case);
    snprintf(l->group, sizeof l->group, "300.%d%d2", (int)getpid(), test_case);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    char script[8192];
    snprintf(script, sizeof script,
             "setsid sh -c 'exec sleep %s' </dev/null >/dev/null 2>&1 &\n"
             "'%s' --daemon %s\n"
             "%s",
             l->session, self_path, l->group,
             exit_when_told ? "while [ ! -e \"$OUT_DIR/go\" ]; do sleep 0.05; done; exit 0" : "sleep 60");
    return sh_job(script, dir, 0);
}

/* Whether both leftovers run (waiting up to 20 s for them to start). */
static int leftovers_run(const leftovers *l)
{
    for (int i = 0; i < 2000; i++) {
        if (marked(l->session, 1, 0) == 1 && marked(l->group, 1, 0) == 1)
            return 1;
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    return 0;
}

/* How many processes of the task remain (and kills them). */
static int leftovers_remaining(const leftovers *l)
{
    return marked(l->session, 0, 1) + marked(l->group, 0, 1);
}

static void tell_the_task_to_exit(const leftovers *l)
{
    char path[700];
    snprintf(path, sizeof path, "%s/go", l->dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
}

/* The task exits 0 with its leftovers running: it succeeds, and they are gone. */
static void leftovers_go_when_the_task_exits(int test_case, const char *dir)
{
    char job[32];
    snprintf(job, sizeof job, "leftovers-%d", test_case);
    leftovers l;
    CHECK_INT(create_job(job, leftover_job(&l, test_case, dir, 1)), 200);
    cJSON *op = run_job(job, NULL, NULL);
    CHECK(leftovers_run(&l));
    tell_the_task_to_exit(&l);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "succeededCount"), 1);
    CHECK_INT(leftovers_remaining(&l), 0);
    cJSON_Delete(e);
    cJSON_Delete(op);
}

TEST(what_a_task_started_in_a_new_session_or_group_ends_when_its_main_process_exits)
{
    char *dir = new_dir("tree-exit");
    leftovers_go_when_the_task_exits(1, dir);
    free(dir);
}

TEST(what_a_task_started_in_a_new_session_or_group_ends_when_the_task_times_out)
{
    char *dir = new_dir("tree-timeout");
    leftovers l;
    CHECK_INT(create_job("leftovers-timeout", leftover_job(&l, 2, dir, 0)), 200);
    cJSON *op = run_job("leftovers-timeout", "{\"overrides\":{\"timeout\":\"4s\"}}", NULL);
    CHECK(leftovers_run(&l));
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    cJSON *tasks = get_json("/v2/%s/tasks", str(op, "metadata.name"));
    CHECK_INT(num(tasks, "tasks.0.lastAttemptResult.termSignal"), 15); /* the main process had SIGTERM, as before */
    CHECK_INT(leftovers_remaining(&l), 0);
    cJSON_Delete(tasks);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

TEST(what_a_task_started_in_a_new_session_or_group_ends_when_the_execution_is_cancelled)
{
    char *dir = new_dir("tree-cancel");
    leftovers l;
    CHECK_INT(create_job("leftovers-cancel", leftover_job(&l, 3, dir, 0)), 200);
    cJSON *op = run_job("leftovers-cancel", NULL, NULL);
    const char *name = str(op, "metadata.name");
    CHECK(leftovers_run(&l));
    char path[512];
    snprintf(path, sizeof path, "/v2/%s:cancel", name);
    resp r = http("POST", path, "{}");
    CHECK_INT(r.status, 200);
    resp_free(&r);
    cJSON *e = wait_execution(name);
    CHECK_INT(num(e, "cancelledCount"), 1);
    CHECK_INT(leftovers_remaining(&l), 0);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

/* A second emulator, started with kit_wrapper and extra options, stands in
** for the shared one while fn runs (the kit's helpers talk to main_emu). */
static int with_emulator(const char *const *extra, void (*fn)(const char *dir), const char *dir, emulator *out)
{
    emulator shared = main_emu, other;
    if (emulator_start(&other, extra, NULL, NULL) < 0)
        return -1;
    main_emu = other;
    fn(dir);
    main_emu = shared;
    if (out)
        *out = other;
    return 0;
}

static void exit_case(const char *dir)
{
    leftovers_go_when_the_task_exits(4, dir);
}

TEST(the_same_holds_when_the_emulator_runs_as_an_unprivileged_user)
{
    if (geteuid() != 0) {
        /* every case above already ran unprivileged */
        printf("# already unprivileged (uid %d)\n", (int)geteuid());
        return;
    }
    if (access("/usr/bin/setpriv", X_OK) != 0) {
        printf("# skipped: no /usr/bin/setpriv to drop privileges with\n");
        return;
    }
    /* nobody must reach the emulator binary: a build under a private (0700) directory it cannot */
    if (system("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups test -x " EMULATOR_BIN) != 0) {
        printf("# skipped: nobody cannot reach %s (a build under a private directory)\n", EMULATOR_BIN);
        return;
    }
    /* nobody's own log directory and OUT_DIR, in a directory it may write */
    char dir[] = "/tmp/cr-emu-nobody-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    chmod(dir, 0777);
    char logs[64];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    const char *wrapper[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL};
    memcpy(kit_wrapper, wrapper, sizeof wrapper);
    const char *extra[] = {"--log-dir", logs, NULL};
    emulator nobody = {0};
    CHECK_INT(with_emulator(extra, exit_case, dir, &nobody), 0);
    kit_wrapper[0] = NULL;
    /* the emulator really ran as nobody */
    char status_path[64];
    snprintf(status_path, sizeof status_path, "/proc/%d/status", (int)nobody.pid);
    char *status = read_text(status_path);
    CHECK(matches(status, "Uid:[[:space:]]+65534[[:space:]]"));
    free(status);
    if (nobody.pid > 0)
        CHECK_INT(emulator_stop(&nobody), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

static void killed_case(const char *dir)
{
    leftovers l;
    CHECK_INT(create_job("leftovers-orphaned", leftover_job(&l, 5, dir, 0)), 200);
    cJSON *op = run_job("leftovers-orphaned", NULL, NULL);
    CHECK(leftovers_run(&l));
    cJSON_Delete(op);
    /* the emulator dies without a word: its tasks and their leftovers go with it */
    kill(main_emu.pid, SIGKILL);
    waitpid(main_emu.pid, NULL, 0);
    int remaining = -1;
    for (int i = 0; i < 500 && remaining != 0; i++) {
        remaining = marked(l.session, 0, 0) + marked(l.group, 0, 0);
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    CHECK_INT(remaining, 0);
    leftovers_remaining(&l);
}

TEST(a_tasks_processes_end_when_the_emulator_itself_is_killed)
{
    char *dir = new_dir("tree-killed");
    CHECK_INT(with_emulator(NULL, killed_case, dir, NULL), 0);
    free(dir);
}

/* The supervisor spawns the main process after the runner has moved on: an
** exec that fails there still fails the attempt with 126, said in the log. */
TEST(an_executable_that_cannot_be_executed_fails_the_task_with_exit_code_126_and_says_why_in_its_log)
{
    char *dir = new_dir("not-a-program");
    char prog[700];
    snprintf(prog, sizeof prog, "%s/garbage", dir);
    FILE *f = fopen(prog, "w");
    if (f) {
        fputs("\x01\x02 not a program, no #! line\n", f);
        fclose(f);
    }
    chmod(prog, 0755);
    cJSON *job = sh_job("true", dir, 0);
    cJSON *c = (cJSON *)get(job, "template.template.containers.0");
    cJSON_ReplaceItemInObject(c, "command", cJSON_CreateStringArray((const char *[]){prog}, 1));
    CHECK_INT(create_job("not-a-program", job), 200);
    cJSON *op = run_job("not-a-program", NULL, NULL);
    cJSON *e = wait_execution(str(op, "metadata.name"));
    CHECK_INT(num(e, "failedCount"), 1);
    const char *vg = getenv("CR_EMULATOR_VALGRIND");
    if (!vg || !*vg) { /* under valgrind posix_spawn cannot tell an exec's failure: the child exits 127 */
        cJSON *tasks = get_json("/v2/%s/tasks", str(op, "metadata.name"));
        CHECK_INT(num(tasks, "tasks.0.lastAttemptResult.exitCode"), 126);
        const char *uri = str(e, "logUri");
        char log[1024];
        snprintf(log, sizeof log, "%s/task0.log", uri && strncmp(uri, "file://", 7) == 0 ? uri + 7 : "");
        char *text = read_text(log);
        CHECK_CONTAINS(text, "could not be started: Exec format error");
        free(text);
        cJSON_Delete(tasks);
    }
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--daemon") == 0)
        return daemon_main(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return 1;
    self_path[n] = '\0';
    return kit_main(NULL);
}
