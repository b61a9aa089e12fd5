/*
 * Unit tests for promjoin: the join of a refresh's answers (promjoin_rows,
 * which prom.c's fetch_group runs): a table of cases, and random answers
 * against a reference that does what prom.c did before (a binary search per
 * sample, a stable sort of all rows, merging neighbours).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "promjoin.h"
#include "promresp.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the join ----------------------------------------------------------- */

static struct promresp_sample sample(const char *ns, const char *model, const char *pod,
                                     const char *pod_name, const char *instance,
                                     const char *variant, double v, bool finite)
{
    struct promresp_sample s;
    memset(&s, 0, sizeof(s));
    s.namespace_ = ns;
    s.model_name = model;
    s.pod = pod;
    s.pod_name = pod_name;
    s.instance = instance;
    s.llm_d_ai_variant = variant;
    s.value = v;
    s.finite = finite;
    return s;
}

static void test_join(void **state)
{
    static const char *const ns[] = {"a", "a", "b", "c"}, *const models[] = {"m1", "m2", "m1", "m"};
    struct promresp_sample kv_s[] = {
        sample("a", "m2", "p2", NULL, "i1", "v1", 0.5, true),
        sample("a", "m1", "p1", NULL, NULL, NULL, NAN, false), /* NaN counts as 0 */
        sample("a", "m9", "p", NULL, NULL, NULL, 1, true),     /* nobody asked for m9 */
        sample("a", "m1", NULL, "pn", "x", NULL, 0.25, true),  /* pod_name stands in */
        sample("a", "m2", "p2", NULL, "i1", "v2", 0.75, true), /* again: the value counts */
        sample(NULL, "m1", "p1", NULL, NULL, NULL, 1, true),   /* no namespace */
        sample("a", "m1", NULL, NULL, NULL, NULL, 1, true),    /* no pod */
    };
    struct promresp_sample q_s[] = {
        sample("a", "m2", "p2", NULL, "i1", NULL, 3, true),
        sample("b", "m1", "p9", NULL, NULL, "vq", 5, true), /* queue only */
        sample("a", "m1", "p1", NULL, NULL, NULL, 4, true),
    };
    struct promresp kv = {PROMRESP_VECTOR, kv_s, N_OF(kv_s), NULL, 0};
    struct promresp q = {PROMRESP_VECTOR, q_s, N_OF(q_s), NULL, 0};
    static const struct {
        const char *ns, *model, *pod, *instance, *variant;
        double kv, queue;
        bool has_kv, has_queue;
    } want[] = {
        {"a", "m1", "p1", "", NULL, 0.0, 4, true, true},
        {"a", "m1", "pn", "x", NULL, 0.25, 0, true, false},
        {"a", "m2", "p2", "i1", "v1", 0.75, 3, true, true},
        {"b", "m1", "p9", "", "vq", 0, 5, false, true},
    };
    static const char *const unsorted[] = {"b", "a"}, *const dup[] = {"a", "a"};
    bool has_rows[4] = {true, true, true, true};
    struct promjoin_row *rows = (struct promjoin_row *)1;
    size_t n = 99, i;
    (void)state;

    assert_int_equal(promjoin_rows(ns, models, 4, &kv, &q, has_rows, &rows, &n), ERR_OK);
    assert_int_equal(n, N_OF(want));
    for (i = 0; i < n; i++) {
        print_message("row %zu\n", i);
        assert_string_equal(rows[i].ns, want[i].ns);
        assert_string_equal(rows[i].model, want[i].model);
        assert_string_equal(rows[i].pod, want[i].pod);
        assert_string_equal(rows[i].instance, want[i].instance);
        if (want[i].variant)
            assert_string_equal(rows[i].variant, want[i].variant);
        else
            assert_null(rows[i].variant);
        assert_true(rows[i].kv == want[i].kv);
        assert_true(rows[i].queue == want[i].queue);
        assert_int_equal(rows[i].has_kv, want[i].has_kv);
        assert_int_equal(rows[i].has_queue, want[i].has_queue);
    }
    assert_true(has_rows[0] && has_rows[1] && has_rows[2]);
    assert_false(has_rows[3]);
    free(rows);

    /* nothing to join: no rows, no allocation */
    assert_int_equal(promjoin_rows(ns, models, 4, NULL, NULL, has_rows, &rows, &n), ERR_OK);
    assert_null(rows);
    assert_int_equal(n, 0);
    assert_false(has_rows[0]);
    assert_int_equal(promjoin_rows(NULL, NULL, 0, &kv, &q, NULL, &rows, &n), ERR_OK);
    assert_null(rows);
    /* the models must be sorted and unique */
    assert_int_equal(promjoin_rows(unsorted, dup, 2, &kv, &q, NULL, &rows, &n), ERR_INVALID);
    assert_int_equal(promjoin_rows(dup, dup, 2, &kv, &q, NULL, &rows, &n), ERR_INVALID);
    assert_null(rows);
    assert_int_equal(n, 0);
}

