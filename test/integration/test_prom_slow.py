#!/usr/bin/python3
"""test_prom_slow: endpoints are isolated from each other, and trigger
metadata picks only configured endpoints.

Two endpoints in a --config: "default" straight to Prometheus, "slow"
through a proxy of this test that holds every request 3s (endpoint timeout
2s). ScaledObjects with `prometheus: slow` get UNAVAILABLE (a parked call
after at most the timeout, then the fetch's timeout at once) while calls
for "default", made at the same time, keep answering fast (max latency
over many calls < 200 ms). An unknown endpoint name is INVALID_ARGUMENT
naming it; a URL in metadata is INVALID_ARGUMENT unless the server runs
with --allow-metadata-prometheus-url.
"""
import os
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

NS = "llm"
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
INVALID = grpc.StatusCode.INVALID_ARGUMENT
SLOW_TIMEOUT_S = 2.0
DELAY_S = 3.0
FAST_BOUND_S = 0.2

SIM = None
PROM = None
PROXY = None
SRV = None
C = None


def setup():
    global SIM, PROM, PROXY, SRV, C
    P.check_tools()
    SIM = P.Sim().start()
    PROM = P.Prometheus([SIM.address]).start()
    PROXY = P.Proxy(PROM, delay=DELAY_S)
    cfg = P.write_config({"prometheus": {
        "default": {"url": PROM.url, "timeout": "5s"},
        "slow": {"url": PROXY.url, "timeout": "2s"}}})
    SIM.add_pods(P.pods(2, "fast", 0.95) + P.pods(3, "lag", 0.95))
    SRV = P.scaler(config=cfg)
    C = SRV.client()
    S.wait_until(lambda: C.desired(ref("fast", name="fast")) == 3, P.ANSWER_TIMEOUT, 0.1,
                 "desired 3 for fast")


def teardown():
    if C is not None:
        C.close()
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "scaler exited with %s\n%s" % (rc, SRV.stderr_text())
    if PROXY is not None:
        PROXY.close()
    if PROM is not None:
        PROM.stop()
    if SIM is not None:
        SIM.stop()


def test_slow_endpoint_does_not_hold_up_the_fast_one():
    fast = ref("fast", name="fast")
    slow = ref("lag", name="lag", prometheus="slow")
    slow_results = []

    def ask_slow():
        # Each call: parked until the first fetch completes (it cannot:
        # 3s > 2s) for at most the endpoint timeout, then UNAVAILABLE at once.
        t_end = time.monotonic() + 7.0
        while time.monotonic() < t_end:
            with_ = [P.timed(C.desired, slow), P.timed(C.is_active, slow)]
            slow_results.extend(with_)
            time.sleep(0.05)

    t = threading.Thread(target=ask_slow, daemon=True)
    t0 = time.monotonic()
    t.start()
    fast_lat = []
    while t.is_alive() and time.monotonic() - t0 < 15:
        dt, res = P.timed(C.desired, fast)
        assert res == 3, "default endpoint: %r" % (res,)
        fast_lat.append(dt)
        dt, res = P.timed(C.is_active, fast)
        assert res is True, "default endpoint: %r" % (res,)
        fast_lat.append(dt)
        time.sleep(0.01)
    t.join(timeout=10)
    assert not t.is_alive()
    fast_lat.sort()
    print("  default during the slow fetches: %d calls, median %.1f ms, max %.1f ms"
          % (len(fast_lat), 1000 * fast_lat[len(fast_lat) // 2], 1000 * fast_lat[-1]))
    assert len(fast_lat) > 100, len(fast_lat)
    assert fast_lat[-1] < FAST_BOUND_S, "a default call took %.3fs" % fast_lat[-1]
    # The slow side: never an answer, never longer than the timeout (+1s).
    assert slow_results, "no slow calls made"
    worst = max(dt for dt, _ in slow_results)
    assert worst < SLOW_TIMEOUT_S + 1, "a slow call took %.2fs" % worst
    for dt, res in slow_results:
        assert isinstance(res, grpc.RpcError) and res.code() == UNAVAILABLE, res
        assert 'prometheus "slow"' in res.details(), res.details()
    details = [res.details() for _, res in slow_results]
    assert any("timeout after 2000ms" in d for d in details), details[-3:]
    print("  slow: %d calls, all UNAVAILABLE, max %.2fs; e.g. %s"
          % (len(slow_results), worst, details[-1]))
    # The first call parked (the first fetch was in flight) and gave up
    # within the timeout.
    first_dt, first = slow_results[0]
    assert 1.0 <= first_dt < SLOW_TIMEOUT_S + 1, first_dt
    # After the fetch failed: UNAVAILABLE at once.
    late = [dt for dt, _ in slow_results[-10:]]
    assert max(late) < 0.5, late
    # The proxy got the scaler's queries, each held 3s.
    assert PROXY.counts()[0] >= 2, PROXY.counts()
    # The slow endpoint recovers when the proxy is fast again.
    PROXY.set(delay=0)
    S.wait_until(lambda: C.desired(slow) == 4, P.ANSWER_TIMEOUT, 0.1, "slow recovers: desired 4")
    assert C.desired(fast) == 3
    PROXY.set(delay=DELAY_S)


def test_unknown_endpoint_is_invalid():
    r = ref("fast", name="fast", prometheus="nope")
    for fn in (C.desired, C.is_active):
        e = S.expect_rpc_error(INVALID, fn, r)
        assert '"nope"' in e.details() and "not a configured endpoint" in e.details(), \
            e.details()
    st = C.stream_is_active(r)
    end, skipped = st.wait_end(5)
    assert end.code == INVALID and '"nope"' in end.details, (end, skipped)
    # GetMetricSpec validates metricName only.
    assert C.get_metric_spec(r)[0].metricName == S.DEFAULT_METRIC


def test_metadata_url_refused_unless_allowed():
    r = ref("fast", name="fast", prometheus=PROM.url)
    for fn in (C.desired, C.is_active):
        e = S.expect_rpc_error(INVALID, fn, r)
        assert "--allow-metadata-prometheus-url" in e.details(), e.details()
    assert C.get_metric_spec(r)[0].targetSize == 1
    with P.scaler(PROM.url, args=["--allow-metadata-prometheus-url"]) as srv, \
            srv.client() as c:
        S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1, "desired via metadata URL")
        assert c.is_active(r) is True
        # the named endpoint still works next to it
        assert c.desired(ref("lag", name="lag")) == 4
        e = S.expect_rpc_error(INVALID, c.desired, ref("fast", name="f", prometheus="ftp://x"))
        assert "ftp://x" in e.details(), e.details()


def main():
    S.run_tests([
        test_slow_endpoint_does_not_hold_up_the_fast_one,
        test_unknown_endpoint_is_invalid,
        test_metadata_url_refused_unless_allowed,
    ], setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
