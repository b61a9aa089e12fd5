/*
 * test_meta: the trigger-metadata module (include/meta.h).
 *
 * Table-driven: each table row is one metadata map (NULL-terminated list of
 * key/value pairs) and what meta_parse() or meta_metric_name() must answer.
 * Errors are checked for ERR_INVALID, the key name and the value exactly as
 * meta_quote() renders it. Every request is cleared, so valgrind stays clean.
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

#include "meta.h"

#define SO_NAME "vllm-a"
#define SO_NS "prod"
#define MAX_PAIRS 80

struct kv {
    const char *k;
    const char *v;
};

/* Split a NULL-terminated kv list into the parallel arrays KEDA's map gives. */
static size_t split(const struct kv *kv, const char **keys, const char **values)
{
    size_t n = 0;
    for (; kv && kv[n].k; n++) {
        assert_true(n < MAX_PAIRS);
        keys[n] = kv[n].k;
        values[n] = kv[n].v;
    }
    return n;
}

static enum err_code parse_opt(const struct kv *kv, const struct meta_options *opt,
                               struct meta_request *r, char *why)
{
    const char *keys[MAX_PAIRS], *values[MAX_PAIRS];
    size_t n = split(kv, keys, values);
    return meta_parse(SO_NAME, SO_NS, keys, values, n, opt, r, why, META_WHY_LEN);
}

static enum err_code parse(const struct kv *kv, struct meta_request *r, char *why)
{
    return parse_opt(kv, NULL, r, why);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("expected \"%s\" in \"%s\"\n", needle, hay);
        fail();
    }
}

/* The request must be all zeroes (the contract on failure). */
static void assert_cleared(const struct meta_request *r)
{
    static const struct meta_request zero;
    assert_memory_equal(r, &zero, sizeof zero);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    struct meta_request r;
    struct sat_config def;
    const struct kv kv[] = {{"modelID", "ibm/granite-13b"}, {NULL, NULL}};

    assert_int_equal(parse(kv, &r, why), ERR_OK);
    assert_string_equal(why, "");
    sat_config_default(&def);
    assert_string_equal(r.name, SO_NAME);
    assert_string_equal(r.namespace_, SO_NS);
    assert_string_equal(r.model_id, "ibm/granite-13b");
    assert_string_equal(r.metric_name, META_DEFAULT_METRIC_NAME);
    assert_null(r.prometheus);
    assert_int_equal(r.decision.set, 0);
    assert_true(r.resolved.config.kv_cache_threshold == def.kv_cache_threshold);
    assert_true(r.resolved.config.queue_length_threshold == def.queue_length_threshold);
    assert_true(r.resolved.config.kv_spare_trigger == def.kv_spare_trigger);
    assert_true(r.resolved.config.queue_spare_trigger == def.queue_spare_trigger);
    assert_true(r.resolved.tolerance.up == SAT_DEFAULT_HPA_TOLERANCE);
    assert_true(r.resolved.tolerance.down == SAT_DEFAULT_HPA_TOLERANCE);
    assert_int_equal(r.resolved.min_replicas, 1);
    assert_int_equal(r.resolved.max_replicas, SAT_UNSET);
    assert_true(r.resolved.variant_cost == 10.0);
    assert_int_equal(r.resolved.metrics_window_ms, 60000);
    assert_int_equal(r.resolved.scale_to_zero_ms, 0);
    assert_int_equal(r.resolved.engine, META_ENGINE_VLLM);
    meta_request_clear(&r);
    assert_cleared(&r);
    meta_request_clear(&r); /* twice: no-op */
    meta_request_clear(NULL);
}

/* ---- every decision key, well formed -------------------------------------- */

/* The resolved value of field f, as a double, for table comparisons. */
static double resolved(const struct meta_resolved *r, enum meta_field f)
{
    switch (f) {
    case META_KV_CACHE_THRESHOLD:
        return r->config.kv_cache_threshold;
    case META_QUEUE_LENGTH_THRESHOLD:
        return r->config.queue_length_threshold;
    case META_KV_SPARE_TRIGGER:
        return r->config.kv_spare_trigger;
    case META_QUEUE_SPARE_TRIGGER:
        return r->config.queue_spare_trigger;
    case META_MIN_REPLICAS:
        return (double)r->min_replicas;
    case META_MAX_REPLICAS:
        return (double)r->max_replicas;
    case META_VARIANT_COST:
        return r->variant_cost;
    case META_HPA_TOLERANCE: /* both directions, checked via up */
    case META_HPA_SCALE_UP_TOLERANCE:
        return r->tolerance.up;
    case META_HPA_SCALE_DOWN_TOLERANCE:
        return r->tolerance.down;
    case META_METRICS_WINDOW:
        return (double)r->metrics_window_ms;
    case META_SCALE_TO_ZERO:
        return (double)r->scale_to_zero_ms;
    case META_ENGINE:
        return (double)r->engine;
    case META_FIELD_COUNT:
        break;
    }
    fail();
    return 0;
}

static const struct {
    const char *key;
    const char *value;
    enum meta_field field;
    double want;
    double want_down; /* tolerance.down, checked for the tolerance keys */
} s_good[] = {
    {"kvCacheThreshold", "0.9", META_KV_CACHE_THRESHOLD, 0.9, 0.1},
    {"kvCacheThreshold", "1", META_KV_CACHE_THRESHOLD, 1.0, 0.1},
    {"kvCacheThreshold", " 0.85 ", META_KV_CACHE_THRESHOLD, 0.85, 0.1},
    {"kvCacheThreshold", "\t0.85\r\n", META_KV_CACHE_THRESHOLD, 0.85, 0.1},
    {"queueLengthThreshold", "7.5", META_QUEUE_LENGTH_THRESHOLD, 7.5, 0.1},
    {"queueLengthThreshold", "1e3", META_QUEUE_LENGTH_THRESHOLD, 1000.0, 0.1},
    {"kvSpareTrigger", "0.2", META_KV_SPARE_TRIGGER, 0.2, 0.1},
    {"kvSpareTrigger", "0", META_KV_SPARE_TRIGGER, 0.0, 0.1},
    {"queueSpareTrigger", "4", META_QUEUE_SPARE_TRIGGER, 4.0, 0.1},
    {"queueSpareTrigger", "0", META_QUEUE_SPARE_TRIGGER, 0.0, 0.1},
    {"minReplicas", "0", META_MIN_REPLICAS, 0.0, 0.1},
    {"minReplicas", "3", META_MIN_REPLICAS, 3.0, 0.1},
    {"maxReplicas", "12", META_MAX_REPLICAS, 12.0, 0.1},
    {"maxReplicas", "2147483647", META_MAX_REPLICAS, 2147483647.0, 0.1},
    {"variantCost", "2.5", META_VARIANT_COST, 2.5, 0.1},
    {"variantCost", "0", META_VARIANT_COST, 0.0, 0.1},
    {"hpaTolerance", "0.2", META_HPA_TOLERANCE, 0.2, 0.2},
    {"hpaTolerance", "0", META_HPA_TOLERANCE, 0.0, 0.0},
    {"hpaScaleUpTolerance", "2", META_HPA_SCALE_UP_TOLERANCE, 2.0, 0.1},
    {"hpaScaleUpTolerance", "10", META_HPA_SCALE_UP_TOLERANCE, 10.0, 0.1},
    {"hpaScaleDownTolerance", "0.5", META_HPA_SCALE_DOWN_TOLERANCE, 0.5, 0.5},
    {"metricsWindow", "30s", META_METRICS_WINDOW, 30000.0, 0.1},
    {"metricsWindow", "1m30s", META_METRICS_WINDOW, 90000.0, 0.1},
    {"metricsWindow", "500ms", META_METRICS_WINDOW, 500.0, 0.1},
    {"metricsWindow", "24h", META_METRICS_WINDOW, 86400000.0, 0.1},
    {"scaleToZero", "10m", META_SCALE_TO_ZERO, 600000.0, 0.1},
    {"scaleToZero", "0", META_SCALE_TO_ZERO, 0.0, 0.1},
    {"scaleToZero", "720h", META_SCALE_TO_ZERO, 2592000000.0, 0.1},
    {"engine", "sglang", META_ENGINE, (double)META_ENGINE_SGLANG, 0.1},
    {"engine", "vllm", META_ENGINE, (double)META_ENGINE_VLLM, 0.1},
    {"engine", "vLLM", META_ENGINE, (double)META_ENGINE_VLLM, 0.1},
    {"engine", " SGLang ", META_ENGINE, (double)META_ENGINE_SGLANG, 0.1},
};

