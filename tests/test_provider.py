"""The `optee` OpenSSL provider, driven through the real openssl CLI.

Every key is made in a fresh simulator; every signature is checked by an
openssl that does NOT load our provider (an empty configuration: default
provider only) against the public key we exported.
"""
from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from provider_cli import (invocations, needs_provider, openssl, plain,  # noqa: F401
                          plain_env)

pytestmark = needs_provider

# name -> (genpkey algorithm, pkeyopts, digests to sign with)
KEYS = {
    "ec256": ("EC", ["group:P-256"], ["sha256", "sha384"]),
    "ec384": ("EC", ["group:P-384"], ["sha384", "sha256"]),
    "ec521": ("EC", ["group:P-521"], ["sha512", "sha1"]),
    "rsa2048": ("RSA", ["bits:2048"], ["sha256", "sha512"]),
    "rsa3072": ("RSA", ["rsa_keygen_bits:3072"], ["sha384", "sha1"]),
    "ed25519": ("ED25519", [], []),
}
SIGNING_KEYS = [k for k in KEYS if KEYS[k][2]]


# ---- helpers -------------------------------------------------------------

def genkey(sim, tmp: Path, label: str, kind: str | None = None,
           extra=()) -> Path:
    alg, opts, _ = KEYS[kind or label]
    ref = tmp / f"{label}.pem"
    args = ["genpkey", "-propquery", "provider=optee", "-algorithm", alg]
    for o in [*opts, f"label:{label}", *extra]:
        args += ["-pkeyopt", o]
    openssl(sim, *args, "-out", ref)
    return ref


def pubkey(sim, tmp: Path, keyin: str) -> Path:
    name = keyin.replace(":", "_").replace("/", "_")
    pub = tmp / f"{Path(name).stem}.pub.pem"
    openssl(sim, "pkey", "-in", keyin, "-pubout", "-out", pub)
    return pub


def stderr_of(res) -> str:
    err = res.stderr
    return err.decode(errors="replace") if isinstance(err, bytes) else err


def fails_with(sim, message: str, *args, env=None):
    res = openssl(sim, *args, check=False, env=env)
    assert res.returncode != 0, f"openssl {args} unexpectedly succeeded"
    assert message in stderr_of(res), stderr_of(res)
    return res


# ---- provider and key generation ---------------------------------------

def test_provider_is_listed(sim):
    out = openssl(sim, "list", "-providers").stdout.decode()
    assert "optee" in out and "optee-tls provider" in out
    assert out.count("status: active") == 2
    out = openssl(sim, "list", "-store-loaders").stdout.decode()
    assert "optee @ optee" in out


@pytest.mark.parametrize("kind", list(KEYS))
def test_genpkey_writes_reference_not_key(sim, tmp_path, plain_env, kind):
    ref = genkey(sim, tmp_path, kind)
    text = ref.read_text()
    assert text.startswith("-----BEGIN OPTEE TLS KEY-----")
    assert "PRIVATE" not in text
    # The body: SEQUENCE { 1, "optee:LABEL", SubjectPublicKeyInfo }.
    body = base64.b64decode("".join(text.strip().splitlines()[1:-1]))
    pub_from_ref = pubkey(sim, tmp_path, str(ref))
    pub_from_uri = pubkey(sim, tmp_path, f"optee:{kind}")
    assert pub_from_ref.read_text() == pub_from_uri.read_text()
    spki = plain(plain_env, "pkey", "-pubin", "-in", pub_from_ref,
                 "-outform", "DER").stdout
    assert body.endswith(spki)
    assert f"optee:{kind}".encode() in body
    assert len(body) < len(spki) + 64
    # The public key is an ordinary one for the default provider.
    plain(plain_env, "pkey", "-pubin", "-in", pub_from_ref, "-noout")
    # pkey re-encoding a TEE key writes a reference again.
    out = openssl(sim, "pkey", "-in", f"optee:{kind}").stdout.decode()
    assert out == text


def test_genpkey_with_provider_options_and_no_config(sim, tmp_path, openssl_bin):
    """The documented command works without openssl-optee.cnf too."""
    env = {"OPENSSL_CONF": str(tmp_path / "none.cnf")}
    (tmp_path / "none.cnf").write_text("\n")
    ref = tmp_path / "k.pem"
    openssl(sim, "genpkey", "-provider", "optee", "-provider", "default",
            "-algorithm", "EC", "-pkeyopt", "group:P-256",
            "-pkeyopt", "label:cli", "-out", ref, env=env)
    assert "OPTEE TLS KEY" in ref.read_text()
    openssl(sim, "pkey", "-provider", "optee", "-provider", "default",
            "-in", ref, "-pubout", env=env)


