/*
 * mfile: the static metrics-file source (--metrics-file).
 *
 * Loads the per-pod table (format in table.h) at start, publishes it to a
 * source, then watches the file: a change (new inode, size, mtime or ctime;
 * atomic renames included) is seen within 250 ms by polling stat() every
 * 200 ms, re-read, and published. A bad file at start is a start-up error
 * naming the problem; a bad file later keeps the last good table and is
 * logged once per change.
 *
 * Ownership: mfile_start() returns a watcher owned by the caller, stopped
 * and freed by mfile_stop(); the source is borrowed.
 * Threading: one background thread; start/stop from the main thread.
 */
#ifndef SAT_MFILE_H
#define SAT_MFILE_H

#include <stddef.h>

#include "err.h"
#include "source.h"
#include "util.h"

struct mfile;

/* Limit on the file's size. */
#define MFILE_MAX_BYTES ((size_t)64 << 20)

SAT_WUR enum err_code mfile_start(const char *path, struct source *src, struct mfile **out,
                                  char *why, size_t why_len);
/* Stop the watcher thread and free. NULL is a no-op. */
void mfile_stop(struct mfile *m);

/* Read and parse path once (no publishing). Exposed for tests. */
SAT_WUR enum err_code mfile_load(const char *path, struct table **out, char *why, size_t why_len);

#endif
