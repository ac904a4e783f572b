"""pyca/cryptography private keys whose private part stays in the TEE.

`load_key(label)` returns a TeeEcKey, TeeRsaKey or TeeEd25519Key: each is a
subclass of cryptography's private-key ABC, so anything that accepts a
private key (CSR and certificate builders, JWT libraries, ...) can sign
with it. sign() is one TA call; public_key() is a real cryptography public
key built from the TA's SubjectPublicKeyInfo. Private material cannot be
exported: private_bytes() and private_numbers() raise.
"""
from __future__ import annotations

import typing

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from . import tee

_CURVES: dict[int, type[ec.EllipticCurve]] = {
    256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}

# DER DigestInfo prefixes for hashes the TA has no named PKCS#1 variant for.
_DIGESTINFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
}
_PKCS1 = {"sha256": tee.ALG_RSA_PKCS1_SHA256, "sha384": tee.ALG_RSA_PKCS1_SHA384,
          "sha512": tee.ALG_RSA_PKCS1_SHA512}
_PSS = {"sha256": tee.ALG_RSA_PSS_SHA256, "sha384": tee.ALG_RSA_PSS_SHA384,
        "sha512": tee.ALG_RSA_PSS_SHA512}


class NotExportable(UnsupportedAlgorithm):
    """The private key lives in the TEE and never leaves it."""


def _digest(data: bytes, algorithm: typing.Any) -> tuple[bytes, hashes.HashAlgorithm]:
    """Hash data unless it is already a digest (Prehashed)."""
    if isinstance(algorithm, asym_utils.Prehashed):
        h = algorithm._algorithm
        if len(data) != h.digest_size:
            raise ValueError(f"prehashed data must be {h.digest_size} bytes")
        return data, h
    if not isinstance(algorithm, hashes.HashAlgorithm):
        raise TypeError("expected a hash algorithm or Prehashed")
    d = hashes.Hash(algorithm)
    d.update(data)
    return d.finalize(), algorithm


class _TeeKeyMixin:
    info: tee.KeyInfo

    @property
    def label(self) -> str:
        return self.info.label

    def key_reference_pem(self) -> str:
        return tee.library().key_reference_pem(self.info.label)

    def _no_export(self) -> typing.NoReturn:
        raise NotExportable(f"key {self.info.label!r} lives in the TEE; only "
                            "its public part and a key reference can be exported")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} label={self.info.label!r} {self.info.describe()}>"


