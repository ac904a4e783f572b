"""What makes the suite trustworthy in CI: the ENGINE's presence is a build
fact (build/have-engine, from a probe that compiles against the OpenSSL
headers), the ENGINE tests fail rather than skip when that fact says yes,
and under CI=true every skip that is not a platform limit fails.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tlsutil
from conftest import BUILD, ROOT

HERE = Path(__file__).resolve().parent


def probe(*cflags: str) -> str:
    """HAVE_ENGINE as engine/Makefile computes it with these OpenSSL
    cflags (make -p -q: nothing is built)."""
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "engine"), "-p", "-q",
                        f"BUILD={BUILD}", f"OPENSSL_CFLAGS={' '.join(cflags)}"],
                       capture_output=True, text=True, timeout=120)
    for line in r.stdout.splitlines():
        if line.startswith("HAVE_ENGINE :="):
            return line.split(":=", 1)[1].strip()
    raise AssertionError("no HAVE_ENGINE in make -p:\n" + r.stderr)


def test_engine_probe_says_no_where_the_api_is_missing():
    # The probe used to say yes whatever the headers said.
    assert probe("-DOPENSSL_NO_ENGINE") == ""
    # no-deprecated: engine.h is there, its functions are not.
    assert probe("-DOPENSSL_API_COMPAT=30000", "-DOPENSSL_NO_DEPRECATED") == ""
    assert probe() == "y"       # Debian 12 and 13: OpenSSL 3.0 / 3.5


def test_build_fact_matches_the_build():
    fact = (BUILD / "have-engine").read_text().strip()
    assert fact in ("yes", "no")
    assert (fact == "yes") == (BUILD / "engines" / "optee.so").exists()
    assert fact == ("yes" if probe() == "y" else "no")


def test_build_without_engine_api(tmp_path):
    """A whole build and install as on an OpenSSL without the ENGINE API
    (the shape of OpenSSL 4.0): no ENGINE built or installed, the fact says
    no, everything else is there."""
    build = tmp_path / "build"
    dest = tmp_path / "dest"
    args = ["make", "-s", "-C", str(ROOT / "engine"), f"BUILD={build}",
            "OPENSSL_CFLAGS=-DOPENSSL_NO_ENGINE",
            f"TEEC_LIBS=-L{BUILD / 'lib'} -lteec"]
    r = subprocess.run(args + ["all"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (build / "have-engine").read_text() == "no\n"
    assert (build / "ossl-modules" / "optee.so").exists()
    assert not (build / "engines").exists()
    r = subprocess.run(args + [f"DESTDIR={dest}", "install"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = [str(p.relative_to(dest)) for p in dest.rglob("*")
                 if p.is_file()]
    sos = [p for p in installed if p.endswith("/optee.so")]
    assert len(sos) == 1 and "ossl-modules" in sos[0], installed
    assert not any("engine" in p for p in installed), installed


@pytest.mark.parametrize("fact,so,outcome", [
    (None, False, "failed"), ("yes", False, "failed"), ("no", False, "skipped"),
    ("yes", True, "passed"), ("maybe", True, "failed")])
def test_require_engine(tmp_path, monkeypatch, fact, so, outcome):
    if fact is not None:
        (tmp_path / "have-engine").write_text(fact + "\n")
    if so:
        (tmp_path / "engines").mkdir()
        (tmp_path / "engines" / "optee.so").write_bytes(b"")
    monkeypatch.setattr(tlsutil, "BUILD", tmp_path)
    try:
        tlsutil.require_engine()
        got = "passed"
    except pytest.skip.Exception as e:
        got = "skipped"
        assert str(e).startswith(tlsutil.PLATFORM_LIMIT)
    except pytest.fail.Exception:
        got = "failed"
    assert got == outcome


SKIPPING = '''
import pytest

def test_plain_skip():
    pytest.skip("no reason that holds in CI")

@pytest.mark.skipif(True, reason="no reason either")
def test_skipif():
    pass

def test_platform_limit():
    pytest.skip("platform limit: this kernel has no X")

def test_passes():
    pass
'''


@pytest.mark.parametrize("ci", ["true", None])
def test_skips_fail_under_ci(tmp_path, ci):
    """tests/conftest.py as a plugin on a file of skipping tests: under
    CI=true the two plain skips fail, the platform limit still skips."""
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = ci
    env["PYTHONPATH"] = str(HERE)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p",
                        "conftest", "-p", "no:cacheprovider",
                        str(tmp_path / "test_skipping.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    out = r.stdout
    if ci:
        assert r.returncode == 1, out
        # A skipif mark acts in setup: pytest counts it as an error.
        assert "1 failed, 1 passed, 1 skipped, 1 error" in out, out
        assert "FAILED test_skipping.py::test_plain_skip" in out, out
        assert "ERROR test_skipping.py::test_skipif" in out, out
        assert "only a skip whose reason starts with" in out, out
    else:
        assert r.returncode == 0, out
        assert "1 passed, 3 skipped" in out, out


@pytest.mark.parametrize("printed,want", [
    # OpenSSL 3.0
    ("ECDSA", "ECDSA"), ("RSA-PSS", "RSA-PSS"), ("RSA", "RSA"),
    ("ed25519", "ed25519"), (None, None),
    # OpenSSL 3.5: the TLS signature scheme
    ("ecdsa_secp256r1_sha256", "ECDSA"), ("ecdsa_secp521r1_sha512", "ECDSA"),
    ("rsa_pss_rsae_sha384", "RSA-PSS"), ("rsa_pss_pss_sha256", "RSA-PSS"),
    ("rsa_pkcs1_sha512", "RSA"), ("ecdsa_sha1", "ECDSA")])
def test_peer_signature_type_of_any_openssl(printed, want):
    assert tlsutil.sig_type_of(printed) == want
