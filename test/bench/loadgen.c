/*
 * loadgen: the benchmark's load generator, a KEDA-like client of the
 * ExternalScaler service on the gRPC C core.
 *
 * One thread drives one completion queue over one or more channels (each
 * its own HTTP/2 connection: a local subchannel pool per channel). Requests
 * are encoded once per ScaledObject with protobuf-c (the build tree's
 * externalscaler.pb-c.c) and sent as whole unary batches (initial metadata,
 * message, close, and the receive side in the same batch), so the client
 * spends as little as the C core allows per call.
 *
 * Modes (--mode):
 *   unary   one method (--method GetMetrics|IsActive|GetMetricSpec) over
 *           --objects ScaledObjects, round robin;
 *   cycle   KEDA's evaluation: GetMetricSpec, GetMetrics, IsActive in
 *           series for one ScaledObject; a "unit" is one cycle;
 *   streams --streams StreamIsActive streams held open; then --flips
 *           rewrites of a metrics file (--flip-file, alternating the
 *           contents of --flip-b and --flip-a) and, per stream, the time
 *           from the rename to the stream's message (push latency), and
 *           from the first message of that flip (fan-out).
 * Load: closed loop with --concurrency units in flight (default), or open
 * loop at --rate units per second (latency then counts from the scheduled
 * start, so a stalled server is not hidden). --churn-streams S keeps S
 * StreamIsActive streams open beside unary/cycle load, each cancelled and
 * replaced after about --stream-life-ms (the soak).
 *
 * --server-pid PID reads utime+stime of that process from /proc at the
 * start and the end of the measured window: server CPU time per call; and
 * the time its threads were runnable but waited for a CPU (schedstat): on a
 * shared machine, that wait is what other work adds to the latencies.
 *
 * Output: one JSON object on stdout (see print_report()); progress lines
 * on stderr with --report SECONDS. Stream mode prints "OPEN <n> <ms>" on
 * stdout (flushed) once every stream has its first message, then holds
 * --hold seconds before flipping, so a driver can read the server's RSS.
 *
 * Helpers (no server needed):
 *   loadgen --gen-metrics FILE --models M --pods P [--namespace NS]
 *           [--empty]: a metrics file (also the simulator's POST /pods
 *           body) for models bench/model-00000.. with P pods each.
 *
 * Object i is ScaledObject "so-<i>" in --namespace (default "llm") with
 * metadata {scalerAddress, modelID: bench/model-<i % models>}, the shape
 * KEDA sends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "externalscaler.pb-c.h"

/* ---- options ------------------------------------------------------------ */

enum kind { K_GET_METRIC_SPEC = 0, K_GET_METRICS, K_IS_ACTIVE, K_STREAM, K_N };
static const char *const kind_name[K_N] = {"GetMetricSpec", "GetMetrics", "IsActive",
                                           "StreamIsActive"};
static const char *const kind_path[K_N] = {
    "/externalscaler.ExternalScaler/GetMetricSpec", "/externalscaler.ExternalScaler/GetMetrics",
    "/externalscaler.ExternalScaler/IsActive", "/externalscaler.ExternalScaler/StreamIsActive"};

enum mode { MODE_UNARY, MODE_CYCLE, MODE_STREAMS };

