/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RSA asymmetric cipher with TEE keys: decryption in the TA (otls_decrypt),
 * encryption with the public key through another provider.
 *
 * Padding modes:
 *   pkcs1  (RSA_PKCS1_PADDING, the default)  OTLS_ALG_RSA_DECRYPT_PKCS1
 *   oaep   (RSA_PKCS1_OAEP_PADDING)          OTLS_ALG_RSA_DECRYPT_OAEP_SHA1
 *                                            or _OAEP_SHA256: the OAEP hash
 *          is SHA-1 (default) or SHA-256, MGF1 uses the same hash and the
 *          label is empty (that is all the TA does; anything else is refused
 *          with "unsupported algorithm" before the TA is asked)
 *   RSA_PKCS1_WITH_TLS_PADDING               what libssl asks for in a
 *          TLS 1.2 RSA key exchange (see below)
 * No raw RSA (the TA never does a bare private-key operation) and no X9.31.
 *
 * The key's policy must allow the family (decrypt-pkcs1 / decrypt-oaep at
 * generation; RSA keys have no decryption right by default). That is
 * checked here from the policy the TA reported when the key was loaded, so
 * a refused key costs no TA call and gives "operation not allowed by the
 * key's policy"; the TA checks it again (and the owner) anyway.
 *
 * ---- TLS 1.2 RSA key exchange: RFC 5246 7.4.7.1 -------------------------
 *
 * libssl (tls_process_cke_rsa) decrypts the ClientKeyExchange with pad mode
 * RSA_PKCS1_WITH_TLS_PADDING and the parameters tls-client-version (the
 * version of the ClientHello) and, with SSL_OP_TLS_ROLLBACK_BUG, also
 * tls-negotiated-version. The result must always be a 48-byte premaster
 * secret: if the ciphertext does not decrypt, or decrypts to something that
 * is not 48 bytes, or whose first two bytes are not the client version, a
 * random premaster is used instead, silently; the handshake then fails at
 * the Finished messages like any other wrong key, and the attacker learns
 * nothing about why (Bleichenbacher; Klima-Pokorny-Rosa for the version).
 * So tls_decrypt():
 *   - draws the 48 random bytes BEFORE asking the TA,
 *   - asks the TA for a PKCS#1 v1.5 decryption into a buffer that fits any
 *     plaintext (no size-dependent "short buffer" answer),
 *   - folds "the TA said OK", "48 bytes", "version bytes match" into one
 *     mask without branches and selects, byte by byte, the plaintext or the
 *     random bytes; no early return and no error for any of those cases.
 * Only failures that do not depend on the ciphertext's content are errors:
 * no key, a policy without decrypt-pkcs1, TEE unreachable, a ciphertext
 * longer than the modulus, no client version set.
 *
 * What this cannot hide: the TA call itself. The TA's PKCS#1 v1.5 check
 * (TEE_AsymmetricDecrypt) answers TEE_ERROR_CIPHERTEXT_INVALID on bad
 * padding, and the time it takes, the secure world's code path and the
 * normal-world path of that answer (libteec, libopteetls mapping it to
 * OTLS_ERR_DECRYPT_FAILED) all differ from a successful decryption. An
 * attacker who can time the server precisely enough may still get a
 * padding oracle from that. This is why RSA key exchange is off by default
 * (no decryption in the default key policy): enable decrypt-pkcs1 only for
 * legacy clients that cannot do ECDHE, see docs/threat-model.md.
 *
 * Plain PKCS#1 v1.5 decryption (pkeyutl -decrypt) reports a bad ciphertext
 * as an error, as OpenSSL 3.0/3.1 do; OpenSSL 3.2's "implicit rejection"
 * needs the private key and cannot be done outside the TA.
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include "key.h"

#define TLS_PREMASTER_LEN	48	/* SSL_MAX_MASTER_KEY_LENGTH */
#define PKCS1_PAD_MIN		11	/* 00 02 PS(>= 8) 00 */

enum ac_op { AC_NONE, AC_ENCRYPT, AC_DECRYPT };
enum ac_md { ACMD_NONE = 0, ACMD_SHA1, ACMD_SHA256, ACMD_OTHER };

