/*
 * Unit tests for promql: escaping, durations, scopes, the saturation, idle,
 * flow-control and activation queries, and the POST form body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "promql.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define WHY_LEN 512

#define LBL "namespace, model_name, pod, pod_name, instance, llm_d_ai_variant"

/* The saturation query shape with selector SEL and window W. */
#define SAT_Q(M, SEL, W)                                                                           \
    "max by (" LBL ") (max_over_time(" M "{" SEL "}[" W "])) and on (" LBL ") " M "{" SEL "}"

static size_t count_substr(const char *s, const char *sub)
{
    size_t n = 0, len = strlen(sub);

    for (s = strstr(s, sub); s != NULL; s = strstr(s + len, sub))
        n++;
    return n;
}

static void test_escape_string(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"granite-3.1", "granite-3.1"},
        {"", ""},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"\\\"", "\\\\\\\""},
        {"line\nbreak", "line\\nbreak"},
        {"tab\there", "tab\\there"},
        {"cr\r", "cr\\r"},
        {"\a\b\f\v", "\\a\\b\\f\\v"},
        {"\x01x\x1f", "\\x01x\\x1f"},
        {"del\x7f", "del\\x7f"},
        {"it's", "it's"},                             /* \' is not valid inside "..." */
        {"a|b x.* (y) [z] ^$", "a|b x.* (y) [z] ^$"}, /* no regex escaping here */
        {"mod\xc3\xa8le-\xe6\x97\xa5\xf0\x9f\x98\x80",
         "mod\xc3\xa8le-\xe6\x97\xa5\xf0\x9f\x98\x80"},
        {"\xff", "\\xff"},                            /* invalid UTF-8: byte escapes */
        {"a\xc3", "a\\xc3"},                          /* truncated sequence */
        {"\xc0\xaf", "\\xc0\\xaf"},                   /* overlong '/' */
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},          /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"x\xef\xbf\xbdy", "x\\uFFFDy"},              /* U+FFFD: the lexer's RuneError */
    };
    char buf[128];
    size_t i, n;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        n = promql_escape_string(cases[i].in, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        assert_int_equal(promql_escape_string(cases[i].in, NULL, 0), n);
    }
    /* NULL is "" */
    assert_int_equal(promql_escape_string(NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    /* snprintf-style truncation */
    n = promql_escape_string("a\"bc", buf, 4);
    assert_int_equal(n, 5);
    assert_string_equal(buf, "a\\\"");
    n = promql_escape_string("abc", buf, 1);
    assert_int_equal(n, 3);
    assert_string_equal(buf, "");
}

static void test_escape_regex(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"granite-3.1", "granite-3\\.1"},
        {"a|b", "a\\|b"},
        {"x.*", "x\\.\\*"},
        {"(y)", "\\(y\\)"},
        {"[z]", "\\[z\\]"},
        {"^$", "\\^\\$"},
        {"{1,2}", "\\{1,2\\}"},
        {"a+b?", "a\\+b\\?"},
        {"c\\d", "c\\\\d"},
        {"meta-llama/Llama-3-8B_v0~x", "meta-llama/Llama-3-8B_v0~x"},
        {"\xc3\xbcn\xc3\xaf", "\xc3\xbcn\xc3\xaf"},
        {"q\"", "q\""}, /* quotes are the string escaper's business */
    };
    char buf[128];
    size_t i, n;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        n = promql_escape_regex(cases[i].in, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    n = promql_escape_regex("a.b", buf, 3);
    assert_int_equal(n, 4);
    assert_string_equal(buf, "a\\");
}

static void test_label_value_ok(void **state)
{
    (void)state;
    assert_true(promql_label_value_ok("granite-3.1"));
    assert_true(promql_label_value_ok("\xe6\x97\xa5\xf0\x9f\x98\x80"));
    assert_true(promql_label_value_ok("a\nb")); /* escaped, not refused */
    assert_true(promql_label_value_ok("\xef\xbf\xbd"));
    assert_false(promql_label_value_ok(NULL));
    assert_false(promql_label_value_ok(""));
    assert_false(promql_label_value_ok("\xff"));
    assert_false(promql_label_value_ok("ab\xe6\x97"));
    assert_false(promql_label_value_ok("\xe0\x80\xaf"));
    assert_false(promql_label_value_ok("\xed\xbf\xbf"));
}

