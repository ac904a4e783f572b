"""The resumable first-boot flow, install-cert and renewal.

Per identity, STATE_DIR/NAME.json records the last finished step; every
file is written atomically; a rerun after a crash anywhere resumes and
ends with the same key. Steps: key -> keyref -> csr -> enroll -> install
-> hooks -> done (STATE_DIR/NAME.done, written last). When every identity
is done, STATE_DIR/provisioned is written (the systemd unit's condition).

Key adoption: a key found in the TEE under the identity's label is used
only if (a) its public key equals the one recorded in the state, or (b) the
state records that this tool was generating exactly that label when it
stopped (the TA never overwrites a label, so the key is that generation),
or (c) the installed PEM key reference names that label with the same
public key. Anything else is an error that says what to do.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509

from . import csr as csrmod
from . import facts as factsmod
from . import fileio, keys, tee
from .config import Config, Identity, backend_module
from .enroll import chain as chainmod
from .enroll.base import Credential
from .errors import EnrollDeferred, EnrollError, EnrollPending, OpteeTlsError

STEPS = ["new", "key", "keyref", "csr", "enroll", "install", "hooks", "done"]


class StateError(OpteeTlsError):
    """The TEE and the records disagree: an operator must decide."""


class InstallError(OpteeTlsError):
    """A certificate was refused at install (nothing was installed)."""


class HookError(OpteeTlsError):
    pass


# ---- fault injection for the crash tests ----------------------------------
_checkpoints = 0


def checkpoint(name: str) -> None:
    """OPTEE_TLS_CRASH_AT=N kills this process with SIGKILL at the Nth
    checkpoint (tests only: power loss at every step)."""
    global _checkpoints
    _checkpoints += 1
    want = os.environ.get("OPTEE_TLS_CRASH_AT")
    if want and want.isdigit() and int(want) == _checkpoints:
        os.kill(os.getpid(), 9)
    if os.environ.get("OPTEE_TLS_TRACE_CHECKPOINTS") == "1":
        sys.stderr.write(f"checkpoint {_checkpoints}: {name}\n")


fileio.checkpoint = checkpoint


# ---- output ---------------------------------------------------------------
def say(msg: str) -> None:
    print(f"optee-tls: {msg}", flush=True)


@contextmanager
def progress(msg: str) -> Iterator[None]:
    """A start line and a done line with the time (journal); a spinner
    on a terminal meanwhile."""
    t0 = time.monotonic()
    say(msg + " ...")
    stop = threading.Event()
    spin = None
    if sys.stderr.isatty():
        def run() -> None:
            i = 0
            while not stop.wait(0.2):
                sys.stderr.write("\r" + "|/-\\"[i % 4] + f" {time.monotonic() - t0:.0f} s")
                sys.stderr.flush()
                i += 1
            sys.stderr.write("\r\033[K")
        spin = threading.Thread(target=run, daemon=True)
        spin.start()
    try:
        yield
    finally:
        stop.set()
        if spin:
            spin.join()
    say(f"{msg}: done in {time.monotonic() - t0:.1f} s")


# ---- state ----------------------------------------------------------------
def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class State:
    def __init__(self, cfg: Config, ident: Identity) -> None:
        self.dir = cfg.state_dir
        self.ident = ident
        self.path = self.dir / f"{ident.name}.json"
        self.data: dict[str, Any] = {}
        try:
            self.data = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.data = {"identity": ident.name, "step": "new"}
        except (OSError, ValueError) as e:
            raise StateError(f"identity {ident.name}: state file {self.path} is unreadable "
                             f"({e}); move it away to start this identity over") from e

    def file(self, suffix: str) -> Path:
        return self.dir / f"{self.ident.name}.{suffix}"

    @property
    def stamp(self) -> Path:
        return self.file("done")

    def get(self, k: str, default: Any = None) -> Any:
        return self.data.get(k, default)

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        self.data["updated"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        fileio.write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode(),
                            0o600)

    def step_done(self, step: str) -> None:
        if STEPS.index(step) > STEPS.index(self.get("step", "new")):
            self.save(step=step, last_error=None)
        checkpoint(f"{self.ident.name}: {step}")


# ---- helpers ----------------------------------------------------------------
def _policy(ident: Identity) -> tee.Policy | None:
    p = ident.policy
    if not p:
        return None
    allowed = 0
    for n in p.get("allow", []):
        allowed |= tee.ALLOW_NAMES[n]
    if "owner_uid" in p:
        return tee.Policy(allowed, tee.OWNER_UID, fileio.resolve_uid(p["owner_uid"]))
    if "owner_gid" in p:
        return tee.Policy(allowed, tee.OWNER_GID, fileio.resolve_gid(p["owner_gid"]))
    return tee.Policy(allowed)


def _write_output(ident: Identity, name: str, data: bytes) -> None:
    o = ident.outputs[name]
    fileio.write_atomic(o.path, data, o.mode, o.owner, o.group)


def _ref_matches(path: Path, label: str, spki: bytes) -> bool:
    try:
        got = tee.library().decode_reference(path.read_bytes())
    except (OSError, tee.TeeError):
        return False
    return got == (label, spki)


def ensure_key(st: State, label: str, intent_field: str = "pending_label") -> keys.TeeKey:
    """The identity's key under `label`: recorded, adopted or generated."""
    ident = st.ident
    lib = tee.library()
    info = lib.find(label)
    recorded = st.get("spki_sha256") if label == st.get("label") else None
    if recorded:
        if info is None:
            raise StateError(
                f"identity {ident.name}: key {label!r} is recorded but missing from the TEE "
                f"(secure storage reset?). To provision a new key, remove {st.path} and "
                f"{st.stamp} and run `optee-tls provision` again")
        if sha256(info.spki_der) != recorded:
            raise StateError(
                f"identity {ident.name}: key {label!r} in the TEE is not the recorded one "
                f"(public key sha256 {sha256(info.spki_der)[:16]}..., recorded "
                f"{recorded[:16]}...): it was replaced outside optee-tls. Delete it with "
                f"`optee-tls key delete {label}` and remove {st.path} to start over")
        return keys.from_info(info)
    if info is not None:
        if st.get(intent_field) == label:
            say(f"identity {ident.name}: adopting key {label!r} generated before an "
                "interruption")
        elif _ref_matches(ident.outputs["key"].path, label, info.spki_der):
            say(f"identity {ident.name}: adopting key {label!r} named by "
                f"{ident.outputs['key'].path}")
        else:
            raise StateError(
                f"identity {ident.name}: a key labelled {label!r} exists in the TEE but "
                "this device has no record of creating it. If it is stale, delete it "
                f"(`optee-tls key delete {label}`) and rerun; to keep it, install its "
                f"reference (`optee-tls key pubkey` shows it) at {ident.outputs['key'].path}")
    else:
        kt, bits = keys.key_params(ident.key_type, ident.bits)
        st.save(**{intent_field: label})
        checkpoint(f"{ident.name}: key intent")
        desc = {"ec": f"EC P-{bits}", "rsa": f"RSA-{bits}", "ed25519": "Ed25519"}[ident.key_type]
        with progress(f"identity {ident.name}: generating {desc} key {label!r} in the TEE"):
            try:
                info = lib.generate(label, kt, bits, _policy(ident))
            except tee.TeeError as e:
                if e.code != tee.ERR_TA_DEAD:
                    raise
                # Outcome unknown (the TA died during generate): look.
                info = lib.find(label)
                if info is None:
                    raise
    kt, bits = keys.key_params(ident.key_type, ident.bits)
    if (info.key_type, info.bits) != (kt, bits):
        raise StateError(f"identity {ident.name}: key {label!r} is {info.describe()} but the "
                         f"config asks for {ident.key_type} {bits}")
    return keys.from_info(info)


