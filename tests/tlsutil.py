"""TLS helpers for the optee-tls integration tests and scripts/demo.sh.

Importable from the tests (tests/ is on sys.path under pytest) and usable
as a command line tool from shell scripts:

    python3 tests/tlsutil.py ca DIR                   # dev CA: DIR/ca.pem, DIR/ca.key
    python3 tests/tlsutil.py issue --ca DIR --csr F --out F [--dns N]... [--ip A]... [--client]
    python3 tests/tlsutil.py nginx-conf --prefix D --port P --cert C --key K [--workers N]
                                       [--env NAME]... [--user U] [--html TEXT]
    python3 tests/tlsutil.py free-port

Every process started here is tracked by PID and stopped by PID; nothing is
ever killed by name. Nothing here measures time.
"""
from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
NGINX_TEMPLATE = Path(__file__).resolve().parent / "nginx" / "nginx.conf.in"
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL_BIN = shutil.which("openssl") or "/usr/bin/openssl"
CURL_BIN = shutil.which("curl") or "/usr/bin/curl"

# Environment variables through which our provider/ENGINE/simulator are found.
OPTEE_ENV_VARS = ("OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES",
                  "OPTEE_SIM_SOCKET", "LD_LIBRARY_PATH")

# ---------------------------------------------------------------------------
# Key types and TLS signature schemes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyType:
    name: str                 # our short name, also used in labels
    algorithm: str            # openssl genpkey -algorithm
    pkeyopts: tuple           # openssl genpkey -pkeyopt values (besides label)
    sig_type: str             # s_client "Peer signature type"
    tls12_ok: bool = True


KEY_TYPES = {
    "p256": KeyType("p256", "EC", ("group:P-256",), "ECDSA"),
    "p384": KeyType("p384", "EC", ("group:P-384",), "ECDSA"),
    "p521": KeyType("p521", "EC", ("group:P-521",), "ECDSA"),
    "rsa2048": KeyType("rsa2048", "RSA", ("bits:2048",), "RSA"),
    "rsa3072": KeyType("rsa3072", "RSA", ("bits:3072",), "RSA"),
    "rsa4096": KeyType("rsa4096", "RSA", ("bits:4096",), "RSA"),
    "ed25519": KeyType("ed25519", "ED25519", (), "ed25519"),
}

# TLS SignatureScheme name -> (s_client "Peer signature type",
#                              s_client "Peer signing digest" or None)
SIGALGS = {
    "ecdsa_secp256r1_sha256": ("ECDSA", "SHA256"),
    "ecdsa_secp384r1_sha384": ("ECDSA", "SHA384"),
    "ecdsa_secp521r1_sha512": ("ECDSA", "SHA512"),
    "rsa_pss_rsae_sha256": ("RSA-PSS", "SHA256"),
    "rsa_pss_rsae_sha384": ("RSA-PSS", "SHA384"),
    "rsa_pss_rsae_sha512": ("RSA-PSS", "SHA512"),
    "rsa_pkcs1_sha256": ("RSA", "SHA256"),
    "rsa_pkcs1_sha384": ("RSA", "SHA384"),
    "rsa_pkcs1_sha512": ("RSA", "SHA512"),
    "ed25519": ("ed25519", None),
}


def sig_type_of(printed: str | None) -> str | None:
    """s_client's "Peer signature type" as OpenSSL 3.0 prints it (the key
    type: ECDSA, RSA-PSS, RSA, ed25519) from what any 3.x prints: 3.5 and
    later print the TLS signature scheme (ecdsa_secp256r1_sha256, ...)."""
    if printed is None:
        return None
    scheme = printed.strip()
    for prefix, kind in (("ecdsa_", "ECDSA"), ("rsa_pss_", "RSA-PSS"),
                         ("rsa_pkcs1_", "RSA")):
        if scheme.startswith(prefix):
            return kind
    return scheme


def client_env(base: dict | None = None) -> dict:
    """Environment for a client that must NOT see our provider: the
    system's default OpenSSL configuration, no simulator, no build libs."""
    env = dict(base if base is not None else os.environ)
    for k in OPTEE_ENV_VARS:
        env.pop(k, None)
    return env


