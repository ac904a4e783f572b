/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one place that marshals TA commands (ta/include/optee_tls_ta.h) into
 * TEEC_Operations and decodes the replies. Every reply is checked against
 * the protocol (sizes, counts, consistency with the request) before any
 * of it is trusted; a reply that does not fit is OTLS_ERR_PROTOCOL.
 */
#include <string.h>

#include "otls_internal.h"

/* Key description reply: header + at most two public components. */
#define KEY_DESC_MAX (sizeof(struct otls_key_desc_hdr) + 2 * OTLS_MAX_PUB_PART)

static void set_tmpref(TEEC_Parameter *p, const void *buf, size_t size)
{
	p->tmpref.buffer = (void *)buf;
	p->tmpref.size = size;
}

/* Start an operation whose parameter 0 is the key label. */
static void label_op(TEEC_Operation *op, uint32_t param_types,
		     const char *label)
{
	memset(op, 0, sizeof(*op));
	op->paramTypes = param_types;
	set_tmpref(&op->params[0], label, strlen(label));
}

/* GENERATE_KEY, SIGN and DECRYPT: label, value (a, b), input, output. */
static void label_value_in_out_op(TEEC_Operation *op, const char *label,
				  uint32_t a, uint32_t b, const void *in,
				  size_t in_len, void *out, size_t out_size)
{
	label_op(op, TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
				      TEEC_VALUE_INPUT,
				      TEEC_MEMREF_TEMP_INPUT,
				      TEEC_MEMREF_TEMP_OUTPUT), label);
	op->params[1].value.a = a;
	op->params[1].value.b = b;
	set_tmpref(&op->params[2], in, in_len);
	set_tmpref(&op->params[3], out, out_size);
}

/* Run a command; map a TA error (when != OTLS_AT_CONTEXT means which
 * command for ACCESS_CONFLICT). *res gets the raw result. */
static int run(uint32_t cmd, TEEC_Operation *op, enum otls_retry retry,
	       enum otls_when when, uint32_t *res)
{
	uint32_t r = 0, origin = 0;
	int rc = otls_session_invoke(cmd, op, retry, &r, &origin);

	if (res)
		*res = r;
	if (rc)
		return rc;
	rc = otls_map_result(r, origin, when);
	/* Only SIGN and DECRYPT take a caller-sized buffer; every other reply
	 * has room for the protocol's largest answer, so "short buffer" there
	 * is a TA that does not speak our protocol, not the caller's fault. */
	if (rc == OTLS_ERR_SHORT_BUFFER && cmd != OTLS_CMD_SIGN &&
	    cmd != OTLS_CMD_DECRYPT)
		return OTLS_ERR_PROTOCOL;
	return rc;
}

/* Validate and decode a key description reply into *out (label not set). */
static int decode_key_desc(const unsigned char *buf, size_t len,
			   otls_key_info *out)
{
	struct otls_key_desc_hdr h;

	if (len < sizeof(h) || len > KEY_DESC_MAX)
		return OTLS_ERR_PROTOCOL;
	memcpy(&h, buf, sizeof(h));
	if (h.pub_a_len > OTLS_MAX_PUB_PART || h.pub_b_len > OTLS_MAX_PUB_PART ||
	    len != sizeof(h) + h.pub_a_len + h.pub_b_len)
		return OTLS_ERR_PROTOCOL;
	if (h.policy.allowed == 0 || h.policy.reserved != 0 ||
	    h.policy.owner_kind > OTLS_OWNER_GID)
		return OTLS_ERR_PROTOCOL;

	out->key_type = h.key_type;
	out->bits = h.bits;
	out->policy = h.policy;
	memcpy(out->pub_a, buf + sizeof(h), h.pub_a_len);
	out->pub_a_len = h.pub_a_len;
	memcpy(out->pub_b, buf + sizeof(h) + h.pub_a_len, h.pub_b_len);
	out->pub_b_len = h.pub_b_len;
	return otls_key_info_check(out) ? OTLS_ERR_PROTOCOL : OTLS_OK;
}

/* A key description reply for LABEL: *out zeroed, decoded, label set. */
static int decode_key_reply(const unsigned char *buf, size_t len,
			    const char *label, otls_key_info *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = decode_key_desc(buf, len, out);
	if (rc == OTLS_OK)
		strcpy(out->label, label);
	return rc;
}

int otls_wire_get_info(struct otls_info *out)
{
	TEEC_Operation op;
	struct otls_info info;
	int rc;

	memset(&op, 0, sizeof(op));
	memset(&info, 0, sizeof(info));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE,
					 TEEC_NONE, TEEC_NONE);
	set_tmpref(&op.params[0], &info, sizeof(info));
	rc = run(OTLS_CMD_GET_INFO, &op, OTLS_RETRY_ONCE, OTLS_AT_INVOKE, NULL);
	if (rc)
		return rc;
	if (op.params[0].tmpref.size != sizeof(info))
		return OTLS_ERR_PROTOCOL;
	*out = info;
	return OTLS_OK;
}

