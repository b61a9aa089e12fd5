/*
 * kubeobj: Kubernetes API objects (JSON as the API server sends it) ->
 * small structs, for the annotation path (DESIGN section 5).
 *
 * The I/O module fetches; this module reads what it fetched:
 * - a KEDA ScaledObject (keda.sh/v1alpha1) and a ScaledObjectList: name,
 *   namespace, the llm-d.ai annotations (managed, model-id, variant-cost),
 *   minReplicaCount/maxReplicaCount and scaleTargetRef;
 * - the scale target: a Deployment (apps/v1) or a LeaderWorkerSet
 *   (leaderworkerset.x-k8s.io/v1): desired, current and ready replicas and
 *   the pod template's llm-d.ai/role label;
 * - a ReplicaSet or a Pod, and a PodList: name, labels and the controlling
 *   owner, to attribute pods to variants;
 * - a failed request: the API server's Status object as one line.
 *
 * Input rules (every parse):
 * - json[0..len) need not be NUL-terminated (NULL is allowed when len is
 *   0). Above max_len bytes (0 = KUBEOBJ_DEFAULT_MAX_JSON) the input is
 *   refused before parsing. The document must be one JSON object; white
 *   space may follow it, nothing else.
 * - Unknown fields are ignored (managedFields, status.conditions, ...);
 *   keys are case-sensitive; of repeated keys the first counts. A JSON
 *   null is the same as an absent field (Go's encoding/json reads it so).
 * - Every string this module copies is at most KUBEOBJ_MAX_STRING bytes.
 * - Counts (replicas, min/max) must be whole JSON numbers in
 *   [0, 2147483647] (the API types are int32); 1.0 is read as 1 because
 *   the JSON parser keeps numbers as doubles.
 * - Every failure is ERR_INVALID (bad input, ERR_NOMEM when allocation
 *   fails) with `why` naming the JSON path, prefixed with items[i] inside
 *   a list, and echoing the value (escaped, at most 64 bytes) e.g.
 *     metadata.annotations["llm-d.ai/variant-cost"]: "cheap" is not a
 *         non-negative number
 *     items[3].spec.minReplicaCount: must be an integer >= 0 (got -1)
 *     spec.scaleTargetRef.name: is required
 *     JSON of 9437184 bytes exceeds the limit of 8 MiB
 *     truncated JSON: the input ends at byte 812 inside an unfinished value
 *     invalid JSON near byte 17: "nul}"
 *   The caller decides what a failure means to its client (the server maps
 *   a bad annotation to FAILED_PRECONDITION or INVALID_ARGUMENT).
 *
 * Ownership: each parse fills a caller-owned struct, which it clears on
 * entry (so its previous contents must already have been released), and
 * allocates every string and array it points to (malloc). On failure the
 * struct is left cleared. The matching *_clear() frees everything and
 * zeroes the struct; it is a no-op on NULL and on a zeroed or already
 * cleared struct. The input is only read, never retained.
 *
 * Threading: pure, no I/O, no logging, no globals of its own; any thread,
 * as far as cJSON is reentrant (it records its last error position in a
 * global, which this module never reads).
 */
#ifndef SAT_KUBEOBJ_H
#define SAT_KUBEOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* Default input limit, for callers without their own (max_len 0). */
#define KUBEOBJ_DEFAULT_MAX_JSON ((size_t)8 * 1024 * 1024)
/* Longest string copied out of an object (bytes, NUL excluded). */
#define KUBEOBJ_MAX_STRING ((size_t)64 * 1024)
/* maxReplicaCount when the ScaledObject leaves it unset (KEDA's default). */
#define KUBEOBJ_DEFAULT_MAX_REPLICAS 100
/* At most this many body bytes are quoted by kubeobj_status_message(). */
#define KUBEOBJ_BODY_EXCERPT 200
/* A why/out buffer of this size holds every message whole, except that a
 * Status message from the server may still be cut. */
#define KUBEOBJ_WHY_LEN 512

/* The annotations and labels this module reads. */
#define KUBEOBJ_ANN_MANAGED "llm-d.ai/managed"
#define KUBEOBJ_ANN_MODEL_ID "llm-d.ai/model-id"
#define KUBEOBJ_ANN_VARIANT_COST "llm-d.ai/variant-cost"
#define KUBEOBJ_LABEL_ROLE "llm-d.ai/role"

