/*
** test_secrets.c — the emulator's --secrets reader (src/emulator/secrets.c) on
** its own, no emulator process: JSON and YAML, versions and latest, which keys
** a reference matches, every refusal with its message (none quoting a value),
** and the files emu_secrets_load refuses to read. Also the runtime code's
** shared helpers (runtime.h), which the secrets' launch uses, on their own.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "runtime.h"
#include "secrets.h"

/* Every value in the inputs below that hold one: no message may show it. */
#define VALUE "hunter2"

static emu_secrets *parse(const char *text, char *why, size_t why_size)
{
    return emu_secrets_parse(text, strlen(text), "S", why, why_size);
}

/* The message parsing text gives (NULL when it parses), checked never to hold a value. */
static const char *refusal(const char *text, size_t len, char *why, size_t why_size)
{
    emu_secrets *s = emu_secrets_parse(text, len, "S", why, why_size);
    if (s) {
        emu_secrets_free(s);
        return NULL;
    }
    CHECK_NOT_CONTAINS(why, VALUE);
    return why;
}

#define REFUSED(text, message)                                                                                         \
    do {                                                                                                               \
        char why_[512];                                                                                                \
        CHECK_STR(refusal(text, strlen(text), why_, sizeof why_), message);                                            \
    } while (0)

#define REFUSED_STARTING(text, start)                                                                                  \
    do {                                                                                                               \
        char why_[512];                                                                                                \
        const char *got_ = refusal(text, strlen(text), why_, sizeof why_);                                             \
        CHECK(got_ &&strncmp(got_, start, strlen(start)) == 0);                                                        \
        if (got_ && strncmp(got_, start, strlen(start)) != 0)                                                          \
            fprintf(stderr, "  got \"%s\"\n", got_);                                                                   \
    } while (0)

/* ---- the two forms ------------------------------------------------------------------ */

TEST(a_json_file_maps_names_to_values_and_to_versions)
{
    char why[256] = "";
    emu_secrets *s =
        parse("{\"db\": \"pw\", \"api\": {\"1\": \"one\", \"3\": \"three\", \"2\": \"two\"}}", why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(why, "");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "1"), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "latest"), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", "1"), "one");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", "2"), "two");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", "latest"), "three");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", NULL), "three");
    emu_secrets_free(s);
}

TEST(a_yaml_file_maps_names_to_values_and_to_versions)
{
    char why[256];
    emu_secrets *s = parse("# secrets for the tests\n"
                           "db: pw\n"
                           "api:\n"
                           "  10: ten\n"
                           "  9: nine\n"
                           "projects/other/secrets/key: |\n"
                           "  line one\n"
                           "  line two\n",
                           why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "latest"), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", "9"), "nine");
    CHECK_STR(emu_secrets_lookup(s, "p", "api", "latest"), "ten"); /* by number, not as text */
    CHECK_STR(emu_secrets_lookup(s, "other", "key", NULL), "line one\nline two\n");
    emu_secrets_free(s);
}

TEST(values_are_kept_exactly)
{
    char why[256];
    emu_secrets *s = parse(
        "{\"a\": \"  spaced \\n\\ttabbed\\r\\n\", \"b\": \"\", \"c\": \"caf\\u00e9 \\ud83d\\ude00\"}", why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "a", NULL), "  spaced \n\ttabbed\r\n");
    CHECK_STR(emu_secrets_lookup(s, "p", "b", NULL), "");
    CHECK_STR(emu_secrets_lookup(s, "p", "c", NULL), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    emu_secrets_free(s);
    s = parse("a: \"  quoted \"\nb: 'it''s'\nc: |+\n  kept\n\nd: >\n  folded\n  text\n", why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "a", NULL), "  quoted ");
    CHECK_STR(emu_secrets_lookup(s, "p", "b", NULL), "it's");
    CHECK_STR(emu_secrets_lookup(s, "p", "c", NULL), "kept\n\n");
    CHECK_STR(emu_secrets_lookup(s, "p", "d", NULL), "folded text\n");
    emu_secrets_free(s);
}

