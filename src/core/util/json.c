/*
** json.c — the one way the core and the binding parse JSON: cJSON's parser
** keeps its error position in a global, so parses are serialised here.
*/
#include <pthread.h>
#include <string.h>

#include "util.h"

static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *cr_json_parse(const char *text, size_t len, size_t *error_offset)
{
    const char *end = NULL;
    pthread_mutex_lock(&parse_lock);
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    const char *at = root ? NULL : cJSON_GetErrorPtr();
    pthread_mutex_unlock(&parse_lock);
    if (!root && error_offset)
        *error_offset = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
    return root;
}

/* Strings are wiped before the tree is freed: cJSON_Delete would leave the
** text of a private key or a token behind in freed memory. */
static void wipe_strings(cJSON *item)
{
    for (; item; item = item->next) {
        if (item->valuestring)
            cr_wipe(item->valuestring, strlen(item->valuestring));
        if (item->string)
            cr_wipe(item->string, strlen(item->string));
        wipe_strings(item->child);
    }
}

void cr_json_delete_secret(cJSON *root)
{
    wipe_strings(root);
    cJSON_Delete(root);
}
