"""The provider refuses to load into an OpenSSL of another major version
than the one it was built against (a 3.x build loaded by 4.x runs on two
libcryptos and crashes at exit).

Without a second OpenSSL here, this is checked two ways: the version
parser on its own (engine/provider/version.c compiled into a driver), and
the real build/ossl-modules/optee.so initialised by a small C "core" that
reports the OpenSSL version it is told (the core's "openssl-version"
parameter, which is what OpenSSL gives every provider) and prints the
errors the provider raises. That a matching version loads is what every
other provider test shows.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import MODULES, ROOT

PARSE_C = r"""
#include <stdio.h>
int optee_version_major(const char *version);
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		printf("%d\n", optee_version_major(argv[i]));
	return 0;
}
"""

CORE_C = r"""
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

static const char *version;

static int get_params(const OSSL_CORE_HANDLE *h, OSSL_PARAM params[])
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_CORE_VERSION);

	(void)h;
	return p == NULL || OSSL_PARAM_set_utf8_ptr(p, version);
}
static void new_error(const OSSL_CORE_HANDLE *h) { (void)h; }
static void set_debug(const OSSL_CORE_HANDLE *h, const char *file, int line,
		      const char *func)
{
	(void)h; (void)file; (void)line; (void)func;
}
static void vset_error(const OSSL_CORE_HANDLE *h, uint32_t reason,
		       const char *fmt, va_list ap)
{
	(void)h;
	printf("error %u: ", reason);
	vprintf(fmt, ap);
	printf("\n");
}

int main(int argc, char **argv)
{
	const OSSL_DISPATCH in[] = {
		{ OSSL_FUNC_CORE_GET_PARAMS, (void (*)(void))get_params },
		{ OSSL_FUNC_CORE_NEW_ERROR, (void (*)(void))new_error },
		{ OSSL_FUNC_CORE_SET_ERROR_DEBUG, (void (*)(void))set_debug },
		{ OSSL_FUNC_CORE_VSET_ERROR, (void (*)(void))vset_error },
		{ 0, NULL }
	};
	const OSSL_DISPATCH *out = NULL;
	void *provctx = NULL, *so;
	OSSL_provider_init_fn *init;

	if (argc != 3)
		return 2;
	version = argv[2];
	so = dlopen(argv[1], RTLD_NOW);
	if (so == NULL) {
		printf("dlopen: %s\n", dlerror());
		return 3;
	}
	init = (OSSL_provider_init_fn *)dlsym(so, "OSSL_provider_init");
	if (init == NULL)
		return 4;
	printf("init=%d\n", init((const OSSL_CORE_HANDLE *)&version, in, &out,
				&provctx));
	return 0;
}
"""


def cc(tmp_path, name: str, source: str, *extra: str):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    exe = tmp_path / name
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcrypto"],
                           capture_output=True, text=True).stdout.split()
    r = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror",
                        "-o", str(exe), str(src), *extra, *flags, "-lcrypto",
                        "-ldl"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return exe


def test_version_major_parsing(tmp_path):
    exe = cc(tmp_path, "parse", PARSE_C,
             str(ROOT / "engine" / "provider" / "version.c"),
             "-I", str(ROOT / "engine" / "provider"),
             "-I", str(ROOT / "engine" / "include"))
    cases = {"3.0.13": 3, "3.5.1": 3, "4.0.2": 4, "3": 3, "10.1.0": 10,
             "4.0.0-dev": 4, "": -1, "x3.0": -1, "3x": -1, " 3.0": -1,
             "-3.0": -1}
    out = subprocess.run([str(exe), *cases], capture_output=True, text=True,
                         check=True).stdout.split()
    assert dict(zip(cases, map(int, out))) == cases


def built_major() -> int:
    out = subprocess.run(["openssl", "version"], capture_output=True,
                         text=True, check=True).stdout
    return int(re.match(r"OpenSSL (\d+)\.", out).group(1))


@pytest.mark.parametrize("other", ["major+1", "major-1", "garbage"])
def test_provider_refuses_another_major(tmp_path, other):
    so = MODULES / "optee.so"
    assert so.exists(), "build/ossl-modules/optee.so missing: run make"
    exe = cc(tmp_path, "core", CORE_C)
    major = built_major()
    version = {"major+1": f"{major + 1}.0.2", "major-1": f"{major - 1}.1.1w",
               "garbage": "unknown"}[other]
    r = subprocess.run([str(exe), str(so), version], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "init=0", r.stdout
    assert (f"the optee provider was built for OpenSSL {major}.x and refuses "
            f"to load into OpenSSL {version}: rebuild it against this "
            "OpenSSL") in r.stdout, r.stdout


def test_same_major_loads_in_openssl():
    """Through the real openssl CLI the same check passes (same major): the
    provider loads and says which OpenSSL it was built with."""
    assert shutil.which("openssl")
    r = subprocess.run(["openssl", "list", "-providers", "-verbose",
                        "-provider-path", str(MODULES), "-provider", "optee"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "optee" in r.stdout and "status: active" in r.stdout, r.stdout
