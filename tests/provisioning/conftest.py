"""Provisioning tests: the package is imported from provisioning/src (no
install needed); in-process TEE calls go to one simulator per session."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "provisioning" / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(ROOT / "tests"))

import importlib.util  # noqa: E402

# tests/conftest.py is the module "conftest" too: load it under its own name.
_spec = importlib.util.spec_from_file_location("otls_tests_conftest",
                                               ROOT / "tests" / "conftest.py")
assert _spec and _spec.loader
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
Sim = _root.Sim
# Tests here may `from conftest import ...` the shared helpers: re-export
# them (not the fixtures, which pytest already provides from tests/).
for _n, _v in vars(_root).items():
    if not _n.startswith("_") and _n not in globals() and \
            not hasattr(_v, "_pytestfixturefunction") and \
            "fixture" not in type(_v).__name__.lower():
        globals()[_n] = _v

EXAMPLES = ROOT / "provisioning" / "examples"


@pytest.fixture(scope="session")
def tee_sim():
    """A simulator for calls made by this (pytest) process itself."""
    work = Path(tempfile.mkdtemp(prefix="otls-prov-sim-"))
    s = Sim(work / "sim").start()
    os.environ["OPTEE_SIM_SOCKET"] = str(s.socket)
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(work, ignore_errors=True)


def cli(sim, *args, check=False, **kw):
    """Run `python -m optee_tls ARGS` in the simulator's environment."""
    env = {"PYTHONPATH": str(SRC)}
    env.update(kw.pop("env", {}) or {})
    return sim.run([sys.executable, "-m", "optee_tls", *map(str, args)],
                   check=check, text=True, env=env, **kw)
