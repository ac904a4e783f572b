"""The OpenSSL ENGINE `optee` (build/engines/optee.so) with the openssl CLI.

Keys are made straight through libopteetls (ctypes, in a child process that
runs this file as a script), so these tests need neither the provider nor
anything but the simulator, the client library and the ENGINE:

  * pkeyutl -sign through the ENGINE, verified by the default provider of a
    plain openssl (no OPENSSL_CONF, no simulator) against the public key;
  * req -new through the ENGINE, the CSR verified by pyca/cryptography;
  * decryption (PKCS#1 v1.5, OAEP) for keys whose policy allows it;
  * key ids: LABEL, optee:LABEL, key reference file;
  * the errors a user sees (unknown label, malformed id, TEE unreachable,
    TA missing, policy refusal, raw RSA refused, stale reference file);
  * fork: a key loaded before fork() signs in the children, each of which
    opens its own TEE session (what nginx does with engine:optee:LABEL).

TLS handshakes through the ENGINE are in test_engine_tls.py.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
ENGINE_SO = BUILD / "engines" / "optee.so"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
ENGINE_ARGS = ["-engine", "optee"]

# Fails when the build says the ENGINE exists but it is missing; skips only
# where this OpenSSL has no ENGINE API (a platform limit).
pytestmark = pytest.mark.usefixtures("need_engine")

# name -> (OTLS_KEY_*, bits)
KEY_TYPES = {
    "rsa2048": (2, 2048),
    "p256": (1, 256),
    "p384": (1, 384),
    "p521": (1, 521),
    "ed25519": (3, 256),
}
ALLOW_RSA_PKCS1 = 1 << 1
ALLOW_RSA_PKCS1_DIGESTINFO = 1 << 2
ALLOW_RSA_PSS = 1 << 3
ALLOW_DECRYPT_PKCS1 = 1 << 8
ALLOW_DECRYPT_OAEP = 1 << 9


# ---------------------------------------------------------------------------
# libopteetls through ctypes (run in a child process: the library keeps a
# per-process TEE session, and each test has its own simulator)
# ---------------------------------------------------------------------------

def _lib():
    import ctypes as C

    class Policy(C.Structure):
        _fields_ = [("allowed", C.c_uint32), ("owner_kind", C.c_uint32),
                    ("owner_id", C.c_uint32), ("reserved", C.c_uint32)]

    class KeyInfo(C.Structure):
        _fields_ = [("label", C.c_char * 33), ("key_type", C.c_uint32),
                    ("bits", C.c_uint32), ("policy", Policy),
                    ("pub_a", C.c_ubyte * 512), ("pub_a_len", C.c_size_t),
                    ("pub_b", C.c_ubyte * 512), ("pub_b_len", C.c_size_t)]

    # libteec first, by path, so that libopteetls finds it by soname.
    C.CDLL(str(BUILD / "lib" / "libteec.so.2"), mode=C.RTLD_GLOBAL)
    lib = C.CDLL(str(BUILD / "lib" / "libopteetls.so"))
    lib.otls_strerror.restype = C.c_char_p
    return C, lib, Policy, KeyInfo


def _cli(argv: list[str]) -> int:
    """genkey LABEL TYPE BITS ALLOWED  -> prints the SPKI (base64 DER) and
    the PEM key reference; exit status = -rc on failure."""
    C, lib, Policy, KeyInfo = _lib()
    if argv[0] != "genkey":
        return 2
    label, kt, bits, allowed = argv[1], int(argv[2]), int(argv[3]), int(argv[4], 0)
    info = KeyInfo()
    pol = Policy(allowed, 0, 0, 0)
    rc = lib.otls_key_generate(label.encode(), kt, bits, C.byref(pol), C.byref(info))
    if rc:
        sys.stderr.write(f"otls_key_generate: {lib.otls_strerror(rc).decode()}\n")
        return -rc
    der = C.POINTER(C.c_ubyte)()
    der_len = C.c_size_t()
    rc = lib.otls_key_spki_der(C.byref(info), C.byref(der), C.byref(der_len))
    if rc:
        return -rc
    spki = bytes(der[:der_len.value])
    lib.otls_free(der)
    pem = C.c_char_p()
    rc = lib.otls_ref_encode_pem(C.byref(info), C.byref(pem))
    if rc:
        return -rc
    sys.stdout.write(base64.b64encode(spki).decode() + "\n")
    sys.stdout.write(pem.value.decode())
    return 0


@dataclass
class TeeKey:
    label: str
    kind: str
    spki_der: bytes
    pub_pem: Path
    ref: Path           # PEM "OPTEE TLS KEY" reference file

    @property
    def uri(self) -> str:
        return f"optee:{self.label}"


def spki_to_pem(der: bytes) -> str:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    return ("-----BEGIN PUBLIC KEY-----\n" +
            "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) +
            "\n-----END PUBLIC KEY-----\n")


def gen_key(sim, workdir: Path, label: str, kind: str, allowed: int = 0) -> TeeKey:
    kt, bits = KEY_TYPES[kind]
    p = sim.run([sys.executable, __file__, "genkey", label, str(kt), str(bits),
                 hex(allowed)], check=False, text=True)
    assert p.returncode == 0, p.stderr
    spki_b64, ref_pem = p.stdout.split("\n", 1)
    spki = base64.b64decode(spki_b64)
    workdir.mkdir(parents=True, exist_ok=True)
    pub = workdir / f"{label}.pub.pem"
    pub.write_text(spki_to_pem(spki))
    ref = workdir / f"{label}.ref.pem"
    ref.write_text(ref_pem)
    return TeeKey(label, kind, spki, pub, ref)


def plain_env() -> dict:
    """An openssl that knows nothing of our ENGINE, provider or simulator."""
    env = dict(os.environ)
    for k in ("OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES",
              "OPTEE_SIM_SOCKET", "LD_LIBRARY_PATH"):
        env.pop(k, None)
    return env


def plain(args, check=True, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    p = subprocess.run([OPENSSL, *map(str, args)], env=plain_env(), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"openssl {args} failed:\n{p.stdout!r}\n{p.stderr!r}")
    return p


def eng(sim, args, check=True, **kw) -> subprocess.CompletedProcess:
    """openssl with our ENGINE, in the simulator's environment."""
    p = sim.run([OPENSSL, *map(str, args)], check=False, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"openssl {args} failed:\n{p.stdout!r}\n{p.stderr!r}")
    return p


