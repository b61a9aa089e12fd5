/*
 * Unit tests for promresp: vector and scalar answers, non-finite values,
 * warnings, Prometheus and HTTP errors, size limit, malformed JSON with
 * paths, and 100k samples; then what the one-pass parser must get right on
 * its own: keys in any order, repeated keys, escapes and surrogates, strict
 * RFC 8259 syntax, the nesting limit, every truncation of a valid body, and
 * number conversion exactly as strtod.
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

/* Every sample field of a and b alike (labels by value, doubles by bits). */
static void assert_same_result(const struct promresp *a, const struct promresp *b)
{
    size_t i, k;

    assert_int_equal(a->type, b->type);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->warning_count, b->warning_count);
    for (i = 0; i < a->count; i++) {
        const struct promresp_sample *x = &a->samples[i], *y = &b->samples[i];
        const char *lx[] = {x->namespace_,       x->model_name, x->pod,
                            x->pod_name,         x->instance,   x->llm_d_ai_variant,
                            x->target_model_name};
        const char *ly[] = {y->namespace_,       y->model_name, y->pod,
                            y->pod_name,         y->instance,   y->llm_d_ai_variant,
                            y->target_model_name};
        for (k = 0; k < N_OF(lx); k++) {
            if (lx[k] == NULL || ly[k] == NULL)
                assert_ptr_equal(lx[k], ly[k]);
            else
                assert_string_equal(lx[k], ly[k]);
        }
        assert_memory_equal(&x->value, &y->value, sizeof(double));
        assert_memory_equal(&x->timestamp, &y->timestamp, sizeof(double));
        assert_int_equal(x->finite, y->finite);
    }
    for (i = 0; i < a->warning_count; i++)
        assert_string_equal(a->warnings[i], b->warnings[i]);
}

/* JSON allows any key order: the same answer, reordered at every level,
 * parses to the same result (and the same first error). */
