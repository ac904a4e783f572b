"""Client identity of a session: login methods map to TEE_Identity as the
Linux TEE subsystem does (UUIDv5 of "uid=%x" / "gid=%x"; nil for PUBLIC).

The daemon runs with --verbose, which logs the identity it hands to the TA;
the expected UUIDs are computed independently with Python's uuid module.
Tests that act as another uid need root (setpriv).
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import (IS_ROOT, NOBODY, TEE_SIMD, as_user_prefix,
                      foreign_helpers, stop_process)
import sim_teec as T

HERE = Path(__file__).resolve().parent
NS = uuid.UUID(T.CLIENT_UUID_NS)
NIL = "00000000-0000-0000-0000-000000000000"


class VerboseSim:
    def __init__(self, env: dict | None = None, prefix=()):
        """prefix: a command the daemon runs under (valgrind)."""
        # Other uids must reach the socket: pytest's tmp dirs are 0700.
        self.dir = Path(tempfile.mkdtemp(prefix="tee-sim-id."))
        os.chmod(self.dir, 0o711)
        self.socket = self.dir / "socket"
        self.log = self.dir / "log"
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                [*prefix, str(TEE_SIMD), "--socket", str(self.socket),
                 "--store", str(self.dir / "store"), "--verbose"],
                stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 60
            while "listening on" not in self.log.read_text():
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "tee-simd did not start"
                time.sleep(0.01)
        except BaseException:
            self.stop()
            raise
        self.env = dict(os.environ, OPTEE_SIM_SOCKET=str(self.socket),
                        LD_LIBRARY_PATH=str(T.LIBTEEC.parent))

    def client(self, *args, prefix=()):
        """Run sim_teec.py info ARGS (as another user with prefix)."""
        script = (foreign_helpers() if prefix else HERE) / "sim_teec.py"
        r = subprocess.run(list(prefix) + [sys.executable, str(script),
                                           "info", *args],
                           env=self.env, capture_output=True, text=True,
                           timeout=60, check=True)
        return json.loads(r.stdout)

    def identity_of(self, session_id: int) -> tuple[int, str]:
        """(login, client UUID) the daemon gave instance session_id."""
        pat = re.compile(rf"instance {session_id} for client .* login "
                         r"(\d+), client identity ([0-9a-f-]{36})")
        for line in self.log.read_text().splitlines():
            m = pat.search(line)
            if m:
                return int(m.group(1)), m.group(2)
        raise AssertionError(f"no identity logged for {session_id}:\n"
                             + self.log.read_text())

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def vsim():
    if not TEE_SIMD.exists():
        pytest.fail(f"{TEE_SIMD} missing: run make first")
    s = VerboseSim()
    yield s
    s.stop()


def expect_ok(out):
    assert out["stage"] == "invoke" and out["result"] == T.TEEC_SUCCESS, out
    assert out["origin"] == T.TEEC_ORIGIN_TRUSTED_APP
    assert out["info"]["protocol_version"] == 1
    return out["session_id"]


def test_uuid_v5_reference_values():
    # Known answers of the Linux derivation, pinned.
    assert str(uuid.uuid5(NS, "uid=0")) == \
        "ef0180a3-13f3-5d1c-b7f5-888c0e21059a"
    assert str(uuid.uuid5(NS, "gid=0")) == \
        "d93bc168-f863-58d3-a1fe-bb2039421b99"


def test_public_user_group_as_current_user(vsim):
    uid, gid = os.geteuid(), os.getegid()
    sid = expect_ok(vsim.client("--login", "public"))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_PUBLIC, NIL)
    sid = expect_ok(vsim.client("--login", "user"))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_USER,
                                     str(uuid.uuid5(NS, f"uid={uid:x}")))
    sid = expect_ok(vsim.client("--login", "group", "--gid", str(gid)))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_GROUP,
                                     str(uuid.uuid5(NS, f"gid={gid:x}")))


def test_application_login_rejected(vsim):
    out = vsim.client("--login", "application")
    assert out["stage"] == "open"
    # Linux refuses application logins (EINVAL -> BAD_PARAMETERS, COMMS).
    assert (out["result"], out["origin"]) == (T.TEEC_ERROR_BAD_PARAMETERS,
                                              T.TEEC_ORIGIN_COMMS)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as nobody")
def test_identity_of_another_uid(vsim):
    nobody = as_user_prefix(NOBODY, NOBODY)
    out = vsim.client("--login", "user", prefix=nobody)
    assert out["uid"] == NOBODY
    sid = expect_ok(out)
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_USER,
                                     str(uuid.uuid5(NS, "uid=fffe")))
    sid = expect_ok(vsim.client("--login", "group", "--gid", str(NOBODY),
                                prefix=nobody))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_GROUP,
                                     str(uuid.uuid5(NS, "gid=fffe")))


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as nobody")
def test_group_membership_is_checked(vsim):
    nobody = as_user_prefix(NOBODY, NOBODY)
    out = vsim.client("--login", "group", "--gid", "0", prefix=nobody)
    assert out["stage"] == "open"
    assert (out["result"], out["origin"]) == (T.TEEC_ERROR_ACCESS_DENIED,
                                              T.TEEC_ORIGIN_COMMS)
    # A supplementary group counts.
    member = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
              "--groups=4321"]
    sid = expect_ok(vsim.client("--login", "group", "--gid", "4321",
                                prefix=member))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_GROUP,
                                     str(uuid.uuid5(NS, "gid=10e1")))


def _member(gids) -> list[str]:
    """setpriv prefix: nobody with these supplementary groups."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
            "--groups=" + ",".join(map(str, gids))]


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as nobody")
def test_group_login_with_many_supplementary_groups(vsim):
    """More groups than the daemon's first SO_PEERGROUPS buffer holds (64):
    it asks again with the size the kernel gives (the ERANGE path)."""
    gids = list(range(5000, 5100))
    sid = expect_ok(vsim.client("--login", "group", "--gid", "5099",
                                prefix=_member(gids)))
    assert vsim.identity_of(sid) == (T.TEEC_LOGIN_GROUP,
                                     str(uuid.uuid5(NS, "gid=13eb")))
    out = vsim.client("--login", "group", "--gid", "5100",
                      prefix=_member(gids))
    assert (out["stage"], out["result"], out["origin"]) == (
        "open", T.TEEC_ERROR_ACCESS_DENIED, T.TEEC_ORIGIN_COMMS)


