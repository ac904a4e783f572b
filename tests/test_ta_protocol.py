"""optee-tls TA: parameter layouts, labels, sizes, short buffers, GET_INFO.

Every command gets every wrong parameter-type word we can think of; the
TA must answer BAD_PARAMETERS and stay alive (a TA panic would show up as
TEE_ERROR_TARGET_DEAD and in the simulator's panic counter).
"""
from __future__ import annotations


import pytest

from teec import (
    DESC_HDR_SIZE, INFO_SIZE, LIST_ENTRY_SIZE, P, POLICY_SIZE, MemIn,
    MemInOut, MemOut, Otls, Tee, ValueIn, ValueInOut, ValueOut,
    TEE_ERROR_BAD_PARAMETERS,
    TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_NOT_SUPPORTED,
    TEE_ERROR_SHORT_BUFFER, TEE_SUCCESS, TEEC_MEMREF_TEMP_INOUT,
    TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE,
    TEEC_ORIGIN_TRUSTED_APP, TEEC_VALUE_INOUT, TEEC_VALUE_INPUT,
    TEEC_VALUE_OUTPUT, TeeError, err_name, param_types,
    parse_info, parse_list,
)

ALL_TYPES = (TEEC_NONE, TEEC_VALUE_INPUT, TEEC_VALUE_OUTPUT,
             TEEC_VALUE_INOUT, TEEC_MEMREF_TEMP_INPUT,
             TEEC_MEMREF_TEMP_OUTPUT, TEEC_MEMREF_TEMP_INOUT)


@pytest.fixture
def tee(sim):
    with Tee(socket=sim.socket) as t:
        yield t


@pytest.fixture
def session(tee):
    with tee.session() as s:
        yield s


@pytest.fixture
def ta(session):
    return Otls(session)


def rc_name(r) -> str:
    return err_name(r.rc)


def assert_rc(r, rc):
    assert r.rc == rc, f"got {err_name(r.rc)}, want {err_name(rc)}"
    assert r.origin == TEEC_ORIGIN_TRUSTED_APP, r.origin


def assert_no_panics(sim):
    assert sim.stats()["panics"] == 0


# ---- Parameter types ----------------------------------------------------

def param_for(t: int):
    """A well-formed parameter of type t (contents plausible)."""
    return {
        TEEC_NONE: None,
        TEEC_VALUE_INPUT: ValueIn(1, 256),
        TEEC_VALUE_OUTPUT: ValueOut(),
        TEEC_VALUE_INOUT: ValueInOut(1, 256),
        TEEC_MEMREF_TEMP_INPUT: MemIn(b"lbl"),
        TEEC_MEMREF_TEMP_OUTPUT: MemOut(1024),
        TEEC_MEMREF_TEMP_INOUT: MemInOut(b"lbl", 1024),
    }[t]


LAYOUTS = {
    P.OTLS_CMD_GET_INFO: (TEEC_MEMREF_TEMP_OUTPUT, 0, 0, 0),
    P.OTLS_CMD_GENERATE_KEY: (TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT,
                              TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT),
    P.OTLS_CMD_GET_KEY: (TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT, 0, 0),
    P.OTLS_CMD_LIST_KEYS: (TEEC_MEMREF_TEMP_OUTPUT, TEEC_VALUE_OUTPUT, 0, 0),
    P.OTLS_CMD_DELETE_KEY: (TEEC_MEMREF_TEMP_INPUT, 0, 0, 0),
    P.OTLS_CMD_SIGN: (TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT,
                      TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT),
    P.OTLS_CMD_DECRYPT: (TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT,
                         TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT),
}


def wrong_layouts(good):
    """Every layout differing from good in exactly one parameter, plus a
    few wholesale ones (all NONE, all INOUT, shifted)."""
    out = set()
    for i in range(4):
        for t in ALL_TYPES:
            if t != good[i]:
                lay = list(good)
                lay[i] = t
                out.add(tuple(lay))
    out.add((0, 0, 0, 0))
    out.add((TEEC_MEMREF_TEMP_INOUT,) * 4)
    out.add(tuple(good[1:]) + (good[0],))
    out.discard(tuple(good))
    return sorted(out)


