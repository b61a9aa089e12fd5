/*
 * meta: KEDA trigger metadata -> a validated, resolved request.
 *
 * KEDA sends a ScaledObjectRef {name, namespace, scalerMetadata} with every
 * call; scalerMetadata is the whole trigger metadata (scalerAddress and any
 * other key we do not know are ignored). This module turns it into a
 * struct meta_request: the target (namespace, model id, metric name,
 * Prometheus endpoint) and every decision value (thresholds, tolerances,
 * min/max, cost, window, scale-to-zero, engine), resolved first hit wins:
 * trigger metadata, then caller-supplied layers (the server config's
 * per-model override, then its defaults), then the built-in defaults (WVA's,
 * sat_config_default()). See DESIGN.md sections 2 and 3.
 *
 * One typed table (meta_decision_keys()) drives the parsing, bounds,
 * defaults and help text of the decision keys, for the metadata and for the
 * config file's "defaults"/"overrides" alike, and can drive the docs.
 *
 * Input rules (the same for every key this module knows):
 * - Keys are matched exactly (case-sensitive); unknown keys are ignored.
 *   A repeated key: the last one wins (protobuf's rule for map entries).
 * - At most META_MAX_KEYS entries and META_MAX_VALUE_LEN bytes per value
 *   (any key, known or not); beyond that the request is refused.
 * - Values are trimmed of leading/trailing ASCII whitespace (space, \t, \n,
 *   \v, \f, \r) before parsing: YAML block scalars and copy-paste leave
 *   them, and no valid value starts or ends with one. An empty value (after
 *   trimming) is an error for every known key, never "use the default".
 * - Numbers: util_parse_double (finite only) / util_parse_int64; durations:
 *   util_parse_duration_ms (Go syntax: 500ms, 30s, 1m30s, 1h).
 * - Every error is ERR_INVALID with a message naming the key and echoing
 *   the value through meta_quote() (at most 64 bytes, escaped), e.g.
 *   kvCacheThreshold: "1.5" must be in (0, 1]
 *
 * Ownership: meta_parse() fills a caller-owned struct meta_request whose
 * strings it allocates (malloc); meta_request_clear() frees them and is a
 * no-op on a zeroed or already-cleared request. Every other function only
 * reads its inputs, never retains them, and never allocates (output goes
 * into caller buffers). The key table is static and lives forever.
 *
 * Threading: pure, no I/O, no logging, no globals written; every function
 * is reentrant and may be called from any thread. meta_parse() calls
 * opt->select_layers synchronously on the calling thread.
 */
#ifndef SAT_META_H
#define SAT_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sat.h"
#include "util.h"

/* Limits on what a client may send. */
#define META_MAX_KEYS 64
#define META_MAX_VALUE_LEN 1024
#define META_NAMESPACE_MAX 63       /* DNS-1123 label */
#define META_OBJECT_NAME_MAX 253    /* DNS-1123 subdomain (ScaledObject name) */
#define META_METRIC_NAME_MAX 200    /* [A-Za-z0-9._-], not "." or ".." */
#define META_PROMETHEUS_NAME_MAX 64 /* [A-Za-z0-9_-] */

/* Defaults beyond WVA's (those are SAT_DEFAULT_* in sat.h). */
#define META_DEFAULT_METRIC_NAME "saturation-desired-replicas"
#define META_DEFAULT_MIN_REPLICAS 1
#define META_DEFAULT_VARIANT_COST 10.0
#define META_DEFAULT_METRICS_WINDOW_MS 60000
/* Upper bounds for the durations: a range vector longer than a day is a
 * mistake, and an idle period above 30 days outlives Prometheus retention. */
#define META_MAX_METRICS_WINDOW_MS (24LL * 3600 * 1000)
#define META_MAX_SCALE_TO_ZERO_MS (720LL * 3600 * 1000)

/* Buffer sizes (NUL included). */
#define META_QUOTE_LEN 264 /* "..." of 64 bytes as \xNN, then ..., quotes, NUL */
#define META_METRIC_NAME_LEN (META_METRIC_NAME_MAX + 1)
#define META_MODEL_KEY_LEN (META_NAMESPACE_MAX + 1 + META_MAX_VALUE_LEN + 1)
/* Enough for every message this module writes; shorter buffers truncate. */
#define META_WHY_LEN 768

/* Most layers meta_parse() resolves through, trigger metadata included. */
#define META_MAX_LAYERS 16

enum meta_engine {
    META_ENGINE_VLLM = 0, /* "vllm" (default) */
    META_ENGINE_SGLANG    /* "sglang" */
};
/* Static lower-case name ("vllm"); never NULL. */
const char *meta_engine_str(enum meta_engine e);

