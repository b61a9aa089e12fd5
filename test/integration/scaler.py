"""scaler: a small, independent test client for `saturation-scaler serve`.

Used by the test_*.py files next to it. Run them with Debian's interpreter
(/usr/bin/python3: python3-grpcio and python3-protobuf); the stubs are written
by hand on top of channel.unary_unary / unary_stream / stream_stream and the
message classes that protoc generated (grpc.cmake puts them in SAT_PY_GEN;
run by hand without it, this module generates them into a temp dir).

What is here:
- paths: BINARY (SAT_BINARY), SOURCE_DIR (SAT_SOURCE_DIR), the generated
  modules es_pb2, health_pb2, refl_v1_pb2, refl_v1alpha_pb2;
- free_port(), write_json_atomic(), metrics()/pods()/flow() file builders,
  ref() (a ScaledObjectRef), tempdir();
- Server: start the binary with flags or env vars, wait until healthy
  (bounded), stop with SIGTERM and return the exit code; every started
  process is killed at exit even when a test fails;
- Client: typed calls (get_metric_spec, get_metrics, desired, is_active,
  stream_is_active, health_check, health_watch, call_raw...) with a timeout
  on every RPC, raising grpc.RpcError with the server's status;
- Stream: a server stream read by a background thread into a queue, so a
  test can wait for the next message, or for silence, with a bound;
- expect_rpc_error(), wait_until(), run_tests() (the "N passed, N failed"
  runner).
"""

import atexit
import importlib.util
import json
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SAT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("SAT_BINARY") or os.path.join(SOURCE_DIR, "build", "saturation-scaler")
PROTOC = "/usr/bin/protoc"
GRPC_PROTO_DIR = "/usr/share/grpc-proto"

# The service and its methods, as they go on the wire.
SERVICE = "externalscaler.ExternalScaler"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
DEFAULT_METRIC = "saturation-desired-replicas"

# Defaults the tests share: the model of examples/metrics/*.json.
NS = "llm"
MODEL = "ibm/granite-13b"

# Bounds. Every wait in this module is bounded by one of these.
RPC_TIMEOUT = 5.0         # a unary call (the server answers in << 100 ms)
HEALTHY_TIMEOUT = 10.0    # start -> health SERVING
STOP_TIMEOUT = 15.0       # SIGTERM -> exit, unless the caller says otherwise
FILE_CHANGE_TIMEOUT = 3.0  # the server re-reads the file within 500 ms


# ---- generated message classes ---------------------------------------------

_GEN_TMP = None


def _gen_dir():
    """The directory holding the protoc output (generate it when missing)."""
    global _GEN_TMP
    d = os.environ.get("SAT_PY_GEN")
    if d and os.path.exists(os.path.join(d, "externalscaler_pb2.py")):
        return d
    # Run by hand without the build: generate into a temp dir once.
    _GEN_TMP = tempfile.mkdtemp(prefix="sat-py-gen-")
    atexit.register(shutil.rmtree, _GEN_TMP, True)
    subprocess.run([PROTOC, "--python_out=" + _GEN_TMP, "-I", os.path.join(SOURCE_DIR, "proto"),
                    "externalscaler.proto"], check=True, timeout=60)
    subprocess.run([PROTOC, "--python_out=" + _GEN_TMP, "-I", GRPC_PROTO_DIR,
                    "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto",
                    "grpc/reflection/v1alpha/reflection.proto"], check=True, timeout=60)
    return _GEN_TMP


def _load(name, relpath):
    """Import a generated module by file path. The health and reflection
    modules live under grpc/..., which would clash with the grpc package, so
    they are loaded under names of our own."""
    path = os.path.join(_gen_dir(), relpath)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


es_pb2 = _load("sat_externalscaler_pb2", "externalscaler_pb2.py")
health_pb2 = _load("sat_health_pb2", "grpc/health/v1/health_pb2.py")
refl_v1_pb2 = _load("sat_reflection_v1_pb2", "grpc/reflection/v1/reflection_pb2.py")
refl_v1alpha_pb2 = _load("sat_reflection_v1alpha_pb2",
                         "grpc/reflection/v1alpha/reflection_pb2.py")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


# ---- small helpers ---------------------------------------------------------