static struct {
    const char *target;
    enum mode mode;
    enum kind method;
    int concurrency;
    double rate;
    int objects, models;
    const char *ns;
    double duration, warmup;
    int connections;
    int deadline_ms;
    int server_pid;
    const char *cpus; /* "0,1": report how busy these CPUs were (contention) */
    int max_inflight;
    const char *label;
    double report_every;
    /* streams */
    int streams;
    const char *flip_file, *flip_a, *flip_b;
    int flips;
    double hold, flip_timeout, open_timeout, flip_gap;
    int churn_streams;
    int stream_queues;
    int stream_life_ms;
    /* generator */
    const char *gen_metrics;
    int pods;
    bool empty;
} opt = {
    .mode = MODE_UNARY,
    .method = K_GET_METRICS,
    .concurrency = 1,
    .objects = 1,
    .models = 0,
    .ns = "llm",
    .duration = 5,
    .warmup = 1,
    .connections = 1,
    .deadline_ms = 5000,
    .max_inflight = 4096,
    .label = "",
    .flips = 10,
    .flip_timeout = 10,
    .open_timeout = 120,
    .flip_gap = 0.4,
    .stream_life_ms = 5000,
    .pods = 4,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gpr_timespec mono_at(int64_t ns)
{
    gpr_timespec t;
    t.tv_sec = ns / 1000000000;
    t.tv_nsec = (int32_t)(ns % 1000000000);
    t.clock_type = GPR_CLOCK_MONOTONIC;
    return t;
}

/* ---- histogram: log-linear, 128 sub-buckets per power of two (< 0.8 %) -- */

#define H_SUB 128
#define H_BUCKETS (H_SUB * 40)
struct hist {
    uint64_t b[H_BUCKETS];
    uint64_t n;
    int64_t max;
    double sum;
};

static int h_index(int64_t v)
{
    int shift;
    if (v < 0)
        v = 0;
    if (v < 2 * H_SUB)
        return (int)v;
    shift = (63 - __builtin_clzll((unsigned long long)v)) - 7;
    {
        int idx = H_SUB * shift + (int)(v >> shift);
        return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
    }
}

static int64_t h_value(int idx)
{
    int shift;
    if (idx < 2 * H_SUB)
        return idx;
    shift = idx / H_SUB - 1;
    return ((int64_t)(idx - H_SUB * shift) << shift) + ((int64_t)1 << shift) / 2;
}

static void h_add(struct hist *h, int64_t v)
{
    h->b[h_index(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static void h_merge(struct hist *into, const struct hist *h)
{
    int i;
    for (i = 0; i < H_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

/* q-quantile in ns (nearest rank). */
static int64_t h_quantile(const struct hist *h, double q)
{
    uint64_t want, seen = 0;
    int i;
    if (h->n == 0)
        return 0;
    want = (uint64_t)ceil(q * (double)h->n);
    if (want < 1)
        want = 1;
    for (i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            int64_t v = h_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- statistics --------------------------------------------------------- */

#define N_CODES 17
struct kstats {
    uint64_t ok, err[N_CODES], no_message;
    struct hist h;
};

static struct {
    struct kstats k[K_N];
    struct hist cycle; /* whole cycles (from the scheduled start) */
    uint64_t cycles, cycle_errors;
    uint64_t skipped; /* open loop: units not started (max-inflight) */
    uint64_t unfinished;
    /* streams */
    uint64_t stream_opened, stream_first, stream_msgs, stream_unexpected[N_CODES + 1];
    uint64_t stream_churned;
} st;

static bool measuring;
static struct hist h_interval; /* per --report interval, all calls */
static uint64_t iv_err;
static bool sample_seen[K_N];
static char sample_text[K_N][64];

/* ---- requests ----------------------------------------------------------- */

struct obj {
    grpc_slice ref; /* ScaledObjectRef (GetMetricSpec, IsActive, StreamIsActive) */
    grpc_slice gm;  /* GetMetricsRequest */
};
static struct obj *objs;
static grpc_slice method_slice[K_N];
static grpc_channel **channels;
static grpc_completion_queue *cq;
static int next_channel;
static uint64_t next_obj;

static void encode_objects(void)
{
    int i;
    objs = calloc((size_t)opt.objects, sizeof(*objs));
    if (!objs)
        die("out of memory");
    for (i = 0; i < opt.objects; i++) {
        char name[64], model[64];
        Externalscaler__ScaledObjectRef ref = EXTERNALSCALER__SCALED_OBJECT_REF__INIT;
        Externalscaler__ScaledObjectRef__ScalerMetadataEntry e0 =
            EXTERNALSCALER__SCALED_OBJECT_REF__SCALER_METADATA_ENTRY__INIT;
        Externalscaler__ScaledObjectRef__ScalerMetadataEntry e1 =
            EXTERNALSCALER__SCALED_OBJECT_REF__SCALER_METADATA_ENTRY__INIT;
        Externalscaler__ScaledObjectRef__ScalerMetadataEntry *md[2] = {&e0, &e1};
        Externalscaler__GetMetricsRequest gm = EXTERNALSCALER__GET_METRICS_REQUEST__INIT;
        uint8_t buf[1024];
        size_t len;

        snprintf(name, sizeof(name), "so-%05d", i);
        snprintf(model, sizeof(model), "bench/model-%05d", i % opt.models);
        ref.name = name;
        ref.namespace_ = (char *)opt.ns;
        e0.key = "scalerAddress";
        e0.value = "saturation-scaler.keda.svc.cluster.local:6000";
        e1.key = "modelID";
        e1.value = model;
        ref.n_scalermetadata = 2;
        ref.scalermetadata = md;
        len = externalscaler__scaled_object_ref__pack(&ref, buf);
        objs[i].ref = grpc_slice_from_copied_buffer((const char *)buf, len);
        gm.scaledobjectref = &ref;
        gm.metricname = "saturation-desired-replicas";
        len = externalscaler__get_metrics_request__pack(&gm, buf);
        objs[i].gm = grpc_slice_from_copied_buffer((const char *)buf, len);
    }
}

static grpc_channel *pick_channel(void)
{
    grpc_channel *ch = channels[next_channel];
    next_channel = (next_channel + 1) % opt.connections;
    return ch;
}

struct tag {
    void (*fn)(struct tag *t, bool ok);
};
#define CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static uint8_t *read_all(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_slice s;
    uint8_t *out;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(s);
    out = malloc(*len + 1);
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(s), *len);
    grpc_slice_unref(s);
    return out;
}

/* The first answer of each method, decoded, for the report (a sanity check
 * that both servers answer the same values). */
static void sample_answer(enum kind k, grpc_byte_buffer *bb)
{
    size_t len = 0;
    uint8_t *b;
    if (sample_seen[k] || !bb)
        return;
    sample_seen[k] = true;
    b = read_all(bb, &len);
    if (!b)
        return;
    if (k == K_GET_METRICS) {
        Externalscaler__GetMetricsResponse *r =
            externalscaler__get_metrics_response__unpack(NULL, len, b);
        if (r && r->n_metricvalues == 1)
            snprintf(sample_text[k], sizeof(sample_text[k]), "%" PRId64 "/%g",
                     r->metricvalues[0]->metricvalue, r->metricvalues[0]->metricvaluefloat);
        else
            snprintf(sample_text[k], sizeof(sample_text[k]), "bad");
        if (r)
            externalscaler__get_metrics_response__free_unpacked(r, NULL);
    } else if (k == K_GET_METRIC_SPEC) {
        Externalscaler__GetMetricSpecResponse *r =
            externalscaler__get_metric_spec_response__unpack(NULL, len, b);
        if (r && r->n_metricspecs == 1)
            snprintf(sample_text[k], sizeof(sample_text[k]), "%.40s/%" PRId64,
                     r->metricspecs[0]->metricname, r->metricspecs[0]->targetsize);
        else
            snprintf(sample_text[k], sizeof(sample_text[k]), "bad");
        if (r)
            externalscaler__get_metric_spec_response__free_unpacked(r, NULL);
    } else {
        Externalscaler__IsActiveResponse *r =
            externalscaler__is_active_response__unpack(NULL, len, b);
        snprintf(sample_text[k], sizeof(sample_text[k]), "%s",
                 r ? (r->result ? "true" : "false") : "bad");
        if (r)
            externalscaler__is_active_response__free_unpacked(r, NULL);
    }
    free(b);
}

/* ---- unary calls and cycles --------------------------------------------- */

struct unit { /* one unit of load: a unary call or a cycle */
    int obj;
    int step; /* cycle: 0 spec, 1 metrics, 2 active */
    int64_t t_sched;
    bool counted; /* started inside the measured window */
    bool failed;
};

struct ucall {
    struct tag tag;
    grpc_call *call;
    grpc_metadata_array md_i, md_t;
    grpc_byte_buffer *send, *recv;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
    enum kind kind;
    struct unit *u;
};

static long inflight_units;
static long inflight_calls;
static bool issuing = true;
static int64_t t_meas_start, t_meas_end;

static void start_call(struct unit *u, enum kind k);
static void unit_done(struct unit *u);

static void on_call_done(struct tag *t, bool ok)
{
    struct ucall *c = CONTAINER_OF(t, struct ucall, tag);
    struct unit *u = c->u;
    int64_t now = now_ns();
    int code = ok ? (int)c->status : GRPC_STATUS_UNKNOWN;
    bool success = code == GRPC_STATUS_OK && c->recv != NULL;

    inflight_calls--;
    if (opt.report_every > 0) {
        h_add(&h_interval, now - c->t0);
        if (code != GRPC_STATUS_OK)
            iv_err++;
    }
    if (u->counted && now <= t_meas_end) {
        struct kstats *ks = &st.k[c->kind];
        if (code < 0 || code >= N_CODES)
            code = GRPC_STATUS_UNKNOWN;
        if (code == GRPC_STATUS_OK && !c->recv)
            ks->no_message++;
        else if (code == GRPC_STATUS_OK)
            ks->ok++;
        else
            ks->err[code]++;
        /* open loop, single calls: from the scheduled start */
        h_add(&ks->h, now - (opt.mode == MODE_UNARY ? u->t_sched : c->t0));
    }
    if (success)
        sample_answer(c->kind, c->recv);
    else
        u->failed = true;
    grpc_metadata_array_destroy(&c->md_i);
    grpc_metadata_array_destroy(&c->md_t);
    grpc_byte_buffer_destroy(c->send);
    if (c->recv)
        grpc_byte_buffer_destroy(c->recv);
    grpc_slice_unref(c->details);
    grpc_call_unref(c->call);
    free(c);

    if (opt.mode == MODE_CYCLE && success && u->step < 2) {
        u->step++;
        start_call(u, u->step == 1 ? K_GET_METRICS : K_IS_ACTIVE);
        return;
    }
    unit_done(u);
}

static void start_call(struct unit *u, enum kind k)
{
    struct ucall *c = calloc(1, sizeof(*c));
    grpc_op ops[6];
    grpc_call_error e;
    gpr_timespec deadline;
    grpc_slice payload;

    if (!c)
        die("out of memory");
    c->tag.fn = on_call_done;
    c->kind = k;
    c->u = u;
    c->t0 = now_ns();
    deadline = opt.deadline_ms > 0 ? mono_at(c->t0 + (int64_t)opt.deadline_ms * 1000000)
                                   : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    c->call = grpc_channel_create_call(pick_channel(), NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                       method_slice[k], NULL, deadline, NULL);
    grpc_metadata_array_init(&c->md_i);
    grpc_metadata_array_init(&c->md_t);
    payload = k == K_GET_METRICS ? objs[u->obj].gm : objs[u->obj].ref;
    c->send = grpc_raw_byte_buffer_create(&payload, 1);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md_i;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->md_t;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    inflight_calls++;
    e = grpc_call_start_batch(c->call, ops, 6, &c->tag, NULL);
    if (e != GRPC_CALL_OK)
        die("start_batch: %d", (int)e);
}

static void start_unit(int64_t t_sched)
{
    struct unit *u = calloc(1, sizeof(*u));
    if (!u)
        die("out of memory");
    u->obj = (int)(next_obj++ % (uint64_t)opt.objects);
    u->t_sched = t_sched;
    u->counted = t_sched >= t_meas_start && t_sched < t_meas_end;
    inflight_units++;
    start_call(u, opt.mode == MODE_CYCLE ? K_GET_METRIC_SPEC : opt.method);
}

static void unit_done(struct unit *u)
{
    int64_t now = now_ns();
    inflight_units--;
    if (opt.mode == MODE_CYCLE && u->counted && now <= t_meas_end) {
        st.cycles++;
        if (u->failed)
            st.cycle_errors++;
        h_add(&st.cycle, now - u->t_sched);
    }
    free(u);
    if (opt.rate <= 0 && issuing)
        start_unit(now_ns());
}

/* ---- streams ------------------------------------------------------------ */

struct stream {
    struct tag t_start, t_msg, t_status;
    grpc_call *call;
    grpc_metadata_array md_i, md_t;
    grpc_byte_buffer *send, *recv;
    grpc_status_code status;
    grpc_slice details;
    int idx, obj;
    int nmsg;
    int flip_seen;    /* last flip this stream answered */
    int64_t close_at; /* churn: when to cancel (0 = never) */
    bool cancelled_by_us, status_done, msg_done, start_done;
    int pending; /* batches in flight */
};

static struct stream **streams;
static int n_streams;      /* slots */
static long streams_live;  /* open or opening */
static long streams_first; /* have their first message */
static int cur_flip;       /* 0 = no flip yet */
static int64_t flip_t_write, flip_t_first;
static long flip_received;
static uint64_t flip_dups;
static struct hist h_push_write, h_push_fanout, h_flip_first;

static void stream_open(int slot);

/*
 * --stream-queues K (streams mode): the streams' events go to K completion
 * queues, each drained by its own thread under one lock (smu), instead of
 * the main queue. A debug build of the core (Debian's) scans every
 * outstanding tag of a queue on each completion, so 10k streams on one
 * queue would make the client, not the server, set the push latency.
 */
static grpc_completion_queue **scq;
static pthread_t *sthreads;
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;

static grpc_completion_queue *stream_cq(int slot)
{
    return scq ? scq[slot % opt.stream_queues] : cq; /* scq: streams mode only */
}

static void *stream_thread(void *arg)
{
    grpc_completion_queue *q = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(q, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE) {
            pthread_mutex_lock(&smu);
            ((struct tag *)ev.tag)->fn(ev.tag, ev.success != 0);
            pthread_mutex_unlock(&smu);
        }
    }
}

static void stream_recv(struct stream *s)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->recv;
    s->pending++;
    if (grpc_call_start_batch(s->call, &op, 1, &s->t_msg, NULL) != GRPC_CALL_OK)
        die("stream recv batch failed");
}

static void stream_maybe_free(struct stream *s)
{
    int slot;
    if (s->pending > 0)
        return;
    slot = s->idx;
    grpc_metadata_array_destroy(&s->md_i);
    grpc_metadata_array_destroy(&s->md_t);
    if (s->send)
        grpc_byte_buffer_destroy(s->send);
    if (s->recv)
        grpc_byte_buffer_destroy(s->recv);
    grpc_slice_unref(s->details);
    grpc_call_unref(s->call);
    streams[slot] = NULL;
    free(s);
    streams_live--;
    if (opt.churn_streams > 0 && issuing)
        stream_open(slot);
}

static void on_stream_start(struct tag *t, bool ok)
{
    struct stream *s = CONTAINER_OF(t, struct stream, t_start);
    s->pending--;
    s->start_done = true;
    if (ok && !s->status_done)
        stream_recv(s);
    stream_maybe_free(s);
}

static void on_stream_msg(struct tag *t, bool ok)
{
    struct stream *s = CONTAINER_OF(t, struct stream, t_msg);
    int64_t now = now_ns();

    s->pending--;
    if (ok && s->recv) {
        grpc_byte_buffer_destroy(s->recv);
        s->recv = NULL;
        st.stream_msgs++;
        if (s->nmsg++ == 0)
            streams_first++;
        else if (cur_flip > 0) {
            if (s->flip_seen == cur_flip) {
                flip_dups++;
            } else {
                if (flip_received == 0)
                    flip_t_first = now;
                flip_received++;
                h_add(&h_push_write, now - flip_t_write);
                h_add(&h_push_fanout, now - flip_t_first);
            }
        }
        s->flip_seen = cur_flip;
        stream_recv(s);
    } else {
        s->msg_done = true;
    }
    stream_maybe_free(s);
}

static void on_stream_status(struct tag *t, bool ok)
{
    struct stream *s = CONTAINER_OF(t, struct stream, t_status);
    int code = ok ? (int)s->status : GRPC_STATUS_UNKNOWN;
    s->pending--;
    s->status_done = true;
    if (!(s->cancelled_by_us && code == GRPC_STATUS_CANCELLED) && issuing) {
        if (code < 0 || code >= N_CODES)
            code = N_CODES;
        st.stream_unexpected[code]++;
        if (st.stream_unexpected[code] <= 3) {
            char *d = grpc_slice_to_c_string(s->details);
            fprintf(stderr, "loadgen: stream %d ended: code %d %s\n", s->idx, code, d);
            gpr_free(d);
        }
    }
    if (s->cancelled_by_us)
        st.stream_churned++;
    stream_maybe_free(s);
}

static void stream_open(int slot)
{
    struct stream *s = calloc(1, sizeof(*s));
    grpc_op ops[4];
    grpc_slice payload;

    if (!s)
        die("out of memory");
    s->idx = slot;
    s->obj = (int)(next_obj++ % (uint64_t)opt.objects);
    s->t_start.fn = on_stream_start;
    s->t_msg.fn = on_stream_msg;
    s->t_status.fn = on_stream_status;
    s->flip_seen = cur_flip;
    s->details = grpc_empty_slice();
    if (opt.churn_streams > 0) {
        int64_t life = opt.stream_life_ms / 2 + (int64_t)(rand() % (opt.stream_life_ms + 1));
        s->close_at = now_ns() + life * 1000000;
    }
    s->call = grpc_channel_create_call(pick_channel(), NULL, GRPC_PROPAGATE_DEFAULTS,
                                       stream_cq(slot), method_slice[K_STREAM], NULL,
                                       gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    grpc_metadata_array_init(&s->md_i);
    grpc_metadata_array_init(&s->md_t);
    payload = objs[s->obj].ref;
    s->send = grpc_raw_byte_buffer_create(&payload, 1);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md_i;
    s->pending++;
    if (grpc_call_start_batch(s->call, ops, 4, &s->t_start, NULL) != GRPC_CALL_OK)
        die("stream start batch failed");
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &s->md_t;
    ops[0].data.recv_status_on_client.status = &s->status;
    ops[0].data.recv_status_on_client.status_details = &s->details;
    s->pending++;
    if (grpc_call_start_batch(s->call, ops, 1, &s->t_status, NULL) != GRPC_CALL_OK)
        die("stream status batch failed");
    streams[slot] = s;
    streams_live++;
    st.stream_opened++;
}

static void streams_churn(int64_t now)
{
    int i;
    for (i = 0; i < n_streams; i++) {
        struct stream *s = streams[i];
        if (s && s->close_at && now >= s->close_at && !s->cancelled_by_us) {
            s->cancelled_by_us = true;
            grpc_call_cancel(s->call, NULL);
        }
    }
}

static void streams_cancel_all(void)
{
    int i;
    for (i = 0; i < n_streams; i++)
        if (streams[i] && !streams[i]->cancelled_by_us) {
            streams[i]->cancelled_by_us = true;
            grpc_call_cancel(streams[i]->call, NULL);
        }
}

/* ---- the event loop ----------------------------------------------------- */

static void pump_until(int64_t until)
{
    for (;;) {
        grpc_event ev;
        int64_t now = now_ns();
        if (now >= until)
            return;
        ev = grpc_completion_queue_next(cq, mono_at(until), NULL);
        if (ev.type == GRPC_OP_COMPLETE)
            ((struct tag *)ev.tag)->fn(ev.tag, ev.success != 0);
        else if (ev.type == GRPC_QUEUE_TIMEOUT)
            return;
        else
            die("completion queue shut down");
    }
}

/* One pass: wait for one event (or until `until`), dispatch it. */
static void pump_once(int64_t until)
{
    grpc_event ev = grpc_completion_queue_next(cq, mono_at(until), NULL);
    if (ev.type == GRPC_OP_COMPLETE)
        ((struct tag *)ev.tag)->fn(ev.tag, ev.success != 0);
    else if (ev.type == GRPC_QUEUE_SHUTDOWN)
        die("completion queue shut down");
}

static bool wait_ready(grpc_channel *ch, int64_t until)
{
    for (;;) {
        grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch, 1);
        if (s == GRPC_CHANNEL_READY)
            return true;
        if (now_ns() >= until)
            return false;
        grpc_channel_watch_connectivity_state(ch, s, mono_at(now_ns() + 200000000), cq, NULL);
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == NULL)
                break;
            if (ev.type == GRPC_OP_COMPLETE)
                ((struct tag *)ev.tag)->fn(ev.tag, ev.success != 0);
        }
    }
}

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu(int pid)
{
    char path[64], buf[2048], *p;
    FILE *f;
    size_t n;
    unsigned long long ut = 0, stt = 0;
    int i;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* after ")": state(3) ... utime(14) stime(15) */
    for (i = 3; i <= 15 && p; i++) {
        while (*p == ' ')
            p++;
        if (i == 14)
            ut = strtoull(p, NULL, 10);
        if (i == 15)
            stt = strtoull(p, NULL, 10);
        p = strchr(p, ' ');
    }
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* Time pid's threads spent runnable but waiting for a CPU (run-queue wait,
 * the second field of /proc/PID/task/TID/schedstat), in seconds; -1 when
 * unknown. Threads that exited in between are missed (the servers' are
 * long-lived). */
static double proc_runq_wait(int pid)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    double total = 0;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char p2[320];
        unsigned long long run = 0, wait = 0;
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, e->d_name);
        f = fopen(p2, "r");
        if (!f)
            continue;
        if (fscanf(f, "%llu %llu", &run, &wait) == 2)
            total += (double)wait / 1e9;
        fclose(f);
    }
    closedir(d);
    return total;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double srv_cpu0, srv_cpu1, cli_cpu0, cli_cpu1, srv_wait0, srv_wait1;