/* The decision keys; the value is the bit index in meta_decision.set. */
enum meta_field {
    META_KV_CACHE_THRESHOLD = 0,
    META_QUEUE_LENGTH_THRESHOLD,
    META_KV_SPARE_TRIGGER,
    META_QUEUE_SPARE_TRIGGER,
    META_MIN_REPLICAS,
    META_MAX_REPLICAS,
    META_VARIANT_COST,
    META_HPA_TOLERANCE,
    META_HPA_SCALE_UP_TOLERANCE,
    META_HPA_SCALE_DOWN_TOLERANCE,
    META_METRICS_WINDOW,
    META_SCALE_TO_ZERO,
    META_ENGINE,
    META_FIELD_COUNT
};

/*
 * The decision values one source (trigger metadata, a config override, the
 * config defaults) gives. A field counts only when its bit is in set; a
 * zeroed struct is an empty layer. Values of set fields have passed their
 * key's bounds when written by meta_decision_parse()/_set_number().
 */
struct meta_decision {
    uint32_t set; /* bit (1u << enum meta_field) per field given */
    double kv_cache_threshold;
    double queue_length_threshold;
    double kv_spare_trigger;
    double queue_spare_trigger;
    int64_t min_replicas;
    int64_t max_replicas;
    double variant_cost;
    double hpa_tolerance; /* both directions; the specific keys win */
    double hpa_scale_up_tolerance;
    double hpa_scale_down_tolerance;
    int64_t metrics_window_ms;
    int64_t scale_to_zero_ms; /* 0 = explicitly off (overrides a lower layer) */
    enum meta_engine engine;
};

static inline bool meta_decision_has(const struct meta_decision *d, enum meta_field f)
{
    return (d->set >> (unsigned)f) & 1u;
}

enum meta_type {
    META_TYPE_DOUBLE,   /* finite double; bounds in min/max */
    META_TYPE_INT,      /* int64_t, integral; bounds in min/max */
    META_TYPE_DURATION, /* int64_t milliseconds, Go syntax; bounds in ms */
    META_TYPE_ENGINE    /* enum meta_engine, "vllm" | "sglang" (ASCII case-insensitive) */
};

/* One row of the decision-key table. */
struct meta_key {
    const char *name; /* user-facing key, e.g. "kvCacheThreshold" */
    enum meta_type type;
    enum meta_field field; /* bit in meta_decision.set */
    size_t offset;         /* offsetof(struct meta_decision, <value>) */
    double min, max;       /* inclusive unless *_open; max may be HUGE_VAL */
    bool min_open, max_open;
    const char *default_text; /* for docs: "0.8", "1m", "unset", "off" */
    const char *help;         /* one line, for docs and --help */
};

/* The table, in documentation order; *n receives its length. Static. */
const struct meta_key *meta_decision_keys(size_t *n);
/* The row for name, or NULL when name is not a decision key. Static. */
const struct meta_key *meta_decision_key(const char *name);
/* "(0, 1]", ">= 0", "(0s, 24h]" or "vllm | sglang" into buf (docs/errors). */
void meta_key_range(const struct meta_key *k, char *buf, size_t len);

/*
 * Parse value (trimmed, see above) for decision key key into d and set its
 * bit. ERR_NOT_FOUND (why names the key) when key is not a decision key,
 * so the metadata parser can ignore it and the config parser can refuse it;
 * ERR_INVALID for a bad value. On failure d is untouched.
 */
SAT_WUR enum err_code meta_decision_parse(struct meta_decision *d, const char *key,
                                          const char *value, char *why, size_t why_len);

/*
 * The same for a number already parsed (a JSON number in the config file):
 * DOUBLE keys take any finite v in bounds, INT keys an integral v in bounds;
 * DURATION and ENGINE keys refuse numbers (ERR_INVALID: "must be a string").
 */
SAT_WUR enum err_code meta_decision_set_number(struct meta_decision *d, const char *key, double v,
                                               char *why, size_t why_len);

/* The fully resolved decision values the server needs. */
struct meta_resolved {
    struct sat_config config;       /* valid per sat_config_validate() */
    struct sat_tolerance tolerance; /* valid per sat_tolerance_validate() */
    int64_t min_replicas;           /* default 1 */
    int64_t max_replicas;           /* SAT_UNSET when no layer gives it; >= min otherwise */
    double variant_cost;            /* >= 0, default 10 */
    int64_t metrics_window_ms;      /* > 0, default 60000 */
    int64_t scale_to_zero_ms;       /* 0 = off (default) */
    enum meta_engine engine;        /* default vllm */
};

/* One source of decision values, for meta_resolve()/meta_parse(). */
struct meta_layer {
    const char *source;                   /* for messages: "config override prod/m" */
    const struct meta_decision *decision; /* NULL counts as empty */
};

