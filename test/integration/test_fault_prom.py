#!/usr/bin/python3
"""test_fault_prom: a misbehaving Prometheus.

One scaler, two endpoints in its --config (timeout 2s each, --refresh-interval
1s): "default" (also given as --prometheus-url) is a fake Prometheus of this
test (faultstack.FakeProm) whose behaviour is switched per fault; "good" is a
second, healthy fake serving model g (3 pods). For every fault:

- GetMetrics and IsActive for model m on "default" answer UNAVAILABLE with a
  message naming the endpoint (`prometheus "default"`) and the cause
  (timeout / HTTP 500 / 429 / invalid JSON / truncated / larger than /
  bad_data ...); no call takes longer than the endpoint timeout + 1 s, and
  once the failure is known they answer at once (< 0.5 s);
- calls for models never fetched before, made concurrently (more of them
  than the scaler has worker threads) the moment the fault starts, park
  and then answer UNAVAILABLE naming the endpoint within the endpoint
  timeout + 1 s;
- GetMetricSpec for the failing trigger answers OK;
- meanwhile a background loop of calls to the same scaler (GetMetrics and
  IsActive for g on "good", GetMetricSpec, health Check; from a child
  process with a channel of its own) keeps answering, right, each call within 100 ms (300 ms for a
  sanitized binary), over at least 200 calls per fault: no worker thread
  stalls;
- when the fake answers well again, everything recovers by itself (m: 2
  replicas; the models first asked during the fault: minReplicas, not
  active).

Finally the scaler exits 0 on SIGTERM; with SAT_ASAN_BINARY (an ASan
build) the run uses that binary and asserts no sanitizer report.
"""
import os
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultstack as F  # noqa: E402
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
TIMEOUT_S = 2.0           # the endpoint timeout in the config
REFRESH_S = 1.0
CALL_BOUND_S = TIMEOUT_S + 1.0   # the longest any call may take during a fault
AT_ONCE_S = 0.5           # a call once the failure is known
PROBE_BOUND_S = F.probe_bound()  # a call to the healthy endpoint: 100 ms (x3 sanitized)
PROBE_MIN_CALLS = 200
PHASE_MIN_S = 1.5         # each fault stays on at least this long
RECOVER_TIMEOUT = 10.0
FAIL_VISIBLE_TIMEOUT = REFRESH_S + TIMEOUT_S + 3.0
PARKERS = 6               # concurrent calls for new models at each fault's start
ENDPOINT = 'prometheus "default"'

# name, fake mode, delay, words the message must contain (all of them)
FAULTS = [
    ("never-answers", "hang", 0.0, ["timeout after 2000ms"]),
    ("answers-after-deadline", "delay", 3.0, ["timeout after 2000ms"]),
    ("http-500", "http500", 0.0, ["HTTP 500", "internal: fake: expanding series"]),
    ("http-429", "http429", 0.0, ["HTTP 429", "Too Many Requests"]),
    ("html-200", "html200", 0.0, ["invalid JSON", "<!DOCTYPE html>"]),
    ("html-502", "html502", 0.0, ["HTTP 502", "Bad Gateway"]),
    ("truncated-json", "truncated", 0.0, ["truncated JSON"]),
    ("short-body", "short", 0.0, ["partial"]),
    ("no-reply", "empty", 0.0, ["nothing"]),
    ("body-100MiB", "huge", 0.0, ["larger than 67108864 bytes"]),
    ("body-100MiB-chunked", "huge_chunked", 0.0, ["larger than 67108864 bytes"]),
    ("gzip-bomb-100MiB", "gzip_bomb", 0.0, ["larger than 67108864 bytes"]),
    ("status-error-bad_data", "bad_data", 0.0, ["bad_data", "parse error", "HTTP 400"]),
    ("status-error-execution", "execution", 0.0, ["execution", "too many samples", "HTTP 422"]),
]

FAKE = None
GOOD = None
SRV = None
C = None
PROBER = None
M = ref("m", name="m")
G = ref("g", name="g", prometheus="good")


def setup():
    global FAKE, GOOD, SRV, C, PROBER
    FAKE = F.FakeProm(F.rows("m", 2, 0.5))
    GOOD = F.FakeProm(F.rows("g", 3, 0.5))
    cfg = P.write_config({"prometheus": {
        "default": {"url": FAKE.url, "timeout": "2s"},
        "good": {"url": GOOD.url, "timeout": "2s"}}})
    print("  binary: %s%s" % (F.binary(), " (sanitized)" if F.sanitized() else ""))
    SRV = S.Server(None, args=["--prometheus-url", FAKE.url, "--config", cfg,
                               "--refresh-interval", "1s"] + F.extra_server_args(),
                   binary=F.binary(), env=F.server_env()).start()
    C = SRV.client()
    S.wait_until(lambda: C.desired(M) == 2, RECOVER_TIMEOUT, 0.1, "desired 2 for m")
    S.wait_until(lambda: C.desired(G) == 3, RECOVER_TIMEOUT, 0.1, "desired 3 for g")
    PROBER = F.Prober(SRV.address, G, desired=3, active=True).start()


def teardown():
    try:
        if PROBER is not None:
            PROBER.stop()
        if C is not None:
            C.close()
        if SRV is not None and SRV.proc is not None and SRV.proc.poll() is None:
            F.clean_exit(SRV)
    finally:
        for f in (FAKE, GOOD):
            if f is not None:
                f.close()