int otls_wire_generate(const char *label, uint32_t key_type, uint32_t bits,
		       const struct otls_policy *policy, otls_key_info *out)
{
	TEEC_Operation op;
	struct otls_policy pol = *policy;
	unsigned char buf[KEY_DESC_MAX];
	otls_key_info info;
	int rc;

	label_value_in_out_op(&op, label, key_type, bits, &pol, sizeof(pol),
			      buf, sizeof(buf));
	rc = run(OTLS_CMD_GENERATE_KEY, &op, OTLS_RETRY_NEVER, OTLS_AT_GENERATE,
		 NULL);
	if (rc)
		return rc;

	rc = decode_key_reply(buf, op.params[3].tmpref.size, label, &info);
	if (rc)
		return rc;
	if (info.key_type != key_type || info.bits != bits)
		return OTLS_ERR_PROTOCOL;
	if (out)
		*out = info;
	return OTLS_OK;
}

int otls_wire_get_key(const char *label, otls_key_info *out)
{
	TEEC_Operation op;
	unsigned char buf[KEY_DESC_MAX];
	otls_key_info info;
	int rc;

	label_op(&op, TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
				       TEEC_MEMREF_TEMP_OUTPUT,
				       TEEC_NONE, TEEC_NONE), label);
	set_tmpref(&op.params[1], buf, sizeof(buf));
	rc = run(OTLS_CMD_GET_KEY, &op, OTLS_RETRY_ONCE, OTLS_AT_INVOKE, NULL);
	if (rc)
		return rc;

	rc = decode_key_reply(buf, op.params[1].tmpref.size, label, &info);
	if (rc)
		return rc;
	*out = info;
	return OTLS_OK;
}

int otls_wire_list(struct otls_list_entry *entries, size_t *count,
		   size_t *stored)
{
	TEEC_Operation op;
	const size_t cap = OTLS_MAX_KEYS * sizeof(struct otls_list_entry);
	uint32_t n;
	int rc;

	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT,
					 TEEC_VALUE_OUTPUT,
					 TEEC_NONE, TEEC_NONE);
	set_tmpref(&op.params[0], entries, cap);
	rc = run(OTLS_CMD_LIST_KEYS, &op, OTLS_RETRY_ONCE, OTLS_AT_INVOKE, NULL);
	if (rc)
		return rc;

	n = op.params[1].value.a;
	if (n > OTLS_MAX_KEYS || op.params[1].value.b < n ||
	    op.params[0].tmpref.size != n * sizeof(struct otls_list_entry))
		return OTLS_ERR_PROTOCOL;
	for (uint32_t i = 0; i < n; i++) {
		const struct otls_list_entry *e = &entries[i];
		size_t len = strnlen(e->label, sizeof(e->label));

		if (len > OTLS_LABEL_MAX || otls_label_check(e->label))
			return OTLS_ERR_PROTOCOL;
		for (size_t j = len; j < sizeof(e->label); j++)
			if (e->label[j])
				return OTLS_ERR_PROTOCOL;
		if (i && strcmp(entries[i - 1].label, e->label) >= 0)
			return OTLS_ERR_PROTOCOL;
	}
	*count = n;
	*stored = op.params[1].value.b;
	return OTLS_OK;
}

int otls_wire_delete(const char *label)
{
	TEEC_Operation op;

	label_op(&op, TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE,
				       TEEC_NONE, TEEC_NONE), label);
	return run(OTLS_CMD_DELETE_KEY, &op, OTLS_RETRY_NEVER, OTLS_AT_DELETE,
		   NULL);
}

/* SIGN and DECRYPT share a layout. */
static int private_op(uint32_t cmd, const char *label, uint32_t alg,
		      uint32_t b, const unsigned char *in, size_t in_len,
		      unsigned char *out, size_t *out_len, size_t out_max,
		      int allow_empty)
{
	TEEC_Operation op;
	size_t announced = *out_len < out_max ? *out_len : out_max;
	uint32_t res = 0;
	int rc;

	label_value_in_out_op(&op, label, alg, b, in, in_len, out, announced);
	rc = run(cmd, &op, OTLS_RETRY_ONCE, OTLS_AT_INVOKE, &res);
	if (rc == OTLS_ERR_SHORT_BUFFER) {
		size_t need = op.params[3].tmpref.size;

		/* The needed size must be larger than what we offered and
		 * no larger than the protocol maximum. */
		if (need <= announced || need > out_max)
			return OTLS_ERR_PROTOCOL;
		*out_len = need;
		return rc;
	}
	if (rc)
		return rc;
	if (op.params[3].tmpref.size > announced ||
	    (op.params[3].tmpref.size == 0 && !allow_empty))
		return OTLS_ERR_PROTOCOL;
	*out_len = op.params[3].tmpref.size;
	return OTLS_OK;
}

int otls_wire_sign(const char *label, uint32_t alg, uint32_t saltlen,
		   const unsigned char *in, size_t in_len, unsigned char *out,
		   size_t *out_len)
{
	return private_op(OTLS_CMD_SIGN, label, alg, saltlen, in, in_len, out,
			  out_len, OTLS_MAX_SIGNATURE, 0);
}

int otls_wire_decrypt(const char *label, uint32_t alg,
		      const unsigned char *in, size_t in_len,
		      unsigned char *out, size_t *out_len)
{
	/* A PKCS#1 v1.5 or OAEP plaintext may be empty. */
	return private_op(OTLS_CMD_DECRYPT, label, alg, 0, in, in_len, out,
			  out_len, OTLS_MAX_CIPHERTEXT, 1);
}
