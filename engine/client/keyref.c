/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Labels, "optee:" URIs and key reference files.
 *
 * Key reference DER (written and parsed by hand, strictly DER):
 *   SEQUENCE {
 *     version INTEGER (1),
 *     uri     UTF8String ("optee:LABEL"),
 *     spki    SubjectPublicKeyInfo
 *   }
 * wrapped in PEM "-----BEGIN OPTEE TLS KEY-----".
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "otls_internal.h"

#define URI_SCHEME	"optee:"
#define URI_LABEL_KEY	"label="
/* Longest URI we accept: scheme + "label=" + label. */
#define URI_MAX		(sizeof(URI_SCHEME) - 1 + sizeof(URI_LABEL_KEY) - 1 + \
			 OTLS_LABEL_MAX)

#define DER_SEQUENCE	0x30
#define DER_INTEGER	0x02
#define DER_UTF8STRING	0x0c

static int is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

OTLS_API int otls_label_check(const char *label)
{
	size_t len;

	if (!label)
		return OTLS_ERR_BAD_INPUT;
	len = strnlen(label, OTLS_LABEL_MAX + 1);
	if (len < 1 || len > OTLS_LABEL_MAX || !is_alnum((unsigned char)label[0]))
		return OTLS_ERR_BAD_INPUT;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)label[i];

		if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
			return OTLS_ERR_BAD_INPUT;
	}
	return OTLS_OK;
}

/* Parse a URI of exactly len bytes (no NUL inside). */
static int uri_parse_n(const char *uri, size_t len, char *label_out)
{
	const size_t slen = sizeof(URI_SCHEME) - 1;
	const size_t klen = sizeof(URI_LABEL_KEY) - 1;
	char label[OTLS_LABEL_MAX + 1];
	const char *p;
	size_t n;

	if (len < slen || memcmp(uri, URI_SCHEME, slen))
		return OTLS_ERR_BAD_INPUT;
	p = uri + slen;
	n = len - slen;
	if (n >= klen && !memcmp(p, URI_LABEL_KEY, klen)) {
		p += klen;
		n -= klen;
	}
	if (n < 1 || n > OTLS_LABEL_MAX || memchr(p, 0, n))
		return OTLS_ERR_BAD_INPUT;
	memcpy(label, p, n);
	label[n] = 0;
	if (otls_label_check(label))
		return OTLS_ERR_BAD_INPUT;
	memcpy(label_out, label, n + 1);
	return OTLS_OK;
}

OTLS_API int otls_uri_parse(const char *uri, char *label_out)
{
	size_t len;

	if (!uri || !label_out)
		return OTLS_ERR_BAD_INPUT;
	len = strnlen(uri, URI_MAX + 1);
	if (len > URI_MAX)
		return OTLS_ERR_BAD_INPUT;
	return uri_parse_n(uri, len, label_out);
}

/* ---- DER helpers ------------------------------------------------------ */

/* Append a tag and a definite length; returns bytes written. */
static size_t der_put_hdr(unsigned char *p, unsigned char tag, size_t len)
{
	p[0] = tag;
	if (len < 0x80) {
		p[1] = (unsigned char)len;
		return 2;
	}
	if (len < 0x100) {
		p[1] = 0x81;
		p[2] = (unsigned char)len;
		return 3;
	}
	p[1] = 0x82;
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	return 4;
}

/*
 * Read one TLV header at *p (end = end of the enclosing content): checks
 * the tag, a minimal definite length, and that the content fits. On
 * success *p points at the content and *len is its length.
 */
static int der_get_hdr(const unsigned char **p, const unsigned char *end,
		       unsigned char tag, size_t *len)
{
	const unsigned char *q = *p;
	size_t l;

	if (end - q < 2 || q[0] != tag)
		return -1;
	if (q[1] < 0x80) {
		l = q[1];
		q += 2;
	} else if (q[1] == 0x81) {
		if (end - q < 3 || q[2] < 0x80)
			return -1;
		l = q[2];
		q += 3;
	} else if (q[1] == 0x82) {
		if (end - q < 4 || q[2] == 0)
			return -1;
		l = ((size_t)q[2] << 8) | q[3];
		q += 4;
	} else {
		return -1;	/* indefinite, or larger than we ever need */
	}
	if ((size_t)(end - q) < l)
		return -1;
	*p = q;
	*len = l;
	return 0;
}

/* ---- encode ---------------------------------------------------------- */

