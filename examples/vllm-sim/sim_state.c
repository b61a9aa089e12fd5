/*
 * sim_state: the pods and flow-control queues of vllm-sim, the control
 * operations that change them, and the JSON and exposition views.
 *
 * A pod is kept in insertion order in one array (GET /state and /metrics
 * list pods in the order they were added); lookups are linear except the
 * duplicate check of POST /pods, which sorts, so adding thousands of pods
 * in one request stays cheap. The success counter is not ticked by a
 * timer: a pod remembers its total up to counted_ns and its rate, and the
 * value at any instant is total + rate * (time ready since counted_ns).
 * Changing the rate first folds the time elapsed into the total, so the
 * counter never jumps or goes backwards.
 *
 * Every operation parses and checks the whole request, builds its answer,
 * and only then commits, so a failure leaves the state untouched.
 */
#include "sim_state.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers (queue, running) travel as JSON numbers, i.e. doubles: 2^53 is
 * the largest bound below which every integer is exact. */
#define MAX_INTEGER 9007199254740992.0
/* Bounds that keep the success counter finite for any run time. */
#define MAX_RATE 1e9
#define MAX_TOTAL 1e15
#define NS_PER_MS 1000000
#define NS_PER_S 1e9
#define WHERE_LEN 48

enum engine { ENGINE_VLLM, ENGINE_SGLANG };

static const char *const engine_names[] = {"vllm", "sglang"};

struct pod {
    char *ns;
    char *model;
    char *name;
    char *variant; /* NULL: no llm_d_ai_variant label */
    enum engine engine;
    double kv;          /* [0, 1] */
    int64_t queue;      /* [0, 2^53] */
    int64_t running;    /* [0, 2^53] */
    double rate;        /* success/s, finite, >= 0 */
    double total;       /* success counter up to counted_ns */
    int64_t counted_ns; /* the instant total is valid for */
    int64_t created_ns;
    int64_t delay_ns; /* no series before created_ns + delay_ns */
};

struct flow {
    char *ns;
    char *model;
    int64_t queue; /* > 0: an entry with 0 is removed */
};

struct sim_state {
    struct pod *pods;
    size_t npods;
    size_t cap_pods;
    struct flow *flows;
    size_t nflows;
    size_t cap_flows;
    int64_t default_delay_ns;
};

const char *sim_rc_str(enum sim_rc rc)
{
    switch (rc) {
    case SIM_OK:
        return "ok";
    case SIM_EINVAL:
        return "invalid input";
    case SIM_ENOENT:
        return "not found";
    case SIM_EEXIST:
        return "already exists";
    case SIM_ENOMEM:
        return "out of memory";
    }
    return "unknown error";
}

/* ---- errors ------------------------------------------------------------ */

static enum sim_rc fail(char *err, size_t len, enum sim_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum sim_rc fail(char *err, size_t len, enum sim_rc rc, const char *fmt, ...)
{
    if (len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* "where.key: message" (or "key: message" when where is NULL): every
 * complaint about a field names it the way the client spelled it. */
static enum sim_rc fail_key(char *err, size_t len, const char *where, const char *key,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum sim_rc fail_key(char *err, size_t len, const char *where, const char *key,
                            const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where)
        return fail(err, len, SIM_EINVAL, "%s.%s: %s", where, key, msg);
    return fail(err, len, SIM_EINVAL, "%s: %s", key, msg);
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "an invalid value";
}

/* ---- field access ------------------------------------------------------ */

/* Refuse keys outside allowed (a typo such as "Kv" must not be ignored)
 * and keys given twice (cJSON would silently keep the first). */
static enum sim_rc check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                              char *err, size_t len)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        bool known = false;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, k) == 0) {
                known = true;
                break;
            }
        }
        if (!known)
            return fail_key(err, len, where, k, "unknown key");
        for (const cJSON *j = obj->child; j != it; j = j->next) {
            if (j->string && strcmp(j->string, k) == 0)
                return fail_key(err, len, where, k, "given twice");
        }
    }
    return SIM_OK;
}

/* A string field. Absent or null: *out = NULL, an error when required. An
 * empty string counts as absent for optional fields (variant ""). */
static enum sim_rc get_string(const cJSON *obj, const char *key, bool required, const char *where,
                              const char **out, char *err, size_t len)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return fail_key(err, len, where, key, "required (a non-empty string)");
        return SIM_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail_key(err, len, where, key, "must be a string, got %s", json_kind(v));
    if (v->valuestring[0] == '\0') {
        if (required)
            return fail_key(err, len, where, key, "must not be empty");
        return SIM_OK;
    }
    if (!sim_utf8_valid(v->valuestring))
        return fail_key(err, len, where, key, "must be valid UTF-8");
    *out = v->valuestring;
    return SIM_OK;
}