def free_port():
    """A TCP port that was free a moment ago (bind port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_atomic(path, data):
    """Write bytes or str to path atomically: a temp file in the same
    directory, then rename over path."""
    if isinstance(data, str):
        data = data.encode()
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path, obj):
    write_atomic(path, json.dumps(obj, indent=1) + "\n")


def pods(n, kv, queue_len=0, model=MODEL, namespace=NS, variant=None, prefix="p", start=1):
    """n pod rows named <prefix><start>..; variant None = unlabelled."""
    rows = []
    for i in range(start, start + n):
        row = {"namespace": namespace, "model": model, "pod": "%s%d" % (prefix, i),
               "kv": kv, "queue": queue_len}
        if variant is not None:
            row["variant"] = variant
        rows.append(row)
    return rows


def flow(queue_len, model=MODEL, namespace=NS):
    """One flowControl entry."""
    return {"namespace": namespace, "model": model, "queue": queue_len}


def metrics(pod_rows=(), flow_rows=()):
    """A metrics-file document."""
    doc = {"pods": list(pod_rows)}
    if flow_rows:
        doc["flowControl"] = list(flow_rows)
    return doc


def ref(model=MODEL, name="so", namespace=NS, **metadata):
    """A ScaledObjectRef. model None leaves modelID out; every other keyword
    is a metadata key (values are turned into strings). For keys that are
    not Python identifiers, pass meta={...}."""
    md = {}
    if model is not None:
        md["modelID"] = model
    extra = metadata.pop("meta", None) or {}
    for k, v in list(metadata.items()) + list(extra.items()):
        md[k] = str(v)
    return es_pb2.ScaledObjectRef(name=name, namespace=namespace, scalerMetadata=md)


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or timeout seconds
    pass (AssertionError naming what, with the last value or exception)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
            if last:
                return last
        except (grpc.RpcError, AssertionError, OSError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %s)"
                                 % (timeout, what, describe(last)))
        time.sleep(interval)


def describe(x):
    """A readable one-liner for a value or an RpcError."""
    if isinstance(x, grpc.RpcError) and hasattr(x, "code"):
        return "%s: %s" % (x.code().name, x.details())
    return repr(x)


def expect_rpc_error(code, fn, *args, **kwargs):
    """Call fn and assert it raises grpc.RpcError with status code; return
    the error (its .details() is the status message)."""
    try:
        got = fn(*args, **kwargs)
    except grpc.RpcError as e:
        assert e.code() == code, "expected %s, got %s" % (code.name, describe(e))
        return e
    raise AssertionError("expected %s, got a result: %r" % (code.name, got))


class TempDir:
    """A temp dir removed on exit (context manager)."""

    def __init__(self, prefix="sat-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def tempdir(prefix="sat-it-"):
    return TempDir(prefix)


# ---- the client --------------------------------------------------------------

def channel_options():
    """Options for every test channel: a subchannel pool of its own, so a new
    channel really is a new connection (TLS tests rely on it), and no
    reconnect back-off hiding a restart."""
    return [("grpc.use_local_subchannel_pool", 1),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 500)]


def _identity(b):
    return b


class Client:
    """Hand-written stubs for ExternalScaler and Health over one channel."""

    def __init__(self, channel):
        self.channel = channel
        uu, us = channel.unary_unary, channel.unary_stream
        m = "/" + SERVICE + "/"
        self._is_active = uu(m + "IsActive", request_serializer=es_pb2.ScaledObjectRef.SerializeToString,
                             response_deserializer=es_pb2.IsActiveResponse.FromString)
        self._stream_is_active = us(m + "StreamIsActive",
                                    request_serializer=es_pb2.ScaledObjectRef.SerializeToString,
                                    response_deserializer=es_pb2.IsActiveResponse.FromString)
        self._get_metric_spec = uu(m + "GetMetricSpec",
                                   request_serializer=es_pb2.ScaledObjectRef.SerializeToString,
                                   response_deserializer=es_pb2.GetMetricSpecResponse.FromString)
        self._get_metrics = uu(m + "GetMetrics",
                               request_serializer=es_pb2.GetMetricsRequest.SerializeToString,
                               response_deserializer=es_pb2.GetMetricsResponse.FromString)
        self._stream_metric_spec = us(m + "StreamMetricSpec",
                                      request_serializer=es_pb2.ScaledObjectRef.SerializeToString,
                                      response_deserializer=es_pb2.GetMetricSpecResponse.FromString)
        h = "/" + HEALTH_SERVICE + "/"
        self._check = uu(h + "Check", request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                         response_deserializer=health_pb2.HealthCheckResponse.FromString)
        self._watch = us(h + "Watch", request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                         response_deserializer=health_pb2.HealthCheckResponse.FromString)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- ExternalScaler --

    def get_metric_spec(self, r, timeout=RPC_TIMEOUT):
        """The list of MetricSpec messages."""
        return list(self._get_metric_spec(r, timeout=timeout).metricSpecs)

    def get_metrics(self, r, metric_name="", timeout=RPC_TIMEOUT):
        """The GetMetricsResponse."""
        req = es_pb2.GetMetricsRequest(scaledObjectRef=r, metricName=metric_name)
        return self._get_metrics(req, timeout=timeout)

    def get_metrics_future(self, r, metric_name="", timeout=RPC_TIMEOUT):
        req = es_pb2.GetMetricsRequest(scaledObjectRef=r, metricName=metric_name)
        return self._get_metrics.future(req, timeout=timeout)

    def desired(self, r, metric_name="", timeout=RPC_TIMEOUT):
        """GetMetrics' answer as a number, after checking the response shape:
        exactly one MetricValue, metricValue == ceil(metricValueFloat)."""
        return check_metric_values(self.get_metrics(r, metric_name, timeout))

    def is_active(self, r, timeout=RPC_TIMEOUT):
        return self._is_active(r, timeout=timeout).result

    def stream_is_active(self, r, timeout=None):
        """A Stream of IsActiveResponse (read in the background). timeout is
        the call's deadline (None = none, as KEDA does)."""
        return Stream(self._stream_is_active(r, timeout=timeout), lambda m: m.result)

    def stream_is_active_call(self, r, timeout=None):
        """The raw StreamIsActive call (an iterator of IsActiveResponse with
        .cancel()), for tests that open many streams without a reader
        thread each."""
        return self._stream_is_active(r, timeout=timeout)

    def stream_metric_spec_call(self, r, timeout=RPC_TIMEOUT):
        """The raw StreamMetricSpec call (an iterator)."""
        return self._stream_metric_spec(r, timeout=timeout)

    # -- health --

    def health_check(self, service="", timeout=RPC_TIMEOUT):
        """The serving status (an enum int: SERVING, NOT_SERVING...)."""
        return self._check(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status

    def health_watch(self, service="", timeout=None):
        return Stream(self._watch(health_pb2.HealthCheckRequest(service=service), timeout=timeout),
                      lambda m: m.status)

    # -- anything --

    def call_unary_raw(self, method, payload=b"", timeout=RPC_TIMEOUT):
        """Call any method with raw bytes; returns raw bytes."""
        fn = self.channel.unary_unary(method, request_serializer=_identity,
                                      response_deserializer=_identity)
        return fn(payload, timeout=timeout)

    def call_stream_raw(self, method, payload=b"", timeout=RPC_TIMEOUT):
        """Call any method as server streaming with raw bytes; returns the
        list of raw messages."""
        fn = self.channel.unary_stream(method, request_serializer=_identity,
                                       response_deserializer=_identity)
        return list(fn(payload, timeout=timeout))


def check_metric_values(resp):
    """Assert a GetMetricsResponse carries exactly one MetricValue with both
    fields filled consistently; return the float value."""
    n = len(resp.metricValues)
    assert n == 1, "expected exactly one MetricValue, got %d: %s" % (n, resp)
    mv = resp.metricValues[0]
    assert mv.metricValue == math.ceil(mv.metricValueFloat), \
        "metricValue %d != ceil(metricValueFloat %r)" % (mv.metricValue, mv.metricValueFloat)
    return mv.metricValueFloat


class StreamEnd:
    """The end of a stream: its status code and message."""

    def __init__(self, code, details):
        self.code = code
        self.details = details

    def __repr__(self):
        return "StreamEnd(%s, %r)" % (self.code.name if self.code else None, self.details)


class Stream:
    """A server stream read by a background thread. Messages (mapped through
    pick) and finally one StreamEnd land in a queue; next() waits for the
    next item with a bound."""

    def __init__(self, call, pick=lambda m: m):
        self.call = call
        self._pick = pick
        self._q = queue.Queue()
        self.end = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        try:
            for m in self.call:
                self._q.put(self._pick(m))
            self._q.put(StreamEnd(self.call.code(), self.call.details()))
        except grpc.RpcError as e:
            self._q.put(StreamEnd(e.code(), e.details()))
        except Exception as e:  # a bug in pick: surface it, do not hang
            self._q.put(StreamEnd(None, "reader failed: %r" % e))

    def next(self, timeout):
        """The next message or StreamEnd; raises AssertionError after
        timeout seconds without one."""
        if self.end is not None:
            return self.end
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no stream message within %.1fs" % timeout)
        if isinstance(item, StreamEnd):
            self.end = item
        return item

    def expect(self, value, timeout):
        """Assert the next item is a message equal to value."""
        got = self.next(timeout)
        assert not isinstance(got, StreamEnd), "stream ended (%r) instead of sending %r" % (got, value)
        assert got == value, "stream sent %r, expected %r" % (got, value)

    def expect_quiet(self, duration):
        """Assert nothing arrives (no message, no end) for duration seconds."""
        try:
            item = self._q.get(timeout=duration)
        except queue.Empty:
            return
        raise AssertionError("expected silence for %.1fs, got %r" % (duration, item))

    def wait_end(self, timeout):
        """Skip messages until the stream ends; return (StreamEnd, skipped)."""
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("stream did not end within %.1fs (got %r)" % (timeout, skipped))
            item = self.next(left)
            if isinstance(item, StreamEnd):
                return item, skipped
            skipped.append(item)

    def cancel(self):
        self.call.cancel()


# ---- the server --------------------------------------------------------------

_LIVE = set()  # every Server still running, killed at exit


_SETPRIV = shutil.which("setpriv")


def _kill_leftovers():
    for s in list(_LIVE):
        s.kill()


atexit.register(_kill_leftovers)

_HELP = None


def binary_help(binary=None):
    """`<binary> serve --help` and `<binary> --help` output (cached)."""
    global _HELP
    if _HELP is None:
        out = []
        for args in (["serve", "--help"], ["--help"]):
            try:
                p = subprocess.run([binary or BINARY] + args, capture_output=True, text=True,
                                   timeout=10)
                out.append(p.stdout + p.stderr)
            except (OSError, subprocess.TimeoutExpired) as e:
                out.append(str(e))
        _HELP = "\n".join(out)
    return _HELP


class Server:
    """One `saturation-scaler serve` process on 127.0.0.1:<free port>.

    metrics_file: the --metrics-file path (None to leave it out);
    args: extra flags; env: extra environment; via_env: pass --listen,
    --metrics-file (and --http-listen) as SATURATION_SCALER_* variables
    instead; tls: None, or a dict with "ca" (PEM bytes to trust), optional
    "cert"/"key" (client certificate) used by channel(); binary: another
    binary (the ASan one).

    Use as a context manager: __exit__ prints the server's stderr when the
    block failed and always stops the process.
    """

    def __init__(self, metrics_file, args=(), env=None, via_env=False, tls=None, binary=None):
        self.binary = binary or BINARY
        self.metrics_file = metrics_file
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.via_env = via_env
        self.tls = tls
        self.port = None
        self.proc = None
        self._errf = None
        self.returncode = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, wait=True):
        self.port = free_port()
        flags = {"listen": self.address}
        if self.metrics_file is not None:
            flags["metrics-file"] = self.metrics_file
        # The HTTP endpoint defaults to :8080; give each server its own port
        # so tests can run in parallel (only when the binary knows the flag).
        if "--http-listen" in binary_help(self.binary):
            flags["http-listen"] = "127.0.0.1:%d" % free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SATURATION_SCALER_")}
        cmd = [self.binary, "serve"]
        for k, v in flags.items():
            if self.via_env:
                env["SATURATION_SCALER_" + k.upper().replace("-", "_")] = v
            else:
                cmd += ["--" + k, v]
        cmd += self.args
        env.update(self.extra_env)
        self._errf = tempfile.TemporaryFile(prefix="sat-stderr-")
        self.cmd = cmd
        # Die with the test process (a ctest timeout must leave nothing
        # behind): setpriv sets the death signal and execs, so the pid is
        # the scaler's. Not preexec_fn: a fork() in a process that has used
        # grpcio runs its fork handlers, which can hang.
        if _SETPRIV:
            cmd = [_SETPRIV, "--pdeathsig", "KILL", "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._errf,
                                     stderr=self._errf, env=env)
        _LIVE.add(self)
        if wait:
            self.wait_healthy()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def channel(self, tls=None, options=()):
        """A new channel (a new connection) to this server; tls overrides
        the server's client TLS settings (False = plaintext)."""
        tls = self.tls if tls is None else tls
        opts = channel_options() + list(options)
        if not tls:
            return grpc.insecure_channel(self.address, options=opts)
        creds = grpc.ssl_channel_credentials(root_certificates=tls.get("ca"),
                                             private_key=tls.get("key"),
                                             certificate_chain=tls.get("cert"))
        return grpc.secure_channel(self.address, creds, options=opts)

    def client(self, tls=None):
        return Client(self.channel(tls))

    def wait_healthy(self, timeout=HEALTHY_TIMEOUT):
        """Wait until a TCP connect and a health Check("") answer SERVING;
        fail (with the server's stderr) when the process exits or timeout
        passes."""
        deadline = time.monotonic() + timeout
        last = "nothing tried"
        with self.client() as c:
            while True:
                rc = self.proc.poll()
                if rc is not None:
                    raise AssertionError("server exited with %d before it was healthy: %s\n%s"
                                         % (rc, " ".join(self.cmd), self.stderr_text()))
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    st = c.health_check("", timeout=1.0)
                    if st == SERVING:
                        return
                    last = "health status %d" % st
                except OSError as e:
                    last = "connect: %s" % e
                except grpc.RpcError as e:
                    last = describe(e)
                if time.monotonic() >= deadline:
                    raise AssertionError("server not healthy within %.0fs (%s): %s\n%s"
                                         % (timeout, last, " ".join(self.cmd), self.stderr_text()))
                time.sleep(0.05)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """The exit code, or AssertionError when still running after timeout
        (the process is then killed)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server still running %.1fs after SIGTERM; killed\n%s"
                                 % (timeout, self.stderr_text()))
        _LIVE.discard(self)
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (bounded), return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _LIVE.discard(self)

    def stderr_text(self, limit=20000):
        """What the server wrote to stderr (and stdout), at most the last
        limit bytes."""
        if self._errf is None:
            return ""
        self._errf.flush()
        self._errf.seek(0)
        data = self._errf.read()
        if len(data) > limit:
            data = b"...\n" + data[-limit:]
        return data.decode(errors="replace")

    def rss_bytes(self):
        """The server's resident set size (VmRSS) in bytes."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for pid %d" % self.pid)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print("---- server stderr (%s) ----\n%s\n---- end of server stderr ----"
                  % (" ".join(getattr(self, "cmd", [])), self.stderr_text()), file=sys.stderr)
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop()
        except AssertionError:
            if exc_type is None:
                raise
        finally:
            self.kill()
            if self._errf is not None:
                self._errf.close()
                self._errf = None


# ---- the runner ----------------------------------------------------------------

def run_tests(tests, setup=None, teardown=None):
    """Run each test function, print PASS/FAIL lines (with tracebacks), and
    "N passed, N failed" alone on the last line; exit 1 on any failure.
    setup() runs first (a failure fails every test); teardown() always."""
    passed = failed = 0
    try:
        if setup is not None:
            setup()
        for t in tests:
            t0 = time.monotonic()
            try:
                t()
            except Exception:  # any failure, assertion or RpcError
                failed += 1
                print("FAIL %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        failed += len(tests) - passed - failed
        print("FAIL setup: every remaining test counts as failed", flush=True)
    finally:
        if teardown is not None:
            try:
                teardown()
            except Exception:
                traceback.print_exc(file=sys.stdout)
                failed += 1
        _kill_leftovers()
    sys.stderr.flush()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
