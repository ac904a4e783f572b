# optee-tls: make demo | make check | make bench | make install
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
VENV := $(TOP)/.venv
PYTEST_ARGS ?=

all: sim engine

deps:
	@$(TOP)/scripts/install-deps.sh

# Two simulators: the TA with the GP backend (tee-simd) and with the
# mbedTLS backend (tee-simd-mbedtls); make check tests both.
sim:
	$(MAKE) -C sim BUILD=$(BUILD)
	$(MAKE) -C sim BUILD=$(BUILD) CFG_OPTEE_TLS_CRYPTO=mbedtls daemon

engine: sim
	$(MAKE) -C engine BUILD=$(BUILD)

# The TA suites (tests/test_ta_*.py) run against both TA crypto backends
# by themselves; the end-to-end suites run a second time with the TA's
# mbedTLS backend.
BACKEND_SUITES := tests/test_client.py tests/test_provider.py \
	tests/test_provider_decrypt.py tests/test_tls_handshake.py

check: deps
	$(MAKE) all
	$(VENV)/bin/python -m pytest -ra $(PYTEST_ARGS) tests
	OTLS_TA_BACKEND=mbedtls $(VENV)/bin/python -m pytest -ra $(PYTEST_ARGS) \
		$(BACKEND_SUITES)

demo: deps
	$(MAKE) all
	$(TOP)/scripts/demo.sh

bench: deps
	$(MAKE) all
	$(VENV)/bin/python $(TOP)/scripts/bench.py

# Installs the normal-world parts (tests/install_manifest.py lists them):
#   make install DESTDIR=/tmp/root PREFIX=/usr
# The TA is built with OP-TEE's TA dev kit instead (ta/Makefile).
# A distribution build passes TEEC_CFLAGS/TEEC_LIBS for its libteec (then the
# simulator is not built), MODULESDIR/ENGINESDIR when pkg-config cannot tell,
# and IN_TREE_RPATH= to keep rpaths out of the installed files.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_VARS = DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) BUILD=$(BUILD)
TEEC_FROM_USER := $(filter command line environment,$(origin TEEC_LIBS))

install: $(if $(TEEC_FROM_USER),,sim)
	$(MAKE) -C engine install $(INSTALL_VARS)
	if [ -f provisioning/Makefile ]; then $(MAKE) -C provisioning install $(INSTALL_VARS); fi

# libFuzzer targets (tests/fuzz): fuzz-ci runs each for FUZZ_CI_TIME s (60)
# from its committed corpus, fuzz for FUZZ_RUNS executions (10 million).
# clang is installed here (not in scripts/deps: make check does not need it).
fuzz-ci: deps
	$(TOP)/scripts/need-clang.sh
	$(MAKE) -C tests/fuzz ci

fuzz: deps
	$(TOP)/scripts/need-clang.sh
	$(MAKE) -C tests/fuzz long

# ASan+UBSan and TSan builds (own trees under build-san/) running the
# integration and threaded client tests; see scripts/sanitize.sh.
sanitize: deps
	$(TOP)/scripts/sanitize.sh

clean:
	rm -rf $(BUILD) $(TOP)/build-san

.PHONY: all deps sim engine check demo bench install sanitize fuzz fuzz-ci clean