def sign_args(key_id, infile, outfile, opts=()):
    a = ["pkeyutl", *ENGINE_ARGS, "-keyform", "engine", "-inkey", key_id,
         "-sign", "-in", infile, "-out", outfile]
    for o in opts:
        a += ["-pkeyopt", o]
    return a


# ---------------------------------------------------------------------------
# Fixtures: one simulator and one set of keys for the module
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def esim(tmp_path_factory):
    from conftest import Sim
    s = Sim(tmp_path_factory.mktemp("engine-sim"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keys(esim, tmp_path_factory) -> dict[str, TeeKey]:
    d = tmp_path_factory.mktemp("engine-keys")
    out = {kind: gen_key(esim, d, f"eng-{kind}", kind) for kind in KEY_TYPES}
    out["rsa-dec"] = gen_key(esim, d, "eng-rsa-dec", "rsa2048",
                             ALLOW_RSA_PKCS1 | ALLOW_RSA_PSS |
                             ALLOW_DECRYPT_PKCS1 | ALLOW_DECRYPT_OAEP)
    out["rsa-pss-only"] = gen_key(esim, d, "eng-rsa-pss", "rsa2048", ALLOW_RSA_PSS)
    return out


@pytest.fixture
def msg(tmp_path) -> Path:
    p = tmp_path / "msg.txt"
    p.write_bytes(b"optee-tls engine test message\n" * 3)
    return p


def digest_of(path: Path, md: str, tmp: Path) -> Path:
    out = tmp / f"{path.name}.{md}"
    plain(["dgst", f"-{md}", "-binary", "-out", out, path])
    return out


# ---------------------------------------------------------------------------
# The ENGINE itself
# ---------------------------------------------------------------------------

def test_engine_loads_by_id(esim):
    p = eng(esim, ["engine", "-t", "-c", "optee"])
    out = p.stdout.decode()
    assert "(optee)" in out and "[ available ]" in out, out
    p = eng(esim, ["engine", "-vvv", "-pre", "CHECK_TEE", "optee"])
    assert b"CHECK_TEE" in p.stdout


def test_engine_list_keys(esim, keys):
    p = eng(esim, ["engine", "-pre", "LIST_KEYS", "optee"])
    out = p.stdout.decode()
    for k in ("eng-rsa2048 RSA 2048", "eng-p256 EC 256", "eng-p521 EC 521",
              "eng-ed25519 ED25519 256"):
        assert k in out, out


CONF_DIR = ROOT / "engine" / "conf"


@pytest.mark.parametrize("snippet,default_path", [
    ("optee-engine.cnf", "/usr/lib/x86_64-linux-gnu/engines-3/optee.so"),
    ("optee-engine.conf.d.cnf", "/usr/lib/engines-3/optee.so"),
])
@pytest.mark.parametrize("where", ["before", "after"])
def test_conf_snippets(esim, keys, msg, tmp_path, snippet, default_path, where):
    """The shipped openssl.cnf snippets load and initialise the ENGINE from
    dynamic_path (OPENSSL_ENGINES unset), wherever the main file includes
    them; a key then loads by ENGINE id alone."""
    text = (CONF_DIR / snippet).read_text()
    assert default_path in text
    inc = tmp_path / "optee.cnf"
    inc.write_text(text.replace(default_path, str(ENGINE_SO)))
    main = ["openssl_conf = openssl_init", "[openssl_init]",
            "providers = provider_sect", "[provider_sect]",
            "default = default_sect", "[default_sect]", "activate = 1"]
    main.insert(1 if where == "before" else len(main), f".include {inc}")
    cnf = tmp_path / "openssl.cnf"
    cnf.write_text("\n".join(main) + "\n")
    env = {"OPENSSL_CONF": str(cnf), "OPENSSL_ENGINES": str(tmp_path / "none")}
    p = esim.run([OPENSSL, "engine", "-t"], env=env, check=False)
    assert b"(optee)" in p.stdout and b"[ available ]" in p.stdout, p.stdout + p.stderr
    dg = digest_of(msg, "sha256", tmp_path)
    eng(esim, sign_args(keys["p256"].label, dg, tmp_path / "sig"), env=env)
    plain(["pkeyutl", "-verify", "-pubin", "-inkey", keys["p256"].pub_pem,
           "-in", dg, "-sigfile", tmp_path / "sig"])


# ---------------------------------------------------------------------------
# pkeyutl -sign through the ENGINE, verified by the default provider
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["p256", "p384", "p521"])
@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512"])
def test_pkeyutl_ecdsa(esim, keys, msg, tmp_path, kind, md):
    k = keys[kind]
    dg = digest_of(msg, md, tmp_path)
    sig = tmp_path / "sig"
    eng(esim, sign_args(k.label, dg, sig))
    p = plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
               "-sigfile", sig])
    assert b"Signature Verified Successfully" in p.stdout


