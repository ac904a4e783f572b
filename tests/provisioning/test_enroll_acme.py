"""The ACME backend against Debian's pebble (RFC 8555 test CA), run as a
subprocess on free loopback ports and stopped by PID.

pebble validates http-01 by fetching the key authorization from our own
responder (the backend's, on a loopback port): no "always valid" switch.
The Debian package ships no HTTPS certificate for pebble, so the tests
give it one from a throw-away CA, which is the backend's trust anchor.
"""
from __future__ import annotations

import json
import shutil
import socket
import ssl
import stat
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from enroll_helpers import server_process
from optee_tls.enroll import acme
from optee_tls.enroll.chain import spki
from optee_tls.errors import EnrollError, EnrollPending
from tlsutil import (
    OPENSSL_BIN,
    DevCA,
    free_port,
    run,
    tee_genkey,
    world_readable_tmpdir,
)

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"


@pytest.fixture(scope="module")
def acme_dir():
    d = world_readable_tmpdir("otls-acme-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pebble_tls(acme_dir):
    ca = DevCA(acme_dir / "pebble-tls-ca", name="test pebble HTTPS CA")
    key, cert = ca.issue_software(acme_dir / "pebble-tls", "pebble")
    return {"ca": ca, "key": key, "cert": cert}


class Pebble:
    def __init__(self, tls, directory: Path, eab: bool = False,
                 nonce_reject: int = 0):
        self.port, self.mgmt, self.http01, self.tls_port = (free_port() for _ in range(4))
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        cfg = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt}",
            "certificate": str(tls["cert"]), "privateKey": str(tls["key"]),
            "httpPort": self.http01, "tlsPort": self.tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": eab}}
        if eab:
            cfg["pebble"]["externalAccountMACKeys"] = {"kid-1": "c2VjcmV0LW1hYy1rZXk"}
        self.config = self.dir / "pebble.json"
        self.config.write_text(json.dumps(cfg))
        self.log = self.dir / "pebble.log"
        self.env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1",
                    "PEBBLE_WFE_NONCEREJECT": str(nonce_reject)}

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/dir"

    def root(self) -> Path:
        """pebble makes new roots at each start: fetch this run's."""
        ctx = ssl.create_default_context(cafile=str(self.tls["ca"].cert_path))
        with urllib.request.urlopen(f"https://localhost:{self.mgmt}/roots/0",
                                    context=ctx, timeout=30) as r:
            pem = r.read()
        path = self.dir / "pebble-root.pem"
        path.write_bytes(pem)
        return path

    def options(self, **over) -> dict:
        o = {"method": "acme", "directory": self.url,
             "trust_anchor": str(self.tls["ca"].cert_path), "agree_tos": True,
             "contact": ["mailto:ops@example.org"],
             "account_key_file": str(self.dir / "state" / "acme-account.pem"),
             "http01_port": self.http01, "http01_address": "127.0.0.1",
             "timeout": 30, "retry": {"deadline": 60, "initial": 0.2, "max": 5}}
        if "deadline" in over:
            o["retry"]["deadline"] = over.pop("deadline")
        o.update(over)
        return {k: v for k, v in o.items() if v is not None}

    def requests(self, what: str) -> int:
        return self.log.read_text().count(what)


