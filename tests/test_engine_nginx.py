"""nginx with `ssl_engine optee;` serving, beside a TEE key, ordinary
software keys in other server blocks.

`ssl_engine optee;` makes nginx call ENGINE_set_default(e,
ENGINE_METHOD_ALL): the ENGINE's RSA_METHOD and EC_KEY_METHOD become the
process defaults. They must hand every key that is not ours to OpenSSL's
own implementation, and the ENGINE advertises no default EVP_PKEY_METHODs,
so servers with software RSA, EC and Ed25519 keys must keep working in the
same nginx, in every worker, with TLS 1.2 and 1.3.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import tlsutil
from tlsutil import dev_ca, shared_dir, tee_keys, tls_sim  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("need_engine")

ENGINE_ENV = ["OPENSSL_ENGINES", "OPTEE_SIM_SOCKET", "LD_LIBRARY_PATH"]
SOFT_KINDS = ["rsa2048", "p384", "ed25519"]


def _software_identity(ca: tlsutil.DevCA, d: Path, kind: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import NameOID

    if kind == "rsa2048":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        h = hashes.SHA256()
    elif kind == "p384":
        key = ec.generate_private_key(ec.SECP384R1())
        h = hashes.SHA384()
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        h = None
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                       "localhost")]))
           .sign(key, h))
    key_path = d / f"soft-{kind}.key"
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(key_path, 0o644)
    cert = ca.issue(csr.public_bytes(serialization.Encoding.PEM),
                    d / f"soft-{kind}.pem")
    return key_path, cert


def _server_block(port: int, cert: Path, key: str, root: Path) -> str:
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            root {root};
        }}
    }}
"""


@pytest.fixture
def nginx_mixed(tls_sim, tee_keys, dev_ca, shared_dir):
    """One nginx (`ssl_engine optee;`, 2 workers): a server block with a TEE
    key through the ENGINE, and one per software key type."""
    ident = tee_keys.get("p256")
    prefix = Path(tempfile.mkdtemp(prefix="nginx-mixed-", dir=shared_dir))
    os.chmod(prefix, 0o755)
    env = dict(tls_sim.env)
    env.pop("OPENSSL_CONF", None)           # the ENGINE only, no provider
    port = tlsutil.free_port()
    conf = tlsutil.render_nginx_conf(prefix, port, ident.cert,
                                     f"engine:optee:{ident.label}",
                                     workers=2, env_names=ENGINE_ENV,
                                     ssl_engine="optee")
    ports = {"tee": port}
    blocks = ""
    for kind in SOFT_KINDS:
        key, cert = _software_identity(dev_ca, prefix, kind)
        ports[kind] = tlsutil.free_port()
        blocks += _server_block(ports[kind], cert, str(key), prefix / "html")
    text = conf.read_text().rstrip()
    assert text.endswith("}")
    conf.write_text(text[:-1] + blocks + "}\n")
    ngx = tlsutil.Nginx(prefix, conf, port, env)
    ngx.start()
    try:
        for p in ports.values():
            tlsutil.wait_for_port(p, ngx.proc)
        yield ngx, ports
    finally:
        ngx.stop()


def test_ssl_engine_with_software_keys(nginx_mixed, dev_ca):
    ngx, ports = nginx_mixed
    want_sig = {"tee": "ECDSA", "rsa2048": "RSA-PSS", "p384": "ECDSA",
                "ed25519": "ed25519"}
    for name, port in ports.items():
        for version in ("1.2", "1.3"):
            # several handshakes: both workers get some
            for _ in range(3):
                h = tlsutil.s_client(port, dev_ca.cert_path, version=version)
                assert h.ok, f"{name} TLS {version}:\n{h.output}\n" \
                             f"{ngx.errors()[-3000:]}"
                assert h.sig_type == want_sig[name], (name, h.sig_type)
        r = tlsutil.curl(f"https://localhost:{port}/", dev_ca.cert_path,
                         extra=["--resolve", f"localhost:{port}:127.0.0.1"])
        assert r.returncode == 0, (name, r.stderr)
    # TLS 1.2 with PKCS#1 v1.5 on the software RSA key: the default
    # RSA_METHOD (ours, under ssl_engine) must pass it through
    h = tlsutil.s_client(ports["rsa2048"], dev_ca.cert_path, version="1.2",
                         sigalgs="RSA+SHA256")
    assert h.ok and h.sig_type == "RSA", h.output
    bad = [l for l in ngx.errors().splitlines()
           if any(f"[{lvl}]" in l for lvl in ("emerg", "alert", "crit"))]
    assert not bad, "\n".join(bad)
