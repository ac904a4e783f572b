"""The provisioning config (YAML): loading, schema validation, defaults.

Every problem is reported as `FILE:LINE: FIELD: what is wrong`, all of them
at once, before anything touches the TEE or the disk.
"""
from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import schema
from .errors import OpteeTlsError

DEFAULT_CONFIG = Path("/etc/optee-tls/provision.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/optee-tls")
# Application id for the keyed hash of machine-id (facts.app_id); a
# device's app_id differs per application id, and never reveals machine-id.
DEFAULT_APP_ID = "8d3a5b126c474f0e9a1d2b7c0e5f4a61"
METHODS = ("none", "command", "local-ca", "est", "acme")

_OWNER = {"anyOf": [{"type": "integer", "minimum": 0},
                    {"type": "string", "pattern": r"[a-z_][a-z0-9_.-]*\$?"}]}
_MODE = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 0o7777},
                   {"type": "string", "pattern": r"0?[0-7]{3,4}"}]}
_OUTPUT = {"type": "object", "required": ["path"], "additionalProperties": False,
           "properties": {"path": {"type": "string", "minLength": 1},
                          "owner": _OWNER, "group": _OWNER, "mode": _MODE}}
_TEMPLATE = {"type": "string", "minLength": 1}
_TEMPLATES = {"type": "array", "items": _TEMPLATE}
KEY_USAGES = ["digital_signature", "content_commitment", "key_encipherment",
              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"]
EKU_NAMES = ["server_auth", "client_auth", "code_signing", "email_protection",
             "time_stamping", "ocsp_signing"]
SUBJECT_ATTRS = ["CN", "O", "OU", "C", "ST", "L", "serialNumber", "emailAddress",
                 "DC", "UID", "title", "GN", "SN", "pseudonym"]
_OID = r"[0-2](\.[0-9]+)+"

SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["identities"], "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "enum": [1]},
        "state_dir": {"type": "string", "minLength": 1},
        "app_id": {"type": "string", "pattern": r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}"},
        "vars": {"type": "object"},
        "identities": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "key", "csr", "outputs", "enroll"],
            "properties": {
                "name": {"type": "string", "pattern": r"[a-z0-9][a-z0-9._-]{0,27}"},
                "vars": {"type": "object"},
                "key": {"type": "object", "additionalProperties": False,
                        "required": ["type"], "properties": {
                            "label": {"type": "string",
                                      "pattern": r"[A-Za-z0-9][A-Za-z0-9._-]{0,27}"},
                            "type": {"enum": ["ec", "rsa", "ed25519"]},
                            "bits": {"type": "integer",
                                     "enum": [256, 384, 521, 2048, 3072, 4096]},
                            "policy": {"type": "object", "additionalProperties": False,
                                       "properties": {
                                           "owner_uid": _OWNER, "owner_gid": _OWNER,
                                           "allow": {"type": "array", "uniqueItems": True,
                                                     "items": {"enum": [
                                                         "ecdsa", "rsa-pkcs1",
                                                         "rsa-pkcs1-digestinfo",
                                                         "rsa-pss", "ed25519",
                                                         "decrypt-pkcs1",
                                                         "decrypt-oaep"]}}}}}},
                "csr": {"type": "object", "additionalProperties": False,
                        "required": ["subject"], "properties": {
                            "subject": {"type": "object", "additionalProperties": False,
                                        "properties": {a: _TEMPLATE for a in SUBJECT_ATTRS}},
                            "san": {"type": "object", "additionalProperties": False,
                                    "properties": {"dns": _TEMPLATES, "ip": _TEMPLATES,
                                                   "uri": _TEMPLATES, "email": _TEMPLATES}},
                            "key_usage": {"type": "array", "uniqueItems": True,
                                          "items": {"enum": KEY_USAGES}},
                            "extended_key_usage": {"type": "array", "uniqueItems": True,
                                                   "items": {"anyOf": [
                                                       {"enum": EKU_NAMES},
                                                       {"type": "string", "pattern": _OID}]}},
                            "extensions": {"type": "array", "items": {
                                "type": "object", "additionalProperties": False,
                                "required": ["oid"], "properties": {
                                    "oid": {"type": "string", "pattern": _OID},
                                    "critical": {"type": "boolean"},
                                    "der_hex": {"type": "string", "pattern": r"([0-9a-fA-F]{2})+"},
                                    "utf8": _TEMPLATE}}},
                            "hash": {"enum": ["sha256", "sha384", "sha512"]}}},
                "outputs": {"type": "object", "additionalProperties": False,
                            "required": ["key", "cert"], "properties": {
                                n: _OUTPUT for n in ("key", "cert", "chain", "fullchain",
                                                     "csr")}},
                "trust_anchor": {"type": "string", "minLength": 1},
                "enroll": {"type": "object", "required": ["method"], "properties": {
                    "method": {"enum": list(METHODS)}}},
                "renew": {"type": "object", "additionalProperties": False,
                          "properties": {"before_expiry_days": {"type": "number",
                                                                "minimum": 0},
                                         "rotate": {"type": "boolean"}}},
                "hooks": {"type": "array", "items": {"anyOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "minItems": 1, "items": {"type": "string"}}]}},
                "hook_timeout": {"type": "number", "minimum": 1},
            }}},
    }}

