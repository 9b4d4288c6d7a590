/*
** test_fields.c — issue 21: every field a Job can carry has a stated fate.
** The table of fates (src/emulator/fields.c) walked against schema.c's
** messages, so that no field the emulator accepts is left without a row, and
** against README.md's table, which must be the same rows; RunJob's refusals
** on their own; and over HTTP, a refused field taken by CreateJob and
** refused by RunJob, recorded fields shown and run, and jobs with sidecars.
** TEST_FIELDS_PRINT=1 prints the README's rows as the table has them.
*/
#include "emukit.h"

#include "fields.h"
#include "schema.h"

/* ---- the table against the schema ---------------------------------------------------------- */

#define MAX_PATHS 512

/* Every field path schema.c's Job leads to (below a row that answers for its
** whole subtree, nothing), and whether each is a map. */
static char *reached[MAX_PATHS];
static int reached_map[MAX_PATHS];
static int nreached;

static void reach(const emu_message *msg, const char *prefix, int depth)
{
    emu_schema_field f;
    for (int i = 0; emu_schema_field_at(msg, i, &f); i++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", f.name);
        if (nreached < MAX_PATHS) {
            reached_map[nreached] = f.map;
            reached[nreached++] = strdup(path);
        }
        const emu_field_fate *row = emu_field_fate_find(path);
        if (f.message && depth < 12 && !(row && row->whole)) {
            if (f.repeated)
                strncat(path, "[]", sizeof path - strlen(path) - 1);
            reach(f.message, path, depth + 1);
        }
    }
}

static void reach_all(void)
{
    if (!nreached)
        reach(&emu_msg_job, "", 0);
}

static int reached_index(const char *path)
{
    for (int i = 0; i < nreached; i++)
        if (strcmp(reached[i], path) == 0)
            return i;
    return -1;
}

TEST(every_field_a_job_can_carry_has_a_row_in_the_table_of_fates)
{
    reach_all();
    CHECK(nreached > 100 && nreached < MAX_PATHS);
    for (int i = 0; i < nreached; i++)
        if (!emu_field_fate_find(reached[i])) {
            fprintf(stderr, "  no fate for %s: add a row to src/emulator/fields.c and README.md\n", reached[i]);
            CHECK(emu_field_fate_find(reached[i]) != NULL);
        }
}

TEST(every_row_of_the_table_is_a_field_or_a_map_key_once_with_a_reason_and_a_code_when_refused)
{
    reach_all();
    int honoured = 0, recorded = 0, refused = 0;
    for (const emu_field_fate *f = emu_field_fates; f->path; f++) {
        const char *bracket = strrchr(f->path, '[');
        int is_key = bracket && bracket[1] != ']';
        if (is_key) { /* limits[cpu]: a key of a map the schema has */
            char map[256];
            snprintf(map, sizeof map, "%.*s", (int)(bracket - f->path), f->path);
            int k = reached_index(map);
            if (k < 0 || !reached_map[k])
                fprintf(stderr, "  %s: %s is not a map of the schema\n", f->path, map);
            CHECK(k >= 0 && reached_map[k]);
        } else if (reached_index(f->path) < 0) {
            fprintf(stderr, "  %s: a row for no field of the schema\n", f->path);
            CHECK(reached_index(f->path) >= 0);
        }
        for (const emu_field_fate *g = emu_field_fates; g != f; g++)
            if (strcmp(g->path, f->path) == 0) {
                fprintf(stderr, "  %s: two rows\n", f->path);
                CHECK(strcmp(g->path, f->path) != 0);
            }
        CHECK(f->why && f->why[0] && !strchr(f->why, '|') && !strchr(f->why, '\n'));
        if (f->fate == EMU_REFUSED)
            CHECK(f->code && (strcmp(f->code, "UNIMPLEMENTED") == 0 || strcmp(f->code, "FAILED_PRECONDITION") == 0));
        else
            CHECK(f->code == NULL);
        honoured += f->fate == EMU_HONOURED;
        recorded += f->fate == EMU_RECORDED;
        refused += f->fate == EMU_REFUSED;
    }
    CHECK(honoured > 0 && recorded > 0 && refused > 0);
    printf("# %d honoured, %d recorded, %d refused\n", honoured, recorded, refused);
}

