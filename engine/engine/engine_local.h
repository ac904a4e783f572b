/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internal interfaces of the optee ENGINE (the .c files of engine/engine/).
 *
 * The ENGINE keeps no TEE state at all: every private-key operation is one
 * call into libopteetls, which owns the per-process TEEC session (and opens
 * a fresh one after fork). What the ENGINE remembers about a key is only
 * its label, kept in a module-wide append-only table of interned strings
 * (see engine_label_intern) so that key objects can point at it without
 * owning memory: no ex_data free or dup callbacks (which OpenSSL would keep
 * calling after this module is unloaded, and which EC_KEY_dup would need).
 */
#ifndef OPTEE_ENGINE_LOCAL_H
#define OPTEE_ENGINE_LOCAL_H

#include <stddef.h>
#include <openssl/opensslv.h>
#include <openssl/opensslconf.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/err.h>

#include "optee_tls.h"

#define OPTEE_ENGINE_ID		"optee"
#define OPTEE_ENGINE_NAME	"optee-tls: private keys inside an OP-TEE Trusted Application"

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
# define OPTEE_OSSL3 1
#else
# define OPTEE_OSSL3 0
#endif

/* ---- Errors (engine_err.c) ------------------------------------------- */

/* Reason codes of our error library (see engine_err.c for the texts). */
#define OPTEE_R_BAD_KEY_ID		100
#define OPTEE_R_KEY_NOT_FOUND		101
#define OPTEE_R_TEE_UNREACHABLE		102
#define OPTEE_R_TA_NOT_INSTALLED	103
#define OPTEE_R_POLICY_DENIED		104
#define OPTEE_R_UNSUPPORTED		105
#define OPTEE_R_TEE_FAILURE		106
#define OPTEE_R_RAW_RSA_REFUSED		107
#define OPTEE_R_UNSUPPORTED_PADDING	108
#define OPTEE_R_UNSUPPORTED_DIGEST	109
#define OPTEE_R_BAD_PSS_PARAMETERS	110
#define OPTEE_R_REFERENCE_MISMATCH	111
#define OPTEE_R_BAD_REFERENCE_FILE	112
#define OPTEE_R_BUFFER_TOO_SMALL	113
#define OPTEE_R_INVALID_INPUT		114
#define OPTEE_R_INTERNAL		115
#define OPTEE_R_NOT_SUPPORTED_BY_TA	116

int engine_err_load(void);
void engine_err_unload(void);
/* Raise reason with a printf-style detail text. */
void engine_err_raise(int reason, const char *func, const char *file,
		      int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define OPTEE_ERR(reason, ...) \
	engine_err_raise((reason), __func__, __FILE__, __LINE__, __VA_ARGS__)
/*
 * Raise the error matching a libopteetls return code, with otls_strerror's
 * sentence, the label and what we were doing as detail text.
 */
void engine_err_otls(int rc, const char *label, const char *what,
		     const char *func, const char *file, int line);
#define OPTEE_ERR_OTLS(rc, label, what) \
	engine_err_otls((rc), (label), (what), __func__, __FILE__, __LINE__)

/* ---- Labels (engine.c) ----------------------------------------------- */

/*
 * Returns a pointer to a NUL-terminated copy of label, the same pointer for
 * the same (label, pub); pub/pub_len (may be NULL/0) are remembered with it
 * for keys that have no ex_data (Ed25519). Valid until the last ENGINE of
 * this module is destroyed, which cannot happen while a key made by it
 * lives: every such key holds a reference to its ENGINE.
 */
const char *engine_label_intern(const char *label, const unsigned char *pub,
				size_t pub_len);
/* The label whose remembered public key is pub, or NULL. */
const char *engine_label_by_pub(const unsigned char *pub, size_t pub_len);

/* ---- RSA (engine_rsa.c) ---------------------------------------------- */

int engine_rsa_init(void);		/* methods; 1 on success */
void engine_rsa_cleanup(void);
const RSA_METHOD *engine_rsa_method(void);
EVP_PKEY *engine_rsa_pkey(ENGINE *e, const otls_key_info *key,
			  const char *label);
/* A new EVP_PKEY_METHOD of ours for EVP_PKEY_RSA / EVP_PKEY_RSA_PSS. */
EVP_PKEY_METHOD *engine_rsa_pmeth_new(int nid);

/* ---- EC (engine_ec.c) ------------------------------------------------ */

int engine_ec_init(void);
void engine_ec_cleanup(void);
const EC_KEY_METHOD *engine_ec_method(void);
EVP_PKEY *engine_ec_pkey(ENGINE *e, const otls_key_info *key,
			 const char *label);

/* ---- EVP_PKEY_METHODs and Ed25519 (engine_pkey.c) ---------------------- */

int engine_pkey_init(void);
void engine_pkey_cleanup(void);
/* EVP_PKEY_meth_copy plus the members it has not always copied. */
void engine_pmeth_copy(EVP_PKEY_METHOD *dst, const EVP_PKEY_METHOD *src);
/* Give e its own EVP_PKEY_METHODs (ENGINE_set_pkey_meths); unbind from
 * its destroy function. */
int engine_pkey_bind(ENGINE *e);
void engine_pkey_unbind(ENGINE *e);
EVP_PKEY *engine_ed25519_pkey(ENGINE *e, const otls_key_info *key,
			      const char *label);

#endif /* OPTEE_ENGINE_LOCAL_H */
