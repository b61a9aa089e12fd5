/*
 * Unit tests for decisions: what decisions_json() renders for a recorded
 * decide_result (the analyze shape, the decision, the resolved inputs, the
 * scale-up reason kept as a heap string, exactly, up to SAT_REASON_LEN - 1
 * bytes), replacement of a record, ERR_NOT_FOUND, expiry by age, the
 * visitor, growth past the first bucket array, the rate-limited decision
 * log (stderr captured) and a short concurrent smoke test. The inputs are
 * built as rpc.c builds them: meta_parse() for the request, sat_analyze()
 * over a few replicas for the analysis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decide.h"
#include "decisions.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "sat.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
/* A monotonic-looking base time: record times are never 0 in the server. */
#define T0 ((int64_t)1000000)

/* ---- helpers ------------------------------------------------------------------ */

/* Every decision key set to a non-default value, so each "inputs" number
 * shows it came from the request and not from a default. */
static const char *const full_keys[] = {
    "modelID",
    "kvCacheThreshold",
    "queueLengthThreshold",
    "kvSpareTrigger",
    "queueSpareTrigger",
    "minReplicas",
    "maxReplicas",
    "variantCost",
    "hpaScaleUpTolerance",
    "hpaScaleDownTolerance",
    "metricsWindow",
    "scaleToZero",
    "engine",
};
static const char *const full_values[] = {
    "ibm/granite-13b", "0.75", "4", "0.15", "2", "2", "9", "7.5", "0.2", "0.05", "30s", "5m",
    "sglang",
};

/* A request for ns/so of model; full: every key above, else modelID only. */
static void request(struct meta_request *r, const char *ns, const char *so, const char *model,
                    bool full)
{
    const char *keys[N_OF(full_keys)], *values[N_OF(full_keys)];
    char why[META_WHY_LEN];
    size_t n = full ? N_OF(full_keys) : 1, i;
    enum err_code rc;

    for (i = 0; i < n; i++) {
        keys[i] = full_keys[i];
        values[i] = full_values[i];
    }
    values[0] = model;
    rc = meta_parse(so, ns, keys, values, n, NULL, r, why, sizeof(why));
    if (rc)
        print_error("meta: %s\n", why);
    assert_int_equal(rc, ERR_OK);
}

/* A result over the replicas (analysed with req's thresholds) carrying the
 * decision values given. */
static void result(struct decide_result *res, const struct meta_request *req,
                   const struct sat_replica *reps, size_t n, int64_t desired, int64_t current,
                   enum sat_action action, bool active)
{
    memset(res, 0, sizeof(*res));
    assert_int_equal(sat_analyze(&req->resolved.config, reps, n, &res->analysis), ERR_OK);
    res->has_series = n > 0;
    res->variant_has_pods = n > 0;
    res->variant = req->name;
    res->desired = desired;
    res->current = current;
    res->model_pods = n;
    res->active = active;
    res->decision.target = desired;
    res->decision.action = action;
}

