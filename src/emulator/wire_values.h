/*
** wire_values.h — the scalar values of the REST wire that need care: clocks
** and RFC 3339 Timestamps, protobuf JSON Durations ("600s"), uuid4s, the
** random suffix of execution names and etags.
*/
#ifndef EMU_WIRE_VALUES_H
#define EMU_WIRE_VALUES_H

#include <stddef.h>
#include <stdint.h>

#define EMU_NS_PER_S 1000000000LL
#define EMU_NS_PER_MS 1000000LL

int64_t emu_now_ns(void);   /* wall clock, for Timestamps */
int64_t emu_mono_ns(void);  /* monotonic clock, for timeouts */

/* "2024-05-01T12:00:00.123456Z" into buf (>= 40 bytes). Returns buf. */
char *emu_timestamp_format(int64_t ns, char *buf, size_t size);

/* Parses a protobuf JSON Duration: seconds with up to 9 fractional digits and
** the `s` suffix ("600s", "1.5s"). Returns 0, or -1 when it is not one or is
** negative. Cloud Run accepts no other form on the wire. */
int emu_duration_parse(const char *text, int64_t *nanos);

/* "600s", "1.500s" into buf (>= 32 bytes). Returns buf. */
char *emu_duration_format(int64_t nanos, char *buf, size_t size);

/* A random uuid4 in its 36-character text form into out (>= 37 bytes). */
void emu_uuid4(char *out);

/* n random lowercase letters and digits, NUL-terminated (out holds n + 1). */
void emu_random_alnum(char *out, size_t n);

/* An etag for a resource in a given state: changes whenever uid/version/time do. */
void emu_etag(char *out, size_t size, const char *uid, int64_t version, int64_t update_ns);

#endif
