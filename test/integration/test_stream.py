#!/usr/bin/python3
"""test_stream: StreamIsActive edges against the real binary.

The stream sends the current activation state first, then at most one
message per change: true on a rising edge of activation or of "at least one
pod and every pod has kv >= kvCacheThreshold", false on falling activation,
never a repeat. Each step rewrites the metrics file (atomically) and checks
what the streams say within a bound, and that they stay silent otherwise.
"""
import os
import sys

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

EDGE = 2.0    # a change must reach the stream within this (file poll: 500 ms)
QUIET = 2.0   # and nothing else may follow for this long

# A model nobody touches: its stream must stay silent after its first true.
BYSTANDER = S.pods(1, 0.5, model="bystander", prefix="by")


def write(path, pod_rows=(), flow_rows=()):
    S.write_json_atomic(path, S.metrics(list(pod_rows) + BYSTANDER, flow_rows))


def expect_all(streams, value, timeout=EDGE):
    for st in streams:
        st.expect(value, timeout)


def quiet_all(streams, duration=QUIET):
    # The first stream takes the whole wait; the others were waited for too.
    streams[0].expect_quiet(duration)
    for st in streams[1:]:
        st.expect_quiet(0.01)


def test_edges():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        write(path, S.pods(2, 0.5))
        with S.Server(path) as srv, srv.client() as c:
            r = ref()
            streams = [c.stream_is_active(r) for _ in range(2)]
            by = c.stream_is_active(ref("bystander"))
            try:
                edges(path, c, r, streams, by)
            finally:
                for st in streams + [by]:
                    st.cancel()
            assert srv.stop() == 0


def edges(path, c, r, streams, by):
    # Pods report: activation is true from the start.
    expect_all(streams, True)
    by.expect(True, EDGE)
    quiet_all(streams, 1.0)

    # Every pod crosses kvCacheThreshold: exactly one more true.
    write(path, S.pods(2, 0.95))
    expect_all(streams, True)
    quiet_all(streams)

    # The same values again, then one more saturated pod: no message.
    write(path, S.pods(2, 0.95))
    quiet_all(streams)
    write(path, S.pods(3, 0.95))
    S.wait_until(lambda: c.desired(r) == 4, S.FILE_CHANGE_TIMEOUT, what="3 saturated pods -> 4")
    quiet_all(streams)

    # Saturation falls (pods still report): no message; it rises again: true.
    write(path, S.pods(3, 0.5))
    S.wait_until(lambda: c.desired(r) == 3, S.FILE_CHANGE_TIMEOUT, what="3 pods at 0.5 -> 3")
    quiet_all(streams, 1.0)
    write(path, S.pods(3, 0.95))
    expect_all(streams, True)
    quiet_all(streams, 1.0)

    # No pods but demand queued in flow control: still active, no message.
    write(path, flow_rows=[S.flow(2)])
    S.wait_until(lambda: c.desired(r) == 1, S.FILE_CHANGE_TIMEOUT, what="no pods -> 1")
    assert c.is_active(r) is True
    quiet_all(streams, 1.0)

    # Nothing at all: activation falls.
    write(path)
    expect_all(streams, False)
    quiet_all(streams, 1.0)

    # Pods come back saturated: both conditions rise, one true only.
    write(path, S.pods(2, 0.95))
    expect_all(streams, True)
    quiet_all(streams)

    # A stream opened now starts with the current state.
    late = c.stream_is_active(r)
    try:
        late.expect(True, EDGE)
        late.expect_quiet(1.0)
    finally:
        late.cancel()

    # The other model's stream never heard of any of this.
    by.expect_quiet(0.01)


def test_first_message_false_when_inactive():
    # The model is in the file (a flow-control entry) but nothing is active.
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        write(path, flow_rows=[S.flow(0)])
        with S.Server(path) as srv, srv.client() as c:
            st = c.stream_is_active(ref())
            try:
                st.expect(False, EDGE)
                st.expect_quiet(1.0)
                write(path, flow_rows=[S.flow(1)])   # demand at zero replicas
                st.expect(True, EDGE)
                st.expect_quiet(1.0)
            finally:
                st.cancel()
            assert srv.stop() == 0


def test_bad_metadata_ends_stream():
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        write(path, S.pods(1, 0.5))
        with S.Server(path) as srv, srv.client() as c:
            for r, key in ((ref(None), "modelID"), (ref(kvCacheThreshold="1.5"), "kvCacheThreshold")):
                st = c.stream_is_active(r, timeout=10)
                end = st.next(EDGE)
                assert isinstance(end, S.StreamEnd), "expected the stream to fail, got %r" % end
                assert end.code == grpc.StatusCode.INVALID_ARGUMENT, end
                assert key in (end.details or ""), end
            # The server is fine afterwards.
            st = c.stream_is_active(ref())
            try:
                st.expect(True, EDGE)
            finally:
                st.cancel()
            assert srv.stop() == 0


def test_cancel_is_harmless():
    # Clients that cancel their streams (KEDA on ScaledObject deletion) must
    # not disturb the server or the streams that remain.
    with S.tempdir() as tmp:
        path = tmp.join("metrics.json")
        write(path, S.pods(1, 0.5))
        with S.Server(path) as srv, srv.client() as c:
            keep = c.stream_is_active(ref())
            gone = [c.stream_is_active(ref()) for _ in range(20)]
            try:
                for st in [keep] + gone:
                    st.expect(True, EDGE)
                for st in gone:
                    st.cancel()
                write(path, S.pods(1, 0.95))
                keep.expect(True, EDGE)
                assert c.desired(ref()) == 2
            finally:
                keep.cancel()
            assert srv.stop() == 0


TESTS = [test_edges, test_first_message_false_when_inactive, test_bad_metadata_ends_stream,
         test_cancel_is_harmless]

if __name__ == "__main__":
    S.run_tests(TESTS)
