/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Decoders for the key reference file, so that programs which read a PEM
 * private key (PEM_read_bio_PrivateKey, OSSL_DECODER, OSSL_STORE "file:",
 * i.e. nginx, curl, Python's ssl, openssl pkey -in) get the TEE key with no
 * change once openssl.cnf activates this provider.
 *
 * OpenSSL's own PEM decoder passes over PEM names it does not know, so:
 *
 *   pem2der   "-----BEGIN OPTEE TLS KEY-----": parses the body, looks the
 *             label up in the TA and checks that the key there has the
 *             public key the file was written for. Failures are raised
 *             here: this is the one step every caller's chain runs (the
 *             file store drops errors of later steps). Passes on a key info
 *             blob (structure OpteeTlsKeyInfo, data type EC/RSA/ED25519).
 *   blob2key  (per key type) the blob -> an object reference for our
 *             keymgmt's load. No TA call.
 *   der2key   (per key type) the DER body of a reference (a DER reference
 *             file) -> lookup, check, object reference. DER that is not a
 *             reference is left alone: other decoders see the same input.
 */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include "key.h"

#define MAX_REF_FILE (16 * 1024)

/* What pem2der hands to blob2key (same process, never stored). */
#define OPTEE_KEYBLOB_MAGIC 0x6f746b62u	/* "otkb" */
struct optee_keyblob {
	uint32_t magic;
	uint32_t ktype;
	otls_key_info info;
};

struct dec_ctx {
	struct optee_prov *prov;
	int ktype;
};

static void *dec_newctx(void *provctx, int ktype)
{
	struct dec_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c != NULL) {
		c->prov = provctx;
		c->ktype = ktype;
	}
	return c;
}

static void dec_freectx(void *vctx)
{
	OPENSSL_free(vctx);
}

/* ---- helpers --------------------------------------------------------- */

/* Read one DER TLV header; returns the header size, 0 if malformed. */
static size_t der_hdr(const unsigned char *p, size_t avail, unsigned char tag,
		      size_t *len)
{
	size_t n, i;

	if (avail < 2 || p[0] != tag)
		return 0;
	if (p[1] < 0x80) {
		*len = p[1];
		n = 2;
	} else {
		size_t k = p[1] & 0x7f;

		if (k == 0 || k > 3 || avail < 2 + k)
			return 0;
		*len = 0;
		for (i = 0; i < k; i++)
			*len = (*len << 8) | p[2 + i];
		n = 2 + k;
	}
	return *len <= avail - n ? n : 0;
}

/* The key type named by an SPKI's algorithm OID, 0 if none we know. */
static int spki_ktype(const unsigned char *spki, size_t len)
{
	static const unsigned char ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
					    0x01 };
	static const unsigned char rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
					     0x01, 0x01, 0x01 };
	static const unsigned char ed25519[] = { 0x2b, 0x65, 0x70 };
	size_t h, l;

	if ((h = der_hdr(spki, len, 0x30, &l)) == 0)
		return 0;
	spki += h;
	len = l;
	if ((h = der_hdr(spki, len, 0x30, &l)) == 0)
		return 0;
	spki += h;
	len = l;
	if ((h = der_hdr(spki, len, 0x06, &l)) == 0)
		return 0;
	spki += h;
	if (l == sizeof(ec) && memcmp(spki, ec, l) == 0)
		return OPTEE_KT_EC;
	if (l == sizeof(rsa) && memcmp(spki, rsa, l) == 0)
		return OPTEE_KT_RSA;
	if (l == sizeof(ed25519) && memcmp(spki, ed25519, l) == 0)
		return OPTEE_KT_ED25519;
	return 0;
}

/* Read what is left of a core BIO (at most max bytes). */
static unsigned char *read_all(struct optee_prov *prov, OSSL_CORE_BIO *cin,
			       size_t max, size_t *len)
{
	BIO *in = BIO_new_from_core_bio(prov->libctx, cin);
	unsigned char *buf;
	int n;

	*len = 0;
	if (in == NULL)
		return NULL;
	buf = OPENSSL_malloc(max);
	if (buf != NULL)
		while (*len < max
		       && (n = BIO_read(in, buf + *len, (int)(max - *len))) > 0)
			*len += (size_t)n;
	BIO_free(in);
	return buf;
}

