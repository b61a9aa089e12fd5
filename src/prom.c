/*
 * prom: Prometheus endpoints, interest sets and batched fetches. See
 * include/prom.h.
 *
 * Locks: p->mu guards the endpoint list (endpoints are only ever added);
 * ep->mu guards an endpoint's group list (groups only ever added), its
 * wake flag and stop flag; g->mu guards a group's interest set. Order:
 * p->mu, then ep->mu, then g->mu. Network I/O happens only on fetcher
 * threads, never under g->mu.
 */
#include "prom.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "promjoin.h"
#include "promql.h"
#include "promresp.h"
#include "table.h"

#define MAX_RETENTIONS 8 /* distinct scaleToZero retentions per model */

struct interest {
    char *ns;
    char *model;
    int64_t last_ms;
    int watchers; /* open streams: never expires while > 0 */
    int64_t stz[MAX_RETENTIONS];
    size_t n_stz;
    struct interest *next; /* hash chain */
};

struct group {
    struct endpoint *ep;
    enum meta_engine engine;
    int64_t window_ms;
    struct source *src;
    pthread_mutex_t mu;
    struct interest **buckets;
    size_t n_buckets, count;
    bool healthy;           /* the last fetch succeeded */
    int64_t last_success_ms;
    bool logged_failure;
    struct group *next;
};

/* A file read on each fetch when its stat changed (token, password). */
struct secret_file {
    char *path; /* owned copy: a reload may change it */
    struct timespec mtime;
    off_t size;
    ino_t ino;
    char *value;
};

struct endpoint {
    struct prom *p;
    char *name;
    char *url; /* base URL */
    bool from_config;  /* false: an endpoint from a metadata URL */
    bool removed;      /* gone from the config after a reload (under p->mu) */
    /* The endpoint's settings for the current fetch round (fetcher thread
     * only; NULL between rounds and for metadata URLs). */
    const struct config_endpoint *cfg;
    const char *activation_query; /* the round's config activationQuery */
    int64_t timeout_ms; /* under mu */
    struct secret_file token, password;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake, stop;
    struct group *groups;
    CURLM *multi;
    struct endpoint *next;
};

struct prom {
    struct prom_options opt;
    pthread_mutex_t mu;
    struct endpoint *endpoints;
    size_t metadata_endpoints;
    source_subscriber_fn *sub_fn;
    void *sub_arg;
    atomic_uint_fast64_t fetches, queries, query_errors, response_bytes;
};

/* ---- interest sets ------------------------------------------------------ */

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

