/*
 * meta: KEDA trigger metadata -> a validated, resolved request. See
 * include/meta.h for the contract.
 *
 * The decision keys live in one typed table (s_keys): name, type, field bit,
 * offset into struct meta_decision, bounds, default and help. Parsing a key
 * (from metadata or, later, the config file), the bounds in error messages,
 * the re-validation of resolved values and the docs all read that table, so
 * a key is added in one place. The target keys (modelID, namespace,
 * metricName, prometheus) are not decision keys: they never come from a
 * config layer, and each has its own syntax check below.
 *
 * Hostile input is expected (anyone who can reach the port can send any
 * map): the key count and value sizes are bounded before any work, and
 * every value echoed in a message goes through escape(), so a value cannot
 * forge log lines or blow up a message.
 */
#include "meta.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a value shown in messages before "...". */
#define SHOWN_BYTES 64

#define SOURCE_METADATA "trigger metadata"
#define SOURCE_DEFAULT "default"

/* ---- the decision-key table --------------------------------------------- */

#define ROW(nm, ty, fld, member, lo, hi, lo_open, hi_open, def, hlp)                               \
    {                                                                                              \
        nm, ty, fld, offsetof(struct meta_decision, member), lo, hi, lo_open, hi_open, def, hlp    \
    }

static const struct meta_key s_keys[] = {
    ROW("kvCacheThreshold", META_TYPE_DOUBLE, META_KV_CACHE_THRESHOLD, kv_cache_threshold, 0.0, 1.0,
        true, false, "0.8",
        "KV-cache usage (0..1) at or above which a replica counts as saturated"),
    ROW("queueLengthThreshold", META_TYPE_DOUBLE, META_QUEUE_LENGTH_THRESHOLD,
        queue_length_threshold, 0.0, HUGE_VAL, true, false, "5",
        "waiting requests at or above which a replica counts as saturated"),
    ROW("kvSpareTrigger", META_TYPE_DOUBLE, META_KV_SPARE_TRIGGER, kv_spare_trigger, 0.0, 1.0,
        false, false, "0.1",
        "scale up when the average spare KV-cache of non-saturated replicas is below this "
        "(<= kvCacheThreshold; 0 turns this signal off)"),
    ROW("queueSpareTrigger", META_TYPE_DOUBLE, META_QUEUE_SPARE_TRIGGER, queue_spare_trigger, 0.0,
        HUGE_VAL, false, false, "3",
        "scale up when the average spare queue of non-saturated replicas is below this "
        "(0 turns this signal off)"),
    ROW("minReplicas", META_TYPE_INT, META_MIN_REPLICAS, min_replicas, 0.0,
        (double)SAT_MAX_REPLICAS, false, false, "1",
        "lowest replica count answered; also the answer when the model has no series"),
    ROW("maxReplicas", META_TYPE_INT, META_MAX_REPLICAS, max_replicas, 0.0,
        (double)SAT_MAX_REPLICAS, false, false, "unset",
        "highest replica count answered (>= minReplicas); unset means no upper clamp"),
    ROW("variantCost", META_TYPE_DOUBLE, META_VARIANT_COST, variant_cost, 0.0, HUGE_VAL, false,
        false, "10",
        "cost of one replica of this variant: scale-up goes to the cheapest variant, "
        "scale-down to the most expensive"),
    ROW("hpaTolerance", META_TYPE_DOUBLE, META_HPA_TOLERANCE, hpa_tolerance, 0.0, 1.0, false, true,
        "unset", "the HPA's tolerance for both directions; the two keys below win over it"),
    ROW("hpaScaleUpTolerance", META_TYPE_DOUBLE, META_HPA_SCALE_UP_TOLERANCE,
        hpa_scale_up_tolerance, 0.0, SAT_MAX_SCALE_UP_TOLERANCE, false, false, "0.1",
        "the HPA's scale-up tolerance; steps are sized so the HPA acts (0: exactly +1)"),
    ROW("hpaScaleDownTolerance", META_TYPE_DOUBLE, META_HPA_SCALE_DOWN_TOLERANCE,
        hpa_scale_down_tolerance, 0.0, 1.0, false, true, "0.1",
        "the HPA's scale-down tolerance; steps are sized so the HPA acts (0: exactly -1)"),
    ROW("metricsWindow", META_TYPE_DURATION, META_METRICS_WINDOW, metrics_window_ms, 0.0,
        (double)META_MAX_METRICS_WINDOW_MS, true, false, "1m",
        "range over which per-replica KV-cache and queue maxima are taken (Go duration)"),
    ROW("scaleToZero", META_TYPE_DURATION, META_SCALE_TO_ZERO, scale_to_zero_ms, 0.0,
        (double)META_MAX_SCALE_TO_ZERO_MS, false, false, "off",
        "IsActive is false after this long without a successful request; 0 or absent: off"),
    ROW("engine", META_TYPE_ENGINE, META_ENGINE, engine, 0.0, 0.0, false, false, "vllm",
        "inference engine whose metrics are read: vllm or sglang"),
};

#define KEY_COUNT (sizeof s_keys / sizeof s_keys[0])

_Static_assert(KEY_COUNT == META_FIELD_COUNT, "one table row per enum meta_field");
_Static_assert(META_FIELD_COUNT <= 32, "meta_decision.set is 32 bits");

