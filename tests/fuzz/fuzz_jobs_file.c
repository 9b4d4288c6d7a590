/*
** fuzz_jobs_file.c — libFuzzer target: the --jobs file reader
** (emu_jobs_load) on an in-memory store. Its answer is a count or a message
** for the user: the message must be UTF-8 text, the count the jobs stored.
*/
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_file.h"
#include "store.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    emu_store s;
    if (emu_store_init(&s, NULL) < 0)
        abort();
    char why[1200] = "";
    int n = emu_jobs_load(&s, (const char *)data, size, why, sizeof why);
    if (n < 0 && (!why[0] || !emu_utf8_valid(why, strlen(why)))) {
        fprintf(stderr, "a --jobs failure without a UTF-8 message: %s\n", why);
        abort();
    }
    if (n >= 0 && (size_t)n != s.njobs)
        abort();
    emu_store_free(&s);
    return 0;
}
