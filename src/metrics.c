/*
 * metrics: the self-metrics registry and its text exposition. See
 * include/metrics.h for the contract.
 *
 * One table (families[]) declares every family; the renderer walks it in
 * order and takes names, types, help, label names and histogram buckets
 * from it. Storage is split by heat. Families with a fixed label set are
 * counters in a flat array of C11 atomics, replicated in N_STRIPES stripes
 * of their own cache lines; a thread picks its stripe once (thread-local)
 * and every update is a relaxed fetch-add on memory no other thread of that
 * stripe-slot touches, so 100k RPCs/s from many workers neither lock nor
 * bounce cache lines. Render adds the stripes up. Histogram sums are kept
 * in whole nanoseconds (integer adds are exact and lock-free), histogram
 * counts are derived from the buckets so _count always equals the +Inf
 * bucket even while updates race with a scrape.
 *
 * Endpoint series (few, low rate: one per Prometheus query) sit in a sorted
 * list under one mutex. ScaledObject series (one update per decision: hot,
 * and possibly many) sit in N_SHARDS hash tables, each under its own mutex,
 * so concurrent RPCs for different ScaledObjects rarely meet on a lock.
 * Each series stores its escaped label text, built once at creation, so
 * rendering is copying. Render copies values out under the locks (short
 * holds), then sorts and formats with no lock held.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PREFIX "saturation_scaler_"
#define CODE_UNKNOWN 2
#define MAX_NAME 1024 /* longest namespace, ScaledObject, model or endpoint kept */

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* Upper bounds (le) in seconds. RPCs are mostly sub-millisecond (answers
 * come from a snapshot in memory); queries take milliseconds to seconds. */
static const double rpc_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
static const double prom_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60};
#define RPC_NB N_OF(rpc_bounds)
#define PROM_NB N_OF(prom_bounds)
#define SO_LABELS                                                                                  \
    {                                                                                              \
        "namespace", "scaledobject", "model"                                                       \
    }

static const struct family {
    const char *name;
    enum kind kind;
    const char *help; /* plain text: no backslash, no newline (see render) */
    const char *labels[3];
    const double *bounds;
    size_t n_bounds;
} families[METRICS_N_FAMILIES] = {
    [METRICS_RPCS_TOTAL] = {.name = PREFIX "rpcs_total",
                            .kind = KIND_COUNTER,
                            .labels = {"method", "code"},
                            .help = "gRPC calls finished, by method and status code."},
    [METRICS_RPC_DURATION_SECONDS] =
        {.name = PREFIX "rpc_duration_seconds",
         .kind = KIND_HISTOGRAM,
         .labels = {"method"},
         .bounds = rpc_bounds,
         .n_bounds = RPC_NB,
         .help =
             "Time from a gRPC call's arrival to its status (streams: their lifetime), by method."},
    [METRICS_OPEN_STREAMS] = {.name = PREFIX "open_streams",
                              .kind = KIND_GAUGE,
                              .help = "Open StreamIsActive and Health.Watch streams."},
    [METRICS_STREAM_MESSAGES_TOTAL] =
        {.name = PREFIX "stream_messages_total",
         .kind = KIND_COUNTER,
         .labels = {"value"},
         .help = "StreamIsActive messages sent, by the value they carried."},
    [METRICS_PROM_QUERIES_TOTAL] = {.name = PREFIX "prometheus_queries_total",
                                    .kind = KIND_COUNTER,
                                    .labels = {"endpoint", "outcome"},
                                    .help = "Prometheus queries sent, by endpoint and outcome."},
    [METRICS_PROM_QUERY_DURATION_SECONDS] = {.name = PREFIX "prometheus_query_duration_seconds",
                                             .kind = KIND_HISTOGRAM,
                                             .labels = {"endpoint"},
                                             .bounds = prom_bounds,
                                             .n_bounds = PROM_NB,
                                             .help =
                                                 "Duration of Prometheus queries, by endpoint."},
    [METRICS_PROM_RESPONSE_BYTES_TOTAL] = {.name = PREFIX "prometheus_response_bytes_total",
                                           .kind = KIND_COUNTER,
                                           .labels = {"endpoint"},
                                           .help =
                                               "Bytes of Prometheus response bodies, by endpoint."},
    [METRICS_SNAPSHOT_AGE_SECONDS] =
        {.name = PREFIX "snapshot_age_seconds",
         .kind = KIND_GAUGE,
         .labels = {"endpoint"},
         .help = "Age of the newest saturation snapshot from each Prometheus endpoint."},
    [METRICS_PARKED_REQUESTS] = {.name = PREFIX "parked_requests",
                                 .kind = KIND_GAUGE,
                                 .help = "Requests parked until a first snapshot arrives."},
    [METRICS_KUBE_READS_TOTAL] = {.name = PREFIX "kube_reads_total",
                                  .kind = KIND_COUNTER,
                                  .labels = {"outcome"},
                                  .help = "Kubernetes API reads, by outcome."},
    [METRICS_DESIRED_REPLICAS] =
        {.name = PREFIX "desired_replicas",
         .kind = KIND_GAUGE,
         .labels = SO_LABELS,
         .help = "Replicas last asked for per ScaledObject (the GetMetrics value)."},
    [METRICS_CURRENT_REPLICAS] =
        {.name = PREFIX "current_replicas",
         .kind = KIND_GAUGE,
         .labels = SO_LABELS,
         .help = "Replicas of the ScaledObject's variant in the last decision."},
    [METRICS_MODEL_PODS] =
        {.name = PREFIX "model_pods",
         .kind = KIND_GAUGE,
         .labels = SO_LABELS,
         .help = "Pods reporting for the ScaledObject's model (0 hints at a mistyped model id)."},
    [METRICS_ACTIVE] = {.name = PREFIX "active",
                        .kind = KIND_GAUGE,
                        .labels = SO_LABELS,
                        .help = "Whether the last activity answer for the ScaledObject was true."},
    [METRICS_AVG_SPARE_KV_CACHE_RATIO] =
        {.name = PREFIX "avg_spare_kv_cache_ratio",
         .kind = KIND_GAUGE,
         .labels = SO_LABELS,
         .help = "Average spare KV cache below kvCacheThreshold over non-saturated replicas, as a "
                 "fraction of the cache."},
    [METRICS_AVG_SPARE_QUEUE_LENGTH] = {.name = PREFIX "avg_spare_queue_length",
                                        .kind = KIND_GAUGE,
                                        .labels = SO_LABELS,
                                        .help = "Average spare queue below queueLengthThreshold "
                                                "over non-saturated replicas, in requests."},
    [METRICS_BUILD_INFO] = {.name = PREFIX "build_info",
                            .kind = KIND_GAUGE,
                            .labels = {"version", "compiler"},
                            .help = "Build of the running saturation-scaler; always 1."},
};

