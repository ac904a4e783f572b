// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host Internal Core API: generic and transient objects. An object holds
 * its key as an OpenSSL EVP_PKEY. Which errors are returned and which
 * panic follows OP-TEE (libutee + core), so TA bugs show up on the host.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tee_api_private.h"

/* ---- Handle registry ---------------------------------------------------- */

static TEE_ObjectHandle live_objects;

TEE_ObjectHandle sim_obj_alloc(void)
{
	TEE_ObjectHandle o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->magic = SIM_OBJ_MAGIC;
	o->usage = TEE_USAGE_DEFAULT;
	o->next = live_objects;
	live_objects = o;
	return o;
}

bool sim_obj_is_live(TEE_ObjectHandle h)
{
	TEE_ObjectHandle o;

	for (o = live_objects; o; o = o->next)
		if (o == h)
			return o->magic == SIM_OBJ_MAGIC;
	return false;
}

TEE_ObjectHandle sim_obj_check(TEE_ObjectHandle h)
{
	if (!h || !sim_obj_is_live(h)) {
		EMSG("invalid object handle %p", (void *)h);
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}
	return h;
}

static void obj_clear_key(TEE_ObjectHandle o)
{
	EVP_PKEY_free(o->pkey);
	o->pkey = NULL;
	o->size = 0;
	o->curve = 0;
}