/* The join as prom.c computed it before promjoin: what promjoin_rows must
 * still give. */
struct ref_row {
    struct promjoin_row r;
    size_t seq;
};

static int ref_key_cmp(const struct promjoin_row *x, const struct promjoin_row *y)
{
    int c = strcmp(x->ns, y->ns);
    if (!c)
        c = strcmp(x->model, y->model);
    if (!c)
        c = strcmp(x->pod, y->pod);
    if (!c)
        c = strcmp(x->instance, y->instance);
    return c;
}

static int ref_cmp(const void *a, const void *b)
{
    const struct ref_row *x = a, *y = b;
    int c = ref_key_cmp(&x->r, &y->r);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int pair_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    int c = strcmp(x[0], y[0]);
    return c ? c : strcmp(x[1], y[1]);
}

static size_t ref_join(const char *(*pairs)[2], size_t n, const struct promresp *parts[2],
                       bool *has_rows, struct ref_row *acc)
{
    size_t k, i, m = 0, out = 0;

    for (k = 0; k < 2; k++)
        for (i = 0; i < parts[k]->count; i++) {
            const struct promresp_sample *s = &parts[k]->samples[i];
            const char *pod = s->pod ? s->pod : s->pod_name, *key[2];
            const char *(*hit)[2];
            if (!s->namespace_ || !s->model_name || !pod)
                continue;
            key[0] = s->namespace_;
            key[1] = s->model_name;
            hit = bsearch(key, pairs, n, sizeof(*pairs), pair_cmp);
            if (!hit)
                continue;
            has_rows[hit - pairs] = true;
            memset(&acc[m], 0, sizeof(acc[m]));
            acc[m].r.ns = s->namespace_;
            acc[m].r.model = s->model_name;
            acc[m].r.pod = pod;
            acc[m].r.instance = s->instance ? s->instance : "";
            acc[m].r.variant = s->llm_d_ai_variant;
            if (k == 0) {
                acc[m].r.kv = s->finite ? s->value : 0.0;
                acc[m].r.has_kv = true;
            } else {
                acc[m].r.queue = s->finite ? s->value : 0.0;
                acc[m].r.has_queue = true;
            }
            acc[m].seq = m;
            m++;
        }
    qsort(acc, m, sizeof(*acc), ref_cmp); /* seq as the last key: stable */
    for (i = 0; i < m; i++) {
        if (out > 0 && ref_key_cmp(&acc[out - 1].r, &acc[i].r) == 0) {
            if (acc[i].r.has_kv) {
                acc[out - 1].r.kv = acc[i].r.kv;
                acc[out - 1].r.has_kv = true;
            }
            if (acc[i].r.has_queue) {
                acc[out - 1].r.queue = acc[i].r.queue;
                acc[out - 1].r.has_queue = true;
            }
            continue;
        }
        acc[out++] = acc[i];
    }
    return out;
}

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) % n;
}