/* A finite number in [min, max]; what says so in the message. */
static enum sim_rc get_number(const cJSON *obj, const char *key, double min, double max,
                              const char *what, const char *where, bool *present, double *out,
                              char *err, size_t len)
{
    *present = false;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return SIM_OK;
    if (!cJSON_IsNumber(v))
        return fail_key(err, len, where, key, "must be %s, got %s", what, json_kind(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d < min || d > max)
        return fail_key(err, len, where, key, "must be %s, got %g", what, d);
    *present = true;
    *out = d;
    return SIM_OK;
}

/* A whole number in [0, 2^53]. */
static enum sim_rc get_count(const cJSON *obj, const char *key, const char *where, bool *present,
                             int64_t *out, char *err, size_t len)
{
    double d = 0.0;
    enum sim_rc rc =
        get_number(obj, key, 0.0, MAX_INTEGER, "an integer >= 0", where, present, &d, err, len);
    if (rc)
        return rc;
    if (*present && floor(d) != d) {
        *present = false;
        return fail_key(err, len, where, key, "must be an integer >= 0, got %g", d);
    }
    if (*present)
        *out = (int64_t)d;
    return SIM_OK;
}

static enum sim_rc get_bool(const cJSON *obj, const char *key, const char *where, bool *present,
                            bool *out, char *err, size_t len)
{
    *present = false;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return SIM_OK;
    if (!cJSON_IsBool(v))
        return fail_key(err, len, where, key, "must be true or false, got %s", json_kind(v));
    *present = true;
    *out = cJSON_IsTrue(v);
    return SIM_OK;
}

/* A duration string ("5s"); an empty one is an error, not "absent". */
static enum sim_rc get_duration(const cJSON *obj, const char *key, const char *where, bool *present,
                                int64_t *out_ns, char *err, size_t len)
{
    *present = false;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return SIM_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail_key(err, len, where, key, "must be a duration string such as \"5s\", got %s",
                        json_kind(v));
    char why[160];
    if (!sim_parse_duration(v->valuestring, out_ns, why, sizeof why))
        return fail_key(err, len, where, key, "%s", why);
    *present = true;
    return SIM_OK;
}

/* Add a number printed round-trip exact (null if not finite). */
static cJSON *add_number(cJSON *o, const char *key, double v)
{
    if (!isfinite(v))
        return cJSON_AddNullToObject(o, key);
    char buf[40];
    sim_format_double(buf, sizeof buf, v);
    return cJSON_AddRawToObject(o, key, buf);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* ---- pods -------------------------------------------------------------- */

static void pod_clear(struct pod *p)
{
    free(p->ns);
    free(p->model);
    free(p->name);
    free(p->variant);
    memset(p, 0, sizeof *p);
}

static bool pod_ready(const struct pod *p, int64_t now)
{
    return now - p->created_ns >= p->delay_ns;
}

/* The success counter at now: it grows only while the pod is ready. */
static double pod_success(const struct pod *p, int64_t now)
{
    int64_t from = p->created_ns + p->delay_ns;
    if (p->counted_ns > from)
        from = p->counted_ns;
    if (now <= from)
        return p->total;
    return p->total + p->rate * ((double)(now - from) / NS_PER_S);
}

/* Make total valid at now, before the rate changes. */
static void pod_fold(struct pod *p, int64_t now)
{
    p->total = pod_success(p, now);
    if (now > p->counted_ns)
        p->counted_ns = now;
}

static const char *const pod_keys[] = {
    "namespace", "model",       "pod",          "variant",      "engine",         "kv",    "queue",
    "running",   "successRate", "successTotal", "startupDelay", "startupDelayMs", "ready", NULL,
};

/* Parse one pod object into *out (strings owned by *out; cleared on
 * failure). default_delay_ns applies when the object gives no delay. */
static enum sim_rc parse_pod(const cJSON *obj, int64_t default_delay_ns, int64_t now,
                             const char *where, struct pod *out, char *err, size_t len)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(obj)) {
        if (where)
            return fail(err, len, SIM_EINVAL, "%s: must be a JSON object (a pod), got %s", where,
                        json_kind(obj));
        return fail(err, len, SIM_EINVAL, "body must be a JSON object, got %s", json_kind(obj));
    }
    enum sim_rc rc = check_keys(obj, pod_keys, where, err, len);
    if (rc)
        return rc;

    const char *ns, *model, *name, *variant, *engine;
    if ((rc = get_string(obj, "namespace", true, where, &ns, err, len)) ||
        (rc = get_string(obj, "model", true, where, &model, err, len)) ||
        (rc = get_string(obj, "pod", true, where, &name, err, len)) ||
        (rc = get_string(obj, "variant", false, where, &variant, err, len)))
        return rc;
    if ((rc = get_string(obj, "engine", false, where, &engine, err, len)))
        return rc;
    out->engine = ENGINE_VLLM;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(obj, "engine");
    if (cJSON_IsString(ev) && strcmp(ev->valuestring, "sglang") == 0)
        out->engine = ENGINE_SGLANG;
    else if (cJSON_IsString(ev) && strcmp(ev->valuestring, "vllm") != 0)
        return fail_key(err, len, where, "engine", "must be \"vllm\" or \"sglang\", got \"%s\"",
                        ev->valuestring);

    bool has;
    out->kv = 0.0;
    out->queue = 0;
    out->running = 0;
    out->rate = 0.0;
    out->total = 0.0;
    if ((rc = get_number(obj, "kv", 0.0, 1.0, "a number in [0, 1]", where, &has, &out->kv, err,
                         len)) ||
        (rc = get_count(obj, "queue", where, &has, &out->queue, err, len)) ||
        (rc = get_count(obj, "running", where, &has, &out->running, err, len)) ||
        (rc = get_number(obj, "successRate", 0.0, MAX_RATE, "a number in [0, 1e9]", where, &has,
                         &out->rate, err, len)) ||
        (rc = get_number(obj, "successTotal", 0.0, MAX_TOTAL, "a number in [0, 1e15]", where, &has,
                         &out->total, err, len)))
        return rc;

    bool has_delay, has_delay_ms, ready = false, has_ready;
    int64_t delay_ns = 0;
    double delay_ms = 0.0;
    if ((rc = get_duration(obj, "startupDelay", where, &has_delay, &delay_ns, err, len)) ||
        (rc = get_number(obj, "startupDelayMs", 0.0, (double)(SIM_MAX_DELAY_NS / NS_PER_MS),
                         "a number of milliseconds in [0, 86400000]", where, &has_delay_ms,
                         &delay_ms, err, len)) ||
        (rc = get_bool(obj, "ready", where, &has_ready, &ready, err, len)))
        return rc;
    if (has_delay && has_delay_ms)
        return fail_key(err, len, where, "startupDelay",
                        "give startupDelay or startupDelayMs, not both");
    out->delay_ns = default_delay_ns;
    if (has_delay)
        out->delay_ns = delay_ns;
    else if (has_delay_ms)
        out->delay_ns = (int64_t)(delay_ms * NS_PER_MS + 0.5);
    /* "ready": true (what a GET /state dump says of a loaded pod) starts
     * the pod as if its delay had already elapsed. */
    out->created_ns = ready ? now - out->delay_ns : now;
    out->counted_ns = now;

    bool oom = false;
    out->ns = dup_or_null(ns, &oom);
    out->model = dup_or_null(model, &oom);
    out->name = dup_or_null(name, &oom);
    out->variant = dup_or_null(variant, &oom);
    if (oom) {
        pod_clear(out);
        return fail(err, len, SIM_ENOMEM, "out of memory");
    }
    return SIM_OK;
}

