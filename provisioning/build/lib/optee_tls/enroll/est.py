"""EST enrollment (RFC 7030): cacerts, simpleenroll, simplereenroll.

- The EST server is verified against `trust_anchor` only (explicit trust
  anchor, RFC 7030 3.6.1); the returned chain must lead to `issuer_anchor_file`
  (default: the same file).
- The first enrollment authenticates with HTTP basic auth; the password
  comes from a file or a systemd credential, never from the config.
- Re-enrollment (`current` given) authenticates with TLS client auth by the
  current certificate and its TEE key: Python's ssl module loads the PEM
  key reference through the optee provider (OPENSSL_CONF must activate it,
  as for nginx), so the TLS handshake signature is made inside the TEE.
- 202 + Retry-After: wait and ask again while the deadline allows, else
  raise EnrollPending.
"""
from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import EnrollError, EnrollPending
from .base import Credential
from .chain import check_chain, load_anchors, load_pkcs7_base64, order_chain, spki
from .transport import (
    TIMEOUT_SCHEMA,
    Reply,
    Transport,
    credential_path,
    parse_retry_after,
    read_secret,
    transport_from_options,
)

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "trust_anchor"],
    "properties": {
        "method": {"const": "est"},
        "url": {"type": "string", "pattern": "^https://[^/]+/?$",
                "description": "EST server, https://host[:port]"},
        "label": {"type": "string", "pattern": "^[A-Za-z0-9._~-]+$",
                  "description": "CA label: /.well-known/est/LABEL/..."},
        "trust_anchor": {"type": "string", "minLength": 1,
                         "description": "PEM file of the CA(s) that certify the "
                                        "EST server's TLS certificate"},
        "issuer_anchor_file": {"type": "string", "minLength": 1,
                          "description": "PEM file the issued chain must lead to "
                                         "(default: trust_anchor)"},
        "username": {"type": "string", "minLength": 1,
                     "description": "HTTP basic user for the first enrollment"},
        "password_file": {"type": "string", "minLength": 1,
                          "description": "file holding the basic-auth password"},
        "password_credential": {"type": "string", "pattern": "^[^/]+$",
                                "description": "systemd credential name holding "
                                               "the basic-auth password"},
        "cacerts": {"type": "boolean",
                    "description": "fetch /cacerts to complete the chain "
                                   "(default true)"},
        "retry": {"type": "object",
                  "description": "the identity's retry policy (deadline, initial, "
                                 "max), usually passed separately"},
        **TIMEOUT_SCHEMA,
    },
}

PKCS7_TYPES = ("application/pkcs7-mime", "application/pkcs7")


class Backend:
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, options: dict[str, Any], identity_name: str, *,
                 retry: dict[str, Any] | None = None) -> None:
        self.identity = identity_name
        self.opts = options
        self.retry = retry if retry is not None else options.get("retry")
        secrets = [k for k in ("password_file", "password_credential") if options.get(k)]
        if len(secrets) > 1:
            raise EnrollError(f"identity {identity_name}: EST password_file and "
                              "password_credential exclude each other")
        if secrets and not options.get("username"):
            raise EnrollError(f"identity {identity_name}: EST {secrets[0]} given "
                              "without username")
        base = str(options["url"]).rstrip("/") + "/.well-known/est"
        if options.get("label"):
            base += "/" + str(options["label"])
        self.base = base
        self.trust_anchor = Path(options["trust_anchor"])
        self.issuer_anchor = Path(options.get("issuer_anchor_file")
                                  or options["trust_anchor"])

    # -- helpers -----------------------------------------------------------

    def _transport(self, current: Credential | None, client_file: Path | None) -> Transport:
        if current is None:
            return transport_from_options(self.opts, self.retry, self.trust_anchor)
        return transport_from_options(self.opts, self.retry, self.trust_anchor,
                                      client_cert=client_file,
                                      client_key=current.key_ref_path)

    def _basic_auth(self) -> dict[str, str]:
        user = self.opts.get("username")
        if not user:
            return {}
        if self.opts.get("password_file"):
            secret = read_secret(self.opts["password_file"], "EST password")
        elif self.opts.get("password_credential"):
            secret = read_secret(credential_path(self.opts["password_credential"]),
                                 "EST password")
        else:
            raise EnrollError(f"identity {self.identity}: EST username set without "
                              "password_file or password_credential")
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _what(self, op: str) -> str:
        return f"EST {op} at {self.base}"

    def cacerts(self, t: Transport, started: float) -> list[x509.Certificate]:
        r = t.request("GET", f"{self.base}/cacerts", started=started)
        if r.status != 200:
            raise EnrollError(f"{self._what('cacerts')}: HTTP {r.status}: {_snippet(r)}")
        _check_type(r, self._what("cacerts"))
        return load_pkcs7_base64(r.body, self._what("cacerts"))

    # -- the contract ------------------------------------------------------

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        started = time.monotonic()
        anchors = load_anchors(self.issuer_anchor)
        with tempfile.TemporaryDirectory(prefix="optee-tls-est-") as tmp:
            client_file = None
            if current is not None:
                client_file = _client_chain_file(current, Path(tmp))
            t = self._transport(current, client_file)
            op = "simplereenroll" if current is not None else "simpleenroll"
            headers = {"Content-Type": "application/pkcs10",
                       "Content-Transfer-Encoding": "base64"}
            if current is None:
                headers.update(self._basic_auth())
            body = base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))
            pool = self.cacerts(t, started) if self.opts.get("cacerts", True) else []
            while True:
                r = t.request("POST", f"{self.base}/{op}", body, headers,
                              started=started)
                if r.status == 202:
                    wait = parse_retry_after(r.header("Retry-After"), 60.0)
                    if time.monotonic() - started + wait > t.deadline:
                        raise EnrollPending(
                            f"{self._what(op)}: request accepted, certificate not "
                            f"issued yet; retry after {wait:g} s", wait)
                    t.sleep(wait)
                    continue
                break
        what = self._what(op)
        if r.status in (401, 403):
            hint = (" (check username/password_file)" if current is None else
                    " (the server refused the current certificate)")
            raise EnrollError(f"{what}: authentication refused, HTTP {r.status}"
                              f"{hint}: {_snippet(r)}")
        if r.status != 200:
            raise EnrollError(f"{what}: HTTP {r.status}: {_snippet(r)}")
        _check_type(r, what)
        certs = load_pkcs7_base64(r.body, what)
        want = spki(csr.public_key())
        leaf = next((c for c in certs if spki(c.public_key()) == want), certs[0])
        chain = order_chain(leaf, certs + pool)
        return check_chain(chain, csr, anchors, what)


def _client_chain_file(current: Credential, tmp: Path) -> Path:
    """load_cert_chain wants the leaf and its intermediates in one file."""
    if current.chain_path is None or not current.chain_path.exists():
        return current.cert_path
    f = tmp / "client-chain.pem"
    try:
        f.write_bytes(current.cert_path.read_bytes() + b"\n"
                      + current.chain_path.read_bytes())
    except OSError as e:
        raise EnrollError(f"cannot read the current certificate: {e}") from e
    return f


def _check_type(r: Reply, what: str) -> None:
    ctype = r.header("Content-Type").split(";")[0].strip().lower()
    if ctype not in PKCS7_TYPES:
        raise EnrollError(f"{what}: expected application/pkcs7-mime, got "
                          f"{ctype or 'no Content-Type'}: {_snippet(r)}")


def _snippet(r: Reply) -> str:
    text = r.body[:200].decode("utf-8", "replace").strip()
    return text or "(empty body)"
