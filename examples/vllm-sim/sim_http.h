/*
 * sim_http: the HTTP face of vllm-sim (libmicrohttpd): GET /metrics,
 * GET /state, GET /healthz and the POST control endpoints, each mapped onto
 * one sim_state operation.
 *
 * Threads: MHD serves requests on a small internal thread pool; one mutex
 * in struct sim_http serialises every touch of the state (and cJSON
 * parsing, whose error slot is a global). The caller must not use the
 * state while the server runs, and frees it after sim_http_stop().
 */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "sim_state.h"

/* Request bodies above this are refused with 400. */
#define SIM_HTTP_MAX_BODY ((size_t)1 << 20)

struct sim_http;

/* Listen on addr and serve state (not owned) with `threads` threads. NULL
 * on failure, with the reason in err. Stop with sim_http_stop(). */
SIM_WUR struct sim_http *sim_http_start(struct sim_state *state, const struct sockaddr *addr,
                                        unsigned threads, char *err, size_t len);

/* The address actually bound, "127.0.0.1:8000" or "[::1]:8000" (the port
 * the kernel picked when 0 was asked for). */
const char *sim_http_address(const struct sim_http *h);

/* Stop serving (in-flight requests end), free h. NULL is a no-op. */
void sim_http_stop(struct sim_http *h);

#endif
