/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The provider's key object: a label naming a key inside the TA plus the
 * public description the TA gave for it (otls_key_info). It never holds
 * private material. A key imported from another provider (public parts
 * only, e.g. a certificate's key being matched against ours) has no label.
 */
#ifndef OPTEE_PROV_KEY_H
#define OPTEE_PROV_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>
#include "optee_tls.h"
#include "prov.h"

/* OpenSSL-facing key types (RSA-PSS is an RSA key in the TA). */
enum optee_ktype {
	OPTEE_KT_EC = 1,
	OPTEE_KT_RSA,
	OPTEE_KT_RSA_PSS,
	OPTEE_KT_ED25519,
};

typedef struct optee_key {
	struct optee_prov *prov;
	int refcnt;			/* atomic */
	int ktype;			/* OPTEE_KT_* */
	int has_ref;			/* a key in the TA: info.label is valid */
	int has_pub;			/* info public components are set */
	otls_key_info info;
} optee_key;

/*
 * What the store and the decoder hand to keymgmt load (by address, through
 * OSSL_OBJECT_PARAM_REFERENCE): the key the TA described, already checked.
 */
#define OPTEE_KEYREF_MAGIC 0x6f746b72u	/* "otkr" */
struct optee_keyref {
	uint32_t magic;
	struct optee_prov *prov;
	int ktype;
	otls_key_info info;
};

optee_key *optee_key_new(struct optee_prov *prov, int ktype);
optee_key *optee_key_dup(const optee_key *key);
int optee_key_up_ref(optee_key *key);
void optee_key_free(optee_key *key);

/* OpenSSL key type name ("EC", "RSA", "RSA-PSS", "ED25519"). */
const char *optee_ktype_name(int ktype);
/* The OpenSSL key type for a key the TA described. */
int optee_ktype_from_info(const otls_key_info *info);
/* Does a TA key type fit an OpenSSL key type? */
int optee_ktype_fits(int ktype, uint32_t ta_type);

/*
 * Policy words (-pkeyopt policy:...) and the OTLS_ALLOW_* bit each names,
 * ending with { NULL, 0 }.
 */
struct optee_policy_word {
	const char *word;
	uint32_t bit;
};
extern const struct optee_policy_word optee_policy_words[];

/* EC: curve short name as OpenSSL spells it ("prime256v1"...), or NULL. */
const char *optee_ec_group_name(uint32_t bits);
/* EC: curve bits for a group name (P-256, prime256v1, secp256r1...), 0 if
 * we do not support it. */
uint32_t optee_ec_group_bits(const char *name);

int optee_key_bits(const optee_key *key);
int optee_key_security_bits(const optee_key *key);
/* Largest signature (DER for ECDSA), computed locally. */
size_t optee_key_sig_size(const optee_key *key);

/*
 * EC: 04 || X || Y; Ed25519: the 32-byte key. Returns the length written
 * (or needed when out is NULL), 0 if the key type has no such encoding.
 */
size_t optee_key_encoded_pub(const optee_key *key, unsigned char *out,
			     size_t outsz);

/* SubjectPublicKeyInfo DER (free with otls_free). 1 on success. */
int optee_key_spki(const optee_key *key, unsigned char **der, size_t *len);

/*
 * The public key as an EVP_PKEY of another provider in our child library
 * context (for verification). NULL on error (raised).
 */
EVP_PKEY *optee_key_public_pkey(const optee_key *key);

/* Do two keys have the same public key? */
int optee_key_pub_equal(const optee_key *a, const optee_key *b);

/*
 * Look a label up in the TA and fill a reference; raises the error the
 * user should see. expect_spki (may be NULL) is the public key the caller
 * expects (from a reference file): a different key is refused.
 */
int optee_keyref_fetch(struct optee_prov *prov, const char *label,
		       const unsigned char *expect_spki, size_t expect_len,
		       struct optee_keyref *ref);

#endif /* OPTEE_PROV_KEY_H */
