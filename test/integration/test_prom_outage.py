#!/usr/bin/python3
"""test_prom_outage: Prometheus goes away (stopped, or frozen with
SIGSTOP) and comes back, under a running scaler.

- stopped: GetMetrics and IsActive answer UNAVAILABLE, each call within
  the endpoint timeout (+1s), naming the endpoint and the cause; an open
  StreamIsActive stays open and silent; GetMetricSpec still answers;
  restarted on the same port and data dir: the answers recover without
  restarting the scaler, and a saturation rise still reaches the stream;
- frozen: the fetch times out after the endpoint timeout: UNAVAILABLE
  naming the timeout, no call waits longer than the timeout (+1s);
- --max-staleness: during an outage the last good snapshot keeps
  answering for that long, then UNAVAILABLE.
"""
import os
import sys
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

NS = "llm"
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
TIMEOUT_S = 2.0          # the endpoint timeout in the config
ENDPOINT = 'prometheus "default"'

SIM = None
PROM = None
CONFIG = None


def setup():
    global SIM, PROM, CONFIG
    P.check_tools()
    SIM = P.Sim().start()
    PROM = P.Prometheus([SIM.address]).start()
    CONFIG = P.write_config({"prometheus": {"default": {"url": PROM.url, "timeout": "2s"}}})


def teardown():
    if PROM is not None:
        PROM.stop()
    if SIM is not None:
        SIM.stop()


def ensure_prometheus():
    if not PROM.running():
        PROM.start()


def call(fn, r):
    """(seconds, result or RpcError) of one call."""
    return P.timed(fn, r)


def is_unavailable(x):
    return isinstance(x, grpc.RpcError) and x.code() == UNAVAILABLE


