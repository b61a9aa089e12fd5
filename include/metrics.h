/*
 * metrics: the scaler's own metrics (names prefixed saturation_scaler_),
 * rendered in the Prometheus text exposition format 0.0.4 for the HTTP
 * /metrics endpoint.
 *
 * Every family is declared once, in one table in metrics.c (name, type,
 * help, label names, histogram buckets). Two kinds of storage sit behind
 * it, chosen by how hot a family is:
 *  - families with a fixed label set (RPCs by method and code, their
 *    latency, stream messages by value, Kubernetes reads by outcome, the
 *    unlabelled gauges) are plain C11 atomics, striped per thread so the
 *    RPC path takes no lock and shares no cache line: metrics_rpc() is a
 *    few relaxed fetch-adds;
 *  - families labelled by a Prometheus endpoint or by a ScaledObject
 *    (namespace, scaledobject, model) live in mutex-protected maps.
 *    Endpoint series live for the life of the process (they come from the
 *    config: few; at most METRICS_MAX_ENDPOINTS). ScaledObject series carry
 *    the time of their last update and metrics_expire() drops those not
 *    updated within --interest-ttl, so cardinality stays bounded (and at
 *    most METRICS_MAX_SCALEDOBJECTS series exist at once).
 *
 * Exposition rules: # HELP and # TYPE once per family, only for families
 * that have a series; a labelled counter or histogram series appears once
 * it is non-zero (as client libraries do on first use); gauges whose value
 * is unknown (negative counts, NaN) are left out rather than printed as
 * NaN; values are integers where the quantity is one and shortest
 * round-trip doubles otherwise; label values are escaped (\\, \", \n) and
 * invalid UTF-8 becomes U+FFFD. Output is sorted (by endpoint, by
 * namespace/scaledobject/model) so two scrapes diff cleanly.
 *
 * Pure: no I/O, no logging, no clocks (callers pass now_ms). Updates never
 * fail a request: on allocation failure an update is lost, nothing more.
 *
 * Ownership: the registry is process-global and static; metrics_render()
 * hands out a malloc'd text the caller frees. metrics_shutdown() frees
 * every series (the registry remains usable, empty, afterwards).
 *
 * Threading: every update, metrics_expire() and metrics_render() may run
 * concurrently from any thread. metrics_init(), metrics_reset() and
 * metrics_shutdown() are also thread-safe but meant for start, tests and
 * exit. Collectors run inside metrics_render() on its thread and may call
 * any update function, but not metrics_render() or the collector
 * registration functions.
 */
#ifndef SAT_METRICS_H
#define SAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define METRICS_MAX_ENDPOINTS 256
#define METRICS_MAX_SCALEDOBJECTS 100000
#define METRICS_MAX_COLLECTORS 8

/* Every family, in exposition order. */
enum metrics_family {
    METRICS_RPCS_TOTAL = 0,              /* counter {method, code} */
    METRICS_RPC_DURATION_SECONDS,        /* histogram {method} */
    METRICS_OPEN_STREAMS,                /* gauge */
    METRICS_STREAM_MESSAGES_TOTAL,       /* counter {value} */
    METRICS_PROM_QUERIES_TOTAL,          /* counter {endpoint, outcome} */
    METRICS_PROM_QUERY_DURATION_SECONDS, /* histogram {endpoint} */
    METRICS_PROM_RESPONSE_BYTES_TOTAL,   /* counter {endpoint} */
    METRICS_SNAPSHOT_AGE_SECONDS,        /* gauge {endpoint} */
    METRICS_PARKED_REQUESTS,             /* gauge */
    METRICS_KUBE_READS_TOTAL,            /* counter {outcome} */
    METRICS_DESIRED_REPLICAS,            /* gauge {namespace, scaledobject, model} */
    METRICS_CURRENT_REPLICAS,            /* gauge, same labels */
    METRICS_MODEL_PODS,                  /* gauge, same labels */
    METRICS_ACTIVE,                      /* gauge 0/1, same labels */
    METRICS_AVG_SPARE_KV_CACHE_RATIO,    /* gauge, same labels */
    METRICS_AVG_SPARE_QUEUE_LENGTH,      /* gauge, same labels */
    METRICS_BUILD_INFO,                  /* gauge {version, compiler} = 1 */
    METRICS_N_FAMILIES
};

/* The RPC methods we count; label value in comments. */
enum metrics_method {
    METRICS_METHOD_IS_ACTIVE = 0,      /* IsActive */
    METRICS_METHOD_STREAM_IS_ACTIVE,   /* StreamIsActive */
    METRICS_METHOD_GET_METRIC_SPEC,    /* GetMetricSpec */
    METRICS_METHOD_GET_METRICS,        /* GetMetrics */
    METRICS_METHOD_STREAM_METRIC_SPEC, /* StreamMetricSpec (unimplemented) */
    METRICS_METHOD_HEALTH_CHECK,       /* Health/Check */
    METRICS_METHOD_HEALTH_WATCH,       /* Health/Watch */
    METRICS_METHOD_REFLECTION,         /* ServerReflectionInfo (v1 and v1alpha) */
    METRICS_METHOD_OTHER,              /* other */
    METRICS_N_METHODS
};

