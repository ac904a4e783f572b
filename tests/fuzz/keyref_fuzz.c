/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target: the key reference decoders of libopteetls
 * (engine/client/keyref.c), what the provider's decoder and store and the
 * ENGINE feed with files and strings a user or an attacker wrote.
 *
 * The first input byte picks the decoder, the rest is its input:
 *   0  otls_uri_parse       "optee:LABEL" strings (NUL-terminated copy)
 *   1  otls_ref_decode_der  the DER body of a reference file
 *   2  otls_ref_decode_pem  PEM text
 * Checked beyond the sanitizers: a decoder that succeeds returns a label
 * that otls_label_check accepts and, for references, an SPKI that lies
 * shorter than what it was given; a failing one
 * leaves label_out and *spki untouched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optee_tls.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "keyref_fuzz: %s\n", #c); \
	abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char label[OTLS_LABEL_MAX + 1];
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	char *s;
	int rc;

	if (size < 1)
		return 0;
	memset(label, 0x5a, sizeof(label));
	switch (data[0] % 3) {
	case 0:
		s = malloc(size);
		CHECK(s != NULL);
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		rc = otls_uri_parse(s, label);
		free(s);
		break;
	case 1:
		rc = otls_ref_decode_der(data + 1, size - 1, label, &spki,
					 &spki_len);
		break;
	default:
		rc = otls_ref_decode_pem((const char *)data + 1, size - 1, label,
					 &spki, &spki_len);
		break;
	}
	if (rc != OTLS_OK) {
		CHECK(label[0] == 0x5a && spki == NULL);
		return 0;
	}
	CHECK(otls_label_check(label) == OTLS_OK);
	if (spki != NULL) {
		CHECK(spki_len > 0 && spki_len < size);
		otls_free(spki);
	}
	return 0;
}
