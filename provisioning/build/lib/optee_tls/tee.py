"""ctypes binding of libopteetls: the only place Python speaks to the TEE.

The constants mirror ta/include/optee_tls_ta.h and engine/include/
optee_tls.h (tests/provisioning/test_tee.py checks they still agree).
The library is looked up in this order: $OPTEE_TLS_LIBRARY (a path), the
in-tree build (build/lib, when this package runs from a checkout), then
the installed libopteetls.so.1 (the dynamic loader's search path).
"""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import OpteeTlsError

# ---- protocol constants (ta/include/optee_tls_ta.h) ----------------------
LABEL_MAX = 32
MAX_PUB_PART = 512
MAX_MESSAGE = 16384
MAX_SIGNATURE = 512

KEY_EC = 1
KEY_RSA = 2
KEY_ED25519 = 3
KEY_TYPE_NAMES = {KEY_EC: "EC", KEY_RSA: "RSA", KEY_ED25519: "Ed25519"}

ALG_ECDSA = 0x0100
ALG_RSA_PKCS1_SHA256 = 0x0201
ALG_RSA_PKCS1_SHA384 = 0x0202
ALG_RSA_PKCS1_SHA512 = 0x0203
ALG_RSA_PKCS1_DIGESTINFO = 0x0210
ALG_RSA_PSS_SHA256 = 0x0301
ALG_RSA_PSS_SHA384 = 0x0302
ALG_RSA_PSS_SHA512 = 0x0303
ALG_ED25519 = 0x0400
ALG_RSA_DECRYPT_PKCS1 = 0x0501
ALG_RSA_DECRYPT_OAEP_SHA1 = 0x0502
ALG_RSA_DECRYPT_OAEP_SHA256 = 0x0503
SALT_DIGEST_LEN = 0xFFFFFFFF

ALLOW_ECDSA = 1 << 0
ALLOW_RSA_PKCS1 = 1 << 1
ALLOW_RSA_PKCS1_DIGESTINFO = 1 << 2
ALLOW_RSA_PSS = 1 << 3
ALLOW_ED25519 = 1 << 4
ALLOW_DECRYPT_PKCS1 = 1 << 8
ALLOW_DECRYPT_OAEP = 1 << 9
# Names used in the config and by `key show`.
ALLOW_NAMES = {
    "ecdsa": ALLOW_ECDSA, "rsa-pkcs1": ALLOW_RSA_PKCS1,
    "rsa-pkcs1-digestinfo": ALLOW_RSA_PKCS1_DIGESTINFO,
    "rsa-pss": ALLOW_RSA_PSS, "ed25519": ALLOW_ED25519,
    "decrypt-pkcs1": ALLOW_DECRYPT_PKCS1, "decrypt-oaep": ALLOW_DECRYPT_OAEP,
}

OWNER_ANY = 0
OWNER_UID = 1
OWNER_GID = 2

SIG_ECDSA_DER = 0
SIG_ECDSA_RAW = 1

# ---- library error codes (engine/include/optee_tls.h) --------------------
OK = 0
ERR_BAD_INPUT = -1
ERR_NOT_FOUND = -2
ERR_EXISTS = -3
ERR_IN_USE = -4
ERR_DENIED = -5
ERR_UNSUPPORTED = -6
ERR_TEE_UNREACHABLE = -7
ERR_TA_NOT_INSTALLED = -8
ERR_TA_DEAD = -9
ERR_CORRUPT = -10
ERR_NO_SPACE = -11
ERR_SHORT_BUFFER = -12
ERR_PROTOCOL = -13
ERR_INTERNAL = -14
ERR_DECRYPT_FAILED = -15
ERR_NAMES = {v: k for k, v in globals().items()
             if k.startswith("ERR_") and isinstance(v, int)}


