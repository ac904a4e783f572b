"""ctypes binding of the GP TEE Client API (build/lib/libteec.so) for the
simulator's tests, plus a small CLI so that a test can run one call as
another uid:

    python3 tests/sim_teec.py info [--login public|user|group] [--gid N]

prints one JSON object: result, origin, session_id, info (struct otls_info
fields when GET_INFO succeeded).

The structure layouts follow sim/include/tee_client_api.h (the public
fields are the GP/optee_client ones; the imp members are the simulator's).
"""
from __future__ import annotations

import ctypes as C
import json
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# SIM_TEEC_LIB may point at another build of libteec (e.g. a sanitizer one).
LIBTEEC = Path(os.environ.get("SIM_TEEC_LIB")
               or ROOT / "build" / "lib" / "libteec.so")

# ---- constants (GP TEE Client API) ----------------------------------------
TEEC_SUCCESS = 0x00000000
TEEC_ERROR_GENERIC = 0xFFFF0000
TEEC_ERROR_ACCESS_DENIED = 0xFFFF0001
TEEC_ERROR_EXCESS_DATA = 0xFFFF0004
TEEC_ERROR_BAD_PARAMETERS = 0xFFFF0006
TEEC_ERROR_BUSY = 0xFFFF000D
TEEC_ERROR_ITEM_NOT_FOUND = 0xFFFF0008
TEEC_ERROR_NOT_SUPPORTED = 0xFFFF000A
TEEC_ERROR_COMMUNICATION = 0xFFFF000E
TEEC_ERROR_SHORT_BUFFER = 0xFFFF0010
TEEC_ERROR_TARGET_DEAD = 0xFFFF3024

TEEC_ORIGIN_API = 1
TEEC_ORIGIN_COMMS = 2
TEEC_ORIGIN_TEE = 3
TEEC_ORIGIN_TRUSTED_APP = 4

TEEC_LOGIN_PUBLIC = 0
TEEC_LOGIN_USER = 1
TEEC_LOGIN_GROUP = 2
TEEC_LOGIN_APPLICATION = 4
TEEC_LOGIN_USER_APPLICATION = 5
TEEC_LOGIN_GROUP_APPLICATION = 6

TEEC_NONE = 0
TEEC_VALUE_INPUT = 1
TEEC_VALUE_OUTPUT = 2
TEEC_VALUE_INOUT = 3
TEEC_MEMREF_TEMP_INPUT = 5
TEEC_MEMREF_TEMP_OUTPUT = 6
TEEC_MEMREF_TEMP_INOUT = 7
TEEC_MEMREF_WHOLE = 0xC
TEEC_MEMREF_PARTIAL_INPUT = 0xD
TEEC_MEMREF_PARTIAL_OUTPUT = 0xE
TEEC_MEMREF_PARTIAL_INOUT = 0xF

TEEC_MEM_INPUT = 1
TEEC_MEM_OUTPUT = 2

# ---- optee-tls TA protocol (ta/include/optee_tls_ta.h) --------------------
OTLS_TA_UUID = "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61"
OTLS_CMD_GET_INFO = 0
OTLS_CMD_GET_KEY = 2
OTLS_INFO_FIELDS = ("protocol_version", "ta_version", "key_types",
                    "allow_mask", "label_max", "max_keys", "open_keys",
                    "reserved")
OTLS_INFO_SIZE = 4 * len(OTLS_INFO_FIELDS)

# Namespace of client UUIDs in the Linux TEE subsystem.
CLIENT_UUID_NS = "58ac9ca0-2086-4683-a1b8-ec4bc08e01b6"


def param_types(p0=0, p1=0, p2=0, p3=0) -> int:
    return p0 | (p1 << 4) | (p2 << 8) | (p3 << 12)


