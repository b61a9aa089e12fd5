/*
 * decisions: last decision per ScaledObject. See include/decisions.h.
 */
#include "decisions.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze.h"
#include "log.h"
#include "metrics.h"

/* A sat_analysis without its fixed-size reason buffer (most are empty): at
 * 10k ScaledObjects the buffer alone would be 7.5 MB. */
struct lean_analysis {
    size_t total_replicas, non_saturated_count;
    double avg_spare_kv, avg_spare_queue;
    bool should_scale_up, scale_down_safe;
    char *reason; /* NULL when empty */
    struct sat_variant_analysis *variants;
    size_t variant_count;
};

static void lean_clear(struct lean_analysis *l)
{
    struct sat_analysis a;
    memset(&a, 0, sizeof(a));
    a.variants = l->variants;
    a.variant_count = l->variant_count;
    sat_analysis_clear(&a);
    free(l->reason);
    memset(l, 0, sizeof(*l));
}

/* A full sat_analysis view of l for rendering (variants borrowed). */
static void lean_view(const struct lean_analysis *l, struct sat_analysis *a)
{
    memset(a, 0, sizeof(*a));
    a->total_replicas = l->total_replicas;
    a->non_saturated_count = l->non_saturated_count;
    a->avg_spare_kv = l->avg_spare_kv;
    a->avg_spare_queue = l->avg_spare_queue;
    a->should_scale_up = l->should_scale_up;
    a->scale_down_safe = l->scale_down_safe;
    snprintf(a->scale_up_reason, sizeof(a->scale_up_reason), "%s", l->reason ? l->reason : "");
    a->variants = l->variants;
    a->variant_count = l->variant_count;
}

struct record {
    char *ns, *so, *model, *source;
    int64_t updated_ms, logged_ms;
    struct timespec wall;
    struct meta_resolved inputs;
    int64_t desired, current;
    enum sat_action action;
    bool active, all_saturated, has_series;
    struct lean_analysis analysis;
    struct record *next;
};

struct decisions {
    pthread_mutex_t mu;
    struct record **buckets;
    size_t n_buckets, count;
    int64_t log_repeat_ms;
};

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ 0x2f) * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

struct decisions *decisions_new(int64_t log_repeat_ms)
{
    struct decisions *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    pthread_mutex_init(&d->mu, NULL);
    d->log_repeat_ms = log_repeat_ms > 0 ? log_repeat_ms : 60000;
    return d;
}

static void record_free(struct record *r)
{
    free(r->ns);
    free(r->so);
    free(r->model);
    free(r->source);
    lean_clear(&r->analysis);
    free(r);
}

