/*
 * analyze: the `saturation-scaler analyze` document. See include/analyze.h.
 *
 * Input (unknown keys are ignored everywhere; a known key given twice in one
 * object is an error, since cJSON would silently take the first):
 *
 *   config      object, optional: kvCacheThreshold, queueLengthThreshold,
 *               kvSpareTrigger, queueSpareTrigger (WVA's defaults; 0 is a
 *               value, not "unset"), checked by sat_config_validate().
 *   replicas    array of { pod, variant = "default", kv, queue }: DESIGN
 *               section 4 step 1 (missing kv or queue is 0, a replica with
 *               neither is skipped, queue truncated toward zero).
 *   analysis    object, instead of replicas: shouldScaleUp, scaleDownSafe,
 *               totalReplicas, nonSaturatedCount, avgSpareKv, avgSpareQueue,
 *               all optional (false / 0), to exercise sat_targets() alone.
 *   variants    array of { name, cost = 10, currentReplicas, desiredReplicas
 *               = 0, pendingReplicas = 0, minReplicas, maxReplicas }; when
 *               given, the output carries "targets" and every variant a
 *               replica names must be listed.
 *   hpaTolerance, hpaScaleUpTolerance, hpaScaleDownTolerance: numbers,
 *               default 0.1; the specific keys win over hpaTolerance.
 *
 * Output: the totals, the scale-up/scale-down verdict, one object per
 * analyzed variant (sorted by name, as sat_analyze() returns them) and the
 * targets keyed by variant in input order. Doubles are printed with 17
 * significant digits so that a test can compare them bit for bit.
 *
 * Every check happens before the engine runs, so the engine only ever sees
 * input it accepts; its own ERR_INVALID would be a bug here (ERR_INTERNAL).
 */
#include "analyze.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sat.h"

#define DEFAULT_VARIANT "default"
#define DEFAULT_COST 10.0 /* WVA's default variant cost */
/* 2^63: the smallest double that no longer fits the int64_t queue. */
#define QUEUE_LIMIT 9223372036854775808.0
/* A path: "variants[18446744073709551615]" fits. A location is a path, a
 * dot and a key (the longest, "hpaScaleDownTolerance", has 21 bytes). */
#define PATH_LEN 40
#define LOC_LEN (PATH_LEN + 32)
/* A user-supplied name quoted into a message: at most NAME_SHOWN source
 * bytes, each escaped to at most 4 characters, plus quotes and "...". */
#define NAME_SHOWN 64
#define QUOTED_LEN (NAME_SHOWN * 4 + 8)
#define NUM_LEN 32 /* util_fmt_double17 needs 25 */

/* Where a message goes: the caller's buffer, possibly NULL/0. */
struct why {
    char *buf;
    size_t len;
};

/* A name and where it came from, sorted to find duplicates in n log n. */
struct name_ref {
    const char *name;
    size_t index;
};

/* The validated document. Strings point into the cJSON tree. */
struct input {
    struct sat_config cfg;
    struct sat_tolerance tol;
    bool have_replicas;
    struct sat_replica *replicas; /* those with kv or queue; malloc'd */
    size_t n_replicas;
    bool have_analysis;
    struct sat_analysis given; /* owns nothing: variants stay NULL */
    bool have_variants;
    struct sat_variant_state *states; /* malloc'd */
    size_t n_states;
    struct name_ref *variant_names; /* states' names sorted; malloc'd */
};

enum num_rule {
    NUM_FINITE, /* any finite number (range checked by the engine) */
    NUM_NONNEG  /* a finite number >= 0 */
};

