/*
 * fuzz_meta: the trigger-metadata parser (meta_metric_name, meta_parse) on
 * arbitrary ScaledObjectRef contents.
 *
 * Anyone who can reach the gRPC port chooses the name, the namespace and
 * every key and value of the metadata map, so this is the scaler's widest
 * hostile surface. Input layout, plain text so the seeds read well:
 *
 *   line 1        ScaledObject name
 *   line 2        ScaledObject namespace
 *   lines 3...    metadata entries "key=value" (split at the first '=';
 *                 a line without '=' is a key with an empty value)
 *
 * Each input runs the three paths the server has:
 * 1. meta_metric_name (GetMetricSpec);
 * 2. meta_parse with no options (no config, no cross-namespace reads);
 * 3. meta_parse with allow_cross_namespace, the layers of a fixed config
 *    (defaults and two overrides, through config_select_layers and
 *    config_default_layers exactly as the server wires them), a model-id
 *    fallback and an object layer (the llm-d.ai/managed path).
 *
 * Invariants checked besides the sanitizers: a failure leaves the request
 * cleared and a printable message; a success has every target string set,
 * resolves min <= max, and reports the very metric name that
 * meta_metric_name gives for the same map (else GetMetricSpec and
 * GetMetrics would disagree); meta_metric_name_equal accepts the name it
 * produced. The fixed config is built once and stays reachable (not a
 * leak for LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_config_json[] =
    "{\"defaults\":{\"kvCacheThreshold\":0.8,\"queueLengthThreshold\":5,"
    "\"kvSpareTrigger\":0.1,\"queueSpareTrigger\":3,\"metricsWindow\":\"1m\","
    "\"scaleToZero\":\"30m\",\"activationQuery\":\"sum(x{m=\\\"$model\\\"})\"},"
    "\"overrides\":[{\"namespace\":\"prod\",\"model\":\"ibm/granite-13b\","
    "\"kvCacheThreshold\":0.85,\"kvSpareTrigger\":0.15},"
    "{\"model\":\"ibm/granite-13b\",\"maxReplicas\":8,\"minReplicas\":2},"
    "{\"model\":\"meta-llama/Llama-3.1-8B\",\"queueLengthThreshold\":8,"
    "\"engine\":\"sglang\",\"scaleToZero\":\"0\"}]}";

static struct config *s_config;
static struct meta_decision s_object;
static int s_ready; /* 0 not yet, 1 ready, -1 failed */

static void setup(void)
{
    char why[CONFIG_WHY_LEN];

    if (s_ready)
        return;
    s_ready = -1;
    if (config_parse(s_config_json, sizeof(s_config_json) - 1, &s_config, why, sizeof(why)) !=
        ERR_OK)
        fuzz_fatal("fuzz_meta setup: config_parse", why);
    if (meta_decision_parse(&s_object, "minReplicas", "0", why, sizeof(why)) != ERR_OK ||
        meta_decision_parse(&s_object, "maxReplicas", "6", why, sizeof(why)) != ERR_OK ||
        meta_decision_parse(&s_object, "variantCost", "2.5", why, sizeof(why)) != ERR_OK)
        fuzz_fatal("fuzz_meta setup: meta_decision_parse", why);
    s_ready = 1;
}

