/*
 * sim_http: routes HTTP requests to sim_state operations for vllm-sim.
 *
 * A POST body is gathered into a per-request buffer (at most 1 MiB: a
 * declared Content-Length above that is refused before the body is read, a
 * chunked one is drained and refused at the end), parsed as JSON, and handed
 * to the state under the mutex. Answers are JSON ({"error": "..."} on
 * failure) except /metrics (exposition text) and /healthz ("ok"). The map
 * from enum sim_rc to an HTTP status is here and nowhere else. Each control
 * request is logged as one line on stderr; scrapes are not.
 */
#include "sim_http.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_CONTENT_TYPE "application/json"
#define ERR_LEN 512
/* Idle keep-alive connections are closed after this many seconds. */
#define CONNECTION_TIMEOUT_S 30u

struct sim_http {
    struct MHD_Daemon *daemon;
    struct sim_state *state;
    pthread_mutex_t mu;
    char address[96];
};

/* Per request: the body gathered so far. */
struct request {
    char *body; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool too_big;
    bool oom;
};

enum op { OP_METRICS, OP_STATE, OP_HEALTHZ, OP_PODS, OP_REMOVE, OP_SET, OP_FLOW, OP_RESET };

struct route {
    const char *path;
    bool post; /* POST, else GET (and HEAD) */
    enum op op;
};