static void test_key_order(void **state)
{
    static const char in_order[] =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
        "{\"metric\":{\"namespace\":\"ns\",\"pod\":\"p1\"},\"value\":[1.5,\"2\"]},"
        "{\"metric\":{\"pod\":\"p2\"},\"value\":[2,\"NaN\"]}]},\"warnings\":[\"w\"]}";
    static const char *const reordered[] = {
        /* result before resultType; metric after value */
        "{\"status\":\"success\",\"data\":{\"result\":["
        "{\"value\":[1.5,\"2\"],\"metric\":{\"namespace\":\"ns\",\"pod\":\"p1\"}},"
        "{\"metric\":{\"pod\":\"p2\"},\"value\":[2,\"NaN\"]}],\"resultType\":\"vector\"},"
        "\"warnings\":[\"w\"]}",
        /* status last, warnings first, unknown keys everywhere */
        "{\"warnings\":[\"w\"],\"x\":{\"status\":\"error\"},\"data\":{\"y\":[1,{}],"
        "\"resultType\":\"vector\",\"result\":["
        "{\"metric\":{\"namespace\":\"ns\",\"pod\":\"p1\"},\"z\":null,\"value\":[1.5,\"2\"]},"
        "{\"metric\":{\"pod\":\"p2\"},\"value\":[2,\"NaN\"]}]},\"status\":\"success\"}",
        /* data before status, result before resultType */
        "{\"data\":{\"result\":[{\"metric\":{\"namespace\":\"ns\",\"pod\":\"p1\"},"
        "\"value\":[1.5,\"2\"]},{\"value\":[2,\"NaN\"],\"metric\":{\"pod\":\"p2\"}}],"
        "\"resultType\":\"vector\"},\"status\":\"success\",\"warnings\":[\"w\"]}",
    };
    static const struct {
        const char *body;
        enum err_code rc;
        const char *why;
    } errors[] = {
        /* the status decides even when it comes after the data */
        {"{\"data\":{\"result\":[],\"resultType\":\"vector\"},\"errorType\":\"bad_data\","
         "\"status\":\"error\",\"error\":\"e\"}",
         ERR_PRECONDITION, "bad_data: e"},
        {"{\"data\":{\"resultType\":\"vector\",\"result\":[3]},\"status\":\"error\"}",
         ERR_UNAVAILABLE, "error: (no error text)"},
        {"{\"data\":{\"resultType\":\"vector\",\"result\":[]},\"status\":\"sucess\"}",
         ERR_UNAVAILABLE, "status: must be \"success\" or \"error\""},
        /* resultType is checked before result, wherever it stands */
        {"{\"status\":\"success\",\"data\":{\"result\":[3],\"resultType\":\"matrix\"}}",
         ERR_UNAVAILABLE,
         "data.resultType: unexpected resultType \"matrix\" (want vector or scalar)"},
        {"{\"status\":\"success\",\"data\":{\"result\":[3],\"resultType\":1}}", ERR_UNAVAILABLE,
         "data.resultType: must be a string"},
        {"{\"status\":\"success\",\"data\":{\"result\":[{\"metric\":{},\"value\":[1,\"1\"]},"
         "{\"metric\":{},\"value\":[1,\"x\"]}],\"resultType\":\"vector\"}}",
         ERR_UNAVAILABLE, "data.result[1].value: \"x\" is not a number"},
        {"{\"status\":\"success\",\"data\":{\"result\":[1,\"x\"],\"resultType\":\"scalar\"}}",
         ERR_UNAVAILABLE, "data.result: \"x\" is not a number"},
        {"{\"status\":\"success\",\"data\":{\"result\":{},\"resultType\":\"scalar\"}}",
         ERR_UNAVAILABLE, "data.result: must be a [number, string] pair"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\"}}", ERR_UNAVAILABLE,
         "data.result: must be a [number, string] pair"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\"}}", ERR_UNAVAILABLE,
         "data.result: must be an array"},
        /* in one sample: metric before value, whatever their order */
        {OK_VECTOR("{\"value\":[1,\"x\"],\"metric\":[]}"), ERR_UNAVAILABLE,
         "data.result[0].metric: must be an object"},
        {OK_VECTOR("{\"value\":7,\"metric\":{\"a\":1}}"), ERR_UNAVAILABLE,
         "data.result[0].metric.a: must be a string"},
        {OK_VECTOR("{\"histogram\":[1,{}],\"metric\":{}}"), ERR_UNAVAILABLE,
         "data.result[0].value: missing (native histogram samples are not supported)"},
        /* a shape error never hides a syntax error further on */
        {OK_VECTOR("3") " x", ERR_UNAVAILABLE,
         "invalid JSON near byte 65: data after the top-level value"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[3]},\"a\":01}",
         ERR_UNAVAILABLE,
         "invalid JSON near byte 69: {\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
         "\"result\":[3]},\"a\":01}"},
    };
    struct promresp *want, *r;
    char why[PROMRESP_WHY_LEN];
    size_t i;
    (void)state;

    assert_int_equal(parse_str(200, in_order, &want, why, sizeof(why)), ERR_OK);
    assert_int_equal(want->count, 2);
    assert_string_equal(want->samples[0].namespace_, "ns");
    assert_string_equal(want->warnings[0], "w");
    for (i = 0; i < N_OF(reordered); i++) {
        print_message("reordered %zu\n", i);
        assert_int_equal(parse_str(200, reordered[i], &r, why, sizeof(why)), ERR_OK);
        assert_same_result(want, r);
        promresp_free(r);
    }
    promresp_free(want);
    for (i = 0; i < N_OF(errors); i++) {
        print_message("error %zu\n", i);
        r = (struct promresp *)1;
        assert_int_equal(parse_str(200, errors[i].body, &r, why, sizeof(why)), errors[i].rc);
        assert_null(r);
        assert_string_equal(why, errors[i].why);
    }
}

