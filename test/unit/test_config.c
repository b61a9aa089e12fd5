/*
 * test_config: the server configuration file (include/config.h).
 *
 * Documents are written with single quotes (j() turns them into double
 * quotes) so the tables stay readable. Every error row asserts ERR_INVALID,
 * a NULL result, and that the message names the JSON path and the problem.
 * File tests use a private temp dir. Every config is freed (valgrind-clean).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "meta.h"

#define DOC_MAX 8192

/* s with every ' replaced by " (test documents never need a literal '). */
static const char *j(const char *s)
{
    static char buf[DOC_MAX];
    size_t n = strlen(s);
    assert_true(n < sizeof buf);
    for (size_t i = 0; i <= n; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    return buf;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("expected \"%s\" in \"%s\"\n", needle, hay);
        fail();
    }
}

static struct config *parse_ok(const char *json)
{
    char why[CONFIG_WHY_LEN];
    struct config *c = NULL;
    enum err_code rc = config_parse(json, strlen(json), &c, why, sizeof why);
    if (rc != ERR_OK) {
        print_error("config_parse failed: %s\n%s\n", why, json);
        fail();
    }
    assert_non_null(c);
    return c;
}

/* ---- the DESIGN example ---------------------------------------------------- */

/*
 * DESIGN.md section 6's example with two changes the rules force: its
 * "default" endpoint has both bearerTokenFile and basicAuth (mutually
 * exclusive), so basicAuth moves to "thanos"; and thanos' url "..." becomes
 * a real URL. test_design_literal pins the conflict.
 */
static const char design_doc[] =
    "{ 'prometheus': { 'default': { 'url': 'https://prometheus:9090', 'bearerTokenFile': "
    "'/var/run/token',"
    "  'caFile': '/etc/ca.crt', 'certFile': '/etc/tls.crt', 'keyFile': '/etc/tls.key', "
    "'insecureSkipVerify': false,"
    "  'headers': { 'X-Scope-OrgID': 'team-a' }, 'queryParameters': { 'tenant': 'a' },"
    "  'timeout': '5s' },"
    "  'thanos': { 'url': 'http://thanos:10902', 'basicAuth': { 'username': 'u', 'passwordFile': "
    "'/etc/pw' } } },"
    "  'defaults':  { 'kvCacheThreshold': 0.8, 'queueLengthThreshold': 5, 'kvSpareTrigger': 0.1,"
    "  'queueSpareTrigger': 3, 'hpaScaleUpTolerance': 0.1, 'hpaScaleDownTolerance': 0.1,"
    "  'metricsWindow': '1m', 'engine': 'vllm', 'scaleToZero': '10m',"
    "  'activationQuery': 'sum(my_gateway_queue{model=\\'$model\\'})' },"
    "  'overrides': [ { 'namespace': 'prod', 'model': 'ibm/granite-13b', 'kvCacheThreshold': 0.85 "
    "} ] }";

