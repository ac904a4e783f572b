"""RSA PKCS#1 v1.5 on both OP-TEE core crypto libraries.

OP-TEE built with CFG_CRYPTOLIB_NAME=mbedtls has no raw-DigestInfo
signing (TEE_ALG_RSASSA_PKCS1_V1_5, CFG_CRYPTO_RSASSA_NA1 forced off);
the simulator's `--core-crypto mbedtls` refuses it the same way. The TA
signs every standard DigestInfo (SHA-1, SHA-224, SHA-256/384/512) with the
per-hash GP algorithms, which both cores have; only a DigestInfo of
another hash, or arbitrary bytes, needs the raw algorithm, and on an
mbedTLS core the GP backend answers that with TEE_ERROR_NOT_SUPPORTED
(no panic, the session and the key stay usable).
"""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from provider_cli import needs_provider, openssl, plain, plain_env  # noqa: F401
from teec import (P, Otls, Tee, TEE_ERROR_NOT_SUPPORTED, TEE_SUCCESS,
                  TEEC_ORIGIN_TRUSTED_APP, err_name, parse_desc, public_key)

DIGESTINFO_PREFIX = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
HASH = {"sha1": hashes.SHA1, "sha224": hashes.SHA224,
        "sha256": hashes.SHA256, "sha384": hashes.SHA384,
        "sha512": hashes.SHA512}
# A DigestInfo of SHA3-256 (no per-hash PKCS#1 v1.5 algorithm in the TA).
SHA3_PREFIX = bytes.fromhex("3031300d060960864801650304020805000420")


@pytest.fixture(params=["tomcrypt", "mbedtls"])
def core(request):
    return request.param


def raw_supported(sim, core: str) -> bool:
    """Raw DigestInfo signing: a libtomcrypt core, or the TA's own
    mbedTLS backend (which pads in the TA)."""
    return core == "tomcrypt" or getattr(sim, "backend", "gp") == "mbedtls"


def test_digestinfo_every_hash_on_both_cores(sim_factory, core):
    sim = sim_factory("core", core_crypto=core)
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        ta = Otls(s)
        r = ta.generate("rsa", P.OTLS_KEY_RSA, 2048)
        assert r.rc == TEE_SUCCESS, err_name(r.rc)
        desc = parse_desc(r[3].data)
        pub = public_key(desc)
        # The default policy has caller DigestInfos on both cores.
        assert desc["policy"][0] & P.OTLS_ALLOW_RSA_PKCS1_DIGESTINFO
        for name, prefix in DIGESTINFO_PREFIX.items():
            digest = hashlib.new(name, b"per-hash " + name.encode()).digest()
            r = ta.sign("rsa", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO,
                        prefix + digest)
            assert r.rc == TEE_SUCCESS, (name, err_name(r.rc))
            pub.verify(r[3].data, digest, padding.PKCS1v15(),
                       utils.Prehashed(HASH[name]()))

        # Not a DigestInfo the TA knows: the raw algorithm.
        blobs = [SHA3_PREFIX + hashlib.sha3_256(b"x").digest(),
                 b"md5+sha1 of TLS 1.0 is 36 bytes.....",
                 # A known prefix with the wrong length is no DigestInfo.
                 DIGESTINFO_PREFIX["sha256"] + b"\1" * 31]
        for blob in blobs:
            r = ta.sign("rsa", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, blob)
            if raw_supported(sim, core):
                assert r.rc == TEE_SUCCESS, err_name(r.rc)
                assert pub.recover_data_from_signature(
                    r[3].data, padding.PKCS1v15(), None) == blob
            else:
                assert r.rc == TEE_ERROR_NOT_SUPPORTED, err_name(r.rc)
                assert r.origin == TEEC_ORIGIN_TRUSTED_APP
        # The session and the key are still fine.
        digest = hashlib.sha256(b"after").digest()
        r = ta.sign("rsa", P.OTLS_ALG_RSA_PKCS1_SHA256, digest)
        assert r.rc == TEE_SUCCESS, err_name(r.rc)
        pub.verify(r[3].data, digest, padding.PKCS1v15(),
                   utils.Prehashed(hashes.SHA256()))
    assert sim.stats()["panics"] == 0


@needs_provider
def test_openssl_sha1_sha224_and_raw_on_mbedtls_core(sim_factory, tmp_path,
                                                     plain_env):
    """What failed on real OP-TEE with an mbedTLS core: `openssl dgst
    -sha1/-sha224 -sign` with a TEE RSA key. Raw (no digest) signing gets
    a clear error there with the GP backend."""
    sim = sim_factory("core", core_crypto="mbedtls")
    ref = tmp_path / "r.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm",
            "RSA", "-pkeyopt", "bits:2048", "-pkeyopt", "label:r",
            "-out", ref)
    pub = tmp_path / "r.pub"
    openssl(sim, "pkey", "-in", ref, "-pubout", "-out", pub)
    msg = tmp_path / "m"
    msg.write_bytes(b"signed on an mbedTLS core\n")
    for md in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        sig = tmp_path / f"s.{md}"
        openssl(sim, "dgst", f"-{md}", "-sign", ref, "-out", sig, msg)
        plain(plain_env, "dgst", f"-{md}", "-verify", pub, "-signature",
              sig, msg)
    raw = tmp_path / "raw"
    raw.write_bytes(b"0123456789abcdef0123456789abcdef0123")
    res = openssl(sim, "pkeyutl", "-sign", "-inkey", ref, "-in", raw,
                  "-out", tmp_path / "raw.sig", check=False)
    if raw_supported(sim, "mbedtls"):
        assert res.returncode == 0, res.stderr
    else:
        assert res.returncode != 0
        assert b"not supported" in res.stderr, res.stderr
    assert sim.stats()["panics"] == 0
