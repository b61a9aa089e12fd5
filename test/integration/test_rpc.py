#!/usr/bin/python3
"""test_rpc: every ExternalScaler RPC against the real binary, with expected
values (WVA V1 saturation + HPA tolerance step) on a static metrics file.

One shared server serves a file holding one model per scenario (namespace
"llm" unless noted); a few tests start servers of their own (examples,
cross-namespace allowed, file reload).
"""
import os
import sys
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

INVALID = grpc.StatusCode.INVALID_ARGUMENT

# The scenarios of the shared file: model -> pod rows.
SCENARIOS = (
    S.pods(1, 0.95, model="sat-1")                      # 1 saturated pod   -> 2
    + S.pods(2, 0.95, model="sat-2")                    # 2 saturated pods  -> 3
    + S.pods(4, 0.05, model="cold-4")                   # 4 cold pods       -> 3
    + S.pods(1, 0.5, model="half-1")                    # 1 pod at 0.5      -> 1
    + S.pods(2, 0.5, model="half-2")                    # 2 pods at 0.5     -> 2
    + S.pods(10, 0.95, model="big-10")                  # 10 saturated      -> 12
    + S.pods(1, 0.5, queue_len=5, model="queue-1")      # saturated by queue -> 2
    # Variants at kv 0.65: no scale-up (spare 0.15 >= 0.1) and no safe
    # scale-down (0.65 * N/(N-1) > 0.7), so each answer is its pod count.
    + S.pods(1, 0.65, model="var", variant="v1", prefix="a")
    + S.pods(2, 0.65, model="var", variant="v2", prefix="b")
    + S.pods(3, 0.65, model="var", prefix="c")          # unlabelled
    # Every variant saturated: scale-up goes to the cheapest variant, ties
    # broken by the smallest name (v1); v2 holds.
    + S.pods(1, 0.95, model="var-sat", variant="v1", prefix="a")
    + S.pods(3, 0.95, model="var-sat", variant="v2", prefix="b")
    # The same model name in another namespace, with another answer.
    + S.pods(1, 0.95, model="sat-2", namespace="team-a")
)
FLOW = [S.flow(3, model="fc-only"), S.flow(0, model="fc-zero")]

SRV = None      # the shared server
C = None        # a client on it
TMP = None


def setup():
    global SRV, C, TMP
    TMP = S.tempdir()
    path = TMP.join("metrics.json")
    S.write_json_atomic(path, S.metrics(SCENARIOS, FLOW))
    SRV = S.Server(path).start()
    C = SRV.client()


def teardown():
    if C is not None:
        C.close()
    if SRV is not None:
        rc = SRV.stop()
        if rc != 0:
            print(SRV.stderr_text())
        assert rc == 0, "shared server exited with %s" % rc
    if TMP is not None:
        TMP.__exit__(None, None, None)


def desired(r, metric_name=""):
    return C.desired(r, metric_name)


def assert_desired(model, expected, **kw):
    got = desired(ref(model, **kw))
    assert got == expected, "%s %s: desired %r, expected %r" % (model, kw, got, expected)


# ---- GetMetricSpec -----------------------------------------------------------

def test_metric_spec_default():
    specs = C.get_metric_spec(ref("sat-1"))
    assert len(specs) == 1, specs
    s = specs[0]
    assert s.metricName == S.DEFAULT_METRIC, s
    assert s.targetSize == 1 and s.targetSizeFloat == 1.0, s


def test_metric_spec_custom_name():
    specs = C.get_metric_spec(ref("sat-1", metricName="my-Metric"))
    assert [s.metricName for s in specs] == ["my-Metric"], specs


def test_metric_spec_ignores_other_metadata():
    # GetMetricSpec must not fail on anything but metricName (keda#7729).
    for r in (ref("sat-1", kvCacheThreshold="1.5"), ref("sat-1", kvCacheThreshold="abc"),
              ref(None), ref(None, name="x", namespace="team-a", meta={"namespace": "llm"})):
        specs = C.get_metric_spec(r)
        assert len(specs) == 1 and specs[0].metricName == S.DEFAULT_METRIC, specs


def test_metric_spec_invalid_name():
    for bad in ("a/b", ".."):
        e = S.expect_rpc_error(INVALID, C.get_metric_spec, ref("sat-1", metricName=bad))
        assert "metricName" in e.details() and bad in e.details(), e.details()


# ---- GetMetrics: the decision --------------------------------------------------

def test_saturated():
    assert_desired("sat-1", 2)
    assert_desired("sat-2", 3)
    assert_desired("queue-1", 2)


