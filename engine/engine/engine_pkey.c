/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ENGINE's EVP_PKEY_METHOD table (RSA, RSA-PSS: engine_rsa.c) and the
 * Ed25519 method, which lives here.
 *
 * Ed25519 keys have no method structure of their own to hook (no
 * ED25519 "KEY_METHOD"), so the key we return is a legacy EVP_PKEY built
 * with EVP_PKEY_new_raw_public_key(..., e, ...): that records the ENGINE in
 * the key, and OpenSSL then takes the EVP_PKEY_METHOD for every context of
 * that key from us (EVP_DigestSign included, which is how libssl signs the
 * CertificateVerify). The label is found again from the public key, which
 * engine.c interned with it.
 */
#include <string.h>

#include "engine_local.h"

typedef int (*pm_digestsign_fn)(EVP_MD_CTX *ctx, unsigned char *sig,
				size_t *siglen, const unsigned char *tbs,
				size_t tbslen);

static pm_digestsign_fn orig_ed25519_digestsign;

#define ED25519_SIG_LEN	64
#define ED25519_PUB_LEN	32

static const char *ed25519_label(EVP_PKEY *pkey)
{
	unsigned char pub[ED25519_PUB_LEN];
	size_t len = sizeof(pub);

	if (pkey == NULL || EVP_PKEY_id(pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1)
		return NULL;
	return engine_label_by_pub(pub, len);
}

static int ed25519_digestsign(EVP_MD_CTX *mctx, unsigned char *sig,
			      size_t *siglen, const unsigned char *tbs,
			      size_t tbslen)
{
	EVP_PKEY_CTX *pctx = EVP_MD_CTX_pkey_ctx(mctx);
	const char *label = ed25519_label(EVP_PKEY_CTX_get0_pkey(pctx));
	size_t len;
	int rc;

	if (label == NULL)
		return orig_ed25519_digestsign(mctx, sig, siglen, tbs, tbslen);
	if (sig == NULL) {
		*siglen = ED25519_SIG_LEN;
		return 1;
	}
	if (*siglen < ED25519_SIG_LEN) {
		OPTEE_ERR(OPTEE_R_BUFFER_TOO_SMALL,
			  "signature buffer of %zu bytes, %d needed", *siglen,
			  ED25519_SIG_LEN);
		return 0;
	}
	if (tbslen > OTLS_MAX_MESSAGE) {
		OPTEE_ERR(OPTEE_R_INVALID_INPUT,
			  "key '%s': Ed25519 message of %zu bytes (the TA signs at most %d)",
			  label, tbslen, OTLS_MAX_MESSAGE);
		return 0;
	}
	len = *siglen;
	rc = otls_sign(label, OTLS_ALG_ED25519, 0, tbs, tbslen, sig, &len, 0);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "Ed25519 signing with");
		return 0;
	}
	*siglen = len;
	return 1;
}

EVP_PKEY *engine_ed25519_pkey(ENGINE *e, const otls_key_info *key,
			      const char *label)
{
	EVP_PKEY *pkey;

	if (key->pub_a_len != ED25519_PUB_LEN) {
		OPTEE_ERR(OPTEE_R_TEE_FAILURE,
			  "key '%s': Ed25519 public key of %zu bytes", label,
			  key->pub_a_len);
		return NULL;
	}
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, e, key->pub_a,
					   key->pub_a_len);
	if (pkey == NULL)
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot build Ed25519 key '%s'",
			  label);
	return pkey;
}

/* ---- Copying methods ------------------------------------------------------- */

/* 1.1.1 declares the EVP_PKEY_meth_get_* getters without const. */
#if OPTEE_OSSL3
# define GETTER_ARG(m) (m)
#else
# define GETTER_ARG(m) ((EVP_PKEY_METHOD *)(m))
#endif

/*
 * EVP_PKEY_meth_copy has not copied every member in every release (the
 * digestsign/digestverify family and the checks came later), so copy those
 * explicitly as well.
 */
void engine_pmeth_copy(EVP_PKEY_METHOD *dst, const EVP_PKEY_METHOD *src)
{
	pm_digestsign_fn ds = NULL;
	int (*dv)(EVP_MD_CTX *, const unsigned char *, size_t,
		  const unsigned char *, size_t) = NULL;
	int (*check)(EVP_PKEY *) = NULL;
	int (*custom)(EVP_PKEY_CTX *, EVP_MD_CTX *) = NULL;

	EVP_PKEY_meth_copy(dst, src);
	EVP_PKEY_meth_get_digestsign(GETTER_ARG(src), &ds);
	EVP_PKEY_meth_set_digestsign(dst, ds);
	EVP_PKEY_meth_get_digestverify(GETTER_ARG(src), &dv);
	EVP_PKEY_meth_set_digestverify(dst, dv);
	EVP_PKEY_meth_get_public_check(src, &check);
	EVP_PKEY_meth_set_public_check(dst, check);
	check = NULL;
	EVP_PKEY_meth_get_param_check(src, &check);
	EVP_PKEY_meth_set_param_check(dst, check);
	EVP_PKEY_meth_get_digest_custom(GETTER_ARG(src), &custom);
	EVP_PKEY_meth_set_digest_custom(dst, custom);
}