static cJSON *pod_to_json(const struct pod *p, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "namespace", p->ns) &&
              cJSON_AddStringToObject(o, "model", p->model) &&
              cJSON_AddStringToObject(o, "pod", p->name) &&
              (p->variant ? cJSON_AddStringToObject(o, "variant", p->variant) != NULL
                          : cJSON_AddNullToObject(o, "variant") != NULL) &&
              cJSON_AddStringToObject(o, "engine", engine_names[p->engine]) &&
              add_number(o, "kv", p->kv) && add_number(o, "queue", (double)p->queue) &&
              add_number(o, "running", (double)p->running) &&
              add_number(o, "successRate", p->rate) &&
              add_number(o, "successTotal", pod_success(p, now)) &&
              add_number(o, "startupDelayMs", (double)p->delay_ns / NS_PER_MS) &&
              cJSON_AddBoolToObject(o, "ready", pod_ready(p, now));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* {"<key>": [pods...]} over n pods, reached through idx when non-NULL. */
static cJSON *pods_to_json(const struct pod *pods, const size_t *idx, size_t n, int64_t now)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = pod_to_json(&pods[idx ? idx[i] : i], now);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *wrap(const char *key, cJSON *value)
{
    if (!value)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, key, value)) {
        cJSON_Delete(o);
        cJSON_Delete(value);
        return NULL;
    }
    return o;
}

static int pod_key_cmp(const struct pod *a, const struct pod *b)
{
    int c = strcmp(a->ns, b->ns);
    return c ? c : strcmp(a->name, b->name);
}

static int pod_ptr_cmp(const void *a, const void *b)
{
    return pod_key_cmp(*(const struct pod *const *)a, *(const struct pod *const *)b);
}

static bool reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

/* Check n parsed pods against each other and the state, then take them
 * over (all or none). On failure the caller still owns cand. */
