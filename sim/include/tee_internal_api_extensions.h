/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * OP-TEE extensions to the GP Internal Core API that the simulator
 * implements. As on OP-TEE, they are only visible through this header.
 */
#ifndef TEE_INTERNAL_API_EXTENSIONS_H
#define TEE_INTERNAL_API_EXTENSIONS_H

#include <tee_api_types.h>
#include <trace.h>

/* RSASSA-PKCS1-v1_5 over a caller-encoded DigestInfo (no hash OID added). */
#define TEE_ALG_RSASSA_PKCS1_V1_5		0xF0000830

#define TEE_ALG_RSASSA_PKCS1_PSS_MGF1_MD5	0xF0111930
#define TEE_ALG_RSAES_PKCS1_OAEP_MGF1_MD5	0xF0110230

/* TEE_Malloc() hint: do not zero the allocation. */
#define TEE_USER_MEM_HINT_NO_FILL_ZERO		0x80000000

/* Storage identifiers of OP-TEE's two backends. The simulator has a single
 * backend: TEE_STORAGE_PRIVATE and TEE_STORAGE_PRIVATE_REE both reach it,
 * TEE_STORAGE_PRIVATE_RPMB does not exist (TEE_ERROR_ITEM_NOT_FOUND). */
#define TEE_STORAGE_PRIVATE_REE			0x80000000
#define TEE_STORAGE_PRIVATE_RPMB		0x80000100

#define TEE_LOGIN_REE_KERNEL			0x80000000

#endif /* TEE_INTERNAL_API_EXTENSIONS_H */