static void test_each_key_parsed(void **state)
{
    (void)state;
    char why[META_WHY_LEN];

    for (size_t i = 0; i < sizeof s_good / sizeof s_good[0]; i++) {
        struct meta_request r;
        const struct kv kv[] = {{"modelID", "m"}, {s_good[i].key, s_good[i].value}, {NULL, NULL}};
        enum err_code rc = parse(kv, &r, why);
        if (rc != ERR_OK) {
            print_error("%s=%s: %s\n", s_good[i].key, s_good[i].value, why);
            fail();
        }
        assert_true(meta_decision_has(&r.decision, s_good[i].field));
        assert_int_equal(r.decision.set, 1u << s_good[i].field);
        assert_true(resolved(&r.resolved, s_good[i].field) == s_good[i].want);
        if (s_good[i].field == META_HPA_TOLERANCE ||
            s_good[i].field == META_HPA_SCALE_UP_TOLERANCE ||
            s_good[i].field == META_HPA_SCALE_DOWN_TOLERANCE)
            assert_true(r.resolved.tolerance.down == s_good[i].want_down);
        meta_request_clear(&r);
    }
}

/* ---- every decision key, malformed ------------------------------------------ */

static const struct {
    const char *key;
    const char *value;
    const char *want; /* extra substring, or NULL */
} s_bad[] = {
    {"kvCacheThreshold", "1.5", "kvCacheThreshold: \"1.5\" must be in (0, 1]"},
    {"kvCacheThreshold", "0", "must be in (0, 1]"},
    {"kvCacheThreshold", "-0.1", NULL},
    {"kvCacheThreshold", "abc", "kvCacheThreshold: \"abc\" is not a finite number"},
    {"kvCacheThreshold", "nan", "is not a finite number"},
    {"kvCacheThreshold", "NaN", NULL},
    {"kvCacheThreshold", "inf", "is not a finite number"},
    {"kvCacheThreshold", "-Infinity", NULL},
    {"kvCacheThreshold", "1e400", NULL},
    {"kvCacheThreshold", "", "kvCacheThreshold: \"\" must not be empty"},
    {"kvCacheThreshold", "   ", "must not be empty"},
    {"kvCacheThreshold", "0.5x", NULL},
    {"kvCacheThreshold", "0.5 0.6", NULL},
    {"queueLengthThreshold", "0", "queueLengthThreshold: \"0\" must be > 0"},
    {"queueLengthThreshold", "-3", NULL},
    {"queueLengthThreshold", "five", NULL},
    {"queueLengthThreshold", "nan", NULL},
    {"queueLengthThreshold", "inf", NULL},
    {"queueLengthThreshold", "", NULL},
    {"kvSpareTrigger", "1.1", "kvSpareTrigger: \"1.1\" must be in [0, 1]"},
    {"kvSpareTrigger", "-0.01", NULL},
    {"kvSpareTrigger", "x", NULL},
    {"kvSpareTrigger", "nan", NULL},
    {"kvSpareTrigger", "inf", NULL},
    {"kvSpareTrigger", "", NULL},
    {"queueSpareTrigger", "-1", "queueSpareTrigger: \"-1\" must be >= 0"},
    {"queueSpareTrigger", "x", NULL},
    {"queueSpareTrigger", "nan", NULL},
    {"queueSpareTrigger", "inf", NULL},
    {"queueSpareTrigger", "", NULL},
    {"minReplicas", "abc", "minReplicas: \"abc\" is not an integer"},
    {"minReplicas", "1.5", "minReplicas: \"1.5\" must be an integer in [0, 2147483647]"},
    {"minReplicas", "-1", "minReplicas: \"-1\" must be in [0, 2147483647]"},
    {"minReplicas", "2147483648", "must be in [0, 2147483647]"},
    {"minReplicas", "99999999999999999999", "must be an integer in [0, 2147483647]"},
    {"minReplicas", "nan", "is not an integer"},
    {"minReplicas", "inf", "is not an integer"},
    {"minReplicas", "1e3", "must be an integer"},
    {"minReplicas", "", NULL},
    {"maxReplicas", "abc", NULL},
    {"maxReplicas", "-1", NULL},
    {"maxReplicas", "2147483648", NULL},
    {"maxReplicas", "nan", NULL},
    {"maxReplicas", "", NULL},
    {"variantCost", "-0.5", "variantCost: \"-0.5\" must be >= 0"},
    {"variantCost", "cheap", NULL},
    {"variantCost", "nan", NULL},
    {"variantCost", "inf", NULL},
    {"variantCost", "", NULL},
    {"hpaTolerance", "1", "hpaTolerance: \"1\" must be in [0, 1)"},
    {"hpaTolerance", "-0.1", NULL},
    {"hpaTolerance", "x", NULL},
    {"hpaTolerance", "nan", NULL},
    {"hpaTolerance", "inf", NULL},
    {"hpaTolerance", "", NULL},
    {"hpaScaleUpTolerance", "10.5", "hpaScaleUpTolerance: \"10.5\" must be in [0, 10]"},
    {"hpaScaleUpTolerance", "-1", NULL},
    {"hpaScaleUpTolerance", "nan", NULL},
    {"hpaScaleUpTolerance", "inf", NULL},
    {"hpaScaleUpTolerance", "", NULL},
    {"hpaScaleDownTolerance", "1", "hpaScaleDownTolerance: \"1\" must be in [0, 1)"},
    {"hpaScaleDownTolerance", "-1", NULL},
    {"hpaScaleDownTolerance", "nan", NULL},
    {"hpaScaleDownTolerance", "inf", NULL},
    {"hpaScaleDownTolerance", "", NULL},
    {"metricsWindow", "0s", "metricsWindow: \"0s\" must be in (0s, 24h]"},
    {"metricsWindow", "0", NULL},
    {"metricsWindow", "25h", NULL},
    {"metricsWindow", "-1m", "is not a duration"},
    {"metricsWindow", "60", "metricsWindow: \"60\" is not a duration"},
    {"metricsWindow", "1 m", NULL},
    {"metricsWindow", "nan", NULL},
    {"metricsWindow", "inf", NULL},
    {"metricsWindow", "", NULL},
    {"scaleToZero", "721h", "scaleToZero: \"721h\" must be in [0s, 720h]"},
    {"scaleToZero", "-10m", NULL},
    {"scaleToZero", "10", NULL},
    {"scaleToZero", "nan", NULL},
    {"scaleToZero", "inf", NULL},
    {"scaleToZero", "", NULL},
    {"engine", "tgi", "engine: \"tgi\" must be vllm or sglang"},
    {"engine", "vllm2", NULL},
    {"engine", "nan", NULL},
    {"engine", "", NULL},
};

