"""Short, deterministic run of the TA fuzz harness (tests/fuzz/ta_fuzz.c).

The harness links the TA sources and the simulator's host Internal Core API
into one process (no daemon). Built here as a plain executable (no
libFuzzer: any C compiler, ASan/UBSan when the compiler has them), it
replays the seed corpus and every regression input, then runs a fixed-seed
random mutation run. Any TA panic, sanitizer report, output written on an
error path, private key bytes in an output or leaked object handle aborts
it. Long runs: `make -C tests/fuzz run` (docs/development.md, Fuzzing).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "tests" / "fuzz"
ITERATIONS = 20000


def compiler() -> str:
    cc = os.environ.get("CC")
    if cc:
        return cc
    for c in ("cc", "gcc", "clang"):
        if shutil.which(c):
            return c
    return "cc"


def has_sanitizers(cc: str, tmp_path: Path) -> bool:
    probe = subprocess.run(
        [cc, "-fsanitize=address,undefined", "-x", "c", "-", "-o",
         str(tmp_path / "probe")],
        input="int main(void){return 0;}", text=True, capture_output=True)
    return probe.returncode == 0


def build(tmp_path: Path) -> Path:
    cc = compiler()
    exe = tmp_path / "ta_fuzz_replay"
    srcs = [FUZZ / "ta_fuzz.c",
            *(ROOT / "ta" / f for f in ("entry.c", "keystore.c", "keygen.c",
                                        "sign.c", "policy.c")),
            *(ROOT / "sim" / "src" / f for f in (
                "tee_api_core.c", "tee_api_objects.c",
                "tee_api_operations.c", "tee_api_storage.c", "storage.c"))]
    san = (["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer"] if has_sanitizers(cc, tmp_path)
           else [])
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
           "-g", "-O1", *san, "-DTA_FUZZ_STANDALONE",
           f"-DTA_FUZZ_DIR=\"{FUZZ}\"",
           f"-I{ROOT / 'sim' / 'include'}", f"-I{ROOT / 'sim' / 'src'}",
           f"-I{ROOT / 'ta' / 'include'}", f"-I{ROOT / 'ta'}",
           "-o", str(exe), *map(str, srcs),
           "-Wl,--wrap=TEE_GenerateKey", "-lcrypto"]
    subprocess.run(cmd, check=True)
    return exe


def test_ta_fuzz_smoke(tmp_path):
    exe = build(tmp_path)
    env = dict(os.environ, TMPDIR=str(tmp_path), OPTEE_SIM_TA_LOG="0",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    env.pop("TA_FUZZ_DIR", None)
    res = subprocess.run(
        [str(exe), "-n", str(ITERATIONS), "-s", "1", str(FUZZ / "corpus"),
         str(FUZZ / "regressions")],
        capture_output=True, text=True, env=env, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "no crash" in out
    assert "ERROR: AddressSanitizer" not in out
    assert "runtime error" not in out
    # Every committed input was replayed.
    n = sum(1 for d in ("corpus", "regressions")
            for p in (FUZZ / d).iterdir() if not p.name.startswith("."))
    assert f"{n} files replayed" in out
    # The temporary store is gone.
    assert not list(tmp_path.glob("ta_fuzz.*"))