/*
 * Resolve each field from the first of the n layers (priority order) that
 * sets it, else the built-in default. hpaTolerance counts as setting both
 * directions of its layer, and hpaScaleUpTolerance/hpaScaleDownTolerance
 * win over it within the same layer; a higher layer's hpaTolerance wins
 * over a lower layer's specific key. The result is validated: every field
 * against its key's bounds, then sat_config_validate() (kvSpareTrigger <=
 * kvCacheThreshold), sat_tolerance_validate(), and minReplicas <=
 * maxReplicas; a failure is ERR_INVALID naming the keys and the layers they
 * came from. *out is written on success only.
 */
SAT_WUR enum err_code meta_resolve(const struct meta_layer *layers, size_t n,
                                   struct meta_resolved *out, char *why, size_t why_len);

struct meta_options {
    /* Allow metadata `namespace` other than the ScaledObject's. */
    bool allow_cross_namespace;
    /*
     * Optional: called once, after namespace and model id are known, to add
     * the layers for this model (the config's matching override). Writes at
     * most cap layers into out and returns how many. The layers must stay
     * valid until meta_parse() returns (nothing is retained after).
     */
    size_t (*select_layers)(void *arg, const char *namespace_, const char *model_id,
                            struct meta_layer *out, size_t cap);
    void *select_arg;
    /* Fixed layers after the selected ones (the config's defaults). */
    const struct meta_layer *layers;
    size_t n_layers; /* at most META_MAX_LAYERS - 2 */
    /* The llm-d.ai/managed path: the model id when metadata has no modelID
     * (the llm-d.ai/model-id annotation), and a layer ranked right after
     * the metadata (the ScaledObject's min/max and variant cost). */
    const char *model_id_fallback;
    const struct meta_layer *object_layer;
};

/* Everything GetMetrics/IsActive/StreamIsActive need from one ScaledObjectRef. */
struct meta_request {
    char *name;                    /* ScaledObject name = the variant; DNS-1123 subdomain */
    char *namespace_;              /* resolved namespace; DNS-1123 label */
    char *model_id;                /* non-empty, <= 1024 bytes, no ASCII control bytes */
    char *metric_name;             /* metricName or META_DEFAULT_METRIC_NAME */
    char *prometheus;              /* endpoint name, NULL = the default endpoint */
    struct meta_decision decision; /* exactly what the trigger metadata gave */
    struct meta_resolved resolved; /* metadata > selected > fixed layers > defaults */
};

/*
 * GetMetricSpec path: the metric name only. Validates metricName (when
 * present) and nothing else: never fails because of another key, the key
 * count or another value's size (KEDA builds a CPU HPA forever when
 * GetMetricSpec fails at creation, keda#7729). Writes the trimmed name, or
 * META_DEFAULT_METRIC_NAME when absent, into out (out_len >=
 * META_METRIC_NAME_LEN; "" on failure). keys/values may be NULL when n is 0;
 * NULL entries are skipped.
 */
SAT_WUR enum err_code meta_metric_name(const char *const *keys, const char *const *values, size_t n,
                                       char *out, size_t out_len, char *why, size_t why_len);

/*
 * GetMetrics/IsActive/StreamIsActive path: everything. so_name and
 * so_namespace are the ScaledObjectRef's name and namespace; opt may be
 * NULL (no cross-namespace reads, no layers). *out is overwritten (clear a
 * previous result first); on failure it is left cleared and why says what
 * is wrong (ERR_INVALID for bad input, ERR_NOMEM, ERR_INTERNAL for too many
 * layers). The caller frees *out with meta_request_clear().
 */
SAT_WUR enum err_code meta_parse(const char *so_name, const char *so_namespace,
                                 const char *const *keys, const char *const *values, size_t n,
                                 const struct meta_options *opt, struct meta_request *out,
                                 char *why, size_t why_len);

/* Free the strings of r and zero it. NULL, zeroed or cleared: no-op. */
void meta_request_clear(struct meta_request *r);

/*
 * The model key "<namespace>/<model id>" (unambiguous: a namespace has no
 * '/') into buf; returns the length it needs without the NUL, like
 * snprintf (>= len means truncated; META_MODEL_KEY_LEN always suffices).
 */
size_t meta_model_key(const struct meta_request *r, char *buf, size_t len);
/* 64-bit FNV-1a of a NUL-terminated key (for the server's interest set). */
uint64_t meta_key_hash(const char *key);

/*
 * Whether a GetMetrics metricName asks for the configured one: ASCII
 * case-insensitive equality (older KEDA lower-cases the name); an empty or
 * NULL requested name matches (KEDA may leave it unset); and requested
 * "s<digits>-<configured>" matches too (the HPA-side name, should a KEDA
 * version not strip its prefix). configured NULL never matches.
 */
bool meta_metric_name_equal(const char *requested, const char *configured);

/*
 * s as a double-quoted, log-safe string into buf: at most the first 64
 * bytes, '"' and '\\' backslash-escaped, bytes outside 0x20..0x7e as \xNN,
 * then "..." after the closing quote when longer. NULL shows as (null).
 * META_QUOTE_LEN always suffices.
 */
void meta_quote(char *buf, size_t len, const char *s);

#endif
