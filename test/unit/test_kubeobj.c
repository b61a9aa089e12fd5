/*
 * Unit tests for kubeobj: ScaledObjects (realistic, defaults, managed
 * annotation spellings, variant cost, min/max), ScaledObjectLists,
 * Deployments and LeaderWorkerSets with and without status, role labels,
 * owner references, PodLists, every malformed shape with its message, the
 * document limits, and Status messages.
 *
 * JSON is written with single quotes for readability and turned into real
 * JSON by doc(), which also copies it into an allocation of exactly its
 * length, without a NUL: ASan and valgrind catch any read past len.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kubeobj.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

struct doc {
    char *p;
    size_t len;
};

/* s with ' turned into ", in a buffer of exactly strlen(s) bytes. */
static struct doc doc(const char *s)
{
    struct doc d;
    size_t i;

    d.len = strlen(s);
    d.p = malloc(d.len > 0 ? d.len : 1);
    assert_non_null(d.p);
    for (i = 0; i < d.len; i++)
        d.p[i] = s[i] == '\'' ? '"' : s[i];
    return d;
}

static void doc_free(struct doc *d)
{
    free(d->p);
    d->p = NULL;
}

static enum err_code parse_so(const char *s, struct kubeobj_scaledobject *so, char *why,
                              size_t why_len)
{
    struct doc d = doc(s);
    enum err_code rc = kubeobj_parse_scaledobject(d.p, d.len, 0, so, why, why_len);
    doc_free(&d);
    return rc;
}

static enum err_code parse_so_list(const char *s, struct kubeobj_scaledobject_list *l, char *why,
                                   size_t why_len)
{
    struct doc d = doc(s);
    enum err_code rc = kubeobj_parse_scaledobject_list(d.p, d.len, 0, l, why, why_len);
    doc_free(&d);
    return rc;
}

static enum err_code parse_wl(const char *s, struct kubeobj_workload *w, char *why, size_t why_len)
{
    struct doc d = doc(s);
    enum err_code rc = kubeobj_parse_workload(d.p, d.len, 0, w, why, why_len);
    doc_free(&d);
    return rc;
}

static enum err_code parse_obj(const char *s, struct kubeobj_object *o, char *why, size_t why_len)
{
    struct doc d = doc(s);
    enum err_code rc = kubeobj_parse_owner(d.p, d.len, 0, o, why, why_len);
    doc_free(&d);
    return rc;
}

static enum err_code parse_pods(const char *s, struct kubeobj_object_list *l, char *why,
                                size_t why_len)
{
    struct doc d = doc(s);
    enum err_code rc = kubeobj_parse_pod_list(d.p, d.len, 0, l, why, why_len);
    doc_free(&d);
    return rc;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* ---- realistic objects -------------------------------------------------- */

/* A ScaledObject as `kubectl get --raw` shows it after KEDA reconciled it. */
static const char so_full[] =
    "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObject',"
    "'metadata':{'annotations':{"
    "'kubectl.kubernetes.io/last-applied-configuration':"
    "'{\\\"apiVersion\\\":\\\"keda.sh/v1alpha1\\\",\\\"kind\\\":\\\"ScaledObject\\\"}\\n',"
    "'llm-d.ai/managed':'true','llm-d.ai/model-id':'meta-llama/Llama-3.1-8B-Instruct',"
    "'llm-d.ai/variant-cost':'7.5'},"
    "'creationTimestamp':'2025-01-10T12:00:00Z','finalizers':['finalizer.keda.sh'],"
    "'generation':2,'labels':{'scaledobject.keda.sh/name':'llama-8b-a100'},"
    "'managedFields':[{'apiVersion':'keda.sh/v1alpha1','fieldsType':'FieldsV1',"
    "'fieldsV1':{'f:metadata':{'f:annotations':{'.':{},'f:llm-d.ai/managed':{}}},"
    "'f:spec':{'f:maxReplicaCount':{},'f:minReplicaCount':{}}},"
    "'manager':'kubectl-client-side-apply','operation':'Update','time':'2025-01-10T12:00:00Z'},"
    "{'apiVersion':'keda.sh/v1alpha1','fieldsType':'FieldsV1','fieldsV1':{'f:status':{}},"
    "'manager':'keda','operation':'Update','subresource':'status',"
    "'time':'2025-01-10T12:00:05Z'}],"
    "'name':'llama-8b-a100','namespace':'llm','resourceVersion':'4815162342',"
    "'uid':'0b6f5a3e-8d7c-4f4e-9a57-1c2d3e4f5a6b'},"
    "'spec':{'advanced':{'horizontalPodAutoscalerConfig':{'behavior':{'scaleDown':"
    "{'stabilizationWindowSeconds':300}}}},'cooldownPeriod':300,'maxReplicaCount':8,"
    "'minReplicaCount':1,'pollingInterval':15,"
    "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment',"
    "'name':'llama-8b-a100-decode'},"
    "'triggers':[{'metadata':{'scalerAddress':'saturation-scaler.keda.svc:6000',"
    "'modelID':'meta-llama/Llama-3.1-8B-Instruct'},'type':'external'}]},"
    "'status':{'conditions':[{'message':'ScaledObject is defined correctly and is ready for "
    "scaling','reason':'ScaledObjectReady','status':'True','type':'Ready'},"
    "{'message':'Scaling is performed because triggers are active','reason':'ScalerActive',"
    "'status':'True','type':'Active'},{'status':'Unknown','type':'Fallback'},"
    "{'status':'Unknown','type':'Paused'}],"
    "'externalMetricNames':['s0-saturation-desired-replicas'],"
    "'hpaName':'keda-hpa-llama-8b-a100','lastActiveTime':'2025-01-10T12:30:00Z',"
    "'originalReplicaCount':1,'scaleTargetGVKR':{'group':'apps','kind':'Deployment',"
    "'resource':'deployments','version':'v1'},'scaleTargetKind':'apps/v1.Deployment'}}";

static void test_scaledobject_full(void **state)
{
    struct kubeobj_scaledobject so;
    char why[KUBEOBJ_WHY_LEN];
    (void)state;

    memset(&so, 0x5a, sizeof(so)); /* garbage: the parse clears it first */
    assert_int_equal(parse_so(so_full, &so, why, sizeof(why)), ERR_OK);
    assert_string_equal(why, "");
    assert_string_equal(so.name, "llama-8b-a100");
    assert_string_equal(so.namespace_, "llm");
    assert_true(so.managed);
    assert_string_equal(so.managed_raw, "true");
    assert_string_equal(so.model_id, "meta-llama/Llama-3.1-8B-Instruct");
    assert_true(so.has_cost);
    assert_true(so.cost == 7.5);
    assert_true(so.has_min);
    assert_int_equal(so.min, 1);
    assert_true(so.has_max);
    assert_int_equal(so.max, 8);
    assert_string_equal(so.target_kind, "Deployment");
    assert_string_equal(so.target_api_version, "apps/v1");
    assert_string_equal(so.target_name, "llama-8b-a100-decode");
    assert_string_equal(so.resource_version, "4815162342");
    kubeobj_scaledobject_clear(&so);
    assert_true(all_zero(&so, sizeof(so)));
    kubeobj_scaledobject_clear(&so); /* twice is fine */
    kubeobj_scaledobject_clear(NULL);
}

/* ---- ScaledObject table ------------------------------------------------- */

/* metadata extras (",'annotations':{...}") and spec members. */
#define SO(META, SPEC)                                                                             \
    "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObject','metadata':{'name':'v1',"              \
    "'namespace':'ns'" META "},'spec':{" SPEC "}}"
#define ANN(...) ",'annotations':{" __VA_ARGS__ "}"
#define REF "'scaleTargetRef':{'name':'d1'}"
#define MANAGED "'llm-d.ai/managed':'true'"

struct so_case {
    const char *label;
    const char *json;
    bool managed;
    const char *managed_raw;
    const char *model_id;
    bool has_cost;
    double cost;
    bool has_min;
    int64_t min;
    bool has_max;
    int64_t max;
    const char *kind;
    const char *api_version;
    const char *resource_version;
};

static const struct so_case so_cases[] = {
    {"defaults: no annotations, no min/max, bare scaleTargetRef", SO("", REF), false, NULL, NULL,
     false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"empty annotations, null fields read as absent",
     SO(",'annotations':{},'resourceVersion':null",
        "'minReplicaCount':null,'maxReplicaCount':null,"
        "'scaleTargetRef':{'name':'d1','kind':null,'apiVersion':null}"),
     false, NULL, NULL, false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"annotations null", SO(",'annotations':null", REF), false, NULL, NULL, false, 10.0, false, 0,
     false, 100, "Deployment", "apps/v1", NULL},
    {"managed, nothing else: model_id NULL, default cost", SO(ANN(MANAGED), REF), true, "true",
     NULL, false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"managed True is not managed",
     SO(ANN("'llm-d.ai/managed':'True','llm-d.ai/model-id':'m','llm-d.ai/variant-cost':'abc'"),
        REF),
     false, "True", NULL, false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"managed yes is not managed", SO(ANN("'llm-d.ai/managed':'yes'"), REF), false, "yes", NULL,
     false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"managed empty is not managed", SO(ANN("'llm-d.ai/managed':''"), REF), false, "", NULL, false,
     10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"managed ' true' is not managed", SO(ANN("'llm-d.ai/managed':' true'"), REF), false, " true",
     NULL, false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"managed as a JSON boolean is not managed",
     SO(ANN("'llm-d.ai/managed':true,'llm-d.ai/variant-cost':-1"), REF), false, NULL, NULL, false,
     10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"not managed: llm-d annotations are not read at all",
     SO(ANN("'llm-d.ai/model-id':42,'llm-d.ai/variant-cost':'-1'"), "'minReplicaCount':500," REF),
     false, NULL, NULL, false, 10.0, true, 500, false, 100, "Deployment", "apps/v1", NULL},
    {"cost 5", SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'5','llm-d.ai/model-id':'m'"), REF), true,
     "true", "m", true, 5.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"cost 0", SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'0'"), REF), true, "true", NULL, true, 0.0,
     false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"cost -0 is 0", SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'-0'"), REF), true, "true", NULL,
     true, 0.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"cost 2.5e1", SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'2.5e1'"), REF), true, "true", NULL,
     true, 25.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"cost .5", SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'.5'"), REF), true, "true", NULL, true,
     0.5, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"empty model-id is NULL", SO(ANN(MANAGED ",'llm-d.ai/model-id':''"), REF), true, "true", NULL,
     false, 10.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"min 0 max 0", SO("", "'minReplicaCount':0,'maxReplicaCount':0," REF), false, NULL, NULL,
     false, 10.0, true, 0, true, 0, "Deployment", "apps/v1", NULL},
    {"min 3 max 3 managed", SO(ANN(MANAGED), "'minReplicaCount':3,'maxReplicaCount':3," REF), true,
     "true", NULL, false, 10.0, true, 3, true, 3, "Deployment", "apps/v1", NULL},
    {"int32 max and 1.0", SO("", "'minReplicaCount':1.0,'maxReplicaCount':2147483647," REF), false,
     NULL, NULL, false, 10.0, true, 1, true, 2147483647, "Deployment", "apps/v1", NULL},
    {"not managed: min above max is KEDA's business",
     SO("", "'minReplicaCount':5,'maxReplicaCount':2," REF), false, NULL, NULL, false, 10.0, true,
     5, true, 2, "Deployment", "apps/v1", NULL},
    {"LeaderWorkerSet target",
     SO(",'resourceVersion':'17'",
        "'scaleTargetRef':{'apiVersion':'leaderworkerset.x-k8s.io/v1','kind':'LeaderWorkerSet',"
        "'name':'wide-ep','envSourceContainerName':'vllm'}"),
     false, NULL, NULL, false, 10.0, false, 0, false, 100, "LeaderWorkerSet",
     "leaderworkerset.x-k8s.io/v1", "17"},
    {"no kind, no apiVersion at the top",
     "{'metadata':{'name':'v1','namespace':'ns'},'spec':{" REF "}}", false, NULL, NULL, false, 10.0,
     false, 0, false, 100, "Deployment", "apps/v1", NULL},
    {"repeated key: the first counts",
     SO(ANN(MANAGED ",'llm-d.ai/variant-cost':'1','llm-d.ai/variant-cost':'x'"), REF), true, "true",
     NULL, true, 1.0, false, 0, false, 100, "Deployment", "apps/v1", NULL},
};

static void test_scaledobject_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(so_cases); i++) {
        const struct so_case *t = &so_cases[i];
        struct kubeobj_scaledobject so;
        char why[KUBEOBJ_WHY_LEN];
        enum err_code rc;

        print_message("case %zu: %s\n", i, t->label);
        rc = parse_so(t->json, &so, why, sizeof(why));
        if (rc != ERR_OK)
            print_error("why: %s\n", why);
        assert_int_equal(rc, ERR_OK);
        assert_string_equal(so.name, "v1");
        assert_string_equal(so.namespace_, "ns");
        assert_int_equal(so.managed, t->managed);
        assert_str_or_null(so.managed_raw, t->managed_raw);
        assert_str_or_null(so.model_id, t->model_id);
        assert_int_equal(so.has_cost, t->has_cost);
        assert_true(so.cost == t->cost);
        assert_int_equal(so.has_min, t->has_min);
        assert_int_equal(so.min, t->min);
        assert_int_equal(so.has_max, t->has_max);
        assert_int_equal(so.max, t->max);
        assert_string_equal(so.target_kind, t->kind);
        assert_string_equal(so.target_api_version, t->api_version);
        assert_str_or_null(so.resource_version, t->resource_version);
        assert_non_null(so.target_name);
        kubeobj_scaledobject_clear(&so);
    }
}