# getsockopt(SO_PEERGROUPS) failing with the errno in SHIM_PEERGROUPS_ERRNO
# (LD_PRELOAD into tee-simd): the kernel answers we cannot get otherwise.
PEERGROUPS_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	if (level == SOL_SOCKET && name == SO_PEERGROUPS) {
		errno = atoi(getenv("SHIM_PEERGROUPS_ERRNO"));
		return -1;
	}
	return ((getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt"))(fd, level, name,
							       val, len);
}
"""


def _shimmed_sim(tmp_path, err: int, prefix=()) -> VerboseSim:
    src = tmp_path / "shim.c"
    src.write_text(PEERGROUPS_SHIM)
    so = tmp_path / "peergroups-shim.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Werror", "-o",
                    str(so), str(src), "-ldl"], check=True)
    env = dict(os.environ, LD_PRELOAD=str(so), SHIM_PEERGROUPS_ERRNO=str(err))
    return VerboseSim(env=env, prefix=prefix)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as nobody")
def test_group_login_refused_when_groups_cannot_be_read(tmp_path):
    """SO_PEERGROUPS fails (EINVAL): the daemon reads no group list at all
    (valgrind memcheck sees no uninitialised read) and refuses the group
    login of a supplementary member, saying why; the primary group still
    works (it comes with SO_PEERCRED)."""
    valgrind = shutil.which("valgrind")
    assert valgrind, "valgrind missing (scripts/deps/apt.txt names it)"
    vg_logs = tmp_path / "vg"
    vg_logs.mkdir()
    s = _shimmed_sim(tmp_path, errno.EINVAL, prefix=[
        valgrind, "--quiet", "--error-exitcode=99",
        f"--log-file={vg_logs}/%p.log"])
    try:
        out = s.client("--login", "group", "--gid", "4321",
                       prefix=_member([4321]))
        assert (out["stage"], out["result"], out["origin"]) == (
            "open", T.TEEC_ERROR_ACCESS_DENIED, T.TEEC_ORIGIN_COMMS), out
        assert "cannot read its groups (SO_PEERGROUPS: Invalid argument)" \
            in s.log.read_text()
        expect_ok(s.client("--login", "group", "--gid", str(NOBODY),
                           prefix=_member([4321])))
    finally:
        s.stop()
    reports = {p.name: p.read_text() for p in vg_logs.iterdir()}
    assert reports, "valgrind wrote no log"
    bad = {n: t for n, t in reports.items() if t.strip()}
    assert not bad, bad      # --quiet: a log with text is an error report


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as nobody")
def test_group_login_on_a_kernel_without_peergroups(tmp_path):
    """ENOPROTOOPT (kernel < 4.13): the groups come from /proc instead."""
    s = _shimmed_sim(tmp_path, errno.ENOPROTOOPT)
    try:
        expect_ok(s.client("--login", "group", "--gid", "4321",
                           prefix=_member([4321])))
        out = s.client("--login", "group", "--gid", "4322",
                       prefix=_member([4321]))
        assert out["result"] == T.TEEC_ERROR_ACCESS_DENIED, out
    finally:
        s.stop()