struct ac_ctx {
	struct optee_prov *prov;
	char *propq;
	optee_key *key;
	int op;
	int pad;			/* RSA_*_PADDING */
	EVP_MD *oaep_md;		/* NULL: SHA-1 */
	EVP_MD *mgf1_md;		/* NULL: the OAEP hash */
	unsigned char *label;		/* OAEP label */
	size_t label_len;
	unsigned int client_version;	/* TLS padding */
	unsigned int alt_version;
};

/* ---- constant time --------------------------------------------------- */

/*
 * All-ones / all-zeros masks, computed without branches. The empty asm
 * keeps the compiler from reasoning about the mask's value (and turning a
 * select into a branch), as OpenSSL's value_barrier does.
 */
static inline size_t ct_barrier(size_t a)
{
	__asm__("" : "+r"(a));
	return a;
}

static inline size_t ct_msb(size_t a)
{
	return 0 - (a >> (sizeof(a) * 8 - 1));
}

static inline size_t ct_is_zero(size_t a)
{
	return ct_msb(~a & (a - 1));
}

static inline size_t ct_eq(size_t a, size_t b)
{
	return ct_is_zero(a ^ b);
}

static inline unsigned char ct_select_8(size_t mask, unsigned char a,
					unsigned char b)
{
	mask = ct_barrier(mask);
	return (unsigned char)((mask & a) | (~mask & b));
}

/* ---- helpers --------------------------------------------------------- */

static int md_id(const EVP_MD *md)
{
	if (md == NULL || EVP_MD_is_a(md, "SHA1"))
		return ACMD_SHA1;
	if (EVP_MD_is_a(md, "SHA2-256"))
		return ACMD_SHA256;
	return ACMD_OTHER;
}

static size_t key_bytes(const optee_key *key)
{
	return ((size_t)key->info.bits + 7) / 8;
}

static const char *pad_name(int pad)
{
	switch (pad) {
	case RSA_PKCS1_PADDING:
		return "pkcs1";
	case RSA_PKCS1_OAEP_PADDING:
		return "oaep";
	case RSA_PKCS1_WITH_TLS_PADDING:
		return "pkcs1 (TLS)";
	case RSA_NO_PADDING:
		return "none";
	case RSA_X931_PADDING:
		return "x931";
	}
	return "?";
}

/* The policy bit a padding mode needs (0: not one the TA does). */
static uint32_t pad_policy(int pad)
{
	switch (pad) {
	case RSA_PKCS1_PADDING:
	case RSA_PKCS1_WITH_TLS_PADDING:
		return OTLS_ALLOW_DECRYPT_PKCS1;
	case RSA_PKCS1_OAEP_PADDING:
		return OTLS_ALLOW_DECRYPT_OAEP;
	}
	return 0;
}

static int check_pad_supported(struct ac_ctx *c, int pad)
{
	if (pad_policy(pad) == 0) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "RSA padding mode %s (%d): the TEE decrypts with pkcs1 "
			  "or oaep", pad_name(pad), pad);
		return 0;
	}
	return 1;
}

static int check_policy(struct ac_ctx *c, uint32_t need)
{
	const char *what, *word;

	if ((c->key->info.policy.allowed & need) != 0)
		return 1;
	switch (need) {
	case OTLS_ALLOW_DECRYPT_PKCS1:
		what = "PKCS#1 v1.5 decryption";
		word = "lacks decrypt-pkcs1";
		break;
	case OTLS_ALLOW_DECRYPT_OAEP:
		what = "OAEP decryption";
		word = "lacks decrypt-oaep";
		break;
	default:
		what = "decryption";
		word = "has neither decrypt-pkcs1 nor decrypt-oaep";
		break;
	}
	OPTEE_ERR(c->prov, OPTEE_R_DENIED,
		  "key \"%s\" may not be used for %s (its policy %s)",
		  c->key->info.label, what, word);
	return 0;
}

