/*
 * Unit tests for cfgstore: the initial version and generation 1, swaps
 * (generation + 1 each, acquire returning the new version), a version held
 * across swaps staying intact until its last release (read after the swap:
 * ASan reports a premature free, LeakSanitizer a missed one), releases in
 * any order, NULL no-ops, and readers racing a swapper (every version a
 * reader sees is whole, never older than the generation before acquire,
 * and still whole after later swaps).
 *
 * Configs are real ones from config_parse(); version k carries k in two
 * places (defaults.minReplicas and the override's maxReplicas), so a
 * reader can check it sees one consistent version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgstore.h"
#include "config.h"

/* Version k of the config. */
static struct config *make(int k)
{
    char json[512], why[CONFIG_WHY_LEN];
    struct config *c = NULL;
    enum err_code rc;

    snprintf(json, sizeof(json),
             "{\"defaults\":{\"minReplicas\":%d},"
             "\"overrides\":[{\"model\":\"model-%d\",\"maxReplicas\":%d}]}",
             k, k, k);
    rc = config_parse(json, strlen(json), &c, why, sizeof(why));
    if (rc)
        print_error("config: %s\n", why);
    assert_int_equal(rc, ERR_OK);
    assert_non_null(c);
    return c;
}

/* The k a config was made with, or -1 when it is not whole. */
static int version_of(const struct config *c)
{
    char model[32];
    int k;

    if (!c || c->n_overrides != 1 || !meta_decision_has(&c->defaults, META_MIN_REPLICAS))
        return -1;
    k = (int)c->defaults.min_replicas;
    snprintf(model, sizeof(model), "model-%d", k);
    if (c->overrides[0].decision.max_replicas != k || strcmp(c->overrides[0].model, model) != 0)
        return -1;
    return k;
}

static void test_initial(void **state)
{
    struct config *c = make(1);
    struct cfgstore *s = cfgstore_new(c);
    struct cfgver *v1 = NULL, *v2 = NULL;
    const struct config *got1, *got2;
    (void)state;

    assert_non_null(s);
    assert_int_equal(cfgstore_generation(s), 1);
    got1 = cfgstore_acquire(s, &v1);
    got2 = cfgstore_acquire(s, &v2);
    assert_ptr_equal(got1, c); /* the very config handed over */
    assert_ptr_equal(got2, c);
    assert_non_null(v1);
    assert_ptr_equal(v1, v2); /* one version, two references */
    assert_int_equal(version_of(got1), 1);
    cfgstore_release(v1);
    cfgstore_release(v2);
    /* released twice: still current, still whole */
    got1 = cfgstore_acquire(s, &v1);
    assert_int_equal(version_of(got1), 1);
    cfgstore_release(v1);
    assert_int_equal(cfgstore_generation(s), 1);
    cfgstore_free(s); /* frees the config it owns (LeakSanitizer) */
}

static void test_swap(void **state)
{
    struct cfgstore *s = cfgstore_new(make(1));
    struct cfgver *v;
    const struct config *got;
    int k;
    (void)state;

    for (k = 2; k <= 10; k++) {
        struct config *next = make(k);
        assert_int_equal(cfgstore_swap(s, next), (uint64_t)k);
        assert_int_equal(cfgstore_generation(s), (uint64_t)k);
        got = cfgstore_acquire(s, &v);
        assert_ptr_equal(got, next);
        assert_int_equal(version_of(got), k);
        cfgstore_release(v);
    }
    cfgstore_free(s);
}

/* A version stays whole while referenced, across any number of swaps, and
 * goes with its last release, in whatever order those come. */
