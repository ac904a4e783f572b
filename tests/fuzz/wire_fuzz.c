/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: libopteetls parsing what the TA answers
 * (engine/client/wire.c and keys.c), with a TA that answers anything.
 *
 * The GP TEE Client API is played by fuzz_teec.c: every reply comes from
 * the input after its first two bytes. The first input byte picks the library call: key get,
 * list, info, sign (ECDSA DER/raw, PSS, PKCS#1, Ed25519), decrypt, key
 * generation. Checked beyond the sanitizers: a call that succeeds returns
 * lengths within the caller's buffers and a key description that
 * otls_key_info_check would accept (the library checks it itself; here a
 * successful otls_key_get must round-trip through otls_key_spki_der and
 * otls_ref_encode_pem).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_teec.h"
#include "optee_tls.h"
#include "optee_tls_ta.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "wire_fuzz: %s\n", #c); \
	abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the calls ----------------------------------------------------------- */

static void check_key(const otls_key_info *k)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	char *pem = NULL;

	CHECK(k->pub_a_len <= sizeof(k->pub_a) && k->pub_b_len <= sizeof(k->pub_b));
	CHECK(otls_label_check(k->label) == OTLS_OK);
	if (otls_key_spki_der(k, &der, &der_len) == OTLS_OK) {
		CHECK(der_len > 0);
		otls_free(der);
	}
	if (otls_ref_encode_pem(k, &pem) == OTLS_OK)
		otls_free(pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t algs[] = {
		OTLS_ALG_ECDSA, OTLS_ALG_RSA_PSS_SHA256, OTLS_ALG_RSA_PKCS1_SHA256,
		OTLS_ALG_ED25519, OTLS_ALG_RSA_PKCS1_DIGESTINFO,
	};
	unsigned char tbs[32] = { 1 }, out[1024];
	otls_key_info key;
	struct otls_info info;
	struct otls_list_entry *list = NULL;
	size_t n, cap;
	uint32_t alg;
	int rc;

	if (size < 2)
		return 0;
	fuzz_teec_input(data + 2, size - 2);
	cap = data[1] % 2 ? sizeof(out) : data[1] % sizeof(out);
	n = cap;
	switch (data[0] % 8) {
	case 0:
		if (otls_key_get("k1", &key) == OTLS_OK)
			check_key(&key);
		break;
	case 1:
		if (otls_key_list(&list, &n) == OTLS_OK) {
			CHECK(n <= OTLS_MAX_KEYS);
			for (size_t i = 0; i < n; i++)
				CHECK(otls_label_check(list[i].label) == OTLS_OK);
			otls_free(list);
		}
		break;
	case 2:
		(void)otls_get_info(&info);
		break;
	case 3:
	case 4:
		alg = algs[data[1] % (sizeof(algs) / sizeof(algs[0]))];
		rc = otls_sign("k1", alg, OTLS_SALT_DIGEST_LEN, tbs,
			       alg == OTLS_ALG_RSA_PKCS1_DIGESTINFO ? 19 : 32,
			       out, &n, data[0] % 8 == 3 ? OTLS_SIG_ECDSA_DER
							  : OTLS_SIG_ECDSA_RAW);
		if (rc == OTLS_OK)
			CHECK(n <= cap);
		break;
	case 5:
		rc = otls_decrypt("k1", OTLS_ALG_RSA_DECRYPT_OAEP_SHA256, tbs, sizeof(tbs),
				  out, &n);
		if (rc == OTLS_OK)
			CHECK(n <= cap);
		break;
	default:
		if (otls_key_generate("k2", data[1] % 2 ? OTLS_KEY_EC : OTLS_KEY_RSA,
				      data[1] % 2 ? 256 : 2048, NULL, &key)
		    == OTLS_OK)
			check_key(&key);
		break;
	}
	return 0;
}
