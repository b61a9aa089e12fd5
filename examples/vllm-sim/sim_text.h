/*
 * sim_text: the text helpers of vllm-sim (the vLLM /metrics simulator).
 *
 * A growable output buffer with a sticky failure flag (one check at the end
 * instead of one per append), Prometheus label-value escaping, round-trip
 * number formatting, UTF-8 validation and Go-style duration parsing.
 *
 * Pure: no I/O, no logging, no globals; any thread may call anything on
 * objects it owns. A struct sim_buf owns its data until sim_buf_take()
 * hands it to the caller, who frees it with free().
 */
#ifndef SIM_TEXT_H
#define SIM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_WUR __attribute__((warn_unused_result))

/* Longest startup delay accepted anywhere (24h): a simulator, not a clock. */
#define SIM_MAX_DELAY_NS ((int64_t)24 * 3600 * 1000000000)

struct sim_buf {
    char *data;  /* NUL-terminated when non-NULL */
    size_t len;  /* bytes used, without the NUL */
    size_t cap;  /* bytes allocated */
    bool failed; /* an allocation failed: every later append is a no-op */
};

void sim_buf_init(struct sim_buf *b);
/* Frees the data; safe on an initialised or already-freed buffer. */
void sim_buf_free(struct sim_buf *b);
void sim_buf_add(struct sim_buf *b, const char *s, size_t n);
void sim_buf_adds(struct sim_buf *b, const char *s);
void sim_buf_printf(struct sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A label value escaped per the text exposition format 0.0.4: backslash,
 * double quote and line feed get a backslash (the quotes are not added). */
void sim_buf_label_value(struct sim_buf *b, const char *v);
/* A sample value: the shortest of %.15g/%.16g/%.17g that reads back as v,
 * with ".0" appended to integers the way Python's prometheus_client (and
 * so vLLM) prints them; NaN, +Inf, -Inf spelled as Prometheus spells them. */
void sim_buf_number(struct sim_buf *b, double v);
/* The data (caller frees) and its length, or NULL when an append failed
 * (the buffer is freed either way and left empty). */
SIM_WUR char *sim_buf_take(struct sim_buf *b, size_t *len);

/* The shortest of %.15g/%.16g/%.17g that reads back as v (finite v), into
 * buf (at least 32 bytes). cJSON's own printer is not used for numbers: it
 * compares with a tolerance and may print 0.30000000000000004 as 0.3. */
void sim_format_double(char *buf, size_t len, double v);

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF): Prometheus refuses a scrape with anything else. */
SIM_WUR bool sim_utf8_valid(const char *s);

/* Parse a Go-style duration: "0", or one or more <decimal><unit> with
 * units ns, us (or µs), ms, s, m, h: "500ms", "5s", "1m30s", "1.5h".
 * No sign. On success *out_ns is set and true returned; on failure
 * *out_ns is 0 and why (when len > 0) says what is wrong. Values above
 * SIM_MAX_DELAY_NS are refused. */
SIM_WUR bool sim_parse_duration(const char *s, int64_t *out_ns, char *why, size_t len);

#endif