static enum sim_rc commit_pods(struct sim_state *s, struct pod *cand, size_t n, int64_t now,
                               cJSON **out, char *err, size_t len)
{
    if (n > SIM_MAX_PODS - s->npods)
        return fail(err, len, SIM_EINVAL, "too many pods: %zu held, %zu more given, limit %d",
                    s->npods, n, SIM_MAX_PODS);
    enum sim_rc rc = SIM_OK;
    struct pod **mine = calloc(n + 1, sizeof *mine);
    struct pod **held = calloc(s->npods + 1, sizeof *held);
    if (!mine || !held) {
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        mine[i] = &cand[i];
    for (size_t i = 0; i < s->npods; i++)
        held[i] = &s->pods[i];
    qsort(mine, n, sizeof *mine, pod_ptr_cmp);
    qsort(held, s->npods, sizeof *held, pod_ptr_cmp);
    for (size_t i = 0; i < n; i++) {
        if ((i > 0 && pod_key_cmp(mine[i - 1], mine[i]) == 0) ||
            bsearch(&mine[i], held, s->npods, sizeof *held, pod_ptr_cmp)) {
            rc = fail(err, len, SIM_EEXIST, "pod \"%s\" already exists in namespace \"%s\"",
                      mine[i]->name, mine[i]->ns);
            goto done;
        }
    }
    if (out) {
        *out = wrap("pods", pods_to_json(cand, NULL, n, now));
        if (!*out) {
            rc = fail(err, len, SIM_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (!reserve((void **)&s->pods, &s->cap_pods, s->npods + n, sizeof *s->pods)) {
        if (out) {
            cJSON_Delete(*out);
            *out = NULL;
        }
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(s->pods + s->npods, cand, n * sizeof *cand);
    s->npods += n;
done:
    free(mine);
    free(held);
    return rc;
}

static void free_pods(struct pod *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pod_clear(&p[i]);
    free(p);
}

/* Parse the array list (where "pods") with delay_ns as the default delay,
 * and add every pod it holds. */
static enum sim_rc add_list(struct sim_state *s, const cJSON *list, int64_t delay_ns, int64_t now,
                            cJSON **out, char *err, size_t len)
{
    if (!cJSON_IsArray(list))
        return fail(err, len, SIM_EINVAL, "pods: must be an array of pods, got %s",
                    json_kind(list));
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (n > SIM_MAX_PODS)
        return fail(err, len, SIM_EINVAL, "too many pods: %zu given, limit %d", n, SIM_MAX_PODS);
    struct pod *cand = calloc(n + 1, sizeof *cand);
    if (!cand)
        return fail(err, len, SIM_ENOMEM, "out of memory");
    size_t i = 0;
    enum sim_rc rc = SIM_OK;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        char where[WHERE_LEN];
        snprintf(where, sizeof where, "pods[%zu]", i);
        rc = parse_pod(it, delay_ns, now, where, &cand[i], err, len);
        if (rc)
            break;
    }
    if (!rc)
        rc = commit_pods(s, cand, i, now, out, err, len);
    if (rc) {
        free_pods(cand, i);
        return rc;
    }
    free(cand); /* the strings now belong to s->pods */
    return SIM_OK;
}

static const char *const batch_keys[] = {"pods", "startupDelay", NULL};

enum sim_rc sim_state_add_pods(struct sim_state *s, const cJSON *body, int64_t now, cJSON **out,
                               char *err, size_t len)
{
    *out = NULL;
    if (!cJSON_IsObject(body))
        return fail(err, len, SIM_EINVAL,
                    "body must be a JSON object: one pod, or {\"pods\": [...]}, got %s",
                    body ? json_kind(body) : "nothing");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "pods");
    if (list) {
        enum sim_rc rc = check_keys(body, batch_keys, NULL, err, len);
        if (rc)
            return rc;
        bool has_delay;
        int64_t delay_ns = 0;
        if ((rc = get_duration(body, "startupDelay", NULL, &has_delay, &delay_ns, err, len)))
            return rc;
        return add_list(s, list, has_delay ? delay_ns : s->default_delay_ns, now, out, err, len);
    }
    struct pod one;
    enum sim_rc rc = parse_pod(body, s->default_delay_ns, now, NULL, &one, err, len);
    if (rc)
        return rc;
    rc = commit_pods(s, &one, 1, now, out, err, len);
    if (rc)
        pod_clear(&one);
    return rc;
}

/* Drop the pods whose flag is set, keeping the order of the others. */
static void drop_pods(struct sim_state *s, const bool *drop)
{
    size_t w = 0;
    for (size_t r = 0; r < s->npods; r++) {
        if (drop[r])
            pod_clear(&s->pods[r]);
        else
            s->pods[w++] = s->pods[r];
    }
    s->npods = w;
}

/* The selector shared by /remove and /set: namespace with exactly one of
 * pod and model. */
static enum sim_rc get_selector(const cJSON *body, const char **ns, const char **pod,
                                const char **model, char *err, size_t len)
{
    enum sim_rc rc;
    if ((rc = get_string(body, "namespace", true, NULL, ns, err, len)) ||
        (rc = get_string(body, "pod", false, NULL, pod, err, len)) ||
        (rc = get_string(body, "model", false, NULL, model, err, len)))
        return rc;
    if (*pod && *model)
        return fail(err, len, SIM_EINVAL,
                    "give pod (one pod) or model (every pod of the model), not both");
    if (!*pod && !*model)
        return fail(err, len, SIM_EINVAL,
                    "give pod (one pod) or model (every pod of the model) with namespace");
    return SIM_OK;
}

/* Mark the pods a selector picks; their count, or an ENOENT message. */
static enum sim_rc select_pods(const struct sim_state *s, const char *ns, const char *pod,
                               const char *model, bool *pick, size_t *count, char *err, size_t len)
{
    *count = 0;
    for (size_t i = 0; i < s->npods; i++) {
        const struct pod *p = &s->pods[i];
        pick[i] = (!ns || strcmp(p->ns, ns) == 0) && (!pod || strcmp(p->name, pod) == 0) &&
                  (!model || strcmp(p->model, model) == 0);
        if (pick[i])
            (*count)++;
    }
    if (*count == 0 && pod)
        return fail(err, len, SIM_ENOENT, "no pod \"%s\" in namespace \"%s\"", pod, ns);
    return SIM_OK;
}

static const char *const remove_keys[] = {"namespace", "pod", "model", NULL};

enum sim_rc sim_state_remove(struct sim_state *s, const cJSON *body, int64_t now, cJSON **out,
                             char *err, size_t len)
{
    *out = NULL;
    if (!cJSON_IsObject(body))
        return fail(err, len, SIM_EINVAL,
                    "body must be a JSON object {\"namespace\", \"pod\" or \"model\"}, got %s",
                    body ? json_kind(body) : "nothing");
    const char *ns, *pod, *model;
    enum sim_rc rc = check_keys(body, remove_keys, NULL, err, len);
    if (rc || (rc = get_selector(body, &ns, &pod, &model, err, len)))
        return rc;
    bool *pick = calloc(s->npods + 1, sizeof *pick);
    size_t *idx = calloc(s->npods + 1, sizeof *idx);
    size_t count = 0;
    if (!pick || !idx) {
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = select_pods(s, ns, pod, model, pick, &count, err, len)))
        goto done;
    for (size_t i = 0, k = 0; i < s->npods; i++) {
        if (pick[i])
            idx[k++] = i;
    }
    cJSON *o = wrap("pods", pods_to_json(s->pods, idx, count, now));
    if (!o || !cJSON_AddNumberToObject(o, "removed", (double)count)) {
        cJSON_Delete(o);
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    drop_pods(s, pick);
    *out = o;
done:
    free(pick);
    free(idx);
    return rc;
}

static const char *const set_keys[] = {
    "namespace", "pod", "model", "all", "kv", "queue", "running", "successRate", NULL,
};

enum sim_rc sim_state_set(struct sim_state *s, const cJSON *body, int64_t now, cJSON **out,
                          char *err, size_t len)
{
    *out = NULL;
    if (!cJSON_IsObject(body))
        return fail(err, len, SIM_EINVAL,
                    "body must be a JSON object {\"namespace\", \"pod\" or \"model\", or "
                    "\"all\": true, and values}, got %s",
                    body ? json_kind(body) : "nothing");
    enum sim_rc rc = check_keys(body, set_keys, NULL, err, len);
    if (rc)
        return rc;
    const char *ns = NULL, *pod = NULL, *model = NULL;
    bool all = false, has_all;
    if ((rc = get_bool(body, "all", NULL, &has_all, &all, err, len)))
        return rc;
    if (has_all) {
        if (!all)
            return fail(err, len, SIM_EINVAL,
                        "all: must be true (or leave it out and give namespace with pod or "
                        "model)");
        if (cJSON_GetObjectItemCaseSensitive(body, "namespace") ||
            cJSON_GetObjectItemCaseSensitive(body, "pod") ||
            cJSON_GetObjectItemCaseSensitive(body, "model"))
            return fail(err, len, SIM_EINVAL,
                        "all: cannot be combined with namespace, pod or model");
    } else if ((rc = get_selector(body, &ns, &pod, &model, err, len))) {
        return rc;
    }

    bool has_kv, has_queue, has_running, has_rate;
    double kv = 0.0, rate = 0.0;
    int64_t queue = 0, running = 0;
    if ((rc = get_number(body, "kv", 0.0, 1.0, "a number in [0, 1]", NULL, &has_kv, &kv, err,
                         len)) ||
        (rc = get_count(body, "queue", NULL, &has_queue, &queue, err, len)) ||
        (rc = get_count(body, "running", NULL, &has_running, &running, err, len)) ||
        (rc = get_number(body, "successRate", 0.0, MAX_RATE, "a number in [0, 1e9]", NULL,
                         &has_rate, &rate, err, len)))
        return rc;
    if (!has_kv && !has_queue && !has_running && !has_rate)
        return fail(err, len, SIM_EINVAL,
                    "nothing to set: give at least one of kv, queue, running, successRate");

    bool *pick = calloc(s->npods + 1, sizeof *pick);
    size_t *idx = calloc(s->npods + 1, sizeof *idx);
    struct pod *next = calloc(s->npods + 1, sizeof *next);
    size_t count = 0;
    if (!pick || !idx || !next) {
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = select_pods(s, ns, pod, model, pick, &count, err, len)))
        goto done;
    if (count == 0 && model) {
        rc = fail(err, len, SIM_ENOENT, "no pod of model \"%s\" in namespace \"%s\"", model, ns);
        goto done;
    }
    /* Change shallow copies, answer from them, then write them back: the
     * answer shows the new values and a failure changes nothing. */
    for (size_t i = 0, k = 0; i < s->npods; i++) {
        if (!pick[i])
            continue;
        struct pod p = s->pods[i];
        if (has_rate) {
            pod_fold(&p, now);
            p.rate = rate;
        }
        if (has_kv)
            p.kv = kv;
        if (has_queue)
            p.queue = queue;
        if (has_running)
            p.running = running;
        idx[k] = i;
        next[k++] = p;
    }
    *out = wrap("pods", pods_to_json(next, NULL, count, now));
    if (!*out) {
        rc = fail(err, len, SIM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < count; k++)
        s->pods[idx[k]] = next[k];
done:
    free(pick);
    free(idx);
    free(next);
    return rc;
}

/* ---- flow control ------------------------------------------------------ */

static long find_flow(const struct sim_state *s, const char *ns, const char *model)
{
    for (size_t i = 0; i < s->nflows; i++) {
        if (strcmp(s->flows[i].ns, ns) == 0 && strcmp(s->flows[i].model, model) == 0)
            return (long)i;
    }
    return -1;
}

static cJSON *flow_to_json(const char *ns, const char *model, int64_t queue)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "namespace", ns) ||
        !cJSON_AddStringToObject(o, "model", model) || !add_number(o, "queue", (double)queue)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char *const flow_keys[] = {"namespace", "model", "queue", NULL};

static enum sim_rc parse_flow(const cJSON *obj, const char *where, const char **ns,
                              const char **model, int64_t *queue, char *err, size_t len)
{
    if (!cJSON_IsObject(obj)) {
        if (where)
            return fail(err, len, SIM_EINVAL, "%s: must be a JSON object, got %s", where,
                        json_kind(obj));
        return fail(err, len, SIM_EINVAL,
                    "body must be a JSON object {\"namespace\", \"model\", \"queue\"}, got %s",
                    obj ? json_kind(obj) : "nothing");
    }
    bool has_queue;
    enum sim_rc rc;
    if ((rc = check_keys(obj, flow_keys, where, err, len)) ||
        (rc = get_string(obj, "namespace", true, where, ns, err, len)) ||
        (rc = get_string(obj, "model", true, where, model, err, len)) ||
        (rc = get_count(obj, "queue", where, &has_queue, queue, err, len)))
        return rc;
    if (!has_queue)
        return fail_key(err, len, where, "queue", "required (an integer >= 0; 0 removes)");
    return SIM_OK;
}

/* Set one entry (queue 0 removes it); the caller has checked everything. */
static enum sim_rc put_flow(struct sim_state *s, const char *ns, const char *model, int64_t queue,
                            char *err, size_t len)
{
    long i = find_flow(s, ns, model);
    if (i >= 0 && queue > 0) {
        s->flows[i].queue = queue;
    } else if (i >= 0) {
        free(s->flows[i].ns);
        free(s->flows[i].model);
        memmove(&s->flows[i], &s->flows[i + 1], (s->nflows - (size_t)i - 1) * sizeof *s->flows);
        s->nflows--;
    } else if (queue > 0) {
        if (s->nflows >= SIM_MAX_FLOWS)
            return fail(err, len, SIM_EINVAL, "too many flow-control entries (limit %d)",
                        SIM_MAX_FLOWS);
        bool oom = false;
        struct flow f = {dup_or_null(ns, &oom), dup_or_null(model, &oom), queue};
        if (oom || !reserve((void **)&s->flows, &s->cap_flows, s->nflows + 1, sizeof *s->flows)) {
            free(f.ns);
            free(f.model);
            return fail(err, len, SIM_ENOMEM, "out of memory");
        }
        s->flows[s->nflows++] = f;
    }
    return SIM_OK;
}

enum sim_rc sim_state_flow(struct sim_state *s, const cJSON *body, cJSON **out, char *err,
                           size_t len)
{
    *out = NULL;
    const char *ns, *model;
    int64_t queue = 0;
    enum sim_rc rc = parse_flow(body, NULL, &ns, &model, &queue, err, len);
    if (rc)
        return rc;
    cJSON *o = wrap("flowControl", cJSON_CreateArray());
    cJSON *entry = flow_to_json(ns, model, queue);
    if (!o || !entry ||
        !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "flowControl"), entry)) {
        cJSON_Delete(o);
        cJSON_Delete(entry);
        return fail(err, len, SIM_ENOMEM, "out of memory");
    }
    if ((rc = put_flow(s, ns, model, queue, err, len))) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return SIM_OK;
}

