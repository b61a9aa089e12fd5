/*
 * Unit tests for analyze: the `saturation-scaler analyze` document.
 *
 * Three tables: outputs compared byte for byte, outputs parsed with cJSON
 * and probed key by key (the decision rules of DESIGN section 4 as the
 * command line sees them), and bad inputs that must fail with ERR_INVALID
 * and a message naming the key. Every output and parse tree is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "analyze.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define WHY_LEN 512

/* Run analyze_run on a NUL-terminated document. */
static enum err_code run(const char *json, char **out, char *why)
{
    return analyze_run(json, strlen(json), out, why, WHY_LEN);
}

/* ---- exact output --------------------------------------------------------- */

static void test_exact_output(void **state)
{
    static const struct {
        const char *name;
        const char *input;
        const char *output;
    } cases[] = {
        {"saturated single replica",
         "{\"replicas\":[{\"pod\":\"p1\",\"variant\":\"v1\",\"kv\":0.95,\"queue\":0}],"
         "\"variants\":[{\"name\":\"v1\",\"cost\":10,\"currentReplicas\":1}]}",
         "{\"totalReplicas\":1,\"nonSaturatedCount\":0,\"avgSpareKv\":0,\"avgSpareQueue\":0,"
         "\"shouldScaleUp\":true,"
         "\"scaleUpReason\":\"both KV spare (0.000 < 0.100) and queue spare (0.0 < 3.0)\","
         "\"scaleDownSafe\":false,"
         "\"variants\":[{\"name\":\"v1\",\"replicaCount\":1,\"nonSaturatedCount\":0,"
         "\"saturatedReplicas\":[\"p1\"],\"avgSpareKv\":0,\"avgSpareQueue\":0,"
         "\"avgKvCacheUsage\":0.94999999999999996,\"maxKvCacheUsage\":0.94999999999999996,"
         "\"maxQueueLength\":0}],"
         "\"targets\":{\"v1\":2}}"},
        {"no replicas, no variants", "{\"replicas\":[]}",
         "{\"totalReplicas\":0,\"nonSaturatedCount\":0,\"avgSpareKv\":0,\"avgSpareQueue\":0,"
         "\"shouldScaleUp\":false,\"scaleUpReason\":\"\",\"scaleDownSafe\":false,"
         "\"variants\":[]}"},
        {"analysis given, empty variants",
         "{\"analysis\":{\"shouldScaleUp\":true,\"totalReplicas\":3,\"nonSaturatedCount\":2,"
         "\"avgSpareKv\":0.05,\"avgSpareQueue\":4},\"variants\":[]}",
         "{\"totalReplicas\":3,\"nonSaturatedCount\":2,\"avgSpareKv\":0.050000000000000003,"
         "\"avgSpareQueue\":4,\"shouldScaleUp\":true,\"scaleUpReason\":\"\","
         "\"scaleDownSafe\":false,\"variants\":[],\"targets\":{}}"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N_OF(cases); i++) {
        char why[WHY_LEN];
        char *out = NULL;
        enum err_code rc;

        print_message("case: %s\n", cases[i].name);
        rc = run(cases[i].input, &out, why);
        if (rc != ERR_OK)
            fail_msg("%s: %s", cases[i].name, why);
        assert_string_equal(why, "");
        assert_string_equal(out, cases[i].output);
        free(out);
    }
}

/* ---- outputs probed key by key -------------------------------------------- */

/* The value at a dotted path ("variants.0.name", "targets.v1"), or NULL.
 * An all-digit segment indexes an array. */
static const cJSON *at(const cJSON *root, const char *path)
{
    char seg[64];
    const cJSON *v = root;

    while (v != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");
        assert_true(n < sizeof seg);
        memcpy(seg, path, n);
        seg[n] = '\0';
        path += n + (path[n] == '.');
        if (cJSON_IsArray(v)) {
            char *end = NULL;
            long idx = strtol(seg, &end, 10);
            assert_true(end != seg && *end == '\0');
            v = cJSON_GetArrayItem(v, (int)idx);
        } else {
            v = cJSON_GetObjectItemCaseSensitive(v, seg);
        }
    }
    return v;
}

enum expect {
    X_END = 0, /* ends a check list */
    X_TRUE,
    X_FALSE,
    X_NUM, /* a number equal to num, bit for bit */
    X_STR,
    X_LEN, /* an array or object with num members */
    X_ABSENT
};

struct check {
    enum expect kind;
    const char *path;
    double num;
    const char *str;
};

#define MAX_CHECKS 6
#define IS_TRUE(p)                                                                                 \
    {                                                                                              \
        .kind = X_TRUE, .path = (p)                                                                \
    }
#define IS_FALSE(p)                                                                                \
    {                                                                                              \
        .kind = X_FALSE, .path = (p)                                                               \
    }
#define NUM(p, v)                                                                                  \
    {                                                                                              \
        .kind = X_NUM, .path = (p), .num = (v)                                                     \
    }
#define STR(p, s)                                                                                  \
    {                                                                                              \
        .kind = X_STR, .path = (p), .str = (s)                                                     \
    }
#define LEN(p, n)                                                                                  \
    {                                                                                              \
        .kind = X_LEN, .path = (p), .num = (n)                                                     \
    }
#define ABSENT(p)                                                                                  \
    {                                                                                              \
        .kind = X_ABSENT, .path = (p)                                                              \
    }

struct value_case {
    const char *name;
    const char *input;
    struct check checks[MAX_CHECKS];
};

/* One variant at 10 replicas, after an analysis that says scale up or
 * down: what each tolerance key does to the step. */
#define UP10(tol)                                                                                  \
    "{" tol "\"analysis\":{\"shouldScaleUp\":true},"                                               \
    "\"variants\":[{\"name\":\"v\",\"currentReplicas\":10}]}"
#define DOWN10(tol)                                                                                \
    "{" tol "\"analysis\":{\"scaleDownSafe\":true,\"nonSaturatedCount\":10,"                       \
    "\"avgSpareKv\":0.7,\"avgSpareQueue\":5},"                                                     \
    "\"variants\":[{\"name\":\"v\",\"currentReplicas\":10}]}"

static const struct value_case value_cases[] = {
    {"kv 0.70 is not below the trigger (0.80 - 0.70 > 0.10 in doubles)",
     "{\"replicas\":[{\"pod\":\"p\",\"kv\":0.70,\"queue\":0}]}",
     {IS_FALSE("shouldScaleUp"), NUM("nonSaturatedCount", 1), STR("scaleUpReason", "")}},
    {"kv 0.71 is",
     "{\"replicas\":[{\"pod\":\"p\",\"kv\":0.71,\"queue\":0}]}",
     {IS_TRUE("shouldScaleUp"), NUM("nonSaturatedCount", 1)}},
    {"one hot replica hidden by four cold ones",
     "{\"replicas\":[{\"pod\":\"hot\",\"kv\":0.95,\"queue\":0},"
     "{\"pod\":\"c1\",\"kv\":0.05,\"queue\":0},{\"pod\":\"c2\",\"kv\":0.05,\"queue\":0},"
     "{\"pod\":\"c3\",\"kv\":0.05,\"queue\":0},{\"pod\":\"c4\",\"kv\":0.05,\"queue\":0}]}",
     {IS_FALSE("shouldScaleUp"), IS_TRUE("scaleDownSafe"), NUM("totalReplicas", 5),
      NUM("nonSaturatedCount", 4), STR("variants.0.saturatedReplicas.0", "hot"),
      STR("variants.0.name", "default")}},
    {"no targets without variants",
     "{\"replicas\":[{\"pod\":\"p\",\"kv\":0.95}]}",
     {ABSENT("targets"), LEN("variants", 1)}},
    {"targets with variants, in input order",
     "{\"replicas\":[{\"pod\":\"p\",\"variant\":\"b\",\"kv\":0.95},"
     "{\"pod\":\"q\",\"variant\":\"a\",\"kv\":0.95}],"
     "\"variants\":[{\"name\":\"b\",\"cost\":5,\"currentReplicas\":1},"
     "{\"name\":\"a\",\"cost\":20,\"currentReplicas\":1}]}",
     {LEN("targets", 2), NUM("targets.b", 2),           /* the cheaper variant gets the replica */
      NUM("targets.a", 1), STR("variants.0.name", "a"), /* analyses sorted by name */
      STR("variants.1.name", "b")}},
    {"queue truncated toward zero",
     "{\"replicas\":[{\"pod\":\"p\",\"kv\":0.1,\"queue\":2.9}]}",
     {NUM("variants.0.maxQueueLength", 2), NUM("avgSpareQueue", 3)}},
    {"queue 4.9 truncates below the threshold 5",
     "{\"replicas\":[{\"pod\":\"p\",\"kv\":0.1,\"queue\":4.9}]}",
     {NUM("nonSaturatedCount", 1), LEN("variants.0.saturatedReplicas", 0)}},
    {"a replica with neither kv nor queue is skipped",
     "{\"replicas\":[{\"pod\":\"empty\"},{\"pod\":\"p\",\"kv\":0.5}]}",
     {NUM("totalReplicas", 1), NUM("variants.0.replicaCount", 1)}},
    {"missing kv counts as 0",
     "{\"replicas\":[{\"pod\":\"p\",\"queue\":1}]}",
     {NUM("totalReplicas", 1), NUM("variants.0.maxKvCacheUsage", 0)}},
    {"0 is a value: spare triggers 0 switch scale-up off",
     "{\"config\":{\"kvSpareTrigger\":0,\"queueSpareTrigger\":0},"
     "\"replicas\":[{\"pod\":\"p\",\"kv\":0.95,\"queue\":9}]}",
     {IS_FALSE("shouldScaleUp"), NUM("variants.0.maxQueueLength", 9)}},
    {"config thresholds apply: 0.85 is not saturated under 0.9, but its spare is low",
     "{\"config\":{\"kvCacheThreshold\":0.9},\"replicas\":[{\"pod\":\"p\",\"kv\":0.85}]}",
     {NUM("nonSaturatedCount", 1), IS_TRUE("shouldScaleUp")}},
    {"config thresholds apply: queueLengthThreshold 10 leaves a queue of 7 unsaturated",
     "{\"config\":{\"queueLengthThreshold\":10},\"replicas\":[{\"pod\":\"p\",\"queue\":7}]}",
     {NUM("nonSaturatedCount", 1), NUM("avgSpareQueue", 3), IS_FALSE("shouldScaleUp")}},
    {"unknown keys are ignored",
     "{\"comment\":\"x\",\"config\":{\"foo\":[1]},\"replicas\":[{\"pod\":\"p\",\"kv\":0.1,"
     "\"node\":{}}],\"variants\":[{\"name\":\"default\",\"currentReplicas\":1,\"x\":null}]}",
     {NUM("targets.default", 1), NUM("totalReplicas", 1)}},
    {"analysis given: totals echoed, no variants analyzed",
     "{\"analysis\":{\"shouldScaleUp\":false,\"scaleDownSafe\":true}}",
     {IS_TRUE("scaleDownSafe"), IS_FALSE("shouldScaleUp"), NUM("totalReplicas", 0),
      NUM("avgSpareKv", 0), LEN("variants", 0), ABSENT("targets")}},
    {"analysis given: scale-down of two when N/(N-2) stays safe",
     DOWN10(""),
     {NUM("targets.v", 8), NUM("nonSaturatedCount", 10)}},
    {"analysis given: scale-down held when N/(N-2) is not safe",
     "{\"analysis\":{\"scaleDownSafe\":true,\"nonSaturatedCount\":10,"
     "\"avgSpareKv\":0.2,\"avgSpareQueue\":5},"
     "\"variants\":[{\"name\":\"v\",\"currentReplicas\":10}]}",
     {NUM("targets.v", 10)}},
    {"transition holds the desired count",
     "{\"analysis\":{\"shouldScaleUp\":true},"
     "\"variants\":[{\"name\":\"v\",\"currentReplicas\":3,\"desiredReplicas\":5}]}",
     {NUM("targets.v", 5)}},
    {"tolerance default: 10 -> 12", UP10(""), {NUM("targets.v", 12)}},
    {"hpaTolerance 0: 10 -> 11", UP10("\"hpaTolerance\":0,"), {NUM("targets.v", 11)}},
    {"hpaScaleUpTolerance wins over hpaTolerance (0.1 over 0)",
     UP10("\"hpaTolerance\":0,\"hpaScaleUpTolerance\":0.1,"),
     {NUM("targets.v", 12)}},
    {"hpaScaleUpTolerance wins over hpaTolerance (0 over 0.1)",
     UP10("\"hpaScaleUpTolerance\":0,\"hpaTolerance\":0.1,"),
     {NUM("targets.v", 11)}},
    {"hpaScaleDownTolerance does not touch scale-up",
     UP10("\"hpaScaleDownTolerance\":0,"),
     {NUM("targets.v", 12)}},
    {"hpaTolerance 0: 10 -> 9", DOWN10("\"hpaTolerance\":0,"), {NUM("targets.v", 9)}},
    {"hpaScaleDownTolerance 0: 10 -> 9",
     DOWN10("\"hpaScaleDownTolerance\":0,"),
     {NUM("targets.v", 9)}},
    {"hpaScaleDownTolerance wins over hpaTolerance",
     DOWN10("\"hpaTolerance\":0,\"hpaScaleDownTolerance\":0.1,"),
     {NUM("targets.v", 8)}},
    {"clamp to maxReplicas",
     "{\"analysis\":{\"shouldScaleUp\":true},"
     "\"variants\":[{\"name\":\"v\",\"currentReplicas\":3,\"maxReplicas\":3}]}",
     {NUM("targets.v", 3)}},
    {"no dead zone under maxReplicas (28 -> 31, not 30)",
     "{\"analysis\":{\"shouldScaleUp\":true},"
     "\"variants\":[{\"name\":\"v\",\"currentReplicas\":28,\"maxReplicas\":30}]}",
     {NUM("targets.v", 31)}},
    {"leading and trailing blanks", " \n\t{\"replicas\":[]}\r\n ", {NUM("totalReplicas", 0)}},
};

static void check_value(const char *name, const cJSON *root, const struct check *c)
{
    const cJSON *v = at(root, c->path);

    switch (c->kind) {
    case X_END:
        return;
    case X_ABSENT:
        if (v != NULL)
            fail_msg("%s: %s present", name, c->path);
        return;
    default:
        break;
    }
    if (v == NULL)
        fail_msg("%s: %s missing", name, c->path);
    switch (c->kind) {
    case X_TRUE:
        if (!cJSON_IsTrue(v))
            fail_msg("%s: %s is not true", name, c->path);
        break;
    case X_FALSE:
        if (!cJSON_IsFalse(v))
            fail_msg("%s: %s is not false", name, c->path);
        break;
    case X_NUM:
        if (!cJSON_IsNumber(v) || v->valuedouble != c->num)
            fail_msg("%s: %s is not %.17g", name, c->path, c->num);
        break;
    case X_STR:
        if (!cJSON_IsString(v) || strcmp(v->valuestring, c->str) != 0)
            fail_msg("%s: %s is not \"%s\"", name, c->path, c->str);
        break;
    case X_LEN:
        if (!(cJSON_IsArray(v) || cJSON_IsObject(v)) || cJSON_GetArraySize(v) != (int)c->num)
            fail_msg("%s: %s does not have %g members", name, c->path, c->num);
        break;
    default:
        break;
    }
}

static void test_values(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < N_OF(value_cases); i++) {
        const struct value_case *vc = &value_cases[i];
        char why[WHY_LEN];
        char *out = NULL;
        cJSON *root;

        print_message("case: %s\n", vc->name);
        if (run(vc->input, &out, why) != ERR_OK)
            fail_msg("%s: %s", vc->name, why);
        root = cJSON_Parse(out);
        free(out);
        assert_non_null(root);
        for (j = 0; j < MAX_CHECKS && vc->checks[j].kind != X_END; j++)
            check_value(vc->name, root, &vc->checks[j]);
        cJSON_Delete(root);
    }
}

