"""A TEE key behaves like a file key wherever OpenSSL defines the behaviour.

One list of openssl commands runs against a key held in the TEE (through
its PEM reference, with our provider active) and against a file key of the
same type made by the default provider, under the same configuration.
Each command's outcome is reduced to what must not depend on where the key
lives (exit status, signature algorithms chosen, key-size lines, text with
the key bytes masked, whether a signature verifies with a given salt
length) and the two are compared.

The only differences allowed are the ones the product defines: the TEE
fields of `pkey -text` (tested in test_provider_text.py) and the rights in
a key's policy (decrypt is off by default; test_provider_decrypt.py), and
the limits listed in LIMITS below, each tested for its error.

Not compared here: genpkey -algorithm RSA-PSS. A TEE key loaded from its
reference is an RSA key whose policy allows PSS only, so its public key is
exported as rsaEncryption where a file RSA-PSS key says RSASSA-PSS.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from provider_cli import needs_provider, openssl, plain, plain_env  # noqa: F401

pytestmark = needs_provider

# name -> (genpkey algorithm, pkeyopts valid for both providers)
KEYS = {
    "ec256": ("EC", ["group:P-256"]),
    "ec384": ("EC", ["group:P-384"]),
    "ec521": ("EC", ["group:P-521"]),
    "rsa2048": ("RSA", ["bits:2048"]),
    "rsa3072": ("RSA", ["bits:3072"]),
    "ed25519": ("ED25519", []),
}

HEXLINE = re.compile(r"^\s*(?:[0-9a-f]{2}:)*[0-9a-f]{2}:?\s*$")


def mask(text: str) -> str:
    """Text output with the key's bytes replaced: runs of hex-byte lines
    become one "HEX" line (their count depends on leading zero bytes)."""
    out: list[str] = []
    for line in text.splitlines():
        if HEXLINE.match(line):
            if not out or out[-1] != "HEX":
                out.append("HEX")
        else:
            out.append(line)
    return "\n".join(out)


def sig_algs(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines()
            if "Signature Algorithm" in ln or "Hash Algorithm" in ln
            or "Salt Length" in ln or "Mask Algorithm" in ln]


class Runner:
    """Runs the command list for one key; outcomes keyed by step name."""

    def __init__(self, sim, tmp: Path, key: str, pub: Path, plain_env):
        self.sim, self.tmp, self.key, self.pub = sim, tmp, key, pub
        self.plain_env = plain_env
        self.out: dict[str, object] = {}
        self.data = tmp / "data.bin"
        self.data.write_bytes(b"parity " * 100)
        for n in (20, 32, 48, 64, 100):
            (tmp / f"in{n}.bin").write_bytes(bytes(range(n)))

    def run(self, *args):
        return openssl(self.sim, *args, check=False)

    def verify(self, *args) -> bool:
        """Verification by the default provider alone."""
        return plain(self.plain_env, *args, check=False).returncode == 0

    def step(self, name: str, value) -> None:
        self.out[name] = value

    def all(self, alg: str) -> dict[str, object]:
        t, k, pub = self.tmp, self.key, self.pub
        r = self.run("pkey", "-in", k, "-noout", "-text_pub")
        self.step("text_pub", (r.returncode, mask(r.stdout.decode())))
        r = self.run("pkey", "-in", k, "-pubout", "-outform", "DER")
        self.step("pubout_der_len", (r.returncode, len(r.stdout)))
        r = self.run("pkey", "-in", k, "-pubcheck", "-noout")
        self.step("pubcheck", r.returncode)

        # Default digest: req/x509 pick it from the key (keymgmt's answer).
        cert = t / "self.crt"
        r = self.run("req", "-new", "-x509", "-key", k, "-subj", "/CN=parity",
                     "-days", "1", "-out", cert)
        self.step("req_x509", r.returncode)
        if r.returncode == 0:
            txt = plain(self.plain_env, "x509", "-in", cert, "-noout",
                        "-text").stdout.decode()
            self.step("req_x509_sigalg", sig_algs(txt))
            self.step("req_x509_verifies", self.verify(
                "verify", "-CAfile", cert, cert))
        csr = t / "r.csr"
        r = self.run("req", "-new", "-key", k, "-subj", "/CN=parity",
                     "-out", csr)
        self.step("req_csr", r.returncode)
        if r.returncode == 0:
            txt = plain(self.plain_env, "req", "-in", csr, "-noout",
                        "-text", "-verify").stdout.decode()
            self.step("req_csr_sigalg", sig_algs(txt))

        # dgst: default digest, explicit digests, PSS salt defaults.
        sig = t / "sig.bin"
        for md in ([], ["-sha1"], ["-sha224"], ["-sha256"], ["-sha384"],
                   ["-sha512"], ["-sha3-256"]):
            name = "dgst" + (md[0] if md else "_default")
            r = self.run("dgst", *md, "-sign", k, "-out", sig, self.data)
            ok = r.returncode == 0 and self.verify(
                "dgst", *(md or ["-sha256"]), "-verify", pub, "-signature",
                sig, self.data)
            self.step(name, (r.returncode, ok))
        if alg in ("RSA", "RSA-PSS"):
            for opts in ([], ["-sigopt", "rsa_pss_saltlen:digest"],
                         ["-sigopt", "rsa_pss_saltlen:max"],
                         ["-sigopt", "rsa_pss_saltlen:auto"],
                         ["-sigopt", "rsa_pss_saltlen:20"]):
                name = "pss_salt_" + (opts[1].split(":")[1] if opts
                                      else "default")
                r = self.run("dgst", "-sha256", "-sign", k, "-sigopt",
                             "rsa_padding_mode:pss", *opts, "-out", sig,
                             self.data)
                # Which salt length was used: verify with each fixed one.
                used = [s for s in ("32", "20", "222") if r.returncode == 0
                        and self.verify("dgst", "-sha256", "-verify", pub,
                                        "-sigopt", "rsa_padding_mode:pss",
                                        "-sigopt", f"rsa_pss_saltlen:{s}",
                                        "-signature", sig, self.data)]
                self.step(name, (r.returncode, used))
            # A PSS certificate: parameters chosen by req.
            r = self.run("req", "-new", "-x509", "-key", k, "-subj",
                         "/CN=pss", "-days", "1", "-sigopt",
                         "rsa_padding_mode:pss", "-out", cert)
            self.step("req_x509_pss", r.returncode)
            if r.returncode == 0:
                txt = plain(self.plain_env, "x509", "-in", cert, "-noout",
                            "-text").stdout.decode()
                self.step("req_x509_pss_sigalg", sig_algs(txt))

        # pkeyutl on raw input, with and without a digest set. (Ed25519
        # signs messages: -rawin, as OpenSSL 3.0 requires for it.)
        raw = ["-rawin"] if alg == "ED25519" else []
        for n in (20, 32, 48, 64, 100):
            inp = t / f"in{n}.bin"
            r = self.run("pkeyutl", "-sign", *raw, "-inkey", k, "-in", inp,
                         "-out", sig)
            ok = r.returncode == 0 and self.verify(
                "pkeyutl", "-verify", *raw, "-pubin", "-inkey", pub, "-in",
                inp, "-sigfile", sig)
            self.step(f"pkeyutl_raw{n}", (r.returncode, ok))
            r = self.run("pkeyutl", "-sign", "-inkey", k, "-in", inp,
                         "-out", sig, "-pkeyopt", "digest:sha256")
            self.step(f"pkeyutl_sha256_{n}", r.returncode)
        r = self.run("pkeyutl", "-sign", "-inkey", k, "-in", t / "in32.bin",
                     "-pkeyopt", "digest:no-such-digest")
        self.step("pkeyutl_bad_digest", r.returncode)
        if alg == "RSA":
            # ("oaep" is left out: the default provider ignores it when
            # signing and signs PKCS#1 v1.5; we refuse it, see below.)
            for mode in ("none", "x931"):
                r = self.run("pkeyutl", "-sign", "-inkey", k, "-in",
                             t / "in32.bin", "-pkeyopt",
                             f"rsa_padding_mode:{mode}")
                self.step(f"pkeyutl_pad_{mode}", r.returncode)
            enc = t / "enc.bin"
            r = self.run("pkeyutl", "-encrypt", "-inkey", k, "-in",
                         t / "in32.bin", "-out", enc)
            self.step("pkeyutl_encrypt", r.returncode)
        return self.out


def make_keys(sim, tmp: Path, plain_env, name: str):
    alg, opts = KEYS[name]
    tee = tmp / "tee"
    soft = tmp / "soft"
    tee.mkdir()
    soft.mkdir()
    ref = tee / "key.pem"
    args = ["genpkey", "-propquery", "provider=optee", "-algorithm", alg]
    for o in [*opts, f"label:{name}"]:
        args += ["-pkeyopt", o]
    openssl(sim, *args, "-out", ref)
    key = soft / "key.pem"
    args = ["genpkey", "-algorithm", alg]
    for o in opts:
        args += ["-pkeyopt", o]
    plain(plain_env, *args, "-out", key)
    for d, k in ((tee, ref), (soft, key)):
        openssl(sim, "pkey", "-in", k, "-pubout", "-out", d / "pub.pem")
    return (tee, ref), (soft, key)


# Differences that are limits of the TA, each with the error a user sees.
# RSA in the TA signs SHA-1/SHA-2 DigestInfos only (no SHA-3 OIDs).
LIMITS = {("RSA", "dgst-sha3-256"), ("RSA-PSS", "dgst-sha3-256")}


def diff(ours: dict, theirs: dict, alg: str) -> list[str]:
    return [f"{k}: TEE key {ours.get(k)!r} != file key {theirs.get(k)!r}"
            for k in sorted(set(ours) | set(theirs))
            if ours.get(k) != theirs.get(k) and (alg, k) not in LIMITS]


@pytest.mark.parametrize("name", list(KEYS))
def test_same_answers_as_a_file_key(sim, tmp_path, plain_env, name):
    alg = KEYS[name][0]
    (tdir, ref), (sdir, key) = make_keys(sim, tmp_path, plain_env, name)
    ours = Runner(sim, tdir, str(ref), tdir / "pub.pem", plain_env).all(alg)
    theirs = Runner(sim, sdir, str(key), sdir / "pub.pem", plain_env).all(alg)
    # The test can fail: the file key must have succeeded where it should.
    assert theirs["req_x509"] == 0
    assert theirs["dgst_default"] == ((1, False) if alg == "ED25519"
                                      else (0, True))
    problems = diff(ours, theirs, alg)
    assert not problems, "\n".join(problems)
    if alg.startswith("RSA"):
        r = openssl(sim, "dgst", "-sha3-256", "-sign", ref, "-out",
                    tmp_path / "s", tdir / "in32.bin", check=False)
        assert r.returncode != 0
        assert b"use SHA-1/SHA-2, not sha3-256" in r.stderr, r.stderr


def test_rsa_sign_refuses_oaep_padding(sim, tmp_path, plain_env):
    """OAEP is an encryption padding: signing with it is refused with a
    clear error (the default provider silently signs PKCS#1 v1.5)."""
    (tdir, ref), _ = make_keys(sim, tmp_path, plain_env, "rsa2048")
    (tdir / "in.bin").write_bytes(bytes(32))
    r = openssl(sim, "pkeyutl", "-sign", "-inkey", ref, "-in",
                tdir / "in.bin", "-pkeyopt", "rsa_padding_mode:oaep",
                check=False)
    assert r.returncode != 0 and r.stdout == b""
    assert b"rsa_padding_mode:oaep" in r.stderr, r.stderr


@pytest.mark.parametrize("alg,opts", [
    ("EC", ["ec_paramgen_curve:P-384"]),
    ("RSA", ["rsa_keygen_bits:3072"]),
    ("RSA", []),
    ("EC", []),
])
def test_genpkey_defaults_and_option_names(sim, tmp_path, plain_env, alg,
                                           opts):
    """genpkey takes the default provider's option names and defaults."""
    def gen(provider: bool):
        args = ["genpkey", "-algorithm", alg]
        if provider:
            args[1:1] = ["-propquery", "provider=optee"]
        for o in [*opts, *(["label:d"] if provider else [])]:
            args += ["-pkeyopt", o]
        out = tmp_path / ("tee.pem" if provider else "soft.pem")
        r = (openssl(sim, *args, "-out", out, check=False) if provider
             else plain(plain_env, *args, "-out", out, check=False))
        if r.returncode != 0:
            return (r.returncode, None)
        txt = openssl(sim, "pkey", "-in", out, "-noout",
                      "-text_pub").stdout.decode()
        return (0, mask(txt))

    assert gen(True) == gen(False)
