/*
 * cfgstore: reference-counted configuration versions. See
 * include/cfgstore.h.
 */
#include "cfgstore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct cfgver {
    struct config *cfg;
    atomic_int refs; /* one for being current, one per reader */
};

struct cfgstore {
    pthread_mutex_t mu;
    struct cfgver *cur;
    uint64_t generation;
};

static struct cfgver *ver_new(struct config *c)
{
    struct cfgver *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->cfg = c;
    atomic_init(&v->refs, 1);
    return v;
}

void cfgstore_release(struct cfgver *v)
{
    if (v && atomic_fetch_sub(&v->refs, 1) == 1) {
        config_free(v->cfg);
        free(v);
    }
}

struct cfgstore *cfgstore_new(struct config *initial)
{
    struct cfgstore *s = calloc(1, sizeof(*s));
    if (!s || !(s->cur = ver_new(initial))) {
        free(s);
        config_free(initial);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->generation = 1;
    return s;
}

void cfgstore_free(struct cfgstore *s)
{
    if (!s)
        return;
    cfgstore_release(s->cur);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const struct config *cfgstore_acquire(struct cfgstore *s, struct cfgver **ver)
{
    struct cfgver *v;
    pthread_mutex_lock(&s->mu);
    v = s->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&s->mu);
    *ver = v;
    return v->cfg;
}

uint64_t cfgstore_swap(struct cfgstore *s, struct config *next)
{
    struct cfgver *v = ver_new(next), *old;
    uint64_t g;

    if (!v) {
        config_free(next);
        return cfgstore_generation(s);
    }
    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = v;
    g = ++s->generation;
    pthread_mutex_unlock(&s->mu);
    cfgstore_release(old);
    return g;
}

uint64_t cfgstore_generation(struct cfgstore *s)
{
    uint64_t g;
    pthread_mutex_lock(&s->mu);
    g = s->generation;
    pthread_mutex_unlock(&s->mu);
    return g;
}