@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512", "sha1"])
def test_pkeyutl_rsa_pkcs1(esim, keys, msg, tmp_path, md):
    k = keys["rsa2048"]
    dg = digest_of(msg, md, tmp_path)
    sig = tmp_path / "sig"
    eng(esim, sign_args(k.label, dg, sig, [f"digest:{md}"]))
    assert sig.stat().st_size == 256
    plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
           "-sigfile", sig, "-pkeyopt", f"digest:{md}"])


@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("saltlen,verify_saltlen", [
    ("digest", "digest"), ("max", "auto"), ("auto", "auto"), ("20", "20"),
    ("0", "0")])
def test_pkeyutl_rsa_pss(esim, keys, msg, tmp_path, md, saltlen, verify_saltlen):
    k = keys["rsa2048"]
    dg = digest_of(msg, md, tmp_path)
    sig = tmp_path / "sig"
    pss = [f"digest:{md}", "rsa_padding_mode:pss"]
    eng(esim, sign_args(k.label, dg, sig, pss + [f"rsa_pss_saltlen:{saltlen}"]))
    p = plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
               "-sigfile", sig, *sum((["-pkeyopt", o] for o in pss), []),
               "-pkeyopt", f"rsa_pss_saltlen:{verify_saltlen}"])
    assert b"Signature Verified Successfully" in p.stdout