static void test_design_example(void **state)
{
    (void)state;
    struct config *c = parse_ok(j(design_doc));

    assert_int_equal(c->n_endpoints, 2);
    const struct config_endpoint *d = config_endpoint(c, NULL);
    assert_ptr_equal(d, &c->endpoints[0]);
    assert_ptr_equal(config_endpoint(c, "default"), d);
    assert_string_equal(d->name, "default");
    assert_string_equal(d->url, "https://prometheus:9090");
    assert_string_equal(d->bearer_token_file, "/var/run/token");
    assert_null(d->basic_username);
    assert_null(d->basic_password_file);
    assert_string_equal(d->ca_file, "/etc/ca.crt");
    assert_string_equal(d->cert_file, "/etc/tls.crt");
    assert_string_equal(d->key_file, "/etc/tls.key");
    assert_false(d->insecure_skip_verify);
    assert_int_equal(d->timeout_ms, 5000);
    assert_int_equal(d->n_headers, 1);
    assert_string_equal(d->header_names[0], "X-Scope-OrgID");
    assert_string_equal(d->header_values[0], "team-a");
    assert_int_equal(d->n_query_params, 1);
    assert_string_equal(d->query_param_names[0], "tenant");
    assert_string_equal(d->query_param_values[0], "a");

    const struct config_endpoint *t = config_endpoint(c, "thanos");
    assert_ptr_equal(t, &c->endpoints[1]);
    assert_string_equal(t->url, "http://thanos:10902");
    assert_null(t->bearer_token_file);
    assert_string_equal(t->basic_username, "u");
    assert_string_equal(t->basic_password_file, "/etc/pw");
    assert_null(t->ca_file);
    assert_null(t->cert_file);
    assert_null(t->key_file);
    assert_int_equal(t->timeout_ms, CONFIG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(t->n_headers, 0);
    assert_int_equal(t->n_query_params, 0);
    assert_null(config_endpoint(c, "nope"));

    const struct meta_decision *df = &c->defaults;
    static const enum meta_field given[] = {
        META_KV_CACHE_THRESHOLD,     META_QUEUE_LENGTH_THRESHOLD,
        META_KV_SPARE_TRIGGER,       META_QUEUE_SPARE_TRIGGER,
        META_HPA_SCALE_UP_TOLERANCE, META_HPA_SCALE_DOWN_TOLERANCE,
        META_METRICS_WINDOW,         META_ENGINE,
        META_SCALE_TO_ZERO};
    uint32_t want = 0;
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        want |= 1u << given[i];
    assert_int_equal(df->set, want);
    assert_true(df->kv_cache_threshold == 0.8);
    assert_true(df->queue_length_threshold == 5.0);
    assert_true(df->kv_spare_trigger == 0.1);
    assert_true(df->queue_spare_trigger == 3.0);
    assert_true(df->hpa_scale_up_tolerance == 0.1);
    assert_true(df->hpa_scale_down_tolerance == 0.1);
    assert_int_equal(df->metrics_window_ms, 60000);
    assert_int_equal(df->engine, META_ENGINE_VLLM);
    assert_int_equal(df->scale_to_zero_ms, 600000);
    assert_string_equal(c->activation_query, "sum(my_gateway_queue{model=\"$model\"})");
    assert_int_equal(c->resolved.scale_to_zero_ms, 600000);
    assert_true(c->resolved.config.kv_cache_threshold == 0.8);

    size_t n = 99;
    const struct meta_layer *dl = config_default_layers(c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(dl->source, "config defaults");
    assert_ptr_equal(dl->decision, &c->defaults);

    assert_int_equal(c->n_overrides, 1);
    const struct config_override *o = &c->overrides[0];
    assert_string_equal(o->namespace_, "prod");
    assert_string_equal(o->model, "ibm/granite-13b");
    assert_int_equal(o->decision.set, 1u << META_KV_CACHE_THRESHOLD);
    assert_true(o->decision.kv_cache_threshold == 0.85);
    assert_string_equal(o->source, "config override prod/ibm/granite-13b");
    assert_ptr_equal(o->layer.decision, &o->decision);
    assert_ptr_equal(o->layer.source, o->source);
    config_free(c);
}

static void test_design_literal(void **state)
{
    (void)state;
    char why[CONFIG_WHY_LEN];
    struct config *c = (struct config *)&why; /* must be cleared */
    const char *doc = j("{'prometheus': {'default': {'url': 'https://prometheus:9090', "
                        "'bearerTokenFile': '/var/run/t', 'basicAuth': {'username': 'u', "
                        "'passwordFile': '/p'}}}}");
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
    assert_null(c);
    assert_string_equal(why,
                        "prometheus.default: bearerTokenFile and basicAuth are mutually exclusive");
}

static void test_example_file(void **state)
{
    (void)state;
    char path[4096], why[CONFIG_WHY_LEN];
    const char *src = getenv("SAT_SOURCE_DIR");
    struct config *c = NULL;

    if (!src)
        skip();
    snprintf(path, sizeof path, "%s/examples/config/config.json", src);
    if (config_load_file(path, &c, why, sizeof why) != ERR_OK) {
        print_error("%s\n", why);
        fail();
    }
    assert_int_equal(c->n_endpoints, 2);
    assert_non_null(config_endpoint(c, NULL));
    const struct config_endpoint *t = config_endpoint(c, "thanos");
    assert_non_null(t);
    assert_non_null(t->basic_username);
    assert_non_null(t->cert_file);
    assert_non_null(t->key_file);
    assert_true(t->n_headers >= 1);
    assert_true(t->n_query_params >= 1);
    assert_int_equal(t->timeout_ms, 10000);
    assert_non_null(c->activation_query);
    assert_int_equal(c->n_overrides, 2);
    assert_non_null(c->overrides[0].namespace_);
    assert_null(c->overrides[1].namespace_);
    config_free(c);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    struct config *c = parse_ok("{}");
    struct meta_layer out[2];
    size_t n = 9;

    assert_int_equal(c->n_endpoints, 0);
    assert_null(c->endpoints);
    assert_null(config_endpoint(c, NULL));
    assert_int_equal(c->defaults.set, 0);
    assert_null(c->activation_query);
    assert_int_equal(c->n_overrides, 0);
    assert_int_equal(config_select_layers(c, "prod", "m", out, 2), 0);
    assert_non_null(config_default_layers(c, &n));
    assert_int_equal(n, 1);
    config_free(c);

    /* Empty sections are fine too; white space around the document. */
    c = parse_ok(j(" \n{'prometheus': {}, 'defaults': {}, 'overrides': []}\n\t"));
    assert_int_equal(c->n_endpoints, 0);
    assert_int_equal(c->n_overrides, 0);
    config_free(c);

    config_free(NULL);
    assert_null(config_endpoint(NULL, NULL));
    assert_int_equal(config_select_layers(NULL, "a", "m", out, 2), 0);
    n = 9;
    assert_null(config_default_layers(NULL, &n));
    assert_int_equal(n, 0);
    assert_int_equal(config_check_files(NULL, NULL, 0), ERR_OK);
}

/* Values accepted in their other spellings. */
static void test_value_forms(void **state)
{
    (void)state;
    struct config *c = parse_ok(
        j("{'defaults': {'kvCacheThreshold': '0.9', 'queueLengthThreshold': ' 7 ', 'minReplicas': "
          "'2', 'maxReplicas': 10, 'variantCost': 2.5, 'hpaTolerance': 0, 'engine': 'SGLang', "
          "'scaleToZero': '0', 'metricsWindow': '1m30s', 'activationQuery': "
          "'sum(q{m=\\'$model\\'})\\n'},"
          " 'prometheus': {'p_1-X': {'url': 'HTTPS://[::1]:9090/prefix/', 'timeout': '10m', "
          "'insecureSkipVerify': true, 'headers': {'X-A': 'a\\tb', '!#$%&*+.^_`|~': 'v'}, "
          "'queryParameters': {'dedup': '', 'partial_response': 'true'}},"
          "  'ip': {'url': 'http://10.0.0.1'}, 'path': {'url': 'http://h.example/a@b/'}}}"));
    const struct meta_decision *d = &c->defaults;
    assert_true(d->kv_cache_threshold == 0.9);
    assert_true(d->queue_length_threshold == 7.0);
    assert_int_equal(d->min_replicas, 2);
    assert_int_equal(d->max_replicas, 10);
    assert_true(d->variant_cost == 2.5);
    assert_true(meta_decision_has(d, META_HPA_TOLERANCE));
    assert_int_equal(d->engine, META_ENGINE_SGLANG);
    assert_true(meta_decision_has(d, META_SCALE_TO_ZERO));
    assert_int_equal(d->scale_to_zero_ms, 0);
    assert_int_equal(d->metrics_window_ms, 90000);
    assert_int_equal(c->resolved.min_replicas, 2);
    const struct config_endpoint *e = config_endpoint(c, "p_1-X");
    assert_non_null(e);
    assert_string_equal(e->url, "HTTPS://[::1]:9090/prefix/");
    assert_int_equal(e->timeout_ms, 600000);
    assert_true(e->insecure_skip_verify);
    assert_string_equal(e->header_values[0], "a\tb");
    assert_int_equal(e->n_query_params, 2);
    assert_string_equal(e->query_param_values[0], "");
    /* '@' in the path is not a credential. */
    assert_string_equal(config_endpoint(c, "path")->url, "http://h.example/a@b/");
    config_free(c);
}

/* ---- errors -------------------------------------------------------------- */

struct bad {
    const char *doc;    /* single-quoted JSON */
    const char *needle; /* must be in why */
    const char *also;   /* and this, when set */
};

#define EP(x) "{'prometheus': {'default': {'url': 'http://p:9090', " x "}}}"
#define URL(x) "{'prometheus': {'default': {'url': '" x "'}}}"

static const struct bad bad_rows[] = {
    /* the document */
    {"[]", "the configuration must be a JSON object, not an array", NULL},
    {"'x'", "must be a JSON object, not a string", NULL},
    {"{'overides': []}", "overides: unknown key (did you mean overrides?)", NULL},
    {"{'server': {}}", "server: unknown key", NULL},
    {"{'defaults': {}, 'defaults': {}}", "defaults: duplicate key", NULL},
    {"{'prometheus': 1}", "prometheus: must be an object of named endpoints, not a number", NULL},
    {"{'prometheus': []}", "prometheus: must be an object of named endpoints, not an array", NULL},
    {"{'defaults': []}", "defaults: must be an object, not an array", NULL},
    {"{'overrides': {}}", "overrides: must be an array, not an object", NULL},
    {"{'overrides': null}", "overrides: must be an array, not null", NULL},

    /* endpoint names */
    {"{'prometheus': {'bad name': {'url': 'http://p'}}}",
     "prometheus.bad name: not a valid endpoint name (1-64 characters of [A-Za-z0-9_-])", NULL},
    {"{'prometheus': {'': {'url': 'http://p'}}}", "prometheus.\"\": not a valid endpoint name",
     NULL},
    {"{'prometheus': {'a.b': {'url': 'http://p'}}}", "prometheus.a.b: not a valid endpoint name",
     NULL},
    {"{'prometheus': {'"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': {'url': 'http://p'}}}",
     "not a valid endpoint name", NULL},
    {"{'prometheus': {'a': {'url': 'http://p'}, 'b': {'url': 'http://q'}, 'a': {'url': "
     "'http://r'}}}",
     "prometheus.a: duplicate endpoint", NULL},
    {"{'prometheus': {'default': 'http://p'}}",
     "prometheus.default: must be an object, not a string", NULL},

    /* url */
    {"{'prometheus': {'default': {}}}", "prometheus.default.url: required", NULL},
    {"{'prometheus': {'thanos': {'timeout': '5s'}}}", "prometheus.thanos.url: required", NULL},
    {"{'prometheus': {'default': {'url': 9090}}}",
     "prometheus.default.url: must be a string, not a number", NULL},
    {URL(""), "prometheus.default.url: must not be empty", NULL},
    {URL("ftp://p"), "prometheus.default.url: \"ftp://p\" must start with http:// or https://",
     NULL},
    {URL("prometheus:9090"), "prometheus.default.url: \"prometheus:9090\" must start with http://",
     NULL},
    {URL("http://"), "prometheus.default.url: \"http://\" has no host", NULL},
    {URL("http://:9090/"), "prometheus.default.url: \"http://:9090/\" has no host", NULL},
    {URL("http:///api"), "has no host", NULL},
    {URL("http://p!x/"), "has an invalid character in its host name", NULL},
    {URL("http://p:0"), "prometheus.default.url: \"http://p:0\" has an invalid port", NULL},
    {URL("http://p:65536"), "has an invalid port", NULL},
    {URL("http://p:"), "has an invalid port", NULL},
    {URL("http://p:90a/"), "has an invalid port", NULL},
    {URL("http://p:000009090"), "has an invalid port", NULL},
    {URL("http://[::1"), "has a malformed [IPv6] host", NULL},
    {URL("http://[]:80"), "has a malformed [IPv6] host", NULL},
    {URL("http://[::1]x"), "has a malformed [IPv6] host", NULL},
    {URL("http://[zz::1]/"), "has a malformed [IPv6] host", NULL},
    {URL("http://p q/"), "must not contain white space or control characters", NULL},
    {URL("http://p/\\u0001"), "must not contain white space or control characters", NULL},
    {URL("http://p:9090/?x=1"),
     "prometheus.default.url: \"http://p:9090/?x=1\" must not have a query string (use "
     "queryParameters)",
     NULL},
    {URL("http://p?"), "must not have a query string", NULL},
    {URL("http://p/#top"), "prometheus.default.url: \"http://p/#top\" must not have a fragment",
     NULL},
    {URL("http://admin:s3cret@p:9090"),
     "prometheus.default.url: must not contain credentials (user:password@); use basicAuth or "
     "bearerTokenFile",
     NULL},
    {URL("https://tok3n@p"), "must not contain credentials", NULL},
    {URL("admin:s3cret@p"), "must not contain credentials", NULL},

    /* timeout */
    {EP("'timeout': '5x'"), "prometheus.default.timeout: \"5x\" is not a duration", NULL},
    {EP("'timeout': '0s'"), "prometheus.default.timeout: \"0s\" must be in (0s, 10m]", NULL},
    {EP("'timeout': '10m1ms'"), "must be in (0s, 10m]", NULL},
    {EP("'timeout': '-1s'"), "prometheus.default.timeout:", NULL},
    {EP("'timeout': 5"),
     "prometheus.default.timeout: must be a duration string like \"5s\", not a number", NULL},

    /* headers */
    {EP("'headers': ['X-A']"),
     "prometheus.default.headers: must be an object of strings, not an array", NULL},
    {EP("'headers': {'X-A': 1}"), "prometheus.default.headers.X-A: must be a string, not a number",
     NULL},
    {EP("'headers': {'X-A': null}"), "prometheus.default.headers.X-A: must be a string, not null",
     NULL},
    {EP("'headers': {'X A': 'v'}"),
     "prometheus.default.headers.X A: not a valid header name (RFC 7230 token characters only)",
     NULL},
    {EP("'headers': {'X:A': 'v'}"), "prometheus.default.headers.X:A: not a valid header name",
     NULL},
    {EP("'headers': {'X(A)': 'v'}"), "not a valid header name", NULL},
    {EP("'headers': {'': 'v'}"), "prometheus.default.headers: the name must not be empty", NULL},
    {EP("'headers': {'X-A': 'a\\r\\nX-Evil: 1'}"),
     "prometheus.default.headers.X-A: \"a\\x0d\\x0aX-Evil: 1\" must not contain CR or LF", NULL},
    {EP("'headers': {'X-A': 'a\\nb'}"), "must not contain CR or LF", NULL},
    {EP("'headers': {'X-A': 'a\\u0001'}"),
     "prometheus.default.headers.X-A: \"a\\x01\" must not contain control characters", NULL},
    {EP("'headers': {'X-A': ''}"), "prometheus.default.headers.X-A: must not be empty", NULL},
    {EP("'headers': {'Authorization': 'Bearer x'}"),
     "prometheus.default.headers.Authorization: header not allowed (use bearerTokenFile or "
     "basicAuth)",
     NULL},
    {EP("'headers': {'authorization': 'Bearer x'}"),
     "prometheus.default.headers.authorization: header not allowed", NULL},
    {EP("'headers': {'Content-Type': 'text/plain'}"),
     "prometheus.default.headers.Content-Type: header not allowed (the scaler sets it)", NULL},
    {EP("'headers': {'content-length': '1'}"), "headers.content-length: header not allowed", NULL},
    {EP("'headers': {'HOST': 'x'}"),
     "headers.HOST: header not allowed (the scaler sets it from url)", NULL},
    {EP("'headers': {'Transfer-Encoding': 'chunked'}"), "header not allowed", NULL},
    {EP("'headers': {'X-A': '1', 'Y': '2', 'x-a': '3'}"),
     "prometheus.default.headers.x-a: duplicate header name (names are case-insensitive)", NULL},
    {EP("'headers': {'X-A': '1', 'X-A': '3'}"), "prometheus.default.headers.X-A: duplicate header",
     NULL},

    /* queryParameters */
    {EP("'queryParameters': 'tenant=a'"),
     "prometheus.default.queryParameters: must be an object of strings, not a string", NULL},
    {EP("'queryParameters': {'query': 'up'}"),
     "prometheus.default.queryParameters.query: parameter not allowed (the scaler sets it)", NULL},
    {EP("'queryParameters': {'tenant': 1}"),
     "prometheus.default.queryParameters.tenant: must be a string, not a number", NULL},
    {EP("'queryParameters': {'': 'a'}"),
     "prometheus.default.queryParameters: the name must not be empty", NULL},
    {EP("'queryParameters': {'t\\u0001': 'a'}"),
     "prometheus.default.queryParameters.t\\x01: the name must not contain control characters",
     NULL},
    {EP("'queryParameters': {'tenant': 'a', 'tenant': 'b'}"),
     "prometheus.default.queryParameters.tenant: duplicate key", NULL},

    /* credentials and TLS */
    {EP("'bearerTokenFile': '/t', 'basicAuth': {'username': 'u', 'passwordFile': '/p'}"),
     "prometheus.default: bearerTokenFile and basicAuth are mutually exclusive", NULL},
    {EP("'basicAuth': {'username': 'u'}"), "prometheus.default.basicAuth.passwordFile: required",
     NULL},
    {EP("'basicAuth': {'passwordFile': '/p'}"), "prometheus.default.basicAuth.username: required",
     NULL},
    {EP("'basicAuth': {}"), "prometheus.default.basicAuth.username: required", NULL},
    {EP("'basicAuth': 'u:p'"), "prometheus.default.basicAuth: must be an object, not a string",
     NULL},
    {EP("'basicAuth': {'username': 'u', 'password': 'p'}"),
     "prometheus.default.basicAuth.password: unknown key", NULL},
    {EP("'basicAuth': {'usrname': 'u', 'passwordFile': '/p'}"),
     "prometheus.default.basicAuth.usrname: unknown key (did you mean username?)", NULL},
    {EP("'basicAuth': {'username': 'u', 'username': 'v', 'passwordFile': '/p'}"),
     "prometheus.default.basicAuth.username: duplicate key", NULL},
    {EP("'basicAuth': {'username': 'a:b', 'passwordFile': '/p'}"),
     "prometheus.default.basicAuth.username: \"a:b\" must not contain ':' (RFC 7617)", NULL},
    {EP("'basicAuth': {'username': '', 'passwordFile': '/p'}"),
     "prometheus.default.basicAuth.username: must not be empty", NULL},
    {EP("'basicAuth': {'username': 1, 'passwordFile': '/p'}"),
     "prometheus.default.basicAuth.username: must be a string, not a number", NULL},
    {EP("'basicAuth': {'username': 'u', 'passwordFile': ''}"),
     "prometheus.default.basicAuth.passwordFile: must not be empty", NULL},
    {EP("'certFile': '/c'"), "prometheus.default.certFile: requires keyFile", NULL},
    {EP("'keyFile': '/k'"), "prometheus.default.keyFile: requires certFile", NULL},
    {EP("'caFile': ''"), "prometheus.default.caFile: must not be empty", NULL},
    {EP("'caFile': 1"), "prometheus.default.caFile: must be a file name (string), not a number",
     NULL},
    {EP("'caFile': '/a\\nb'"), "prometheus.default.caFile: \"/a\\x0ab\" must not contain control",
     NULL},
    {EP("'bearerTokenFile': null"),
     "prometheus.default.bearerTokenFile: must be a file name (string), not null", NULL},
    {EP("'certFile': [], 'keyFile': '/k'"), "prometheus.default.certFile: must be a file name",
     NULL},
    {EP("'keyFile': {}, 'certFile': '/c'"), "prometheus.default.keyFile: must be a file name",
     NULL},
    {EP("'insecureSkipVerify': 'true'"),
     "prometheus.default.insecureSkipVerify: must be true or false, not a string", NULL},
    {EP("'insecureSkipVerify': 1"), "insecureSkipVerify: must be true or false, not a number",
     NULL},

    /* unknown and repeated endpoint keys */
    {EP("'tiemout': '5s'"), "prometheus.default.tiemout: unknown key (did you mean timeout?)",
     NULL},
    {EP("'URL': 'http://x'"), "prometheus.default.URL: unknown key (did you mean url?)", NULL},
    {EP("'token': 'x'"), "prometheus.default.token: unknown key", NULL},
    {EP("'url': 'http://q'"), "prometheus.default.url: duplicate key", NULL},
    {EP("'x\\u0001': 1"), "prometheus.default.x\\x01: unknown key", NULL},

    /* defaults: keys */
    {"{'defaults': {'kvCacheThresold': 0.8}}",
     "defaults.kvCacheThresold: unknown key (did you mean kvCacheThreshold?)", NULL},
    {"{'defaults': {'activationquery': 'x'}}",
     "defaults.activationquery: unknown key (did you mean activationQuery?)", NULL},
    {"{'defaults': {'bogus': 1}}", "defaults.bogus: unknown key", NULL},
    {"{'defaults': {'modelID': 'm'}}",
     "defaults.modelID: not a decision key (set it in the trigger metadata)", NULL},
    {"{'defaults': {'namespace': 'prod'}}",
     "defaults.namespace: not a decision key (set it in the trigger metadata)", NULL},
    {"{'defaults': {'prometheus': 'default'}}",
     "defaults.prometheus: not a decision key (set it in the trigger metadata)", NULL},
    {"{'defaults': {'metricName': 'x'}}",
     "defaults.metricName: not a decision key (set it in the trigger metadata)", NULL},
    {"{'defaults': {'model': 'm'}}", "defaults.model: only allowed in an override", NULL},
    {"{'defaults': {'kvCacheThreshold': 0.8, 'kvCacheThreshold': 0.9}}",
     "defaults.kvCacheThreshold: duplicate key", NULL},

    /* defaults: values */
    {"{'defaults': {'kvCacheThreshold': 1.5}}", "defaults.kvCacheThreshold: 1.5 must be in (0, 1]",
     NULL},
    {"{'defaults': {'kvCacheThreshold': 0}}", "defaults.kvCacheThreshold: 0 must be in (0, 1]",
     NULL},
    {"{'defaults': {'kvCacheThreshold': '1.5'}}",
     "defaults.kvCacheThreshold: \"1.5\" must be in (0, 1]", NULL},
    {"{'defaults': {'kvCacheThreshold': 'abc'}}",
     "defaults.kvCacheThreshold: \"abc\" is not a finite number", NULL},
    {"{'defaults': {'kvCacheThreshold': ''}}", "defaults.kvCacheThreshold: \"\" must not be empty",
     NULL},
    {"{'defaults': {'kvCacheThreshold': true}}",
     "defaults.kvCacheThreshold: must be a number, not a boolean", NULL},
    {"{'defaults': {'kvCacheThreshold': null}}",
     "defaults.kvCacheThreshold: must be a number, not null", NULL},
    {"{'defaults': {'kvCacheThreshold': 1e999}}", "defaults.kvCacheThreshold: ", "finite"},
    {"{'defaults': {'queueLengthThreshold': -1}}", "defaults.queueLengthThreshold: -1 must be > 0",
     NULL},
    {"{'defaults': {'queueSpareTrigger': [3]}}",
     "defaults.queueSpareTrigger: must be a number, not an array", NULL},
    {"{'defaults': {'minReplicas': 1.5}}", "defaults.minReplicas: 1.5 must be an integer", NULL},
    {"{'defaults': {'maxReplicas': '2x'}}", "defaults.maxReplicas: \"2x\" is not an integer", NULL},
    {"{'defaults': {'variantCost': -1}}", "defaults.variantCost: -1 must be >= 0", NULL},
    {"{'defaults': {'hpaTolerance': 1}}", "defaults.hpaTolerance: 1 must be in [0, 1)", NULL},
    {"{'defaults': {'metricsWindow': 60}}", "defaults.metricsWindow: 60 must be a duration string",
     NULL},
    {"{'defaults': {'metricsWindow': '1x'}}", "defaults.metricsWindow: \"1x\" is not a duration",
     NULL},
    {"{'defaults': {'metricsWindow': '0s'}}", "defaults.metricsWindow: \"0s\" must be in (0s, 24h]",
     NULL},
    {"{'defaults': {'metricsWindow': []}}",
     "defaults.metricsWindow: must be a duration string like \"30s\", not an array", NULL},
    {"{'defaults': {'scaleToZero': false}}",
     "defaults.scaleToZero: must be a duration string like \"30s\", not a boolean", NULL},
    {"{'defaults': {'engine': 'tgi'}}", "defaults.engine: \"tgi\" must be vllm or sglang", NULL},
    {"{'defaults': {'engine': 1}}", "defaults.engine: 1 must be the string \"vllm\" or \"sglang\"",
     NULL},
    {"{'defaults': {'engine': null}}",
     "defaults.engine: must be the string \"vllm\" or \"sglang\", not null", NULL},

    /* activationQuery */
    {"{'defaults': {'activationQuery': 'sum(my_gateway_queue)'}}",
     "defaults.activationQuery: must contain $model", NULL},
    {"{'defaults': {'activationQuery': 'q{m=\\'$models\\'}'}}",
     "defaults.activationQuery: must contain $model", NULL},
    {"{'defaults': {'activationQuery': ''}}", "defaults.activationQuery: must contain $model",
     NULL},
    {"{'defaults': {'activationQuery': 1}}",
     "defaults.activationQuery: must be a PromQL string, not a number", NULL},
    {"{'defaults': {'activationQuery': 'q{m=\\'$model\\'}\\u0007'}}",
     "defaults.activationQuery: must not contain control characters", NULL},
    {"{'defaults': {'activationQuery': '$model', 'activationQuery': '$model'}}",
     "defaults.activationQuery: duplicate key", NULL},

    /* cross-key rules on the defaults */
    {"{'defaults': {'kvCacheThreshold': 0.8, 'kvSpareTrigger': 0.9}}",
     "defaults: ", "kvSpareTrigger 0.9 from config defaults"},
    {"{'defaults': {'kvSpareTrigger': 0.9}}", "defaults: ", "kvCacheThreshold 0.8 from default"},
    {"{'defaults': {'minReplicas': 5, 'maxReplicas': 2}}",
     "defaults: minReplicas must be <= maxReplicas (minReplicas 5 from config defaults; "
     "maxReplicas 2 from config defaults)",
     NULL},

    /* overrides: shape and selector */
    {"{'overrides': [1]}", "overrides[0]: must be an object, not a number", NULL},
    {"{'overrides': [{'model': 'a'}, {'model': 'b'}, {'kvCacheThreshold': 0.9}]}",
     "overrides[2].model: required", NULL},
    {"{'overrides': [{'namespace': 'prod'}]}", "overrides[0].model: required", NULL},
    {"{'overrides': [{'model': ''}]}", "overrides[0].model: must not be empty", NULL},
    {"{'overrides': [{'model': 5}]}", "overrides[0].model: must be a string, not a number", NULL},
    {"{'overrides': [{'model': ' m'}]}",
     "overrides[0].model: \" m\" must not start or end with white space", NULL},
    {"{'overrides': [{'model': 'm\\t'}]}",
     "overrides[0].model: \"m\\x09\" must not contain control", NULL},
    {"{'overrides': [{'model': 'm', 'model': 'n'}]}", "overrides[0].model: duplicate key", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': 'Prod'}]}",
     "overrides[0].namespace: \"Prod\" is not a valid namespace name (DNS-1123 label", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': '-a'}]}", "is not a valid namespace name", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': 'a-'}]}", "is not a valid namespace name", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': 'a.b'}]}", "is not a valid namespace name", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': "
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}]}",
     "is not a valid namespace name", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': ''}]}",
     "overrides[0].namespace: must not be empty (omit it to match every namespace)", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': '*'}]}",
     "overrides[0].namespace: \"*\": omit namespace to match every namespace", NULL},
    {"{'overrides': [{'model': 'm', 'namespace': null}]}",
     "overrides[0].namespace: must be a string, not null", NULL},

    /* overrides: keys and values */
    {"{'overrides': [{'model': 'm', 'activationQuery': '$model'}]}",
     "overrides[0].activationQuery: only allowed in defaults", NULL},
    {"{'overrides': [{'modelID': 'm'}]}",
     "overrides[0].modelID: not a decision key (an override names its model with \"model\")", NULL},
    {"{'overrides': [{'model': 'm', 'prometheus': 'thanos'}]}",
     "overrides[0].prometheus: not a decision key (set it in the trigger metadata)", NULL},
    {"{'overrides': [{'model': 'm', 'kvcachethreshold': 0.9}]}",
     "overrides[0].kvcachethreshold: unknown key (did you mean kvCacheThreshold?)", NULL},
    {"{'overrides': [{'model': 'm', 'namspace': 'prod'}]}",
     "overrides[0].namspace: unknown key (did you mean namespace?)", NULL},
    {"{'overrides': [{'model': 'm', 'kvCacheThreshold': 0}]}",
     "overrides[0].kvCacheThreshold: 0 must be in (0, 1]", NULL},
    {"{'overrides': [{'model': 'm', 'engine': 'x'}]}", "overrides[0].engine: \"x\" must be vllm",
     NULL},
    {"{'overrides': [{'model': 'm', 'scaleToZero': 10}]}",
     "overrides[0].scaleToZero: 10 must be a duration string", NULL},

    /* overrides: duplicates */
    {"{'overrides': [{'namespace': 'prod', 'model': 'm'}, {'namespace': 'prod', 'model': 'm'}]}",
     "overrides[1] (prod/m): same namespace and model as overrides[0]", NULL},
    /* A namespaced override stacks on the model's any-namespace one at run
     * time: the combination must be valid too (found by fuzzing). */
    {"{'overrides': [{'model': 'm', 'kvCacheThreshold': 0.6},"
     " {'namespace': 'prod', 'model': 'm', 'kvSpareTrigger': 0.7}]}",
     "overrides[1] (prod/m): kvSpareTrigger must be <= kvCacheThreshold", NULL},
    {"{'overrides': [{'model': 'm'}, {'model': 'n'}, {'model': 'm', 'kvCacheThreshold': 0.9}]}",
     "overrides[2] (m, any namespace): same namespace and model as overrides[0]", NULL},
    {"{'overrides': [{'model': 'z'}, {'model': 'a', 'namespace': 'x'}, {'model': 'z'}, "
     "{'model': 'a', 'namespace': 'x'}]}",
     "overrides[2] (z, any namespace): same namespace and model as overrides[0]", NULL},

    /* cross-key rules per override, on top of the defaults */
    {"{'defaults': {'kvSpareTrigger': 0.5}, 'overrides': [{'model': 'ok'}, {'namespace': 'prod', "
     "'model': 'ibm/granite-13b', 'kvCacheThreshold': 0.4}]}",
     "overrides[1] (prod/ibm/granite-13b): ",
     "kvSpareTrigger 0.5 from config defaults; kvCacheThreshold 0.4 from config override "
     "prod/ibm/granite-13b"},
    {"{'defaults': {'maxReplicas': 3}, 'overrides': [{'model': 'm', 'minReplicas': 5}]}",
     "overrides[0] (m, any namespace): minReplicas must be <= maxReplicas", NULL},
};

