/*
** fuzz_duration.c — libFuzzer target: the ProtoJSON Duration parser. What it
** accepts lies in Google's range, carries one sign, and comes back the same
** from its canonical text; its nanoseconds never overflow.
*/
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_values.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64)
        return 0;
    char text[65];
    memcpy(text, data, size);
    text[size] = '\0';
    emu_duration d;
    if (emu_duration_parse(text, &d) < 0)
        return 0;
    if (d.seconds > EMU_DURATION_MAX_SECONDS || d.seconds < -EMU_DURATION_MAX_SECONDS || d.nanos <= -1000000000 ||
        d.nanos >= 1000000000 || (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0))
        abort();
    char canonical[48];
    emu_duration back;
    if (emu_duration_parse(emu_duration_text(d, canonical, sizeof canonical), &back) < 0 || back.seconds != d.seconds ||
        back.nanos != d.nanos)
        abort();
    int64_t ns = emu_duration_ns(d);
    (void)emu_add_sat(ns, ns);
    return 0;
}
