#!/usr/bin/python3
"""test_ops: the operational surface of `saturation-scaler serve`.

- gRPC health (Check and Watch) for "" and externalscaler.ExternalScaler;
- server reflection over v1 and v1alpha, with a reflection client of our
  own, down to a GetMetrics call made with message classes built from the
  returned descriptors alone (no generated externalscaler_pb2);
- configuration through SATURATION_SCALER_* environment variables;
- SIGTERM: with 100 open streams every stream ends with status OK, health
  Watch sees NOT_SERVING (or ends OK), and the process exits 0 within the
  grace period.
"""
import os
import signal
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

FOUR_SERVICES = {S.SERVICE, S.HEALTH_SERVICE, S.REFLECTION_V1, S.REFLECTION_V1ALPHA}

SRV = None
C = None
TMP = None


def setup():
    global SRV, C, TMP
    TMP = S.tempdir()
    path = TMP.join("metrics.json")
    S.write_json_atomic(path, S.metrics(S.pods(2, 0.95)))
    SRV = S.Server(path).start()
    C = SRV.client()


def teardown():
    if C is not None:
        C.close()
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "shared server exited with %s\n%s" % (rc, SRV.stderr_text())
    if TMP is not None:
        TMP.__exit__(None, None, None)


# ---- health ------------------------------------------------------------------------

def test_health_check():
    assert C.health_check("") == S.SERVING
    assert C.health_check(S.SERVICE) == S.SERVING
    S.expect_rpc_error(grpc.StatusCode.NOT_FOUND, C.health_check, "no.such.Service")


def test_health_watch():
    for service in ("", S.SERVICE):
        w = C.health_watch(service, timeout=30)
        try:
            w.expect(S.SERVING, 5)
            w.expect_quiet(0.5)
        finally:
            w.cancel()


def test_health_watch_unknown_service():
    # health.proto: an unknown service gets SERVICE_UNKNOWN and the call
    # stays open (the service may appear later).
    w = C.health_watch("no.such.Service", timeout=30)
    try:
        w.expect(S.health_pb2.HealthCheckResponse.SERVICE_UNKNOWN, 5)
        w.expect_quiet(0.5)
    finally:
        w.cancel()


# ---- reflection --------------------------------------------------------------------------

class Reflection:
    """A reflection client over v1 or v1alpha (the messages are identical
    apart from their package)."""

    def __init__(self, channel, pb2, service):
        self.pb2 = pb2
        self._info = channel.stream_stream(
            "/%s/ServerReflectionInfo" % service,
            request_serializer=pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=pb2.ServerReflectionResponse.FromString)

    def ask(self, *requests):
        """Send requests on one stream, half-close, return the responses."""
        reqs = [self.pb2.ServerReflectionRequest(**r) for r in requests]
        resps = list(self._info(iter(reqs), timeout=S.RPC_TIMEOUT))
        assert len(resps) == len(reqs), "%d requests, %d responses" % (len(reqs), len(resps))
        return resps

    def list_services(self):
        (r,) = self.ask({"list_services": "*"})
        assert r.WhichOneof("message_response") == "list_services_response", r
        return [s.name for s in r.list_services_response.service]

    def file_containing_symbol(self, symbol):
        """The serialized FileDescriptorProtos."""
        (r,) = self.ask({"file_containing_symbol": symbol})
        assert r.WhichOneof("message_response") == "file_descriptor_response", r
        return list(r.file_descriptor_response.file_descriptor_proto)


def reflections():
    return [("v1", Reflection(C.channel, S.refl_v1_pb2, S.REFLECTION_V1)),
            ("v1alpha", Reflection(C.channel, S.refl_v1alpha_pb2, S.REFLECTION_V1ALPHA))]


def test_reflection_list_services():
    for version, rc in reflections():
        names = set(rc.list_services())
        assert FOUR_SERVICES <= names, "%s: %s" % (version, sorted(names))


def test_reflection_file_containing_symbol():
    for version, rc in reflections():
        raw = rc.file_containing_symbol(S.SERVICE)
        assert raw, version
        files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in raw]
        mine = [f for f in files if f.package == "externalscaler"]
        assert mine, "%s: no file of package externalscaler in %s" % (version, [f.name for f in files])
        svcs = {s.name: s for f in mine for s in f.service}
        assert "ExternalScaler" in svcs, version
        methods = {m.name for m in svcs["ExternalScaler"].method}
        assert {"IsActive", "StreamIsActive", "GetMetricSpec", "GetMetrics"} <= methods, methods
        for sym in (S.HEALTH_SERVICE, "externalscaler.GetMetricsRequest"):
            assert rc.file_containing_symbol(sym), "%s: %s" % (version, sym)


def test_reflection_several_requests_one_stream():
    # grpcurl asks several questions on one stream.
    for version, rc in reflections():
        resps = rc.ask({"list_services": "*"}, {"file_containing_symbol": S.SERVICE},
                       {"file_containing_symbol": "no.such.Symbol"})
        kinds = [r.WhichOneof("message_response") for r in resps]
        assert kinds == ["list_services_response", "file_descriptor_response", "error_response"], \
            "%s: %s" % (version, kinds)
        assert resps[2].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0], resps[2]


