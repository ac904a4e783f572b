/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Encoders that write the key reference ("-----BEGIN OPTEE TLS KEY-----",
 * or its DER body) wherever OpenSSL would write a private key: genpkey
 * -out, pkey -out, storeutl, PEM_write_bio_PrivateKey. Never key material.
 *
 * They take the private-key selection only. Public keys (pkey -pubout,
 * SubjectPublicKeyInfo PEM/DER, -text_pub) are written by the other
 * providers' encoders: our keymgmt exports the public parts to them.
 * `pkey -text` of a TEE key is encoder_text.c's.
 *
 * The reference holds nothing secret, so a cipher asked for (genpkey
 * -aes256) is not applied.
 */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include "key.h"

struct enc_ctx {
	struct optee_prov *prov;
	int der;
};

static void *enc_newctx(void *provctx, int der)
{
	struct enc_ctx *c = OPENSSL_zalloc(sizeof(*c));

	if (c != NULL) {
		c->prov = provctx;
		c->der = der;
	}
	return c;
}

static void *enc_pem_newctx(void *provctx)
{
	return enc_newctx(provctx, 0);
}

static void *enc_der_newctx(void *provctx)
{
	return enc_newctx(provctx, 1);
}

static void enc_freectx(void *vctx)
{
	OPENSSL_free(vctx);
}

static int enc_does_selection(void *provctx, int selection)
{
	(void)provctx;
	return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

static const OSSL_PARAM *enc_settable_ctx_params(void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_utf8_string(OSSL_ENCODER_PARAM_CIPHER, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_ENCODER_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return t;
}

static int enc_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	(void)vctx;
	(void)params;
	return 1;	/* nothing secret to encrypt */
}

static int enc_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw,
		      const OSSL_PARAM obj_abstract[], int selection,
		      OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
	struct enc_ctx *c = vctx;
	const optee_key *key = obj_raw;
	char *pem = NULL;
	BIO *out = NULL, *mem = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	int ok = 0, rc;

	(void)obj_abstract;
	(void)cb;
	(void)cbarg;
	if (!(selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) || key == NULL)
		return 0;
	if (!key->has_ref) {
		OPTEE_ERR(c->prov, OPTEE_R_NO_TEE_KEY,
			  "only keys held in the TEE have a reference to write");
		return 0;
	}
	rc = otls_ref_encode_pem(&key->info, &pem);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(c->prov, rc, key->info.label,
			       "writing the key reference");
		return 0;
	}
	out = BIO_new_from_core_bio(c->prov->libctx, cout);
	if (out == NULL)
		goto end;
	if (!c->der) {
		size_t n = strlen(pem);

		ok = BIO_write(out, pem, (int)n) == (int)n;
		goto end;
	}
	mem = BIO_new_mem_buf(pem, -1);
	if (mem == NULL || PEM_read_bio(mem, &name, &header, &der, &derlen) <= 0)
		goto end;
	ok = BIO_write(out, der, (int)derlen) == (int)derlen;
end:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(mem);
	BIO_free(out);
	otls_free(pem);
	return ok;
}

#define ENC_TABLE(pfx, newctx)                                               \
	const OSSL_DISPATCH optee_##pfx##_encoder_functions[] = {            \
		{ OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))newctx },        \
		{ OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx },  \
		{ OSSL_FUNC_ENCODER_SETTABLE_CTX_PARAMS,                     \
		  (void (*)(void))enc_settable_ctx_params },                 \
		{ OSSL_FUNC_ENCODER_SET_CTX_PARAMS,                          \
		  (void (*)(void))enc_set_ctx_params },                      \
		{ OSSL_FUNC_ENCODER_DOES_SELECTION,                          \
		  (void (*)(void))enc_does_selection },                      \
		{ OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode },    \
		{ 0, NULL }                                                  \
	};

ENC_TABLE(ec_pem, enc_pem_newctx)
ENC_TABLE(ec_der, enc_der_newctx)
ENC_TABLE(rsa_pem, enc_pem_newctx)
ENC_TABLE(rsa_der, enc_der_newctx)
ENC_TABLE(rsapss_pem, enc_pem_newctx)
ENC_TABLE(rsapss_der, enc_der_newctx)
ENC_TABLE(ed25519_pem, enc_pem_newctx)
ENC_TABLE(ed25519_der, enc_der_newctx)
