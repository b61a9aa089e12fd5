/*
 * sat: WVA's V1 saturation analyzer and target calculation, in C.
 *
 * The arithmetic mirrors WVA's Go code operation by operation (spare =
 * threshold - value, summed per variant in input order, divided by the
 * non-saturated count; model averages sum(avg_v * n_v) / N in variant-name
 * order; the scale-down simulation load * N / (N - k)), in doubles with
 * FMA contraction off, so every comparison lands where WVA's does:
 * 0.80 - 0.70 = 0.10000000000000009 is not < 0.10.
 *
 * Two steps go beyond WVA, both documented in DESIGN.md section 4: the
 * HPA-tolerance step (WVA's +1 is invisible to the HPA from 10 replicas up)
 * and the min/max clamp that never lands inside the HPA's tolerance.
 */
#include "sat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sat_config_default(struct sat_config *cfg)
{
    cfg->kv_cache_threshold = SAT_DEFAULT_KV_CACHE_THRESHOLD;
    cfg->queue_length_threshold = SAT_DEFAULT_QUEUE_LENGTH_THRESHOLD;
    cfg->kv_spare_trigger = SAT_DEFAULT_KV_SPARE_TRIGGER;
    cfg->queue_spare_trigger = SAT_DEFAULT_QUEUE_SPARE_TRIGGER;
}

void sat_tolerance_default(struct sat_tolerance *tol)
{
    tol->up = SAT_DEFAULT_HPA_TOLERANCE;
    tol->down = SAT_DEFAULT_HPA_TOLERANCE;
}

static enum err_code invalid(const char *key, const char **bad_key, char *why, size_t why_len,
                             const char *rule, double got)
{
    char num[32];

    if (bad_key)
        *bad_key = key;
    if (why && why_len) {
        util_fmt_double(num, sizeof(num), got);
        snprintf(why, why_len, "%s must be %s, got %s", key, rule, num);
    }
    return ERR_INVALID;
}

enum err_code sat_config_validate(const struct sat_config *cfg, const char **bad_key, char *why,
                                  size_t why_len)
{
    if (bad_key)
        *bad_key = NULL;
    if (why && why_len)
        why[0] = '\0';
    /* !(x > 0) also catches NaN. */
    if (!(cfg->kv_cache_threshold > 0.0 && cfg->kv_cache_threshold <= 1.0))
        return invalid("kvCacheThreshold", bad_key, why, why_len, "in (0, 1]",
                       cfg->kv_cache_threshold);
    if (!(cfg->queue_length_threshold > 0.0 && isfinite(cfg->queue_length_threshold)))
        return invalid("queueLengthThreshold", bad_key, why, why_len, "> 0",
                       cfg->queue_length_threshold);
    if (!(cfg->kv_spare_trigger >= 0.0 && cfg->kv_spare_trigger <= 1.0))
        return invalid("kvSpareTrigger", bad_key, why, why_len, "in [0, 1]",
                       cfg->kv_spare_trigger);
    if (!(cfg->queue_spare_trigger >= 0.0 && isfinite(cfg->queue_spare_trigger)))
        return invalid("queueSpareTrigger", bad_key, why, why_len, ">= 0",
                       cfg->queue_spare_trigger);
    if (!(cfg->kv_cache_threshold >= cfg->kv_spare_trigger)) {
        char a[32], b[32];
        if (bad_key)
            *bad_key = "kvSpareTrigger";
        if (why && why_len) {
            util_fmt_double(a, sizeof(a), cfg->kv_spare_trigger);
            util_fmt_double(b, sizeof(b), cfg->kv_cache_threshold);
            snprintf(why, why_len,
                     "kvSpareTrigger must be <= kvCacheThreshold, got kvSpareTrigger %s > "
                     "kvCacheThreshold %s",
                     a, b);
        }
        return ERR_INVALID;
    }
    return ERR_OK;
}

enum err_code sat_tolerance_validate(const struct sat_tolerance *tol, const char **bad_key,
                                     char *why, size_t why_len)
{
    if (bad_key)
        *bad_key = NULL;
    if (why && why_len)
        why[0] = '\0';
    if (!(tol->up >= 0.0 && tol->up <= SAT_MAX_SCALE_UP_TOLERANCE))
        return invalid("hpaScaleUpTolerance", bad_key, why, why_len, "in [0, 10]", tol->up);
    if (!(tol->down >= 0.0 && tol->down < 1.0))
        return invalid("hpaScaleDownTolerance", bad_key, why, why_len, "in [0, 1)", tol->down);
    return ERR_OK;
}

