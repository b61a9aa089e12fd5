/*
 * promresp: parse /api/v1/query answers. See include/promresp.h.
 *
 * One pass over the body bytes, no tree. Two layers:
 * - the reader (struct rd, scan_*, next_member/next_element, skip_value)
 *   checks RFC 8259 as it goes: string escapes (\uXXXX and surrogate
 *   pairs), the number grammar, literals, separators, nesting, nothing after
 *   the top-level value. skip_value() reads a value nobody needs without
 *   recursion (one bit per open container on its own stack), so a hostile
 *   body cannot exhaust the C stack; nesting deeper than
 *   PROMRESP_MAX_DEPTH is refused.
 * - the walk (walk_answer and below) knows the shape of an answer and
 *   takes what it needs on the way: each sample's seven labels are copied
 *   into a scratch buffer, each finished sample appended to a growing array.
 *
 * Keys may come in any order and repeat (the first counts), and the body
 * must read as it did when it was checked through a cJSON tree: the whole
 * body must be valid JSON before any shape error counts, and "status" or
 * "resultType" may come after what they qualify. So the first shape error
 * is only recorded (kind, index, the span to quote) and formatted at the
 * end, a "result" met before its "resultType" is skipped and walked again
 * from its remembered start once the data object has closed, and samples
 * are collected before "status" is known and dropped if it is not
 * "success". JSON paths for messages are built only then, never per sample.
 *
 * Memory, for one parse: the scratch string buffer is allocated once at
 * len + 1 bytes (a decoded string and its NUL never take more bytes than
 * its quoted source, and the copied strings come from disjoint spans; pages
 * past what is used are never touched); the sample array lives in a block
 * that starts with room for the result header and grows by doubling; at the
 * end that block is resized to also hold the warning pointers and the
 * strings, which are copied in and every pointer rebased. The result is
 * then one allocation, as the header promises.
 *
 * Strings are what a C caller of cJSON saw: decoded, and cut at a "\u0000".
 * Error classification lives in classify_error() and the message shapes in
 * the header; bodies and Prometheus texts are sanitized before they reach
 * `why`, because `why` ends up in gRPC status messages and logs.
 *
 * Pure: no I/O, no logging, no globals.
 */
#include "promresp.h"

#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"

/* Every key the walk looks at. The labels come first, in struct
 * promresp_sample order, so a label's word is its index. */
enum word {
    W_OTHER = -1,
    W_NAMESPACE = 0,
    W_MODEL_NAME,
    W_POD,
    W_POD_NAME,
    W_INSTANCE,
    W_VARIANT,
    W_TARGET_MODEL,
    N_LABELS,
    W_STATUS = N_LABELS,
    W_ERROR_TYPE,
    W_ERROR,
    W_DATA,
    W_WARNINGS,
    W_RESULT_TYPE,
    W_RESULT,
    W_METRIC,
    W_VALUE,
    W_HISTOGRAM
};

static const char **label_slot(struct promresp_sample *s, int i)
{
    switch (i) {
    case W_NAMESPACE:
        return &s->namespace_;
    case W_MODEL_NAME:
        return &s->model_name;
    case W_POD:
        return &s->pod;
    case W_POD_NAME:
        return &s->pod_name;
    case W_INSTANCE:
        return &s->instance;
    case W_VARIANT:
        return &s->llm_d_ai_variant;
    default:
        return &s->target_model_name;
    }
}

/* The word of s[0..n), a key as decoded (never holding a NUL). */
static int word_of(const unsigned char *s, size_t n)
{
#define IS(lit) (memcmp(s, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 3:
        return IS("pod") ? W_POD : W_OTHER;
    case 4:
        return IS("data") ? W_DATA : W_OTHER;
    case 5:
        return IS("value") ? W_VALUE : IS("error") ? W_ERROR : W_OTHER;
    case 6:
        return IS("metric")   ? W_METRIC
               : IS("status") ? W_STATUS
               : IS("result") ? W_RESULT
                              : W_OTHER;
    case 8:
        return IS("instance")   ? W_INSTANCE
               : IS("pod_name") ? W_POD_NAME
               : IS("warnings") ? W_WARNINGS
                                : W_OTHER;
    case 9:
        return IS("namespace")   ? W_NAMESPACE
               : IS("errorType") ? W_ERROR_TYPE
               : IS("histogram") ? W_HISTOGRAM
                                 : W_OTHER;
    case 10:
        return IS("model_name") ? W_MODEL_NAME : IS("resultType") ? W_RESULT_TYPE : W_OTHER;
    case 16:
        return IS("llm_d_ai_variant") ? W_VARIANT : W_OTHER;
    case 17:
        return IS("target_model_name") ? W_TARGET_MODEL : W_OTHER;
    default:
        return W_OTHER;
    }
#undef IS
}

/* ---- why ---------------------------------------------------------------- */

/* ---- errors from Prometheus --------------------------------------------- */

static bool status_2xx(int http_status)
{
    return http_status >= 200 && http_status <= 299;
}

/* bad_data: the query itself was refused; retrying the same text cannot help. */
static enum err_code classify_error(const char *error_type)
{
    if (error_type != NULL && strcmp(error_type, "bad_data") == 0)
        return ERR_PRECONDITION;
    return ERR_UNAVAILABLE;
}