/* The first of repeated keys counts, at every level, whatever its type. */
static void test_repeated_keys(void **state)
{
    static const struct {
        const char *body;
        enum err_code rc;
        const char *why_or_pod; /* the message, or the first sample's pod */
    } cases[] = {
        {"{\"status\":1,\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
         ERR_UNAVAILABLE, "status: must be \"success\" or \"error\""},
        {"{\"status\":\"success\",\"status\":\"error\",\"data\":{\"resultType\":\"vector\","
         "\"result\":[{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"1\"]}]}}",
         ERR_OK, "a"},
        {"{\"status\":\"success\",\"data\":[],\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
         ERR_UNAVAILABLE, "data: must be an object"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
         "{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"1\"]}]},\"data\":7}",
         ERR_OK, "a"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"resultType\":\"matrix\","
         "\"result\":[{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"1\"]}],\"result\":3}}",
         ERR_OK, "a"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":null,\"resultType\":\"vector\","
         "\"result\":[]}}",
         ERR_UNAVAILABLE, "data.resultType: must be a string"},
        {"{\"status\":\"success\",\"data\":{\"result\":3,\"result\":[],\"resultType\":\"vector\"}}",
         ERR_UNAVAILABLE, "data.result: must be an array"},
        {OK_VECTOR("{\"metric\":{\"pod\":\"a\"},\"metric\":7,\"value\":[1,\"1\"],\"value\":3}"),
         ERR_OK, "a"},
        {OK_VECTOR("{\"metric\":7,\"metric\":{\"pod\":\"a\"},\"value\":[1,\"1\"]}"),
         ERR_UNAVAILABLE, "data.result[0].metric: must be an object"},
        {OK_VECTOR("{\"metric\":{\"pod\":\"a\"},\"value\":3,\"value\":[1,\"1\"]}"), ERR_UNAVAILABLE,
         "data.result[0].value: must be a [number, string] pair"},
        /* a repeated label is still checked */
        {OK_VECTOR("{\"metric\":{\"pod\":\"a\",\"pod\":false},\"value\":[1,\"1\"]}"),
         ERR_UNAVAILABLE, "data.result[0].metric.pod: must be a string"},
        /* keys are case-sensitive */
        {OK_VECTOR("{\"metric\":{\"Pod\":\"x\",\"pod\":\"a\"},\"Value\":1,\"value\":[1,\"1\"]}"),
         ERR_OK, "a"},
        /* only the first "warnings" is read */
        {"{\"status\":\"success\",\"warnings\":3,\"warnings\":[\"w\"],\"data\":{"
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"1\"]}]}"
         "}",
         ERR_OK, "a"},
    };
    char why[PROMRESP_WHY_LEN];
    struct promresp *r;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(parse_str(200, cases[i].body, &r, why, sizeof(why)), cases[i].rc);
        if (cases[i].rc != ERR_OK) {
            assert_null(r);
            assert_string_equal(why, cases[i].why_or_pod);
            continue;
        }
        assert_int_equal(r->count, 1);
        assert_string_equal(r->samples[0].pod, cases[i].why_or_pod);
        assert_int_equal(r->warning_count, 0);
        promresp_free(r);
    }
}

/* Escapes in keys and values: decoded to UTF-8 (surrogate pairs joined),
 * strings used as C strings (a \u0000 ends one, as with cJSON). */
static void test_escapes(void **state)
{
    static const char body[] = OK_VECTOR(
        "{\"metric\":{\"pod\":\"p\\ud83d\\ude00\\u00e9\\u20ac\\/\\b\\f\\n\\r\\t\\\\\\\"\","
        "\"n\\u0061mespace\":\"\\u0041\\u00DF\","
        "\"instance\":\"a\\u0000b\","
        "\"model_name\\u0000x\":\"m\","
        "\"pod_name\":\"\","
        "\"llm_d_ai_variant\":\"\\uDBFF\\uDFFF\"},"
        "\"value\":[1,\"\\u0031.5\"]},"
        "{\"metric\":{},\"value\":[1,\"2\\u0000junk\"]}");
    struct promresp *r;
    char why[PROMRESP_WHY_LEN];
    (void)state;

    assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->count, 2);
    assert_string_equal(r->samples[0].pod, "p\xf0\x9f\x98\x80\xc3\xa9\xe2\x82\xac/\b\f\n\r\t\\\"");
    assert_string_equal(r->samples[0].namespace_, "A\xc3\x9f");
    assert_string_equal(r->samples[0].instance, "a");
    assert_string_equal(r->samples[0].model_name, "m");
    assert_string_equal(r->samples[0].pod_name, "");
    assert_string_equal(r->samples[0].llm_d_ai_variant, "\xf4\x8f\xbf\xbf");
    assert_true(r->samples[0].value == 1.5);
    assert_true(r->samples[1].value == 2.0);
    promresp_free(r);

    /* escaped text in messages is decoded, then quoted */
    assert_int_equal(parse_str(200, OK_VECTOR("{\"metric\":{\"a\\u002db\":1},\"value\":[1,\"1\"]}"),
                               &r, why, sizeof(why)),
                     ERR_UNAVAILABLE);
    assert_string_equal(why, "data.result[0].metric[\"a-b\"]: must be a string");
    assert_int_equal(parse_str(200, OK_VECTOR("{\"metric\":{},\"value\":[1,\"\\u00e9\\\"\"]}"), &r,
                               why, sizeof(why)),
                     ERR_UNAVAILABLE);
    assert_string_equal(why, "data.result[0].value: \"\\xc3\\xa9\\\"\" is not a number");
    assert_int_equal(parse_str(200,
                               "{\"status\":\"success\",\"data\":{\"resultType\":\"vec\\u0074or\","
                               "\"result\":[]}}",
                               &r, why, sizeof(why)),
                     ERR_OK);
    promresp_free(r);
}

