"""optee-tls TA: key generation, description, policy, list, delete, and the
per-session cache of open keys (storage access counted by the simulator).
"""
from __future__ import annotations

import pytest

from teec import (
    LIST_ENTRY_SIZE, P, Otls, Tee,
    TEE_ERROR_ACCESS_CONFLICT, TEE_ERROR_ACCESS_DENIED, TEE_ERROR_BAD_PARAMETERS, TEE_ERROR_CORRUPT_OBJECT,
    TEE_ERROR_ITEM_NOT_FOUND, TEE_ERROR_NOT_SUPPORTED, TEE_SUCCESS,
    TEEC_ORIGIN_TRUSTED_APP, err_name, parse_desc, parse_info, parse_list, public_key,
)

SIGN_DEFAULT = {
    P.OTLS_KEY_EC: P.OTLS_ALLOW_ECDSA,
    P.OTLS_KEY_RSA: P.OTLS_ALLOW_RSA_PKCS1 | P.OTLS_ALLOW_RSA_PKCS1_DIGESTINFO
    | P.OTLS_ALLOW_RSA_PSS,
    P.OTLS_KEY_ED25519: P.OTLS_ALLOW_ED25519,
}


@pytest.fixture
def tee(sim):
    with Tee(socket=sim.socket) as t:
        yield t


@pytest.fixture
def ta(tee):
    with tee.session() as s:
        yield Otls(s)


def assert_rc(r, rc):
    assert r.rc == rc, f"got {err_name(r.rc)}, want {err_name(rc)}"
    assert r.origin == TEEC_ORIGIN_TRUSTED_APP


def check_desc_layout(buf: bytes, key_type: int, bits: int, policy: tuple):
    """The description is exactly header + A + B as documented: nothing
    else, in particular nothing private, ever comes back."""
    d = parse_desc(buf)
    assert len(buf) == d["size"]
    assert d["key_type"] == key_type and d["bits"] == bits
    assert d["policy"] == policy
    if key_type == P.OTLS_KEY_EC:
        n = (bits + 7) // 8
        assert d["a_len"] == d["b_len"] == n
        pub = public_key(d)     # raises if (X, Y) is not on the curve
        assert pub.curve.key_size == bits
    elif key_type == P.OTLS_KEY_RSA:
        assert d["a_len"] == bits // 8
        assert d["b"] == b"\x01\x00\x01"
        pub = public_key(d)
        assert pub.key_size == bits
        # modulus: full size, odd, not a tiny number
        assert d["a"][0] & 0x80 and d["a"][-1] & 1
    else:
        assert d["a_len"] == 32 and d["b_len"] == 0
        public_key(d)
    return d


KEY_SPECS = [(P.OTLS_KEY_EC, 256), (P.OTLS_KEY_EC, 384), (P.OTLS_KEY_EC, 521),
             (P.OTLS_KEY_ED25519, 256), (P.OTLS_KEY_RSA, 2048),
             (P.OTLS_KEY_RSA, 3072)]


@pytest.mark.parametrize("key_type,bits", KEY_SPECS,
                         ids=lambda v: str(v))
def test_generate_and_get_every_type(ta, key_type, bits):
    r = ta.generate("k1", key_type, bits)
    assert_rc(r, TEE_SUCCESS)
    policy = (SIGN_DEFAULT[key_type], 0, 0, 0)
    d = check_desc_layout(r[3].data, key_type, bits, policy)
    # The output memref holds exactly the description, nothing after.
    assert r[3].raw[d["size"]:] == b"\xa5" * (2048 - d["size"])
    g = ta.get_key("k1")
    assert_rc(g, TEE_SUCCESS)
    assert g[1].data == r[3].data
    # Two keys of the same kind differ.
    r2 = ta.generate("k2", key_type, bits)
    assert_rc(r2, TEE_SUCCESS)
    assert parse_desc(r2[3].data)["a"] != d["a"]


def test_generate_rsa_4096_once(ta):
    r = ta.generate("big", P.OTLS_KEY_RSA, 4096)
    assert_rc(r, TEE_SUCCESS)
    check_desc_layout(r[3].data, P.OTLS_KEY_RSA, 4096,
                      (SIGN_DEFAULT[P.OTLS_KEY_RSA], 0, 0, 0))


