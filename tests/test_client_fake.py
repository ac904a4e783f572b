"""libopteetls against a scripted TEE (tests/client/fake_teec.c, preloaded
in front of libteec): every TEE result code and origin, replies that break
the protocol (sizes a buggy or malicious TA could return), ECDSA r||s
values that exercise the DER conversion (leading zeros, high bits), the
OPTEE_TLS_DEBUG reconnect line, and the unload/exit destructor across
fork(). None of these can be provoked through the simulator, which runs the
real TA.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from test_client import C, ERR, driver  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
LIBDIR = ROOT / "build" / "lib"
FAKE_SRC = ROOT / "tests" / "client" / "fake_teec.c"

TA, TEE, COMMS, API = 4, 3, 2, 1
TARGET_DEAD = 0xFFFF3024
TBS32 = "ab" * 32


@pytest.fixture(scope="session")
def fake(tmp_path_factory) -> Path:
    so = tmp_path_factory.mktemp("fake-teec") / "fake_teec.so"
    p = subprocess.run(
        ["cc", "-shared", "-fPIC", "-std=c11", "-D_GNU_SOURCE", "-Wall",
         "-Wextra", "-Werror", "-O1", "-g", f"-I{ROOT / 'sim' / 'include'}",
         str(FAKE_SRC), "-o", str(so)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return so


class Fake:
    def __init__(self, exe: Path, so: Path, tmp: Path):
        self.exe, self.so, self.log = exe, so, tmp / "teec.log"

    def run(self, *args, invoke: str = "", open_: str = "", init: str = "",
            env: dict | None = None):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPTEE_", "FAKE_TEEC_"))}
        e.update({"LD_PRELOAD": str(self.so), "LD_LIBRARY_PATH": str(LIBDIR),
                  "FAKE_TEEC_INVOKE": invoke, "FAKE_TEEC_OPEN": open_,
                  "FAKE_TEEC_INIT": init, "FAKE_TEEC_LOG": str(self.log)})
        e.update(env or {})
        if self.log.exists():
            self.log.unlink()
        p = subprocess.run([str(self.exe), *map(str, args)], env=e,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), (args, p.returncode, p.stderr)
        import json
        out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        assert len(out) == 1, out
        return out[0], p.stderr

    def one(self, *args, **kw) -> dict:
        r, err = self.run(*args, **kw)
        assert err == "", err          # a library never talks on stderr
        return r

    def calls(self) -> list[tuple[int, str]]:
        if not self.log.exists():
            return []
        return [(int(l.split()[0]), " ".join(l.split()[1:]))
                for l in self.log.read_text().splitlines()]


@pytest.fixture
def fk(driver, fake, tmp_path) -> Fake:  # noqa: F811
    return Fake(driver, fake, tmp_path)


def key_desc(key_type: int, bits: int, a: bytes, b: bytes, allowed: int = 1,
             owner_kind: int = 0, owner_id: int = 0, reserved: int = 0,
             alen: int | None = None, blen: int | None = None) -> bytes:
    return struct.pack("<8I", key_type, bits, allowed, owner_kind, owner_id,
                       reserved, len(a) if alen is None else alen,
                       len(b) if blen is None else blen) + a + b


def reply(res: int = 0, origin: int = TA, size: int | None = None,
          data: bytes = b"", value: tuple | None = None) -> str:
    f = [f"{res:x}", str(origin), "-" if size is None else str(size),
         data.hex() or "-"]
    if value:
        f.append(f"{value[0]},{value[1]}")
    return ":".join(f)


# ---- result codes and origins ------------------------------------------------

SIGN = ("sign", "x", C["ALG_ECDSA"], 0, TBS32)
DECRYPT = ("decrypt", "x", C["ALG_RSA_DECRYPT_PKCS1"], "00" * 256)
GET, DEL, GEN = ("get", "x"), ("del", "x"), ("gen", "x", C["KEY_EC"], 256)

INVOKE_MAP = [
    # TA answers (origin TA)
    (0xFFFF0008, TA, GET, "ERR_NOT_FOUND"),
    (0xFFFF0008, TA, SIGN, "ERR_NOT_FOUND"),
    (0xFFFF0003, TA, DEL, "ERR_IN_USE"),
    (0xFFFF0003, TA, GEN, "ERR_EXISTS"),
    (0xFFFF0003, TA, GET, "ERR_INTERNAL"),
    (0xFFFF0001, TA, SIGN, "ERR_DENIED"),
    (0xFFFF000A, TA, SIGN, "ERR_UNSUPPORTED"),
    (0xFFFF0009, TA, SIGN, "ERR_UNSUPPORTED"),
    (0xFFFF0006, TA, SIGN, "ERR_BAD_INPUT"),
    (0xFFFF0004, API, SIGN, "ERR_BAD_INPUT"),       # EXCESS_DATA
    (0xF0100001, TA, GET, "ERR_CORRUPT"),
    (0xF0100002, TA, SIGN, "ERR_CORRUPT"),
    (0xFFFF3041, TA, GEN, "ERR_NO_SPACE"),
    (0xF0100003, TA, GEN, "ERR_TEE_UNREACHABLE"),   # STORAGE_NOT_AVAILABLE
    (0xF0100004, TEE, GET, "ERR_TEE_UNREACHABLE"),
    (0xF0100006, TA, DECRYPT, "ERR_DECRYPT_FAILED"),
    # SHORT_BUFFER where the library's buffer is always large enough
    (0xFFFF0010, TA, GET, "ERR_PROTOCOL"),
    (0xFFFF0010, TA, GEN, "ERR_PROTOCOL"),
    (0xFFFF0010, TA, ("info",), "ERR_PROTOCOL"),
    (0xFFFF0010, TA, ("list",), "ERR_PROTOCOL"),
    # TA-only meanings made by libteec / the driver: not about the key
    (0xFFFF0008, COMMS, GET, "ERR_INTERNAL"),
    (0xFFFF0008, API, SIGN, "ERR_INTERNAL"),
    (0xFFFF0003, COMMS, DEL, "ERR_INTERNAL"),
    (0xF0100006, API, DECRYPT, "ERR_INTERNAL"),
    (0xF0100001, COMMS, GET, "ERR_INTERNAL"),
    # anything else
    (0xFFFF0000, TA, SIGN, "ERR_INTERNAL"),         # GENERIC
    (0xFFFF000C, TEE, SIGN, "ERR_INTERNAL"),        # OUT_OF_MEMORY
    (0xFFFF000D, TEE, SIGN, "ERR_INTERNAL"),        # BUSY
    (0xFFFF000F, TEE, SIGN, "ERR_INTERNAL"),        # SECURITY
    (0xFFFF0002, TEE, SIGN, "ERR_INTERNAL"),        # CANCEL
    (0xFFFF0007, TA, SIGN, "ERR_INTERNAL"),         # BAD_STATE
    (0x12345678, TA, SIGN, "ERR_INTERNAL"),
    # dead every time, even after the one reconnect
    (TARGET_DEAD, TEE, SIGN, "ERR_TA_DEAD"),
    (TARGET_DEAD, TEE, GEN, "ERR_TA_DEAD"),
    (0xFFFF000E, COMMS, GET, "ERR_TEE_UNREACHABLE"),
]


@pytest.mark.parametrize("res,origin,args,want", INVOKE_MAP,
                         ids=[f"{r:08x}-o{o}-{a[0]}" for r, o, a, _ in INVOKE_MAP])
def test_invoke_result_mapping(fk, res, origin, args, want):
    r = fk.one(*args, invoke=reply(res, origin))
    assert r["rc"] == ERR[want], r
    assert r["tee"] == res and r["origin"] == origin, r
    assert r["msg"] == fk.one("strerror", ERR[want])["msg"]


OPEN_MAP = [
    ("ffff0008:3", "ERR_TA_NOT_INSTALLED"),
    ("ffff0008:2", "ERR_INTERNAL"),
    ("ffff0001:3", "ERR_DENIED"),
    ("ffff3024:3", "ERR_TA_DEAD"),
    ("ffff000e:2", "ERR_TEE_UNREACHABLE"),
    ("ffff000d:3", "ERR_TEE_UNREACHABLE"),
    ("ffff0006:2", "ERR_BAD_INPUT"),
    ("ffff000c:3", "ERR_INTERNAL"),
    ("ffff0000:2", "ERR_INTERNAL"),
]


@pytest.mark.parametrize("open_,want", OPEN_MAP, ids=[o for o, _ in OPEN_MAP])
def test_open_result_mapping(fk, open_, want):
    r = fk.one("info", open_=open_)
    assert r["rc"] == ERR[want], r
    # a transport-level failure is retried once on a fresh context
    opens = [c for _, c in fk.calls() if c == "open"]
    assert len(opens) in (1, 2)


def test_context_failure(fk):
    r = fk.one("get", "x", init="ffff0008")
    assert r["rc"] == ERR["ERR_TEE_UNREACHABLE"], r
    assert "no permission to open it" in r["msg"]
    assert [c for _, c in fk.calls()] == ["init"]


# ---- replies that break the protocol -----------------------------------------

P256 = ec.generate_private_key(ec.SECP256R1()).public_key()
_nums = P256.public_numbers()
P256_X, P256_Y = _nums.x.to_bytes(32, "big"), _nums.y.to_bytes(32, "big")
GOOD_DESC = key_desc(C["KEY_EC"], 256, P256_X, P256_Y)


def test_fake_harness_good_key(fk):
    """The harness itself: a well-formed reply is accepted."""
    r = fk.one("get", "x", invoke=reply(0, TA, len(GOOD_DESC), GOOD_DESC))
    assert r["rc"] == 0, r
    assert r["spki"] == P256.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo).hex()


BAD_KEY_REPLIES = {
    "shorter-than-header": reply(0, TA, 16, GOOD_DESC[:16]),
    "larger-than-buffer": reply(0, TA, 100000),
    "size-one-over-max": reply(0, TA, 32 + 2 * 512 + 1),
    "pub-a-len-huge": reply(0, TA, len(GOOD_DESC),
                            key_desc(C["KEY_EC"], 256, P256_X, P256_Y,
                                     alen=0xFFFFFFFF)),
    "pub-len-sum-wraps": reply(0, TA, len(GOOD_DESC),
                               key_desc(C["KEY_EC"], 256, P256_X, P256_Y,
                                        alen=0x80000000, blen=0x80000040)),
    "lengths-disagree": reply(0, TA, len(GOOD_DESC) - 1, GOOD_DESC[:-1]),
    "unknown-type": reply(0, TA, len(GOOD_DESC),
                          key_desc(9, 256, P256_X, P256_Y)),
    "ec-bits-mismatch": reply(0, TA, len(GOOD_DESC),
                              key_desc(C["KEY_EC"], 384, P256_X, P256_Y)),
    "policy-allowed-0": reply(0, TA, len(GOOD_DESC),
                              key_desc(C["KEY_EC"], 256, P256_X, P256_Y,
                                       allowed=0)),
    "policy-reserved": reply(0, TA, len(GOOD_DESC),
                             key_desc(C["KEY_EC"], 256, P256_X, P256_Y,
                                      reserved=1)),
    "owner-kind-9": reply(0, TA, len(GOOD_DESC),
                          key_desc(C["KEY_EC"], 256, P256_X, P256_Y,
                                   owner_kind=9)),
    "rsa-exponent-9-bytes": reply(0, TA, 32 + 256 + 9,
                                  key_desc(C["KEY_RSA"], 2048,
                                           b"\xc1" * 256, b"\x01" * 9)),
}


@pytest.mark.parametrize("name", BAD_KEY_REPLIES)
def test_bad_key_description(fk, name):
    for args in (GET, GEN):
        r = fk.one(*args, invoke=BAD_KEY_REPLIES[name])
        assert r["rc"] == ERR["ERR_PROTOCOL"], (args, r)


def test_ec_point_not_on_curve(fk):
    desc = key_desc(C["KEY_EC"], 256, P256_X, bytes(32))
    r = fk.one("get", "x", invoke=reply(0, TA, len(desc), desc))
    # accepted as a description, but no public key can be built from it
    assert r["rc"] == 0 and r["spki_rc"] == ERR["ERR_BAD_INPUT"], r


def _entry(label: bytes, kt: int = 1, bits: int = 256) -> bytes:
    return label.ljust(36, b"\0") + struct.pack("<6I", kt, bits, 1, 0, 0, 0)


BAD_LISTS = {
    "count-over-max": (b"", (65, 65)),
    "count-over-stored": (_entry(b"a"), (1, 0)),
    "size-mismatch": (_entry(b"a") + b"\0", (1, 1)),
    "unsorted": (_entry(b"b") + _entry(b"a"), (2, 2)),
    "duplicate": (_entry(b"a") + _entry(b"a"), (2, 2)),
    "label-not-padded": (b"a\0x".ljust(36, b"\0") +
                         struct.pack("<6I", 1, 256, 1, 0, 0, 0), (1, 1)),
    "label-36-bytes": (b"a" * 36 + struct.pack("<6I", 1, 256, 1, 0, 0, 0),
                       (1, 1)),
    "label-malformed": (_entry(b"-a"), (1, 1)),
}


@pytest.mark.parametrize("name", BAD_LISTS)
def test_bad_list(fk, name):
    data, value = BAD_LISTS[name]
    r = fk.one("list", invoke=reply(0, TA, len(data), data, value))
    assert r["rc"] == ERR["ERR_PROTOCOL"], r


def test_good_list(fk):
    data = _entry(b"a") + _entry(b"b" * 32)
    r = fk.one("list", invoke=reply(0, TA, len(data), data, (2, 5)))
    assert r["rc"] == 0, r
    assert [k["label"] for k in r["keys"]] == ["a", "b" * 32]


def test_bad_info(fk):
    for size in (0, 16, 33, 4096):
        r = fk.one("info", invoke=reply(0, TA, size, b"\1" * min(size, 32)))
        assert r["rc"] == ERR["ERR_PROTOCOL"], (size, r)


BAD_SIGN = {
    # (reply, sign args tail (flags, buflen))
    "longer-than-offered": (reply(0, TA, 600), ()),
    "longer-than-buflen": (reply(0, TA, 73), (0, 72)),
    "empty": (reply(0, TA, 0), ()),
    "odd-ecdsa": (reply(0, TA, 63, b"\1" * 63), ()),
    "ecdsa-halves-too-short": (reply(0, TA, 38, b"\1" * 38), ()),
    "ecdsa-halves-too-long": (reply(0, TA, 134, b"\1" * 134), ()),
    "short-buffer-need-not-larger": (reply(0xFFFF0010, TA, 10), (0, 64)),
    "short-buffer-need-huge": (reply(0xFFFF0010, TA, 100000), (0, 64)),
    "short-buffer-need-over-max": (reply(0xFFFF0010, TA, 513), (0, 64)),
}


@pytest.mark.parametrize("name", BAD_SIGN)
def test_bad_signature_reply(fk, name):
    rep, tail = BAD_SIGN[name]
    r = fk.one(*SIGN, *tail, invoke=rep)
    assert r["rc"] == ERR["ERR_PROTOCOL"], r
    assert r["sig"] == ""


def test_bad_decrypt_reply(fk):
    r = fk.one(*DECRYPT, 32, invoke=reply(0, TA, 33, b"\1" * 33))
    assert r["rc"] == ERR["ERR_PROTOCOL"], r
    r = fk.one(*DECRYPT, 32, invoke=reply(0xFFFF0010, TA, 600))
    assert r["rc"] == ERR["ERR_PROTOCOL"], r
    # an empty plaintext is legal (PKCS#1 v1.5 / OAEP of an empty message)
    r = fk.one(*DECRYPT, 32, invoke=reply(0, TA, 0))
    assert (r["rc"], r["len"]) == (0, 0), r
    r = fk.one(*DECRYPT, 32, invoke=reply(0, TA, 3, b"\1\2\3"))
    assert (r["rc"], r["out"]) == (0, "010203"), r


# ---- ECDSA r || s -> DER -----------------------------------------------------

def _raw_cases():
    n32 = [
        (b"\0" * 31 + b"\1", b"\xff" * 32),
        (b"\x80" + b"\0" * 31, b"\0\x80" + b"\x11" * 30),
        (b"\0" * 32, b"\x7f" + b"\xff" * 31),
        (b"\0\0\x7f" + b"\x22" * 29, b"\0\0\0\x80" + b"\x33" * 28),
        (b"\0" * 32, b"\0" * 32),
    ]
    n66 = [
        (b"\x01" + b"\xff" * 65, b"\0\0\x01" + b"\x44" * 63),
        (b"\xff" * 66, b"\xff" * 66),            # largest DER: 141 bytes
        (b"\0" * 65 + b"\x80", b"\0" * 66),
    ]
    return [(r, s) for r, s in n32] + [(r, s) for r, s in n66]


@pytest.mark.parametrize("r,s", _raw_cases(),
                         ids=lambda v: v.hex()[:8] + f"-{len(v)}")
def test_ecdsa_der_conversion(fk, r, s):
    raw = r + s
    want = asym_utils.encode_dss_signature(int.from_bytes(r, "big"),
                                           int.from_bytes(s, "big"))
    rep = reply(0, TA, len(raw), raw)
    got = fk.one(*SIGN, invoke=rep)
    assert got["rc"] == 0, got
    assert got["sig"] == want.hex()
    assert got["len"] == len(want)
    # the caller's buffer exactly as large as this DER: fits
    got = fk.one(*SIGN, 0, len(want), invoke=rep)
    assert (got["rc"], got["sig"]) == (0, want.hex()), got
    # one byte less: SHORT_BUFFER asking for the largest DER of the curve
    got = fk.one(*SIGN, 0, len(want) - 1, invoke=rep)
    assert got["rc"] == ERR["ERR_SHORT_BUFFER"], got
    assert got["len"] == (72 if len(r) == 32 else 141)
    # raw output is returned untouched
    got = fk.one(*SIGN, 1, invoke=rep)
    assert (got["rc"], got["sig"]) == (0, raw.hex()), got


# ---- reconnect diagnostic ----------------------------------------------------

DEBUG_LINE = re.compile(
    r"^libopteetls\[(\d+)\]: TA session lost \(TEEC result 0x([0-9a-f]{8}), "
    r"origin (\d+), command (\d+)\): (.+)\n$")


def _good_sig_reply() -> str:
    raw = b"\1" * 64
    return reply(0, TA, 64, raw)


@pytest.mark.parametrize("debug", [None, "0", "yes", "1"])
def test_reconnect_debug_line(fk, debug):
    env = {"OPTEE_TLS_DEBUG": debug} if debug is not None else {}
    r, err = fk.run(*SIGN, invoke=f"{reply(TARGET_DEAD, TEE)};"
                    f"{_good_sig_reply()}", env=env)
    assert r["rc"] == 0, r
    calls = [c for _, c in fk.calls()]
    assert calls.count("open") == 2 and calls.count("invoke 5") == 2, calls
    if debug != "1":
        assert err == ""
        return
    m = DEBUG_LINE.match(err)
    assert m, err
    assert (m.group(2), m.group(3), m.group(4)) == ("ffff3024", "3", "5")
    assert "retrying once" in m.group(5)


def test_reconnect_debug_line_probe(fk):
    """generate/delete on a reused session: the probe finds it dead."""
    # one process, two commands: the driver's repl
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("OPTEE_", "FAKE_TEEC_"))}
    e.update({"LD_PRELOAD": str(fk.so), "LD_LIBRARY_PATH": str(LIBDIR),
              "OPTEE_TLS_DEBUG": "1", "FAKE_TEEC_LOG": str(fk.log),
              "FAKE_TEEC_INVOKE": f"{reply(0, TA, len(GOOD_DESC), GOOD_DESC)};"
                                  f"{reply(0xFFFF000E, COMMS)};"
                                  f"{reply(0xFFFF0008, TA)}"})
    p = subprocess.run([str(fk.exe), "repl"], input="get x\ndel x\n", env=e,
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert len(lines) == 2, p
    assert '"rc": 0' in lines[0]
    assert f'"rc": {ERR["ERR_NOT_FOUND"]}' in lines[1]
    m = DEBUG_LINE.match(p.stderr)
    assert m, p.stderr
    assert (m.group(2), m.group(3), m.group(4)) == ("ffff000e", "2", "0")
    assert "before a command that changes storage" in m.group(5)


# ---- destructor and fork ----------------------------------------------------

def test_exit_closes_own_sessions_only(fk):
    """At exit the process closes its idle session and context; a child
    that leaves with exit() (destructors run) closes nothing of its
    parent's."""
    info = struct.pack("<8I", C["PROTOCOL_VERSION"], 0, 0, 0, 32, 64, 0, 0)
    r = fk.one("fork-exit", invoke=reply(0, TA, 32, info))
    assert r["rc"] == 0 and r["child_status"] == 0, r
    calls = fk.calls()
    pids = {p for p, _ in calls}
    assert len(pids) == 1, calls            # nothing from the child
    assert [c for _, c in calls] == ["init", "open", "invoke 0", "close",
                                     "fini"]