# ---------------------------------------------------------------------------
# Dev CA (pyca/cryptography)
# ---------------------------------------------------------------------------


class DevCA:
    """A throw-away certificate authority in a directory (ca.pem, ca.key).

    The CA key is an ordinary software key: only the servers' keys live in
    the TEE. issue() verifies the CSR's self-signature first, which checks
    the TEE's signature independently of OpenSSL.
    """

    def __init__(self, directory: os.PathLike | str, name: str = "optee-tls dev CA"):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.dir / "ca.pem"
        self.key_path = self.dir / "ca.key"
        if self.cert_path.exists() and self.key_path.exists():
            self.key = serialization.load_pem_private_key(
                self.key_path.read_bytes(), None)
            self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            return
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(self.key, hashes.SHA256()))
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, csr_pem: bytes | os.PathLike | str, out: os.PathLike | str,
              dns: Sequence[str] = ("localhost",),
              ips: Sequence[str] = ("127.0.0.1",),
              server: bool = True, client: bool = False,
              days: int = 30, cn: str | None = None) -> Path:
        """Certificate for the CSR's public key; returns the PEM path."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        if isinstance(csr_pem, (str, os.PathLike)) and not (
                isinstance(csr_pem, str) and csr_pem.startswith("-----")):
            csr_pem = Path(csr_pem).read_bytes()
        if isinstance(csr_pem, str):
            csr_pem = csr_pem.encode()
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("CSR self-signature does not verify")
        subject = csr.subject
        if cn is not None:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.DNSName(d) for d in dns] + \
               [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        ekus = []
        if server:
            ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        b = (x509.CertificateBuilder()
             .subject_name(subject).issuer_name(self.cert.subject)
             .public_key(csr.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                            critical=True)
             .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self.key.public_key()), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        out = Path(out)
        out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return out

    def issue_software(self, directory: os.PathLike | str, name: str,
                       client: bool = False, server: bool = True,
                       dns: Sequence[str] = ("localhost",),
                       ips: Sequence[str] = ("127.0.0.1",)) -> tuple[Path, Path]:
        """An ordinary software key + certificate (for the other side of a
        test). Returns (key_path, cert_path)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        key_path = d / f"{name}.key"
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .sign(key, hashes.SHA256()))
        cert_path = self.issue(csr.public_bytes(serialization.Encoding.PEM),
                               d / f"{name}.pem", dns=dns, ips=ips,
                               client=client, server=server)
        return key_path, cert_path