/*
 * A KEDA ScaledObject. managed is true only when the annotation
 * llm-d.ai/managed is exactly the string "true" ("True", "yes", "", a JSON
 * boolean are not).
 * Only on a managed object are the other llm-d.ai annotations read (and
 * validated); on any other object model_id is NULL, has_cost false and
 * cost the default, whatever the annotations say.
 */
struct kubeobj_scaledobject {
    char *name;        /* metadata.name, required */
    char *namespace_;  /* metadata.namespace, required */
    bool managed;      /* metadata.annotations["llm-d.ai/managed"] == "true" */
    char *managed_raw; /* that annotation as sent when it is a string, else NULL
                        * (lets the caller warn about "True") */
    char *model_id;    /* annotation llm-d.ai/model-id; NULL when absent or "" */
    bool has_cost;     /* annotation llm-d.ai/variant-cost present (and valid) */
    double cost;       /* that annotation: finite, >= 0; else META_DEFAULT_VARIANT_COST (10) */
    bool has_min;      /* spec.minReplicaCount present */
    int64_t min;       /* spec.minReplicaCount; 0 (KEDA's default) when absent */
    bool has_max;      /* spec.maxReplicaCount present */
    int64_t max;       /* spec.maxReplicaCount; KUBEOBJ_DEFAULT_MAX_REPLICAS when absent */
    char *target_kind; /* spec.scaleTargetRef.kind; "Deployment" when absent */
    char *target_api_version; /* spec.scaleTargetRef.apiVersion; "apps/v1" when absent */
    char *target_name;        /* spec.scaleTargetRef.name, required */
    char *resource_version;   /* metadata.resourceVersion; NULL when absent */
};

/* A ScaledObjectList: the items in the order the server sent them. */
struct kubeobj_scaledobject_list {
    struct kubeobj_scaledobject *items; /* NULL when count is 0 */
    size_t count;
    char *resource_version; /* metadata.resourceVersion of the list; NULL when absent */
    char *continue_token;   /* metadata.continue; NULL when absent or "" (last page) */
};

/*
 * A scale target. Deployment: spec.replicas, status.replicas (pods),
 * status.readyReplicas, role from spec.template.metadata.labels.
 * LeaderWorkerSet: the same three counts, but they count groups (one
 * leader plus its workers), not pods; role from the leader's template:
 * spec.leaderWorkerTemplate.leaderTemplate.metadata.labels when that
 * template carries the label, else the workerTemplate's (LWS builds the
 * leader from the workerTemplate when leaderTemplate is absent, and the
 * leader is the pod that serves and reports). Pending = status_replicas -
 * ready_replicas is the caller's business (it may be negative while a
 * rollout settles).
 */
struct kubeobj_workload {
    char *kind; /* "Deployment" or "LeaderWorkerSet": other kinds are refused */
    char *name; /* metadata.name, required */
    bool has_spec_replicas;
    int64_t spec_replicas;   /* spec.replicas; 1 (the API default) when absent */
    int64_t status_replicas; /* status.replicas; 0 when absent (omitted when 0) */
    int64_t ready_replicas;  /* status.readyReplicas; 0 when absent */
    char *role;              /* the pod template's llm-d.ai/role label; NULL when absent */
};

/*
 * A ReplicaSet, a Pod or any other object with metadata: who it is, its
 * labels, and who controls it. The owner is the ownerReferences entry with
 * controller: true, else the first entry, else none.
 */
struct kubeobj_object {
    char *name;          /* metadata.name, required */
    char *namespace_;    /* metadata.namespace; NULL when absent */
    char *kind;          /* kind; NULL when absent (a single GET always sends it;
                          * PodList items get "Pod") */
    char *owner_kind;    /* NULL when there is no owner */
    char *owner_name;    /* NULL when there is no owner */
    char **label_names;  /* metadata.labels, in the order sent; NULL when none */
    char **label_values; /* label_values[i] belongs to label_names[i] */
    size_t label_count;
};

