/*
 * kubeobj: Kubernetes API objects -> small structs. See include/kubeobj.h.
 *
 * Each entry point parses the input once with cJSON (length-bounded, no
 * NUL needed), then reads the few paths it needs through small typed
 * getters (get_object, get_string, get_count) that know the JSON path of
 * what they read, so every error names it. Lists reuse the single-object
 * readers with an "items[i]." prefix in the context. Strings are copied
 * into individual allocations as they are read; on any failure the output
 * is cleared through the public *_clear(), so a half-filled struct never
 * escapes. Arrays are followed through cJSON's child/next links
 * (cJSON_GetArrayItem(i) is O(i), which would make a big PodList
 * quadratic).
 *
 * Pure: no I/O, no logging, no globals of its own.
 */
#include "kubeobj.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"

/* Largest count the API accepts (the Kubernetes types are int32). */
#define COUNT_MAX 2147483647.0
/* Bytes of input quoted after "invalid JSON near byte N:". */
#define JSON_EXCERPT 40
/* Bytes of a Status message quoted by kubeobj_status_message(). */
#define STATUS_MESSAGE_MAX 1024
/* A Status body larger than this is not parsed, only quoted. */
#define STATUS_MAX_JSON ((size_t)1024 * 1024)

/* What the readers share: where the message goes and the path prefix. */
struct ctx {
    char *why;
    size_t why_len;
    const char *prefix; /* "" or "items[3]." */
};

/* ---- messages ----------------------------------------------------------- */

