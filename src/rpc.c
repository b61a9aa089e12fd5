/*
 * rpc: the gRPC server. See include/rpc.h for the threading model.
 *
 * Every accepted call is a struct rcall. Its lifetime is a reference count:
 * one reference per batch in flight, one while it sits in the stream
 * registry, one while it is parked in the source. The last unref releases
 * the grpc_call and frees the struct. Batches on one call are started under
 * its mutex, so a publisher thread and the worker never start two at once.
 *
 * Unary calls answer in a single batch (initial metadata, message, status,
 * close). Streams (StreamIsActive, Health.Watch) start a RECV_CLOSE_ON_SERVER
 * batch first, whose completion is how a client's cancel or disconnect is
 * noticed, then send at most one message at a time from a small queue.
 * Reflection is bidirectional: receive a request, send its answer, repeat.
 */
#include "rpc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "cfgstore.h"
#include "config.h"
#include "decide.h"
#include "decisions.h"
#include "externalscaler.pb-c.h"
#include "health.h"
#include "kube.h"
#include "managed.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "reflect.h"
#include "wire.h"

enum method {
    M_IS_ACTIVE = 0,
    M_STREAM_IS_ACTIVE,
    M_GET_METRIC_SPEC,
    M_GET_METRICS,
    M_HEALTH_CHECK,
    M_HEALTH_WATCH,
    M_REFLECT_V1,
    M_REFLECT_V1ALPHA,
    M_COUNT,
    M_GENERIC = M_COUNT /* anything else: UNIMPLEMENTED */
};

static const struct {
    const char *path;
    grpc_server_register_method_payload_handling payload;
    int slots; /* request slots kept posted per worker */
} methods[M_COUNT] = {
    [M_IS_ACTIVE] = {"/externalscaler.ExternalScaler/IsActive",
                     GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 4},
    [M_STREAM_IS_ACTIVE] = {"/externalscaler.ExternalScaler/StreamIsActive",
                            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 4},
    [M_GET_METRIC_SPEC] = {"/externalscaler.ExternalScaler/GetMetricSpec",
                           GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 4},
    [M_GET_METRICS] = {"/externalscaler.ExternalScaler/GetMetrics",
                       GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 4},
    [M_HEALTH_CHECK] = {"/grpc.health.v1.Health/Check", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
                        2},
    [M_HEALTH_WATCH] = {"/grpc.health.v1.Health/Watch", GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
                        1},
    [M_REFLECT_V1] = {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                      GRPC_SRM_PAYLOAD_NONE, 1},
    [M_REFLECT_V1ALPHA] = {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                           GRPC_SRM_PAYLOAD_NONE, 1},
};
#define GENERIC_SLOTS 2

static const enum metrics_method metric_of[M_COUNT + 1] = {
    [M_IS_ACTIVE] = METRICS_METHOD_IS_ACTIVE,
    [M_STREAM_IS_ACTIVE] = METRICS_METHOD_STREAM_IS_ACTIVE,
    [M_GET_METRIC_SPEC] = METRICS_METHOD_GET_METRIC_SPEC,
    [M_GET_METRICS] = METRICS_METHOD_GET_METRICS,
    [M_HEALTH_CHECK] = METRICS_METHOD_HEALTH_CHECK,
    [M_HEALTH_WATCH] = METRICS_METHOD_HEALTH_WATCH,
    [M_REFLECT_V1] = METRICS_METHOD_REFLECTION,
    [M_REFLECT_V1ALPHA] = METRICS_METHOD_REFLECTION,
    [M_GENERIC] = METRICS_METHOD_OTHER,
};
#define STREAM_QUEUE 8

struct rpc_tag {
    void (*fn)(struct rpc_tag *t, bool ok);
};

#define CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Sources with a new snapshot that a worker has not fanned out yet. More
 * than this many distinct sources between two fan-outs: all of them. */
#define PENDING_SOURCES 8

struct rcall;

/*
 * Two kinds of worker, each a thread on its own completion queue:
 * - call workers: their queues are registered with the server, they post
 *   the request slots and run unary calls (and reflection) start to end;
 * - stream workers: their queues only carry the events of the streams
 *   (StreamIsActive, Health.Watch) bound to them. A stream slot is posted
 *   by a call worker (which gets the new-call event) and binds the call to
 *   the next stream worker in turn.
 * Streams stay off the call workers' queues: a debug build of the core
 * (Debian's) scans every outstanding tag of a queue on each completion, so
 * 10k open streams would otherwise cost every unary call; a vanished
 * client's thousands of streams are torn down on the stream workers; and a
 * push fans out over several queues.
 */
struct worker {
    pthread_t thread;
    grpc_completion_queue *cq;
    struct rpc_server *srv;
    bool streams_only; /* a stream worker */

    /* The streams whose calls live on this worker's queue (circular list
     * through rcall.snext/sprev; the head's other fields are unused). */
    pthread_mutex_t streams_mu;
    struct rcall *streams;

    /* Fan-out requests: a publisher records its source here and wakes the
     * worker with one event on its queue (see worker_wake()). */
    pthread_mutex_t pend_mu;
    struct source *pending[PENDING_SOURCES];
    int n_pending;
    bool pending_all;
    bool wake_busy; /* a wake call is in flight */
    bool wake_off;  /* the queue is shutting down: no more wake calls */
    struct rpc_tag t_wake;
    grpc_call *wake_call;
    grpc_metadata_array wake_md;
    grpc_status_code wake_status;
    grpc_slice wake_details;
};

struct rcall {
    struct rpc_tag t_new, t_ops, t_close, t_send, t_recv;
    struct rpc_server *srv;
    struct worker *w;      /* the worker whose queue carries the call's events */
    struct worker *notify; /* the call worker that posted the slot */
    enum method method;
    pthread_mutex_t mu;
    int refs;

    grpc_call *call;
    int64_t started_ns; /* when the call arrived (metrics) */
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload; /* request (registered unary/server-streaming) */
    grpc_call_details details; /* generic calls */

    /* sending */
    grpc_byte_buffer *send_bb;
    grpc_slice status_details;
    bool status_details_set;
    int cancelled; /* RECV_CLOSE_ON_SERVER result */
    bool closed;   /* RECV_CLOSE completed */
    bool finished; /* status sent (or being sent) */

    /* parked unary call */
    struct source_waiter waiter;
    uint8_t *req_bytes;
    size_t req_len;

    /* streams */
    struct rcall *snext, *sprev;
    bool registered;
    bool watch; /* Health.Watch rather than StreamIsActive */
    struct meta_request req;
    bool have_first, last_active, last_saturated;
    int last_health;
    bool send_busy;
    bool want_finish;
    uint8_t queue[STREAM_QUEUE];
    int queued;

    /* reflection */
    grpc_byte_buffer *recv_bb;

    struct source *src; /* where c->req's data comes from (data calls, streams) */
    bool watching;      /* a StreamIsActive holding a watch on its model */

    /* the llm-d.ai/managed path */
    struct kube_waiter kwaiter;
    struct managed_ctx mctx;
    bool mresolved;
};

struct rpc_server {
    struct rpc_options opt;
    char *listen;
    grpc_server *server;
    grpc_server_credentials *creds;
    grpc_tls_certificate_provider *provider;
    void *registered[M_COUNT];
    struct worker *workers; /* [0, ncall) call workers, then stream workers */
    int nworkers, ncall;
    atomic_uint next_lane; /* the stream worker the next stream slot binds to */
    int port;
    atomic_bool shutting_down;
    atomic_long inflight; /* accepted calls not yet freed */
    bool stopped;

    atomic_long n_streams;   /* registered streams, all workers */
    grpc_channel *wake_chan; /* lame: its calls fail at once (worker_wake()) */

    pthread_t reaper;
    atomic_bool reaper_stop;
    bool reaper_started;

    pthread_mutex_t warned_mu;
    uint64_t *warned; /* open-addressing set of model-key hashes (0 = empty) */
    size_t warned_cap, warned_n;
};

/* ---- small helpers ------------------------------------------------------ */

static void call_ref(struct rcall *c)
{
    pthread_mutex_lock(&c->mu);
    c->refs++;
    pthread_mutex_unlock(&c->mu);
}