__attribute__((format(printf, 3, 4))) static enum err_code fail(struct why *w, enum err_code rc,
                                                                const char *fmt, ...)
{
    if (w->buf != NULL && w->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->buf, w->len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static enum err_code nomem(struct why *w)
{
    return fail(w, ERR_NOMEM, "out of memory");
}

/* "path.key", or "key" at the root. */
static void locate(char *dst, size_t len, const char *path, const char *key)
{
    if (path[0] == '\0')
        snprintf(dst, len, "%s", key);
    else
        snprintf(dst, len, "%s.%s", path, key);
}

/* s in double quotes, '"', '\\' and control bytes escaped, long names cut,
 * so that a message stays one printable line whatever the input holds. */
static void quote(char *dst, size_t len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t i;

    if (len < QUOTED_LEN) {
        if (len > 0)
            dst[0] = '\0';
        return;
    }
    dst[o++] = '"';
    for (i = 0; s[i] != '\0' && i < NAME_SHOWN; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 0xf];
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o++] = '"';
    if (s[i] != '\0') {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* "a string", "an array"...: what a value was, for "got ..." messages. */
static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsTrue(v))
        return "true";
    if (cJSON_IsFalse(v))
        return "false";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "an unknown value";
}

/* The member key of obj, or NULL when absent; a key given twice is an
 * error (cJSON keeps both and lookups would silently take the first). */
static enum err_code member(const cJSON *obj, const char *path, const char *key, const cJSON **out,
                            struct why *w)
{
    const cJSON *found = NULL;
    const cJSON *c;

    *out = NULL;
    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL || strcmp(c->string, key) != 0)
            continue;
        if (found != NULL) {
            char loc[LOC_LEN];
            locate(loc, sizeof loc, path, key);
            return fail(w, ERR_INVALID, "%s: key given twice", loc);
        }
        found = c;
    }
    *out = found;
    return ERR_OK;
}

static size_t array_len(const cJSON *arr)
{
    size_t n = 0;
    const cJSON *c;

    for (c = arr->child; c != NULL; c = c->next)
        n++;
    return n;
}

/* A number member; *present false and *out untouched when absent. */
static enum err_code get_number(const cJSON *obj, const char *path, const char *key,
                                enum num_rule rule, bool *present, double *out, struct why *w)
{
    const char *want = rule == NUM_NONNEG ? "a number >= 0" : "a number";
    char loc[LOC_LEN];
    char num[NUM_LEN];
    const cJSON *v;
    enum err_code rc;

    *present = false;
    rc = member(obj, path, key, &v, w);
    if (rc)
        return rc;
    if (v == NULL)
        return ERR_OK;
    locate(loc, sizeof loc, path, key);
    if (!cJSON_IsNumber(v))
        return fail(w, ERR_INVALID, "%s: must be %s, got %s", loc, want, type_name(v));
    if (!isfinite(v->valuedouble)) /* cJSON reads 1e999 as inf */
        return fail(w, ERR_INVALID, "%s: must be %s, got a number out of range", loc, want);
    if (rule == NUM_NONNEG && !(v->valuedouble >= 0.0)) {
        util_fmt_double(num, sizeof num, v->valuedouble);
        return fail(w, ERR_INVALID, "%s: must be %s, got %s", loc, want, num);
    }
    *out = v->valuedouble;
    *present = true;
    return ERR_OK;
}

/* A replica count: a whole number in [0, SAT_MAX_REPLICAS]. */
static enum err_code get_count(const cJSON *obj, const char *path, const char *key, bool *present,
                               int64_t *out, struct why *w)
{
    char loc[LOC_LEN];
    char num[NUM_LEN];
    const cJSON *v;
    double d;
    enum err_code rc;

    *present = false;
    rc = member(obj, path, key, &v, w);
    if (rc)
        return rc;
    if (v == NULL)
        return ERR_OK;
    locate(loc, sizeof loc, path, key);
    if (!cJSON_IsNumber(v))
        return fail(w, ERR_INVALID, "%s: must be a whole number in [0, %d], got %s", loc,
                    SAT_MAX_REPLICAS, type_name(v));
    d = v->valuedouble;
    if (!isfinite(d))
        return fail(w, ERR_INVALID,
                    "%s: must be a whole number in [0, %d], got a number out of range", loc,
                    SAT_MAX_REPLICAS);
    if (!(d >= 0.0 && d <= (double)SAT_MAX_REPLICAS && d == floor(d))) {
        util_fmt_double(num, sizeof num, d);
        return fail(w, ERR_INVALID, "%s: must be a whole number in [0, %d], got %s", loc,
                    SAT_MAX_REPLICAS, num);
    }
    *out = (int64_t)d;
    *present = true;
    return ERR_OK;
}

