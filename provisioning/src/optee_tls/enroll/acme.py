"""ACME enrollment (RFC 8555) with an external CSR and http-01 challenges.

Why a small client of our own rather than the `acme` package: the subset a
device needs (account, order, http-01, finalize with our CSR, download the
chain) is a few JWS requests; `acme` would bring requests, pyOpenSSL and
josepy onto the device, and its current releases need a newer cryptography
than the range the TEE key classes are tested with. This client uses the
same transport as EST: explicit trust anchor, proxy from the environment,
retries with backoff and a deadline. It is tested against Debian's pebble.

The account key is an ordinary software P-256 key in the state directory
(mode 0600): it only authenticates requests to the CA; the TLS key the
certificate is for stays in the TEE and signs only the CSR.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from ..errors import EnrollError, EnrollPending
from .base import Credential
from .chain import check_chain, load_anchors, load_pem_certs
from .transport import (
    TIMEOUT_SCHEMA,
    Reply,
    Transport,
    parse_retry_after,
    transport_from_options,
)

DEFAULT_STATE_DIR = Path("/var/lib/optee-tls")
BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
NONCE_RETRIES = 5

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory", "trust_anchor"],
    "properties": {
        "method": {"const": "acme"},
        "directory": {"type": "string", "pattern": "^https://.+$",
                      "description": "the ACME directory URL"},
        "trust_anchor": {"type": "string", "minLength": 1,
                         "description": "PEM file of the CA(s) that certify the "
                                        "ACME server's HTTPS certificate"},
        "issuer_anchor_file": {"type": "string", "minLength": 1,
                          "description": "PEM file the issued chain must lead to "
                                         "(default: only the chain's own signatures "
                                         "are checked)"},
        "contact": {"type": "array", "items": {"type": "string",
                                               "pattern": "^mailto:.+$"}},
        "agree_tos": {"type": "boolean",
                      "description": "agree to the CA's terms of service"},
        "account_key_file": {"type": "string", "minLength": 1,
                        "description": "account key file (created if missing; "
                                       "default in the state directory)"},
        "http01_port": {"type": "integer", "minimum": 1, "maximum": 65535,
                        "description": "port our http-01 responder listens on "
                                       "(default 80)"},
        "http01_address": {"type": "string",
                           "description": "address it binds (default: all)"},
        "http01_webroot_dir": {"type": "string", "minLength": 1,
                           "description": "instead of listening: write the "
                                          "challenge files under DIR/.well-known/"
                                          "acme-challenge/ for a running web "
                                          "server (nginx on port 80) to serve"},
        "retry": {"type": "object",
                  "description": "the identity's retry policy (deadline, initial, "
                                 "max), usually passed separately"},
        **TIMEOUT_SCHEMA,
    },
}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64u(n: int, size: int) -> str:
    return b64u(n.to_bytes(size, "big"))


class Account:
    """The ACME account key (software P-256) and the JWS it signs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = self._load_or_create(path)
        nums = self.key.public_key().public_numbers()
        # Members in lexicographic order: the RFC 7638 thumbprint input.
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": _int_b64u(nums.x, 32), "y": _int_b64u(nums.y, 32)}
        canon = json.dumps(self.jwk, separators=(",", ":"), sort_keys=True)
        self.thumbprint = b64u(hashlib.sha256(canon.encode()).digest())
        self.kid: str | None = None

    @staticmethod
    def _load_or_create(path: Path) -> ec.EllipticCurvePrivateKey:
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), None)
            except (ValueError, TypeError, OSError) as e:
                raise EnrollError(f"ACME account key {path} is unreadable: {e}; "
                                  "move it away to register a new account") from e
            if not isinstance(key, ec.EllipticCurvePrivateKey) or \
                    key.curve.name != "secp256r1":
                raise EnrollError(f"ACME account key {path} is not a P-256 key")
            return key
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, path)
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            raise EnrollError(f"cannot store the ACME account key {path}: {e}") from e
        return key

    def jws(self, url: str, nonce: str, payload: dict[str, Any] | None) -> bytes:
        protected: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
        if self.kid:
            protected["kid"] = self.kid
        else:
            protected["jwk"] = self.jwk
        p64 = b64u(json.dumps(protected).encode())
        # POST-as-GET (RFC 8555 6.3) has an empty payload, not "{}".
        pl64 = "" if payload is None else b64u(json.dumps(payload).encode())
        der = self.key.sign(f"{p64}.{pl64}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return json.dumps({"protected": p64, "payload": pl64,
                           "signature": b64u(sig)}).encode()


