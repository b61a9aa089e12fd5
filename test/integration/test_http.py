#!/usr/bin/python3
"""test_http: the HTTP endpoint (/healthz, /readyz, /metrics, /debug/decision).

A real Prometheus scrapes /metrics (so the text format is parsed by
Prometheus itself) and the stored series are asserted on; /debug/decision
has the analyze output's shape plus inputs and time; /readyz follows gRPC
serving, never the data source.
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
import promstack as P  # noqa: E402
from scaler import ref  # noqa: E402


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_endpoints_scraped_by_prometheus():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(2, 0.95)))
        hport = S.free_port()
        with S.Server(path, args=["--http-listen", "127.0.0.1:%d" % hport]) as srv, \
                srv.client() as c:
            assert get(hport, "/healthz")[0] == 200
            assert get(hport, "/readyz") == (200, "ready\n")
            assert get(hport, "/nope")[0] == 404
            assert get(hport, "/debug/decision")[0] == 400
            assert get(hport, "/debug/decision?namespace=%s&scaledobject=so" % S.NS)[0] == 404
            assert c.desired(ref()) == 3
            assert c.is_active(ref()) is True
            st, body = get(hport, "/debug/decision?namespace=%s&scaledobject=so" % S.NS)
            assert st == 200, (st, body)
            d = json.loads(body)
            for k in ("totalReplicas", "nonSaturatedCount", "avgSpareKv", "avgSpareQueue",
                      "shouldScaleUp", "scaleUpReason", "scaleDownSafe", "variants",
                      "desired", "current", "action", "inputs", "time"):
                assert k in d, (k, d)
            assert d["desired"] == 3 and d["current"] == 2 and d["action"] == "scale-up", d
            assert d["inputs"]["kvCacheThreshold"] == 0.8, d

            prom = P.Prometheus(["127.0.0.1:%d" % hport], name="prom-self")
            prom.start()
            try:
                sel = 'saturation_scaler_desired_replicas{namespace="%s",scaledobject="so"}' % S.NS
                prom.wait_value(sel, 3.0, 15)
                prom.wait_value('saturation_scaler_rpcs_total{method="GetMetrics",code="OK"}',
                                1.0, 15)
                assert prom.value('saturation_scaler_current_replicas{scaledobject="so"}') == 2.0
                assert prom.value('saturation_scaler_active{scaledobject="so"}') == 1.0
                assert prom.value('saturation_scaler_build_info') == 1.0
                # an error is counted under its code
                S.expect_rpc_error(S.grpc.StatusCode.INVALID_ARGUMENT, c.get_metrics, ref(None))
                prom.wait_value(
                    'saturation_scaler_rpcs_total{method="GetMetrics",code="INVALID_ARGUMENT"}',
                    1.0, 15)
                # a stream shows up in the gauge and its message in the counter
                st = c.stream_is_active(ref())
                st.expect(True, 2.0)
                prom.wait_value('saturation_scaler_open_streams', 1.0, 15)
                assert prom.value('saturation_scaler_stream_messages_total{value="true"}') == 1.0
                st.cancel()
            finally:
                prom.stop()
            # SIGTERM: /readyz goes 503 while the server drains
            srv.signal(signal.SIGTERM)
            assert srv.wait_exit(15) == 0


TESTS = [test_endpoints_scraped_by_prometheus]

if __name__ == "__main__":
    S.run_tests(TESTS)
