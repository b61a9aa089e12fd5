#!/usr/bin/python3
"""faultstack: fault injection for the fault tests (test_fault*.py).

What is here:
- FakeProm: a fake Prometheus in a child process of its own (so its
  threads never compete with the test's latency measurements for the GIL),
  answering POST/GET /api/v1/query. Its behaviour is switched while it runs
  (set(mode, ...)), per request:
    good          a vector answer from its rows (kv for the kv-cache query,
                  queue for the waiting-queue query, empty for any other)
    hang          read the request, then never answer (until the peer
                  closes the connection)
    delay         answer "good" after `delay` seconds (unless the peer
                  closed first)
    http500       500 with a Prometheus-style JSON error body
    http429       429 Too Many Requests (text, Retry-After)
    html200       200 with an HTML page (a login portal)
    html502       502 with an HTML page (a proxy's error page)
    truncated     200, a JSON body cut in the middle (Content-Length honest)
    short         200, Content-Length of the full body, half of it sent,
                  then the connection closed
    empty         the connection closed without any answer
    huge          200, a 100 MiB body (valid JSON padded with blanks),
                  streamed in 1 MiB chunks, never held in memory
    huge_chunked  the same with Transfer-Encoding: chunked
    gzip_bomb     200, Content-Encoding: gzip, 100 MiB once inflated
                  (about 100 KiB on the wire)
    bad_data      400 {"status":"error","errorType":"bad_data",...}
    execution     422 {"status":"error","errorType":"execution",...}
  stats() counts requests per mode and those still in flight;
- Prober: a background loop of calls to one scaler (GetMetrics and
  IsActive for a healthy model, GetMetricSpec, health Check) in a child
  process of its own, recording the latency of each call by phase, to show
  that no worker thread stalls; probe_bound() is the latency bound (100 ms,
  x3 for a sanitized binary);
- Child("streams" | "park", ...): child Python processes that open many
  StreamIsActive streams, or many calls that park, on one channel and then
  wait to be killed (SIGKILL: the connection vanishes abruptly);
- scrape() / gauge() / wait_gauge(): the scaler's own /metrics;
- binary(), server_env(), clean_exit(): the binary under test
  (SAT_ASAN_BINARY when set, else SAT_BINARY), the sanitizer environment,
  and a stop with SIGTERM that asserts exit code 0 and no sanitizer report;
- extra_server_args(): SAT_FAULT_SERVER_ARGS, extra scaler flags for
  diagnosis only (e.g. "--workers 8"); empty by default.

Every child process is tracked by promstack (killed at exit) and dies with
this process (PR_SET_PDEATHSIG, set by the child: see _popen); every wait
is bounded.
Run with /usr/bin/python3 (Debian's python3-grpcio), like scaler.py.
"""

import http.client
import http.server
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scaler as S  # noqa: E402

PYTHON = "/usr/bin/python3"
NS = "llm"

# Bounds.
CHILD_START_TIMEOUT = 15.0   # a child prints its first line
HTTP_TIMEOUT = 5.0           # one control request to the fake
HANG_LIMIT = 120.0           # the longest a "hang" request is held
CHILD_LIFETIME = 150.0       # a child that is never killed exits by itself

HUGE_BYTES = 100 << 20       # 100 MiB
CHUNK = 1 << 20

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SANITIZER_MARKERS = ("LeakSanitizer", "ERROR: AddressSanitizer", "runtime error:")

MODES = ("good", "hang", "delay", "http500", "http429", "html200", "html502", "truncated",
         "short", "empty", "huge", "huge_chunked", "gzip_bomb", "bad_data", "execution")


# ==== the fake Prometheus (server side, runs in the child) ===================

def vector_doc(rows, key):
    """A Prometheus instant-query answer: one sample per row, value row[key]."""
    now = round(time.time(), 3)
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"namespace": r.get("namespace", NS), "model_name": r["model"],
                    "pod": r["pod"], "instance": r["pod"] + ":8000"},
         "value": [now, repr(float(r[key]))]} for r in rows]}}


