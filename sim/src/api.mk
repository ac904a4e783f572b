# Host implementation of the GP TEE Internal Core API (the simulator's
# "secure world" side that TA code calls). Included by sim/Makefile.
# Compile with -Isim/include -Isim/src; link with $(SIM_API_LIBS).
SIM_API_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SIM_API_SRCS := $(addprefix $(SIM_API_DIR)/, \
	tee_api_core.c \
	tee_api_objects.c \
	tee_api_operations.c \
	tee_api_storage.c \
	storage.c)
SIM_API_LIBS := -lcrypto
