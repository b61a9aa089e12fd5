/*
 * kube: cached asynchronous Kubernetes API reads. See include/kube.h.
 *
 * One mutex guards the cache (a hash of entries by path) and the queue of
 * paths to read; the reader thread owns the curl multi handle. Waiter
 * callbacks run after the lock is released.
 */
#include "kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kubeobj.h"
#include "log.h"
#include "metrics.h"
#include "source.h"

#define KUBE_MAX_BODY ((size_t)16 << 20)
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_ref {
    atomic_int refs;
    const struct kube_type *type;
    void *obj;
};

enum entry_state { E_EMPTY = 0, E_OK, E_NOT_FOUND, E_FAILED, E_INVALID };

struct entry {
    char *path;
    const struct kube_type *type;
    enum entry_state state;
    struct kube_ref *ref; /* E_OK */
    char why[512];        /* E_NOT_FOUND / E_FAILED */
    int64_t fetched_ms, used_ms;
    bool queued, in_flight;
    struct kube_waiter waiters; /* circular list head */
    struct entry *next;         /* hash chain */
    struct entry *qnext;        /* fetch queue */
};

struct fetch {
    struct fetch *next, *prev; /* in flight (reader thread only) */
    struct entry *e;
    CURL *easy;
    struct curl_slist *headers;
    char *auth;
    char *body;
    size_t len, cap;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
};

struct kube {
    struct kube_options o;
    char *api_url, *token_file, *ca_file;
    pthread_mutex_t mu;
    struct entry **buckets;
    size_t n_buckets, count;
    struct entry *queue_head, *queue_tail;
    bool stop;
    pthread_t thread;
    bool started;
    CURLM *multi;
    struct fetch inflight; /* circular list head (reader thread only) */
    /* token cache (reader thread only) */
    char *token;
    struct timespec token_mtime;
    off_t token_size;
    ino_t token_ino;
    atomic_uint_fast64_t reads, read_errors;
};

/* ---- options ------------------------------------------------------------- */

enum err_code kube_options_in_cluster(struct kube_options *o, char *why, size_t why_len)
{
    static char url[300];
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");

    if (!host || !*host) {
        snprintf(why, why_len,
                 "--kube: not in a cluster (KUBERNETES_SERVICE_HOST is not set); give "
                 "--kube-api-url, --kube-token-file and --kube-ca-file");
        return ERR_INVALID;
    }
    if (strchr(host, ':'))
        snprintf(url, sizeof(url), "https://[%s]:%s", host, port && *port ? port : "443");
    else
        snprintf(url, sizeof(url), "https://%s:%s", host, port && *port ? port : "443");
    o->api_url = url;
    o->token_file = SA_DIR "/token";
    o->ca_file = SA_DIR "/ca.crt";
    return ERR_OK;
}

/* ---- refs ---------------------------------------------------------------- */

const void *kube_ref_obj(const struct kube_ref *r)
{
    return r ? r->obj : NULL;
}

static struct kube_ref *ref_take(struct kube_ref *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void kube_ref_release(struct kube_ref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
        r->type->free(r->obj);
        free(r);
    }
}

/* ---- cache --------------------------------------------------------------- */

static uint64_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Under k->mu. */
static struct entry *find_entry(struct kube *k, const char *path)
{
    struct entry *e;
    if (!k->n_buckets)
        return NULL;
    for (e = k->buckets[hash_path(path) & (k->n_buckets - 1)]; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            return e;
    return NULL;
}

/* Under k->mu. */
static struct entry *add_entry(struct kube *k, const char *path, const struct kube_type *type)
{
    struct entry *e;
    size_t j;