def poll_until_unavailable(c, r, timeout, bound):
    """Call GetMetrics and IsActive alternately until both answer
    UNAVAILABLE; every call must take less than bound seconds. Returns
    (seconds until the first UNAVAILABLE, the last two errors)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    first = None
    while True:
        dt_m, res_m = call(c.desired, r)
        dt_a, res_a = call(c.is_active, r)
        for dt, what in ((dt_m, "GetMetrics"), (dt_a, "IsActive")):
            assert dt < bound, "%s took %.2fs (bound %.1fs)" % (what, dt, bound)
        if first is None and (is_unavailable(res_m) or is_unavailable(res_a)):
            first = time.monotonic() - t0
        if is_unavailable(res_m) and is_unavailable(res_a):
            return first, res_m, res_a
        for res in (res_m, res_a):
            if isinstance(res, grpc.RpcError) and not is_unavailable(res):
                raise AssertionError("unexpected %s" % S.describe(res))
        if time.monotonic() >= deadline:
            raise AssertionError("no UNAVAILABLE within %.0fs (last %r / %r)"
                                 % (timeout, res_m, res_a))
        time.sleep(0.05)


def test_stopped_unavailable_then_recovers():
    ensure_prometheus()
    m = "outage"
    # The default 1m window: it spans the outage and Prometheus' first
    # scrape after the restart (with a window shorter than that gap the
    # pods would honestly vanish for a moment and the stream say false).
    r = ref(m, name="outage")
    SIM.add_pods(P.pods(2, m, 0.5))
    with P.scaler(config=CONFIG) as srv, srv.client() as c:
        S.wait_until(lambda: c.desired(r) == 2, P.ANSWER_TIMEOUT, 0.1, "desired 2")
        st = c.stream_is_active(r)
        try:
            st.expect(True, 5)
            PROM.stop()
            t_first, em, ea = poll_until_unavailable(c, r, 10, TIMEOUT_S + 1)
            print("  Prometheus stopped: UNAVAILABLE after %.1fs: %s" % (t_first, em.details()))
            for e in (em, ea):
                assert ENDPOINT in e.details(), e.details()
                # the cause: curl's connect failure, from the kv or queue query
                assert "query" in e.details() and "onnect" in e.details(), e.details()
            # Once failed: answered at once, not after a wait.
            worst = max(call(fn, r)[0] for fn in (c.desired, c.is_active) for _ in range(20))
            assert worst < 0.5, "UNAVAILABLE answers took up to %.2fs" % worst
            # A model nobody asked about before: also UNAVAILABLE within the timeout.
            dt, res = call(c.desired, ref("never-seen", name="ns"))
            assert is_unavailable(res) and dt < TIMEOUT_S + 1, (dt, res)
            assert ENDPOINT in res.details(), res.details()
            # GetMetricSpec never depends on Prometheus.
            assert c.get_metric_spec(r)[0].targetSize == 1
            # The stream stays open and silent.
            st.expect_quiet(3.0)
            # Saturation rises during the outage; Prometheus comes back.
            SIM.set(NS, model=m, kv=0.95)
            PROM.start()
            t0 = time.monotonic()
            S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1,
                         "desired 3 after the restart")
            print("  restarted: answers back after %.1fs" % (time.monotonic() - t0))
            st.expect(True, P.ANSWER_TIMEOUT)      # the rise reaches the open stream
            st.expect_quiet(2.0)
            assert c.is_active(r) is True
            assert "recovered" in srv.stderr_text(), "no 'recovered' log line"
        finally:
            st.cancel()


def test_frozen_times_out():
    ensure_prometheus()
    m = "frozen"
    r = ref(m, name="frozen")
    SIM.add_pods(P.pods(2, m, 0.95))
    with P.scaler(config=CONFIG) as srv, srv.client() as c:
        S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1, "desired 3")
        PROM.freeze()
        try:
            t_first, em, ea = poll_until_unavailable(c, r, 15, TIMEOUT_S + 1)
            print("  Prometheus frozen: UNAVAILABLE after %.1fs: %s" % (t_first, em.details()))
            for e in (em, ea):
                assert ENDPOINT in e.details(), e.details()
                assert "timeout after 2000ms" in e.details(), e.details()
            # A new model parks at most the endpoint timeout.
            dt, res = call(c.desired, ref("frozen-new", name="fn"))
            assert is_unavailable(res) and dt < TIMEOUT_S + 1, (dt, res)
        finally:
            PROM.thaw()
        S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1, "desired 3 after thaw")


def test_max_staleness():
    ensure_prometheus()
    m = "stale-ok"
    r = ref(m, name="stale-ok")
    SIM.add_pods(P.pods(2, m, 0.95))
    long_srv = P.scaler(config=CONFIG, args=["--max-staleness", "30s"])
    short_srv = P.scaler(config=CONFIG, args=["--max-staleness", "3s"])
    with long_srv, short_srv, long_srv.client() as cl, short_srv.client() as cs:
        for c in (cl, cs):
            S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1, "desired 3")
            assert c.is_active(r) is True
        PROM.stop()
        t0 = time.monotonic()
        short_unavailable = None
        # 8 s of outage: the 30s scaler answers from its last snapshot all
        # along; the 3s one does for about 3s, then UNAVAILABLE.
        while time.monotonic() - t0 < 8.0:
            dt, res = call(cl.desired, r)
            assert res == 3 and dt < 0.5, "max-staleness 30s: %r after %.1fs of outage" \
                % (res, time.monotonic() - t0)
            dt, res = call(cl.is_active, r)
            assert res is True, res
            dt, res = call(cs.desired, r)
            assert dt < TIMEOUT_S + 1, dt
            if short_unavailable is None and is_unavailable(res):
                short_unavailable = time.monotonic() - t0
                assert ENDPOINT in res.details(), res.details()
            elif short_unavailable is None:
                assert res == 3, res
            time.sleep(0.1)
        print("  max-staleness 3s: UNAVAILABLE after %s s of outage" %
              ("%.1f" % short_unavailable if short_unavailable is not None else "never"))
        assert short_unavailable is not None, "max-staleness 3s never gave up"
        # Last success <= 1 refresh before the stop; given up at the first
        # failed refresh after 3s.
        assert 1.5 <= short_unavailable <= 7.0, short_unavailable
        PROM.start()
        for c in (cl, cs):
            S.wait_until(lambda: c.desired(r) == 3, P.ANSWER_TIMEOUT, 0.1, "recovered")


def main():
    S.run_tests([
        test_stopped_unavailable_then_recovers,
        test_frozen_times_out,
        test_max_staleness,
    ], setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
