"""openssl command-line helpers shared by the `optee` provider suites
(test_provider*.py): openssl with our provider active, a plain openssl that
knows nothing of optee, and the simulator's invocation counter.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import MODULES

PROVIDER = MODULES / "optee.so"

needs_provider = pytest.mark.skipif(
    not PROVIDER.exists(), reason="build/ossl-modules/optee.so not built")


def openssl(sim, *args, check=True, env=None, input=None):
    """openssl with our provider active (build/openssl-optee.cnf)."""
    return sim.run(["openssl", *map(str, args)], check=check, env=env,
                   input=input)


@pytest.fixture
def plain_env(tmp_path):
    """Environment of an openssl that knows nothing of optee."""
    cnf = tmp_path / "plain.cnf"
    cnf.write_text("# default provider only\n")
    env = dict(os.environ)
    env["OPENSSL_CONF"] = str(cnf)
    env.pop("OPENSSL_MODULES", None)
    return env


def plain(env, *args, check=True):
    return subprocess.run(["openssl", *map(str, args)], env=env, check=check,
                          capture_output=True, timeout=120)


def invocations(sim) -> int:
    return sim.stats()["ta_invocations"]
