# OpenSSL 3 provider `optee` (paths relative to engine/); one file per
# operation, all over libopteetls.
PROVIDER_SRCS := provider/provider.c provider/key.c provider/keymgmt.c \
	provider/signature.c provider/store.c provider/decoder.c \
	provider/encoder.c provider/encoder_text.c \
	provider/asymcipher.c provider/version.c
