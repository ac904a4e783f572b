#!/usr/bin/env python3
"""A `command` enrollment hook for the tests: a file CA that signs the CSR
on stdin. FAKE_CA_MODE picks a misbehaviour: good, malformed, wrong-key,
expired, wrong-chain, fail, pending, hang."""
import datetime
import os
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ca_dir = os.environ["FAKE_CA_DIR"]
mode = os.environ.get("FAKE_CA_MODE", "good")
csr = x509.load_pem_x509_csr(sys.stdin.buffer.read())
if mode == "fail":
    sys.stderr.write("CA says no: subject not allowed\n")
    sys.exit(3)
if mode == "pending":
    print("retry-after: 1")
    sys.exit(75)
if mode == "hang":
    time.sleep(60)
if mode == "malformed":
    print("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----")
    sys.exit(0)
ca = x509.load_pem_x509_certificate(open(os.path.join(ca_dir, "ca.pem"), "rb").read())
ca_key = serialization.load_pem_private_key(open(os.path.join(ca_dir, "ca.key"), "rb").read(), None)
now = datetime.datetime.now(datetime.timezone.utc)
pub = csr.public_key()
issuer_name, signer = ca.subject, ca_key
if mode == "wrong-key":
    pub = ec.generate_private_key(ec.SECP256R1()).public_key()
if mode == "wrong-chain":
    signer = ec.generate_private_key(ec.SECP256R1())
nb, na = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30)
if mode == "expired":
    nb, na = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer_name)
     .public_key(pub).serial_number(x509.random_serial_number())
     .not_valid_before(nb).not_valid_after(na))
for ext in csr.extensions:
    b = b.add_extension(ext.value, ext.critical)
cert = b.sign(signer, hashes.SHA256())
sys.stdout.buffer.write(cert.public_bytes(serialization.Encoding.PEM))
