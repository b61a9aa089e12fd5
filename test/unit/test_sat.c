/*
 * Unit tests for the sat module: WVA's V1 analyzer, the targets, the
 * HPA-tolerance step, the clamp and threshold validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sat.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct sat_config defaults(void)
{
    struct sat_config c;
    sat_config_default(&c);
    return c;
}

static struct sat_tolerance tol_of(double up, double down)
{
    struct sat_tolerance t = {up, down};
    return t;
}

/* ---- analysis ----------------------------------------------------------- */

struct analysis_case {
    const char *what;
    struct sat_replica replicas[12];
    size_t n;
    bool scale_up;
    bool down_safe;
    size_t non_saturated;
    const char *reason_prefix;
};

static void test_analysis_table(void **state)
{
    static const struct analysis_case cases[] = {
        {"low kv spare", {{"p1", "v", 0.75, 0}}, 1, true, false, 1, "KV spare Saturation low"},
        {"low queue spare", {{"p1", "v", 0.10, 3}}, 1, true, false, 1,
         "queue spare Saturation low"},
        {"both low", {{"p1", "v", 0.75, 3}}, 1, true, false, 1, "both KV spare"},
        /* 0.80 - 0.70 = 0.10000000000000009, not < 0.10 */
        {"boundary 0.70 holds", {{"p1", "v", 0.70, 0}}, 1, false, false, 1, ""},
        {"boundary 0.71 scales", {{"p1", "v", 0.71, 0}}, 1, true, false, 1,
         "KV spare Saturation low"},
        {"hot hidden by one cold", {{"hot", "v", 0.95, 0}, {"c1", "v", 0.05, 0}}, 2, false, false,
         1, ""},
        {"hot hidden by four cold",
         {{"hot", "v", 0.95, 0},
          {"c1", "v", 0.05, 0},
          {"c2", "v", 0.05, 0},
          {"c3", "v", 0.05, 0},
          {"c4", "v", 0.05, 0}},
         5,
         false,
         true,
         4,
         ""},
        {"all saturated", {{"p1", "v", 0.95, 0}, {"p2", "v", 0.81, 0}, {"p3", "v", 0.2, 5}}, 3,
         true, false, 0, "both KV spare"},
        {"kv at threshold saturates", {{"p1", "v", 0.80, 0}, {"p2", "v", 0.0, 0}}, 2, false,
         false, 1, ""},
        {"queue at threshold saturates", {{"p1", "v", 0.1, 5}}, 1, true, false, 0, "both"},
        /* spare exactly equal to the trigger is not < trigger */
        {"queue spare == trigger holds", {{"p1", "v", 0.10, 2}}, 1, false, false, 1, ""},
        {"queue spare below trigger", {{"p1", "v", 0.10, 3}}, 1, true, false, 1, "queue"},
        {"NaN kv counts as 0", {{"p1", "v", __builtin_nan(""), 0}, {"p2", "v", 0.1, 0}}, 2, false,
         true, 2, ""},
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        const struct analysis_case *c = &cases[i];
        struct sat_config cfg = defaults();
        struct sat_analysis a;
        print_message("case: %s\n", c->what);
        assert_int_equal(sat_analyze(&cfg, c->replicas, c->n, &a), ERR_OK);
        assert_int_equal(a.should_scale_up, c->scale_up);
        assert_int_equal(a.scale_down_safe, c->down_safe);
        assert_int_equal(a.non_saturated_count, c->non_saturated);
        assert_int_equal(a.total_replicas, c->n);
        assert_true(strncmp(a.scale_up_reason, c->reason_prefix, strlen(c->reason_prefix)) == 0);
        if (!c->scale_up)
            assert_string_equal(a.scale_up_reason, "");
        sat_analysis_clear(&a);
    }
}

