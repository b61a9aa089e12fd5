/*
 * Unit tests for httpd: a real server on 127.0.0.1 port 0 and real HTTP
 * requests with libcurl. Status, body, Content-Type and Cache-Control of
 * /healthz, /readyz (toggled through the ready callback), /metrics (the
 * callback's text, its failure, no callback), /debug/decision (found, not
 * found, callback failure, missing or empty query parameters, decoding),
 * 404 for anything else, 405 for methods other than GET and HEAD, the
 * --http-listen parser's refusals, a port already in use, and stop.
 *
 * Every request is bounded (CURLOPT_TIMEOUT_MS) and goes to loopback only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the callbacks: a fake server state --------------------------------------- */

struct fake {
    atomic_bool ready;
    atomic_int ready_calls, metrics_calls, decision_calls;
    enum err_code metrics_rc, decision_rc;
    pthread_mutex_t mu;
    char last_ns[128], last_so[128];
};

static bool cb_ready(void *arg)
{
    struct fake *f = arg;
    atomic_fetch_add(&f->ready_calls, 1);
    return atomic_load(&f->ready);
}

static char *dup_text(const char *s, size_t *len)
{
    char *p = strdup(s);
    assert_non_null(p);
    *len = strlen(s);
    return p;
}

#define METRICS_TEXT "# TYPE up gauge\nup 1\n"

static enum err_code cb_metrics(void *arg, char **text, size_t *len)
{
    struct fake *f = arg;
    atomic_fetch_add(&f->metrics_calls, 1);
    *text = NULL;
    *len = 0;
    if (f->metrics_rc)
        return f->metrics_rc;
    *text = dup_text(METRICS_TEXT, len);
    return ERR_OK;
}

static enum err_code cb_decision(void *arg, const char *ns, const char *so, char **json,
                                 size_t *len)
{
    struct fake *f = arg;
    char buf[512];
    atomic_fetch_add(&f->decision_calls, 1);
    pthread_mutex_lock(&f->mu);
    snprintf(f->last_ns, sizeof(f->last_ns), "%s", ns);
    snprintf(f->last_so, sizeof(f->last_so), "%s", so);
    pthread_mutex_unlock(&f->mu);
    *json = NULL;
    *len = 0;
    if (f->decision_rc)
        return f->decision_rc;
    if (strcmp(ns, "prod") != 0 || strcmp(so, "granite") != 0)
        return ERR_NOT_FOUND;
    snprintf(buf, sizeof(buf), "{\"namespace\":\"%s\",\"scaledobject\":\"%s\",\"desired\":3}\n", ns,
             so);
    *json = dup_text(buf, len);
    return ERR_OK;
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    atomic_init(&f->ready, false);
    atomic_init(&f->ready_calls, 0);
    atomic_init(&f->metrics_calls, 0);
    atomic_init(&f->decision_calls, 0);
    pthread_mutex_init(&f->mu, NULL);
}

static void fake_destroy(struct fake *f)
{
    pthread_mutex_destroy(&f->mu);
}

static struct httpd *start(struct fake *f, bool with_metrics, bool with_decision)
{
    struct httpd_options o;
    struct httpd *h = NULL;
    char why[256] = "";
    enum err_code rc;

    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.ready = cb_ready;
    o.metrics = with_metrics ? cb_metrics : NULL;
    o.decision = with_decision ? cb_decision : NULL;
    o.arg = f;
    rc = httpd_start(&o, &h, why, sizeof(why));
    if (rc)
        print_error("httpd_start: %s\n", why);
    assert_int_equal(rc, ERR_OK);
    assert_non_null(h);
    assert_true(httpd_port(h) > 0 && httpd_port(h) <= 65535);
    return h;
}

/* ---- the client ---------------------------------------------------------------- */