def test_pkeyutl_rsa_pss_salt_is_hash_length(esim, keys, msg, tmp_path):
    """saltlen "digest" (TLS 1.3) must really give salt = hash length: a
    verifier that insists on 32 bytes accepts it, one that insists on 20
    does not."""
    k = keys["rsa2048"]
    dg = digest_of(msg, "sha256", tmp_path)
    sig = tmp_path / "sig"
    pss = ["-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss"]
    eng(esim, sign_args(k.label, dg, sig, ["digest:sha256", "rsa_padding_mode:pss",
                                             "rsa_pss_saltlen:digest"]))
    plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
           "-sigfile", sig, *pss, "-pkeyopt", "rsa_pss_saltlen:32"])
    p = plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
               "-sigfile", sig, *pss, "-pkeyopt", "rsa_pss_saltlen:20"], check=False)
    assert p.returncode != 0


def test_pkeyutl_ed25519(esim, keys, msg, tmp_path):
    k = keys["ed25519"]
    sig = tmp_path / "sig"
    eng(esim, ["pkeyutl", *ENGINE_ARGS, "-keyform", "engine", "-inkey", k.label,
               "-sign", "-rawin", "-in", msg, "-out", sig])
    assert sig.stat().st_size == 64
    p = plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-rawin",
               "-in", msg, "-sigfile", sig])
    assert b"Signature Verified Successfully" in p.stdout


@pytest.mark.parametrize("form", ["label", "uri", "ref"])
def test_key_id_forms(esim, keys, msg, tmp_path, form):
    k = keys["p256"]
    key_id = {"label": k.label, "uri": k.uri, "ref": str(k.ref)}[form]
    dg = digest_of(msg, "sha256", tmp_path)
    sig = tmp_path / "sig"
    eng(esim, sign_args(key_id, dg, sig))
    plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
           "-sigfile", sig])


def test_ref_file_in_cwd_without_slash(esim, keys, msg, tmp_path):
    """A bare file name that exists is read as a reference file."""
    k = keys["p384"]
    shutil.copy(k.ref, tmp_path / "server.pem")
    dg = digest_of(msg, "sha384", tmp_path)
    eng(esim, sign_args("server.pem", dg, "sig"), cwd=tmp_path)
    plain(["pkeyutl", "-verify", "-pubin", "-inkey", k.pub_pem, "-in", dg,
           "-sigfile", tmp_path / "sig"])


def test_load_pubkey(esim, keys, tmp_path):
    """ENGINE_load_public_key (openssl pkey -pubin -inform engine)."""
    for kind in ("rsa2048", "p521", "ed25519"):
        k = keys[kind]
        p = eng(esim, ["pkey", *ENGINE_ARGS, "-inform", "engine", "-pubin",
                       "-in", k.label, "-pubout"])
        assert p.stdout.decode() == k.pub_pem.read_text()


def test_one_ta_invocation_per_signature(esim, keys, msg, tmp_path):
    """Load (GET_KEY) + one signature; a second signature in the same
    process costs exactly one more invocation (measured with req, which
    signs once, against pkeyutl, which also signs once: same cost)."""
    k = keys["p256"]
    dg = digest_of(msg, "sha256", tmp_path)
    before = esim.stats()["ta_invocations"]
    eng(esim, sign_args(k.label, dg, tmp_path / "s1"))
    one = esim.stats()["ta_invocations"] - before
    before = esim.stats()["ta_invocations"]
    eng(esim, sign_args(k.label, dg, tmp_path / "s2"))
    assert esim.stats()["ta_invocations"] - before == one
    # the signature itself is one of those invocations; loading costs the rest
    assert 2 <= one <= 4, one


# ---------------------------------------------------------------------------
# req -new through the ENGINE
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KEY_TYPES))
def test_req_new(esim, keys, tmp_path, kind):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    k = keys[kind]
    csr = tmp_path / "req.csr"
    eng(esim, ["req", "-new", *ENGINE_ARGS, "-keyform", "engine", "-key", k.label,
               "-subj", "/CN=engine.test", "-out", csr])
    req = x509.load_pem_x509_csr(csr.read_bytes())
    assert req.is_signature_valid
    assert req.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo) == k.spki_der
    p = plain(["req", "-verify", "-noout", "-in", csr])
    assert b"verify OK" in p.stdout + p.stderr


