/*
** secrets.h — the emulator's --secrets file: what stands in for Secret
** Manager. Each secret (NAME, or projects/P/secrets/NAME) has a value or
** numbered versions; the values are kept in one place, wiped when freed and
** never quoted in a message.
*/
#ifndef EMU_SECRETS_H
#define EMU_SECRETS_H

#include <stddef.h>

/* At most this many bytes are read from a --secrets file (CR_MAX_FILE). */
#define EMU_SECRETS_FILE_MAX (1024u * 1024)

typedef struct emu_secrets emu_secrets;

/*
** Reads the file at path with the core's bounded reader (cr_read_file_max: a
** regular file of at most EMU_SECRETS_FILE_MAX bytes; a FIFO, device or
** directory is refused at once, never read or waited on) and parses it as
** emu_secrets_parse does, with origin "--secrets PATH". Returns the table (the
** caller frees it with emu_secrets_free), or NULL with why[why_size] naming the
** file and, where it applies, the key: "--secrets /p/s.yaml: secret 'db':
** version 'x' is not a positive whole number". The text read is wiped.
*/
emu_secrets *emu_secrets_load(const char *path, char *why, size_t why_size);

/*
** The same from len bytes of text (not NUL-terminated; origin names it in
** messages). JSON when the first byte that is not a space, tab, CR or LF is
** '{', else YAML (one document). The top level maps a secret key to a value
** (version 1, also latest) or to a map {VERSION: value}, VERSION a positive
** decimal number (1: in YAML, "1" in JSON). JSON values must be strings; YAML
** scalars are taken as written (`n: 12` is "12", `n: ~` is "~"). Refused, with
** a message naming origin and key but never a value: an empty file, a malformed
** or repeated key, a repeated version, a secret with no versions, a list, a map
** deeper than {VERSION: value}, a non-string JSON value, a YAML alias or second
** document, a NUL byte anywhere. `{}` is an empty table. Memory is a fixed
** multiple of len.
*/
emu_secrets *emu_secrets_parse(const char *text, size_t len, const char *origin, char *why, size_t why_size);

/* Wipes every key and value and frees the table. NULL is fine. */
void emu_secrets_free(emu_secrets *s);

/*
** The value of the secret `ref` (NAME, or projects/P/secrets/NAME) at
** `version` (NULL or "latest": the highest; else a positive decimal number)
** for a job of project `project` (a short ref means this project; NULL: only
** short keys match). The key projects/P/secrets/NAME is taken first when the
** file has it (its versions alone decide), else the short key NAME. Returns the
** value, NUL-terminated and owned by s (valid until emu_secrets_free), or NULL
** when the file lacks the secret or that version, or ref or version is
** malformed.
*/
const char *emu_secrets_lookup(const emu_secrets *s, const char *project, const char *ref, const char *version);

#endif
