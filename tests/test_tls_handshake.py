"""TLS 1.2 / 1.3 handshakes: openssl s_server with a TEE key (through the
optee provider, as `-key optee:LABEL` and as `-key ref.pem`) against a plain
openssl s_client that knows nothing of our provider and verifies the server
certificate against the dev CA. Each signature scheme is forced with
s_client -sigalgs and read back from s_client's output. Every full
handshake costs exactly one TA invocation (the signature) on the server.
"""
from __future__ import annotations

import pytest

import tlsutil
from conftest import stop_all
from tlsutil import dev_ca, shared_dir, tee_keys, tls_sim  # noqa: F401 (fixtures)

ECDSA = {"p256": "ecdsa_secp256r1_sha256", "p384": "ecdsa_secp384r1_sha384",
         "p521": "ecdsa_secp521r1_sha512"}
PSS = ["rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512"]
PKCS1 = ["rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512"]

CASES = []
for kt, sa in ECDSA.items():
    CASES += [(kt, "1.3", sa), (kt, "1.2", sa)]
# TLS 1.2 ECDSA schemes name only the hash: any curve with any hash (the TA
# truncates the digest to the curve's order).
CASES += [("p256", "1.2", "ecdsa_secp384r1_sha384"),
          ("p256", "1.2", "ecdsa_secp521r1_sha512"),
          ("p384", "1.2", "ecdsa_secp256r1_sha256"),
          ("p521", "1.2", "ecdsa_secp256r1_sha256")]
for kt in ("rsa2048", "rsa3072"):
    CASES += [(kt, "1.3", s) for s in PSS]
    CASES += [(kt, "1.2", s) for s in PSS]
    CASES += [(kt, "1.2", s) for s in PKCS1]
CASES += [("rsa4096", "1.3", "rsa_pss_rsae_sha256")]
CASES += [("ed25519", "1.3", "ed25519"), ("ed25519", "1.2", "ed25519")]

MODES = ["uri", "ref"]      # -key optee:LABEL | -key LABEL.ref.pem


@pytest.fixture(scope="module")
def servers(tls_sim, tee_keys, shared_dir):
    """s_server per (key type, key mode), started on first use, with one
    warm-up handshake done (its TA cost recorded separately)."""
    running: dict[tuple[str, str], tuple[tlsutil.Server, int]] = {}
    started_servers: list[tlsutil.Server] = []   # stopped whatever happens

    def get(key_type: str, mode: str) -> tlsutil.Server:
        if (key_type, mode) not in running:
            ident = tee_keys.get(key_type)
            key = ident.uri if mode == "uri" else ident.ref
            before = tls_sim.stats()
            srv = tlsutil.start_s_server(tls_sim.env, ident.cert, key, shared_dir,
                                         name=f"s_server-{key_type}-{mode}")
            # Registered before the warm-up: a failing warm-up must not
            # leave it running.
            started_servers.append(srv)
            started = tls_sim.stats()
            h = tlsutil.s_client(srv.port, tee_keys.ca.cert_path)
            after = tls_sim.stats()
            assert h.ok, h.output + srv.output()
            print(f"[{key_type}/{mode}] s_server start: "
                  f"{started['ta_invocations'] - before['ta_invocations']} TA "
                  f"invocations, {started['sessions_opened'] - before['sessions_opened']}"
                  f" sessions; first handshake: "
                  f"{after['ta_invocations'] - started['ta_invocations']} invocations, "
                  f"{after['sessions_opened'] - started['sessions_opened']} sessions")
            running[(key_type, mode)] = (srv, after["ta_invocations"] - started["ta_invocations"])
        return running[(key_type, mode)][0]

    try:
        yield get
    finally:
        stop_all(s.stop for s in started_servers)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("key_type,version,sigalg", CASES,
                         ids=[f"{k}-tls{v}-{s}" for k, v, s in CASES])
def test_handshake(servers, tls_sim, dev_ca, key_type, version, sigalg, mode,
                   record_property):
    srv = servers(key_type, mode)
    before = tls_sim.stats()
    h = tlsutil.s_client(srv.port, dev_ca.cert_path, version=version,
                         sigalgs=sigalg)
    after = tls_sim.stats()
    assert h.ok, f"handshake failed:\n{h.output}\nserver:\n{srv.output()[-3000:]}"
    assert h.protocol == f"TLSv{version}"
    want_type, want_digest = tlsutil.SIGALGS[sigalg]
    assert h.sig_type == want_type, h.output
    assert h.sig_digest == want_digest, h.output
    invocations = after["ta_invocations"] - before["ta_invocations"]
    sessions = after["sessions_opened"] - before["sessions_opened"]
    record_property("ta_invocations", invocations)
    assert invocations == 1, f"{invocations} TA invocations for one handshake"
    assert sessions == 0, f"{sessions} new TA sessions for one handshake"
    assert after["panics"] == before["panics"]


def test_many_handshakes_one_session(servers, tls_sim, dev_ca):
    """20 handshakes in a row: 20 TA invocations, no new session."""
    srv = servers("p256", "ref")
    before = tls_sim.stats()
    for i in range(20):
        h = tlsutil.s_client(srv.port, dev_ca.cert_path,
                             version="1.3" if i % 2 else "1.2")
        assert h.ok, h.output
    after = tls_sim.stats()
    assert after["ta_invocations"] - before["ta_invocations"] == 20
    assert after["sessions_opened"] == before["sessions_opened"]


def test_tls13_refuses_pkcs1(servers, dev_ca):
    """TLS 1.3 forbids RSASSA-PKCS1-v1_5 in CertificateVerify: the server
    must not fall back to it (no shared signature algorithm)."""
    srv = servers("rsa2048", "ref")
    h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.3",
                         sigalgs="rsa_pkcs1_sha256")
    assert not h.ok


def test_s_server_unknown_label(tls_sim, dev_ca, tee_keys, shared_dir):
    """A user giving a label that does not exist gets a clear error."""
    ident = tee_keys.get("p256")
    port = tlsutil.free_port()
    p = tlsutil.run([tlsutil.OPENSSL_BIN, "s_server", "-accept",
                     f"127.0.0.1:{port}", "-cert", ident.cert,
                     "-key", "optee:nope", "-www"], env=tls_sim.env, check=False,
                    timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode != 0, out
    assert "key not found" in out.lower(), out
    assert '"nope"' in out, out


def test_s_server_malformed_uri(tls_sim, tee_keys):
    ident = tee_keys.get("p256")
    port = tlsutil.free_port()
    p = tlsutil.run([tlsutil.OPENSSL_BIN, "s_server", "-accept",
                     f"127.0.0.1:{port}", "-cert", ident.cert,
                     "-key", "optee:bad/label", "-www"], env=tls_sim.env,
                    check=False, timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode != 0, out
    assert "malformed key reference" in out, out


def test_tls12_rsa_key_transport_refused(servers, tls_sim, dev_ca):
    """Keys are generated without decryption rights (default policy): a
    TLS 1.2 RSA key-transport cipher (no forward secrecy) cannot complete,
    and the server keeps serving ECDHE handshakes afterwards."""
    srv = servers("rsa2048", "ref")
    before = tls_sim.stats()
    h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.2",
                         extra=["-cipher", "AES128-GCM-SHA256"])
    after = tls_sim.stats()
    print(f"RSA key transport: ok={h.ok}, {after['ta_invocations'] - before['ta_invocations']}"
          f" TA invocations\n{srv.output()[-1500:]}")
    assert not h.ok
    assert after["panics"] == before["panics"]
    h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.2")
    assert h.ok, h.output