def test_req_new_rsa_pss(esim, keys, tmp_path):
    from cryptography import x509
    k = keys["rsa2048"]
    csr = tmp_path / "req.csr"
    eng(esim, ["req", "-new", *ENGINE_ARGS, "-keyform", "engine", "-key", k.label,
               "-subj", "/CN=engine.test", "-sha384", "-sigopt",
               "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
               "-out", csr])
    req = x509.load_pem_x509_csr(csr.read_bytes())
    assert req.is_signature_valid
    assert req.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10"


# ---------------------------------------------------------------------------
# Decryption
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("opts", [
    [],
    ["rsa_padding_mode:oaep"],
    ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"],
], ids=["pkcs1", "oaep-sha1", "oaep-sha256"])
def test_decrypt(esim, keys, tmp_path, opts):
    k = keys["rsa-dec"]
    pt = tmp_path / "pt"
    pt.write_bytes(b"premaster-ish secret")
    ct = tmp_path / "ct"
    po = sum((["-pkeyopt", o] for o in opts), [])
    plain(["pkeyutl", "-encrypt", "-pubin", "-inkey", k.pub_pem, "-in", pt,
           "-out", ct, *po])
    p = eng(esim, ["pkeyutl", *ENGINE_ARGS, "-keyform", "engine", "-inkey",
                   k.label, "-decrypt", "-in", ct, *po])
    assert p.stdout == pt.read_bytes()


def test_decrypt_refused_by_policy(esim, keys, tmp_path):
    k = keys["rsa2048"]     # default policy: signatures only
    pt = tmp_path / "pt"
    pt.write_bytes(b"x")
    ct = tmp_path / "ct"
    plain(["pkeyutl", "-encrypt", "-pubin", "-inkey", k.pub_pem, "-in", pt, "-out", ct])
    p = eng(esim, ["pkeyutl", *ENGINE_ARGS, "-keyform", "engine", "-inkey",
                   k.label, "-decrypt", "-in", ct], check=False)
    err = p.stderr.decode()
    assert p.returncode != 0
    assert "optee engine" in err and "refused by the key policy" in err, err
    assert "eng-rsa2048" in err, err


# ---------------------------------------------------------------------------
# Errors the user sees
# ---------------------------------------------------------------------------

def _sign_err(sim, key_id, tmp_path, opts=()):
    dg = tmp_path / "dg"
    dg.write_bytes(b"\x01" * 32)
    p = eng(sim, sign_args(key_id, dg, tmp_path / "sig", opts), check=False)
    assert p.returncode != 0
    return p.stderr.decode()


def test_error_unknown_label(esim, tmp_path):
    err = _sign_err(esim, "no-such-key", tmp_path)
    assert "optee engine" in err and "key not found in the TEE" in err, err
    assert "'no-such-key'" in err, err


@pytest.mark.parametrize("key_id", ["bad label!", "optee:", "optee:-dash",
                                    "x" * 40])
def test_error_malformed_id(esim, tmp_path, key_id):
    err = _sign_err(esim, key_id, tmp_path)
    assert "malformed key id" in err, err


def test_error_missing_reference_file(esim, tmp_path):
    err = _sign_err(esim, str(tmp_path / "nope.pem"), tmp_path)
    assert "bad key reference file" in err and "No such file" in err, err


def test_error_not_a_reference_file(esim, keys, tmp_path):
    f = tmp_path / "junk.pem"
    f.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    err = _sign_err(esim, str(f), tmp_path)
    assert "bad key reference file" in err, err


def test_error_stale_reference_file(esim, keys, tmp_path):
    """A reference whose recorded public key is not the key now under that
    label (key deleted and re-made) is refused, not silently used."""
    ref = tmp_path / "stale.ref.pem"
    text = keys["p256"].ref.read_text()
    # same label, someone else's public key
    import tlsutil
    tlsutil.write_key_reference(ref, keys["p256"].uri, keys["p384"].spki_der)
    assert text != ref.read_text()
    err = _sign_err(esim, str(ref), tmp_path)
    assert "does not match the key in the TEE" in err, err


