// SPDX-License-Identifier: BSD-2-Clause
/*
 * Self-test of the simulator's host Internal Core API (sim/src/tee_api_*.c,
 * storage.c) without the daemon: key generation for every type, persistent
 * storage round trips, signatures checked by plain OpenSSL, short buffers,
 * OP-TEE panic semantics (in forked children), corrupt files, enumeration,
 * and cross-process open conflicts.
 *
 * Usage: api_selftest STORE_DIR     (exit 0 = all passed)
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>
#include "sim_runtime.h"

static int failures;
static const char *store;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		failures++; \
	} \
} while (0)

#define CHECK_RES(expr, want) do { \
	TEE_Result r_ = (expr); \
	if (r_ != (TEE_Result)(want)) { \
		fprintf(stderr, "FAIL %s:%d: %s = 0x%08x, want 0x%08x\n", \
			__FILE__, __LINE__, #expr, r_, (TEE_Result)(want)); \
		failures++; \
	} \
} while (0)

static const TEE_UUID ta_uuid = { 0x8d3a5b12, 0x6c47, 0x4f0e,
	{ 0x9a, 0x1d, 0x2b, 0x7c, 0x0e, 0x5f, 0x4a, 0x61 } };

static void init_instance(uint8_t huk_byte)
{
	struct sim_instance_config cfg = { .store_dir = store };

	memset(cfg.huk, huk_byte, sizeof(cfg.huk));
	cfg.ta_uuid = ta_uuid;
	cfg.client.login = TEE_LOGIN_USER;
	cfg.client.uuid.timeLow = 1000;
	sim_instance_init(&cfg);
}

/* Run fn in a child; true if it ended in TEE_Panic (abort without daemon). */
static bool panics(void (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		fn(arg);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

/* Run fn in a child and return its exit status (fn's result & 0xff). */
static int in_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* ---- Helpers --------------------------------------------------------- */

static TEE_ObjectHandle gen_key(uint32_t type, uint32_t bits, uint32_t curve)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_Attribute a;

	CHECK_RES(TEE_AllocateTransientObject(type, bits, &o), TEE_SUCCESS);
	TEE_InitValueAttribute(&a, TEE_ATTR_ECC_CURVE, curve, 0);
	CHECK_RES(TEE_GenerateKey(o, bits, &a, curve ? 1 : 0), TEE_SUCCESS);
	return o;
}

static size_t get_attr(TEE_ObjectHandle o, uint32_t id, uint8_t *buf,
		       size_t cap)
{
	size_t len = cap;

	CHECK_RES(TEE_GetObjectBufferAttribute(o, id, buf, &len), TEE_SUCCESS);
	return len;
}

/* The public key an outside party rebuilds from GP attributes. */
static EVP_PKEY *public_key_of(TEE_ObjectHandle o, uint32_t type,
			       uint32_t curve_bits)
{
	uint8_t a[600], b[600], pt[1 + 2 * 66];
	size_t la, lb, n;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;

	if (type == TEE_TYPE_ED25519_KEYPAIR) {
		la = get_attr(o, TEE_ATTR_ED25519_PUBLIC_VALUE, a, sizeof(a));
		OSSL_PARAM_BLD_free(bld);
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a, la);
	}
	if (type == TEE_TYPE_RSA_KEYPAIR) {
		la = get_attr(o, TEE_ATTR_RSA_MODULUS, a, sizeof(a));
		lb = get_attr(o, TEE_ATTR_RSA_PUBLIC_EXPONENT, b, sizeof(b));
		bn_n = BN_bin2bn(a, (int)la, NULL);
		bn_e = BN_bin2bn(b, (int)lb, NULL);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
		OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		const char *group = curve_bits == 256 ? "P-256" :
				    curve_bits == 384 ? "P-384" : "P-521";

		n = (curve_bits + 7) / 8;
		la = get_attr(o, TEE_ATTR_ECC_PUBLIC_VALUE_X, a, sizeof(a));
		lb = get_attr(o, TEE_ATTR_ECC_PUBLIC_VALUE_Y, b, sizeof(b));
		CHECK(la <= n && lb <= n);
		/* Attributes come at minimal length: left-pad. */
		memset(pt, 0, sizeof(pt));
		pt[0] = 4;
		memcpy(pt + 1 + n - la, a, la);
		memcpy(pt + 1 + 2 * n - lb, b, lb);
		OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						group, 0);
		OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
						 pt, 1 + 2 * n);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	CHECK(pkey != NULL);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

static bool ossl_verify_ecdsa(EVP_PKEY *pub, const uint8_t *dgst, size_t dlen,
			      const uint8_t *sig, size_t slen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int der_len;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	bool ok;

	ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)slen / 2, NULL),
		       BN_bin2bn(sig + slen / 2, (int)slen / 2, NULL));
	der_len = i2d_ECDSA_SIG(es, &der);
	ok = EVP_PKEY_verify_init(ctx) > 0 &&
	     EVP_PKEY_verify(ctx, der, (size_t)der_len, dgst, dlen) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static TEE_OperationHandle sign_op(uint32_t alg, TEE_ObjectHandle key,
				   uint32_t bits)
{
	TEE_OperationHandle op = TEE_HANDLE_NULL;

	CHECK_RES(TEE_AllocateOperation(&op, alg, TEE_MODE_SIGN, bits),
		  TEE_SUCCESS);
	CHECK_RES(TEE_SetOperationKey(op, key), TEE_SUCCESS);
	return op;
}