struct reply {
    CURLcode rc;
    long status;
    char body[4096];
    size_t len;
    char type[128];  /* Content-Type */
    char cache[128]; /* Cache-Control */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t k = size * n;
    if (k > sizeof(r->body) - 1 - r->len)
        return 0; /* too long: fail the transfer */
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

/* Keep the value of a header line "Name: value\r\n" when its name matches. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t len)
{
    size_t k = strlen(name);
    if (n > k + 1 && strncasecmp(line, name, k) == 0 && line[k] == ':') {
        const char *v = line + k + 1;
        size_t m = n - k - 1;
        while (m && (*v == ' ' || *v == '\t')) {
            v++;
            m--;
        }
        while (m && (v[m - 1] == '\r' || v[m - 1] == '\n' || v[m - 1] == ' '))
            m--;
        snprintf(out, len, "%.*s", (int)m, v);
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    header_value(p, size * n, "Content-Type", r->type, sizeof(r->type));
    header_value(p, size * n, "Cache-Control", r->cache, sizeof(r->cache));
    return size * n;
}

/* method NULL = GET; "HEAD" = no body; body (non-NULL) is sent with it. */
static void http_port(int port, const char *method, const char *path, const char *body,
                      struct reply *r)
{
    CURL *c = curl_easy_init();
    char url[512];

