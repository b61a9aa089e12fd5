/*
 * serve: options table and the wiring of a running server. See
 * include/serve.h.
 */
#include "serve.h"

#include <ctype.h>
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "log.h"
#include "cfgstore.h"
#include "config.h"
#include "decisions.h"
#include "httpd.h"
#include "metrics.h"
#include "kube.h"
#include "mfile.h"
#include "prom.h"
#include "reflect.h"
#include "rpc.h"
#include "source.h"

enum opt_type { OPT_STRING, OPT_INT, OPT_DURATION, OPT_BOOL };

struct opt_def {
    const char *flag; /* without "--" */
    enum opt_type type;
    size_t offset;
    const char *def; /* default as text (NULL = unset) */
    int64_t min, max; /* OPT_INT / OPT_DURATION (ms) bounds */
    const char *help;
};

#define OFF(f) offsetof(struct serve_options, f)

static const struct opt_def opts[] = {
    {"listen", OPT_STRING, OFF(listen), "[::]:6000", 0, 0, "gRPC listen address (host:port)"},
    {"http-listen", OPT_STRING, OFF(http_listen), ":8080", 0, 0,
     "HTTP for probes and scrapes: /healthz, /readyz, /metrics, /debug/decision (\"off\" to "
     "disable)"},
    {"workers", OPT_INT, OFF(workers), "0", 0, 1024,
     "gRPC worker threads for calls; 0 = the CPUs this process may use (affinity, cgroup "
     "quota)"},
    {"stream-workers", OPT_INT, OFF(stream_workers), "4", 1, 256,
     "threads that carry the open StreamIsActive streams (push fan-out, teardown), apart from "
     "the call workers"},
    {"metrics-file", OPT_STRING, OFF(metrics_file), NULL, 0, 0,
     "serve per-pod saturation from this JSON file, re-read when it changes (instead of "
     "Prometheus)"},
    {"prometheus-url", OPT_STRING, OFF(prometheus_url), NULL, 0, 0,
     "the Prometheus endpoint named \"default\" (http:// or https://)"},
    {"config", OPT_STRING, OFF(config_file), NULL, 0, 0,
     "JSON config: Prometheus endpoints, decision defaults, per-model overrides"},
    {"refresh-interval", OPT_DURATION, OFF(refresh_ms), "5s", 100, 3600000,
     "how often each endpoint is queried for every model of interest"},
    {"interest-ttl", OPT_DURATION, OFF(interest_ttl_ms), "10m", 1000, 86400000,
     "a model stays of interest this long after a ScaledObject last asked about it"},
    {"max-staleness", OPT_DURATION, OFF(max_staleness_ms), "0", 0, 86400000,
     "while Prometheus fails, keep answering from the last good snapshot this long (0: "
     "answer UNAVAILABLE at once)"},
    {"max-response-bytes", OPT_INT, OFF(max_response_bytes), "67108864", 1024, 4294967296LL,
     "largest Prometheus answer accepted"},
    {"allow-metadata-prometheus-url", OPT_BOOL, OFF(allow_metadata_prometheus_url), "false", 0,
     0, "let trigger metadata `prometheus` be a URL (queried without any configured "
        "credentials)"},
    {"allow-cross-namespace", OPT_BOOL, OFF(allow_cross_namespace), "false", 0, 0,
     "let trigger metadata `namespace` name another namespace than the ScaledObject's"},
    {"kube", OPT_BOOL, OFF(kube), "false", 0, 0,
     "read llm-d.ai/managed ScaledObjects and their scale targets from the Kubernetes API "
     "(in cluster: service-account token and CA)"},
    {"kube-api-url", OPT_STRING, OFF(kube_api_url), NULL, 0, 0,
     "Kubernetes API server URL, for use outside a cluster (implies --kube)"},
    {"kube-token-file", OPT_STRING, OFF(kube_token_file), NULL, 0, 0,
     "bearer token for the API server, re-read when it changes"},
    {"kube-ca-file", OPT_STRING, OFF(kube_ca_file), NULL, 0, 0,
     "CA bundle (PEM) to verify the API server"},
    {"kube-cache-ttl", OPT_DURATION, OFF(kube_cache_ttl_ms), "15s", 100, 3600000,
     "how long Kubernetes reads are reused before a background refresh"},
    {"kube-timeout", OPT_DURATION, OFF(kube_timeout_ms), "5s", 100, 600000,
     "timeout of one Kubernetes API request (connect included)"},
    {"tls-cert-file", OPT_STRING, OFF(tls_cert_file), NULL, 0, 0,
     "TLS certificate (PEM) for the gRPC port; re-read when it changes"},
    {"tls-key-file", OPT_STRING, OFF(tls_key_file), NULL, 0, 0, "TLS private key (PEM)"},
    {"tls-client-ca-file", OPT_STRING, OFF(tls_client_ca_file), NULL, 0, 0,
     "CA bundle (PEM): require and verify client certificates (mutual TLS)"},
    {"shutdown-grace", OPT_DURATION, OFF(shutdown_grace_ms), "10s", 0, 3600000,
     "on SIGTERM, how long in-flight calls may take before they are cancelled"},
    {"log-level", OPT_STRING, OFF(log_level), "info", 0, 0, "debug, info, warn or error"},
    {"log-format", OPT_STRING, OFF(log_format), "json", 0, 0, "json or logfmt"},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static void env_name(const struct opt_def *d, char *buf, size_t len)
{
    size_t i, n = (size_t)snprintf(buf, len, "SATURATION_SCALER_");
    for (i = 0; d->flag[i] && n + 1 < len; i++)
        buf[n++] = d->flag[i] == '-' ? '_' : (char)toupper((unsigned char)d->flag[i]);
    buf[n] = '\0';
}

void serve_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: saturation-scaler serve [flags]\n\nflags (each also read from the "
               "environment variable shown):\n");
    for (i = 0; i < N_OPTS; i++) {
        char env[64];
        env_name(&opts[i], env, sizeof(env));
        fprintf(f, "  --%s%s\n      %s\n      env %s%s%s\n", opts[i].flag,
                opts[i].type == OPT_BOOL ? "" : " VALUE", opts[i].help, env,
                opts[i].def ? ", default " : "", opts[i].def ? opts[i].def : "");
    }
}

