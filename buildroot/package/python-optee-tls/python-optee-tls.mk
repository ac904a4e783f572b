################################################################################
#
# python-optee-tls
#
################################################################################

# Our own sources, from the repository that holds this br2-external tree.
PYTHON_OPTEE_TLS_VERSION = 0.1.0
PYTHON_OPTEE_TLS_SITE = $(realpath $(BR2_EXTERNAL_OPTEE_TLS_PATH)/..)
PYTHON_OPTEE_TLS_SITE_METHOD = local
PYTHON_OPTEE_TLS_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/.venv --exclude=/build --exclude=/output --exclude=/ta/out
PYTHON_OPTEE_TLS_SUBDIR = provisioning
PYTHON_OPTEE_TLS_SETUP_TYPE = setuptools
PYTHON_OPTEE_TLS_LICENSE = BSD-2-Clause

# The Python package goes in through Buildroot's python-package
# infrastructure (target interpreter, site-packages); the default
# configuration comes from the repository, as "make -C provisioning
# install" installs it.
define PYTHON_OPTEE_TLS_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/provisioning/config/provision.yaml \
		$(TARGET_DIR)/etc/optee-tls/provision.yaml
endef
PYTHON_OPTEE_TLS_POST_INSTALL_TARGET_HOOKS += PYTHON_OPTEE_TLS_INSTALL_CONFIG

define PYTHON_OPTEE_TLS_INSTALL_INIT_SYSTEMD
	$(foreach u,optee-tls-provision.service optee-tls-renew.service optee-tls-renew.timer,
		$(INSTALL) -D -m 0644 $(@D)/provisioning/systemd/$(u) \
			$(TARGET_DIR)/usr/lib/systemd/system/$(u)
	)
endef

define PYTHON_OPTEE_TLS_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(PYTHON_OPTEE_TLS_PKGDIR)/S40optee-tls \
		$(TARGET_DIR)/etc/init.d/S40optee-tls
endef

$(eval $(python-package))