def load_chain(path: Path) -> list[x509.Certificate] | None:
    try:
        return list(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError):
        return None


class _PubHolder:
    """check_chain compares with `csr.public_key()`: any key will do."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def public_key(self) -> Any:
        return self._key


def check_certificates(ident: Identity, chain: list[x509.Certificate], key: keys.TeeKey,
                       what: str) -> list[x509.Certificate]:
    anchors = chainmod.load_anchors(ident.trust_anchor) if ident.trust_anchor else None
    return chainmod.check_chain(chain, _PubHolder(key.public_key()),  # type: ignore[arg-type]
                                anchors, what)


def enroll_with_retry(cfg: Config, ident: Identity, csr: x509.CertificateSigningRequest,
                      current: Credential | None) -> list[x509.Certificate]:
    mod = backend_module(ident.method)
    options = dict(ident.enroll_options)
    options["retry"] = dict(ident.retry)
    backend = mod.Backend(options, ident.name)
    deadline = time.monotonic() + ident.retry["deadline"]
    wait = ident.retry["initial"]
    while True:
        try:
            with progress(f"identity {ident.name}: enrolling with method {ident.method}"):
                return list(backend.enroll(csr, current=current))
        except EnrollDeferred:
            raise
        except EnrollPending as e:
            pause = min(max(e.retry_after, wait), ident.retry["max"])
            if time.monotonic() + pause > deadline:
                raise
            say(f"identity {ident.name}: {e}; retrying in {pause:g} s")
            time.sleep(pause)
            wait = min(wait * 2, ident.retry["max"])


def install(st: State, chain: list[x509.Certificate], key: keys.TeeKey,
            keyref: bytes | None = None) -> None:
    """Write cert, chain, fullchain (and the key reference, on rotation)
    to temp files first, then rename them one after the other."""
    ident = st.ident
    pem = chainmod.to_pem
    files: dict[str, bytes] = {"cert": pem(chain[:1])}
    if "chain" in ident.outputs:
        files["chain"] = pem(chain[1:])
    if "fullchain" in ident.outputs:
        files["fullchain"] = pem(chain)
    if keyref is not None:
        files["key"] = keyref
    staged = []
    try:
        for name, data in files.items():
            o = ident.outputs[name]
            staged.append((fileio.stage(o.path, data, o.mode, o.owner, o.group), o.path))
    except OpteeTlsError:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    checkpoint(f"{ident.name}: install staged")
    for tmp, path in staged:
        fileio.commit(tmp, path)
        checkpoint(f"{ident.name}: installed {path.name}")


def run_hooks(ident: Identity, extra_env: dict[str, str] | None = None) -> None:
    env = dict(os.environ)
    env.update({"OPTEE_TLS_IDENTITY": ident.name,
                "OPTEE_TLS_CERT": str(ident.outputs["cert"].path),
                "OPTEE_TLS_KEY": str(ident.outputs["key"].path)})
    env.update(extra_env or {})
    for argv in ident.hooks:
        say(f"identity {ident.name}: running hook: {' '.join(argv)}")
        try:
            r = subprocess.run(argv, env=env, timeout=ident.hook_timeout,
                               capture_output=True, text=True)
        except subprocess.TimeoutExpired as e:
            raise HookError(f"identity {ident.name}: hook {argv[0]} did not finish within "
                            f"{ident.hook_timeout:g} s") from e
        except OSError as e:
            raise HookError(f"identity {ident.name}: hook {argv[0]}: {e.strerror}") from e
        if r.returncode != 0:
            raise HookError(f"identity {ident.name}: hook {' '.join(argv)} failed with status "
                            f"{r.returncode}: {r.stderr.strip()[-300:]}")


def _recorded_fail(st: State, e: Exception) -> None:
    try:
        st.save(last_error=str(e))
    except OpteeTlsError:
        pass


# ---- provision ----------------------------------------------------------------
def _cleanup(cfg: Config, ident: Identity) -> None:
    fileio.cleanup_temps(cfg.state_dir, ident.name)
    for o in ident.outputs.values():
        fileio.cleanup_temps(o.path.parent, o.path.name)


def provision_identity(cfg: Config, ident: Identity, root: str) -> str:
    """Run or resume the flow. Returns "done", "already" or raises."""
    _cleanup(cfg, ident)
    st = State(cfg, ident)
    if st.stamp.exists():
        say(f"identity {ident.name}: already provisioned (key {st.get('label')!r}); "
            "nothing to do")
        return "already"
    try:
        _provision(cfg, ident, st, root)
    except Exception as e:
        _recorded_fail(st, e)
        raise
    return "done"


def _provision(cfg: Config, ident: Identity, st: State, root: str) -> None:
    label = st.get("label") or ident.label
    key = ensure_key(st, label)
    if st.get("label") != label or not st.get("spki_sha256"):
        st.save(label=label, spki_sha256=sha256(key.info.spki_der), pending_label=None)
    st.step_done("key")
    ref = key.key_reference_pem().encode()
    # Always rewritten: an adopted reference gets the configured owner and mode.
    _write_output(ident, "key", ref)
    st.step_done("keyref")
    csr_path = st.file("csr.pem")
    csr = _load_csr(csr_path, key)
    if csr is None:
        ctx = csrmod.context(ident, factsmod.gather(root, cfg.app_id), cfg.vars)
        req = csrmod.build_request(ident, ctx)
        with progress(f"identity {ident.name}: signing the CSR with key {label!r}"):
            csr = csrmod.sign_request(req, key)
        fileio.write_atomic(csr_path, csrmod.to_pem(csr), 0o644)
        if "csr" in ident.outputs:
            _write_output(ident, "csr", csrmod.to_pem(csr))
        say(f"identity {ident.name}: CSR for {csr.subject.rfc4514_string()} written to "
            f"{ident.outputs['csr'].path if 'csr' in ident.outputs else csr_path}")
    st.step_done("csr")
    issued_path = st.file("issued.pem")
    chain = load_chain(issued_path)
    if chain is None or chainmod.spki(chain[0].public_key()) != key.info.spki_der:
        got = enroll_with_retry(cfg, ident, csr, None)
        chain = check_certificates(ident, got, key, f"identity {ident.name}: {ident.method}")
        fileio.write_atomic(issued_path, chainmod.to_pem(chain), 0o644)
    st.step_done("enroll")
    finish(st, chain, key)


def _load_csr(path: Path, key: keys.TeeKey) -> x509.CertificateSigningRequest | None:
    try:
        c = x509.load_pem_x509_csr(path.read_bytes())
    except (OSError, ValueError):
        return None
    if chainmod.spki(c.public_key()) != key.info.spki_der or not c.is_signature_valid:
        return None
    return c


def finish(st: State, chain: list[x509.Certificate], key: keys.TeeKey) -> None:
    ident = st.ident
    install(st, chain, key)
    st.step_done("install")
    say(f"identity {ident.name}: installed certificate {chain[0].subject.rfc4514_string()} "
        f"(expires {chainmod.not_after(chain[0]):%Y-%m-%d}) at {ident.outputs['cert'].path}")
    run_hooks(ident)
    st.step_done("hooks")
    fileio.write_atomic(st.stamp, b"", 0o644)
    st.save(step="done", last_error=None)
    say(f"identity {ident.name}: provisioned")


def all_done(cfg: Config) -> bool:
    return all(State(cfg, i).stamp.exists() for i in cfg.identities)


def write_global_stamp(cfg: Config) -> None:
    if all_done(cfg):
        fileio.write_atomic(cfg.state_dir / "provisioned", b"", 0o644)


# ---- install-cert -------------------------------------------------------------
def install_cert(cfg: Config, ident: Identity, data: bytes) -> None:
    """A chain from a factory station or an operator: checked against the
    identity's key and trust anchor, then installed like an enrollment."""
    st = State(cfg, ident)
    label = st.get("label")
    if not label or not st.get("spki_sha256"):
        raise StateError(f"identity {ident.name}: no key yet; run `optee-tls provision` first")
    info = tee.library().get(label)
    if sha256(info.spki_der) != st.get("spki_sha256"):
        raise StateError(f"identity {ident.name}: key {label!r} in the TEE is not the "
                         "recorded one")
    key = keys.from_info(info)
    try:
        certs = list(x509.load_pem_x509_certificates(data))
    except ValueError as e:
        raise InstallError(f"identity {ident.name}: not PEM certificates: {e}") from e
    leaf = [c for c in certs if chainmod.spki(c.public_key()) == info.spki_der]
    if not leaf:
        raise InstallError(f"identity {ident.name}: no certificate in the input is for key "
                           f"{label!r} (public key mismatch)")
    ordered = chainmod.order_chain(leaf[0], certs)
    try:
        chain = check_certificates(ident, ordered, key, f"identity {ident.name}: install-cert")
    except EnrollError as e:
        raise InstallError(str(e)) from e
    fileio.write_atomic(st.file("issued.pem"), chainmod.to_pem(chain), 0o644)
    st.stamp.unlink(missing_ok=True)
    st.step_done("enroll")
    finish(st, chain, key)


