/*
 * log: one line per event on stderr, JSON (default) or logfmt, level-gated.
 *
 * LOG_AT() does not evaluate its arguments when the level is off, so a
 * debug line on a hot path costs one comparison. Messages are escaped, so a
 * hostile value cannot forge a log line.
 *
 * Threading: log_setup() once at start, before threads; log_write() from
 * any thread (one write(2) per line, so lines never interleave).
 */
#ifndef SAT_LOG_H
#define SAT_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "err.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_LOGFMT };

extern enum log_level log_threshold;

void log_setup(enum log_level level, enum log_format format);
/* "debug|info|warn|error" -> level; ERR_INVALID otherwise. */
enum err_code log_level_parse(const char *s, enum log_level *out) __attribute__((warn_unused_result));
enum err_code log_format_parse(const char *s, enum log_format *out) __attribute__((warn_unused_result));

/* event: a short static name ("rpc", "source", "grpc"...). */
void log_write(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level level, const char *event, const char *fmt, va_list ap);

#define LOG_AT(level, event, ...)                                                                 \
    do {                                                                                          \
        if ((level) >= log_threshold)                                                             \
            log_write((level), (event), __VA_ARGS__);                                             \
    } while (0)

#endif
