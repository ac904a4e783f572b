"""`openssl pkey -text` (EVP_PKEY_print_private) with keys held in the TEE.

Our text encoder prints the public parts, where the key is and its policy;
the public parts must be exactly what the default provider prints for the
exported public key, printing costs no TA call beyond the key lookup, and
software keys print as they always did.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from provider_cli import (invocations, needs_provider, openssl, plain,  # noqa: F401
                          plain_env)

pytestmark = needs_provider

# name -> (genpkey algorithm, pkeyopts)
KEYS = {
    "ec256": ("EC", ["group:P-256"]),
    "ec384": ("EC", ["group:P-384"]),
    "ec521": ("EC", ["group:P-521"]),
    "rsa2048": ("RSA", ["bits:2048"]),
    "ed25519": ("ED25519", []),
}


def genkey(sim, tmp: Path, label: str, alg: str, opts=()) -> Path:
    ref = tmp / f"{label}.pem"
    args = ["genpkey", "-propquery", "provider=optee", "-algorithm", alg]
    for o in [*opts, f"label:{label}"]:
        args += ["-pkeyopt", o]
    openssl(sim, *args, "-out", ref)
    return ref


def blocks(text: str) -> dict[str, str]:
    """The labeled parts of OpenSSL's text output: a label line ("pub:",
    "Modulus:") followed by 4-space indented hex lines -> the hex joined;
    "Label: value" lines -> value."""
    out: dict[str, str] = {}
    label = None
    for line in text.splitlines():
        if label is not None and line.startswith("    "):
            out[label] += line.strip()
            continue
        label = None
        m = re.fullmatch(r"(\S[^:]*):\s*(.*)", line)
        if m is None:
            continue
        if m.group(2) == "":
            label = m.group(1)
            out[label] = ""
        else:
            out[m.group(1)] = m.group(2)
    return out


def public_text(sim, tmp: Path, keyin: str, plain_env) -> str:
    """What the default provider alone prints for the exported public key."""
    pub = tmp / "exported.pub.pem"
    openssl(sim, "pkey", "-in", keyin, "-pubout", "-out", pub)
    return plain(plain_env, "pkey", "-pubin", "-in", pub, "-text",
                 "-noout").stdout.decode()


def check_public_parts(ours: str, theirs: str) -> None:
    mine, ref = blocks(ours), blocks(theirs)
    for name in ("pub", "Modulus", "Exponent", "ASN1 OID", "NIST CURVE"):
        assert mine.get(name) == ref.get(name), (name, ours, theirs)
    assert any(mine.get(n) for n in ("pub", "Modulus"))
    # "Public-Key: (256 bit)" -> "Private-Key: (256 bit, held in ...)".
    m = re.search(r"Public-Key: \((\d+) bit\)", theirs)
    if m:
        assert f"Private-Key: ({m.group(1)} bit, held in the TEE" in ours
    else:
        assert theirs.startswith("ED25519 Public-Key:")
        assert ours.startswith("ED25519 Private-Key: (held in the TEE")


@pytest.mark.parametrize("kind", list(KEYS))
def test_text_of_tee_key(sim, tmp_path, plain_env, kind):
    alg, opts = KEYS[kind]
    ref = genkey(sim, tmp_path, kind, alg, opts)
    theirs = public_text(sim, tmp_path, str(ref), plain_env)
    for keyin in (str(ref), f"optee:{kind}"):
        before = invocations(sim)
        res = openssl(sim, "pkey", "-in", keyin, "-text", "-noout")
        assert invocations(sim) - before == 1       # the key lookup only
        ours = res.stdout.decode()
        assert res.stderr == b""
        assert f"held in the TEE: optee:{kind}" in ours
        assert "the private key never leaves the TEE" in ours
        assert "priv:" not in ours and "privateExponent" not in ours
        check_public_parts(ours, theirs)
        assert "\npolicy: " in ours and ours.endswith(", any client\n")
    # Without -noout: the reference first, then the text.
    out = openssl(sim, "pkey", "-in", str(ref), "-text").stdout.decode()
    assert out.startswith(ref.read_text())
    assert f"held in the TEE: optee:{kind}" in out
    # -text_pub is still the default provider's, unchanged.
    pub = openssl(sim, "pkey", "-in", f"optee:{kind}", "-text_pub",
                  "-noout").stdout.decode()
    assert pub == theirs


def test_text_policy_words_and_owner(sim, tmp_path, plain_env):
    genkey(sim, tmp_path, "r", "RSA",
           ["bits:2048", f"policy:pss,pkcs1-digestinfo,decrypt-oaep,"
                         f"uid={os.getuid()}"])
    out = openssl(sim, "pkey", "-in", "optee:r", "-text",
                  "-noout").stdout.decode()
    assert (f"policy: pkcs1-digestinfo, pss, decrypt-oaep, owner uid "
            f"{os.getuid()}\n") in out
    genkey(sim, tmp_path, "e", "EC", ["group:P-256", "policy:ecdsa,gid=4242"])
    # (the TA lets anybody look a key up; only its use is restricted)
    out = openssl(sim, "pkey", "-in", "optee:e", "-text",
                  "-noout").stdout.decode()
    assert "policy: ecdsa, owner gid 4242\n" in out


def test_genpkey_text_rsa_pss(sim, tmp_path, plain_env):
    """genpkey -text prints through the same encoder; an RSA-PSS key (only
    made by genpkey: a loaded reference is an RSA key allowing PSS only)."""
    before = invocations(sim)
    res = openssl(sim, "genpkey", "-propquery", "provider=optee",
                  "-algorithm", "RSA-PSS", "-pkeyopt", "label:pss", "-text")
    assert invocations(sim) - before == 1       # the generation only
    out = res.stdout.decode()
    assert out.startswith("-----BEGIN OPTEE TLS KEY-----")
    assert "Private-Key: (2048 bit, held in the TEE: optee:pss)" in out
    assert "No PSS parameter restrictions" in out
    assert "policy: pss, any client\n" in out
    check_public_parts(out, public_text(sim, tmp_path, "optee:pss",
                                        plain_env))


@pytest.fixture
def soft_keys(tmp_path, plain_env):
    keys = {}
    for name, alg, opts in (("ec", "EC", ["ec_paramgen_curve:P-256"]),
                            ("rsa", "RSA", ["rsa_keygen_bits:2048"]),
                            ("pss", "RSA-PSS", ["rsa_keygen_bits:2048"]),
                            ("ed", "ED25519", []),
                            ("x", "X25519", [])):
        path = tmp_path / f"soft-{name}.pem"
        args = ["genpkey", "-algorithm", alg]
        for o in opts:
            args += ["-pkeyopt", o]
        plain(plain_env, *args, "-out", path)
        keys[name] = path
    return keys


@pytest.mark.parametrize("flag", ["-text", "-text_pub"])
def test_software_key_text_unchanged(sim, plain_env, soft_keys, flag):
    for path in soft_keys.values():
        before = invocations(sim)
        ours = openssl(sim, "pkey", "-in", path, flag, "-noout")
        assert invocations(sim) == before
        theirs = plain(plain_env, "pkey", "-in", path, flag, "-noout")
        assert ours.stdout == theirs.stdout and ours.stdout
        assert "TEE" not in ours.stdout.decode()
        if flag == "-text":
            assert b"priv" in ours.stdout