    if (k->count + 1 > k->n_buckets) {
        size_t n = k->n_buckets ? k->n_buckets * 2 : 256, i;
        struct entry **nb = calloc(n, sizeof(*nb));
        if (!nb)
            return NULL;
        for (i = 0; i < k->n_buckets; i++) {
            while (k->buckets[i]) {
                struct entry *x = k->buckets[i];
                k->buckets[i] = x->next;
                x->next = nb[hash_path(x->path) & (n - 1)];
                nb[hash_path(x->path) & (n - 1)] = x;
            }
        }
        free(k->buckets);
        k->buckets = nb;
        k->n_buckets = n;
    }
    e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return NULL;
    }
    e->type = type;
    e->waiters.next = e->waiters.prev = &e->waiters;
    j = hash_path(path) & (k->n_buckets - 1);
    e->next = k->buckets[j];
    k->buckets[j] = e;
    k->count++;
    return e;
}

/* Under k->mu: queue e for a read and wake the reader. */
static void enqueue(struct kube *k, struct entry *e)
{
    if (e->queued || e->in_flight)
        return;
    e->queued = true;
    e->qnext = NULL;
    if (k->queue_tail)
        k->queue_tail->qnext = e;
    else
        k->queue_head = e;
    k->queue_tail = e;
    if (k->multi)
        curl_multi_wakeup(k->multi);
}

static void unlink_waiter(struct kube_waiter *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->parked = false;
}

/* Under k->mu: move the waiters of e (or only expired ones) to a chain. */
static struct kube_waiter *take_waiters(struct entry *e, bool expired_only, int64_t now)
{
    struct kube_waiter *chain = NULL, *w = e->waiters.next;
    while (w != &e->waiters) {
        struct kube_waiter *next = w->next;
        if (!expired_only || w->deadline_ms <= now) {
            unlink_waiter(w);
            w->next = chain;
            chain = w;
        }
        w = next;
    }
    return chain;
}

static void run_waiters(struct kube_waiter *chain, enum err_code rc)
{
    while (chain) {
        struct kube_waiter *next = chain->next;
        chain->next = NULL;
        chain->fn(chain, rc);
        chain = next;
    }
}

