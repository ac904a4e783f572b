"""TLS 1.2 RSA key transport (kRSA) with a TEE RSA key that has no decrypt
right (the default policy).

libssl decides that an RSA certificate allows the TLS_RSA_* suites from the
key type alone (ssl_set_masks); it asks no provider whether the key may
decrypt, so the provider cannot take those suites away. Without the
exclusion a client offering only kRSA suites gets its suite chosen and the
handshake then ends in a decrypt_error alert. The README's nginx and
s_server examples therefore exclude kRSA (docs/threat-model.md says why);
these tests run those exact settings and show what they change.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import tlsutil
from test_tls_nginx import NginxRunner
from tlsutil import dev_ca, shared_dir, tee_keys, tls_sim  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
THREATS = (ROOT / "docs" / "threat-model.md").read_text()

# The settings the README documents (checked below to be in it).
NGINX_CIPHERS = "ssl_ciphers HIGH:!aNULL:!MD5:!kRSA;"
S_SERVER_CIPHER = "-cipher 'DEFAULT:!kRSA'"
KRSA_ONLY = "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA"


def test_docs_exclude_krsa():
    assert NGINX_CIPHERS in README
    assert S_SERVER_CIPHER in README
    assert "kRSA" in THREATS and "decrypt_error" in THREATS


@pytest.fixture
def nginx_runner(shared_dir, dev_ca):
    r = NginxRunner(shared_dir, dev_ca)
    yield r
    r.stop_all()


def krsa_attempt(port, ca):
    return tlsutil.s_client(port, ca.cert_path, version="1.2",
                            extra=["-cipher", KRSA_ONLY])


def test_s_server_without_exclusion_picks_krsa(tls_sim, tee_keys, dev_ca,
                                                 shared_dir):
    """Why the docs exclude kRSA: the suite is chosen, the key may not
    decrypt, the handshake ends in decrypt_error."""
    ident = tee_keys.get("rsa2048")
    srv = tlsutil.start_s_server(tls_sim.env, ident.cert, ident.ref,
                                 shared_dir, name="s_server-krsa-default")
    try:
        h = krsa_attempt(srv.port, dev_ca)
        assert not h.ok
        assert "decrypt error" in h.output, h.output
    finally:
        srv.stop()


def test_s_server_documented_cipher_refuses_krsa(tls_sim, tee_keys, dev_ca,
                                                  shared_dir):
    ident = tee_keys.get("rsa2048")
    srv = tlsutil.start_s_server(tls_sim.env, ident.cert, ident.ref,
                                 shared_dir, extra=["-cipher", "DEFAULT:!kRSA"],
                                 name="s_server-krsa-excluded")
    try:
        before = tls_sim.stats()["ta_invocations"]
        h = krsa_attempt(srv.port, dev_ca)
        assert not h.ok
        assert "handshake failure" in h.output, h.output
        # Refused before any TA call: no decryption was attempted.
        assert tls_sim.stats()["ta_invocations"] == before
        assert "no shared cipher" in srv.output()
        h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.2")
        assert h.ok and h.cipher.startswith("ECDHE-RSA-"), h.output
    finally:
        srv.stop()


def test_nginx_documented_ciphers_refuse_krsa(nginx_runner, tls_sim, tee_keys,
                                              dev_ca):
    ident = tee_keys.get("rsa2048")
    ngx = nginx_runner.make(tls_sim.env, ident.cert, ident.ref,
                            server_extra=NGINX_CIPHERS)
    before = tls_sim.stats()["ta_invocations"]
    h = krsa_attempt(ngx.port, dev_ca)
    assert not h.ok
    assert "handshake failure" in h.output, h.output
    assert tls_sim.stats()["ta_invocations"] == before
    h = tlsutil.s_client(ngx.port, dev_ca.cert_path, version="1.2")
    assert h.ok and h.cipher.startswith("ECDHE-RSA-"), h.output