def unavailable(res, words, what):
    """Assert res is UNAVAILABLE naming the endpoint and every word."""
    assert isinstance(res, grpc.RpcError), "%s: expected UNAVAILABLE, got %r" % (what, res)
    assert res.code() == UNAVAILABLE, "%s: %s" % (what, S.describe(res))
    d = res.details()
    assert ENDPOINT in d, "%s: no %s in %r" % (what, ENDPOINT, d)
    for w in words:
        assert w in d, "%s: no %r in %r" % (what, w, d)
    return d


def shows(words, lat):
    def check():
        dt, res = P.timed(C.desired, M)
        lat.append(dt)
        if isinstance(res, grpc.RpcError) and res.code() == UNAVAILABLE and \
                all(w in res.details() for w in words):
            return res
        if isinstance(res, grpc.RpcError) and res.code() != UNAVAILABLE:
            raise AssertionError("GetMetrics: %s" % S.describe(res))
        return None
    return check


def recover(fresh=()):
    FAKE.set("good")
    S.wait_until(lambda: C.desired(M) == 2, RECOVER_TIMEOUT, 0.1, "m recovers: desired 2")
    assert C.is_active(M) is True
    for r in fresh:
        # asked first during the fault: covered now, no series: minReplicas
        S.wait_until(lambda: C.desired(r) == 1, RECOVER_TIMEOUT, 0.1, "fresh model: desired 1")
        assert C.is_active(r) is False


def run_fault(name, mode, delay, words):
    parks_may_expire = mode in ("hang", "delay")
    fresh = [ref("%s-%d" % (name, i), name="f%d" % i) for i in range(PARKERS)]
    parked = []
    lock = threading.Lock()

    def park(r, fn):
        dt, res = P.timed(fn, r)
        with lock:
            parked.append((dt, res))

    PROBER.phase(name)
    t0 = time.monotonic()
    FAKE.set(mode, delay=delay)
    threads = []
    for i, r in enumerate(fresh):
        fn = C.desired if i % 2 == 0 else C.is_active
        t = threading.Thread(target=park, args=(r, fn), daemon=True)
        t.start()
        threads.append(t)
    # m: served from the last snapshot until a fetch fails, then UNAVAILABLE.
    polls = []
    err = S.wait_until(shows(words, polls), FAIL_VISIBLE_TIMEOUT, 0.05,
                       "%s: the cause in GetMetrics" % name)
    seen = time.monotonic() - t0
    assert max(polls) < CALL_BOUND_S, "GetMetrics took %.2fs during the fault" % max(polls)
    msg = unavailable(err, words, "GetMetrics")
    # Known now: answered at once, the same for IsActive and the new models.
    for r in [M] + fresh[:2]:
        for fn, what in ((C.desired, "GetMetrics"), (C.is_active, "IsActive")):
            dt, res = P.timed(fn, r)
            unavailable(res, words, what)
            assert dt < AT_ONCE_S, "%s after the failure: %.3fs" % (what, dt)
    # GetMetricSpec never depends on Prometheus.
    dt, res = P.timed(C.get_metric_spec, M)
    assert not isinstance(res, grpc.RpcError), "GetMetricSpec: %s" % S.describe(res)
    assert res[0].metricName == S.DEFAULT_METRIC and dt < AT_ONCE_S, (res, dt)
    for t in threads:
        t.join(timeout=CALL_BOUND_S + 2)
        assert not t.is_alive(), "a parked call did not return"
    for dt, res in parked:
        assert dt < CALL_BOUND_S, "a parked call took %.2fs" % dt
        if parks_may_expire and isinstance(res, grpc.RpcError) and \
                "did not finish in time" in res.details():
            unavailable(res, [], "parked call")
        else:
            unavailable(res, words, "parked call")
    left = PHASE_MIN_S - (time.monotonic() - t0)
    if left > 0:
        time.sleep(left)
    n, worst = PROBER.check(name, PROBE_BOUND_S, PROBE_MIN_CALLS)
    print("  %-24s visible after %.2fs; parked %d: max %.2fs; healthy endpoint: %d calls, "
          "max %.1f ms\n      %s" % (name, seen, len(parked), max(d for d, _ in parked), n,
                                     worst * 1000, msg))
    PROBER.phase("recover-" + name)
    recover(fresh)


def make_test(name, mode, delay, words):
    def test():
        run_fault(name, mode, delay, words)
    test.__name__ = "test_" + name.replace("-", "_")
    return test


def test_healthy_endpoint_unaffected_overall():
    # Every phase, recoveries included: no wrong answer, nothing slow.
    PROBER.phase("final")
    time.sleep(0.3)
    total, worst = 0, 0.0
    for name in PROBER.names:
        if not PROBER.stats(name)["n"]:
            continue
        n, w = PROBER.check(name, PROBE_BOUND_S, 1)
        total += n
        worst = max(worst, w)
    print("  healthy endpoint over the whole run: %d calls, max %.1f ms" % (total, worst * 1000))
    st = FAKE.stats()
    print("  fake prometheus requests by mode: %s" % st["counts"])
    for _, mode, _, _ in FAULTS:
        assert st["counts"].get(mode, 0) >= 1, (mode, st)


def test_clean_exit():
    PROBER.stop()
    F.clean_exit(SRV)


def main():
    tests = [make_test(*f) for f in FAULTS]
    tests += [test_healthy_endpoint_unaffected_overall, test_clean_exit]
    S.run_tests(tests, setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
