/*
 * prom: the Prometheus source. Endpoints come from the server
 * configuration only (config.h); trigger metadata may pick one by name.
 *
 * Per endpoint one fetcher thread owns a libcurl multi handle (connections
 * kept alive and reused). Requests are grouped by (endpoint, engine,
 * metricsWindow); each group is one struct source with its own interest
 * set: the models ScaledObjects asked about within the interest TTL, or
 * that streams watch. Every refresh interval, and at once when a model is
 * new, the fetcher sends per group one instant query per metric covering
 * every model of interest (POST, escaped label values), then, only for
 * models with no pods reporting, the flow-control (or configured
 * activation) query, and, only for models with scaleToZero, the idle query.
 * The answers become one immutable table per group, published to the
 * group's source: query load does not grow with ScaledObjects.
 *
 * A failed fetch makes the group's source answer UNAVAILABLE naming the
 * endpoint and the cause, unless --max-staleness lets the last good
 * snapshot serve. Credentials (bearer token, basic-auth password) are read
 * from files, re-read when they change, and never logged.
 *
 * Ownership: prom_start() returns an object the caller stops and frees with
 * prom_stop(); the config store is borrowed and must outlive it. Each fetch
 * round takes the current config version, so a reload applies from the
 * next round.
 * Threading: prom_route/prom_subscribe/prom_expire are the rpc router
 * (struct rpc_router) and run on RPC threads without blocking on I/O.
 */
#ifndef SAT_PROM_H
#define SAT_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfgstore.h"
#include "config.h"
#include "err.h"
#include "meta.h"
#include "source.h"
#include "util.h"

struct prom;

struct prom_options {
    struct cfgstore *configs;    /* endpoints and activationQuery (borrowed) */
    int64_t refresh_ms;          /* --refresh-interval, default 5s */
    int64_t interest_ttl_ms;     /* --interest-ttl, default 10m */
    int64_t max_staleness_ms;    /* --max-staleness, 0 = off */
    size_t max_response_bytes;   /* --max-response-bytes, default 64 MiB */
    bool allow_metadata_url;     /* --allow-metadata-prometheus-url */
};

/* At most this many endpoints created from metadata URLs. */
#define PROM_MAX_METADATA_ENDPOINTS 16

SAT_WUR enum err_code prom_start(const struct prom_options *opt, struct prom **out, char *why,
                                 size_t why_len);
/* Stop every fetcher (an in-flight query is abandoned) and free. NULL ok. */
void prom_stop(struct prom *p);
/* After a config swap: start fetchers for new endpoints; endpoints gone
 * from the config stop answering (their fetch rounds use the new settings
 * of the endpoints that remain). */
void prom_reload(struct prom *p);

/* The rpc router (struct rpc_router) over p. */
struct source *prom_route(void *arg, const struct meta_request *req, char *why, size_t why_len);
void prom_subscribe(void *arg, source_subscriber_fn *fn, void *fn_arg);
void prom_expire(void *arg, int64_t now_ms);

/* Counters over all endpoints, for tests and self-metrics. */
struct prom_stats {
    uint64_t fetches;       /* refresh rounds that sent at least one query */
    uint64_t queries;       /* HTTP requests sent */
    uint64_t query_errors;  /* requests that failed (transport, HTTP, parse) */
    uint64_t response_bytes;
};
void prom_get_stats(struct prom *p, struct prom_stats *out);

#endif