TEST(yaml_scalars_are_taken_as_written)
{
    char why[256];
    emu_secrets *s = parse("n: 0012\nb: true\nt: ~\nnull_: null\nempty:\nf: 1.50\n", why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "n", NULL), "0012");
    CHECK_STR(emu_secrets_lookup(s, "p", "b", NULL), "true");
    CHECK_STR(emu_secrets_lookup(s, "p", "t", NULL), "~");
    CHECK_STR(emu_secrets_lookup(s, "p", "null_", NULL), "null");
    CHECK_STR(emu_secrets_lookup(s, "p", "empty", NULL), "");
    CHECK_STR(emu_secrets_lookup(s, "p", "f", NULL), "1.50");
    emu_secrets_free(s);
}

TEST(an_empty_map_is_an_empty_table)
{
    char why[256];
    const char *empties[] = {"{}", "  \n{ }\n", "# none yet\n{}\n", "--- {}\n"};
    for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
        emu_secrets *s = parse(empties[i], why, sizeof why);
        CHECK(s != NULL);
        CHECK(emu_secrets_lookup(s, "p", "db", NULL) == NULL);
        emu_secrets_free(s);
    }
    emu_secrets_free(NULL);
}

/* ---- versions ----------------------------------------------------------------------- */

TEST(a_version_is_a_positive_decimal_number_and_latest_the_highest)
{
    char why[256];
    emu_secrets *s = parse("db:\n  2: two\n  007: seven\n  9223372036854775807: max\n", why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "2"), "two");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "7"), "seven");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "07"), "seven");
    CHECK_STR(emu_secrets_lookup(s, "p", "db", "latest"), "max");
    CHECK(emu_secrets_lookup(s, "p", "db", "1") == NULL);  /* absent */
    CHECK(emu_secrets_lookup(s, "p", "db", "3") == NULL);  /* absent */
    CHECK(emu_secrets_lookup(s, "p", "db", "0") == NULL);  /* not a version */
    CHECK(emu_secrets_lookup(s, "p", "db", "-2") == NULL); /* not a version */
    CHECK(emu_secrets_lookup(s, "p", "db", "") == NULL);
    CHECK(emu_secrets_lookup(s, "p", "db", "LATEST") == NULL);
    CHECK(emu_secrets_lookup(s, "p", "db", " 2") == NULL);
    CHECK(emu_secrets_lookup(s, "p", "db", "99999999999999999999") == NULL);
    emu_secrets_free(s);
}

/* ---- which key a reference matches ------------------------------------------------------- */

TEST(a_short_key_matches_a_reference_in_any_project)
{
    char why[256];
    emu_secrets *s = parse("db: pw\n", why, sizeof why);
    CHECK_STR(emu_secrets_lookup(s, "p", "db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, "q", "db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "projects/p/secrets/db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, "p", "projects/elsewhere/secrets/db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, NULL, "db", NULL), "pw");
    CHECK(emu_secrets_lookup(s, "p", "dB", NULL) == NULL); /* names are case-sensitive */
    CHECK(emu_secrets_lookup(s, "p", "other", NULL) == NULL);
    emu_secrets_free(s);
}

TEST(a_full_key_matches_only_references_in_its_project)
{
    char why[256];
    emu_secrets *s = parse("projects/p/secrets/db: pw\n", why, sizeof why);
    CHECK_STR(emu_secrets_lookup(s, "p", "db", NULL), "pw");
    CHECK_STR(emu_secrets_lookup(s, "q", "projects/p/secrets/db", NULL), "pw");
    CHECK(emu_secrets_lookup(s, "q", "db", NULL) == NULL);
    CHECK(emu_secrets_lookup(s, "p", "projects/q/secrets/db", NULL) == NULL);
    CHECK(emu_secrets_lookup(s, NULL, "db", NULL) == NULL);
    emu_secrets_free(s);
}