/* A {"status":"error",...} answer: "<errorType>: <error>[ (HTTP n)]". type
 * and text are the string values of those keys, NULL when not strings. */
static enum err_code prometheus_error(const char *type, const char *text, int http_status,
                                      char *why, size_t why_len)
{
    char t[64], m[PROMRESP_WHY_LEN];

    util_sanitize(type != NULL ? type : "error", strlen(type != NULL ? type : "error"), 48, t,
                  sizeof(t));
    if (text != NULL && text[0] != '\0')
        util_sanitize(text, strlen(text), sizeof(m) - 8, m, sizeof(m));
    else
        snprintf(m, sizeof(m), "(no error text)");
    if (status_2xx(http_status))
        util_set_why(why, why_len, "%s: %s", t, m);
    else
        util_set_why(why, why_len, "%s: %s (HTTP %d)", t, m, http_status);
    return classify_error(type);
}

/* A non-2xx answer without a Prometheus error: "HTTP n: <body start>". */
static enum err_code http_error(int http_status, const char *body, size_t len, char *why,
                                size_t why_len)
{
    char ex[PROMRESP_BODY_EXCERPT + 8];

    util_sanitize(body, len, PROMRESP_BODY_EXCERPT, ex, sizeof(ex));
    if (ex[0] == '\0')
        util_set_why(why, why_len, "HTTP %d (empty body)", http_status);
    else
        util_set_why(why, why_len, "HTTP %d: %s", http_status, ex);
    return ERR_UNAVAILABLE;
}

/* ---- the reader: RFC 8259, one token at a time --------------------------- */

struct rd {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the body */
    const unsigned char *err; /* the first syntax error; NULL while none */
};

/* A string token: the bytes between its quotes, still escaped. */
struct jstr {
    const unsigned char *s;
    size_t n;
    bool esc; /* holds a backslash escape: decode before use */
};

static bool syntax(struct rd *r, const unsigned char *at)
{
    if (r->err == NULL)
        r->err = at;
    return false;
}

static inline void skip_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at s (end bounds the read) into *out. */
static bool hex4(const unsigned char *s, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (end - s < 4)
        return false;
    for (i = 0; i < 4; i++) {
        int h = hex_digit(s[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Which of the 8 bytes in v are '"', '\\' or below 0x20: the "has a zero
 * byte" test, (x - 0x01..01) & ~x & 0x80..80, on v ^ '"' and v ^ '\\',
 * and its "has a byte below n" form on v itself; 0 when none is. A borrow
 * only runs from a flagged byte upwards, so the lowest flag is exact. */
static inline uint64_t special8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');

    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v)) & high;
}

/* How many plain bytes precede the first flagged one of special8(). With
 * the bytes in memory order from the low end (little endian) that is the
 * lowest flag; otherwise 0, and the byte loop finds it. */
static inline size_t plain_prefix(uint64_t flags)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(flags) / 8;
#else
    (void)flags;
    return 0;
#endif
}

/* The string at r->p (its opening quote). A lone or reversed surrogate is
 * refused: it has no UTF-8 form. */
static bool scan_string(struct rd *r, struct jstr *out)
{
    const unsigned char *p = r->p + 1, *end = r->end;
    unsigned hi, lo;
    uint64_t v;

    out->s = p;
    out->esc = false;
    for (;;) {
        while (end - p >= 8) {
            memcpy(&v, p, 8);
            v = special8(v);
            if (v != 0) {
                p += plain_prefix(v);
                break;
            }
            p += 8;
        }
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p >= end)
            return syntax(r, end);
        if (*p == '"')
            break;
        if (*p < 0x20) /* control characters must be escaped */
            return syntax(r, p);
        out->esc = true;
        if (end - p < 2)
            return syntax(r, end);
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            break;
        case 'u':
            if (!hex4(p + 2, end, &hi) || (hi >= 0xDC00 && hi <= 0xDFFF))
                return syntax(r, p);
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, end, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return syntax(r, p);
                p += 12;
            } else {
                p += 6;
            }
            break;
        default:
            return syntax(r, p);
        }
    }
    out->n = (size_t)(p - out->s);
    r->p = p + 1;
    return true;
}

/* The number at r->p ('-' or a digit): its text into *s, *n. The longest
 * valid prefix is the number ("1.x" is 1 then a stray '.', "01" is 0 then
 * a stray 1): whatever follows is an error where it stands, as with strtod. */