static const struct route routes[] = {
    {"/metrics", false, OP_METRICS}, {"/state", false, OP_STATE},  {"/healthz", false, OP_HEALTHZ},
    {"/pods", true, OP_PODS},        {"/remove", true, OP_REMOVE}, {"/set", true, OP_SET},
    {"/flow", true, OP_FLOW},        {"/reset", true, OP_RESET},
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned rc_status(enum sim_rc rc)
{
    switch (rc) {
    case SIM_OK:
        return MHD_HTTP_OK;
    case SIM_EINVAL:
        return MHD_HTTP_BAD_REQUEST;
    case SIM_ENOENT:
        return MHD_HTTP_NOT_FOUND;
    case SIM_EEXIST:
        return MHD_HTTP_CONFLICT;
    case SIM_ENOMEM:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Queue body (malloc'ed; ownership passes to MHD, even on failure). */
static enum MHD_Result reply_owned(struct MHD_Connection *c, unsigned status, const char *ctype,
                                   char *body, size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (ret == MHD_YES && allow)
        ret = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (ret == MHD_YES)
        ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                  const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        return MHD_NO;
    return reply_owned(c, status, ctype, copy, strlen(copy), NULL);
}

/* Print j (not freed here) with a trailing newline. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, const cJSON *j,
                                  const char *allow)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    if (!s)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_CONTENT_TYPE,
                          "{\"error\":\"out of memory\"}\n");
    size_t n = strlen(s);
    char *body = malloc(n + 2);
    if (!body) {
        free(s);
        return MHD_NO;
    }
    memcpy(body, s, n);
    body[n] = '\n';
    body[n + 1] = '\0';
    free(s);
    return reply_owned(c, status, JSON_CONTENT_TYPE, body, n + 1, allow);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                   const char *allow)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        o = NULL;
    }
    enum MHD_Result ret = reply_json(c, status, o, allow);
    cJSON_Delete(o);
    return ret;
}

static void log_request(const char *method, const char *url, unsigned status, const char *why)
{
    fprintf(stderr, "vllm-sim: %s %s -> %u%s%s\n", method, url, status, why ? ": " : "",
            why ? why : "");
}

static bool all_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

/* Parse the body (NULL *out for an empty one). Call with the mutex held:
 * cJSON records parse errors in a global. */
static bool parse_body(const struct request *rq, cJSON **out, char *err, size_t len)
{
    *out = NULL;
    if (!rq->body || all_blank(rq->body, rq->len))
        return true;
    if (memchr(rq->body, '\0', rq->len)) {
        snprintf(err, len, "invalid JSON: the body contains a NUL byte");
        return false;
    }
    const char *end = NULL;
    /* rq->len + 1 covers the NUL, so "trailing garbage" is an error. */
    *out = cJSON_ParseWithLengthOpts(rq->body, rq->len + 1, &end, 1);
    if (!*out) {
        size_t at = end && end >= rq->body ? (size_t)(end - rq->body) : 0;
        snprintf(err, len, "invalid JSON near byte %zu", at);
        return false;
    }
    return true;
}

static enum MHD_Result serve_post(struct sim_http *h, struct MHD_Connection *c, enum op op,
                                  const char *method, const char *url, const struct request *rq)
{
    char err[ERR_LEN] = "";
    cJSON *body = NULL, *out = NULL;
    enum sim_rc rc = SIM_EINVAL;
    pthread_mutex_lock(&h->mu);
    if (parse_body(rq, &body, err, sizeof err)) {
        int64_t now = now_ns();
        switch (op) {
        case OP_PODS:
            rc = sim_state_add_pods(h->state, body, now, &out, err, sizeof err);
            break;
        case OP_REMOVE:
            rc = sim_state_remove(h->state, body, now, &out, err, sizeof err);
            break;
        case OP_SET:
            rc = sim_state_set(h->state, body, now, &out, err, sizeof err);
            break;
        case OP_FLOW:
            rc = sim_state_flow(h->state, body, &out, err, sizeof err);
            break;
        case OP_RESET:
            rc = sim_state_reset(h->state, body, &out, err, sizeof err);
            break;
        default:
            snprintf(err, sizeof err, "not a control endpoint");
            rc = SIM_EINVAL;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    cJSON_Delete(body);
    unsigned status = rc_status(rc);
    log_request(method, url, status, rc ? err : NULL);
    enum MHD_Result ret = rc ? reply_error(c, status, err, NULL) : reply_json(c, status, out, NULL);
    cJSON_Delete(out);
    return ret;
}

static enum MHD_Result serve_get(struct sim_http *h, struct MHD_Connection *c, enum op op)
{
    if (op == OP_HEALTHZ)
        return reply_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
    if (op == OP_METRICS) {
        size_t len = 0;
        pthread_mutex_lock(&h->mu);
        char *text = sim_state_render_metrics(h->state, now_ns(), &len);
        pthread_mutex_unlock(&h->mu);
        if (!text)
            return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
        return reply_owned(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len, NULL);
    }
    pthread_mutex_lock(&h->mu);
    cJSON *j = sim_state_to_json(h->state, now_ns());
    pthread_mutex_unlock(&h->mu);
    enum MHD_Result ret = j ? reply_json(c, MHD_HTTP_OK, j, NULL)
                            : reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    cJSON_Delete(j);
    return ret;
}

static enum MHD_Result dispatch(struct sim_http *h, struct MHD_Connection *c, const char *url,
                                const char *method, const struct request *rq)
{
    const struct route *route = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, url) == 0) {
            route = &routes[i];
            break;
        }
    }
    char err[ERR_LEN];
    if (!route) {
        snprintf(err, sizeof err,
                 "no endpoint %s; there are GET /metrics, /state, /healthz and POST /pods, "
                 "/remove, /set, /flow, /reset",
                 url);
        return reply_error(c, MHD_HTTP_NOT_FOUND, err, NULL);
    }
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool is_get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (route->post ? !is_post : !is_get) {
        snprintf(err, sizeof err, "%s takes %s, not %s", url, route->post ? "POST" : "GET", method);
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, err, route->post ? "POST" : "GET, HEAD");
    }
    if (rq->oom)
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    if (route->post)
        return serve_post(h, c, route->op, method, url, rq);
    return serve_get(h, c, route->op);
}

static enum MHD_Result reply_too_big(struct MHD_Connection *c, const char *method, const char *url)
{
    char err[ERR_LEN];
    snprintf(err, sizeof err, "body too large: the limit is %zu bytes (1 MiB)", SIM_HTTP_MAX_BODY);
    log_request(method, url, MHD_HTTP_BAD_REQUEST, err);
    return reply_error(c, MHD_HTTP_BAD_REQUEST, err, NULL);
}

/* Append n bytes of body, or note why not (the rest is then drained). */
static void gather(struct request *rq, const char *data, size_t n)
{
    if (rq->too_big || rq->oom)
        return;
    if (n > SIM_HTTP_MAX_BODY - rq->len) {
        rq->too_big = true;
    } else if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 4096;
        while (cap < rq->len + n + 1)
            cap *= 2;
        char *p = realloc(rq->body, cap);
        if (!p) {
            rq->oom = true;
        } else {
            rq->body = p;
            rq->cap = cap;
        }
    }
    if (rq->too_big || rq->oom) {
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
}

/* Whether the request declares a Content-Length above the limit. */
static bool declared_too_big(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl || *cl < '0' || *cl > '9')
        return false; /* absent, or malformed: MHD answers that itself */
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno == ERANGE)
        return true;
    return end != cl && n > SIM_HTTP_MAX_BODY;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct sim_http *h = cls;
    struct request *rq = *req_cls;
    if (!rq) {
        /* First call: headers only. Refuse an oversized body before the
         * client sends it (MHD then closes the connection). */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *req_cls = rq;
        if (declared_too_big(c))
            return reply_too_big(c, method, url);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        gather(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return reply_too_big(c, method, url);
    return dispatch(h, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct request *rq = *req_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *req_cls = NULL;
    }
}

/* The bound address as "host:port" ("[host]:port" for IPv6). */
static void bound_address(struct sim_http *h)
{
    snprintf(h->address, sizeof h->address, "?");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (!info)
        return;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    char host[64], port[8]; /* numeric: INET6_ADDRSTRLEN (46) and "65535" fit */
    if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        snprintf(h->address, sizeof h->address, "[%s]:%s", host, port);
    else
        snprintf(h->address, sizeof h->address, "%s:%s", host, port);
}

struct sim_http *sim_http_start(struct sim_state *state, const struct sockaddr *addr,
                                unsigned threads, char *err, size_t len)
{
    struct sim_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, len, "out of memory");
        return NULL;
    }
    h->state = state;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        snprintf(err, len, "pthread_mutex_init failed");
        return NULL;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* MHD binds to addr; the port argument only shows in its own log. */
    uint16_t port = addr->sa_family == AF_INET6
                        ? ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port)
                        : ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
    errno = 0;
    h->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
                                 on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT,
                                 CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, len, "cannot listen%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    bound_address(h);
    return h;
}

const char *sim_http_address(const struct sim_http *h)
{
    return h->address;
}

void sim_http_stop(struct sim_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