const struct meta_key *meta_decision_keys(size_t *n)
{
    if (n)
        *n = KEY_COUNT;
    return s_keys;
}

const struct meta_key *meta_decision_key(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(s_keys[i].name, name) == 0)
            return &s_keys[i];
    return NULL;
}

static const struct meta_key *key_for_field(enum meta_field f)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (s_keys[i].field == f)
            return &s_keys[i];
    return NULL;
}

const char *meta_engine_str(enum meta_engine e)
{
    switch (e) {
    case META_ENGINE_VLLM:
        return "vllm";
    case META_ENGINE_SGLANG:
        return "sglang";
    }
    return "unknown";
}

/* ---- small string helpers ------------------------------------------------ */

static void why_set(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static void why_clear(char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
}

/*
 * Log-safe rendering of s: at most SHOWN_BYTES bytes, '"' and '\\' escaped,
 * bytes outside printable ASCII as \xNN, "..." when cut. Quoted or not.
 */
static void escape(char *buf, size_t len, const char *s, bool quoted)
{
    char tmp[META_QUOTE_LEN];
    size_t o = 0;

    if (!len)
        return;
    if (!s) {
        snprintf(buf, len, "(null)");
        return;
    }
    if (quoted)
        tmp[o++] = '"';
    size_t i = 0;
    for (; s[i] && i < SHOWN_BYTES; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            tmp[o++] = '\\';
            tmp[o++] = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            static const char hex[] = "0123456789abcdef";
            tmp[o++] = '\\';
            tmp[o++] = 'x';
            tmp[o++] = hex[c >> 4];
            tmp[o++] = hex[c & 0xf];
        } else {
            tmp[o++] = (char)c;
        }
    }
    if (quoted)
        tmp[o++] = '"';
    if (s[i]) {
        memcpy(tmp + o, "...", 3);
        o += 3;
    }
    tmp[o] = '\0';
    snprintf(buf, len, "%s", tmp);
}