def test_unsaturated():
    assert_desired("cold-4", 3)   # scale-down by one: 4 * 0.05 / 3 is safe
    assert_desired("half-1", 1)   # one replica never scales down
    assert_desired("half-2", 2)   # 0.5 * 2/1 = 1.0 >= 0.8: not safe


def test_hpa_tolerance_step():
    assert_desired("big-10", 12)                  # 11/10 is inside the HPA's 10 %
    assert_desired("big-10", 11, hpaTolerance="0")  # WVA's +1
    assert_desired("big-10", 11, hpaScaleUpTolerance="0")


def test_no_pods_gives_min_replicas():
    assert_desired("no-such-model", 1)
    assert_desired("no-such-model", 3, minReplicas="3")
    assert_desired("fc-only", 1)   # a flow-control queue is not a replica


def test_min_max_clamp():
    assert_desired("sat-2", 2, maxReplicas="2")
    assert_desired("sat-1", 1, maxReplicas="1")
    assert_desired("half-1", 3, minReplicas="3")
    assert_desired("sat-2", 3, maxReplicas="5")   # a max above the answer changes nothing


def test_thresholds_from_metadata():
    # 0.5 is saturated under kvCacheThreshold 0.5: 1 pod -> 2.
    assert_desired("half-1", 2, kvCacheThreshold="0.5")
    # 0.95 is not saturated under 0.99, but spare 0.04 < 0.1 still scales up.
    assert_desired("sat-1", 2, kvCacheThreshold="0.99")
    # kvSpareTrigger 0 and queueSpareTrigger 0 switch scale-up off for
    # non-saturated pods: 0.95 < 0.99 holds.
    assert_desired("sat-1", 1, kvCacheThreshold="0.99", kvSpareTrigger="0", queueSpareTrigger="0")


def test_unknown_keys_ignored():
    assert_desired("sat-2", 3, meta={"scalerAddress": "scaler:6000", "someFutureKey": "x"})


def test_default_namespace_is_the_scaled_objects():
    assert_desired("sat-2", 2, namespace="team-a")                       # team-a's own pod
    assert_desired("sat-2", 2, namespace="team-a", meta={"namespace": "team-a"})


def test_response_shape():
    resp = C.get_metrics(ref("sat-2"))
    assert len(resp.metricValues) == 1, resp
    mv = resp.metricValues[0]
    assert mv.metricValue == 3 and mv.metricValueFloat == 3.0, mv


# ---- GetMetrics: metric names ----------------------------------------------------

def test_metric_name_case_insensitive():
    r = ref("sat-2")
    for name in ("", S.DEFAULT_METRIC, "SATURATION-DESIRED-REPLICAS", "Saturation-Desired-Replicas"):
        assert desired(r, name) == 3, name


def test_metric_name_other_not_found():
    e = S.expect_rpc_error(grpc.StatusCode.NOT_FOUND, C.get_metrics, ref("sat-2"), "other")
    assert "other" in e.details(), e.details()


def test_custom_metric_name():
    r = ref("sat-2", metricName="my-Metric")
    assert desired(r, "MY-METRIC") == 3
    assert desired(r, "") == 3
    S.expect_rpc_error(grpc.StatusCode.NOT_FOUND, C.get_metrics, r, S.DEFAULT_METRIC)


# ---- IsActive ----------------------------------------------------------------------

def test_is_active():
    assert C.is_active(ref("sat-2")) is True
    assert C.is_active(ref("cold-4")) is True      # pods report
    assert C.is_active(ref("no-such-model")) is False
    assert C.is_active(ref("fc-only")) is True     # demand waits at zero replicas
    assert C.is_active(ref("fc-zero")) is False
    assert C.is_active(ref("sat-2", namespace="other-ns")) is False


# ---- INVALID_ARGUMENT --------------------------------------------------------------

