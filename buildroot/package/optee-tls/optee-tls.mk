################################################################################
#
# optee-tls
#
################################################################################

# Our own sources, from the repository that holds this br2-external tree.
OPTEE_TLS_VERSION = 0.1.0
OPTEE_TLS_SITE = $(realpath $(BR2_EXTERNAL_OPTEE_TLS_PATH)/..)
OPTEE_TLS_SITE_METHOD = local
OPTEE_TLS_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/.venv --exclude=/build --exclude=/output --exclude=/ta/out
OPTEE_TLS_LICENSE = BSD-2-Clause
OPTEE_TLS_INSTALL_STAGING = YES
OPTEE_TLS_DEPENDENCIES = host-pkgconf openssl optee-client

# The project's own install rule (engine/Makefile, what top-level
# "make install" runs) lays the files out, so Buildroot and Yocto cannot
# drift from tests/install_manifest.py. libteec comes from optee-client
# (not the simulator); OpenSSL's directories from the target's libcrypto.pc.
OPTEE_TLS_PKG_CONFIG_DIR = \
	$$($(PKG_CONFIG_HOST_BINARY) --variable=$(1) libcrypto | sed 's|^$(STAGING_DIR)||')

# CFLAGS and friends go through the environment: engine/Makefile appends
# its own flags to them (-fPIC, -std=c11), which a command-line CFLAGS
# would replace.
OPTEE_TLS_MAKE_ENV = \
	$(TARGET_MAKE_ENV) \
	$(TARGET_CONFIGURE_OPTS)

OPTEE_TLS_MAKE_OPTS = \
	BUILD=$(@D)/br-build \
	PREFIX=/usr \
	TEEC_CFLAGS= \
	TEEC_LIBS=-lteec \
	IN_TREE_RPATH= \
	MODULESDIR="$(call OPTEE_TLS_PKG_CONFIG_DIR,modulesdir)" \
	ENGINESDIR="$(call OPTEE_TLS_PKG_CONFIG_DIR,enginesdir)"

# engine/Makefile builds the ENGINE whenever OpenSSL has ENGINE support.
ifeq ($(BR2_PACKAGE_OPTEE_TLS_ENGINE),)
OPTEE_TLS_MAKE_OPTS += HAVE_ENGINE=
endif

define OPTEE_TLS_BUILD_CMDS
	$(OPTEE_TLS_MAKE_ENV) $(MAKE) -C $(@D)/engine $(OPTEE_TLS_MAKE_OPTS) all
endef

define OPTEE_TLS_INSTALL_STAGING_CMDS
	$(OPTEE_TLS_MAKE_ENV) $(MAKE) -C $(@D)/engine $(OPTEE_TLS_MAKE_OPTS) \
		DESTDIR=$(STAGING_DIR) install
endef

define OPTEE_TLS_INSTALL_TARGET_CMDS
	$(OPTEE_TLS_MAKE_ENV) $(MAKE) -C $(@D)/engine $(OPTEE_TLS_MAKE_OPTS) \
		DESTDIR=$(TARGET_DIR) install
endef

# Upstream openssl.cnf does not read /etc/ssl/openssl.cnf.d: include it
# last (the snippets there extend sections of the main file).
define OPTEE_TLS_OPENSSL_CNF_INCLUDE
	if [ -f $(TARGET_DIR)/etc/ssl/openssl.cnf ] && \
		! grep -q '^\.include /etc/ssl/openssl.cnf.d' $(TARGET_DIR)/etc/ssl/openssl.cnf; then \
		printf '\n# optee-tls: drop-in snippets\n.include /etc/ssl/openssl.cnf.d\n' \
			>> $(TARGET_DIR)/etc/ssl/openssl.cnf; \
	fi
endef
OPTEE_TLS_TARGET_FINALIZE_HOOKS += OPTEE_TLS_OPENSSL_CNF_INCLUDE

# TEE clients (nginx workers, the provisioning service) open /dev/tee0
# through this group (board/optee-tls/common udev rule).
define OPTEE_TLS_USERS
	- - tee -1 - - - - TEE clients
endef

define OPTEE_TLS_LINUX_CONFIG_FIXUPS
	$(call KCONFIG_ENABLE_OPT,CONFIG_TEE)
	$(call KCONFIG_ENABLE_OPT,CONFIG_OPTEE)
endef

$(eval $(generic-package))
