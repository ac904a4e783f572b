"""The br2-external tree (buildroot/): each package installs exactly what
tests/install_manifest.py lists, and the tree passes the offline lint.

The packages' own commands run unchanged outside Buildroot
(tests/buildroot/harness.mk points Buildroot's variables at the host), on a
copy of the sources made the way Buildroot's local site method makes it.
What needs a Buildroot checkout (make <defconfig>, check-package, a build)
is in docs/buildroot.md."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import install_manifest as im
from conftest import BUILD, ROOT

BR = ROOT / "buildroot"
HARNESS = ROOT / "tests" / "buildroot" / "harness.mk"
sys.path.insert(0, str(ROOT / "tests" / "buildroot"))
import brlint  # noqa: E402  (after the path insert)

PKG_MK = {
    "optee-tls": BR / "package" / "optee-tls" / "optee-tls.mk",
    "optee-tls-ta": BR / "package" / "optee-tls-ta" / "optee-tls-ta.mk",
    "python-optee-tls": BR / "package" / "python-optee-tls" / "python-optee-tls.mk",
}


def prefix(pkg: str) -> str:
    return pkg.upper().replace("-", "_")


def harness(pkg: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", "-f", str(HARNESS),
                           f"MK={PKG_MK[pkg]}", f"PKG={prefix(pkg)}", f"BUILD={BUILD}",
                           *args], capture_output=True, text=True, check=check)


def var(pkg: str, name: str, *args: str) -> str:
    return harness(pkg, f"print-{name}", *args).stdout.strip()


def local_copy(pkg: str, dest: Path) -> Path:
    """The package's build directory as Buildroot's local method fills it:
    the repository minus VCS data and the package's rsync exclusions."""
    excl = var(pkg, f"{prefix(pkg)}_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS").split()
    anchored = {e.split("=", 1)[1].lstrip("/") for e in excl}

    def ignore(dirpath: str, names: list[str]) -> set[str]:
        rel = Path(dirpath).relative_to(ROOT)
        return {n for n in names
                if n in (".git", ".svn", ".hg") or str(rel / n).lstrip("./") in anchored
                or (str(rel) == "." and n in anchored)}

    src = dest / f"{pkg}-build"
    shutil.copytree(ROOT, src, symlinks=True, ignore=ignore)
    return src


