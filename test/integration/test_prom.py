#!/usr/bin/python3
"""test_prom: the scaler's answers follow a real Prometheus scraping the
vLLM simulator.

One simulator, one Prometheus (scraping every 1s) and one scaler
(--refresh-interval 1s) are shared by the file; each test uses models of
its own, so the tests do not see each other's pods. A change in the
simulator reaches an answer after at most a scrape and a refresh, so
every expectation is polled with a bound (promstack.ANSWER_TIMEOUT).
Tests whose load goes down use metricsWindow "3s": with the default 1m
window the maximum would keep the old peak for a minute (WVA's rule).

Two tests reproduce product bugs found while writing these (both fixed;
they stay as regression tests).
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

NS = "llm"
SHORT = "3s"   # metricsWindow for tests whose load goes down

SIM = None
SIM2 = None      # a second target: the same pod names, another instance
PROM = None
SRV = None
C = None


def setup():
    global SIM, SIM2, PROM, SRV, C
    P.check_tools()
    SIM = P.Sim().start()
    SIM2 = P.Sim("sim2").start()
    PROM = P.Prometheus([SIM.address, SIM2.address]).start()
    SRV = P.scaler(PROM.url)
    C = SRV.client()


def teardown():
    if C is not None:
        C.close()
    if SRV is not None:
        rc = SRV.stop()
        if rc != 0:
            print(SRV.stderr_text())
        assert rc == 0, "scaler exited with %s" % rc
    if PROM is not None:
        PROM.stop()
    for sim in (SIM, SIM2):
        if sim is not None:
            sim.stop()


def wait_desired(r, want, timeout=P.ANSWER_TIMEOUT, client=None):
    """Poll GetMetrics until it answers want; returns the seconds it took."""
    c = client or C
    t0 = time.monotonic()
    S.wait_until(lambda: c.desired(r) == want, timeout, 0.1,
                 "desired %r for %s/%s %s" % (want, r.namespace, r.name,
                                              dict(r.scalerMetadata)))
    return time.monotonic() - t0


def wait_active(r, want, timeout=P.ANSWER_TIMEOUT, client=None):
    c = client or C
    t0 = time.monotonic()
    S.wait_until(lambda: c.is_active(r) is want, timeout, 0.1,
                 "IsActive %r for %s" % (want, dict(r.scalerMetadata)))
    return time.monotonic() - t0


def steady(fn, want, duration=2.0):
    """Assert fn() == want at every poll for duration seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        got = fn()
        assert got == want, "expected %r to hold, got %r" % (want, got)
        time.sleep(0.1)


# ---- desired replicas and activation ---------------------------------------------

def test_desired_follows_the_simulator():
    m = "follow"
    r = ref(m, name="follow", metricsWindow=SHORT)
    SIM.add_pods(P.pods(1, m, 0.5, prefix="f"))
    wait_active(r, True)                       # the pod reports
    assert C.desired(r) == 1                   # 1 pod at 0.5: spare 0.3, holds
    SIM.add_pods(P.pods(1, m, 0.95, prefix="f", start=2))
    SIM.set(NS, model=m, kv=0.95)
    t = wait_desired(r, 3)                     # 2 saturated -> 3
    print("  2 pods at 0.95 -> 3 after %.1fs" % t)
    SIM.add_pods(P.pods(2, m, 0.75, prefix="f", start=3))
    SIM.set(NS, model=m, kv=0.75)
    wait_desired(r, 5)                         # 4 at 0.75: spare 0.05 < 0.1 -> 5
    SIM.set(NS, model=m, kv=0.05)
    t = wait_desired(r, 3)                     # 4 cold -> 3
    print("  4 pods down to 0.05 -> 3 after %.1fs (window %s)" % (t, SHORT))
    assert C.is_active(r) is True
    # Queue saturation counts too: queue 5 >= queueLengthThreshold on every pod.
    SIM.set(NS, model=m, queue=6)
    wait_desired(r, 5)                         # 4 saturated by queue -> 5
    # Another namespace, same model name: its own answer.
    SIM.add_pods(P.pods(1, m, 0.95, namespace="team-a", prefix="ta"))
    wait_desired(ref(m, name="follow", namespace="team-a", metricsWindow=SHORT), 2)
    assert C.desired(r) == 5