void sim_obj_destroy(TEE_ObjectHandle h)
{
	TEE_ObjectHandle *pp;

	for (pp = &live_objects; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	obj_clear_key(h);
	h->magic = 0;
	free(h);
}

/* ---- Types, sizes, curves ------------------------------------------------ */

bool sim_type_is_supported(uint32_t type)
{
	switch (type) {
	case TEE_TYPE_RSA_PUBLIC_KEY:
	case TEE_TYPE_RSA_KEYPAIR:
	case TEE_TYPE_ECDSA_PUBLIC_KEY:
	case TEE_TYPE_ECDSA_KEYPAIR:
	case TEE_TYPE_ED25519_PUBLIC_KEY:
	case TEE_TYPE_ED25519_KEYPAIR:
		return true;
	default:
		return false;
	}
}

bool sim_type_is_keypair(uint32_t type)
{
	return type == TEE_TYPE_RSA_KEYPAIR || type == TEE_TYPE_ECDSA_KEYPAIR ||
	       type == TEE_TYPE_ED25519_KEYPAIR;
}

/* Size limits of OP-TEE's object type table (RSA up to its default
 * CFG_CORE_BIGNUM_MAX_BITS). */
TEE_Result sim_check_key_size(uint32_t type, uint32_t bits)
{
	uint32_t min, max;

	switch (type) {
	case TEE_TYPE_RSA_PUBLIC_KEY:
	case TEE_TYPE_RSA_KEYPAIR:
		min = 256;
		max = 4096;
		break;
	case TEE_TYPE_ECDSA_PUBLIC_KEY:
	case TEE_TYPE_ECDSA_KEYPAIR:
		min = 192;
		max = 521;
		break;
	case TEE_TYPE_ED25519_PUBLIC_KEY:
	case TEE_TYPE_ED25519_KEYPAIR:
		min = 256;
		max = 256;
		break;
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
	if (bits < min || bits > max)
		return TEE_ERROR_NOT_SUPPORTED;
	return TEE_SUCCESS;
}

uint32_t sim_curve_bits(uint32_t curve)
{
	switch (curve) {
	case TEE_ECC_CURVE_NIST_P192:
		return 192;
	case TEE_ECC_CURVE_NIST_P224:
		return 224;
	case TEE_ECC_CURVE_NIST_P256:
		return 256;
	case TEE_ECC_CURVE_NIST_P384:
		return 384;
	case TEE_ECC_CURVE_NIST_P521:
		return 521;
	default:
		return 0;
	}
}

size_t sim_curve_bytes(uint32_t curve)
{
	return (sim_curve_bits(curve) + 7) / 8;
}

static const char *curve_group_name(uint32_t curve)
{
	switch (curve) {
	case TEE_ECC_CURVE_NIST_P192:
		return "P-192";
	case TEE_ECC_CURVE_NIST_P224:
		return "P-224";
	case TEE_ECC_CURVE_NIST_P256:
		return "P-256";
	case TEE_ECC_CURVE_NIST_P384:
		return "P-384";
	case TEE_ECC_CURVE_NIST_P521:
		return "P-521";
	default:
		return NULL;
	}
}

/* TEE curve of an OpenSSL EC key, 0 if it is none of ours. */
static uint32_t curve_of_pkey(const EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (!EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len))
		return 0;
	nid = OBJ_txt2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	switch (nid) {
	case NID_X9_62_prime192v1:
		return TEE_ECC_CURVE_NIST_P192;
	case NID_secp224r1:
		return TEE_ECC_CURVE_NIST_P224;
	case NID_X9_62_prime256v1:
		return TEE_ECC_CURVE_NIST_P256;
	case NID_secp384r1:
		return TEE_ECC_CURVE_NIST_P384;
	case NID_secp521r1:
		return TEE_ECC_CURVE_NIST_P521;
	default:
		return 0;
	}
}

/* ---- Key (de)serialisation -------------------------------------------- */

TEE_Result sim_key_export(TEE_ObjectHandle o, uint8_t **buf, size_t *len)
{
	uint8_t *p = NULL;
	size_t l = 0;
	int n;

	*buf = NULL;
	*len = 0;
	if (!o->pkey)
		return TEE_SUCCESS;	/* pure data object */
	if (o->type == TEE_TYPE_ED25519_KEYPAIR) {
		p = malloc(32);
		l = 32;
		if (!p)
			return TEE_ERROR_OUT_OF_MEMORY;
		if (!EVP_PKEY_get_raw_private_key(o->pkey, p, &l) || l != 32) {
			sim_free_secret(p, 32);
			return TEE_ERROR_GENERIC;
		}
	} else {
		if (sim_type_is_keypair(o->type))
			n = i2d_PrivateKey(o->pkey, &p);
		else
			n = i2d_PUBKEY(o->pkey, &p);
		if (n <= 0)
			return TEE_ERROR_GENERIC;
		l = (size_t)n;
	}
	*buf = p;
	*len = l;
	return TEE_SUCCESS;
}

/* o->type and o->size come from the (authenticated) record; the key must
 * agree with them or the object is corrupt. */
TEE_Result sim_key_import(TEE_ObjectHandle o, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf;
	EVP_PKEY *pkey = NULL;
	int base = EVP_PKEY_NONE;
	uint32_t curve = 0;

	if (o->type == TEE_TYPE_DATA)
		return len ? TEE_ERROR_CORRUPT_OBJECT : TEE_SUCCESS;
	if (!sim_type_is_supported(o->type) || len > LONG_MAX)
		return TEE_ERROR_CORRUPT_OBJECT;

	switch (o->type) {
	case TEE_TYPE_ED25519_KEYPAIR:
		if (len == 32)
			pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
							    NULL, buf, 32);
		base = EVP_PKEY_ED25519;
		break;
	case TEE_TYPE_RSA_KEYPAIR:
		pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		base = EVP_PKEY_RSA;
		break;
	case TEE_TYPE_ECDSA_KEYPAIR:
		pkey = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long)len);
		base = EVP_PKEY_EC;
		break;
	default:
		pkey = d2i_PUBKEY(NULL, &p, (long)len);
		base = o->type == TEE_TYPE_RSA_PUBLIC_KEY ? EVP_PKEY_RSA :
		       o->type == TEE_TYPE_ECDSA_PUBLIC_KEY ? EVP_PKEY_EC :
		       EVP_PKEY_ED25519;
		break;
	}
	ERR_clear_error();
	if (!pkey)
		return TEE_ERROR_CORRUPT_OBJECT;
	if (o->type != TEE_TYPE_ED25519_KEYPAIR && p != buf + len)
		goto corrupt;
	if (EVP_PKEY_get_base_id(pkey) != base || o->size > o->max_size)
		goto corrupt;
	/* OpenSSL counts Ed25519 as 253 bits; GP as 256. */
	if (base == EVP_PKEY_ED25519 ? o->size != 256 :
	    (uint32_t)EVP_PKEY_get_bits(pkey) != o->size)
		goto corrupt;
	if (base == EVP_PKEY_EC) {
		curve = curve_of_pkey(pkey);
		if (!curve || sim_curve_bits(curve) != o->size)
			goto corrupt;
	}
	o->pkey = pkey;
	o->curve = curve;
	return TEE_SUCCESS;
