/*
** logs_cursor.h — one task's log file as one entries:list request reads it:
** its lines, forwards or backwards, one at a time, those a filter keeps,
** through a few fixed-size windows of the file (a request's memory does not
** grow with the size of the logs). api_logs.c merges the cursors of every
** task it reads into time order.
*/
#ifndef EMU_LOGS_CURSOR_H
#define EMU_LOGS_CURSOR_H

#include <stdint.h>

#include "logs_filter.h"
#include "store.h"

#define EMU_LOG_WINDOW (64 * 1024) /* bytes of a file read at once */
#define EMU_LOG_WINDOWS 8          /* windows a request keeps (its cursors share them) */

typedef struct emu_log_window {
    int cursor;    /* whose file (its id), -1: empty */
    int64_t off;   /* where in it: a multiple of EMU_LOG_WINDOW */
    size_t len;    /* bytes read */
    uint64_t used; /* for least-recently-used replacement */
    char *data;    /* EMU_LOG_WINDOW bytes */
} emu_log_window;

/* The windows of one request; zeroed, then emu_log_reader_init. */
typedef struct emu_log_reader {
    emu_log_window w[EMU_LOG_WINDOWS];
    char *mem;
    uint64_t tick;
} emu_log_reader;

/*
** A task's log. The caller sets path, marks and id (unique within the
** request) and keeps them alive; the marks' times must never go down from one
** mark to the next (api_logs.c makes them so), which makes the file's order
** its lines' time order. A line is dated by the last mark at or before its
** first byte (the first mark for lines before it).
*/
typedef struct emu_log_cursor {
    const char *path;
    const emu_log_mark *marks;
    int nmarks;
    int id;
    int64_t size; /* the file's size when opened: all this request reads of it */
    int64_t pos;  /* forwards: the next line starts at or after it; backwards: lines start before it */
    /* the line at hand, once emu_log_cursor_head found one */
    int64_t start, end; /* its bytes [start, end), the newline not included */
    int64_t ns;
    int attempt;
} emu_log_cursor;

/* 0, or -1 when out of memory. */
int emu_log_reader_init(emu_log_reader *rd);
void emu_log_reader_free(emu_log_reader *rd);

/* Takes the file's size (0 when it is missing or not a regular file) and
** puts pos at the first line (forwards) or past the last (backwards). */
void emu_log_cursor_open(emu_log_cursor *c, int backwards);

/*
** Puts pos where a page token says the next page starts: at the first line
** whose key (ns, seq, task) comes after from's — or, in the task from names,
** at from->pos. `later` says whether this task's lines sort after from's
** task's lines of the same time. The same in both directions: forwards the
** page goes on from there, backwards it goes on before it.
*/
void emu_log_cursor_seek(emu_log_reader *rd, emu_log_cursor *c, const emu_logs_position *from, int same, int later);

/* Finds the next line the filter keeps, from pos in the direction given:
** 1 (start, end, ns, attempt set), or 0 when there is none. */
int emu_log_cursor_head(emu_log_reader *rd, emu_log_cursor *c, const emu_logs_filter *f, int backwards);

/* Moves past the line at hand. */
void emu_log_cursor_next(emu_log_cursor *c, int backwards);

/* The first max bytes of the line at hand (malloc'd, NUL-terminated; *len
** set), or NULL when out of memory. *cut: the line was longer. */
char *emu_log_cursor_text(emu_log_reader *rd, emu_log_cursor *c, size_t max, size_t *len, int *cut);

#endif