# ---- renew ----------------------------------------------------------------------
def cert_expiry(ident: Identity) -> datetime.datetime | None:
    c = load_chain(ident.outputs["cert"].path)
    return chainmod.not_after(c[0]) if c else None


def _next_label(base: str, current: str) -> str:
    n = 1
    if current.startswith(base + ".r") and current[len(base) + 2:].isdigit():
        n = int(current[len(base) + 2:]) + 1
    return f"{base}.r{n}"


def renew_identity(cfg: Config, ident: Identity, root: str, force: bool = False,
                   rotate: bool | None = None) -> str:
    """Returns "renewed", "not-due", or raises. A failure at any step
    leaves the installed key, reference and certificate as they were."""
    st = State(cfg, ident)
    if not st.stamp.exists() and not st.get("renewal"):
        return provision_identity(cfg, ident, root)
    _cleanup(cfg, ident)
    _delete_old_keys(st)
    ren = st.get("renewal")
    if not ren:
        exp = cert_expiry(ident)
        due = exp is None or exp - datetime.datetime.now(datetime.UTC) <= \
            datetime.timedelta(days=ident.renew_days)
        if not (due or force):
            say(f"identity {ident.name}: certificate valid until {exp:%Y-%m-%d}; renewal "
                f"window ({ident.renew_days:g} days) not reached")
            return "not-due"
        rot = ident.rotate if rotate is None else rotate
        ren = {"rotate": rot, "label": _next_label(ident.label, st.get("label")) if rot
               else st.get("label"), "step": "new"}
        st.save(renewal=ren)
        checkpoint(f"{ident.name}: renewal started")
    try:
        _renew(cfg, ident, st, ren, root)
    except Exception as e:
        _recorded_fail(st, e)
        raise
    return "renewed"


