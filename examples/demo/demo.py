#!/usr/bin/python3
"""demo: saturation-scaler end to end on loopback, with KEDA and the HPA
played by a small controller loop.

Started by examples/demo/run.sh (which installs, builds and gives this
program a temp dir), or by ctest (test/integration/e2e.cmake) on a
compressed clock. Standard library + Debian's python3-grpcio and
python3-protobuf; the message classes come from the build tree (SAT_PY_GEN,
else <build>/py) or are generated into the work dir with /usr/bin/protoc.

What runs, all on 127.0.0.1:
  vllm-sim           many simulated vLLM pods on one port (control API)
  prometheus         a real one, scraping the simulator (honor_labels: true)
  saturation-scaler  serve --prometheus-url ... --refresh-interval ...
  this loop          what KEDA + the HPA (Kubernetes >= 1.33) do, every HPA
                     period: GetMetricSpec, GetMetrics, IsActive on one gRPC
                     channel (plus one StreamIsActive kept open), then
                     desired = ceil(value / target) unless value / (target *
                     current) is inside [1 - tol, 1 + tol] (inclusive,
                     doubles), the HPA's default behavior (scale-up at most
                     max(100 %, 4 pods) per period, 300 s scale-down
                     stabilisation), min/max clamp, and KEDA's activation
                     (0 -> minimum when IsActive or a stream `true` says so).
                     It adds and removes simulator pods to match; a new pod
                     reports only after its start-up delay.

One line per step (other tools read it):
  t=135s replicas=10 desired=10 active=true kv=[0.95,0.95,...] queue=[0,0,...] event=-
replicas: the pods before the step; desired: what the loop scales to;
active: IsActive's answer (`error` when the call failed); kv/queue: the
simulator's values per pod in pod order (`-` for a pod still loading);
event: `-` or tokens joined by `,`. Lines starting with `#` are comments,
`check:` lines the scenario's expectations, and the last line is
`summary: ... result=PASS|FAIL` (exit status 0 or 1; 2 for a setup error).
"""

import argparse
import collections
import http.client
import importlib.util
import json
import math
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # leave no __pycache__ next to the generated modules

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
PROTOC = "/usr/bin/protoc"

NAMESPACE = "llm"
MODEL = "ibm/granite-13b"
SO_NAME = "granite"
SERVICE = "/externalscaler.ExternalScaler/"

RPC_TIMEOUT = 5.0        # one unary call (answers take << 100 ms when cached)
START_TIMEOUT = 30.0     # a process until it serves
WARMUP_TIMEOUT = 60.0    # the initial pods until Prometheus has them
STOP_TIMEOUT = 15.0      # SIGTERM until exit (then SIGKILL)
UNAVAILABLE_FAST = 1.0   # outage: UNAVAILABLE must come faster than this

SCENARIOS = ("ladder", "blind-spot", "scale-down", "beyond-10", "outage", "from-zero")

# The compressed clock of the e2e tests (--compressed): every clock shrunk,
# the metrics window too (4 HPA periods, as 1m is to 15s), so a load change
# is seen within a few periods. One clock does not shrink: Prometheus
# applies its scrape targets on a 5 s tick, so a (re)started Prometheus
# scrapes first up to ~5 s after it starts. The outage scenario therefore
# widens the compressed metrics window (OUTAGE_METRICS_WINDOW) so that, as
# with the real clock (30 s outage, 1m window), samples from before the
# outage are still inside the window when Prometheus is back.
OUTAGE_METRICS_WINDOW = 12.0
COMPRESSED = {"hpa_period": 1.0, "scrape_interval": 0.5, "refresh_interval": 0.5,
              "startup_delay": 0.5, "stabilization_window": 5.0, "policy_period": 1.0,
              "metrics_window": 4.0, "outage": 3.0}
REAL = {"hpa_period": 15.0, "scrape_interval": 5.0, "refresh_interval": 5.0,
        "startup_delay": 10.0, "stabilization_window": 300.0, "policy_period": 15.0,
        "metrics_window": 60.0, "outage": 30.0}


class SetupError(Exception):
    """The stack could not be started or driven (exit 2)."""


# ---- small helpers -----------------------------------------------------------

_DUR_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text):
    """Seconds from Go-style text ("500ms", "15s", "1m30s") or plain seconds."""
    s = text.strip()
    try:
        v = float(s)
    except ValueError:
        pos, v = 0, 0.0
        while pos < len(s):
            m = _DUR_RE.match(s, pos)
            if not m:
                raise argparse.ArgumentTypeError(
                    "%r is not a duration like 500ms, 15s, 1m30s or plain seconds" % text)
            v += float(m.group(1)) * _DUR_UNITS[m.group(2)]
            pos = m.end()
        if not s:
            raise argparse.ArgumentTypeError("empty duration")
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError("%r must be a finite duration >= 0" % text)
    return v


