/*
 * source: the holder of a data source's latest saturation snapshot, with
 * the parking lot for requests that arrive before the first snapshot and
 * the subscriber list for streams.
 *
 * A data source (the static metrics file, Prometheus) publishes immutable,
 * reference-counted tables here (source_publish) or reports a failed fetch
 * (source_fail). RPC handlers call source_acquire(): it never blocks. It
 * answers from the latest snapshot, or UNAVAILABLE at once when the last
 * fetch failed, or, while the first fetch is still in flight, parks the
 * caller's waiter and returns ERR_AGAIN; the waiter's callback runs exactly
 * once: when a snapshot or a failure is published, or when its deadline
 * (never later than now + the source's timeout) passes in source_expire().
 *
 * Ownership: the caller owns each struct source_waiter and must keep it
 * alive until its callback ran or source_cancel() returned true.
 * source_acquire() hands out a table reference the caller drops with
 * table_unref().
 *
 * Threading: every function is thread-safe. Callbacks (waiters and
 * subscribers) run on the publishing thread (or the thread calling
 * source_expire), without the source's lock held, so they may call
 * source_acquire().
 */
#ifndef SAT_SOURCE_H
#define SAT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "table.h"
#include "util.h"

struct source;

struct source_waiter {
    /* rc: ERR_OK (a snapshot exists now), ERR_UNAVAILABLE (the fetch
     * failed) or ERR_TIMEOUT (deadline passed). */
    void (*fn)(struct source_waiter *w, enum err_code rc);
    /* Private to the source. */
    struct source_waiter *prev, *next;
    int64_t deadline_ms;
    bool parked;
};

/* Called after every successful publish with the new table (borrowed). */
typedef void source_subscriber_fn(void *arg, struct table *t);

/* name: for messages ("metrics file", "prometheus \"default\""). timeout_ms:
 * the longest a waiter may stay parked. Returns NULL when out of memory. */
struct source *source_new(const char *name, int64_t timeout_ms);
/* Frees the source; parked waiters are called with ERR_UNAVAILABLE first.
 * NULL is a no-op. */
void source_free(struct source *s);

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
int64_t source_now_ms(void);

/*
 * The latest snapshot: ERR_OK with *out referenced; ERR_UNAVAILABLE with
 * why when the last fetch failed (or the source is stopping); or, when no
 * fetch finished yet: ERR_AGAIN with w parked until deadline_ms
 * (monotonic; <= 0 = none), or ERR_UNAVAILABLE when w is NULL.
 */
SAT_WUR enum err_code source_acquire(struct source *s, struct table **out,
                                     struct source_waiter *w, int64_t deadline_ms, char *why,
                                     size_t why_len);

/* Publish a new snapshot (the source takes its own reference). */
void source_publish(struct source *s, struct table *t);
/* Record a failed fetch; why is copied. Parked waiters get ERR_UNAVAILABLE. */
void source_fail(struct source *s, const char *why);

/* Call every waiter whose deadline is <= now_ms with ERR_TIMEOUT; returns
 * how many expired. */
size_t source_expire(struct source *s, int64_t now_ms);
/* Unpark w; true when it was parked (its callback will not run). */
bool source_cancel(struct source *s, struct source_waiter *w);
size_t source_parked_count(struct source *s);

/* One subscriber (the stream registry); replaces any previous one. */
void source_subscribe(struct source *s, source_subscriber_fn *fn, void *arg);

/* The current table (referenced) or NULL, whatever the state. */
struct table *source_current(struct source *s);

#endif
