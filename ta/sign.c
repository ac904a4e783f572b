// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA: signatures and RSA decryption with stored keys.
 *
 * TEE_AsymmetricSignDigest() panics the TA on any failure other than a
 * short buffer, so every input is checked here first: algorithm against
 * key type and policy, input lengths against what the algorithm accepts,
 * PSS salt against the modulus, output room against the signature size.
 * Inputs are copied into TA memory before use, so the normal world cannot
 * change them halfway through an operation.
 */
#include <string.h>
#include <tee_internal_api_extensions.h>	/* TEE_ALG_RSASSA_PKCS1_V1_5 */
#include "ta_internal.h"

#define ED25519_SIG_SIZE	64
#define ECDSA_MIN_DIGEST	20
#define PKCS1_V15_OVERHEAD	11

enum alg_kind {
	KIND_ECDSA,
	KIND_PKCS1,
	KIND_DIGESTINFO,
	KIND_PSS,
	KIND_ED25519,
	KIND_DECRYPT,
};

struct alg_desc {
	uint32_t id;		/* OTLS_ALG_* */
	uint32_t kind;		/* enum alg_kind */
	uint32_t key_type;	/* OTLS_KEY_* */
	uint32_t allow;		/* OTLS_ALLOW_* bit the policy must have */
	uint32_t tee_alg;	/* 0: depends on the key (ECDSA) */
	uint32_t hash_len;	/* digest length, 0 if not fixed */
};

static const struct alg_desc algs[] = {
	{ OTLS_ALG_ECDSA, KIND_ECDSA, OTLS_KEY_EC, OTLS_ALLOW_ECDSA, 0, 0 },
	{ OTLS_ALG_RSA_PKCS1_SHA256, KIND_PKCS1, OTLS_KEY_RSA,
	  OTLS_ALLOW_RSA_PKCS1, TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, 32 },
	{ OTLS_ALG_RSA_PKCS1_SHA384, KIND_PKCS1, OTLS_KEY_RSA,
	  OTLS_ALLOW_RSA_PKCS1, TEE_ALG_RSASSA_PKCS1_V1_5_SHA384, 48 },
	{ OTLS_ALG_RSA_PKCS1_SHA512, KIND_PKCS1, OTLS_KEY_RSA,
	  OTLS_ALLOW_RSA_PKCS1, TEE_ALG_RSASSA_PKCS1_V1_5_SHA512, 64 },
	/* tee_alg chosen from the DigestInfo (see digestinfo_alg()). */
	{ OTLS_ALG_RSA_PKCS1_DIGESTINFO, KIND_DIGESTINFO, OTLS_KEY_RSA,
	  OTLS_ALLOW_RSA_PKCS1_DIGESTINFO, 0, 0 },
	{ OTLS_ALG_RSA_PSS_SHA256, KIND_PSS, OTLS_KEY_RSA, OTLS_ALLOW_RSA_PSS,
	  TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256, 32 },
	{ OTLS_ALG_RSA_PSS_SHA384, KIND_PSS, OTLS_KEY_RSA, OTLS_ALLOW_RSA_PSS,
	  TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA384, 48 },
	{ OTLS_ALG_RSA_PSS_SHA512, KIND_PSS, OTLS_KEY_RSA, OTLS_ALLOW_RSA_PSS,
	  TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA512, 64 },
	{ OTLS_ALG_ED25519, KIND_ED25519, OTLS_KEY_ED25519,
	  OTLS_ALLOW_ED25519, TEE_ALG_ED25519, 0 },
	{ OTLS_ALG_RSA_DECRYPT_PKCS1, KIND_DECRYPT, OTLS_KEY_RSA,
	  OTLS_ALLOW_DECRYPT_PKCS1, TEE_ALG_RSAES_PKCS1_V1_5, 0 },
	{ OTLS_ALG_RSA_DECRYPT_OAEP_SHA1, KIND_DECRYPT, OTLS_KEY_RSA,
	  OTLS_ALLOW_DECRYPT_OAEP, TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA1, 20 },
	{ OTLS_ALG_RSA_DECRYPT_OAEP_SHA256, KIND_DECRYPT, OTLS_KEY_RSA,
	  OTLS_ALLOW_DECRYPT_OAEP, TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA256, 32 },
};

