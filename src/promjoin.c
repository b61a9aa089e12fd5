/*
 * promjoin: the rows of one refresh. See include/promjoin.h.
 *
 * Linear passes instead of a binary search per sample and a qsort of all
 * rows by four strings: (1) each usable sample finds its model in an
 * open-addressing hash of the models; the models being sorted, a model's
 * index is its rank in (namespace, model) order. (2) A counting sort by
 * that index groups the samples per model and keeps their input order.
 * (3) Each model's samples (a few per pod) are sorted by (pod, instance),
 * stably, and neighbours with the same key merged into one row. The result
 * is what a stable sort of all rows by (namespace, model, pod, instance)
 * followed by merging neighbours gives, which is what prom.c computed
 * before with glibc's qsort (a merge sort, so stable, for arrays that fit
 * in memory).
 */
#include "promjoin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

/* A usable sample on its way to a row. */
struct ent {
    const struct promresp_sample *s;
    const char *pod, *instance;
    size_t model; /* index into the models */
    size_t seq;   /* input order: the kv samples, then the queue samples */
    bool kv;      /* from the kv answer */
};

/* FNV-1a over a, a 0 byte, b. */
static uint64_t hash_pair(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h *= 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

/* The models by (ns, model): open addressing, linear probing, at most half
 * full. */
struct index {
    size_t *slot; /* a model's index, or NONE */
    size_t mask;
};

static enum err_code index_build(struct index *ix, const char *const *ns, const char *const *models,
                                 size_t n)
{
    size_t size = 16, i, h;

    while (size < 2 * n) {
        if (size > SIZE_MAX / 2 / sizeof(size_t))
            return ERR_NOMEM;
        size *= 2;
    }
    ix->slot = malloc(size * sizeof(size_t));
    if (ix->slot == NULL)
        return ERR_NOMEM;
    ix->mask = size - 1;
    for (i = 0; i < size; i++)
        ix->slot[i] = NONE;
    for (i = 0; i < n; i++) {
        for (h = hash_pair(ns[i], models[i]) & ix->mask; ix->slot[h] != NONE;
             h = (h + 1) & ix->mask)
            ;
        ix->slot[h] = i;
    }
    return ERR_OK;
}

static size_t index_find(const struct index *ix, const char *const *ns, const char *const *models,
                         const char *a, const char *b)
{
    size_t h, i;

    for (h = hash_pair(a, b) & ix->mask; (i = ix->slot[h]) != NONE; h = (h + 1) & ix->mask)
        if (strcmp(models[i], b) == 0 && strcmp(ns[i], a) == 0)
            return i;
    return NONE;
}

static int ent_cmp(const struct ent *x, const struct ent *y)
{
    int c = strcmp(x->pod, y->pod);
    return c ? c : strcmp(x->instance, y->instance);
}

/* ent_cmp with input order as the last key: qsort is then stable. */
static int ent_qsort_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    int c = ent_cmp(x, y);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One model's samples by (pod, instance), stably: insertion sort for the
 * usual few, qsort beyond. */
static void sort_model(struct ent *e, size_t m)
{
    size_t i, j;

    if (m > 32) {
        qsort(e, m, sizeof(*e), ent_qsort_cmp);
        return;
    }
    for (i = 1; i < m; i++) {
        struct ent t = e[i];
        for (j = i; j > 0 && ent_cmp(&e[j - 1], &t) > 0; j--)
            e[j] = e[j - 1];
        e[j] = t;
    }
}

static void apply(struct promjoin_row *r, const struct ent *e)
{
    double v = e->s->finite ? e->s->value : 0.0;

    if (e->kv) {
        r->kv = v;
        r->has_kv = true;
    } else {
        r->queue = v;
        r->has_queue = true;
    }
}

/* Whether the models are sorted and unique, as the header asks. */
static bool models_ok(const char *const *ns, const char *const *models, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int c;
        if (ns[i] == NULL || models[i] == NULL)
            return false;
        if (i == 0)
            continue;
        c = strcmp(ns[i - 1], ns[i]);
        if (c == 0)
            c = strcmp(models[i - 1], models[i]);
        if (c >= 0)
            return false;
    }
    return true;
}