static TEE_ObjectHandle open_key(const char *label, uint32_t flags,
				 TEE_Result want)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;

	CHECK_RES(TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, label,
					   strlen(label), flags, &o), want);
	return o;
}

static void persist(const char *label, TEE_ObjectHandle key)
{
	TEE_ObjectHandle p = TEE_HANDLE_NULL;

	CHECK_RES(TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, label,
					     strlen(label),
					     TEE_DATA_FLAG_ACCESS_READ,
					     key, NULL, 0, &p), TEE_SUCCESS);
	TEE_CloseObject(p);
}

/* ---- Tests ---------------------------------------------------------- */

static void test_basics(void)
{
	TEE_Identity id;
	TEE_UUID u;
	uint32_t v;
	uint8_t *p;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	uint8_t h[32];
	size_t hl = 1;
	static const uint8_t abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };

	CHECK_RES(TEE_GetPropertyAsIdentity(TEE_PROPSET_CURRENT_CLIENT,
					    "gpd.client.identity", &id),
		  TEE_SUCCESS);
	CHECK(id.login == TEE_LOGIN_USER && id.uuid.timeLow == 1000);
	CHECK_RES(TEE_GetPropertyAsUUID(TEE_PROPSET_CURRENT_TA, "gpd.ta.appID",
					&u), TEE_SUCCESS);
	CHECK(!memcmp(&u, &ta_uuid, sizeof(u)));
	CHECK_RES(TEE_GetPropertyAsU32(TEE_PROPSET_CURRENT_TA, "no.such", &v),
		  TEE_ERROR_ITEM_NOT_FOUND);

	p = TEE_Malloc(64, TEE_MALLOC_FILL_ZERO);
	CHECK(p && !p[0] && !p[63]);
	TEE_MemFill(p, 0xAB, 64);
	CHECK(p[10] == 0xAB);
	CHECK(TEE_MemCompare(p, p + 1, 10) == 0);
	p[5] = 1;
	CHECK(TEE_MemCompare(p, p + 32, 10) < 0);
	TEE_Free(p);
	TEE_Free(TEE_Malloc(0, TEE_MALLOC_FILL_ZERO));

	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0),
		  TEE_SUCCESS);
	TEE_DigestUpdate(op, "a", 1);
	CHECK_RES(TEE_DigestDoFinal(op, "bc", 2, h, &hl),
		  TEE_ERROR_SHORT_BUFFER);
	CHECK(hl == 32);
	CHECK_RES(TEE_DigestDoFinal(op, "bc", 2, h, &hl), TEE_SUCCESS);
	CHECK(!memcmp(h, abc_sha256, 32));
	TEE_FreeOperation(op);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_MD5SHA1, TEE_MODE_DIGEST, 0),
		  TEE_ERROR_NOT_SUPPORTED);
}

static void test_alloc_limits(void)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;

	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_RSA_KEYPAIR, 8192, &o),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_RSA_KEYPAIR, 128, &o),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_ED25519_KEYPAIR, 255, &o),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_AES, 128, &o),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_ECDSA_SHA256,
					TEE_MODE_SIGN, 384),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_ECDSA_P384,
					TEE_MODE_SIGN, 384), TEE_SUCCESS);
	TEE_FreeOperation(op);
	CHECK_RES(TEE_AllocateOperation(&op, __OPTEE_ALG_ECDSA_P256,
					TEE_MODE_SIGN, 256), TEE_SUCCESS);
	TEE_FreeOperation(op);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_ED25519,
					TEE_MODE_ENCRYPT, 256),
		  TEE_ERROR_NOT_SUPPORTED);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_AES_GCM,
					TEE_MODE_ENCRYPT, 128),
		  TEE_ERROR_NOT_SUPPORTED);
	/* ECDSA key size must match the curve: returned, not a panic. */
	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_ECDSA_KEYPAIR, 384, &o),
		  TEE_SUCCESS);
	{
		TEE_Attribute a;

		TEE_InitValueAttribute(&a, TEE_ATTR_ECC_CURVE,
				       TEE_ECC_CURVE_NIST_P256, 0);
		CHECK_RES(TEE_GenerateKey(o, 384, &a, 1),
			  TEE_ERROR_BAD_PARAMETERS);
	}
	TEE_FreeTransientObject(o);
}

struct ec_case {
	uint32_t bits, curve, alg;
};