/* A non-empty string member; *out NULL when absent. */
static enum err_code get_string(const cJSON *obj, const char *path, const char *key,
                                const char **out, struct why *w)
{
    char loc[LOC_LEN];
    const cJSON *v;
    enum err_code rc;

    *out = NULL;
    rc = member(obj, path, key, &v, w);
    if (rc)
        return rc;
    if (v == NULL)
        return ERR_OK;
    locate(loc, sizeof loc, path, key);
    if (!cJSON_IsString(v))
        return fail(w, ERR_INVALID, "%s: must be a non-empty string, got %s", loc, type_name(v));
    if (v->valuestring[0] == '\0')
        return fail(w, ERR_INVALID, "%s: must be a non-empty string, got \"\"", loc);
    *out = v->valuestring;
    return ERR_OK;
}

static enum err_code get_bool(const cJSON *obj, const char *path, const char *key, bool *out,
                              struct why *w)
{
    char loc[LOC_LEN];
    const cJSON *v;
    enum err_code rc;

    rc = member(obj, path, key, &v, w);
    if (rc)
        return rc;
    if (v == NULL)
        return ERR_OK;
    if (!cJSON_IsBool(v)) {
        locate(loc, sizeof loc, path, key);
        return fail(w, ERR_INVALID, "%s: must be true or false, got %s", loc, type_name(v));
    }
    *out = cJSON_IsTrue(v);
    return ERR_OK;
}

static const char *required(const char *loc, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s: required (%s)", loc, what);
    return buf;
}