/* RFC 8259, strictly: what cJSON let through is refused now. */
static void test_strict_json(void **state)
{
    static const struct {
        const char *body; /* inside an otherwise valid answer: see below */
        size_t at;        /* the byte the message names, from the value's start */
    } bad[] = {
        {"\"a\x01z\"", 2},         /* raw control byte in a string */
        {"\"a\tz\"", 2},           /* even a tab */
        {"\"\\x\"", 1},            /* unknown escape */
        {"\"\\u00zz\"", 1},        /* non-hex digit */
        {"\"\\ud800\"", 1},        /* lone high surrogate */
        {"\"\\udc00\"", 1},        /* lone low surrogate */
        {"\"\\ud800\\u0041\"", 1}, /* high surrogate, then not a low one */
        {"01", 1},                 /* leading zero */
        {"1.", 1},                 /* no digit after the point */
        {"1.e5", 1},
        {"-.5", 1},
        {"-", 1},
        {"+1", 0},
        {".5", 0},
        {"1e", 1},
        {"1e+", 1},
        {"0x10", 1},
        {"NaN", 0},
        {"Infinity", 0},
        {"tru", 0},
        {"nul", 0},
        {"True", 0},
        {"[1,]", 3},
        {"[,1]", 1},
        {"{\"a\":1,}", 7},
        {"{\"a\" 1}", 5},
        {"{1:1}", 1},
        {"\0131", 0}, /* vertical tab (octal 013) is not white space */
        {"\0141", 0}, /* nor form feed */
        {"\0011", 0},
        {"'a'", 0},
    };
    static const char *const good[] = {
        "-0",
        "0",
        "1E+2",
        "0.5e-3",
        "-1.25E-300",
        "1e400",
        "\"\\u0000\"",
        "\"\\/\"",
        "[ ]",
        "{ }",
        " \t\r\n1 \t\r\n",
        "true",
        "false",
        "null",
        "\"\x7f\xff\"",
        /* long numbers are numbers (strtod reads them whole) */
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "0",
    };
    char body[512], why[PROMRESP_WHY_LEN], want[PROMRESP_WHY_LEN];
    static const char head[] = "{\"status\":\"success\",\"x\":";
    static const char tail[] = ",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
    struct promresp *r;
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(bad); i++) {
        print_message("bad %zu\n", i);
        snprintf(body, sizeof(body), "%s%s%s", head, bad[i].body, tail);
        assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_UNAVAILABLE);
        assert_null(r);
        snprintf(want, sizeof(want), "invalid JSON near byte %zu: ", sizeof(head) - 1 + bad[i].at);
        assert_memory_equal(why, want, strlen(want));
        /* the same at the top level, where the rest would be "trailing" */
        assert_int_equal(parse_str(200, bad[i].body, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    }
    for (i = 0; i < N_OF(good); i++) {
        print_message("good %zu\n", i);
        snprintf(body, sizeof(body), "%s%s%s", head, good[i], tail);
        assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_OK);
        promresp_free(r);
    }
    /* a byte order mark is skipped; white space other than RFC 8259's is not */
    snprintf(body, sizeof(body), "\xef\xbb\xbf%s1%s", head, tail);
    assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_OK);
    promresp_free(r);
    snprintf(body, sizeof(body), "%s1%s\x0b", head, tail);
    assert_int_equal(parse_str(200, body, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "data after the top-level value"));
    snprintf(body, sizeof(body), "%s1%s", head, tail); /* and its NUL */
    assert_int_equal(promresp_parse(200, body, strlen(body) + 1, 0, &r, why, sizeof(why)),
                     ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "data after the top-level value"));
    /* syntax is checked under any HTTP status: a broken error answer is an
     * HTTP error, not a Prometheus one */
    assert_int_equal(parse_str(400, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"x\":01}",
                               &r, why, sizeof(why)),
                     ERR_UNAVAILABLE);
    assert_string_equal(why,
                        "HTTP 400: {\"status\":\"error\",\"errorType\":\"bad_data\",\"x\":01}");
}