/* Under g->mu. */
static bool interest_grow(struct group *g)
{
    size_t n = g->n_buckets ? g->n_buckets * 2 : 64, i;
    struct interest **nb = calloc(n, sizeof(*nb));

    if (!nb)
        return false;
    for (i = 0; i < g->n_buckets; i++) {
        struct interest *e = g->buckets[i];
        while (e) {
            struct interest *next = e->next;
            size_t j = hash2(e->ns, e->model) & (n - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(g->buckets);
    g->buckets = nb;
    g->n_buckets = n;
    return true;
}

/* The source's interest hook: record (ns, model), wake the fetcher when the
 * model (or its retention) is new. RPC threads; never blocks on I/O. */
static void group_interest(void *arg, const struct source_key *key, int watch_delta)
{
    struct group *g = arg;
    struct interest *e;
    bool fresh = false;
    size_t i;

    pthread_mutex_lock(&g->mu);
    if (g->count + 1 > g->n_buckets && !interest_grow(g)) {
        pthread_mutex_unlock(&g->mu);
        return;
    }
    for (e = g->buckets[hash2(key->ns, key->model) & (g->n_buckets - 1)]; e; e = e->next)
        if (strcmp(e->ns, key->ns) == 0 && strcmp(e->model, key->model) == 0)
            break;
    if (!e) {
        size_t j = hash2(key->ns, key->model) & (g->n_buckets - 1);
        e = calloc(1, sizeof(*e));
        if (!e || !(e->ns = strdup(key->ns)) || !(e->model = strdup(key->model))) {
            if (e) {
                free(e->ns);
                free(e);
            }
            pthread_mutex_unlock(&g->mu);
            return;
        }
        e->next = g->buckets[j];
        g->buckets[j] = e;
        g->count++;
        fresh = true;
    }
    e->last_ms = source_now_ms();
    e->watchers += watch_delta;
    if (e->watchers < 0)
        e->watchers = 0;
    if (key->scale_to_zero_ms > 0) {
        for (i = 0; i < e->n_stz; i++)
            if (e->stz[i] == key->scale_to_zero_ms)
                break;
        if (i == e->n_stz && e->n_stz < MAX_RETENTIONS) {
            e->stz[e->n_stz++] = key->scale_to_zero_ms;
            fresh = true;
        }
    }
    pthread_mutex_unlock(&g->mu);
    if (fresh) {
        pthread_mutex_lock(&g->ep->mu);
        g->ep->wake = true;
        pthread_cond_signal(&g->ep->cv);
        pthread_mutex_unlock(&g->ep->mu);
    }
}

/* A copy of one model of interest, for a fetch. */
struct want {
    const char *ns, *model; /* borrowed from the copy arena below */
    int64_t stz[MAX_RETENTIONS];
    size_t n_stz;
    bool has_rows;
};

struct wants {
    struct want *v;
    size_t n;
    char **strings; /* owned copies */
    size_t n_strings;
};

static void wants_free(struct wants *w)
{
    size_t i;
    for (i = 0; i < w->n_strings; i++)
        free(w->strings[i]);
    free(w->strings);
    free(w->v);
    memset(w, 0, sizeof(*w));
}

static int want_cmp(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->model, y->model);
}

static struct want *want_find(struct wants *w, const char *ns, const char *model)
{
    struct want key;
    key.ns = ns;
    key.model = model;
    return w->n ? bsearch(&key, w->v, w->n, sizeof(*w->v), want_cmp) : NULL;
}

/* Copy the interest set (dropping entries older than the TTL, but only
 * while the group is healthy: an outage must not forget what streams
 * watch). Sorted by (ns, model). */
static enum err_code take_wants(struct group *g, int64_t now, int64_t ttl, struct wants *out)
{
    size_t i, k = 0;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&g->mu);
    if (g->healthy) {
        for (i = 0; i < g->n_buckets; i++) {
            struct interest **pp = &g->buckets[i];
            while (*pp) {
                struct interest *e = *pp;
                if (e->watchers == 0 && now - e->last_ms > ttl) {
                    *pp = e->next;
                    free(e->ns);
                    free(e->model);
                    free(e);
                    g->count--;
                } else {
                    pp = &e->next;
                }
            }
        }
    }
    if (g->count) {
        out->v = calloc(g->count, sizeof(*out->v));
        out->strings = calloc(2 * g->count, sizeof(char *));
        if (!out->v || !out->strings) {
            pthread_mutex_unlock(&g->mu);
            wants_free(out);
            return ERR_NOMEM;
        }
    }
    for (i = 0; i < g->n_buckets; i++) {
        struct interest *e;
        for (e = g->buckets[i]; e; e = e->next) {
            struct want *w = &out->v[k];
            char *ns = strdup(e->ns), *model = strdup(e->model);
            if (ns)
                out->strings[out->n_strings++] = ns;
            if (model)
                out->strings[out->n_strings++] = model;
            if (!ns || !model) {
                pthread_mutex_unlock(&g->mu);
                wants_free(out);
                return ERR_NOMEM;
            }
            w->ns = ns;
            w->model = model;
            memcpy(w->stz, e->stz, sizeof(w->stz));
            w->n_stz = e->n_stz;
            k++;
        }
    }
    out->n = k;
    pthread_mutex_unlock(&g->mu);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), want_cmp);
    return ERR_OK;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct req {
    struct endpoint *ep;
    CURL *easy;
    char *query; /* for messages: which kind */
    const char *what;
    char *body;
    size_t body_len;
    char *resp;
    size_t resp_len, resp_cap, limit;
    bool too_big;
    struct curl_slist *headers;
    char *auth_header; /* holds a secret: wiped before free */
    char errbuf[CURL_ERROR_SIZE];
    CURLcode cc;
    long status;
    double seconds;
    bool done;
    struct promresp *result;
    char why[PROMRESP_WHY_LEN + 128];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct req *r = arg;
    size_t len = size * n;

    if (r->resp_len + len > r->limit) {
        r->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (r->resp_len + len + 1 > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 16384;
        char *nb;
        while (cap < r->resp_len + len + 1)
            cap *= 2;
        nb = realloc(r->resp, cap);
        if (!nb)
            return 0;
        r->resp = nb;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, data, len);
    r->resp_len += len;
    return len;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *v = s;
        while (*v)
            *v++ = 0;
        free(s);
    }
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers); /* the auth header copy inside is freed here */
    wipe_free(r->auth_header);
    free(r->body);
    free(r->resp);
    free(r->query);
    promresp_free(r->result);
    free(r);
}

/* Re-read a secret file when it changed on disk; keeps the old value when
 * it cannot be read (and says so once). Returns the value or NULL. */
static const char *secret(struct endpoint *ep, struct secret_file *f, const char *what)
{
    struct stat st;
    FILE *fp;
    char buf[8192];
    size_t n;

    if (!f->path)
        return NULL;
    if (stat(f->path, &st) != 0) {
        if (!f->value)
            log_write(LOG_WARN, "prometheus", "endpoint \"%s\": %s %s: %s", ep->name, what,
                      f->path, strerror(errno));
        return f->value;
    }
    if (f->value && st.st_mtim.tv_sec == f->mtime.tv_sec &&
        st.st_mtim.tv_nsec == f->mtime.tv_nsec && st.st_size == f->size && st.st_ino == f->ino)
        return f->value;
    fp = fopen(f->path, "r");
    if (!fp)
        return f->value;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0'; /* files made with echo end with a newline */
    wipe_free(f->value);
    f->value = strdup(buf);
    memset(buf, 0, sizeof(buf));
    f->mtime = st.st_mtim;
    f->size = st.st_size;
    f->ino = st.st_ino;
    LOG_AT(LOG_INFO, "prometheus", "endpoint \"%s\": %s %s (re)loaded", ep->name, what, f->path);
    return f->value;
}