/* gRPC status codes are 0 (OK) .. 16 (UNAUTHENTICATED), as grpc_status_code. */
#define METRICS_N_CODES 17

/* Outcome of a Prometheus query or a Kubernetes read. */
enum metrics_outcome {
    METRICS_OUTCOME_OK = 0,    /* ok */
    METRICS_OUTCOME_ERROR,     /* error: transport, HTTP status, parse */
    METRICS_OUTCOME_TIMEOUT,   /* timeout */
    METRICS_OUTCOME_NOT_FOUND, /* not_found (an object that does not exist) */
    METRICS_N_OUTCOMES
};

/* Static names; "" for out-of-range values. */
const char *metrics_family_name(enum metrics_family f);
const char *metrics_method_label(enum metrics_method m);
const char *metrics_code_label(int grpc_code);
const char *metrics_outcome_label(enum metrics_outcome o);

/* The method of a gRPC path ("/externalscaler.ExternalScaler/IsActive");
 * METRICS_METHOD_OTHER for anything else, NULL included. */
enum metrics_method metrics_method_from_path(const char *path);

/* Build info: saturation_scaler_build_info{version, compiler} 1. version
 * NULL means "unknown". Until called, version="unknown". */
SAT_WUR enum err_code metrics_init(const char *version);

/* One finished RPC: its status code (out of range: UNKNOWN) and how long it
 * took (streams: their lifetime). Lock-free. */
void metrics_rpc(enum metrics_method method, int grpc_code, double seconds);
/* Open StreamIsActive / Health.Watch streams. */
void metrics_open_streams_add(int64_t delta);
void metrics_open_streams_set(int64_t n);
/* One StreamIsActive message sent carrying value. Lock-free. */
void metrics_stream_message(bool value);
/* Requests parked waiting for a first snapshot. */
void metrics_parked_add(int64_t delta);
void metrics_parked_set(int64_t n);
/* One Kubernetes API read. Lock-free. */
void metrics_kube_read(enum metrics_outcome outcome);

/* One Prometheus query against endpoint (the config's name): its outcome,
 * duration and response body size. */
void metrics_prom_query(const char *endpoint, enum metrics_outcome outcome, double seconds,
                        uint64_t bytes);
/* Age of endpoint's newest snapshot; NaN or negative hides the series
 * (no snapshot yet). Best called from a collector, at render time. */
void metrics_snapshot_age_set(const char *endpoint, double seconds);

/* What one decision says about a ScaledObject. A field left unknown
 * (negative count, active < 0, NaN spare) keeps its previous value, so
 * IsActive may update `active` alone; a series never given a value is not
 * exported. */
struct metrics_scaledobject_values {
    int64_t desired_replicas; /* GetMetrics' answer; < 0 unknown */
    int64_t current_replicas; /* < 0 unknown */
    int64_t model_pods;       /* pods reporting for the model (0: mistyped id?); < 0 unknown */
    int active;               /* 1, 0; < 0 unknown */
    double avg_spare_kv;      /* NaN unknown */
    double avg_spare_queue;   /* NaN unknown */
};
/* Every field unknown: copy it, then set what a decision knows. */
extern const struct metrics_scaledobject_values metrics_scaledobject_unknown;

/* Update the series of (ns, so, model) and mark it seen at now_ms. NULL
 * names or v: ignored. */
void metrics_scaledobject(const char *ns, const char *so, const char *model,
                          const struct metrics_scaledobject_values *v, int64_t now_ms);

/* Drop ScaledObject series whose last update is more than ttl_ms before
 * now_ms (ttl_ms < 0: none). Returns how many were dropped. Call it
 * periodically or before each render. */
size_t metrics_expire(int64_t now_ms, int64_t ttl_ms);

/* A collector fills render-time gauges (snapshot ages, parked requests,
 * open streams) by calling the update functions. Registration fails with
 * ERR_INVALID (fn NULL, or METRICS_MAX_COLLECTORS already). After
 * metrics_remove_collector() returns, fn is not running and will not run. */
typedef void metrics_collect_fn(void *arg);
SAT_WUR enum err_code metrics_add_collector(metrics_collect_fn *fn, void *arg);
void metrics_remove_collector(metrics_collect_fn *fn, void *arg);

/* Run the collectors, then render every family. On ERR_OK *out is a
 * malloc'd NUL-terminated text of *len bytes the caller frees. *out and
 * *len are cleared on entry. Errors: ERR_INVALID (NULL arguments),
 * ERR_NOMEM. */
SAT_WUR enum err_code metrics_render(char **out, size_t *len);

/* Zero every value and drop every series and collector; build info stays.
 * For tests. */
void metrics_reset(void);
/* metrics_reset() and forget build info. Idempotent. */
void metrics_shutdown(void);

#endif