@pytest.mark.parametrize("key_type,bits", [
    (P.OTLS_KEY_EC, 192), (P.OTLS_KEY_EC, 224), (P.OTLS_KEY_EC, 255),
    (P.OTLS_KEY_EC, 512), (P.OTLS_KEY_EC, 0),
    (P.OTLS_KEY_RSA, 1024), (P.OTLS_KEY_RSA, 2047), (P.OTLS_KEY_RSA, 8192),
    (P.OTLS_KEY_RSA, 0), (P.OTLS_KEY_RSA, 0xFFFFFFFF),
    (P.OTLS_KEY_ED25519, 255), (P.OTLS_KEY_ED25519, 448),
    (0, 256), (4, 256), (0xFFFFFFFF, 2048)])
def test_unsupported_key_types_and_sizes(sim, ta, key_type, bits):
    r = ta.generate("k", key_type, bits)
    assert_rc(r, TEE_ERROR_NOT_SUPPORTED)
    assert_rc(ta.get_key("k"), TEE_ERROR_ITEM_NOT_FOUND)
    assert sim.stats()["storage_creates"] == 0


def test_duplicate_generation_keeps_original(sim, tee, ta):
    r = ta.generate("dup", P.OTLS_KEY_EC, 256)
    assert_rc(r, TEE_SUCCESS)
    original = r[3].data
    for kt, bits in ((P.OTLS_KEY_EC, 256), (P.OTLS_KEY_RSA, 2048),
                     (P.OTLS_KEY_ED25519, 256)):
        assert_rc(ta.generate("dup", kt, bits), TEE_ERROR_ACCESS_CONFLICT)
    # Also from another session (the label is not cached there).
    with tee.session() as s2:
        other = Otls(s2)
        assert_rc(other.generate("dup", P.OTLS_KEY_EC, 256),
                  TEE_ERROR_ACCESS_CONFLICT)
        assert other.get_key("dup")[1].data == original
    assert ta.get_key("dup")[1].data == original
    r = ta.list()
    assert r[1].b == 1


POLICY_BAD = [
    # (key type, allowed, owner_kind, owner_id, reserved)
    (P.OTLS_KEY_EC, P.OTLS_ALLOW_RSA_PSS, 0, 0, 0),
    (P.OTLS_KEY_EC, P.OTLS_ALLOW_ECDSA | P.OTLS_ALLOW_ED25519, 0, 0, 0),
    (P.OTLS_KEY_EC, P.OTLS_ALLOW_DECRYPT_PKCS1, 0, 0, 0),
    (P.OTLS_KEY_ED25519, P.OTLS_ALLOW_ECDSA, 0, 0, 0),
    (P.OTLS_KEY_RSA, P.OTLS_ALLOW_ECDSA, 0, 0, 0),
    (P.OTLS_KEY_RSA, P.OTLS_ALLOW_ED25519, 0, 0, 0),
    (P.OTLS_KEY_RSA, 1 << 5, 0, 0, 0),          # unknown bit
    (P.OTLS_KEY_RSA, 1 << 31, 0, 0, 0),
    (P.OTLS_KEY_EC, 0, 0, 0, 1),                # reserved
    (P.OTLS_KEY_EC, 0, 3, 0, 0),                # unknown owner kind
    (P.OTLS_KEY_EC, 0, 0xFFFFFFFF, 0, 0),
    (P.OTLS_KEY_EC, 0, P.OTLS_OWNER_ANY, 5, 0),  # id without owner
]


@pytest.mark.parametrize("spec", POLICY_BAD, ids=str)
def test_bad_policies(sim, ta, spec):
    kt, allowed, okind, oid, res = spec
    bits = 2048 if kt == P.OTLS_KEY_RSA else 256
    r = ta.generate("p", kt, bits, allowed=allowed, owner_kind=okind,
                    owner_id=oid, reserved=res)
    assert_rc(r, TEE_ERROR_BAD_PARAMETERS)
    assert_rc(ta.get_key("p"), TEE_ERROR_ITEM_NOT_FOUND)
    assert sim.stats()["storage_creates"] == 0