static void test_analysis_numbers(void **state)
{
    /* Two variants; averages are sum(avg_v * n_v) / N. */
    const struct sat_replica r[] = {
        {"a1", "big", 0.50, 1}, {"a2", "big", 0.90, 0}, {"b1", "small", 0.20, 2},
        {"b2", "small", 0.40, 0}, {"b3", "small", 0.60, 4},
    };
    struct sat_config cfg = defaults();
    struct sat_analysis a;
    const struct sat_variant_analysis *big, *small;
    (void)state;

    assert_int_equal(sat_analyze(&cfg, r, N_OF(r), &a), ERR_OK);
    assert_int_equal(a.variant_count, 2);
    assert_string_equal(a.variants[0].name, "big"); /* sorted */
    big = sat_analysis_find(&a, "big");
    small = sat_analysis_find(&a, "small");
    assert_non_null(big);
    assert_non_null(small);
    assert_null(sat_analysis_find(&a, "nope"));

    assert_int_equal(big->replica_count, 2);
    assert_int_equal(big->non_saturated_count, 1);
    assert_int_equal(big->saturated_count, 1);
    assert_string_equal(big->saturated_replicas[0], "a2");
    assert_true(big->avg_spare_kv == 0.80 - 0.50);
    assert_true(big->avg_spare_queue == 5.0 - 1.0);
    assert_true(big->max_kv == 0.90);
    assert_true(big->avg_kv == (0.50 + 0.90) / 2.0);
    assert_int_equal(big->max_queue, 1);

    assert_int_equal(small->non_saturated_count, 3);
    assert_true(small->avg_spare_kv == ((0.80 - 0.20) + (0.80 - 0.40) + (0.80 - 0.60)) / 3.0);
    assert_true(small->avg_spare_queue == (3.0 + 5.0 + 1.0) / 3.0);
    assert_int_equal(small->max_queue, 4);

    assert_int_equal(a.non_saturated_count, 4);
    assert_true(a.avg_spare_kv ==
                (big->avg_spare_kv * 1.0 + small->avg_spare_kv * 3.0) / 4.0);
    assert_true(a.avg_spare_queue ==
                (big->avg_spare_queue * 1.0 + small->avg_spare_queue * 3.0) / 4.0);
    sat_analysis_clear(&a);
    sat_analysis_clear(&a); /* idempotent */
    sat_analysis_clear(NULL);
}

static void test_analysis_empty(void **state)
{
    struct sat_config cfg = defaults();
    struct sat_analysis a;
    struct sat_variant_state s = {"v", 10, 3, 0, 0, 1, 10};
    struct sat_decision d;
    (void)state;

    assert_int_equal(sat_analyze(&cfg, NULL, 0, &a), ERR_OK);
    assert_false(a.should_scale_up);
    assert_false(a.scale_down_safe);
    assert_int_equal(a.variant_count, 0);
    assert_int_equal(sat_targets(&a, &cfg, &s, 1, &(struct sat_tolerance){0.1, 0.1}, &d), ERR_OK);
    assert_int_equal(d.target, 3);
    assert_int_equal(d.action, SAT_ACTION_HOLD);
    sat_analysis_clear(&a);
}

static void test_analysis_custom_thresholds(void **state)
{
    /* 0 spare triggers switch that signal's scale-up off. */
    struct sat_config cfg = {0.9, 10, 0.0, 0.0};
    const struct sat_replica r[] = {{"p1", "v", 0.89, 9}};
    struct sat_analysis a;
    (void)state;

    assert_int_equal(sat_analyze(&cfg, r, 1, &a), ERR_OK);
    assert_false(a.should_scale_up);
    sat_analysis_clear(&a);

    /* Exactly representable: spare 0.75 - 0.25 == 0.5 == trigger: no scale-up. */
    {
        struct sat_config c2 = {0.75, 5, 0.5, 3};
        const struct sat_replica r2[] = {{"p1", "v", 0.25, 0}, {"p2", "v", 0.5, 0}};
        assert_int_equal(sat_analyze(&c2, r2, 1, &a), ERR_OK);
        assert_false(a.should_scale_up);
        sat_analysis_clear(&a);
        assert_int_equal(sat_analyze(&c2, r2 + 1, 1, &a), ERR_OK);
        assert_true(a.should_scale_up);
        assert_string_equal(a.scale_up_reason, "KV spare Saturation low (0.250 < 0.500)");
        sat_analysis_clear(&a);
    }
}

