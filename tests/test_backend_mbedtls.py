"""The TA's mbedTLS backend (CFG_OPTEE_TLS_CRYPTO=mbedtls) and its key
format: EC and RSA keys made by that build are TA-held keys (serialised in
a data object); Ed25519 keys and keys that allow OAEP stay core objects.

One secure storage is shared by a simulator with the mbedTLS build and
one with the GP build in turn: the GP build lists a TA-held key, deletes
it, and refuses to use it (TEE_ERROR_NOT_SUPPORTED, no panic); the mbedTLS
build uses keys made by the GP build through the GP path. The signature
suites themselves (test_ta_*.py) run against both builds.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from conftest import Sim
from teec import (P, Otls, Tee, TEE_ERROR_ITEM_NOT_FOUND,
                  TEE_ERROR_NOT_SUPPORTED, TEE_SUCCESS, err_name, parse_desc,
                  parse_list, public_key)


@pytest.fixture
def store_dir():
    d = Path(tempfile.mkdtemp(prefix="otls-backend-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_sim(workdir: Path, backend: str):
    """A simulator of this backend on workdir's store (stop it after)."""
    return Sim(workdir, backend=backend).start()


def ecdsa_ok(pub, digest, sig, half):
    r = int.from_bytes(sig[:half], "big")
    s = int.from_bytes(sig[half:], "big")
    pub.verify(utils.encode_dss_signature(r, s), digest,
               ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_key_formats_across_builds(store_dir):
    digest = hashlib.sha256(b"across builds").digest()
    pubs = {}
    sim = run_sim(store_dir, "mbedtls")
    try:
        with Tee(socket=sim.socket) as tee, tee.session() as s:
            ta = Otls(s)
            for label, kt, bits, allowed in (
                    ("tk-ec", P.OTLS_KEY_EC, 256, 0),
                    ("tk-rsa", P.OTLS_KEY_RSA, 2048, 0),
                    ("ed", P.OTLS_KEY_ED25519, 256, 0),
                    ("oaep", P.OTLS_KEY_RSA, 2048,
                     P.OTLS_ALLOW_DECRYPT_OAEP)):
                r = ta.generate(label, kt, bits, allowed=allowed)
                assert r.rc == TEE_SUCCESS, (label, err_name(r.rc))
                pubs[label] = public_key(parse_desc(r[3].data))
            r = ta.sign("tk-ec", P.OTLS_ALG_ECDSA, digest)
            assert r.rc == TEE_SUCCESS
            ecdsa_ok(pubs["tk-ec"], digest, r[3].data, 32)
        assert sim.stats()["panics"] == 0
    finally:
        sim.stop()

    sim = run_sim(store_dir, "gp")
    try:
        with Tee(socket=sim.socket) as tee, tee.session() as s:
            ta = Otls(s)
            r = ta.list()
            assert r.rc == TEE_SUCCESS
            assert [e["label"] for e in parse_list(r[0].data)] == [
                "ed", "oaep", "tk-ec", "tk-rsa"]
            # TA-held keys: refused by this build, not crashed on.
            for label, alg in (("tk-ec", P.OTLS_ALG_ECDSA),
                               ("tk-rsa", P.OTLS_ALG_RSA_PKCS1_SHA256)):
                r = ta.sign(label, alg, digest)
                assert r.rc == TEE_ERROR_NOT_SUPPORTED, err_name(r.rc)
                assert ta.get_key(label).rc == TEE_ERROR_NOT_SUPPORTED
            # Core objects made by the mbedTLS build: the GP path.
            r = ta.sign("ed", P.OTLS_ALG_ED25519, b"message")
            assert r.rc == TEE_SUCCESS
            pubs["ed"].verify(r[3].data, b"message")
            ct = pubs["oaep"].encrypt(b"secret", padding.OAEP(
                mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                label=None))
            r = ta.decrypt("oaep", P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA1, ct)
            assert r.rc == TEE_SUCCESS and r[3].data == b"secret"
            # A TA-held key can be deleted without being loadable.
            assert ta.delete("tk-rsa").rc == TEE_SUCCESS
            assert ta.get_key("tk-rsa").rc == TEE_ERROR_ITEM_NOT_FOUND
            r = ta.generate("gp-ec", P.OTLS_KEY_EC, 256)
            assert r.rc == TEE_SUCCESS
            pubs["gp-ec"] = public_key(parse_desc(r[3].data))
        assert sim.stats()["panics"] == 0
    finally:
        sim.stop()

    # Back on the mbedTLS build: its own key and the GP build's both sign.
    sim = run_sim(store_dir, "mbedtls")
    try:
        with Tee(socket=sim.socket) as tee, tee.session() as s:
            ta = Otls(s)
            for label in ("tk-ec", "gp-ec"):
                r = ta.sign(label, P.OTLS_ALG_ECDSA, digest)
                assert r.rc == TEE_SUCCESS, (label, err_name(r.rc))
                ecdsa_ok(pubs[label], digest, r[3].data, 32)
                g = ta.get_key(label)
                assert g.rc == TEE_SUCCESS
                assert public_key(parse_desc(g[1].data)).public_numbers() \
                    == pubs[label].public_numbers()
        assert sim.stats()["panics"] == 0
    finally:
        sim.stop()


def test_ecdsa_nonces_are_random(sim_factory):
    """mbedTLS backend: ECDSA with fresh nonces from TEE_GenerateRandom
    (the dev kit's mbedTLS has no deterministic ECDSA)."""
    sim = sim_factory("nonce", backend="mbedtls")
    digest = hashlib.sha256(b"nonce").digest()
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        ta = Otls(s)
        for bits in (256, 384, 521):
            r = ta.generate(f"ec{bits}", P.OTLS_KEY_EC, bits)
            assert r.rc == TEE_SUCCESS
            sigs = {ta.sign(f"ec{bits}", P.OTLS_ALG_ECDSA, digest)[3].data
                    for _ in range(3)}
            assert len(sigs) == 3
