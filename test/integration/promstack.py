"""promstack: a real Prometheus scraping the vLLM simulator, for the
integration tests of the Prometheus source (test_prom*.py).

Everything runs on loopback with free ports, and every file goes into one
temp dir per test process (workdir()), removed at exit. Every process
started here (simulator, Prometheus) is killed at exit, even when a test
fails or the runner is terminated (SIGTERM -> SystemExit -> atexit; the
children also get SIGKILL from the kernel if this process dies: see
_pdeathsig). Every wait is bounded.

What is here:
- paths: PROMETHEUS, VLLM_SIM, OPENSSL;
- workdir(): the process-wide temp dir;
- Sim: `vllm-sim --listen 127.0.0.1:0` (port from its first stdout line)
  with its control API (add_pods, set, remove, flow, reset, state,
  metrics_text) and pod()/pods() row builders;
- Prometheus: a generated config (scrape and evaluation every 1s, one job
  scraping the simulator with honor_labels: true), its own data dir,
  optional --web.config.file (TLS, basic auth); start, stop, restart on the
  same port and data dir, freeze/thaw (SIGSTOP/SIGCONT); query(), value(),
  wait_value(), self_metrics(), query_requests() (the
  prometheus_http_requests_total{handler="/api/v1/query"} counter, read
  from /metrics so that reading it costs no query);
- Proxy: an HTTP proxy in this process in front of Prometheus that can
  delay each request, require a bearer token, and records what it saw;
- make_tls(): a CA and a server certificate for 127.0.0.1 (openssl);
- bcrypt_hash(): a bcrypt hash for Prometheus' basic_auth_users;
- write_config(), scaler(): the scaler (scaler.Server) on Prometheus.

Run with /usr/bin/python3 (Debian's python3-grpcio), like scaler.py.
"""

import atexit
import base64
import ctypes
import http.client
import http.server
import json
import os
import re
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
OPENSSL = "/usr/bin/openssl"
VLLM_SIM = os.environ.get("SAT_VLLM_SIM") or os.path.join(
    S.SOURCE_DIR, "build", "examples", "vllm-sim", "vllm-sim")

# Bounds. Every wait in this module is bounded by one of these.
SIM_START_TIMEOUT = 10.0    # the simulator prints its address
PROM_START_TIMEOUT = 30.0   # Prometheus answers /-/ready
PROM_STOP_TIMEOUT = 15.0    # SIGTERM -> exit
SCRAPE_TIMEOUT = 15.0       # a simulator change is visible in a query
ANSWER_TIMEOUT = 20.0       # ... and in the scaler's answers
HTTP_TIMEOUT = 5.0          # one HTTP request of ours


# ---- process hygiene ----------------------------------------------------------

_PROCS = set()   # Popen objects still running
_DIRS = []       # temp dirs to remove
_CLEANUPS = []   # callables (proxies)
_WORKDIR = None


def _cleanup():
    for fn in list(_CLEANUPS):
        try:
            fn()
        except Exception:
            pass
    S._kill_leftovers()
    for p in list(_PROCS):
        _kill(p)
    for d in _DIRS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _on_sigterm(signum, frame):
    # ctest's timeout or a user's kill: run the atexit cleanup.
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)

_LIBC = None
try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    pass


def _pdeathsig():
    """preexec_fn: the child gets SIGKILL when this process dies, so a
    killed test leaves nothing running."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _kill(p):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGCONT)  # a frozen process cannot die of SIGTERM
        except OSError:
            pass
        p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    _PROCS.discard(p)


def popen(cmd, **kw):
    """subprocess.Popen with stdin closed and the death signal set; tracked
    so it is killed at exit."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    # setpriv sets the death signal and execs (same pid); not preexec_fn,
    # whose fork() runs grpcio's fork handlers, which can hang.
    setpriv = shutil.which("setpriv")
    if setpriv:
        cmd = [setpriv, "--pdeathsig", "KILL", "--"] + list(cmd)
    p = subprocess.Popen(cmd, **kw)
    _PROCS.add(p)
    return p


def workdir():
    """The temp dir of this test process (created once, removed at exit)."""
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = tempfile.mkdtemp(prefix="sat-prom-")
        _DIRS.append(_WORKDIR)
    return _WORKDIR