static void test_each_key_malformed(void **state)
{
    (void)state;
    char why[META_WHY_LEN], q[META_QUOTE_LEN];

    for (size_t i = 0; i < sizeof s_bad / sizeof s_bad[0]; i++) {
        struct meta_request r;
        const struct kv kv[] = {{"modelID", "m"}, {s_bad[i].key, s_bad[i].value}, {NULL, NULL}};
        enum err_code rc = parse(kv, &r, why);
        if (rc != ERR_INVALID) {
            print_error("%s=\"%s\" gave %s\n", s_bad[i].key, s_bad[i].value, err_str(rc));
            fail();
        }
        assert_cleared(&r);
        meta_quote(q, sizeof q, s_bad[i].value);
        assert_contains(why, s_bad[i].key);
        assert_contains(why, q);
        if (s_bad[i].want)
            assert_contains(why, s_bad[i].want);

        /* The same through meta_decision_parse (the config-file path). */
        struct meta_decision d = {0};
        assert_int_equal(meta_decision_parse(&d, s_bad[i].key, s_bad[i].value, why, sizeof why),
                         ERR_INVALID);
        assert_int_equal(d.set, 0);
        assert_contains(why, s_bad[i].key);
    }
}

/* ---- cross-key rules after resolution --------------------------------------- */

static const struct {
    struct kv kv[4];
    enum err_code want;
    const char *msg[3];
} s_cross[] = {
    {{{"kvCacheThreshold", "0.5"}, {"kvSpareTrigger", "0.6"}},
     ERR_INVALID,
     {"kvSpareTrigger", "kvCacheThreshold 0.5 from trigger metadata",
      "kvSpareTrigger 0.6 from trigger metadata"}},
    {{{"kvSpareTrigger", "0.9"}},
     ERR_INVALID,
     {"kvSpareTrigger must be <= kvCacheThreshold", "kvCacheThreshold 0.8 from default",
      "kvSpareTrigger 0.9 from trigger metadata"}},
    {{{"kvCacheThreshold", "0.05"}}, ERR_INVALID, {"kvCacheThreshold 0.05 from trigger metadata"}},
    {{{"kvCacheThreshold", "0.5"}, {"kvSpareTrigger", "0.5"}}, ERR_OK, {NULL}},
    {{{"kvSpareTrigger", "0"}, {"queueSpareTrigger", "0"}}, ERR_OK, {NULL}},
    {{{"kvCacheThreshold", "0.01"}, {"kvSpareTrigger", "0"}}, ERR_OK, {NULL}},
    {{{"minReplicas", "5"}, {"maxReplicas", "3"}},
     ERR_INVALID,
     {"minReplicas must be <= maxReplicas", "minReplicas 5 from trigger metadata",
      "maxReplicas 3 from trigger metadata"}},
    {{{"maxReplicas", "0"}}, ERR_INVALID, {"minReplicas 1 from default", "maxReplicas 0"}},
    {{{"minReplicas", "0"}, {"maxReplicas", "0"}}, ERR_OK, {NULL}},
    {{{"minReplicas", "3"}, {"maxReplicas", "3"}}, ERR_OK, {NULL}},
    {{{"minReplicas", "7"}}, ERR_OK, {NULL}}, /* no max: no check */
};

static void test_cross_key(void **state)
{
    (void)state;
    char why[META_WHY_LEN];

    for (size_t i = 0; i < sizeof s_cross / sizeof s_cross[0]; i++) {
        struct kv kv[6] = {{"modelID", "m"}};
        for (size_t j = 0; s_cross[i].kv[j].k; j++)
            kv[j + 1] = s_cross[i].kv[j];
        struct meta_request r;
        enum err_code rc = parse(kv, &r, why);
        if (rc != s_cross[i].want) {
            print_error("row %zu: %s (%s)\n", i, err_str(rc), why);
            fail();
        }
        for (size_t j = 0; j < 3 && s_cross[i].msg[j]; j++)
            assert_contains(why, s_cross[i].msg[j]);
        if (rc == ERR_OK)
            assert_string_equal(why, "");
        meta_request_clear(&r);
    }
}

/* ---- limits ---------------------------------------------------------------------- */

static void test_value_length(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    char *big = malloc(1026);
    struct meta_request r;

    assert_non_null(big);
    memset(big, 'a', 1025);
    big[1025] = '\0';

    /* 1025 bytes: refused, for a known key... */
    const struct kv k1[] = {{"modelID", big}, {NULL, NULL}};
    assert_int_equal(parse(k1, &r, why), ERR_INVALID);
    assert_cleared(&r);
    assert_contains(why, "modelID: value longer than 1024 bytes: \"aaaa");
    assert_contains(why, "\"...");
    assert_true(strlen(why) < 200);

    /* ...and for one we would ignore. */
    const struct kv k2[] = {{"modelID", "m"}, {"notes", big}, {NULL, NULL}};
    assert_int_equal(parse(k2, &r, why), ERR_INVALID);
    assert_contains(why, "notes: value longer than 1024 bytes");

    /* 1024 bytes: a valid (if silly) model id. */
    big[1024] = '\0';
    assert_int_equal(parse(k1, &r, why), ERR_OK);
    assert_int_equal(strlen(r.model_id), 1024);
    char key[META_MODEL_KEY_LEN];
    assert_int_equal(meta_model_key(&r, key, sizeof key), strlen(SO_NS) + 1 + 1024);
    meta_request_clear(&r);
    free(big);
}

static void fill_keys(size_t n, char (*names)[32], const char **keys, const char **values)
{
    keys[0] = "modelID";
    values[0] = "m";
    for (size_t i = 1; i < n; i++) {
        snprintf(names[i], sizeof names[i], "extra%zu", i);
        keys[i] = names[i];
        values[i] = "x";
    }
}

