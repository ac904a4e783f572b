"""`command`: a program gets the CSR (PEM) on stdin and prints the chain
(PEM, leaf first) on stdout: how a factory CA or a cloud CLI plugs in.

Exit 0: the chain; exit 75 (EX_TEMPFAIL): not issued yet, retry (a line
`retry-after: SECONDS` on stdout sets when); anything else: refused.
Environment: OPTEE_TLS_IDENTITY, and for a renewal OPTEE_TLS_CURRENT_CERT
and OPTEE_TLS_CURRENT_KEY (paths of the installed certificate and key
reference)."""
from __future__ import annotations

import os
import re
import subprocess
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import EnrollError, EnrollPending
from .base import Credential


class Backend:
    CONFIG_SCHEMA: dict[str, Any] = {"type": "object", "required": ["argv"], "properties": {
        "argv": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                 "description": "program and arguments (no shell)"},
        "timeout": {"type": "number", "minimum": 1},
        "env": {"type": "object", "additionalProperties": {"type": "string"}}}}

    def __init__(self, options: dict[str, Any], identity_name: str) -> None:
        self.argv = list(options["argv"])
        self.timeout = float(options.get("timeout", 300))
        self.extra_env = dict(options.get("env", {}))
        self.identity = identity_name

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["OPTEE_TLS_IDENTITY"] = self.identity
        if current is not None:
            env["OPTEE_TLS_CURRENT_CERT"] = str(current.cert_path)
            env["OPTEE_TLS_CURRENT_KEY"] = str(current.key_ref_path)
        what = f"enrollment command {self.argv[0]}"
        try:
            r = subprocess.run(self.argv, input=csr.public_bytes(serialization.Encoding.PEM),
                               capture_output=True, timeout=self.timeout, env=env)
        except subprocess.TimeoutExpired as e:
            raise EnrollError(f"{what}: no answer within {self.timeout:g} s") from e
        except OSError as e:
            raise EnrollError(f"{what}: cannot run it: {e.strerror}") from e
        err = r.stderr.decode(errors="replace").strip()[-500:]
        out = r.stdout
        if r.returncode == 75:
            m = re.search(rb"retry-after:\s*(\d+)", out, re.I)
            raise EnrollPending(f"{what}: not issued yet{': ' + err if err else ''}",
                                float(m.group(1)) if m else 60.0)
        if r.returncode != 0:
            raise EnrollError(f"{what}: exited with status {r.returncode}"
                              f"{': ' + err if err else ''}")
        try:
            certs = x509.load_pem_x509_certificates(out)
        except ValueError as e:
            raise EnrollError(f"{what}: its output is not PEM certificates ({e})") from e
        return list(certs)
