# Sources of the optee-tls TA (OP-TEE TA dev kit format; the host
# simulator's Makefile reads srcs-y from here as well).
global-incdirs-y += include
srcs-y += entry.c
srcs-y += keystore.c
srcs-y += keygen.c
srcs-y += sign.c
srcs-y += policy.c
# CFG_OPTEE_TLS_CRYPTO=mbedtls (ta/Makefile sets CFG_OPTEE_TLS_CRYPTO_MBEDTLS):
# EC and RSA private-key operations in the TA with the dev kit's mbedTLS.
srcs-$(CFG_OPTEE_TLS_CRYPTO_MBEDTLS) += tk_mbedtls.c
