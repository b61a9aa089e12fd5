/*
 * table: an immutable per-pod saturation snapshot, grouped by model.
 *
 * A table holds one row per serving instance (namespace, model, pod,
 * instance, variant, KV-cache usage, queue length) plus, per model, the EPP
 * flow-control queue. It is what a data source produces and what every RPC
 * and stream reads: the static metrics file (--metrics-file, parsed by
 * table_parse_json()) builds one per file version, and the Prometheus source
 * builds one per refresh through the builder API. A table is never changed
 * after it is built; a new snapshot is a new table.
 *
 * Rows are grouped by (namespace, model); models are sorted by (namespace,
 * model) with strcmp and looked up by binary search (O(log n)); the rows of
 * a model are sorted by instance with strcmp. A model exists in a table
 * when it has at least one row or a flow-control entry.
 *
 * Normalisation (DESIGN section 4 step 1):
 * - The builder never refuses a number. kv and queue that are NaN, +-Inf or
 *   negative become 0 (a negative gauge is a broken exporter; 0 is what a
 *   missing metric means too); queue is truncated toward zero and capped at
 *   INT64_MAX. A flow-control queue is normalised the same way but is kept
 *   as a double (not truncated): activation only asks whether it is > 0.
 * - table_parse_json() is strict instead: a file is written by hand, so a
 *   negative, non-finite or non-numeric value is an error naming its path.
 * - An unlabelled variant (absent, NULL or "") is stored as NULL.
 * - An absent, NULL or "" instance means "the pod name": instance == pod.
 *
 * Ownership: table_parse_json() and table_builder_finish() return a table
 * holding one reference; table_ref() adds one, table_unref() drops one and
 * frees the table with the last. Every pointer a table hands out (models,
 * rows, strings) is owned by the table and valid while the caller holds a
 * reference. table_builder_new() returns a builder freed by
 * table_builder_free(). Input strings are copied, never retained.
 *
 * Threading: a table is immutable, so any number of threads may read it
 * concurrently; table_ref()/table_unref() are atomic and may race freely.
 * A builder belongs to one thread at a time.
 *
 * Pure: no I/O, no logging. Errors go into a caller buffer `why` (may be
 * NULL; always NUL-terminated when why_len > 0).
 */
#ifndef SAT_TABLE_H
#define SAT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sat.h"
#include "util.h"

/* Longest namespace, model, pod, instance or variant, in bytes. */
#define TABLE_MAX_NAME 1024

struct table;
struct table_builder;

/* One serving instance (WVA's pod:port key). Read-only, owned by the table. */
struct table_row {
    const char *pod;      /* pod name, non-empty */
    const char *instance; /* instance key, non-empty; unique within its model */
    const char *variant;  /* NULL = unlabelled */
    double kv;            /* KV-cache usage, finite, >= 0 */
    int64_t queue;        /* waiting requests, >= 0 */
};

/* Successful requests of a model over one retention (scale-to-zero). */
struct table_success {
    int64_t retention_ms;
    double increase; /* finite, >= 0 */
};

/* One (namespace, model) of a table. Read-only, owned by the table. */
struct table_model {
    const char *ns;
    const char *model;
    const struct table_row *rows; /* sorted by instance; NULL when row_count is 0 */
    size_t row_count;
    size_t distinct_pods;      /* see table_model_distinct_pods() */
    bool has_flow_control;     /* a flow-control entry was given */
    double flow_control_queue; /* finite, >= 0; 0 when !has_flow_control */
    const struct table_success *success; /* sorted by retention; NULL when none */
    size_t success_count;
};

/*
 * Parse a metrics file:
 *
 *   {"pods":[{"namespace":"ns","model":"m","pod":"p1","instance":"p1:8000",
 *             "variant":"v1","kv":0.95,"queue":0}],
 *    "flowControl":[{"namespace":"ns","model":"m","queue":3}]}
 *
 * "pods" is required; "flowControl", "instance", "variant", "kv" and
 * "queue" are optional; unknown keys are ignored; keys are case-sensitive.
 * namespace, model and pod: non-empty strings of at most TABLE_MAX_NAME
 * bytes; instance: likewise when present; variant: a string of at most
 * TABLE_MAX_NAME bytes ("" = unlabelled). kv: a finite number >= 0
 * (missing = 0). queue: a number >= 0 and < 2^63, truncated (missing = 0).
 * A pod with neither kv nor queue is validated (and takes part in the
 * duplicate check) but skipped. An optional key given as null is an error;
 * a key repeated within one object: the first one counts.
 * A flowControl entry needs namespace, model and queue (a finite number
 * >= 0, not truncated); two entries for one model are an error.
 *
 * json need not be NUL-terminated; exactly len bytes are read, and anything
 * but white space after the top-level value is an error.
 *
 * On success *out holds a new table (one reference; the caller drops it
 * with table_unref()). On failure *out is NULL and why names the path and
 * the problem: "pods[3].kv: must be a finite number >= 0",
 * "invalid JSON near byte 17", "top level: must be an object".
 * Returns ERR_INVALID for bad input, ERR_NOMEM.
 */