static int ref_encode_der(const otls_key_info *key, unsigned char **der,
			  size_t *der_len)
{
	unsigned char *spki = NULL, *buf, *p;
	size_t spki_len, uri_len, content, total;
	char uri[URI_MAX + 1];
	int n, rc;

	n = snprintf(uri, sizeof(uri), "%s%s", URI_SCHEME, key->label);
	if (n < 0 || (size_t)n >= sizeof(uri))
		return OTLS_ERR_BAD_INPUT;
	uri_len = (size_t)n;
	rc = otls_key_spki_der(key, &spki, &spki_len);
	if (rc)
		return rc;
	content = 3 + 2 + uri_len + spki_len;
	if (content > 0xffff) {
		free(spki);
		return OTLS_ERR_INTERNAL;
	}
	total = 4 + content;
	buf = malloc(total);
	if (!buf) {
		free(spki);
		return OTLS_ERR_INTERNAL;
	}
	p = buf;
	p += der_put_hdr(p, DER_SEQUENCE, content);
	*p++ = DER_INTEGER;
	*p++ = 1;
	*p++ = 1;
	p += der_put_hdr(p, DER_UTF8STRING, uri_len);
	memcpy(p, uri, uri_len);
	p += uri_len;
	memcpy(p, spki, spki_len);
	p += spki_len;
	free(spki);
	*der = buf;
	*der_len = (size_t)(p - buf);
	return OTLS_OK;
}

OTLS_API int otls_ref_encode_pem(const otls_key_info *key, char **pem_out)
{
	unsigned char *der = NULL;
	size_t der_len;
	BIO *bio = NULL;
	BUF_MEM *mem;
	char *pem;
	int rc;

	if (!key || !pem_out || otls_label_check(key->label))
		return OTLS_ERR_BAD_INPUT;
	rc = ref_encode_der(key, &der, &der_len);
	if (rc)
		return rc;

	rc = OTLS_ERR_INTERNAL;
	ERR_set_mark();
	bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio(bio, OTLS_PEM_NAME, "", der, (long)der_len) <= 0)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	pem = malloc(mem->length + 1);
	if (!pem)
		goto out;
	memcpy(pem, mem->data, mem->length);
	pem[mem->length] = 0;
	*pem_out = pem;
	rc = OTLS_OK;
out:
	BIO_free(bio);
	ERR_pop_to_mark();
	free(der);
	return rc;
}

/* ---- decode ---------------------------------------------------------- */

OTLS_API int otls_ref_decode_der(const unsigned char *der, size_t der_len,
				 char *label_out, unsigned char **spki,
				 size_t *spki_len)
{
	const unsigned char *p = der, *end, *spki_start;
	char label[OTLS_LABEL_MAX + 1];
	size_t len, spki_body;
	unsigned char *copy;

	if (!der || !label_out || (spki && !spki_len))
		return OTLS_ERR_BAD_INPUT;
	end = der + der_len;

	/* SEQUENCE covering the whole input */
	if (der_get_hdr(&p, end, DER_SEQUENCE, &len) || p + len != end)
		return OTLS_ERR_BAD_INPUT;
	/* version INTEGER 1 */
	if (der_get_hdr(&p, end, DER_INTEGER, &len) || len != 1 || p[0] != 1)
		return OTLS_ERR_BAD_INPUT;
	p += 1;
	/* uri UTF8String */
	if (der_get_hdr(&p, end, DER_UTF8STRING, &len) || len > URI_MAX ||
	    uri_parse_n((const char *)p, len, label))
		return OTLS_ERR_BAD_INPUT;
	p += len;
	/* spki SEQUENCE, the last element */
	spki_start = p;
	if (der_get_hdr(&p, end, DER_SEQUENCE, &spki_body) ||
	    p + spki_body != end)
		return OTLS_ERR_BAD_INPUT;
	len = (size_t)(end - spki_start);
	if (!otls_spki_valid(spki_start, len))
		return OTLS_ERR_BAD_INPUT;

	if (spki) {
		copy = malloc(len);
		if (!copy)
			return OTLS_ERR_INTERNAL;
		memcpy(copy, spki_start, len);
		*spki = copy;
		*spki_len = len;
	}
	strcpy(label_out, label);
	return OTLS_OK;
}

OTLS_API int otls_ref_decode_pem(const char *pem, size_t pem_len,
				 char *label_out, unsigned char **spki,
				 size_t *spki_len)
{
	BIO *bio;
	int rc = OTLS_ERR_BAD_INPUT;

	if (!pem || !label_out || pem_len == 0 || pem_len > INT_MAX)
		return OTLS_ERR_BAD_INPUT;

	ERR_set_mark();
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio) {
		ERR_pop_to_mark();
		return OTLS_ERR_INTERNAL;
	}
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;
		int found;

		if (PEM_read_bio(bio, &name, &header, &data, &len) <= 0)
			break;	/* no (further) block: not found */
		found = !strcmp(name, OTLS_PEM_NAME);
		if (found)
			rc = header[0] ? OTLS_ERR_BAD_INPUT :
			     otls_ref_decode_der(data, (size_t)len, label_out,
						 spki, spki_len);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (found)
			break;
	}
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}