def test_policies_stored_as_given(ta):
    cases = [
        ("a", P.OTLS_KEY_RSA, 2048, P.OTLS_ALLOW_RSA_PSS, 0, 0),
        ("b", P.OTLS_KEY_RSA, 2048,
         P.OTLS_ALLOW_DECRYPT_PKCS1 | P.OTLS_ALLOW_DECRYPT_OAEP, 0, 0),
        ("c", P.OTLS_KEY_EC, 384, P.OTLS_ALLOW_ECDSA, P.OTLS_OWNER_UID, 1000),
        ("d", P.OTLS_KEY_ED25519, 256, 0, P.OTLS_OWNER_GID, 0),
        ("e", P.OTLS_KEY_RSA, 2048, 0, P.OTLS_OWNER_UID, 0),
    ]
    for label, kt, bits, allowed, okind, oid in cases:
        r = ta.generate(label, kt, bits, allowed=allowed, owner_kind=okind,
                        owner_id=oid)
        assert_rc(r, TEE_SUCCESS)
        want = (allowed or SIGN_DEFAULT[kt], okind, oid, 0)
        check_desc_layout(r[3].data, kt, bits, want)
        assert parse_desc(ta.get_key(label)[1].data)["policy"] == want
    r = ta.list()
    assert_rc(r, TEE_SUCCESS)
    entries = parse_list(r[0].data)
    assert [e["label"] for e in entries] == ["a", "b", "c", "d", "e"]
    for e, (label, kt, bits, allowed, okind, oid) in zip(entries, cases):
        assert e["key_type"] == kt and e["bits"] == bits
        assert e["policy"] == (allowed or SIGN_DEFAULT[kt], okind, oid, 0)


def test_list_sorted_and_exact(tee, ta):
    labels = ["zeta", "Alpha", "alpha", "0", "m.1", "m-1", "m_1", "b" * 32,
              "beta"]
    for lab in labels:
        assert_rc(ta.generate(lab, P.OTLS_KEY_ED25519, 256), TEE_SUCCESS)
    r = ta.list(out_size=LIST_ENTRY_SIZE * 20)
    assert_rc(r, TEE_SUCCESS)
    assert r[0].size == LIST_ENTRY_SIZE * len(labels)
    assert (r[1].a, r[1].b) == (len(labels), len(labels))
    entries = parse_list(r[0].data)
    assert [e["label"] for e in entries] == sorted(labels)
    for e in entries:
        # NUL padded, no stray bytes after the label
        lab = e["label"].encode()
        assert e["label_raw"] == lab + b"\0" * (36 - len(lab))
    # A second session sees the same list.
    with tee.session() as s2:
        r2 = Otls(s2).list(out_size=LIST_ENTRY_SIZE * 20)
        assert r2[0].data == r[0].data


def test_list_more_than_max_keys(sim, ta):
    n = P.OTLS_MAX_KEYS + 3
    labels = [f"k{i:03d}" for i in range(n)]
    for lab in reversed(labels):
        assert_rc(ta.generate(lab, P.OTLS_KEY_ED25519, 256), TEE_SUCCESS)
    r = ta.list(out_size=LIST_ENTRY_SIZE * (n + 5))
    assert_rc(r, TEE_SUCCESS)
    assert (r[1].a, r[1].b) == (P.OTLS_MAX_KEYS, n)
    assert [e["label"] for e in parse_list(r[0].data)] == \
        labels[:P.OTLS_MAX_KEYS]
    r = ta.list(out_size=LIST_ENTRY_SIZE * 3)
    assert r[0].size == LIST_ENTRY_SIZE * P.OTLS_MAX_KEYS


