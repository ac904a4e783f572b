/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RSA keys of the optee ENGINE.
 *
 * Two layers, because OpenSSL reaches an engine RSA key through both:
 *  - an RSA_METHOD (a copy of the default one) whose private operations
 *    go to the TA: PKCS#1 v1.5 signatures arrive at priv_enc as a
 *    DigestInfo; PKCS#1 v1.5 / OAEP-SHA1 decryption at priv_dec. Raw RSA
 *    (RSA_NO_PADDING) is refused: the TA has no raw private operation.
 *  - EVP_PKEY_METHODs for EVP_PKEY_RSA and EVP_PKEY_RSA_PSS (copies of the
 *    built-in ones) whose sign and decrypt hand RSA-PSS and OAEP to the TA
 *    whole, since the built-in ones would pad themselves and then ask the
 *    RSA_METHOD for a raw private operation.
 * Keys that are not ours (the methods become process defaults after
 * ENGINE_set_default, as `openssl ... -engine optee` does) are passed to
 * the built-in implementations untouched.
 */
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/objects.h>

#include "engine_local.h"

static RSA_METHOD *rsa_meth;
static int rsa_ex_idx = -1;	/* allocated once per load of the module */

typedef int (*rsa_priv_fn)(int flen, const unsigned char *from,
			   unsigned char *to, RSA *rsa, int padding);
static rsa_priv_fn orig_priv_enc, orig_priv_dec;

typedef int (*pm_sign_fn)(EVP_PKEY_CTX *ctx, unsigned char *sig,
			  size_t *siglen, const unsigned char *tbs,
			  size_t tbslen);
typedef int (*pm_decrypt_fn)(EVP_PKEY_CTX *ctx, unsigned char *out,
			     size_t *outlen, const unsigned char *in,
			     size_t inlen);
typedef int (*pm_ctrl_fn)(EVP_PKEY_CTX *ctx, int type, int p1, void *p2);
typedef int (*pm_ctrl_str_fn)(EVP_PKEY_CTX *ctx, const char *type,
			      const char *value);

/* The built-in methods' functions we wrap, per key type. The methods
 * themselves are made per ENGINE (engine_rsa_pmeth_new, engine_pkey.c). */
struct rsa_pmeth {
	int nid;
	const EVP_PKEY_METHOD *builtin;
	pm_sign_fn orig_sign;
	pm_decrypt_fn orig_decrypt;
	pm_ctrl_fn orig_ctrl;
};
static struct rsa_pmeth pmeths[2] = {
	{ EVP_PKEY_RSA, NULL, NULL, NULL, NULL },
	{ EVP_PKEY_RSA_PSS, NULL, NULL, NULL, NULL },
};

static const char *rsa_label(const RSA *rsa)
{
	if (rsa == NULL || rsa_ex_idx < 0)
		return NULL;
	return RSA_get_ex_data(rsa, rsa_ex_idx);
}

static const char *ctx_label(EVP_PKEY_CTX *ctx, const RSA **rsa_out)
{
	EVP_PKEY *pkey = EVP_PKEY_CTX_get0_pkey(ctx);
	const RSA *rsa;
	int id;

	if (pkey == NULL)
		return NULL;
	id = EVP_PKEY_id(pkey);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS)
		return NULL;
	rsa = EVP_PKEY_get0_RSA(pkey);
	if (rsa_out != NULL)
		*rsa_out = rsa;
	return rsa_label(rsa);
}

static struct rsa_pmeth *pmeth_of(EVP_PKEY_CTX *ctx)
{
	EVP_PKEY *pkey = EVP_PKEY_CTX_get0_pkey(ctx);

	if (pkey != NULL && EVP_PKEY_id(pkey) == EVP_PKEY_RSA_PSS)
		return &pmeths[1];
	return &pmeths[0];
}

/* ---- RSA_METHOD --------------------------------------------------------- */