def test_rsa4096_once(sim, tmp_path, plain_env):
    ref = tmp_path / "r4.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm", "RSA",
            "-pkeyopt", "bits:4096", "-pkeyopt", "label:r4", "-out", ref)
    pub = pubkey(sim, tmp_path, str(ref))
    msg = tmp_path / "m"
    msg.write_bytes(b"four thousand ninety six")
    sig = tmp_path / "s"
    openssl(sim, "dgst", "-sha256", "-sign", ref, "-out", sig, msg)
    assert len(sig.read_bytes()) == 512
    plain(plain_env, "dgst", "-sha256", "-verify", pub, "-signature", sig, msg)


# ---- signatures -----------------------------------------------------------

@pytest.mark.parametrize("kind", SIGNING_KEYS)
def test_sign_verified_by_default_provider(sim, tmp_path, plain_env, kind):
    ref = genkey(sim, tmp_path, kind)
    pub = pubkey(sim, tmp_path, str(ref))
    msg = tmp_path / "msg"
    msg.write_bytes(b"optee-tls signs this\n" * 10)
    for md in KEYS[kind][2]:
        # pkeyutl signs a precomputed digest.
        dg = tmp_path / f"d.{md}"
        dg.write_bytes(hashlib.new(md, msg.read_bytes()).digest())
        sig = tmp_path / f"pk.{md}"
        openssl(sim, "pkeyutl", "-sign", "-inkey", f"optee:{kind}",
                "-pkeyopt", f"digest:{md}", "-in", dg, "-out", sig)
        plain(plain_env, "pkeyutl", "-verify", "-pubin", "-inkey", pub,
              "-pkeyopt", f"digest:{md}", "-in", dg, "-sigfile", sig)
        # dgst hashes and signs (DigestSign) with the reference file.
        sig2 = tmp_path / f"dg.{md}"
        openssl(sim, "dgst", f"-{md}", "-sign", ref, "-out", sig2, msg)
        plain(plain_env, "dgst", f"-{md}", "-verify", pub, "-signature",
              sig2, msg)
        # A changed message does not verify.
        bad = plain(plain_env, "dgst", f"-{md}", "-verify", pub,
                    "-signature", sig2, dg, check=False)
        assert bad.returncode != 0


def test_ed25519_sign(sim, tmp_path, plain_env):
    ref = genkey(sim, tmp_path, "ed25519")
    pub = pubkey(sim, tmp_path, str(ref))
    msg = tmp_path / "msg"
    msg.write_bytes(b"pure eddsa over the whole message")
    sig = tmp_path / "sig"
    openssl(sim, "pkeyutl", "-sign", "-rawin", "-inkey", ref, "-in", msg,
            "-out", sig)
    assert len(sig.read_bytes()) == 64
    plain(plain_env, "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", pub,
          "-in", msg, "-sigfile", sig)
    # Ed25519 is deterministic: the URI gives the same signature.
    sig2 = tmp_path / "sig2"
    openssl(sim, "pkeyutl", "-sign", "-rawin", "-inkey", "optee:ed25519",
            "-in", msg, "-out", sig2)
    assert sig.read_bytes() == sig2.read_bytes()


@pytest.mark.parametrize("saltlen", ["digest", "max", "auto", "20", "0", "32"])
def test_rsa_pss_saltlen(sim, tmp_path, plain_env, saltlen):
    ref = genkey(sim, tmp_path, "rsa2048")
    pub = pubkey(sim, tmp_path, str(ref))
    msg = tmp_path / "msg"
    msg.write_bytes(b"probabilistic signature scheme")
    sig = tmp_path / "sig"
    pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt",
           f"rsa_pss_saltlen:{saltlen}"]
    openssl(sim, "dgst", "-sha256", "-sign", ref, *pss, "-out", sig, msg)
    # Verify with the exact salt length expected.
    expected = {"digest": "32", "max": "222", "auto": "222"}.get(saltlen,
                                                                saltlen)
    plain(plain_env, "dgst", "-sha256", "-verify", pub, "-sigopt",
          "rsa_padding_mode:pss", "-sigopt", f"rsa_pss_saltlen:{expected}",
          "-signature", sig, msg)
    # pkeyutl with the same options on a digest (what libssl does for
    # TLS 1.3: PSS, salt = hash length).
    dg = tmp_path / "dg"
    dg.write_bytes(hashlib.sha384(msg.read_bytes()).digest())
    sig2 = tmp_path / "sig2"
    openssl(sim, "pkeyutl", "-sign", "-inkey", "optee:rsa2048", "-pkeyopt",
            "digest:sha384", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt",
            f"rsa_pss_saltlen:{saltlen}", "-in", dg, "-out", sig2)
    expected = {"digest": "48", "max": "206", "auto": "206"}.get(saltlen,
                                                                saltlen)
    plain(plain_env, "pkeyutl", "-verify", "-pubin", "-inkey", pub,
          "-pkeyopt", "digest:sha384", "-pkeyopt", "rsa_padding_mode:pss",
          "-pkeyopt", f"rsa_pss_saltlen:{expected}", "-in", dg,
          "-sigfile", sig2)


