"""Device facts for the CSR templates, each from a documented source.

Every path is read under `root` (default "/"), so a fake tree stands in for
a device in tests and image builds. A fact whose source is missing is left
out (a template using it then fails: StrictUndefined), never empty.

  serial         device tree serial-number, else /proc/cpuinfo Serial,
                 else DMI product_serial (placeholders like
                 "To Be Filled By O.E.M." are ignored)
  serial_source  "device-tree", "cpuinfo" or "dmi"
  model          device tree model, else DMI product_name
  dmi            /sys/class/dmi/id/{sys_vendor,product_name,product_serial,
                 board_serial,board_name,product_version} that exist
  macs           {interface: MAC} of permanent interfaces
                 (/sys/class/net/*/addr_assign_type 0), lo excluded
  mac            MAC of the first of those (by ifindex, then name)
  hostname       /proc/sys/kernel/hostname, else /etc/hostname
  app_id         HMAC-SHA256 of the app id keyed by machine-id, shaped as
                 a UUID v4 in 32 hex digits (systemd's app-specific machine
                 id scheme); machine-id itself is never exposed
  os             /etc/os-release (else /usr/lib/os-release), keys lowercased
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

_PLACEHOLDERS = re.compile(
    r"^(|0+|to be filled by o\.?e\.?m\.?|default string|not specified|none|"
    r"system serial number|123456789|0123456789)$", re.I)


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel.lstrip("/")).read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _clean(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.replace("\x00", "").strip()
    return None if _PLACEHOLDERS.match(v) else v


def cpuinfo_serial(text: str) -> str | None:
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "serial":
            return _clean(v)
    return None


def app_specific_id(machine_id: str, app_id: str) -> str:
    key = bytes.fromhex(machine_id.strip())
    mac = bytearray(hmac.new(key, bytes.fromhex(app_id), hashlib.sha256).digest()[:16])
    mac[6] = (mac[6] & 0x0F) | 0x40   # UUID version 4
    mac[8] = (mac[8] & 0x3F) | 0x80   # RFC 4122 variant
    return mac.hex()


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z0-9_]+)=(.*)$", line.strip())
        if m:
            v = m.group(2)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            out[m.group(1).lower()] = v
    return out


def _macs(root: Path) -> dict[str, str]:
    net = root / "sys/class/net"
    found = []
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return {}
    for name in names:
        if name == "lo":
            continue
        d = net / name
        assign = _read(d, "addr_assign_type")
        addr = _read(d, "address")
        if assign is None or addr is None or assign.strip() != "0":
            continue
        addr = addr.strip().lower()
        if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", addr) or \
                addr == "00:00:00:00:00:00":
            continue
        idx = _read(d, "ifindex")
        found.append((int(idx) if idx and idx.strip().isdigit() else 1 << 30, name, addr))
    found.sort()
    return {name: addr for _, name, addr in found}


def gather(root: str | os.PathLike[str] = "/", app_id: str | None = None) -> dict[str, Any]:
    from .config import DEFAULT_APP_ID
    r = Path(root)
    facts: dict[str, Any] = {}
    dt_serial = _clean(_read(r, "proc/device-tree/serial-number"))
    cpu = _read(r, "proc/cpuinfo")
    cpu_serial = cpuinfo_serial(cpu) if cpu else None
    dmi = {}
    for n in ("sys_vendor", "product_name", "product_version", "product_serial",
              "board_serial", "board_name"):
        v = _clean(_read(r, f"sys/class/dmi/id/{n}"))
        if v:
            dmi[n] = v
    for src, val in (("device-tree", dt_serial), ("cpuinfo", cpu_serial),
                     ("dmi", dmi.get("product_serial"))):
        if val:
            facts["serial"], facts["serial_source"] = val, src
            break
    model = _clean(_read(r, "proc/device-tree/model")) or dmi.get("product_name")
    if model:
        facts["model"] = model
    if dmi:
        facts["dmi"] = dmi
    macs = _macs(r)
    facts["macs"] = macs
    if macs:
        facts["mac"] = next(iter(macs.values()))
    host = _clean(_read(r, "proc/sys/kernel/hostname")) or \
        _clean(_read(r, "etc/hostname"))
    if host:
        facts["hostname"] = host
    mid = _read(r, "etc/machine-id")
    if mid and re.fullmatch(r"[0-9a-f]{32}", mid.strip()):
        facts["app_id"] = app_specific_id(mid, app_id or DEFAULT_APP_ID)
    osr = _read(r, "etc/os-release") or _read(r, "usr/lib/os-release")
    if osr:
        facts["os"] = parse_os_release(osr)
    return facts