/* ---- whole state ------------------------------------------------------- */

struct sim_state *sim_state_new(int64_t default_delay_ns)
{
    struct sim_state *s = calloc(1, sizeof *s);
    if (s)
        s->default_delay_ns = default_delay_ns;
    return s;
}

static void clear_all(struct sim_state *s)
{
    for (size_t i = 0; i < s->npods; i++)
        pod_clear(&s->pods[i]);
    for (size_t i = 0; i < s->nflows; i++) {
        free(s->flows[i].ns);
        free(s->flows[i].model);
    }
    s->npods = 0;
    s->nflows = 0;
}

void sim_state_free(struct sim_state *s)
{
    if (!s)
        return;
    clear_all(s);
    free(s->pods);
    free(s->flows);
    free(s);
}

size_t sim_state_pod_count(const struct sim_state *s)
{
    return s->npods;
}

size_t sim_state_flow_count(const struct sim_state *s)
{
    return s->nflows;
}

enum sim_rc sim_state_reset(struct sim_state *s, const cJSON *body, cJSON **out, char *err,
                            size_t len)
{
    *out = NULL;
    if (body && (!cJSON_IsObject(body) || body->child))
        return fail(err, len, SIM_EINVAL, "reset takes no parameters: send no body or {}");
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "removedPods", (double)s->npods) ||
        !cJSON_AddNumberToObject(o, "removedFlowControl", (double)s->nflows)) {
        cJSON_Delete(o);
        return fail(err, len, SIM_ENOMEM, "out of memory");
    }
    clear_all(s);
    *out = o;
    return SIM_OK;
}