@pytest.mark.parametrize("cmd", sorted(LAYOUTS))
def test_wrong_param_types_every_command(sim, session, cmd):
    good = LAYOUTS[cmd]
    for lay in wrong_layouts(good):
        params = [param_for(t) for t in lay]
        r = session.invoke(cmd, *params)
        assert r.rc == TEE_ERROR_BAD_PARAMETERS, \
            f"cmd {cmd} layout {lay}: {err_name(r.rc)}"
    # The session survived all of it.
    r = Otls(session).info()
    assert_rc(r, TEE_SUCCESS)
    assert_no_panics(sim)


def test_types_word_lies_about_contents(sim, session):
    """The types word is what counts: declare MEMREF_INPUT where the
    union holds a value (libteec then sends a NULL/0 memref or garbage
    size), and the reverse."""
    ta = Otls(session)
    assert ta.generate("k", P.OTLS_KEY_EC, 256).ok
    good = param_types(*LAYOUTS[P.OTLS_CMD_SIGN])
    bad = param_types(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                      TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT)
    r = session.invoke(P.OTLS_CMD_SIGN, MemIn(b"k"),
                       ValueIn(P.OTLS_ALG_ECDSA), MemIn(b"\1" * 32),
                       MemOut(256), types=bad)
    assert r.rc == TEE_ERROR_BAD_PARAMETERS
    r = session.invoke(P.OTLS_CMD_SIGN, MemIn(b"k"),
                       ValueIn(P.OTLS_ALG_ECDSA), MemIn(b"\1" * 32),
                       MemOut(256), types=good)
    assert_rc(r, TEE_SUCCESS)
    # Undefined nibble values (4, 8..15). (Bits above the four nibbles
    # are the client library's business: GP only defines 16 bits.)
    for types in ((good & ~0xF) | 0x4, (good & ~0xF000) | 0x8000,
                  0xFFFF):
        r = session.invoke(P.OTLS_CMD_SIGN, MemIn(b"k"),
                           ValueIn(P.OTLS_ALG_ECDSA), MemIn(b"\1" * 32),
                           MemOut(256), types=types)
        assert r.rc != TEE_SUCCESS, hex(types)
    assert_rc(ta.info(), TEE_SUCCESS)
    assert_no_panics(sim)


def test_unknown_commands(sim, session):
    for cmd in (7, 8, 100, 0x7FFFFFFF, 0xFFFFFFFF):
        r = session.invoke(cmd, MemOut(64))
        assert_rc(r, TEE_ERROR_NOT_SUPPORTED)
    assert_no_panics(sim)


def test_open_session_with_parameters_refused(sim, tee):
    with pytest.raises(TeeError) as e:
        tee.session(params=[ValueIn(1, 2)])
    assert e.value.rc == TEE_ERROR_BAD_PARAMETERS
    with tee.session() as s:
        assert Otls(s).info().ok


# ---- GET_INFO -----------------------------------------------------------

def test_get_info(ta):
    r = ta.info()
    assert_rc(r, TEE_SUCCESS)
    assert r[0].size == INFO_SIZE == 32
    info = parse_info(r[0].data)
    assert info == {
        "protocol_version": P.OTLS_PROTOCOL_VERSION,
        "ta_version": (P.OTLS_TA_VERSION_MAJOR << 16)
        | (P.OTLS_TA_VERSION_MINOR << 8) | P.OTLS_TA_VERSION_PATCH,
        "key_types": (1 << P.OTLS_KEY_EC) | (1 << P.OTLS_KEY_RSA)
        | (1 << P.OTLS_KEY_ED25519),
        "allow_mask": P.OTLS_ALLOW_ECDSA | P.OTLS_ALLOW_RSA_PKCS1
        | P.OTLS_ALLOW_RSA_PKCS1_DIGESTINFO | P.OTLS_ALLOW_RSA_PSS
        | P.OTLS_ALLOW_ED25519 | P.OTLS_ALLOW_DECRYPT_PKCS1
        | P.OTLS_ALLOW_DECRYPT_OAEP,
        "label_max": P.OTLS_LABEL_MAX,
        "max_keys": P.OTLS_MAX_KEYS,
        "open_keys": 0,
        "reserved": 0,
    }


