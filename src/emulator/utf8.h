/*
** utf8.h — UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates,
** nothing above U+10FFFF): checks, lengths and repair for the text the
** emulator reads and answers with.
*/
#ifndef EMU_UTF8_H
#define EMU_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 when invalid. */
size_t emu_utf8_sequence(const unsigned char *s, size_t n);

/* Whether s[0..n) is valid UTF-8. */
int emu_utf8_valid(const char *s, size_t n);

/* Whether s (NUL-terminated) is valid UTF-8 without control characters (C0, DEL). */
int emu_text_clean(const char *s);

/* The number of code points in valid UTF-8 s. */
size_t emu_utf8_length(const char *s);

/* Copies src into dst (size > 0), NUL-terminated, each invalid UTF-8 byte
** replaced by U+FFFD and never cutting a character in two. Returns dst. */
char *emu_utf8_sanitize(char *dst, size_t size, const char *src);

#endif
