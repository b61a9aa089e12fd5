/*
 * decisions: the last decision per ScaledObject, for /debug/decision, the
 * per-ScaledObject self-metrics and the decision log.
 *
 * GetMetrics hands its decide_result over (the analysis is moved, not
 * copied: nothing is rendered on the RPC path). A decision is logged at
 * info when the desired count, the action or activation changes, and
 * otherwise at most once per --log-repeat interval per ScaledObject.
 * Records not updated within the TTL are dropped (bounded memory and
 * metric cardinality).
 *
 * Threading: every function is thread-safe (one mutex; recording is a hash
 * lookup and a pointer swap).
 */
#ifndef SAT_DECISIONS_H
#define SAT_DECISIONS_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "err.h"
#include "meta.h"
#include "util.h"

struct decisions;

struct decisions *decisions_new(int64_t log_repeat_ms);
void decisions_free(struct decisions *d);

/* Record res for req's ScaledObject; res->analysis is moved out (res is
 * cleared). source: where the data came from ("metrics file",
 * "prometheus \"default\""). */
void decisions_record(struct decisions *d, const struct meta_request *req, const char *source,
                      struct decide_result *res, int64_t now_ms);

/* The last decision of ns/so as JSON (malloc'd, caller frees): the analyze
 * output shape plus "desired", "current", "action", "active", "inputs" and
 * "time". ERR_NOT_FOUND when none is recorded. */
SAT_WUR enum err_code decisions_json(struct decisions *d, const char *ns, const char *so,
                                     char **out, size_t *len);

/* Drop records older than ttl_ms. Returns how many remain. */
size_t decisions_expire(struct decisions *d, int64_t now_ms, int64_t ttl_ms);

/* Visit every record (for the per-ScaledObject gauges at scrape time). */
typedef void decisions_visit_fn(void *arg, const char *ns, const char *so, const char *model,
                                int64_t desired, int64_t current, bool active, double spare_kv,
                                double spare_queue);
void decisions_each(struct decisions *d, decisions_visit_fn *fn, void *arg);

#endif
