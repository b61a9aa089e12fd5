/*
 * Unit tests for prom's routing: endpoints by name, groups per (engine,
 * window), metadata URLs refused unless allowed. No network: a fetcher only
 * sends queries once a model is of interest, which these tests never
 * register (route does not touch the interest set).
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
#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "meta.h"
#include "prom.h"

static const char cfg_json[] =
    "{\"prometheus\":{\"default\":{\"url\":\"http://127.0.0.1:9\"},"
    "\"thanos\":{\"url\":\"http://127.0.0.1:9/thanos\",\"timeout\":\"2s\"}}}";

static void request(struct meta_request *r, const char *k1, const char *v1, const char *k2,
                    const char *v2)
{
    const char *keys[3] = {"modelID", k1, k2}, *values[3] = {"m", v1, v2};
    size_t n = k2 ? 3 : k1 ? 2 : 1;
    char why[META_WHY_LEN];
    enum err_code rc = meta_parse("so", "llm", keys, values, n, NULL, r, why, sizeof(why));
    if (rc)
        print_error("%s\n", why);
    assert_int_equal(rc, ERR_OK);
}

static struct source *route(struct prom *p, const char *k1, const char *v1, const char *k2,
                            const char *v2, char *why, size_t len)
{
    struct meta_request r;
    struct source *s;
    request(&r, k1, v1, k2, v2);
    why[0] = '\0';
    s = prom_route(p, &r, why, len);
    meta_request_clear(&r);
    return s;
}

static struct cfgstore *store;

static struct prom *start(struct config *cfg, bool allow_url)
{
    struct prom_options o;
    struct prom *p = NULL;
    char why[256];
    memset(&o, 0, sizeof(o));
    store = cfgstore_new(cfg); /* owns cfg from now on */
    assert_non_null(store);
    o.configs = store;
    o.refresh_ms = 60000;
    o.interest_ttl_ms = 600000;
    o.allow_metadata_url = allow_url;
    assert_int_equal(prom_start(&o, &p, why, sizeof(why)), ERR_OK);
    return p;
}

static void test_routing(void **state)
{
    struct config *cfg = NULL;
    struct prom *p;
    struct source *a, *b, *c, *d, *e;
    char why[512];
    struct prom_stats st;
    (void)state;

    log_setup(LOG_OFF, LOG_FORMAT_JSON);
    assert_int_equal(config_parse(cfg_json, strlen(cfg_json), &cfg, why, sizeof(why)), ERR_OK);
    p = start(cfg, false);

    a = route(p, NULL, NULL, NULL, NULL, why, sizeof(why));
    b = route(p, "prometheus", "default", NULL, NULL, why, sizeof(why));
    assert_non_null(a);
    assert_ptr_equal(a, b); /* same endpoint, engine and window: one group */
    assert_string_equal(source_name(a), "prometheus \"default\"");
    c = route(p, "metricsWindow", "30s", NULL, NULL, why, sizeof(why));
    d = route(p, "engine", "sglang", NULL, NULL, why, sizeof(why));
    e = route(p, "prometheus", "thanos", NULL, NULL, why, sizeof(why));
    assert_non_null(c);
    assert_non_null(d);
    assert_non_null(e);
    assert_ptr_not_equal(a, c);
    assert_ptr_not_equal(a, d);
    assert_ptr_not_equal(c, d);
    assert_ptr_not_equal(a, e);
    assert_string_equal(source_name(e), "prometheus \"thanos\"");
    assert_ptr_equal(c, route(p, "metricsWindow", "30s", NULL, NULL, why, sizeof(why)));

    assert_null(route(p, "prometheus", "nope", NULL, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "\"nope\" is not a configured endpoint"));
    assert_null(route(p, "prometheus", "http://evil.example:9090", NULL, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "--allow-metadata-prometheus-url"));

    prom_get_stats(p, &st);
    assert_int_equal(st.queries, 0); /* nothing was of interest: nothing sent */
    prom_expire(p, 0);

    /* A reload that drops "thanos" and adds "mimir": routing follows. */
    {
        static const char next_json[] =
            "{\"prometheus\":{\"default\":{\"url\":\"http://127.0.0.1:9\"},"
            "\"mimir\":{\"url\":\"http://127.0.0.1:9/mimir\"}}}";
        struct config *next = NULL;
        assert_int_equal(config_parse(next_json, strlen(next_json), &next, why, sizeof(why)),
                         ERR_OK);
        assert_int_equal(cfgstore_swap(store, next), 2);
        prom_reload(p);
        assert_null(route(p, "prometheus", "thanos", NULL, NULL, why, sizeof(why)));
        assert_non_null(strstr(why, "not a configured endpoint"));
        assert_non_null(route(p, "prometheus", "mimir", NULL, NULL, why, sizeof(why)));
        assert_ptr_equal(a, route(p, NULL, NULL, NULL, NULL, why, sizeof(why)));
    }
    prom_stop(p);
    prom_stop(NULL);
    cfgstore_free(store);
}

static void test_metadata_urls(void **state)
{
    struct config *cfg = NULL;
    struct prom *p;
    char why[512], url[64];
    struct source *s1, *s2;
    int i;
    (void)state;

    assert_int_equal(config_parse("{}", 2, &cfg, why, sizeof(why)), ERR_OK);
    p = start(cfg, true);
    /* no endpoint configured at all */
    assert_null(route(p, NULL, NULL, NULL, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "no Prometheus endpoint is configured"));
    s1 = route(p, "prometheus", "http://127.0.0.1:9", NULL, NULL, why, sizeof(why));
    s2 = route(p, "prometheus", "http://127.0.0.1:9", NULL, NULL, why, sizeof(why));
    assert_non_null(s1);
    assert_ptr_equal(s1, s2);
    for (i = 1; i < PROM_MAX_METADATA_ENDPOINTS; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", 10 + i);
        assert_non_null(route(p, "prometheus", url, NULL, NULL, why, sizeof(why)));
    }
    assert_null(route(p, "prometheus", "http://127.0.0.1:99", NULL, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "too many endpoints"));
    prom_stop(p);
    cfgstore_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_metadata_urls),
    };
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