static cJSON *get_json(struct decisions *d, const char *ns, const char *so)
{
    char *text = NULL;
    size_t len = 0;
    cJSON *root;

    assert_int_equal(decisions_json(d, ns, so, &text, &len), ERR_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 1);
    assert_int_equal(text[len - 1], '\n'); /* one line, curl-friendly */
    root = cJSON_ParseWithLength(text, len);
    if (!root)
        print_error("not JSON: %s\n", text);
    assert_non_null(root);
    free(text);
    return root;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        print_error("missing key %s\n", key);
    assert_non_null(v);
    return v;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = member(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = member(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static bool boolean(const cJSON *o, const char *key)
{
    const cJSON *v = member(o, key);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

/* Record a plain decision (two cool replicas) for ns/so at now. */
static void record_simple(struct decisions *d, const char *ns, const char *so, const char *model,
                          int64_t desired, int64_t now)
{
    static const struct sat_replica reps[] = {
        {"p1", "v", 0.25, 0},
        {"p2", "v", 0.35, 1},
    };
    struct meta_request req;
    struct decide_result res;

    request(&req, ns, so, model, false);
    result(&res, &req, reps, N_OF(reps), desired, 2, SAT_ACTION_HOLD, true);
    decisions_record(d, &req, "metrics file", &res, now);
    meta_request_clear(&req);
}

/* ---- stderr capture (the decision log) ------------------------------------- */

struct capture {
    char name[32];
    int fd, saved;
};

static void capture_begin(struct capture *c)
{
    snprintf(c->name, sizeof(c->name), "/tmp/sat-dec-XXXXXX");
    c->fd = mkstemp(c->name);
    assert_true(c->fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* The text written since capture_begin() (malloc'd). */
static char *capture_end(struct capture *c)
{
    struct stat st;
    char *buf;
    ssize_t n;

    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    assert_int_equal(fstat(c->fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    n = pread(c->fd, buf, (size_t)st.st_size, 0);
    assert_int_equal(n, st.st_size);
    buf[n] = '\0';
    close(c->fd);
    unlink(c->name);
    return buf;
}

static size_t count_str(const char *text, const char *needle)
{
    size_t n = 0;
    const char *p = text;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* ---- fixtures ----------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    metrics_reset();
    log_setup(LOG_OFF, LOG_FORMAT_LOGFMT); /* quiet unless a test captures */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_setup(LOG_INFO, LOG_FORMAT_JSON);
    metrics_shutdown();
    return 0;
}

/* ---- tests -------------------------------------------------------------------- */

/* Everything recorded comes back in the JSON, with the analyze shape. */
static void test_record_then_json(void **state)
{
    /* Variant "a": one saturated (kv 0.9 >= 0.75), one cool; variant "b":
     * one cool. Spare kv (0.75-0.3 + 0.75-0.7)/2 = 0.25 >= 0.15, spare
     * queue below 2: a real scale-up reason from sat_analyze(). */
    static const struct sat_replica reps[] = {
        {"pod-a1", "a", 0.9, 0},
        {"pod-a2", "a", 0.3, 3},
        {"pod-b1", "b", 0.7, 3},
    };
    struct decisions *d = decisions_new(60000);
    struct meta_request req;
    struct decide_result res;
    struct sat_analysis want;
    char reason[SAT_REASON_LEN];
    const cJSON *in, *vars, *v;
    cJSON *root;
    struct tm tm;
    time_t before = time(NULL), at;
    int ms;
    (void)state;

    assert_non_null(d);
    request(&req, "prod", "granite", "ibm/granite-13b", true);
    result(&res, &req, reps, N_OF(reps), 4, 3, SAT_ACTION_SCALE_UP, true);
    res.all_saturated = false;
    assert_true(res.analysis.should_scale_up);
    assert_true(res.analysis.scale_up_reason[0] != '\0');
    /* what the JSON must say (res is cleared by recording) */
    want = res.analysis;
    want.variants = NULL;
    snprintf(reason, sizeof(reason), "%s", res.analysis.scale_up_reason);

    decisions_record(d, &req, "prometheus \"default\"", &res, T0);
    /* res was cleared: the variants moved into the record */
    assert_null(res.analysis.variants);
    assert_int_equal(res.analysis.variant_count, 0);
    assert_int_equal(res.desired, 0);

    root = get_json(d, "prod", "granite");
    assert_string_equal(str(root, "namespace"), "prod");
    assert_string_equal(str(root, "scaledobject"), "granite");
    assert_string_equal(str(root, "model"), "ibm/granite-13b");
    assert_string_equal(str(root, "source"), "prometheus \"default\"");
    assert_true(num(root, "desired") == 4.0);
    assert_true(num(root, "current") == 3.0);
    assert_string_equal(str(root, "action"), sat_action_str(SAT_ACTION_SCALE_UP));
    assert_true(boolean(root, "active"));
    assert_false(boolean(root, "allSaturated"));
    assert_true(boolean(root, "hasSeries"));

    /* the analysis as analyze_render_analysis() renders it: 17 digits, so
     * the doubles compare bit for bit */
    assert_true(num(root, "totalReplicas") == 3.0);
    assert_true(num(root, "nonSaturatedCount") == (double)want.non_saturated_count);
    assert_int_equal(want.non_saturated_count, 2);
    assert_true(num(root, "avgSpareKv") == want.avg_spare_kv);
    assert_true(num(root, "avgSpareQueue") == want.avg_spare_queue);
    assert_true(boolean(root, "shouldScaleUp"));
    assert_true(boolean(root, "scaleDownSafe") == want.scale_down_safe);
    assert_string_equal(str(root, "scaleUpReason"), reason);
    vars = member(root, "variants");
    assert_true(cJSON_IsArray(vars));
    assert_int_equal(cJSON_GetArraySize(vars), 2);
    v = cJSON_GetArrayItem(vars, 0);
    assert_string_equal(str(v, "name"), "a");
    assert_true(num(v, "replicaCount") == 2.0);
    assert_true(num(v, "nonSaturatedCount") == 1.0);
    assert_int_equal(cJSON_GetArraySize(member(v, "saturatedReplicas")), 1);
    assert_string_equal(cJSON_GetArrayItem(member(v, "saturatedReplicas"), 0)->valuestring,
                        "pod-a1");
    assert_true(num(v, "maxKvCacheUsage") == 0.9);
    assert_true(num(v, "maxQueueLength") == 3.0);
    v = cJSON_GetArrayItem(vars, 1);
    assert_string_equal(str(v, "name"), "b");
    assert_true(num(v, "replicaCount") == 1.0);
    assert_int_equal(cJSON_GetArraySize(member(v, "saturatedReplicas")), 0);

    /* the resolved inputs, each from the request */
    in = member(root, "inputs");
    assert_true(cJSON_IsObject(in));
    assert_true(num(in, "kvCacheThreshold") == 0.75);
    assert_true(num(in, "queueLengthThreshold") == 4.0);
    assert_true(num(in, "kvSpareTrigger") == 0.15);
    assert_true(num(in, "queueSpareTrigger") == 2.0);
    assert_true(num(in, "hpaScaleUpTolerance") == 0.2);
    assert_true(num(in, "hpaScaleDownTolerance") == 0.05);
    assert_true(num(in, "minReplicas") == 2.0);
    assert_true(num(in, "maxReplicas") == 9.0);
    assert_true(num(in, "variantCost") == 7.5);
    assert_true(num(in, "metricsWindowSeconds") == 30.0);
    assert_true(num(in, "scaleToZeroSeconds") == 300.0);
    assert_string_equal(str(in, "engine"), "sglang");

    /* "time": the wall clock of the record, RFC 3339 in UTC with ms */
    memset(&tm, 0, sizeof(tm));
    assert_int_equal(strlen(str(root, "time")), 24);
    assert_int_equal(sscanf(str(root, "time"), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year,
                            &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
                     7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    at = timegm(&tm);
    assert_true(at >= before && at <= time(NULL));
    cJSON_Delete(root);

    /* the self-metrics were updated with the same decision */
    {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(metrics_render(&text, &len), ERR_OK);
        assert_non_null(strstr(text, "saturation_scaler_desired_replicas{namespace=\"prod\","
                                     "scaledobject=\"granite\",model=\"ibm/granite-13b\"} 4\n"));
        assert_non_null(strstr(text, "saturation_scaler_current_replicas{namespace=\"prod\","
                                     "scaledobject=\"granite\",model=\"ibm/granite-13b\"} 3\n"));
        free(text);
    }

    meta_request_clear(&req);
    decisions_free(d);
}

/* Defaults: maxReplicas and scaleToZeroSeconds are left out when unset. */
static void test_inputs_defaults(void **state)
{
    struct decisions *d = decisions_new(0); /* <= 0: the default interval */
    const cJSON *in;
    cJSON *root;
    (void)state;

    record_simple(d, "dev", "llama", "meta/llama-3", 2, T0);
    root = get_json(d, "dev", "llama");
    in = member(root, "inputs");
    assert_null(cJSON_GetObjectItemCaseSensitive(in, "maxReplicas"));
    assert_null(cJSON_GetObjectItemCaseSensitive(in, "scaleToZeroSeconds"));
    assert_true(num(in, "kvCacheThreshold") == SAT_DEFAULT_KV_CACHE_THRESHOLD);
    assert_true(num(in, "queueSpareTrigger") == SAT_DEFAULT_QUEUE_SPARE_TRIGGER);
    assert_true(num(in, "minReplicas") == (double)META_DEFAULT_MIN_REPLICAS);
    assert_true(num(in, "variantCost") == META_DEFAULT_VARIANT_COST);
    assert_true(num(in, "metricsWindowSeconds") == META_DEFAULT_METRICS_WINDOW_MS / 1000.0);
    assert_string_equal(str(in, "engine"), "vllm");
    assert_string_equal(str(root, "action"), "hold");
    assert_string_equal(str(root, "source"), "metrics file");
    /* no scale-up: the reason renders as "" (never stale, never absent) */
    assert_false(boolean(root, "shouldScaleUp"));
    assert_string_equal(str(root, "scaleUpReason"), "");
    cJSON_Delete(root);
    decisions_free(d);
}

/* The reason is stored on the heap: every length up to SAT_REASON_LEN - 1
 * round-trips exactly, escapes included, and an empty one after a long one
 * leaves nothing behind. */
static void test_reason_round_trip(void **state)
{
    static const char alphabet[] = "abcXYZ 019\"\\/\t\n{}:,%";
    static const size_t lengths[] = {
        1, 7, 255, 256, SAT_REASON_LEN - 2, SAT_REASON_LEN - 1, 0, SAT_REASON_LEN - 1, 3, 0};
    static const struct sat_replica reps[] = {{"p1", "v", 0.5, 1}};
    struct decisions *d = decisions_new(60000);
    size_t i, k;
    (void)state;

    for (i = 0; i < N_OF(lengths); i++) {
        struct meta_request req;
        struct decide_result res;
        char want[SAT_REASON_LEN];
        cJSON *root;

        for (k = 0; k < lengths[i]; k++)
            want[k] = alphabet[(k + i) % (sizeof(alphabet) - 1)];
        want[lengths[i]] = '\0';
        request(&req, "ns", "so", "m", false);
        result(&res, &req, reps, N_OF(reps), 1, 1, SAT_ACTION_HOLD, true);
        memcpy(res.analysis.scale_up_reason, want, lengths[i] + 1);
        res.analysis.should_scale_up = lengths[i] > 0;
        decisions_record(d, &req, "metrics file", &res, T0 + (int64_t)i);
        meta_request_clear(&req);

        root = get_json(d, "ns", "so");
        assert_int_equal(strlen(str(root, "scaleUpReason")), lengths[i]);
        assert_string_equal(str(root, "scaleUpReason"), want);
        assert_true(boolean(root, "shouldScaleUp") == (lengths[i] > 0));
        cJSON_Delete(root);
    }
    assert_int_equal(decisions_expire(d, T0, 1000000), 1);
    decisions_free(d);
}

/* A second record for the same key replaces the first entirely. */
static void test_replace(void **state)
{
    static const struct sat_replica three[] = {
        {"p1", "x", 0.9, 9}, {"p2", "y", 0.95, 9}, {"p3", "z", 0.99, 9}};
    static const struct sat_replica one[] = {{"q1", "w", 0.1, 0}};
    struct decisions *d = decisions_new(60000);
    struct meta_request req;
    struct decide_result res;
    cJSON *root;
    (void)state;

    request(&req, "prod", "so", "model-a", true);
    result(&res, &req, three, N_OF(three), 7, 3, SAT_ACTION_SCALE_UP, true);
    res.all_saturated = true;
    assert_true(res.analysis.scale_up_reason[0] != '\0');
    decisions_record(d, &req, "prometheus \"a\"", &res, T0);
    meta_request_clear(&req);

    /* same ns/so; another model, source, thresholds and a calmer analysis */
    request(&req, "prod", "so", "model-b", false);
    result(&res, &req, one, N_OF(one), 1, 1, SAT_ACTION_SCALE_DOWN, false);
    assert_string_equal(res.analysis.scale_up_reason, "");
    decisions_record(d, &req, "metrics file", &res, T0 + 10);
    meta_request_clear(&req);

    assert_int_equal(decisions_expire(d, T0 + 10, 60000), 1); /* one record, not two */
    root = get_json(d, "prod", "so");
    assert_string_equal(str(root, "model"), "model-b");
    assert_string_equal(str(root, "source"), "metrics file");
    assert_true(num(root, "desired") == 1.0);
    assert_true(num(root, "current") == 1.0);
    assert_string_equal(str(root, "action"), "scale-down");
    assert_false(boolean(root, "active"));
    assert_false(boolean(root, "allSaturated"));
    assert_true(num(root, "totalReplicas") == 1.0);
    assert_false(boolean(root, "shouldScaleUp"));
    assert_string_equal(str(root, "scaleUpReason"), "");
    assert_int_equal(cJSON_GetArraySize(member(root, "variants")), 1);
    assert_string_equal(str(cJSON_GetArrayItem(member(root, "variants"), 0), "name"), "w");
    assert_null(cJSON_GetObjectItemCaseSensitive(member(root, "inputs"), "maxReplicas"));
    assert_string_equal(str(member(root, "inputs"), "engine"), "vllm");
    cJSON_Delete(root);
    decisions_free(d); /* LeakSanitizer: the first record's analysis is gone */
}

/* An empty result (no replicas) records and renders too. */
static void test_empty_analysis(void **state)
{
    struct decisions *d = decisions_new(60000);
    struct meta_request req;
    struct decide_result res;
    cJSON *root;
    (void)state;

    request(&req, "ns", "idle", "m", false);
    result(&res, &req, NULL, 0, 0, 0, SAT_ACTION_HOLD, false);
    decisions_record(d, &req, "metrics file", &res, T0);
    meta_request_clear(&req);
    root = get_json(d, "ns", "idle");
    assert_true(num(root, "totalReplicas") == 0.0);
    assert_false(boolean(root, "hasSeries"));
    assert_int_equal(cJSON_GetArraySize(member(root, "variants")), 0);
    assert_string_equal(str(root, "scaleUpReason"), "");
    cJSON_Delete(root);
    decisions_free(d);
}

static void test_not_found(void **state)
{
    struct decisions *d = decisions_new(60000);
    char *text = (char *)"junk";
    size_t len = 99;
    (void)state;

    /* nothing recorded at all (no buckets yet) */
    assert_int_equal(decisions_json(d, "ns", "so", &text, &len), ERR_NOT_FOUND);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(decisions_expire(d, T0, 1000), 0);

    record_simple(d, "ns", "so", "m", 1, T0);
    text = (char *)"junk";
    len = 99;
    /* same name elsewhere, same namespace other name, swapped halves */
    assert_int_equal(decisions_json(d, "other", "so", &text, &len), ERR_NOT_FOUND);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(decisions_json(d, "ns", "so2", &text, &len), ERR_NOT_FOUND);
    assert_int_equal(decisions_json(d, "so", "ns", &text, &len), ERR_NOT_FOUND);
    assert_int_equal(decisions_json(d, "n", "sso", &text, &len), ERR_NOT_FOUND);
    assert_int_equal(decisions_json(d, "", "", &text, &len), ERR_NOT_FOUND);
    /* a lookup never creates a record */
    assert_int_equal(decisions_expire(d, T0, 1000), 1);
    assert_int_equal(decisions_json(d, "ns", "so", &text, &len), ERR_OK);
    free(text);
    decisions_free(d);
}

/* Records older than the TTL go; an age equal to the TTL stays. */
static void test_expire(void **state)
{
    struct decisions *d = decisions_new(60000);
    char *text = NULL;
    size_t len = 0;
    (void)state;

    record_simple(d, "ns", "a", "m", 1, T0 + 1000);
    record_simple(d, "ns", "b", "m", 2, T0 + 5000);
    record_simple(d, "ns", "c", "m", 3, T0 + 9000);
    assert_int_equal(decisions_expire(d, T0 + 9000, 10000), 3);
    assert_int_equal(decisions_expire(d, T0 + 10000, 5000), 2); /* a: 9000 > 5000 */
    assert_int_equal(decisions_json(d, "ns", "a", &text, &len), ERR_NOT_FOUND);
    assert_int_equal(decisions_json(d, "ns", "b", &text, &len), ERR_OK); /* age == ttl */
    free(text);
    /* b refreshed: it outlives c now */
    record_simple(d, "ns", "b", "m", 2, T0 + 12000);
    assert_int_equal(decisions_expire(d, T0 + 14001, 5000), 1);
    assert_int_equal(decisions_json(d, "ns", "c", &text, &len), ERR_NOT_FOUND);
    assert_int_equal(decisions_json(d, "ns", "b", &text, &len), ERR_OK);
    free(text);
    assert_int_equal(decisions_expire(d, T0 + 100000, 0), 0);
    /* an expired key can be recorded again */
    record_simple(d, "ns", "a", "m", 5, T0 + 200000);
    {
        cJSON *root = get_json(d, "ns", "a");
        assert_true(num(root, "desired") == 5.0);
        cJSON_Delete(root);
    }
    assert_int_equal(decisions_expire(d, T0 + 200000, 0), 1);
    decisions_free(d);
}

struct seen {
    char ns[32], so[32], model[32];
    int64_t desired, current;
    bool active;
    double kv, queue;
    int visits;
};

struct visit {
    struct seen *s;
    size_t n, cap;
};

static void on_visit(void *arg, const char *ns, const char *so, const char *model, int64_t desired,
                     int64_t current, bool active, double spare_kv, double spare_queue)
{
    struct visit *v = arg;
    size_t i;
    for (i = 0; i < v->n; i++)
        if (!strcmp(v->s[i].ns, ns) && !strcmp(v->s[i].so, so)) {
            v->s[i].visits++;
            return;
        }
    assert_true(v->n < v->cap);
    snprintf(v->s[v->n].ns, sizeof(v->s[v->n].ns), "%s", ns);
    snprintf(v->s[v->n].so, sizeof(v->s[v->n].so), "%s", so);
    snprintf(v->s[v->n].model, sizeof(v->s[v->n].model), "%s", model);
    v->s[v->n].desired = desired;
    v->s[v->n].current = current;
    v->s[v->n].active = active;
    v->s[v->n].kv = spare_kv;
    v->s[v->n].queue = spare_queue;
    v->s[v->n].visits = 1;
    v->n++;
}

static const struct seen *find_seen(const struct visit *v, const char *ns, const char *so)
{
    size_t i;
    for (i = 0; i < v->n; i++)
        if (!strcmp(v->s[i].ns, ns) && !strcmp(v->s[i].so, so))
            return &v->s[i];
    print_error("not visited: %s/%s\n", ns, so);
    fail();
    return NULL;
}

static void test_each(void **state)
{
    static const struct {
        const char *ns, *so, *model;
        int64_t desired, current;
        bool active;
        struct sat_replica reps[2];
        size_t n;
    } cases[] = {
        {"prod",
         "granite",
         "ibm/granite",
         3,
         2,
         true,
         {{"p1", "v", 0.5, 1}, {"p2", "v", 0.2, 0}},
         2},
        {"prod", "llama", "meta/llama", 1, 1, false, {{"q1", "v", 0.1, 0}}, 1},
        {"dev", "granite", "ibm/granite", 0, 0, false, {{0}}, 0},
    };
    struct decisions *d = decisions_new(60000);
    struct seen seen[8];
    struct visit v = {seen, 0, N_OF(seen)};
    double kv[N_OF(cases)], queue[N_OF(cases)];
    size_t i;
    (void)state;

    decisions_each(d, on_visit, &v); /* empty: no call */
    assert_int_equal(v.n, 0);
    for (i = 0; i < N_OF(cases); i++) {
        struct meta_request req;
        struct decide_result res;
        request(&req, cases[i].ns, cases[i].so, cases[i].model, false);
        result(&res, &req, cases[i].reps, cases[i].n, cases[i].desired, cases[i].current,
               SAT_ACTION_HOLD, cases[i].active);
        kv[i] = res.analysis.avg_spare_kv;
        queue[i] = res.analysis.avg_spare_queue;
        decisions_record(d, &req, "metrics file", &res, T0);
        meta_request_clear(&req);
    }
    assert_true(kv[0] > 0.0 && queue[0] > 0.0); /* the values below mean something */
    decisions_each(d, on_visit, &v);
    assert_int_equal(v.n, N_OF(cases));
    for (i = 0; i < N_OF(cases); i++) {
        const struct seen *s = find_seen(&v, cases[i].ns, cases[i].so);
        assert_int_equal(s->visits, 1);
        assert_string_equal(s->model, cases[i].model);
        assert_int_equal(s->desired, cases[i].desired);
        assert_int_equal(s->current, cases[i].current);
        assert_true(s->active == cases[i].active);
        assert_true(s->kv == kv[i]);
        assert_true(s->queue == queue[i]);
    }
    decisions_free(d);
}

/* Past the first bucket array (256): every record stays reachable. */
static void test_many(void **state)
{
    enum { N = 1000 };
    struct decisions *d = decisions_new(60000);
    struct seen *seen = calloc(N, sizeof(*seen));
    struct visit v = {seen, 0, N};
    char so[32];
    size_t i;
    (void)state;

    assert_non_null(seen);
    for (i = 0; i < N; i++) {
        snprintf(so, sizeof(so), "so-%zu", i);
        record_simple(d, i % 2 ? "odd" : "even", so, "m", (int64_t)i, T0 + (int64_t)i);
    }
    assert_int_equal(decisions_expire(d, T0 + N, 1000000), N);
    for (i = 0; i < N; i += 37) {
        cJSON *root;
        snprintf(so, sizeof(so), "so-%zu", i);
        root = get_json(d, i % 2 ? "odd" : "even", so);
        assert_true(num(root, "desired") == (double)i);
        cJSON_Delete(root);
    }
    decisions_each(d, on_visit, &v);
    assert_int_equal(v.n, N);
    for (i = 0; i < N; i++)
        assert_int_equal(seen[i].visits, 1);
    /* half expire by age: records at T0+0..T0+499 are older than 500 ms at T0+1000 */
    assert_int_equal(decisions_expire(d, T0 + N, 500), N / 2);
    free(seen);
    decisions_free(d);
}

/* The decision log: at info on a change, else at most once per interval,
 * marked "(unchanged)". */
static void test_log_rate_limit(void **state)
{
    static const struct sat_replica reps[] = {{"p1", "v", 0.5, 1}};
    static const struct {
        int64_t at, desired;
        enum sat_action action;
        bool active;
        int logged; /* 0 no, 1 changed, 2 unchanged */
    } steps[] = {
        {T0, 2, SAT_ACTION_HOLD, true, 1},              /* first */
        {T0 + 1000, 2, SAT_ACTION_HOLD, true, 0},       /* same, within the interval */
        {T0 + 9999, 2, SAT_ACTION_HOLD, true, 0},       /* still within */
        {T0 + 10000, 2, SAT_ACTION_HOLD, true, 2},      /* interval reached */
        {T0 + 10001, 3, SAT_ACTION_HOLD, true, 1},      /* desired changed */
        {T0 + 10002, 3, SAT_ACTION_SCALE_UP, true, 1},  /* action changed */
        {T0 + 10003, 3, SAT_ACTION_SCALE_UP, false, 1}, /* activation changed */
        {T0 + 10004, 3, SAT_ACTION_SCALE_UP, false, 0},
        {T0 + 20003, 3, SAT_ACTION_SCALE_UP, false, 2}, /* 10000 after the last line */
    };
    struct decisions *d = decisions_new(10000);
    size_t i;
    (void)state;

    log_setup(LOG_INFO, LOG_FORMAT_LOGFMT);
    for (i = 0; i < N_OF(steps); i++) {
        struct meta_request req;
        struct decide_result res;
        struct capture c;
        char *text;

        request(&req, "ns", "so", "m", false);
        result(&res, &req, reps, N_OF(reps), steps[i].desired, 1, steps[i].action, steps[i].active);
        snprintf(res.analysis.scale_up_reason, sizeof(res.analysis.scale_up_reason), "step %zu", i);
        capture_begin(&c);
        decisions_record(d, &req, "metrics file", &res, steps[i].at);
        text = capture_end(&c);
        meta_request_clear(&req);
        if (count_str(text, "event=\"decision\"") != (steps[i].logged ? 1u : 0u))
            print_error("step %zu: %s\n", i, text);
        assert_int_equal(count_str(text, "event=\"decision\""), steps[i].logged ? 1 : 0);
        if (steps[i].logged) {
            char want[64];
            assert_non_null(strstr(text, "level=info"));
            assert_non_null(strstr(text, "ns/so model=m"));
            snprintf(want, sizeof(want), "desired=%lld", (long long)steps[i].desired);
            assert_non_null(strstr(text, want));
            snprintf(want, sizeof(want), "step %zu", i);
            assert_non_null(strstr(text, want)); /* the reason */
            assert_true((strstr(text, "(unchanged)") != NULL) == (steps[i].logged == 2));
        }
        free(text);
    }
    log_setup(LOG_OFF, LOG_FORMAT_LOGFMT);
    decisions_free(d);
}

/* Writers on shared and own keys, a reader rendering and expiring. */
struct worker {
    struct decisions *d;
    int id;
    int bad; /* torn JSON seen by the reader (asserted on the main thread) */
};

/* Writer id's i-th key: odd i a key shared by every writer, even i its own. */
static void worker_key(char *buf, size_t len, int id, int i)
{
    if (i % 2)
        snprintf(buf, len, "shared-%d-%d", i % 5, i % 7);
    else
        snprintf(buf, len, "own-%d-%d", id, i % 7);
}

static void *writer(void *arg)
{
    struct worker *w = arg;
    char so[32];
    int i;
    for (i = 0; i < 200; i++) {
        worker_key(so, sizeof(so), w->id, i);
        record_simple(w->d, "ns", so, "m", i, T0 + i);
    }
    return NULL;
}

static void *reader(void *arg)
{
    struct worker *w = arg;
    struct seen seen[64];
    int i;
    for (i = 0; i < 200; i++) {
        struct visit v = {seen, 0, N_OF(seen)};
        char *text = NULL;
        size_t len = 0;
        if (decisions_json(w->d, "ns", "shared-1-1", &text, &len) == ERR_OK) {
            cJSON *root = cJSON_ParseWithLength(text, len);
            if (!root)
                w->bad++;
            cJSON_Delete(root);
            free(text);
        }
        decisions_each(w->d, on_visit, &v);
        (void)decisions_expire(w->d, T0, 1000000);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    enum { WRITERS = 4, KEYS = 128 };
    struct decisions *d = decisions_new(60000);
    struct worker w[WRITERS + 1];
    pthread_t t[WRITERS + 1];
    char names[KEYS][32];
    struct seen seen[KEYS];
    struct visit v = {seen, 0, N_OF(seen)};
    size_t want = 0, n;
    int i, k;
    (void)state;

    for (i = 0; i <= WRITERS; i++) {
        w[i].d = d;
        w[i].id = i;
        w[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, i < WRITERS ? writer : reader, &w[i]), 0);
    }
    for (i = 0; i <= WRITERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[WRITERS].bad, 0);
    /* every distinct key the writers used, once */
    for (i = 0; i < WRITERS; i++)
        for (k = 0; k < 200; k++) {
            char so[32];
            worker_key(so, sizeof(so), i, k);
            for (n = 0; n < want; n++)
                if (!strcmp(names[n], so))
                    break;
            if (n == want) {
                assert_true(want < KEYS);
                snprintf(names[want++], sizeof(names[0]), "%s", so);
            }
        }
    decisions_each(d, on_visit, &v);
    assert_int_equal(v.n, want);
    for (n = 0; n < want; n++)
        assert_int_equal(find_seen(&v, "ns", names[n])->visits, 1);
    assert_int_equal(decisions_expire(d, T0, 1000000), want);
    decisions_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_then_json),
        cmocka_unit_test(test_inputs_defaults),
        cmocka_unit_test(test_reason_round_trip),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_empty_analysis),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_log_rate_limit),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