def test_get_info_short_and_null_buffers(ta, session):
    for size in (0, 1, INFO_SIZE - 1):
        r = ta.info(size)
        assert_rc(r, TEE_ERROR_SHORT_BUFFER)
        assert r[0].size == INFO_SIZE
    r = session.invoke(P.OTLS_CMD_GET_INFO, MemOut(0, null=True))
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[0].size == INFO_SIZE
    # A bigger buffer: exactly the structure is written, nothing after it.
    r = ta.info(100)
    assert_rc(r, TEE_SUCCESS)
    assert r[0].size == INFO_SIZE
    assert r[0].raw[INFO_SIZE:] == b"\xa5" * (100 - INFO_SIZE)


# ---- Labels ---------------------------------------------------------------

BAD_LABELS = [
    b"",                        # empty
    b"a" * (P.OTLS_LABEL_MAX + 1),  # 33 bytes
    b"a" * 200,
    b"-abc", b".abc", b"_abc",  # first byte not alphanumeric
    b"ab c", b"ab/c", b"a:b", b"a\\b", b"..", b"a\n",
    b"ab\0c", b"abc\0",         # embedded / trailing NUL
    b"\0", "é".encode(), b"\xff\xfe",
]
GOOD_LABELS = [b"a", b"Z", b"0", b"a" * P.OTLS_LABEL_MAX, b"web-1.key_2",
               b"9.-_"]


@pytest.mark.parametrize("label", BAD_LABELS, ids=lambda b: b.hex() or "empty")
def test_malformed_labels_every_command(sim, ta, label):
    assert_rc(ta.generate(label, P.OTLS_KEY_EC, 256), TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.get_key(label), TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.delete(label), TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.sign(label, P.OTLS_ALG_ECDSA, b"\1" * 32),
              TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.decrypt(label, P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"\1" * 256),
              TEE_ERROR_BAD_PARAMETERS)
    r = ta.list()
    assert_rc(r, TEE_SUCCESS)
    assert r[1].a == r[1].b == 0
    assert_no_panics(sim)


def test_good_labels(ta):
    for label in GOOD_LABELS:
        r = ta.generate(label, P.OTLS_KEY_ED25519, 256)
        assert_rc(r, TEE_SUCCESS)
        assert_rc(ta.get_key(label), TEE_SUCCESS)
    r = ta.list()
    assert_rc(r, TEE_SUCCESS)
    assert r[1].a == r[1].b == len(GOOD_LABELS)
    assert [e["label"].encode() for e in parse_list(r[0].data)] == \
        sorted(GOOD_LABELS)


def test_unknown_label(ta):
    assert_rc(ta.get_key("nope"), TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.delete("nope"), TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.sign("nope", P.OTLS_ALG_ECDSA, b"\1" * 32),
              TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.decrypt("nope", P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"\1" * 256),
              TEE_ERROR_ITEM_NOT_FOUND)


def test_labels_are_case_sensitive_and_exact(ta):
    assert ta.generate("Key", P.OTLS_KEY_ED25519, 256).ok
    assert_rc(ta.get_key("key"), TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.get_key("Ke"), TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.get_key("Key1"), TEE_ERROR_ITEM_NOT_FOUND)
    assert ta.generate("key", P.OTLS_KEY_ED25519, 256).ok
    assert ta.get_key("Key")[1].data != ta.get_key("key")[1].data


# ---- NULL and oversized memrefs ---------------------------------------------