static void test_key_count(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    char names[70][32];
    const char *keys[70], *values[70];
    struct meta_request r;

    fill_keys(70, names, keys, values);
    assert_int_equal(meta_parse(SO_NAME, SO_NS, keys, values, 64, NULL, &r, why, sizeof why),
                     ERR_OK);
    meta_request_clear(&r);
    assert_int_equal(meta_parse(SO_NAME, SO_NS, keys, values, 65, NULL, &r, why, sizeof why),
                     ERR_INVALID);
    assert_string_equal(why, "too many metadata keys: 65 (max 64)");
    assert_int_equal(meta_parse(SO_NAME, SO_NS, keys, values, 70, NULL, &r, why, sizeof why),
                     ERR_INVALID);
    assert_string_equal(why, "too many metadata keys: 70 (max 64)");
    assert_cleared(&r);
}

/* ---- unknown keys, repeats, NULLs ------------------------------------------------------ */

static void test_unknown_and_repeated(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    struct meta_request r;

    const struct kv unknown[] = {{"scalerAddress", "saturation-scaler.keda:6000"},
                                 {"modelID", "m"},
                                 {"ModelID", "ignored: keys are case-sensitive"},
                                 {"kvcachethreshold", "garbage"},
                                 {"metricType", "AverageValue"},
                                 {"", ""},
                                 {NULL, NULL}};
    assert_int_equal(parse(unknown, &r, why), ERR_OK);
    assert_string_equal(r.model_id, "m");
    assert_int_equal(r.decision.set, 0);
    meta_request_clear(&r);

    /* The last of repeated keys wins; earlier ones are not even parsed. */
    const struct kv rep[] = {{"modelID", "first"},
                             {"kvCacheThreshold", "bad"},
                             {"modelID", "second"},
                             {"kvCacheThreshold", "0.9"},
                             {"namespace", "nope nope"},
                             {"namespace", "prod"},
                             {NULL, NULL}};
    assert_int_equal(parse(rep, &r, why), ERR_OK);
    assert_string_equal(r.model_id, "second");
    assert_true(r.resolved.config.kv_cache_threshold == 0.9);
    meta_request_clear(&r);

    const struct kv rep_bad[] = {
        {"modelID", "m"}, {"minReplicas", "2"}, {"minReplicas", "two"}, {NULL, NULL}};
    assert_int_equal(parse(rep_bad, &r, why), ERR_INVALID);
    assert_contains(why, "minReplicas: \"two\" is not an integer");

    /* NULL entries are a caller bug, refused. */
    const char *keys[2] = {"modelID", NULL}, *values[2] = {"m", "x"};
    assert_int_equal(meta_parse(SO_NAME, SO_NS, keys, values, 2, NULL, &r, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(meta_parse(SO_NAME, SO_NS, NULL, NULL, 1, NULL, &r, why, sizeof why),
                     ERR_INVALID);
    /* n == 0 with NULL arrays is an empty map. */
    assert_int_equal(meta_parse(SO_NAME, SO_NS, NULL, NULL, 0, NULL, &r, why, sizeof why),
                     ERR_INVALID);
    assert_string_equal(why, "modelID: required");
    assert_cleared(&r);
    /* A NULL why is fine. */
    assert_int_equal(meta_parse(SO_NAME, SO_NS, NULL, NULL, 0, NULL, &r, NULL, 0), ERR_INVALID);
}

/* ---- the target: modelID, namespace, name, metricName, prometheus ------------------------ */

static const struct {
    const char *so_name;
    const char *so_ns;
    struct kv kv[4];
    bool cross;
    enum err_code want;
    const char *msg; /* expected why (substring), or on success the namespace */
} s_target[] = {
    /* modelID */
    {SO_NAME, SO_NS, {{"namespace", "prod"}}, false, ERR_INVALID, "modelID: required"},
    {SO_NAME, SO_NS, {{"modelID", ""}}, false, ERR_INVALID, "modelID: \"\" must not be empty"},
    {SO_NAME, SO_NS, {{"modelID", " \t "}}, false, ERR_INVALID, "must not be empty"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "a\nb"}},
     false,
     ERR_INVALID,
     "modelID: \"a\\x0ab\" must not contain control characters"},
    {SO_NAME, SO_NS, {{"modelID", "meta-llama/Llama-3.1-8B-Instruct"}}, false, ERR_OK, "prod"},
    /* namespace */
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"namespace", "other"}},
     false,
     ERR_INVALID,
     "namespace: \"other\" is not the ScaledObject's namespace \"prod\" (cross-namespace reads "
     "are disabled)"},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "other"}}, true, ERR_OK, "other"},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "prod"}}, false, ERR_OK, "prod"},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", " prod "}}, false, ERR_OK, "prod"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"namespace", "Prod"}},
     true,
     ERR_INVALID,
     "namespace: \"Prod\" is not a valid namespace name"},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "-a"}}, true, ERR_INVALID, "\"-a\""},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "a-"}}, true, ERR_INVALID, "\"a-\""},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "a_b"}}, true, ERR_INVALID, "\"a_b\""},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "a.b"}}, true, ERR_INVALID, "\"a.b\""},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"namespace", "{x=\"y\"}"}},
     true,
     ERR_INVALID,
     "\"{x=\\\"y\\\"}\""},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"namespace", ""}},
     false,
     ERR_INVALID,
     "namespace: \"\" must not be empty"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"},
      {"namespace", "a123456789012345678901234567890123456789012345678901234567890123"}},
     true,
     ERR_INVALID,
     "is not a valid namespace name"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"},
      {"namespace", "a12345678901234567890123456789012345678901234567890123456789012"}},
     true,
     ERR_OK,
     "a12345678901234567890123456789012345678901234567890123456789012"},
    {SO_NAME, SO_NS, {{"modelID", "m"}, {"namespace", "0"}}, true, ERR_OK, "0"},
    {SO_NAME, "", {{"modelID", "m"}}, false, ERR_INVALID, "namespace: required"},
    {SO_NAME, NULL, {{"modelID", "m"}}, false, ERR_INVALID, "namespace: required"},
    {SO_NAME,
     "",
     {{"modelID", "m"}, {"namespace", "prod"}},
     false,
     ERR_INVALID,
     "namespace: \"prod\" is not the ScaledObject's namespace \"\""},
    {SO_NAME, "", {{"modelID", "m"}, {"namespace", "prod"}}, true, ERR_OK, "prod"},
    {SO_NAME,
     "Bad NS",
     {{"modelID", "m"}},
     false,
     ERR_INVALID,
     "namespace: the ScaledObjectRef's namespace \"Bad NS\" is not a valid namespace name"},
    /* the ScaledObject's name */
    {"", SO_NS, {{"modelID", "m"}}, false, ERR_INVALID, "name: required"},
    {NULL, SO_NS, {{"modelID", "m"}}, false, ERR_INVALID, "name: required"},
    {"VLLM",
     SO_NS,
     {{"modelID", "m"}},
     false,
     ERR_INVALID,
     "name: the ScaledObjectRef's name \"VLLM\" is not a valid object name"},
    {"a..b", SO_NS, {{"modelID", "m"}}, false, ERR_INVALID, "not a valid object name"},
    {"a.-b", SO_NS, {{"modelID", "m"}}, false, ERR_INVALID, "not a valid object name"},
    {"granite.prod-a", SO_NS, {{"modelID", "m"}}, false, ERR_OK, "prod"},
    /* metricName */
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"metricName", "a/b"}},
     false,
     ERR_INVALID,
     "metricName: \"a/b\" is not a valid metric name"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"metricName", ""}},
     false,
     ERR_INVALID,
     "metricName: \"\" must not be empty"},
    /* prometheus */
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"prometheus", "a b"}},
     false,
     ERR_INVALID,
     "prometheus: \"a b\" is not a valid endpoint name"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"}, {"prometheus", ""}},
     false,
     ERR_INVALID,
     "prometheus: \"\" must not be empty"},
    {SO_NAME,
     SO_NS,
     {{"modelID", "m"},
      {"prometheus", "p1234567890123456789012345678901234567890123456789012345678901234"}},
     false,
     ERR_INVALID,
     "is not a valid endpoint name"},
};

