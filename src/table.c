/*
 * table: the immutable per-pod saturation snapshot. See include/table.h.
 *
 * A builder collects rows and flow-control entries in two growable arrays;
 * their strings live in a chunked arena that is never reallocated, so rows
 * can point straight at their strings and the finished table simply takes
 * the arena over. table_builder_finish() sorts the rows by (namespace,
 * model, instance), rejects duplicates, folds the flow-control entries in
 * and lays the result out as one row array plus one model array sorted by
 * (namespace, model) for bsearch(). A table is then read-only until its
 * last reference goes, which is what lets many threads share it lock-free.
 *
 * table_parse_json() is the strict front end for --metrics-file: it checks
 * types and ranges with JSON paths in its messages and feeds the builder,
 * which it runs in a "json" mode where duplicate reports carry paths and
 * repeated flow-control entries are an error rather than a sum.
 */
#include "table.h"

#include "meta.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena chunk: strings are at most TABLE_MAX_NAME + 1 bytes, so one always
 * fits a fresh chunk. */
#define CHUNK_SIZE (64 * 1024)

/* 2^63: the first double that does not fit an int64_t. */
#define INT64_LIMIT 9223372036854775808.0

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    char data[];
};

/* A row while building: the public row plus what finish() needs. */
struct brow {
    const char *ns;
    const char *model;
    struct table_row row;
    size_t origin;       /* add order, or the index in the JSON "pods" array */
    bool present;        /* false: validated, checked for duplicates, dropped */
    bool instance_given; /* JSON mode: name "instance" rather than "pod" */
};

struct bflow {
    const char *ns;
    const char *model;
    double queue;
    size_t origin;
};

struct bsucc {
    const char *ns;
    const char *model;
    struct table_success s;
    size_t origin;
};

struct table_builder {
    struct bsucc *succ;
    size_t succ_count;
    size_t succ_cap;
    struct chunk *chunks; /* newest first */
    struct brow *rows;
    size_t row_count;
    size_t row_cap;
    struct bflow *flows;
    size_t flow_count;
    size_t flow_cap;
    /* Consecutive adds usually repeat the namespace and model: share them. */
    const char *last_ns;
    const char *last_model;
};

struct table {
    atomic_size_t refs;
    bool covers_all;               /* parsed from a metrics file */
    struct table_success *success; /* every model's success entries */
    struct chunk *chunks;          /* every string of the table */
    struct table_row *rows;
    size_t row_count;
    struct table_model *models;
    size_t model_count;
};

/* ---- numbers ------------------------------------------------------------ */

/* DESIGN 4 step 1: NaN/Inf become 0; a negative gauge is treated as 0 too. */
static double norm_gauge(double v)
{
    return (isfinite(v) && v > 0) ? v : 0.0;
}

static int64_t norm_queue(double v)
{
    v = norm_gauge(v);
    if (v >= INT64_LIMIT)
        return INT64_MAX;
    return (int64_t)v; /* truncates toward zero */
}

/* ---- arena -------------------------------------------------------------- */

