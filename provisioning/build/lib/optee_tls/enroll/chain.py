"""Parse and check what a CA returned, before anything is installed.

check_chain() answers: is the leaf for the key of the CSR, is every
certificate valid now, and does the chain lead, signature by signature, to
one of the configured trust anchors?
"""
from __future__ import annotations

import base64
import binascii
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from ..errors import EnrollError


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number:x}"


def spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def load_pem_certs(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise EnrollError(f"{what}: not PEM certificates: {e}") from e
    if not certs:
        raise EnrollError(f"{what}: no certificate in it")
    return certs


def load_anchors(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EnrollError(f"cannot read trust anchor {path}: {e.strerror}") from e
    return load_pem_certs(data, f"trust anchor {path}")


def load_pkcs7_base64(body: bytes, what: str) -> list[x509.Certificate]:
    """An EST reply: base64 of a DER PKCS#7 certs-only SignedData
    (RFC 7030 4.1.3 and 4.2.3). Whitespace and line breaks are allowed."""
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise EnrollError(f"{what}: reply is not base64: {e}") from e
    try:
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError as e:
        raise EnrollError(f"{what}: reply is not a PKCS#7 certs-only message: {e}") from e
    if not certs:
        raise EnrollError(f"{what}: PKCS#7 reply holds no certificate")
    return list(certs)


def order_chain(leaf: x509.Certificate,
                pool: list[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf first, then each issuer found in pool (by name and signature)."""
    chain = [leaf]
    rest = [c for c in pool if c != leaf]
    while rest:
        cur = chain[-1]
        if cur.issuer == cur.subject:
            break
        nxt = None
        for c in rest:
            if c.subject == cur.issuer and _signed_by(cur, c):
                nxt = c
                break
        if nxt is None:
            break
        chain.append(nxt)
        rest.remove(nxt)
    return chain


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def not_before(cert: x509.Certificate) -> datetime.datetime:
    # not_valid_before_utc appeared in cryptography 42.
    if hasattr(cert, "not_valid_before_utc"):
        return cert.not_valid_before_utc
    return cert.not_valid_before.replace(tzinfo=datetime.UTC)


def not_after(cert: x509.Certificate) -> datetime.datetime:
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_after_utc
    return cert.not_valid_after.replace(tzinfo=datetime.UTC)


def _valid_now(cert: x509.Certificate, now: datetime.datetime) -> None:
    if now < not_before(cert):
        raise EnrollError(f"certificate {describe(cert)} is not valid before "
                          f"{not_before(cert):%Y-%m-%d %H:%M:%S} UTC")
    if now > not_after(cert):
        raise EnrollError(f"certificate {describe(cert)} expired on "
                          f"{not_after(cert):%Y-%m-%d %H:%M:%S} UTC")


def check_chain(chain: list[x509.Certificate], csr: x509.CertificateSigningRequest,
                anchors: list[x509.Certificate] | None, what: str,
                now: datetime.datetime | None = None) -> list[x509.Certificate]:
    """Raise EnrollError unless chain[0] certifies the CSR's key and the
    chain leads to one of the anchors (anchors None: only the chain's own
    signatures are checked). Returns what gets installed: the chain
    without a trailing self-signed root."""
    if not chain:
        raise EnrollError(f"{what}: no certificate returned")
    now = now or datetime.datetime.now(datetime.UTC)
    leaf = chain[0]
    if spki(leaf.public_key()) != spki(csr.public_key()):
        raise EnrollError(f"{what}: the returned certificate {describe(leaf)} is for "
                          "another public key than the CSR's")
    for c in chain:
        _valid_now(c, now)
    for i, c in enumerate(chain[1:], 1):
        if not _signed_by(chain[i - 1], c):
            raise EnrollError(f"{what}: {describe(chain[i - 1])} is not signed by the "
                              f"next certificate in the chain, {describe(c)}")
        bc = _basic_constraints(c)
        if bc is None or not bc.ca:
            raise EnrollError(f"{what}: chain certificate {describe(c)} is not a CA")
    top = chain[-1]
    if len(chain) > 1 and top.subject == top.issuer and _signed_by(top, top):
        chain = chain[:-1]      # a root is the relying party's business
    if anchors is None:
        return chain
    if spki(top.public_key()) in {spki(a.public_key()) for a in anchors}:
        return chain
    for a in anchors:
        if a.subject == top.issuer and _signed_by(top, a):
            _valid_now(a, now)
            return chain
    raise EnrollError(f"{what}: the chain ending at {describe(top)} (issuer "
                      f"{top.issuer.rfc4514_string()}) does not lead to the "
                      "configured trust anchor")


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def to_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