SAT_WUR enum err_code table_parse_json(const char *json, size_t len, struct table **out, char *why,
                                       size_t why_len);

/* A new, empty builder, or NULL when out of memory. Free with
 * table_builder_free(). */
struct table_builder *table_builder_new(void);

/*
 * Add one instance. ns, model and pod must be non-empty and at most
 * TABLE_MAX_NAME bytes; instance and variant may be NULL or "" (see top).
 * kv and queue are normalised (see top). The caller skips instances that
 * reported neither metric. Duplicate instances are detected by
 * table_builder_finish(), not here.
 *
 * Returns ERR_INVALID (why: "pod: must be a non-empty string") or
 * ERR_NOMEM; on failure the builder is unchanged.
 */
SAT_WUR enum err_code table_builder_add_pod(struct table_builder *b, const char *ns,
                                            const char *model, const char *pod,
                                            const char *instance, const char *variant, double kv,
                                            double queue, char *why, size_t why_len);

/*
 * Add a flow-control queue for a model (which then exists in the table even
 * without rows: demand waiting at zero replicas). Repeated calls for one
 * model add up, so per-priority or per-EPP series can be fed as they come.
 * Same string rules and failure contract as table_builder_add_pod().
 */
SAT_WUR enum err_code table_builder_add_flow_control(struct table_builder *b, const char *ns,
                                                     const char *model, double queue, char *why,
                                                     size_t why_len);

/*
 * Build the table from everything added. Fails with ERR_INVALID when two
 * rows share (namespace, model, instance): why = `duplicate instance "p1"
 * for model "m" in namespace "ns"`; or with ERR_NOMEM. On success *out
 * holds a new table (one reference); on failure *out is NULL. Either way
 * the builder is left empty and may be reused or freed.
 */
SAT_WUR enum err_code table_builder_finish(struct table_builder *b, struct table **out, char *why,
                                           size_t why_len);

/* Free a builder and whatever was added to it. NULL is a no-op. */
void table_builder_free(struct table_builder *b);

/*
 * Record the increase of successful requests of a model over a retention
 * (ms). Non-finite or negative increases become 0; a second entry for the
 * same model and retention replaces the first. It is attached at finish to
 * the model's entry; a model with no rows and no flow-control entry has
 * none, so add a flow-control entry (queue 0) to cover it first.
 */
SAT_WUR enum err_code table_builder_add_success(struct table_builder *b, const char *ns,
                                                const char *model, int64_t retention_ms,
                                                double increase, char *why, size_t why_len);

/*
 * Whether the table answers for (ns, model): a table parsed from a metrics
 * file covers every model (a model absent from the file has no series); a
 * built table covers the models it has an entry for (rows, or a flow-control
 * entry, which a source adds with queue 0 for every model it fetched).
 */
bool table_covers(const struct table *t, const char *ns, const char *model);
/* Whether t covers every model (it came from a metrics file). */
bool table_covers_all(const struct table *t);

/* The success increase of m over retention_ms: false when not fetched. */
bool table_model_success(const struct table_model *m, int64_t retention_ms, double *increase);

/* Add a reference; returns t (NULL gives NULL). */
struct table *table_ref(struct table *t);

/* Drop a reference; the last one frees the table. NULL is a no-op. */
void table_unref(struct table *t);

/* Number of models (0 for NULL). */
size_t table_model_count(const struct table *t);

/* Number of rows over all models (0 for NULL). */
size_t table_row_count(const struct table *t);

/* The i-th model in (namespace, model) order, or NULL when i is out of
 * range. Owned by the table. */
const struct table_model *table_model_at(const struct table *t, size_t i);

/* The model, or NULL when the table has no row and no flow-control entry
 * for it (or any argument is NULL). O(log n). Owned by the table. */
const struct table_model *table_find(const struct table *t, const char *ns, const char *model);

/*
 * Number of distinct pod names among m's rows: the current replica count
 * (DESIGN section 4: a pod with two engines counts once). 0 for NULL.
 */
size_t table_model_distinct_pods(const struct table_model *m);

/*
 * Fill out[0..min(cap, row_count)) with m's rows as sat_analyze() input,
 * in row order: replica.pod = the instance key, replica.variant = the
 * variant, or unlabelled_variant for an unlabelled row ("" when
 * unlabelled_variant is NULL). The strings are borrowed from the table and
 * from unlabelled_variant. Returns m's row count (0 for NULL), which may
 * exceed cap: call again with a larger array then (snprintf-style).
 */
size_t table_model_replicas(const struct table_model *m, struct sat_replica *out, size_t cap,
                            const char *unlabelled_variant);

#endif