static const struct alg_desc *find_alg(uint32_t id)
{
	size_t n = 0;

	for (n = 0; n < sizeof(algs) / sizeof(algs[0]); n++)
		if (algs[n].id == id)
			return &algs[n];
	return NULL;
}

/* OP-TEE ties each ECDSA algorithm id to one curve size. */
static uint32_t ecdsa_alg(uint32_t bits)
{
#ifdef TEE_ALG_ECDSA_SHA256
	if (bits == 256)
		return TEE_ALG_ECDSA_SHA256;
	if (bits == 384)
		return TEE_ALG_ECDSA_SHA384;
	return TEE_ALG_ECDSA_SHA512;
#else
	if (bits == 256)
		return TEE_ALG_ECDSA_P256;
	if (bits == 384)
		return TEE_ALG_ECDSA_P384;
	return TEE_ALG_ECDSA_P521;
#endif
}

/*
 * DER prefixes of the DigestInfo of the SHA-1 and SHA-2 hashes GP has a
 * PKCS#1 v1.5 algorithm for (RFC 8017 9.2, note 1). A DigestInfo that is one of these
 * is signed with the per-hash algorithm over the bare digest: every OP-TEE
 * core library has those. Anything else goes to OP-TEE's raw-DigestInfo
 * extension TEE_ALG_RSASSA_PKCS1_V1_5, which only some cores implement
 * (libtomcrypt does; mbedTLS does not, CFG_CRYPTO_RSASSA_NA1=n): there
 * TEE_AllocateOperation answers TEE_ERROR_NOT_SUPPORTED, passed on as is.
 */
struct di_prefix {
	uint32_t tee_alg;
	uint8_t hash_len;
	uint8_t len;
	uint8_t der[19];
};

