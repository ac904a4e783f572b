SUMMARY = "optee-tls provisioning: first-boot TLS key and certificate"
DESCRIPTION = "The optee-tls command and its systemd units: create the TLS \
               key in the optee-tls Trusted Application on first boot, \
               enroll a certificate, install it for nginx and renew it."
# The Python package has no license file of its own yet: the project's
# license (the SPDX lines of its C sources) applies.
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/BSD-2-Clause;md5=cb641bc04cda31daea161b1bc15da69f"

require recipes-security/optee-tls/optee-tls.inc

SRC_URI = "file://provisioning;subdir=optee-tls \
           file://docs/provisioning.md;subdir=optee-tls \
          "
PEP517_SOURCE_PATH = "${S}/provisioning"

inherit python_setuptools_build_meta systemd

do_install:append() {
    install -D -m 0644 ${S}/provisioning/systemd/optee-tls-provision.service ${D}${systemd_system_unitdir}/optee-tls-provision.service
    install -D -m 0644 ${S}/provisioning/systemd/optee-tls-renew.service ${D}${systemd_system_unitdir}/optee-tls-renew.service
    install -D -m 0644 ${S}/provisioning/systemd/optee-tls-renew.timer ${D}${systemd_system_unitdir}/optee-tls-renew.timer
    install -D -m 0644 ${S}/provisioning/config/provision.yaml ${D}${sysconfdir}/optee-tls/provision.yaml
    install -D -m 0644 ${S}/docs/provisioning.md ${D}${docdir}/optee-tls/provisioning.md
}

SYSTEMD_SERVICE:${PN} = "optee-tls-provision.service optee-tls-renew.timer"

FILES:${PN} += "${systemd_system_unitdir}/optee-tls-provision.service \
                ${systemd_system_unitdir}/optee-tls-renew.service \
                ${systemd_system_unitdir}/optee-tls-renew.timer \
                ${sysconfdir}/optee-tls/provision.yaml \
               "
FILES:${PN}-doc += "${docdir}/optee-tls/provisioning.md"
CONFFILES:${PN} = "${sysconfdir}/optee-tls/provision.yaml"

# Keys are made and used through the provider (openssl CLI, OpenSSL config).
RDEPENDS:${PN} = "openssl-bin \
                  optee-tls \
                  python3-core \
                  python3-cryptography \
                  python3-jinja2 \
                  python3-pyyaml \
                 "

# A device-side service; nothing to run on the build host.
BBCLASSEXTEND = ""
