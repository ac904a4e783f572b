/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libopteetls: the normal-world client of the optee-tls TA.
 *
 * The only C code that speaks the TA protocol (ta/include/optee_tls_ta.h).
 * The OpenSSL provider, the ENGINE and the Python tool (via ctypes) all go
 * through these functions. Every function is thread-safe and fork-safe:
 * each process lazily opens its own TEEC context and session; a child never
 * uses its parent's. A call that meets TEE_ERROR_TARGET_DEAD or a
 * communication error reopens the session once and retries.
 *
 * Sessions: up to OPTEE_TLS_SESSIONS (env, 1..64, default 4) per process,
 * opened on demand, so that threads sign in parallel; each is one TA
 * instance. Login: OPTEE_TLS_LOGIN=user (default, TEEC_LOGIN_USER) |
 * public | group (effective gid) | group:GID; any other value makes calls
 * fail with OTLS_ERR_BAD_INPUT. In a child after fork() the parent's
 * sessions are forgotten (never closed: that would close them for the
 * parent) and the child opens its own. OPTEE_TLS_DEBUG=1 prints one line on
 * stderr per reconnect; otherwise the library never writes to stderr.
 * See docs/client-library.md.
 *
 * Retries: read-only commands and sign/decrypt are resent once on a new
 * session. otls_key_generate/otls_key_delete are never resent once they may
 * have reached the TA: on a session reused from an earlier call, they first
 * check it is alive (one GET_INFO) and replace it if not; if the TA dies
 * during the command itself the result is OTLS_ERR_TA_DEAD and the outcome
 * unknown (check with otls_key_get).
 *
 * Functions return OTLS_OK (0) or a negative OTLS_ERR_* code;
 * otls_strerror() turns it into a sentence for users, and
 * otls_last_tee_result() gives the raw TEE_Result of this thread's last call.
 */
#ifndef OPTEE_TLS_H
#define OPTEE_TLS_H

#include <stddef.h>
#include <stdint.h>
#include "optee_tls_ta.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported symbols of libopteetls (it is built with -fvisibility=hidden). */
#if defined(__GNUC__) && !defined(OTLS_API)
#define OTLS_API __attribute__((visibility("default")))
#elif !defined(OTLS_API)
#define OTLS_API
#endif

enum otls_err {
	OTLS_OK = 0,
	OTLS_ERR_BAD_INPUT = -1,	/* malformed label/URI/argument */
	OTLS_ERR_NOT_FOUND = -2,	/* no key with that label */
	OTLS_ERR_EXISTS = -3,		/* label taken (generate) */
	OTLS_ERR_IN_USE = -4,		/* key open in another session (delete) */
	OTLS_ERR_DENIED = -5,		/* policy or owner forbids it */
	OTLS_ERR_UNSUPPORTED = -6,	/* algorithm/key type/size */
	OTLS_ERR_TEE_UNREACHABLE = -7,	/* no TEE device / simulator socket */
	OTLS_ERR_TA_NOT_INSTALLED = -8,	/* TEE answers, our TA is missing */
	OTLS_ERR_TA_DEAD = -9,		/* TA died again after one reconnect */
	OTLS_ERR_CORRUPT = -10,		/* stored key failed authentication */
	OTLS_ERR_NO_SPACE = -11,	/* secure storage full */
	OTLS_ERR_SHORT_BUFFER = -12,	/* caller's buffer too small */
	OTLS_ERR_PROTOCOL = -13,	/* TA version mismatch or bad reply */
	OTLS_ERR_INTERNAL = -14,	/* anything else; see last TEE result */
	OTLS_ERR_DECRYPT_FAILED = -15,	/* bad ciphertext/padding (decrypt) */
};

/* A key as the normal world knows it: never any private material. */
typedef struct otls_key_info {
	char label[OTLS_LABEL_MAX + 1];
	uint32_t key_type;		/* OTLS_KEY_* */
	uint32_t bits;
	struct otls_policy policy;
	unsigned char pub_a[OTLS_MAX_PUB_PART];	/* EC X / RSA n / Ed25519 */
	size_t pub_a_len;
	unsigned char pub_b[OTLS_MAX_PUB_PART];	/* EC Y / RSA e */
	size_t pub_b_len;
} otls_key_info;

/* ---- Labels and key references --------------------------------------- */

/* OTLS_OK if label is 1..32 bytes of [A-Za-z0-9._-] starting alnum. */
OTLS_API int otls_label_check(const char *label);

/*
 * Parse a key reference: "optee:LABEL" (also "optee:label=LABEL").
 * Writes the label (NUL-terminated) into label_out[OTLS_LABEL_MAX + 1].
 */
OTLS_API int otls_uri_parse(const char *uri, char *label_out);

