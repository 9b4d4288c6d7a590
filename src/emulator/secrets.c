/*
** secrets.c — the --secrets file read into one table: JSON through the strict
** scanner and cJSON, YAML through libyaml's events, both into the same few
** builders. Every key and value lives in one buffer that is wiped when it grows
** or is freed; secrets are sorted by key for lookups, a secret's versions by
** number. Every problem is the user's to fix, so it names the file and the key,
** and never quotes a value.
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"
#include "secrets.h"
#include "utf8.h"
#include "util/util.h"
#include "util/yaml_lib.h"

#define NAME_MAX_LEN 255    /* Secret Manager's limit on a secret's id */
#define PROJECT_MAX_LEN 255 /* an id, a number, or a domain-scoped example.com:id */
#define PREFIX "projects/"
#define INFIX "/secrets/"
#define SHOWN 256 /* room for a key that is not a name, as shown in a message */

typedef struct secret {
    size_t key_at;       /* the key as written, in text */
    const char *key;     /* text.data + key_at, set once text has stopped growing */
    size_t first, count; /* its versions: versions[first .. first + count) */
} secret;

typedef struct secret_version {
    uint64_t number;
    size_t value_at; /* in text */
} secret_version;

struct emu_secrets {
    cr_buf text; /* every key and value, each NUL-terminated; cr_buf wipes what it lets go */
    secret *secrets;
    size_t nsecrets, secrets_cap;
    secret_version *versions;
    size_t nversions, versions_cap;
};

/* One parse: the table being built, and where a message goes. */
typedef struct reader {
    emu_secrets *s;
    const char *origin;
    char *why;
    size_t why_size;
} reader;

/* ---- names and numbers (shared by the readers and lookups) ---------------------------- */

/* 1 to max bytes, each an ASCII letter or digit or one of `extra`. */
static int word_ok(const char *s, size_t n, size_t max, const char *extra)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

static int name_ok(const char *s, size_t n)
{
    return word_ok(s, n, NAME_MAX_LEN, "-_");
}

static int project_ok(const char *s, size_t n)
{
    return word_ok(s, n, PROJECT_MAX_LEN, "-.:");
}

/* A key or a reference, NAME or projects/P/secrets/NAME, split: 0 with *project
** (NULL for NAME) and *name pointing into s, or -1 when it is neither. */
static int split_ref(const char *s, size_t n, const char **project, size_t *plen, const char **name, size_t *nlen)
{
    size_t pre = strlen(PREFIX), in = strlen(INFIX);
    *project = NULL;
    *plen = 0;
    *name = s;
    *nlen = n;
    if (n >= pre && memcmp(s, PREFIX, pre) == 0) {
        const char *p = s + pre, *slash = memchr(p, '/', n - pre);
        if (!slash || (size_t)(s + n - slash) < in || memcmp(slash, INFIX, in) != 0)
            return -1;
        *project = p;
        *plen = (size_t)(slash - p);
        *name = slash + in;
        *nlen = (size_t)(s + n - *name);
        if (!project_ok(*project, *plen))
            return -1;
    }
    return name_ok(*name, *nlen) ? 0 : -1;
}

/* A positive decimal number ("1", "12", "007"): 0, -1 when it is not one, -2 when over INT64_MAX. */
static int parse_version(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    int over = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        over |= v > ((uint64_t)INT64_MAX - d) / 10;
        v = over ? v : v * 10 + d;
    }
    if (v == 0)
        return -1;
    if (over)
        return -2;
    *out = v;
    return 0;
}

/* ---- the builders --------------------------------------------------------------------- */

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "ORIGIN: " and the message to why; always -1. */
static int fail(reader *r, const char *fmt, ...)
{
    if (!r->why_size)
        return -1;
    int n = snprintf(r->why, r->why_size, "%s: ", r->origin);
    size_t used = n < 0 ? 0 : (size_t)n < r->why_size ? (size_t)n : r->why_size - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why + used, r->why_size - used, fmt, ap);
    va_end(ap);
    return -1;
}

