/*
** schema_table.h — how schema.c's field tables are written, for the files that
** hold tables of messages (schema.c: the Jobs surface; schema_iam.c:
** google.iam.v1's): the kinds of field, a field, a message, and the short
** macros the tables are written with. Only those files include it.
*/
#ifndef EMU_SCHEMA_TABLE_H
#define EMU_SCHEMA_TABLE_H

#include <stddef.h>

typedef struct emu_message emu_message; /* schema.h's */

typedef enum kind {
    K_STRING,
    K_BOOL,
    K_INT32,
    K_INT64,
    K_DOUBLE,
    K_ENUM,
    K_DURATION,
    K_TIMESTAMP,
    K_MESSAGE,
    K_MAP,
    K_BYTES,     /* base64 text */
    K_FIELD_MASK /* google.protobuf.FieldMask: "a.b,c" */
} kind;

typedef struct field {
    const char *name; /* the JSON name; the proto name is its snake_case */
    kind kind;
    int repeated;
    int oneof;                  /* members of one oneof share a number > 0 */
    const emu_message *message; /* K_MESSAGE */
    const char *type;           /* K_ENUM, K_MESSAGE: the type's full name, for messages */
} field;

struct emu_message {
    const char *type;
    const field *fields;
    const char *const *oneofs; /* oneof names by number - 1 */
};

/* The tables read best one message to a line or two. */
// clang-format off
#define S(n) {n, K_STRING, 0, 0, NULL, NULL}
#define SS(n) {n, K_STRING, 1, 0, NULL, NULL}
#define SO(n, o) {n, K_STRING, 0, o, NULL, NULL}
#define B(n) {n, K_BOOL, 0, 0, NULL, NULL}
#define BO(n, o) {n, K_BOOL, 0, o, NULL, NULL}
#define I32(n) {n, K_INT32, 0, 0, NULL, NULL}
#define I64(n) {n, K_INT64, 0, 0, NULL, NULL}
#define DBL(n) {n, K_DOUBLE, 0, 0, NULL, NULL}
#define DUR(n) {n, K_DURATION, 0, 0, NULL, NULL}
#define TS(n) {n, K_TIMESTAMP, 0, 0, NULL, NULL}
#define MAP(n) {n, K_MAP, 0, 0, NULL, NULL}
#define EN(n, t) {n, K_ENUM, 0, 0, NULL, t}
#define ENO(n, t, o) {n, K_ENUM, 0, o, NULL, t}
#define M(n, m) {n, K_MESSAGE, 0, 0, &m, NULL}
#define MO(n, m, o) {n, K_MESSAGE, 0, o, &m, NULL}
#define MS(n, m) {n, K_MESSAGE, 1, 0, &m, NULL}
#define BY(n) {n, K_BYTES, 0, 0, NULL, NULL}
#define FM(n) {n, K_FIELD_MASK, 0, 0, NULL, NULL}
#define END {NULL, K_STRING, 0, 0, NULL, NULL}
// clang-format on

#endif