static const char *const method_labels[METRICS_N_METHODS] = {
    [METRICS_METHOD_IS_ACTIVE] = "IsActive",
    [METRICS_METHOD_STREAM_IS_ACTIVE] = "StreamIsActive",
    [METRICS_METHOD_GET_METRIC_SPEC] = "GetMetricSpec",
    [METRICS_METHOD_GET_METRICS] = "GetMetrics",
    [METRICS_METHOD_STREAM_METRIC_SPEC] = "StreamMetricSpec",
    [METRICS_METHOD_HEALTH_CHECK] = "Health/Check",
    [METRICS_METHOD_HEALTH_WATCH] = "Health/Watch",
    [METRICS_METHOD_REFLECTION] = "ServerReflectionInfo",
    [METRICS_METHOD_OTHER] = "other",
};

static const struct {
    const char *path;
    enum metrics_method method;
} method_paths[] = {
    {"/externalscaler.ExternalScaler/IsActive", METRICS_METHOD_IS_ACTIVE},
    {"/externalscaler.ExternalScaler/StreamIsActive", METRICS_METHOD_STREAM_IS_ACTIVE},
    {"/externalscaler.ExternalScaler/GetMetricSpec", METRICS_METHOD_GET_METRIC_SPEC},
    {"/externalscaler.ExternalScaler/GetMetrics", METRICS_METHOD_GET_METRICS},
    {"/externalscaler.ExternalScaler/StreamMetricSpec", METRICS_METHOD_STREAM_METRIC_SPEC},
    {"/grpc.health.v1.Health/Check", METRICS_METHOD_HEALTH_CHECK},
    {"/grpc.health.v1.Health/Watch", METRICS_METHOD_HEALTH_WATCH},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", METRICS_METHOD_REFLECTION},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", METRICS_METHOD_REFLECTION},
};

static const char *const code_labels[METRICS_N_CODES] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

static const char *const outcome_labels[METRICS_N_OUTCOMES] = {"ok", "error", "timeout",
                                                               "not_found"};

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown"
#endif

/* ---- fixed label sets: striped atomics ------------------------------------ */

/* Offsets into a stripe's flat counter array. */
#define OFF_RPCS 0
#define OFF_RPC_BUCKETS (OFF_RPCS + METRICS_N_METHODS * METRICS_N_CODES)
#define OFF_RPC_SUM_NS (OFF_RPC_BUCKETS + METRICS_N_METHODS * (RPC_NB + 1))
#define OFF_STREAM (OFF_RPC_SUM_NS + METRICS_N_METHODS)
#define OFF_KUBE (OFF_STREAM + 2)
#define STRIPE_N (OFF_KUBE + METRICS_N_OUTCOMES)
#define N_STRIPES 16

struct stripe {
    alignas(64) _Atomic uint64_t v[STRIPE_N];
};

static struct stripe stripes[N_STRIPES];
static atomic_uint stripe_next;
static _Thread_local unsigned stripe_mine; /* 1 + index; 0: not chosen yet */
static _Atomic int64_t open_streams;
static _Atomic int64_t parked;

static _Atomic uint64_t *stripe_slot(size_t off)
{
    if (!stripe_mine)
        stripe_mine =
            1 + atomic_fetch_add_explicit(&stripe_next, 1, memory_order_relaxed) % N_STRIPES;
    return &stripes[stripe_mine - 1].v[off];
}

static void stripe_inc(size_t off, uint64_t n)
{
    atomic_fetch_add_explicit(stripe_slot(off), n, memory_order_relaxed);
}

/* ---- dynamic label sets ----------------------------------------------------- */

struct endpoint {
    struct endpoint *next; /* sorted by name */
    uint64_t queries[METRICS_N_OUTCOMES];
    uint64_t buckets[PROM_NB + 1];
    uint64_t sum_ns;
    uint64_t bytes;
    double age; /* NaN: unknown */
    char *labels;
    char name[];
};

