"""The contract every enrollment backend implements.

A backend turns a CSR into a certificate chain. It never installs anything:
the caller checks the chain (key match, trust anchor, validity) and installs
it atomically. Backends live in one module each, named after the `method`
value in the config (`none`, `command`, `local-ca`, `est`, `acme`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509


@dataclass(frozen=True)
class Credential:
    """The identity's current, installed credential: used to authenticate
    re-enrollment (EST simplereenroll over TLS with the TEE key)."""

    cert_path: Path          # leaf certificate (PEM)
    chain_path: Path | None  # intermediates (PEM), if any
    key_ref_path: Path       # PEM key reference of the TEE key


class Enroller(Protocol):
    # JSON-schema fragment (dict, "type": "object" with "properties")
    # validating this method's options in the config. They sit flat beside
    # `method` and `retry` under identities[].enroll; unknown fields are
    # refused. Only the keywords listed in optee_tls/schema.py are allowed.
    # Options named *_file, *_path, *_dir, trust_anchor, ca_cert or ca_key
    # that hold relative paths arrive resolved against the config's
    # directory. `Backend(options, identity_name)` gets the options without
    # `method` and `retry` (the caller retries EnrollPending with backoff).
    CONFIG_SCHEMA: dict[str, Any]

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        """Return the chain, leaf first. `current` is set for a renewal.
        Raises EnrollPending (retry later) or EnrollError (give up)."""
        ...
