/*
 * promresp: parse /api/v1/query answers. See include/promresp.h.
 *
 * The body goes through cJSON once; the tree is then walked twice by the
 * same code (struct walk): the first walk validates everything, counts
 * samples and warnings and sums the string bytes; the second copies into a
 * single allocation sized from those totals (result header, sample array,
 * warning pointers, string bytes), so the result is freed with one free()
 * and no walk can fail halfway through filling it. Arrays are followed
 * through cJSON's child/next links: cJSON_GetArrayItem(i) is O(i) and
 * would make 100k samples quadratic.
 *
 * Error classification lives in classify_error() and the message shapes in
 * the header; bodies and Prometheus texts are sanitized before they reach
 * `why`, because `why` ends up in gRPC status messages and logs.
 *
 * Pure: no I/O, no logging, no globals of its own.
 */
#include "promresp.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"

/* The labels copied into a sample, in struct promresp_sample order. */
static const char *const label_names[] = {
    "namespace",        "model_name",        "pod", "pod_name", "instance",
    "llm_d_ai_variant", "target_model_name",
};
#define N_LABELS (sizeof(label_names) / sizeof(label_names[0]))

static const char **label_slot(struct promresp_sample *s, size_t i)
{
    switch (i) {
    case 0:
        return &s->namespace_;
    case 1:
        return &s->model_name;
    case 2:
        return &s->pod;
    case 3:
        return &s->pod_name;
    case 4:
        return &s->instance;
    case 5:
        return &s->llm_d_ai_variant;
    default:
        return &s->target_model_name;
    }
}

/* ---- why ---------------------------------------------------------------- */

static void set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}


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

/* A {"status":"error",...} answer: "<errorType>: <error>[ (HTTP n)]". */
static enum err_code prometheus_error(const cJSON *root, int http_status, char *why, size_t why_len)
{
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(root, "errorType");
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *type = cJSON_IsString(et) ? et->valuestring : NULL;
    const char *text = cJSON_IsString(er) ? er->valuestring : NULL;
    char t[64], m[PROMRESP_WHY_LEN];

    util_sanitize(type != NULL ? type : "error", strlen(type != NULL ? type : "error"), 48, t,
             sizeof(t));
    if (text != NULL && text[0] != '\0')
        util_sanitize(text, strlen(text), sizeof(m) - 8, m, sizeof(m));
    else
        snprintf(m, sizeof(m), "(no error text)");
    if (status_2xx(http_status))
        set_why(why, why_len, "%s: %s", t, m);
    else
        set_why(why, why_len, "%s: %s (HTTP %d)", t, m, http_status);
    return classify_error(type);
}

/* A non-2xx answer without a Prometheus error: "HTTP n: <body start>". */
static enum err_code http_error(int http_status, const char *body, size_t len, char *why,
                                size_t why_len)
{
    char ex[PROMRESP_BODY_EXCERPT + 8];

    util_sanitize(body, len, PROMRESP_BODY_EXCERPT, ex, sizeof(ex));
    if (ex[0] == '\0')
        set_why(why, why_len, "HTTP %d (empty body)", http_status);
    else
        set_why(why, why_len, "HTTP %d: %s", http_status, ex);
    return ERR_UNAVAILABLE;
}

/* ---- the walk ----------------------------------------------------------- */

struct walk {
    bool fill; /* false: validate and measure; true: copy into the result */
    char *why;
    size_t why_len;
    /* measured in the first walk */
    size_t samples;
    size_t warnings;
    size_t string_bytes;
    /* the result being filled in the second walk */
    struct promresp *r;
    const char **warning_slots;
    char *strings; /* next free string byte */
    size_t filled; /* samples filled so far */
};