struct err_case {
    const char *json;
    const char *why;
};

#define COST(V) SO(ANN(MANAGED ",'llm-d.ai/variant-cost':" V), REF)
#define COST_WHY "metadata.annotations[\"llm-d.ai/variant-cost\"]: "

static const struct err_case so_errors[] = {
    {COST("'-1'"), COST_WHY "\"-1\" is not a non-negative number"},
    {COST("'abc'"), COST_WHY "\"abc\" is not a non-negative number"},
    {COST("'cheap'"), COST_WHY "\"cheap\" is not a non-negative number"},
    {COST("'1e999'"), COST_WHY "\"1e999\" is not a non-negative number"},
    {COST("'-1e999'"), COST_WHY "\"-1e999\" is not a non-negative number"},
    {COST("''"), COST_WHY "\"\" is not a non-negative number"},
    {COST("' 5'"), COST_WHY "\" 5\" is not a non-negative number"},
    {COST("'5 '"), COST_WHY "\"5 \" is not a non-negative number"},
    {COST("'0x10'"), COST_WHY "\"0x10\" is not a non-negative number"},
    {COST("'inf'"), COST_WHY "\"inf\" is not a non-negative number"},
    {COST("'NaN'"), COST_WHY "\"NaN\" is not a non-negative number"},
    {COST("'1,5'"), COST_WHY "\"1,5\" is not a non-negative number"},
    {COST("5"), COST_WHY "must be a string (got 5)"},
    {COST("null"), NULL}, /* null is absent: valid, see test_scaledobject_nulls */
    {SO(ANN(MANAGED ",'llm-d.ai/model-id':7"), REF),
     "metadata.annotations[\"llm-d.ai/model-id\"]: must be a string (got 7)"},
    {SO(",'annotations':['llm-d.ai/managed']", REF),
     "metadata.annotations: must be an object (got an array)"},
    {SO(",'annotations':'x'", REF), "metadata.annotations: must be an object (got \"x\")"},
    {SO("", "'minReplicaCount':-1," REF), "spec.minReplicaCount: must be an integer >= 0 (got -1)"},
    {SO("", "'minReplicaCount':1.5," REF),
     "spec.minReplicaCount: must be an integer >= 0 (got 1.5)"},
    {SO("", "'minReplicaCount':'1'," REF),
     "spec.minReplicaCount: must be an integer >= 0 (got \"1\")"},
    {SO("", "'minReplicaCount':true," REF),
     "spec.minReplicaCount: must be an integer >= 0 (got true)"},
    {SO("", "'maxReplicaCount':{}," REF),
     "spec.maxReplicaCount: must be an integer >= 0 (got an object)"},
    {SO("", "'maxReplicaCount':2147483648," REF),
     "spec.maxReplicaCount: must be at most 2147483647 (got 2147483648)"},
    {SO("", "'maxReplicaCount':1e999," REF),
     "spec.maxReplicaCount: must be an integer >= 0 (got inf)"},
    {SO(ANN(MANAGED), "'minReplicaCount':5,'maxReplicaCount':2," REF),
     "spec.minReplicaCount: 5 is greater than spec.maxReplicaCount 2"},
    {SO(ANN(MANAGED), "'minReplicaCount':101," REF),
     "spec.minReplicaCount: 101 is greater than the default maxReplicaCount 100"},
    {SO("", ""), "spec.scaleTargetRef: is required"},
    {SO("", "'scaleTargetRef':null"), "spec.scaleTargetRef: is required"},
    {SO("", "'scaleTargetRef':{}"), "spec.scaleTargetRef.name: is required"},
    {SO("", "'scaleTargetRef':{'name':null}"), "spec.scaleTargetRef.name: is required"},
    {SO("", "'scaleTargetRef':{'name':3}"), "spec.scaleTargetRef.name: must be a string (got 3)"},
    {SO("", "'scaleTargetRef':{'name':'d','kind':false}"),
     "spec.scaleTargetRef.kind: must be a string (got false)"},
    {SO("", "'scaleTargetRef':{'name':'d','apiVersion':['apps/v1']}"),
     "spec.scaleTargetRef.apiVersion: must be a string (got an array)"},
    {SO("", "'scaleTargetRef':'d'"), "spec.scaleTargetRef: must be an object (got \"d\")"},
    {"{'kind':'ScaledObject','metadata':{'name':'v1','namespace':'ns'}}", "spec: is required"},
    {"{'kind':'ScaledObject','metadata':{'name':'v1','namespace':'ns'},'spec':[]}",
     "spec: must be an object (got an array)"},
    {"{'kind':'ScaledObject','spec':{" REF "}}", "metadata: is required"},
    {"{'kind':'ScaledObject','metadata':7,'spec':{" REF "}}",
     "metadata: must be an object (got 7)"},
    {"{'kind':'ScaledObject','metadata':{'namespace':'ns'},'spec':{" REF "}}",
     "metadata.name: is required"},
    {"{'kind':'ScaledObject','metadata':{'name':'v1'},'spec':{" REF "}}",
     "metadata.namespace: is required"},
    {"{'metadata':{'name':['v1'],'namespace':'ns'},'spec':{" REF "}}",
     "metadata.name: must be a string (got an array)"},
    {"{'metadata':{'name':'v1','namespace':'ns','resourceVersion':12},'spec':{" REF "}}",
     "metadata.resourceVersion: must be a string (got 12)"},
    {"{'kind':'Status','status':'Failure','message':'x','code':404}",
     "kind: \"Status\" is not ScaledObject"},
    {"{'kind':7,'metadata':{'name':'v1','namespace':'ns'},'spec':{" REF "}}",
     "kind: must be a string (got 7)"},
    {"[]", "top level: must be an object (got an array)"},
    {"'so'", "top level: must be an object (got \"so\")"},
    {"null", "top level: must be an object (got null)"},
    {"", "empty JSON document"},
    {" \n\t ", "empty JSON document"},
    {"{'kind':'ScaledObject',}", "invalid JSON near byte 23: \"}\""},
    {"{'kind':'ScaledObject'} x", "invalid JSON near byte 24: data after the top-level value"},
    {"{'kind':'ScaledObject'}{}", "invalid JSON near byte 23: data after the top-level value"},
    {"<html><body>502 Bad Gateway</body></html>",
     "invalid JSON near byte 0: \"<html><body>502 Bad Gateway</body></html\""},
    {"{'kind':'ScaledObject','metadata':{'name':'v1','nam",
     "truncated JSON: the input ends at byte 51 inside an unfinished value"},
    {"{'kind':'ScaledObject','metadata':{'name':'v1'",
     "truncated JSON: the input ends at byte 46 inside an unfinished value"},
    {"{'a':[1,2", "truncated JSON: the input ends at byte 9 inside an unfinished value"},
};

