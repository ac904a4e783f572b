// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host Internal Core API: cryptographic operations (digests, asymmetric
 * signature and cipher) over OpenSSL 3. Checks, returned errors and panics
 * follow OP-TEE (libutee + core + its LibTomCrypt glue) so that TA code that
 * forgets a check fails on the host as it would on the device.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "tee_api_private.h"

#define SIM_OP_MAGIC	0x4f505231u	/* "OPR1" */

struct __TEE_OperationHandle {
	uint32_t magic;
	struct __TEE_OperationHandle *next;
	TEE_OperationInfo info;
	uint32_t alg;		/* info.algorithm with OP-TEE aliases resolved */
	uint32_t state;		/* TEE_OPERATION_STATE_* */
	TEE_ObjectHandle key;	/* the operation's own copy of the key */
	EVP_MD_CTX *md;		/* digest operations */
};

static TEE_OperationHandle live_ops;

static TEE_OperationHandle op_check(TEE_OperationHandle h)
{
	TEE_OperationHandle op;

	for (op = live_ops; op; op = op->next)
		if (op == h && op->magic == SIM_OP_MAGIC)
			return op;
	EMSG("invalid operation handle %p", (void *)h);
	TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
}

/* ---- Algorithm facts ----------------------------------------------------- */

static uint32_t resolve_alias(uint32_t alg)
{
	switch (alg) {
	case __OPTEE_ALG_ECDSA_P192:
		return TEE_ALG_ECDSA_SHA1;
	case __OPTEE_ALG_ECDSA_P224:
		return TEE_ALG_ECDSA_SHA224;
	case __OPTEE_ALG_ECDSA_P256:
		return TEE_ALG_ECDSA_SHA256;
	case __OPTEE_ALG_ECDSA_P384:
		return TEE_ALG_ECDSA_SHA384;
	case __OPTEE_ALG_ECDSA_P521:
		return TEE_ALG_ECDSA_SHA512;
	default:
		return alg;
	}
}

static bool is_ecdsa(uint32_t alg)
{
	return alg >= TEE_ALG_ECDSA_SHA1 && alg <= TEE_ALG_ECDSA_SHA512 &&
	       (alg & 0xFFFF0FFF) == 0x70000042;
}

static bool is_rsassa(uint32_t alg)
{
	switch (alg) {
	case TEE_ALG_RSASSA_PKCS1_V1_5:
	case TEE_ALG_RSASSA_PKCS1_V1_5_SHA1:
	case TEE_ALG_RSASSA_PKCS1_V1_5_SHA224:
	case TEE_ALG_RSASSA_PKCS1_V1_5_SHA256:
	case TEE_ALG_RSASSA_PKCS1_V1_5_SHA384:
	case TEE_ALG_RSASSA_PKCS1_V1_5_SHA512:
	case TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA1:
	case TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA224:
	case TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256:
	case TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA384:
	case TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA512:
		return true;
	default:
		return false;
	}
}

static bool is_pss(uint32_t alg)
{
	return is_rsassa(alg) && ((alg >> 8) & 0xF) == 0x9;
}

static bool is_rsaes(uint32_t alg)
{
	switch (alg) {
	case TEE_ALG_RSAES_PKCS1_V1_5:
	case TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA1:
	case TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA224:
	case TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA256:
	case TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA384:
	case TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA512:
		return true;
	default:
		return false;
	}
}

static bool is_digest(uint32_t alg)
{
	return alg >= TEE_ALG_SHA1 && alg <= TEE_ALG_SHA512;
}

/* GP hash numbering (bits 15:12 of signatures, 23:20 of OAEP, 3:0 of
 * digests): 2 SHA-1 ... 6 SHA-512. */