static bool scan_number(struct rd *r, const unsigned char **s, size_t *n)
{
    const unsigned char *p = r->p, *end = r->end;

    if (*p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return syntax(r, p);
    if (*p == '0')
        p++; /* no leading zeros */
    else
        while (p < end && is_digit(*p))
            p++;
    if (end - p >= 2 && p[0] == '.' && is_digit(p[1])) {
        p += 2;
        while (p < end && is_digit(*p))
            p++;
    }
    if (end - p >= 2 && (p[0] == 'e' || p[0] == 'E') &&
        (is_digit(p[1]) || (end - p >= 3 && (p[1] == '+' || p[1] == '-') && is_digit(p[2])))) {
        p += 2;
        while (p < end && is_digit(*p))
            p++;
    }
    *s = r->p;
    *n = (size_t)(p - r->p);
    r->p = p;
    return true;
}

static bool scan_literal(struct rd *r)
{
    const char *lit = *r->p == 't' ? "true" : *r->p == 'f' ? "false" : "null";
    size_t n = strlen(lit);

    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return syntax(r, r->p);
    r->p += n;
    return true;
}

/* Step into the object or array at r->p, which sits at nesting level
 * `level` (the top-level value is level 1). */
static bool enter(struct rd *r, unsigned level)
{
    if (level > PROMRESP_MAX_DEPTH)
        return syntax(r, r->p);
    r->p++;
    return true;
}

/* A member's key and colon at r->p; leaves r->p at the value. */
static bool member_key(struct rd *r, struct jstr *key)
{
    if (r->p >= r->end || *r->p != '"')
        return syntax(r, r->p);
    if (!scan_string(r, key))
        return false;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':')
        return syntax(r, r->p);
    r->p++;
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, r->end);
    return true;
}

/*
 * The next member of the object being read (*n members read so far, 0 on
 * the first call): *more and *key with r->p at its value, or !*more with
 * the closing brace consumed. False on a syntax error.
 */
static bool next_member(struct rd *r, size_t *n, struct jstr *key, bool *more)
{
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, r->end);
    if (*r->p == '}') {
        r->p++;
        *more = false;
        return true;
    }
    if (*n > 0) {
        if (*r->p != ',')
            return syntax(r, r->p);
        r->p++;
        skip_ws(r);
    }
    if (!member_key(r, key))
        return false;
    (*n)++;
    *more = true;
    return true;
}

/* As next_member, for the elements of an array. */
static bool next_element(struct rd *r, size_t *n, bool *more)
{
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, r->end);
    if (*r->p == ']') {
        r->p++;
        *more = false;
        return true;
    }
    if (*n > 0) {
        if (*r->p != ',')
            return syntax(r, r->p);
        r->p++;
        skip_ws(r);
        if (r->p >= r->end)
            return syntax(r, r->end);
    }
    (*n)++;
    *more = true;
    return true;
}

/*
 * Read and drop the value at r->p, whatever it is, checking it all. `level`
 * is how many containers enclose it. Iterative: the containers opened here
 * are one bit each (object or array) on this function's own stack.
 */
static bool skip_value(struct rd *r, unsigned level)
{
    unsigned char open[(PROMRESP_MAX_DEPTH + 7) / 8];
    size_t n = 0; /* containers opened here and not yet closed */
    struct jstr s;
    const unsigned char *num;
    size_t num_len;

    for (;;) {
        bool obj;

        /* a value starts at r->p (never at the end: callers check) */
        switch (*r->p) {
        case '{':
        case '[':
            obj = *r->p == '{';
            if (level + n + 1 > PROMRESP_MAX_DEPTH)
                return syntax(r, r->p);
            if (obj)
                open[n / 8] = (unsigned char)(open[n / 8] | 1u << (n % 8));
            else
                open[n / 8] = (unsigned char)(open[n / 8] & ~(1u << (n % 8)));
            n++;
            r->p++;
            skip_ws(r);
            if (r->p >= r->end)
                return syntax(r, r->end);
            if (*r->p == (obj ? '}' : ']')) {
                r->p++;
                n--;
                break; /* an empty container: a whole value */
            }
            if (obj && !member_key(r, &s))
                return false;
            continue; /* its first value */
        case '"':
            if (!scan_string(r, &s))
                return false;
            break;
        case 't':
        case 'f':
        case 'n':
            if (!scan_literal(r))
                return false;
            break;
        default:
            if (*r->p != '-' && !is_digit(*r->p))
                return syntax(r, r->p);
            if (!scan_number(r, &num, &num_len))
                return false;
            break;
        }
        /* after a value: close what ends here, or go on to the next value */
        for (;;) {
            if (n == 0)
                return true;
            obj = (open[(n - 1) / 8] >> ((n - 1) % 8) & 1u) != 0;
            skip_ws(r);
            if (r->p >= r->end)
                return syntax(r, r->end);
            if (*r->p == (obj ? '}' : ']')) {
                r->p++;
                n--;
                continue;
            }
            if (*r->p != ',')
                return syntax(r, r->p);
            r->p++;
            skip_ws(r);
            if (r->p >= r->end)
                return syntax(r, r->end);
            if (obj && !member_key(r, &s))
                return false;
            break;
        }
    }
}

/* ---- decoding ------------------------------------------------------------ */

