/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Signatures with TEE keys: ECDSA, RSA (PKCS#1 v1.5 and PSS) and Ed25519.
 *
 * - Signing is exactly one otls_sign() call (one TA invocation) per
 *   signature; a size query (sig == NULL) never reaches the TA.
 * - Digests for DigestSign are computed here with another provider's
 *   implementation (our child library context, never ourselves).
 * - Verification, if OpenSSL routes it here (it can, for our keys), uses
 *   the public key with another provider.
 *
 * RSA-PSS salt length: "digest" (what TLS 1.3 uses) goes to the TA as
 * OTLS_SALT_DIGEST_LEN; "max" and "auto" (which for signing means max in
 * OpenSSL) become the largest salt the modulus allows, emLen - hLen - 2;
 * "auto-digestmax" becomes the hash length. The MGF1 hash is always the
 * signature hash (the TA does no other); a different mgf1-digest is refused.
 * PSS is offered with SHA-256/384/512, PKCS#1 v1.5 with SHA-256/384/512
 * (and SHA-1/SHA-224 through a DigestInfo, if the key policy allows it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include "key.h"

/* OpenSSL >= 3.1's default for signing: the digest length, capped by the
 * key (defined here too so a 3.0 build loaded by 3.1+ behaves the same). */
#ifndef RSA_PSS_SALTLEN_AUTO_DIGEST_MAX
#define RSA_PSS_SALTLEN_AUTO_DIGEST_MAX -4
#endif

/* Typed declarations: a function whose signature does not match what
 * OpenSSL calls it with fails to compile (the dispatch tables cast). */
static OSSL_FUNC_signature_newctx_fn ecdsa_newctx, rsa_newctx, ed25519_newctx;
static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_verify_init_fn sig_verify_init;
static OSSL_FUNC_signature_verify_fn sig_verify;
static OSSL_FUNC_signature_digest_sign_init_fn dsig_sign_init;
static OSSL_FUNC_signature_digest_verify_init_fn dsig_verify_init;
static OSSL_FUNC_signature_digest_sign_update_fn dsig_update;
static OSSL_FUNC_signature_digest_sign_final_fn dsig_sign_final;
static OSSL_FUNC_signature_digest_verify_final_fn dsig_verify_final;
static OSSL_FUNC_signature_digest_sign_fn dsig_sign_oneshot;
static OSSL_FUNC_signature_digest_verify_fn dsig_verify_oneshot;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn ecdsa_gettable, rsa_gettable,
	ed_gettable;
static OSSL_FUNC_signature_settable_ctx_params_fn ecdsa_settable, rsa_settable,
	ed_settable;

enum sig_family { FAM_ECDSA = 1, FAM_RSA, FAM_ED25519 };
enum sig_op { OP_NONE, OP_SIGN, OP_VERIFY };

/* Digests we know: name for EVP_MD_is_a, OIDs for algorithm ids. */
enum md_id { MD_NONE = 0, MD_SHA1, MD_SHA224, MD_SHA256, MD_SHA384, MD_SHA512 };

struct sig_ctx {
	struct optee_prov *prov;
	char *propq;
	int family;
	int op;
	optee_key *key;

	EVP_MD *md;
	int mdid;
	size_t mdsize;
	EVP_MD_CTX *mdctx;		/* DigestSign/Verify */

	int pad;			/* RSA_PKCS1_PADDING / RSA_PKCS1_PSS_PADDING */
	int saltlen;			/* RSA_PSS_SALTLEN_* or >= 0 */
	int mgf1_mdid;			/* MD_NONE: same as the digest */
};

/* ---- digests --------------------------------------------------------- */

static int md_identify(const EVP_MD *md)
{
	if (EVP_MD_is_a(md, "SHA1"))
		return MD_SHA1;
	if (EVP_MD_is_a(md, "SHA2-224"))
		return MD_SHA224;
	if (EVP_MD_is_a(md, "SHA2-256"))
		return MD_SHA256;
	if (EVP_MD_is_a(md, "SHA2-384"))
		return MD_SHA384;
	if (EVP_MD_is_a(md, "SHA2-512"))
		return MD_SHA512;
	return MD_NONE;
}

static const char *md_name(int mdid)
{
	switch (mdid) {
	case MD_SHA1:
		return "SHA1";
	case MD_SHA224:
		return "SHA2-224";
	case MD_SHA256:
		return "SHA2-256";
	case MD_SHA384:
		return "SHA2-384";
	case MD_SHA512:
		return "SHA2-512";
	}
	return NULL;
}

static size_t md_size(int mdid)
{
	switch (mdid) {
	case MD_SHA1:
		return 20;
	case MD_SHA224:
		return 28;
	case MD_SHA256:
		return 32;
	case MD_SHA384:
		return 48;
	case MD_SHA512:
		return 64;
	}
	return 0;
}

/* Set the signature digest by name (NULL or "" clears it). */
static int set_digest(struct sig_ctx *c, const char *mdname, const char *props)
{
	EVP_MD *md;

	if (mdname == NULL || mdname[0] == '\0') {
		EVP_MD_free(c->md);
		c->md = NULL;
		c->mdid = MD_NONE;
		c->mdsize = 0;
		return 1;
	}
	if (c->family == FAM_ED25519) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "Ed25519 takes no digest (got %s)", mdname);
		return 0;
	}
	/*
	 * The caller's property query (EVP_PKEY_CTX_new_from_pkey, -propquery)
	 * often selects this provider ("provider=optee", as genpkey needs),
	 * which has no digests: then take the digest from the others.
	 */
	md = NULL;
	if (props != NULL && props[0] != '\0') {
		ERR_set_mark();
		md = EVP_MD_fetch(c->prov->libctx, mdname, props);
		if (md != NULL && EVP_MD_get0_provider(md) != NULL
		    && strcmp(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(md)),
			      OPTEE_PROV_NAME) == 0) {
			EVP_MD_free(md);	/* never ourselves */
			md = NULL;
		}
		ERR_pop_to_mark();
	}
	if (md == NULL)
		md = EVP_MD_fetch(c->prov->libctx, mdname, OPTEE_DELEGATE_PROPQ);
	if (md == NULL) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED, "digest %s not available",
			  mdname);
		return 0;
	}
	EVP_MD_free(c->md);
	c->md = md;
	c->mdid = md_identify(md);
	c->mdsize = (size_t)EVP_MD_get_size(md);
	if (c->family == FAM_RSA && c->mdid == MD_NONE) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "RSA signatures in the TEE use SHA-1/SHA-2, not %s",
			  mdname);
		return 0;
	}
	if (c->family == FAM_ECDSA && (c->mdsize < 20 || c->mdsize > 64)) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "ECDSA in the TEE signs 20 to 64 byte digests, not %s",
			  mdname);
		return 0;
	}
	return 1;
}

