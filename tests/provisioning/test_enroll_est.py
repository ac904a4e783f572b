"""The EST backend against tests/provisioning/est_server.py (stdlib HTTPS +
cryptography, run as a subprocess on a free loopback port, stopped by PID).

The CSRs are signed by keys in the simulated TEE; re-enrollment
authenticates over TLS with the TEE key through the optee provider.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from enroll_helpers import run_backend_child, server_process
from optee_tls.enroll import est
from optee_tls.enroll.chain import spki
from optee_tls.errors import EnrollError, EnrollPending
from tlsutil import DevCA, free_port, make_csr, tee_genkey, world_readable_tmpdir

EST_SERVER = Path(__file__).resolve().parent / "est_server.py"
TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


@pytest.fixture(scope="module")
def est_dir():
    d = world_readable_tmpdir("otls-est-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def est_pki(est_dir):
    """The EST CA (signs device certificates, verifies client certs) and
    the server's TLS certificate from a separate TLS CA."""
    ca = DevCA(est_dir / "est-ca", name="test EST issuing CA")
    tls_ca = DevCA(est_dir / "tls-ca", name="test EST TLS CA")
    key, cert = tls_ca.issue_software(est_dir / "server", "est-server")
    pw = est_dir / "password"
    fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("s3cret-enrollment\n")
    return {"ca": ca, "tls_ca": tls_ca, "tls_key": key, "tls_cert": cert,
            "password": pw, "dir": est_dir}


@pytest.fixture(scope="module")
def tee(est_dir):
    """One simulated TEE for the module (key generation is slow)."""
    from conftest import Sim
    s = Sim(est_dir / "sim")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def device(tee, est_dir):
    """A P-256 key in the TEE and a CSR signed by it (through the provider)."""
    d = est_dir / "device"
    d.mkdir()
    ref = tee_genkey(tee.env, "est-device", "p256", d / "key.ref.pem")
    csr_path = make_csr(tee.env, ref, d / "device.csr", cn="device-0001")
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    return {"ref": ref, "csr_path": csr_path, "csr": csr, "dir": d}