def test_pss_mgf1_must_match_digest(sim, tmp_path):
    genkey(sim, tmp_path, "rsa2048")
    dg = tmp_path / "dg"
    dg.write_bytes(hashlib.sha256(b"x").digest())
    fails_with(sim, "unsupported algorithm", "pkeyutl", "-sign", "-inkey",
               "optee:rsa2048", "-pkeyopt", "digest:sha256", "-pkeyopt",
               "rsa_padding_mode:pss", "-pkeyopt", "rsa_mgf1_md:sha512",
               "-in", dg)


@pytest.mark.parametrize("kind", ["ec256", "rsa2048", "ed25519"])
def test_one_ta_invocation_per_signature(sim, tmp_path, kind):
    ref = genkey(sim, tmp_path, kind)
    msg = tmp_path / "m"
    msg.write_bytes(hashlib.sha256(b"count me").digest())
    # Loading the key costs one call (the key lookup)...
    before = invocations(sim)
    openssl(sim, "pkey", "-in", ref, "-noout")
    load = invocations(sim) - before
    assert load == 1
    # ... and a signature exactly one more (pkeyutl's size query and
    # DigestSign's size query never reach the TA).
    args = ["-rawin"] if kind == "ed25519" else ["-pkeyopt", "digest:sha256"]
    before = invocations(sim)
    openssl(sim, "pkeyutl", "-sign", "-inkey", ref, *args, "-in", msg,
            "-out", tmp_path / "s")
    assert invocations(sim) - before == load + 1
    if kind != "ed25519":
        before = invocations(sim)
        openssl(sim, "dgst", "-sha256", "-sign", f"optee:{kind}", "-out",
                tmp_path / "s2", msg)
        assert invocations(sim) - before == load + 1


def test_verify_with_tee_key(sim, tmp_path):
    """pkeyutl -verify with our key (OpenSSL routes verify to us)."""
    genkey(sim, tmp_path, "ec384")
    dg = tmp_path / "dg"
    dg.write_bytes(hashlib.sha384(b"v").digest())
    sig = tmp_path / "s"
    openssl(sim, "pkeyutl", "-sign", "-inkey", "optee:ec384", "-in", dg,
            "-out", sig)
    openssl(sim, "pkeyutl", "-verify", "-inkey", "optee:ec384", "-in", dg,
            "-sigfile", sig)
    dg.write_bytes(hashlib.sha384(b"w").digest())
    res = openssl(sim, "pkeyutl", "-verify", "-inkey", "optee:ec384", "-in",
                  dg, "-sigfile", sig, check=False)
    assert res.returncode != 0


# ---- certificates ---------------------------------------------------------

@pytest.mark.parametrize("kind", list(KEYS))
def test_req_with_uri_and_reference(sim, tmp_path, plain_env, kind):
    ref = genkey(sim, tmp_path, kind)
    for key in (f"optee:{kind}", str(ref)):
        csr = tmp_path / "r.csr"
        openssl(sim, "req", "-new", "-key", key, "-subj", f"/CN={kind}",
                "-out", csr)
        res = plain(plain_env, "req", "-verify", "-in", csr, "-noout")
        assert b"verify OK" in res.stdout + res.stderr


def test_req_rsa_pss(sim, tmp_path, plain_env):
    genkey(sim, tmp_path, "rsa3072")
    csr = tmp_path / "pss.csr"
    openssl(sim, "req", "-new", "-key", "optee:rsa3072", "-sigopt",
            "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
            "-sha384", "-subj", "/CN=pss", "-out", csr)
    plain(plain_env, "req", "-verify", "-in", csr, "-noout")
    text = plain(plain_env, "req", "-in", csr, "-noout", "-text").stdout
    assert b"rsassaPss" in text and b"Salt Length: 0x30" in text
    assert b"mgf1 with sha384" in text