static void test_format_duration(void **state)
{
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {
        {60000, "1m"},     {90000, "90s"},   {1500, "1500ms"},       {3600000, "1h"},
        {86400000, "24h"}, {5400000, "90m"}, {1000, "1s"},           {1, "1ms"},
        {0, "0s"},         {-5, "0s"},       {2592000000LL, "720h"}, {61001, "61001ms"},
    };
    char buf[PROMQL_DURATION_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        assert_int_equal(promql_format_duration(cases[i].ms, buf, sizeof(buf)), strlen(cases[i].s));
        assert_string_equal(buf, cases[i].s);
    }
    assert_int_equal(promql_format_duration(INT64_MAX, buf, sizeof(buf)), 21);
    assert_string_equal(buf, "9223372036854775807ms");
    assert_int_equal(promql_format_duration(1500, buf, 3), 6);
    assert_string_equal(buf, "15");
}

static void test_metric_names(void **state)
{
    (void)state;
    assert_string_equal(promql_metric_name(META_ENGINE_VLLM, PROMQL_KV_CACHE),
                        "vllm:kv_cache_usage_perc");
    assert_string_equal(promql_metric_name(META_ENGINE_VLLM, PROMQL_QUEUE),
                        "vllm:num_requests_waiting");
    assert_string_equal(promql_metric_name(META_ENGINE_VLLM, PROMQL_REQUESTS),
                        "vllm:request_success_total");
    assert_string_equal(promql_metric_name(META_ENGINE_SGLANG, PROMQL_KV_CACHE),
                        "sglang:token_usage");
    assert_string_equal(promql_metric_name(META_ENGINE_SGLANG, PROMQL_QUEUE),
                        "sglang:num_queue_reqs");
    assert_string_equal(promql_metric_name(META_ENGINE_SGLANG, PROMQL_REQUESTS),
                        "sglang:num_requests_total");
    assert_null(promql_metric_name((enum meta_engine)7, PROMQL_KV_CACHE));
    assert_null(promql_metric_name(META_ENGINE_VLLM, (enum promql_metric)9));
}

static void test_scope_errors(void **state)
{
    static const char *const ok[] = {"prod"};
    static const char *const empty[] = {"a", ""};
    static const char *const null_entry[] = {NULL};
    static const char *const bad_utf8[] = {"ok", "ok", "m\xff"};
    static const struct {
        const char *const *ns;
        size_t n_ns;
        const char *const *models;
        size_t n_models;
        const char *why;
    } cases[] = {
        {NULL, 0, ok, 1, "namespaces: at least one is needed"},
        {ok, 1, ok, 0, "models: at least one is needed"},
        {ok, 1, NULL, 3, "models: at least one is needed"},
        {empty, 2, ok, 1, "namespaces[1]: \"\" must be a non-empty string"},
        {ok, 1, null_entry, 1, "models[0]: (null) must be a non-empty string"},
        {ok, 1, bad_utf8, 3, "models[2]: \"m\\xff\" is not valid UTF-8"},
    };
    struct promql_scope *s;
    char why[WHY_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        s = (struct promql_scope *)1;
        assert_int_equal(promql_scope_new(cases[i].ns, cases[i].n_ns, cases[i].models,
                                          cases[i].n_models, &s, why, sizeof(why)),
                         ERR_INVALID);
        assert_null(s);
        assert_string_equal(why, cases[i].why);
    }
    assert_int_equal(promql_scope_new(ok, 1, ok, 1, NULL, why, sizeof(why)), ERR_INVALID);
    assert_int_equal(promql_scope_namespace_count(NULL), 0);
    assert_int_equal(promql_scope_model_count(NULL), 0);
    promql_scope_free(NULL);
}

struct query_case {
    enum meta_engine engine;
    enum promql_metric metric;
    int64_t window_ms;
    const char *const *ns;
    size_t n_ns;
    const char *const *models;
    size_t n_models;
    const char *want;
};

static const char *const ns_one[] = {"prod"};
static const char *const ns_many[] = {"team-b", "prod", "team-b", "team.a"};
static const char *const model_one[] = {"granite-3.1"};
static const char *const model_quote[] = {"we\"ird\\id\n"};
static const char *const model_many[] = {"x.*", "a|b", "granite-3.1", "(y)",
                                         "[z]", "^$",  "a|b",         "q\"t"};