/* Count s (first walk) or copy it and return the copy (second walk). */
static const char *take_string(struct walk *w, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p;

    if (!w->fill) {
        w->string_bytes += n;
        return s;
    }
    p = w->strings;
    memcpy(p, s, n);
    w->strings += n;
    return p;
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

/* A [<number>, "<value>"] pair at path into sample (when filling). */
static enum err_code walk_pair(struct walk *w, const cJSON *pair, const char *path,
                               struct promresp_sample *sample)
{
    const cJSON *ts = pair != NULL && cJSON_IsArray(pair) ? pair->child : NULL;
    const cJSON *val = ts != NULL ? ts->next : NULL;
    double v = 0;
    bool finite = true;

    if (!cJSON_IsNumber(ts) || !cJSON_IsString(val) || val->next != NULL) {
        set_why(w->why, w->why_len, "%s: must be a [number, string] pair", path);
        return ERR_UNAVAILABLE;
    }
    if (parse_value(val->valuestring, &v, &finite) != ERR_OK) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), val->valuestring);
        set_why(w->why, w->why_len, "%s: %s is not a number", path, q);
        return ERR_UNAVAILABLE;
    }
    if (sample != NULL) {
        sample->timestamp = ts->valuedouble;
        sample->value = v;
        sample->finite = finite;
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

/* The metric object of result[i]: every label a string; ours copied. */
static enum err_code walk_metric(struct walk *w, const cJSON *metric, size_t i,
                                 struct promresp_sample *sample)
{
    unsigned seen = 0;
    const cJSON *l;

    if (!cJSON_IsObject(metric)) {
        set_why(w->why, w->why_len, "data.result[%zu].metric: must be an object", i);
        return ERR_UNAVAILABLE;
    }
    for (l = metric->child; l != NULL; l = l->next) {
        size_t k;
        if (!cJSON_IsString(l)) {
            if (is_identifier(l->string)) {
                set_why(w->why, w->why_len, "data.result[%zu].metric.%s: must be a string", i,
                        l->string);
            } else {
                char q[META_QUOTE_LEN];
                meta_quote(q, sizeof(q), l->string);
                set_why(w->why, w->why_len, "data.result[%zu].metric[%s]: must be a string", i, q);
            }
            return ERR_UNAVAILABLE;
        }
        for (k = 0; k < N_LABELS; k++)
            if (strcmp(l->string, label_names[k]) == 0)
                break;
        if (k == N_LABELS || (seen & (1u << k)) != 0)
            continue; /* not ours, or a repeat: the first one counts */
        seen |= 1u << k;
        if (sample != NULL)
            *label_slot(sample, k) = take_string(w, l->valuestring);
        else
            take_string(w, l->valuestring);
    }
    return ERR_OK;
}

static enum err_code walk_vector(struct walk *w, const cJSON *result)
{
    const cJSON *it;
    size_t i;
    char path[64];
    enum err_code rc;

    if (!cJSON_IsArray(result)) {
        set_why(w->why, w->why_len, "data.result: must be an array");
        return ERR_UNAVAILABLE;
    }
    for (it = result->child, i = 0; it != NULL; it = it->next, i++) {
        struct promresp_sample *sample = w->fill ? &w->r->samples[w->filled] : NULL;
        const cJSON *value;

        if (!cJSON_IsObject(it)) {
            set_why(w->why, w->why_len, "data.result[%zu]: must be an object", i);
            return ERR_UNAVAILABLE;
        }
        rc = walk_metric(w, cJSON_GetObjectItemCaseSensitive(it, "metric"), i, sample);
        if (rc)
            return rc;
        snprintf(path, sizeof(path), "data.result[%zu].value", i);
        value = cJSON_GetObjectItemCaseSensitive(it, "value");
        if (value == NULL && cJSON_GetObjectItemCaseSensitive(it, "histogram") != NULL) {
            set_why(w->why, w->why_len, "%s: missing (native histogram samples are not supported)",
                    path);
            return ERR_UNAVAILABLE;
        }
        rc = walk_pair(w, value, path, sample);
        if (rc)
            return rc;
        if (w->fill)
            w->filled++;
        else
            w->samples++;
    }
    return ERR_OK;
}

/* The whole answer (status already known to be "success"). */
static enum err_code walk_answer(struct walk *w, const cJSON *root, enum promresp_type *type)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *rt, *result, *warn, *it;
    enum err_code rc;

    if (!cJSON_IsObject(data)) {
        set_why(w->why, w->why_len, "data: must be an object");
        return ERR_UNAVAILABLE;
    }
    rt = cJSON_GetObjectItemCaseSensitive(data, "resultType");
    result = cJSON_GetObjectItemCaseSensitive(data, "result");
    if (!cJSON_IsString(rt)) {
        set_why(w->why, w->why_len, "data.resultType: must be a string");
        return ERR_UNAVAILABLE;
    }
    if (strcmp(rt->valuestring, "vector") == 0) {
        *type = PROMRESP_VECTOR;
        rc = walk_vector(w, result);
    } else if (strcmp(rt->valuestring, "scalar") == 0) {
        *type = PROMRESP_SCALAR;
        rc = walk_pair(w, result, "data.result", w->fill ? &w->r->samples[0] : NULL);
        if (rc == ERR_OK && !w->fill)
            w->samples = 1;
    } else {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), rt->valuestring);
        set_why(w->why, w->why_len,
                "data.resultType: unexpected resultType %s (want vector or scalar)", q);
        return ERR_UNAVAILABLE;
    }
    if (rc)
        return rc;

    warn = cJSON_GetObjectItemCaseSensitive(root, "warnings");
    if (cJSON_IsArray(warn)) {
        for (it = warn->child; it != NULL; it = it->next) {
            if (!cJSON_IsString(it))
                continue;
            if (w->fill)
                w->warning_slots[w->warnings++] = take_string(w, it->valuestring);
            else {
                take_string(w, it->valuestring);
                w->warnings++;
            }
        }
    }
    return ERR_OK;
}

