/*
 * Unit tests for promresp: vector and scalar answers, non-finite values,
 * warnings, Prometheus and HTTP errors, size limit, malformed JSON with
 * paths, and 100k samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "promresp.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define OK_VECTOR(RESULT)                                                                          \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" RESULT "]}}"

static enum err_code parse_str(int status, const char *body, struct promresp **out, char *why,
                               size_t why_len)
{
    return promresp_parse(status, body, strlen(body), 0, out, why, why_len);
}

static void test_vector(void **state)
{
    static const char body[] = OK_VECTOR(
        "{\"metric\":{\"__name__\":\"x\",\"namespace\":\"prod\",\"model_name\":\"granite-3.1\","
        "\"pod\":\"p1\",\"pod_name\":\"p1n\",\"instance\":\"10.0.0.1:8000\","
        "\"llm_d_ai_variant\":\"v1\",\"target_model_name\":\"t\",\"job\":\"vllm\"},"
        "\"value\":[1712345678.123,\"0.5\"]},"
        "{\"metric\":{\"pod\":\"p2\",\"pod\":\"dup\",\"namespace\":\"ns\\\"q\\u00e9\"},"
        "\"value\":[1712345678,\"17\"]},"
        "{\"metric\":{},\"value\":[1,\"-0.25e1\"]}");
    struct promresp *r = (struct promresp *)1;
    char why[PROMRESP_WHY_LEN];
    const struct promresp_sample *s;
    (void)state;

    assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->type, PROMRESP_VECTOR);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->warning_count, 0);
    assert_null(r->warnings);

    s = &r->samples[0];
    assert_string_equal(s->namespace_, "prod");
    assert_string_equal(s->model_name, "granite-3.1");
    assert_string_equal(s->pod, "p1");
    assert_string_equal(s->pod_name, "p1n");
    assert_string_equal(s->instance, "10.0.0.1:8000");
    assert_string_equal(s->llm_d_ai_variant, "v1");
    assert_string_equal(s->target_model_name, "t");
    assert_true(s->timestamp == 1712345678.123);
    assert_true(s->value == 0.5);
    assert_true(s->finite);
    assert_true(promresp_value(s) == 0.5);

    s = &r->samples[1];
    assert_string_equal(s->pod, "p2"); /* the first of repeated keys counts */
    assert_string_equal(s->namespace_, "ns\"q\xc3\xa9");
    assert_null(s->model_name);
    assert_null(s->pod_name);
    assert_null(s->instance);
    assert_null(s->llm_d_ai_variant);
    assert_null(s->target_model_name);
    assert_true(s->value == 17.0);

    s = &r->samples[2];
    assert_null(s->namespace_);
    assert_null(s->pod);
    assert_true(s->value == -2.5);
    promresp_free(r);
}

