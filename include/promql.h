/*
 * promql: the PromQL text the Prometheus source sends, and the form body
 * it is sent in.
 *
 * Per endpoint and refresh, one instant query per metric covers every
 * model and namespace of interest (DESIGN section 5). A struct promql_scope
 * holds those namespaces and model ids (deduplicated and sorted, so the
 * same set always gives byte-identical queries) with their label matchers
 * prebuilt; the promql_*_query() functions turn a scope into:
 *
 *   saturation  max by (L) (max_over_time(M{S}[W])) and on (L) M{S}
 *               L = namespace, model_name, pod, pod_name, instance,
 *                   llm_d_ai_variant
 *               The right-hand side keeps only series present at query
 *               time: a deleted pod lingers for W inside max_over_time but
 *               its series goes stale at once (WVA issue #368).
 *   idle        sum by (namespace, model_name) (increase(C{S}[R]))
 *   flow        sum by (namespace, target_model_name)
 *                   (inference_extension_flow_control_queue_size{S'})
 *
 * S is `namespace="ns", model_name="m"` with one namespace / one model, and
 * `namespace=~"a|b", model_name=~"m1|m2"` with several (PromQL anchors
 * every regex, so a bare alternation matches whole values only). S' is the
 * same with target_model_name for model_name.
 *
 * Escaping (DESIGN section 5: label values from metadata are never pasted
 * raw): a value in an `=` matcher goes through promql_escape_string(); in a
 * `=~` alternation it goes through promql_escape_regex() first, then
 * promql_escape_string(). Namespaces and model ids must be valid UTF-8
 * (Prometheus label values are, and Go's RE2 refuses to compile a regex
 * that is not: one bad id would fail the batched query for every model).
 *
 * Ownership: every char * result is malloc'd and freed by the caller with
 * free(). promql_scope_new() copies its inputs; the scope is freed with
 * promql_scope_free(). The escape and duration functions write into caller
 * buffers, snprintf-style. Nothing is retained across calls.
 *
 * Threading: pure, no I/O, no logging, no globals. A scope is read-only
 * after promql_scope_new(), so several threads may build queries from one
 * scope concurrently. Errors go into a caller buffer `why` (may be NULL;
 * always NUL-terminated when why_len > 0).
 */
#ifndef SAT_PROMQL_H
#define SAT_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "meta.h"
#include "util.h"

/* Enough for any promql_format_duration() output ("9223372036854775807ms"). */
#define PROMQL_DURATION_LEN 24

/* The per-engine series the source reads. */
enum promql_metric {
    PROMQL_KV_CACHE = 0, /* vllm:kv_cache_usage_perc | sglang:token_usage (gauge, 0..1) */
    PROMQL_QUEUE,        /* vllm:num_requests_waiting | sglang:num_queue_reqs (gauge) */
    PROMQL_REQUESTS      /* vllm:request_success_total | sglang:num_requests_total (counter) */
};

/* The EPP flow-control gauge (scale from zero). */
#define PROMQL_FLOW_CONTROL_METRIC "inference_extension_flow_control_queue_size"

/* Static metric name for engine e, or NULL for an unknown engine/metric. */
const char *promql_metric_name(enum meta_engine e, enum promql_metric m);

/*
 * s as the body of a PromQL double-quoted string literal (the caller adds
 * the quotes): '\\' and '"' get a backslash; \a \b \f \n \r \t \v for those
 * control bytes, \xNN for the other bytes below 0x20, for 0x7f and for
 * every byte that is not part of a valid UTF-8 sequence (PromQL's lexer
 * refuses raw invalid UTF-8; \xNN reads back as that very byte). Valid
 * non-ASCII UTF-8 and '\'' are kept as they are. NULL counts as "".
 *
 * Writes at most len bytes into out (NUL-terminated when len > 0; out may
 * be NULL when len is 0) and returns the full length without the NUL, like
 * snprintf: >= len means truncated.
 */
size_t promql_escape_string(const char *s, char *out, size_t len);

/*
 * s as an RE2 regex matching exactly s: each of \ . + * ? ( ) | [ ] { } ^ $
 * gets a backslash (the set Go's regexp.QuoteMeta escapes); every other
 * byte is kept. The result is regex text, not a string literal: pass it
 * through promql_escape_string() before putting it between quotes. Same
 * buffer contract as promql_escape_string().
 */
size_t promql_escape_regex(const char *s, char *out, size_t len);

/* Whether s is non-NULL, non-empty and valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF): what a scope accepts. */
bool promql_label_value_ok(const char *s);

