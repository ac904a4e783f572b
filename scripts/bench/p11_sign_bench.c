/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make bench helper, competitor baseline: N signatures of a 32-byte digest
 * through libp11's pkcs11 ENGINE (libengine-pkcs11-openssl) and whatever
 * PKCS#11 module it is configured with (the bench uses SoftHSM2).
 *
 *   p11_sign_bench URI ALG N
 *
 * The ENGINE comes from OPENSSL_CONF (engine section with MODULE_PATH);
 * the key is loaded ONCE with ENGINE_load_private_key(URI) (login, find
 * the object) and then used N times with EVP_DigestSign, exactly like
 * sign_bench's "soft" mode uses a software key. As in sign_bench, the
 * timed span includes loading the key (there: reading the PEM / opening
 * the TA session), amortised over N. ALG: ecdsa | pss. Prints "ops=N seconds=S".
 * This program deliberately does not link libopteetls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/conf.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sign_once(EVP_PKEY *pkey, const char *alg)
{
	unsigned char dgst[32] = { 1 }, sig[1024];
	size_t len = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	ok = md && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) > 0;
	if (ok && !strcmp(alg, "pss"))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
	ok = ok && EVP_DigestSign(md, sig, &len, dgst, sizeof(dgst)) > 0;
	EVP_MD_CTX_free(md);
	return ok;
}

int main(int argc, char **argv)
{
	EVP_PKEY *pkey;
	ENGINE *e;
	double t0;
	long n;

	if (argc != 4 || (strcmp(argv[2], "ecdsa") && strcmp(argv[2], "pss"))) {
		fprintf(stderr, "usage: p11_sign_bench PKCS11-URI ecdsa|pss N\n");
		return 2;
	}
	n = atol(argv[3]);
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	ENGINE_load_builtin_engines();
	e = ENGINE_by_id("pkcs11");
	if (!e || !ENGINE_init(e)) {
		fprintf(stderr, "cannot load/initialise the pkcs11 ENGINE\n");
		ERR_print_errors_fp(stderr);
		return 1;
	}
	t0 = now();
	pkey = ENGINE_load_private_key(e, argv[1], NULL, NULL);
	if (!pkey) {
		fprintf(stderr, "ENGINE_load_private_key(%s) failed\n", argv[1]);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		if (!sign_once(pkey, argv[2])) {
			fprintf(stderr, "pkcs11 sign failed after %ld signatures\n", i);
			ERR_print_errors_fp(stderr);
			return 1;
		}
	}
	printf("ops=%ld seconds=%.6f\n", n, now() - t0);
	EVP_PKEY_free(pkey);
	ENGINE_finish(e);
	ENGINE_free(e);
	return 0;
}
