"""Robustness of the `optee` provider: parameters of the wrong type or
without data, context duplication, property queries that name us, the
Ed25519 message limit, ordinary (and encrypted) keys with the provider
active, and a provider that loads while the TEE is unreachable.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from provider_cli import (invocations, needs_provider, openssl, plain,  # noqa: F401
                          plain_env)
from test_provider_decrypt import driver, rsa_key  # noqa: F401

pytestmark = needs_provider


def test_params_of_wrong_type_or_without_data(sim, tmp_path, driver):
    """UTF-8 parameters with a NULL buffer used to crash the signature
    (strcmp on pad-mode / saltlen) and key generation (strlen on policy);
    now every such parameter is refused. Also: a DigestSign context copied
    midway (EVP_MD_CTX_copy_ex duplicates our context) signs the same."""
    rsa_key(sim, tmp_path, "rsa", policy="pkcs1,decrypt-pkcs1")
    res = sim.run([str(driver), "badparams", "optee:rsa"], check=False)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0 and out.strip().endswith("OK"), out


def test_propquery_naming_the_provider(sim, tmp_path, plain_env):
    """-propquery provider=optee (needed for genpkey) also reaches our
    signature context; its digest must still come from another provider."""
    ref, _ = rsa_key(sim, tmp_path, "rsa", policy=None)
    csr = tmp_path / "r.csr"
    openssl(sim, "req", "-new", "-key", "optee:rsa", "-propquery",
            "provider=optee", "-subj", "/CN=pq", "-out", csr)
    res = plain(plain_env, "req", "-verify", "-in", csr, "-noout")
    assert b"verify OK" in res.stdout + res.stderr


def test_ed25519_message_limit(sim, tmp_path):
    """Ed25519 signs whole messages, at most OTLS_MAX_MESSAGE (16384)
    bytes; a longer one is refused with the reason, before the TA."""
    ref = tmp_path / "ed.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm",
            "ED25519", "-pkeyopt", "label:ed", "-out", ref)
    ok = tmp_path / "m16k"
    ok.write_bytes(b"\xa5" * 16384)
    openssl(sim, "pkeyutl", "-sign", "-rawin", "-inkey", ref, "-in", ok,
            "-out", tmp_path / "s")
    assert len((tmp_path / "s").read_bytes()) == 64
    big = tmp_path / "m16k1"
    big.write_bytes(b"\xa5" * 16385)
    before = invocations(sim)
    res = openssl(sim, "pkeyutl", "-sign", "-rawin", "-inkey", ref, "-in",
                  big, check=False)
    assert res.returncode != 0
    assert b"the TEE signs at most 16384" in res.stderr
    assert invocations(sim) - before == 1       # the key lookup only


@pytest.fixture
def soft_keys(tmp_path, plain_env):
    """Ordinary software keys in the usual encodings, made without us."""
    k = {}
    k["rsa"] = tmp_path / "rsa.pem"
    plain(plain_env, "genpkey", "-algorithm", "RSA", "-pkeyopt", "bits:2048",
          "-out", k["rsa"])
    k["p8enc"] = tmp_path / "p8enc.pem"
    plain(plain_env, "pkcs8", "-topk8", "-in", k["rsa"], "-v2", "aes256",
          "-passout", "pass:x", "-out", k["p8enc"])
    k["p8enc_der"] = tmp_path / "p8enc.der"
    plain(plain_env, "pkcs8", "-topk8", "-in", k["rsa"], "-v2", "aes256",
          "-passout", "pass:x", "-outform", "DER", "-out", k["p8enc_der"])
    k["trad_enc"] = tmp_path / "trad.pem"
    plain(plain_env, "pkey", "-in", k["rsa"], "-traditional", "-aes128",
          "-passout", "pass:x", "-out", k["trad_enc"])
    k["crt"] = tmp_path / "rsa.crt"
    plain(plain_env, "req", "-new", "-x509", "-key", k["rsa"], "-subj",
          "/CN=soft", "-out", k["crt"])
    return k


def test_encrypted_keys_load_with_the_provider(sim, tmp_path, soft_keys):
    """Our PEM/DER decoders leave other (and encrypted) keys alone and never
    swallow the passphrase prompt."""
    k = soft_keys
    want = openssl(sim, "pkey", "-in", k["rsa"], "-pubout").stdout
    for name, extra in (("p8enc", []), ("trad_enc", []),
                        ("p8enc_der", ["-inform", "DER"])):
        before = invocations(sim)
        out = openssl(sim, "pkey", "-in", k[name], *extra, "-passin",
                      "pass:x", "-pubout").stdout
        assert out == want, name
        assert invocations(sim) == before       # nothing for the TEE
        res = openssl(sim, "pkey", "-in", k[name], *extra, "-passin",
                      "pass:wrong", "-noout", check=False)
        assert res.returncode != 0, name
    # Python's ssl (PEM_read_bio_PrivateKey with a password callback), key
    # alone and key after the certificate in one file.
    combo = tmp_path / "combo.pem"
    combo.write_bytes(k["crt"].read_bytes() + k["p8enc"].read_bytes())
    code = ("import ssl,sys; c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
            "c.load_cert_chain(sys.argv[1], sys.argv[2] or None, password='x');"
            " print('loaded')")
    for args in ((k["crt"], k["p8enc"]), (combo, "")):
        res = sim.run([sys.executable, "-c", code, *map(str, args)])
        assert b"loaded" in res.stdout


def test_provider_loads_without_tee(sim, tmp_path, soft_keys):
    """The TEE is only asked when a TEE key is used: with the simulator
    stopped the provider still loads and ordinary keys still work."""
    genkey_ref = tmp_path / "ec.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm", "EC",
            "-pkeyopt", "group:P-256", "-pkeyopt", "label:ec", "-out",
            genkey_ref)
    sim.stop()
    out = openssl(sim, "list", "-providers").stdout.decode()
    assert "optee-tls provider" in out and out.count("status: active") == 2
    openssl(sim, "list", "-signature-algorithms")
    openssl(sim, "pkey", "-in", soft_keys["p8enc"], "-passin", "pass:x",
            "-noout")
    openssl(sim, "req", "-new", "-key", soft_keys["rsa"], "-subj", "/CN=s",
            "-out", tmp_path / "s.csr")
    for key in ("optee:ec", genkey_ref):
        res = openssl(sim, "req", "-new", "-key", key, "-subj", "/CN=x",
                      check=False)
        assert res.returncode != 0
        assert b"TEE not reachable" in res.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")
def test_no_definite_leaks(sim, tmp_path, driver, plain_env):
    """valgrind: no definitely lost memory through the provider (key
    load, signature, context copies, decryption in every mode).
    libopteetls is linked -z nodelete, so its process-wide state (private
    OSSL_LIB_CTX, sessions) stays reachable after the provider unloads."""
    ref, pub = rsa_key(sim, tmp_path, "vg", policy="pkcs1,decrypt-pkcs1,"
                       "decrypt-oaep")
    msg = tmp_path / "m"
    msg.write_bytes(b"\x03\x03" + os.urandom(46))
    ct = tmp_path / "ct"
    plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in",
          msg, "-out", ct)
    vg = ["valgrind", "-q", "--leak-check=full",
          "--errors-for-leak-kinds=definite", "--error-exitcode=99"]
    runs = [
        [str(driver), "badparams", "optee:vg"],
        [str(driver), "tls", str(ref), str(ct), "0303"],
        ["openssl", "pkeyutl", "-decrypt", "-inkey", "optee:vg", "-pkeyopt",
         "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha384", "-in",
         str(ct)],
    ]
    for args in runs:
        res = sim.run(vg + args, check=False, timeout=300)
        assert res.returncode in (0, 1), (args, res.stderr.decode())
        assert b"definitely lost" not in res.stderr, res.stderr.decode()