static void test_target(void **state)
{
    (void)state;
    char why[META_WHY_LEN];

    for (size_t i = 0; i < sizeof s_target / sizeof s_target[0]; i++) {
        const char *keys[4], *values[4];
        size_t n = split(s_target[i].kv, keys, values);
        struct meta_options opt = {.allow_cross_namespace = s_target[i].cross};
        struct meta_request r;
        enum err_code rc = meta_parse(s_target[i].so_name, s_target[i].so_ns, keys, values, n, &opt,
                                      &r, why, sizeof why);
        if (rc != s_target[i].want) {
            print_error("row %zu: %s (%s)\n", i, err_str(rc), why);
            fail();
        }
        if (rc == ERR_OK) {
            assert_string_equal(r.namespace_, s_target[i].msg);
        } else {
            assert_contains(why, s_target[i].msg);
            assert_cleared(&r);
        }
        meta_request_clear(&r);
    }
}

static void test_prometheus_and_metric(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    struct meta_request r;
    const struct kv kv[] = {{"modelID", " m "},
                            {"prometheus", " thanos-eu_1 "},
                            {"metricName", " My.Metric_name-1 "},
                            {NULL, NULL}};

    assert_int_equal(parse(kv, &r, why), ERR_OK);
    assert_string_equal(r.model_id, "m");
    assert_string_equal(r.prometheus, "thanos-eu_1");
    assert_string_equal(r.metric_name, "My.Metric_name-1");
    meta_request_clear(&r);
}

/* ---- GetMetricSpec: metricName only -------------------------------------------------------- */

static const struct {
    const char *value; /* NULL: key absent */
    enum err_code want;
    const char *name_or_msg;
} s_metric[] = {
    {NULL, ERR_OK, META_DEFAULT_METRIC_NAME},
    {"my-metric", ERR_OK, "my-metric"},
    {" My.Metric_1 ", ERR_OK, "My.Metric_1"},
    {"...", ERR_OK, "..."},
    {".a", ERR_OK, ".a"},
    {"a/b", ERR_INVALID, "metricName: \"a/b\" is not a valid metric name"},
    {".", ERR_INVALID, "metricName: \".\" is not a valid metric name"},
    {"..", ERR_INVALID, "metricName: \"..\" is not"},
    {"", ERR_INVALID, "metricName: \"\" must not be empty"},
    {"  ", ERR_INVALID, "must not be empty"},
    {"a b", ERR_INVALID, "\"a b\""},
    {"a%2fb", ERR_INVALID, "\"a%2fb\""},
    {"a:b", ERR_INVALID, "\"a:b\""},
    {"caf\xc3\xa9", ERR_INVALID, "\"caf\\xc3\\xa9\""},
    {"a\nb", ERR_INVALID, "\"a\\x0ab\""},
};

static void test_metric_name(void **state)
{
    (void)state;
    char why[META_WHY_LEN], out[META_METRIC_NAME_LEN];
    /* A map GetMetricSpec must accept though GetMetrics would refuse it:
     * bad threshold, no modelID, a foreign namespace, an oversized value
     * and 70 keys. */
    char names[70][32];
    const char *keys[70], *values[70];
    char *huge = malloc(2001);

    assert_non_null(huge);
    memset(huge, 'z', 2000);
    huge[2000] = '\0';
    for (size_t i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        keys[i] = names[i];
        values[i] = "x";
    }
    keys[0] = "kvCacheThreshold";
    values[0] = "1.5";
    keys[1] = "namespace";
    values[1] = "elsewhere";
    keys[2] = "notes";
    values[2] = huge;
    keys[3] = "minReplicas";
    values[3] = "abc";

    for (size_t i = 0; i < sizeof s_metric / sizeof s_metric[0]; i++) {
        size_t n = 70;
        if (s_metric[i].value) {
            keys[69] = "metricName";
            values[69] = s_metric[i].value;
        } else {
            keys[69] = "k69";
            values[69] = "x";
        }
        enum err_code rc = meta_metric_name(keys, values, n, out, sizeof out, why, sizeof why);
        if (rc != s_metric[i].want) {
            print_error("row %zu: %s (%s)\n", i, err_str(rc), why);
            fail();
        }
        if (rc == ERR_OK) {
            assert_string_equal(out, s_metric[i].name_or_msg);
            assert_string_equal(why, "");
        } else {
            assert_contains(why, s_metric[i].name_or_msg);
            assert_string_equal(out, "");
        }
    }

    /* Length: 200 is fine, 201 is not, 2000 neither (and the message is short). */
    char name[202];
    memset(name, 'm', 201);
    name[201] = '\0';
    keys[69] = "metricName";
    values[69] = name;
    assert_int_equal(meta_metric_name(keys, values, 70, out, sizeof out, why, sizeof why),
                     ERR_INVALID);
    name[200] = '\0';
    assert_int_equal(meta_metric_name(keys, values, 70, out, sizeof out, why, sizeof why), ERR_OK);
    assert_string_equal(out, name);
    values[69] = huge;
    assert_int_equal(meta_metric_name(keys, values, 70, out, sizeof out, why, sizeof why),
                     ERR_INVALID);
    assert_true(strlen(why) < 400);
    assert_contains(why, "\"...");

    /* Empty map, NULL arrays, NULL entries: the default. */
    assert_int_equal(meta_metric_name(NULL, NULL, 0, out, sizeof out, why, sizeof why), ERR_OK);
    assert_string_equal(out, META_DEFAULT_METRIC_NAME);
    const char *nk[2] = {NULL, "metricName"}, *nv[2] = {"x", NULL};
    assert_int_equal(meta_metric_name(nk, nv, 2, out, sizeof out, why, sizeof why), ERR_OK);
    assert_string_equal(out, META_DEFAULT_METRIC_NAME);
    /* Last metricName wins. */
    const char *rk[2] = {"metricName", "metricName"}, *rv[2] = {"bad/one", "good"};
    assert_int_equal(meta_metric_name(rk, rv, 2, out, sizeof out, why, sizeof why), ERR_OK);
    assert_string_equal(out, "good");
    /* A too-small output buffer is a caller bug. */
    char small[8];
    assert_int_equal(meta_metric_name(rk, rv, 2, small, sizeof small, why, sizeof why),
                     ERR_INTERNAL);
    free(huge);
}

