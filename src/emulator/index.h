/*
** index.h — a string-keyed hash table (open addressing, linear probing,
** deletion by backward shift: no tombstones, so a table that sees endless
** adds and removes stays as large as its largest moment and no larger).
** Keys are borrowed from the values they lead to and must outlive their entry.
*/
#ifndef EMU_INDEX_H
#define EMU_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct emu_index_slot {
    const char *key; /* NULL: empty */
    void *value;
    uint64_t hash;
} emu_index_slot;

typedef struct emu_index {
    emu_index_slot *slots; /* cap slots, cap a power of two (0 before the first put) */
    size_t cap, n;
} emu_index;

/* The value under key, or NULL. */
void *emu_index_get(const emu_index *ix, const char *key);

/* Puts key -> value (replacing a value under the same key). 0, or -1 out of memory. */
int emu_index_put(emu_index *ix, const char *key, void *value);

/* Removes key if present. */
void emu_index_remove(emu_index *ix, const char *key);

/* Frees the table (not the keys or values); the index is empty and reusable after. */
void emu_index_free(emu_index *ix);

#endif
