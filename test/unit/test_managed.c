/*
 * Unit tests for managed_decide: the WVA decision on the annotation path,
 * with replica states from the scale targets (pure; the kube reads are
 * covered by the integration test against a fake API server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "managed.h"
#include "table.h"

static struct table *rows(const char *const *pods, const char *const *variants, const double *kv,
                          size_t n)
{
    struct table_builder *b = table_builder_new();
    struct table *t = NULL;
    char why[256];
    size_t i;
    for (i = 0; i < n; i++)
        assert_int_equal(table_builder_add_pod(b, "llm", "m", pods[i], NULL, variants[i], kv[i], 0,
                                               why, sizeof(why)),
                         ERR_OK);
    assert_int_equal(table_builder_finish(b, &t, why, sizeof(why)), ERR_OK);
    table_builder_free(b);
    return t;
}

static void variant(struct managed_ctx *c, const char *name, double cost, int64_t cur,
                    int64_t desired, int64_t pending, const char *role)
{
    struct managed_variant *v;
    c->variants = realloc(c->variants, (c->n_variants + 1) * sizeof(*v));
    v = &c->variants[c->n_variants++];
    memset(v, 0, sizeof(*v));
    v->name = strdup(name);
    v->target_kind = strdup("Deployment");
    v->target_name = strdup(name);
    v->cost = cost;
    v->current = cur;
    v->desired = desired;
    v->pending = pending;
    v->role = role ? strdup(role) : NULL;
}

static void request(struct meta_request *r, struct managed_ctx *c, const char *name)
{
    struct meta_layer ol = {"ScaledObject", &c->layer};
    struct meta_options mo = {.model_id_fallback = "m", .object_layer = &ol};
    char why[META_WHY_LEN];
    assert_int_equal(meta_parse(name, "llm", NULL, NULL, 0, &mo, r, why, sizeof(why)), ERR_OK);
}

static int64_t desired_for(struct managed_ctx *c, size_t self, const struct table *t,
                           const size_t *attr, enum sat_action *action)
{
    struct meta_request r;
    struct decide_result d;
    int64_t out;
    c->self = self;
    /* cost of self comes from the object layer: set it like managed_resolve does */
    memset(&c->layer, 0, sizeof(c->layer));
    assert_int_equal(meta_decision_set_number(&c->layer, "variantCost", c->variants[self].cost,
                                              NULL, 0),
                     ERR_OK);
    request(&r, c, c->variants[self].name);
    assert_int_equal(managed_decide(t, &r, c, attr, &d), ERR_OK);
    out = d.desired;
    if (action)
        *action = d.decision.action;
    decide_result_clear(&d);
    meta_request_clear(&r);
    return out;
}

static void test_costs_pick_variants(void **state)
{
    static const char *const pods[] = {"c1", "c2", "e1", "e2"};
    static const char *const var[] = {"cheap", "cheap", "exp", "exp"};
    static const double hot[] = {0.95, 0.95, 0.95, 0.95}, cold[] = {0.05, 0.05, 0.05, 0.05};
    static const size_t attr[] = {0, 0, 1, 1};
    struct managed_ctx c = {0};
    struct table *th = rows(pods, var, hot, 4), *tc = rows(pods, var, cold, 4);
    enum sat_action a;
    (void)state;

    c.managed = true;
    variant(&c, "cheap", 5, 2, 2, 0, NULL);
    variant(&c, "exp", 20, 2, 2, 0, NULL);
    /* saturated: the +1 goes to the cheapest */
    assert_int_equal(desired_for(&c, 0, th, attr, &a), 3);
    assert_int_equal(a, SAT_ACTION_SCALE_UP);
    assert_int_equal(desired_for(&c, 1, th, attr, NULL), 2);
    /* cold and safe: the -1 goes to the most expensive */
    assert_int_equal(desired_for(&c, 0, tc, attr, NULL), 2);
    assert_int_equal(desired_for(&c, 1, tc, attr, &a), 1);
    assert_int_equal(a, SAT_ACTION_SCALE_DOWN);
    table_unref(th);
    table_unref(tc);
    managed_ctx_clear(&c);
    managed_ctx_clear(&c);
    managed_ctx_clear(NULL);
}

static void test_transition_hold(void **state)
{
    static const char *const pods[] = {"c1", "c2"};
    static const char *const var[] = {"v", "v"};
    static const double hot[] = {0.95, 0.95};
    static const size_t attr[] = {0, 0};
    struct managed_ctx c = {0};
    struct table *t = rows(pods, var, hot, 2);
    enum sat_action a;
    (void)state;

    /* 3 replicas, 2 ready: pending holds the target at 3 despite saturation */
    variant(&c, "v", 10, 3, 3, 1, NULL);
    assert_int_equal(desired_for(&c, 0, t, attr, &a), 3);
    assert_int_equal(a, SAT_ACTION_TRANSITION);
    /* the HPA asked for 5, 3 exist: desired held (no clamp) */
    c.variants[0].pending = 0;
    c.variants[0].desired = 5;
    assert_int_equal(desired_for(&c, 0, t, attr, &a), 5);
    /* reached and ready: the step proceeds from status.replicas */
    c.variants[0].desired = 3;
    assert_int_equal(desired_for(&c, 0, t, attr, &a), 4);
    assert_int_equal(a, SAT_ACTION_SCALE_UP);
    table_unref(t);
    managed_ctx_clear(&c);
}

static void test_roles_and_unattributed(void **state)
{
    static const char *const pods[] = {"p1", "d1", "d2", "x1"};
    static const char *const var[] = {"prefill", "decode", "decode", NULL};
    static const double kv[] = {0.05, 0.95, 0.95, 0.95};
    /* attribution follows the table's row order (sorted by instance):
     * d1, d2, p1, x1 */
    static const size_t attr[] = {1, 1, 0, SIZE_MAX};
    struct managed_ctx c = {0};
    struct table *t = rows(pods, var, kv, 4);
    (void)state;

    variant(&c, "prefill", 10, 1, 1, 0, "prefill");
    variant(&c, "decode", 10, 2, 2, 0, "decode");
    /* decode's group is saturated: decode scales; prefill's group is not */
    assert_int_equal(desired_for(&c, 1, t, attr, NULL), 3);
    assert_int_equal(desired_for(&c, 0, t, attr, NULL), 1);
    /* no data at all: hold the current count */
    assert_int_equal(desired_for(&c, 1, NULL, NULL, NULL), 2);
    table_unref(t);
    managed_ctx_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_costs_pick_variants),
        cmocka_unit_test(test_transition_hold),
        cmocka_unit_test(test_roles_and_unattributed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
