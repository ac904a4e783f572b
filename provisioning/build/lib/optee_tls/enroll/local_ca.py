"""`local-ca`: a development CA from files (a CA certificate and its
private key in PEM) signs the CSR here. For the demo and tests only: it is
refused unless OPTEE_TLS_ALLOW_LOCAL_CA=1 is set in the environment (a
config file alone cannot turn it on)."""
from __future__ import annotations

import datetime
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from ..errors import EnrollError
from .base import Credential

ALLOW_ENV = "OPTEE_TLS_ALLOW_LOCAL_CA"


class Backend:
    CONFIG_SCHEMA: dict[str, Any] = {
        "type": "object", "required": ["ca_cert", "ca_key"], "properties": {
            "ca_cert": {"type": "string", "minLength": 1},
            "ca_key": {"type": "string", "minLength": 1},
            "days": {"type": "integer", "minimum": 1, "maximum": 3650}}}

    def __init__(self, options: dict[str, Any], identity_name: str) -> None:
        if os.environ.get(ALLOW_ENV) != "1":
            raise EnrollError(f"identity {identity_name}: method local-ca is a development "
                              f"CA and is refused unless {ALLOW_ENV}=1 is set")
        self.ca_cert_path = options["ca_cert"]
        self.ca_key_path = options["ca_key"]
        self.days = int(options.get("days", 30))

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        try:
            with open(self.ca_cert_path, "rb") as f:
                ca = x509.load_pem_x509_certificate(f.read())
            with open(self.ca_key_path, "rb") as f:
                ca_key = serialization.load_pem_private_key(f.read(), None)
        except (OSError, ValueError) as e:
            raise EnrollError(f"local-ca: cannot load the CA: {e}") from e
        if not csr.is_signature_valid:
            raise EnrollError("local-ca: the CSR signature does not verify")
        now = datetime.datetime.now(datetime.UTC)
        b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
             .public_key(csr.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=self.days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), True))
        for ext in csr.extensions:
            if isinstance(ext.value, (x509.SubjectAlternativeName, x509.KeyUsage,
                                      x509.ExtendedKeyUsage)):
                b = b.add_extension(ext.value, ext.critical)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.public_key()), False)  # type: ignore[arg-type]
        algo = None if isinstance(ca_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) \
            else hashes.SHA256()
        return [b.sign(ca_key, algo)]  # type: ignore[arg-type]
