/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make bench helper: N signatures of a 32-byte digest, without OpenSSL
 * (the contenders' loop is evp_sign_bench.c; these are for scale).
 *   sign_bench otls   LABEL ALG N   the TA-call floor: libopteetls, one
 *                                   session kept open, opened before the
 *                                   clock
 *   sign_bench reopen LABEL ALG N   context + session + TA load for every
 *                                   signature (what a naive ENGINE does);
 *                                   raw GP Client API
 * ALG: ecdsa | pss | ed25519. Prints "ops=N seconds=S".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
	double t0;
	long n;
	int rc;

	if (argc != 5 || (strcmp(argv[1], "otls") && strcmp(argv[1], "reopen"))) {
		fprintf(stderr, "usage: sign_bench otls|reopen LABEL ALG N\n");
		return 2;
	}
	n = atol(argv[4]);
	if (!strcmp(argv[1], "otls")) {
		/* session opened and key cached before the clock */
		if (run_otls(argv[2], alg_id(argv[3]), 1))
			return 1;
		t0 = now();
		rc = run_otls(argv[2], alg_id(argv[3]), n);
	} else {
		t0 = now();
		rc = run_reopen(argv[2], alg_id(argv[3]), n);
	}
	if (!rc)
		printf("ops=%ld seconds=%.6f\n", n, now() - t0);
	return rc;
}
