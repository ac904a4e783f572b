/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * optee-tls TA properties (read by the TA dev kit's user_ta_header.c, and
 * by the host simulator).
 */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <optee_tls_ta.h>

#define TA_UUID		OTLS_TA_UUID

/*
 * Neither TA_FLAG_SINGLE_INSTANCE nor TA_FLAG_MULTI_SESSION: every session
 * gets its own instance, so one client's session state (and a crash) never
 * touches another's. (TA_FLAG_EXEC_DDR is a deprecated 0 in OP-TEE.)
 */
#define TA_FLAGS	0

/*
 * Heap: the session state (~3 KiB), small allocations of libutee, and a
 * private copy of an Ed25519 message of up to OTLS_MAX_MESSAGE bytes.
 * The mbedTLS backend also keeps up to 8 keys (bignums, EC groups with
 * their precomputed tables) and generates RSA-4096 keys on the TA heap,
 * and its PSS encoding and mbedTLS want more stack.
 */
#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
#define TA_STACK_SIZE	(16 * 1024)
#define TA_DATA_SIZE	(OTLS_MAX_MESSAGE + 112 * 1024)
#else
#define TA_STACK_SIZE	(4 * 1024)
#define TA_DATA_SIZE	(OTLS_MAX_MESSAGE + 16 * 1024)
#endif

#define OTLS_TA_STR_(x)	#x
#define OTLS_TA_STR(x)	OTLS_TA_STR_(x)
#define TA_VERSION	OTLS_TA_STR(OTLS_TA_VERSION_MAJOR) "." \
			OTLS_TA_STR(OTLS_TA_VERSION_MINOR) "." \
			OTLS_TA_STR(OTLS_TA_VERSION_PATCH)
#define TA_DESCRIPTION	"optee-tls: TLS server keys that never leave the TEE"

#endif /* USER_TA_HEADER_DEFINES_H */
