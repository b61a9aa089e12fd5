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

/* What a request needs from a snapshot: a model, and optionally its
 * successful-request increase over a scale-to-zero retention. */
struct source_key {
    const char *ns;
    const char *model;
    int64_t scale_to_zero_ms; /* 0 = not needed */
};

/* Whether t answers for key (see table_covers()). */
bool source_table_covers(const struct table *t, const struct source_key *key);

struct source_waiter {
    /* rc: ERR_OK (a snapshot covering the key exists now), ERR_UNAVAILABLE
     * (the fetch failed) or ERR_TIMEOUT (deadline passed). */
    void (*fn)(struct source_waiter *w, enum err_code rc);
    /* Private to the source. */
    struct source_waiter *prev, *next;
    int64_t deadline_ms;
    bool parked;
    struct source_key key; /* strings borrowed from the waiter's owner */
};

struct source;
/* Called after every successful publish with the new table (borrowed). */
typedef void source_subscriber_fn(void *arg, struct source *s, struct table *t);
/* Called by source_acquire()/source_touch() with the key asked for, before
 * anything else, without the source's lock: an interest-driven source (the
 * Prometheus fetcher) records the model and wakes its fetcher when the model
 * is new. Runs on RPC threads: it must not block. */
typedef void source_interest_fn(void *arg, const struct source_key *key, int watch_delta);

/* name: for messages ("metrics file", "prometheus \"default\""). timeout_ms:
 * the longest a waiter may stay parked. Returns NULL when out of memory. */
struct source *source_new(const char *name, int64_t timeout_ms);
/* Frees the source; parked waiters are called with ERR_UNAVAILABLE first.
 * NULL is a no-op. */
void source_free(struct source *s);

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
int64_t source_now_ms(void);

/*
 * The latest snapshot for key (NULL: any snapshot): ERR_OK with *out
 * referenced; ERR_UNAVAILABLE with why when the last fetch failed (or the
 * source is stopping); or, when no fetched snapshot covers the key yet:
 * ERR_AGAIN with w parked (w->key set from key) until a publish covers it
 * or deadline_ms passes (monotonic; <= 0 = none; never later than now +
 * the source's timeout), or ERR_UNAVAILABLE when w is NULL.
 */
SAT_WUR enum err_code source_acquire(struct source *s, const struct source_key *key,
                                     struct table **out, struct source_waiter *w,
                                     int64_t deadline_ms, char *why, size_t why_len);

/* Tell the interest hook about key without acquiring (streams). */
void source_touch(struct source *s, const struct source_key *key);
/* A stream starts (+1) or stops (-1) watching key: a watched model stays
 * of interest however long nobody asks about it. */
void source_watch(struct source *s, const struct source_key *key, int delta);
void source_set_interest(struct source *s, source_interest_fn *fn, void *arg);
/* The source's name, as given to source_new(). */
const char *source_name(const struct source *s);

/* Publish a new snapshot (the source takes its own reference). Waiters
 * whose key t covers are called with ERR_OK; the others stay parked. */
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