class TeeEcKey(_TeeKeyMixin, ec.EllipticCurvePrivateKey):
    def __init__(self, info: tee.KeyInfo) -> None:
        self.info = info
        self._pub = serialization.load_der_public_key(info.spki_der)
        assert isinstance(self._pub, ec.EllipticCurvePublicKey)

    @property
    def curve(self) -> ec.EllipticCurve:
        return _CURVES[self.info.bits]()

    @property
    def key_size(self) -> int:
        return self.info.bits

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._pub  # type: ignore[return-value]

    def sign(self, data: bytes | bytearray | memoryview,
             signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise UnsupportedAlgorithm("only ECDSA signatures")
        digest, _ = _digest(bytes(data), signature_algorithm.algorithm)
        if len(digest) < 20:
            # The TA takes 20..64 byte digests; pad short ones on the left
            # would change the value, so refuse (no such hash in use).
            raise UnsupportedAlgorithm("digest shorter than 20 bytes")
        return tee.library().sign(self.info.label, tee.ALG_ECDSA, digest,
                                  flags=tee.SIG_ECDSA_DER)

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise UnsupportedAlgorithm("the TA does not do ECDH")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._no_export()

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._no_export()

    def __copy__(self) -> TeeEcKey:
        return self

    def __deepcopy__(self, memo: dict) -> TeeEcKey:
        return self


class TeeRsaKey(_TeeKeyMixin, rsa.RSAPrivateKey):
    def __init__(self, info: tee.KeyInfo) -> None:
        self.info = info
        self._pub = serialization.load_der_public_key(info.spki_der)
        assert isinstance(self._pub, rsa.RSAPublicKey)

    @property
    def key_size(self) -> int:
        return self.info.bits

    def public_key(self) -> rsa.RSAPublicKey:
        return self._pub  # type: ignore[return-value]

    def sign(self, data: bytes, padding: padding.AsymmetricPadding,
             algorithm: typing.Any) -> bytes:
        digest, h = _digest(data, algorithm)
        lib = tee.library()
        if isinstance(padding, _padding.PKCS1v15):
            if h.name in _PKCS1:
                return lib.sign(self.info.label, _PKCS1[h.name], digest)
            if h.name in _DIGESTINFO:
                return lib.sign(self.info.label, tee.ALG_RSA_PKCS1_DIGESTINFO,
                                _DIGESTINFO[h.name] + digest)
            raise UnsupportedAlgorithm(f"RSA PKCS#1 v1.5 with {h.name}")
        if isinstance(padding, _padding.PSS):
            if h.name not in _PSS:
                raise UnsupportedAlgorithm(f"RSA-PSS with {h.name}")
            mgf = padding._mgf
            if not isinstance(mgf, _padding.MGF1) or mgf._algorithm.name != h.name:
                raise UnsupportedAlgorithm("RSA-PSS needs MGF1 with the same hash")
            salt = padding._salt_length
            em_len = (self.info.bits - 1 + 7) // 8
            if salt is _padding.PSS.DIGEST_LENGTH:
                saltlen = tee.SALT_DIGEST_LEN
            elif salt is _padding.PSS.MAX_LENGTH:
                saltlen = em_len - h.digest_size - 2
            elif isinstance(salt, int):
                saltlen = salt
            else:
                raise ValueError("PSS salt length AUTO is for verification only")
            return lib.sign(self.info.label, _PSS[h.name], digest, saltlen=saltlen)
        raise UnsupportedAlgorithm(f"padding {padding.name}")

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        lib = tee.library()
        if isinstance(padding, _padding.PKCS1v15):
            return lib.decrypt(self.info.label, tee.ALG_RSA_DECRYPT_PKCS1, ciphertext)
        if isinstance(padding, _padding.OAEP):
            h = padding._algorithm
            mgf = padding._mgf
            if padding._label or not isinstance(mgf, _padding.MGF1) or \
                    mgf._algorithm.name != h.name or h.name not in ("sha1", "sha256"):
                raise UnsupportedAlgorithm("OAEP with SHA-1 or SHA-256, MGF1 of "
                                           "the same hash and no label")
            alg = tee.ALG_RSA_DECRYPT_OAEP_SHA1 if h.name == "sha1" \
                else tee.ALG_RSA_DECRYPT_OAEP_SHA256
            return lib.decrypt(self.info.label, alg, ciphertext)
        raise UnsupportedAlgorithm(f"padding {padding.name}")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        self._no_export()

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._no_export()

    def __copy__(self) -> TeeRsaKey:
        return self

    def __deepcopy__(self, memo: dict) -> TeeRsaKey:
        return self


class TeeEd25519Key(_TeeKeyMixin, ed25519.Ed25519PrivateKey):
    def __init__(self, info: tee.KeyInfo) -> None:
        self.info = info
        self._pub = serialization.load_der_public_key(info.spki_der)
        assert isinstance(self._pub, ed25519.Ed25519PublicKey)

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._pub  # type: ignore[return-value]

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        if len(data) > tee.MAX_MESSAGE:
            raise ValueError(f"the TA signs Ed25519 messages of at most "
                             f"{tee.MAX_MESSAGE} bytes")
        return tee.library().sign(self.info.label, tee.ALG_ED25519, bytes(data))

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._no_export()

    def private_bytes_raw(self) -> bytes:
        self._no_export()

    def __copy__(self) -> TeeEd25519Key:
        return self

    def __deepcopy__(self, memo: dict) -> TeeEd25519Key:
        return self


_padding = padding  # the parameter name `padding` shadows the module above
TeeKey = TeeEcKey | TeeRsaKey | TeeEd25519Key


def from_info(info: tee.KeyInfo) -> TeeKey:
    if info.key_type == tee.KEY_EC:
        return TeeEcKey(info)
    if info.key_type == tee.KEY_RSA:
        return TeeRsaKey(info)
    if info.key_type == tee.KEY_ED25519:
        return TeeEd25519Key(info)
    raise UnsupportedAlgorithm(f"unknown key type {info.key_type}")


def load_key(label: str) -> TeeKey:
    """The TEE key with this label (KeyNotFound if there is none)."""
    return from_info(tee.library().get(label))


def generate_key(label: str, key_type: str, bits: int | None = None,
                 policy: tee.Policy | None = None) -> TeeKey:
    """Create a key in the TEE. key_type: "ec" (bits 256/384/521), "rsa"
    (2048/3072/4096) or "ed25519". Never overwrites (KeyExists)."""
    kt, b = key_params(key_type, bits)
    return from_info(tee.library().generate(label, kt, b, policy))


def key_params(key_type: str, bits: int | None) -> tuple[int, int]:
    t = key_type.lower()
    if t == "ec":
        return tee.KEY_EC, bits or 256
    if t == "rsa":
        return tee.KEY_RSA, bits or 2048
    if t == "ed25519":
        return tee.KEY_ED25519, 256
    raise ValueError(f"unknown key type {key_type!r} (ec, rsa, ed25519)")
