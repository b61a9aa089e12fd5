/*
 * Unit tests for metrics: the exact exposition lines of every family after
 * updates, cumulative histogram buckets with their sums and counts, label
 * escaping (quote, backslash, newline, bad UTF-8), expiry of ScaledObject
 * series (endpoint series stay), collectors, exact totals from concurrent
 * updates, and a small validator of the text format (line grammar, HELP and
 * TYPE before each family, families contiguous, no duplicate series,
 * histograms cumulative with _count equal to the +Inf bucket) run over
 * every render. A micro-benchmark prints the cost of metrics_rpc().
 *
 * SAT_METRICS_DUMP=<file> writes a fully populated render there, for a
 * by-hand check with `promtool check metrics < file`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------ */

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(&text, &len), ERR_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Whether line (without its newline) is a whole line of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
        p++;
    }
    return false;
}

static void expect_lines(const char *text, const char *const *lines, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!has_line(text, lines[i]))
            print_error("missing line: %s\nin:\n%s\n", lines[i], text);
        assert_true(has_line(text, lines[i]));
    }
}

static size_t count_prefix(const char *text, const char *prefix)
{
    size_t n = 0, k = strlen(prefix);
    const char *p = text;

    while (*p) {
        if (!strncmp(p, prefix, k))
            n++;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return n;
}

/* ---- a small exposition-format validator -------------------------------------- */

struct vfam {
    char name[128];
    char type[16];
    bool help, typed;
};

struct vstate {
    struct vfam fams[64];
    size_t n_fams;
    char **series;
    size_t n_series;
    /* current histogram series */
    char hist_key[512];
    double last_bucket;
    bool saw_inf;
    double inf_value;
};

static bool name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

static const char *parse_name(const char *p, bool colon)
{
    if (!name_char(*p, true, colon))
        return NULL;
    while (name_char(*p, false, colon))
        p++;
    return p;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static struct vfam *vfind(struct vstate *st, const char *name, size_t n)
{
    size_t i;
    for (i = 0; i < st->n_fams; i++)
        if (strlen(st->fams[i].name) == n && !memcmp(st->fams[i].name, name, n))
            return &st->fams[i];
    return NULL;
}

/* One sample line; returns an error message or NULL. */
static const char *vsample(struct vstate *st, const char *line, size_t len)
{
    const char *p = line, *end = line + len, *name_end, *labels_start, *labels_end;
    char le[64] = "", key[512], vbuf[64], *vend;
    struct vfam *cur = st->n_fams ? &st->fams[st->n_fams - 1] : NULL;
    double value;
    size_t base_len, i;

    name_end = parse_name(p, true);
    if (!name_end)
        return "bad metric name";
    p = name_end;
    labels_start = labels_end = p;
    if (*p == '{') {
        char seen[8][64];
        size_t n_seen = 0;
        p++;
        labels_start = p;
        while (*p != '}') {
            const char *ln = p, *ln_end = parse_name(p, false), *val;
            if (!ln_end || ln_end[0] != '=' || ln_end[1] != '"')
                return "bad label";
            if ((size_t)(ln_end - ln) >= sizeof(seen[0]) || n_seen == N_OF(seen))
                return "label name too long or too many labels";
            for (i = 0; i < n_seen; i++)
                if (strlen(seen[i]) == (size_t)(ln_end - ln) && !memcmp(seen[i], ln, ln_end - ln))
                    return "duplicate label";
            memcpy(seen[n_seen], ln, ln_end - ln);
            seen[n_seen++][ln_end - ln] = '\0';
            p = val = ln_end + 2;
            while (p < end && *p != '"') {
                if (*p == '\\') {
                    if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                        return "bad escape";
                    p++;
                } else if (*p == '\n') {
                    return "raw newline in label value";
                }
                p++;
            }
            if (p >= end)
                return "unterminated label value";
            if (ln_end - ln == 2 && !memcmp(ln, "le", 2)) {
                if ((size_t)(p - val) >= sizeof(le))
                    return "le too long";
                memcpy(le, val, p - val);
                le[p - val] = '\0';
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return "expected , or }";
        }
        labels_end = p;
        p++;
    }
    if (*p != ' ')
        return "expected a blank before the value";
    p++;
    if ((size_t)(end - p) >= sizeof(vbuf) || end == p)
        return "bad value length";
    memcpy(vbuf, p, end - p);
    vbuf[end - p] = '\0';
    if (!strcmp(vbuf, "+Inf"))
        value = INFINITY;
    else if (!strcmp(vbuf, "-Inf"))
        value = -INFINITY;
    else if (!strcmp(vbuf, "NaN"))
        return "NaN printed";
    else {
        value = strtod(vbuf, &vend);
        if (*vend || vend == vbuf || strchr(vbuf, 'n') || strchr(vbuf, 'N'))
            return "bad value";
    }

    /* Family membership. */
    if (!cur || !cur->help || !cur->typed)
        return "sample before HELP and TYPE";
    base_len = (size_t)(name_end - line);
    if (!strcmp(cur->type, "histogram")) {
        size_t flen = strlen(cur->name);
        if (base_len <= flen || memcmp(line, cur->name, flen))
            return "sample outside its histogram family";
        const char *suf = line + flen;
        size_t sl = base_len - flen;
        /* the series key: labels without le */
        snprintf(key, sizeof(key), "%.*s", (int)(labels_end - labels_start), labels_start);
        char *lp = strstr(key, "le=\"");
        if (lp) {
            if (lp > key && lp[-1] == ',')
                lp--;
            *lp = '\0';
        }
        if (sl == 7 && !memcmp(suf, "_bucket", 7)) {
            if (!*le)
                return "bucket without le";
            if (strcmp(key, st->hist_key) || st->saw_inf) {
                snprintf(st->hist_key, sizeof(st->hist_key), "%s", key);
                st->last_bucket = 0;
                st->saw_inf = false;
            }
            if (value < st->last_bucket)
                return "buckets not cumulative";
            st->last_bucket = value;
            if (!strcmp(le, "+Inf")) {
                st->saw_inf = true;
                st->inf_value = value;
            }
        } else if (sl == 4 && !memcmp(suf, "_sum", 4)) {
            if (!st->saw_inf || strcmp(key, st->hist_key))
                return "_sum before the +Inf bucket";
        } else if (sl == 6 && !memcmp(suf, "_count", 6)) {
            if (!st->saw_inf || strcmp(key, st->hist_key))
                return "_count before the +Inf bucket";
            if (value != st->inf_value)
                return "_count differs from the +Inf bucket";
        } else {
            return "bad histogram suffix";
        }
    } else {
        if (strlen(cur->name) != base_len || memcmp(line, cur->name, base_len))
            return "sample outside its family";
        if (!strcmp(cur->type, "counter") && !ends_with(line, base_len, "_total"))
            return "counter without _total";
        if (*le)
            return "le outside a histogram";
    }

    /* No duplicate series. */
    for (i = 0; i < st->n_series; i++)
        if (strlen(st->series[i]) == (size_t)(p - 1 - line) &&
            !memcmp(st->series[i], line, p - 1 - line))
            return "duplicate series";
    st->series = realloc(st->series, (st->n_series + 1) * sizeof(*st->series));
    assert_non_null(st->series);
    st->series[st->n_series] = strndup(line, p - 1 - line);
    assert_non_null(st->series[st->n_series]);
    st->n_series++;
    return NULL;
}

static const char *vcomment(struct vstate *st, const char *line, size_t len)
{
    bool help = len > 7 && !memcmp(line, "# HELP ", 7);
    bool type = len > 7 && !memcmp(line, "# TYPE ", 7);
    const char *name = line + 7, *name_end;
    struct vfam *f;

    if (!help && !type)
        return "unknown comment";
    name_end = parse_name(name, true);
    if (!name_end || *name_end != ' ')
        return "bad name in comment";
    f = vfind(st, name, name_end - name);
    if (help) {
        if (f)
            return "family repeated (HELP twice or not contiguous)";
        if (st->n_fams == N_OF(st->fams) || (size_t)(name_end - name) >= sizeof(f->name))
            return "too many families";
        f = &st->fams[st->n_fams++];
        memset(f, 0, sizeof(*f));
        memcpy(f->name, name, name_end - name);
        f->help = true;
        return NULL;
    }
    if (!f || f != &st->fams[st->n_fams - 1] || f->typed)
        return "TYPE not right after its HELP";
    const char *t = name_end + 1;
    size_t tl = (size_t)(line + len - t);
    if (!((tl == 7 && !memcmp(t, "counter", 7)) || (tl == 5 && !memcmp(t, "gauge", 5)) ||
          (tl == 9 && !memcmp(t, "histogram", 9))))
        return "bad type";
    memcpy(f->type, t, tl);
    f->typed = true;
    return NULL;
}

/* Check the whole text; fails the test with the line at fault. */
static void validate(const char *text)
{
    struct vstate *st = calloc(1, sizeof(*st));
    const char *p = text, *err = NULL;
    size_t i, lineno = 0;

    assert_non_null(st);
    assert_true(*text == '\0' || text[strlen(text) - 1] == '\n');
    while (*p && !err) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p);
        lineno++;
        if (!len)
            err = "empty line";
        else if (*p == '#')
            err = vcomment(st, p, len);
        else
            err = vsample(st, p, len);
        if (err)
            print_error("line %zu: %s: %.*s\n", lineno, err, (int)len, p);
        p = nl + 1;
    }
    for (i = 0; i < st->n_fams && !err; i++)
        if (!st->fams[i].typed)
            err = "family without TYPE";
    for (i = 0; i < st->n_series; i++)
        free(st->series[i]);
    free(st->series);
    free(st);
    assert_null(err);
}

static void test_validator_rejects(void **state)
{
    /* The validator itself must catch what it is for (run in a child
     * would be nicer; here we call the pieces that return messages). */
    static const char *const bad[] = {
        "x_total 1\n",                                                      /* no HELP/TYPE */
        "# HELP a_total h\n# TYPE a_total counter\na_total{l=\"\\q\"} 1\n", /* bad escape */
        "# HELP a h\n# TYPE a counter\na 1\n",           /* counter without _total */
        "# HELP a h\n# TYPE a gauge\na NaN\n",           /* NaN */
        "# HELP a h\n# TYPE a gauge\na 1\n# HELP a h\n", /* repeated family */
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n", /* duplicate series */
    };
    size_t i;
    (void)state;
    for (i = 0; i < N_OF(bad); i++) {
        struct vstate *st = calloc(1, sizeof(*st));
        const char *p = bad[i], *err = NULL;
        size_t k;
        assert_non_null(st);
        while (*p && !err) {
            const char *nl = strchr(p, '\n');
            size_t len = (size_t)(nl - p);
            err = *p == '#' ? vcomment(st, p, len) : vsample(st, p, len);
            p = nl + 1;
        }
        print_message("bad[%zu]: %s\n", i, err ? err : "(accepted!)");
        assert_non_null(err);
        for (k = 0; k < st->n_series; k++)
            free(st->series[k]);
        free(st->series);
        free(st);
    }
}

/* ---- fixtures ----------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    metrics_shutdown();
    return 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_labels_and_paths(void **state)
{
    static const struct {
        const char *path;
        enum metrics_method m;
        const char *label;
    } cases[] = {
        {"/externalscaler.ExternalScaler/IsActive", METRICS_METHOD_IS_ACTIVE, "IsActive"},
        {"/externalscaler.ExternalScaler/StreamIsActive", METRICS_METHOD_STREAM_IS_ACTIVE,
         "StreamIsActive"},
        {"/externalscaler.ExternalScaler/GetMetricSpec", METRICS_METHOD_GET_METRIC_SPEC,
         "GetMetricSpec"},
        {"/externalscaler.ExternalScaler/GetMetrics", METRICS_METHOD_GET_METRICS, "GetMetrics"},
        {"/externalscaler.ExternalScaler/StreamMetricSpec", METRICS_METHOD_STREAM_METRIC_SPEC,
         "StreamMetricSpec"},
        {"/grpc.health.v1.Health/Check", METRICS_METHOD_HEALTH_CHECK, "Health/Check"},
        {"/grpc.health.v1.Health/Watch", METRICS_METHOD_HEALTH_WATCH, "Health/Watch"},
        {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", METRICS_METHOD_REFLECTION,
         "ServerReflectionInfo"},
        {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
         METRICS_METHOD_REFLECTION, "ServerReflectionInfo"},
        {"/externalscaler.ExternalScaler/Nope", METRICS_METHOD_OTHER, "other"},
        {"", METRICS_METHOD_OTHER, "other"},
        {NULL, METRICS_METHOD_OTHER, "other"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < N_OF(cases); i++) {
        assert_int_equal(metrics_method_from_path(cases[i].path), cases[i].m);
        assert_string_equal(metrics_method_label(cases[i].m), cases[i].label);
    }
    assert_string_equal(metrics_code_label(0), "OK");
    assert_string_equal(metrics_code_label(3), "INVALID_ARGUMENT");
    assert_string_equal(metrics_code_label(12), "UNIMPLEMENTED");
    assert_string_equal(metrics_code_label(14), "UNAVAILABLE");
    assert_string_equal(metrics_code_label(16), "UNAUTHENTICATED");
    assert_string_equal(metrics_code_label(17), "");
    assert_string_equal(metrics_code_label(-1), "");
    assert_string_equal(metrics_outcome_label(METRICS_OUTCOME_NOT_FOUND), "not_found");
    assert_string_equal(metrics_method_label(METRICS_N_METHODS), "");
    assert_string_equal(metrics_family_name(METRICS_BUILD_INFO), "saturation_scaler_build_info");
    assert_string_equal(metrics_family_name(METRICS_N_FAMILIES), "");
}

static void test_empty(void **state)
{
    static const char *const lines[] = {
        "# HELP saturation_scaler_open_streams Open StreamIsActive and Health.Watch streams.",
        "# TYPE saturation_scaler_open_streams gauge",
        "saturation_scaler_open_streams 0",
        "# TYPE saturation_scaler_parked_requests gauge",
        "saturation_scaler_parked_requests 0",
        "# TYPE saturation_scaler_build_info gauge",
    };
    char *text;
    (void)state;
    text = render();
    expect_lines(text, lines, N_OF(lines));
    /* Families without a series say nothing, not even HELP. */
    assert_null(strstr(text, "rpcs_total"));
    assert_null(strstr(text, "desired_replicas"));
    assert_null(strstr(text, "prometheus_"));
    assert_non_null(strstr(text, "saturation_scaler_build_info{version=\"unknown\",compiler=\""));
    validate(text);
    free(text);

    char *p = (char *)1;
    size_t n = 5;
    assert_int_equal(metrics_render(NULL, &n), ERR_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(metrics_render(&p, NULL), ERR_INVALID);
    assert_null(p);
}

static void test_build_info(void **state)
{
    char *text;
    (void)state;
    assert_int_equal(metrics_init("1.2.3"), ERR_OK);
    text = render();
    assert_true(count_prefix(text, "saturation_scaler_build_info{version=\"1.2.3\",compiler=\"") ==
                1);
    assert_true(has_line(text, "# HELP saturation_scaler_build_info Build of the running "
                               "saturation-scaler; always 1."));
    validate(text);
    free(text);
    metrics_reset(); /* keeps build info */
    assert_int_equal(metrics_init("v\"2"), ERR_OK);
    text = render();
    assert_true(count_prefix(text, "saturation_scaler_build_info{version=\"v\\\"2\",") == 1);
    free(text);
}

static void test_rpc_counters(void **state)
{
    static const char *const lines[] = {
        "# HELP saturation_scaler_rpcs_total gRPC calls finished, by method and status code.",
        "# TYPE saturation_scaler_rpcs_total counter",
        "saturation_scaler_rpcs_total{method=\"IsActive\",code=\"OK\"} 2",
        "saturation_scaler_rpcs_total{method=\"GetMetrics\",code=\"UNAVAILABLE\"} 1",
        "saturation_scaler_rpcs_total{method=\"Health/Check\",code=\"OK\"} 1",
        "saturation_scaler_rpcs_total{method=\"other\",code=\"UNKNOWN\"} 1",
        "saturation_scaler_rpcs_total{method=\"other\",code=\"UNIMPLEMENTED\"} 1",
        "saturation_scaler_rpcs_total{method=\"StreamMetricSpec\",code=\"UNIMPLEMENTED\"} 1",
        "# TYPE saturation_scaler_stream_messages_total counter",
        "saturation_scaler_stream_messages_total{value=\"false\"} 1",
        "saturation_scaler_stream_messages_total{value=\"true\"} 3",
        "saturation_scaler_open_streams 2",
        "saturation_scaler_parked_requests 7",
        "# TYPE saturation_scaler_kube_reads_total counter",
        "saturation_scaler_kube_reads_total{outcome=\"ok\"} 2",
        "saturation_scaler_kube_reads_total{outcome=\"not_found\"} 1",
        "saturation_scaler_kube_reads_total{outcome=\"error\"} 1",
    };
    char *text;
    int i;
    (void)state;
    metrics_rpc(METRICS_METHOD_IS_ACTIVE, 0, 0.0003);
    metrics_rpc(METRICS_METHOD_IS_ACTIVE, 0, 0.0004);
    metrics_rpc(METRICS_METHOD_GET_METRICS, 14, 0.02);
    metrics_rpc(METRICS_METHOD_HEALTH_CHECK, 0, 0);
    metrics_rpc((enum metrics_method) - 1, 99, 0.001); /* other, UNKNOWN */
    metrics_rpc(METRICS_METHOD_OTHER, 12, NAN);
    metrics_rpc(METRICS_METHOD_STREAM_METRIC_SPEC, 12, -1);
    for (i = 0; i < 3; i++)
        metrics_stream_message(true);
    metrics_stream_message(false);
    metrics_open_streams_add(3);
    metrics_open_streams_add(-1);
    metrics_parked_set(5);
    metrics_parked_add(2);
    metrics_kube_read(METRICS_OUTCOME_OK);
    metrics_kube_read(METRICS_OUTCOME_OK);
    metrics_kube_read(METRICS_OUTCOME_NOT_FOUND);
    metrics_kube_read((enum metrics_outcome)42); /* error */
    text = render();
    expect_lines(text, lines, N_OF(lines));
    /* zero series stay out */
    assert_null(strstr(text, "code=\"CANCELLED\""));
    assert_null(strstr(text, "outcome=\"timeout\""));
    assert_int_equal(count_prefix(text, "saturation_scaler_rpcs_total{"), 6);
    /* HELP/TYPE exactly once per family */
    assert_int_equal(count_prefix(text, "# TYPE saturation_scaler_rpcs_total "), 1);
    assert_int_equal(count_prefix(text, "# HELP saturation_scaler_rpc_duration_seconds "), 1);
    validate(text);
    free(text);

    metrics_open_streams_set(0);
    metrics_reset();
    text = render();
    assert_null(strstr(text, "rpcs_total"));
    assert_true(has_line(text, "saturation_scaler_parked_requests 0"));
    free(text);
}

static void test_rpc_histogram(void **state)
{
    /* 0.0001 sits exactly on a bound (le is inclusive), 0.003 twice, 20 in
     * +Inf only; sum 20.0061 s, kept in whole nanoseconds. */
    static const double obs[] = {0.0001, 0.003, 0.003, 20};
    static const char *const lines[] = {
        ("# HELP saturation_scaler_rpc_duration_seconds Time from a gRPC call's arrival to its "
         "status (streams: their lifetime), by method."),
        "# TYPE saturation_scaler_rpc_duration_seconds histogram",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"0.0001\"} 1",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"0.00025\"} 1",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"0.0025\"} 1",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"0.005\"} 3",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"1\"} 3",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"10\"} 3",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"GetMetrics\",le=\"+Inf\"} 4",
        "saturation_scaler_rpc_duration_seconds_sum{method=\"GetMetrics\"} 20.0061",
        "saturation_scaler_rpc_duration_seconds_count{method=\"GetMetrics\"} 4",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"IsActive\",le=\"0.0005\"} 0",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"IsActive\",le=\"0.001\"} 1",
        "saturation_scaler_rpc_duration_seconds_sum{method=\"IsActive\"} 0.001",
        "saturation_scaler_rpc_duration_seconds_count{method=\"IsActive\"} 1",
    };
    char *text;
    size_t i;
    (void)state;
    for (i = 0; i < N_OF(obs); i++)
        metrics_rpc(METRICS_METHOD_GET_METRICS, i == 3 ? 4 : 0, obs[i]);
    metrics_rpc(METRICS_METHOD_IS_ACTIVE, 0, 0.001);
    text = render();
    expect_lines(text, lines, N_OF(lines));
    /* 16 bounds + Inf per method */
    assert_int_equal(count_prefix(text, "saturation_scaler_rpc_duration_seconds_bucket{"), 2 * 17);
    /* methods without calls have no histogram */
    assert_null(strstr(text, "_bucket{method=\"Health/Check\""));
    validate(text);
    free(text);
}

struct ages {
    int calls;
};

static void collect_ages(void *arg)
{
    struct ages *a = arg;
    a->calls++;
    metrics_snapshot_age_set("default", 3.5);
    metrics_snapshot_age_set("thanos", NAN); /* no snapshot yet: hidden */
    metrics_snapshot_age_set("never", -1);   /* hidden and not created */
    metrics_parked_set(4);
}

static void test_prometheus(void **state)
{
    static const char *const lines[] = {
        "# HELP saturation_scaler_prometheus_queries_total Prometheus queries sent, by endpoint "
        "and outcome.",
        "# TYPE saturation_scaler_prometheus_queries_total counter",
        "saturation_scaler_prometheus_queries_total{endpoint=\"default\",outcome=\"ok\"} 2",
        "saturation_scaler_prometheus_queries_total{endpoint=\"default\",outcome=\"error\"} 1",
        "saturation_scaler_prometheus_queries_total{endpoint=\"thanos\",outcome=\"timeout\"} 1",
        "# TYPE saturation_scaler_prometheus_query_duration_seconds histogram",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"default\","
        "le=\"0.1\"} 1",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"default\","
        "le=\"0.25\"} 2",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"default\","
        "le=\"2.5\"} 3",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"default\","
        "le=\"+Inf\"} 3",
        "saturation_scaler_prometheus_query_duration_seconds_sum{endpoint=\"default\"} 1.75",
        "saturation_scaler_prometheus_query_duration_seconds_count{endpoint=\"default\"} 3",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"thanos\","
        "le=\"60\"} 0",
        "saturation_scaler_prometheus_query_duration_seconds_bucket{endpoint=\"thanos\","
        "le=\"+Inf\"} 1",
        "saturation_scaler_prometheus_query_duration_seconds_sum{endpoint=\"thanos\"} 75",
        "# TYPE saturation_scaler_prometheus_response_bytes_total counter",
        "saturation_scaler_prometheus_response_bytes_total{endpoint=\"default\"} 12345678901",
        "saturation_scaler_prometheus_response_bytes_total{endpoint=\"thanos\"} 0",
        "# TYPE saturation_scaler_snapshot_age_seconds gauge",
        "saturation_scaler_snapshot_age_seconds{endpoint=\"default\"} 3.5",
        "saturation_scaler_parked_requests 4",
    };
    struct ages a = {0};
    char *text;
    (void)state;
    metrics_prom_query("default", METRICS_OUTCOME_OK, 0.1, 12345678000u);
    metrics_prom_query("default", METRICS_OUTCOME_OK, 0.15, 901);
    metrics_prom_query("default", METRICS_OUTCOME_ERROR, 1.5, 0);
    metrics_prom_query("thanos", METRICS_OUTCOME_TIMEOUT, 75, 0);
    metrics_prom_query(NULL, METRICS_OUTCOME_OK, 1, 1); /* ignored */
    assert_int_equal(metrics_add_collector(collect_ages, &a), ERR_OK);
    text = render();
    assert_int_equal(a.calls, 1);
    expect_lines(text, lines, N_OF(lines));
    assert_null(strstr(text, "endpoint=\"never\""));
    assert_null(strstr(text, "snapshot_age_seconds{endpoint=\"thanos\""));
    /* endpoints sorted: default before thanos */
    assert_true(strstr(text, "queries_total{endpoint=\"default\"") <
                strstr(text, "queries_total{endpoint=\"thanos\""));
    validate(text);
    free(text);

    /* once removed, a collector never runs again */
    metrics_remove_collector(collect_ages, &a);
    text = render();
    assert_int_equal(a.calls, 1);
    free(text);
}

static void noop_collector(void *arg)
{
    (*(int *)arg)++;
}

static void test_collectors(void **state)
{
    int calls[METRICS_MAX_COLLECTORS + 1] = {0};
    size_t i;
    char *text;
    (void)state;
    assert_int_equal(metrics_add_collector(NULL, NULL), ERR_INVALID);
    for (i = 0; i < METRICS_MAX_COLLECTORS; i++)
        assert_int_equal(metrics_add_collector(noop_collector, &calls[i]), ERR_OK);
    assert_int_equal(metrics_add_collector(noop_collector, &calls[i]), ERR_INVALID);
    metrics_remove_collector(noop_collector, &calls[2]);
    metrics_remove_collector(noop_collector, &calls[METRICS_MAX_COLLECTORS]); /* not there */
    text = render();
    free(text);
    for (i = 0; i < METRICS_MAX_COLLECTORS; i++)
        assert_int_equal(calls[i], i == 2 ? 0 : 1);
    metrics_reset(); /* drops collectors */
    text = render();
    free(text);
    assert_int_equal(calls[0], 1);
}

static struct metrics_scaledobject_values so_values(int64_t desired, int64_t current, int64_t pods,
                                                    int active, double kv, double queue)
{
    struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
    v.desired_replicas = desired;
    v.current_replicas = current;
    v.model_pods = pods;
    v.active = active;
    v.avg_spare_kv = kv;
    v.avg_spare_queue = queue;
    return v;
}

static void test_scaledobjects(void **state)
{
#define L "{namespace=\"prod\",scaledobject=\"granite\",model=\"ibm/granite-13b\"}"
#define L2 "{namespace=\"dev\",scaledobject=\"llama\",model=\"meta/llama-3\"}"
    static const char *const lines[] = {
        "# HELP saturation_scaler_desired_replicas Replicas last asked for per ScaledObject "
        "(the GetMetrics value).",
        "# TYPE saturation_scaler_desired_replicas gauge",
        "saturation_scaler_desired_replicas" L " 3",
        "# TYPE saturation_scaler_current_replicas gauge",
        "saturation_scaler_current_replicas" L " 2",
        "# TYPE saturation_scaler_model_pods gauge",
        "saturation_scaler_model_pods" L " 2",
        "saturation_scaler_model_pods" L2 " 0",
        "# TYPE saturation_scaler_active gauge",
        "saturation_scaler_active" L " 1",
        "saturation_scaler_active" L2 " 0",
        "# TYPE saturation_scaler_avg_spare_kv_cache_ratio gauge",
        "saturation_scaler_avg_spare_kv_cache_ratio" L " 0.1",
        "# TYPE saturation_scaler_avg_spare_queue_length gauge",
        "saturation_scaler_avg_spare_queue_length" L " 2.5",
    };
    struct metrics_scaledobject_values v;
    char *text;
    (void)state;
    /* first GetMetrics, then an IsActive that knows `active` only */
    v = so_values(3, 2, 2, -1, 0.30000000000000004 - 0.2, 2.5);
    metrics_scaledobject("prod", "granite", "ibm/granite-13b", &v, 1000);
    v = so_values(-1, -1, -1, 1, NAN, NAN);
    metrics_scaledobject("prod", "granite", "ibm/granite-13b", &v, 2000);
    /* a mistyped model: only pods (0) and active known */
    v = so_values(-1, -1, 0, 0, NAN, NAN);
    metrics_scaledobject("dev", "llama", "meta/llama-3", &v, 2000);
    metrics_scaledobject(NULL, "x", "y", &v, 2000);  /* ignored */
    metrics_scaledobject("a", "x", "y", NULL, 2000); /* ignored */
    text = render();
    /* 0.30000000000000004 - 0.2 is not 0.1; printed round-trip exact */
    {
        char want[256];
        snprintf(want, sizeof(want), "saturation_scaler_avg_spare_kv_cache_ratio" L " %s",
                 "0.10000000000000003");
        assert_true(has_line(text, want));
    }
    expect_lines(text, lines + 2, 5);
    expect_lines(text, lines + 7, 4);
    expect_lines(text, lines + 13, 2);
    /* unknown values are left out, never NaN */
    assert_null(strstr(text, "NaN"));
    assert_null(strstr(text, "desired_replicas" L2));
    assert_null(strstr(text, "avg_spare_queue_length" L2));
    /* sorted: dev before prod */
    assert_true(strstr(text, "model_pods" L2) < strstr(text, "model_pods" L));
    validate(text);
    free(text);

    v = so_values(3, 2, 2, 1, 0.1, 2.5);
    metrics_scaledobject("prod", "granite", "ibm/granite-13b", &v, 3000);
    text = render();
    expect_lines(text, lines, N_OF(lines));
    free(text);
#undef L
#undef L2
}

static void test_escaping(void **state)
{
    static const char *const lines[] = {
        "saturation_scaler_active{namespace=\"a\\\"b\",scaledobject=\"c\\\\d\","
        "model=\"e\\nf\"} 1",
        /* each byte of bad UTF-8 (a lone continuation byte, a truncated
         * sequence) becomes U+FFFD; good multi-byte text passes through */
        "saturation_scaler_active{namespace=\"x\xEF\xBF\xBDy\",scaledobject=\"\xC3\xA9t\xC3\xA9\","
        "model=\"z\xEF\xBF\xBD\xEF\xBF\xBD\"} 0",
        "saturation_scaler_prometheus_response_bytes_total{endpoint=\"q\\\"\\\\\\n\"} 1",
    };
    struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
    char *text;
    (void)state;
    v.active = 1;
    metrics_scaledobject("a\"b", "c\\d", "e\nf", &v, 0);
    v.active = 0;
    metrics_scaledobject("x\x80y", "\xC3\xA9t\xC3\xA9", "z\xE2\x82", &v, 0);
    metrics_prom_query("q\"\\\n", METRICS_OUTCOME_OK, 0.01, 1);
    text = render();
    expect_lines(text, lines, N_OF(lines));
    validate(text);
    free(text);
}

static void test_expire(void **state)
{
    struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
    char *text;
    (void)state;
    v.desired_replicas = 1;
    metrics_scaledobject("ns", "old", "m", &v, 1000);
    metrics_scaledobject("ns", "new", "m", &v, 5000);
    metrics_scaledobject("ns", "edge", "m", &v, 4000);
    metrics_prom_query("default", METRICS_OUTCOME_OK, 0.01, 10);
    metrics_snapshot_age_set("default", 1);

    assert_int_equal(metrics_expire(7000, -1), 0);
    /* ttl 3000 at 7000: dropped when last update < 4000 */
    assert_int_equal(metrics_expire(7000, 3000), 1);
    text = render();
    assert_null(strstr(text, "scaledobject=\"old\""));
    assert_non_null(strstr(text, "scaledobject=\"new\""));
    assert_non_null(strstr(text, "scaledobject=\"edge\""));
    assert_true(has_line(text, "saturation_scaler_snapshot_age_seconds{endpoint=\"default\"} 1"));
    free(text);

    /* an update refreshes the series */
    metrics_scaledobject("ns", "edge", "m", &v, 9000);
    assert_int_equal(metrics_expire(11000, 3000), 1); /* new (5000) goes */
    assert_int_equal(metrics_expire(100000, 0), 1);   /* edge goes */
    text = render();
    assert_null(strstr(text, "desired_replicas"));
    assert_null(strstr(text, "# HELP saturation_scaler_desired_replicas"));
    /* endpoint series never expire */
    assert_non_null(strstr(text, "prometheus_queries_total{endpoint=\"default\""));
    validate(text);
    free(text);
    assert_int_equal(metrics_expire(INT64_MIN, 5), 0); /* cutoff would underflow */
}

static void test_many_series(void **state)
{
    struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
    char name[32], *text;
    int i;
    (void)state;
    /* enough to grow every shard's table several times */
    v.current_replicas = 1;
    for (i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "so-%d", i);
        metrics_scaledobject("ns", name, "m", &v, i);
    }
    for (i = 0; i < 5000; i += 2) { /* update, not duplicate */
        snprintf(name, sizeof(name), "so-%d", i);
        metrics_scaledobject("ns", name, "m", &v, 10000 + i);
    }
    text = render();
    assert_int_equal(count_prefix(text, "saturation_scaler_current_replicas{"), 5000);
    validate(text);
    free(text);
    assert_int_equal(metrics_expire(10000, 0), 2500); /* the odd ones */
    text = render();
    assert_int_equal(count_prefix(text, "saturation_scaler_current_replicas{"), 2500);
    free(text);

    /* endpoints are capped */
    for (i = 0; i < METRICS_MAX_ENDPOINTS + 10; i++) {
        snprintf(name, sizeof(name), "ep-%d", i);
        metrics_prom_query(name, METRICS_OUTCOME_OK, 0.01, 1);
    }
    text = render();
    assert_int_equal(count_prefix(text, "saturation_scaler_prometheus_response_bytes_total{"),
                     METRICS_MAX_ENDPOINTS);
    free(text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define N_THREADS 4
#define PER_THREAD 100000

static void *rpc_worker(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < PER_THREAD; i++)
        metrics_rpc(METRICS_METHOD_IS_ACTIVE, 0, 0.001);
    return NULL;
}

static void test_concurrent_rpc(void **state)
{
    static const char *const lines[] = {
        "saturation_scaler_rpcs_total{method=\"IsActive\",code=\"OK\"} 400000",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"IsActive\",le=\"0.0005\"} 0",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"IsActive\",le=\"0.001\"} 400000",
        "saturation_scaler_rpc_duration_seconds_bucket{method=\"IsActive\",le=\"+Inf\"} 400000",
        "saturation_scaler_rpc_duration_seconds_sum{method=\"IsActive\"} 400",
        "saturation_scaler_rpc_duration_seconds_count{method=\"IsActive\"} 400000",
    };
    pthread_t th[N_THREADS];
    double t0, t1;
    char *text;
    int i;
    (void)state;
    t0 = now_s();
    for (i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, rpc_worker, NULL), 0);
    for (i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    t1 = now_s();
    print_message("metrics_rpc, %d threads: %.1f ns per call (wall / total calls)\n", N_THREADS,
                  (t1 - t0) * 1e9 / (N_THREADS * PER_THREAD));
    text = render();
    expect_lines(text, lines, N_OF(lines));
    validate(text);
    free(text);
}

static void test_bench_rpc(void **state)
{
    const int n = 2000000;
    double t0, t1;
    int i;
    (void)state;
    t0 = now_s();
    for (i = 0; i < n; i++)
        metrics_rpc((enum metrics_method)(i & 3), i & 1 ? 0 : 14, 0.0002 * (i & 7));
    t1 = now_s();
    print_message("metrics_rpc, 1 thread: %.1f ns per call\n", (t1 - t0) * 1e9 / n);
    t0 = now_s();
    for (i = 0; i < 100000; i++) {
        struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
        char name[32];
        v.desired_replicas = i;
        snprintf(name, sizeof(name), "so-%d", i & 255);
        metrics_scaledobject("ns", name, "m", &v, i);
    }
    t1 = now_s();
    print_message("metrics_scaledobject, 1 thread, 256 series: %.1f ns per call\n",
                  (t1 - t0) * 1e9 / 100000);
}

/* Everything at once: updates of every kind, expiry and renders (each
 * validated) race; bounded loops. Meant for the ASan/UBSan (and TSan) builds. */
static _Atomic int stress_stop;

static void *stress_updater(void *arg)
{
    int id = (int)(intptr_t)arg, i;
    char name[32];
    for (i = 0; i < 20000; i++) {
        struct metrics_scaledobject_values v = so_values(i % 7, i % 5, 3, i & 1, 0.5, 1.5);
        snprintf(name, sizeof(name), "so-%d-%d", id, i % 300);
        metrics_scaledobject("ns", name, "m", &v, i);
        metrics_rpc((enum metrics_method)(i % METRICS_N_METHODS), i % METRICS_N_CODES, 1e-4 * i);
        metrics_stream_message(i & 1);
        metrics_open_streams_add(i & 1 ? 1 : -1);
        if (i % 50 == 0) {
            snprintf(name, sizeof(name), "ep-%d", i % 3);
            metrics_prom_query(name, (enum metrics_outcome)(i % 3), 0.05, 100);
            metrics_kube_read(METRICS_OUTCOME_OK);
        }
        if (i % 1000 == 0)
            metrics_expire(i, 500);
    }
    return NULL;
}

static void stress_collect(void *arg)
{
    (void)arg;
    metrics_snapshot_age_set("ep-1", 2);
}

static void *stress_renderer(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 30 && !stress_stop; i++) {
        char *text = render();
        validate(text);
        free(text);
    }
    return NULL;
}