/* A PodList: the items in the order the server sent them. */
struct kubeobj_object_list {
    struct kubeobj_object *items; /* NULL when count is 0 */
    size_t count;
    char *resource_version; /* metadata.resourceVersion of the list; NULL when absent */
    char *continue_token;   /* metadata.continue; NULL when absent or "" */
};

/*
 * GET apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects/{name}.
 * kind, when sent, must be "ScaledObject". On a managed object a bad
 * variant-cost or model-id is an error, and so is an effective minimum
 * above the effective maximum (minReplicaCount 0 when absent, maxReplicaCount
 * 100 when absent: KEDA refuses such an object too, and the clamp would be
 * meaningless).
 */
SAT_WUR enum err_code kubeobj_parse_scaledobject(const char *json, size_t len, size_t max_len,
                                                 struct kubeobj_scaledobject *out, char *why,
                                                 size_t why_len);
void kubeobj_scaledobject_clear(struct kubeobj_scaledobject *so);

/*
 * GET apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects. kind, when sent,
 * must be "ScaledObjectList"; "items" absent or null is an empty list. Each
 * item is read as kubeobj_parse_scaledobject() reads an object; the first
 * bad item fails the whole list ("items[3].spec.scaleTargetRef: ...").
 */
SAT_WUR enum err_code kubeobj_parse_scaledobject_list(const char *json, size_t len, size_t max_len,
                                                      struct kubeobj_scaledobject_list *out,
                                                      char *why, size_t why_len);
void kubeobj_scaledobject_list_clear(struct kubeobj_scaledobject_list *list);

/* GET apis/apps/v1/namespaces/{ns}/deployments/{name} or
 * apis/leaderworkerset.x-k8s.io/v1/namespaces/{ns}/leaderworkersets/{name}.
 * kind is required. */
SAT_WUR enum err_code kubeobj_parse_workload(const char *json, size_t len, size_t max_len,
                                             struct kubeobj_workload *out, char *why,
                                             size_t why_len);
void kubeobj_workload_clear(struct kubeobj_workload *w);

/* GET of one object with metadata (a ReplicaSet, a Pod...): name, labels,
 * controlling owner. Every label value must be a string; every
 * ownerReferences entry needs string kind and name. */
SAT_WUR enum err_code kubeobj_parse_owner(const char *json, size_t len, size_t max_len,
                                          struct kubeobj_object *out, char *why, size_t why_len);
void kubeobj_object_clear(struct kubeobj_object *obj);

/* GET api/v1/namespaces/{ns}/pods: each item as kubeobj_parse_owner() reads
 * it, kind "Pod" when the item does not say (the API server leaves it out).
 * kind, when sent, must be "PodList"; "items" absent or null is empty. */
SAT_WUR enum err_code kubeobj_parse_pod_list(const char *json, size_t len, size_t max_len,
                                             struct kubeobj_object_list *out, char *why,
                                             size_t why_len);
void kubeobj_object_list_clear(struct kubeobj_object_list *list);

/* The value of label name on obj, or NULL (also when obj or name is NULL).
 * Points into obj. */
const char *kubeobj_label(const struct kubeobj_object *obj, const char *name);

/*
 * One line for a failed API request, fit for a log line or a gRPC status
 * message, into out (NUL-terminated when out_len > 0; cut to fit). body
 * may be NULL when len is 0.
 * - A Status object ({"kind":"Status","status":"Failure","message":...,
 *   "reason":...}): "HTTP <status> <reason>: <message>", e.g.
 *     HTTP 403 Forbidden: scaledobjects.keda.sh "x" is forbidden: User ...
 *   The reason falls back to the HTTP reason phrase when the Status has
 *   none; the message is left out when empty or equal to the reason
 *   ("HTTP 401 Unauthorized").
 * - Anything else: "HTTP <status> <phrase>: <excerpt>" with at most
 *   KUBEOBJ_BODY_EXCERPT bytes of the body, then "...", or
 *   "HTTP <status> <phrase> (empty body)"; the phrase is left out for
 *   codes without a standard one.
 * Text from the server is sanitized: printable ASCII kept, a run of white
 * space becomes one space, every other byte '?'.
 */
void kubeobj_status_message(int http_status, const char *body, size_t len, char *out,
                            size_t out_len);

#endif