static pthread_mutex_t ep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct endpoint *endpoints;
static size_t n_endpoints;

struct so_series {
    struct so_series *next;
    uint64_t hash;
    int64_t last_ms;
    int64_t desired, current, model_pods; /* < 0: never set */
    int active;                           /* < 0: never set */
    double spare_kv, spare_queue;         /* NaN: never set */
    size_t ns_len, so_len, model_len;
    char *labels; /* inside key[], after the three names */
    char key[];   /* ns \0 so \0 model \0 labels \0 */
};

struct shard {
    pthread_mutex_t mu;
    struct so_series **slots;
    size_t n_slots, n;
};

#define N_SHARDS 16
#define SHARD_INIT                                                                                 \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0                                                      \
    }
#define SHARD_INIT4 SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT
static struct shard shards[N_SHARDS] = {SHARD_INIT4, SHARD_INIT4, SHARD_INIT4, SHARD_INIT4};
_Static_assert(N_SHARDS == 16, "shards[] initialiser lists 16");
static atomic_size_t n_so;

static pthread_mutex_t info_mu = PTHREAD_MUTEX_INITIALIZER;
static char *info_labels; /* escaped version="...",compiler="..."; NULL: not set */

static pthread_mutex_t collect_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    metrics_collect_fn *fn;
    void *arg;
} collectors[METRICS_MAX_COLLECTORS];
static size_t n_collectors;

const struct metrics_scaledobject_values metrics_scaledobject_unknown = {-1, -1, -1, -1, NAN, NAN};

/* ---- text building ---------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len <= n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* overlong */
        hi = c == 0xED ? 0x9F : hi; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo; /* overlong */
        hi = c == 0xF4 ? 0x8F : hi; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* name="value" with the exposition format's escapes; Prometheus refuses
 * label values that are not UTF-8, so bad bytes become U+FFFD. */
static void buf_label(struct buf *b, const char *name, const char *value, bool first)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t n = strlen(value);

    if (!first)
        buf_add(b, ",", 1);
    buf_puts(b, name);
    buf_add(b, "=\"", 2);
    while (n) {
        size_t run = 0, k;
        while (run < n && s[run] != '\\' && s[run] != '"' && s[run] != '\n' &&
               (k = utf8_seq(s + run, n - run)) != 0)
            run += k;
        buf_add(b, (const char *)s, run);
        s += run;
        n -= run;
        if (!n)
            break;
        if (*s == '\\')
            buf_add(b, "\\\\", 2);
        else if (*s == '"')
            buf_add(b, "\\\"", 2);
        else if (*s == '\n')
            buf_add(b, "\\n", 2);
        else
            buf_add(b, "\xEF\xBF\xBD", 3);
        s++;
        n--;
    }
    buf_add(b, "\"", 1);
}

/* ---- simple accessors ------------------------------------------------------- */

const char *metrics_family_name(enum metrics_family f)
{
    return (unsigned)f < METRICS_N_FAMILIES ? families[f].name : "";
}

const char *metrics_method_label(enum metrics_method m)
{
    return (unsigned)m < METRICS_N_METHODS ? method_labels[m] : "";
}

const char *metrics_code_label(int grpc_code)
{
    return (unsigned)grpc_code < METRICS_N_CODES ? code_labels[grpc_code] : "";
}

const char *metrics_outcome_label(enum metrics_outcome o)
{
    return (unsigned)o < METRICS_N_OUTCOMES ? outcome_labels[o] : "";
}

enum metrics_method metrics_method_from_path(const char *path)
{
    size_t i;

    for (i = 0; path && i < N_OF(method_paths); i++)
        if (!strcmp(path, method_paths[i].path))
            return method_paths[i].method;
    return METRICS_METHOD_OTHER;
}

/* ---- updates ---------------------------------------------------------------- */

static void build_info_labels(struct buf *b, const char *version)
{
    const char *const *names = families[METRICS_BUILD_INFO].labels;
    char compiler[128];
    size_t n;

    /* clang's version string ends in a blank. */
    snprintf(compiler, sizeof(compiler), "%s", COMPILER);
    n = strlen(compiler);
    while (n && compiler[n - 1] == ' ')
        compiler[--n] = '\0';
    buf_label(b, names[0], version ? version : "unknown", true);
    buf_label(b, names[1], compiler, false);
}

enum err_code metrics_init(const char *version)
{
    struct buf b = {0};
    char *old;

    build_info_labels(&b, version);
    if (b.oom) {
        free(b.p);
        return ERR_NOMEM;
    }
    pthread_mutex_lock(&info_mu);
    old = info_labels;
    info_labels = b.p;
    pthread_mutex_unlock(&info_mu);
    free(old);
    return ERR_OK;
}

/* Bucket index: the first bound >= v, or n (+Inf). */
static size_t bucket_of(const double *bounds, size_t n, double v)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v <= bounds[i])
            break;
    return i;
}

/* Seconds to whole nanoseconds; NaN and negatives count as 0 and absurd
 * values are capped so the conversion stays defined. */
static uint64_t seconds_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 1e9)
        s = 1e9;
    return (uint64_t)(s * 1e9 + 0.5);
}