/* ---- Per-ENGINE table ------------------------------------------------------ */

/*
 * Each ENGINE gets its own methods, kept in the ENGINE's ex_data (no
 * ex_data callbacks: see engine_local.h), and hands them out only for keys
 * bound to it (EVP_PKEY_set1_engine, or the ENGINE recorded in the key).
 *
 * Asked for the list of key types it implements, the ENGINE answers
 * "none": `openssl ... -engine X` makes X the default for everything it
 * lists (ENGINE_set_default(e, ENGINE_METHOD_ALL)), and a default
 * EVP_PKEY_METHOD for RSA or Ed25519 would turn every
 * EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL) of the process into a legacy
 * context, breaking provider-only operations such as EVP_PKEY_fromdata
 * (which libopteetls itself uses to build public keys). Keys of ours do
 * not need the registration. Since OpenSSL only frees the methods it was
 * told about, our destroy function frees them.
 */
static const int pkey_nids[] = {
	EVP_PKEY_RSA,
	EVP_PKEY_RSA_PSS,
	EVP_PKEY_ED25519,
};
#define N_PKEY_NIDS ((int)(sizeof(pkey_nids) / sizeof(pkey_nids[0])))

struct engine_pmeths {
	EVP_PKEY_METHOD *meth[N_PKEY_NIDS];
};

static int engine_ex_idx = -1;	/* allocated once per load of the module */

static EVP_PKEY_METHOD *ed25519_pmeth_new(void)
{
	const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(EVP_PKEY_ED25519);
	EVP_PKEY_METHOD *meth;
	int flags = 0;

	if (builtin == NULL || orig_ed25519_digestsign == NULL)
		return NULL;
	EVP_PKEY_meth_get0_info(NULL, &flags, builtin);
	meth = EVP_PKEY_meth_new(EVP_PKEY_ED25519, flags);
	if (meth == NULL)
		return NULL;
	engine_pmeth_copy(meth, builtin);
	EVP_PKEY_meth_set_digestsign(meth, ed25519_digestsign);
	return meth;
}

static int engine_pkey_meths(ENGINE *e, EVP_PKEY_METHOD **pmeth,
			     const int **nids, int nid)
{
	struct engine_pmeths *pm;
	int i;

	if (pmeth == NULL) {
		*nids = NULL;	/* see above: never registered as a default */
		return 0;
	}
	*pmeth = NULL;
	pm = engine_ex_idx < 0 ? NULL : ENGINE_get_ex_data(e, engine_ex_idx);
	if (pm == NULL)
		return 0;
	for (i = 0; i < N_PKEY_NIDS; i++)
		if (pkey_nids[i] == nid)
			*pmeth = pm->meth[i];
	return *pmeth != NULL;
}

int engine_pkey_bind(ENGINE *e)
{
	struct engine_pmeths *pm;
	int i;

	pm = OPENSSL_zalloc(sizeof(*pm));
	if (pm == NULL)
		return 0;
	for (i = 0; i < N_PKEY_NIDS; i++) {
		pm->meth[i] = pkey_nids[i] == EVP_PKEY_ED25519 ?
			      ed25519_pmeth_new() :
			      engine_rsa_pmeth_new(pkey_nids[i]);
		if (pm->meth[i] == NULL)
			goto fail;
	}
	if (!ENGINE_set_ex_data(e, engine_ex_idx, pm))
		goto fail;
	if (!ENGINE_set_pkey_meths(e, engine_pkey_meths)) {
		ENGINE_set_ex_data(e, engine_ex_idx, NULL);
		goto fail;
	}
	return 1;
fail:
	for (i = 0; i < N_PKEY_NIDS; i++)
		if (pm->meth[i] != NULL)
			EVP_PKEY_meth_free(pm->meth[i]);
	OPENSSL_free(pm);
	return 0;
}

void engine_pkey_unbind(ENGINE *e)
{
	struct engine_pmeths *pm;
	int i;

	if (engine_ex_idx < 0)
		return;
	pm = ENGINE_get_ex_data(e, engine_ex_idx);
	if (pm == NULL)
		return;
	ENGINE_set_ex_data(e, engine_ex_idx, NULL);
	for (i = 0; i < N_PKEY_NIDS; i++)
		if (pm->meth[i] != NULL)
			EVP_PKEY_meth_free(pm->meth[i]);
	OPENSSL_free(pm);
}

int engine_pkey_init(void)
{
	const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(EVP_PKEY_ED25519);

	if (engine_ex_idx < 0)
		engine_ex_idx = ENGINE_get_ex_new_index(0, NULL, NULL, NULL,
							NULL);
	if (engine_ex_idx < 0 || builtin == NULL)
		return 0;
	EVP_PKEY_meth_get_digestsign(GETTER_ARG(builtin),
				     &orig_ed25519_digestsign);
	return orig_ed25519_digestsign != NULL;
}

void engine_pkey_cleanup(void)
{
}
