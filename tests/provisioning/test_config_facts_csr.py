"""Config validation, device facts from fake trees, templates and the CSR."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from optee_tls import config, csr, facts, keys

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ROOT / "provisioning" / "examples" / "roots"

BASE = """\
version: 1
state_dir: state
identities:
  - name: web
    key: {type: ec, bits: 384}
    csr:
      subject: {CN: "{{ facts.hostname }}", O: "{{ vars.org }}"}
      san:
        dns: ["{{ facts.hostname }}.local", "{{ identity }}.example.test"]
        ip: ["192.0.2.7", "2001:db8::7"]
        uri: ["urn:dev:mac:{{ facts.mac | replace(':', '') }}"]
      key_usage: [digital_signature]
      extended_key_usage: [server_auth, client_auth, "1.3.6.1.5.5.7.3.17"]
      extensions: [{oid: "1.3.6.1.4.1.55555.1", utf8: "{{ facts.serial }}"}]
    outputs:
      key: {path: out/web.key.pem}
      cert: {path: out/web.crt, mode: "0640"}
    enroll: {method: none}
vars: {org: Example}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "provision.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def problems(tmp_path, text):
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, text))
    return str(e.value)


def test_valid_config_and_defaults(tmp_path):
    cfg = config.load(write(tmp_path, BASE))
    ident = cfg.identity("web")
    assert ident.label == "web" and ident.bits == 384 and ident.csr["hash"] == "sha384"
    assert ident.outputs["cert"].mode == 0o640 and ident.outputs["key"].mode == 0o644
    assert ident.outputs["key"].path == tmp_path / "out" / "web.key.pem"
    assert cfg.state_dir == tmp_path / "state"
    assert ident.renew_days == 30 and ident.rotate is False


def test_shipped_configs_are_valid():
    config.load(ROOT / "provisioning" / "config" / "provision.yaml")
    demo = config.load(ROOT / "provisioning" / "examples" / "demo.yaml")
    assert demo.identities[0].method == "local-ca"
    assert demo.state_dir == ROOT / "build" / "demo" / "state"


@pytest.mark.parametrize("old,new,expect", [
    ("bits: 384}", "bits: 2048}", r":5: identities\[0\]\.key\.bits: 2048 does not fit key type ec"),
    ("key_usage: [digital_signature]", "key_usage: [signing]",
     r":12: identities\[0\]\.csr\.key_usage\[0\]: 'signing' is not one of"),
    ("enroll: {method: none}", "enroll: {method: carrier-pigeon}",
     r":18: identities\[0\]\.enroll\.method: 'carrier-pigeon' is not one of"),
    ("enroll: {method: none}", "enroll: {method: none, url: x}",
     r":18: identities\[0\]\.enroll\.url: unknown field 'url'"),
    ("    outputs:\n      key: {path: out/web.key.pem}\n", "    outputs:\n",
     r":16: identities\[0\]\.outputs: missing required field 'key'"),
    ("vars: {org: Example}", "vars: {org: Example}\nstate_dri: x",
     r":20: state_dri: unknown field 'state_dri'"),
    ("mode: \"0640\"", "mode: \"rw-r\"", r":17: identities\[0\]\.outputs\.cert\.mode: "),
    ("version: 1", "version: 1\nversion: 2", r":2: version: duplicate key"),
    ("name: web", "name: [web", r":\d+: not valid YAML"),
])
def test_config_errors_name_file_line_field(tmp_path, old, new, expect):
    import re
    text = BASE.replace(old, new)
    assert text != BASE
    msg = problems(tmp_path, text)
    assert str(tmp_path / "provision.yaml") in msg
    assert re.search(expect, msg), msg


def test_all_problems_reported_at_once(tmp_path):
    msg = problems(tmp_path, BASE.replace("bits: 384}", "bits: 384, size: 1}")
                   .replace("O: \"{{ vars.org }}\"", "Org: x"))
    assert "unknown field 'size'" in msg and "unknown field 'Org'" in msg


def test_facts_from_raspberry_pi_tree():
    f = facts.gather(ROOTS / "rpi")
    assert f["serial"] == "10000000a1b2c3d4" and f["serial_source"] == "device-tree"
    assert f["model"] == "Raspberry Pi 4 Model B Rev 1.4"
    # docker0 (addr_assign_type 3) and lo are not permanent interfaces.
    assert f["macs"] == {"eth0": "dc:a6:32:01:02:03", "wlan0": "dc:a6:32:01:02:04"}
    assert f["mac"] == "dc:a6:32:01:02:03" and f["hostname"] == "rpi-a1b2c3d4"
    assert f["os"]["id"] == "poky"
    mid = (ROOTS / "rpi" / "etc" / "machine-id").read_text().strip()
    assert len(f["app_id"]) == 32 and mid not in str(f)