/* Point a secret at path (a copy); a new path drops the cached value. */
static void secret_set_path(struct secret_file *f, const char *path)
{
    if ((!f->path && !path) || (f->path && path && strcmp(f->path, path) == 0))
        return;
    free(f->path);
    f->path = path ? strdup(path) : NULL;
    wipe_free(f->value);
    f->value = NULL;
    memset(&f->mtime, 0, sizeof(f->mtime));
}

static struct req *req_new(struct endpoint *ep, const char *what, char *query)
{
    const struct config_endpoint *c = ep->cfg;
    struct req *r = calloc(1, sizeof(*r));
    char url[CONFIG_URL_MAX + 32];
    const char *token, *password;
    size_t i, n = strlen(ep->url);
    char why[256];

    if (!r) {
        free(query);
        return NULL;
    }
    r->ep = ep;
    r->what = what;
    r->query = query;
    /* Queries carry no credentials: safe to show. */
    LOG_AT(LOG_DEBUG, "prometheus", "endpoint \"%s\" %s query: %s", ep->name, what, query);
    r->limit = ep->p->opt.max_response_bytes;
    if (promql_form_body(query, c ? (const char *const *)c->query_param_names : NULL,
                         c ? (const char *const *)c->query_param_values : NULL,
                         c ? c->n_query_params : 0, &r->body, &r->body_len, why,
                         sizeof(why)) != ERR_OK)
        goto fail;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto fail;
    snprintf(url, sizeof(url), "%.*s/api/v1/query", (int)(n && ep->url[n - 1] == '/' ? n - 1 : n),
             ep->url);
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)ep->timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)ep->timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "saturation-scaler/" SAT_VERSION);
    r->headers = curl_slist_append(NULL, "Accept: application/json");
    if (c) {
        for (i = 0; i < c->n_headers; i++) {
            char h[CONFIG_HEADER_VALUE_MAX + 256];
            snprintf(h, sizeof(h), "%s: %s", c->header_names[i], c->header_values[i]);
            r->headers = curl_slist_append(r->headers, h);
        }
        if (c->ca_file)
            curl_easy_setopt(r->easy, CURLOPT_CAINFO, c->ca_file);
        if (c->cert_file) {
            curl_easy_setopt(r->easy, CURLOPT_SSLCERT, c->cert_file);
            curl_easy_setopt(r->easy, CURLOPT_SSLKEY, c->key_file);
        }
        if (c->insecure_skip_verify) {
            curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        token = secret(ep, &ep->token, "bearerTokenFile");
        if (token) {
            size_t tl = strlen(token) + 32;
            r->auth_header = malloc(tl);
            if (!r->auth_header)
                goto fail;
            snprintf(r->auth_header, tl, "Authorization: Bearer %s", token);
            r->headers = curl_slist_append(r->headers, r->auth_header);
        }
        if (c->basic_username) {
            password = secret(ep, &ep->password, "basicAuth.passwordFile");
            curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(r->easy, CURLOPT_USERNAME, c->basic_username);
            curl_easy_setopt(r->easy, CURLOPT_PASSWORD, password ? password : "");
        }
    }
    if (!r->headers)
        goto fail;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    return r;
fail:
    req_free(r);
    return NULL;
}

/* Run every request of reqs[0..n) concurrently; returns when all are done
 * or the endpoint is stopping. Never called under a lock. */
static void run_requests(struct endpoint *ep, struct req **reqs, size_t n)
{
    int running = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (reqs[i])
            curl_multi_add_handle(ep->multi, reqs[i]->easy);
    do {
        CURLMsg *msg;
        int left;
        bool stop;

        curl_multi_perform(ep->multi, &running);
        while ((msg = curl_multi_info_read(ep->multi, &left)) != NULL) {
            struct req *r = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            if (r) {
                r->cc = msg->data.result;
                r->done = true;
                curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
            }
        }
        pthread_mutex_lock(&ep->mu);
        stop = ep->stop;
        pthread_mutex_unlock(&ep->mu);
        if (stop)
            break;
        if (running)
            curl_multi_poll(ep->multi, NULL, 0, 200, NULL);
    } while (running);
    for (i = 0; i < n; i++)
        if (reqs[i])
            curl_multi_remove_handle(ep->multi, reqs[i]->easy);
}

