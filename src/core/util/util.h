/*
** util.h — small internal helpers shared by the core: string copies, a
** growing buffer, base64url, file reading, clocks. Not exported.
*/
#ifndef CR_UTIL_H
#define CR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cloudrun.h"

#define CR_HIDDEN __attribute__((visibility("hidden")))

/* Copies; NULL in gives NULL out. Caller frees. */
CR_HIDDEN char *cr_strdup(const char *s);
CR_HIDDEN char *cr_strndup(const char *s, size_t n);

/* The strings up to the NULL joined into a new one (one allocation, no
** formatting: for the paths and header values built on every call); NULL when
** out of memory. Caller frees. */
CR_HIDDEN char *cr_concat(const char *first, ...) __attribute__((sentinel));

/* printf into a new string; NULL when out of memory. Caller frees. */
CR_HIDDEN char *cr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growing byte buffer, always NUL-terminated. */
typedef struct cr_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends do nothing */
} cr_buf;

/* Room for `extra` more bytes (and the NUL): 0, or -1 (the buffer is then failed). */
CR_HIDDEN int cr_buf_reserve(cr_buf *b, size_t extra);
CR_HIDDEN void cr_buf_append(cr_buf *b, const void *data, size_t len);
CR_HIDDEN void cr_buf_puts(cr_buf *b, const char *s);
CR_HIDDEN void cr_buf_printf(cr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes the data out (caller frees) and resets the buffer; NULL if an append failed. */
CR_HIDDEN char *cr_buf_take(cr_buf *b, size_t *len);
/* Frees (wiping) the buffer's memory. */
CR_HIDDEN void cr_buf_free(cr_buf *b);

/* base64url without padding (RFC 7515 §2). Returns a new string; caller frees. */
CR_HIDDEN char *cr_base64url_encode(const unsigned char *data, size_t len);
/* Decodes base64url (padding optional). Returns a new buffer (NUL-terminated), *out_len set; NULL if invalid. */
CR_HIDDEN unsigned char *cr_base64url_decode(const char *text, size_t len, size_t *out_len);

/* application/x-www-form-urlencoded / URL component escaping (RFC 3986 unreserved kept). Caller frees. */
CR_HIDDEN char *cr_url_escape(const char *s);

/* The largest file cr_read_file reads (credentials, subject tokens): 1 MiB. */
#define CR_MAX_FILE (1024 * 1024)

/* The most of a server's text (an error message) quoted in a message. */
#define CR_MAX_QUOTE 2048

/* Decodes %XX and '+' in place (a form value); returns s. */
CR_HIDDEN char *cr_url_unescape_inplace(char *s);

/* The one reader of the files a user names (credentials, subject tokens, an
** --env-vars-file, the emulator's --jobs): reads a whole regular file of at
** most max bytes into a new NUL-terminated buffer (caller frees), *len its
** length (len may be NULL). A FIFO, device or directory is refused at once,
** never read or waited on. On failure returns NULL and sets err (NOT_FOUND
** for a missing file, PERMISSION_DENIED, INVALID_ARGUMENT for the wrong kind
** of file or one over max), with a message naming what and the path: e.g.
** "credentials file /x/y.json: No such file or directory", "--jobs /x: larger
** than 16777216 bytes, the most that is read". */
CR_HIDDEN char *cr_read_file_max(const char *path, size_t max, size_t *len, const char *what, cr_error *err);

/* cr_read_file_max with max CR_MAX_FILE. */
CR_HIDDEN char *cr_read_file(const char *path, size_t *len, const char *what, cr_error *err);

/* Whether the file holds `needle` (at most 64 bytes), read until it is found,
** under cr_read_file's rules and messages: 1, 0, or -1 with err set. */
CR_HIDDEN int cr_file_contains(const char *path, const char *needle, const char *what, cr_error *err);

/* Replaces in *text (a heap string, reallocated) every run of 16 or more
** characters of a secret — in its raw, percent-encoded and JSON-escaped forms
** — with "[REDACTED]": a server may quote a secret whole or in part. */
CR_HIDDEN void cr_scrub(char **text, const char *const *secrets, size_t n);

/* Makes dst (cleared first) a copy of src: code, status, retryable, sent,
** message and details (a deep copy). Out of memory leaves the message or
** details NULL. */
CR_HIDDEN void cr_error_copy(cr_error *dst, const cr_error *src);

/* cr_scrub on an error's message and on the strings of its details. */
CR_HIDDEN void cr_error_scrub(cr_error *err, const char *const *secrets, size_t n);

/* A copy of text (len bytes) of at most `max` bytes, marked when cut. Caller frees. */
CR_HIDDEN char *cr_quote_bounded(const char *text, size_t len, size_t max);

/* google.protobuf.Duration's range: +-315,576,000,000 s. */
#define CR_DURATION_MAX_SECONDS 315576000000LL

/* A protobuf JSON Duration ("1.5s", "-3s"; nothing else) in seconds: 0, or -1
** for text that is not one or is out of the Duration's range. */
CR_HIDDEN int cr_duration_parse_proto(const char *text, double *seconds);

/* Wall-clock Unix time in seconds, and a monotonic clock in seconds. */
CR_HIDDEN int64_t cr_unix_time(void);
CR_HIDDEN double cr_monotonic(void);

/* Wipes memory so that the compiler cannot drop it. */
CR_HIDDEN void cr_wipe(void *p, size_t n);

/* cr_header_add taking `value` (malloc'd, NULL: out of memory) instead of
** copying it: freed (wiped) on failure. 0, or -1. */
CR_HIDDEN int cr_header_add_owned(cr_header **list, const char *name, char *value);

/* What may go into a header line (http.c), each 1 or 0: a name that is an
** RFC 7230 token (non-empty, tchar only); a value without CR, LF or any other
** control character but tab (empty is fine); an access or refresh token,
** which travels as "Bearer <token>": non-empty, visible ASCII only (no
** space, tab, control or non-ASCII byte). */
CR_HIDDEN int cr_header_name_ok(const char *name);
CR_HIDDEN int cr_header_value_ok(const char *value);
CR_HIDDEN int cr_bearer_token_ok(const char *token);

/* getenv that treats an empty value as unset. */
CR_HIDDEN const char *cr_getenv(const char *name);

#endif
