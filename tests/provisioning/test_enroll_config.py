"""The est and acme options through the real config loader: schema
accepted by optee_tls/schema.py, relative paths resolved, secrets refused."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from optee_tls import config, schema
from optee_tls.enroll import acme, est

CONFIG = """\
version: 1
state_dir: state
identities:
  - name: web
    key: {type: ec}
    csr: {subject: {CN: device.example.test}}
    outputs: {key: {path: out/web.key.pem}, cert: {path: out/web.crt}}
    enroll:
      method: est
      url: https://est.example.test:8443
      label: servers
      trust_anchor: anchors/est-tls.pem
      issuer_anchor_file: anchors/issuing.pem
      username: device-1
      password_file: secrets/est-password
      timeout: 20
      retry: {deadline: 600, initial: 5, max: 120}
  - name: cloud
    key: {type: ec}
    csr: {subject: {CN: device.example.test}, san: {dns: [device.example.test]}}
    outputs: {key: {path: out/cloud.key.pem}, cert: {path: out/cloud.crt}}
    enroll:
      method: acme
      directory: https://acme.example.test/dir
      trust_anchor: anchors/acme-tls.pem
      agree_tos: true
      contact: ["mailto:ops@example.test"]
      http01_webroot_dir: www
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "provision.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_schemas_use_only_the_validators_keywords():
    schema.check_schema(est.Backend.CONFIG_SCHEMA, "est")
    schema.check_schema(acme.Backend.CONFIG_SCHEMA, "acme")


def test_est_and_acme_identities_load(tmp_path):
    cfg = config.load(write(tmp_path, CONFIG))
    web, cloud = cfg.identity("web"), cfg.identity("cloud")
    assert web.method == "est" and cloud.method == "acme"
    o = web.enroll_options
    assert o["trust_anchor"] == str(tmp_path / "anchors" / "est-tls.pem")
    assert o["issuer_anchor_file"] == str(tmp_path / "anchors" / "issuing.pem")
    assert o["password_file"] == str(tmp_path / "secrets" / "est-password")
    assert web.retry["deadline"] == 600
    b = est.Backend(o, web.name, retry=web.retry)
    assert b.base == "https://est.example.test:8443/.well-known/est/servers"
    assert b.issuer_anchor == tmp_path / "anchors" / "issuing.pem"
    a = acme.Backend(cloud.enroll_options, cloud.name, retry=cloud.retry,
                     state_dir=cfg.state_dir)
    assert a.account_key.parent == tmp_path / "state" / "acme"
    assert cloud.enroll_options["http01_webroot_dir"] == str(tmp_path / "www")


@pytest.mark.parametrize("old,new,expect", [
    ("      username: device-1\n", "      username: device-1\n      password: hunter2\n",
     r":\d+: identities\[0\]\.enroll\.password: unknown field 'password'"),
    ("url: https://est.example.test:8443", "url: http://est.example.test",
     r"identities\[0\]\.enroll\.url: 'http://est.example.test' does not match"),
    ("      trust_anchor: anchors/est-tls.pem\n", "",
     r"identities\[0\]\.enroll: missing required field 'trust_anchor'"),
    ("directory: https://acme.example.test/dir", "directory: acme.example.test",
     r"identities\[1\]\.enroll\.directory: 'acme.example.test' does not match"),
    ("      agree_tos: true\n", "      agree_tos: yes please\n",
     r"identities\[1\]\.enroll\.agree_tos: expected boolean"),
    ("      timeout: 20\n", "      timeout: 0\n",
     r"identities\[0\]\.enroll\.timeout: must be at least 1"),
])
def test_bad_enroll_options_named(tmp_path, old, new, expect):
    text = CONFIG.replace(old, new)
    assert text != CONFIG
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, text))
    assert re.search(expect, str(e.value)), str(e.value)
