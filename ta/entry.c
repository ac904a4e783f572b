// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA: entry points, parameter-type checks, command dispatch.
 *
 * Every parameter layout is checked here exactly as the protocol header
 * states it before a command handler sees the parameters; handlers then
 * only deal with contents.
 */
#include <string.h>
#include "ta_internal.h"

#define PT(a, b, c, d) TEE_PARAM_TYPES(TEE_PARAM_TYPE_##a, \
				       TEE_PARAM_TYPE_##b, \
				       TEE_PARAM_TYPE_##c, \
				       TEE_PARAM_TYPE_##d)

TEE_Result otls_out_write(TEE_Param *p, const void *data, size_t len)
{
	if (!otls_out_room(p, len))
		return TEE_ERROR_SHORT_BUFFER;
	if (len)
		memcpy(p->memref.buffer, data, len);
	p->memref.size = len;
	return TEE_SUCCESS;
}

bool otls_out_room(TEE_Param *p, size_t len)
{
	if (p->memref.size < len || (len && !p->memref.buffer)) {
		p->memref.size = len;
		return false;
	}
	return true;
}

/*
 * An input memref must not claim bytes it has not got. An output memref
 * with a NULL buffer is a size query (GP Client API) and gets
 * TEE_ERROR_SHORT_BUFFER from otls_out_room().
 */
static TEE_Result check_memrefs(uint32_t types, TEE_Param params[])
{
	size_t n = 0;

	for (n = 0; n < TEE_NUM_PARAMS; n++) {
		uint32_t t = TEE_PARAM_TYPE_GET(types, n);

		if (t == TEE_PARAM_TYPE_MEMREF_INPUT &&
		    !params[n].memref.buffer && params[n].memref.size)
			return TEE_ERROR_BAD_PARAMETERS;
	}
	return TEE_SUCCESS;
}

static TEE_Result cmd_get_info(struct otls_session *s, TEE_Param params[])
{
	struct otls_info info = {
		.protocol_version = OTLS_PROTOCOL_VERSION,
		.ta_version = (OTLS_TA_VERSION_MAJOR << 16) |
			      (OTLS_TA_VERSION_MINOR << 8) |
			      OTLS_TA_VERSION_PATCH,
		.key_types = (1u << OTLS_KEY_EC) | (1u << OTLS_KEY_RSA) |
			     (1u << OTLS_KEY_ED25519),
		.allow_mask = otls_allow_implemented(),
		.label_max = OTLS_LABEL_MAX,
		.max_keys = OTLS_MAX_KEYS,
		.open_keys = otls_cache_count(s),
		.reserved = 0,
	};

	return otls_out_write(&params[0], &info, sizeof(info));
}

static TEE_Result cmd_list_keys(struct otls_session *s, TEE_Param params[])
{
	TEE_Result res = TEE_SUCCESS;
	uint32_t written = 0;
	uint32_t total = 0;

	res = otls_key_list(s, &params[0], &written, &total);
	params[1].value.a = written;
	params[1].value.b = total;
	return res;
}

static TEE_Result cmd_delete_key(struct otls_session *s, TEE_Param params[])
{
	struct otls_label label = { 0 };
	TEE_Result res = TEE_SUCCESS;

	res = otls_label_parse(params[0].memref.buffer, params[0].memref.size,
			       &label);
	if (res)
		return res;
	return otls_key_delete(s, &label);
}

TEE_Result TA_CreateEntryPoint(void)
{
	return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t param_types,
				    TEE_Param params[TEE_NUM_PARAMS],
				    void **sess_ctx)
{
	struct otls_session *s = NULL;

	(void)params;
	if (param_types != PT(NONE, NONE, NONE, NONE))
		return TEE_ERROR_BAD_PARAMETERS;

	s = TEE_Malloc(sizeof(*s), TEE_MALLOC_FILL_ZERO);
	if (!s)
		return TEE_ERROR_OUT_OF_MEMORY;
	otls_client_identity(s);
	*sess_ctx = s;
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *sess_ctx)
{
	struct otls_session *s = sess_ctx;

	if (!s)
		return;
	otls_cache_clear(s);
	memset(s, 0, sizeof(*s));
	TEE_Free(s);
}

TEE_Result TA_InvokeCommandEntryPoint(void *sess_ctx, uint32_t cmd,
				      uint32_t param_types,
				      TEE_Param params[TEE_NUM_PARAMS])
{
	struct otls_session *s = sess_ctx;
	uint32_t expect = 0;
	TEE_Result res = TEE_SUCCESS;

	if (!s)
		return TEE_ERROR_BAD_STATE;

	switch (cmd) {
	case OTLS_CMD_GET_INFO:
		expect = PT(MEMREF_OUTPUT, NONE, NONE, NONE);
		break;
	case OTLS_CMD_GENERATE_KEY:
		expect = PT(MEMREF_INPUT, VALUE_INPUT, MEMREF_INPUT,
			    MEMREF_OUTPUT);
		break;
	case OTLS_CMD_GET_KEY:
		expect = PT(MEMREF_INPUT, MEMREF_OUTPUT, NONE, NONE);
		break;
	case OTLS_CMD_LIST_KEYS:
		expect = PT(MEMREF_OUTPUT, VALUE_OUTPUT, NONE, NONE);
		break;
	case OTLS_CMD_DELETE_KEY:
		expect = PT(MEMREF_INPUT, NONE, NONE, NONE);
		break;
	case OTLS_CMD_SIGN:
	case OTLS_CMD_DECRYPT:
		expect = PT(MEMREF_INPUT, VALUE_INPUT, MEMREF_INPUT,
			    MEMREF_OUTPUT);
		break;
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}

	if (param_types != expect)
		return TEE_ERROR_BAD_PARAMETERS;
	res = check_memrefs(param_types, params);
	if (res)
		return res;

	switch (cmd) {
	case OTLS_CMD_GET_INFO:
		return cmd_get_info(s, params);
	case OTLS_CMD_GENERATE_KEY:
		return otls_cmd_generate(s, params);
	case OTLS_CMD_GET_KEY:
		return otls_cmd_get_key(s, params);
	case OTLS_CMD_LIST_KEYS:
		return cmd_list_keys(s, params);
	case OTLS_CMD_DELETE_KEY:
		return cmd_delete_key(s, params);
	case OTLS_CMD_SIGN:
		return otls_cmd_sign(s, params);
	default:
		return otls_cmd_decrypt(s, params);
	}
}