class TeeError(OpteeTlsError):
    """A libopteetls call failed. `code` is the OTLS_ERR_* value,
    `tee_result`/`tee_origin` the raw TEEC result of the last TEE call."""

    def __init__(self, op: str, code: int, message: str, tee_result: int = 0,
                 tee_origin: int = 0, label: str | None = None) -> None:
        self.op = op
        self.code = code
        self.code_name = ERR_NAMES.get(code, str(code))
        self.library_message = message
        self.tee_result = tee_result
        self.tee_origin = tee_origin
        self.label = label
        where = f" (key {label!r})" if label else ""
        tee = f", TEE result 0x{tee_result:08x} origin {tee_origin}" \
            if tee_result else ""
        super().__init__(f"{op}{where}: {message} [{self.code_name}{tee}]")


class KeyNotFound(TeeError):
    pass


class KeyExists(TeeError):
    pass


class KeyInUse(TeeError):
    pass


class TeeUnreachable(TeeError):
    pass


_ERROR_CLASSES = {ERR_NOT_FOUND: KeyNotFound, ERR_EXISTS: KeyExists,
                  ERR_IN_USE: KeyInUse, ERR_TEE_UNREACHABLE: TeeUnreachable,
                  ERR_TA_NOT_INSTALLED: TeeUnreachable}


# ---- C structures ---------------------------------------------------------
class _Policy(ctypes.Structure):
    _fields_ = [("allowed", ctypes.c_uint32), ("owner_kind", ctypes.c_uint32),
                ("owner_id", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


class _KeyInfo(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * (LABEL_MAX + 1)),
                ("key_type", ctypes.c_uint32), ("bits", ctypes.c_uint32),
                ("policy", _Policy),
                ("pub_a", ctypes.c_ubyte * MAX_PUB_PART),
                ("pub_a_len", ctypes.c_size_t),
                ("pub_b", ctypes.c_ubyte * MAX_PUB_PART),
                ("pub_b_len", ctypes.c_size_t)]


class _ListEntry(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * (LABEL_MAX + 4)),
                ("key_type", ctypes.c_uint32), ("bits", ctypes.c_uint32),
                ("policy", _Policy)]


class _Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in (
        "protocol_version", "ta_version", "key_types", "allow_mask",
        "label_max", "max_keys", "open_keys", "reserved")]


# ---- Python views ---------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    allowed: int = 0
    owner_kind: int = OWNER_ANY
    owner_id: int = 0

    def allowed_names(self) -> list[str]:
        return [n for n, b in ALLOW_NAMES.items() if self.allowed & b]

    def owner_text(self) -> str:
        if self.owner_kind == OWNER_UID:
            return f"uid {self.owner_id}"
        if self.owner_kind == OWNER_GID:
            return f"gid {self.owner_id}"
        return "any"


@dataclass(frozen=True)
class KeyInfo:
    label: str
    key_type: int
    bits: int
    policy: Policy
    pub_a: bytes
    pub_b: bytes
    spki_der: bytes

    @property
    def type_name(self) -> str:
        return KEY_TYPE_NAMES.get(self.key_type, str(self.key_type))

    def describe(self) -> str:
        if self.key_type == KEY_EC:
            return f"EC P-{self.bits}"
        if self.key_type == KEY_RSA:
            return f"RSA-{self.bits}"
        return self.type_name


@dataclass(frozen=True)
class ListEntry:
    label: str
    key_type: int
    bits: int
    policy: Policy


@dataclass(frozen=True)
class TeeInfo:
    protocol_version: int
    ta_version: tuple[int, int, int]
    key_types: list[str]
    allowed: list[str]
    label_max: int
    max_keys: int
    protocol_ok: bool


def _source_tree_lib() -> Path | None:
    # provisioning/src/optee_tls/tee.py -> checkout root
    root = Path(__file__).resolve().parents[3]
    lib = root / "build" / "lib" / "libopteetls.so.1"
    if (root / "engine" / "include" / "optee_tls.h").is_file() and lib.is_file():
        return lib
    return None


