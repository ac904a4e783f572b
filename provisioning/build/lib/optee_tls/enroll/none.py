"""`none`: no CA is contacted. The CSR is written out and waits for a
factory station or an operator; `optee-tls install-cert` finishes."""
from __future__ import annotations

from typing import Any

from cryptography import x509

from ..errors import EnrollDeferred
from .base import Credential


class Backend:
    CONFIG_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

    def __init__(self, options: dict[str, Any], identity_name: str) -> None:
        self.identity = identity_name

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        raise EnrollDeferred(
            f"identity {self.identity}: enrollment method is 'none': waiting for a "
            f"certificate; install it with `optee-tls install-cert {self.identity} FILE`")