def test_facts_from_dmi_tree_with_several_nics():
    f = facts.gather(ROOTS / "pc")
    assert f["serial"] == "EGW300-00042" and f["serial_source"] == "dmi"
    assert "board_serial" not in f["dmi"]          # "To Be Filled By O.E.M."
    assert list(f["macs"]) == ["enp1s0", "enp2s0"]  # by ifindex; wlp3s0 random, br0 stolen
    assert f["mac"] == "00:1b:21:aa:bb:01" and f["hostname"] == "gw-00042"


def test_facts_cpuinfo_serial_and_missing(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text("Serial\t\t: 00000000deadbeef\n")
    f = facts.gather(tmp_path)
    assert f["serial"] == "00000000deadbeef" and f["serial_source"] == "cpuinfo"
    assert "hostname" not in f and "app_id" not in f and f["macs"] == {}


def test_app_id_is_systemds_app_specific_machine_id():
    app = config.DEFAULT_APP_ID
    r = subprocess.run(["systemd-id128", "machine-id", "--app-specific=" + app],
                       capture_output=True, text=True, check=True)
    assert facts.gather("/")["app_id"] == r.stdout.strip()


def _ident(tmp_path, text=BASE):
    cfg = config.load(write(tmp_path, text))
    return cfg, cfg.identities[0]


def test_templates_render_csr_verified(tee_sim, tmp_path, openssl_bin):
    cfg, ident = _ident(tmp_path)
    ident.label = "csr-web"
    key = keys.generate_key(ident.label, "ec", 384)
    ctx = csr.context(ident, facts.gather(ROOTS / "rpi"), cfg.vars, environ={})
    req = csr.build_request(ident, ctx)
    c = csr.sign_request(req, key)
    assert c.subject.rfc4514_string() == "O=Example,CN=rpi-a1b2c3d4"
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["rpi-a1b2c3d4.local", "web.example.test"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7", "2001:db8::7"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:dev:mac:dca632010203"]
    assert c.signature_hash_algorithm.name == "sha384"
    ext = c.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"))
    assert ext.value.value == b"\x0c\x1010000000a1b2c3d4"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert c.public_key().public_bytes(serialization.Encoding.DER, spki) == key.info.spki_der
    p = tmp_path / "c.pem"
    p.write_bytes(csr.to_pem(c))
    r = subprocess.run([openssl_bin, "req", "-in", str(p), "-noout", "-verify"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("old,new,expect", [
    ('CN: "{{ facts.hostname }}"', 'CN: "{{ facts.no_such_fact }}"',
     "csr.subject.CN: template '{{ facts.no_such_fact }}': undefined variable"),
    ('CN: "{{ facts.hostname }}"', 'CN: "{{ facts.hostname "',
     "csr.subject.CN: template '{{ facts.hostname ': syntax error"),
    ('"192.0.2.7"', '"{{ facts.hostname }}"', "csr.san.ip[0]: 'gw-00042' is not an IP address"),
    ('CN: "{{ facts.hostname }}"', 'CN: "{{ env.OTLS_NOT_SET }}"', "csr.subject.CN: template '{{ env.OTLS_NOT_SET }}': undefined variable"),
    ('CN: "{{ facts.hostname }}"', 'CN: "{{ \'\' }}"', "csr.subject.CN: template \"{{ '' }}\" rendered to an empty string"),
])
def test_bad_templates_fail_clearly(tmp_path, old, new, expect):
    cfg, ident = _ident(tmp_path, BASE.replace(old, new))
    ctx = csr.context(ident, facts.gather(ROOTS / "pc"), cfg.vars, environ={})
    with pytest.raises(csr.TemplateError) as e:
        csr.build_request(ident, ctx)
    assert "identity web: " + expect in str(e.value)


def test_templates_cannot_reach_python_internals(tmp_path):
    cfg, ident = _ident(tmp_path, BASE.replace(
        'CN: "{{ facts.hostname }}"', 'CN: "{{ facts.__class__.__mro__ }}"'))
    ctx = csr.context(ident, facts.gather(ROOTS / "pc"), cfg.vars, environ={})
    with pytest.raises(csr.TemplateError):
        csr.build_request(ident, ctx)


def test_ruff_and_mypy_pass():
    pkg = ROOT / "provisioning"
    r = subprocess.run([sys.executable, "-m", "ruff", "check", str(pkg)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                        str(pkg / "pyproject.toml"), str(pkg / "src" / "optee_tls")],
                       capture_output=True, text=True, cwd=pkg)
    assert r.returncode == 0, r.stdout + r.stderr
