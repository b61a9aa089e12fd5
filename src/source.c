/*
 * source: latest-snapshot holder with a parking lot. See include/source.h.
 *
 * Waiter callbacks are collected under the lock into a private list and run
 * after it is released, so a callback may re-enter the source.
 */
#include "source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct source {
    pthread_mutex_t mu;
    char *name;
    int64_t timeout_ms;
    struct table *table; /* latest good snapshot or NULL */
    bool failed;         /* the last fetch failed */
    bool stopping;
    char why[512];
    struct source_waiter head; /* circular list of parked waiters */
    size_t parked;
    source_subscriber_fn *sub_fn;
    void *sub_arg;
    source_interest_fn *interest_fn;
    void *interest_arg;
};

bool source_table_covers(const struct table *t, const struct source_key *key)
{
    const struct table_model *m;

    if (!t)
        return false;
    if (!key)
        return true;
    if (!table_covers(t, key->ns, key->model))
        return false;
    if (key->scale_to_zero_ms <= 0)
        return true;
    m = table_find(t, key->ns, key->model);
    /* A metrics file has no success data: never idle, nothing to wait for. */
    return table_covers_all(t) || (m && table_model_success(m, key->scale_to_zero_ms, NULL));
}

const char *source_name(const struct source *s)
{
    return s->name;
}

void source_set_interest(struct source *s, source_interest_fn *fn, void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->interest_fn = fn;
    s->interest_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

static void interest(struct source *s, const struct source_key *key, int delta)
{
    source_interest_fn *fn;
    void *arg;

    pthread_mutex_lock(&s->mu);
    fn = s->interest_fn;
    arg = s->interest_arg;
    pthread_mutex_unlock(&s->mu);
    if (fn && key)
        fn(arg, key, delta);
}

void source_touch(struct source *s, const struct source_key *key)
{
    interest(s, key, 0);
}

void source_watch(struct source *s, const struct source_key *key, int delta)
{
    interest(s, key, delta);
}

int64_t source_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct source *source_new(const char *name, int64_t timeout_ms)
{
    struct source *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->name = strdup(name ? name : "source");
    if (!s->name) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    s->head.next = s->head.prev = &s->head;
    return s;
}

static void unlink_waiter(struct source *s, struct source_waiter *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->parked = false;
    s->parked--;
}

enum take_mode { TAKE_ALL, TAKE_EXPIRED, TAKE_COVERED };

/* Move parked waiters (all, expired ones, or those the current table
 * covers) to a private chain. */
static struct source_waiter *take_waiters(struct source *s, enum take_mode mode, int64_t now)
{
    struct source_waiter *out = NULL, *w = s->head.next;

    while (w != &s->head) {
        struct source_waiter *next = w->next;
        bool take = mode == TAKE_ALL || (mode == TAKE_EXPIRED && w->deadline_ms <= now) ||
                    (mode == TAKE_COVERED &&
                     source_table_covers(s->table, w->key.ns ? &w->key : NULL));
        if (take) {
            unlink_waiter(s, w);
            w->next = out; /* reuse next as the private chain link */
            out = w;
        }
        w = next;
    }
    return out;
}

static size_t run_waiters(struct source_waiter *chain, enum err_code rc)
{
    size_t n = 0;
    while (chain) {
        struct source_waiter *next = chain->next;
        chain->next = NULL;
        chain->fn(chain, rc);
        chain = next;
        n++;
    }
    return n;
}

void source_free(struct source *s)
{
    struct source_waiter *chain;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    chain = take_waiters(s, TAKE_ALL, 0);
    pthread_mutex_unlock(&s->mu);
    run_waiters(chain, ERR_UNAVAILABLE);
    table_unref(s->table);
    pthread_mutex_destroy(&s->mu);
    free(s->name);
    free(s);
}

enum err_code source_acquire(struct source *s, const struct source_key *key, struct table **out,
                             struct source_waiter *w, int64_t deadline_ms, char *why,
                             size_t why_len)
{
    enum err_code rc;
    int64_t limit;

    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    if (key)
        source_touch(s, key);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        rc = ERR_UNAVAILABLE;
        if (why && why_len)
            snprintf(why, why_len, "%s: shutting down", s->name);
    } else if (s->failed) {
        rc = ERR_UNAVAILABLE;
        if (why && why_len)
            snprintf(why, why_len, "%s", s->why);
    } else if (source_table_covers(s->table, key)) {
        *out = table_ref(s->table);
        rc = ERR_OK;
    } else if (w) {
        if (key)
            w->key = *key;
        else
            memset(&w->key, 0, sizeof(w->key));
        limit = source_now_ms() + s->timeout_ms;
        w->deadline_ms = (deadline_ms > 0 && deadline_ms < limit) ? deadline_ms : limit;
        w->parked = true;
        w->next = &s->head;
        w->prev = s->head.prev;
        s->head.prev->next = w;
        s->head.prev = w;
        s->parked++;
        rc = ERR_AGAIN;
    } else {
        rc = ERR_UNAVAILABLE;
        if (why && why_len)
            snprintf(why, why_len, "%s: no data yet for this model", s->name);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void source_publish(struct source *s, struct table *t)
{
    struct source_waiter *chain;
    struct table *old;
    source_subscriber_fn *fn;
    void *arg;

    pthread_mutex_lock(&s->mu);
    old = s->table;
    s->table = table_ref(t);
    s->failed = false;
    s->why[0] = '\0';
    chain = take_waiters(s, TAKE_COVERED, 0);
    fn = s->sub_fn;
    arg = s->sub_arg;
    pthread_mutex_unlock(&s->mu);
    table_unref(old);
    run_waiters(chain, ERR_OK);
    if (fn)
        fn(arg, s, t);
}

void source_fail(struct source *s, const char *why)
{
    struct source_waiter *chain;

    pthread_mutex_lock(&s->mu);
    s->failed = true;
    snprintf(s->why, sizeof(s->why), "%s", why ? why : "fetch failed");
    chain = take_waiters(s, TAKE_ALL, 0);
    pthread_mutex_unlock(&s->mu);
    run_waiters(chain, ERR_UNAVAILABLE);
}

size_t source_expire(struct source *s, int64_t now_ms)
{
    struct source_waiter *chain;

    pthread_mutex_lock(&s->mu);
    chain = s->parked ? take_waiters(s, TAKE_EXPIRED, now_ms) : NULL;
    pthread_mutex_unlock(&s->mu);
    return run_waiters(chain, ERR_TIMEOUT);
}

bool source_cancel(struct source *s, struct source_waiter *w)
{
    bool was;

    pthread_mutex_lock(&s->mu);
    was = w->parked;
    if (was)
        unlink_waiter(s, w);
    pthread_mutex_unlock(&s->mu);
    return was;
}

size_t source_parked_count(struct source *s)
{
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->parked;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void source_subscribe(struct source *s, source_subscriber_fn *fn, void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->sub_fn = fn;
    s->sub_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

struct table *source_current(struct source *s)
{
    struct table *t;
    pthread_mutex_lock(&s->mu);
    t = s->table ? table_ref(s->table) : NULL;
    pthread_mutex_unlock(&s->mu);
    return t;
}
