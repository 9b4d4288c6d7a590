/*
** fuzz_secrets_file.c — libFuzzer target: the --secrets reader
** (emu_secrets_parse) on the input, then lookups. A refusal is a UTF-8
** message that names the origin; a table answers lookups with values no longer
** than the input could hold, latest never missing when a version is there.
*/
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"
#include "utf8.h"

/* References and versions that the seeds and the dictionary's keys use. */
static const char *const refs[] = {"db", "api", "projects/p/secrets/db", "projects/q/secrets/db", "a", "x-y_z"};
static const char *const versions[] = {NULL, "latest", "1", "2", "10", "0", "007", "9223372036854775807"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1200] = "";
    emu_secrets *s = emu_secrets_parse((const char *)data, size, "--secrets F", why, sizeof why);
    if (!s) {
        if (strncmp(why, "--secrets F: ", 13) != 0 || !emu_utf8_valid(why, strlen(why))) {
            fprintf(stderr, "a --secrets refusal without a UTF-8 message naming the file: %s\n", why);
            abort();
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        const char *latest = emu_secrets_lookup(s, "p", refs[i], "latest");
        for (size_t j = 0; j < sizeof versions / sizeof *versions; j++) {
            const char *v = emu_secrets_lookup(s, "p", refs[i], versions[j]);
            if (v && (strlen(v) > 2 * size || !latest)) { /* YAML's \L: 2 bytes in, 3 out */
                fprintf(stderr, "lookup of %s at %s: a value the input cannot hold\n", refs[i],
                        versions[j] ? versions[j] : "NULL");
                abort();
            }
        }
        (void)emu_secrets_lookup(s, NULL, refs[i], NULL);
    }
    emu_secrets_free(s);
    return 0;
}