/* DER DigestInfo prefixes (RFC 8017, 9.2 note 1) of the hashes the TA signs
 * in its "hashed" PKCS#1 variants. */
static const struct {
	unsigned char prefix[19];
	size_t digest_len;
	uint32_t alg;
} digestinfo_prefixes[] = {
	{ { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 }, 32,
	  OTLS_ALG_RSA_PKCS1_SHA256 },
	{ { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 }, 48,
	  OTLS_ALG_RSA_PKCS1_SHA384 },
	{ { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	    0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 }, 64,
	  OTLS_ALG_RSA_PKCS1_SHA512 },
};

/* Right-align sig[len] into an out_size-byte buffer (I2OSP). */
static void left_pad(unsigned char *sig, size_t len, size_t out_size)
{
	if (len < out_size) {
		memmove(sig + (out_size - len), sig, len);
		memset(sig, 0, out_size - len);
	}
}

static int priv_enc(int flen, const unsigned char *from, unsigned char *to,
		    RSA *rsa, int padding)
{
	const char *label = rsa_label(rsa);
	const unsigned char *in = from;
	size_t in_len = (size_t)flen, sig_len, k;
	uint32_t alg = OTLS_ALG_RSA_PKCS1_DIGESTINFO;
	unsigned int i;
	int rc;

	if (label == NULL)
		return orig_priv_enc(flen, from, to, rsa, padding);
	if (padding != RSA_PKCS1_PADDING) {
		OPTEE_ERR(OPTEE_R_RAW_RSA_REFUSED,
			  "key '%s': RSA private operation with padding %d; the TA only signs with PKCS#1 v1.5 or PSS it builds itself (no raw RSA)",
			  label, padding);
		return -1;
	}
	for (i = 0; i < sizeof(digestinfo_prefixes) / sizeof(digestinfo_prefixes[0]); i++) {
		if (in_len == 19 + digestinfo_prefixes[i].digest_len &&
		    memcmp(from, digestinfo_prefixes[i].prefix, 19) == 0) {
			alg = digestinfo_prefixes[i].alg;
			in = from + 19;
			in_len = digestinfo_prefixes[i].digest_len;
			break;
		}
	}
	k = (size_t)RSA_size(rsa);
	sig_len = k;
	rc = otls_sign(label, alg, 0, in, in_len, to, &sig_len, 0);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "RSA PKCS#1 v1.5 signing with");
		return -1;
	}
	left_pad(to, sig_len, k);
	return (int)k;
}

static int priv_dec(int flen, const unsigned char *from, unsigned char *to,
		    RSA *rsa, int padding)
{
	const char *label = rsa_label(rsa);
	size_t out_len;
	uint32_t alg;
	int rc;

	if (label == NULL)
		return orig_priv_dec(flen, from, to, rsa, padding);
	switch (padding) {
	case RSA_PKCS1_PADDING:
		alg = OTLS_ALG_RSA_DECRYPT_PKCS1;
		break;
	case RSA_PKCS1_OAEP_PADDING:	/* RSA_private_decrypt: SHA-1, no label */
		alg = OTLS_ALG_RSA_DECRYPT_OAEP_SHA1;
		break;
	default:
		OPTEE_ERR(OPTEE_R_RAW_RSA_REFUSED,
			  "key '%s': RSA decryption with padding %d; the TA decrypts PKCS#1 v1.5 or OAEP only (no raw RSA)",
			  label, padding);
		return -1;
	}
	out_len = (size_t)RSA_size(rsa);	/* RSA_private_decrypt's contract */
	rc = otls_decrypt(label, alg, from, (size_t)flen, to, &out_len);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "RSA decryption with");
		return -1;
	}
	return (int)out_len;
}

const RSA_METHOD *engine_rsa_method(void)
{
	return rsa_meth;
}

