/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Key management for EC (P-256/384/521), RSA, RSA-PSS and Ed25519 keys
 * held in the TA.
 *
 * - Keys come from the TA (generate, or load from a reference that our
 *   store/decoder checked) and carry only public parts.
 * - Public parts import and export freely, so that matching against a
 *   certificate, printing and verification work with other providers.
 * - Export of a selection with the private key fails for a TEE key: OpenSSL
 *   then runs the operation (signature) in this provider.
 *
 * Key generation parameters: "label" (required), "group" (EC), "bits"
 * (RSA), "e" (RSA, 65537 only), "policy" (optional, see parse_policy).
 * RSA-PSS keys are RSA keys whose TA policy allows PSS only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include "key.h"

/* ---- new / free / dup / has / match ---------------------------------- */

static void *km_new(void *provctx, int ktype)
{
	return optee_key_new(provctx, ktype);
}

static void km_free(void *keydata)
{
	optee_key_free(keydata);
}

static void *km_dup(const void *keydata, int selection)
{
	(void)selection;
	return optee_key_dup(keydata);
}

static int km_has(const void *keydata, int selection)
{
	const optee_key *key = keydata;
	int ok = 1;

	if (key == NULL)
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
		ok = ok && key->has_pub;
	if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
		ok = ok && key->has_ref;
	if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
		ok = ok && key->info.bits != 0;
	return ok;
}

static int km_match(const void *k1, const void *k2, int selection)
{
	const optee_key *a = k1, *b = k2;

	if (a->ktype != b->ktype && !((a->ktype == OPTEE_KT_RSA
				       || a->ktype == OPTEE_KT_RSA_PSS)
				      && (b->ktype == OPTEE_KT_RSA
					  || b->ktype == OPTEE_KT_RSA_PSS)))
		return 0;
	if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)
		return optee_key_pub_equal(a, b);
	if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
		return a->info.bits == b->info.bits;
	return 1;
}

/* ---- import (public parts only) -------------------------------------- */

static int bn_param_to(const OSSL_PARAM *p, unsigned char *dst, size_t *len,
		       int pad_to_bits, size_t *bits_out)
{
	BIGNUM *bn = NULL;
	int ok = 0, n;
	size_t want;

	if (!OSSL_PARAM_get_BN(p, &bn))
		return 0;
	n = BN_num_bytes(bn);
	if (bits_out != NULL)
		*bits_out = (size_t)BN_num_bits(bn);
	want = pad_to_bits ? ((size_t)BN_num_bits(bn) + 7) / 8 : (size_t)n;
	if (want == 0)
		want = 1;
	if (want <= OTLS_MAX_PUB_PART
	    && BN_bn2binpad(bn, dst, (int)want) == (int)want) {
		*len = want;
		ok = 1;
	}
	BN_free(bn);
	return ok;
}

/* EC point (any form) -> X, Y through another provider. */
static int ec_point_to_xy(optee_key *key, const char *group,
			  const unsigned char *pt, size_t ptlen)
{
	size_t q = (key->info.bits + 7) / 8;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *x = NULL, *y = NULL;
	OSSL_PARAM params[3];
	int ok = 0;

	if (ptlen == 1 + 2 * q && pt[0] == 0x04) {
		memcpy(key->info.pub_a, pt + 1, q);
		memcpy(key->info.pub_b, pt + 1 + q, q);
		key->info.pub_a_len = key->info.pub_b_len = q;
		return 1;
	}
	/* Compressed or hybrid: let the other provider decode it. */
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      (void *)pt, ptlen);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(key->prov->libctx, "EC",
					 OPTEE_DELEGATE_PROPQ);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0
	    || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0
	    || !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x)
	    || !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y))
		goto end;
	if (BN_bn2binpad(x, key->info.pub_a, (int)q) != (int)q
	    || BN_bn2binpad(y, key->info.pub_b, (int)q) != (int)q)
		goto end;
	key->info.pub_a_len = key->info.pub_b_len = q;
	ok = 1;
