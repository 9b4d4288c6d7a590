/*
** names.c — Cloud Run resource names: checking the full form
** projects/P/locations/L/jobs/J[/executions/E[/tasks/T]] and refusing
** characters that would change a URL's meaning.
*/
#include <string.h>

#include "api/api.h"

/* Resource ids are [a-z0-9-] on Cloud Run; we accept a little more and let the
** server judge, but nothing that is URL syntax (/ ? # % space ...). */
static int id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

static int segment_ok(const char *s, size_t n)
{
    /* "." and ".." are path syntax: a URL with them addresses another resource */
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!id_char_ok(s[i]))
            return 0;
    return 1;
}

/* Matches "a/b/c/..." against a pattern of literal segments and '*' wildcards. */
static int match_pattern(const char *name, const char *const *pattern)
{
    const char *p = name;
    for (size_t i = 0; pattern[i]; i++) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (strcmp(pattern[i], "*") == 0) {
            if (!segment_ok(p, n))
                return 0;
        } else if (strlen(pattern[i]) != n || strncmp(p, pattern[i], n) != 0) {
            return 0;
        }
        if (!pattern[i + 1])
            return slash == NULL;
        if (!slash)
            return 0;
        p = slash + 1;
    }
    return 0;
}

int cr_api_name_is_valid(const char *name, const char *kind)
{
    static const char *const location[] = {"projects", "*", "locations", "*", NULL};
    static const char *const job[] = {"projects", "*", "locations", "*", "jobs", "*", NULL};
    static const char *const execution[] = {"projects", "*", "locations", "*", "jobs", "*", "executions", "*", NULL};
    static const char *const task[] = {"projects",   "*", "locations", "*", "jobs", "*",
                                       "executions", "*", "tasks",     "*", NULL};
    static const char *const operation[] = {"projects", "*", "locations", "*", "operations", "*", NULL};
    if (!name)
        return 0;
    if (strcmp(kind, "locations") == 0)
        return match_pattern(name, location);
    if (strcmp(kind, "jobs") == 0)
        return match_pattern(name, job);
    if (strcmp(kind, "executions") == 0)
        return match_pattern(name, execution);
    if (strcmp(kind, "tasks") == 0)
        return match_pattern(name, task);
    if (strcmp(kind, "operations") == 0)
        return match_pattern(name, operation);
    return 0;
}

int cr_api_id_is_valid(const char *id)
{
    return id && segment_ok(id, strlen(id));
}

/* A CR_CALL path: segments of resource-name characters (and a ":verb" on the
** last), nothing that a URL would read as syntax, no "." or ".." segment. */
int cr_api_path_is_valid(const char *path)
{
    if (!path || !*path || *path == '/')
        return 0;
    const char *seg = path;
    for (const char *p = path;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            const char *colon = memchr(seg, ':', n);
            if (colon && (*p != '\0' || !segment_ok(colon + 1, (size_t)(p - colon - 1))))
                return 0;
            if (!segment_ok(seg, colon ? (size_t)(colon - seg) : n))
                return 0;
            if (*p == '\0')
                return 1;
            seg = p + 1;
        }
    }
}