/* ---- analysis ----------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void sat_analysis_clear(struct sat_analysis *a)
{
    size_t i, j;

    if (!a)
        return;
    for (i = 0; i < a->variant_count; i++) {
        struct sat_variant_analysis *v = &a->variants[i];
        for (j = 0; j < v->saturated_count; j++)
            free(v->saturated_replicas[j]);
        free(v->saturated_replicas);
        free(v->name);
    }
    free(a->variants);
    memset(a, 0, sizeof(*a));
}

const struct sat_variant_analysis *sat_analysis_find(const struct sat_analysis *a,
                                                     const char *name)
{
    size_t lo = 0, hi;

    if (!a || !name)
        return NULL;
    hi = a->variant_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, a->variants[mid].name);
        if (c == 0)
            return &a->variants[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

/* WVA's analyzeVariant over the replicas of one variant, in input order. */
static enum err_code analyze_variant(const struct sat_config *cfg,
                                     const struct sat_replica *const *group, size_t count,
                                     struct sat_variant_analysis *va)
{
    double total_spare_kv = 0.0, total_spare_queue = 0.0, total_kv = 0.0;
    size_t i, non_saturated = 0, saturated = 0;

    va->name = strdup(group[0]->variant);
    if (!va->name)
        return ERR_NOMEM;
    va->saturated_replicas = calloc(count, sizeof(char *));
    if (!va->saturated_replicas)
        return ERR_NOMEM;

    for (i = 0; i < count; i++) {
        const struct sat_replica *r = group[i];
        double kv = finite_or_zero(r->kv);
        double queue = (double)r->queue;

        total_kv += kv;
        if (kv >= cfg->kv_cache_threshold || queue >= cfg->queue_length_threshold) {
            va->saturated_replicas[saturated] = strdup(r->pod);
            if (!va->saturated_replicas[saturated])
                return ERR_NOMEM;
            saturated++;
            va->saturated_count = saturated;
        } else {
            double spare_kv = cfg->kv_cache_threshold - kv;
            double spare_queue = cfg->queue_length_threshold - queue;
            total_spare_kv += spare_kv;
            total_spare_queue += spare_queue;
            non_saturated++;
        }
        if (kv > va->max_kv)
            va->max_kv = kv;
        if (r->queue > va->max_queue)
            va->max_queue = r->queue;
    }
    va->replica_count = count;
    va->non_saturated_count = non_saturated;
    if (non_saturated > 0) {
        va->avg_spare_kv = total_spare_kv / (double)non_saturated;
        va->avg_spare_queue = total_spare_queue / (double)non_saturated;
    }
    va->avg_kv = total_kv / (double)count;
    return ERR_OK;
}

/* WVA's shouldScaleUp, reason text included. */
static bool should_scale_up(const struct sat_config *cfg, double spare_kv, double spare_queue,
                            char *reason, size_t len)
{
    bool kv = spare_kv < cfg->kv_spare_trigger;
    bool queue = spare_queue < cfg->queue_spare_trigger;

    reason[0] = '\0';
    if (kv && queue)
        snprintf(reason, len, "both KV spare (%.3f < %.3f) and queue spare (%.1f < %.1f)",
                 spare_kv, cfg->kv_spare_trigger, spare_queue, cfg->queue_spare_trigger);
    else if (kv)
        snprintf(reason, len, "KV spare Saturation low (%.3f < %.3f)", spare_kv,
                 cfg->kv_spare_trigger);
    else if (queue)
        snprintf(reason, len, "queue spare Saturation low (%.1f < %.1f)", spare_queue,
                 cfg->queue_spare_trigger);
    return kv || queue;
}

bool sat_scale_down_safe_k(const struct sat_config *cfg, size_t non_saturated,
                           double avg_spare_kv, double avg_spare_queue, size_t k)
{
    double kv_load, queue_load, factor, kv_after, queue_after, spare_kv, spare_queue;

    if (non_saturated < SAT_MIN_NON_SATURATED_FOR_SCALE_DOWN || k == 0 || k >= non_saturated)
        return false;
    kv_load = cfg->kv_cache_threshold - avg_spare_kv;
    queue_load = cfg->queue_length_threshold - avg_spare_queue;
    factor = (double)non_saturated / (double)(non_saturated - k);
    kv_after = kv_load * factor;
    queue_after = queue_load * factor;
    spare_kv = cfg->kv_cache_threshold - kv_after;
    spare_queue = cfg->queue_length_threshold - queue_after;
    return spare_kv >= cfg->kv_spare_trigger && spare_queue >= cfg->queue_spare_trigger;
}

