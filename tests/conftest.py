"""Shared fixtures: a simulated TEE per test, free loopback ports, helpers.

Every process a test starts is stopped by PID at teardown; nothing is
killed by name.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import tlsutil
from tlsutil import free_port, wait_for_port  # noqa: F401 (the port helpers)

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
BIN = BUILD / "bin"
LIB = BUILD / "lib"
TEE_SIMD = BIN / "tee-simd"
# The TA's crypto backends (ta/Makefile CFG_OPTEE_TLS_CRYPTO): one
# simulator build each. The test_ta_* suites run against every backend;
# the others use OTLS_TA_BACKEND (default gp).
TA_BACKENDS = ("gp", "mbedtls")
SIMD_OF_BACKEND = {"gp": TEE_SIMD, "mbedtls": BIN / "tee-simd-mbedtls"}
DEFAULT_BACKEND = os.environ.get("OTLS_TA_BACKEND", "gp")
TEE_SIM_CTL = BIN / "tee-sim-ctl"
OPENSSL_CNF = BUILD / "openssl-optee.cnf"
MODULES = BUILD / "ossl-modules"
ENGINES = BUILD / "engines"

IS_ROOT = os.geteuid() == 0
NOBODY = 65534


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop exactly this process (SIGTERM, then SIGKILL)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def stop_all(stoppers) -> None:
    """Call every stop function, even when one of them fails; then raise
    the first failure. Teardowns use it so that one stuck process does not
    leave the others running."""
    first: BaseException | None = None
    for stop in stoppers:
        try:
            stop()
        except BaseException as e:  # noqa: BLE001 (re-raised below)
            first = first or e
    if first is not None:
        raise first


def as_user_prefix(uid: int = NOBODY, gid: int = NOBODY) -> list[str]:
    """Command prefix that runs a program as another uid (needs root)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]


_HELPER_STAGE: Path | None = None


def foreign_helpers() -> Path:
    """The tests/ dir of a world-readable copy of the ctypes helper clients
    (tests/teec.py, tests/sim_teec.py), the protocol header they parse and
    libteec, laid out like the checkout. A helper run as another uid
    (setpriv) may not be able to read the checkout itself: CI may clone it
    under a 0700 home directory."""
    global _HELPER_STAGE
    if _HELPER_STAGE is None:
        stage = Path(tempfile.mkdtemp(prefix="otls-helpers-"))
        files = [ROOT / "tests" / "teec.py", ROOT / "tests" / "sim_teec.py",
                 ROOT / "ta" / "include" / "optee_tls_ta.h",
                 LIB / "libteec.so.2"]
        for src in files:
            dst = stage / src.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        (stage / "build" / "lib" / "libteec.so").symlink_to("libteec.so.2")
        for d, dirs, names in os.walk(stage):
            os.chmod(d, 0o755)
            for n in names:
                os.chmod(Path(d) / n, 0o755 if n.endswith(".so.2") else 0o644)
        atexit.register(shutil.rmtree, stage, True)
        _HELPER_STAGE = stage
    return _HELPER_STAGE / "tests"