def subdir(name):
    d = os.path.join(workdir(), name)
    os.makedirs(d, exist_ok=True)
    return d


def wait_until(pred, timeout, interval=0.1, what="condition"):
    return S.wait_until(pred, timeout, interval=interval, what=what)


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "(%s)" % e
    return data[-n:].decode(errors="replace")


# ---- the simulator -------------------------------------------------------------

def pod(name, model, kv=0.0, namespace="llm", queue=0, variant=None, success_rate=None,
        engine=None):
    """One simulator pod (the body of POST /pods)."""
    row = {"namespace": namespace, "model": model, "pod": name, "kv": kv, "queue": queue}
    if variant is not None:
        row["variant"] = variant
    if success_rate is not None:
        row["successRate"] = success_rate
    if engine is not None:
        row["engine"] = engine
    return row


def slug(s):
    """s reduced to a pod-name-safe [a-z0-9-] string."""
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or "x"


def pods(n, model, kv=0.0, namespace="llm", prefix=None, start=1, **kw):
    """n pods <prefix><start>.. Pod names are unique per namespace in the
    simulator: prefix defaults to "<slug of the model>-"."""
    if prefix is None:
        prefix = slug(model) + "-"
    return [pod("%s%d" % (prefix, i), model, kv, namespace, **kw)
            for i in range(start, start + n)]


class SimError(AssertionError):
    pass