/* ---- scale-down simulation ---------------------------------------------- */

static void test_scale_down_safe_k(void **state)
{
    struct sat_config cfg = defaults();
    (void)state;
    /* 4 replicas at 0.05: load 0.05 -> over 3: 0.0667, spare 0.733 >= 0.1 */
    assert_true(sat_scale_down_safe_k(&cfg, 4, 0.75, 5.0, 1));
    assert_true(sat_scale_down_safe_k(&cfg, 4, 0.75, 5.0, 3));
    assert_false(sat_scale_down_safe_k(&cfg, 4, 0.75, 5.0, 4)); /* k >= N */
    assert_false(sat_scale_down_safe_k(&cfg, 1, 0.75, 5.0, 1));  /* N < 2 */
    /* 10 replicas at kv 0.6 (spare 0.2): -1 gives 0.667 (spare 0.133, safe),
     * -2 gives 0.75 (spare 0.05 < 0.1, unsafe). */
    assert_true(sat_scale_down_safe_k(&cfg, 10, 0.8 - 0.6, 5.0, 1));
    assert_false(sat_scale_down_safe_k(&cfg, 10, 0.8 - 0.6, 5.0, 2));
    /* queue side: 2 replicas with queue 2 each (spare 3): -1 -> 4, spare 1 < 3 */
    assert_false(sat_scale_down_safe_k(&cfg, 2, 0.7, 3.0, 1));
    /* Exactly representable: remaining spare == trigger is safe (>=). */
    {
        struct sat_config c2 = {0.75, 5, 0.25, 0};
        assert_true(sat_scale_down_safe_k(&c2, 2, 0.5, 5.0, 1));
        assert_false(sat_scale_down_safe_k(&c2, 2, 0.4375, 5.0, 1));
    }
}

/* ---- the tolerance step ------------------------------------------------- */

static void test_tolerance_steps(void **state)
{
    static const struct {
        int64_t r, up;
    } ups[] = {{1, 2}, {2, 3}, {9, 10}, {10, 12}, {11, 13}, {20, 23}, {28, 31}, {100, 111}};
    static const struct {
        int64_t r, down;
    } downs[] = {{2, 1}, {9, 8}, {10, 8}, {11, 9}, {20, 17}, {100, 89}};
    struct sat_tolerance t = tol_of(0.1, 0.1), wva = tol_of(0, 0);
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(ups); i++) {
        assert_int_equal(sat_step_up(ups[i].r, &t), ups[i].up);
        assert_int_equal(sat_step_up(ups[i].r, &wva), ups[i].r + 1);
    }
    for (i = 0; i < N_OF(downs); i++) {
        assert_int_equal(downs[i].r - sat_step_down(downs[i].r, &t), downs[i].down);
        assert_int_equal(sat_step_down(downs[i].r, &wva), 1);
    }
    assert_int_equal(sat_step_up(0, &t), 1);
    assert_int_equal(sat_step_down(1, &t), 0);
    assert_int_equal(sat_step_down(0, &t), 0);
    /* A down tolerance so large no count >= 1 is visible: no step. */
    t = tol_of(0.1, 0.6);
    assert_int_equal(sat_step_down(2, &t), 0);
    assert_int_equal(sat_step_down(10, &t), 7); /* 3/10 = 0.3 < 0.4 */
    /* Per direction. */
    t = tol_of(0.5, 0.0);
    assert_int_equal(sat_step_up(10, &t), 16);
    assert_int_equal(sat_step_down(10, &t), 1);
    /* hpa_acts: 11/10 is exactly 1.1 (inside) */
    t = tol_of(0.1, 0.1);
    assert_false(sat_hpa_acts(10, 11, &t));
    assert_true(sat_hpa_acts(10, 12, &t));
    assert_false(sat_hpa_acts(10, 9, &t));
    assert_false(sat_hpa_acts(10, 10, &t));
    assert_true(sat_hpa_acts(0, 1, &t));
}