static void test_join_reference(void **state)
{
    enum { MODELS = 40, SAMPLES = 400, ROUNDS = 200 };
    static const char *const nss[] = {"a", "b", "llm", "llm-2"};
    static const char *const pods[] = {"p0", "p1", "p10", "p2", "p-x", "pod"};
    static const char *const insts[] = {"10.0.0.1:8000", "10.0.0.1:8001", "10.0.0.2:8000"};
    static const char *const variants[] = {"v1", "v2"};
    char names[64][16];
    const char *pairs[MODELS][2];
    const char *ns[MODELS], *models[MODELS];
    struct promresp_sample s[2][SAMPLES];
    struct promresp kv = {PROMRESP_VECTOR, s[0], 0, NULL, 0};
    struct promresp q = {PROMRESP_VECTOR, s[1], 0, NULL, 0};
    const struct promresp *parts[2] = {&kv, &q};
    struct ref_row *ref = malloc(2 * SAMPLES * sizeof(*ref));
    bool has_ref[MODELS], has_got[MODELS];
    unsigned seed = 7;
    size_t round, i, k, n_models, n_ref, n_got;
    (void)state;

    assert_non_null(ref);
    for (i = 0; i < 64; i++)
        snprintf(names[i], sizeof(names[i]), "org/m-%zu", i);
    for (round = 0; round < ROUNDS; round++) {
        struct promjoin_row *got = NULL;
        /* a sorted, unique interest set */
        n_models = 0;
        for (i = 0; i < MODELS; i++) {
            const char *p0 = nss[rnd(&seed, 4)], *p1 = names[rnd(&seed, 64)];
            for (k = 0; k < n_models && pair_cmp(pairs[k], (const char *[]){p0, p1}); k++)
                ;
            if (k < n_models)
                continue;
            pairs[n_models][0] = p0;
            pairs[n_models][1] = p1;
            n_models++;
        }
        qsort(pairs, n_models, sizeof(pairs[0]), pair_cmp);
        for (i = 0; i < n_models; i++) {
            ns[i] = pairs[i][0];
            models[i] = pairs[i][1];
        }
        /* answers with repeats, holes and pairs nobody asked for */
        for (k = 0; k < 2; k++) {
            size_t count = rnd(&seed, SAMPLES + 1);
            for (i = 0; i < count; i++) {
                unsigned r = rnd(&seed, 100);
                s[k][i] = sample(
                    r < 3 ? NULL : nss[rnd(&seed, 4)], r == 3 ? NULL : names[rnd(&seed, 64) % 48],
                    r < 10 ? NULL : pods[rnd(&seed, 6)], r < 5 ? "pn" : NULL,
                    r < 40 ? NULL : insts[rnd(&seed, 3)], r < 50 ? NULL : variants[rnd(&seed, 2)],
                    (double)rnd(&seed, 1000) / 8.0, r % 17 != 0);
            }
            (k == 0 ? &kv : &q)->count = count;
        }
        memset(has_ref, 0, sizeof(has_ref));
        n_ref = ref_join(pairs, n_models, parts, has_ref, ref);
        assert_int_equal(promjoin_rows(ns, models, n_models, &kv, &q, has_got, &got, &n_got),
                         ERR_OK);
        assert_int_equal(n_got, n_ref);
        assert_memory_equal(has_got, has_ref, n_models * sizeof(bool));
        for (i = 0; i < n_ref; i++) {
            const struct promjoin_row *a = &ref[i].r, *b = &got[i];
            /* the same pointers: the same samples supplied each field */
            assert_ptr_equal(a->ns, b->ns);
            assert_ptr_equal(a->model, b->model);
            assert_ptr_equal(a->pod, b->pod);
            if (a->instance[0] != '\0')
                assert_ptr_equal(a->instance, b->instance);
            else /* the join's own "" */
                assert_string_equal(b->instance, "");
            assert_ptr_equal(a->variant, b->variant);
            assert_memory_equal(&a->kv, &b->kv, sizeof(double));
            assert_memory_equal(&a->queue, &b->queue, sizeof(double));
            assert_int_equal(a->has_kv, b->has_kv);
            assert_int_equal(a->has_queue, b->has_queue);
        }
        free(got);
    }
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
