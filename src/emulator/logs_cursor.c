/*
** logs_cursor.c — a task's log read line by line in either direction through
** a request's few windows of EMU_LOG_WINDOW bytes: a line is found by
** scanning for newlines, never by holding the file. The marks date the lines
** and let a filter on time or attempt skip a whole stretch of the file at
** once (each mark's stretch is kept or skipped whole).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs_cursor.h"

int emu_log_reader_init(emu_log_reader *rd)
{
    memset(rd, 0, sizeof *rd);
    rd->mem = malloc((size_t)EMU_LOG_WINDOWS * EMU_LOG_WINDOW);
    if (!rd->mem)
        return -1;
    for (int i = 0; i < EMU_LOG_WINDOWS; i++) {
        rd->w[i].cursor = -1;
        rd->w[i].data = rd->mem + (size_t)i * EMU_LOG_WINDOW;
    }
    return 0;
}

void emu_log_reader_free(emu_log_reader *rd)
{
    free(rd->mem);
    rd->mem = NULL;
}

/*
** The window holding byte `off` (< c->size) of c's file, read when no window
** has it (into the least recently used one). NULL when the file no longer
** has that byte (deleted with its execution meanwhile): the cursor then takes
** the file to end where its bytes did.
*/
static const emu_log_window *window(emu_log_reader *rd, emu_log_cursor *c, int64_t off)
{
    int64_t base = off - off % EMU_LOG_WINDOW;
    emu_log_window *slot = &rd->w[0];
    for (int i = 0; i < EMU_LOG_WINDOWS; i++) {
        emu_log_window *w = &rd->w[i];
        if (w->cursor == c->id && w->off == base) {
            slot = w;
            if (off < base + (int64_t)w->len) {
                w->used = ++rd->tick;
                return w;
            }
            break;
        }
        if (w->used < slot->used)
            slot = w;
    }
    int64_t rest = c->size - base;
    size_t want = rest < EMU_LOG_WINDOW ? (size_t)rest : EMU_LOG_WINDOW, got = 0;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    while (fd >= 0 && got < want) {
        ssize_t n = pread(fd, slot->data + got, want - got, (off_t)(base + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    slot->cursor = c->id;
    slot->off = base;
    slot->len = got;
    slot->used = ++rd->tick;
    if (off >= base + (int64_t)got) {
        c->size = base + (int64_t)got;
        return NULL;
    }
    return slot;
}

/* Where the first newline at or after `from` is, or c->size when none is. */
static int64_t line_end(emu_log_reader *rd, emu_log_cursor *c, int64_t from)
{
    for (int64_t at = from; at < c->size;) {
        const emu_log_window *w = window(rd, c, at);
        if (!w)
            break;
        const char *p = w->data + (at - w->off);
        size_t n = w->len - (size_t)(at - w->off);
        const char *nl = memchr(p, '\n', n);
        if (nl)
            return at + (nl - p);
        at += (int64_t)n;
    }
    return c->size;
}

/* The last line start before `bound` (> 0): after the last newline before
** bound - 1, or 0. -1 when the file could not be read. */
static int64_t line_start_before(emu_log_reader *rd, emu_log_cursor *c, int64_t bound)
{
    for (int64_t upto = bound - 1; upto > 0;) {
        const emu_log_window *w = window(rd, c, upto - 1);
        if (!w)
            return -1;
        const char *nl = memrchr(w->data, '\n', (size_t)(upto - w->off));
        if (nl)
            return w->off + (nl - w->data) + 1;
        upto = w->off;
    }
    return 0;
}

/* The first line start at or after x (c->size when there is none). */
static int64_t align(emu_log_reader *rd, emu_log_cursor *c, int64_t x)
{
    if (x <= 0)
        return 0;
    if (x >= c->size)
        return c->size;
    int64_t nl = line_end(rd, c, x - 1);
    return nl >= c->size ? c->size : nl + 1;
}

/* The mark that dates a line starting at `off`: the last at or before it, else the first. */
static int mark_index(const emu_log_cursor *c, int64_t off)
{
    int lo = 0, hi = c->nmarks - 1, found = 0;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->marks[mid].offset <= off) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static int kept(const emu_logs_filter *f, const emu_log_mark *m)
{
    return m->ns >= f->after_ns && m->ns < f->before_ns && (f->attempt < 0 || m->attempt == f->attempt);
}

void emu_log_cursor_open(emu_log_cursor *c, int backwards)
{
    struct stat st;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    c->size = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
    if (fd >= 0)
        close(fd);
    c->pos = backwards ? c->size : 0;
}

void emu_log_cursor_seek(emu_log_reader *rd, emu_log_cursor *c, const emu_logs_position *from, int same, int later)
{
    if (same) {
        c->pos = align(rd, c, from->pos);
        return;
    }
    /* lines of the same time come after from's in a later task, before them in an earlier one */
    int i = 0;
    while (i < c->nmarks && (later ? c->marks[i].ns < from->ns : c->marks[i].ns <= from->ns))
        i++;
    c->pos = i == c->nmarks ? c->size : align(rd, c, i == 0 ? 0 : c->marks[i].offset);
}

int emu_log_cursor_head(emu_log_reader *rd, emu_log_cursor *c, const emu_logs_filter *f, int backwards)
{
    if (c->nmarks == 0)
        return 0; /* nothing was ever written (a file without marks is not the task's output) */
    for (;;) {
        int64_t start = c->pos;
        if (backwards) {
            if (c->pos <= 0 || (start = line_start_before(rd, c, c->pos)) < 0)
                return 0;
        } else if (c->pos >= c->size) {
            return 0;
        }
        int i = mark_index(c, start);
        const emu_log_mark *m = &c->marks[i];
        if (!kept(f, m)) {
            /* skip the mark's whole stretch; times never go down, so past a time bound nothing is kept */
            int64_t to;
            if (backwards) {
                if (i == 0 || m->ns < f->after_ns || (to = align(rd, c, m->offset)) >= c->pos)
                    return 0;
            } else if (i + 1 == c->nmarks || m->ns >= f->before_ns ||
                       (to = align(rd, c, c->marks[i + 1].offset)) <= c->pos) {
                return 0;
            }
            c->pos = to;
            continue;
        }
        c->start = start;
        if (backwards) {
            const emu_log_window *w = window(rd, c, c->pos - 1);
            if (!w)
                return 0;
            c->end = w->data[c->pos - 1 - w->off] == '\n' ? c->pos - 1 : c->pos;
        } else {
            c->end = line_end(rd, c, start);
            if (start >= c->size) /* the file was gone when read */
                return 0;
        }
        c->ns = m->ns;
        c->attempt = m->attempt;
        return 1;
    }
}

void emu_log_cursor_next(emu_log_cursor *c, int backwards)
{
    if (backwards)
        c->pos = c->start;
    else
        c->pos = c->end < c->size ? c->end + 1 : c->size;
}

char *emu_log_cursor_text(emu_log_reader *rd, emu_log_cursor *c, size_t max, size_t *len, int *cut)
{
    size_t n = (size_t)(c->end - c->start);
    *cut = n > max;
    if (*cut)
        n = max;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t got = 0;
    while (got < n) {
        int64_t at = c->start + (int64_t)got;
        const emu_log_window *w = window(rd, c, at);
        if (!w)
            break;
        size_t have = w->len - (size_t)(at - w->off);
        size_t take = have < n - got ? have : n - got;
        memcpy(out + got, w->data + (at - w->off), take);
        got += take;
    }
    out[got] = '\0';
    *len = got;
    return out;
}
