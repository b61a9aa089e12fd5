/*
 * fuzz_kubeobj: the Kubernetes object parsers (src/kubeobj.c) on arbitrary
 * API server answers, and the one-line summary of a failed request.
 *
 * With --kube the server reads ScaledObjects, Deployments,
 * LeaderWorkerSets, ReplicaSets and Pods that any namespace owner may
 * write (annotations and labels included), so their content is hostile.
 * The input is one response body, given to each parser in turn (a seed of
 * each kind makes each one reachable): kubeobj_parse_scaledobject,
 * _scaledobject_list, _workload, _owner, _pod_list, with the default
 * limit; kubeobj_parse_owner again with a limit one byte below the input's
 * size (which must refuse it); then kubeobj_status_message with a few HTTP
 * statuses and a short output buffer.
 *
 * Checked besides the sanitizers: a failure leaves the struct cleared
 * (every pointer NULL, counts 0) and a printable message; a success has
 * its required strings set; kubeobj_label finds every label by name;
 * every *_clear is a no-op the second time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kubeobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes of s all zero: the struct is cleared. */
static bool is_zero(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void check_so(const struct kubeobj_scaledobject *so, const char *where)
{
    if (!so->name || !so->namespace_ || !so->target_name || !so->target_kind ||
        !so->target_api_version)
        fuzz_fail(where, "success without a required string");
    if (!so->managed && (so->model_id || so->has_cost))
        fuzz_fail(where, "annotations read on an unmanaged object");
    if (so->cost < 0 || so->cost != so->cost)
        fuzz_fail(where, "cost not >= 0");
    if (so->min < 0 || so->max < 0)
        fuzz_fail(where, "negative replica bound");
    if (so->managed && so->min > so->max)
        fuzz_fail(where, "managed object with min > max accepted");
    fuzz_touch(so->managed_raw);
    fuzz_touch(so->resource_version);
}

static void check_obj(const struct kubeobj_object *o, const char *where)
{
    size_t i;

    if (!o->name)
        fuzz_fatal(where, "success without a name");
    if ((o->owner_kind == NULL) != (o->owner_name == NULL))
        fuzz_fail(where, "owner kind and name not set together");
    fuzz_touch(o->namespace_);
    fuzz_touch(o->kind);
    for (i = 0; i < o->label_count; i++) {
        const char *v = kubeobj_label(o, o->label_names[i]);
        if (!v)
            fuzz_fail("kubeobj_label", "does not find a parsed label");
        fuzz_touch(o->label_values[i]);
    }
}

/* Every parser on the input with max_len; checks every result. */
static void parse_all(const char *json, size_t len, size_t max_len)
{
    char why[KUBEOBJ_WHY_LEN];
    struct kubeobj_scaledobject so;
    struct kubeobj_scaledobject_list sol;
    struct kubeobj_workload w;
    struct kubeobj_object obj;
    struct kubeobj_object_list pl;
    size_t i;

    memset(&so, 0xA5, sizeof(so)); /* the parser clears on entry */
    if (kubeobj_parse_scaledobject(json, len, max_len, &so, why, sizeof(why)) == ERR_OK) {
        check_so(&so, "kubeobj_parse_scaledobject");
    } else {
        if (!is_zero(&so, sizeof(so)))
            fuzz_fail("kubeobj_parse_scaledobject", "failure left the struct set");
        fuzz_check_why(why, sizeof(why), "kubeobj_parse_scaledobject");
    }
    kubeobj_scaledobject_clear(&so);
    kubeobj_scaledobject_clear(&so);

    memset(&sol, 0xA5, sizeof(sol));
    if (kubeobj_parse_scaledobject_list(json, len, max_len, &sol, why, sizeof(why)) == ERR_OK) {
        if (sol.count && !sol.items)
            fuzz_fatal("kubeobj_parse_scaledobject_list", "items NULL with count > 0");
        for (i = 0; i < sol.count; i++)
            check_so(&sol.items[i], "kubeobj_parse_scaledobject_list");
        if (sol.continue_token && !sol.continue_token[0])
            fuzz_fail("kubeobj_parse_scaledobject_list", "empty continue token kept");
    } else {
        if (!is_zero(&sol, sizeof(sol)))
            fuzz_fail("kubeobj_parse_scaledobject_list", "failure left the struct set");
        fuzz_check_why(why, sizeof(why), "kubeobj_parse_scaledobject_list");
    }
    kubeobj_scaledobject_list_clear(&sol);
    kubeobj_scaledobject_list_clear(&sol);

    memset(&w, 0xA5, sizeof(w));
    if (kubeobj_parse_workload(json, len, max_len, &w, why, sizeof(why)) == ERR_OK) {
        if (!w.kind || !w.name)
            fuzz_fatal("kubeobj_parse_workload", "success without kind or name");
        if (strcmp(w.kind, "Deployment") != 0 && strcmp(w.kind, "LeaderWorkerSet") != 0)
            fuzz_fail("kubeobj_parse_workload", "accepted another kind");
        if (w.spec_replicas < 0 || w.status_replicas < 0 || w.ready_replicas < 0)
            fuzz_fail("kubeobj_parse_workload", "negative count");
        fuzz_touch(w.role);
    } else {
        if (!is_zero(&w, sizeof(w)))
            fuzz_fail("kubeobj_parse_workload", "failure left the struct set");
        fuzz_check_why(why, sizeof(why), "kubeobj_parse_workload");
    }
    kubeobj_workload_clear(&w);
    kubeobj_workload_clear(&w);

    memset(&obj, 0xA5, sizeof(obj));
    if (kubeobj_parse_owner(json, len, max_len, &obj, why, sizeof(why)) == ERR_OK) {
        check_obj(&obj, "kubeobj_parse_owner");
    } else {
        if (!is_zero(&obj, sizeof(obj)))
            fuzz_fail("kubeobj_parse_owner", "failure left the struct set");
        fuzz_check_why(why, sizeof(why), "kubeobj_parse_owner");
    }
    kubeobj_object_clear(&obj);
    kubeobj_object_clear(&obj);

    memset(&pl, 0xA5, sizeof(pl));
    if (kubeobj_parse_pod_list(json, len, max_len, &pl, why, sizeof(why)) == ERR_OK) {
        if (pl.count && !pl.items)
            fuzz_fatal("kubeobj_parse_pod_list", "items NULL with count > 0");
        for (i = 0; i < pl.count; i++) {
            check_obj(&pl.items[i], "kubeobj_parse_pod_list");
            if (!pl.items[i].kind)
                fuzz_fail("kubeobj_parse_pod_list", "item without kind");
        }
    } else {
        if (!is_zero(&pl, sizeof(pl)))
            fuzz_fail("kubeobj_parse_pod_list", "failure left the struct set");
        fuzz_check_why(why, sizeof(why), "kubeobj_parse_pod_list");
    }
    kubeobj_object_list_clear(&pl);
    kubeobj_object_list_clear(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {401, 403, 404, 409, 500, 0, 299, 999};
    const char *json = (const char *)data;
    char out[KUBEOBJ_WHY_LEN], small[24];
    size_t i;

    parse_all(json, size, 0);
    if (size > 1) {
        struct kubeobj_object obj;
        if (kubeobj_parse_owner(json, size, size - 1, &obj, out, sizeof(out)) == ERR_OK)
            fuzz_fail("kubeobj_parse_owner", "accepted an input above max_len");
        fuzz_check_why(out, sizeof(out), "kubeobj_parse_owner (max_len)");
        kubeobj_object_clear(&obj);
    }

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        kubeobj_status_message(statuses[i], json, size, out, sizeof(out));
        fuzz_check_why(out, sizeof(out), "kubeobj_status_message");
    }
    kubeobj_status_message(403, json, size, small, sizeof(small));
    fuzz_check_why(small, sizeof(small), "kubeobj_status_message (short buffer)");
    return 0;
}
