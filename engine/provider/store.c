/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * OSSL_STORE loader for the "optee" scheme: "optee:LABEL" (also
 * "optee:label=LABEL") yields one private key, as a reference that our
 * keymgmt loads. Anything that takes a key URI works with it:
 *   openssl storeutl optee:web
 *   openssl req -new -key optee:web ...   (also x509, s_server, pkeyutl, dgst)
 *
 * There is deliberately no export_object: OpenSSL must not copy the key
 * (its public half) into another provider's keymgmt; it falls back to ours.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include "key.h"

struct store_ctx {
	struct optee_prov *prov;
	char label[OTLS_LABEL_MAX + 1];
	int expect;
	int done;
	int failed;
};

static void *st_open(void *provctx, const char *uri)
{
	struct optee_prov *prov = provctx;
	struct store_ctx *c;
	char label[OTLS_LABEL_MAX + 1];
	int rc;

	rc = otls_uri_parse(uri, label);
	if (rc != OTLS_OK) {
		OPTEE_ERR(prov, OPTEE_R_MALFORMED_REF,
			  "\"%s\": expected optee:LABEL, LABEL being 1 to %d "
			  "characters of [A-Za-z0-9._-] starting with a letter "
			  "or digit", uri, OTLS_LABEL_MAX);
		return NULL;
	}
	c = OPENSSL_zalloc(sizeof(*c));
	if (c == NULL)
		return NULL;
	c->prov = prov;
	strcpy(c->label, label);
	return c;
}

static const OSSL_PARAM *st_settable_ctx_params(void *provctx)
{
	static const OSSL_PARAM t[] = {
		OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
		OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_PROPERTIES, NULL, 0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return t;
}

static int st_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct store_ctx *c = vctx;
	const OSSL_PARAM *p;

	if (params == NULL)
		return 1;
	p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
	if (p != NULL && !OSSL_PARAM_get_int(p, &c->expect))
		return 0;
	return 1;
}

static int st_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
		   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
	struct store_ctx *c = vctx;
	struct optee_keyref ref;
	OSSL_PARAM params[5];
	int objtype = OSSL_OBJECT_PKEY;
	char desc[OTLS_LABEL_MAX + 32];
	int ok;

	(void)pw_cb;
	(void)pw_cbarg;
	/*
	 * After a failure, report end of data only at the next call, so that
	 * callers (storeutl) count the failure as an error rather than as
	 * "nothing found".
	 */
	if (c->done || c->failed) {
		c->done = 1;
		return 0;
	}
	/* Only keys here: nothing to give to someone expecting a cert. */
	if (c->expect != 0 && c->expect != OSSL_STORE_INFO_PKEY
	    && c->expect != OSSL_STORE_INFO_PUBKEY) {
		c->done = 1;
		return 1;
	}
	if (!optee_keyref_fetch(c->prov, c->label, NULL, 0, &ref)) {
		c->failed = 1;
		return 0;
	}
	c->done = 1;
	snprintf(desc, sizeof(desc), "optee key %s", c->label);
	params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &objtype);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
			(char *)optee_ktype_name(ref.ktype), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE,
						      &ref, sizeof(ref));
	params[3] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC,
						     desc, 0);
	params[4] = OSSL_PARAM_construct_end();
	ok = object_cb(params, object_cbarg);
	OPENSSL_cleanse(&ref, sizeof(ref));
	return ok;
}

static int st_eof(void *vctx)
{
	struct store_ctx *c = vctx;

	return c->done;
}

static int st_close(void *vctx)
{
	OPENSSL_free(vctx);
	return 1;
}

const OSSL_DISPATCH optee_store_functions[] = {
	{ OSSL_FUNC_STORE_OPEN, (void (*)(void))st_open },
	{ OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
	  (void (*)(void))st_settable_ctx_params },
	{ OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))st_set_ctx_params },
	{ OSSL_FUNC_STORE_LOAD, (void (*)(void))st_load },
	{ OSSL_FUNC_STORE_EOF, (void (*)(void))st_eof },
	{ OSSL_FUNC_STORE_CLOSE, (void (*)(void))st_close },
	{ 0, NULL }
};
