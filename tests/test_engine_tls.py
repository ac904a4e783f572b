"""TLS 1.2 / 1.3 handshakes with the private key behind the ENGINE:

    openssl s_server -engine optee -keyform engine -key LABEL -cert cert.pem

against a plain openssl s_client (no provider, no ENGINE, no simulator)
that verifies the certificate against a dev CA; each signature scheme is
forced with s_client -sigalgs and read back from s_client's output. The
certificates are issued for CSRs made through the ENGINE (req -new).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import tlsutil
from conftest import stop_all
from test_engine import (ENGINE_ARGS, ENGINE_SO, KEY_TYPES, eng, gen_key,  # noqa: F401
                         ALLOW_DECRYPT_PKCS1, ALLOW_RSA_PKCS1, ALLOW_RSA_PSS)

pytestmark = pytest.mark.usefixtures("need_engine")

SERVER_ARGS = [*ENGINE_ARGS, "-keyform", "engine"]

CASES = []
for kind, sa in (("p256", "ecdsa_secp256r1_sha256"),
                 ("p384", "ecdsa_secp384r1_sha384"),
                 ("p521", "ecdsa_secp521r1_sha512")):
    CASES += [(kind, "1.3", sa), (kind, "1.2", sa)]
for h in ("sha256", "sha384", "sha512"):
    CASES += [("rsa2048", "1.3", f"rsa_pss_rsae_{h}"),
              ("rsa2048", "1.2", f"rsa_pss_rsae_{h}"),
              ("rsa2048", "1.2", f"rsa_pkcs1_{h}")]
CASES += [("ed25519", "1.3", "ed25519"), ("ed25519", "1.2", "ed25519")]


@pytest.fixture(scope="module")
def tls_env(tmp_path_factory):
    """Simulator, dev CA, and one TEE key + certificate per key type."""
    from conftest import Sim
    d = tmp_path_factory.mktemp("engine-tls")
    sim = Sim(d / "sim")
    servers: dict = {}
    try:
        sim.start()
        ca = tlsutil.DevCA(d / "ca")
        idents = {}
        for kind in KEY_TYPES:
            idents[kind] = _identity(sim, ca, d, f"tls-{kind}", kind)
        yield sim, ca, idents, servers, d
    finally:
        stop_all([*(srv.stop for srv in servers.values()), sim.stop])


def _identity(sim, ca, d: Path, label: str, kind: str, allowed: int = 0):
    key = gen_key(sim, d, label, kind, allowed)
    csr = d / f"{label}.csr"
    eng(sim, ["req", "-new", *SERVER_ARGS, "-key", label,
              "-subj", "/CN=localhost", "-out", csr])
    cert = ca.issue(csr, d / f"{label}.pem")    # checks the CSR signature too
    return key, cert


def _server(tls_env, kind: str, key_id: str | None = None) -> tlsutil.Server:
    sim, ca, idents, servers, d = tls_env
    key, cert = idents[kind]
    key_id = key_id or key.label
    if (kind, key_id) not in servers:
        servers[(kind, key_id)] = tlsutil.start_s_server(
            sim.env, cert, key_id, d, extra=SERVER_ARGS,
            name=f"s_server-{kind}")
    return servers[(kind, key_id)]


@pytest.mark.parametrize("kind,version,sigalg", CASES,
                         ids=[f"{k}-tls{v}-{s}" for k, v, s in CASES])
def test_handshake(tls_env, kind, version, sigalg):
    sim, ca, *_ = tls_env
    srv = _server(tls_env, kind)
    h = tlsutil.s_client(srv.port, ca.cert_path, version=version, sigalgs=sigalg)
    assert h.ok, h.output + srv.output()
    assert h.protocol == f"TLSv{version}", h.output
    want_type, want_digest = tlsutil.SIGALGS[sigalg]
    assert h.sig_type == want_type, h.output
    if want_digest:
        assert h.sig_digest == want_digest, h.output


@pytest.mark.parametrize("kind,version,sigalg", [
    ("p256", "1.3", "ecdsa_secp256r1_sha256"),
    ("rsa2048", "1.3", "rsa_pss_rsae_sha256"),
    ("rsa2048", "1.2", "rsa_pkcs1_sha384"),
    ("ed25519", "1.3", "ed25519"),
])
def test_one_ta_invocation_per_handshake(tls_env, kind, version, sigalg):
    sim, ca, *_ = tls_env
    srv = _server(tls_env, kind)
    assert tlsutil.s_client(srv.port, ca.cert_path, version=version,
                            sigalgs=sigalg).ok
    before = sim.stats()["ta_invocations"]
    for _ in range(3):
        h = tlsutil.s_client(srv.port, ca.cert_path, version=version, sigalgs=sigalg)
        assert h.ok, h.output
    assert sim.stats()["ta_invocations"] - before == 3


@pytest.mark.parametrize("form", ["uri", "ref"])
def test_handshake_key_id_forms(tls_env, form):
    sim, ca, idents, *_ = tls_env
    key, _ = idents["p384"]
    srv = _server(tls_env, "p384", key.uri if form == "uri" else str(key.ref))
    h = tlsutil.s_client(srv.port, ca.cert_path, version="1.3")
    assert h.ok, h.output + srv.output()


def test_tls12_rsa_key_exchange_explains(tls_env):
    """The TLS 1.2 RSA key exchange cannot use an ENGINE key with
    OpenSSL 3's libssl: the handshake fails and the server says why."""
    sim, ca, idents, servers, d = tls_env
    if "rsa-dec" not in idents:
        idents["rsa-dec"] = _identity(sim, ca, d, "tls-rsa-dec", "rsa2048",
                                      ALLOW_RSA_PKCS1 | ALLOW_RSA_PSS |
                                      ALLOW_DECRYPT_PKCS1)
    srv = _server(tls_env, "rsa-dec")
    h = tlsutil.s_client(srv.port, ca.cert_path, version="1.2",
                         extra=["-cipher", "AES128-SHA256"])
    assert not h.ok
    out = srv.output()
    assert "TLS 1.2 RSA key exchange is not possible with an ENGINE key" in out, out
    # ECDHE with the same key is fine
    h = tlsutil.s_client(srv.port, ca.cert_path, version="1.2")
    assert h.ok, h.output + srv.output()


def test_server_refuses_unknown_label(tls_env):
    sim, ca, idents, servers, d = tls_env
    _, cert = idents["p256"]
    with pytest.raises(RuntimeError) as ei:
        srv = tlsutil.start_s_server(sim.env, cert, "no-such-label", d,
                                     extra=SERVER_ARGS, name="s_server-bad")
        srv.stop()
    assert "key not found in the TEE" in str(ei.value)


def test_server_survives_tee_restart(sim, tmp_path):
    """The ENGINE keeps no TEE state: after the TEE went away and came back
    (same secure storage), the running server signs again; while it is
    away, the handshake fails and the server log says why."""
    ca = tlsutil.DevCA(tmp_path / "ca")
    key, cert = _identity(sim, ca, tmp_path, "restart", "p256")
    srv = tlsutil.start_s_server(sim.env, cert, key.label, tmp_path,
                                 extra=SERVER_ARGS, name="s_server-restart")
    try:
        assert tlsutil.s_client(srv.port, ca.cert_path, version="1.3").ok
        sim.stop()
        h = tlsutil.s_client(srv.port, ca.cert_path, version="1.3")
        assert not h.ok
        assert "TEE unreachable" in srv.output(), srv.output()
        sim.start()
        h = tlsutil.s_client(srv.port, ca.cert_path, version="1.3")
        assert h.ok, h.output + srv.output()
    finally:
        srv.stop()