/* ---- context --------------------------------------------------------- */

static void *sig_newctx(void *provctx, const char *propq, int family)
{
	struct sig_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->prov = provctx;
	c->family = family;
	c->pad = RSA_PKCS1_PADDING;
	/* The running libcrypto's default provider's default salt length:
	 * "auto" (the maximum) before 3.1, "auto-digestmax" since. */
	c->saltlen = OpenSSL_version_num() >= 0x30100000L
		     ? RSA_PSS_SALTLEN_AUTO_DIGEST_MAX : RSA_PSS_SALTLEN_AUTO;
	if (propq != NULL && (c->propq = OPENSSL_strdup(propq)) == NULL) {
		OPENSSL_free(c);
		return NULL;
	}
	return c;
}

static void *ecdsa_newctx(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_ECDSA);
}

static void *rsa_newctx(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_RSA);
}

static void *ed25519_newctx(void *provctx, const char *propq)
{
	return sig_newctx(provctx, propq, FAM_ED25519);
}

static void sig_freectx(void *vctx)
{
	struct sig_ctx *c = vctx;

	if (c == NULL)
		return;
	optee_key_free(c->key);
	EVP_MD_free(c->md);
	EVP_MD_CTX_free(c->mdctx);
	OPENSSL_free(c->propq);
	OPENSSL_free(c);
}