/* ---- the table against the README ----------------------------------------------------------- */

/* Where the README's table of fields begins and ends (lines that start so). */
#define FIELDS_BEGIN "<!-- the fields' fates:"
#define FIELDS_END "<!-- end of the fields' fates -->"

/* A row as the README writes it. */
static void render(const emu_field_fate *f, char *buf, size_t size)
{
    char fate[64];
    if (f->fate == EMU_REFUSED)
        snprintf(fate, sizeof fate, "refused (%s)", f->code);
    else
        snprintf(fate, sizeof fate, "%s", emu_fate_name(f->fate));
    snprintf(buf, size, "| `%s` | %s | %s |", f->path, fate, f->why);
}

TEST(the_readme_lists_exactly_the_table_s_fields_in_its_order_with_their_fates)
{
    if (getenv("TEST_FIELDS_PRINT"))
        for (const emu_field_fate *f = emu_field_fates; f->path; f++) {
            char line[1024];
            render(f, line, sizeof line);
            printf("%s\n", line);
        }
    FILE *in = fopen(CR_SOURCE_DIR "/README.md", "r");
    CHECK(in != NULL);
    if (!in)
        return;
    const emu_field_fate *next = emu_field_fates;
    char line[2048];
    int rows = 0, inside = 0, marks = 0;
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, FIELDS_BEGIN, strlen(FIELDS_BEGIN)) == 0 || strcmp(line, FIELDS_END) == 0) {
            inside = !inside;
            marks++;
            continue;
        }
        if (!inside || strncmp(line, "| `", 3) != 0) /* the table's rows: a field in backquotes first */
            continue;
        char want[1024];
        if (!next->path) {
            fprintf(stderr, "  README.md has a row the table has not: %s\n", line);
            CHECK(next->path != NULL);
            break;
        }
        render(next, want, sizeof want);
        if (strcmp(line, want) != 0) {
            fprintf(stderr,
                    "  README.md's row %d:\n    %s\n  the table's (TEST_FIELDS_PRINT=1 prints them all):\n    %s\n",
                    rows + 1, line, want);
            CHECK_STR(line, want);
            break;
        }
        next++;
        rows++;
    }
    fclose(in);
    CHECK_INT(marks, 2);
    if (next->path)
        fprintf(stderr, "  README.md lacks the rows from %s on\n", next->path);
    CHECK(next->path == NULL);
}

/* ---- RunJob's refusal on its own ------------------------------------------------------------- */

/* The refusal for a job whose one container is `container` (JSON members) and whose task template has `extra`. */
static int refusal_of(const char *container, const char *extra, emu_error *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"labels\":{\"team\":\"a\"},\"template\":{\"taskCount\":1,\"template\":{%s\"containers\":[{\"image\":"
             "\"i\",\"command\":[\"true\"]%s%s}]}}}",
             extra, container[0] ? "," : "", container);
    cJSON *spec = cJSON_Parse(text);
    CHECK(spec != NULL);
    memset(err, 0, sizeof *err);
    int rc = emu_fields_refusal(spec, get(spec, "template.template"), err);
    cJSON_Delete(spec);
    return rc;
}