static const char *const state_keys[] = {"pods", "flowControl", NULL};

enum sim_rc sim_state_load(struct sim_state *s, const cJSON *doc, int64_t now, char *err,
                           size_t len)
{
    if (!cJSON_IsObject(doc))
        return fail(err, len, SIM_EINVAL,
                    "state must be a JSON object {\"pods\": [...], \"flowControl\": [...]}, got %s",
                    doc ? json_kind(doc) : "nothing");
    enum sim_rc rc = check_keys(doc, state_keys, NULL, err, len);
    if (rc)
        return rc;
    /* Build a fresh state and swap it in, so a bad file changes nothing. */
    struct sim_state *t = sim_state_new(s->default_delay_ns);
    if (!t)
        return fail(err, len, SIM_ENOMEM, "out of memory");
    const cJSON *pods = cJSON_GetObjectItemCaseSensitive(doc, "pods");
    const cJSON *flows = cJSON_GetObjectItemCaseSensitive(doc, "flowControl");
    if (pods && !cJSON_IsNull(pods))
        rc = add_list(t, pods, t->default_delay_ns, now, NULL, err, len);
    if (!rc && flows && !cJSON_IsNull(flows) && !cJSON_IsArray(flows))
        rc = fail(err, len, SIM_EINVAL, "flowControl: must be an array, got %s", json_kind(flows));
    size_t i = 0;
    for (const cJSON *it = flows ? flows->child : NULL; !rc && it; it = it->next, i++) {
        char where[WHERE_LEN];
        snprintf(where, sizeof where, "flowControl[%zu]", i);
        const char *ns, *model;
        int64_t queue = 0;
        rc = parse_flow(it, where, &ns, &model, &queue, err, len);
        if (!rc && find_flow(t, ns, model) >= 0)
            rc = fail(err, len, SIM_EINVAL,
                      "%s: a second entry for model \"%s\" in namespace \"%s\"", where, model, ns);
        if (!rc)
            rc = put_flow(t, ns, model, queue, err, len);
    }
    if (rc) {
        sim_state_free(t);
        return rc;
    }
    struct sim_state old = *s;
    *s = *t;
    *t = old;
    sim_state_free(t);
    return SIM_OK;
}

