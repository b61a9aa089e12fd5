#!/usr/bin/python3
"""test_config: the server config file, live.

Defaults and per-model overrides from --config change the answers;
changing the file (or SIGHUP) reloads it without dropping streams; a bad
new file is rejected and the running config kept; `check-config` names the
bad key and exits non-zero; log lines are valid JSON.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

RELOAD = 4.0  # the file is checked once a second


def config(threshold):
    return {"defaults": {"queueSpareTrigger": 3},
            "overrides": [{"namespace": S.NS, "model": S.MODEL, "kvCacheThreshold": threshold}]}


def test_override_and_reload_keep_streams():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        cfg = tmp.join("config.json")
        # 2 pods at 0.9: saturated under 0.8, not under 0.95
        S.write_json_atomic(path, S.metrics(S.pods(2, 0.9)))
        S.write_json_atomic(cfg, config(0.95))
        with S.Server(path, args=["--config", cfg]) as srv, srv.client() as c:
            r = ref()
            # 0.95 - 0.9 = 0.05 spare < 0.1: scale up, but nothing saturated
            assert c.desired(r) == 3, c.desired(r)
            st = c.stream_is_active(r)
            try:
                st.expect(True, 2.0)          # active (pods report)
                st.expect_quiet(0.5)
                # Reload through a file change: the override goes to 0.85
                # (every pod now saturated under it).
                S.write_json_atomic(cfg, config(0.85))
                S.wait_until(lambda: "config reloaded" in srv.stderr_text(), RELOAD,
                             what="reload after a file change")
                assert c.desired(r) == 3
                # metadata still wins over the override: under 0.99 with a
                # 0.05 trigger the pods have spare (0.09) and nothing moves
                assert c.desired(ref(kvCacheThreshold="0.99", kvSpareTrigger="0.05")) == 2
                # A bad file is rejected; the running config stays.
                S.write_atomic(cfg, b'{"defaults": {"kvCacheThresold": 0.5}}')
                S.wait_until(lambda: "new config rejected" in srv.stderr_text(), RELOAD,
                             what="rejection of a bad file")
                assert "kvCacheThresold" in srv.stderr_text()
                assert c.desired(ref(kvCacheThreshold="0.95")) == 3
                # SIGHUP reloads too (a good file again)
                S.write_json_atomic(cfg, config(0.95))
                S.wait_until(lambda: srv.stderr_text().count("config reloaded") >= 2, RELOAD,
                             what="second reload")
                srv.signal(signal.SIGHUP)
                S.wait_until(lambda: "SIGHUP: config reloaded" in srv.stderr_text(), RELOAD,
                             what="SIGHUP reload")
                # The stream survived every reload: it still reports edges.
                S.write_json_atomic(path, S.metrics(S.pods(2, 0.97)))
                st.expect(True, 3.0)           # every pod crossed 0.95 now
            finally:
                st.cancel()
            # every log line is one JSON object
            for line in srv.stderr_text(200000).splitlines():
                if line.strip():
                    obj = json.loads(line)
                    assert {"ts", "level", "event", "msg"} <= set(obj), line
            assert srv.stop() == 0


def test_check_config():
    with S.tempdir() as tmp:
        good = tmp.join("good.json")
        S.write_json_atomic(good, config(0.9))
        r = subprocess.run([S.BINARY, "check-config", good], capture_output=True, timeout=10)
        assert r.returncode == 0, r
        cases = [
            ({"defaults": {"kvCacheThresold": 0.5}}, "defaults.kvCacheThresold"),
            ({"defaults": {"kvCacheThreshold": 1.5}}, "kvCacheThreshold"),
            ({"overrides": [{"kvCacheThreshold": 0.5}]}, "overrides[0].model"),
            ({"prometheus": {"default": {"url": "ftp://x"}}}, "prometheus.default.url"),
            ({"prometheus": {"default": {"url": "http://x", "timeout": "5x"}}},
             "prometheus.default.timeout"),
        ]
        for i, (obj, key) in enumerate(cases):
            p = tmp.join("bad%d.json" % i)
            S.write_json_atomic(p, obj)
            r = subprocess.run([S.BINARY, "check-config", p], capture_output=True, timeout=10)
            assert r.returncode != 0, (obj, r)
            assert key in r.stderr.decode(), (key, r.stderr)
        # several bad keys at once: each one is named, with the file's indexes
        many = tmp.join("many.json")
        S.write_json_atomic(many, {
            "defaults": {"kvCacheThresold": 0.5, "kvSpareTrigger": 2},
            "overrides": [{"kvCacheThreshold": 0.5}, {"model": "m", "namespace": "BAD"}],
            "prometheus": {"default": {"url": "ftp://x", "timeout": "5x"}}})
        r = subprocess.run([S.BINARY, "check-config", many], capture_output=True, timeout=10)
        err = r.stderr.decode()
        assert r.returncode != 0, r
        for key in ("defaults.kvCacheThresold", "defaults.kvSpareTrigger", "overrides[0].model",
                    "overrides[1].namespace", "prometheus.default.url",
                    "prometheus.default.timeout", "6 problems"):
            assert key in err, (key, err)
        assert "url: required" not in err, err
        r = subprocess.run([S.BINARY, "check-config", tmp.join("missing.json")],
                           capture_output=True, timeout=10)
        assert r.returncode != 0 and b"missing.json" in r.stderr, r


TESTS = [test_override_and_reload_keep_streams, test_check_config]

if __name__ == "__main__":
    S.run_tests(TESTS)
