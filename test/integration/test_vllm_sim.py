#!/usr/bin/python3
"""test_vllm_sim: examples/vllm-sim (the simulated vLLM /metrics) end to end.

Standard library only (urllib, http.client, subprocess), run with
/usr/bin/python3. The binary comes from SAT_VLLM_SIM (vllm_sim.cmake sets
it); run by hand, it defaults to build/examples/vllm-sim/vllm-sim.

- start on port 0, read the port from the first stdout line;
- pods of both engines, with and without a variant: /metrics holds exactly
  the expected series and values (a small parser of the text format checks
  HELP/TYPE once per family and label escaping);
- /set per pod, per model and for all pods; /remove of a pod and of a model;
  flow-control entries appear and disappear; /reset;
- a startup delay hides a pod until it elapses (--startup-delay and per pod);
  --state loads a GET /state dump;
- the success counter grows at successRate and stops when it is set to 0;
- bad requests get 400 (404, 405, 409) with a message naming the problem,
  and change nothing;
- when /usr/bin/prometheus exists, a real Prometheus scrapes the simulator
  (honor_labels: true) and its query API shows the value set;
- SIGTERM exits 0.

Every wait is bounded; every process started is killed at exit, even when a
test fails. The last line is "N passed, N failed"; exit 1 on any failure.
"""
import atexit
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
SIM = os.environ.get("SAT_VLLM_SIM") or os.path.join(
    SOURCE_DIR, "build", "examples", "vllm-sim", "vllm-sim")
PROMETHEUS = "/usr/bin/prometheus"

HTTP_TIMEOUT = 5.0       # one request (the simulator answers in << 100 ms)
START_TIMEOUT = 10.0     # start -> "listening on" line
STOP_TIMEOUT = 10.0      # SIGTERM -> exit
DELAY_TIMEOUT = 5.0      # a 1 s startup delay must be over by then
PROM_READY_TIMEOUT = 60.0
PROM_QUERY_TIMEOUT = 30.0
MAX_BODY = 1 << 20

NS = "llm"
VLLM_FAMILIES = ("vllm:kv_cache_usage_perc", "vllm:num_requests_waiting",
                 "vllm:num_requests_running", "vllm:request_success_total")
SGLANG_FAMILIES = ("sglang:token_usage", "sglang:num_queue_reqs",
                   "sglang:num_running_reqs", "sglang:num_requests_total")
FLOW_FAMILY = "inference_extension_flow_control_queue_size"
COUNTERS = ("vllm:request_success_total", "sglang:num_requests_total")

_PROCS = []
TMP = tempfile.mkdtemp(prefix="vllm-sim-test-")


def _kill_leftovers():
    for p in _PROCS:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
    shutil.rmtree(TMP, ignore_errors=True)


atexit.register(_kill_leftovers)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the simulator process ------------------------------------------------------