static void call_free(struct rcall *c)
{
    if (c->call) {
        grpc_call_unref(c->call);
        atomic_fetch_sub(&c->srv->inflight, 1);
    }
    grpc_metadata_array_destroy(&c->md);
    if (c->method == M_GENERIC)
        grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->send_bb)
        grpc_byte_buffer_destroy(c->send_bb);
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    if (c->status_details_set)
        grpc_slice_unref(c->status_details);
    free(c->req_bytes);
    meta_request_clear(&c->req);
    managed_ctx_clear(&c->mctx);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void call_unref(struct rcall *c)
{
    int left;
    pthread_mutex_lock(&c->mu);
    left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left == 0)
        call_free(c);
}

/* Whole byte buffer into a malloc'd array (caller frees). */
static enum err_code read_buffer(grpc_byte_buffer *bb, uint8_t **out, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_slice s;

    *out = NULL;
    *len = 0;
    if (!bb)
        return ERR_OK;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return ERR_INVALID;
    s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(s);
    *out = malloc(*len ? *len : 1);
    if (!*out) {
        grpc_slice_unref(s);
        return ERR_NOMEM;
    }
    memcpy(*out, GRPC_SLICE_START_PTR(s), *len);
    grpc_slice_unref(s);
    return ERR_OK;
}

static grpc_byte_buffer *make_buffer(const uint8_t *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* The one mapping of our error codes to gRPC status codes. */
static grpc_status_code status_of(enum err_code rc)
{
    switch (rc) {
    case ERR_OK:
        return GRPC_STATUS_OK;
    case ERR_INVALID:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case ERR_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case ERR_PRECONDITION:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case ERR_UNAVAILABLE:
    case ERR_AGAIN:
        return GRPC_STATUS_UNAVAILABLE;
    case ERR_TIMEOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ERR_NOMEM:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ERR_IO:
    case ERR_INTERNAL:
        break;
    }
    return GRPC_STATUS_INTERNAL;
}

static int64_t deadline_ms(gpr_timespec d)
{
    gpr_timespec mono = gpr_convert_clock_type(d, GPR_CLOCK_MONOTONIC);
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    int64_t left_ms;

    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0)
        return 0;
    left_ms = gpr_time_to_millis(gpr_time_sub(mono, now));
    return source_now_ms() + (left_ms > 0 ? left_ms : 0);
}

/* ---- finishing a call --------------------------------------------------- */

static void on_ops_done(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_ops);
    (void)ok;
    call_unref(c);
}

/*
 * Answer a unary call (or a stream that never started): initial metadata,
 * the response (when resp != NULL), status and close, in one batch. Takes
 * a reference for the batch.
 */
static void finish_unary(struct rcall *c, grpc_status_code code, const char *msg,
                         const uint8_t *resp, size_t resp_len)
{
    grpc_op ops[4];
    size_t n = 0;
    grpc_call_error e;

    memset(ops, 0, sizeof(ops));
    {
        struct timespec now;
        enum metrics_method m = metric_of[c->method];
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (c->method == M_GENERIC) { /* StreamMetricSpec is worth its own series */
            char path[128]; /* a slice is not NUL-terminated: copy, bounded */
            size_t n = GRPC_SLICE_LENGTH(c->details.method);
            if (n >= sizeof(path))
                n = sizeof(path) - 1;
            memcpy(path, GRPC_SLICE_START_PTR(c->details.method), n);
            path[n] = '\0';
            m = metrics_method_from_path(path);
        }
        metrics_rpc(m, (int)code,
                    (double)((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - c->started_ns) / 1e9);
    }
    pthread_mutex_lock(&c->mu);
    c->refs++;
    c->finished = true;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    n++;
    if (resp) {
        c->send_bb = make_buffer(resp, resp_len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send_bb;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    if (msg && *msg) {
        c->status_details = grpc_slice_from_copied_string(msg);
        c->status_details_set = true;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    e = grpc_call_start_batch(c->call, ops, n, &c->t_ops, NULL);
    pthread_mutex_unlock(&c->mu);
    if (e != GRPC_CALL_OK) {
        log_write(LOG_ERROR, "rpc", "start_batch failed: %d", (int)e);
        call_unref(c);
    }
}

static void finish_error(struct rcall *c, enum err_code rc, const char *msg)
{
    finish_unary(c, status_of(rc), msg, NULL, 0);
}

/* ---- request slots ------------------------------------------------------ */

static void on_new_call(struct rpc_tag *t, bool ok);

static bool is_stream_method(enum method m)
{
    return m == M_STREAM_IS_ACTIVE || m == M_HEALTH_WATCH;
}

/* Post a request slot on call worker nw (bound to a stream worker for the
 * stream methods). */
static void post_slot(struct worker *nw, enum method m)
{
    struct rpc_server *srv = nw->srv;
    struct worker *w = nw;
    struct rcall *c;
    grpc_call_error e;

    if (atomic_load(&srv->shutting_down))
        return;
    if (is_stream_method(m) && srv->nworkers > srv->ncall) {
        unsigned lane = atomic_fetch_add(&srv->next_lane, 1);
        w = &srv->workers[srv->ncall + (int)(lane % (unsigned)(srv->nworkers - srv->ncall))];
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        log_write(LOG_ERROR, "rpc", "out of memory posting a request slot");
        return;
    }
    c->t_new.fn = on_new_call;
    c->srv = srv;
    c->w = w;
    c->notify = nw;
    c->method = m;
    c->refs = 1; /* the slot itself */
    pthread_mutex_init(&c->mu, NULL);
    grpc_metadata_array_init(&c->md);
    if (m == M_GENERIC) {
        grpc_call_details_init(&c->details);
        e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->md, w->cq, nw->cq,
                                     &c->t_new);
    } else {
        e = grpc_server_request_registered_call(
            srv->server, srv->registered[m], &c->call, &c->deadline, &c->md,
            methods[m].payload == GRPC_SRM_PAYLOAD_NONE ? NULL : &c->payload, w->cq, nw->cq,
            &c->t_new);
    }
    if (e != GRPC_CALL_OK) {
        log_write(LOG_ERROR, "rpc", "request_call failed: %d", (int)e);
        call_free(c);
    }
}

/* ---- ExternalScaler ----------------------------------------------------- */

/* Metadata map of a ScaledObjectRef as parallel arrays (borrowed). */
struct kv_view {
    const char **keys, **values;
    size_t n;
};

static enum err_code view_metadata(const Externalscaler__ScaledObjectRef *ref, struct kv_view *v)
{
    size_t i;

    v->n = ref ? ref->n_scalermetadata : 0;
    v->keys = calloc(v->n ? v->n : 1, sizeof(char *));
    v->values = calloc(v->n ? v->n : 1, sizeof(char *));
    if (!v->keys || !v->values) {
        free(v->keys);
        free(v->values);
        return ERR_NOMEM;
    }
    for (i = 0; i < v->n; i++) {
        v->keys[i] = ref->scalermetadata[i]->key ? ref->scalermetadata[i]->key : "";
        v->values[i] = ref->scalermetadata[i]->value ? ref->scalermetadata[i]->value : "";
    }
    return ERR_OK;
}

static void view_free(struct kv_view *v)
{
    free(v->keys);
    free(v->values);
}

static enum err_code parse_ref(struct rpc_server *srv, const Externalscaler__ScaledObjectRef *ref,
                               const struct managed_ctx *mctx, struct meta_request *out,
                               char *why, size_t why_len)
{
    struct kv_view v;
    struct meta_options mo;
    struct meta_layer object_layer;
    struct cfgver *ver = NULL;
    enum err_code rc;

    if (!ref) {
        snprintf(why, why_len, "scaledObjectRef: required");
        return ERR_INVALID;
    }
    rc = view_metadata(ref, &v);
    if (rc)
        return rc;
    memset(&mo, 0, sizeof(mo));
    mo.allow_cross_namespace = srv->opt.allow_cross_namespace;
    if (srv->opt.configs) {
        /* Resolution: metadata, the model's override, the config's defaults,
         * from the config version current now (a reload may swap it). */
        const struct config *cfg = cfgstore_acquire(srv->opt.configs, &ver);
        mo.select_layers = config_select_layers;
        mo.select_arg = (void *)cfg;
        mo.layers = config_default_layers(cfg, &mo.n_layers);
    }
    if (mctx && mctx->managed) {
        /* The annotation path: model id and min/max/cost from the object,
         * below whatever the trigger metadata says. */
        mo.model_id_fallback = mctx->model_id;
        object_layer.source = mctx->layer_source;
        object_layer.decision = &mctx->layer;
        mo.object_layer = &object_layer;
    }
    rc = meta_parse(ref->name ? ref->name : "", ref->namespace_ ? ref->namespace_ : "",
                    (const char *const *)v.keys, (const char *const *)v.values, v.n, &mo, out,
                    why, why_len);
    cfgstore_release(ver);
    view_free(&v);
    return rc;
}

/* Warn once per model that has no series at all. */
static void warn_no_series(struct rpc_server *srv, const struct meta_request *req)
{
    char key[META_MODEL_KEY_LEN];
    uint64_t h;
    size_t i;
    bool fresh = false;

    meta_model_key(req, key, sizeof(key));
    h = meta_key_hash(key);
    if (h == 0)
        h = 1;
    pthread_mutex_lock(&srv->warned_mu);
    if (srv->warned_n * 2 >= srv->warned_cap && srv->warned_cap < (1u << 20)) {
        size_t ncap = srv->warned_cap ? srv->warned_cap * 2 : 256;
        uint64_t *n = calloc(ncap, sizeof(*n));
        if (n) {
            for (i = 0; i < srv->warned_cap; i++) {
                size_t j;
                if (!srv->warned[i])
                    continue;
                for (j = srv->warned[i] & (ncap - 1); n[j]; j = (j + 1) & (ncap - 1))
                    ;
                n[j] = srv->warned[i];
            }
            free(srv->warned);
            srv->warned = n;
            srv->warned_cap = ncap;
        }
    }
    if (srv->warned_cap && srv->warned_n + 1 < srv->warned_cap) {
        for (i = h & (srv->warned_cap - 1); srv->warned[i] && srv->warned[i] != h;
             i = (i + 1) & (srv->warned_cap - 1))
            ;
        if (!srv->warned[i]) {
            srv->warned[i] = h;
            srv->warned_n++;
            fresh = true;
        }
    }
    pthread_mutex_unlock(&srv->warned_mu);
    if (fresh) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), req->model_id);
        log_write(LOG_WARN, "decision",
                  "no series for model %s in namespace %s (ScaledObject %s): answering "
                  "minReplicas %lld; is modelID right?",
                  q, req->namespace_, req->name, (long long)req->resolved.min_replicas);
    }
}

