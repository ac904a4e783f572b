/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Key management, private-key operations and the public-key helpers
 * (SPKI DER, ECDSA raw -> DER, signature sizes).
 *
 * OpenSSL is only used in a private OSSL_LIB_CTX that has only the default
 * provider: the application's openssl.cnf may activate our own provider in
 * the default context, and going through it from here would recurse.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "otls_internal.h"

/* ---- private library context ----------------------------------------- */

static OSSL_LIB_CTX *libctx;
static pthread_once_t libctx_once = PTHREAD_ONCE_INIT;

static void libctx_init(void)
{
	OSSL_LIB_CTX *c = OSSL_LIB_CTX_new();

	if (!c)
		return;
	if (!OSSL_PROVIDER_load(c, "default")) {
		OSSL_LIB_CTX_free(c);
		return;
	}
	libctx = c;
}

OSSL_LIB_CTX *otls_libctx(void)
{
	pthread_once(&libctx_once, libctx_init);
	return libctx;
}

/* ---- key descriptions ------------------------------------------------- */

static int key_params_ok(uint32_t key_type, uint32_t bits)
{
	switch (key_type) {
	case OTLS_KEY_EC:
		return bits == 256 || bits == 384 || bits == 521;
	case OTLS_KEY_RSA:
		return bits == 2048 || bits == 3072 || bits == 4096;
	case OTLS_KEY_ED25519:
		return bits == 256;
	default:
		return 0;
	}
}

int otls_key_info_check(const otls_key_info *k)
{
	if (!key_params_ok(k->key_type, k->bits) ||
	    k->pub_a_len > OTLS_MAX_PUB_PART || k->pub_b_len > OTLS_MAX_PUB_PART)
		return -1;
	switch (k->key_type) {
	case OTLS_KEY_EC:
		if (k->pub_a_len != (k->bits + 7) / 8 ||
		    k->pub_b_len != k->pub_a_len)
			return -1;
		break;
	case OTLS_KEY_RSA:
		if (k->pub_a_len != k->bits / 8 || k->pub_b_len < 1 ||
		    k->pub_b_len > 8)
			return -1;
		break;
	case OTLS_KEY_ED25519:
		if (k->pub_a_len != 32 || k->pub_b_len != 0)
			return -1;
		break;
	}
	return 0;
}

/* ---- key management ----------------------------------------------------- */

OTLS_API int otls_key_generate(const char *label, uint32_t key_type,
			       uint32_t bits, const struct otls_policy *policy,
			       otls_key_info *out)
{
	struct otls_policy pol;

	otls_clear_last();
	if (otls_label_check(label))
		return OTLS_ERR_BAD_INPUT;
	if (policy) {
		pol = *policy;
		if (pol.reserved || pol.owner_kind > OTLS_OWNER_GID ||
		    (pol.owner_kind == OTLS_OWNER_ANY && pol.owner_id))
			return OTLS_ERR_BAD_INPUT;
	} else {
		memset(&pol, 0, sizeof(pol));
	}
	if (!key_params_ok(key_type, bits))
		return OTLS_ERR_UNSUPPORTED;
	return otls_wire_generate(label, key_type, bits, &pol, out);
}

OTLS_API int otls_key_get(const char *label, otls_key_info *out)
{
	otls_clear_last();
	if (otls_label_check(label) || !out)
		return OTLS_ERR_BAD_INPUT;
	return otls_wire_get_key(label, out);
}

OTLS_API int otls_key_delete(const char *label)
{
	int rc;

	otls_clear_last();
	if (otls_label_check(label))
		return OTLS_ERR_BAD_INPUT;
	rc = otls_wire_delete(label);
	/* Our own idle sessions may be the ones holding the key open: close
	 * them and try once more. Sessions busy in other threads, or other
	 * processes, still make it OTLS_ERR_IN_USE. */
	if (rc == OTLS_ERR_IN_USE && otls_session_drop_idle())
		rc = otls_wire_delete(label);
	return rc;
}

OTLS_API int otls_key_list(struct otls_list_entry **out, size_t *count)
{
	struct otls_list_entry *e;
	size_t n = 0, stored = 0;
	int rc;

	otls_clear_last();
	if (!out || !count)
		return OTLS_ERR_BAD_INPUT;
	e = calloc(OTLS_MAX_KEYS, sizeof(*e));
	if (!e)
		return OTLS_ERR_INTERNAL;
	rc = otls_wire_list(e, &n, &stored);
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	*count = n;
	return OTLS_OK;
}