def test_error_policy_refusal(esim, keys, tmp_path):
    err = _sign_err(esim, keys["rsa-pss-only"].label, tmp_path,
                    ["digest:sha256"])
    assert "refused by the key policy" in err and "eng-rsa-pss" in err, err


def test_error_raw_rsa_refused(esim, keys, tmp_path):
    dg = tmp_path / "blk"   # pkeyutl takes at most 64 bytes to "sign"
    dg.write_bytes(b"\x01" * 32)
    p = eng(esim, sign_args(keys["rsa2048"].label, dg, tmp_path / "sig",
                            ["rsa_padding_mode:none"]), check=False)
    assert p.returncode != 0
    assert "raw RSA private operation refused" in p.stderr.decode()


def test_error_tee_unreachable(sim, tmp_path):
    sim.stop()
    err = _sign_err(sim, "tls-server", tmp_path)
    assert "TEE unreachable" in err, err


def test_error_ta_not_installed(sim_factory, tmp_path):
    s = sim_factory("nota", without_ta=True)
    err = _sign_err(s, "tls-server", tmp_path)
    assert "Trusted Application not installed" in err, err


def test_error_tee_gone_after_load(sim, tmp_path):
    """The key loads, then the TEE disappears: signing fails cleanly."""
    k = gen_key(sim, tmp_path, "gone", "p256")
    prog = _fork_helper(tmp_path)
    proc = subprocess.Popen([str(prog), k.label, "0", "wait"], env=sim.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"loaded\n"
        sim.stop()
        _, err = proc.communicate(b"go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert b"parent" in err and b"FAILED" in err, err
    assert b"TEE unreachable" in err, err


# ---------------------------------------------------------------------------
# fork: key loaded in the parent (nginx master), used in the children
# ---------------------------------------------------------------------------

FORK_C = r"""
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* Sign with the ENGINE key, verify with a plain copy of its public key. */
static int sign_verify(EVP_PKEY *key, EVP_PKEY *pub, const char *who)
{
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    const unsigned char msg[] = "fork test";
    const EVP_MD *md = EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && EVP_DigestSignInit(c, NULL, md, NULL, key) == 1 &&
             EVP_DigestSign(c, sig, &siglen, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(c);
    if (ok) {
        c = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(c, NULL, md, NULL, pub) == 1 &&
             EVP_DigestVerify(c, sig, siglen, msg, sizeof(msg)) == 1;
        EVP_MD_CTX_free(c);
    }
    fprintf(stderr, "%s %ld: %s\n", who, (long)getpid(), ok ? "ok" : "FAILED");
    if (!ok)
        ERR_print_errors_fp(stderr);
    return ok;
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 2, i, bad = 0, st;
    ENGINE *e;
    EVP_PKEY *key, *pub;
    unsigned char *der = NULL;
    const unsigned char *p;
    int len;

    e = ENGINE_by_id("optee");
    if (e == NULL || !ENGINE_init(e)) { ERR_print_errors_fp(stderr); return 3; }
    key = ENGINE_load_private_key(e, argv[1], NULL, NULL);
    if (key == NULL) { ERR_print_errors_fp(stderr); return 4; }
    len = i2d_PUBKEY(key, &der);
    p = der;
    pub = d2i_PUBKEY(NULL, &p, len);
    OPENSSL_free(der);
    if (argc > 3 && strcmp(argv[3], "wait") == 0) {
        char line[16];
        printf("loaded\n");
        fflush(stdout);
        if (fgets(line, sizeof(line), stdin) == NULL)
            return 7;
    }
    if (n > 0 && !sign_verify(key, pub, "parent"))
        return 5;
    fflush(stderr);
    for (i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(sign_verify(key, pub, "child") && sign_verify(key, pub, "child") ? 0 : 1);
        if (pid < 0)
            return 6;
    }
    for (i = 0; i < n; i++)
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    if (!sign_verify(key, pub, "parent"))
        bad++;
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    ENGINE_finish(e);
    ENGINE_free(e);
    return bad ? 1 : 0;
}
"""


def _fork_helper(tmp_path: Path) -> Path:
    src = tmp_path / "fork_sign.c"
    src.write_text(FORK_C)
    exe = tmp_path / "fork_sign"
    cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcrypto"],
                            capture_output=True, text=True).stdout.split() or ["-lcrypto"]
    subprocess.run([os.environ.get("CC", "cc"), "-o", str(exe), str(src), *cflags],
                   check=True, capture_output=True)
    return exe


@pytest.mark.parametrize("kind", ["p256", "rsa2048", "ed25519"])
def test_fork_children_use_own_session(esim, keys, tmp_path, kind):
    prog = _fork_helper(tmp_path)
    n = 3
    before = esim.stats()
    p = esim.run([str(prog), keys[kind].label, str(n)], check=False)
    after = esim.stats()
    assert p.returncode == 0, p.stderr.decode()
    assert p.stderr.decode().count(": ok") == 2 * n + 2
    # the parent's session plus one per child: no child used the parent's
    assert after["sessions_opened"] - before["sessions_opened"] == n + 1
    # load + 2 parent signatures + 2 per child
    sigs = 2 + 2 * n
    assert after["ta_invocations"] - before["ta_invocations"] >= sigs + 1


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))