static void answer_get_metric_spec(struct rcall *c, const Externalscaler__ScaledObjectRef *ref)
{
    char name[META_METRIC_NAME_LEN], why[META_WHY_LEN];
    struct kv_view v;
    Externalscaler__GetMetricSpecResponse resp = EXTERNALSCALER__GET_METRIC_SPEC_RESPONSE__INIT;
    Externalscaler__MetricSpec spec = EXTERNALSCALER__METRIC_SPEC__INIT;
    Externalscaler__MetricSpec *specs[1] = {&spec};
    uint8_t buf[512];
    size_t len;
    enum err_code rc;

    rc = view_metadata(ref, &v);
    if (rc) {
        finish_error(c, rc, "out of memory");
        return;
    }
    rc = meta_metric_name((const char *const *)v.keys, (const char *const *)v.values, v.n, name,
                          sizeof(name), why, sizeof(why));
    view_free(&v);
    if (rc) {
        finish_error(c, rc, why);
        return;
    }
    spec.metricname = name;
    spec.targetsize = 1;
    spec.targetsizefloat = 1.0;
    resp.n_metricspecs = 1;
    resp.metricspecs = specs;
    len = externalscaler__get_metric_spec_response__pack(&resp, buf);
    finish_unary(c, GRPC_STATUS_OK, NULL, buf, len);
}

/*
 * GetMetrics and IsActive: answer from the current snapshot, park while the
 * first fetch is in flight, UNAVAILABLE when the last fetch failed.
 */
static void on_parked_ready(struct source_waiter *w, enum err_code rc);

static void key_of(const struct meta_request *req, struct source_key *key)
{
    key->ns = req->namespace_;
    key->model = req->model_id;
    key->scale_to_zero_ms = req->resolved.scale_to_zero_ms;
}

enum step { STEP_READY, STEP_PARKED, STEP_ANSWERED };

static void on_kube_ready(struct kube_waiter *w, enum err_code rc);

/* The ScaledObjectRef's namespace and name, from the raw request. */
static bool ref_names(struct rcall *c, char *ns, size_t ns_len, char *name, size_t name_len,
                      char *model, size_t model_len)
{
    Externalscaler__ScaledObjectRef *ref = NULL;
    Externalscaler__GetMetricsRequest *gm = NULL;
    const Externalscaler__ScaledObjectRef *r;

    if (c->method == M_GET_METRICS) {
        gm = externalscaler__get_metrics_request__unpack(NULL, c->req_len, c->req_bytes);
        r = gm ? gm->scaledobjectref : NULL;
    } else {
        ref = externalscaler__scaled_object_ref__unpack(NULL, c->req_len, c->req_bytes);
        r = ref;
    }
    if (r) {
        size_t i;
        snprintf(ns, ns_len, "%s", r->namespace_ ? r->namespace_ : "");
        snprintf(name, name_len, "%s", r->name ? r->name : "");
        model[0] = '\0';
        for (i = 0; i < r->n_scalermetadata; i++)
            if (r->scalermetadata[i]->key && strcmp(r->scalermetadata[i]->key, "modelID") == 0 &&
                r->scalermetadata[i]->value)
                snprintf(model, model_len, "%s", r->scalermetadata[i]->value);
    }
    if (gm)
        externalscaler__get_metrics_request__free_unpacked(gm, NULL);
    if (ref)
        externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
    return r != NULL;
}

/*
 * With --kube: read the ScaledObject (and, when it is llm-d.ai/managed, its
 * variants and their scale targets) into c->mctx before the metadata is
 * parsed. Parks on the kube cache when a read is in flight.
 */
static enum step resolve_managed(struct rcall *c)
{
    char why[META_WHY_LEN], ns[300], name[300], model[META_MAX_VALUE_LEN + 1];
    enum err_code rc;

    if (!c->srv->opt.kube || c->mresolved)
        return STEP_READY;
    if (!ref_names(c, ns, sizeof(ns), name, sizeof(name), model, sizeof(model)))
        return STEP_READY; /* malformed: the parse step answers */
    call_ref(c); /* held by the kube waiter if the call parks */
    rc = managed_resolve(c->srv->opt.kube, ns, name, model[0] ? model : NULL, &c->mctx,
                         &c->kwaiter, deadline_ms(c->deadline), why, sizeof(why));
    if (rc == ERR_AGAIN)
        return STEP_PARKED; /* on_kube_ready() runs the call again */
    call_unref(c);
    if (rc) {
        finish_error(c, rc, why);
        return STEP_ANSWERED;
    }
    c->mresolved = true;
    return STEP_READY;
}

/* Parse a GetMetrics/IsActive request into c->req and route it to c->src.
 * Returns false when the call has been answered with an error. */
static bool prepare_data_call(struct rcall *c)
{
    char why[META_WHY_LEN];
    Externalscaler__ScaledObjectRef *ref = NULL;
    Externalscaler__GetMetricsRequest *gm = NULL;
    enum err_code rc;
    bool ok = false;

    why[0] = '\0';
    if (c->method == M_GET_METRICS) {
        gm = externalscaler__get_metrics_request__unpack(NULL, c->req_len, c->req_bytes);
        if (!gm) {
            finish_error(c, ERR_INVALID, "GetMetricsRequest: malformed message");
            return false;
        }
        ref = gm->scaledobjectref;
    } else {
        ref = externalscaler__scaled_object_ref__unpack(NULL, c->req_len, c->req_bytes);
        if (!ref) {
            finish_error(c, ERR_INVALID, "ScaledObjectRef: malformed message");
            return false;
        }
    }
    rc = parse_ref(c->srv, ref, &c->mctx, &c->req, why, sizeof(why));
    if (rc) {
        finish_error(c, rc, why);
        goto out;
    }
    if (gm && !meta_metric_name_equal(gm->metricname, c->req.metric_name)) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), gm->metricname);
        snprintf(why, sizeof(why), "metricName %s: this scaler serves \"%s\" for this trigger", q,
                 c->req.metric_name);
        finish_error(c, ERR_NOT_FOUND, why);
        goto out;
    }
    c->src = c->srv->opt.router.route(c->srv->opt.router.arg, &c->req, why, sizeof(why));
    if (!c->src) {
        finish_error(c, ERR_INVALID, why);
        goto out;
    }
    ok = true;