static int name_ref_cmp(const void *a, const void *b)
{
    const struct name_ref *x = a;
    const struct name_ref *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort refs; the earliest entry whose name appeared before it, or NULL. */
static const struct name_ref *sort_find_duplicate(struct name_ref *refs, size_t n)
{
    const struct name_ref *dup = NULL;
    size_t i;

    if (n < 2)
        return NULL;
    qsort(refs, n, sizeof *refs, name_ref_cmp);
    for (i = 1; i < n; i++) {
        if (strcmp(refs[i - 1].name, refs[i].name) == 0 &&
            (dup == NULL || refs[i].index < dup->index))
            dup = &refs[i];
    }
    return dup;
}

static enum err_code parse_config(const cJSON *root, struct sat_config *cfg, struct why *w)
{
    const struct {
        const char *key;
        double *dst;
    } keys[] = {
        {"kvCacheThreshold", &cfg->kv_cache_threshold},
        {"queueLengthThreshold", &cfg->queue_length_threshold},
        {"kvSpareTrigger", &cfg->kv_spare_trigger},
        {"queueSpareTrigger", &cfg->queue_spare_trigger},
    };
    const cJSON *c;
    char msg[256];
    size_t i;
    enum err_code rc;

    sat_config_default(cfg);
    rc = member(root, "", "config", &c, w);
    if (rc)
        return rc;
    if (c != NULL && !cJSON_IsObject(c))
        return fail(w, ERR_INVALID, "config: must be an object, got %s", type_name(c));
    for (i = 0; c != NULL && i < sizeof keys / sizeof keys[0]; i++) {
        bool present; /* 0 is a value: only absence keeps the default */
        rc = get_number(c, "config", keys[i].key, NUM_FINITE, &present, keys[i].dst, w);
        if (rc)
            return rc;
    }
    msg[0] = '\0';
    if (sat_config_validate(cfg, NULL, msg, sizeof msg) != ERR_OK)
        return fail(w, ERR_INVALID, "config.%s", msg[0] != '\0' ? msg : "thresholds are invalid");
    return ERR_OK;
}

/* The value of one direction alone, valid or not (0 is valid for both). */
static bool tolerance_ok(double up, double down, char *msg, size_t len)
{
    struct sat_tolerance t = {up, down};

    return sat_tolerance_validate(&t, NULL, msg, len) == ERR_OK;
}

static enum err_code parse_tolerance(const cJSON *root, struct sat_tolerance *tol, struct why *w)
{
    bool both_set, up_set, down_set;
    double both = 0.0;
    char msg[256];
    enum err_code rc;

    sat_tolerance_default(tol);
    rc = get_number(root, "", "hpaTolerance", NUM_FINITE, &both_set, &both, w);
    if (rc)
        return rc;
    if (both_set) {
        tol->up = both;
        tol->down = both;
    }
    rc = get_number(root, "", "hpaScaleUpTolerance", NUM_FINITE, &up_set, &tol->up, w);
    if (rc)
        return rc;
    rc = get_number(root, "", "hpaScaleDownTolerance", NUM_FINITE, &down_set, &tol->down, w);
    if (rc)
        return rc;
    /* Check one direction at a time so that a value the user wrote under
     * hpaTolerance is reported under that key, not only the one it set. */
    msg[0] = '\0';
    if (!tolerance_ok(tol->up, 0.0, msg, sizeof msg))
        return fail(w, ERR_INVALID, "%s%s",
                    up_set ? "" : "hpaTolerance sets both directions: ", msg);
    if (!tolerance_ok(0.0, tol->down, msg, sizeof msg))
        return fail(w, ERR_INVALID, "%s%s",
                    down_set ? "" : "hpaTolerance sets both directions: ", msg);
    if (!tolerance_ok(tol->up, tol->down, msg, sizeof msg))
        return fail(w, ERR_INVALID, "%s", msg[0] != '\0' ? msg : "HPA tolerances are invalid");
    return ERR_OK;
}

static enum err_code parse_variants(const cJSON *arr, struct input *in, struct why *w)
{
    const struct name_ref *dup;
    const cJSON *el;
    char path[PATH_LEN];
    char loc[LOC_LEN];
    char q[QUOTED_LEN];
    char buf[LOC_LEN + 64];
    size_t n, i;
    enum err_code rc;

    if (!cJSON_IsArray(arr))
        return fail(w, ERR_INVALID, "variants: must be an array, got %s", type_name(arr));
    in->have_variants = true;
    n = array_len(arr);
    if (n == 0)
        return ERR_OK;
    in->states = calloc(n, sizeof *in->states);
    in->variant_names = calloc(n, sizeof *in->variant_names);
    if (in->states == NULL || in->variant_names == NULL)
        return nomem(w);
    for (i = 0, el = arr->child; el != NULL; i++, el = el->next) {
        struct sat_variant_state *s = &in->states[i];
        bool present, min_set, max_set;
        double cost = DEFAULT_COST;

        snprintf(path, sizeof path, "variants[%zu]", i);
        if (!cJSON_IsObject(el))
            return fail(w, ERR_INVALID, "%s: must be an object, got %s", path, type_name(el));
        rc = get_string(el, path, "name", &s->name, w);
        if (rc)
            return rc;
        if (s->name == NULL) {
            locate(loc, sizeof loc, path, "name");
            return fail(w, ERR_INVALID, "%s", required(loc, "a non-empty string", buf, sizeof buf));
        }
        rc = get_number(el, path, "cost", NUM_NONNEG, &present, &cost, w);
        if (rc)
            return rc;
        s->cost = cost;
        rc = get_count(el, path, "currentReplicas", &present, &s->current, w);
        if (rc)
            return rc;
        if (!present) {
            locate(loc, sizeof loc, path, "currentReplicas");
            return fail(w, ERR_INVALID, "%s", required(loc, "a whole number", buf, sizeof buf));
        }
        s->desired = 0;
        s->pending = 0;
        s->min = SAT_UNSET;
        s->max = SAT_UNSET;
        rc = get_count(el, path, "desiredReplicas", &present, &s->desired, w);
        if (rc)
            return rc;
        rc = get_count(el, path, "pendingReplicas", &present, &s->pending, w);
        if (rc)
            return rc;
        rc = get_count(el, path, "minReplicas", &min_set, &s->min, w);
        if (rc)
            return rc;
        rc = get_count(el, path, "maxReplicas", &max_set, &s->max, w);
        if (rc)
            return rc;
        if (min_set && max_set && s->min > s->max)
            return fail(w, ERR_INVALID,
                        "%s: minReplicas (%" PRId64 ") must be <= maxReplicas (%" PRId64 ")", path,
                        s->min, s->max);
        in->variant_names[i].name = s->name;
        in->variant_names[i].index = i;
    }
    in->n_states = n;
    dup = sort_find_duplicate(in->variant_names, n);
    if (dup != NULL) {
        quote(q, sizeof q, dup->name);
        return fail(w, ERR_INVALID, "variants[%zu].name: duplicate variant %s", dup->index, q);
    }
    return ERR_OK;
}

static bool variant_listed(const struct input *in, const char *name)
{
    size_t lo = 0, hi = in->n_states;

    /* Sorted by (name, index); any index matches, so compare names only. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(in->variant_names[mid].name, name);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static enum err_code parse_replicas(const cJSON *arr, struct input *in, struct why *w)
{
    struct name_ref *pods = NULL;
    const struct name_ref *dup;
    const cJSON *el;
    char path[PATH_LEN];
    char loc[LOC_LEN];
    char q[QUOTED_LEN];
    char buf[LOC_LEN + 64];
    size_t n, i;
    enum err_code rc = ERR_OK;

    if (!cJSON_IsArray(arr))
        return fail(w, ERR_INVALID, "replicas: must be an array, got %s", type_name(arr));
    in->have_replicas = true;
    n = array_len(arr);
    if (n == 0)
        return ERR_OK;
    in->replicas = calloc(n, sizeof *in->replicas);
    pods = calloc(n, sizeof *pods);
    if (in->replicas == NULL || pods == NULL) {
        free(pods);
        return nomem(w);
    }
    for (i = 0, el = arr->child; el != NULL; i++, el = el->next) {
        struct sat_replica *r = &in->replicas[in->n_replicas];
        bool has_kv, has_queue;
        double kv = 0.0, queue = 0.0;
        const char *variant;

        snprintf(path, sizeof path, "replicas[%zu]", i);
        if (!cJSON_IsObject(el)) {
            rc = fail(w, ERR_INVALID, "%s: must be an object, got %s", path, type_name(el));
            goto out;
        }
        rc = get_string(el, path, "pod", &r->pod, w);
        if (rc)
            goto out;
        if (r->pod == NULL) {
            locate(loc, sizeof loc, path, "pod");
            rc = fail(w, ERR_INVALID, "%s", required(loc, "a non-empty string", buf, sizeof buf));
            goto out;
        }
        rc = get_string(el, path, "variant", &variant, w);
        if (rc)
            goto out;
        r->variant = variant != NULL ? variant : DEFAULT_VARIANT;
        if (in->have_variants && !variant_listed(in, r->variant)) {
            quote(q, sizeof q, r->variant);
            rc = fail(w, ERR_INVALID, "%s.variant: %s%s is not listed in variants", path, q,
                      variant != NULL ? "" : " (the default)");
            goto out;
        }
        rc = get_number(el, path, "kv", NUM_NONNEG, &has_kv, &kv, w);
        if (rc)
            goto out;
        rc = get_number(el, path, "queue", NUM_NONNEG, &has_queue, &queue, w);
        if (rc)
            goto out;
        if (queue >= QUEUE_LIMIT) {
            char num[NUM_LEN];
            util_fmt_double(num, sizeof num, queue);
            rc = fail(w, ERR_INVALID, "%s.queue: must be below 2^63, got %s", path, num);
            goto out;
        }
        pods[i].name = r->pod;
        pods[i].index = i;
        if (!has_kv && !has_queue)
            continue; /* DESIGN section 4 step 1: a pod with neither is skipped */
        r->kv = kv;
        r->queue = (int64_t)queue; /* truncated toward zero; queue >= 0 */
        in->n_replicas++;
    }
    dup = sort_find_duplicate(pods, n);
    if (dup != NULL) {
        quote(q, sizeof q, dup->name);
        rc = fail(w, ERR_INVALID, "replicas[%zu].pod: duplicate pod %s", dup->index, q);
    }
out:
    free(pods);
    return rc;
}