static void test_saturation_query(void **state)
{
    static const struct query_case cases[] = {
        {META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, ns_one, 1, model_one, 1,
         SAT_Q("vllm:kv_cache_usage_perc", "namespace=\"prod\", model_name=\"granite-3.1\"", "1m")},
        {META_ENGINE_VLLM, PROMQL_QUEUE, 90000, ns_one, 1, model_one, 1,
         SAT_Q("vllm:num_requests_waiting", "namespace=\"prod\", model_name=\"granite-3.1\"",
               "90s")},
        {META_ENGINE_SGLANG, PROMQL_KV_CACHE, 1500, ns_one, 1, model_one, 1,
         SAT_Q("sglang:token_usage", "namespace=\"prod\", model_name=\"granite-3.1\"", "1500ms")},
        {META_ENGINE_SGLANG, PROMQL_QUEUE, 3600000, ns_one, 1, model_one, 1,
         SAT_Q("sglang:num_queue_reqs", "namespace=\"prod\", model_name=\"granite-3.1\"", "1h")},
        /* one model: equality, string escaping only */
        {META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, ns_one, 1, model_quote, 1,
         SAT_Q("vllm:kv_cache_usage_perc", "namespace=\"prod\", model_name=\"we\\\"ird\\\\id\\n\"",
               "1m")},
        /* several: sorted, deduplicated, regex- then string-escaped */
        {META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, ns_many, 4, model_one, 1,
         SAT_Q("vllm:kv_cache_usage_perc",
               "namespace=~\"prod|team-b|team\\\\.a\", model_name=\"granite-3.1\"", "1m")},
        {META_ENGINE_SGLANG, PROMQL_QUEUE, 90000, ns_many, 4, model_many, 8,
         SAT_Q("sglang:num_queue_reqs",
               "namespace=~\"prod|team-b|team\\\\.a\", model_name=~\"\\\\(y\\\\)|\\\\[z\\\\]|"
               "\\\\^\\\\$|a\\\\|b|granite-3\\\\.1|q\\\"t|x\\\\.\\\\*\"",
               "90s")},
    };
    struct promql_scope *s;
    char why[WHY_LEN], *q;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(promql_scope_new(cases[i].ns, cases[i].n_ns, cases[i].models,
                                          cases[i].n_models, &s, why, sizeof(why)),
                         ERR_OK);
        assert_int_equal(promql_saturation_query(s, cases[i].engine, cases[i].metric,
                                                 cases[i].window_ms, &q, why, sizeof(why)),
                         ERR_OK);
        assert_string_equal(q, cases[i].want);
        free(q);
        promql_scope_free(s);
    }

    /* dedup counts */
    assert_int_equal(promql_scope_new(ns_many, 4, model_many, 8, &s, why, sizeof(why)), ERR_OK);
    assert_int_equal(promql_scope_namespace_count(s), 3);
    assert_int_equal(promql_scope_model_count(s), 7);

    /* argument errors */
    q = (char *)1;
    assert_int_equal(
        promql_saturation_query(s, META_ENGINE_VLLM, PROMQL_KV_CACHE, 0, &q, why, sizeof(why)),
        ERR_INVALID);
    assert_null(q);
    assert_string_equal(why, "window: must be > 0 ms, got 0");
    assert_int_equal(
        promql_saturation_query(s, META_ENGINE_VLLM, PROMQL_REQUESTS, 60000, &q, why, sizeof(why)),
        ERR_INVALID);
    assert_null(q);
    assert_int_equal(promql_saturation_query(s, (enum meta_engine)5, PROMQL_KV_CACHE, 60000, &q,
                                             why, sizeof(why)),
                     ERR_INVALID);
    assert_int_equal(promql_saturation_query(NULL, META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, &q,
                                             why, sizeof(why)),
                     ERR_INVALID);
    assert_int_equal(
        promql_saturation_query(s, META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, NULL, NULL, 0),
        ERR_INVALID);
    promql_scope_free(s);
}