out:
    if (gm)
        externalscaler__get_metrics_request__free_unpacked(gm, NULL);
    else if (ref)
        externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
    return ok;
}

/*
 * GetMetrics and IsActive: answer from the current snapshot, park while the
 * first fetch covering the model is in flight, UNAVAILABLE when the last
 * fetch failed.
 */
static void answer_data_call(struct rcall *c)
{
    char why[META_WHY_LEN];
    struct source_key key;
    struct table *t = NULL;
    enum err_code rc;

    switch (resolve_managed(c)) {
    case STEP_READY:
        break;
    default:
        return;
    }
    if (!c->src && !prepare_data_call(c))
        return;
    key_of(&c->req, &key);
    call_ref(c); /* held by the parking lot if the call parks */
    metrics_parked_add(1);
    rc = source_acquire(c->src, &key, &t, &c->waiter, deadline_ms(c->deadline), why, sizeof(why));
    if (rc == ERR_AGAIN)
        return; /* on_parked_ready() answers and drops the reference */
    metrics_parked_add(-1);
    call_unref(c); /* not parked; the caller still holds its own */
    if (rc) {
        finish_error(c, rc, why);
        return;
    }
    if (c->method == M_GET_METRICS) {
        struct decide_result d;
        Externalscaler__GetMetricsResponse resp = EXTERNALSCALER__GET_METRICS_RESPONSE__INIT;
        Externalscaler__MetricValue mv = EXTERNALSCALER__METRIC_VALUE__INIT;
        Externalscaler__MetricValue *mvs[1] = {&mv};
        uint8_t buf[512];
        size_t len;

        if (c->mctx.managed) {
            /* Attribute the model's pods to variants (may read pods). */
            const struct table_model *tm = table_find(t, c->req.namespace_, c->req.model_id);
            size_t *attr = tm && tm->row_count ? calloc(tm->row_count, sizeof(*attr)) : NULL;
            if (tm && tm->row_count && !attr) {
                finish_error(c, ERR_NOMEM, "out of memory");
                table_unref(t);
                return;
            }
            if (attr) {
                call_ref(c); /* held by the kube waiter if the call parks */
                rc = managed_attribute(c->srv->opt.kube, c->req.namespace_, &c->mctx, tm, attr,
                                       &c->kwaiter, deadline_ms(c->deadline), why, sizeof(why));
                if (rc == ERR_AGAIN) {
                    free(attr);
                    table_unref(t);
                    return; /* on_kube_ready() runs the call again */
                }
                call_unref(c);
                if (rc) {
                    free(attr);
                    finish_error(c, rc, why);
                    table_unref(t);
                    return;
                }
            }
            rc = managed_decide(t, &c->req, &c->mctx, attr, &d);
            free(attr);
        } else {
            rc = decide_eval(t, &c->req, NULL, NULL, &d);
        }
        if (rc) {
            finish_error(c, rc, "decision failed");
            table_unref(t);
            return;
        }
        if (!d.has_series && !c->mctx.managed)
            warn_no_series(c->srv, &c->req);
        mv.metricname = c->req.metric_name;
        mv.metricvaluefloat = (double)d.desired;
        mv.metricvalue = (int64_t)ceil(mv.metricvaluefloat);
        resp.n_metricvalues = 1;
        resp.metricvalues = mvs;
        if (c->srv->opt.decisions) /* takes the analysis; logs changes */
            decisions_record(c->srv->opt.decisions, &c->req, source_name(c->src), &d,
                             source_now_ms());
        decide_result_clear(&d);
        len = externalscaler__get_metrics_response__pack(&resp, buf);
        finish_unary(c, GRPC_STATUS_OK, NULL, buf, len);
    } else {
        Externalscaler__IsActiveResponse resp = EXTERNALSCALER__IS_ACTIVE_RESPONSE__INIT;
        bool active, saturated;
        uint8_t buf[16];
        size_t len;

        decide_activation(t, &c->req, &active, &saturated);
        resp.result = active;
        {
            struct metrics_scaledobject_values v = metrics_scaledobject_unknown;
            v.active = active;
            metrics_scaledobject(c->req.namespace_, c->req.name, c->req.model_id, &v,
                                 source_now_ms());
        }
        len = externalscaler__is_active_response__pack(&resp, buf);
        finish_unary(c, GRPC_STATUS_OK, NULL, buf, len);
    }
    table_unref(t);
}

static void on_parked_ready(struct source_waiter *w, enum err_code rc)
{
    struct rcall *c = CONTAINER_OF(w, struct rcall, waiter);

    metrics_parked_add(-1);
    if (rc == ERR_TIMEOUT) {
        char why[600];
        snprintf(why, sizeof(why), "%s: no data yet for this model: the fetch did not finish in time",
                 source_name(c->src));
        finish_error(c, ERR_UNAVAILABLE, why);
    } else {
        /* ERR_OK: covered now; ERR_UNAVAILABLE: the re-acquire carries the
         * source's failure text. */
        answer_data_call(c);
    }
    call_unref(c); /* the parking lot's reference */
}

static void start_stream_is_active(struct rcall *c);

static void on_kube_ready(struct kube_waiter *w, enum err_code rc)
{
    struct rcall *c = CONTAINER_OF(w, struct rcall, kwaiter);

    if (rc == ERR_TIMEOUT)
        finish_error(c, ERR_UNAVAILABLE, "kubernetes API: no answer in time");
    else if (c->method == M_STREAM_IS_ACTIVE)
        start_stream_is_active(c);
    else
        answer_data_call(c);
    call_unref(c); /* the kube waiter's reference */
}

/* ---- streams ------------------------------------------------------------ */

static void stream_kick(struct rcall *c);

static void on_stream_send(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_send);

    pthread_mutex_lock(&c->mu);
    c->send_busy = false;
    if (c->send_bb) {
        grpc_byte_buffer_destroy(c->send_bb);
        c->send_bb = NULL;
    }
    if (!ok)
        c->queued = 0; /* the client is gone; RECV_CLOSE cleans up */
    stream_kick(c);
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

static void on_stream_status(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_ops);
    (void)ok;
    call_unref(c);
}

/* Under c->mu: send the next queued message, or the final status. */
static void stream_kick(struct rcall *c)
{
    grpc_op op;
    grpc_call_error e;

    if (c->send_busy || c->finished || c->closed)
        return;
    memset(&op, 0, sizeof(op));
    if (c->queued > 0) {
        uint8_t buf[16];
        size_t len;
        if (c->watch) {
            uint8_t *hb = NULL;
            size_t hl = 0;
            if (health_encode_response((enum health_status)c->queue[0], &hb, &hl) != ERR_OK)
                return;
            c->send_bb = make_buffer(hb, hl);
            free(hb);
        } else {
            Externalscaler__IsActiveResponse resp = EXTERNALSCALER__IS_ACTIVE_RESPONSE__INIT;
            resp.result = c->queue[0] != 0;
            len = externalscaler__is_active_response__pack(&resp, buf);
            c->send_bb = make_buffer(buf, len);
            metrics_stream_message(resp.result);
        }
        memmove(c->queue, c->queue + 1, (size_t)(c->queued - 1));
        c->queued--;
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = c->send_bb;
        c->refs++;
        c->send_busy = true;
        e = grpc_call_start_batch(c->call, &op, 1, &c->t_send, NULL);
        if (e != GRPC_CALL_OK) {
            c->refs--;
            c->send_busy = false;
            log_write(LOG_ERROR, "rpc", "stream send failed to start: %d", (int)e);
        }
        return;
    }
    if (c->want_finish) {
        op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        op.data.send_status_from_server.status = GRPC_STATUS_OK;
        c->finished = true;
        c->t_ops.fn = on_stream_status;
        c->refs++;
        e = grpc_call_start_batch(c->call, &op, 1, &c->t_ops, NULL);
        if (e != GRPC_CALL_OK) {
            c->refs--;
            log_write(LOG_ERROR, "rpc", "stream status failed to start: %d", (int)e);
        }
    }
}

