#!/usr/bin/python3
"""test_kube: the `--kube` (llm-d.ai/managed annotation) path end to end.

A real Prometheus scrapes the vLLM simulator (promstack), and the scaler
runs with `--kube --kube-api-url https://127.0.0.1:PORT --kube-token-file F
--kube-ca-file F --kube-cache-ttl 2s --refresh-interval 1s` against
fakekube, a fake API server of this test's own (TLS, bearer token, the
chart's RBAC enforced) serving ScaledObjects, Deployments (+ /scale),
LeaderWorkerSets (+ /scale), ReplicaSets and Pods as the real API returns
them. The simulator serves pods whose names match the fake Pod objects.

What is checked (the issue's list, one namespace per scenario so that
caches and Prometheus windows never mix):
- model id and cost come from the annotations (trigger metadata without
  modelID works on a managed ScaledObject), and the current count is the
  scale target's status.replicas;
- a pending replica (status.replicas 3, readyReplicas 2) holds the target;
  once ready, the scale-up proceeds;
- two variants costing 5 and 20: the +1 goes to the cheap one, the -1 to
  the expensive one (WVA);
- pods without llm_d_ai_variant attribute by owner chain (Pod ->
  ReplicaSet -> Deployment);
- roles: prefill / decode variants are analysed per role group;
- a managed ScaledObject without llm-d.ai/model-id is FAILED_PRECONDITION
  naming it; llm-d.ai/managed "True" is not managed (modelID metadata is
  then required); a bad llm-d.ai/variant-cost is refused;
- spec.minReplicaCount / maxReplicaCount clamp, trigger metadata overrides;
- a LeaderWorkerSet target (status from the LWS object);
- a wrong token is UNAVAILABLE naming 401 Unauthorized (GetMetricSpec still
  answers); 403, 500, a timeout and an API server that is down are
  UNAVAILABLE too, and the scaler recovers when the API server comes back;
- reads are cached: 20 GetMetrics within the TTL read each object at most
  once, and a change shows after the TTL;
- every request the scaler made was allowed by the chart's RBAC, and the
  chart grants exactly that.

Expected values follow WVA V1 with the HPA tolerance step (DESIGN section
4): for these small counts the step is WVA's +1 / -1. Every wait is
bounded; every process is killed at exit. Last line: "N passed, N failed".
"""
import json
import os
import re
import sys
import time

import grpc

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakekube as F  # noqa: E402
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402

CACHE_TTL = 2.0          # --kube-cache-ttl
KUBE_TIMEOUT = 2.0       # --kube-timeout (the default is 5 s)
REFRESH = 1.0            # --refresh-interval
SETTLE = CACHE_TTL + 2 * REFRESH + 1.0   # a change in the fake reaches an answer
ANSWER_TIMEOUT = 25.0    # data in the simulator -> the expected answer
SCALER_ADDRESS = "saturation-scaler.keda.svc.cluster.local:6000"
CHART = os.path.join(S.SOURCE_DIR, "charts", "saturation-scaler")

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

SIM = None
PROM = None
KUBE = None
SRV = None
C = None


def kube_args(fake, token_file=None, ttl="2s"):
    return fake.scaler_args(token_file) + ["--kube-cache-ttl", ttl,
                                           "--kube-timeout", "%gs" % KUBE_TIMEOUT]


def setup():
    global SIM, PROM, KUBE, SRV, C
    P.check_tools()
    helptext = S.binary_help()
    missing = [f for f in ("--kube", "--kube-api-url", "--kube-token-file", "--kube-ca-file",
                           "--kube-cache-ttl", "--kube-timeout") if f not in helptext]
    assert not missing, ("%s serve --help does not show %s: the --kube mode is not built"
                         % (S.BINARY, ", ".join(missing)))
    SIM = P.Sim().start()
    PROM = P.Prometheus([SIM.address]).start()
    KUBE = F.FakeKube(directory=P.subdir("kube")).start()
    SRV = P.scaler(PROM.url, args=kube_args(KUBE) + ["--log-level", "debug"])
    C = SRV.client()


