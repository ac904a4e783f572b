/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * EC keys of the optee ENGINE: an EC_KEY_METHOD (a copy of the default
 * one) whose ECDSA signing goes to the TA. Verification, ECDH and every
 * key that is not ours stay with the default implementation. OpenSSL's
 * built-in EVP_PKEY_METHOD for EC reaches sign through ECDSA_sign, so no
 * EVP_PKEY_METHOD of our own is needed for EC.
 */
#include <string.h>

#include <openssl/ec.h>
#include <openssl/bn.h>
#include <openssl/objects.h>

#include "engine_local.h"

static EC_KEY_METHOD *ec_meth;
static int ec_ex_idx = -1;	/* allocated once per load of the module */

typedef int (*ec_sign_fn)(int type, const unsigned char *dgst, int dlen,
			  unsigned char *sig, unsigned int *siglen,
			  const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey);
typedef int (*ec_sign_setup_fn)(EC_KEY *eckey, BN_CTX *ctx, BIGNUM **kinv,
				BIGNUM **r);
typedef ECDSA_SIG *(*ec_sign_sig_fn)(const unsigned char *dgst, int dlen,
				     const BIGNUM *kinv, const BIGNUM *r,
				     EC_KEY *eckey);
static ec_sign_fn orig_sign;
static ec_sign_setup_fn orig_sign_setup;
static ec_sign_sig_fn orig_sign_sig;

static const char *ec_label(const EC_KEY *ec)
{
	if (ec == NULL || ec_ex_idx < 0)
		return NULL;
	return EC_KEY_get_ex_data(ec, ec_ex_idx);
}

/*
 * The TA takes digests of 20..64 bytes. A shorter input (pkeyutl on raw
 * data) is left-padded with zeros: as an integer, and thus for ECDSA's
 * truncation to the order size, that changes nothing.
 */
static int ecdsa_tee(const char *label, const unsigned char *dgst, int dlen,
		     unsigned char *sig, size_t *sig_len, int flags)
{
	unsigned char padded[20];
	int rc;

	if (dlen < 0 || dlen > OTLS_MAX_DIGEST) {
		OPTEE_ERR(OPTEE_R_INVALID_INPUT,
			  "key '%s': ECDSA input of %d bytes (at most %d)",
			  label, dlen, OTLS_MAX_DIGEST);
		return 0;
	}
	if (dlen < (int)sizeof(padded)) {
		memset(padded, 0, sizeof(padded));
		memcpy(padded + sizeof(padded) - dlen, dgst, (size_t)dlen);
		dgst = padded;
		dlen = sizeof(padded);
	}
	rc = otls_sign(label, OTLS_ALG_ECDSA, 0, dgst, (size_t)dlen, sig,
		       sig_len, flags);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "ECDSA signing with");
		return 0;
	}
	return 1;
}

static int ec_sign(int type, const unsigned char *dgst, int dlen,
		   unsigned char *sig, unsigned int *siglen,
		   const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	const char *label = ec_label(eckey);
	size_t len;

	if (label == NULL)
		return orig_sign(type, dgst, dlen, sig, siglen, kinv, r, eckey);
	/* ECDSA_sign's contract: sig has ECDSA_size(eckey) bytes. */
	len = (size_t)ECDSA_size(eckey);
	if (!ecdsa_tee(label, dgst, dlen, sig, &len, OTLS_SIG_ECDSA_DER))
		return 0;
	*siglen = (unsigned int)len;
	return 1;
}

static int ec_sign_setup(EC_KEY *eckey, BN_CTX *ctx, BIGNUM **kinv, BIGNUM **r)
{
	const char *label = ec_label(eckey);

	if (label == NULL)
		return orig_sign_setup(eckey, ctx, kinv, r);
	OPTEE_ERR(OPTEE_R_NOT_SUPPORTED_BY_TA,
		  "key '%s': ECDSA precomputation is done inside the TEE", label);
	return 0;
}