def test_null_input_memrefs(sim, session):
    ta = Otls(session)
    assert ta.generate("k", P.OTLS_KEY_EC, 256).ok
    # NULL label (size 0 on the wire): malformed label.
    r = session.invoke(P.OTLS_CMD_GET_KEY, MemIn(None, 0), MemOut(512))
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    # NULL policy.
    r = session.invoke(P.OTLS_CMD_GENERATE_KEY, MemIn(b"x"),
                       ValueIn(P.OTLS_KEY_EC, 256), MemIn(None, 0),
                       MemOut(512))
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    # NULL digest.
    r = session.invoke(P.OTLS_CMD_SIGN, MemIn(b"k"),
                       ValueIn(P.OTLS_ALG_ECDSA), MemIn(None, 0),
                       MemOut(512))
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    # A NULL input that claims a size never gets the TA to read anything.
    r = session.invoke(P.OTLS_CMD_SIGN, MemIn(b"k"),
                       ValueIn(P.OTLS_ALG_ECDSA), MemIn(None, 32),
                       MemOut(512))
    assert r.rc != TEE_SUCCESS
    assert_no_panics(sim)


def test_null_output_is_size_query(session):
    ta = Otls(session)
    r = ta.generate("k", P.OTLS_KEY_EC, 256)
    assert r.ok
    size = r[3].size
    r = session.invoke(P.OTLS_CMD_GET_KEY, MemIn(b"k"), MemOut(0, null=True))
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[1].size == size


def test_policy_memref_size_exact(ta):
    for pol in (b"", b"\0" * (POLICY_SIZE - 1), b"\0" * (POLICY_SIZE + 1),
                b"\0" * 4096):
        r = ta.generate("k", P.OTLS_KEY_EC, 256, policy=pol)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.get_key("k"), TEE_ERROR_ITEM_NOT_FOUND)


def test_oversized_inputs(sim, ta):
    assert ta.generate("ec", P.OTLS_KEY_EC, 256).ok
    assert ta.generate("ed", P.OTLS_KEY_ED25519, 256).ok
    assert ta.generate("rsa", P.OTLS_KEY_RSA, 2048,
                       allowed=P.OTLS_ALLOW_RSA_PKCS1
                       | P.OTLS_ALLOW_DECRYPT_PKCS1).ok
    cases = [
        ("ec", P.OTLS_ALG_ECDSA, P.OTLS_MAX_DIGEST + 1),
        ("ec", P.OTLS_ALG_ECDSA, 4096),
        ("rsa", P.OTLS_ALG_RSA_PKCS1_SHA256, P.OTLS_MAX_DIGESTINFO + 1),
        ("rsa", P.OTLS_ALG_RSA_PKCS1_DIGESTINFO, P.OTLS_MAX_DIGESTINFO + 1),
        ("ed", P.OTLS_ALG_ED25519, P.OTLS_MAX_MESSAGE + 1),
        ("ed", P.OTLS_ALG_ED25519, P.OTLS_MAX_MESSAGE * 4),
    ]
    for label, alg, n in cases:
        r = ta.sign(label, alg, b"\x5a" * n)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    for n in (P.OTLS_MAX_CIPHERTEXT + 1, 4096):
        r = ta.decrypt("rsa", P.OTLS_ALG_RSA_DECRYPT_PKCS1, b"\1" * n)
        assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    # The largest Ed25519 message is fine.
    r = ta.sign("ed", P.OTLS_ALG_ED25519, b"\x5a" * P.OTLS_MAX_MESSAGE)
    assert_rc(r, TEE_SUCCESS)
    assert_no_panics(sim)


# ---- Short output buffers ---------------------------------------------------