def test_removed_pod_stops_counting():
    # The default 1m window: max_over_time alone would keep a deleted pod
    # for a minute (WVA #368); the scaler counts only series still present.
    m = "stale"
    r = ref(m, name="stale")
    SIM.add_pods(P.pods(3, m, 0.95, prefix="st"))
    wait_desired(r, 4)                         # 3 saturated -> 4
    SIM.remove(NS, pod="st3")
    t = wait_desired(r, 3, timeout=10)         # 2 saturated -> 3
    print("  removed pod stopped counting after %.1fs" % t)
    assert t < 8, "took %.1fs" % t
    steady(lambda: C.desired(r), 3, 2.0)
    SIM.remove(NS, model=m)
    wait_desired(r, 1, timeout=10)             # no series left: minReplicas
    wait_active(r, False, timeout=5)


def test_variants():
    m = "variants"
    # kv 0.65: no scale-up (spare 0.15) and no safe scale-down, so each
    # variant's answer is its own pod count.
    SIM.add_pods(P.pods(1, m, 0.65, variant="v1", prefix="va")
                 + P.pods(2, m, 0.65, variant="v2", prefix="vb")
                 + P.pods(3, m, 0.65, prefix="vc"))
    wait_desired(ref(m, name="v1"), 1)
    wait_desired(ref(m, name="v2"), 2)
    wait_desired(ref(m, name="v3"), 3)         # labels no pod: the unlabelled ones
    # Every variant saturated: scale-up goes to the cheapest (tie: smallest
    # name), the other holds.
    m2 = "variants-sat"
    SIM.add_pods(P.pods(1, m2, 0.95, variant="v1", prefix="vsa")
                 + P.pods(3, m2, 0.95, variant="v2", prefix="vsb"))
    wait_desired(ref(m2, name="v1"), 2)
    wait_desired(ref(m2, name="v2"), 3)
    # variantCost: v2 cheaper now takes the step (3 -> 4).
    wait_desired(ref(m2, name="v2", variantCost="1"), 4)
    assert C.desired(ref(m2, name="v1", variantCost="1")) == 2  # v1 at 1 vs v2 at 10
    assert C.desired(ref(m2, name="nobody")) == 1  # no pods for this variant


def test_no_series_min_replicas_and_inactive():
    r = ref("nobody-serves-this", name="none")
    assert C.desired(r) == 1
    assert C.desired(ref("nobody-serves-this", name="none", minReplicas="2")) == 2
    assert C.is_active(r) is False
    # The source did answer for it (a snapshot covers the model): steady.
    steady(lambda: C.is_active(r), False, 1.5)
    assert C.get_metric_spec(r)[0].targetSize == 1


def test_flow_control_at_zero_pods():
    m = "from-zero"
    r = ref(m, name="fz")
    st = C.stream_is_active(r)
    try:
        st.expect(False, P.ANSWER_TIMEOUT)     # the first message: inactive
        assert C.is_active(r) is False
        SIM.flow(m, 3)
        t = wait_active(r, True)
        print("  flow-control queue 3 -> active after %.1fs" % t)
        st.expect(True, 5)
        assert C.desired(r) == 1               # no pods: minReplicas
        SIM.flow(m, 0)
        wait_active(r, False)
        st.expect(False, 5)
        st.expect_quiet(1.5)
    finally:
        st.cancel()