EVP_PKEY *engine_rsa_pkey(ENGINE *e, const otls_key_info *key,
			  const char *label)
{
	RSA *rsa;
	BIGNUM *n, *ex;
	EVP_PKEY *pkey;

	rsa = RSA_new_method(e);
	n = BN_bin2bn(key->pub_a, (int)key->pub_a_len, NULL);
	ex = BN_bin2bn(key->pub_b, (int)key->pub_b_len, NULL);
	if (rsa == NULL || n == NULL || ex == NULL ||
	    !RSA_set0_key(rsa, n, ex, NULL)) {
		BN_free(n);
		BN_free(ex);
		RSA_free(rsa);
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot build RSA key '%s'", label);
		return NULL;
	}
	if (!RSA_set_ex_data(rsa, rsa_ex_idx, (void *)label)) {
		RSA_free(rsa);
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot attach label to RSA key");
		return NULL;
	}
	pkey = EVP_PKEY_new();
	if (pkey == NULL || !EVP_PKEY_assign_RSA(pkey, rsa)) {
		EVP_PKEY_free(pkey);
		RSA_free(rsa);
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot build RSA key '%s'", label);
		return NULL;
	}
	/* Route EVP_PKEY_CTXs of this key to our EVP_PKEY_METHOD (PSS, OAEP)
	 * rather than the built-in one. */
	if (!EVP_PKEY_set1_engine(pkey, e)) {
		EVP_PKEY_free(pkey);
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot bind RSA key '%s' to the engine",
			  label);
		return NULL;
	}
	return pkey;
}

/* ---- EVP_PKEY_METHOD: RSA-PSS signatures ------------------------------- */

static uint32_t pss_alg(int md_nid)
{
	switch (md_nid) {
	case NID_sha256: return OTLS_ALG_RSA_PSS_SHA256;
	case NID_sha384: return OTLS_ALG_RSA_PSS_SHA384;
	case NID_sha512: return OTLS_ALG_RSA_PSS_SHA512;
	default:	 return 0;
	}
}

static const EVP_MD *md_for_len(size_t len)
{
	switch (len) {
	case 32: return EVP_sha256();
	case 48: return EVP_sha384();
	case 64: return EVP_sha512();
	default: return NULL;
	}
}