/* Targets keep the input order of the variants, whatever the names. */
static void test_targets_order(void **state)
{
    const char *in =
        "{\"analysis\":{},\"variants\":[{\"name\":\"z\",\"currentReplicas\":1},"
        "{\"name\":\"a\",\"currentReplicas\":2},{\"name\":\"m\",\"currentReplicas\":3}]}";
    const char *order[] = {"z", "a", "m"};
    char why[WHY_LEN];
    char *out = NULL;
    const cJSON *t;
    cJSON *root;
    size_t i = 0;

    (void)state;
    assert_int_equal(run(in, &out, why), ERR_OK);
    root = cJSON_Parse(out);
    free(out);
    assert_non_null(root);
    t = cJSON_GetObjectItemCaseSensitive(root, "targets");
    assert_non_null(t);
    for (t = t->child; t != NULL; t = t->next, i++) {
        assert_true(i < N_OF(order));
        assert_string_equal(t->string, order[i]);
        assert_int_equal(t->valueint, (int)i + 1);
    }
    assert_int_equal(i, N_OF(order));
    cJSON_Delete(root);
}

/* The length bounds the document: what follows it is never read. */
static void test_length_bounds_input(void **state)
{
    const char *in = "{\"replicas\":[]}{garbage";
    char why[WHY_LEN];
    char *out = NULL;

    (void)state;
    assert_int_equal(analyze_run(in, strlen("{\"replicas\":[]}"), &out, why, sizeof why), ERR_OK);
    assert_non_null(out);
    free(out);
    assert_int_equal(analyze_run(in, strlen(in), &out, why, sizeof why), ERR_INVALID);
    assert_null(out);
    assert_non_null(strstr(why, "near byte 15"));
}