/* OAEP as the TA does it: SHA-1 or SHA-256, same MGF1 hash, no label. */
static int oaep_alg(struct ac_ctx *c, uint32_t *alg)
{
	int h = md_id(c->oaep_md);
	int m = c->mgf1_md != NULL ? md_id(c->mgf1_md) : h;

	if (h == ACMD_OTHER) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "OAEP with %s: the TEE decrypts OAEP with SHA-1 or "
			  "SHA-256", EVP_MD_get0_name(c->oaep_md));
		return 0;
	}
	if (m != h) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "OAEP with MGF1 %s: the TEE uses MGF1 with the OAEP "
			  "hash (%s)", EVP_MD_get0_name(c->mgf1_md),
			  h == ACMD_SHA1 ? "SHA1" : "SHA2-256");
		return 0;
	}
	if (c->label_len != 0) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "OAEP label of %zu bytes: the TEE decrypts OAEP with "
			  "an empty label", c->label_len);
		return 0;
	}
	*alg = h == ACMD_SHA1 ? OTLS_ALG_RSA_DECRYPT_OAEP_SHA1
			      : OTLS_ALG_RSA_DECRYPT_OAEP_SHA256;
	return 1;
}

/*
 * The ciphertext as the TA wants it: exactly the modulus size. A shorter
 * one is the same number (OpenSSL accepts it too) and is left-padded with
 * zeros; a longer one cannot be a ciphertext for this key.
 */
static int ciphertext(struct ac_ctx *c, const unsigned char *in, size_t inlen,
		      unsigned char *ct, size_t k)
{
	if (in == NULL || inlen == 0 || inlen > k || k > OTLS_MAX_CIPHERTEXT) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
			  "RSA ciphertext of %zu bytes for a %zu byte modulus",
			  inlen, k);
		return 0;
	}
	memset(ct, 0, k - inlen);
	memcpy(ct + (k - inlen), in, inlen);
	return 1;
}

/* ---- context --------------------------------------------------------- */

static void *ac_newctx(void *provctx)
{
	struct ac_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->prov = provctx;
	c->pad = RSA_PKCS1_PADDING;
	return c;
}

static void ac_freectx(void *vctx)
{
	struct ac_ctx *c = vctx;

	if (c == NULL)
		return;
	optee_key_free(c->key);
	EVP_MD_free(c->oaep_md);
	EVP_MD_free(c->mgf1_md);
	OPENSSL_free(c->label);
	OPENSSL_free(c->propq);
	OPENSSL_clear_free(c, sizeof(*c));
}

static void *ac_dupctx(void *vctx)
{
	struct ac_ctx *src = vctx, *c;

	if (src == NULL)
		return NULL;
	c = OPENSSL_memdup(src, sizeof(*src));
	if (c == NULL)
		return NULL;
	c->propq = NULL;
	c->label = NULL;
	if (c->key != NULL)
		optee_key_up_ref(c->key);
	if (c->oaep_md != NULL && !EVP_MD_up_ref(c->oaep_md))
		c->oaep_md = NULL;
	if (c->mgf1_md != NULL && !EVP_MD_up_ref(c->mgf1_md))
		c->mgf1_md = NULL;
	if ((src->oaep_md != NULL && c->oaep_md == NULL)
	    || (src->mgf1_md != NULL && c->mgf1_md == NULL))
		goto err;
	if (src->propq != NULL
	    && (c->propq = OPENSSL_strdup(src->propq)) == NULL)
		goto err;
	if (src->label != NULL
	    && (c->label = OPENSSL_memdup(src->label, src->label_len)) == NULL)
		goto err;
	return c;
err:
	ac_freectx(c);
	return NULL;
}

static int ac_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int ac_init(struct ac_ctx *c, void *provkey, const OSSL_PARAM params[],
		   int op)
{
	optee_key *key = provkey;

	if (c == NULL)
		return 0;
	if (key == NULL && c->key == NULL) {
		OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY, "no key");
		return 0;
	}
	if (key != NULL) {
		if (key->ktype != OPTEE_KT_RSA) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "%s key used for RSA encryption/decryption",
				  optee_ktype_name(key->ktype));
			return 0;
		}
		if (op == AC_DECRYPT && !key->has_ref) {
			OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY,
				  "this key has only public parts");
			return 0;
		}
		if (!key->has_pub) {
			OPTEE_ERR(c->prov, OPTEE_R_INTERNAL,
				  "key has no public part");
			return 0;
		}
		optee_key_up_ref(key);
		optee_key_free(c->key);
		c->key = key;
	}
	/*
	 * A key without any decryption right fails here already, with the
	 * reason, rather than at the first ciphertext.
	 */
	if (op == AC_DECRYPT
	    && !check_policy(c, OTLS_ALLOW_DECRYPT_PKCS1
				| OTLS_ALLOW_DECRYPT_OAEP))
		return 0;
	c->op = op;
	/* A new operation starts from the defaults (as OpenSSL's does). */
	c->pad = RSA_PKCS1_PADDING;
	c->client_version = c->alt_version = 0;
	return ac_set_ctx_params(c, params);
}

