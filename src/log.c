/*
 * log: structured single-line logging to stderr. See include/log.h.
 */
#include "log.h"

#include <stdint.h>

#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
static enum log_format log_fmt = LOG_FORMAT_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_setup(enum log_level level, enum log_format format)
{
    log_threshold = level;
    log_fmt = format;
}

enum err_code log_level_parse(const char *s, enum log_level *out)
{
    int i;
    for (i = LOG_DEBUG; i <= LOG_ERROR; i++)
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return ERR_OK;
        }
    return ERR_INVALID;
}

enum err_code log_format_parse(const char *s, enum log_format *out)
{
    if (s && strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else if (s && strcmp(s, "logfmt") == 0)
        *out = LOG_FORMAT_LOGFMT;
    else
        return ERR_INVALID;
    return ERR_OK;
}

/* Append s escaped for a JSON/logfmt double-quoted string. A line must
 * stay valid UTF-8 (JSON): when s is not, its bytes >= 0x80 are written as
 * \u00XX escapes. */
static size_t append_escaped(char *buf, size_t pos, size_t cap, const char *s)
{
    bool utf8 = util_utf8_valid((const uint8_t *)s, strlen(s));

    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80 && !utf8) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
            continue;
        }
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

void log_vwrite(enum log_level level, const char *event, const char *fmt, va_list ap)
{
    char msg[2048], line[4600], ts[96];
    struct timespec now;
    struct tm tm;
    size_t pos;
    ssize_t w;

    if (level < log_threshold || level > LOG_ERROR)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    if (log_fmt == LOG_FORMAT_JSON)
        pos = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"",
                               ts, level_names[level]);
    else
        pos = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s event=\"", ts,
                               level_names[level]);
    pos = append_escaped(line, pos, sizeof(line), event ? event : "");
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos,
                            log_fmt == LOG_FORMAT_JSON ? "\",\"msg\":\"" : "\" msg=\"");
    pos = append_escaped(line, pos, sizeof(line), msg);
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos,
                            log_fmt == LOG_FORMAT_JSON ? "\"}\n" : "\"\n");
    if (pos >= sizeof(line))
        pos = sizeof(line) - 1;
    w = write(STDERR_FILENO, line, pos);
    (void)w;
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, event, fmt, ap);
    va_end(ap);
}