static void test_errors(void **state)
{
    (void)state;
    char why[CONFIG_WHY_LEN];

    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        const struct bad *b = &bad_rows[i];
        const char *doc = j(b->doc);
        struct config *c = (struct config *)why; /* garbage: must be cleared */
        why[0] = '\0';
        enum err_code rc = config_parse(doc, strlen(doc), &c, why, sizeof why);
        if (rc != ERR_INVALID || c != NULL || !strstr(why, b->needle) ||
            (b->also && !strstr(why, b->also))) {
            print_error("row %zu: %s\n  rc %d, why \"%s\"\n  want \"%s\"%s%s\n", i, doc, rc, why,
                        b->needle, b->also ? " and " : "", b->also ? b->also : "");
            fail();
        }
    }
}

/* The password of a URL with credentials is never echoed. */
static void test_url_credentials_not_echoed(void **state)
{
    (void)state;
    char why[CONFIG_WHY_LEN];
    struct config *c;
    const char *docs[] = {URL("http://admin:s3cret@p:9090"), URL("ftp://admin:s3cret@p"),
                          URL("http://admin:s3cret@p?x=1")};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        const char *doc = j(docs[i]);
        assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
        assert_contains(why, "credentials");
        assert_null(strstr(why, "s3cret"));
    }
}