OTLS_API int otls_get_info(struct otls_info *out)
{
	int rc;

	otls_clear_last();
	if (!out)
		return OTLS_ERR_BAD_INPUT;
	rc = otls_wire_get_info(out);
	if (rc == OTLS_OK && out->protocol_version != OTLS_PROTOCOL_VERSION)
		return OTLS_ERR_PROTOCOL;
	return rc;
}

/* ---- SubjectPublicKeyInfo --------------------------------------------- */

/*
 * The SPKI DER is written by hand: going through EVP_PKEY_CTX would hand
 * the job to an ENGINE that registered itself as default for the key type
 * (ours does, under `openssl -engine optee`), even in a private library
 * context. The result is then checked by decoding it in the private
 * context (default provider only), which also checks an EC point is on
 * its curve.
 */

struct der {
	unsigned char buf[1024];
	size_t len;
	int err;
};

static void der_raw(struct der *d, const void *src, size_t n)
{
	if (d->err || n > sizeof(d->buf) - d->len) {
		d->err = 1;
		return;
	}
	memcpy(d->buf + d->len, src, n);
	d->len += n;
}

static void der_hdr(struct der *d, unsigned char tag, size_t n)
{
	unsigned char h[4] = { tag };
	size_t hl;

	if (n < 0x80) {
		h[1] = (unsigned char)n;
		hl = 2;
	} else if (n < 0x100) {
		h[1] = 0x81;
		h[2] = (unsigned char)n;
		hl = 3;
	} else {
		h[1] = 0x82;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	}
	der_raw(d, h, hl);
}

static void der_tlv(struct der *d, unsigned char tag, const void *src,
		    size_t n)
{
	der_hdr(d, tag, n);
	der_raw(d, src, n);
}

/* INTEGER from an unsigned big-endian number (minimal encoding). */
static void der_uint(struct der *d, const unsigned char *be, size_t n)
{
	static const unsigned char zero;

	while (n > 1 && be[0] == 0) {
		be++;
		n--;
	}
	if (n == 0) {
		be = &zero;
		n = 1;
	}
	der_hdr(d, 0x02, n + (be[0] & 0x80 ? 1 : 0));
	if (be[0] & 0x80)
		der_raw(d, &zero, 1);
	der_raw(d, be, n);
}