static void test_scaledobject_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(so_errors); i++) {
        const struct err_case *t = &so_errors[i];
        struct kubeobj_scaledobject so;
        char why[KUBEOBJ_WHY_LEN];
        enum err_code rc;

        print_message("case %zu: %s\n", i, t->json);
        memset(&so, 0x5a, sizeof(so));
        rc = parse_so(t->json, &so, why, sizeof(why));
        if (t->why == NULL) {
            assert_int_equal(rc, ERR_OK);
            kubeobj_scaledobject_clear(&so);
            continue;
        }
        assert_int_equal(rc, ERR_INVALID);
        assert_string_equal(why, t->why);
        assert_true(all_zero(&so, sizeof(so))); /* left cleared */
        kubeobj_scaledobject_clear(&so);
    }
}

/* ---- ScaledObjectList --------------------------------------------------- */

static void test_scaledobject_list(void **state)
{
    static const char list[] =
        "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObjectList',"
        "'metadata':{'continue':'','resourceVersion':'99123'},'items':["
        "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObject','metadata':{'annotations':{"
        "'llm-d.ai/managed':'true','llm-d.ai/model-id':'granite','llm-d.ai/variant-cost':'3'},"
        "'name':'granite-h100','namespace':'llm','resourceVersion':'1',"
        "'managedFields':[{'manager':'kubectl','operation':'Apply'}]},"
        "'spec':{'minReplicaCount':1,'maxReplicaCount':4,"
        "'scaleTargetRef':{'name':'granite-h100'},'triggers':[{'type':'external',"
        "'metadata':{'scalerAddress':'s:6000'}}]},'status':{'conditions':[]}},"
        "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObject','metadata':{"
        "'name':'web','namespace':'llm','resourceVersion':'2'},"
        "'spec':{'scaleTargetRef':{'name':'web'},'triggers':[{'type':'cpu',"
        "'metricType':'Utilization','metadata':{'value':'60'}}]}},"
        "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObject','metadata':{'annotations':{"
        "'llm-d.ai/managed':'true','llm-d.ai/model-id':'granite'},"
        "'name':'granite-a10','namespace':'llm','resourceVersion':'3'},"
        "'spec':{'scaleTargetRef':{'apiVersion':'leaderworkerset.x-k8s.io/v1',"
        "'kind':'LeaderWorkerSet','name':'granite-a10'}}}]}";
    struct kubeobj_scaledobject_list l;
    char why[KUBEOBJ_WHY_LEN];
    (void)state;

    assert_int_equal(parse_so_list(list, &l, why, sizeof(why)), ERR_OK);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.resource_version, "99123");
    assert_null(l.continue_token); /* "" is the last page */
    assert_string_equal(l.items[0].name, "granite-h100");
    assert_true(l.items[0].managed);
    assert_string_equal(l.items[0].model_id, "granite");
    assert_true(l.items[0].cost == 3.0);
    assert_int_equal(l.items[0].max, 4);
    assert_string_equal(l.items[1].name, "web");
    assert_false(l.items[1].managed);
    assert_null(l.items[1].managed_raw);
    assert_int_equal(l.items[1].max, 100);
    assert_string_equal(l.items[2].name, "granite-a10");
    assert_false(l.items[2].has_cost);
    assert_true(l.items[2].cost == 10.0);
    assert_string_equal(l.items[2].target_kind, "LeaderWorkerSet");
    kubeobj_scaledobject_list_clear(&l);
    assert_true(all_zero(&l, sizeof(l)));
    kubeobj_scaledobject_list_clear(&l);
    kubeobj_scaledobject_list_clear(NULL);
}