static void test_ecdsa(const struct ec_case *c)
{
	char label[32];
	TEE_ObjectHandle k = gen_key(TEE_TYPE_ECDSA_KEYPAIR, c->bits, c->curve);
	TEE_ObjectHandle pk;
	TEE_ObjectInfo info;
	TEE_OperationHandle op;
	EVP_PKEY *pub;
	uint8_t dgst[64], sig[200];
	size_t n = (c->bits + 7) / 8, sl;
	uint32_t a = 0, b = 1;
	size_t dl;

	CHECK_RES(TEE_GetObjectInfo1(k, &info), TEE_SUCCESS);
	CHECK(info.objectType == TEE_TYPE_ECDSA_KEYPAIR);
	CHECK(info.objectSize == c->bits && info.maxObjectSize == c->bits);
	CHECK(info.handleFlags == TEE_HANDLE_FLAG_INITIALIZED);
	CHECK_RES(TEE_GetObjectValueAttribute(k, TEE_ATTR_ECC_CURVE, &a, &b),
		  TEE_SUCCESS);
	CHECK(a == c->curve && b == 0);
	pub = public_key_of(k, TEE_TYPE_ECDSA_KEYPAIR, c->bits);

	snprintf(label, sizeof(label), "ec-%u", c->bits);
	persist(label, k);
	TEE_FreeTransientObject(k);
	pk = open_key(label, TEE_DATA_FLAG_ACCESS_READ |
		      TEE_DATA_FLAG_SHARE_READ, TEE_SUCCESS);
	CHECK_RES(TEE_GetObjectInfo1(pk, &info), TEE_SUCCESS);
	CHECK(info.handleFlags == (TEE_HANDLE_FLAG_PERSISTENT |
				   TEE_HANDLE_FLAG_INITIALIZED |
				   TEE_DATA_FLAG_ACCESS_READ |
				   TEE_DATA_FLAG_SHARE_READ));
	CHECK(info.objectSize == c->bits);

	op = sign_op(c->alg, pk, c->bits);
	/* Any digest length is accepted and truncated to the order. */
	for (dl = 20; dl <= 64; dl += 44) {
		TEE_GenerateRandom(dgst, dl);
		sl = 1;
		CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, dgst, dl, sig,
						   &sl), TEE_ERROR_SHORT_BUFFER);
		CHECK(sl == 2 * n);
		sl = sizeof(sig);
		CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, dgst, dl, sig,
						   &sl), TEE_SUCCESS);
		CHECK(sl == 2 * n);
		CHECK(ossl_verify_ecdsa(pub, dgst, dl, sig, sl));
	}
	TEE_FreeOperation(op);

	/* The simulator verifies its own signature, and rejects a bad one. */
	CHECK_RES(TEE_AllocateOperation(&op, c->alg, TEE_MODE_VERIFY, c->bits),
		  TEE_SUCCESS);
	CHECK_RES(TEE_SetOperationKey(op, pk), TEE_SUCCESS);
	CHECK_RES(TEE_AsymmetricVerifyDigest(op, NULL, 0, dgst, 64, sig, sl),
		  TEE_SUCCESS);
	sig[3] ^= 1;
	CHECK_RES(TEE_AsymmetricVerifyDigest(op, NULL, 0, dgst, 64, sig, sl),
		  TEE_ERROR_SIGNATURE_INVALID);
	TEE_FreeOperation(op);
	TEE_CloseObject(pk);
	EVP_PKEY_free(pub);
}

/* Keep generating until X has a leading zero byte: its attribute must then
 * be one byte short (callers left-pad, as with OP-TEE). */
static void test_minimal_length(void)
{
	uint8_t x[32];
	int tries;

	for (tries = 0; tries < 5000; tries++) {
		TEE_ObjectHandle k = gen_key(TEE_TYPE_ECDSA_KEYPAIR, 256,
					     TEE_ECC_CURVE_NIST_P256);
		size_t len = sizeof(x);

		CHECK_RES(TEE_GetObjectBufferAttribute(k,
				TEE_ATTR_ECC_PUBLIC_VALUE_X, x, &len),
			  TEE_SUCCESS);
		TEE_FreeTransientObject(k);
		if (len < 32) {
			CHECK(len == 31 || x[0] != 0);
			return;
		}
	}
	CHECK(!"no P-256 key with a short X in 5000 tries");
}

static void test_ed25519(void)
{
	TEE_ObjectHandle k = gen_key(TEE_TYPE_ED25519_KEYPAIR, 256, 0);
	TEE_ObjectHandle pk;
	TEE_OperationHandle op;
	EVP_PKEY *pub = public_key_of(k, TEE_TYPE_ED25519_KEYPAIR, 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char msg[] = "a whole message, not a digest";
	uint8_t sig[64];
	size_t sl = 10;

	persist("ed", k);
	TEE_FreeTransientObject(k);
	pk = open_key("ed", TEE_DATA_FLAG_ACCESS_READ, TEE_SUCCESS);
	op = sign_op(TEE_ALG_ED25519, pk, 256);
	CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, msg, sizeof(msg), sig,
					   &sl), TEE_ERROR_SHORT_BUFFER);
	CHECK(sl == 64);
	CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, msg, sizeof(msg), sig,
					   &sl), TEE_SUCCESS);
	CHECK(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) == 1 &&
	      EVP_DigestVerify(md, sig, sl, (const uint8_t *)msg,
			       sizeof(msg)) == 1);
	TEE_FreeOperation(op);
	TEE_CloseObject(pk);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
}

static TEE_ObjectHandle rsa_key;	/* shared by the RSA and panic tests */