/* PROMRESP_MAX_DEPTH levels are fine, one more is refused, and a body of
 * nothing but brackets does not recurse (no stack to exhaust). */
static void test_nesting(void **state)
{
    static const char head[] = "{\"status\":\"success\",\"x\":";
    static const char tail[] = ",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
    size_t n = 4 * 1000 * 1000, len, i, depth;
    char *body = malloc(n), why[PROMRESP_WHY_LEN], want[PROMRESP_WHY_LEN];
    struct promresp *r;
    (void)state;

    assert_non_null(body);
    /* the top-level object is level 1; "x" holds {"k":[{"k":[...1...]}]},
     * depth more levels */
    for (depth = PROMRESP_MAX_DEPTH - 1; depth <= PROMRESP_MAX_DEPTH; depth++) {
        memcpy(body, head, sizeof(head) - 1);
        len = sizeof(head) - 1;
        for (i = 0; i < depth; i++) {
            if (i % 2 == 0) {
                memcpy(body + len, "{\"k\":", 5);
                len += 5;
            } else {
                body[len++] = '[';
            }
        }
        body[len++] = '1';
        for (i = depth; i-- > 0;)
            body[len++] = i % 2 == 0 ? '}' : ']';
        memcpy(body + len, tail, sizeof(tail) - 1);
        len += sizeof(tail) - 1;
        r = (struct promresp *)1;
        if (depth + 1 <= PROMRESP_MAX_DEPTH) {
            assert_int_equal(promresp_parse(200, body, len, 0, &r, why, sizeof(why)), ERR_OK);
            promresp_free(r);
        } else {
            assert_int_equal(promresp_parse(200, body, len, 0, &r, why, sizeof(why)),
                             ERR_UNAVAILABLE);
            assert_null(r);
            assert_memory_equal(why, "invalid JSON near byte ", 23);
        }
    }
    /* two million '[' then as many ']': refused where level 1001 opens */
    memset(body, '[', n / 2);
    memset(body + n / 2, ']', n / 2);
    assert_int_equal(promresp_parse(200, body, n, 0, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_null(r);
    snprintf(want, sizeof(want), "invalid JSON near byte 1000: %.*s...", PROMRESP_BODY_EXCERPT,
             body);
    assert_string_equal(why, want);
    /* the same, cut: still the depth, not the truncation, is what failed */
    assert_int_equal(promresp_parse(200, body, n / 2, 0, &r, why, sizeof(why)), ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "(first error near byte 1000)"));
    free(body);
}

/* Every proper prefix of a valid answer is refused, with no result. */
static void test_every_truncation(void **state)
{
    static const char json[] =
        "{\"status\":\"success\",\"warnings\":[\"w\\u00e9\"],\"data\":{\"resultType\":\"vector\","
        "\"result\":[{\"metric\":{\"namespace\":\"ns\",\"pod\":\"p\\ud83d\\ude00\"},\"x\":[true,"
        "false,null,{}],\"value\":[1712345678.125,\"-1.5e-3\"]},"
        "{\"value\":[-0,\"+Inf\"],\"metric\":{\"pod\":\"q\"}}]}}";
    size_t n = strlen(json), len;
    char why[PROMRESP_WHY_LEN];
    struct promresp *r;
    (void)state;

    assert_int_equal(promresp_parse(200, json, n, 0, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->count, 2);
    promresp_free(r);
    for (len = 0; len < n; len++) {
        /* a heap copy of exactly len bytes, so ASan sees a read past it */
        char *b = malloc(len ? len : 1);
        assert_non_null(b);
        memcpy(b, json, len);
        r = (struct promresp *)1;
        assert_int_equal(promresp_parse(200, b, len, 0, &r, why, sizeof(why)), ERR_UNAVAILABLE);
        assert_null(r);
        assert_true(why[0] != '\0');
        if (len > 0)
            assert_non_null(strstr(why, "truncated JSON: the body ends at byte"));
        free(b);
    }
}

/* Timestamps and values convert to exactly what strtod gives, on the fast
 * path (short decimals) and off it. */
static void test_number_conversion(void **state)
{
    enum { N = 4000 };
    size_t cap = (size_t)N * 96 + 128, len = 0, i;
    char *body = malloc(cap), why[PROMRESP_WHY_LEN];
    char(*ts)[40] = calloc(N, sizeof(*ts)), (*vs)[40] = calloc(N, sizeof(*vs));
    struct promresp *r;
    unsigned seed = 12345;
    (void)state;

    assert_non_null(body);
    assert_non_null(ts);
    assert_non_null(vs);
    len += (size_t)snprintf(body + len, cap - len,
                            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                            "\"result\":[");
    for (i = 0; i < N; i++) {
        unsigned a, b;
        int fd;
        seed = seed * 1103515245u + 12345u;
        a = seed >> 8;
        seed = seed * 1103515245u + 12345u;
        b = seed >> 8;
        fd = (int)(b % 18);
        switch (i % 6) {
        case 0: /* Prometheus's timestamps, many fraction lengths */
            snprintf(ts[i], sizeof(ts[i]), "%u.%0*u", 1700000000u + a % 100000000u, fd % 4 + 1,
                     b % 10000u %
                         (fd % 4 == 0   ? 10u
                          : fd % 4 == 1 ? 100u
                          : fd % 4 == 2 ? 1000u
                                        : 10000u));
            snprintf(vs[i], sizeof(vs[i]), "%u.%u", a % 1000u, b);
            break;
        case 1: /* 15 to 18 digits: on and off the fast path */
            snprintf(ts[i], sizeof(ts[i]), "%u%u.%u", a, b, a ^ b);
            snprintf(vs[i], sizeof(vs[i]), "-0.%u%u", a, b);
            break;
        case 2:
            snprintf(ts[i], sizeof(ts[i]), "%ue%d", a, (int)(b % 40) - 20);
            snprintf(vs[i], sizeof(vs[i]), "%u.%uE%d", a % 10u, b, (int)(b % 600) - 300);
            break;
        case 3:
            snprintf(ts[i], sizeof(ts[i]), "-%u", a);
            snprintf(vs[i], sizeof(vs[i]), "%.17g", (double)a / (double)(b | 1u));
            break;
        case 4:
            snprintf(ts[i], sizeof(ts[i]), "0.%09u", a);
            snprintf(vs[i], sizeof(vs[i]), "%u", b);
            break;
        default:
            snprintf(ts[i], sizeof(ts[i]), "%u.%u", a % 10u, b);
            snprintf(vs[i], sizeof(vs[i]), "00%u.%u00", a % 100u, b % 1000u);
            break;
        }
        len += (size_t)snprintf(body + len, cap - len, "%s{\"metric\":{},\"value\":[%s,\"%s\"]}",
                                i ? "," : "", ts[i], vs[i]);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}}");
    assert_true(len < cap);
    assert_int_equal(promresp_parse(200, body, len, 0, &r, why, sizeof(why)), ERR_OK);
    assert_int_equal(r->count, N);
    for (i = 0; i < N; i++) {
        double t = strtod(ts[i], NULL), v = strtod(vs[i], NULL);
        if (memcmp(&t, &r->samples[i].timestamp, sizeof(t)) != 0 ||
            memcmp(&v, &r->samples[i].value, sizeof(v)) != 0)
            print_message("%zu: %s %s\n", i, ts[i], vs[i]);
        assert_memory_equal(&t, &r->samples[i].timestamp, sizeof(t));
        assert_memory_equal(&v, &r->samples[i].value, sizeof(v));
    }
    promresp_free(r);
    free(ts);
    free(vs);
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
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_repeated_keys),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_strict_json),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_number_conversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