/* Pass an object reference for our keymgmt to load. */
static int pass_reference(struct optee_keyref *ref, OSSL_CALLBACK *data_cb,
			  void *data_cbarg)
{
	OSSL_PARAM params[4];
	int objtype = OSSL_OBJECT_PKEY, ok;

	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &objtype);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
			(char *)optee_ktype_name(ref->ktype), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE,
						      ref, sizeof(*ref));
	params[3] = OSSL_PARAM_construct_end();
	ok = data_cb(params, data_cbarg);
	OPENSSL_cleanse(ref, sizeof(*ref));
	return ok;
}

/*
 * Parse the DER body of a reference, look it up and check it.
 * Returns 1 with *ref filled, 0 on a raised error, -1 if der is not a
 * reference at all (quiet).
 */
static int resolve(struct optee_prov *prov, const unsigned char *der,
		   size_t len, int quiet_if_not_ref, struct optee_keyref *ref)
{
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	char label[OTLS_LABEL_MAX + 1];
	int rc, ok;

	rc = otls_ref_decode_der(der, len, label, &spki, &spki_len);
	if (rc != OTLS_OK) {
		if (quiet_if_not_ref)
			return -1;
		OPTEE_ERR(prov, OPTEE_R_MALFORMED_REF,
			  "the " OTLS_PEM_NAME " block cannot be parsed (%s)",
			  otls_strerror(rc));
		return 0;
	}
	if (spki_ktype(spki, spki_len) == 0) {
		otls_free(spki);
		OPTEE_ERR(prov, OPTEE_R_UNSUPPORTED,
			  "key reference \"%s\" holds a public key of a type "
			  "this provider does not know", label);
		return 0;
	}
	ok = optee_keyref_fetch(prov, label, spki, spki_len, ref);
	otls_free(spki);
	return ok;
}

/* ---- PEM -> key info blob -------------------------------------------- */

static void *pem2der_newctx(void *provctx)
{
	return dec_newctx(provctx, 0);
}

static int pem2der_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
			  OSSL_CALLBACK *data_cb, void *data_cbarg,
			  OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct dec_ctx *c = vctx;
	BIO *in = BIO_new_from_core_bio(c->prov->libctx, cin);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len = 0;
	int ok = 1, got;

	(void)selection;
	(void)pw_cb;
	(void)pw_cbarg;
	if (in == NULL)
		return 0;
	ERR_set_mark();
	got = PEM_read_bio(in, &name, &header, &der, &len) > 0;
	ERR_pop_to_mark();
	/* Not PEM, or another PEM type: nothing for us ("empty handed"). */
	if (got && strcmp(name, OTLS_PEM_NAME) == 0) {
		struct optee_keyref ref;
		struct optee_keyblob blob;
		OSSL_PARAM params[5];
		int objtype = OSSL_OBJECT_PKEY;

		ok = resolve(c->prov, der, (size_t)len, 0, &ref) == 1;
		if (ok) {
			memset(&blob, 0, sizeof(blob));
			blob.magic = OPTEE_KEYBLOB_MAGIC;
			blob.ktype = (uint32_t)ref.ktype;
			blob.info = ref.info;
			params[0] = OSSL_PARAM_construct_octet_string(
				OSSL_OBJECT_PARAM_DATA, &blob, sizeof(blob));
			params[1] = OSSL_PARAM_construct_utf8_string(
				OSSL_OBJECT_PARAM_DATA_STRUCTURE,
				(char *)OPTEE_BLOB_STRUCTURE, 0);
			params[2] = OSSL_PARAM_construct_utf8_string(
				OSSL_OBJECT_PARAM_DATA_TYPE,
				(char *)optee_ktype_name(ref.ktype), 0);
			params[3] = OSSL_PARAM_construct_int(
				OSSL_OBJECT_PARAM_TYPE, &objtype);
			params[4] = OSSL_PARAM_construct_end();
			ok = data_cb(params, data_cbarg);
			OPENSSL_cleanse(&blob, sizeof(blob));
			OPENSSL_cleanse(&ref, sizeof(ref));
		}
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(in);
	return ok;
}

