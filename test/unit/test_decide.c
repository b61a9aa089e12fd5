/*
 * Unit tests for decide: the answer for one ScaledObject from a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "meta.h"
#include "table.h"

static struct table *load(const char *json)
{
    struct table *t = NULL;
    char why[256];
    enum err_code rc = table_parse_json(json, strlen(json), &t, why, sizeof(why));
    if (rc)
        print_error("table: %s\n", why);
    assert_int_equal(rc, ERR_OK);
    return t;
}

/* Request for ScaledObject `name` in ns "llm", model "m", plus extra k=v pairs. */
static void request(struct meta_request *r, const char *name, const char *k1, const char *v1)
{
    const char *keys[2] = {"modelID", k1}, *values[2] = {"m", v1};
    char why[META_WHY_LEN];
    enum err_code rc = meta_parse(name, "llm", keys, values, k1 ? 2 : 1, NULL, r, why, sizeof(why));
    if (rc)
        print_error("meta: %s\n", why);
    assert_int_equal(rc, ERR_OK);
}

static int64_t desired(const struct table *t, const char *so, const char *k, const char *v)
{
    struct meta_request r;
    struct decide_result d;
    int64_t out;

    request(&r, so, k, v);
    assert_int_equal(decide_eval(t, &r, NULL, NULL, &d), ERR_OK);
    out = d.desired;
    decide_result_clear(&d);
    meta_request_clear(&r);
    return out;
}

#define POD(p, v, kv) "{\"namespace\":\"llm\",\"model\":\"m\",\"pod\":\"" p "\"," v "\"kv\":" kv "}"

static void test_no_series(void **state)
{
    struct table *t = load("{\"pods\":[{\"namespace\":\"other\",\"model\":\"m\",\"pod\":\"x\","
                           "\"kv\":0.9}]}");
    struct meta_request r;
    struct decide_result d;
    (void)state;

    assert_int_equal(desired(t, "so", NULL, NULL), 1);
    assert_int_equal(desired(t, "so", "minReplicas", "3"), 3);
    assert_int_equal(desired(NULL, "so", "minReplicas", "0"), 0);
    request(&r, "so", NULL, NULL);
    assert_int_equal(decide_eval(t, &r, NULL, NULL, &d), ERR_OK);
    assert_false(d.has_series);
    assert_false(d.active);
    decide_result_clear(&d);
    meta_request_clear(&r);
    table_unref(t);
}

static void test_single_variant(void **state)
{
    struct table *hot = load("{\"pods\":[" POD("p1", "", "0.95") "," POD("p2", "", "0.95") "]}");
    struct table *cold = load("{\"pods\":[" POD("p1", "", "0.05") "," POD("p2", "", "0.05") ","
                              POD("p3", "", "0.05") "," POD("p4", "", "0.05") "]}");
    struct table *mid = load("{\"pods\":[" POD("p1", "", "0.5") "]}");
    (void)state;

    assert_int_equal(desired(hot, "so", NULL, NULL), 3);
    assert_int_equal(desired(hot, "so", "maxReplicas", "2"), 2);
    assert_int_equal(desired(cold, "so", NULL, NULL), 3);
    assert_int_equal(desired(cold, "so", "minReplicas", "4"), 4);
    assert_int_equal(desired(mid, "so", NULL, NULL), 1);
    /* a lower threshold makes the 0.5 pod saturated */
    assert_int_equal(desired(mid, "so", "kvCacheThreshold", "0.5"), 2);
    table_unref(hot);
    table_unref(cold);
    table_unref(mid);
}

