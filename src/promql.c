/*
 * promql: PromQL text for the Prometheus source. See include/promql.h.
 *
 * Everything is assembled in a growing buffer (struct sbuf) that remembers
 * an allocation failure instead of reporting it at every append, so the
 * builders read as straight-line text and check once at the end. A scope
 * renders its two label matchers once (the 10,000-model regex is the bulk
 * of every query) and the query builders only splice them in.
 *
 * String escaping follows Prometheus's lexer (promql/parser/lex.go): it
 * takes Go escapes (\a \b \f \n \r \t \v \\ \" \xNN \NNN \uNNNN
 * \UNNNNNNNN; \' only inside '...'), refuses a raw newline, and refuses any
 * rune that decodes to utf8.RuneError, which includes a correctly encoded
 * U+FFFD: that one is written as \uFFFD. The parser then unquotes with
 * strconv.Unquote, where \xNN yields the raw byte.
 *
 * Pure: no I/O, no logging, no globals; reentrant.
 */
#include "promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The labels a saturation series is keyed on (DESIGN section 4 step 1). */
#define POD_LABELS "namespace, model_name, pod, pod_name, instance, llm_d_ai_variant"

/* ---- why ---------------------------------------------------------------- */

/* ---- growing buffer ----------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len; /* bytes used, NUL not counted */
    size_t cap; /* bytes allocated */
    bool failed;
};

/* Make room for extra more bytes plus the NUL; false (and failed) on OOM. */
static bool sb_reserve(struct sbuf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return false;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = true;
        return false;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

/* The finished string (caller frees), or NULL after a failure; either way
 * the buffer is left empty. */
static char *sb_take(struct sbuf *b)
{
    char *p = NULL;

    if (!b->failed && sb_reserve(b, 0)) {
        p = b->p;
        b->p = NULL;
    }
    free(b->p);
    memset(b, 0, sizeof(*b));
    return p;
}

/* ---- UTF-8 -------------------------------------------------------------- */

static bool is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 when p does not
 * start one (stray continuation, overlong form, surrogate, > U+10FFFF,
 * truncated). p is NUL-terminated and NUL is no continuation byte, so the
 * short-circuit never reads past the end.
 */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return is_cont(p[1]) ? 2 : 0;
    if (c == 0xe0)
        return (p[1] >= 0xa0 && p[1] <= 0xbf && is_cont(p[2])) ? 3 : 0;
    if (c == 0xed) /* U+D800..U+DFFF are surrogates */
        return (p[1] >= 0x80 && p[1] <= 0x9f && is_cont(p[2])) ? 3 : 0;
    if (c >= 0xe1 && c <= 0xef)
        return (is_cont(p[1]) && is_cont(p[2])) ? 3 : 0;
    if (c == 0xf0)
        return (p[1] >= 0x90 && p[1] <= 0xbf && is_cont(p[2]) && is_cont(p[3])) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3)
        return (is_cont(p[1]) && is_cont(p[2]) && is_cont(p[3])) ? 4 : 0;
    if (c == 0xf4) /* nothing above U+10FFFF */
        return (p[1] >= 0x80 && p[1] <= 0x8f && is_cont(p[2]) && is_cont(p[3])) ? 4 : 0;
    return 0;
}