static void test_scaledobject_list_shapes(void **state)
{
    static const char *const empty[] = {
        "{'apiVersion':'keda.sh/v1alpha1','kind':'ScaledObjectList','metadata':"
        "{'resourceVersion':'5'},'items':[]}",
        "{'kind':'ScaledObjectList','metadata':{'resourceVersion':'5'},'items':null}",
        "{'metadata':{'resourceVersion':'5'}}",
    };
    static const char paged[] =
        "{'kind':'ScaledObjectList','metadata':{'continue':'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ',"
        "'remainingItemCount':3},'items':[{'metadata':{'name':'a','namespace':'n'},"
        "'spec':{'scaleTargetRef':{'name':'t'}}}]}";
    static const struct err_case errors[] = {
        {"{'kind':'ScaledObjectList','items':{}}", "items: must be an array (got an object)"},
        {"{'kind':'PodList','items':[]}", "kind: \"PodList\" is not ScaledObjectList"},
        {"{'metadata':[],'items':[]}", "metadata: must be an object (got an array)"},
        {"{'metadata':{'continue':5},'items':[]}", "metadata.continue: must be a string (got 5)"},
        {"{'items':[{'metadata':{'name':'a','namespace':'n'},'spec':{'scaleTargetRef':"
         "{'name':'t'}}},7]}",
         "items[1]: must be an object (got 7)"},
        {"{'items':[" SO("", REF) "," SO("", REF) "," SO("", REF) "," SO(
             ANN(MANAGED ",'llm-d.ai/variant-cost':'cheap'"), REF) "]}",
         "items[3].metadata.annotations[\"llm-d.ai/variant-cost\"]: \"cheap\" is not a "
         "non-negative number"},
        {"{'items':[" SO("", REF) ",{'kind':'ScaledObject','metadata':{'name':'x',"
                                  "'namespace':'n'},'spec':{'scaleTargetRef':{}}}]}",
         "items[1].spec.scaleTargetRef.name: is required"},
        {"{'items':[{'kind':'Pod','metadata':{'name':'x','namespace':'n'}}]}",
         "items[0].kind: \"Pod\" is not ScaledObject"},
        {"{'items':[" SO("", "'minReplicaCount':-2," REF) "]}",
         "items[0].spec.minReplicaCount: must be an integer >= 0 (got -2)"},
        {"{'items':[" SO("", REF), "truncated JSON: the input ends at byte 147 inside an "
                                   "unfinished value"},
    };
    struct kubeobj_scaledobject_list l;
    char why[KUBEOBJ_WHY_LEN];
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(empty); i++) {
        assert_int_equal(parse_so_list(empty[i], &l, why, sizeof(why)), ERR_OK);
        assert_int_equal(l.count, 0);
        assert_null(l.items);
        assert_string_equal(l.resource_version, "5");
        kubeobj_scaledobject_list_clear(&l);
    }
    assert_int_equal(parse_so_list(paged, &l, why, sizeof(why)), ERR_OK);
    assert_int_equal(l.count, 1);
    assert_null(l.resource_version);
    assert_string_equal(l.continue_token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
    kubeobj_scaledobject_list_clear(&l);

    for (i = 0; i < N_OF(errors); i++) {
        print_message("case %zu: %s\n", i, errors[i].json);
        memset(&l, 0x5a, sizeof(l));
        assert_int_equal(parse_so_list(errors[i].json, &l, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(why, errors[i].why);
        assert_true(all_zero(&l, sizeof(l)));
    }
}

/* ---- workloads ---------------------------------------------------------- */

static const char deploy_full[] =
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'annotations':"
    "{'deployment.kubernetes.io/revision':'3'},'creationTimestamp':'2025-01-10T11:00:00Z',"
    "'generation':7,'labels':{'app':'llama'},'managedFields':[{'manager':'kube-controller-manager',"
    "'operation':'Update','subresource':'status','fieldsType':'FieldsV1','fieldsV1':"
    "{'f:status':{'f:readyReplicas':{}}}}],'name':'llama-8b-a100-decode','namespace':'llm',"
    "'resourceVersion':'123','uid':'u'},"
    "'spec':{'progressDeadlineSeconds':600,'replicas':3,'revisionHistoryLimit':10,"
    "'selector':{'matchLabels':{'app':'llama'}},'strategy':{'rollingUpdate':{'maxSurge':'25%',"
    "'maxUnavailable':'25%'},'type':'RollingUpdate'},"
    "'template':{'metadata':{'creationTimestamp':null,'labels':{'app':'llama',"
    "'llm-d.ai/role':'decode','llm-d.ai/inferenceServing':'true'}},'spec':{'containers':"
    "[{'name':'vllm','image':'vllm/vllm-openai:v0.8.5','args':['--model','x'],"
    "'resources':{'limits':{'nvidia.com/gpu':'1'}}}],'restartPolicy':'Always'}}},"
    "'status':{'availableReplicas':2,'conditions':[{'lastTransitionTime':'2025-01-10T11:00:00Z',"
    "'lastUpdateTime':'2025-01-10T11:00:00Z','message':'Deployment has minimum availability.',"
    "'reason':'MinimumReplicasAvailable','status':'True','type':'Available'}],"
    "'observedGeneration':7,'readyReplicas':2,'replicas':3,'unavailableReplicas':1,"
    "'updatedReplicas':3}}";

static const char lws_full[] =
    "{'apiVersion':'leaderworkerset.x-k8s.io/v1','kind':'LeaderWorkerSet','metadata':{"
    "'generation':1,'name':'wide-ep','namespace':'llm','resourceVersion':'77','uid':'u2',"
    "'managedFields':[]},"
    "'spec':{'leaderWorkerTemplate':{'leaderTemplate':{'metadata':{'labels':{"
    "'llm-d.ai/role':'decode','role':'leader'}},'spec':{'containers':[{'name':'leader',"
    "'image':'vllm'}]}},'restartPolicy':'RecreateGroupOnPodRestart','size':4,"
    "'workerTemplate':{'metadata':{'labels':{'llm-d.ai/role':'decode-worker'}},"
    "'spec':{'containers':[{'name':'worker','image':'vllm'}]}}},"
    "'networkConfig':{'subdomainPolicy':'Shared'},'replicas':2,'rolloutStrategy':"
    "{'rollingUpdateConfiguration':{'maxSurge':0,'maxUnavailable':1},'type':'RollingUpdate'},"
    "'startupPolicy':'LeaderCreated'},"
    "'status':{'conditions':[{'lastTransitionTime':'2025-01-10T11:00:00Z','message':"
    "'All replicas are ready','reason':'AllGroupsReady','status':'True','type':'Available'}],"
    "'hpaPodSelector':'leaderworkerset.sigs.k8s.io/name=wide-ep,"
    "leaderworkerset.sigs.k8s.io/worker-index=0','readyReplicas':1,'replicas':2,"
    "'updatedReplicas':2}}";

struct wl_case {
    const char *label;
    const char *json;
    const char *kind;
    bool has_spec;
    int64_t spec;
    int64_t status;
    int64_t ready;
    const char *role;
};

#define DEP(SPEC, STATUS)                                                                          \
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},'spec':{" SPEC "}" STATUS \
    "}"
#define LWS(LWT, STATUS)                                                                           \
    "{'apiVersion':'leaderworkerset.x-k8s.io/v1','kind':'LeaderWorkerSet','metadata':"             \
    "{'name':'d'},'spec':{'replicas':3,'leaderWorkerTemplate':{'size':2" LWT "}}" STATUS "}"
#define TMPL(ROLE) "{'metadata':{'labels':{'llm-d.ai/role':'" ROLE "'}},'spec':{}}"

static const struct wl_case wl_cases[] = {
    {"Deployment full", deploy_full, "Deployment", true, 3, 3, 2, "decode"},
    {"LWS full: the leader's role wins", lws_full, "LeaderWorkerSet", true, 2, 2, 1, "decode"},
    {"Deployment without status", DEP("'replicas':2", ""), "Deployment", true, 2, 0, 0, NULL},
    {"Deployment with an empty status (counts omitted at 0)", DEP("'replicas':0", ",'status':{}"),
     "Deployment", true, 0, 0, 0, NULL},
    {"Deployment without spec.replicas: 1", DEP("", ",'status':{'replicas':1}"), "Deployment",
     false, 1, 1, 0, NULL},
    {"Deployment without spec", "{'kind':'Deployment','metadata':{'name':'d'}}", "Deployment",
     false, 1, 0, 0, NULL},
    {"Deployment, template without labels", DEP("'template':{'metadata':{}}", ""), "Deployment",
     false, 1, 0, 0, NULL},
    {"Deployment, role prefill",
     DEP("'template':" TMPL("prefill"), ",'status':{'replicas':4,'readyReplicas':4}"), "Deployment",
     false, 1, 4, 4, "prefill"},
    {"Deployment, status null", DEP("", ",'status':null"), "Deployment", false, 1, 0, 0, NULL},
    {"LWS without leaderTemplate: the workers' role",
     LWS(",'workerTemplate':" TMPL("decode"), ",'status':{'replicas':3,'readyReplicas':2}"),
     "LeaderWorkerSet", true, 3, 3, 2, "decode"},
    {"LWS leaderTemplate without the label: the workers' role",
     LWS(",'leaderTemplate':{'metadata':{'labels':{'a':'b'}}},'workerTemplate':" TMPL("prefill"),
         ""),
     "LeaderWorkerSet", true, 3, 0, 0, "prefill"},
    {"LWS with only a leader role",
     LWS(",'leaderTemplate':" TMPL("decode") ",'workerTemplate':{}", ""), "LeaderWorkerSet", true,
     3, 0, 0, "decode"},
    {"LWS without status or roles", LWS(",'workerTemplate':{'spec':{}}", ""), "LeaderWorkerSet",
     true, 3, 0, 0, NULL},
    {"LWS without spec",
     "{'kind':'LeaderWorkerSet','metadata':{'name':'d'},'status':"
     "{'replicas':1,'readyReplicas':1}}",
     "LeaderWorkerSet", false, 1, 1, 1, NULL},
};