static void test_idle_and_flow_query(void **state)
{
    static const struct {
        bool flow;
        enum meta_engine engine;
        int64_t ms;
        const char *const *ns;
        size_t n_ns;
        const char *const *models;
        size_t n_models;
        const char *want;
    } cases[] = {
        {false, META_ENGINE_VLLM, 1800000, ns_one, 1, model_one, 1,
         "sum by (namespace, model_name) (increase(vllm:request_success_total{namespace=\"prod\", "
         "model_name=\"granite-3.1\"}[30m]))"},
        {false, META_ENGINE_SGLANG, 90000, ns_many, 4, model_one, 1,
         "sum by (namespace, model_name) (increase(sglang:num_requests_total{namespace=~\"prod|"
         "team-b|team\\\\.a\", model_name=\"granite-3.1\"}[90s]))"},
        {true, META_ENGINE_VLLM, 0, ns_one, 1, model_one, 1,
         "sum by (namespace, target_model_name) (inference_extension_flow_control_queue_size{"
         "namespace=\"prod\", target_model_name=\"granite-3.1\"})"},
        {true, META_ENGINE_SGLANG, 0, ns_many, 4, model_many, 3,
         "sum by (namespace, target_model_name) (inference_extension_flow_control_queue_size{"
         "namespace=~\"prod|team-b|team\\\\.a\", target_model_name=~\"a\\\\|b|granite-3\\\\.1|"
         "x\\\\.\\\\*\"})"},
    };
    struct promql_scope *s;
    char why[WHY_LEN], *q;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(promql_scope_new(cases[i].ns, cases[i].n_ns, cases[i].models,
                                          cases[i].n_models, &s, why, sizeof(why)),
                         ERR_OK);
        if (cases[i].flow)
            assert_int_equal(promql_flow_control_query(s, &q, why, sizeof(why)), ERR_OK);
        else
            assert_int_equal(
                promql_idle_query(s, cases[i].engine, cases[i].ms, &q, why, sizeof(why)), ERR_OK);
        assert_string_equal(q, cases[i].want);
        free(q);
        if (!cases[i].flow) {
            q = (char *)1;
            assert_int_equal(promql_idle_query(s, cases[i].engine, -1, &q, why, sizeof(why)),
                             ERR_INVALID);
            assert_null(q);
            assert_string_equal(why, "retention: must be > 0 ms, got -1");
        }
        promql_scope_free(s);
    }
    q = (char *)1;
    assert_int_equal(promql_flow_control_query(NULL, &q, why, sizeof(why)), ERR_INVALID);
    assert_null(q);
}

static void test_activation_query(void **state)
{
    static const struct {
        const char *tmpl;
        const char *ns;
        const char *model;
        enum err_code rc;
        const char *want; /* the query, or the why */
    } cases[] = {
        {"sum(my_gateway_queue{model=\"$model\"})", "prod", "granite-3.1", ERR_OK,
         "sum(my_gateway_queue{model=\"granite-3.1\"})"},
        {"sum(q{namespace=\"$namespace\", model=\"$model\"})", "prod", "a\"b\\c\nd", ERR_OK,
         "sum(q{namespace=\"prod\", model=\"a\\\"b\\\\c\\nd\"})"},
        {"sum(q{m=\"${model}\"}) + sum(r{m=\"$model\",n=\"${namespace}\"})", "ns", "a|b.*", ERR_OK,
         "sum(q{m=\"a|b.*\"}) + sum(r{m=\"a|b.*\",n=\"ns\"})"},
        /* not placeholders: $models, $modelX, $ns, a regex anchor, a trailing $ */
        {"x{a=\"$models\",b=\"$model_v2\",c=\"$ns\",d=~\"^v$\"} $", "ns", "m", ERR_OK,
         "x{a=\"$models\",b=\"$model_v2\",c=\"$ns\",d=~\"^v$\"} $"},
        {"$model$model${model}$namespace", "n", "m", ERR_OK, "mmmn"},
        {"q{m=\"$model\"}", "ns", "x\xef\xbf\xbd", ERR_OK, "q{m=\"x\\uFFFD\"}"},
        {"", "ns", "m", ERR_INVALID, "activationQuery: must be a non-empty string"},
        {NULL, "ns", "m", ERR_INVALID, "activationQuery: must be a non-empty string"},
        {"q", "ns", "m\xff", ERR_INVALID, "model id \"m\\xff\": must be non-empty, valid UTF-8"},
        {"q", "", "m", ERR_INVALID, "namespace \"\": must be non-empty, valid UTF-8"},
    };
    char why[WHY_LEN], *q;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        q = (char *)1;
        assert_int_equal(promql_activation_query(cases[i].tmpl, cases[i].ns, cases[i].model, &q,
                                                 why, sizeof(why)),
                         cases[i].rc);
        if (cases[i].rc == ERR_OK) {
            assert_string_equal(q, cases[i].want);
            assert_string_equal(why, "");
            free(q);
        } else {
            assert_null(q);
            assert_string_equal(why, cases[i].want);
        }
    }
    assert_int_equal(promql_activation_query("q", "n", "m", NULL, NULL, 0), ERR_INVALID);
}