static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dlen,
			      const BIGNUM *kinv, const BIGNUM *r,
			      EC_KEY *eckey)
{
	const char *label = ec_label(eckey);
	unsigned char raw[2 * 66];
	size_t len = sizeof(raw), half;
	BIGNUM *br, *bs;
	ECDSA_SIG *sig;

	if (label == NULL)
		return orig_sign_sig(dgst, dlen, kinv, r, eckey);
	if (!ecdsa_tee(label, dgst, dlen, raw, &len, OTLS_SIG_ECDSA_RAW))
		return NULL;
	if (len == 0 || len % 2 != 0) {
		OPTEE_ERR(OPTEE_R_TEE_FAILURE,
			  "key '%s': ECDSA signature of odd length %zu", label,
			  len);
		return NULL;
	}
	half = len / 2;
	br = BN_bin2bn(raw, (int)half, NULL);
	bs = BN_bin2bn(raw + half, (int)half, NULL);
	sig = ECDSA_SIG_new();
	if (br == NULL || bs == NULL || sig == NULL ||
	    !ECDSA_SIG_set0(sig, br, bs)) {
		BN_free(br);
		BN_free(bs);
		ECDSA_SIG_free(sig);
		OPTEE_ERR(OPTEE_R_INTERNAL, "out of memory");
		return NULL;
	}
	return sig;
}

const EC_KEY_METHOD *engine_ec_method(void)
{
	return ec_meth;
}

static int curve_nid(uint32_t bits)
{
	switch (bits) {
	case 256: return NID_X9_62_prime256v1;
	case 384: return NID_secp384r1;
	case 521: return NID_secp521r1;
	default:  return NID_undef;
	}
}

EVP_PKEY *engine_ec_pkey(ENGINE *e, const otls_key_info *key,
			 const char *label)
{
	int nid = curve_nid(key->bits);
	EC_KEY *ec = NULL;
	EC_GROUP *group = NULL;
	BIGNUM *x = NULL, *y = NULL;
	EVP_PKEY *pkey = NULL;

	if (nid == NID_undef) {
		OPTEE_ERR(OPTEE_R_UNSUPPORTED, "key '%s': EC key of %u bits",
			  label, key->bits);
		return NULL;
	}
	ec = EC_KEY_new_method(e);
	group = EC_GROUP_new_by_curve_name(nid);
	x = BN_bin2bn(key->pub_a, (int)key->pub_a_len, NULL);
	y = BN_bin2bn(key->pub_b, (int)key->pub_b_len, NULL);
	if (ec == NULL || group == NULL || x == NULL || y == NULL)
		goto fail;
	EC_GROUP_set_asn1_flag(group, OPENSSL_EC_NAMED_CURVE);
	if (!EC_KEY_set_group(ec, group) ||
	    !EC_KEY_set_public_key_affine_coordinates(ec, x, y) ||
	    !EC_KEY_set_ex_data(ec, ec_ex_idx, (void *)label))
		goto fail;
	pkey = EVP_PKEY_new();
	if (pkey == NULL || !EVP_PKEY_assign_EC_KEY(pkey, ec))
		goto fail;
	EC_GROUP_free(group);
	BN_free(x);
	BN_free(y);
	return pkey;
fail:
	EVP_PKEY_free(pkey);
	EC_KEY_free(ec);
	EC_GROUP_free(group);
	BN_free(x);
	BN_free(y);
	OPTEE_ERR(OPTEE_R_INTERNAL, "cannot build EC key '%s'", label);
	return NULL;
}

int engine_ec_init(void)
{
	const EC_KEY_METHOD *def = EC_KEY_OpenSSL();

	if (ec_ex_idx < 0)
		ec_ex_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (ec_ex_idx < 0)
		return 0;
	EC_KEY_METHOD_get_sign(def, &orig_sign, &orig_sign_setup,
			       &orig_sign_sig);
	if (orig_sign == NULL || orig_sign_setup == NULL ||
	    orig_sign_sig == NULL)
		return 0;
	ec_meth = EC_KEY_METHOD_new(def);
	if (ec_meth == NULL)
		return 0;
	EC_KEY_METHOD_set_sign(ec_meth, ec_sign, ec_sign_setup, ec_sign_sig);
	return 1;
}

void engine_ec_cleanup(void)
{
	/* EC_KEY_METHOD_free does not accept NULL in every release. */
	if (ec_meth != NULL)
		EC_KEY_METHOD_free(ec_meth);
	ec_meth = NULL;
}