enum err_code promjoin_rows(const char *const *ns, const char *const *models, size_t n,
                            const struct promresp *kv, const struct promresp *queue, bool *has_rows,
                            struct promjoin_row **out, size_t *n_out)
{
    const struct promresp *parts[2] = {kv, queue};
    struct index ix = {NULL, 0};
    struct ent *ents = NULL, *sorted = NULL;
    struct promjoin_row *rows = NULL;
    size_t *pos = NULL, cap = 0, n_ent = 0, n_rows = 0, i, j, k, last = NONE;
    enum err_code rc;

    if (out != NULL)
        *out = NULL;
    if (n_out != NULL)
        *n_out = 0;
    if (out == NULL || n_out == NULL || (n > 0 && (ns == NULL || models == NULL)) ||
        !models_ok(ns, models, n))
        return ERR_INVALID;
    if (has_rows != NULL && n > 0)
        memset(has_rows, 0, n * sizeof(*has_rows));
    for (k = 0; k < 2; k++)
        cap += parts[k] != NULL ? parts[k]->count : 0;
    if (cap == 0 || n == 0)
        return ERR_OK;

    rc = index_build(&ix, ns, models, n);
    if (rc)
        return rc;
    rc = ERR_NOMEM;
    ents = malloc(cap * sizeof(*ents));
    if (ents == NULL)
        goto done;
    for (k = 0; k < 2; k++)
        for (i = 0; parts[k] != NULL && i < parts[k]->count; i++) {
            const struct promresp_sample *s = &parts[k]->samples[i];
            const char *pod = s->pod != NULL ? s->pod : s->pod_name;
            size_t m;
            if (s->namespace_ == NULL || s->model_name == NULL || pod == NULL)
                continue;
            /* answers tend to list a model's series together */
            if (last != NONE && strcmp(s->model_name, models[last]) == 0 &&
                strcmp(s->namespace_, ns[last]) == 0)
                m = last;
            else
                m = last = index_find(&ix, ns, models, s->namespace_, s->model_name);
            if (m == NONE)
                continue; /* the cross product brought in a pair nobody asked for */
            ents[n_ent].s = s;
            ents[n_ent].pod = pod;
            ents[n_ent].instance = s->instance != NULL ? s->instance : "";
            ents[n_ent].model = m;
            ents[n_ent].seq = n_ent;
            ents[n_ent].kv = k == 0;
            n_ent++;
        }
    if (n_ent == 0) {
        rc = ERR_OK;
        goto done;
    }

    /* counting sort by model: pos[m] = where model m's samples start */
    pos = calloc(n + 1, sizeof(*pos));
    sorted = malloc(n_ent * sizeof(*sorted));
    rows = malloc(n_ent * sizeof(*rows));
    if (pos == NULL || sorted == NULL || rows == NULL)
        goto done;
    for (i = 0; i < n_ent; i++)
        pos[ents[i].model + 1]++;
    for (i = 1; i <= n; i++)
        pos[i] += pos[i - 1];
    for (i = 0; i < n_ent; i++)
        sorted[pos[ents[i].model]++] = ents[i];

    /* per model: sort by (pod, instance), merge neighbours into rows */
    for (i = 0; i < n_ent; i = j) {
        size_t m = sorted[i].model;
        for (j = i; j < n_ent && sorted[j].model == m; j++)
            ;
        sort_model(sorted + i, j - i);
        if (has_rows != NULL)
            has_rows[m] = true;
        for (k = i; k < j; k++) {
            const struct ent *e = &sorted[k];
            struct promjoin_row *r;
            if (k > i && ent_cmp(&sorted[k - 1], e) == 0) {
                apply(&rows[n_rows - 1], e); /* the same instance again */
                continue;
            }
            r = &rows[n_rows++];
            memset(r, 0, sizeof(*r));
            r->ns = e->s->namespace_;
            r->model = e->s->model_name;
            r->pod = e->pod;
            r->instance = e->instance;
            r->variant = e->s->llm_d_ai_variant;
            apply(r, e);
        }
    }
    *out = rows;
    *n_out = n_rows;
    rows = NULL;
    rc = ERR_OK;
done:
    free(ix.slot);
    free(ents);
    free(sorted);
    free(pos);
    free(rows);
    if (rc != ERR_OK && has_rows != NULL && n > 0)
        memset(has_rows, 0, n * sizeof(*has_rows));
    return rc;
}