class EST:
    def __init__(self, pki, tmp: Path, mode: str = "ok", pending: int = 0,
                 label: str | None = None):
        self.port = free_port()
        self.log = tmp / f"est-{self.port}.jsonl"
        self.stdout = tmp / f"est-{self.port}.out"
        self.args = [sys.executable, str(EST_SERVER), "--port", str(self.port),
                     "--tls-cert", str(pki["tls_cert"]), "--tls-key", str(pki["tls_key"]),
                     "--ca", str(pki["ca"].dir), "--user", "device",
                     "--password-file", str(pki["password"]), "--mode", mode,
                     "--pending", str(pending), "--log", str(self.log)]
        if label:
            self.args += ["--label", label]
        self.pki = pki

    def options(self, **over) -> dict:
        o = {"method": "est", "url": f"https://localhost:{self.port}",
             "trust_anchor": str(self.pki["tls_ca"].cert_path),
             "issuer_anchor_file": str(self.pki["ca"].cert_path),
             "username": "device", "password_file": str(self.pki["password"]),
             "timeout": 10, "retry": {"deadline": 30, "initial": 0.2, "max": 5}}
        if "deadline" in over:
            o["retry"]["deadline"] = over.pop("deadline")
        o.update(over)
        return {k: v for k, v in o.items() if v is not None}

    def requests(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def est_server(est_pki, tmp_path):
    """est_server(mode=..., pending=...) -> running EST (stopped at teardown)."""
    stack = []

    def start(**kw) -> EST:
        s = EST(est_pki, tmp_path, **kw)
        cm = server_process(s.args, s.stdout, s.port)
        cm.__enter__()
        stack.append(cm)
        return s

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def enrolled(server: EST, device) -> list[x509.Certificate]:
    return est.Backend(server.options(), "web").enroll(device["csr"])


def test_simpleenroll_issues_chain_for_tee_key(est_server, device, est_pki):
    s = est_server()
    chain = enrolled(s, device)
    assert len(chain) == 1     # the issuing CA is the anchor: not installed
    leaf = chain[0]
    assert spki(leaf.public_key()) == spki(device["csr"].public_key())
    assert leaf.issuer == est_pki["ca"].cert.subject
    leaf.verify_directly_issued_by(est_pki["ca"].cert)
    reqs = s.requests()
    assert [(r["method"], r["path"].rsplit("/", 1)[1], r["status"]) for r in reqs] == \
        [("GET", "cacerts", 200), ("POST", "simpleenroll", 200)]
    assert reqs[1]["user"] == "device" and "client_sha256" not in reqs[1]


def test_label_selects_ca_path(est_server, device):
    s = est_server(label="tls-servers")
    chain = est.Backend(s.options(label="tls-servers"), "web").enroll(device["csr"])
    assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
    assert s.requests()[-1]["path"] == "/.well-known/est/tls-servers/simpleenroll"
    with pytest.raises(EnrollError, match="cacerts.*HTTP 404"):
        enrolled(s, device)


def test_pending_then_issued(est_server, device):
    s = est_server(pending=2)
    chain = enrolled(s, device)
    assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
    assert [r["status"] for r in s.requests() if r["method"] == "POST"] == [202, 202, 200]


def test_pending_past_deadline_raises_enroll_pending(est_server, device):
    s = est_server(pending=5)
    with pytest.raises(EnrollPending, match="not issued yet") as e:
        est.Backend(s.options(deadline=0), "web").enroll(device["csr"])
    assert e.value.retry_after == 1
    assert [r["status"] for r in s.requests() if r["method"] == "POST"] == [202]


def test_wrong_password_refused(est_server, device, tmp_path):
    s = est_server()
    bad = tmp_path / "bad-password"
    bad.write_text("guess\n")
    bad.chmod(0o600)
    with pytest.raises(EnrollError, match="authentication refused, HTTP 401"):
        est.Backend(s.options(password_file=str(bad)), "web").enroll(device["csr"])


def test_no_credentials_refused(est_server, device):
    s = est_server()
    with pytest.raises(EnrollError, match="HTTP 401.*username/password_file"):
        est.Backend(s.options(username=None, password_file=None), "web").enroll(
            device["csr"])


def test_world_readable_password_file_refused_before_contact(est_server, device,
                                                             tmp_path, est_pki):
    s = est_server()
    loose = tmp_path / "loose-password"
    loose.write_text(est_pki["password"].read_text())
    loose.chmod(0o644)
    with pytest.raises(EnrollError, match="readable by every user"):
        est.Backend(s.options(password_file=str(loose)), "web").enroll(device["csr"])
    assert not any(r["method"] == "POST" for r in s.requests())


def test_password_from_systemd_credential(est_server, device, est_pki, tmp_path,
                                          monkeypatch):
    s = est_server()
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    shutil.copy(est_pki["password"], creds / "est-password")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    opts = s.options(password_file=None, password_credential="est-password")
    chain = est.Backend(opts, "web").enroll(device["csr"])
    assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(EnrollError, match="CREDENTIALS_DIRECTORY is not set"):
        est.Backend(opts, "web").enroll(device["csr"])


@pytest.mark.parametrize("mode,message", [
    ("malformed", "reply is not base64"),
    ("html", "expected application/pkcs7-mime, got text/html"),
    ("wrong-chain", "does not lead to the configured trust anchor"),
    ("expired", "expired on"),
    ("mismatched", "another public key than the CSR's"),
    ("reject", "HTTP 400: policy: subject not allowed"),
    ("unavailable", r"giving up after \d+ attempt.*HTTP 503"),
])
def test_bad_replies_give_clear_errors(est_server, device, mode, message):
    s = est_server(mode=mode)
    with pytest.raises(EnrollError, match=message):
        est.Backend(s.options(deadline=2), "web").enroll(device["csr"])


def test_server_that_never_answers_times_out(est_server, device):
    s = est_server(mode="hang")
    with pytest.raises(EnrollError, match="giving up after 1 attempt.*timed out"):
        est.Backend(s.options(timeout=1, deadline=0), "web").enroll(device["csr"])


def test_unreachable_server(device, est_pki, tmp_path):
    s = EST(est_pki, tmp_path)      # never started: nothing listens there
    with pytest.raises(EnrollError, match=r"giving up after \d+ attempt.*refused"):
        est.Backend(s.options(deadline=0.5), "web").enroll(device["csr"])


def test_server_not_certified_by_trust_anchor(est_server, device, est_pki):
    s = est_server()
    # The issuing CA did not certify the server's TLS certificate.
    opts = s.options(trust_anchor=str(est_pki["ca"].cert_path))
    with pytest.raises(EnrollError, match="does not verify against"):
        est.Backend(opts, "web").enroll(device["csr"])
    assert s.requests() == []


def test_through_proxy_from_environment(est_server, device, monkeypatch, tmp_path):
    """https_proxy is honoured: the request goes through a real CONNECT
    proxy (Debian's tinyproxy); no_proxy bypasses it."""
    s = est_server()
    port = free_port()
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f"Port {port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\n"
                    f'LogFile "{log}"\nAllow 127.0.0.1\nMaxClients 10\n')
    with server_process([TINYPROXY, "-d", "-c", str(conf)], tmp_path / "tp.out", port):
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        chain = enrolled(s, device)
        assert spki(chain[0].public_key()) == spki(device["csr"].public_key())
        tunnels = f"CONNECT localhost:{s.port}"
        assert log.read_text().count(tunnels) == 2       # cacerts + simpleenroll
        monkeypatch.setenv("no_proxy", "localhost")
        assert enrolled(s, device)
        assert log.read_text().count(tunnels) == 2


def test_unreachable_proxy(est_server, device, monkeypatch):
    s = est_server()
    dead = free_port()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{dead}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(EnrollError, match="giving up"):
        est.Backend(s.options(deadline=0), "web").enroll(device["csr"])
    assert s.requests() == []        # went to the (dead) proxy, not the server


# ---- re-enrollment: TLS client auth with the TEE key --------------------------


def _first_cert(s: EST, device, path: Path) -> Path:
    chain = enrolled(s, device)
    path.write_bytes(chain[0].public_bytes(serialization.Encoding.PEM))
    return path