class Sim:
    """One vllm-sim process on 127.0.0.1:<port it picked>."""

    def __init__(self, name="sim"):
        self.dir = subdir(name)
        self.log = os.path.join(self.dir, "vllm-sim.log")
        self.proc = None
        self.port = None

    def start(self):
        errf = open(self.log, "ab")
        try:
            self.proc = popen([VLLM_SIM, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=errf, cwd=self.dir)
        finally:
            errf.close()
        line = self._first_line()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)\s*$", line)
        if not m:
            raise SimError("vllm-sim: unexpected first line %r\n%s" % (line, _tail(self.log)))
        self.port = int(m.group(1))
        # Keep draining stdout so the simulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _first_line(self):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + SIM_START_TIMEOUT
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise SimError("vllm-sim printed no address within %.0fs (exit %s): %r\n%s"
                               % (SIM_START_TIMEOUT, self.proc.poll(), buf, _tail(self.log)))
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                buf += chunk
        return buf.split(b"\n", 1)[0].decode(errors="replace")

    def _drain(self):
        try:
            while self.proc.stdout.read(4096):
                pass
        except (OSError, ValueError):
            pass

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def request(self, method, path, body=None):
        """(status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://%s%s" % (self.address, path), data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
                status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        text = raw.decode(errors="replace")
        if ctype.startswith("application/json"):
            return status, json.loads(text)
        return status, text

    def post(self, path, body=None, expect=200):
        status, doc = self.request("POST", path, body)
        if status != expect:
            raise SimError("POST %s %r -> %d %r" % (path, body, status, doc))
        return doc

    def add_pods(self, rows):
        return self.post("/pods", {"pods": list(rows)})

    def set(self, namespace="llm", model=None, pod=None, **values):
        """Set kv/queue/running/successRate (success_rate=...) of one pod
        or every pod of a model."""
        body = {"namespace": namespace}
        if model is not None:
            body["model"] = model
        if pod is not None:
            body["pod"] = pod
        if "success_rate" in values:
            values["successRate"] = values.pop("success_rate")
        body.update(values)
        return self.post("/set", body)

    def remove(self, namespace="llm", model=None, pod=None):
        body = {"namespace": namespace}
        if model is not None:
            body["model"] = model
        if pod is not None:
            body["pod"] = pod
        return self.post("/remove", body)

    def flow(self, model, queue, namespace="llm"):
        return self.post("/flow", {"namespace": namespace, "model": model, "queue": queue})

    def reset(self):
        return self.post("/reset")

    def state(self):
        status, doc = self.request("GET", "/state")
        assert status == 200, (status, doc)
        return doc

    def metrics_text(self):
        status, text = self.request("GET", "/metrics")
        assert status == 200, (status, text)
        return text

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill(self.proc)
        _PROCS.discard(self.proc)
        return self.proc.returncode


# ---- Prometheus ---------------------------------------------------------------------

class PromError(AssertionError):
    pass


class Prometheus:
    """One Prometheus scraping targets (host:port strings) every second.

    tls: None or {"cert": path, "key": path, "ca": path (what our own
    client trusts)}; basic_auth: None or (user, password): the web config
    then holds its bcrypt hash and our own client sends it.
    """

    def __init__(self, targets, name="prom", tls=None, basic_auth=None):
        self.targets = list(targets)
        self.dir = subdir(name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "prometheus.log")
        self.config = os.path.join(self.dir, "prometheus.yml")
        self.web_config = None
        self.tls = tls
        self.basic_auth = basic_auth
        self.port = S.free_port()
        self.proc = None
        self.starts = 0
        self._ctx = None
        if tls:
            self._ctx = ssl.create_default_context(cafile=tls["ca"])

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def _write_config(self):
        lines = ["global:",
                 "  scrape_interval: 1s",
                 "  evaluation_interval: 1s",
                 "scrape_configs:",
                 "  - job_name: vllm-sim",
                 "    honor_labels: true",
                 "    scrape_interval: 1s",
                 "    scrape_timeout: 1s",
                 "    static_configs:",
                 "      - targets: [%s]" % ", ".join("'%s'" % t for t in self.targets)]
        S.write_atomic(self.config, "\n".join(lines) + "\n")
        if self.tls or self.basic_auth:
            self.web_config = os.path.join(self.dir, "web.yml")
            web = []
            if self.tls:
                web += ["tls_server_config:",
                        "  cert_file: %s" % json.dumps(self.tls["cert"]),
                        "  key_file: %s" % json.dumps(self.tls["key"])]
            if self.basic_auth:
                user, password = self.basic_auth
                web += ["basic_auth_users:",
                        "  %s: %s" % (json.dumps(user), json.dumps(bcrypt_hash(password)))]
            S.write_atomic(self.web_config, "\n".join(web) + "\n")

    def start(self):
        """Start (again: same port, same data dir) and wait until ready."""
        if self.proc is not None and self.proc.poll() is None:
            raise PromError("prometheus already running")
        if self.starts == 0:
            self._write_config()
        cmd = [PROMETHEUS, "--config.file=" + self.config,
               "--storage.tsdb.path=" + self.data,
               "--web.listen-address=127.0.0.1:%d" % self.port,
               "--log.level=info"]
        if self.web_config:
            cmd.append("--web.config.file=" + self.web_config)
        errf = open(self.log, "ab")
        try:
            errf.write(("---- start %d: %s\n" % (self.starts + 1, " ".join(cmd))).encode())
            errf.flush()
            self.proc = popen(cmd, stdout=errf, stderr=subprocess.STDOUT, cwd=self.dir)
        finally:
            errf.close()
        self.starts += 1
        self.wait_ready()
        return self

    def wait_ready(self, timeout=PROM_START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise PromError("prometheus exited with %s\n%s" % (self.proc.returncode,
                                                                   self.log_tail()))
            try:
                status, _ = self._get("/-/ready")
                if status == 200:
                    return
                last = "HTTP %d" % status
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                raise PromError("prometheus not ready within %.0fs (%s)\n%s"
                                % (timeout, last, self.log_tail()))
            time.sleep(0.1)

    def stop(self, timeout=PROM_STOP_TIMEOUT):
        """SIGTERM and wait (bounded; killed after that). The port and the
        data dir are kept for restart()."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(self.proc)
        _PROCS.discard(self.proc)
        return self.proc.returncode

    def restart(self):
        self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def freeze(self):
        """SIGSTOP: the port still accepts connections, nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self, n=4000):
        return _tail(self.log, n)

    # -- HTTP --

    def _request(self, method, path, body=None, headers=None):
        conn_cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
        kw = {"timeout": HTTP_TIMEOUT}
        if self.tls:
            kw["context"] = self._ctx
        conn = conn_cls("127.0.0.1", self.port, **kw)
        h = dict(headers or {})
        if self.basic_auth:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % self.basic_auth).encode()).decode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def _get(self, path):
        return self._request("GET", path)

    def query(self, expr):
        """The result list of an instant query (POST /api/v1/query)."""
        body = urllib.parse.urlencode({"query": expr})
        status, raw = self._request("POST", "/api/v1/query", body,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        doc = json.loads(raw.decode())
        if status != 200 or doc.get("status") != "success":
            raise PromError("query %r -> HTTP %d %r" % (expr, status, doc))
        return doc["data"]["result"]

    def values(self, expr):
        """{frozenset(labels.items()): float} of an instant query."""
        return {frozenset(r["metric"].items()): float(r["value"][1]) for r in self.query(expr)}

    def value(self, expr):
        """The single value of expr, or None when it has no series."""
        res = self.query(expr)
        if not res:
            return None
        assert len(res) == 1, "query %r: %d series" % (expr, len(res))
        return float(res[0]["value"][1])

    def wait_value(self, expr, want, timeout=SCRAPE_TIMEOUT):
        """Wait until value(expr) == want (None: no series)."""
        def check():
            v = self.value(expr)
            return (v == want) or None
        try:
            wait_until(check, timeout, 0.2, "%s == %r in prometheus" % (expr, want))
        except AssertionError as e:
            raise AssertionError("%s (last value %r)" % (e, self.value(expr)))

    def wait_count(self, expr, n, timeout=SCRAPE_TIMEOUT):
        """Wait until expr has exactly n series."""
        def check():
            return len(self.query(expr)) == n or None
        wait_until(check, timeout, 0.2, "%d series of %s" % (n, expr))

    def self_metrics(self):
        """Prometheus' own /metrics text (not a query: costs no query)."""
        status, raw = self._get("/metrics")
        assert status == 200, status
        return raw.decode()

    def query_requests(self):
        """prometheus_http_requests_total{handler="/api/v1/query"}, summed
        over the codes, read from /metrics."""
        total = 0.0
        for line in self.self_metrics().splitlines():
            if line.startswith("prometheus_http_requests_total{") and \
                    'handler="/api/v1/query"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)


