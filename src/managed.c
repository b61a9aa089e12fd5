/*
 * managed: the llm-d.ai/managed annotation path. See include/managed.h.
 *
 * Every function re-runs from the start when a parked read completes: all
 * reads go through the kube cache, so a second run costs lookups only.
 * Each run first asks for every object it will need without parking (which
 * queues the reads together), then parks on the first one still missing.
 */
#include "managed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "kubeobj.h"

/* ---- kube types ---------------------------------------------------------- */

static void *parse_so(const char *body, size_t len, char *why, size_t why_len)
{
    struct kubeobj_scaledobject *so = calloc(1, sizeof(*so));
    if (so && kubeobj_parse_scaledobject(body, len, 0, so, why, why_len) != ERR_OK) {
        free(so);
        return NULL;
    }
    return so;
}
static void free_so(void *p)
{
    kubeobj_scaledobject_clear(p);
    free(p);
}
static void *parse_so_list(const char *body, size_t len, char *why, size_t why_len)
{
    struct kubeobj_scaledobject_list *l = calloc(1, sizeof(*l));
    if (l && kubeobj_parse_scaledobject_list(body, len, 0, l, why, why_len) != ERR_OK) {
        free(l);
        return NULL;
    }
    return l;
}
static void free_so_list(void *p)
{
    kubeobj_scaledobject_list_clear(p);
    free(p);
}
static void *parse_workload(const char *body, size_t len, char *why, size_t why_len)
{
    struct kubeobj_workload *w = calloc(1, sizeof(*w));
    if (w && kubeobj_parse_workload(body, len, 0, w, why, why_len) != ERR_OK) {
        free(w);
        return NULL;
    }
    return w;
}
static void free_workload(void *p)
{
    kubeobj_workload_clear(p);
    free(p);
}
static void *parse_object(const char *body, size_t len, char *why, size_t why_len)
{
    struct kubeobj_object *o = calloc(1, sizeof(*o));
    if (o && kubeobj_parse_owner(body, len, 0, o, why, why_len) != ERR_OK) {
        free(o);
        return NULL;
    }
    return o;
}
static void free_object(void *p)
{
    kubeobj_object_clear(p);
    free(p);
}

static const struct kube_type T_SO = {"ScaledObject", parse_so, free_so};
static const struct kube_type T_SO_LIST = {"ScaledObjectList", parse_so_list, free_so_list};
static const struct kube_type T_WORKLOAD = {"scale target", parse_workload, free_workload};
static const struct kube_type T_OBJECT = {"object", parse_object, free_object};

/* ---- helpers ------------------------------------------------------------- */

