/*
 * fuzz_request: the bytes of a gRPC request message, down every path the
 * server takes with them before any I/O.
 *
 * Whoever reaches the port sends these bytes; gRPC only frames them. The
 * input is one serialized message, tried as each request type the server
 * accepts (one seed per type makes each path reachable):
 *
 * - GetMetricsRequest, and ScaledObjectRef (IsActive, StreamIsActive,
 *   GetMetricSpec): externalscaler__*__unpack, then what src/rpc.c does
 *   with the result: the metadata map viewed as key/value arrays (NULL
 *   strings as ""), meta_metric_name (GetMetricSpec), meta_parse with the
 *   server's layers (a fixed config's override and defaults, cross-namespace
 *   reads on), meta_metric_name_equal against the GetMetricsRequest's
 *   metricName, and the decision on an empty snapshot (decide_eval with no
 *   table). The responses the server would pack into its fixed 512-byte
 *   buffers are sized here too: a metric name that made one overflow would
 *   be a stack overflow in rpc.c.
 * - HealthCheckRequest: health_parse_request.
 * - ServerReflectionRequest, v1 and v1alpha: reflect_answer on the
 *   embedded descriptor set (reflect_init once; the index stays reachable,
 *   so it is not a leak for LeakSanitizer).
 *
 * Every unpacked message, request, service name and response is freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decide.h"
#include "externalscaler.pb-c.h"
#include "fuzz_util.h"
#include "health.h"
#include "meta.h"
#include "reflect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The size of the stack buffers src/rpc.c packs unary responses into. */
#define RPC_RESPONSE_BUF 512

static const char s_config_json[] =
    "{\"defaults\":{\"kvCacheThreshold\":0.8,\"scaleToZero\":\"10m\"},"
    "\"overrides\":[{\"namespace\":\"llm\",\"model\":\"ibm/granite-13b\","
    "\"maxReplicas\":5},{\"model\":\"ibm/granite-13b\",\"minReplicas\":0}]}";

static struct config *s_config;
static struct reflect *s_reflect;
static int s_ready;

static void setup(void)
{
    char why[CONFIG_WHY_LEN];

    if (s_ready)
        return;
    if (config_parse(s_config_json, sizeof(s_config_json) - 1, &s_config, why, sizeof(why)) !=
        ERR_OK)
        fuzz_fatal("fuzz_request setup: config_parse", why);
    if (reflect_init(&s_reflect) != ERR_OK)
        fuzz_fatal("fuzz_request setup: reflect_init", NULL);
    s_ready = 1;
}

/* The server's path for one ScaledObjectRef; gm_metric is the
 * GetMetricsRequest's metricName (NULL for the other methods). */
