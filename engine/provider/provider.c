/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The `optee` OpenSSL provider: entry point, algorithm tables, parameters
 * and error strings. Each operation lives in its own file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include "optee_tls.h"
#include "prov.h"

/* ---- Errors ---------------------------------------------------------- */

static const OSSL_ITEM reason_strings[] = {
	{ OPTEE_R_KEY_NOT_FOUND, "key not found in the TEE" },
	{ OPTEE_R_TEE_UNREACHABLE, "TEE not reachable" },
	{ OPTEE_R_TA_NOT_INSTALLED, "optee-tls TA not installed" },
	{ OPTEE_R_UNSUPPORTED, "unsupported algorithm" },
	{ OPTEE_R_DENIED, "operation not allowed by the key's policy" },
	{ OPTEE_R_MALFORMED_REF, "malformed key reference" },
	{ OPTEE_R_KEY_MISMATCH, "key reference does not match the key in the TEE" },
	{ OPTEE_R_LABEL_EXISTS, "a key with this label already exists in the TEE" },
	{ OPTEE_R_KEY_IN_USE, "key is in use by another session" },
	{ OPTEE_R_TA_DEAD, "optee-tls TA died" },
	{ OPTEE_R_CORRUPT, "stored key failed authentication" },
	{ OPTEE_R_NO_SPACE, "TEE secure storage is full" },
	{ OPTEE_R_PROTOCOL, "optee-tls TA version mismatch" },
	{ OPTEE_R_INTERNAL, "internal error" },
	{ OPTEE_R_MISSING_LABEL, "no key label given" },
	{ OPTEE_R_NO_TEE_KEY, "key is not held in the TEE" },
	{ OPTEE_R_BAD_PARAM, "invalid parameter" },
	{ OPTEE_R_PRIVATE_NOT_EXPORTABLE, "private key cannot leave the TEE" },
	{ OPTEE_R_BUFFER_TOO_SMALL, "output buffer too small" },
	{ OPTEE_R_BAD_DIGEST_LENGTH, "wrong digest length" },
	{ OPTEE_R_VERIFY_FAILED, "signature verification failed" },
	{ OPTEE_R_DECRYPT_FAILED, "decryption failed" },
	{ OPTEE_R_OPENSSL_MAJOR, "provider built for another OpenSSL major version" },
	{ 0, NULL }
};

void optee_raise(const struct optee_prov *prov, const char *file, int line,
		 const char *func, int reason, const char *fmt, ...)
{
	va_list ap;

	if (prov == NULL || prov->new_error == NULL || prov->vset_error == NULL)
		return;
	prov->new_error(prov->handle);
	if (prov->set_error_debug != NULL)
		prov->set_error_debug(prov->handle, file, line, func);
	va_start(ap, fmt);
	prov->vset_error(prov->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}

static int otls_to_reason(int err)
{
	switch (err) {
	case OTLS_ERR_BAD_INPUT:
		return OPTEE_R_BAD_PARAM;
	case OTLS_ERR_NOT_FOUND:
		return OPTEE_R_KEY_NOT_FOUND;
	case OTLS_ERR_EXISTS:
		return OPTEE_R_LABEL_EXISTS;
	case OTLS_ERR_IN_USE:
		return OPTEE_R_KEY_IN_USE;
	case OTLS_ERR_DENIED:
		return OPTEE_R_DENIED;
	case OTLS_ERR_UNSUPPORTED:
		return OPTEE_R_UNSUPPORTED;
	case OTLS_ERR_TEE_UNREACHABLE:
		return OPTEE_R_TEE_UNREACHABLE;
	case OTLS_ERR_TA_NOT_INSTALLED:
		return OPTEE_R_TA_NOT_INSTALLED;
	case OTLS_ERR_TA_DEAD:
		return OPTEE_R_TA_DEAD;
	case OTLS_ERR_CORRUPT:
		return OPTEE_R_CORRUPT;
	case OTLS_ERR_NO_SPACE:
		return OPTEE_R_NO_SPACE;
	case OTLS_ERR_SHORT_BUFFER:
		return OPTEE_R_BUFFER_TOO_SMALL;
	case OTLS_ERR_PROTOCOL:
		return OPTEE_R_PROTOCOL;
	case OTLS_ERR_DECRYPT_FAILED:
		return OPTEE_R_DECRYPT_FAILED;
	}
	return OPTEE_R_INTERNAL;
}

static const char *reason_string(int reason)
{
	for (const OSSL_ITEM *i = reason_strings; i->ptr != NULL; i++)
		if ((int)i->id == reason)
			return i->ptr;
	return "";
}

void optee_raise_otls(const struct optee_prov *prov, const char *file,
		      int line, const char *func, int err, const char *label,
		      const char *what)
{
	const char *msg = otls_strerror(err);
	int reason = otls_to_reason(err);

	/* The library's sentence, unless it only repeats the reason. */
	if (msg == NULL || strcasecmp(msg, reason_string(reason)) == 0)
		msg = NULL;
	if (reason == OPTEE_R_INTERNAL || reason == OPTEE_R_PROTOCOL)
		optee_raise(prov, file, line, func, reason,
			    "%s, label \"%s\": %s (TEE result 0x%08x)", what,
			    label ? label : "", msg ? msg : "",
			    otls_last_tee_result());
	else if (msg != NULL)
		optee_raise(prov, file, line, func, reason,
			    "%s, label \"%s\": %s", what, label ? label : "",
			    msg);
	else
		optee_raise(prov, file, line, func, reason, "%s, label \"%s\"",
			    what, label ? label : "");
}

/* ---- Algorithm tables (static: OpenSSL caches what we return) -------- */

#define ALG(names, funcs) { names, OPTEE_PROPS, funcs, NULL }

static const OSSL_ALGORITHM keymgmt_algs[] = {
	ALG("EC:id-ecPublicKey:1.2.840.10045.2.1", optee_ec_keymgmt_functions),
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1",
	    optee_rsa_keymgmt_functions),
	ALG("RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10",
	    optee_rsapss_keymgmt_functions),
	ALG("ED25519:1.3.101.112", optee_ed25519_keymgmt_functions),
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM signature_algs[] = {
	ALG("ECDSA", optee_ecdsa_signature_functions),
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1",
	    optee_rsa_signature_functions),
	ALG("ED25519:1.3.101.112", optee_ed25519_signature_functions),
	{ NULL, NULL, NULL, NULL }
};

