"""tee-simd: robustness, counters, instances, panics, lifecycle, --user.

These tests need build/bin/tee-simd built with the real TA (make).
"""
from __future__ import annotations

import ctypes as C
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import (IS_ROOT, foreign_helpers, NOBODY, TEE_SIM_CTL, TEE_SIMD, Sim,
                      as_user_prefix, stop_process)
import sim_teec as T

HERE = Path(__file__).resolve().parent

# ---- raw simwire messages (sim/src/simwire.h) -----------------------------
MAGIC = 0x5753544F
HDR = struct.Struct("<IHHI")
OP = struct.Struct("<II" + "II" * 4)
OPEN_SESSION, INVOKE, CLOSE_SESSION, REPLY = 1, 2, 3, 16
CTL_STATS = 33
REPLY_FIXED = struct.Struct("<IIII")
REPLY_SIZE = REPLY_FIXED.size + OP.size


def msg(mtype: int, payload: bytes = b"", magic=MAGIC, version=1,
        length=None) -> bytes:
    return HDR.pack(magic, version, mtype,
                    len(payload) if length is None else length) + payload


def op(types: int = 0, params=((0, 0),) * 4, reserved=0) -> bytes:
    flat = [x for p in params for x in p]
    return OP.pack(types, reserved, *flat)


def op1(types: int, a: int, b: int) -> bytes:
    """An op whose first parameter is (a, b)."""
    return op(types, ((a, b), (0, 0), (0, 0), (0, 0)))


def ta_uuid_octets(text: str = T.OTLS_TA_UUID) -> bytes:
    return bytes.fromhex(text.replace("-", ""))


def open_payload(login=T.TEEC_LOGIN_PUBLIC, gid=0, oper: bytes | None = None,
                 uuid: bytes | None = None) -> bytes:
    return ((uuid or ta_uuid_octets()) + struct.pack("<II", login, gid)
            + (oper if oper is not None else op()))


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n}")
        buf += chunk
    return buf


def read_reply(s: socket.socket):
    magic, version, mtype, length = HDR.unpack(recv_exact(s, HDR.size))
    assert (magic, version, mtype) == (MAGIC, 1, REPLY)
    body = recv_exact(s, length)
    result, origin, sid, flags = REPLY_FIXED.unpack(body[:16])
    return result, origin, sid, flags, body[REPLY_SIZE:] if flags else body[16 + 40:]