static void serve_ref(const Externalscaler__ScaledObjectRef *ref, const char *gm_metric,
                      bool is_get_metrics)
{
    size_t n = ref->n_scalermetadata, i;
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    const char **values = calloc(n ? n : 1, sizeof(char *));
    char spec_name[META_METRIC_NAME_LEN], why[META_WHY_LEN], q[META_QUOTE_LEN];
    struct meta_request req;
    struct meta_options mo;
    struct decide_result d;
    enum err_code rc;

    if (!keys || !values)
        goto out;
    for (i = 0; i < n; i++) {
        keys[i] = ref->scalermetadata[i]->key ? ref->scalermetadata[i]->key : "";
        values[i] = ref->scalermetadata[i]->value ? ref->scalermetadata[i]->value : "";
    }

    /* GetMetricSpec: the name, then the response rpc.c packs. */
    rc = meta_metric_name(keys, values, n, spec_name, sizeof(spec_name), why, sizeof(why));
    if (rc == ERR_OK) {
        Externalscaler__GetMetricSpecResponse resp = EXTERNALSCALER__GET_METRIC_SPEC_RESPONSE__INIT;
        Externalscaler__MetricSpec spec = EXTERNALSCALER__METRIC_SPEC__INIT;
        Externalscaler__MetricSpec *specs[1] = {&spec};
        spec.metricname = spec_name;
        spec.targetsize = 1;
        spec.targetsizefloat = 1.0;
        resp.n_metricspecs = 1;
        resp.metricspecs = specs;
        if (externalscaler__get_metric_spec_response__get_packed_size(&resp) > RPC_RESPONSE_BUF)
            fuzz_fail("GetMetricSpec", "response larger than rpc.c's buffer");
    } else {
        fuzz_check_why(why, sizeof(why), "meta_metric_name");
    }

    /* GetMetrics / IsActive: parse_ref in rpc.c. */
    memset(&mo, 0, sizeof(mo));
    mo.allow_cross_namespace = true;
    mo.select_layers = config_select_layers;
    mo.select_arg = s_config;
    mo.layers = config_default_layers(s_config, &mo.n_layers);
    rc = meta_parse(ref->name ? ref->name : "", ref->namespace_ ? ref->namespace_ : "", keys,
                    values, n, &mo, &req, why, sizeof(why));
    if (rc != ERR_OK) {
        fuzz_check_why(why, sizeof(why), "meta_parse");
        goto out;
    }
    if (is_get_metrics && !meta_metric_name_equal(gm_metric, req.metric_name)) {
        meta_quote(q, sizeof(q), gm_metric);
        if (!memchr(q, '\0', sizeof(q)))
            fuzz_fail("meta_quote", "not terminated");
    }
    rc = decide_eval(NULL, &req, NULL, NULL, &d);
    if (rc != ERR_OK && rc != ERR_NOMEM)
        fuzz_fail("decide_eval", "failed on an empty snapshot");
    if (rc == ERR_OK) {
        Externalscaler__GetMetricsResponse resp = EXTERNALSCALER__GET_METRICS_RESPONSE__INIT;
        Externalscaler__MetricValue mv = EXTERNALSCALER__METRIC_VALUE__INIT;
        Externalscaler__MetricValue *mvs[1] = {&mv};
        if (d.desired != req.resolved.min_replicas)
            fuzz_fail("decide_eval", "empty snapshot but not minReplicas");
        mv.metricname = req.metric_name;
        mv.metricvaluefloat = (double)d.desired;
        mv.metricvalue = d.desired;
        resp.n_metricvalues = 1;
        resp.metricvalues = mvs;
        if (externalscaler__get_metrics_response__get_packed_size(&resp) > RPC_RESPONSE_BUF)
            fuzz_fail("GetMetrics", "response larger than rpc.c's buffer");
        decide_result_clear(&d);
    }
    meta_request_clear(&req);
out:
    free(keys);
    free(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Externalscaler__GetMetricsRequest *gm;
    Externalscaler__ScaledObjectRef *ref;
    char *service = NULL;
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int version;

    setup();

    gm = externalscaler__get_metrics_request__unpack(NULL, size, data);
    if (gm) {
        if (gm->scaledobjectref)
            serve_ref(gm->scaledobjectref, gm->metricname, true);
        externalscaler__get_metrics_request__free_unpacked(gm, NULL);
    }
    ref = externalscaler__scaled_object_ref__unpack(NULL, size, data);
    if (ref) {
        serve_ref(ref, NULL, false);
        externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
    }

    if (health_parse_request(data, size, &service) == ERR_OK) {
        if (!service)
            fuzz_fail("health_parse_request", "ERR_OK without a service");
        fuzz_touch(service);
        free(service);
    } else if (service) {
        fuzz_fail("health_parse_request", "failure with a service");
    }

    for (version = 0; version <= 1; version++) {
        if (reflect_answer(s_reflect, version, data, size, &resp, &resp_len) == ERR_OK) {
            if (!resp && resp_len)
                fuzz_fail("reflect_answer", "NULL response with a length");
            free(resp);
        } else if (resp || resp_len) {
            fuzz_fail("reflect_answer", "failure with a response");
        }
        resp = NULL;
        resp_len = 0;
    }
    return 0;
}