static void *sig_dupctx(void *vctx)
{
	struct sig_ctx *src = vctx, *c;

	c = OPENSSL_memdup(src, sizeof(*src));
	if (c == NULL)
		return NULL;
	c->propq = NULL;
	c->mdctx = NULL;
	if (c->key != NULL)
		optee_key_up_ref(c->key);
	if (c->md != NULL)
		EVP_MD_up_ref(c->md);
	if (src->propq != NULL
	    && (c->propq = OPENSSL_strdup(src->propq)) == NULL)
		goto err;
	if (src->mdctx != NULL) {
		if ((c->mdctx = EVP_MD_CTX_new()) == NULL
		    || !EVP_MD_CTX_copy_ex(c->mdctx, src->mdctx))
			goto err;
	}
	return c;
err:
	sig_freectx(c);
	return NULL;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int sig_init(struct sig_ctx *c, void *provkey, const OSSL_PARAM params[],
		    int op)
{
	optee_key *key = provkey;

	if (key != NULL) {
		int ok;

		switch (c->family) {
		case FAM_ECDSA:
			ok = key->ktype == OPTEE_KT_EC;
			break;
		case FAM_RSA:
			ok = key->ktype == OPTEE_KT_RSA
			     || key->ktype == OPTEE_KT_RSA_PSS;
			break;
		default:
			ok = key->ktype == OPTEE_KT_ED25519;
			break;
		}
		if (!ok) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "%s key used for a %s signature",
				  optee_ktype_name(key->ktype),
				  c->family == FAM_ECDSA ? "ECDSA"
				  : c->family == FAM_RSA ? "RSA" : "Ed25519");
			return 0;
		}
		if (op == OP_SIGN && !key->has_ref) {
			OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY,
				  "this key has only public parts");
			return 0;
		}
		optee_key_up_ref(key);
		optee_key_free(c->key);
		c->key = key;
		/*
		 * An RSA key whose policy allows PSS only (e.g. made with
		 * genpkey -algorithm RSA-PSS) signs with PSS unless told
		 * otherwise, so that req/x509/dgst work without -sigopt.
		 */
		if (key->ktype == OPTEE_KT_RSA_PSS
		    || (key->ktype == OPTEE_KT_RSA
			&& (key->info.policy.allowed & OTLS_ALLOW_RSA_PSS)
			&& !(key->info.policy.allowed
			     & (OTLS_ALLOW_RSA_PKCS1
				| OTLS_ALLOW_RSA_PKCS1_DIGESTINFO))))
			c->pad = RSA_PKCS1_PSS_PADDING;
	}
	if (c->key == NULL) {
		OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY, "no key");
		return 0;
	}
	c->op = op;
	return sig_set_ctx_params(c, params);
}

static int sig_sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(vctx, provkey, params, OP_SIGN);
}

static int sig_verify_init(void *vctx, void *provkey,
			   const OSSL_PARAM params[])
{
	return sig_init(vctx, provkey, params, OP_VERIFY);
}

/* ---- RSA helpers ----------------------------------------------------- */

/* Largest PSS salt for this key and hash. */
static int pss_max_salt(const struct sig_ctx *c, size_t hlen)
{
	size_t embits = c->key->info.bits - 1;
	size_t emlen = (embits + 7) / 8;

	if (emlen < hlen + 2)
		return -1;
	return (int)(emlen - hlen - 2);
}

/* The salt length the signature will have (for algorithm ids). */
static int pss_salt_value(const struct sig_ctx *c, size_t hlen)
{
	int max = pss_max_salt(c, hlen);

	switch (c->saltlen) {
	case RSA_PSS_SALTLEN_DIGEST:
		return (int)hlen;
	case RSA_PSS_SALTLEN_AUTO:
	case RSA_PSS_SALTLEN_MAX:
		return max;
	case RSA_PSS_SALTLEN_AUTO_DIGEST_MAX:
		return (int)hlen < max ? (int)hlen : max;
	}
	return c->saltlen;
}

static const unsigned char di_sha1[] = {
	0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
	0x05, 0x00, 0x04, 0x14
};
static const unsigned char di_sha224[] = {
	0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c
};

/* ---- signing --------------------------------------------------------- */