/* Busy and total jiffies of CPU n from /proc/stat. */
static void cpu_stat(int n, unsigned long long *busy, unsigned long long *total)
{
    char line[512], name[16];
    FILE *f = fopen("/proc/stat", "r");
    *busy = *total = 0;
    if (!f)
        return;
    snprintf(name, sizeof(name), "cpu%d ", n);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, strlen(name)) == 0) {
            unsigned long long v[10] = {0};
            int k;
            sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
            for (k = 0; k < 8; k++)
                *total += v[k];
            *busy = *total - v[3] - v[4]; /* minus idle and iowait */
            break;
        }
    }
    fclose(f);
}

#define MAX_CPUS 8
static int n_cpus_watched, cpus_watched[MAX_CPUS];
static unsigned long long cpu_busy0[MAX_CPUS], cpu_total0[MAX_CPUS], cpu_busy1[MAX_CPUS],
    cpu_total1[MAX_CPUS];

static void cpus_sample(unsigned long long *busy, unsigned long long *total)
{
    int i;
    for (i = 0; i < n_cpus_watched; i++)
        cpu_stat(cpus_watched[i], &busy[i], &total[i]);
}

static void print_codes(const uint64_t *err, int n, bool *first)
{
    int i;
    for (i = 0; i < n; i++)
        if (err[i]) {
            printf("%s\"%d\":%" PRIu64, *first ? "" : ",", i, err[i]);
            *first = false;
        }
}