/* ---- entry points ------------------------------------------------------- */

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/* One block: header, samples, warning pointers, strings. */
static enum err_code build(const cJSON *root, struct promresp **out, char *why, size_t why_len)
{
    struct walk w;
    enum promresp_type type = PROMRESP_VECTOR;
    size_t off_samples, off_warn, off_str, total;
    struct promresp *r;
    enum err_code rc;
    char *block;

    memset(&w, 0, sizeof(w));
    w.why = why;
    w.why_len = why_len;
    rc = walk_answer(&w, root, &type);
    if (rc)
        return rc;

    /* every count is bounded by the body length, so none of this can wrap;
     * check anyway, it costs nothing */
    if (w.samples > SIZE_MAX / 2 / sizeof(struct promresp_sample) ||
        w.warnings > SIZE_MAX / 4 / sizeof(char *) || w.string_bytes > SIZE_MAX / 4) {
        set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    off_samples = align_up(sizeof(struct promresp));
    off_warn = off_samples + align_up(w.samples * sizeof(struct promresp_sample));
    off_str = off_warn + align_up(w.warnings * sizeof(char *));
    total = off_str + w.string_bytes;
    block = calloc(1, total);
    if (block == NULL) {
        set_why(why, why_len, "out of memory");
        return ERR_NOMEM;
    }
    r = (struct promresp *)(void *)block;
    r->type = type;
    r->count = w.samples;
    r->samples = w.samples > 0 ? (struct promresp_sample *)(void *)(block + off_samples) : NULL;
    r->warning_count = w.warnings;
    r->warnings = w.warnings > 0 ? (const char *const *)(void *)(block + off_warn) : NULL;

    w.fill = true;
    w.r = r;
    w.warning_slots = (const char **)(void *)(block + off_warn);
    w.strings = block + off_str;
    w.warnings = 0;
    w.filled = 0;
    rc = walk_answer(&w, root, &type);
    if (rc) { /* cannot happen: the first walk accepted the same tree */
        free(block);
        set_why(why, why_len, "internal error: second walk failed");
        return ERR_INTERNAL;
    }
    *out = r;
    return ERR_OK;
}

enum err_code promresp_parse(int http_status, const char *body, size_t len, size_t max_len,
                             struct promresp **out, char *why, size_t why_len)
{
    const char *end = NULL;
    const cJSON *status;
    bool trailing = false;
    cJSON *root;
    enum err_code rc;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (out != NULL)
        *out = NULL;
    if (out == NULL || (body == NULL && len > 0)) {
        set_why(why, why_len, "no input or no output");
        return ERR_INVALID;
    }
    if (body == NULL)
        body = "";
    if (max_len == 0)
        max_len = PROMRESP_DEFAULT_MAX_BODY;
    if (len > max_len) {
        char lim[32];
        util_fmt_size(lim, sizeof(lim), max_len);
        set_why(why, why_len, "response body of %zu bytes exceeds the limit of %s", len, lim);
        return ERR_UNAVAILABLE;
    }

    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root != NULL) {
        /* cJSON stops after the value; anything but white space is garbage */
        while (end < body + len && is_ws((unsigned char)*end))
            end++;
        if (end != body + len) {
            cJSON_Delete(root);
            root = NULL;
            trailing = true;
        }
    }
    if (root == NULL) {
        size_t at = (end != NULL && end >= body && end <= body + len) ? (size_t)(end - body) : 0;
        char ex[PROMRESP_BODY_EXCERPT + 8];

        if (!status_2xx(http_status))
            return http_error(http_status, body, len, why, why_len);
        util_sanitize(body, len, PROMRESP_BODY_EXCERPT, ex, sizeof(ex));
        if (ex[0] == '\0')
            set_why(why, why_len, "empty body (HTTP %d)", http_status);
        else if (trailing)
            set_why(why, why_len, "invalid JSON near byte %zu: data after the top-level value", at);
        else if (util_json_unfinished(body, len))
            set_why(why, why_len,
                    "truncated JSON: the body ends at byte %zu inside an unfinished value "
                    "(first error near byte %zu)",
                    len, at);
        else
            set_why(why, why_len, "invalid JSON near byte %zu: %s", at, ex);
        return ERR_UNAVAILABLE;
    }

    status = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
    if (cJSON_IsString(status) && strcmp(status->valuestring, "error") == 0) {
        rc = prometheus_error(root, http_status, why, why_len);
    } else if (!status_2xx(http_status)) {
        rc = http_error(http_status, body, len, why, why_len);
    } else if (!cJSON_IsObject(root)) {
        set_why(why, why_len, "top level: must be an object");
        rc = ERR_UNAVAILABLE;
    } else if (!cJSON_IsString(status) || strcmp(status->valuestring, "success") != 0) {
        set_why(why, why_len, "status: must be \"success\" or \"error\"");
        rc = ERR_UNAVAILABLE;
    } else {
        rc = build(root, out, why, why_len);
    }
    cJSON_Delete(root);
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