end:
	BN_free(x);
	BN_free(y);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	optee_key *key = keydata;
	const OSSL_PARAM *p;

	if (key == NULL || key->has_ref)
		return 0;
	/* Private material never enters this provider. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
	    && (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY)
		|| OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D)))
		return 0;

	switch (key->ktype) {
	case OPTEE_KT_EC: {
		const char *group = NULL;
		uint32_t bits;

		p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
		if (p == NULL || !OSSL_PARAM_get_utf8_string_ptr(p, &group))
			return 0;
		bits = optee_ec_group_bits(group);
		if (bits == 0)
			return 0;	/* a curve the TEE does not do */
		key->info.key_type = OTLS_KEY_EC;
		key->info.bits = bits;
		if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
			const void *pt = NULL;
			size_t ptlen = 0;

			p = OSSL_PARAM_locate_const(params,
						    OSSL_PKEY_PARAM_PUB_KEY);
			if (p == NULL)
				p = OSSL_PARAM_locate_const(params,
					OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
			if (p != NULL) {
				if (!OSSL_PARAM_get_octet_string_ptr(p, &pt,
								     &ptlen)
				    || !ec_point_to_xy(key, group, pt, ptlen))
					return 0;
				key->has_pub = 1;
			}
		}
		return 1;
	}
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS: {
		const OSSL_PARAM *pn, *pe;
		size_t nbits = 0;

		if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
			return 1;	/* (RSA-PSS restrictions ignored) */
		pn = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
		pe = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
		if (pn == NULL || pe == NULL)
			return 0;
		if (!bn_param_to(pn, key->info.pub_a, &key->info.pub_a_len, 1,
				 &nbits)
		    || !bn_param_to(pe, key->info.pub_b, &key->info.pub_b_len,
				    0, NULL))
			return 0;
		key->info.key_type = OTLS_KEY_RSA;
		key->info.bits = (uint32_t)nbits;
		key->has_pub = 1;
		return 1;
	}
	case OPTEE_KT_ED25519: {
		const void *pub = NULL;
		size_t len = 0;

		key->info.key_type = OTLS_KEY_ED25519;
		key->info.bits = 256;
		if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
			return 1;
		p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
		if (p == NULL || !OSSL_PARAM_get_octet_string_ptr(p, &pub, &len)
		    || len != 32)
			return 0;
		memcpy(key->info.pub_a, pub, 32);
		key->info.pub_a_len = 32;
		key->info.pub_b_len = 0;
		key->has_pub = 1;
		return 1;
	}
	}
	return 0;
}

static const OSSL_PARAM ec_types[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};
static const OSSL_PARAM ec_param_types[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_END
};
static const OSSL_PARAM rsa_types[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};
static const OSSL_PARAM ed_types[] = {
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};
static const OSSL_PARAM no_types[] = { OSSL_PARAM_END };

static const OSSL_PARAM *ec_io_types(int selection)
{
	if (selection & OSSL_KEYMGMT_SELECT_KEYPAIR)
		return ec_types;
	if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
		return ec_param_types;
	return no_types;
}

static const OSSL_PARAM *rsa_io_types(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) ? rsa_types : no_types;
}

static const OSSL_PARAM *ed_io_types(int selection)
{
	return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) ? ed_types : no_types;
}

/* ---- export (public parts only) -------------------------------------- */

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb,
		     void *cbarg)
{
	optee_key *key = keydata;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char pt[1 + 2 * 66];
	size_t ptlen;
	int ok = 0;

	if (key == NULL)
		return 0;
	/*
	 * The private key stays in the TEE. Failing here is what makes
	 * OpenSSL run the signature in this provider rather than export the
	 * key to another one.
	 */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && key->has_ref)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && !key->has_pub)
		return 0;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return 0;

	switch (key->ktype) {
	case OPTEE_KT_EC:
		if (selection & (OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS
				 | OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
			if (!OSSL_PARAM_BLD_push_utf8_string(bld,
					OSSL_PKEY_PARAM_GROUP_NAME,
					optee_ec_group_name(key->info.bits), 0))
				goto end;
		if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
			ptlen = optee_key_encoded_pub(key, pt, sizeof(pt));
			if (ptlen == 0
			    || !OSSL_PARAM_BLD_push_octet_string(bld,
					OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen))
				goto end;
		}
		break;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) {
			n = BN_bin2bn(key->info.pub_a, (int)key->info.pub_a_len,
				      NULL);
			e = BN_bin2bn(key->info.pub_b, (int)key->info.pub_b_len,
				      NULL);
			if (n == NULL || e == NULL
			    || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
			    || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
				goto end;
		}
		break;
	case OPTEE_KT_ED25519:
		if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
			if (!OSSL_PARAM_BLD_push_octet_string(bld,
					OSSL_PKEY_PARAM_PUB_KEY,
					key->info.pub_a, key->info.pub_a_len))
				goto end;
		break;
	default:
		goto end;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params != NULL)
		ok = cb(params, cbarg);
end:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return ok;
}

