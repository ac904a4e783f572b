/* SPDX-License-Identifier: BSD-2-Clause */
/* The provider key object (see key.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "key.h"

optee_key *optee_key_new(struct optee_prov *prov, int ktype)
{
	optee_key *key = OPENSSL_zalloc(sizeof(*key));

	if (key == NULL)
		return NULL;
	key->prov = prov;
	key->refcnt = 1;
	key->ktype = ktype;
	return key;
}

optee_key *optee_key_dup(const optee_key *src)
{
	optee_key *key = optee_key_new(src->prov, src->ktype);

	if (key == NULL)
		return NULL;
	key->has_ref = src->has_ref;
	key->has_pub = src->has_pub;
	key->info = src->info;
	return key;
}

int optee_key_up_ref(optee_key *key)
{
	__atomic_add_fetch(&key->refcnt, 1, __ATOMIC_RELAXED);
	return 1;
}

void optee_key_free(optee_key *key)
{
	if (key == NULL)
		return;
	if (__atomic_sub_fetch(&key->refcnt, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	OPENSSL_clear_free(key, sizeof(*key));
}

const char *optee_ktype_name(int ktype)
{
	switch (ktype) {
	case OPTEE_KT_EC:
		return "EC";
	case OPTEE_KT_RSA:
		return "RSA";
	case OPTEE_KT_RSA_PSS:
		return "RSA-PSS";
	case OPTEE_KT_ED25519:
		return "ED25519";
	}
	return "?";
}

int optee_ktype_from_info(const otls_key_info *info)
{
	switch (info->key_type) {
	case OTLS_KEY_EC:
		return OPTEE_KT_EC;
	case OTLS_KEY_RSA:
		return OPTEE_KT_RSA;
	case OTLS_KEY_ED25519:
		return OPTEE_KT_ED25519;
	}
	return 0;
}

int optee_ktype_fits(int ktype, uint32_t ta_type)
{
	switch (ktype) {
	case OPTEE_KT_EC:
		return ta_type == OTLS_KEY_EC;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		return ta_type == OTLS_KEY_RSA;
	case OPTEE_KT_ED25519:
		return ta_type == OTLS_KEY_ED25519;
	}
	return 0;
}

const struct optee_policy_word optee_policy_words[] = {
	{ "ecdsa", OTLS_ALLOW_ECDSA },
	{ "pkcs1", OTLS_ALLOW_RSA_PKCS1 },
	{ "pkcs1-digestinfo", OTLS_ALLOW_RSA_PKCS1_DIGESTINFO },
	{ "pss", OTLS_ALLOW_RSA_PSS },
	{ "ed25519", OTLS_ALLOW_ED25519 },
	{ "decrypt-pkcs1", OTLS_ALLOW_DECRYPT_PKCS1 },
	{ "decrypt-oaep", OTLS_ALLOW_DECRYPT_OAEP },
	{ NULL, 0 }
};

static const struct {
	uint32_t bits;
	const char *names[4];	/* first: how OpenSSL reports it */
} ec_groups[] = {
	{ 256, { "prime256v1", "P-256", "secp256r1", NULL } },
	{ 384, { "secp384r1", "P-384", NULL, NULL } },
	{ 521, { "secp521r1", "P-521", NULL, NULL } },
};

const char *optee_ec_group_name(uint32_t bits)
{
	for (size_t i = 0; i < sizeof(ec_groups) / sizeof(ec_groups[0]); i++)
		if (ec_groups[i].bits == bits)
			return ec_groups[i].names[0];
	return NULL;
}

uint32_t optee_ec_group_bits(const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(ec_groups) / sizeof(ec_groups[0]); i++)
		for (size_t j = 0; j < 4 && ec_groups[i].names[j]; j++)
			if (strcasecmp(name, ec_groups[i].names[j]) == 0)
				return ec_groups[i].bits;
	return 0;
}

int optee_key_bits(const optee_key *key)
{
	return (int)key->info.bits;
}

int optee_key_security_bits(const optee_key *key)
{
	uint32_t bits = key->info.bits;

	switch (key->ktype) {
	case OPTEE_KT_EC:
		return bits >= 512 ? 256 : (int)bits / 2;
	case OPTEE_KT_ED25519:
		return 128;
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		/* The same steps as NIST SP 800-57 (and OpenSSL) use. */
		if (bits >= 15360)
			return 256;
		if (bits >= 7680)
			return 192;
		if (bits >= 3072)
			return 128;
		if (bits >= 2048)
			return 112;
		if (bits >= 1024)
			return 80;
		return 0;
	}
	return 0;
}

