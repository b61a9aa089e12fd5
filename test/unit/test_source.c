/*
 * Unit tests for source: the snapshot holder and its parking lot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "source.h"
#include "table.h"

struct probe {
    struct source_waiter w;
    int calls;
    enum err_code rc;
};

static void on_probe(struct source_waiter *w, enum err_code rc)
{
    struct probe *p = (struct probe *)w;
    p->calls++;
    p->rc = rc;
}

static struct table *small_table(void)
{
    static const char json[] =
        "{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"kv\":0.5}]}";
    struct table *t = NULL;
    char why[256];
    assert_int_equal(table_parse_json(json, strlen(json), &t, why, sizeof(why)), ERR_OK);
    return t;
}

static void test_park_then_publish(void **state)
{
    struct source *s = source_new("test", 5000);
    struct probe a = {.w.fn = on_probe}, b = {.w.fn = on_probe};
    struct table *t = NULL, *got = NULL;
    char why[128];
    (void)state;

    assert_non_null(s);
    assert_int_equal(source_acquire(s, NULL, &got, &a.w, 0, why, sizeof(why)), ERR_AGAIN);
    assert_int_equal(source_acquire(s, NULL, &got, &b.w, 0, why, sizeof(why)), ERR_AGAIN);
    assert_int_equal(source_parked_count(s), 2);
    /* without a waiter: UNAVAILABLE at once */
    assert_int_equal(source_acquire(s, NULL, &got, NULL, 0, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "no data yet"));
    assert_null(got);

    t = small_table();
    source_publish(s, t);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, ERR_OK);
    assert_int_equal(b.calls, 1);
    assert_int_equal(source_parked_count(s), 0);
    assert_int_equal(source_acquire(s, NULL, &got, &a.w, 0, why, sizeof(why)), ERR_OK);
    assert_ptr_equal(got, t);
    assert_int_equal(a.calls, 1); /* not parked again */
    table_unref(got);
    table_unref(t);
    source_free(s);
}

static void test_fail_answers_at_once(void **state)
{
    struct source *s = source_new("prometheus \"default\"", 5000);
    struct probe a = {.w.fn = on_probe};
    struct table *got = NULL, *t;
    char why[128];
    (void)state;

    assert_int_equal(source_acquire(s, NULL, &got, &a.w, 0, why, sizeof(why)), ERR_AGAIN);
    source_fail(s, "prometheus \"default\": timeout after 5s");
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, ERR_UNAVAILABLE);
    /* failed: answered at once, never parked, with the cause */
    assert_int_equal(source_acquire(s, NULL, &got, &a.w, 0, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_string_equal(why, "prometheus \"default\": timeout after 5s");
    assert_int_equal(source_parked_count(s), 0);
    /* recovery */
    t = small_table();
    source_publish(s, t);
    assert_int_equal(source_acquire(s, NULL, &got, NULL, 0, why, sizeof(why)), ERR_OK);
    table_unref(got);
    table_unref(t);
    source_free(s);
}

static void test_expire_and_cancel(void **state)
{
    struct source *s = source_new("test", 1000);
    struct probe a = {.w.fn = on_probe}, b = {.w.fn = on_probe}, c = {.w.fn = on_probe};
    struct table *got = NULL;
    char why[64];
    int64_t now = source_now_ms();
    (void)state;

    /* a: own deadline 100 ms; b: none (capped at the source timeout 1 s) */
    assert_int_equal(source_acquire(s, NULL, &got, &a.w, now + 100, why, sizeof(why)), ERR_AGAIN);
    assert_int_equal(source_acquire(s, NULL, &got, &b.w, 0, why, sizeof(why)), ERR_AGAIN);
    assert_int_equal(source_acquire(s, NULL, &got, &c.w, now + 100000, why, sizeof(why)), ERR_AGAIN);
    assert_true(b.w.deadline_ms <= source_now_ms() + 1000);
    assert_true(c.w.deadline_ms <= source_now_ms() + 1000); /* capped too */

    assert_int_equal(source_expire(s, now + 50), 0);
    assert_int_equal(source_expire(s, now + 100), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, ERR_TIMEOUT);
    assert_true(source_cancel(s, &c.w));
    assert_false(source_cancel(s, &c.w));
    assert_int_equal(source_expire(s, now + 2000), 1);
    assert_int_equal(b.rc, ERR_TIMEOUT);
    assert_int_equal(c.calls, 0);
    source_free(s);
}

static int sub_calls;
static struct table *sub_last;
static void on_sub(void *arg, struct source *src, struct table *t)
{
    (void)arg;
    (void)src;
    sub_calls++;
    sub_last = t;
}

static void test_subscriber_and_free(void **state)
{
    struct source *s = source_new("test", 1000);
    struct probe a = {.w.fn = on_probe};
    struct table *got = NULL, *t = small_table(), *cur;
    char why[64];
    (void)state;

    source_subscribe(s, on_sub, NULL);
    assert_null(source_current(s));
    source_publish(s, t);
    assert_int_equal(sub_calls, 1);
    assert_ptr_equal(sub_last, t);
    cur = source_current(s);
    assert_ptr_equal(cur, t);
    table_unref(cur);
    source_fail(s, "x");
    assert_int_equal(sub_calls, 1); /* failures are not snapshots */
    cur = source_current(s);       /* the last good table stays readable */
    assert_ptr_equal(cur, t);
    table_unref(cur);
    table_unref(t);
    source_free(s);

    /* free with a parked waiter: it is told UNAVAILABLE */
    s = source_new("test", 1000);
    assert_int_equal(source_acquire(s, NULL, &got, &a.w, 0, why, sizeof(why)), ERR_AGAIN);
    source_free(s);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, ERR_UNAVAILABLE);
    source_free(NULL);
}

