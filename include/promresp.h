/*
 * promresp: the answer of Prometheus's instant-query API (/api/v1/query)
 * as a flat list of samples.
 *
 * The I/O module hands over what it received (HTTP status, body bytes);
 * this module decides whether it is a usable result and, if not, what to
 * tell the user. Accepted: status "success" with resultType "vector" (one
 * sample per series, with the labels this project reads) or "scalar" (one
 * sample without labels). Everything else is an error whose `why` is fit
 * for a gRPC status message: Prometheus's own error text when it sent one
 * ("bad_data: parse error at char 5: ... (HTTP 400)"), the HTTP status
 * and the start of a body that is not JSON, the size
 * limit, or the JSON path of the first malformed part
 * ("data.result[3].value: must be a [number, string] pair").
 *
 * Error codes (the caller prefixes why with the endpoint name):
 * - ERR_PRECONDITION: Prometheus refused the query itself (errorType
 *   "bad_data"), with or without a 4xx status. Retrying cannot help: the
 *   query we built, or the operator's activationQuery, is wrong.
 * - ERR_UNAVAILABLE: every other failure of the upstream: any other
 *   errorType (timeout, canceled, execution, internal, unavailable, ...),
 *   a non-2xx status, a body that is not JSON or not the expected shape,
 *   a body over the size limit.
 * - ERR_INVALID: bad arguments (no body pointer with len > 0, no output).
 * - ERR_NOMEM.
 *
 * Values are kept as Prometheus sent them, "NaN", "+Inf" and "-Inf"
 * included (finite = false); promresp_value() gives the number the
 * decision uses, with non-finite mapped to 0 (DESIGN section 4 step 1).
 *
 * Ownership: promresp_parse() returns one allocation holding the result,
 * its samples, its warnings and every string they point to; free it with
 * promresp_free() (NULL is a no-op). The input body is only read, never
 * retained, and need not be NUL-terminated.
 *
 * JSON: the body must be one JSON text as RFC 8259 defines it: escapes
 * (\uXXXX, surrogate pairs decoded to UTF-8; a lone surrogate is refused),
 * the number grammar (no leading zeros, no "1." or ".5"), no raw control
 * bytes in strings, only space, tab, CR and LF between tokens, nothing but
 * white space after the value; a leading UTF-8 byte order mark is skipped.
 * Nesting deeper than PROMRESP_MAX_DEPTH containers is refused (cJSON's
 * limit, which this module used before). Strings are used as C strings: a
 * "\u0000" ends one. Bytes >= 0x80 are passed through unchecked
 * (Prometheus sends UTF-8). The byte a JSON error names is where this
 * parser stopped.
 *
 * Threading: pure, no I/O, no logging, no globals; concurrent calls are
 * safe.
 *
 * Cost: one pass over the body, no tree: each sample's labels are copied as
 * they are read and the JSON path of an error is built only when there is
 * one. Allocations per call: a scratch buffer for strings (len + 1 bytes,
 * only the pages used are touched), the sample array (grown by doubling,
 * then resized into the result) and, with warnings, a pointer array; a
 * "result" sent before its "resultType" is read twice. The result takes 80
 * bytes per sample plus the copied strings; peak memory is the result plus
 * those strings once more. 100k samples (a 15 MB body) take 15-20 ms and
 * peak at 17.5 MB (cJSON's tree took ~100 ms and 115 MB).
 */
#ifndef SAT_PROMRESP_H
#define SAT_PROMRESP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "util.h"

/* Default limit on a response body, for callers without their own. */
#define PROMRESP_DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)
/* At most this many body bytes are quoted in a non-JSON error. */
#define PROMRESP_BODY_EXCERPT 200
/* Deepest nesting of JSON objects and arrays accepted (the top level is 1). */
#define PROMRESP_MAX_DEPTH 1000
/* A why buffer of this size holds every message without truncating the
 * fixed parts (Prometheus's error text may still be cut). */
#define PROMRESP_WHY_LEN 512

enum promresp_type {
    PROMRESP_VECTOR = 0, /* resultType "vector": one sample per series */
    PROMRESP_SCALAR      /* resultType "scalar": exactly one sample, no labels */
};

/*
 * One sample. The label fields are named after the Prometheus labels; each
 * is NULL when the series does not carry it and otherwise the value as sent
 * (Prometheus never sends empty label values). Owned by the result.
 */
struct promresp_sample {
    const char *namespace_;
    const char *model_name;
    const char *pod;
    const char *pod_name;
    const char *instance;
    const char *llm_d_ai_variant;
    const char *target_model_name;
    double timestamp; /* evaluation time, Unix seconds */
    double value;     /* as sent: may be NaN or +-Inf */
    bool finite;      /* false for "NaN", "+Inf", "-Inf" */
};

/* A parsed answer. Read-only; owned by the caller through promresp_free(). */
struct promresp {
    enum promresp_type type;
    struct promresp_sample *samples; /* NULL when count is 0 */
    size_t count;
    const char *const *warnings; /* the answer's "warnings" strings; NULL when none */
    size_t warning_count;
};

/*
 * Parse the answer to an instant query. http_status is the HTTP status
 * code; body[0..len) the body as received (may be NULL when len is 0);
 * max_len the largest body accepted (0 = PROMRESP_DEFAULT_MAX_BODY).
 *
 * On success *out holds the result (free with promresp_free()). On failure
 * *out is NULL and why (may be NULL; NUL-terminated when why_len > 0) says
 * what went wrong, e.g.
 *   bad_data: parse error at char 5: unexpected <EOF> (HTTP 400)
 *   HTTP 502: <html> <body>Bad Gateway</body> </html>
 *   response body of 70000000 bytes exceeds the limit of 64 MiB
 *   invalid JSON near byte 0: <!DOCTYPE html> <html>...
 *   invalid JSON near byte 21: data after the top-level value
 *   truncated JSON: the body ends at byte 4096 inside an unfinished value
 *       (first error near byte 4090)
 *   data.result[3].value: "abc" is not a number
 *   data.resultType: unexpected resultType "matrix" (want vector or scalar)
 * Quoted body bytes and Prometheus's error text are sanitized: printable
 * ASCII is kept, a run of white space becomes one space, any other byte
 * becomes '?'; at most PROMRESP_BODY_EXCERPT body bytes, then "...".
 * A "warnings" array is copied (its non-string entries skipped); other
 * unknown keys are ignored; keys are case-sensitive and the first of
 * repeated keys counts.
 */
SAT_WUR enum err_code promresp_parse(int http_status, const char *body, size_t len, size_t max_len,
                                     struct promresp **out, char *why, size_t why_len);

/* Free a result. NULL is a no-op. */
void promresp_free(struct promresp *r);

/* s's value for the decision: non-finite (NaN, +-Inf) becomes 0; NULL gives 0. */
double promresp_value(const struct promresp_sample *s);

#endif
