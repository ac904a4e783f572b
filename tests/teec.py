"""Minimal ctypes binding of the GP TEE Client API (build/lib/libteec.so).

Enough to talk to any TA with arbitrary raw parameters, including wrong
parameter types, NULL buffers and sizes that lie, for tests:

    from teec import Tee, MemIn, MemOut, ValueIn, ValueOut
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        r = s.invoke(OTLS_CMD_GET_INFO, MemOut(32))
        r.rc, r[0].data

Also usable as a command-line helper (e.g. run as another uid):
    python3 teec.py invoke --login user CMD PARAM...   (prints JSON)
PARAM: none | vin:A:B | vout | vio:A:B | min:HEX | mout:SIZE | mio:HEX:SIZE
       | nullin:SIZE | nullout:SIZE
"""
from __future__ import annotations

import ctypes
import json
import os
import struct
import sys
import uuid as uuidlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LIB = ROOT / "build" / "lib" / "libteec.so"

# ---- GP constants -------------------------------------------------------

TEEC_NONE = 0x0
TEEC_VALUE_INPUT = 0x1
TEEC_VALUE_OUTPUT = 0x2
TEEC_VALUE_INOUT = 0x3
TEEC_MEMREF_TEMP_INPUT = 0x5
TEEC_MEMREF_TEMP_OUTPUT = 0x6
TEEC_MEMREF_TEMP_INOUT = 0x7

TEEC_LOGIN_PUBLIC = 0
TEEC_LOGIN_USER = 1
TEEC_LOGIN_GROUP = 2

TEEC_ORIGIN_API = 1
TEEC_ORIGIN_COMMS = 2
TEEC_ORIGIN_TEE = 3
TEEC_ORIGIN_TRUSTED_APP = 4

TEE_SUCCESS = 0x00000000
TEE_ERROR_CORRUPT_OBJECT = 0xF0100001
TEE_ERROR_CIPHERTEXT_INVALID = 0xF0100006
TEE_ERROR_GENERIC = 0xFFFF0000
TEE_ERROR_ACCESS_DENIED = 0xFFFF0001
TEE_ERROR_ACCESS_CONFLICT = 0xFFFF0003
TEE_ERROR_BAD_FORMAT = 0xFFFF0005
TEE_ERROR_BAD_PARAMETERS = 0xFFFF0006
TEE_ERROR_BAD_STATE = 0xFFFF0007
TEE_ERROR_ITEM_NOT_FOUND = 0xFFFF0008
TEE_ERROR_NOT_IMPLEMENTED = 0xFFFF0009
TEE_ERROR_NOT_SUPPORTED = 0xFFFF000A
TEE_ERROR_OUT_OF_MEMORY = 0xFFFF000C
TEE_ERROR_COMMUNICATION = 0xFFFF000E
TEE_ERROR_SHORT_BUFFER = 0xFFFF0010
TEE_ERROR_TARGET_DEAD = 0xFFFF3024
TEE_ERROR_STORAGE_NO_SPACE = 0xFFFF3041

ERROR_NAMES = {v: k for k, v in dict(globals()).items()
               if k.startswith("TEE_ERROR_") or k == "TEE_SUCCESS"}


def err_name(rc: int) -> str:
    return ERROR_NAMES.get(rc, f"0x{rc:08x}")


# ---- ctypes structures (GP TEE Client API) -------------------------------

class TEEC_UUID(ctypes.Structure):
    _fields_ = [("timeLow", ctypes.c_uint32),
                ("timeMid", ctypes.c_uint16),
                ("timeHiAndVersion", ctypes.c_uint16),
                ("clockSeqAndNode", ctypes.c_uint8 * 8)]

    @classmethod
    def from_str(cls, s: str) -> "TEEC_UUID":
        b = uuidlib.UUID(s).bytes
        u = cls()
        u.timeLow, u.timeMid, u.timeHiAndVersion = struct.unpack(">IHH", b[:8])
        for i in range(8):
            u.clockSeqAndNode[i] = b[8 + i]
        return u


class _TempRef(ctypes.Structure):
    _fields_ = [("buffer", ctypes.c_void_p), ("size", ctypes.c_size_t)]


class _RegRef(ctypes.Structure):
    _fields_ = [("parent", ctypes.c_void_p), ("size", ctypes.c_size_t),
                ("offset", ctypes.c_size_t)]


