/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make bench helper: the one signing loop every contender goes through.
 *
 *   evp_sign_bench store URI ALG N        key from OSSL_STORE: optee:LABEL,
 *                                         a PEM key reference, a key file
 *   evp_sign_bench engine:ID URI ALG N    key from ENGINE_load_private_key
 *                                         (libp11: engine:pkcs11 pkcs11:...)
 *
 * The key is loaded once and one signature is made (login, session, key
 * lookup, first TA call) before the clock starts; then N times, as libssl
 * signs a handshake: a fresh EVP_MD_CTX, EVP_DigestSignInit_ex with
 * SHA-256 (none for Ed25519; PSS with salt = digest length for RSA), and
 * EVP_DigestSign of a 64-byte message (hashing included). Nothing here
 * knows optee-tls: our key comes through the provider like any other.
 * ALG: ecdsa | pss | ed25519. Prints "ops=N seconds=S".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/opensslv.h>
#include <openssl/opensslconf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#if OPENSSL_VERSION_MAJOR < 4 && !defined(OPENSSL_NO_ENGINE)
#define HAVE_ENGINE 1
#include <openssl/engine.h>
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sign_once(EVP_PKEY *pkey, const char *alg)
{
	static const unsigned char msg[64] = { 1, 2, 3 };
	unsigned char sig[1024];
	size_t len = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ed = strcmp(alg, "ed25519") == 0;
	int ok;

	ok = md != NULL && EVP_DigestSignInit_ex(md, &pctx, ed ? NULL : "SHA256",
						 NULL, NULL, pkey, NULL) > 0;
	if (ok && strcmp(alg, "pss") == 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
		     && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
							 RSA_PSS_SALTLEN_DIGEST) > 0;
	ok = ok && EVP_DigestSign(md, sig, &len, msg, sizeof(msg)) > 0;
	EVP_MD_CTX_free(md);
	return ok;
}

static EVP_PKEY *load_store(const char *uri)
{
	OSSL_STORE_CTX *st = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
	EVP_PKEY *pkey = NULL;

	if (st == NULL)
		return NULL;
	OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY);
	while (pkey == NULL && !OSSL_STORE_eof(st)) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(st);

		if (info != NULL
		    && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
		if (info == NULL)
			break;
	}
	OSSL_STORE_close(st);
	return pkey;
}

static EVP_PKEY *load_engine(const char *id, const char *uri)
{
#ifdef HAVE_ENGINE
	ENGINE *e;
	EVP_PKEY *pkey;

	ENGINE_load_builtin_engines();
	e = ENGINE_by_id(id);
	if (e == NULL || !ENGINE_init(e)) {
		fprintf(stderr, "cannot load/initialise ENGINE %s\n", id);
		return NULL;
	}
	pkey = ENGINE_load_private_key(e, uri, NULL, NULL);
	ENGINE_finish(e);
	ENGINE_free(e);
	return pkey;
#else
	(void)uri;
	fprintf(stderr, "no ENGINE API in this OpenSSL (%s)\n", id);
	return NULL;
#endif
}

int main(int argc, char **argv)
{
	EVP_PKEY *pkey;
	const char *alg;
	double t0, t;
	long n;

	if (argc != 5 || (strcmp(argv[1], "store") != 0
			  && strncmp(argv[1], "engine:", 7) != 0)) {
		fprintf(stderr, "usage: evp_sign_bench store|engine:ID URI "
				"ecdsa|pss|ed25519 N\n");
		return 2;
	}
	alg = argv[3];
	n = atol(argv[4]);
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	pkey = strcmp(argv[1], "store") == 0 ? load_store(argv[2])
					     : load_engine(argv[1] + 7, argv[2]);
	if (pkey == NULL) {
		fprintf(stderr, "cannot load the key %s\n", argv[2]);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	if (!sign_once(pkey, alg)) {	/* warm-up, outside the clock */
		fprintf(stderr, "first signature failed\n");
		ERR_print_errors_fp(stderr);
		return 1;
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (!sign_once(pkey, alg)) {
			fprintf(stderr, "sign failed after %ld signatures\n", i);
			ERR_print_errors_fp(stderr);
			return 1;
		}
	}
	t = now() - t0;
	printf("ops=%ld seconds=%.6f\n", n, t);
	EVP_PKEY_free(pkey);
	return 0;
}