static const EVP_MD *md_of_hash_id(uint32_t id)
{
	switch (id) {
	case 2:
		return EVP_sha1();
	case 3:
		return EVP_sha224();
	case 4:
		return EVP_sha256();
	case 5:
		return EVP_sha384();
	case 6:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static const EVP_MD *md_of_alg(uint32_t alg)
{
	if (is_digest(alg))
		return md_of_hash_id(alg & 0xF);
	if (is_rsaes(alg))
		return md_of_hash_id((alg >> 20) & 0x7);
	return md_of_hash_id((alg >> 12) & 0xF);
}

static uint32_t digest_length(uint32_t alg)
{
	const EVP_MD *md;

	if (!is_digest(alg) && !is_ecdsa(alg))
		return 0;
	md = md_of_alg(alg);
	return md ? (uint32_t)EVP_MD_get_size(md) : 0;
}

/* The ECDSA algorithm OP-TEE pairs with each curve. */
static uint32_t ecdsa_alg_of_curve(uint32_t curve)
{
	switch (curve) {
	case TEE_ECC_CURVE_NIST_P192:
		return TEE_ALG_ECDSA_SHA1;
	case TEE_ECC_CURVE_NIST_P224:
		return TEE_ALG_ECDSA_SHA224;
	case TEE_ECC_CURVE_NIST_P256:
		return TEE_ALG_ECDSA_SHA256;
	case TEE_ECC_CURVE_NIST_P384:
		return TEE_ALG_ECDSA_SHA384;
	case TEE_ECC_CURVE_NIST_P521:
		return TEE_ALG_ECDSA_SHA512;
	default:
		return 0;
	}
}

/* ---- Generic operation functions --------------------------------------- */

TEE_Result TEE_AllocateOperation(TEE_OperationHandle *operation,
				 uint32_t algorithm, uint32_t mode,
				 uint32_t maxKeySize)
{
	uint32_t alg = resolve_alias(algorithm);
	uint32_t usage = 0, cls, key_type = 0, handle_state = 0;
	bool private_key = false;
	TEE_OperationHandle op;
	TEE_Result res;

	if (!operation)
		TEE_Panic(0);

	/* Curve-bound algorithms take exactly their curve's size. */
	if (is_ecdsa(alg)) {
		static const uint32_t bits[] = { 192, 224, 256, 384, 521 };

		if (maxKeySize != bits[((alg >> 12) & 0xF) - 1])
			return TEE_ERROR_NOT_SUPPORTED;
	} else if (alg == TEE_ALG_ED25519 && maxKeySize != 256) {
		return TEE_ERROR_NOT_SUPPORTED;
	}

	/* libutee knows this OP-TEE extension only with
	 * CFG_CRYPTO_RSASSA_NA1, which an mbedTLS core forces off. */
	if (alg == TEE_ALG_RSASSA_PKCS1_V1_5 && sim_api.core_mbedtls)
		return TEE_ERROR_NOT_SUPPORTED;

	if (is_ecdsa(alg) || is_rsassa(alg) || alg == TEE_ALG_ED25519) {
		cls = TEE_OPERATION_ASYMMETRIC_SIGNATURE;
		if (mode == TEE_MODE_SIGN) {
			private_key = true;
			usage = TEE_USAGE_SIGN;
		} else if (mode == TEE_MODE_VERIFY) {
			usage = TEE_USAGE_VERIFY;
		} else {
			return TEE_ERROR_NOT_SUPPORTED;
		}
	} else if (is_rsaes(alg) || alg == TEE_ALG_RSA_NOPAD) {
		bool nopad = alg == TEE_ALG_RSA_NOPAD;

		cls = TEE_OPERATION_ASYMMETRIC_CIPHER;
		if (mode == TEE_MODE_ENCRYPT) {
			usage = TEE_USAGE_ENCRYPT | (nopad ? TEE_USAGE_VERIFY : 0);
		} else if (mode == TEE_MODE_DECRYPT) {
			private_key = true;
			usage = TEE_USAGE_DECRYPT | (nopad ? TEE_USAGE_SIGN : 0);
		} else {
			return TEE_ERROR_NOT_SUPPORTED;
		}
	} else if (is_digest(alg)) {
		cls = TEE_OPERATION_DIGEST;
		if (mode != TEE_MODE_DIGEST)
			return TEE_ERROR_NOT_SUPPORTED;
		handle_state = TEE_HANDLE_FLAG_KEY_SET |
			       TEE_HANDLE_FLAG_INITIALIZED;
	} else {
		return TEE_ERROR_NOT_SUPPORTED;
	}

	op = calloc(1, sizeof(*op));
	if (!op)
		return TEE_ERROR_OUT_OF_MEMORY;
	op->alg = alg;
	op->info = (TEE_OperationInfo){
		.algorithm = algorithm,
		.operationClass = cls,
		.mode = mode,
		.digestLength = digest_length(alg),
		.maxKeySize = maxKeySize,
		.requiredKeyUsage = usage,
		.handleState = handle_state,
	};
	if (cls == TEE_OPERATION_DIGEST) {
		op->md = EVP_MD_CTX_new();
		if (!op->md || !EVP_DigestInit_ex(op->md, md_of_alg(alg), NULL)) {
			EVP_MD_CTX_free(op->md);
			free(op);
			return TEE_ERROR_OUT_OF_MEMORY;
		}
	} else {
		/* Key object of the algorithm's type: validates maxKeySize. */
		key_type = 0xA0000000u | (alg == TEE_ALG_ED25519 ? 0x43 :
					  is_ecdsa(alg) ? 0x41 : 0x30);
		if (private_key)
			key_type |= 0x01000000u;
		res = TEE_AllocateTransientObject(key_type, maxKeySize,
						  &op->key);
		if (res != TEE_SUCCESS) {
			free(op);
			return res;
		}
	}
	op->magic = SIM_OP_MAGIC;
	op->next = live_ops;
	live_ops = op;
	*operation = op;
	return TEE_SUCCESS;
}

void TEE_FreeOperation(TEE_OperationHandle operation)
{
	TEE_OperationHandle *pp;
	TEE_OperationHandle op;

	if (operation == TEE_HANDLE_NULL)
		return;
	op = op_check(operation);
	for (pp = &live_ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	if (op->key)
		sim_obj_destroy(op->key);
	EVP_MD_CTX_free(op->md);
	op->magic = 0;
	free(op);
}

void TEE_GetOperationInfo(TEE_OperationHandle operation,
			  TEE_OperationInfo *operationInfo)
{
	TEE_OperationHandle op = op_check(operation);

	if (!operationInfo)
		TEE_Panic(0);
	*operationInfo = op->info;
}

static void reset_state(TEE_OperationHandle op)
{
	op->state = TEE_OPERATION_STATE_INITIAL;
	if (op->md) {
		if (!EVP_DigestInit_ex(op->md, NULL, NULL))
			TEE_Panic(TEE_ERROR_GENERIC);
		op->info.handleState |= TEE_HANDLE_FLAG_INITIALIZED;
	} else {
		op->info.handleState &= ~TEE_HANDLE_FLAG_INITIALIZED;
	}
}

void TEE_ResetOperation(TEE_OperationHandle operation)
{
	TEE_OperationHandle op = op_check(operation);

	if (!(op->info.handleState & TEE_HANDLE_FLAG_KEY_SET))
		TEE_Panic(0);
	reset_state(op);
}

TEE_Result TEE_SetOperationKey(TEE_OperationHandle operation,
			       TEE_ObjectHandle key)
{
	TEE_OperationHandle op = op_check(operation);
	TEE_ObjectHandle k;
	TEE_Result res;

	/* Digest operations are always "initialized": no key for them. */
	if (op->info.handleState & TEE_HANDLE_FLAG_INITIALIZED)
		TEE_Panic(0);
	if (key == TEE_HANDLE_NULL) {
		TEE_ResetTransientObject(op->key);
		op->info.handleState &= ~TEE_HANDLE_FLAG_KEY_SET;
		op->info.keySize = 0;
		return TEE_SUCCESS;
	}
	k = sim_obj_check(key);
	if ((k->usage & op->info.requiredKeyUsage) != op->info.requiredKeyUsage) {
		EMSG("key usage 0x%08" PRIx32 " lacks 0x%08" PRIx32,
		     k->usage, op->info.requiredKeyUsage);
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}
	if (k->size > op->info.maxKeySize) {
		EMSG("key size %" PRIu32 " > operation max %" PRIu32,
		     k->size, op->info.maxKeySize);
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}
	TEE_ResetTransientObject(op->key);
	op->info.handleState &= ~TEE_HANDLE_FLAG_KEY_SET;
	/* Key type must fit: same type, or a keypair for a public op. */
	res = sim_obj_copy_key(op->key, k);
	if (res != TEE_SUCCESS) {
		EMSG("key type 0x%08" PRIx32 " does not fit algorithm 0x%08" PRIx32,
		     k->type, op->info.algorithm);
		TEE_Panic(res);
	}
	op->info.handleState |= TEE_HANDLE_FLAG_KEY_SET;
	op->info.keySize = k->size;
	if (op->state != TEE_OPERATION_STATE_INITIAL)
		reset_state(op);
	return TEE_SUCCESS;
}

TEE_Result TEE_IsAlgorithmSupported(uint32_t algId, uint32_t element)
{
	uint32_t alg = resolve_alias(algId);

	if (is_ecdsa(alg))
		return ecdsa_alg_of_curve(element) == alg ? TEE_SUCCESS :
							    TEE_ERROR_NOT_SUPPORTED;
	if (element != TEE_CRYPTO_ELEMENT_NONE)
		return TEE_ERROR_NOT_SUPPORTED;
	if (alg == TEE_ALG_RSASSA_PKCS1_V1_5 && sim_api.core_mbedtls)
		return TEE_ERROR_NOT_SUPPORTED;
	if (is_rsassa(alg) || is_rsaes(alg) || alg == TEE_ALG_RSA_NOPAD ||
	    alg == TEE_ALG_ED25519 || is_digest(alg))
		return TEE_SUCCESS;
	return TEE_ERROR_NOT_SUPPORTED;
}

/* ---- Digests ------------------------------------------------------------- */

static TEE_OperationHandle check_digest(TEE_OperationHandle operation)
{
	TEE_OperationHandle op = op_check(operation);

	if (op->info.operationClass != TEE_OPERATION_DIGEST)
		TEE_Panic(0);
	return op;
}

void TEE_DigestUpdate(TEE_OperationHandle operation, const void *chunk,
		      size_t chunkSize)
{
	TEE_OperationHandle op = check_digest(operation);

	if (chunkSize && !chunk)
		TEE_Panic(0);
	op->state = TEE_OPERATION_STATE_ACTIVE;
	if (chunkSize && !EVP_DigestUpdate(op->md, chunk, chunkSize))
		TEE_Panic(TEE_ERROR_GENERIC);
}

TEE_Result TEE_DigestDoFinal(TEE_OperationHandle operation, const void *chunk,
			     size_t chunkLen, void *hash, size_t *hashLen)
{
	TEE_OperationHandle op;
	unsigned int len = 0;

	if (operation == TEE_HANDLE_NULL || (chunkLen && !chunk) || !hashLen)
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	op = check_digest(operation);
	if (!hash || *hashLen < op->info.digestLength) {
		*hashLen = op->info.digestLength;
		return TEE_ERROR_SHORT_BUFFER;
	}
	if ((chunkLen && !EVP_DigestUpdate(op->md, chunk, chunkLen)) ||
	    !EVP_DigestFinal_ex(op->md, hash, &len))
		TEE_Panic(TEE_ERROR_GENERIC);
	*hashLen = len;
	reset_state(op);
	return TEE_SUCCESS;
}

/* ---- Asymmetric helpers ---------------------------------------------------- */

static const TEE_Attribute *find_attr(const TEE_Attribute *params,
				      uint32_t count, uint32_t id)
{
	uint32_t n;

	for (n = 0; n < count; n++)
		if (params[n].attributeID == id)
			return &params[n];
	return NULL;
}

static TEE_OperationHandle check_asym(TEE_OperationHandle operation,
				      uint32_t cls, uint32_t mode,
				      const TEE_Attribute *params,
				      uint32_t count)
{
	TEE_OperationHandle op;

	if (operation == TEE_HANDLE_NULL || (count && !params))
		TEE_Panic(0);
	op = op_check(operation);
	if (!(op->info.handleState & TEE_HANDLE_FLAG_KEY_SET) ||
	    op->info.operationClass != cls || op->info.mode != mode)
		TEE_Panic(0);
	return op;
}

static EVP_PKEY_CTX *pkey_ctx(TEE_OperationHandle op)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, op->key->pkey,
						       NULL);

	if (!ctx)
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	return ctx;
}

/* Where the bytes come from doesn't matter for empty inputs, but OpenSSL
 * wants a pointer. */
static const uint8_t *nonnull(const void *p)
{
	static const uint8_t empty[1];

	return p ? p : empty;
}

/* RSA signature parameters; false means OP-TEE would reject (and panic). */
static bool rsassa_setup(TEE_OperationHandle op, EVP_PKEY_CTX *ctx,
			 const TEE_Attribute *params, uint32_t count,
			 size_t digest_len)
{
	const EVP_MD *md = md_of_alg(op->alg);
	const TEE_Attribute *salt;
	int salt_len;

	if (op->alg == TEE_ALG_RSASSA_PKCS1_V1_5)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0;
	/* Hashed variants take exactly the named hash. */
	if (!md || digest_len != (size_t)EVP_MD_get_size(md)) {
		EMSG("digest length %zu does not fit algorithm 0x%08" PRIx32,
		     digest_len, op->info.algorithm);
		return false;
	}
	if (!is_pss(op->alg))
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
		       EVP_PKEY_CTX_set_signature_md(ctx, md) > 0;
	salt = find_attr(params, count, TEE_ATTR_RSA_PSS_SALT_LENGTH);
	salt_len = salt && salt->content.value.a < INT_MAX ?
		   (int)salt->content.value.a : (int)digest_len;
	return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	       EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0 &&
	       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt_len) > 0;
}