class _Value(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]


class TEEC_Parameter(ctypes.Union):
    _fields_ = [("tmpref", _TempRef), ("memref", _RegRef), ("value", _Value)]


class TEEC_Operation(ctypes.Structure):
    # The implementation-defined tail is given generous room.
    _fields_ = [("started", ctypes.c_uint32),
                ("paramTypes", ctypes.c_uint32),
                ("params", TEEC_Parameter * 4),
                ("imp", ctypes.c_uint8 * 256)]


# Context and session are opaque to us: big zeroed blobs.
_CTX_SIZE = 4096
_SESS_SIZE = 4096


def param_types(t0=0, t1=0, t2=0, t3=0) -> int:
    return t0 | (t1 << 4) | (t2 << 8) | (t3 << 12)


# ---- Parameters -----------------------------------------------------------

class Param:
    type = TEEC_NONE

    def load(self, p: TEEC_Parameter) -> None:
        pass

    def store(self, p: TEEC_Parameter) -> None:
        pass


class NoneParam(Param):
    pass


class ValueIn(Param):
    type = TEEC_VALUE_INPUT

    def __init__(self, a: int = 0, b: int = 0):
        self.a, self.b = a & 0xFFFFFFFF, b & 0xFFFFFFFF

    def load(self, p):
        p.value.a, p.value.b = self.a, self.b

    def store(self, p):
        self.a, self.b = p.value.a, p.value.b


class ValueOut(ValueIn):
    type = TEEC_VALUE_OUTPUT


class ValueInOut(ValueIn):
    type = TEEC_VALUE_INOUT


class MemIn(Param):
    """Input memref. data=None gives a NULL buffer with `size`."""
    type = TEEC_MEMREF_TEMP_INPUT

    def __init__(self, data: bytes | None, size: int | None = None):
        self.data = data
        self.size = len(data) if size is None and data is not None else (size or 0)
        self._buf = None

    def load(self, p):
        if self.data is None:
            p.tmpref.buffer = None
        else:
            n = max(self.size, len(self.data), 1)
            self._buf = ctypes.create_string_buffer(bytes(self.data), n)
            p.tmpref.buffer = ctypes.cast(self._buf, ctypes.c_void_p)
        p.tmpref.size = self.size

    def store(self, p):
        self.size = p.tmpref.size


class MemOut(Param):
    """Output memref of `size` bytes (null=True: NULL buffer, that size).
    After the call: .size is the updated size, .data the bytes written
    (None when the size grew, i.e. TEE_ERROR_SHORT_BUFFER)."""
    type = TEEC_MEMREF_TEMP_OUTPUT

    def __init__(self, size: int, null: bool = False, fill: int = 0xA5):
        self.capacity = size
        self.size = size
        self.null = null
        self.fill = fill
        self.data: bytes | None = None
        self._buf = None

    def load(self, p):
        if self.null:
            p.tmpref.buffer = None
        else:
            self._buf = ctypes.create_string_buffer(
                bytes([self.fill]) * max(self.capacity, 1),
                max(self.capacity, 1))
            p.tmpref.buffer = ctypes.cast(self._buf, ctypes.c_void_p)
        p.tmpref.size = self.capacity

    def store(self, p):
        self.size = p.tmpref.size
        if self._buf is not None and self.size <= self.capacity:
            self.data = self._buf.raw[:self.size]
        else:
            self.data = None

    @property
    def raw(self) -> bytes:
        """The whole buffer after the call (to check nothing else was
        written)."""
        return self._buf.raw[:self.capacity] if self._buf is not None else b""


class MemInOut(MemOut):
    type = TEEC_MEMREF_TEMP_INOUT

    def __init__(self, data: bytes, size: int | None = None):
        super().__init__(size if size is not None else len(data))
        self.indata = data

    def load(self, p):
        self._buf = ctypes.create_string_buffer(
            bytes(self.indata).ljust(self.capacity, b"\0"),
            max(self.capacity, 1))
        p.tmpref.buffer = ctypes.cast(self._buf, ctypes.c_void_p)
        p.tmpref.size = self.capacity


class Result:
    def __init__(self, rc: int, origin: int, params: list[Param]):
        self.rc = rc
        self.origin = origin
        self.params = params

    def __getitem__(self, i: int) -> Param:
        return self.params[i]

    @property
    def ok(self) -> bool:
        return self.rc == TEE_SUCCESS

    def __repr__(self) -> str:
        return f"Result({err_name(self.rc)}, origin={self.origin})"


