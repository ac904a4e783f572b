"""optee-tls: the command line (one module of the library per command
family; this file only parses arguments and maps errors to exit codes).

Exit codes:
  0   success, or nothing to do
  1   unexpected error
  2   usage or configuration error (bad arguments, invalid config,
      template error)
  3   TEE error (unreachable, TA missing, key operation refused)
  4   enrollment failed (CA refused or unreachable, unusable reply);
      nothing was installed
  5   state conflict an operator must resolve (unrecorded or replaced key)
  6   certificate refused by install-cert (wrong key, chain, expired)
  7   a post-install hook failed (the certificate is installed; a rerun
      retries the hooks)
  75  pending: the CA has not issued yet, or method `none` waits for
      install-cert (rerun later)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import config as configmod
from . import csr as csrmod
from . import facts as factsmod
from . import fileio, keys, provision, tee
from .errors import EnrollDeferred, EnrollError, EnrollPending, OpteeTlsError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_TEE, EXIT_ENROLL = 0, 1, 2, 3, 4
EXIT_STATE, EXIT_CERT, EXIT_HOOK, EXIT_PENDING = 5, 6, 7, 75


def _err(msg: str) -> None:
    sys.stderr.write(f"optee-tls: error: {msg}\n")


def _cfg(args: argparse.Namespace) -> configmod.Config:
    return configmod.load(args.config)


def _select(cfg: configmod.Config, names: list[str]) -> list[configmod.Identity]:
    return [cfg.identity(n) for n in names] if names else cfg.identities


def cmd_info(args: argparse.Namespace) -> int:
    lib = tee.library()
    info = lib.get_info()
    ta = ".".join(map(str, info.ta_version))
    print(f"library:   {lib.path}")
    print(f"TEE:       reachable; optee-tls TA {ta}, protocol {info.protocol_version}"
          + ("" if info.protocol_ok else f" (this library speaks {1}: mismatch)"))
    print(f"key types: {', '.join(info.key_types)}")
    print(f"families:  {', '.join(info.allowed)}")
    print(f"labels:    up to {info.label_max} characters; list shows {info.max_keys} keys")
    return EXIT_OK if info.protocol_ok else EXIT_TEE


def _key_row(label: str, kt: int, bits: int, pol: tee.Policy) -> dict[str, Any]:
    desc = {tee.KEY_EC: f"EC P-{bits}", tee.KEY_RSA: f"RSA-{bits}"}.get(kt, "Ed25519")
    return {"label": label, "type": desc, "allowed": pol.allowed_names(),
            "owner": pol.owner_text()}


def cmd_key(args: argparse.Namespace) -> int:
    lib = tee.library()
    if args.key_cmd == "list":
        rows = [_key_row(e.label, e.key_type, e.bits, e.policy) for e in lib.list()]
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                print(f"{r['label']:<33} {r['type']:<9} owner {r['owner']:<10} "
                      f"{','.join(r['allowed'])}")
        return EXIT_OK
    if args.key_cmd == "create":
        pol = None
        if args.allow or args.owner_uid is not None or args.owner_gid is not None:
            allowed = 0
            for n in args.allow or []:
                allowed |= tee.ALLOW_NAMES[n]
            if args.owner_uid is not None:
                pol = tee.Policy(allowed, tee.OWNER_UID, fileio.resolve_uid(args.owner_uid))
            elif args.owner_gid is not None:
                pol = tee.Policy(allowed, tee.OWNER_GID, fileio.resolve_gid(args.owner_gid))
            else:
                pol = tee.Policy(allowed)
        with provision.progress(f"generating {args.type} key {args.label!r} in the TEE"):
            k = keys.generate_key(args.label, args.type, args.bits, pol)
        if args.out:
            fileio.write_atomic(args.out, k.key_reference_pem().encode(), 0o644)
            print(f"key reference written to {args.out}")
        return EXIT_OK
    info = lib.get(args.label)
    if args.key_cmd == "show":
        row = _key_row(info.label, info.key_type, info.bits, info.policy)
        import hashlib
        row["spki_sha256"] = hashlib.sha256(info.spki_der).hexdigest()
        if args.json:
            print(json.dumps(row, indent=1))
        else:
            for name, v in row.items():
                print(f"{name + ':':<13} {', '.join(v) if isinstance(v, list) else v}")
        return EXIT_OK
    if args.key_cmd == "pubkey":
        if args.reference:
            sys.stdout.write(lib.key_reference_pem(args.label))
        else:
            sys.stdout.write(keys.from_info(info).public_key().public_bytes(
                keys.serialization.Encoding.PEM,
                keys.serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        return EXIT_OK
    if args.key_cmd == "delete":
        if not args.yes:
            if not sys.stdin.isatty():
                _err(f"refusing to delete key {args.label!r} without confirmation: "
                     "add --yes")
                return EXIT_USAGE
            ans = input(f"Delete key {args.label!r} ({info.describe()}) from the TEE? "
                        "This cannot be undone. [y/N] ")
            if ans.strip().lower() not in ("y", "yes"):
                print("not deleted")
                return EXIT_USAGE
        lib.delete(args.label)
        print(f"deleted key {args.label!r}")
        return EXIT_OK
    raise AssertionError(args.key_cmd)


def cmd_facts(args: argparse.Namespace) -> int:
    app_id = configmod.DEFAULT_APP_ID
    if args.config and Path(args.config).exists():
        app_id = _cfg(args).app_id
    print(json.dumps(factsmod.gather(args.root, app_id), indent=1, sort_keys=True))
    return EXIT_OK


def cmd_csr(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    ident = cfg.identity(args.identity)
    label = args.label or provision.State(cfg, ident).get("label") or ident.label
    key = keys.load_key(label)
    ctx = csrmod.context(ident, factsmod.gather(args.root, cfg.app_id), cfg.vars)
    c = csrmod.sign_request(csrmod.build_request(ident, ctx), key)
    pem = csrmod.to_pem(c)
    if args.out:
        fileio.write_atomic(args.out, pem, 0o644)
        print(f"CSR for {c.subject.rfc4514_string()} written to {args.out}")
    else:
        sys.stdout.write(pem.decode())
    return EXIT_OK


def cmd_provision(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    rc = EXIT_OK
    for ident in _select(cfg, args.identity):
        r = _run(lambda i=ident: provision.provision_identity(cfg, i, args.root))
        rc = max(rc, r)
    provision.write_global_stamp(cfg)
    return rc


def cmd_renew(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    rc = EXIT_OK
    for ident in _select(cfg, args.identity):
        r = _run(lambda i=ident: provision.renew_identity(
            cfg, i, args.root, force=args.force, rotate=True if args.rotate else None))
        rc = max(rc, r)
    provision.write_global_stamp(cfg)
    return rc


def cmd_install_cert(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    ident = cfg.identity(args.identity)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    rc = _run(lambda: provision.install_cert(cfg, ident, data))
    provision.write_global_stamp(cfg)
    return rc


def cmd_status(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    rows = provision.status(cfg)
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    for r in rows:
        state = "done" if r["done"] else f"in progress (last step: {r['last_step']})"
        print(f"{r['identity']}: {state}")
        print(f"  key:         {r['label']} ({r['key'] or 'MISSING from the TEE'})")
        c = r["certificate"]
        if c:
            print(f"  subject:     {c['subject']}")
            print(f"  SANs:        {', '.join(c['sans']) or '-'}")
            print(f"  issuer:      {c['issuer']}")
            print(f"  expires:     {c['not_after']} ({c['days_left']} days left)")
        else:
            print("  certificate: none installed")
        if r["renewal_in_progress"]:
            print("  renewal:     in progress (rerun `optee-tls renew`)")
        if r["old_keys_to_delete"]:
            print(f"  old keys:    {', '.join(r['old_keys_to_delete'])} (to be deleted)")
        if r["last_error"]:
            print(f"  last error:  {r['last_error']}")
    return EXIT_OK


def _run(fn: Any) -> int:
    """Run one identity's work, turning errors into exit codes."""
    try:
        fn()
        return EXIT_OK
    except EnrollDeferred as e:
        print(f"optee-tls: {e}")
        return EXIT_PENDING
    except EnrollPending as e:
        _err(f"{e} (still pending at the deadline; rerun later)")
        return EXIT_PENDING
    except provision.InstallError as e:
        _err(str(e))
        return EXIT_CERT
    except EnrollError as e:
        _err(f"enrollment failed, nothing installed: {e}")
        return EXIT_ENROLL
    except provision.HookError as e:
        _err(str(e))
        return EXIT_HOOK
    except provision.StateError as e:
        _err(str(e))
        return EXIT_STATE


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="optee-tls", description="TLS keys held in the OP-TEE TA: create them, get "
        "certificates for them, keep them renewed.",
        epilog="exit codes: 0 ok, 1 unexpected error, 2 usage/config, 3 TEE, 4 enrollment, "
        "5 state conflict, 6 certificate refused, 7 hook failed, 75 pending. "
        "See docs/provisioning.md.")
    p.add_argument("--config", default=os.environ.get("OPTEE_TLS_CONFIG",
                                                      str(configmod.DEFAULT_CONFIG)),
                   help="config file (default %(default)s)")
    p.add_argument("--root", default="/", help="read device facts under this directory "
                   "(a fake tree for tests and image builds)")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="is the TEE reachable? TA version and key types")
    k = sub.add_parser("key", help="keys in the TEE")
    ks = k.add_subparsers(dest="key_cmd", required=True)
    c = ks.add_parser("create", help="generate a key")
    c.add_argument("label")
    c.add_argument("--type", choices=["ec", "rsa", "ed25519"], default="ec")
    c.add_argument("--bits", type=int)
    c.add_argument("--allow", action="append", choices=sorted(tee.ALLOW_NAMES))
    c.add_argument("--owner-uid")
    c.add_argument("--owner-gid")
    c.add_argument("--out", help="write the PEM key reference here")
    ls = ks.add_parser("list", help="list keys")
    ls.add_argument("--json", action="store_true")
    s = ks.add_parser("show", help="describe one key")
    s.add_argument("label")
    s.add_argument("--json", action="store_true")
    d = ks.add_parser("delete", help="delete a key (asks unless --yes)")
    d.add_argument("label")
    d.add_argument("--yes", action="store_true")
    pk = ks.add_parser("pubkey", help="print the public key (PEM)")
    pk.add_argument("label")
    pk.add_argument("--reference", action="store_true",
                    help="print the PEM key reference OpenSSL loads instead")
    cs = sub.add_parser("csr", help="a CSR for an identity's existing key")
    cs.add_argument("identity")
    cs.add_argument("--label", help="key label (default: the identity's current key)")
    cs.add_argument("--out")
    sub.add_parser("facts", help="print the device facts templates see")
    pr = sub.add_parser("provision", help="first-boot flow (resumable; idempotent)")
    pr.add_argument("identity", nargs="*")
    rn = sub.add_parser("renew", help="re-enroll identities inside their renewal window")
    rn.add_argument("identity", nargs="*")
    rn.add_argument("--force", action="store_true", help="renew even if not due")
    rn.add_argument("--rotate", action="store_true", help="with a new key")
    ic = sub.add_parser("install-cert", help="install a certificate (chain) from FILE or -")
    ic.add_argument("identity")
    ic.add_argument("file", nargs="?", default="-")
    st = sub.add_parser("status", help="per identity: key, certificate, progress")
    st.add_argument("--json", action="store_true")
    return p


COMMANDS = {"info": cmd_info, "key": cmd_key, "facts": cmd_facts, "csr": cmd_csr,
            "provision": cmd_provision, "renew": cmd_renew, "install-cert": cmd_install_cert,
            "status": cmd_status}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except configmod.ConfigError as e:
        for line in e.problems:
            sys.stderr.write(f"optee-tls: config: {line}\n")
        return EXIT_USAGE
    except csrmod.TemplateError as e:
        _err(str(e))
        return EXIT_USAGE
    except tee.TeeError as e:
        _err(str(e))
        return EXIT_TEE
    except provision.StateError as e:
        _err(str(e))
        return EXIT_STATE
    except (EnrollError, provision.InstallError, provision.HookError) as e:
        exc = e

        def reraise() -> None:
            raise exc
        return _run(reraise)
    except OpteeTlsError as e:
        _err(str(e))
        return EXIT_ERROR
    except OSError as e:
        _err(f"{e.filename or ''}: {e.strerror}" if e.strerror else str(e))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 (last resort: one clear line)
        if args.verbose:
            raise
        _err(f"unexpected {type(e).__name__}: {e} (rerun with -v for details)")
        return EXIT_ERROR