static int tee_sign(struct sig_ctx *c, unsigned char *sig, size_t *siglen,
		    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	unsigned char buf[OTLS_MAX_SIGNATURE + 16];
	unsigned char di[OTLS_MAX_DIGESTINFO];
	const unsigned char *in = tbs;
	size_t inlen = tbslen, outlen = sizeof(buf);
	uint32_t alg = 0, salt = 0;
	int mdid = c->mdid, rc;

	if (c->key == NULL || !c->key->has_ref) {
		OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY,
			  "this key has only public parts");
		return 0;
	}

	switch (c->family) {
	case FAM_ECDSA:
		if ((c->md != NULL && tbslen != c->mdsize) || tbslen < 20
		    || tbslen > OTLS_MAX_DIGEST) {
			OPTEE_ERR(c->prov, OPTEE_R_BAD_DIGEST_LENGTH,
				  "ECDSA input of %zu bytes (expected %s)", tbslen,
				  c->md != NULL ? "the digest size"
						: "a 20 to 64 byte digest");
			return 0;
		}
		alg = OTLS_ALG_ECDSA;
		break;

	case FAM_ED25519:
		if (tbslen > OTLS_MAX_MESSAGE) {
			OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
				  "Ed25519 message of %zu bytes: the TEE signs at "
				  "most %d", tbslen, OTLS_MAX_MESSAGE);
			return 0;
		}
		alg = OTLS_ALG_ED25519;
		break;

	case FAM_RSA:
		if (c->md != NULL && tbslen != c->mdsize) {
			OPTEE_ERR(c->prov, OPTEE_R_BAD_DIGEST_LENGTH,
				  "input of %zu bytes for a %zu byte digest",
				  tbslen, c->mdsize);
			return 0;
		}
		if (c->pad == RSA_PKCS1_PSS_PADDING) {
			int s;

			if (mdid == MD_NONE)	/* pkeyutl without -digest */
				mdid = tbslen == 32 ? MD_SHA256
				       : tbslen == 48 ? MD_SHA384
				       : tbslen == 64 ? MD_SHA512 : MD_NONE;
			switch (mdid) {
			case MD_SHA256:
				alg = OTLS_ALG_RSA_PSS_SHA256;
				break;
			case MD_SHA384:
				alg = OTLS_ALG_RSA_PSS_SHA384;
				break;
			case MD_SHA512:
				alg = OTLS_ALG_RSA_PSS_SHA512;
				break;
			default:
				OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
					  "RSA-PSS in the TEE uses SHA-256, SHA-384 "
					  "or SHA-512");
				return 0;
			}
			if (c->mgf1_mdid != MD_NONE && c->mgf1_mdid != mdid) {
				OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
					  "the TEE uses MGF1 with the signature hash");
				return 0;
			}
			if (tbslen != md_size(mdid)) {
				OPTEE_ERR(c->prov, OPTEE_R_BAD_DIGEST_LENGTH,
					  "PSS input of %zu bytes", tbslen);
				return 0;
			}
			if (c->saltlen == RSA_PSS_SALTLEN_DIGEST) {
				salt = OTLS_SALT_DIGEST_LEN;
			} else {
				s = pss_salt_value(c, md_size(mdid));
				if (s < 0 || s > pss_max_salt(c, md_size(mdid))) {
					OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
						  "PSS salt length %d too long for "
						  "this key", s);
					return 0;
				}
				salt = (uint32_t)s;
			}
		} else if (c->pad == RSA_PKCS1_PADDING) {
			switch (mdid) {
			case MD_SHA256:
				alg = OTLS_ALG_RSA_PKCS1_SHA256;
				break;
			case MD_SHA384:
				alg = OTLS_ALG_RSA_PKCS1_SHA384;
				break;
			case MD_SHA512:
				alg = OTLS_ALG_RSA_PKCS1_SHA512;
				break;
			case MD_SHA1:
			case MD_SHA224: {
				const unsigned char *pfx = mdid == MD_SHA1
							   ? di_sha1 : di_sha224;
				size_t pl = mdid == MD_SHA1 ? sizeof(di_sha1)
							    : sizeof(di_sha224);

				memcpy(di, pfx, pl);
				memcpy(di + pl, tbs, tbslen);
				in = di;
				inlen = pl + tbslen;
				alg = OTLS_ALG_RSA_PKCS1_DIGESTINFO;
				break;
			}
			default:
				/* No digest set: the input is the DigestInfo. */
				if (tbslen > OTLS_MAX_DIGESTINFO) {
					OPTEE_ERR(c->prov, OPTEE_R_BAD_DIGEST_LENGTH,
						  "raw PKCS#1 input of %zu bytes "
						  "(at most %d)", tbslen,
						  OTLS_MAX_DIGESTINFO);
					return 0;
				}
				alg = OTLS_ALG_RSA_PKCS1_DIGESTINFO;
				break;
			}
		} else {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "RSA padding mode %d (the TEE signs with pkcs1 "
				  "or pss)", c->pad);
			return 0;
		}
		break;
	default:
		return 0;
	}

	rc = otls_sign(c->key->info.label, alg, salt, in, inlen, buf, &outlen,
		       OTLS_SIG_ECDSA_DER);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(c->prov, rc, c->key->info.label, "signing");
		return 0;
	}
	if (outlen > sigsize) {
		OPTEE_ERR(c->prov, OPTEE_R_BUFFER_TOO_SMALL,
			  "signature of %zu bytes, buffer of %zu", outlen,
			  sigsize);
		OPENSSL_cleanse(buf, sizeof(buf));
		return 0;
	}
	memcpy(sig, buf, outlen);
	*siglen = outlen;
	return 1;
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen,
		    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct sig_ctx *c = vctx;

	if (c->key == NULL)
		return 0;
	if (sig == NULL) {	/* size query: never the TA */
		*siglen = optee_key_sig_size(c->key);
		return 1;
	}
	return tee_sign(c, sig, siglen, sigsize, tbs, tbslen);
}

/* ---- verification (public key, another provider) --------------------- */

