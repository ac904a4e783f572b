"""An EST server (RFC 7030) for the tests: stdlib HTTPS + cryptography.

    python3 est_server.py --port P --tls-cert C --tls-key K --ca DIR
        [--user U --password-file F] [--mode MODE] [--pending N]
        [--label L] [--log FILE]

- GET  /.well-known/est[/L]/cacerts         the CA certificate (PKCS#7)
- POST /.well-known/est[/L]/simpleenroll    HTTP basic auth required
- POST /.well-known/est[/L]/simplereenroll  TLS client certificate required,
  issued by the CA, with the CSR's subject
Replies are base64 DER PKCS#7 certs-only. The CA directory is a
tlsutil.DevCA (ca.pem, ca.key); issued certificates are signed by it.

--pending N answers the first N enrollment requests with 202 and
Retry-After: 1. --mode breaks the replies on purpose:
  ok            correct replies
  malformed     200 with a body that is not base64 PKCS#7
  html          200 text/html (a captive portal, a misrouted proxy)
  wrong-chain   signed by another CA than the configured one
  expired       a certificate whose validity has ended
  mismatched    a certificate for another public key than the CSR's
  hang          accept the request and never answer
  unavailable   503 with Retry-After: 1 forever
  reject        400 with a reason
Every request is appended to --log as a JSON line (path, status, basic
user, TLS client certificate SHA-256).
"""
from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tlsutil import DevCA


def pkcs7_b64(certs: list[x509.Certificate]) -> bytes:
    der = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    return base64.encodebytes(der)


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ca = DevCA(args.ca)
        self.other_ca = DevCA(Path(args.log).parent / "est-other-ca",
                              name="not the EST CA") if args.mode == "wrong-chain" else None
        self.password = (Path(args.password_file).read_text().splitlines()[0]
                         if args.password_file else None)
        self.pending_left = args.pending
        self.lock = threading.Lock()

    def log(self, entry: dict) -> None:
        with self.lock, open(self.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def issue(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        mode = self.args.mode
        ca = self.other_ca if mode == "wrong-chain" else self.ca
        assert ca is not None
        now = datetime.datetime.now(datetime.UTC)
        if mode == "expired":
            start, end = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
        else:
            start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30)
        pub = csr.public_key()
        if mode == "mismatched":
            pub = ec.generate_private_key(ec.SECP256R1()).public_key()
        b = (x509.CertificateBuilder()
             .subject_name(csr.subject).issuer_name(ca.cert.subject)
             .public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
                            False))
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            b = b.add_extension(san.value, False)
        except x509.ExtensionNotFound:
            pass
        return b.sign(ca.key, hashes.SHA256())


class Handler(BaseHTTPRequestHandler):
    server_version = "optee-tls-test-est/1"
    state: State

    def log_message(self, format: str, *args: object) -> None:  # quiet stderr
        pass

    def _prefix(self) -> str:
        p = "/.well-known/est"
        if self.state.args.label:
            p += "/" + self.state.args.label
        return p

    def _client_cert(self) -> x509.Certificate | None:
        der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        return x509.load_der_x509_certificate(der) if der else None

    def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain",
              headers: dict | None = None, entry: dict | None = None) -> None:
        # Logged before the reply goes out: a test reading the log after
        # its request returned must find the entry.
        e = dict(entry or {})
        e.update({"method": self.command, "path": self.path, "status": status})
        self.state.log(e)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if ctype.startswith("application/pkcs7"):
            self.send_header("Content-Transfer-Encoding", "base64")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == self._prefix() + "/cacerts":
            if self.state.args.mode == "unavailable":
                self._send(503, b"try later", headers={"Retry-After": "1"})
                return
            self._send(200, pkcs7_b64([self.state.ca.cert]),
                       "application/pkcs7-mime; smime-type=certs-only")
        else:
            self._send(404, b"no such EST operation")

    def do_POST(self) -> None:
        st, args = self.state, self.state.args
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        op = self.path[len(self._prefix()) + 1:] if self.path.startswith(
            self._prefix() + "/") else ""
        if op not in ("simpleenroll", "simplereenroll"):
            self._send(404, b"no such EST operation")
            return
        entry: dict = {}
        client = self._client_cert()
        if client is not None:
            entry["client_sha256"] = hashlib.sha256(
                client.public_bytes(serialization.Encoding.DER)).hexdigest()
        if op == "simpleenroll":
            auth = self.headers.get("Authorization", "")
            user = pw = None
            if auth.startswith("Basic "):
                try:
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    pass
            entry["user"] = user
            if st.password is not None and (user != args.user or pw != st.password):
                self._send(401, b"bad credentials",
                           headers={"WWW-Authenticate": 'Basic realm="est"'}, entry=entry)
                return
        try:
            csr = x509.load_der_x509_csr(base64.b64decode(b"".join(body.split())))
        except (ValueError, binascii.Error):
            self._send(400, b"not a base64 PKCS#10 request", entry=entry)
            return
        if not csr.is_signature_valid:
            self._send(400, b"CSR signature does not verify", entry=entry)
            return
        entry["csr_subject"] = csr.subject.rfc4514_string()
        if op == "simplereenroll":
            if client is None:
                self._send(401, b"simplereenroll needs a TLS client certificate",
                           entry=entry)
                return
            if client.subject != csr.subject:
                self._send(403, b"CSR subject differs from the client certificate's",
                           entry=entry)
                return
        with st.lock:
            pending = st.pending_left > 0
            if pending:
                st.pending_left -= 1
        if pending:
            self._send(202, b"", headers={"Retry-After": "1"}, entry=entry)
            return
        mode = args.mode
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "unavailable":
            self._send(503, b"try later", headers={"Retry-After": "1"}, entry=entry)
            return
        if mode == "reject":
            self._send(400, b"policy: subject not allowed", entry=entry)
            return
        if mode == "malformed":
            self._send(200, b"this is not base64 pkcs7 !!!",
                       "application/pkcs7-mime; smime-type=certs-only", entry=entry)
            return
        if mode == "html":
            self._send(200, b"<html>Please log in</html>", "text/html", entry=entry)
            return
        cert = st.issue(csr)
        entry["issued_sha256"] = hashlib.sha256(
            cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        self._send(200, pkcs7_b64([cert]),
                   "application/pkcs7-mime; smime-type=certs-only", entry=entry)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--ca", required=True, help="DevCA directory (signs and "
                    "verifies client certificates)")
    ap.add_argument("--user")
    ap.add_argument("--password-file")
    ap.add_argument("--label")
    ap.add_argument("--pending", type=int, default=0)
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "malformed", "html", "wrong-chain", "expired",
                             "mismatched", "hang", "unavailable", "reject"])
    ap.add_argument("--log", required=True)
    args = ap.parse_args(argv)
    Handler.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    ctx.load_verify_locations(cafile=str(Path(args.ca) / "ca.pem"))
    ctx.verify_mode = ssl.CERT_OPTIONAL   # basic auth needs no certificate
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print(f"EST test server on https://127.0.0.1:{args.port}", flush=True)
    httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