enum err_code kube_get(struct kube *k, const struct kube_type *type, const char *path,
                       struct kube_ref **out, struct kube_waiter *w, int64_t deadline_ms,
                       char *why, size_t why_len)
{
    struct entry *e;
    enum err_code rc;
    int64_t now = source_now_ms();

    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    pthread_mutex_lock(&k->mu);
    e = find_entry(k, path);
    if (!e)
        e = add_entry(k, path, type);
    if (!e) {
        pthread_mutex_unlock(&k->mu);
        snprintf(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    e->used_ms = now;
    if (e->state != E_EMPTY && now - e->fetched_ms >= k->o.cache_ttl_ms)
        enqueue(k, e); /* refresh in the background; the cached value serves */
    switch (e->state) {
    case E_OK:
        *out = ref_take(e->ref);
        rc = ERR_OK;
        break;
    case E_NOT_FOUND:
        snprintf(why, why_len, "%s", e->why);
        rc = ERR_NOT_FOUND;
        break;
    case E_FAILED:
        snprintf(why, why_len, "%s", e->why);
        rc = ERR_UNAVAILABLE;
        break;
    case E_INVALID:
        snprintf(why, why_len, "%s", e->why);
        rc = ERR_PRECONDITION;
        break;
    default:
        enqueue(k, e);
        if (w) {
            int64_t limit = now + k->o.timeout_ms + 1000;
            w->deadline_ms = (deadline_ms > 0 && deadline_ms < limit) ? deadline_ms : limit;
            w->parked = true;
            w->next = &e->waiters;
            w->prev = e->waiters.prev;
            e->waiters.prev->next = w;
            e->waiters.prev = w;
            rc = ERR_AGAIN;
        } else {
            snprintf(why, why_len, "kubernetes API: %s not read yet", path);
            rc = ERR_AGAIN; /* queued, not parked: a prefetch */
        }
        break;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

void kube_expire(struct kube *k, int64_t now_ms)
{
    struct kube_waiter *chain = NULL;
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < k->n_buckets; i++) {
        struct entry *e;
        for (e = k->buckets[i]; e; e = e->next) {
            struct kube_waiter *c;
            if (e->waiters.next == &e->waiters)
                continue;
            c = take_waiters(e, true, now_ms);
            while (c) {
                struct kube_waiter *n = c->next;
                c->next = chain;
                chain = c;
                c = n;
            }
        }
    }
    pthread_mutex_unlock(&k->mu);
    run_waiters(chain, ERR_TIMEOUT);
}

bool kube_cancel(struct kube *k, struct kube_waiter *w)
{
    bool was;
    pthread_mutex_lock(&k->mu);
    was = w->parked;
    if (was)
        unlink_waiter(w);
    pthread_mutex_unlock(&k->mu);
    return was;
}

/* ---- the reader thread -------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;

    if (f->len + len > KUBE_MAX_BODY) {
        f->too_big = true;
        return 0;
    }
    if (f->len + len + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 8192;
        char *nb;
        while (cap < f->len + len + 1)
            cap *= 2;
        nb = realloc(f->body, cap);
        if (!nb)
            return 0;
        f->body = nb;
        f->cap = cap;
    }
    memcpy(f->body + f->len, data, len);
    f->len += len;
    return len;
}

static const char *token(struct kube *k)
{
    struct stat st;
    FILE *fp;
    char buf[16384];
    size_t n;

    if (!k->token_file || stat(k->token_file, &st) != 0)
        return k->token;
    if (k->token && st.st_mtim.tv_sec == k->token_mtime.tv_sec &&
        st.st_mtim.tv_nsec == k->token_mtime.tv_nsec && st.st_size == k->token_size &&
        st.st_ino == k->token_ino)
        return k->token;
    fp = fopen(k->token_file, "r");
    if (!fp)
        return k->token;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (k->token)
        memset(k->token, 0, strlen(k->token));
    free(k->token);
    k->token = strdup(buf);
    memset(buf, 0, sizeof(buf));
    k->token_mtime = st.st_mtim;
    k->token_size = st.st_size;
    k->token_ino = st.st_ino;
    return k->token;
}

static void fetch_free(struct fetch *f)
{
    if (!f)
        return;
    if (f->easy)
        curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    if (f->auth) {
        memset(f->auth, 0, strlen(f->auth));
        free(f->auth);
    }
    free(f->body);
    free(f);
}

static struct fetch *fetch_new(struct kube *k, struct entry *e)
{
    struct fetch *f = calloc(1, sizeof(*f));
    char url[4096];
    const char *tok;
    size_t n = strlen(k->api_url);

    if (!f)
        return NULL;
    f->e = e;
    f->easy = curl_easy_init();
    if (!f->easy) {
        free(f);
        return NULL;
    }
    snprintf(url, sizeof(url), "%.*s%s", (int)(n && k->api_url[n - 1] == '/' ? n - 1 : n),
             k->api_url, e->path);
    curl_easy_setopt(f->easy, CURLOPT_URL, url);
    curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, (long)k->o.timeout_ms);
    curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)k->o.timeout_ms);
    curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
    curl_easy_setopt(f->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "saturation-scaler/" SAT_VERSION);
    if (k->ca_file)
        curl_easy_setopt(f->easy, CURLOPT_CAINFO, k->ca_file);
    f->headers = curl_slist_append(NULL, "Accept: application/json");
    tok = token(k);
    if (tok && *tok) {
        size_t tl = strlen(tok) + 32;
        f->auth = malloc(tl);
        if (f->auth) {
            snprintf(f->auth, tl, "Authorization: Bearer %s", tok);
            f->headers = curl_slist_append(f->headers, f->auth);
        }
    }
    curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
    return f;
}

/* A read finished: update the entry and wake its waiters. */
static void complete(struct kube *k, struct fetch *f, CURLcode cc)
{
    struct entry *e = f->e;
    struct kube_waiter *chain;
    struct kube_ref *old = NULL, *nref = NULL;
    long status = 0;
    enum entry_state state;
    char why[512] = "";

    atomic_fetch_add(&k->reads, 1);
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->too_big) {
        state = E_FAILED;
        snprintf(why, sizeof(why), "kubernetes API: %s: response larger than %zu bytes", e->path,
                 KUBE_MAX_BODY);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        state = E_FAILED;
        snprintf(why, sizeof(why), "kubernetes API: %s: timeout after %lldms", e->path,
                 (long long)k->o.timeout_ms);
    } else if (cc != CURLE_OK) {
        state = E_FAILED;
        snprintf(why, sizeof(why), "kubernetes API: %s: %s%s%s", e->path, curl_easy_strerror(cc),
                 f->errbuf[0] ? ": " : "", f->errbuf);
    } else if (status >= 200 && status < 300) {
        char perr[400];
        void *obj = e->type->parse(f->body ? f->body : "", f->len, perr, sizeof(perr));
        if (obj && (nref = calloc(1, sizeof(*nref))) != NULL) {
            atomic_init(&nref->refs, 1);
            nref->type = e->type;
            nref->obj = obj;
            state = E_OK;
        } else {
            if (obj)
                e->type->free(obj);
            /* The API answered, but the object itself is unusable: a
             * problem with its content, not with reaching the server. */
            state = obj ? E_FAILED : E_INVALID;
            snprintf(why, sizeof(why), "%s %s: %s", e->type->what, e->path,
                     obj ? "out of memory" : perr);
        }
    } else {
        char msg[400];
        kubeobj_status_message((int)status, f->body ? f->body : "", f->len, msg, sizeof(msg));
        state = status == 404 ? E_NOT_FOUND : E_FAILED;
        snprintf(why, sizeof(why), "kubernetes API: %s: %s", e->path, msg);
    }
    metrics_kube_read(state == E_OK         ? METRICS_OUTCOME_OK
                      : state == E_NOT_FOUND ? METRICS_OUTCOME_NOT_FOUND
                      : cc == CURLE_OPERATION_TIMEDOUT ? METRICS_OUTCOME_TIMEOUT
                                                       : METRICS_OUTCOME_ERROR);
    if (state == E_FAILED || state == E_INVALID) {
        atomic_fetch_add(&k->read_errors, 1);
        log_write(LOG_WARN, "kubernetes", "%s", why);
    }

    pthread_mutex_lock(&k->mu);
    e->in_flight = false;
    e->fetched_ms = source_now_ms();
    e->state = state;
    old = e->ref;
    e->ref = nref;
    snprintf(e->why, sizeof(e->why), "%s", why);
    chain = take_waiters(e, false, 0);
    pthread_mutex_unlock(&k->mu);
    kube_ref_release(old);
    run_waiters(chain, ERR_OK);
}

/* Drop entries unused for ten TTLs (and not busy). Under k->mu. */
static void sweep(struct kube *k, int64_t now)
{
    size_t i;
    for (i = 0; i < k->n_buckets; i++) {
        struct entry **pp = &k->buckets[i];
        while (*pp) {
            struct entry *e = *pp;
            if (!e->queued && !e->in_flight && e->waiters.next == &e->waiters &&
                now - e->used_ms > 10 * k->o.cache_ttl_ms) {
                *pp = e->next;
                kube_ref_release(e->ref);
                free(e->path);
                free(e);
                k->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void *reader_main(void *arg)
{
    struct kube *k = arg;
    int64_t last_sweep = source_now_ms();

    for (;;) {
        struct entry *batch;
        int running = 0;
        CURLMsg *msg;
        int left;

        pthread_mutex_lock(&k->mu);
        if (k->stop) {
            pthread_mutex_unlock(&k->mu);
            break;
        }
        batch = k->queue_head;
        k->queue_head = k->queue_tail = NULL;
        for (struct entry *e = batch; e; e = e->qnext) {
            e->queued = false;
            e->in_flight = true;
        }
        if (source_now_ms() - last_sweep > k->o.cache_ttl_ms) {
            sweep(k, source_now_ms());
            last_sweep = source_now_ms();
        }
        pthread_mutex_unlock(&k->mu);

        while (batch) {
            struct entry *next = batch->qnext;
            struct fetch *f = fetch_new(k, batch);
            if (f) {
                f->next = &k->inflight;
                f->prev = k->inflight.prev;
                k->inflight.prev->next = f;
                k->inflight.prev = f;
                curl_multi_add_handle(k->multi, f->easy);
            }
            batch = next;
        }
        curl_multi_perform(k->multi, &running);
        while ((msg = curl_multi_info_read(k->multi, &left)) != NULL) {
            struct fetch *f = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            curl_multi_remove_handle(k->multi, msg->easy_handle);
            if (f) {
                f->prev->next = f->next;
                f->next->prev = f->prev;
                complete(k, f, msg->data.result);
                fetch_free(f);
            }
        }
        curl_multi_poll(k->multi, NULL, 0, 500, NULL);
    }
    return NULL;
}

enum err_code kube_start(const struct kube_options *o, struct kube **out, char *why,
                         size_t why_len)
{
    struct kube *k;

    *out = NULL;
    if (!o->api_url || (strncmp(o->api_url, "https://", 8) != 0 &&
                        strncmp(o->api_url, "http://", 7) != 0)) {
        snprintf(why, why_len, "--kube-api-url: \"%.200s\" is not an http(s) URL",
                 o->api_url ? o->api_url : "");
        return ERR_INVALID;
    }
    k = calloc(1, sizeof(*k));
    if (!k)
        return ERR_NOMEM;
    k->o = *o;
    if (k->o.cache_ttl_ms <= 0)
        k->o.cache_ttl_ms = 15000;
    if (k->o.timeout_ms <= 0)
        k->o.timeout_ms = 5000;
    k->api_url = strdup(o->api_url);
    k->token_file = o->token_file ? strdup(o->token_file) : NULL;
    k->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
    pthread_mutex_init(&k->mu, NULL);
    k->inflight.next = k->inflight.prev = &k->inflight;
    k->multi = curl_multi_init();
    if (!k->api_url || (o->token_file && !k->token_file) || (o->ca_file && !k->ca_file) ||
        !k->multi) {
        kube_stop(k);
        return ERR_NOMEM;
    }
    curl_multi_setopt(k->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    if (pthread_create(&k->thread, NULL, reader_main, k) != 0) {
        kube_stop(k);
        snprintf(why, why_len, "could not start the Kubernetes reader");
        return ERR_INTERNAL;
    }
    k->started = true;
    *out = k;
    return ERR_OK;
}

void kube_stop(struct kube *k)
{
    struct kube_waiter *chain = NULL;
    size_t i;

    if (!k)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_mutex_unlock(&k->mu);
        curl_multi_wakeup(k->multi);
        pthread_join(k->thread, NULL);
    }
    pthread_mutex_lock(&k->mu);
    for (i = 0; i < k->n_buckets; i++) {
        struct entry *e;
        for (e = k->buckets[i]; e; e = e->next) {
            struct kube_waiter *c = take_waiters(e, false, 0);
            while (c) {
                struct kube_waiter *n = c->next;
                c->next = chain;
                chain = c;
                c = n;
            }
        }
    }
    pthread_mutex_unlock(&k->mu);
    run_waiters(chain, ERR_TIMEOUT);
    if (k->multi) {
        /* abandon reads still in flight */
        while (k->inflight.next && k->inflight.next != &k->inflight) {
            struct fetch *f = k->inflight.next;
            f->prev->next = f->next;
            f->next->prev = f->prev;
            curl_multi_remove_handle(k->multi, f->easy);
            fetch_free(f);
        }
        curl_multi_cleanup(k->multi);
    }
    for (i = 0; i < k->n_buckets; i++) {
        while (k->buckets[i]) {
            struct entry *e = k->buckets[i];
            k->buckets[i] = e->next;
            kube_ref_release(e->ref);
            free(e->path);
            free(e);
        }
    }
    free(k->buckets);
    if (k->token) {
        memset(k->token, 0, strlen(k->token));
        free(k->token);
    }
    free(k->api_url);
    free(k->token_file);
    free(k->ca_file);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

void kube_get_stats(struct kube *k, struct kube_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!k)
        return;
    out->reads = atomic_load(&k->reads);
    out->read_errors = atomic_load(&k->read_errors);
}
