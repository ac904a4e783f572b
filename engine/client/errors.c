/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TEE results -> OTLS_ERR_* codes, user-facing messages, and the
 * thread-local record of the last TEE result.
 */
#include <stdlib.h>

#include "otls_internal.h"

static _Thread_local uint32_t last_res;
static _Thread_local uint32_t last_origin;

void otls_set_last(uint32_t res, uint32_t origin)
{
	last_res = res;
	last_origin = origin;
}

void otls_clear_last(void)
{
	last_res = 0;
	last_origin = 0;
}

OTLS_API uint32_t otls_last_tee_result(void)
{
	return last_res;
}

OTLS_API uint32_t otls_last_tee_origin(void)
{
	return last_origin;
}

int otls_map_result(uint32_t res, uint32_t origin, enum otls_when when)
{
	if (res == TEEC_SUCCESS)
		return OTLS_OK;

	if (when == OTLS_AT_CONTEXT)
		return OTLS_ERR_TEE_UNREACHABLE;

	if (when == OTLS_AT_OPEN) {
		switch (res) {
		case TEEC_ERROR_ITEM_NOT_FOUND:
			/* The TEE looked for the TA binary and has none. */
			if (origin == TEEC_ORIGIN_TEE)
				return OTLS_ERR_TA_NOT_INSTALLED;
			return OTLS_ERR_INTERNAL;
		case TEEC_ERROR_COMMUNICATION:
		case TEEC_ERROR_BUSY:
			return OTLS_ERR_TEE_UNREACHABLE;
		case TEEC_ERROR_TARGET_DEAD:
			return OTLS_ERR_TA_DEAD;
		case TEEC_ERROR_ACCESS_DENIED:
			return OTLS_ERR_DENIED;
		case TEEC_ERROR_BAD_PARAMETERS:
			/* A login method the TEE refuses. */
			return OTLS_ERR_BAD_INPUT;
		case TEEC_ERROR_OUT_OF_MEMORY:
		default:
			return OTLS_ERR_INTERNAL;
		}
	}

	/* Answers that only mean something coming from the TA (or the TEE
	 * core on its behalf). The same codes made by libteec or the driver
	 * (origin API/COMMS: e.g. an ioctl failing) say nothing about the key:
	 * do not tell the user "key not found" or "key in use" for them. */
	if (origin != TEEC_ORIGIN_TRUSTED_APP && origin != TEEC_ORIGIN_TEE) {
		switch (res) {
		case TEEC_ERROR_ITEM_NOT_FOUND:
		case TEEC_ERROR_ACCESS_CONFLICT:
		case TEEC_ERROR_CORRUPT_OBJECT:
		case TEEC_ERROR_CORRUPT_OBJECT_2:
		case TEEC_ERROR_STORAGE_NO_SPACE:
		case TEEC_ERROR_SHORT_BUFFER:
		case TEEC_ERROR_CIPHERTEXT_INVALID:
			return OTLS_ERR_INTERNAL;
		default:
			break;
		}
	}

	switch (res) {
	case TEEC_ERROR_ITEM_NOT_FOUND:
		return OTLS_ERR_NOT_FOUND;
	case TEEC_ERROR_ACCESS_CONFLICT:
		if (when == OTLS_AT_DELETE)
			return OTLS_ERR_IN_USE;
		if (when == OTLS_AT_GENERATE)
			return OTLS_ERR_EXISTS;
		return OTLS_ERR_INTERNAL;
	case TEEC_ERROR_ACCESS_DENIED:
		return OTLS_ERR_DENIED;
	case TEEC_ERROR_NOT_SUPPORTED:
	case TEEC_ERROR_NOT_IMPLEMENTED:
		return OTLS_ERR_UNSUPPORTED;
	case TEEC_ERROR_BAD_PARAMETERS:
	case TEEC_ERROR_EXCESS_DATA:		/* a memref too large */
		return OTLS_ERR_BAD_INPUT;
	case TEEC_ERROR_CORRUPT_OBJECT:
	case TEEC_ERROR_CORRUPT_OBJECT_2:
		return OTLS_ERR_CORRUPT;
	case TEEC_ERROR_STORAGE_NO_SPACE:
		return OTLS_ERR_NO_SPACE;
	case TEEC_ERROR_STORAGE_NOT_AVAILABLE:
	case TEEC_ERROR_STORAGE_NOT_AVAILABLE_2:
		/* REE FS without tee-supplicant, or no RPMB. */
		return OTLS_ERR_TEE_UNREACHABLE;
	case TEEC_ERROR_SHORT_BUFFER:
		return OTLS_ERR_SHORT_BUFFER;
	case TEEC_ERROR_CIPHERTEXT_INVALID:
		return OTLS_ERR_DECRYPT_FAILED;
	case TEEC_ERROR_TARGET_DEAD:
		return OTLS_ERR_TA_DEAD;
	case TEEC_ERROR_COMMUNICATION:
		return OTLS_ERR_TEE_UNREACHABLE;
	default:
		/* GENERIC, OUT_OF_MEMORY, BUSY, SECURITY, CANCEL, BAD_STATE,
		 * BAD_FORMAT, NO_DATA, ... */
		return OTLS_ERR_INTERNAL;
	}
}

OTLS_API const char *otls_strerror(int err)
{
	switch (err) {
	case OTLS_OK:
		return "success";
	case OTLS_ERR_BAD_INPUT:
		return "invalid argument (malformed key label, key URI, "
		       "key reference or parameter)";
	case OTLS_ERR_NOT_FOUND:
		return "key not found in the TEE";
	case OTLS_ERR_EXISTS:
		return "a key with this label already exists in the TEE";
	case OTLS_ERR_IN_USE:
		return "key is in use by another TEE session (another process "
		       "has it open)";
	case OTLS_ERR_DENIED:
		return "operation not allowed by the key's policy";
	case OTLS_ERR_UNSUPPORTED:
		return "key type, key size or algorithm not supported";
	case OTLS_ERR_TEE_UNREACHABLE:
		return "TEE not reachable (no /dev/tee0, no permission to "
		       "open it, or tee-supplicant / simulator not running)";
	case OTLS_ERR_TA_NOT_INSTALLED:
		return "optee-tls TA not installed (/lib/optee_armtz/"
		       OTLS_TA_UUID_STR ".ta)";
	case OTLS_ERR_TA_DEAD:
		return "optee-tls TA crashed and did not recover after a "
		       "reconnect";
	case OTLS_ERR_CORRUPT:
		return "stored key is corrupt (secure storage failed "
		       "authentication)";
	case OTLS_ERR_NO_SPACE:
		return "secure storage is full";
	case OTLS_ERR_SHORT_BUFFER:
		return "output buffer too small";
	case OTLS_ERR_PROTOCOL:
		return "unexpected reply from the TEE (optee-tls TA and "
		       "client library versions do not match?)";
	case OTLS_ERR_INTERNAL:
		return "internal error in the TEE or the client library";
	case OTLS_ERR_DECRYPT_FAILED:
		return "decryption failed (invalid ciphertext or padding)";
	default:
		return "unknown optee-tls error";
	}
}

OTLS_API void otls_free(void *p)
{
	free(p);
}
