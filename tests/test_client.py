"""libopteetls (engine/client) against the simulated TEE.

A small C driver (tests/client/otls_client_test.c) is built against
build/lib/libopteetls.so and prints one JSON object per result. Every
signature is verified with the `cryptography` package against the SPKI DER
that the library builds from the TA's public components. TA invocations,
sessions and panics are read from the simulator's exact counters.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from tlsutil import der_tlv as _tlv

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LIBDIR = BUILD / "lib"
DRIVER_SRC = ROOT / "tests" / "client" / "otls_client_test.c"


def _defines(path: Path) -> dict[str, int]:
    """Integer constants of a header (plain numbers and (1u << n))."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"#define\s+OTLS_(\w+)\s+(.*?)\s*(/\*.*)?$", line)
        if not m:
            continue
        expr = re.sub(r"\b(0x[0-9A-Fa-f]+|\d+)[uU]\b", r"\1", m.group(2))
        if re.fullmatch(r"[0-9A-Fa-fx()<| ]+", expr or "-"):
            out[m.group(1)] = eval(expr)  # noqa: S307 (digits and << only)
    return out


C = _defines(ROOT / "ta" / "include" / "optee_tls_ta.h")
ERR = {m.group(1): int(m.group(2)) for m in re.finditer(
    r"OTLS_(OK|ERR_\w+)\s*=\s*(-?\d+)",
    (ROOT / "engine" / "include" / "optee_tls.h").read_text())}

KEY_TYPES = [("EC", 256), ("EC", 384), ("EC", 521), ("RSA", 2048),
             ("RSA", 3072), ("RSA", 4096), ("ED25519", 256)]
HASH = {20: hashes.SHA1(), 32: hashes.SHA256(), 48: hashes.SHA384(),
        64: hashes.SHA512()}
PY_HASH = {hashes.SHA1: hashlib.sha1, hashes.SHA256: hashlib.sha256,
           hashes.SHA384: hashlib.sha384, hashes.SHA512: hashlib.sha512}
DIGESTINFO_PREFIX = {
    32: bytes.fromhex("3031300d060960864801650304020105000420"),
    48: bytes.fromhex("3041300d060960864801650304020205000430"),
    64: bytes.fromhex("3051300d060960864801650304020305000440"),
}
CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}
SALT_DIGEST_LEN = C["SALT_DIGEST_LEN"]


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Path:
    lib = LIBDIR / "libopteetls.so"
    if not lib.exists():
        pytest.fail(f"{lib} missing: run make first")
    exe = tmp_path_factory.mktemp("client") / "otls_client_test"
    p = subprocess.run(
        ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
         "-O1", "-g", f"-I{ROOT / 'engine' / 'include'}",
         f"-I{ROOT / 'ta' / 'include'}", str(DRIVER_SRC), "-o", str(exe),
         f"-L{LIBDIR}", f"-Wl,-rpath-link,{LIBDIR}", "-lopteetls",
         "-lpthread",
         # make sanitize: the driver under TSan with the library
         *os.environ.get("OTLS_TEST_CFLAGS", "").split()],
        capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return exe


class Client:
    """Runs the driver in one simulator's environment."""

    def __init__(self, exe: Path, sim, extra_env: dict | None = None):
        self.exe = exe
        self.sim = sim
        self.env = dict(sim.env)
        self.env.update(extra_env or {})

    def lines(self, *args, env: dict | None = None) -> list[dict]:
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([str(self.exe), *map(str, args)], env=e,
                           capture_output=True, text=True, timeout=300)
        if p.returncode not in (0, 1):
            raise AssertionError(f"driver {args} exited {p.returncode}: "
                                 f"{p.stderr}")
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def one(self, *args, env: dict | None = None) -> dict:
        out = self.lines(*args, env=env)
        assert len(out) == 1, out
        return out[0]

    def repl(self, env: dict | None = None) -> "Repl":
        e = dict(self.env)
        e.update(env or {})
        return Repl(self.exe, e)


