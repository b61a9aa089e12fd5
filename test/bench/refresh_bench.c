/*
 * refresh_bench: the CPU cost of one Prometheus refresh on the scaler's
 * side, without the network: the work src/prom.c's fetch_group() does
 * between receiving the answers and publishing the snapshot, plus the
 * queries it sends and an analysis of every model.
 *
 * For M models x P pods it generates the two answers a refresh receives
 * (kv-cache and queue: resultType vector, one series per pod, with the
 * labels Prometheus returns for the saturation query: namespace,
 * model_name, pod, instance), as recorded bodies in memory, then measures
 * with CLOCK_PROCESS_CPUTIME_ID (best of --reps runs):
 *
 *   query    promql_scope_new + the kv and queue queries (M model ids)
 *   parse    promresp_parse of both bodies
 *   join     promjoin_rows(), the join prom.c runs: the samples of the
 *            models of interest, merged per instance (kv with queue)
 *   table    table_builder_add_pod per row, a coverage entry per model,
 *            table_builder_finish
 *   analyze  for every model: table_model_replicas + sat_analyze (WVA
 *            defaults) + sat_analysis_clear
 *
 * Usage: refresh_bench [--pods P] [--reps R] [--series N ...] [--json]
 *   default: P = 10, series 1000 10000 100000 (M = series / P).
 * Prints a table, or one JSON object per size with --json.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promjoin.h"
#include "promql.h"
#include "promresp.h"
#include "sat.h"
#include "table.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a growable string -------------------------------------------------- */

struct sb {
    char *p;
    size_t n, cap;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    int need;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        need = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (b->p && (size_t)need < room) {
            b->n += (size_t)need;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 1 << 20;
        while (b->cap - b->n <= (size_t)need)
            b->cap *= 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
}

/* The answer of the kv (which = 0) or queue (1) query. */
static char *make_body(int models, int pods, int which, size_t *len)
{
    struct sb b = {0};
    int m, p;
    sb_printf(&b, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    for (m = 0; m < models; m++)
        for (p = 0; p < pods; p++) {
            char val[32];
            if (which == 0)
                snprintf(val, sizeof(val), "%.4f", 0.30 + 0.05 * ((m + p) % 10));
            else
                snprintf(val, sizeof(val), "%d", (m + p) % 7);
            sb_printf(&b,
                      "%s{\"metric\":{\"instance\":\"10.%d.%d.%d:8000\",\"model_name\":"
                      "\"bench/model-%05d\",\"namespace\":\"llm\",\"pod\":\"model-%05d-%d\"},"
                      "\"value\":[1767225600.123,\"%s\"]}",
                      (m || p) ? "," : "", (m >> 8) & 255, m & 255, p, m, m, p, val);
        }
    sb_printf(&b, "]}}");
    *len = b.n;
    return b.p;
}

/* ---- the interest set ------------------------------------------------------ */

struct want {
    const char *ns, *model;
};

static int want_cmp(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->model, y->model);
}

/* ---- one measurement ----------------------------------------------------- */

struct result {
    double query, parse, join, table, analyze, total;
    size_t body_bytes, rows, models;
    int64_t scale_ups;
};

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "refresh_bench: %s: %s\n", what, why);
    exit(1);
}