def test_exit_without_sessions(fk):
    r = fk.one("label", "abc")
    assert r["rc"] == 0
    assert fk.calls() == []


# ---- TA load failing once (real OP-TEE after a tee-supplicant restart) -------

@pytest.mark.parametrize("debug", [None, "1"])
def test_open_generic_failure_retried_once(fk, debug):
    """OP-TEE answers TEEC_ERROR_GENERIC (origin TEE) to the first TA load
    after tee-supplicant restarted while other sessions kept storage open,
    then loads it fine: the open is retried once, the sign goes through."""
    env = {"OPTEE_TLS_DEBUG": debug} if debug else {}
    r, err = fk.run(*SIGN, open_="ffff0000:3;0:4", invoke=_good_sig_reply(),
                    env=env)
    assert r["rc"] == 0, r
    calls = [c for _, c in fk.calls()]
    assert calls.count("open") == 2 and calls.count("invoke 5") == 1, calls
    if debug:
        assert "opening a TA session failed (TEEC result 0xffff0000, origin 3" in err
        assert "retrying once" in err
    else:
        assert err == ""


def test_open_generic_failure_twice_is_reported(fk):
    r = fk.one(*SIGN, open_="ffff0000:3", invoke=_good_sig_reply())
    assert r["rc"] == ERR["ERR_INTERNAL"], r
    calls = [c for _, c in fk.calls()]
    assert calls.count("open") == 2 and "invoke 5" not in calls, calls
