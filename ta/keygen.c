// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA: key generation and key descriptions (public part only).
 */
#include <string.h>
#include "ta_internal.h"

/* 65537, big-endian. */
static const uint8_t rsa_e65537[] = { 0x01, 0x00, 0x01 };

TEE_Result otls_key_supported(uint32_t key_type, uint32_t bits)
{
	switch (key_type) {
	case OTLS_KEY_EC:
		if (bits == 256 || bits == 384 || bits == 521)
			return TEE_SUCCESS;
		break;
	case OTLS_KEY_RSA:
		if (bits == 2048 || bits == 3072 || bits == 4096)
			return TEE_SUCCESS;
		break;
	case OTLS_KEY_ED25519:
		if (bits == 256)
			return TEE_SUCCESS;
		break;
	default:
		break;
	}
	return TEE_ERROR_NOT_SUPPORTED;
}

uint32_t otls_tee_type(uint32_t key_type)
{
	switch (key_type) {
	case OTLS_KEY_EC:
		return TEE_TYPE_ECDSA_KEYPAIR;
	case OTLS_KEY_RSA:
		return TEE_TYPE_RSA_KEYPAIR;
	case OTLS_KEY_ED25519:
		return TEE_TYPE_ED25519_KEYPAIR;
	default:
		return 0;
	}
}

static uint32_t ec_curve(uint32_t bits)
{
	switch (bits) {
	case 256:
		return TEE_ECC_CURVE_NIST_P256;
	case 384:
		return TEE_ECC_CURVE_NIST_P384;
	default:
		return TEE_ECC_CURVE_NIST_P521;
	}
}

/* Size of the description of a key made by this TA (RSA e = 65537). */
static size_t desc_size(uint32_t key_type, uint32_t bits)
{
	size_t n = sizeof(struct otls_key_desc_hdr);

	switch (key_type) {
	case OTLS_KEY_EC:
		return n + 2 * ((bits + 7) / 8);
	case OTLS_KEY_RSA:
		return n + bits / 8 + sizeof(rsa_e65537);
	default:
		return n + 32;
	}
}

/* One public attribute into s->attr, leading zero octets removed. */
static TEE_Result get_public(struct otls_session *s, TEE_ObjectHandle obj,
			     uint32_t attr_id, size_t *len)
{
	otls_len_t l = sizeof(s->attr);
	size_t skip = 0;
	TEE_Result res = TEE_SUCCESS;

	/* Only ever public attributes: those stay readable on a key whose
	 * usage lacks TEE_USAGE_EXTRACTABLE. */
	res = TEE_GetObjectBufferAttribute(obj, attr_id, s->attr, &l);
	if (res)
		return res;
	while (skip < l && !s->attr[skip])
		skip++;
	if (skip)
		memmove(s->attr, s->attr + skip, l - skip);
	*len = l - skip;
	return TEE_SUCCESS;
}

/* A public attribute left-padded to exactly width octets at dst. */
static TEE_Result put_padded(struct otls_session *s, TEE_ObjectHandle obj,
			     uint32_t attr_id, uint8_t *dst, size_t width)
{
	size_t len = 0;
	TEE_Result res = get_public(s, obj, attr_id, &len);

	if (res)
		return res;
	if (len > width)
		return TEE_ERROR_GENERIC;
	memset(dst, 0, width - len);
	memcpy(dst + width - len, s->attr, len);
	return TEE_SUCCESS;
}

TEE_Result otls_desc_build(struct otls_session *s, TEE_ObjectHandle obj,
			   struct otls_tk *tk, const struct otls_record *rec,
			   size_t *out_len)
{
	struct otls_key_desc_hdr hdr = { 0 };
	uint8_t *p = s->desc + sizeof(hdr);
	size_t n = 0;
	size_t len = 0;
	TEE_Result res = TEE_SUCCESS;

	hdr.key_type = rec->key_type;
	hdr.bits = rec->bits;
	hdr.policy = rec->policy;

#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
	if (tk) {
		n = rec->key_type == OTLS_KEY_EC ? (rec->bits + 7) / 8
						 : rec->bits / 8;
		res = otls_tk_public(tk, p, n, p + n, OTLS_MAX_PUB_PART, &len);
		if (res)
			return res;
		hdr.pub_a_len = n;
		hdr.pub_b_len = len;
		memcpy(s->desc, &hdr, sizeof(hdr));
		*out_len = sizeof(hdr) + n + len;
		return TEE_SUCCESS;
	}
#else
	if (tk)
		return TEE_ERROR_NOT_SUPPORTED;
#endif

	switch (rec->key_type) {
	case OTLS_KEY_EC:
		n = (rec->bits + 7) / 8;
		res = put_padded(s, obj, TEE_ATTR_ECC_PUBLIC_VALUE_X, p, n);
		if (!res)
			res = put_padded(s, obj, TEE_ATTR_ECC_PUBLIC_VALUE_Y,
					 p + n, n);
		hdr.pub_a_len = n;
		hdr.pub_b_len = n;
		break;
	case OTLS_KEY_RSA:
		n = rec->bits / 8;
		res = put_padded(s, obj, TEE_ATTR_RSA_MODULUS, p, n);
		if (res)
			break;
		res = get_public(s, obj, TEE_ATTR_RSA_PUBLIC_EXPONENT, &len);
		if (res)
			break;
		if (!len || len > OTLS_MAX_PUB_PART) {
			res = TEE_ERROR_GENERIC;
			break;
		}
		memcpy(p + n, s->attr, len);
		hdr.pub_a_len = n;
		hdr.pub_b_len = len;
		break;
	case OTLS_KEY_ED25519:
		res = put_padded(s, obj, TEE_ATTR_ED25519_PUBLIC_VALUE, p, 32);
		hdr.pub_a_len = 32;
		hdr.pub_b_len = 0;
		break;
	default:
		res = TEE_ERROR_GENERIC;
		break;
	}
	if (res)
		return res;

	memcpy(s->desc, &hdr, sizeof(hdr));
	*out_len = sizeof(hdr) + hdr.pub_a_len + hdr.pub_b_len;
	return TEE_SUCCESS;
}

