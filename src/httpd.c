/*
 * httpd: /healthz, /readyz, /metrics, /debug/decision on libmicrohttpd.
 * See include/httpd.h.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct httpd {
    struct httpd_options o;
    struct MHD_Daemon *d;
    int port;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status,
                                 const char *type, char *body, size_t len, bool owned);

/* A constant body: its length is computed, never counted by hand. */
static enum MHD_Result send_const(struct MHD_Connection *conn, unsigned int status,
                                  const char *type, const char *body)
{
    return send_text(conn, status, type, (char *)body, strlen(body), false);
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status,
                                 const char *type, char *body, size_t len, bool owned)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (owned)
        r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    else
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    char *body = NULL;
    size_t len = 0;
    (void)version;
    (void)upload_data;
    (void)con_cls;

    if (*upload_size) /* no request bodies here */
        *upload_size = 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_const(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    if (strcmp(url, "/healthz") == 0)
        return send_const(conn, MHD_HTTP_OK, "text/plain", "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        if (h->o.ready && h->o.ready(h->o.arg))
            return send_const(conn, MHD_HTTP_OK, "text/plain", "ready\n");
        return send_const(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "not ready\n");
    }
    if (strcmp(url, "/metrics") == 0 && h->o.metrics) {
        if (h->o.metrics(h->o.arg, &body, &len) != ERR_OK)
            return send_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                              "metrics unavailable\n");
        return send_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                         true);
    }
    if (strcmp(url, "/debug/decision") == 0 && h->o.decision) {
        const char *ns = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "namespace");
        const char *so = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "scaledobject");
        enum err_code rc;
        if (!ns || !so || !*ns || !*so)
            return send_const(conn, MHD_HTTP_BAD_REQUEST, "application/json",
                              "{\"error\":\"namespace and scaledobject query parameters are "
                              "required\"}\n");
        rc = h->o.decision(h->o.arg, ns, so, &body, &len);
        if (rc == ERR_NOT_FOUND)
            return send_const(conn, MHD_HTTP_NOT_FOUND, "application/json",
                              "{\"error\":\"no decision recorded for that ScaledObject (yet)\"}\n");
        if (rc)
            return send_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                              "{\"error\":\"internal error\"}\n");
        return send_text(conn, MHD_HTTP_OK, "application/json", body, len, true);
    }
    return send_const(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

/* ":8080", "host:port", "[v6]:port" into an address to bind. */
static enum err_code parse_listen(const char *listen, struct sockaddr_storage *ss, bool *any,
                                  int *port, char *why, size_t why_len)
{
    char host[256] = "";
    const char *colon;
    struct addrinfo hints, *res = NULL;
    char *end;
    long p;

    *any = false;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(close - listen - 1), listen + 1);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    }
    p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        goto bad;
    *port = (int)p;
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        *any = true;
        return ERR_OK;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        goto bad;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return ERR_OK;
bad:
    snprintf(why, why_len, "--http-listen: \"%.100s\" is not host:port, :port or [v6]:port",
             listen);
    return ERR_INVALID;
}

enum err_code httpd_start(const struct httpd_options *o, struct httpd **out, char *why,
                          size_t why_len)
{
    struct httpd *h;
    struct sockaddr_storage ss;
    bool any;
    int port = 0;
    enum err_code rc;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    rc = parse_listen(o->listen, &ss, &any, &port, why, why_len);
    if (rc)
        return rc;
    h = calloc(1, sizeof(*h));
    if (!h)
        return ERR_NOMEM;
    h->o = *o;
    if (any)
        h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_DUAL_STACK |
                                    MHD_USE_POLL,
                                (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned int)10, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned int)10, MHD_OPTION_END);
    if (!h->d) {
        snprintf(why, why_len, "--http-listen %s: could not listen (address in use?)", o->listen);
        free(h);
        return ERR_INVALID;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return ERR_OK;
}

int httpd_port(const struct httpd *h)
{
    return h ? h->port : 0;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
