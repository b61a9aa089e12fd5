#!/usr/bin/python3
"""test_fault_strings: well-formed requests whose strings are garbage.

The messages decode (protobuf framing is right) but their strings carry an
embedded NUL or invalid UTF-8, as a buggy or hostile client may send
(proto3 strings must be UTF-8; a C string ends at the first NUL). The
requests are encoded by hand: the protobuf library refuses to build them.

- an embedded NUL is never silently cut off: "0.8\\0junk" is not 0.8 (values
  are parsed strictly: "0.8junk" is INVALID_ARGUMENT), "3\\0" is not a
  minReplicas of 3, "ibm/granite-13b\\0junk" is not the model
  ibm/granite-13b (modelID refuses control characters), the key
  "kvCacheThreshold\\0junk" is not kvCacheThreshold; GetMetrics and
  IsActive answer INVALID_ARGUMENT (or, for the key, ignore it);
- invalid UTF-8 in modelID (answered or refused, either is fine) never
  makes the server write a log line that is not valid UTF-8 JSON, nor a
  /debug/decision or /metrics body that is not valid UTF-8; a valid
  non-ASCII modelID is still served;
- the server answers everything else as before and exits 0 (no sanitizer
  report with SAT_ASAN_BINARY).
"""
import http.client
import json
import os
import sys
import urllib.parse

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultstack as F  # noqa: E402
import scaler as S  # noqa: E402

INVALID = grpc.StatusCode.INVALID_ARGUMENT
METHOD = "/" + S.SERVICE + "/"

TMP = None
SRV = None
C = None


def setup():
    global TMP, SRV, C
    TMP = S.tempdir()
    path = TMP.join("metrics.json")
    S.write_json_atomic(path, S.metrics(S.pods(2, 0.5)))
    SRV = S.Server(path, args=F.extra_server_args(), binary=F.binary(),
                   env=F.server_env()).start()
    C = SRV.client()
    assert C.desired(S.ref()) == 2


def teardown():
    try:
        if C is not None:
            C.close()
        if SRV is not None and SRV.proc is not None and SRV.proc.poll() is None:
            F.clean_exit(SRV)
    finally:
        if TMP is not None:
            TMP.__exit__(None, None, None)


# ---- hand-made protobuf --------------------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, data):
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def raw_ref(name=b"so", namespace=b"llm", model=S.MODEL.encode(), metadata=()):
    """ScaledObjectRef bytes; metadata: (key, value) byte pairs after modelID."""
    out = _field(1, name) + _field(2, namespace)
    pairs = ([(b"modelID", model)] if model is not None else []) + list(metadata)
    for k, v in pairs:
        out += _field(3, _field(1, k) + _field(2, v))
    return out


def get_metrics_req(ref_bytes, metric_name=b""):
    return _field(1, ref_bytes) + (_field(2, metric_name) if metric_name else b"")


def call(method, payload):
    """(code, details or response bytes)."""
    try:
        return grpc.StatusCode.OK, C.call_unary_raw(METHOD + method, payload)
    except grpc.RpcError as e:
        return e.code(), e.details()


def desired_of(resp):
    return S.check_metric_values(S.es_pb2.GetMetricsResponse.FromString(resp))


# ---- embedded NUL ----------------------------------------------------------------------

NUL_CASES = [
    # what, ScaledObjectRef bytes, what a silent cut would answer
    ("kvCacheThreshold \"0.8\\0junk\"",
     raw_ref(metadata=[(b"kvCacheThreshold", b"0.8\x00junk")]), "served with 0.8"),
    ("minReplicas \"3\\0\"", raw_ref(metadata=[(b"minReplicas", b"3\x00")]), "3 replicas"),
    ("modelID \"ibm/granite-13b\\0junk\"", raw_ref(model=S.MODEL.encode() + b"\x00junk"),
     "ibm/granite-13b's data"),
    ("queueLengthThreshold \"5\\0\\0\"",
     raw_ref(metadata=[(b"queueLengthThreshold", b"5\x00\x00")]), "served with 5"),
]


