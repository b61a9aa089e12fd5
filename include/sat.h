/*
 * sat: the llm-d workload-variant-autoscaler "V1 saturation" engine.
 *
 * Pure: no I/O, no logging, no globals. Given per-replica KV-cache usage and
 * queue length it computes WVA's per-variant and per-model analysis, and
 * given per-variant replica states it computes WVA's targets, plus two steps
 * beyond WVA (see DESIGN.md section 4): the HPA-tolerance step and the
 * min/max clamp without a dead zone.
 *
 * Floating point follows WVA's order of operations in IEEE doubles; the
 * library is compiled with -ffp-contract=off so no FMA changes a rounding.
 *
 * Ownership: sat_analyze() fills a caller-owned struct sat_analysis whose
 * arrays and strings it allocates; sat_analysis_clear() frees them
 * (clearing a zeroed or already-cleared analysis is a no-op). Inputs are
 * only read and never retained.
 *
 * Threading: every function is reentrant; any thread.
 */
#ifndef SAT_SAT_H
#define SAT_SAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* WVA's defaults. */
#define SAT_DEFAULT_KV_CACHE_THRESHOLD 0.80
#define SAT_DEFAULT_QUEUE_LENGTH_THRESHOLD 5.0
#define SAT_DEFAULT_KV_SPARE_TRIGGER 0.10
#define SAT_DEFAULT_QUEUE_SPARE_TRIGGER 3.0
#define SAT_DEFAULT_HPA_TOLERANCE 0.1
/* WVA: scale-down needs at least this many non-saturated replicas. */
#define SAT_MIN_NON_SATURATED_FOR_SCALE_DOWN 2
/* Bounds we accept for HPA tolerances (Kubernetes default 0.1). */
#define SAT_MAX_SCALE_UP_TOLERANCE 10.0
/* Largest replica count the engine reasons about (Kubernetes' int32). */
#define SAT_MAX_REPLICAS 2147483647

struct sat_config {
    double kv_cache_threshold;     /* (0, 1] */
    double queue_length_threshold; /* > 0 */
    double kv_spare_trigger;       /* [0, 1], <= kv_cache_threshold */
    double queue_spare_trigger;    /* >= 0 */
};

/* HPA tolerances per direction; 0 gives WVA's exact +1/-1. */
struct sat_tolerance {
    double up;   /* [0, SAT_MAX_SCALE_UP_TOLERANCE] */
    double down; /* [0, 1) */
};

/* Fill with WVA's defaults. */
void sat_config_default(struct sat_config *cfg);
void sat_tolerance_default(struct sat_tolerance *tol);

/*
 * Validate against DESIGN section 3. On failure returns ERR_INVALID, sets
 * *bad_key (if non-NULL) to the offending key's user-facing name (static
 * string, e.g. "kvSpareTrigger") and writes "kvSpareTrigger must be in
 * [0, 1], got 1.5" into why (if non-NULL).
 */
SAT_WUR enum err_code sat_config_validate(const struct sat_config *cfg, const char **bad_key,
                                          char *why, size_t why_len);
SAT_WUR enum err_code sat_tolerance_validate(const struct sat_tolerance *tol,
                                             const char **bad_key, char *why, size_t why_len);

/* One serving instance (WVA's pod:port key). kv non-finite counts as 0. */
struct sat_replica {
    const char *pod;     /* instance key, non-NULL */
    const char *variant; /* non-NULL */
    double kv;           /* KV-cache usage, 0..1 */
    int64_t queue;       /* waiting requests, already truncated */
};

struct sat_variant_analysis {
    char *name;
    size_t replica_count;
    size_t non_saturated_count;
    char **saturated_replicas; /* pod names, input order */
    size_t saturated_count;
    double avg_spare_kv;    /* over non-saturated replicas; 0 when none */
    double avg_spare_queue; /* over non-saturated replicas; 0 when none */
    double avg_kv;          /* over all replicas of the variant */
    double max_kv;
    int64_t max_queue;
};

#define SAT_REASON_LEN 768

struct sat_analysis {
    size_t total_replicas;
    size_t non_saturated_count;
    double avg_spare_kv;    /* sum(avg_v * n_v) / N over variants */
    double avg_spare_queue; /* likewise */
    bool should_scale_up;
    char scale_up_reason[SAT_REASON_LEN]; /* WVA's text; "" when no scale-up */
    bool scale_down_safe;                 /* N >= 2 and the N/(N-1) simulation is safe */
    struct sat_variant_analysis *variants; /* sorted by name (strcmp) */
    size_t variant_count;
};

