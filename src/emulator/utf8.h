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

/* Copies src[0..n) (NULs included) into dst (size > 0), NUL-terminated, as text
** safe for a terminal or a log line: every control character but tab (newline,
** CR and ESC included), DEL, U+0080-U+009F and each byte that is not UTF-8 is
** written as \xNN (each byte of it: U+009B is \xc2\x9b), the rest as it is. Cut
** between characters and escapes when dst is full. Returns dst. */
char *emu_utf8_escape(char *dst, size_t size, const char *src, size_t n);

#endif