class Sim:
    """One running simulated secure world (tee-simd)."""

    def __init__(self, workdir: Path, huk: str | None = None,
                 without_ta: bool = False, user: str | None = None,
                 verbose: bool = False, core_crypto: str | None = None,
                 extra_args: tuple[str, ...] = (),
                 backend: str | None = None):
        self.workdir = workdir
        self.socket = workdir / "tee.sock"
        self.store = workdir / "store"
        self.huk = huk
        self.without_ta = without_ta
        self.user = user
        self.verbose = verbose
        self.core_crypto = core_crypto  # "tomcrypt" (default) or "mbedtls"
        self.extra_args = tuple(extra_args)
        self.backend = backend or DEFAULT_BACKEND  # the TA's, TA_BACKENDS
        self.binary = SIMD_OF_BACKEND[self.backend]
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "tee-simd.log"
        self.env = dict(os.environ)
        self.env.update({
            "OPTEE_SIM_SOCKET": str(self.socket),
            "LD_LIBRARY_PATH": os.pathsep.join(
                p for p in (str(LIB), os.environ.get("LD_LIBRARY_PATH", ""))
                if p),
        })
        if OPENSSL_CNF.exists():
            self.env["OPENSSL_CONF"] = str(OPENSSL_CNF)
        if MODULES.exists():
            self.env["OPENSSL_MODULES"] = str(MODULES)
        if ENGINES.exists():
            self.env["OPENSSL_ENGINES"] = str(ENGINES)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> "Sim":
        if not self.binary.exists():
            pytest.fail(f"{self.binary} missing: run make first")
        args = [str(self.binary), "--socket", str(self.socket),
                "--store", str(self.store)]
        if self.huk:
            args += ["--huk", self.huk]
        if self.without_ta:
            args.append("--without-ta")
        if self.user:
            args += ["--user", self.user]
        if self.verbose:
            args.append("--verbose")
        if self.core_crypto:
            args += ["--core-crypto", self.core_crypto]
        args += self.extra_args
        self.workdir.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()     # a daemon that did not come up is not left behind
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tee-simd exited: " + self.log.read_text())
            if self.socket.exists():
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(str(self.socket))
                    return
                except OSError:
                    pass
            time.sleep(0.02)
        raise TimeoutError("tee-simd did not come up: " + self.log.read_text())

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def ctl(self, *args: str) -> str:
        out = subprocess.run([str(TEE_SIM_CTL), "--socket", str(self.socket),
                              *args], check=True, capture_output=True,
                             text=True, timeout=30)
        return out.stdout

    def stats(self) -> dict:
        return json.loads(self.ctl("stats"))

    def run(self, args, check=True, **kw) -> subprocess.CompletedProcess:
        """Run a command in this simulator's environment."""
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 120)
        env = dict(self.env)
        env.update(kw.pop("env", {}) or {})
        return subprocess.run(args, check=check, env=env, **kw)


def pytest_generate_tests(metafunc):
    """TA suites (test_ta_*.py) run once per TA crypto backend."""
    if ("ta_backend" in metafunc.fixturenames
            and metafunc.module.__name__.startswith("test_ta_")):
        metafunc.parametrize("ta_backend", TA_BACKENDS, indirect=True,
                             scope="module")


@pytest.fixture(scope="module")
def ta_backend(request) -> str:
    """The TA crypto backend of this test's simulators."""
    return getattr(request, "param", DEFAULT_BACKEND)


@pytest.fixture
def sim_factory(ta_backend):
    """Start extra simulators (other HUK, without TA, ...) in one test.

    Their directories are made with mode 0711 outside pytest's 0700 tmp
    dirs, so that clients running as another uid (nginx workers, the
    owner tests) can reach the socket.
    """
    sims: list[Sim] = []
    base = Path(tempfile.mkdtemp(prefix="otls-sim-"))
    os.chmod(base, 0o711)

    def make(name: str = "sim", **kw) -> Sim:
        workdir = base / name
        workdir.mkdir(mode=0o711)
        os.chmod(workdir, 0o711)
        kw.setdefault("backend", ta_backend)
        s = Sim(workdir, **kw)
        sims.append(s)
        return s.start()

    try:
        yield make
    finally:
        try:
            stop_all(s.stop for s in sims)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sim(sim_factory) -> Sim:
    """A fresh simulator with an empty secure storage."""
    return sim_factory("sim")


@pytest.fixture
def openssl_bin() -> str:
    path = shutil.which("openssl")
    assert path, "openssl CLI missing"
    return path


@pytest.fixture(scope="session")
def need_engine():
    """ENGINE test modules use it (pytestmark usefixtures): fail when the
    build says the ENGINE exists but it is missing, skip only where this
    OpenSSL has no ENGINE API."""
    tlsutil.require_engine()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (CI=true) a skip is a failure unless its reason starts with
    tlsutil.PLATFORM_LIMIT: a suite that silently skips proves nothing."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or hasattr(rep, "wasxfail") or not in_ci():
        return
    longrepr = rep.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(tlsutil.PLATFORM_LIMIT):
        return
    rep.outcome = "failed"
    rep.longrepr = (f"skipped under CI={os.environ.get('CI')}, where only a "
                    f"skip whose reason starts with "
                    f"{tlsutil.PLATFORM_LIMIT!r} is allowed: {reason}")