    memset(r, 0, sizeof(*r));
    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    r->rc = curl_easy_perform(c);
    if (r->rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

static void http(const struct httpd *h, const char *method, const char *path, const char *body,
                 struct reply *r)
{
    http_port(httpd_port(h), method, path, body, r);
    if (r->rc != CURLE_OK)
        print_error("%s %s: %s\n", method ? method : "GET", path, curl_easy_strerror(r->rc));
    assert_int_equal(r->rc, CURLE_OK);
}

static void expect(const struct reply *r, long status, const char *type, const char *body)
{
    if (r->status != status || strcmp(r->body, body) != 0)
        print_error("got %ld \"%s\", want %ld \"%s\"\n", r->status, r->body, status, body);
    assert_int_equal(r->status, status);
    assert_string_equal(r->body, body);
    assert_int_equal(r->len, strlen(body));
    assert_string_equal(r->type, type);
    assert_string_equal(r->cache, "no-store");
}

/* ---- fixtures ----------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_healthz(void **state)
{
    struct fake f;
    struct httpd *h;
    struct reply r;
    (void)state;

    fake_init(&f);
    h = start(&f, true, true);
    http(h, NULL, "/healthz", NULL, &r);
    expect(&r, 200, "text/plain", "ok\n");
    /* whatever the readiness: healthz is the process being alive */
    atomic_store(&f.ready, true);
    http(h, NULL, "/healthz?verbose=1", NULL, &r); /* the query is not part of the path */
    expect(&r, 200, "text/plain", "ok\n");
    assert_int_equal(atomic_load(&f.ready_calls), 0);
    assert_int_equal(atomic_load(&f.metrics_calls), 0);
    assert_int_equal(atomic_load(&f.decision_calls), 0);
    httpd_stop(h);
    fake_destroy(&f);
}

static void test_readyz_toggles(void **state)
{
    static const bool steps[] = {false, true, true, false, true};
    struct fake f;
    struct httpd *h;
    struct reply r;
    size_t i;
    (void)state;

    fake_init(&f);
    h = start(&f, true, true);
    for (i = 0; i < N_OF(steps); i++) {
        atomic_store(&f.ready, steps[i]);
        http(h, NULL, "/readyz", NULL, &r);
        if (steps[i])
            expect(&r, 200, "text/plain", "ready\n");
        else
            expect(&r, 503, "text/plain", "not ready\n");
        assert_int_equal(atomic_load(&f.ready_calls), (int)i + 1); /* asked every time */
    }
    httpd_stop(h);
    fake_destroy(&f);
}

/* No ready callback: never ready. */
static void test_readyz_without_callback(void **state)
{
    struct httpd_options o;
    struct httpd *h = NULL;
    struct reply r;
    char why[256];
    (void)state;

    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    assert_int_equal(httpd_start(&o, &h, why, sizeof(why)), ERR_OK);
    http(h, NULL, "/readyz", NULL, &r);
    expect(&r, 503, "text/plain", "not ready\n");
    /* and without the other callbacks, their paths do not exist */
    http(h, NULL, "/metrics", NULL, &r);
    expect(&r, 404, "text/plain", "not found\n");
    http(h, NULL, "/debug/decision?namespace=prod&scaledobject=granite", NULL, &r);
    expect(&r, 404, "text/plain", "not found\n");
    http(h, NULL, "/healthz", NULL, &r);
    expect(&r, 200, "text/plain", "ok\n");
    httpd_stop(h);
}

static void test_metrics(void **state)
{
    struct fake f;
    struct httpd *h;
    struct reply r;
    (void)state;

    fake_init(&f);
    h = start(&f, true, false);
    http(h, NULL, "/metrics", NULL, &r);
    expect(&r, 200, "text/plain; version=0.0.4; charset=utf-8", METRICS_TEXT);
    assert_int_equal(atomic_load(&f.metrics_calls), 1);
    /* rendered per scrape, never cached */
    http(h, NULL, "/metrics", NULL, &r);
    expect(&r, 200, "text/plain; version=0.0.4; charset=utf-8", METRICS_TEXT);
    assert_int_equal(atomic_load(&f.metrics_calls), 2);
    /* the callback failing: 500 */
    f.metrics_rc = ERR_NOMEM;
    http(h, NULL, "/metrics", NULL, &r);
    expect(&r, 500, "text/plain", "metrics unavailable\n");
    f.metrics_rc = ERR_OK;
    http(h, NULL, "/metrics", NULL, &r);
    expect(&r, 200, "text/plain; version=0.0.4; charset=utf-8", METRICS_TEXT);
    httpd_stop(h);
    fake_destroy(&f);
}

static void test_decision(void **state)
{
    static const char found[] =
        "{\"namespace\":\"prod\",\"scaledobject\":\"granite\",\"desired\":3}\n";
    static const char missing[] =
        "{\"error\":\"no decision recorded for that ScaledObject (yet)\"}\n";
    static const char required[] =
        "{\"error\":\"namespace and scaledobject query parameters are required\"}\n";
    /* query strings the handler must refuse before asking the callback */
    static const char *const bad_queries[] = {
        "/debug/decision",
        "/debug/decision?",
        "/debug/decision?namespace=prod",
        "/debug/decision?scaledobject=granite",
        "/debug/decision?namespace=&scaledobject=granite",
        "/debug/decision?namespace=prod&scaledobject=",
        "/debug/decision?namespace&scaledobject",
        "/debug/decision?ns=prod&so=granite",
    };
    struct fake f;
    struct httpd *h;
    struct reply r;
    size_t i;
    (void)state;

    fake_init(&f);
    h = start(&f, false, true);

    http(h, NULL, "/debug/decision?namespace=prod&scaledobject=granite", NULL, &r);
    expect(&r, 200, "application/json", found);
    assert_string_equal(f.last_ns, "prod");
    assert_string_equal(f.last_so, "granite");
    /* parameter order does not matter; unknown parameters are ignored */
    http(h, NULL, "/debug/decision?x=1&scaledobject=granite&namespace=prod", NULL, &r);
    expect(&r, 200, "application/json", found);

    /* a ScaledObject without a decision */
    http(h, NULL, "/debug/decision?namespace=prod&scaledobject=llama", NULL, &r);
    expect(&r, 404, "application/json", missing);
    assert_string_equal(f.last_so, "llama");
    /* values reach the callback percent-decoded */
    http(h, NULL, "/debug/decision?namespace=a%2Fb&scaledobject=c%20d", NULL, &r);
    expect(&r, 404, "application/json", missing);
    assert_string_equal(f.last_ns, "a/b");
    assert_string_equal(f.last_so, "c d");
    assert_int_equal(atomic_load(&f.decision_calls), 4);

    for (i = 0; i < N_OF(bad_queries); i++) {
        http(h, NULL, bad_queries[i], NULL, &r);
        if (r.status != 400)
            print_error("%s\n", bad_queries[i]);
        expect(&r, 400, "application/json", required);
    }
    assert_int_equal(atomic_load(&f.decision_calls), 4); /* never asked */

    /* any other failure of the callback: 500, no detail */
    f.decision_rc = ERR_INTERNAL;
    http(h, NULL, "/debug/decision?namespace=prod&scaledobject=granite", NULL, &r);
    expect(&r, 500, "application/json", "{\"error\":\"internal error\"}\n");
    f.decision_rc = ERR_OK;
    httpd_stop(h);
    fake_destroy(&f);
}

static void test_unknown_paths(void **state)
{
    static const char *const paths[] = {
        "/",        "/healthz/",        "/healthzz",
        "/HEALTHZ", "/readyz/x",        "/metrics.txt",
        "/debug",   "/debug/decision/", "/debug/decisions?namespace=prod&scaledobject=granite",
        "/nope",
    };
    struct fake f;
    struct httpd *h;
    struct reply r;
    size_t i;
    (void)state;

    fake_init(&f);
    atomic_store(&f.ready, true);
    h = start(&f, true, true);
    for (i = 0; i < N_OF(paths); i++) {
        http(h, NULL, paths[i], NULL, &r);
        if (r.status != 404)
            print_error("%s\n", paths[i]);
        expect(&r, 404, "text/plain", "not found\n");
    }
    assert_int_equal(atomic_load(&f.ready_calls), 0);
    assert_int_equal(atomic_load(&f.metrics_calls), 0);
    assert_int_equal(atomic_load(&f.decision_calls), 0);
    httpd_stop(h);
    fake_destroy(&f);
}

static void test_methods(void **state)
{
    static const struct {
        const char *method, *path, *body;
    } refused[] = {
        {"POST", "/healthz", ""},
        {"POST", "/metrics", "a=b"},
        {"PUT", "/readyz", "x"},
        {"DELETE", "/debug/decision?namespace=prod&scaledobject=granite", NULL},
        {"OPTIONS", "/healthz", NULL},
        {"PATCH", "/nope", "{}"},
    };
    struct fake f;
    struct httpd *h;
    struct reply r;
    size_t i;
    (void)state;

    fake_init(&f);
    atomic_store(&f.ready, true);
    h = start(&f, true, true);
    for (i = 0; i < N_OF(refused); i++) {
        http(h, refused[i].method, refused[i].path, refused[i].body, &r);
        if (r.status != 405)
            print_error("%s %s\n", refused[i].method, refused[i].path);
        expect(&r, 405, "text/plain", "GET only\n");
    }
    assert_int_equal(atomic_load(&f.metrics_calls), 0);
    assert_int_equal(atomic_load(&f.decision_calls), 0);
    assert_int_equal(atomic_load(&f.ready_calls), 0);

    /* HEAD: the status and headers of GET, no body */
    http(h, "HEAD", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.type, "text/plain");
    http(h, "HEAD", "/readyz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_int_equal(atomic_load(&f.ready_calls), 1);
    http(h, "HEAD", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_int_equal(atomic_load(&f.metrics_calls), 1); /* the body was made and freed */

    /* still serving after the refusals */
    http(h, NULL, "/healthz", NULL, &r);
    expect(&r, 200, "text/plain", "ok\n");
    httpd_stop(h);
    fake_destroy(&f);
}

/* A few clients at once: every answer is whole and right. */
struct client {
    int port, ok;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    int i;
    for (i = 0; i < 20; i++) {
        struct reply r;
        const char *path =
            i % 2 ? "/metrics" : "/debug/decision?namespace=prod&scaledobject=granite";
        http_port(c->port, NULL, path, NULL, &r);
        if (r.rc == CURLE_OK && r.status == 200 &&
            strcmp(r.body, i % 2 ? METRICS_TEXT
                                 : "{\"namespace\":\"prod\",\"scaledobject\":\"granite\","
                                   "\"desired\":3}\n") == 0)
            c->ok++;
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    enum { CLIENTS = 4 };
    struct fake f;
    struct httpd *h;
    struct client c[CLIENTS];
    pthread_t t[CLIENTS];
    int i;
    (void)state;

    fake_init(&f);
    h = start(&f, true, true);
    for (i = 0; i < CLIENTS; i++) {
        c[i].port = httpd_port(h);
        c[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, client_main, &c[i]), 0);
    }
    for (i = 0; i < CLIENTS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(c[i].ok, 20);
    }
    assert_int_equal(atomic_load(&f.metrics_calls), CLIENTS * 10);
    assert_int_equal(atomic_load(&f.decision_calls), CLIENTS * 10);
    httpd_stop(h);
    fake_destroy(&f);
}

static void test_listen_refused(void **state)
{
    static const char *const cases[] = {
        "",
        "8080",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:x",
        "127.0.0.1:80x",
        "127.0.0.1:-1",
        "127.0.0.1:65536",
        "localhost:8080",
        "[::1]8080",
        "[::1",
        "999.0.0.1:80",
    };
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(cases); i++) {
        struct httpd_options o;
        struct httpd *h = (struct httpd *)&o; /* must be cleared */
        char why[256] = "";
        memset(&o, 0, sizeof(o));
        o.listen = cases[i];
        if (httpd_start(&o, &h, why, sizeof(why)) != ERR_INVALID) {
            print_error("accepted: \"%s\"\n", cases[i]);
            fail();
        }
        assert_null(h);
        assert_non_null(strstr(why, "--http-listen"));
        assert_non_null(strstr(why, "is not host:port"));
    }
}

static void test_port_in_use(void **state)
{
    struct fake f;
    struct httpd *h, *h2 = NULL;
    struct httpd_options o;
    struct reply r;
    char listen[64], why[256] = "";
    (void)state;

    fake_init(&f);
    h = start(&f, false, false);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", httpd_port(h));
    memset(&o, 0, sizeof(o));
    o.listen = listen;
    assert_int_equal(httpd_start(&o, &h2, why, sizeof(why)), ERR_INVALID);
    assert_null(h2);
    assert_non_null(strstr(why, "could not listen"));
    assert_non_null(strstr(why, listen));
    /* the first server is unharmed */
    http(h, NULL, "/healthz", NULL, &r);
    expect(&r, 200, "text/plain", "ok\n");
    httpd_stop(h);
    fake_destroy(&f);
}

/* Stop closes the listener; NULL is a no-op; two servers are independent. */
static void test_stop(void **state)
{
    struct fake f;
    struct httpd *a, *b;
    struct reply r;
    int port;
    (void)state;

    fake_init(&f);
    httpd_stop(NULL);
    assert_int_equal(httpd_port(NULL), 0);
    a = start(&f, false, false);
    b = start(&f, false, false);
    assert_int_not_equal(httpd_port(a), httpd_port(b));
    port = httpd_port(a);
    httpd_stop(a);
    http(b, NULL, "/healthz", NULL, &r);
    expect(&r, 200, "text/plain", "ok\n");
    /* nothing answers on a's port any more */
    http_port(port, NULL, "/healthz", NULL, &r);
    assert_false(r.rc == CURLE_OK && r.status == 200 && strcmp(r.body, "ok\n") == 0);
    httpd_stop(b);
    fake_destroy(&f);
}

/* [v6]:port, when the host has IPv6 loopback. */
static void test_ipv6_loopback(void **state)
{
    struct sockaddr_in6 sa;
    struct httpd_options o;
    struct httpd *h = NULL;
    char why[256] = "", url[128];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool have_v6;
    CURL *c;
    long status = 0;
    (void)state;

    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    if (!have_v6) {
        skip();
        return;
    }
    memset(&o, 0, sizeof(o));
    o.listen = "[::1]:0";
    assert_int_equal(httpd_start(&o, &h, why, sizeof(why)), ERR_OK);
    assert_true(httpd_port(h) > 0);
    c = curl_easy_init();
    assert_non_null(c);
    snprintf(url, sizeof(url), "http://[::1]:%d/healthz", httpd_port(h));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(c);
    httpd_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_readyz_toggles),
        cmocka_unit_test(test_readyz_without_callback),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_decision),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_listen_refused),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_ipv6_loopback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
