/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internal interfaces between the files of libopteetls.
 *
 *   errors.c   TEE result -> OTLS_ERR_* mapping, strerror, thread-local
 *              last TEE result
 *   session.c  per-process TEEC context + session pool, fork safety,
 *              reconnect
 *   wire.c     the only code that builds TEEC_Operations for TA commands
 *              and decodes (and validates) their replies
 *   keys.c     otls_key_*, otls_sign, otls_decrypt, SPKI, ECDSA DER
 *   keyref.c   labels, URIs, key reference files
 */
#ifndef OTLS_INTERNAL_H
#define OTLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <tee_client_api.h>
#include <openssl/types.h>

#include "optee_tls.h"

/* TEE Internal Core API results a TA may return that the Client API header
 * does not name. */
#ifndef TEEC_ERROR_CORRUPT_OBJECT
#define TEEC_ERROR_CORRUPT_OBJECT	0xF0100001
#endif
#ifndef TEEC_ERROR_CORRUPT_OBJECT_2
#define TEEC_ERROR_CORRUPT_OBJECT_2	0xF0100002
#endif
#ifndef TEEC_ERROR_STORAGE_NOT_AVAILABLE
#define TEEC_ERROR_STORAGE_NOT_AVAILABLE	0xF0100003
#endif
#ifndef TEEC_ERROR_STORAGE_NOT_AVAILABLE_2
#define TEEC_ERROR_STORAGE_NOT_AVAILABLE_2	0xF0100004
#endif
#ifndef TEEC_ERROR_EXCESS_DATA
#define TEEC_ERROR_EXCESS_DATA		0xFFFF0004
#endif
#ifndef TEEC_ERROR_CIPHERTEXT_INVALID
#define TEEC_ERROR_CIPHERTEXT_INVALID	0xF0100006
#endif

/* ---- errors.c ---- */

/* Which TA command a result belongs to (ACCESS_CONFLICT means EXISTS on
 * generate and IN_USE on delete). */
enum otls_when {
	OTLS_AT_CONTEXT,	/* TEEC_InitializeContext */
	OTLS_AT_OPEN,		/* TEEC_OpenSession */
	OTLS_AT_INVOKE,		/* TEEC_InvokeCommand (any command) */
	OTLS_AT_GENERATE,
	OTLS_AT_DELETE,
};

void otls_set_last(uint32_t res, uint32_t origin);
void otls_clear_last(void);
int otls_map_result(uint32_t res, uint32_t origin, enum otls_when when);

/* ---- session.c ---- */

/* How a command may be retried after the session died under it. */
enum otls_retry {
	/* Read-only or idempotent (GET_INFO, GET_KEY, LIST, SIGN, DECRYPT):
	 * on TARGET_DEAD/COMMUNICATION reopen the session and retry once. */
	OTLS_RETRY_ONCE,
	/* Changes storage (GENERATE_KEY, DELETE_KEY): never resent once it
	 * may have reached the TA. A reused session is probed with GET_INFO
	 * first and replaced if dead, so a stale session costs no failure. */
	OTLS_RETRY_NEVER,
};

/*
 * Run one TA command on a pooled session of this process. *op is restored
 * from a copy before a retry. On return *res and *origin hold the TEE result of
 * the final attempt (also stored as the thread's last result).
 * Returns OTLS_OK if the command ran (whatever *res is; the caller maps
 * it), or an OTLS_ERR_* if no session could be had or the session died.
 */
int otls_session_invoke(uint32_t cmd, TEEC_Operation *op,
			enum otls_retry retry, uint32_t *res,
			uint32_t *origin);

/* Close this process's idle sessions (they may keep keys open in the TA).
 * Returns how many were closed. */
unsigned otls_session_drop_idle(void);

/* ---- wire.c ---- */

int otls_wire_get_info(struct otls_info *out);
int otls_wire_generate(const char *label, uint32_t key_type, uint32_t bits,
		       const struct otls_policy *policy, otls_key_info *out);
int otls_wire_get_key(const char *label, otls_key_info *out);
/* entries must hold OTLS_MAX_KEYS. */
int otls_wire_list(struct otls_list_entry *entries, size_t *count,
		   size_t *stored);
int otls_wire_delete(const char *label);
/* out has room for OTLS_MAX_SIGNATURE (resp. OTLS_MAX_CIPHERTEXT) bytes;
 * *out_len is the size announced to the TA on entry, the result length
 * on return (the size needed on OTLS_ERR_SHORT_BUFFER). */
int otls_wire_sign(const char *label, uint32_t alg, uint32_t saltlen,
		   const unsigned char *in, size_t in_len, unsigned char *out,
		   size_t *out_len);
int otls_wire_decrypt(const char *label, uint32_t alg,
		      const unsigned char *in, size_t in_len,
		      unsigned char *out, size_t *out_len);

/* ---- keys.c ---- */

/* Private library context (default provider only), created once. */
OSSL_LIB_CTX *otls_libctx(void);
/* Check that a key description is self-consistent (type, bits, sizes). */
int otls_key_info_check(const otls_key_info *key);
/* 1 if der is exactly one SubjectPublicKeyInfo that OpenSSL can load. */
int otls_spki_valid(const unsigned char *der, size_t len);

#endif /* OTLS_INTERNAL_H */