@pytest.fixture
def pebble_factory(pebble_tls, tmp_path):
    stack = []

    def start(**kw) -> Pebble:
        p = Pebble(pebble_tls, tmp_path / f"pebble{len(stack)}", **kw)
        cm = server_process([PEBBLE, "-config", str(p.config)], p.log, p.port,
                            env=p.env)
        cm.__enter__()
        stack.append(cm)
        return p

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def tee(acme_dir):
    from conftest import Sim
    s = Sim(acme_dir / "sim")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def device(tee, acme_dir):
    """A TEE key and a CSR signed by it with DNS and IP SANs."""
    d = acme_dir / "device"
    d.mkdir()
    ref = tee_genkey(tee.env, "acme-device", "p256", d / "key.ref.pem")
    csr_path = d / "device.csr"
    run([OPENSSL_BIN, "req", "-new", "-provider", "optee", "-provider", "default",
         "-key", str(ref), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-out", str(csr_path)], env=tee.env)
    return {"ref": ref, "csr_path": csr_path,
            "csr": x509.load_pem_x509_csr(csr_path.read_bytes())}


def test_issuance_for_tee_key(pebble_factory, device):
    pb = pebble_factory()
    root = pb.root()
    chain = acme.Backend(pb.options(issuer_anchor_file=str(root)), "web").enroll(device["csr"])
    leaf = chain[0]
    assert spki(leaf.public_key()) == spki(device["csr"].public_key())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # leaf + pebble's intermediate, which the root signed
    assert len(chain) == 2 and "Pebble Intermediate" in chain[1].subject.rfc4514_string()
    leaf.verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(x509.load_pem_x509_certificate(root.read_bytes()))
    # pebble fetched the key authorizations from our responder (no shortcut)
    assert pb.requests("Attempting to validate w/ HTTP") >= 2
    key = Path(pb.options()["account_key_file"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_account_key_reused_across_runs(pebble_factory, device):
    pb = pebble_factory()
    opts = pb.options()
    acme.Backend(opts, "web").enroll(device["csr"])
    key = Path(opts["account_key_file"]).read_bytes()
    b = acme.Backend(opts, "web")
    chain = b.enroll(device["csr"])
    assert Path(opts["account_key_file"]).read_bytes() == key
    assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
    assert b.account.kid and "/my-account/" in b.account.kid


def test_default_account_key_in_state_dir(pebble_factory, device, tmp_path):
    pb = pebble_factory()
    b = acme.Backend(pb.options(account_key_file=None), "web", state_dir=tmp_path / "state")
    b.enroll(device["csr"])
    keys = list((tmp_path / "state" / "acme").glob("account-*.pem"))
    assert keys == [b.account_key]
    opts = {**pb.options(account_key_file=None), "state_dir": str(tmp_path / "state")}
    assert acme.Backend(opts, "web").account_key == b.account_key


def test_wrong_issuer_anchor(pebble_factory, device, pebble_tls):
    pb = pebble_factory()
    opts = pb.options(issuer_anchor_file=str(pebble_tls["ca"].cert_path))
    with pytest.raises(EnrollError, match="does not lead to the configured trust anchor"):
        acme.Backend(opts, "web").enroll(device["csr"])


def test_bad_directory_url(pebble_factory, device):
    pb = pebble_factory()
    with pytest.raises(EnrollError, match="directory .*: HTTP 404"):
        acme.Backend(pb.options(directory=pb.url + "-nope"), "web").enroll(device["csr"])


def test_not_an_acme_directory(pebble_factory, device):
    pb = pebble_factory()
    url = f"https://localhost:{pb.mgmt}/roots/0"      # PEM, not a directory
    with pytest.raises(EnrollError, match="not JSON"):
        acme.Backend(pb.options(directory=url), "web").enroll(device["csr"])


def test_unreachable(device, pebble_tls, tmp_path):
    pb = Pebble(pebble_tls, tmp_path / "never-started")
    with pytest.raises(EnrollError, match=r"giving up after \d+ attempt.*refused"):
        acme.Backend(pb.options(deadline=0.5), "web").enroll(device["csr"])


def test_server_not_certified_by_trust_anchor(pebble_factory, device, tmp_path):
    pb = pebble_factory()
    other = DevCA(tmp_path / "other-ca")
    with pytest.raises(EnrollError, match="does not verify against"):
        acme.Backend(pb.options(trust_anchor=str(other.cert_path)), "web").enroll(
            device["csr"])


def test_terms_not_agreed(pebble_factory, device):
    pb = pebble_factory()
    with pytest.raises(EnrollError, match="newAccount refused, HTTP 403: "
                                          "agreementRequired.*agree_tos"):
        acme.Backend(pb.options(agree_tos=False), "web").enroll(device["csr"])


def test_external_account_required(pebble_factory, device):
    pb = pebble_factory(eab=True)
    with pytest.raises(EnrollError, match="newAccount refused.*externalAccountRequired"):
        acme.Backend(pb.options(), "web").enroll(device["csr"])


def test_challenge_fails_when_pebble_cannot_reach_responder(pebble_factory, device):
    pb = pebble_factory()
    elsewhere = free_port()        # our responder listens where pebble does not look
    with pytest.raises(EnrollError, match="ACME authorization is invalid: .*"
                                          "(refused|Connection)"):
        acme.Backend(pb.options(http01_port=elsewhere), "web").enroll(device["csr"])


def test_validation_in_progress_at_deadline_is_pending(pebble_factory, device):
    pb = pebble_factory()
    # Where pebble looks, a socket that accepts (kernel backlog) and never
    # answers: the authorization stays "pending" while pebble waits for it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", pb.http01))
        s.listen()
        opts = pb.options(http01_port=free_port(), deadline=0)
        with pytest.raises(EnrollPending, match="authorization still pending") as e:
            acme.Backend(opts, "web").enroll(device["csr"])
    assert e.value.retry_after > 0


def test_responder_port_busy(pebble_factory, device):
    pb = pebble_factory()
    with socket.socket() as s:
        s.bind(("127.0.0.1", pb.http01))
        s.listen()
        with pytest.raises(EnrollError, match="cannot listen for the ACME http-01"):
            acme.Backend(pb.options(), "web").enroll(device["csr"])


def test_nonces_always_rejected(pebble_factory, device):
    pb = pebble_factory(nonce_reject=100)
    with pytest.raises(EnrollError, match="rejected 5 nonces in a row"):
        acme.Backend(pb.options(), "web").enroll(device["csr"])


def test_csr_without_names_refused_before_contact(device, tee, tmp_path, pebble_tls):
    csr_path = tmp_path / "noname.csr"
    run([OPENSSL_BIN, "req", "-new", "-provider", "optee", "-provider", "default",
         "-key", str(device["ref"]), "-subj", "/O=nobody", "-out", str(csr_path)],
        env=tee.env)
    pb = Pebble(pebble_tls, tmp_path / "never-started")
    with pytest.raises(EnrollError, match="names no DNS name or IP address"):
        acme.Backend(pb.options(), "web").enroll(
            x509.load_pem_x509_csr(csr_path.read_bytes()))


def test_account_key_problems(pebble_tls, device, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    pb = Pebble(pebble_tls, tmp_path / "never-started")    # refused before contact
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for path, message in [(garbage, "is unreadable.*move it away"),
                          (rsa_key, "is not a P-256 key"),
                          (blocker / "account.pem", "cannot store the ACME account key")]:
        b = acme.Backend(pb.options(account_key_file=str(path)), "web")
        with pytest.raises(EnrollError, match=message):
            b.account = acme.Account(b.account_key)


NGINX_HTTP01 = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {webroot};
    }}
}}
"""


def test_http01_through_webroot_served_by_nginx(pebble_factory, device, acme_dir):
    """Renewal while nginx holds port 80: the challenge files go into its
    webroot, nginx (master + worker as nobody) serves them to pebble."""
    from tlsutil import Nginx, world_readable_tmpdir
    pb = pebble_factory()
    prefix = world_readable_tmpdir("otls-acme-nginx-")
    webroot = prefix / "www"
    webroot.mkdir(mode=0o755)
    (prefix / "tmp").mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_HTTP01.format(prefix=prefix, port=pb.http01, webroot=webroot))
    try:
        with Nginx(prefix, conf, pb.http01, env={"PATH": "/usr/sbin:/usr/bin:/bin"}) as ngx:
            ngx.start()
            opts = pb.options(http01_port=None, http01_address=None,
                              http01_webroot_dir=str(webroot))
            chain = acme.Backend(opts, "web").enroll(device["csr"])
        access = (prefix / "access.log").read_text()    # nginx has stopped
        assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
        assert access.count("GET /.well-known/acme-challenge/") >= 2
        assert '" 200 ' in access
        assert list((webroot / ".well-known" / "acme-challenge").iterdir()) == []
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def test_http01_webroot_missing(pebble_factory, device, tmp_path):
    pb = pebble_factory()
    opts = pb.options(http01_webroot_dir=str(tmp_path / "no-such-dir"))
    with pytest.raises(EnrollError, match="http01_webroot_dir .* is not a directory"):
        acme.Backend(opts, "web").enroll(device["csr"])