static int pss_sign(EVP_PKEY_CTX *ctx, const char *label, const RSA *rsa,
		    unsigned char *sig, size_t *siglen,
		    const unsigned char *tbs, size_t tbslen)
{
	const EVP_MD *md = NULL, *mgf1 = NULL;
	size_t k = (size_t)RSA_size(rsa), out_len;
	int saltlen = RSA_PSS_SALTLEN_DIGEST, hlen, emlen, maxsalt;
	uint32_t alg, salt;
	int rc;

	if (sig == NULL) {
		*siglen = k;
		return 1;
	}
	if (*siglen < k) {
		OPTEE_ERR(OPTEE_R_BUFFER_TOO_SMALL,
			  "signature buffer of %zu bytes, %zu needed", *siglen, k);
		return 0;
	}
	if (EVP_PKEY_CTX_get_signature_md(ctx, &md) <= 0)
		md = NULL;
	if (md == NULL)
		md = md_for_len(tbslen);	/* pkeyutl without -digest */
	if (md == NULL || pss_alg(EVP_MD_type(md)) == 0) {
		OPTEE_ERR(OPTEE_R_UNSUPPORTED_DIGEST,
			  "key '%s': RSA-PSS with %s; the TA signs PSS with SHA-256, SHA-384 or SHA-512",
			  label, md != NULL ? EVP_MD_name(md) : "an unknown digest");
		return 0;
	}
	if (EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &mgf1) <= 0 || mgf1 == NULL)
		mgf1 = md;
	if (EVP_MD_type(mgf1) != EVP_MD_type(md)) {
		OPTEE_ERR(OPTEE_R_BAD_PSS_PARAMETERS,
			  "key '%s': RSA-PSS with %s and MGF1 with %s; the TA uses the same hash for both",
			  label, EVP_MD_name(md), EVP_MD_name(mgf1));
		return 0;
	}
	hlen = EVP_MD_size(md);
	if (tbslen != (size_t)hlen) {
		OPTEE_ERR(OPTEE_R_INVALID_INPUT,
			  "key '%s': %zu bytes to sign, a %s digest has %d",
			  label, tbslen, EVP_MD_name(md), hlen);
		return 0;
	}
	if (EVP_PKEY_CTX_get_rsa_pss_saltlen(ctx, &saltlen) <= 0)
		saltlen = RSA_PSS_SALTLEN_DIGEST;
	/* EMSA-PSS: emLen = ceil((modBits - 1) / 8), sLen <= emLen - hLen - 2 */
	emlen = (RSA_bits(rsa) - 1 + 7) / 8;
	maxsalt = emlen - hlen - 2;
	if (maxsalt < 0) {
		OPTEE_ERR(OPTEE_R_BAD_PSS_PARAMETERS,
			  "key '%s' is too small for RSA-PSS with %s", label,
			  EVP_MD_name(md));
		return 0;
	}
	switch (saltlen) {
	case RSA_PSS_SALTLEN_DIGEST:	/* -1: what TLS 1.3 uses */
		salt = OTLS_SALT_DIGEST_LEN;
		break;
	case -2:	/* RSA_PSS_SALTLEN_AUTO / _MAX_SIGN: maximum when signing */
	case -3:	/* RSA_PSS_SALTLEN_MAX */
		salt = (uint32_t)maxsalt;
		break;
	case -4:	/* RSA_PSS_SALTLEN_AUTO_DIGEST_MAX (3.1+) */
		salt = (uint32_t)(hlen <= maxsalt ? hlen : maxsalt);
		break;
	default:
		if (saltlen < 0 || saltlen > maxsalt) {
			OPTEE_ERR(OPTEE_R_BAD_PSS_PARAMETERS,
				  "key '%s': RSA-PSS salt length %d (0..%d possible)",
				  label, saltlen, maxsalt);
			return 0;
		}
		salt = (uint32_t)saltlen;
		break;
	}
	alg = pss_alg(EVP_MD_type(md));
	out_len = k;
	rc = otls_sign(label, alg, salt, tbs, tbslen, sig, &out_len, 0);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "RSA-PSS signing with");
		return 0;
	}
	left_pad(sig, out_len, k);
	*siglen = k;
	return 1;
}

static int pm_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
		   const unsigned char *tbs, size_t tbslen)
{
	struct rsa_pmeth *pm = pmeth_of(ctx);
	const RSA *rsa = NULL;
	const char *label = ctx_label(ctx, &rsa);
	int pad = RSA_PKCS1_PADDING;

	if (label == NULL)
		return pm->orig_sign(ctx, sig, siglen, tbs, tbslen);
	if (EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) <= 0)
		pad = RSA_PKCS1_PADDING;
	if (pad == RSA_PKCS1_PSS_PADDING)
		return pss_sign(ctx, label, rsa, sig, siglen, tbs, tbslen);
	/* PKCS#1 v1.5 (the built-in method builds the DigestInfo and calls
	 * our priv_enc), or an unsupported padding priv_enc refuses. */
	return pm->orig_sign(ctx, sig, siglen, tbs, tbslen);
}

/* ---- EVP_PKEY_METHOD: decryption ------------------------------------- */

/*
 * The TLS 1.2 RSA key exchange cannot use an ENGINE key: libssl 3.x asks
 * for RSA_PKCS1_WITH_TLS_PADDING and then passes the client version as an
 * OSSL_PARAM, which OpenSSL cannot translate into a ctrl for a legacy
 * (ENGINE) EVP_PKEY_CTX, so the handshake fails inside libcrypto before we
 * are called; libssl 1.1.1 decrypts with RSA_NO_PADDING, which the TA
 * refuses. Say so here, where we are still asked, instead of leaving the
 * user with libcrypto's "command not supported".
 */