static bool ossl_verify_rsa(EVP_PKEY *pub, int pad, const EVP_MD *md,
			    int salt, const uint8_t *tbs, size_t tlen,
			    const uint8_t *sig, size_t slen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	bool ok = EVP_PKEY_verify_init(ctx) > 0 &&
		  EVP_PKEY_CTX_set_rsa_padding(ctx, pad) > 0 &&
		  (!md || EVP_PKEY_CTX_set_signature_md(ctx, md) > 0) &&
		  (pad != RSA_PKCS1_PSS_PADDING ||
		   EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) > 0) &&
		  EVP_PKEY_verify(ctx, sig, slen, tbs, tlen) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void test_rsa(void)
{
	static const uint8_t sha256_prefix[19] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	TEE_ObjectHandle pk;
	TEE_OperationHandle op;
	TEE_Attribute salt;
	EVP_PKEY *pub;
	EVP_PKEY_CTX *ctx;
	uint8_t dgst[32], di[51], sig[256], ct[256], pt[256];
	size_t sl, cl, pl;
	uint8_t e[8];
	size_t el = sizeof(e);

	rsa_key = gen_key(TEE_TYPE_RSA_KEYPAIR, 2048, 0);
	CHECK_RES(TEE_GetObjectBufferAttribute(rsa_key,
			TEE_ATTR_RSA_PUBLIC_EXPONENT, e, &el), TEE_SUCCESS);
	CHECK(el == 3 && e[0] == 1 && e[1] == 0 && e[2] == 1);
	el = 1;
	CHECK_RES(TEE_GetObjectBufferAttribute(rsa_key, TEE_ATTR_RSA_MODULUS,
					       e, &el), TEE_ERROR_SHORT_BUFFER);
	CHECK(el == 256);
	pub = public_key_of(rsa_key, TEE_TYPE_RSA_KEYPAIR, 0);
	persist("rsa", rsa_key);
	pk = open_key("rsa", TEE_DATA_FLAG_ACCESS_READ, TEE_SUCCESS);
	TEE_GenerateRandom(dgst, sizeof(dgst));

	/* PKCS#1 v1.5 over a bare SHA-256 digest. */
	op = sign_op(TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, pk, 2048);
	sl = 255;
	CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, dgst, 32, sig, &sl),
		  TEE_ERROR_SHORT_BUFFER);
	CHECK(sl == 256);
	CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, dgst, 32, sig, &sl),
		  TEE_SUCCESS);
	CHECK(ossl_verify_rsa(pub, RSA_PKCS1_PADDING, EVP_sha256(), 0, dgst, 32,
			      sig, sl));
	TEE_FreeOperation(op);

	/* PKCS#1 v1.5 over a caller-built DigestInfo: same signature. */
	memcpy(di, sha256_prefix, 19);
	memcpy(di + 19, dgst, 32);
	op = sign_op(TEE_ALG_RSASSA_PKCS1_V1_5, pk, 2048);
	{
		uint8_t sig2[256];
		size_t sl2 = sizeof(sig2);

		CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, di, 51, sig2,
						   &sl2), TEE_SUCCESS);
		CHECK(sl2 == 256 && !memcmp(sig, sig2, 256));
	}
	TEE_FreeOperation(op);

	/* PSS: default salt (hash length), then an explicit one. */
	op = sign_op(TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256, pk, 2048);
	sl = sizeof(sig);
	CHECK_RES(TEE_AsymmetricSignDigest(op, NULL, 0, dgst, 32, sig, &sl),
		  TEE_SUCCESS);
	CHECK(ossl_verify_rsa(pub, RSA_PKCS1_PSS_PADDING, EVP_sha256(), 32,
			      dgst, 32, sig, sl));
	TEE_InitValueAttribute(&salt, TEE_ATTR_RSA_PSS_SALT_LENGTH, 20, 0);
	sl = sizeof(sig);
	CHECK_RES(TEE_AsymmetricSignDigest(op, &salt, 1, dgst, 32, sig, &sl),
		  TEE_SUCCESS);
	CHECK(ossl_verify_rsa(pub, RSA_PKCS1_PSS_PADDING, EVP_sha256(), 20,
			      dgst, 32, sig, sl));
	TEE_FreeOperation(op);
	CHECK_RES(TEE_AllocateOperation(&op,
			TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256, TEE_MODE_VERIFY,
			2048), TEE_SUCCESS);
	CHECK_RES(TEE_SetOperationKey(op, pk), TEE_SUCCESS);
	CHECK_RES(TEE_AsymmetricVerifyDigest(op, &salt, 1, dgst, 32, sig, sl),
		  TEE_SUCCESS);
	TEE_FreeOperation(op);

	/* Decryption of what OpenSSL encrypted: OAEP-SHA256 then PKCS#1. */
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	cl = sizeof(ct);
	CHECK(EVP_PKEY_encrypt_init(ctx) > 0 &&
	      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
	      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0 &&
	      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0 &&
	      EVP_PKEY_encrypt(ctx, ct, &cl, (const uint8_t *)"premaster", 9) > 0);
	EVP_PKEY_CTX_free(ctx);
	/* Decryption needs DECRYPT usage: the key has all (default usage). */
	CHECK_RES(TEE_AllocateOperation(&op,
			TEE_ALG_RSAES_PKCS1_OAEP_MGF1_SHA256, TEE_MODE_DECRYPT,
			2048), TEE_SUCCESS);
	CHECK_RES(TEE_SetOperationKey(op, pk), TEE_SUCCESS);
	pl = 4;
	CHECK_RES(TEE_AsymmetricDecrypt(op, NULL, 0, ct, cl, pt, &pl),
		  TEE_ERROR_SHORT_BUFFER);
	CHECK(pl == 9);
	CHECK_RES(TEE_AsymmetricDecrypt(op, NULL, 0, ct, cl, pt, &pl),
		  TEE_SUCCESS);
	CHECK(pl == 9 && !memcmp(pt, "premaster", 9));
	ct[10] ^= 0x40;
	pl = sizeof(pt);
	CHECK_RES(TEE_AsymmetricDecrypt(op, NULL, 0, ct, cl, pt, &pl),
		  TEE_ERROR_BAD_PARAMETERS);
	CHECK_RES(TEE_AsymmetricDecrypt(op, NULL, 0, ct, cl - 1, pt, &pl),
		  TEE_ERROR_BAD_PARAMETERS);
	TEE_FreeOperation(op);

	ctx = EVP_PKEY_CTX_new(pub, NULL);
	cl = sizeof(ct);
	CHECK(EVP_PKEY_encrypt_init(ctx) > 0 &&
	      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
	      EVP_PKEY_encrypt(ctx, ct, &cl, (const uint8_t *)"tls12-pms", 9) > 0);
	EVP_PKEY_CTX_free(ctx);
	CHECK_RES(TEE_AllocateOperation(&op, TEE_ALG_RSAES_PKCS1_V1_5,
					TEE_MODE_DECRYPT, 2048), TEE_SUCCESS);
	CHECK_RES(TEE_SetOperationKey(op, pk), TEE_SUCCESS);
	pl = sizeof(pt);
	CHECK_RES(TEE_AsymmetricDecrypt(op, NULL, 0, ct, cl, pt, &pl),
		  TEE_SUCCESS);
	CHECK(pl == 9 && !memcmp(pt, "tls12-pms", 9));
	TEE_FreeOperation(op);

	TEE_CloseObject(pk);
	EVP_PKEY_free(pub);
}

