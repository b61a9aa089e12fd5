/*
 * Unit tests for util: strict parsers and double formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse_double(void **state)
{
    static const struct {
        const char *s;
        enum err_code rc;
        double v;
    } cases[] = {
        {"0.8", ERR_OK, 0.8},   {"1", ERR_OK, 1.0},        {"-2.5", ERR_OK, -2.5},
        {"1e-3", ERR_OK, 1e-3}, {"0", ERR_OK, 0.0},         {"", ERR_INVALID, 0},
        {" 1", ERR_INVALID, 0}, {"1 ", ERR_INVALID, 0},     {"1.5x", ERR_INVALID, 0},
        {"nan", ERR_INVALID, 0}, {"inf", ERR_INVALID, 0},   {"-Infinity", ERR_INVALID, 0},
        {"1e999", ERR_INVALID, 0}, {"abc", ERR_INVALID, 0}, {"0x10", ERR_OK, 16.0},
    };
    size_t i;
    (void)state;
    for (i = 0; i < N_OF(cases); i++) {
        double v = -42.0;
        print_message("'%s'\n", cases[i].s);
        assert_int_equal(util_parse_double(cases[i].s, &v), cases[i].rc);
        if (cases[i].rc == ERR_OK)
            assert_true(v == cases[i].v);
        else
            assert_true(v == -42.0); /* untouched */
    }
    assert_int_equal(util_parse_double(NULL, NULL), ERR_INVALID);
}

static void test_parse_int64(void **state)
{
    int64_t v = 7;
    (void)state;
    assert_int_equal(util_parse_int64("42", 0, 100, &v), ERR_OK);
    assert_int_equal(v, 42);
    assert_int_equal(util_parse_int64("-1", 0, 100, &v), ERR_INVALID);
    assert_int_equal(util_parse_int64("101", 0, 100, &v), ERR_INVALID);
    assert_int_equal(util_parse_int64("1.5", 0, 100, &v), ERR_INVALID);
    assert_int_equal(util_parse_int64("", 0, 100, &v), ERR_INVALID);
    assert_int_equal(util_parse_int64("99999999999999999999", 0, INT64_MAX, &v), ERR_INVALID);
    assert_int_equal(util_parse_int64(" 5", 0, 100, &v), ERR_INVALID);
    assert_int_equal(v, 42);
}

static void test_parse_duration(void **state)
{
    static const struct {
        const char *s;
        enum err_code rc;
        int64_t ms;
    } cases[] = {
        {"500ms", ERR_OK, 500}, {"5s", ERR_OK, 5000},     {"1m", ERR_OK, 60000},
        {"1m30s", ERR_OK, 90000}, {"1h", ERR_OK, 3600000}, {"1.5s", ERR_OK, 1500},
        {"0", ERR_OK, 0},       {"10m", ERR_OK, 600000},  {"", ERR_INVALID, 0},
        {"5", ERR_INVALID, 0},  {"-5s", ERR_INVALID, 0},  {"5x", ERR_INVALID, 0},
        {"s", ERR_INVALID, 0},  {"1m 30s", ERR_INVALID, 0}, {"9999999999999h", ERR_INVALID, 0},
    };
    size_t i;
    (void)state;
    for (i = 0; i < N_OF(cases); i++) {
        int64_t ms = -1;
        print_message("'%s'\n", cases[i].s);
        assert_int_equal(util_parse_duration_ms(cases[i].s, &ms), cases[i].rc);
        if (cases[i].rc == ERR_OK)
            assert_int_equal(ms, cases[i].ms);
    }
}

static void test_fmt_double(void **state)
{
    char buf[40];
    (void)state;
    util_fmt_double(buf, sizeof(buf), 0.1);
    assert_string_equal(buf, "0.1");
    util_fmt_double(buf, sizeof(buf), 0.8 - 0.7);
    assert_string_equal(buf, "0.10000000000000009");
    util_fmt_double(buf, sizeof(buf), 5);
    assert_string_equal(buf, "5");
    util_fmt_double17(buf, sizeof(buf), 0.95);
    assert_string_equal(buf, "0.94999999999999996");
    util_fmt_double17(buf, sizeof(buf), 0);
    assert_string_equal(buf, "0");
    util_fmt_double17(buf, sizeof(buf), 2);
    assert_string_equal(buf, "2");
}

static void test_sanitize(void **state)
{
    char out[32];
    (void)state;
    static const char in[] = "  a\tb\n\x01" "c\xff  "; /* \x01 then 'c' */
    util_sanitize(in, sizeof(in) - 1, 100, out, sizeof(out));
    assert_string_equal(out, "a b ?c?");
    util_sanitize("0123456789", 10, 4, out, sizeof(out));
    assert_string_equal(out, "0123...");
    util_sanitize("abcdef", 6, 100, out, 4); /* tiny output: cut, terminated */
    assert_string_equal(out, "abc");
    util_sanitize(NULL, 0, 10, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_why(void **state)
{
    char why[8];
    (void)state;

    memset(why, 'x', sizeof(why));
    util_set_why(why, sizeof(why), "%s=%d", "key", 12345); /* truncated, terminated */
    assert_string_equal(why, "key=123");
    util_clear_why(why, sizeof(why));
    assert_string_equal(why, "");
    util_set_why(why, 0, "%s", "untouched"); /* no room: nothing written */
    assert_string_equal(why, "");
    util_set_why(NULL, 10, "%s", "ignored");
    util_clear_why(NULL, 10);
    why[0] = 'y';
    util_clear_why(why, 0);
    assert_int_equal(why[0], 'y');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_fmt_double),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