static int pub_verify(struct sig_ctx *c, const unsigned char *sig,
		      size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	EVP_PKEY *pub = optee_key_public_pkey(c->key);
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	int ok = 0;

	if (pub == NULL)
		return 0;
	if (c->family == FAM_ED25519) {
		mctx = EVP_MD_CTX_new();
		ok = mctx != NULL
		     && EVP_DigestVerifyInit_ex(mctx, NULL, NULL, c->prov->libctx,
						OPTEE_DELEGATE_PROPQ, pub, NULL) > 0
		     && EVP_DigestVerify(mctx, sig, siglen, tbs, tbslen) > 0;
		goto end;
	}
	pctx = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, pub,
					  OPTEE_DELEGATE_PROPQ);
	if (pctx == NULL || EVP_PKEY_verify_init(pctx) <= 0)
		goto end;
	if (c->md != NULL && EVP_PKEY_CTX_set_signature_md(pctx, c->md) <= 0)
		goto end;
	if (c->family == FAM_RSA) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, c->pad) <= 0)
			goto end;
		if (c->pad == RSA_PKCS1_PSS_PADDING) {
			int s = c->saltlen;

			if (s == RSA_PSS_SALTLEN_MAX)
				s = RSA_PSS_SALTLEN_AUTO;	/* accept any */
			if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s) <= 0)
				goto end;
		}
	}
	ok = EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) > 0;
end:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pub);
	return ok;
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen,
		      const unsigned char *tbs, size_t tbslen)
{
	return pub_verify(vctx, sig, siglen, tbs, tbslen);
}

/* ---- DigestSign / DigestVerify --------------------------------------- */

static int dsig_init(struct sig_ctx *c, const char *mdname, void *provkey,
		     const OSSL_PARAM params[], int op)
{
	if (!sig_init(c, provkey, params, op))
		return 0;
	if (c->family == FAM_ED25519) {
		if (mdname != NULL && mdname[0] != '\0') {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "Ed25519 takes no digest (got %s)", mdname);
			return 0;
		}
		return 1;
	}
	/* As the default provider (and keymgmt's default digest): SHA-256. */
	if (mdname == NULL || mdname[0] == '\0')
		mdname = "SHA256";
	if (!set_digest(c, mdname, c->propq))
		return 0;
	if (c->mdctx == NULL && (c->mdctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	return EVP_DigestInit_ex2(c->mdctx, c->md, NULL);
}

static int dsig_sign_init(void *vctx, const char *mdname, void *provkey,
			  const OSSL_PARAM params[])
{
	return dsig_init(vctx, mdname, provkey, params, OP_SIGN);
}

static int dsig_verify_init(void *vctx, const char *mdname, void *provkey,
			    const OSSL_PARAM params[])
{
	return dsig_init(vctx, mdname, provkey, params, OP_VERIFY);
}

static int dsig_update(void *vctx, const unsigned char *data, size_t len)
{
	struct sig_ctx *c = vctx;

	if (c->mdctx == NULL)
		return 0;
	return EVP_DigestUpdate(c->mdctx, data, len);
}

static int dsig_sign_final(void *vctx, unsigned char *sig, size_t *siglen,
			   size_t sigsize)
{
	struct sig_ctx *c = vctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->key == NULL || c->mdctx == NULL)
		return 0;
	if (sig == NULL) {	/* size query: never the TA */
		*siglen = optee_key_sig_size(c->key);
		return 1;
	}
	if (!EVP_DigestFinal_ex(c->mdctx, dgst, &dlen))
		return 0;
	return tee_sign(c, sig, siglen, sigsize, dgst, dlen);
}

static int dsig_verify_final(void *vctx, const unsigned char *sig,
			     size_t siglen)
{
	struct sig_ctx *c = vctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (c->mdctx == NULL || !EVP_DigestFinal_ex(c->mdctx, dgst, &dlen))
		return 0;
	return pub_verify(c, sig, siglen, dgst, dlen);
}

/* One-shot (Ed25519 signs the whole message). */
static int dsig_sign_oneshot(void *vctx, unsigned char *sig, size_t *siglen,
			     size_t sigsize, const unsigned char *tbs,
			     size_t tbslen)
{
	struct sig_ctx *c = vctx;

	if (c->key == NULL)
		return 0;
	if (sig == NULL) {
		*siglen = optee_key_sig_size(c->key);
		return 1;
	}
	return tee_sign(c, sig, siglen, sigsize, tbs, tbslen);
}

static int dsig_verify_oneshot(void *vctx, const unsigned char *sig,
			       size_t siglen, const unsigned char *tbs,
			       size_t tbslen)
{
	return pub_verify(vctx, sig, siglen, tbs, tbslen);
}

/* ---- algorithm identifiers (DER) ------------------------------------- */

/* Append a DER TLV; returns the new length or 0 when it does not fit. */
static size_t der_put(unsigned char *buf, size_t pos, size_t cap,
		      unsigned char tag, const unsigned char *val, size_t len)
{
	size_t hdr = len < 128 ? 2 : len < 256 ? 3 : 4;

	if (pos + hdr + len > cap)
		return 0;
	buf[pos++] = tag;
	if (len < 128) {
		buf[pos++] = (unsigned char)len;
	} else if (len < 256) {
		buf[pos++] = 0x81;
		buf[pos++] = (unsigned char)len;
	} else {
		buf[pos++] = 0x82;
		buf[pos++] = (unsigned char)(len >> 8);
		buf[pos++] = (unsigned char)len;
	}
	memmove(buf + pos, val, len);
	return pos + len;
}

