#!/usr/bin/python3
"""test_tls: TLS and mutual TLS on the gRPC port, and certificate rotation.

Certificates are made with the openssl CLI in a temp dir: a CA, a server
certificate (SAN IP:127.0.0.1 and DNS:localhost) and a client certificate;
a second CA for the rotation and for "wrong CA" cases.

The gRPC client logs "Handshake failed ... certificate verify failed" for
every connection a test expects to be refused: that noise is expected.
"""
import os
import shutil
import subprocess
import sys
import time

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

FAILED_CONNECT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
ROTATE_TIMEOUT = 10.0

SERVER_EXT = """subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
"""
CLIENT_EXT = """extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
"""


def openssl(d, *args):
    p = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), p.stderr)


def make_ca(d, name):
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
            "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_cert(d, ca, name, ext):
    """name.key / name.crt signed by ca."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
    openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


class PKI:
    """ca1 signs server1 and client1; ca2 signs server2 and client2."""

    def __init__(self, d):
        self.d = d
        for n in ("1", "2"):
            make_ca(d, "ca" + n)
            make_cert(d, "ca" + n, "server" + n, SERVER_EXT)
            make_cert(d, "ca" + n, "client" + n, CLIENT_EXT)

    def path(self, name):
        return os.path.join(self.d, name)

    def client_tls(self, ca="ca1", client=None):
        t = {"ca": read(self.d, ca + ".crt")}
        if client:
            t["cert"] = read(self.d, client + ".crt")
            t["key"] = read(self.d, client + ".key")
        return t


def metrics_file(d):
    path = os.path.join(d, "metrics.json")
    S.write_json_atomic(path, S.metrics(S.pods(2, 0.95)))
    return path


def serving_with(srv, tls):
    """One health Check and one GetMetrics on a new connection."""
    with srv.client(tls) as c:
        assert c.health_check("", timeout=3) == S.SERVING
        assert c.desired(ref(), timeout=3) == 3


def refused_with(srv, tls):
    """A new connection with these settings must not get an answer."""
    with srv.client(tls) as c:
        try:
            st = c.health_check("", timeout=3)
        except grpc.RpcError as e:
            assert e.code() in FAILED_CONNECT, S.describe(e)
            return e
    raise AssertionError("a client with %s got an answer (%d)" % (describe_tls(tls), st))


def describe_tls(tls):
    if not tls:
        return "plaintext"
    return "TLS%s" % (" and a client certificate" if tls.get("cert") else "")


def tls_args(pki, server="server1", client_ca=None):
    args = ["--tls-cert-file", pki.path(server + ".crt"), "--tls-key-file", pki.path(server + ".key")]
    if client_ca:
        args += ["--tls-client-ca-file", pki.path(client_ca + ".crt")]
    return args


def test_tls():
    with S.tempdir() as tmp:
        pki = PKI(tmp.path)
        with S.Server(metrics_file(tmp.path), args=tls_args(pki), tls=pki.client_tls()) as srv:
            serving_with(srv, pki.client_tls())
            serving_with(srv, pki.client_tls(client="client1"))  # a cert is not required
            refused_with(srv, False)                            # plaintext
            refused_with(srv, pki.client_tls(ca="ca2"))         # wrong CA
            assert srv.stop() == 0


def test_alpn_h2():
    # KEDA's client rejects a server without ALPN h2.
    with S.tempdir() as tmp:
        pki = PKI(tmp.path)
        with S.Server(metrics_file(tmp.path), args=tls_args(pki), tls=pki.client_tls()) as srv:
            p = subprocess.run(["openssl", "s_client", "-connect", srv.address, "-alpn", "h2",
                                "-CAfile", pki.path("ca1.crt"), "-verify_return_error",
                                "-servername", "localhost"],
                               input=b"", capture_output=True, timeout=20)
            out = (p.stdout + p.stderr).decode(errors="replace")  # may carry HTTP/2 frames
            assert "ALPN protocol: h2" in out, out
            assert srv.stop() == 0


def test_mtls():
    with S.tempdir() as tmp:
        pki = PKI(tmp.path)
        client = pki.client_tls(client="client1")
        with S.Server(metrics_file(tmp.path), args=tls_args(pki, client_ca="ca1"), tls=client) as srv:
            serving_with(srv, client)
            refused_with(srv, pki.client_tls())                           # no client cert
            refused_with(srv, pki.client_tls(client="client2"))           # client cert of another CA
            refused_with(srv, False)                                      # plaintext
            assert srv.stop() == 0


def replace_atomic(src, dst):
    """Copy src over dst with a rename (what a Secret update amounts to)."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


def test_rotate():
    with S.tempdir() as tmp:
        pki = PKI(tmp.path)
        # The server reads its own copies, which the test replaces.
        live_crt, live_key = pki.path("live.crt"), pki.path("live.key")
        shutil.copyfile(pki.path("server1.crt"), live_crt)
        shutil.copyfile(pki.path("server1.key"), live_key)
        args = ["--tls-cert-file", live_crt, "--tls-key-file", live_key]
        with S.Server(metrics_file(tmp.path), args=args, tls=pki.client_tls()) as srv:
            serving_with(srv, pki.client_tls("ca1"))
            refused_with(srv, pki.client_tls("ca2"))
            t0 = time.monotonic()
            replace_atomic(pki.path("server2.key"), live_key)
            replace_atomic(pki.path("server2.crt"), live_crt)
            S.wait_until(lambda: serving_with(srv, pki.client_tls("ca2")) or True, ROTATE_TIMEOUT,
                         0.2, "a connection verified by the new CA")
            print("  rotated certificate served after %.1fs" % (time.monotonic() - t0))
            refused_with(srv, pki.client_tls("ca1"))
            assert srv.stop() == 0


TESTS = [test_tls, test_alpn_h2, test_mtls, test_rotate]

if __name__ == "__main__":
    if shutil.which("openssl") is None:
        print("openssl not found")
        print("0 passed, 1 failed")
        sys.exit(1)
    S.run_tests(TESTS)