static int ac_encrypt_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return ac_init(vctx, provkey, params, AC_ENCRYPT);
}

static int ac_decrypt_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return ac_init(vctx, provkey, params, AC_DECRYPT);
}

/* ---- encryption: the public key, another provider --------------------- */

static int ac_encrypt(void *vctx, unsigned char *out, size_t *outlen,
		      size_t outsize, const unsigned char *in, size_t inlen)
{
	struct ac_ctx *c = vctx;
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int pad, ok = 0;

	if (c == NULL || c->key == NULL || c->op != AC_ENCRYPT || outlen == NULL)
		return 0;
	if (out == NULL) {
		*outlen = key_bytes(c->key);
		return 1;
	}
	if (c->pad != RSA_PKCS1_PADDING && c->pad != RSA_PKCS1_OAEP_PADDING) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "RSA encryption with padding %s: use pkcs1 or oaep",
			  pad_name(c->pad));
		return 0;
	}
	if ((pub = optee_key_public_pkey(c->key)) == NULL)
		return 0;
	pad = c->pad;
	*p++ = OSSL_PARAM_construct_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &pad);
	if (pad == RSA_PKCS1_OAEP_PADDING) {
		*p++ = OSSL_PARAM_construct_utf8_string(
			OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
			(char *)(c->oaep_md != NULL ? EVP_MD_get0_name(c->oaep_md)
						    : "SHA1"), 0);
		if (c->mgf1_md != NULL)
			*p++ = OSSL_PARAM_construct_utf8_string(
				OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
				(char *)EVP_MD_get0_name(c->mgf1_md), 0);
		if (c->label_len != 0)
			*p++ = OSSL_PARAM_construct_octet_string(
				OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, c->label,
				c->label_len);
	}
	*p = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_pkey(c->prov->libctx, pub,
					  OPTEE_DELEGATE_PROPQ);
	*outlen = outsize;	/* EVP_PKEY_encrypt: the size of out */
	ok = pctx != NULL && EVP_PKEY_encrypt_init_ex(pctx, params) > 0
	     && EVP_PKEY_encrypt(pctx, out, outlen, in, inlen) > 0;
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pub);
	return ok;
}

/* ---- decryption in the TA -------------------------------------------- */

