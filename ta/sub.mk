# Sources of the optee-tls TA (OP-TEE TA dev kit format; the host
# simulator's Makefile reads srcs-y from here as well).
global-incdirs-y += include
srcs-y += entry.c
srcs-y += keystore.c
srcs-y += keygen.c
srcs-y += sign.c
srcs-y += policy.c
