/*
** gcloud_config.c — reading gcloud's active configuration (an INI file per
** configuration, the active one named by a variable or a file) for the
** properties a Cloud Run client needs: [core] project, [run] region.
*/
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/gcloud_config.h"
#include "auth/adc.h"

/* Trims both ends in place; returns s. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The configuration's name: the variable, the active_config file, or "default". */
static char *active_name(const char *dir)
{
    const char *env = cr_getenv("CLOUDSDK_ACTIVE_CONFIG_NAME");
    if (env)
        return cr_strdup(env);
    char *path = cr_asprintf("%s/active_config", dir);
    cr_error ignored = CR_ERROR_INIT;
    size_t len = 0;
    char *text = path ? cr_read_file(path, &len, "gcloud's active_config", &ignored) : NULL;
    cr_error_clear(&ignored);
    free(path);
    char *name = NULL;
    if (text) {
        char *t = trim(text);
        /* a name, not a path: gcloud's own rule is [a-z][-a-z0-9]* */
        if (*t && !strchr(t, '/') && strlen(t) < 128)
            name = cr_strdup(t);
        free(text);
    }
    return name ? name : cr_strdup("default");
}

char *cr_gcloud_property(const char *section, const char *key, char **where)
{
    *where = NULL;
    char *dir = cr_gcloud_config_dir();
    if (!dir) {
        *where = cr_strdup("gcloud's configuration (neither $CLOUDSDK_CONFIG nor $HOME is set)");
        return NULL;
    }
    char *name = active_name(dir);
    char *path = name ? cr_asprintf("%s/configurations/config_%s", dir, name) : NULL;
    free(dir);
    if (!path) {
        free(name);
        return NULL;
    }
    *where = cr_asprintf("gcloud's configuration '%s' (%s)", name, path);
    free(name);
    cr_error ignored = CR_ERROR_INIT;
    size_t len = 0;
    char *text = cr_read_file(path, &len, "gcloud configuration", &ignored);
    cr_error_clear(&ignored);
    free(path);
    if (!text)
        return NULL;
    char *value = NULL, *in = NULL, *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && !value; line = strtok_r(NULL, "\n", &save)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l)
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            in = end ? (*end = '\0', trim(l + 1)) : NULL;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq || strcmp(in, section) != 0)
            continue;
        *eq = '\0';
        if (strcmp(trim(l), key) == 0) {
            char *v = trim(eq + 1);
            if (*v)
                value = cr_strdup(v);
        }
    }
    free(text);
    return value;
}