static void test_workload_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(wl_cases); i++) {
        const struct wl_case *t = &wl_cases[i];
        struct kubeobj_workload w;
        char why[KUBEOBJ_WHY_LEN];
        enum err_code rc;

        print_message("case %zu: %s\n", i, t->label);
        memset(&w, 0x5a, sizeof(w));
        rc = parse_wl(t->json, &w, why, sizeof(why));
        if (rc != ERR_OK)
            print_error("why: %s\n", why);
        assert_int_equal(rc, ERR_OK);
        assert_string_equal(w.kind, t->kind);
        assert_non_null(w.name);
        assert_int_equal(w.has_spec_replicas, t->has_spec);
        assert_int_equal(w.spec_replicas, t->spec);
        assert_int_equal(w.status_replicas, t->status);
        assert_int_equal(w.ready_replicas, t->ready);
        assert_str_or_null(w.role, t->role);
        kubeobj_workload_clear(&w);
        assert_true(all_zero(&w, sizeof(w)));
    }
    kubeobj_workload_clear(NULL);
}

static const struct err_case wl_errors[] = {
    {DEP("'replicas':-1", ""), "spec.replicas: must be an integer >= 0 (got -1)"},
    {DEP("'replicas':'2'", ""), "spec.replicas: must be an integer >= 0 (got \"2\")"},
    {DEP("'replicas':2.5", ""), "spec.replicas: must be an integer >= 0 (got 2.5)"},
    {DEP("", ",'status':{'replicas':-3}"), "status.replicas: must be an integer >= 0 (got -3)"},
    {DEP("", ",'status':{'readyReplicas':0.5}"),
     "status.readyReplicas: must be an integer >= 0 (got 0.5)"},
    {DEP("", ",'status':{'readyReplicas':[]}"),
     "status.readyReplicas: must be an integer >= 0 (got an array)"},
    {DEP("", ",'status':{'replicas':4294967296}"),
     "status.replicas: must be at most 2147483647 (got 4294967296)"},
    {DEP("", ",'status':'ok'"), "status: must be an object (got \"ok\")"},
    {"{'kind':'Deployment','metadata':{'name':'d'},'spec':true}",
     "spec: must be an object (got true)"},
    {DEP("'template':[]", ""), "spec.template: must be an object (got an array)"},
    {DEP("'template':{'metadata':1}", ""), "spec.template.metadata: must be an object (got 1)"},
    {DEP("'template':{'metadata':{'labels':'a=b'}}", ""),
     "spec.template.metadata.labels: must be an object (got \"a=b\")"},
    {DEP("'template':{'metadata':{'labels':{'llm-d.ai/role':1}}}", ""),
     "spec.template.metadata.labels[\"llm-d.ai/role\"]: must be a string (got 1)"},
    {LWS(",'workerTemplate':{'metadata':{'labels':{'llm-d.ai/role':false}}}", ""),
     "spec.leaderWorkerTemplate.workerTemplate.metadata.labels[\"llm-d.ai/role\"]: must be a "
     "string (got false)"},
    {LWS(",'leaderTemplate':" TMPL(
             "decode") ",'workerTemplate':{'metadata':{'labels':{"
                       "'llm-d.ai/role':null,'x':1}}},'extra':{'metadata':{'labels':{'llm-d.ai/"
                       "role':3}}}",
         ""),
     NULL}, /* null role, unknown member types: fine */
    {LWS(",'leaderTemplate':'t'", ""),
     "spec.leaderWorkerTemplate.leaderTemplate: must be an object (got \"t\")"},
    {LWS(",'workerTemplate':[]", ""),
     "spec.leaderWorkerTemplate.workerTemplate: must be an object (got an array)"},
    {"{'kind':'LeaderWorkerSet','metadata':{'name':'d'},'spec':{'leaderWorkerTemplate':5}}",
     "spec.leaderWorkerTemplate: must be an object (got 5)"},
    {LWS("", ",'status':{'readyReplicas':-1}"),
     "status.readyReplicas: must be an integer >= 0 (got -1)"},
    {"{'kind':'StatefulSet','metadata':{'name':'d'}}",
     "kind: \"StatefulSet\" is not supported (want Deployment or LeaderWorkerSet)"},
    {"{'kind':'deployment','metadata':{'name':'d'}}",
     "kind: \"deployment\" is not supported (want Deployment or LeaderWorkerSet)"},
    {"{'apiVersion':'apps/v1','metadata':{'name':'d'}}", "kind: is required"},
    {"{'kind':'Deployment','metadata':{}}", "metadata.name: is required"},
    {"{'kind':'Deployment'}", "metadata.name: is required"},
    {"{'kind':'Deployment','metadata':{'name':1}}", "metadata.name: must be a string (got 1)"},
    {"{'kind':'Deployment','metadata':{'name':'d'},'spec':{'replicas':1}",
     "truncated JSON: the input ends at byte 66 inside an unfinished value"},
};

static void test_workload_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(wl_errors); i++) {
        struct kubeobj_workload w;
        char why[KUBEOBJ_WHY_LEN];
        enum err_code rc;

        print_message("case %zu: %s\n", i, wl_errors[i].json);
        rc = parse_wl(wl_errors[i].json, &w, why, sizeof(why));
        if (wl_errors[i].why == NULL) {
            assert_int_equal(rc, ERR_OK);
            assert_string_equal(w.role, "decode");
            kubeobj_workload_clear(&w);
            continue;
        }
        assert_int_equal(rc, ERR_INVALID);
        assert_string_equal(why, wl_errors[i].why);
        assert_true(all_zero(&w, sizeof(w)));
    }
}

/* ---- owners ------------------------------------------------------------- */

static const char rs_full[] =
    "{'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'annotations':"
    "{'deployment.kubernetes.io/desired-replicas':'3'},'generation':1,'labels':{'app':'llama',"
    "'llm-d.ai/role':'decode','pod-template-hash':'6d8f9c7b5'},'managedFields':[{'manager':"
    "'kube-controller-manager','operation':'Update'}],'name':'llama-8b-a100-decode-6d8f9c7b5',"
    "'namespace':'llm','ownerReferences':[{'apiVersion':'apps/v1','blockOwnerDeletion':true,"
    "'controller':true,'kind':'Deployment','name':'llama-8b-a100-decode','uid':'u'}],"
    "'resourceVersion':'9','uid':'rs-u'},'spec':{'replicas':3,'selector':{'matchLabels':"
    "{'app':'llama'}},'template':{'metadata':{'labels':{'app':'llama'}},'spec':{}}},"
    "'status':{'availableReplicas':3,'fullyLabeledReplicas':3,'observedGeneration':1,"
    "'readyReplicas':3,'replicas':3}}";

static const char pod_full[] =
    "{'apiVersion':'v1','kind':'Pod','metadata':{'creationTimestamp':'2025-01-10T11:00:00Z',"
    "'generateName':'llama-8b-a100-decode-6d8f9c7b5-','labels':{'app':'llama',"
    "'llm-d.ai/role':'decode','pod-template-hash':'6d8f9c7b5'},'name':"
    "'llama-8b-a100-decode-6d8f9c7b5-x2k9p','namespace':'llm','ownerReferences':[{"
    "'apiVersion':'v1','kind':'ConfigMap','name':'not-the-controller','uid':'c'},{"
    "'apiVersion':'apps/v1','blockOwnerDeletion':true,'controller':true,'kind':'ReplicaSet',"
    "'name':'llama-8b-a100-decode-6d8f9c7b5','uid':'rs-u'}],'resourceVersion':'10','uid':'p'},"
    "'spec':{'containers':[{'name':'vllm','image':'vllm/vllm-openai:v0.8.5'}],'nodeName':'n1'},"
    "'status':{'conditions':[{'type':'Ready','status':'True'}],'phase':'Running',"
    "'podIP':'10.1.2.3','containerStatuses':[{'name':'vllm','ready':true,'restartCount':0}]}}";