def _renew(cfg: Config, ident: Identity, st: State, ren: dict[str, Any], root: str) -> None:
    label = ren["label"]
    if ren["rotate"]:
        key = ensure_key(st, label, "renewal_pending_label")
    else:
        key = keys.load_key(label)
    csr_path = st.file("renew.csr.pem")
    csr = _load_csr(csr_path, key)
    if csr is None:
        ctx = csrmod.context(ident, factsmod.gather(root, cfg.app_id), cfg.vars)
        csr = csrmod.sign_request(csrmod.build_request(ident, ctx), key)
        fileio.write_atomic(csr_path, csrmod.to_pem(csr), 0o644)
    issued_path = st.file("renew.issued.pem")
    chain = load_chain(issued_path)
    if chain is None or chainmod.spki(chain[0].public_key()) != key.info.spki_der:
        o = ident.outputs
        cur = Credential(o["cert"].path, o["chain"].path if "chain" in o else None,
                         o["key"].path)
        got = enroll_with_retry(cfg, ident, csr, cur)
        chain = check_certificates(ident, got, key, f"identity {ident.name}: renewal")
        fileio.write_atomic(issued_path, chainmod.to_pem(chain), 0o644)
    checkpoint(f"{ident.name}: renewal enrolled")
    old = st.get("label")
    keyref = key.key_reference_pem().encode() if ren["rotate"] else None
    install(st, chain, key, keyref)
    fileio.write_atomic(st.file("issued.pem"), chainmod.to_pem(chain), 0o644)
    if ren["rotate"] and old != label:
        pending = list(st.get("delete_keys", []))
        st.save(label=label, spki_sha256=sha256(key.info.spki_der),
                renewal=dict(ren, step="installed"), renewal_pending_label=None,
                delete_keys=pending)
    checkpoint(f"{ident.name}: renewal installed")
    say(f"identity {ident.name}: installed renewed certificate (key {label!r}, expires "
        f"{chainmod.not_after(chain[0]):%Y-%m-%d})")
    run_hooks(ident)
    # Only now, with the new key serving, may the old one go.
    if ren["rotate"] and old != label:
        st.save(delete_keys=list(st.get("delete_keys", [])) + [old])
    for f in (csr_path, issued_path):
        f.unlink(missing_ok=True)
    st.save(renewal=None, last_error=None)
    checkpoint(f"{ident.name}: renewal done")
    _delete_old_keys(st)


