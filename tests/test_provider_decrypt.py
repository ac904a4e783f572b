"""RSA decryption through the `optee` provider's asymmetric cipher.

- `openssl pkeyutl -decrypt -inkey optee:LABEL` for PKCS#1 v1.5 and OAEP
  (SHA-1, SHA-256), the ciphertext made by an openssl that does not load
  our provider, from the public key we exported;
- the key policy (decrypt-pkcs1 / decrypt-oaep; none by default) and the
  errors the user sees;
- TLS 1.2 RSA key exchange with s_server and a TEE key: one TA invocation
  per handshake;
- the TLS padding mode (RSA_PKCS1_WITH_TLS_PADDING) through a small C
  driver, as libssl calls it: a ciphertext that does not decrypt to a
  48-byte premaster with the client's version gives 48 random bytes, never
  an error (RFC 5246 7.4.7.1).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import tlsutil
from provider_cli import (invocations, needs_provider, openssl, plain,  # noqa: F401
                          plain_env)
from tlsutil import dev_ca, shared_dir, tls_sim  # noqa: F401 (fixtures)

pytestmark = needs_provider

DECRYPT_POLICY = "pkcs1,pss,decrypt-pkcs1,decrypt-oaep"


# ---- helpers ----------------------------------------------------------------

def rsa_key(sim, tmp: Path, label: str, policy: str | None = DECRYPT_POLICY,
            bits: int = 2048) -> tuple[Path, Path]:
    """RSA key in the TEE; returns (reference file, public key PEM)."""
    ref = tmp / f"{label}.pem"
    args = ["genpkey", "-propquery", "provider=optee", "-algorithm", "RSA",
            "-pkeyopt", f"bits:{bits}", "-pkeyopt", f"label:{label}"]
    if policy:
        args += ["-pkeyopt", f"policy:{policy}"]
    openssl(sim, *args, "-out", ref)
    pub = tmp / f"{label}.pub"
    openssl(sim, "pkey", "-in", ref, "-pubout", "-out", pub)
    return ref, pub


def fails_with(sim, message: str, *args):
    res = openssl(sim, *args, check=False)
    err = res.stderr.decode(errors="replace")
    assert res.returncode != 0, f"openssl {args} unexpectedly succeeded"
    assert message in err, err
    return err


PADDINGS = {
    "pkcs1": [],
    "oaep-sha1": ["-pkeyopt", "rsa_padding_mode:oaep"],
    "oaep-sha256": ["-pkeyopt", "rsa_padding_mode:oaep",
                    "-pkeyopt", "rsa_oaep_md:sha256"],
}


# ---- pkeyutl ----------------------------------------------------------------

@pytest.mark.parametrize("padding", list(PADDINGS))
def test_pkeyutl_decrypt_roundtrip(sim, tmp_path, plain_env, padding):
    ref, pub = rsa_key(sim, tmp_path, "dec")
    opts = PADDINGS[padding]
    msg = tmp_path / "msg"
    msg.write_bytes(os.urandom(32))
    ct = tmp_path / "ct"
    plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, *opts,
          "-in", msg, "-out", ct)
    assert len(ct.read_bytes()) == 256
    for key in ("optee:dec", ref):
        out = tmp_path / "out"
        before = invocations(sim)
        openssl(sim, "pkeyutl", "-decrypt", "-inkey", key, *opts, "-in", ct,
                "-out", out)
        # The key lookup and the decryption; the size query stays here.
        assert invocations(sim) - before == 2
        assert out.read_bytes() == msg.read_bytes()


@pytest.mark.parametrize("padding", list(PADDINGS))
def test_pkeyutl_encrypt_with_tee_key(sim, tmp_path, plain_env, padding):
    """Encryption with a TEE key is the public key's business (another
    provider), and what it makes the TA decrypts."""
    ref, _ = rsa_key(sim, tmp_path, "dec")
    opts = PADDINGS[padding]
    msg = tmp_path / "msg"
    msg.write_bytes(b"to the TEE and back")
    ct = tmp_path / "ct"
    before = invocations(sim)
    openssl(sim, "pkeyutl", "-encrypt", "-inkey", ref, *opts, "-in", msg,
            "-out", ct)
    assert invocations(sim) - before == 1       # the key lookup only
    out = openssl(sim, "pkeyutl", "-decrypt", "-inkey", "optee:dec", *opts,
                  "-in", ct).stdout
    assert out == msg.read_bytes()


def test_short_ciphertext_is_left_padded(sim, tmp_path, plain_env):
    """A ciphertext whose leading zero byte was dropped is the same number
    (OpenSSL accepts it): it goes to the TA padded to the modulus size."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    _, pub = rsa_key(sim, tmp_path, "dec")
    key = serialization.load_pem_public_key(pub.read_bytes())
    msg = b"leading zero"
    for _ in range(4096):
        ct = key.encrypt(msg, padding.PKCS1v15())
        if ct[0] == 0:
            break
    else:
        pytest.skip("no ciphertext with a leading zero byte")
    f = tmp_path / "ct"
    f.write_bytes(ct[1:])
    out = openssl(sim, "pkeyutl", "-decrypt", "-inkey", "optee:dec", "-in",
                  f).stdout
    assert out == msg
    f.write_bytes(ct + b"\x00")
    fails_with(sim, "invalid parameter", "pkeyutl", "-decrypt", "-inkey",
               "optee:dec", "-in", f)


