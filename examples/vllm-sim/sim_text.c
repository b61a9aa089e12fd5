/*
 * sim_text: buffer, escaping, number formatting, UTF-8 and durations for
 * vllm-sim.
 *
 * Everything the exposition and the control API print or parse that is not
 * about pods lives here, so sim_state.c reads as the model it is. The
 * buffer's sticky failure flag keeps the renderers free of error plumbing:
 * they append blindly and sim_buf_take() reports an allocation failure once.
 */
#include "sim_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 256

void sim_buf_init(struct sim_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void sim_buf_free(struct sim_buf *b)
{
    free(b->data);
    sim_buf_init(b);
}

/* Make room for n more bytes plus the NUL; false (and failed set) if not. */
static bool buf_reserve(struct sim_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void sim_buf_add(struct sim_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sim_buf_adds(struct sim_buf *b, const char *s)
{
    sim_buf_add(b, s, strlen(s));
}

void sim_buf_printf(struct sim_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
    } else if (buf_reserve(b, (size_t)n)) {
        (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void sim_buf_label_value(struct sim_buf *b, const char *v)
{
    const char *run = v; /* start of the bytes not yet copied */
    for (const char *p = v; *p; p++) {
        const char *esc = NULL;
        if (*p == '\\')
            esc = "\\\\";
        else if (*p == '"')
            esc = "\\\"";
        else if (*p == '\n')
            esc = "\\n";
        if (esc) {
            sim_buf_add(b, run, (size_t)(p - run));
            sim_buf_adds(b, esc);
            run = p + 1;
        }
    }
    sim_buf_adds(b, run);
}

void sim_format_double(char *buf, size_t len, double v)
{
    /* %.15g drops trailing zeros, so when it reads back it is the shortest
     * form; otherwise 16 or 17 digits are needed, and 17 always suffice. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

void sim_buf_number(struct sim_buf *b, double v)
{
    if (isnan(v)) {
        sim_buf_adds(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sim_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    sim_format_double(tmp, sizeof tmp, v);
    sim_buf_adds(b, tmp);
    if (tmp[strspn(tmp, "-0123456789")] == '\0')
        sim_buf_adds(b, ".0");
}

char *sim_buf_take(struct sim_buf *b, size_t *len)
{
    if (len)
        *len = 0;
    if (b->failed || !buf_reserve(b, 0)) {
        sim_buf_free(b);
        return NULL;
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    sim_buf_init(b);
    return p;
}

bool sim_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte, overlong lead, or > U+10FFFF */
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false; /* also stops at the NUL */
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

struct duration_unit {
    const char *name;
    double ns;
};

/* Longer names before their prefixes: "ms" must win over "m". */
static const struct duration_unit duration_units[] = {
    {"ns", 1.0}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
    {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
};

static bool duration_fail(char *why, size_t len, const char *s, const char *what)
{
    if (len > 0)
        snprintf(why, len, "invalid duration \"%s\": %s", s, what);
    return false;
}

bool sim_parse_duration(const char *s, int64_t *out_ns, char *why, size_t len)
{
    *out_ns = 0;
    if (!s || !*s)
        return duration_fail(why, len, s ? s : "", "empty (want e.g. 500ms, 5s, 1m30s)");
    if (strcmp(s, "0") == 0)
        return true;
    double total = 0.0;
    const char *p = s;
    while (*p) {
        /* The number: digits, optionally '.', digits; at least one digit.
         * Only [0-9.] reaches strtod, so no sign, hex, exponent or inf. */
        const char *start = p;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                p++;
                digits++;
            }
        }
        if (digits == 0)
            return duration_fail(why, len, s, "expected a number (want e.g. 500ms, 5s, 1m30s)");
        char num[64];
        size_t n = (size_t)(p - start);
        if (n >= sizeof num)
            return duration_fail(why, len, s, "number too long");
        memcpy(num, start, n);
        num[n] = '\0';
        char *end = NULL;
        double v = strtod(num, &end);
        if (end != num + n || !isfinite(v))
            return duration_fail(why, len, s, "bad number");
        const struct duration_unit *unit = NULL;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
            size_t ul = strlen(duration_units[i].name);
            if (strncmp(p, duration_units[i].name, ul) == 0) {
                unit = &duration_units[i];
                p += ul;
                break;
            }
        }
        if (!unit)
            return duration_fail(why, len, s, "missing or unknown unit (ns, us, ms, s, m, h)");
        total += v * unit->ns;
        if (total > (double)SIM_MAX_DELAY_NS)
            return duration_fail(why, len, s, "longer than 24h");
    }
    *out_ns = (int64_t)(total + 0.5);
    return true;
}