static enum err_code parse_analysis(const cJSON *obj, struct input *in, struct why *w)
{
    struct sat_analysis *a = &in->given;
    bool total_set, present;
    int64_t total = 0, non_sat = 0;
    enum err_code rc;

    if (!cJSON_IsObject(obj))
        return fail(w, ERR_INVALID, "analysis: must be an object, got %s", type_name(obj));
    in->have_analysis = true;
    memset(a, 0, sizeof *a);
    rc = get_bool(obj, "analysis", "shouldScaleUp", &a->should_scale_up, w);
    if (rc)
        return rc;
    rc = get_bool(obj, "analysis", "scaleDownSafe", &a->scale_down_safe, w);
    if (rc)
        return rc;
    rc = get_count(obj, "analysis", "totalReplicas", &total_set, &total, w);
    if (rc)
        return rc;
    rc = get_count(obj, "analysis", "nonSaturatedCount", &present, &non_sat, w);
    if (rc)
        return rc;
    if (total_set && non_sat > total)
        return fail(w, ERR_INVALID,
                    "analysis.nonSaturatedCount (%" PRId64 ") must be <= totalReplicas (%" PRId64
                    ")",
                    non_sat, total);
    a->total_replicas = (size_t)total;
    a->non_saturated_count = (size_t)non_sat;
    rc = get_number(obj, "analysis", "avgSpareKv", NUM_NONNEG, &present, &a->avg_spare_kv, w);
    if (rc)
        return rc;
    return get_number(obj, "analysis", "avgSpareQueue", NUM_NONNEG, &present, &a->avg_spare_queue,
                      w);
}