# ---------------------------------------------------------------------------
# An openssl.cnf that initialises the ENGINE, with the TEE down
# ---------------------------------------------------------------------------

def test_conf_init_with_tee_down_leaves_other_programs_alone(tmp_path):
    """`init = 1` in openssl.cnf while there is no TEE at all: programs
    that never use a TEE key work as before and print nothing about it;
    only a TEE key load fails, with a clear message."""
    cnf = tmp_path / "openssl.cnf"
    cnf.write_text(f"""openssl_conf = openssl_init
[openssl_init]
engines = engine_section
providers = provider_sect
[provider_sect]
default = default_sect
[default_sect]
activate = 1
[engine_section]
optee = optee_engine_section
[optee_engine_section]
engine_id = optee
dynamic_path = {ENGINE_SO}
init = 1
""")
    env = plain_env()
    env.update({"OPENSSL_CONF": str(cnf),
                "OPTEE_SIM_SOCKET": str(tmp_path / "no-tee.sock"),
                "LD_LIBRARY_PATH": str(ROOT / "build" / "lib")})

    def run(*args, ok=True):
        p = subprocess.run([OPENSSL, *map(str, args)], env=env,
                           capture_output=True, timeout=60)
        if ok:
            assert p.returncode == 0 and p.stderr == b"", (args, p.stderr)
        return p

    p = run("engine", "-t")
    assert b"(optee)" in p.stdout and b"[ available ]" in p.stdout
    msg = tmp_path / "m"
    msg.write_bytes(b"hello\n")
    run("dgst", "-sha256", "-binary", "-out", tmp_path / "d", msg)
    for alg, opt in (("RSA", "rsa_keygen_bits:2048"), ("EC", "ec_paramgen_curve:P-256"),
                     ("ED25519", None)):
        key = tmp_path / f"{alg}.pem"
        p = run("genpkey", "-algorithm", alg,
                *(["-pkeyopt", opt] if opt else []), "-out", key, ok=False)
        assert p.returncode == 0 and b"optee" not in p.stderr.lower(), p.stderr
        run("req", "-new", "-x509", "-key", key, "-subj", "/CN=soft",
            "-days", "1", "-out", tmp_path / f"{alg}.crt")
        if alg != "ED25519":      # (openssl 3.0 dgst cannot sign Ed25519)
            run("dgst", "-sha256", "-sign", key, "-out",
                tmp_path / f"{alg}.sig", msg)
        # the same with the ENGINE made the default for everything
        p = run("pkeyutl", "-engine", "optee", "-sign", "-inkey", key,
                *(["-rawin"] if alg == "ED25519" else []),
                "-in", tmp_path / "d" if alg != "ED25519" else msg,
                "-out", tmp_path / f"{alg}.sig3", ok=False)
        assert p.returncode == 0, (alg, p.stderr)
    # the one thing that needs the TEE says why it cannot
    p = run("pkeyutl", "-engine", "optee", "-keyform", "engine", "-inkey",
            "some-label", "-sign", "-in", tmp_path / "d", ok=False)
    assert p.returncode != 0
    assert b"TEE unreachable" in p.stderr, p.stderr