/* ---- Panics (each runs in a child) ---------------------------------- */

static void p_wrong_digest_len(void *arg)
{
	TEE_OperationHandle op = sign_op(TEE_ALG_RSASSA_PKCS1_V1_5_SHA256,
					 rsa_key, 2048);
	uint8_t d[48] = { 0 }, sig[256];
	size_t sl = sizeof(sig);

	(void)arg;
	TEE_AsymmetricSignDigest(op, NULL, 0, d, 48, sig, &sl);
}

static void p_salt_too_long(void *arg)
{
	TEE_OperationHandle op = sign_op(TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256,
					 rsa_key, 2048);
	TEE_Attribute salt;
	uint8_t d[32] = { 0 }, sig[256];
	size_t sl = sizeof(sig);

	(void)arg;
	TEE_InitValueAttribute(&salt, TEE_ATTR_RSA_PSS_SALT_LENGTH, 300, 0);
	TEE_AsymmetricSignDigest(op, &salt, 1, d, 32, sig, &sl);
}

static void p_secret_attr(void *arg)
{
	TEE_ObjectHandle k = arg;
	uint8_t buf[600];
	size_t len = sizeof(buf);

	TEE_RestrictObjectUsage1(k, TEE_USAGE_SIGN);
	TEE_GetObjectBufferAttribute(k, TEE_ATTR_RSA_PRIVATE_EXPONENT, buf,
				     &len);
}

static void p_no_sign_usage(void *arg)
{
	TEE_ObjectHandle k = arg;

	TEE_RestrictObjectUsage1(k, TEE_USAGE_VERIFY);
	sign_op(TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, k, 2048);
}

static void p_wrong_key_type(void *arg)
{
	TEE_ObjectHandle ec = gen_key(TEE_TYPE_ECDSA_KEYPAIR, 256,
				      TEE_ECC_CURVE_NIST_P256);

	(void)arg;
	/* An EC key into an RSA operation. */
	sign_op(TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, ec, 2048);
}

static void p_curve_mismatch(void *arg)
{
	TEE_ObjectHandle ec = gen_key(TEE_TYPE_ECDSA_KEYPAIR, 256,
				      TEE_ECC_CURVE_NIST_P256);
	TEE_OperationHandle op = sign_op(TEE_ALG_ECDSA_SHA384, ec, 384);
	uint8_t d[48] = { 1 }, sig[200];
	size_t sl = sizeof(sig);

	(void)arg;
	TEE_AsymmetricSignDigest(op, NULL, 0, d, 48, sig, &sl);
}

static void p_public_key_sign(void *arg)
{
	TEE_ObjectHandle pub = TEE_HANDLE_NULL;

	(void)arg;
	TEE_AllocateTransientObject(TEE_TYPE_RSA_PUBLIC_KEY, 2048, &pub);
	TEE_CopyObjectAttributes1(pub, rsa_key);
	sign_op(TEE_ALG_RSASSA_PKCS1_V1_5_SHA256, pub, 2048);
}

static void p_id_too_long(void *arg)
{
	char id[65];
	TEE_ObjectHandle o;

	(void)arg;
	memset(id, 'a', sizeof(id));
	TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, 65,
				 TEE_DATA_FLAG_ACCESS_READ, &o);
}

static void p_delete_without_meta(void *arg)
{
	TEE_ObjectHandle o = open_key("rsa", TEE_DATA_FLAG_ACCESS_READ,
				      TEE_SUCCESS);

	(void)arg;
	TEE_CloseAndDeletePersistentObject1(o);
}