static void print_hist_fields(const char *prefix, const struct hist *h, double unit, const char *u)
{
    printf("\"%sp50_%s\":%.4f,\"%sp99_%s\":%.4f,\"%sp999_%s\":%.4f,\"%smax_%s\":%.4f,"
           "\"%smean_%s\":%.4f",
           prefix, u, (double)h_quantile(h, 0.50) / unit, prefix, u,
           (double)h_quantile(h, 0.99) / unit, prefix, u, (double)h_quantile(h, 0.999) / unit,
           prefix, u, (double)h->max / unit, prefix, u, h->n ? h->sum / (double)h->n / unit : 0.0);
}

static void print_report(double window)
{
    struct hist all;
    uint64_t calls = 0, errs = 0, errc[N_CODES];
    int k, i;
    bool first = true;

    memset(&all, 0, sizeof(all));
    memset(errc, 0, sizeof(errc));
    for (k = 0; k < K_STREAM; k++) {
        h_merge(&all, &st.k[k].h);
        calls += st.k[k].ok;
        for (i = 0; i < N_CODES; i++) {
            errs += st.k[k].err[i];
            errc[i] += st.k[k].err[i];
        }
        errs += st.k[k].no_message;
    }
    printf("{\"label\":\"%s\",\"mode\":\"%s\"", opt.label,
           opt.mode == MODE_UNARY   ? "unary"
           : opt.mode == MODE_CYCLE ? "cycle"
                                    : "streams");
    if (opt.mode == MODE_UNARY)
        printf(",\"method\":\"%s\"", kind_name[opt.method]);
    printf(",\"concurrency\":%d,\"rate\":%g,\"objects\":%d,\"connections\":%d,\"window_s\":%.3f",
           opt.rate > 0 ? 0 : opt.concurrency, opt.rate, opt.objects, opt.connections, window);
    if (opt.mode != MODE_STREAMS) {
        printf(",\"calls\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"errors_by_code\":{", calls + errs,
               errs);
        print_codes(errc, N_CODES, &first);
        printf("},\"calls_per_s\":%.1f,", window > 0 ? (double)(calls + errs) / window : 0.0);
        print_hist_fields("", &all, 1e3, "us");
        printf(",\"skipped\":%" PRIu64 ",\"unfinished\":%" PRIu64, st.skipped, st.unfinished);
        if (opt.mode == MODE_CYCLE) {
            printf(",\"cycles\":%" PRIu64 ",\"cycle_errors\":%" PRIu64 ",\"cycles_per_s\":%.1f,",
                   st.cycles, st.cycle_errors, window > 0 ? (double)st.cycles / window : 0.0);
            print_hist_fields("cycle_", &st.cycle, 1e3, "us");
            printf(",\"by_method\":{");
            for (k = 0; k < K_STREAM; k++) {
                printf("%s\"%s\":{\"ok\":%" PRIu64 ",", k ? "," : "", kind_name[k], st.k[k].ok);
                print_hist_fields("", &st.k[k].h, 1e3, "us");
                printf("}");
            }
            printf("}");
        }
        if (opt.server_pid > 0 && srv_cpu0 >= 0 && srv_cpu1 >= 0) {
            double c = srv_cpu1 - srv_cpu0;
            printf(",\"server_cpu_s\":%.3f,\"server_cpu_us_per_call\":%.3f,\"server_util\":%.3f", c,
                   calls + errs ? c * 1e6 / (double)(calls + errs) : 0.0,
                   window > 0 ? c / window : 0.0);
            if (srv_wait0 >= 0 && srv_wait1 >= 0)
                printf(",\"server_runq_wait_s\":%.3f,\"server_runq_wait_share\":%.3f",
                       srv_wait1 - srv_wait0, window > 0 ? (srv_wait1 - srv_wait0) / window : 0.0);
        }
        printf(",\"client_cpu_us_per_call\":%.3f,\"client_util\":%.3f",
               calls + errs ? (cli_cpu1 - cli_cpu0) * 1e6 / (double)(calls + errs) : 0.0,
               window > 0 ? (cli_cpu1 - cli_cpu0) / window : 0.0);
        if (n_cpus_watched > 0) {
            printf(",\"cpu_busy\":{");
            for (i = 0; i < n_cpus_watched; i++) {
                unsigned long long dt = cpu_total1[i] - cpu_total0[i];
                printf("%s\"%d\":%.3f", i ? "," : "", cpus_watched[i],
                       dt ? (double)(cpu_busy1[i] - cpu_busy0[i]) / (double)dt : 0.0);
            }
            printf("}");
        }
        printf(",\"answers\":{");
        first = true;
        for (k = 0; k < K_STREAM; k++)
            if (sample_seen[k]) {
                printf("%s\"%s\":\"%s\"", first ? "" : ",", kind_name[k], sample_text[k]);
                first = false;
            }
        printf("}");
    }
    if (opt.mode == MODE_STREAMS || opt.churn_streams > 0) {
        printf(",\"streams\":%d,\"streams_opened\":%" PRIu64 ",\"stream_messages\":%" PRIu64
               ",\"streams_churned\":%" PRIu64 ",\"stream_unexpected_ends\":{",
               n_streams, st.stream_opened, st.stream_msgs, st.stream_churned);
        first = true;
        print_codes(st.stream_unexpected, N_CODES + 1, &first);
        printf("}");
    }
    printf("}\n");
    fflush(stdout);
}

