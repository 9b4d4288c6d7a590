/*
** fuzz.h — what every libFuzzer target here declares: the entry point
** libFuzzer calls with each input (data[0..size), not NUL-terminated).
*/
#ifndef CR_FUZZ_H
#define CR_FUZZ_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
