"""optee-tls TA: every signature algorithm on every key type, checked with
the `cryptography` package against the public key from GET_KEY; policy and
algorithm/key mismatches; RSA decryption.

Keys are generated once per module (RSA generation is slow) in one
simulator; each test opens its own sessions.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from conftest import Sim
from teec import (
    P, Otls, Tee, TEE_ERROR_ACCESS_DENIED, TEE_ERROR_BAD_PARAMETERS,
    TEE_ERROR_CIPHERTEXT_INVALID, TEE_ERROR_ITEM_NOT_FOUND,
    TEE_ERROR_NOT_SUPPORTED,
    TEE_ERROR_SHORT_BUFFER, TEE_SUCCESS, TEEC_ORIGIN_TRUSTED_APP, err_name,
    parse_desc, public_key,
)

HASHES = {20: hashes.SHA1, 28: hashes.SHA224, 32: hashes.SHA256,
          48: hashes.SHA384, 64: hashes.SHA512}
PKCS1 = {P.OTLS_ALG_RSA_PKCS1_SHA256: hashes.SHA256,
         P.OTLS_ALG_RSA_PKCS1_SHA384: hashes.SHA384,
         P.OTLS_ALG_RSA_PKCS1_SHA512: hashes.SHA512}
PSS = {P.OTLS_ALG_RSA_PSS_SHA256: hashes.SHA256,
       P.OTLS_ALG_RSA_PSS_SHA384: hashes.SHA384,
       P.OTLS_ALG_RSA_PSS_SHA512: hashes.SHA512}
# DER prefixes of DigestInfo (RFC 8017 9.2 note 1).
DIGESTINFO_PREFIX = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
ALL_SIGN_ALGS = [P.OTLS_ALG_ECDSA, *PKCS1, P.OTLS_ALG_RSA_PKCS1_DIGESTINFO,
                 *PSS, P.OTLS_ALG_ED25519]
DECRYPT_ALGS = [P.OTLS_ALG_RSA_DECRYPT_PKCS1, P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA1,
                P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA256]

# label -> (key type, bits, allowed)
KEYS = {
    "p256": (P.OTLS_KEY_EC, 256, 0),
    "p384": (P.OTLS_KEY_EC, 384, 0),
    "p521": (P.OTLS_KEY_EC, 521, 0),
    "ed": (P.OTLS_KEY_ED25519, 256, 0),
    "rsa2048": (P.OTLS_KEY_RSA, 2048, 0),
    "rsa3072": (P.OTLS_KEY_RSA, 3072, 0),
    "rsa4096": (P.OTLS_KEY_RSA, 4096, 0),
    "pss-only": (P.OTLS_KEY_RSA, 2048, P.OTLS_ALLOW_RSA_PSS),
    "dec-pkcs1": (P.OTLS_KEY_RSA, 2048, P.OTLS_ALLOW_DECRYPT_PKCS1),
    "dec-all": (P.OTLS_KEY_RSA, 2048, P.OTLS_ALLOW_DECRYPT_PKCS1
                | P.OTLS_ALLOW_DECRYPT_OAEP | P.OTLS_ALLOW_RSA_PSS),
}


@pytest.fixture(scope="module")
def msim(ta_backend):
    workdir = Path(tempfile.mkdtemp(prefix="otls-sign-"))
    s = Sim(workdir, backend=ta_backend).start()
    yield s
    s.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def keys(msim):
    """label -> parsed description (with .pub), generated once."""
    out = {}
    with Tee(socket=msim.socket) as tee, tee.session() as s:
        ta = Otls(s)
        for label, (kt, bits, allowed) in KEYS.items():
            r = ta.generate(label, kt, bits, allowed=allowed)
            assert r.rc == TEE_SUCCESS, (label, err_name(r.rc))
            d = parse_desc(r[3].data)
            g = ta.get_key(label)
            assert g.rc == TEE_SUCCESS and g[1].data == r[3].data
            d["pub"] = public_key(d)
            out[label] = d
    return out


@pytest.fixture
def ta(msim, keys):
    with Tee(socket=msim.socket) as tee, tee.session() as s:
        yield Otls(s)
    assert msim.stats()["panics"] == 0


def assert_rc(r, rc):
    assert r.rc == rc, f"got {err_name(r.rc)}, want {err_name(rc)}"
    assert r.origin == TEEC_ORIGIN_TRUSTED_APP


def sign_ok(ta, label, alg, data, salt=0, size=None):
    r = ta.sign(label, alg, data, salt=salt)
    assert_rc(r, TEE_SUCCESS)
    sig = r[3].data
    if size is not None:
        assert len(sig) == size
    # Nothing written past the signature.
    assert r[3].raw[len(sig):] == b"\xa5" * (1024 - len(sig))
    return sig


# ---- ECDSA ----------------------------------------------------------------

def ecdsa_verify(pub, bits: int, digest: bytes, sig: bytes) -> None:
    n = (bits + 7) // 8
    assert len(sig) == 2 * n
    r, s = int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big")
    der = utils.encode_dss_signature(r, s)
    if len(digest) in HASHES:
        # OpenSSL applies SEC 1 truncation itself: an independent check.
        pub.verify(der, digest, ec.ECDSA(utils.Prehashed(
            HASHES[len(digest)]())))
        return
    # Odd lengths: SEC 1 uses the leftmost min(8*len, order bits) bits.
    # Longer than the order size: its leftmost n bytes are equivalent
    # (P-256/P-384 orders are whole bytes; P-521 never gets here, as
    # digests are at most 64 bytes); shorter: the same integer, zero
    # padded to the order size.
    if len(digest) >= n:
        eq = digest[:n]
    else:
        eq = digest.rjust(n if bits != 521 else 64, b"\0")
    pub.verify(der, eq, ec.ECDSA(utils.Prehashed(HASHES[len(eq)]())))


@pytest.mark.parametrize("label", ["p256", "p384", "p521"])
@pytest.mark.parametrize("dlen", [20, 28, 32, 48, 64])
def test_ecdsa_standard_digests(ta, keys, label, dlen):
    d = keys[label]
    digest = hashlib.new({20: "sha1", 28: "sha224", 32: "sha256",
                          48: "sha384", 64: "sha512"}[dlen],
                         f"{label}-{dlen}".encode()).digest()
    sig = sign_ok(ta, label, P.OTLS_ALG_ECDSA, digest,
                  size=2 * ((d["bits"] + 7) // 8))
    ecdsa_verify(d["pub"], d["bits"], digest, sig)
    # A different digest does not verify with that signature.
    with pytest.raises(InvalidSignature):
        ecdsa_verify(d["pub"], d["bits"], bytes(dlen), sig)


@pytest.mark.parametrize("label", ["p256", "p384", "p521"])
@pytest.mark.parametrize("dlen", [21, 33, 40, 47, 49, 63])
def test_ecdsa_odd_digest_lengths(ta, keys, label, dlen):
    d = keys[label]
    digest = os.urandom(dlen)
    sig = sign_ok(ta, label, P.OTLS_ALG_ECDSA, digest)
    ecdsa_verify(d["pub"], d["bits"], digest, sig)


def test_ecdsa_truncation_is_leftmost(ta, keys):
    """P-256 with a 64-byte digest: only the first 32 bytes count, so the
    signature also verifies as a signature of those 32 bytes."""
    d = keys["p256"]
    digest = os.urandom(32) + os.urandom(32)
    sig = sign_ok(ta, "p256", P.OTLS_ALG_ECDSA, digest)
    n = 32
    der = utils.encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                     int.from_bytes(sig[n:], "big"))
    d["pub"].verify(der, digest[:32], ec.ECDSA(utils.Prehashed(
        hashes.SHA256())))


@pytest.mark.parametrize("dlen", [0, 1, 16, 19, 65])
def test_ecdsa_bad_digest_lengths(ta, dlen):
    r = ta.sign("p256", P.OTLS_ALG_ECDSA, b"\1" * dlen)
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)


def test_ecdsa_signatures_are_randomized(ta, keys):
    digest = hashlib.sha256(b"x").digest()
    a = sign_ok(ta, "p384", P.OTLS_ALG_ECDSA, digest)
    b = sign_ok(ta, "p384", P.OTLS_ALG_ECDSA, digest)
    assert a != b
    for sig in (a, b):
        ecdsa_verify(keys["p384"]["pub"], 384, digest, sig)


# ---- RSA --------------------------------------------------------------------

@pytest.mark.parametrize("label", ["rsa2048", "rsa3072", "rsa4096"])
@pytest.mark.parametrize("alg", list(PKCS1))
def test_rsa_pkcs1(ta, keys, label, alg):
    d = keys[label]
    h = PKCS1[alg]
    digest = hashlib.new(h.name, label.encode()).digest()
    sig = sign_ok(ta, label, alg, digest, size=d["bits"] // 8)
    d["pub"].verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(h()))
    # Deterministic.
    assert sign_ok(ta, label, alg, digest) == sig


@pytest.mark.parametrize("alg", list(PKCS1) + list(PSS))
def test_rsa_digest_length_must_match_hash(ta, alg):
    hlen = (PKCS1.get(alg) or PSS.get(alg))().digest_size
    for n in (0, 20, hlen - 1, hlen + 1):
        if n == hlen:
            continue
        r = ta.sign("rsa2048", alg, b"\1" * n,
                    salt=P.OTLS_SALT_DIGEST_LEN if alg in PSS else 0)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)


@pytest.mark.parametrize("label", ["rsa2048", "rsa3072", "rsa4096"])
@pytest.mark.parametrize("name", ["sha1", "sha224", "sha256", "sha384",
                                  "sha512"])
def test_rsa_pkcs1_caller_digestinfo(ta, keys, label, name):
    d = keys[label]
    digest = hashlib.new(name, b"digestinfo").digest()
    di = DIGESTINFO_PREFIX[name] + digest
    sig = sign_ok(ta, label, P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, di,
                  size=d["bits"] // 8)
    # What the signature carries is exactly the caller's DigestInfo...
    assert d["pub"].recover_data_from_signature(
        sig, padding.PKCS1v15(), None) == di
    # ... and it is a standard PKCS#1 v1.5 signature of that digest.
    h = {"sha1": hashes.SHA1, "sha224": hashes.SHA224,
         "sha256": hashes.SHA256, "sha384": hashes.SHA384,
         "sha512": hashes.SHA512}[name]
    d["pub"].verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(h()))


def test_rsa_digestinfo_any_bytes_and_limits(ta, keys):
    d = keys["rsa2048"]
    for blob in (b"\x42", b"arbitrary TLS 1.0 md5+sha1 " + bytes(9),
                 os.urandom(P.OTLS_MAX_DIGESTINFO)):
        sig = sign_ok(ta, "rsa2048", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, blob)
        assert d["pub"].recover_data_from_signature(
            sig, padding.PKCS1v15(), None) == blob
    for blob in (b"", os.urandom(P.OTLS_MAX_DIGESTINFO + 1)):
        r = ta.sign("rsa2048", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, blob)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)


def pss_verify(pub, h, digest, sig, salt):
    pub.verify(sig, digest, padding.PSS(mgf=padding.MGF1(h()),
                                        salt_length=salt),
               utils.Prehashed(h()))


@pytest.mark.parametrize("label", ["rsa2048", "rsa3072", "rsa4096"])
@pytest.mark.parametrize("alg", list(PSS))
def test_rsa_pss_digest_length_salt(ta, keys, label, alg):
    d = keys[label]
    h = PSS[alg]
    digest = hashlib.new(h.name, label.encode()).digest()
    sig = sign_ok(ta, label, alg, digest, salt=P.OTLS_SALT_DIGEST_LEN,
                  size=d["bits"] // 8)
    pss_verify(d["pub"], h, digest, sig, h.digest_size)
    # Randomized (salted).
    assert sign_ok(ta, label, alg, digest, salt=P.OTLS_SALT_DIGEST_LEN) != sig


@pytest.mark.parametrize("alg", list(PSS))
def test_rsa_pss_explicit_salts(ta, keys, alg):
    d = keys["rsa2048"]
    h = PSS[alg]
    hlen = h.digest_size
    em_len = (2048 + 6) // 8
    max_salt = em_len - hlen - 2
    digest = hashlib.new(h.name, b"salt").digest()
    for salt in (0, 1, 20, hlen, 100, max_salt):
        sig = sign_ok(ta, "rsa2048", alg, digest, salt=salt)
        pss_verify(d["pub"], h, digest, sig, salt)
        if salt:
            with pytest.raises(InvalidSignature):
                pss_verify(d["pub"], h, digest, sig, salt - 1)
    for salt in (max_salt + 1, 256, 10000, 0x7FFFFFFF, 0xFFFFFFFE):
        r = ta.sign("rsa2048", alg, digest, salt=salt)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)


# ---- Ed25519 ------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 64, 1000, P.OTLS_MAX_MESSAGE])
def test_ed25519(ta, keys, n):
    msg = os.urandom(n)
    sig = sign_ok(ta, "ed", P.OTLS_ALG_ED25519, msg, size=64)
    keys["ed"]["pub"].verify(sig, msg)
    # Deterministic (RFC 8032).
    assert sign_ok(ta, "ed", P.OTLS_ALG_ED25519, msg) == sig
    with pytest.raises(InvalidSignature):
        keys["ed"]["pub"].verify(sig, msg + b"x")


# ---- Algorithm / key / policy mismatches ------------------------------------

SIGN_FAMILY = {P.OTLS_ALG_ECDSA: P.OTLS_KEY_EC,
               P.OTLS_ALG_ED25519: P.OTLS_KEY_ED25519,
               P.OTLS_ALG_RSA_PKCS1_DIGESTINFO: P.OTLS_KEY_RSA,
               **{a: P.OTLS_KEY_RSA for a in PKCS1},
               **{a: P.OTLS_KEY_RSA for a in PSS}}


def plausible_input(alg):
    if alg in PKCS1:
        return b"\1" * PKCS1[alg]().digest_size
    if alg in PSS:
        return b"\1" * PSS[alg]().digest_size
    return b"\1" * 32


@pytest.mark.parametrize("label", ["p256", "ed", "rsa2048"])
def test_algorithm_that_does_not_fit_key(ta, keys, label):
    kt = keys[label]["key_type"]
    for alg in ALL_SIGN_ALGS:
        if SIGN_FAMILY[alg] == kt:
            continue
        r = ta.sign(label, alg, plausible_input(alg),
                    salt=P.OTLS_SALT_DIGEST_LEN if alg in PSS else 0)
        assert_rc(r, TEE_ERROR_NOT_SUPPORTED)
    for alg in DECRYPT_ALGS:
        r = ta.decrypt(label, alg, b"\1" * 256)
        assert_rc(r, TEE_ERROR_NOT_SUPPORTED if kt != P.OTLS_KEY_RSA
                  else TEE_ERROR_ACCESS_DENIED)


def test_key_independent_length_checks_come_first(ta, keys):
    """The header orders SIGN's checks: input size limits that do not
    depend on the key (BAD_PARAMETERS) before the key lookup
    (ITEM_NOT_FOUND) and before "algorithm does not fit the key"
    (NOT_SUPPORTED). The ECDSA minimum, the exact PKCS1/PSS hash size and
    an empty DigestInfo used to be checked only after the key was loaded."""
    bad = [(P.OTLS_ALG_ECDSA, b"\1" * 19), (P.OTLS_ALG_ECDSA, b""),
           (P.OTLS_ALG_RSA_PKCS1_SHA256, b"\1" * 31),
           (P.OTLS_ALG_RSA_PKCS1_SHA384, b"\1" * 32),
           (P.OTLS_ALG_RSA_PSS_SHA256, b"\1" * 48),
           (P.OTLS_ALG_RSA_PSS_SHA512, b"\1" * 20),
           (P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, b"")]
    for alg, data in bad:
        salt = P.OTLS_SALT_DIGEST_LEN if alg in PSS else 0
        # No such key: the malformed input is what gets answered.
        assert_rc(ta.sign("no-such-key", alg, data, salt=salt),
                  TEE_ERROR_BAD_PARAMETERS)
        # A key of another type: still the input first.
        other = "ed" if SIGN_FAMILY[alg] != P.OTLS_KEY_ED25519 else "p256"
        assert_rc(ta.sign(other, alg, data, salt=salt),
                  TEE_ERROR_BAD_PARAMETERS)
    # Well-formed inputs still get the later answers.
    assert_rc(ta.sign("no-such-key", P.OTLS_ALG_ECDSA, b"\1" * 32),
              TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.sign("rsa2048", P.OTLS_ALG_ECDSA, b"\1" * 20),
              TEE_ERROR_NOT_SUPPORTED)
    assert_rc(ta.sign("p256", P.OTLS_ALG_RSA_PSS_SHA256, b"\1" * 32,
                      salt=P.OTLS_SALT_DIGEST_LEN), TEE_ERROR_NOT_SUPPORTED)


def test_unknown_algorithms(ta):
    for alg in (0, 1, 0x0101, 0x0200, 0x0204, 0x0211, 0x0304, 0x0401,
                0x0504, 0xFFFFFFFF):
        assert_rc(ta.sign("rsa2048", alg, b"\1" * 32), TEE_ERROR_NOT_SUPPORTED)
        assert_rc(ta.decrypt("rsa2048", alg, b"\1" * 256),
                  TEE_ERROR_NOT_SUPPORTED)
    # Sign algorithms are not decryption algorithms and vice versa.
    for alg in ALL_SIGN_ALGS:
        assert_rc(ta.decrypt("dec-all", alg, b"\1" * 256),
                  TEE_ERROR_NOT_SUPPORTED)
    for alg in DECRYPT_ALGS:
        assert_rc(ta.sign("dec-all", alg, b"\1" * 32),
                  TEE_ERROR_NOT_SUPPORTED)


def test_policy_pss_only(ta, keys):
    d = keys["pss-only"]
    assert d["policy"] == (P.OTLS_ALLOW_RSA_PSS, 0, 0, 0)
    digest = hashlib.sha256(b"pss").digest()
    sig = sign_ok(ta, "pss-only", P.OTLS_ALG_RSA_PSS_SHA256, digest,
                  salt=P.OTLS_SALT_DIGEST_LEN)
    pss_verify(d["pub"], hashes.SHA256, digest, sig, 32)
    for alg in PKCS1:
        r = ta.sign("pss-only", alg, plausible_input(alg))
        assert_rc(r, TEE_ERROR_ACCESS_DENIED)
    r = ta.sign("pss-only", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO,
                DIGESTINFO_PREFIX["sha256"] + digest)
    assert_rc(r, TEE_ERROR_ACCESS_DENIED)
    for alg in DECRYPT_ALGS:
        assert_rc(ta.decrypt("pss-only", alg, b"\1" * 256),
                  TEE_ERROR_ACCESS_DENIED)


def test_decrypt_only_key_cannot_sign(ta):
    for alg in list(PKCS1) + list(PSS) + [P.OTLS_ALG_RSA_PKCS1_DIGESTINFO]:
        r = ta.sign("dec-pkcs1", alg, plausible_input(alg),
                    salt=P.OTLS_SALT_DIGEST_LEN if alg in PSS else 0)
        assert_rc(r, TEE_ERROR_ACCESS_DENIED)


# ---- Decryption --------------------------------------------------------------

def encrypt(pub, alg, pt):
    if alg == P.OTLS_ALG_RSA_DECRYPT_PKCS1:
        return pub.encrypt(pt, padding.PKCS1v15())
    h = hashes.SHA1 if alg == P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA1 \
        else hashes.SHA256
    return pub.encrypt(pt, padding.OAEP(mgf=padding.MGF1(h()),
                                        algorithm=h(), label=None))


def test_decrypt_refused_by_default(ta, keys):
    for label in ("rsa2048", "rsa3072", "rsa4096"):
        pub = keys[label]["pub"]
        for alg in DECRYPT_ALGS:
            ct = encrypt(pub, alg, b"secret")
            assert_rc(ta.decrypt(label, alg, ct), TEE_ERROR_ACCESS_DENIED)


@pytest.mark.parametrize("alg", DECRYPT_ALGS)
def test_decrypt_roundtrip(ta, keys, alg):
    pub = keys["dec-all"]["pub"]
    for pt in (b"\x03\x03" + os.urandom(46), b"x", b""):
        ct = encrypt(pub, alg, pt)
        assert len(ct) == 256
        r = ta.decrypt("dec-all", alg, ct)
        assert_rc(r, TEE_SUCCESS)
        assert r[3].data == pt
        assert r[3].raw[len(pt):] == b"\xa5" * (1024 - len(pt))


def test_decrypt_policy_per_padding(ta, keys):
    pub = keys["dec-pkcs1"]["pub"]
    ct = encrypt(pub, P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"premaster")
    r = ta.decrypt("dec-pkcs1", P.OTLS_ALG_RSA_DECRYPT_PKCS1, ct)
    assert_rc(r, TEE_SUCCESS)
    assert r[3].data == b"premaster"
    for alg in (P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA1,
                P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA256):
        ct = encrypt(pub, alg, b"premaster")
        assert_rc(ta.decrypt("dec-pkcs1", alg, ct), TEE_ERROR_ACCESS_DENIED)


def test_decrypt_errors(ta, keys):
    pub = keys["dec-all"]["pub"]
    alg = P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA256
    ct = encrypt(pub, alg, b"0123456789")
    # Wrong ciphertext size.
    for bad in (ct[:-1], ct + b"\0", b"", ct[:128]):
        assert_rc(ta.decrypt("dec-all", alg, bad), TEE_ERROR_BAD_PARAMETERS)
    # Value b must be 0.
    assert_rc(ta.decrypt("dec-all", alg, ct, b=1), TEE_ERROR_BAD_PARAMETERS)
    # Wrong padding for the ciphertext, garbage, and c >= n.
    assert_rc(ta.decrypt("dec-all", P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA1, ct),
              TEE_ERROR_CIPHERTEXT_INVALID)
    assert_rc(ta.decrypt("dec-all", P.OTLS_ALG_RSA_DECRYPT_PKCS1, ct),
              TEE_ERROR_CIPHERTEXT_INVALID)
    assert_rc(ta.decrypt("dec-all", alg, b"\xff" * 256),
              TEE_ERROR_CIPHERTEXT_INVALID)
    assert_rc(ta.decrypt("dec-all", alg, keys["dec-all"]["a"]),
              TEE_ERROR_CIPHERTEXT_INVALID)
    # Short output: the size of the plaintext comes back, no plaintext.
    r = ta.decrypt("dec-all", alg, ct, out_size=5)
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[3].size == 10
    assert r[3].data is None
    r = ta.decrypt("dec-all", alg, ct, out_size=10)
    assert_rc(r, TEE_SUCCESS)
    assert r[3].data == b"0123456789"


def test_signature_output_sizes(ta, keys):
    """SHORT_BUFFER answers the exact signature size for every key."""
    cases = [("p256", P.OTLS_ALG_ECDSA, 64), ("p384", P.OTLS_ALG_ECDSA, 96),
             ("p521", P.OTLS_ALG_ECDSA, 132), ("ed", P.OTLS_ALG_ED25519, 64),
             ("rsa2048", P.OTLS_ALG_RSA_PKCS1_SHA256, 256),
             ("rsa3072", P.OTLS_ALG_RSA_PKCS1_SHA256, 384),
             ("rsa4096", P.OTLS_ALG_RSA_PKCS1_SHA256, 512)]
    for label, alg, size in cases:
        r = ta.sign(label, alg, b"\1" * 32, out_size=size - 1)
        assert_rc(r, TEE_ERROR_SHORT_BUFFER)
        assert r[3].size == size
        r = ta.sign(label, alg, b"\1" * 32, out_size=size)
        assert_rc(r, TEE_SUCCESS)
        assert r[3].size == size


def test_error_paths_write_nothing(ta, keys):
    """Refused requests leave the output buffer as it was (the simulator
    may hand back the TA's zeroed buffer, never anything else)."""
    digest = hashlib.sha256(b"e").digest()
    pub = keys["dec-pkcs1"]["pub"]
    cases = [
        ta.sign("pss-only", P.OTLS_ALG_RSA_PKCS1_SHA256, digest),
        ta.sign("p256", P.OTLS_ALG_RSA_PKCS1_SHA256, digest),
        ta.sign("p256", P.OTLS_ALG_ECDSA, b"\1" * 19),
        ta.sign("rsa2048", P.OTLS_ALG_RSA_PSS_SHA256, digest, salt=300),
        ta.sign("nope", P.OTLS_ALG_ECDSA, digest),
        ta.decrypt("rsa2048", P.OTLS_ALG_RSA_DECRYPT_PKCS1,
                   encrypt(keys["rsa2048"]["pub"],
                           P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"x")),
        ta.decrypt("dec-pkcs1", P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"\xff" * 256),
        ta.decrypt("dec-pkcs1", P.OTLS_ALG_RSA_DECRYPT_PKCS1,
                   encrypt(pub, P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"y" * 40),
                   out_size=39),
    ]
    for r in cases:
        assert r.rc != TEE_SUCCESS
        assert set(r[3].raw) <= {0x00, 0xA5}, err_name(r.rc)