def bad_refs():
    """(what, ScaledObjectRef, key the message must name, value it must echo)."""
    many = {"k%02d" % i: "v" for i in range(64)}   # + modelID = 65 keys
    return [
        ("missing modelID", ref(None), "modelID", None),
        ("empty modelID", ref(""), "modelID", None),
        ("kvCacheThreshold over 1", ref("sat-1", kvCacheThreshold="1.5"), "kvCacheThreshold", "1.5"),
        ("kvCacheThreshold not a number", ref("sat-1", kvCacheThreshold="abc"), "kvCacheThreshold", "abc"),
        ("kvCacheThreshold 0", ref("sat-1", kvCacheThreshold="0"), "kvCacheThreshold", "0"),
        ("queueLengthThreshold 0", ref("sat-1", queueLengthThreshold="0"), "queueLengthThreshold", "0"),
        ("queueLengthThreshold junk", ref("sat-1", queueLengthThreshold="5x"), "queueLengthThreshold", "5x"),
        ("kvSpareTrigger over 1", ref("sat-1", kvSpareTrigger="2"), "kvSpareTrigger", "2"),
        ("kvSpareTrigger over kvCacheThreshold",
         ref("sat-1", kvCacheThreshold="0.8", kvSpareTrigger="0.9"), "kvSpareTrigger", "0.9"),
        ("queueSpareTrigger negative", ref("sat-1", queueSpareTrigger="-1"), "queueSpareTrigger", "-1"),
        ("minReplicas not an integer", ref("sat-1", minReplicas="1.5"), "minReplicas", "1.5"),
        ("maxReplicas not a number", ref("sat-1", maxReplicas="abc"), "maxReplicas", "abc"),
        ("variantCost not a number", ref("sat-1", variantCost="cheap"), "variantCost", "cheap"),
        ("hpaTolerance not a number", ref("sat-1", hpaTolerance="abc"), "hpaTolerance", "abc"),
        ("hpaScaleUpTolerance negative", ref("sat-1", hpaScaleUpTolerance="-0.1"),
         "hpaScaleUpTolerance", "-0.1"),
        ("hpaScaleDownTolerance junk", ref("sat-1", hpaScaleDownTolerance="x"),
         "hpaScaleDownTolerance", "x"),
        ("value over 1 KiB", ref("sat-1", meta={"note": "x" * 1025}), "note", None),
        ("more than 64 keys", ref("sat-1", meta=many), None, None),
        ("cross-namespace", ref("sat-2", namespace="team-a", meta={"namespace": "llm"}), "namespace", "llm"),
    ]


def check_invalid(what, err, key, value):
    d = err.details() or ""
    assert err.code() == INVALID, "%s: %s" % (what, S.describe(err))
    assert d, "%s: empty status message" % what
    if key is not None:
        assert key in d, "%s: message %r does not name %r" % (what, d, key)
    if value is not None:
        assert value in d, "%s: message %r does not echo %r" % (what, d, value)


def test_invalid_get_metrics():
    for what, r, key, value in bad_refs():
        e = S.expect_rpc_error(INVALID, C.get_metrics, r)
        check_invalid(what, e, key, value)


def test_invalid_is_active():
    for what, r, key, value in bad_refs():
        e = S.expect_rpc_error(INVALID, C.is_active, r)
        check_invalid(what, e, key, value)


def test_invalid_stream_is_active():
    for what, r, key, value in bad_refs():
        st = C.stream_is_active(r, timeout=10)
        end = st.next(10)
        assert isinstance(end, S.StreamEnd), "%s: stream sent %r before failing" % (what, end)
        assert end.code == INVALID, "%s: stream ended with %r" % (what, end)
        if key is not None:
            assert key in (end.details or ""), "%s: %r does not name %r" % (what, end.details, key)
        if value is not None:
            assert value in (end.details or ""), "%s: %r does not echo %r" % (what, end.details, value)


def test_limits_boundaries_accepted():
    # Exactly 64 keys and a 1024-byte value are still fine.
    assert desired(ref("sat-2", meta={"k%02d" % i: "v" for i in range(63)})) == 3
    assert desired(ref("sat-2", meta={"note": "x" * 1024})) == 3


# ---- cross-namespace -------------------------------------------------------------------

def test_cross_namespace_allowed_with_flag():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(SCENARIOS, FLOW))
        with S.Server(path, args=["--allow-cross-namespace"]) as srv, srv.client() as c:
            r = ref("sat-2", namespace="team-a", meta={"namespace": "llm"})
            assert c.desired(r) == 3, "cross-namespace read should see llm's 2 pods"
            assert c.is_active(r) is True
            assert c.desired(ref("sat-2", namespace="team-a")) == 2
            assert srv.stop() == 0


# ---- variants ------------------------------------------------------------------------------

def test_variants_own_answers():
    assert_desired("var", 1, name="v1")
    assert_desired("var", 2, name="v2")
    assert_desired("var", 3, name="other")   # unlabelled pods: names no variant


def test_variants_scale_up_cheapest():
    assert_desired("var-sat", 2, name="v1")  # cheapest (tie: smallest name) grows
    assert_desired("var-sat", 3, name="v2")  # holds


# ---- unimplemented -----------------------------------------------------------------------------

