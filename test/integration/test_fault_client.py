#!/usr/bin/python3
"""test_fault_client: misbehaving gRPC clients.

A scaler on a --metrics-file (model ibm/granite-13b, 2 pods: desired 2,
active), and for the last scenario a second scaler on a fake Prometheus
(faultstack.FakeProm). All through the scenarios a background loop on a
channel of its own (GetMetrics, IsActive, GetMetricSpec, health Check)
checks that the server keeps answering, right and each call within 100 ms
(300 ms for a sanitized binary), at least 200 calls per scenario: no worker
thread stalls.

- garbage messages: undecodable bytes as the request of GetMetrics,
  IsActive, GetMetricSpec, StreamIsActive and Health/Check (generic calls
  with raw bytes) are INVALID_ARGUMENT "...: malformed message";
- garbage connections: random bytes, an HTTP/1.1 request, the HTTP/2
  preface then random bytes (each closed by the server at once), a
  half-sent preface and a bogus HEADERS frame left open, 200 connections
  reset at once: the server keeps serving;
- metadata limits: 64 keys with 1024-byte values are served; 65 keys or a
  1025-byte value are INVALID_ARGUMENT naming the limit (and the key) on
  GetMetrics, IsActive and StreamIsActive, while GetMetricSpec (which
  validates metricName only) answers OK; requests just under the 1 MiB
  receive limit are answered (INVALID_ARGUMENT naming the field, or OK for
  a huge unknown key), just over it RESOURCE_EXHAUSTED; gRPC header
  metadata far over the header limit is RESOURCE_EXHAUSTED;
- 10k streams then the client vanishes: a child process opens 10,000
  StreamIsActive on one channel (the server's saturation_scaler_open_streams
  gauge reaches 10000) and is killed with SIGKILL: the gauge is back to 0
  within 5 s;
- disconnect mid-call: on a scaler whose Prometheus answers late (first
  round: the parked calls are then answered by the next fetch, after their
  client is gone, well before the 6 s endpoint timeout) or never (second
  round: they expire, or the fetch fails, at the timeout), a child process
  starts 100 GetMetrics, 100 IsActive (parked:
  saturation_scaler_parked_requests reaches about 200) and 100
  StreamIsActive for models not fetched yet, and is killed with SIGKILL:
  the streams are freed at once and the parked calls let go (both gauges
  back to 0), and that scaler recovers and exits cleanly;
- finally each scaler exits 0 on SIGTERM. With SAT_ASAN_BINARY (an ASan
  build; fault.cmake sets it in a -DSAT_SANITIZE=ON build) every scaler
  here is that binary, and its stderr must hold no LeakSanitizer,
  AddressSanitizer or UBSan report.
"""
import os
import random
import socket
import struct
import sys
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultstack as F  # noqa: E402
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
METHOD = "/" + S.SERVICE + "/"
OPEN_STREAMS = "saturation_scaler_open_streams"
PARKED = "saturation_scaler_parked_requests"

PROBE_BOUND_S = F.probe_bound()  # 100 ms (x3 for a sanitized binary)
PROBE_MIN_CALLS = 200
PHASE_MIN_S = 1.5
N_STREAMS = 10000
STREAMS_OPEN_TIMEOUT = 60.0
FREED_TIMEOUT = 5.0
N_PARK = 100                 # models: x3 calls (GetMetrics, IsActive, StreamIsActive)
PARK_TIMEOUT_S = 6.0         # the fake endpoint's timeout in the second scaler
PARK_DELAY_S = 0.8           # round 1: the fake answers this late (a fetch: 2 phases)
PUBLISH_BOUND_S = 5.0        # round 1: parked calls answered by a fetch, not expired
CLOSE_TIMEOUT = 5.0          # the server closes a garbage connection
MAX_MSG = 1 << 20

TMP = None
SRV = None
C = None
PROBER = None
R = ref()