def test_simplereenroll_authenticates_with_tee_key(est_server, device, tee, tmp_path):
    s = est_server()
    current = _first_cert(s, device, tmp_path / "current.pem")
    before = current.read_bytes()
    out = tmp_path / "renewed.pem"
    p = run_backend_child(tee.env, "est", s.options(), device["csr_path"], out,
                          current=(current, device["ref"]))
    assert p.returncode == 0, p.stderr
    renewed = x509.load_pem_x509_certificates(out.read_bytes())[0]
    assert spki(renewed.public_key()) == spki(device["csr"].public_key())
    assert renewed.serial_number != x509.load_pem_x509_certificate(before).serial_number
    last = s.requests()[-1]
    assert last["path"].endswith("/simplereenroll") and last["status"] == 200
    # The server saw the current certificate in the TLS handshake: the TEE
    # key proved possession through the optee provider.
    der = x509.load_pem_x509_certificate(before).public_bytes(serialization.Encoding.DER)
    assert last["client_sha256"] == hashlib.sha256(der).hexdigest()
    assert "user" not in last                       # no basic auth on renewal


def test_simplereenroll_without_provider_says_why(est_server, device, tee, tmp_path):
    s = est_server()
    current = _first_cert(s, device, tmp_path / "current.pem")
    env = dict(tee.env)
    env.pop("OPENSSL_CONF", None)   # the TEE key reference cannot be loaded
    p = run_backend_child(env, "est", s.options(), device["csr_path"],
                          tmp_path / "out.pem", current=(current, device["ref"]))
    assert p.returncode == 2, p.stderr
    assert "cannot load client certificate" in p.stderr
    assert "optee provider" in p.stderr
    assert not (tmp_path / "out.pem").exists()
    assert not any(r["path"].endswith("simplereenroll") for r in s.requests())


def test_simplereenroll_subject_change_refused(est_server, device, tee, tmp_path):
    s = est_server()
    current = _first_cert(s, device, tmp_path / "current.pem")
    other_csr = make_csr(tee.env, device["ref"], tmp_path / "other.csr",
                         cn="someone-else")
    p = run_backend_child(tee.env, "est", s.options(), other_csr,
                          tmp_path / "out.pem", current=(current, device["ref"]))
    assert p.returncode == 2
    assert "authentication refused, HTTP 403" in p.stderr
    assert "refused the current certificate" in p.stderr
    assert not (tmp_path / "out.pem").exists()


def test_simplereenroll_expired_reply_keeps_nothing(est_server, device, tee,
                                                    tmp_path):
    ok = est_server()
    current = _first_cert(ok, device, tmp_path / "current.pem")
    s = est_server(mode="expired")
    p = run_backend_child(tee.env, "est", s.options(), device["csr_path"],
                          tmp_path / "out.pem", current=(current, device["ref"]))
    assert p.returncode == 2 and "expired on" in p.stderr
    assert not (tmp_path / "out.pem").exists()
    assert s.requests()[-1]["path"].endswith("/simplereenroll")


def test_password_options_checked(est_pki):
    base = {"url": "https://localhost:1", "trust_anchor": str(est_pki["tls_ca"].cert_path)}
    with pytest.raises(EnrollError, match="exclude each other"):
        est.Backend({**base, "username": "u", "password_file": "/x",
                     "password_credential": "y"}, "web")
    with pytest.raises(EnrollError, match="password_file given without username"):
        est.Backend({**base, "password_file": "/x"}, "web")


def test_retry_policy_passed_separately(est_server, device):
    s = est_server(pending=5)
    opts = s.options()
    del opts["retry"]
    with pytest.raises(EnrollPending):
        est.Backend(opts, "web", retry={"deadline": 0}).enroll(device["csr"])


def test_simplereenroll_for_a_rotated_key(est_server, device, tee, tmp_path):
    """Rotation: the CSR is signed by a new TEE key (RSA here) while TLS
    client auth still uses the old key and certificate."""
    s = est_server()
    current = _first_cert(s, device, tmp_path / "current.pem")
    new_ref = tee_genkey(tee.env, "est-device-next", "rsa2048", tmp_path / "next.ref.pem")
    new_csr = make_csr(tee.env, new_ref, tmp_path / "next.csr", cn="device-0001")
    out = tmp_path / "rotated.pem"
    p = run_backend_child(tee.env, "est", s.options(), new_csr, out,
                          current=(current, device["ref"]))
    assert p.returncode == 0, p.stderr
    leaf = x509.load_pem_x509_certificates(out.read_bytes())[0]
    want = x509.load_pem_x509_csr(new_csr.read_bytes()).public_key()
    assert spki(leaf.public_key()) == spki(want)
    assert spki(leaf.public_key()) != spki(device["csr"].public_key())
    der = x509.load_pem_x509_certificate(current.read_bytes()).public_bytes(
        serialization.Encoding.DER)
    last = s.requests()[-1]
    assert last["path"].endswith("/simplereenroll")
    assert last["client_sha256"] == hashlib.sha256(der).hexdigest()