/* Up to 60 bytes of a key that was refused, as safe text (control and invalid
** bytes as \xNN), "..." when cut. Keys are names, never values: they may be shown. */
static const char *shown(char buf[SHOWN], const char *s, size_t n)
{
    size_t cut = n > 60 ? 60 : n;
    emu_utf8_escape(buf, SHOWN, s, cut);
    if (cut < n)
        memcpy(buf + strlen(buf), "...", 4);
    return buf;
}

/* The key of the secret being read. */
static const char *current(const reader *r)
{
    return r->s->text.data + r->s->secrets[r->s->nsecrets - 1].key_at;
}

/* Room for one more of n items of `size` bytes in items (*cap of them): the
** array (moved perhaps), or NULL out of memory (items unchanged). */
static void *room(void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t c = *cap ? *cap * 2 : 16;
    void *m = realloc(items, c * size);
    if (m)
        *cap = c;
    return m;
}

/* Copies n bytes and a NUL into the table's text: the offset, or (size_t)-1 out of memory. */
static size_t keep(emu_secrets *s, const char *bytes, size_t n)
{
    size_t at = s->text.len;
    cr_buf_append(&s->text, bytes, n);
    cr_buf_append(&s->text, "", 1);
    return s->text.failed ? (size_t)-1 : at;
}

/* A key was read: a new secret, with no versions yet. */
static int add_secret(reader *r, const char *key, size_t n)
{
    char buf[SHOWN];
    const char *project, *name;
    size_t plen, nlen;
    if (memchr(key, '\0', n))
        return fail(r, "secret '%s': a NUL byte in a secret's name", shown(buf, key, n));
    if (split_ref(key, n, &project, &plen, &name, &nlen) < 0)
        return fail(r,
                    "secret '%s': not a secret name (NAME or projects/PROJECT/secrets/NAME, NAME being 1 to 255 "
                    "letters, digits, '-' or '_')",
                    shown(buf, key, n));
    emu_secrets *s = r->s;
    secret *m = room(s->secrets, &s->secrets_cap, s->nsecrets, sizeof *m);
    if (!m)
        return fail(r, "out of memory");
    s->secrets = m;
    size_t at = keep(s, key, n);
    if (at == (size_t)-1)
        return fail(r, "out of memory");
    s->secrets[s->nsecrets++] = (secret){at, NULL, s->nversions, 0};
    return 0;
}

/* A version's key was read: 0 with *number, or -1 with the message. */
static int version_key(reader *r, const char *key, size_t n, uint64_t *number)
{
    char buf[SHOWN];
    int rc = parse_version(key, n, number);
    if (rc == -2)
        return fail(r, "secret '%s': version '%s' is larger than %lld", current(r), shown(buf, key, n),
                    (long long)INT64_MAX);
    if (rc < 0)
        return fail(r, "secret '%s': version '%s' is not a positive whole number", current(r), shown(buf, key, n));
    return 0;
}

/* A value of the secret being read: its version `number`, or its only value (plain: version 1). */
static int add_version(reader *r, uint64_t number, int plain, const char *value, size_t n)
{
    if (memchr(value, '\0', n)) {
        if (plain)
            return fail(r, "secret '%s': a NUL byte in the value", current(r));
        return fail(r, "secret '%s': a NUL byte in version %llu", current(r), (unsigned long long)number);
    }
    emu_secrets *s = r->s;
    secret_version *m = room(s->versions, &s->versions_cap, s->nversions, sizeof *m);
    if (!m)
        return fail(r, "out of memory");
    s->versions = m;
    size_t at = keep(s, value, n);
    if (at == (size_t)-1)
        return fail(r, "out of memory");
    s->versions[s->nversions++] = (secret_version){number, at};
    s->secrets[s->nsecrets - 1].count++;
    return 0;
}

/* A value of the wrong kind ("a list", "a number", ...) for the secret (version 0) or one of its versions. */
static int wrong_kind(reader *r, uint64_t number, const char *kind)
{
    if (!number)
        return fail(r, "secret '%s': %s; a secret is a string or a map {VERSION: string}", current(r), kind);
    return fail(r, "secret '%s': version %llu: %s; a version is a string", current(r), (unsigned long long)number,
                kind);
}

static int by_number(const void *a, const void *b)
{
    uint64_t x = ((const secret_version *)a)->number, y = ((const secret_version *)b)->number;
    return x < y ? -1 : x > y;
}