def test_delete_then_get(sim, ta):
    assert_rc(ta.generate("gone", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    assert_rc(ta.generate("stay", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    assert_rc(ta.sign("gone", P.OTLS_ALG_ECDSA, b"\1" * 32), TEE_SUCCESS)
    assert_rc(ta.delete("gone"), TEE_SUCCESS)
    assert_rc(ta.get_key("gone"), TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.sign("gone", P.OTLS_ALG_ECDSA, b"\1" * 32),
              TEE_ERROR_ITEM_NOT_FOUND)
    assert_rc(ta.delete("gone"), TEE_ERROR_ITEM_NOT_FOUND)
    r = ta.list()
    assert [e["label"] for e in parse_list(r[0].data)] == ["stay"]
    assert sim.stats()["storage_deletes"] == 1
    # The label can be used again, for a new key.
    r = ta.generate("gone", P.OTLS_KEY_ED25519, 256)
    assert_rc(r, TEE_SUCCESS)
    assert parse_desc(r[3].data)["key_type"] == P.OTLS_KEY_ED25519


def test_delete_while_open_elsewhere(tee, ta):
    assert_rc(ta.generate("busy", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    with tee.session() as s2:
        other = Otls(s2)
        assert_rc(other.sign("busy", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_SUCCESS)
        # ta's session also has it open (it generated it)...
        assert_rc(other.delete("busy"), TEE_ERROR_ACCESS_CONFLICT)
        assert_rc(other.sign("busy", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_SUCCESS)
    # ... and the first session deletes once the other one is gone.
    assert_rc(ta.delete("busy"), TEE_SUCCESS)
    assert_rc(ta.get_key("busy"), TEE_ERROR_ITEM_NOT_FOUND)


def test_cached_key_never_goes_stale(tee, ta):
    """A session keeps used keys open. Another session can neither delete
    nor re-create that label meanwhile (ACCESS_CONFLICT, as on OP-TEE
    where the delete's WRITE_META open conflicts with the open handle), so
    a cached handle can never refer to a deleted key while a different
    key carries its label. Once the label is really re-used, every session
    sees the new key."""
    r = ta.generate("lab", P.OTLS_KEY_EC, 256)
    assert_rc(r, TEE_SUCCESS)
    old = parse_desc(r[3].data)
    with tee.session() as s2:
        other = Otls(s2)
        assert_rc(other.sign("lab", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_SUCCESS)
        assert_rc(other.generate("lab", P.OTLS_KEY_ED25519, 256),
                  TEE_ERROR_ACCESS_CONFLICT)
        # s2 has it open: the first session cannot delete it...
        assert_rc(ta.delete("lab"), TEE_ERROR_ACCESS_CONFLICT)
        # ... and both still use the one original key.
        for t in (ta, other):
            assert parse_desc(t.get_key("lab")[1].data)["a"] == old["a"]
            r = t.sign("lab", P.OTLS_ALG_ECDSA, b"\2" * 32)
            assert_rc(r, TEE_SUCCESS)
        # Now both have it open: s2 cannot delete it either.
        assert_rc(other.delete("lab"), TEE_ERROR_ACCESS_CONFLICT)
        assert_rc(other.sign("lab", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_SUCCESS)
    assert_rc(ta.delete("lab"), TEE_SUCCESS)
    with tee.session() as s3:
        r = Otls(s3).generate("lab", P.OTLS_KEY_ED25519, 256)
        assert_rc(r, TEE_SUCCESS)
        new = parse_desc(r[3].data)
        # The deleting session sees the new key, not a cached old one.
        assert parse_desc(ta.get_key("lab")[1].data) == new
        assert_rc(ta.sign("lab", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_ERROR_NOT_SUPPORTED)
        r = ta.sign("lab", P.OTLS_ALG_ED25519, b"msg")
        assert_rc(r, TEE_SUCCESS)
        public_key(new).verify(r[3].data, b"msg")


def test_non_owner_delete_is_denied_before_any_conflict(tee, ta):
    """DELETE checks the owner through a shared open before it takes the
    exclusive (WRITE_META) one: a client that may not delete a key gets
    ACCESS_DENIED whether or not the key is in use, never ACCESS_CONFLICT
    (which told it that someone uses the key, and meant it had briefly
    locked the owner out of the key)."""
    assert_rc(ta.generate("owned", P.OTLS_KEY_EC, 256,
                          owner_kind=P.OTLS_OWNER_UID, owner_id=4242),
              TEE_SUCCESS)
    with tee.session() as s2:
        other = Otls(s2)
        # ta's session has the key open (it generated it).
        assert_rc(other.delete("owned"), TEE_ERROR_ACCESS_DENIED)
        assert_rc(other.delete("owned"), TEE_ERROR_ACCESS_DENIED)
        # The refused delete left the key usable for everyone else.
        assert_rc(ta.get_key("owned"), TEE_SUCCESS)
    with tee.session() as s3:
        assert_rc(Otls(s3).delete("owned"), TEE_ERROR_ACCESS_DENIED)
    labels = [e["label"] for e in parse_list(ta.list()[0].data)]
    assert "owned" in labels


def test_signatures_open_storage_once(sim, tee):
    with tee.session() as s:
        assert_rc(Otls(s).generate("hot", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    with tee.session() as s:
        ta = Otls(s)
        before = sim.stats()
        n = 25
        for i in range(n):
            r = ta.sign("hot", P.OTLS_ALG_ECDSA, bytes([i]) * 32)
            assert_rc(r, TEE_SUCCESS)
        after = sim.stats()
        assert after["ta_invocations"] - before["ta_invocations"] == n
        assert after["storage_opens"] - before["storage_opens"] <= 1
        info = parse_info(ta.info()[0].data)
        assert info["open_keys"] == 1
        # GET_KEY of a cached key needs no storage either.
        ta.get_key("hot")
        assert sim.stats()["storage_opens"] == after["storage_opens"]


def test_cache_holds_eight_keys(sim, ta):
    labels = [f"c{i}" for i in range(9)]
    for lab in labels:
        assert_rc(ta.generate(lab, P.OTLS_KEY_ED25519, 256), TEE_SUCCESS)
    info = parse_info(ta.info()[0].data)
    assert info["open_keys"] == 8
    # The 8 most recent ones are cached: no storage access for them.
    before = sim.stats()["storage_opens"]
    for lab in labels[1:]:
        assert_rc(ta.sign(lab, P.OTLS_ALG_ED25519, b"m"), TEE_SUCCESS)
    assert sim.stats()["storage_opens"] == before
    # The evicted one is opened again (and evicts the LRU: c1).
    assert_rc(ta.sign("c0", P.OTLS_ALG_ED25519, b"m"), TEE_SUCCESS)
    assert sim.stats()["storage_opens"] == before + 1
    assert_rc(ta.sign("c8", P.OTLS_ALG_ED25519, b"m"), TEE_SUCCESS)
    assert sim.stats()["storage_opens"] == before + 1
    assert_rc(ta.sign("c1", P.OTLS_ALG_ED25519, b"m"), TEE_SUCCESS)
    assert sim.stats()["storage_opens"] == before + 2
    assert parse_info(ta.info()[0].data)["open_keys"] == 8


def test_keys_persist_across_restart(sim):
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        r = Otls(s).generate("keep", P.OTLS_KEY_EC, 384)
        assert_rc(r, TEE_SUCCESS)
        desc = r[3].data
    sim.restart()
    with Tee(socket=sim.socket) as tee, tee.session() as s:
        ta = Otls(s)
        assert ta.get_key("keep")[1].data == desc
        assert_rc(ta.sign("keep", P.OTLS_ALG_ECDSA, b"\1" * 48), TEE_SUCCESS)


def test_corrupt_key_object(sim, tee):
    """A stored key that fails authentication: CORRUPT_OBJECT for every
    use, left out of LIST, other keys unaffected, no TA panic."""
    def files():
        return {p for p in sim.store.rglob("*") if p.is_file()}

    before = files()
    with tee.session() as s:
        assert_rc(Otls(s).generate("bad", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    bad_files = files() - before
    with tee.session() as s:
        assert_rc(Otls(s).generate("good", P.OTLS_KEY_EC, 256), TEE_SUCCESS)
    assert len(bad_files) == 1, bad_files
    path = bad_files.pop()
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    path.write_bytes(bytes(blob))

    with tee.session() as s:
        ta = Otls(s)
        assert_rc(ta.sign("bad", P.OTLS_ALG_ECDSA, b"\1" * 32),
                  TEE_ERROR_CORRUPT_OBJECT)
        # As on OP-TEE, the TEE drops an object found corrupt: from then
        # on the key is simply missing (or still corrupt).
        for r in (ta.get_key("bad"), ta.delete("bad"),
                  ta.sign("bad", P.OTLS_ALG_ECDSA, b"\1" * 32)):
            assert r.rc in (TEE_ERROR_CORRUPT_OBJECT,
                            TEE_ERROR_ITEM_NOT_FOUND), err_name(r.rc)
        r = ta.list()
        assert_rc(r, TEE_SUCCESS)
        assert [e["label"] for e in parse_list(r[0].data)] == ["good"]
        assert_rc(ta.sign("good", P.OTLS_ALG_ECDSA, b"\1" * 32), TEE_SUCCESS)
    assert sim.stats()["panics"] == 0
