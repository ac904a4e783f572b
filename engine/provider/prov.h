/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals shared by the files of the `optee` OpenSSL provider.
 *
 * The provider is a thin layer over libopteetls (optee_tls.h): it never
 * speaks the TA protocol and never holds private key material.
 */
#ifndef OPTEE_PROV_H
#define OPTEE_PROV_H

#include <stdarg.h>
#include <stddef.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/types.h>

#define OPTEE_PROV_NAME		"optee"
#define OPTEE_PROV_VERSION	"0.1.0"
/* Every algorithm we offer carries this property definition. */
#define OPTEE_PROPS		"provider=optee"
/*
 * Property query used for what we delegate to other providers (digests,
 * public-key verification) in our child library context: never ourselves.
 */
#define OPTEE_DELEGATE_PROPQ	"provider!=optee"

/* Structure name of the DER body of an "OPTEE TLS KEY" PEM block. */
#define OPTEE_REF_STRUCTURE	"OpteeTlsKey"
/*
 * Structure name of what our PEM decoder passes on once it has looked the
 * reference up in the TA (struct optee_keyblob, process-internal).
 */
#define OPTEE_BLOB_STRUCTURE	"OpteeTlsKeyInfo"

/* Reason codes of the errors we raise (strings in provider.c). */
enum optee_reason {
	OPTEE_R_KEY_NOT_FOUND = 1,
	OPTEE_R_TEE_UNREACHABLE,
	OPTEE_R_TA_NOT_INSTALLED,
	OPTEE_R_UNSUPPORTED,
	OPTEE_R_DENIED,
	OPTEE_R_MALFORMED_REF,
	OPTEE_R_KEY_MISMATCH,
	OPTEE_R_LABEL_EXISTS,
	OPTEE_R_KEY_IN_USE,
	OPTEE_R_TA_DEAD,
	OPTEE_R_CORRUPT,
	OPTEE_R_NO_SPACE,
	OPTEE_R_PROTOCOL,
	OPTEE_R_INTERNAL,
	OPTEE_R_MISSING_LABEL,
	OPTEE_R_NO_TEE_KEY,
	OPTEE_R_BAD_PARAM,
	OPTEE_R_PRIVATE_NOT_EXPORTABLE,
	OPTEE_R_BUFFER_TOO_SMALL,
	OPTEE_R_BAD_DIGEST_LENGTH,
	OPTEE_R_VERIFY_FAILED,
	OPTEE_R_DECRYPT_FAILED,
	OPTEE_R_OPENSSL_MAJOR,
};

struct optee_prov {
	const OSSL_CORE_HANDLE *handle;
	/* Child of the application's library context: sees its providers. */
	OSSL_LIB_CTX *libctx;
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
};

/*
 * Major version at the start of an OpenSSL version string ("3.5.1" -> 3),
 * or -1 when it does not start with one (version.c).
 */
int optee_version_major(const char *version);
/*
 * 1 when the OpenSSL that loads us (the core's "openssl-version", else the
 * running libcrypto) has major version built_major; *core_version is the
 * core's string, or NULL if it gave none.
 */
int optee_version_check(const OSSL_CORE_HANDLE *handle,
			OSSL_FUNC_core_get_params_fn *core_get_params,
			int built_major, const char **core_version);

/* Raise an error through the core (falls back to nothing if absent). */
void optee_raise(const struct optee_prov *prov, const char *file, int line,
		 const char *func, int reason, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
#define OPTEE_ERR(prov, reason, ...) \
	optee_raise((prov), __FILE__, __LINE__, __func__, (reason), __VA_ARGS__)

/* Raise the error matching an OTLS_ERR_* code; what says what failed. */
void optee_raise_otls(const struct optee_prov *prov, const char *file,
		      int line, const char *func, int err, const char *label,
		      const char *what);
#define OPTEE_ERR_OTLS(prov, err, label, what) \
	optee_raise_otls((prov), __FILE__, __LINE__, __func__, (err), \
			 (label), (what))

/* Dispatch tables of each operation (one file each). */
extern const OSSL_DISPATCH optee_ec_keymgmt_functions[];
extern const OSSL_DISPATCH optee_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH optee_rsapss_keymgmt_functions[];
extern const OSSL_DISPATCH optee_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH optee_ecdsa_signature_functions[];
extern const OSSL_DISPATCH optee_rsa_signature_functions[];
extern const OSSL_DISPATCH optee_ed25519_signature_functions[];
extern const OSSL_DISPATCH optee_store_functions[];
extern const OSSL_DISPATCH optee_pem2der_decoder_functions[];
extern const OSSL_DISPATCH optee_der2ec_decoder_functions[];
extern const OSSL_DISPATCH optee_der2rsa_decoder_functions[];
extern const OSSL_DISPATCH optee_der2ed25519_decoder_functions[];
extern const OSSL_DISPATCH optee_blob2ec_decoder_functions[];
extern const OSSL_DISPATCH optee_blob2rsa_decoder_functions[];
extern const OSSL_DISPATCH optee_blob2ed25519_decoder_functions[];
extern const OSSL_DISPATCH optee_ec_pem_encoder_functions[];
extern const OSSL_DISPATCH optee_ec_der_encoder_functions[];
extern const OSSL_DISPATCH optee_rsa_pem_encoder_functions[];
extern const OSSL_DISPATCH optee_rsa_der_encoder_functions[];
extern const OSSL_DISPATCH optee_rsapss_pem_encoder_functions[];
extern const OSSL_DISPATCH optee_rsapss_der_encoder_functions[];
extern const OSSL_DISPATCH optee_ed25519_pem_encoder_functions[];
extern const OSSL_DISPATCH optee_ed25519_der_encoder_functions[];
extern const OSSL_DISPATCH optee_text_encoder_functions[];
extern const OSSL_DISPATCH optee_rsa_asym_cipher_functions[];

#endif /* OPTEE_PROV_H */