static const unsigned char oid_sha256[] = { 0x60, 0x86, 0x48, 0x01, 0x65,
					     0x03, 0x04, 0x02, 0x01 };
static const unsigned char oid_sha384[] = { 0x60, 0x86, 0x48, 0x01, 0x65,
					     0x03, 0x04, 0x02, 0x02 };
static const unsigned char oid_sha512[] = { 0x60, 0x86, 0x48, 0x01, 0x65,
					     0x03, 0x04, 0x02, 0x03 };
static const unsigned char oid_mgf1[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
					   0x01, 0x01, 0x08 };
static const unsigned char oid_pss[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
					  0x01, 0x01, 0x0a };

/*
 * AlgorithmIdentifier of a SHA-2 hash with NULL parameters, as OpenSSL
 * writes them inside RSASSA-PSS parameters (RFC 4055 accepts both forms).
 */
static size_t hash_algid(unsigned char *out, size_t cap, int mdid)
{
	unsigned char tmp[16];
	const unsigned char *oid = mdid == MD_SHA256 ? oid_sha256
				   : mdid == MD_SHA384 ? oid_sha384 : oid_sha512;
	size_t n = der_put(tmp, 0, sizeof(tmp), 0x06, oid, sizeof(oid_sha256));

	if (n == 0 || n + 2 > sizeof(tmp))
		return 0;
	tmp[n++] = 0x05;
	tmp[n++] = 0x00;
	return der_put(out, 0, cap, 0x30, tmp, n);
}

static size_t pss_algid(const struct sig_ctx *c, unsigned char *out,
			size_t cap)
{
	unsigned char h[32], mgf[64], seq[160], tmp[160], in[8];
	size_t hl, ml, sl = 0, n, il = 0;
	int salt;

	if (c->mdid != MD_SHA256 && c->mdid != MD_SHA384
	    && c->mdid != MD_SHA512)
		return 0;
	salt = pss_salt_value(c, c->mdsize);
	if (salt < 0)
		return 0;
	if ((hl = hash_algid(h, sizeof(h), c->mdid)) == 0)
		return 0;
	/* [0] hashAlgorithm */
	if ((sl = der_put(seq, sl, sizeof(seq), 0xa0, h, hl)) == 0)
		return 0;
	/* [1] maskGenAlgorithm: mgf1 with the same hash */
	n = der_put(tmp, 0, sizeof(tmp), 0x06, oid_mgf1, sizeof(oid_mgf1));
	memcpy(tmp + n, h, hl);
	n += hl;
	if ((ml = der_put(mgf, 0, sizeof(mgf), 0x30, tmp, n)) == 0)
		return 0;
	if ((sl = der_put(seq, sl, sizeof(seq), 0xa1, mgf, ml)) == 0)
		return 0;
	/* [2] saltLength unless the default 20 */
	if (salt != 20) {
		unsigned char ib[4];
		size_t ibl = 0;

		if (salt >= 0x8000)
			ib[ibl++] = (unsigned char)(salt >> 16);
		if (salt >= 0x80)
			ib[ibl++] = (unsigned char)(salt >> 8);
		ib[ibl++] = (unsigned char)salt;
		if (ib[0] & 0x80) {
			memmove(ib + 1, ib, ibl);
			ib[0] = 0;
			ibl++;
		}
		il = der_put(in, 0, sizeof(in), 0x02, ib, ibl);
		if (il == 0 || (sl = der_put(seq, sl, sizeof(seq), 0xa2, in,
					     il)) == 0)
			return 0;
	}
	/* AlgorithmIdentifier { id-RSASSA-PSS, params } */
	n = der_put(tmp, 0, sizeof(tmp), 0x06, oid_pss, sizeof(oid_pss));
	if ((n = der_put(tmp, n, sizeof(tmp), 0x30, seq, sl)) == 0)
		return 0;
	return der_put(out, 0, cap, 0x30, tmp, n);
}