static void test_variants(void **state)
{
    /* v1: two saturated pods; v2: four cold pods. Model spare 0.75 over 4:
     * no scale-up; scale-down safe; both cost 10 -> the largest name, v2. */
    struct table *t = load("{\"pods\":[" POD("a1", "\"variant\":\"v1\",", "0.95") ","
                           POD("a2", "\"variant\":\"v1\",", "0.95") ","
                           POD("b1", "\"variant\":\"v2\",", "0.05") ","
                           POD("b2", "\"variant\":\"v2\",", "0.05") ","
                           POD("b3", "\"variant\":\"v2\",", "0.05") ","
                           POD("b4", "\"variant\":\"v2\",", "0.05") ","
                           POD("u1", "", "0.95") "]}");
    struct meta_request r;
    struct decide_result d;
    (void)state;

    assert_int_equal(desired(t, "v1", NULL, NULL), 2);
    assert_int_equal(desired(t, "v2", NULL, NULL), 3);
    /* v2 made cheap (1): the most expensive variant above 1 replica is now
     * v1 (cost 10), which gives up the replica; v2 holds at 4. */
    assert_int_equal(desired(t, "v2", "variantCost", "1"), 4);
    /* "other" labels no pods: the unlabelled variant (u1, one pod) answers */
    request(&r, "other", NULL, NULL);
    assert_int_equal(decide_eval(t, &r, NULL, NULL, &d), ERR_OK);
    assert_string_equal(d.variant, "");
    assert_int_equal(d.current, 1);
    assert_int_equal(d.desired, 1); /* u1 is the only pod: cannot go below 1 */
    assert_int_equal(d.model_pods, 7);
    decide_result_clear(&d);
    meta_request_clear(&r);
    table_unref(t);

    /* No unlabelled pods and a name that labels none: minReplicas. */
    t = load("{\"pods\":[" POD("a1", "\"variant\":\"v1\",", "0.95") "]}");
    assert_int_equal(desired(t, "stranger", "minReplicas", "2"), 2);
    assert_int_equal(desired(t, "v1", NULL, NULL), 2);
    table_unref(t);
}

static void test_instances_count_once(void **state)
{
    /* One pod with two engines (instances): current is 1 pod -> step to 2. */
    struct table *t = load(
        "{\"pods\":[{\"namespace\":\"llm\",\"model\":\"m\",\"pod\":\"p1\",\"instance\":\"p1:8000\","
        "\"kv\":0.95},{\"namespace\":\"llm\",\"model\":\"m\",\"pod\":\"p1\",\"instance\":\"p1:8001\","
        "\"kv\":0.95}]}");
    struct meta_request r;
    struct decide_result d;
    (void)state;

    request(&r, "so", NULL, NULL);
    assert_int_equal(decide_eval(t, &r, NULL, NULL, &d), ERR_OK);
    assert_int_equal(d.current, 1);
    assert_int_equal(d.analysis.total_replicas, 2);
    assert_int_equal(d.desired, 2);
    decide_result_clear(&d);
    meta_request_clear(&r);
    table_unref(t);
}

static void test_activation(void **state)
{
    struct table *fc = load("{\"pods\":[],\"flowControl\":[{\"namespace\":\"llm\",\"model\":\"m\","
                            "\"queue\":3}]}");
    struct table *fc0 = load("{\"pods\":[],\"flowControl\":[{\"namespace\":\"llm\",\"model\":"
                             "\"m\",\"queue\":0}]}");
    struct table *mixed = load("{\"pods\":[" POD("p1", "", "0.95") "," POD("p2", "", "0.5") "]}");
    struct table *hot = load("{\"pods\":[" POD("p1", "", "0.95") "," POD("p2", "", "0.8") "]}");
    struct meta_request r;
    bool active, sat;
    (void)state;

    request(&r, "so", NULL, NULL);
    decide_activation(fc, &r, &active, &sat);
    assert_true(active);
    assert_false(sat);
    decide_activation(fc0, &r, &active, &sat);
    assert_false(active);
    decide_activation(mixed, &r, &active, &sat);
    assert_true(active);
    assert_false(sat);
    decide_activation(hot, &r, &active, &sat); /* 0.8 >= 0.8 counts */
    assert_true(active);
    assert_true(sat);
    decide_activation(NULL, &r, &active, &sat);
    assert_false(active);
    assert_false(sat);
    meta_request_clear(&r);
    table_unref(fc);
    table_unref(fc0);
    table_unref(mixed);
    table_unref(hot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_series),
        cmocka_unit_test(test_single_variant),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_instances_count_once),
        cmocka_unit_test(test_activation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