/* ---- stream mode -------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    if (!f)
        die("%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
        die("%s: read error", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    int fd;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0)
        die("%s: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0)
        die("rename %s: %s", path, strerror(errno));
}

/* Stream mode's pumps: with --stream-queues the stream threads do the
 * work and the main thread (holding smu otherwise) only sleeps. */
static void spump_until(int64_t until)
{
    int64_t now;
    if (opt.stream_queues <= 1) {
        pump_until(until);
        return;
    }
    pthread_mutex_unlock(&smu);
    while ((now = now_ns()) < until) {
        struct timespec ts = {0, until - now < 1000000 ? (long)(until - now) : 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&smu);
}

static void spump_once(int64_t until)
{
    int64_t now = now_ns();
    if (opt.stream_queues <= 1) {
        pump_once(until);
        return;
    }
    if (until > now + 200000)
        until = now + 200000;
    spump_until(until);
}

static int run_streams(void)
{
    int64_t t0, until;
    char *fa = NULL, *fb = NULL;
    size_t la = 0, lb = 0;
    int f, missing = 0;
    int64_t open_ms;

    if (opt.flips > 0) {
        if (!opt.flip_file || !opt.flip_a || !opt.flip_b)
            die("--flips needs --flip-file, --flip-a and --flip-b");
        fa = slurp(opt.flip_a, &la);
        fb = slurp(opt.flip_b, &lb);
    }
    n_streams = opt.streams;
    streams = calloc((size_t)n_streams, sizeof(*streams));
    pthread_mutex_lock(&smu);
    if (opt.stream_queues > 1) {
        scq = calloc((size_t)opt.stream_queues, sizeof(*scq));
        sthreads = calloc((size_t)opt.stream_queues, sizeof(*sthreads));
        if (!scq || !sthreads)
            die("out of memory");
        for (f = 0; f < opt.stream_queues; f++) {
            scq[f] = grpc_completion_queue_create_for_next(NULL);
            if (pthread_create(&sthreads[f], NULL, stream_thread, scq[f]) != 0)
                die("pthread_create failed");
        }
    }
    t0 = now_ns();
    for (f = 0; f < n_streams; f++) {
        stream_open(f);
        if ((f & 255) == 255)
            spump_until(now_ns() + 1000000); /* let the transport breathe */
    }
    until = t0 + (int64_t)(opt.open_timeout * 1e9);
    while (streams_first < n_streams && now_ns() < until)
        spump_once(now_ns() + 50000000);
    open_ms = (now_ns() - t0) / 1000000;
    printf("OPEN %ld %" PRId64 "\n", streams_first, open_ms);
    fflush(stdout);
    if (streams_first < n_streams)
        fprintf(stderr, "loadgen: only %ld of %d streams got a first message\n", streams_first,
                n_streams);
    spump_until(now_ns() + (int64_t)(opt.hold * 1e9));
    printf("HELD\n");
    fflush(stdout);

    for (f = 1; f <= opt.flips; f++) {
        int64_t deadline;
        cur_flip = f;
        flip_received = 0;
        /* odd flips write B (the initial file is A), even ones A */
        if (f % 2)
            write_atomic(opt.flip_file, fb, lb);
        else
            write_atomic(opt.flip_file, fa, la);
        flip_t_write = now_ns();
        deadline = flip_t_write + (int64_t)(opt.flip_timeout * 1e9);
        while (flip_received < streams_live && now_ns() < deadline)
            spump_once(deadline);
        if (flip_received < streams_live)
            missing += (int)(streams_live - flip_received);
        if (flip_received > 0)
            h_add(&h_flip_first, flip_t_first - flip_t_write);
        spump_until(now_ns() + (int64_t)(opt.flip_gap * 1e9)); /* catch duplicates */
    }

    issuing = false;
    streams_cancel_all();
    until = now_ns() + 5000000000LL;
    while (streams_live > 0 && now_ns() < until)
        spump_once(now_ns() + 50000000);
    pthread_mutex_unlock(&smu);
    if (opt.stream_queues > 1) {
        for (f = 0; f < opt.stream_queues; f++) {
            grpc_completion_queue_shutdown(scq[f]);
            pthread_join(sthreads[f], NULL);
            grpc_completion_queue_destroy(scq[f]);
        }
        free(scq);
        free(sthreads);
    }

    /* report */
    {
        bool first = true;
        int i;
        printf("{\"label\":\"%s\",\"mode\":\"streams\",\"streams\":%d,\"streams_first\":%ld,"
               "\"open_ms\":%" PRId64 ",\"flips\":%d,\"flip_missing\":%d,\"duplicates\":%" PRIu64
               ",\"stream_messages\":%" PRIu64 ",",
               opt.label, n_streams, streams_first, open_ms, opt.flips, missing, flip_dups,
               st.stream_msgs);
        print_hist_fields("push_write_", &h_push_write, 1e6, "ms");
        printf(",");
        print_hist_fields("push_fanout_", &h_push_fanout, 1e6, "ms");
        printf(",");
        print_hist_fields("flip_first_", &h_flip_first, 1e6, "ms");
        printf(",\"stream_unexpected_ends\":{");
        for (i = 0; i <= N_CODES; i++)
            if (st.stream_unexpected[i]) {
                printf("%s\"%d\":%" PRIu64, first ? "" : ",", i, st.stream_unexpected[i]);
                first = false;
            }
        printf("}}\n");
        fflush(stdout);
    }
    free(fa);
    free(fb);
    return 0;
}

/* ---- load modes ---------------------------------------------------------- */

static int run_load(void)
{
    int64_t t_start = now_ns(), next_sched, interval = 0, next_report = 0, next_churn = 0;
    int64_t t_drain_until;
    double window;
    int i;
    struct {
        uint64_t ok, err;
    } last = {0, 0};

    t_meas_start = t_start + (int64_t)(opt.warmup * 1e9);
    t_meas_end = t_meas_start + (int64_t)(opt.duration * 1e9);
    next_sched = t_start;
    if (opt.rate > 0)
        interval = (int64_t)(1e9 / opt.rate);
    if (opt.report_every > 0)
        next_report = t_start + (int64_t)(opt.report_every * 1e9);

    if (opt.churn_streams > 0) {
        n_streams = opt.churn_streams;
        streams = calloc((size_t)n_streams, sizeof(*streams));
        for (i = 0; i < n_streams; i++)
            stream_open(i);
        next_churn = t_start;
    }
    if (opt.rate <= 0)
        for (i = 0; i < opt.concurrency; i++)
            start_unit(t_start);

    for (;;) {
        int64_t now = now_ns(), wake;

        if (!measuring && now >= t_meas_start && issuing) {
            measuring = true;
            srv_cpu0 = proc_cpu(opt.server_pid);
            srv_wait0 = proc_runq_wait(opt.server_pid);
            cli_cpu0 = self_cpu();
            cpus_sample(cpu_busy0, cpu_total0);
        }
        if (issuing && now >= t_meas_end) {
            issuing = false;
            measuring = false;
            srv_cpu1 = proc_cpu(opt.server_pid);
            srv_wait1 = proc_runq_wait(opt.server_pid);
            cli_cpu1 = self_cpu();
            cpus_sample(cpu_busy1, cpu_total1);
            break;
        }
        if (opt.rate > 0) {
            while (next_sched <= now) {
                if (inflight_units >= opt.max_inflight) {
                    if (next_sched >= t_meas_start && next_sched < t_meas_end)
                        st.skipped++;
                } else {
                    start_unit(next_sched);
                }
                next_sched += interval;
            }
        }
        if (opt.churn_streams > 0 && now >= next_churn) {
            streams_churn(now);
            next_churn = now + 100000000;
        }
        if (next_report && now >= next_report) {
            uint64_t ok = 0, err = 0;
            int k, c;
            for (k = 0; k < K_N; k++) {
                ok += st.k[k].ok;
                for (c = 0; c < N_CODES; c++)
                    err += st.k[k].err[c];
                err += st.k[k].no_message;
            }
            fprintf(stderr,
                    "{\"t\":%.1f,\"ok\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"calls_per_s\":%.1f,"
                    "\"interval_calls\":%" PRIu64 ",\"interval_errors\":%" PRIu64
                    ",\"interval_p50_us\":%.0f,\"interval_p99_us\":%.0f,\"interval_max_us\":%.0f,"
                    "\"inflight\":%ld,\"streams_live\":%ld,\"streams_opened\":%" PRIu64
                    ",\"stream_msgs\":%" PRIu64 "}\n",
                    (double)(now - t_start) / 1e9, ok, err,
                    (double)(ok + err - last.ok - last.err) / opt.report_every, h_interval.n,
                    iv_err, (double)h_quantile(&h_interval, 0.5) / 1e3,
                    (double)h_quantile(&h_interval, 0.99) / 1e3, (double)h_interval.max / 1e3,
                    inflight_calls, streams_live, st.stream_opened, st.stream_msgs);
            memset(&h_interval, 0, sizeof(h_interval));
            iv_err = 0;
            last.ok = ok;
            last.err = err;
            next_report += (int64_t)(opt.report_every * 1e9);
        }
        wake = now + 50000000;
        if (opt.rate > 0 && next_sched < wake)
            wake = next_sched;
        if (!measuring && t_meas_start > now && t_meas_start < wake)
            wake = t_meas_start;
        if (t_meas_end < wake)
            wake = t_meas_end;
        if (next_report && next_report < wake)
            wake = next_report;
        pump_once(wake);
    }
    window = (double)(t_meas_end - t_meas_start) / 1e9;

    /* drain: calls still in flight finish (bounded), then cancel */
    if (opt.churn_streams > 0)
        streams_cancel_all();
    t_drain_until = now_ns() + 10000000000LL;
    while ((inflight_calls > 0 || streams_live > 0) && now_ns() < t_drain_until)
        pump_once(now_ns() + 50000000);
    st.unfinished = (uint64_t)inflight_calls;
    print_report(window);
    return 0;
}

/* ---- the metrics-file generator ----------------------------------------- */

static int gen_metrics(void)
{
    FILE *f = fopen(opt.gen_metrics, "w");
    int m, p;
    bool first = true;
    if (!f)
        die("%s: %s", opt.gen_metrics, strerror(errno));
    fprintf(f, "{\"pods\":[");
    if (!opt.empty)
        for (m = 0; m < opt.models; m++)
            for (p = 0; p < opt.pods; p++) {
                /* unsaturated, varied: kv 0.30..0.50, queue 0..2 */
                fprintf(f,
                        "%s\n{\"namespace\":\"%s\",\"model\":\"bench/model-%05d\","
                        "\"pod\":\"model-%05d-%d\",\"kv\":%.2f,\"queue\":%d}",
                        first ? "" : ",", opt.ns, m, m, p, 0.30 + 0.05 * (p % 5), p % 3);
                first = false;
            }
    fprintf(f, "\n]}\n");
    if (fclose(f) != 0)
        die("%s: write error", opt.gen_metrics);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --target HOST:PORT [--mode unary|cycle|streams]\n"
            "  [--method GetMetrics|IsActive|GetMetricSpec] [--concurrency C | --rate R]\n"
            "  [--objects N] [--models M] [--namespace NS] [--duration S] [--warmup S]\n"
            "  [--connections K] [--deadline-ms D] [--server-pid PID] [--cpus 0,1]\n"
            "  [--max-inflight N]\n"
            "  [--label L] [--report S] [--churn-streams S] [--stream-life-ms MS]\n"
            "  streams mode: [--stream-queues K] (K queues and threads for the streams)\n"
            "  streams: --streams N [--flip-file F --flip-a A --flip-b B --flips K]\n"
            "           [--hold S] [--flip-timeout S] [--open-timeout S] [--flip-gap S]\n"
            "  loadgen --gen-metrics FILE --models M --pods P [--namespace NS] [--empty]\n");
    exit(2);
}

