#!/usr/bin/env python3
"""Write the seed corpora of keyref_fuzz and wire_fuzz (corpus-keyref/,
corpus-wire/): well-formed inputs the fuzzer then mutates. Run from the
repository root; commit the output."""
from __future__ import annotations

import base64
import struct
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent


def der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def main() -> None:
    # A fixed P-256 key: seeds must not change between runs.
    key = ec.derive_private_key(0x1234567, ec.SECP256R1())
    pub = key.public_key()
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    nums = pub.public_numbers()
    x, y = nums.x.to_bytes(32, "big"), nums.y.to_bytes(32, "big")

    kr = HERE / "corpus-keyref"
    kr.mkdir(exist_ok=True)
    for i, uri in enumerate([b"optee:web", b"optee:label=web",
                             b"optee:a.b-c_d", b"optee:"]):
        (kr / f"uri{i}").write_bytes(b"\x00" + uri)
    body = der(0x30, der(0x02, b"\x01") + der(0x0c, b"optee:web") + spki)
    (kr / "der").write_bytes(b"\x01" + body)
    b64 = base64.encodebytes(body).decode()
    pem = f"-----BEGIN OPTEE TLS KEY-----\n{b64}-----END OPTEE TLS KEY-----\n"
    (kr / "pem").write_bytes(b"\x02" + pem.encode())
    (kr / "pem-after-text").write_bytes(b"\x02junk\n" + pem.encode())

    wr = HERE / "corpus-wire"
    wr.mkdir(exist_ok=True)

    def memref(b: bytes) -> bytes:
        return struct.pack(">H", len(b)) + b

    # GET_KEY: SUCCESS, key description (EC P-256, ECDSA allowed).
    desc = struct.pack("<8I", 1, 256, 1, 0, 0, 0, 32, 32) + x + y
    (wr / "get_key").write_bytes(b"\x00\x01" + b"\x00" + memref(desc))
    # GENERATE: value in/out then description.
    (wr / "generate").write_bytes(b"\x07\x01" + b"\x00" + memref(desc))
    # LIST: two entries and the value pair (a = 2, b = 2).
    ent = b"".join(lab.ljust(36, b"\0") + struct.pack("<6I", 1, 256, 1, 0, 0, 0)
                   for lab in (b"a", b"b"))
    (wr / "list").write_bytes(b"\x01\x01" + b"\x00" + memref(ent)
                              + struct.pack(">2I", 2, 2))
    # GET_INFO: protocol 1.
    info = struct.pack("<8I", 1, 0x10000, 0x1e, 0xff, 64, 64, 0, 0)
    (wr / "info").write_bytes(b"\x02\x01" + b"\x00" + memref(info))
    # SIGN ECDSA: raw r || s; and SHORT_BUFFER asking for more.
    (wr / "sign").write_bytes(b"\x03\x01" + b"\x00" + memref(b"\x11" * 64))
    (wr / "sign-short").write_bytes(b"\x04\x02" + b"\x01" + struct.pack(">H", 2000))
    (wr / "decrypt").write_bytes(b"\x05\x01" + b"\x00" + memref(b"\x42" * 48))


if __name__ == "__main__":
    main()