static void test_held_across_swaps(void **state)
{
    struct cfgstore *s = cfgstore_new(make(1));
    struct cfgver *a1, *a2, *b1, *c1;
    const struct config *a, *a_again, *b, *c;
    (void)state;

    a = cfgstore_acquire(s, &a1);
    a_again = cfgstore_acquire(s, &a2);
    assert_int_equal(cfgstore_swap(s, make(2)), 2);
    b = cfgstore_acquire(s, &b1);
    assert_int_equal(cfgstore_swap(s, make(3)), 3);
    assert_int_equal(cfgstore_swap(s, make(4)), 4); /* 3: never referenced, freed now */
    c = cfgstore_acquire(s, &c1);

    assert_ptr_equal(a, a_again);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(b, c);
    /* old versions read after the swaps (a premature free: ASan) */
    assert_int_equal(version_of(a), 1);
    assert_int_equal(version_of(b), 2);
    assert_int_equal(version_of(c), 4);
    assert_string_equal(a->overrides[0].model, "model-1");

    cfgstore_release(a1);
    assert_int_equal(version_of(a_again), 1); /* one reference left */
    cfgstore_release(b1);                     /* b goes, a stays */
    assert_int_equal(version_of(a_again), 1);
    cfgstore_release(c1); /* current: the store still holds it */
    {
        struct cfgver *v;
        assert_int_equal(version_of(cfgstore_acquire(s, &v)), 4);
        cfgstore_release(v);
    }
    cfgstore_release(a2); /* a goes */
    cfgstore_free(s);
}

/* A reference outliving a swap keeps its version; the store can be freed
 * once it is released (the contract: no reference held at free). */
static void test_release_after_last_swap(void **state)
{
    struct cfgstore *s = cfgstore_new(make(7));
    struct cfgver *v;
    const struct config *c = cfgstore_acquire(s, &v);
    (void)state;

    assert_int_equal(cfgstore_swap(s, make(8)), 2);
    assert_int_equal(cfgstore_swap(s, make(9)), 3);
    assert_int_equal(version_of(c), 7);
    cfgstore_release(v);
    cfgstore_free(s);
}

static void test_null(void **state)
{
    (void)state;
    cfgstore_release(NULL);
    cfgstore_free(NULL);
}

/* ---- readers racing a swapper ------------------------------------------------- */

enum { READERS = 4, SWAPS = 300 };

struct race {
    struct cfgstore *s;
    atomic_bool done;
    atomic_int bad; /* torn or stale versions seen */
    atomic_long reads;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->done) || atomic_load(&r->reads) < 1000) {
        struct cfgver *v;
        uint64_t before = cfgstore_generation(r->s), after;
        const struct config *c = cfgstore_acquire(r->s, &v);
        int k = version_of(c);
        after = cfgstore_generation(r->s);
        /* version k is generation k: current at some point in [before, after] */
        if (k < 0 || (uint64_t)k < before || (uint64_t)k > after)
            atomic_fetch_add(&r->bad, 1);
        sched_yield(); /* let swaps happen while we hold it */
        if (version_of(c) != k)
            atomic_fetch_add(&r->bad, 1);
        cfgstore_release(v);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct race r;
    pthread_t t[READERS];
    struct cfgver *v;
    int i;
    (void)state;

    r.s = cfgstore_new(make(1));
    assert_non_null(r.s);
    atomic_init(&r.done, false);
    atomic_init(&r.bad, 0);
    atomic_init(&r.reads, 0);
    for (i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
    for (i = 2; i <= SWAPS; i++) {
        struct config *next = make(i); /* parsed outside the store's lock */
        if (cfgstore_swap(r.s, next) != (uint64_t)i)
            atomic_fetch_add(&r.bad, 1);
        if (i % 16 == 0)
            sched_yield();
    }
    atomic_store(&r.done, true);
    for (i = 0; i < READERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.reads) >= 1000);
    assert_int_equal(cfgstore_generation(r.s), SWAPS);
    assert_int_equal(version_of(cfgstore_acquire(r.s, &v)), SWAPS);
    cfgstore_release(v);
    cfgstore_free(r.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial),
        cmocka_unit_test(test_swap),
        cmocka_unit_test(test_held_across_swaps),
        cmocka_unit_test(test_release_after_last_swap),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
