"""`optee-tls provision`, install-cert, renew, status through the CLI,
against the simulator, with the local-ca and command backends."""
from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import EXAMPLES, cli  # noqa: F401

HERE = Path(__file__).resolve().parent
TLSUTIL = HERE.parent / "tlsutil.py"
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def make_ca(d: Path) -> Path:
    subprocess.run([sys.executable, str(TLSUTIL), "ca", str(d)], check=True,
                   capture_output=True)
    return d


def write_config(tmp: Path, method: str = "local-ca", extra: str = "",
                 hooks: str = "", label: str = "prov-web") -> Path:
    ca = tmp / "ca"
    if not (ca / "ca.pem").exists():
        make_ca(ca)
    enroll = {
        "local-ca": f"{{method: local-ca, ca_cert: {ca}/ca.pem, ca_key: {ca}/ca.key, days: 20}}",
        "none": "{method: none}",
        "command": f"{{method: command, argv: [{sys.executable}, {HERE}/fake_ca_cmd.py], "
                   f"timeout: 5, env: {{FAKE_CA_DIR: {ca}}}, "
                   "retry: {deadline: 2, initial: 0.1, max: 0.2}}",
    }[method]
    text = textwrap.dedent(f"""\
        version: 1
        state_dir: state
        identities:
          - name: web
            key: {{label: {label}, type: ec, bits: 256}}
            csr:
              subject: {{CN: "{{{{ facts.hostname }}}}"}}
              san: {{dns: ["{{{{ facts.hostname }}}}"], ip: ["127.0.0.1"]}}
              extended_key_usage: [server_auth]
            outputs:
              key: {{path: out/web.key.pem, mode: "0640"}}
              cert: {{path: out/web.crt, mode: "0644"}}
              fullchain: {{path: out/web.fullchain.pem}}
              csr: {{path: out/web.csr}}
            trust_anchor: {ca}/ca.pem
            renew: {{before_expiry_days: 10}}
            enroll: {enroll}
        """)
    if hooks:
        text += f"    hooks: {hooks}\n"
    text += extra
    p = tmp / "provision.yaml"
    p.write_text(text)
    return p


def run(sim, cfg, *args, env=None, **kw):
    e = {"OPTEE_TLS_ALLOW_LOCAL_CA": "1"}
    e.update(env or {})
    return cli(sim, "--config", cfg, "--root", EXAMPLES / "roots" / "rpi", *args, env=e, **kw)


def keys_in_tee(sim) -> list[str]:
    r = cli(sim, "key", "list", "--json", check=True)
    return [k["label"] for k in json.loads(r.stdout)]


