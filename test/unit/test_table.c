/*
 * Unit tests for the table module (include/table.h): parsing metrics files
 * (valid, optional fields, every malformed case with its path), lookups,
 * distinct pods, the sat_replica conversion, the builder's normalisation
 * and duplicate detection, reference counting across threads, and a
 * 10k-pod / 2k-model table. Every table and builder is freed so valgrind
 * and ASan runs stay clean.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define WHY_LEN 512

/* Parse a NUL-terminated document; fails the test on error. */
static struct table *parse_ok(const char *json)
{
    char why[WHY_LEN];
    struct table *t = NULL;
    enum err_code rc = table_parse_json(json, strlen(json), &t, why, sizeof why);

    if (rc != ERR_OK)
        fail_msg("parse failed (%s): %s\n  input: %s", err_str(rc), why, json);
    assert_non_null(t);
    assert_string_equal(why, "");
    return t;
}

static const struct table_row *find_row(const struct table_model *m, const char *instance)
{
    size_t i;

    for (i = 0; i < m->row_count; i++)
        if (strcmp(m->rows[i].instance, instance) == 0)
            return &m->rows[i];
    return NULL;
}

/* ---- valid files -------------------------------------------------------- */

static void test_parse_example(void **state)
{
    (void)state;
    struct table *t = parse_ok("{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\","
                               "\"variant\":\"v1\",\"kv\":0.95,\"queue\":0}],"
                               "\"flowControl\":[{\"namespace\":\"ns\",\"model\":\"m\","
                               "\"queue\":3}]}");
    const struct table_model *m;

    assert_int_equal(table_model_count(t), 1);
    assert_int_equal(table_row_count(t), 1);
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_ptr_equal(m, table_model_at(t, 0));
    assert_string_equal(m->ns, "ns");
    assert_string_equal(m->model, "m");
    assert_int_equal(m->row_count, 1);
    assert_string_equal(m->rows[0].pod, "p1");
    assert_string_equal(m->rows[0].instance, "p1");
    assert_string_equal(m->rows[0].variant, "v1");
    assert_true(m->rows[0].kv == 0.95);
    assert_int_equal(m->rows[0].queue, 0);
    assert_true(m->has_flow_control);
    assert_true(m->flow_control_queue == 3.0);
    assert_int_equal(table_model_distinct_pods(m), 1);
    table_unref(t);
}

static void test_parse_optional_fields(void **state)
{
    (void)state;
    char long_name[TABLE_MAX_NAME + 1];
    char json[4 * TABLE_MAX_NAME];
    struct table *t;
    const struct table_model *m;
    const struct table_row *r;

    t = parse_ok(
        " \n{\"pods\":["
        /* no variant, kv only */
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"a\",\"kv\":0.5},"
        /* empty variant, queue only, truncated */
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"b\",\"variant\":\"\",\"queue\":3.9},"
        /* explicit instance, unknown keys of every type ignored */
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"c\",\"instance\":\"c:8001\","
        "\"kv\":0,\"queue\":1e3,\"extra\":{\"x\":[1,2]},\"successTotalIncrease\":4},"
        /* neither kv nor queue: skipped */
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"d\"},"
        /* only skipped pods: the model does not exist */
        "{\"namespace\":\"ns\",\"model\":\"ghost\",\"pod\":\"e\",\"variant\":\"v\"}"
        "],\"unknown\":true}\t\r\n");
    assert_int_equal(table_model_count(t), 1);
    assert_null(table_find(t, "ns", "ghost"));
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_false(m->has_flow_control);
    assert_true(m->flow_control_queue == 0);
    assert_int_equal(m->row_count, 3);
    assert_null(find_row(m, "d"));

    r = find_row(m, "a");
    assert_non_null(r);
    assert_null(r->variant);
    assert_true(r->kv == 0.5);
    assert_int_equal(r->queue, 0);

    r = find_row(m, "b");
    assert_non_null(r);
    assert_null(r->variant);
    assert_true(r->kv == 0);
    assert_int_equal(r->queue, 3);

    r = find_row(m, "c:8001");
    assert_non_null(r);
    assert_string_equal(r->pod, "c");
    assert_int_equal(r->queue, 1000);
    table_unref(t);

    /* Empty pods, flow control only: the model exists without rows. */
    t = parse_ok("{\"pods\":[],\"flowControl\":[{\"namespace\":\"ns\",\"model\":\"m\","
                 "\"queue\":0.5}]}");
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_int_equal(m->row_count, 0);
    assert_null(m->rows);
    assert_true(m->has_flow_control);
    assert_true(m->flow_control_queue == 0.5); /* not truncated */
    assert_int_equal(table_model_distinct_pods(m), 0);
    table_unref(t);

    /* A key repeated within one object: the first one counts. */
    t = parse_ok("{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p\","
                 "\"kv\":0.25,\"kv\":-1}],\"pods\":7}");
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_true(m->rows[0].kv == 0.25);
    table_unref(t);

    /* Empty file content: an empty table. */
    t = parse_ok("{\"pods\":[],\"flowControl\":[]}");
    assert_int_equal(table_model_count(t), 0);
    assert_null(table_model_at(t, 0));
    assert_null(table_find(t, "ns", "m"));
    table_unref(t);

    /* Names of exactly TABLE_MAX_NAME bytes are fine. */
    memset(long_name, 'x', TABLE_MAX_NAME);
    long_name[TABLE_MAX_NAME] = '\0';
    snprintf(json, sizeof json,
             "{\"pods\":[{\"namespace\":\"%s\",\"model\":\"%s\",\"pod\":\"%s\",\"kv\":1.5}]}",
             long_name, long_name, long_name);
    t = parse_ok(json);
    m = table_find(t, long_name, long_name);
    assert_non_null(m);
    assert_true(m->rows[0].kv == 1.5); /* no upper bound on kv */
    table_unref(t);
}