TEST(a_refused_field_names_its_path_and_what_is_needed_with_its_code)
{
    static const struct {
        const char *container, *code, *says;
    } cases[] = {
        {"\"startupProbe\":{\"tcpSocket\":{\"port\":8080}}", "UNIMPLEMENTED",
         "template.template.containers[0].startupProbe: startup probes are not emulated"},
        {"\"livenessProbe\":{\"httpGet\":{\"path\":\"/\"}}", "UNIMPLEMENTED",
         "template.template.containers[0].livenessProbe: "},
        {"\"readinessProbe\":{\"periodSeconds\":3}", "UNIMPLEMENTED", "template.template.containers[0].readinessProbe"},
        {"\"dependsOn\":[\"db\"]", "UNIMPLEMENTED", "template.template.containers[0].dependsOn: "},
        {"\"sourceCode\":{\"cloudStorageSource\":{\"bucket\":\"b\",\"object\":\"o\"}}", "UNIMPLEMENTED",
         "template.template.containers[0].sourceCode: running source from Cloud Storage is not emulated"},
        {"\"baseImageUri\":\"us-central1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22\"",
         "FAILED_PRECONDITION", "template.template.containers[0].baseImageUri: "},
        {"\"resources\":{\"limits\":{\"cpu\":\"1\",\"ephemeral-storage\":\"1Gi\"}}", "FAILED_PRECONDITION",
         "template.template.containers[0].resources.limits[ephemeral-storage]: Cloud Run takes only the limits cpu, "
         "memory and nvidia.com/gpu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        emu_error err;
        CHECK_INT(refusal_of(cases[i].container, "", &err), -1);
        CHECK_STR(err.code, cases[i].code);
        CHECK_CONTAINS(err.message, cases[i].says);
    }
}

TEST(recorded_and_honoured_fields_are_no_refusal)
{
    emu_error err;
    CHECK_INT(
        refusal_of("\"name\":\"main\",\"ports\":[{\"containerPort\":8080}],\"resources\":{\"limits\":{\"cpu\":"
                   "\"1\",\"memory\":\"512Mi\",\"nvidia.com/gpu\":\"1\"},\"cpuIdle\":true},\"buildInfo\":{"
                   "\"functionTarget\":\"f\"},\"env\":[{\"name\":\"A\",\"value\":\"a\"}],\"workingDir\":\"/\"",
                   "\"serviceAccount\":\"sa@p.iam.gserviceaccount.com\",\"vpcAccess\":{\"connector\":\"c\","
                   "\"networkInterfaces\":[{\"network\":\"n\"}]},\"nodeSelector\":{\"accelerator\":\"nvidia-l4\"},"
                   "\"gpuZonalRedundancyDisabled\":true,\"encryptionKey\":\"k\",\"volumes\":[{\"name\":\"v\","
                   "\"gcs\":{\"bucket\":\"b\",\"mountOptions\":[\"implicit-dirs\"]}}],",
                   &err),
        0);
    CHECK_INT(err.status, 0);
}

TEST(a_task_template_with_two_containers_is_refused_as_unimplemented_before_its_fields)
{
    cJSON *spec = cJSON_Parse("{\"template\":{\"template\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\","
                              "\"startupProbe\":{}},{\"name\":\"b\",\"image\":\"i\",\"dependsOn\":[\"a\"]}]}}}");
    emu_error err = {0};
    CHECK_INT(emu_fields_refusal(spec, get(spec, "template.template"), &err), -1);
    CHECK_STR(err.code, "UNIMPLEMENTED");
    CHECK_CONTAINS(err.message, "2 containers");
    CHECK_CONTAINS(err.message, "multi-container executions are not emulated yet");
    cJSON_Delete(spec);
}

TEST(what_runs_is_the_task_template_given_not_the_job_s_own)
{
    cJSON *spec =
        cJSON_Parse("{\"template\":{\"template\":{\"containers\":[{\"image\":\"i\",\"dependsOn\":[\"x\"]}]}}}");
    cJSON *tt = cJSON_Parse("{\"containers\":[{\"image\":\"i\"}]}");
    emu_error err = {0};
    CHECK_INT(emu_fields_refusal(spec, tt, &err), 0);
    cJSON_Delete(tt);
    tt = cJSON_Parse("{\"containers\":[{\"image\":\"i\",\"baseImageUri\":\"b\"}]}");
    CHECK_INT(emu_fields_refusal(spec, tt, &err), -1);
    CHECK_CONTAINS(err.message, "template.template.containers[0].baseImageUri");
    cJSON_Delete(tt);
    cJSON_Delete(spec);
}

/* ---- over HTTP ------------------------------------------------------------------------------ */

/* CreateJob of a JSON text; the HTTP status. */
static long create_text(const char *id, const char *text)
{
    return create_job(id, cJSON_Parse(text));
}

static resp run_text(const char *id, const char *body)
{
    char path[256];
    snprintf(path, sizeof path, PARENT "/jobs/%s:run", id);
    return http("POST", path, body ? body : "{}");
}

TEST(createjob_takes_a_refused_field_and_runjob_refuses_it_naming_the_field_starting_nothing)
{
    CHECK_INT(create_text("probed", "{\"template\":{\"template\":{\"containers\":[{\"image\":\"i\",\"command\":["
                                    "\"true\"],\"startupProbe\":{\"tcpSocket\":{\"port\":8080},\"periodSeconds\":2}}]"
                                    "}}}"),
              200);
    cJSON *job = get_json(PARENT "/jobs/probed");
    CHECK_INT(num(job, "template.template.containers.0.startupProbe.tcpSocket.port"), 8080);
    cJSON_Delete(job);
    for (int validate = 0; validate < 2; validate++) {
        resp r = run_text("probed", validate ? "{\"validateOnly\":true}" : "{}");
        CHECK_INT(r.status, 501);
        CHECK_STR(str(r.json, "error.status"), "UNIMPLEMENTED");
        CHECK_CONTAINS(str(r.json, "error.message"), "template.template.containers[0].startupProbe");
        CHECK_CONTAINS(str(r.json, "error.message"), "remove startupProbe");
        resp_free(&r);
    }
    CHECK_INT(execution_count("probed"), 0);

    /* UpdateJob takes one too; RunJob names it */
    resp u = http("PATCH", PARENT "/jobs/probed",
                  "{\"template\":{\"template\":{\"containers\":[{\"image\":\"i\",\"command\":[\"true\"],"
                  "\"resources\":{\"limits\":{\"memory\":\"1Gi\",\"ephemeral-storage\":\"1Gi\"}}}]}}}");
    CHECK_INT(u.status, 200);
    resp_free(&u);
    resp r = run_text("probed", NULL);
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "FAILED_PRECONDITION");
    CHECK_CONTAINS(str(r.json, "error.message"), "template.template.containers[0].resources.limits[ephemeral-storage]");
    resp_free(&r);
    CHECK_INT(execution_count("probed"), 0);
}