class Repl:
    """One long-lived driver process: keeps its sessions between commands."""

    def __init__(self, exe: Path, env: dict):
        self.p = subprocess.Popen([str(exe), "repl"], env=env,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def __call__(self, *args) -> dict:
        self.p.stdin.write(" ".join(map(str, args)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "driver died: " + self.p.stderr.read()
        return json.loads(line)

    def lines(self, *args, until: str = "done") -> list[dict]:
        self.p.stdin.write(" ".join(map(str, args)) + "\n")
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            assert line, "driver died: " + self.p.stderr.read()
            d = json.loads(line)
            if until in d:
                return out
            out.append(d)

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture(scope="module")
def msim(tmp_path_factory):
    """One simulator for the tests that only need keys (keys are slow)."""
    from conftest import Sim  # tests/conftest.py, loaded by pytest
    s = Sim(tmp_path_factory.mktemp("client-sim"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def mclient(driver, msim) -> Client:
    return Client(driver, msim)


@pytest.fixture
def client(driver, sim) -> Client:
    return Client(driver, sim)


_made: dict[tuple, dict] = {}


def key(cl: Client, kt: str, bits: int, label: str | None = None,
        policy: tuple | None = None) -> dict:
    """A key in the module simulator, generated once."""
    label = label or f"k-{kt.lower()}{bits}"
    ident = (id(cl.sim), label)
    if ident not in _made:
        args = ["gen", label, C[f"KEY_{kt}"], bits]
        if policy:
            args += list(policy)
        r = cl.one(*args)
        assert r["rc"] == 0, r
        _made[ident] = r
    return _made[ident]


def pub(k: dict):
    return serialization.load_der_public_key(bytes.fromhex(k["spki"]))


def verify(k: dict, alg: int, tbs: bytes, sig: bytes, salt: int = 0) -> None:
    """Raise InvalidSignature unless sig is right for tbs under alg."""
    pk = pub(k)
    if alg == C["ALG_ECDSA"]:
        # strict DER: decode/encode round-trips byte for byte
        r, s = asym_utils.decode_dss_signature(sig)
        assert asym_utils.encode_dss_signature(r, s) == sig
        pk.verify(sig, tbs, ec.ECDSA(asym_utils.Prehashed(HASH[len(tbs)])))
    elif alg in (C["ALG_RSA_PKCS1_SHA256"], C["ALG_RSA_PKCS1_SHA384"],
                 C["ALG_RSA_PKCS1_SHA512"]):
        pk.verify(sig, tbs, padding.PKCS1v15(),
                  asym_utils.Prehashed(HASH[len(tbs)]))
    elif alg == C["ALG_RSA_PKCS1_DIGESTINFO"]:
        if pk.recover_data_from_signature(sig, padding.PKCS1v15(),
                                          None) != tbs:
            raise InvalidSignature()
    elif alg in (C["ALG_RSA_PSS_SHA256"], C["ALG_RSA_PSS_SHA384"],
                 C["ALG_RSA_PSS_SHA512"]):
        h = HASH[len(tbs)]
        sl = h.digest_size if salt == SALT_DIGEST_LEN else salt
        pk.verify(sig, tbs, padding.PSS(mgf=padding.MGF1(h), salt_length=sl),
                  asym_utils.Prehashed(h))
    elif alg == C["ALG_ED25519"]:
        pk.verify(sig, tbs)
    else:
        raise AssertionError(f"unknown alg {alg}")


def stats_delta(sim, before: dict) -> dict:
    after = sim.stats()
    return {k: after[k] - before.get(k, 0) for k in after}


# ---------------------------------------------------------------------------
# labels, URIs, sizes: no TA involved
# ---------------------------------------------------------------------------

GOOD_URIS = [("optee:abc", "abc"), ("optee:label=abc", "abc"),
             ("optee:A.b_c-9", "A.b_c-9"), ("optee:" + "x" * 32, "x" * 32),
             ("optee:label=" + "y" * 32, "y" * 32), ("optee:label", "label"),
             ("optee:0", "0")]
BAD_URIS = ["", "optee:", "optee:label=", "pkcs11:abc", "OPTEE:abc",
            "optee abc", "optee:-abc", "optee:.abc", "optee:a b", "optee:abc/",
            "optee:abc?x=1", "optee:" + "x" * 33, "optee:label=" + "y" * 33,
            "optee:label=abc=def", "optee:abc\n", "optee://abc",
            "optee:label:abc", "optee:name=abc", "optee:ab\u00e9", "abc",
            " optee:abc", "optee:abc "]
BAD_LABELS = ["", "-a", ".a", "_a", "a" * 33, "a/b", "a b", "a:b", "a=b",
              "ab\u00e9", "a\tb"]


def test_uri_and_label_parsing(mclient, msim):
    before = msim.stats()
    for uri, label in GOOD_URIS:
        r = mclient.one("uri", uri)
        assert (r["rc"], r["label"]) == (0, label), uri
    for uri in BAD_URIS:
        r = mclient.one("uri", uri if uri else "-")
        assert r["rc"] == ERR["ERR_BAD_INPUT"], uri
        assert r["tee"] == 0
    for label in ["a", "A", "9", "a.b_c-d", "z" * 32]:
        assert mclient.one("label", label)["rc"] == 0, label
    for label in BAD_LABELS:
        assert mclient.one("label", label if label else "-")["rc"] == \
            ERR["ERR_BAD_INPUT"], label
    # malformed labels never reach the TA, whatever the operation
    for label in ["-a", "a" * 33, "a/b"]:
        assert mclient.one("get", label)["rc"] == ERR["ERR_BAD_INPUT"]
        assert mclient.one("del", label)["rc"] == ERR["ERR_BAD_INPUT"]
        assert mclient.one("gen", label, C["KEY_EC"], 256)["rc"] == \
            ERR["ERR_BAD_INPUT"]
        assert mclient.one("sign", label, C["ALG_ED25519"], 0, "00")["rc"] \
            == ERR["ERR_BAD_INPUT"]
    assert stats_delta(msim, before)["ta_invocations"] == 0
    assert stats_delta(msim, before)["sessions_opened"] == 0


def test_sig_max_size_without_ta(mclient, msim):
    before = msim.stats()
    want = {("EC", 256): 72, ("EC", 384): 104, ("EC", 521): 141,
            ("RSA", 2048): 256, ("RSA", 3072): 384, ("RSA", 4096): 512,
            ("ED25519", 256): 64}
    for (kt, bits), size in want.items():
        assert mclient.one("maxsize", C[f"KEY_{kt}"], bits)["size"] == size
    assert mclient.one("maxsize", C["KEY_EC"], 224)["size"] == 0
    assert mclient.one("maxsize", 99, 256)["size"] == 0
    assert stats_delta(msim, before)["ta_invocations"] == 0


def test_strerror_sentences(mclient):
    msg = {name: mclient.one("strerror", code)["msg"]
           for name, code in ERR.items()}
    assert msg["ERR_NOT_FOUND"] == "key not found in the TEE"
    assert "TEE not reachable" in msg["ERR_TEE_UNREACHABLE"]
    assert "/dev/tee0" in msg["ERR_TEE_UNREACHABLE"]
    assert C and "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61.ta" in \
        msg["ERR_TA_NOT_INSTALLED"]
    assert msg["ERR_DENIED"] == "operation not allowed by the key's policy"
    assert len(set(msg.values())) == len(msg)
    assert mclient.one("strerror", -1000)["msg"]


# ---------------------------------------------------------------------------
# key management
# ---------------------------------------------------------------------------


def test_info(mclient):
    r = mclient.one("info")
    assert r["rc"] == 0, r
    assert r["protocol_version"] == C["PROTOCOL_VERSION"]
    assert r["label_max"] == C["LABEL_MAX"]
    assert r["max_keys"] == C["MAX_KEYS"]


@pytest.mark.parametrize("kt,bits", KEY_TYPES,
                         ids=[f"{k.lower()}{b}" for k, b in KEY_TYPES])
def test_generate_get_list_delete(mclient, kt, bits):
    label = f"life-{kt.lower()}{bits}"
    g = mclient.one("gen", label, C[f"KEY_{kt}"], bits)
    assert g["rc"] == 0, g
    assert (g["label"], g["type"], g["bits"]) == (label, C[f"KEY_{kt}"], bits)
    assert g["spki_rc"] == 0
    pk = pub(g)
    # hand-written DER, canonical: what cryptography itself writes
    assert pk.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo).hex() == g["spki"]
    if kt == "EC":
        assert isinstance(pk, ec.EllipticCurvePublicKey)
        assert isinstance(pk.curve, CURVES[bits])
        assert g["allowed"] == C["ALLOW_ECDSA"]
    elif kt == "RSA":
        assert isinstance(pk, rsa.RSAPublicKey)
        assert pk.key_size == bits
        assert pk.public_numbers().e == 65537
        assert g["allowed"] & C["ALLOW_RSA_PSS"]
        assert not g["allowed"] & (C["ALLOW_DECRYPT_PKCS1"] |
                                   C["ALLOW_DECRYPT_OAEP"])
    else:
        assert isinstance(pk, ed25519.Ed25519PublicKey)
        assert g["allowed"] == C["ALLOW_ED25519"]
    assert g["owner_kind"] == C["OWNER_ANY"]

    got = mclient.one("get", label)
    assert got["rc"] == 0, got
    for f in ("type", "bits", "spki", "allowed", "pub_a", "pub_b"):
        assert got[f] == g[f], f

    listed = mclient.one("list")
    assert listed["rc"] == 0
    labels = [e["label"] for e in listed["keys"]]
    assert labels == sorted(labels)
    entry = [e for e in listed["keys"] if e["label"] == label]
    assert len(entry) == 1
    assert (entry[0]["type"], entry[0]["bits"]) == (C[f"KEY_{kt}"], bits)

    assert mclient.one("del", label)["rc"] == 0
    r = mclient.one("get", label)
    assert r["rc"] == ERR["ERR_NOT_FOUND"]
    assert r["msg"] == "key not found in the TEE"
    assert label not in [e["label"] for e in mclient.one("list")["keys"]]
    assert mclient.one("del", label)["rc"] == ERR["ERR_NOT_FOUND"]


def test_generate_errors(mclient, msim):
    key(mclient, "EC", 256)
    r = mclient.one("gen", "k-ec256", C["KEY_EC"], 256)
    assert r["rc"] == ERR["ERR_EXISTS"], r
    r = mclient.one("gen", "k-ec256", C["KEY_ED25519"], 256)
    assert r["rc"] == ERR["ERR_EXISTS"], r
    before = msim.stats()
    # sizes and types the protocol does not define: refused locally
    assert mclient.one("gen", "odd", C["KEY_EC"], 224)["rc"] == \
        ERR["ERR_UNSUPPORTED"]
    assert mclient.one("gen", "odd", C["KEY_RSA"], 1024)["rc"] == \
        ERR["ERR_UNSUPPORTED"]
    assert mclient.one("gen", "odd", 77, 256)["rc"] == ERR["ERR_UNSUPPORTED"]
    # malformed policies
    assert mclient.one("gen", "odd", C["KEY_EC"], 256, 1, 9, 0)["rc"] == \
        ERR["ERR_BAD_INPUT"]
    assert mclient.one("gen", "odd", C["KEY_EC"], 256, 1, 0, 5)["rc"] == \
        ERR["ERR_BAD_INPUT"]
    assert stats_delta(msim, before)["ta_invocations"] == 0
    # the TA refuses a policy that does not fit the key type
    r = mclient.one("gen", "odd", C["KEY_EC"], 256, C["ALLOW_RSA_PSS"], 0, 0)
    assert r["rc"] in (ERR["ERR_BAD_INPUT"], ERR["ERR_UNSUPPORTED"]), r
    assert mclient.one("get", "odd")["rc"] == ERR["ERR_NOT_FOUND"]


# ---------------------------------------------------------------------------
# signatures
# ---------------------------------------------------------------------------

SIGN_CASES = []
for _bits in (256, 384, 521):
    for _dl in (20, 32, 48, 64):
        SIGN_CASES.append((("EC", _bits), "ALG_ECDSA", _dl, 0))
for _name, _dl in (("SHA256", 32), ("SHA384", 48), ("SHA512", 64)):
    SIGN_CASES.append((("RSA", 2048), f"ALG_RSA_PKCS1_{_name}", _dl, 0))
    SIGN_CASES.append((("RSA", 2048), f"ALG_RSA_PSS_{_name}", _dl,
                       SALT_DIGEST_LEN))
    SIGN_CASES.append((("RSA", 2048), "ALG_RSA_PKCS1_DIGESTINFO", _dl, 0))
SIGN_CASES += [
    (("RSA", 2048), "ALG_RSA_PSS_SHA256", 32, 0),
    (("RSA", 2048), "ALG_RSA_PSS_SHA256", 32, 20),
    (("RSA", 3072), "ALG_RSA_PSS_SHA384", 48, SALT_DIGEST_LEN),
    (("RSA", 3072), "ALG_RSA_PKCS1_SHA256", 32, 0),
    (("RSA", 4096), "ALG_RSA_PSS_SHA512", 64, SALT_DIGEST_LEN),
    (("RSA", 4096), "ALG_RSA_PKCS1_SHA512", 64, 0),
    (("ED25519", 256), "ALG_ED25519", 0, 0),
    (("ED25519", 256), "ALG_ED25519", 1, 0),
    (("ED25519", 256), "ALG_ED25519", 1000, 0),
    (("ED25519", 256), "ALG_ED25519", C["MAX_MESSAGE"], 0),
]


def _tbs(alg: str, dl: int, seed: bytes = b"optee-tls") -> bytes:
    if alg == "ALG_ED25519":
        return (seed * (dl // len(seed) + 1))[:dl]
    h = {20: hashlib.sha1, 32: hashlib.sha256, 48: hashlib.sha384,
         64: hashlib.sha512}[dl](seed).digest()
    if alg == "ALG_RSA_PKCS1_DIGESTINFO":
        return DIGESTINFO_PREFIX[dl] + h
    return h


@pytest.mark.parametrize(
    "kt,alg,dl,salt", SIGN_CASES,
    ids=[f"{k[0].lower()}{k[1]}-{a[4:].lower()}-{d}-{'dl' if s == SALT_DIGEST_LEN else s}"
         for k, a, d, s in SIGN_CASES])
def test_sign_and_verify(mclient, tmp_path, kt, alg, dl, salt):
    k = key(mclient, *kt)
    tbs = _tbs(alg, dl)
    arg = tbs.hex() if tbs else "-"
    if len(arg) > 4096:
        (tmp_path / "tbs.hex").write_text(arg)
        arg = "@" + str(tmp_path / "tbs.hex")
    r = mclient.one("sign", k["label"], C[alg], salt, arg)
    assert r["rc"] == 0, r
    sig = bytes.fromhex(r["sig"])
    assert len(sig) <= k["max_sig"]
    verify(k, C[alg], tbs, sig, salt)
    with pytest.raises(InvalidSignature):
        verify(k, C[alg], tbs, bytes([sig[0] ^ 1]) + sig[1:], salt) \
            if alg != "ALG_ECDSA" else \
            pub(k).verify(sig, bytes([tbs[0] ^ 1]) + tbs[1:],
                          ec.ECDSA(asym_utils.Prehashed(HASH[len(tbs)])))


@pytest.mark.parametrize("bits", [256, 384, 521])
def test_ecdsa_raw_output(mclient, bits):
    k = key(mclient, "EC", bits)
    tbs = hashlib.sha256(b"raw").digest()
    r = mclient.one("sign", k["label"], C["ALG_ECDSA"], 0, tbs.hex(),
                    1)  # OTLS_SIG_ECDSA_RAW
    assert r["rc"] == 0, r
    raw = bytes.fromhex(r["sig"])
    n = (bits + 7) // 8
    assert len(raw) == 2 * n
    der = asym_utils.encode_dss_signature(int.from_bytes(raw[:n], "big"),
                                          int.from_bytes(raw[n:], "big"))
    verify(k, C["ALG_ECDSA"], tbs, der)


def test_exactly_one_invocation_per_sign(mclient, msim):
    k = key(mclient, "EC", 256)
    tbs = hashlib.sha256(b"count").digest().hex()
    # a fresh process: one session, one invocation (no version probe)
    before = msim.stats()
    assert mclient.one("sign", k["label"], C["ALG_ECDSA"], 0, tbs)["rc"] == 0
    d = stats_delta(msim, before)
    assert (d["sessions_opened"], d["ta_invocations"]) == (1, 1), d
    with mclient.repl() as rp:
        assert rp("sign", k["label"], C["ALG_ECDSA"], 0, tbs)["rc"] == 0
        before = msim.stats()
        for _ in range(10):
            r = rp("sign", k["label"], C["ALG_ECDSA"], 0, tbs)
            assert r["rc"] == 0
            verify(k, C["ALG_ECDSA"], bytes.fromhex(tbs),
                   bytes.fromhex(r["sig"]))
        d = stats_delta(msim, before)
        assert d["ta_invocations"] == 10, d
        assert d["sessions_opened"] == 0, d
        assert d["storage_opens"] == 0, d  # the TA keeps the key open
        # decrypt too: exactly one each
        dk = key(mclient, "RSA", 2048, "k-dec", (
            C["ALLOW_DECRYPT_PKCS1"] | C["ALLOW_DECRYPT_OAEP"], 0, 0))
        ct = pub(dk).encrypt(b"secret", padding.PKCS1v15())
        assert rp("decrypt", "k-dec", C["ALG_RSA_DECRYPT_PKCS1"],
                  ct.hex())["rc"] == 0
        before = msim.stats()
        for _ in range(3):
            assert rp("decrypt", "k-dec", C["ALG_RSA_DECRYPT_PKCS1"],
                      ct.hex())["rc"] == 0
        assert stats_delta(msim, before)["ta_invocations"] == 3


def test_sign_errors(mclient, msim, tmp_path):
    ec_k = key(mclient, "EC", 256)
    rsa_k = key(mclient, "RSA", 2048)
    ed_k = key(mclient, "ED25519", 256)
    d32 = hashlib.sha256(b"x").digest().hex()
    before = msim.stats()
    # digest lengths that fit no algorithm: refused before the TA
    for alg, tbs in [("ALG_ECDSA", "00" * 19), ("ALG_ECDSA", "00" * 65),
                     ("ALG_RSA_PKCS1_SHA256", "00" * 31),
                     ("ALG_RSA_PSS_SHA384", d32),
                     ("ALG_RSA_PKCS1_DIGESTINFO", "00" * 84),
                     ("ALG_RSA_PKCS1_DIGESTINFO", "-")]:
        r = mclient.one("sign", rsa_k["label"], C[alg], 0, tbs)
        assert r["rc"] == ERR["ERR_BAD_INPUT"], (alg, r)
    (tmp_path / "big.hex").write_text("00" * (C["MAX_MESSAGE"] + 1))
    r = mclient.one("sign", ed_k["label"], C["ALG_ED25519"], 0,
                    "@" + str(tmp_path / "big.hex"))
    assert r["rc"] == ERR["ERR_BAD_INPUT"]
    assert mclient.one("sign", ec_k["label"], 0x7777, 0, d32)["rc"] == \
        ERR["ERR_UNSUPPORTED"]
    assert mclient.one("sign", ec_k["label"], C["ALG_ECDSA"], 0, d32,
                       7)["rc"] == ERR["ERR_BAD_INPUT"]
    assert stats_delta(msim, before)["ta_invocations"] == 0

    # unknown label
    r = mclient.one("sign", "no-such-key", C["ALG_ECDSA"], 0, d32)
    assert r["rc"] == ERR["ERR_NOT_FOUND"], r
    assert r["msg"] == "key not found in the TEE"
    # algorithm that does not fit the key
    r = mclient.one("sign", ec_k["label"], C["ALG_RSA_PSS_SHA256"],
                    SALT_DIGEST_LEN, d32)
    assert r["rc"] in (ERR["ERR_UNSUPPORTED"], ERR["ERR_DENIED"]), r
    r = mclient.one("sign", rsa_k["label"], C["ALG_ECDSA"], 0, d32)
    assert r["rc"] in (ERR["ERR_UNSUPPORTED"], ERR["ERR_DENIED"]), r


@pytest.mark.parametrize("kt,alg,dl,flags,need", [
    (("ED25519", 256), "ALG_ED25519", 10, 0, 64),
    (("RSA", 2048), "ALG_RSA_PSS_SHA256", 32, 0, 256),
    (("EC", 256), "ALG_ECDSA", 32, 1, 64),      # raw r||s
    (("EC", 256), "ALG_ECDSA", 32, 0, 72),      # DER: the maximum
    (("EC", 521), "ALG_ECDSA", 64, 0, 141),
])
def test_short_signature_buffer(mclient, kt, alg, dl, flags, need):
    k = key(mclient, *kt)
    tbs = _tbs(alg, dl).hex()
    salt = SALT_DIGEST_LEN if "PSS" in alg else 0
    for size in (0, 10):
        r = mclient.one("sign", k["label"], C[alg], salt, tbs, flags, size)
        assert r["rc"] == ERR["ERR_SHORT_BUFFER"], r
        assert r["len"] == need, r
    r = mclient.one("sign", k["label"], C[alg], salt, tbs, flags, need)
    assert r["rc"] == 0, r
    assert r["len"] <= need
    if flags == 0:
        verify(k, C[alg], bytes.fromhex(tbs), bytes.fromhex(r["sig"]), salt)


def test_policy_refusal(mclient):
    d32 = hashlib.sha256(b"policy").digest()
    k = key(mclient, "RSA", 2048, "k-pss-only", (C["ALLOW_RSA_PSS"], 0, 0))
    assert k["allowed"] == C["ALLOW_RSA_PSS"]
    r = mclient.one("sign", "k-pss-only", C["ALG_RSA_PKCS1_SHA256"], 0,
                    d32.hex())
    assert r["rc"] == ERR["ERR_DENIED"], r
    assert r["msg"] == "operation not allowed by the key's policy"
    r = mclient.one("sign", "k-pss-only", C["ALG_RSA_PSS_SHA256"],
                    SALT_DIGEST_LEN, d32.hex())
    assert r["rc"] == 0
    verify(k, C["ALG_RSA_PSS_SHA256"], d32, bytes.fromhex(r["sig"]),
           SALT_DIGEST_LEN)
    # default RSA policy: no decryption
    rk = key(mclient, "RSA", 2048)
    ct = pub(rk).encrypt(b"x", padding.PKCS1v15())
    r = mclient.one("decrypt", rk["label"], C["ALG_RSA_DECRYPT_PKCS1"],
                    ct.hex())
    assert r["rc"] == ERR["ERR_DENIED"], r
    # a key owned by another uid
    key(mclient, "EC", 256, "k-owned", (0, C["OWNER_UID"], 4242))
    r = mclient.one("sign", "k-owned", C["ALG_ECDSA"], 0, d32.hex())
    assert r["rc"] == ERR["ERR_DENIED"], r
    # owned by us (root: uid 0 under the default TEEC_LOGIN_USER)
    uid = os.geteuid()
    key(mclient, "EC", 256, "k-mine", (0, C["OWNER_UID"], uid))
    r = mclient.one("sign", "k-mine", C["ALG_ECDSA"], 0, d32.hex())
    assert r["rc"] == 0, r
    # the same key with a public login: no uid, refused
    r = mclient.one("sign", "k-mine", C["ALG_ECDSA"], 0, d32.hex(),
                    env={"OPTEE_TLS_LOGIN": "public"})
    assert r["rc"] == ERR["ERR_DENIED"], r
    r = mclient.one("sign", "k-mine", C["ALG_ECDSA"], 0, d32.hex(),
                    env={"OPTEE_TLS_LOGIN": "bogus"})
    assert r["rc"] == ERR["ERR_BAD_INPUT"], r


def test_group_login(mclient):
    d32 = hashlib.sha256(b"group").digest()
    gid = os.getegid()
    key(mclient, "EC", 256, "k-group", (0, C["OWNER_GID"], gid))
    for login in ("group", f"group:{gid}"):
        r = mclient.one("sign", "k-group", C["ALG_ECDSA"], 0, d32.hex(),
                        env={"OPTEE_TLS_LOGIN": login})
        assert r["rc"] == 0, (login, r)
    r = mclient.one("sign", "k-group", C["ALG_ECDSA"], 0, d32.hex())
    assert r["rc"] == ERR["ERR_DENIED"], r   # user login: not the group


@pytest.mark.parametrize("alg,pad", [
    ("ALG_RSA_DECRYPT_PKCS1", padding.PKCS1v15()),
    ("ALG_RSA_DECRYPT_OAEP_SHA1", padding.OAEP(
        mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)),
    ("ALG_RSA_DECRYPT_OAEP_SHA256", padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
        label=None)),
])
def test_decrypt(mclient, alg, pad):
    k = key(mclient, "RSA", 2048, "k-dec", (
        C["ALLOW_DECRYPT_PKCS1"] | C["ALLOW_DECRYPT_OAEP"], 0, 0))
    secret = bytes(range(48))
    ct = pub(k).encrypt(secret, pad)
    r = mclient.one("decrypt", "k-dec", C[alg], ct.hex())
    assert r["rc"] == 0, r
    assert bytes.fromhex(r["out"]) == secret
    r = mclient.one("decrypt", "k-dec", C[alg], ct.hex(), 10)
    assert r["rc"] == ERR["ERR_SHORT_BUFFER"], r
    assert r["len"] >= 48
    assert mclient.one("decrypt", "k-dec", 0x0599, ct.hex())["rc"] == \
        ERR["ERR_UNSUPPORTED"]
    # a ciphertext that does not decrypt: one answer for every failure
    junk = b"\x00" + hashlib.sha512(alg.encode()).digest() * 4
    r = mclient.one("decrypt", "k-dec", C[alg], junk[:256].hex())
    assert r["rc"] == ERR["ERR_DECRYPT_FAILED"], r
    assert r["msg"].startswith("decryption failed")
    # wrong length: not even tried
    r = mclient.one("decrypt", "k-dec", C[alg], ct[:-1].hex())
    assert r["rc"] == ERR["ERR_BAD_INPUT"], r


# ---------------------------------------------------------------------------
# key reference files
# ---------------------------------------------------------------------------


def _pem(der: bytes, name: str = "OPTEE TLS KEY", headers: str = "") -> str:
    import base64
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {name}-----\n{headers}{body}\n-----END {name}-----\n"


@pytest.mark.parametrize("kt,bits", [("EC", 256), ("EC", 521), ("RSA", 2048),
                                     ("RSA", 4096), ("ED25519", 256)])
def test_key_reference_roundtrip(mclient, tmp_path, kt, bits):
    k = key(mclient, kt, bits)
    r = mclient.one("ref-encode", k["label"])
    assert r["rc"] == 0, r
    pem = r["pem"]
    assert pem.startswith("-----BEGIN OPTEE TLS KEY-----\n")
    spki = bytes.fromhex(k["spki"])
    der = _tlv(0x30, _tlv(0x02, b"\x01") +
               _tlv(0x0C, f"optee:{k['label']}".encode()) + spki)
    assert pem == _pem(der)         # exactly the documented DER
    f = tmp_path / "ref.pem"
    f.write_text(pem)
    d = mclient.one("ref-decode-pem", f)
    assert (d["rc"], d["label"], d["spki"]) == (0, k["label"], k["spki"])
    # any text around the block, other PEM blocks before it
    other = _pem(b"\x30\x03\x02\x01\x05", "CERTIFICATE")
    f.write_text("hello\n" + other + "junk\n" + pem + "trailer\n")
    d = mclient.one("ref-decode-pem", f)
    assert (d["rc"], d["label"]) == (0, k["label"])
    (tmp_path / "ref.der").write_bytes(der)
    d = mclient.one("ref-decode-der", tmp_path / "ref.der")
    assert (d["rc"], d["label"], d["spki"]) == (0, k["label"], k["spki"])
    # the label=... URI form is accepted in files too
    der2 = _tlv(0x30, _tlv(0x02, b"\x01") +
                _tlv(0x0C, f"optee:label={k['label']}".encode()) + spki)
    f.write_text(_pem(der2))
    d = mclient.one("ref-decode-pem", f)
    assert (d["rc"], d["label"]) == (0, k["label"])


def test_key_reference_malformed(mclient, msim, tmp_path):
    k = key(mclient, "EC", 256)
    spki = bytes.fromhex(k["spki"])
    ver = _tlv(0x02, b"\x01")
    uri = _tlv(0x0C, b"optee:k-ec256")
    good = _tlv(0x30, ver + uri + spki)
    bad_ders = {
        "empty": b"",
        "not-seq": _tlv(0x31, ver + uri + spki),
        "version2": _tlv(0x30, _tlv(0x02, b"\x02") + uri + spki),
        "version-long": _tlv(0x30, _tlv(0x02, b"\x00\x01") + uri + spki),
        "uri-octets": _tlv(0x30, ver + _tlv(0x04, b"optee:k-ec256") + spki),
        "wrong-scheme": _tlv(0x30, ver + _tlv(0x0C, b"pkcs11:k-ec256") + spki),
        "bad-label": _tlv(0x30, ver + _tlv(0x0C, b"optee:-bad") + spki),
        "long-label": _tlv(0x30, ver + _tlv(0x0C, b"optee:" + b"a" * 33) +
                           spki),
        "nul-in-uri": _tlv(0x30, ver + _tlv(0x0C, b"optee:k-ec\x00256") +
                           spki),
        "no-spki": _tlv(0x30, ver + uri),
        "junk-spki": _tlv(0x30, ver + uri + _tlv(0x30, b"\x05\x00")),
        "extra-field": _tlv(0x30, ver + uri + spki + _tlv(0x05, b"")),
        "trailing": good + b"\x00",
        "truncated": good[:-1],
        "long-len": b"\x30\x82\x00" + bytes([len(good) - 2]) + good[2:],
        "indefinite": b"\x30\x80" + ver + uri + spki + b"\x00\x00",
        "missing-version": _tlv(0x30, uri + spki),
        "swapped": _tlv(0x30, uri + ver + spki),
    }
    before = msim.stats()
    for name, der in bad_ders.items():
        f = tmp_path / f"{name}.der"
        f.write_bytes(der)
        r = mclient.one("ref-decode-der", f)
        assert r["rc"] == ERR["ERR_BAD_INPUT"], name
        if der:
            f = tmp_path / f"{name}.pem"
            f.write_text(_pem(der))
            r = mclient.one("ref-decode-pem", f)
            assert r["rc"] == ERR["ERR_BAD_INPUT"], name
    bad_pems = {
        "no-block": "hello world\n",
        "other-name": _pem(good, "PUBLIC KEY"),
        "bad-base64": "-----BEGIN OPTEE TLS KEY-----\n!!!!\n"
                      "-----END OPTEE TLS KEY-----\n",
        "headers": _pem(good, headers="Proc-Type: 4,ENCRYPTED\n"
                        "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF"
                        "\n\n"),
        "no-end": _pem(good).rsplit("-----END", 1)[0],
    }
    for name, text in bad_pems.items():
        f = tmp_path / f"{name}.pem"
        f.write_text(text)
        r = mclient.one("ref-decode-pem", f)
        assert r["rc"] == ERR["ERR_BAD_INPUT"], name
    d = stats_delta(msim, before)
    assert d["ta_invocations"] == 0 and d["sessions_opened"] == 0, d
    # and the good one parses
    f = tmp_path / "good.der"
    f.write_bytes(good)
    assert mclient.one("ref-decode-der", f)["rc"] == 0


# ---------------------------------------------------------------------------
# processes, threads, failures
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kt", [("EC", 256), ("ED25519", 256)])
def test_fork_safety(mclient, msim, kt):
    k = key(mclient, *kt)
    alg = C["ALG_ECDSA"] if kt[0] == "EC" else C["ALG_ED25519"]
    tbs = hashlib.sha256(b"fork").digest()
    before = msim.stats()
    lines = mclient.lines("fork-sign", k["label"], alg, 4, 20, tbs.hex())
    done = lines[-1]
    assert done == {"done": True, "bad_children": 0}
    sigs = lines[:-1]
    assert len(sigs) == 1 + 4 * 20 + 20
    children = {s["pid"] for s in sigs if s["who"] == "child"}
    assert len(children) == 4
    for s in sigs:
        assert s["rc"] == 0, s
        verify(k, alg, tbs, bytes.fromhex(s["sig"]))
    d = stats_delta(msim, before)
    # the parent's one session, plus one per child: none shared
    assert d["sessions_opened"] == 5, d
    assert d["ta_invocations"] == len(sigs), d
    assert d["panics"] == 0


def test_threads(mclient, msim):
    k = key(mclient, "EC", 384)
    tbs = hashlib.sha384(b"threads").digest()
    before = msim.stats()
    lines = mclient.lines("thread-sign", k["label"], C["ALG_ECDSA"], 8, 20,
                          tbs.hex())
    assert lines[-1] == {"done": True}
    sigs = lines[:-1]
    assert len(sigs) == 160
    assert {s["thread"] for s in sigs} == set(range(8))
    for s in sigs:
        assert s["rc"] == 0, s
        verify(k, C["ALG_ECDSA"], tbs, bytes.fromhex(s["sig"]))
    d = stats_delta(msim, before)
    assert d["ta_invocations"] == 160, d
    assert 1 <= d["sessions_opened"] <= 4, d      # the default pool size
    # one session only when asked
    before = msim.stats()
    lines = mclient.lines("thread-sign", k["label"], C["ALG_ECDSA"], 4, 5,
                          tbs.hex(), env={"OPTEE_TLS_SESSIONS": "1"})
    assert all(s["rc"] == 0 for s in lines[:-1])
    d = stats_delta(msim, before)
    assert (d["sessions_opened"], d["ta_invocations"]) == (1, 20), d


def test_threads_reconnect_after_panic(client, sim):
    g = client.one("gen", "tk", C["KEY_EC"], 256)
    assert g["rc"] == 0
    tbs = hashlib.sha256(b"tp").digest()
    with client.repl() as rp:
        first = rp.lines("thread-sign", "tk", C["ALG_ECDSA"], 8, 10,
                         tbs.hex())
        assert all(s["rc"] == 0 for s in first)
        before = sim.stats()
        sim.ctl("panic-instances")
        again = rp.lines("thread-sign", "tk", C["ALG_ECDSA"], 8, 10,
                         tbs.hex())
        assert len(again) == 80
        for s in again:
            assert s["rc"] == 0, s
            verify(g, C["ALG_ECDSA"], tbs, bytes.fromhex(s["sig"]))
        d = stats_delta(sim, before)
        # every session that met its dead instance reopened exactly once
        assert 1 <= d["panics"] <= 4, d
        assert d["sessions_opened"] == d["panics"], d


def test_fork_while_threads_sign(mclient, msim):
    """fork() while other threads are inside calls (holding slots, maybe
    pool_mu): the child neither hangs nor uses a parent session, and its
    exit() (destructor included) leaves the parent's sessions alone."""
    k = key(mclient, "EC", 256)
    tbs = hashlib.sha256(b"thread-fork").digest()
    before = msim.stats()
    r = mclient.one("thread-fork", k["label"], C["ALG_ECDSA"], 6, 12,
                    tbs.hex(), env={"OPTEE_TLS_SESSIONS": "3"})
    assert r["done"] and (r["bad_children"], r["stuck_children"],
                          r["thread_failures"]) == (0, 0, 0), r
    assert r["thread_sigs"] > 0
    d = stats_delta(msim, before)
    # at most 3 sessions for the parent's threads, exactly one per child
    assert 12 + 1 <= d["sessions_opened"] <= 12 + 3, d
    assert d["panics"] == 0, d


def test_reconnect_debug_line(client, sim):
    """OPTEE_TLS_DEBUG=1: one stderr line per reconnect; otherwise none."""
    g = client.one("gen", "dbg", C["KEY_EC"], 256)
    assert g["rc"] == 0
    tbs = hashlib.sha256(b"dbg").digest().hex()
    for debug in (None, "1"):
        env = {"OPTEE_TLS_DEBUG": debug} if debug else {}
        rp = client.repl(env=env)
        assert rp("sign", "dbg", C["ALG_ECDSA"], 0, tbs)["rc"] == 0
        sim.ctl("panic-instances")
        assert rp("sign", "dbg", C["ALG_ECDSA"], 0, tbs)["rc"] == 0
        assert rp("sign", "dbg", C["ALG_ECDSA"], 0, tbs)["rc"] == 0
        rp.close()
        err = rp.p.stderr.read()
        if not debug:
            assert err == ""
            continue
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert re.fullmatch(
            rf"libopteetls\[{rp.p.pid}\]: TA session lost \(TEEC result "
            rf"0xffff3024, origin 3, command {C['CMD_SIGN']}\): reopening "
            r"it and retrying once", lines[0]), lines[0]


def test_delete_in_use(mclient, msim):
    k = key(mclient, "EC", 256, "k-busy")
    tbs = hashlib.sha256(b"busy").digest().hex()
    with mclient.repl() as holder:
        assert holder("sign", "k-busy", C["ALG_ECDSA"], 0, tbs)["rc"] == 0
        r = mclient.one("del", "k-busy")   # another process
        assert r["rc"] == ERR["ERR_IN_USE"], r
        assert holder("get", "k-busy")["rc"] == 0
    assert k
    # the holder is gone once its TA instance is: poll for that
    for _ in range(200):
        r = mclient.one("del", "k-busy")
        if r["rc"] != ERR["ERR_IN_USE"]:
            break
    assert r["rc"] == 0, r
    # our own idle sessions do not keep a key from being deleted
    key(mclient, "EC", 256, "k-busy2")
    with mclient.repl() as rp:
        assert rp.lines("thread-sign", "k-busy2", C["ALG_ECDSA"], 4, 3, tbs)
        assert rp("del", "k-busy2")["rc"] == 0
        assert rp("get", "k-busy2")["rc"] == ERR["ERR_NOT_FOUND"]


def test_reconnect_after_restart(client, sim):
    g = client.one("gen", "rk", C["KEY_EC"], 256)
    assert g["rc"] == 0
    tbs = hashlib.sha256(b"restart").digest()
    with client.repl() as rp:
        r = rp("sign", "rk", C["ALG_ECDSA"], 0, tbs.hex())
        assert r["rc"] == 0, r
        sim.restart()               # same store: the key survives
        before = sim.stats()
        r = rp("sign", "rk", C["ALG_ECDSA"], 0, tbs.hex())
        assert r["rc"] == 0, r
        verify(g, C["ALG_ECDSA"], tbs, bytes.fromhex(r["sig"]))
        d = stats_delta(sim, before)
        assert (d["sessions_opened"], d["ta_invocations"]) == (1, 1), d
        # steady state again
        before = sim.stats()
        assert rp("sign", "rk", C["ALG_ECDSA"], 0, tbs.hex())["rc"] == 0
        d = stats_delta(sim, before)
        assert (d["sessions_opened"], d["ta_invocations"]) == (0, 1), d


def test_reconnect_after_panic(client, sim):
    g = client.one("gen", "pk", C["KEY_ED25519"], 256)
    assert g["rc"] == 0
    with client.repl() as rp:
        assert rp("sign", "pk", C["ALG_ED25519"], 0, "abcd")["rc"] == 0
        before = sim.stats()
        sim.ctl("panic-instances")
        r = rp("sign", "pk", C["ALG_ED25519"], 0, "abcd")
        assert r["rc"] == 0, r
        verify(g, C["ALG_ED25519"], bytes.fromhex("abcd"),
               bytes.fromhex(r["sig"]))
        d = stats_delta(sim, before)
        assert d["sessions_opened"] == 1 and d["panics"] == 1, d
        # generate on a session that died meanwhile: the probe replaces it
        # before the command, and the key is created exactly once
        sim.ctl("panic-instances")
        r = rp("gen", "pk2", C["KEY_EC"], 256)
        assert r["rc"] == 0, r
        assert rp("get", "pk2")["rc"] == 0
        sim.ctl("panic-instances")
        assert rp("del", "pk2")["rc"] == 0
        assert rp("get", "pk2")["rc"] == ERR["ERR_NOT_FOUND"]


def test_simulator_stopped(client, sim):
    with client.repl() as rp:
        assert rp("info")["rc"] == 0
        sim.stop()
        r = rp("get", "whatever")
        assert r["rc"] == ERR["ERR_TEE_UNREACHABLE"], r
        assert "TEE not reachable" in r["msg"]
        r = rp("sign", "whatever", C["ALG_ED25519"], 0, "00")
        assert r["rc"] == ERR["ERR_TEE_UNREACHABLE"], r
        sim.start()                 # comes back: so do we
        assert rp("info")["rc"] == 0
    sim.stop()
    r = client.one("list")
    assert r["rc"] == ERR["ERR_TEE_UNREACHABLE"], r
    assert r["msg"] == ("TEE not reachable (no /dev/tee0, no permission to "
                        "open it, or tee-supplicant / simulator not running)")
    assert r["tee"] != 0


def test_ta_not_installed(driver, sim_factory):
    s = sim_factory("nota", without_ta=True)
    cl = Client(driver, s)
    for args in (["get", "x"], ["info"],
                 ["sign", "x", C["ALG_ED25519"], 0, "00"]):
        r = cl.one(*args)
        assert r["rc"] == ERR["ERR_TA_NOT_INSTALLED"], r
        assert "TA not installed" in r["msg"]
        assert "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61" in r["msg"]
        assert r["tee"] == 0xFFFF0008     # TEEC_ERROR_ITEM_NOT_FOUND


def test_exported_symbols():
    out = subprocess.run(["nm", "-D", "--defined-only",
                          str(LIBDIR / "libopteetls.so")],
                         capture_output=True, text=True, check=True).stdout
    names = {l.split()[-1] for l in out.splitlines() if l.strip()}
    names = {n for n in names if not n.startswith("_")}
    assert names and all(n.startswith("otls_") for n in names), names
    api = set(re.findall(r"\b(otls_\w+)\(",
                         (ROOT / "engine/include/optee_tls.h").read_text()))
    assert api <= names, api - names