HTML_LOGIN = (b"<!DOCTYPE html>\n<html><head><title>Sign in - Corporate SSO</title></head>\n"
              b"<body><form method=\"post\" action=\"/login\"><input name=\"user\">"
              b"<input name=\"password\" type=\"password\"></form></body></html>\n")
HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            b"</body>\r\n</html>\r\n")


class _State:
    def __init__(self, rows):
        self.lock = threading.Lock()
        self.mode = "good"
        self.delay = 0.0
        self.rows = rows
        self.counts = {}
        self.inflight = 0
        self.total = 0
        self.gzip_body = None


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeprom"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing --

    def _send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _peer_gone_within(self, seconds):
        """Wait up to seconds; True as soon as the peer closed the
        connection."""
        sock = self.connection
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.server.stopping:
            r, _, _ = select.select([sock], [], [], min(0.1, max(0.0, end - time.monotonic())))
            if r:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                time.sleep(0.05)  # a pipelined request: not ours to read now
        return False

    def _query(self, body):
        q = urllib.parse.parse_qs(body.decode(errors="replace")).get("query")
        if not q:
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("query")
        return q[0] if q else ""

    def _good_body(self, query, rows):
        if "kv_cache_usage_perc" in query or "token_usage" in query:
            doc = vector_doc(rows, "kv")
        elif "num_requests_waiting" in query or "num_queue_reqs" in query:
            doc = vector_doc(rows, "queue")
        else:
            doc = vector_doc([], "kv")
        return json.dumps(doc).encode()

    # -- control --

    def _control(self, body):
        st = self.server.state
        if self.path == "/-/fault" and self.command == "POST":
            doc = json.loads(body.decode() or "{}")
            mode = doc.get("mode", "good")
            if mode not in MODES:
                self._send(400, b'{"error":"unknown mode"}')
                return
            with st.lock:
                st.mode = mode
                st.delay = float(doc.get("delay", 0.0))
                if "rows" in doc:
                    st.rows = doc["rows"]
            self._send(200, b'{"ok":true}')
        elif self.path == "/-/stats":
            with st.lock:
                doc = {"mode": st.mode, "counts": dict(st.counts), "inflight": st.inflight,
                       "total": st.total}
            self._send(200, json.dumps(doc).encode())
        else:
            self._send(404, b'{"error":"no such control path"}')

    # -- the query endpoint --

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/-/"):
            self._control(body)
            return
        st = self.server.state
        with st.lock:
            mode, delay, rows = st.mode, st.delay, list(st.rows)
            st.counts[mode] = st.counts.get(mode, 0) + 1
            st.total += 1
            st.inflight += 1
        try:
            if not urllib.parse.urlsplit(self.path).path.endswith("/api/v1/query"):
                self._send(404, b'{"status":"error","errorType":"not_found","error":"404"}')
                return
            getattr(self, "_mode_" + mode)(self._query(body), rows, delay)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the scaler gave up (limit, timeout)
        finally:
            with st.lock:
                st.inflight -= 1

    do_GET = _handle
    do_POST = _handle

    def _mode_good(self, query, rows, delay):
        self._send(200, self._good_body(query, rows))

    def _mode_hang(self, query, rows, delay):
        self._peer_gone_within(HANG_LIMIT)
        self.close_connection = True

    def _mode_delay(self, query, rows, delay):
        if self._peer_gone_within(delay):
            self.close_connection = True
            return
        self._mode_good(query, rows, delay)

    def _mode_http500(self, query, rows, delay):
        self._send(500, json.dumps({"status": "error", "errorType": "internal",
                                    "error": "fake: expanding series: context canceled"}).encode())

    def _mode_http429(self, query, rows, delay):
        self._send(429, b"Too Many Requests: fake rate limit\n", "text/plain; charset=utf-8",
                   [("Retry-After", "1")])

    def _mode_html200(self, query, rows, delay):
        self._send(200, HTML_LOGIN, "text/html; charset=utf-8")

    def _mode_html502(self, query, rows, delay):
        self._send(502, HTML_502, "text/html")

    def _mode_truncated(self, query, rows, delay):
        good = self._good_body(query, rows)
        self._send(200, good[:len(good) // 2])

    def _mode_short(self, query, rows, delay):
        good = self._good_body(query, rows)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(good)))
        self.end_headers()
        self.wfile.write(good[:len(good) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _mode_empty(self, query, rows, delay):
        self.close_connection = True

    def _huge_parts(self):
        """The 100 MiB body: valid JSON, blanks in the middle; one 1 MiB
        buffer reused."""
        head = b'{"status":"success","data":{"resultType":"vector","result":['
        tail = b"]}}"
        pad = memoryview(b" " * CHUNK)
        yield head
        left = HUGE_BYTES - len(head) - len(tail)
        while left > 0:
            n = min(CHUNK, left)
            yield pad[:n]
            left -= n
        yield tail

    def _mode_huge(self, query, rows, delay):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        for part in self._huge_parts():
            self.wfile.write(part)

    def _mode_huge_chunked(self, query, rows, delay):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in self._huge_parts():
            self.wfile.write(b"%x\r\n" % len(part))
            self.wfile.write(part)
            self.wfile.write(b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _mode_gzip_bomb(self, query, rows, delay):
        st = self.server.state
        with st.lock:
            gz = st.gzip_body
        if gz is None:
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            out = [z.compress(bytes(p)) for p in self._huge_parts()]
            out.append(z.flush())
            gz = b"".join(out)
            with st.lock:
                st.gzip_body = gz
        self._send(200, gz, "application/json", [("Content-Encoding", "gzip")])

    def _mode_bad_data(self, query, rows, delay):
        self._send(400, json.dumps({
            "status": "error", "errorType": "bad_data",
            "error": "invalid parameter \"query\": 1:14: parse error: unexpected <by>"}).encode())

    def _mode_execution(self, query, rows, delay):
        self._send(422, json.dumps({
            "status": "error", "errorType": "execution",
            "error": "query processing would load too many samples into memory"}).encode())


class _FakeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping = False

    def handle_error(self, request, client_address):
        # The scaler closing or resetting a connection (a timeout, the size
        # limit) is expected here; anything else is printed as usual.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _serve_fakeprom(rows_json):
    srv = _FakeServer(("127.0.0.1", 0), _FakeHandler)
    srv.state = _State(json.loads(rows_json))
    print("listening 127.0.0.1:%d" % srv.server_address[1], flush=True)

    def stop(signum, frame):
        srv.stopping = True
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    srv.serve_forever(poll_interval=0.1)


# ==== the fake Prometheus (test side) ========================================

def _popen(cmd, **kw):
    """Start a child of this module, tracked by promstack (killed at exit).

    Not promstack.popen: its preexec_fn makes subprocess fork() for real,
    which runs grpcio's fork handlers, and those can hang for ever once
    this process has used a channel (seen: pthread_join on grpc's executor
    in the prefork handler). Without preexec_fn, subprocess uses vfork and
    no fork handler runs; the child sets its own death signal instead
    (_die_with_parent)."""
    import promstack as P
    env = dict(os.environ)
    env["SAT_FAULT_PARENT"] = str(os.getpid())
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, env=env, **kw)
    P._PROCS.add(p)
    return p


def _die_with_parent():
    """In a child: SIGKILL when the parent dies (PR_SET_PDEATHSIG), and exit
    at once if it is already gone."""
    import ctypes
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    parent = os.environ.get("SAT_FAULT_PARENT")
    if parent and os.getppid() != int(parent):
        os._exit(1)


def _read_line(proc, timeout, what):
    """The child's next stdout line (bounded); bytes after it are kept for
    the next call."""
    deadline = time.monotonic() + timeout
    buf = getattr(proc, "_linebuf", b"")
    fd = proc.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError("%s: no line within %.0fs (exit %s, got %r)"
                                 % (what, timeout, proc.poll(), buf))
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            chunk = os.read(fd, 65536)
            if chunk:
                buf += chunk
    line, buf = buf.split(b"\n", 1)
    proc._linebuf = buf
    return line.decode()


class FakeProm:
    """A fake Prometheus on 127.0.0.1:<free port> in a child process;
    rows: [{"namespace", "model", "pod", "kv", "queue"}] for "good"."""

    def __init__(self, rows):
        self.proc = _popen([PYTHON, os.path.abspath(__file__), "fakeprom", json.dumps(rows)],
                           stdout=subprocess.PIPE)
        line = _read_line(self.proc, CHILD_START_TIMEOUT, "fake prometheus")
        m = re.match(r"listening 127\.0\.0\.1:(\d+)$", line)
        assert m, "fake prometheus said %r" % line
        self.port = int(m.group(1))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200, "fake %s %s: HTTP %d %r" % (method, path, r.status, data)
            return json.loads(data.decode())
        finally:
            conn.close()

    def set(self, mode, delay=0.0, rows=None):
        doc = {"mode": mode, "delay": delay}
        if rows is not None:
            doc["rows"] = rows
        self._request("POST", "/-/fault", json.dumps(doc).encode())

    def stats(self):
        return self._request("GET", "/-/stats")

    def close(self):
        import promstack as P
        if self.proc is not None:
            P._kill(self.proc)
            self.proc = None


def rows(model, n, kv, queue=0, namespace=NS, prefix=None):
    prefix = prefix or re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-") + "-"
    return [{"namespace": namespace, "model": model, "pod": "%s%d" % (prefix, i), "kv": kv,
             "queue": queue} for i in range(1, n + 1)]


# ==== the prober: are other calls still answered fast? =======================

class _ProbeLoop:
    """The loop itself (runs in the prober child): GetMetrics (expect
    desired), IsActive (expect active), GetMetricSpec and health Check for
    ref r, latencies recorded per phase."""

    def __init__(self, c, r, desired, active, pause=0.002):
        self.c, self.r, self.desired, self.active = c, r, desired, active
        self.pause = pause
        self.lock = threading.Lock()
        self.phases = {}
        self.errors = {}
        self.current = "start"
        self.stop = threading.Event()

    def phase(self, name):
        with self.lock:
            self.current = name
            self.phases.setdefault(name, [])

    def run(self):
        calls = [
            ("GetMetrics", lambda: self.c.desired(self.r, timeout=5), self.desired),
            ("IsActive", lambda: self.c.is_active(self.r, timeout=5), self.active),
            ("GetMetricSpec", lambda: self.c.get_metric_spec(self.r, timeout=5)[0].targetSize, 1),
            ("Check", lambda: self.c.health_check("", timeout=5), S.SERVING),
        ]
        i = 0
        while not self.stop.is_set():
            what, fn, want = calls[i % len(calls)]
            i += 1
            t0 = time.monotonic()
            try:
                got = fn()
                ok, detail = got == want, repr(got)
            except Exception as e:  # noqa: BLE001 - reported by stats
                ok, detail = False, S.describe(e)
            dt = time.monotonic() - t0
            with self.lock:
                self.phases.setdefault(self.current, []).append((dt, what))
                if not ok:
                    self.errors.setdefault(self.current, []).append((what, detail))
            if self.pause:
                time.sleep(self.pause)

    def stats(self, name):
        with self.lock:
            lat = list(self.phases.get(name, []))
            errs = list(self.errors.get(name, []))
        lat.sort(reverse=True)
        p99 = lat[len(lat) // 100][0] if lat else 0.0
        return {"n": len(lat), "max": lat[0][0] if lat else 0.0, "p99": p99, "worst": lat[:5],
                "errors": errs[:5], "n_errors": len(errs)}


def _child_probe(address, ref_json, desired, active):
    """The prober child: loops calls; reads commands on stdin ("phase NAME",
    "stats NAME" -> one JSON line, "names" -> JSON list, "quit"); exits
    when stdin closes."""
    doc = json.loads(ref_json)
    ch = S.grpc.insecure_channel(address, options=S.channel_options())
    c = S.Client(ch)
    r = S.es_pb2.ScaledObjectRef(name=doc["name"], namespace=doc["namespace"],
                                 scalerMetadata=doc["metadata"])
    loop = _ProbeLoop(c, r, float(desired), active == "true")
    t = threading.Thread(target=loop.run, daemon=True)
    t.start()
    print("probing", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "phase":
            loop.phase(arg)
            print("ok", flush=True)
        elif cmd == "stats":
            print(json.dumps(loop.stats(arg)), flush=True)
        elif cmd == "names":
            with loop.lock:
                print(json.dumps(list(loop.phases)), flush=True)
        elif cmd == "quit":
            break
    loop.stop.set()
    t.join(timeout=10)


class Prober:
    """A background loop of calls to a scaler, in a child process of its
    own (so that the test's own threads cannot delay it): GetMetrics
    (expecting desired) and IsActive (expecting active) for ref r,
    GetMetricSpec and health Check, each latency recorded in the current
    phase (phase(name) starts one). check() asserts on a phase."""

    def __init__(self, address, r, desired, active=True):
        self.args = [address, json.dumps({"name": r.name, "namespace": r.namespace,
                                          "metadata": dict(r.scalerMetadata)}),
                     repr(float(desired)), "true" if active else "false"]
        self.proc = None
        self.lock = threading.Lock()
        self.names = []

    def start(self):
        self.proc = _popen([PYTHON, os.path.abspath(__file__), "probe"] + self.args,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = _read_line(self.proc, CHILD_START_TIMEOUT, "prober")
        assert line == "probing", line
        return self

    def _ask(self, cmd):
        with self.lock:
            assert self.proc is not None and self.proc.poll() is None, "the prober is gone"
            self.proc.stdin.write((cmd + "\n").encode())
            self.proc.stdin.flush()
            line = _read_line(self.proc, HTTP_TIMEOUT, "prober: " + cmd)
            return line if cmd.startswith("phase") else json.loads(line)

    def phase(self, name):
        self._ask("phase " + name)
        if name not in self.names:
            self.names.append(name)

    def stats(self, name):
        return self._ask("stats " + name)

    def stop(self):
        import promstack as P
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        P._kill(self.proc)
        self.proc = None

    def check(self, name, bound, min_calls):
        """Assert the phase saw at least min_calls calls, all right, 99 % of
        them under bound seconds and none over 10 x bound; returns (n, max
        seconds). A worker blocked on the network would show as a call of
        the endpoint's whole timeout (seconds); a single slow call on a
        shared, loaded 2-core machine is scheduling, not a stall."""
        st = self.stats(name)
        worst = ", ".join("%s %.1fms" % (w, d * 1000) for d, w in st["worst"])
        assert not st["n_errors"], "phase %s: %d wrong answers, e.g. %r" % (
            name, st["n_errors"], st["errors"])
        assert st["n"] >= min_calls, "phase %s: only %d calls" % (name, st["n"])
        assert st.get("p99", st["max"]) < bound, "phase %s: p99 %.1f ms (worst: %s)" % (
            name, st.get("p99", st["max"]) * 1000, worst)
        assert st["max"] < 10 * bound, "phase %s: a call took %.1f ms (worst: %s)" % (
            name, st["max"] * 1000, worst)
        return st["n"], st["max"]


# ==== child clients ==========================================================

def _child_streams(address, n, model, namespace):
    """Open n StreamIsActive on one channel; print "opened n"; wait to be
    killed (or exit after CHILD_LIFETIME)."""
    ch = S.grpc.insecure_channel(address, options=S.channel_options())
    c = S.Client(ch)
    r = S.ref(model, namespace=namespace)
    calls = [c.stream_is_active_call(r) for _ in range(n)]
    print("opened %d" % len(calls), flush=True)
    time.sleep(CHILD_LIFETIME)


def _child_park(address, n, model_prefix, namespace):
    """For each of n models of its own: a GetMetrics, an IsActive (no
    deadline) and a StreamIsActive; print "started"; wait to be killed."""
    ch = S.grpc.insecure_channel(address, options=S.channel_options())
    c = S.Client(ch)
    calls = []
    for i in range(n):
        r = S.ref("%s-%d" % (model_prefix, i), name="park%d" % i, namespace=namespace)
        req = S.es_pb2.GetMetricsRequest(scaledObjectRef=r)
        calls.append(c._get_metrics.future(req, timeout=None))
        calls.append(c._is_active.future(r, timeout=None))
        calls.append(c.stream_is_active_call(r))
    print("started %d" % len(calls), flush=True)
    time.sleep(CHILD_LIFETIME)


class Child:
    """A child client process (streams or park), killed with SIGKILL."""

    def __init__(self, kind, *args):
        self.proc = _popen([PYTHON, os.path.abspath(__file__), kind] + [str(a) for a in args],
                           stdout=subprocess.PIPE)
        self.first = _read_line(self.proc, 60.0, "child " + kind)

    def kill(self):
        import promstack as P
        if self.proc is not None:
            P._kill(self.proc)  # SIGKILL
            self.proc = None


# ==== the scaler's own /metrics ==============================================

def http_port(srv):
    """The --http-listen port scaler.Server gave srv."""
    i = srv.cmd.index("--http-listen")
    return int(srv.cmd[i + 1].rsplit(":", 1)[1])


def scrape(srv):
    conn = http.client.HTTPConnection("127.0.0.1", http_port(srv), timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        data = r.read().decode()
        assert r.status == 200, "GET /metrics: HTTP %d" % r.status
        return data
    finally:
        conn.close()


def gauge(srv, name):
    """The value of an unlabelled sample `name` on /metrics."""
    for line in scrape(srv).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s on /metrics" % name)


def wait_gauge(srv, name, want, timeout):
    """Wait until gauge == want; returns the seconds it took."""
    t0 = time.monotonic()
    S.wait_until(lambda: gauge(srv, name) == want, timeout, 0.05, "%s == %s" % (name, want))
    return time.monotonic() - t0


# ==== sanitizers =============================================================

ASAN_BINARY = os.environ.get("SAT_ASAN_BINARY")


def binary():
    """The binary under test: SAT_ASAN_BINARY when set, else SAT_BINARY."""
    return ASAN_BINARY or S.BINARY


def extra_server_args():
    """SAT_FAULT_SERVER_ARGS: extra flags for the scalers under test, for
    diagnosis only (e.g. "--workers 8"); empty by default."""
    return os.environ.get("SAT_FAULT_SERVER_ARGS", "").split()


def sanitized():
    return bool(ASAN_BINARY)


def probe_bound(seconds=0.1):
    """The bound on a call to a healthy scaler while a fault is on: 100 ms
    (DESIGN: "well under 100 ms"); three times that for a sanitized binary,
    which runs two to five times slower."""
    return seconds * (3 if sanitized() else 1)


def server_env():
    return dict(SANITIZER_ENV) if sanitized() else {}


def clean_exit(srv, timeout=60.0):
    """SIGTERM, wait (bounded); assert exit code 0 and, under sanitizers, no
    report in the server's stderr."""
    rc = srv.stop(timeout=timeout)
    err = srv.stderr_text(limit=400000)
    for marker in SANITIZER_MARKERS:
        assert marker not in err, "%s in server stderr:\n%s" % (marker, err[-20000:])
    assert rc == 0, "exit code %s after SIGTERM\n%s" % (rc, err[-8000:])
    return rc


if __name__ == "__main__":
    _die_with_parent()
    kind = sys.argv[1]
    if kind == "fakeprom":
        _serve_fakeprom(sys.argv[2])
    elif kind == "streams":
        _child_streams(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif kind == "probe":
        _child_probe(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif kind == "park":
        _child_park(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        raise SystemExit("faultstack.py: unknown child %r" % kind)