def host_dirs() -> dict[str, str]:
    """The manifest's /usr layout, with OpenSSL's directories as the target's
    libcrypto.pc names them (the host's here, as the .mk asks pkg-config)."""
    dirs = dict(im.DEFAULT_DIRS)
    for name in ("modulesdir", "enginesdir"):
        dirs[name] = subprocess.run(["pkg-config", f"--variable={name}", "libcrypto"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    return dirs


# --- lint --------------------------------------------------------------------

def test_tree_passes_lint():
    assert brlint.lint_tree(BR) == []


def lint_copy(tmp_path: Path, edit) -> list[str]:
    tree = tmp_path / "buildroot"
    shutil.copytree(BR, tree)
    edit(tree)
    return brlint.lint_tree(tree)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("file,old,new,finding", [
    ("package/optee-tls/optee-tls.mk", "OPTEE_TLS_LICENSE =", "TLS_LICENSE =",
     "lacks the package prefix OPTEE_TLS_"),
    ("package/optee-tls/optee-tls.mk", "OPTEE_TLS_SITE_METHOD = local\n", "",
     "must come from this repository"),
    ("package/optee-tls-ta/optee-tls-ta.mk", "$(eval $(generic-package))", "",
     "must end with exactly one"),
    ("package/optee-tls/Config.in", "\t  libopteetls, the", "\t libopteetls, the",
     "help text"),
    ("package/optee-tls/Config.in", "\tselect BR2_PACKAGE_OPTEE_CLIENT\n",
     "\tselect BR2_PACKAGE_OPTEE_CLIENTS\n", "unknown symbol BR2_PACKAGE_OPTEE_CLIENTS"),
    ("package/optee-tls-ta/Config.in", "\tdepends on BR2_TARGET_OPTEE_OS\n\tselect",
     "\tselect BR2_TARGET_OPTEE_OS_SDK\n\tdepends on BR2_TARGET_OPTEE_OS\n\tselect",
     "attributes out of order"),
    ("configs/optee_tls_qemu_aarch64_defconfig", "BR2_PACKAGE_NGINX=y",
     "BR2_PACKAGE_NGINXX=y", "unknown symbol BR2_PACKAGE_NGINXX"),
    ("package/python-optee-tls/S40optee-tls", 'DAEMON="optee-tls"', 'DAEMON="optee"',
     "file name should be S<nn>optee"),
    ("Config.in", 'source "$BR2_EXTERNAL_OPTEE_TLS_PATH/package/optee-tls-ta/Config.in"\n',
     "", "does not source optee-tls-ta/Config.in"),
])
def test_lint_finds(tmp_path, file, old, new, finding):
    """Each rule fires on a tree broken in that one way."""
    found = lint_copy(tmp_path, lambda t: replace(t / file, old, new))
    assert any(finding in f for f in found), found


def test_lint_wants_no_hash_file_for_local_sources(tmp_path):
    found = lint_copy(tmp_path, lambda t: (t / "package/optee-tls/optee-tls.hash")
                      .write_text("sha256  00  x.tar.gz\n"))
    assert any("has no hash file" in f for f in found), found


def test_package_versions_follow_the_project():
    version = re.search(r'^version = "(.*)"', (ROOT / "provisioning" / "pyproject.toml")
                        .read_text(), re.MULTILINE).group(1)
    for pkg in PKG_MK:
        assert var(pkg, f"{prefix(pkg)}_VERSION") == version, pkg


# --- optee-tls: libopteetls, provider, ENGINE, openssl.cnf ---------------------

@pytest.mark.parametrize("engine", ["y", ""])
def test_optee_tls_installs_the_manifest(tmp_path, engine):
    """The package's BUILD and INSTALL_TARGET commands (engine/Makefile's own
    install rule) give exactly the manifest's lib (+ engine) entries."""
    src = local_copy("optee-tls", tmp_path)
    target = tmp_path / "target"
    args = [f"SRC={src}", f"TARGET_DIR={target}", f"BR2_PACKAGE_OPTEE_TLS_ENGINE={engine}"]
    harness("optee-tls", *args, "build")
    harness("optee-tls", *args, "install-target")
    parts = {"lib"}
    if engine and (BUILD / "engines" / "optee.so").exists():
        parts.add("engine")
    assert im.compare(target, host_dirs(), parts) == []
    # Built in the package's own directory, never reusing the checkout's build/.
    assert (src / "br-build" / "lib" / "libopteetls.so").exists()
    assert not (src / "build").exists()


def test_optee_tls_has_no_build_rpath(tmp_path):
    src = local_copy("optee-tls", tmp_path)
    target = tmp_path / "target"
    harness("optee-tls", f"SRC={src}", f"TARGET_DIR={target}", "build", "install-target")
    for so in [target / "usr/lib/libopteetls.so.1", *target.rglob("optee.so")]:
        dyn = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True,
                             check=True).stdout
        assert "RPATH" not in dyn and "RUNPATH" not in dyn, (so, dyn)


def test_openssl_cnf_includes_the_snippet_directory_once(tmp_path):
    target = tmp_path / "target"
    cnf = target / "etc/ssl/openssl.cnf"
    cnf.parent.mkdir(parents=True)
    cnf.write_text("openssl_conf = openssl_init\n[openssl_init]\n")
    for _ in range(2):  # finalize runs again on every rebuild
        harness("optee-tls", f"SRC={tmp_path}", f"TARGET_DIR={target}", "finalize")
    lines = cnf.read_text().splitlines()
    assert lines.count(".include /etc/ssl/openssl.cnf.d") == 1
    assert lines[-1] == ".include /etc/ssl/openssl.cnf.d"  # last: snippets extend sections


def test_openssl_cnf_is_not_created(tmp_path):
    """Without OpenSSL's openssl.cnf on the target, the hook writes nothing."""
    target = tmp_path / "target"
    target.mkdir()
    harness("optee-tls", f"SRC={tmp_path}", f"TARGET_DIR={target}", "finalize")
    assert list(target.rglob("*")) == []


# --- optee-tls-ta ----------------------------------------------------------------

def test_ta_installs_the_manifest(tmp_path):
    """INSTALL_TARGET_CMDS puts the TA that ta/Makefile builds (named by the
    UUID in the protocol header) in /lib/optee_armtz, mode 0444."""
    src = local_copy("optee-tls-ta", tmp_path)
    (src / "ta" / "out").mkdir()
    (src / "ta" / "out" / f"{im.TA_UUID}.ta").write_bytes(b"signed TA")
    target = tmp_path / "target"
    harness("optee-tls-ta", f"SRC={src}", f"TARGET_DIR={target}", "install-target")
    assert im.compare(target, im.DEFAULT_DIRS, {"ta"}) == []


def test_ta_builds_with_the_optee_os_sdk_and_no_key_by_default():
    opts = var("optee-tls-ta", "OPTEE_TLS_TA_MAKE_OPTS", "OPTEE_OS_SDK=/staging/sdk")
    assert "TA_DEV_KIT_DIR=/staging/sdk" in opts.split()
    assert "TA_SIGN_KEY" not in opts


def test_ta_sign_key_relative_to_topdir(tmp_path):
    opts = var("optee-tls-ta", "OPTEE_TLS_TA_MAKE_OPTS", f"TOPDIR={tmp_path}",
               'BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY="keys/ta.pem"')
    assert f"TA_SIGN_KEY={tmp_path}/keys/ta.pem" in opts.split()
    opts = var("optee-tls-ta", "OPTEE_TLS_TA_MAKE_OPTS", f"TOPDIR={tmp_path}",
               'BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY="/abs/ta.pem"')
    assert "TA_SIGN_KEY=/abs/ta.pem" in opts.split()


def test_ta_missing_sign_key_is_an_error(tmp_path):
    res = harness("optee-tls-ta", "print-OPTEE_TLS_TA_MAKE_OPTS", f"TOPDIR={tmp_path}",
                  "BR_BUILDING=y", 'BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY="keys/none.pem"',
                  check=False)
    assert res.returncode != 0
    assert f"BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY {tmp_path}/keys/none.pem does not exist" \
        in res.stderr
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "none.pem").write_text("key\n")
    res = harness("optee-tls-ta", "print-OPTEE_TLS_TA_MAKE_OPTS", f"TOPDIR={tmp_path}",
                  "BR_BUILDING=y", 'BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY="keys/none.pem"')
    assert f"TA_SIGN_KEY={tmp_path}/keys/none.pem" in res.stdout