/* ---- layers: metadata > override > defaults > WVA ---------------------------------------------
 */

struct select_ctx {
    struct meta_layer override;
    int calls;
    char ns[META_NAMESPACE_MAX + 1];
    char model[64];
};

static size_t select_override(void *arg, const char *namespace_, const char *model_id,
                              struct meta_layer *out, size_t cap)
{
    struct select_ctx *c = arg;
    c->calls++;
    snprintf(c->ns, sizeof c->ns, "%s", namespace_);
    snprintf(c->model, sizeof c->model, "%s", model_id);
    if (cap < 1 || strcmp(model_id, "ibm/granite") != 0)
        return 0;
    out[0] = c->override;
    return 1;
}

static void set_all(struct meta_decision *d, const struct kv *kv)
{
    char why[META_WHY_LEN];
    for (; kv->k; kv++) {
        enum err_code rc = meta_decision_parse(d, kv->k, kv->v, why, sizeof why);
        if (rc) {
            print_error("%s=%s: %s\n", kv->k, kv->v, why);
            fail();
        }
    }
}

static void test_layers(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    struct meta_decision over = {0}, defs = {0};
    const struct kv over_kv[] = {{"kvCacheThreshold", "0.85"},
                                 {"queueLengthThreshold", "6"},
                                 {"hpaScaleUpTolerance", "0.05"},
                                 {"maxReplicas", "9"},
                                 {NULL, NULL}};
    const struct kv defs_kv[] = {
        {"kvCacheThreshold", "0.7"}, {"queueLengthThreshold", "7"}, {"kvSpareTrigger", "0.2"},
        {"engine", "sglang"},        {"scaleToZero", "10m"},        {"hpaTolerance", "0.3"},
        {"maxReplicas", "20"},       {"metricsWindow", "2m"},       {NULL, NULL}};
    set_all(&over, over_kv);
    set_all(&defs, defs_kv);

    struct meta_layer fixed[] = {{"config defaults", &defs}};
    struct select_ctx ctx = {.override = {"config override ibm/granite", &over}};
    struct meta_options opt = {
        .select_layers = select_override, .select_arg = &ctx, .layers = fixed, .n_layers = 1};
    struct meta_request r;

    const struct kv md[] = {{"modelID", "ibm/granite"},
                            {"kvCacheThreshold", "0.9"},
                            {"scaleToZero", "0"},
                            {NULL, NULL}};
    assert_int_equal(parse_opt(md, &opt, &r, why), ERR_OK);
    assert_int_equal(ctx.calls, 1);
    assert_string_equal(ctx.ns, SO_NS);
    assert_string_equal(ctx.model, "ibm/granite");
    assert_true(r.resolved.config.kv_cache_threshold == 0.9);     /* metadata */
    assert_true(r.resolved.config.queue_length_threshold == 6.0); /* override */
    assert_true(r.resolved.config.kv_spare_trigger == 0.2);       /* defaults */
    assert_true(r.resolved.config.queue_spare_trigger == SAT_DEFAULT_QUEUE_SPARE_TRIGGER);
    assert_true(r.resolved.tolerance.up == 0.05);  /* override's specific key */
    assert_true(r.resolved.tolerance.down == 0.3); /* defaults' hpaTolerance */
    assert_int_equal(r.resolved.max_replicas, 9);
    assert_int_equal(r.resolved.min_replicas, 1);
    assert_int_equal(r.resolved.scale_to_zero_ms, 0); /* metadata "0" turns it off */
    assert_int_equal(r.resolved.metrics_window_ms, 120000);
    assert_int_equal(r.resolved.engine, META_ENGINE_SGLANG);
    /* decision holds the metadata only. */
    assert_int_equal(r.decision.set, (1u << META_KV_CACHE_THRESHOLD) | (1u << META_SCALE_TO_ZERO));
    meta_request_clear(&r);

    /* Another model: no override; defaults then WVA. */
    const struct kv md2[] = {{"modelID", "other"}, {NULL, NULL}};
    assert_int_equal(parse_opt(md2, &opt, &r, why), ERR_OK);
    assert_true(r.resolved.config.kv_cache_threshold == 0.7);
    assert_true(r.resolved.config.queue_length_threshold == 7.0);
    assert_true(r.resolved.tolerance.up == 0.3);
    assert_int_equal(r.resolved.scale_to_zero_ms, 600000);
    assert_int_equal(r.resolved.max_replicas, 20);
    meta_request_clear(&r);

    /* A higher layer's hpaTolerance beats a lower layer's specific key. */
    const struct kv md3[] = {{"modelID", "ibm/granite"}, {"hpaTolerance", "0.4"}, {NULL, NULL}};
    assert_int_equal(parse_opt(md3, &opt, &r, why), ERR_OK);
    assert_true(r.resolved.tolerance.up == 0.4);
    assert_true(r.resolved.tolerance.down == 0.4);
    meta_request_clear(&r);
    /* Within one layer the specific key beats hpaTolerance. */
    const struct kv md4[] = {
        {"modelID", "m"}, {"hpaTolerance", "0.4"}, {"hpaScaleDownTolerance", "0.05"}, {NULL, NULL}};
    assert_int_equal(parse_opt(md4, &opt, &r, why), ERR_OK);
    assert_true(r.resolved.tolerance.up == 0.4);
    assert_true(r.resolved.tolerance.down == 0.05);
    meta_request_clear(&r);

    /* The metadata's spare trigger clashes with the defaults' threshold:
     * the message says where each came from. */
    const struct kv md5[] = {{"modelID", "m"}, {"kvSpareTrigger", "0.75"}, {NULL, NULL}};
    assert_int_equal(parse_opt(md5, &opt, &r, why), ERR_INVALID);
    assert_contains(why, "kvSpareTrigger 0.75 from trigger metadata");
    assert_contains(why, "kvCacheThreshold 0.7 from config defaults");
    assert_cleared(&r);
    /* The metadata's minReplicas above the override's maxReplicas. */
    const struct kv md6[] = {{"modelID", "ibm/granite"}, {"minReplicas", "10"}, {NULL, NULL}};
    assert_int_equal(parse_opt(md6, &opt, &r, why), ERR_INVALID);
    assert_contains(why, "maxReplicas 9 from config override ibm/granite");

    /* A hand-built layer is checked too. */
    struct meta_decision junk = {.set = 1u << META_QUEUE_SPARE_TRIGGER, .queue_spare_trigger = -1};
    struct meta_layer jl[] = {{"config\ndefaults", &junk}};
    struct meta_options jopt = {.layers = jl, .n_layers = 1};
    assert_int_equal(parse_opt(md2, &jopt, &r, why), ERR_INVALID);
    assert_contains(why, "queueSpareTrigger -1 from config\\x0adefaults: must be >= 0");
    junk = (struct meta_decision){.set = 1u << META_ENGINE, .engine = (enum meta_engine)7};
    assert_int_equal(parse_opt(md2, &jopt, &r, why), ERR_INVALID);
    assert_contains(why, "engine");

    /* Too many fixed layers is a caller bug. */
    struct meta_layer many[META_MAX_LAYERS] = {{NULL, NULL}};
    struct meta_options mopt = {.layers = many, .n_layers = META_MAX_LAYERS};
    assert_int_equal(parse_opt(md2, &mopt, &r, why), ERR_INTERNAL);
    assert_cleared(&r);
    mopt.n_layers = META_MAX_LAYERS - 1; /* no room left for the object layer */
    assert_int_equal(parse_opt(md2, &mopt, &r, why), ERR_INTERNAL);
    assert_cleared(&r);
    mopt.n_layers = META_MAX_LAYERS - 2; /* NULL decisions count as empty */
    assert_int_equal(parse_opt(md2, &mopt, &r, why), ERR_OK);
    meta_request_clear(&r);

    /* The managed path: the model id falls back to the annotation's, and
     * the object's layer ranks right after the metadata. */
    {
        static const char *const k0[] = {"minReplicas"}, *const v0[] = {"3"};
        struct meta_decision obj = {0};
        struct meta_layer ol = {"ScaledObject llm/so", &obj};
        struct meta_options mo2 = {.model_id_fallback = "ibm/granite", .object_layer = &ol};
        assert_int_equal(meta_decision_parse(&obj, "maxReplicas", "7", why, sizeof why), ERR_OK);
        assert_int_equal(meta_decision_parse(&obj, "minReplicas", "2", why, sizeof why), ERR_OK);
        assert_int_equal(meta_parse("so", "llm", k0, v0, 1, &mo2, &r, why, sizeof why), ERR_OK);
        assert_string_equal(r.model_id, "ibm/granite");
        assert_int_equal(r.resolved.min_replicas, 3); /* metadata wins */
        assert_int_equal(r.resolved.max_replicas, 7); /* then the object */
        meta_request_clear(&r);
        assert_int_equal(meta_parse("so", "llm", k0, v0, 1, NULL, &r, why, sizeof why),
                         ERR_INVALID); /* no fallback: modelID required */
    }

    /* meta_resolve on its own: no layers gives the defaults. */
    struct meta_resolved res;
    assert_int_equal(meta_resolve(NULL, 0, &res, why, sizeof why), ERR_OK);
    assert_true(res.config.kv_cache_threshold == SAT_DEFAULT_KV_CACHE_THRESHOLD);
    assert_int_equal(res.max_replicas, SAT_UNSET);
}