static void check_request(const struct meta_request *r, const char *spec_name, bool spec_ok,
                          const char *where)
{
    char key[META_MODEL_KEY_LEN], q[META_QUOTE_LEN];
    size_t klen;

    if (!r->name || !r->namespace_ || !r->model_id || !r->metric_name)
        fuzz_fatal(where, "success with a target string missing");
    if (!r->model_id[0])
        fuzz_fail(where, "empty model id");
    if (r->resolved.max_replicas != SAT_UNSET &&
        r->resolved.min_replicas > r->resolved.max_replicas)
        fuzz_fail(where, "resolved minReplicas > maxReplicas");
    if (!spec_ok)
        fuzz_fail(where, "meta_parse accepted a metricName that meta_metric_name refused");
    if (strcmp(spec_name, r->metric_name) != 0)
        fuzz_fail(where, "meta_parse and meta_metric_name disagree on the metric name");
    if (!meta_metric_name_equal(r->metric_name, r->metric_name))
        fuzz_fail(where, "meta_metric_name_equal refuses its own name");
    klen = meta_model_key(r, key, sizeof(key));
    if (klen >= sizeof(key))
        fuzz_fail(where, "model key longer than META_MODEL_KEY_LEN");
    (void)meta_key_hash(key);
    meta_quote(q, sizeof(q), r->model_id);
    if (!memchr(q, '\0', sizeof(q)))
        fuzz_fail(where, "meta_quote did not terminate");
    fuzz_touch(r->prometheus);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_lines l;
    const char **keys, **values;
    const char *so_name, *so_ns;
    char spec_name[META_METRIC_NAME_LEN], why[META_WHY_LEN];
    struct meta_request req;
    struct meta_options mo;
    struct meta_layer object_layer;
    size_t n, i;
    bool spec_ok;
    enum err_code rc;

    setup();
    if (!fuzz_lines_split(data, size, &l))
        return 0;
    so_name = l.line[0];
    so_ns = l.count > 1 ? l.line[1] : "";
    n = l.count > 2 ? l.count - 2 : 0;
    keys = calloc(n ? n : 1, sizeof(char *));
    values = calloc(n ? n : 1, sizeof(char *));
    if (!keys || !values)
        goto out;
    for (i = 0; i < n; i++) {
        char *kv = l.line[i + 2];
        char *eq = strchr(kv, '=');
        keys[i] = kv;
        if (eq) {
            *eq = '\0';
            values[i] = eq + 1;
        } else {
            values[i] = "";
        }
    }

    /* 1. GetMetricSpec. */
    rc = meta_metric_name(keys, values, n, spec_name, sizeof(spec_name), why, sizeof(why));
    spec_ok = rc == ERR_OK;
    if (spec_ok) {
        if (!spec_name[0])
            fuzz_fail("meta_metric_name", "empty name on success");
    } else {
        if (spec_name[0])
            fuzz_fail("meta_metric_name", "name left on failure");
        fuzz_check_why(why, sizeof(why), "meta_metric_name");
    }

    /* 2. No options. */
    memset(&req, 0xA5, sizeof(req)); /* meta_parse must overwrite it */
    rc = meta_parse(so_name, so_ns, keys, values, n, NULL, &req, why, sizeof(why));
    if (rc == ERR_OK) {
        check_request(&req, spec_name, spec_ok, "meta_parse (no options)");
    } else {
        if (req.name || req.namespace_ || req.model_id || req.metric_name || req.prometheus)
            fuzz_fail("meta_parse (no options)", "failure left strings in the request");
        fuzz_check_why(why, sizeof(why), "meta_parse (no options)");
    }
    meta_request_clear(&req);
    meta_request_clear(&req); /* twice: a no-op on a cleared request */

    /* 3. Everything the server can wire in. */
    memset(&mo, 0, sizeof(mo));
    mo.allow_cross_namespace = true;
    mo.select_layers = config_select_layers;
    mo.select_arg = s_config;
    mo.layers = config_default_layers(s_config, &mo.n_layers);
    mo.model_id_fallback = "ibm/granite-13b";
    object_layer.source = "ScaledObject annotations";
    object_layer.decision = &s_object;
    mo.object_layer = &object_layer;
    rc = meta_parse(so_name, so_ns, keys, values, n, &mo, &req, why, sizeof(why));
    if (rc == ERR_OK) {
        check_request(&req, spec_name, spec_ok, "meta_parse (all options)");
    } else {
        if (req.name || req.namespace_ || req.model_id || req.metric_name || req.prometheus)
            fuzz_fail("meta_parse (all options)", "failure left strings in the request");
        fuzz_check_why(why, sizeof(why), "meta_parse (all options)");
    }
    meta_request_clear(&req);

out:
    free(keys);
    free(values);
    fuzz_lines_free(&l);
    return 0;
}