def test_embedded_nul_is_not_cut_off():
    problems = []
    for what, ref_bytes, silent in NUL_CASES:
        for method, payload in (("GetMetrics", get_metrics_req(ref_bytes)),
                                ("IsActive", ref_bytes)):
            code, got = call(method, payload)
            if code != INVALID:
                shown = got if code != grpc.StatusCode.OK else (
                    "desired %g" % desired_of(got) if method == "GetMetrics" else got)
                problems.append("%s %s: %s %r (expected INVALID_ARGUMENT; a silent cut at the "
                                "NUL: %s)" % (method, what, code.name, shown, silent))
    # A key with a NUL is not the key before it: ignored (or refused), never
    # applied. 0.3 would saturate both pods (kv 0.5) and answer 3.
    ref_bytes = raw_ref(metadata=[(b"kvCacheThreshold\x00junk", b"0.3")])
    code, got = call("GetMetrics", get_metrics_req(ref_bytes))
    if not (code == INVALID or (code == grpc.StatusCode.OK and desired_of(got) == 2)):
        problems.append("GetMetrics key \"kvCacheThreshold\\0junk\": %s %r (applied as "
                        "kvCacheThreshold)" % (code.name, desired_of(got)
                                               if code == grpc.StatusCode.OK else got))
    still_fine()
    assert not problems, "embedded NULs cut off silently:\n  " + "\n  ".join(problems)


# ---- invalid UTF-8 ---------------------------------------------------------------------

BAD_UTF8 = [b"\xff\xfe", b"m\xc0\xafx", b"\xed\xa0\x80", b"\xe2\x82", b"ok-\x80"]


def http_get(path):
    conn = http.client.HTTPConnection("127.0.0.1", F.http_port(SRV), timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def log_lines():
    SRV._errf.flush()
    SRV._errf.seek(0)
    return SRV._errf.read().splitlines()


def bad_log_lines():
    bad = []
    for line in log_lines():
        try:
            json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            bad.append("%s: %r" % (type(e).__name__, line[:240]))
    return bad


def test_invalid_utf8_keeps_logs_and_http_valid():
    problems = []
    for i, model in enumerate(BAD_UTF8):
        name = "utf%d" % i
        ref_bytes = raw_ref(name=name.encode(), model=model)
        for method, payload in (("GetMetrics", get_metrics_req(ref_bytes)),
                                ("IsActive", ref_bytes)):
            code, got = call(method, payload)
            if code == INVALID:
                assert "modelID" in got, got
            elif code != grpc.StatusCode.OK:
                problems.append("%s modelID %r: %s %s" % (method, model, code.name, got))
        status, body = http_get("/debug/decision?" + urllib.parse.urlencode(
            {"namespace": "llm", "scaledobject": name}))
        if status == 200:
            try:
                json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                problems.append("/debug/decision for modelID %r: %s: %r"
                                % (model, type(e).__name__, body[:200]))
    status, body = http_get("/metrics")
    assert status == 200
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append("/metrics: %s" % e)
    problems += ["log line: " + b for b in bad_log_lines()]
    # A valid non-ASCII model id is served (no series: minReplicas).
    good = "granité/模型-1".encode()
    code, got = call("GetMetrics", get_metrics_req(raw_ref(name=b"uni", model=good)))
    assert code == grpc.StatusCode.OK and desired_of(got) == 1, (code, got)
    assert any(good in line for line in log_lines()), "no log line names the model"
    still_fine()
    assert not problems, "invalid UTF-8 got through:\n  " + "\n  ".join(problems)


def still_fine():
    r = S.ref()
    assert C.desired(r) == 2
    assert C.is_active(r) is True
    assert C.get_metric_spec(r)[0].targetSize == 1
    assert C.health_check("") == S.SERVING


def test_clean_exit():
    F.clean_exit(SRV)


if __name__ == "__main__":
    S.run_tests([test_embedded_nul_is_not_cut_off, test_invalid_utf8_keeps_logs_and_http_valid,
                 test_clean_exit], setup=setup, teardown=teardown)
