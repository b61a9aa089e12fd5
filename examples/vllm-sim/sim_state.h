/*
 * sim_state: the simulated pods and flow-control queues of vllm-sim, the
 * control operations on them, and their two views (the JSON of GET /state
 * and the Prometheus text exposition of GET /metrics).
 *
 * Ownership: sim_state_new() returns a state the caller frees with
 * sim_state_free() (NULL is a no-op). Every operation that produces JSON
 * hands a new cJSON tree to the caller (cJSON_Delete), every rendering a
 * malloc'ed string (free). Request bodies are only read, never kept.
 *
 * Pure and single-threaded: no I/O, no logging, no clock. The caller passes
 * `now` (nanoseconds of a monotonic clock) and serialises calls; sim_http
 * holds one mutex around each. Operations are all-or-nothing: one that
 * fails leaves the state as it was and writes a message naming the problem
 * into err (e.g. `pods[2].kv: must be a number in [0, 1], got 1.5`).
 */
#ifndef SIM_STATE_H
#define SIM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sim_text.h"

/* Most pods one simulator holds (each costs a few hundred bytes). */
#define SIM_MAX_PODS 100000
/* Most flow-control entries. */
#define SIM_MAX_FLOWS 100000

enum sim_rc {
    SIM_OK = 0,
    SIM_EINVAL, /* bad input: HTTP 400 */
    SIM_ENOENT, /* unknown pod or model: HTTP 404 */
    SIM_EEXIST, /* duplicate pod: HTTP 409 */
    SIM_ENOMEM, /* allocation failed: HTTP 500 */
};

/* "ok", "invalid input", ...: for logs. */
const char *sim_rc_str(enum sim_rc rc);

struct sim_state;

/* An empty state whose new pods wait default_delay_ns before they report,
 * unless their request says otherwise. NULL when out of memory. */
SIM_WUR struct sim_state *sim_state_new(int64_t default_delay_ns);
void sim_state_free(struct sim_state *s);

/* Replace everything with doc, the JSON of GET /state ({"pods": [...],
 * "flowControl": [...]}, both optional). For --state FILE. */
SIM_WUR enum sim_rc sim_state_load(struct sim_state *s, const cJSON *doc, int64_t now, char *err,
                                   size_t len);

/* The control operations, one per POST endpoint; body is the parsed request
 * body (NULL for an empty one). On SIM_OK *out is the answer ({"pods":[...]}
 * and so on); otherwise *out is NULL and err says why. */
SIM_WUR enum sim_rc sim_state_add_pods(struct sim_state *s, const cJSON *body, int64_t now,
                                       cJSON **out, char *err, size_t len);
SIM_WUR enum sim_rc sim_state_remove(struct sim_state *s, const cJSON *body, int64_t now,
                                     cJSON **out, char *err, size_t len);
SIM_WUR enum sim_rc sim_state_set(struct sim_state *s, const cJSON *body, int64_t now, cJSON **out,
                                  char *err, size_t len);
SIM_WUR enum sim_rc sim_state_flow(struct sim_state *s, const cJSON *body, cJSON **out, char *err,
                                   size_t len);
SIM_WUR enum sim_rc sim_state_reset(struct sim_state *s, const cJSON *body, cJSON **out, char *err,
                                    size_t len);

/* The JSON of GET /state, or NULL when out of memory. */
SIM_WUR cJSON *sim_state_to_json(const struct sim_state *s, int64_t now);

/* The body of GET /metrics (text exposition format 0.0.4): every series
 * of every pod whose startup delay has elapsed, then the flow-control
 * queues. NULL when out of memory; *len is the length. */
SIM_WUR char *sim_state_render_metrics(const struct sim_state *s, int64_t now, size_t *len);

/* Pods and flow-control entries held (for logs). */
size_t sim_state_pod_count(const struct sim_state *s);
size_t sim_state_flow_count(const struct sim_state *s);

#endif
