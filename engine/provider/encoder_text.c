/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Text encoder for keys held in the TEE: what `openssl pkey -text`,
 * `genpkey -text` and EVP_PKEY_print_private() print.
 *
 * OpenSSL's own text encoders print the private key, so they ask our
 * keymgmt to export it, which we refuse: without this encoder `pkey -text`
 * failed with no message. This one prints, in the look of OpenSSL's text
 * output, the public parts we hold, where the private key is (the label)
 * and the key's policy; never a TA call (the key lookup that loaded the key
 * already gave all of it).
 *
 * Selection: private key (keypair) only. A public-key selection
 * (`-text_pub`, certificates, CSRs) goes to the other providers' encoders
 * through export, unchanged. It has no import_object, so OpenSSL uses it
 * only for keys of our own keymgmt, never for another provider's keys.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include "key.h"

/* Bytes per line of a hex block, as OpenSSL prints them. */
#define HEX_PER_LINE 15

struct text_ctx {
	struct optee_prov *prov;
};

static void *text_newctx(void *provctx)
{
	struct text_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c != NULL)
		c->prov = provctx;
	return c;
}

static void text_freectx(void *vctx)
{
	OPENSSL_free(vctx);
}

static int text_does_selection(void *provctx, int selection)
{
	(void)provctx;
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

/*
 * "label\n" then the bytes as "    xx:xx:...", HEX_PER_LINE a line, every
 * line but the last ending with ':' (OpenSSL's labeled buffer look).
 */
static int print_hex(BIO *out, const char *label, const unsigned char *buf,
		     size_t len)
{
	if (BIO_printf(out, "%s\n", label) <= 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (i % HEX_PER_LINE == 0
		    && BIO_printf(out, "%s    ", i > 0 ? "\n" : "") <= 0)
			return 0;
		if (BIO_printf(out, "%02x%s", buf[i], i + 1 < len ? ":" : "") <= 0)
			return 0;
	}
	return BIO_printf(out, "\n") > 0;
}

/*
 * An unsigned big-endian integer as OpenSSL prints a BIGNUM: a number that
 * fits a word as "label N (0xN)", else a hex block without leading zeros,
 * with a 00 in front when the top bit is set.
 */
static int print_uint(BIO *out, const char *label, const unsigned char *buf,
		      size_t len)
{
	unsigned char tmp[OTLS_MAX_PUB_PART + 1];

	while (len > 0 && buf[0] == 0) {
		buf++;
		len--;
	}
	if (len <= sizeof(unsigned long long)) {
		unsigned long long v = 0;

		for (size_t i = 0; i < len; i++)
			v = v << 8 | buf[i];
		if (v == 0)
			return BIO_printf(out, "%s 0\n", label) > 0;
		return BIO_printf(out, "%s %llu (0x%llx)\n", label, v, v) > 0;
	}
	if (len > OTLS_MAX_PUB_PART)
		return 0;
	if (buf[0] & 0x80) {
		tmp[0] = 0;
		memcpy(tmp + 1, buf, len);
		return print_hex(out, label, tmp, len + 1);
	}
	return print_hex(out, label, buf, len);
}

/* "policy: ecdsa, pkcs1, owner uid 33" (or ", any client"). */
static int print_policy(BIO *out, const struct otls_policy *pol)
{
	uint32_t known = 0;
	int n = 0;

	if (BIO_printf(out, "policy:") <= 0)
		return 0;
	for (size_t i = 0; optee_policy_words[i].word != NULL; i++) {
		known |= optee_policy_words[i].bit;
		if ((pol->allowed & optee_policy_words[i].bit) == 0)
			continue;
		if (BIO_printf(out, "%s %s", n++ ? "," : "",
			       optee_policy_words[i].word) <= 0)
			return 0;
	}
	if ((pol->allowed & ~known) != 0
	    && BIO_printf(out, "%s 0x%x", n++ ? "," : "",
			  (unsigned)(pol->allowed & ~known)) <= 0)
		return 0;
	if (n == 0 && BIO_printf(out, " (no algorithm)") <= 0)
		return 0;
	switch (pol->owner_kind) {
	case OTLS_OWNER_ANY:
		return BIO_printf(out, ", any client\n") > 0;
	case OTLS_OWNER_UID:
		return BIO_printf(out, ", owner uid %u\n",
				  (unsigned)pol->owner_id) > 0;
	case OTLS_OWNER_GID:
		return BIO_printf(out, ", owner gid %u\n",
				  (unsigned)pol->owner_id) > 0;
	}
	return BIO_printf(out, ", owner kind %u id %u\n",
			  (unsigned)pol->owner_kind,
			  (unsigned)pol->owner_id) > 0;
}

static int print_key(BIO *out, const optee_key *key)
{
	const otls_key_info *in = &key->info;
	char where[OTLS_LABEL_MAX + 64];
	unsigned char pt[1 + 2 * OTLS_MAX_PUB_PART];
	size_t ptlen;

	if (key->has_ref)
		snprintf(where, sizeof(where), "held in the TEE: optee:%s",
			 in->label);
	else
		snprintf(where, sizeof(where), "not held in the TEE");

	switch (key->ktype) {
	case OPTEE_KT_ED25519:
		if (BIO_printf(out, "ED25519 %s: (%s)\n",
			       key->has_ref ? "Private-Key" : "Public-Key",
			       where) <= 0)
			return 0;
		break;
	case OPTEE_KT_EC:
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		if (BIO_printf(out, "%s: (%u bit, %s)\n",
			       key->has_ref ? "Private-Key" : "Public-Key",
			       (unsigned)in->bits, where) <= 0)
			return 0;
		break;
	default:
		return 0;
	}
	if (BIO_printf(out, key->has_ref
		       ? "  the private key never leaves the TEE; public part:\n"
		       : "  no private key; public part:\n") <= 0)
		return 0;

	switch (key->ktype) {
	case OPTEE_KT_EC: {
		const char *group = optee_ec_group_name(in->bits);

		ptlen = optee_key_encoded_pub(key, pt, sizeof(pt));
		if (ptlen == 0 || !print_hex(out, "pub:", pt, ptlen))
			return 0;
		if (group != NULL
		    && (BIO_printf(out, "ASN1 OID: %s\n", group) <= 0
			|| BIO_printf(out, "NIST CURVE: P-%u\n",
				      (unsigned)in->bits) <= 0))
			return 0;
		break;
	}
	case OPTEE_KT_RSA:
	case OPTEE_KT_RSA_PSS:
		if (!key->has_pub
		    || !print_uint(out, "Modulus:", in->pub_a, in->pub_a_len)
		    || !print_uint(out, "Exponent:", in->pub_b, in->pub_b_len))
			return 0;
		/* The keymgmt keeps no PSS parameter restrictions. */
		if (key->ktype == OPTEE_KT_RSA_PSS
		    && BIO_printf(out, "No PSS parameter restrictions\n") <= 0)
			return 0;
		break;
	case OPTEE_KT_ED25519:
		ptlen = optee_key_encoded_pub(key, pt, sizeof(pt));
		if (ptlen == 0 || !print_hex(out, "pub:", pt, ptlen))
			return 0;
		break;
	}
	if (key->has_ref && !print_policy(out, &in->policy))
		return 0;
	return 1;
}

static int text_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
		       const OSSL_PARAM obj_abstract[], int selection,
		       OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
	struct text_ctx *c = vctx;
	const optee_key *key = obj_raw;
	BIO *out;
	int ok;

	(void)obj_abstract;
	(void)cb;
	(void)cbarg;
	if (!(selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) || key == NULL)
		return 0;
	out = BIO_new_from_core_bio(c->prov->libctx, cout);
	if (out == NULL)
		return 0;
	ok = print_key(out, key);
	BIO_free(out);
	return ok;
}

const OSSL_DISPATCH optee_text_encoder_functions[] = {
	{ OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))text_newctx },
	{ OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))text_freectx },
	{ OSSL_FUNC_ENCODER_DOES_SELECTION,
	  (void (*)(void))text_does_selection },
	{ OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))text_encode },
	{ 0, NULL }
};