def test_garbage_ciphertext_is_an_error(sim, tmp_path):
    """Plain PKCS#1 v1.5 (not the TLS mode): a bad ciphertext is an error,
    after one TA call."""
    rsa_key(sim, tmp_path, "dec")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x01" + os.urandom(255))
    before = invocations(sim)
    fails_with(sim, "decryption failed", "pkeyutl", "-decrypt", "-inkey",
               "optee:dec", "-in", garbage)
    assert invocations(sim) - before == 2
    fails_with(sim, "decryption failed", "pkeyutl", "-decrypt", "-inkey",
               "optee:dec", "-pkeyopt", "rsa_padding_mode:oaep", "-in",
               garbage)


def test_policy_refusal(sim, tmp_path, plain_env):
    """RSA keys have no decryption right by default; each family must be
    asked for. A refusal costs no TA call (the policy came with the key)."""
    _, pub = rsa_key(sim, tmp_path, "nodec", policy=None)
    msg = tmp_path / "msg"
    msg.write_bytes(b"secret")
    ct = tmp_path / "ct"
    plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-in",
          msg, "-out", ct)
    before = invocations(sim)
    err = fails_with(sim, "operation not allowed by the key's policy",
                     "pkeyutl", "-decrypt", "-inkey", "optee:nodec", "-in", ct)
    assert "decrypt-pkcs1" in err
    assert invocations(sim) - before == 1       # the key lookup only
    # OAEP only: PKCS#1 v1.5 refused, OAEP fine.
    _, pub = rsa_key(sim, tmp_path, "oaeponly", policy="decrypt-oaep")
    oct_ = tmp_path / "oct"
    plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub,
          "-pkeyopt", "rsa_padding_mode:oaep", "-in", msg, "-out", oct_)
    err = fails_with(sim, "operation not allowed by the key's policy",
                     "pkeyutl", "-decrypt", "-inkey", "optee:oaeponly",
                     "-in", oct_)
    assert "lacks decrypt-pkcs1" in err
    out = openssl(sim, "pkeyutl", "-decrypt", "-inkey", "optee:oaeponly",
                  "-pkeyopt", "rsa_padding_mode:oaep", "-in", oct_).stdout
    assert out == b"secret"
    # Decryption families are RSA-only.
    fails_with(sim, "invalid parameter", "genpkey", "-propquery",
               "provider=optee", "-algorithm", "EC", "-pkeyopt", "group:P-256",
               "-pkeyopt", "label:ecd",
               "-pkeyopt", "policy:ecdsa,decrypt-pkcs1")