def fmt_duration(sec):
    """Go-style text in the largest whole unit: 300 -> 5m, 15 -> 15s, 0.5 -> 500ms."""
    ms = int(round(sec * 1000))
    if ms == 0:
        return "0s"
    if ms % 3600000 == 0:
        return "%dh" % (ms // 3600000)
    if ms % 60000 == 0:
        return "%dm" % (ms // 60000)
    if ms % 1000 == 0:
        return "%ds" % (ms // 1000)
    return "%dms" % ms


def fmt_t(t):
    """A step time: whole seconds as "135s", otherwise one decimal."""
    r = round(t)
    if abs(t - r) < 1e-6:
        return "%ds" % r
    return "%.1fs" % t


def fmt_num(v):
    return "%.4g" % v


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(msg, quiet=False):
    if not quiet:
        print(msg, flush=True)


# ---- generated message classes ------------------------------------------------

def load_pb2(workdir, build_dir):
    """externalscaler_pb2 from SAT_PY_GEN, <build>/py, or generated now."""
    cands = [os.environ.get("SAT_PY_GEN"), os.path.join(build_dir, "py")]
    gen = None
    for d in cands:
        if d and os.path.exists(os.path.join(d, "externalscaler_pb2.py")):
            gen = d
            break
    if gen is None:
        gen = os.path.join(workdir, "py")
        os.makedirs(gen, exist_ok=True)
        if not os.path.exists(PROTOC):
            raise SetupError("no generated externalscaler_pb2.py and no %s (protobuf-compiler)"
                             % PROTOC)
        subprocess.run([PROTOC, "--python_out=" + gen, "-I", os.path.join(SOURCE_DIR, "proto"),
                        "externalscaler.proto"], check=True, timeout=60)
    spec = importlib.util.spec_from_file_location("demo_externalscaler_pb2",
                                                  os.path.join(gen, "externalscaler_pb2.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---- processes ---------------------------------------------------------------

class Proc:
    """A child process with its output in <workdir>/<name>.log and its pid in
    <workdir>/pids/<name>.pid (run.sh kills what is left at exit). Started
    through setpriv --pdeathsig when available, so it dies with this
    program even when this program is killed."""

    def __init__(self, name, cmd, workdir, env=None):
        self.name = name
        self.cmd = list(cmd)
        self.workdir = workdir
        self.env = env
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def start(self):
        cmd = self.cmd
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "TERM", "--"] + cmd
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir, env=self.env)
        finally:
            log.close()
        piddir = os.path.join(self.workdir, "pids")
        os.makedirs(piddir, exist_ok=True)
        with open(os.path.join(piddir, self.name + ".pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal_stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout=STOP_TIMEOUT):
        """Wait for exit after signal_stop (SIGKILL after timeout); exit code."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        try:
            os.unlink(os.path.join(self.workdir, "pids", self.name + ".pid"))
        except OSError:
            pass
        return rc

    def stop(self, timeout=STOP_TIMEOUT):
        self.signal_stop()
        return self.wait_stopped(timeout)

    def log_tail(self, n=25):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        return lines[-n:]


def wait_for(what, pred, timeout, interval=0.05, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if proc is not None and not proc.alive():
            raise SetupError("%s exited (%s) while waiting for %s:\n  %s"
                             % (proc.name, proc.proc.returncode, what,
                                "\n  ".join(proc.log_tail())))
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError, http.client.HTTPException) as e:
            last = e
        if time.monotonic() >= deadline:
            raise SetupError("timed out after %.0fs waiting for %s (last: %r)"
                             % (timeout, what, last))
        time.sleep(interval)


# ---- the simulator -------------------------------------------------------------

class Sim:
    def __init__(self, binary, workdir, startup_delay):
        self.p = Proc("vllm-sim", [binary, "--listen", "127.0.0.1:0",
                                   "--startup-delay", fmt_duration(startup_delay)], workdir)
        self.port = None

    def start(self):
        self.p.start()

        def listening():
            with open(self.p.log_path, "rb") as f:
                m = re.search(rb"listening on [^\s:]+:(\d+)", f.read())
            return int(m.group(1)) if m else None
        self.port = wait_for("vllm-sim to listen", listening, START_TIMEOUT, proc=self.p)
        return self

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=RPC_TIMEOUT)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            text = r.read().decode(errors="replace")
            if r.status != 200:
                raise SetupError("vllm-sim %s %s -> %d: %s" % (method, path, r.status, text))
            return json.loads(text) if text else {}
        finally:
            conn.close()

    def pods(self):
        """This model's pods in order: dicts with pod, kv, queue, ready."""
        st = self.request("GET", "/state")
        return [p for p in st.get("pods", [])
                if p["namespace"] == NAMESPACE and p["model"] == MODEL]

    def add(self, rows, delay=None):
        body = {"pods": rows}
        if delay is not None:
            body["startupDelay"] = fmt_duration(delay)
        self.request("POST", "/pods", body)

    def remove(self, pod):
        self.request("POST", "/remove", {"namespace": NAMESPACE, "pod": pod})

    def set(self, pod, **values):
        self.request("POST", "/set", dict(namespace=NAMESPACE, pod=pod, **values))

    def set_model(self, **values):
        self.request("POST", "/set", dict(namespace=NAMESPACE, model=MODEL, **values))

    def flow(self, queue_len):
        self.request("POST", "/flow", {"namespace": NAMESPACE, "model": MODEL, "queue": queue_len})


def pod_name(i):
    return "granite-%d" % i


# ---- Prometheus ------------------------------------------------------------------

class Prometheus:
    def __init__(self, binary, workdir, sim_port, scrape_interval):
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        iv = fmt_duration(scrape_interval)
        with open(cfg, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: %s\n"
                    "  scrape_timeout: %s\n"
                    "  evaluation_interval: %s\n"
                    "scrape_configs:\n"
                    "  - job_name: vllm-sim\n"
                    "    honor_labels: true\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % (iv, iv, iv, sim_port))
        self.cmd = [binary, "--config.file=" + cfg,
                    "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                    "--web.listen-address=127.0.0.1:%d" % self.port,
                    "--log.level=warn"]
        self.workdir = workdir
        self.p = None
        self.starts = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def spawn(self):
        """Start (again: same port, same data dir) without waiting."""
        self.starts += 1
        self.p = Proc("prometheus", self.cmd, self.workdir).start()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                return r.status == 200
        wait_for("prometheus to be ready", ready, timeout, interval=0.1, proc=self.p)

    def query(self, q):
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=RPC_TIMEOUT) as r:
            doc = json.loads(r.read().decode())
        if doc.get("status") != "success":
            raise SetupError("prometheus query %s: %s" % (q, doc))
        return doc["data"]["result"]

    def model_kv(self):
        """{pod: kv} of this model's series present now."""
        res = self.query('vllm:kv_cache_usage_perc{namespace="%s",model_name="%s"}'
                         % (NAMESPACE, MODEL))
        return {r["metric"].get("pod"): float(r["value"][1]) for r in res}

    def flow_queue(self):
        res = self.query('sum(inference_extension_flow_control_queue_size{namespace="%s",'
                         'target_model_name="%s"})' % (NAMESPACE, MODEL))
        return float(res[0]["value"][1]) if res else 0.0


# ---- the scaler and its client ---------------------------------------------------------

class Scaler:
    def __init__(self, binary, workdir, prom_url, refresh_interval):
        self.port = free_port()
        cmd = [binary, "serve", "--listen", "127.0.0.1:%d" % self.port,
               "--prometheus-url", prom_url,
               "--refresh-interval", fmt_duration(refresh_interval),
               "--log-format", "logfmt"]
        try:
            helptext = subprocess.run([binary, "serve", "--help"], capture_output=True,
                                      text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SetupError("%s serve --help: %s" % (binary, e))
        if "--http-listen" in helptext:  # keep everything on loopback, on a free port
            cmd += ["--http-listen", "127.0.0.1:%d" % free_port()]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SATURATION_SCALER_")}
        self.p = Proc("saturation-scaler", cmd, workdir, env=env)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


class Client:
    """Hand-written stubs over one channel (one HTTP/2 connection), as KEDA
    shares one connection per scaler address."""

    def __init__(self, grpc, pb2, address):
        self.grpc = grpc
        self.pb2 = pb2
        self.channel = grpc.insecure_channel(address)
        uu, us = self.channel.unary_unary, self.channel.unary_stream
        ref = pb2.ScaledObjectRef
        self.GetMetricSpec = uu(SERVICE + "GetMetricSpec", request_serializer=ref.SerializeToString,
                                response_deserializer=pb2.GetMetricSpecResponse.FromString)
        self.GetMetrics = uu(SERVICE + "GetMetrics",
                             request_serializer=pb2.GetMetricsRequest.SerializeToString,
                             response_deserializer=pb2.GetMetricsResponse.FromString)
        self.IsActive = uu(SERVICE + "IsActive", request_serializer=ref.SerializeToString,
                           response_deserializer=pb2.IsActiveResponse.FromString)
        self.StreamIsActive = us(SERVICE + "StreamIsActive", request_serializer=ref.SerializeToString,
                                 response_deserializer=pb2.IsActiveResponse.FromString)

    def wait_ready(self, ref, proc):
        def ok():
            try:
                self.GetMetricSpec(ref, timeout=1.0)
                return True
            except self.grpc.RpcError:
                return False
        wait_for("saturation-scaler to answer GetMetricSpec", ok, START_TIMEOUT, interval=0.1,
                 proc=proc)

    def close(self):
        self.channel.close()


class StreamWatch:
    """One StreamIsActive call, read by a background thread."""

    def __init__(self, client, ref):
        self.call = client.StreamIsActive(ref)  # no deadline, as KEDA
        self.grpc = client.grpc
        self.messages = []          # (monotonic time, bool)
        self.q = queue.Queue()      # bool, or ("end", code, details)
        self.end = None             # (code name, details) once it ended
        self.cancelled = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for m in self.call:
                self.messages.append((time.monotonic(), m.result))
                self.q.put(m.result)
            self.end = (self.call.code().name, self.call.details())
        except self.grpc.RpcError as e:
            self.end = (e.code().name, e.details())
        except Exception as e:  # a bug here must not hang the demo
            self.end = ("READER-FAILED", repr(e))
        self.q.put(("end",) + self.end)

    def trues(self):
        return sum(1 for _, v in self.messages if v)

    def values(self):
        return [v for _, v in self.messages]

    def cancel(self):
        self.cancelled = True
        self.call.cancel()
        self.t.join(timeout=5)


# ---- the HPA (Kubernetes >= 1.33) -------------------------------------------------------

class Hpa:
    """The HPA's arithmetic for one External metric with an AverageValue
    target, with the default behavior unless flags change it. Time is the
    loop's scheduled step time in seconds, so period boundaries are exact."""

    def __init__(self, min_replicas, max_replicas, a):
        self.min = min_replicas
        self.max = max_replicas
        self.tol_up = a.tolerance_up
        self.tol_down = a.tolerance_down
        self.up_window = a.scale_up_stabilization
        self.down_window = a.stabilization_window
        # (type, value, period): select Max for both directions (the default)
        self.up_policies = [("Percent", a.scale_up_percent, a.scale_up_period),
                            ("Pods", a.scale_up_pods, a.scale_up_period)]
        self.down_policies = [("Percent", a.scale_down_percent, a.scale_down_period)]
        self.recs = None      # [(t, recommendation)]
        self.up_events = []   # [(t, change)]
        self.down_events = []

    @staticmethod
    def _changed_within(events, period, now):
        return sum(c for ts, c in events if ts > now - period)

    def _up_limit(self, now, current):
        best = None
        for kind, value, period in self.up_policies:
            start = current - self._changed_within(self.up_events, period, now) \
                + self._changed_within(self.down_events, period, now)
            if kind == "Pods":
                proposed = start + int(value)
            else:
                proposed = int(math.ceil(start * (1 + value / 100.0)))
            best = proposed if best is None else max(best, proposed)
        return best

    def _down_limit(self, now, current):
        best = None
        for kind, value, period in self.down_policies:
            start = current - self._changed_within(self.up_events, period, now) \
                + self._changed_within(self.down_events, period, now)
            if kind == "Pods":
                proposed = start - int(value)
            else:
                proposed = int(start * (1 - value / 100.0))
            best = proposed if best is None else min(best, proposed)
        return best

    def reconcile(self, now, current, value, target):
        """(desired, notes) for current > 0 replicas and the metric's total
        value against its per-pod target."""
        notes = []
        if self.recs is None:
            self.recs = [(now, current)]  # recordInitialRecommendation
        if current > self.max:
            return self.max, notes
        if current < self.min:
            return self.min, notes
        ratio = value / (target * current)
        if (1.0 - self.tol_down) <= ratio <= (1.0 + self.tol_up):
            proposal = current
            if math.ceil(value / target) != current:
                notes.append("tolerance")
        else:
            proposal = int(math.ceil(value / target))
        # stabilizeRecommendationWithBehaviors
        up_rec = down_rec = proposal
        for ts, r in self.recs:
            if ts > now - self.up_window:
                up_rec = min(up_rec, r)
            if ts > now - self.down_window:
                down_rec = max(down_rec, r)
        rec = current
        if rec < up_rec:
            rec = up_rec
        if rec > down_rec:
            rec = down_rec
        if rec != proposal and proposal < current:
            notes.append("stabilized")
        keep = max(self.up_window, self.down_window)
        self.recs = [(ts, r) for ts, r in self.recs if ts > now - keep] + [(now, proposal)]
        # convertDesiredReplicasWithBehaviorRate
        desired = rec
        if rec > current:
            limit = max(self._up_limit(now, current), current)
            allowed = min(self.max, limit)
            if rec > allowed:
                desired = allowed
                if allowed == limit and limit < self.max:
                    notes.append("rate-limited")
        elif rec < current:
            limit = min(self._down_limit(now, current), current)
            allowed = max(self.min, limit)
            if rec < allowed:
                desired = allowed
        if desired > current:
            self.up_events.append((now, desired - current))
        elif desired < current:
            self.down_events.append((now, current - desired))
        longest = max([p[2] for p in self.up_policies + self.down_policies] + [0])
        self.up_events = [e for e in self.up_events if e[0] > now - longest]
        self.down_events = [e for e in self.down_events if e[0] > now - longest]
        return desired, notes


# ---- one controller loop (one ScaledObject) -------------------------------------------------

Step = collections.namedtuple(
    "Step", "k t kind replicas desired value active metrics_error metrics_latency "
            "kv queue events")


class Loop:
    """KEDA + HPA for one ScaledObject: each period GetMetricSpec, GetMetrics,
    IsActive; scale the simulator's pods to the decision."""

    def __init__(self, demo, script, metadata, min_replica_count, max_replica_count):
        self.demo = demo
        self.a = demo.args
        self.script = script
        self.pb2 = demo.pb2
        self.client = demo.client
        md = {"modelID": MODEL, "maxReplicas": str(max_replica_count),
              "minReplicas": str(max(min_replica_count, 1)),
              "metricsWindow": fmt_duration(self.a.metrics_window)}
        md.update(metadata)
        self.metadata = md
        self.ref = self.pb2.ScaledObjectRef(name=SO_NAME, namespace=NAMESPACE, scalerMetadata=md)
        self.min_rc = min_replica_count
        self.max_rc = max_replica_count
        self.hpa = Hpa(max(min_replica_count, 1), max_replica_count, self.a)
        self.replicas = 0
        self.steps = []
        self.pending = []
        self.stream = None
        self.stream_end = None  # how the stream ended before we cancelled it
        self.t0 = None
        self.metric_codes = collections.Counter()

    # -- pods --

    def pods_state(self):
        return self.demo.sim.pods()

    def warm_up(self, rows, flow_queue=0):
        """Make the simulator hold exactly rows (ready, loaded) for this model
        and flow_queue, then wait until Prometheus shows them."""
        sim, prom = self.demo.sim, self.demo.prom
        have = {p["pod"]: p for p in sim.pods()}
        want = {pod_name(i): r for i, r in enumerate(rows)}
        for name in have:
            if name not in want:
                sim.remove(name)
        add = [dict(namespace=NAMESPACE, model=MODEL, pod=name, ready=True, **r)
               for name, r in want.items() if name not in have]
        if add:
            sim.add(add)
        for name, r in want.items():
            if name in have:
                sim.set(name, **r)
        sim.flow(flow_queue)
        self.replicas = len(rows)
        expect = {name: float(r["kv"]) for name, r in want.items()}

        def seen():
            scraped = prom.query('up{job="vllm-sim"} == 1')  # its first scrape can take ~5 s
            return scraped and prom.model_kv() == expect and prom.flow_queue() == flow_queue
        wait_for("Prometheus to show the initial %d pod(s)" % len(rows), seen, WARMUP_TIMEOUT,
                 interval=0.2, proc=prom.p)
        if len(self.demo.loops) > 1:
            # The scaler already watches this model: let its snapshot catch up.
            time.sleep(2 * self.a.refresh_interval + self.a.scrape_interval)

    def scale_to(self, desired):
        sim = self.demo.sim
        if desired > self.replicas:
            rows = []
            for i in range(self.replicas, desired):
                load = self.script.new_pod_load(self, i)
                rows.append(dict(namespace=NAMESPACE, model=MODEL, pod=pod_name(i), **load))
            sim.add(rows, delay=self.a.startup_delay)
        elif desired < self.replicas:
            for i in range(self.replicas - 1, desired - 1, -1):  # newest first
                sim.remove(pod_name(i))
        self.replicas = desired

    # -- the loop --

    def open_stream(self):
        self.stream = StreamWatch(self.client, self.ref)

    def close(self):
        """Cancel the stream (after noting whether it had ended by itself)."""
        if self.stream is not None and not self.stream.cancelled:
            self.stream_end = self.stream.end
            self.stream.cancel()

    def elapsed(self):
        return time.monotonic() - self.t0

    def _drain_stream(self, timeout):
        """Wait up to timeout for a stream message; note it as an event.
        Returns True when a `true` arrived while at zero replicas."""
        try:
            item = self.stream.q.get(timeout=max(timeout, 0))
        except queue.Empty:
            return False
        if isinstance(item, tuple):
            self.pending.append("stream-end")
            return False
        self.pending.append("stream-true" if item else "stream-false")
        return bool(item) and self.replicas == 0

    def run(self, max_steps, duration):
        period = self.a.hpa_period
        self.t0 = time.monotonic()
        self.open_stream()
        k = 0
        while True:
            due = self.t0 + k * period
            while True:
                left = due - time.monotonic()
                if left <= 0:
                    break
                if self._drain_stream(left):
                    self.push_step()
            # late by more than a period (a slow machine): skip the missed ones
            late = int((time.monotonic() - due) // period)
            if late > 0:
                k += late
            self.hpa_step(k, k * period)
            k += 1
            if self.script.done(self):
                break
            if len(self.hpa_steps()) >= max_steps:
                break
            if duration and k * period > duration:
                break
        # let a last stream message land in the record
        while self._drain_stream(0):
            pass

    def _line(self, st):
        kv = ",".join(st.kv)
        q = ",".join(st.queue)
        active = "error" if st.active is None else ("true" if st.active else "false")
        return "t=%s replicas=%d desired=%d active=%s kv=[%s] queue=[%s] event=%s" % (
            fmt_t(st.t), st.replicas, st.desired, active, kv, q,
            ",".join(st.events) if st.events else "-")

    def _pod_lists(self):
        kv, q = [], []
        for p in self.pods_state():
            if p.get("ready", True):
                kv.append(fmt_num(p["kv"]))
                q.append("%d" % p["queue"])
            else:
                kv.append("-")
                q.append("-")
        return kv, q

    def push_step(self):
        """KEDA on a pushed `true` at zero replicas: scale to the minimum now."""
        events = self.pending + ["activate"]
        self.pending = []
        kv, q = self._pod_lists()
        desired = max(self.min_rc, 1)
        st = Step(None, self.elapsed(), "push", self.replicas, desired, None, True, None, None,
                  kv, q, events)
        self.scale_to(desired)
        self.script.after_scale(self, events)
        self.record(st)

    def hpa_step(self, k, t):
        events = self.pending
        self.pending = []
        events += self.script.before_step(self, k, t)
        grpc = self.demo.grpc
        # GetMetricSpec: never depends on data
        try:
            specs = self.client.GetMetricSpec(self.ref, timeout=RPC_TIMEOUT).metricSpecs
            spec = specs[0]
            name = spec.metricName
            target = spec.targetSizeFloat if spec.targetSizeFloat > 0 else float(spec.targetSize)
        except (grpc.RpcError, IndexError) as e:
            raise SetupError("GetMetricSpec failed: %s" % describe(e))
        value = err = latency = None
        t_call = time.monotonic()
        try:
            resp = self.client.GetMetrics(
                self.pb2.GetMetricsRequest(scaledObjectRef=self.ref, metricName=name),
                timeout=RPC_TIMEOUT)
            mv = resp.metricValues[0]
            value = mv.metricValueFloat if mv.metricValueFloat > 0 else float(mv.metricValue)
            self.metric_codes["OK"] += 1
        except grpc.RpcError as e:
            err = e.code().name
            self.metric_codes[err] += 1
        latency = time.monotonic() - t_call
        try:
            active = self.client.IsActive(self.ref, timeout=RPC_TIMEOUT).result
        except grpc.RpcError:
            active = None
        kv, q = self._pod_lists()
        current = self.replicas
        if current == 0:
            # The HPA is off at zero; KEDA activates to the minimum.
            if active:
                desired = max(self.min_rc, 1)
                events.append("activate")
            else:
                desired = 0
        elif err is not None:
            desired = current  # the HPA cannot compute: it keeps the replicas
            events.append("unavailable" if err == "UNAVAILABLE" else err.lower())
        else:
            desired, notes = self.hpa.reconcile(t, current, value, target)
            events += notes
        if current > 0 and desired > current:
            events.append("scale-up")
        elif desired < current:
            events.append("scale-down")
        st = Step(k, t, "hpa", current, desired, value, active, err, latency, kv, q, events)
        self.scale_to(desired)
        if desired != current:
            self.script.after_scale(self, events)
        self.record(st)

    def record(self, st):
        self.steps.append(st)
        say(self._line(st), self.a.quiet)

    # -- facts for checks --

    def hpa_steps(self):
        return [s for s in self.steps if s.kind == "hpa"]

    def path(self):
        """Replica counts in order, without repeats, ending with the last."""
        out = []
        for s in self.steps:
            for r in (s.replicas, s.desired):
                if not out or out[-1] != r:
                    out.append(r)
        return out


def describe(e):
    if hasattr(e, "code") and callable(e.code):
        return "%s: %s" % (e.code().name, e.details())
    return repr(e)


# ---- scenarios --------------------------------------------------------------------------

class Script:
    """What a scenario does around one loop (defaults: nothing)."""
    kv = 0.95

    def new_pod_load(self, loop, i):
        return {"kv": self.kv, "queue": 0}

    def before_step(self, loop, k, t):
        return []

    def after_scale(self, loop, events):
        """Called once the pods match a new count (events: the step's list)."""

    def done(self, loop):
        return False


class Checks:
    def __init__(self):
        self.items = []

    def add(self, ok, text):
        self.items.append((bool(ok), text))

    def ok(self):
        return all(ok for ok, _ in self.items)

    def show(self):
        for ok, text in self.items:
            print("check: %s %s" % ("PASS" if ok else "FAIL", text), flush=True)


def held_at(loop, n, count):
    """The last `count` HPA steps had n replicas and decided n."""
    st = loop.hpa_steps()
    return len(st) >= count and all(s.replicas == n and s.desired == n for s in st[-count:])


def steps_of_one(path):
    return all(b - a == 1 for a, b in zip(path, path[1:]))


class LadderScript(Script):
    """Every pod at kv 0.95; stop after holding max for `hold` periods."""

    def __init__(self, max_r, hold, outage=None):
        self.max_r = max_r
        self.hold = hold
        self.outage = outage  # (at replicas, duration) or None
        self.stopped_at = None
        self.restarted_at = None

    def before_step(self, loop, k, t):
        ev = []
        if self.outage is None:
            return ev
        prom = loop.demo.prom
        at_replicas, duration = self.outage
        if self.stopped_at is None and loop.replicas >= at_replicas:
            prom.p.signal_stop()
            self.stopped_at = t
            ev.append("prometheus-stopped")
        elif self.stopped_at is not None and self.restarted_at is None \
                and t - self.stopped_at >= duration:
            prom.p.wait_stopped()
            prom.spawn()
            self.restarted_at = t
            ev.append("prometheus-started")
        return ev

    def done(self, loop):
        if self.outage is not None and self.restarted_at is None:
            return False
        return held_at(loop, self.max_r, self.hold)


def scenario_ladder(demo):
    a = demo.args
    max_r = 10
    hold = a.hold
    demo.header("ladder: every pod at kv 0.95 from the start, maxReplicas %d: the replicas climb "
                "1 -> %d one step at a time and stay there; the stream sends `true` once" %
                (max_r, max_r))
    script = LadderScript(max_r, hold)
    loop = demo.loop(script, {}, 1, max_r)
    loop.warm_up([{"kv": 0.95, "queue": 0}])
    loop.run(demo.max_steps(60), a.duration)
    loop.close()
    c = Checks()
    path = loop.path()
    c.add(path[0] == 1 and path[-1] == max_r and steps_of_one(path),
          "replicas climbed 1 -> %d one step at a time: %s" % (max_r, path_text(path)))
    c.add(held_at(loop, max_r, hold), "stayed at %d for the last %d periods" % (max_r, hold))
    c.add(loop.stream.values() == [True] and loop.stream_end is None,
          "stream sent `true` once, as its first message, and stayed open (messages %s%s)"
          % (loop.stream.values(), ", ended %s" % (loop.stream_end,) if loop.stream_end else ""))
    act = [s.active for s in loop.hpa_steps()]
    c.add(all(x is True for x in act), "IsActive true at every step")
    c.add(loop.metric_codes.get("UNAVAILABLE", 0) == 0 and set(loop.metric_codes) == {"OK"},
          "GetMetrics answered every step (%s)" % dict(loop.metric_codes))
    return c, "replicas %s stream-trues=%d unavailable=%d" % (
        arrow(path), loop.stream.trues(), loop.metric_codes.get("UNAVAILABLE", 0)), [loop]


class BlindSpotScript(Script):
    """Phase A: one hot pod (0.95) and cold pods (0.05). Phase B: the cold
    pods at exactly kvCacheThreshold - kvSpareTrigger (0.70: spare
    0.10000000000000009 is not < 0.10). Phase C: cold pods at 0.72 (spare
    0.08): scale-up. New pods start cold (an empty KV cache)."""

    def __init__(self, n_a, n_b, hold, cold):
        self.n_a, self.n_b, self.hold = n_a, n_b, hold
        self.cold = cold  # pods names of the cold pods of the start
        self.phase = "A"
        self.phase_start = {"A": 0}
        self.first_up = None

    def new_pod_load(self, loop, i):
        return {"kv": 0.05, "queue": 0}

    def before_step(self, loop, k, t):
        if self.phase == "A" and k >= self.n_a:
            for p in self.cold:
                loop.demo.sim.set(p, kv=0.70)
            self.phase = "B"
            self.phase_start["B"] = k
            return ["cold-0.70"]
        if self.phase == "B" and k >= self.n_a + self.n_b:
            for p in self.cold:
                loop.demo.sim.set(p, kv=0.72)
            self.phase = "C"
            self.phase_start["C"] = k
            return ["cold-0.72"]
        return []

    def done(self, loop):
        st = loop.hpa_steps()
        if self.phase != "C":
            return False
        if self.first_up is None:
            for s in st:
                if s.k >= self.phase_start["C"] and s.desired > s.replicas:
                    self.first_up = s.k
                    break
        if self.first_up is None:
            return st[-1].k - self.phase_start["C"] >= 15  # give up (the check fails)
        return st[-1].k - self.first_up >= self.hold


def scenario_blind_spot(demo):
    a = demo.args
    n = 3
    demo.header("blind-spot: one hot pod (kv 0.95) and %d cold pods (kv 0.05), minReplicas %d: "
                "no scale-up while the cold pods have spare KV; at kv 0.70 still none "
                "(0.80 - 0.70 is not < 0.10 in doubles); at 0.72 the scale-up resumes; new pods "
                "start cold" % (n - 1, n))
    cold = [pod_name(i) for i in range(1, n)]
    script = BlindSpotScript(4, 4, a.hold, cold)
    loop = demo.loop(script, {}, n, 10)
    loop.warm_up([{"kv": 0.95, "queue": 0}] + [{"kv": 0.05, "queue": 0}] * (n - 1))
    loop.run(demo.max_steps(40), a.duration)
    loop.close()
    c = Checks()
    st = loop.hpa_steps()
    before = [s for s in st if s.k < script.phase_start.get("C", 10 ** 9)]
    c.add(before and all(s.replicas == n and s.desired == n for s in before),
          "no scale-up with cold pods at 0.05 and at 0.70 (%d periods at %d replicas)"
          % (len(before), n))
    vals_b = [s.value for s in before if s.k >= script.phase_start.get("B", 10 ** 9)]
    c.add(vals_b and all(v == n for v in vals_b),
          "GetMetrics answered %d while the cold pods were at 0.70 (%s)" % (n, vals_b))
    c.add(script.first_up is not None,
          "scale-up resumed once the cold pods passed 0.70 (at 0.72)%s"
          % ("" if script.first_up is None else
             ", %d period(s) after the change" % (script.first_up - script.phase_start["C"])))
    path = loop.path()
    c.add(path[-1] == n + 1, "settled at %d: the new pod starts cold (%s)"
          % (n + 1, path_text(path)))
    return c, "replicas %s scale-up-at=%s" % (
        arrow(path), "-" if script.first_up is None else
        "t=" + fmt_t(script.first_up * a.hpa_period)), [loop]


class ScaleDownScript(Script):
    """6 pods at kv 0.7 (steady: 0.80 - 0.70 is not < 0.10, and 6 -> 5 would
    push them to 0.84). Then the load falls to a total of 1.2 KV (0.2 on each
    of 6 pods), spread evenly over whatever pods remain."""

    def __init__(self, steady, total, floor, hold):
        self.steady = steady
        self.total = total
        self.floor = floor
        self.hold = hold
        self.fell_at = None
        self.fell_k = None

    def per_pod(self, n):
        return round(min(self.total / n, 1.0), 4)

    def new_pod_load(self, loop, i):
        return {"kv": self.per_pod(loop.replicas + 1) if self.fell_at is not None else 0.7,
                "queue": 0}

    def before_step(self, loop, k, t):
        if self.fell_at is None and k >= self.steady:
            loop.demo.sim.set_model(kv=self.per_pod(loop.replicas))
            self.fell_at = t
            self.fell_k = k
            return ["load-fall"]
        return []

    def after_scale(self, loop, events):
        if self.fell_at is not None and loop.replicas > 0:
            loop.demo.sim.set_model(kv=self.per_pod(loop.replicas))
            events.append("kv=%s" % fmt_num(self.per_pod(loop.replicas)))

    def done(self, loop):
        return self.fell_at is not None and held_at(loop, self.floor, self.hold) and \
            all(s.value == self.floor for s in loop.hpa_steps()[-self.hold:])


def scenario_scale_down(demo):
    a = demo.args
    n = 6
    floor = 2
    hold = a.hold + 2  # at 2 GetMetrics answers 2: nothing in the window can go lower
    demo.header("scale-down: %d pods at kv 0.7, then the load falls to kv 0.2 on every pod "
                "(a total of 1.2, spread over the pods that remain), minReplicas 1: after the "
                "%s stabilisation window the replicas step down while removing one more stays "
                "safe: 6 -> 5 -> 4 -> 3 -> 2 (2 -> 1 would put 1.2 on one pod)"
                % (n, fmt_duration(a.stabilization_window)))
    script = ScaleDownScript(3, 0.2 * n, floor, hold)
    loop = demo.loop(script, {}, 1, 10)
    loop.warm_up([{"kv": 0.7, "queue": 0}] * n)
    loop.run(demo.max_steps(20 + int(6 * (a.stabilization_window + a.metrics_window)
                                     / a.hpa_period)), a.duration)
    loop.close()
    c = Checks()
    st = loop.hpa_steps()
    path = loop.path()
    downs = [s for s in st if s.desired < s.replicas]
    c.add(all(s.replicas == n for s in st if s.k < (script.fell_k or 0)),
          "steady at %d before the load fell" % n)
    first = downs[0].t if downs else None
    c.add(first is not None and script.fell_at is not None
          and first - script.fell_at >= a.stabilization_window,
          "first scale-down %s after the load fell (window %s)"
          % ("never" if first is None else fmt_t(first - script.fell_at),
             fmt_duration(a.stabilization_window)))
    c.add(path[0] == n and steps_of_one([-x for x in path]) and path[-1] == floor,
          "stepped down one at a time and stopped at %d: %s" % (floor, path_text(path)))
    c.add(min(s.desired for s in st) >= 1, "never below minReplicas 1")
    c.add(held_at(loop, floor, hold) and all(s.value == floor for s in st[-hold:]),
          "held at %d for %d periods: GetMetrics answers %d (2 -> 1 is unsafe)"
          % (floor, hold, floor))
    return c, "replicas %s" % arrow(path), [loop]


class Beyond10Script(Script):
    def __init__(self, max_r, hold, stall=None):
        self.max_r = max_r
        self.hold = hold
        self.stall = stall  # periods to watch the stall (hpaTolerance 0)

    def done(self, loop):
        if self.stall is not None:
            return len(loop.hpa_steps()) >= self.stall
        return held_at(loop, self.max_r, self.hold)


EXPECTED_BEYOND_10 = [10, 12, 14, 16, 18, 20, 23, 26, 29, 30]


def scenario_beyond_10(demo):
    a = demo.args
    max_r = 30
    demo.header("beyond-10: 10 saturated pods (kv 0.95), maxReplicas %d; run 1 with the default "
                "tolerance step, run 2 with hpaTolerance \"0\" (WVA's +1)" % max_r)
    c = Checks()
    say("# run 1: default tolerance step (the HPA acts on 10 -> 12, 20 -> 23, ...)", a.quiet)
    s1 = Beyond10Script(max_r, a.hold)
    l1 = demo.loop(s1, {}, 1, max_r)
    l1.warm_up([{"kv": 0.95, "queue": 0}] * 10)
    l1.run(demo.max_steps(60), a.duration)
    l1.close()
    p1 = l1.path()
    c.add(p1 == EXPECTED_BEYOND_10,
          "run 1 (default step) climbed %s (expected %s)"
          % (path_text(p1), path_text(EXPECTED_BEYOND_10)))
    c.add(held_at(l1, max_r, a.hold), "run 1 stayed at %d" % max_r)
    stall = max(a.hold + 3, 6)
    say("# run 2: hpaTolerance \"0\" (WVA's +1): 11/10 = 1.1 is inside the HPA's tolerance",
        a.quiet)
    s2 = Beyond10Script(max_r, a.hold, stall=stall)
    l2 = demo.loop(s2, {"hpaTolerance": "0"}, 1, max_r)
    l2.warm_up([{"kv": 0.95, "queue": 0}] * 10)
    l2.run(demo.max_steps(stall), a.duration)
    l2.close()
    st2 = l2.hpa_steps()
    vals = sorted(set(s.value for s in st2 if s.value is not None))
    c.add(all(s.replicas == 10 and s.desired == 10 for s in st2) and len(st2) >= stall,
          "run 2 (hpaTolerance 0) stalled at 10 for %d periods" % len(st2))
    c.add(vals == [11], "run 2: GetMetrics answered 11 (WVA's +1) at every period (%s)"
          % [fmt_num(v) for v in vals])
    return c, "default: replicas %s; hpaTolerance=0: replicas 10 -> 10 (metric %s, inside " \
              "the tolerance)" % (arrow(p1), "/".join(fmt_num(v) for v in vals)), [l1, l2]


def scenario_outage(demo):
    a = demo.args
    max_r = 10
    at = 4
    demo.header("outage: the ladder (kv 0.95, maxReplicas %d); at %d replicas Prometheus is "
                "stopped for %s: GetMetrics answers UNAVAILABLE at once, the loop keeps its "
                "replicas, the stream stays open; the climb resumes after the restart with the "
                "same scaler process" % (max_r, at, fmt_duration(a.outage)))
    scaler_pid = demo.scaler.p.pid
    script = LadderScript(max_r, a.hold, outage=(at, a.outage))
    md = {}
    if a.compressed and not a.metrics_window_given:
        md["metricsWindow"] = fmt_duration(OUTAGE_METRICS_WINDOW)
        say("# compressed clock: metricsWindow %s here, wider than the outage plus Prometheus' "
            "restart and first scrape (~5 s), as 1m is wider than 30 s + restart in real time"
            % md["metricsWindow"], a.quiet)
    loop = demo.loop(script, md, 1, max_r)
    loop.warm_up([{"kv": 0.95, "queue": 0}])
    loop.run(demo.max_steps(80), a.duration)
    loop.close()
    stream_end = loop.stream_end
    c = Checks()
    st = loop.hpa_steps()
    unavail = [s for s in st if s.metrics_error is not None]
    c.add(script.stopped_at is not None and script.restarted_at is not None,
          "Prometheus stopped at t=%s and restarted at t=%s"
          % (fmt_t(script.stopped_at) if script.stopped_at is not None else "-",
             fmt_t(script.restarted_at) if script.restarted_at is not None else "-"))
    c.add(len(unavail) >= 1 and all(s.metrics_error == "UNAVAILABLE" for s in unavail),
          "GetMetrics answered UNAVAILABLE during the outage (%d periods: %s)"
          % (len(unavail), sorted(set(s.metrics_error for s in unavail))))
    slow = [s.metrics_latency for s in unavail if s.metrics_latency >= UNAVAILABLE_FAST]
    c.add(unavail and not slow, "every UNAVAILABLE came at once (slowest %.0f ms)"
          % (1000 * max([s.metrics_latency for s in unavail] or [0])))
    c.add(all(s.desired == s.replicas for s in unavail),
          "the replicas were kept while GetMetrics failed")
    c.add(stream_end is None, "the stream stayed open through the outage%s"
          % ("" if stream_end is None else " (it ended: %s)" % (stream_end,)))
    c.add(loop.stream.values() == [True], "the stream sent `true` once (messages %s)"
          % loop.stream.values())
    path = loop.path()
    after = [s for s in st if script.restarted_at is not None and s.t > script.restarted_at]
    c.add(path[-1] == max_r and steps_of_one(path) and after and
          any(s.desired > s.replicas for s in after),
          "the climb resumed after the restart and reached %d: %s" % (max_r, path_text(path)))
    c.add(demo.scaler.p.pid == scaler_pid and demo.scaler.p.alive(),
          "the same scaler process (pid %d) served throughout" % scaler_pid)
    return c, "replicas %s unavailable=%d stream-trues=%d" % (
        arrow(path), len(unavail), loop.stream.trues()), [loop]


class FromZeroScript(Script):
    """0 replicas, nothing queued; then the flow-control queue fills. The
    queue drains two periods after the first pod is loaded."""

    def __init__(self, queue_at, hold):
        self.queue_at = queue_at
        self.hold = hold
        self.queued_k = None
        self.ready_k = None
        self.drained_k = None

    def new_pod_load(self, loop, i):
        return {"kv": 0.3, "queue": 0}

    def before_step(self, loop, k, t):
        ev = []
        if self.queued_k is None and k >= self.queue_at:
            loop.demo.sim.flow(3)
            self.queued_k = k
            ev.append("flow-queue=3")
        if self.ready_k is None and loop.replicas > 0 and \
                all(p.get("ready") for p in loop.demo.sim.pods()):
            self.ready_k = k
        if self.drained_k is None and self.ready_k is not None and k >= self.ready_k + 2:
            loop.demo.sim.flow(0)
            self.drained_k = k
            ev.append("queue-drained")
        return ev

    def done(self, loop):
        if self.drained_k is None:
            return len(loop.hpa_steps()) >= 30
        st = loop.hpa_steps()
        return st[-1].k - self.drained_k >= self.hold


def scenario_from_zero(demo):
    a = demo.args
    demo.header("from-zero: 0 replicas (minReplicaCount 0), then the EPP flow-control queue "
                "holds 3 requests: the stream sends `true`, IsActive turns true, the loop "
                "scales to 1 (the pod at kv 0.3)")
    script = FromZeroScript(2, a.hold)
    loop = demo.loop(script, {}, 0, 10)
    loop.warm_up([])
    loop.run(demo.max_steps(40), a.duration)
    loop.close()
    c = Checks()
    st = loop.hpa_steps()
    vals = loop.stream.values()
    c.add(vals and vals[0] is False and vals.count(True) == 1 and vals[-1] is True,
          "stream: `false` first (nothing queued), then `true` once (messages %s)" % vals)
    zero_before = [s for s in st if script.queued_k is not None and s.k < script.queued_k]
    c.add(zero_before and all(s.replicas == 0 and s.desired == 0 and s.active is False
                              for s in zero_before),
          "stayed at 0 while nothing was queued (IsActive false)")
    act = [s for s in loop.steps if "activate" in s.events]
    c.add(len(act) == 1 and act[0].replicas == 0 and act[0].desired == 1,
          "activated 0 -> 1 once (%s)" % ("by the stream" if act and act[0].kind == "push"
                                          else "by IsActive" if act else "never"))
    c.add(any(s.active is True for s in st), "IsActive turned true")
    path = loop.path()
    c.add(path == [0, 1] and held_at(loop, 1, a.hold),
          "replicas 0 -> 1 and stayed at 1 after the queue drained: %s" % path_text(path))
    c.add(all(s.active is True for s in st[-a.hold:]), "IsActive stayed true with the pod serving")
    return c, "replicas %s stream=%s" % (arrow(path), "/".join(
        "true" if v else "false" for v in vals)), [loop]


def path_text(p):
    return " -> ".join(str(x) for x in p)


def arrow(p):
    return "%d -> %d" % (p[0], p[-1]) if p else "-"


RUNNERS = {"ladder": scenario_ladder, "blind-spot": scenario_blind_spot,
           "scale-down": scenario_scale_down, "beyond-10": scenario_beyond_10,
           "outage": scenario_outage, "from-zero": scenario_from_zero}


# ---- the demo ---------------------------------------------------------------------------

def default_binary(env, *rel):
    if os.environ.get(env):
        return os.environ[env]
    build = os.environ.get("SAT_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
    if not os.path.isabs(build):
        build = os.path.join(SOURCE_DIR, build)
    return os.path.join(build, *rel)


class Demo:
    def __init__(self, args):
        self.args = args
        self.sim = self.prom = self.scaler = self.client = None
        self.loops = []
        self.own_workdir = args.workdir is None
        self.workdir = args.workdir or tempfile.mkdtemp(prefix="saturation-demo-")
        os.makedirs(self.workdir, exist_ok=True)

    def header(self, text):
        say("# scenario " + text, self.args.quiet)

    def max_steps(self, natural):
        return self.args.max_steps or natural

    def loop(self, script, metadata, min_rc, max_rc):
        lp = Loop(self, script, metadata, min_rc, max_rc)
        self.loops.append(lp)
        say("# ScaledObject %s/%s: minReplicaCount %d, maxReplicaCount %d, metadata %s"
            % (NAMESPACE, SO_NAME, min_rc, max_rc,
               " ".join("%s=%s" % kv for kv in sorted(lp.metadata.items()))), self.args.quiet)
        return lp

    def start(self):
        a = self.args
        for label, path in (("saturation-scaler", a.scaler), ("vllm-sim", a.sim),
                            ("prometheus", a.prometheus)):
            if not os.access(path, os.X_OK):
                raise SetupError("%s not found at %s (build it, or pass --%s)"
                                 % (label, path, label.split("-")[-1] if label != "vllm-sim"
                                    else "sim"))
        try:
            import grpc
        except ImportError:
            raise SetupError("python3-grpcio is missing (apt-get install python3-grpcio)")
        self.grpc = grpc
        build_dir = os.path.dirname(os.path.abspath(a.scaler))
        self.pb2 = load_pb2(self.workdir, build_dir)
        self.sim = Sim(a.sim, self.workdir, a.startup_delay).start()
        self.prom = Prometheus(a.prometheus, self.workdir, self.sim.port, a.scrape_interval)
        self.prom.spawn()
        self.scaler = Scaler(a.scaler, self.workdir, self.prom.url, a.refresh_interval)
        self.scaler.p.start()
        self.prom.wait_ready()
        self.client = Client(grpc, self.pb2, self.scaler.address)
        ref = self.pb2.ScaledObjectRef(name=SO_NAME, namespace=NAMESPACE,
                                       scalerMetadata={"modelID": MODEL})
        self.client.wait_ready(ref, self.scaler.p)
        say("# stack: vllm-sim 127.0.0.1:%d, prometheus %s (scrape %s, honor_labels), "
            "saturation-scaler %s (refresh %s); work dir %s"
            % (self.sim.port, self.prom.url, fmt_duration(a.scrape_interval), self.scaler.address,
               fmt_duration(a.refresh_interval), self.workdir), a.quiet)
        say("# clock: hpa-period %s, startup-delay %s, stabilization-window %s, scale-up max(%d%%, "
            "%d pods) per %s, tolerance %g/%g, metricsWindow %s%s"
            % (fmt_duration(a.hpa_period), fmt_duration(a.startup_delay),
               fmt_duration(a.stabilization_window), a.scale_up_percent, a.scale_up_pods,
               fmt_duration(a.scale_up_period), a.tolerance_down, a.tolerance_up,
               fmt_duration(a.metrics_window),
               " (compressed: every clock shrunk, the metrics window too)" if a.compressed else ""),
            a.quiet)

    def logs_tail(self):
        for p in (self.scaler and self.scaler.p, self.prom and self.prom.p, self.sim and self.sim.p):
            if p is None:
                continue
            lines = p.log_tail(15)
            if lines:
                print("# ---- last lines of %s.log ----" % p.name, file=sys.stderr)
                for ln in lines:
                    print("# " + ln, file=sys.stderr)
        sys.stderr.flush()

    def stop(self):
        for lp in self.loops:
            try:
                lp.close()
            except Exception:
                pass
        if self.client is not None:
            self.client.close()
        procs = [x.p for x in (self.scaler, self.prom, self.sim) if x is not None]
        for p in procs:
            p.signal_stop()
        for p in procs:
            p.wait_stopped()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="demo.py",
        description="saturation-scaler end to end: vllm-sim, Prometheus, the scaler and a "
                    "KEDA + HPA loop on loopback. Durations: Go-style (500ms, 15s, 1m30s) or "
                    "plain seconds.")
    ap.add_argument("--scenario", default="ladder", choices=SCENARIOS,
                    help="what to run (default ladder)")
    ap.add_argument("--compressed", action="store_true",
                    help="the tests' clock: hpa-period 1s, scrape/refresh 500ms, startup-delay "
                         "500ms, stabilization-window 5s, metrics window 4s (12s for the "
                         "outage), outage 3s "
                         "(explicit flags still win)")
    D = parse_duration
    ap.add_argument("--hpa-period", type=D, metavar="DURATION", help="HPA sync period (default 15s)")
    ap.add_argument("--scrape-interval", type=D, metavar="DURATION", help="Prometheus scrape interval (default 5s)")
    ap.add_argument("--refresh-interval", type=D, metavar="DURATION",
                    help="the scaler's --refresh-interval (default 5s)")
    ap.add_argument("--startup-delay", type=D, metavar="DURATION",
                    help="a new pod reports nothing this long: the model loads (default 10s)")
    ap.add_argument("--stabilization-window", type=D, metavar="DURATION",
                    help="HPA scale-down stabilisation window (default 300s)")
    ap.add_argument("--scale-up-stabilization", type=D, metavar="DURATION", default=0.0,
                    help="HPA scale-up stabilisation window (default 0)")
    ap.add_argument("--scale-up-percent", type=float, metavar="PERCENT", default=100.0,
                    help="HPA scale-up policy: percent per period (default 100)")
    ap.add_argument("--scale-up-pods", type=int, metavar="N", default=4,
                    help="HPA scale-up policy: pods per period (default 4)")
    ap.add_argument("--scale-up-period", type=D, metavar="DURATION",
                    help="period of the scale-up policies (default 15s)")
    ap.add_argument("--scale-down-percent", type=float, metavar="PERCENT", default=100.0,
                    help="HPA scale-down policy: percent per period (default 100)")
    ap.add_argument("--scale-down-period", type=D, metavar="DURATION",
                    help="period of the scale-down policy (default 15s)")
    ap.add_argument("--tolerance", type=float, metavar="X", default=0.1,
                    help="HPA tolerance, both directions (default 0.1)")
    ap.add_argument("--tolerance-up", type=float, metavar="X", help="HPA scale-up tolerance (default --tolerance)")
    ap.add_argument("--tolerance-down", type=float, metavar="X",
                    help="HPA scale-down tolerance (default --tolerance)")
    ap.add_argument("--metrics-window", type=D, metavar="DURATION",
                    help="trigger metadata metricsWindow (default 1m, the scaler's own default)")
    ap.add_argument("--outage", type=D, metavar="DURATION", help="outage: how long Prometheus is down (default 30s)")
    ap.add_argument("--hold", type=int, metavar="N", default=3,
                    help="periods a scenario watches its end state before it stops (default 3)")
    ap.add_argument("--max-steps", type=int, metavar="N", help="stop after this many HPA periods")
    ap.add_argument("--duration", type=D, metavar="DURATION", help="stop after this much loop time")
    ap.add_argument("--quiet", action="store_true",
                    help="print only the checks and the summary")
    ap.add_argument("--workdir", metavar="DIR", help="put everything here (default: a new temp dir, removed)")
    ap.add_argument("--scaler", metavar="PATH", default=default_binary("SAT_BINARY", "saturation-scaler"),
                    help="saturation-scaler binary (env SAT_BINARY, else <build>/)")
    ap.add_argument("--sim", metavar="PATH", default=default_binary("SAT_VLLM_SIM", "examples", "vllm-sim",
                                                    "vllm-sim"),
                    help="vllm-sim binary (env SAT_VLLM_SIM, else <build>/examples/vllm-sim/)")
    ap.add_argument("--prometheus", metavar="PATH", default=os.environ.get("SAT_PROMETHEUS")
                    or "/usr/bin/prometheus", help="prometheus binary (env SAT_PROMETHEUS)")
    a = ap.parse_args(argv)
    a.metrics_window_given = a.metrics_window is not None
    base = COMPRESSED if a.compressed else REAL
    for key, val in base.items():
        if key == "policy_period":
            continue
        if getattr(a, key, None) is None:
            setattr(a, key, val)
    if a.scale_up_period is None:
        a.scale_up_period = base["policy_period"]
    if a.scale_down_period is None:
        a.scale_down_period = base["policy_period"]
    if a.tolerance_up is None:
        a.tolerance_up = a.tolerance
    if a.tolerance_down is None:
        a.tolerance_down = a.tolerance
    if a.hpa_period <= 0:
        ap.error("--hpa-period must be > 0")
    if a.refresh_interval < 0.1:
        ap.error("--refresh-interval must be at least 100ms (the scaler's minimum)")
    if a.scrape_interval < 0.001 or a.metrics_window <= 0:
        ap.error("--scrape-interval and --metrics-window must be > 0")
    if a.hold < 1:
        ap.error("--hold must be >= 1")
    return a


def main(argv):
    a = parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    demo = Demo(a)
    t_start = time.monotonic()
    code = 2
    try:
        demo.start()
        checks, text, loops = RUNNERS[a.scenario](demo)
        checks.show()
        steps = sum(len(lp.hpa_steps()) for lp in loops)
        code = 0 if checks.ok() else 1
        print("summary: scenario=%s steps=%d %s time=%s result=%s"
              % (a.scenario, steps, text, fmt_t(round(time.monotonic() - t_start)),
                 "PASS" if code == 0 else "FAIL"), flush=True)
        if code:
            demo.logs_tail()
    except SetupError as e:
        print("demo: setup failed: %s" % e, file=sys.stderr, flush=True)
        print("summary: scenario=%s result=FAIL (setup: %s)" % (a.scenario, str(e).splitlines()[0]),
              flush=True)
        demo.logs_tail()
        code = 2
    except KeyboardInterrupt:
        print("\ndemo: interrupted; stopping everything", file=sys.stderr, flush=True)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