static void stream_enqueue(struct rcall *c, uint8_t v)
{
    if (c->queued == STREAM_QUEUE)
        c->queued--; /* keep the newest state; older edges are moot */
    c->queue[c->queued++] = v;
}

/* Re-evaluate one StreamIsActive stream against snapshot t of its source
 * (NULL: nothing yet). Silent until a snapshot covers its model. */
static void stream_evaluate(struct rcall *c, const struct table *t)
{
    struct source_key key;
    bool active, saturated;

    if (c->watch || !t)
        return;
    key_of(&c->req, &key);
    if (!source_table_covers(t, &key))
        return;
    decide_activation(t, &c->req, &active, &saturated);
    pthread_mutex_lock(&c->mu);
    if (!c->finished && !c->closed && !c->want_finish) {
        if (!c->have_first) {
            c->have_first = true;
            stream_enqueue(c, active);
        } else if ((active && !c->last_active) || (saturated && !c->last_saturated)) {
            stream_enqueue(c, 1);
        } else if (!active && c->last_active) {
            stream_enqueue(c, 0);
        }
        c->last_active = active;
        c->last_saturated = saturated;
        stream_kick(c);
    }
    pthread_mutex_unlock(&c->mu);
}

static enum health_status current_health(struct rpc_server *srv, const char *service)
{
    if (strcmp(service, "") != 0 && strcmp(service, "externalscaler.ExternalScaler") != 0)
        return HEALTH_SERVICE_UNKNOWN;
    return atomic_load(&srv->shutting_down) ? HEALTH_NOT_SERVING : HEALTH_SERVING;
}

static void watch_evaluate(struct rcall *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->finished && !c->closed) {
        const char *svc = c->req.name ? c->req.name : "";
        int h = (int)current_health(c->srv, svc);
        if (h != c->last_health) {
            c->last_health = h;
            stream_enqueue(c, (uint8_t)h);
        }
        stream_kick(c);
    }
    pthread_mutex_unlock(&c->mu);
}

/*
 * Push fan-out. A publisher does not touch the streams: it records its
 * source in each worker's pending set and wakes the worker with a single
 * event on the worker's own queue. The worker then re-evaluates its own
 * streams against the source's current snapshot and starts their sends,
 * so every send and its completion stay on one thread: no thread
 * hand-off per message, and snapshots published during a fan-out fold
 * into the next one.
 *
 * The wake event is a call on a lame channel (public API, no timer): it
 * fails at once and its completion lands on the worker's queue. At most
 * one is in flight per worker.
 */
static void on_wake(struct rpc_tag *t, bool ok);

/* Under w->pend_mu. */
static void worker_wake(struct worker *w)
{
    grpc_op ops[2];
    grpc_call_error e;

    if (w->wake_busy || w->wake_off)
        return;
    w->wake_call = grpc_channel_create_call(w->srv->wake_chan, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq,
                                            grpc_slice_from_static_string("/wake"), NULL,
                                            gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (!w->wake_call) {
        log_write(LOG_ERROR, "rpc", "could not create a wake call: streams wait for the next event");
        return;
    }
    memset(ops, 0, sizeof(ops));
    grpc_metadata_array_init(&w->wake_md);
    w->wake_details = grpc_empty_slice();
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[1].data.recv_status_on_client.trailing_metadata = &w->wake_md;
    ops[1].data.recv_status_on_client.status = &w->wake_status;
    ops[1].data.recv_status_on_client.status_details = &w->wake_details;
    w->t_wake.fn = on_wake;
    e = grpc_call_start_batch(w->wake_call, ops, 2, &w->t_wake, NULL);
    if (e != GRPC_CALL_OK) {
        log_write(LOG_ERROR, "rpc", "could not start a wake call: %d", (int)e);
        grpc_metadata_array_destroy(&w->wake_md);
        grpc_call_unref(w->wake_call);
        w->wake_call = NULL;
        return;
    }
    w->wake_busy = true;
}

/* Source subscriber (the publisher's thread): wake every worker. */
static void on_snapshot(void *arg, struct source *src, struct table *t)
{
    struct rpc_server *srv = arg;
    int i, k;
    (void)t; /* workers read the source's current snapshot: newer or equal */

    for (i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (srv->nworkers > srv->ncall && !w->streams_only)
            continue; /* no StreamIsActive on it */
        pthread_mutex_lock(&w->pend_mu);
        for (k = 0; k < w->n_pending && w->pending[k] != src; k++)
            ;
        if (k == w->n_pending) {
            if (w->n_pending < PENDING_SOURCES)
                w->pending[w->n_pending++] = src;
            else
                w->pending_all = true;
        }
        worker_wake(w);
        pthread_mutex_unlock(&w->pend_mu);
    }
}

/* The worker's side: re-evaluate its streams of the pending sources (and
 * keep their models of interest). */
static void on_wake(struct rpc_tag *t, bool ok)
{
    struct worker *w = CONTAINER_OF(t, struct worker, t_wake);
    struct source *srcs[PENDING_SOURCES];
    struct table *tabs[PENDING_SOURCES];
    int n, k;
    bool all;
    struct rcall *c;
    (void)ok; /* a lame call always fails; the event is what counts */

    grpc_metadata_array_destroy(&w->wake_md);
    grpc_slice_unref(w->wake_details);
    grpc_call_unref(w->wake_call);
    pthread_mutex_lock(&w->pend_mu);
    w->wake_call = NULL;
    w->wake_busy = false;
    n = w->n_pending;
    memcpy(srcs, w->pending, sizeof(srcs[0]) * (size_t)n);
    all = w->pending_all;
    w->n_pending = 0;
    w->pending_all = false;
    pthread_mutex_unlock(&w->pend_mu);

    /* One snapshot per source for the whole pass (taken after the
     * pending set: never older than what was announced). */
    for (k = 0; k < n; k++)
        tabs[k] = source_current(srcs[k]);
    pthread_mutex_lock(&w->streams_mu);
    for (c = w->streams->snext; c != w->streams; c = c->snext) {
        struct source_key key;
        struct table *tab = NULL;
        bool own = false;
        if (c->watch)
            continue;
        for (k = 0; k < n && srcs[k] != c->src; k++)
            ;
        if (k < n)
            tab = tabs[k];
        else if (all) {
            tab = source_current(c->src);
            own = true;
        } else
            continue;
        key_of(&c->req, &key);
        source_touch(c->src, &key);
        stream_evaluate(c, tab);
        if (own)
            table_unref(tab);
    }
    pthread_mutex_unlock(&w->streams_mu);
    for (k = 0; k < n; k++)
        table_unref(tabs[k]);
}

static void on_stream_close(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_close);
    struct rpc_server *srv = c->srv;
    bool was_registered;
    (void)ok;

    pthread_mutex_lock(&c->mu);
    c->closed = true;
    c->queued = 0;
    pthread_mutex_unlock(&c->mu);

    pthread_mutex_lock(&c->mu);
    if (c->watching) {
        struct source_key key;
        key_of(&c->req, &key);
        source_watch(c->src, &key, -1);
        c->watching = false;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&c->w->streams_mu);
    was_registered = c->registered;
    if (was_registered) {
        c->sprev->snext = c->snext;
        c->snext->sprev = c->sprev;
        c->registered = false;
        atomic_fetch_sub(&srv->n_streams, 1);
    }
    pthread_mutex_unlock(&c->w->streams_mu);
    if (was_registered)
        call_unref(c); /* the registry's reference */
    call_unref(c);     /* the close batch's reference */
}

/* Start the close watch and register the stream. Returns false on failure
 * (the call has been finished with an error then). */
