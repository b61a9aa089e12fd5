/*
 * managed: the llm-d.ai/managed annotation path, how llm-d users running
 * the WVA controller move to this scaler without touching their objects.
 *
 * For a ScaledObject annotated llm-d.ai/managed: "true" (exactly) it reads,
 * through the kube cache (never blocking: a missing object parks the
 * caller's waiter): the model id (llm-d.ai/model-id, required), the cost
 * (llm-d.ai/variant-cost, default 10), spec.minReplicaCount (absent 0, as
 * KEDA) and spec.maxReplicaCount (absent 100) as a decision layer below the
 * trigger metadata; every managed ScaledObject of the namespace with the
 * same model id as a variant; each variant's scale target (Deployment or
 * LeaderWorkerSet): status.replicas (the current count the HPA divides by),
 * readyReplicas (pending = replicas - ready) and spec.replicas (a desired
 * count not yet reached holds the model in transition, as WVA), and the
 * pod template's llm-d.ai/role (variants are analysed per role group).
 *
 * Pods are attributed to variants by their llm_d_ai_variant label, else
 * by their owner chain (Pod -> ReplicaSet -> Deployment, or the
 * leaderworkerset.sigs.k8s.io/name label) matched against scale targets.
 *
 * Ownership: a managed_ctx owns its strings; managed_ctx_clear() frees.
 * Threading: any thread; the kube client does the I/O on its own thread.
 */
#ifndef SAT_MANAGED_H
#define SAT_MANAGED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "err.h"
#include "kube.h"
#include "meta.h"
#include "table.h"
#include "util.h"

#define MANAGED_DEFAULT_COST 10.0
#define MANAGED_DEFAULT_MAX 100

struct managed_variant {
    char *name; /* ScaledObject name */
    double cost;
    char *target_kind; /* Deployment | LeaderWorkerSet */
    char *target_name;
    int64_t current; /* status.replicas */
    int64_t desired; /* spec.replicas */
    int64_t pending; /* status.replicas - status.readyReplicas, >= 0 */
    char *role;      /* "prefill", "decode" or NULL (both) */
};

struct managed_ctx {
    bool managed;         /* llm-d.ai/managed: "true" */
    char *model_id;       /* the annotation's (NULL when not managed) */
    struct meta_decision layer;   /* min, max, cost of the object */
    char *layer_source;           /* "ScaledObject llm/name" */
    struct managed_variant *variants;
    size_t n_variants;
    size_t self;                  /* index of the asking ScaledObject */
};

/*
 * Resolve the context of ScaledObject ns/name. ERR_OK: *out filled
 * (managed false: use the trigger metadata alone). ERR_AGAIN: w parked on
 * a read (call again when it fires), or, when w->parked is false, the read
 * completed meanwhile (call again at once). ERR_PRECONDITION: managed but
 * llm-d.ai/model-id is missing (why names the annotation).
 * ERR_UNAVAILABLE: the API server failed (why: status and reason).
 * metadata_model_id: the trigger's modelID, which overrides the annotation
 * (then the annotation is not required); NULL when absent.
 */
SAT_WUR enum err_code managed_resolve(struct kube *k, const char *ns, const char *name,
                                      const char *metadata_model_id, struct managed_ctx *out,
                                      struct kube_waiter *w, int64_t deadline_ms, char *why,
                                      size_t why_len);
void managed_ctx_clear(struct managed_ctx *c);

/*
 * Attribute the rows of model m to ctx's variants: out[i] is the variant
 * index of row i, or SIZE_MAX when no variant owns it. May park w on pod
 * or ReplicaSet reads (ERR_AGAIN).
 */
SAT_WUR enum err_code managed_attribute(struct kube *k, const char *ns,
                                        const struct managed_ctx *ctx, const struct table_model *m,
                                        size_t *out, struct kube_waiter *w, int64_t deadline_ms,
                                        char *why, size_t why_len);

/*
 * The decision for ctx's own variant: WVA over the variants of its role
 * group, with their kube replica states and the attributed rows. Pure.
 */
SAT_WUR enum err_code managed_decide(const struct table *t, const struct meta_request *req,
                                     const struct managed_ctx *ctx, const size_t *attribution,
                                     struct decide_result *out);

#endif
