/*
** yaml.c — a YAML document that must be a map of names to scalars (gcloud's
** --env-vars-file), read with libyaml into a JSON object of strings. Anything
** else — a list, a nested map, an alias, a second document, a NUL in a name
** or a value — is an error that names the file and the key. The file itself
** is read by cr_read_file's rules (a regular file, at most CR_MAX_FILE).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util.h"

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
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        cr_error_set(err, "RESOURCE_EXHAUSTED", 0, "%s: out of memory", origin);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    cJSON *map = cJSON_CreateObject();
    char *key = NULL;
    int depth = 0, documents = 0, ok = map != NULL, done = 0;
    while (ok && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
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
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
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
