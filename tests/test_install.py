"""`make install` lays out what a distribution package (or a Yocto recipe)
ships: exactly the files of tests/install_manifest.py, and the installed
provider loads from there."""
from __future__ import annotations

import os
import subprocess

import install_manifest as im
import pytest
from conftest import BUILD, LIB, ROOT

DIRS = dict(im.DEFAULT_DIRS)
MAKE_VARS = [f"PREFIX={DIRS['prefix']}", f"MODULESDIR={DIRS['modulesdir']}",
             f"ENGINESDIR={DIRS['enginesdir']}", f"BUILD={BUILD}"]


def installed_parts() -> set[str]:
    """What `make install` builds here: the ENGINE only where OpenSSL has
    ENGINEs, provisioning once its Makefile exists; never the TA."""
    parts = {"lib"}
    if (BUILD / "engines" / "optee.so").exists():
        parts.add("engine")
    if (ROOT / "provisioning" / "Makefile").exists():
        parts |= {"provisioning", "doc"}
    return parts


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    dest = tmp_path_factory.mktemp("install") / "root"
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={dest}",
                    *MAKE_VARS], check=True, capture_output=True)
    return dest


def test_make_install_is_the_manifest(dest):
    assert im.compare(dest, DIRS, installed_parts()) == []


def test_installed_provider_loads(dest, sim):
    """The installed module, found through the installed library."""
    env = dict(sim.env)
    env.pop("OPENSSL_CONF", None)
    env["LD_LIBRARY_PATH"] = f"{dest}/usr/lib:{LIB}"
    out = subprocess.run(["openssl", "list", "-providers", "-provider-path",
                          str(dest / "usr/lib/ossl-modules"), "-provider", "optee"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert "optee-tls provider" in out and "status: active" in out, out


def test_activation_snippet_is_the_conf_d_snippet(dest):
    installed = dest / "etc/ssl/openssl.cnf.d/optee-provider.cnf"
    assert installed.read_text() == \
        (ROOT / "engine/conf/optee-provider.conf.d.cnf").read_text()


def test_install_refuses_unknown_modules_dir(tmp_path):
    """Without pkg-config for the target's libcrypto (cross builds), install
    must not guess: it names the variable to set instead of writing the
    provider to DESTDIR/optee.so."""
    dest = tmp_path / "dest"
    res = subprocess.run(["make", "-s", "-C", str(ROOT / "engine"), "install",
                          f"DESTDIR={dest}", "PKG_CONFIG=false", "MODULESDIR=",
                          f"BUILD={BUILD}"], capture_output=True, text=True, check=False)
    assert res.returncode != 0
    assert "set MODULESDIR=" in res.stderr
    assert not (dest / "optee.so").exists()


# The comparison itself must notice each kind of drift.

def test_compare_reports_missing_extra_mode_and_link(dest, tmp_path):
    subprocess.run(["cp", "-a", str(dest), str(tmp_path / "root")], check=True)
    root = tmp_path / "root"
    (root / "usr/include/optee_tls.h").unlink()
    (root / "usr/lib/ossl-modules/optee.so").chmod(0o644)
    (root / "usr/lib/libopteetls.so").unlink()
    os.symlink("libopteetls.so.1.0", root / "usr/lib/libopteetls.so")
    (root / "usr/share/optee-tls/stray.cnf").write_text("")
    problems = im.compare(root, DIRS, installed_parts())
    assert sorted(problems) == sorted([
        "missing: /usr/include/optee_tls.h",
        "/usr/lib/ossl-modules/optee.so: mode 0644, expected 0755",
        "/usr/lib/libopteetls.so: symlink to 'libopteetls.so.1.0', expected 'libopteetls.so.1'",
        "not in the manifest: /usr/share/optee-tls/stray.cnf",
    ])


def test_compare_wants_the_python_package(tmp_path):
    problems = im.compare(tmp_path, DIRS, {"provisioning"})
    assert f"missing: Python package {im.PYTHON_PACKAGE}" in problems
    assert "missing: /usr/bin/optee-tls" in problems


def test_manifest_rejects_unknown_names():
    with pytest.raises(KeyError, match="libexecdir"):
        im.expand("${libexecdir}/x", DIRS)
    with pytest.raises(ValueError, match="unknown manifest parts"):
        im.select({"docs"})


def test_manifest_paths_are_unique_and_expand():
    paths = [im.expand(e.path, DIRS) for e in im.ENTRIES]
    assert len(paths) == len(set(paths))
    assert f"/lib/optee_armtz/{im.TA_UUID}.ta" in paths
    assert all(e.part in im.PARTS for e in im.ENTRIES)
    # The TA's UUID has one home, the protocol header.
    assert f'"{im.TA_UUID}"' in (ROOT / "ta/include/optee_tls_ta.h").read_text()