static void p_free_transient_turned_persistent(void *arg)
{
	TEE_ObjectHandle k = gen_key(TEE_TYPE_ED25519_KEYPAIR, 256, 0);

	(void)arg;
	/* GP 1.3.1: with object == NULL the transient handle becomes the
	 * persistent one, so freeing it as transient is a TA bug. */
	TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "turned", 6,
				   TEE_DATA_FLAG_ACCESS_READ, k, NULL, 0, NULL);
	TEE_FreeTransientObject(k);
}

static void p_ok(void *arg)
{
	(void)arg;
}

static void test_panics(void)
{
	TEE_ObjectHandle copy = TEE_HANDLE_NULL;

	CHECK(!panics(p_ok, NULL));
	CHECK(panics(p_wrong_digest_len, NULL));
	CHECK(panics(p_salt_too_long, NULL));
	CHECK(panics(p_secret_attr, rsa_key));
	CHECK(panics(p_no_sign_usage, rsa_key));
	CHECK(panics(p_wrong_key_type, NULL));
	CHECK(panics(p_curve_mismatch, NULL));
	CHECK(panics(p_public_key_sign, NULL));
	CHECK(panics(p_id_too_long, NULL));
	CHECK(panics(p_delete_without_meta, NULL));
	CHECK(panics(p_free_transient_turned_persistent, NULL));

	/* Extractable keys do give their secret parts. */
	CHECK_RES(TEE_AllocateTransientObject(TEE_TYPE_RSA_KEYPAIR, 2048, &copy),
		  TEE_SUCCESS);
	CHECK_RES(TEE_CopyObjectAttributes1(copy, rsa_key), TEE_SUCCESS);
	{
		uint8_t d[256];
		size_t len = sizeof(d);

		CHECK_RES(TEE_GetObjectBufferAttribute(copy,
				TEE_ATTR_RSA_PRIVATE_EXPONENT, d, &len),
			  TEE_SUCCESS);
		CHECK(len > 200);
	}
	TEE_FreeTransientObject(copy);
}

/* ---- Storage ---------------------------------------------------------- */

static char *ta_dir(void)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", store,
		 "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61");
	return path;
}

/* Object files (suffix "") or files with the given suffix. */
static int count_files(const char *suffix)
{
	DIR *d = opendir(ta_dir());
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		if (de->d_name[0] == '.')
			continue;
		if (s ? (l > s && !strcmp(de->d_name + l - s, suffix)) :
			(l == 64))
			n++;
	}
	closedir(d);
	return n;
}

static bool find_object_file(const char *label, char *out, size_t cap)
{
	/* Every file is 64 hex characters: find the label's by elimination. */
	DIR *d = opendir(ta_dir());
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d))) {
		char path[8192];
		struct stat before;

		if (strlen(de->d_name) != 64)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ta_dir(), de->d_name);
		stat(path, &before);
		/* Move it away; if the label disappears, it was this one. */
		{
			char aside[8300];
			TEE_ObjectHandle o = TEE_HANDLE_NULL;
			TEE_Result r;

			snprintf(aside, sizeof(aside), "%s.x", path);
			rename(path, aside);
			r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, label,
						     strlen(label),
						     TEE_DATA_FLAG_ACCESS_READ |
						     TEE_DATA_FLAG_SHARE_READ,
						     &o);
			rename(aside, path);
			if (r == TEE_SUCCESS)
				TEE_CloseObject(o);
			if (r == TEE_ERROR_ITEM_NOT_FOUND) {
				snprintf(out, cap, "%s", path);
				found = true;
				break;
			}
		}
	}
	if (d)
		closedir(d);
	return found;
}

static void test_data_stream(void)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_ObjectInfo info;
	char buf[64];
	size_t n = 0;

	CHECK_RES(TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "data", 4,
			TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE |
			TEE_DATA_FLAG_ACCESS_WRITE_META, TEE_HANDLE_NULL,
			"hello world", 11, &o), TEE_SUCCESS);
	CHECK_RES(TEE_GetObjectInfo1(o, &info), TEE_SUCCESS);
	CHECK(info.objectType == TEE_TYPE_DATA && info.dataSize == 11);
	CHECK_RES(TEE_ReadObjectData(o, buf, 5, &n), TEE_SUCCESS);
	CHECK(n == 5 && !memcmp(buf, "hello", 5));
	CHECK_RES(TEE_SeekObjectData(o, 1, TEE_DATA_SEEK_CUR), TEE_SUCCESS);
	CHECK_RES(TEE_WriteObjectData(o, "WORLD!", 6), TEE_SUCCESS);
	CHECK_RES(TEE_SeekObjectData(o, -100, TEE_DATA_SEEK_END), TEE_SUCCESS);
	CHECK_RES(TEE_ReadObjectData(o, buf, sizeof(buf), &n), TEE_SUCCESS);
	CHECK(n == 12 && !memcmp(buf, "hello WORLD!", 12));
	CHECK_RES(TEE_TruncateObjectData(o, 5), TEE_SUCCESS);
	CHECK_RES(TEE_RenamePersistentObject(o, "rsa", 3),
		  TEE_ERROR_ACCESS_CONFLICT);
	CHECK_RES(TEE_RenamePersistentObject(o, "data2", 5), TEE_SUCCESS);
	TEE_CloseObject(o);
	open_key("data", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_ITEM_NOT_FOUND);
	o = open_key("data2", TEE_DATA_FLAG_ACCESS_READ, TEE_SUCCESS);
	CHECK_RES(TEE_ReadObjectData(o, buf, sizeof(buf), &n), TEE_SUCCESS);
	CHECK(n == 5 && !memcmp(buf, "hello", 5));
	TEE_CloseObject(o);
}