void serve_flags_markdown(FILE *f)
{
    size_t i;

    fprintf(f, "| flag | environment | default | meaning |\n|---|---|---|---|\n");
    for (i = 0; i < N_OPTS; i++) {
        char env[64];
        const char *h;
        env_name(&opts[i], env, sizeof(env));
        fprintf(f, "| `--%s` | `%s` | %s%s%s | ", opts[i].flag, env, opts[i].def ? "`" : "",
                opts[i].def ? opts[i].def : "", opts[i].def ? "`" : "");
        for (h = opts[i].help; *h; h++) /* a '|' would end the cell */
            fputs(*h == '|' ? "\\|" : (char[]){*h, 0}, f);
        fputs(" |\n", f);
    }
}

static enum err_code set_value(struct serve_options *o, const struct opt_def *d, const char *v,
                               const char *origin, char *why, size_t why_len)
{
    char *base = (char *)o + d->offset;

    switch (d->type) {
    case OPT_STRING: {
        char **p = (char **)(void *)base;
        char *copy = strdup(v);
        if (!copy)
            return ERR_NOMEM;
        free(*p);
        *p = copy;
        return ERR_OK;
    }
    case OPT_INT: {
        int64_t x;
        if (util_parse_int64(v, d->min, d->max, &x)) {
            snprintf(why, why_len, "%s: \"%.64s\" is not an integer in [%lld, %lld]", origin, v,
                     (long long)d->min, (long long)d->max);
            return ERR_INVALID;
        }
        *(int64_t *)(void *)base = x;
        return ERR_OK;
    }
    case OPT_DURATION: {
        int64_t ms;
        if (util_parse_duration_ms(v, &ms) || ms < d->min || ms > d->max) {
            snprintf(why, why_len,
                     "%s: \"%.64s\" is not a duration like 500ms, 10s or 1m30s (max %llds)",
                     origin, v, (long long)(d->max / 1000));
            return ERR_INVALID;
        }
        *(int64_t *)(void *)base = ms;
        return ERR_OK;
    }
    case OPT_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            *(bool *)(void *)base = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            *(bool *)(void *)base = false;
        else {
            snprintf(why, why_len, "%s: \"%.64s\" is not true or false", origin, v);
            return ERR_INVALID;
        }
        return ERR_OK;
    }
    return ERR_INTERNAL;
}