/* Order replicas by variant name, then input position (a stable grouping). */
static int cmp_by_variant(const void *a, const void *b)
{
    const struct sat_replica *x = *(const struct sat_replica *const *)a;
    const struct sat_replica *y = *(const struct sat_replica *const *)b;
    int c = strcmp(x->variant, y->variant);
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

enum err_code sat_analyze(const struct sat_config *cfg, const struct sat_replica *replicas,
                          size_t n, struct sat_analysis *out)
{
    const struct sat_replica **order = NULL;
    size_t i, start, distinct = 0, non_saturated = 0;
    double total_spare_kv = 0.0, total_spare_queue = 0.0;
    enum err_code rc = ERR_OK;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return ERR_OK; /* WVA: no replicas, no scale-up, no scale-down */
    for (i = 0; i < n; i++)
        if (!replicas[i].pod || !replicas[i].variant)
            return ERR_INVALID;

    /* Group by variant in O(n log n); within a group input order is kept,
     * so every sum runs in WVA's order. Variants come out sorted by name:
     * the order the model-level sums run in. */
    order = malloc(n * sizeof(*order));
    if (!order)
        return ERR_NOMEM;
    for (i = 0; i < n; i++)
        order[i] = &replicas[i];
    qsort(order, n, sizeof(*order), cmp_by_variant);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(order[i]->variant, order[i - 1]->variant) != 0)
            distinct++;

    out->variants = calloc(distinct, sizeof(*out->variants));
    if (!out->variants) {
        free(order);
        return ERR_NOMEM;
    }
    out->variant_count = distinct;
    for (i = 0, start = 0; start < n; i++) {
        struct sat_variant_analysis *va = &out->variants[i];
        size_t end = start + 1;
        while (end < n && strcmp(order[end]->variant, order[start]->variant) == 0)
            end++;
        rc = analyze_variant(cfg, order + start, end - start, va);
        if (rc)
            break;
        non_saturated += va->non_saturated_count;
        total_spare_kv += va->avg_spare_kv * (double)va->non_saturated_count;
        total_spare_queue += va->avg_spare_queue * (double)va->non_saturated_count;
        start = end;
    }
    free(order);
    if (rc) {
        sat_analysis_clear(out);
        return rc;
    }

    out->total_replicas = n;
    out->non_saturated_count = non_saturated;
    if (non_saturated > 0) {
        out->avg_spare_kv = total_spare_kv / (double)non_saturated;
        out->avg_spare_queue = total_spare_queue / (double)non_saturated;
    }
    out->should_scale_up = should_scale_up(cfg, out->avg_spare_kv, out->avg_spare_queue,
                                           out->scale_up_reason, sizeof(out->scale_up_reason));
    out->scale_down_safe =
        sat_scale_down_safe_k(cfg, non_saturated, out->avg_spare_kv, out->avg_spare_queue, 1);
    return ERR_OK;
}

/* ---- the HPA tolerance step ------------------------------------------- */

bool sat_hpa_acts(int64_t r, int64_t t, const struct sat_tolerance *tol)
{
    double ratio;

    if (t == r)
        return false;
    if (r <= 0)
        return true; /* the HPA does not run at 0; KEDA's activation does */
    ratio = (double)t / (double)r;
    if (t > r)
        return ratio > 1.0 + tol->up && fabs(1.0 - ratio) > tol->up;
    return ratio < 1.0 - tol->down && fabs(1.0 - ratio) > tol->down;
}

int64_t sat_step_up(int64_t r, const struct sat_tolerance *tol)
{
    int64_t t;

    if (r <= 0)
        return 1;
    /* Start just below r * (1 + up) and walk up: the exact test decides. */
    t = (int64_t)floor((double)r * (1.0 + tol->up)) - 1;
    if (t < r + 1)
        t = r + 1;
    while (t < SAT_MAX_REPLICAS && !sat_hpa_acts(r, t, tol))
        t++;
    return t;
}

int64_t sat_step_down(int64_t r, const struct sat_tolerance *tol)
{
    int64_t k;

    if (r <= 1)
        return 0;
    k = (int64_t)floor((double)r * tol->down) - 1;
    if (k < 1)
        k = 1;
    for (; r - k >= 1; k++)
        if (sat_hpa_acts(r, r - k, tol))
            return k;
    return 0;
}

/* ---- targets ------------------------------------------------------------ */

const char *sat_action_str(enum sat_action a)
{
    switch (a) {
    case SAT_ACTION_HOLD:
        return "hold";
    case SAT_ACTION_TRANSITION:
        return "transition";
    case SAT_ACTION_SCALE_UP:
        return "scale-up";
    case SAT_ACTION_SCALE_DOWN:
        return "scale-down";
    }
    return "unknown";
}

static enum err_code check_states(const struct sat_variant_state *s, size_t n)
{
    const char **names;
    size_t i;
    enum err_code rc = ERR_OK;

