# The optee ENGINE (paths relative to engine/). Included by engine/Makefile,
# which builds it only where <openssl/engine.h> is usable (no ENGINE in
# OpenSSL 4.0, or with OPENSSL_NO_ENGINE).
#
# An OpenSSL 3 built without the 3.0-deprecated API (no-deprecated) has
# engine.h but no ENGINE functions in it: leave the ENGINE out there too.
ENGINE_API_OK := $(shell printf '\#include <openssl/opensslconf.h>\n\#if defined(OPENSSL_NO_DEPRECATED_3_0) || defined(OPENSSL_NO_ENGINE)\n\#error no\n\#endif\n' | $(CC) $(OPENSSL_CFLAGS) -E -x c - >/dev/null 2>&1 && echo y)

ifeq ($(ENGINE_API_OK),y)
ENGINE_SRCS := engine/engine.c engine/engine_err.c engine/engine_rsa.c \
	engine/engine_ec.c engine/engine_pkey.c
endif

# ENGINE, RSA_METHOD, EC_KEY_METHOD and EVP_PKEY_METHOD are the very API an
# ENGINE is made of, all deprecated since OpenSSL 3.0: say so once here
# rather than silencing warnings in general.
$(OBJDIR)/engine/engine/%.o: CPPFLAGS += -DOPENSSL_SUPPRESS_DEPRECATED