/* ---- sanitization ------------------------------------------------------------------------------
 */

static void test_sanitize(void **state)
{
    (void)state;
    char why[META_WHY_LEN], q[META_QUOTE_LEN];
    struct meta_request r;

    /* A newline can't start a forged log line. */
    const struct kv nl[] = {
        {"modelID", "m"}, {"kvCacheThreshold", "0.5\nlevel=error msg=\"pwned\""}, {NULL, NULL}};
    assert_int_equal(parse(nl, &r, why), ERR_INVALID);
    assert_null(strchr(why, '\n'));
    assert_contains(why, "kvCacheThreshold: \"0.5\\x0alevel=error msg=\\\"pwned\\\"\"");

    /* A 2000-byte value (under a key that takes it through meta_decision_parse). */
    char *big = malloc(2001);
    assert_non_null(big);
    memset(big, '7', 2000);
    big[0] = 'x';
    big[2000] = '\0';
    struct meta_decision d = {0};
    assert_int_equal(meta_decision_parse(&d, "kvCacheThreshold", big, why, sizeof why),
                     ERR_INVALID);
    assert_true(strlen(why) < 200);
    assert_contains(why, "kvCacheThreshold: value longer than 1024 bytes: \"x777");
    /* 1000 bytes: parsed, refused, echoed cut at 64. */
    big[1000] = '\0';
    assert_int_equal(meta_decision_parse(&d, "kvCacheThreshold", big, why, sizeof why),
                     ERR_INVALID);
    assert_true(strlen(why) < 200);
    assert_contains(why, "is not a finite number");
    free(big);

    static const struct {
        const char *in;
        const char *out;
    } rows[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"\x01\x1f\x7f\xff", "\"\\x01\\x1f\\x7f\\xff\""},
        {"tab\there", "\"tab\\x09here\""},
        {"1234567890123456789012345678901234567890123456789012345678901234",
         "\"1234567890123456789012345678901234567890123456789012345678901234\""},
        {"12345678901234567890123456789012345678901234567890123456789012345",
         "\"1234567890123456789012345678901234567890123456789012345678901234\"..."},
        {NULL, "(null)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        meta_quote(q, sizeof q, rows[i].in);
        assert_string_equal(q, rows[i].out);
    }
    /* Worst case fits META_QUOTE_LEN; a small buffer truncates safely. */
    char worst[100];
    memset(worst, '\x80', 99);
    worst[99] = '\0';
    meta_quote(q, sizeof q, worst);
    assert_int_equal(strlen(q), 2 + 64 * 4 + 3);
    char tiny[5];
    meta_quote(tiny, sizeof tiny, "abcdef");
    assert_string_equal(tiny, "\"abc");
}

/* ---- metric name comparison ------------------------------------------------------------------ */

static const struct {
    const char *requested;
    const char *configured;
    bool want;
} s_equal[] = {
    {"saturation-desired-replicas", "saturation-desired-replicas", true},
    {"Saturation-Desired-Replicas", "saturation-desired-replicas", true},
    {"my-metric", "My-Metric", true},
    {"", "my-metric", true},
    {NULL, "my-metric", true},
    {"s0-my-metric", "my-metric", true},
    {"s12-My-Metric", "my-metric", true},
    {"S3-my-metric", "my-metric", true},
    {"s-my-metric", "my-metric", false},
    {"sx-my-metric", "my-metric", false},
    {"s0my-metric", "my-metric", false},
    {"s0-", "my-metric", false},
    {"s0-s1-my-metric", "my-metric", false},
    {"s0-my-metric", "s0-my-metric", true},
    {"my-metric", "s0-my-metric", false},
    {"other", "my-metric", false},
    {"my-metric2", "my-metric", false},
    {"my-metri", "my-metric", false},
    {"my-metric", NULL, false},
};

static void test_metric_name_equal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_equal / sizeof s_equal[0]; i++) {
        if (meta_metric_name_equal(s_equal[i].requested, s_equal[i].configured) !=
            s_equal[i].want) {
            print_error("row %zu: %s vs %s\n", i,
                        s_equal[i].requested ? s_equal[i].requested : "(null)",
                        s_equal[i].configured ? s_equal[i].configured : "(null)");
            fail();
        }
    }
}

/* ---- model key ------------------------------------------------------------------------------- */

