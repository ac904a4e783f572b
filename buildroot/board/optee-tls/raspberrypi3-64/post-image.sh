#!/bin/sh
# Puts TF-A's armstub8.bin and the OP-TEE device-tree overlay among the boot
# files; Buildroot's board/raspberrypi3-64/post-image.sh (next in
# BR2_ROOTFS_POST_IMAGE_SCRIPT) then builds sdcard.img from them.
set -eu

BOARD_DIR=$(dirname "$0")
FW_DIR="${BINARIES_DIR}/rpi-firmware"

install -m 0644 "${BINARIES_DIR}/armstub8.bin" "${FW_DIR}/armstub8.bin"
mkdir -p "${FW_DIR}/overlays"
"${HOST_DIR}/bin/dtc" -@ -I dts -O dtb -o "${FW_DIR}/overlays/optee-tls.dtbo" \
	"${BOARD_DIR}/optee-tls-overlay.dts"