# --- shell scripts -----------------------------------------------------------------

@pytest.mark.parametrize("script", [
    BR / "package" / "python-optee-tls" / "S40optee-tls",
    BR / "board" / "optee-tls" / "raspberrypi3-64" / "post-image.sh",
])
def test_shell_scripts_pass_shellcheck(script):
    """What Buildroot's check-package runs on init and board scripts."""
    res = subprocess.run(["shellcheck", "-s", "sh", str(script)], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout


def test_shellcheck_reports_a_broken_script(tmp_path):
    bad = tmp_path / "S40bad"
    bad.write_text('#!/bin/sh\nDAEMON="bad"\nrm -rf $1/\n')
    assert subprocess.run(["shellcheck", "-s", "sh", str(bad)],
                          capture_output=True).returncode != 0


S40 = BR / "package" / "python-optee-tls" / "S40optee-tls"


def run_s40(tmp_path: Path, action: str, rc: int) -> tuple[subprocess.CompletedProcess, str]:
    """S40optee-tls with a stand-in for the optee-tls CLI (the script's
    own logic is under test: which command, the state directory, exit codes)."""
    calls = tmp_path / "calls"
    cli = tmp_path / "optee-tls"
    cli.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit {rc}\n')
    cli.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "OPTEE_TLS_BIN": str(cli),
           "STATE_DIR": str(tmp_path / "state")}
    res = subprocess.run(["sh", str(S40), action], env=env, capture_output=True, text=True)
    return res, calls.read_text() if calls.exists() else ""


@pytest.mark.parametrize("action,command", [("start", "provision"), ("renew", "renew")])
def test_init_script_runs_the_command(tmp_path, action, command):
    res, calls = run_s40(tmp_path, action, 0)
    assert res.returncode == 0 and res.stdout.endswith("OK\n"), res.stdout
    assert calls == f"{command}\n"
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_init_script_reports_failure(tmp_path):
    res, calls = run_s40(tmp_path, "start", 3)
    assert res.returncode == 3 and res.stdout.endswith("FAIL\n"), res.stdout
    assert calls == "provision\n"