void serve_options_clear(struct serve_options *o)
{
    size_t i;
    if (!o)
        return;
    for (i = 0; i < N_OPTS; i++)
        if (opts[i].type == OPT_STRING) {
            char **p = (char **)(void *)((char *)o + opts[i].offset);
            free(*p);
        }
    memset(o, 0, sizeof(*o));
}

enum err_code serve_parse(int argc, char **argv, struct serve_options *o, char *why,
                          size_t why_len)
{
    enum err_code rc;
    size_t i;
    int a;

    memset(o, 0, sizeof(*o));
    for (i = 0; i < N_OPTS; i++) {
        char env[64], origin[96];
        const char *v;
        env_name(&opts[i], env, sizeof(env));
        v = getenv(env);
        snprintf(origin, sizeof(origin), "%s (from the environment)", env);
        if (!v || !*v) {
            v = opts[i].def;
            snprintf(origin, sizeof(origin), "--%s default", opts[i].flag);
        }
        if (v && (rc = set_value(o, &opts[i], v, origin, why, why_len)) != ERR_OK)
            goto fail;
    }
    for (a = 1; a < argc; a++) {
        const char *arg = argv[a], *name, *eq, *val = NULL;
        const struct opt_def *d = NULL;
        size_t nlen;
        char origin[96];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            serve_usage(stdout);
            serve_options_clear(o);
            return ERR_NOT_FOUND;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(why, why_len, "unexpected argument \"%.64s\" (flags start with --)", arg);
            rc = ERR_INVALID;
            goto fail;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        for (i = 0; i < N_OPTS; i++)
            if (strlen(opts[i].flag) == nlen && strncmp(opts[i].flag, name, nlen) == 0)
                d = &opts[i];
        if (!d) {
            snprintf(why, why_len, "unknown flag --%.*s (see saturation-scaler serve --help)",
                     (int)(nlen > 64 ? 64 : nlen), name);
            rc = ERR_INVALID;
            goto fail;
        }
        if (eq)
            val = eq + 1;
        else if (d->type == OPT_BOOL)
            val = "true";
        else if (a + 1 < argc)
            val = argv[++a];
        else {
            snprintf(why, why_len, "--%s needs a value", d->flag);
            rc = ERR_INVALID;
            goto fail;
        }
        snprintf(origin, sizeof(origin), "--%s", d->flag);
        rc = set_value(o, d, val, origin, why, why_len);
        if (rc)
            goto fail;
    }
    return ERR_OK;
fail:
    serve_options_clear(o);
    return rc;
}

/* ---- configuration ------------------------------------------------------ */

/* The config from --config (or an empty one) plus --prometheus-url, checked
 * (files readable). ERR_* with why naming the flag and key. */
static enum err_code load_config(const struct serve_options *o, struct config **out, char *why,
                                 size_t why_len)
{
    char inner[CONFIG_WHY_LEN];
    enum err_code rc;

    *out = NULL;
    if (o->config_file) {
        rc = config_load_file(o->config_file, out, inner, sizeof(inner));
        if (!rc)
            rc = config_check_files(*out, inner, sizeof(inner));
        if (rc) {
            snprintf(why, why_len, "--config: %s", inner);
            config_free(*out);
            *out = NULL;
            return rc;
        }
    } else if ((rc = config_parse("{}", 2, out, inner, sizeof(inner))) != ERR_OK) {
        snprintf(why, why_len, "%s", inner);
        return rc;
    }
    if (o->prometheus_url &&
        (rc = config_set_default_url(*out, o->prometheus_url, inner, sizeof(inner))) != ERR_OK) {
        snprintf(why, why_len, "--prometheus-url: %s", inner);
        config_free(*out);
        *out = NULL;
        return rc;
    }
    return ERR_OK;
}

struct file_stamp {
    struct timespec mtime, ctime;
    off_t size;
    ino_t ino;
    bool exists;
};