static double num(const char *flag, const char *v)
{
    char *end;
    double d;
    if (!v)
        die("%s needs a value", flag);
    d = strtod(v, &end);
    if (*end || end == v)
        die("%s: not a number: %s", flag, v);
    return d;
}

static void quiet_log(gpr_log_func_args *a)
{
    if (a->severity == GPR_LOG_SEVERITY_ERROR)
        fprintf(stderr, "grpc: %s\n", a->message);
}

int main(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE() (i++, v)
        if (!strcmp(a, "--target"))
            opt.target = TAKE();
        else if (!strcmp(a, "--mode")) {
            (void)TAKE();
            if (v && !strcmp(v, "unary"))
                opt.mode = MODE_UNARY;
            else if (v && !strcmp(v, "cycle"))
                opt.mode = MODE_CYCLE;
            else if (v && !strcmp(v, "streams"))
                opt.mode = MODE_STREAMS;
            else
                die("--mode: unary, cycle or streams");
        } else if (!strcmp(a, "--method")) {
            int k;
            (void)TAKE();
            for (k = 0; k < K_STREAM; k++)
                if (v && !strcmp(v, kind_name[k]))
                    break;
            if (k == K_STREAM)
                die("--method: GetMetrics, IsActive or GetMetricSpec");
            opt.method = (enum kind)k;
        } else if (!strcmp(a, "--concurrency"))
            opt.concurrency = (int)num(a, TAKE());
        else if (!strcmp(a, "--rate"))
            opt.rate = num(a, TAKE());
        else if (!strcmp(a, "--objects"))
            opt.objects = (int)num(a, TAKE());
        else if (!strcmp(a, "--models"))
            opt.models = (int)num(a, TAKE());
        else if (!strcmp(a, "--namespace"))
            opt.ns = TAKE();
        else if (!strcmp(a, "--duration"))
            opt.duration = num(a, TAKE());
        else if (!strcmp(a, "--warmup"))
            opt.warmup = num(a, TAKE());
        else if (!strcmp(a, "--connections"))
            opt.connections = (int)num(a, TAKE());
        else if (!strcmp(a, "--deadline-ms"))
            opt.deadline_ms = (int)num(a, TAKE());
        else if (!strcmp(a, "--server-pid"))
            opt.server_pid = (int)num(a, TAKE());
        else if (!strcmp(a, "--cpus"))
            opt.cpus = TAKE();
        else if (!strcmp(a, "--max-inflight"))
            opt.max_inflight = (int)num(a, TAKE());
        else if (!strcmp(a, "--label"))
            opt.label = TAKE();
        else if (!strcmp(a, "--report"))
            opt.report_every = num(a, TAKE());
        else if (!strcmp(a, "--streams"))
            opt.streams = (int)num(a, TAKE());
        else if (!strcmp(a, "--flip-file"))
            opt.flip_file = TAKE();
        else if (!strcmp(a, "--flip-a"))
            opt.flip_a = TAKE();
        else if (!strcmp(a, "--flip-b"))
            opt.flip_b = TAKE();
        else if (!strcmp(a, "--flips"))
            opt.flips = (int)num(a, TAKE());
        else if (!strcmp(a, "--hold"))
            opt.hold = num(a, TAKE());
        else if (!strcmp(a, "--flip-timeout"))
            opt.flip_timeout = num(a, TAKE());
        else if (!strcmp(a, "--open-timeout"))
            opt.open_timeout = num(a, TAKE());
        else if (!strcmp(a, "--flip-gap"))
            opt.flip_gap = num(a, TAKE());
        else if (!strcmp(a, "--stream-queues"))
            opt.stream_queues = (int)num(a, TAKE());
        else if (!strcmp(a, "--churn-streams"))
            opt.churn_streams = (int)num(a, TAKE());
        else if (!strcmp(a, "--stream-life-ms"))
            opt.stream_life_ms = (int)num(a, TAKE());
        else if (!strcmp(a, "--gen-metrics"))
            opt.gen_metrics = TAKE();
        else if (!strcmp(a, "--pods"))
            opt.pods = (int)num(a, TAKE());
        else if (!strcmp(a, "--empty"))
            opt.empty = true;
        else
            usage();
        if (!a)
            usage();
#undef TAKE
    }
    if (opt.models <= 0)
        opt.models = opt.objects;
    if (opt.gen_metrics)
        return gen_metrics();
    if (!opt.target || opt.objects < 1 || opt.concurrency < 1 || opt.connections < 1 ||
        (opt.mode == MODE_STREAMS && opt.streams < 1) || opt.stream_life_ms < 1)
        usage();

    if (opt.cpus) {
        const char *p = opt.cpus;
        while (*p && n_cpus_watched < MAX_CPUS) {
            char *end;
            long c = strtol(p, &end, 10);
            if (end == p)
                die("--cpus: a list like 0,1");
            cpus_watched[n_cpus_watched++] = (int)c;
            p = *end == ',' ? end + 1 : end;
        }
    }
    srand((unsigned)getpid());
    gpr_set_log_function(quiet_log);
    grpc_init();
    cq = grpc_completion_queue_create_for_next(NULL);
    for (i = 0; i < K_N; i++)
        method_slice[i] = grpc_slice_from_static_string(kind_path[i]);
    encode_objects();
    channels = calloc((size_t)opt.connections, sizeof(*channels));
    for (i = 0; i < opt.connections; i++) {
        grpc_arg args[4];
        grpc_channel_args cargs;
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();
        args[0].type = GRPC_ARG_INTEGER;
        args[0].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL; /* one connection per channel */
        args[0].value.integer = 1;
        args[1].type = GRPC_ARG_INTEGER;
        args[1].key = GRPC_ARG_ENABLE_RETRIES;
        args[1].value.integer = 0;
        args[2].type = GRPC_ARG_INTEGER;
        args[2].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
        args[2].value.integer = 4 * 1024 * 1024;
        args[3].type = GRPC_ARG_INTEGER; /* keep channels apart even with equal args */
        args[3].key = "satbench.channel_index";
        args[3].value.integer = i;
        cargs.num_args = 4;
        cargs.args = args;
        channels[i] = grpc_channel_create(opt.target, creds, &cargs);
        grpc_channel_credentials_release(creds);
        if (!wait_ready(channels[i], now_ns() + 10000000000LL))
            die("could not connect to %s", opt.target);
    }

    if (opt.mode == MODE_STREAMS)
        run_streams();
    else
        run_load();

    for (i = 0; i < opt.connections; i++)
        grpc_channel_destroy(channels[i]);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    for (i = 0; i < opt.objects; i++) {
        grpc_slice_unref(objs[i].ref);
        grpc_slice_unref(objs[i].gm);
    }
    free(objs);
    free(streams);
    free(channels);
    grpc_shutdown();
    return 0;
}