/* Ed25519 options OP-TEE understands; only plain Ed25519 is simulated. */
static TEE_Result ed25519_params(const TEE_Attribute *params, uint32_t count)
{
	bool ph = false;
	size_t ctx_len = 0;
	uint32_t n;

	for (n = 0; n < count; n++) {
		if (params[n].attributeID == TEE_ATTR_EDDSA_PREHASH) {
			if (params[n].content.value.b ||
			    params[n].content.value.a > 1)
				return TEE_ERROR_BAD_PARAMETERS;
			ph = params[n].content.value.a == 1;
		} else if (params[n].attributeID == TEE_ATTR_EDDSA_CTX) {
			ctx_len = params[n].content.ref.length;
			if (ctx_len > 255)
				return TEE_ERROR_BAD_PARAMETERS;
		} else {
			return TEE_ERROR_BAD_PARAMETERS;
		}
	}
	if (ph || ctx_len) {
		EMSG("Ed25519ph/Ed25519ctx are not simulated");
		return TEE_ERROR_NOT_SUPPORTED;
	}
	return TEE_SUCCESS;
}

static void ecdsa_check_curve(TEE_OperationHandle op)
{
	if (ecdsa_alg_of_curve(op->key->curve) != op->alg) {
		EMSG("algorithm 0x%08" PRIx32 " does not fit the key's curve",
		     op->info.algorithm);
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}
}