/* RSA decryption in the TA (TLS 1.2 RSA key exchange, pkeyutl). */
static const OSSL_ALGORITHM asym_cipher_algs[] = {
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1",
	    optee_rsa_asym_cipher_functions),
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM store_algs[] = {
	ALG("optee", optee_store_functions),
	{ NULL, NULL, NULL, NULL }
};

#define DEC_PROPS(in) OPTEE_PROPS ",input=" in
#define DER_REF DEC_PROPS("der") ",structure=" OPTEE_REF_STRUCTURE
#define DER_BLOB DEC_PROPS("der") ",structure=" OPTEE_BLOB_STRUCTURE
static const OSSL_ALGORITHM decoder_algs[] = {
	/*
	 * PEM "OPTEE TLS KEY" -> looked up in the TA and checked (errors are
	 * reported here, where every caller sees them) -> key info blob.
	 */
	{ "DER", DEC_PROPS("pem"), optee_pem2der_decoder_functions, NULL },
	/* Key info blob -> a reference our keymgmt loads (no TA call). */
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", DER_BLOB,
	  optee_blob2ec_decoder_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", DER_BLOB,
	  optee_blob2rsa_decoder_functions, NULL },
	{ "ED25519:1.3.101.112", DER_BLOB,
	  optee_blob2ed25519_decoder_functions, NULL },
	/* The DER body of a reference (a DER reference file). */
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", DER_REF,
	  optee_der2ec_decoder_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", DER_REF,
	  optee_der2rsa_decoder_functions, NULL },
	{ "ED25519:1.3.101.112", DER_REF,
	  optee_der2ed25519_decoder_functions, NULL },
	{ NULL, NULL, NULL, NULL }
};

/*
 * Encoders write the key reference (or, as text, a description) for a
 * private-key selection only; public keys go to the other providers'
 * encoders through export.
 * "PrivateKeyInfo" is the structure PEM_write_bio_PrivateKey asks for.
 */