/* ---- key info blob -> reference -------------------------------------- */

static int blob2key_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
			   OSSL_CALLBACK *data_cb, void *data_cbarg,
			   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct dec_ctx *c = vctx;
	struct optee_keyblob *blob;
	struct optee_keyref ref;
	size_t len = 0;
	int ok = 1;

	(void)selection;
	(void)pw_cb;
	(void)pw_cbarg;
	blob = (struct optee_keyblob *)read_all(c->prov, cin,
						sizeof(*blob) + 1, &len);
	if (blob == NULL)
		return 0;
	if (len == sizeof(*blob) && blob->magic == OPTEE_KEYBLOB_MAGIC
	    && (int)blob->ktype == c->ktype
	    && optee_ktype_fits(c->ktype, blob->info.key_type)) {
		memset(&ref, 0, sizeof(ref));
		ref.magic = OPTEE_KEYREF_MAGIC;
		ref.prov = c->prov;
		ref.ktype = c->ktype;
		ref.info = blob->info;
		ok = pass_reference(&ref, data_cb, data_cbarg);
	}
	OPENSSL_clear_free(blob, sizeof(*blob) + 1);
	return ok;
}

/* ---- DER body of a reference -> reference ---------------------------- */

static int der2key_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
			  OSSL_CALLBACK *data_cb, void *data_cbarg,
			  OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct dec_ctx *c = vctx;
	struct optee_keyref ref;
	unsigned char *der;
	size_t len = 0;
	int ok = 1, r;

	(void)selection;
	(void)pw_cb;
	(void)pw_cbarg;
	der = read_all(c->prov, cin, MAX_REF_FILE, &len);
	if (der == NULL)
		return 0;
	/* Quietly skip what is not a reference, or one of another type. */
	{
		unsigned char *spki = NULL;
		size_t spki_len = 0;
		char label[OTLS_LABEL_MAX + 1];

		if (otls_ref_decode_der(der, len, label, &spki, &spki_len)
		    != OTLS_OK)
			goto end;
		r = spki_ktype(spki, spki_len);
		otls_free(spki);
		if (r != c->ktype)
			goto end;
	}
	r = resolve(c->prov, der, len, 1, &ref);
	if (r == 1)
		ok = pass_reference(&ref, data_cb, data_cbarg);
	else
		ok = r < 0;
end:
	OPENSSL_free(der);
	return ok;
}

#define DEC_TYPE(pfx, KT)                                                    \
	static void *pfx##_newctx(void *provctx)                             \
	{                                                                    \
		return dec_newctx(provctx, KT);                              \
	}                                                                    \
	const OSSL_DISPATCH optee_blob2##pfx##_decoder_functions[] = {       \
		{ OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pfx##_newctx },  \
		{ OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },  \
		{ OSSL_FUNC_DECODER_DECODE, (void (*)(void))blob2key_decode }, \
		{ 0, NULL }                                                  \
	};                                                                   \
	const OSSL_DISPATCH optee_der2##pfx##_decoder_functions[] = {        \
		{ OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pfx##_newctx },  \
		{ OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },  \
		{ OSSL_FUNC_DECODER_DECODE, (void (*)(void))der2key_decode }, \
		{ 0, NULL }                                                  \
	};

DEC_TYPE(ec, OPTEE_KT_EC)
DEC_TYPE(rsa, OPTEE_KT_RSA)
DEC_TYPE(ed25519, OPTEE_KT_ED25519)

const OSSL_DISPATCH optee_pem2der_decoder_functions[] = {
	{ OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pem2der_newctx },
	{ OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx },
	{ OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem2der_decode },
	{ 0, NULL }
};