/* ---- Sign / verify -------------------------------------------------------- */

static TEE_Result sign_ecdsa(TEE_OperationHandle op, const void *digest,
			     size_t digest_len, void *sig, size_t *sig_len)
{
	size_t n = sim_curve_bytes(op->key->curve);
	uint8_t der[160];
	size_t der_len = sizeof(der);
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es;
	EVP_PKEY_CTX *ctx;
	int ok;

	ecdsa_check_curve(op);
	if (*sig_len < 2 * n) {
		*sig_len = 2 * n;
		return TEE_ERROR_SHORT_BUFFER;
	}
	/* No digest set: OpenSSL takes any length and truncates to the
	 * order, as OP-TEE's LibTomCrypt glue does. */
	ctx = pkey_ctx(op);
	ok = EVP_PKEY_sign_init(ctx) > 0 &&
	     EVP_PKEY_sign(ctx, der, &der_len, nonnull(digest), digest_len) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return TEE_ERROR_GENERIC;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!es)
		return TEE_ERROR_GENERIC;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, sig, (int)n) == (int)n &&
	     BN_bn2binpad(s, (uint8_t *)sig + n, (int)n) == (int)n;
	ECDSA_SIG_free(es);
	if (!ok)
		return TEE_ERROR_GENERIC;
	*sig_len = 2 * n;
	return TEE_SUCCESS;
}