static struct file_stamp stamp_of(const char *path)
{
    struct file_stamp f;
    struct stat st;
    memset(&f, 0, sizeof(f));
    if (path && stat(path, &st) == 0) {
        f.exists = true;
        f.mtime = st.st_mtim;
        f.ctime = st.st_ctim;
        f.size = st.st_size;
        f.ino = st.st_ino;
    }
    return f;
}

static bool stamp_equal(const struct file_stamp *a, const struct file_stamp *b)
{
    return a->exists == b->exists && a->size == b->size && a->ino == b->ino &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Reload: a bad new file is rejected and the running config kept. */
static void reload_config(const struct serve_options *o, struct cfgstore *store, struct prom *prom,
                          const char *why_reload)
{
    struct config *next = NULL;
    char why[CONFIG_WHY_LEN + 64];
    uint64_t gen;

    if (load_config(o, &next, why, sizeof(why)) != ERR_OK) {
        log_write(LOG_ERROR, "config", "%s: new config rejected, keeping the running one: %s",
                  why_reload, why);
        return;
    }
    if (!o->metrics_file && next->n_endpoints == 0) {
        log_write(LOG_ERROR, "config",
                  "%s: new config rejected (no Prometheus endpoint left), keeping the running one",
                  why_reload);
        config_free(next);
        return;
    }
    gen = cfgstore_swap(store, next);
    prom_reload(prom);
    log_write(LOG_INFO, "config", "%s: config reloaded (generation %llu)", why_reload,
              (unsigned long long)gen);
}

/* ---- the metrics-file router: one source answers everything ----------- */

static struct source *static_route(void *arg, const struct meta_request *req, char *why,
                                   size_t why_len)
{
    (void)req;
    (void)why;
    (void)why_len;
    return arg; /* the `prometheus` key has no meaning with a metrics file */
}

static void static_subscribe(void *arg, source_subscriber_fn *fn, void *fn_arg)
{
    source_subscribe(arg, fn, fn_arg);
}

static void static_expire(void *arg, int64_t now_ms)
{
    source_expire(arg, now_ms);
}

/* ---- the HTTP endpoint's callbacks --------------------------------------- */

struct http_ctx {
    _Atomic(struct rpc_server *) srv; /* set by main once serving */
    struct decisions *decisions;
};

static bool http_ready(void *arg)
{
    struct http_ctx *h = arg;
    struct rpc_server *srv = atomic_load(&h->srv);
    return srv && rpc_ready(srv);
}

static enum err_code http_metrics(void *arg, char **text, size_t *len)
{
    (void)arg;
    return metrics_render(text, len);
}

static enum err_code http_decision(void *arg, const char *ns, const char *so, char **json,
                                   size_t *len)
{
    struct http_ctx *h = arg;
    return decisions_json(h->decisions, ns, so, json, len);
}

/* gRPC core's own log lines, into our stream. */
static void grpc_log_bridge(gpr_log_func_args *args)
{
    enum log_level lvl = args->severity == GPR_LOG_SEVERITY_ERROR  ? LOG_ERROR
                         : args->severity == GPR_LOG_SEVERITY_INFO ? LOG_INFO
                                                                    : LOG_DEBUG;
    LOG_AT(lvl, "grpc", "%s (%s:%d)", args->message, args->file, args->line);
}

int serve_main(int argc, char **argv)
{
    struct serve_options o;
    char why[CONFIG_WHY_LEN + 256];
    enum log_level level;
    enum log_format format;
    struct source *src = NULL;
    struct mfile *mf = NULL;
    struct prom *prom = NULL;
    struct config *cfg = NULL;
    struct kube *kube = NULL;
    struct cfgstore *store = NULL;
    struct file_stamp seen;
    struct decisions *decisions = NULL;
    struct httpd *http = NULL;
    struct http_ctx hctx;
    struct reflect *refl = NULL;
    struct rpc_server *srv = NULL;
    struct rpc_options ro;
    sigset_t sigs;
    int sig = 0, code = 0;
    enum err_code rc;

    rc = serve_parse(argc, argv, &o, why, sizeof(why));
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc) {
        fprintf(stderr, "saturation-scaler serve: %s\n", why);
        return 2;
    }
    if (log_level_parse(o.log_level, &level)) {
        fprintf(stderr, "saturation-scaler serve: --log-level: \"%.64s\" is not debug, info, "
                        "warn or error\n", o.log_level);
        serve_options_clear(&o);
        return 2;
    }
    if (log_format_parse(o.log_format, &format)) {
        fprintf(stderr, "saturation-scaler serve: --log-format: \"%.64s\" is not json or logfmt\n",
                o.log_format);
        serve_options_clear(&o);
        return 2;
    }
    log_setup(level, format);
    rc = load_config(&o, &cfg, why, sizeof(why));
    if (rc) {
        fprintf(stderr, "saturation-scaler serve: %s\n", why);
        serve_options_clear(&o);
        return 2;
    }
    if (o.metrics_file && cfg->n_endpoints > 0) {
        fprintf(stderr, "saturation-scaler serve: --metrics-file and Prometheus endpoints "
                        "(--prometheus-url, or \"prometheus\" in --config) are mutually "
                        "exclusive: pick one source\n");
        config_free(cfg);
        serve_options_clear(&o);
        return 2;
    }
    if (!o.metrics_file && cfg->n_endpoints == 0) {
        fprintf(stderr, "saturation-scaler serve: no data source: give --prometheus-url (or "
                        "endpoints in --config), or --metrics-file\n");
        config_free(cfg);
        serve_options_clear(&o);
        return 2;
    }

    /* gRPC's threads inherit this mask; signals are taken by sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

#ifdef __GLIBC__
    /* Two malloc arenas, not eight per CPU: the threads here allocate
     * little, and every extra arena keeps its own freed memory. */
    mallopt(M_ARENA_MAX, 2);
#endif
    gpr_set_log_function(grpc_log_bridge);
    gpr_set_log_verbosity(level <= LOG_DEBUG ? GPR_LOG_SEVERITY_DEBUG : GPR_LOG_SEVERITY_ERROR);
    grpc_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (metrics_init(SAT_VERSION) != ERR_OK)
        log_write(LOG_WARN, "serve", "self-metrics unavailable (out of memory)");

    rc = reflect_init(&refl);
    if (rc) {
        snprintf(why, sizeof(why), "reflection index: %s", err_str(rc));
        code = 1;
        goto out;
    }
    store = cfgstore_new(cfg);
    cfg = NULL; /* owned by the store */
    if (!store) {
        snprintf(why, sizeof(why), "out of memory");
        code = 1;
        goto out;
    }
    memset(&ro, 0, sizeof(ro));
    if (o.metrics_file) {
        src = source_new("metrics file", 5000);
        if (!src) {
            snprintf(why, sizeof(why), "out of memory");
            code = 1;
            goto out;
        }
        rc = mfile_start(o.metrics_file, src, &mf, why, sizeof(why));
        if (rc) {
            code = 2;
            goto out;
        }
        ro.router.route = static_route;
        ro.router.subscribe = static_subscribe;
        ro.router.expire = static_expire;
        ro.router.arg = src;
    } else {
        struct prom_options po;
        memset(&po, 0, sizeof(po));
        po.configs = store;
        po.refresh_ms = o.refresh_ms;
        po.interest_ttl_ms = o.interest_ttl_ms;
        po.max_staleness_ms = o.max_staleness_ms;
        po.max_response_bytes = (size_t)o.max_response_bytes;
        po.allow_metadata_url = o.allow_metadata_prometheus_url;
        rc = prom_start(&po, &prom, why, sizeof(why));
        if (rc) {
            code = 1;
            goto out;
        }
        ro.router.route = prom_route;
        ro.router.subscribe = prom_subscribe;
        ro.router.expire = prom_expire;
        ro.router.arg = prom;
    }
    ro.listen = o.listen;
    ro.workers = o.workers > 0 ? (int)o.workers : rpc_default_workers();
    ro.stream_workers = (int)o.stream_workers;
    ro.tls_cert_file = o.tls_cert_file;
    ro.tls_key_file = o.tls_key_file;
    ro.tls_client_ca_file = o.tls_client_ca_file;
    ro.shutdown_grace_ms = o.shutdown_grace_ms;
    ro.allow_cross_namespace = o.allow_cross_namespace;
    if (o.kube || o.kube_api_url) {
        struct kube_options ko;
        memset(&ko, 0, sizeof(ko));
        if (o.kube_api_url) {
            ko.api_url = o.kube_api_url;
            ko.token_file = o.kube_token_file;
            ko.ca_file = o.kube_ca_file;
        } else if (kube_options_in_cluster(&ko, why, sizeof(why)) != ERR_OK) {
            code = 2;
            goto out;
        } else {
            if (o.kube_token_file)
                ko.token_file = o.kube_token_file;
            if (o.kube_ca_file)
                ko.ca_file = o.kube_ca_file;
        }
        ko.cache_ttl_ms = o.kube_cache_ttl_ms;
        ko.timeout_ms = o.kube_timeout_ms;
        rc = kube_start(&ko, &kube, why, sizeof(why));
        if (rc) {
            code = 2;
            goto out;
        }
    }
    decisions = decisions_new(60000);
    if (!decisions) {
        snprintf(why, sizeof(why), "out of memory");
        code = 1;
        goto out;
    }
    memset(&hctx, 0, sizeof(hctx));
    hctx.decisions = decisions;
    if (strcmp(o.http_listen, "off") != 0) {
        struct httpd_options ho;
        memset(&ho, 0, sizeof(ho));
        ho.listen = o.http_listen;
        ho.ready = http_ready;
        ho.metrics = http_metrics;
        ho.decision = http_decision;
        ho.arg = &hctx;
        rc = httpd_start(&ho, &http, why, sizeof(why));
        if (rc) {
            code = 2;
            goto out;
        }
    }
    ro.reflect = refl;
    ro.configs = store;
    ro.kube = kube;
    ro.decisions = decisions;
    rc = rpc_start(&ro, &srv, why, sizeof(why));
    if (rc) {
        code = 2;
        goto out;
    }
    atomic_store(&hctx.srv, srv);
    log_write(LOG_INFO, "serve",
              "serving on %s (port %d, %d workers + %d for streams, %s) from %s%s; HTTP on %s (port %d)",
              o.listen, rpc_port(srv), ro.workers, ro.stream_workers, o.tls_cert_file ? "TLS" : "plaintext",
              o.metrics_file ? "metrics file " : "Prometheus endpoints",
              o.metrics_file ? o.metrics_file : "", http ? o.http_listen : "off",
              httpd_port(http));

    seen = stamp_of(o.config_file);
    for (;;) {
        struct timespec tick = {1, 0};
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig < 0) {
            /* once a second: forget ScaledObjects gone quiet; has the
             * config file changed? */
            struct file_stamp now;
            decisions_expire(decisions, source_now_ms(), o.interest_ttl_ms);
            metrics_expire(source_now_ms(), o.interest_ttl_ms);
            if (!o.config_file)
                continue;
            now = stamp_of(o.config_file);
            if (stamp_equal(&now, &seen))
                continue;
            seen = now;
            reload_config(&o, store, prom, "config file changed");
            continue;
        }
        if (sig == SIGHUP) {
            seen = stamp_of(o.config_file);
            reload_config(&o, store, prom, "SIGHUP");
            continue;
        }
        break;
    }
    log_write(LOG_INFO, "serve", "%s: shutting down (grace %llds, %zu open streams)",
              sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)(o.shutdown_grace_ms / 1000),
              rpc_open_streams(srv));
    rpc_shutdown(srv); /* /readyz turns 503 at once */
    log_write(LOG_INFO, "serve", "stopped");
    why[0] = '\0';
out:
    if (code)
        log_write(LOG_ERROR, "serve", "%s", why);
    httpd_stop(http);
    atomic_store(&hctx.srv, NULL);
    rpc_free(srv);
    kube_stop(kube);
    decisions_free(decisions);
    mfile_stop(mf);
    prom_stop(prom);
    source_free(src);
    reflect_free(refl);
    cfgstore_free(store);
    config_free(cfg);
    metrics_shutdown();
    curl_global_cleanup();
    grpc_shutdown();
    serve_options_clear(&o);
    return code;
}