/* Parse a finished request into r->result, or say why it failed. */
static bool req_result(struct req *r)
{
    struct prom *p = r->ep->p;
    char why[PROMRESP_WHY_LEN];

    atomic_fetch_add(&p->queries, 1);
    atomic_fetch_add(&p->response_bytes, r->resp_len);
    {
        double secs = 0.0;
        if (r->done)
            curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &secs);
        r->seconds = secs;
    }
    if (!r->done) {
        snprintf(r->why, sizeof(r->why), "%s query: shutting down", r->what);
    } else if (r->too_big) {
        snprintf(r->why, sizeof(r->why), "%s query: response larger than %zu bytes", r->what,
                 r->limit);
    } else if (r->cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(r->why, sizeof(r->why), "%s query: timeout after %lldms", r->what,
                 (long long)r->ep->timeout_ms);
    } else if (r->cc != CURLE_OK) {
        snprintf(r->why, sizeof(r->why), "%s query: %s%s%s", r->what, curl_easy_strerror(r->cc),
                 r->errbuf[0] ? ": " : "", r->errbuf);
    } else if (promresp_parse((int)r->status, r->resp, r->resp_len, r->limit, &r->result, why,
                              sizeof(why)) != ERR_OK) {
        snprintf(r->why, sizeof(r->why), "%s query: %s", r->what, why);
    } else {
        metrics_prom_query(r->ep->name, METRICS_OUTCOME_OK, r->seconds, r->resp_len);
        return true;
    }
    metrics_prom_query(r->ep->name,
                       r->cc == CURLE_OPERATION_TIMEDOUT ? METRICS_OUTCOME_TIMEOUT
                                                         : METRICS_OUTCOME_ERROR,
                       r->seconds, r->resp_len);
    atomic_fetch_add(&p->query_errors, 1);
    return false;
}

/* ---- one refresh of one group ------------------------------------------- */

/* The per-instance rows of the kv and queue answers, joined by
 * (namespace, model, pod, instance), for models of interest only
 * (promjoin.h); marks the wants that got rows. */
static enum err_code join_rows(struct wants *w, const struct promresp *kv,
                               const struct promresp *queue, struct promjoin_row **out,
                               size_t *n_out)
{
    const char **ns = calloc(w->n ? w->n : 1, sizeof(char *));
    const char **models = calloc(w->n ? w->n : 1, sizeof(char *));
    bool *has_rows = calloc(w->n ? w->n : 1, sizeof(bool));
    enum err_code rc = ERR_NOMEM;
    size_t i;

    *out = NULL;
    *n_out = 0;
    if (ns && models && has_rows) {
        for (i = 0; i < w->n; i++) {
            ns[i] = w->v[i].ns;
            models[i] = w->v[i].model;
        }
        /* w->v is sorted by (ns, model) and unique: take_wants */
        rc = promjoin_rows(ns, models, w->n, kv, queue, has_rows, out, n_out);
        for (i = 0; rc == ERR_OK && i < w->n; i++)
            w->v[i].has_rows |= has_rows[i];
    }
    free(ns);
    free(models);
    free(has_rows);
    return rc;
}

/* Scope over the wants selected by pick (NULL = all). */
static enum err_code scope_of(struct wants *w, bool (*pick)(const struct want *),
                              struct promql_scope **out, char *why, size_t why_len)
{
    const char **ns = calloc(w->n ? w->n : 1, sizeof(char *));
    const char **models = calloc(w->n ? w->n : 1, sizeof(char *));
    size_t i, n = 0;
    enum err_code rc;

    *out = NULL;
    if (!ns || !models) {
        free(ns);
        free(models);
        return ERR_NOMEM;
    }
    for (i = 0; i < w->n; i++)
        if (!pick || pick(&w->v[i])) {
            ns[n] = w->v[i].ns;
            models[n] = w->v[i].model;
            n++;
        }
    rc = n ? promql_scope_new(ns, n, models, n, out, why, why_len) : ERR_OK;
    free(ns);
    free(models);
    return rc;
}

static bool pick_no_rows(const struct want *w)
{
    return !w->has_rows;
}

static void group_failed(struct group *g, const char *cause)
{
    struct prom *p = g->ep->p;
    char why[900];
    int64_t now = source_now_ms();

    snprintf(why, sizeof(why), "prometheus \"%s\": %s", g->ep->name, cause);
    pthread_mutex_lock(&g->mu);
    g->healthy = false;
    pthread_mutex_unlock(&g->mu);
    if (!g->logged_failure)
        log_write(LOG_WARN, "prometheus", "%s", why);
    g->logged_failure = true;
    if (p->opt.max_staleness_ms > 0 && g->last_success_ms > 0 &&
        now - g->last_success_ms <= p->opt.max_staleness_ms)
        return; /* the last good snapshot keeps serving */
    source_fail(g->src, why);
}

/*
 * Fetch and publish one group. Queries: kv + queue for every model of
 * interest; the idle query per distinct retention; then, for models with
 * no pods reporting, flow control (or the configured activation query per
 * model). All of a phase run concurrently.
 */