struct owner_case {
    const char *label;
    const char *json;
    const char *name;
    const char *kind;
    const char *owner_kind;
    const char *owner_name;
    size_t label_count;
    const char *role;
};

#define OBJ(REFS) "{'kind':'Pod','metadata':{'name':'p','ownerReferences':" REFS "}}"

static const struct owner_case owner_cases[] = {
    {"ReplicaSet owned by its Deployment", rs_full, "llama-8b-a100-decode-6d8f9c7b5", "ReplicaSet",
     "Deployment", "llama-8b-a100-decode", 3, "decode"},
    {"Pod: the controller, not the first entry", pod_full, "llama-8b-a100-decode-6d8f9c7b5-x2k9p",
     "Pod", "ReplicaSet", "llama-8b-a100-decode-6d8f9c7b5", 3, "decode"},
    {"no controller: the first entry",
     OBJ("[{'kind':'A','name':'a','controller':false},{'kind':'B','name':'b'}]"), "p", "Pod", "A",
     "a", 0, NULL},
    {"the first of two controllers",
     OBJ("[{'kind':'A','name':'a'},{'kind':'B','name':'b','controller':true},"
         "{'kind':'C','name':'c','controller':true}]"),
     "p", "Pod", "B", "b", 0, NULL},
    {"controller null is no controller",
     OBJ("[{'kind':'A','name':'a'},{'kind':'B','name':'b','controller':null}]"), "p", "Pod", "A",
     "a", 0, NULL},
    {"empty ownerReferences", OBJ("[]"), "p", "Pod", NULL, NULL, 0, NULL},
    {"ownerReferences null", OBJ("null"), "p", "Pod", NULL, NULL, 0, NULL},
    {"no ownerReferences, no kind, empty labels", "{'metadata':{'name':'standalone','labels':{}}}",
     "standalone", NULL, NULL, NULL, 0, NULL},
    {"LWS leader pod: owned by a StatefulSet, LWS labels",
     "{'kind':'Pod','metadata':{'name':'wide-ep-0','labels':{"
     "'leaderworkerset.sigs.k8s.io/name':'wide-ep','leaderworkerset.sigs.k8s.io/group-index':'0',"
     "'leaderworkerset.sigs.k8s.io/worker-index':'0','llm-d.ai/role':'decode'},"
     "'ownerReferences':[{'apiVersion':'apps/v1','kind':'StatefulSet','name':'wide-ep',"
     "'controller':true,'uid':'s'}]}}",
     "wide-ep-0", "Pod", "StatefulSet", "wide-ep", 4, "decode"},
};

static void test_owner_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(owner_cases); i++) {
        const struct owner_case *t = &owner_cases[i];
        struct kubeobj_object o;
        char why[KUBEOBJ_WHY_LEN];
        enum err_code rc;

        print_message("case %zu: %s\n", i, t->label);
        memset(&o, 0x5a, sizeof(o));
        rc = parse_obj(t->json, &o, why, sizeof(why));
        if (rc != ERR_OK)
            print_error("why: %s\n", why);
        assert_int_equal(rc, ERR_OK);
        assert_string_equal(o.name, t->name);
        assert_str_or_null(o.kind, t->kind);
        assert_str_or_null(o.owner_kind, t->owner_kind);
        assert_str_or_null(o.owner_name, t->owner_name);
        assert_int_equal(o.label_count, t->label_count);
        if (t->label_count == 0) {
            assert_null(o.label_names);
            assert_null(o.label_values);
        }
        assert_str_or_null(kubeobj_label(&o, KUBEOBJ_LABEL_ROLE), t->role);
        kubeobj_object_clear(&o);
        assert_true(all_zero(&o, sizeof(o)));
    }
}

static void test_owner_labels(void **state)
{
    struct kubeobj_object o;
    char why[KUBEOBJ_WHY_LEN];
    (void)state;

    assert_int_equal(parse_obj(rs_full, &o, why, sizeof(why)), ERR_OK);
    assert_string_equal(o.namespace_, "llm");
    assert_int_equal(o.label_count, 3);
    assert_string_equal(o.label_names[0], "app"); /* in the order sent */
    assert_string_equal(o.label_values[0], "llama");
    assert_string_equal(o.label_names[2], "pod-template-hash");
    assert_string_equal(o.label_values[2], "6d8f9c7b5");
    assert_string_equal(kubeobj_label(&o, "app"), "llama");
    assert_null(kubeobj_label(&o, "App"));
    assert_null(kubeobj_label(&o, NULL));
    assert_null(kubeobj_label(NULL, "app"));
    kubeobj_object_clear(&o);
    kubeobj_object_clear(&o);
    kubeobj_object_clear(NULL);
}

static const struct err_case owner_errors[] = {
    {OBJ("{}"), "metadata.ownerReferences: must be an array (got an object)"},
    {OBJ("['rs']"), "metadata.ownerReferences[0]: must be an object (got \"rs\")"},
    {OBJ("[{'kind':'A','name':'a'},{'name':'b'}]"),
     "metadata.ownerReferences[1].kind: is required"},
    {OBJ("[{'kind':'A','name':7}]"), "metadata.ownerReferences[0].name: must be a string (got 7)"},
    {OBJ("[{'kind':'A','name':'a','controller':'true'}]"),
     "metadata.ownerReferences[0].controller: must be a boolean (got \"true\")"},
    {"{'kind':'Pod','metadata':{'name':'p','labels':{'app':'x','gpu':1}}}",
     "metadata.labels[\"gpu\"]: must be a string (got 1)"},
    {"{'kind':'Pod','metadata':{'name':'p','labels':{'a\\\"b':null}}}",
     "metadata.labels[\"a\\\"b\"]: must be a string (got null)"},
    {"{'kind':'Pod','metadata':{'name':'p','labels':['app']}}",
     "metadata.labels: must be an object (got an array)"},
    {"{'kind':'Pod','metadata':{'name':'p','namespace':{}}}",
     "metadata.namespace: must be a string (got an object)"},
    {"{'kind':['Pod'],'metadata':{'name':'p'}}", "kind: must be a string (got an array)"},
    {"{'kind':'Pod'}", "metadata: is required"},
    {"{'kind':'Pod','metadata':{'uid':'u'}}", "metadata.name: is required"},
    {"{'kind':'Pod','metadata':{'name':'p'},}", "invalid JSON near byte 38: \"}\""},
    {"{'kind':'Pod','metadata':{'name':'p", "truncated JSON: the input ends at byte 35 inside "
                                            "an unfinished value"},
};

static void test_owner_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(owner_errors); i++) {
        struct kubeobj_object o;
        char why[KUBEOBJ_WHY_LEN];

        print_message("case %zu: %s\n", i, owner_errors[i].json);
        memset(&o, 0x5a, sizeof(o));
        assert_int_equal(parse_obj(owner_errors[i].json, &o, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(why, owner_errors[i].why);
        assert_true(all_zero(&o, sizeof(o)));
    }
}

/* ---- PodList ------------------------------------------------------------ */

static void test_pod_list(void **state)
{
    /* the API server leaves kind and apiVersion out of a PodList's items */
    static const char list[] =
        "{'kind':'PodList','apiVersion':'v1','metadata':{'resourceVersion':'555'},'items':["
        "{'metadata':{'name':'a-1','namespace':'llm','labels':{'llm-d.ai/role':'decode'},"
        "'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'a-rs',"
        "'controller':true,'uid':'x'}],'managedFields':[{'manager':'kubelet'}]},"
        "'spec':{'containers':[]},'status':{'phase':'Running'}},"
        "{'metadata':{'name':'bare','namespace':'llm'},'status':{'phase':'Pending'}},"
        "{'kind':'Pod','apiVersion':'v1','metadata':{'name':'c-0','namespace':'llm',"
        "'labels':{'leaderworkerset.sigs.k8s.io/name':'c'},'ownerReferences':[{'kind':"
        "'StatefulSet','name':'c','controller':true}]}}]}";
    struct kubeobj_object_list l;
    char why[KUBEOBJ_WHY_LEN];
    (void)state;

    assert_int_equal(parse_pods(list, &l, why, sizeof(why)), ERR_OK);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.resource_version, "555");
    assert_null(l.continue_token);
    assert_string_equal(l.items[0].name, "a-1");
    assert_string_equal(l.items[0].kind, "Pod");
    assert_string_equal(l.items[0].owner_kind, "ReplicaSet");
    assert_string_equal(l.items[0].owner_name, "a-rs");
    assert_string_equal(kubeobj_label(&l.items[0], "llm-d.ai/role"), "decode");
    assert_string_equal(l.items[1].name, "bare");
    assert_string_equal(l.items[1].kind, "Pod");
    assert_null(l.items[1].owner_kind);
    assert_int_equal(l.items[1].label_count, 0);
    assert_string_equal(l.items[2].owner_kind, "StatefulSet");
    assert_string_equal(kubeobj_label(&l.items[2], "leaderworkerset.sigs.k8s.io/name"), "c");
    kubeobj_object_list_clear(&l);
    assert_true(all_zero(&l, sizeof(l)));
    kubeobj_object_list_clear(&l);
    kubeobj_object_list_clear(NULL);

    assert_int_equal(
        parse_pods("{'kind':'PodList','metadata':{},'items':[]}", &l, why, sizeof(why)), ERR_OK);
    assert_int_equal(l.count, 0);
    assert_null(l.items);
    assert_null(l.resource_version);
    kubeobj_object_list_clear(&l);
}