/* AlgorithmIdentifier contents (OID and parameters) per key type. */
static const unsigned char oid_ec_pub[] = {	/* 1.2.840.10045.2.1 */
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p256[] = {	/* 1.2.840.10045.3.1.7 */
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = {	/* 1.3.132.0.34 */
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = {	/* 1.3.132.0.35 */
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char algid_rsa[] = {	/* 1.2.840.113549.1.1.1, NULL */
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
	0x05, 0x00 };
static const unsigned char algid_ed25519[] = {	/* 1.3.101.112 */
	0x06, 0x03, 0x2b, 0x65, 0x70 };

static int spki_build(const otls_key_info *k, struct der *out)
{
	struct der alg = { .len = 0 }, key = { .len = 0 }, bits = { .len = 0 };
	static const unsigned char no_unused_bits;

	switch (k->key_type) {
	case OTLS_KEY_EC: {
		static const unsigned char uncompressed = 0x04;

		der_raw(&alg, oid_ec_pub, sizeof(oid_ec_pub));
		if (k->bits == 256)
			der_raw(&alg, oid_p256, sizeof(oid_p256));
		else if (k->bits == 384)
			der_raw(&alg, oid_p384, sizeof(oid_p384));
		else
			der_raw(&alg, oid_p521, sizeof(oid_p521));
		der_raw(&key, &uncompressed, 1);
		der_raw(&key, k->pub_a, k->pub_a_len);
		der_raw(&key, k->pub_b, k->pub_b_len);
		break;
	}
	case OTLS_KEY_RSA: {
		struct der ints = { .len = 0 };

		der_raw(&alg, algid_rsa, sizeof(algid_rsa));
		der_uint(&ints, k->pub_a, k->pub_a_len);
		der_uint(&ints, k->pub_b, k->pub_b_len);
		if (ints.err)
			return -1;
		der_tlv(&key, 0x30, ints.buf, ints.len);	/* RSAPublicKey */
		break;
	}
	case OTLS_KEY_ED25519:
		der_raw(&alg, algid_ed25519, sizeof(algid_ed25519));
		der_raw(&key, k->pub_a, k->pub_a_len);
		break;
	default:
		return -1;
	}
	der_raw(&bits, &no_unused_bits, 1);
	der_raw(&bits, key.buf, key.len);
	if (alg.err || key.err || bits.err)
		return -1;

	/* SEQUENCE { SEQUENCE { alg }, BIT STRING { key } } */
	{
		struct der body = { .len = 0 };

		der_tlv(&body, 0x30, alg.buf, alg.len);
		der_tlv(&body, 0x03, bits.buf, bits.len);
		if (body.err)
			return -1;
		out->len = 0;
		out->err = 0;
		der_tlv(out, 0x30, body.buf, body.len);
	}
	return out->err ? -1 : 0;
}

/* The DER decodes, completely, as a public key of the expected type. */
static int spki_check(const unsigned char *der, size_t len, uint32_t key_type)
{
	OSSL_LIB_CTX *lc = otls_libctx();
	const unsigned char *p = der;
	EVP_PKEY *pkey;
	int ok;

	if (!lc)
		return 0;
	ERR_set_mark();
	pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, lc, NULL);
	ok = pkey && p == der + len;
	if (ok && key_type)
		ok = EVP_PKEY_is_a(pkey, key_type == OTLS_KEY_EC ? "EC" :
				   key_type == OTLS_KEY_RSA ? "RSA" :
				   "ED25519");
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return ok;
}

int otls_spki_valid(const unsigned char *der, size_t len)
{
	return len <= LONG_MAX && spki_check(der, len, 0);
}

OTLS_API int otls_key_spki_der(const otls_key_info *key, unsigned char **der,
			       size_t *der_len)
{
	struct der *d;
	unsigned char *buf;
	int rc = OTLS_ERR_BAD_INPUT;

	if (!key || !der || !der_len || otls_key_info_check(key))
		return OTLS_ERR_BAD_INPUT;
	d = calloc(1, sizeof(*d));
	if (!d)
		return OTLS_ERR_INTERNAL;
	if (spki_build(key, d) == 0 && spki_check(d->buf, d->len, key->key_type)) {
		buf = malloc(d->len);
		if (buf) {
			memcpy(buf, d->buf, d->len);
			*der = buf;
			*der_len = d->len;
			rc = OTLS_OK;
		} else {
			rc = OTLS_ERR_INTERNAL;
		}
	}
	free(d);
	return rc;
}

/* ---- signatures ----------------------------------------------------- */

static size_t der_len_size(size_t len)
{
	return len < 0x80 ? 1 : len < 0x100 ? 2 : 3;
}

/* Largest DER ECDSA-Sig-Value with r and s of n bytes each. */
static size_t ecdsa_der_max(size_t n)
{
	size_t integer = 1 + der_len_size(n + 1) + n + 1;

	return 1 + der_len_size(2 * integer) + 2 * integer;
}

OTLS_API size_t otls_sig_max_size(uint32_t key_type, uint32_t bits)
{
	if (!key_params_ok(key_type, bits))
		return 0;
	switch (key_type) {
	case OTLS_KEY_EC:
		return ecdsa_der_max((bits + 7) / 8);
	case OTLS_KEY_RSA:
		return bits / 8;
	case OTLS_KEY_ED25519:
		return 64;
	default:
		return 0;
	}
}

/* Input length the TA accepts for each signature algorithm. */
static int sign_input_ok(uint32_t alg, size_t len)
{
	switch (alg) {
	case OTLS_ALG_ECDSA:
		return len >= 20 && len <= OTLS_MAX_DIGEST;
	case OTLS_ALG_RSA_PKCS1_SHA256:
	case OTLS_ALG_RSA_PSS_SHA256:
		return len == 32;
	case OTLS_ALG_RSA_PKCS1_SHA384:
	case OTLS_ALG_RSA_PSS_SHA384:
		return len == 48;
	case OTLS_ALG_RSA_PKCS1_SHA512:
	case OTLS_ALG_RSA_PSS_SHA512:
		return len == 64;
	case OTLS_ALG_RSA_PKCS1_DIGESTINFO:
		return len >= 1 && len <= OTLS_MAX_DIGESTINFO;
	case OTLS_ALG_ED25519:
		return len <= OTLS_MAX_MESSAGE;
	default:
		return -1;
	}
}

static int is_pss(uint32_t alg)
{
	return alg == OTLS_ALG_RSA_PSS_SHA256 || alg == OTLS_ALG_RSA_PSS_SHA384 ||
	       alg == OTLS_ALG_RSA_PSS_SHA512;
}

/* Raw r || s -> DER into out (room for outmax). Returns the DER length,
 * 0 on error, or the negated size needed if it does not fit. */
static long ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len,
			     unsigned char *out, size_t outmax)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r, *s;
	unsigned char *p;
	long ret = 0;
	int len;

	if (!sig)
		return 0;
	r = BN_bin2bn(raw, (int)(raw_len / 2), NULL);
	s = BN_bin2bn(raw + raw_len / 2, (int)(raw_len / 2), NULL);
	if (!r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	len = i2d_ECDSA_SIG(sig, NULL);
	if (len <= 0)
		goto out;
	if ((size_t)len > outmax) {
		ret = -(long)ecdsa_der_max(raw_len / 2);
		goto out;
	}
	p = out;
	if (i2d_ECDSA_SIG(sig, &p) == len)
		ret = len;
out:
	ECDSA_SIG_free(sig);
	return ret;
}

OTLS_API int otls_sign(const char *label, uint32_t alg, uint32_t saltlen,
		       const unsigned char *tbs, size_t tbs_len,
		       unsigned char *sig, size_t *sig_len, int flags)
{
	unsigned char raw[OTLS_MAX_SIGNATURE];
	size_t raw_len;
	int want_der, ok, rc;

	otls_clear_last();
	if (otls_label_check(label) || !sig_len || (!tbs && tbs_len) ||
	    (flags != OTLS_SIG_ECDSA_DER && flags != OTLS_SIG_ECDSA_RAW))
		return OTLS_ERR_BAD_INPUT;
	ok = sign_input_ok(alg, tbs_len);
	if (ok < 0)
		return OTLS_ERR_UNSUPPORTED;
	if (!ok)
		return OTLS_ERR_BAD_INPUT;
	if (!sig && *sig_len)
		return OTLS_ERR_BAD_INPUT;
	if (!tbs)
		tbs = (const unsigned char *)"";
	want_der = alg == OTLS_ALG_ECDSA && flags == OTLS_SIG_ECDSA_DER;

	/* For DER the caller's size says nothing about the raw r || s the TA
	 * writes (2 * ceil(bits/8), a few bytes less than the largest DER but
	 * more than a short one): give the TA our whole buffer and check the
	 * caller's size against the DER. *sig_len 0 stays a size query. */
	raw_len = want_der ? (*sig_len ? sizeof(raw) : 0) : *sig_len;
	rc = otls_wire_sign(label, alg, is_pss(alg) ? saltlen : 0, tbs, tbs_len,
			    raw, &raw_len);
	if (rc == OTLS_ERR_SHORT_BUFFER) {
		if (want_der) {
			if (raw_len % 2)
				return OTLS_ERR_PROTOCOL;
			raw_len = ecdsa_der_max(raw_len / 2);
		}
		*sig_len = raw_len;
		return rc;
	}
	if (rc)
		return rc;

	if (alg == OTLS_ALG_ECDSA && (raw_len % 2 || raw_len / 2 < 20 ||
				      raw_len / 2 > 66))
		return OTLS_ERR_PROTOCOL;
	if (want_der) {
		long n;

		ERR_set_mark();
		n = ecdsa_raw_to_der(raw, raw_len, sig, *sig_len);
		ERR_pop_to_mark();
		if (n == 0)
			return OTLS_ERR_INTERNAL;
		if (n < 0) {
			*sig_len = (size_t)-n;
			return OTLS_ERR_SHORT_BUFFER;
		}
		*sig_len = (size_t)n;
		return OTLS_OK;
	}
	/* The TA was told the caller's size, so raw_len fits. */
	memcpy(sig, raw, raw_len);
	*sig_len = raw_len;
	return OTLS_OK;
}

OTLS_API int otls_decrypt(const char *label, uint32_t alg,
			  const unsigned char *in, size_t in_len,
			  unsigned char *out, size_t *out_len)
{
	unsigned char buf[OTLS_MAX_CIPHERTEXT];
	size_t len;
	int rc;

	otls_clear_last();
	if (otls_label_check(label) || !in || !out_len ||
	    (!out && *out_len))
		return OTLS_ERR_BAD_INPUT;
	if (alg != OTLS_ALG_RSA_DECRYPT_PKCS1 &&
	    alg != OTLS_ALG_RSA_DECRYPT_OAEP_SHA1 &&
	    alg != OTLS_ALG_RSA_DECRYPT_OAEP_SHA256)
		return OTLS_ERR_UNSUPPORTED;
	if (in_len == 0 || in_len > OTLS_MAX_CIPHERTEXT)
		return OTLS_ERR_BAD_INPUT;

	len = *out_len;
	rc = otls_wire_decrypt(label, alg, in, in_len, buf, &len);
	if (rc == OTLS_ERR_SHORT_BUFFER)
		*out_len = len;
	if (rc == OTLS_OK) {
		if (len)
			memcpy(out, buf, len);
		*out_len = len;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}