/* ---- targets ------------------------------------------------------------ */

/* Run the analyzer over n identical replicas of one variant. */
static void analyze_uniform(struct sat_analysis *a, size_t n, double kv, const char *variant)
{
    static char names[64][24];
    struct sat_replica r[64];
    struct sat_config cfg = defaults();
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "p%zu", i);
        r[i].pod = names[i];
        r[i].variant = variant;
        r[i].kv = kv;
        r[i].queue = 0;
    }
    assert_int_equal(sat_analyze(&cfg, r, n, a), ERR_OK);
}

static void test_ladder(void **state)
{
    /* Every pod at 0.95, max 10: 1 -> 2 -> ... -> 10, then 10 stays. */
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1);
    int64_t r = 1;
    int steps = 0;
    (void)state;

    for (;;) {
        struct sat_analysis a;
        struct sat_variant_state s = {"v", 10, r, 0, 0, 1, 10};
        struct sat_decision d;
        analyze_uniform(&a, (size_t)r, 0.95, "v");
        assert_true(a.should_scale_up);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        sat_analysis_clear(&a);
        if (r == 10) {
            assert_int_equal(d.target, 10);
            break;
        }
        assert_int_equal(d.target, r + 1);
        assert_int_equal(d.action, SAT_ACTION_SCALE_UP);
        r = d.target;
        steps++;
    }
    assert_int_equal(steps, 9);
}

static void test_beyond_ten(void **state)
{
    /* max 30: 10 -> 12 -> 14 -> 16 -> 18 -> 20 -> 23 -> 26 -> 29 -> 31 (HPA clamps 30) */
    static const int64_t expect[] = {12, 14, 16, 18, 20, 23, 26, 29, 32};
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1), wva = tol_of(0, 0);
    struct sat_analysis a;
    struct sat_decision d;
    int64_t r = 10;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(expect); i++) {
        struct sat_variant_state s = {"v", 10, r, 0, 0, 1, 30};
        analyze_uniform(&a, (size_t)r > 64 ? 64 : (size_t)r, 0.95, "v");
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        sat_analysis_clear(&a);
        if (expect[i] > 30) {
            /* R=29: step 32, clamped to 30: 30/29 inside tolerance -> 32 */
            assert_int_equal(d.target, 32);
            assert_false(d.clamped);
            break;
        }
        assert_int_equal(d.target, expect[i]);
        r = d.target;
    }
    /* WVA's +1 at 10 answers 11, which the HPA ignores. */
    {
        struct sat_variant_state s = {"v", 10, 10, 0, 0, 1, 30};
        analyze_uniform(&a, 10, 0.95, "v");
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &wva, &d), ERR_OK);
        sat_analysis_clear(&a);
        assert_int_equal(d.target, 11);
        assert_false(sat_hpa_acts(10, 11, &t));
    }
}