class TeeError(Exception):
    def __init__(self, what: str, rc: int, origin: int = 0):
        super().__init__(f"{what}: {err_name(rc)} (origin {origin})")
        self.rc = rc
        self.origin = origin


# ---- Library ------------------------------------------------------------

_lib = None


def load_lib(path: str | os.PathLike | None = None):
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(str(path or os.environ.get("TEEC_LIB", DEFAULT_LIB)))
        lib.TEEC_InitializeContext.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        lib.TEEC_InitializeContext.restype = ctypes.c_uint32
        lib.TEEC_FinalizeContext.argtypes = [ctypes.c_void_p]
        lib.TEEC_FinalizeContext.restype = None
        lib.TEEC_OpenSession.argtypes = [
            ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(TEEC_UUID),
            ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint32)]
        lib.TEEC_OpenSession.restype = ctypes.c_uint32
        lib.TEEC_CloseSession.argtypes = [ctypes.c_void_p]
        lib.TEEC_CloseSession.restype = None
        lib.TEEC_InvokeCommand.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint32)]
        lib.TEEC_InvokeCommand.restype = ctypes.c_uint32
        _lib = lib
    return _lib


def _as_param(p) -> Param:
    return NoneParam() if p is None else p


def _build_op(params, types):
    params = [_as_param(p) for p in params]
    params += [NoneParam()] * (4 - len(params))
    if len(params) != 4:
        raise ValueError("at most 4 parameters")
    op = TEEC_Operation()
    op.started = 1
    op.paramTypes = (types if types is not None
                     else param_types(*(p.type for p in params)))
    for i, p in enumerate(params):
        p.load(op.params[i])
    return op, params


class Session:
    def __init__(self, tee: "Tee", ta_uuid: str, login: int, gid: int | None,
                 params=(), types=None):
        self.tee = tee
        self._sess = ctypes.create_string_buffer(_SESS_SIZE)
        self.open = False
        lib = tee.lib
        origin = ctypes.c_uint32(0)
        conn = None
        if gid is not None:
            self._gid = ctypes.c_uint32(gid)
            conn = ctypes.cast(ctypes.byref(self._gid), ctypes.c_void_p)
        op, self.open_params = _build_op(list(params), types)
        u = TEEC_UUID.from_str(ta_uuid)
        rc = lib.TEEC_OpenSession(tee._ctx, self._sess, ctypes.byref(u),
                                  login, conn, ctypes.byref(op),
                                  ctypes.byref(origin))
        self.open_rc, self.open_origin = rc, origin.value
        if rc != TEE_SUCCESS:
            raise TeeError("TEEC_OpenSession", rc, origin.value)
        self.open = True

    def invoke(self, cmd: int, *params, types: int | None = None) -> Result:
        """Invoke cmd with up to four Param objects (None = NONE).
        types overrides the parameter types word sent."""
        if not self.open:
            raise RuntimeError("session closed")
        op, plist = _build_op(list(params), types)
        origin = ctypes.c_uint32(0)
        rc = self.tee.lib.TEEC_InvokeCommand(self._sess, cmd,
                                             ctypes.byref(op),
                                             ctypes.byref(origin))
        for i, p in enumerate(plist):
            p.store(op.params[i])
        return Result(rc, origin.value, plist)

    def close(self) -> None:
        if self.open:
            self.tee.lib.TEEC_CloseSession(self._sess)
            self.open = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Tee:
    """One TEEC context. socket: simulator socket (sets OPTEE_SIM_SOCKET
    in this process before the context is initialised)."""

    def __init__(self, socket: str | os.PathLike | None = None,
                 lib: str | None = None):
        if socket is not None:
            os.environ["OPTEE_SIM_SOCKET"] = str(socket)
        self.lib = load_lib(lib)
        self._ctx = ctypes.create_string_buffer(_CTX_SIZE)
        rc = self.lib.TEEC_InitializeContext(None, self._ctx)
        if rc != TEE_SUCCESS:
            raise TeeError("TEEC_InitializeContext", rc)
        self.live = True

    def session(self, ta_uuid: str | None = None,
                login: int = TEEC_LOGIN_PUBLIC, gid: int | None = None,
                params=(), types=None) -> Session:
        if ta_uuid is None:
            ta_uuid = OTLS_TA_UUID
        return Session(self, ta_uuid, login, gid, params, types)

    def close(self) -> None:
        if self.live:
            self.lib.TEEC_FinalizeContext(self._ctx)
            self.live = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