class TEEC_UUID(C.Structure):
    _fields_ = [("timeLow", C.c_uint32), ("timeMid", C.c_uint16),
                ("timeHiAndVersion", C.c_uint16),
                ("clockSeqAndNode", C.c_uint8 * 8)]

    @classmethod
    def parse(cls, text: str) -> "TEEC_UUID":
        raw = bytes.fromhex(text.replace("-", ""))
        u = cls()
        u.timeLow, u.timeMid, u.timeHiAndVersion = struct.unpack(
            ">IHH", raw[:8])
        for i, b in enumerate(raw[8:]):
            u.clockSeqAndNode[i] = b
        return u


class _CtxImp(C.Structure):
    _fields_ = [("fd", C.c_int), ("reg_mem", C.c_bool),
                ("memref_null", C.c_bool), ("magic", C.c_uint32),
                ("socket_path", C.c_char * 108)]


class TEEC_Context(C.Structure):
    _fields_ = [("imp", _CtxImp)]


class _ShmImp(C.Structure):
    _fields_ = [("id", C.c_int), ("alloced_size", C.c_size_t),
                ("shadow_buffer", C.c_void_p), ("registered_fd", C.c_int),
                ("flags", C.c_uint32)]


class TEEC_SharedMemory(C.Structure):
    _fields_ = [("buffer", C.c_void_p), ("size", C.c_size_t),
                ("flags", C.c_uint32), ("imp", _ShmImp)]


class TEEC_TempMemoryReference(C.Structure):
    _fields_ = [("buffer", C.c_void_p), ("size", C.c_size_t)]


class TEEC_RegisteredMemoryReference(C.Structure):
    _fields_ = [("parent", C.POINTER(TEEC_SharedMemory)),
                ("size", C.c_size_t), ("offset", C.c_size_t)]


class TEEC_Value(C.Structure):
    _fields_ = [("a", C.c_uint32), ("b", C.c_uint32)]


class TEEC_Parameter(C.Union):
    _fields_ = [("tmpref", TEEC_TempMemoryReference),
                ("memref", TEEC_RegisteredMemoryReference),
                ("value", TEEC_Value)]


class _SessImp(C.Structure):
    _fields_ = [("ctx", C.POINTER(TEEC_Context)), ("session_id", C.c_uint32),
                ("fd", C.c_int), ("state", C.c_void_p)]


class TEEC_Session(C.Structure):
    _fields_ = [("imp", _SessImp)]


class _OpImp(C.Structure):
    _fields_ = [("session", C.POINTER(TEEC_Session))]


class TEEC_Operation(C.Structure):
    _fields_ = [("started", C.c_uint32), ("paramTypes", C.c_uint32),
                ("params", TEEC_Parameter * 4), ("imp", _OpImp)]


def load(path: Path | str = LIBTEEC) -> C.CDLL:
    lib = C.CDLL(str(path))
    lib.TEEC_InitializeContext.argtypes = [C.c_char_p,
                                           C.POINTER(TEEC_Context)]
    lib.TEEC_InitializeContext.restype = C.c_uint32
    lib.TEEC_FinalizeContext.argtypes = [C.POINTER(TEEC_Context)]
    lib.TEEC_FinalizeContext.restype = None
    lib.TEEC_OpenSession.argtypes = [
        C.POINTER(TEEC_Context), C.POINTER(TEEC_Session),
        C.POINTER(TEEC_UUID), C.c_uint32, C.c_void_p,
        C.POINTER(TEEC_Operation), C.POINTER(C.c_uint32)]
    lib.TEEC_OpenSession.restype = C.c_uint32
    lib.TEEC_CloseSession.argtypes = [C.POINTER(TEEC_Session)]
    lib.TEEC_CloseSession.restype = None
    lib.TEEC_InvokeCommand.argtypes = [
        C.POINTER(TEEC_Session), C.c_uint32, C.POINTER(TEEC_Operation),
        C.POINTER(C.c_uint32)]
    lib.TEEC_InvokeCommand.restype = C.c_uint32
    for name in ("TEEC_RegisterSharedMemory", "TEEC_AllocateSharedMemory"):
        fn = getattr(lib, name)
        fn.argtypes = [C.POINTER(TEEC_Context), C.POINTER(TEEC_SharedMemory)]
        fn.restype = C.c_uint32
    lib.TEEC_ReleaseSharedMemory.argtypes = [C.POINTER(TEEC_SharedMemory)]
    lib.TEEC_ReleaseSharedMemory.restype = None
    lib.TEEC_RequestCancellation.argtypes = [C.POINTER(TEEC_Operation)]
    lib.TEEC_RequestCancellation.restype = None
    return lib