void meta_quote(char *buf, size_t len, const char *s)
{
    escape(buf, len, s, true);
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_case_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (to_lower(*a) != to_lower(*b))
            return false;
    return *a == *b;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* A byte range of a caller's string: values are trimmed without copying. */
struct span {
    const char *p;
    size_t len;
};

/* s (length len) without leading/trailing ASCII whitespace. */
static struct span trim(const char *s, size_t len)
{
    struct span sp = {s, len};
    while (sp.len && is_space((unsigned char)sp.p[0])) {
        sp.p++;
        sp.len--;
    }
    while (sp.len && is_space((unsigned char)sp.p[sp.len - 1]))
        sp.len--;
    return sp;
}

/* [a-z0-9-]+ with alnum at both ends; the 63-byte limit is the caller's. */
static bool dns_label_chars(const char *p, size_t len)
{
    if (!len || !is_lower_alnum(p[0]) || !is_lower_alnum(p[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_alnum(p[i]) && p[i] != '-')
            return false;
    return true;
}

static bool valid_namespace(struct span s)
{
    return s.len <= META_NAMESPACE_MAX && dns_label_chars(s.p, s.len);
}

/* DNS-1123 subdomain: labels joined by '.', at most 253 bytes. */
static bool valid_object_name(struct span s)
{
    if (!s.len || s.len > META_OBJECT_NAME_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i == s.len || s.p[i] == '.') {
            if (!dns_label_chars(s.p + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* A URL path segment HPA and KEDA accept unchanged: [A-Za-z0-9._-]{1,200},
 * not "." or "..". No '/', '%', ':' or anything a proxy might rewrite. */
static bool valid_metric_name(struct span s)
{
    if (!s.len || s.len > META_METRIC_NAME_MAX)
        return false;
    if ((s.len == 1 && s.p[0] == '.') || (s.len == 2 && s.p[0] == '.' && s.p[1] == '.'))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

static bool valid_prometheus_name(struct span s)
{
    if (!s.len || s.len > META_PROMETHEUS_NAME_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!is_alnum(c) && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* "http(s)://host[:port][/path]": printable ASCII, no spaces, no
 * credentials ('@'), no query or fragment. */
static bool valid_prometheus_url(struct span s)
{
    size_t skip;

    if (s.len > 7 && strncmp(s.p, "http://", 7) == 0)
        skip = 7;
    else if (s.len > 8 && strncmp(s.p, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (s.len > META_MAX_VALUE_LEN || s.len == skip)
        return false;
    for (size_t i = skip; i < s.len; i++) {
        char c = s.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '@' || c == '?' || c == '#' || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* Model ids go into PromQL label matchers and log lines: no control bytes.
 * Anything else (UTF-8, '/', ':', quotes) is the prom module's to escape. */
static bool has_control_byte(struct span s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

static char *span_dup(struct span s)
{
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.p, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* ---- formatting bounds and values ---------------------------------------- */

/* Go-style duration of ms >= 0: "0s", "500ms", "1m30s", "24h". */
static void fmt_duration(char *buf, size_t len, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    size_t o = 0;

    if (!len)
        return;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, len, "%s", ms == 0 ? "0s" : "negative");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && o < len; i++) {
        int64_t q = ms / units[i].ms;
        if (!q)
            continue;
        ms -= q * units[i].ms;
        int w = snprintf(buf + o, len - o, "%" PRId64 "%s", q, units[i].unit);
        if (w < 0)
            return;
        o += (size_t)w;
    }
}

static void fmt_bound(char *buf, size_t len, const struct meta_key *k, double v)
{
    if (k->type == META_TYPE_DURATION)
        fmt_duration(buf, len, (int64_t)v);
    else
        util_fmt_double(buf, len, v);
}

void meta_key_range(const struct meta_key *k, char *buf, size_t len)
{
    char lo[40], hi[40];

    if (!len)
        return;
    if (!k) {
        buf[0] = '\0';
        return;
    }
    if (k->type == META_TYPE_ENGINE) {
        snprintf(buf, len, "vllm | sglang");
        return;
    }
    fmt_bound(lo, sizeof lo, k, k->min);
    if (isinf(k->max)) {
        snprintf(buf, len, "%s %s", k->min_open ? ">" : ">=", lo);
        return;
    }
    fmt_bound(hi, sizeof hi, k, k->max);
    snprintf(buf, len, "%c%s, %s%c", k->min_open ? '(' : '[', lo, hi, k->max_open ? ')' : ']');
}

/* "must be in (0, 1]" / "must be >= 0" for key k. */
static void fmt_must(char *buf, size_t len, const struct meta_key *k)
{
    char range[96];
    meta_key_range(k, range, sizeof range);
    snprintf(buf, len, "must be %s%s", range[0] == '(' || range[0] == '[' ? "in " : "", range);
}

static bool in_bounds(const struct meta_key *k, double v)
{
    if (isnan(v))
        return false;
    if (k->min_open ? !(v > k->min) : !(v >= k->min))
        return false;
    if (k->max_open ? !(v < k->max) : !(v <= k->max))
        return false;
    return true;
}

/* Store v (already checked) into d as k's type and set k's bit. */
static void store(struct meta_decision *d, const struct meta_key *k, double dv, int64_t iv,
                  enum meta_engine ev)
{
    char *base = (char *)d + k->offset;
    switch (k->type) {
    case META_TYPE_DOUBLE:
        memcpy(base, &dv, sizeof dv);
        break;
    case META_TYPE_INT:
    case META_TYPE_DURATION:
        memcpy(base, &iv, sizeof iv);
        break;
    case META_TYPE_ENGINE:
        memcpy(base, &ev, sizeof ev);
        break;
    }
    d->set |= 1u << (unsigned)k->field;
}

/* ---- parsing one decision key -------------------------------------------- */

/* Parse the trimmed copy t of raw for key k into d. */
static enum err_code parse_value(struct meta_decision *d, const struct meta_key *k, const char *t,
                                 const char *raw, char *why, size_t why_len)
{
    char q[META_QUOTE_LEN], must[128], range[96];
    double dv = 0;
    int64_t iv = 0;

    meta_quote(q, sizeof q, raw);
    if (!t[0]) {
        why_set(why, why_len, "%s: %s must not be empty", k->name, q);
        return ERR_INVALID;
    }
    fmt_must(must, sizeof must, k);
    switch (k->type) {
    case META_TYPE_DOUBLE:
        if (util_parse_double(t, &dv) != ERR_OK) {
            why_set(why, why_len, "%s: %s is not a finite number", k->name, q);
            return ERR_INVALID;
        }
        if (!in_bounds(k, dv)) {
            why_set(why, why_len, "%s: %s %s", k->name, q, must);
            return ERR_INVALID;
        }
        store(d, k, dv, 0, META_ENGINE_VLLM);
        return ERR_OK;
    case META_TYPE_INT:
        if (util_parse_int64(t, (int64_t)k->min, (int64_t)k->max, &iv) == ERR_OK) {
            store(d, k, 0, iv, META_ENGINE_VLLM);
            return ERR_OK;
        }
        meta_key_range(k, range, sizeof range);
        if (util_parse_int64(t, INT64_MIN, INT64_MAX, &iv) == ERR_OK)
            why_set(why, why_len, "%s: %s %s", k->name, q, must);
        else if (util_parse_double(t, &dv) == ERR_OK)
            why_set(why, why_len, "%s: %s must be an integer in %s", k->name, q, range);
        else
            why_set(why, why_len, "%s: %s is not an integer", k->name, q);
        return ERR_INVALID;
    case META_TYPE_DURATION:
        if (util_parse_duration_ms(t, &iv) != ERR_OK) {
            why_set(why, why_len, "%s: %s is not a duration (like 500ms, 30s, 1m30s, 1h)", k->name,
                    q);
            return ERR_INVALID;
        }
        if (!in_bounds(k, (double)iv)) {
            why_set(why, why_len, "%s: %s %s", k->name, q, must);
            return ERR_INVALID;
        }
        store(d, k, 0, iv, META_ENGINE_VLLM);
        return ERR_OK;
    case META_TYPE_ENGINE:
        if (ascii_case_equal(t, "vllm")) {
            store(d, k, 0, 0, META_ENGINE_VLLM);
            return ERR_OK;
        }
        if (ascii_case_equal(t, "sglang")) {
            store(d, k, 0, 0, META_ENGINE_SGLANG);
            return ERR_OK;
        }
        why_set(why, why_len, "%s: %s must be vllm or sglang", k->name, q);
        return ERR_INVALID;
    }
    why_set(why, why_len, "%s: unknown key type", k->name);
    return ERR_INTERNAL;
}

static enum err_code value_too_long(const char *key, const char *value, char *why, size_t why_len)
{
    char kq[META_QUOTE_LEN], vq[META_QUOTE_LEN];
    escape(kq, sizeof kq, key, false);
    meta_quote(vq, sizeof vq, value);
    why_set(why, why_len, "%s: value longer than %d bytes: %s", kq, META_MAX_VALUE_LEN, vq);
    return ERR_INVALID;
}

enum err_code meta_decision_parse(struct meta_decision *d, const char *key, const char *value,
                                  char *why, size_t why_len)
{
    char t[META_MAX_VALUE_LEN + 1];

    why_clear(why, why_len);
    const struct meta_key *k = meta_decision_key(key);
    if (!k) {
        char kq[META_QUOTE_LEN];
        escape(kq, sizeof kq, key, false);
        why_set(why, why_len, "%s: not a decision key", kq);
        return ERR_NOT_FOUND;
    }
    if (!d || !value) {
        why_set(why, why_len, "%s: no value", k->name);
        return ERR_INVALID;
    }
    size_t len = strnlen(value, META_MAX_VALUE_LEN + 1);
    if (len > META_MAX_VALUE_LEN)
        return value_too_long(k->name, value, why, why_len);
    struct span s = trim(value, len);
    memcpy(t, s.p, s.len);
    t[s.len] = '\0';
    return parse_value(d, k, t, value, why, why_len);
}

enum err_code meta_decision_set_number(struct meta_decision *d, const char *key, double v,
                                       char *why, size_t why_len)
{
    char num[40], must[128], range[96];

    why_clear(why, why_len);
    const struct meta_key *k = meta_decision_key(key);
    if (!k) {
        char kq[META_QUOTE_LEN];
        escape(kq, sizeof kq, key, false);
        why_set(why, why_len, "%s: not a decision key", kq);
        return ERR_NOT_FOUND;
    }
    if (!d) {
        why_set(why, why_len, "%s: no decision to write", k->name);
        return ERR_INVALID;
    }
    util_fmt_double(num, sizeof num, v);
    fmt_must(must, sizeof must, k);
    switch (k->type) {
    case META_TYPE_DOUBLE:
        if (!isfinite(v)) {
            why_set(why, why_len, "%s: %s is not a finite number", k->name, num);
            return ERR_INVALID;
        }
        if (!in_bounds(k, v)) {
            why_set(why, why_len, "%s: %s %s", k->name, num, must);
            return ERR_INVALID;
        }
        store(d, k, v, 0, META_ENGINE_VLLM);
        return ERR_OK;
    case META_TYPE_INT:
        if (!isfinite(v) || floor(v) != v || !in_bounds(k, v)) {
            meta_key_range(k, range, sizeof range);
            why_set(why, why_len, "%s: %s must be an integer in %s", k->name, num, range);
            return ERR_INVALID;
        }
        store(d, k, 0, (int64_t)v, META_ENGINE_VLLM);
        return ERR_OK;
    case META_TYPE_DURATION:
        why_set(why, why_len, "%s: %s must be a duration string like \"30s\" or \"1m\"", k->name,
                num);
        return ERR_INVALID;
    case META_TYPE_ENGINE:
        why_set(why, why_len, "%s: %s must be the string \"vllm\" or \"sglang\"", k->name, num);
        return ERR_INVALID;
    }
    why_set(why, why_len, "%s: unknown key type", k->name);
    return ERR_INTERNAL;
}

/* ---- resolution ------------------------------------------------------------ */

/* Index of the first layer setting f, or -1. */
static int first_layer(const struct meta_layer *layers, size_t n, enum meta_field f)
{
    for (size_t i = 0; i < n; i++)
        if (layers[i].decision && meta_decision_has(layers[i].decision, f))
            return (int)i;
    return -1;
}

/* Tolerance direction: the first layer with the specific key or hpaTolerance. */
static int tolerance_layer(const struct meta_layer *layers, size_t n, enum meta_field specific,
                           bool *from_specific)
{
    for (size_t i = 0; i < n; i++) {
        const struct meta_decision *d = layers[i].decision;
        if (!d)
            continue;
        if (meta_decision_has(d, specific)) {
            *from_specific = true;
            return (int)i;
        }
        if (meta_decision_has(d, META_HPA_TOLERANCE)) {
            *from_specific = false;
            return (int)i;
        }
    }
    return -1;
}

/* Where a resolved field came from, sanitized, for messages. */
static void source_name(char *buf, size_t len, const struct meta_layer *layers, int idx)
{
    if (idx < 0)
        snprintf(buf, len, SOURCE_DEFAULT);
    else if (layers[idx].source)
        escape(buf, len, layers[idx].source, false);
    else
        snprintf(buf, len, "layer %d", idx);
}

/* The resolved value of field f as a double, for bounds and messages. */
static double resolved_value(const struct meta_resolved *r, enum meta_field f)
{
    switch (f) {
    case META_KV_CACHE_THRESHOLD:
        return r->config.kv_cache_threshold;
    case META_QUEUE_LENGTH_THRESHOLD:
        return r->config.queue_length_threshold;
    case META_KV_SPARE_TRIGGER:
        return r->config.kv_spare_trigger;
    case META_QUEUE_SPARE_TRIGGER:
        return r->config.queue_spare_trigger;
    case META_MIN_REPLICAS:
        return (double)r->min_replicas;
    case META_MAX_REPLICAS:
        return (double)r->max_replicas;
    case META_VARIANT_COST:
        return r->variant_cost;
    case META_HPA_TOLERANCE:
        return 0; /* not a resolved field of its own */
    case META_HPA_SCALE_UP_TOLERANCE:
        return r->tolerance.up;
    case META_HPA_SCALE_DOWN_TOLERANCE:
        return r->tolerance.down;
    case META_METRICS_WINDOW:
        return (double)r->metrics_window_ms;
    case META_SCALE_TO_ZERO:
        return (double)r->scale_to_zero_ms;
    case META_ENGINE:
        return (double)r->engine;
    case META_FIELD_COUNT:
        break;
    }
    return 0;
}

static void fmt_value(char *buf, size_t len, const struct meta_key *k, double v)
{
    if (k->type == META_TYPE_DURATION)
        fmt_duration(buf, len, (int64_t)v);
    else
        util_fmt_double(buf, len, v);
}

/* "kvSpareTrigger 0.9 from trigger metadata" for field f. */
static void describe(char *buf, size_t len, const struct meta_resolved *r,
                     const struct meta_layer *layers, const int *src, enum meta_field f)
{
    const struct meta_key *k = key_for_field(f);
    char v[40], s[META_QUOTE_LEN];
    fmt_value(v, sizeof v, k, resolved_value(r, f));
    source_name(s, sizeof s, layers, src[f]);
    snprintf(buf, len, "%s %s from %s", k->name, v, s);
}

static enum meta_field field_of_name(const char *name, enum meta_field fallback)
{
    const struct meta_key *k = meta_decision_key(name);
    return k ? k->field : fallback;
}

enum err_code meta_resolve(const struct meta_layer *layers, size_t n, struct meta_resolved *out,
                           char *why, size_t why_len)
{
    struct meta_resolved r;
    int src[META_FIELD_COUNT];
    int i;

    why_clear(why, why_len);
    if (!out || (n && !layers)) {
        why_set(why, why_len, "meta_resolve: NULL argument");
        return ERR_INTERNAL;
    }
    memset(&r, 0, sizeof r);
    sat_config_default(&r.config);
    sat_tolerance_default(&r.tolerance);
    r.min_replicas = META_DEFAULT_MIN_REPLICAS;
    r.max_replicas = SAT_UNSET;
    r.variant_cost = META_DEFAULT_VARIANT_COST;
    r.metrics_window_ms = META_DEFAULT_METRICS_WINDOW_MS;
    r.scale_to_zero_ms = 0;
    r.engine = META_ENGINE_VLLM;

#define TAKE(field_id, dst, member)                                                                \
    do {                                                                                           \
        i = first_layer(layers, n, field_id);                                                      \
        src[field_id] = i;                                                                         \
        if (i >= 0)                                                                                \
            dst = layers[i].decision->member;                                                      \
    } while (0)

    TAKE(META_KV_CACHE_THRESHOLD, r.config.kv_cache_threshold, kv_cache_threshold);
    TAKE(META_QUEUE_LENGTH_THRESHOLD, r.config.queue_length_threshold, queue_length_threshold);
    TAKE(META_KV_SPARE_TRIGGER, r.config.kv_spare_trigger, kv_spare_trigger);
    TAKE(META_QUEUE_SPARE_TRIGGER, r.config.queue_spare_trigger, queue_spare_trigger);
    TAKE(META_MIN_REPLICAS, r.min_replicas, min_replicas);
    TAKE(META_MAX_REPLICAS, r.max_replicas, max_replicas);
    TAKE(META_VARIANT_COST, r.variant_cost, variant_cost);
    TAKE(META_METRICS_WINDOW, r.metrics_window_ms, metrics_window_ms);
    TAKE(META_SCALE_TO_ZERO, r.scale_to_zero_ms, scale_to_zero_ms);
    TAKE(META_ENGINE, r.engine, engine);
#undef TAKE
    src[META_HPA_TOLERANCE] = -1;

    bool specific = false;
    i = tolerance_layer(layers, n, META_HPA_SCALE_UP_TOLERANCE, &specific);
    src[META_HPA_SCALE_UP_TOLERANCE] = i;
    if (i >= 0)
        r.tolerance.up = specific ? layers[i].decision->hpa_scale_up_tolerance
                                  : layers[i].decision->hpa_tolerance;
    i = tolerance_layer(layers, n, META_HPA_SCALE_DOWN_TOLERANCE, &specific);
    src[META_HPA_SCALE_DOWN_TOLERANCE] = i;
    if (i >= 0)
        r.tolerance.down = specific ? layers[i].decision->hpa_scale_down_tolerance
                                    : layers[i].decision->hpa_tolerance;

    /* Layers built by hand (not through meta_decision_parse) may hold
     * anything: check every resolved value against its row. */
    char d1[512], d2[512], must[128];
    for (size_t k = 0; k < KEY_COUNT; k++) {
        const struct meta_key *row = &s_keys[k];
        enum meta_field f = row->field;
        if (f == META_HPA_TOLERANCE || (f == META_MAX_REPLICAS && r.max_replicas == SAT_UNSET))
            continue;
        if (row->type == META_TYPE_ENGINE) {
            if (r.engine != META_ENGINE_VLLM && r.engine != META_ENGINE_SGLANG) {
                describe(d1, sizeof d1, &r, layers, src, f);
                why_set(why, why_len, "%s: must be vllm or sglang", d1);
                return ERR_INVALID;
            }
            continue;
        }
        if (!in_bounds(row, resolved_value(&r, f))) {
            describe(d1, sizeof d1, &r, layers, src, f);
            fmt_must(must, sizeof must, row);
            why_set(why, why_len, "%s: %s", d1, must);
            return ERR_INVALID;
        }
    }

    const char *bad = NULL;
    char swhy[SAT_REASON_LEN];
    swhy[0] = '\0';
    if (sat_config_validate(&r.config, &bad, swhy, sizeof swhy) != ERR_OK) {
        enum meta_field f = field_of_name(bad, META_KV_SPARE_TRIGGER);
        if (f == META_KV_SPARE_TRIGGER || f == META_KV_CACHE_THRESHOLD) {
            /* The one cross-key rule: say where both sides came from. */
            describe(d1, sizeof d1, &r, layers, src, META_KV_SPARE_TRIGGER);
            describe(d2, sizeof d2, &r, layers, src, META_KV_CACHE_THRESHOLD);
            why_set(why, why_len, "%s (%s; %s)", swhy, d1, d2);
        } else {
            describe(d1, sizeof d1, &r, layers, src, f);
            why_set(why, why_len, "%s (%s)", swhy, d1);
        }
        return ERR_INVALID;
    }
    bad = NULL;
    swhy[0] = '\0';
    if (sat_tolerance_validate(&r.tolerance, &bad, swhy, sizeof swhy) != ERR_OK) {
        enum meta_field f = field_of_name(bad, META_HPA_SCALE_UP_TOLERANCE);
        describe(d1, sizeof d1, &r, layers, src, f);
        why_set(why, why_len, "%s (%s)", swhy, d1);
        return ERR_INVALID;
    }
    if (r.max_replicas != SAT_UNSET && r.min_replicas > r.max_replicas) {
        describe(d1, sizeof d1, &r, layers, src, META_MIN_REPLICAS);
        describe(d2, sizeof d2, &r, layers, src, META_MAX_REPLICAS);
        why_set(why, why_len, "minReplicas must be <= maxReplicas (%s; %s)", d1, d2);
        return ERR_INVALID;
    }
    *out = r;
    return ERR_OK;
}

/* ---- the metadata map ------------------------------------------------------- */

/* Keys that name the target rather than shape the decision. Their bits in
 * the "seen" mask follow the META_FIELD_COUNT decision bits. */
enum target_key { TK_MODEL_ID, TK_NAMESPACE, TK_METRIC_NAME, TK_PROMETHEUS, TK_COUNT };
static const char *const s_target_keys[TK_COUNT] = {"modelID", "namespace", "metricName",
                                                    "prometheus"};

_Static_assert(META_FIELD_COUNT + TK_COUNT <= 32, "seen mask is 32 bits");

static int target_key(const char *key)
{
    for (int t = 0; t < TK_COUNT; t++)
        if (strcmp(s_target_keys[t], key) == 0)
            return t;
    return -1;
}

static enum err_code check_metric_name(const char *raw, struct span s, char *why, size_t why_len)
{
    char q[META_QUOTE_LEN];
    if (valid_metric_name(s))
        return ERR_OK;
    meta_quote(q, sizeof q, raw);
    if (!s.len)
        why_set(why, why_len, "metricName: %s must not be empty", q);
    else
        why_set(why, why_len,
                "metricName: %s is not a valid metric name (1-%d characters of [A-Za-z0-9._-], "
                "not \".\" or \"..\")",
                q, META_METRIC_NAME_MAX);
    return ERR_INVALID;
}

enum err_code meta_metric_name(const char *const *keys, const char *const *values, size_t n,
                               char *out, size_t out_len, char *why, size_t why_len)
{
    why_clear(why, why_len);
    if (!out || out_len < META_METRIC_NAME_LEN) {
        why_set(why, why_len, "meta_metric_name: output buffer too small");
        return ERR_INTERNAL;
    }
    out[0] = '\0';
    const char *raw = NULL;
    if (keys && values) {
        /* Last entry wins, as for every key. */
        for (size_t i = n; i-- > 0;) {
            if (keys[i] && values[i] && strcmp(keys[i], "metricName") == 0) {
                raw = values[i];
                break;
            }
        }
    }
    if (!raw) {
        snprintf(out, out_len, "%s", META_DEFAULT_METRIC_NAME);
        return ERR_OK;
    }
    /* Bounded scan: a longer value is invalid anyway. */
    size_t len = strnlen(raw, META_MAX_VALUE_LEN + 1);
    struct span s = trim(raw, len);
    if (len > META_MAX_VALUE_LEN)
        s.len = META_METRIC_NAME_MAX + 1; /* fails the length check */
    enum err_code rc = check_metric_name(raw, s, why, why_len);
    if (rc)
        return rc;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return ERR_OK;
}

void meta_request_clear(struct meta_request *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->namespace_);
    free(r->model_id);
    free(r->metric_name);
    free(r->prometheus);
    memset(r, 0, sizeof *r);
}

/* Validate the target keys and the ScaledObjectRef; fill spans. */
static enum err_code check_target(const char *so_name, const char *so_namespace,
                                  const char *const *raw, const struct meta_options *opt,
                                  struct span *name, struct span *ns, struct span *model,
                                  struct span *metric, struct span *prom, char *why, size_t why_len)
{
    char q[META_QUOTE_LEN], q2[META_QUOTE_LEN];
    static const char ns_rule[] =
        "DNS-1123 label: at most 63 characters of [a-z0-9-], starting and ending with a letter or "
        "digit";

    /* modelID: required, any bytes but control bytes. */
    const char *model_raw = raw[TK_MODEL_ID];
    if (!model_raw && opt && opt->model_id_fallback)
        model_raw = opt->model_id_fallback;
    if (!model_raw) {
        why_set(why, why_len, "modelID: required");
        return ERR_INVALID;
    }
    *model = trim(model_raw, strlen(model_raw));
    meta_quote(q, sizeof q, model_raw);
    if (!model->len) {
        why_set(why, why_len, "modelID: %s must not be empty", q);
        return ERR_INVALID;
    }
    if (has_control_byte(*model)) {
        why_set(why, why_len, "modelID: %s must not contain control characters", q);
        return ERR_INVALID;
    }

    /* namespace: metadata, else the ScaledObject's; same unless allowed. */
    const char *so_ns = so_namespace ? so_namespace : "";
    struct span own = {so_ns, strnlen(so_ns, META_NAMESPACE_MAX + 1)};
    if (raw[TK_NAMESPACE]) {
        *ns = trim(raw[TK_NAMESPACE], strlen(raw[TK_NAMESPACE]));
        meta_quote(q, sizeof q, raw[TK_NAMESPACE]);
        if (!ns->len) {
            why_set(why, why_len, "namespace: %s must not be empty", q);
            return ERR_INVALID;
        }
        if (!valid_namespace(*ns)) {
            why_set(why, why_len, "namespace: %s is not a valid namespace name (%s)", q, ns_rule);
            return ERR_INVALID;
        }
        bool same = own.len == ns->len && memcmp(own.p, ns->p, ns->len) == 0;
        if (!same && !opt->allow_cross_namespace) {
            meta_quote(q2, sizeof q2, so_ns);
            why_set(why, why_len,
                    "namespace: %s is not the ScaledObject's namespace %s (cross-namespace reads "
                    "are disabled)",
                    q, q2);
            return ERR_INVALID;
        }
    } else {
        *ns = own;
        if (!ns->len) {
            why_set(why, why_len,
                    "namespace: required (the ScaledObjectRef has no namespace and the metadata "
                    "no namespace key)");
            return ERR_INVALID;
        }
        if (!valid_namespace(*ns)) {
            meta_quote(q, sizeof q, so_ns);
            why_set(why, why_len,
                    "namespace: the ScaledObjectRef's namespace %s is not a valid namespace name "
                    "(%s)",
                    q, ns_rule);
            return ERR_INVALID;
        }
    }

    /* The ScaledObject's name is the variant: a Kubernetes object name. */
    const char *nm = so_name ? so_name : "";
    *name = (struct span){nm, strnlen(nm, META_OBJECT_NAME_MAX + 1)};
    if (!name->len) {
        why_set(why, why_len, "name: required (the ScaledObjectRef has no name)");
        return ERR_INVALID;
    }
    if (!valid_object_name(*name)) {
        meta_quote(q, sizeof q, nm);
        why_set(why, why_len,
                "name: the ScaledObjectRef's name %s is not a valid object name (DNS-1123 "
                "subdomain: at most 253 characters of [a-z0-9.-])",
                q);
        return ERR_INVALID;
    }

    if (raw[TK_METRIC_NAME]) {
        *metric = trim(raw[TK_METRIC_NAME], strlen(raw[TK_METRIC_NAME]));
        enum err_code rc = check_metric_name(raw[TK_METRIC_NAME], *metric, why, why_len);
        if (rc)
            return rc;
    } else {
        *metric = (struct span){META_DEFAULT_METRIC_NAME, strlen(META_DEFAULT_METRIC_NAME)};
    }

    *prom = (struct span){NULL, 0};
    if (raw[TK_PROMETHEUS]) {
        *prom = trim(raw[TK_PROMETHEUS], strlen(raw[TK_PROMETHEUS]));
        meta_quote(q, sizeof q, raw[TK_PROMETHEUS]);
        if (!prom->len) {
            why_set(why, why_len, "prometheus: %s must not be empty", q);
            return ERR_INVALID;
        }
        if (valid_prometheus_url(*prom)) {
            /* A URL: the Prometheus source refuses it unless the operator
             * allowed metadata URLs (it never gets the configured
             * credentials). */
        } else if (!valid_prometheus_name(*prom)) {
            why_set(why, why_len,
                    "prometheus: %s is not a valid endpoint name (1-%d characters of "
                    "[A-Za-z0-9_-])",
                    q, META_PROMETHEUS_NAME_MAX);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

enum err_code meta_parse(const char *so_name, const char *so_namespace, const char *const *keys,
                         const char *const *values, size_t n, const struct meta_options *opt,
                         struct meta_request *out, char *why, size_t why_len)
{
    static const struct meta_options no_options;
    struct meta_request r;
    const char *raw[TK_COUNT] = {NULL};
    struct span name, ns, model, metric, prom;
    enum err_code rc;

    why_clear(why, why_len);
    if (!out) {
        why_set(why, why_len, "meta_parse: NULL output");
        return ERR_INTERNAL;
    }
    memset(out, 0, sizeof *out);
    memset(&r, 0, sizeof r);
    if (!opt)
        opt = &no_options;

    if (n > META_MAX_KEYS) {
        why_set(why, why_len, "too many metadata keys: %zu (max %d)", n, META_MAX_KEYS);
        return ERR_INVALID;
    }
    if (n && (!keys || !values)) {
        why_set(why, why_len, "metadata: NULL key or value array");
        return ERR_INVALID;
    }
    /* Bound every entry before looking at any. */
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            why_set(why, why_len, "metadata entry %zu: NULL key or value", i);
            return ERR_INVALID;
        }
        if (strnlen(values[i], META_MAX_VALUE_LEN + 1) > META_MAX_VALUE_LEN)
            return value_too_long(keys[i], values[i], why, why_len);
    }

    /* Backwards so the last of repeated keys wins; earlier repeats are not
     * even parsed, as a protobuf map decoder would have dropped them. */
    uint32_t seen = 0;
    for (size_t i = n; i-- > 0;) {
        const struct meta_key *k = meta_decision_key(keys[i]);
        unsigned bit;
        int t = -1;
        if (k)
            bit = (unsigned)k->field;
        else if ((t = target_key(keys[i])) >= 0)
            bit = META_FIELD_COUNT + (unsigned)t;
        else
            continue; /* scalerAddress and friends */
        if (seen & (1u << bit))
            continue;
        seen |= 1u << bit;
        if (k) {
            rc = meta_decision_parse(&r.decision, keys[i], values[i], why, why_len);
            if (rc)
                return rc;
        } else {
            raw[t] = values[i];
        }
    }

    rc = check_target(so_name, so_namespace, raw, opt, &name, &ns, &model, &metric, &prom, why,
                      why_len);
    if (rc)
        return rc;

    r.name = span_dup(name);
    r.namespace_ = span_dup(ns);
    r.model_id = span_dup(model);
    r.metric_name = span_dup(metric);
    if (prom.p)
        r.prometheus = span_dup(prom);
    if (!r.name || !r.namespace_ || !r.model_id || !r.metric_name || (prom.p && !r.prometheus)) {
        meta_request_clear(&r);
        why_set(why, why_len, "out of memory");
        return ERR_NOMEM;
    }

    /* Layers: metadata, then the model's (override), then the fixed ones. */
    struct meta_layer layers[META_MAX_LAYERS];
    size_t nl = 0;
    if (opt->n_layers > META_MAX_LAYERS - 2 || (opt->n_layers && !opt->layers)) {
        meta_request_clear(&r);
        why_set(why, why_len, "meta_parse: %zu layers (max %d)", opt->n_layers,
                META_MAX_LAYERS - 2);
        return ERR_INTERNAL;
    }
    layers[nl++] = (struct meta_layer){SOURCE_METADATA, &r.decision};
    if (opt->object_layer)
        layers[nl++] = *opt->object_layer;
    if (opt->select_layers) {
        size_t cap = META_MAX_LAYERS - nl - opt->n_layers;
        size_t got =
            opt->select_layers(opt->select_arg, r.namespace_, r.model_id, layers + nl, cap);
        if (got > cap) {
            meta_request_clear(&r);
            why_set(why, why_len, "meta_parse: select_layers returned %zu (cap %zu)", got, cap);
            return ERR_INTERNAL;
        }
        nl += got;
    }
    for (size_t i = 0; i < opt->n_layers; i++)
        layers[nl++] = opt->layers[i];

    rc = meta_resolve(layers, nl, &r.resolved, why, why_len);
    if (rc) {
        meta_request_clear(&r);
        return rc;
    }
    *out = r;
    return ERR_OK;
}

/* ---- model keys and metric names ------------------------------------------- */

size_t meta_model_key(const struct meta_request *r, char *buf, size_t len)
{
    const char *ns = r && r->namespace_ ? r->namespace_ : "";
    const char *model = r && r->model_id ? r->model_id : "";
    int w = snprintf(buf, len, "%s/%s", ns, model);
    return w < 0 ? 0 : (size_t)w;
}

uint64_t meta_key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;
    if (!key)
        return h;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

bool meta_metric_name_equal(const char *requested, const char *configured)
{
    if (!configured)
        return false;
    if (!requested || !requested[0])
        return true;
    if (ascii_case_equal(requested, configured))
        return true;
    /* The HPA-side form s<N>-<name>. */
    if (requested[0] != 's' && requested[0] != 'S')
        return false;
    const char *p = requested + 1;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != '-')
        return false;
    return ascii_case_equal(p + 1, configured);
}