static TEE_Result sign_rsa(TEE_OperationHandle op, const TEE_Attribute *params,
			   uint32_t count, const void *digest,
			   size_t digest_len, void *sig, size_t *sig_len)
{
	size_t k = (size_t)EVP_PKEY_get_size(op->key->pkey);
	size_t len = k;
	EVP_PKEY_CTX *ctx = pkey_ctx(op);
	TEE_Result res = TEE_ERROR_BAD_PARAMETERS;

	if (EVP_PKEY_sign_init(ctx) <= 0 ||
	    !rsassa_setup(op, ctx, params, count, digest_len))
		goto out;
	if (*sig_len < k) {
		*sig_len = k;
		res = TEE_ERROR_SHORT_BUFFER;
		goto out;
	}
	/* Fails on a salt or DigestInfo too long for the modulus. */
	if (EVP_PKEY_sign(ctx, sig, &len, nonnull(digest), digest_len) <= 0) {
		EMSG("RSA signature failed (input or salt too long?)");
		goto out;
	}
	*sig_len = len;
	res = TEE_SUCCESS;
out:
	EVP_PKEY_CTX_free(ctx);
	return res;
}

static TEE_Result sign_ed25519(TEE_OperationHandle op,
			       const TEE_Attribute *params, uint32_t count,
			       const void *msg, size_t msg_len, void *sig,
			       size_t *sig_len)
{
	EVP_MD_CTX *md;
	size_t len = 64;
	TEE_Result res = ed25519_params(params, count);
	int ok;

	if (res != TEE_SUCCESS)
		return res;
	if (*sig_len < 64) {
		*sig_len = 64;
		return TEE_ERROR_SHORT_BUFFER;
	}
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL,
					 op->key->pkey, NULL) > 0 &&
	     EVP_DigestSign(md, sig, &len, nonnull(msg), msg_len) > 0;
	EVP_MD_CTX_free(md);
	if (!ok)
		return TEE_ERROR_GENERIC;
	*sig_len = len;
	return TEE_SUCCESS;
}