TEST(the_key_for_the_project_is_taken_before_the_short_key)
{
    char why[256];
    emu_secrets *s = parse("db:\n  1: short-1\n  2: short-2\nprojects/p/secrets/db: full-1\n", why, sizeof why);
    CHECK(s != NULL); /* NAME and projects/P/secrets/NAME are two keys, not one given twice */
    CHECK_STR(emu_secrets_lookup(s, "p", "db", NULL), "full-1");
    CHECK_STR(emu_secrets_lookup(s, "p", "projects/p/secrets/db", "1"), "full-1");
    CHECK(emu_secrets_lookup(s, "p", "db", "2") == NULL); /* the full key's versions alone decide */
    CHECK_STR(emu_secrets_lookup(s, "q", "db", NULL), "short-2");
    CHECK_STR(emu_secrets_lookup(s, "q", "projects/r/secrets/db", "1"), "short-1");
    emu_secrets_free(s);
}

TEST(a_malformed_reference_finds_nothing)
{
    char why[256];
    emu_secrets *s = parse("{\"db\": \"pw\", \"projects/p/secrets/db\": \"full\"}", why, sizeof why);
    const char *refs[] = {
        "",    "projects/p/secrets/",   "projects//secrets/db", "projects/p/db", "projects/p/secrets/db/versions/1",
        "db ", "projects/p/secrets/db/"};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
        CHECK(emu_secrets_lookup(s, "p", refs[i], NULL) == NULL);
    CHECK(emu_secrets_lookup(s, "p", NULL, NULL) == NULL);
    CHECK(emu_secrets_lookup(NULL, "p", "db", NULL) == NULL);
    CHECK_STR(emu_secrets_lookup(s, "a project/with a space", "db", NULL), "pw");
    emu_secrets_free(s);
}

/* ---- refusals --------------------------------------------------------------------------- */

TEST(an_empty_file_is_refused)
{
    REFUSED("", "S: the file is empty; write {} for no secrets");
    REFUSED(" \n\t\r\n", "S: the file is empty; write {} for no secrets");
    REFUSED("# nothing here\n", "S: no secrets; write {} for none");
    REFUSED("---\n", "S: no secrets; write {} for none");
}

TEST(a_nul_byte_anywhere_is_refused)
{
    char why[256];
    CHECK_STR(refusal("db: " VALUE "\n\0x: y", 17, why, sizeof why),
              "S: a NUL byte on line 2 (byte 12); the file must be text");
    CHECK_STR(refusal("{\"db\": \"" VALUE "\0\"}", 18, why, sizeof why),
              "S: a NUL byte on line 1 (byte 15); the file must be text");
    REFUSED("{\"db\": \"" VALUE "\\u0000\"}",
            "S: not valid JSON (line 1, byte 15): \\u0000 in a string (a file that starts with '{' is read as JSON)");
    REFUSED("db: \"" VALUE "\\0\"\n", "S: secret 'db': a NUL byte in the value");
    REFUSED("db:\n  2: \"" VALUE "\\0\"\n", "S: secret 'db': a NUL byte in version 2");
    REFUSED("\"d\\0b\": " VALUE "\n", "S: secret 'd\\x00b': a NUL byte in a secret's name");
}

TEST(a_malformed_key_is_refused_naming_it)
{
    const char *tail = "': not a secret name (NAME or projects/PROJECT/secrets/NAME, NAME being 1 to 255 letters, "
                       "digits, '-' or '_')";
    const char *keys[] = {"db/x",          "projects/p/secrets/", "projects//secrets/db",
                          "projects/p/db", "my secret",           "projects/p/secrets/db/versions/1",
                          "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char text[512], want[512];
        snprintf(text, sizeof text, "\"%s\": " VALUE "\n", keys[i]);
        snprintf(want, sizeof want, "S: secret '%s%s", keys[i], tail);
        REFUSED(text, want);
        snprintf(text, sizeof text, "{\"%s\": \"" VALUE "\"}", keys[i]);
        REFUSED(text, want);
    }
    char text[600], want[600];
    snprintf(text, sizeof text, "%0256d: " VALUE "\n", 0); /* 256 characters: one too many */
    snprintf(want, sizeof want, "S: secret '%060d...%s", 0, tail);
    REFUSED(text, want);
    snprintf(text, sizeof text, "%0255d: ok\n", 0);
    char why[256];
    emu_secrets *s = parse(text, why, sizeof why);
    CHECK(s != NULL);
    emu_secrets_free(s);
    REFUSED("\"a\\nb\": " VALUE "\n", "S: secret 'a\\x0ab': not a secret name (NAME or projects/PROJECT/secrets/NAME, "
                                      "NAME being 1 to 255 letters, digits, '-' or '_')");
    REFUSED("\"\": " VALUE "\n", "S: secret '': not a secret name (NAME or projects/PROJECT/secrets/NAME, "
                                 "NAME being 1 to 255 letters, digits, '-' or '_')");
}