static struct result run_once(int models, const char *kvb, size_t kvl, const char *qb, size_t ql,
                              char **model_ids)
{
    struct result r;
    char why[PROMRESP_WHY_LEN];
    struct promresp *kv = NULL, *queue = NULL;
    struct promql_scope *scope = NULL;
    const char **nss = malloc((size_t)models * sizeof(char *));
    struct want *w = calloc((size_t)models, sizeof(*w));
    const char **w_ns = malloc((size_t)models * sizeof(char *));
    const char **w_model = malloc((size_t)models * sizeof(char *));
    bool *has_rows = calloc((size_t)models, sizeof(bool));
    struct promjoin_row *rows = NULL;
    struct table_builder *b;
    struct table *t = NULL;
    struct sat_config cfg;
    struct sat_replica *reps = NULL;
    size_t reps_cap = 0, n_rows, i;
    char *q1 = NULL, *q2 = NULL;
    double t0, t1;
    int m;

    memset(&r, 0, sizeof(r));
    sat_config_default(&cfg);
    for (m = 0; m < models; m++)
        nss[m] = "llm";

    /* the interest set, sorted (prom.c's take_wants and join_rows; not
     * timed: copies of the interest hash set) */
    for (m = 0; m < models; m++) {
        w[m].ns = "llm";
        w[m].model = model_ids[m];
    }
    qsort(w, (size_t)models, sizeof(*w), want_cmp);
    for (m = 0; m < models; m++) {
        w_ns[m] = w[m].ns;
        w_model[m] = w[m].model;
    }

    t0 = cpu_now();
    if (promql_scope_new(nss, (size_t)models, (const char *const *)model_ids, (size_t)models,
                         &scope, why, sizeof(why)) != ERR_OK)
        fail("scope", why);
    if (promql_saturation_query(scope, META_ENGINE_VLLM, PROMQL_KV_CACHE, 60000, &q1, why,
                                sizeof(why)) != ERR_OK ||
        promql_saturation_query(scope, META_ENGINE_VLLM, PROMQL_QUEUE, 60000, &q2, why,
                                sizeof(why)) != ERR_OK)
        fail("query", why);
    t1 = cpu_now();
    r.query = t1 - t0;

    t0 = cpu_now();
    if (promresp_parse(200, kvb, kvl, 0, &kv, why, sizeof(why)) != ERR_OK)
        fail("parse kv", why);
    if (promresp_parse(200, qb, ql, 0, &queue, why, sizeof(why)) != ERR_OK)
        fail("parse queue", why);
    t1 = cpu_now();
    r.parse = t1 - t0;

    t0 = cpu_now();
    if (promjoin_rows(w_ns, w_model, (size_t)models, kv, queue, has_rows, &rows, &n_rows) != ERR_OK)
        fail("join", "promjoin_rows failed");
    t1 = cpu_now();
    r.join = t1 - t0;

    t0 = cpu_now();
    b = table_builder_new();
    for (i = 0; i < n_rows; i++) {
        char inst[2 * TABLE_MAX_NAME + 2];
        const struct promjoin_row *a = &rows[i];
        if (a->instance[0])
            snprintf(inst, sizeof(inst), "%s@%s", a->pod, a->instance);
        else
            snprintf(inst, sizeof(inst), "%s", a->pod);
        if (table_builder_add_pod(b, a->ns, a->model, a->pod, inst, a->variant, a->kv, a->queue,
                                  why, sizeof(why)) != ERR_OK)
            fail("add_pod", why);
    }
    for (i = 0; i < (size_t)models; i++)
        if (table_builder_add_flow_control(b, w[i].ns, w[i].model, 0, why, sizeof(why)))
            fail("flow", why);
    if (table_builder_finish(b, &t, why, sizeof(why)) != ERR_OK)
        fail("finish", why);
    t1 = cpu_now();
    r.table = t1 - t0;

    t0 = cpu_now();
    for (i = 0; i < table_model_count(t); i++) {
        const struct table_model *tm = table_model_at(t, i);
        struct sat_analysis an;
        size_t n = table_model_replicas(tm, reps, reps_cap, NULL);
        if (n > reps_cap) {
            reps_cap = n * 2;
            reps = realloc(reps, reps_cap * sizeof(*reps));
            n = table_model_replicas(tm, reps, reps_cap, NULL);
        }
        memset(&an, 0, sizeof(an));
        if (sat_analyze(&cfg, reps, n, &an) != ERR_OK)
            fail("sat_analyze", "failed");
        r.scale_ups += an.should_scale_up;
        sat_analysis_clear(&an);
    }
    t1 = cpu_now();
    r.analyze = t1 - t0;
    r.total = r.query + r.parse + r.join + r.table + r.analyze;
    r.body_bytes = kvl + ql;
    r.rows = table_row_count(t);
    r.models = table_model_count(t);

    table_unref(t);
    table_builder_free(b);
    free(rows);
    promresp_free(kv);
    promresp_free(queue);
    promql_scope_free(scope);
    free(q1);
    free(q2);
    free(reps);
    free(w);
    free(w_ns);
    free(w_model);
    free(has_rows);
    free(nss);
    return r;
}