def assert_installed(sim, tmp: Path, label: str = "prov-web"):
    out = tmp / "out"
    cert = x509.load_pem_x509_certificate((out / "web.crt").read_bytes())
    r = cli(sim, "key", "pubkey", label, check=True)
    pub = serialization.load_pem_public_key(r.stdout.encode())
    assert cert.public_key().public_bytes(serialization.Encoding.DER, SPKI) == \
        pub.public_bytes(serialization.Encoding.DER, SPKI)
    assert stat.S_IMODE((out / "web.key.pem").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "web.crt").stat().st_mode) == 0o644
    assert b"OPTEE TLS KEY" in (out / "web.key.pem").read_bytes()
    assert (out / "web.fullchain.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    return cert


def test_provision_local_ca_then_nothing_to_do(sim, tmp_path):
    cfg = write_config(tmp_path)
    r = run(sim, cfg, "provision")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "generating EC P-256 key 'prov-web'" in r.stdout and "provisioned" in r.stdout
    cert = assert_installed(sim, tmp_path)
    assert cert.subject.rfc4514_string() == "CN=rpi-a1b2c3d4"
    assert (tmp_path / "state" / "provisioned").exists()
    r = run(sim, cfg, "provision")
    assert r.returncode == 0 and "already provisioned" in r.stdout
    assert keys_in_tee(sim) == ["prov-web"]
    st = json.loads(run(sim, cfg, "status", "--json").stdout)[0]
    assert st["done"] and st["certificate"]["matches_key"] and st["key"] == "EC P-256"
    assert st["certificate"]["sans"] == ["rpi-a1b2c3d4", "127.0.0.1"]
    assert "expires:" in run(sim, cfg, "status").stdout


def test_local_ca_refused_unless_enabled(sim, tmp_path):
    cfg = write_config(tmp_path)
    r = run(sim, cfg, "provision", env={"OPTEE_TLS_ALLOW_LOCAL_CA": "0"})
    assert r.returncode == 4
    assert "refused unless OPTEE_TLS_ALLOW_LOCAL_CA=1" in r.stderr
    assert not (tmp_path / "out" / "web.crt").exists()


def test_none_waits_then_install_cert(sim, tmp_path):
    cfg = write_config(tmp_path, "none")
    r = run(sim, cfg, "provision")
    assert r.returncode == 75 and "install-cert web" in r.stdout
    csr_pem = (tmp_path / "out" / "web.csr").read_bytes()
    assert not (tmp_path / "out" / "web.crt").exists()
    # A certificate for another key is refused; nothing installed.
    env = dict(os.environ, FAKE_CA_DIR=str(tmp_path / "ca"))
    bad = subprocess.run([sys.executable, str(HERE / "fake_ca_cmd.py")], input=csr_pem,
                         capture_output=True, env=dict(env, FAKE_CA_MODE="wrong-key"),
                         check=True).stdout
    (tmp_path / "bad.pem").write_bytes(bad)
    r = run(sim, cfg, "install-cert", "web", tmp_path / "bad.pem")
    assert r.returncode == 6 and "public key mismatch" in r.stderr
    expired = subprocess.run([sys.executable, str(HERE / "fake_ca_cmd.py")], input=csr_pem,
                             capture_output=True, env=dict(env, FAKE_CA_MODE="expired"),
                             check=True).stdout
    r = run(sim, cfg, "install-cert", "web", "-", input=expired.decode())
    assert r.returncode == 6 and "expired" in r.stderr
    r = run(sim, cfg, "install-cert", "web", "-", input="garbage")
    assert r.returncode == 6
    assert not (tmp_path / "out" / "web.crt").exists()
    good = subprocess.run([sys.executable, str(HERE / "fake_ca_cmd.py")], input=csr_pem,
                          capture_output=True, env=env, check=True).stdout
    r = run(sim, cfg, "install-cert", "web", "-", input=good.decode())
    assert r.returncode == 0, r.stderr
    assert_installed(sim, tmp_path)
    assert (tmp_path / "state" / "provisioned").exists()


@pytest.mark.parametrize("mode,code,msg", [
    ("fail", 4, "exited with status 3: CA says no"),
    ("malformed", 4, "not PEM certificates"),
    ("wrong-key", 4, "another public key than the CSR's"),
    ("expired", 4, "expired on"),
    ("wrong-chain", 4, "does not lead to the configured trust anchor"),
    ("pending", 75, "not issued yet"),
    ("hang", 4, "no answer within 5 s"),
])
def test_command_backend_bad_replies_install_nothing(sim, tmp_path, mode, code, msg):
    cfg = write_config(tmp_path, "command")
    r = run(sim, cfg, "provision", env={"FAKE_CA_MODE": mode})
    assert r.returncode == code, r.stdout + r.stderr
    assert msg in r.stdout + r.stderr
    assert not (tmp_path / "out" / "web.crt").exists()
    st = json.loads(run(sim, cfg, "status", "--json").stdout)[0]
    assert not st["done"] and msg.split(":")[0] in st["last_error"]
    # The CA comes good: the rerun finishes with the same key.
    r = run(sim, cfg, "provision", env={"FAKE_CA_MODE": "good"})
    assert r.returncode == 0, r.stderr
    assert_installed(sim, tmp_path)
    assert keys_in_tee(sim) == ["prov-web"]


def test_unrecorded_key_is_not_adopted(sim, tmp_path):
    cli(sim, "key", "create", "prov-web", check=True)
    cfg = write_config(tmp_path)
    r = run(sim, cfg, "provision")
    assert r.returncode == 5
    assert "no record of creating it" in r.stderr and "optee-tls key delete prov-web" in r.stderr
    # Its reference installed where the config says: adopted.
    (tmp_path / "out").mkdir()
    ref = cli(sim, "key", "pubkey", "--reference", "prov-web", check=True).stdout
    (tmp_path / "out" / "web.key.pem").write_text(ref)
    r = run(sim, cfg, "provision")
    assert r.returncode == 0 and "adopting key 'prov-web'" in r.stdout, r.stderr
    assert_installed(sim, tmp_path)


def test_replaced_key_is_an_error(sim, tmp_path):
    cfg = write_config(tmp_path)
    assert run(sim, cfg, "provision").returncode == 0
    (tmp_path / "state" / "web.done").unlink()
    cli(sim, "key", "delete", "--yes", "prov-web", check=True)
    cli(sim, "key", "create", "prov-web", check=True)
    r = run(sim, cfg, "provision")
    assert r.returncode == 5 and "not the recorded one" in r.stderr


def test_config_error_exit_code(sim, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("identities: []\n")
    r = cli(sim, "--config", p, "provision")
    assert r.returncode == 2 and f"{p}:1: identities: needs at least 1" in r.stderr


def test_key_commands(sim, tmp_path):
    r = cli(sim, "key", "create", "k1", "--type", "rsa", "--bits", "2048",
            "--allow", "rsa-pss", "--out", tmp_path / "k1.pem")
    assert r.returncode == 0 and (tmp_path / "k1.pem").exists()
    show = json.loads(cli(sim, "key", "show", "k1", "--json", check=True).stdout)
    assert show["type"] == "RSA-2048" and show["allowed"] == ["rsa-pss"]
    r = cli(sim, "key", "delete", "k1", stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "--yes" in r.stderr
    assert cli(sim, "key", "delete", "k1", "--yes").returncode == 0
    r = cli(sim, "key", "show", "k1")
    assert r.returncode == 3 and "key not found in the TEE" in r.stderr
    r = cli(sim, "info")
    assert r.returncode == 0 and "optee-tls TA 0.1.0" in r.stdout
    r = cli(sim, "--root", EXAMPLES / "roots" / "pc", "--config", tmp_path / "none", "facts")
    assert json.loads(r.stdout)["serial"] == "EGW300-00042"


def _complete_run(sim, cfg, env=None):
    r = run(sim, cfg, "provision", env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sigkill_at_every_checkpoint_then_rerun(sim_factory, tmp_path):
    """Power loss at each step (and inside each atomic write): the rerun
    finishes with exactly one key, the certificate for it, complete files."""
    n = 1
    while True:
        sim = sim_factory(f"s{n}")
        work = tmp_path / f"run{n}"
        work.mkdir()
        cfg = write_config(work)
        r = run(sim, cfg, "provision", env={"OPTEE_TLS_CRASH_AT": str(n)})
        if r.returncode == 0:
            break
        assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
        _complete_run(sim, cfg)
        assert keys_in_tee(sim) == ["prov-web"]
        assert_installed(sim, work)
        sim.stop()
        n += 1
    assert n > 10   # the flow has that many checkpoints at least


def test_sigkill_at_random_points_many_times(sim, tmp_path):
    cfg = write_config(tmp_path, "command",
                       hooks=f"[[{sys.executable}, -c, 'import time; time.sleep(0.05)']]")
    rng = random.Random(int(os.environ.get("OTLS_SEED", "6")))
    env = dict(sim.env, OPTEE_TLS_ALLOW_LOCAL_CA="1", FAKE_CA_MODE="good",
               PYTHONPATH=str(HERE.parents[1] / "provisioning" / "src"))
    for _ in range(12):
        p = subprocess.Popen([sys.executable, "-m", "optee_tls", "--config", str(cfg),
                              "--root", str(EXAMPLES / "roots" / "rpi"), "provision"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=rng.uniform(0.05, 0.8))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
        if p.returncode == 0:
            # Start over from nothing to crash it again.
            for f in (tmp_path / "state").iterdir():
                f.unlink()
            cli(sim, "key", "delete", "--yes", "prov-web", check=True)
    _complete_run(sim, cfg)
    assert keys_in_tee(sim) == ["prov-web"]
    assert_installed(sim, tmp_path)


def test_failed_renewal_keeps_old_certificate_and_key(sim, tmp_path):
    cfg = write_config(tmp_path, "command")
    _complete_run(sim, cfg, {"FAKE_CA_MODE": "good"})
    before = (tmp_path / "out" / "web.crt").read_bytes()
    ref = (tmp_path / "out" / "web.key.pem").read_bytes()
    r = run(sim, cfg, "renew", "--force", "--rotate", env={"FAKE_CA_MODE": "wrong-chain"})
    assert r.returncode == 4
    assert (tmp_path / "out" / "web.crt").read_bytes() == before
    assert (tmp_path / "out" / "web.key.pem").read_bytes() == ref
    assert "prov-web" in keys_in_tee(sim)
    # The rerun resumes the same rotation (same new key) and finishes it.
    r = run(sim, cfg, "renew", "--force", "--rotate", env={"FAKE_CA_MODE": "good"})
    assert r.returncode == 0, r.stderr
    assert keys_in_tee(sim) == ["prov-web.r1"]
    assert_installed(sim, tmp_path, "prov-web.r1")
    r = run(sim, cfg, "renew")
    assert r.returncode == 0 and "not reached" in r.stdout