class _Webroot:
    """http-01 through a web server that already serves port 80: the key
    authorizations are files under WEBROOT/.well-known/acme-challenge/."""

    def __init__(self, webroot: Path) -> None:
        if not webroot.is_dir():
            raise EnrollError(f"http01_webroot_dir {webroot} is not a directory")
        self.dir = webroot / ".well-known" / "acme-challenge"
        self.tokens: dict[str, str] = {}
        self.written: list[Path] = []
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError as e:
            raise EnrollError(f"cannot create {self.dir}: {e.strerror}") from e

    def publish(self) -> None:
        for token, body in self.tokens.items():
            if "/" in token or token.startswith("."):
                raise EnrollError(f"ACME: refusing a challenge token {token!r}")
            path = self.dir / token
            try:
                path.write_text(body)
                path.chmod(0o644)    # the web server's user reads it
            except OSError as e:
                raise EnrollError(f"cannot write the http-01 file {path}: "
                                  f"{e.strerror}") from e
            self.written.append(path)

    def close(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)


class _Responder:
    """Our http-01 responder: serves key authorizations at
    /.well-known/acme-challenge/TOKEN while the authorizations run."""

    def __init__(self, address: str, port: int) -> None:
        tokens: dict[str, str] = {}
        self.tokens = tokens

        class Handler(BaseHTTPRequestHandler):
            prefix: ClassVar[str] = "/.well-known/acme-challenge/"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                token = self.path[len(self.prefix):] if self.path.startswith(
                    self.prefix) else None
                body = tokens.get(token or "")
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        try:
            self.httpd = ThreadingHTTPServer((address, port), Handler)
        except OSError as e:
            raise EnrollError(f"cannot listen for the ACME http-01 challenge on "
                              f"{address or '*'}:{port}: {e.strerror}") from e
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def csr_identifiers(csr: x509.CertificateSigningRequest) -> list[dict[str, str]]:
    ids: list[dict[str, str]] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ids += [{"type": "dns", "value": n} for n in san.get_values_for_type(x509.DNSName)]
        ids += [{"type": "ip", "value": str(a)}
                for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    if not ids:
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ids = [{"type": "dns", "value": str(c.value)} for c in cns]
    if not ids:
        raise EnrollError("ACME: the CSR names no DNS name or IP address "
                          "(subjectAltName or CN) to certify")
    return ids


class Backend:
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, options: dict[str, Any], identity_name: str, *,
                 retry: dict[str, Any] | None = None,
                 state_dir: Path | None = None) -> None:
        self.identity = identity_name
        self.opts = options
        self.retry = retry if retry is not None else options.get("retry")
        self.directory_url = str(options["directory"])
        self.trust_anchor = Path(options["trust_anchor"])
        self.issuer_anchor = (Path(options["issuer_anchor_file"])
                              if options.get("issuer_anchor_file") else None)
        if options.get("account_key_file"):
            self.account_key = Path(options["account_key_file"])
        else:
            tag = hashlib.sha256(self.directory_url.encode()).hexdigest()[:16]
            # The caller passes the config's state_dir (keyword, or in the
            # options it builds after validation: not a YAML field).
            base = state_dir or Path(options.get("state_dir") or DEFAULT_STATE_DIR)
            self.account_key = base / "acme" / f"account-{tag}.pem"
        self.nonce: str | None = None

    # -- protocol plumbing -----------------------------------------------

    def _problem(self, r: Reply, what: str) -> EnrollError:
        try:
            p = json.loads(r.body)
            kind = str(p.get("type", "")).rsplit(":", 1)[-1]
            detail = p.get("detail", "")
            sub = "; ".join(f"{s.get('identifier', {}).get('value', '?')}: "
                            f"{s.get('detail', '')}" for s in p.get("subproblems", []))
            text = f"{kind}: {detail}" + (f" ({sub})" if sub else "")
        except (ValueError, AttributeError):
            text = r.body[:200].decode("utf-8", "replace").strip() or "(empty body)"
        return EnrollError(f"ACME {what} refused, HTTP {r.status}: {text}")

    def _take_nonce(self, r: Reply) -> None:
        n = r.header("Replay-Nonce")
        if n:
            self.nonce = n

    def _new_nonce(self, t: Transport, started: float) -> str:
        r = t.request("HEAD", self.dir["newNonce"], started=started)
        self._take_nonce(r)
        if not self.nonce:
            raise EnrollError(f"ACME newNonce at {self.dir['newNonce']}: no Replay-Nonce")
        return self.nonce

    def _post(self, t: Transport, url: str, payload: dict[str, Any] | None,
              what: str, started: float, accept: str | None = None) -> Reply:
        for _ in range(NONCE_RETRIES):
            nonce = self.nonce or self._new_nonce(t, started)
            self.nonce = None
            headers = {"Content-Type": "application/jose+json"}
            if accept:
                headers["Accept"] = accept
            r = t.request("POST", url, self.account.jws(url, nonce, payload),
                          headers, started=started)
            self._take_nonce(r)
            if r.status < 400:
                return r
            if r.status == 400 and _problem_type(r) == BAD_NONCE:
                continue      # retryable by definition (RFC 8555 6.5)
            raise self._problem(r, what)
        raise EnrollError(f"ACME {what}: the server rejected {NONCE_RETRIES} "
                          "nonces in a row (badNonce)")

    def _json(self, r: Reply, what: str) -> dict[str, Any]:
        try:
            obj = json.loads(r.body)
        except ValueError as e:
            raise EnrollError(f"ACME {what}: reply is not JSON: {e}") from e
        if not isinstance(obj, dict):
            raise EnrollError(f"ACME {what}: reply is not a JSON object")
        return obj

    def _poll(self, t: Transport, url: str, what: str, started: float,
              done: tuple[str, ...], pending: tuple[str, ...]) -> dict[str, Any]:
        """POST-as-GET url until its status leaves `pending`."""
        while True:
            r = self._post(t, url, None, what, started)
            obj = self._json(r, what)
            status = obj.get("status")
            if status in done:
                return obj
            if status not in pending:
                err = obj.get("error") or {}
                detail = err.get("detail") if isinstance(err, dict) else None
                for ch in obj.get("challenges", []):
                    if isinstance(ch, dict) and ch.get("error"):
                        detail = ch["error"].get("detail", detail)
                raise EnrollError(f"ACME {what} is {status}"
                                  + (f": {detail}" if detail else ""))
            wait = parse_retry_after(r.header("Retry-After"), t.backoff)
            if time.monotonic() - started + wait > t.deadline:
                raise EnrollPending(f"ACME {what} still {status} at the deadline", wait)
            t.sleep(wait)

    # -- the contract ------------------------------------------------------

    def enroll(self, csr: x509.CertificateSigningRequest, *,
               current: Credential | None = None) -> list[x509.Certificate]:
        # ACME renews like it issues: a new order for the same names.
        started = time.monotonic()
        identifiers = csr_identifiers(csr)
        anchors = load_anchors(self.issuer_anchor) if self.issuer_anchor else None
        t = transport_from_options(self.opts, self.retry, self.trust_anchor)
        r = t.request("GET", self.directory_url, started=started)
        if r.status != 200:
            raise EnrollError(f"ACME directory {self.directory_url}: HTTP {r.status}")
        self.dir = self._json(r, f"directory {self.directory_url}")
        for k in ("newNonce", "newAccount", "newOrder"):
            if not isinstance(self.dir.get(k), str):
                raise EnrollError(f"ACME directory {self.directory_url} has no {k}: "
                                  "is this an ACME (RFC 8555) directory?")
        self.account = Account(self.account_key)

        reg: dict[str, Any] = {"termsOfServiceAgreed": bool(self.opts.get("agree_tos"))}
        if self.opts.get("contact"):
            reg["contact"] = list(self.opts["contact"])
        try:
            r = self._post(t, self.dir["newAccount"], reg, "newAccount", started)
        except EnrollError as e:
            if "agreementRequired" in str(e) and not self.opts.get("agree_tos"):
                tos = (self.dir.get("meta") or {}).get("termsOfService", "")
                raise EnrollError(f"{e} (read {tos or 'the terms'} and set agree_tos: "
                                  "true)") from e
            raise
        self.account.kid = r.header("Location") or None
        if not self.account.kid:
            raise EnrollError("ACME newAccount: no account URL (Location) in the reply")

        r = self._post(t, self.dir["newOrder"], {"identifiers": identifiers},
                       "newOrder", started)
        order_url = r.header("Location")
        order = self._json(r, "newOrder")
        if not order_url:
            raise EnrollError("ACME newOrder: no order URL (Location) in the reply")

        self._authorize(t, order, started)

        der = csr.public_bytes(serialization.Encoding.DER)
        r = self._post(t, str(order["finalize"]), {"csr": b64u(der)}, "finalize",
                       started)
        order = self._poll(t, order_url, "order", started, ("valid",),
                           ("pending", "ready", "processing"))
        cert_url = order.get("certificate")
        if not isinstance(cert_url, str):
            raise EnrollError("ACME order is valid but names no certificate URL")
        r = self._post(t, cert_url, None, "certificate download", started,
                       accept="application/pem-certificate-chain")
        chain = load_pem_certs(r.body, f"ACME certificate at {cert_url}")
        # Without an issuer anchor the chain is as trusted as the HTTPS
        # channel it came over; key, validity and signatures are still checked.
        return check_chain(chain, csr, anchors,
                           f"ACME certificate from {self.directory_url}")

    def _authorize(self, t: Transport, order: dict[str, Any], started: float) -> None:
        todo: list[tuple[str, dict[str, Any]]] = []
        for url in order.get("authorizations", []):
            authz = self._json(self._post(t, url, None, "authorization", started),
                               "authorization")
            if authz.get("status") == "valid":
                continue
            name = authz.get("identifier", {}).get("value", "?")
            ch = next((c for c in authz.get("challenges", [])
                       if c.get("type") == "http-01"), None)
            if ch is None:
                raise EnrollError(f"ACME: the CA offers no http-01 challenge for {name}")
            todo.append((url, ch))
        if not todo:
            return
        responder: _Webroot | _Responder
        if self.opts.get("http01_webroot_dir"):
            responder = _Webroot(Path(self.opts["http01_webroot_dir"]))
        else:
            responder = _Responder(str(self.opts.get("http01_address", "")),
                                   int(self.opts.get("http01_port", 80)))
        try:
            for _, ch in todo:
                responder.tokens[ch["token"]] = f"{ch['token']}.{self.account.thumbprint}"
            if isinstance(responder, _Webroot):
                responder.publish()
            for _, ch in todo:
                self._post(t, ch["url"], {}, "challenge", started)
            for url, _ in todo:
                self._poll(t, url, "authorization", started, ("valid",), ("pending",))
        finally:
            responder.close()


def _problem_type(r: Reply) -> str:
    try:
        return str(json.loads(r.body).get("type", ""))
    except (ValueError, AttributeError):
        return ""