corrupt:
	EVP_PKEY_free(pkey);
	return TEE_ERROR_CORRUPT_OBJECT;
}

/* ---- Generic object functions ------------------------------------------ */

TEE_Result TEE_GetObjectInfo1(TEE_ObjectHandle object,
			      TEE_ObjectInfo *objectInfo)
{
	TEE_ObjectHandle o = sim_obj_check(object);

	if (!objectInfo)
		TEE_Panic(0);
	objectInfo->objectType = o->type;
	objectInfo->objectSize = o->size;
	objectInfo->maxObjectSize = o->max_size;
	objectInfo->objectUsage = o->usage;
	objectInfo->dataSize = o->pobj ? o->pobj->data_len : 0;
	objectInfo->dataPosition = o->pobj ? o->pobj->pos : 0;
	objectInfo->handleFlags = o->flags;
	return TEE_SUCCESS;
}

void TEE_GetObjectInfo(TEE_ObjectHandle object, TEE_ObjectInfo *objectInfo)
{
	(void)TEE_GetObjectInfo1(object, objectInfo);
}

TEE_Result TEE_RestrictObjectUsage1(TEE_ObjectHandle object,
				    uint32_t objectUsage)
{
	TEE_ObjectHandle o = sim_obj_check(object);
	TEE_Result res;

	if (!o->pobj) {
		o->usage &= objectUsage;
		return TEE_SUCCESS;
	}
	res = sim_pobj_set_usage(o, o->usage & objectUsage);
	if (res != TEE_SUCCESS && res != TEE_ERROR_CORRUPT_OBJECT &&
	    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

void TEE_RestrictObjectUsage(TEE_ObjectHandle object, uint32_t objectUsage)
{
	TEE_Result res = TEE_RestrictObjectUsage1(object, objectUsage);

	if (res != TEE_SUCCESS)
		TEE_Panic(res);
}

/* Attribute identifiers each supported type carries. */
static bool type_has_attr(uint32_t type, uint32_t id)
{
	static const uint32_t rsa[] = {
		TEE_ATTR_RSA_MODULUS, TEE_ATTR_RSA_PUBLIC_EXPONENT,
		TEE_ATTR_RSA_PRIVATE_EXPONENT, TEE_ATTR_RSA_PRIME1,
		TEE_ATTR_RSA_PRIME2, TEE_ATTR_RSA_EXPONENT1,
		TEE_ATTR_RSA_EXPONENT2, TEE_ATTR_RSA_COEFFICIENT,
	};
	static const uint32_t ecc[] = {
		TEE_ATTR_ECC_PUBLIC_VALUE_X, TEE_ATTR_ECC_PUBLIC_VALUE_Y,
		TEE_ATTR_ECC_CURVE, TEE_ATTR_ECC_PRIVATE_VALUE,
	};
	static const uint32_t ed[] = {
		TEE_ATTR_ED25519_PUBLIC_VALUE, TEE_ATTR_ED25519_PRIVATE_VALUE,
	};
	const uint32_t *list;
	size_t n, count;

	switch (type) {
	case TEE_TYPE_RSA_PUBLIC_KEY:
		list = rsa;
		count = 2;
		break;
	case TEE_TYPE_RSA_KEYPAIR:
		list = rsa;
		count = 8;
		break;
	case TEE_TYPE_ECDSA_PUBLIC_KEY:
		list = ecc;
		count = 3;
		break;
	case TEE_TYPE_ECDSA_KEYPAIR:
		list = ecc;
		count = 4;
		break;
	case TEE_TYPE_ED25519_PUBLIC_KEY:
		list = ed;
		count = 1;
		break;
	case TEE_TYPE_ED25519_KEYPAIR:
		list = ed;
		count = 2;
		break;
	default:
		return false;
	}
	for (n = 0; n < count; n++)
		if (list[n] == id)
			return true;
	return false;
}

static const char *bn_param_name(uint32_t id)
{
	switch (id) {
	case TEE_ATTR_RSA_MODULUS:
		return OSSL_PKEY_PARAM_RSA_N;
	case TEE_ATTR_RSA_PUBLIC_EXPONENT:
		return OSSL_PKEY_PARAM_RSA_E;
	case TEE_ATTR_RSA_PRIVATE_EXPONENT:
		return OSSL_PKEY_PARAM_RSA_D;
	case TEE_ATTR_RSA_PRIME1:
		return OSSL_PKEY_PARAM_RSA_FACTOR1;
	case TEE_ATTR_RSA_PRIME2:
		return OSSL_PKEY_PARAM_RSA_FACTOR2;
	case TEE_ATTR_RSA_EXPONENT1:
		return OSSL_PKEY_PARAM_RSA_EXPONENT1;
	case TEE_ATTR_RSA_EXPONENT2:
		return OSSL_PKEY_PARAM_RSA_EXPONENT2;
	case TEE_ATTR_RSA_COEFFICIENT:
		return OSSL_PKEY_PARAM_RSA_COEFFICIENT1;
	case TEE_ATTR_ECC_PUBLIC_VALUE_X:
		return OSSL_PKEY_PARAM_EC_PUB_X;
	case TEE_ATTR_ECC_PUBLIC_VALUE_Y:
		return OSSL_PKEY_PARAM_EC_PUB_Y;
	case TEE_ATTR_ECC_PRIVATE_VALUE:
		return OSSL_PKEY_PARAM_PRIV_KEY;
	default:
		return NULL;
	}
}

/*
 * Bignums leave at their minimal big-endian length (leading zero bytes
 * stripped), as OP-TEE's bignum export does: callers must left-pad.
 */
static TEE_Result get_buffer_attr(TEE_ObjectHandle o, uint32_t id,
				  void *buffer, size_t *size)
{
	uint8_t raw[32];
	size_t need = sizeof(raw);
	const char *name = bn_param_name(id);
	BIGNUM *bn = NULL;
	TEE_Result res = TEE_SUCCESS;

	if (id == TEE_ATTR_ED25519_PUBLIC_VALUE ||
	    id == TEE_ATTR_ED25519_PRIVATE_VALUE) {
		int ok = id == TEE_ATTR_ED25519_PUBLIC_VALUE ?
			 EVP_PKEY_get_raw_public_key(o->pkey, raw, &need) :
			 EVP_PKEY_get_raw_private_key(o->pkey, raw, &need);

		if (!ok)
			return TEE_ERROR_ITEM_NOT_FOUND;
		if (!buffer || *size < need) {
			*size = need;
			res = TEE_ERROR_SHORT_BUFFER;
		} else {
			memcpy(buffer, raw, need);
			*size = need;
		}
		OPENSSL_cleanse(raw, sizeof(raw));
		return res;
	}
	if (!name || !EVP_PKEY_get_bn_param(o->pkey, name, &bn)) {
		ERR_clear_error();
		return TEE_ERROR_ITEM_NOT_FOUND;
	}
	need = (size_t)BN_num_bytes(bn);
	if (need && (!buffer || *size < need)) {
		res = TEE_ERROR_SHORT_BUFFER;
	} else if (need) {
		BN_bn2bin(bn, buffer);
	}
	*size = need;
	BN_clear_free(bn);
	return res;
}

TEE_Result TEE_GetObjectBufferAttribute(TEE_ObjectHandle object,
					uint32_t attributeID, void *buffer,
					size_t *size)
{
	TEE_ObjectHandle o = sim_obj_check(object);
	TEE_Result res;

	if (!size)
		TEE_Panic(0);
	if (attributeID & TEE_ATTR_FLAG_VALUE) {
		res = TEE_ERROR_BAD_PARAMETERS;	/* value attribute: panic */
		goto out;
	}
	if (!(o->flags & TEE_HANDLE_FLAG_INITIALIZED)) {
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	/* A secret part leaves only an EXTRACTABLE object. */
	if (!(attributeID & TEE_ATTR_FLAG_PUBLIC) &&
	    !(o->usage & TEE_USAGE_EXTRACTABLE)) {
		EMSG("attribute 0x%08" PRIx32 " is secret and the object is not extractable",
		     attributeID);
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	if (!o->pkey || !type_has_attr(o->type, attributeID))
		return TEE_ERROR_ITEM_NOT_FOUND;
	res = get_buffer_attr(o, attributeID, buffer, size);
out:
	if (res != TEE_SUCCESS && res != TEE_ERROR_ITEM_NOT_FOUND &&
	    res != TEE_ERROR_SHORT_BUFFER && res != TEE_ERROR_CORRUPT_OBJECT &&
	    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

TEE_Result TEE_GetObjectValueAttribute(TEE_ObjectHandle object,
				       uint32_t attributeID, uint32_t *a,
				       uint32_t *b)
{
	TEE_ObjectHandle o = sim_obj_check(object);

	if (!(attributeID & TEE_ATTR_FLAG_VALUE) ||
	    !(o->flags & TEE_HANDLE_FLAG_INITIALIZED))
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	if (!(attributeID & TEE_ATTR_FLAG_PUBLIC) &&
	    !(o->usage & TEE_USAGE_EXTRACTABLE))
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	if (!o->pkey || !type_has_attr(o->type, attributeID))
		return TEE_ERROR_ITEM_NOT_FOUND;
	/* The only value attribute of our key types is the ECC curve. */
	if (a)
		*a = o->curve;
	if (b)
		*b = 0;
	return TEE_SUCCESS;
}

void TEE_CloseObject(TEE_ObjectHandle object)
{
	TEE_ObjectHandle o;

	if (object == TEE_HANDLE_NULL)
		return;
	o = sim_obj_check(object);
	if (o->pobj)
		sim_pobj_close(o);
	sim_obj_destroy(o);
}

/* ---- Transient objects --------------------------------------------------- */

TEE_Result TEE_AllocateTransientObject(TEE_ObjectType objectType,
				       uint32_t maxObjectSize,
				       TEE_ObjectHandle *object)
{
	TEE_ObjectHandle o;
	TEE_Result res;

	if (!object)
		TEE_Panic(0);
	*object = TEE_HANDLE_NULL;
	res = sim_check_key_size(objectType, maxObjectSize);
	if (res != TEE_SUCCESS)
		return res;
	o = sim_obj_alloc();
	if (!o)
		return TEE_ERROR_OUT_OF_MEMORY;
	o->type = objectType;
	o->max_size = maxObjectSize;
	*object = o;
	return TEE_SUCCESS;
}

static TEE_ObjectHandle check_transient(TEE_ObjectHandle object)
{
	TEE_ObjectHandle o = sim_obj_check(object);

	if (o->flags & TEE_HANDLE_FLAG_PERSISTENT)
		TEE_Panic(0);
	return o;
}

void TEE_FreeTransientObject(TEE_ObjectHandle object)
{
	if (object == TEE_HANDLE_NULL)
		return;
	sim_obj_destroy(check_transient(object));
}

void TEE_ResetTransientObject(TEE_ObjectHandle object)
{
	TEE_ObjectHandle o;

	if (object == TEE_HANDLE_NULL)
		return;
	o = check_transient(object);
	obj_clear_key(o);
	o->usage = TEE_USAGE_DEFAULT;
	o->flags &= ~TEE_HANDLE_FLAG_INITIALIZED;
}

void TEE_InitRefAttribute(TEE_Attribute *attr, uint32_t attributeID,
			  const void *buffer, size_t length)
{
	if (!attr || (attributeID & TEE_ATTR_FLAG_VALUE))
		TEE_Panic(0);
	attr->attributeID = attributeID;
	attr->content.ref.buffer = (void *)buffer;
	attr->content.ref.length = length;
}

void TEE_InitValueAttribute(TEE_Attribute *attr, uint32_t attributeID,
			    uint32_t a, uint32_t b)
{
	if (!attr || !(attributeID & TEE_ATTR_FLAG_VALUE))
		TEE_Panic(0);
	attr->attributeID = attributeID;
	attr->content.value.a = a;
	attr->content.value.b = b;
}

static EVP_PKEY *public_part(EVP_PKEY *pkey)
{
	uint8_t *der = NULL;
	const uint8_t *p;
	EVP_PKEY *pub;
	int n = i2d_PUBKEY(pkey, &der);

	if (n <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return pub;
}

static uint32_t public_type_of(uint32_t keypair_type)
{
	return keypair_type & ~0x01000000u;
}

TEE_Result sim_obj_copy_key(TEE_ObjectHandle dst, TEE_ObjectHandle src)
{
	EVP_PKEY *pkey;

	if (!(src->flags & TEE_HANDLE_FLAG_INITIALIZED) ||
	    (dst->flags & (TEE_HANDLE_FLAG_PERSISTENT |
			   TEE_HANDLE_FLAG_INITIALIZED)))
		return TEE_ERROR_BAD_PARAMETERS;
	if (src->size > dst->max_size)
		return TEE_ERROR_BAD_PARAMETERS;
	if (dst->type == src->type) {
		if (!src->pkey || !EVP_PKEY_up_ref(src->pkey))
			return TEE_ERROR_BAD_PARAMETERS;
		pkey = src->pkey;
	} else if (sim_type_is_keypair(src->type) &&
		   dst->type == public_type_of(src->type)) {
		pkey = public_part(src->pkey);
		if (!pkey)
			return TEE_ERROR_GENERIC;
	} else {
		return TEE_ERROR_BAD_PARAMETERS;
	}
	dst->pkey = pkey;
	dst->size = src->size;
	dst->curve = src->curve;
	dst->usage = src->usage;
	dst->flags |= TEE_HANDLE_FLAG_INITIALIZED;
	return TEE_SUCCESS;
}

TEE_Result TEE_CopyObjectAttributes1(TEE_ObjectHandle destObject,
				     TEE_ObjectHandle srcObject)
{
	TEE_ObjectHandle dst = sim_obj_check(destObject);
	TEE_ObjectHandle src = sim_obj_check(srcObject);
	TEE_Result res;

	if (!(src->flags & TEE_HANDLE_FLAG_INITIALIZED) ||
	    (dst->flags & (TEE_HANDLE_FLAG_PERSISTENT |
			   TEE_HANDLE_FLAG_INITIALIZED)))
		TEE_Panic(0);
	res = sim_obj_copy_key(dst, src);
	if (res != TEE_SUCCESS)
		TEE_Panic(res);
	return res;
}

void TEE_CopyObjectAttributes(TEE_ObjectHandle destObject,
			      TEE_ObjectHandle srcObject)
{
	(void)TEE_CopyObjectAttributes1(destObject, srcObject);
}

/* ---- Key generation ------------------------------------------------------ */

/* OP-TEE's rule for a caller-chosen RSA public exponent: odd, at least
 * 65537, at most 256 bits. */
static TEE_Result check_rsa_exponent(const BIGNUM *e)
{
	if (BN_num_bits(e) > 256 || !BN_is_odd(e) ||
	    BN_cmp(e, BN_value_one()) <= 0 || BN_num_bits(e) < 17)
		return TEE_ERROR_BAD_PARAMETERS;
	return TEE_SUCCESS;
}

static TEE_Result gen_rsa(TEE_ObjectHandle o, uint32_t bits,
			  const TEE_Attribute *exp_attr)
{
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *e = NULL;
	TEE_Result res = TEE_ERROR_BAD_PARAMETERS;

	if (exp_attr) {
		e = BN_bin2bn(exp_attr->content.ref.buffer,
			      (int)exp_attr->content.ref.length, NULL);
		if (!e)
			return TEE_ERROR_OUT_OF_MEMORY;
		res = check_rsa_exponent(e);
		if (res != TEE_SUCCESS)
			goto out;
	} else {
		e = BN_new();
		if (!e || !BN_set_word(e, 65537)) {
			res = TEE_ERROR_OUT_OF_MEMORY;
			goto out;
		}
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0 ||
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0 ||
	    EVP_PKEY_generate(ctx, &o->pkey) <= 0) {
		/* OpenSSL refuses moduli below 512 bits; OP-TEE would not. */
		EMSG("RSA-%" PRIu32 " key generation failed", bits);
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	res = TEE_SUCCESS;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	BN_free(e);
	return res;
}

TEE_Result TEE_GenerateKey(TEE_ObjectHandle object, uint32_t keySize,
			   const TEE_Attribute *params, uint32_t paramCount)
{
	TEE_ObjectHandle o = sim_obj_check(object);
	const TEE_Attribute *exp_attr = NULL;
	const TEE_Attribute *curve_attr = NULL;
	TEE_Result res;
	uint32_t n;

	if (paramCount && !params)
		TEE_Panic(0);
	if (o->flags & (TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED))
		TEE_Panic(TEE_ERROR_BAD_STATE);
	if (!sim_type_is_keypair(o->type))
		TEE_Panic(TEE_ERROR_BAD_FORMAT);
	res = sim_check_key_size(o->type, keySize);
	if (res != TEE_SUCCESS)
		TEE_Panic(res);
	if (keySize > o->max_size) {
		EMSG("keySize %" PRIu32 " > maxObjectSize %" PRIu32,
		     keySize, o->max_size);
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}

	/* Only attributes meant for generation, each at most once. */
	for (n = 0; n < paramCount; n++) {
		uint32_t id = params[n].attributeID;

		if (o->type == TEE_TYPE_RSA_KEYPAIR &&
		    id == TEE_ATTR_RSA_PUBLIC_EXPONENT && !exp_attr)
			exp_attr = &params[n];
		else if (o->type == TEE_TYPE_ECDSA_KEYPAIR &&
			 id == TEE_ATTR_ECC_CURVE && !curve_attr)
			curve_attr = &params[n];
		else
			TEE_Panic(TEE_ERROR_ITEM_NOT_FOUND);
	}

	switch (o->type) {
	case TEE_TYPE_RSA_KEYPAIR:
		res = gen_rsa(o, keySize, exp_attr);
		break;
	case TEE_TYPE_ECDSA_KEYPAIR: {
		uint32_t curve;

		if (!curve_attr)
			TEE_Panic(TEE_ERROR_ITEM_NOT_FOUND);
		curve = curve_attr->content.value.a;
		if (!sim_curve_bits(curve))
			TEE_Panic(TEE_ERROR_NOT_SUPPORTED);
		if (sim_curve_bits(curve) != keySize) {
			res = TEE_ERROR_BAD_PARAMETERS;
			break;
		}
		o->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					    curve_group_name(curve));
		if (!o->pkey)
			TEE_Panic(TEE_ERROR_GENERIC);
		o->curve = curve;
		res = TEE_SUCCESS;
		break;
	}
	case TEE_TYPE_ED25519_KEYPAIR:
		o->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (!o->pkey)
			TEE_Panic(TEE_ERROR_GENERIC);
		res = TEE_SUCCESS;
		break;
	default:
		TEE_Panic(TEE_ERROR_BAD_FORMAT);
	}
	if (res == TEE_SUCCESS) {
		o->size = keySize;
		o->flags |= TEE_HANDLE_FLAG_INITIALIZED;
	} else if (res != TEE_ERROR_BAD_PARAMETERS) {
		TEE_Panic(res);
	}
	return res;
}
