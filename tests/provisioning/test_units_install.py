"""The systemd units pass `systemd-analyze verify`; `make -C provisioning
install` lays out what tests/install_manifest.py expects from it."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "provisioning" / "systemd"
NAMES = ["optee-tls-provision.service", "optee-tls-renew.service", "optee-tls-renew.timer"]


def verify(tmp_path: Path, units: dict[str, str]) -> subprocess.CompletedProcess:
    """systemd-analyze verify in a fake root: in a container there is no
    running systemd, so --root gives it the system's unit files (sysinit.target
    & co) and an executable /usr/bin/optee-tls; --man=no skips the
    Documentation= check. Warnings (e.g. an unknown setting) go to stderr
    with exit status 0, so the caller also wants stderr empty."""
    root = tmp_path / "root"
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    exe = root / "usr" / "bin" / "optee-tls"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    d = root / "etc" / "systemd" / "system"
    d.mkdir(parents=True)
    for n, text in units.items():
        (d / n).write_text(text)
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}",
                           *[f"/etc/systemd/system/{n}" for n in units]],
                          capture_output=True, text=True)


def test_units_verify(tmp_path):
    units = {n: (UNITS / n).read_text() for n in NAMES}
    r = verify(tmp_path, units)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stdout + r.stderr
    prov = units["optee-tls-provision.service"]
    for line in ("Type=oneshot", "ConditionPathExists=!/var/lib/optee-tls/provisioned",
                 "After=tee-supplicant@teepriv0.service", "Before=nginx.service",
                 "DeviceAllow=/dev/tee0 rw", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert line in prov
    assert "\nPrivateDevices=" not in prov   # would hide /dev/tee0


def test_verify_catches_a_broken_unit(tmp_path):
    text = (UNITS / NAMES[0]).read_text().replace("DevicePolicy=closed", "DevicePolicy=shut")
    r = verify(tmp_path, {NAMES[0]: text})
    assert "Failed to parse device policy" in r.stderr


def test_make_install(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "provisioning"), "install",
                        f"DESTDIR={dest}", "PREFIX=/usr", f"PYTHON={sys.executable}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.access(dest / "usr/bin/optee-tls", os.X_OK)
    pkgs = list(dest.glob("usr/lib/python3*/site-packages/optee_tls/cli.py"))
    assert len(pkgs) == 1
    for n in NAMES:
        assert stat.S_IMODE((dest / "usr/lib/systemd/system" / n).stat().st_mode) == 0o644
    cfg = dest / "etc/optee-tls/provision.yaml"
    assert cfg.read_text() == (ROOT / "provisioning/config/provision.yaml").read_text()
    # A second install keeps the device's edited config.
    cfg.write_text("# edited\n")
    subprocess.run(["make", "-s", "-C", str(ROOT / "provisioning"), "install",
                    f"DESTDIR={dest}", "PREFIX=/usr", f"PYTHON={sys.executable}"],
                   check=True, capture_output=True)
    assert cfg.read_text() == "# edited\n"
    # The installed package runs (with this interpreter's dependencies).
    site = pkgs[0].parent.parent
    r = subprocess.run([sys.executable, "-m", "optee_tls", "--help"], capture_output=True,
                       text=True, env={"PYTHONPATH": str(site)}, cwd=tmp_path)
    assert r.returncode == 0 and "exit codes" in r.stdout