TEST(a_key_given_twice_is_refused)
{
    REFUSED("db: " VALUE "\nother: x\ndb: " VALUE "\n", "S: secret 'db' is given twice");
    REFUSED("{\"db\": \"" VALUE "\", \"db\": {\"2\": \"" VALUE "\"}}", "S: secret 'db' is given twice");
    REFUSED("projects/p/secrets/db: a\nprojects/p/secrets/db: b\n", "S: secret 'projects/p/secrets/db' is given twice");
    REFUSED("db:\n  1: " VALUE "\n  2: x\n  01: y\n", "S: secret 'db': version 1 is given twice");
    REFUSED("{\"db\": {\"3\": \"" VALUE "\", \"3\": \"x\"}}", "S: secret 'db': version 3 is given twice");
}

TEST(a_version_that_is_not_a_positive_whole_number_is_refused)
{
    REFUSED("db:\n  x: " VALUE "\n", "S: secret 'db': version 'x' is not a positive whole number");
    REFUSED("db:\n  0: " VALUE "\n", "S: secret 'db': version '0' is not a positive whole number");
    REFUSED("db:\n  -1: " VALUE "\n", "S: secret 'db': version '-1' is not a positive whole number");
    REFUSED("db:\n  latest: " VALUE "\n", "S: secret 'db': version 'latest' is not a positive whole number");
    REFUSED("db:\n  1.5: " VALUE "\n", "S: secret 'db': version '1.5' is not a positive whole number");
    REFUSED("{\"db\": {\"\": \"" VALUE "\"}}", "S: secret 'db': version '' is not a positive whole number");
    REFUSED("{\"db\": {\" 1\": \"" VALUE "\"}}", "S: secret 'db': version ' 1' is not a positive whole number");
    REFUSED("db:\n  9223372036854775808: " VALUE "\n",
            "S: secret 'db': version '9223372036854775808' is larger than 9223372036854775807");
    REFUSED("db: {}\n", "S: secret 'db': no versions; give a string or a map {VERSION: string}");
    REFUSED("{\"db\": {}}", "S: secret 'db': no versions; give a string or a map {VERSION: string}");
}

TEST(a_list_is_refused)
{
    REFUSED("- " VALUE "\n", "S: a list; the file is a map of secrets ({} for none)");
    REFUSED("db: [" VALUE "]\n", "S: secret 'db': a list; a secret is a string or a map {VERSION: string}");
    REFUSED("db:\n  - " VALUE "\n", "S: secret 'db': a list; a secret is a string or a map {VERSION: string}");
    REFUSED("db:\n  1: [" VALUE "]\n", "S: secret 'db': version 1: a list; a version is a string");
    REFUSED("{\"db\": [\"" VALUE "\"]}", "S: secret 'db': a list; a secret is a string or a map {VERSION: string}");
    REFUSED("{\"db\": {\"1\": [\"" VALUE "\"]}}", "S: secret 'db': version 1: a list; a version is a string");
    REFUSED("? [a]\n: " VALUE "\n", "S: a key that is a list; a key is a secret's name");
    REFUSED("db:\n  ? [1]\n  : " VALUE "\n",
            "S: secret 'db': a version's key that is a list; a version is a positive whole number");
}

TEST(a_map_deeper_than_versions_is_refused)
{
    REFUSED("db:\n  1:\n    x: " VALUE "\n", "S: secret 'db': version 1: a map; a version is a string");
    REFUSED("{\"db\": {\"1\": {\"x\": \"" VALUE "\"}}}", "S: secret 'db': version 1: a map; a version is a string");
    REFUSED("? {a: b}\n: " VALUE "\n", "S: a key that is a map; a key is a secret's name");
    REFUSED("db:\n  ? {1: 2}\n  : " VALUE "\n",
            "S: secret 'db': a version's key that is a map; a version is a positive whole number");
}