def setup():
    global TMP, SRV, C, PROBER
    print("  binary: %s%s" % (F.binary(), " (sanitized: leak checks on)" if F.sanitized()
                              else " (SAT_ASAN_BINARY not set: exit code checked, no leak check)"))
    TMP = S.tempdir()
    path = TMP.join("metrics.json")
    S.write_json_atomic(path, S.metrics(S.pods(2, 0.5)))
    SRV = S.Server(path, args=F.extra_server_args(), binary=F.binary(),
                   env=F.server_env()).start()
    C = SRV.client()
    assert C.desired(R) == 2
    PROBER = F.Prober(SRV.address, R, desired=2, active=True).start()


def teardown():
    try:
        if PROBER is not None:
            PROBER.stop()
        if C is not None:
            C.close()
        if SRV is not None and SRV.proc is not None and SRV.proc.poll() is None:
            F.clean_exit(SRV)
    finally:
        if TMP is not None:
            TMP.__exit__(None, None, None)


class phase:
    """A prober phase of at least PHASE_MIN_S; on exit, its calls are
    checked (right answers, each under 100 ms, at least 200)."""

    def __init__(self, name, prober=None, min_calls=PROBE_MIN_CALLS):
        self.name, self.prober, self.min_calls = name, prober or PROBER, min_calls

    def __enter__(self):
        self.t0 = time.monotonic()
        self.prober.phase(self.name)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.prober.phase("after-" + self.name)
            return False
        left = PHASE_MIN_S - (time.monotonic() - self.t0)
        if left > 0:
            time.sleep(left)
        self.prober.phase("after-" + self.name)
        n, worst = self.prober.check(self.name, PROBE_BOUND_S, self.min_calls)
        print("  %s: other calls meanwhile: %d, max %.1f ms" % (self.name, n, worst * 1000))
        return False


def still_fine(c=None, r=R, want=2):
    c = c or C
    assert c.desired(r) == want
    assert c.is_active(r) is True
    assert c.health_check("") == S.SERVING


# ---- garbage -------------------------------------------------------------------

_rnd = random.Random(20240611)
GARBAGE = [
    ("overlong varint", b"\xff" * 16),
    ("length past the end", b"\x0a\x10abc"),
    ("wire type 7", b"\x0f\x00"),
    ("cut tag", b"\x80"),
    ("cut nested field", b"\x12\x05\x0a\x03"),
    ("4 KiB of random bytes", bytes(_rnd.getrandbits(8) for _ in range(4096))),
]


def test_garbage_messages():
    with phase("garbage-messages"):
        for what, payload in GARBAGE:
            for m, msg in (("GetMetrics", "GetMetricsRequest: malformed message"),
                           ("IsActive", "ScaledObjectRef: malformed message"),
                           ("GetMetricSpec", "ScaledObjectRef: malformed message")):
                e = S.expect_rpc_error(INVALID, C.call_unary_raw, METHOD + m, payload)
                assert e.details() == msg, (what, m, e.details())
            e = S.expect_rpc_error(INVALID, C.call_stream_raw, METHOD + "StreamIsActive",
                                   payload)
            assert e.details() == "ScaledObjectRef: malformed message", (what, e.details())
            e = S.expect_rpc_error(INVALID, C.call_unary_raw, "/grpc.health.v1.Health/Check",
                                   payload)
            assert e.details() == "HealthCheckRequest: malformed message", (what, e.details())
        # An empty message decodes (every field absent): the usual answers.
        e = S.expect_rpc_error(INVALID, C.call_unary_raw, METHOD + "GetMetrics", b"")
        assert "scaledObjectRef: required" in e.details(), e.details()
        e = S.expect_rpc_error(INVALID, C.call_unary_raw, METHOD + "IsActive", b"")
        assert "modelID: required" in e.details(), e.details()
        spec = S.es_pb2.GetMetricSpecResponse.FromString(
            C.call_unary_raw(METHOD + "GetMetricSpec", b""))
        assert spec.metricSpecs[0].metricName == S.DEFAULT_METRIC
        still_fine()


