/*
 * Unit tests for health: HealthCheckRequest decoding and HealthCheckResponse
 * encoding, checked against the protobuf-c code generated from health.proto.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc/health/v1/health.pb-c.h"
#include "health.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *pack_request(const char *service, size_t *len)
{
    Grpc__Health__V1__HealthCheckRequest q;
    grpc__health__v1__health_check_request__init(&q);
    if (service)
        q.service = (char *)service;
    *len = grpc__health__v1__health_check_request__get_packed_size(&q);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(grpc__health__v1__health_check_request__pack(&q, buf), *len);
    return buf;
}

static void test_parse_request(void **state)
{
    static const struct {
        const char *service; /* NULL: field absent */
        const char *want;
    } cases[] = {
        {NULL, ""},
        {"", ""},
        {"externalscaler.ExternalScaler", "externalscaler.ExternalScaler"},
        {"grpc.health.v1.Health", "grpc.health.v1.Health"},
        {"x", "x"},
    };
    (void)state;
    for (size_t i = 0; i < N_OF(cases); i++) {
        size_t len;
        uint8_t *buf = pack_request(cases[i].service, &len);
        char *service = (char *)"stale";
        print_message("service '%s'\n", cases[i].service ? cases[i].service : "(absent)");
        assert_int_equal(health_parse_request(buf, len, &service), ERR_OK);
        assert_non_null(service);
        assert_string_equal(service, cases[i].want);
        free(service);
        free(buf);
    }
}

static void test_parse_empty(void **state)
{
    static const uint8_t none[1];
    char *service = NULL;
    (void)state;
    /* A request with no fields is zero bytes; the buffer may be NULL then. */
    assert_int_equal(health_parse_request(NULL, 0, &service), ERR_OK);
    assert_string_equal(service, "");
    free(service);
    assert_int_equal(health_parse_request(none, 0, &service), ERR_OK);
    assert_string_equal(service, "");
    free(service);
}

static void test_parse_invalid(void **state)
{
    static const struct {
        uint8_t bytes[8];
        size_t len;
    } cases[] = {
        {{0x0a, 0x05, 'a'}, 3},  /* string longer than the buffer */
        {{0xff, 0xff, 0xff}, 3}, /* truncated varint tag */
        {{0x08}, 1},             /* varint field 1 with no value */
        {{0x0b, 0x0c}, 2},       /* a group where a string belongs */
        {{0x0a, 0x80}, 2},       /* truncated length */
    };
    (void)state;
    for (size_t i = 0; i < N_OF(cases); i++) {
        char *service = (char *)"stale";
        enum err_code rc = health_parse_request(cases[i].bytes, cases[i].len, &service);
        print_message("case %zu -> %s\n", i, err_str(rc));
        assert_int_equal(rc, ERR_INVALID);
        assert_null(service); /* cleared on entry */
    }
    assert_int_equal(health_parse_request((const uint8_t *)"", 0, NULL), ERR_INVALID);
    char *service = (char *)"stale";
    assert_int_equal(health_parse_request(NULL, 3, &service), ERR_INVALID);
    assert_null(service);
}

static void test_encode_response(void **state)
{
    static const struct {
        enum health_status st;
        Grpc__Health__V1__HealthCheckResponse__ServingStatus wire;
    } cases[] = {
        {HEALTH_UNKNOWN, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__UNKNOWN},
        {HEALTH_SERVING, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING},
        {HEALTH_NOT_SERVING, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING},
        {HEALTH_SERVICE_UNKNOWN,
         GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN},
    };
    (void)state;
    for (size_t i = 0; i < N_OF(cases); i++) {
        uint8_t *out = NULL;
        size_t len = 99;
        print_message("status %d\n", (int)cases[i].st);
        assert_int_equal((int)cases[i].st, (int)cases[i].wire); /* enum mirrors the wire */
        assert_int_equal(health_encode_response(cases[i].st, &out, &len), ERR_OK);
        assert_non_null(out);
        /* proto3: the default (UNKNOWN) is not on the wire; others are 08 0N. */
        assert_int_equal(len, cases[i].st == HEALTH_UNKNOWN ? 0 : 2);
        Grpc__Health__V1__HealthCheckResponse *a =
            grpc__health__v1__health_check_response__unpack(NULL, len, out);
        assert_non_null(a);
        assert_int_equal(a->status, cases[i].wire);
        grpc__health__v1__health_check_response__free_unpacked(a, NULL);
        free(out);
    }
}

static void test_encode_invalid(void **state)
{
    uint8_t *out = (uint8_t *)"stale";
    size_t len = 99;
    (void)state;
    assert_int_equal(health_encode_response((enum health_status)4, &out, &len), ERR_INVALID);
    assert_null(out);
    assert_int_equal(len, 0);
    out = (uint8_t *)"stale";
    assert_int_equal(health_encode_response((enum health_status)(-1), &out, &len), ERR_INVALID);
    assert_null(out);
    assert_int_equal(health_encode_response(HEALTH_SERVING, NULL, &len), ERR_INVALID);
    assert_int_equal(health_encode_response(HEALTH_SERVING, &out, NULL), ERR_INVALID);
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_request),  cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_invalid),  cmocka_unit_test(test_encode_response),
        cmocka_unit_test(test_encode_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