static bool stream_open(struct rcall *c)
{
    struct rpc_server *srv = c->srv;
    grpc_op ops[2];
    grpc_call_error e;

    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = &c->cancelled;
    c->t_close.fn = on_stream_close;
    c->t_send.fn = on_stream_send;
    pthread_mutex_lock(&c->mu);
    c->refs += 2; /* close batch + registry */
    e = grpc_call_start_batch(c->call, ops, 2, &c->t_close, NULL);
    if (e != GRPC_CALL_OK) {
        c->refs -= 2;
        pthread_mutex_unlock(&c->mu);
        finish_error(c, ERR_INTERNAL, "could not start the stream");
        return false;
    }
    pthread_mutex_unlock(&c->mu);

    pthread_mutex_lock(&c->w->streams_mu);
    if (c->closed || atomic_load(&srv->shutting_down)) {
        pthread_mutex_unlock(&c->w->streams_mu);
        pthread_mutex_lock(&c->mu);
        c->want_finish = true;
        stream_kick(c);
        pthread_mutex_unlock(&c->mu);
        call_unref(c); /* never registered */
        return false;
    }
    c->registered = true;
    c->snext = c->w->streams;
    c->sprev = c->w->streams->sprev;
    c->w->streams->sprev->snext = c;
    c->w->streams->sprev = c;
    atomic_fetch_add(&srv->n_streams, 1);
    pthread_mutex_unlock(&c->w->streams_mu);
    return true;
}

static void start_stream_is_active(struct rcall *c)
{
    char why[META_WHY_LEN];
    Externalscaler__ScaledObjectRef *ref;
    struct table *t;
    enum err_code rc;

    if (resolve_managed(c) != STEP_READY)
        return; /* parked (on_kube_ready() starts it again) or answered */
    ref = externalscaler__scaled_object_ref__unpack(NULL, c->req_len, c->req_bytes);
    if (!ref) {
        finish_error(c, ERR_INVALID, "ScaledObjectRef: malformed message");
        return;
    }
    rc = parse_ref(c->srv, ref, &c->mctx, &c->req, why, sizeof(why));
    externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
    if (rc) {
        finish_error(c, rc, why);
        return;
    }
    c->src = c->srv->opt.router.route(c->srv->opt.router.arg, &c->req, why, sizeof(why));
    if (!c->src) {
        finish_error(c, ERR_INVALID, why);
        return;
    }
    if (!stream_open(c))
        return;
    /* Watch the model (it stays of interest while the stream is open),
     * then the first message as soon as a snapshot covers it (now, or on a
     * later publish). */
    {
        /* Under c->mu: the close may complete on a worker meanwhile (this
         * can run on the kube thread). Lock order: call, source, group. */
        struct source_key key;
        key_of(&c->req, &key);
        pthread_mutex_lock(&c->mu);
        if (!c->closed) {
            source_watch(c->src, &key, +1);
            c->watching = true;
        }
        pthread_mutex_unlock(&c->mu);
    }
    t = source_current(c->src);
    stream_evaluate(c, t);
    table_unref(t);
}

static void start_health(struct rcall *c, bool watch)
{
    char *service = NULL;
    enum health_status st;

    if (health_parse_request(c->req_bytes, c->req_len, &service) != ERR_OK) {
        finish_error(c, ERR_INVALID, "HealthCheckRequest: malformed message");
        return;
    }
    st = current_health(c->srv, service);
    if (!watch) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (st == HEALTH_SERVICE_UNKNOWN) {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown service \"%.200s\"", service);
            finish_error(c, ERR_NOT_FOUND, msg);
        } else if (health_encode_response(st, &buf, &len) == ERR_OK) {
            finish_unary(c, GRPC_STATUS_OK, NULL, buf, len);
        } else {
            finish_error(c, ERR_NOMEM, "out of memory");
        }
        free(buf);
        free(service);
        return;
    }
    c->watch = true;
    c->req.name = service; /* the watched service; freed with the request */
    c->last_health = -1;
    if (!stream_open(c))
        return;
    watch_evaluate(c);
}

/* ---- reflection (bidi) -------------------------------------------------- */

static void reflect_recv(struct rcall *c);

static void on_reflect_send(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_send);

    pthread_mutex_lock(&c->mu);
    if (c->send_bb) {
        grpc_byte_buffer_destroy(c->send_bb);
        c->send_bb = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (ok)
        reflect_recv(c);
    call_unref(c);
}

static void reflect_status(struct rcall *c, grpc_status_code code, const char *msg)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    pthread_mutex_lock(&c->mu);
    if (c->finished) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->finished = true;
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = code;
    if (msg) {
        c->status_details = grpc_slice_from_copied_string(msg);
        c->status_details_set = true;
        op.data.send_status_from_server.status_details = &c->status_details;
    }
    c->t_ops.fn = on_ops_done;
    c->refs++;
    if (grpc_call_start_batch(c->call, &op, 1, &c->t_ops, NULL) != GRPC_CALL_OK)
        c->refs--;
    pthread_mutex_unlock(&c->mu);
}

static void on_reflect_recv(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_recv);
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    grpc_byte_buffer *bb;
    grpc_op op;
    enum err_code rc;

    pthread_mutex_lock(&c->mu);
    bb = c->recv_bb;
    c->recv_bb = NULL;
    pthread_mutex_unlock(&c->mu);
    if (!ok || !bb) {
        /* half-close from the client (or it went away): done */
        reflect_status(c, GRPC_STATUS_OK, NULL);
        goto out;
    }
    rc = read_buffer(bb, &req, &req_len);
    grpc_byte_buffer_destroy(bb);
    if (!rc)
        rc = reflect_answer(c->srv->opt.reflect, c->method == M_REFLECT_V1 ? 1 : 0, req, req_len,
                            &resp, &resp_len);
    free(req);
    if (rc) {
        reflect_status(c, status_of(rc), "ServerReflectionRequest: malformed message");
        goto out;
    }
    memset(&op, 0, sizeof(op));
    pthread_mutex_lock(&c->mu);
    c->send_bb = make_buffer(resp, resp_len);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = c->send_bb;
    c->refs++;
    if (grpc_call_start_batch(c->call, &op, 1, &c->t_send, NULL) != GRPC_CALL_OK)
        c->refs--;
    pthread_mutex_unlock(&c->mu);
    free(resp);
out:
    call_unref(c);
}

static void reflect_recv(struct rcall *c)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    pthread_mutex_lock(&c->mu);
    if (c->closed || c->finished) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->refs++;
    if (grpc_call_start_batch(c->call, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK)
        c->refs--;
    pthread_mutex_unlock(&c->mu);
}

static void on_reflect_close(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_close);
    (void)ok;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

static void start_reflection(struct rcall *c)
{
    grpc_op ops[2];

    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = &c->cancelled;
    c->t_close.fn = on_reflect_close;
    c->t_send.fn = on_reflect_send;
    c->t_recv.fn = on_reflect_recv;
    pthread_mutex_lock(&c->mu);
    c->refs++;
    if (grpc_call_start_batch(c->call, ops, 2, &c->t_close, NULL) != GRPC_CALL_OK) {
        c->refs--;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    reflect_recv(c);
}

/* ---- dispatch ----------------------------------------------------------- */

static void on_new_call(struct rpc_tag *t, bool ok)
{
    struct rcall *c = CONTAINER_OF(t, struct rcall, t_new);
    enum err_code rc;

    if (!ok) { /* the server is shutting down: the slot is void */
        c->call = NULL;
        call_unref(c);
        return;
    }
    atomic_fetch_add(&c->srv->inflight, 1);
    {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        c->started_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    }
    post_slot(c->notify, c->method); /* keep the slot count constant */
    c->t_ops.fn = on_ops_done;
    c->waiter.fn = on_parked_ready;
    c->kwaiter.fn = on_kube_ready;

    if (c->method == M_GENERIC) {
        char msg[300];
        const char *m = (const char *)GRPC_SLICE_START_PTR(c->details.method);
        int mlen = (int)GRPC_SLICE_LENGTH(c->details.method);
        snprintf(msg, sizeof(msg), "method %.*s is not implemented by saturation-scaler",
                 mlen > 200 ? 200 : mlen, m);
        finish_unary(c, GRPC_STATUS_UNIMPLEMENTED, msg, NULL, 0);
        call_unref(c);
        return;
    }
    if (methods[c->method].payload != GRPC_SRM_PAYLOAD_NONE) {
        rc = read_buffer(c->payload, &c->req_bytes, &c->req_len);
        if (c->payload) {
            grpc_byte_buffer_destroy(c->payload);
            c->payload = NULL;
        }
        if (rc) {
            finish_error(c, rc, "could not read the request");
            call_unref(c);
            return;
        }
        /* Strings with a NUL (protobuf-c would cut them silently) or
         * invalid UTF-8 are refused before anything reads them.
         * GetMetricSpec stays lenient: it must never fail at creation. */
        if (c->method == M_GET_METRICS || c->method == M_IS_ACTIVE ||
            c->method == M_STREAM_IS_ACTIVE) {
            char why[300];
            rc = c->method == M_GET_METRICS
                     ? wire_check_get_metrics(c->req_bytes, c->req_len, why, sizeof(why))
                     : wire_check_ref(c->req_bytes, c->req_len, why, sizeof(why));
            if (rc) {
                finish_error(c, rc, why);
                call_unref(c);
                return;
            }
        }
    }
    switch (c->method) {
    case M_GET_METRIC_SPEC: {
        Externalscaler__ScaledObjectRef *ref =
            externalscaler__scaled_object_ref__unpack(NULL, c->req_len, c->req_bytes);
        if (!ref)
            finish_error(c, ERR_INVALID, "ScaledObjectRef: malformed message");
        else
            answer_get_metric_spec(c, ref);
        if (ref)
            externalscaler__scaled_object_ref__free_unpacked(ref, NULL);
        break;
    }
    case M_GET_METRICS:
    case M_IS_ACTIVE:
        answer_data_call(c);
        break;
    case M_STREAM_IS_ACTIVE:
        start_stream_is_active(c);
        break;
    case M_HEALTH_CHECK:
        start_health(c, false);
        break;
    case M_HEALTH_WATCH:
        start_health(c, true);
        break;
    case M_REFLECT_V1:
    case M_REFLECT_V1ALPHA:
        start_reflection(c);
        break;
    default:
        finish_error(c, ERR_INTERNAL, "unknown method");
        break;
    }
    call_unref(c); /* the slot's reference */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            struct rpc_tag *t = ev.tag;
            t->fn(t, ev.success != 0);
        }
    }
    return NULL;
}

