"""The simulator's host Internal Core API, tested alone (no daemon, no TA).

Compiles tests/sim_api/api_selftest.c with the API sources named by
sim/src/api.mk and runs it against a fresh store: key generation for every
type, persistence, signatures checked by OpenSSL, short buffers, OP-TEE
panic semantics, corrupt files, enumeration, cross-process conflicts.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_MK = ROOT / "sim" / "src" / "api.mk"
SELFTEST = ROOT / "tests" / "sim_api" / "api_selftest.c"


def api_sources() -> list[str]:
    """SIM_API_SRCS as api.mk sets it (asked from make itself)."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-f", "-", "print"],
        input=f"include {API_MK}\nprint:\n\t@echo $(SIM_API_SRCS)\n",
        capture_output=True, text=True, check=True).stdout
    srcs = out.split()
    assert srcs and all(Path(s).is_file() for s in srcs), srcs
    return srcs


def build(tmp_path: Path, extra: list[str]) -> Path:
    exe = tmp_path / "api_selftest"
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
           "-g", *extra, f"-I{ROOT / 'sim' / 'include'}",
           f"-I{ROOT / 'sim' / 'src'}", "-o", str(exe), str(SELFTEST),
           *api_sources(), "-lcrypto"]
    subprocess.run(cmd, check=True)
    return exe


def run(exe: Path, store: Path) -> subprocess.CompletedProcess:
    store.mkdir()
    env = dict(os.environ, OPTEE_SIM_TA_LOG="1")
    return subprocess.run([str(exe), str(store)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_api_selftest(tmp_path):
    exe = build(tmp_path, [])
    res = run(exe, tmp_path / "store")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "all checks passed" in res.stdout
    # Object files are named by a MAC of the id: no label leaks.
    names = [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert names and all(re.fullmatch(r"[0-9a-f]{64}(\.corrupt)?", n) for n in names)
    assert sum(n.endswith(".corrupt") for n in names) == 3


def test_api_selftest_sanitizers(tmp_path):
    """Same run under ASan/UBSan: no memory errors, no leaks."""
    probe = subprocess.run(
        [os.environ.get("CC", "cc"), "-fsanitize=address,undefined",
         "-x", "c", "-", "-o", str(tmp_path / "probe")],
        input="int main(void){return 0;}", text=True, capture_output=True)
    assert probe.returncode == 0, "compiler lacks ASan/UBSan: " + probe.stderr
    exe = build(tmp_path, ["-fsanitize=address,undefined",
                           "-fno-omit-frame-pointer",
                           "-fno-sanitize-recover=undefined"])
    res = run(exe, tmp_path / "store")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ERROR: AddressSanitizer" not in res.stderr
    assert "runtime error" not in res.stderr


def test_api_headers_standalone(tmp_path):
    """Each public header compiles on its own, warning-free."""
    for hdr in ("tee_internal_api.h", "tee_api_defines.h", "tee_api_types.h",
                "tee_internal_api_extensions.h", "trace.h"):
        src = tmp_path / "h.c"
        src.write_text(f"#include <stdint.h>\n#include <{hdr}>\n"
                       "int main(void) { return 0; }\n")
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-Wall",
                        "-Wextra", "-Werror", "-pedantic",
                        f"-I{ROOT / 'sim' / 'include'}", "-c", str(src),
                        "-o", str(tmp_path / "h.o")], check=True)
