/*
 * decide: what one ScaledObject gets from one saturation snapshot.
 *
 * Pure (no I/O, no logging): given a table (the per-pod snapshot) and a
 * parsed request (meta_request: namespace, model, variant = ScaledObject
 * name, resolved thresholds), it runs the sat engine over the model's
 * replicas and answers GetMetrics (desired replicas for this variant),
 * IsActive and the saturation edge StreamIsActive watches.
 *
 * Variants without Kubernetes: rows labelled with a variant belong to the
 * ScaledObject of that name; unlabelled rows form one variant, which every
 * ScaledObject whose name labels no rows answers for. The current count of
 * a variant is its number of distinct pods (a pod with two engines counts
 * once); nothing is pending, so WVA's transition hold never triggers.
 *
 * Ownership: decide_eval() fills a caller-owned result holding a
 * sat_analysis; decide_result_clear() frees it.
 * Threading: reentrant; any thread.
 */
#ifndef SAT_DECIDE_H
#define SAT_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "meta.h"
#include "sat.h"
#include "table.h"

/* Cost of another variant of the same model (its own ScaledObject's
 * variantCost), or a negative number when unknown (default 10 applies). */
typedef double decide_cost_fn(void *arg, const char *ns, const char *model, const char *variant);

struct decide_result {
    bool has_series;        /* the model has at least one replica in the table */
    bool variant_has_pods;  /* this ScaledObject's variant has replicas */
    const char *variant;    /* the variant answered for: req->name or "" (unlabelled) */
    int64_t desired;        /* GetMetrics' value */
    int64_t current;        /* distinct pods of the variant */
    size_t model_pods;      /* distinct pods of the model */
    bool active;            /* IsActive */
    bool all_saturated;     /* >= 1 replica and every replica kv >= kvCacheThreshold */
    double flow_control_queue;
    struct sat_decision decision;
    struct sat_analysis analysis;
};

/*
 * Activation only (cheap: no analysis): for streams re-evaluated on every
 * snapshot. active: replicas report and the model is not idle (scaleToZero
 * set and no successful request within it), or every replica is saturated,
 * or the flow-control queue is > 0.
 */
void decide_activation(const struct table *t, const struct meta_request *req, bool *active,
                       bool *all_saturated);

/* Full evaluation. t may be NULL (no data: as an empty table). */
SAT_WUR enum err_code decide_eval(const struct table *t, const struct meta_request *req,
                                  decide_cost_fn *cost_of, void *cost_arg,
                                  struct decide_result *out);
void decide_result_clear(struct decide_result *r);

#endif