void decisions_free(struct decisions *d)
{
    size_t i;
    if (!d)
        return;
    for (i = 0; i < d->n_buckets; i++)
        while (d->buckets[i]) {
            struct record *r = d->buckets[i];
            d->buckets[i] = r->next;
            record_free(r);
        }
    free(d->buckets);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* Under d->mu. */
static struct record *find(struct decisions *d, const char *ns, const char *so, bool create)
{
    struct record *r;
    size_t j;

    if (d->n_buckets)
        for (r = d->buckets[hash2(ns, so) & (d->n_buckets - 1)]; r; r = r->next)
            if (strcmp(r->ns, ns) == 0 && strcmp(r->so, so) == 0)
                return r;
    if (!create)
        return NULL;
    if (d->count + 1 > d->n_buckets) {
        size_t n = d->n_buckets ? d->n_buckets * 2 : 256, i;
        struct record **nb = calloc(n, sizeof(*nb));
        if (!nb)
            return NULL;
        for (i = 0; i < d->n_buckets; i++)
            while (d->buckets[i]) {
                struct record *x = d->buckets[i];
                d->buckets[i] = x->next;
                x->next = nb[hash2(x->ns, x->so) & (n - 1)];
                nb[hash2(x->ns, x->so) & (n - 1)] = x;
            }
        free(d->buckets);
        d->buckets = nb;
        d->n_buckets = n;
    }
    r = calloc(1, sizeof(*r));
    if (!r || !(r->ns = strdup(ns)) || !(r->so = strdup(so))) {
        if (r)
            free(r->ns);
        free(r);
        return NULL;
    }
    j = hash2(ns, so) & (d->n_buckets - 1);
    r->next = d->buckets[j];
    d->buckets[j] = r;
    d->count++;
    return r;
}

void decisions_record(struct decisions *d, const struct meta_request *req, const char *source,
                      struct decide_result *res, int64_t now_ms)
{
    struct record *r;
    struct lean_analysis old, lean;
    const struct sat_analysis *a = &res->analysis;
    bool changed, log_it;

    /* The record takes the variants; res keeps the numbers and the reason
     * for the metrics and the log below. */
    memset(&lean, 0, sizeof(lean));
    lean.total_replicas = a->total_replicas;
    lean.non_saturated_count = a->non_saturated_count;
    lean.avg_spare_kv = a->avg_spare_kv;
    lean.avg_spare_queue = a->avg_spare_queue;
    lean.should_scale_up = a->should_scale_up;
    lean.scale_down_safe = a->scale_down_safe;
    lean.reason = a->scale_up_reason[0] ? strdup(a->scale_up_reason) : NULL;
    lean.variants = a->variants;
    lean.variant_count = a->variant_count;
    pthread_mutex_lock(&d->mu);
    r = find(d, req->namespace_, req->name, true);
    if (!r) {
        pthread_mutex_unlock(&d->mu);
        free(lean.reason);
        decide_result_clear(res);
        return;
    }
    changed = r->updated_ms == 0 || r->desired != res->desired ||
              r->action != res->decision.action || r->active != res->active;
    log_it = changed || now_ms - r->logged_ms >= d->log_repeat_ms;
    if (!r->model || strcmp(r->model, req->model_id) != 0) {
        free(r->model);
        r->model = strdup(req->model_id);
    }
    if (!r->source || strcmp(r->source, source) != 0) {
        free(r->source);
        r->source = strdup(source);
    }
    r->updated_ms = now_ms;
    clock_gettime(CLOCK_REALTIME, &r->wall);
    r->inputs = req->resolved;
    r->desired = res->desired;
    r->current = res->current;
    r->action = res->decision.action;
    r->active = res->active;
    r->all_saturated = res->all_saturated;
    r->has_series = res->has_series;
    old = r->analysis;
    r->analysis = lean; /* the variants move */
    res->analysis.variants = NULL;
    res->analysis.variant_count = 0;
    if (log_it)
        r->logged_ms = now_ms;
    pthread_mutex_unlock(&d->mu);
    lean_clear(&old);
    {
        struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
        v.desired_replicas = res->desired;
        v.current_replicas = res->current;
        v.model_pods = (int64_t)res->model_pods;
        v.active = res->active;
        if (a->non_saturated_count > 0 || a->total_replicas > 0) {
            v.avg_spare_kv = a->avg_spare_kv;
            v.avg_spare_queue = a->avg_spare_queue;
        }
        metrics_scaledobject(req->namespace_, req->name, req->model_id, &v, now_ms);
    }

    if (log_it) {
        log_write(LOG_INFO, "decision",
                  "%s/%s model=%s desired=%lld current=%lld action=%s active=%s replicas=%zu "
                  "nonSaturated=%zu avgSpareKv=%.4f avgSpareQueue=%.2f kvSpareTrigger=%g "
                  "queueSpareTrigger=%g kvCacheThreshold=%g queueLengthThreshold=%g reason=\"%s\"%s",
                  req->namespace_, req->name, req->model_id, (long long)res->desired,
                  (long long)res->current, sat_action_str(res->decision.action),
                  res->active ? "true" : "false", a->total_replicas, a->non_saturated_count,
                  a->avg_spare_kv, a->avg_spare_queue, req->resolved.config.kv_spare_trigger,
                  req->resolved.config.queue_spare_trigger,
                  req->resolved.config.kv_cache_threshold,
                  req->resolved.config.queue_length_threshold, a->scale_up_reason,
                  changed ? "" : " (unchanged)");
    }
    decide_result_clear(res);
}

static cJSON *add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v);
}