static void fetch_group(struct group *g, struct wants *w)
{
    struct endpoint *ep = g->ep;
    struct promql_scope *scope = NULL, *zero = NULL;
    struct req *reqs[2 + MAX_RETENTIONS];
    int64_t retentions[MAX_RETENTIONS];
    size_t n_ret = 0, n_reqs = 0, i, j, n_rows = 0;
    struct req **act = NULL;
    size_t n_act = 0;
    struct promjoin_row *rows = NULL;
    struct table_builder *b = NULL;
    struct table *t = NULL;
    char why[512], cause[PROMRESP_WHY_LEN + 160];
    char *q;

    memset(reqs, 0, sizeof(reqs));
    cause[0] = '\0';
    why[0] = '\0';
    if (scope_of(w, NULL, &scope, why, sizeof(why)) != ERR_OK || !scope) {
        snprintf(cause, sizeof(cause), "building the query: %s", why);
        goto fail;
    }
    for (i = 0; i < w->n; i++)
        for (j = 0; j < w->v[i].n_stz; j++) {
            size_t k;
            for (k = 0; k < n_ret && retentions[k] != w->v[i].stz[j]; k++)
                ;
            if (k == n_ret && n_ret < MAX_RETENTIONS)
                retentions[n_ret++] = w->v[i].stz[j];
        }

    /* phase 1: saturation (and idle) */
    if (promql_saturation_query(scope, g->engine, PROMQL_KV_CACHE, g->window_ms, &q, why,
                                sizeof(why)) != ERR_OK ||
        !(reqs[n_reqs++] = req_new(ep, "kv-cache", q)))
        goto nomem_or_query;
    if (promql_saturation_query(scope, g->engine, PROMQL_QUEUE, g->window_ms, &q, why,
                                sizeof(why)) != ERR_OK ||
        !(reqs[n_reqs++] = req_new(ep, "queue", q)))
        goto nomem_or_query;
    for (i = 0; i < n_ret; i++)
        if (promql_idle_query(scope, g->engine, retentions[i], &q, why, sizeof(why)) != ERR_OK ||
            !(reqs[n_reqs++] = req_new(ep, "idle", q)))
            goto nomem_or_query;
    run_requests(ep, reqs, n_reqs);
    for (i = 0; i < n_reqs; i++)
        if (!req_result(reqs[i])) {
            snprintf(cause, sizeof(cause), "%s", reqs[i]->why);
            goto fail;
        }
    {
        enum err_code rc = join_rows(w, reqs[0]->result, reqs[1]->result, &rows, &n_rows);
        if (rc != ERR_OK) {
            snprintf(cause, sizeof(cause), "joining the answers: %s", err_str(rc));
            goto fail;
        }
    }

    /* phase 2: demand at zero replicas, only for models with no pods */
    if (scope_of(w, pick_no_rows, &zero, why, sizeof(why)) != ERR_OK) {
        snprintf(cause, sizeof(cause), "building the query: %s", why);
        goto fail;
    }
    if (zero) {
        const char *tmpl = ep->activation_query;
        if (!tmpl) {
            act = calloc(1, sizeof(*act));
            if (!act || promql_flow_control_query(zero, &q, why, sizeof(why)) != ERR_OK ||
                !(act[n_act++] = req_new(ep, "flow-control", q)))
                goto nomem_or_query;
        } else {
            act = calloc(w->n, sizeof(*act));
            if (!act)
                goto nomem_or_query;
            for (i = 0; i < w->n; i++) {
                if (w->v[i].has_rows)
                    continue;
                if (promql_activation_query(tmpl, w->v[i].ns, w->v[i].model, &q, why,
                                            sizeof(why)) != ERR_OK ||
                    !(act[n_act++] = req_new(ep, "activation", q)))
                    goto nomem_or_query;
            }
        }
        run_requests(ep, act, n_act);
        for (i = 0; i < n_act; i++)
            if (!req_result(act[i])) {
                snprintf(cause, sizeof(cause), "%s", act[i]->why);
                goto fail;
            }
    }

    /* the snapshot */
    b = table_builder_new();
    if (!b)
        goto nomem;
    for (i = 0; i < n_rows; i++) {
        char inst[2 * TABLE_MAX_NAME + 2];
        const struct promjoin_row *r = &rows[i];
        /* One pod may serve several engines (instances): key by both. */
        if (r->instance[0])
            snprintf(inst, sizeof(inst), "%s@%s", r->pod, r->instance);
        else
            snprintf(inst, sizeof(inst), "%s", r->pod);
        if (table_builder_add_pod(b, r->ns, r->model, r->pod, inst, r->variant, r->kv, r->queue,
                                  why, sizeof(why)) != ERR_OK)
            LOG_AT(LOG_DEBUG, "prometheus", "row skipped: %s", why);
    }
    /* Coverage: every model of interest has an entry (flow 0 = none known). */
    for (i = 0; i < w->n; i++)
        if (table_builder_add_flow_control(b, w->v[i].ns, w->v[i].model, 0, why, sizeof(why)))
            goto nomem;
    if (zero && !ep->activation_query) {
        const struct promresp *fr = act[0]->result;
        for (i = 0; i < fr->count; i++) {
            const struct promresp_sample *s = &fr->samples[i];
            if (!s->namespace_ || !s->target_model_name ||
                !want_find(w, s->namespace_, s->target_model_name))
                continue;
            if (table_builder_add_flow_control(b, s->namespace_, s->target_model_name,
                                               s->finite ? s->value : 0.0, why, sizeof(why)))
                goto nomem;
        }
    } else if (zero) {
        size_t a = 0;
        for (i = 0; i < w->n; i++) {
            const struct promresp *ar;
            double v = 0.0;
            if (w->v[i].has_rows)
                continue;
            ar = act[a++]->result;
            for (j = 0; j < ar->count; j++)
                if (ar->samples[j].finite)
                    v += ar->samples[j].value;
            if (table_builder_add_flow_control(b, w->v[i].ns, w->v[i].model, v, why, sizeof(why)))
                goto nomem;
        }
    }
    /* Idle: a model of interest with no success series served nothing. */
    for (i = 0; i < n_ret; i++) {
        const struct promresp *ir = reqs[2 + i]->result;
        for (j = 0; j < w->n; j++) {
            size_t k;
            bool wants_it = false;
            for (k = 0; k < w->v[j].n_stz; k++)
                wants_it |= w->v[j].stz[k] == retentions[i];
            if (wants_it &&
                table_builder_add_success(b, w->v[j].ns, w->v[j].model, retentions[i], 0, why,
                                          sizeof(why)))
                goto nomem;
        }
        for (j = 0; j < ir->count; j++) {
            const struct promresp_sample *s = &ir->samples[j];
            if (!s->namespace_ || !s->model_name || !want_find(w, s->namespace_, s->model_name))
                continue;
            if (table_builder_add_success(b, s->namespace_, s->model_name, retentions[i],
                                          s->finite ? s->value : 0.0, why, sizeof(why)))
                goto nomem;
        }
    }
    if (table_builder_finish(b, &t, why, sizeof(why)) != ERR_OK) {
        snprintf(cause, sizeof(cause), "building the snapshot: %s", why);
        goto fail;
    }
    pthread_mutex_lock(&g->mu);
    g->healthy = true;
    pthread_mutex_unlock(&g->mu);
    if (g->logged_failure)
        log_write(LOG_INFO, "prometheus", "prometheus \"%s\": recovered", ep->name);
    g->logged_failure = false;
    pthread_mutex_lock(&g->mu);
    g->last_success_ms = source_now_ms();
    pthread_mutex_unlock(&g->mu);
    source_publish(g->src, t);
    table_unref(t);
    goto done;

nomem_or_query:
    if (why[0]) {
        snprintf(cause, sizeof(cause), "building the query: %s", why);
        goto fail;
    }
nomem:
    snprintf(cause, sizeof(cause), "out of memory");
fail:
    group_failed(g, cause);
done:
    for (i = 0; i < n_reqs; i++)
        req_free(reqs[i]);
    for (i = 0; i < n_act; i++)
        req_free(act[i]);
    free(act);
    free(rows);
    table_builder_free(b);
    promql_scope_free(scope);
    promql_scope_free(zero);
}