static const struct err_case pod_list_errors[] = {
    {"{'kind':'ScaledObjectList','items':[]}", "kind: \"ScaledObjectList\" is not PodList"},
    {"{'kind':'PodList','items':'none'}", "items: must be an array (got \"none\")"},
    {"{'items':[{'metadata':{'name':'a'}},null]}", "items[1]: must be an object (got null)"},
    {"{'items':[{'metadata':{'name':'a'}},{'metadata':{'name':'b'}},{'kind':'Node',"
     "'metadata':{'name':'n'}}]}",
     "items[2].kind: \"Node\" is not Pod"},
    {"{'items':[{'metadata':{'name':'a'}},{'metadata':{'name':'b','labels':{'x':1}}}]}",
     "items[1].metadata.labels[\"x\"]: must be a string (got 1)"},
    {"{'items':[{'metadata':{'name':'a','ownerReferences':[{'kind':'RS'}]}}]}",
     "items[0].metadata.ownerReferences[0].name: is required"},
    {"{'items':[{'metadata':{}}]}", "items[0].metadata.name: is required"},
    {"{'items':[{'metadata':{'name':'a'}},{'metadata':{'name':'b'}}",
     "truncated JSON: the input ends at byte 61 inside an unfinished value"},
};

static void test_pod_list_errors(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(pod_list_errors); i++) {
        struct kubeobj_object_list l;
        char why[KUBEOBJ_WHY_LEN];

        print_message("case %zu: %s\n", i, pod_list_errors[i].json);
        memset(&l, 0x5a, sizeof(l));
        assert_int_equal(parse_pods(pod_list_errors[i].json, &l, why, sizeof(why)), ERR_INVALID);
        assert_string_equal(why, pod_list_errors[i].why);
        assert_true(all_zero(&l, sizeof(l)));
    }
}

/* 5000 pods: the items are walked through the links, not by index. */
static void test_pod_list_large(void **state)
{
    const size_t n = 5000;
    size_t cap = 64 + n * 160, off = 0, i;
    char *buf = malloc(cap);
    struct kubeobj_object_list l;
    char why[KUBEOBJ_WHY_LEN];
    (void)state;

    assert_non_null(buf);
    off += (size_t)snprintf(buf + off, cap - off, "{\"kind\":\"PodList\",\"items\":[");
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, cap - off,
                                "%s{\"metadata\":{\"name\":\"pod-%zu\",\"labels\":{\"i\":\"%zu\"},"
                                "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs-%zu\","
                                "\"controller\":true}]}}",
                                i ? "," : "", i, i, i % 7);
    off += (size_t)snprintf(buf + off, cap - off, "]}");
    assert_true(off < cap);
    assert_int_equal(kubeobj_parse_pod_list(buf, off, 0, &l, why, sizeof(why)), ERR_OK);
    assert_int_equal(l.count, n);
    assert_string_equal(l.items[4999].name, "pod-4999");
    assert_string_equal(kubeobj_label(&l.items[4999], "i"), "4999");
    assert_string_equal(l.items[4999].owner_name, "rs-1");
    kubeobj_object_list_clear(&l);
    free(buf);
}

/* ---- limits and arguments ----------------------------------------------- */