static void test_create_rules(void)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_ObjectHandle k = gen_key(TEE_TYPE_ED25519_KEYPAIR, 256, 0);
	TEE_ObjectInfo info;

	CHECK_RES(TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "rsa", 3,
			TEE_DATA_FLAG_ACCESS_READ, k, NULL, 0, &o),
		  TEE_ERROR_ACCESS_CONFLICT);
	CHECK(o == TEE_HANDLE_NULL);
	CHECK_RES(TEE_CreatePersistentObject(0x1234, "x", 1,
			TEE_DATA_FLAG_ACCESS_READ, k, NULL, 0, &o),
		  TEE_ERROR_ITEM_NOT_FOUND);
	open_key("nothing-here", TEE_DATA_FLAG_ACCESS_READ,
		 TEE_ERROR_ITEM_NOT_FOUND);
	CHECK_RES(TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "ow", 2,
			TEE_DATA_FLAG_ACCESS_READ, TEE_HANDLE_NULL, "1", 1,
			NULL), TEE_SUCCESS);
	CHECK_RES(TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, "ow", 2,
			TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_OVERWRITE, k,
			NULL, 0, NULL), TEE_SUCCESS);
	/* object == NULL: the transient handle is now the persistent one. */
	CHECK_RES(TEE_GetObjectInfo1(k, &info), TEE_SUCCESS);
	CHECK(info.handleFlags & TEE_HANDLE_FLAG_PERSISTENT);
	TEE_CloseObject(k);
	o = open_key("ow", TEE_DATA_FLAG_ACCESS_READ, TEE_SUCCESS);
	CHECK_RES(TEE_GetObjectInfo1(o, &info), TEE_SUCCESS);
	CHECK(info.objectType == TEE_TYPE_ED25519_KEYPAIR &&
	      info.objectSize == 256 && info.dataSize == 0);
	TEE_CloseObject(o);
}

static void test_enumeration(int expected)
{
	TEE_ObjectEnumHandle e = TEE_HANDLE_NULL;
	TEE_ObjectInfo info;
	char id[TEE_OBJECT_ID_MAX_LEN];
	size_t idl = sizeof(id);
	int n = 0;
	bool saw_rsa = false;

	CHECK_RES(TEE_AllocatePersistentObjectEnumerator(&e), TEE_SUCCESS);
	CHECK_RES(TEE_GetNextPersistentObject(e, &info, id, &idl),
		  TEE_ERROR_ITEM_NOT_FOUND);
	CHECK_RES(TEE_StartPersistentObjectEnumerator(e, TEE_STORAGE_PRIVATE),
		  TEE_SUCCESS);
	while (TEE_GetNextPersistentObject(e, &info, id, &idl) == TEE_SUCCESS) {
		n++;
		if (idl == 3 && !memcmp(id, "rsa", 3)) {
			saw_rsa = true;
			CHECK(info.objectType == TEE_TYPE_RSA_KEYPAIR &&
			      info.objectSize == 2048);
		}
		idl = sizeof(id);
	}
	CHECK(n == expected);
	CHECK(saw_rsa);
	TEE_ResetPersistentObjectEnumerator(e);
	CHECK_RES(TEE_GetNextPersistentObject(e, &info, id, &idl),
		  TEE_ERROR_ITEM_NOT_FOUND);
	TEE_FreePersistentObjectEnumerator(e);
}

static void corrupt_file(const char *path, long off, bool truncate_it)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	if (truncate_it) {
		CHECK(ftruncate(fd, off) == 0);
	} else {
		CHECK(pread(fd, &b, 1, off) == 1);
		b ^= 0x01;
		CHECK(pwrite(fd, &b, 1, off) == 1);
	}
	close(fd);
}

static void test_corruption(void)
{
	char path[8192];
	TEE_ObjectHandle k;
	int before = count_files("");

	/* No file name gives a label away. */
	CHECK(count_files("") >= 5);

	/* One flipped ciphertext bit. */
	k = gen_key(TEE_TYPE_ECDSA_KEYPAIR, 256, TEE_ECC_CURVE_NIST_P256);
	persist("victim1", k);
	TEE_FreeTransientObject(k);
	CHECK(find_object_file("victim1", path, sizeof(path)));
	corrupt_file(path, 40, false);
	open_key("victim1", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_CORRUPT_OBJECT);
	open_key("victim1", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_ITEM_NOT_FOUND);
	CHECK(count_files(".corrupt") == 1);

	/* A truncated file. */
	k = gen_key(TEE_TYPE_ED25519_KEYPAIR, 256, 0);
	persist("victim2", k);
	TEE_FreeTransientObject(k);
	CHECK(find_object_file("victim2", path, sizeof(path)));
	corrupt_file(path, 30, true);
	/* Enumeration skips it (and leaves it alone). */
	test_enumeration(before);
	open_key("victim2", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_CORRUPT_OBJECT);
	CHECK(count_files(".corrupt") == 2);

	/* An object file copied over another's name. */
	k = gen_key(TEE_TYPE_ED25519_KEYPAIR, 256, 0);
	persist("victim3", k);
	TEE_FreeTransientObject(k);
	{
		char other[8192], cmd[20000];

		CHECK(find_object_file("victim3", path, sizeof(path)));
		CHECK(find_object_file("ed", other, sizeof(other)));
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", other, path);
		CHECK(system(cmd) == 0);
	}
	open_key("victim3", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_CORRUPT_OBJECT);

	/* Another HUK (another device) cannot read this store. */
	init_instance(0x77);
	open_key("rsa", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_ITEM_NOT_FOUND);
	init_instance(0x42);
	CHECK(count_files(".corrupt") == 3);
	test_enumeration(before);
}