class Library:
    """The loaded libopteetls. One per process (see `library()`)."""

    def __init__(self, path: str | None = None) -> None:
        candidates: list[str] = []
        if path:
            candidates.append(path)
        elif os.environ.get("OPTEE_TLS_LIBRARY"):
            candidates.append(os.environ["OPTEE_TLS_LIBRARY"])
        else:
            tree = _source_tree_lib()
            if tree:
                candidates.append(str(tree))
            candidates.append("libopteetls.so.1")
        errors = []
        for cand in candidates:
            try:
                self._lib = ctypes.CDLL(cand)
                self.path = cand
                break
            except OSError as e:
                errors.append(f"{cand}: {e}")
        else:
            raise TeeError("load libopteetls", ERR_TEE_UNREACHABLE,
                           "cannot load the client library (" +
                           "; ".join(errors) + ")")
        L = self._lib
        i, p, sz = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t
        u32, cp = ctypes.c_uint32, ctypes.c_char_p
        pki = ctypes.POINTER(_KeyInfo)
        self._sig = {
            "otls_get_info": (i, [ctypes.POINTER(_Info)]),
            "otls_key_generate": (i, [cp, u32, u32, ctypes.POINTER(_Policy), pki]),
            "otls_key_get": (i, [cp, pki]),
            "otls_key_delete": (i, [cp]),
            "otls_key_list": (i, [ctypes.POINTER(ctypes.POINTER(_ListEntry)),
                                  ctypes.POINTER(sz)]),
            "otls_key_spki_der": (i, [pki, ctypes.POINTER(p), ctypes.POINTER(sz)]),
            "otls_ref_encode_pem": (i, [pki, ctypes.POINTER(p)]),
            "otls_ref_decode_pem": (i, [cp, sz, cp, ctypes.POINTER(p),
                                        ctypes.POINTER(sz)]),
            "otls_sign": (i, [cp, u32, u32, cp, sz, cp, ctypes.POINTER(sz), i]),
            "otls_decrypt": (i, [cp, u32, cp, sz, cp, ctypes.POINTER(sz)]),
            "otls_sig_max_size": (sz, [u32, u32]),
            "otls_label_check": (i, [cp]),
            "otls_strerror": (cp, [i]),
            "otls_last_tee_result": (u32, []),
            "otls_last_tee_origin": (u32, []),
            "otls_free": (None, [p]),
        }
        for name, (res, args) in self._sig.items():
            fn = getattr(L, name)
            fn.restype = res
            fn.argtypes = args

    # -- helpers ----------------------------------------------------------
    def strerror(self, code: int) -> str:
        s = self._lib.otls_strerror(code)
        return s.decode() if s else f"error {code}"

    def _check(self, rc: int, op: str, label: str | None = None) -> None:
        if rc == OK:
            return
        cls = _ERROR_CLASSES.get(rc, TeeError)
        raise cls(op, rc, self.strerror(rc), self._lib.otls_last_tee_result(),
                  self._lib.otls_last_tee_origin(), label)

    def _take(self, ptr: int | None, size: int) -> bytes:
        try:
            return ctypes.string_at(ptr, size) if ptr else b""
        finally:
            if ptr:
                self._lib.otls_free(ptr)

    def _key_info(self, ki: _KeyInfo) -> KeyInfo:
        der, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(self._lib.otls_key_spki_der(ctypes.byref(ki), ctypes.byref(der),
                                                ctypes.byref(n)), "encode public key")
        return KeyInfo(ki.label.decode(), ki.key_type, ki.bits,
                       Policy(ki.policy.allowed, ki.policy.owner_kind,
                              ki.policy.owner_id),
                       bytes(ki.pub_a[:ki.pub_a_len]), bytes(ki.pub_b[:ki.pub_b_len]),
                       self._take(der.value, n.value))

    @staticmethod
    def _label(label: str) -> bytes:
        if not isinstance(label, str):
            raise TypeError("label must be a str")
        return label.encode()

    # -- API ----------------------------------------------------------------
    def label_ok(self, label: str) -> bool:
        try:
            return bool(self._lib.otls_label_check(self._label(label)) == OK)
        except UnicodeEncodeError:
            return False

    def get_info(self) -> TeeInfo:
        info = _Info()
        rc = self._lib.otls_get_info(ctypes.byref(info))
        if rc not in (OK, ERR_PROTOCOL) or (rc == ERR_PROTOCOL and not info.protocol_version):
            self._check(rc, "get TEE info")
        v = info.ta_version
        return TeeInfo(info.protocol_version, (v >> 16, (v >> 8) & 0xFF, v & 0xFF),
                       [n for t, n in KEY_TYPE_NAMES.items() if info.key_types & (1 << t)],
                       [n for n, b in ALLOW_NAMES.items() if info.allow_mask & b],
                       info.label_max, info.max_keys, rc == OK)

    def generate(self, label: str, key_type: int, bits: int,
                 policy: Policy | None = None) -> KeyInfo:
        ki = _KeyInfo()
        pol = None
        if policy is not None:
            pol = ctypes.byref(_Policy(policy.allowed, policy.owner_kind,
                                       policy.owner_id, 0))
        self._check(self._lib.otls_key_generate(self._label(label), key_type, bits,
                                                pol, ctypes.byref(ki)),
                    "generate key", label)
        return self._key_info(ki)

    def get(self, label: str) -> KeyInfo:
        ki = _KeyInfo()
        self._check(self._lib.otls_key_get(self._label(label), ctypes.byref(ki)),
                    "get key", label)
        return self._key_info(ki)

    def find(self, label: str) -> KeyInfo | None:
        try:
            return self.get(label)
        except KeyNotFound:
            return None

    def delete(self, label: str) -> None:
        self._check(self._lib.otls_key_delete(self._label(label)), "delete key", label)

    def list(self) -> list[ListEntry]:
        out = ctypes.POINTER(_ListEntry)()
        n = ctypes.c_size_t()
        self._check(self._lib.otls_key_list(ctypes.byref(out), ctypes.byref(n)),
                    "list keys")
        try:
            return [ListEntry(out[k].label.decode(), out[k].key_type, out[k].bits,
                              Policy(out[k].policy.allowed, out[k].policy.owner_kind,
                                     out[k].policy.owner_id))
                    for k in range(n.value)]
        finally:
            if out:
                self._lib.otls_free(out)

    def key_reference_pem(self, label: str) -> str:
        """The PEM key reference file ("OPTEE TLS KEY") for a key: what
        OpenSSL (provider, nginx) loads instead of a private key."""
        ki = _KeyInfo()
        self._check(self._lib.otls_key_get(self._label(label), ctypes.byref(ki)),
                    "get key", label)
        pem = ctypes.c_void_p()
        self._check(self._lib.otls_ref_encode_pem(ctypes.byref(ki), ctypes.byref(pem)),
                    "encode key reference", label)
        if not pem.value:
            raise TeeError("encode key reference", ERR_INTERNAL, "no PEM returned", label=label)
        return self._take(pem.value, len(ctypes.string_at(pem.value))).decode()

    def decode_reference(self, pem: str | bytes) -> tuple[str, bytes]:
        """(label, SPKI DER) of a PEM key reference."""
        data = pem.encode() if isinstance(pem, str) else pem
        label = ctypes.create_string_buffer(LABEL_MAX + 1)
        spki, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(self._lib.otls_ref_decode_pem(data, len(data), label,
                                                  ctypes.byref(spki), ctypes.byref(n)),
                    "decode key reference")
        return label.value.decode(), self._take(spki.value, n.value)

    def sign(self, label: str, alg: int, tbs: bytes, saltlen: int = 0,
             flags: int = SIG_ECDSA_DER, max_size: int = MAX_SIGNATURE + 16) -> bytes:
        buf = ctypes.create_string_buffer(max_size)
        n = ctypes.c_size_t(max_size)
        self._check(self._lib.otls_sign(self._label(label), alg, saltlen, tbs,
                                        len(tbs), buf, ctypes.byref(n), flags),
                    "sign", label)
        return buf.raw[:n.value]

    def decrypt(self, label: str, alg: int, ciphertext: bytes) -> bytes:
        buf = ctypes.create_string_buffer(MAX_SIGNATURE)
        n = ctypes.c_size_t(MAX_SIGNATURE)
        self._check(self._lib.otls_decrypt(self._label(label), alg, ciphertext,
                                           len(ciphertext), buf, ctypes.byref(n)),
                    "decrypt", label)
        return buf.raw[:n.value]


_lib: Library | None = None
_lib_lock = threading.Lock()


def library() -> Library:
    """The process-wide Library, loaded on first use."""
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = Library()
        return _lib