TEST(a_json_value_that_is_not_a_string_is_refused_unquoted)
{
    REFUSED("{\"pin\": 8675309}", "S: secret 'pin': a number (quote it); a secret is a string or a map "
                                  "{VERSION: string}");
    REFUSED("{\"pin\": {\"2\": 8675309}}", "S: secret 'pin': version 2: a number (quote it); a version is a string");
    REFUSED("{\"flag\": true}", "S: secret 'flag': true or false (quote it); a secret is a string or a map "
                                "{VERSION: string}");
    REFUSED("{\"flag\": {\"1\": false}}",
            "S: secret 'flag': version 1: true or false (quote it); a version is a string");
    REFUSED("{\"none\": null}", "S: secret 'none': null; a secret is a string or a map {VERSION: string}");
    char why[512];
    CHECK_NOT_CONTAINS(refusal("{\"pin\": 8675309}", 16, why, sizeof why), "8675309");
}

TEST(yaml_aliases_second_documents_and_single_values_are_refused)
{
    REFUSED("a: &x " VALUE "\nb: *x\n", "S: secret 'b': an alias; aliases are not taken, write each value out");
    REFUSED("a: &x " VALUE "\nb:\n  1: *x\n", "S: secret 'b': an alias; aliases are not taken, write each value out");
    REFUSED("a: &x " VALUE "\n*x : b\n", "S: an alias; aliases are not taken, write each value out");
    REFUSED("a: " VALUE "\n---\nb: c\n", "S: more than one YAML document; the file is one map of secrets");
    REFUSED(VALUE "\n", "S: a single value; the file is a map of secrets ({} for none)");
    REFUSED("\"" VALUE "\"\n", "S: a single value; the file is a map of secrets ({} for none)");
}

TEST(text_that_is_not_json_or_yaml_is_refused_saying_where)
{
    REFUSED_STARTING("db: \"" VALUE "\n", "S: not valid YAML (line 2: ");
    REFUSED_STARTING("db: " VALUE "\n  bad: indent\n", "S: not valid YAML (line 2: ");
    REFUSED("{\"db\": \"" VALUE "\",}", "S: not valid JSON (line 1, byte 17): an object key that is not a string (a "
                                        "file that starts with '{' is read as JSON)");
    REFUSED_STARTING("{db: " VALUE "}", "S: not valid JSON (line 1, byte 1): ");
    REFUSED_STARTING("{\"db\": \"" VALUE "\"}\n{}", "S: not valid JSON (line 2, byte 18): text after");
    REFUSED_STARTING("db: \xff" VALUE "\n", "S: not valid YAML (byte 4: ");
}

TEST(a_message_is_cut_to_the_room_given_and_a_zero_size_is_fine)
{
    char why[12];
    CHECK(emu_secrets_parse("- x", 3, "--secrets /a/long/path", why, sizeof why) == NULL);
    CHECK_STR(why, "--secrets /");
    CHECK(emu_secrets_parse("- x", 3, "S", NULL, 0) == NULL);
}

/* ---- files ------------------------------------------------------------------------------ */

static char dir[] = "/tmp/cr-secrets-test-XXXXXX";

