#!/usr/bin/env python3
"""make bench: optee-tls against baselines measured in the same run.

1. Signatures: libopteetls (one kept session, key cached in the TA) vs a
   new context + session per signature (the naive design) vs a software
   key in libcrypto.
2. HTTPS: nginx (2 workers) with the TEE-held key vs the same nginx with a
   software key: full handshakes per second from concurrent clients, and
   exact TA invocations per handshake.
Prints ratios; never fails on a number (the machine is shared and noisy).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import BUILD, Sim  # noqa: E402
import tlsutil  # noqa: E402

SIGN_N = int(os.environ.get("BENCH_SIGN_N", "400"))
REOPEN_N = int(os.environ.get("BENCH_REOPEN_N", "100"))
HTTPS_N = int(os.environ.get("BENCH_HTTPS_N", "300"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))


def build_sign_bench(out: Path) -> Path:
    exe = out / "sign_bench"
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2",
                    f"-I{ROOT}/engine/include", f"-I{ROOT}/ta/include",
                    f"-I{ROOT}/sim/include", str(ROOT / "scripts/bench/sign_bench.c"),
                    "-o", str(exe), f"-L{BUILD}/lib", "-lopteetls", "-lteec",
                    "-lcrypto", f"-Wl,-rpath,{BUILD}/lib"], check=True)
    return exe


def timed(exe: Path, env: dict, mode: str, key: str, alg: str, n: int) -> float:
    out = subprocess.run([str(exe), mode, key, alg, str(n)], env=env,
                         capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return int(fields["ops"]) / float(fields["seconds"])


def soft_key(path: Path, alg: str) -> Path:
    spec = {"ecdsa": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "pss": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "ed25519": ["-algorithm", "ED25519"]}[alg]
    subprocess.run(["openssl", "genpkey", "-provider", "default", *spec, "-out", str(path)],
                   check=True, env=tlsutil.client_env(), capture_output=True)
    return path


def https_rate(port: int, ca: Path, n: int) -> float:
    errors: list[BaseException] = []
    per = n // CLIENTS

    def worker():
        try:
            for _ in range(per):
                status, _, _ = tlsutil.https_get(port, ca)
                assert status == 200
        except BaseException as e:  # report, don't hang
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    if errors:
        raise errors[0]
    return per * CLIENTS / dt


def start_nginx(work: Path, name: str, cert: Path, key: Path, env: dict) -> tlsutil.Nginx:
    prefix = work / name
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    port = tlsutil.free_port()
    conf = tlsutil.render_nginx_conf(prefix, port, cert, key, workers=2,
                                     env_names=tlsutil.OPTEE_ENV_VARS)
    ngx = tlsutil.Nginx(prefix, conf, port, env)
    ngx.start()
    return ngx


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="otls-bench-"))
    os.chmod(work, 0o755)
    sim = Sim(work / "sim").start()
    try:
        env = sim.env
        os.environ.update({k: env[k] for k in tlsutil.OPTEE_ENV_VARS if k in env})
        exe = build_sign_bench(work)
        print("== signatures per second (one process, sequential)")
        print(f"{'algorithm':<22}{'optee-tls':>12}{'new session':>14}{'software':>12}"
              f"{'vs new session':>16}{'vs software':>13}")
        for alg, label, ktype in (("ecdsa", "b-p256", "p256"),
                                  ("pss", "b-rsa2048", "rsa2048"),
                                  ("ed25519", "b-ed25519", "ed25519")):
            tlsutil.lib_genkey(label, ktype, work / f"{label}.pem")
            before = sim.stats()
            ours = timed(exe, env, "otls", label, alg, SIGN_N)
            after = sim.stats()
            per_sig = (after["ta_invocations"] - before["ta_invocations"]) / SIGN_N
            opens = after["storage_opens"] - before["storage_opens"]
            reopen = timed(exe, env, "reopen", label, alg, REOPEN_N)
            soft = timed(exe, env, "soft", str(soft_key(work / f"{alg}.key", alg)),
                         alg, SIGN_N)
            name = {"ecdsa": "ECDSA P-256", "pss": "RSA-2048 PSS",
                    "ed25519": "Ed25519"}[alg]
            print(f"{name:<22}{ours:>12.0f}{reopen:>14.0f}{soft:>12.0f}"
                  f"{ours / reopen:>15.1f}x{ours / soft:>12.2f}x"
                  f"   ({per_sig:.2f} TA calls/sig, {opens} storage opens)")

        print(f"\n== HTTPS full handshakes per second: nginx, 2 workers, "
              f"{CLIENTS} concurrent clients, {HTTPS_N} requests")
        ca = tlsutil.DevCA(work / "ca")
        for ktype in ("p256", "rsa2048"):
            ident_dir = work / f"id-{ktype}"
            ref, cert = tlsutil.tee_server_identity(env, ca, ident_dir, f"web-{ktype}", ktype)
            soft = soft_key(ident_dir / "soft.key", {"p256": "ecdsa", "rsa2048": "pss"}[ktype])
            csr = ident_dir / "soft.csr"
            tlsutil.make_csr(env, soft, csr, use_provider_args=False)
            soft_cert = ca.issue(csr, ident_dir / "soft.pem")
            rates = {}
            for name, c, k in (("tee", cert, ref), ("software", soft_cert, soft)):
                ngx = start_nginx(work, f"nginx-{ktype}-{name}", c, k, env)
                try:
                    tlsutil.https_get(ngx.port, ca.cert_path)      # warm-up
                    before = sim.stats()
                    rates[name] = https_rate(ngx.port, ca.cert_path, HTTPS_N)
                    after = sim.stats()
                finally:
                    ngx.stop()
                if name == "tee":
                    calls = (after["ta_invocations"] - before["ta_invocations"]) / HTTPS_N
            print(f"{ktype:<10} TEE key {rates['tee']:7.0f}/s   software key "
                  f"{rates['software']:7.0f}/s   ratio {rates['tee'] / rates['software']:.2f}"
                  f"   TA invocations per handshake: {calls:.2f}")
        print("\n(simulator: a TA call is a Unix-socket round trip to another process;"
              " on OP-TEE it is an SMC world switch)")
    finally:
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