def timed_unimplemented(fn, *args):
    t0 = time.monotonic()
    e = S.expect_rpc_error(grpc.StatusCode.UNIMPLEMENTED, fn, *args)
    dt = time.monotonic() - t0
    assert dt < 1.0, "UNIMPLEMENTED took %.2fs" % dt
    return e


def test_unimplemented_methods():
    for m in ("/externalscaler.ExternalScaler/Nope", "/foo.Bar/Baz"):
        timed_unimplemented(C.call_unary_raw, m, b"", 10)
        timed_unimplemented(C.call_stream_raw, m, b"", 10)


def test_stream_metric_spec_unimplemented():
    timed_unimplemented(lambda: list(C.stream_metric_spec_call(ref("sat-1"), timeout=10)))


def test_still_serving_after_unimplemented():
    # A burst of unknown calls must not use up the server's call slots.
    futs = [C.channel.unary_unary("/foo.Bar/Baz%d" % i).future(b"", timeout=10) for i in range(200)]
    for f in futs:
        assert f.code() == grpc.StatusCode.UNIMPLEMENTED, f.code()
    assert desired(ref("sat-2")) == 3


# ---- load and latency ------------------------------------------------------------------------------

def test_concurrent_calls():
    expect = {"sat-1": 2, "sat-2": 3, "cold-4": 3, "half-1": 1, "big-10": 12}
    models = list(expect) * 100
    futs = [(m, C.get_metrics_future(ref(m), timeout=10)) for m in models]
    for m, f in futs:
        got = S.check_metric_values(f.result())
        assert got == expect[m], "%s: %r" % (m, got)


def test_latency():
    # KEDA's sequence per evaluation; cached data must answer in << 100 ms.
    lat = []
    r = ref("sat-2")
    for _ in range(30):
        for call in (C.get_metric_spec, C.get_metrics, C.is_active):
            t0 = time.monotonic()
            call(r)
            lat.append(time.monotonic() - t0)
    lat.sort()
    median, p95 = lat[len(lat) // 2], lat[int(len(lat) * 0.95)]
    print("  unary latency: median %.1f ms, p95 %.1f ms" % (median * 1e3, p95 * 1e3))
    assert median < 0.05, "median latency %.1f ms" % (median * 1e3)


# ---- servers of their own --------------------------------------------------------------------------

def test_examples():
    ex = os.path.join(S.SOURCE_DIR, "examples", "metrics")
    for name, want in (("saturated.json", 3), ("unsaturated.json", 3)):
        with S.Server(os.path.join(ex, name)) as srv, srv.client() as c:
            r = ref(S.MODEL, name="granite")
            assert c.desired(r) == want, name
            assert c.is_active(r) is True, name
            assert srv.stop() == 0


def test_file_reload():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(1, 0.95)))
        with S.Server(path) as srv, srv.client() as c:
            r = ref()
            assert c.desired(r) == 2
            t0 = time.monotonic()
            S.write_json_atomic(path, S.metrics(S.pods(4, 0.05)))
            S.wait_until(lambda: c.desired(r) == 3, S.FILE_CHANGE_TIMEOUT, 0.02, "the new file")
            dt = time.monotonic() - t0
            print("  file change seen after %.0f ms" % (dt * 1e3))
            assert dt < 1.0, "change seen after %.2fs (promised: 500 ms)" % dt
            S.write_json_atomic(path, S.metrics(flow_rows=[S.flow(0)]))
            S.wait_until(lambda: c.is_active(r) is False, S.FILE_CHANGE_TIMEOUT, 0.02, "no pods")
            assert c.desired(r) == 1
            assert srv.stop() == 0


TESTS = [
    test_metric_spec_default, test_metric_spec_custom_name, test_metric_spec_ignores_other_metadata,
    test_metric_spec_invalid_name,
    test_saturated, test_unsaturated, test_hpa_tolerance_step, test_no_pods_gives_min_replicas,
    test_min_max_clamp, test_thresholds_from_metadata, test_unknown_keys_ignored,
    test_default_namespace_is_the_scaled_objects, test_response_shape,
    test_metric_name_case_insensitive, test_metric_name_other_not_found, test_custom_metric_name,
    test_is_active,
    test_invalid_get_metrics, test_invalid_is_active, test_invalid_stream_is_active,
    test_limits_boundaries_accepted,
    test_cross_namespace_allowed_with_flag,
    test_variants_own_answers, test_variants_scale_up_cheapest,
    test_unimplemented_methods, test_stream_metric_spec_unimplemented,
    test_still_serving_after_unimplemented,
    test_concurrent_calls, test_latency,
    test_examples, test_file_reload,
]

if __name__ == "__main__":
    S.run_tests(TESTS, setup, teardown)