OTLS_TA_UUID = "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61"



# ---- optee-tls protocol helpers --------------------------------------------
# Constants are read from ta/include/optee_tls_ta.h itself, so tests always
# follow the header.

PROTOCOL_HEADER = ROOT / "ta" / "include" / "optee_tls_ta.h"


class _Namespace(dict):
    __getattr__ = dict.__getitem__


def load_protocol(path: os.PathLike = PROTOCOL_HEADER) -> _Namespace:
    import re
    ns = _Namespace()
    text = Path(path).read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = text.replace("\\\n", " ")
    for m in re.finditer(r"^#define\s+(OTLS_\w+)\s+(.+?)\s*$", text, re.M):
        name, expr = m.group(1), m.group(2)
        if name.endswith("_H") or "{" in expr or '"' in expr:
            continue
        expr = re.sub(r"\b(0x[0-9A-Fa-f]+|\d+)[uUlL]+\b", r"\1", expr)
        try:
            ns[name] = int(eval(expr, {"__builtins__": {}}, dict(ns)))
        except Exception:
            pass
    return ns


P = load_protocol()

POLICY_FMT = "<4I"
DESC_HDR_FMT = "<II4III"
LIST_ENTRY_FMT = "<%dsII4I" % (P.OTLS_LABEL_MAX + 4)
INFO_FMT = "<8I"
DESC_HDR_SIZE = struct.calcsize(DESC_HDR_FMT)
LIST_ENTRY_SIZE = struct.calcsize(LIST_ENTRY_FMT)
INFO_SIZE = struct.calcsize(INFO_FMT)
POLICY_SIZE = struct.calcsize(POLICY_FMT)


def pack_policy(allowed=0, owner_kind=0, owner_id=0, reserved=0) -> bytes:
    return struct.pack(POLICY_FMT, allowed, owner_kind, owner_id, reserved)


def parse_desc(buf: bytes) -> dict:
    (kt, bits, allowed, okind, oid, res, alen,
     blen) = struct.unpack_from(DESC_HDR_FMT, buf)
    a = buf[DESC_HDR_SIZE:DESC_HDR_SIZE + alen]
    b = buf[DESC_HDR_SIZE + alen:DESC_HDR_SIZE + alen + blen]
    return {"key_type": kt, "bits": bits,
            "policy": (allowed, okind, oid, res),
            "a": a, "b": b, "a_len": alen, "b_len": blen,
            "size": DESC_HDR_SIZE + alen + blen}


def parse_list(buf: bytes) -> list[dict]:
    out = []
    for off in range(0, len(buf) - LIST_ENTRY_SIZE + 1, LIST_ENTRY_SIZE):
        lab, kt, bits, allowed, okind, oid, res = struct.unpack_from(
            LIST_ENTRY_FMT, buf, off)
        out.append({"label_raw": lab, "label": lab.rstrip(b"\0").decode(),
                    "key_type": kt, "bits": bits,
                    "policy": (allowed, okind, oid, res)})
    return out


def parse_info(buf: bytes) -> dict:
    names = ("protocol_version", "ta_version", "key_types", "allow_mask",
             "label_max", "max_keys", "open_keys", "reserved")
    return dict(zip(names, struct.unpack(INFO_FMT, buf)))