def cert_public_key_der(cert_pem: bytes | os.PathLike | str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    if not isinstance(cert_pem, bytes):
        cert_pem = Path(cert_pem).read_bytes()
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---------------------------------------------------------------------------
# TEE keys through the openssl CLI and our provider
# ---------------------------------------------------------------------------


def run(args: Sequence[str], env: dict | None = None, check: bool = True,
        timeout: float = 120, input: bytes | None = None,
        cwd: os.PathLike | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in args], env=env, capture_output=True,
                       timeout=timeout, input=input, cwd=cwd,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError(
            f"command failed ({p.returncode}): {' '.join(map(str, args))}\n"
            f"stdout: {p.stdout.decode(errors='replace')}\n"
            f"stderr: {p.stderr.decode(errors='replace')}")
    return p


def tee_genkey(env: dict, label: str, key_type: str | KeyType,
               ref_out: os.PathLike | str) -> Path:
    """Generate a key inside the TEE with `openssl genpkey` through the
    optee provider; writes the PEM key reference to ref_out."""
    kt = KEY_TYPES[key_type] if isinstance(key_type, str) else key_type
    # -propquery: the default provider offers the same algorithm names;
    # without it genpkey may pick the default provider's key generator.
    args = [OPENSSL_BIN, "genpkey", "-provider", "optee", "-provider", "default",
            "-propquery", "provider=optee", "-algorithm", kt.algorithm]
    for o in kt.pkeyopts:
        args += ["-pkeyopt", o]
    args += ["-pkeyopt", f"label:{label}", "-out", str(ref_out)]
    run(args, env=env)
    return Path(ref_out)


KEY_TYPE_CODES = {  # key type -> (OTLS_KEY_*, bits) of ta/include/optee_tls_ta.h
    "p256": (1, 256), "p384": (1, 384), "p521": (1, 521),
    "rsa2048": (2, 2048), "rsa3072": (2, 3072), "rsa4096": (2, 4096),
    "ed25519": (3, 256),
}


def lib_genkey(label: str, key_type: str, ref_out: os.PathLike | str) -> Path:
    """Generate a key in the TEE through libopteetls directly (ctypes), in
    THIS process (needs OPTEE_SIM_SOCKET / LD_LIBRARY_PATH in os.environ):
    the provider-independent way. Writes the PEM key reference."""
    import ctypes
    lib = ctypes.CDLL(str(BUILD / "lib" / "libopteetls.so"))
    lib.otls_strerror.restype = ctypes.c_char_p
    kt, bits = KEY_TYPE_CODES[key_type]
    info = ctypes.create_string_buffer(8192)   # otls_key_info (< 2 KiB)
    rc = lib.otls_key_generate(label.encode(), ctypes.c_uint32(kt),
                               ctypes.c_uint32(bits), None, info)
    if rc != 0:
        raise RuntimeError(f"otls_key_generate({label}): {lib.otls_strerror(rc).decode()}")
    pem = ctypes.c_char_p()
    rc = lib.otls_ref_encode_pem(info, ctypes.byref(pem))
    if rc != 0:
        raise RuntimeError(f"otls_ref_encode_pem: {lib.otls_strerror(rc).decode()}")
    Path(ref_out).write_bytes(pem.value)
    lib.otls_free(pem)
    return Path(ref_out)


def tee_genkey_lib(env: dict, label: str, key_type: str,
                   ref_out: os.PathLike | str) -> Path:
    """lib_genkey in a child process with environment env."""
    run([sys.executable, str(Path(__file__).resolve()), "genkey", "--label", label,
         "--type", key_type, "--out", str(ref_out)], env=env)
    return Path(ref_out)


def make_csr(env: dict, key: str | os.PathLike, out: os.PathLike | str,
             cn: str = "localhost", use_provider_args: bool = True) -> Path:
    """CSR signed by the (TEE) key: key is "optee:LABEL" or a reference
    file (or any key openssl accepts)."""
    args = [OPENSSL_BIN, "req", "-new"]
    if use_provider_args:
        args += ["-provider", "optee", "-provider", "default"]
    args += ["-key", str(key), "-subj", f"/CN={cn}", "-out", str(out)]
    run(args, env=env)
    return Path(out)


def tee_server_identity(env: dict, ca: DevCA, directory: os.PathLike | str,
                        label: str, key_type: str, client: bool = False,
                        server: bool = True, cn: str = "localhost") -> tuple[Path, Path]:
    """Key in the TEE + certificate from the dev CA.
    Returns (reference_pem_path, cert_path)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ref = tee_genkey(env, label, key_type, d / f"{label}.ref.pem")
    csr = make_csr(env, f"optee:{label}", d / f"{label}.csr", cn=cn)
    cert = ca.issue(csr, d / f"{label}.pem", client=client, server=server)
    return ref, cert


def der_tlv(tag: int, body: bytes) -> bytes:
    """One DER tag-length-value (definite length)."""
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def write_key_reference(path: os.PathLike | str, label_uri: str,
                        spki_der: bytes) -> Path:
    """Write a PEM "OPTEE TLS KEY" reference by hand (see optee_tls.h):
    SEQUENCE { INTEGER 1, UTF8String uri, SubjectPublicKeyInfo }.
    Used to build references to keys that do not exist."""
    import base64

    der = der_tlv(0x30, der_tlv(0x02, b"\x01") +
                  der_tlv(0x0C, label_uri.encode()) + spki_der)
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    text = "-----BEGIN OPTEE TLS KEY-----\n" + "\n".join(lines) + \
           "\n-----END OPTEE TLS KEY-----\n"
    Path(path).write_text(text)
    return Path(path)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None,
                  timeout: float = 30.0, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            extra = ""
            if log is not None and log.exists():
                extra = "\n" + log.read_text(errors="replace")
            raise RuntimeError(f"process exited with {proc.returncode} before "
                               f"listening on {port}{extra}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        st = Path(f"/proc/{pid}/stat").read_text()
        return st.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid_tree(proc: subprocess.Popen, sig: int = signal.SIGTERM,
                  timeout: float = 15.0) -> None:
    """Stop proc (and, should they survive it, the children it had) by PID."""
    if proc.poll() is not None:
        return
    kids = _children(proc.pid)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    for k in kids:
        while _pid_alive(k) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(k):
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Server:
    """A server process on 127.0.0.1:port."""
    proc: subprocess.Popen
    port: int
    log: Path
    args: list = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop_pid_tree(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_s_server(env: dict, cert: os.PathLike | str, key: os.PathLike | str,
                   workdir: os.PathLike | str, port: int | None = None,
                   extra: Sequence[str] = (), www: bool = True,
                   name: str = "s_server", wait: bool = True) -> Server:
    """openssl s_server with key `key` ("optee:LABEL", a reference file,
    or a plain key file) in environment env."""
    port = port or free_port()
    log = Path(workdir) / f"{name}-{port}.log"
    args = [OPENSSL_BIN, "s_server", "-accept", f"127.0.0.1:{port}",
            "-cert", str(cert), "-key", str(key)]
    if www:
        args.append("-www")
    args += list(extra)
    with open(log, "ab") as f:
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                stdout=f, stderr=subprocess.STDOUT)
    srv = Server(proc, port, log, args)
    if wait:
        try:
            wait_for_port(port, proc, log=log)
        except Exception:
            srv.stop()
            raise
    return srv


@dataclass
class Handshake:
    rc: int
    output: str
    protocol: str | None
    cipher: str | None
    sig_type: str | None
    sig_digest: str | None
    verified: bool

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.verified and self.cipher not in (None, "(NONE)")


def s_client(port: int, cafile: os.PathLike | str, version: str | None = None,
             sigalgs: str | None = None, servername: str = "localhost",
             env: dict | None = None, extra: Sequence[str] = (),
             cert: os.PathLike | str | None = None,
             key: os.PathLike | str | None = None,
             timeout: float = 60) -> Handshake:
    """One full handshake with openssl s_client, by default WITHOUT our
    provider (client_env()). version: "1.2" / "1.3" / None."""
    args = [OPENSSL_BIN, "s_client", "-connect", f"127.0.0.1:{port}",
            "-servername", servername, "-verify_hostname", servername,
            "-CAfile", str(cafile), "-verify_return_error"]
    if version == "1.2":
        args.append("-tls1_2")
    elif version == "1.3":
        args.append("-tls1_3")
    if sigalgs:
        args += ["-sigalgs", sigalgs]
    if cert:
        args += ["-cert", str(cert)]
    if key:
        args += ["-key", str(key)]
    args += list(extra)
    p = subprocess.run(args, env=client_env() if env is None else env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")

    def grab(rx):
        m = re.search(rx, out, re.M)
        return m.group(1).strip() if m else None

    proto_cipher = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    return Handshake(
        rc=p.returncode, output=out,
        protocol=proto_cipher.group(1) if proto_cipher else None,
        cipher=proto_cipher.group(2) if proto_cipher else None,
        sig_type=sig_type_of(grab(r"^Peer signature type: (.+)$")),
        sig_digest=grab(r"^Peer signing digest: (.+)$"),
        verified=bool(re.search(r"^\s*Verify return code: 0 \(ok\)", out, re.M)
                       and re.search(r"^Verification: OK", out, re.M)))


# ---------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------


def render_nginx_conf(prefix: os.PathLike | str, port: int, cert: os.PathLike | str,
                      key: str, workers: int = 2, env_names: Iterable[str] = (),
                      user: str | None = None, listen_opts: str = "",
                      server_extra: str = "", ssl_engine: str | None = None,
                      html: str = "hello from optee-tls\n",
                      error_level: str = "info",
                      template: Path = NGINX_TEMPLATE) -> Path:
    """Write PREFIX/nginx.conf (and PREFIX/html/index.html, PREFIX/tmp).
    key: a path to a key or key reference, or "engine:optee:LABEL".
    user: None = nginx's default (nobody when started as root)."""
    prefix = Path(prefix)
    for d in ("html", "tmp", "logs"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    (prefix / "html" / "index.html").write_text(html)
    subst = {
        "PREFIX": str(prefix),
        "PORT": str(port),
        "CERT": str(cert),
        "KEY": str(key),
        "WORKERS": str(workers),
        "USER_LINE": f"user {user};" if user else "",
        "ENV_LINES": "\n".join(f"env {n};" for n in env_names),
        "SSL_ENGINE_LINE": f"ssl_engine {ssl_engine};" if ssl_engine else "",
        "LISTEN_OPTS": listen_opts,
        "SERVER_EXTRA": "\n".join("        " + l for l in server_extra.splitlines()),
        "ERROR_LEVEL": error_level,
    }
    text = template.read_text()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", v)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"unfilled placeholders {left}")
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


class Nginx:
    """nginx master in the foreground (daemon off) under our control."""

    def __init__(self, prefix: os.PathLike | str, conf: os.PathLike | str,
                 port: int, env: dict):
        self.prefix = Path(prefix)
        self.conf = Path(conf)
        self.port = port
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.stderr_log = self.prefix / "nginx.stderr"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def base_args(self) -> list[str]:
        return [NGINX_BIN, "-p", str(self.prefix), "-c", str(self.conf)]

    def test_config(self) -> subprocess.CompletedProcess:
        """nginx -t (returns the CompletedProcess; check returncode)."""
        return subprocess.run(self.base_args() + ["-t"], env=self.env,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def start(self, wait: bool = True) -> "Nginx":
        with open(self.stderr_log, "ab") as f:
            self.proc = subprocess.Popen(
                self.base_args() + ["-g", "daemon off;"], env=self.env,
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        if wait:
            try:
                wait_for_port(self.port, self.proc, log=self.stderr_log)
                self.wait_workers()
            except Exception as e:
                self.stop()
                raise RuntimeError(f"{e}\nerror.log:\n{self.errors()}") from e
        return self

    @property
    def workers(self) -> int:
        m = re.search(r"^\s*worker_processes\s+(\d+)\s*;", self.conf.read_text(), re.M)
        return int(m.group(1)) if m else 1

    def wait_workers(self, exclude: Iterable[int] = (), timeout: float = 30.0) -> list[int]:
        """Wait until the master has forked all its workers (none of them in
        exclude); returns their pids."""
        exclude = set(exclude)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited:\n" + self.errors())
            now = set(self.worker_pids())
            if len(now) == self.workers and not (now & exclude):
                return sorted(now)
            time.sleep(0.05)
        raise TimeoutError(f"nginx workers not (re)started: {self.worker_pids()}\n"
                           + self.errors())

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.proc else []

    def errors(self) -> str:
        out = ""
        for p in (self.stderr_log, self.error_log):
            if p.exists():
                out += p.read_text(errors="replace")
        return out

    def access_lines(self, expect: int | None = None,
                     timeout: float = 60.0) -> list[str]:
        """The access log's complete lines. nginx logs a request after its
        response went out, so a client can be done before the line is
        written: with expect=N (the requests made so far), wait until N
        lines are there (the timeout only guards against a hang)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.access_log.read_text() if self.access_log.exists() else ""
            # A line still being appended has no newline yet.
            lines = [l for l in text.split("\n")[:-1] if l.strip()]
            if expect is None or len(lines) >= expect:
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError(f"access.log has {len(lines)} of {expect} "
                                   "lines:\n" + text)
            time.sleep(0.02)

    def access_pids(self, expect: int | None = None) -> list[int]:
        """Worker pid per logged request (see access_lines for expect)."""
        return [int(l.split()[0]) for l in self.access_lines(expect)]

    def access_entries(self, expect: int | None = None) -> list[tuple[int, int, bool]]:
        """(worker pid, connection number, full handshake?) per request."""
        out = []
        for l in self.access_lines(expect):
            f = l.split()
            if len(f) >= 3:
                out.append((int(f[0]), int(f[1]), f[2] != "r"))
        return out

    def full_handshakes(self, entries=None) -> int:
        """Connections that served a request after a full handshake."""
        entries = self.access_entries() if entries is None else entries
        return len({(p, c) for p, c, full in entries if full})

    def reload(self, timeout: float = 30.0) -> list[int]:
        """SIGHUP the master (nginx -s reload) and wait until the old
        workers are gone and new ones run; returns the new worker pids."""
        old = set(self.worker_pids()) | set(self.access_pids())
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_workers(exclude=old, timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid_tree(self.proc, signal.SIGTERM)
            self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def write_engine_cnf(path: os.PathLike | str, engine_so: os.PathLike | str | None = None,
                     include: os.PathLike | str | None = None) -> Path:
    """An openssl.cnf that loads AND initialises the optee ENGINE (init = 1,
    no default_algorithms). nginx's `ssl_certificate_key engine:optee:ID`
    calls ENGINE_by_id + ENGINE_load_private_key without ENGINE_init: the
    ENGINE must already be initialised, by this or by `ssl_engine optee;`."""
    engine_so = engine_so or (BUILD / "engines" / "optee.so")
    text = ""
    if include:
        text += f".include {include}\n"
    text += f"""openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
optee = optee_engine_section

[optee_engine_section]
dynamic_path = {engine_so}
init = 1
"""
    Path(path).write_text(text)
    return Path(path)


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------


def curl(url: str, cacert: os.PathLike | str, env: dict | None = None,
         extra: Sequence[str] = (), timeout: float = 60) -> subprocess.CompletedProcess:
    """curl -sS --fail; env defaults to client_env() (no provider)."""
    args = [CURL_BIN, "-sS", "--fail", "--cacert", str(cacert),
            "--max-time", "30", *extra, url]
    return subprocess.run(args, env=client_env() if env is None else env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def https_get(port: int, cafile: os.PathLike | str, path: str = "/",
              host: str = "localhost", certfile=None, keyfile=None,
              timeout: float = 30, context: ssl.SSLContext | None = None
              ) -> tuple[int, bytes, str]:
    """One HTTPS/1.1 request over a fresh connection (full handshake) with
    Python's ssl. Returns (status, body, tls_version)."""
    ctx = context
    if ctx is None:
        ctx = ssl.create_default_context(cafile=str(cafile))
        if certfile:
            ctx.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            version = s.version()
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                      f"Connection: close\r\n\r\n".encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body, version


# ---------------------------------------------------------------------------
# pytest fixtures shared by tests/test_tls_*.py (import them by name)
# ---------------------------------------------------------------------------


@dataclass
class Identity:
    """A TEE-held key with its certificate."""
    label: str
    key_type: str
    ref: Path       # PEM key reference ("OPTEE TLS KEY")
    cert: Path

    @property
    def uri(self) -> str:
        return f"optee:{self.label}"


def have_provider() -> bool:
    return (BUILD / "ossl-modules" / "optee.so").exists()


def have_engine() -> bool:
    return (BUILD / "engines" / "optee.so").exists()


# Reason prefix of a skip that CI accepts (tests/conftest.py turns every
# other skip into a failure when CI is set).
PLATFORM_LIMIT = "platform limit: "


def require_engine() -> None:
    """For ENGINE tests: return if the ENGINE is there; skip (a platform
    limit) if the build says this OpenSSL has no ENGINE API; fail if the
    build says the ENGINE should exist but it does not, or if there is no
    build fact at all (build/have-engine, written by make)."""
    import pytest as _pytest
    fact = BUILD / "have-engine"
    if not fact.exists():
        _pytest.fail(f"{fact} missing: run make first")
    said = fact.read_text().strip()
    if said == "no":
        _pytest.skip(PLATFORM_LIMIT + "this OpenSSL has no ENGINE API "
                     "(build/have-engine says no)")
    if said != "yes":
        _pytest.fail(f"{fact} says {said!r}, not yes or no")
    if not have_engine():
        _pytest.fail("the build says the ENGINE exists (build/have-engine: "
                     "yes) but build/engines/optee.so is missing")


def world_readable_tmpdir(prefix: str = "optee-tls-") -> Path:
    """A directory under /tmp that unprivileged nginx workers (nobody) can
    traverse: pytest's own tmp_path lives under a 0700 directory."""
    import tempfile
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, 0o755)
    return d


class KeyMaker:
    """Creates TEE keys + certificates on demand, once per (label)."""

    def __init__(self, sim, ca: DevCA, directory: Path):
        self.sim = sim
        self.ca = ca
        self.dir = directory
        self.ids: dict[str, Identity] = {}

    def get(self, key_type: str, label: str | None = None, client: bool = False,
            server: bool = True, cn: str = "localhost") -> Identity:
        label = label or f"tls-{key_type}"
        if label not in self.ids:
            d = self.dir / "keys"
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
            if have_provider():
                ref = tee_genkey(self.sim.env, label, key_type, d / f"{label}.ref.pem")
                csr = make_csr(self.sim.env, ref, d / f"{label}.csr", cn=cn)
            else:  # provider not built: libopteetls + the ENGINE
                ref = tee_genkey_lib(self.sim.env, label, key_type,
                                     d / f"{label}.ref.pem")
                csr = d / f"{label}.csr"
                run([OPENSSL_BIN, "req", "-new", "-engine", "optee", "-keyform",
                     "engine", "-key", label, "-subj", f"/CN={cn}", "-out", csr],
                    env=self.sim.env)
            cert = self.ca.issue(csr, d / f"{label}.pem", client=client,
                                 server=server)
            self.ids[label] = Identity(label, key_type, ref, cert)
        return self.ids[label]


try:
    import pytest
except ImportError:  # used as a plain script
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="module")
    def shared_dir():
        d = world_readable_tmpdir()
        yield d
        shutil.rmtree(d, ignore_errors=True)

    @pytest.fixture(scope="module")
    def tls_sim(shared_dir):
        """One simulator for a whole test module (keys are slow to make),
        in a directory nginx workers running as nobody can reach."""
        from conftest import Sim  # tests/conftest.py, loaded by pytest
        s = Sim(shared_dir / "sim")
        s.start()
        try:
            os.chmod(s.workdir, 0o755)
            yield s
        finally:
            s.stop()

    @pytest.fixture(scope="module")
    def dev_ca(shared_dir):
        return DevCA(shared_dir / "ca")

    @pytest.fixture(scope="module")
    def tee_keys(tls_sim, dev_ca, shared_dir):
        return KeyMaker(tls_sim, dev_ca, shared_dir)


# ---------------------------------------------------------------------------
# Command line (for scripts/demo.sh)
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tlsutil.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ca", help="create (or reuse) a dev CA in DIR")
    p.add_argument("dir")
    p = sub.add_parser("issue", help="issue a certificate for a CSR")
    p.add_argument("--ca", required=True)
    p.add_argument("--csr", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dns", action="append")
    p.add_argument("--ip", action="append")
    p.add_argument("--client", action="store_true", help="clientAuth too")
    p.add_argument("--days", type=int, default=30)
    p = sub.add_parser("nginx-conf", help="render tests/nginx/nginx.conf.in")
    p.add_argument("--prefix", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--html", default="hello from optee-tls\n")
    sub.add_parser("free-port")
    p = sub.add_parser("genkey", help="generate a TEE key via libopteetls")
    p.add_argument("--label", required=True)
    p.add_argument("--type", required=True, choices=sorted(KEY_TYPE_CODES))
    p.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "ca":
        ca = DevCA(a.dir)
        print(ca.cert_path)
    elif a.cmd == "issue":
        ca = DevCA(a.ca)
        print(ca.issue(a.csr, a.out, dns=a.dns or ["localhost"],
                       ips=a.ip or ["127.0.0.1"], client=a.client, days=a.days))
    elif a.cmd == "nginx-conf":
        print(render_nginx_conf(a.prefix, a.port, a.cert, a.key, workers=a.workers,
                                env_names=a.env, user=a.user, html=a.html))
    elif a.cmd == "free-port":
        print(free_port())
    elif a.cmd == "genkey":
        print(lib_genkey(a.label, a.type, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