static size_t utf8_encode(unsigned cp, char *u)
{
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the (scanned, so valid) string js into dst, at most cap bytes;
 * returns the bytes written. Never more than js->n: no escape expands. */
static size_t unescape(const struct jstr *js, char *dst, size_t cap)
{
    const unsigned char *p = js->s, *end = js->s + js->n;
    size_t o = 0, k, un;
    unsigned cp = 0, lo = 0xDC00;
    char u[4];

    while (p < end && o < cap) {
        if (*p != '\\') {
            dst[o++] = (char)*p++;
            continue;
        }
        un = 1;
        switch (p[1]) {
        case 'b':
            u[0] = '\b';
            break;
        case 'f':
            u[0] = '\f';
            break;
        case 'n':
            u[0] = '\n';
            break;
        case 'r':
            u[0] = '\r';
            break;
        case 't':
            u[0] = '\t';
            break;
        case 'u':
            (void)hex4(p + 2, end, &cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                (void)hex4(p + 8, end, &lo);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            un = utf8_encode(cp, u);
            p += 4; /* with the 2 below: past \uXXXX */
            break;
        default: /* '"', '\\', '/' */
            u[0] = (char)p[1];
            break;
        }
        p += 2;
        for (k = 0; k < un && o < cap; k++)
            dst[o++] = u[k];
    }
    return o;
}

/* The word of a key, as a C string compares: decoded, cut at a NUL. */
static int key_word(const struct jstr *key)
{
    char buf[32];
    size_t n;

    if (!key->esc)
        return word_of(key->s, key->n);
    n = unescape(key, buf, sizeof(buf));
    n = strnlen(buf, n);
    if (n == sizeof(buf))
        return W_OTHER; /* longer than any word */
    return word_of((const unsigned char *)buf, n);
}

/* Whether js, as a C string, is lit. */
static bool str_is(const struct jstr *js, const char *lit)
{
    char buf[32];
    size_t n = strlen(lit);

    if (!js->esc)
        return js->n == n && memcmp(js->s, lit, n) == 0;
    n = unescape(js, buf, sizeof(buf) - 1);
    buf[n] = '\0';
    return strcmp(buf, lit) == 0;
}

/*
 * [-]digits[.digits] with at most 15 digits, else false. Then the integer
 * of all digits and 10^(fraction digits) are exact doubles and one
 * division, correctly rounded, gives exactly what strtod gives. Covers
 * Prometheus's timestamps (1712345678.123) and most values.
 */
static bool fast_decimal(const unsigned char *s, size_t n, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const unsigned char *p = s, *end = s + n;
    uint64_t m = 0;
    int digits = 0, frac = 0;
    bool neg = false;
    double v;

    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return false;
    while (p < end && is_digit(*p) && digits <= 15) {
        m = m * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return false;
        while (p < end && is_digit(*p) && digits <= 15) {
            m = m * 10 + (uint64_t)(*p++ - '0');
            digits++;
            frac++;
        }
    }
    if (p != end || digits > 15)
        return false;
    v = (double)m / pow10[frac];
    *out = neg ? -v : v;
    return true;
}

/* Parse a sample value as Prometheus formats it (strconv.FormatFloat, 'f'). */
static enum err_code parse_value(const char *s, double *v, bool *finite)
{
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        *finite = false;
    } else if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
        *v = INFINITY;
        *finite = false;
    } else if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        *finite = false;
    } else {
        *finite = true;
        return util_parse_double(s, v);
    }
    return ERR_OK;
}