static enum err_code parse_input(const cJSON *root, struct input *in, struct why *w)
{
    const cJSON *replicas, *analysis, *variants;
    enum err_code rc;

    if (!cJSON_IsObject(root))
        return fail(w, ERR_INVALID, "document: must be a JSON object, got %s", type_name(root));
    rc = parse_config(root, &in->cfg, w);
    if (rc)
        return rc;
    rc = parse_tolerance(root, &in->tol, w);
    if (rc)
        return rc;
    rc = member(root, "", "replicas", &replicas, w);
    if (rc)
        return rc;
    rc = member(root, "", "analysis", &analysis, w);
    if (rc)
        return rc;
    rc = member(root, "", "variants", &variants, w);
    if (rc)
        return rc;
    if (replicas != NULL && analysis != NULL)
        return fail(w, ERR_INVALID, "replicas and analysis: give one or the other, not both");
    if (replicas == NULL && analysis == NULL)
        return fail(w, ERR_INVALID, "replicas: required (or analysis instead)");
    if (variants != NULL) {
        rc = parse_variants(variants, in, w);
        if (rc)
            return rc;
    }
    if (replicas != NULL)
        return parse_replicas(replicas, in, w);
    return parse_analysis(analysis, in, w);
}

static void input_clear(struct input *in)
{
    free(in->replicas);
    free(in->states);
    free(in->variant_names);
    memset(in, 0, sizeof *in);
}

/* ---- output ------------------------------------------------------------ */

static enum err_code add_raw(cJSON *obj, const char *key, const char *text, struct why *w)
{
    return cJSON_AddRawToObject(obj, key, text) != NULL ? ERR_OK : nomem(w);
}

static enum err_code add_size(cJSON *obj, const char *key, size_t v, struct why *w)
{
    char num[NUM_LEN];

    snprintf(num, sizeof num, "%zu", v);
    return add_raw(obj, key, num, w);
}