def test_scale_to_zero():
    # idle: pods report, nothing succeeded within scaleToZero -> inactive
    # (unless every pod is saturated).
    SIM.add_pods(P.pods(2, "idle", 0.3, success_rate=0)
                 + P.pods(2, "idle-sat", 0.95, success_rate=0)
                 + P.pods(2, "busy", 0.3, success_rate=5))
    idle, idle_sat, busy = (ref(m, name=m, scaleToZero="5s") for m in ("idle", "idle-sat", "busy"))
    wait_active(ref("idle", name="idle"), True)  # no scaleToZero: the pods report
    wait_active(idle, False)
    assert C.is_active(ref("idle", name="idle")) is True   # no scaleToZero: pods report
    wait_desired(idle_sat, 3)
    assert C.is_active(idle_sat) is True       # saturated: active though idle
    # busy: wait until Prometheus sees requests, then it is active.
    P.wait_until(lambda: (PROM.value('sum(increase(vllm:request_success_total{model_name="busy"}[5s]))')
                          or 0) > 0, P.SCRAPE_TIMEOUT, 0.2, "requests of busy in prometheus")
    wait_active(busy, True)
    steady(lambda: C.is_active(busy), True, 1.5)
    # No more requests: inactive once the 5s retention has passed.
    SIM.set(NS, model="busy", success_rate=0)
    t0 = time.monotonic()
    wait_active(busy, False)
    t = time.monotonic() - t0
    print("  busy -> idle %.1fs after its last request (scaleToZero 5s)" % t)
    assert t >= 3.0, "inactive after %.1fs, before the 5s retention could pass" % t
    SIM.set(NS, model="busy", success_rate=2)
    wait_active(busy, True)


def test_stream_is_active():
    m = "streamed"
    r = ref(m, name="streamed", metricsWindow=SHORT)
    SIM.add_pods(P.pods(2, m, 0.5, prefix="sd"))
    wait_desired(r, 2)
    st = C.stream_is_active(r)
    try:
        st.expect(True, 5)                     # first message: the current activation
        st.expect_quiet(2.5)                   # no repeats
        SIM.set(NS, pod="sd1", kv=0.9)         # one pod crosses: not every pod
        PROM.wait_value(P.kv_expr(m, pod="sd1"), 0.9)
        st.expect_quiet(2.5)                   # (more than two refreshes)
        SIM.set(NS, pod="sd2", kv=0.85)        # now every pod: one true
        t0 = time.monotonic()
        st.expect(True, P.ANSWER_TIMEOUT)
        print("  every pod >= kvCacheThreshold -> stream true after %.1fs"
              % (time.monotonic() - t0))
        st.expect_quiet(2.5)                   # sent once
        wait_desired(r, 3)                     # 2 saturated -> 3
        SIM.set(NS, model=m, kv=0.5)           # falls (window 3s): nothing sent
        wait_desired(r, 2)
        st.expect_quiet(1.0)
        SIM.set(NS, model=m, kv=0.9)           # rises again: true again
        st.expect(True, P.ANSWER_TIMEOUT)
        st.expect_quiet(1.5)
    finally:
        st.cancel()


def stream_keeps_interest(m, refresh, ttl):
    """A model only a stream watches (no unary call for several interest
    TTLs) must stay in the queries: a rise still reaches the stream."""
    r = ref(m, name=m, metricsWindow=SHORT)
    SIM.add_pods(P.pods(2, m, 0.5))
    PROM.wait_count(P.kv_expr(m), 2)
    with P.scaler(PROM.url, refresh=refresh, args=["--interest-ttl", ttl]) as srv, \
            srv.client() as c:
        st = c.stream_is_active(r)
        try:
            st.expect(True, P.ANSWER_TIMEOUT)
            st.expect_quiet(4.0)               # several interest TTLs, no unary call
            SIM.set(NS, model=m, kv=0.9)
            st.expect(True, P.ANSWER_TIMEOUT)  # still fetched for the stream
        finally:
            st.cancel()
        # A unary-only model expires and is asked for again: answered.
        u = ref("follow", name="follow", metricsWindow=SHORT)
        S.wait_until(lambda: c.is_active(u) is True, P.ANSWER_TIMEOUT, 0.1, "follow active")
        time.sleep(2.5)
        assert c.is_active(u) is True


def test_stream_keeps_its_model_of_interest():
    stream_keeps_interest("watched", "500ms", "1s")


def test_stream_keeps_interest_refresh_longer_than_ttl():
    # Regression (fixed): streams renewed their model's interest only when
    # a snapshot was published, and the fetcher dropped models older than
    # --interest-ttl before it fetched; with --refresh-interval >=
    # --interest-ttl a model only a stream watched dropped out after the
    # first refresh. Now an open stream holds a watch on its model.
    stream_keeps_interest("watched-2s", "2s", "1s")


