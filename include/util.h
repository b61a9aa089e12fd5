/*
 * util: small helpers shared by every module: strict number parsing and
 * round-trip double formatting.
 *
 * Pure, no I/O, any thread. Out-parameters are left untouched on failure.
 */
#ifndef SAT_UTIL_H
#define SAT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "err.h"

#define SAT_WUR __attribute__((warn_unused_result))

/* Parse the whole of s as a finite double (strtod, leading/trailing blanks
 * refused, "nan"/"inf" refused). */
SAT_WUR enum err_code util_parse_double(const char *s, double *out);

/* Parse the whole of s as a base-10 integer in [min, max]. */
SAT_WUR enum err_code util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parse a Go-style duration ("500ms", "5s", "1m30s", "1h", "0") into
 * milliseconds. Units: ms, s, m, h; fractions allowed ("1.5s"). Negative
 * durations and values above ~292 million years are refused. */
SAT_WUR enum err_code util_parse_duration_ms(const char *s, int64_t *out_ms);

/* Shortest "%.{15,16,17}g" representation of v that reads back as v.
 * Writes at most len bytes (always NUL-terminated when len > 0). */
void util_fmt_double(char *buf, size_t len, double v);

/*
 * s[0..len) as log-safe text into out (out_len > 0): printable ASCII kept,
 * each white-space run one space (none leading or trailing), any other
 * byte '?'; at most max input bytes, then "..." when there was more. For
 * quoting what a remote server said (an error body) in a message.
 */
void util_sanitize(const char *s, size_t len, size_t max, char *out, size_t out_len);

/* "64 MiB", "512 KiB" or "1000 bytes" into buf. */
void util_fmt_size(char *buf, size_t len, size_t n);

/* Whether json[0..len) ends inside an open string, object or array: what
 * a cut connection leaves (cJSON reports only where the unfinished token
 * starts, which reads like a syntax error). */
bool util_json_unfinished(const char *json, size_t len);

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
bool util_utf8_valid(const uint8_t *s, size_t len);

/* Exactly 17 significant digits ("%.17g"): what analyze prints. */
void util_fmt_double17(char *buf, size_t len, double v);

/* printf into an error-message buffer; why may be NULL or why_len 0. */
void util_set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Empty an error-message buffer (why may be NULL or why_len 0). */
void util_clear_why(char *why, size_t why_len);

#endif