static void test_long_values(void **state)
{
    (void)state;
    char *doc = malloc(16384), *big = malloc(8200);
    char why[CONFIG_WHY_LEN];
    struct config *c;
    assert_non_null(doc);
    assert_non_null(big);

    /* activationQuery: 4096 bytes pass, 4097 fail. */
    memset(big, 'x', 4096);
    memcpy(big, "${model}", 8);
    big[4096] = '\0';
    snprintf(doc, 16384, "{\"defaults\": {\"activationQuery\": \"%s\"}}", big);
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_OK);
    assert_int_equal(strlen(c->activation_query), 4096);
    config_free(c);
    big[4096] = 'x';
    big[4097] = '\0';
    snprintf(doc, 16384, "{\"defaults\": {\"activationQuery\": \"%s\"}}", big);
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
    assert_string_equal(why, "defaults.activationQuery: longer than 4096 bytes");

    /* A model id longer than metadata allows can never match. */
    memset(big, 'm', 1025);
    big[1025] = '\0';
    snprintf(doc, 16384, "{\"overrides\": [{\"model\": \"%s\"}]}", big);
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
    assert_string_equal(why, "overrides[0].model: longer than 1024 bytes");

    /* url beyond CONFIG_URL_MAX. */
    memcpy(big, "http://p/", 9);
    memset(big + 9, 'a', CONFIG_URL_MAX);
    big[9 + CONFIG_URL_MAX] = '\0';
    snprintf(doc, 16384, "{\"prometheus\": {\"default\": {\"url\": \"%s\"}}}", big);
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
    assert_contains(why, "prometheus.default.url: \"http://p/aaa");
    assert_contains(why, "aaa\"... is longer than 2048 bytes");

    /* A long unknown key is cut in the path, not echoed whole. */
    memset(big, 'k', 500);
    big[500] = '\0';
    snprintf(doc, 16384, "{\"defaults\": {\"%s\": 1}}", big);
    assert_int_equal(config_parse(doc, strlen(doc), &c, why, sizeof why), ERR_INVALID);
    assert_contains(why, "kkkk...: unknown key");
    assert_true(strlen(why) < 120);
    free(doc);
    free(big);
}