def build_pool(raw_files):
    """A DescriptorPool holding the given serialized files (added in
    dependency order, whatever order they came in)."""
    pool = descriptor_pool.DescriptorPool()
    pending = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in raw_files]
    added = set()
    while pending:
        ready = [f for f in pending if all(d in added for d in f.dependency)]
        assert ready, "unresolvable dependencies: %s" % [(f.name, list(f.dependency)) for f in pending]
        for f in ready:
            pool.Add(f)
            added.add(f.name)
            pending.remove(f)
    return pool


def message_class(pool, desc):
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def test_reflection_call_from_descriptors():
    # Everything below comes from the server's descriptors: no es_pb2.
    for version, rc in reflections():
        pool = build_pool(rc.file_containing_symbol(S.SERVICE))
        svc = pool.FindServiceByName(S.SERVICE)
        method = svc.methods_by_name["GetMetrics"]
        Req = message_class(pool, method.input_type)
        Resp = message_class(pool, method.output_type)
        req = Req(metricName="saturation-desired-replicas")
        req.scaledObjectRef.name = "so"
        req.scaledObjectRef.namespace = S.NS
        req.scaledObjectRef.scalerMetadata["modelID"] = S.MODEL
        call = C.channel.unary_unary("/%s/%s" % (svc.full_name, method.name),
                                     request_serializer=Req.SerializeToString,
                                     response_deserializer=Resp.FromString)
        resp = call(req, timeout=S.RPC_TIMEOUT)
        assert len(resp.metricValues) == 1, "%s: %s" % (version, resp)
        mv = resp.metricValues[0]
        assert mv.metricValue == 3 and mv.metricValueFloat == 3.0, "%s: %s" % (version, mv)


# ---- configuration --------------------------------------------------------------------------

def test_env_vars():
    # --listen and --metrics-file given as SATURATION_SCALER_* variables.
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(1, 0.95)))
        with S.Server(path, via_env=True, env={"SATURATION_SCALER_WORKERS": "2"}) as srv, \
                srv.client() as c:
            assert c.desired(ref()) == 2
            assert c.is_active(ref()) is True
            assert srv.stop() == 0


def test_unknown_flag_fails_fast():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics())
        srv = S.Server(path, args=["--no-such-flag"])
        try:
            srv.start(wait=False)
            rc = srv.wait_exit(5)
            assert rc != 0, "an unknown flag must fail"
            assert "no-such-flag" in srv.stderr_text(), srv.stderr_text()
        finally:
            srv.kill()


# ---- shutdown ------------------------------------------------------------------------------------

GRACE = 5.0


def test_sigterm_with_open_streams():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(2, 0.5)))
        with S.Server(path, args=["--shutdown-grace", "%ds" % GRACE]) as srv, srv.client() as c:
            streams = [c.stream_is_active(ref(), timeout=60) for _ in range(100)]
            watch = c.health_watch("", timeout=60)
            try:
                for st in streams:
                    st.expect(True, 10)       # every stream is open and served
                watch.expect(S.SERVING, 5)
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                for i, st in enumerate(streams):
                    end, _ = st.wait_end(GRACE + 2)
                    assert end.code == grpc.StatusCode.OK, "stream %d ended with %r" % (i, end)
                end, seen = watch.wait_end(GRACE + 2)
                assert S.NOT_SERVING in seen or end.code == grpc.StatusCode.OK, \
                    "health Watch saw %r and ended with %r" % (seen, end)
                rc = srv.wait_exit(GRACE + 2)
                dt = time.monotonic() - t0
                print("  SIGTERM -> exit %d after %.2fs with 100 streams" % (rc, dt))
                assert rc == 0, "exit code %d\n%s" % (rc, srv.stderr_text())
                assert dt < GRACE, "exit took %.2fs, grace %.0fs" % (dt, GRACE)
            finally:
                for st in streams + [watch]:
                    st.cancel()


def test_sigterm_idle():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(1, 0.5)))
        with S.Server(path, args=["--shutdown-grace", "10s"]) as srv:
            t0 = time.monotonic()
            rc = srv.stop(timeout=12)
            dt = time.monotonic() - t0
            assert rc == 0, "exit code %d" % rc
            assert dt < 10, "idle shutdown took %.2fs" % dt


def test_sigterm_idle_connection():
    # KEDA keeps one connection open between calls: SIGTERM with such an
    # idle connection must still exit 0 within the grace period.
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        S.write_json_atomic(path, S.metrics(S.pods(1, 0.5)))
        with S.Server(path, args=["--shutdown-grace", "10s"]) as srv, srv.client() as c:
            assert c.desired(ref()) == 1      # the connection is up and idle now
            t0 = time.monotonic()
            rc = srv.stop(timeout=12)
            dt = time.monotonic() - t0
            print("  SIGTERM with an idle connection -> exit %d after %.2fs" % (rc, dt))
            assert rc == 0, "exit code %d" % rc
            assert dt < 10, "shutdown took %.2fs, grace 10s" % dt


TESTS = [
    test_health_check, test_health_watch, test_health_watch_unknown_service,
    test_reflection_list_services, test_reflection_file_containing_symbol,
    test_reflection_several_requests_one_stream, test_reflection_call_from_descriptors,
    test_env_vars, test_unknown_flag_fails_fast,
    test_sigterm_with_open_streams, test_sigterm_idle, test_sigterm_idle_connection,
]

if __name__ == "__main__":
    S.run_tests(TESTS, setup, teardown)
