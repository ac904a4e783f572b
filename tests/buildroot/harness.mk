# Runs one package of the br2-external tree (buildroot/package/*/*.mk)
# outside Buildroot, with Buildroot's variables pointed at the host: the
# package's own BUILD/INSTALL commands and hooks run unchanged, so the test
# checks what the .mk really does (tests/test_buildroot.py).
#   make -f harness.mk MK=<pkg.mk> PKG=<PREFIX> SRC=<copy of the sources> \
#        TARGET_DIR=... [INIT=SYSTEMD|SYSV] <step>
#   step: build | install-target | finalize
#   make -f harness.mk MK=... print-<VARIABLE>
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
BR2_EXTERNAL_OPTEE_TLS_PATH := $(ROOT)/buildroot
TOPDIR ?= $(ROOT)
BUILD ?= $(ROOT)/build

# Buildroot helpers the packages use.
qstrip = $(strip $(subst ",,$(1)))
define sep


endef
generic-package :=
python-package :=
INSTALL := install
STAGING_DIR ?= /nonexistent-staging
TARGET_CROSS :=
OPTEE_OS_SDK ?= /nonexistent-sdk
PKG_CONFIG_HOST_BINARY := pkg-config
TARGET_MAKE_ENV :=
# The host's compiler, the simulator's libteec standing in for optee-client's.
TARGET_CONFIGURE_OPTS := CC=cc PKG_CONFIG=pkg-config CFLAGS="-O2" \
	CPPFLAGS="-I$(ROOT)/sim/include" LDFLAGS="-L$(BUILD)/lib"

# Set by Buildroot's package infrastructure: the package's own directory.
$(PKG)_PKGDIR = $(patsubst %/,%,$(dir $(abspath $(MK))))

include $(MK)

.PHONY: build install-target finalize
build: $(SRC)/.br-build
install-target: $(SRC)/.br-install-target
finalize: $(SRC)/.br-finalize

# Targets inside SRC so that $(@D) is the package's build directory.
.PHONY: $(SRC)/.br-build $(SRC)/.br-install-target $(SRC)/.br-finalize
$(SRC)/.br-build:
	$($(PKG)_BUILD_CMDS)
# As Buildroot: INSTALL_TARGET_CMDS, the init system's INSTALL_INIT_<INIT>
# (INIT=SYSTEMD or SYSV), then the post-install hooks.
$(SRC)/.br-install-target:
	$($(PKG)_INSTALL_TARGET_CMDS)
	$(if $(INIT),$($(PKG)_INSTALL_INIT_$(INIT)))
	$(foreach h,$($(PKG)_POST_INSTALL_TARGET_HOOKS),$(call $(h))$(sep))
$(SRC)/.br-finalize:
	$(foreach h,$($(PKG)_TARGET_FINALIZE_HOOKS),$(call $(h))$(sep))

print-%:
	@echo '$($*)'
