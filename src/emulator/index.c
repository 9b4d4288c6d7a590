/*
** index.c — the hash table behind the store's lookups: FNV-1a, a power-of-two
** table kept at most 70% full, linear probing, backward-shift deletion.
*/
#include <stdlib.h>
#include <string.h>

#include "index.h"

static uint64_t hash_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const emu_index *ix, const char *key, uint64_t h)
{
    size_t mask = ix->cap - 1, i = (size_t)h & mask;
    while (ix->slots[i].key && (ix->slots[i].hash != h || strcmp(ix->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

void *emu_index_get(const emu_index *ix, const char *key)
{
    if (!ix->cap)
        return NULL;
    size_t i = probe(ix, key, hash_of(key));
    return ix->slots[i].key ? ix->slots[i].value : NULL;
}

static int grow(emu_index *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 64;
    emu_index_slot *slots = calloc(ncap, sizeof *slots);
    if (!slots)
        return -1;
    emu_index bigger = {slots, ncap, 0};
    for (size_t i = 0; i < ix->cap; i++) {
        if (ix->slots[i].key) {
            size_t j = probe(&bigger, ix->slots[i].key, ix->slots[i].hash);
            bigger.slots[j] = ix->slots[i];
            bigger.n++;
        }
    }
    free(ix->slots);
    *ix = bigger;
    return 0;
}

int emu_index_put(emu_index *ix, const char *key, void *value)
{
    if ((ix->n + 1) * 10 > ix->cap * 7 && grow(ix) < 0)
        return -1;
    uint64_t h = hash_of(key);
    size_t i = probe(ix, key, h);
    if (!ix->slots[i].key)
        ix->n++;
    ix->slots[i] = (emu_index_slot){key, value, h};
    return 0;
}

void emu_index_remove(emu_index *ix, const char *key)
{
    if (!ix->cap)
        return;
    size_t mask = ix->cap - 1, i = probe(ix, key, hash_of(key));
    if (!ix->slots[i].key)
        return;
    ix->slots[i].key = NULL;
    ix->n--;
    /* Backward shift: pull later members of the run into the hole when their home allows it. */
    for (size_t j = (i + 1) & mask; ix->slots[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)ix->slots[j].hash & mask;
        /* the entry at j may move to i when its home is not in the cyclic range (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            ix->slots[i] = ix->slots[j];
            ix->slots[j].key = NULL;
            i = j;
        }
    }
}

void emu_index_free(emu_index *ix)
{
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}