TEE_Result otls_cmd_generate(struct otls_session *s,
			     TEE_Param params[TEE_NUM_PARAMS])
{
	TEE_ObjectHandle key = TEE_HANDLE_NULL;
	struct otls_label label = { 0 };
	struct otls_policy req = { 0 };
	struct otls_record rec = { 0 };
	TEE_Attribute attr;
	uint32_t nattr = 0;
	uint32_t key_type = params[1].value.a;
	uint32_t bits = params[1].value.b;
	uint32_t usage = TEE_USAGE_SIGN | TEE_USAGE_VERIFY;
	size_t need = 0;
	size_t len = 0;
	TEE_Result res = TEE_SUCCESS;

	res = otls_label_parse(params[0].memref.buffer, params[0].memref.size,
			       &label);
	if (res)
		return res;
	if (params[2].memref.size != sizeof(req))
		return TEE_ERROR_BAD_PARAMETERS;
	memcpy(&req, params[2].memref.buffer, sizeof(req));

	res = otls_key_supported(key_type, bits);
	if (res)
		return res;
	rec.magic = OTLS_REC_MAGIC;
	rec.version = OTLS_REC_VERSION;
	rec.key_type = key_type;
	rec.bits = bits;
	res = otls_policy_resolve(key_type, &req, &rec.policy);
	if (res)
		return res;

	/* Answer a too small output before doing any work: nothing is
	 * generated or stored then. */
	need = desc_size(key_type, bits);
	if (!otls_out_room(&params[3], need))
		return TEE_ERROR_SHORT_BUFFER;

	/* Cheap early answer for a taken label (RSA generation is slow);
	 * the create below stays the authoritative, atomic check. */
	res = otls_key_absent(s, &label);
	if (res)
		return res;

#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
	if (otls_tk_wanted(key_type, &rec.policy)) {
		struct otls_tk *tk = NULL;
		uint8_t *blob = NULL;
		size_t blob_len = 0;

		/* Made in the TA with mbedTLS and the TEE's RNG. */
		rec.version = OTLS_REC_VERSION_TK;
		blob = TEE_Malloc(OTLS_TK_BLOB_MAX, TEE_MALLOC_FILL_ZERO);
		if (!blob)
			return TEE_ERROR_OUT_OF_MEMORY;
		res = otls_tk_generate(key_type, bits, &tk, blob,
				       OTLS_TK_BLOB_MAX, &blob_len);
		if (!res)
			res = otls_desc_build(s, TEE_HANDLE_NULL, tk, &rec,
					      &len);
		if (!res && len != need)
			res = TEE_ERROR_GENERIC;
		if (!res)
			res = otls_key_store(s, &label, TEE_HANDLE_NULL, &rec,
					     tk, blob, blob_len);
		if (!res) {
			tk = NULL;	/* the cache slot owns it now */
			res = otls_out_write(&params[3], s->desc, len);
		}
		otls_tk_free(tk);
		memset(blob, 0, OTLS_TK_BLOB_MAX);
		TEE_Free(blob);
		return res;
	}
#endif

	res = TEE_AllocateTransientObject(otls_tee_type(key_type), bits, &key);
	if (res)
		return res;

	memset(&attr, 0, sizeof(attr));
	if (key_type == OTLS_KEY_EC) {
		TEE_InitValueAttribute(&attr, TEE_ATTR_ECC_CURVE,
				       ec_curve(bits), 0);
		nattr = 1;
	} else if (key_type == OTLS_KEY_RSA) {
		TEE_InitRefAttribute(&attr, TEE_ATTR_RSA_PUBLIC_EXPONENT,
				     rsa_e65537, sizeof(rsa_e65537));
		nattr = 1;
	}
	res = TEE_GenerateKey(key, bits, nattr ? &attr : NULL, nattr);
	if (res)
		goto out;

	/* Never extractable: the private part cannot be read back, not
	 * even by this TA. */
	if (rec.policy.allowed &
	    (OTLS_ALLOW_DECRYPT_PKCS1 | OTLS_ALLOW_DECRYPT_OAEP))
		usage |= TEE_USAGE_DECRYPT | TEE_USAGE_ENCRYPT;
	res = TEE_RestrictObjectUsage1(key, usage);
	if (res)
		goto out;

	res = otls_desc_build(s, key, NULL, &rec, &len);
	if (res)
		goto out;
	if (len != need) {
		res = TEE_ERROR_GENERIC;
		goto out;
	}

	res = otls_key_store(s, &label, key, &rec, NULL, NULL, 0);
	if (res)
		goto out;
	res = otls_out_write(&params[3], s->desc, len);
out:
	TEE_FreeTransientObject(key);
	return res;
}

TEE_Result otls_cmd_get_key(struct otls_session *s,
			    TEE_Param params[TEE_NUM_PARAMS])
{
	struct otls_label label = { 0 };
	struct otls_slot *slot = NULL;
	size_t len = 0;
	TEE_Result res = TEE_SUCCESS;

	res = otls_label_parse(params[0].memref.buffer, params[0].memref.size,
			       &label);
	if (res)
		return res;
	/* The public key is public: no owner check. */
	res = otls_key_load(s, &label, &slot);
	if (res)
		return res;
	res = otls_desc_build(s, slot->obj, slot->tk, &slot->rec, &len);
	if (res)
		return res;
	return otls_out_write(&params[1], s->desc, len);
}