/* A whole decimal number in [lo, hi] (exits with usage otherwise). */
static long arg_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "refresh_bench: %s: want a number in [%ld, %ld], got \"%s\"\n", flag, lo,
                hi, v);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    int pods = 10, reps = 3, i, n_sizes = 0;
    long sizes[16];
    bool json = false;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pods") && i + 1 < argc)
            pods = (int)arg_long("--pods", argv[++i], 1, 1000);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)arg_long("--reps", argv[++i], 1, 100);
        else if (!strcmp(argv[i], "--series") && i + 1 < argc && n_sizes < 16)
            sizes[n_sizes++] = arg_long("--series", argv[++i], 1, 10000000);
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            fprintf(stderr,
                    "usage: refresh_bench [--pods P] [--reps R] [--series N]... [--json]\n");
            return 2;
        }
    }
    if (pods < 1 || reps < 1)
        return 2;
    if (n_sizes == 0) {
        sizes[0] = 1000;
        sizes[1] = 10000;
        sizes[2] = 100000;
        n_sizes = 3;
    }
    if (!json)
        printf("%9s %7s %5s %9s | %8s %8s %8s %8s %8s | %8s  (CPU ms, best of %d)\n", "series",
               "models", "pods", "body MB", "query", "parse", "join", "table", "analyze", "total",
               reps);
    for (i = 0; i < n_sizes; i++) {
        int models = (int)(sizes[i] / pods), m, k;
        size_t kvl, ql;
        char *kvb, *qb, **ids;
        struct result best;
        if (models < 1)
            models = 1;
        kvb = make_body(models, pods, 0, &kvl);
        qb = make_body(models, pods, 1, &ql);
        ids = malloc((size_t)models * sizeof(char *));
        for (m = 0; m < models; m++) {
            ids[m] = malloc(32);
            snprintf(ids[m], 32, "bench/model-%05d", m);
        }
        memset(&best, 0, sizeof(best));
        for (k = 0; k < reps; k++) {
            struct result r = run_once(models, kvb, kvl, qb, ql, ids);
            if (k == 0 || r.total < best.total)
                best = r;
        }
        if (json)
            printf("{\"series\":%ld,\"models\":%d,\"pods\":%d,\"body_bytes\":%zu,\"rows\":%zu,"
                   "\"query_ms\":%.2f,\"parse_ms\":%.2f,\"join_ms\":%.2f,\"table_ms\":%.2f,"
                   "\"analyze_ms\":%.2f,\"total_ms\":%.2f}\n",
                   (long)models * pods, models, pods, best.body_bytes, best.rows, best.query * 1e3,
                   best.parse * 1e3, best.join * 1e3, best.table * 1e3, best.analyze * 1e3,
                   best.total * 1e3);
        else
            printf("%9ld %7d %5d %9.1f | %8.1f %8.1f %8.1f %8.1f %8.1f | %8.1f\n",
                   (long)models * pods, models, pods, (double)best.body_bytes / 1e6,
                   best.query * 1e3, best.parse * 1e3, best.join * 1e3, best.table * 1e3,
                   best.analyze * 1e3, best.total * 1e3);
        fflush(stdout);
        for (m = 0; m < models; m++)
            free(ids[m]);
        free(ids);
        free(kvb);
        free(qb);
    }
    return 0;
}
