SUMMARY = "optee-tls: TLS keys held in OP-TEE, end to end"
DESCRIPTION = "tee-supplicant, the optee-tls Trusted Application, the client \
               library with the OpenSSL provider and ENGINE, and the \
               provisioning service."
SECTION = "security"

inherit packagegroup

# The TA is built for the machine's OP-TEE.
PACKAGE_ARCH = "${MACHINE_ARCH}"

RDEPENDS:${PN} = "optee-client \
                  optee-tls \
                  optee-tls-ta \
                  python3-optee-tls \
                 "
