"""sim/with-sim: environment, exit status, cleanup of what it started."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, TEE_SIMD

WITH_SIM = ROOT / "sim" / "with-sim"
HERE = Path(__file__).resolve().parent


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(WITH_SIM), *args], **kw)


def daemons_on(sock: str) -> list[int]:
    """tee-simd processes whose command line names this socket."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"tee-simd") and sock.encode() in argv:
            found.append(int(d.name))
    return found


@pytest.fixture(autouse=True)
def need_build():
    if not TEE_SIMD.exists():
        pytest.fail(f"{TEE_SIMD} missing: run make first")


def test_environment_and_status():
    r = run(["sh", "-c", 'echo "$OPTEE_SIM_SOCKET"; echo "$LD_LIBRARY_PATH";'
             ' build/bin/tee-sim-ctl stats; exit 7'], cwd=ROOT,
            env=dict(os.environ, LD_LIBRARY_PATH="/x/y"))
    assert r.returncode == 7, r.stderr
    sock, ldpath, stats = r.stdout.splitlines()[:3]
    assert ldpath == f"{BUILD / 'lib'}{os.pathsep}/x/y"
    assert json.loads(stats)["sessions_opened"] == 0
    # Everything it made is gone, and so is its daemon.
    assert not Path(sock).exists() and not Path(sock).parent.exists()
    assert daemons_on(sock) == []


def test_openssl_variables_follow_build_contents():
    r = run(["sh", "-c", 'echo "M=${OPENSSL_MODULES-unset}";'
             'echo "C=${OPENSSL_CONF-unset}"; echo "E=${OPENSSL_ENGINES-unset}"'],
            env={k: v for k, v in os.environ.items()
                 if not k.startswith("OPENSSL_")})
    assert r.returncode == 0, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines())
    mod = BUILD / "ossl-modules"
    assert got["M"] == (str(mod) if (mod / "optee.so").exists() else "unset")
    cnf = BUILD / "openssl-optee.cnf"
    assert got["C"] == (str(cnf) if cnf.exists() else "unset")
    eng = BUILD / "engines"
    assert got["E"] == (str(eng) if (eng / "optee.so").exists() else "unset")


def test_client_in_command_uses_the_simulator():
    r = run([sys.executable, str(HERE / "sim_teec.py"), "info", "--login",
             "user"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["result"] == 0 and out["info"]["protocol_version"] == 1


@pytest.mark.parametrize("script,status", [
    ("exit 0", 0), ("exit 3", 3), ("kill -TERM $$", 128 + signal.SIGTERM),
    ("kill -KILL $$", 128 + signal.SIGKILL)])
def test_exit_status(script, status):
    assert run(["sh", "-c", script]).returncode == status


def test_missing_command_and_usage():
    r = run(["/nonexistent/cmd"])
    assert r.returncode == 127 and "cannot run" in r.stderr
    r = run([])
    assert r.returncode == 2 and "no command" in r.stderr
    r = run(["--bogus", "true"])
    assert r.returncode == 2 and "unknown option" in r.stderr


def test_explicit_store_is_kept(tmp_path):
    store = tmp_path / "keys"
    r = run(["--store", str(store), "--huk", "11" * 32, "sh", "-c",
             'echo "$OPTEE_SIM_SOCKET"'])
    assert r.returncode == 0, r.stderr
    assert store.is_dir() and (store.stat().st_mode & 0o777) == 0o700
    assert daemons_on(r.stdout.strip()) == []


def test_daemon_failure_is_reported():
    r = run(["--huk", "zz", "true"])
    assert r.returncode == 1
    assert "64 hex digits" in r.stderr and "tee-simd exited" in r.stderr


def test_missing_build_says_run_make(tmp_path):
    r = run(["true"], env=dict(os.environ, OPTEE_TLS_BUILD=str(tmp_path)))
    assert r.returncode == 2 and "run make first" in r.stderr


def _alive(pid: int, name: bytes) -> bool:
    """pid still runs a program whose argv[0] ends with name."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return argv0.endswith(name)


def _cleanup(proc: subprocess.Popen, sock: str | None, cmd_pid: int | None):
    """Whatever happened: stop with-sim, the daemon on this test's own
    socket and the test's own command, each by PID."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)
    if sock:
        for pid in daemons_on(sock):
            os.kill(pid, signal.SIGKILL)
    if cmd_pid and _alive(cmd_pid, b"sleep"):
        os.kill(cmd_pid, signal.SIGKILL)
    if proc.stdout:
        proc.stdout.close()


def test_signal_to_with_sim_stops_everything():
    proc = subprocess.Popen([str(WITH_SIM), "sh", "-c",
                             'echo "$OPTEE_SIM_SOCKET $$"; exec sleep 600'],
                            stdout=subprocess.PIPE, text=True)
    sock = cmd_pid = None
    try:
        sock, pid = proc.stdout.readline().split()
        cmd_pid = int(pid)
        assert daemons_on(sock)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        assert daemons_on(sock) == []
        assert not _alive(cmd_pid, b"sleep")
        assert not Path(sock).parent.exists()
    finally:
        _cleanup(proc, sock, cmd_pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_while_command_starts_is_passed_on(sig):
    """CMD signals with-sim as its very first act, so the signal arrives
    while with-sim is still starting it (before or after it knows the
    child): it must reach CMD in every case, never be lost."""
    for _ in range(5):
        proc = subprocess.Popen(
            [str(WITH_SIM), "sh", "-c",
             f'echo "$OPTEE_SIM_SOCKET $$"; kill -{int(sig)} $PPID;'
             ' exec sleep 600'], stdout=subprocess.PIPE, text=True)
        sock = cmd_pid = None
        try:
            sock, pid = proc.stdout.readline().split()
            cmd_pid = int(pid)
            assert proc.wait(timeout=60) == 128 + sig
            assert daemons_on(sock) == []
            assert not _alive(cmd_pid, b"sleep")
            assert not Path(sock).parent.exists()
        finally:
            _cleanup(proc, sock, cmd_pid)


def test_signal_during_daemon_start_stops_it(tmp_path):
    """A signal that comes while tee-simd is starting (before CMD exists):
    with-sim stops the daemon, does not run CMD and exits 128+N. The build
    dir here is the real one except that bin/tee-simd first signals
    with-sim (its parent), then runs the real daemon."""
    build = tmp_path / "build"
    (build / "bin").mkdir(parents=True)
    (build / "lib").symlink_to(BUILD / "lib")
    args_file = tmp_path / "daemon-args"
    wrapper = build / "bin" / "tee-simd"
    wrapper.write_text(f'#!/bin/sh\necho "$@" > {args_file}\n'
                       f'kill -TERM $PPID\nexec {TEE_SIMD} "$@"\n')
    wrapper.chmod(0o755)
    marker = tmp_path / "ran"
    proc = subprocess.Popen([str(WITH_SIM), "touch", str(marker)],
                            env=dict(os.environ, OPTEE_TLS_BUILD=str(build)))
    sock = None
    try:
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        argv = args_file.read_text().split()
        sock = argv[argv.index("--socket") + 1]
        assert daemons_on(sock) == []
        assert not marker.exists()
        assert not Path(sock).parent.exists()
    finally:
        _cleanup(proc, sock, None)