/* The secret being read is complete: it has versions, each once, now sorted. */
static int finish_secret(reader *r)
{
    const secret *sec = &r->s->secrets[r->s->nsecrets - 1];
    if (!sec->count) /* versions may still be NULL */
        return fail(r, "secret '%s': no versions; give a string or a map {VERSION: string}", current(r));
    secret_version *v = r->s->versions + sec->first;
    qsort(v, sec->count, sizeof *v, by_number);
    for (size_t i = 1; i < sec->count; i++)
        if (v[i].number == v[i - 1].number)
            return fail(r, "secret '%s': version %llu is given twice", current(r), (unsigned long long)v[i].number);
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const secret *)a)->key, ((const secret *)b)->key);
}

/* Every secret is read: sorted by key, each key once. */
static int finish_table(reader *r)
{
    emu_secrets *s = r->s;
    for (size_t i = 0; i < s->nsecrets; i++)
        s->secrets[i].key = s->text.data + s->secrets[i].key_at;
    if (s->nsecrets)
        qsort(s->secrets, s->nsecrets, sizeof *s->secrets, by_key);
    for (size_t i = 1; i < s->nsecrets; i++)
        if (strcmp(s->secrets[i].key, s->secrets[i - 1].key) == 0)
            return fail(r, "secret '%s' is given twice", s->secrets[i].key);
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------- */

static int line_of(const char *text, size_t at)
{
    int line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

/* What a JSON value is, for a message that must not quote it. */
static const char *json_kind(const cJSON *j)
{
    return cJSON_IsArray(j)    ? "a list"
           : cJSON_IsObject(j) ? "a map"
           : cJSON_IsNumber(j) ? "a number (quote it)"
           : cJSON_IsBool(j)   ? "true or false (quote it)"
           : cJSON_IsNull(j)   ? "null"
                               : "not a string";
}

static int from_json(reader *r, const char *text, size_t len)
{
    const char *what = NULL;
    long at = emu_json_check(text, len, &what);
    if (at >= 0)
        return fail(r, "not valid JSON (line %d, byte %ld): %s (a file that starts with '{' is read as JSON)",
                    line_of(text, (size_t)at), at, what ? what : "an unexpected token");
    /* valid by now, and an object (it starts with '{'): cJSON fails only out of memory */
    cJSON *root = cr_json_parse(text, len, NULL);
    if (!root)
        return fail(r, "out of memory");
    int rc = 0;
    for (const cJSON *m = root->child; m && rc == 0; m = m->next) {
        rc = add_secret(r, m->string, strlen(m->string));
        if (rc == 0 && cJSON_IsString(m)) {
            rc = add_version(r, 1, 1, m->valuestring, strlen(m->valuestring));
        } else if (rc == 0 && cJSON_IsObject(m)) {
            for (const cJSON *v = m->child; v && rc == 0; v = v->next) {
                uint64_t number = 0;
                rc = version_key(r, v->string, strlen(v->string), &number);
                if (rc == 0)
                    rc = cJSON_IsString(v) ? add_version(r, number, 0, v->valuestring, strlen(v->valuestring))
                                           : wrong_kind(r, number, json_kind(v));
            }
        } else if (rc == 0) {
            rc = wrong_kind(r, 0, json_kind(m));
        }
        if (rc == 0)
            rc = finish_secret(r);
    }
    cr_json_delete_secret(root); /* its strings wiped */
    return rc;
}

/* ---- YAML ----------------------------------------------------------------------------- */

/* Where the YAML reader is: outside the map (depth 0), in it (1), in a secret's versions (2). */
typedef struct yaml_at {
    int depth;
    int have_secret;  /* depth 1: a key was read, its value is due */
    uint64_t version; /* depth 2: a version's key was read (non-zero), its value is due */
} yaml_at;

/* A list or a map where the reader is: only a secret's versions may be a map. */
static int yaml_collection(reader *r, yaml_at *y, int is_map)
{
    const char *kind = is_map ? "a map" : "a list";
    if (y->depth == 0)
        return fail(r, "%s; the file is a map of secrets ({} for none)", kind);
    if (y->depth == 1 && !y->have_secret)
        return fail(r, "a key that is %s; a key is a secret's name", kind);
    if (y->depth == 1 && is_map) { /* a secret's versions */
        y->depth = 2;
        y->version = 0;
        return 0;
    }
    if (y->depth == 1)
        return wrong_kind(r, 0, kind);
    if (!y->version)
        return fail(r, "secret '%s': a version's key that is %s; a version is a positive whole number", current(r),
                    kind);
    return wrong_kind(r, y->version, kind);
}

static int yaml_scalar(reader *r, yaml_at *y, const yaml_event_t *e)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    int rc;
    if (y->depth == 0) /* "---" alone is an empty plain scalar */
        return n == 0 && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
                   ? fail(r, "no secrets; write {} for none")
                   : fail(r, "a single value; the file is a map of secrets ({} for none)");
    if (y->depth == 1 && !y->have_secret) {
        rc = add_secret(r, v, n);
        y->have_secret = rc == 0;
    } else if (y->depth == 1) {
        rc = add_version(r, 1, 1, v, n);
        if (rc == 0)
            rc = finish_secret(r);
        y->have_secret = 0;
    } else if (!y->version) {
        rc = version_key(r, v, n, &y->version);
    } else {
        rc = add_version(r, y->version, 0, v, n);
        y->version = 0;
    }
    return rc;
}

static int yaml_event(reader *r, yaml_at *y, const yaml_event_t *e, int *documents)
{
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return fail(r, "more than one YAML document; the file is one map of secrets");
        return 0;
    case YAML_MAPPING_START_EVENT:
        if (y->depth == 0) {
            y->depth = 1;
            return 0;
        }
        return yaml_collection(r, y, 1);
    case YAML_MAPPING_END_EVENT:
        if (y->depth-- == 2) {
            y->have_secret = 0;
            return finish_secret(r);
        }
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        return yaml_collection(r, y, 0);
    case YAML_ALIAS_EVENT:
        if (y->have_secret || y->depth == 2)
            return fail(r, "secret '%s': an alias; aliases are not taken, write each value out", current(r));
        return fail(r, "an alias; aliases are not taken, write each value out");
    case YAML_SCALAR_EVENT:
        return yaml_scalar(r, y, e);
    default:
        return 0;
    }
}