enum err_code decisions_json(struct decisions *d, const char *ns, const char *so, char **out,
                             size_t *len)
{
    struct record *r;
    cJSON *root = NULL, *in;
    char ts[64], why[256];
    struct tm tm;
    char *text;
    enum err_code rc = ERR_OK;

    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&d->mu);
    r = find(d, ns, so, false);
    if (!r) {
        pthread_mutex_unlock(&d->mu);
        return ERR_NOT_FOUND;
    }
    root = cJSON_CreateObject();
    {
        struct sat_analysis view;
        lean_view(&r->analysis, &view);
        if (!root || analyze_render_analysis(root, &view, why, sizeof(why)) != ERR_OK) {
            rc = ERR_NOMEM;
            goto done;
        }
    }
    cJSON_AddStringToObject(root, "namespace", r->ns);
    cJSON_AddStringToObject(root, "scaledobject", r->so);
    cJSON_AddStringToObject(root, "model", r->model ? r->model : "");
    cJSON_AddStringToObject(root, "source", r->source ? r->source : "");
    add_num(root, "desired", (double)r->desired);
    add_num(root, "current", (double)r->current);
    cJSON_AddStringToObject(root, "action", sat_action_str(r->action));
    cJSON_AddBoolToObject(root, "active", r->active);
    cJSON_AddBoolToObject(root, "allSaturated", r->all_saturated);
    cJSON_AddBoolToObject(root, "hasSeries", r->has_series);
    in = cJSON_AddObjectToObject(root, "inputs");
    if (in) {
        add_num(in, "kvCacheThreshold", r->inputs.config.kv_cache_threshold);
        add_num(in, "queueLengthThreshold", r->inputs.config.queue_length_threshold);
        add_num(in, "kvSpareTrigger", r->inputs.config.kv_spare_trigger);
        add_num(in, "queueSpareTrigger", r->inputs.config.queue_spare_trigger);
        add_num(in, "hpaScaleUpTolerance", r->inputs.tolerance.up);
        add_num(in, "hpaScaleDownTolerance", r->inputs.tolerance.down);
        add_num(in, "minReplicas", (double)r->inputs.min_replicas);
        if (r->inputs.max_replicas != SAT_UNSET)
            add_num(in, "maxReplicas", (double)r->inputs.max_replicas);
        add_num(in, "variantCost", r->inputs.variant_cost);
        add_num(in, "metricsWindowSeconds", (double)r->inputs.metrics_window_ms / 1000.0);
        if (r->inputs.scale_to_zero_ms > 0)
            add_num(in, "scaleToZeroSeconds", (double)r->inputs.scale_to_zero_ms / 1000.0);
        cJSON_AddStringToObject(in, "engine", meta_engine_str(r->inputs.engine));
    }
    gmtime_r(&r->wall.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             r->wall.tv_nsec / 1000000);
    cJSON_AddStringToObject(root, "time", ts);
done:
    pthread_mutex_unlock(&d->mu);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return ERR_NOMEM;
    *len = strlen(text);
    *out = malloc(*len + 2);
    if (!*out) {
        cJSON_free(text);
        return ERR_NOMEM;
    }
    memcpy(*out, text, *len);
    (*out)[(*len)++] = '\n';
    (*out)[*len] = '\0';
    cJSON_free(text);
    return ERR_OK;
}

size_t decisions_expire(struct decisions *d, int64_t now_ms, int64_t ttl_ms)
{
    size_t i, n;
    pthread_mutex_lock(&d->mu);
    for (i = 0; i < d->n_buckets; i++) {
        struct record **pp = &d->buckets[i];
        while (*pp) {
            struct record *r = *pp;
            if (now_ms - r->updated_ms > ttl_ms) {
                *pp = r->next;
                record_free(r);
                d->count--;
            } else {
                pp = &r->next;
            }
        }
    }
    n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

void decisions_each(struct decisions *d, decisions_visit_fn *fn, void *arg)
{
    size_t i;
    pthread_mutex_lock(&d->mu);
    for (i = 0; i < d->n_buckets; i++) {
        struct record *r;
        for (r = d->buckets[i]; r; r = r->next)
            fn(arg, r->ns, r->so, r->model ? r->model : "", r->desired, r->current, r->active,
               r->analysis.avg_spare_kv, r->analysis.avg_spare_queue);
    }
    pthread_mutex_unlock(&d->mu);
}