def _drain_until_closed(sock, timeout):
    """Read until the peer closes; True when it did within timeout."""
    sock.settimeout(0.2)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_garbage_connections():
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    rnd = random.Random(7)
    closed_at_once = [
        ("64 KiB of random bytes", bytes(rnd.getrandbits(8) for _ in range(65536))),
        ("an HTTP/1.1 request", b"GET /metrics HTTP/1.1\r\nHost: scaler\r\n\r\n"),
        ("the HTTP/2 preface, then random bytes",
         preface + bytes(rnd.getrandbits(8) for _ in range(4096))),
    ]
    left_open = [
        ("half a preface", preface[:10]),
        ("a HEADERS frame of junk", preface + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
         + b"\x00\x00\x10\x01\x05\x00\x00\x00\x01" + b"x" * 16),
    ]
    with phase("garbage-connections"):
        for what, data in closed_at_once:
            with socket.create_connection(("127.0.0.1", SRV.port), timeout=5) as s:
                try:
                    s.sendall(data)
                except OSError:
                    pass  # closed while we were still sending: fine
                assert _drain_until_closed(s, CLOSE_TIMEOUT), \
                    "%s: the server kept the connection open %.0fs" % (what, CLOSE_TIMEOUT)
        held = []
        try:
            for what, data in left_open:
                s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
                held.append(s)
                s.sendall(data)
            # 200 connections reset at once (SO_LINGER 0: RST, no FIN).
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            still_fine()
            time.sleep(0.5)  # the prober keeps going with these held open
            still_fine()
        finally:
            for s in held:
                s.close()
        still_fine()


# ---- metadata limits ----------------------------------------------------------------

def meta_ref(n_keys, value_len):
    """modelID plus n_keys-1 unknown keys k00.. with value_len-byte values."""
    md = {"k%02d" % i: "v" * value_len for i in range(n_keys - 1)}
    return ref(meta=md)


def expect_invalid_everywhere(r, *words):
    """INVALID_ARGUMENT with every word on GetMetrics, IsActive and
    StreamIsActive; GetMetricSpec answers OK (it validates metricName
    only)."""
    for fn in (C.get_metrics, C.is_active):
        e = S.expect_rpc_error(INVALID, fn, r)
        for w in words:
            assert w in e.details(), (w, e.details())
    end, skipped = C.stream_is_active(r, timeout=10).wait_end(10)
    assert end.code == INVALID and all(w in end.details for w in words), (end, skipped)
    assert C.get_metric_spec(r)[0].metricName == S.DEFAULT_METRIC


def test_metadata_limits():
    with phase("metadata-limits"):
        # The largest accepted: 64 keys, every unknown value 1024 bytes.
        big = meta_ref(64, 1024)
        assert len(big.scalerMetadata) == 64
        assert C.desired(big) == 2
        assert C.is_active(big) is True
        assert C.get_metric_spec(big)[0].targetSize == 1
        st = C.stream_is_active(big, timeout=10)
        st.expect(True, 5)
        st.cancel()
        # One key more, one byte more.
        expect_invalid_everywhere(meta_ref(65, 1), "too many metadata keys: 65 (max 64)")
        md = {"k%02d" % i: "v" * 1024 for i in range(63)}
        md["k07"] = "v" * 1025
        expect_invalid_everywhere(ref(meta=md), "k07", "value longer than 1024 bytes")
        still_fine()


