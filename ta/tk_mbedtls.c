// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA, CFG_OPTEE_TLS_CRYPTO=mbedtls: private-key operations in the
 * TA itself with mbedTLS (the TA dev kit's lib/libmbedtls on OP-TEE,
 * Debian's libmbedcrypto in the simulator), for EC and RSA keys.
 *
 * Why: OP-TEE's core arithmetic (libtomcrypt by default) is far slower
 * than mbedTLS for these operations (FIELD-NOTES 6). The key is made here,
 * serialised into the data stream of its persistent object (secure
 * storage encrypts and authenticates it with the TA's storage key), read
 * back into TA memory when a session first uses it, and never returned by
 * any command.
 *
 * Only mbedTLS functions whose prototypes are the same in 2.28 and 3.6
 * are used, except the two marked below. The dev kit's configuration
 * (mbedtls_config_uta.h) has no MBEDTLS_PKCS1_V21 and no deterministic
 * ECDSA, so PSS is encoded here (RFC 8017 9.1.1) over the raw RSA private
 * operation, and ECDSA nonces come from TEE_GenerateRandom. Keys whose
 * policy allows OAEP decryption stay core objects (GP path).
 */
#include <string.h>
#include <mbedtls/version.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>
#include "ta_internal.h"

#define TK_RSA_E	65537
#define TK_MAX_COMP	6

struct otls_tk {
	uint32_t key_type;
	uint32_t bits;
	/* EC: the group stays loaded with the key, so mbedTLS keeps its
	 * precomputed multiples of the generator between signatures. */
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	mbedtls_rsa_context rsa;
};

static int tk_rng(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	TEE_GenerateRandom(buf, len);
	return 0;
}

static void rsa_ctx_init(mbedtls_rsa_context *rsa)
{
#if MBEDTLS_VERSION_MAJOR >= 3
	mbedtls_rsa_init(rsa);
#else
	mbedtls_rsa_init(rsa, MBEDTLS_RSA_PKCS_V15, 0);
#endif
}

static mbedtls_ecp_group_id ec_group(uint32_t bits)
{
	switch (bits) {
	case 256:
		return MBEDTLS_ECP_DP_SECP256R1;
	case 384:
		return MBEDTLS_ECP_DP_SECP384R1;
	default:
		return MBEDTLS_ECP_DP_SECP521R1;
	}
}

bool otls_tk_wanted(uint32_t key_type, const struct otls_policy *p)
{
	if (key_type == OTLS_KEY_EC)
		return true;
	return key_type == OTLS_KEY_RSA &&
	       !(p->allowed & OTLS_ALLOW_DECRYPT_OAEP);
}

static struct otls_tk *tk_new(uint32_t key_type, uint32_t bits)
{
	struct otls_tk *k = TEE_Malloc(sizeof(*k), TEE_MALLOC_FILL_ZERO);

	if (!k)
		return NULL;
	k->key_type = key_type;
	k->bits = bits;
	mbedtls_ecp_group_init(&k->grp);
	mbedtls_mpi_init(&k->d);
	mbedtls_ecp_point_init(&k->q);
	rsa_ctx_init(&k->rsa);
	return k;
}

void otls_tk_free(struct otls_tk *k)
{
	if (!k)
		return;
	mbedtls_ecp_group_free(&k->grp);
	mbedtls_mpi_free(&k->d);		/* zeroises */
	mbedtls_ecp_point_free(&k->q);
	mbedtls_rsa_free(&k->rsa);		/* zeroises */
	TEE_Free(k);
}

/* ---- Serialisation: a sequence of (u32 length, big-endian bytes) ------ */

static TEE_Result put_mpi(const mbedtls_mpi *x, uint8_t *buf, size_t max,
			  size_t *pos)
{
	size_t n = mbedtls_mpi_size(x);
	uint32_t len = n;

	if (*pos + 4 + n > max)
		return TEE_ERROR_GENERIC;
	memcpy(buf + *pos, &len, 4);
	if (mbedtls_mpi_write_binary(x, buf + *pos + 4, n))
		return TEE_ERROR_GENERIC;
	*pos += 4 + n;
	return TEE_SUCCESS;
}

static TEE_Result get_mpi(mbedtls_mpi *x, const uint8_t *buf, size_t len,
			  size_t *pos)
{
	uint32_t n = 0;

	if (len - *pos < 4)
		return TEE_ERROR_CORRUPT_OBJECT;
	memcpy(&n, buf + *pos, 4);
	if (!n || n > len - *pos - 4 || n > OTLS_MAX_PUB_PART)
		return TEE_ERROR_CORRUPT_OBJECT;
	if (mbedtls_mpi_read_binary(x, buf + *pos + 4, n))
		return TEE_ERROR_OUT_OF_MEMORY;
	*pos += 4 + n;
	return TEE_SUCCESS;
}

static TEE_Result tk_save(struct otls_tk *k, uint8_t *buf, size_t max,
			  size_t *len)
{
	mbedtls_mpi comp[5];
	size_t pos = 0;
	size_t n = 0;
	TEE_Result res = TEE_SUCCESS;

	if (k->key_type == OTLS_KEY_EC)
		return put_mpi(&k->d, buf, max, len);

	for (n = 0; n < 5; n++)
		mbedtls_mpi_init(&comp[n]);
	/* N, P, Q, D, E: enough for mbedtls_rsa_complete() on load. */
	if (mbedtls_rsa_export(&k->rsa, &comp[0], &comp[1], &comp[2],
			       &comp[3], &comp[4]))
		res = TEE_ERROR_GENERIC;
	for (n = 0; !res && n < 5; n++)
		res = put_mpi(&comp[n], buf, max, &pos);
	for (n = 0; n < 5; n++)
		mbedtls_mpi_free(&comp[n]);
	*len = pos;
	return res;
}

/* Checks that make a damaged or foreign blob an error, not a bad key. */
static TEE_Result tk_complete(struct otls_tk *k)
{
	if (k->key_type == OTLS_KEY_EC) {
		if (mbedtls_ecp_group_load(&k->grp, ec_group(k->bits)))
			return TEE_ERROR_OUT_OF_MEMORY;
		if (mbedtls_ecp_check_privkey(&k->grp, &k->d))
			return TEE_ERROR_CORRUPT_OBJECT;
		/* Q = d G: also warms the group's precomputed table. */
		if (mbedtls_ecp_mul(&k->grp, &k->q, &k->d, &k->grp.G, tk_rng,
				    NULL))
			return TEE_ERROR_OUT_OF_MEMORY;
		return TEE_SUCCESS;
	}
	if (mbedtls_rsa_complete(&k->rsa) ||
	    mbedtls_rsa_check_privkey(&k->rsa) ||
	    mbedtls_rsa_get_len(&k->rsa) != k->bits / 8)
		return TEE_ERROR_CORRUPT_OBJECT;
	return TEE_SUCCESS;
}

TEE_Result otls_tk_load(const struct otls_record *rec, const uint8_t *blob,
			size_t len, struct otls_tk **out)
{
	mbedtls_mpi comp[5];
	struct otls_tk *k = NULL;
	size_t pos = 0;
	size_t n = 0;
	TEE_Result res = TEE_SUCCESS;

	if (rec->key_type != OTLS_KEY_EC && rec->key_type != OTLS_KEY_RSA)
		return TEE_ERROR_CORRUPT_OBJECT;
	k = tk_new(rec->key_type, rec->bits);
	if (!k)
		return TEE_ERROR_OUT_OF_MEMORY;
	if (k->key_type == OTLS_KEY_EC) {
		res = get_mpi(&k->d, blob, len, &pos);
	} else {
		for (n = 0; n < 5; n++)
			mbedtls_mpi_init(&comp[n]);
		for (n = 0; !res && n < 5; n++)
			res = get_mpi(&comp[n], blob, len, &pos);
		if (!res && mbedtls_rsa_import(&k->rsa, &comp[0], &comp[1],
					       &comp[2], &comp[3], &comp[4]))
			res = TEE_ERROR_CORRUPT_OBJECT;
		for (n = 0; n < 5; n++)
			mbedtls_mpi_free(&comp[n]);
	}
	if (!res && pos != len)
		res = TEE_ERROR_CORRUPT_OBJECT;
	if (!res)
		res = tk_complete(k);
	if (res) {
		otls_tk_free(k);
		return res;
	}
	*out = k;
	return TEE_SUCCESS;
}

TEE_Result otls_tk_generate(uint32_t key_type, uint32_t bits,
			    struct otls_tk **out, uint8_t *blob, size_t max,
			    size_t *blob_len)
{
	struct otls_tk *k = tk_new(key_type, bits);
	TEE_Result res = TEE_SUCCESS;

	if (!k)
		return TEE_ERROR_OUT_OF_MEMORY;
	if (key_type == OTLS_KEY_EC) {
		if (mbedtls_ecp_group_load(&k->grp, ec_group(bits)) ||
		    mbedtls_ecp_gen_keypair(&k->grp, &k->d, &k->q, tk_rng,
					    NULL))
			res = TEE_ERROR_OUT_OF_MEMORY;
	} else if (key_type == OTLS_KEY_RSA) {
		if (mbedtls_rsa_gen_key(&k->rsa, tk_rng, NULL, bits,
					TK_RSA_E))
			res = TEE_ERROR_OUT_OF_MEMORY;
	} else {
		res = TEE_ERROR_NOT_SUPPORTED;
	}
	if (!res)
		res = tk_save(k, blob, max, blob_len);
	if (res) {
		otls_tk_free(k);
		return res;
	}
	*out = k;
	return TEE_SUCCESS;
}

/* Public components, same layout as the GP path's description. */
TEE_Result otls_tk_public(struct otls_tk *k, uint8_t *a, size_t a_len,
			  uint8_t *b, size_t b_max, size_t *b_len)
{
	mbedtls_mpi e;
	int rc = 0;

	if (k->key_type == OTLS_KEY_EC) {
		/* 04 || X || Y (the point's fields are private in 3.x). */
		uint8_t pt[1 + 2 * 66];
		size_t olen = 0;

		if (2 * a_len + 1 > sizeof(pt) || a_len > b_max ||
		    mbedtls_ecp_point_write_binary(&k->grp, &k->q,
						   MBEDTLS_ECP_PF_UNCOMPRESSED,
						   &olen, pt, sizeof(pt)) ||
		    olen != 2 * a_len + 1)
			return TEE_ERROR_GENERIC;
		memcpy(a, pt + 1, a_len);
		memcpy(b, pt + 1 + a_len, a_len);
		*b_len = a_len;
		return TEE_SUCCESS;
	}
	mbedtls_mpi_init(&e);
	rc = mbedtls_rsa_export(&k->rsa, NULL, NULL, NULL, NULL, &e);
	if (!rc && mbedtls_mpi_size(&e) > b_max)
		rc = -1;
	if (!rc) {
		*b_len = mbedtls_mpi_size(&e);
		rc = mbedtls_mpi_write_binary(&e, b, *b_len);
	}
	mbedtls_mpi_free(&e);
	if (rc || mbedtls_rsa_export_raw(&k->rsa, a, a_len, NULL, 0, NULL, 0,
					 NULL, 0, NULL, 0))
		return TEE_ERROR_GENERIC;
	return TEE_SUCCESS;
}

/* ---- ECDSA ----------------------------------------------------------- */

TEE_Result otls_tk_ecdsa(struct otls_tk *k, const uint8_t *digest,
			 size_t len, uint8_t *sig, size_t half)
{
	mbedtls_mpi r, s;
	TEE_Result res = TEE_ERROR_GENERIC;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* mbedTLS uses the leftmost bits of the digest (SEC 1 4.1.3). */
	if (!mbedtls_ecdsa_sign(&k->grp, &r, &s, &k->d, digest, len, tk_rng,
				NULL) &&
	    !mbedtls_mpi_write_binary(&r, sig, half) &&
	    !mbedtls_mpi_write_binary(&s, sig + half, half))
		res = TEE_SUCCESS;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return res;
}

/* ---- RSA ------------------------------------------------------------- */

static mbedtls_md_type_t md_of_len(size_t hash_len)
{
	switch (hash_len) {
	case 20:
		return MBEDTLS_MD_SHA1;
	case 28:
		return MBEDTLS_MD_SHA224;
	case 32:
		return MBEDTLS_MD_SHA256;
	case 48:
		return MBEDTLS_MD_SHA384;
	case 64:
		return MBEDTLS_MD_SHA512;
	default:
		return MBEDTLS_MD_NONE;
	}
}

/*
 * em (exactly the modulus size) to the power d, then checked with the
 * public key: a fault in the CRT computation must not give out a
 * signature that reveals a factor of n.
 */
static TEE_Result rsa_private(struct otls_tk *k, const uint8_t *em,
			      uint8_t *sig)
{
	uint8_t check[OTLS_MAX_SIGNATURE];
	size_t n = k->bits / 8;
	TEE_Result res = TEE_ERROR_GENERIC;

	if (!mbedtls_rsa_private(&k->rsa, tk_rng, NULL, em, sig) &&
	    !mbedtls_rsa_public(&k->rsa, sig, check) && !memcmp(check, em, n))
		res = TEE_SUCCESS;
	if (res)
		memset(sig, 0, n);
	memset(check, 0, sizeof(check));
	return res;
}

/* EMSA-PKCS1-v1_5 of t (a DigestInfo, or any caller input), RFC 8017
 * 9.2 steps 3-5; the caller has checked tlen <= k - 11. */
TEE_Result otls_tk_pkcs1_sign(struct otls_tk *k, const uint8_t *t,
			      size_t tlen, uint8_t *sig)
{
	uint8_t em[OTLS_MAX_SIGNATURE];
	size_t n = k->bits / 8;
	TEE_Result res = TEE_SUCCESS;

	if (tlen + 11 > n)
		return TEE_ERROR_BAD_PARAMETERS;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, n - tlen - 3);
	em[n - tlen - 1] = 0x00;
	memcpy(em + n - tlen, t, tlen);
	res = rsa_private(k, em, sig);
	memset(em, 0, sizeof(em));
	return res;
}

/* MGF1 (RFC 8017 B.2.1) of seed, XORed into out. */
static int mgf1_xor(const mbedtls_md_info_t *md, const uint8_t *seed,
		    size_t seed_len, uint8_t *out, size_t out_len)
{
	uint8_t buf[OTLS_MAX_DIGEST + 4];
	uint8_t h[OTLS_MAX_DIGEST];
	size_t hlen = mbedtls_md_get_size(md);
	uint32_t counter = 0;
	size_t done = 0;
	size_t n = 0;

	memcpy(buf, seed, seed_len);
	while (done < out_len) {
		buf[seed_len] = counter >> 24;
		buf[seed_len + 1] = counter >> 16;
		buf[seed_len + 2] = counter >> 8;
		buf[seed_len + 3] = counter;
		if (mbedtls_md(md, buf, seed_len + 4, h))
			return -1;
		for (n = 0; n < hlen && done < out_len; n++)
			out[done++] ^= h[n];
		counter++;
	}
	return 0;
}

/* EMSA-PSS-ENCODE (RFC 8017 9.1.1) with MGF1 of the same hash; salt
 * length already checked by the caller against emLen. */
TEE_Result otls_tk_pss_sign(struct otls_tk *k, const uint8_t *mhash,
			    size_t hlen, size_t salt_len, uint8_t *sig)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(
		md_of_len(hlen));
	uint8_t em[OTLS_MAX_SIGNATURE] = { 0 };
	uint8_t mprime[8 + 2 * OTLS_MAX_DIGEST + OTLS_MAX_SIGNATURE];
	size_t n = k->bits / 8;
	size_t em_bits = k->bits - 1;
	size_t em_len = (em_bits + 7) / 8;
	uint8_t *e = em + (n - em_len);	/* leading 0 when em_len < n */
	size_t db_len = em_len - hlen - 1;
	uint8_t *salt = mprime + 8 + hlen;
	TEE_Result res = TEE_ERROR_GENERIC;

	if (!md || em_len < hlen + salt_len + 2)
		return TEE_ERROR_BAD_PARAMETERS;
	/* M' = 8 zero octets || mHash || salt; H = Hash(M'). */
	memset(mprime, 0, 8);
	memcpy(mprime + 8, mhash, hlen);
	TEE_GenerateRandom(salt, salt_len);
	if (mbedtls_md(md, mprime, 8 + hlen + salt_len, e + db_len))
		goto out;
	/* DB = PS || 0x01 || salt, masked with MGF1(H). */
	e[db_len - salt_len - 1] = 0x01;
	memcpy(e + db_len - salt_len, salt, salt_len);
	if (mgf1_xor(md, e + db_len, hlen, e, db_len))
		goto out;
	e[0] &= 0xff >> (8 * em_len - em_bits);
	e[em_len - 1] = 0xbc;
	res = rsa_private(k, em, sig);
out:
	memset(mprime, 0, sizeof(mprime));
	memset(em, 0, sizeof(em));
	return res;
}

/* RSAES-PKCS1-v1_5 decryption; one answer for every padding failure. */
TEE_Result otls_tk_decrypt_pkcs1(struct otls_tk *k, const uint8_t *in,
				 uint8_t *out, size_t max, size_t *out_len)
{
	int rc = 0;

#if MBEDTLS_VERSION_MAJOR >= 3
	rc = mbedtls_rsa_rsaes_pkcs1_v15_decrypt(&k->rsa, tk_rng, NULL,
						 out_len, in, out, max);
#else
	rc = mbedtls_rsa_rsaes_pkcs1_v15_decrypt(&k->rsa, tk_rng, NULL,
						 MBEDTLS_RSA_PRIVATE, out_len,
						 in, out, max);
#endif
	if (rc == MBEDTLS_ERR_MPI_ALLOC_FAILED)
		return TEE_ERROR_OUT_OF_MEMORY;
	return rc ? TEE_ERROR_CIPHERTEXT_INVALID : TEE_SUCCESS;
}