/* Names that may go into an API path: DNS-1123 subdomains. */
static bool path_safe(const char *s)
{
    size_t n = s ? strlen(s) : 0, i;
    if (n == 0 || n > 253)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool is_lws(const char *kind)
{
    return kind && strcmp(kind, "LeaderWorkerSet") == 0;
}

static void workload_path(char *buf, size_t len, const char *ns, const char *kind,
                          const char *name)
{
    if (is_lws(kind))
        snprintf(buf, len, "/apis/leaderworkerset.x-k8s.io/v1/namespaces/%s/leaderworkersets/%s",
                 ns, name);
    else
        snprintf(buf, len, "/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
}

/* kube_get with a prefetch-then-park discipline: park only when asked. */
static enum err_code get(struct kube *k, const struct kube_type *t, const char *path,
                         struct kube_ref **out, struct kube_waiter *w, bool park,
                         int64_t deadline_ms, char *why, size_t why_len)
{
    return kube_get(k, t, path, out, park ? w : NULL, deadline_ms, why, why_len);
}

void managed_ctx_clear(struct managed_ctx *c)
{
    size_t i;
    if (!c)
        return;
    for (i = 0; i < c->n_variants; i++) {
        free(c->variants[i].name);
        free(c->variants[i].target_kind);
        free(c->variants[i].target_name);
        free(c->variants[i].role);
    }
    free(c->variants);
    free(c->model_id);
    free(c->layer_source);
    memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- resolve ------------------------------------------------------------- */

/* One attempt. *retry: a read completed between the prefetch and the park
 * (nothing parked): the caller runs again. */
static enum err_code resolve_once(struct kube *k, const char *ns, const char *name,
                                  const char *md_model, struct managed_ctx *out,
                                  struct kube_waiter *w, int64_t deadline_ms, char *why,
                                  size_t why_len, bool *retry)
{
    const char *model_id;
    char path[1024];
    struct kube_ref *so_ref = NULL, *list_ref = NULL;
    const struct kubeobj_scaledobject *so;
    const struct kubeobj_scaledobject_list *list;
    struct kube_ref **wl_refs = NULL;
    size_t i, n = 0;
    enum err_code rc, first_missing = ERR_OK;
    int missing_at = -1;

    memset(out, 0, sizeof(*out));
    if (!path_safe(ns) || !path_safe(name)) {
        /* Not a Kubernetes object name: cannot be a managed ScaledObject. */
        return ERR_OK;
    }
    snprintf(path, sizeof(path), "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s", ns,
             name);
    rc = get(k, &T_SO, path, &so_ref, w, true, deadline_ms, why, why_len);
    if (rc == ERR_NOT_FOUND)
        return ERR_OK; /* no such ScaledObject (grpcurl, tests): the metadata path */
    if (rc)
        return rc;
    so = kube_ref_obj(so_ref);
    if (!so->managed) {
        kube_ref_release(so_ref);
        return ERR_OK;
    }
    model_id = md_model ? md_model : so->model_id; /* trigger metadata wins */
    if (!model_id) {
        snprintf(why, why_len,
                 "ScaledObject %s/%s: annotation %s is required with %s: \"true\"", ns, name,
                 KUBEOBJ_ANN_MODEL_ID, KUBEOBJ_ANN_MANAGED);
        kube_ref_release(so_ref);
        return ERR_PRECONDITION;
    }

    /* The variants: every managed ScaledObject of the namespace, same model. */
    snprintf(path, sizeof(path), "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects", ns);
    rc = get(k, &T_SO_LIST, path, &list_ref, w, true, deadline_ms, why, why_len);
    if (rc) {
        kube_ref_release(so_ref);
        return rc == ERR_NOT_FOUND ? ERR_UNAVAILABLE : rc;
    }
    list = kube_ref_obj(list_ref);

    out->variants = calloc(list->count + 1, sizeof(*out->variants));
    wl_refs = calloc(list->count + 1, sizeof(*wl_refs));
    if (!out->variants || !wl_refs) {
        rc = ERR_NOMEM;
        goto done;
    }
    out->self = SIZE_MAX;
    for (i = 0; i <= list->count; i++) {
        /* the list's items, then the object itself if the list lags */
        const struct kubeobj_scaledobject *v = i < list->count ? &list->items[i] : so;
        if (i == list->count && out->self != SIZE_MAX)
            break;
        if (i < list->count && strcmp(v->name, name) == 0)
            v = so; /* the freshest read of ourselves */
        if (v != so && (!v->managed || !v->model_id || strcmp(v->model_id, model_id) != 0))
            continue;
        if (strcmp(v->name, name) == 0)
            out->self = n;
        out->variants[n].name = strdup(v->name);
        out->variants[n].cost = v->cost;
        out->variants[n].target_kind = strdup(v->target_kind ? v->target_kind : "Deployment");
        out->variants[n].target_name = dup_or_null(v->target_name);
        if (!out->variants[n].name || !out->variants[n].target_kind) {
            out->n_variants = n + 1;
            rc = ERR_NOMEM;
            goto done;
        }
        n++;
    }
    out->n_variants = n;

    /* Each variant's scale target: ask for all, then park on the first
     * missing one. */
    for (i = 0; i < n; i++) {
        struct managed_variant *v = &out->variants[i];
        if (!v->target_name || !path_safe(v->target_name))
            continue;
        workload_path(path, sizeof(path), ns, v->target_kind, v->target_name);
        rc = get(k, &T_WORKLOAD, path, &wl_refs[i], w, false, deadline_ms, why, why_len);
        if (rc == ERR_AGAIN && missing_at < 0)
            missing_at = (int)i;
        else if (rc && rc != ERR_AGAIN && first_missing == ERR_OK)
            first_missing = rc;
    }
    if (first_missing != ERR_OK) {
        rc = first_missing == ERR_NOT_FOUND ? ERR_UNAVAILABLE : first_missing;
        goto done;
    }
    if (missing_at >= 0) {
        struct managed_variant *v = &out->variants[missing_at];
        workload_path(path, sizeof(path), ns, v->target_kind, v->target_name);
        rc = get(k, &T_WORKLOAD, path, &wl_refs[missing_at], w, true, deadline_ms, why, why_len);
        if (rc)
            goto done; /* parked (or failed meanwhile) */
        *retry = true; /* arrived meanwhile, nothing parked: run again */
        rc = ERR_AGAIN;
        goto done;
    }
    for (i = 0; i < n; i++) {
        struct managed_variant *v = &out->variants[i];
        const struct kubeobj_workload *wl = kube_ref_obj(wl_refs[i]);
        if (!wl)
            continue; /* no usable target: counts as 0 replicas */
        v->current = wl->status_replicas;
        v->desired = wl->spec_replicas;
        v->pending = wl->status_replicas > wl->ready_replicas
                         ? wl->status_replicas - wl->ready_replicas
                         : 0;
        if (wl->role && (strcmp(wl->role, "prefill") == 0 || strcmp(wl->role, "decode") == 0)) {
            v->role = strdup(wl->role);
            if (!v->role) {
                rc = ERR_NOMEM;
                goto done;
            }
        }
    }

    /* The object's own values, as a layer below the trigger metadata. */
    out->managed = true;
    out->model_id = strdup(model_id);
    {
        char b[64];
        snprintf(b, sizeof(b), "%lld", (long long)so->min);
        if (meta_decision_parse(&out->layer, "minReplicas", b, why, why_len) != ERR_OK)
            goto bad_values;
        snprintf(b, sizeof(b), "%lld", (long long)so->max);
        if (meta_decision_parse(&out->layer, "maxReplicas", b, why, why_len) != ERR_OK)
            goto bad_values;
        if (meta_decision_set_number(&out->layer, "variantCost", so->cost, why, why_len) !=
            ERR_OK)
            goto bad_values;
    }
    {
        size_t sl = strlen(ns) + strlen(name) + 32;
        out->layer_source = malloc(sl);
        if (out->layer_source)
            snprintf(out->layer_source, sl, "ScaledObject %s/%s", ns, name);
    }
    if (!out->model_id || !out->layer_source) {
        rc = ERR_NOMEM;
        goto done;
    }
    rc = ERR_OK;
    goto done;

bad_values:
    rc = ERR_PRECONDITION;
done:
    if (wl_refs) {
        for (i = 0; i <= list->count; i++)
            kube_ref_release(wl_refs[i]);
        free(wl_refs);
    }
    kube_ref_release(list_ref);
    kube_ref_release(so_ref);
    if (rc)
        managed_ctx_clear(out);
    return rc;
}

enum err_code managed_resolve(struct kube *k, const char *ns, const char *name,
                              const char *metadata_model_id, struct managed_ctx *out,
                              struct kube_waiter *w, int64_t deadline_ms, char *why,
                              size_t why_len)
{
    int attempt;

    /* Resolve into a local context: once w is parked, its callback may run
     * (on another thread) before this returns, so *out is written only on
     * success. */
    for (attempt = 0; attempt < 8; attempt++) {
        struct managed_ctx tmp;
        bool retry = false;
        enum err_code rc = resolve_once(k, ns, name, metadata_model_id, &tmp, w, deadline_ms, why,
                                        why_len, &retry);
        if (rc == ERR_AGAIN && retry)
            continue;
        if (rc == ERR_OK) {
            managed_ctx_clear(out);
            *out = tmp;
        }
        return rc;
    }
    snprintf(why, why_len, "kubernetes API: objects of %s/%s keep changing; try again", ns, name);
    return ERR_UNAVAILABLE;
}

/* ---- attribution ---------------------------------------------------------- */

static size_t variant_by_name(const struct managed_ctx *ctx, const char *name)
{
    size_t i;
    for (i = 0; name && i < ctx->n_variants; i++)
        if (strcmp(ctx->variants[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

static size_t variant_by_target(const struct managed_ctx *ctx, const char *kind, const char *name)
{
    size_t i;
    for (i = 0; name && i < ctx->n_variants; i++) {
        const struct managed_variant *v = &ctx->variants[i];
        if (v->target_name && strcmp(v->target_name, name) == 0 &&
            is_lws(v->target_kind) == is_lws(kind))
            return i;
    }
    return SIZE_MAX;
}

/* A private code: a read completed between prefetch and park. */
#define ERR_BUSY_RETRY ((enum err_code)1000)

static enum err_code attribute_once(struct kube *k, const char *ns, const struct managed_ctx *ctx,
                                    const struct table_model *m, size_t *out,
                                    struct kube_waiter *w, int64_t deadline_ms, char *why,
                                    size_t why_len)
{
    char path[1024];
    size_t i;
    ssize_t park_row = -1;
    bool park_rs = false;
    const char *park_rs_name = NULL;
    enum err_code rc;

    for (i = 0; i < m->row_count; i++) {
        const struct table_row *r = &m->rows[i];
        struct kube_ref *pod_ref = NULL, *rs_ref = NULL;
        const struct kubeobj_object *pod, *rs;
        const char *lws;

        out[i] = SIZE_MAX;
        if (r->variant) { /* the llm_d_ai_variant label names the ScaledObject */
            out[i] = variant_by_name(ctx, r->variant);
            continue;
        }
        if (!path_safe(r->pod))
            continue;
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, r->pod);
        rc = kube_get(k, &T_OBJECT, path, &pod_ref, NULL, deadline_ms, why, why_len);
        if (rc == ERR_AGAIN) {
            if (park_row < 0)
                park_row = (ssize_t)i;
            continue;
        }
        if (rc == ERR_NOT_FOUND)
            continue; /* gone: nobody's */
        if (rc)
            return rc;
        pod = kube_ref_obj(pod_ref);
        lws = kubeobj_label(pod, "leaderworkerset.sigs.k8s.io/name");
        if (lws) {
            out[i] = variant_by_target(ctx, "LeaderWorkerSet", lws);
        } else if (pod->owner_kind && strcmp(pod->owner_kind, "ReplicaSet") == 0 &&
                   path_safe(pod->owner_name)) {
            snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/replicasets/%s", ns,
                     pod->owner_name);
            rc = kube_get(k, &T_OBJECT, path, &rs_ref, NULL, deadline_ms, why, why_len);
            if (rc == ERR_AGAIN && park_row < 0) {
                park_row = (ssize_t)i;
                park_rs = true;
                park_rs_name = NULL;
            } else if (rc == ERR_OK) {
                rs = kube_ref_obj(rs_ref);
                if (rs->owner_kind && strcmp(rs->owner_kind, "Deployment") == 0)
                    out[i] = variant_by_target(ctx, "Deployment", rs->owner_name);
            } else if (rc != ERR_NOT_FOUND && rc != ERR_AGAIN) {
                kube_ref_release(pod_ref);
                return rc;
            }
        } else if (pod->owner_kind && strcmp(pod->owner_kind, "Deployment") == 0) {
            out[i] = variant_by_target(ctx, "Deployment", pod->owner_name);
        }
        kube_ref_release(rs_ref);
        kube_ref_release(pod_ref);
    }
    (void)park_rs_name;
    if (park_row >= 0) {
        /* Park on the first read still missing; everything was queued. */
        const struct table_row *r = &m->rows[park_row];
        struct kube_ref *ref = NULL;
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, r->pod);
        rc = kube_get(k, &T_OBJECT, path, &ref, park_rs ? NULL : w, deadline_ms, why, why_len);
        if (rc == ERR_OK && park_rs) {
            const struct kubeobj_object *pod = kube_ref_obj(ref);
            struct kube_ref *rsr = NULL;
            snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/replicasets/%s", ns,
                     pod->owner_name);
            rc = kube_get(k, &T_OBJECT, path, &rsr, w, deadline_ms, why, why_len);
            kube_ref_release(rsr);
        }
        kube_ref_release(ref);
        return rc == ERR_OK ? ERR_BUSY_RETRY : rc; /* ERR_OK: arrived meanwhile */
    }
    return ERR_OK;
}

enum err_code managed_attribute(struct kube *k, const char *ns, const struct managed_ctx *ctx,
                                const struct table_model *m, size_t *out, struct kube_waiter *w,
                                int64_t deadline_ms, char *why, size_t why_len)
{
    int attempt;
    for (attempt = 0; attempt < 8; attempt++) {
        enum err_code rc = attribute_once(k, ns, ctx, m, out, w, deadline_ms, why, why_len);
        if (rc != ERR_BUSY_RETRY)
            return rc;
    }
    snprintf(why, why_len, "kubernetes API: pods of %s keep changing; try again", ns);
    return ERR_UNAVAILABLE;
}

/* ---- the decision --------------------------------------------------------- */

static bool same_role(const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    return strcmp(a, b) == 0;
}

enum err_code managed_decide(const struct table *t, const struct meta_request *req,
                             const struct managed_ctx *ctx, const size_t *attribution,
                             struct decide_result *out)
{
    const struct meta_resolved *res = &req->resolved;
    const struct table_model *m;
    const struct managed_variant *self = &ctx->variants[ctx->self];
    struct sat_replica *replicas = NULL;
    struct sat_variant_state *states = NULL;
    struct sat_decision *decisions = NULL;
    size_t i, n = 0, ns = 0, mine = 0;
    enum err_code rc = ERR_OK;

    memset(out, 0, sizeof(*out));
    out->variant = self->name;
    out->current = self->current;
    out->desired = self->current; /* no data: hold what the HPA has */
    decide_activation(t, req, &out->active, &out->all_saturated);
    m = t ? table_find(t, req->namespace_, req->model_id) : NULL;
    if (m) {
        out->flow_control_queue = m->flow_control_queue;
        out->model_pods = m->distinct_pods;
        out->has_series = m->row_count > 0;
    }

    /* The role group: variants sharing self's role (none = both). */
    states = calloc(ctx->n_variants, sizeof(*states));
    decisions = calloc(ctx->n_variants, sizeof(*decisions));
    replicas = calloc(m && m->row_count ? m->row_count : 1, sizeof(*replicas));
    if (!states || !decisions || !replicas) {
        rc = ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < ctx->n_variants; i++) {
        const struct managed_variant *v = &ctx->variants[i];
        if (!same_role(v->role, self->role))
            continue;
        if (i == ctx->self)
            mine = ns;
        states[ns].name = v->name;
        states[ns].cost = i == ctx->self ? res->variant_cost : v->cost;
        states[ns].current = v->current;
        states[ns].desired = v->desired;
        states[ns].pending = v->pending;
        states[ns].min = i == ctx->self ? res->min_replicas : SAT_UNSET;
        states[ns].max = i == ctx->self ? res->max_replicas : SAT_UNSET;
        ns++;
    }
    for (i = 0; m && i < m->row_count; i++) {
        size_t v = attribution ? attribution[i] : SIZE_MAX;
        if (v == SIZE_MAX || !same_role(ctx->variants[v].role, self->role))
            continue;
        replicas[n].pod = m->rows[i].instance;
        replicas[n].variant = ctx->variants[v].name;
        replicas[n].kv = m->rows[i].kv;
        replicas[n].queue = m->rows[i].queue;
        n++;
    }
    rc = sat_analyze(&res->config, replicas, n, &out->analysis);
    if (rc)
        goto done;
    rc = sat_targets(&out->analysis, &res->config, states, ns, &res->tolerance, decisions);
    if (rc)
        goto done;
    out->variant_has_pods = sat_analysis_find(&out->analysis, self->name) != NULL;
    out->decision = decisions[mine];
    out->desired = decisions[mine].target;
done:
    free(replicas);
    free(states);
    free(decisions);
    if (rc)
        decide_result_clear(out);
    return rc;
}