def test_request_size_limit():
    with phase("request-size"):
        under = MAX_MSG - 256
        over = MAX_MSG + 16
        # Just under 1 MiB: decoded and answered.
        name_ref = S.es_pb2.ScaledObjectRef(name="a" * under, namespace=S.NS,
                                            scalerMetadata={"modelID": S.MODEL})
        assert len(name_ref.SerializeToString()) < MAX_MSG
        expect_invalid_everywhere(name_ref, "name:", "not a valid object name")
        value_ref = ref(meta={"huge": "v" * under})
        expect_invalid_everywhere(value_ref, "huge", "value longer than 1024 bytes")
        # A huge unknown key: keys have no limit of their own; ignored.
        key_ref = ref(meta={"k" * under: "v"})
        assert len(key_ref.SerializeToString()) < MAX_MSG
        assert C.desired(key_ref) == 2
        assert C.is_active(key_ref) is True
        # Just over: refused by the transport, on every method.
        for r in (S.es_pb2.ScaledObjectRef(name="a" * over, namespace=S.NS),
                  ref(meta={"k" * over: "v"})):
            assert len(r.SerializeToString()) > MAX_MSG
            for fn in (C.get_metrics, C.is_active, C.get_metric_spec):
                e = S.expect_rpc_error(EXHAUSTED, fn, r)
                assert "larger than max" in e.details(), e.details()
            end, _ = C.stream_is_active(r, timeout=10).wait_end(10)
            assert end.code == EXHAUSTED, end
        # gRPC header metadata: a few KiB pass. Far over the limit the call
        # is refused: grpc-core (1.51) treats it as an error of the whole
        # connection, so each try gets a channel of its own, and the
        # client may see the connection close before the status.
        req = S.es_pb2.GetMetricsRequest(scaledObjectRef=R)
        resp = C._get_metrics(req, timeout=5, metadata=[("x-pad", "p" * 4096)])
        assert S.check_metric_values(resp) == 2
        for md in ([("x-pad", "p" * (64 << 10))], [("x-pad", "p" * MAX_MSG)],
                   [("x-k%d" % i, "v" * 100) for i in range(1000)]):
            with SRV.client() as c:
                try:
                    c._get_metrics(req, timeout=5, metadata=md)
                    raise AssertionError("%d bytes of header metadata accepted"
                                         % sum(len(k) + len(v) for k, v in md))
                except grpc.RpcError as e:
                    assert e.code() in (EXHAUSTED, UNAVAILABLE), S.describe(e)
        still_fine()


# ---- streams that vanish ---------------------------------------------------------------

def test_10k_streams_then_client_vanishes():
    base = F.gauge(SRV, OPEN_STREAMS)
    assert base == 0, base
    child = None
    try:
        with phase("10k-streams-opening"):
            t0 = time.monotonic()
            child = F.Child("streams", SRV.address, N_STREAMS, S.MODEL, S.NS)
            F.wait_gauge(SRV, OPEN_STREAMS, N_STREAMS, STREAMS_OPEN_TIMEOUT)
            opened = time.monotonic() - t0
            still_fine()
        rss = SRV.rss_bytes()
        with phase("10k-streams-vanishing"):
            t0 = time.monotonic()
            child.kill()  # SIGKILL: the connection goes away with its 10k streams
            freed = F.wait_gauge(SRV, OPEN_STREAMS, 0, FREED_TIMEOUT)
            still_fine()
        print("  %d streams open after %.2fs (server RSS %d MiB); freed %.2fs after SIGKILL"
              % (N_STREAMS, opened, rss >> 20, freed))
    finally:
        if child is not None:
            child.kill()
    # A new stream works as before.
    st = C.stream_is_active(R, timeout=10)
    st.expect(True, 5)
    st.cancel()
    F.wait_gauge(SRV, OPEN_STREAMS, 0, FREED_TIMEOUT)


# ---- clients that disconnect mid-call --------------------------------------------------

