################################################################################
#
# optee-tls-ta
#
################################################################################

# Our own sources, from the repository that holds this br2-external tree.
OPTEE_TLS_TA_VERSION = 0.1.0
OPTEE_TLS_TA_SITE = $(realpath $(BR2_EXTERNAL_OPTEE_TLS_PATH)/..)
OPTEE_TLS_TA_SITE_METHOD = local
OPTEE_TLS_TA_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/.venv --exclude=/build --exclude=/output --exclude=/ta/out
OPTEE_TLS_TA_LICENSE = BSD-2-Clause
OPTEE_TLS_TA_DEPENDENCIES = optee-os host-python3

OPTEE_TLS_TA_SIGN_KEY = $(call qstrip,$(BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY))
ifneq ($(OPTEE_TLS_TA_SIGN_KEY),)
# Relative paths are taken from TOPDIR, as elsewhere in Buildroot.
OPTEE_TLS_TA_SIGN_KEY_PATH = \
	$(if $(filter /%,$(OPTEE_TLS_TA_SIGN_KEY)),$(OPTEE_TLS_TA_SIGN_KEY),$(TOPDIR)/$(OPTEE_TLS_TA_SIGN_KEY))
OPTEE_TLS_TA_MAKE_OPTS += TA_SIGN_KEY=$(OPTEE_TLS_TA_SIGN_KEY_PATH)
endif

OPTEE_TLS_TA_MAKE_OPTS += \
	CROSS_COMPILE=$(TARGET_CROSS) \
	TA_DEV_KIT_DIR=$(OPTEE_OS_SDK) \
	O=out

define OPTEE_TLS_TA_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D)/ta $(OPTEE_TLS_TA_MAKE_OPTS) all
endef

# One TA: its name is the UUID from ta/include/optee_tls_ta.h.
define OPTEE_TLS_TA_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0444 -t $(TARGET_DIR)/lib/optee_armtz $(@D)/ta/out/*.ta
endef

ifeq ($(BR_BUILDING),y)
ifneq ($(OPTEE_TLS_TA_SIGN_KEY),)
ifeq ($(wildcard $(OPTEE_TLS_TA_SIGN_KEY_PATH)),)
$(error optee-tls-ta: BR2_PACKAGE_OPTEE_TLS_TA_SIGN_KEY $(OPTEE_TLS_TA_SIGN_KEY_PATH) does not exist)
endif
endif
endif

$(eval $(generic-package))