static void test_invalid_json(void **state)
{
    (void)state;
    char why[CONFIG_WHY_LEN];
    struct config *c;
    static const struct {
        const char *doc;
        const char *want;
    } rows[] = {
        {"", "invalid JSON near byte 0"},
        {"{", "invalid JSON near byte 0"},
        {"{\"defaults\": x}", "invalid JSON near byte 13"},
        {"{\"defaults\": {\"kvCacheThreshold\": 0.8,}}", "invalid JSON near byte"},
        {"{} {}", "invalid JSON near byte 3: data after the top-level value"},
        {"{}\n]", "invalid JSON near byte 3: data after the top-level value"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(config_parse(rows[i].doc, strlen(rows[i].doc), &c, why, sizeof why),
                         ERR_INVALID);
        assert_null(c);
        assert_contains(why, rows[i].want);
    }
    /* A NUL byte would cut strings silently. */
    static const char nul[] = "{\"defaults\": {}}\0 ";
    assert_int_equal(config_parse(nul, sizeof nul - 1, &c, why, sizeof why), ERR_INVALID);
    assert_string_equal(why, "invalid JSON near byte 16: NUL byte");
    /* Only len bytes are read: no NUL terminator needed. */
    static const char part[] = "{}garbage";
    assert_int_equal(config_parse(part, 2, &c, why, sizeof why), ERR_OK);
    config_free(c);
    /* Bad arguments. */
    assert_int_equal(config_parse("{}", 2, NULL, why, sizeof why), ERR_INTERNAL);
    assert_int_equal(config_parse(NULL, 3, &c, why, sizeof why), ERR_INTERNAL);
    assert_null(c);
    assert_int_equal(config_parse(NULL, 0, &c, NULL, 0), ERR_INVALID);
}

/* ---- selecting layers ------------------------------------------------------- */

static const char layered_doc[] =
    "{'defaults': {'kvCacheThreshold': 0.7, 'queueLengthThreshold': 6},"
    " 'overrides': ["
    "  {'model': 'm', 'kvCacheThreshold': 0.75, 'queueLengthThreshold': 7},"
    "  {'namespace': 'prod', 'model': 'm', 'kvCacheThreshold': 0.9},"
    "  {'namespace': 'dev', 'model': 'only-dev', 'kvCacheThreshold': 0.6},"
    "  {'namespace': 'prod', 'model': 'm2', 'queueSpareTrigger': 1}]}";

static void test_select_layers(void **state)
{
    (void)state;
    struct config *c = parse_ok(j(layered_doc));
    struct meta_layer out[4];

    /* namespace + model beats model only; both are returned, in order. */
    assert_int_equal(config_select_layers(c, "prod", "m", out, 4), 2);
    assert_string_equal(out[0].source, "config override prod/m");
    assert_true(out[0].decision->kv_cache_threshold == 0.9);
    assert_string_equal(out[1].source, "config override m (any namespace)");
    assert_true(out[1].decision->kv_cache_threshold == 0.75);
    /* cap is honoured, most specific first. */
    assert_int_equal(config_select_layers(c, "prod", "m", out, 1), 1);
    assert_string_equal(out[0].source, "config override prod/m");
    assert_int_equal(config_select_layers(c, "prod", "m", out, 0), 0);
    /* Another namespace: only the model-only override. */
    assert_int_equal(config_select_layers(c, "staging", "m", out, 4), 1);
    assert_string_equal(out[0].source, "config override m (any namespace)");
    /* Another namespace's override does not match. */
    assert_int_equal(config_select_layers(c, "prod", "only-dev", out, 4), 0);
    assert_int_equal(config_select_layers(c, "dev", "only-dev", out, 4), 1);
    assert_int_equal(config_select_layers(c, "dev", "m2", out, 4), 0);
    /* No override at all; exact bytes only. */
    assert_int_equal(config_select_layers(c, "prod", "other", out, 4), 0);
    assert_int_equal(config_select_layers(c, "prod", "M", out, 4), 0);
    assert_int_equal(config_select_layers(c, "prod", "", out, 4), 0);
    /* No namespace: the model-only override. */
    assert_int_equal(config_select_layers(c, NULL, "m", out, 4), 1);
    assert_int_equal(config_select_layers(c, "", "m", out, 4), 1);
    assert_int_equal(config_select_layers(c, "prod", NULL, out, 4), 0);
    config_free(c);
}

/* The glue: meta_parse() with the config's layers resolves metadata >
 * namespace override > model override > config defaults > built-ins. */
static void test_meta_integration(void **state)
{
    (void)state;
    struct config *c = parse_ok(j(layered_doc));
    struct meta_options opt;
    struct meta_request r;
    char why[META_WHY_LEN];
    const char *keys[2] = {"modelID", "kvCacheThreshold"};
    const char *vals[2] = {"m", "0.95"};

    memset(&opt, 0, sizeof opt);
    opt.select_layers = config_select_layers;
    opt.select_arg = c;
    opt.layers = config_default_layers(c, &opt.n_layers);

    assert_int_equal(meta_parse("v", "prod", keys, vals, 1, &opt, &r, why, sizeof why), ERR_OK);
    assert_true(r.resolved.config.kv_cache_threshold == 0.9);
    assert_true(r.resolved.config.queue_length_threshold == 7.0);
    assert_true(r.resolved.config.kv_spare_trigger == SAT_DEFAULT_KV_SPARE_TRIGGER);
    meta_request_clear(&r);

    assert_int_equal(meta_parse("v", "prod", keys, vals, 2, &opt, &r, why, sizeof why), ERR_OK);
    assert_true(r.resolved.config.kv_cache_threshold == 0.95);
    meta_request_clear(&r);

    assert_int_equal(meta_parse("v", "staging", keys, vals, 1, &opt, &r, why, sizeof why), ERR_OK);
    assert_true(r.resolved.config.kv_cache_threshold == 0.75);
    meta_request_clear(&r);

    vals[0] = "m2";
    assert_int_equal(meta_parse("v", "staging", keys, vals, 1, &opt, &r, why, sizeof why), ERR_OK);
    assert_true(r.resolved.config.kv_cache_threshold == 0.7);
    assert_true(r.resolved.config.queue_length_threshold == 6.0);
    meta_request_clear(&r);

    /* A metadata value that clashes with an override names both sources. */
    keys[1] = "kvSpareTrigger";
    vals[0] = "m";
    vals[1] = "0.92";
    assert_int_equal(meta_parse("v", "prod", keys, vals, 2, &opt, &r, why, sizeof why),
                     ERR_INVALID);
    assert_contains(why, "from config override prod/m");
    config_free(c);
}

/* Thousands of overrides: sorted once, two binary searches per lookup. */
static void test_many_overrides(void **state)
{
    (void)state;
    enum { N = 6000 };
    size_t cap = (size_t)N * 96 + 64, o = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);

    o += (size_t)snprintf(doc + o, cap - o, "{\"overrides\": [");
    for (int i = 0; i < N; i++) {
        /* Every model twice: model-only and in namespace ns<i % 7>;
         * written in reverse so sorting has work to do. */
        int m = N / 2 - 1 - i / 2;
        if (i % 2)
            o += (size_t)snprintf(doc + o, cap - o,
                                  "%s{\"model\": \"org/model-%05d\", \"minReplicas\": %d}",
                                  i ? "," : "", m, m % 50);
        else
            o += (size_t)snprintf(doc + o, cap - o,
                                  "%s{\"namespace\": \"ns%d\", \"model\": \"org/model-%05d\", "
                                  "\"maxReplicas\": %d}",
                                  i ? "," : "", m % 7, m, 100 + m);
        assert_true(o < cap);
    }
    o += (size_t)snprintf(doc + o, cap - o, "]}");
    struct config *c = parse_ok(doc);
    free(doc);
    assert_int_equal(c->n_overrides, N);

    struct meta_layer out[2];
    char model[32], ns[8];
    for (int m = 0; m < N / 2; m++) {
        snprintf(model, sizeof model, "org/model-%05d", m);
        snprintf(ns, sizeof ns, "ns%d", m % 7);
        assert_int_equal(config_select_layers(c, ns, model, out, 2), 2);
        assert_int_equal(out[0].decision->max_replicas, 100 + m);
        assert_int_equal(out[1].decision->min_replicas, m % 50);
        snprintf(ns, sizeof ns, "ns%d", (m + 1) % 7);
        assert_int_equal(config_select_layers(c, ns, model, out, 2), 1);
        assert_int_equal(out[0].decision->min_replicas, m % 50);
    }
    assert_int_equal(config_select_layers(c, "ns0", "org/model-99999", out, 2), 0);
    config_free(c);
}

