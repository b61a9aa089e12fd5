/*
 * analyze: the `saturation-scaler analyze` document, JSON in and JSON out.
 *
 * One JSON document describes a model's replicas (or an analysis given
 * directly), optional thresholds, optional per-variant replica states and
 * optional HPA tolerances; analyze_run() validates all of it, runs the sat
 * engine (sat_analyze, sat_targets) and renders the decision as one JSON
 * document. The schema lives in examples/analyze/README.md and in the
 * comment on top of src/analyze.c.
 *
 * Pure: no I/O, no logging. Input is only read and never retained.
 *
 * Threading: reentrant, any thread. (cJSON records the position of a parse
 * failure in a global of its own; nothing here reads it.)
 */
#ifndef SAT_ANALYZE_H
#define SAT_ANALYZE_H

#include <stddef.h>

#include "err.h"
#include "sat.h"
#include "util.h"

/*
 * Analyze the len bytes at json (need not be NUL-terminated).
 *
 * On success returns ERR_OK and sets *out_json to a malloc'd,
 * NUL-terminated JSON document without a trailing newline; the caller frees
 * it with free().
 *
 * On failure *out_json stays NULL and why (if non-NULL and why_len > 0)
 * holds one line without a newline: for ERR_INVALID the path and what was
 * wrong ("replicas[2].kv: must be a number >= 0, got -0.5"), for ERR_NOMEM
 * "out of memory", for ERR_INTERNAL what the engine refused.
 */
SAT_WUR enum err_code analyze_run(const char *json, size_t len, char **out_json, char *why,
                                  size_t why_len);

/*
 * Add the analysis fields of the output schema above (totalReplicas ...
 * variants; not "targets") to root, a cJSON object (cJSON *) the caller
 * owns. Used by /debug/decision so it shows the very same shape.
 */
SAT_WUR enum err_code analyze_render_analysis(void *root, const struct sat_analysis *a, char *why,
                                              size_t why_len);

#endif