static size_t algid(const struct sig_ctx *c, unsigned char *out, size_t cap)
{
	static const unsigned char ecdsa[][12] = {
		/* ecdsa-with-SHA1, -SHA224, -SHA256, -SHA384, -SHA512 */
		{ 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 },
	};
	/* sha{1,224,256,384,512}WithRSAEncryption, NULL parameters */
	static const unsigned char rsa_pfx[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a,
						 0x86, 0x48, 0x86, 0xf7, 0x0d,
						 0x01, 0x01 };
	static const unsigned char rsa_last[] = { 0x05, 0x0e, 0x0b, 0x0c, 0x0d };
	static const unsigned char ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b,
						 0x65, 0x70 };
	int i = c->mdid - MD_SHA1;
	size_t n;

	switch (c->family) {
	case FAM_ED25519:
		if (cap < sizeof(ed25519))
			return 0;
		memcpy(out, ed25519, sizeof(ed25519));
		return sizeof(ed25519);
	case FAM_ECDSA:
		if (c->mdid == MD_NONE)
			return 0;
		n = (size_t)ecdsa[i][1] + 2;
		if (cap < n)
			return 0;
		memcpy(out, ecdsa[i], n);
		return n;
	case FAM_RSA:
		if (c->pad == RSA_PKCS1_PSS_PADDING)
			return pss_algid(c, out, cap);
		if (c->mdid == MD_NONE || cap < sizeof(rsa_pfx) + 3)
			return 0;
		memcpy(out, rsa_pfx, sizeof(rsa_pfx));
		out[sizeof(rsa_pfx)] = rsa_last[i];
		out[sizeof(rsa_pfx) + 1] = 0x05;
		out[sizeof(rsa_pfx) + 2] = 0x00;
		return sizeof(rsa_pfx) + 3;
	}
	return 0;
}

/* ---- parameters ------------------------------------------------------ */

static const struct {
	int mode;
	const char *name;
} pad_names[] = {
	{ RSA_PKCS1_PADDING, OSSL_PKEY_RSA_PAD_MODE_PKCSV15 },
	{ RSA_NO_PADDING, OSSL_PKEY_RSA_PAD_MODE_NONE },
	{ RSA_X931_PADDING, OSSL_PKEY_RSA_PAD_MODE_X931 },
	{ RSA_PKCS1_PSS_PADDING, OSSL_PKEY_RSA_PAD_MODE_PSS },
};

static const struct {
	int len;
	const char *name;
} salt_names[] = {
	{ RSA_PSS_SALTLEN_DIGEST, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST },
	{ RSA_PSS_SALTLEN_MAX, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX },
	{ RSA_PSS_SALTLEN_AUTO, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO },
#ifdef RSA_PSS_SALTLEN_AUTO_DIGEST_MAX
	{ RSA_PSS_SALTLEN_AUTO_DIGEST_MAX, "auto-digestmax" },
#endif
};

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct sig_ctx *c = vctx;
	const OSSL_PARAM *p;
	const char *props = c->propq;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PROPERTIES))
	    != NULL && !OSSL_PARAM_get_utf8_string_ptr(p, &props))
		return 0;
	if (props != NULL && props[0] == '\0')
		props = NULL;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST))
	    != NULL) {
		const char *mdname = NULL;

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &mdname)
		    || mdname == NULL || !set_digest(c, mdname, props))
			return 0;
		if (c->mdctx != NULL && c->md != NULL
		    && !EVP_DigestInit_ex2(c->mdctx, c->md, NULL))
			return 0;
	}
	if (c->family != FAM_RSA)
		return 1;

	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE))
	    != NULL) {
		int mode = 0;

		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			size_t i;

			if (p->data == NULL)
				return 0;
			for (i = 0; i < sizeof(pad_names) / sizeof(pad_names[0]); i++)
				if (strcmp(p->data, pad_names[i].name) == 0)
					break;
			if (i == sizeof(pad_names) / sizeof(pad_names[0]))
				return 0;
			mode = pad_names[i].mode;
		} else if (!OSSL_PARAM_get_int(p, &mode)) {
			return 0;
		}
		if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "RSA padding mode %d: the TEE signs with pkcs1 "
				  "or pss", mode);
			return 0;
		}
		if (mode == RSA_PKCS1_PADDING && c->key != NULL
		    && c->key->ktype == OPTEE_KT_RSA_PSS) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "an RSA-PSS key signs with pss only");
			return 0;
		}
		c->pad = mode;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN))
	    != NULL) {
		int len = 0;

		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			size_t i;

			if (p->data == NULL)
				return 0;
			for (i = 0; i < sizeof(salt_names) / sizeof(salt_names[0]); i++)
				if (strcmp(p->data, salt_names[i].name) == 0)
					break;
			if (i < sizeof(salt_names) / sizeof(salt_names[0])) {
				len = salt_names[i].len;
			} else {
				char *end;
				long v = strtol(p->data, &end, 10);

				if (*(char *)p->data == '\0' || *end != '\0'
				    || v < 0 || v > 0xffff)
					return 0;
				len = (int)v;
			}
		} else if (!OSSL_PARAM_get_int(p, &len)) {
			return 0;
		}
		if (len < -4)
			return 0;
		c->saltlen = len;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST))
	    != NULL) {
		const char *name = NULL;
		EVP_MD *md;

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || name == NULL)
			return 0;
		md = EVP_MD_fetch(c->prov->libctx, name, OPTEE_DELEGATE_PROPQ);
		if (md == NULL) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "MGF1 digest %s not available", name);
			return 0;
		}
		c->mgf1_mdid = md_identify(md);
		EVP_MD_free(md);
		if (c->mgf1_mdid == MD_NONE
		    || (c->mdid != MD_NONE && c->mgf1_mdid != c->mdid)) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "MGF1 with %s: the TEE uses MGF1 with the "
				  "signature hash", name);
			return 0;
		}
	}
	return 1;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct sig_ctx *c = vctx;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID))
	    != NULL) {
		unsigned char aid[128];
		size_t n = c->key != NULL ? algid(c, aid, sizeof(aid)) : 0;

		if (n == 0 || !OSSL_PARAM_set_octet_string(p, aid, n))
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL
	    && c->md != NULL
	    && !OSSL_PARAM_set_utf8_string(p, md_name(c->mdid) ? md_name(c->mdid)
					       : EVP_MD_get0_name(c->md)))
		return 0;
	if (c->family != FAM_RSA)
		return 1;
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE))
	    != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_set_utf8_string(p,
					c->pad == RSA_PKCS1_PSS_PADDING
					? OSSL_PKEY_RSA_PAD_MODE_PSS
					: OSSL_PKEY_RSA_PAD_MODE_PKCSV15))
				return 0;
		} else if (!OSSL_PARAM_set_int(p, c->pad)) {
			return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN))
	    != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *name = NULL;
			char num[16];

			for (size_t i = 0;
			     i < sizeof(salt_names) / sizeof(salt_names[0]); i++)
				if (salt_names[i].len == c->saltlen)
					name = salt_names[i].name;
			if (name == NULL) {
				snprintf(num, sizeof(num), "%d", c->saltlen);
				name = num;
			}
			if (!OSSL_PARAM_set_utf8_string(p, name))
				return 0;
		} else if (!OSSL_PARAM_set_int(p, c->saltlen)) {
			return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST))
	    != NULL) {
		int id = c->mgf1_mdid != MD_NONE ? c->mgf1_mdid : c->mdid;

		if (id != MD_NONE && !OSSL_PARAM_set_utf8_string(p, md_name(id)))
			return 0;
	}
	return 1;
}

