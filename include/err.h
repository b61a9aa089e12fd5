/*
 * err: the one error enum of saturation-scaler.
 *
 * Every fallible function returns an enum err_code; ERR_OK is 0 so the curl
 * idiom `rc = f(); if(rc) return rc;` works. Details (which key, which value,
 * which endpoint) go into a caller-supplied buffer or the log line, never into
 * the code. The mapping to grpc_status_code lives in one place (rpc module).
 *
 * Threading: pure, any thread.
 */
#ifndef SAT_ERR_H
#define SAT_ERR_H

enum err_code {
    ERR_OK = 0,
    ERR_NOMEM,        /* allocation failed */
    ERR_INVALID,      /* bad input: metadata, config, JSON; maps to INVALID_ARGUMENT */
    ERR_NOT_FOUND,    /* unknown metric name or object; NOT_FOUND */
    ERR_PRECONDITION, /* e.g. annotation missing; FAILED_PRECONDITION */
    ERR_UNAVAILABLE,  /* upstream (Prometheus, API server) failed; UNAVAILABLE */
    ERR_TIMEOUT,      /* deadline passed; DEADLINE_EXCEEDED */
    ERR_IO,           /* file or socket error */
    ERR_AGAIN,        /* not yet: the request was parked and will be called back */
    ERR_INTERNAL      /* a bug or an impossible state */
};

/* Static string naming the code ("invalid argument"...); never NULL. */
const char *err_str(enum err_code rc);

#endif
