SUMMARY = "optee-tls Trusted Application"
DESCRIPTION = "OP-TEE Trusted Application that creates TLS private keys in \
               secure storage and signs and decrypts with them; the keys \
               never leave it."
LIC_FILES_CHKSUM = "file://ta/entry.c;beginline=1;endline=1;md5=b8d1b5eadf431ac74ab61cfc873b01ec"

require recipes-security/optee-tls/optee-tls.inc
# meta-arm's OP-TEE settings: TA_DEV_KIT_DIR, COMPATIBLE_MACHINE, toolchain.
# nooelint: oelint.file.requirenotfound
require recipes-security/optee/optee.inc

DEPENDS += "optee-client optee-os-tadevkit python3-cryptography-native"

inherit python3native

SRC_URI = "file://ta;subdir=optee-tls"

B = "${WORKDIR}/build"

EXTRA_OEMAKE += "TA_DEV_KIT_DIR=${TA_DEV_KIT_DIR} \
                 CROSS_COMPILE=${HOST_PREFIX} \
                 O=${B} \
                "
# conf/include/optee-tls-signing.inc; without it: the dev kit's default key.
# nooelint: oelint.vars.specific
EXTRA_OEMAKE:append:optee-tls-signed = " TA_SIGN_KEY=${OPTEE_TLS_TA_SIGN_KEY}"
do_compile[file-checksums] += "${@'${OPTEE_TLS_TA_SIGN_KEY}:True' if d.getVar('OPTEE_TLS_TA_SIGN_KEY') else ''}"

do_compile[cleandirs] = "${B}"
do_compile() {
    oe_runmake -C ${S}/ta
}

do_install() {
    install -D -m 0444 ${B}/${OPTEE_TLS_TA_UUID}.ta ${D}${nonarch_base_libdir}/optee_armtz/${OPTEE_TLS_TA_UUID}.ta
}

# Built against the machine's OP-TEE dev kit.
PACKAGE_ARCH = "${MACHINE_ARCH}"

FILES:${PN} += "${nonarch_base_libdir}/optee_armtz/${OPTEE_TLS_TA_UUID}.ta"

# The Pi 3 (conf/include/optee-tls-rpi3.inc) in addition to meta-arm's machines.
# nooelint: oelint.vars.specific
COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"
# nooelint: oelint.vars.specific
OPTEEMACHINE:optee-rpi3 = "rpi3"

# Secure-world code for one machine's OP-TEE: there is no native or SDK variant.
BBCLASSEXTEND = ""