/* ---- --prometheus-url -------------------------------------------------------- */

static void test_set_default_url(void **state)
{
    (void)state;
    char why[CONFIG_WHY_LEN];

    /* No endpoints: creates "default" with the default timeout. */
    struct config *c = parse_ok("{}");
    assert_int_equal(config_set_default_url(c, "http://prometheus:9090", why, sizeof why), ERR_OK);
    assert_int_equal(c->n_endpoints, 1);
    const struct config_endpoint *e = config_endpoint(c, NULL);
    assert_non_null(e);
    assert_string_equal(e->name, "default");
    assert_string_equal(e->url, "http://prometheus:9090");
    assert_int_equal(e->timeout_ms, 5000);
    assert_null(e->bearer_token_file);
    assert_int_equal(e->n_headers, 0);
    /* Again: replaces. */
    assert_int_equal(config_set_default_url(c, "https://other", why, sizeof why), ERR_OK);
    assert_int_equal(c->n_endpoints, 1);
    assert_string_equal(config_endpoint(c, NULL)->url, "https://other");
    config_free(c);

    /* Only a "thanos" endpoint: "default" is added after it. */
    c = parse_ok(j("{'prometheus': {'thanos': {'url': 'http://thanos'}}}"));
    assert_int_equal(config_set_default_url(c, "http://p", why, sizeof why), ERR_OK);
    assert_int_equal(c->n_endpoints, 2);
    assert_string_equal(config_endpoint(c, "thanos")->url, "http://thanos");
    assert_string_equal(config_endpoint(c, NULL)->url, "http://p");
    config_free(c);

    /* A configured "default": only the url changes. */
    c = parse_ok(j(EP("'bearerTokenFile': '/t', 'timeout': '9s', 'headers': {'X-A': 'b'}")));
    assert_int_equal(config_set_default_url(c, "https://new:443/prefix", why, sizeof why), ERR_OK);
    e = config_endpoint(c, NULL);
    assert_string_equal(e->url, "https://new:443/prefix");
    assert_string_equal(e->bearer_token_file, "/t");
    assert_int_equal(e->timeout_ms, 9000);
    assert_int_equal(e->n_headers, 1);

    /* Validated like a config url; on failure nothing changes. */
    static const struct {
        const char *url;
        const char *want;
    } rows[] = {
        {"prometheus:9090", "--prometheus-url: \"prometheus:9090\" must start with http://"},
        {"http://u:pw@p", "--prometheus-url: must not contain credentials"},
        {"http://p/?a=b", "--prometheus-url: \"http://p/?a=b\" must not have a query string"},
        {"", "--prometheus-url: must not be empty"},
        {NULL, "--prometheus-url: must not be empty"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(config_set_default_url(c, rows[i].url, why, sizeof why), ERR_INVALID);
        assert_contains(why, rows[i].want);
        assert_string_equal(config_endpoint(c, NULL)->url, "https://new:443/prefix");
        assert_int_equal(c->n_endpoints, 1);
    }
    config_free(c);
    assert_int_equal(config_set_default_url(NULL, "http://p", why, sizeof why), ERR_INTERNAL);
}

/* ---- files ------------------------------------------------------------------- */

static char tmpdir[64];

static int files_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sat-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}