static const struct di_prefix di_prefixes[] = {
	{ TEE_ALG_RSASSA_PKCS1_V1_5_SHA1, 20, 15,
	  { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
	    0x05, 0x00, 0x04, 0x14 } },
	{ TEE_ALG_RSASSA_PKCS1_V1_5_SHA224, 28, 19,
	  { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c } },
	{ TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, 32, 19,
	  { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
	{ TEE_ALG_RSASSA_PKCS1_V1_5_SHA384, 48, 19,
	  { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
	{ TEE_ALG_RSASSA_PKCS1_V1_5_SHA512, 64, 19,
	  { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

/* Per-hash algorithm for a DigestInfo and the offset of its digest, or
 * the raw-DigestInfo algorithm (0 if the dev kit has none) and offset 0. */
static uint32_t digestinfo_alg(const uint8_t *di, size_t len, size_t *skip)
{
	size_t n = 0;

	for (n = 0; n < sizeof(di_prefixes) / sizeof(di_prefixes[0]); n++) {
		const struct di_prefix *p = &di_prefixes[n];

		if (len == (size_t)p->len + p->hash_len &&
		    !memcmp(di, p->der, p->len)) {
			*skip = p->len;
			return p->tee_alg;
		}
	}
	*skip = 0;
#ifdef TEE_ALG_RSASSA_PKCS1_V1_5
	return TEE_ALG_RSASSA_PKCS1_V1_5;
#else
	return 0;
#endif
}

#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
/*
 * The signature with a TA-held key (mbedTLS backend), into s->out. in is
 * the private copy of the whole input (ECDSA: not truncated, mbedTLS
 * takes the leftmost bits itself).
 */
static TEE_Result tk_sign(struct otls_session *s, struct otls_slot *slot,
			  const struct alg_desc *alg, size_t in_len,
			  uint32_t salt, size_t sig_len)
{
	size_t n = 0;

	switch (alg->kind) {
	case KIND_ECDSA:
		return otls_tk_ecdsa(slot->tk, s->in, in_len, s->out,
				     sig_len / 2);
	case KIND_PKCS1:
		/* T = DigestInfo of the named hash (s->attr is scratch). */
		for (n = 0; n < sizeof(di_prefixes) / sizeof(di_prefixes[0]);
		     n++) {
			const struct di_prefix *p = &di_prefixes[n];

			if (p->tee_alg != alg->tee_alg)
				continue;
			memcpy(s->attr, p->der, p->len);
			memcpy(s->attr + p->len, s->in, in_len);
			return otls_tk_pkcs1_sign(slot->tk, s->attr,
						  p->len + in_len, s->out);
		}
		return TEE_ERROR_GENERIC;
	case KIND_DIGESTINFO:
		/* Any DigestInfo, or any input at all: padded here. */
		return otls_tk_pkcs1_sign(slot->tk, s->in, in_len, s->out);
	case KIND_PSS:
		return otls_tk_pss_sign(slot->tk, s->in, in_len, salt, s->out);
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
}
#endif

/* Largest input the algorithm family could accept, before the key is
 * known. */
static size_t input_max(const struct alg_desc *a)
{
	switch (a->kind) {
	case KIND_ED25519:
		return OTLS_MAX_MESSAGE;
	case KIND_DIGESTINFO:
		return OTLS_MAX_DIGESTINFO;
	case KIND_DECRYPT:
		return OTLS_MAX_CIPHERTEXT;
	case KIND_PKCS1:
	case KIND_PSS:
		return a->hash_len;	/* exactly the hash */
	default:
		return OTLS_MAX_DIGEST;
	}
}

/* Smallest input the algorithm family accepts, before the key is known. */
static size_t input_min(const struct alg_desc *a)
{
	switch (a->kind) {
	case KIND_ECDSA:
		return ECDSA_MIN_DIGEST;
	case KIND_PKCS1:
	case KIND_PSS:
		return a->hash_len;
	case KIND_DIGESTINFO:
		return 1;
	default:
		return 0;
	}
}

/*
 * Common front part of SIGN and DECRYPT: label, algorithm, raw input
 * size, then the key, its owner, type, policy and usage. Order of the
 * answers: BAD_PARAMETERS (malformed request), NOT_SUPPORTED (unknown
 * algorithm), ITEM_NOT_FOUND, ACCESS_DENIED (owner), NOT_SUPPORTED
 * (algorithm does not fit the key), ACCESS_DENIED (policy).
 */
static TEE_Result prepare(struct otls_session *s, TEE_Param params[],
			  bool decrypt, const struct alg_desc **alg_out,
			  struct otls_slot **slot_out)
{
	struct otls_label label = { 0 };
	const struct alg_desc *alg = NULL;
	struct otls_slot *slot = NULL;
	uint32_t need_usage = decrypt ? TEE_USAGE_DECRYPT : TEE_USAGE_SIGN;
	TEE_Result res = TEE_SUCCESS;

	res = otls_label_parse(params[0].memref.buffer, params[0].memref.size,
			       &label);
	if (res)
		return res;

	alg = find_alg(params[1].value.a);
	if (!alg || (alg->kind == KIND_DECRYPT) != decrypt)
		return TEE_ERROR_NOT_SUPPORTED;
	/* Value b is the PSS salt length, and must be 0 otherwise. */
	if (alg->kind != KIND_PSS && params[1].value.b)
		return TEE_ERROR_BAD_PARAMETERS;
	/* Every length limit that does not depend on the key (ECDSA 20..64,
	 * the exact hash size of PKCS1/PSS, a non-empty DigestInfo) is
	 * answered here, before the key lookup, as the protocol header
	 * orders the checks; only key-dependent limits come later. */
	if (params[2].memref.size > input_max(alg) ||
	    params[2].memref.size < input_min(alg))
		return TEE_ERROR_BAD_PARAMETERS;

	res = otls_key_load(s, &label, &slot);
	if (res)
		return res;
	res = otls_slot_owner_check(s, slot);
	if (res)
		return res;
	if (slot->rec.key_type != alg->key_type)
		return TEE_ERROR_NOT_SUPPORTED;
	if (!(slot->rec.policy.allowed & alg->allow))
		return TEE_ERROR_ACCESS_DENIED;
	/* The object's usage was fixed from the policy at generation;
	 * checked again because TEE_SetOperationKey() panics on a
	 * mismatch. */
	if ((slot->usage & need_usage) != need_usage)
		return TEE_ERROR_ACCESS_DENIED;

	*alg_out = alg;
	*slot_out = slot;
	return TEE_SUCCESS;
}

/* Operation for alg with the slot's key, ready to use. */
static TEE_Result start_op(uint32_t tee_alg, uint32_t mode,
			   struct otls_slot *slot, TEE_OperationHandle *op)
{
	TEE_Result res = TEE_SUCCESS;

	res = TEE_AllocateOperation(op, tee_alg, mode, slot->rec.bits);
	if (res) {
		*op = TEE_HANDLE_NULL;
		return res;
	}
	res = TEE_SetOperationKey(*op, slot->obj);
	if (res) {
		TEE_FreeOperation(*op);
		*op = TEE_HANDLE_NULL;
	}
	return res;
}

TEE_Result otls_cmd_sign(struct otls_session *s,
			 TEE_Param params[TEE_NUM_PARAMS])
{
	const struct alg_desc *alg = NULL;
	struct otls_slot *slot = NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Attribute attr;
	uint32_t nattr = 0;
	uint32_t tee_alg = 0;
	uint32_t bits = 0;
	size_t in_len = params[2].memref.size;
	size_t feed = 0;
	size_t skip = 0;
	size_t sig_len = 0;
	size_t n = 0;
	size_t em_len = 0;
	uint32_t salt = 0;
	uint8_t *msg = NULL;
	const void *data = NULL;
	otls_len_t out_len = 0;
	TEE_Result res = TEE_SUCCESS;

	res = prepare(s, params, false, &alg, &slot);
	if (res)
		return res;

	bits = slot->rec.bits;
	tee_alg = alg->tee_alg;
	feed = in_len;
	memset(&attr, 0, sizeof(attr));

	switch (alg->kind) {
	case KIND_ECDSA:
		/* SEC 1: use the leftmost bits of the digest, at most the
		 * order's size; OP-TEE's ECDSA takes the bytes that remain
		 * and handles the bit shift of P-521 itself. */
		if (in_len < ECDSA_MIN_DIGEST || in_len > OTLS_MAX_DIGEST)
			return TEE_ERROR_BAD_PARAMETERS;
		n = (bits + 7) / 8;
		if (feed > n)
			feed = n;
		sig_len = 2 * n;
		tee_alg = ecdsa_alg(bits);
		break;
	case KIND_PKCS1:
		if (in_len != alg->hash_len)
			return TEE_ERROR_BAD_PARAMETERS;
		sig_len = bits / 8;
		break;
	case KIND_DIGESTINFO:
		if (!in_len || in_len + PKCS1_V15_OVERHEAD > bits / 8)
			return TEE_ERROR_BAD_PARAMETERS;
		sig_len = bits / 8;
		break;
	case KIND_PSS:
		if (in_len != alg->hash_len)
			return TEE_ERROR_BAD_PARAMETERS;
		salt = params[1].value.b;
		if (salt == OTLS_SALT_DIGEST_LEN)
			salt = alg->hash_len;
		/* RFC 8017 9.1.1: emLen >= hLen + sLen + 2, with
		 * emLen = ceil((modBits - 1) / 8). */
		em_len = (bits + 6) / 8;
		if (em_len < alg->hash_len + 2 ||
		    salt > em_len - alg->hash_len - 2)
			return TEE_ERROR_BAD_PARAMETERS;
		TEE_InitValueAttribute(&attr, TEE_ATTR_RSA_PSS_SALT_LENGTH,
				       salt, 0);
		nattr = 1;
		sig_len = bits / 8;
		break;
	case KIND_ED25519:
		sig_len = ED25519_SIG_SIZE;
		break;
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}

	if (sig_len > sizeof(s->out))
		return TEE_ERROR_GENERIC;
	if (!otls_out_room(&params[3], sig_len))
		return TEE_ERROR_SHORT_BUFFER;

	/* Private copy of the input. For Ed25519 this matters: the message
	 * is hashed twice, and two different messages under one nonce
	 * would give the private scalar away. */
	if (alg->kind == KIND_ED25519) {
		msg = TEE_Malloc(in_len ? in_len : 1, TEE_MALLOC_FILL_ZERO);
		if (!msg)
			return TEE_ERROR_OUT_OF_MEMORY;
		if (in_len)
			memcpy(msg, params[2].memref.buffer, in_len);
		data = msg;
	} else {
		memcpy(s->in, params[2].memref.buffer, in_len);
		data = s->in;
	}
#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
	if (slot->tk) {
		res = tk_sign(s, slot, alg, in_len, salt, sig_len);
		memset(s->attr, 0, sizeof(s->attr));
		if (!res)
			res = otls_out_write(&params[3], s->out, sig_len);
		goto out;
	}
#endif
	/* Chosen from the private copy, which cannot change any more. */
	if (alg->kind == KIND_DIGESTINFO) {
		tee_alg = digestinfo_alg(s->in, in_len, &skip);
		if (!tee_alg) {
			res = TEE_ERROR_NOT_SUPPORTED;
			goto out;
		}
		data = s->in + skip;
		feed = in_len - skip;
	}

	res = start_op(tee_alg, TEE_MODE_SIGN, slot, &op);
	if (res)
		goto out;
	out_len = sizeof(s->out);
	res = TEE_AsymmetricSignDigest(op, nattr ? &attr : NULL, nattr, data,
				       feed, s->out, &out_len);
	if (res == TEE_ERROR_SHORT_BUFFER)
		res = TEE_ERROR_GENERIC;	/* s->out fits every key */
	if (res)
		goto out;
	if (out_len != sig_len) {
		res = TEE_ERROR_GENERIC;
		goto out;
	}
	res = otls_out_write(&params[3], s->out, out_len);
out:
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	if (msg) {
		memset(msg, 0, in_len);
		TEE_Free(msg);
	}
	memset(s->in, 0, sizeof(s->in));
	return res;
}

TEE_Result otls_cmd_decrypt(struct otls_session *s,
			    TEE_Param params[TEE_NUM_PARAMS])
{
	const struct alg_desc *alg = NULL;
	struct otls_slot *slot = NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	size_t in_len = params[2].memref.size;
	otls_len_t out_len = 0;
	TEE_Result res = TEE_SUCCESS;

	res = prepare(s, params, true, &alg, &slot);
	if (res)
		return res;
	/* RSA ciphertext is exactly the modulus size. */
	if (in_len != slot->rec.bits / 8 || in_len > sizeof(s->in))
		return TEE_ERROR_BAD_PARAMETERS;
	memcpy(s->in, params[2].memref.buffer, in_len);

#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
	if (slot->tk) {
		size_t len = 0;

		/* TA-held keys never allow OAEP (otls_tk_wanted). */
		if (alg->tee_alg != TEE_ALG_RSAES_PKCS1_V1_5)
			res = TEE_ERROR_NOT_SUPPORTED;
		else
			res = otls_tk_decrypt_pkcs1(slot->tk, s->in, s->out,
						    sizeof(s->out), &len);
		if (!res)
			res = otls_out_write(&params[3], s->out, len);
		goto out;
	}
#endif
	res = start_op(alg->tee_alg, TEE_MODE_DECRYPT, slot, &op);
	if (res)
		goto out;
	out_len = sizeof(s->out);
	res = TEE_AsymmetricDecrypt(op, NULL, 0, s->in, in_len, s->out,
				    &out_len);
	switch (res) {
	case TEE_SUCCESS:
		res = otls_out_write(&params[3], s->out, out_len);
		break;
	case TEE_ERROR_BAD_PARAMETERS:
	case TEE_ERROR_CIPHERTEXT_INVALID:
		/* Bad padding: one answer, whatever the cause. */
		res = TEE_ERROR_CIPHERTEXT_INVALID;
		break;
	case TEE_ERROR_SHORT_BUFFER:
		res = TEE_ERROR_GENERIC;	/* s->out fits every key */
		break;
	default:
		break;
	}
out:
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	/* The plaintext is a secret (a TLS pre-master secret). */
	memset(s->out, 0, sizeof(s->out));
	memset(s->in, 0, sizeof(s->in));
	return res;
}
