/*
** rfc3339.h — RFC 3339 timestamps read strictly, in the one form Google's
** APIs write and read (protobuf's Timestamp in JSON): the client's IAM
** expireTime, the emulator's Timestamp fields and its log filters.
*/
#ifndef CR_UTIL_RFC3339_H
#define CR_UTIL_RFC3339_H

#include <stdint.h>

#include "util/util.h"

/*
** "YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm|-hh:mm)", the whole string: years
** 0001-9999, a day that exists in its month (Feb 29 in leap years only),
** hours 0-23, minutes 0-59, seconds 0-59 (no leap second 60, as protobuf's
** Timestamp), a fraction of 1 to 9 digits, an offset of at most 23:59, and
** an upper-case T and Z. Returns 0 with the time as Unix seconds (rounded
** down) and the nanoseconds past them (0 to 999999999), or -1 when s is not
** such a time (nothing written).
*/
CR_HIDDEN int cr_rfc3339_parse_parts(const char *s, int64_t *unix_seconds, int32_t *nanos);

/* The same as Unix nanoseconds; -1 also when it does not fit in an int64
** (before 1677-09-21T00:12:43.145224192Z or after 2262-04-11T23:47:16.854775807Z). */
CR_HIDDEN int cr_rfc3339_parse_ns(const char *s, int64_t *unix_ns);

/* The same as Unix seconds, the fraction dropped (rounded down). */
CR_HIDDEN int cr_rfc3339_parse(const char *s, int64_t *unix_seconds);

#endif
