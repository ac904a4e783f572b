/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The GP TEE Client API for the libopteetls fuzz targets: a TEE whose every
 * reply comes from the fuzz input (fuzz_teec_input). TEEC_InvokeCommand
 * takes a result code, then for each output memref a 2-byte size and that
 * many bytes, for each output value two 4-byte words; a size larger than
 * the caller's buffer is reported and not copied, as libteec does.
 */
#include <stdint.h>
#include <string.h>

#include <tee_client_api.h>

#include "fuzz_teec.h"

static const uint8_t *in;
static size_t in_left;

void fuzz_teec_input(const uint8_t *data, size_t size)
{
	in = data;
	in_left = size;
}

static uint32_t take(size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v = v << 8;
		if (in_left) {
			v |= *in++;
			in_left--;
		}
	}
	return v;
}

/* ---- the TEE, as the input says ---------------------------------------- */

TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *ctx)
{
	(void)name;
	memset(ctx, 0, sizeof(*ctx));
	return TEEC_SUCCESS;
}

void TEEC_FinalizeContext(TEEC_Context *ctx)
{
	(void)ctx;
}

TEEC_Result TEEC_OpenSession(TEEC_Context *ctx, TEEC_Session *sess,
			     const TEEC_UUID *dest, uint32_t method,
			     const void *data, TEEC_Operation *op,
			     uint32_t *origin)
{
	(void)ctx; (void)dest; (void)method; (void)data; (void)op;
	memset(sess, 0, sizeof(*sess));
	if (origin)
		*origin = TEEC_ORIGIN_TRUSTED_APP;
	return TEEC_SUCCESS;
}

void TEEC_CloseSession(TEEC_Session *sess)
{
	(void)sess;
}

static const TEEC_Result results[] = {
	TEEC_SUCCESS, TEEC_ERROR_SHORT_BUFFER, TEEC_ERROR_ITEM_NOT_FOUND,
	TEEC_ERROR_BAD_PARAMETERS, TEEC_ERROR_ACCESS_DENIED,
	TEEC_ERROR_TARGET_DEAD, TEEC_ERROR_GENERIC, 0xffff3024 /* corrupt */,
};

TEEC_Result TEEC_InvokeCommand(TEEC_Session *sess, uint32_t cmd,
			       TEEC_Operation *op, uint32_t *origin)
{
	TEEC_Result res = results[take(1) % (sizeof(results) /
					     sizeof(results[0]))];

	(void)sess; (void)cmd;
	if (origin)
		*origin = TEEC_ORIGIN_TRUSTED_APP;
	if (res == TEEC_ERROR_TARGET_DEAD && in_left == 0)
		res = TEEC_ERROR_GENERIC;	/* no endless reconnects */
	for (int i = 0; op && i < 4; i++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
		TEEC_Parameter *p = &op->params[i];

		if (t == TEEC_MEMREF_TEMP_OUTPUT || t == TEEC_MEMREF_TEMP_INOUT) {
			size_t n = take(2), cap = p->tmpref.size;

			if (n <= cap && p->tmpref.buffer) {
				for (size_t j = 0; j < n; j++)
					((uint8_t *)p->tmpref.buffer)[j] =
						(uint8_t)take(1);
			}
			p->tmpref.size = n;
		} else if (t == TEEC_VALUE_OUTPUT || t == TEEC_VALUE_INOUT) {
			p->value.a = take(4);
			p->value.b = take(4);
		}
	}
	return res;
}

void TEEC_RequestCancellation(TEEC_Operation *op)
{
	(void)op;
}