/* ---- bad input -------------------------------------------------------------- */

static const struct {
    const char *input;
    const char *want;  /* must appear in why */
    const char *exact; /* the whole message, when given */
} bad_cases[] = {
    /* the document */
    {"{\"replicas\": [1, 2", "invalid JSON", "invalid JSON near byte 17"},
    {"", "invalid JSON", "invalid JSON: empty document"},
    {"  \n", "invalid JSON", NULL},
    {"{\"replicas\":[]} []", "invalid JSON near byte 16", NULL},
    {"[]", "object", "document: must be a JSON object, got an array"},
    {"\"x\"", "object", NULL},
    {"{}", "replicas", NULL},
    {"{\"replicas\":[],\"analysis\":{}}", "analysis", NULL},
    {"{\"replicas\":[],\"replicas\":[]}", "replicas", "replicas: key given twice"},
    /* replicas */
    {"{\"replicas\":{}}", "replicas", "replicas: must be an array, got an object"},
    {"{\"replicas\":null}", "replicas", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":0},7]}", "replicas[1]",
     "replicas[1]: must be an object, got a number"},
    {"{\"replicas\":[{\"kv\":0.5}]}", "replicas[0].pod", NULL},
    {"{\"replicas\":[{\"pod\":5,\"kv\":0.5}]}", "replicas[0].pod", NULL},
    {"{\"replicas\":[{\"pod\":\"\",\"kv\":0.5}]}", "replicas[0].pod", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"variant\":\"\",\"kv\":0.5}]}", "replicas[0].variant", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"variant\":3,\"kv\":0.5}]}", "replicas[0].variant", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":\"0.5\"}]}", "replicas[0].kv",
     "replicas[0].kv: must be a number >= 0, got a string"},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":true}]}", "replicas[0].kv", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":null}]}", "replicas[0].kv", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":0},{\"pod\":\"b\",\"kv\":0},"
     "{\"pod\":\"c\",\"kv\":-0.5}]}",
     "replicas[2].kv", "replicas[2].kv: must be a number >= 0, got -0.5"},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":1e999}]}", "replicas[0].kv", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"queue\":-1}]}", "replicas[0].queue", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"queue\":\"3\"}]}", "replicas[0].queue", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"queue\":1e19}]}", "replicas[0].queue", NULL},
    {"{\"replicas\":[{\"pod\":\"p1\",\"kv\":0.1},{\"pod\":\"p1\",\"kv\":0.2}]}", "pod",
     "replicas[1].pod: duplicate pod \"p1\""},
    {"{\"replicas\":[{\"pod\":\"x\",\"kv\":0},{\"pod\":\"p1\"},{\"pod\":\"y\",\"kv\":0},"
     "{\"pod\":\"p1\",\"kv\":0.2},{\"pod\":\"x\",\"kv\":0}]}",
     "pod", "replicas[3].pod: duplicate pod \"p1\""},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":0.1,\"kv\":0.2}]}", "replicas[0].kv", NULL},
    {"{\"replicas\":[{\"pod\":\"a\",\"kv\":1e308},{\"pod\":\"b\",\"kv\":1e308}]}",
     "avgKvCacheUsage", NULL},
    /* config */
    {"{\"config\":[],\"replicas\":[]}", "config", NULL},
    {"{\"config\":{\"kvCacheThreshold\":\"0.8\"},\"replicas\":[]}", "config.kvCacheThreshold",
     NULL},
    {"{\"config\":{\"kvCacheThreshold\":1.5},\"replicas\":[]}", "kvCacheThreshold",
     "config.kvCacheThreshold must be in (0, 1], got 1.5"},
    {"{\"config\":{\"kvCacheThreshold\":0},\"replicas\":[]}", "kvCacheThreshold", NULL},
    {"{\"config\":{\"queueLengthThreshold\":0},\"replicas\":[]}", "queueLengthThreshold", NULL},
    {"{\"config\":{\"queueLengthThreshold\":-2},\"replicas\":[]}", "queueLengthThreshold", NULL},
    {"{\"config\":{\"kvSpareTrigger\":-0.1},\"replicas\":[]}", "kvSpareTrigger", NULL},
    {"{\"config\":{\"kvSpareTrigger\":1.1},\"replicas\":[]}", "kvSpareTrigger", NULL},
    {"{\"config\":{\"queueSpareTrigger\":-1},\"replicas\":[]}", "queueSpareTrigger", NULL},
    {"{\"config\":{\"kvCacheThreshold\":0.5,\"kvSpareTrigger\":0.6},\"replicas\":[]}",
     "kvCacheThreshold", NULL},
    {"{\"config\":{\"kvCacheThreshold\":1e999},\"replicas\":[]}", "kvCacheThreshold", NULL},
    /* tolerances */
    {"{\"hpaTolerance\":1.5,\"replicas\":[]}", "hpaTolerance", NULL},
    {"{\"hpaTolerance\":-0.1,\"replicas\":[]}", "hpaTolerance", NULL},
    {"{\"hpaTolerance\":\"0.1\",\"replicas\":[]}", "hpaTolerance", NULL},
    {"{\"hpaScaleUpTolerance\":11,\"replicas\":[]}", "hpaScaleUpTolerance", NULL},
    {"{\"hpaScaleDownTolerance\":1,\"replicas\":[]}", "hpaScaleDownTolerance", NULL},
    {"{\"hpaTolerance\":0.2,\"hpaScaleDownTolerance\":-1,\"replicas\":[]}", "hpaScaleDownTolerance",
     NULL},
    /* variants */
    {"{\"variants\":{},\"replicas\":[]}", "variants", NULL},
    {"{\"variants\":[5],\"replicas\":[]}", "variants[0]", NULL},
    {"{\"variants\":[{\"currentReplicas\":1}],\"replicas\":[]}", "variants[0].name", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1},{\"name\":\"w\",\"currentReplicas\":1},"
     "{\"name\":\"v\",\"currentReplicas\":1}],\"replicas\":[]}",
     "variants[2].name", "variants[2].name: duplicate variant \"v\""},
    {"{\"variants\":[{\"name\":\"v\"}],\"replicas\":[]}", "variants[0].currentReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1.5}],\"replicas\":[]}",
     "variants[0].currentReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":-1}],\"replicas\":[]}",
     "variants[0].currentReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":\"1\"}],\"replicas\":[]}",
     "variants[0].currentReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":3e9}],\"replicas\":[]}",
     "variants[0].currentReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"desiredReplicas\":0.5}],"
     "\"replicas\":[]}",
     "variants[0].desiredReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"pendingReplicas\":-2}],"
     "\"replicas\":[]}",
     "variants[0].pendingReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"minReplicas\":-1}],"
     "\"replicas\":[]}",
     "variants[0].minReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"maxReplicas\":2.5}],"
     "\"replicas\":[]}",
     "variants[0].maxReplicas", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"minReplicas\":5,"
     "\"maxReplicas\":3}],\"replicas\":[]}",
     "minReplicas", "variants[0]: minReplicas (5) must be <= maxReplicas (3)"},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"cost\":-1}],\"replicas\":[]}",
     "variants[0].cost", NULL},
    {"{\"variants\":[{\"name\":\"v\",\"currentReplicas\":1,\"cost\":\"cheap\"}],"
     "\"replicas\":[]}",
     "variants[0].cost", NULL},
    {"{\"variants\":[{\"name\":\"v1\",\"currentReplicas\":1}],"
     "\"replicas\":[{\"pod\":\"a\",\"variant\":\"v1\",\"kv\":0.1},"
     "{\"pod\":\"b\",\"variant\":\"v2\",\"kv\":0.1}]}",
     "replicas[1].variant", "replicas[1].variant: \"v2\" is not listed in variants"},
    {"{\"variants\":[{\"name\":\"v1\",\"currentReplicas\":1}],"
     "\"replicas\":[{\"pod\":\"a\",\"kv\":0.1}]}",
     "replicas[0].variant", NULL},
    /* analysis */
    {"{\"analysis\":[]}", "analysis", NULL},
    {"{\"analysis\":{\"shouldScaleUp\":1}}", "analysis.shouldScaleUp", NULL},
    {"{\"analysis\":{\"scaleDownSafe\":\"yes\"}}", "analysis.scaleDownSafe", NULL},
    {"{\"analysis\":{\"nonSaturatedCount\":1.5}}", "analysis.nonSaturatedCount", NULL},
    {"{\"analysis\":{\"totalReplicas\":2,\"nonSaturatedCount\":3}}", "nonSaturatedCount", NULL},
    {"{\"analysis\":{\"avgSpareKv\":-0.1}}", "analysis.avgSpareKv", NULL},
    {"{\"analysis\":{\"avgSpareQueue\":\"1\"}}", "analysis.avgSpareQueue", NULL},
};

