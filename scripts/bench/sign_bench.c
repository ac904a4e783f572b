/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make bench helper: N signatures of a 32-byte digest, three ways.
 *   sign_bench otls   LABEL ALG N   libopteetls: one session kept open
 *   sign_bench reopen LABEL ALG N   baseline: context + session + TA load
 *                                   for every signature (what a naive
 *                                   ENGINE does); raw GP Client API
 *   sign_bench soft   KEYPEM ALG N  baseline: software key in libcrypto
 * ALG: ecdsa | pss | ed25519. Prints "ops=N seconds=S".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <tee_client_api.h>

#include "optee_tls.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t alg_id(const char *alg)
{
	if (!strcmp(alg, "ecdsa"))
		return OTLS_ALG_ECDSA;
	if (!strcmp(alg, "pss"))
		return OTLS_ALG_RSA_PSS_SHA256;
	if (!strcmp(alg, "ed25519"))
		return OTLS_ALG_ED25519;
	fprintf(stderr, "unknown alg %s\n", alg);
	exit(2);
}

static int run_otls(const char *label, uint32_t alg, long n)
{
	unsigned char dgst[32] = { 1 }, sig[OTLS_MAX_SIGNATURE];

	for (long i = 0; i < n; i++) {
		size_t len = sizeof(sig);
		int rc = otls_sign(label, alg, OTLS_SALT_DIGEST_LEN, dgst,
				   sizeof(dgst), sig, &len, OTLS_SIG_ECDSA_DER);
		if (rc) {
			fprintf(stderr, "otls_sign: %s\n", otls_strerror(rc));
			return 1;
		}
	}
	return 0;
}

static int run_reopen(const char *label, uint32_t alg, long n)
{
	const TEEC_UUID uuid = OTLS_TA_UUID;
	unsigned char dgst[32] = { 1 }, sig[OTLS_MAX_SIGNATURE];

	for (long i = 0; i < n; i++) {
		TEEC_Context ctx;
		TEEC_Session sess;
		TEEC_Operation op;
		uint32_t origin;

		if (TEEC_InitializeContext(NULL, &ctx) ||
		    TEEC_OpenSession(&ctx, &sess, &uuid, TEEC_LOGIN_PUBLIC,
				     NULL, NULL, &origin)) {
			fprintf(stderr, "cannot open a TA session\n");
			return 1;
		}
		memset(&op, 0, sizeof(op));
		op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
						 TEEC_VALUE_INPUT,
						 TEEC_MEMREF_TEMP_INPUT,
						 TEEC_MEMREF_TEMP_OUTPUT);
		op.params[0].tmpref.buffer = (void *)label;
		op.params[0].tmpref.size = strlen(label);
		op.params[1].value.a = alg;
		op.params[1].value.b = alg == OTLS_ALG_RSA_PSS_SHA256 ? 32 : 0;
		op.params[2].tmpref.buffer = dgst;
		op.params[2].tmpref.size = sizeof(dgst);
		op.params[3].tmpref.buffer = sig;
		op.params[3].tmpref.size = sizeof(sig);
		if (TEEC_InvokeCommand(&sess, OTLS_CMD_SIGN, &op, &origin)) {
			fprintf(stderr, "sign failed\n");
			return 1;
		}
		TEEC_CloseSession(&sess);
		TEEC_FinalizeContext(&ctx);
	}
	return 0;
}

static int run_soft(const char *pem, const char *alg, long n)
{
	unsigned char dgst[32] = { 1 }, sig[1024];
	FILE *f = fopen(pem, "r");
	EVP_PKEY *pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	if (!pkey) {
		fprintf(stderr, "cannot read %s\n", pem);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		size_t len = sizeof(sig);
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		int ok;

		if (!strcmp(alg, "ed25519")) {
			ok = EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) > 0 &&
			     EVP_DigestSign(md, sig, &len, dgst, sizeof(dgst)) > 0;
		} else {
			ok = EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) > 0;
			if (ok && !strcmp(alg, "pss"))
				ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
				     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
			ok = ok && EVP_DigestSign(md, sig, &len, dgst, sizeof(dgst)) > 0;
		}
		EVP_MD_CTX_free(md);
		if (!ok) {
			fprintf(stderr, "software sign failed\n");
			return 1;
		}
	}
	EVP_PKEY_free(pkey);
	return 0;
}

int main(int argc, char **argv)
{
	double t0;
	long n;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: sign_bench otls|reopen|soft KEY ALG N\n");
		return 2;
	}
	n = atol(argv[4]);
	t0 = now();
	if (!strcmp(argv[1], "otls"))
		rc = run_otls(argv[2], alg_id(argv[3]), n);
	else if (!strcmp(argv[1], "reopen"))
		rc = run_reopen(argv[2], alg_id(argv[3]), n);
	else
		rc = run_soft(argv[2], argv[3], n);
	if (!rc)
		printf("ops=%ld seconds=%.6f\n", n, now() - t0);
	return rc;
}