/* ---- get_params ------------------------------------------------------ */

static const char *default_digest(const optee_key *key)
{
	switch (key->ktype) {
	case OPTEE_KT_EC:	/* the default provider: SHA-256 for every curve */
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		return "SHA256";
	}
	return NULL;
}

/* Set the BIGNUM parameter NAME, if asked for, from big-endian bytes. */
static int set_bn_param(OSSL_PARAM params[], const char *name,
			const unsigned char *be, size_t len)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, name);
	BIGNUM *bn;
	int ok;

	if (p == NULL)
		return 1;
	bn = BN_bin2bn(be, (int)len, NULL);
	ok = bn != NULL && OSSL_PARAM_set_BN(p, bn);
	BN_free(bn);
	return ok;
}

/* Set the octet-string parameter NAME, if asked for; LEN 0 (nothing to
 * give) fails. */
static int set_octet_param(OSSL_PARAM params[], const char *name,
			   const unsigned char *buf, size_t len)
{
	OSSL_PARAM *p = OSSL_PARAM_locate(params, name);

	return p == NULL || (len != 0 && OSSL_PARAM_set_octet_string(p, buf, len));
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
	optee_key *key = keydata;
	OSSL_PARAM *p;
	unsigned char pt[1 + 2 * 66];
	size_t ptlen;

	if (key == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL
	    && !OSSL_PARAM_set_int(p, optee_key_bits(key)))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS))
	    != NULL && !OSSL_PARAM_set_int(p, optee_key_security_bits(key)))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL
	    && !OSSL_PARAM_set_int(p, (int)optee_key_sig_size(key)))
		return 0;

	if (key->ktype == OPTEE_KT_ED25519) {
		/* No digest: PureEdDSA hashes inside. */
		if ((p = OSSL_PARAM_locate(params,
					   OSSL_PKEY_PARAM_MANDATORY_DIGEST))
		    != NULL && !OSSL_PARAM_set_utf8_string(p, ""))
			return 0;
	} else if ((p = OSSL_PARAM_locate(params,
					  OSSL_PKEY_PARAM_DEFAULT_DIGEST))
		   != NULL
		   && !OSSL_PARAM_set_utf8_string(p, default_digest(key))) {
		return 0;
	}

	switch (key->ktype) {
	case OPTEE_KT_EC:
		if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME))
		    != NULL
		    && !OSSL_PARAM_set_utf8_string(p,
				optee_ec_group_name(key->info.bits)))
			return 0;
		if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_EC_ENCODING))
		    != NULL
		    && !OSSL_PARAM_set_utf8_string(p,
				OSSL_PKEY_EC_ENCODING_GROUP))
			return 0;
		if ((p = OSSL_PARAM_locate(params,
				OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT))
		    != NULL
		    && !OSSL_PARAM_set_utf8_string(p,
				OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED))
			return 0;
		/* fall through: encoded public key */
		__attribute__((fallthrough));
	case OPTEE_KT_ED25519:
		ptlen = optee_key_encoded_pub(key, pt, sizeof(pt));
		if (!set_octet_param(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
				     pt, ptlen)
		    || !set_octet_param(params, OSSL_PKEY_PARAM_PUB_KEY,
					pt, ptlen))
			return 0;
		if (key->ktype != OPTEE_KT_EC)
			break;
		if (!set_bn_param(params, OSSL_PKEY_PARAM_EC_PUB_X,
				  key->info.pub_a, key->info.pub_a_len)
		    || !set_bn_param(params, OSSL_PKEY_PARAM_EC_PUB_Y,
				     key->info.pub_b, key->info.pub_b_len))
			return 0;
		break;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		if (!set_bn_param(params, OSSL_PKEY_PARAM_RSA_N,
				  key->info.pub_a, key->info.pub_a_len)
		    || !set_bn_param(params, OSSL_PKEY_PARAM_RSA_E,
				     key->info.pub_b, key->info.pub_b_len))
			return 0;
		break;
	}
	return 1;
}