static void test_bad_input(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_OF(bad_cases); i++) {
        char why[WHY_LEN];
        char *out = (char *)"sentinel";
        enum err_code rc;

        print_message("case: %s\n", bad_cases[i].input);
        rc = run(bad_cases[i].input, &out, why);
        assert_int_equal(rc, ERR_INVALID);
        assert_null(out);
        if (strstr(why, bad_cases[i].want) == NULL)
            fail_msg("why \"%s\" does not name \"%s\"", why, bad_cases[i].want);
        if (bad_cases[i].exact != NULL)
            assert_string_equal(why, bad_cases[i].exact);
        assert_null(strchr(why, '\n'));
    }
}

/* Names in messages are escaped and cut so the message stays one line. */
static void test_message_escaping(void **state)
{
    char in[512];
    char why[WHY_LEN];
    char *out = NULL;

    (void)state;
    assert_int_equal(run("{\"replicas\":[{\"pod\":\"a\\n\\\"b\",\"kv\":0},"
                         "{\"pod\":\"a\\n\\\"b\",\"kv\":0}]}",
                         &out, why),
                     ERR_INVALID);
    assert_string_equal(why, "replicas[1].pod: duplicate pod \"a\\x0a\\\"b\"");
    snprintf(in, sizeof in,
             "{\"replicas\":[{\"pod\":\"%0200d\",\"kv\":0},{\"pod\":\"%0200d\",\"kv\":0}]}", 0, 0);
    assert_int_equal(run(in, &out, why), ERR_INVALID);
    assert_non_null(strstr(why, "\"..."));
    assert_true(strlen(why) < 120);
}

/* why may be NULL or short; out-params are cleared; a NULL out is refused. */
static void test_arguments(void **state)
{
    char why[8];
    char *out = (char *)"sentinel";

    (void)state;
    assert_int_equal(analyze_run("[]", 2, &out, NULL, 0), ERR_INVALID);
    assert_null(out);
    assert_int_equal(analyze_run("[]", 2, &out, why, sizeof why), ERR_INVALID);
    assert_int_equal(strlen(why), sizeof why - 1);
    assert_int_equal(analyze_run("{\"replicas\":[]}", 15, NULL, why, sizeof why), ERR_INTERNAL);
    memcpy(why, "garbage", 8);
    assert_int_equal(analyze_run("{\"replicas\":[]}", 15, &out, why, sizeof why), ERR_OK);
    assert_string_equal(why, "");
    free(out);
    assert_int_equal(analyze_run(NULL, 0, &out, why, sizeof why), ERR_INVALID);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_output),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_targets_order), cmocka_unit_test(test_length_bounds_input),
        cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_message_escaping),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
