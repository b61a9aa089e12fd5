/*
 * Unit tests for kube that need no API server: in-cluster settings, start
 * validation, start/stop. Reads are covered by the integration test with
 * a fake API server over TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "kube.h"
#include "log.h"

static void test_in_cluster(void **state)
{
    struct kube_options o;
    char why[256];
    (void)state;

    unsetenv("KUBERNETES_SERVICE_HOST");
    memset(&o, 0, sizeof(o));
    assert_int_equal(kube_options_in_cluster(&o, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, "--kube-api-url"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(kube_options_in_cluster(&o, why, sizeof(why)), ERR_OK);
    assert_string_equal(o.api_url, "https://10.96.0.1:443");
    assert_string_equal(o.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_string_equal(o.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(kube_options_in_cluster(&o, why, sizeof(why)), ERR_OK);
    assert_string_equal(o.api_url, "https://[fd00::1]:443");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_start_stop(void **state)
{
    struct kube_options o = {.api_url = "ftp://x", .cache_ttl_ms = 1000};
    struct kube *k = NULL;
    struct kube_stats st;
    char why[256];
    (void)state;

    log_setup(LOG_OFF, LOG_FORMAT_JSON);
    assert_int_equal(kube_start(&o, &k, why, sizeof(why)), ERR_INVALID);
    assert_null(k);
    assert_non_null(strstr(why, "--kube-api-url"));
    o.api_url = "https://127.0.0.1:6443";
    o.token_file = "/nonexistent/token";
    assert_int_equal(kube_start(&o, &k, why, sizeof(why)), ERR_OK);
    kube_get_stats(k, &st);
    assert_int_equal(st.reads, 0);
    kube_expire(k, 0);
    kube_stop(k);
    kube_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_start_stop),
    };
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