static bool is_identifier(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* ---- the walk ------------------------------------------------------------ */

/* Why a valid JSON answer with status "success" is not usable. */
enum shape {
    SHAPE_OK = 0,
    SHAPE_RESULT_ARRAY, /* data.result: must be an array */
    SHAPE_ITEM,         /* data.result[i]: must be an object */
    SHAPE_METRIC,       /* data.result[i].metric: must be an object */
    SHAPE_LABEL,        /* data.result[i].metric.<text>: must be a string */
    SHAPE_HISTOGRAM,    /* <path>: missing (native histogram ...) */
    SHAPE_PAIR,         /* <path>: must be a [number, string] pair */
    SHAPE_NUMBER        /* <path>: <text> is not a number */
};

enum rtype { RT_OTHER = 0, RT_VECTOR, RT_SCALAR };

struct parse {
    struct rd rd;
    bool fill; /* copy labels and keep samples (not for non-2xx, nor after a shape error) */
    bool nomem;
    /* the top level (each have_ flag: the key was seen; the first counts) */
    bool top_object, trailing;
    bool have_status, have_error_type, have_error, have_data, have_warnings;
    bool status_str, error_type_str, error_str, data_object;
    struct jstr status, error_type, error;
    /* data */
    bool have_rt, rt_str, have_result;
    struct jstr rt;
    enum rtype type;
    const unsigned char *result_at; /* a "result" met before its type */
    /* the first shape error */
    enum shape shape;
    size_t shape_index;
    bool shape_scalar; /* the path is data.result, not data.result[i].value */
    struct jstr shape_text;
    /* the result being collected */
    char *strings; /* scratch: len + 1 bytes */
    size_t strings_used, strings_cap;
    char *block; /* header room, then the samples */
    size_t count, cap;
    const char **warnings; /* into strings */
    size_t n_warnings, cap_warnings;
};

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

#define HEADER_SIZE align_up(sizeof(struct promresp))

static struct promresp_sample *samples_of(char *block)
{
    return (struct promresp_sample *)(void *)(block + HEADER_SIZE);
}

static void shape_error(struct parse *st, enum shape kind, size_t index, bool scalar,
                        const struct jstr *text)
{
    if (st->shape != SHAPE_OK)
        return;
    st->shape = kind;
    st->shape_index = index;
    st->shape_scalar = scalar;
    if (text != NULL)
        st->shape_text = *text;
    st->fill = false; /* the answer is lost: only the syntax still matters */
}

/* Copy js, decoded and NUL-terminated, into the scratch strings. */
static const char *copy_string(struct parse *st, const struct jstr *js)
{
    char *dst = st->strings + st->strings_used;
    size_t n;

    if (js->n + 1 > st->strings_cap - st->strings_used) { /* cannot happen: see the top */
        st->nomem = true;
        return NULL;
    }
    if (js->esc) {
        n = unescape(js, dst, js->n);
    } else {
        memcpy(dst, js->s, js->n);
        n = js->n;
    }
    dst[n] = '\0';
    st->strings_used += n + 1;
    return dst;
}

/* js decoded as a C string at strings + *at (for messages and the
 * occasional escaped value; *at advances past it). */
static const char *scratch_text(struct parse *st, const struct jstr *js, size_t *at)
{
    char *dst = st->strings + *at;
    size_t n = unescape(js, dst, js->n);

    dst[n] = '\0';
    *at += n + 1;
    return dst;
}

/* A JSON number's text (scanned) as strtod reads it, as cJSON did; the
 * rare one fast_decimal() does not take is copied on top of the scratch
 * to get its NUL. */
static double json_number(struct parse *st, const unsigned char *s, size_t n)
{
    char *tmp = st->strings + st->strings_used;
    double v;

    if (fast_decimal(s, n, &v))
        return v;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

static bool add_sample(struct parse *st, const struct promresp_sample *s)
{
    if (st->count == st->cap) {
        /* a first guess from the body left: a sample of the three labels
         * Prometheus sends for our queries takes ~150 bytes */
        size_t cap = st->cap ? st->cap * 2 : (size_t)(st->rd.end - st->rd.p) / 128 + 16;
        char *b;
        if (cap > (SIZE_MAX - HEADER_SIZE) / sizeof(*s)) {
            st->nomem = true;
            return false;
        }
        b = realloc(st->block, HEADER_SIZE + cap * sizeof(*s));
        if (b == NULL) {
            st->nomem = true;
            return false;
        }
        st->block = b;
        st->cap = cap;
    }
    samples_of(st->block)[st->count++] = *s;
    return true;
}

/* A [<number>, "<value>"] pair as read: ok when it is exactly that. */
struct pair {
    bool ok;
    const unsigned char *ts;
    size_t ts_len;
    struct jstr val;
};

/* The array at r->p (nesting level `level`) as a pair. */
static bool read_pair(struct parse *st, unsigned level, struct pair *pr)
{
    struct rd *r = &st->rd;
    size_t n = 0;
    bool more, num = false, str = false;

    if (!enter(r, level))
        return false;
    for (;;) {
        if (!next_element(r, &n, &more))
            return false;
        if (!more)
            break;
        if (n == 1 && (*r->p == '-' || is_digit(*r->p))) {
            if (!scan_number(r, &pr->ts, &pr->ts_len))
                return false;
            num = true;
        } else if (n == 2 && *r->p == '"') {
            if (!scan_string(r, &pr->val))
                return false;
            str = true;
        } else if (!skip_value(r, level)) {
            return false;
        }
    }
    pr->ok = n == 2 && num && str;
    return true;
}

/* Check a read pair and fill s's timestamp and value; false when it is
 * not a usable one (the shape error recorded). index/scalar: the path. */
static bool take_pair(struct parse *st, const struct pair *pr, size_t index, bool scalar,
                      struct promresp_sample *s)
{
    const struct jstr *v = &pr->val;
    size_t at;

    if (!pr->ok) {
        shape_error(st, SHAPE_PAIR, index, scalar, NULL);
        return false;
    }
    if (!v->esc && fast_decimal(v->s, v->n, &s->value)) {
        s->finite = true;
    } else {
        at = st->strings_used; /* decoded on top of the scratch, not kept */
        if (parse_value(scratch_text(st, v, &at), &s->value, &s->finite) != ERR_OK) {
            shape_error(st, SHAPE_NUMBER, index, scalar, v);
            return false;
        }
    }
    s->timestamp = json_number(st, pr->ts, pr->ts_len);
    return true;
}

/* The metric object at r->p: every label a string (the first offender is
 * *bad), ours copied into s when filling (the first of a repeated key). */
static bool walk_metric(struct parse *st, struct promresp_sample *s, bool *bad,
                        struct jstr *bad_key)
{
    struct rd *r = &st->rd;
    struct jstr key, val;
    unsigned seen = 0;
    size_t n = 0;
    bool more;

    if (!enter(r, 5))
        return false;
    for (;;) {
        int w;
        if (!next_member(r, &n, &key, &more))
            return false;
        if (!more)
            return true;
        if (*r->p != '"') {
            if (!*bad) {
                *bad = true;
                *bad_key = key;
            }
            if (!skip_value(r, 5))
                return false;
            continue;
        }
        if (!scan_string(r, &val))
            return false;
        if (!st->fill)
            continue;
        w = key_word(&key);
        if (w < 0 || w >= N_LABELS || (seen & 1u << w) != 0)
            continue; /* not ours, or a repeat: the first one counts */
        seen |= 1u << w;
        *label_slot(s, w) = copy_string(st, &val);
        if (st->nomem)
            return false;
    }
}

/* data.result[i], at r->p. Checked in the order the message precedence
 * wants (metric, then value), whatever the order of its keys. */
static bool walk_item(struct parse *st, size_t i)
{
    struct rd *r = &st->rd;
    struct promresp_sample s;
    struct pair pr;
    struct jstr key, bad_key;
    bool have_metric = false, metric_object = false, bad = false;
    bool have_value = false, histogram = false, more;
    size_t n = 0;

    if (*r->p != '{') {
        shape_error(st, SHAPE_ITEM, i, false, NULL);
        return skip_value(r, 3);
    }
    memset(&s, 0, sizeof(s));
    memset(&pr, 0, sizeof(pr));
    if (!enter(r, 4))
        return false;
    for (;;) {
        if (!next_member(r, &n, &key, &more))
            return false;
        if (!more)
            break;
        switch (key_word(&key)) {
        case W_METRIC:
            if (have_metric)
                break;
            have_metric = true;
            if (*r->p != '{')
                break;
            metric_object = true;
            if (!walk_metric(st, &s, &bad, &bad_key))
                return false;
            continue;
        case W_VALUE:
            if (have_value)
                break;
            have_value = true;
            if (*r->p != '[')
                break;
            if (!read_pair(st, 5, &pr))
                return false;
            continue;
        case W_HISTOGRAM:
            histogram = true;
            break;
        default:
            break;
        }
        if (!skip_value(r, 4))
            return false;
    }
    if (!st->fill)
        return true;
    if (!metric_object) {
        shape_error(st, SHAPE_METRIC, i, false, NULL);
    } else if (bad) {
        shape_error(st, SHAPE_LABEL, i, false, &bad_key);
    } else if (!have_value && histogram) {
        shape_error(st, SHAPE_HISTOGRAM, i, false, NULL);
    } else if (take_pair(st, &pr, i, false, &s)) {
        return add_sample(st, &s);
    }
    return true;
}

/* data.result at r->p, once the type is known to be vector or scalar. */
static bool walk_result(struct parse *st)
{
    struct rd *r = &st->rd;
    size_t n = 0;
    bool more;

    if (st->type == RT_SCALAR) {
        struct promresp_sample s;
        struct pair pr;
        if (*r->p != '[') {
            shape_error(st, SHAPE_PAIR, 0, true, NULL);
            return skip_value(r, 2);
        }
        memset(&pr, 0, sizeof(pr));
        if (!read_pair(st, 3, &pr))
            return false;
        memset(&s, 0, sizeof(s));
        if (st->fill && take_pair(st, &pr, 0, true, &s))
            return add_sample(st, &s);
        return true;
    }
    if (*r->p != '[') {
        shape_error(st, SHAPE_RESULT_ARRAY, 0, false, NULL);
        return skip_value(r, 2);
    }
    if (!enter(r, 3))
        return false;
    for (;;) {
        if (!next_element(r, &n, &more))
            return false;
        if (!more)
            return true;
        if (!walk_item(st, n - 1))
            return false;
    }
}

/* The data object at r->p. */
static bool walk_data(struct parse *st)
{
    struct rd *r = &st->rd;
    struct jstr key;
    size_t n = 0;
    bool more;

    if (!enter(r, 2))
        return false;
    for (;;) {
        if (!next_member(r, &n, &key, &more))
            return false;
        if (!more)
            break;
        switch (key_word(&key)) {
        case W_RESULT_TYPE:
            if (st->have_rt)
                break;
            st->have_rt = true;
            if (*r->p != '"')
                break;
            if (!scan_string(r, &st->rt))
                return false;
            st->rt_str = true;
            st->type = str_is(&st->rt, "vector")   ? RT_VECTOR
                       : str_is(&st->rt, "scalar") ? RT_SCALAR
                                                   : RT_OTHER;
            continue;
        case W_RESULT:
            if (st->have_result)
                break;
            st->have_result = true;
            if (st->type != RT_OTHER) {
                if (!walk_result(st))
                    return false;
                continue;
            }
            st->result_at = r->p; /* walked below if its type turns up */
            break;
        default:
            break;
        }
        if (!skip_value(r, 2))
            return false;
    }
    if (st->result_at != NULL && st->type != RT_OTHER) {
        const unsigned char *resume = r->p;
        r->p = st->result_at;
        if (!walk_result(st))
            return false;
        r->p = resume;
    }
    return true;
}

/* The warnings array at r->p: its strings kept, anything else skipped. */
static bool walk_warnings(struct parse *st)
{
    struct rd *r = &st->rd;
    struct jstr s;
    size_t n = 0;
    bool more;

    if (!enter(r, 2))
        return false;
    for (;;) {
        if (!next_element(r, &n, &more))
            return false;
        if (!more)
            return true;
        if (*r->p != '"') {
            if (!skip_value(r, 2))
                return false;
            continue;
        }
        if (!scan_string(r, &s))
            return false;
        if (!st->fill)
            continue;
        if (st->n_warnings == st->cap_warnings) {
            size_t cap = st->cap_warnings ? st->cap_warnings * 2 : 4;
            const char **w = realloc(st->warnings, cap * sizeof(*w));
            if (w == NULL) {
                st->nomem = true;
                return false;
            }
            st->warnings = w;
            st->cap_warnings = cap;
        }
        st->warnings[st->n_warnings++] = copy_string(st, &s);
        if (st->nomem)
            return false;
    }
}

/* A string at r->p into *out (and *is_str), anything else skipped. */
static bool string_or_skip(struct rd *r, unsigned level, bool *is_str, struct jstr *out)
{
    if (*r->p != '"')
        return skip_value(r, level);
    *is_str = true;
    return scan_string(r, out);
}

static bool top_member(struct parse *st, const struct jstr *key)
{
    struct rd *r = &st->rd;

    switch (key_word(key)) {
    case W_STATUS:
        if (st->have_status)
            break;
        st->have_status = true;
        return string_or_skip(r, 1, &st->status_str, &st->status);
    case W_ERROR_TYPE:
        if (st->have_error_type)
            break;
        st->have_error_type = true;
        return string_or_skip(r, 1, &st->error_type_str, &st->error_type);
    case W_ERROR:
        if (st->have_error)
            break;
        st->have_error = true;
        return string_or_skip(r, 1, &st->error_str, &st->error);
    case W_DATA:
        if (st->have_data)
            break;
        st->have_data = true;
        if (*r->p != '{')
            break;
        st->data_object = true;
        return walk_data(st);
    case W_WARNINGS:
        if (st->have_warnings)
            break;
        st->have_warnings = true;
        if (*r->p != '[')
            break;
        return walk_warnings(st);
    default:
        break;
    }
    return skip_value(r, 1);
}

/* The whole body; false on a syntax error (st->rd.err) or no memory. */
static bool walk_answer(struct parse *st)
{
    struct rd *r = &st->rd;
    struct jstr key;
    size_t n = 0;
    bool more;

    /* RFC 8259 section 8.1 lets a parser ignore a byte order mark */
    if (r->end - r->p >= 3 && memcmp(r->p, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
    skip_ws(r);
    if (r->p >= r->end)
        return syntax(r, r->end);
    if (*r->p != '{') {
        if (!skip_value(r, 0))
            return false;
    } else {
        st->top_object = true;
        if (!enter(r, 1))
            return false;
        for (;;) {
            if (!next_member(r, &n, &key, &more))
                return false;
            if (!more)
                break;
            if (!top_member(st, &key))
                return false;
        }
    }
    skip_ws(r);
    if (r->p < r->end) {
        st->trailing = true;
        return syntax(r, r->p);
    }
    return true;
}

/* ---- the result ---------------------------------------------------------- */

static void rebase(const char **p, const char *from, const char *to)
{
    if (*p != NULL)
        *p = to + (*p - from);
}

/* One block: header, samples, warning pointers, strings. */
static enum err_code build(struct parse *st, struct promresp **out, char *why, size_t why_len)
{
    size_t off_warn, off_str, total, i;
    struct promresp_sample *s;
    struct promresp *r;
    const char **w;
    char *block, *strings;
    int k;

    /* every count is bounded by the body length, so none of this can wrap;
     * check anyway, it costs nothing */
    if (st->count > SIZE_MAX / 4 / sizeof(*s) || st->n_warnings > SIZE_MAX / 4 / sizeof(char *) ||
        st->strings_used > SIZE_MAX / 4) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    off_warn = HEADER_SIZE + align_up(st->count * sizeof(*s));
    off_str = off_warn + align_up(st->n_warnings * sizeof(char *));
    total = off_str + st->strings_used;
    block = realloc(st->block, total);
    if (block == NULL) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    st->block = NULL; /* now block, returned */
    r = (struct promresp *)(void *)block;
    memset(r, 0, sizeof(*r));
    r->type = st->type == RT_SCALAR ? PROMRESP_SCALAR : PROMRESP_VECTOR;
    strings = block + off_str;
    if (st->strings_used > 0)
        memcpy(strings, st->strings, st->strings_used);
    s = samples_of(block);
    for (i = 0; i < st->count; i++)
        for (k = 0; k < N_LABELS; k++)
            rebase(label_slot(&s[i], k), st->strings, strings);
    w = (const char **)(void *)(block + off_warn);
    for (i = 0; i < st->n_warnings; i++) {
        w[i] = st->warnings[i];
        rebase(&w[i], st->strings, strings);
    }
    r->count = st->count;
    r->samples = st->count > 0 ? s : NULL;
    r->warning_count = st->n_warnings;
    r->warnings = st->n_warnings > 0 ? w : NULL;
    *out = r;
    return ERR_OK;
}

/* The body is JSON and the status "success", but the shape is wrong. */
static enum err_code shape_message(struct parse *st, char *why, size_t why_len)
{
    char path[64], q[META_QUOTE_LEN];
    size_t at = 0;
    const char *text;

    if (st->shape_scalar)
        snprintf(path, sizeof(path), "data.result");
    else
        snprintf(path, sizeof(path), "data.result[%zu].value", st->shape_index);
    switch (st->shape) {
    case SHAPE_RESULT_ARRAY:
        util_set_why(why, why_len, "data.result: must be an array");
        break;
    case SHAPE_ITEM:
        util_set_why(why, why_len, "data.result[%zu]: must be an object", st->shape_index);
        break;
    case SHAPE_METRIC:
        util_set_why(why, why_len, "data.result[%zu].metric: must be an object", st->shape_index);
        break;
    case SHAPE_LABEL:
        text = scratch_text(st, &st->shape_text, &at);
        if (is_identifier(text)) {
            util_set_why(why, why_len, "data.result[%zu].metric.%s: must be a string",
                         st->shape_index, text);
        } else {
            meta_quote(q, sizeof(q), text);
            util_set_why(why, why_len, "data.result[%zu].metric[%s]: must be a string",
                         st->shape_index, q);
        }
        break;
    case SHAPE_HISTOGRAM:
        util_set_why(why, why_len, "%s: missing (native histogram samples are not supported)",
                     path);
        break;
    case SHAPE_PAIR:
        util_set_why(why, why_len, "%s: must be a [number, string] pair", path);
        break;
    default: /* SHAPE_NUMBER */
        meta_quote(q, sizeof(q), scratch_text(st, &st->shape_text, &at));
        util_set_why(why, why_len, "%s: %s is not a number", path, q);
        break;
    }
    return ERR_UNAVAILABLE;
}

/* The verdict on a walked body, in the precedence the header documents. */
static enum err_code conclude(struct parse *st, int http_status, const char *body, size_t len,
                              struct promresp **out, char *why, size_t why_len)
{
    size_t at = 0;

    if (st->nomem) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    if (st->rd.err != NULL) {
        size_t pos = (size_t)(st->rd.err - (const unsigned char *)body);
        char ex[PROMRESP_BODY_EXCERPT + 8];

        if (!status_2xx(http_status))
            return http_error(http_status, body, len, why, why_len);
        util_sanitize(body, len, PROMRESP_BODY_EXCERPT, ex, sizeof(ex));
        if (ex[0] == '\0')
            util_set_why(why, why_len, "empty body (HTTP %d)", http_status);
        else if (st->trailing)
            util_set_why(why, why_len, "invalid JSON near byte %zu: data after the top-level value",
                         pos);
        else if (util_json_unfinished(body, len))
            util_set_why(why, why_len,
                         "truncated JSON: the body ends at byte %zu inside an unfinished value "
                         "(first error near byte %zu)",
                         len, pos);
        else
            util_set_why(why, why_len, "invalid JSON near byte %zu: %s", pos, ex);
        return ERR_UNAVAILABLE;
    }
    if (st->status_str && str_is(&st->status, "error")) {
        const char *type = st->error_type_str ? scratch_text(st, &st->error_type, &at) : NULL;
        const char *text = st->error_str ? scratch_text(st, &st->error, &at) : NULL;
        return prometheus_error(type, text, http_status, why, why_len);
    }
    if (!status_2xx(http_status))
        return http_error(http_status, body, len, why, why_len);
    if (!st->top_object) {
        util_set_why(why, why_len, "top level: must be an object");
        return ERR_UNAVAILABLE;
    }
    if (!st->status_str || !str_is(&st->status, "success")) {
        util_set_why(why, why_len, "status: must be \"success\" or \"error\"");
        return ERR_UNAVAILABLE;
    }
    if (!st->data_object) {
        util_set_why(why, why_len, "data: must be an object");
        return ERR_UNAVAILABLE;
    }
    if (!st->rt_str) {
        util_set_why(why, why_len, "data.resultType: must be a string");
        return ERR_UNAVAILABLE;
    }
    if (st->type == RT_OTHER) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), scratch_text(st, &st->rt, &at));
        util_set_why(why, why_len,
                     "data.resultType: unexpected resultType %s (want vector or scalar)", q);
        return ERR_UNAVAILABLE;
    }
    if (!st->have_result)
        shape_error(st, st->type == RT_SCALAR ? SHAPE_PAIR : SHAPE_RESULT_ARRAY, 0,
                    st->type == RT_SCALAR, NULL);
    if (st->shape != SHAPE_OK)
        return shape_message(st, why, why_len);
    return build(st, out, why, why_len);
}

/* ---- entry points ------------------------------------------------------- */

enum err_code promresp_parse(int http_status, const char *body, size_t len, size_t max_len,
                             struct promresp **out, char *why, size_t why_len)
{
    struct parse st;
    enum err_code rc;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (body == NULL && len > 0)) {
        util_set_why(why, why_len, "no input or no output");
        return ERR_INVALID;
    }
    if (body == NULL)
        body = "";
    if (max_len == 0)
        max_len = PROMRESP_DEFAULT_MAX_BODY;
    if (len > max_len) {
        char lim[32];
        util_fmt_size(lim, sizeof(lim), max_len);
        util_set_why(why, why_len, "response body of %zu bytes exceeds the limit of %s", len, lim);
        return ERR_UNAVAILABLE;
    }

    memset(&st, 0, sizeof(st));
    st.rd.p = (const unsigned char *)body;
    st.rd.end = st.rd.p + len;
    st.fill = status_2xx(http_status);
    st.strings_cap = len + 1;
    st.strings = malloc(st.strings_cap);
    if (st.strings == NULL) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    (void)walk_answer(&st); /* what went wrong is in st */
    rc = conclude(&st, http_status, body, len, out, why, why_len);
    free(st.strings);
    free(st.block);
    free(st.warnings);
    return rc;
}

void promresp_free(struct promresp *r)
{
    free(r);
}

double promresp_value(const struct promresp_sample *s)
{
    if (s == NULL || !isfinite(s->value))
        return 0.0;
    return s->value;
}