static void test_clamp_no_dead_zone(void **state)
{
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1), wva = tol_of(0, 0);
    struct sat_analysis a = {0};
    struct sat_decision d;
    (void)state;

    a.should_scale_up = true;
    {   /* R=28, max 30: 30/28 inside -> answer 31 */
        struct sat_variant_state s = {"v", 10, 28, 0, 0, 1, 30};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 31);
        assert_false(d.clamped);
        /* WVA tolerance 0: plain clamp 29 */
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &wva, &d), ERR_OK);
        assert_int_equal(d.target, 29);
    }
    {   /* R=20, max 25: step 23 within max */
        struct sat_variant_state s = {"v", 10, 20, 0, 0, 1, 25};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 23);
    }
    {   /* R=20, max 22: 22/20 == 1.1 inside -> unclamped 23 */
        struct sat_variant_state s = {"v", 10, 20, 0, 0, 1, 22};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 23);
    }
    {   /* R=5, max 6: step 6 == max, fine */
        struct sat_variant_state s = {"v", 10, 5, 0, 0, 1, 6};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 6);
    }
    {   /* R=30, max 30: clamp lands on R itself: hold at 30 */
        struct sat_variant_state s = {"v", 10, 30, 0, 0, 1, 30};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 30);
        assert_true(d.clamped);
    }
    a.should_scale_up = false;
    {   /* hold below min: R=2, min 4 -> 4 (visible) */
        struct sat_variant_state s = {"v", 10, 2, 0, 0, 4, 10};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 4);
        assert_true(d.clamped);
    }
    {   /* hold above max: R=12, max 10 -> 10 (10/12 = 0.833, visible) */
        struct sat_variant_state s = {"v", 10, 12, 0, 0, 1, 10};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 10);
    }
    {   /* hold above max inside tolerance: R=11, max 10 -> 11 (HPA clamps) */
        struct sat_variant_state s = {"v", 10, 11, 0, 0, 1, 10};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 11);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &wva, &d), ERR_OK);
        assert_int_equal(d.target, 10);
    }
    {   /* scale-down: R=10 -> 8 but min 9: 9/10 inside -> 8 */
        struct sat_variant_state s = {"v", 10, 10, 0, 0, 9, 20};
        a.scale_down_safe = true;
        a.non_saturated_count = 10;
        a.avg_spare_kv = 0.75;
        a.avg_spare_queue = 5;
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 8);
        assert_int_equal(d.action, SAT_ACTION_SCALE_DOWN);
    }
}

static void test_scale_down_targets(void **state)
{
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1), wva = tol_of(0, 0);
    struct sat_analysis a;
    struct sat_decision d;
    (void)state;

    {   /* 10 cold pods at 0.05: -2 is safe -> 8; WVA -> 9 */
        struct sat_variant_state s = {"v", 10, 10, 0, 0, 1, 20};
        analyze_uniform(&a, 10, 0.05, "v");
        assert_true(a.scale_down_safe);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 8);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &wva, &d), ERR_OK);
        assert_int_equal(d.target, 9);
        sat_analysis_clear(&a);
    }
    {   /* 10 pods at 0.6: -1 safe but invisible, -2 unsafe -> hold at 10 */
        struct sat_variant_state s = {"v", 10, 10, 0, 0, 1, 20};
        analyze_uniform(&a, 10, 0.6, "v");
        assert_true(a.scale_down_safe);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 10);
        assert_int_equal(d.action, SAT_ACTION_HOLD);
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &wva, &d), ERR_OK);
        assert_int_equal(d.target, 9);
        sat_analysis_clear(&a);
    }
    {   /* 2 -> 1 and never below 1 (a variant at 1 is not a candidate) */
        struct sat_variant_state s = {"v", 10, 2, 0, 0, SAT_UNSET, SAT_UNSET};
        analyze_uniform(&a, 2, 0.05, "v");
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 1);
        s.current = 1;
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 1);
        assert_int_equal(d.action, SAT_ACTION_HOLD);
        sat_analysis_clear(&a);
    }
    {   /* min clamp: R=2 -> 1 but min 2: 1/2 is visible but the clamp gives 2 */
        struct sat_variant_state s = {"v", 10, 2, 0, 0, 2, 10};
        analyze_uniform(&a, 2, 0.05, "v");
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_OK);
        assert_int_equal(d.target, 2);
        sat_analysis_clear(&a);
    }
}