static void *fetcher_main(void *arg)
{
    struct endpoint *ep = arg;
    struct prom *p = ep->p;
    int64_t next_due = 0;

    for (;;) {
        struct group *g, *head;
        struct cfgver *ver = NULL;
        const struct config *cfg;
        bool any = false;

        pthread_mutex_lock(&ep->mu);
        while (!ep->stop && !ep->wake) {
            int64_t now = source_now_ms();
            struct timespec ts;
            int64_t wait_ms;
            if (now >= next_due && ep->groups)
                break;
            wait_ms = ep->groups ? next_due - now : 1000;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&ep->cv, &ep->mu, &ts);
        }
        if (ep->stop) {
            pthread_mutex_unlock(&ep->mu);
            break;
        }
        ep->wake = false;
        head = ep->groups;
        pthread_mutex_unlock(&ep->mu);

        next_due = source_now_ms() + p->opt.refresh_ms;
        /* This round's settings: the config version current now. */
        cfg = cfgstore_acquire(p->opt.configs, &ver);
        ep->activation_query = cfg->activation_query;
        if (ep->from_config) {
            ep->cfg = config_endpoint(cfg, ep->name);
            if (!ep->cfg) { /* removed by a reload: nothing to fetch */
                cfgstore_release(ver);
                continue;
            }
            pthread_mutex_lock(&ep->mu);
            ep->timeout_ms = ep->cfg->timeout_ms;
            pthread_mutex_unlock(&ep->mu);
            secret_set_path(&ep->token, ep->cfg->bearer_token_file);
            secret_set_path(&ep->password, ep->cfg->basic_password_file);
        }
        for (g = head; g; g = g->next) { /* groups are only prepended: head..end is stable */
            struct wants w;
            if (take_wants(g, source_now_ms(), p->opt.interest_ttl_ms, &w) != ERR_OK)
                continue;
            if (w.n) {
                any = true;
                fetch_group(g, &w);
            }
            wants_free(&w);
        }
        if (any)
            atomic_fetch_add(&p->fetches, 1);
        ep->cfg = NULL;
        ep->activation_query = NULL;
        cfgstore_release(ver);
    }
    return NULL;
}

/* ---- endpoints and groups ----------------------------------------------- */

