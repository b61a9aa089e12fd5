/*
 * fuzz_util: small helpers shared by the fuzz targets (header only, every
 * function static inline so each target stays one translation unit plus
 * this header).
 *
 * - fuzz_fail(): report a broken invariant and abort, which libFuzzer and
 *   the replay driver both treat as a crash (the input is kept);
 *   fuzz_fatal() the same where going on would crash the target itself.
 * - fuzz_check_why(): a `why` buffer after a failure must hold a
 *   NUL-terminated message of printable ASCII (it ends up in a gRPC status
 *   message or a log line, and these modules promise escaped text);
 *   fuzz_check_why_text() only refuses control bytes (for messages about
 *   an operator's file, which may quote UTF-8).
 * - SAT_FUZZ_SKIP (environment): see fuzz_skipped().
 * - fuzz_touch(): read a string whole, so ASan sees a string that is not
 *   terminated or points at freed memory.
 * - struct fuzz_lines: split an input into NUL-terminated lines (one
 *   allocation; embedded NUL bytes end a line's C string early, as they
 *   would end a protobuf-c string).
 *
 * Nothing here allocates beyond fuzz_lines_split(), released by
 * fuzz_lines_free().
 */
#ifndef SAT_FUZZ_UTIL_H
#define SAT_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * SAT_FUZZ_SKIP: comma-separated substrings; a broken invariant whose
 * "<what>: <detail>" line contains one of them is reported once and not
 * fatal. For a long fuzz run past a finding already recorded (in
 * test/fuzz/regressions/) that would otherwise end every job at once;
 * never set in ctest.
 */
static inline bool fuzz_skipped(const char *line)
{
    const char *skip = getenv("SAT_FUZZ_SKIP");
    char item[128];

    while (skip && *skip) {
        size_t n = strcspn(skip, ",");
        if (n && n < sizeof(item)) {
            memcpy(item, skip, n);
            item[n] = '\0';
            if (strstr(line, item))
                return true;
        }
        skip += n + (skip[n] == ',');
    }
    return false;
}

static inline void fuzz_fail(const char *what, const char *detail)
{
    static bool reported_skip;
    char line[1024];

    snprintf(line, sizeof(line), "%.200s%s%.800s", what, detail ? ": " : "", detail ? detail : "");
    if (fuzz_skipped(line)) {
        if (!reported_skip)
            fprintf(stderr, "fuzz invariant broken (skipped by SAT_FUZZ_SKIP): %s\n", line);
        reported_skip = true;
        return;
    }
    fprintf(stderr, "fuzz invariant broken: %s\n", line);
    abort();
}

static size_t fuzz_sink; /* defeats dead-code elimination of fuzz_touch */

static inline void fuzz_touch(const char *s)
{
    if (s)
        fuzz_sink += strlen(s);
}

/* A broken invariant after which the target cannot go on (a NULL it would
 * dereference, a setup that failed): always fatal, SAT_FUZZ_SKIP or not. */
static inline void fuzz_fatal(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

/* The message, with every byte outside printable ASCII as \xNN. */
static inline void fuzz_escape(char *out, size_t out_len, const char *s)
{
    size_t o = 0;

    for (; *s && o + 5 < out_len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c <= 0x7e)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, out_len - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

/*
 * Check a message buffer of why_len bytes (why may be NULL) after a
 * failure: NUL-terminated, and no control byte (0x00-0x1f, 0x7f: a forged
 * log line or a broken status message). strict: printable ASCII only, for
 * modules that promise to escape or sanitize what they echo.
 */
static inline void fuzz_check_why_level(const char *why, size_t why_len, const char *where,
                                        bool strict)
{
    char shown[768];
    size_t i;

    if (!why || !why_len)
        return;
    if (!memchr(why, '\0', why_len)) {
        fuzz_fail(where, "why is not NUL-terminated");
        return;
    }
    for (i = 0; why[i]; i++) {
        unsigned char c = (unsigned char)why[i];
        if (c < 0x20 || c == 0x7f || (strict && c > 0x7e)) {
            char detail[900];
            fuzz_escape(shown, sizeof(shown), why);
            snprintf(detail, sizeof(detail), "why holds byte 0x%02x at %zu: %s", c, i, shown);
            fuzz_fail(where, detail);
            return;
        }
    }
}

/* Printable ASCII only: for promresp, meta, kubeobj (escaped by contract). */
static inline void fuzz_check_why(const char *why, size_t why_len, const char *where)
{
    fuzz_check_why_level(why, why_len, where, true);
}

/* No control bytes: for messages that may echo UTF-8 from an operator's file. */
static inline void fuzz_check_why_text(const char *why, size_t why_len, const char *where)
{
    fuzz_check_why_level(why, why_len, where, false);
}

struct fuzz_lines {
    char *buf;    /* the input, with every '\n' turned into '\0', plus one '\0' */
    char **line;  /* line[i] points into buf */
    size_t count; /* a final line without '\n' counts; an empty input has 1 line */
};

/* Split data at '\n'. Returns false when out of memory (nothing to free). */
static inline bool fuzz_lines_split(const uint8_t *data, size_t size, struct fuzz_lines *out)
{
    size_t i, n = 1, k = 0;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    out->buf = malloc(size + 1);
    out->line = malloc(n * sizeof(char *));
    if (!out->buf || !out->line) {
        free(out->buf);
        free(out->line);
        memset(out, 0, sizeof(*out));
        return false;
    }
    if (size)
        memcpy(out->buf, data, size);
    out->buf[size] = '\0';
    out->line[k++] = out->buf;
    for (i = 0; i < size; i++) {
        if (out->buf[i] == '\n') {
            out->buf[i] = '\0';
            out->line[k++] = out->buf + i + 1;
        }
    }
    out->count = n;
    return true;
}

static inline void fuzz_lines_free(struct fuzz_lines *l)
{
    free(l->buf);
    free(l->line);
    memset(l, 0, sizeof(*l));
}

#endif