static int pm_ctrl(EVP_PKEY_CTX *ctx, int type, int p1, void *p2)
{
	struct rsa_pmeth *pm = pmeth_of(ctx);
	const char *label;

#ifdef RSA_PKCS1_WITH_TLS_PADDING
	if (type == EVP_PKEY_CTRL_RSA_PADDING &&
	    p1 == RSA_PKCS1_WITH_TLS_PADDING &&
	    (label = ctx_label(ctx, NULL)) != NULL) {
		OPTEE_ERR(OPTEE_R_UNSUPPORTED_PADDING,
			  "key '%s': the TLS 1.2 RSA key exchange is not possible with an ENGINE key in OpenSSL 3 (libssl needs a provider key for it): use ECDHE cipher suites or the optee provider",
			  label);
		return -2;
	}
#else
	(void)label;
#endif
	return pm->orig_ctrl(ctx, type, p1, p2);
}

static int oaep_alg(EVP_PKEY_CTX *ctx, const char *label, uint32_t *alg)
{
	const EVP_MD *md = NULL, *mgf1 = NULL;
	unsigned char *olabel = NULL;
	int olabel_len;

	if (EVP_PKEY_CTX_get_rsa_oaep_md(ctx, &md) <= 0 || md == NULL)
		md = EVP_sha1();
	if (EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &mgf1) <= 0 || mgf1 == NULL)
		mgf1 = md;
	olabel_len = EVP_PKEY_CTX_get0_rsa_oaep_label(ctx, &olabel);
	if (olabel_len > 0) {
		OPTEE_ERR(OPTEE_R_UNSUPPORTED_PADDING,
			  "key '%s': OAEP with a label is not supported by the TA",
			  label);
		return 0;
	}
	if (EVP_MD_type(md) == NID_sha1 && EVP_MD_type(mgf1) == NID_sha1) {
		*alg = OTLS_ALG_RSA_DECRYPT_OAEP_SHA1;
		return 1;
	}
	if (EVP_MD_type(md) == NID_sha256 && EVP_MD_type(mgf1) == NID_sha256) {
		*alg = OTLS_ALG_RSA_DECRYPT_OAEP_SHA256;
		return 1;
	}
	OPTEE_ERR(OPTEE_R_UNSUPPORTED_PADDING,
		  "key '%s': OAEP with %s and MGF1 with %s; the TA decrypts OAEP with SHA-1 or SHA-256 (same hash for MGF1)",
		  label, EVP_MD_name(md), EVP_MD_name(mgf1));
	return 0;
}

static int pm_decrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen,
		      const unsigned char *in, size_t inlen)
{
	struct rsa_pmeth *pm = pmeth_of(ctx);
	const RSA *rsa = NULL;
	const char *label = ctx_label(ctx, &rsa);
	unsigned char buf[OTLS_MAX_CIPHERTEXT];
	size_t buf_len = sizeof(buf);
	int pad = RSA_PKCS1_PADDING, rc;
	uint32_t alg;

	if (label == NULL)
		return pm->orig_decrypt(ctx, out, outlen, in, inlen);
	if (out == NULL) {
		*outlen = (size_t)RSA_size(rsa);
		return 1;
	}
	if (EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) <= 0)
		pad = RSA_PKCS1_PADDING;
	if (pad != RSA_PKCS1_OAEP_PADDING)	/* PKCS#1: via priv_dec */
		return pm->orig_decrypt(ctx, out, outlen, in, inlen);
	if (!oaep_alg(ctx, label, &alg))
		return 0;
	rc = otls_decrypt(label, alg, in, inlen, buf, &buf_len);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "RSA-OAEP decryption with");
		return 0;
	}
	if (buf_len > *outlen) {
		OPENSSL_cleanse(buf, buf_len);
		OPTEE_ERR(OPTEE_R_BUFFER_TOO_SMALL,
			  "plaintext of %zu bytes, buffer of %zu", buf_len,
			  *outlen);
		return 0;
	}
	memcpy(out, buf, buf_len);
	OPENSSL_cleanse(buf, buf_len);
	*outlen = buf_len;
	return 1;
}