static void test_form_body(void **state)
{
    static const char *const keys1[] = {"tenant", "dedup"};
    static const char *const vals1[] = {"team a&b=c", NULL};
    static const char *const keys_bad[] = {"tenant", ""};
    static const char *const keys_query[] = {"query"};
    static const struct {
        const char *query;
        const char *const *keys;
        const char *const *values;
        size_t n;
        enum err_code rc;
        const char *want;
    } cases[] = {
        {"up", NULL, NULL, 0, ERR_OK, "query=up"},
        {"sum(x{m=\"a b\"}) / 2 + 1", NULL, NULL, 0, ERR_OK,
         "query=sum%28x%7Bm%3D%22a%20b%22%7D%29%20%2F%202%20%2B%201"},
        {"A-Z_a.z~0", NULL, NULL, 0, ERR_OK, "query=A-Z_a.z~0"},
        {"m=~\"x\\\\.y|\xc3\xa9\"\n", NULL, NULL, 0, ERR_OK,
         "query=m%3D~%22x%5C%5C.y%7C%C3%A9%22%0A"},
        {"up", keys1, vals1, 2, ERR_OK, "query=up&tenant=team%20a%26b%3Dc&dedup="},
        {"up", keys1, NULL, 1, ERR_OK, "query=up&tenant="},
        {"", NULL, NULL, 0, ERR_INVALID, "query: must be a non-empty string"},
        {NULL, NULL, NULL, 0, ERR_INVALID, "query: must be a non-empty string"},
        {"up", NULL, NULL, 1, ERR_INVALID, "query parameters: no keys"},
        {"up", keys_bad, vals1, 2, ERR_INVALID, "query parameter 1: the name must be non-empty"},
        {"up", keys_query, vals1, 1, ERR_INVALID,
         "query parameter \"query\" is reserved for the PromQL query"},
    };
    char why[WHY_LEN], *body;
    size_t i, len;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        body = (char *)1;
        len = 99;
        assert_int_equal(promql_form_body(cases[i].query, cases[i].keys, cases[i].values,
                                          cases[i].n, &body, &len, why, sizeof(why)),
                         cases[i].rc);
        if (cases[i].rc == ERR_OK) {
            assert_string_equal(body, cases[i].want);
            assert_int_equal(len, strlen(cases[i].want));
            free(body);
        } else {
            assert_null(body);
            assert_int_equal(len, 0);
            assert_string_equal(why, cases[i].want);
        }
    }
    /* out_len is optional */
    assert_int_equal(promql_form_body("up", NULL, NULL, 0, &body, NULL, NULL, 0), ERR_OK);
    assert_string_equal(body, "query=up");
    free(body);
    assert_int_equal(promql_form_body("up", NULL, NULL, 0, NULL, &len, NULL, 0), ERR_INVALID);
}

/* 10,000 distinct models (and one duplicate of each): no fixed limit. */
static void test_many_models(void **state)
{
    enum { N = 10000 };
    char **models = calloc(2 * N, sizeof(*models));
    const char *const ns[] = {"prod"};
    struct promql_scope *s;
    char why[WHY_LEN], *q, *body;
    size_t i, len;
    (void)state;

    assert_non_null(models);
    for (i = 0; i < 2 * N; i++) {
        models[i] = malloc(32);
        assert_non_null(models[i]);
        snprintf(models[i], 32, "org/model-%05zu.v1", (2 * N - 1 - i) % N);
    }
    assert_int_equal(
        promql_scope_new(ns, 1, (const char *const *)models, 2 * N, &s, why, sizeof(why)), ERR_OK);
    assert_int_equal(promql_scope_model_count(s), N);
    assert_int_equal(
        promql_saturation_query(s, META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, &q, why, sizeof(why)),
        ERR_OK);
    /* two selectors, each with N alternatives sorted ascending */
    assert_int_equal(count_substr(q, "|"), 2 * (N - 1));
    assert_int_equal(count_substr(q, "org/model-00000\\\\.v1|org/model-00001\\\\.v1|"), 2);
    assert_int_equal(count_substr(q, "|org/model-09999\\\\.v1\"}"), 2);
    assert_true(strlen(q) > 2 * N * strlen("org/model-00000\\\\.v1|"));
    assert_int_equal(promql_form_body(q, NULL, NULL, 0, &body, &len, why, sizeof(why)), ERR_OK);
    assert_int_equal(len, strlen(body));
    assert_int_equal(count_substr(body, "%7C"), 2 * (N - 1));
    free(body);
    free(q);
    assert_int_equal(promql_flow_control_query(s, &q, why, sizeof(why)), ERR_OK);
    assert_int_equal(count_substr(q, "|"), N - 1);
    free(q);
    promql_scope_free(s);
    for (i = 0; i < 2 * N; i++)
        free(models[i]);
    free(models);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_string),    cmocka_unit_test(test_escape_regex),
        cmocka_unit_test(test_label_value_ok),   cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_metric_names),     cmocka_unit_test(test_scope_errors),
        cmocka_unit_test(test_saturation_query), cmocka_unit_test(test_idle_and_flow_query),
        cmocka_unit_test(test_activation_query), cmocka_unit_test(test_form_body),
        cmocka_unit_test(test_many_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
