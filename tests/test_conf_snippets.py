"""The shipped openssl.cnf snippets for the provider, used the way their
comments tell users to: appended by .include to Debian 12's stock
openssl.cnf, and dropped into a conf.d directory included by an
upstream-style (Yocto) openssl.cnf. With either, an unmodified program
reaches the TEE key and the default provider still does ordinary work."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import tlsutil
from conftest import BUILD, ROOT

CONF = ROOT / "engine" / "conf"
PROVIDER_SO = BUILD / "ossl-modules" / "optee.so"
DEBIAN_CNF = Path("/usr/lib/ssl/openssl.cnf")

UPSTREAM_STYLE = """\
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect

[default_sect]
# activate = 1

[req]
distinguished_name = req_dn
[req_dn]
"""


def with_module_path(text: str) -> str:
    """Point the snippet's commented module line at the in-tree build."""
    lines = []
    for line in text.splitlines():
        if line.startswith("# module = "):
            line = f"module = {PROVIDER_SO}"
        lines.append(line)
    out = "\n".join(lines) + "\n"
    assert f"module = {PROVIDER_SO}" in out, "snippet lost its module hint"
    return out


def debian_style(tmp: Path) -> Path:
    if not DEBIAN_CNF.exists():
        pytest.skip("platform limit: not a Debian-style system openssl.cnf")
    snippet = tmp / "optee-provider.cnf"
    snippet.write_text(with_module_path((CONF / "optee-provider.cnf").read_text()))
    cnf = tmp / "openssl.cnf"
    cnf.write_text(DEBIAN_CNF.read_text() + f"\n.include {snippet}\n")
    return cnf


def confd_style(tmp: Path) -> Path:
    confd = tmp / "openssl.cnf.d"
    confd.mkdir()
    (confd / "optee.cnf").write_text(
        with_module_path((CONF / "optee-provider.conf.d.cnf").read_text()))
    cnf = tmp / "openssl.cnf"
    cnf.write_text(UPSTREAM_STYLE + f".include {confd}\n")
    return cnf


@pytest.mark.parametrize("style", [debian_style, confd_style],
                         ids=["debian-include", "yocto-conf.d"])
def test_provider_snippet(sim, tmp_path, style):
    cnf = style(tmp_path)
    env = {"OPENSSL_CONF": str(cnf)}
    env.pop("OPENSSL_MODULES", None)
    run_env = dict(sim.env, **env)
    run_env.pop("OPENSSL_MODULES", None)

    listed = subprocess.run(["openssl", "list", "-providers"], env=run_env,
                            capture_output=True, text=True, check=True).stdout
    assert "optee" in listed and "default" in listed, listed
    assert listed.count("status: active") == 2, listed

    # The documented key generation command, then a CSR with the key URI.
    ref = tmp_path / "web.optee.pem"
    subprocess.run(["openssl", "genpkey", "-propquery", "provider=optee",
                    "-algorithm", "EC", "-pkeyopt", "group:P-256",
                    "-pkeyopt", "label:web", "-out", str(ref)],
                   env=run_env, capture_output=True, check=True)
    assert b"BEGIN OPTEE TLS KEY" in ref.read_bytes()
    csr = tmp_path / "web.csr"
    subprocess.run(["openssl", "req", "-new", "-key", "optee:web",
                    "-subj", "/CN=web", "-out", str(csr)],
                   env=run_env, capture_output=True, check=True)
    verify = subprocess.run(["openssl", "req", "-in", str(csr), "-noout", "-verify"],
                            env=tlsutil.client_env(), capture_output=True, text=True)
    assert verify.returncode == 0 and "verify OK" in verify.stdout + verify.stderr

    # The default provider still serves ordinary software keys.
    soft = tmp_path / "soft.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", str(soft)],
                   env=run_env, capture_output=True, check=True)
    assert b"BEGIN PRIVATE KEY" in soft.read_bytes()