def test_two_engines_in_one_pod():
    # The same pod seen through two targets (instance labels differ): two
    # serving instances, one pod. Both saturated: scale up from 1 pod -> 2,
    # not from 2 -> 3.
    m = "dual"
    SIM.add_pods(P.pods(1, m, 0.95))
    SIM2.add_pods(P.pods(1, m, 0.95))
    PROM.wait_count(P.kv_expr(m), 2)
    wait_desired(ref(m, name="dual"), 2)
    steady(lambda: C.desired(ref(m, name="dual")), 2, 1.5)


def test_sglang_engine():
    m = "sg"
    SIM.add_pods(P.pods(2, m, 0.95, engine="sglang"))
    wait_desired(ref(m, name="sg", engine="sglang"), 3)    # sglang:token_usage
    assert C.desired(ref(m, name="sg")) == 1                # no vllm series
    assert C.is_active(ref(m, name="sg")) is False


# ---- model ids --------------------------------------------------------------------------

# model -> (pods, kv, expected answer). Regex metacharacters, quotes and
# backslashes; the decoys would match if a model id reached a regex raw.
ODD_MODELS = [
    ("granite-3.1", 2, 0.95, 3),
    ("granite-3x1", 1, 0.5, 1),        # '.' must not match 'x'
    ("a|b", 3, 0.95, 4),
    ("a", 1, 0.5, 1),                  # 'a|b' must not match 'a' ...
    ("b", 2, 0.5, 2),                  # ... nor 'b'
    ("x.*", 1, 0.95, 2),
    ("x.y", 2, 0.5, 2),
    ("(p)[q]{2}+?^$", 2, 0.95, 3),
    ("p", 1, 0.5, 1),
    ('we"ird\\model', 1, 0.95, 2),
    ("we\"ird\\\\model", 2, 0.5, 2),   # two backslashes: another model
    ("o'brien/ü-模型", 3, 0.5, 3),
]


def test_model_ids_with_metacharacters():
    rows = []
    for i, (m, n, kv, _) in enumerate(ODD_MODELS):
        rows += P.pods(n, m, kv, namespace="odd", prefix="o%d-" % i)
    SIM.add_pods(rows)
    # The simulator escapes label values in its exposition.
    text = SIM.metrics_text()
    assert 'model_name="we\\"ird\\\\model"' in text, "simulator did not escape the quote"
    PROM.wait_count('vllm:kv_cache_usage_perc{namespace="odd"}',
                    sum(n for _, n, _, _ in ODD_MODELS))
    got = {m: len(PROM.query(P.kv_expr(m, "odd"))) for m, _, _, _ in ODD_MODELS}
    assert got == {m: n for m, n, _, _ in ODD_MODELS}, got
    # Ask for all of them (one batched query with an alternation of all),
    # plus a model nobody serves whose id as a regex would match many.
    refs = [(ref(m, name="so%d" % i, namespace="odd"), want)
            for i, (m, _, _, want) in enumerate(ODD_MODELS)]
    refs.append((ref(".*", name="dotstar", namespace="odd"), 1))
    refs.append((ref("granite-3.", name="prefix", namespace="odd"), 1))

    def all_right():
        bad = [(r.scalerMetadata["modelID"], C.desired(r), want) for r, want in refs
               if C.desired(r) != want]
        assert not bad, "model, desired, expected: %r" % bad
        return True
    S.wait_until(all_right, P.ANSWER_TIMEOUT, 0.2, "every odd model answered right")
    steady(all_right, True, 1.5)
    assert C.is_active(ref(".*", name="dotstar", namespace="odd")) is False
    assert C.is_active(ref("a|b", name="ab", namespace="odd")) is True


# ---- the config file: defaults and overrides -----------------------------------------------