static void test_stress(void **state)
{
    pthread_t up[3], rd;
    int i;
    (void)state;
    stress_stop = 0;
    assert_int_equal(metrics_add_collector(stress_collect, NULL), ERR_OK);
    assert_int_equal(pthread_create(&rd, NULL, stress_renderer, NULL), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&up[i], NULL, stress_updater, (void *)(intptr_t)i), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_join(up[i], NULL), 0);
    stress_stop = 1;
    assert_int_equal(pthread_join(rd, NULL), 0);
    char *text = render();
    assert_true(has_line(text, "saturation_scaler_stream_messages_total{value=\"true\"} 30000"));
    assert_true(has_line(text, "saturation_scaler_open_streams 0"));
    assert_true(has_line(text, "saturation_scaler_kube_reads_total{outcome=\"ok\"} 1200"));
    validate(text);
    free(text);
}

/* Every family populated: validated here, and dumped for promtool. */
static void test_full_render(void **state)
{
    struct metrics_scaledobject_values v = so_values(4, 3, 3, 1, 0.125, 1.5);
    const char *dump = getenv("SAT_METRICS_DUMP");
    char *text;
    size_t f;
    (void)state;
    assert_int_equal(metrics_init("0.1.0"), ERR_OK);
    metrics_rpc(METRICS_METHOD_IS_ACTIVE, 0, 0.0002);
    metrics_rpc(METRICS_METHOD_STREAM_IS_ACTIVE, 1, 42);
    metrics_rpc(METRICS_METHOD_GET_METRICS, 0, 0.004);
    metrics_rpc(METRICS_METHOD_STREAM_METRIC_SPEC, 12, 0.00001);
    metrics_open_streams_add(1);
    metrics_stream_message(true);
    metrics_stream_message(false);
    metrics_prom_query("default", METRICS_OUTCOME_OK, 0.03, 2048);
    metrics_prom_query("default", METRICS_OUTCOME_ERROR, 5, 0);
    metrics_snapshot_age_set("default", 12.25);
    metrics_parked_set(1);
    metrics_kube_read(METRICS_OUTCOME_OK);
    metrics_kube_read(METRICS_OUTCOME_NOT_FOUND);
    metrics_scaledobject("prod", "granite", "ibm/granite-13b", &v, 1);
    v = so_values(0, 0, 0, 0, 0, 0);
    metrics_scaledobject("dev", "weird\"name", "a\\b\nc", &v, 1);
    text = render();
    validate(text);
    for (f = 0; f < METRICS_N_FAMILIES; f++) {
        char want[128];
        snprintf(want, sizeof(want), "# TYPE %s ", metrics_family_name((enum metrics_family)f));
        assert_int_equal(count_prefix(text, want), 1);
    }
    if (dump) {
        FILE *fp = fopen(dump, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects),
        cmocka_unit_test_setup_teardown(test_labels_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prometheus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scaledobjects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_rpc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_rpc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_render, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