/* "<prefix><path>: <message>"; returns ERR_INVALID for `return fail(...)`. */
static enum err_code fail(const struct ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum err_code fail(const struct ctx *c, const char *path, const char *fmt, ...)
{
    char msg[KUBEOBJ_WHY_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    util_set_why(c->why, c->why_len, "%s%s: %s", c->prefix, path, msg);
    return ERR_INVALID;
}

static enum err_code no_memory(const struct ctx *c)
{
    util_set_why(c->why, c->why_len, "out of memory");
    return ERR_NOMEM;
}

/* What a JSON value is, for "(got ...)": -1, "abc", true, null, an array. */
static void describe(const cJSON *v, char *buf, size_t len)
{
    if (v == NULL)
        snprintf(buf, len, "nothing");
    else if (cJSON_IsNumber(v))
        util_fmt_double(buf, len, v->valuedouble);
    else if (cJSON_IsString(v))
        meta_quote(buf, len, v->valuestring);
    else if (cJSON_IsTrue(v))
        snprintf(buf, len, "true");
    else if (cJSON_IsFalse(v))
        snprintf(buf, len, "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, len, "null");
    else if (cJSON_IsArray(v))
        snprintf(buf, len, "an array");
    else if (cJSON_IsObject(v))
        snprintf(buf, len, "an object");
    else
        snprintf(buf, len, "an unknown value");
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* ---- the document ------------------------------------------------------- */

/* Parse json[0..len) into *root, which must be an object. */
static enum err_code parse_document(const char *json, size_t len, size_t max_len, cJSON **root,
                                    char *why, size_t why_len)
{
    const char *end = NULL;
    size_t i;
    cJSON *doc;

    *root = NULL;
    if (json == NULL && len > 0) {
        util_set_why(why, why_len, "no input");
        return ERR_INVALID;
    }
    if (json == NULL)
        json = "";
    if (max_len == 0)
        max_len = KUBEOBJ_DEFAULT_MAX_JSON;
    if (len > max_len) {
        char lim[32];
        util_fmt_size(lim, sizeof(lim), max_len);
        util_set_why(why, why_len, "JSON of %zu bytes exceeds the limit of %s", len, lim);
        return ERR_INVALID;
    }
    for (i = 0; i < len && is_ws((unsigned char)json[i]); i++)
        ;
    if (i == len) {
        util_set_why(why, why_len, "empty JSON document");
        return ERR_INVALID;
    }

    doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (doc == NULL) {
        size_t at = (end != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        char ex[META_QUOTE_LEN], raw[JSON_EXCERPT + 1];
        size_t n = len - at < JSON_EXCERPT ? len - at : JSON_EXCERPT;

        if (util_json_unfinished(json, len)) {
            util_set_why(why, why_len,
                         "truncated JSON: the input ends at byte %zu inside an unfinished value",
                         len);
        } else {
            memcpy(raw, json + at, n);
            raw[n] = '\0';
            meta_quote(ex, sizeof(ex), raw);
            util_set_why(why, why_len, "invalid JSON near byte %zu: %s", at, ex);
        }
        return ERR_INVALID;
    }
    /* cJSON stops after the value; anything but white space is garbage */
    while (end < json + len && is_ws((unsigned char)*end))
        end++;
    if (end != json + len) {
        util_set_why(why, why_len, "invalid JSON near byte %zu: data after the top-level value",
                     (size_t)(end - json));
        cJSON_Delete(doc);
        return ERR_INVALID;
    }
    if (!cJSON_IsObject(doc)) {
        char got[META_QUOTE_LEN];
        describe(doc, got, sizeof(got));
        util_set_why(why, why_len, "top level: must be an object (got %s)", got);
        cJSON_Delete(doc);
        return ERR_INVALID;
    }
    *root = doc;
    return ERR_OK;
}

/* ---- typed getters ------------------------------------------------------ */

/* obj[key], NULL when obj is NULL, key is absent or its value is null. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *v;

    if (obj == NULL)
        return NULL;
    v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

/* *out = obj[key] when it is an object; NULL when absent; error otherwise. */
static enum err_code get_object(const struct ctx *c, const cJSON *obj, const char *key,
                                const char *path, const cJSON **out)
{
    const cJSON *v = member(obj, key);
    char got[META_QUOTE_LEN];

    *out = NULL;
    if (v == NULL)
        return ERR_OK;
    if (!cJSON_IsObject(v)) {
        describe(v, got, sizeof(got));
        return fail(c, path, "must be an object (got %s)", got);
    }
    *out = v;
    return ERR_OK;
}

/* A copy of the string value v (known to be a string) read at path. */
static enum err_code copy_string(const struct ctx *c, const cJSON *v, const char *path, char **out)
{
    size_t n = strlen(v->valuestring);

    if (n > KUBEOBJ_MAX_STRING)
        return fail(c, path, "string of %zu bytes exceeds the limit of %zu bytes", n,
                    KUBEOBJ_MAX_STRING);
    *out = malloc(n + 1);
    if (*out == NULL)
        return no_memory(c);
    memcpy(*out, v->valuestring, n + 1);
    return ERR_OK;
}

static enum err_code copy_literal(const struct ctx *c, const char *s, char **out)
{
    size_t n = strlen(s);

    *out = malloc(n + 1);
    if (*out == NULL)
        return no_memory(c);
    memcpy(*out, s, n + 1);
    return ERR_OK;
}

/* The string value v at path, or an error naming what it is instead. */
static enum err_code want_string(const struct ctx *c, const cJSON *v, const char *path)
{
    char got[META_QUOTE_LEN];

    if (cJSON_IsString(v))
        return ERR_OK;
    describe(v, got, sizeof(got));
    return fail(c, path, "must be a string (got %s)", got);
}

static enum err_code want_required_string(const struct ctx *c, const cJSON *v, const char *path)
{
    if (v == NULL)
        return fail(c, path, "is required");
    return want_string(c, v, path);
}

/*
 * *out = a copy of obj[key] when it is a string. Absent: an error when
 * required, else a copy of dflt (NULL stays NULL).
 */
static enum err_code get_string(const struct ctx *c, const cJSON *obj, const char *key,
                                const char *path, bool required, const char *dflt, char **out)
{
    const cJSON *v = member(obj, key);
    enum err_code rc;

    *out = NULL;
    if (v == NULL) {
        if (required)
            return fail(c, path, "is required");
        return dflt != NULL ? copy_literal(c, dflt, out) : ERR_OK;
    }
    rc = want_string(c, v, path);
    if (rc)
        return rc;
    return copy_string(c, v, path, out);
}

/* *out = obj[key] as a count in [0, COUNT_MAX]; *has false (and *out
 * untouched) when absent. */
static enum err_code get_count(const struct ctx *c, const cJSON *obj, const char *key,
                               const char *path, bool *has, int64_t *out)
{
    const cJSON *v = member(obj, key);
    char got[META_QUOTE_LEN];
    double d;

    if (has != NULL)
        *has = false;
    if (v == NULL)
        return ERR_OK;
    describe(v, got, sizeof(got));
    if (!cJSON_IsNumber(v))
        return fail(c, path, "must be an integer >= 0 (got %s)", got);
    d = v->valuedouble;
    if (!isfinite(d) || d < 0 || floor(d) != d)
        return fail(c, path, "must be an integer >= 0 (got %s)", got);
    if (d > COUNT_MAX)
        return fail(c, path, "must be at most 2147483647 (got %s)", got);
    *out = (int64_t)d;
    if (has != NULL)
        *has = true;
    return ERR_OK;
}

/* When obj has "kind", it must be the string want. */
static enum err_code check_kind(const struct ctx *c, const cJSON *obj, const char *want)
{
    const cJSON *v = member(obj, "kind");
    char q[META_QUOTE_LEN];
    enum err_code rc;

    if (v == NULL)
        return ERR_OK;
    rc = want_string(c, v, "kind");
    if (rc)
        return rc;
    if (strcmp(v->valuestring, want) != 0) {
        meta_quote(q, sizeof(q), v->valuestring);
        return fail(c, "kind", "%s is not %s", q, want);
    }
    return ERR_OK;
}

/* ---- ScaledObject ------------------------------------------------------- */

#define ANN_PATH(key) "metadata.annotations[\"" key "\"]"

/* The variant cost annotation: a plain decimal number, finite, >= 0.
 * Hex ("0x10"), "inf" and "nan" are refused: strtod would take them, Go's
 * ParseFloat (WVA) would not, or would not make a cost of them. */
static bool parse_cost(const char *s, double *out)
{
    const char *p;
    double v;

    for (p = s; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
              *p == '-'))
            return false;
    if (util_parse_double(s, &v) != ERR_OK || !(v >= 0))
        return false;
    *out = v == 0 ? 0.0 : v; /* "-0" is 0 */
    return true;
}

/* The llm-d.ai annotations of a managed object. */
static enum err_code read_managed_annotations(const struct ctx *c, const cJSON *ann,
                                              struct kubeobj_scaledobject *so)
{
    const cJSON *v;
    char q[META_QUOTE_LEN];
    enum err_code rc;

    v = member(ann, KUBEOBJ_ANN_MODEL_ID);
    if (v != NULL) {
        rc = want_string(c, v, ANN_PATH(KUBEOBJ_ANN_MODEL_ID));
        if (rc)
            return rc;
        if (v->valuestring[0] != '\0') {
            rc = copy_string(c, v, ANN_PATH(KUBEOBJ_ANN_MODEL_ID), &so->model_id);
            if (rc)
                return rc;
        }
    }

    v = member(ann, KUBEOBJ_ANN_VARIANT_COST);
    if (v != NULL) {
        rc = want_string(c, v, ANN_PATH(KUBEOBJ_ANN_VARIANT_COST));
        if (rc)
            return rc;
        if (strlen(v->valuestring) > KUBEOBJ_MAX_STRING || !parse_cost(v->valuestring, &so->cost)) {
            meta_quote(q, sizeof(q), v->valuestring);
            return fail(c, ANN_PATH(KUBEOBJ_ANN_VARIANT_COST), "%s is not a non-negative number",
                        q);
        }
        so->has_cost = true;
    }
    return ERR_OK;
}

static enum err_code read_scaledobject(const struct ctx *c, const cJSON *root,
                                       struct kubeobj_scaledobject *so)
{
    const cJSON *meta, *ann, *spec, *ref, *v;
    enum err_code rc;

    memset(so, 0, sizeof(*so));
    so->cost = META_DEFAULT_VARIANT_COST;
    so->max = KUBEOBJ_DEFAULT_MAX_REPLICAS;

    rc = check_kind(c, root, "ScaledObject");
    if (rc)
        return rc;
    rc = get_object(c, root, "metadata", "metadata", &meta);
    if (rc)
        return rc;
    if (meta == NULL)
        return fail(c, "metadata", "is required");
    rc = get_string(c, meta, "name", "metadata.name", true, NULL, &so->name);
    if (rc)
        return rc;
    rc = get_string(c, meta, "namespace", "metadata.namespace", true, NULL, &so->namespace_);
    if (rc)
        return rc;
    rc = get_string(c, meta, "resourceVersion", "metadata.resourceVersion", false, NULL,
                    &so->resource_version);
    if (rc)
        return rc;

    rc = get_object(c, meta, "annotations", "metadata.annotations", &ann);
    if (rc)
        return rc;
    v = member(ann, KUBEOBJ_ANN_MANAGED);
    if (cJSON_IsString(v)) {
        /* the raw value is kept so the caller can point out "True" */
        rc = copy_string(c, v, ANN_PATH(KUBEOBJ_ANN_MANAGED), &so->managed_raw);
        if (rc)
            return rc;
        so->managed = strcmp(v->valuestring, "true") == 0;
    }
    if (so->managed) {
        rc = read_managed_annotations(c, ann, so);
        if (rc)
            return rc;
    }

    rc = get_object(c, root, "spec", "spec", &spec);
    if (rc)
        return rc;
    if (spec == NULL)
        return fail(c, "spec", "is required");
    rc = get_count(c, spec, "minReplicaCount", "spec.minReplicaCount", &so->has_min, &so->min);
    if (rc)
        return rc;
    rc = get_count(c, spec, "maxReplicaCount", "spec.maxReplicaCount", &so->has_max, &so->max);
    if (rc)
        return rc;
    if (so->managed && so->min > so->max) {
        if (so->has_max)
            return fail(c, "spec.minReplicaCount", "%lld is greater than spec.maxReplicaCount %lld",
                        (long long)so->min, (long long)so->max);
        return fail(c, "spec.minReplicaCount",
                    "%lld is greater than the default maxReplicaCount %d", (long long)so->min,
                    KUBEOBJ_DEFAULT_MAX_REPLICAS);
    }

    rc = get_object(c, spec, "scaleTargetRef", "spec.scaleTargetRef", &ref);
    if (rc)
        return rc;
    if (ref == NULL)
        return fail(c, "spec.scaleTargetRef", "is required");
    rc = get_string(c, ref, "name", "spec.scaleTargetRef.name", true, NULL, &so->target_name);
    if (rc)
        return rc;
    rc = get_string(c, ref, "kind", "spec.scaleTargetRef.kind", false, "Deployment",
                    &so->target_kind);
    if (rc)
        return rc;
    return get_string(c, ref, "apiVersion", "spec.scaleTargetRef.apiVersion", false, "apps/v1",
                      &so->target_api_version);
}

void kubeobj_scaledobject_clear(struct kubeobj_scaledobject *so)
{
    if (so == NULL)
        return;
    free(so->name);
    free(so->namespace_);
    free(so->managed_raw);
    free(so->model_id);
    free(so->target_kind);
    free(so->target_api_version);
    free(so->target_name);
    free(so->resource_version);
    memset(so, 0, sizeof(*so));
}

enum err_code kubeobj_parse_scaledobject(const char *json, size_t len, size_t max_len,
                                         struct kubeobj_scaledobject *out, char *why,
                                         size_t why_len)
{
    struct ctx c = {why, why_len, ""};
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_document(json, len, max_len, &root, why, why_len);
    if (rc)
        return rc;
    rc = read_scaledobject(&c, root, out);
    cJSON_Delete(root);
    if (rc)
        kubeobj_scaledobject_clear(out);
    return rc;
}

/* ---- lists -------------------------------------------------------------- */

/*
 * The list envelope: kind (when sent) must be want_kind; metadata's
 * resourceVersion and continue are copied; *items is the items array
 * (NULL when absent or null) and *count its length.
 */
static enum err_code read_list_envelope(const struct ctx *c, const cJSON *root,
                                        const char *want_kind, char **resource_version,
                                        char **continue_token, const cJSON **items, size_t *count)
{
    const cJSON *meta, *it;
    enum err_code rc;
    char got[META_QUOTE_LEN];

    *items = NULL;
    *count = 0;
    rc = check_kind(c, root, want_kind);
    if (rc)
        return rc;
    rc = get_object(c, root, "metadata", "metadata", &meta);
    if (rc)
        return rc;
    rc = get_string(c, meta, "resourceVersion", "metadata.resourceVersion", false, NULL,
                    resource_version);
    if (rc)
        return rc;
    rc = get_string(c, meta, "continue", "metadata.continue", false, NULL, continue_token);
    if (rc)
        return rc;
    if (*continue_token != NULL && (*continue_token)[0] == '\0') {
        free(*continue_token); /* "" means the last page: same as absent */
        *continue_token = NULL;
    }
    it = member(root, "items");
    if (it == NULL)
        return ERR_OK;
    if (!cJSON_IsArray(it)) {
        describe(it, got, sizeof(got));
        return fail(c, "items", "must be an array (got %s)", got);
    }
    *items = it;
    for (it = it->child; it != NULL; it = it->next)
        (*count)++;
    return ERR_OK;
}

/* "items[i]." into buf, and the item itself must be an object. */
static enum err_code item_context(const struct ctx *outer, const cJSON *item, size_t i, char *buf,
                                  size_t buf_len, struct ctx *inner)
{
    char path[48], got[META_QUOTE_LEN];

    snprintf(buf, buf_len, "items[%zu].", i);
    *inner = *outer;
    inner->prefix = buf;
    if (!cJSON_IsObject(item)) {
        snprintf(path, sizeof(path), "items[%zu]", i);
        describe(item, got, sizeof(got));
        return fail(outer, path, "must be an object (got %s)", got);
    }
    return ERR_OK;
}

void kubeobj_scaledobject_list_clear(struct kubeobj_scaledobject_list *list)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < list->count; i++)
        kubeobj_scaledobject_clear(&list->items[i]);
    free(list->items);
    free(list->resource_version);
    free(list->continue_token);
    memset(list, 0, sizeof(*list));
}

static enum err_code read_scaledobject_list(const struct ctx *c, const cJSON *root,
                                            struct kubeobj_scaledobject_list *list)
{
    const cJSON *items, *it;
    size_t n, i;
    enum err_code rc;

    rc = read_list_envelope(c, root, "ScaledObjectList", &list->resource_version,
                            &list->continue_token, &items, &n);
    if (rc || n == 0)
        return rc;
    list->items = calloc(n, sizeof(*list->items));
    if (list->items == NULL)
        return no_memory(c);
    for (it = items->child, i = 0; it != NULL; it = it->next, i++) {
        char prefix[40];
        struct ctx ic;

        rc = item_context(c, it, i, prefix, sizeof(prefix), &ic);
        if (rc)
            return rc;
        /* count the item first: read_scaledobject() leaves it clearable
         * whatever happens, and the clear walks [0, count) */
        list->count = i + 1;
        rc = read_scaledobject(&ic, it, &list->items[i]);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

enum err_code kubeobj_parse_scaledobject_list(const char *json, size_t len, size_t max_len,
                                              struct kubeobj_scaledobject_list *out, char *why,
                                              size_t why_len)
{
    struct ctx c = {why, why_len, ""};
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_document(json, len, max_len, &root, why, why_len);
    if (rc)
        return rc;
    rc = read_scaledobject_list(&c, root, out);
    cJSON_Delete(root);
    if (rc)
        kubeobj_scaledobject_list_clear(out);
    return rc;
}

/* ---- workloads ---------------------------------------------------------- */

/*
 * The role label of the pod template at path (e.g. "spec.template"):
 * *out stays NULL when the template, its metadata, labels or the label is
 * absent.
 */
static enum err_code read_template_role(const struct ctx *c, const cJSON *tmpl, const char *path,
                                        char **out)
{
    const cJSON *meta, *labels;
    char p_meta[160], p_labels[160], p_role[200];
    enum err_code rc;

    *out = NULL;
    if (tmpl == NULL)
        return ERR_OK;
    snprintf(p_meta, sizeof(p_meta), "%s.metadata", path);
    snprintf(p_labels, sizeof(p_labels), "%s.metadata.labels", path);
    snprintf(p_role, sizeof(p_role), "%s.metadata.labels[\"%s\"]", path, KUBEOBJ_LABEL_ROLE);
    rc = get_object(c, tmpl, "metadata", p_meta, &meta);
    if (rc)
        return rc;
    rc = get_object(c, meta, "labels", p_labels, &labels);
    if (rc)
        return rc;
    return get_string(c, labels, KUBEOBJ_LABEL_ROLE, p_role, false, NULL, out);
}

static enum err_code read_lws_role(const struct ctx *c, const cJSON *spec, char **out)
{
    const cJSON *lwt, *leader, *worker;
    char *leader_role = NULL, *worker_role = NULL;
    enum err_code rc;

    *out = NULL;
    rc = get_object(c, spec, "leaderWorkerTemplate", "spec.leaderWorkerTemplate", &lwt);
    if (rc)
        return rc;
    rc = get_object(c, lwt, "leaderTemplate", "spec.leaderWorkerTemplate.leaderTemplate", &leader);
    if (rc)
        return rc;
    rc = get_object(c, lwt, "workerTemplate", "spec.leaderWorkerTemplate.workerTemplate", &worker);
    if (rc)
        return rc;
    /* both are validated, whichever wins */
    rc = read_template_role(c, leader, "spec.leaderWorkerTemplate.leaderTemplate", &leader_role);
    if (rc)
        return rc;
    rc = read_template_role(c, worker, "spec.leaderWorkerTemplate.workerTemplate", &worker_role);
    if (rc) {
        free(leader_role);
        return rc;
    }
    if (leader_role != NULL) {
        free(worker_role);
        *out = leader_role;
    } else {
        *out = worker_role;
    }
    return ERR_OK;
}

static enum err_code read_workload(const struct ctx *c, const cJSON *root,
                                   struct kubeobj_workload *w)
{
    const cJSON *meta, *spec, *status, *tmpl;
    bool lws;
    enum err_code rc;

    memset(w, 0, sizeof(*w));
    w->spec_replicas = 1;
    rc = get_string(c, root, "kind", "kind", true, NULL, &w->kind);
    if (rc)
        return rc;
    lws = strcmp(w->kind, "LeaderWorkerSet") == 0;
    if (!lws && strcmp(w->kind, "Deployment") != 0) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof(q), w->kind);
        return fail(c, "kind", "%s is not supported (want Deployment or LeaderWorkerSet)", q);
    }
    rc = get_object(c, root, "metadata", "metadata", &meta);
    if (rc)
        return rc;
    rc = get_string(c, meta, "name", "metadata.name", true, NULL, &w->name);
    if (rc)
        return rc;

    rc = get_object(c, root, "spec", "spec", &spec);
    if (rc)
        return rc;
    rc = get_count(c, spec, "replicas", "spec.replicas", &w->has_spec_replicas, &w->spec_replicas);
    if (rc)
        return rc;
    rc = get_object(c, root, "status", "status", &status);
    if (rc)
        return rc;
    rc = get_count(c, status, "replicas", "status.replicas", NULL, &w->status_replicas);
    if (rc)
        return rc;
    rc = get_count(c, status, "readyReplicas", "status.readyReplicas", NULL, &w->ready_replicas);
    if (rc)
        return rc;

    if (lws)
        return read_lws_role(c, spec, &w->role);
    rc = get_object(c, spec, "template", "spec.template", &tmpl);
    if (rc)
        return rc;
    return read_template_role(c, tmpl, "spec.template", &w->role);
}

void kubeobj_workload_clear(struct kubeobj_workload *w)
{
    if (w == NULL)
        return;
    free(w->kind);
    free(w->name);
    free(w->role);
    memset(w, 0, sizeof(*w));
}

enum err_code kubeobj_parse_workload(const char *json, size_t len, size_t max_len,
                                     struct kubeobj_workload *out, char *why, size_t why_len)
{
    struct ctx c = {why, why_len, ""};
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_document(json, len, max_len, &root, why, why_len);
    if (rc)
        return rc;
    rc = read_workload(&c, root, out);
    cJSON_Delete(root);
    if (rc)
        kubeobj_workload_clear(out);
    return rc;
}

/* ---- objects with owners ------------------------------------------------ */

static enum err_code read_labels(const struct ctx *c, const cJSON *meta, struct kubeobj_object *o)
{
    const cJSON *labels, *l;
    size_t n = 0;
    enum err_code rc;

    rc = get_object(c, meta, "labels", "metadata.labels", &labels);
    if (rc || labels == NULL)
        return rc;
    for (l = labels->child; l != NULL; l = l->next)
        n++;
    if (n == 0)
        return ERR_OK;
    o->label_names = calloc(n, sizeof(char *));
    o->label_values = calloc(n, sizeof(char *));
    if (o->label_names == NULL || o->label_values == NULL)
        return no_memory(c);
    for (l = labels->child; l != NULL; l = l->next) {
        char q[META_QUOTE_LEN], path[META_QUOTE_LEN + 24];
        size_t i = o->label_count;

        meta_quote(q, sizeof(q), l->string);
        snprintf(path, sizeof(path), "metadata.labels[%s]", q);
        rc = want_string(c, l, path);
        if (rc)
            return rc;
        if (strlen(l->string) > KUBEOBJ_MAX_STRING)
            return fail(c, path, "label name of %zu bytes exceeds the limit of %zu bytes",
                        strlen(l->string), KUBEOBJ_MAX_STRING);
        rc = copy_literal(c, l->string, &o->label_names[i]);
        if (rc)
            return rc;
        o->label_count = i + 1; /* the name is owned now: clear frees it */
        rc = copy_string(c, l, path, &o->label_values[i]);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static enum err_code read_owner_refs(const struct ctx *c, const cJSON *meta,
                                     struct kubeobj_object *o)
{
    const cJSON *refs, *r, *chosen = NULL;
    char got[META_QUOTE_LEN], path[80];
    size_t i, chosen_i = 0;
    enum err_code rc;

    refs = member(meta, "ownerReferences");
    if (refs == NULL)
        return ERR_OK;
    if (!cJSON_IsArray(refs)) {
        describe(refs, got, sizeof(got));
        return fail(c, "metadata.ownerReferences", "must be an array (got %s)", got);
    }
    for (r = refs->child, i = 0; r != NULL; r = r->next, i++) {
        const cJSON *ctl;

        snprintf(path, sizeof(path), "metadata.ownerReferences[%zu]", i);
        if (!cJSON_IsObject(r)) {
            describe(r, got, sizeof(got));
            return fail(c, path, "must be an object (got %s)", got);
        }
        snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].kind", i);
        rc = want_required_string(c, member(r, "kind"), path);
        if (rc)
            return rc;
        snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].name", i);
        rc = want_required_string(c, member(r, "name"), path);
        if (rc)
            return rc;
        ctl = member(r, "controller");
        if (ctl != NULL && !cJSON_IsBool(ctl)) {
            snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].controller", i);
            describe(ctl, got, sizeof(got));
            return fail(c, path, "must be a boolean (got %s)", got);
        }
        /* the first controller wins; without one, the first entry */
        if (chosen == NULL || (cJSON_IsTrue(ctl) && !cJSON_IsTrue(member(chosen, "controller")))) {
            chosen = r;
            chosen_i = i;
        }
    }
    if (chosen == NULL)
        return ERR_OK;
    snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].kind", chosen_i);
    rc = copy_string(c, member(chosen, "kind"), path, &o->owner_kind);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].name", chosen_i);
    return copy_string(c, member(chosen, "name"), path, &o->owner_name);
}

