/*
 * fuzz_table: the metrics-file parser (table_parse_json, what
 * --metrics-file and mfile_load read) on arbitrary bytes, then the decision
 * the server computes from every model of a table that parsed.
 *
 * The file is a hand-written or generated snapshot, re-read whenever it
 * changes while the server runs: a bad file must be refused with a message,
 * never crash the watcher. The input is the file content as is (not
 * NUL-terminated).
 *
 * On a table that parses: the counts and lookups agree (table_model_at,
 * table_find, table_row_count, table_covers_all), rows are sorted by
 * instance and normalised (kv finite >= 0, queue >= 0), and for each model
 * decide_activation and decide_eval run for every variant present (and the
 * unlabelled one), once with the built-in defaults and once with a layer
 * that sets min/max, tolerances and scale-to-zero: what GetMetrics and
 * IsActive answer from a metrics-file snapshot. decide_eval must succeed
 * (or run out of memory) on any table the parser accepted. Then
 * table_ref/table_unref release everything.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "fuzz_util.h"
#include "meta.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Requests per model at most (variants beyond it are not asked about). */
#define MAX_VARIANTS_ASKED 6

static struct meta_resolved s_resolved[2];
static int s_ready;

static void setup(void)
{
    static const char *const kv[][2] = {
        {"minReplicas", "0"},      {"maxReplicas", "4"},          {"kvCacheThreshold", "0.5"},
        {"kvSpareTrigger", "0.2"}, {"queueLengthThreshold", "2"}, {"queueSpareTrigger", "1"},
        {"hpaTolerance", "0.1"},   {"scaleToZero", "5m"},         {"variantCost", "0"},
    };
    struct meta_decision d;
    struct meta_layer layer = {"fuzz layer", &d};
    char why[META_WHY_LEN];
    size_t i;

    if (s_ready)
        return;
    if (meta_resolve(NULL, 0, &s_resolved[0], why, sizeof(why)) != ERR_OK)
        fuzz_fatal("fuzz_table setup: meta_resolve (defaults)", why);
    memset(&d, 0, sizeof(d));
    for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (meta_decision_parse(&d, kv[i][0], kv[i][1], why, sizeof(why)) != ERR_OK)
            fuzz_fatal("fuzz_table setup: meta_decision_parse", why);
    if (meta_resolve(&layer, 1, &s_resolved[1], why, sizeof(why)) != ERR_OK)
        fuzz_fatal("fuzz_table setup: meta_resolve (layer)", why);
    s_ready = 1;
}

/* The cost of another variant: unknown (negative) for some, else a value
 * from the name, so ties and distinct costs both occur. */
static double cost_of(void *arg, const char *ns, const char *model, const char *variant)
{
    size_t n = strlen(variant);

    (void)arg;
    (void)ns;
    (void)model;
    return n % 3 == 0 ? -1.0 : (double)(n % 5);
}

static void ask(const struct table *t, const struct table_model *m, const char *variant)
{
    struct meta_request req;
    struct decide_result res;
    bool active, all_sat;
    size_t k;
    enum err_code rc;

    for (k = 0; k < 2; k++) {
        memset(&req, 0, sizeof(req));
        /* Borrowed strings: req is never passed to meta_request_clear. */
        req.name = (char *)variant;
        req.namespace_ = (char *)m->ns;
        req.model_id = (char *)m->model;
        req.metric_name = (char *)META_DEFAULT_METRIC_NAME;
        req.resolved = s_resolved[k];
        decide_activation(t, &req, &active, &all_sat);
        if (all_sat && !active)
            fuzz_fail("decide_activation", "all saturated but not active");
        rc = decide_eval(t, &req, cost_of, NULL, &res);
        if (rc != ERR_OK && rc != ERR_NOMEM)
            fuzz_fail("decide_eval", "refused a table the parser accepted");
        if (rc == ERR_OK) {
            if (res.desired < 0)
                fuzz_fail("decide_eval", "negative desired replicas");
            if (res.active != active || res.all_saturated != all_sat)
                fuzz_fail("decide_eval", "activation differs from decide_activation");
            if (!res.has_series && res.desired != req.resolved.min_replicas)
                fuzz_fail("decide_eval", "no series but not minReplicas");
        }
        decide_result_clear(&res);
    }
}