static int from_yaml(reader *r, const char *text, size_t len)
{
    cr_error err = {0};
    if (!cr_yaml_load(NULL, &err)) {
        int rc = fail(r, "%s", err.message ? err.message : "libyaml could not be loaded");
        cr_error_clear(&err);
        return rc;
    }
    yaml_parser_t p;
    if (!CR_YAML->parser_initialize(&p))
        return fail(r, "out of memory");
    CR_YAML->parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_at y = {0, 0, 0};
    int rc = 0, documents = 0, done = 0;
    while (rc == 0 && !done) {
        yaml_event_t e;
        if (!CR_YAML->parser_parse(&p, &e)) {
            /* libyaml's problems are fixed texts: they quote nothing */
            if (!p.problem)
                rc = fail(r, "out of memory");
            else if (p.error == YAML_READER_ERROR) /* bytes that are not text: no line yet, an offset */
                rc = fail(r, "not valid YAML (byte %zu: %s)", p.problem_offset, p.problem);
            else
                rc = fail(r, "not valid YAML (line %zu: %s)", p.problem_mark.line + 1, p.problem);
            break;
        }
        done = e.type == YAML_STREAM_END_EVENT;
        rc = yaml_event(r, &y, &e, &documents);
        if (e.type == YAML_SCALAR_EVENT)
            cr_wipe(e.data.scalar.value, e.data.scalar.length);
        CR_YAML->event_delete(&e);
    }
    if (rc == 0 && documents == 0) /* only comments */
        rc = fail(r, "no secrets; write {} for none");
    /* libyaml frees unwiped what held the text: its buffers, and the tokens it read ahead */
    for (yaml_token_t *t = p.tokens.head; t && t != p.tokens.tail; t++)
        if (t->type == YAML_SCALAR_TOKEN)
            cr_wipe(t->data.scalar.value, t->data.scalar.length);
    if (p.raw_buffer.start)
        cr_wipe(p.raw_buffer.start, (size_t)(p.raw_buffer.end - p.raw_buffer.start));
    if (p.buffer.start)
        cr_wipe(p.buffer.start, (size_t)(p.buffer.end - p.buffer.start));
    CR_YAML->parser_delete(&p);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------ */

emu_secrets *emu_secrets_parse(const char *text, size_t len, const char *origin, char *why, size_t why_size)
{
    if (why_size)
        why[0] = '\0';
    reader r = {calloc(1, sizeof(emu_secrets)), origin ? origin : "--secrets", why, why_size};
    if (!r.s) {
        fail(&r, "out of memory");
        return NULL;
    }
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    int rc;
    if (nul)
        rc = fail(&r, "a NUL byte on line %d (byte %zu); the file must be text", line_of(text, (size_t)(nul - text)),
                  (size_t)(nul - text));
    else if (i == len)
        rc = fail(&r, "the file is empty; write {} for no secrets");
    else
        rc = text[i] == '{' ? from_json(&r, text, len) : from_yaml(&r, text, len);
    if (rc == 0)
        rc = finish_table(&r);
    if (rc < 0) {
        emu_secrets_free(r.s);
        return NULL;
    }
    return r.s;
}

emu_secrets *emu_secrets_load(const char *path, char *why, size_t why_size)
{
    /* the core's reader: a regular file only, refused at once when it is not, and at most the cap */
    cr_error err = CR_ERROR_INIT;
    size_t len = 0;
    char *text = cr_read_file_max(path, EMU_SECRETS_FILE_MAX, &len, "--secrets", &err);
    if (!text) {
        snprintf(why, why_size, "%s", err.message ? err.message : "--secrets: out of memory");
        cr_error_clear(&err);
        return NULL;
    }
    char *origin = cr_asprintf("--secrets %s", path);
    emu_secrets *s = NULL;
    if (!origin)
        snprintf(why, why_size, "--secrets %s: out of memory", path);
    else
        s = emu_secrets_parse(text, len, origin, why, why_size);
    free(origin);
    cr_wipe(text, len);
    free(text);
    return s;
}

void emu_secrets_free(emu_secrets *s)
{
    if (!s)
        return;
    cr_buf_free(&s->text);
    free(s->secrets);
    free(s->versions);
    free(s);
}

static int key_vs_secret(const void *key, const void *sec)
{
    return strcmp(key, ((const secret *)sec)->key);
}

static int number_vs_version(const void *number, const void *v)
{
    uint64_t x = *(const uint64_t *)number, y = ((const secret_version *)v)->number;
    return x < y ? -1 : x > y;
}

static const secret *find(const emu_secrets *s, const char *key)
{
    return s->nsecrets ? bsearch(key, s->secrets, s->nsecrets, sizeof *s->secrets, key_vs_secret) : NULL;
}

const char *emu_secrets_lookup(const emu_secrets *s, const char *project, const char *ref, const char *version)
{
    const char *p, *name;
    size_t plen, nlen;
    uint64_t number = 0;
    if (!s || !ref || split_ref(ref, strlen(ref), &p, &plen, &name, &nlen) < 0)
        return NULL;
    if (version && strcmp(version, "latest") != 0 && parse_version(version, strlen(version), &number) != 0)
        return NULL;
    if (!p && project) {
        p = project;
        plen = strlen(project);
    }
    const secret *sec = NULL;
    if (p && project_ok(p, plen)) { /* the key for that project first */
        char full[sizeof PREFIX + PROJECT_MAX_LEN + sizeof INFIX + NAME_MAX_LEN];
        snprintf(full, sizeof full, PREFIX "%.*s" INFIX "%s", (int)plen, p, name);
        sec = find(s, full);
    }
    if (!sec)
        sec = find(s, name); /* name ends ref: NUL-terminated */
    if (!sec)
        return NULL;
    const secret_version *v = s->versions + sec->first;
    if (number)
        v = bsearch(&number, v, sec->count, sizeof *v, number_vs_version);
    else
        v += sec->count - 1; /* latest */
    return v ? s->text.data + v->value_at : NULL;
}