static enum err_code add_int64(cJSON *obj, const char *key, int64_t v, struct why *w)
{
    char num[NUM_LEN];

    snprintf(num, sizeof num, "%" PRId64, v);
    return add_raw(obj, key, num, w);
}

/* A double to 17 digits. Inputs are finite, but the average of kv values
 * near DBL_MAX overflows, and JSON has no inf: refuse that input. */
static enum err_code add_double(cJSON *obj, const char *key, double v, const char *variant,
                                struct why *w)
{
    char num[NUM_LEN];
    char q[QUOTED_LEN];

    if (!isfinite(v)) {
        quote(q, sizeof q, variant != NULL ? variant : "");
        return fail(w, ERR_INVALID, "replicas: kv values too large: %s%s%s overflows", key,
                    variant != NULL ? " of variant " : "", variant != NULL ? q : "");
    }
    util_fmt_double17(num, sizeof num, v);
    return add_raw(obj, key, num, w);
}

static enum err_code add_bool(cJSON *obj, const char *key, bool v, struct why *w)
{
    return cJSON_AddBoolToObject(obj, key, v) != NULL ? ERR_OK : nomem(w);
}

static enum err_code render_variant(cJSON *arr, const struct sat_variant_analysis *v, struct why *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *sat;
    size_t i;
    enum err_code rc;

    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return nomem(w);
    }
    if (cJSON_AddStringToObject(o, "name", v->name) == NULL)
        return nomem(w);
    rc = add_size(o, "replicaCount", v->replica_count, w);
    if (rc)
        return rc;
    rc = add_size(o, "nonSaturatedCount", v->non_saturated_count, w);
    if (rc)
        return rc;
    sat = cJSON_AddArrayToObject(o, "saturatedReplicas");
    if (sat == NULL)
        return nomem(w);
    for (i = 0; i < v->saturated_count; i++) {
        cJSON *s = cJSON_CreateString(v->saturated_replicas[i]);
        if (s == NULL || !cJSON_AddItemToArray(sat, s)) {
            cJSON_Delete(s);
            return nomem(w);
        }
    }
    rc = add_double(o, "avgSpareKv", v->avg_spare_kv, v->name, w);
    if (rc)
        return rc;
    rc = add_double(o, "avgSpareQueue", v->avg_spare_queue, v->name, w);
    if (rc)
        return rc;
    rc = add_double(o, "avgKvCacheUsage", v->avg_kv, v->name, w);
    if (rc)
        return rc;
    rc = add_double(o, "maxKvCacheUsage", v->max_kv, v->name, w);
    if (rc)
        return rc;
    return add_int64(o, "maxQueueLength", v->max_queue, w);
}

/* The analysis part of the output (everything but "targets"). */
static enum err_code render_analysis(cJSON *root, const struct sat_analysis *a, struct why *w)
{
    cJSON *variants;
    size_t i;
    enum err_code rc;