bool promql_label_value_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL || *s == '\0')
        return false;
    while (*p != '\0') {
        size_t n = utf8_seq_len(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* ---- escaping ----------------------------------------------------------- */

/* A bounded writer: counts every byte, stores those that fit. */
struct bw {
    char *out;
    size_t cap; /* bytes that may be stored (no NUL) */
    size_t n;   /* bytes produced so far */
};

static void bw_put(struct bw *w, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++, w->n++)
        if (w->n < w->cap)
            w->out[w->n] = s[i];
}

static void bw_hex(struct bw *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

    bw_put(w, e, 4);
}

static void escape_string_into(const char *s, struct bw *w)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    while (*p != '\0') {
        const char *e = NULL;
        size_t n;

        switch (*p) {
        case '\\':
            e = "\\\\";
            break;
        case '"':
            e = "\\\"";
            break;
        case '\a':
            e = "\\a";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\v':
            e = "\\v";
            break;
        default:
            break;
        }
        if (e != NULL) {
            bw_put(w, e, 2);
            p++;
            continue;
        }
        if (*p < 0x20 || *p == 0x7f) {
            bw_hex(w, *p++);
            continue;
        }
        n = utf8_seq_len(p);
        if (n == 0) {
            bw_hex(w, *p++); /* reads back as this very byte */
        } else if (n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] == 0xbd) {
            bw_put(w, "\\uFFFD", 6); /* the lexer takes raw U+FFFD for an error */
            p += 3;
        } else {
            bw_put(w, (const char *)p, n);
            p += n;
        }
    }
}

static void escape_regex_into(const char *s, struct bw *w)
{
    const char *p = s != NULL ? s : "";

    for (; *p != '\0'; p++) {
        if (strchr("\\.+*?()|[]{}^$", *p) != NULL)
            bw_put(w, "\\", 1);
        bw_put(w, p, 1);
    }
}

/* Run an escaper snprintf-style over a caller buffer. */
static size_t escape_to_buf(void (*esc)(const char *, struct bw *), const char *s, char *out,
                            size_t len)
{
    struct bw w = {out, len > 0 ? len - 1 : 0, 0};

    esc(s, &w);
    if (len > 0)
        out[w.n < w.cap ? w.n : w.cap] = '\0';
    return w.n;
}

size_t promql_escape_string(const char *s, char *out, size_t len)
{
    return escape_to_buf(escape_string_into, s, out, len);
}

size_t promql_escape_regex(const char *s, char *out, size_t len)
{
    return escape_to_buf(escape_regex_into, s, out, len);
}

/* Append esc(s) to b: measure, reserve, write. */
static void sb_escaped(struct sbuf *b, void (*esc)(const char *, struct bw *), const char *s)
{
    struct bw w = {NULL, 0, 0};

    esc(s, &w);
    if (!sb_reserve(b, w.n))
        return;
    w.out = b->p + b->len;
    w.cap = w.n;
    w.n = 0;
    esc(s, &w);
    b->len += w.n;
    b->p[b->len] = '\0';
}

/* ---- durations ---------------------------------------------------------- */

size_t promql_format_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t i;
    int n;

    if (ms <= 0) {
        n = snprintf(buf, len, "0s");
        return n < 0 ? 0 : (size_t)n;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].ms == 0)
            break;
    n = snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- metric names ------------------------------------------------------- */

const char *promql_metric_name(enum meta_engine e, enum promql_metric m)
{
    switch (e) {
    case META_ENGINE_VLLM:
        switch (m) {
        case PROMQL_KV_CACHE:
            return "vllm:kv_cache_usage_perc";
        case PROMQL_QUEUE:
            return "vllm:num_requests_waiting";
        case PROMQL_REQUESTS:
            return "vllm:request_success_total";
        }
        break;
    case META_ENGINE_SGLANG:
        switch (m) {
        case PROMQL_KV_CACHE:
            return "sglang:token_usage";
        case PROMQL_QUEUE:
            return "sglang:num_queue_reqs";
        case PROMQL_REQUESTS:
            return "sglang:num_requests_total";
        }
        break;
    }
    return NULL;
}

/* ---- scopes ------------------------------------------------------------- */

