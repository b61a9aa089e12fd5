/*
 * httpd: the HTTP endpoint for probes, scrapes and debugging, on
 * libmicrohttpd (its own thread; never touches gRPC threads).
 *
 *   /healthz                   200 while the process runs
 *   /readyz                    200 while gRPC serves with a loaded config,
 *                              503 otherwise (never tied to Prometheus:
 *                              KEDA reaches scaler pods through DNS that
 *                              lists ready pods only)
 *   /metrics                   self-metrics, Prometheus text format
 *   /debug/decision?namespace=NS&scaledobject=NAME
 *                              the last decision for that ScaledObject
 *
 * What each answers comes from callbacks, so this module knows nothing of
 * the rest. Ownership: httpd_start() returns a server freed by httpd_stop().
 */
#ifndef SAT_HTTPD_H
#define SAT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "util.h"

struct httpd;

struct httpd_options {
    const char *listen; /* ":8080" (every address), "127.0.0.1:0", "[::1]:8080" */
    bool (*ready)(void *arg);
    /* malloc'd text the server frees */
    enum err_code (*metrics)(void *arg, char **text, size_t *len);
    /* malloc'd JSON, or ERR_NOT_FOUND */
    enum err_code (*decision)(void *arg, const char *ns, const char *so, char **json,
                              size_t *len);
    void *arg;
};

SAT_WUR enum err_code httpd_start(const struct httpd_options *o, struct httpd **out, char *why,
                                  size_t why_len);
int httpd_port(const struct httpd *h);
void httpd_stop(struct httpd *h);

#endif