/* ---- Set-up ------------------------------------------------------------- */

static int pmeth_orig(struct rsa_pmeth *pm)
{
	int (*init)(EVP_PKEY_CTX *);
	pm_ctrl_str_fn ctrl_str;

	pm->builtin = EVP_PKEY_meth_find(pm->nid);
	if (pm->builtin == NULL)
		return 0;
	EVP_PKEY_meth_get_sign(pm->builtin, &init, &pm->orig_sign);
	EVP_PKEY_meth_get_decrypt(pm->builtin, &init, &pm->orig_decrypt);
	EVP_PKEY_meth_get_ctrl(pm->builtin, &pm->orig_ctrl, &ctrl_str);
	return pm->orig_sign != NULL && pm->orig_ctrl != NULL;
}

EVP_PKEY_METHOD *engine_rsa_pmeth_new(int nid)
{
	struct rsa_pmeth *pm = NULL;
	int (*sign_init)(EVP_PKEY_CTX *);
	int (*decrypt_init)(EVP_PKEY_CTX *);
	pm_sign_fn unused_sign;
	pm_decrypt_fn unused_decrypt;
	pm_ctrl_fn unused_ctrl;
	pm_ctrl_str_fn ctrl_str;
	EVP_PKEY_METHOD *meth;
	unsigned int i;
	int flags = 0;

	for (i = 0; i < 2; i++)
		if (pmeths[i].nid == nid)
			pm = &pmeths[i];
	if (pm == NULL || pm->builtin == NULL)
		return NULL;
	EVP_PKEY_meth_get0_info(NULL, &flags, pm->builtin);
	meth = EVP_PKEY_meth_new(nid, flags);
	if (meth == NULL)
		return NULL;
	engine_pmeth_copy(meth, pm->builtin);
	/* Keep the built-in init functions (they set up the context data the
	 * built-in ctrl and our wrappers rely on); replace the operations. */
	EVP_PKEY_meth_get_sign(pm->builtin, &sign_init, &unused_sign);
	EVP_PKEY_meth_get_decrypt(pm->builtin, &decrypt_init, &unused_decrypt);
	EVP_PKEY_meth_get_ctrl(pm->builtin, &unused_ctrl, &ctrl_str);
	EVP_PKEY_meth_set_sign(meth, sign_init, pm_sign);
	EVP_PKEY_meth_set_ctrl(meth, pm_ctrl, ctrl_str);
	/* RSA-PSS keys cannot decrypt: nothing to hook there. */
	if (pm->orig_decrypt != NULL)
		EVP_PKEY_meth_set_decrypt(meth, decrypt_init, pm_decrypt);
	return meth;
}

int engine_rsa_init(void)
{
	const RSA_METHOD *def = RSA_PKCS1_OpenSSL();
	unsigned int i;

	if (rsa_ex_idx < 0)
		rsa_ex_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (rsa_ex_idx < 0)
		return 0;
	orig_priv_enc = RSA_meth_get_priv_enc(def);
	orig_priv_dec = RSA_meth_get_priv_dec(def);
	rsa_meth = RSA_meth_dup(def);
	if (rsa_meth == NULL || orig_priv_enc == NULL || orig_priv_dec == NULL ||
	    !RSA_meth_set1_name(rsa_meth, "optee-tls RSA (TEE-held keys)") ||
	    !RSA_meth_set_priv_enc(rsa_meth, priv_enc) ||
	    !RSA_meth_set_priv_dec(rsa_meth, priv_dec))
		return 0;
	for (i = 0; i < 2; i++)
		if (!pmeth_orig(&pmeths[i]))
			return 0;
	return 1;
}

void engine_rsa_cleanup(void)
{
	if (rsa_meth != NULL)
		RSA_meth_free(rsa_meth);
	rsa_meth = NULL;
}