static void test_scalar_empty_nonfinite_warnings(void **state)
{
    static const char scalar[] =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1712345678.5,"
        "\"3\"]}}";
    static const char empty[] = OK_VECTOR("");
    static const char nonfinite[] =
        "{\"status\":\"success\",\"warnings\":[\"PromQL info: metric might not be a counter\","
        "42,\"second\"],\"infos\":[\"i\"],"
        "\"data\":{\"resultType\":\"vector\",\"result\":["
        "{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"NaN\"]},"
        "{\"metric\":{\"pod\":\"b\"},\"value\":[1,\"+Inf\"]},"
        "{\"metric\":{\"pod\":\"c\"},\"value\":[1,\"-Inf\"]}]}}";
    struct promresp *r;
    char why[PROMRESP_WHY_LEN];
    size_t i;
    (void)state;

    assert_int_equal(parse_str(200, scalar, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->type, PROMRESP_SCALAR);
    assert_int_equal(r->count, 1);
    assert_null(r->samples[0].namespace_);
    assert_null(r->samples[0].pod);
    assert_true(r->samples[0].value == 3.0);
    assert_true(r->samples[0].timestamp == 1712345678.5);
    promresp_free(r);

    assert_int_equal(parse_str(200, empty, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->type, PROMRESP_VECTOR);
    assert_int_equal(r->count, 0);
    assert_null(r->samples);
    promresp_free(r);

    assert_int_equal(parse_str(200, nonfinite, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->count, 3);
    assert_true(isnan(r->samples[0].value));
    assert_true(isinf(r->samples[1].value) && r->samples[1].value > 0);
    assert_true(isinf(r->samples[2].value) && r->samples[2].value < 0);
    for (i = 0; i < 3; i++) {
        assert_false(r->samples[i].finite);
        assert_true(promresp_value(&r->samples[i]) == 0.0);
    }
    assert_int_equal(r->warning_count, 2);
    assert_string_equal(r->warnings[0], "PromQL info: metric might not be a counter");
    assert_string_equal(r->warnings[1], "second");
    promresp_free(r);

    assert_true(promresp_value(NULL) == 0.0);
    promresp_free(NULL);
}

/* The body need not be NUL-terminated: exactly len bytes count. */
static void test_not_nul_terminated(void **state)
{
    static const char json[] = OK_VECTOR("{\"metric\":{\"pod\":\"p\"},\"value\":[1,\"2\"]}");
    size_t n = strlen(json);
    char *buf = malloc(n + 8);
    struct promresp *r;
    char why[PROMRESP_WHY_LEN];
    (void)state;

    assert_non_null(buf);
    memcpy(buf, json, n);
    memcpy(buf + n, "garbage!", 8); /* no NUL anywhere */
    assert_int_equal(promresp_parse(200, buf, n, 0, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->count, 1);
    assert_string_equal(r->samples[0].pod, "p");
    promresp_free(r);
    /* the garbage counts when it is inside len */
    assert_int_equal(promresp_parse(200, buf, n + 8, 0, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_null(r);
    assert_non_null(strstr(why, "invalid JSON near byte"));
    free(buf);
}

static void test_errors(void **state)
{
    static const struct {
        int status;
        const char *body;
        enum err_code rc;
        const char *why; /* exact; a trailing '*' compares a prefix (cJSON's error
                          * position is not part of the contract) */
    } cases[] = {
        /* Prometheus errors */
        {200,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 5: "
         "unexpected <EOF>\"}",
         ERR_PRECONDITION, "bad_data: parse error at char 5: unexpected <EOF>"},
        {400,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
         "\\\"query\\\": 1:5: parse error: unexpected\\nend\"}",
         ERR_PRECONDITION,
         "bad_data: invalid parameter \"query\": 1:5: parse error: unexpected end (HTTP 400)"},
        {422,
         "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"query processing would "
         "load too many samples into memory\"}",
         ERR_UNAVAILABLE,
         "execution: query processing would load too many samples into memory (HTTP 422)"},
        {503,
         "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out in "
         "expression evaluation\"}",
         ERR_UNAVAILABLE, "timeout: query timed out in expression evaluation (HTTP 503)"},
        {503, "{\"status\":\"error\"}", ERR_UNAVAILABLE, "error: (no error text) (HTTP 503)"},
        {500, "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"x\\u0007\\u00e9y\"}",
         ERR_UNAVAILABLE, "internal: x???y (HTTP 500)"},
        /* non-2xx without a Prometheus error */
        {502, "<html>\r\n<body>Bad  Gateway</body>\n</html>\n", ERR_UNAVAILABLE,
         "HTTP 502: <html> <body>Bad Gateway</body> </html>"},
        {502, "", ERR_UNAVAILABLE, "HTTP 502 (empty body)"},
        {401, "Unauthorized\x01\xff", ERR_UNAVAILABLE, "HTTP 401: Unauthorized??"},
        {404, "{\"status\":\"success\",\"data\":{}}", ERR_UNAVAILABLE,
         "HTTP 404: {\"status\":\"success\",\"data\":{}}"},
        {301, "[1,2]", ERR_UNAVAILABLE, "HTTP 301: [1,2]"},
        /* 2xx but not JSON */
        {200, "<!DOCTYPE html>\n<html>login</html>", ERR_UNAVAILABLE,
         "invalid JSON near byte 0: <!DOCTYPE html> <html>login</html>"},
        {200, "", ERR_UNAVAILABLE, "empty body (HTTP 200)"},
        {204, "  \n", ERR_UNAVAILABLE, "empty body (HTTP 204)"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vec", ERR_UNAVAILABLE,
         "truncated JSON: the body ends at byte 45 inside an unfinished value (first error*"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"a\":",
         ERR_UNAVAILABLE,
         "truncated JSON: the body ends at byte 65 inside an unfinished value (first error*"},
        {200, "{\"a\":\"b\\\"}", ERR_UNAVAILABLE,
         "truncated JSON: the body ends at byte 10 inside an unfinished value (first error*"},
        {200, "{\"status\":\"success\"} x", ERR_UNAVAILABLE,
         "invalid JSON near byte 21: data after the top-level value"},
        {200, "{\"a\":1} {", ERR_UNAVAILABLE,
         "invalid JSON near byte 8: data after the top-level value"},
        /* shape */
        {200, "[]", ERR_UNAVAILABLE, "top level: must be an object"},
        {200, "{}", ERR_UNAVAILABLE, "status: must be \"success\" or \"error\""},
        {200, "{\"status\":\"ok\"}", ERR_UNAVAILABLE, "status: must be \"success\" or \"error\""},
        {200, "{\"status\":\"success\"}", ERR_UNAVAILABLE, "data: must be an object"},
        {200, "{\"status\":\"success\",\"data\":{\"result\":[]}}", ERR_UNAVAILABLE,
         "data.resultType: must be a string"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
         ERR_UNAVAILABLE,
         "data.resultType: unexpected resultType \"matrix\" (want vector or scalar)"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"a\"]}}",
         ERR_UNAVAILABLE,
         "data.resultType: unexpected resultType \"string\" (want vector or scalar)"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
         ERR_UNAVAILABLE, "data.result: must be an array"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1]}}",
         ERR_UNAVAILABLE, "data.result: must be a [number, string] pair"},
        {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"x\"]}}",
         ERR_UNAVAILABLE, "data.result: \"x\" is not a number"},
        {200, OK_VECTOR("3"), ERR_UNAVAILABLE, "data.result[0]: must be an object"},
        {200, OK_VECTOR("{\"value\":[1,\"1\"]}"), ERR_UNAVAILABLE,
         "data.result[0].metric: must be an object"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":[],\"value\":[1,\"1\"]}"),
         ERR_UNAVAILABLE, "data.result[1].metric: must be an object"},
        {200, OK_VECTOR("{\"metric\":{\"pod\":7},\"value\":[1,\"1\"]}"), ERR_UNAVAILABLE,
         "data.result[0].metric.pod: must be a string"},
        {200, OK_VECTOR("{\"metric\":{\"a-b\":null},\"value\":[1,\"1\"]}"), ERR_UNAVAILABLE,
         "data.result[0].metric[\"a-b\"]: must be a string"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[1,2]}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[\"1\",\"2\"]}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[1,\"2\",3]}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":{}}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        {200, OK_VECTOR("{\"metric\":{}}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        {200,
         OK_VECTOR("{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,\"1\"]},"
                   "{\"metric\":{},\"value\":[1,\"1\"]},{\"metric\":{},\"value\":[1,\"abc\"]}"),
         ERR_UNAVAILABLE, "data.result[3].value: \"abc\" is not a number"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[1,\" 1\"]}"), ERR_UNAVAILABLE,
         "data.result[0].value: \" 1\" is not a number"},
        {200, OK_VECTOR("{\"metric\":{},\"value\":[1,\"nan\"]}"), ERR_UNAVAILABLE,
         "data.result[0].value: \"nan\" is not a number"},
        {200, OK_VECTOR("{\"metric\":{},\"histogram\":[1,{\"count\":\"2\"}]}"), ERR_UNAVAILABLE,
         "data.result[0].value: missing (native histogram samples are not supported)"},
    };
    char why[PROMRESP_WHY_LEN];
    struct promresp *r;
    size_t i, n;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        r = (struct promresp *)1;
        assert_int_equal(parse_str(cases[i].status, cases[i].body, &r, why, sizeof(why)),
                         cases[i].rc);
        assert_null(r);
        n = strlen(cases[i].why);
        if (n > 0 && cases[i].why[n - 1] == '*') {
            print_message("%s\n", why);
            assert_true(strlen(why) >= n - 1);
            assert_memory_equal(why, cases[i].why, n - 1);
        } else {
            assert_string_equal(why, cases[i].why);
        }
    }
}

static void test_long_error_bodies(void **state)
{
    char body[1000], why[PROMRESP_WHY_LEN], want[PROMRESP_WHY_LEN];
    struct promresp *r;
    (void)state;

    /* a 1000-byte non-JSON body: 200 bytes quoted, then "..." */
    memset(body, 'x', sizeof(body));
    assert_int_equal(promresp_parse(502, body, sizeof(body), 0, &r, why, sizeof(why)),
                     ERR_UNAVAILABLE);
    snprintf(want, sizeof(want), "HTTP 502: %.*s...", PROMRESP_BODY_EXCERPT, body);
    assert_string_equal(why, want);
    /* a short why buffer truncates but stays terminated */
    assert_int_equal(promresp_parse(502, body, sizeof(body), 0, &r, why, 16), ERR_UNAVAILABLE);
    assert_string_equal(why, "HTTP 502: xxxxx");
    assert_int_equal(promresp_parse(502, body, sizeof(body), 0, &r, NULL, 0), ERR_UNAVAILABLE);
}

static void test_limits_and_args(void **state)
{
    static const char json[] = OK_VECTOR("");
    char why[PROMRESP_WHY_LEN];
    struct promresp *r;
    char *big;
    (void)state;

    assert_int_equal(
        promresp_parse(200, json, strlen(json), strlen(json) - 1, &r, why, sizeof(why)),
        ERR_UNAVAILABLE);
    assert_null(r);
    assert_string_equal(why, "response body of 63 bytes exceeds the limit of 62 bytes");
    assert_int_equal(promresp_parse(200, json, strlen(json), strlen(json), &r, why, sizeof(why)),
                     ERR_OK);
    promresp_free(r);
    /* the default limit: 64 MiB (the bytes are never read) */
    big = malloc(PROMRESP_DEFAULT_MAX_BODY + 1);
    assert_non_null(big);
    assert_int_equal(
        promresp_parse(200, big, PROMRESP_DEFAULT_MAX_BODY + 1, 0, &r, why, sizeof(why)),
        ERR_UNAVAILABLE);
    assert_string_equal(why, "response body of 67108865 bytes exceeds the limit of 64 MiB");
    free(big);
    assert_int_equal(promresp_parse(200, json, 4096, 2048, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_string_equal(why, "response body of 4096 bytes exceeds the limit of 2 KiB");

    assert_int_equal(promresp_parse(200, NULL, 5, 0, &r, why, sizeof(why)), ERR_INVALID);
    assert_null(r);
    assert_int_equal(promresp_parse(200, json, strlen(json), 0, NULL, why, sizeof(why)),
                     ERR_INVALID);
    assert_int_equal(promresp_parse(200, NULL, 0, 0, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_string_equal(why, "empty body (HTTP 200)");
}

/* Sanitizers slow the parse down a few times; the bound is for plain builds. */
#if defined(__SANITIZE_ADDRESS__)
#define PARSE_SECONDS_MAX 5.0
#else
#define PARSE_SECONDS_MAX 1.0
#endif

static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* 100k samples: linear, and fast. */
static void test_many_samples(void **state)
{
    enum { N = 100000 };
    size_t cap = (size_t)N * 320 + 256, len = 0, i;
    char *body = malloc(cap), why[PROMRESP_WHY_LEN];
    struct promresp *r;
    struct timespec t0, t1;
    double secs;
    (void)state;

    assert_non_null(body);
    len += (size_t)snprintf(body + len, cap - len,
                            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                            "\"result\":[");
    for (i = 0; i < N; i++)
        len += (size_t)snprintf(
            body + len, cap - len,
            "%s{\"metric\":{\"namespace\":\"ns-%zu\",\"model_name\":\"org/model-%zu\","
            "\"pod\":\"pod-%zu\",\"pod_name\":\"pod-%zu\",\"instance\":\"10.%zu.%zu.1:8000\","
            "\"llm_d_ai_variant\":\"v%zu\",\"job\":\"vllm\"},\"value\":[1712345678.123,\"%zu.5\"]}",
            i ? "," : "", i % 7, i % 100, i, i, i / 256 % 256, i % 256, i % 3, i % 1000);
    len += (size_t)snprintf(body + len, cap - len, "]}}");
    assert_true(len < cap);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(promresp_parse(200, body, len, 0, &r, why, sizeof(why)), ERR_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("100k samples (%zu bytes) in %.3f s\n", len, secs);
    if (!under_valgrind())
        assert_true(secs < PARSE_SECONDS_MAX);

    assert_int_equal(r->count, N);
    assert_string_equal(r->samples[0].pod, "pod-0");
    assert_string_equal(r->samples[N - 1].pod, "pod-99999");
    assert_string_equal(r->samples[N - 1].model_name, "org/model-99");
    assert_string_equal(r->samples[N - 1].instance, "10.134.159.1:8000");
    assert_true(r->samples[12345].value == 345.5);
    promresp_free(r);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_scalar_empty_nonfinite_warnings),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_error_bodies),
        cmocka_unit_test(test_limits_and_args),
        cmocka_unit_test(test_many_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