def _delete_old_keys(st: State) -> None:
    left = []
    for label in st.get("delete_keys", []) or []:
        try:
            tee.library().delete(label)
            say(f"identity {st.ident.name}: deleted the old key {label!r}")
        except tee.KeyNotFound:
            pass
        except tee.KeyInUse:
            say(f"identity {st.ident.name}: old key {label!r} still in use (old server "
                "processes?); it will be deleted on the next run")
            left.append(label)
    if left != (st.get("delete_keys") or []):
        st.save(delete_keys=left)


def status(cfg: Config) -> list[dict[str, Any]]:
    out = []
    for ident in cfg.identities:
        st = State(cfg, ident)
        label = st.get("label") or ident.label
        row: dict[str, Any] = {"identity": ident.name, "label": label,
                               "done": st.stamp.exists(), "last_step": st.get("step", "new"),
                               "last_error": st.get("last_error"),
                               "renewal_in_progress": bool(st.get("renewal")),
                               "old_keys_to_delete": st.get("delete_keys") or []}
        try:
            info = tee.library().find(label)
            row["key"] = info.describe() if info else None
            row["key_matches_record"] = info is not None and \
                sha256(info.spki_der) == st.get("spki_sha256")
        except tee.TeeError as e:
            row["key"] = None
            row["tee_error"] = str(e)
        chain = load_chain(ident.outputs["cert"].path)
        if chain:
            c = chain[0]
            try:
                san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                sans = [str(v.value) for v in san]
            except x509.ExtensionNotFound:
                sans = []
            exp = chainmod.not_after(c)
            row["certificate"] = {
                "subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string(),
                "sans": sans, "not_after": exp.isoformat(),
                "days_left": round((exp - datetime.datetime.now(datetime.UTC)).total_seconds()
                                   / 86400, 1),
                "matches_key": sha256(chainmod.spki(c.public_key())) ==
                st.get("spki_sha256")}
        else:
            row["certificate"] = None
        out.append(row)
    return out


Runner = Callable[[Config, Identity, str], str]