class Client:
    """One TEEC context; sessions opened through it."""

    def __init__(self, lib: C.CDLL | None = None):
        self.lib = lib or load()
        self.ctx = TEEC_Context()
        self.res = self.lib.TEEC_InitializeContext(None, C.byref(self.ctx))
        self.ok = self.res == TEEC_SUCCESS

    def open(self, login=TEEC_LOGIN_PUBLIC, gid=None, uuid=OTLS_TA_UUID,
             op: TEEC_Operation | None = None):
        """Return (result, origin, session or None)."""
        sess = TEEC_Session()
        origin = C.c_uint32(0xFFFFFFFF)
        data = C.byref(C.c_uint32(gid)) if gid is not None else None
        res = self.lib.TEEC_OpenSession(
            C.byref(self.ctx), C.byref(sess),
            C.byref(TEEC_UUID.parse(uuid)), login, data,
            C.byref(op) if op is not None else None, C.byref(origin))
        return res, origin.value, (sess if res == TEEC_SUCCESS else None)

    def invoke(self, sess: TEEC_Session, cmd: int,
               op: TEEC_Operation | None = None):
        origin = C.c_uint32(0xFFFFFFFF)
        res = self.lib.TEEC_InvokeCommand(
            C.byref(sess), cmd, C.byref(op) if op is not None else None,
            C.byref(origin))
        return res, origin.value

    def close(self, sess: TEEC_Session) -> None:
        self.lib.TEEC_CloseSession(C.byref(sess))

    def finalize(self) -> None:
        if self.ok:
            self.lib.TEEC_FinalizeContext(C.byref(self.ctx))
            self.ok = False

    def get_info(self, sess: TEEC_Session, size: int = OTLS_INFO_SIZE):
        """GET_INFO with a temp memref: (result, origin, size, dict)."""
        buf = C.create_string_buffer(size)
        op = TEEC_Operation()
        op.paramTypes = param_types(TEEC_MEMREF_TEMP_OUTPUT)
        op.params[0].tmpref.buffer = C.cast(buf, C.c_void_p)
        op.params[0].tmpref.size = size
        res, origin = self.invoke(sess, OTLS_CMD_GET_INFO, op)
        got = op.params[0].tmpref.size
        info = None
        if res == TEEC_SUCCESS and got >= OTLS_INFO_SIZE:
            info = dict(zip(OTLS_INFO_FIELDS, struct.unpack(
                "<8I", buf.raw[:OTLS_INFO_SIZE])))
        return res, origin, got, info


def _main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["info"])
    ap.add_argument("--login", default="public",
                    choices=["public", "user", "group", "application"])
    ap.add_argument("--gid", type=int)
    args = ap.parse_args(argv)
    login = {"public": TEEC_LOGIN_PUBLIC, "user": TEEC_LOGIN_USER,
             "group": TEEC_LOGIN_GROUP,
             "application": TEEC_LOGIN_APPLICATION}[args.login]
    out: dict = {"uid": os.geteuid(), "gid": os.getegid()}
    cl = Client()
    if not cl.ok:
        out.update(result=cl.res, origin=None, stage="context")
    else:
        gid = args.gid
        if login == TEEC_LOGIN_GROUP and gid is None:
            gid = os.getegid()
        res, origin, sess = cl.open(login, gid)
        out.update(result=res, origin=origin, stage="open")
        if sess is not None:
            out["session_id"] = sess.imp.session_id
            res, origin, _, info = cl.get_info(sess)
            out.update(result=res, origin=origin, stage="invoke", info=info)
            cl.close(sess)
        cl.finalize()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
