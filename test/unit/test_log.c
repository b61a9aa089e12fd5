/*
 * Unit tests for log: level gating, formats, escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Run fn with stderr captured into buf. */
static void capture(void (*fn)(void), char *buf, size_t len)
{
    char name[] = "/tmp/sat-log-XXXXXX";
    int fd = mkstemp(name), saved = dup(STDERR_FILENO);
    ssize_t n;

    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(name);
}

static int evaluated;
static int side_effect(void)
{
    return ++evaluated;
}

static void write_some(void)
{
    LOG_AT(LOG_DEBUG, "test", "hidden %d", side_effect());
    LOG_AT(LOG_INFO, "test", "value \"%s\"\nnext", "q");
}

static void test_json(void **state)
{
    char buf[1024];
    (void)state;
    log_setup(LOG_INFO, LOG_FORMAT_JSON);
    evaluated = 0;
    capture(write_some, buf, sizeof(buf));
    assert_int_equal(evaluated, 0); /* gated: arguments not evaluated */
    assert_non_null(strstr(buf, "\"level\":\"info\",\"event\":\"test\""));
    assert_non_null(strstr(buf, "\"msg\":\"value \\\"q\\\"\\nnext\"}\n"));
    assert_null(strstr(buf, "hidden"));
    /* exactly one line */
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

static void test_logfmt_and_parse(void **state)
{
    char buf[1024];
    enum log_level l;
    enum log_format f;
    (void)state;
    log_setup(LOG_DEBUG, LOG_FORMAT_LOGFMT);
    evaluated = 0;
    capture(write_some, buf, sizeof(buf));
    assert_int_equal(evaluated, 1);
    assert_non_null(strstr(buf, "level=debug event=\"test\" msg=\"hidden 1\""));
    assert_non_null(strstr(buf, "level=info"));
    assert_int_equal(log_level_parse("warn", &l), ERR_OK);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("verbose", &l), ERR_INVALID);
    assert_int_equal(log_format_parse("logfmt", &f), ERR_OK);
    assert_int_equal(log_format_parse("xml", &f), ERR_INVALID);
    log_setup(LOG_INFO, LOG_FORMAT_JSON);
}

static void write_bad_utf8(void)
{
    LOG_AT(LOG_INFO, "test", "model=%s ok=%s", "\xff\xfe", "d\xc3\xa9j\xc3\xa0");
}

static void test_invalid_utf8_stays_json(void **state)
{
    char buf[1024];
    (void)state;
    log_setup(LOG_INFO, LOG_FORMAT_JSON);
    capture(write_bad_utf8, buf, sizeof(buf));
    /* the line is not valid UTF-8 otherwise: every high byte escaped */
    assert_non_null(strstr(buf, "model=\\u00ff\\u00fe ok=d\\u00c3\\u00a9j"));
    capture(write_some, buf, sizeof(buf)); /* valid UTF-8 is kept as is */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_logfmt_and_parse),
        cmocka_unit_test(test_invalid_utf8_stays_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
