FILESEXTRAPATHS:prepend:optee-rpi3 := "${THISDIR}/files:"
SRC_URI:append:optee-rpi3 = " file://optee.cfg"
