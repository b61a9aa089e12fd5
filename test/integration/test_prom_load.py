#!/usr/bin/python3
"""test_prom_load: query load does not grow with ScaledObjects.

500 ScaledObjects over 50 models in 5 namespaces (10 ScaledObjects per
model), the simulator serving 2 pods per model, a scaler with
--refresh-interval 2s. The queries the scaler sends are counted by
Prometheus itself: prometheus_http_requests_total{handler="/api/v1/query"},
read from Prometheus' /metrics text (not through a query, which would count
itself).

- first pass: every ScaledObject asks once (GetMetricSpec, GetMetrics,
  IsActive, as KEDA does), 8 at a time; every answer is right; the queries
  it cost are bounded by the models (2 per model at worst: one fetch per
  newly seen model), not by the ScaledObjects;
- steady state: all 500 polled again and again for ~10 s (5 refresh
  intervals): the counter grows by at most 2 per refresh interval elapsed
  (+1 interval of slack for the boundary): one kv and one queue query
  cover every model and namespace.
"""
import concurrent.futures
import math
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

N_NAMESPACES = 5
N_MODELS = 50
SO_PER_MODEL = 10
PODS_PER_MODEL = 2
REFRESH_S = 2.0
STEADY_S = 10.0
QUERIES_PER_REFRESH = 2      # kv-cache and queue

SIM = None
PROM = None
SRV = None


def models():
    """[(namespace, model, expected desired)]: odd models saturated (2 pods
    at 0.95 -> 3), even ones at 0.5 (-> 2)."""
    out = []
    for i in range(N_MODELS):
        ns = "load-%d" % (i % N_NAMESPACES)
        out.append((ns, "org/model-%02d" % i, 3 if i % 2 else 2))
    return out


def scaled_objects():
    return [(ref(m, name="so-%s-%d" % (m.split("-")[-1], k), namespace=ns), want)
            for ns, m, want in models() for k in range(SO_PER_MODEL)]


def setup():
    global SIM, PROM, SRV
    P.check_tools()
    SIM = P.Sim().start()
    rows = []
    for ns, m, want in models():
        rows += P.pods(PODS_PER_MODEL, m, 0.95 if want == 3 else 0.5, namespace=ns)
    SIM.add_pods(rows)
    PROM = P.Prometheus([SIM.address]).start()
    PROM.wait_count('vllm:kv_cache_usage_perc{namespace=~"load-.*"}', N_MODELS * PODS_PER_MODEL,
                    timeout=30)
    SRV = P.scaler(PROM.url, refresh="2s")


def teardown():
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "scaler exited with %s\n%s" % (rc, SRV.stderr_text())
    if PROM is not None:
        PROM.stop()
    if SIM is not None:
        SIM.stop()


def test_query_load_independent_of_scaled_objects():
    sos = scaled_objects()
    assert len(sos) == N_MODELS * SO_PER_MODEL
    # KEDA evaluates ScaledObjects in no particular order.
    random.Random(7).shuffle(sos)
    with SRV.client() as c:
        def evaluate(item):
            r, want = item
            spec = c.get_metric_spec(r)
            got = c.desired(r)
            active = c.is_active(r)
            return r, want, spec, got, active

        q0 = PROM.query_requests()
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(evaluate, sos))
        first_s = time.monotonic() - t0
        q1 = PROM.query_requests()
        bad = [(r.namespace, r.name, want, got, active) for r, want, spec, got, active in results
               if got != want or active is not True or spec[0].targetSize != 1]
        assert not bad, "wrong first-pass answers (ns, name, want, got, active): %r" % bad[:5]
        first_q = q1 - q0
        print("first pass: %d ScaledObjects in %.2f s, %d queries" % (len(sos), first_s, first_q),
              flush=True)
        assert first_q <= QUERIES_PER_REFRESH * (N_MODELS + 1), \
            "first pass cost %d queries for %d models" % (first_q, N_MODELS)

        # Steady state: every ScaledObject polled repeatedly.
        qs = PROM.query_requests()
        ts = time.monotonic()
        rounds = calls = 0
        worst = 0.0
        while time.monotonic() - ts < STEADY_S:
            for r, want in sos:
                t = time.monotonic()
                got = c.desired(r)
                active = c.is_active(r)
                worst = max(worst, time.monotonic() - t)
                assert got == want and active is True, (r.namespace, r.name, got, active)
                calls += 2
            rounds += 1
        elapsed = time.monotonic() - ts
        qe = PROM.query_requests()
        grew = qe - qs
        refreshes = elapsed / REFRESH_S
        allowed = QUERIES_PER_REFRESH * (math.floor(refreshes) + 1)
        print("steady: %d rounds over all %d ScaledObjects (%d calls, %.0f calls/s, worst pair "
              "%.1f ms) in %.1f s: %d queries, allowed %d"
              % (rounds, len(sos), calls, calls / elapsed, 1000 * worst, elapsed, grew, allowed))
        print("queries per refresh: %.2f" % (grew / refreshes), flush=True)
        assert rounds >= 2, rounds
        assert grew <= allowed, "%d queries in %.1f s (%.1f refresh intervals)" \
            % (grew, elapsed, refreshes)
        assert grew >= QUERIES_PER_REFRESH * (math.floor(refreshes) - 1), \
            "only %d queries in %.1f s: is the scaler refreshing?" % (grew, elapsed)


def main():
    S.run_tests([test_query_load_independent_of_scaled_objects], setup=setup,
                teardown=teardown)


if __name__ == "__main__":
    main()