    rc = add_size(root, "totalReplicas", a->total_replicas, w);
    if (rc)
        return rc;
    rc = add_size(root, "nonSaturatedCount", a->non_saturated_count, w);
    if (rc)
        return rc;
    rc = add_double(root, "avgSpareKv", a->avg_spare_kv, NULL, w);
    if (rc)
        return rc;
    rc = add_double(root, "avgSpareQueue", a->avg_spare_queue, NULL, w);
    if (rc)
        return rc;
    rc = add_bool(root, "shouldScaleUp", a->should_scale_up, w);
    if (rc)
        return rc;
    if (cJSON_AddStringToObject(root, "scaleUpReason", a->scale_up_reason) == NULL)
        return nomem(w);
    rc = add_bool(root, "scaleDownSafe", a->scale_down_safe, w);
    if (rc)
        return rc;
    variants = cJSON_AddArrayToObject(root, "variants");
    if (variants == NULL)
        return nomem(w);
    for (i = 0; i < a->variant_count; i++) {
        rc = render_variant(variants, &a->variants[i], w);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* Build the output tree into root (owned by the caller). */
static enum err_code render(cJSON *root, const struct input *in, const struct sat_analysis *a,
                            const struct sat_decision *dec, struct why *w)
{
    cJSON *targets;
    size_t i;
    enum err_code rc;

    rc = render_analysis(root, a, w);
    if (rc)
        return rc;
    if (!in->have_variants)
        return ERR_OK;
    targets = cJSON_AddObjectToObject(root, "targets");
    if (targets == NULL)
        return nomem(w);
    for (i = 0; i < in->n_states; i++) {
        rc = add_int64(targets, in->states[i].name, dec[i].target, w);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* Run the engine on a validated input and print the result. *out is
 * malloc'd (not cJSON's allocator) so the caller can always free() it. */
static enum err_code run(const struct input *in, char **out, struct why *w)
{
    struct sat_analysis computed;
    const struct sat_analysis *a = &in->given;
    struct sat_decision *dec = NULL;
    cJSON *root = NULL;
    char *text = NULL;
    size_t len;
    enum err_code rc;

    memset(&computed, 0, sizeof computed);
    if (in->have_replicas) {
        rc = sat_analyze(&in->cfg, in->replicas, in->n_replicas, &computed);
        if (rc == ERR_NOMEM)
            return nomem(w);
        if (rc)
            return fail(w, ERR_INTERNAL, "replicas: the analyzer refused the input (%s)",
                        err_str(rc));
        a = &computed;
    }
    if (in->have_variants && in->n_states > 0) {
        dec = calloc(in->n_states, sizeof *dec);
        if (dec == NULL) {
            rc = nomem(w);
            goto out;
        }
        rc = sat_targets(a, &in->cfg, in->states, in->n_states, &in->tol, dec);
        if (rc) {
            rc = rc == ERR_NOMEM
                     ? nomem(w)
                     : fail(w, ERR_INTERNAL,
                            "variants: the target calculation refused the input (%s)", err_str(rc));
            goto out;
        }
    }
    root = cJSON_CreateObject();
    if (root == NULL) {
        rc = nomem(w);
        goto out;
    }
    rc = render(root, in, a, dec, w);
    if (rc)
        goto out;
    text = cJSON_PrintUnformatted(root);
    if (text == NULL) {
        rc = nomem(w);
        goto out;
    }
    len = strlen(text);
    *out = malloc(len + 1);
    if (*out == NULL) {
        rc = nomem(w);
        goto out;
    }
    memcpy(*out, text, len + 1);
out:
    cJSON_free(text);
    cJSON_Delete(root);
    free(dec);
    sat_analysis_clear(&computed);
    return rc;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

enum err_code analyze_run(const char *json, size_t len, char **out_json, char *why, size_t why_len)
{
    struct why w = {why, why_len};
    struct input in;
    const char *end = NULL;
    cJSON *root;
    size_t i;
    enum err_code rc;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (out_json == NULL)
        return fail(&w, ERR_INTERNAL, "analyze_run: out_json is NULL");
    *out_json = NULL;
    for (i = 0; i < len && json_space(json[i]); i++)
        ;
    if (i == len)
        return fail(&w, ERR_INVALID, "invalid JSON: empty document");
    root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (root == NULL) {
        size_t at = end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        return fail(&w, ERR_INVALID, "invalid JSON near byte %zu", at);
    }
    for (i = (size_t)(end - json); i < len; i++) {
        if (!json_space(json[i])) {
            cJSON_Delete(root);
            return fail(&w, ERR_INVALID, "invalid JSON near byte %zu: data after the document", i);
        }
    }
    memset(&in, 0, sizeof in);
    rc = parse_input(root, &in, &w);
    if (rc == ERR_OK)
        rc = run(&in, out_json, &w);
    input_clear(&in);
    cJSON_Delete(root);
    return rc;
}

enum err_code analyze_render_analysis(void *root, const struct sat_analysis *a, char *why,
                                      size_t why_len)
{
    struct why w;
    w.buf = why;
    w.len = why_len;
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    return render_analysis(root, a, &w);
}