TEST(recorded_fields_are_in_getjob_s_answer_and_the_job_runs)
{
    char *dir = new_dir("recorded");
    cJSON *job = sh_job("echo ran > \"$OUT_DIR/ran\"", dir, 0);
    cJSON *tt = (cJSON *)get(job, "template.template");
    cJSON *c = (cJSON *)get(tt, "containers.0");
    cJSON_AddItemToObject(job, "client", cJSON_CreateString("terraform"));
    cJSON_AddItemToObject(job, "launchStage", cJSON_CreateString("BETA"));
    cJSON_AddItemToObject(job, "binaryAuthorization", cJSON_Parse("{\"useDefault\":true}"));
    cJSON_AddItemToObject(tt, "serviceAccount", cJSON_CreateString("runner@p.iam.gserviceaccount.com"));
    cJSON_AddItemToObject(tt, "vpcAccess", cJSON_Parse("{\"connector\":\"projects/p/locations/l/connectors/c\"}"));
    cJSON_AddItemToObject(tt, "nodeSelector", cJSON_Parse("{\"accelerator\":\"nvidia-l4\"}"));
    cJSON_AddItemToObject(tt, "encryptionKey", cJSON_CreateString("projects/p/locations/l/keyRings/r/cryptoKeys/k"));
    cJSON_AddItemToObject(tt, "gpuZonalRedundancyDisabled", cJSON_CreateTrue());
    cJSON_AddItemToObject(c, "ports", cJSON_Parse("[{\"containerPort\":8080}]"));
    cJSON_AddItemToObject(c, "resources",
                          cJSON_Parse("{\"limits\":{\"nvidia.com/gpu\":\"1\"},\"startupCpuBoost\":true}"));
    CHECK_INT(create_job("recorded", job), 200);

    cJSON *got = get_json(PARENT "/jobs/recorded");
    CHECK_STR(str(got, "client"), "terraform");
    CHECK_STR(str(got, "launchStage"), "BETA");
    CHECK(cJSON_IsTrue(get(got, "binaryAuthorization.useDefault")));
    CHECK_STR(str(got, "template.template.serviceAccount"), "runner@p.iam.gserviceaccount.com");
    CHECK_STR(str(got, "template.template.vpcAccess.connector"), "projects/p/locations/l/connectors/c");
    CHECK_STR(str(got, "template.template.nodeSelector.accelerator"), "nvidia-l4");
    CHECK(cJSON_IsTrue(get(got, "template.template.gpuZonalRedundancyDisabled")));
    CHECK_INT(num(got, "template.template.containers.0.ports.0.containerPort"), 8080);
    const cJSON *limits = get(got, "template.template.containers.0.resources.limits");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(limits, "nvidia.com/gpu")), "1");
    cJSON_Delete(got);

    long status;
    cJSON *op = run_job("recorded", NULL, &status);
    CHECK_INT(status, 200);
    const char *name = str(op, "metadata.name");
    CHECK_STR(str(op, "metadata.template.vpcAccess.connector"), "projects/p/locations/l/connectors/c");
    cJSON *e = name ? wait_execution(name) : NULL;
    CHECK_INT(num(e, "succeededCount"), 1);
    char path[600];
    snprintf(path, sizeof path, "%s/ran", dir);
    char *ran = read_text(path);
    CHECK_STR(ran, "ran\n");
    free(ran);
    cJSON_Delete(e);
    cJSON_Delete(op);
    free(dir);
}