/* RFC 5246 7.4.7.1; see the comment at the top. */
static int tls_decrypt(struct ac_ctx *c, unsigned char *out, size_t *outlen,
		       size_t outsize, const unsigned char *in, size_t inlen)
{
	unsigned char rnd[TLS_PREMASTER_LEN];
	unsigned char ct[OTLS_MAX_CIPHERTEXT];
	unsigned char pt[OTLS_MAX_CIPHERTEXT];
	size_t k = key_bytes(c->key), ptlen = sizeof(pt);
	size_t good, version_good, alt_good, fatal;
	int rc;

	/* Checks on public data only: may fail and say why. */
	if (out == NULL) {
		*outlen = TLS_PREMASTER_LEN;
		return 1;
	}
	if (outsize < TLS_PREMASTER_LEN) {
		OPTEE_ERR(c->prov, OPTEE_R_BUFFER_TOO_SMALL,
			  "TLS premaster buffer of %zu bytes", outsize);
		return 0;
	}
	if (c->client_version == 0) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
			  "TLS padding without tls-client-version");
		return 0;
	}
	if (k < PKCS1_PAD_MIN + TLS_PREMASTER_LEN) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "a %zu byte modulus cannot carry a TLS premaster", k);
		return 0;
	}
	if (!ciphertext(c, in, inlen, ct, k)
	    || !check_policy(c, OTLS_ALLOW_DECRYPT_PKCS1))
		return 0;

	/* The substitute, drawn before the TA has said anything. */
	if (RAND_priv_bytes_ex(c->prov->libctx, rnd, sizeof(rnd), 0) <= 0) {
		OPTEE_ERR(c->prov, OPTEE_R_INTERNAL,
			  "no random bytes for the TLS premaster secret");
		return 0;
	}
	memset(pt, 0, sizeof(pt));
	rc = otls_decrypt(c->key->info.label, OTLS_ALG_RSA_DECRYPT_PKCS1, ct, k,
			  pt, &ptlen);

	/*
	 * OTLS_OK and OTLS_ERR_DECRYPT_FAILED depend on the plaintext: they
	 * only feed the mask. Anything else (TEE unreachable, TA dead, owner
	 * refused, key gone) happens whatever the ciphertext is, and is an
	 * error; that branch is taken on a mask that is the same for both
	 * secret-dependent answers.
	 */
	good = ct_eq((size_t)(unsigned int)rc, (size_t)(unsigned int)OTLS_OK);
	fatal = ~(good | ct_eq((size_t)(unsigned int)rc,
			       (size_t)(unsigned int)OTLS_ERR_DECRYPT_FAILED));
	if (ct_barrier(fatal) != 0) {
		OPENSSL_cleanse(pt, sizeof(pt));
		OPENSSL_cleanse(rnd, sizeof(rnd));
		OPTEE_ERR_OTLS(c->prov, rc, c->key->info.label,
			       "RSA decryption (TLS key exchange)");
		return 0;
	}
	/* ptlen is at most sizeof(pt) (libopteetls checks); pt is zeroed. */
	good &= ct_eq(ptlen, TLS_PREMASTER_LEN);
	version_good = ct_eq(pt[0], (c->client_version >> 8) & 0xff)
		       & ct_eq(pt[1], c->client_version & 0xff);
	/* SSL_OP_TLS_ROLLBACK_BUG: also the negotiated version. */
	alt_good = ~ct_is_zero(c->alt_version)
		   & ct_eq(pt[0], (c->alt_version >> 8) & 0xff)
		   & ct_eq(pt[1], c->alt_version & 0xff);
	good &= version_good | alt_good;

	for (size_t i = 0; i < TLS_PREMASTER_LEN; i++)
		out[i] = ct_select_8(good, pt[i], rnd[i]);
	*outlen = TLS_PREMASTER_LEN;
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(ct, sizeof(ct));
	return 1;
}

static int ac_decrypt(void *vctx, unsigned char *out, size_t *outlen,
		      size_t outsize, const unsigned char *in, size_t inlen)
{
	struct ac_ctx *c = vctx;
	unsigned char ct[OTLS_MAX_CIPHERTEXT];
	unsigned char pt[OTLS_MAX_CIPHERTEXT];
	size_t k, ptlen = sizeof(pt);
	uint32_t alg;
	int rc;

	if (c == NULL || c->key == NULL || c->op != AC_DECRYPT
	    || outlen == NULL)
		return 0;
	if (!c->key->has_ref) {
		OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY,
			  "this key has only public parts");
		return 0;
	}
	if (!check_pad_supported(c, c->pad))
		return 0;
	if (c->pad == RSA_PKCS1_WITH_TLS_PADDING)
		return tls_decrypt(c, out, outlen, outsize, in, inlen);

	k = key_bytes(c->key);
	if (out == NULL) {	/* size query: never the TA */
		*outlen = k;
		return 1;
	}
	if (c->pad == RSA_PKCS1_OAEP_PADDING) {
		if (!oaep_alg(c, &alg))
			return 0;
	} else {
		alg = OTLS_ALG_RSA_DECRYPT_PKCS1;
	}
	if (!check_policy(c, pad_policy(c->pad))
	    || !ciphertext(c, in, inlen, ct, k))
		return 0;
	rc = otls_decrypt(c->key->info.label, alg, ct, k, pt, &ptlen);
	OPENSSL_cleanse(ct, sizeof(ct));
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(c->prov, rc, c->key->info.label,
			       "RSA decryption");
		return 0;
	}
	if (ptlen > outsize) {
		OPTEE_ERR(c->prov, OPTEE_R_BUFFER_TOO_SMALL,
			  "plaintext of %zu bytes, buffer of %zu", ptlen,
			  outsize);
		OPENSSL_cleanse(pt, sizeof(pt));
		return 0;
	}
	memcpy(out, pt, ptlen);
	*outlen = ptlen;
	OPENSSL_cleanse(pt, sizeof(pt));
	return 1;
}