static enum err_code read_object(const struct ctx *c, const cJSON *root, const char *dflt_kind,
                                 struct kubeobj_object *o)
{
    const cJSON *meta;
    enum err_code rc;

    memset(o, 0, sizeof(*o));
    rc = get_string(c, root, "kind", "kind", false, dflt_kind, &o->kind);
    if (rc)
        return rc;
    rc = get_object(c, root, "metadata", "metadata", &meta);
    if (rc)
        return rc;
    if (meta == NULL)
        return fail(c, "metadata", "is required");
    rc = get_string(c, meta, "name", "metadata.name", true, NULL, &o->name);
    if (rc)
        return rc;
    rc = get_string(c, meta, "namespace", "metadata.namespace", false, NULL, &o->namespace_);
    if (rc)
        return rc;
    rc = read_labels(c, meta, o);
    if (rc)
        return rc;
    return read_owner_refs(c, meta, o);
}

void kubeobj_object_clear(struct kubeobj_object *obj)
{
    size_t i;

    if (obj == NULL)
        return;
    for (i = 0; i < obj->label_count; i++) {
        free(obj->label_names[i]);
        free(obj->label_values[i]);
    }
    free(obj->label_names);
    free(obj->label_values);
    free(obj->name);
    free(obj->namespace_);
    free(obj->kind);
    free(obj->owner_kind);
    free(obj->owner_name);
    memset(obj, 0, sizeof(*obj));
}