TEE_Result TEE_AsymmetricSignDigest(TEE_OperationHandle operation,
				    const TEE_Attribute *params,
				    uint32_t paramCount, const void *digest,
				    size_t digestLen, void *signature,
				    size_t *signatureLen)
{
	TEE_OperationHandle op;
	TEE_Result res;

	if (operation == TEE_HANDLE_NULL || (digestLen && !digest) ||
	    !signatureLen)
		TEE_Panic(0);
	op = check_asym(operation, TEE_OPERATION_ASYMMETRIC_SIGNATURE,
			TEE_MODE_SIGN, params, paramCount);
	if (is_ecdsa(op->alg))
		res = sign_ecdsa(op, digest, digestLen, signature, signatureLen);
	else if (op->alg == TEE_ALG_ED25519)
		res = sign_ed25519(op, params, paramCount, digest, digestLen,
				   signature, signatureLen);
	else
		res = sign_rsa(op, params, paramCount, digest, digestLen,
			       signature, signatureLen);
	ERR_clear_error();
	/* OP-TEE: anything but success or a short buffer is a panic. */
	if (res != TEE_SUCCESS && res != TEE_ERROR_SHORT_BUFFER)
		TEE_Panic(res);
	return res;
}

static TEE_Result verify_ecdsa(TEE_OperationHandle op, const void *digest,
			       size_t digest_len, const void *sig,
			       size_t sig_len)
{
	size_t n = sim_curve_bytes(op->key->curve);
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *der = NULL;
	EVP_PKEY_CTX *ctx;
	int der_len, ok;

	ecdsa_check_curve(op);
	if (sig_len != 2 * n)
		return TEE_ERROR_BAD_PARAMETERS;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)n, NULL);
	s = BN_bin2bn((const uint8_t *)sig + n, (int)n, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		ECDSA_SIG_free(es);
		BN_free(r);
		BN_free(s);
		return TEE_ERROR_OUT_OF_MEMORY;
	}
	der_len = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (der_len <= 0)
		return TEE_ERROR_OUT_OF_MEMORY;
	ctx = pkey_ctx(op);
	ok = EVP_PKEY_verify_init(ctx) > 0 &&
	     EVP_PKEY_verify(ctx, der, (size_t)der_len, nonnull(digest),
			     digest_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	return ok ? TEE_SUCCESS : TEE_ERROR_SIGNATURE_INVALID;
}

static TEE_Result verify_rsa(TEE_OperationHandle op,
			     const TEE_Attribute *params, uint32_t count,
			     const void *digest, size_t digest_len,
			     const void *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = pkey_ctx(op);
	TEE_Result res = TEE_ERROR_BAD_PARAMETERS;

	if (EVP_PKEY_verify_init(ctx) <= 0 ||
	    !rsassa_setup(op, ctx, params, count, digest_len))
		goto out;
	res = EVP_PKEY_verify(ctx, nonnull(sig), sig_len, nonnull(digest),
			      digest_len) == 1 ?
	      TEE_SUCCESS : TEE_ERROR_SIGNATURE_INVALID;
out:
	EVP_PKEY_CTX_free(ctx);
	return res;
}

static TEE_Result verify_ed25519(TEE_OperationHandle op,
				 const TEE_Attribute *params, uint32_t count,
				 const void *msg, size_t msg_len,
				 const void *sig, size_t sig_len)
{
	TEE_Result res = ed25519_params(params, count);
	EVP_MD_CTX *md;
	int ok;

	if (res != TEE_SUCCESS)
		return res;
	md = EVP_MD_CTX_new();
	if (!md)
		return TEE_ERROR_OUT_OF_MEMORY;
	ok = EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL,
				     op->key->pkey, NULL) > 0 &&
	     EVP_DigestVerify(md, nonnull(sig), sig_len, nonnull(msg),
			      msg_len) == 1;
	EVP_MD_CTX_free(md);
	return ok ? TEE_SUCCESS : TEE_ERROR_SIGNATURE_INVALID;
}

