# libopteetls sources (paths relative to engine/)
CLIENT_SRCS := $(patsubst $(TOP)/engine/%,%,$(wildcard $(TOP)/engine/client/*.c))
