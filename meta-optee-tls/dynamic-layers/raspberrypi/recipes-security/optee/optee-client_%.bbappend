COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"
