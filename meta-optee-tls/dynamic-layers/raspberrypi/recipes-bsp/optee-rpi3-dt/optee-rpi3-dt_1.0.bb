SUMMARY = "Device tree overlay for OP-TEE on the Raspberry Pi 3"
DESCRIPTION = "Reserves the memory of TF-A and OP-TEE and adds the \
               /firmware/optee node; deployed as overlays/optee-rpi3.dtbo."
SECTION = "bsp"
CVE_PRODUCT = "optee-tls"
LICENSE = "BSD-2-Clause"
LIC_FILES_CHKSUM = "file://optee-rpi3.dts;beginline=1;endline=1;md5=b8d1b5eadf431ac74ab61cfc873b01ec"

inherit devicetree

SRC_URI = "file://optee-rpi3.dts"

# Only with conf/include/optee-tls-rpi3.inc.
COMPATIBLE_MACHINE = "^$"
# nooelint: oelint.vars.specific
COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"

# A boot file for one machine; nothing to build for the host.
BBCLASSEXTEND = ""