static void endpoint_free(struct endpoint *ep)
{
    struct group *g;

    if (!ep)
        return;
    if (ep->thread_started) {
        pthread_mutex_lock(&ep->mu);
        ep->stop = true;
        pthread_cond_signal(&ep->cv);
        pthread_mutex_unlock(&ep->mu);
        if (ep->multi)
            curl_multi_wakeup(ep->multi);
        pthread_join(ep->thread, NULL);
    }
    g = ep->groups;
    while (g) {
        struct group *next = g->next;
        size_t i;
        source_free(g->src);
        for (i = 0; i < g->n_buckets; i++) {
            struct interest *e = g->buckets[i];
            while (e) {
                struct interest *en = e->next;
                free(e->ns);
                free(e->model);
                free(e);
                e = en;
            }
        }
        free(g->buckets);
        pthread_mutex_destroy(&g->mu);
        free(g);
        g = next;
    }
    if (ep->multi)
        curl_multi_cleanup(ep->multi);
    wipe_free(ep->token.value);
    wipe_free(ep->password.value);
    free(ep->token.path);
    free(ep->password.path);
    pthread_mutex_destroy(&ep->mu);
    pthread_cond_destroy(&ep->cv);
    free(ep->name);
    free(ep->url);
    free(ep);
}

static struct endpoint *endpoint_new(struct prom *p, const char *name, const char *url,
                                     const struct config_endpoint *cfg)
{
    struct endpoint *ep = calloc(1, sizeof(*ep));

    if (!ep)
        return NULL;
    ep->p = p;
    ep->from_config = cfg != NULL;
    ep->name = strdup(name);
    ep->url = strdup(url);
    ep->timeout_ms = cfg ? cfg->timeout_ms : CONFIG_DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&ep->mu, NULL);
    pthread_cond_init(&ep->cv, NULL);
    ep->multi = curl_multi_init();
    if (!ep->name || !ep->url || !ep->multi) {
        endpoint_free(ep);
        return NULL;
    }
    /* Keep connections to Prometheus alive between refreshes. */
    curl_multi_setopt(ep->multi, CURLMOPT_MAXCONNECTS, 16L);
    /* Per-model activation queries can be many: queue them, a few at a time. */
    curl_multi_setopt(ep->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    if (pthread_create(&ep->thread, NULL, fetcher_main, ep) != 0) {
        endpoint_free(ep);
        return NULL;
    }
    ep->thread_started = true;
    return ep;
}

/* Collector: the age of each endpoint's newest snapshot (the oldest among
 * its groups), at scrape time. */
static void collect_ages(void *arg)
{
    struct prom *p = arg;
    struct endpoint *ep;
    int64_t now = source_now_ms();

    pthread_mutex_lock(&p->mu);
    for (ep = p->endpoints; ep; ep = ep->next) {
        struct group *g;
        int64_t oldest = -1;
        pthread_mutex_lock(&ep->mu);
        for (g = ep->groups; g; g = g->next) {
            int64_t at;
            pthread_mutex_lock(&g->mu);
            at = g->last_success_ms;
            pthread_mutex_unlock(&g->mu);
            if (at > 0 && (oldest < 0 || at < oldest))
                oldest = at;
        }
        pthread_mutex_unlock(&ep->mu);
        if (oldest > 0)
            metrics_snapshot_age_set(ep->name, (double)(now - oldest) / 1000.0);
    }
    pthread_mutex_unlock(&p->mu);
}