@pytest.mark.parametrize("action,rc", [("stop", 0), ("bogus", 1)])
def test_init_script_other_actions_run_nothing(tmp_path, action, rc):
    res, calls = run_s40(tmp_path, action, 0)
    assert res.returncode == rc and calls == ""
    if rc:
        assert "Usage:" in res.stdout


# --- board files -------------------------------------------------------------------

NGINX_CONF = BR / "board" / "optee-tls" / "common" / "rootfs-overlay" / "etc" / "nginx" / \
    "nginx.conf"


def test_board_nginx_conf_passes_nginx_t(tmp_path):
    """The image's nginx.conf, checked by a real nginx (`nginx -t` loads the
    certificate and key): only the device paths are moved under tmp_path, and
    the workers' group (tee, absent here) becomes nogroup."""
    text = NGINX_CONF.read_text()
    assert "user www-data tee;" in text
    keyfile = re.search(r"^\s*ssl_certificate_key (\S+);", text, re.M).group(1)
    certfile = re.search(r"^\s*ssl_certificate (\S+);", text, re.M).group(1)
    assert keyfile == "/etc/optee-tls/tls-server.key.pem"
    dev = tmp_path / "dev"
    for path in (keyfile, certfile):
        (dev / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=device",
                    "-keyout", str(dev / keyfile.lstrip("/")),
                    "-out", str(dev / certfile.lstrip("/")), "-days", "1"],
                   check=True, capture_output=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text.replace("/etc/optee-tls/", f"{dev}/etc/optee-tls/")
                    .replace("user www-data tee;", "user nobody nogroup;"))
    shutil.copy("/etc/nginx/mime.types", tmp_path / "mime.types")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    res = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                          "-g", f"pid {tmp_path}/nginx.pid; error_log stderr;"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "syntax is ok" in res.stderr
    # And a broken one is refused (the check can fail).
    conf.write_text(conf.read_text().replace("listen 443 ssl;", "listen 443 ssl"))
    res = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                          "-g", f"pid {tmp_path}/nginx.pid; error_log stderr;"],
                         capture_output=True, text=True)
    assert res.returncode != 0


# --- python-optee-tls ----------------------------------------------------------------

def wheel_install(src: Path, target: Path) -> None:
    """What Buildroot's python-package infrastructure does with the package
    (a setuptools wheel of <SITE>/<SUBDIR> installed into the target's
    site-packages and bin), done here by pip."""
    subdir = var("python-optee-tls", "PYTHON_OPTEE_TLS_SUBDIR")
    assert var("python-optee-tls", "PYTHON_OPTEE_TLS_SETUP_TYPE") == "setuptools"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "--root", str(target),
                    "--prefix", "/usr", str(src / subdir)], check=True,
                   capture_output=True)


@pytest.mark.parametrize("init", ["SYSTEMD", "SYSV"])
def test_python_optee_tls_installs_the_manifest(tmp_path, init):
    src = local_copy("python-optee-tls", tmp_path)
    target = tmp_path / "target"
    wheel_install(src, target)
    harness("python-optee-tls", f"SRC={src}", f"TARGET_DIR={target}", f"INIT={init}",
            "install-target")
    problems = im.compare(target, im.DEFAULT_DIRS, {"provisioning"})
    if init == "SYSV":
        # BusyBox init: the init script instead of the units.
        units = {f"missing: {p}" for p, e in im.expected(im.DEFAULT_DIRS, {"provisioning"})
                 .items() if p.startswith(im.DEFAULT_DIRS["systemd_system_unitdir"])}
        assert units and units <= set(problems), problems
        problems = [p for p in problems if p not in units]
        assert problems == ["not in the manifest: /etc/init.d/S40optee-tls"]
        assert (target / "etc/init.d/S40optee-tls").stat().st_mode & 0o777 == 0o755
    else:
        assert problems == []


def test_board_nginx_serves_the_default_identity():
    """nginx.conf reads the files the default provision.yaml writes."""
    import yaml
    cfg = yaml.safe_load((ROOT / "provisioning" / "config" / "provision.yaml").read_text())
    outputs = cfg["identities"][0]["outputs"]
    text = NGINX_CONF.read_text()
    assert f"ssl_certificate_key {outputs['key']['path']};" in text
    assert f"ssl_certificate {outputs['fullchain']['path']};" in text
