# OP-TEE's rpi3 platform (core/arch/arm/plat-rpi3): TZDRAM 0x10100000,
# static shared memory 0x08000000 (reserved by optee-rpi3-dt).
COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"
OPTEEMACHINE:optee-rpi3 = "rpi3"