static void test_limits(void **state)
{
    const size_t big = KUBEOBJ_DEFAULT_MAX_JSON + 1;
    char *buf = malloc(big), why[KUBEOBJ_WHY_LEN], want[KUBEOBJ_WHY_LEN];
    struct kubeobj_scaledobject so;
    struct kubeobj_workload w;
    struct kubeobj_object o;
    struct kubeobj_scaledobject_list sl;
    struct kubeobj_object_list pl;
    struct doc d;
    char *s;
    size_t name_len = KUBEOBJ_MAX_STRING, n, k;
    (void)state;

    /* over the default limit: refused before parsing */
    assert_non_null(buf);
    memset(buf, ' ', big);
    buf[0] = '{';
    buf[big - 1] = '}';
    assert_int_equal(kubeobj_parse_scaledobject(buf, big, 0, &so, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "JSON of 8388609 bytes exceeds the limit of 8 MiB");
    assert_int_equal(kubeobj_parse_pod_list(buf, big, 0, &pl, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "JSON of 8388609 bytes exceeds the limit of 8 MiB");
    free(buf);

    /* a caller's own limit */
    d = doc(SO("", REF));
    assert_int_equal(kubeobj_parse_scaledobject(d.p, d.len, d.len - 1, &so, why, sizeof(why)),
                     ERR_INVALID);
    snprintf(want, sizeof(want), "JSON of %zu bytes exceeds the limit of %zu bytes", d.len,
             d.len - 1);
    assert_string_equal(why, want);
    assert_int_equal(kubeobj_parse_scaledobject(d.p, d.len, d.len, &so, why, sizeof(why)), ERR_OK);
    kubeobj_scaledobject_clear(&so);
    assert_int_equal(kubeobj_parse_scaledobject_list(d.p, d.len, 2048, &sl, why, sizeof(why)),
                     ERR_INVALID);
    assert_string_equal(why, "kind: \"ScaledObject\" is not ScaledObjectList");
    assert_int_equal(kubeobj_parse_workload(d.p, d.len, 64 * 1024, &w, why, sizeof(why)),
                     ERR_INVALID);
    assert_string_equal(why, "kind: \"ScaledObject\" is not supported (want Deployment or "
                             "LeaderWorkerSet)");
    doc_free(&d);

    /* strings: 64 KiB is fine, one byte more is not */
    for (n = name_len; n <= name_len + 1; n++) {
        size_t cap = n + 128;
        s = malloc(cap);
        assert_non_null(s);
        memcpy(s, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"", 34);
        memset(s + 34, 'p', n);
        memcpy(s + 34 + n, "\"}}", 3);
        if (n == name_len) {
            assert_int_equal(kubeobj_parse_owner(s, 34 + n + 3, 0, &o, why, sizeof(why)), ERR_OK);
            assert_int_equal(strlen(o.name), n);
            kubeobj_object_clear(&o);
        } else {
            assert_int_equal(kubeobj_parse_owner(s, 34 + n + 3, 0, &o, why, sizeof(why)),
                             ERR_INVALID);
            assert_string_equal(why, "metadata.name: string of 65537 bytes exceeds the limit of "
                                     "65536 bytes");
        }
        free(s);
    }

    /* a long label value and a long variant cost */
    n = name_len + 1;
    s = malloc(n + 200);
    assert_non_null(s);
    k = strlen("{\"metadata\":{\"name\":\"p\",\"labels\":{\"k\":\"");
    memcpy(s, "{\"metadata\":{\"name\":\"p\",\"labels\":{\"k\":\"", k);
    memset(s + k, 'v', n);
    memcpy(s + k + n, "\"}}}", 4);
    assert_int_equal(kubeobj_parse_owner(s, k + n + 4, 0, &o, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "metadata.labels[\"k\"]: string of 65537 bytes exceeds the limit of "
                             "65536 bytes");
    free(s);

    /* nesting deeper than cJSON takes is an error, not a crash */
    n = 5000;
    s = malloc(2 * n + 2);
    assert_non_null(s);
    s[0] = '{';
    memset(s + 1, '[', n);
    memset(s + 1 + n, ']', n);
    s[2 * n + 1] = '}';
    assert_int_equal(kubeobj_parse_owner(s, 2 * n + 2, 0, &o, why, sizeof(why)), ERR_INVALID);
    assert_non_null(strstr(why, "invalid JSON near byte"));
    free(s);
}

static void test_arguments(void **state)
{
    struct kubeobj_scaledobject so;
    struct kubeobj_workload w;
    struct kubeobj_object o;
    char why[KUBEOBJ_WHY_LEN], tiny[8];
    (void)state;

    assert_int_equal(kubeobj_parse_scaledobject(NULL, 5, 0, &so, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "no input");
    assert_int_equal(kubeobj_parse_workload(NULL, 0, 0, &w, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "empty JSON document");
    assert_int_equal(kubeobj_parse_owner("{}", 2, 0, NULL, why, sizeof(why)), ERR_INVALID);
    assert_string_equal(why, "no output");
    assert_int_equal(kubeobj_parse_scaledobject_list("{}", 2, 0, NULL, why, sizeof(why)),
                     ERR_INVALID);
    assert_int_equal(kubeobj_parse_pod_list("{}", 2, 0, NULL, NULL, 0), ERR_INVALID);
    /* no why at all, or a short one */
    assert_int_equal(kubeobj_parse_owner("{}", 2, 0, &o, NULL, 0), ERR_INVALID);
    assert_int_equal(kubeobj_parse_owner("{}", 2, 0, &o, tiny, sizeof(tiny)), ERR_INVALID);
    assert_string_equal(tiny, "metadat");
    /* only len bytes count: the rest of the buffer is never read */
    assert_int_equal(
        kubeobj_parse_owner("{\"metadata\":{\"name\":\"p\"}}garbage", 25, 0, &o, why, sizeof(why)),
        ERR_OK);
    assert_string_equal(o.name, "p");
    kubeobj_object_clear(&o);
}

/* ---- Status messages ---------------------------------------------------- */

struct status_case {
    int http;
    const char *body; /* single quotes become double quotes */
    const char *want;
};

static const struct status_case status_cases[] = {
    {401,
     "{'kind':'Status','apiVersion':'v1','metadata':{},'status':'Failure','message':"
     "'Unauthorized','reason':'Unauthorized','code':401}",
     "HTTP 401 Unauthorized"},
    {403,
     "{'kind':'Status','apiVersion':'v1','metadata':{},'status':'Failure','message':"
     "'scaledobjects.keda.sh \\'x\\' is forbidden: User "
     "\\'system:serviceaccount:keda:scaler\\' cannot get resource \\'scaledobjects\\' in API "
     "group \\'keda.sh\\' in the namespace \\'llm\\'','reason':'Forbidden','details':{'name':"
     "'x','group':'keda.sh','kind':'scaledobjects'},'code':403}\n",
     "HTTP 403 Forbidden: scaledobjects.keda.sh 'x' is forbidden: User "
     "'system:serviceaccount:keda:scaler' cannot get resource 'scaledobjects' in API group "
     "'keda.sh' in the namespace 'llm'"},
    {404,
     "{'kind':'Status','apiVersion':'v1','metadata':{},'status':'Failure','message':"
     "'deployments.apps \\'llama\\' not found','reason':'NotFound','details':{'name':'llama',"
     "'group':'apps','kind':'deployments'},'code':404}",
     "HTTP 404 NotFound: deployments.apps 'llama' not found"},
    {500,
     "{'kind':'Status','apiVersion':'v1','metadata':{},'status':'Failure','message':"
     "'Internal error occurred: etcdserver: request timed out','reason':'InternalError',"
     "'details':{'causes':[{'message':'etcdserver: request timed out'}]},'code':500}",
     "HTTP 500 InternalError: Internal error occurred: etcdserver: request timed out"},
    {500, "{'kind':'Status','status':'Failure','message':'boom'}",
     "HTTP 500 Internal Server Error: boom"},
    {503, "{'status':'Failure','message':'  the server is\\n\\tcurrently unable ','reason':''}",
     "HTTP 503 Service Unavailable: the server is currently unable"},
    {429, "{'kind':'Status','message':'','reason':'TooManyRequests','code':429}",
     "HTTP 429 TooManyRequests"},
    {403, "{'kind':'Status','message':'caf\\u00e9 \\u001b[31m','reason':'Forbidden'}",
     "HTTP 403 Forbidden: caf?? ?[31m"},
    {599, "{'kind':'Status','message':'odd'}", "HTTP 599: odd"},
    {502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>",
     "HTTP 502 Bad Gateway: <html> <head><title>502 Bad Gateway</title></head> </html>"},
    {404, "404 page not found\n", "HTTP 404 Not Found: 404 page not found"},
    {500, "", "HTTP 500 Internal Server Error (empty body)"},
    {401, "   \n", "HTTP 401 Unauthorized (empty body)"},
    {503, "{'error':'upstream connect error'}",
     "HTTP 503 Service Unavailable: {'error':'upstream connect error'}"},
    {500, "{'kind':'Status','message':7}",
     "HTTP 500 Internal Server Error: {'kind':'Status','message':7}"},
    {500, "{'kind':'Status','mess", "HTTP 500 Internal Server Error: {'kind':'Status','mess"},
    {0, "x", "HTTP 0: x"},
};

static void test_status_messages(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < N_OF(status_cases); i++) {
        const struct status_case *t = &status_cases[i];
        char out[KUBEOBJ_WHY_LEN], want[KUBEOBJ_WHY_LEN];
        struct doc d = doc(t->body);
        size_t k;

        print_message("case %zu: %d %s\n", i, t->http, t->body);
        /* the expected text is written with ' for " too */
        snprintf(want, sizeof(want), "%s", t->want);
        for (k = 0; want[k] != '\0'; k++)
            if (want[k] == '\'')
                want[k] = '"';
        kubeobj_status_message(t->http, d.p, d.len, out, sizeof(out));
        assert_string_equal(out, want);
        doc_free(&d);
    }
}

static void test_status_message_limits(void **state)
{
    char body[1000], out[KUBEOBJ_WHY_LEN], small[16], want[300];
    char *big;
    size_t n;
    (void)state;

    /* at most 200 body bytes, then "..." */
    memset(body, 'a', sizeof(body));
    body[0] = '\x01';
    kubeobj_status_message(502, body, sizeof(body), out, sizeof(out));
    snprintf(want, sizeof(want), "HTTP 502 Bad Gateway: ?%.199s...", body + 1);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), strlen("HTTP 502 Bad Gateway: ") + 200 + 3);

    /* exactly 200 bytes: no "..." */
    kubeobj_status_message(502, body + 1, 200, out, sizeof(out));
    assert_int_equal(strlen(out), strlen("HTTP 502 Bad Gateway: ") + 200);

    /* cut to the caller's buffer, always terminated */
    kubeobj_status_message(403,
                           "{\"kind\":\"Status\",\"message\":\"forbidden everywhere\","
                           "\"reason\":\"Forbidden\"}",
                           69, small, sizeof(small));
    assert_string_equal(small, "HTTP 403 Forbid");
    kubeobj_status_message(403, "x", 1, NULL, 10);
    kubeobj_status_message(403, "x", 1, small, 0);
    kubeobj_status_message(503, NULL, 5, out, sizeof(out));
    assert_string_equal(out, "HTTP 503 Service Unavailable (empty body)");

    /* a huge Status message is quoted, not copied whole */
    n = 100000;
    big = malloc(n + 64);
    assert_non_null(big);
    memcpy(big, "{\"kind\":\"Status\",\"message\":\"", 28);
    memset(big + 28, 'm', n);
    memcpy(big + 28 + n, "\"}", 2);
    kubeobj_status_message(500, big, 28 + n + 2, out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_true(strncmp(out, "HTTP 500 Internal Server Error: mmm", 35) == 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaledobject_full),
        cmocka_unit_test(test_scaledobject_table),
        cmocka_unit_test(test_scaledobject_errors),
        cmocka_unit_test(test_scaledobject_list),
        cmocka_unit_test(test_scaledobject_list_shapes),
        cmocka_unit_test(test_workload_table),
        cmocka_unit_test(test_workload_errors),
        cmocka_unit_test(test_owner_table),
        cmocka_unit_test(test_owner_labels),
        cmocka_unit_test(test_owner_errors),
        cmocka_unit_test(test_pod_list),
        cmocka_unit_test(test_pod_list_errors),
        cmocka_unit_test(test_pod_list_large),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_status_messages),
        cmocka_unit_test(test_status_message_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
