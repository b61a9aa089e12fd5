/*
 * serve: the `serve` subcommand: its options and the wiring of the
 * modules (log, source, mfile, reflect, rpc) into a running server.
 *
 * One typed table drives the flags, their environment variables
 * (SATURATION_SCALER_<FLAG>) and --help, so they cannot drift. Precedence:
 * flag, then environment, then default. A bad value fails at start with a
 * message naming the flag (exit 2).
 *
 * Threading: serve_main() runs on the main thread; it blocks SIGINT,
 * SIGTERM and SIGHUP before any thread starts and waits for them with
 * sigwait().
 */
#ifndef SAT_SERVE_H
#define SAT_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "util.h"

struct serve_options {
    char *listen;
    char *http_listen;
    int64_t workers; /* 0 = the CPUs this process may use */
    int64_t stream_workers; /* threads for streams */
    char *metrics_file;
    char *config_file;
    char *prometheus_url;
    int64_t refresh_ms;
    int64_t interest_ttl_ms;
    int64_t max_staleness_ms;
    int64_t max_response_bytes;
    bool allow_metadata_prometheus_url;
    bool kube;
    char *kube_api_url;
    char *kube_token_file;
    char *kube_ca_file;
    int64_t kube_cache_ttl_ms;
    int64_t kube_timeout_ms;
    bool allow_cross_namespace;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_client_ca_file;
    int64_t shutdown_grace_ms;
    char *log_level;
    char *log_format;
};

/* Parse argv (argv[0] is "serve" or the program) and the environment
 * (getenv) into *out. ERR_INVALID with why naming the flag; the special
 * ERR_NOT_FOUND means --help was asked (help already printed). */
SAT_WUR enum err_code serve_parse(int argc, char **argv, struct serve_options *out, char *why,
                                  size_t why_len);
void serve_options_clear(struct serve_options *o);
/* The flag table as help text. */
void serve_usage(FILE *f);
/* The flag table as a Markdown table (the README's configuration table). */
void serve_flags_markdown(FILE *f);

/* Run the server until SIGTERM/SIGINT; returns the process exit code. */
int serve_main(int argc, char **argv);

#endif