/*
 * WVA's AnalyzeModelSaturation over n replicas (n may be 0: no scale-up, no
 * scale-down, no variants). cfg must be valid. *out is overwritten (call
 * sat_analysis_clear() on a previous result first). On failure *out is
 * left cleared.
 */
SAT_WUR enum err_code sat_analyze(const struct sat_config *cfg, const struct sat_replica *replicas,
                                  size_t n, struct sat_analysis *out);
void sat_analysis_clear(struct sat_analysis *a);

/* The variant named name in a, or NULL. */
const struct sat_variant_analysis *sat_analysis_find(const struct sat_analysis *a,
                                                     const char *name);

/*
 * Whether taking k replicas off N non-saturated ones keeps both spares at or
 * above their triggers, spreading the load of N over N-k (WVA's simulation
 * for k = 1). False when N < 2 or k >= N.
 */
bool sat_scale_down_safe_k(const struct sat_config *cfg, size_t non_saturated,
                           double avg_spare_kv, double avg_spare_queue, size_t k);

/*
 * Whether the HPA, at current replicas r, acts on a desired count t: under
 * both the per-direction rule of Kubernetes >= 1.33 (skip when
 * 1 - down <= t/r <= 1 + up) and the older symmetric one (skip when
 * |1 - t/r| <= tolerance). r == 0: true for any t != 0.
 */
bool sat_hpa_acts(int64_t r, int64_t t, const struct sat_tolerance *tol);

/* Smallest t > r the HPA acts on (r + 1 with tolerance 0). */
int64_t sat_step_up(int64_t r, const struct sat_tolerance *tol);
/* Smallest k >= 1 with r - k >= 1 the HPA acts on, or 0 when none. */
int64_t sat_step_down(int64_t r, const struct sat_tolerance *tol);

/* Per-variant state for target calculation. */
#define SAT_UNSET (-1)
struct sat_variant_state {
    const char *name;
    double cost;     /* >= 0 */
    int64_t current; /* replicas now (the HPA divides by this) */
    int64_t desired; /* 0 = unset */
    int64_t pending; /* replicas - ready */
    int64_t min;     /* SAT_UNSET = no lower clamp */
    int64_t max;     /* SAT_UNSET = no upper clamp */
};

enum sat_action {
    SAT_ACTION_HOLD = 0,    /* nothing to do: target = current (clamped) */
    SAT_ACTION_TRANSITION,  /* model in transition: desired (or current) held */
    SAT_ACTION_SCALE_UP,    /* this variant received the scale-up */
    SAT_ACTION_SCALE_DOWN   /* this variant gave up replicas */
};
const char *sat_action_str(enum sat_action a);

struct sat_decision {
    int64_t target;
    enum sat_action action;
    bool clamped; /* the min/max clamp changed the answer */
};

/*
 * WVA's CalculateSaturationTargets plus the tolerance step and the clamp,
 * for n variant states; out[i] answers states[i].
 *
 * - Transition: any state with pending > 0, or desired != 0 and desired !=
 *   current: every variant answers desired when set and different from
 *   current, else current; no clamp.
 * - Else scale-up (a->should_scale_up): the cheapest variant without pending
 *   replicas (ties: smallest name) steps up from current by sat_step_up().
 * - Else scale-down (a->scale_down_safe): the most expensive variant with
 *   current > 1 (ties: largest name) steps down by k = sat_step_down(); a
 *   k > 1 is taken only when sat_scale_down_safe_k() holds for the model,
 *   otherwise the variant holds.
 * - When a has per-variant analyses (it was computed from replicas), only
 *   variants present there are candidates for either step, as in WVA;
 *   an analysis with no variants (given directly) makes every state one.
 * - Then each target is clamped to [min, max]; when tolerances are > 0 and
 *   the clamped value differs from current yet the HPA would not act on it,
 *   the unclamped value is answered (no dead zone; the HPA clamps itself).
 *
 * Returns ERR_INVALID for duplicate or NULL names, negative counts or a
 * non-finite/negative cost, and leaves out untouched.
 */
SAT_WUR enum err_code sat_targets(const struct sat_analysis *a, const struct sat_config *cfg,
                                  const struct sat_variant_state *states, size_t n,
                                  const struct sat_tolerance *tol, struct sat_decision *out);

#endif