/* json need not be NUL-terminated: exactly len bytes are read. */
static void test_parse_length_bounded(void **state)
{
    (void)state;
    const char doc[] = "{\"pods\":[{\"namespace\":\"n\",\"model\":\"m\",\"pod\":\"p\",\"kv\":1}]}";
    char buf[sizeof doc + 8];
    char why[WHY_LEN];
    struct table *t = NULL;

    memcpy(buf, doc, sizeof doc - 1);
    memcpy(buf + sizeof doc - 1, "GARBAGE!", 8); /* no NUL anywhere */
    assert_int_equal(table_parse_json(buf, sizeof doc - 1, &t, why, sizeof why), ERR_OK);
    assert_non_null(table_find(t, "n", "m"));
    table_unref(t);

    /* The same buffer with the garbage counted in is refused. */
    t = (struct table *)buf; /* out-parameter cleared on entry */
    assert_int_equal(table_parse_json(buf, sizeof buf, &t, why, sizeof why), ERR_INVALID);
    assert_null(t);
    assert_non_null(strstr(why, "invalid JSON near byte"));

    /* NULL why is allowed; NULL out is refused. */
    assert_int_equal(table_parse_json("[]", 2, &t, NULL, 0), ERR_INVALID);
    assert_int_equal(table_parse_json("{\"pods\":[]}", 11, NULL, why, sizeof why), ERR_INVALID);
    assert_int_equal(table_parse_json(NULL, 3, &t, why, sizeof why), ERR_INVALID);
    assert_null(t);

    /* A tiny why buffer is truncated, still terminated. */
    assert_int_equal(table_parse_json("[]", 2, &t, why, 4), ERR_INVALID);
    assert_string_equal(why, "top");
}

static void test_multi_and_lookup(void **state)
{
    (void)state;
    struct table *t = parse_ok("{\"pods\":["
                               "{\"namespace\":\"b\",\"model\":\"m2\",\"pod\":\"z\",\"kv\":0.1},"
                               "{\"namespace\":\"a\",\"model\":\"m2\",\"pod\":\"p3\",\"kv\":0.3},"
                               "{\"namespace\":\"a\",\"model\":\"m1\",\"pod\":\"p2\",\"kv\":0.2},"
                               "{\"namespace\":\"b\",\"model\":\"m2\",\"pod\":\"y\",\"kv\":0.2},"
                               "{\"namespace\":\"a\",\"model\":\"m1\",\"pod\":\"p1\",\"kv\":0.1},"
                               /* same pod name, other namespace: not a duplicate */
                               "{\"namespace\":\"b\",\"model\":\"m1\",\"pod\":\"p1\",\"kv\":0.4}"
                               "],\"flowControl\":["
                               "{\"namespace\":\"c\",\"model\":\"m9\",\"queue\":7},"
                               "{\"namespace\":\"a\",\"model\":\"m1\",\"queue\":1}"
                               "]}");
    static const struct {
        const char *ns, *model;
        size_t rows;
        const char *first;
        bool flow;
    } want[] = {
        {"a", "m1", 2, "p1", true}, {"a", "m2", 1, "p3", false}, {"b", "m1", 1, "p1", false},
        {"b", "m2", 2, "y", false}, {"c", "m9", 0, NULL, true},
    };
    size_t i;

    assert_int_equal(table_model_count(t), 5);
    assert_int_equal(table_row_count(t), 6);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct table_model *m = table_model_at(t, i);
        assert_non_null(m);
        assert_string_equal(m->ns, want[i].ns);
        assert_string_equal(m->model, want[i].model);
        assert_int_equal(m->row_count, want[i].rows);
        assert_int_equal(m->has_flow_control, want[i].flow);
        if (want[i].first != NULL)
            assert_string_equal(m->rows[0].instance, want[i].first);
        assert_ptr_equal(table_find(t, want[i].ns, want[i].model), m);
    }
    assert_null(table_model_at(t, 5));
    /* Rows sorted by instance. */
    assert_string_equal(table_find(t, "b", "m2")->rows[1].instance, "z");
    /* Misses. */
    assert_null(table_find(t, "a", "m3"));
    assert_null(table_find(t, "c", "m1"));
    assert_null(table_find(t, "", ""));
    assert_null(table_find(t, "a", "m"));
    assert_null(table_find(t, "a", "m10"));
    assert_null(table_find(t, "z", "m1"));
    assert_null(table_find(t, NULL, "m1"));
    assert_null(table_find(t, "a", NULL));
    assert_null(table_find(NULL, "a", "m1"));
    assert_int_equal(table_model_count(NULL), 0);
    assert_int_equal(table_row_count(NULL), 0);
    assert_null(table_model_at(NULL, 0));
    table_unref(t);
}

