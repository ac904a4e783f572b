#!/usr/bin/env python3
"""make bench: optee-tls against baselines measured in the same run.

1. Signatures/s, every contender through the same loop (scripts/bench/
   evp_sign_bench.c: key loaded once through OSSL_STORE or libp11's ENGINE,
   one warm-up signature, then the clock; each signature a fresh
   EVP_DigestSignInit_ex + EVP_DigestSign of a 64-byte message, as libssl
   signs a handshake). Contenders are the list SIGN_CONTENDERS: the TEE
   key as optee:LABEL and as a PEM reference (through our provider), a
   software file key, libp11 + SoftHSM2. Reported apart, not as
   contenders: the TA-call floor (libopteetls otls_sign on a precomputed
   digest, no OpenSSL) and a new TA session per signature (the naive
   design), both through scripts/bench/sign_bench.c.
2. HTTPS: nginx (2 workers) with the TEE-held key vs the same nginx with a
   software key: full handshakes per second from concurrent clients, and
   exact TA invocations per handshake.
3. PKCS#11 baseline (what users compare us with: OP-TEE's PKCS#11 TA via
   libp11): the same normal-world stack over a throw-away SoftHSM2 token,
   libp11's pkcs11 ENGINE, and nginx with `ssl_engine pkcs11;` --
   handshakes/s and failed requests.
   Its Debian packages are bench-only: installed here when running as
   root, otherwise the section is skipped with the apt line to run.
Prints ratios; never fails on a number (the machine is shared and noisy).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import BUILD, NOBODY, Sim  # noqa: E402
import tlsutil  # noqa: E402

SIGN_N = int(os.environ.get("BENCH_SIGN_N", "400"))
REOPEN_N = int(os.environ.get("BENCH_REOPEN_N", "100"))
HTTPS_N = int(os.environ.get("BENCH_HTTPS_N", "300"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
# Every number is the median of ROUNDS runs, the contenders interleaved
# round by round (the machine is shared: load drifts within a run).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

# PKCS#11 baseline: bench-only Debian packages (not in install-deps.sh, so
# that `make check` never pays for them).
P11_APT = ("softhsm2", "libengine-pkcs11-openssl", "opensc")
P11_TOKEN = "otls-bench"
P11_PIN = "123456"
P11_SO_PIN = "12345678"
P11_KEYS = {"p256": ("EC:prime256v1", "01", "ecdsa"),
            "rsa2048": ("rsa:2048", "02", "pss")}
ALG_NAMES = {"ecdsa": "ECDSA P-256", "pss": "RSA-2048 PSS", "ed25519": "Ed25519"}


def build_sign_bench(out: Path) -> Path:
    exe = out / "sign_bench"
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2",
                    f"-I{ROOT}/engine/include", f"-I{ROOT}/ta/include",
                    f"-I{ROOT}/sim/include", str(ROOT / "scripts/bench/sign_bench.c"),
                    "-o", str(exe), f"-L{BUILD}/lib", "-lopteetls", "-lteec",
                    "-lcrypto", f"-Wl,-rpath,{BUILD}/lib"], check=True)
    return exe


def build_evp_sign_bench(out: Path) -> Path:
    """The one signing loop of every contender (knows nothing of optee)."""
    exe = out / "evp_sign_bench"
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2",
                    "-Wno-deprecated-declarations",  # the ENGINE API (libp11)
                    str(ROOT / "scripts/bench/evp_sign_bench.c"),
                    "-o", str(exe), "-lcrypto"], check=True)
    return exe


def timed(exe: Path, env: dict, mode: str, key: str, alg: str, n: int) -> float:
    out = subprocess.run([str(exe), mode, key, alg, str(n)], env=env,
                         capture_output=True, text=True, check=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return int(fields["ops"]) / float(fields["seconds"])


@dataclass
class Contender:
    """One row of the signature table: `key(alg)` gives (mode, key) for
    evp_sign_bench, or None where the contender has no such key."""
    name: str
    env: dict
    key: Callable[[str], tuple[str, str] | None]
    rates: dict = field(default_factory=dict)    # alg -> [sig/s]
    error: dict = field(default_factory=dict)    # alg -> first error line

    def measure(self, exe: Path, alg: str) -> None:
        spec = self.key(alg)
        if spec is None or alg in self.error:
            return
        try:
            self.rates.setdefault(alg, []).append(
                timed(exe, self.env, spec[0], spec[1], alg, SIGN_N))
        except subprocess.CalledProcessError as e:
            self.error[alg] = ((e.stderr or "").strip().splitlines() or ["?"])[0]


def soft_key(path: Path, alg: str) -> Path:
    spec = {"ecdsa": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "pss": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "ed25519": ["-algorithm", "ED25519"]}[alg]
    subprocess.run(["openssl", "genpkey", "-provider", "default", *spec, "-out", str(path)],
                   check=True, env=tlsutil.client_env(), capture_output=True)
    return path


def https_run(port: int, ca: Path, n: int, timeout: float = 30,
              budget: float | None = None, clients: int = CLIENTS) -> dict:
    """CLIENTS threads, n // CLIENTS fresh-connection requests each.
    Counts failures instead of stopping at the first one; a client gives up
    once `budget` seconds have passed (so a hung server cannot stall the
    bench). Returns ok, failed, seconds, rate (ok/s), first_error."""
    per = n // clients
    lock = threading.Lock()
    res = {"ok": 0, "failed": 0, "first_error": None}
    t0 = time.monotonic()

    def worker():
        for _ in range(per):
            if budget is not None and time.monotonic() - t0 > budget:
                with lock:
                    res["failed"] += 1
                    res["first_error"] = res["first_error"] or "time budget exceeded"
                continue
            try:
                status, _, _ = tlsutil.https_get(port, ca, timeout=timeout)
                if status != 200:
                    raise RuntimeError(f"HTTP status {status}")
                with lock:
                    res["ok"] += 1
            except Exception as e:  # count, report, don't hang
                with lock:
                    res["failed"] += 1
                    if res["first_error"] is None:
                        res["first_error"] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res["seconds"] = time.monotonic() - t0
    res["rate"] = res["ok"] / res["seconds"]
    return res


def https_rate(port: int, ca: Path, n: int, clients: int = CLIENTS) -> float:
    """Handshakes/s for our own servers: any failure is a bench error."""
    res = https_run(port, ca, n, clients=clients)
    if res["failed"]:
        raise RuntimeError(f"{res['failed']} of {res['ok'] + res['failed']} "
                           f"requests failed: {res['first_error']}")
    return res["rate"]


def start_nginx(work: Path, name: str, cert: Path, key: Path | str, env: dict,
                env_names=tlsutil.OPTEE_ENV_VARS,
                ssl_engine: str | None = None) -> tlsutil.Nginx:
    prefix = work / name
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    port = tlsutil.free_port()
    conf = tlsutil.render_nginx_conf(prefix, port, cert, key, workers=2,
                                     env_names=env_names, ssl_engine=ssl_engine)
    ngx = tlsutil.Nginx(prefix, conf, port, env)
    ngx.start()
    return ngx


# ---------------------------------------------------------------------------
# PKCS#11 baseline: libp11's ENGINE + SoftHSM2
# ---------------------------------------------------------------------------


def pkg_version(pkg: str) -> str | None:
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg],
                       capture_output=True, text=True)
    if p.returncode or not p.stdout.startswith("install ok installed"):
        return None
    return p.stdout.split()[-1]


def p11_files() -> tuple[str | None, str | None]:
    """(SoftHSM2 PKCS#11 module, libp11 ENGINE .so) or None where missing."""
    module = next((m for m in ("/usr/lib/softhsm/libsofthsm2.so",
                               *glob.glob("/usr/lib/*/softhsm/libsofthsm2.so"))
                   if os.path.exists(m)), None)
    out = subprocess.run(["openssl", "version", "-e"], capture_output=True,
                         text=True, env=tlsutil.client_env()).stdout
    m = re.search(r'ENGINESDIR: "([^"]+)"', out)
    engine = os.path.join(m.group(1), "pkcs11.so") if m else None
    return module, engine if engine and os.path.exists(engine) else None


def ensure_p11_packages() -> bool:
    """Install the bench-only packages as root; otherwise say what to run."""
    missing = [p for p in P11_APT if pkg_version(p) is None]
    line = "apt-get install -y --no-install-recommends " + " ".join(P11_APT)
    if missing:
        if os.geteuid() != 0:
            print(f"PKCS#11 baseline skipped: missing {' '.join(missing)}; as root run\n"
                  f"  {line}")
            return False
        print(f"(bench-only packages: apt-get install -y --no-install-recommends "
              f"{' '.join(missing)})", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode:  # stale package lists: refresh once and retry
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode:
            print(f"PKCS#11 baseline skipped: apt-get failed:\n{p.stderr.strip()[-800:]}\n"
                  f"  {line}")
            return False
    module, engine = p11_files()
    if not module or not engine:
        print(f"PKCS#11 baseline skipped: libsofthsm2.so={module} pkcs11.so={engine}")
        return False
    return True


class SoftHSMToken:
    """A throw-away SoftHSM2 token in a temp dir, keys made with pkcs11-tool,
    certificates from the dev CA via CSRs signed through libp11's ENGINE."""

    def __init__(self, directory: Path, module: str, engine: str):
        self.dir = directory
        self.module = module
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        tokens = self.dir / "tokens"
        tokens.mkdir()
        self.conf = self.dir / "softhsm2.conf"
        # Debian's /etc/softhsm/softhsm2.conf, except for the token dir.
        self.conf.write_text(f"directories.tokendir = {tokens}\n"
                             "objectstore.backend = file\nlog.level = ERROR\n"
                             "slots.removable = false\nslots.mechanisms = ALL\n"
                             "library.reset_on_fork = false\n")
        self.ossl_cnf = self.dir / "openssl-pkcs11.cnf"
        # The usual libp11 set-up: openssl.cnf names the ENGINE and module.
        self.ossl_cnf.write_text(
            "openssl_conf = openssl_init\n\n[openssl_init]\n"
            "engines = engine_section\n\n[engine_section]\n"
            "pkcs11 = pkcs11_section\n\n[pkcs11_section]\nengine_id = pkcs11\n"
            f"dynamic_path = {engine}\nMODULE_PATH = {module}\n")
        # Only the competitor's stack: no optee provider, no simulator.
        self.env = tlsutil.client_env()
        self.env.update(SOFTHSM2_CONF=str(self.conf), OPENSSL_CONF=str(self.ossl_cnf))
        self.run(["softhsm2-util", "--init-token", "--free", "--label", P11_TOKEN,
                  "--so-pin", P11_SO_PIN, "--pin", P11_PIN])

    def run(self, args) -> str:
        p = subprocess.run([str(a) for a in args], env=self.env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        if p.returncode:
            raise RuntimeError(f"{' '.join(map(str, args))}: "
                               f"{(p.stderr or p.stdout).strip()[-600:]}")
        return p.stdout

    def uri(self, label: str) -> str:
        return (f"pkcs11:token={P11_TOKEN};object={label};type=private;"
                f"pin-value={P11_PIN}")

    def keypair(self, label: str, ktype: str) -> str:
        spec, key_id, _ = P11_KEYS[ktype]
        self.run(["pkcs11-tool", "--module", self.module, "--token-label", P11_TOKEN,
                  "--login", "--pin", P11_PIN, "--keypairgen", "--key-type", spec,
                  "--label", label, "--id", key_id])
        return self.uri(label)

    def certificate(self, ca: tlsutil.DevCA, label: str) -> Path:
        csr = self.dir / f"{label}.csr"
        self.run(["openssl", "req", "-new", "-engine", "pkcs11", "-keyform", "engine",
                  "-key", self.uri(label), "-subj", "/CN=localhost", "-out", csr])
        return ca.issue(csr, self.dir / f"{label}.pem")  # verifies the CSR

    def hand_to(self, uid: int) -> None:
        """nginx workers run as nobody when the master is root: give the
        token to the worker user, as a real deployment would."""
        for root, dirs, files in os.walk(self.dir / "tokens"):
            for n in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(n, uid, uid)


def first_error_line(ngx: tlsutil.Nginx) -> str | None:
    for line in ngx.errors().splitlines():
        if re.search(r"\[(error|crit|alert|emerg)\]", line) or \
                "PKCS11" in line or "pkcs11" in line.lower():
            return line.strip()
    return None


class P11Baseline:
    """Set-up and results of the PKCS#11 baseline."""

    def __init__(self, work: Path, ca: tlsutil.DevCA):
        module, engine = p11_files()
        vers = {p: pkg_version(p) for p in P11_APT}
        self.versions = (f"libp11 ENGINE {vers['libengine-pkcs11-openssl']}, "
                         f"SoftHSM2 {vers['softhsm2']}, module {module}")
        self.tok = SoftHSMToken(work / "softhsm", module, engine)
        self.work = work
        self.ca = ca
        self.uris = {k: self.tok.keypair(f"p11-{k}", k) for k in P11_KEYS}
        self.certs = {k: self.tok.certificate(ca, f"p11-{k}") for k in P11_KEYS}
        self.https: dict = {}      # ktype -> {"rates", "ok", "failed", "note"}
        self.root_only = None
        if os.geteuid() == 0:
            # The field note's set-up: token files belong to root (who made
            # them; Debian's /var/lib/softhsm/tokens is root:softhsm 2770 and
            # www-data is not in group softhsm), the master (root) loads the
            # key, the workers run as nobody. Then give the token to the
            # worker user, as a working deployment must.
            self.root_only = self.https_once("p256", "nginx-p256-pkcs11-rootonly")
            self.tok.hand_to(NOBODY)

    def key_conf(self, ktype: str) -> str:
        return f'"engine:pkcs11:{self.tok.uri(f"p11-{ktype}")}"'

    def start_nginx(self, ktype: str, name: str) -> tlsutil.Nginx:
        return start_nginx(self.work, name, self.certs[ktype], self.key_conf(ktype),
                           self.tok.env, env_names=("OPENSSL_CONF", "SOFTHSM2_CONF"),
                           ssl_engine="pkcs11")

    def https_once(self, ktype: str, name: str) -> dict:
        """Start nginx, HTTPS_N requests, stop: {"rates", "ok", "failed", "note"}."""
        out = {"rates": [], "ok": 0, "failed": 0, "note": ""}
        try:
            ngx = self.start_nginx(ktype, name)
        except Exception as e:  # master could not load the key, etc.
            out["failed"] = HTTPS_N
            out["note"] = "nginx did not start: " + str(e).strip().splitlines()[0]
            return out
        try:
            self.measure(ngx, out, warm=True)
        finally:
            ngx.stop()
        self.finish(ngx, out)
        return out

    def measure(self, ngx: tlsutil.Nginx, out: dict, warm: bool = False) -> None:
        if warm:
            try:
                tlsutil.https_get(ngx.port, self.ca.cert_path, timeout=10)
            except Exception:
                pass  # counted below if it persists
        res = https_run(ngx.port, self.ca.cert_path, HTTPS_N, timeout=10, budget=120)
        out["ok"] += res["ok"]
        out["failed"] += res["failed"]
        if res["ok"]:
            out["rates"].append(res["rate"])
        if res["failed"] and "first_error" not in out:
            out["first_error"] = res["first_error"]

    @staticmethod
    def finish(ngx: tlsutil.Nginx, out: dict) -> None:
        if out["failed"]:
            out["note"] = (f"client: {out.get('first_error')}\n    nginx: "
                           f"{first_error_line(ngx) or '(no error logged)'}")


def setup_pkcs11(work: Path, ca: tlsutil.DevCA) -> tuple[P11Baseline | None, str]:
    if not ensure_p11_packages():
        return None, "skipped (see above)"
    try:
        return P11Baseline(work, ca), ""
    except Exception as e:  # the baseline must not take our numbers down
        return None, f"set-up failed: {type(e).__name__}: {e}"


def med(xs) -> float | None:
    return statistics.median(xs) if xs else None


def report_pkcs11(p11: P11Baseline | None, why: str, ours: dict) -> None:
    print("\n== PKCS#11 baseline: libp11 pkcs11 ENGINE + SoftHSM2 token "
          "(the normal-world stack of OP-TEE's PKCS#11 TA users)")
    if p11 is None:
        print(f"PKCS#11 baseline {why}")
        return
    print(p11.versions)
    rows = []   # (what, ours, theirs, failed, note)
    # (signatures/s against libp11 are rows of the signature table above)
    if p11.root_only is not None:
        r = p11.root_only
        rows.append(("nginx p256, token root-only", ours["https"]["p256"], med(r["rates"]),
                     f"{r['failed']}/{r['ok'] + r['failed']}", r["note"]))
    for ktype in P11_KEYS:
        r = p11.https.get(ktype)
        if r is None:
            continue
        rows.append((f"nginx {ktype} handshakes/s", ours["https"][ktype], med(r["rates"]),
                     f"{r['failed']}/{r['ok'] + r['failed']}", r["note"]))

    print(f"\n{'':<28}{'optee-tls':>10}{'pkcs11':>10}{'ours/pkcs11':>13}"
          f"{'pkcs11 failed':>15}")
    for what, o, t, failed, note in rows:
        ts = f"{t:10.0f}" if t is not None else f"{'n/a':>10}"
        ratio = f"{o / t:12.2f}x" if t else f"{'n/a':>13}"
        print(f"{what:<28}{o:10.0f}{ts}{ratio}{failed:>15}")
        if note:
            print(f"    {note}")
    pin_line = f"ssl_certificate_key {p11.key_conf('p256')};"
    print(f"""
Notes on the PKCS#11 baseline (medians of {ROUNDS} interleaved rounds, like ours):
 - SoftHSM2 is a software token: its keys are plain memory in the calling
   process, so every libp11 call is a function call. That makes it an UPPER
   BOUND for OP-TEE's PKCS#11 TA, which adds a world switch per C_* call and,
   as a single-instance TA, serialises all clients (both nginx workers).
   optee-tls runs through the simulator (a Unix-socket round trip per TA call).
 - nginx can only use the token with its PIN in a configuration file
   (the competitor's reality; here in clear text in nginx.conf):
     ssl_engine pkcs11;
     {pin_line}
 - nginx loads the key in the master (root) and signs in 2 forked workers
   (nobody). "nginx ... handshakes/s" rows: token files owned by the worker
   user. "token root-only" row: token files owned by root, as softhsm2-util /
   pkcs11-tool leave them and as with Debian's /var/lib/softhsm/tokens
   (root:softhsm 2770, www-data not a member): the key loads in the master,
   then every handshake in the workers fails.
 - SoftHSM2 with Debian's default library.reset_on_fork = false. Successful
   handshakes are signed by the token: the certificate's key exists nowhere
   else.""")


def machine_line() -> str:
    """What the figures were taken on (printed first: docs quote it)."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in
                Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    def ver(cmd):
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr) else "?"
    return (f"machine: {cpu}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at start; {ver(['openssl', 'version'])}; "
            f"{ver(['nginx', '-v'])}; Linux {os.uname().release}")


SIGN_KEYS = (("ecdsa", "b-p256", "p256"), ("pss", "b-rsa2048", "rsa2048"),
             ("ed25519", "b-ed25519", "ed25519"))


def sign_contenders(work: Path, env: dict, p11: P11Baseline | None,
                    env_mb: dict) -> list[Contender]:
    """Every contender of the signature table; the first is ours and the
    ratios are against it. (More rows, e.g. another backend or a board,
    are more entries here.)"""
    label = {alg: lab for alg, lab, _ in SIGN_KEYS}
    rows = [
        Contender("optee-tls, key optee:LABEL", env,
                  lambda a: ("store", f"optee:{label[a]}")),
        # The TA built with CFG_OPTEE_TLS_CRYPTO=mbedtls (Ed25519: GP path).
        Contender("optee-tls mbedTLS TA backend", env_mb,
                  lambda a: ("store", f"optee:{label[a]}")),
        Contender("optee-tls, PEM key reference", env,
                  lambda a: ("store", str(work / f"{label[a]}.pem"))),
        Contender("software key file", env,
                  lambda a: ("store", str(work / f"{a}.key"))),
    ]
    if p11 is not None:
        kt = {v[2]: k for k, v in P11_KEYS.items()}
        rows.append(Contender(
            "libp11 ENGINE + SoftHSM2", p11.tok.env,
            lambda a: ("engine:pkcs11", p11.uris[kt[a]]) if a in kt else None))
    return rows


def keygen_table(work: Path, envs: dict) -> None:
    """Key generation time per TA backend (libopteetls in a child process,
    so it includes starting Python: compare rows, not absolute values)."""
    times: dict = {}
    for r in range(ROUNDS):
        for backend, env in envs.items():
            for ktype in ("p256", "rsa2048"):
                t0 = time.monotonic()
                tlsutil.tee_genkey_lib(env, f"kg-{ktype}-{r}", ktype,
                                       work / f"kg-{backend}-{ktype}-{r}.pem")
                times.setdefault((backend, ktype), []).append(
                    time.monotonic() - t0)
    print(f"\n== key generation in the TA, seconds (median of {ROUNDS}; "
          f"includes a Python start, the same for every row)")
    for (backend, ktype), ts in sorted(times.items()):
        print(f"{ktype:<10} TA backend {backend:<8} {med(ts):8.3f} s")


def sign_table(work: Path, env: dict, sim: Sim, p11: P11Baseline | None,
               ours: dict, env_mb: dict) -> None:
    evp = build_evp_sign_bench(work)
    floor_exe = build_sign_bench(work)
    for alg, label, ktype in SIGN_KEYS:
        tlsutil.lib_genkey(label, ktype, work / f"{label}.pem")
        tlsutil.tee_genkey_lib(env_mb, label, ktype, work / f"mb-{label}.pem")
        soft_key(work / f"{alg}.key", alg)
    contenders = sign_contenders(work, env, p11, env_mb)
    floor: dict = {}
    reopen: dict = {}
    calls: dict = {}
    for alg, label, _ in SIGN_KEYS:
        for _ in range(ROUNDS):     # contenders interleaved round by round
            before = sim.stats()["ta_invocations"]
            contenders[0].measure(evp, alg)
            calls[alg] = calls.get(alg, 0) + sim.stats()["ta_invocations"] - before
            for c in contenders[1:]:
                c.measure(evp, alg)
            floor.setdefault(alg, []).append(
                timed(floor_exe, env, "otls", label, alg, SIGN_N))
            reopen.setdefault(alg, []).append(
                timed(floor_exe, env, "reopen", label, alg, REOPEN_N))

    print(f"== signatures per second: one process, sequential, key loaded and one "
          f"signature made before the clock; EVP_DigestSign with SHA-256 of a 64-byte "
          f"message (Ed25519: the message), {SIGN_N} per run, median of {ROUNDS} runs")
    print(f"{'algorithm':<14}{'contender':<32}{'sig/s':>10}{'optee-tls/this':>16}")
    for alg, _, _ in SIGN_KEYS:
        first = med(contenders[0].rates.get(alg))
        ours["sig"][alg] = first
        for c in contenders:
            r = med(c.rates.get(alg))
            if r is None:
                why = c.error.get(alg, "no such key in this contender")
                print(f"{ALG_NAMES[alg]:<14}{c.name:<32}{'n/a':>10}{'':>16}   ({why})")
                continue
            ratio = f"{first / r:15.2f}x" if first else f"{'n/a':>16}"
            print(f"{ALG_NAMES[alg]:<14}{c.name:<32}{r:10.0f}{ratio}")
        print(f"{'':<14}{'(TA calls per signature)':<32}"
              f"{(calls[alg] / ROUNDS - 2) / SIGN_N:10.2f}")
    print("\nNot contenders (no OpenSSL in the loop), for scale:")
    print(f"{'algorithm':<14}{'':<32}{'sig/s':>10}")
    for alg, _, _ in SIGN_KEYS:
        print(f"{ALG_NAMES[alg]:<14}{'TA-call floor: otls_sign':<32}{med(floor[alg]):10.0f}")
        print(f"{ALG_NAMES[alg]:<14}{'new TA session per signature':<32}"
              f"{med(reopen[alg]):10.0f}")
    print("(TA-call floor: libopteetls on a precomputed digest, one kept session;"
          " what the provider adds on top is the gap to the first table's rows)")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="otls-bench-"))
    os.chmod(work, 0o755)
    sim = Sim(work / "sim").start()
    sim_mb: Sim | None = None
    ours: dict = {"sig": {}, "https": {}}
    try:
        sim_mb = Sim(work / "sim-mbedtls", backend="mbedtls").start()
        env = sim.env
        os.environ.update({k: env[k] for k in tlsutil.OPTEE_ENV_VARS if k in env})
        print(machine_line())
        ca = tlsutil.DevCA(work / "ca")
        p11, p11_why = setup_pkcs11(work, ca)

        sign_table(work, env, sim, p11, ours, sim_mb.env)
        keygen_table(work, {"gp": env, "mbedtls": sim_mb.env})
        print(f"\n== HTTPS full handshakes per second: nginx, 2 workers, "
              f"{CLIENTS} concurrent clients, {HTTPS_N} requests (median of {ROUNDS})")
        for ktype in ("p256", "rsa2048"):
            ident_dir = work / f"id-{ktype}"
            ref, cert = tlsutil.tee_server_identity(env, ca, ident_dir, f"web-{ktype}", ktype)
            soft = soft_key(ident_dir / "soft.key", {"p256": "ecdsa", "rsa2048": "pss"}[ktype])
            csr = ident_dir / "soft.csr"
            tlsutil.make_csr(env, soft, csr, use_provider_args=False)
            soft_cert = ca.issue(csr, ident_dir / "soft.pem")
            servers: dict = {}
            rates: dict = {"tee": [], "software": [], "tee1": [], "software1": []}
            p11_out = {"rates": [], "ok": 0, "failed": 0, "note": ""}
            calls = 0
            try:
                for name, c, k in (("tee", cert, ref), ("software", soft_cert, soft)):
                    servers[name] = start_nginx(work, f"nginx-{ktype}-{name}", c, k, env)
                    tlsutil.https_get(servers[name].port, ca.cert_path)      # warm-up
                if p11 is not None:
                    try:
                        servers["pkcs11"] = p11.start_nginx(ktype, f"nginx-{ktype}-pkcs11")
                    except Exception as e:
                        p11_out["failed"] = HTTPS_N * ROUNDS
                        p11_out["note"] = ("nginx did not start: "
                                           + str(e).strip().splitlines()[0])
                for r in range(ROUNDS):
                    before = sim.stats()
                    rates["tee"].append(https_rate(servers["tee"].port, ca.cert_path, HTTPS_N))
                    after = sim.stats()
                    calls += after["ta_invocations"] - before["ta_invocations"]
                    rates["software"].append(
                        https_rate(servers["software"].port, ca.cert_path, HTTPS_N))
                    # One client at a time: what concurrency is worth.
                    for name in ("tee", "software"):
                        rates[name + "1"].append(https_rate(
                            servers[name].port, ca.cert_path, HTTPS_N // 4,
                            clients=1))
                    if "pkcs11" in servers:
                        p11.measure(servers["pkcs11"], p11_out, warm=(r == 0))
            finally:
                for ngx in servers.values():
                    ngx.stop()
            if "pkcs11" in servers:
                p11.finish(servers["pkcs11"], p11_out)
            if p11 is not None:
                p11.https[ktype] = p11_out
            tee, sw = med(rates["tee"]), med(rates["software"])
            ours["https"][ktype] = tee
            print(f"{ktype:<10} TEE key {tee:7.0f}/s   software key "
                  f"{sw:7.0f}/s   ratio {tee / sw:.2f}"
                  f"   TA invocations per handshake: {calls / (HTTPS_N * ROUNDS):.2f}")
            tee1, sw1 = med(rates["tee1"]), med(rates["software1"])
            print(f"{'':<10} 1 client: TEE key {tee1:5.0f}/s   software key "
                  f"{sw1:5.0f}/s   ratio {tee1 / sw1:.2f}   "
                  f"{CLIENTS} clients / 1 client: TEE {tee / tee1:.2f}, "
                  f"software {sw / sw1:.2f}")
        print("\n(simulator: a TA call is a Unix-socket round trip to another process;"
              " on OP-TEE it is an SMC world switch)")

        report_pkcs11(p11, p11_why, ours)
    finally:
        sim.stop()
        if sim_mb is not None:
            sim_mb.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
