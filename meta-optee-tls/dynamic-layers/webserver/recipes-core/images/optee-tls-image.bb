SUMMARY = "optee-tls demonstration image"
DESCRIPTION = "OP-TEE with tee-supplicant, the optee-tls Trusted \
               Application, OpenSSL provider and ENGINE, first-boot \
               provisioning, and nginx serving HTTPS with the TLS key held \
               in the TEE."
SECTION = "images"
CVE_PRODUCT = "optee-tls"
LICENSE = "MIT"

inherit core-image extrausers

IMAGE_FEATURES += "ssh-server-dropbear"

IMAGE_INSTALL:append = " packagegroup-optee-tls optee-tls-nginx nginx"

# nginx workers sign TLS handshakes through /dev/tee0 (group tee, mode 0660):
# put them in that group rather than opening the device to everyone.
TEE_GROUP_NAME ?= "tee"
EXTRA_USERS_PARAMS = "usermod -a -G ${TEE_GROUP_NAME} www;"

# oeqa: lib/oeqa/runtime/cases/optee_tls.py
TEST_SUITES:append = " optee_tls"