RETRY_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "deadline": {"type": "number", "minimum": 0},
    "initial": {"type": "number", "minimum": 0},
    "max": {"type": "number", "minimum": 0}}}


class ConfigError(OpteeTlsError):
    """The config cannot be used. `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Output:
    path: Path
    owner: int | str | None = None
    group: int | str | None = None
    mode: int = 0o644


@dataclass
class Identity:
    name: str
    label: str
    key_type: str
    bits: int
    policy: dict[str, Any]
    csr: dict[str, Any]
    outputs: dict[str, Output]
    trust_anchor: Path | None
    method: str
    enroll_options: dict[str, Any]
    retry: dict[str, float]
    renew_days: float
    rotate: bool
    hooks: list[list[str]]
    hook_timeout: float
    vars: dict[str, Any]


@dataclass
class Config:
    path: Path
    state_dir: Path
    app_id: str
    vars: dict[str, Any]
    identities: list[Identity] = field(default_factory=list)

    def identity(self, name: str) -> Identity:
        for i in self.identities:
            if i.name == name:
                return i
        raise ConfigError([f"{self.path}: no identity named {name!r} (have: " +
                           ", ".join(i.name for i in self.identities) + ")"])


class _Marks:
    """YAML line of each value, by path."""

    def __init__(self) -> None:
        self.lines: dict[schema.Path, int] = {}

    def line(self, path: schema.Path) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def _walk(node: yaml.Node, path: schema.Path, marks: _Marks, dups: list[str],
          fname: str) -> None:
    marks.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            if key in seen:
                dups.append(f"{fname}:{k.start_mark.line + 1}: "
                            f"{schema.path_text(path + (key,))}: duplicate key")
            seen.add(key)
            _walk(v, path + (key,), marks, dups, fname)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), marks, dups, fname)


def backend_module(method: str) -> Any:
    return importlib.import_module("optee_tls.enroll." + method.replace("-", "_"))


DEFAULT_HASH = {("ec", 256): "sha256", ("ec", 384): "sha384", ("ec", 521): "sha512"}


def _mode(v: Any, default: int) -> int:
    if v is None:
        return default
    return v if isinstance(v, int) else int(v, 8)


def load(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    fname = str(p)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError([f"{fname}: cannot read the config: {e.strerror}"]) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{fname}:{mark.line + 1}" if mark else fname
        raise ConfigError([f"{where}: not valid YAML: "
                           f"{getattr(e, 'problem', None) or e}"]) from e
    marks = _Marks()
    problems: list[str] = []
    if node is not None:
        _walk(node, (), marks, problems, fname)
    if data is None:
        data = {}

    def report(errs: list[tuple[schema.Path, str]]) -> None:
        for pth, msg in errs:
            line = marks.line(pth)
            problems.append(f"{fname}{':' + str(line) if line else ''}: "
                            f"{schema.path_text(pth)}: {msg}")

    report(schema.validate(data, SCHEMA))
    if problems:
        raise ConfigError(problems)

    # Checks that span fields, and each backend's own options.
    errs: list[tuple[schema.Path, str]] = []
    names: set[str] = set()
    labels: set[str] = set()
    for i, ident in enumerate(data["identities"]):
        at: schema.Path = ("identities", i)
        if ident["name"] in names:
            errs.append((at + ("name",), f"identity {ident['name']!r} declared twice"))
        names.add(ident["name"])
        key = ident["key"]
        label = key.get("label", ident["name"])
        if label in labels:
            errs.append((at + ("key", "label"), f"key label {label!r} used twice"))
        labels.add(label)
        kt, bits = key["type"], key.get("bits")
        ok_bits = {"ec": [256, 384, 521], "rsa": [2048, 3072, 4096],
                   "ed25519": [256]}[kt]
        if bits is not None and bits not in ok_bits:
            errs.append((at + ("key", "bits"), f"{bits} does not fit key type {kt} "
                         f"(use {', '.join(map(str, ok_bits))})"))
        pol = key.get("policy", {})
        if "owner_uid" in pol and "owner_gid" in pol:
            errs.append((at + ("key", "policy"), "owner_uid and owner_gid exclude each other"))
        enroll = dict(ident["enroll"])
        method = enroll.pop("method")
        retry = enroll.pop("retry", {})
        errs.extend(schema.validate(retry, RETRY_SCHEMA, at + ("enroll", "retry")))
        try:
            mod = backend_module(method)
        except ImportError as e:
            errs.append((at + ("enroll", "method"),
                         f"method {method!r} is not available in this build ({e})"))
        else:
            bschema = dict(mod.Backend.CONFIG_SCHEMA)
            bschema.setdefault("additionalProperties", False)
            errs.extend(schema.validate(enroll, bschema, at + ("enroll",)))
        csr = ident["csr"]
        for j, ext in enumerate(csr.get("extensions", [])):
            if ("der_hex" in ext) == ("utf8" in ext):
                errs.append((at + ("csr", "extensions", j),
                             "give exactly one of der_hex, utf8"))
    report(errs)
    if problems:
        raise ConfigError(problems)

    base = p.resolve().parent

    def resolve(s: str) -> Path:
        return Path(os.path.normpath(base / s)) if not os.path.isabs(s) else Path(s)

    cfg = Config(p, resolve(data.get("state_dir", str(DEFAULT_STATE_DIR))),
                 data.get("app_id", DEFAULT_APP_ID).replace("-", "").lower(),
                 data.get("vars", {}))
    for ident in data["identities"]:
        key = ident["key"]
        kt = key["type"]
        bits = key.get("bits") or {"ec": 256, "rsa": 2048, "ed25519": 256}[kt]
        csr = dict(ident["csr"])
        csr.setdefault("hash", DEFAULT_HASH.get((kt, bits), "sha256"))
        outputs = {}
        for n, o in ident["outputs"].items():
            outputs[n] = Output(resolve(o["path"]), o.get("owner"), o.get("group"),
                                _mode(o.get("mode"), 0o644))
        enroll = dict(ident["enroll"])
        method = enroll.pop("method")
        retry = {"deadline": 300.0, "initial": 2.0, "max": 60.0}
        retry.update(enroll.pop("retry", {}))
        hooks = [h if isinstance(h, list) else _split(h) for h in ident.get("hooks", [])]
        renew = ident.get("renew", {})
        cfg.identities.append(Identity(
            name=ident["name"], label=key.get("label", ident["name"]), key_type=kt,
            bits=bits, policy=key.get("policy", {}), csr=csr, outputs=outputs,
            trust_anchor=resolve(ident["trust_anchor"]) if "trust_anchor" in ident else None,
            method=method, enroll_options=_resolve_paths(enroll, base), retry=retry,
            renew_days=float(renew.get("before_expiry_days", 30)),
            rotate=bool(renew.get("rotate", False)), hooks=hooks,
            hook_timeout=float(ident.get("hook_timeout", 120)),
            vars=ident.get("vars", {})))
    return cfg


def _split(cmd: str) -> list[str]:
    import shlex
    return shlex.split(cmd)


def _resolve_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Backend options ending in _file/_path/_dir, or named trust_anchor,
    are paths relative to the config file's directory."""
    out = dict(options)
    for k, v in options.items():
        if isinstance(v, str) and (re.search(r"_(file|path|dir)$", k) or k == "trust_anchor"
                                   or k in ("ca_cert", "ca_key")) and not os.path.isabs(v):
            out[k] = os.path.normpath(base / v)
    return out