enum err_code kubeobj_parse_owner(const char *json, size_t len, size_t max_len,
                                  struct kubeobj_object *out, char *why, size_t why_len)
{
    struct ctx c = {why, why_len, ""};
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_document(json, len, max_len, &root, why, why_len);
    if (rc)
        return rc;
    rc = read_object(&c, root, NULL, out);
    cJSON_Delete(root);
    if (rc)
        kubeobj_object_clear(out);
    return rc;
}

void kubeobj_object_list_clear(struct kubeobj_object_list *list)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < list->count; i++)
        kubeobj_object_clear(&list->items[i]);
    free(list->items);
    free(list->resource_version);
    free(list->continue_token);
    memset(list, 0, sizeof(*list));
}

static enum err_code read_pod_list(const struct ctx *c, const cJSON *root,
                                   struct kubeobj_object_list *list)
{
    const cJSON *items, *it;
    size_t n, i;
    enum err_code rc;

    rc = read_list_envelope(c, root, "PodList", &list->resource_version, &list->continue_token,
                            &items, &n);
    if (rc || n == 0)
        return rc;
    list->items = calloc(n, sizeof(*list->items));
    if (list->items == NULL)
        return no_memory(c);
    for (it = items->child, i = 0; it != NULL; it = it->next, i++) {
        char prefix[40];
        struct ctx ic;

        rc = item_context(c, it, i, prefix, sizeof(prefix), &ic);
        if (rc)
            return rc;
        list->count = i + 1; /* see read_scaledobject_list() */
        rc = check_kind(&ic, it, "Pod");
        if (rc)
            return rc;
        rc = read_object(&ic, it, "Pod", &list->items[i]);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

enum err_code kubeobj_parse_pod_list(const char *json, size_t len, size_t max_len,
                                     struct kubeobj_object_list *out, char *why, size_t why_len)
{
    struct ctx c = {why, why_len, ""};
    cJSON *root;
    enum err_code rc;

    util_clear_why(why, why_len);
    if (out == NULL) {
        util_set_why(why, why_len, "no output");
        return ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    rc = parse_document(json, len, max_len, &root, why, why_len);
    if (rc)
        return rc;
    rc = read_pod_list(&c, root, out);
    cJSON_Delete(root);
    if (rc)
        kubeobj_object_list_clear(out);
    return rc;
}

const char *kubeobj_label(const struct kubeobj_object *obj, const char *name)
{
    size_t i;

    if (obj == NULL || name == NULL)
        return NULL;
    for (i = 0; i < obj->label_count; i++)
        if (strcmp(obj->label_names[i], name) == 0)
            return obj->label_values[i];
    return NULL;
}

/* ---- Status ------------------------------------------------------------- */

/* The standard reason phrase of an HTTP status, or NULL. */
static const char *http_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return NULL;
    }
}

/* "HTTP 403 Forbidden" or "HTTP 599" when there is no reason. */
static void fmt_head(char *buf, size_t len, int status, const char *reason)
{
    if (reason != NULL && reason[0] != '\0')
        snprintf(buf, len, "HTTP %d %s", status, reason);
    else
        snprintf(buf, len, "HTTP %d", status);
}

/* Whether doc is a Kubernetes Status carrying a message. */
static const cJSON *status_object(const cJSON *doc)
{
    const cJSON *kind, *st, *msg;

    if (!cJSON_IsObject(doc))
        return NULL;
    kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
    st = cJSON_GetObjectItemCaseSensitive(doc, "status");
    msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
    if (!cJSON_IsString(msg))
        return NULL;
    if ((cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) ||
        (cJSON_IsString(st) && strcmp(st->valuestring, "Failure") == 0))
        return doc;
    return NULL;
}

void kubeobj_status_message(int http_status, const char *body, size_t len, char *out,
                            size_t out_len)
{
    char head[128], reason[80], text[STATUS_MESSAGE_MAX + 8];
    const cJSON *st = NULL;
    cJSON *doc = NULL;

    if (out == NULL || out_len == 0)
        return;
    if (body == NULL)
        len = 0;
    if (len > 0 && len <= STATUS_MAX_JSON) {
        doc = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
        st = status_object(doc);
    }
    if (st != NULL) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "reason");
        const char *msg = cJSON_GetObjectItemCaseSensitive(st, "message")->valuestring;

        reason[0] = '\0';
        if (cJSON_IsString(r))
            util_sanitize(r->valuestring, strlen(r->valuestring), 64, reason, sizeof(reason));
        if (reason[0] == '\0' && http_phrase(http_status) != NULL)
            snprintf(reason, sizeof(reason), "%s", http_phrase(http_status));
        fmt_head(head, sizeof(head), http_status, reason);
        util_sanitize(msg, strlen(msg), STATUS_MESSAGE_MAX, text, sizeof(text));
        if (text[0] == '\0' || strcmp(text, reason) == 0)
            snprintf(out, out_len, "%s", head);
        else
            snprintf(out, out_len, "%s: %s", head, text);
    } else {
        fmt_head(head, sizeof(head), http_status, http_phrase(http_status));
        util_sanitize(body, len, KUBEOBJ_BODY_EXCERPT, text, sizeof(text));
        if (text[0] == '\0')
            snprintf(out, out_len, "%s (empty body)", head);
        else
            snprintf(out, out_len, "%s: %s", head, text);
    }
    cJSON_Delete(doc);
}