def kv_expr(model, namespace="llm", pod=None):
    """The kv gauge of one model (and pod), with label values escaped for
    a PromQL string literal."""
    sel = 'namespace="%s",model_name="%s"' % (promql_str(namespace), promql_str(model))
    if pod is not None:
        sel += ',pod="%s"' % promql_str(pod)
    return "vllm:kv_cache_usage_perc{%s}" % sel


def promql_str(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---- a proxy in front of Prometheus ----------------------------------------------------

class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _handle(self):
        px = self.server.proxy
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with px.lock:
            px.requests += 1
            px.seen.append({"method": self.command, "path": self.path,
                            "headers": dict(self.headers.items()), "body": body})
            del px.seen[:-50]
            delay, token = px.delay, px.token
        if delay > 0:
            time.sleep(delay)
        if token is not None and self.headers.get("Authorization") != "Bearer " + token:
            with px.lock:
                px.refused += 1
            self._reply(401, b"Unauthorized\n", "text/plain; charset=utf-8")
            return
        try:
            status, data, ctype, cenc = px.forward(self.command, self.path, body, self.headers)
        except (OSError, http.client.HTTPException) as e:
            self._reply(502, ("proxy: %s\n" % e).encode(), "text/plain; charset=utf-8")
            return
        self._reply(status, data, ctype, cenc)

    def _reply(self, status, data, ctype, cenc=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if cenc:
                self.send_header("Content-Encoding", cenc)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (timeout)

    do_GET = _handle
    do_POST = _handle


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Proxy:
    """An HTTP proxy on 127.0.0.1:<free port> forwarding to upstream (a
    Prometheus). delay: seconds to wait before answering each request;
    token: when set, requests without "Authorization: Bearer <token>" get
    401. Both may be changed while it runs. `seen` holds the last requests
    (method, path, headers, body)."""

    def __init__(self, upstream, delay=0.0, token=None):
        self.upstream = upstream
        self.delay = delay
        self.token = token
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        self.seen = []
        self.httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self.httpd.proxy = self
        self.port = self.httpd.server_address[1]
        self._t = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                   daemon=True)
        self._t.start()
        _CLEANUPS.append(self.close)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def forward(self, method, path, body, headers):
        up = self.upstream
        conn_cls = http.client.HTTPSConnection if up.tls else http.client.HTTPConnection
        kw = {"timeout": HTTP_TIMEOUT}
        if up.tls:
            kw["context"] = up._ctx
        conn = conn_cls("127.0.0.1", up.port, **kw)
        h = {k: v for k, v in headers.items()
             if k.lower() in ("content-type", "accept", "accept-encoding", "user-agent")}
        try:
            conn.request(method, path, body=body or None, headers=h)
            r = conn.getresponse()
            return (r.status, r.read(), r.headers.get("Content-Type", "application/json"),
                    r.headers.get("Content-Encoding"))
        finally:
            conn.close()

    def set(self, delay=None, token=None):
        with self.lock:
            if delay is not None:
                self.delay = delay
            if token is not None:
                self.token = token

    def counts(self):
        with self.lock:
            return self.requests, self.refused

    def last(self):
        with self.lock:
            return self.seen[-1] if self.seen else None

    def close(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


# ---- TLS and basic auth material ----------------------------------------------------------

def make_tls(name="tls"):
    """A CA and a server certificate for IP 127.0.0.1 (P-256 keys, one
    day), made with openssl in the temp dir. {"ca", "cert", "key",
    "other_ca"} paths; other_ca is a second CA that did not sign it."""
    d = subdir(name)

    def run(*args):
        p = subprocess.run([OPENSSL] + list(args), cwd=d, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        run("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "1",
            "-subj", "/CN=saturation-scaler test " + ca,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", "2", "-days", "1", "-out", "server.pem", "-extfile", "server.ext")
    return {"ca": os.path.join(d, "ca.pem"), "cert": os.path.join(d, "server.pem"),
            "key": os.path.join(d, "server.key"), "other_ca": os.path.join(d, "other-ca.pem")}


def bcrypt_hash(password):
    """A bcrypt hash (for Prometheus' basic_auth_users), from libxcrypt
    through Python's crypt module (deprecated, still in 3.11; Debian's
    libcrypt1 does bcrypt). Cost 10 keeps Prometheus' check fast."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    h = crypt.crypt(password, "$2b$10$" + _bcrypt_salt())
    if not h or not h.startswith("$2b$"):
        raise AssertionError("this libcrypt cannot make bcrypt hashes: %r" % h)
    return h


def _bcrypt_salt():
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    raw = os.urandom(22)
    # 22 characters; the last one carries only 2 bits: keep it in ".Oeu".
    s = "".join(alphabet[b % 64] for b in raw[:21])
    return s + ".Oeu"[raw[21] % 4]


# ---- the scaler --------------------------------------------------------------------------

def write_config(doc, name="config.json"):
    """Write a --config file into the temp dir; its path."""
    path = os.path.join(workdir(), name)
    S.write_json_atomic(path, doc)
    return path


def scaler(prom_url=None, config=None, refresh="1s", args=(), env=None, start=True):
    """A saturation-scaler on Prometheus (scaler.Server): --prometheus-url
    and/or --config, --refresh-interval. Started (and healthy) unless
    start is False."""
    a = ["--refresh-interval", refresh]
    if prom_url is not None:
        a += ["--prometheus-url", prom_url]
    if config is not None:
        a += ["--config", config]
    a += list(args)
    srv = S.Server(None, args=a, env=env)
    if start:
        srv.start()
    return srv


def timed(fn, *args, **kw):
    """(seconds, result or the grpc.RpcError raised)."""
    t0 = time.monotonic()
    try:
        r = fn(*args, **kw)
    except S.grpc.RpcError as e:
        r = e
    return time.monotonic() - t0, r


def check_tools():
    """Fail early, with a clear message, when a tool is missing."""
    missing = [p for p in (PROMETHEUS, VLLM_SIM, OPENSSL, S.BINARY) if not os.path.exists(p)]
    if missing:
        raise AssertionError("missing: %s (SAT_BINARY/SAT_VLLM_SIM point at the build; "
                             "apt-get install prometheus openssl)" % ", ".join(missing))