    for (i = 0; i < n; i++) {
        if (!s[i].name || s[i].current < 0 || s[i].desired < 0 || s[i].pending < 0)
            return ERR_INVALID;
        if (!(s[i].cost >= 0.0 && isfinite(s[i].cost)))
            return ERR_INVALID;
        if ((s[i].min != SAT_UNSET && s[i].min < 0) || (s[i].max != SAT_UNSET && s[i].max < 0))
            return ERR_INVALID;
        if (s[i].min != SAT_UNSET && s[i].max != SAT_UNSET && s[i].min > s[i].max)
            return ERR_INVALID;
    }
    if (n < 2)
        return ERR_OK;
    /* Duplicate names, in O(n log n). */
    names = malloc(n * sizeof(*names));
    if (!names)
        return ERR_NOMEM;
    for (i = 0; i < n; i++)
        names[i] = s[i].name;
    qsort(names, n, sizeof(*names), cmp_str_ptr);
    for (i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0)
            rc = ERR_INVALID;
    free(names);
    return rc;
}

static bool is_candidate(const struct sat_analysis *a, const struct sat_variant_state *s)
{
    return a->variant_count == 0 || sat_analysis_find(a, s->name) != NULL;
}

/* Clamp to [min, max] without landing inside the HPA's tolerance. */
static int64_t clamp_target(int64_t t, const struct sat_variant_state *s,
                            const struct sat_tolerance *tol, bool *clamped)
{
    int64_t c = t;

    if (s->max != SAT_UNSET && c > s->max)
        c = s->max;
    if (s->min != SAT_UNSET && c < s->min)
        c = s->min;
    *clamped = false;
    if (c == t)
        return t;
    if ((tol->up > 0.0 || tol->down > 0.0) && c != s->current &&
        !sat_hpa_acts(s->current, c, tol))
        return t; /* the clamp would be a dead zone: let the HPA clamp */
    *clamped = true;
    return c;
}

enum err_code sat_targets(const struct sat_analysis *a, const struct sat_config *cfg,
                          const struct sat_variant_state *states, size_t n,
                          const struct sat_tolerance *tol, struct sat_decision *out)
{
    bool transition = false;
    const struct sat_variant_state *pick = NULL;
    size_t i, pick_i = 0;
    int64_t step = 0;
    enum err_code rc;

    rc = check_states(states, n);
    if (rc)
        return rc;

    for (i = 0; i < n; i++)
        if (states[i].pending > 0 ||
            (states[i].desired != 0 && states[i].desired != states[i].current))
            transition = true;
    if (transition) {
        for (i = 0; i < n; i++) {
            const struct sat_variant_state *s = &states[i];
            out[i].target = (s->desired != 0 && s->desired != s->current) ? s->desired : s->current;
            out[i].action = SAT_ACTION_TRANSITION;
            out[i].clamped = false;
        }
        return ERR_OK;
    }

    if (a->should_scale_up) {
        for (i = 0; i < n; i++) {
            const struct sat_variant_state *s = &states[i];
            if (s->pending > 0 || !is_candidate(a, s))
                continue;
            if (!pick || s->cost < pick->cost ||
                (s->cost == pick->cost && strcmp(s->name, pick->name) < 0)) {
                pick = s;
                pick_i = i;
            }
        }
        if (pick)
            step = sat_step_up(pick->current, tol) - pick->current;
    } else if (a->scale_down_safe) {
        for (i = 0; i < n; i++) {
            const struct sat_variant_state *s = &states[i];
            if (s->current <= 1 || !is_candidate(a, s))
                continue;
            if (!pick || s->cost > pick->cost ||
                (s->cost == pick->cost && strcmp(s->name, pick->name) > 0)) {
                pick = s;
                pick_i = i;
            }
        }
        if (pick) {
            int64_t k = sat_step_down(pick->current, tol);
            /* k == 1 is WVA's own check (scale_down_safe); more needs the
             * N/(N-k) simulation to hold as well. */
            if (k > 1 && !sat_scale_down_safe_k(cfg, a->non_saturated_count, a->avg_spare_kv,
                                                a->avg_spare_queue, (size_t)k))
                k = 0;
            step = -k;
        }
    }

    for (i = 0; i < n; i++) {
        const struct sat_variant_state *s = &states[i];
        int64_t t = s->current;
        enum sat_action act = SAT_ACTION_HOLD;

        if (pick && i == pick_i && step != 0) {
            t = s->current + step;
            act = step > 0 ? SAT_ACTION_SCALE_UP : SAT_ACTION_SCALE_DOWN;
        }
        out[i].target = clamp_target(t, s, tol, &out[i].clamped);
        out[i].action = act;
    }
    return ERR_OK;
}