def test_unsupported_oaep_and_paddings(sim, tmp_path, plain_env):
    ref, pub = rsa_key(sim, tmp_path, "dec")
    msg = tmp_path / "msg"
    msg.write_bytes(b"m")
    ct = tmp_path / "ct"
    plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub,
          "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt",
          "rsa_oaep_md:sha384", "-in", msg, "-out", ct)
    base = ["pkeyutl", "-decrypt", "-inkey", "optee:dec", "-in", ct,
            "-pkeyopt", "rsa_padding_mode:oaep"]
    before = invocations(sim)
    err = fails_with(sim, "unsupported algorithm", *base, "-pkeyopt",
                     "rsa_oaep_md:sha384")
    assert "SHA-1 or SHA-256" in err
    err = fails_with(sim, "unsupported algorithm", *base, "-pkeyopt",
                     "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha1")
    assert "MGF1" in err
    err = fails_with(sim, "unsupported algorithm", *base, "-pkeyopt",
                     "rsa_oaep_label:0102")
    assert "empty label" in err
    for mode in ("none", "x931"):
        fails_with(sim, "unsupported algorithm", "pkeyutl", "-decrypt",
                   "-inkey", ref, "-pkeyopt", f"rsa_padding_mode:{mode}",
                   "-in", ct)
    # None of that reached the TA beyond the five key lookups.
    assert invocations(sim) - before == 5


def test_decrypt_needs_rsa_tee_key(sim, tmp_path, plain_env):
    ec = tmp_path / "ec.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm", "EC",
            "-pkeyopt", "group:P-256", "-pkeyopt", "label:ec", "-out", ec)
    ct = tmp_path / "ct"
    ct.write_bytes(os.urandom(256))
    res = openssl(sim, "pkeyutl", "-decrypt", "-inkey", ec, "-in", ct,
                  check=False)
    assert res.returncode != 0
    # RSA-PSS keys sign only.
    pss = tmp_path / "pss.pem"
    openssl(sim, "genpkey", "-propquery", "provider=optee", "-algorithm",
            "RSA-PSS", "-pkeyopt", "label:pss", "-out", pss)
    res = openssl(sim, "pkeyutl", "-decrypt", "-inkey", "optee:pss", "-in",
                  ct, check=False)
    assert res.returncode != 0


# ---- the TLS padding mode, as libssl uses it (C driver) ---------------------