def public_key(desc: dict):
    """A `cryptography` public key built from a key description's
    components (parse_desc output)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    kt, bits = desc["key_type"], desc["bits"]
    if kt == P.OTLS_KEY_EC:
        curve = {256: ec.SECP256R1, 384: ec.SECP384R1,
                 521: ec.SECP521R1}[bits]
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(desc["a"], "big"),
            int.from_bytes(desc["b"], "big"), curve()).public_key()
    if kt == P.OTLS_KEY_RSA:
        return rsa.RSAPublicNumbers(int.from_bytes(desc["b"], "big"),
                                    int.from_bytes(desc["a"], "big")
                                    ).public_key()
    if kt == P.OTLS_KEY_ED25519:
        return ed25519.Ed25519PublicKey.from_public_bytes(desc["a"])
    raise ValueError(f"unknown key type {kt}")


def _label(label) -> bytes:
    return label.encode() if isinstance(label, str) else label


class Otls:
    """Thin wrapper of the TA commands over one Session (raw results)."""

    def __init__(self, session: Session):
        self.s = session

    def info(self, out_size: int = INFO_SIZE) -> Result:
        return self.s.invoke(P.OTLS_CMD_GET_INFO, MemOut(out_size))

    def generate(self, label, key_type, bits, allowed=0, owner_kind=0,
                 owner_id=0, reserved=0, out_size=2048,
                 policy: bytes | None = None) -> Result:
        if policy is None:
            policy = pack_policy(allowed, owner_kind, owner_id, reserved)
        return self.s.invoke(P.OTLS_CMD_GENERATE_KEY, MemIn(_label(label)),
                             ValueIn(key_type, bits), MemIn(policy),
                             MemOut(out_size))

    def get_key(self, label, out_size=2048) -> Result:
        return self.s.invoke(P.OTLS_CMD_GET_KEY, MemIn(_label(label)),
                             MemOut(out_size))

    def list(self, out_size=LIST_ENTRY_SIZE * 64) -> Result:
        return self.s.invoke(P.OTLS_CMD_LIST_KEYS, MemOut(out_size),
                             ValueOut())

    def delete(self, label) -> Result:
        return self.s.invoke(P.OTLS_CMD_DELETE_KEY, MemIn(_label(label)))

    def sign(self, label, alg, data: bytes, salt=0, out_size=1024) -> Result:
        return self.s.invoke(P.OTLS_CMD_SIGN, MemIn(_label(label)),
                             ValueIn(alg, salt), MemIn(data),
                             MemOut(out_size))

    def decrypt(self, label, alg, ct: bytes, out_size=1024, b=0) -> Result:
        return self.s.invoke(P.OTLS_CMD_DECRYPT, MemIn(_label(label)),
                             ValueIn(alg, b), MemIn(ct), MemOut(out_size))

# ---- Command-line helper -----------------------------------------------

def _parse_param(spec: str) -> Param:
    kind, _, rest = spec.partition(":")
    args = rest.split(":") if rest else []
    if kind == "none":
        return NoneParam()
    if kind in ("vin", "vout", "vio"):
        cls = {"vin": ValueIn, "vout": ValueOut, "vio": ValueInOut}[kind]
        a = int(args[0], 0) if args else 0
        b = int(args[1], 0) if len(args) > 1 else 0
        return cls(a, b)
    if kind == "min":
        return MemIn(bytes.fromhex(args[0]) if args else b"")
    if kind == "mout":
        return MemOut(int(args[0], 0))
    if kind == "mio":
        return MemInOut(bytes.fromhex(args[0]), int(args[1], 0))
    if kind == "nullin":
        return MemIn(None, int(args[0], 0))
    if kind == "nullout":
        return MemOut(int(args[0], 0), null=True)
    raise ValueError(f"bad parameter spec {spec!r}")


def _describe(p: Param):
    if isinstance(p, MemOut):
        return {"size": p.size,
                "data": p.data.hex() if p.data is not None else None}
    if isinstance(p, ValueIn):
        return {"a": p.a, "b": p.b}
    if isinstance(p, MemIn):
        return {"size": p.size}
    return None


def main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--login", choices=["public", "user", "group"],
                    default="public")
    ap.add_argument("--gid", type=int)
    ap.add_argument("--uuid", default=OTLS_TA_UUID)
    ap.add_argument("--socket")
    ap.add_argument("action", choices=["invoke"])
    ap.add_argument("cmd", type=lambda s: int(s, 0))
    ap.add_argument("params", nargs="*")
    a = ap.parse_args(argv)
    login = {"public": TEEC_LOGIN_PUBLIC, "user": TEEC_LOGIN_USER,
             "group": TEEC_LOGIN_GROUP}[a.login]
    out: dict = {}
    try:
        with Tee(socket=a.socket) as tee, \
                tee.session(a.uuid, login=login, gid=a.gid) as s:
            r = s.invoke(a.cmd, *[_parse_param(p) for p in a.params])
            out = {"rc": r.rc, "origin": r.origin,
                   "params": [_describe(p) for p in r.params]}
    except TeeError as e:
        out = {"rc": e.rc, "origin": e.origin, "stage": "open"}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
