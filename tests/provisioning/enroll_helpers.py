"""Helpers shared by the EST and ACME backend tests.

Also a command line used to run a backend in a child process whose
environment activates the optee provider (OPENSSL_CONF is read once per
process, so TLS client auth with a TEE key needs a fresh process):

    python3 enroll_helpers.py run --method est --options JSON --csr F --out F
                                  [--current-cert C --current-key K]
Exit codes: 0 issued, 2 EnrollError, 3 EnrollPending (message on stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SRC = ROOT / "provisioning" / "src"
sys.path.insert(0, str(HERE.parent))          # tests/: tlsutil, conftest

try:
    import optee_tls  # noqa: F401
except ImportError:   # not installed into the venv: use the checkout
    sys.path.insert(0, str(SRC))

from tlsutil import wait_for_port


def child_env(base: dict) -> dict:
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def server_process(args: list[str], log: Path, port: int,
                   env: dict | None = None) -> Iterator[subprocess.Popen]:
    """Start a server, wait for its port, stop it by PID whatever happens."""
    from conftest import stop_process
    with open(log, "ab") as f:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, proc, log=log)
        yield proc
    finally:
        stop_process(proc)


def run_backend_child(env: dict, method: str, options: dict, csr: Path, out: Path,
                      current: tuple[Path, Path] | None = None
                      ) -> subprocess.CompletedProcess:
    args = [sys.executable, str(Path(__file__).resolve()), "run", "--method", method,
            "--options", json.dumps(options), "--csr", str(csr), "--out", str(out)]
    if current:
        args += ["--current-cert", str(current[0]), "--current-key", str(current[1])]
    return subprocess.run(args, check=False, env=child_env(env), capture_output=True,
                          text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    import importlib

    from cryptography import x509
    from optee_tls.enroll.base import Credential
    from optee_tls.enroll.chain import to_pem
    from optee_tls.errors import EnrollError, EnrollPending

    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("--method", required=True, choices=["est", "acme"])
    p.add_argument("--options", required=True)
    p.add_argument("--csr", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--current-cert")
    p.add_argument("--current-key")
    a = ap.parse_args(argv)
    module = importlib.import_module(f"optee_tls.enroll.{a.method}")
    backend = module.Backend(json.loads(a.options), "test")
    csr = x509.load_pem_x509_csr(Path(a.csr).read_bytes())
    current = None
    if a.current_cert:
        current = Credential(Path(a.current_cert), None, Path(a.current_key))
    try:
        chain = backend.enroll(csr, current=current)
    except EnrollPending as e:
        print(f"pending ({e.retry_after:g}): {e}", file=sys.stderr)
        return 3
    except EnrollError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    Path(a.out).write_bytes(to_pem(chain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