static void test_multi_variant(void **state)
{
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1);
    struct sat_analysis a = {0};
    struct sat_decision d[3];
    (void)state;

    a.should_scale_up = true;
    {   /* cheapest gets the scale-up */
        struct sat_variant_state s[] = {{"a100", 20, 2, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"l4", 5, 2, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"h100", 40, 2, 0, 0, SAT_UNSET, SAT_UNSET}};
        assert_int_equal(sat_targets(&a, &cfg, s, 3, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 2);
        assert_int_equal(d[1].target, 3);
        assert_int_equal(d[1].action, SAT_ACTION_SCALE_UP);
        assert_int_equal(d[2].target, 2);
    }
    {   /* tie on cost: smallest name */
        struct sat_variant_state s[] = {{"zeta", 5, 2, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"alpha", 5, 2, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"mid", 9, 2, 0, 0, SAT_UNSET, SAT_UNSET}};
        assert_int_equal(sat_targets(&a, &cfg, s, 3, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 2);
        assert_int_equal(d[1].target, 3);
    }
    a.should_scale_up = false;
    a.scale_down_safe = true;
    {   /* most expensive above 1 gives one up; ties: largest name */
        struct sat_variant_state s[] = {{"b", 40, 3, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"c", 40, 3, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"z", 99, 1, 0, 0, SAT_UNSET, SAT_UNSET}};
        assert_int_equal(sat_targets(&a, &cfg, s, 3, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 3);
        assert_int_equal(d[1].target, 2);
        assert_int_equal(d[1].action, SAT_ACTION_SCALE_DOWN);
        assert_int_equal(d[2].target, 1);
    }
    {   /* duplicate names refused */
        struct sat_variant_state s[] = {{"b", 40, 3, 0, 0, SAT_UNSET, SAT_UNSET},
                                        {"b", 40, 3, 0, 0, SAT_UNSET, SAT_UNSET}};
        assert_int_equal(sat_targets(&a, &cfg, s, 2, &t, d), ERR_INVALID);
    }
}

static void test_multi_variant_candidates(void **state)
{
    /* A variant with no replicas reporting is not a candidate (as WVA). */
    const struct sat_replica r[] = {{"p1", "exp", 0.95, 0}};
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1);
    struct sat_variant_state s[] = {{"cheap", 1, 0, 0, 0, SAT_UNSET, SAT_UNSET},
                                    {"exp", 50, 1, 0, 0, SAT_UNSET, SAT_UNSET}};
    struct sat_analysis a;
    struct sat_decision d[2];
    (void)state;

    assert_int_equal(sat_analyze(&cfg, r, 1, &a), ERR_OK);
    assert_int_equal(sat_targets(&a, &cfg, s, 2, &t, d), ERR_OK);
    assert_int_equal(d[0].target, 0);
    assert_int_equal(d[1].target, 2);
    sat_analysis_clear(&a);
}

static void test_transition_hold(void **state)
{
    struct sat_config cfg = defaults();
    struct sat_tolerance t = tol_of(0.1, 0.1);
    struct sat_analysis a = {0};
    struct sat_decision d[2];
    (void)state;

    a.should_scale_up = true;
    {   /* pending > 0 anywhere: everyone holds; no clamp */
        struct sat_variant_state s[] = {{"a", 5, 3, 0, 1, 1, 2}, {"b", 1, 2, 0, 0, 1, 10}};
        assert_int_equal(sat_targets(&a, &cfg, s, 2, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 3);
        assert_int_equal(d[0].action, SAT_ACTION_TRANSITION);
        assert_int_equal(d[1].target, 2);
    }
    {   /* desired set and not reached: desired held */
        struct sat_variant_state s[] = {{"a", 5, 3, 5, 0, 1, 4}, {"b", 1, 2, 2, 0, 1, 10}};
        assert_int_equal(sat_targets(&a, &cfg, s, 2, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 5); /* no clamp to max 4 */
        assert_int_equal(d[1].target, 2);
    }
    {   /* desired reached: stable, scale-up proceeds on the cheapest */
        struct sat_variant_state s[] = {{"a", 5, 3, 3, 0, 1, 10}, {"b", 1, 2, 2, 0, 1, 10}};
        assert_int_equal(sat_targets(&a, &cfg, s, 2, &t, d), ERR_OK);
        assert_int_equal(d[0].target, 3);
        assert_int_equal(d[1].target, 3);
    }
}

/* ---- validation --------------------------------------------------------- */

static void test_validation(void **state)
{
    static const struct {
        struct sat_config c;
        const char *key;
    } bad[] = {
        {{0.0, 5, 0.1, 3}, "kvCacheThreshold"},
        {{-0.1, 5, 0.1, 3}, "kvCacheThreshold"},
        {{1.01, 5, 0.1, 3}, "kvCacheThreshold"},
        {{__builtin_nan(""), 5, 0.1, 3}, "kvCacheThreshold"},
        {{0.8, 0, 0.1, 3}, "queueLengthThreshold"},
        {{0.8, -1, 0.1, 3}, "queueLengthThreshold"},
        {{0.8, __builtin_inf(), 0.1, 3}, "queueLengthThreshold"},
        {{0.8, 5, -0.01, 3}, "kvSpareTrigger"},
        {{0.8, 5, 1.5, 3}, "kvSpareTrigger"},
        {{0.8, 5, 0.1, -1}, "queueSpareTrigger"},
        {{0.5, 5, 0.6, 3}, "kvSpareTrigger"},
    };
    static const struct sat_config good[] = {
        {1.0, 5, 1.0, 3}, {0.8, 5, 0.0, 0.0}, {0.0001, 0.5, 0.0001, 100}, {0.8, 5, 0.8, 3},
    };
    size_t i;
    char why[128];
    const char *key;
    (void)state;

    for (i = 0; i < N_OF(bad); i++) {
        assert_int_equal(sat_config_validate(&bad[i].c, &key, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(key, bad[i].key);
        assert_non_null(strstr(why, bad[i].key));
        assert_non_null(strstr(why, "got"));
    }
    assert_int_equal(sat_config_validate(&bad[2].c, &key, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "kvCacheThreshold must be in (0, 1], got 1.01");
    for (i = 0; i < N_OF(good); i++)
        assert_int_equal(sat_config_validate(&good[i], &key, why, sizeof(why)), ERR_OK);

    {
        struct sat_tolerance t = tol_of(-0.1, 0.1);
        assert_int_equal(sat_tolerance_validate(&t, &key, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(key, "hpaScaleUpTolerance");
        t = tol_of(0.1, 1.0);
        assert_int_equal(sat_tolerance_validate(&t, &key, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(key, "hpaScaleDownTolerance");
        assert_string_equal(why, "hpaScaleDownTolerance must be in [0, 1), got 1");
        t = tol_of(11, 0.1);
        assert_int_equal(sat_tolerance_validate(&t, &key, why, sizeof(why)), ERR_INVALID);
        t = tol_of(0, 0);
        assert_int_equal(sat_tolerance_validate(&t, &key, why, sizeof(why)), ERR_OK);
    }
    {   /* bad states */
        struct sat_config cfg = defaults();
        struct sat_tolerance t = tol_of(0.1, 0.1);
        struct sat_analysis a = {0};
        struct sat_decision d;
        struct sat_variant_state s = {"v", -1, 1, 0, 0, SAT_UNSET, SAT_UNSET};
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_INVALID);
        s.cost = 1;
        s.current = -1;
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_INVALID);
        s.current = 1;
        s.min = 5;
        s.max = 2;
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_INVALID);
        s.name = NULL;
        s.min = SAT_UNSET;
        s.max = SAT_UNSET;
        assert_int_equal(sat_targets(&a, &cfg, &s, 1, &t, &d), ERR_INVALID);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analysis_table),
        cmocka_unit_test(test_analysis_numbers),
        cmocka_unit_test(test_analysis_empty),
        cmocka_unit_test(test_analysis_custom_thresholds),
        cmocka_unit_test(test_scale_down_safe_k),
        cmocka_unit_test(test_tolerance_steps),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_beyond_ten),
        cmocka_unit_test(test_clamp_no_dead_zone),
        cmocka_unit_test(test_scale_down_targets),
        cmocka_unit_test(test_multi_variant),
        cmocka_unit_test(test_multi_variant_candidates),
        cmocka_unit_test(test_transition_hold),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