DRIVER_C = r"""
/* Test driver: what the openssl CLI cannot do with the optee provider. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

static EVP_PKEY *load(const char *uri)
{
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;

    while (s != NULL && pk == NULL && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);

        if (i != NULL && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    return pk;
}

static unsigned char *readfile(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(65536);

    *len = f ? fread(buf, 1, 65536, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

static int fail(const char *what)
{
    printf("FAIL %s\n", what);
    ERR_print_errors_fp(stdout);
    return 1;
}

/* tls URI CTFILE VERSION [NEGOTIATED]: decrypt a ClientKeyExchange as
 * libssl's tls_process_cke_rsa does, on a duplicate of the context. */
static int cmd_tls(int argc, char **argv)
{
    EVP_PKEY *pk = load(argv[2]);
    EVP_PKEY_CTX *ctx, *dup;
    unsigned int ver = (unsigned int)strtoul(argv[4], NULL, 16), alt = 0;
    OSSL_PARAM params[3], *p = params;
    unsigned char out[512];
    size_t inlen, outlen;
    unsigned char *in = readfile(argv[3], &inlen);

    if (pk == NULL)
        return fail("load");
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0
        || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_WITH_TLS_PADDING) <= 0)
        return fail("init");
    *p++ = OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION,
                                     &ver);
    if (argc > 5) {
        alt = (unsigned int)strtoul(argv[5], NULL, 16);
        *p++ = OSSL_PARAM_construct_uint(
            OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &alt);
    }
    *p = OSSL_PARAM_construct_end();
    if (!EVP_PKEY_CTX_set_params(ctx, params))
        return fail("params");
    dup = EVP_PKEY_CTX_dup(ctx);
    if (dup == NULL)
        return fail("dup");
    EVP_PKEY_CTX_free(ctx);
    outlen = 0;
    if (EVP_PKEY_decrypt(dup, NULL, &outlen, in, inlen) <= 0 || outlen != 48)
        return fail("size query");
    outlen = sizeof(out);
    if (EVP_PKEY_decrypt(dup, out, &outlen, in, inlen) <= 0)
        return fail("decrypt");
    if (ERR_peek_error() != 0)
        return fail("error queue not empty");
    printf("OK %zu ", outlen);
    for (size_t i = 0; i < outlen; i++)
        printf("%02x", out[i]);
    printf("\n");
    EVP_PKEY_CTX_free(dup);
    EVP_PKEY_free(pk);
    free(in);
    return 0;
}

static int refused(const char *what, int rc)
{
    if (rc > 0) {
        printf("ACCEPTED %s\n", what);
        return 1;
    }
    ERR_clear_error();
    return 0;
}

/* badparams RSAURI: parameters of the wrong type or without data must be
 * refused, never crash. Then a DigestSign context copied midway. */
static int cmd_badparams(char **argv)
{
    EVP_PKEY *pk = load(argv[2]);
    EVP_PKEY_CTX *ctx;
    EVP_MD_CTX *md, *md2;
    unsigned char s1[1024], s2[1024];
    size_t l1 = sizeof(s1), l2 = sizeof(s2);
    int bad = 0, i = 5;
    OSSL_PARAM p[2];

    if (pk == NULL)
        return fail("load");
    p[1] = OSSL_PARAM_construct_end();

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0)
        return fail("sign init");
#define TRY(what, param) \
    do { p[0] = (param); bad |= refused(what, EVP_PKEY_CTX_set_params(ctx, p)); } while (0)
    TRY("sig pad-mode NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0));
    TRY("sig saltlen NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0));
    TRY("sig digest NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0));
    TRY("sig mgf1 NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0));
    TRY("sig pad-mode octets",
        OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_PAD_MODE, &i, sizeof(i)));
    TRY("sig digest int", OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_DIGEST, &i));
    TRY("sig digest unknown",
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, "nosuchmd", 0));
    EVP_PKEY_CTX_free(ctx);

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0)
        return fail("decrypt init");
    TRY("ac pad-mode NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0));
    TRY("ac oaep digest NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0));
    TRY("ac label int", OSSL_PARAM_construct_int(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, &i));
    TRY("ac tls version utf8",
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, "x", 0));
    TRY("ac pad-mode x931", OSSL_PARAM_construct_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &i));
    EVP_PKEY_CTX_free(ctx);

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=optee");
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
        return fail("keygen init");
    TRY("gen policy NULL", OSSL_PARAM_construct_utf8_string("policy", NULL, 0));
    TRY("gen label NULL", OSSL_PARAM_construct_utf8_string("label", NULL, 0));
    TRY("gen group NULL",
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0));
    TRY("gen label int", OSSL_PARAM_construct_int("label", &i));
    EVP_PKEY_CTX_free(ctx);

    /* A DigestSign context copied midway signs the same (dupctx). */
    md = EVP_MD_CTX_new();
    md2 = EVP_MD_CTX_new();
    if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL) <= 0
        || EVP_DigestSignUpdate(md, "abc", 3) <= 0
        || !EVP_MD_CTX_copy_ex(md2, md)
        || EVP_DigestSignUpdate(md, "def", 3) <= 0
        || EVP_DigestSignUpdate(md2, "def", 3) <= 0
        || EVP_DigestSignFinal(md, s1, &l1) <= 0
        || EVP_DigestSignFinal(md2, s2, &l2) <= 0)
        return fail("digest sign copy");
    if (l1 != l2 || memcmp(s1, s2, l1) != 0)   /* PKCS#1 v1.5: deterministic */
        return fail("the copied context signed something else");
    EVP_MD_CTX_free(md);
    EVP_MD_CTX_free(md2);
    EVP_PKEY_free(pk);
    printf(bad ? "BAD\n" : "OK\n");
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "tls") == 0)
        return cmd_tls(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "badparams") == 0)
        return cmd_badparams(argv);
    fprintf(stderr, "usage: drv tls URI CT VERSION [NEGOTIATED] | badparams URI\n");
    return 2;
}
"""


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Path:
    """The C driver above, built against the system's OpenSSL."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("driver")
    src = d / "drv.c"
    src.write_text(DRIVER_C)
    exe = d / "drv"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcrypto"],
                           capture_output=True, text=True)
    extra = flags.stdout.split() if flags.returncode == 0 else ["-lcrypto"]
    res = subprocess.run([cc, "-std=c11", "-Wall", "-o", str(exe), str(src),
                          *extra], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot build the driver: {res.stderr}")
    return exe


def tls_decrypt(sim, driver, uri, ct: Path, version: str,
                negotiated: str | None = None) -> bytes:
    args = [str(driver), "tls", uri, str(ct), version]
    if negotiated:
        args.append(negotiated)
    res = sim.run(args, check=False)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0 and out.startswith("OK 48 "), out
    return bytes.fromhex(out.split()[2])


@pytest.fixture
def premaster(sim, tmp_path, plain_env):
    """A key allowed PKCS#1 v1.5 decryption, and an encrypt() helper that
    makes a ClientKeyExchange body from the public key (no provider)."""
    _, pub = rsa_key(sim, tmp_path, "kx", policy="decrypt-pkcs1")

    def encrypt(plaintext: bytes, name: str = "ct") -> Path:
        pt = tmp_path / f"{name}.pt"
        pt.write_bytes(plaintext)
        ct = tmp_path / name
        plain(plain_env, "pkeyutl", "-encrypt", "-pubin", "-inkey", pub,
              "-in", pt, "-out", ct)
        return ct

    return encrypt


def test_tls_padding_good_premaster(sim, driver, premaster):
    pms = b"\x03\x03" + os.urandom(46)
    ct = premaster(pms)
    before = invocations(sim)
    assert tls_decrypt(sim, driver, "optee:kx", ct, "0303") == pms
    # Key lookup + exactly one decryption (the size query is local).
    assert invocations(sim) - before == 2


@pytest.mark.parametrize("case", ["garbage", "wrong-version", "47-bytes",
                                  "49-bytes", "empty", "not-pkcs1"])
def test_tls_padding_failures_give_random_premaster(sim, driver, premaster,
                                                    tmp_path, case):
    """Every failure that depends on the ciphertext gives 48 random bytes
    and success: no error, nothing in the error queue, one TA call."""
    pms = b"\x03\x03" + os.urandom(46)
    if case == "garbage":
        ct = tmp_path / "garbage"
        ct.write_bytes(b"\x01" + os.urandom(255))
    elif case == "wrong-version":
        ct = premaster(b"\x03\x02" + pms[2:])
    elif case == "47-bytes":
        ct = premaster(pms[:47])
    elif case == "49-bytes":
        ct = premaster(pms + b"\x00")
    elif case == "empty":
        ct = premaster(b"")
    else:  # a valid OAEP ciphertext is not a PKCS#1 v1.5 one
        ct = tmp_path / "oaep"
        pub = tmp_path / "kx.pub"
        (tmp_path / "pms").write_bytes(pms)
        subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                        str(pub), "-pkeyopt", "rsa_padding_mode:oaep", "-in",
                        str(tmp_path / "pms"), "-out", str(ct)],
                       env={**os.environ, "OPENSSL_CONF": "/dev/null"},
                       check=True, capture_output=True)
    before = invocations(sim)
    first = tls_decrypt(sim, driver, "optee:kx", ct, "0303")
    assert invocations(sim) - before == 2
    second = tls_decrypt(sim, driver, "optee:kx", ct, "0303")
    assert len(first) == len(second) == 48
    assert first != second            # fresh random bytes each time
    assert pms[2:18] not in first     # not the plaintext


def test_tls_padding_rollback_workaround(sim, driver, premaster):
    """With SSL_OP_TLS_ROLLBACK_BUG libssl also passes the negotiated
    version; a premaster carrying that one is accepted."""
    pms = b"\x03\x02" + os.urandom(46)
    ct = premaster(pms)
    assert tls_decrypt(sim, driver, "optee:kx", ct, "0303", "0302") == pms
    assert tls_decrypt(sim, driver, "optee:kx", ct, "0303") != pms
    assert tls_decrypt(sim, driver, "optee:kx", ct, "0303", "0301") != pms


def test_tls_padding_errors_that_do_not_depend_on_the_ciphertext(
        sim, driver, premaster, tmp_path):
    """A key without decrypt-pkcs1, or a ciphertext longer than the modulus,
    is an error (publicly known, no oracle)."""
    ct = premaster(b"\x03\x03" + os.urandom(46))
    long_ct = tmp_path / "long"
    long_ct.write_bytes(ct.read_bytes() + b"\x00")
    res = sim.run([str(driver), "tls", "optee:kx", str(long_ct), "0303"],
                  check=False)
    assert res.returncode != 0 and b"invalid parameter" in res.stdout
    rsa_key(sim, tmp_path, "oaeponly", policy="decrypt-oaep")
    before = invocations(sim)
    res = sim.run([str(driver), "tls", "optee:oaeponly", str(ct), "0303"],
                  check=False)
    assert res.returncode != 0
    assert b"operation not allowed by the key's policy" in res.stdout
    assert invocations(sim) - before == 1       # the lookup only


# ---- TLS 1.2 RSA key exchange with s_server -----------------------------------

@pytest.fixture(scope="module")
def kx_server(tls_sim, dev_ca, shared_dir):
    """s_server with an RSA key allowed PKCS#1 v1.5 decryption (and PSS /
    PKCS#1 signatures, for the ECDHE suites), as -key optee:LABEL."""
    d = shared_dir / "kx"
    d.mkdir(exist_ok=True)
    ref = d / "kx.ref.pem"
    tlsutil.run([tlsutil.OPENSSL_BIN, "genpkey", "-propquery", "provider=optee",
                 "-algorithm", "RSA", "-pkeyopt", "label:tls-kx",
                 "-pkeyopt", f"policy:{DECRYPT_POLICY}", "-out", ref],
                env=tls_sim.env)
    csr = tlsutil.make_csr(tls_sim.env, "optee:tls-kx", d / "kx.csr")
    cert = dev_ca.issue(csr, d / "kx.pem")
    srv = tlsutil.start_s_server(tls_sim.env, cert, "optee:tls-kx", d,
                                 name="s_server-kx")
    yield srv
    srv.stop()


