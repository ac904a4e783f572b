# The optee ENGINE (paths relative to engine/). Included by engine/Makefile,
# which sets HAVE_ENGINE from the probe engine/engine/have_engine.c: no
# ENGINE in OpenSSL 4.0, with OPENSSL_NO_ENGINE, or in an OpenSSL 3 built
# without the 3.0-deprecated API (engine.h there has no ENGINE functions).
ifeq ($(HAVE_ENGINE),y)
ENGINE_SRCS := engine/engine.c engine/engine_err.c engine/engine_rsa.c \
	engine/engine_ec.c engine/engine_pkey.c
endif

# ENGINE, RSA_METHOD, EC_KEY_METHOD and EVP_PKEY_METHOD are the very API an
# ENGINE is made of, all deprecated since OpenSSL 3.0: say so once here
# rather than silencing warnings in general.
$(OBJDIR)/engine/engine/%.o: CPPFLAGS += -DOPENSSL_SUPPRESS_DEPRECATED