static void chunks_free(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* Copy s (n bytes) into the arena; NULL when out of memory. */
static const char *arena_dup(struct chunk **head, const char *s, size_t n)
{
    struct chunk *c = *head;
    char *p;

    if (c == NULL || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK_SIZE ? n + 1 : CHUNK_SIZE;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = *head;
        c->used = 0;
        c->cap = cap;
        *head = c;
    }
    p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

/* Undo every arena_dup() since (saved_head, saved_used) was recorded. */
static void arena_rollback(struct chunk **head, struct chunk *saved_head, size_t saved_used)
{
    while (*head != saved_head) {
        struct chunk *c = *head;
        *head = c->next;
        free(c);
    }
    if (*head != NULL)
        (*head)->used = saved_used;
}

/* ---- builder ------------------------------------------------------------ */

/* Make room for need elements; returns the (possibly moved) array, or NULL
 * with p and *cap untouched. */
static void *grow_array(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *np;

    if (need <= *cap)
        return p;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return NULL;
    np = realloc(p, n * elem);
    if (np == NULL)
        return NULL;
    *cap = n;
    return np;
}

/* Length of a required name, or 0 after writing why when it is unusable. */
static size_t check_name(const char *what, const char *s, bool required, char *why, size_t why_len)
{
    size_t n;

    if (s == NULL || s[0] == '\0') {
        if (required)
            util_set_why(why, why_len, "%s: must be a non-empty string", what);
        return 0;
    }
    n = strlen(s);
    if (n > TABLE_MAX_NAME) {
        util_set_why(why, why_len, "%s: must be at most %d bytes long", what, TABLE_MAX_NAME);
        return 0;
    }
    return n;
}

/* Copy a name into the arena, sharing *last when it is the same string. */
static const char *intern(struct table_builder *b, const char **last, const char *s, size_t n)
{
    const char *p;

    if (*last != NULL && strcmp(*last, s) == 0)
        return *last;
    p = arena_dup(&b->chunks, s, n);
    if (p != NULL)
        *last = p;
    return p;
}

struct table_builder *table_builder_new(void)
{
    return calloc(1, sizeof(struct table_builder));
}

static void builder_reset(struct table_builder *b)
{
    chunks_free(b->chunks);
    free(b->rows);
    free(b->flows);
    free(b->succ);
    memset(b, 0, sizeof *b);
}

void table_builder_free(struct table_builder *b)
{
    if (b == NULL)
        return;
    builder_reset(b);
    free(b);
}

static enum err_code builder_add_pod(struct table_builder *b, const char *ns, const char *model,
                                     const char *pod, const char *instance, const char *variant,
                                     double kv, double queue, size_t origin, bool present,
                                     char *why, size_t why_len)
{
    size_t ns_len, model_len, pod_len, inst_len, var_len;
    struct chunk *saved_head;
    size_t saved_used;
    const char *saved_ns, *saved_model;
    struct brow *r;
    void *np;

    if (b == NULL) {
        util_set_why(why, why_len, "no builder");
        return ERR_INVALID;
    }
    if ((ns_len = check_name("namespace", ns, true, why, why_len)) == 0 ||
        (model_len = check_name("model", model, true, why, why_len)) == 0 ||
        (pod_len = check_name("pod", pod, true, why, why_len)) == 0)
        return ERR_INVALID;
    inst_len = check_name("instance", instance, false, why, why_len);
    if (inst_len == 0 && instance != NULL && instance[0] != '\0')
        return ERR_INVALID;
    var_len = check_name("variant", variant, false, why, why_len);
    if (var_len == 0 && variant != NULL && variant[0] != '\0')
        return ERR_INVALID;

    np = grow_array(b->rows, &b->row_cap, b->row_count + 1, sizeof *b->rows);
    if (np == NULL)
        goto nomem;
    b->rows = np;

    saved_head = b->chunks;
    saved_used = saved_head != NULL ? saved_head->used : 0;
    saved_ns = b->last_ns;
    saved_model = b->last_model;

    r = &b->rows[b->row_count];
    memset(r, 0, sizeof *r);
    r->ns = intern(b, &b->last_ns, ns, ns_len);
    r->model = r->ns ? intern(b, &b->last_model, model, model_len) : NULL;
    r->row.pod = r->model ? arena_dup(&b->chunks, pod, pod_len) : NULL;
    if (r->row.pod == NULL)
        goto rollback;
    if (inst_len > 0 && strcmp(instance, pod) != 0) {
        r->row.instance = arena_dup(&b->chunks, instance, inst_len);
        if (r->row.instance == NULL)
            goto rollback;
    } else {
        r->row.instance = r->row.pod;
    }
    if (var_len > 0) {
        r->row.variant = arena_dup(&b->chunks, variant, var_len);
        if (r->row.variant == NULL)
            goto rollback;
    }
    r->row.kv = norm_gauge(kv);
    r->row.queue = norm_queue(queue);
    r->origin = origin;
    r->present = present;
    r->instance_given = inst_len > 0;
    b->row_count++;
    return ERR_OK;

rollback:
    arena_rollback(&b->chunks, saved_head, saved_used);
    b->last_ns = saved_ns;
    b->last_model = saved_model;
nomem:
    util_set_why(why, why_len, "out of memory");
    return ERR_NOMEM;
}

enum err_code table_builder_add_pod(struct table_builder *b, const char *ns, const char *model,
                                    const char *pod, const char *instance, const char *variant,
                                    double kv, double queue, char *why, size_t why_len)
{
    util_clear_why(why, why_len);
    return builder_add_pod(b, ns, model, pod, instance, variant, kv, queue,
                           b != NULL ? b->row_count : 0, true, why, why_len);
}

static enum err_code builder_add_flow(struct table_builder *b, const char *ns, const char *model,
                                      double queue, size_t origin, char *why, size_t why_len)
{
    size_t ns_len, model_len;
    struct chunk *saved_head;
    size_t saved_used;
    const char *saved_ns, *saved_model;
    struct bflow *f;
    void *np;

    if (b == NULL) {
        util_set_why(why, why_len, "no builder");
        return ERR_INVALID;
    }
    if ((ns_len = check_name("namespace", ns, true, why, why_len)) == 0 ||
        (model_len = check_name("model", model, true, why, why_len)) == 0)
        return ERR_INVALID;

    np = grow_array(b->flows, &b->flow_cap, b->flow_count + 1, sizeof *b->flows);
    if (np == NULL)
        goto nomem;
    b->flows = np;

    saved_head = b->chunks;
    saved_used = saved_head != NULL ? saved_head->used : 0;
    saved_ns = b->last_ns;
    saved_model = b->last_model;

    f = &b->flows[b->flow_count];
    f->ns = intern(b, &b->last_ns, ns, ns_len);
    f->model = f->ns ? intern(b, &b->last_model, model, model_len) : NULL;
    if (f->model == NULL) {
        arena_rollback(&b->chunks, saved_head, saved_used);
        b->last_ns = saved_ns;
        b->last_model = saved_model;
        goto nomem;
    }
    f->queue = norm_gauge(queue);
    f->origin = origin;
    b->flow_count++;
    return ERR_OK;

nomem:
    util_set_why(why, why_len, "out of memory");
    return ERR_NOMEM;
}

enum err_code table_builder_add_flow_control(struct table_builder *b, const char *ns,
                                             const char *model, double queue, char *why,
                                             size_t why_len)
{
    util_clear_why(why, why_len);
    return builder_add_flow(b, ns, model, queue, b != NULL ? b->flow_count : 0, why, why_len);
}

enum err_code table_builder_add_success(struct table_builder *b, const char *ns, const char *model,
                                        int64_t retention_ms, double increase, char *why,
                                        size_t why_len)
{
    size_t ns_len, model_len;
    struct bsucc *e;
    void *np;

    util_clear_why(why, why_len);
    if (b == NULL) {
        util_set_why(why, why_len, "no builder");
        return ERR_INVALID;
    }
    if ((ns_len = check_name("namespace", ns, true, why, why_len)) == 0 ||
        (model_len = check_name("model", model, true, why, why_len)) == 0)
        return ERR_INVALID;
    if (retention_ms <= 0) {
        util_set_why(why, why_len, "retention must be > 0");
        return ERR_INVALID;
    }
    np = grow_array(b->succ, &b->succ_cap, b->succ_count + 1, sizeof *b->succ);
    if (np == NULL)
        goto nomem;
    b->succ = np;
    e = &b->succ[b->succ_count];
    e->ns = intern(b, &b->last_ns, ns, ns_len);
    e->model = e->ns ? intern(b, &b->last_model, model, model_len) : NULL;
    if (e->model == NULL)
        goto nomem;
    e->s.retention_ms = retention_ms;
    e->s.increase = norm_gauge(increase);
    e->origin = b->succ_count;
    b->succ_count++;
    return ERR_OK;
nomem:
    util_set_why(why, why_len, "out of memory");
    return ERR_NOMEM;
}

static int bsucc_cmp(const void *pa, const void *pb)
{
    const struct bsucc *a = pa, *b = pb;
    int c = strcmp(a->ns, b->ns);
    if (c == 0)
        c = strcmp(a->model, b->model);
    if (c == 0)
        c = a->s.retention_ms < b->s.retention_ms ? -1 : a->s.retention_ms > b->s.retention_ms;
    if (c == 0) /* the later add wins: it sorts last, and attach keeps the last */
        c = a->origin < b->origin ? -1 : a->origin > b->origin;
    return c;
}

/* Attach the builder's success entries to the models of t (sorted). */
static enum err_code attach_success(struct table *t, struct table_builder *b)
{
    size_t i, n = 0;

    if (b->succ_count == 0)
        return ERR_OK;
    qsort(b->succ, b->succ_count, sizeof *b->succ, bsucc_cmp);
    t->success = malloc(b->succ_count * sizeof *t->success);
    if (t->success == NULL)
        return ERR_NOMEM;
    for (i = 0; i < b->succ_count; i++) {
        const struct bsucc *e = &b->succ[i];
        struct table_model *m = (struct table_model *)table_find(t, e->ns, e->model);
        if (m == NULL)
            continue; /* not covered: dropped (see table.h) */
        if (m->success_count > 0 &&
            m->success[m->success_count - 1].retention_ms == e->s.retention_ms) {
            t->success[n - 1] = e->s; /* same retention again: the later wins */
            continue;
        }
        if (m->success_count == 0)
            m->success = &t->success[n];
        t->success[n++] = e->s;
        m->success_count++;
    }
    return ERR_OK;
}

bool table_covers(const struct table *t, const char *ns, const char *model)
{
    if (t == NULL)
        return false;
    return t->covers_all || table_find(t, ns, model) != NULL;
}

bool table_covers_all(const struct table *t)
{
    return t != NULL && t->covers_all;
}

bool table_model_success(const struct table_model *m, int64_t retention_ms, double *increase)
{
    size_t i;

    if (m == NULL)
        return false;
    for (i = 0; i < m->success_count; i++)
        if (m->success[i].retention_ms == retention_ms) {
            if (increase)
                *increase = m->success[i].increase;
            return true;
        }
    return false;
}

/* ---- finish ------------------------------------------------------------- */

static int key_cmp(const char *ns1, const char *m1, const char *ns2, const char *m2)
{
    int c = strcmp(ns1, ns2);

    return c != 0 ? c : strcmp(m1, m2);
}

static int origin_cmp(size_t a, size_t b)
{
    return (a > b) - (a < b);
}

static int brow_cmp(const void *pa, const void *pb)
{
    const struct brow *a = pa, *b = pb;
    int c = key_cmp(a->ns, a->model, b->ns, b->model);

    if (c == 0)
        c = strcmp(a->row.instance, b->row.instance);
    return c != 0 ? c : origin_cmp(a->origin, b->origin);
}

static int bflow_cmp(const void *pa, const void *pb)
{
    const struct bflow *a = pa, *b = pb;
    int c = key_cmp(a->ns, a->model, b->ns, b->model);

    return c != 0 ? c : origin_cmp(a->origin, b->origin);
}

static int str_ptr_cmp(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static void table_free(struct table *t)
{
    if (t == NULL)
        return;
    chunks_free(t->chunks);
    free(t->rows);
    free(t->models);
    free(t->success);
    free(t);
}

/* Rows must be sorted. The duplicate that comes first in add (or file)
 * order, i.e. the later row of the pair with the smallest origin; NULL
 * when there is none. */
static const struct brow *find_duplicate_row(const struct table_builder *b)
{
    const struct brow *dup = NULL;
    size_t i;

    for (i = 1; i < b->row_count; i++) {
        const struct brow *p = &b->rows[i - 1], *r = &b->rows[i];
        if (key_cmp(p->ns, p->model, r->ns, r->model) == 0 &&
            strcmp(p->row.instance, r->row.instance) == 0 &&
            (dup == NULL || r->origin < dup->origin))
            dup = r;
    }
    return dup;
}

/* Likewise for flow-control entries (JSON mode only). */
static const struct bflow *find_duplicate_flow(const struct table_builder *b)
{
    const struct bflow *dup = NULL;
    size_t i;

    for (i = 1; i < b->flow_count; i++) {
        const struct bflow *p = &b->flows[i - 1], *f = &b->flows[i];
        if (key_cmp(p->ns, p->model, f->ns, f->model) == 0 &&
            (dup == NULL || f->origin < dup->origin))
            dup = f;
    }
    return dup;
}

/* Fold sorted flow entries of one model into one (sum, kept finite).
 * Returns the new count. */
static size_t merge_flows(struct bflow *flows, size_t n)
{
    size_t i, out = 0;

    for (i = 0; i < n; i++) {
        if (out > 0 &&
            key_cmp(flows[out - 1].ns, flows[out - 1].model, flows[i].ns, flows[i].model) == 0) {
            double sum = flows[out - 1].queue + flows[i].queue;
            flows[out - 1].queue = isfinite(sum) ? sum : DBL_MAX;
        } else {
            flows[out++] = flows[i];
        }
    }
    return out;
}

static size_t distinct_pods(const struct table_row *rows, size_t n, const char **scratch)
{
    size_t i, count = 0;

    for (i = 0; i < n; i++)
        scratch[i] = rows[i].pod;
    qsort(scratch, n, sizeof *scratch, str_ptr_cmp);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(scratch[i - 1], scratch[i]) != 0)
            count++;
    return count;
}

/*
 * Lay out the sorted present rows and merged flows as models. models has
 * room for one model per present row plus one per flow entry.
 */
static void build_models(struct table *t, const struct table_builder *b, size_t flow_count,
                         const char **scratch)
{
    size_t i = 0, j = 0;

    t->row_count = 0;
    t->model_count = 0;
    for (;;) {
        struct table_model *m;
        const char *ns, *model;
        int c;

        while (i < b->row_count && !b->rows[i].present)
            i++;
        if (i == b->row_count && j == flow_count)
            break;
        if (i == b->row_count)
            c = 1;
        else if (j == flow_count)
            c = -1;
        else
            c = key_cmp(b->rows[i].ns, b->rows[i].model, b->flows[j].ns, b->flows[j].model);
        ns = c <= 0 ? b->rows[i].ns : b->flows[j].ns;
        model = c <= 0 ? b->rows[i].model : b->flows[j].model;

        m = &t->models[t->model_count++];
        memset(m, 0, sizeof *m);
        m->ns = ns;
        m->model = model;
        if (c <= 0) {
            m->rows = &t->rows[t->row_count];
            for (; i < b->row_count; i++) {
                const struct brow *r = &b->rows[i];
                if (key_cmp(r->ns, r->model, ns, model) != 0)
                    break;
                if (r->present)
                    t->rows[t->row_count++] = r->row;
            }
            m->row_count = (size_t)(&t->rows[t->row_count] - m->rows);
            m->distinct_pods = distinct_pods(m->rows, m->row_count, scratch);
        }
        if (c >= 0) {
            m->has_flow_control = true;
            m->flow_control_queue = b->flows[j].queue;
            j++;
        }
    }
}

static enum err_code builder_finish(struct table_builder *b, struct table **out, char *why,
                                    size_t why_len, bool json)
{
    enum err_code rc = ERR_OK;
    struct table *t = NULL;
    const char **scratch = NULL;
    size_t i, present = 0, flow_count, model_cap;

    if (b->row_count > 0)
        qsort(b->rows, b->row_count, sizeof *b->rows, brow_cmp);
    if (b->flow_count > 0)
        qsort(b->flows, b->flow_count, sizeof *b->flows, bflow_cmp);

    {
        const struct brow *dup = find_duplicate_row(b);
        if (dup != NULL) {
            /* Names are echoed quoted and escaped: a name with a newline
             * or a terminal escape must not forge a log line. */
            char qi[META_QUOTE_LEN], qm[META_QUOTE_LEN], qn[META_QUOTE_LEN];
            meta_quote(qi, sizeof qi, dup->row.instance);
            meta_quote(qm, sizeof qm, dup->model);
            meta_quote(qn, sizeof qn, dup->ns);
            if (json)
                util_set_why(why, why_len,
                             "pods[%zu].%s: duplicate instance %s for model %s in namespace %s",
                             dup->origin, dup->instance_given ? "instance" : "pod", qi, qm, qn);
            else
                util_set_why(why, why_len, "duplicate instance %s for model %s in namespace %s", qi,
                             qm, qn);
            rc = ERR_INVALID;
            goto done;
        }
    }
    if (json) {
        const struct bflow *dup = find_duplicate_flow(b);
        if (dup != NULL) {
            char qm[META_QUOTE_LEN], qn[META_QUOTE_LEN];
            meta_quote(qm, sizeof qm, dup->model);
            meta_quote(qn, sizeof qn, dup->ns);
            util_set_why(why, why_len,
                         "flowControl[%zu]: duplicate entry for model %s in namespace %s",
                         dup->origin, qm, qn);
            rc = ERR_INVALID;
            goto done;
        }
    }
    flow_count = merge_flows(b->flows, b->flow_count);

    for (i = 0; i < b->row_count; i++)
        present += b->rows[i].present;
    model_cap = present + flow_count; /* cannot overflow: both are array sizes */

    t = calloc(1, sizeof *t);
    if (t == NULL)
        goto nomem;
    if (present > 0) {
        t->rows = malloc(present * sizeof *t->rows);
        scratch = malloc(present * sizeof *scratch);
        if (t->rows == NULL || scratch == NULL)
            goto nomem;
    }
    if (model_cap > 0) {
        if (model_cap > SIZE_MAX / sizeof *t->models)
            goto nomem;
        t->models = malloc(model_cap * sizeof *t->models);
        if (t->models == NULL)
            goto nomem;
    }
    build_models(t, b, flow_count, scratch);
    if (t->model_count > 0 && t->model_count < model_cap) {
        /* Give back the over-estimate; a failed shrink keeps the block. */
        void *np = realloc(t->models, t->model_count * sizeof *t->models);
        if (np != NULL)
            t->models = np;
    }
    if (attach_success(t, b) != ERR_OK)
        goto nomem;
    t->chunks = b->chunks; /* the rows point into it */
    b->chunks = NULL;
    atomic_init(&t->refs, 1);
    *out = t;
    t = NULL;
    goto done;

nomem:
    util_set_why(why, why_len, "out of memory");
    rc = ERR_NOMEM;
done:
    free(scratch);
    table_free(t);
    builder_reset(b);
    return rc;
}

enum err_code table_builder_finish(struct table_builder *b, struct table **out, char *why,
                                   size_t why_len)
{
    util_clear_why(why, why_len);
    if (out != NULL)
        *out = NULL;
    if (b == NULL || out == NULL) {
        util_set_why(why, why_len, "no builder or no output");
        return ERR_INVALID;
    }
    return builder_finish(b, out, why, why_len, false);
}

/* ---- JSON --------------------------------------------------------------- */

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The string at key of obj into *out: NULL when absent and optional.
 * Non-empty unless allow_empty; at most TABLE_MAX_NAME bytes.
 */
static enum err_code json_string(const cJSON *obj, const char *key, bool required, bool allow_empty,
                                 const char *section, size_t idx, const char **out, char *why,
                                 size_t why_len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    *out = NULL;
    if (item == NULL && !required)
        return ERR_OK;
    if (!cJSON_IsString(item) || item->valuestring == NULL ||
        (!allow_empty && item->valuestring[0] == '\0')) {
        util_set_why(why, why_len, "%s[%zu].%s: must be a %sstring", section, idx, key,
                     allow_empty ? "" : "non-empty ");
        return ERR_INVALID;
    }
    if (strlen(item->valuestring) > TABLE_MAX_NAME) {
        util_set_why(why, why_len, "%s[%zu].%s: must be at most %d bytes long", section, idx, key,
                     TABLE_MAX_NAME);
        return ERR_INVALID;
    }
    *out = item->valuestring;
    return ERR_OK;
}

/*
 * The number at key of obj into *out (0 when absent and optional; *given
 * says which): finite, >= 0 and below limit (0 = no limit). must names the
 * rule in the error message.
 */
static enum err_code json_number(const cJSON *obj, const char *key, bool required, double limit,
                                 const char *must, const char *section, size_t idx, double *out,
                                 bool *given, char *why, size_t why_len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;

    *out = 0;
    *given = false;
    if (item == NULL && !required)
        return ERR_OK;
    if (!cJSON_IsNumber(item))
        goto bad;
    v = item->valuedouble;
    if (!isfinite(v) || v < 0 || (limit > 0 && v >= limit))
        goto bad;
    *out = v;
    *given = true;
    return ERR_OK;

bad:
    util_set_why(why, why_len, "%s[%zu].%s: must be %s", section, idx, key, must);
    return ERR_INVALID;
}

/* Builder errors (NOMEM, or a rule json_string() missed) with the path. */
static enum err_code json_add_failed(enum err_code rc, const char *section, size_t idx,
                                     const char *msg, char *why, size_t why_len)
{
    if (rc == ERR_NOMEM)
        util_set_why(why, why_len, "out of memory");
    else
        util_set_why(why, why_len, "%s[%zu].%s", section, idx, msg);
    return rc;
}

static enum err_code json_pod(struct table_builder *b, const cJSON *item, size_t idx, char *why,
                              size_t why_len)
{
    const char *ns, *model, *pod, *instance, *variant;
    double kv, queue;
    bool has_kv, has_queue;
    char msg[128];
    enum err_code rc;

    if (!cJSON_IsObject(item)) {
        util_set_why(why, why_len, "pods[%zu]: must be an object", idx);
        return ERR_INVALID;
    }
    rc = json_string(item, "namespace", true, false, "pods", idx, &ns, why, why_len);
    if (rc)
        return rc;
    rc = json_string(item, "model", true, false, "pods", idx, &model, why, why_len);
    if (rc)
        return rc;
    rc = json_string(item, "pod", true, false, "pods", idx, &pod, why, why_len);
    if (rc)
        return rc;
    /* "instance": "" would silently mean "the pod"; refuse it in a file. */
    rc = json_string(item, "instance", false, false, "pods", idx, &instance, why, why_len);
    if (rc)
        return rc;
    rc = json_string(item, "variant", false, true, "pods", idx, &variant, why, why_len);
    if (rc)
        return rc;
    rc = json_number(item, "kv", false, 0, "a finite number >= 0", "pods", idx, &kv, &has_kv, why,
                     why_len);
    if (rc)
        return rc;
    rc = json_number(item, "queue", false, INT64_LIMIT, "a finite number >= 0 and < 2^63", "pods",
                     idx, &queue, &has_queue, why, why_len);
    if (rc)
        return rc;

    msg[0] = '\0';
    rc = builder_add_pod(b, ns, model, pod, instance, variant, kv, queue, idx, has_kv || has_queue,
                         msg, sizeof msg);
    return rc ? json_add_failed(rc, "pods", idx, msg, why, why_len) : ERR_OK;
}

static enum err_code json_flow(struct table_builder *b, const cJSON *item, size_t idx, char *why,
                               size_t why_len)
{
    const char *ns, *model;
    double queue;
    bool given;
    char msg[128];
    enum err_code rc;

    if (!cJSON_IsObject(item)) {
        util_set_why(why, why_len, "flowControl[%zu]: must be an object", idx);
        return ERR_INVALID;
    }
    rc = json_string(item, "namespace", true, false, "flowControl", idx, &ns, why, why_len);
    if (rc)
        return rc;
    rc = json_string(item, "model", true, false, "flowControl", idx, &model, why, why_len);
    if (rc)
        return rc;
    rc = json_number(item, "queue", true, 0, "a finite number >= 0", "flowControl", idx, &queue,
                     &given, why, why_len);
    if (rc)
        return rc;

    msg[0] = '\0';
    rc = builder_add_flow(b, ns, model, queue, idx, msg, sizeof msg);
    return rc ? json_add_failed(rc, "flowControl", idx, msg, why, why_len) : ERR_OK;
}

static enum err_code json_table(const cJSON *root, struct table_builder *b, char *why,
                                size_t why_len)
{
    const cJSON *pods, *flows, *item;
    size_t idx;
    enum err_code rc;

    if (!cJSON_IsObject(root)) {
        util_set_why(why, why_len, "top level: must be an object");
        return ERR_INVALID;
    }
    pods = cJSON_GetObjectItemCaseSensitive(root, "pods");
    if (!cJSON_IsArray(pods)) {
        util_set_why(why, why_len, "pods: must be an array");
        return ERR_INVALID;
    }
    flows = cJSON_GetObjectItemCaseSensitive(root, "flowControl");
    if (flows != NULL && !cJSON_IsArray(flows)) {
        util_set_why(why, why_len, "flowControl: must be an array");
        return ERR_INVALID;
    }
    idx = 0;
    cJSON_ArrayForEach(item, pods)
    {
        rc = json_pod(b, item, idx++, why, why_len);
        if (rc)
            return rc;
    }
    idx = 0;
    cJSON_ArrayForEach(item, flows)
    {
        rc = json_flow(b, item, idx++, why, why_len);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

enum err_code table_parse_json(const char *json, size_t len, struct table **out, char *why,
                               size_t why_len)
{
    struct table_builder *b;
    const char *end = NULL;
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (json == NULL && len > 0)) {
        util_set_why(why, why_len, "no input or no output");
        return ERR_INVALID;
    }
    if (json == NULL)
        json = "";

    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) {
        size_t at = (end != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        util_set_why(why, why_len, "invalid JSON near byte %zu", at);
        return ERR_INVALID;
    }
    /* cJSON stops after the value; anything but white space is garbage. */
    while (end < json + len && json_space(*end))
        end++;
    if (end != json + len) {
        cJSON_Delete(root);
        util_set_why(why, why_len, "invalid JSON near byte %zu: data after the top-level value",
                     (size_t)(end - json));
        return ERR_INVALID;
    }

    b = table_builder_new();
    if (b == NULL) {
        cJSON_Delete(root);
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    rc = json_table(root, b, why, why_len);
    if (rc == ERR_OK)
        rc = builder_finish(b, out, why, why_len, true);
    if (rc == ERR_OK)
        (*out)->covers_all = true; /* absent from the file = no series */
    table_builder_free(b);
    cJSON_Delete(root);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct table *table_ref(struct table *t)
{
    if (t != NULL)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void table_unref(struct table *t)
{
    /* acq_rel: every reader's last access happens before the free. */
    if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        table_free(t);
}

size_t table_model_count(const struct table *t)
{
    return t != NULL ? t->model_count : 0;
}

size_t table_row_count(const struct table *t)
{
    return t != NULL ? t->row_count : 0;
}

const struct table_model *table_model_at(const struct table *t, size_t i)
{
    return (t != NULL && i < t->model_count) ? &t->models[i] : NULL;
}

struct model_key {
    const char *ns;
    const char *model;
};

static int model_key_cmp(const void *pk, const void *pm)
{
    const struct model_key *k = pk;
    const struct table_model *m = pm;

    return key_cmp(k->ns, k->model, m->ns, m->model);
}

const struct table_model *table_find(const struct table *t, const char *ns, const char *model)
{
    struct model_key key = {ns, model};

    if (t == NULL || ns == NULL || model == NULL || t->model_count == 0)
        return NULL;
    return bsearch(&key, t->models, t->model_count, sizeof *t->models, model_key_cmp);
}

size_t table_model_distinct_pods(const struct table_model *m)
{
    return m != NULL ? m->distinct_pods : 0;
}

size_t table_model_replicas(const struct table_model *m, struct sat_replica *out, size_t cap,
                            const char *unlabelled_variant)
{
    size_t i;

    if (m == NULL)
        return 0;
    if (unlabelled_variant == NULL)
        unlabelled_variant = "";
    for (i = 0; i < m->row_count && i < cap && out != NULL; i++) {
        const struct table_row *r = &m->rows[i];
        out[i].pod = r->instance;
        out[i].variant = r->variant != NULL ? r->variant : unlabelled_variant;
        out[i].kv = r->kv;
        out[i].queue = r->queue;
    }
    return m->row_count;
}