struct promql_scope {
    size_t n_namespaces;
    size_t n_models;
    char *ns_matcher;    /* `namespace="a"` or `namespace=~"a|b"` */
    char *model_matcher; /* the part after the label name: `="m"` or `=~"m1|m2"` */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Validate list[0..n), sort a copy of the pointers and drop duplicates;
 * *out (caller frees) gets the distinct entries, *out_n their count.
 */
static enum err_code sorted_unique(const char *what, const char *const *list, size_t n,
                                   const char ***out, size_t *out_n, char *why, size_t why_len)
{
    const char **v;
    size_t i, k;

    *out = NULL;
    *out_n = 0;
    if (n == 0 || list == NULL) {
        util_set_why(why, why_len, "%s: at least one is needed", what);
        return ERR_INVALID;
    }
    for (i = 0; i < n; i++) {
        if (!promql_label_value_ok(list[i])) {
            char q[META_QUOTE_LEN];
            meta_quote(q, sizeof(q), list[i]);
            util_set_why(why, why_len, "%s[%zu]: %s %s", what, i, q,
                         list[i] == NULL || list[i][0] == '\0' ? "must be a non-empty string"
                                                               : "is not valid UTF-8");
            return ERR_INVALID;
        }
    }
    if (n > SIZE_MAX / sizeof(*v) || (v = malloc(n * sizeof(*v))) == NULL) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    memcpy(v, list, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_str);
    for (i = 1, k = 1; i < n; i++)
        if (strcmp(v[i], v[k - 1]) != 0)
            v[k++] = v[i];
    *out = v;
    *out_n = k;
    return ERR_OK;
}

/* `="v"` for one value, `=~"v1|v2"` (regex-escaped) for several. */
static void put_matcher(struct sbuf *b, const char *const *v, size_t n)
{
    struct sbuf re = {0};
    size_t i;

    if (n == 1) {
        sb_puts(b, "=\"");
        sb_escaped(b, escape_string_into, v[0]);
        sb_putc(b, '"');
        return;
    }
    for (i = 0; i < n; i++) {
        if (i > 0)
            sb_putc(&re, '|');
        sb_escaped(&re, escape_regex_into, v[i]);
    }
    if (re.failed) {
        b->failed = true;
    } else {
        sb_puts(b, "=~\"");
        sb_escaped(b, escape_string_into, re.p);
        sb_putc(b, '"');
    }
    free(re.p);
}

enum err_code promql_scope_new(const char *const *namespaces, size_t n_namespaces,
                               const char *const *models, size_t n_models,
                               struct promql_scope **out, char *why, size_t why_len)
{
    const char **ns = NULL, **md = NULL;
    struct promql_scope *s = NULL;
    struct sbuf b = {0};
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    rc = sorted_unique("namespaces", namespaces, n_namespaces, &ns, &s->n_namespaces, why, why_len);
    if (rc == ERR_OK)
        rc = sorted_unique("models", models, n_models, &md, &s->n_models, why, why_len);
    if (rc == ERR_OK) {
        sb_puts(&b, "namespace");
        put_matcher(&b, ns, s->n_namespaces);
        s->ns_matcher = sb_take(&b);
        put_matcher(&b, md, s->n_models);
        s->model_matcher = sb_take(&b);
        if (s->ns_matcher == NULL || s->model_matcher == NULL) {
            util_set_why(why, why_len, "out of memory");
            rc = ERR_NOMEM;
        }
    }
    free(ns);
    free(md);
    if (rc != ERR_OK) {
        promql_scope_free(s);
        return rc;
    }
    *out = s;
    return ERR_OK;
}

void promql_scope_free(struct promql_scope *s)
{
    if (s == NULL)
        return;
    free(s->ns_matcher);
    free(s->model_matcher);
    free(s);
}

size_t promql_scope_namespace_count(const struct promql_scope *s)
{
    return s != NULL ? s->n_namespaces : 0;
}

size_t promql_scope_model_count(const struct promql_scope *s)
{
    return s != NULL ? s->n_models : 0;
}

/* ---- queries ------------------------------------------------------------ */

/* metric{namespace..., <model_label>...} */
static void put_selector(struct sbuf *b, const struct promql_scope *s, const char *metric,
                         const char *model_label)
{
    sb_puts(b, metric);
    sb_putc(b, '{');
    sb_puts(b, s->ns_matcher);
    sb_puts(b, ", ");
    sb_puts(b, model_label);
    sb_puts(b, s->model_matcher);
    sb_putc(b, '}');
}

/* Hand the buffer's text to *out, or report ERR_NOMEM. */
static enum err_code finish(struct sbuf *b, char **out, char *why, size_t why_len)
{
    *out = sb_take(b);
    if (*out == NULL) {
        util_set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    return ERR_OK;
}

/* Common argument checks; on failure *out is NULL and why is set. */
static enum err_code check_query_args(const struct promql_scope *s, char **out, char *why,
                                      size_t why_len)
{
    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    *out = NULL;
    if (s == NULL) {
        util_set_why(why, why_len, "no scope");
        return ERR_INVALID;
    }
    return ERR_OK;
}

static enum err_code check_duration(const char *what, int64_t ms, char *dur, char *why,
                                    size_t why_len)
{
    if (ms <= 0) {
        util_set_why(why, why_len, "%s: must be > 0 ms, got %lld", what, (long long)ms);
        return ERR_INVALID;
    }
    promql_format_duration(ms, dur, PROMQL_DURATION_LEN);
    return ERR_OK;
}

enum err_code promql_saturation_query(const struct promql_scope *s, enum meta_engine e,
                                      enum promql_metric m, int64_t window_ms, char **out,
                                      char *why, size_t why_len)
{
    char dur[PROMQL_DURATION_LEN];
    struct sbuf b = {0};
    const char *metric;
    enum err_code rc;

    rc = check_query_args(s, out, why, why_len);
    if (rc)
        return rc;
    metric = promql_metric_name(e, m);
    if (metric == NULL || (m != PROMQL_KV_CACHE && m != PROMQL_QUEUE)) {
        util_set_why(why, why_len, "no saturation gauge for engine %d, metric %d", (int)e, (int)m);
        return ERR_INVALID;
    }
    rc = check_duration("window", window_ms, dur, why, why_len);
    if (rc)
        return rc;

    sb_puts(&b, "max by (" POD_LABELS ") (max_over_time(");
    put_selector(&b, s, metric, "model_name");
    sb_putc(&b, '[');
    sb_puts(&b, dur);
    sb_puts(&b, "])) and on (" POD_LABELS ") ");
    put_selector(&b, s, metric, "model_name");
    return finish(&b, out, why, why_len);
}

enum err_code promql_idle_query(const struct promql_scope *s, enum meta_engine e,
                                int64_t retention_ms, char **out, char *why, size_t why_len)
{
    char dur[PROMQL_DURATION_LEN];
    struct sbuf b = {0};
    const char *metric;
    enum err_code rc;

    rc = check_query_args(s, out, why, why_len);
    if (rc)
        return rc;
    metric = promql_metric_name(e, PROMQL_REQUESTS);
    if (metric == NULL) {
        util_set_why(why, why_len, "unknown engine %d", (int)e);
        return ERR_INVALID;
    }
    rc = check_duration("retention", retention_ms, dur, why, why_len);
    if (rc)
        return rc;

    sb_puts(&b, "sum by (namespace, model_name) (increase(");
    put_selector(&b, s, metric, "model_name");
    sb_putc(&b, '[');
    sb_puts(&b, dur);
    sb_puts(&b, "]))");
    return finish(&b, out, why, why_len);
}

enum err_code promql_flow_control_query(const struct promql_scope *s, char **out, char *why,
                                        size_t why_len)
{
    struct sbuf b = {0};
    enum err_code rc;

    rc = check_query_args(s, out, why, why_len);
    if (rc)
        return rc;
    sb_puts(&b, "sum by (namespace, target_model_name) (");
    put_selector(&b, s, PROMQL_FLOW_CONTROL_METRIC, "target_model_name");
    sb_putc(&b, ')');
    return finish(&b, out, why, why_len);
}

static bool is_name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * If p starts a placeholder for name ("$name" not followed by a name byte,
 * or "${name}"), its length; else 0.
 */
static size_t placeholder_len(const char *p, const char *name)
{
    size_t n = strlen(name);

    if (p[0] != '$')
        return 0;
    if (p[1] == '{' && strncmp(p + 2, name, n) == 0 && p[2 + n] == '}')
        return n + 3;
    if (strncmp(p + 1, name, n) == 0 && !is_name_byte(p[1 + n]))
        return n + 1;
    return 0;
}

enum err_code promql_activation_query(const char *tmpl, const char *ns, const char *model,
                                      char **out, char *why, size_t why_len)
{
    struct sbuf b = {0};
    const char *p;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    *out = NULL;
    if (tmpl == NULL || tmpl[0] == '\0') {
        util_set_why(why, why_len, "activationQuery: must be a non-empty string");
        return ERR_INVALID;
    }
    if (!promql_label_value_ok(ns) || !promql_label_value_ok(model)) {
        char q[META_QUOTE_LEN];
        bool bad_ns = !promql_label_value_ok(ns);
        meta_quote(q, sizeof(q), bad_ns ? ns : model);
        util_set_why(why, why_len, "%s %s: must be non-empty, valid UTF-8",
                     bad_ns ? "namespace" : "model id", q);
        return ERR_INVALID;
    }
    for (p = tmpl; *p != '\0';) {
        size_t n;
        if ((n = placeholder_len(p, "namespace")) > 0) {
            sb_escaped(&b, escape_string_into, ns);
            p += n;
        } else if ((n = placeholder_len(p, "model")) > 0) {
            sb_escaped(&b, escape_string_into, model);
            p += n;
        } else {
            /* copy up to the next '$' in one go */
            const char *d = strchr(p + 1, '$');
            n = d != NULL ? (size_t)(d - p) : strlen(p);
            sb_put(&b, p, n);
            p += n;
        }
    }
    return finish(&b, out, why, why_len);
}

/* ---- form body ---------------------------------------------------------- */

static void sb_pct(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t n = 0;

    for (; p[n] != '\0'; n++)
        ;
    if (n > SIZE_MAX / 3) {
        b->failed = true;
        return;
    }
    if (!sb_reserve(b, n * 3)) /* the most it can take */
        return;
    for (; *p != '\0'; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            b->p[b->len++] = (char)c;
        } else {
            b->p[b->len++] = '%';
            b->p[b->len++] = hex[c >> 4];
            b->p[b->len++] = hex[c & 15];
        }
    }
    b->p[b->len] = '\0';
}

enum err_code promql_form_body(const char *query, const char *const *keys,
                               const char *const *values, size_t n, char **out, size_t *out_len,
                               char *why, size_t why_len)
{
    struct sbuf b = {0};
    enum err_code rc;
    size_t i;

    util_clear_why(why, why_len);
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    *out = NULL;
    if (query == NULL || query[0] == '\0') {
        util_set_why(why, why_len, "query: must be a non-empty string");
        return ERR_INVALID;
    }
    if (n > 0 && keys == NULL) {
        util_set_why(why, why_len, "query parameters: no keys");
        return ERR_INVALID;
    }
    for (i = 0; i < n; i++) {
        if (keys[i] == NULL || keys[i][0] == '\0') {
            util_set_why(why, why_len, "query parameter %zu: the name must be non-empty", i);
            return ERR_INVALID;
        }
        if (strcmp(keys[i], "query") == 0) {
            util_set_why(why, why_len,
                         "query parameter \"query\" is reserved for the PromQL query");
            return ERR_INVALID;
        }
    }

    sb_puts(&b, "query=");
    sb_pct(&b, query);
    for (i = 0; i < n; i++) {
        sb_putc(&b, '&');
        sb_pct(&b, keys[i]);
        sb_putc(&b, '=');
        sb_pct(&b, values != NULL ? values[i] : NULL);
    }
    i = b.len;
    rc = finish(&b, out, why, why_len);
    if (rc == ERR_OK && out_len != NULL)
        *out_len = i;
    return rc;
}