size_t optee_key_sig_size(const optee_key *key)
{
	size_t q, ilen, content;

	switch (key->ktype) {
	case OPTEE_KT_EC:
		/* SEQUENCE { INTEGER r, INTEGER s }, each up to q + 1 bytes. */
		q = (key->info.bits + 7) / 8;
		ilen = q + 1;
		content = 2 * (ilen + (ilen < 128 ? 2 : 3));
		return content + (content < 128 ? 2 : 3);
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		return (key->info.bits + 7) / 8;
	case OPTEE_KT_ED25519:
		return 64;
	}
	return 0;
}

size_t optee_key_encoded_pub(const optee_key *key, unsigned char *out,
			     size_t outsz)
{
	const otls_key_info *in = &key->info;
	size_t need;

	if (!key->has_pub)
		return 0;
	switch (key->ktype) {
	case OPTEE_KT_EC:
		need = 1 + in->pub_a_len + in->pub_b_len;
		if (out != NULL) {
			if (outsz < need)
				return 0;
			out[0] = 0x04;
			memcpy(out + 1, in->pub_a, in->pub_a_len);
			memcpy(out + 1 + in->pub_a_len, in->pub_b,
			       in->pub_b_len);
		}
		return need;
	case OPTEE_KT_ED25519:
		need = in->pub_a_len;
		if (out != NULL) {
			if (outsz < need)
				return 0;
			memcpy(out, in->pub_a, need);
		}
		return need;
	}
	return 0;
}

int optee_key_spki(const optee_key *key, unsigned char **der, size_t *len)
{
	int rc;

	if (!key->has_pub) {
		OPTEE_ERR(key->prov, OPTEE_R_INTERNAL, "key has no public part");
		return 0;
	}
	rc = otls_key_spki_der(&key->info, der, len);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(key->prov, rc, key->info.label,
			       "encoding the public key");
		return 0;
	}
	return 1;
}

EVP_PKEY *optee_key_public_pkey(const optee_key *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	EVP_PKEY *pkey;

	if (!optee_key_spki(key, &der, &len))
		return NULL;
	p = der;
	pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, key->prov->libctx,
			     OPTEE_DELEGATE_PROPQ);
	otls_free(der);
	if (pkey == NULL)
		OPTEE_ERR(key->prov, OPTEE_R_INTERNAL,
			  "cannot load the public key for verification");
	return pkey;
}

int optee_key_pub_equal(const optee_key *a, const optee_key *b)
{
	const otls_key_info *x = &a->info, *y = &b->info;

	if (!a->has_pub || !b->has_pub)
		return 0;
	if (x->key_type != y->key_type || x->bits != y->bits)
		return 0;
	return x->pub_a_len == y->pub_a_len && x->pub_b_len == y->pub_b_len
	       && CRYPTO_memcmp(x->pub_a, y->pub_a, x->pub_a_len) == 0
	       && CRYPTO_memcmp(x->pub_b, y->pub_b, x->pub_b_len) == 0;
}

int optee_keyref_fetch(struct optee_prov *prov, const char *label,
		       const unsigned char *expect_spki, size_t expect_len,
		       struct optee_keyref *ref)
{
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	int rc;

	memset(ref, 0, sizeof(*ref));
	rc = otls_key_get(label, &ref->info);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(prov, rc, label, "looking the key up");
		return 0;
	}
	ref->ktype = optee_ktype_from_info(&ref->info);
	if (ref->ktype == 0) {
		OPTEE_ERR(prov, OPTEE_R_UNSUPPORTED,
			  "key \"%s\" has a key type (%u) this provider does not know",
			  label, ref->info.key_type);
		return 0;
	}
	if (expect_spki != NULL) {
		rc = otls_key_spki_der(&ref->info, &spki, &spki_len);
		if (rc != OTLS_OK) {
			OPTEE_ERR_OTLS(prov, rc, label, "encoding the public key");
			return 0;
		}
		if (spki_len != expect_len
		    || memcmp(spki, expect_spki, spki_len) != 0) {
			otls_free(spki);
			OPTEE_ERR(prov, OPTEE_R_KEY_MISMATCH,
				  "the key the TEE holds under label \"%s\" is not "
				  "the one this reference was written for (other "
				  "device, or the key was generated again)", label);
			return 0;
		}
		otls_free(spki);
	}
	ref->magic = OPTEE_KEYREF_MAGIC;
	ref->prov = prov;
	return 1;
}
