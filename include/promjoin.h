/*
 * promjoin: the per-instance rows of one Prometheus refresh, from the
 * kv-cache and queue answers (promresp.h), for the models of interest only.
 *
 * prom.c queries both metrics for every model of interest in one PromQL
 * expression each; the answers may also hold (namespace, model) pairs
 * nobody asked for (the cross product of the label matchers). This module
 * drops those, joins the two answers by (namespace, model, pod, instance)
 * and says which models got a row (the others need the flow-control
 * query). It is its own module so that the benchmark (test/bench/
 * refresh_bench.c) and the unit tests run the code prom.c runs.
 *
 * A row: pod is the sample's "pod" label, else its "pod_name"; instance its
 * "instance", else ""; samples without namespace, model_name or a pod are
 * skipped. kv and queue are the values (non-finite as 0), has_kv/has_queue
 * whether that answer had the instance. When an answer holds the same
 * instance twice, the later sample's value counts; the strings and the
 * variant come from the first sample of the instance (kv before queue).
 * Rows are sorted by (namespace, model, pod, instance) with strcmp.
 *
 * Cost: O(s + m) for s samples and m models, plus sorting each model's rows
 * (by pod and instance): one hash lookup per sample, a counting sort by
 * model, no comparison sort over all rows.
 *
 * Ownership: *out is one allocation (free()); its strings are borrowed from
 * the two answers, which must outlive it. Inputs are only read.
 *
 * Threading: pure, no I/O, no logging, no globals; any thread.
 */
#ifndef SAT_PROMJOIN_H
#define SAT_PROMJOIN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "promresp.h"
#include "util.h"

struct promjoin_row {
    const char *ns, *model, *pod, *instance, *variant; /* borrowed; variant may be NULL */
    double kv, queue;
    bool has_kv, has_queue;
};

/*
 * Join kv and queue (either may be NULL: no samples) for the n models of
 * interest ns[i]/models[i], which must be sorted by (ns, model) with strcmp
 * and unique (ERR_INVALID otherwise). has_rows (n entries, may be NULL) gets
 * whether model i has a row. On success *out holds *n_out rows (NULL when
 * there are none); on failure *out is NULL, *n_out 0 (ERR_NOMEM,
 * ERR_INVALID).
 */
SAT_WUR enum err_code promjoin_rows(const char *const *ns, const char *const *models, size_t n,
                                    const struct promresp *kv, const struct promresp *queue,
                                    bool *has_rows, struct promjoin_row **out, size_t *n_out);

#endif