def test_disconnect_mid_call():
    fake = F.FakeProm(F.rows("m", 2, 0.5))
    good = F.FakeProm(F.rows("g", 3, 0.5))
    srv = prober = c = None
    child = None
    try:
        cfg = P.write_config({"prometheus": {
            "default": {"url": fake.url, "timeout": "%ds" % PARK_TIMEOUT_S},
            "good": {"url": good.url, "timeout": "2s"}}}, name="fault-client.json")
        srv = S.Server(None, args=["--prometheus-url", fake.url, "--config", cfg,
                                   "--refresh-interval", "1s"] + F.extra_server_args(),
                       binary=F.binary(), env=F.server_env()).start()
        c = srv.client()
        g = ref("g", name="g", prometheus="good")
        S.wait_until(lambda: c.desired(g) == 3, 10, 0.1, "desired 3 for g")
        S.wait_until(lambda: c.desired(ref("m", name="m")) == 2, 10, 0.1, "desired 2 for m")
        prober = F.Prober(srv.address, g, desired=3, active=True).start()
        # Round 1: every query answers after 0.8s, so a fetch (kv and queue
        # queries, then the flow-control query for models without pods)
        # takes 1.6s. The fetch after the child's calls arrive covers
        # them and publishes within about 3.2s, before the 6s timeout: the
        # parked calls are answered, to a client that is gone.
        # Round 2: no query ever answers: the parked calls expire, or the
        # fetch fails, after the 6s timeout.
        for rnd, (mode, delay) in enumerate((("delay", PARK_DELAY_S), ("hang", 0.0)), 1):
            name = "disconnect-mid-call-%s" % mode
            with phase(name, prober):
                fake.set(mode, delay=delay)
                t0 = time.monotonic()
                child = F.Child("park", srv.address, N_PARK, "park%d" % rnd, S.NS)
                # (a few of round 1 may already be answered by the first fetch)
                S.wait_until(lambda: F.gauge(srv, PARKED) >= 2 * N_PARK - 10, 5, 0.02,
                             "about %d parked calls" % (2 * N_PARK))
                parked = F.gauge(srv, PARKED)
                F.wait_gauge(srv, OPEN_STREAMS, N_PARK, 5)
                parked_after = time.monotonic() - t0
                child.kill()
                t_kill = time.monotonic()
                child = None
                F.wait_gauge(srv, OPEN_STREAMS, 0, FREED_TIMEOUT)
                streams_freed = time.monotonic() - t_kill
                F.wait_gauge(srv, PARKED, 0, PARK_TIMEOUT_S + 2)
                parks_freed = time.monotonic() - t_kill
                if mode == "delay":
                    assert parks_freed < PUBLISH_BOUND_S, \
                        "round 1: parked calls let go after %.2fs: expired, not answered" \
                        % parks_freed
                assert c.get_metric_spec(ref("park1-0"))[0].targetSize == 1
            print("  %s: %d calls parked and %d streams open %.2fs after the start; after "
                  "SIGKILL: streams freed in %.2fs, parked calls let go in %.2fs"
                  % (mode, parked, N_PARK, parked_after, streams_freed, parks_freed))
        # Recovery, then a clean exit of this scaler.
        # (a fetch started before the switch may still hang: up to 2 timeouts)
        fake.set("good")
        S.wait_until(lambda: c.desired(ref("m", name="m")) == 2 and
                     c.desired(ref("park2-0", name="x")) == 1,  # no series: minReplicas
                     2 * PARK_TIMEOUT_S + 4, 0.1, "recovery: m 2, park2-0 1")
        prober.check("after-" + name, PROBE_BOUND_S, 1)
        prober.stop()
        F.clean_exit(srv)
    finally:
        if child is not None:
            child.kill()
        if prober is not None:
            prober.stop()
        if c is not None:
            c.close()
        if srv is not None:
            srv.kill()
        fake.close()
        good.close()


def test_clean_exit():
    # Between the scenarios too: every answer right, every call fast.
    for name in PROBER.names:
        if name.startswith("after-") and PROBER.stats(name)["n"]:
            PROBER.check(name, PROBE_BOUND_S, 1)
    PROBER.stop()
    F.clean_exit(SRV)


def main():
    S.run_tests([test_garbage_messages, test_garbage_connections, test_metadata_limits,
                 test_request_size_limit, test_10k_streams_then_client_vanishes,
                 test_disconnect_mid_call, test_clean_exit],
                setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