def test_short_buffers_report_needed_size(sim, ta):
    # GENERATE: checked before any work, so nothing is created.
    r = ta.generate("k", P.OTLS_KEY_EC, 256, out_size=DESC_HDR_SIZE)
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[3].size == DESC_HDR_SIZE + 64
    assert_rc(ta.get_key("k"), TEE_ERROR_ITEM_NOT_FOUND)
    stats = sim.stats()
    r = ta.generate("k", P.OTLS_KEY_EC, 256, out_size=DESC_HDR_SIZE + 64)
    assert_rc(r, TEE_SUCCESS)
    assert r[3].size == DESC_HDR_SIZE + 64
    assert sim.stats()["storage_creates"] == stats["storage_creates"] + 1

    r = ta.generate("r", P.OTLS_KEY_RSA, 2048, out_size=10)
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[3].size == DESC_HDR_SIZE + 256 + 3

    # GET_KEY
    for size in (0, 1, DESC_HDR_SIZE, DESC_HDR_SIZE + 63):
        r = ta.get_key("k", out_size=size)
        assert_rc(r, TEE_ERROR_SHORT_BUFFER)
        assert r[1].size == DESC_HDR_SIZE + 64

    # SIGN
    for size in (0, 63):
        r = ta.sign("k", P.OTLS_ALG_ECDSA, b"\1" * 32, out_size=size)
        assert_rc(r, TEE_ERROR_SHORT_BUFFER)
        assert r[3].size == 64
    r = ta.sign("k", P.OTLS_ALG_ECDSA, b"\1" * 32, out_size=64)
    assert_rc(r, TEE_SUCCESS)
    assert r[3].size == 64

    # LIST
    r = ta.list(out_size=LIST_ENTRY_SIZE - 1)
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[0].size == LIST_ENTRY_SIZE
    r = ta.list(out_size=0)
    assert_rc(r, TEE_ERROR_SHORT_BUFFER)
    assert r[0].size == LIST_ENTRY_SIZE
    r = ta.list(out_size=LIST_ENTRY_SIZE)
    assert_rc(r, TEE_SUCCESS)
    assert (r[1].a, r[1].b) == (1, 1)
    assert_no_panics(sim)


def test_list_empty_with_null_buffer(session):
    r = session.invoke(P.OTLS_CMD_LIST_KEYS, MemOut(0, null=True), ValueOut())
    assert_rc(r, TEE_SUCCESS)
    assert r[0].size == 0
    assert (r[1].a, r[1].b) == (0, 0)


def test_value_b_must_be_zero(ta):
    assert ta.generate("ec", P.OTLS_KEY_EC, 256).ok
    r = ta.sign("ec", P.OTLS_ALG_ECDSA, b"\1" * 32, salt=1)
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    r = ta.sign("ec", P.OTLS_ALG_ECDSA, b"\1" * 32,
                salt=P.OTLS_SALT_DIGEST_LEN)
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)


def test_session_survives_garbage(sim, session):
    """A burst of random invocations: no panic, the session keeps working."""
    import random
    rnd = random.Random(1234)
    ta = Otls(session)
    assert ta.generate("g", P.OTLS_KEY_EC, 256).ok
    for _ in range(300):
        cmd = rnd.choice(list(LAYOUTS) + [rnd.randrange(0, 1 << 32)])
        lay = LAYOUTS.get(cmd, (0, 0, 0, 0))
        params = []
        for t in lay:
            if t == TEEC_MEMREF_TEMP_INPUT:
                n = rnd.choice([0, 1, 3, 16, 20, 31, 32, 33, 64, 65, 83,
                                256, 513])
                data = rnd.choice([b"g", bytes(rnd.randrange(256)
                                               for _ in range(n))])
                params.append(MemIn(data))
            elif t == TEEC_MEMREF_TEMP_OUTPUT:
                params.append(MemOut(rnd.choice([0, 1, 32, 64, 96, 600])))
            elif t == TEEC_VALUE_INPUT:
                params.append(ValueIn(rnd.choice(
                    [0, 1, 2, 3, 256, 0x100, 0x201, 0x210, 0x301, 0x400,
                     0x501, rnd.randrange(1 << 32)]),
                    rnd.choice([0, 256, 521, 2048, 0xFFFFFFFF,
                                rnd.randrange(1 << 32)])))
            elif t == TEEC_VALUE_OUTPUT:
                params.append(ValueOut())
            else:
                params.append(None)
        if cmd == P.OTLS_CMD_DELETE_KEY:
            continue
        r = session.invoke(cmd, *params)
        assert r.origin == TEEC_ORIGIN_TRUSTED_APP, rc_name(r)
    assert_rc(ta.sign("g", P.OTLS_ALG_ECDSA, b"\1" * 32), TEE_SUCCESS)
    assert_no_panics(sim)