void metrics_rpc(enum metrics_method method, int grpc_code, double seconds)
{
    unsigned m = (unsigned)method < METRICS_N_METHODS ? (unsigned)method : METRICS_METHOD_OTHER;
    unsigned c = (unsigned)grpc_code < METRICS_N_CODES ? (unsigned)grpc_code : CODE_UNKNOWN;
    _Atomic uint64_t *v = stripe_slot(0);

    if (!(seconds > 0))
        seconds = 0;
    atomic_fetch_add_explicit(&v[OFF_RPCS + m * METRICS_N_CODES + c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(
        &v[OFF_RPC_BUCKETS + m * (RPC_NB + 1) + bucket_of(rpc_bounds, RPC_NB, seconds)], 1,
        memory_order_relaxed);
    atomic_fetch_add_explicit(&v[OFF_RPC_SUM_NS + m], seconds_ns(seconds), memory_order_relaxed);
}

void metrics_open_streams_add(int64_t delta)
{
    atomic_fetch_add_explicit(&open_streams, delta, memory_order_relaxed);
}

void metrics_open_streams_set(int64_t n)
{
    atomic_store_explicit(&open_streams, n, memory_order_relaxed);
}

void metrics_stream_message(bool value)
{
    stripe_inc(OFF_STREAM + (value ? 1 : 0), 1);
}

void metrics_parked_add(int64_t delta)
{
    atomic_fetch_add_explicit(&parked, delta, memory_order_relaxed);
}

void metrics_parked_set(int64_t n)
{
    atomic_store_explicit(&parked, n, memory_order_relaxed);
}

void metrics_kube_read(enum metrics_outcome outcome)
{
    unsigned o = (unsigned)outcome < METRICS_N_OUTCOMES ? (unsigned)outcome : METRICS_OUTCOME_ERROR;
    stripe_inc(OFF_KUBE + o, 1);
}

/* The endpoint named name, created if missing and create; ep_mu held. */
static struct endpoint *endpoint_get(const char *name, bool create)
{
    struct endpoint **pp = &endpoints, *e;
    struct buf b = {0};
    size_t n = strlen(name);
    int cmp = 1;

    while (*pp && (cmp = strcmp((*pp)->name, name)) < 0)
        pp = &(*pp)->next;
    if (*pp && !cmp)
        return *pp;
    if (!create || n > MAX_NAME || n_endpoints >= METRICS_MAX_ENDPOINTS)
        return NULL;
    buf_label(&b, families[METRICS_PROM_QUERIES_TOTAL].labels[0], name, true);
    e = b.oom ? NULL : calloc(1, sizeof(*e) + n + 1);
    if (!e) {
        free(b.p);
        return NULL;
    }
    memcpy(e->name, name, n + 1);
    e->labels = b.p;
    e->age = NAN;
    e->next = *pp;
    *pp = e;
    n_endpoints++;
    return e;
}

void metrics_prom_query(const char *endpoint, enum metrics_outcome outcome, double seconds,
                        uint64_t bytes)
{
    unsigned o = (unsigned)outcome < METRICS_N_OUTCOMES ? (unsigned)outcome : METRICS_OUTCOME_ERROR;
    struct endpoint *e;

    if (!endpoint)
        return;
    if (!(seconds > 0))
        seconds = 0;
    pthread_mutex_lock(&ep_mu);
    e = endpoint_get(endpoint, true);
    if (e) {
        e->queries[o]++;
        e->buckets[bucket_of(prom_bounds, PROM_NB, seconds)]++;
        e->sum_ns += seconds_ns(seconds);
        e->bytes += bytes;
    }
    pthread_mutex_unlock(&ep_mu);
}

void metrics_snapshot_age_set(const char *endpoint, double seconds)
{
    bool known = seconds >= 0; /* false for NaN */
    struct endpoint *e;

    if (!endpoint)
        return;
    pthread_mutex_lock(&ep_mu);
    e = endpoint_get(endpoint, known);
    if (e)
        e->age = known ? seconds : NAN;
    pthread_mutex_unlock(&ep_mu);
}

static uint64_t so_hash(const char *ns, const char *so, const char *model)
{
    const char *parts[3] = {ns, so, model};
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, 64-bit */
    size_t i;

    for (i = 0; i < 3; i++) {
        const unsigned char *p;
        for (p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3u;
        h *= 0x100000001b3u; /* a NUL separator: no name holds one */
    }
    return h ^ (h >> 29);
}

static bool so_matches(const struct so_series *s, uint64_t h, const char *ns, size_t nl,
                       const char *so, size_t sl, const char *model, size_t ml)
{
    return s->hash == h && s->ns_len == nl && s->so_len == sl && s->model_len == ml &&
           !memcmp(s->key, ns, nl) && !memcmp(s->key + nl + 1, so, sl) &&
           !memcmp(s->key + nl + 1 + sl + 1, model, ml);
}

static struct so_series *so_new(uint64_t h, const char *ns, size_t nl, const char *so, size_t sl,
                                const char *model, size_t ml)
{
    const char *const *names = families[METRICS_DESIRED_REPLICAS].labels;
    struct buf b = {0};
    struct so_series *s;
    size_t klen = nl + sl + ml + 3;

    buf_label(&b, names[0], ns, true);
    buf_label(&b, names[1], so, false);
    buf_label(&b, names[2], model, false);
    s = b.oom ? NULL : malloc(sizeof(*s) + klen + b.len + 1);
    if (s) {
        *s = (struct so_series){.hash = h, .ns_len = nl, .so_len = sl, .model_len = ml};
        s->desired = s->current = s->model_pods = -1;
        s->active = -1;
        s->spare_kv = s->spare_queue = NAN;
        memcpy(s->key, ns, nl + 1);
        memcpy(s->key + nl + 1, so, sl + 1);
        memcpy(s->key + nl + 1 + sl + 1, model, ml + 1);
        s->labels = s->key + klen;
        memcpy(s->labels, b.p, b.len + 1);
    }
    free(b.p);
    return s;
}

/* Double sh's table (load factor 1); on failure it stays as it was. */
static void shard_grow(struct shard *sh)
{
    size_t n = sh->n_slots ? sh->n_slots * 2 : 16, i;
    struct so_series **slots = calloc(n, sizeof(*slots));

    if (!slots)
        return;
    for (i = 0; i < sh->n_slots; i++) {
        struct so_series *s = sh->slots[i], *next;
        for (; s; s = next) {
            next = s->next;
            s->next = slots[s->hash & (n - 1)];
            slots[s->hash & (n - 1)] = s;
        }
    }
    free(sh->slots);
    sh->slots = slots;
    sh->n_slots = n;
}

void metrics_scaledobject(const char *ns, const char *so, const char *model,
                          const struct metrics_scaledobject_values *v, int64_t now_ms)
{
    size_t nl, sl, ml;
    uint64_t h;
    struct shard *sh;
    struct so_series *s = NULL;

    if (!ns || !so || !model || !v)
        return;
    nl = strlen(ns);
    sl = strlen(so);
    ml = strlen(model);
    if (nl > MAX_NAME || sl > MAX_NAME || ml > MAX_NAME)
        return;
    h = so_hash(ns, so, model);
    sh = &shards[h >> 60];
    pthread_mutex_lock(&sh->mu);
    if (sh->n_slots)
        for (s = sh->slots[h & (sh->n_slots - 1)]; s; s = s->next)
            if (so_matches(s, h, ns, nl, so, sl, model, ml))
                break;
    if (!s && atomic_load_explicit(&n_so, memory_order_relaxed) < METRICS_MAX_SCALEDOBJECTS) {
        if (sh->n >= sh->n_slots)
            shard_grow(sh);
        s = sh->n_slots ? so_new(h, ns, nl, so, sl, model, ml) : NULL;
        if (s) {
            s->next = sh->slots[h & (sh->n_slots - 1)];
            sh->slots[h & (sh->n_slots - 1)] = s;
            sh->n++;
            atomic_fetch_add_explicit(&n_so, 1, memory_order_relaxed);
        }
    }
    if (s) {
        s->last_ms = now_ms;
        if (v->desired_replicas >= 0)
            s->desired = v->desired_replicas;
        if (v->current_replicas >= 0)
            s->current = v->current_replicas;
        if (v->model_pods >= 0)
            s->model_pods = v->model_pods;
        if (v->active >= 0)
            s->active = v->active ? 1 : 0;
        if (!isnan(v->avg_spare_kv))
            s->spare_kv = v->avg_spare_kv;
        if (!isnan(v->avg_spare_queue))
            s->spare_queue = v->avg_spare_queue;
    }
    pthread_mutex_unlock(&sh->mu);
}

/* Drop every series of sh (all) or those last updated before cutoff_ms;
 * sh->mu held. */
static size_t shard_drop(struct shard *sh, bool all, int64_t cutoff_ms)
{
    size_t i, dropped = 0;

    for (i = 0; i < sh->n_slots; i++) {
        struct so_series **pp = &sh->slots[i];
        while (*pp) {
            struct so_series *s = *pp;
            if (all || s->last_ms < cutoff_ms) {
                *pp = s->next;
                free(s);
                dropped++;
            } else {
                pp = &s->next;
            }
        }
    }
    sh->n -= dropped;
    atomic_fetch_sub_explicit(&n_so, dropped, memory_order_relaxed);
    return dropped;
}

size_t metrics_expire(int64_t now_ms, int64_t ttl_ms)
{
    size_t i, dropped = 0;

    /* Dropped: last_ms < now_ms - ttl_ms; no cutoff when that underflows. */
    if (ttl_ms < 0 || now_ms < INT64_MIN + ttl_ms)
        return 0;
    for (i = 0; i < N_SHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        dropped += shard_drop(&shards[i], false, now_ms - ttl_ms);
        pthread_mutex_unlock(&shards[i].mu);
    }
    return dropped;
}

/* ---- collectors --------------------------------------------------------------- */

enum err_code metrics_add_collector(metrics_collect_fn *fn, void *arg)
{
    enum err_code rc = ERR_INVALID;

    if (!fn)
        return ERR_INVALID;
    pthread_mutex_lock(&collect_mu);
    if (n_collectors < METRICS_MAX_COLLECTORS) {
        collectors[n_collectors].fn = fn;
        collectors[n_collectors].arg = arg;
        n_collectors++;
        rc = ERR_OK;
    }
    pthread_mutex_unlock(&collect_mu);
    return rc;
}

void metrics_remove_collector(metrics_collect_fn *fn, void *arg)
{
    size_t i;

    /* Collectors run with collect_mu held, so once we hold it none runs. */
    pthread_mutex_lock(&collect_mu);
    for (i = 0; i < n_collectors; i++) {
        if (collectors[i].fn == fn && collectors[i].arg == arg) {
            memmove(&collectors[i], &collectors[i + 1],
                    (n_collectors - i - 1) * sizeof(collectors[0]));
            n_collectors--;
            break;
        }
    }
    pthread_mutex_unlock(&collect_mu);
}

/* ---- render ------------------------------------------------------------------- */

struct ep_snap {
    size_t labels; /* offset in the arena */
    uint64_t queries[METRICS_N_OUTCOMES], total;
    uint64_t buckets[PROM_NB + 1];
    uint64_t sum_ns, bytes;
    double age;
};

struct so_snap {
    const char *labels; /* offset in the arena until every series is copied */
    int64_t desired, current, model_pods;
    int active;
    double spare_kv, spare_queue;
};

struct snap {
    uint64_t fixed[STRIPE_N];
    int64_t open_streams, parked;
    struct buf arena; /* NUL-separated label texts */
    struct ep_snap *eps;
    size_t n_eps;
    struct so_snap *sos;
    size_t n_sos, cap_sos;
    char *info; /* build info labels */
    bool oom;
};

static void snap_endpoints(struct snap *sn)
{
    struct endpoint *e;
    size_t i = 0;

    pthread_mutex_lock(&ep_mu);
    sn->eps = n_endpoints ? calloc(n_endpoints, sizeof(*sn->eps)) : NULL;
    if (n_endpoints && !sn->eps)
        sn->oom = true;
    for (e = endpoints; e && sn->eps; e = e->next, i++) {
        struct ep_snap *s = &sn->eps[i];
        size_t o;
        s->labels = sn->arena.len;
        buf_add(&sn->arena, e->labels, strlen(e->labels) + 1);
        memcpy(s->queries, e->queries, sizeof(s->queries));
        for (o = 0; o < METRICS_N_OUTCOMES; o++)
            s->total += e->queries[o];
        memcpy(s->buckets, e->buckets, sizeof(s->buckets));
        s->sum_ns = e->sum_ns;
        s->bytes = e->bytes;
        s->age = e->age;
    }
    sn->n_eps = sn->eps ? n_endpoints : 0;
    pthread_mutex_unlock(&ep_mu);
}

static void snap_shard(struct snap *sn, struct shard *sh)
{
    size_t i;

    pthread_mutex_lock(&sh->mu);
    if (sn->n_sos + sh->n > sn->cap_sos) {
        size_t cap = sn->n_sos + sh->n + 64;
        struct so_snap *p = realloc(sn->sos, cap * sizeof(*p));
        if (!p) {
            sn->oom = true;
            pthread_mutex_unlock(&sh->mu);
            return;
        }
        sn->sos = p;
        sn->cap_sos = cap;
    }
    for (i = 0; i < sh->n_slots; i++) {
        struct so_series *s;
        for (s = sh->slots[i]; s; s = s->next) {
            struct so_snap *d = &sn->sos[sn->n_sos++];
            d->labels = (const char *)(uintptr_t)sn->arena.len;
            buf_add(&sn->arena, s->labels, strlen(s->labels) + 1);
            d->desired = s->desired;
            d->current = s->current;
            d->model_pods = s->model_pods;
            d->active = s->active;
            d->spare_kv = s->spare_kv;
            d->spare_queue = s->spare_queue;
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

static int so_snap_cmp(const void *a, const void *b)
{
    return strcmp(((const struct so_snap *)a)->labels, ((const struct so_snap *)b)->labels);
}

static void snap_take(struct snap *sn)
{
    size_t i, s;

    for (i = 0; i < STRIPE_N; i++)
        for (s = 0; s < N_STRIPES; s++)
            sn->fixed[i] += atomic_load_explicit(&stripes[s].v[i], memory_order_relaxed);
    sn->open_streams = atomic_load_explicit(&open_streams, memory_order_relaxed);
    sn->parked = atomic_load_explicit(&parked, memory_order_relaxed);
    snap_endpoints(sn);
    for (i = 0; i < N_SHARDS && !sn->oom; i++)
        snap_shard(sn, &shards[i]);
    if (sn->oom || sn->arena.oom) {
        sn->oom = true;
        return;
    }
    for (i = 0; i < sn->n_sos; i++)
        sn->sos[i].labels = sn->arena.p + (uintptr_t)sn->sos[i].labels;
    if (sn->n_sos > 1)
        qsort(sn->sos, sn->n_sos, sizeof(*sn->sos), so_snap_cmp);

    pthread_mutex_lock(&info_mu);
    sn->info = info_labels ? strdup(info_labels) : NULL;
    sn->oom = info_labels && !sn->info;
    pthread_mutex_unlock(&info_mu);
    if (!sn->info && !sn->oom) {
        struct buf b = {0};
        build_info_labels(&b, NULL);
        sn->info = b.p;
        sn->oom = b.oom;
    }
}

static void snap_free(struct snap *sn)
{
    free(sn->arena.p);
    free(sn->eps);
    free(sn->sos);
    free(sn->info);
}

struct out {
    struct buf b;
    bool header[METRICS_N_FAMILIES];
};

static const char *fmt_u64(char *buf, size_t len, uint64_t v)
{
    snprintf(buf, len, "%" PRIu64, v);
    return buf;
}

static const char *fmt_i64(char *buf, size_t len, int64_t v)
{
    snprintf(buf, len, "%" PRId64, v);
    return buf;
}

static const char *fmt_double(char *buf, size_t len, double v)
{
    if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
    else
        util_fmt_double(buf, len, v);
    return buf;
}

/* One sample line; the family's HELP and TYPE go first, once. */
static void out_sample(struct out *o, enum metrics_family f, const char *suffix, const char *labels,
                       const char *extra, const char *value)
{
    const struct family *fam = &families[f];
    bool has_l = labels && *labels, has_e = extra && *extra;

    if (!o->header[f]) {
        o->header[f] = true;
        buf_puts(&o->b, "# HELP ");
        buf_puts(&o->b, fam->name);
        buf_puts(&o->b, " ");
        buf_puts(&o->b, fam->help);
        buf_puts(&o->b, "\n# TYPE ");
        buf_puts(&o->b, fam->name);
        buf_puts(&o->b, " ");
        buf_puts(&o->b, kind_names[fam->kind]);
        buf_puts(&o->b, "\n");
    }
    buf_puts(&o->b, fam->name);
    if (suffix)
        buf_puts(&o->b, suffix);
    if (has_l || has_e) {
        buf_puts(&o->b, "{");
        if (has_l)
            buf_puts(&o->b, labels);
        if (has_l && has_e)
            buf_puts(&o->b, ",");
        if (has_e)
            buf_puts(&o->b, extra);
        buf_puts(&o->b, "}");
    }
    buf_puts(&o->b, " ");
    buf_puts(&o->b, value);
    buf_puts(&o->b, "\n");
}

/* counts: per bucket, not cumulative; the last one is +Inf. */
static void out_histogram(struct out *o, enum metrics_family f, const char *labels,
                          const uint64_t *counts, uint64_t sum_ns)
{
    const struct family *fam = &families[f];
    char le[64], v[40];
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= fam->n_bounds; i++) {
        cum += counts[i];
        if (i < fam->n_bounds) {
            char d[32];
            snprintf(le, sizeof(le), "le=\"%s\"", fmt_double(d, sizeof(d), fam->bounds[i]));
        } else {
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        }
        out_sample(o, f, "_bucket", labels, le, fmt_u64(v, sizeof(v), cum));
    }
    out_sample(o, f, "_sum", labels, NULL, fmt_double(v, sizeof(v), (double)sum_ns / 1e9));
    out_sample(o, f, "_count", labels, NULL, fmt_u64(v, sizeof(v), cum));
}

static void out_fixed(struct out *o, const struct snap *sn)
{
    const struct family *rpcs = &families[METRICS_RPCS_TOTAL];
    const struct family *dur = &families[METRICS_RPC_DURATION_SECONDS];
    char l[160], v[40];
    size_t m, c, i;

    for (m = 0; m < METRICS_N_METHODS; m++) {
        for (c = 0; c < METRICS_N_CODES; c++) {
            uint64_t n = sn->fixed[OFF_RPCS + m * METRICS_N_CODES + c];
            if (!n)
                continue;
            snprintf(l, sizeof(l), "%s=\"%s\",%s=\"%s\"", rpcs->labels[0], method_labels[m],
                     rpcs->labels[1], code_labels[c]);
            out_sample(o, METRICS_RPCS_TOTAL, NULL, l, NULL, fmt_u64(v, sizeof(v), n));
        }
    }
    for (m = 0; m < METRICS_N_METHODS; m++) {
        const uint64_t *b = &sn->fixed[OFF_RPC_BUCKETS + m * (RPC_NB + 1)];
        uint64_t n = 0;
        for (i = 0; i <= RPC_NB; i++)
            n += b[i];
        if (!n)
            continue;
        snprintf(l, sizeof(l), "%s=\"%s\"", dur->labels[0], method_labels[m]);
        out_histogram(o, METRICS_RPC_DURATION_SECONDS, l, b, sn->fixed[OFF_RPC_SUM_NS + m]);
    }
    out_sample(o, METRICS_OPEN_STREAMS, NULL, NULL, NULL, fmt_i64(v, sizeof(v), sn->open_streams));
    for (i = 0; i < 2; i++) {
        uint64_t n = sn->fixed[OFF_STREAM + i];
        if (!n)
            continue;
        snprintf(l, sizeof(l), "%s=\"%s\"", families[METRICS_STREAM_MESSAGES_TOTAL].labels[0],
                 i ? "true" : "false");
        out_sample(o, METRICS_STREAM_MESSAGES_TOTAL, NULL, l, NULL, fmt_u64(v, sizeof(v), n));
    }
}

static void out_endpoints(struct out *o, const struct snap *sn)
{
    const char *outcome = families[METRICS_PROM_QUERIES_TOTAL].labels[1];
    char e[64], v[40];
    size_t i, k;

    for (i = 0; i < sn->n_eps; i++) {
        const struct ep_snap *s = &sn->eps[i];
        for (k = 0; k < METRICS_N_OUTCOMES; k++) {
            if (!s->queries[k])
                continue;
            snprintf(e, sizeof(e), "%s=\"%s\"", outcome, outcome_labels[k]);
            out_sample(o, METRICS_PROM_QUERIES_TOTAL, NULL, sn->arena.p + s->labels, e,
                       fmt_u64(v, sizeof(v), s->queries[k]));
        }
    }
    for (i = 0; i < sn->n_eps; i++)
        if (sn->eps[i].total)
            out_histogram(o, METRICS_PROM_QUERY_DURATION_SECONDS, sn->arena.p + sn->eps[i].labels,
                          sn->eps[i].buckets, sn->eps[i].sum_ns);
    for (i = 0; i < sn->n_eps; i++)
        if (sn->eps[i].total)
            out_sample(o, METRICS_PROM_RESPONSE_BYTES_TOTAL, NULL, sn->arena.p + sn->eps[i].labels,
                       NULL, fmt_u64(v, sizeof(v), sn->eps[i].bytes));
    for (i = 0; i < sn->n_eps; i++)
        if (!isnan(sn->eps[i].age))
            out_sample(o, METRICS_SNAPSHOT_AGE_SECONDS, NULL, sn->arena.p + sn->eps[i].labels, NULL,
                       fmt_double(v, sizeof(v), sn->eps[i].age));
}

/* The text of family f's value for s, NULL while unknown. */
static const char *so_value(const struct so_snap *s, enum metrics_family f, char *v, size_t len)
{
    switch (f) {
    case METRICS_DESIRED_REPLICAS:
        return s->desired >= 0 ? fmt_i64(v, len, s->desired) : NULL;
    case METRICS_CURRENT_REPLICAS:
        return s->current >= 0 ? fmt_i64(v, len, s->current) : NULL;
    case METRICS_MODEL_PODS:
        return s->model_pods >= 0 ? fmt_i64(v, len, s->model_pods) : NULL;
    case METRICS_ACTIVE:
        return s->active >= 0 ? (s->active ? "1" : "0") : NULL;
    case METRICS_AVG_SPARE_KV_CACHE_RATIO:
        return isnan(s->spare_kv) ? NULL : fmt_double(v, len, s->spare_kv);
    case METRICS_AVG_SPARE_QUEUE_LENGTH:
        return isnan(s->spare_queue) ? NULL : fmt_double(v, len, s->spare_queue);
    default:
        return NULL;
    }
}

static void out_scaledobjects(struct out *o, const struct snap *sn)
{
    char v[40];
    size_t i;
    int f;

    for (f = METRICS_DESIRED_REPLICAS; f <= METRICS_AVG_SPARE_QUEUE_LENGTH; f++) {
        for (i = 0; i < sn->n_sos; i++) {
            const char *text = so_value(&sn->sos[i], (enum metrics_family)f, v, sizeof(v));
            if (text)
                out_sample(o, (enum metrics_family)f, NULL, sn->sos[i].labels, NULL, text);
        }
    }
}

enum err_code metrics_render(char **out, size_t *len)
{
    struct snap sn = {0};
    struct out o = {0};
    char v[40], l[64];
    size_t i;

    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!out || !len)
        return ERR_INVALID;

    /* Collectors update the registry (they take its locks), so they run
     * before the snapshot and without any lock but collect_mu. */
    pthread_mutex_lock(&collect_mu);
    for (i = 0; i < n_collectors; i++)
        collectors[i].fn(collectors[i].arg);
    pthread_mutex_unlock(&collect_mu);

    snap_take(&sn);
    if (sn.oom) {
        snap_free(&sn);
        return ERR_NOMEM;
    }
    /* Family order follows enum metrics_family. */
    out_fixed(&o, &sn);
    out_endpoints(&o, &sn);
    out_sample(&o, METRICS_PARKED_REQUESTS, NULL, NULL, NULL, fmt_i64(v, sizeof(v), sn.parked));
    for (i = 0; i < METRICS_N_OUTCOMES; i++) {
        uint64_t n = sn.fixed[OFF_KUBE + i];
        if (!n)
            continue;
        snprintf(l, sizeof(l), "%s=\"%s\"", families[METRICS_KUBE_READS_TOTAL].labels[0],
                 outcome_labels[i]);
        out_sample(&o, METRICS_KUBE_READS_TOTAL, NULL, l, NULL, fmt_u64(v, sizeof(v), n));
    }
    out_scaledobjects(&o, &sn);
    out_sample(&o, METRICS_BUILD_INFO, NULL, sn.info, NULL, "1");
    snap_free(&sn);
    if (o.b.oom) {
        free(o.b.p);
        return ERR_NOMEM;
    }
    *out = o.b.p;
    *len = o.b.len;
    return ERR_OK;
}

/* ---- reset -------------------------------------------------------------------- */

void metrics_reset(void)
{
    struct endpoint *e, *next;
    size_t i, s;

    for (s = 0; s < N_STRIPES; s++)
        for (i = 0; i < STRIPE_N; i++)
            atomic_store_explicit(&stripes[s].v[i], 0, memory_order_relaxed);
    atomic_store_explicit(&open_streams, 0, memory_order_relaxed);
    atomic_store_explicit(&parked, 0, memory_order_relaxed);

    pthread_mutex_lock(&ep_mu);
    for (e = endpoints; e; e = next) {
        next = e->next;
        free(e->labels);
        free(e);
    }
    endpoints = NULL;
    n_endpoints = 0;
    pthread_mutex_unlock(&ep_mu);

    for (i = 0; i < N_SHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        shard_drop(&shards[i], true, 0);
        free(shards[i].slots);
        shards[i].slots = NULL;
        shards[i].n_slots = 0;
        pthread_mutex_unlock(&shards[i].mu);
    }

    pthread_mutex_lock(&collect_mu);
    n_collectors = 0;
    pthread_mutex_unlock(&collect_mu);
}

void metrics_shutdown(void)
{
    char *old;

    metrics_reset();
    pthread_mutex_lock(&info_mu);
    old = info_labels;
    info_labels = NULL;
    pthread_mutex_unlock(&info_mu);
    free(old);
}