static void test_distinct_pods(void **state)
{
    (void)state;
    /* Pod "p1" runs two engines; "p2" one: 3 instances, 2 pods. */
    struct table *t = parse_ok(
        "{\"pods\":["
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"instance\":\"p1:8001\",\"kv\":0.1},"
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p2\",\"kv\":0.2},"
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"instance\":\"p1:8000\",\"kv\":0.3}"
        "]}");
    const struct table_model *m = table_find(t, "ns", "m");

    assert_non_null(m);
    assert_int_equal(m->row_count, 3);
    assert_int_equal(table_model_distinct_pods(m), 2);
    assert_int_equal(m->distinct_pods, 2);
    assert_string_equal(m->rows[0].instance, "p1:8000");
    assert_string_equal(m->rows[1].instance, "p1:8001");
    assert_string_equal(m->rows[2].instance, "p2");
    assert_int_equal(table_model_distinct_pods(NULL), 0);
    table_unref(t);
}

static void test_replicas(void **state)
{
    (void)state;
    struct table *t = parse_ok(
        "{\"pods\":["
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"a\",\"variant\":\"v1\",\"kv\":0.9,"
        "\"queue\":2},"
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"b\",\"instance\":\"b:1\",\"kv\":0.1},"
        "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"c\",\"variant\":\"\",\"queue\":7}"
        "]}");
    const struct table_model *m = table_find(t, "ns", "m");
    struct sat_replica out[3];
    struct sat_replica small[1];

    assert_int_equal(table_model_replicas(m, out, 3, "so-name"), 3);
    assert_string_equal(out[0].pod, "a");
    assert_string_equal(out[0].variant, "v1");
    assert_true(out[0].kv == 0.9);
    assert_int_equal(out[0].queue, 2);
    assert_string_equal(out[1].pod, "b:1"); /* the instance key */
    assert_string_equal(out[1].variant, "so-name");
    assert_string_equal(out[2].pod, "c");
    assert_string_equal(out[2].variant, "so-name");
    assert_int_equal(out[2].queue, 7);

    /* NULL unlabelled name: "". */
    assert_int_equal(table_model_replicas(m, out, 3, NULL), 3);
    assert_string_equal(out[1].variant, "");

    /* Too small: fills cap, returns the total. */
    memset(small, 0, sizeof small);
    assert_int_equal(table_model_replicas(m, small, 1, "x"), 3);
    assert_string_equal(small[0].pod, "a");
    assert_int_equal(table_model_replicas(m, NULL, 0, "x"), 3);
    assert_int_equal(table_model_replicas(NULL, out, 3, "x"), 0);

    /* The conversion feeds sat_analyze() directly. */
    {
        struct sat_config cfg;
        struct sat_analysis a;
        sat_config_default(&cfg);
        memset(&a, 0, sizeof a);
        assert_int_equal(sat_analyze(&cfg, out, 3, &a), ERR_OK);
        assert_int_equal(a.total_replicas, 3);
        sat_analysis_clear(&a);
    }
    table_unref(t);
}

/* ---- malformed files ---------------------------------------------------- */

/* "@L@" in a case stands for a TABLE_MAX_NAME + 1 byte name. */
static char *expand_long(const char *tmpl)
{
    const char *at = strstr(tmpl, "@L@");
    size_t n = strlen(tmpl);
    char *s;

    if (at == NULL) {
        s = malloc(n + 1);
        assert_non_null(s);
        memcpy(s, tmpl, n + 1);
        return s;
    }
    s = malloc(n - 3 + TABLE_MAX_NAME + 1 + 1);
    assert_non_null(s);
    memcpy(s, tmpl, (size_t)(at - tmpl));
    memset(s + (at - tmpl), 'q', TABLE_MAX_NAME + 1);
    memcpy(s + (at - tmpl) + TABLE_MAX_NAME + 1, at + 3, strlen(at + 3) + 1);
    return s;
}

#define POD(extra) "{\"pods\":[{" extra "}]}"
#define NMP "\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p\""
#define FLOW(extra) "{\"pods\":[],\"flowControl\":[{" extra "}]}"
#define NM "\"namespace\":\"ns\",\"model\":\"m\""