class Sim:
    """One vllm-sim process on 127.0.0.1:0, stderr to a file."""

    def __init__(self, *args):
        self.args = list(args)
        self.err_path = os.path.join(TMP, "sim-%d.err" % len(_PROCS))
        self.proc = None
        self.port = None

    def start(self):
        err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([SIM, "--listen", "127.0.0.1:0"] + self.args,
                                     stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        err.close()
        _PROCS.append(self.proc)
        line = self._first_line()
        prefix = "listening on 127.0.0.1:"
        assert line.startswith(prefix), "first line %r\n%s" % (line, self.stderr_text())
        self.port = int(line[len(prefix):])
        assert 0 < self.port < 65536
        return self

    def _first_line(self):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + START_TIMEOUT
        while b"\n" not in data:
            left = deadline - time.monotonic()
            assert left > 0, "no 'listening on' line within %.0fs\n%s" % (
                START_TIMEOUT, self.stderr_text())
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                assert chunk, "exited before listening (rc %s)\n%s" % (
                    self.proc.poll(), self.stderr_text())
                data += chunk
        return data.split(b"\n", 1)[0].decode()

    def stderr_text(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, raw=None):
        """(status, content type, text). body: JSON-encoded; raw: bytes as is."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            e.close()
            return e.code, e.headers.get("Content-Type"), text

    def post(self, path, body=None, expect=200, raw=None):
        status, ctype, text = self.request("POST", path, body, raw)
        assert status == expect, "POST %s %r: %d %s (want %d)" % (path, body, status, text, expect)
        assert ctype == "application/json", ctype
        return json.loads(text)

    def state(self):
        status, _, text = self.request("GET", "/state")
        assert status == 200, text
        return json.loads(text)

    def metrics(self):
        status, ctype, text = self.request("GET", "/metrics")
        assert status == 200, text
        assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
        return parse_metrics(text)

    def stop(self):
        """SIGTERM; the exit code (bounded wait)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
            raise AssertionError("no exit within %.0fs of SIGTERM" % STOP_TIMEOUT)
        self.proc.stdout.close()
        return rc


# ---- the text format, minimally -------------------------------------------------

def _parse_labels(s, i):
    """Parse {a="x",b="y"} starting at s[i] == '{'; (labels, index after '}')."""
    labels = {}
    i += 1
    while s[i] != "}":
        j = s.index("=", i)
        name = s[i:j]
        assert name and (name[0].isalpha() or name[0] == "_"), "label name %r" % name
        assert s[j + 1] == '"', "label %s: no opening quote" % name
        k = j + 2
        out = []
        while s[k] != '"':
            if s[k] == "\\":
                nxt = s[k + 1]
                assert nxt in '\\"n', "bad escape \\%s" % nxt
                out.append("\n" if nxt == "n" else nxt)
                k += 2
            else:
                assert s[k] != "\n"
                out.append(s[k])
                k += 1
        assert name not in labels, "label %s twice" % name
        labels[name] = "".join(out)
        i = k + 1
        if s[i] == ",":
            i += 1
    return labels, i + 1


def parse_metrics(text):
    """{(name, ((label, value), ...)): float}. Asserts the shape: HELP and
    TYPE once per family and before its samples, no duplicate series."""
    assert text == "" or text.endswith("\n"), "no final newline"
    helps, types, samples = set(), {}, {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helps, "HELP %s twice" % name
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert name not in types, "TYPE %s twice" % name
            assert name in helps, "TYPE %s before its HELP" % name
            types[name] = typ
        else:
            assert not line.startswith("#"), line
            i = 0
            while line[i] not in "{ ":
                i += 1
            name = line[:i]
            labels = {}
            if line[i] == "{":
                labels, i = _parse_labels(line, i)
            assert line[i] == " ", line
            value = line[i + 1:]
            assert " " not in value, "timestamp or junk: %r" % line
            assert name in types, "sample of %s before its TYPE" % name
            want = "counter" if name in COUNTERS else "gauge"
            assert types[name] == want, "%s is a %s" % (name, types[name])
            key = (name, tuple(sorted(labels.items())))
            assert key not in samples, "series twice: %r" % (key,)
            samples[key] = float(value)
    for name in types:
        assert any(k[0] == name for k in samples), "family %s without samples" % name
    return samples


def pod_series(pod, model, kv=0.0, queue=0, running=0, success=0.0, variant=None,
               engine="vllm", ns=NS):
    """The four series one ready pod exposes."""
    labels = {"namespace": ns, "model_name": model, "pod": pod}
    if variant is not None:
        labels["llm_d_ai_variant"] = variant
    key = tuple(sorted(labels.items()))
    fams = VLLM_FAMILIES if engine == "vllm" else SGLANG_FAMILIES
    return {(f, key): float(v) for f, v in zip(fams, (kv, queue, running, success))}


def flow_series(model, queue, ns=NS):
    return {(FLOW_FAMILY, (("namespace", ns), ("target_model_name", model))): float(queue)}


def expect_metrics(sim, *parts):
    want = {}
    for p in parts:
        want.update(p)
    got = sim.metrics()
    missing = {k: v for k, v in want.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in want}
    wrong = {k: (got[k], v) for k, v in want.items() if k in got and got[k] != v}
    assert not missing and not extra and not wrong, \
        "missing %r\nextra %r\nwrong (got, want) %r" % (missing, extra, wrong)


def wait_until(what, cond, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def by_pod(answer):
    return {p["pod"]: p for p in answer["pods"]}


# ---- the tests ------------------------------------------------------------------

SIMV = None  # the shared simulator

# A variant with every character the exposition format escapes.
ODD_VARIANT = 'a"b\\c\nd'


def setup():
    global SIMV
    SIMV = Sim().start()


def add_four():
    """Two vLLM and two SGLang pods, each engine with and without a variant."""
    SIMV.post("/reset")
    one = SIMV.post("/pods", {"namespace": NS, "model": "m-a", "pod": "v-1", "variant": "v100",
                              "kv": 0.25, "queue": 3, "running": 5})
    assert [p["pod"] for p in one["pods"]] == ["v-1"]
    many = SIMV.post("/pods", {"pods": [
        {"namespace": NS, "model": "m-a", "pod": "v-2", "kv": 0.1},
        {"namespace": NS, "model": "m-b", "pod": "s-1", "engine": "sglang", "variant": ODD_VARIANT,
         "kv": 0.8, "queue": 7, "running": 2},
        {"namespace": "other", "model": "m-b", "pod": "s-2", "engine": "sglang", "queue": 1},
    ]})
    assert [p["pod"] for p in many["pods"]] == ["v-2", "s-1", "s-2"]


def four_series(**over):
    base = {
        "v-1": dict(pod="v-1", model="m-a", kv=0.25, queue=3, running=5, variant="v100"),
        "v-2": dict(pod="v-2", model="m-a", kv=0.1),
        "s-1": dict(pod="s-1", model="m-b", kv=0.8, queue=7, running=2, variant=ODD_VARIANT,
                    engine="sglang"),
        "s-2": dict(pod="s-2", model="m-b", queue=1, engine="sglang", ns="other"),
    }
    for pod, changes in over.items():
        base[pod].update(changes)
    return [pod_series(**v) for v in base.values()]


def test_healthz_and_empty():
    status, ctype, text = SIMV.request("GET", "/healthz")
    assert (status, text) == (200, "ok\n"), (status, text)
    SIMV.post("/reset")
    expect_metrics(SIMV)
    assert SIMV.state() == {"pods": [], "flowControl": []}


def test_pods_and_metrics():
    add_four()
    expect_metrics(SIMV, *four_series())
    st = by_pod(SIMV.state())
    assert st["v-1"] == {"namespace": NS, "model": "m-a", "pod": "v-1", "variant": "v100",
                         "engine": "vllm", "kv": 0.25, "queue": 3, "running": 5,
                         "successRate": 0, "successTotal": 0, "startupDelayMs": 0,
                         "ready": True}, st["v-1"]
    assert st["v-2"]["variant"] is None and st["s-1"]["variant"] == ODD_VARIANT
    assert st["s-2"]["engine"] == "sglang" and st["s-2"]["namespace"] == "other"
    # The same pod name in another namespace is a different pod.
    SIMV.post("/pods", {"namespace": "third", "model": "m-a", "pod": "v-1"})
    expect_metrics(SIMV, *four_series(), pod_series("v-1", "m-a", ns="third"))


def test_values_round_trip():
    SIMV.post("/reset")
    kv = 0.1 + 0.2  # 0.30000000000000004: needs 17 digits
    SIMV.post("/pods", {"namespace": NS, "model": "m", "pod": "p", "kv": kv,
                        "queue": 2 ** 53, "running": 123456789})
    expect_metrics(SIMV, pod_series("p", "m", kv=kv, queue=2 ** 53, running=123456789))
    assert SIMV.state()["pods"][0]["kv"] == kv


def test_set_pod_model_all():
    add_four()
    r = SIMV.post("/set", {"namespace": NS, "pod": "v-1", "kv": 0.5})
    assert [(p["pod"], p["kv"], p["queue"]) for p in r["pods"]] == [("v-1", 0.5, 3)]
    expect_metrics(SIMV, *four_series(**{"v-1": {"kv": 0.5}}))

    r = SIMV.post("/set", {"namespace": NS, "model": "m-a", "queue": 9, "running": 1})
    assert sorted(p["pod"] for p in r["pods"]) == ["v-1", "v-2"]
    expect_metrics(SIMV, *four_series(**{"v-1": {"kv": 0.5, "queue": 9, "running": 1},
                                         "v-2": {"queue": 9, "running": 1}}))

    # model m-b exists in two namespaces: only NS's pod changes.
    r = SIMV.post("/set", {"namespace": NS, "model": "m-b", "kv": 1})
    assert [p["pod"] for p in r["pods"]] == ["s-1"]

    r = SIMV.post("/set", {"all": True, "kv": 0.0, "queue": 0})
    assert sorted(p["pod"] for p in r["pods"]) == ["s-1", "s-2", "v-1", "v-2"]
    expect_metrics(SIMV, *four_series(**{"v-1": {"kv": 0, "queue": 0, "running": 1},
                                         "v-2": {"kv": 0, "queue": 0, "running": 1},
                                         "s-1": {"kv": 0, "queue": 0},
                                         "s-2": {"kv": 0, "queue": 0}}))

    err = SIMV.post("/set", {"namespace": NS, "pod": "nope", "kv": 0.5}, expect=404)
    assert "nope" in err["error"], err
    err = SIMV.post("/set", {"namespace": NS, "model": "no-model", "kv": 0.5}, expect=404)
    assert "no-model" in err["error"], err


def test_remove_pod_and_model():
    add_four()
    r = SIMV.post("/remove", {"namespace": NS, "pod": "v-2"})
    assert r["removed"] == 1 and [p["pod"] for p in r["pods"]] == ["v-2"], r
    series = four_series()
    expect_metrics(SIMV, series[0], series[2], series[3])
    err = SIMV.post("/remove", {"namespace": NS, "pod": "v-2"}, expect=404)
    assert "v-2" in err["error"], err

    r = SIMV.post("/remove", {"namespace": "other", "model": "m-b"})
    assert r["removed"] == 1 and [p["pod"] for p in r["pods"]] == ["s-2"], r
    expect_metrics(SIMV, series[0], series[2])
    r = SIMV.post("/remove", {"namespace": NS, "model": "m-a"})
    assert r["removed"] == 1, r
    r = SIMV.post("/remove", {"namespace": NS, "model": "m-a"})
    assert r == {"pods": [], "removed": 0}, r
    expect_metrics(SIMV, series[2])


def test_flow_control():
    SIMV.post("/reset")
    r = SIMV.post("/flow", {"namespace": NS, "model": "m-a", "queue": 4})
    assert r == {"flowControl": [{"namespace": NS, "model": "m-a", "queue": 4}]}, r
    SIMV.post("/flow", {"namespace": "other", "model": "m-a", "queue": 2})
    expect_metrics(SIMV, flow_series("m-a", 4), flow_series("m-a", 2, ns="other"))
    SIMV.post("/flow", {"namespace": NS, "model": "m-a", "queue": 11})
    expect_metrics(SIMV, flow_series("m-a", 11), flow_series("m-a", 2, ns="other"))
    assert SIMV.state()["flowControl"] == [{"namespace": NS, "model": "m-a", "queue": 11},
                                           {"namespace": "other", "model": "m-a", "queue": 2}]
    SIMV.post("/flow", {"namespace": NS, "model": "m-a", "queue": 0})
    expect_metrics(SIMV, flow_series("m-a", 2, ns="other"))
    # Flow control is independent of pods: removing a model keeps its queue.
    SIMV.post("/pods", {"namespace": "other", "model": "m-a", "pod": "p"})
    SIMV.post("/remove", {"namespace": "other", "model": "m-a"})
    expect_metrics(SIMV, flow_series("m-a", 2, ns="other"))
    r = SIMV.post("/reset")
    assert r == {"removedPods": 0, "removedFlowControl": 1}, r
    expect_metrics(SIMV)


def test_startup_delay_per_pod():
    SIMV.post("/reset")
    t0 = time.monotonic()
    r = SIMV.post("/pods", {"namespace": NS, "model": "m", "pod": "slow", "kv": 0.5,
                            "startupDelay": "1s"})
    assert r["pods"][0]["ready"] is False and r["pods"][0]["startupDelayMs"] == 1000, r
    SIMV.post("/pods", {"namespace": NS, "model": "m", "pod": "fast", "kv": 0.25})
    expect_metrics(SIMV, pod_series("fast", "m", kv=0.25))
    # A loading pod can be set; it shows the value once it is up.
    SIMV.post("/set", {"namespace": NS, "pod": "slow", "queue": 6})
    wait_until("pod 'slow' to report",
               lambda: any(dict(k[1]).get("pod") == "slow" for k in SIMV.metrics()),
               DELAY_TIMEOUT)
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.95, "reported after %.3fs, before its 1s delay" % elapsed
    expect_metrics(SIMV, pod_series("fast", "m", kv=0.25), pod_series("slow", "m", kv=0.5, queue=6))
    assert by_pod(SIMV.state())["slow"]["ready"] is True


def test_default_delay_and_state_file():
    """--startup-delay 1s and --state: a dump's ready pods report at once,
    the others wait the default delay (or their own)."""
    state = {
        "pods": [
            {"namespace": NS, "model": "m", "pod": "up", "engine": "sglang", "kv": 0.75,
             "queue": 2, "running": 1, "successRate": 0, "successTotal": 42.5,
             "startupDelayMs": 5000, "ready": True, "variant": None},
            {"namespace": NS, "model": "m", "pod": "loading", "kv": 0.5},
            {"namespace": NS, "model": "m", "pod": "quick", "startupDelay": "0s"},
        ],
        "flowControl": [{"namespace": NS, "model": "m", "queue": 3},
                        {"namespace": NS, "model": "gone", "queue": 0}],
    }
    path = os.path.join(TMP, "state.json")
    with open(path, "w") as f:
        json.dump(state, f)
    t0 = time.monotonic()
    sim = Sim("--startup-delay", "1s", "--state", path).start()
    try:
        expect_metrics(sim, pod_series("up", "m", kv=0.75, queue=2, running=1, success=42.5,
                                       engine="sglang"),
                       pod_series("quick", "m"), flow_series("m", 3))
        # A pod added by request gets the default too.
        r = sim.post("/pods", {"namespace": NS, "model": "m", "pod": "later"})
        assert r["pods"][0]["startupDelayMs"] == 1000 and not r["pods"][0]["ready"], r
        wait_until("pod 'loading' to report",
                   lambda: any(dict(k[1]).get("pod") == "loading" for k in sim.metrics()),
                   DELAY_TIMEOUT)
        assert time.monotonic() - t0 >= 0.95
        wait_until("pod 'later' to report",
                   lambda: any(dict(k[1]).get("pod") == "later" for k in sim.metrics()),
                   DELAY_TIMEOUT)
        # The dump of this simulator loads back into the same pods.
        dump = sim.state()
        assert [p["pod"] for p in dump["pods"]] == ["up", "loading", "quick", "later"], dump
        assert all(p["ready"] for p in dump["pods"])
    finally:
        assert sim.stop() == 0, sim.stderr_text()
    path2 = os.path.join(TMP, "state2.json")
    with open(path2, "w") as f:
        json.dump(dump, f)
    sim2 = Sim("--startup-delay", "1m", "--state", path2).start()
    try:
        got = sim2.metrics()
        assert {dict(k[1])["pod"] for k in got if k[0] != FLOW_FAMILY} == \
            {"up", "loading", "quick", "later"}, got
    finally:
        assert sim2.stop() == 0, sim2.stderr_text()


def test_bad_state_file_and_flags():
    path = os.path.join(TMP, "bad-state.json")
    with open(path, "w") as f:
        json.dump({"pods": [{"namespace": NS, "model": "m", "pod": "p", "kv": 2}]}, f)
    for args, needle in ((["--state", path], "pods[0].kv"),
                         (["--startup-delay", "5"], "--startup-delay"),
                         (["--listen", "127.0.0.1:70000"], "port"),
                         (["--bogus"], "--bogus")):
        p = subprocess.run([SIM] + args, capture_output=True, timeout=STOP_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert needle in p.stderr.decode(), (args, p.stderr)
        assert p.stdout == b"", (args, p.stdout)


def counter_of(sim, pod):
    for (name, labels), v in sim.metrics().items():
        if name in COUNTERS and dict(labels)["pod"] == pod:
            return v
    raise AssertionError("no counter for pod %s" % pod)


def test_success_counter():
    SIMV.post("/reset")
    SIMV.post("/pods", {"pods": [
        {"namespace": NS, "model": "m", "pod": "busy", "successRate": 20},
        {"namespace": NS, "model": "m", "pod": "sg", "engine": "sglang", "successRate": 10},
        {"namespace": NS, "model": "m", "pod": "idle"},
    ]})
    t1 = time.monotonic()
    c1 = counter_of(SIMV, "busy")
    s1 = counter_of(SIMV, "sg")
    time.sleep(1.0)
    c2 = counter_of(SIMV, "busy")
    s2 = counter_of(SIMV, "sg")
    t2 = time.monotonic()
    # The two reads bracket at most t2 - t1 and at least the 1 s sleep.
    assert 20 * 1.0 - 0.5 <= c2 - c1 <= 20 * (t2 - t1) + 0.5, (c1, c2, t2 - t1)
    assert 10 * 1.0 - 0.5 <= s2 - s1 <= 10 * (t2 - t1) + 0.5, (s1, s2, t2 - t1)
    assert counter_of(SIMV, "idle") == 0.0
    # Rate 0 stops the counter where it is; it never goes back.
    SIMV.post("/set", {"namespace": NS, "pod": "busy", "successRate": 0})
    c3 = counter_of(SIMV, "busy")
    assert c3 >= c2
    time.sleep(0.3)
    assert counter_of(SIMV, "busy") == c3
    # A loading pod counts nothing until it is ready.
    SIMV.post("/pods", {"namespace": NS, "model": "m", "pod": "late", "successRate": 1000,
                        "startupDelay": "1s"})
    assert by_pod(SIMV.state())["late"]["successTotal"] == 0
    wait_until("pod 'late' to report",
               lambda: any(dict(k[1]).get("pod") == "late" for k in SIMV.metrics()),
               DELAY_TIMEOUT)
    assert counter_of(SIMV, "late") < 1000 * 0.5, "counted while loading"


BAD = [
    # (path, raw body, status, words the message must contain)
    ("/pods", b"{not json", 400, ["invalid JSON"]),
    ("/pods", b'{"namespace":"llm"} trailing', 400, ["invalid JSON"]),
    ("/pods", b"[1,2]", 400, ["JSON object"]),
    ("/pods", b"", 400, ["JSON object"]),
    ("/pods", b'{"namespace":"llm","model":"m"}', 400, ["pod", "required"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":""}', 400, ["pod", "empty"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","kv":1.5}', 400, ["kv", "[0, 1]"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","kv":-0.1}', 400, ["kv"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","kv":"0.5"}', 400, ["kv", "string"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","queue":-1}', 400, ["queue", ">= 0"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","queue":1.5}', 400, ["queue", "integer"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","running":true}', 400, ["running"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","successRate":-2}', 400, ["successRate"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","successRate":1e10}', 400,
     ["successRate", "1e9"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","kv":1e999}', 400, ["kv"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","engine":"tgi"}', 400, ["engine", "tgi"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","startupDelay":"5"}', 400,
     ["startupDelay", "unit"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","startupDelay":""}', 400,
     ["startupDelay", "empty"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","startupDelay":5}', 400,
     ["startupDelay", "duration string"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","startupDelay":"1s",'
              b'"startupDelayMs":1000}', 400, ["not both"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","startupDelay":"48h"}', 400,
     ["startupDelay", "24h"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","Kv":0.5}', 400, ["Kv", "unknown key"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p","kv":0.1,"kv":0.2}', 400, ["kv", "twice"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"p\xff"}', 400, ["pod", "UTF-8"]),
    ("/pods", b'{"pods":{"namespace":"llm"}}', 400, ["pods", "array"]),
    ("/pods", b'{"pods":[{"namespace":"llm","model":"m","pod":"ok"},'
              b'{"namespace":"llm","model":"m","pod":"bad","queue":-3}]}', 400,
     ["pods[1].queue"]),
    ("/remove", b'{"namespace":"llm"}', 400, ["pod", "model"]),
    ("/remove", b'{"namespace":"llm","pod":"a","model":"m"}', 400, ["not both"]),
    ("/remove", b'{"pod":"a"}', 400, ["namespace", "required"]),
    ("/set", b'{"namespace":"llm","pod":"keep"}', 400, ["nothing to set"]),
    ("/set", b'{"all":true}', 400, ["nothing to set"]),
    ("/set", b'{"all":false,"kv":0.5}', 400, ["all"]),
    ("/set", b'{"all":true,"namespace":"llm","kv":0.5}', 400, ["all", "namespace"]),
    ("/set", b'{"namespace":"llm","pod":"keep","kv":2}', 400, ["kv"]),
    ("/set", b'{"namespace":"llm","pod":"keep","queue":-1}', 400, ["queue"]),
    ("/flow", b'{"namespace":"llm","model":"m"}', 400, ["queue", "required"]),
    ("/flow", b'{"namespace":"llm","model":"m","queue":-4}', 400, ["queue"]),
    ("/flow", b'{"namespace":"llm","queue":4}', 400, ["model"]),
    ("/reset", b'{"all":true}', 400, ["reset"]),
    ("/pods", b'{"namespace":"llm","model":"m","pod":"keep"}', 409, ["keep", "exists"]),
    ("/pods", b'{"pods":[{"namespace":"llm","model":"m","pod":"x"},'
              b'{"namespace":"llm","model":"m","pod":"x"}]}', 409, ["x", "exists"]),
]


def test_bad_requests():
    SIMV.post("/reset")
    SIMV.post("/pods", {"namespace": NS, "model": "m", "pod": "keep", "kv": 0.5, "queue": 1})
    before = SIMV.state()
    for path, raw, want, words in BAD:
        status, ctype, text = SIMV.request("POST", path, raw=raw)
        assert status == want, "%s %r: %d %s (want %d)" % (path, raw, status, text, want)
        assert ctype == "application/json", ctype
        msg = json.loads(text)["error"]
        for w in words:
            assert w in msg, "%s %r: message %r lacks %r" % (path, raw, msg, w)
    # Nothing changed, not even by the batch whose first pod was fine.
    assert SIMV.state() == before, SIMV.state()
    expect_metrics(SIMV, pod_series("keep", "m", kv=0.5, queue=1))

    status, _, text = SIMV.request("GET", "/nowhere")
    assert status == 404 and "/nowhere" in json.loads(text)["error"], (status, text)
    status, _, text = SIMV.request("POST", "/metrics", raw=b"{}")
    assert status == 405 and "GET" in json.loads(text)["error"], (status, text)
    status, _, text = SIMV.request("GET", "/set")
    assert status == 405 and "POST" in json.loads(text)["error"], (status, text)


def test_body_limit():
    SIMV.post("/reset")
    # Exactly 1 MiB is accepted (a pod padded with blanks).
    pod = json.dumps({"namespace": NS, "model": "m", "pod": "big"}).encode()
    SIMV.post("/pods", raw=pod + b" " * (MAX_BODY - len(pod)))
    # A declared length above the limit is refused before the body is sent.
    conn = http.client.HTTPConnection("127.0.0.1", SIMV.port, timeout=HTTP_TIMEOUT)
    try:
        conn.putrequest("POST", "/pods")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 400 and "too large" in json.loads(body)["error"], (r.status, body)
    finally:
        conn.close()
    # A chunked body is drained and refused once it passes the limit.
    conn = http.client.HTTPConnection("127.0.0.1", SIMV.port, timeout=HTTP_TIMEOUT)
    try:
        chunks = [pod] + [b" " * 65536] * 16
        conn.request("POST", "/pods", body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 400 and "too large" in json.loads(body)["error"], (r.status, body)
    finally:
        conn.close()
    assert [p["pod"] for p in SIMV.state()["pods"]] == ["big"]


def test_prometheus_scrape():
    if not os.path.exists(PROMETHEUS):
        print("SKIP (as a pass): %s not installed" % PROMETHEUS, flush=True)
        return
    SIMV.post("/reset")
    SIMV.post("/pods", {"pods": [
        {"namespace": NS, "model": "ibm/granite-13b", "pod": "granite-0", "variant": "a100",
         "kv": 0.625, "queue": 2},
        {"namespace": NS, "model": "ibm/granite-13b", "pod": "granite-1", "kv": 0.125},
    ]})
    SIMV.post("/flow", {"namespace": NS, "model": "ibm/granite-13b", "queue": 5})
    pdir = os.path.join(TMP, "prom")
    os.makedirs(pdir)
    cfg = os.path.join(pdir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n"
                "  scrape_interval: 1s\n"
                "  evaluation_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: vllm-sim\n"
                "    honor_labels: true\n"
                "    scrape_interval: 1s\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % SIMV.port)
    port = free_port()
    log_path = os.path.join(pdir, "prometheus.log")
    log = open(log_path, "wb")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                             "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=pdir)
    log.close()
    _PROCS.append(prom)
    base = "http://127.0.0.1:%d" % port

    def log_tail():
        with open(log_path, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def ready():
        assert prom.poll() is None, "prometheus exited %s\n%s" % (prom.returncode, log_tail())
        try:
            with urllib.request.urlopen(base + "/-/ready", timeout=HTTP_TIMEOUT) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def query(q):
        url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            doc = json.loads(r.read().decode())
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def value_is(q, want):
        def check():
            res = query(q)
            return res if len(res) == 1 and float(res[0]["value"][1]) == want else None
        return check

    try:
        wait_until("prometheus ready", ready, PROM_READY_TIMEOUT, interval=0.2)
        q = 'vllm:kv_cache_usage_perc{namespace="%s",pod="granite-0"}' % NS
        try:
            res = wait_until("kv 0.625 in prometheus", value_is(q, 0.625), PROM_QUERY_TIMEOUT, 0.25)
        except AssertionError:
            raise AssertionError("last answer %r\n%s" % (query(q), log_tail()))
        m = res[0]["metric"]
        # honor_labels: the simulator's labels win, the job is added.
        assert m["pod"] == "granite-0" and m["namespace"] == NS, m
        assert m["model_name"] == "ibm/granite-13b" and m["llm_d_ai_variant"] == "a100", m
        assert m["job"] == "vllm-sim", m
        # A change shows at the next scrapes.
        SIMV.post("/set", {"namespace": NS, "pod": "granite-0", "kv": 0.875})
        wait_until("kv 0.875 in prometheus", value_is(q, 0.875), PROM_QUERY_TIMEOUT, 0.25)
        res = query('vllm:kv_cache_usage_perc{pod="granite-1"}')
        assert len(res) == 1 and "llm_d_ai_variant" not in res[0]["metric"], res
        wait_until("flow control in prometheus",
                   value_is('%s{namespace="%s",target_model_name="ibm/granite-13b"}'
                            % (FLOW_FAMILY, NS), 5.0), PROM_QUERY_TIMEOUT, 0.25)
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=STOP_TIMEOUT)


def test_sigterm_exits_0():
    global SIMV
    sim, SIMV = SIMV, None
    rc = sim.stop()
    assert rc == 0, "exit %s\n%s" % (rc, sim.stderr_text())
    assert "SIGTERM" in sim.stderr_text()


TESTS = [
    test_healthz_and_empty,
    test_pods_and_metrics,
    test_values_round_trip,
    test_set_pod_model_all,
    test_remove_pod_and_model,
    test_flow_control,
    test_startup_delay_per_pod,
    test_default_delay_and_state_file,
    test_bad_state_file_and_flags,
    test_success_counter,
    test_bad_requests,
    test_body_limit,
    test_prometheus_scrape,
    test_sigterm_exits_0,
]


def main():
    passed = failed = 0
    try:
        setup()
        for t in TESTS:
            t0 = time.monotonic()
            try:
                if SIMV is None and t is not test_sigterm_exits_0:
                    raise AssertionError("the shared simulator is gone")
                t()
            except Exception:
                failed += 1
                print("FAIL %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        failed += len(TESTS) - passed - failed
        print("FAIL setup: every remaining test counts as failed", flush=True)
    finally:
        if SIMV is not None and SIMV.proc is not None and SIMV.proc.poll() is None:
            print(SIMV.stderr_text()[-3000:], flush=True)
        _kill_leftovers()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