def teardown():
    if C is not None:
        C.close()
    if SRV is not None:
        rc = SRV.stop()
        if rc != 0:
            print(SRV.stderr_text())
        assert rc == 0, "scaler exited with %s" % rc
    if KUBE is not None:
        KUBE.close()
    if PROM is not None:
        PROM.stop()
    if SIM is not None:
        SIM.stop()


# ---- helpers -----------------------------------------------------------------------------

SUFFIXES = ("x2k4p", "q7mzt", "b8n2w", "h5r9c", "t4v6d", "m3s8f", "z9l2k", "w6p4j",
            "c2x7n", "r8d3q", "k5f9m", "n7t2b")


def so_ref(name, ns, **meta):
    """The ScaledObjectRef KEDA sends for a trigger whose metadata is
    scalerAddress plus meta (no modelID unless given)."""
    md = {"scalerAddress": SCALER_ADDRESS}
    md.update({k: str(v) for k, v in meta.items()})
    return S.ref(model=None, name=name, namespace=ns, meta=md)


class Variant:
    """One ScaledObject over one Deployment (or LeaderWorkerSet), with its
    pods in the fake API server and in the simulator."""

    def __init__(self, ns, name, model, kvs, cost=None, replicas=None, ready=None,
                 spec_replicas=None, role=None, labelled=True, managed="true", model_id=True,
                 min_replicas=None, max_replicas=None, lws=False, fake=None, sim=True):
        self.ns, self.name, self.model = ns, name, model
        self.fake = fake or KUBE
        self.labelled = labelled
        self.lws = lws
        replicas = len(kvs) if replicas is None else replicas
        if lws:
            self.target = name + "-lws"
            obj, self.owner, pods = self.fake.add_lws(self.target, ns, replicas=replicas,
                                                      ready=ready, spec_replicas=spec_replicas,
                                                      role=role, model=model)
            self.pod_names = [p["metadata"]["name"] for p in pods][:len(kvs)]
            kind, api = "LeaderWorkerSet", "leaderworkerset.x-k8s.io/v1"
        else:
            self.target = name + "-vllm"
            h = F.pod_template_hash(self.target)
            self.pod_names = ["%s-%s-%s" % (self.target, h, SUFFIXES[i]) for i in range(len(kvs))]
            _, self.owner, _ = self.fake.add_deployment(self.target, ns, self.pod_names,
                                                        replicas=replicas, ready=ready,
                                                        spec_replicas=spec_replicas, role=role,
                                                        model=model)
            kind = api = None
        self.kind = kind or "Deployment"
        self.fake.put(F.scaled_object(name, ns, self.target, kind=kind, api_version=api,
                                      model_id=model if model_id is True else model_id,
                                      cost=cost, managed=managed, min_replicas=min_replicas,
                                      max_replicas=max_replicas))
        if sim:
            SIM.add_pods([self.sim_pod(p, kv) for p, kv in zip(self.pod_names, kvs)])

    def sim_pod(self, pod_name, kv):
        return P.pod(pod_name, self.model, kv, namespace=self.ns,
                     variant=self.name if self.labelled else None)

    def add_pod(self, kv):
        """One more pod: a fake Pod owned by the ReplicaSet and a sim pod."""
        i = len(self.pod_names)
        name = "%s-%s-%s" % (self.target, F.pod_template_hash(self.target), SUFFIXES[i])
        self.fake.put(F.pod(name, self.ns, owner=self.owner, model=self.model))
        SIM.add_pods([self.sim_pod(name, kv)])
        self.pod_names.append(name)
        return name

    def ref(self, **meta):
        return so_ref(self.name, self.ns, **meta)

    def set_replicas(self, replicas, ready=None):
        self.fake.set_replicas(self.kind, self.ns, self.target, replicas, ready=ready)


def wait_series(model, ns, n):
    """Prometheus holds n kv series of the model (scraped at least once)."""
    PROM.wait_count(P.kv_expr(model, ns), n, timeout=P.SCRAPE_TIMEOUT)