/* ---- parameters ------------------------------------------------------ */

static const struct {
	int mode;
	const char *name;
} pad_names[] = {
	{ RSA_PKCS1_PADDING, OSSL_PKEY_RSA_PAD_MODE_PKCSV15 },
	{ RSA_PKCS1_OAEP_PADDING, OSSL_PKEY_RSA_PAD_MODE_OAEP },
	{ RSA_PKCS1_OAEP_PADDING, "oeap" },	/* OpenSSL accepts it too */
	{ RSA_NO_PADDING, OSSL_PKEY_RSA_PAD_MODE_NONE },
	{ RSA_X931_PADDING, OSSL_PKEY_RSA_PAD_MODE_X931 },
};

static int fetch_md(struct ac_ctx *c, const OSSL_PARAM *p,
		    const OSSL_PARAM *props_p, EVP_MD **dst, const char *what)
{
	const char *name = NULL, *props = c->propq;
	EVP_MD *md;

	if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || name == NULL) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM, "%s: expected a digest name",
			  what);
		return 0;
	}
	if (props_p != NULL
	    && (!OSSL_PARAM_get_utf8_string_ptr(props_p, &props)))
		return 0;
	if (name[0] == '\0') {	/* back to the default */
		EVP_MD_free(*dst);
		*dst = NULL;
		return 1;
	}
	md = EVP_MD_fetch(c->prov->libctx, name,
			  props != NULL && props[0] != '\0' ? props
							    : OPTEE_DELEGATE_PROPQ);
	if (md == NULL) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED, "%s %s not available",
			  what, name);
		return 0;
	}
	EVP_MD_free(*dst);
	*dst = md;
	return 1;
}

static int ac_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct ac_ctx *c = vctx;
	const OSSL_PARAM *p;

	if (c == NULL)
		return 0;
	if (params == NULL)
		return 1;

	if ((p = OSSL_PARAM_locate_const(params,
					 OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST))
	    != NULL
	    && !fetch_md(c, p, OSSL_PARAM_locate_const(params,
				OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS),
			 &c->oaep_md, "OAEP digest"))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
					 OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST))
	    != NULL
	    && !fetch_md(c, p, OSSL_PARAM_locate_const(params,
				OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS),
			 &c->mgf1_md, "MGF1 digest"))
		return 0;
	/* Refuse what the TA cannot decrypt right away, with the reason. */
	if (c->op == AC_DECRYPT && md_id(c->oaep_md) == ACMD_OTHER) {
		OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
			  "OAEP with %s: the TEE decrypts OAEP with SHA-1 or "
			  "SHA-256", EVP_MD_get0_name(c->oaep_md));
		return 0;
	}

	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE))
	    != NULL) {
		int mode = 0;

		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			size_t i, n = sizeof(pad_names) / sizeof(pad_names[0]);

			if (p->data == NULL)
				return 0;
			for (i = 0; i < n; i++)
				if (strcmp(p->data, pad_names[i].name) == 0)
					break;
			if (i == n) {
				OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
					  "RSA padding mode \"%s\"",
					  (const char *)p->data);
				return 0;
			}
			mode = pad_names[i].mode;
		} else if (!OSSL_PARAM_get_int(p, &mode)) {
			OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
				  "pad-mode: expected an integer or a name");
			return 0;
		}
		if (c->op == AC_DECRYPT && !check_pad_supported(c, mode))
			return 0;
		if (c->op == AC_ENCRYPT && mode != RSA_PKCS1_PADDING
		    && mode != RSA_PKCS1_OAEP_PADDING) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "RSA encryption with padding %s: use pkcs1 "
				  "or oaep", pad_name(mode));
			return 0;
		}
		c->pad = mode;
	}

	if ((p = OSSL_PARAM_locate_const(params,
					 OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL))
	    != NULL) {
		void *label = NULL;
		size_t len = 0;

		if (p->data_type != OSSL_PARAM_OCTET_STRING
		    || (p->data != NULL
			&& !OSSL_PARAM_get_octet_string(p, &label, 0, &len))) {
			OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
				  "oaep-label: expected an octet string");
			return 0;
		}
		OPENSSL_free(c->label);
		c->label = label;
		c->label_len = label != NULL ? len : 0;
	}

	if ((p = OSSL_PARAM_locate_const(params,
				OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION))
	    != NULL && !OSSL_PARAM_get_uint(p, &c->client_version)) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
			  "tls-client-version: expected an unsigned integer");
		return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params,
				OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION))
	    != NULL && !OSSL_PARAM_get_uint(p, &c->alt_version)) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM,
			  "tls-negotiated-version: expected an unsigned integer");
		return 0;
	}
	if (c->client_version > 0xffff || c->alt_version > 0xffff) {
		OPTEE_ERR(c->prov, OPTEE_R_BAD_PARAM, "TLS version out of range");
		c->client_version = c->alt_version = 0;
		return 0;
	}
	/*
	 * OpenSSL >= 3.2: implicit rejection needs the private key, which
	 * never leaves the TA. Turning it off is fine; asking for it is not.
	 */
	if ((p = OSSL_PARAM_locate_const(params, "implicit-rejection")) != NULL) {
		unsigned int ir = 0;

		if (!OSSL_PARAM_get_uint(p, &ir))
			return 0;
		if (ir != 0) {
			OPTEE_ERR(c->prov, OPTEE_R_UNSUPPORTED,
				  "implicit rejection needs the private key "
				  "(in the TEE)");
			return 0;
		}
	}
	return 1;
}