static const char *path_in_dir(const char *name)
{
    static char path[256];
    if (dir[sizeof dir - 2] == 'X' && !mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *write_bytes(const char *name, const char *text, size_t len)
{
    const char *path = path_in_dir(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
        abort();
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

TEST(load_reads_a_file_and_names_it_in_messages)
{
    char why[512], want[512];
    const char *path = write_file("s.yaml", "db:\n  1: one\n  2: two\n");
    emu_secrets *s = emu_secrets_load(path, why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "db", NULL), "two");
    emu_secrets_free(s);
    path = write_file("bad.yaml", "db:\n  x: " VALUE "\n");
    CHECK(emu_secrets_load(path, why, sizeof why) == NULL);
    snprintf(want, sizeof want, "--secrets %s: secret 'db': version 'x' is not a positive whole number", path);
    CHECK_STR(why, want);
    path = path_in_dir("absent.json");
    CHECK(emu_secrets_load(path, why, sizeof why) == NULL);
    snprintf(want, sizeof want, "--secrets %s: No such file or directory", path);
    CHECK_STR(why, want);
}

TEST(load_refuses_a_fifo_without_waiting_on_it)
{
    char why[512], want[512];
    const char *path = path_in_dir("fifo");
    if (mkfifo(path, 0600) != 0)
        abort();
    CHECK(emu_secrets_load(path, why, sizeof why) == NULL); /* no writer: a read would block */
    snprintf(want, sizeof want, "--secrets %s: not a regular file", path);
    CHECK_STR(why, want);
    unlink(path);
}

TEST(load_refuses_a_directory)
{
    char why[512], want[512];
    const char *path = path_in_dir("");
    CHECK(emu_secrets_load(path, why, sizeof why) == NULL);
    snprintf(want, sizeof want, "--secrets %s: is a directory", path);
    CHECK_STR(why, want);
}

TEST(load_reads_one_mebibyte_and_refuses_a_byte_more)
{
    size_t max = EMU_SECRETS_FILE_MAX;
    char *text = malloc(max + 1);
    if (!text)
        abort();
    /* 1 MiB of secrets, one per 16-byte line: "s00000012: 12  \n" */
    for (size_t n = 0; n + 16 <= max; n += 16)
        snprintf(text + n, 17, "s%08zu: %-4zu\n", n / 16, n / 16 % 1000);
    char why[512];
    const char *path = write_bytes("big.yaml", text, max);
    emu_secrets *s = emu_secrets_load(path, why, sizeof why);
    CHECK(s != NULL);
    CHECK_STR(emu_secrets_lookup(s, "p", "s00000000", NULL), "0");
    CHECK_STR(emu_secrets_lookup(s, "p", "s00065535", NULL), "535");
    emu_secrets_free(s);
    text[max] = '\n';
    path = write_bytes("big.yaml", text, max + 1);
    CHECK(emu_secrets_load(path, why, sizeof why) == NULL);
    CHECK_CONTAINS(why, "larger than 1048576 bytes");
    free(text);
}

/* The runtime code's shared helpers: the last bytes of what a command wrote (podman pull's
** chatter, a ps that failed), trimmed once a read; its last line for a message. */
TEST(the_runtime_keeps_the_last_bytes_a_command_wrote_and_shows_its_last_line)
{
    char out[8];
    size_t len = 0;
    len = emu_keep_tail(out, len, sizeof out, "abc", 3);
    len = emu_keep_tail(out, len, sizeof out, "defg", 4);
    CHECK_INT((int)len, 7);
    CHECK(memcmp(out, "abcdefg", 7) == 0);
    len = emu_keep_tail(out, len, sizeof out, "hi", 2); /* drops the two oldest */
    CHECK(memcmp(out, "cdefghi", 7) == 0);
    len = emu_keep_tail(out, len, sizeof out, "0123456789", 10); /* alone more than the room */
    CHECK_INT((int)len, 7);
    CHECK(memcmp(out, "3456789", 7) == 0);
    len = emu_keep_tail(out, len, sizeof out, "", 0);
    CHECK_INT((int)len, 7);

    char big[1 << 16], kept[1024];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    len = 0;
    for (size_t at = 0; at < sizeof big; at += 4096) /* as reads of 4096 come */
        len = emu_keep_tail(kept, len, sizeof kept, big + at, 4096);
    CHECK_INT((int)len, 1023);
    CHECK(memcmp(kept, big + sizeof big - 1023, 1023) == 0);

    char text[] = "pulling\nError: \x1b[31mno such host\x07\r\n\n";
    CHECK_STR(emu_last_line(text), "Error: ?[31mno such host?");
    char none[] = "\n\r\n";
    CHECK_STR(emu_last_line(none), "");
}

int main(void)
{
    int rc = check_run();
    const char *made[] = {"s.yaml", "bad.yaml", "big.yaml", "fifo"};
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
        unlink(path_in_dir(made[i]));
    rmdir(dir);
    return rc;
}