static const OSSL_PARAM *ecdsa_settable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *rsa_settable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES,
				       NULL, 0),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *ed_settable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = { OSSL_PARAM_END };

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *ecdsa_gettable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *rsa_gettable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *ed_gettable(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

/* ---- dispatch tables ------------------------------------------------- */

#define F(id, fn) { id, (void (*)(void))(fn) }

#define SIG_COMMON(newctx, settable, gettable)                              \
	F(OSSL_FUNC_SIGNATURE_NEWCTX, newctx),                              \
	F(OSSL_FUNC_SIGNATURE_FREECTX, sig_freectx),                        \
	F(OSSL_FUNC_SIGNATURE_DUPCTX, sig_dupctx),                          \
	F(OSSL_FUNC_SIGNATURE_SIGN_INIT, sig_sign_init),                    \
	F(OSSL_FUNC_SIGNATURE_SIGN, sig_sign),                              \
	F(OSSL_FUNC_SIGNATURE_VERIFY_INIT, sig_verify_init),                \
	F(OSSL_FUNC_SIGNATURE_VERIFY, sig_verify),                          \
	F(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, dsig_sign_init),            \
	F(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, dsig_verify_init),        \
	F(OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, sig_get_ctx_params),          \
	F(OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, gettable),               \
	F(OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, sig_set_ctx_params),          \
	F(OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, settable)

#define SIG_STREAMING                                                       \
	F(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, dsig_update),             \
	F(OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, dsig_sign_final),          \
	F(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, dsig_update),           \
	F(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, dsig_verify_final)

const OSSL_DISPATCH optee_ecdsa_signature_functions[] = {
	SIG_COMMON(ecdsa_newctx, ecdsa_settable, ecdsa_gettable),
	SIG_STREAMING,
	{ 0, NULL }
};

const OSSL_DISPATCH optee_rsa_signature_functions[] = {
	SIG_COMMON(rsa_newctx, rsa_settable, rsa_gettable),
	SIG_STREAMING,
	{ 0, NULL }
};

const OSSL_DISPATCH optee_ed25519_signature_functions[] = {
	SIG_COMMON(ed25519_newctx, ed_settable, ed_gettable),
	F(OSSL_FUNC_SIGNATURE_DIGEST_SIGN, dsig_sign_oneshot),
	F(OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, dsig_verify_oneshot),
	{ 0, NULL }
};