#define COMMON_GETTABLE \
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL), \
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL), \
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL)

static const OSSL_PARAM *ec_gettable(void *provctx)
{
	static const OSSL_PARAM t[] = {
		COMMON_GETTABLE,
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
				       NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
					NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_X, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_EC_PUB_Y, NULL, 0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return t;
}

static const OSSL_PARAM *rsa_gettable(void *provctx)
{
	static const OSSL_PARAM t[] = {
		COMMON_GETTABLE,
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return t;
}

static const OSSL_PARAM *ed_gettable(void *provctx)
{
	static const OSSL_PARAM t[] = {
		COMMON_GETTABLE,
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
					NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return t;
}

/* ---- load (a reference from our store or decoder) -------------------- */

static void *km_load(int ktype, const void *reference, size_t size)
{
	const struct optee_keyref *ref = reference;
	optee_key *key;

	if (ref == NULL || size != sizeof(*ref)
	    || ref->magic != OPTEE_KEYREF_MAGIC
	    || !optee_ktype_fits(ktype, ref->info.key_type))
		return NULL;
	/* The provider context is not passed to load: it is in the ref. */
	key = optee_key_new(ref->prov, ktype);
	if (key == NULL)
		return NULL;
	key->info = ref->info;
	key->has_ref = 1;
	key->has_pub = 1;
	return key;
}

/* ---- generation ------------------------------------------------------ */

struct gen_ctx {
	struct optee_prov *prov;
	int ktype;
	int selection;
	char label[OTLS_LABEL_MAX + 1];
	int have_label;
	uint32_t bits;
	struct otls_policy policy;
	int have_policy;
};

/*
 * Policy string: comma-separated words.
 *   ecdsa, pkcs1, pkcs1-digestinfo, pss, ed25519, decrypt-pkcs1,
 *   decrypt-oaep                  algorithm families allowed (default:
 *                                 every signature family of the key type)
 *   uid=N | uid=self | gid=N      only that user/group may use the key
 */
static int parse_policy(struct gen_ctx *g, const char *s)
{
	const struct optee_policy_word *words = optee_policy_words;
	char buf[256], *tok, *save = NULL;
	struct otls_policy pol = { 0, OTLS_OWNER_ANY, 0, 0 };

	if (strlen(s) >= sizeof(buf))
		return 0;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		size_t i;
		char *end;
		unsigned long v;

		if (strncmp(tok, "uid=", 4) == 0 || strncmp(tok, "gid=", 4) == 0) {
			int uid = tok[0] == 'u';

			if (strcmp(tok + 4, "self") == 0) {
				v = uid ? (unsigned long)getuid()
					: (unsigned long)getgid();
			} else {
				v = strtoul(tok + 4, &end, 10);
				if (tok[4] == '\0' || *end != '\0' || v > 0xffffffffUL)
					return 0;
			}
			pol.owner_kind = uid ? OTLS_OWNER_UID : OTLS_OWNER_GID;
			pol.owner_id = (uint32_t)v;
			continue;
		}
		for (i = 0; words[i].word != NULL; i++)
			if (strcasecmp(tok, words[i].word) == 0)
				break;
		if (words[i].word == NULL)
			return 0;
		pol.allowed |= words[i].bit;
	}
	g->policy = pol;
	g->have_policy = 1;
	return 1;
}

static void *km_gen_init(void *provctx, int ktype, int selection,
			 const OSSL_PARAM params[]);
static int km_gen_set_params(void *genctx, const OSSL_PARAM params[]);

static void *km_gen_init(void *provctx, int ktype, int selection,
			 const OSSL_PARAM params[])
{
	struct gen_ctx *g = OPENSSL_zalloc(sizeof(*g));

	if (g == NULL)
		return NULL;
	g->prov = provctx;
	g->ktype = ktype;
	g->selection = selection;
	switch (ktype) {
	case OPTEE_KT_EC:
		g->bits = 0;	/* no default curve, as the default provider */
		break;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		g->bits = 2048;
		break;
	case OPTEE_KT_ED25519:
		g->bits = 256;
		break;
	}
	if (!km_gen_set_params(g, params)) {
		OPENSSL_free(g);
		return NULL;
	}
	return g;
}

static int km_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
	struct gen_ctx *g = genctx;
	const OSSL_PARAM *p;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, "label")) != NULL) {
		const char *label = NULL;
		int rc;

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &label) || label == NULL)
			return 0;
		rc = otls_label_check(label);
		if (rc != OTLS_OK) {
			OPTEE_ERR(g->prov, OPTEE_R_MALFORMED_REF,
				  "label \"%s\": 1 to %d characters of "
				  "[A-Za-z0-9._-], starting with a letter or digit",
				  label, OTLS_LABEL_MAX);
			return 0;
		}
		strcpy(g->label, label);
		g->have_label = 1;
	}
	if ((p = OSSL_PARAM_locate_const(params, "policy")) != NULL) {
		const char *pol = NULL;

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &pol) || pol == NULL
		    || !parse_policy(g, pol)) {
			OPTEE_ERR(g->prov, OPTEE_R_BAD_PARAM,
				  "policy \"%s\": expected comma-separated ecdsa, "
				  "pkcs1, pkcs1-digestinfo, pss, ed25519, "
				  "decrypt-pkcs1, decrypt-oaep, uid=N|self, gid=N",
				  pol ? pol : "");
			return 0;
		}
	}
	if (g->ktype == OPTEE_KT_EC
	    && (p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME))
	       != NULL) {
		const char *group = NULL;

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &group) || group == NULL)
			return 0;
		g->bits = optee_ec_group_bits(group);
		if (g->bits == 0) {
			OPTEE_ERR(g->prov, OPTEE_R_UNSUPPORTED,
				  "EC group \"%s\": the TEE does P-256, P-384 "
				  "and P-521", group);
			return 0;
		}
	}
	if ((g->ktype == OPTEE_KT_RSA || g->ktype == OPTEE_KT_RSA_PSS)) {
		if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS))
		    != NULL) {
			size_t bits;

			if (!OSSL_PARAM_get_size_t(p, &bits))
				return 0;
			if (bits != 2048 && bits != 3072 && bits != 4096) {
				OPTEE_ERR(g->prov, OPTEE_R_UNSUPPORTED,
					  "RSA %zu bits: the TEE does 2048, 3072 "
					  "and 4096", bits);
				return 0;
			}
			g->bits = (uint32_t)bits;
		}
		if ((p = OSSL_PARAM_locate_const(params,
						 OSSL_PKEY_PARAM_RSA_PRIMES))
		    != NULL) {
			size_t primes;

			if (!OSSL_PARAM_get_size_t(p, &primes) || primes != 2) {
				OPTEE_ERR(g->prov, OPTEE_R_UNSUPPORTED,
					  "RSA keys in the TEE have 2 primes");
				return 0;
			}
		}
		if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E))
		    != NULL) {
			BIGNUM *e = NULL;
			int ok = OSSL_PARAM_get_BN(p, &e)
				 && BN_is_word(e, 65537);

			BN_free(e);
			if (!ok) {
				OPTEE_ERR(g->prov, OPTEE_R_UNSUPPORTED,
					  "RSA keys in the TEE have e = 65537");
				return 0;
			}
		}
	}
	return 1;
}