def test_tls12_rsa_key_exchange(kx_server, tls_sim, dev_ca):
    for _ in range(3):
        before = tls_sim.stats()["ta_invocations"]
        h = tlsutil.s_client(kx_server.port, dev_ca.cert_path, version="1.2",
                             extra=["-cipher", "AES128-GCM-SHA256"])
        after = tls_sim.stats()["ta_invocations"]
        assert h.ok, h.output + kx_server.output()[-2000:]
        assert h.protocol == "TLSv1.2" and h.cipher == "AES128-GCM-SHA256"
        assert h.sig_type is None       # no ServerKeyExchange: nothing signed
        assert after - before == 1      # one decryption, nothing else
    # The same key still signs for ECDHE (TLS 1.2 and 1.3).
    for version in ("1.2", "1.3"):
        before = tls_sim.stats()["ta_invocations"]
        h = tlsutil.s_client(kx_server.port, dev_ca.cert_path, version=version)
        assert h.ok, h.output
        assert tls_sim.stats()["ta_invocations"] - before == 1


def test_tls12_rsa_key_exchange_refused_by_policy(tls_sim, dev_ca, shared_dir):
    """A key with the default policy: the RSA key exchange fails cleanly
    (no TA call: the policy came with the key), the server says why and
    keeps serving ECDHE handshakes."""
    d = shared_dir / "nokx"
    d.mkdir(exist_ok=True)
    ref = d / "nokx.ref.pem"
    tlsutil.run([tlsutil.OPENSSL_BIN, "genpkey", "-propquery", "provider=optee",
                 "-algorithm", "RSA", "-pkeyopt", "label:tls-nokx", "-out", ref],
                env=tls_sim.env)
    csr = tlsutil.make_csr(tls_sim.env, ref, d / "nokx.csr")
    cert = dev_ca.issue(csr, d / "nokx.pem")
    with tlsutil.start_s_server(tls_sim.env, cert, ref, d,
                                name="s_server-nokx") as srv:
        before = tls_sim.stats()
        h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.2",
                             extra=["-cipher", "AES128-GCM-SHA256"])
        after = tls_sim.stats()
        assert not h.ok
        assert after["ta_invocations"] == before["ta_invocations"]
        assert after["panics"] == before["panics"]
        assert "operation not allowed by the key's policy" in srv.output()
        assert srv.proc.poll() is None
        h = tlsutil.s_client(srv.port, dev_ca.cert_path, version="1.2")
        assert h.ok, h.output
