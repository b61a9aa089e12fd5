/*
 * Unit tests for wire: NUL bytes and invalid UTF-8 in request strings are
 * found in the raw bytes, naming the field and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "externalscaler.pb-c.h"
#include "wire.h"

/* Pack a ScaledObjectRef with one metadata entry (key/value given with
 * lengths, so they may hold NULs). */
static size_t pack_ref(uint8_t *out, const char *k, size_t kl, const char *v, size_t vl)
{
    /* Build by hand: field 1 "so", field 2 "llm", field 3 {1: k, 2: v}. */
    size_t n = 0;
    out[n++] = 0x0a; out[n++] = 2; memcpy(out + n, "so", 2); n += 2;
    out[n++] = 0x12; out[n++] = 3; memcpy(out + n, "llm", 3); n += 3;
    out[n++] = 0x1a; out[n++] = (uint8_t)(2 + kl + 2 + vl);
    out[n++] = 0x0a; out[n++] = (uint8_t)kl; memcpy(out + n, k, kl); n += kl;
    out[n++] = 0x12; out[n++] = (uint8_t)vl; memcpy(out + n, v, vl); n += vl;
    return n;
}

static void test_ref(void **state)
{
    uint8_t buf[256], gm[300];
    char why[300];
    size_t n;
    Externalscaler__ScaledObjectRef *ref;
    (void)state;

    n = pack_ref(buf, "modelID", 7, "ibm/granite", 11);
    ref = externalscaler__scaled_object_ref__unpack(NULL, n, buf); /* well-formed */
    assert_non_null(ref);
    assert_string_equal(ref->scalermetadata[0]->value, "ibm/granite");
    externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
    assert_int_equal(wire_check_ref(buf, n, why, sizeof(why)), ERR_OK);

    n = pack_ref(buf, "kvCacheThreshold", 16, "0.8\0junk", 8);
    assert_int_equal(wire_check_ref(buf, n, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "\"kvCacheThreshold\": the value contains a NUL byte");

    n = pack_ref(buf, "modelID", 7, "m\xc0\xafx", 4); /* overlong '/' */
    assert_int_equal(wire_check_ref(buf, n, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, "is not valid UTF-8"));

    n = pack_ref(buf, "bad\xffkey", 7, "v", 1);
    assert_int_equal(wire_check_ref(buf, n, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, "scalerMetadata key"));

    /* nested in a GetMetricsRequest (field 1), and metricName (field 2) */
    n = pack_ref(buf, "modelID", 7, "m\0", 2);
    gm[0] = 0x0a;
    gm[1] = (uint8_t)n;
    memcpy(gm + 2, buf, n);
    assert_int_equal(wire_check_get_metrics(gm, n + 2, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, "NUL"));
    n = pack_ref(buf, "modelID", 7, "m", 1);
    gm[1] = (uint8_t)n;
    memcpy(gm + 2, buf, n);
    memcpy(gm + 2 + n, "\x12\x03" "a\0b", 5);
    assert_int_equal(wire_check_get_metrics(gm, n + 7, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "metricName contains a NUL byte");
    assert_int_equal(wire_check_get_metrics(gm, n + 2, why, sizeof(why)), ERR_OK);
    /* broken framing is left to the unpacker */
    assert_int_equal(wire_check_ref((const uint8_t *)"\x1a\x7f", 2, why, sizeof(why)), ERR_OK);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(util_utf8_valid((const uint8_t *)"modèle-日本", strlen("modèle-日本")));
    assert_true(util_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));
    assert_false(util_utf8_valid((const uint8_t *)"\xff\xfe", 2));
    assert_false(util_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
    assert_false(util_utf8_valid((const uint8_t *)"\xe2\x82", 2));     /* truncated */
    assert_false(util_utf8_valid((const uint8_t *)"ok-\x80", 4));
    assert_false(util_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