#define SIDECARS                                                                                                       \
    "{\"template\":{\"template\":{\"containers\":[{\"name\":\"main\",\"image\":\"i\",\"command\":[\"true\"]},"         \
    "{\"name\":\"proxy\",\"image\":\"i\",\"command\":[\"sleep\",\"600\"]}]}}}"

TEST(a_job_with_sidecars_is_taken_by_create_and_update_and_refused_by_runjob_as_unimplemented)
{
    CHECK_INT(create_text("sidecars", SIDECARS), 200);
    resp u = http("PATCH", PARENT "/jobs/sidecars", SIDECARS);
    CHECK_INT(u.status, 200);
    resp_free(&u);
    static const char *const bodies[] = {
        "{}",
        "{\"overrides\":{\"containerOverrides\":[{\"name\":\"main\",\"args\":[\"x\"]}]}}",
        "{\"overrides\":{\"containerOverrides\":[{\"name\":\"proxy\",\"env\":[{\"name\":\"A\",\"value\":\"b\"}]}]}}",
        "{\"validateOnly\":true}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        resp r = run_text("sidecars", bodies[i]);
        CHECK_INT(r.status, 501);
        CHECK_STR(str(r.json, "error.status"), "UNIMPLEMENTED");
        CHECK_CONTAINS(str(r.json, "error.message"), "2 containers");
        CHECK_CONTAINS(str(r.json, "error.message"), "multi-container executions are not emulated");
        resp_free(&r);
    }
    CHECK_INT(execution_count("sidecars"), 0);
}

TEST(a_sidecar_job_s_override_naming_a_missing_container_is_invalid_argument_naming_it_first)
{
    CHECK_INT(create_text("sidecars-bad", SIDECARS), 200);
    resp r =
        run_text("sidecars-bad",
                 "{\"overrides\":{\"containerOverrides\":[{\"name\":\"main\"},{\"name\":\"nope\",\"args\":[\"x\"]}]}}");
    CHECK_INT(r.status, 400);
    CHECK_STR(str(r.json, "error.status"), "INVALID_ARGUMENT");
    CHECK_CONTAINS(str(r.json, "error.message"), "container 'nope' does not exist");
    CHECK_STR(str(r.json, "error.details.0.fieldViolations.0.field"), "overrides.container_overrides[1].name");
    resp_free(&r);
    CHECK_INT(execution_count("sidecars-bad"), 0);
}

int main(void)
{
    return kit_main(NULL);
}