static void test_model_key(void **state)
{
    (void)state;
    char why[META_WHY_LEN], a[META_MODEL_KEY_LEN], b[META_MODEL_KEY_LEN], small[6];
    struct meta_request r1, r2;
    const struct kv k1[] = {{"modelID", "ibm/granite"}, {NULL, NULL}};
    const struct kv k2[] = {{"modelID", "ibm/granite"}, {"namespace", "dev"}, {NULL, NULL}};
    struct meta_options opt = {.allow_cross_namespace = true};

    assert_int_equal(parse(k1, &r1, why), ERR_OK);
    assert_int_equal(parse_opt(k2, &opt, &r2, why), ERR_OK);
    assert_int_equal(meta_model_key(&r1, a, sizeof a), strlen("prod/ibm/granite"));
    assert_string_equal(a, "prod/ibm/granite");
    meta_model_key(&r2, b, sizeof b);
    assert_string_equal(b, "dev/ibm/granite");
    assert_true(meta_key_hash(a) == meta_key_hash("prod/ibm/granite"));
    assert_true(meta_key_hash(a) != meta_key_hash(b));
    assert_true(meta_key_hash("") == 14695981039346656037ULL);
    assert_int_equal(meta_model_key(&r1, small, sizeof small), strlen("prod/ibm/granite"));
    assert_string_equal(small, "prod/");
    assert_int_equal(meta_model_key(&r1, NULL, 0), strlen("prod/ibm/granite"));
    meta_request_clear(&r1);
    meta_request_clear(&r2);
}

/* ---- the key table -------------------------------------------------------------------------- */

/* Field by field: padding bytes of struct copies are unspecified. */
static void assert_resolved_equal(const struct meta_resolved *a, const struct meta_resolved *b)
{
    for (int f = 0; f < META_FIELD_COUNT; f++)
        assert_true(resolved(a, (enum meta_field)f) == resolved(b, (enum meta_field)f));
}

static void test_table(void **state)
{
    (void)state;
    char why[META_WHY_LEN], range[96];
    size_t n = 0;
    const struct meta_key *keys = meta_decision_keys(&n);
    struct meta_resolved def;

    assert_int_equal(n, META_FIELD_COUNT);
    assert_int_equal(meta_resolve(NULL, 0, &def, why, sizeof why), ERR_OK);
    for (size_t i = 0; i < n; i++) {
        const struct meta_key *k = &keys[i];
        assert_non_null(k->name);
        assert_non_null(k->help);
        assert_non_null(k->default_text);
        assert_true(strlen(k->help) > 10);
        assert_ptr_equal(meta_decision_key(k->name), k);
        /* Every field once. */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(keys[j].field, k->field);
        /* The documented default is what resolution gives. */
        if (strcmp(k->default_text, "unset") == 0) {
            assert_true(k->field == META_MAX_REPLICAS || k->field == META_HPA_TOLERANCE);
            continue;
        }
        const char *text = strcmp(k->default_text, "off") == 0 ? "0" : k->default_text;
        struct meta_decision d = {0};
        struct meta_layer l = {"docs", &d};
        struct meta_resolved got;
        assert_int_equal(meta_decision_parse(&d, k->name, text, why, sizeof why), ERR_OK);
        assert_int_equal(meta_resolve(&l, 1, &got, why, sizeof why), ERR_OK);
        assert_resolved_equal(&got, &def);
    }
    assert_null(meta_decision_key("modelID"));
    assert_null(meta_decision_key("namespace"));
    assert_null(meta_decision_key(NULL));

    static const struct {
        const char *key;
        const char *range;
    } ranges[] = {
        {"kvCacheThreshold", "(0, 1]"},     {"kvSpareTrigger", "[0, 1]"},
        {"queueLengthThreshold", "> 0"},    {"variantCost", ">= 0"},
        {"minReplicas", "[0, 2147483647]"}, {"hpaScaleDownTolerance", "[0, 1)"},
        {"metricsWindow", "(0s, 24h]"},     {"scaleToZero", "[0s, 720h]"},
        {"engine", "vllm | sglang"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        meta_key_range(meta_decision_key(ranges[i].key), range, sizeof range);
        assert_string_equal(range, ranges[i].range);
    }
    assert_string_equal(meta_engine_str(META_ENGINE_VLLM), "vllm");
    assert_string_equal(meta_engine_str(META_ENGINE_SGLANG), "sglang");
}

static void test_decision_api(void **state)
{
    (void)state;
    char why[META_WHY_LEN];
    struct meta_decision d = {0};

    /* Unknown keys: ERR_NOT_FOUND, d untouched (the config parser refuses them). */
    assert_int_equal(meta_decision_parse(&d, "modelID", "m", why, sizeof why), ERR_NOT_FOUND);
    assert_contains(why, "modelID: not a decision key");
    assert_int_equal(meta_decision_set_number(&d, "bogus\n", 1, why, sizeof why), ERR_NOT_FOUND);
    assert_contains(why, "bogus\\x0a");
    assert_int_equal(d.set, 0);

    /* JSON numbers. */
    assert_int_equal(meta_decision_set_number(&d, "kvCacheThreshold", 0.85, why, sizeof why),
                     ERR_OK);
    assert_true(d.kv_cache_threshold == 0.85);
    assert_int_equal(meta_decision_set_number(&d, "maxReplicas", 4.0, why, sizeof why), ERR_OK);
    assert_int_equal(d.max_replicas, 4);
    assert_int_equal(d.set, (1u << META_KV_CACHE_THRESHOLD) | (1u << META_MAX_REPLICAS));

    static const struct {
        const char *key;
        double v;
        const char *msg;
    } bad[] = {
        {"kvCacheThreshold", 1.5, "kvCacheThreshold: 1.5 must be in (0, 1]"},
        {"kvCacheThreshold", NAN, "is not a finite number"},
        {"queueSpareTrigger", INFINITY, "is not a finite number"},
        {"maxReplicas", 4.5, "maxReplicas: 4.5 must be an integer in [0, 2147483647]"},
        {"maxReplicas", -1, "must be an integer"},
        {"minReplicas", 3e9, "must be an integer"},
        {"minReplicas", NAN, "must be an integer"},
        {"metricsWindow", 60, "metricsWindow: 60 must be a duration string"},
        {"engine", 1, "engine: 1 must be the string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct meta_decision before = d;
        assert_int_equal(meta_decision_set_number(&d, bad[i].key, bad[i].v, why, sizeof why),
                         ERR_INVALID);
        assert_contains(why, bad[i].msg);
        assert_memory_equal(&d, &before, sizeof d);
    }

    /* Strings: NULL value and a failing parse leave d untouched. */
    struct meta_decision before = d;
    assert_int_equal(meta_decision_parse(&d, "kvCacheThreshold", NULL, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(meta_decision_parse(&d, "kvCacheThreshold", "2", why, sizeof why),
                     ERR_INVALID);
    assert_memory_equal(&d, &before, sizeof d);
    /* A truncating why buffer is still NUL-terminated. */
    char shortwhy[10];
    assert_int_equal(meta_decision_parse(&d, "kvCacheThreshold", "2", shortwhy, sizeof shortwhy),
                     ERR_INVALID);
    assert_int_equal(strlen(shortwhy), sizeof shortwhy - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_each_key_parsed),
        cmocka_unit_test(test_each_key_malformed),
        cmocka_unit_test(test_cross_key),
        cmocka_unit_test(test_value_length),
        cmocka_unit_test(test_key_count),
        cmocka_unit_test(test_unknown_and_repeated),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_prometheus_and_metric),
        cmocka_unit_test(test_metric_name),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_metric_name_equal),
        cmocka_unit_test(test_model_key),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_decision_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
