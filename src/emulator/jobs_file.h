/*
** jobs_file.h — the --jobs file: a ListJobs-shaped document ({"jobs":
** [Job, ...]} or a bare list of Jobs, each with its full name) read into the
** store, every Job held to the same rules as a CreateJob body.
*/
#ifndef EMU_JOBS_FILE_H
#define EMU_JOBS_FILE_H

#include <stddef.h>

#include "store.h"

/* At most this many bytes are read from a --jobs file. */
#define EMU_JOBS_FILE_MAX (16u * 1024 * 1024)

/*
** Adds the jobs of a document (len bytes of text) to the store (no mutex
** needed: nothing else runs yet). Returns the number of jobs added, or -1 with
** why (why_size > 0) saying what is wrong and where ("jobs[1].name: ...",
** "not valid JSON (near line 3, byte 40): ..."); jobs before the fault stay
** added.
*/
int emu_jobs_load(emu_store *s, const char *text, size_t len, char *why, size_t why_size);

/* Reads the file at path (cr_read_file_max: a regular file of at most
** EMU_JOBS_FILE_MAX bytes; a FIFO, device or directory refused at once) and
** loads it; -1 with why, a message that names the file ("--jobs PATH: ..."). */
int emu_jobs_load_file(emu_store *s, const char *path, char *why, size_t why_size);

#endif