/* A built table covers only the models it was fetched for: a request for
 * another model parks until a publish covers it; publishes that do not
 * cover it leave it parked. */
static struct table *built(const char *model, int64_t stz_ms)
{
    struct table_builder *b = table_builder_new();
    struct table *t = NULL;
    char why[128];
    assert_int_equal(table_builder_add_flow_control(b, "ns", model, 0, why, sizeof(why)), ERR_OK);
    if (stz_ms)
        assert_int_equal(table_builder_add_success(b, "ns", model, stz_ms, 1, why, sizeof(why)),
                         ERR_OK);
    assert_int_equal(table_builder_finish(b, &t, why, sizeof(why)), ERR_OK);
    table_builder_free(b);
    return t;
}

static int interest_calls;
static char interest_model[32];
static int watch_sum;
static void on_interest(void *arg, const struct source_key *key, int delta)
{
    (void)arg;
    watch_sum += delta;
    interest_calls++;
    snprintf(interest_model, sizeof(interest_model), "%s", key->model);
}

static void test_keyed_coverage(void **state)
{
    struct source *s = source_new("prometheus \"default\"", 5000);
    struct probe a = {.w.fn = on_probe}, b = {.w.fn = on_probe};
    struct source_key ka = {"ns", "a", 0}, kb = {"ns", "b", 0}, kb_idle = {"ns", "b", 600000};
    struct table *ta = built("a", 0), *tb = built("b", 0), *tb2 = built("b", 600000), *got = NULL;
    char why[128];
    (void)state;

    source_set_interest(s, on_interest, NULL);
    source_publish(s, ta);
    /* covered: answered, and the interest hook saw the model */
    assert_int_equal(source_acquire(s, &ka, &got, &a.w, 0, why, sizeof(why)), ERR_OK);
    assert_int_equal(interest_calls, 1);
    assert_string_equal(interest_model, "a");
    table_unref(got);
    /* not covered: parked, not "no series" */
    assert_int_equal(source_acquire(s, &kb, &got, &b.w, 0, why, sizeof(why)), ERR_AGAIN);
    assert_string_equal(interest_model, "b");
    source_publish(s, ta); /* still not b: stays parked */
    assert_int_equal(b.calls, 0);
    assert_int_equal(source_parked_count(s), 1);
    source_publish(s, tb);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.rc, ERR_OK);
    /* scale-to-zero data must be there too */
    assert_int_equal(source_acquire(s, &kb_idle, &got, NULL, 0, why, sizeof(why)),
                     ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "no data yet"));
    source_publish(s, tb2);
    assert_int_equal(source_acquire(s, &kb_idle, &got, NULL, 0, why, sizeof(why)), ERR_OK);
    table_unref(got);
    source_touch(s, &ka);
    assert_string_equal(interest_model, "a");
    source_watch(s, &kb, +1);
    source_watch(s, &kb, +1);
    source_watch(s, &kb, -1);
    assert_int_equal(watch_sum, 1);
    table_unref(ta);
    table_unref(tb);
    table_unref(tb2);
    source_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_park_then_publish),
        cmocka_unit_test(test_fail_answers_at_once),
        cmocka_unit_test(test_expire_and_cancel),
        cmocka_unit_test(test_subscriber_and_free),
        cmocka_unit_test(test_keyed_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
