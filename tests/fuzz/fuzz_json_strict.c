/*
** fuzz_json_strict.c — libFuzzer target: the strict JSON reader against
** cJSON. What it accepts cJSON must read, and cJSON's rendering of that must
** be accepted again; what it refuses it must refuse at an offset inside the text.
*/
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    long at = emu_json_check((const char *)data, size, &why);
    if (at >= 0) {
        if ((size_t)at > size || !why)
            abort();
        return 0;
    }
    emu_error err = {0};
    cJSON *tree = emu_json_parse_strict((const char *)data, size, &err);
    if (!tree)
        abort(); /* valid, yet cJSON could not read it */
    char *again = cJSON_PrintUnformatted(tree);
    if (!again || emu_json_check(again, strlen(again), &why) >= 0) {
        fprintf(stderr, "cJSON's rendering is not strict JSON (%s): %s\n", why, again ? again : "(null)");
        abort();
    }
    free(again);
    cJSON_Delete(tree);
    return 0;
}
