"""CSR from the identity's templates, signed by its TEE key, verified
before anyone sees it."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.sandbox
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .config import Identity
from .errors import OpteeTlsError
from .keys import TeeEd25519Key, TeeKey


class TemplateError(OpteeTlsError):
    pass


class CsrError(OpteeTlsError):
    pass


ATTR_OIDS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME,
             "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "C": NameOID.COUNTRY_NAME,
             "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
             "serialNumber": NameOID.SERIAL_NUMBER, "emailAddress": NameOID.EMAIL_ADDRESS,
             "DC": NameOID.DOMAIN_COMPONENT, "UID": NameOID.USER_ID, "title": NameOID.TITLE,
             "GN": NameOID.GIVEN_NAME, "SN": NameOID.SURNAME, "pseudonym": NameOID.PSEUDONYM}
EKU_OIDS = {"server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
            "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
            "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
            "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
            "time_stamping": ExtendedKeyUsageOID.TIME_STAMPING,
            "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING}
HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}

_env = jinja2.sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def context(ident: Identity, facts: dict[str, Any], cfg_vars: dict[str, Any],
            environ: dict[str, str] | None = None) -> dict[str, Any]:
    """What a template sees: facts, vars (config-wide, then the
    identity's), env (the process environment) and identity (its name)."""
    merged = dict(cfg_vars)
    merged.update(ident.vars)
    return {"facts": facts, "vars": merged, "identity": ident.name,
            "env": dict(os.environ if environ is None else environ)}


def render(template: str, ctx: dict[str, Any], where: str) -> str:
    try:
        out = _env.from_string(template).render(ctx).strip()
    except jinja2.UndefinedError as e:
        raise TemplateError(f"{where}: template {template!r}: undefined variable: "
                            f"{e.message}") from e
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"{where}: template {template!r}: syntax error: "
                            f"{e.message}") from e
    except jinja2.TemplateError as e:
        raise TemplateError(f"{where}: template {template!r}: {e}") from e
    if not out:
        raise TemplateError(f"{where}: template {template!r} rendered to an empty string")
    return out


@dataclass
class Request:
    """The rendered content of a CSR, before signing."""
    subject: x509.Name
    sans: list[x509.GeneralName]
    key_usage: list[str]
    eku: list[ObjectIdentifier]
    extensions: list[tuple[ObjectIdentifier, bool, bytes]]
    hash_name: str


def _utf8_der(s: str) -> bytes:
    b = s.encode()
    n = len(b)
    ln = bytes([n]) if n < 0x80 else (bytes([0x81, n]) if n < 0x100
                                      else bytes([0x82, n >> 8, n & 0xFF]))
    return b"\x0c" + ln + b


def build_request(ident: Identity, ctx: dict[str, Any]) -> Request:
    c = ident.csr
    attrs = []
    for name, tmpl in c["subject"].items():
        val = render(tmpl, ctx, f"identity {ident.name}: csr.subject.{name}")
        if name == "C" and len(val) != 2:
            raise TemplateError(f"identity {ident.name}: csr.subject.C: {val!r} "
                                "is not a two-letter country code")
        try:
            attrs.append(x509.NameAttribute(ATTR_OIDS[name], val))
        except ValueError as e:
            raise TemplateError(f"identity {ident.name}: csr.subject.{name}: {e}") from e
    sans: list[x509.GeneralName] = []
    san = c.get("san", {})
    for i, t in enumerate(san.get("dns", [])):
        v = render(t, ctx, f"identity {ident.name}: csr.san.dns[{i}]")
        try:
            v.encode("ascii")
        except UnicodeEncodeError as e:
            raise TemplateError(f"identity {ident.name}: csr.san.dns[{i}]: {v!r} is "
                                "not an ASCII (A-label) DNS name") from e
        sans.append(x509.DNSName(v))
    for i, t in enumerate(san.get("ip", [])):
        v = render(t, ctx, f"identity {ident.name}: csr.san.ip[{i}]")
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(v)))
        except ValueError as e:
            raise TemplateError(f"identity {ident.name}: csr.san.ip[{i}]: {v!r} is not "
                                "an IP address") from e
    for i, t in enumerate(san.get("uri", [])):
        v = render(t, ctx, f"identity {ident.name}: csr.san.uri[{i}]")
        if ":" not in v:
            raise TemplateError(f"identity {ident.name}: csr.san.uri[{i}]: {v!r} is "
                                "not a URI")
        sans.append(x509.UniformResourceIdentifier(v))
    for i, t in enumerate(san.get("email", [])):
        sans.append(x509.RFC822Name(render(t, ctx, f"identity {ident.name}: csr.san.email[{i}]")))
    exts = []
    for i, ext in enumerate(c.get("extensions", [])):
        der = bytes.fromhex(ext["der_hex"]) if "der_hex" in ext else \
            _utf8_der(render(ext["utf8"], ctx, f"identity {ident.name}: csr.extensions[{i}]"))
        exts.append((ObjectIdentifier(ext["oid"]), bool(ext.get("critical", False)), der))
    eku = [EKU_OIDS[n] if n in EKU_OIDS else ObjectIdentifier(n)
           for n in c.get("extended_key_usage", [])]
    return Request(x509.Name(attrs), sans, list(c.get("key_usage", [])), eku, exts,
                   c["hash"])


def sign_request(req: Request, key: TeeKey) -> x509.CertificateSigningRequest:
    b = x509.CertificateSigningRequestBuilder().subject_name(req.subject)
    if req.sans:
        b = b.add_extension(x509.SubjectAlternativeName(req.sans), critical=False)
    if req.key_usage:
        ku = {n: n in req.key_usage for n in (
            "digital_signature", "content_commitment", "key_encipherment",
            "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")}
        b = b.add_extension(x509.KeyUsage(encipher_only=False, decipher_only=False, **ku),
                            critical=True)
    if req.eku:
        b = b.add_extension(x509.ExtendedKeyUsage(req.eku), critical=False)
    for oid, crit, der in req.extensions:
        b = b.add_extension(x509.UnrecognizedExtension(oid, der), critical=crit)
    algo = None if isinstance(key, TeeEd25519Key) else HASHES[req.hash_name]
    csr = b.sign(key, algo)  # type: ignore[arg-type]
    verify(csr, req, key)
    return csr


def verify(csr: x509.CertificateSigningRequest, req: Request, key: TeeKey) -> None:
    """The CSR must be exactly what was asked for, signed by the TEE key."""
    if not csr.is_signature_valid:
        raise CsrError("the CSR signature does not verify (TEE signature wrong?)")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if csr.public_key().public_bytes(serialization.Encoding.DER, spki) != key.info.spki_der:
        raise CsrError("the CSR's public key is not the TEE key's")
    if csr.subject != req.subject:
        raise CsrError(f"the CSR subject {csr.subject.rfc4514_string()} differs from "
                       f"the requested {req.subject.rfc4514_string()}")
    try:
        got = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        got = []
    if got != req.sans:
        raise CsrError(f"the CSR SANs {got} differ from the requested {req.sans}")


def to_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)