static int ac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct ac_ctx *c = vctx;
	OSSL_PARAM *p;

	if (c == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE))
	    != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			const char *name = NULL;

			for (size_t i = 0;
			     i < sizeof(pad_names) / sizeof(pad_names[0]); i++)
				if (pad_names[i].mode == c->pad) {
					name = pad_names[i].name;
					break;
				}
			if (name == NULL || !OSSL_PARAM_set_utf8_string(p, name))
				return 0;
		} else if (!OSSL_PARAM_set_int(p, c->pad)) {
			return 0;
		}
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST))
	    != NULL
	    && !OSSL_PARAM_set_utf8_string(p, c->oaep_md != NULL
					   ? EVP_MD_get0_name(c->oaep_md)
					   : "SHA1"))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST))
	    != NULL) {
		const EVP_MD *m = c->mgf1_md != NULL ? c->mgf1_md : c->oaep_md;

		if (!OSSL_PARAM_set_utf8_string(p, m != NULL
						? EVP_MD_get0_name(m) : "SHA1"))
			return 0;
	}
	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL))
	    != NULL && !OSSL_PARAM_set_octet_ptr(p, c->label, c->label_len))
		return 0;
	if ((p = OSSL_PARAM_locate(params,
				   OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION))
	    != NULL && !OSSL_PARAM_set_uint(p, c->client_version))
		return 0;
	if ((p = OSSL_PARAM_locate(params,
				   OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION))
	    != NULL && !OSSL_PARAM_set_uint(p, c->alt_version))
		return 0;
	return 1;
}

static const OSSL_PARAM *ac_gettable_ctx_params(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_DEFN(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
				OSSL_PARAM_OCTET_PTR, NULL, 0),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION,
				NULL),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

static const OSSL_PARAM *ac_settable_ctx_params(void *vctx, void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS,
				       NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS,
				       NULL, 0),
		OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
		OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION,
				NULL),
		OSSL_PARAM_uint("implicit-rejection", NULL),
		OSSL_PARAM_END
	};

	(void)vctx;
	(void)provctx;
	return t;
}

#define F(id, fn) { id, (void (*)(void))(fn) }

const OSSL_DISPATCH optee_rsa_asym_cipher_functions[] = {
	F(OSSL_FUNC_ASYM_CIPHER_NEWCTX, ac_newctx),
	F(OSSL_FUNC_ASYM_CIPHER_FREECTX, ac_freectx),
	F(OSSL_FUNC_ASYM_CIPHER_DUPCTX, ac_dupctx),
	F(OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, ac_encrypt_init),
	F(OSSL_FUNC_ASYM_CIPHER_ENCRYPT, ac_encrypt),
	F(OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, ac_decrypt_init),
	F(OSSL_FUNC_ASYM_CIPHER_DECRYPT, ac_decrypt),
	F(OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, ac_get_ctx_params),
	F(OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, ac_gettable_ctx_params),
	F(OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, ac_set_ctx_params),
	F(OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, ac_settable_ctx_params),
	{ 0, NULL }
};