def answers(variants, client=None):
    c = client or C
    return tuple(c.desired(v.ref()) for v in variants)


def wait_answers(variants, want, timeout=ANSWER_TIMEOUT, client=None):
    """Poll until the variants answer want (a tuple); the seconds it took."""
    t0 = time.monotonic()
    last = [None]

    def check():
        last[0] = answers(variants, client)
        return last[0] == tuple(want)
    try:
        S.wait_until(check, timeout, 0.2, "answers %r for %s" % (
            tuple(want), ", ".join("%s/%s" % (v.ns, v.name) for v in variants)))
    except AssertionError as e:
        raise AssertionError("%s; last answers %r" % (e, last[0]))
    return time.monotonic() - t0


def steady(variants, want, duration=3.0, client=None):
    """Assert the answers stay want for duration seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        got = answers(variants, client)
        assert got == tuple(want), "expected %r to hold, got %r" % (tuple(want), got)
        time.sleep(0.2)


def rpc_error(fn, *args, **kw):
    """The grpc.RpcError fn raises (AssertionError when it answers)."""
    try:
        got = fn(*args, **kw)
    except grpc.RpcError as e:
        return e
    raise AssertionError("expected an error, got %r" % (got,))


def expect_unavailable(r, *needles, client=None, timeout=S.RPC_TIMEOUT):
    """GetMetrics and IsActive both fail with UNAVAILABLE, and the GetMetrics
    message holds every needle; the message."""
    c = client or C
    e = rpc_error(c.get_metrics, r, timeout=timeout)
    assert e.code() == UNAVAILABLE, "GetMetrics: %s" % S.describe(e)
    for n in needles:
        assert n in e.details(), "GetMetrics message %r lacks %r" % (e.details(), n)
    e2 = rpc_error(c.is_active, r, timeout=timeout)
    assert e2.code() == UNAVAILABLE, "IsActive: %s" % S.describe(e2)
    return e.details()


def expect_metric_spec(r, client=None):
    """GetMetricSpec answers the default metric, target 1."""
    specs = (client or C).get_metric_spec(r)
    assert len(specs) == 1, specs
    assert specs[0].metricName == S.DEFAULT_METRIC, specs[0]
    assert specs[0].targetSize == 1, specs[0]


# ---- annotations -------------------------------------------------------------------------

def test_model_id_and_cost_from_annotations():
    ns, m = "annot", "acme/annot-7b.v1"
    # Both saturated. Without the cost annotation both would cost 10 and the
    # tie would give the +1 to the smaller name, a-default.
    a = Variant(ns, "a-default", m, [0.95])              # no llm-d.ai/variant-cost: 10
    b = Variant(ns, "b-cost5", m, [0.95], cost="5")
    wait_series(m, ns, 2)
    t = wait_answers([a, b], (1, 2))
    print("  b-cost5 (5) got the +1 over a-default (10) after %.1fs" % t)
    steady([a, b], (1, 2), 2.0)
    assert C.is_active(a.ref()) is True
    # The trigger metadata has no modelID: GetMetricSpec needs none, and
    # honours metricName.
    expect_metric_spec(a.ref())
    specs = C.get_metric_spec(a.ref(metricName="granite-desired"))
    assert [sp.metricName for sp in specs] == ["granite-desired"], specs


def test_current_count_is_status_replicas():
    # 10 replicas by status, 2 pods report (saturated): the step is from
    # 10 (the HPA's divisor), 10 -> 12, not from the 2 pods (-> 3).
    ns, m = "count", "acme/count"
    v = Variant(ns, "so-count", m, [0.95, 0.95], replicas=10)
    wait_series(m, ns, 2)
    wait_answers([v], (12,))


def test_first_request_parks():
    # DESIGN section 5: a request whose data is not cached yet is parked and
    # answered when the fetch completes. The series are in Prometheus; the
    # very first GetMetrics (and IsActive) for the model must answer, not
    # fail: KEDA counts a failure towards its fallback.
    ns, m = "first", "acme/first"
    v = Variant(ns, "fc", m, [0.95])
    a = Variant(ns, "fa", "acme/first-active", [0.95])
    wait_series(m, ns, 1)
    wait_series("acme/first-active", ns, 1)
    got = C.desired(v.ref())
    assert got == 2, got
    assert C.is_active(a.ref()) is True


# ---- pending replicas --------------------------------------------------------------------

def test_pending_replica_holds_then_scales():
    ns, m = "pending", "acme/pending"
    # status.replicas 3, readyReplicas 2 (spec.replicas 3): one pending.
    v = Variant(ns, "so-pend", m, [0.95, 0.95], replicas=3, ready=2)
    wait_series(m, ns, 2)
    S.wait_until(lambda: C.is_active(v.ref()), ANSWER_TIMEOUT, 0.2, "IsActive (pods report)")
    time.sleep(SETTLE)  # data and objects are in: whatever comes now is the decision
    assert answers([v]) == (3,), "pending replica: expected to hold 3, got %r" % (answers([v]),)
    steady([v], (3,), 4.0)
    # The third replica becomes ready (and reports, saturated): scale up.
    v.add_pod(0.95)
    v.set_replicas(3, ready=3)
    wait_series(m, ns, 3)
    t = wait_answers([v], (4,))
    print("  ready 3/3 -> 4 after %.1fs" % t)


# ---- variants ----------------------------------------------------------------------------

def test_two_variants_cheapest_up():
    ns, m = "multi-up", "acme/multi"
    cheap = Variant(ns, "v-cheap", m, [0.95], cost="5")
    exp = Variant(ns, "v-exp", m, [0.95], cost="20")
    wait_series(m, ns, 2)
    t = wait_answers([cheap, exp], (2, 1))
    print("  saturated: +1 to v-cheap after %.1fs" % t)
    steady([cheap, exp], (2, 1), 2.0)


def test_two_variants_most_expensive_down():
    ns, m = "multi-down", "acme/multi"
    # 4 cold replicas: scale-down is safe; -1 from the most expensive.
    cheap = Variant(ns, "v-cheap", m, [0.1, 0.1], cost="5")
    exp = Variant(ns, "v-exp", m, [0.1, 0.1], cost="20")
    wait_series(m, ns, 4)
    t = wait_answers([cheap, exp], (2, 1))
    print("  cold: -1 from v-exp after %.1fs" % t)
    steady([cheap, exp], (2, 1), 2.0)


def test_owner_chain_attribution():
    ns, m = "owner", "acme/owner"
    # Pods without llm_d_ai_variant: Pod -> ReplicaSet -> Deployment ->
    # the ScaledObject whose scaleTargetRef names it.
    a = Variant(ns, "o-cheap", m, [0.95], cost="5", labelled=False)
    b = Variant(ns, "o-exp", m, [0.95], cost="20", labelled=False)
    wait_series(m, ns, 2)
    wait_answers([a, b], (2, 1))
    # With roles, attribution decides the group: the decode pod is hot, the
    # prefill pod cold; only decode scales.
    ns2, m2 = "owner-pd", "acme/owner-pd"
    pre = Variant(ns2, "o-prefill", m2, [0.1], cost="1", role="prefill", labelled=False)
    dec = Variant(ns2, "o-decode", m2, [0.95], cost="20", role="decode", labelled=False)
    wait_series(m2, ns2, 2)
    wait_answers([pre, dec], (1, 2))
    steady([pre, dec], (1, 2), 2.0)


def test_roles_per_group():
    ns, m = "roles", "acme/pd"
    # One model, a prefill variant (cold, cheaper) and a decode variant
    # (saturated). Analysed as one group the cold prefill pod's spare
    # capacity would hide the saturated decode (no scale-up at all); per
    # role group, decode scales and prefill holds.
    pre = Variant(ns, "pd-prefill", m, [0.1], cost="1", role="prefill")
    dec = Variant(ns, "pd-decode", m, [0.95], cost="20", role="decode")
    wait_series(m, ns, 2)
    t = wait_answers([pre, dec], (1, 2))
    print("  decode group scaled alone after %.1fs" % t)
    steady([pre, dec], (1, 2), 2.0)


# ---- annotation errors -------------------------------------------------------------------

def test_missing_model_id_annotation():
    ns = "errors"
    v = Variant(ns, "no-model", "acme/no-model", [0.5], model_id=None)
    for fn in (C.get_metrics, C.is_active):
        e = rpc_error(fn, v.ref())
        assert e.code() == PRECONDITION, "%s: %s" % (fn.__name__, S.describe(e))
        assert "llm-d.ai/model-id" in e.details(), e.details()
    print("  %s" % e.details())
    expect_metric_spec(v.ref())
    # Not asserted (the issue says both "required on this path" and "trigger
    # metadata still overrides"): what modelID metadata does here.
    try:
        got = C.desired(v.ref(modelID="acme/no-model"))
    except grpc.RpcError as e:
        got = S.describe(e)
    print("  with modelID metadata: %s" % (got,))


def test_managed_must_be_exactly_true():
    ns, m = "errors", "acme/managed-cap"
    # "True" is not "true": not managed. Then the ScaledObject is read like
    # any other: modelID metadata is required, and the answer comes from
    # the pods alone (1 saturated pod -> 2), not from status.replicas (5).
    v = Variant(ns, "managed-cap", m, [0.95], replicas=5, managed="True", cost="1")
    e = rpc_error(C.get_metrics, v.ref())
    assert e.code() == INVALID, S.describe(e)
    assert "modelID" in e.details(), e.details()
    wait_series(m, ns, 1)
    wait_answers_ref(v.ref(modelID=m), 2)
    # No annotation at all: the same.
    w = Variant(ns, "unmanaged", "acme/unmanaged", [0.95], replicas=5, managed=None)
    e = rpc_error(C.get_metrics, w.ref())
    assert e.code() == INVALID, S.describe(e)
    wait_answers_ref(w.ref(modelID="acme/unmanaged"), 2)


def wait_answers_ref(r, want, timeout=ANSWER_TIMEOUT):
    S.wait_until(lambda: C.desired(r) == want, timeout, 0.2,
                 "desired %r for %s/%s %s" % (want, r.namespace, r.name, dict(r.scalerMetadata)))


def test_bad_variant_cost():
    ns = "errors"
    got = {}
    for name, cost in (("cost-negative", "-1"), ("cost-text", "ten"), ("cost-empty", "")):
        v = Variant(ns, name, "acme/" + name, [0.5], cost=cost)
        try:
            got[cost] = C.desired(v.ref())
        except grpc.RpcError as e:
            got[cost] = e
        print("  variant-cost %r: %s" % (cost, S.describe(got[cost])))
    # "-1" and "ten" do not parse as non-negative numbers. The issue names
    # no status code; UNAVAILABLE is what it gives API-server failures (KEDA's
    # fallback), and a bad annotation is the object's fault like a missing
    # model id (FAILED_PRECONDITION): either refusal must name the annotation.
    # "" (present, empty) is not asserted: default or error, the issue does
    # not say.
    for cost in ("-1", "ten"):
        e = got[cost]
        assert isinstance(e, grpc.RpcError), "variant-cost %r answered %r" % (cost, e)
        assert "llm-d.ai/variant-cost" in e.details(), e.details()
        assert e.code() in (INVALID, PRECONDITION), \
            "variant-cost %r: expected FAILED_PRECONDITION (or INVALID_ARGUMENT), got %s" % (
                cost, S.describe(e))
    # A good one in the usual spelling parses.
    ok = Variant(ns, "cost-ok", "acme/cost-ok", [0.5], cost="40.0")
    wait_series("acme/cost-ok", ns, 1)
    wait_answers([ok], (1,))


# ---- min / max ---------------------------------------------------------------------------

def test_min_max_from_spec():
    ns = "clamp"
    # 4 saturated of 4, maxReplicaCount 4: 5 clamps to 4.
    mx = Variant(ns, "clamp-max", "acme/clamp-max", [0.95] * 4, max_replicas=4)
    # 2 cold of 2, minReplicaCount 2: 1 clamps to 2.
    mn = Variant(ns, "clamp-min", "acme/clamp-min", [0.1, 0.1], min_replicas=2)
    # The control: no minReplicaCount (0, as KEDA): 2 cold -> 1.
    ctl = Variant(ns, "clamp-none", "acme/clamp-none", [0.1, 0.1])
    # Trigger metadata overrides spec.maxReplicaCount: 4 -> 5.
    meta = Variant(ns, "clamp-meta", "acme/clamp-meta", [0.95] * 4, max_replicas=4)
    # No maxReplicaCount: 100. 100 replicas by status, saturated: the step
    # (100 -> 111) clamps to 100; unbounded it would be 111.
    dmax = Variant(ns, "clamp-dmax", "acme/clamp-dmax", [0.95] * 2, replicas=100)
    for v in (mx, mn, ctl, meta, dmax):
        wait_series(v.model, ns, len(v.pod_names))
    wait_answers([ctl], (1,))
    wait_answers([dmax], (100,))
    wait_answers_ref(meta.ref(maxReplicas="6"), 5)
    wait_answers([mx, mn], (4, 2))
    steady([mx, mn], (4, 2), 2.0)


# ---- LeaderWorkerSet ---------------------------------------------------------------------

def test_leader_worker_set_target():
    ns = "lws"
    a = Variant(ns, "lws-v", "acme/lws-a", [0.95, 0.95], replicas=2, lws=True)
    wait_series("acme/lws-a", ns, 2)
    t = wait_answers([a], (3,))
    print("  LeaderWorkerSet 2/2 saturated -> 3 after %.1fs" % t)
    # A pending group (replicas 2, ready 1) holds.
    b = Variant(ns, "lws-p", "acme/lws-b", [0.95], replicas=2, ready=1, lws=True)
    wait_series("acme/lws-b", ns, 1)
    S.wait_until(lambda: C.is_active(b.ref()), ANSWER_TIMEOUT, 0.2, "IsActive (pods report)")
    time.sleep(SETTLE)
    assert answers([b]) == (2,), "pending LWS group: expected to hold 2, got %r" % (answers([b]),)
    steady([b], (2,), 2.0)
    # The second group becomes ready and reports: 2 -> 3.
    name = "%s-1" % b.target
    SIM.add_pods([b.sim_pod(name, 0.95)])
    b.pod_names.append(name)
    b.set_replicas(2, ready=2)
    wait_series("acme/lws-b", ns, 2)
    wait_answers([b], (3,))


# ---- caching -----------------------------------------------------------------------------

def test_reads_are_cached():
    ns, m = "cache", "acme/cache"
    # kv 0.5 on both: no scale-up, no safe scale-down: each holds 1.
    one = Variant(ns, "c-one", m, [0.5], cost="5")
    two = Variant(ns, "c-two", m, [0.5], cost="20")
    wait_series(m, ns, 2)
    wait_answers([one, two], (1, 1))
    # Within one TTL: 20 GetMetrics per ScaledObject (and an IsActive
    # each) read every object at most once.
    for attempt in range(3):
        time.sleep(CACHE_TTL)  # start just after a refresh has been possible
        mark = KUBE.mark()
        t0 = time.monotonic()
        for _ in range(20):
            C.desired(one.ref())
            C.desired(two.ref())
        C.is_active(one.ref())
        C.is_active(two.ref())
        took = time.monotonic() - t0
        if took < CACHE_TTL / 2:
            break
        print("  40 calls took %.2fs (more than half the TTL): again" % took)
    reads = KUBE.reads_by_path(mark)
    print("  40 GetMetrics + 2 IsActive in %.2fs: %d reads %s" % (took, sum(reads.values()), reads))
    assert all(n <= 1 for n in reads.values()), "reads within the TTL: %s" % reads
    # Over several TTLs: about one read per object per TTL, never one per call.
    mark = KUBE.mark()
    t0 = time.monotonic()
    calls = 0
    while time.monotonic() - t0 < 3 * CACHE_TTL:
        C.desired(one.ref())
        C.desired(two.ref())
        calls += 2
        time.sleep(0.05)
    reads = KUBE.reads_by_path(mark)
    limit = 3 + 2
    print("  %d calls over %.0fs: reads %s" % (calls, 3 * CACHE_TTL, reads))
    assert all(n <= limit for n in reads.values()), "reads over 3 TTLs: %s" % reads
    # A change shows once the TTL has passed: 4 replicas by status, the same
    # lukewarm pods (no scale either way): c-one holds 4.
    one.set_replicas(4)
    t = wait_answers([one, two], (4, 1), timeout=SETTLE + 5)
    print("  status.replicas 1 -> 4 seen after %.1fs (ttl %.0fs)" % (t, CACHE_TTL))


# ---- API server failures -----------------------------------------------------------------

def test_wrong_token():
    wrong = os.path.join(P.subdir("wrong-token"), "token")
    S.write_atomic(wrong, "not-the-token")
    v = Variant("wrong-token", "wt", "acme/wrong-token", [0.95])
    with P.scaler(PROM.url, args=kube_args(KUBE, token_file=wrong)) as srv, srv.client() as c:
        msg = expect_unavailable(v.ref(), "401", "Unauthorized", client=c)
        print("  %s" % msg)
        expect_metric_spec(v.ref(), client=c)


def test_token_file_is_reread():
    # Service-account tokens rotate (the kubelet rewrites the projected
    # file): a rewritten token file is picked up without a restart. client-go
    # re-reads it within a minute; allow that long.
    tok = os.path.join(P.subdir("rotate-token"), "token")
    S.write_atomic(tok, "an-old-token")
    v = Variant("rotate-token", "rt", "acme/rotate-token", [0.95])
    wait_series("acme/rotate-token", "rotate-token", 1)
    with P.scaler(PROM.url, args=kube_args(KUBE, token_file=tok)) as srv, srv.client() as c:
        expect_unavailable(v.ref(), "401", client=c)
        S.write_atomic(tok, KUBE.token)
        t0 = time.monotonic()
        S.wait_until(lambda: c.desired(v.ref()) == 2, 70, 0.5, "an answer after the token "
                     "file was rewritten")
        print("  rewritten token file used after %.1fs" % (time.monotonic() - t0))


def test_forbidden():
    ns = "forbidden"
    KUBE.fault("/namespaces/%s/" % ns, 403)
    v = Variant(ns, "fb", "acme/forbidden", [0.95])
    msg = expect_unavailable(v.ref(), "403")
    print("  %s" % msg)
    # The Status' reason and its message (as the API server wrote it).
    assert "Forbidden" in msg, "no reason in %r" % msg
    assert "is forbidden: User \"%s\"" % F.SERVICE_ACCOUNT_USER in msg, \
        "the Status message is not in %r" % msg
    expect_metric_spec(v.ref())


def test_server_error():
    ns = "broken"
    KUBE.fault("/namespaces/%s/" % ns, 500)
    v = Variant(ns, "br", "acme/broken", [0.95])
    msg = expect_unavailable(v.ref(), "500")
    print("  %s" % msg)
    expect_metric_spec(v.ref())


def test_timeout():
    ns = "slow"
    KUBE.fault("/namespaces/%s/" % ns, delay=120)
    v = Variant(ns, "sl", "acme/slow", [0.95])
    t0 = time.monotonic()
    e = rpc_error(C.get_metrics, v.ref(), timeout=40)
    took = time.monotonic() - t0
    print("  %s after %.1fs" % (S.describe(e), took))
    assert e.code() == UNAVAILABLE, S.describe(e)
    # --kube-timeout took effect: the request gave up after 2 s, not 5.
    assert "timeout after %dms" % int(KUBE_TIMEOUT * 1000) in e.details(), S.describe(e)
    assert took < 5.0, "the call took %.1fs with --kube-timeout %gs" % (took, KUBE_TIMEOUT)
    expect_metric_spec(v.ref())


def test_api_server_down_then_back():
    # A second fake whose port nothing listens on yet: the scaler trusts its
    # CA and holds its token from the start.
    down = F.FakeKube(directory=P.subdir("kube-down"), port=S.free_port())
    try:
        ns, m = "down", "acme/down"
        v = Variant(ns, "dn", m, [0.95], fake=down)
        wait_series(m, ns, 1)
        with P.scaler(PROM.url, args=kube_args(down)) as srv, srv.client() as c:
            msg = expect_unavailable(v.ref(), client=c)
            print("  %s" % msg)
            expect_metric_spec(v.ref(), client=c)
            down.start()
            t = wait_answers([v], (2,), client=c, timeout=SETTLE + 10)
            print("  API server back: answered after %.1fs" % t)
            down.stop()
            # Cached reads may serve until a refresh has failed; then
            # UNAVAILABLE.
            t0 = time.monotonic()
            S.wait_until(lambda: rpc_error(c.get_metrics, v.ref()).code() == UNAVAILABLE,
                         SETTLE + 5, 0.2, "UNAVAILABLE after the API server went away")
            print("  down again: UNAVAILABLE after %.1fs (ttl %.0fs)"
                  % (time.monotonic() - t0, CACHE_TTL))
            expect_unavailable(v.ref(), client=c)
    finally:
        down.close()


# ---- RBAC --------------------------------------------------------------------------------

def chart_rules():
    """The rules the chart grants (templates/_helpers.tpl, the
    "saturation-scaler.rbacRules" block), parsed: every line is `- apiGroups:
    [...]`, `resources: [...]` or `verbs: [...]` with JSON lists."""
    path = os.path.join(CHART, "templates", "_helpers.tpl")
    with open(path) as f:
        text = f.read()
    m = re.search(r'define "saturation-scaler\.rbacRules" -}}\n(.*?)\n\{\{- end', text, re.S)
    assert m, "no saturation-scaler.rbacRules block in %s" % path
    rules = []
    for line in m.group(1).splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("- "):
            rules.append({})
            s = s[2:]
        key, _, val = s.partition(":")
        rules[-1][key.strip()] = json.loads(val)
    return rules


def test_rbac_is_exactly_the_charts():
    denied = [e for e in KUBE.requests() if e["denied"]]
    assert not denied, "requests the chart's RBAC refuses: %s" % [
        "%s %s" % (e["verb"], e["path"]) for e in denied[:10]]
    seen = sorted({(e["verb"], e["resource"] + ("/" + e["subresource"] if e["subresource"]
                                                 else ""))
                   for e in KUBE.requests() if e["resource"]})
    print("  verbs used: %s" % ", ".join("%s %s" % s for s in seen))
    norm = lambda rules: sorted((tuple(r["apiGroups"]), tuple(r["resources"]),  # noqa: E731
                                 tuple(r["verbs"])) for r in rules)
    assert norm(chart_rules()) == norm(F.RBAC_RULES), \
        "chart rules %s != fakekube.RBAC_RULES %s" % (chart_rules(), F.RBAC_RULES)


TESTS = [
    test_model_id_and_cost_from_annotations,
    test_current_count_is_status_replicas,
    test_first_request_parks,
    test_pending_replica_holds_then_scales,
    test_two_variants_cheapest_up,
    test_two_variants_most_expensive_down,
    test_owner_chain_attribution,
    test_roles_per_group,
    test_missing_model_id_annotation,
    test_managed_must_be_exactly_true,
    test_bad_variant_cost,
    test_min_max_from_spec,
    test_leader_worker_set_target,
    test_reads_are_cached,
    test_wrong_token,
    test_token_file_is_reread,
    test_forbidden,
    test_server_error,
    test_timeout,
    test_api_server_down_then_back,
    test_rbac_is_exactly_the_charts,
]


def main():
    only = sys.argv[1:]
    tests = [t for t in TESTS if not only or any(o in t.__name__ for o in only)]
    S.run_tests(tests, setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
