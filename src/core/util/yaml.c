/*
** yaml.c — YAML documents read with libyaml into JSON: a map of names to
** scalars (gcloud's --env-vars-file) as a JSON object of strings, where
** anything else — a list, a nested map, an alias, a second document, a NUL in
** a name or a value — is an error that names the file and the key; and any
** document of maps, lists and scalars (a policy file, YAML or JSON) as the
** JSON it stands for. Files are read by cr_read_file's rules (a regular file,
** at most CR_MAX_FILE).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "yaml_lib.h"

static void yaml_fail(cr_error *err, const char *origin, const yaml_parser_t *p, const char *what)
{
    if (p && p->problem)
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: not valid YAML (line %zu: %s)", origin, p->problem_mark.line + 1,
                     p->problem);
    else
        cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: %s", origin, what);
}

cJSON *cr_yaml_string_map(const char *text, size_t len, const char *origin, cr_error *err)
{
    if (!cr_yaml_load(origin, err))
        return NULL;
    yaml_parser_t p;
    if (!CR_YAML->parser_initialize(&p)) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", origin);
        return NULL;
    }
    CR_YAML->parser_set_input_string(&p, (const unsigned char *)text, len);
    cJSON *map = cJSON_CreateObject();
    char *key = NULL;
    int depth = 0, documents = 0, ok = map != NULL, done = 0;
    while (ok && !done) {
        yaml_event_t e;
        if (!CR_YAML->parser_parse(&p, &e)) {
            yaml_fail(err, origin, &p, "not valid YAML");
            ok = 0;
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                yaml_fail(err, origin, NULL, "more than one YAML document; one map of NAME: VALUE is expected");
                ok = 0;
            }
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth++ > 0) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: the value of %s is a map; values must be strings", origin,
                             key ? key : "a key");
                ok = 0;
            }
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SEQUENCE_START_EVENT:
            cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: %s%s%s is a list; a map of NAME: VALUE is expected", origin,
                         key ? "the value of " : "", key ? key : "the document", "");
            ok = 0;
            break;
        case YAML_ALIAS_EVENT:
            yaml_fail(err, origin, NULL, "aliases are not taken; write each value out");
            ok = 0;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)e.data.scalar.value;
            /* "\0" in a quoted scalar is a NUL: taken whole or refused, never cut there */
            int nul = memchr(v, '\0', e.data.scalar.length) != NULL;
            if (depth != 1) {
                yaml_fail(err, origin, NULL, "a map of NAME: VALUE is expected");
                ok = 0;
            } else if (!key) {
                if (!*v && !nul) {
                    yaml_fail(err, origin, NULL, "an empty name");
                    ok = 0;
                } else if (nul) {
                    cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: the name %s... holds a NUL byte", origin, v);
                    ok = 0;
                } else if (cJSON_GetObjectItemCaseSensitive(map, v)) {
                    cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: %s is given twice", origin, v);
                    ok = 0;
                } else {
                    key = cr_strdup(v);
                    ok = key != NULL;
                }
            } else if (nul) {
                cr_error_set(err, "INVALID_ARGUMENT", 0, "%s: the value of %s holds a NUL byte", origin, key);
                ok = 0;
            } else {
                /* the value as written: PORT: 8080 is "8080", an empty value "" */
                const char *value =
                    e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (strcmp(v, "~") == 0 || strcmp(v, "null") == 0)
                        ? ""
                        : v;
                ok = cJSON_AddStringToObject(map, key, value) != NULL;
                free(key);
                key = NULL;
            }
            break;
        }
        default:
            break;
        }
        CR_YAML->event_delete(&e);
    }
    CR_YAML->parser_delete(&p);
    free(key);
    if (!ok) {
        if (!err || !err->code[0])
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", origin);
        cJSON_Delete(map);
        return NULL;
    }
    return map;
}

cJSON *cr_yaml_file_string_map(const char *path, const char *what, cr_error *err)
{
    size_t len = 0;
    char *text = cr_read_file(path, &len, what, err);
    if (!text)
        return NULL;
    char *origin = cr_asprintf("%s %s", what, path);
    cJSON *map = NULL;
    if (!origin)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, path);
    else
        map = cr_yaml_string_map(text, len, origin, err);
    free(origin);
    free(text);
    return map;
}

/* ---- any document ------------------------------------------------------------------ */

#define YAML_MAX_DEPTH 64

/* A plain scalar as YAML 1.2's core schema reads it: null, a boolean, a number, or text. */
static cJSON *plain_scalar(const char *v)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE"}, *const falses[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(v, nulls[i]) == 0)
            return cJSON_CreateNull();
    for (size_t i = 0; i < 3; i++)
        if (strcmp(v, trues[i]) == 0 || strcmp(v, falses[i]) == 0)
            return cJSON_CreateBool(strcmp(v, trues[i]) == 0);
    const char *d = v + (*v == '-' || *v == '+');
    size_t digits = strspn(d, "0123456789");
    int number = digits > 0 && (!d[digits] || d[digits] == '.' || d[digits] == 'e' || d[digits] == 'E');
    if (!number && *d == '.' && d[1] >= '0' && d[1] <= '9')
        number = 1;
    char *end = NULL;
    double n = number ? strtod(v, &end) : 0;
    if (number && end && !*end && isfinite(n))
        return cJSON_CreateNumber(n);
    return cJSON_CreateString(v);
}

