"""`make -C engine install` lays out what a distribution package (or a
Yocto recipe) ships, and the installed provider loads from there."""
from __future__ import annotations

import os
import subprocess

from conftest import BUILD, LIB, ROOT


def test_install_layout_and_provider_loads(tmp_path, sim):
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", str(ROOT / "engine"), "install",
                    f"DESTDIR={dest}", "LIBDIR=/usr/lib",
                    "MODULESDIR=/usr/lib/ossl-modules",
                    "ENGINESDIR=/usr/lib/engines-3", f"BUILD={BUILD}"],
                   check=True, capture_output=True)
    expected = ["usr/lib/libopteetls.so.1", "usr/lib/libopteetls.so",
                "usr/include/optee_tls.h", "usr/include/optee_tls_ta.h",
                "usr/lib/ossl-modules/optee.so",
                "usr/share/optee-tls/optee-provider.cnf",
                "usr/share/optee-tls/optee-provider.conf.d.cnf"]
    if (BUILD / "engines" / "optee.so").exists():
        expected += ["usr/lib/engines-3/optee.so",
                     "usr/share/optee-tls/optee-engine.cnf"]
    for rel in expected:
        assert (dest / rel).exists(), rel
    assert os.readlink(dest / "usr/lib/libopteetls.so") == "libopteetls.so.1"

    # The installed module, found through the installed library.
    env = dict(sim.env)
    env.pop("OPENSSL_CONF", None)
    env["LD_LIBRARY_PATH"] = f"{dest}/usr/lib:{LIB}"
    out = subprocess.run(["openssl", "list", "-providers", "-provider-path",
                          str(dest / "usr/lib/ossl-modules"), "-provider", "optee"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert "optee-tls provider" in out and "status: active" in out, out


def test_install_refuses_unknown_modules_dir(tmp_path):
    """Without pkg-config for the target's libcrypto (cross builds), install
    must not guess: it names the variable to set instead of writing the
    provider to DESTDIR/optee.so."""
    dest = tmp_path / "dest"
    res = subprocess.run(["make", "-s", "-C", str(ROOT / "engine"), "install",
                          f"DESTDIR={dest}", "PKG_CONFIG=false", "MODULESDIR=",
                          f"BUILD={BUILD}"], capture_output=True, text=True)
    assert res.returncode != 0
    assert "set MODULESDIR=" in res.stderr
    assert not (dest / "optee.so").exists()