#define ENC_PROPS(out) OPTEE_PROPS ",output=" out ",structure=PrivateKeyInfo"
#define TEXT_PROPS OPTEE_PROPS ",output=text"
static const OSSL_ALGORITHM encoder_algs[] = {
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", ENC_PROPS("pem"),
	  optee_ec_pem_encoder_functions, NULL },
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", ENC_PROPS("der"),
	  optee_ec_der_encoder_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", ENC_PROPS("pem"),
	  optee_rsa_pem_encoder_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", ENC_PROPS("der"),
	  optee_rsa_der_encoder_functions, NULL },
	{ "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", ENC_PROPS("pem"),
	  optee_rsapss_pem_encoder_functions, NULL },
	{ "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", ENC_PROPS("der"),
	  optee_rsapss_der_encoder_functions, NULL },
	{ "ED25519:1.3.101.112", ENC_PROPS("pem"),
	  optee_ed25519_pem_encoder_functions, NULL },
	{ "ED25519:1.3.101.112", ENC_PROPS("der"),
	  optee_ed25519_der_encoder_functions, NULL },
	/*
	 * Text (pkey -text, EVP_PKEY_print_private): the public parts, the
	 * label and the policy; never for the public-key selection.
	 */
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", TEXT_PROPS,
	  optee_text_encoder_functions, NULL },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", TEXT_PROPS,
	  optee_text_encoder_functions, NULL },
	{ "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", TEXT_PROPS,
	  optee_text_encoder_functions, NULL },
	{ "ED25519:1.3.101.112", TEXT_PROPS,
	  optee_text_encoder_functions, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *optee_query(void *provctx, int operation_id,
					 int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return signature_algs;
	case OSSL_OP_ASYM_CIPHER:
		return asym_cipher_algs;
	case OSSL_OP_STORE:
		return store_algs;
	case OSSL_OP_DECODER:
		return decoder_algs;
	case OSSL_OP_ENCODER:
		return encoder_algs;
	}
	return NULL;
}

/* ---- Provider parameters --------------------------------------------- */

static const OSSL_PARAM *optee_gettable_params(void *provctx)
{
	static const OSSL_PARAM gettable[] = {
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
		OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
		OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
		OSSL_PARAM_END
	};

	(void)provctx;
	return gettable;
}

static int optee_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	(void)provctx;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "optee-tls provider"))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, OPTEE_PROV_VERSION))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
	if (p != NULL
	    && !OSSL_PARAM_set_utf8_ptr(p, "optee-tls " OPTEE_PROV_VERSION
					   ", TA protocol "
					   OPENSSL_MSTR(OTLS_PROTOCOL_VERSION)
					   ", built with " OPENSSL_VERSION_TEXT))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, 1))
		return 0;
	return 1;
}

static const OSSL_ITEM *optee_reason_strings(void *provctx)
{
	(void)provctx;
	return reason_strings;
}

static void optee_teardown(void *provctx)
{
	struct optee_prov *prov = provctx;

	if (prov == NULL)
		return;
	OSSL_LIB_CTX_free(prov->libctx);
	OPENSSL_free(prov);
}

static const OSSL_DISPATCH optee_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))optee_teardown },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS,
	  (void (*)(void))optee_gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))optee_get_params },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))optee_query },
	{ OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
	  (void (*)(void))optee_reason_strings },
	{ 0, NULL }
};

__attribute__((visibility("default")))
int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
		       const OSSL_DISPATCH **out, void **provctx)
{
	struct optee_prov core = { .handle = handle }, *prov;
	OSSL_FUNC_core_get_params_fn *core_get_params = NULL;
	const char *core_version;
	const OSSL_DISPATCH *f;

	for (f = in; f->function_id != 0; f++) {
		switch (f->function_id) {
		case OSSL_FUNC_CORE_NEW_ERROR:
			core.new_error = OSSL_FUNC_core_new_error(f);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			core.set_error_debug = OSSL_FUNC_core_set_error_debug(f);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			core.vset_error = OSSL_FUNC_core_vset_error(f);
			break;
		case OSSL_FUNC_CORE_GET_PARAMS:
			core_get_params = OSSL_FUNC_core_get_params(f);
			break;
		}
	}
	/* Before anything else: another major version is another ABI. */
	if (!optee_version_check(handle, core_get_params, OPENSSL_VERSION_MAJOR,
				 &core_version)) {
		OPTEE_ERR(&core, OPTEE_R_OPENSSL_MAJOR,
			  "the optee provider was built for OpenSSL %d.x and "
			  "refuses to load into OpenSSL %s: rebuild it against "
			  "this OpenSSL", OPENSSL_VERSION_MAJOR,
			  core_version ? core_version : OpenSSL_version(OPENSSL_VERSION_STRING));
		return 0;
	}
	prov = OPENSSL_zalloc(sizeof(*prov));
	if (prov == NULL)
		return 0;
	*prov = core;
	/*
	 * A child library context sees the application's providers (for
	 * digests and public-key verification) and gives us core BIOs.
	 */
	prov->libctx = OSSL_LIB_CTX_new_child(handle, in);
	if (prov->libctx == NULL) {
		OPENSSL_free(prov);
		return 0;
	}
	*out = optee_dispatch;
	*provctx = prov;
	return 1;
}