typedef struct reader {
    yaml_parser_t p;
    const char *origin;
    cr_error *err;
} reader;

static int next_event(reader *r, yaml_event_t *e)
{
    if (CR_YAML->parser_parse(&r->p, e))
        return 0;
    yaml_fail(r->err, r->origin, &r->p, "not valid YAML");
    return -1;
}

/* The node that event e starts (e is consumed), as JSON; NULL with err set. */
static cJSON *read_node(reader *r, yaml_event_t *e, int depth)
{
    cJSON *out = NULL;
    if (depth > YAML_MAX_DEPTH) {
        yaml_fail(r->err, r->origin, NULL, "nested deeper than 64 levels");
        CR_YAML->event_delete(e);
        return NULL;
    }
    if (e->type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)e->data.scalar.value;
        if (memchr(v, '\0', e->data.scalar.length))
            yaml_fail(r->err, r->origin, NULL, "a value holds a NUL byte");
        else if (e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !e->data.scalar.tag)
            out = plain_scalar(v);
        else
            out = cJSON_CreateString(v);
        CR_YAML->event_delete(e);
        return out;
    }
    if (e->type == YAML_ALIAS_EVENT) {
        CR_YAML->event_delete(e);
        yaml_fail(r->err, r->origin, NULL, "aliases are not taken; write each value out");
        return NULL;
    }
    int map = e->type == YAML_MAPPING_START_EVENT;
    if (!map && e->type != YAML_SEQUENCE_START_EVENT) {
        CR_YAML->event_delete(e);
        yaml_fail(r->err, r->origin, NULL, "not valid YAML");
        return NULL;
    }
    CR_YAML->event_delete(e);
    out = map ? cJSON_CreateObject() : cJSON_CreateArray();
    for (int ok = out != NULL; ok;) {
        yaml_event_t k;
        if (next_event(r, &k) < 0)
            break;
        if (k.type == (map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            CR_YAML->event_delete(&k);
            return out;
        }
        char *key = NULL;
        if (map) {
            const char *kv = k.type == YAML_SCALAR_EVENT ? (const char *)k.data.scalar.value : NULL;
            if (!kv || memchr(kv, '\0', k.data.scalar.length)) {
                yaml_fail(r->err, r->origin, NULL, "a key must be text (without a NUL byte)");
            } else if (cJSON_GetObjectItemCaseSensitive(out, kv)) {
                cr_error_set(r->err, "INVALID_ARGUMENT", 0, "%s: %.100s is given twice", r->origin, kv);
            } else {
                key = cr_strdup(kv);
            }
            CR_YAML->event_delete(&k);
            if (!key || next_event(r, &k) < 0) {
                free(key);
                break;
            }
        }
        cJSON *v = read_node(r, &k, depth + 1);
        ok = v && (map ? cJSON_AddItemToObject(out, key, v) : cJSON_AddItemToArray(out, v));
        if (!ok)
            cJSON_Delete(v);
        free(key);
    }
    cJSON_Delete(out);
    return NULL;
}

cJSON *cr_yaml_json(const char *text, size_t len, const char *origin, cr_error *err)
{
    if (!cr_yaml_load(origin, err))
        return NULL;
    reader r = {.origin = origin, .err = err};
    if (!CR_YAML->parser_initialize(&r.p)) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", origin);
        return NULL;
    }
    CR_YAML->parser_set_input_string(&r.p, (const unsigned char *)text, len);
    cJSON *doc = NULL;
    int documents = 0, failed = 0;
    while (!failed) {
        yaml_event_t e;
        if (next_event(&r, &e) < 0) {
            failed = 1;
            break;
        }
        yaml_event_type_t type = e.type;
        if (type == YAML_STREAM_END_EVENT) {
            CR_YAML->event_delete(&e);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
            yaml_fail(err, origin, NULL, "more than one YAML document");
            failed = 1;
        }
        if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT ||
            type == YAML_ALIAS_EVENT) {
            failed = !(doc = read_node(&r, &e, 0));
            continue; /* read_node consumed e */
        }
        CR_YAML->event_delete(&e);
    }
    CR_YAML->parser_delete(&r.p);
    if (!failed && !doc)
        yaml_fail(err, origin, NULL, "the file is empty");
    if (failed || !doc) {
        if (err && !err->code[0])
            cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", origin);
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

cJSON *cr_yaml_file_json(const char *path, const char *what, cr_error *err)
{
    size_t len = 0;
    char *text = cr_read_file(path, &len, what, err);
    if (!text)
        return NULL;
    char *origin = cr_asprintf("%s %s", what, path);
    cJSON *doc = NULL;
    if (!origin)
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s %s: out of memory", what, path);
    else
        doc = cr_yaml_json(text, len, origin, err);
    free(origin);
    free(text);
    return doc;
}