#define GEN_COMMON \
	OSSL_PARAM_utf8_string("label", NULL, 0), \
	OSSL_PARAM_utf8_string("policy", NULL, 0)

static const OSSL_PARAM *ec_gen_settable(void *genctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		GEN_COMMON,
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_END
	};

	(void)genctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *rsa_gen_settable(void *genctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		GEN_COMMON,
		OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
		OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_PRIMES, NULL),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END
	};

	(void)genctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *ed_gen_settable(void *genctx, void *provctx)
{
	static const OSSL_PARAM t[] = { GEN_COMMON, OSSL_PARAM_END };

	(void)genctx;
	(void)provctx;
	return t;
}

static void *km_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
	struct gen_ctx *g = genctx;
	optee_key *key;
	uint32_t ta_type;
	int rc;

	(void)cb;
	(void)cbarg;
	if (!(g->selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)) {
		OPTEE_ERR(g->prov, OPTEE_R_UNSUPPORTED,
			  "only key pairs can be generated in the TEE");
		return NULL;
	}
	if (!g->have_label) {
		OPTEE_ERR(g->prov, OPTEE_R_MISSING_LABEL,
			  "name the key: -pkeyopt label:NAME");
		return NULL;
	}
	if (g->ktype == OPTEE_KT_EC && g->bits == 0) {
		OPTEE_ERR(g->prov, OPTEE_R_BAD_PARAM,
			  "no EC curve given: -pkeyopt group:P-256 (or P-384, "
			  "P-521)");
		return NULL;
	}
	switch (g->ktype) {
	case OPTEE_KT_EC:
		ta_type = OTLS_KEY_EC;
		break;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		ta_type = OTLS_KEY_RSA;
		break;
	default:
		ta_type = OTLS_KEY_ED25519;
		break;
	}
	if (g->ktype == OPTEE_KT_RSA_PSS) {
		if (!g->have_policy) {
			memset(&g->policy, 0, sizeof(g->policy));
			g->have_policy = 1;
		}
		if (g->policy.allowed == 0)
			g->policy.allowed = OTLS_ALLOW_RSA_PSS;
		if (g->policy.allowed & ~(OTLS_ALLOW_RSA_PSS)) {
			OPTEE_ERR(g->prov, OPTEE_R_BAD_PARAM,
				  "an RSA-PSS key allows PSS signatures only");
			return NULL;
		}
	}
	key = optee_key_new(g->prov, g->ktype);
	if (key == NULL)
		return NULL;
	rc = otls_key_generate(g->label, ta_type, g->bits,
			       g->have_policy ? &g->policy : NULL, &key->info);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(g->prov, rc, g->label, "generating the key");
		optee_key_free(key);
		return NULL;
	}
	key->has_ref = 1;
	key->has_pub = 1;
	return key;
}