/* Child-side probes of the cross-process open rules. */
static int c_open(void *arg)
{
	uint32_t flags = *(uint32_t *)arg;
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_Result r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "rsa", 3,
						flags, &o);

	if (r == TEE_SUCCESS)
		return 0;
	return r == TEE_ERROR_ACCESS_CONFLICT ? 1 : 2;
}

static int c_delete(void *arg)
{
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	TEE_Result r;

	(void)arg;
	r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, "ow", 2,
				     TEE_DATA_FLAG_ACCESS_WRITE_META, &o);
	if (r != TEE_SUCCESS)
		return r == TEE_ERROR_ACCESS_CONFLICT ? 1 : 2;
	return TEE_CloseAndDeletePersistentObject1(o) == TEE_SUCCESS ? 0 : 3;
}

static void test_conflicts(void)
{
	uint32_t shared = TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ;
	uint32_t meta = TEE_DATA_FLAG_ACCESS_WRITE_META;
	uint32_t excl = TEE_DATA_FLAG_ACCESS_READ;
	TEE_ObjectHandle h = open_key("rsa", shared, TEE_SUCCESS);
	TEE_ObjectHandle h2;

	CHECK(in_child(c_open, &shared) == 0);
	CHECK(in_child(c_open, &meta) == 1);
	CHECK(in_child(c_open, &excl) == 1);
	/* Within one process the same rules hold. */
	h2 = open_key("rsa", meta, TEE_ERROR_ACCESS_CONFLICT);
	h2 = open_key("rsa", shared, TEE_SUCCESS);
	TEE_CloseObject(h2);
	TEE_CloseObject(h);

	h = open_key("rsa", meta, TEE_SUCCESS);
	CHECK(in_child(c_open, &shared) == 1);
	TEE_CloseObject(h);
	CHECK(in_child(c_open, &shared) == 0);

	/* Deleting a key another session holds open fails; then works. */
	h = open_key("ow", TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ,
		     TEE_SUCCESS);
	CHECK(in_child(c_delete, NULL) == 1);
	TEE_CloseObject(h);
	CHECK(in_child(c_delete, NULL) == 0);
	open_key("ow", TEE_DATA_FLAG_ACCESS_READ, TEE_ERROR_ITEM_NOT_FOUND);
}

/* Several processes create the same id at once: exactly one wins. */
static void test_create_race(void)
{
	enum { N = 8 };
	pid_t pids[N];
	int wins = 0, conflicts = 0, i;

	for (i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			TEE_ObjectHandle k = gen_key(TEE_TYPE_ED25519_KEYPAIR,
						     256, 0);
			TEE_Result r = TEE_CreatePersistentObject(
				TEE_STORAGE_PRIVATE, "race", 4,
				TEE_DATA_FLAG_ACCESS_READ, k, NULL, 0, NULL);

			_exit(r == TEE_SUCCESS ? 0 :
			      r == TEE_ERROR_ACCESS_CONFLICT ? 1 : 2);
		}
	}
	for (i = 0; i < N; i++) {
		int st = 0;

		waitpid(pids[i], &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			wins++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
			conflicts++;
	}
	CHECK(wins == 1 && conflicts == N - 1);
	open_key("race", TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ,
		 TEE_SUCCESS);
}

int main(int argc, char **argv)
{
	/* Shared like the daemon's, so children's counts are seen. */
	struct sim_counters *counters = mmap(NULL, sizeof(*counters),
					     PROT_READ | PROT_WRITE,
					     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (counters == MAP_FAILED)
		return 2;
	if (argc != 2) {
		fprintf(stderr, "usage: %s STORE_DIR\n", argv[0]);
		return 2;
	}
	store = argv[1];
	init_instance(0x42);

	test_basics();
	test_alloc_limits();
	for (int i = 0; i < 3; i++) {
		static const struct ec_case cases[] = {
			{ 256, TEE_ECC_CURVE_NIST_P256, TEE_ALG_ECDSA_SHA256 },
			{ 384, TEE_ECC_CURVE_NIST_P384, TEE_ALG_ECDSA_P384 },
			{ 521, TEE_ECC_CURVE_NIST_P521, TEE_ALG_ECDSA_SHA512 },
		};

		test_ecdsa(&cases[i]);
	}
	test_minimal_length();
	test_ed25519();
	test_rsa();
	test_panics();

	sim_counters = counters;
	test_data_stream();
	CHECK(counters->storage_creates == 1 && counters->storage_opens == 2);
	test_create_rules();
	test_enumeration(8);	/* ec-256/384/521, ed, rsa, turned, data2, ow */
	test_corruption();
	test_conflicts();
	test_create_race();
	CHECK(counters->storage_deletes == 1);	/* the one in the child */
	sim_counters = NULL;

	TEE_FreeTransientObject(rsa_key);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("sim api selftest: all checks passed\n");
	return 0;
}