def raw_conn(sim: Sim) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(sim.socket))
    return s


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_until(pred, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def instances(sim: Sim) -> set[int]:
    return {int(x) for x in sim.ctl("instances").split()}


@pytest.fixture
def client(sim, monkeypatch):
    monkeypatch.setenv("OPTEE_SIM_SOCKET", str(sim.socket))
    cl = T.Client()
    assert cl.res == T.TEEC_SUCCESS, hex(cl.res)
    yield cl
    cl.finalize()


def open_ok(cl: T.Client, **kw) -> T.TEEC_Session:
    res, origin, sess = cl.open(**kw)
    assert (res, origin) == (T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP), \
        (hex(res), origin)
    return sess


def info_ok(cl: T.Client, sess) -> dict:
    res, origin, size, info = cl.get_info(sess)
    assert (res, origin, size) == (T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP,
                                   T.OTLS_INFO_SIZE), (hex(res), origin, size)
    assert info["protocol_version"] == 1
    return info


# ---- counters -------------------------------------------------------------

def test_stats_is_one_json_object_with_exact_keys(sim):
    out = subprocess.run([str(TEE_SIM_CTL), "--socket", str(sim.socket),
                          "stats"], check=True, capture_output=True,
                         text=True).stdout
    stats = json.loads(out)
    assert set(stats) == {"sessions_opened", "ta_invocations",
                          "storage_opens", "storage_creates",
                          "storage_deletes", "panics"}
    assert stats["sessions_opened"] == 0 and stats["panics"] == 0
    assert stats["ta_invocations"] == 0


def test_ctl_uses_env_socket_and_reports_errors(sim, tmp_path):
    env = dict(os.environ, OPTEE_SIM_SOCKET=str(sim.socket))
    out = subprocess.run([str(TEE_SIM_CTL), "ping"], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("tee-simd")
    r = subprocess.run([str(TEE_SIM_CTL), "--socket",
                        str(tmp_path / "nothing"), "stats"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot connect" in r.stderr
    r = subprocess.run([str(TEE_SIM_CTL), "frobnicate"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_counters_are_exact(sim, client):
    before = sim.stats()
    sess = open_ok(client)
    n = 17
    for _ in range(n):
        info_ok(client, sess)
    mid = sim.stats()
    assert mid["ta_invocations"] - before["ta_invocations"] == n
    assert mid["sessions_opened"] - before["sessions_opened"] == 1
    # Requests refused by the API never reach the TA.
    bad = T.TEEC_Operation()
    bad.paramTypes = T.param_types(4)
    assert client.invoke(sess, 0, bad) == (T.TEEC_ERROR_BAD_PARAMETERS,
                                           T.TEEC_ORIGIN_API)
    client.close(sess)
    after = sim.stats()
    assert after["ta_invocations"] - before["ta_invocations"] == n
    assert after["panics"] == 0


# ---- malformed clients ----------------------------------------------------

GARBAGE = [
    b"\x00" * 3,                                        # short header
    os.urandom(64),                                     # noise
    msg(OPEN_SESSION, magic=0x12345678),                # bad magic
    msg(OPEN_SESSION, version=9),                       # bad version
    msg(OPEN_SESSION, length=0xFFFFFFFF),               # huge length
    msg(OPEN_SESSION, length=1 << 30),
    msg(OPEN_SESSION, b"x" * 10),                       # truncated open
    msg(OPEN_SESSION, open_payload(oper=op(0x4))),      # bad param type
    msg(OPEN_SESSION, open_payload(oper=op(0x10000))),  # bits above p3
    msg(OPEN_SESSION, open_payload(oper=op(reserved=1))),
    msg(OPEN_SESSION, open_payload(oper=op1(5, (1 << 20) + 1, 0))),  # > 1 MiB
    msg(OPEN_SESSION, open_payload(oper=op1(5, 100, 0))),   # data missing
    msg(OPEN_SESSION, open_payload(oper=op1(6, 8, 1))),     # null with size
    msg(OPEN_SESSION, open_payload(oper=op1(6, 8, 2))),     # unknown flag
    msg(OPEN_SESSION, open_payload() + b"extra"),       # trailing bytes
    msg(OPEN_SESSION, open_payload(login=0x80000000)),  # unknown login
    msg(INVOKE, struct.pack("<II", 0, 0) + op()),       # invoke first
    msg(CLOSE_SESSION),                                 # close first
    msg(REPLY, b"\x00" * 56),                           # reply as request
    msg(999),                                           # unknown type
    msg(CTL_STATS, b"payload"),                         # ctl with payload
    msg(OPEN_SESSION, open_payload())[:30],             # cut mid-message
]


@pytest.mark.parametrize("junk", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_first_message_is_harmless(sim, client, junk):
    with raw_conn(sim) as s:
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        try:                    # whatever it answers, it must hang up
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass                # it left our extra bytes unread
    assert sim.proc.poll() is None
    sess = open_ok(client)
    info_ok(client, sess)
    client.close(sess)
    assert sim.stats()["panics"] == 0


def test_garbage_inside_a_session(sim, client):
    s = raw_conn(sim)
    s.sendall(msg(OPEN_SESSION, open_payload()))
    result, origin, sid, flags, _ = read_reply(s)
    assert (result, origin) == (T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    assert sid > 0 and flags == 1

    def invoke_raw(payload: bytes):
        s.sendall(msg(INVOKE, payload))
        return read_reply(s)

    get_info = op1(6, 32, 0)
    bad = [
        b"",                                                  # too short
        struct.pack("<II", 0, 7) + get_info,                  # reserved
        struct.pack("<II", 0, 0) + op(0x8),                   # bad type
        struct.pack("<II", 0, 0) + op1(5, 4, 0),              # no data
        struct.pack("<II", 0, 0) + get_info + b"zz",          # extra data
    ]
    for payload in bad:
        result, origin, *_ = invoke_raw(payload)
        assert (result, origin) == (T.TEEC_ERROR_BAD_PARAMETERS,
                                    T.TEEC_ORIGIN_COMMS)
    s.sendall(msg(77, b"abc"))
    assert read_reply(s)[0] == T.TEEC_ERROR_BAD_PARAMETERS
    # Still a working session.
    result, origin, _, flags, data = invoke_raw(struct.pack("<II", 0, 0)
                                                + get_info)
    assert (result, origin, flags) == (0, T.TEEC_ORIGIN_TRUSTED_APP, 1)
    assert len(data) == 32 and struct.unpack("<I", data[:4])[0] == 1
    # A broken header ends this session only.
    s.sendall(b"\xff" * 12)
    s.settimeout(30)
    assert s.recv(100) == b""
    s.close()
    wait_until(lambda: sid not in instances(sim), "instance to end")
    assert sim.proc.poll() is None
    sess = open_ok(client)
    info_ok(client, sess)
    client.close(sess)
    assert sim.stats()["panics"] == 0


def test_client_vanishing_mid_request(sim, client):
    """A client that dies mid-message or without closing: instance ends."""
    s = raw_conn(sim)
    s.sendall(msg(OPEN_SESSION, open_payload()))
    sid = read_reply(s)[2]
    s.sendall(msg(INVOKE, struct.pack("<II", 0, 0)
                  + op1(5, 1000, 0) + b"partial"))
    s.close()
    wait_until(lambda: sid not in instances(sim), "instance to end")
    assert sim.stats()["panics"] == 0
    sess = open_ok(client)
    info_ok(client, sess)
    client.close(sess)


# ---- TEE-level errors -----------------------------------------------------

def test_ta_not_installed(sim_factory, monkeypatch):
    nota = sim_factory("nota", without_ta=True)
    monkeypatch.setenv("OPTEE_SIM_SOCKET", str(nota.socket))
    cl = T.Client()
    assert cl.res == T.TEEC_SUCCESS
    res, origin, sess = cl.open(login=T.TEEC_LOGIN_USER)
    assert (res, origin, sess) == (T.TEEC_ERROR_ITEM_NOT_FOUND,
                                   T.TEEC_ORIGIN_TEE, None)
    assert nota.stats()["sessions_opened"] == 0
    assert instances(nota) == set()


def test_unknown_uuid(sim, client):
    res, origin, sess = client.open(
        uuid="00000000-1111-2222-3333-444444444444")
    assert (res, origin) == (T.TEEC_ERROR_ITEM_NOT_FOUND, T.TEEC_ORIGIN_TEE)


def test_daemon_not_running(tmp_path):
    env = dict(os.environ, OPTEE_SIM_SOCKET=str(tmp_path / "no.sock"),
               LD_LIBRARY_PATH=str(T.LIBTEEC.parent))
    r = subprocess.run([sys.executable, str(HERE / "sim_teec.py"), "info"],
                       env=env, capture_output=True, text=True, check=True)
    out = json.loads(r.stdout)
    assert out["stage"] == "context"
    assert out["result"] == T.TEEC_ERROR_ITEM_NOT_FOUND
    assert "cannot connect" in r.stderr and str(tmp_path / "no.sock") in r.stderr


def test_daemon_stopped_under_a_session(sim, client):
    sess = open_ok(client)
    pid = sess.imp.session_id
    sim.stop()
    assert not alive(pid)               # PR_SET_PDEATHSIG / shutdown
    for _ in range(2):
        assert client.invoke(sess, 0) == (T.TEEC_ERROR_TARGET_DEAD,
                                          T.TEEC_ORIGIN_TEE)
    client.close(sess)
    # Opening needs a daemon: the context stays, the connect fails.
    res, origin, _ = client.open()
    assert (res, origin) == (T.TEEC_ERROR_COMMUNICATION, T.TEEC_ORIGIN_COMMS)
    sim.start()
    sess = open_ok(client)
    info_ok(client, sess)
    client.close(sess)


# ---- instances, crashes, panics -----------------------------------------

def test_panic_instances(sim, client):
    s1, s2 = open_ok(client), open_ok(client)
    p1, p2 = s1.imp.session_id, s2.imp.session_id
    assert instances(sim) == {p1, p2}
    assert sim.ctl("panic-instances").strip() == "2"
    assert instances(sim) == set()
    for sess in (s1, s2):
        for _ in range(2):
            assert client.invoke(sess, 0) == (T.TEEC_ERROR_TARGET_DEAD,
                                              T.TEEC_ORIGIN_TEE)
        client.close(sess)
    assert sim.stats()["panics"] == 2
    assert "TA panic 0xdead" in sim.log.read_text()
    s3 = open_ok(client)
    info_ok(client, s3)
    client.close(s3)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_crashed_instance_is_dead_others_live(sim, client, sig):
    victim, other = open_ok(client), open_ok(client)
    info_ok(client, victim)
    os.kill(victim.imp.session_id, sig)
    for _ in range(3):
        assert client.invoke(victim, 0) == (T.TEEC_ERROR_TARGET_DEAD,
                                            T.TEEC_ORIGIN_TEE)
    info_ok(client, other)
    wait_until(lambda: sim.stats()["panics"] == 1, "the crash to be counted")
    assert instances(sim) == {other.imp.session_id}
    client.close(victim)
    client.close(other)


def test_parallel_sessions_are_separate_processes(sim, client):
    n_threads, per_thread = 4, 25
    sessions = [open_ok(client) for _ in range(n_threads)]
    pids = {s.imp.session_id for s in sessions}
    assert len(pids) == n_threads and instances(sim) == pids
    assert all(alive(p) for p in pids)
    before = sim.stats()["ta_invocations"]
    errors = []
    barrier = threading.Barrier(n_threads)

    def work(sess):
        barrier.wait()
        for _ in range(per_thread):
            res, origin, size, info = client.get_info(sess)
            if res != T.TEEC_SUCCESS:
                errors.append(hex(res))

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sim.stats()["ta_invocations"] - before == n_threads * per_thread
    for s in sessions:
        client.close(s)
    wait_until(lambda: instances(sim) == set(), "instances to end")


def test_one_session_many_threads_is_serialised(sim, client):
    sess = open_ok(client)
    before = sim.stats()["ta_invocations"]
    errors = []

    def work():
        for _ in range(30):
            res, _, size, info = client.get_info(sess)
            if res != T.TEEC_SUCCESS or info["protocol_version"] != 1:
                errors.append(hex(res))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sim.stats()["ta_invocations"] - before == 120
    client.close(sess)


def test_close_ends_the_instance(sim, client):
    sess = open_ok(client)
    pid = sess.imp.session_id
    client.close(sess)
    wait_until(lambda: not alive(pid), "instance to exit")
    assert sim.stats()["panics"] == 0


# ---- lifecycle and options ------------------------------------------------

def test_sigterm_stops_cleanly(sim, client):
    sess = open_ok(client)
    pid = sess.imp.session_id
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(timeout=30) == 0
    assert not sim.socket.exists()
    assert not alive(pid)
    sim.proc = None


def test_socket_mode_and_second_daemon_refused(sim):
    assert stat.S_IMODE(sim.socket.stat().st_mode) == 0o666
    assert stat.S_IMODE(sim.store.stat().st_mode) == 0o700
    r = subprocess.run([str(TEE_SIMD), "--socket", str(sim.socket),
                        "--store", str(sim.store)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "already listens" in r.stderr
    assert sim.proc.poll() is None


def test_stale_socket_is_replaced(tmp_path):
    path = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()                            # a socket file nobody listens on
    sim = Sim(tmp_path / "w")
    sim.socket = path
    sim.env["OPTEE_SIM_SOCKET"] = str(path)
    sim.start()
    try:
        assert json.loads(sim.ctl("stats"))["panics"] == 0
    finally:
        sim.stop()


@pytest.mark.parametrize("args,code,text", [
    (["--huk", "abc"], 1, "64 hex digits"),
    (["--huk", "g" * 64], 1, "64 hex digits"),
    (["--bogus"], 2, "usage"),
    ([], 2, "required"),
    (["--user", "no-such-user-xyz"], 1, "no such user"),
    (["--max-per-uid", "0"], 1, "from 1 to 512"),
    (["--max-per-uid", "513"], 1, "from 1 to 512"),
    (["--max-per-uid", "3x"], 1, "from 1 to 512"),
])
def test_bad_arguments(tmp_path, args, code, text):
    base = ["--socket", str(tmp_path / "s"), "--store", str(tmp_path / "d")]
    r = subprocess.run([str(TEE_SIMD)] + (base + args if args else []),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == code, r.stderr
    assert text in r.stderr


def test_pidfile(tmp_path):
    pidfile = tmp_path / "simd.pid"
    proc = subprocess.Popen([str(TEE_SIMD), "--socket", str(tmp_path / "s"),
                             "--store", str(tmp_path / "d"), "--pidfile",
                             str(pidfile)], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(),
                   "pidfile")
        assert int(pidfile.read_text()) == proc.pid
    finally:
        stop_process(proc)
    assert not pidfile.exists()


@pytest.mark.skipif(not IS_ROOT, reason="needs root to drop privileges")
def test_user_drops_privileges():
    work = Path(tempfile.mkdtemp(prefix="tee-sim-user."))
    os.chmod(work, 0o711)       # pytest's tmp dirs are private to root
    sim = Sim(work / "sim", user="nobody")
    try:
        sim.start()
        status = Path(f"/proc/{sim.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines())
        assert fields["Uid"].split() == [str(NOBODY)] * 4
        assert fields["Gid"].split() == [str(NOBODY)] * 4
        assert fields["Groups"].split() == []
        st = sim.store.stat()
        assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o700
        # Root and nobody clients both reach it; instances run as nobody.
        for prefix in ([], as_user_prefix()):
            r = sim.run(prefix + [sys.executable,
                                  str(foreign_helpers() / "sim_teec.py"),
                                  "info", "--login", "user"])
            out = json.loads(r.stdout)
            assert out["result"] == T.TEEC_SUCCESS, out
            assert out["info"]["protocol_version"] == 1
        r = sim.run([sys.executable, "-c", (
            "import sim_teec as T\n"
            "c = T.Client(); res, origin, s = c.open()\n"
            "st = open(f'/proc/{s.imp.session_id}/status').read()\n"
            "print([l for l in st.splitlines() if l.startswith('Uid')][0])\n"
            "c.close(s)\n")], env={"PYTHONPATH": str(HERE)}, text=True)
        assert r.stdout.split()[1:] == [str(NOBODY)] * 4
    finally:
        sim.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


# Opens N user-login sessions, prints each open's (result, origin) as one
# JSON line, keeps them until a line arrives on stdin, then closes them.
HOLD_SESSIONS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import sim_teec as T
cl = T.Client()
assert cl.ok, hex(cl.res)
got, held = [], []
for _ in range(int(sys.argv[2])):
    res, origin, sess = cl.open(T.TEEC_LOGIN_USER)
    got.append([res, origin])
    if sess is not None:
        held.append(sess)
print(json.dumps(got), flush=True)
sys.stdin.readline()
for s in held:
    cl.close(s)
cl.finalize()
"""


class Holder:
    """A client process as uid that holds n sessions until release()."""

    def __init__(self, sim: Sim, uid: int, n: int):
        prefix = as_user_prefix(uid, uid) if uid else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", HOLD_SESSIONS,
             str(foreign_helpers()), str(n)], env=sim.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line, "holder died"
        self.results = [tuple(r) for r in json.loads(line)]

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        stop_process(self.proc)
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.mark.skipif(not IS_ROOT, reason="needs root to act as other uids")
def test_one_uid_cannot_take_every_slot(sim_factory):
    """--max-per-uid 3: a fourth session of the same non-root uid is
    refused (TEEC_ERROR_BUSY from the TEE), while another uid and root still
    get theirs; once the first uid's sessions end, it gets slots again."""
    sim = sim_factory("limited", extra_args=("--max-per-uid", "3"))
    ok = (T.TEEC_SUCCESS, T.TEEC_ORIGIN_TRUSTED_APP)
    busy = (T.TEEC_ERROR_BUSY, T.TEEC_ORIGIN_TEE)
    holders = []
    try:
        a = Holder(sim, NOBODY, 4)
        holders.append(a)
        assert a.results == [ok, ok, ok, busy]
        assert "refusing a connection from uid 65534" in \
            (sim.workdir / "tee-simd.log").read_text()
        b = Holder(sim, NOBODY - 1, 3)          # another user: unaffected
        holders.append(b)
        assert b.results == [ok] * 3
        r = sim.run([sys.executable, str(HERE / "sim_teec.py"), "info",
                     "--login", "user"], text=True)     # root: unaffected
        assert json.loads(r.stdout)["result"] == T.TEEC_SUCCESS
        assert len(instances(sim)) == 6
        a.release()
        # Its instances end and the daemon reaps them (an event, not a delay).
        wait_until(lambda: len(instances(sim)) == 3, "a's instances gone")
        c = Holder(sim, NOBODY, 3)
        holders.append(c)
        assert c.results == [ok] * 3
    finally:
        for h in holders:
            h.release()
