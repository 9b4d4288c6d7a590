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

int64_t emu_now_ns(void);  /* wall clock, for Timestamps */
int64_t emu_mono_ns(void); /* monotonic clock, for timeouts */

/* "2024-05-01T12:00:00.123456Z" into buf (>= 40 bytes). Returns buf. */
char *emu_timestamp_format(int64_t ns, char *buf, size_t size);

/* google.protobuf.Duration's range: about 10,000 years either way. */
#define EMU_DURATION_MAX_SECONDS 315576000000LL

/* A google.protobuf.Duration: seconds and nanos carry the same sign, |nanos| < 1e9. */
typedef struct emu_duration {
    int64_t seconds;
    int32_t nanos;
} emu_duration;

/*
** Parses a ProtoJSON Duration: an optional '-', decimal seconds, up to 9
** fractional digits, and the `s` suffix ("600s", "1.5s", "-3s",
** "0.000000001s"), within +-EMU_DURATION_MAX_SECONDS. Returns 0, or -1 when
** the text is not one (nothing else is accepted on the wire, as on Cloud Run).
** Never overflows: the value is kept as seconds + nanos, not nanoseconds.
*/
int emu_duration_parse(const char *text, emu_duration *out);

/* The duration in nanoseconds, saturated at INT64_MIN/INT64_MAX. */
int64_t emu_duration_ns(emu_duration d);

/* Whether a < b. */
int emu_duration_less(emu_duration a, emu_duration b);

/* The canonical ProtoJSON text ("600s", "1.500s", "-0.000000001s") into buf (>= 32 bytes). Returns buf. */
char *emu_duration_text(emu_duration d, char *buf, size_t size);

/* "600s", "1.500s" for a nanosecond count into buf (>= 32 bytes). Returns buf. */
char *emu_duration_format(int64_t nanos, char *buf, size_t size);

/* a + b, saturated at INT64_MIN/INT64_MAX. */
int64_t emu_add_sat(int64_t a, int64_t b);

/* A random uuid4 in its 36-character text form into out (>= 37 bytes). */
void emu_uuid4(char *out);

/* n random lowercase letters and digits, NUL-terminated (out holds n + 1). */
void emu_random_alnum(char *out, size_t n);

/* An etag for a resource in a given state: changes whenever uid/version/time do. */
void emu_etag(char *out, size_t size, const char *uid, int64_t version, int64_t update_ns);

/* protobuf `bytes` in JSON: base64, standard or URL-safe (not both at once),
** with or without its padding. Decodes text into out (at most cap bytes):
** the number of bytes, or -1 when the text is not base64 or does not fit
** (out may be NULL with cap 0: only checks, and counts). */
long emu_base64_decode(const char *text, unsigned char *out, size_t cap);
/* Standard base64 with padding of n bytes into out (>= 4 * ((n + 2) / 3) + 1 bytes). Returns out. */
char *emu_base64_encode(const unsigned char *in, size_t n, char *out);

/* google.protobuf.FieldMask in JSON: paths of field names (a letter, then
** letters, digits or '_') joined by dots, separated by commas; "" has none. */
int emu_field_mask_valid(const char *text);

#endif