/* PEM block type of the key reference file that the decoder recognises. */
#define OTLS_PEM_NAME "OPTEE TLS KEY"

/*
 * Key reference file: a PEM "OPTEE TLS KEY" block whose DER body is
 *   SEQUENCE { version INTEGER (1), uri UTF8String, spki SubjectPublicKeyInfo }
 * The public key lets a loader notice a reference that points at a
 * different key than it was written for.
 * otls_ref_encode_pem returns a malloc'd NUL-terminated PEM text.
 * otls_ref_decode_der parses the DER body (PEM already stripped): label
 * into label_out[OTLS_LABEL_MAX + 1], malloc'd SPKI DER into *spki.
 */
OTLS_API int otls_ref_encode_pem(const otls_key_info *key, char **pem_out);
OTLS_API int otls_ref_decode_der(const unsigned char *der, size_t der_len,
				 char *label_out, unsigned char **spki,
				 size_t *spki_len);
/* Same, from PEM text (any text around the block is ignored; the first
 * OTLS_PEM_NAME block is used). spki may be NULL if not wanted. */
OTLS_API int otls_ref_decode_pem(const char *pem, size_t pem_len,
				 char *label_out, unsigned char **spki,
				 size_t *spki_len);

/* ---- Keys ------------------------------------------------------------ */

/* policy may be NULL: default signing algorithms, no owner. out may be
 * NULL. A key type/size the protocol does not define is
 * OTLS_ERR_UNSUPPORTED without a TA call. */
OTLS_API int otls_key_generate(const char *label, uint32_t key_type,
			       uint32_t bits, const struct otls_policy *policy,
			       otls_key_info *out);
OTLS_API int otls_key_get(const char *label, otls_key_info *out);
/* OTLS_ERR_IN_USE if another session has the key open (idle sessions of
 * this process are closed and the delete retried first). */
OTLS_API int otls_key_delete(const char *label);
/* *out is malloc'd (free with otls_free); *count entries, sorted by label
 * (at most OTLS_MAX_KEYS). */
OTLS_API int otls_key_list(struct otls_list_entry **out, size_t *count);

/* SubjectPublicKeyInfo DER of the key (malloc'd, free with otls_free). */
OTLS_API int otls_key_spki_der(const otls_key_info *key, unsigned char **der,
			       size_t *der_len);

/* ---- Private-key operations (exactly one TA invocation each) ---------- */

/* Output format of otls_sign for ECDSA. */
#define OTLS_SIG_ECDSA_DER	0	/* X9.62 DER SEQUENCE{r,s}: OpenSSL's */
#define OTLS_SIG_ECDSA_RAW	1	/* r || s as the TA returns it */

/*
 * alg: OTLS_ALG_*; saltlen: PSS salt length or OTLS_SALT_DIGEST_LEN;
 * flags: OTLS_SIG_ECDSA_*. *sig_len is the size of sig on entry and the
 * signature length on return (OTLS_ERR_SHORT_BUFFER: the size needed; for
 * ECDSA DER that is the largest DER size for the curve, as
 * otls_sig_max_size). sig may be NULL with *sig_len 0 to ask the size, but
 * that costs a TA call: prefer otls_sig_max_size. tbs lengths that fit no
 * algorithm are OTLS_ERR_BAD_INPUT and unknown algorithms
 * OTLS_ERR_UNSUPPORTED, both without a TA call. saltlen is ignored unless
 * alg is RSA-PSS.
 */
OTLS_API int otls_sign(const char *label, uint32_t alg, uint32_t saltlen,
		       const unsigned char *tbs, size_t tbs_len,
		       unsigned char *sig, size_t *sig_len, int flags);

/* Largest signature the key can produce (ECDSA: DER), without calling
 * the TA; 0 for a type/size the protocol does not define. */
OTLS_API size_t otls_sig_max_size(uint32_t key_type, uint32_t bits);

/* *out_len: size of out on entry, plaintext length on return (the size
 * needed with OTLS_ERR_SHORT_BUFFER). */
OTLS_API int otls_decrypt(const char *label, uint32_t alg,
			  const unsigned char *in, size_t in_len,
			  unsigned char *out, size_t *out_len);

/* ---- Misc ------------------------------------------------------------ */

/* *out is filled even when the TA's protocol_version differs from
 * OTLS_PROTOCOL_VERSION (then OTLS_ERR_PROTOCOL is returned). */
OTLS_API int otls_get_info(struct otls_info *out);
OTLS_API const char *otls_strerror(int err);
/* TEE_Result (and origin) of this thread's last TEE call, made by the last
 * otls_* call that talks to the TEE; 0 if that call made none. */
OTLS_API uint32_t otls_last_tee_result(void);
OTLS_API uint32_t otls_last_tee_origin(void);
OTLS_API void otls_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* OPTEE_TLS_H */
