# TF-A for the Pi 3 with OP-TEE as BL32: its build concatenates BL1 and the
# FIP into armstub8.bin, which the firmware loads at address 0. The firmware
# has loaded the kernel at 0x02000000 and the DTB at 0x01000000 (config.txt);
# BL31 jumps straight to the kernel.
COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"
TFA_PLATFORM:optee-rpi3 = "rpi3"
TFA_SPD:optee-rpi3 = "opteed"
TFA_UBOOT:optee-rpi3 = "0"
TFA_BUILD_TARGET:optee-rpi3 = "all fip"
TFA_INSTALL_TARGET:optee-rpi3 = "armstub8"
DEPENDS:append:optee-rpi3 = " optee-os"
EXTRA_OEMAKE:append:optee-rpi3 = " \
    BL32=${STAGING_DIR_TARGET}${nonarch_base_libdir}/firmware/tee-header_v2.bin \
    BL32_EXTRA1=${STAGING_DIR_TARGET}${nonarch_base_libdir}/firmware/tee-pager_v2.bin \
    BL32_EXTRA2=${STAGING_DIR_TARGET}${nonarch_base_libdir}/firmware/tee-pageable_v2.bin \
    RPI3_DIRECT_LINUX_BOOT=1 \
    PRELOADED_BL33_BASE=0x02000000 \
    RPI3_PRELOADED_DTB_BASE=0x01000000 \
"
