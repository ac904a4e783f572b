"""HTTPS for the network backends (est, acme).

One place decides how we talk to a CA over the network:
- the server is verified against the configured trust anchor file only;
  the system's default trust store is never loaded behind the user's back;
- the client may authenticate with a certificate and a PEM key reference
  of a TEE key: Python's ssl module (the system's libssl) loads the
  reference through the optee provider when OPENSSL_CONF activates it,
  exactly as nginx or curl do;
- proxies come from the environment (https_proxy, no_proxy), as urllib
  reads them;
- transient failures (connection errors, timeouts, 5xx, 429) are retried
  with exponential backoff until a deadline (the identity's enroll.retry).
"""
from __future__ import annotations

import email.message
import http.client
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EnrollError

# Options shared by the network backends' CONFIG_SCHEMA. The retry policy
# itself is the identity's `enroll.retry` mapping (deadline, initial, max),
# common to every method; the config loader hands it to the backend.
TIMEOUT_SCHEMA: dict[str, Any] = {
    "timeout": {"type": "number", "minimum": 1,
                "description": "seconds for one HTTP request (default 30)"},
}
RETRY_DEFAULTS = {"deadline": 300.0, "initial": 2.0, "max": 60.0}


@dataclass
class Reply:
    status: int
    headers: email.message.Message
    body: bytes
    url: str

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else str(value)


class Transient(Exception):
    """A failure worth retrying (the server may answer later)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, default: float) -> float:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def read_secret(path: str | os.PathLike[str], what: str) -> str:
    """A secret from a file (e.g. a systemd credential): its first line.
    Refused if other users may read it."""
    p = Path(path)
    try:
        st = p.stat()
        data = p.read_text()
    except OSError as e:
        raise EnrollError(f"cannot read {what} from {p}: {e.strerror}") from e
    if st.st_mode & 0o004:
        raise EnrollError(f"{what} file {p} is readable by every user "
                          f"(mode {st.st_mode & 0o777:04o}); chmod o-r it")
    secret = data.splitlines()[0] if data else ""
    if not secret:
        raise EnrollError(f"{what} file {p} is empty")
    return secret


def credential_path(name: str) -> Path:
    """A systemd credential (LoadCredential=/SetCredentialEncrypted=) of
    the running service: $CREDENTIALS_DIRECTORY/NAME."""
    base = os.environ.get("CREDENTIALS_DIRECTORY")
    if not base:
        raise EnrollError(f"credential {name!r} configured but CREDENTIALS_DIRECTORY "
                          "is not set (not started by systemd with LoadCredential=?)")
    return Path(base) / name


@dataclass
class Transport:
    trust_anchor: Path
    timeout: float = 30.0
    deadline: float = 300.0
    backoff: float = 2.0
    backoff_max: float = 60.0
    client_cert: Path | None = None
    client_key: Path | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def context(self) -> ssl.SSLContext:
        if not self.trust_anchor.is_file():
            raise EnrollError(f"trust anchor {self.trust_anchor} does not exist")
        try:
            # cafile given: create_default_context loads only that file.
            ctx = ssl.create_default_context(cafile=str(self.trust_anchor))
        except (ssl.SSLError, OSError) as e:
            raise EnrollError(f"cannot load trust anchor {self.trust_anchor}: {e}") from e
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.client_cert is not None:
            try:
                ctx.load_cert_chain(str(self.client_cert),
                                    str(self.client_key) if self.client_key else None)
            except (ssl.SSLError, OSError) as e:
                raise EnrollError(
                    f"cannot load client certificate {self.client_cert} with key "
                    f"{self.client_key}: {e} (a TEE key reference loads only when "
                    "OPENSSL_CONF activates the optee provider)") from e
        return ctx

    def open_once(self, method: str, url: str, body: bytes | None = None,
                  headers: dict[str, str] | None = None) -> Reply:
        """One request. HTTP errors are returned as replies, except the
        transient ones, which raise Transient."""
        req = urllib.request.Request(url, data=body, method=method,
                                     headers=dict(headers or {}))
        # build_opener adds a ProxyHandler reading the environment.
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.context()))
        try:
            with opener.open(req, timeout=self.timeout) as r:
                return Reply(r.status, r.headers, r.read(), r.geturl())
        except urllib.error.HTTPError as e:
            reply = Reply(e.code, e.headers, e.read() if e.fp else b"", url)
            if e.code == 429 or e.code >= 500:
                raise Transient(f"{url}: HTTP {e.code} {e.reason}",
                                parse_retry_after(e.headers.get("Retry-After"),
                                                  0)) from e
            return reply
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise EnrollError(f"{url}: the server's certificate does not verify "
                                  f"against {self.trust_anchor}: "
                                  f"{reason.verify_message}") from e
            if isinstance(reason, ssl.SSLError):
                raise EnrollError(f"{url}: TLS failed: {reason}") from e
            raise Transient(f"{url}: {reason}") from e
        except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
            raise Transient(f"{url}: {type(e).__name__}: {e}") from e
        except ssl.SSLError as e:
            raise EnrollError(f"{url}: TLS failed: {e}") from e

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None,
                started: float | None = None) -> Reply:
        """open_once, retrying transient failures until the deadline
        (counted from `started`, default now)."""
        start = time.monotonic() if started is None else started
        delay = self.backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.open_once(method, url, body, headers)
            except Transient as t:
                wait = max(delay, t.retry_after or 0)
                if time.monotonic() - start + wait > self.deadline:
                    raise EnrollError(f"giving up after {attempt} attempt(s) "
                                      f"({self.deadline:g} s deadline): {t}") from t
                self.sleep(wait)
                delay = min(delay * 2, self.backoff_max)


def transport_from_options(options: dict[str, Any], retry: dict[str, Any] | None,
                           trust_anchor: Path, **kw: Any) -> Transport:
    r = dict(RETRY_DEFAULTS)
    r.update(retry or {})
    return Transport(trust_anchor=trust_anchor,
                     timeout=float(options.get("timeout", 30)),
                     deadline=float(r["deadline"]), backoff=max(float(r["initial"]), 0.01),
                     backoff_max=float(r["max"]), **kw)
