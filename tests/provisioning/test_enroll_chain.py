"""The checks every network backend applies to a returned chain, and the
transport's refusals, on real certificates made with cryptography."""
from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from enroll_helpers import SRC  # noqa: F401 (puts optee_tls on sys.path)
from optee_tls.enroll.chain import check_chain
from optee_tls.enroll.transport import Transport, read_secret
from optee_tls.errors import EnrollError

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject: str, key, issuer: str, issuer_key, ca: bool,
         start=NOW - DAY, end=NOW + DAY) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(name(subject))
            .issuer_name(name(issuer)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def pki():
    k = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "int", "leaf")}
    root = cert("root", k["root"], "root", k["root"], True)
    inter = cert("int", k["int"], "root", k["root"], True)
    leaf = cert("leaf", k["leaf"], "int", k["int"], False)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name("leaf"))
           .sign(k["leaf"], hashes.SHA256()))
    return {"k": k, "root": root, "int": inter, "leaf": leaf, "csr": csr}


def test_good_chain_drops_root(pki):
    got = check_chain([pki["leaf"], pki["int"], pki["root"]], pki["csr"], [pki["root"]], "t")
    assert got == [pki["leaf"], pki["int"]]
    assert check_chain([pki["leaf"], pki["int"]], pki["csr"], [pki["root"]], "t") == \
        [pki["leaf"], pki["int"]]
    assert check_chain([pki["leaf"], pki["int"]], pki["csr"], None, "t") == \
        [pki["leaf"], pki["int"]]


def test_broken_chains(pki):
    k = pki["k"]
    other = ec.generate_private_key(ec.SECP256R1())
    not_ca = cert("int", k["int"], "root", k["root"], False)
    forged_int = cert("int", other, "root", k["root"], True)
    future = cert("leaf", k["leaf"], "int", k["int"], False, start=NOW + DAY,
                  end=NOW + 2 * DAY)
    cases = [
        ([pki["leaf"], not_ca], [pki["root"]], "is not a CA"),
        ([pki["leaf"], forged_int], [pki["root"]], "is not signed by the next"),
        ([future, pki["int"]], [pki["root"]], "is not valid before"),
        ([pki["leaf"]], [pki["root"]], "does not lead to the configured trust anchor"),
        ([], [pki["root"]], "no certificate returned"),
    ]
    for chain, anchors, message in cases:
        with pytest.raises(EnrollError, match=message):
            check_chain(chain, pki["csr"], anchors, "t")


def test_trust_anchor_file_problems(tmp_path):
    with pytest.raises(EnrollError, match="does not exist"):
        Transport(tmp_path / "missing.pem").context()
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(EnrollError, match="cannot load trust anchor"):
        Transport(bad).context()


def test_secret_file_problems(tmp_path):
    with pytest.raises(EnrollError, match="cannot read EST password"):
        read_secret(tmp_path / "missing", "EST password")
    empty = tmp_path / "empty"
    empty.write_text("")
    empty.chmod(0o600)
    with pytest.raises(EnrollError, match="is empty"):
        read_secret(empty, "EST password")
