/*
 * rpc: KEDA's ExternalScaler, gRPC health and server reflection on the gRPC
 * C core.
 *
 * Worker threads each own one completion queue. Call workers accept every
 * call and run unary calls start to end on their queue; each stream
 * (StreamIsActive, Health.Watch) is bound at acceptance to one of the
 * stream workers, whose queues carry streams only. Per-call state needs a
 * lock only where another thread touches it: a parked call finished by a
 * fetch, a stream's first evaluation, and shutdown. A source publishing a
 * snapshot only wakes the stream workers (one event each); each then
 * re-evaluates its own streams and starts their sends. No worker ever waits on the network: a call whose data is
 * not fetched yet is parked in the source (see source.h) and finished by
 * whoever completes the fetch, or by the reaper thread at its deadline.
 *
 * Methods we do not serve (StreamMetricSpec, reflection versions we lack,
 * anything else) are answered UNIMPLEMENTED at once through generic
 * request slots.
 *
 * Ownership: rpc_start() returns a server the caller stops with
 * rpc_shutdown() then frees with rpc_free(); the router's sources and the
 * reflection index are borrowed and must outlive it.
 * Threading: rpc_start/rpc_shutdown/rpc_free from one thread (main).
 */
#ifndef SAT_RPC_H
#define SAT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "source.h"
#include "util.h"

struct reflect;
struct rpc_server;
struct meta_request;
struct cfgstore;
struct kube;
struct decisions;

/*
 * Where requests get their data: one source per data group (the metrics
 * file; or per Prometheus endpoint, engine and window). Implemented by the
 * data-source side; every function runs on RPC threads and must not block.
 */
struct rpc_router {
    /* The source for req (borrowed; lives as long as the router), or NULL
     * with ERR_INVALID and why (e.g. an unknown `prometheus` endpoint). */
    struct source *(*route)(void *arg, const struct meta_request *req, char *why,
                            size_t why_len);
    /* Subscribe fn to every source, present and future (NULL fn: stop). */
    void (*subscribe)(void *arg, source_subscriber_fn *fn, void *fn_arg);
    /* source_expire() on every source. */
    void (*expire)(void *arg, int64_t now_ms);
    void *arg;
};

struct rpc_options {
    const char *listen;        /* "[::]:6000" */
    int workers;               /* call worker threads, >= 1 */
    int stream_workers;        /* stream worker threads; 0 = RPC_DEFAULT_STREAM_WORKERS */
    const char *tls_cert_file; /* NULL = plaintext */
    const char *tls_key_file;
    const char *tls_client_ca_file; /* NULL = no client certificates */
    int64_t shutdown_grace_ms;
    bool allow_cross_namespace;
    struct cfgstore *configs;    /* defaults and overrides (borrowed; may be NULL) */
    struct kube *kube;           /* the llm-d.ai/managed path (borrowed; NULL = off) */
    struct decisions *decisions; /* last decision per ScaledObject (borrowed; may be NULL) */
    struct rpc_router router;    /* copied; its arg is borrowed */
    struct reflect *reflect;  /* borrowed */
};

/* Start serving. On failure returns an error with why (e.g. the listen
 * address could not be bound) and nothing is left running. */
SAT_WUR enum err_code rpc_start(const struct rpc_options *opt, struct rpc_server **out, char *why,
                                size_t why_len);

/* The port actually bound (useful with port 0). */
int rpc_port(const struct rpc_server *s);

/* Graceful stop: health NOT_SERVING, open streams end with status OK,
 * in-flight unary calls finish; after the grace period every call left is
 * cancelled. Then the workers stop. Idempotent. */
void rpc_shutdown(struct rpc_server *s);
/* NULL is a no-op. Calls rpc_shutdown() if needed. */
void rpc_free(struct rpc_server *s);

/* Serving (started, not shutting down): what /readyz reports. */
bool rpc_ready(struct rpc_server *s);

/* Number of open StreamIsActive / Health.Watch streams. */
size_t rpc_open_streams(struct rpc_server *s);

/* CPUs this process may use: the affinity mask, capped by a cgroup v2/v1
 * CPU quota (rounded up), at least 1. */
int rpc_default_workers(void);

/* Stream worker threads when rpc_options.stream_workers is 0. */
#define RPC_DEFAULT_STREAM_WORKERS 4

#endif
