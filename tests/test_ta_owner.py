"""optee-tls TA: keys with an owner (uid or gid).

A key owned by uid X may only be used (SIGN, DECRYPT, DELETE) by a client
that opened its session with TEEC_LOGIN_USER while running as uid X: the
TA recomputes the client UUID Linux derives for "uid=<hex X>" and compares.
GET_KEY and LIST_KEYS stay public. Clients running as another uid are
helper processes (tests/teec.py's command line) started through setpriv,
which needs root; those tests are skipped otherwise.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from conftest import NOBODY, as_user_prefix, foreign_helpers
from teec import (
    P, Otls, Tee, TEE_ERROR_ACCESS_DENIED, TEE_SUCCESS, TEEC_LOGIN_GROUP,
    TEEC_LOGIN_PUBLIC, TEEC_LOGIN_USER, err_name, parse_desc, parse_list,
    public_key,
)

TEEC_PY = Path(__file__).resolve().parent / "teec.py"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="running a client as another uid needs root (setpriv)")


@pytest.fixture
def osim(sim):
    """The test's simulator (conftest makes its socket reachable by other
    uids)."""
    return sim


def as_client(sim, uid, gid, login, cmd, *params, conn_gid=None):
    """Run one invocation in a helper process as uid/gid; returns the JSON
    answer of teec.py (rc, params)."""
    script = TEEC_PY if uid == os.geteuid() else foreign_helpers() / "teec.py"
    args = [sys.executable, str(script), "--socket", str(sim.socket),
            "--login", login]
    if conn_gid is not None:
        args += ["--gid", str(conn_gid)]
    args += ["invoke", str(cmd), *params]
    if uid != os.geteuid():
        args = as_user_prefix(uid, gid) + args
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    out = sim.run(args, env=env, cwd="/")
    return json.loads(out.stdout)


def sign_params(label: str, alg: int, data: bytes):
    return ["min:" + label.encode().hex(), f"vin:{alg}:0",
            "min:" + data.hex(), "mout:1024"]


def ecdsa_ok(desc, digest, sig_hex):
    sig = bytes.fromhex(sig_hex)
    n = (desc["bits"] + 7) // 8
    der = utils.encode_dss_signature(int.from_bytes(sig[:n], "big"),
                                     int.from_bytes(sig[n:], "big"))
    public_key(desc).verify(der, digest, ec.ECDSA(utils.Prehashed(
        hashes.SHA256())))


def gen(sim, label, owner_kind, owner_id, key_type=P.OTLS_KEY_EC, bits=256,
        allowed=0):
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        r = Otls(s).generate(label, key_type, bits, allowed=allowed,
                             owner_kind=owner_kind, owner_id=owner_id)
        assert r.rc == TEE_SUCCESS, err_name(r.rc)
        d = parse_desc(r[3].data)
        assert d["policy"][1:3] == (owner_kind, owner_id)
        return d


def test_owner_is_current_user(osim):
    """Works without root: a key owned by our own uid needs LOGIN_USER."""
    me = os.geteuid()
    d = gen(osim, "mine", P.OTLS_OWNER_UID, me)
    digest = hashlib.sha256(b"mine").digest()
    with Tee(socket=osim.socket) as tee:
        with tee.session(login=TEEC_LOGIN_PUBLIC) as s:
            ta = Otls(s)
            assert ta.sign("mine", P.OTLS_ALG_ECDSA, digest).rc == \
                TEE_ERROR_ACCESS_DENIED
            assert ta.delete("mine").rc == TEE_ERROR_ACCESS_DENIED
            # Public information stays public.
            assert ta.get_key("mine").rc == TEE_SUCCESS
            assert [e["label"] for e in parse_list(ta.list()[0].data)] == \
                ["mine"]
        with tee.session(login=TEEC_LOGIN_USER) as s:
            r = Otls(s).sign("mine", P.OTLS_ALG_ECDSA, digest)
            assert r.rc == TEE_SUCCESS, err_name(r.rc)
            ecdsa_ok(d, digest, r[3].data.hex())
        # Owned by someone else's uid: refused even with LOGIN_USER.
        gen(osim, "other", P.OTLS_OWNER_UID, me + 1)
        with tee.session(login=TEEC_LOGIN_USER) as s:
            ta = Otls(s)
            assert ta.sign("other", P.OTLS_ALG_ECDSA, digest).rc == \
                TEE_ERROR_ACCESS_DENIED
            assert ta.delete("other").rc == TEE_ERROR_ACCESS_DENIED
            assert ta.delete("mine").rc == TEE_SUCCESS


def test_group_owner_current_group(osim):
    my_gid = os.getegid()
    gen(osim, "grp", P.OTLS_OWNER_GID, my_gid)
    digest = hashlib.sha256(b"grp").digest()
    with Tee(socket=osim.socket) as tee:
        with tee.session(login=TEEC_LOGIN_GROUP, gid=my_gid) as s:
            r = Otls(s).sign("grp", P.OTLS_ALG_ECDSA, digest)
            assert r.rc == TEE_SUCCESS, err_name(r.rc)
        # LOGIN_USER is not LOGIN_GROUP, even if the numbers match.
        with tee.session(login=TEEC_LOGIN_USER) as s:
            assert Otls(s).sign("grp", P.OTLS_ALG_ECDSA, digest).rc == \
                TEE_ERROR_ACCESS_DENIED
        with tee.session(login=TEEC_LOGIN_PUBLIC) as s:
            assert Otls(s).sign("grp", P.OTLS_ALG_ECDSA, digest).rc == \
                TEE_ERROR_ACCESS_DENIED


@needs_root
def test_key_owned_by_nobody(osim):
    d = gen(osim, "nob", P.OTLS_OWNER_UID, NOBODY)
    digest = hashlib.sha256(b"nobody").digest()
    sp = sign_params("nob", P.OTLS_ALG_ECDSA, digest)

    # root: refused with any login
    for login in ("public", "user"):
        out = as_client(osim, 0, 0, login, P.OTLS_CMD_SIGN, *sp)
        assert out["rc"] == TEE_ERROR_ACCESS_DENIED, (login, out)
    # nobody without LOGIN_USER: refused
    out = as_client(osim, NOBODY, NOBODY, "public", P.OTLS_CMD_SIGN, *sp)
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    # nobody with LOGIN_USER: the owner
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_SIGN, *sp)
    assert out["rc"] == TEE_SUCCESS, out
    ecdsa_ok(d, digest, out["params"][3]["data"])
    # Public information for everyone.
    out = as_client(osim, 0, 0, "public", P.OTLS_CMD_GET_KEY,
                    "min:" + b"nob".hex(), "mout:1024")
    assert out["rc"] == TEE_SUCCESS
    # Delete: root refused, owner allowed.
    out = as_client(osim, 0, 0, "user", P.OTLS_CMD_DELETE_KEY,
                    "min:" + b"nob".hex())
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_DELETE_KEY,
                    "min:" + b"nob".hex())
    assert out["rc"] == TEE_SUCCESS, out


@needs_root
def test_key_owned_by_root_refused_for_nobody(osim):
    gen(osim, "rootkey", P.OTLS_OWNER_UID, 0, key_type=P.OTLS_KEY_RSA,
        bits=2048, allowed=P.OTLS_ALLOW_RSA_PSS | P.OTLS_ALLOW_DECRYPT_OAEP)
    digest = hashlib.sha256(b"root").digest()
    with Tee(socket=osim.socket) as tee, \
            tee.session(login=TEEC_LOGIN_USER) as s:
        ta = Otls(s)
        r = ta.sign("rootkey", P.OTLS_ALG_RSA_PSS_SHA256, digest,
                    salt=P.OTLS_SALT_DIGEST_LEN)
        assert r.rc == TEE_SUCCESS, err_name(r.rc)
        desc = parse_desc(ta.get_key("rootkey")[1].data)
    pub = public_key(desc)
    ct = pub.encrypt(b"pms", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                          algorithm=hashes.SHA256(),
                                          label=None))
    label = "min:" + b"rootkey".hex()
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_SIGN, label,
                    f"vin:{P.OTLS_ALG_RSA_PSS_SHA256}:{P.OTLS_SALT_DIGEST_LEN}",
                    "min:" + digest.hex(), "mout:1024")
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_DECRYPT, label,
                    f"vin:{P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA256}:0",
                    "min:" + ct.hex(), "mout:1024")
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_DELETE_KEY,
                    label)
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    out = as_client(osim, NOBODY, NOBODY, "public", P.OTLS_CMD_LIST_KEYS,
                    "mout:600", "vout")
    assert out["rc"] == TEE_SUCCESS and out["params"][1]["a"] == 1
    # root, the owner, decrypts.
    with Tee(socket=osim.socket) as tee, \
            tee.session(login=TEEC_LOGIN_USER) as s:
        r = Otls(s).decrypt("rootkey", P.OTLS_ALG_RSA_DECRYPT_OAEP_SHA256, ct)
        assert r.rc == TEE_SUCCESS and r[3].data == b"pms"


@needs_root
def test_group_owned_key_other_users(osim):
    gen(osim, "g", P.OTLS_OWNER_GID, NOBODY)
    digest = hashlib.sha256(b"g").digest()
    sp = sign_params("g", P.OTLS_ALG_ECDSA, digest)
    out = as_client(osim, NOBODY, NOBODY, "group", P.OTLS_CMD_SIGN, *sp,
                    conn_gid=NOBODY)
    assert out["rc"] == TEE_SUCCESS, out
    out = as_client(osim, NOBODY, NOBODY, "user", P.OTLS_CMD_SIGN, *sp)
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
    out = as_client(osim, 0, 0, "group", P.OTLS_CMD_SIGN, *sp, conn_gid=0)
    assert out["rc"] == TEE_ERROR_ACCESS_DENIED, out