TEE_Result TEE_AsymmetricVerifyDigest(TEE_OperationHandle operation,
				      const TEE_Attribute *params,
				      uint32_t paramCount, const void *digest,
				      size_t digestLen, const void *signature,
				      size_t signatureLen)
{
	TEE_OperationHandle op;
	TEE_Result res;

	if (operation == TEE_HANDLE_NULL || (digestLen && !digest) ||
	    (signatureLen && !signature))
		TEE_Panic(0);
	op = check_asym(operation, TEE_OPERATION_ASYMMETRIC_SIGNATURE,
			TEE_MODE_VERIFY, params, paramCount);
	if (is_ecdsa(op->alg))
		res = verify_ecdsa(op, digest, digestLen, signature,
				   signatureLen);
	else if (op->alg == TEE_ALG_ED25519)
		res = verify_ed25519(op, params, paramCount, digest, digestLen,
				     signature, signatureLen);
	else
		res = verify_rsa(op, params, paramCount, digest, digestLen,
				 signature, signatureLen);
	ERR_clear_error();
	if (res != TEE_SUCCESS && res != TEE_ERROR_SIGNATURE_INVALID)
		TEE_Panic(res);
	return res;
}

/* ---- Encrypt / decrypt ---------------------------------------------------- */

static TEE_Result rsaes_setup(TEE_OperationHandle op, EVP_PKEY_CTX *ctx,
			      const TEE_Attribute *params, uint32_t count)
{
	const TEE_Attribute *label, *mgf;
	const EVP_MD *md, *mgf_md;

	if (op->alg == TEE_ALG_RSAES_PKCS1_V1_5) {
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
			return TEE_ERROR_GENERIC;
		/* Plain errors on bad padding, as OP-TEE (OpenSSL >= 3.2
		 * would otherwise return a synthetic message). */
		EVP_PKEY_CTX_ctrl_str(ctx, "rsa_pkcs1_implicit_rejection", "0");
		return TEE_SUCCESS;
	}
	md = md_of_alg(op->alg);
	mgf_md = md;
	mgf = find_attr(params, count, TEE_ATTR_RSA_OAEP_MGF_HASH);
	if (mgf) {
		uint32_t mgf_alg;

		if (mgf->content.ref.length != sizeof(mgf_alg))
			return TEE_ERROR_BAD_PARAMETERS;
		memcpy(&mgf_alg, mgf->content.ref.buffer, sizeof(mgf_alg));
		mgf_md = is_digest(mgf_alg) ? md_of_alg(mgf_alg) : NULL;
		if (!mgf_md)
			return TEE_ERROR_NOT_SUPPORTED;
	}
	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf_md) <= 0)
		return TEE_ERROR_GENERIC;
	label = find_attr(params, count, TEE_ATTR_RSA_OAEP_LABEL);
	if (label && label->content.ref.length) {
		void *l = OPENSSL_memdup(label->content.ref.buffer,
					 label->content.ref.length);

		if (!l || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l,
				(int)label->content.ref.length) <= 0) {
			OPENSSL_free(l);
			return TEE_ERROR_GENERIC;
		}
	}
	return TEE_SUCCESS;
}

/* Raw RSA both ways; the result loses its leading zero bytes as on OP-TEE. */
static TEE_Result rsa_nopad(TEE_OperationHandle op, bool decrypt,
			    const void *src, size_t src_len, void *dst,
			    size_t *dst_len)
{
	size_t k = (size_t)EVP_PKEY_get_size(op->key->pkey);
	uint8_t *in = calloc(1, k), *out = calloc(1, k);
	size_t out_len = k, off = 0;
	EVP_PKEY_CTX *ctx = pkey_ctx(op);
	TEE_Result res = TEE_ERROR_BAD_PARAMETERS;
	int ok;

	if (!in || !out) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	if (src_len > k)
		goto out;
	memcpy(in + k - src_len, src, src_len);
	ok = decrypt ? EVP_PKEY_decrypt_init(ctx) > 0 &&
		       EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0 &&
		       EVP_PKEY_decrypt(ctx, out, &out_len, in, k) > 0 :
		       EVP_PKEY_encrypt_init(ctx) > 0 &&
		       EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0 &&
		       EVP_PKEY_encrypt(ctx, out, &out_len, in, k) > 0;
	if (!ok)
		goto out;	/* input not below the modulus */
	while (off + 1 < out_len && !out[off])
		off++;
	if (!dst || *dst_len < out_len - off) {
		*dst_len = out_len - off;
		res = TEE_ERROR_SHORT_BUFFER;
		goto out;
	}
	memcpy(dst, out + off, out_len - off);
	*dst_len = out_len - off;
	res = TEE_SUCCESS;
out:
	EVP_PKEY_CTX_free(ctx);
	sim_free_secret(in, k);
	sim_free_secret(out, k);
	return res;
}