/* How often the reaper hands freed heap memory back to the system. */
#define TRIM_INTERVAL_MS 10000

static void *reaper_main(void *arg)
{
    struct rpc_server *srv = arg;
    int64_t next_trim = source_now_ms() + TRIM_INTERVAL_MS;

    while (!atomic_load(&srv->reaper_stop)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        int64_t now = source_now_ms();
        srv->opt.router.expire(srv->opt.router.arg, now);
        if (srv->opt.kube)
            kube_expire(srv->opt.kube, now);
#ifdef __GLIBC__
        /* glibc keeps freed memory in its arenas (a dropped snapshot,
         * closed streams): without this, RSS climbs to the high-water mark
         * of every arena and stays there. */
        if (now >= next_trim) {
            malloc_trim(0);
            next_trim = now + TRIM_INTERVAL_MS;
        }
#endif
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

/* Collector: the open-stream gauge at scrape time. */
static void collect_streams(void *arg)
{
    metrics_open_streams_set((int64_t)rpc_open_streams(arg));
}

int rpc_default_workers(void)
{
    cpu_set_t set;
    int n = 0;
    FILE *f;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    f = fopen("/sys/fs/cgroup/cpu.max", "r"); /* cgroup v2: "quota period" or "max period" */
    if (f) {
        char q[32] = "";
        long long period = 0;
        if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
            char *end;
            long long quota = strtoll(q, &end, 10);
            if (*end == '\0' && quota > 0) {
                int lim = (int)((quota + period - 1) / period);
                if (lim >= 1 && lim < n)
                    n = lim;
            }
        }
        fclose(f);
    } else {
        FILE *fq = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r");
        FILE *fp = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r");
        long long quota = 0, period = 0;
        if (fq && fp && fscanf(fq, "%lld", &quota) == 1 && fscanf(fp, "%lld", &period) == 1 &&
            quota > 0 && period > 0) {
            int lim = (int)((quota + period - 1) / period);
            if (lim >= 1 && lim < n)
                n = lim;
        }
        if (fq)
            fclose(fq);
        if (fp)
            fclose(fp);
    }
    return n < 1 ? 1 : n;
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static enum err_code make_credentials(struct rpc_server *srv, char *why, size_t why_len)
{
    const struct rpc_options *o = &srv->opt;
    grpc_tls_credentials_options *to;

    if (!o->tls_cert_file && !o->tls_key_file && !o->tls_client_ca_file) {
        srv->creds = grpc_insecure_server_credentials_create();
        return ERR_OK;
    }
    if (!o->tls_cert_file || !o->tls_key_file) {
        snprintf(why, why_len, "--tls-cert-file and --tls-key-file must be given together%s",
                 o->tls_client_ca_file ? " (--tls-client-ca-file needs both)" : "");
        return ERR_INVALID;
    }
    if (!readable(o->tls_cert_file)) {
        snprintf(why, why_len, "--tls-cert-file %s: %s", o->tls_cert_file, strerror(errno));
        return ERR_INVALID;
    }
    if (!readable(o->tls_key_file)) {
        snprintf(why, why_len, "--tls-key-file %s: %s", o->tls_key_file, strerror(errno));
        return ERR_INVALID;
    }
    if (o->tls_client_ca_file && !readable(o->tls_client_ca_file)) {
        snprintf(why, why_len, "--tls-client-ca-file %s: %s", o->tls_client_ca_file,
                 strerror(errno));
        return ERR_INVALID;
    }
    /* The file watcher re-reads the files when they rotate. */
    srv->provider = grpc_tls_certificate_provider_file_watcher_create(
        o->tls_key_file, o->tls_cert_file, o->tls_client_ca_file, 1);
    if (!srv->provider) {
        snprintf(why, why_len, "could not load the TLS certificate or key");
        return ERR_INVALID;
    }
    to = grpc_tls_credentials_options_create();
    grpc_tls_credentials_options_set_certificate_provider(to, srv->provider);
    grpc_tls_credentials_options_watch_identity_key_cert_pairs(to);
    if (o->tls_client_ca_file) {
        grpc_tls_credentials_options_watch_root_certs(to);
        grpc_tls_credentials_options_set_cert_request_type(
            to, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    } else {
        grpc_tls_credentials_options_set_cert_request_type(to,
                                                           GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    }
    srv->creds = grpc_tls_server_credentials_create(to);
    if (!srv->creds) {
        snprintf(why, why_len, "could not create TLS server credentials");
        return ERR_INVALID;
    }
    return ERR_OK;
}

static void int_arg(grpc_arg *a, const char *key, int v)
{
    a->type = GRPC_ARG_INTEGER;
    a->key = (char *)key;
    a->value.integer = v;
}

enum err_code rpc_start(const struct rpc_options *opt, struct rpc_server **out, char *why,
                        size_t why_len)
{
    struct rpc_server *srv;
    grpc_arg args[8];
    grpc_channel_args cargs;
    enum err_code rc;
    int i, m, k;

    *out = NULL;
    if (why && why_len)
        why[0] = '\0';
    if (!opt->router.route || !opt->router.subscribe || !opt->router.expire || !opt->reflect ||
        opt->workers < 1 || opt->stream_workers < 0 || !opt->listen) {
        snprintf(why, why_len, "rpc_start: bad options");
        return ERR_INVALID;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return ERR_NOMEM;
    srv->opt = *opt;
    srv->listen = strdup(opt->listen);
    if (!srv->listen) {
        free(srv);
        return ERR_NOMEM;
    }
    srv->opt.listen = srv->listen;
    pthread_mutex_init(&srv->warned_mu, NULL);

    rc = make_credentials(srv, why, why_len);
    if (rc)
        goto fail;

    int_arg(&args[0], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 1024 * 1024);
    /* 10k push ScaledObjects share one connection: leave ample room. */
    int_arg(&args[1], GRPC_ARG_MAX_CONCURRENT_STREAMS, 100000);
    /* Ping idle connections so dead peers are reaped. */
    int_arg(&args[2], GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
    int_arg(&args[3], GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
    int_arg(&args[4], GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    int_arg(&args[5], GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    /* Tolerate clients (KEDA) that ping every 10 s or more. */
    int_arg(&args[6], GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
    /* KEDA sends a few small headers: do not let a client pin large ones
     * for the life of its calls. */
    int_arg(&args[7], GRPC_ARG_MAX_METADATA_SIZE, 16 * 1024);
    cargs.num_args = sizeof(args) / sizeof(args[0]);
    cargs.args = args;

    srv->server = grpc_server_create(&cargs, NULL);
    for (m = 0; m < M_COUNT; m++)
        srv->registered[m] =
            grpc_server_register_method(srv->server, methods[m].path, NULL, methods[m].payload, 0);
    srv->ncall = opt->workers;
    srv->nworkers =
        srv->ncall + (opt->stream_workers > 0 ? opt->stream_workers : RPC_DEFAULT_STREAM_WORKERS);
    srv->workers = calloc((size_t)srv->nworkers, sizeof(*srv->workers));
    if (!srv->workers) {
        rc = ERR_NOMEM;
        goto fail;
    }
    srv->wake_chan = grpc_lame_client_channel_create(NULL, GRPC_STATUS_UNAVAILABLE, "wake");
    for (i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        w->streams = calloc(1, sizeof(*w->streams));
        if (!w->streams || !srv->wake_chan) {
            srv->nworkers = i;
            rc = ERR_NOMEM;
            free(w->streams);
            goto fail;
        }
        w->streams->snext = w->streams->sprev = w->streams;
        pthread_mutex_init(&w->streams_mu, NULL);
        pthread_mutex_init(&w->pend_mu, NULL);
        w->srv = srv;
        w->streams_only = i >= srv->ncall;
        if (w->streams_only) {
            /* Non-polling: a stream worker waits for its own events only and
             * never becomes the thread that reads the sockets, which would
             * hand every unary call over to a call worker. */
            grpc_completion_queue_attributes attr;
            memset(&attr, 0, sizeof(attr));
            attr.version = 1;
            attr.cq_completion_type = GRPC_CQ_NEXT;
            attr.cq_polling_type = GRPC_CQ_NON_POLLING;
            w->cq = grpc_completion_queue_create(grpc_completion_queue_factory_lookup(&attr),
                                                 &attr, NULL);
        } else
            w->cq = grpc_completion_queue_create_for_next(NULL);
        if (!w->streams_only)
            grpc_server_register_completion_queue(srv->server, w->cq, NULL);
    }
    srv->port = grpc_server_add_http2_port(srv->server, srv->listen, srv->creds);
    if (srv->port <= 0) {
        snprintf(why, why_len, "--listen %s: could not bind (address in use or invalid)",
                 srv->listen);
        rc = ERR_INVALID;
        goto fail;
    }
    grpc_server_start(srv->server);
    opt->router.subscribe(opt->router.arg, on_snapshot, srv);
    for (i = 0; i < srv->nworkers; i++) {
        if (!srv->workers[i].streams_only) {
            for (m = 0; m < M_COUNT; m++)
                for (k = 0; k < methods[m].slots; k++)
                    post_slot(&srv->workers[i], (enum method)m);
            for (k = 0; k < GENERIC_SLOTS; k++)
                post_slot(&srv->workers[i], M_GENERIC);
        }
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
            /* Threads already started are stopped by rpc_free. */
            srv->nworkers = i;
            snprintf(why, why_len, "could not start worker threads");
            *out = srv;
            rpc_free(srv);
            *out = NULL;
            return ERR_INTERNAL;
        }
    }
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) == 0)
        srv->reaper_started = true;
    if (metrics_add_collector(collect_streams, srv) != ERR_OK)
        log_write(LOG_WARN, "rpc", "open-stream gauge unavailable (too many collectors)");
    *out = srv;
    return ERR_OK;

fail:
    if (srv->server) {
        grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
        grpc_server_shutdown_and_notify(srv->server, cq, srv);
        grpc_completion_queue_pluck(cq, srv, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_completion_queue_shutdown(cq);
        grpc_completion_queue_destroy(cq);
        grpc_server_destroy(srv->server);
    }
    if (srv->workers) {
        for (i = 0; i < srv->nworkers; i++) {
            struct worker *w = &srv->workers[i];
            grpc_completion_queue_shutdown(w->cq);
            while (grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
            grpc_completion_queue_destroy(w->cq);
            pthread_mutex_destroy(&w->streams_mu);
            pthread_mutex_destroy(&w->pend_mu);
            free(w->streams);
        }
        free(srv->workers);
    }
    if (srv->wake_chan)
        grpc_channel_destroy(srv->wake_chan);
    if (srv->creds)
        grpc_server_credentials_release(srv->creds);
    if (srv->provider)
        grpc_tls_certificate_provider_release(srv->provider);
    pthread_mutex_destroy(&srv->warned_mu);
    free(srv->listen);
    free(srv);
    return rc;
}

int rpc_port(const struct rpc_server *s)
{
    return s ? s->port : 0;
}

bool rpc_ready(struct rpc_server *s)
{
    return s && !atomic_load(&s->shutting_down);
}

size_t rpc_open_streams(struct rpc_server *s)
{
    long n = atomic_load(&s->n_streams);
    return n > 0 ? (size_t)n : 0;
}

void rpc_shutdown(struct rpc_server *srv)
{
    grpc_completion_queue *cq;
    grpc_event ev;
    struct rcall *c;
    int64_t deadline;
    int i;

    if (!srv || srv->stopped)
        return;
    srv->stopped = true;
    atomic_store(&srv->shutting_down, true);
    srv->opt.router.subscribe(srv->opt.router.arg, NULL, NULL);

    /* Health goes NOT_SERVING; every stream ends with status OK. */
    for (i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->streams_mu);
        for (c = w->streams->snext; c != w->streams; c = c->snext) {
            if (c->watch)
                watch_evaluate(c);
            pthread_mutex_lock(&c->mu);
            c->want_finish = true;
            stream_kick(c);
            pthread_mutex_unlock(&c->mu);
        }
        pthread_mutex_unlock(&w->streams_mu);
    }

    /*
     * In-flight calls finish; after the grace period, cancel. The core's
     * notification also waits for idle client connections (KEDA keeps one)
     * to close, which they may never do: once no call of ours is left,
     * disconnect them instead of waiting out the grace period.
     */
    cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_shutdown_and_notify(srv->server, cq, srv);
    deadline = source_now_ms() + srv->opt.shutdown_grace_ms;
    for (;;) {
        ev = grpc_completion_queue_pluck(
            cq, srv,
            gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(20, GPR_TIMESPAN)),
            NULL);
        if (ev.type != GRPC_QUEUE_TIMEOUT)
            break;
        if (atomic_load(&srv->inflight) == 0) {
            grpc_server_cancel_all_calls(srv->server); /* closes idle connections */
            grpc_completion_queue_pluck(cq, srv, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            break;
        }
        if (source_now_ms() >= deadline) {
            log_write(LOG_WARN, "rpc", "grace period over: cancelling %ld calls left",
                      (long)atomic_load(&srv->inflight));
            grpc_server_cancel_all_calls(srv->server);
            grpc_completion_queue_pluck(cq, srv, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            break;
        }
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);

    if (srv->reaper_started) {
        atomic_store(&srv->reaper_stop, true);
        pthread_join(srv->reaper, NULL);
        srv->reaper_started = false;
    }
    for (i = 0; i < srv->nworkers; i++) {
        /* A publish may still be running (unsubscribing does not wait for
         * it): no wake call may reach a queue after its shutdown. */
        pthread_mutex_lock(&srv->workers[i].pend_mu);
        srv->workers[i].wake_off = true;
        pthread_mutex_unlock(&srv->workers[i].pend_mu);
        grpc_completion_queue_shutdown(srv->workers[i].cq);
    }
    for (i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i].thread, NULL);
}

void rpc_free(struct rpc_server *srv)
{
    int i;

    if (!srv)
        return;
    rpc_shutdown(srv);
    metrics_remove_collector(collect_streams, srv);
    grpc_server_destroy(srv->server);
    for (i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        grpc_completion_queue_destroy(w->cq);
        pthread_mutex_destroy(&w->streams_mu);
        pthread_mutex_destroy(&w->pend_mu);
        free(w->streams);
    }
    free(srv->workers);
    if (srv->wake_chan)
        grpc_channel_destroy(srv->wake_chan);
    if (srv->creds)
        grpc_server_credentials_release(srv->creds);
    if (srv->provider)
        grpc_tls_certificate_provider_release(srv->provider);
    pthread_mutex_destroy(&srv->warned_mu);
    free(srv->warned);
    free(srv->listen);
    free(srv);
}
