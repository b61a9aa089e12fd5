/*
 * Unit tests for the parts of rpc that need no network: worker count and
 * start-up validation (the served protocol is covered by the integration
 * tests with an independent Python gRPC client).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>

#include "log.h"
#include "reflect.h"
#include "rpc.h"
#include "source.h"

static void test_default_workers(void **state)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = rpc_default_workers();
    (void)state;
    assert_true(n >= 1);
    assert_true(n <= online);
}

static struct source *route_one(void *arg, const struct meta_request *req, char *why, size_t len)
{
    (void)req;
    (void)why;
    (void)len;
    return arg;
}
static void subscribe_one(void *arg, source_subscriber_fn *fn, void *fn_arg)
{
    source_subscribe(arg, fn, fn_arg);
}
static void expire_one(void *arg, int64_t now)
{
    source_expire(arg, now);
}

static void set_router(struct rpc_options *o, struct source *src)
{
    o->router.route = route_one;
    o->router.subscribe = subscribe_one;
    o->router.expire = expire_one;
    o->router.arg = src;
}

static void test_start_validation(void **state)
{
    static const struct {
        const char *cert, *key, *ca, *needle;
    } cases[] = {
        {"/etc/hostname", NULL, NULL, "must be given together"},
        {NULL, "/etc/hostname", NULL, "must be given together"},
        {NULL, NULL, "/etc/hostname", "must be given together"},
        {"/nonexistent/cert.pem", "/etc/hostname", NULL, "--tls-cert-file /nonexistent/cert.pem"},
        {"/etc/hostname", "/nonexistent/key.pem", NULL, "--tls-key-file /nonexistent/key.pem"},
        {"/etc/hostname", "/etc/hostname", "/nonexistent/ca.pem",
         "--tls-client-ca-file /nonexistent/ca.pem"},
    };
    struct source *src = source_new("test", 1000);
    struct reflect *refl = NULL;
    struct rpc_server *srv = NULL;
    struct rpc_options o;
    char why[512];
    size_t i;
    (void)state;

    log_setup(LOG_OFF, LOG_FORMAT_JSON);
    grpc_init();
    assert_int_equal(reflect_init(&refl), ERR_OK);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&o, 0, sizeof(o));
        o.listen = "127.0.0.1:0";
        o.workers = 1;
        set_router(&o, src);
        o.reflect = refl;
        o.shutdown_grace_ms = 1000;
        o.tls_cert_file = cases[i].cert;
        o.tls_key_file = cases[i].key;
        o.tls_client_ca_file = cases[i].ca;
        assert_int_equal(rpc_start(&o, &srv, why, sizeof(why)), ERR_INVALID);
        assert_null(srv);
        print_message("%s\n", why);
        assert_non_null(strstr(why, cases[i].needle));
    }
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.workers = 0; /* invalid */
    set_router(&o, src);
    o.reflect = refl;
    assert_int_equal(rpc_start(&o, &srv, why, sizeof(why)), ERR_INVALID);
    rpc_free(NULL);
    reflect_free(refl);
    source_free(src);
    grpc_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_workers),
        cmocka_unit_test(test_start_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