/*
 * ms as a Prometheus duration in the largest unit that divides it exactly,
 * among h, m, s and ms: 3600000 -> "1h", 60000 -> "1m", 90000 -> "90s",
 * 1500 -> "1500ms". The same units util_parse_duration_ms() reads, so the
 * text round-trips. ms <= 0 gives "0s" (callers refuse it first). Same
 * buffer contract as promql_escape_string(); PROMQL_DURATION_LEN suffices.
 */
size_t promql_format_duration(int64_t ms, char *buf, size_t len);

struct promql_scope;

/*
 * A scope over namespaces[0..n_namespaces) x models[0..n_models): both
 * lists are copied, sorted with strcmp and deduplicated. Every entry must
 * pass promql_label_value_ok(); each list needs at least one entry. The
 * queries match the cross product, so a caller interested in ns1/a and
 * ns2/b also gets ns1/b and ns2/a when they exist and filters them out.
 *
 * On success *out holds a scope the caller frees with promql_scope_free();
 * on failure *out is NULL. ERR_INVALID (why: `models[3]: "\xff" is not
 * valid UTF-8`, "namespaces: at least one is needed") or ERR_NOMEM.
 */
SAT_WUR enum err_code promql_scope_new(const char *const *namespaces, size_t n_namespaces,
                                       const char *const *models, size_t n_models,
                                       struct promql_scope **out, char *why, size_t why_len);

/* Free a scope. NULL is a no-op. */
void promql_scope_free(struct promql_scope *s);

/* Distinct namespaces / model ids of a scope (0 for NULL). */
size_t promql_scope_namespace_count(const struct promql_scope *s);
size_t promql_scope_model_count(const struct promql_scope *s);

/*
 * The saturation query for metric m (PROMQL_KV_CACHE or PROMQL_QUEUE) of
 * engine e over a window of window_ms (> 0), see the top of this file.
 * On success *out is a malloc'd NUL-terminated query the caller frees; on
 * failure *out is NULL. ERR_INVALID (bad scope, engine, metric or window)
 * or ERR_NOMEM.
 */
SAT_WUR enum err_code promql_saturation_query(const struct promql_scope *s, enum meta_engine e,
                                              enum promql_metric m, int64_t window_ms, char **out,
                                              char *why, size_t why_len);

/*
 * The scale-to-zero query: requests served per (namespace, model_name) over
 * the last retention_ms (> 0), from engine e's request counter. A model
 * whose series is absent or 0 has been idle. Same contract as
 * promql_saturation_query().
 */
SAT_WUR enum err_code promql_idle_query(const struct promql_scope *s, enum meta_engine e,
                                        int64_t retention_ms, char **out, char *why,
                                        size_t why_len);

/*
 * The scale-from-zero query: the EPP flow-control queue per (namespace,
 * target_model_name). Engine-independent. Same contract as
 * promql_saturation_query().
 */
SAT_WUR enum err_code promql_flow_control_query(const struct promql_scope *s, char **out, char *why,
                                                size_t why_len);

/*
 * A custom activation query (server config `activationQuery`) for one
 * model: tmpl with every `$namespace` / `${namespace}` replaced by
 * promql_escape_string(ns) and every `$model` / `${model}` by
 * promql_escape_string(model). The bare forms count only when the next
 * byte cannot continue a name ([A-Za-z0-9_]): `$models` stays as it is, as
 * does every other `$` (regex anchors). Only string-literal escaping is
 * applied, so the template author must put the placeholders inside double
 * quotes and use them with = or != matchers:
 *
 *   sum(my_gateway_queue{namespace="$namespace", model="$model"})
 *
 * (under =~ a model id's regex metacharacters would keep their meaning).
 * tmpl must be non-empty; ns and model must pass promql_label_value_ok().
 * Same result contract as promql_saturation_query().
 */
SAT_WUR enum err_code promql_activation_query(const char *tmpl, const char *ns, const char *model,
                                              char **out, char *why, size_t why_len);

/*
 * The application/x-www-form-urlencoded body for POST /api/v1/query:
 * "query=<query>" then "&<key>=<value>" for each extra parameter in order
 * (an endpoint's queryParameters, e.g. Thanos "tenant"). Everything but
 * RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) is percent-encoded
 * with upper-case hex, space included (%20, which every form decoder
 * reads). Keys must be non-empty and not "query" (a second query
 * parameter would be ambiguous); a NULL value counts as "". keys/values
 * may be NULL when n is 0.
 *
 * On success *out is a malloc'd NUL-terminated body the caller frees and
 * *out_len (when out_len is not NULL) its length; on failure *out is NULL
 * and *out_len 0. ERR_INVALID or ERR_NOMEM.
 */
SAT_WUR enum err_code promql_form_body(const char *query, const char *const *keys,
                                       const char *const *values, size_t n, char **out,
                                       size_t *out_len, char *why, size_t why_len);

#endif
