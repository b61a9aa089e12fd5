#!/usr/bin/python3
"""test_prom_auth: credentials and TLS towards Prometheus.

- bearer token: Prometheus' web config has no bearer tokens, so an
  auth-checking proxy of this test stands in front of it (401 without
  "Authorization: Bearer <token>"). The token comes from bearerTokenFile;
  a wrong one gives UNAVAILABLE mentioning HTTP 401; rotating the file
  (new inode, new content) is picked up without a restart. The configured
  headers and queryParameters reach the proxy too.
- TLS and basic auth: a second Prometheus with --web.config.file
  (tls_server_config with an openssl-made CA and server certificate,
  basic_auth_users with a bcrypt hash): caFile trusts it, another CA does
  not (UNAVAILABLE naming the certificate problem), insecureSkipVerify
  skips the check, a wrong password gets HTTP 401.
- secrets: the scaler runs at --log-level debug and its whole output never
  contains a token or the password.
"""
import os
import sys
import urllib.parse

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promstack as P  # noqa: E402
import scaler as S  # noqa: E402
from scaler import ref  # noqa: E402

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
TOKEN_A = "tok-A-3f9c2e71d4b8a6"
TOKEN_B = "tok-B-81c0d5e9a7f243"
USER = "scaler"
PASSWORD = "pw-5d1e9b37c2a8f4"
SECRETS = (TOKEN_A, TOKEN_B, PASSWORD)

SIM = None
PROM = None        # plain, behind the bearer proxy
PROM_TLS = None    # TLS + basic auth
PROXY = None
TLS = None
SRV = None
C = None
TOKEN_FILE = None


def setup():
    global SIM, PROM, PROM_TLS, PROXY, TLS, SRV, C, TOKEN_FILE
    P.check_tools()
    SIM = P.Sim().start()
    SIM.add_pods(P.pods(2, "secured", 0.95))
    PROM = P.Prometheus([SIM.address]).start()
    TLS = P.make_tls()
    PROM_TLS = P.Prometheus([SIM.address], name="prom-tls", tls=TLS,
                            basic_auth=(USER, PASSWORD)).start()
    PROXY = P.Proxy(PROM, token=TOKEN_A)
    sec = P.subdir("secrets")
    TOKEN_FILE = os.path.join(sec, "token")
    S.write_atomic(TOKEN_FILE, TOKEN_A + "\n")   # made with echo: a trailing newline
    pw = os.path.join(sec, "password")
    S.write_atomic(pw, PASSWORD)
    bad_pw = os.path.join(sec, "bad-password")
    S.write_atomic(bad_pw, "not-the-password")
    cfg = P.write_config({"prometheus": {
        "default": {"url": PROXY.url, "bearerTokenFile": TOKEN_FILE, "timeout": "2s",
                    "headers": {"X-Scope-OrgID": "team-a"},
                    "queryParameters": {"tenant": "a b&c"}},
        "tls": {"url": PROM_TLS.url, "caFile": TLS["ca"], "timeout": "2s",
                "basicAuth": {"username": USER, "passwordFile": pw}},
        "tls-other-ca": {"url": PROM_TLS.url, "caFile": TLS["other_ca"], "timeout": "2s",
                         "basicAuth": {"username": USER, "passwordFile": pw}},
        "tls-insecure": {"url": PROM_TLS.url, "caFile": TLS["other_ca"],
                         "insecureSkipVerify": True, "timeout": "2s",
                         "basicAuth": {"username": USER, "passwordFile": pw}},
        "tls-bad-password": {"url": PROM_TLS.url, "caFile": TLS["ca"], "timeout": "2s",
                             "basicAuth": {"username": USER, "passwordFile": bad_pw}},
    }})
    SRV = P.scaler(config=cfg, args=["--log-level", "debug"])
    C = SRV.client()


def teardown():
    try:
        if C is not None:
            C.close()
        if SRV is not None:
            rc = SRV.stop()
            assert rc == 0, "scaler exited with %s\n%s" % (rc, SRV.stderr_text())
            check_no_secrets(SRV.stderr_text(limit=1 << 30))
    finally:
        for x in (PROXY, PROM, PROM_TLS, SIM):
            if x is not None:
                x.close() if x is PROXY else x.stop()