static int files_teardown(void **state)
{
    (void)state;
    rm("token");
    rm("config.json");
    rm("big.json");
    rm("bad.json");
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_check_files(void **state)
{
    (void)state;
    char doc[2048], why[CONFIG_WHY_LEN], want[512];
    struct config *c;

    write_file("token", "t0k3n\n");
    /* Every named file exists: OK. */
    snprintf(doc, sizeof doc,
             "{\"prometheus\": {\"default\": {\"url\": \"http://p\", \"bearerTokenFile\": "
             "\"%s/token\", \"caFile\": \"%s/token\"}, \"b\": {\"url\": \"http://b\", "
             "\"basicAuth\": {\"username\": \"u\", \"passwordFile\": \"%s/token\"}}}}",
             tmpdir, tmpdir, tmpdir);
    c = parse_ok(doc);
    assert_int_equal(config_check_files(c, why, sizeof why), ERR_OK);
    assert_string_equal(why, "");
    config_free(c);

    /* A missing caFile on the second endpoint. */
    snprintf(doc, sizeof doc,
             "{\"prometheus\": {\"default\": {\"url\": \"http://p\", \"bearerTokenFile\": "
             "\"%s/token\"}, \"thanos\": {\"url\": \"http://t\", \"caFile\": \"%s/missing\"}}}",
             tmpdir, tmpdir);
    c = parse_ok(doc);
    assert_int_equal(config_check_files(c, why, sizeof why), ERR_IO);
    snprintf(want, sizeof want, "prometheus.thanos.caFile: %s/missing: No such file or directory",
             tmpdir);
    assert_string_equal(why, want);
    config_free(c);

    /* A missing password file; a directory as key file. */
    snprintf(doc, sizeof doc,
             "{\"prometheus\": {\"default\": {\"url\": \"http://p\", \"basicAuth\": {\"username\": "
             "\"u\", \"passwordFile\": \"%s/nope\"}}}}",
             tmpdir);
    c = parse_ok(doc);
    assert_int_equal(config_check_files(c, why, sizeof why), ERR_IO);
    snprintf(want, sizeof want,
             "prometheus.default.basicAuth.passwordFile: %s/nope: No such file or directory",
             tmpdir);
    assert_string_equal(why, want);
    config_free(c);

    snprintf(doc, sizeof doc,
             "{\"prometheus\": {\"default\": {\"url\": \"https://p\", \"certFile\": \"%s/token\", "
             "\"keyFile\": \"%s\"}}}",
             tmpdir, tmpdir);
    c = parse_ok(doc);
    assert_int_equal(config_check_files(c, why, sizeof why), ERR_IO);
    snprintf(want, sizeof want, "prometheus.default.keyFile: %s: is a directory", tmpdir);
    assert_string_equal(why, want);
    config_free(c);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[256], why[CONFIG_WHY_LEN], want[512];
    struct config *c = (struct config *)why;

    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    write_file("config.json", "{\"overrides\": [{\"model\": \"m\", \"kvCacheThreshold\": 0.9}]}\n");
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_OK);
    assert_int_equal(c->n_overrides, 1);
    config_free(c);

    /* Messages are prefixed with the path. */
    write_file("bad.json", "{\"defaults\": {\"kvCacheThreshold\": 2}}");
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_INVALID);
    assert_null(c);
    snprintf(want, sizeof want, "%s: defaults.kvCacheThreshold: 2 must be in (0, 1]", path);
    assert_string_equal(why, want);

    write_file("bad.json", "{\"defaults\": ");
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_INVALID);
    snprintf(want, sizeof want, "%s: invalid JSON near byte", path);
    assert_contains(why, want);

    snprintf(path, sizeof path, "%s/missing.json", tmpdir);
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_IO);
    assert_null(c);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(why, want);

    assert_int_equal(config_load_file(tmpdir, &c, why, sizeof why), ERR_IO);
    snprintf(want, sizeof want, "%s: is a directory", tmpdir);
    assert_string_equal(why, want);

    /* Larger than 4 MiB: refused before parsing. */
    snprintf(path, sizeof path, "%s/big.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)CONFIG_MAX_FILE_BYTES + 1), 0);
    fclose(f);
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_INVALID);
    snprintf(want, sizeof want, "%s: larger than 4194304 bytes", path);
    assert_string_equal(why, want);
    /* Exactly 4 MiB is read (and then is not JSON: all NUL bytes). */
    assert_int_equal(truncate(path, (off_t)CONFIG_MAX_FILE_BYTES), 0);
    assert_int_equal(config_load_file(path, &c, why, sizeof why), ERR_INVALID);
    assert_contains(why, "NUL byte");

    assert_int_equal(config_load_file(NULL, &c, why, sizeof why), ERR_INTERNAL);
    assert_int_equal(config_load_file(path, NULL, why, sizeof why), ERR_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_design_literal),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_url_credentials_not_echoed),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_select_layers),
        cmocka_unit_test(test_meta_integration),
        cmocka_unit_test(test_many_overrides),
        cmocka_unit_test(test_set_default_url),
        cmocka_unit_test_setup_teardown(test_check_files, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_load_file, files_setup, files_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