def test_pss_only_key_defaults_to_pss(sim, tmp_path, plain_env):
    ref = tmp_path / "p.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm",
            "RSA-PSS", "-pkeyopt", "label:ponly", "-out", ref)
    csr = tmp_path / "p.csr"
    openssl(sim, "req", "-new", "-key", ref, "-subj", "/CN=p", "-out", csr)
    plain(plain_env, "req", "-verify", "-in", csr, "-noout")
    assert b"rsassaPss" in plain(plain_env, "req", "-in", csr, "-noout",
                                 "-text").stdout


def test_x509_ca_in_tee(sim, tmp_path, plain_env):
    genkey(sim, tmp_path, "ca", kind="ec384")
    ca = tmp_path / "ca.crt"
    openssl(sim, "req", "-new", "-x509", "-key", "optee:ca", "-subj",
            "/CN=TEE CA", "-days", "30", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=keyCertSign", "-out", ca)
    for kind in ("ec256", "rsa2048", "ed25519"):
        ref = genkey(sim, tmp_path, kind)
        csr = tmp_path / f"{kind}.csr"
        crt = tmp_path / f"{kind}.crt"
        openssl(sim, "req", "-new", "-key", ref, "-subj", f"/CN={kind}",
                "-out", csr)
        openssl(sim, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey",
                "optee:ca", "-CAcreateserial", "-days", "10", "-out", crt)
        res = plain(plain_env, "verify", "-CAfile", ca, crt)
        assert b": OK" in res.stdout


def test_storeutl(sim, tmp_path):
    ref = genkey(sim, tmp_path, "ec256")
    out = openssl(sim, "storeutl", "optee:ec256").stdout.decode()
    assert "Total found: 1" in out
    assert "-----BEGIN OPTEE TLS KEY-----" in out
    assert ref.read_text() in out
    out = openssl(sim, "storeutl", "optee:label=ec256").stdout.decode()
    assert "Total found: 1" in out


def test_der_reference(sim, tmp_path, plain_env):
    ref = genkey(sim, tmp_path, "ec256")
    der = tmp_path / "k.der"
    openssl(sim, "pkey", "-in", ref, "-outform", "DER", "-out", der)
    assert b"optee:ec256" in der.read_bytes()
    csr = tmp_path / "d.csr"
    openssl(sim, "req", "-new", "-key", der, "-keyform", "DER", "-subj",
            "/CN=d", "-out", csr)
    plain(plain_env, "req", "-verify", "-in", csr, "-noout")


def test_ordinary_keys_still_load(sim, tmp_path, plain_env):
    """Our decoders leave other PEM/DER keys alone."""
    soft = tmp_path / "soft.pem"
    plain(plain_env, "genpkey", "-algorithm", "EC", "-pkeyopt",
          "group:P-256", "-out", soft)
    soft_der = tmp_path / "soft.der"
    plain(plain_env, "pkey", "-in", soft, "-outform", "DER", "-out",
          soft_der)
    openssl(sim, "pkey", "-in", soft, "-noout")
    openssl(sim, "pkey", "-in", soft_der, "-inform", "DER", "-noout")
    out = openssl(sim, "pkey", "-in", soft).stdout
    assert b"BEGIN PRIVATE KEY" in out


def test_python_ssl_loads_reference(sim, tmp_path):
    """PEM_read_bio_PrivateKey path: Python's ssl, no code change."""
    ref = genkey(sim, tmp_path, "ec256")
    crt = tmp_path / "c.crt"
    openssl(sim, "req", "-new", "-x509", "-key", ref, "-subj", "/CN=py",
            "-out", crt)
    code = ("import ssl,sys; c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
            "c.load_cert_chain(sys.argv[1], sys.argv[2]); print('loaded')")
    res = sim.run([sys.executable, "-c", code, str(crt), str(ref)])
    assert b"loaded" in res.stdout
    # A certificate of another key is refused by the key/cert check.
    other = genkey(sim, tmp_path, "ec384")
    res = sim.run([sys.executable, "-c", code, str(crt), str(other)],
                  check=False)
    assert res.returncode != 0


# ---- errors the user sees -------------------------------------------------

def test_unknown_label(sim, tmp_path):
    fails_with(sim, "key not found in the TEE", "pkey", "-in", "optee:nosuch",
               "-noout")
    fails_with(sim, "key not found in the TEE", "storeutl", "optee:nosuch")


@pytest.mark.parametrize("uri", ["optee:", "optee:bad/label", "optee:-dash",
                                 "optee:" + "x" * 33, "optee:a b"])
def test_malformed_uri(sim, uri):
    fails_with(sim, "malformed key reference", "pkey", "-in", uri, "-noout")


def test_tee_unreachable(sim, tmp_path):
    ref = genkey(sim, tmp_path, "ec256")
    sim.stop()
    fails_with(sim, "TEE not reachable", "pkey", "-in", "optee:ec256",
               "-noout")
    fails_with(sim, "TEE not reachable", "req", "-new", "-key", ref,
               "-subj", "/CN=x")


def test_ta_not_installed(sim_factory, tmp_path):
    bare = sim_factory("bare", without_ta=True)
    fails_with(bare, "optee-tls TA not installed", "pkey", "-in",
               "optee:any", "-noout")


def test_unsupported(sim, tmp_path):
    base = ["genpkey", "-propquery", "provider=optee"]
    fails_with(sim, "unsupported algorithm", *base, "-algorithm", "EC",
               "-pkeyopt", "group:P-192", "-pkeyopt", "label:p192")
    fails_with(sim, "unsupported algorithm", *base, "-algorithm", "RSA",
               "-pkeyopt", "bits:1024", "-pkeyopt", "label:r1024")
    genkey(sim, tmp_path, "rsa2048")
    dg = tmp_path / "dg"
    dg.write_bytes(hashlib.sha256(b"x").digest())
    fails_with(sim, "unsupported algorithm", "pkeyutl", "-sign", "-inkey",
               "optee:rsa2048", "-pkeyopt", "rsa_padding_mode:x931", "-in",
               dg)


def test_generation_errors(sim, tmp_path):
    base = ["genpkey", "-propquery", "provider=optee", "-algorithm", "EC",
            "-pkeyopt", "group:P-256"]
    fails_with(sim, "no key label given", *base)
    # No curve: refused, as the default provider refuses it.
    fails_with(sim, "no EC curve given", *base[:-2], "-pkeyopt", "label:nc")
    fails_with(sim, "malformed key reference", *base, "-pkeyopt",
               "label:bad/label")
    fails_with(sim, "invalid parameter", *base, "-pkeyopt", "label:p",
               "-pkeyopt", "policy:nonsense")
    genkey(sim, tmp_path, "ec256")
    fails_with(sim, "already exists in the TEE", *base, "-pkeyopt",
               "label:ec256")


def test_policy_refusal(sim, tmp_path, plain_env):
    ref = tmp_path / "p.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm",
            "RSA", "-pkeyopt", "label:pssonly", "-pkeyopt", "policy:pss",
            "-out", ref)
    msg = tmp_path / "m"
    msg.write_bytes(b"m")
    fails_with(sim, "operation not allowed by the key's policy", "dgst",
               "-sha256", "-sign", ref, "-sigopt", "rsa_padding_mode:pkcs1",
               "-out", tmp_path / "s", msg)
    # PSS is what it allows (and what it does by default).
    openssl(sim, "dgst", "-sha256", "-sign", ref, "-out", tmp_path / "s", msg)
    pub = pubkey(sim, tmp_path, str(ref))
    plain(plain_env, "dgst", "-sha256", "-verify", pub, "-sigopt",
          "rsa_padding_mode:pss", "-signature", tmp_path / "s", msg)


def test_reference_of_another_key_is_refused(sim_factory, tmp_path):
    """A reference written for the key of one device (or a key generated
    again under the same label) does not load another key."""
    a = sim_factory("a")
    ref_a = genkey(a, tmp_path, "ec256")
    b = sim_factory("b")
    (tmp_path / "b").mkdir(exist_ok=True)
    genkey(b, tmp_path / "b", "ec256")
    fails_with(b, "key reference does not match the key in the TEE", "pkey",
               "-in", ref_a, "-noout")
    fails_with(b, "key reference does not match the key in the TEE", "req",
               "-new", "-key", ref_a, "-subj", "/CN=x")
    # Python's ssl (PEM_read_bio_PrivateKey) refuses it as well.
    code = "import ssl,sys; ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)" \
           ".load_cert_chain(sys.argv[1], sys.argv[1])"
    res = b.run([sys.executable, "-c", code, str(ref_a)], check=False)
    assert res.returncode != 0


def test_malformed_reference_file(sim, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN OPTEE TLS KEY-----\n"
                   + base64.encodebytes(b"not a reference").decode()
                   + "-----END OPTEE TLS KEY-----\n")
    fails_with(sim, "malformed key reference", "pkey", "-in", bad, "-noout")