static const struct bad_case {
    const char *json;
    const char *want; /* the message starts with this */
} bad_cases[] = {
    /* syntax */
    {"", "invalid JSON near byte 0"},
    {"   ", "invalid JSON near byte"},
    {"{", "invalid JSON near byte"},
    {"{\"pods\":[}", "invalid JSON near byte 9"},
    {"{\"pods\":[]} x", "invalid JSON near byte 12"},
    {"{\"pods\":[]}{}", "invalid JSON near byte 11"},
    {"{\"pods\":[],}", "invalid JSON near byte"},
    {"{'pods':[]}", "invalid JSON near byte"},
    /* shape */
    {"[]", "top level: must be an object"},
    {"\"pods\"", "top level: must be an object"},
    {"null", "top level: must be an object"},
    {"42", "top level: must be an object"},
    {"{}", "pods: must be an array"},
    {"{\"Pods\":[]}", "pods: must be an array"},
    {"{\"pods\":{}}", "pods: must be an array"},
    {"{\"pods\":null}", "pods: must be an array"},
    {"{\"pods\":\"x\"}", "pods: must be an array"},
    {"{\"pods\":[1]}", "pods[0]: must be an object"},
    {"{\"pods\":[[]]}", "pods[0]: must be an object"},
    {"{\"pods\":[{" NMP ",\"kv\":0},null]}", "pods[1]: must be an object"},
    /* namespace */
    {POD("\"model\":\"m\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].namespace: must be a non-empty string"},
    {POD("\"namespace\":\"\",\"model\":\"m\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].namespace: must be a non-empty string"},
    {POD("\"namespace\":5,\"model\":\"m\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].namespace: must be a non-empty string"},
    {POD("\"namespace\":null,\"model\":\"m\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].namespace: must be a non-empty string"},
    {POD("\"namespace\":\"@L@\",\"model\":\"m\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].namespace: must be at most 1024 bytes long"},
    /* model */
    {POD("\"namespace\":\"ns\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].model: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":\"\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].model: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":[],\"pod\":\"p\",\"kv\":0"),
     "pods[0].model: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":\"@L@\",\"pod\":\"p\",\"kv\":0"),
     "pods[0].model: must be at most 1024 bytes long"},
    /* pod */
    {POD("\"namespace\":\"ns\",\"model\":\"m\",\"kv\":0"),
     "pods[0].pod: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"\",\"kv\":0"),
     "pods[0].pod: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":\"m\",\"pod\":true,\"kv\":0"),
     "pods[0].pod: must be a non-empty string"},
    {POD("\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"@L@\",\"kv\":0"),
     "pods[0].pod: must be at most 1024 bytes long"},
    /* instance, variant */
    {POD(NMP ",\"instance\":\"\",\"kv\":0"), "pods[0].instance: must be a non-empty string"},
    {POD(NMP ",\"instance\":8000,\"kv\":0"), "pods[0].instance: must be a non-empty string"},
    {POD(NMP ",\"instance\":\"@L@\",\"kv\":0"), "pods[0].instance: must be at most 1024 bytes"},
    {POD(NMP ",\"variant\":3,\"kv\":0"), "pods[0].variant: must be a string"},
    {POD(NMP ",\"variant\":null,\"kv\":0"), "pods[0].variant: must be a string"},
    {POD(NMP ",\"variant\":\"@L@\",\"kv\":0"), "pods[0].variant: must be at most 1024 bytes"},
    /* kv */
    {POD(NMP ",\"kv\":\"0.5\""), "pods[0].kv: must be a finite number >= 0"},
    {POD(NMP ",\"kv\":-0.1"), "pods[0].kv: must be a finite number >= 0"},
    {POD(NMP ",\"kv\":null"), "pods[0].kv: must be a finite number >= 0"},
    {POD(NMP ",\"kv\":true"), "pods[0].kv: must be a finite number >= 0"},
    {POD(NMP ",\"kv\":1e999"), "pods[0].kv: must be a finite number >= 0"},
    {POD(NMP ",\"kv\":-1e999"), "pods[0].kv: must be a finite number >= 0"},
    /* queue */
    {POD(NMP ",\"queue\":-1"), "pods[0].queue: must be a finite number >= 0"},
    {POD(NMP ",\"queue\":\"3\""), "pods[0].queue: must be a finite number >= 0"},
    {POD(NMP ",\"queue\":{}"), "pods[0].queue: must be a finite number >= 0"},
    {POD(NMP ",\"queue\":1e19"), "pods[0].queue: must be a finite number >= 0 and < 2^63"},
    {POD(NMP ",\"queue\":9223372036854775808"), "pods[0].queue: must be"},
    {POD(NMP ",\"kv\":0.5,\"queue\":1e999"), "pods[0].queue: must be"},
    /* the index is the array index */
    {"{\"pods\":[{" NMP ",\"kv\":0},{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"q\"},{" NMP
     ",\"kv\":-1}]}",
     "pods[2].kv: must be a finite number >= 0"},
    /* duplicates */
    {"{\"pods\":[{" NMP ",\"kv\":0.1},{" NMP ",\"kv\":0.2}]}",
     "pods[1].pod: duplicate instance \"p\" for model \"m\" in namespace \"ns\""},
    {"{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p1\",\"kv\":0.1},"
     "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p2\",\"instance\":\"p1\",\"kv\":0.2}]}",
     "pods[1].instance: duplicate instance \"p1\" for model \"m\" in namespace \"ns\""},
    /* a skipped pod (no metrics) still counts for duplicates */
    {"{\"pods\":[{" NMP "},{" NMP ",\"kv\":0.2}]}", "pods[1].pod: duplicate instance \"p\""},
    /* the first duplicate in file order is named, not the first in sort order */
    {"{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"z\",\"kv\":0},"
     "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"a\",\"kv\":0},"
     "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"z\",\"kv\":0},"
     "{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"a\",\"kv\":0}]}",
     "pods[2].pod: duplicate instance \"z\""},
    /* flowControl */
    {"{\"pods\":[],\"flowControl\":{}}", "flowControl: must be an array"},
    {"{\"pods\":[],\"flowControl\":null}", "flowControl: must be an array"},
    {"{\"pods\":[],\"flowControl\":3}", "flowControl: must be an array"},
    {"{\"pods\":[],\"flowControl\":[1]}", "flowControl[0]: must be an object"},
    {"{\"pods\":[],\"flowControl\":[{" NM ",\"queue\":1},\"x\"]}",
     "flowControl[1]: must be an object"},
    {FLOW("\"model\":\"m\",\"queue\":1"), "flowControl[0].namespace: must be a non-empty string"},
    {FLOW("\"namespace\":\"\",\"model\":\"m\",\"queue\":1"),
     "flowControl[0].namespace: must be a non-empty string"},
    {FLOW("\"namespace\":\"ns\",\"queue\":1"), "flowControl[0].model: must be a non-empty string"},
    {FLOW("\"namespace\":\"ns\",\"model\":1,\"queue\":1"),
     "flowControl[0].model: must be a non-empty string"},
    {FLOW("\"namespace\":\"@L@\",\"model\":\"m\",\"queue\":1"),
     "flowControl[0].namespace: must be at most 1024 bytes long"},
    {FLOW(NM), "flowControl[0].queue: must be a finite number >= 0"},
    {FLOW(NM ",\"queue\":-1"), "flowControl[0].queue: must be a finite number >= 0"},
    {FLOW(NM ",\"queue\":\"3\""), "flowControl[0].queue: must be a finite number >= 0"},
    {FLOW(NM ",\"queue\":1e999"), "flowControl[0].queue: must be a finite number >= 0"},
    {FLOW(NM ",\"queue\":null"), "flowControl[0].queue: must be a finite number >= 0"},
    {"{\"pods\":[],\"flowControl\":[{" NM ",\"queue\":1},{" NM ",\"queue\":2}]}",
     "flowControl[1]: duplicate entry for model \"m\" in namespace \"ns\""},
    /* shapes are checked before entries, pod entries before flowControl ones */
    {"{\"pods\":[{\"pod\":\"p\"}],\"flowControl\":{}}", "flowControl: must be an array"},
    {"{\"pods\":[{\"pod\":\"p\"}],\"flowControl\":[1]}", "pods[0].namespace"},
};

static void test_malformed(void **state)
{
    (void)state;
    size_t i;

    for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char *json = expand_long(bad_cases[i].json);
        char why[WHY_LEN];
        struct table *t = (struct table *)&why; /* must be cleared */
        enum err_code rc = table_parse_json(json, strlen(json), &t, why, sizeof why);

        if (rc != ERR_INVALID || t != NULL ||
            strncmp(why, bad_cases[i].want, strlen(bad_cases[i].want)) != 0) {
            table_unref(rc == ERR_OK ? t : NULL);
            free(json);
            fail_msg("case %zu: rc %d (%s), why \"%s\", want \"%s...\"\n  input: %s", i, rc,
                     err_str(rc), why, bad_cases[i].want, bad_cases[i].json);
        }
        free(json);
    }
}

/* ---- builder ------------------------------------------------------------ */

static struct table *finish_ok(struct table_builder *b)
{
    char why[WHY_LEN];
    struct table *t = NULL;

    if (table_builder_finish(b, &t, why, sizeof why) != ERR_OK)
        fail_msg("finish failed: %s", why);
    assert_non_null(t);
    return t;
}

static void test_builder_normalise(void **state)
{
    (void)state;
    static const struct {
        double kv, queue;
        double want_kv;
        int64_t want_queue;
    } cases[] = {
        {0.5, 2.0, 0.5, 2},
        {NAN, NAN, 0, 0},
        {INFINITY, INFINITY, 0, 0},
        {-INFINITY, -INFINITY, 0, 0},
        {-0.5, -3.0, 0, 0},
        {-0.0, -0.0, 0, 0},
        {1.25, 3.99, 1.25, 3},
        {0, 1e30, 0, INT64_MAX},
        {0, 9223372036854775808.0, 0, INT64_MAX},
        {0, 9223372036854774784.0, 0, INT64_C(9223372036854774784)},
    };
    struct table_builder *b = table_builder_new();
    char why[WHY_LEN];
    char name[32];
    struct table *t;
    const struct table_model *m;
    size_t i;

    assert_non_null(b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(name, sizeof name, "p%02zu", i);
        assert_int_equal(table_builder_add_pod(b, "ns", "m", name, NULL, NULL, cases[i].kv,
                                               cases[i].queue, why, sizeof why),
                         ERR_OK);
    }
    assert_int_equal(table_builder_add_flow_control(b, "ns", "nan", NAN, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "neg", -4, why, sizeof why), ERR_OK);
    t = finish_ok(b);
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_int_equal(m->row_count, sizeof cases / sizeof cases[0]);
    for (i = 0; i < m->row_count; i++) {
        assert_true(m->rows[i].kv == cases[i].want_kv);
        assert_false(signbit(m->rows[i].kv));
        assert_int_equal(m->rows[i].queue, cases[i].want_queue);
    }
    m = table_find(t, "ns", "nan");
    assert_non_null(m);
    assert_true(m->has_flow_control && m->flow_control_queue == 0);
    m = table_find(t, "ns", "neg");
    assert_non_null(m);
    assert_true(m->has_flow_control && m->flow_control_queue == 0);
    table_unref(t);
    table_builder_free(b);
}

static void test_builder_rules(void **state)
{
    (void)state;
    char long_name[TABLE_MAX_NAME + 2];
    static const struct {
        const char *ns, *model, *pod, *instance, *variant;
        const char *want;
    } bad[] = {
        {NULL, "m", "p", NULL, NULL, "namespace: must be a non-empty string"},
        {"", "m", "p", NULL, NULL, "namespace: must be a non-empty string"},
        {"ns", NULL, "p", NULL, NULL, "model: must be a non-empty string"},
        {"ns", "", "p", NULL, NULL, "model: must be a non-empty string"},
        {"ns", "m", NULL, NULL, NULL, "pod: must be a non-empty string"},
        {"ns", "m", "", NULL, NULL, "pod: must be a non-empty string"},
        {"LONG", "m", "p", NULL, NULL, "namespace: must be at most 1024 bytes long"},
        {"ns", "LONG", "p", NULL, NULL, "model: must be at most 1024 bytes long"},
        {"ns", "m", "LONG", NULL, NULL, "pod: must be at most 1024 bytes long"},
        {"ns", "m", "p", "LONG", NULL, "instance: must be at most 1024 bytes long"},
        {"ns", "m", "p", NULL, "LONG", "variant: must be at most 1024 bytes long"},
    };
    struct table_builder *b = table_builder_new();
    char why[WHY_LEN];
    struct table *t;
    const struct table_model *m;
    size_t i;

    memset(long_name, 'l', TABLE_MAX_NAME + 1);
    long_name[TABLE_MAX_NAME + 1] = '\0';
#define ARG(s) ((s) != NULL && strcmp((s), "LONG") == 0 ? long_name : (s))
    assert_non_null(b);
    assert_int_equal(table_builder_add_pod(b, "ns", "m", "p", "", "", 0.5, 1, why, sizeof why),
                     ERR_OK);
    assert_string_equal(why, "");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum err_code rc =
            table_builder_add_pod(b, ARG(bad[i].ns), ARG(bad[i].model), ARG(bad[i].pod),
                                  ARG(bad[i].instance), ARG(bad[i].variant), 0, 0, why, sizeof why);
        assert_int_equal(rc, ERR_INVALID);
        assert_string_equal(why, bad[i].want);
        if (bad[i].pod != NULL && strcmp(bad[i].pod, "p") == 0) {
            rc = table_builder_add_flow_control(b, ARG(bad[i].ns), ARG(bad[i].model), 1, why,
                                                sizeof why);
            if (bad[i].instance == NULL && bad[i].variant == NULL) {
                assert_int_equal(rc, ERR_INVALID);
                assert_string_equal(why, bad[i].want);
            } else {
                assert_int_equal(rc, ERR_OK); /* flow control has neither */
            }
        }
    }
#undef ARG
    /* The failed adds left the builder with the one good row (and the two
     * flow-control entries for ns/m, summed). */
    t = finish_ok(b);
    assert_int_equal(table_model_count(t), 1);
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_int_equal(m->row_count, 1);
    assert_string_equal(m->rows[0].instance, "p"); /* "" instance = the pod */
    assert_null(m->rows[0].variant);               /* "" variant = unlabelled */
    assert_true(m->has_flow_control && m->flow_control_queue == 2);
    table_unref(t);

    /* NULL builder. */
    assert_int_equal(table_builder_add_pod(NULL, "ns", "m", "p", NULL, NULL, 0, 0, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(table_builder_add_flow_control(NULL, "ns", "m", 0, NULL, 0), ERR_INVALID);
    assert_int_equal(table_builder_finish(NULL, &t, why, sizeof why), ERR_INVALID);
    assert_null(t); /* cleared on entry */
    assert_int_equal(table_builder_finish(b, NULL, why, sizeof why), ERR_INVALID);
    table_builder_free(NULL);
    table_unref(NULL);
    assert_null(table_ref(NULL));
    table_builder_free(b);
}

static void test_builder_duplicates_and_reuse(void **state)
{
    (void)state;
    struct table_builder *b = table_builder_new();
    char why[WHY_LEN];
    struct table *t = NULL;
    const struct table_model *m;

    assert_non_null(b);
    /* Empty builder: an empty table. */
    t = finish_ok(b);
    assert_int_equal(table_model_count(t), 0);
    assert_null(table_find(t, "ns", "m"));
    table_unref(t);

    assert_int_equal(
        table_builder_add_pod(b, "ns", "m", "p1", "p1:1", "v", 0.1, 0, why, sizeof why), ERR_OK);
    assert_int_equal(
        table_builder_add_pod(b, "ns", "m", "p2", "p1:1", "v", 0.2, 0, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_finish(b, &t, why, sizeof why), ERR_INVALID);
    assert_null(t);
    assert_string_equal(why, "duplicate instance \"p1:1\" for model \"m\" in namespace \"ns\"");

    /* The failed finish emptied the builder: it builds afresh. The same
     * instance under another model or namespace is no duplicate; repeated
     * flow-control entries add up. */
    assert_int_equal(
        table_builder_add_pod(b, "ns", "m", "p1", "p1:1", "v", 0.1, 0, why, sizeof why), ERR_OK);
    assert_int_equal(
        table_builder_add_pod(b, "ns", "m2", "p1", "p1:1", "v", 0.1, 0, why, sizeof why), ERR_OK);
    assert_int_equal(
        table_builder_add_pod(b, "ns2", "m", "p1", "p1:1", "v", 0.1, 0, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "m", 2, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "m", 3.5, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "zero", 0, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "big", 1e308, why, sizeof why),
                     ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "big", 1e308, why, sizeof why),
                     ERR_OK);
    t = finish_ok(b);
    assert_int_equal(table_model_count(t), 5);
    m = table_find(t, "ns", "m");
    assert_non_null(m);
    assert_true(m->has_flow_control && m->flow_control_queue == 5.5);
    m = table_find(t, "ns", "zero");
    assert_non_null(m);
    assert_true(m->has_flow_control && m->flow_control_queue == 0);
    m = table_find(t, "ns", "big");
    assert_non_null(m);
    assert_true(isfinite(m->flow_control_queue));
    assert_non_null(table_find(t, "ns", "m2"));
    assert_non_null(table_find(t, "ns2", "m"));

    /* The table outlives the builder; strings were copied. */
    table_builder_free(b);
    assert_string_equal(table_find(t, "ns2", "m")->rows[0].instance, "p1:1");
    table_unref(t);
}

/* ---- reference counting ------------------------------------------------- */

#define REF_THREADS 4
#define REF_ROUNDS 20000

static void *ref_worker(void *arg)
{
    struct table *t = arg;
    int i;

    for (i = 0; i < REF_ROUNDS; i++) {
        struct table *mine = table_ref(t);
        if (table_find(mine, "ns", "m") == NULL)
            abort();
        table_unref(mine);
    }
    /* Each thread was handed a reference of its own: drop it. */
    table_unref(t);
    return NULL;
}

static void test_refcount(void **state)
{
    (void)state;
    struct table *t = parse_ok("{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p\","
                               "\"kv\":0.5}]}");
    pthread_t th[REF_THREADS];
    int i;

    assert_ptr_equal(table_ref(t), t);
    assert_ptr_equal(table_ref(t), t);
    table_unref(t);
    table_unref(t);
    assert_non_null(table_find(t, "ns", "m")); /* still ours */

    for (i = 0; i < REF_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, table_ref(t)), 0);
    /* The creator lets go first; the last worker frees the table. */
    table_unref(t);
    for (i = 0; i < REF_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

/* ---- size --------------------------------------------------------------- */

#define BIG_MODELS 2000
#define BIG_PODS_PER_MODEL 5

static void test_large(void **state)
{
    (void)state;
    size_t cap = (size_t)BIG_MODELS * BIG_PODS_PER_MODEL * 128 + 64;
    char *json = malloc(cap);
    size_t len = 0;
    char why[WHY_LEN];
    struct table *t = NULL;
    int i, j;

    assert_non_null(json);
    len += (size_t)snprintf(json + len, cap - len, "{\"pods\":[");
    /* Pods interleaved across models so grouping has work to do. */
    for (j = 0; j < BIG_PODS_PER_MODEL; j++)
        for (i = 0; i < BIG_MODELS; i++)
            len +=
                (size_t)snprintf(json + len, cap - len,
                                 "%s{\"namespace\":\"ns%d\",\"model\":\"model-%d\","
                                 "\"pod\":\"pod-%d-%d\",\"instance\":\"pod-%d-%d:%d\","
                                 "\"kv\":%d.%d,\"queue\":%d}",
                                 (i | j) ? "," : "", i % 7, i, i, j / 2, i, j / 2, j, j, i % 10, j);
    len += (size_t)snprintf(json + len, cap - len, "]}");
    assert_true(len < cap);

    assert_int_equal(table_parse_json(json, len, &t, why, sizeof why), ERR_OK);
    free(json);
    assert_int_equal(table_model_count(t), BIG_MODELS);
    assert_int_equal(table_row_count(t), BIG_MODELS * BIG_PODS_PER_MODEL);
    for (i = 0; i < BIG_MODELS; i++) {
        char ns[16], model[32];
        const struct table_model *m;
        snprintf(ns, sizeof ns, "ns%d", i % 7);
        snprintf(model, sizeof model, "model-%d", i);
        m = table_find(t, ns, model);
        assert_non_null(m);
        assert_string_equal(m->model, model);
        assert_int_equal(m->row_count, BIG_PODS_PER_MODEL);
        /* pod-i-0 has two instances (j = 0, 1), so do pod-i-1 (2, 3). */
        assert_int_equal(table_model_distinct_pods(m), 3);
        assert_int_equal(m->rows[4].queue, 4);
        /* The wrong namespace misses. */
        snprintf(ns, sizeof ns, "ns%d", (i + 1) % 7);
        assert_null(table_find(t, ns, model));
    }
    assert_null(table_find(t, "ns0", "model-2000"));
    table_unref(t);
}

/* Coverage and scale-to-zero success entries (the Prometheus source's). */
static void test_coverage_and_success(void **state)
{
    struct table_builder *b = table_builder_new();
    struct table *t = NULL, *f = NULL;
    const struct table_model *m;
    char why[256];
    double inc = -1;
    static const char file[] = "{\"pods\":[{\"namespace\":\"ns\",\"model\":\"m\",\"pod\":\"p\"}]}";
    (void)state;

    assert_non_null(b);
    /* m1 has pods; m2 is covered by a zero flow-control entry only */
    assert_int_equal(table_builder_add_pod(b, "ns", "m1", "p1", NULL, NULL, 0.5, 0, why,
                                           sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "m1", 0, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_flow_control(b, "ns", "m2", 0, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_success(b, "ns", "m1", 600000, 12.5, why, sizeof why),
                     ERR_OK);
    assert_int_equal(table_builder_add_success(b, "ns", "m1", 60000, 1, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_success(b, "ns", "m1", 60000, 2, why, sizeof why), ERR_OK);
    assert_int_equal(table_builder_add_success(b, "ns", "m2", 600000, -3, why, sizeof why),
                     ERR_OK);
    /* not covered: dropped at finish */
    assert_int_equal(table_builder_add_success(b, "ns", "m3", 600000, 9, why, sizeof why),
                     ERR_OK);
    assert_int_equal(table_builder_add_success(b, "ns", "m1", 0, 1, why, sizeof why), ERR_INVALID);
    assert_int_equal(table_builder_finish(b, &t, why, sizeof why), ERR_OK);

    assert_true(table_covers(t, "ns", "m1"));
    assert_true(table_covers(t, "ns", "m2"));
    assert_false(table_covers(t, "ns", "m3"));
    assert_false(table_covers(NULL, "ns", "m1"));
    m = table_find(t, "ns", "m1");
    assert_int_equal(m->success_count, 2);
    assert_true(table_model_success(m, 600000, &inc) && inc == 12.5);
    assert_true(table_model_success(m, 60000, &inc) && inc == 2); /* the later add wins */
    assert_false(table_model_success(m, 30000, &inc));
    m = table_find(t, "ns", "m2");
    assert_int_equal(m->row_count, 0);
    assert_true(table_model_success(m, 600000, &inc) && inc == 0); /* negative -> 0 */
    assert_null(table_find(t, "ns", "m3"));
    table_unref(t);
    table_builder_free(b);

    /* a metrics file covers every model: absent means no series */
    assert_int_equal(table_parse_json(file, strlen(file), &f, why, sizeof why), ERR_OK);
    assert_true(table_covers(f, "other", "model"));
    table_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_example),
        cmocka_unit_test(test_parse_optional_fields),
        cmocka_unit_test(test_parse_length_bounded),
        cmocka_unit_test(test_multi_and_lookup),
        cmocka_unit_test(test_distinct_pods),
        cmocka_unit_test(test_replicas),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_builder_normalise),
        cmocka_unit_test(test_builder_rules),
        cmocka_unit_test(test_builder_duplicates_and_reuse),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_coverage_and_success),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