def test_config_defaults_and_overrides():
    cfg = P.write_config({
        "prometheus": {"default": {"url": PROM.url, "timeout": "3s"}},
        "defaults": {"kvCacheThreshold": 0.9, "kvSpareTrigger": 0.05,
                     # per model, only for models without pods; $model and
                     # $namespace are pasted as escaped string literals
                     "activationQuery": 'sum(inference_extension_flow_control_queue_size'
                                        '{namespace="$namespace",target_model_name="$model"})'},
        "overrides": [
            {"model": "cfg-95", "kvCacheThreshold": 0.99, "kvSpareTrigger": 0.01},
            {"namespace": "cfg-ns", "model": "cfg-95", "kvCacheThreshold": 0.9},
        ]}, "defaults.json")
    SIM.add_pods(P.pods(2, "cfg-82", 0.82, namespace="cfg")
                 + P.pods(2, "cfg-95", 0.95, namespace="cfg")
                 + P.pods(2, "cfg-95", 0.95, namespace="cfg-ns"))
    with P.scaler(config=cfg) as srv, srv.client() as c:
        def both(model, ns, want_cfg, want_plain, **md):
            r = ref(model, name="so", namespace=ns, **md)
            wait_desired(r, want_cfg, client=c)
            wait_desired(r, want_plain)        # the shared scaler: no config
        # WVA defaults: 0.82 >= 0.8 saturated -> 3; config defaults 0.9/0.05:
        # spare 0.08 >= 0.05 -> holds at 2.
        both("cfg-82", "cfg", 2, 3)
        # metadata wins over the file.
        both("cfg-82", "cfg", 3, 3, kvCacheThreshold="0.8", kvSpareTrigger="0.1")
        # defaults 0.9 -> 0.95 saturated -> 3; the model override 0.99/0.01
        # makes 0.95 non-saturated with enough spare -> 2.
        both("cfg-95", "cfg", 2, 3)
        # the namespace override wins over the model-only one: 0.9 -> 3.
        both("cfg-95", "cfg-ns", 3, 3)
        # activationQuery instead of the built-in flow-control query.
        SIM.flow("act-zero", 2, namespace="cfg")
        SIM.flow('act"q\\', 1, namespace="cfg")
        SIM.flow("act-zero", 5, namespace="cfg-ns")   # another namespace: not counted
        for model, want in (("act-zero", True), ('act"q\\', True), ("act-none", False)):
            r = ref(model, name="act", namespace="cfg")
            S.wait_until(lambda: c.is_active(r) is want, P.ANSWER_TIMEOUT, 0.1,
                         "activationQuery: IsActive %r for %r" % (want, model))
        SIM.flow("act-zero", 0, namespace="cfg")
        r = ref("act-zero", name="act", namespace="cfg")
        S.wait_until(lambda: c.is_active(r) is False, P.ANSWER_TIMEOUT, 0.1,
                     "activationQuery: inactive once the queue is 0 in namespace cfg")
        # the stream: 0.95 is not ">= kvCacheThreshold 0.99": no second true.
        st = c.stream_is_active(ref("cfg-95", name="so", namespace="cfg"))
        try:
            st.expect(True, 5)
            st.expect_quiet(2.0)
        finally:
            st.cancel()
        assert srv.stop() == 0


def test_activation_query_braced_placeholder():
    # Regression (fixed): the config check refused a template spelling the
    # placeholder ${model} (which the query builder substitutes), and let
    # "$model_name" (never substituted) through.
    cfg = P.write_config({
        "prometheus": {"default": {"url": PROM.url}},
        "defaults": {"activationQuery": 'sum(inference_extension_flow_control_queue_size'
                                       '{namespace="${namespace}",target_model_name="${model}"})'}},
        "braced.json")
    SIM.flow("braced", 1, namespace="cfg")
    with P.scaler(config=cfg) as srv, srv.client() as c:
        r = ref("braced", name="b", namespace="cfg")
        S.wait_until(lambda: c.is_active(r) is True, P.ANSWER_TIMEOUT, 0.1, "active via ${model}")


def main():
    S.run_tests([
        test_desired_follows_the_simulator,
        test_removed_pod_stops_counting,
        test_variants,
        test_no_series_min_replicas_and_inactive,
        test_flow_control_at_zero_pods,
        test_scale_to_zero,
        test_stream_is_active,
        test_stream_keeps_its_model_of_interest,
        test_stream_keeps_interest_refresh_longer_than_ttl,
        test_activation_query_braced_placeholder,
        test_two_engines_in_one_pod,
        test_sglang_engine,
        test_model_ids_with_metacharacters,
        test_config_defaults_and_overrides,
    ], setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