enum err_code prom_start(const struct prom_options *opt, struct prom **out, char *why,
                         size_t why_len)
{
    struct prom *p;
    size_t i;

    *out = NULL;
    if (!opt->configs || opt->refresh_ms <= 0 || opt->interest_ttl_ms <= 0) {
        snprintf(why, why_len, "prom_start: bad options");
        return ERR_INVALID;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return ERR_NOMEM;
    p->opt = *opt;
    if (!p->opt.max_response_bytes)
        p->opt.max_response_bytes = PROMRESP_DEFAULT_MAX_BODY;
    pthread_mutex_init(&p->mu, NULL);
    {
        struct cfgver *ver;
        const struct config *cfg = cfgstore_acquire(opt->configs, &ver);
        for (i = 0; i < cfg->n_endpoints; i++) {
            const struct config_endpoint *c = &cfg->endpoints[i];
            struct endpoint *ep = endpoint_new(p, c->name, c->url, c);
            if (!ep) {
                snprintf(why, why_len, "prometheus \"%s\": could not start its fetcher",
                         c->name);
                cfgstore_release(ver);
                prom_stop(p);
                return ERR_NOMEM;
            }
            ep->next = p->endpoints;
            p->endpoints = ep;
        }
        cfgstore_release(ver);
    }
    if (metrics_add_collector(collect_ages, p) != ERR_OK)
        log_write(LOG_WARN, "prometheus", "snapshot-age gauge unavailable (too many collectors)");
    *out = p;
    return ERR_OK;
}

void prom_reload(struct prom *p)
{
    struct cfgver *ver;
    const struct config *cfg;
    struct endpoint *ep;
    size_t i;

    if (!p)
        return;
    cfg = cfgstore_acquire(p->opt.configs, &ver);
    pthread_mutex_lock(&p->mu);
    for (ep = p->endpoints; ep; ep = ep->next) {
        const struct config_endpoint *c;
        if (!ep->from_config)
            continue;
        c = config_endpoint(cfg, ep->name);
        ep->removed = c == NULL;
        if (c && strcmp(c->url, ep->url) != 0)
            log_write(LOG_WARN, "prometheus",
                      "endpoint \"%s\": a changed url applies after a restart; other settings "
                      "apply now",
                      ep->name);
    }
    for (i = 0; i < cfg->n_endpoints; i++) {
        const struct config_endpoint *c = &cfg->endpoints[i];
        for (ep = p->endpoints; ep; ep = ep->next)
            if (ep->from_config && strcmp(ep->name, c->name) == 0)
                break;
        if (ep)
            continue;
        ep = endpoint_new(p, c->name, c->url, c);
        if (!ep) {
            log_write(LOG_ERROR, "prometheus", "endpoint \"%s\": could not start its fetcher",
                      c->name);
            continue;
        }
        ep->next = p->endpoints;
        p->endpoints = ep;
        log_write(LOG_INFO, "prometheus", "endpoint \"%s\" added", c->name);
    }
    pthread_mutex_unlock(&p->mu);
    cfgstore_release(ver);
}

void prom_stop(struct prom *p)
{
    struct endpoint *ep;

    if (!p)
        return;
    metrics_remove_collector(collect_ages, p);
    ep = p->endpoints;
    while (ep) {
        struct endpoint *next = ep->next;
        endpoint_free(ep);
        ep = next;
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

struct source *prom_route(void *arg, const struct meta_request *req, char *why, size_t why_len)
{
    struct prom *p = arg;
    const char *name = req->prometheus ? req->prometheus : CONFIG_DEFAULT_ENDPOINT;
    struct endpoint *ep;
    struct group *g;
    struct source *src = NULL;

    pthread_mutex_lock(&p->mu);
    for (ep = p->endpoints; ep; ep = ep->next)
        if (!ep->removed && strcmp(ep->name, name) == 0)
            break;
    if (!ep && is_url(name)) {
        if (!p->opt.allow_metadata_url) {
            snprintf(why, why_len,
                     "prometheus: a URL in trigger metadata is refused (the operator did not "
                     "pass --allow-metadata-prometheus-url); name a configured endpoint");
        } else if (p->metadata_endpoints >= PROM_MAX_METADATA_ENDPOINTS) {
            snprintf(why, why_len, "prometheus: too many endpoints from metadata URLs (max %d)",
                     PROM_MAX_METADATA_ENDPOINTS);
        } else if ((ep = endpoint_new(p, name, name, NULL)) != NULL) {
            ep->next = p->endpoints;
            p->endpoints = ep;
            p->metadata_endpoints++;
        }
    } else if (!ep) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), name);
        snprintf(why, why_len, "prometheus: %s is not a configured endpoint%s", q,
                 p->endpoints ? "" : " (no Prometheus endpoint is configured)");
    }
    if (!ep) {
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    pthread_mutex_lock(&ep->mu);
    for (g = ep->groups; g; g = g->next)
        if (g->engine == req->resolved.engine && g->window_ms == req->resolved.metrics_window_ms)
            break;
    if (!g) {
        char sname[200];
        g = calloc(1, sizeof(*g));
        snprintf(sname, sizeof(sname), "prometheus \"%.64s\"", ep->name);
        if (g && (g->src = source_new(sname, ep->timeout_ms)) != NULL) {
            g->ep = ep;
            g->engine = req->resolved.engine;
            g->window_ms = req->resolved.metrics_window_ms;
            g->healthy = true;
            pthread_mutex_init(&g->mu, NULL);
            source_set_interest(g->src, group_interest, g);
            if (p->sub_fn)
                source_subscribe(g->src, p->sub_fn, p->sub_arg);
            g->next = ep->groups;
            ep->groups = g;
        } else {
            free(g);
            g = NULL;
            snprintf(why, why_len, "out of memory");
        }
    }
    if (g)
        src = g->src;
    pthread_mutex_unlock(&ep->mu);
    pthread_mutex_unlock(&p->mu);
    return src;
}

void prom_subscribe(void *arg, source_subscriber_fn *fn, void *fn_arg)
{
    struct prom *p = arg;
    struct endpoint *ep;
    struct group *g;

    pthread_mutex_lock(&p->mu);
    p->sub_fn = fn;
    p->sub_arg = fn_arg;
    for (ep = p->endpoints; ep; ep = ep->next) {
        pthread_mutex_lock(&ep->mu);
        for (g = ep->groups; g; g = g->next)
            source_subscribe(g->src, fn, fn_arg);
        pthread_mutex_unlock(&ep->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void prom_expire(void *arg, int64_t now_ms)
{
    struct prom *p = arg;
    struct endpoint *ep;
    struct group *g;

    /* Lists only grow and nothing is freed before prom_stop: walk them
     * after taking the heads under the locks. */
    pthread_mutex_lock(&p->mu);
    ep = p->endpoints;
    pthread_mutex_unlock(&p->mu);
    for (; ep; ep = ep->next) {
        pthread_mutex_lock(&ep->mu);
        g = ep->groups;
        pthread_mutex_unlock(&ep->mu);
        for (; g; g = g->next)
            source_expire(g->src, now_ms);
    }
}

void prom_get_stats(struct prom *p, struct prom_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    out->fetches = atomic_load(&p->fetches);
    out->queries = atomic_load(&p->queries);
    out->query_errors = atomic_load(&p->query_errors);
    out->response_bytes = atomic_load(&p->response_bytes);
}
