/*
 * decide: the answer for one ScaledObject from one snapshot. See
 * include/decide.h.
 */
#include "decide.h"

#include <stdlib.h>
#include <string.h>

static const char *row_variant(const struct table_row *r)
{
    return r->variant ? r->variant : "";
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void decide_activation(const struct table *t, const struct meta_request *req, bool *active,
                       bool *all_saturated)
{
    const struct table_model *m = t ? table_find(t, req->namespace_, req->model_id) : NULL;
    size_t i;

    *active = false;
    *all_saturated = false;
    if (!m)
        return;
    if (m->row_count > 0) {
        double increase = 0.0;
        bool idle = false;
        *all_saturated = true;
        for (i = 0; i < m->row_count; i++)
            if (!(m->rows[i].kv >= req->resolved.config.kv_cache_threshold))
                *all_saturated = false;
        /* scaleToZero: idle when no request succeeded within the retention
         * (only when that data was fetched; a metrics file has none). */
        if (req->resolved.scale_to_zero_ms > 0 &&
            table_model_success(m, req->resolved.scale_to_zero_ms, &increase) && increase <= 0.0)
            idle = true;
        *active = !idle || *all_saturated;
    }
    if (m->has_flow_control && m->flow_control_queue > 0)
        *active = true;
}

/* Distinct pods among the rows of one variant. */
static int64_t distinct_pods(const struct table_model *m, const char *variant, const char **tmp)
{
    size_t i, n = 0, d = 0;

    for (i = 0; i < m->row_count; i++)
        if (strcmp(row_variant(&m->rows[i]), variant) == 0)
            tmp[n++] = m->rows[i].pod;
    qsort(tmp, n, sizeof(*tmp), cmp_str_ptr);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(tmp[i], tmp[i - 1]) != 0)
            d++;
    return (int64_t)d;
}

void decide_result_clear(struct decide_result *r)
{
    if (!r)
        return;
    sat_analysis_clear(&r->analysis);
    memset(r, 0, sizeof(*r));
}

enum err_code decide_eval(const struct table *t, const struct meta_request *req,
                          decide_cost_fn *cost_of, void *cost_arg, struct decide_result *out)
{
    const struct meta_resolved *res = &req->resolved;
    const struct table_model *m;
    struct sat_replica *replicas = NULL;
    struct sat_variant_state *states = NULL;
    struct sat_decision *decisions = NULL;
    const char **tmp = NULL;
    size_t i, n, mine = 0;
    enum err_code rc = ERR_OK;

    memset(out, 0, sizeof(*out));
    out->variant = "";
    out->desired = res->min_replicas;
    m = t ? table_find(t, req->namespace_, req->model_id) : NULL;
    decide_activation(t, req, &out->active, &out->all_saturated);
    if (!m)
        return ERR_OK;
    out->flow_control_queue = m->flow_control_queue;
    out->model_pods = m->distinct_pods;
    if (m->row_count == 0)
        return ERR_OK;
    out->has_series = true;

    n = m->row_count;
    replicas = calloc(n, sizeof(*replicas));
    tmp = calloc(n, sizeof(*tmp));
    if (!replicas || !tmp) {
        rc = ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < n; i++) {
        replicas[i].pod = m->rows[i].instance;
        replicas[i].variant = row_variant(&m->rows[i]);
        replicas[i].kv = m->rows[i].kv;
        replicas[i].queue = m->rows[i].queue;
        if (strcmp(replicas[i].variant, req->name) == 0)
            out->variant = req->name;
    }
    rc = sat_analyze(&res->config, replicas, n, &out->analysis);
    if (rc)
        goto done;

    /* One state per variant present; ours carries our cost and clamp. */
    states = calloc(out->analysis.variant_count, sizeof(*states));
    decisions = calloc(out->analysis.variant_count, sizeof(*decisions));
    if (!states || !decisions) {
        rc = ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < out->analysis.variant_count; i++) {
        const char *name = out->analysis.variants[i].name;
        struct sat_variant_state *s = &states[i];
        s->name = name;
        s->current = distinct_pods(m, name, tmp);
        s->min = SAT_UNSET;
        s->max = SAT_UNSET;
        if (strcmp(name, out->variant) == 0) {
            out->variant_has_pods = true;
            mine = i;
            s->cost = res->variant_cost;
            s->min = res->min_replicas;
            s->max = res->max_replicas;
        } else {
            double c = cost_of ? cost_of(cost_arg, req->namespace_, req->model_id, name) : -1.0;
            s->cost = c >= 0.0 ? c : META_DEFAULT_VARIANT_COST;
        }
    }
    if (!out->variant_has_pods)
        goto done; /* our variant has no replicas: minReplicas */
    rc = sat_targets(&out->analysis, &res->config, states, out->analysis.variant_count,
                     &res->tolerance, decisions);
    if (rc)
        goto done;
    out->decision = decisions[mine];
    out->desired = decisions[mine].target;
    out->current = states[mine].current;
done:
    free(replicas);
    free(tmp);
    free(states);
    free(decisions);
    if (rc)
        decide_result_clear(out);
    return rc;
}