cJSON *sim_state_to_json(const struct sim_state *s, int64_t now)
{
    cJSON *o = wrap("pods", pods_to_json(s->pods, NULL, s->npods, now));
    cJSON *flows = cJSON_CreateArray();
    if (!o || !flows || !cJSON_AddItemToObject(o, "flowControl", flows)) {
        cJSON_Delete(o);
        cJSON_Delete(flows);
        return NULL;
    }
    for (size_t i = 0; i < s->nflows; i++) {
        cJSON *f = flow_to_json(s->flows[i].ns, s->flows[i].model, s->flows[i].queue);
        if (!f || !cJSON_AddItemToArray(flows, f)) {
            cJSON_Delete(f);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* ---- exposition -------------------------------------------------------- */

enum field { FIELD_KV, FIELD_QUEUE, FIELD_RUNNING, FIELD_SUCCESS };

struct family {
    const char *name;
    const char *type;
    const char *help;
    enum engine engine;
    enum field field;
};

/* The families the scaler reads, with the names each engine gives them. */
static const struct family families[] = {
    {"vllm:kv_cache_usage_perc", "gauge", "Fraction of the KV cache in use (1 = full).",
     ENGINE_VLLM, FIELD_KV},
    {"vllm:num_requests_waiting", "gauge", "Requests queued, waiting for a batch slot.",
     ENGINE_VLLM, FIELD_QUEUE},
    {"vllm:num_requests_running", "gauge", "Requests in the running batch.", ENGINE_VLLM,
     FIELD_RUNNING},
    {"vllm:request_success_total", "counter", "Requests finished successfully.", ENGINE_VLLM,
     FIELD_SUCCESS},
    {"sglang:token_usage", "gauge", "Fraction of the token pool in use (1 = full).", ENGINE_SGLANG,
     FIELD_KV},
    {"sglang:num_queue_reqs", "gauge", "Requests queued, waiting for a batch slot.", ENGINE_SGLANG,
     FIELD_QUEUE},
    {"sglang:num_running_reqs", "gauge", "Requests in the running batch.", ENGINE_SGLANG,
     FIELD_RUNNING},
    {"sglang:num_requests_total", "counter", "Requests finished.", ENGINE_SGLANG, FIELD_SUCCESS},
};

#define FLOW_FAMILY "inference_extension_flow_control_queue_size"

static void label(struct sim_buf *b, const char *sep, const char *name, const char *value)
{
    sim_buf_adds(b, sep);
    sim_buf_adds(b, name);
    sim_buf_adds(b, "=\"");
    sim_buf_label_value(b, value);
    sim_buf_adds(b, "\"");
}

static double field_value(const struct pod *p, enum field f, int64_t now)
{
    switch (f) {
    case FIELD_KV:
        return p->kv;
    case FIELD_QUEUE:
        return (double)p->queue;
    case FIELD_RUNNING:
        return (double)p->running;
    case FIELD_SUCCESS:
        return pod_success(p, now);
    }
    return 0.0;
}

char *sim_state_render_metrics(const struct sim_state *s, int64_t now, size_t *len)
{
    struct sim_buf b;
    sim_buf_init(&b);
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        const struct family *fam = &families[f];
        bool header = false;
        for (size_t i = 0; i < s->npods; i++) {
            const struct pod *p = &s->pods[i];
            if (p->engine != fam->engine || !pod_ready(p, now))
                continue;
            if (!header) {
                sim_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                               fam->type);
                header = true;
            }
            sim_buf_adds(&b, fam->name);
            label(&b, "{", "namespace", p->ns);
            label(&b, ",", "model_name", p->model);
            label(&b, ",", "pod", p->name);
            if (p->variant)
                label(&b, ",", "llm_d_ai_variant", p->variant);
            sim_buf_adds(&b, "} ");
            sim_buf_number(&b, field_value(p, fam->field, now));
            sim_buf_adds(&b, "\n");
        }
    }
    if (s->nflows > 0)
        sim_buf_adds(&b, "# HELP " FLOW_FAMILY " Requests held in the EPP flow-control queue.\n"
                         "# TYPE " FLOW_FAMILY " gauge\n");
    for (size_t i = 0; i < s->nflows; i++) {
        sim_buf_adds(&b, FLOW_FAMILY);
        label(&b, "{", "namespace", s->flows[i].ns);
        label(&b, ",", "target_model_name", s->flows[i].model);
        sim_buf_adds(&b, "} ");
        sim_buf_number(&b, (double)s->flows[i].queue);
        sim_buf_adds(&b, "\n");
    }
    return sim_buf_take(&b, len);
}
