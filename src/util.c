/*
 * util: strict number parsing and round-trip double formatting.
 *
 * Every parser consumes the whole string or fails: "1.5x", "", " 1" and
 * "nan" are errors, so a typo in trigger metadata never becomes a silent 0.
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum err_code util_parse_double(const char *s, double *out)
{
    char *end = NULL;
    double v;

    if (!s || !*s || s[0] == ' ' || s[0] == '\t')
        return ERR_INVALID;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0')
        return ERR_INVALID;
    if (!isfinite(v))
        return ERR_INVALID; /* "inf", "nan", and overflow to HUGE_VAL */
    if (errno == ERANGE && v != 0.0 && fabs(v) >= 1.0)
        return ERR_INVALID;
    *out = v;
    return ERR_OK;
}

enum err_code util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (!s || !*s || s[0] == ' ' || s[0] == '\t')
        return ERR_INVALID;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return ERR_INVALID;
    if (v < min || v > max)
        return ERR_INVALID;
    *out = (int64_t)v;
    return ERR_OK;
}

/* One number-unit pair of a Go duration; returns characters consumed or 0. */
static size_t duration_term(const char *s, double *ms)
{
    const char *p = s;
    double whole = 0.0, frac = 0.0, scale = 1.0, unit;
    int digits = 0;

    while (*p >= '0' && *p <= '9') {
        whole = whole * 10.0 + (*p - '0');
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            scale /= 10.0;
            frac += (*p - '0') * scale;
            p++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (p[0] == 'm' && p[1] == 's') {
        unit = 1.0;
        p += 2;
    } else if (p[0] == 'h') {
        unit = 3600000.0;
        p += 1;
    } else if (p[0] == 'm') {
        unit = 60000.0;
        p += 1;
    } else if (p[0] == 's') {
        unit = 1000.0;
        p += 1;
    } else {
        return 0;
    }
    *ms = (whole + frac) * unit;
    return (size_t)(p - s);
}

enum err_code util_parse_duration_ms(const char *s, int64_t *out_ms)
{
    double total = 0.0;

    if (!s || !*s)
        return ERR_INVALID;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return ERR_OK;
    }
    while (*s) {
        double ms = 0.0;
        size_t n = duration_term(s, &ms);
        if (!n)
            return ERR_INVALID;
        total += ms;
        s += n;
    }
    if (!isfinite(total) || total > 9.2e15) /* ~292k years in ms */
        return ERR_INVALID;
    *out_ms = (int64_t)total;
    return ERR_OK;
}

void util_fmt_double(char *buf, size_t len, double v)
{
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    size_t i;

    if (!buf || !len)
        return;
    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        snprintf(buf, len, fmts[i], v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void util_fmt_double17(char *buf, size_t len, double v)
{
    if (!buf || !len)
        return;
    snprintf(buf, len, "%.17g", v);
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void util_sanitize(const char *s, size_t len, size_t max, char *out, size_t out_len)
{
    size_t i, o = 0, take = len < max ? len : max;
    bool pending_space = false;

    if (!out || !out_len)
        return;
    for (i = 0; s && i < take && o + 1 < out_len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (is_ws(ch)) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space && o + 2 < out_len)
            out[o++] = ' ';
        pending_space = false;
        out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (len > take && o + 3 < out_len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

bool util_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n) /* truncated sequence */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

void util_fmt_size(char *buf, size_t len, size_t n)
{
    if (n > 0 && n % (1024 * 1024) == 0)
        snprintf(buf, len, "%zu MiB", n / (1024 * 1024));
    else if (n > 0 && n % 1024 == 0)
        snprintf(buf, len, "%zu KiB", n / 1024);
    else
        snprintf(buf, len, "%zu bytes", n);
}

bool util_json_unfinished(const char *json, size_t len)
{
    size_t i, depth = 0;
    bool in_string = false, escaped = false;

    for (i = 0; i < len; i++) {
        char ch = json[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (ch == '\\')
                escaped = true;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            depth--;
        }
    }
    return in_string || depth > 0;
}

void util_set_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

void util_clear_why(char *why, size_t why_len)
{
    if (why != NULL && why_len > 0)
        why[0] = '\0';
}