static TEE_OperationHandle check_asym_cipher(TEE_OperationHandle operation,
					     uint32_t mode,
					     const TEE_Attribute *params,
					     uint32_t count, const void *src,
					     size_t src_len,
					     const size_t *dst_len)
{
	if (operation == TEE_HANDLE_NULL || (src_len && !src) || !dst_len)
		TEE_Panic(0);
	return check_asym(operation, TEE_OPERATION_ASYMMETRIC_CIPHER, mode,
			  params, count);
}

/* OP-TEE: any result but these is a panic. */
static TEE_Result asym_cipher_result(TEE_Result res)
{
	ERR_clear_error();
	if (res != TEE_SUCCESS && res != TEE_ERROR_SHORT_BUFFER &&
	    res != TEE_ERROR_BAD_PARAMETERS &&
	    res != TEE_ERROR_CIPHERTEXT_INVALID &&
	    res != TEE_ERROR_NOT_SUPPORTED)
		TEE_Panic(res);
	return res;
}

TEE_Result TEE_AsymmetricEncrypt(TEE_OperationHandle operation,
				 const TEE_Attribute *params,
				 uint32_t paramCount, const void *srcData,
				 size_t srcLen, void *destData,
				 size_t *destLen)
{
	TEE_OperationHandle op;
	EVP_PKEY_CTX *ctx;
	size_t k, len;
	TEE_Result res;

	op = check_asym_cipher(operation, TEE_MODE_ENCRYPT, params, paramCount,
			       srcData, srcLen, destLen);
	if (op->alg == TEE_ALG_RSA_NOPAD) {
		res = rsa_nopad(op, false, srcData, srcLen, destData, destLen);
		goto out;
	}
	k = (size_t)EVP_PKEY_get_size(op->key->pkey);
	if (!destData || *destLen < k) {
		*destLen = k;
		return TEE_ERROR_SHORT_BUFFER;
	}
	ctx = pkey_ctx(op);
	res = EVP_PKEY_encrypt_init(ctx) > 0 ? rsaes_setup(op, ctx, params,
							   paramCount) :
					       TEE_ERROR_GENERIC;
	len = k;
	if (res == TEE_SUCCESS &&
	    EVP_PKEY_encrypt(ctx, destData, &len, nonnull(srcData), srcLen) <= 0)
		res = TEE_ERROR_BAD_PARAMETERS;	/* message too long */
	if (res == TEE_SUCCESS)
		*destLen = len;
	EVP_PKEY_CTX_free(ctx);
out:
	return asym_cipher_result(res);
}

TEE_Result TEE_AsymmetricDecrypt(TEE_OperationHandle operation,
				 const TEE_Attribute *params,
				 uint32_t paramCount, const void *srcData,
				 size_t srcLen, void *destData,
				 size_t *destLen)
{
	TEE_OperationHandle op;
	EVP_PKEY_CTX *ctx;
	uint8_t *tmp = NULL;
	size_t k, len;
	TEE_Result res;

	op = check_asym_cipher(operation, TEE_MODE_DECRYPT, params, paramCount,
			       srcData, srcLen, destLen);
	if (op->alg == TEE_ALG_RSA_NOPAD) {
		res = rsa_nopad(op, true, srcData, srcLen, destData, destLen);
		goto out;
	}
	k = (size_t)EVP_PKEY_get_size(op->key->pkey);
	if (srcLen != k) {
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	tmp = malloc(k);
	if (!tmp) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	/* Decrypt first: the size needed is the plaintext's. */
	ctx = pkey_ctx(op);
	res = EVP_PKEY_decrypt_init(ctx) > 0 ? rsaes_setup(op, ctx, params,
							   paramCount) :
					       TEE_ERROR_GENERIC;
	len = k;
	if (res == TEE_SUCCESS &&
	    EVP_PKEY_decrypt(ctx, tmp, &len, srcData, srcLen) <= 0)
		res = TEE_ERROR_BAD_PARAMETERS;	/* bad padding */
	EVP_PKEY_CTX_free(ctx);
	if (res == TEE_SUCCESS) {
		if (!destData || *destLen < len) {
			res = TEE_ERROR_SHORT_BUFFER;
		} else {
			memcpy(destData, tmp, len);
		}
		*destLen = len;
	}
	sim_free_secret(tmp, k);
out:
	return asym_cipher_result(res);
}