static void km_gen_cleanup(void *genctx)
{
	OPENSSL_clear_free(genctx, sizeof(struct gen_ctx));
}

/* ---- per-type entry points ------------------------------------------- */

static const char *ec_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *rsa_opname(int op)
{
	return (op == OSSL_OP_SIGNATURE || op == OSSL_OP_ASYM_CIPHER) ? "RSA"
									: NULL;
}

static const char *rsapss_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *ed_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

#define KM_TYPE(pfx, KT, io, gettable, gen_settable, opname)                 \
	static void *pfx##_new(void *provctx) { return km_new(provctx, KT); } \
	static void *pfx##_gen_init(void *provctx, int selection,             \
				    const OSSL_PARAM params[])                \
	{                                                                     \
		return km_gen_init(provctx, KT, selection, params);           \
	}                                                                     \
	static void *pfx##_load(const void *ref, size_t size)                 \
	{                                                                     \
		return km_load(KT, ref, size);                                \
	}                                                                     \
	const OSSL_DISPATCH optee_##pfx##_keymgmt_functions[] = {             \
		{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))pfx##_new },         \
		{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },          \
		{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup },            \
		{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },            \
		{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },        \
		{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },      \
		{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))io },       \
		{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },      \
		{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))io },       \
		{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params }, \
		{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))gettable }, \
		{ OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))pfx##_load },       \
		{ OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))pfx##_gen_init }, \
		{ OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS,                           \
		  (void (*)(void))km_gen_set_params },                        \
		{ OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS,                      \
		  (void (*)(void))gen_settable },                             \
		{ OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen },            \
		{ OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup }, \
		{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,                     \
		  (void (*)(void))opname },                                   \
		{ 0, NULL }                                                   \
	};

KM_TYPE(ec, OPTEE_KT_EC, ec_io_types, ec_gettable, ec_gen_settable, ec_opname)
KM_TYPE(rsa, OPTEE_KT_RSA, rsa_io_types, rsa_gettable, rsa_gen_settable,
	rsa_opname)
KM_TYPE(rsapss, OPTEE_KT_RSA_PSS, rsa_io_types, rsa_gettable,
	rsa_gen_settable, rsapss_opname)
KM_TYPE(ed25519, OPTEE_KT_ED25519, ed_io_types, ed_gettable, ed_gen_settable,
	ed_opname)