static void walk(struct table *t)
{
    size_t nm = table_model_count(t), rows = 0, i, j;
    const struct table_model *prev = NULL;

    if (!table_covers_all(t))
        fuzz_fail("table_parse_json", "a metrics-file table must cover every model");
    for (i = 0; i < nm; i++) {
        const struct table_model *m = table_model_at(t, i);
        const char *asked[MAX_VARIANTS_ASKED];
        size_t n_asked = 0;
        struct sat_replica rep[4];

        if (!m)
            fuzz_fatal("table_model_at", "NULL below the count");
        if (table_find(t, m->ns, m->model) != m)
            fuzz_fail("table_find", "does not find a listed model");
        if (prev && (strcmp(prev->ns, m->ns) > 0 ||
                     (strcmp(prev->ns, m->ns) == 0 && strcmp(prev->model, m->model) >= 0)))
            fuzz_fail("table", "models not strictly sorted by (namespace, model)");
        prev = m;
        rows += m->row_count;
        if (table_model_distinct_pods(m) > m->row_count)
            fuzz_fail("table_model_distinct_pods", "more pods than rows");
        if (table_model_replicas(m, rep, 4, "unlabelled") != m->row_count)
            fuzz_fail("table_model_replicas", "count differs from row_count");
        if (!(m->flow_control_queue >= 0 && isfinite(m->flow_control_queue)))
            fuzz_fail("table", "flow-control queue not finite >= 0");
        for (j = 0; j < m->row_count; j++) {
            const struct table_row *r = &m->rows[j];
            if (!r->pod || !r->pod[0] || !r->instance || !r->instance[0])
                fuzz_fatal("table", "row without pod or instance");
            if (r->variant && !r->variant[0])
                fuzz_fail("table", "empty variant not stored as NULL");
            if (!(r->kv >= 0 && isfinite(r->kv)) || r->queue < 0)
                fuzz_fail("table", "row value not normalised");
            if (j && strcmp(m->rows[j - 1].instance, r->instance) >= 0)
                fuzz_fail("table", "rows not strictly sorted by instance");
            if (n_asked < MAX_VARIANTS_ASKED) {
                const char *v = r->variant ? r->variant : "";
                size_t a;
                for (a = 0; a < n_asked && strcmp(asked[a], v) != 0; a++)
                    ;
                if (a == n_asked)
                    asked[n_asked++] = v;
            }
        }
        if (n_asked == 0)
            asked[n_asked++] = "";
        for (j = 0; j < n_asked; j++)
            ask(t, m, asked[j]);
    }
    if (rows != table_row_count(t))
        fuzz_fail("table_row_count", "differs from the sum over models");
    if (table_model_at(t, nm) != NULL)
        fuzz_fail("table_model_at", "non-NULL at the count");
    /* A model no file can name (namespace with a NUL is impossible). */
    if (!table_covers(t, "no-such-namespace-\x01", "m"))
        fuzz_fail("table_covers", "a metrics-file table must cover every model");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct table *t = (struct table *)data; /* must be overwritten */
    char why[256];
    enum err_code rc;

    setup();
    rc = table_parse_json(size ? (const char *)data : "", size, &t, why, sizeof(why));
    if (rc == ERR_OK) {
        if (!t)
            fuzz_fatal("table_parse_json", "ERR_OK without a table");
        walk(t);
        if (table_ref(t) != t)
            fuzz_fail("table_ref", "returned another pointer");
        table_unref(t);
    } else {
        if (t)
            fuzz_fail("table_parse_json", "failure with a table");
        fuzz_check_why_text(why, sizeof(why), "table_parse_json");
    }
    table_unref(t);
    return 0;
}
