/*
 * Unit tests for mfile: loading the metrics file and watching it change.
 * Files live in a private temp dir; every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "mfile.h"
#include "table.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sat-mfile-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/metrics.json", dir);
    log_setup(LOG_OFF, LOG_FORMAT_JSON);
    return 0;
}

static int teardown(void **state)
{
    char tmp[160];
    (void)state;
    unlink(path);
    snprintf(tmp, sizeof(tmp), "%s/tmp.json", dir);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

/* Write atomically (temp + rename), as operators and tests should. */
static void write_file(const char *text)
{
    char tmp[160];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s/tmp.json", dir);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

static double kv_of(struct source *s)
{
    struct table *t = source_current(s);
    const struct table_model *m;
    double kv = -1;
    if (!t)
        return -1;
    m = table_find(t, "ns", "m");
    if (m && m->row_count)
        kv = m->rows[0].kv;
    table_unref(t);
    return kv;
}

static bool wait_kv(struct source *s, double want, int ms)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    int waited;
    for (waited = 0; waited <= ms; waited += 20) {
        if (kv_of(s) == want)
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

#define FILE_KV(kv) "{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"kv\":" kv "}]}"

static void test_load_errors(void **state)
{
    struct table *t = NULL;
    char why[512];
    (void)state;

    assert_int_equal(mfile_load("/nonexistent/x.json", &t, why, sizeof(why)), ERR_IO);
    assert_non_null(strstr(why, "/nonexistent/x.json"));
    write_file("{\"pods\":[{\"namespace\":\"ns\"}]}");
    assert_int_equal(mfile_load(path, &t, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, path));
    assert_non_null(strstr(why, "pods[0]"));
    assert_null(t);
    write_file(FILE_KV("0.5"));
    assert_int_equal(mfile_load(path, &t, why, sizeof(why)), ERR_OK);
    assert_int_equal(table_model_count(t), 1);
    table_unref(t);
}

static void test_watch(void **state)
{
    struct source *s = source_new("metrics file", 1000);
    struct mfile *m = NULL;
    char why[512];
    (void)state;

    /* a bad file at start is a start-up error */
    write_file("not json");
    assert_int_equal(mfile_start(path, s, &m, why, sizeof(why)), ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(why, "invalid JSON"));

    write_file(FILE_KV("0.5"));
    assert_int_equal(mfile_start(path, s, &m, why, sizeof(why)), ERR_OK);
    assert_true(kv_of(s) == 0.5);
    /* a change is seen within 500 ms */
    write_file(FILE_KV("0.95"));
    assert_true(wait_kv(s, 0.95, 500));
    /* a bad file later keeps the last good table */
    write_file("{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"kv\":-1}]}");
    {
        struct timespec ts = {0, 600 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(kv_of(s) == 0.95);
    /* and a good one after that is picked up again */
    write_file(FILE_KV("0.25"));
    assert_true(wait_kv(s, 0.25, 500));
    mfile_stop(m);
    mfile_stop(NULL);
    source_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_watch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
