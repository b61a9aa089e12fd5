/*
 * Unit tests for the serve options: flags, environment, defaults, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve.h"

static enum err_code parse(struct serve_options *o, char *why, size_t len, int argc, ...)
{
    char *argv[16];
    va_list ap;
    int i;

    argv[0] = "serve";
    va_start(ap, argc);
    for (i = 1; i <= argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return serve_parse(argc + 1, argv, o, why, len);
}

static void test_defaults(void **state)
{
    struct serve_options o;
    char why[256];
    (void)state;

    assert_int_equal(parse(&o, why, sizeof(why), 0), ERR_OK);
    assert_string_equal(o.listen, "[::]:6000");
    assert_int_equal(o.workers, 0);
    assert_null(o.metrics_file);
    assert_false(o.allow_cross_namespace);
    assert_int_equal(o.shutdown_grace_ms, 10000);
    assert_string_equal(o.log_format, "json");
    assert_int_equal(o.stream_workers, 4);
    assert_int_equal(o.kube_timeout_ms, 5000);
    serve_options_clear(&o);
}

static void test_flags_and_env(void **state)
{
    struct serve_options o;
    char why[256];
    (void)state;

    setenv("SATURATION_SCALER_LISTEN", "127.0.0.1:7000", 1);
    setenv("SATURATION_SCALER_WORKERS", "3", 1);
    setenv("SATURATION_SCALER_ALLOW_CROSS_NAMESPACE", "true", 1);
    assert_int_equal(parse(&o, why, sizeof(why), 4, "--metrics-file", "/tmp/x.json",
                           "--workers=5", "--shutdown-grace=1m30s"),
                     ERR_OK);
    assert_string_equal(o.listen, "127.0.0.1:7000"); /* env */
    assert_int_equal(o.workers, 5);                   /* flag wins over env */
    assert_true(o.allow_cross_namespace);
    assert_string_equal(o.metrics_file, "/tmp/x.json");
    assert_int_equal(o.shutdown_grace_ms, 90000);
    serve_options_clear(&o);
    assert_int_equal(parse(&o, why, sizeof(why), 1, "--allow-cross-namespace=false"), ERR_OK);
    assert_false(o.allow_cross_namespace);
    serve_options_clear(&o);
    assert_int_equal(parse(&o, why, sizeof(why), 2, "--kube-timeout=750ms", "--stream-workers=2"),
                     ERR_OK);
    assert_int_equal(o.kube_timeout_ms, 750);
    assert_int_equal(o.stream_workers, 2);
    serve_options_clear(&o);
    assert_int_equal(parse(&o, why, sizeof(why), 1, "--stream-workers=0"), ERR_INVALID);
    assert_non_null(strstr(why, "--stream-workers"));
    assert_int_equal(parse(&o, why, sizeof(why), 1, "--kube-timeout=10ms"), ERR_INVALID);
    assert_non_null(strstr(why, "--kube-timeout"));
    unsetenv("SATURATION_SCALER_LISTEN");
    unsetenv("SATURATION_SCALER_WORKERS");
    unsetenv("SATURATION_SCALER_ALLOW_CROSS_NAMESPACE");
}

static void test_errors(void **state)
{
    static const struct {
        const char *a, *b, *needle;
    } cases[] = {
        {"--workers", "abc", "--workers: \"abc\""},
        {"--workers", "-1", "--workers"},
        {"--workers", "5000", "--workers"},
        {"--shutdown-grace", "10", "--shutdown-grace: \"10\""},
        {"--shutdown-grace", "2h", "--shutdown-grace"},
        {"--allow-cross-namespace=maybe", NULL, "--allow-cross-namespace: \"maybe\""},
        {"--nope", NULL, "unknown flag --nope"},
        {"stray", NULL, "unexpected argument \"stray\""},
        {"--listen", NULL, "--listen needs a value"},
    };
    struct serve_options o;
    char why[256];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum err_code rc = cases[i].b ? parse(&o, why, sizeof(why), 2, cases[i].a, cases[i].b)
                                      : parse(&o, why, sizeof(why), 1, cases[i].a);
        print_message("%s -> %s\n", cases[i].a, why);
        assert_int_equal(rc, ERR_INVALID);
        assert_non_null(strstr(why, cases[i].needle));
    }
    setenv("SATURATION_SCALER_WORKERS", "many", 1);
    assert_int_equal(parse(&o, why, sizeof(why), 0), ERR_INVALID);
    assert_non_null(strstr(why, "SATURATION_SCALER_WORKERS"));
    unsetenv("SATURATION_SCALER_WORKERS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags_and_env),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