def check_no_secrets(text):
    for s in SECRETS:
        assert s not in text, "secret %r appears in the scaler's output" % s
    assert len(text) > 0


def wait_desired(r, want):
    S.wait_until(lambda: C.desired(r) == want, P.ANSWER_TIMEOUT, 0.1,
                 "desired %r via %s" % (want, r.scalerMetadata.get("prometheus", "default")))


def wait_unavailable(r, *needles):
    """Poll until GetMetrics answers UNAVAILABLE with every needle in its
    message; return the message."""
    def check():
        try:
            C.desired(r)
            return None
        except grpc.RpcError as e:
            if e.code() == UNAVAILABLE and all(n in e.details() for n in needles):
                check_no_secrets(e.details())
                return e.details()
            raise
    return S.wait_until(check, P.ANSWER_TIMEOUT, 0.1, "UNAVAILABLE with %r" % (needles,))


def test_bearer_token_headers_and_query_parameters():
    r = ref("secured", name="secured")
    wait_desired(r, 3)
    last = PROXY.last()
    assert last["method"] == "POST" and last["path"] == "/api/v1/query", last
    assert last["headers"].get("Authorization") == "Bearer " + TOKEN_A, "token not sent as read"
    assert last["headers"].get("X-Scope-OrgID") == "team-a", last["headers"]
    form = urllib.parse.parse_qs(last["body"].decode())
    assert form.get("tenant") == ["a b&c"], form
    assert "vllm:" in form["query"][0], form
    assert PROXY.counts()[1] == 0, "refused %d requests" % PROXY.counts()[1]


def test_wrong_token_then_rotation():
    r = ref("secured", name="secured")
    wait_desired(r, 3)
    PROXY.set(token=TOKEN_B)                 # the server now wants B; the file holds A
    msg = wait_unavailable(r, 'prometheus "default"', "HTTP 401")
    print("  wrong token: %s" % msg)
    e = S.expect_rpc_error(UNAVAILABLE, C.is_active, r)
    assert "HTTP 401" in e.details(), e.details()
    S.write_atomic(TOKEN_FILE, TOKEN_B)      # rotate: picked up without a restart
    wait_desired(r, 3)
    assert PROXY.last()["headers"].get("Authorization") == "Bearer " + TOKEN_B
    assert "(re)loaded" in SRV.stderr_text()


def test_tls_with_ca_file_and_basic_auth():
    r = ref("secured", name="secured", prometheus="tls")
    wait_desired(r, 3)
    assert C.is_active(r) is True


def test_tls_other_ca_refused():
    r = ref("secured", name="secured", prometheus="tls-other-ca")
    msg = wait_unavailable(r, 'prometheus "tls-other-ca"')
    print("  other CA: %s" % msg)
    assert "certificate" in msg.lower() or "ssl" in msg.lower(), msg


def test_tls_insecure_skip_verify():
    r = ref("secured", name="secured", prometheus="tls-insecure")
    wait_desired(r, 3)


def test_basic_auth_wrong_password():
    r = ref("secured", name="secured", prometheus="tls-bad-password")
    msg = wait_unavailable(r, 'prometheus "tls-bad-password"', "HTTP 401")
    print("  wrong password: %s" % msg)


def test_no_secret_in_the_log():
    text = SRV.stderr_text(limit=1 << 30)
    assert '"level":"debug"' in text, "not running at debug level?"
    check_no_secrets(text)


def main():
    S.run_tests([
        test_bearer_token_headers_and_query_parameters,
        test_wrong_token_then_rotation,
        test_tls_with_ca_file_and_basic_auth,
        test_tls_other_ca_refused,
        test_tls_insecure_skip_verify,
        test_basic_auth_wrong_password,
        test_no_secret_in_the_log,
    ], setup=setup, teardown=teardown)


if __name__ == "__main__":
    main()
