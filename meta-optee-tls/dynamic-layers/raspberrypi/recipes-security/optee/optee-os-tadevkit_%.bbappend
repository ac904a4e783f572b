# optee-os-tadevkit includes optee-os's recipe, but optee-os_%.bbappend does
# not apply to it: allow the Pi here too.
COMPATIBLE_MACHINE:optee-rpi3 = "raspberrypi3-64"
OPTEEMACHINE:optee-rpi3 = "rpi3"
