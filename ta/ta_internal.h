/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * optee-tls TA: declarations shared by the TA's source files.
 *
 * One TA instance serves one session (TA_FLAGS has neither
 * TA_FLAG_SINGLE_INSTANCE nor TA_FLAG_MULTI_SESSION), so all per-client
 * state lives in struct otls_session, allocated at session open.
 */
#ifndef TA_INTERNAL_H
#define TA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tee_internal_api.h>
#include <optee_tls_ta.h>

/*
 * Length type of the Internal API's size arguments: size_t in GP 1.3,
 * uint32_t in GP 1.1 (old dev kits, or OP-TEE's 1.1 compatibility mode).
 * TEE_Param's memref size always has the type the API functions take.
 */
typedef __typeof__(((TEE_Param *)0)->memref.size) otls_len_t;

/* ---- Persistent objects ------------------------------------------------ */

/* Object id = prefix + label. Other ids in the TA's storage are ignored. */
#define OTLS_OBJ_PREFIX		"key:"
#define OTLS_OBJ_PREFIX_LEN	4
#define OTLS_OBJ_ID_MAX		(OTLS_OBJ_PREFIX_LEN + OTLS_LABEL_MAX)

/* Flags every read-only open uses (they must agree between openers). */
#define OTLS_OPEN_READ	(TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_SHARE_READ)

/*
 * The object's data stream: this record, little-endian u32 fields. The key
 * itself is the object's attributes and never leaves the TEE.
 */
#define OTLS_REC_MAGIC		0x4b4c544fu	/* "OTLK" */
#define OTLS_REC_VERSION	1u	/* key = the object's attributes */
/* CFG_OPTEE_TLS_CRYPTO=mbedtls: a TEE_TYPE_DATA object whose data stream
 * is this record followed by the private key serialised by tk_mbedtls.c
 * (encrypted and authenticated by secure storage like any object). */
#define OTLS_REC_VERSION_TK	2u
#define OTLS_TK_BLOB_MAX	1600	/* RSA-4096: 5 components + lengths */

struct otls_record {
	uint32_t magic;
	uint32_t version;
	uint32_t key_type;		/* OTLS_KEY_* */
	uint32_t bits;
	struct otls_policy policy;	/* allowed != 0 */
};

/* ---- Session state --------------------------------------------------- */

#define OTLS_CACHE_SLOTS	8

struct otls_label {
	uint32_t len;
	char str[OTLS_LABEL_MAX + 1];	/* NUL-terminated copy */
};

enum otls_owner_state {
	OTLS_OWNER_UNCHECKED = 0,
	OTLS_OWNER_ALLOWED,
	OTLS_OWNER_REFUSED,
};

/* One opened key, kept open for the rest of the session (LRU). */
struct otls_slot {
	bool used;
	uint8_t owner;			/* enum otls_owner_state */
	uint64_t last_use;
	struct otls_label label;
	struct otls_record rec;
	uint32_t usage;			/* objectUsage of the handle */
	TEE_ObjectHandle obj;
	struct otls_tk *tk;		/* key held in TA memory, or NULL */
};

/* Buffer for a key description: header + two public components. */
#define OTLS_DESC_MAX \
	(sizeof(struct otls_key_desc_hdr) + 2 * OTLS_MAX_PUB_PART)

struct otls_session {
	bool have_identity;
	TEE_Identity client;
	uint64_t clock;
	struct otls_slot slots[OTLS_CACHE_SLOTS];
	/* Scratch space, kept off the (small) TA stack. */
	uint8_t in[OTLS_MAX_CIPHERTEXT];	/* private copy of an input */
	uint8_t out[OTLS_MAX_SIGNATURE];	/* result before copy-out */
	uint8_t attr[OTLS_MAX_PUB_PART];	/* one public attribute */
	uint8_t desc[OTLS_DESC_MAX];		/* key description */
};

/* ---- entry.c ---------------------------------------------------------- */

/*
 * Copy len bytes to an output memref, or answer TEE_ERROR_SHORT_BUFFER
 * with the size needed in the memref's size. A NULL buffer has no room.
 */
TEE_Result otls_out_write(TEE_Param *p, const void *data, size_t len);
/* True if the output memref holds len bytes; else set its size to len. */
bool otls_out_room(TEE_Param *p, size_t len);

/* ---- keystore.c ------------------------------------------------------- */

/* Copy and validate a label from untrusted memory. */
TEE_Result otls_label_parse(const void *buf, size_t len,
			    struct otls_label *out);

/* Check a record read from storage against the object's info. */
TEE_Result otls_record_check(const struct otls_record *rec,
			     uint32_t obj_type, uint32_t obj_bits);

/* The cached key for label, opening it (read-only) if needed. */
TEE_Result otls_key_load(struct otls_session *s, const struct otls_label *l,
			 struct otls_slot **slot);
/* TEE_SUCCESS if no key has this label, TEE_ERROR_ACCESS_CONFLICT if one
 * has, another error if that cannot be told. */
TEE_Result otls_key_absent(struct otls_session *s,
			   const struct otls_label *l);
/* Persist a new key atomically (never overwrites) and cache its handle:
 * a core key object (tk NULL) or a TA-held key and its serialisation. */
TEE_Result otls_key_store(struct otls_session *s, const struct otls_label *l,
			  TEE_ObjectHandle key, const struct otls_record *rec,
			  struct otls_tk *tk, const uint8_t *blob,
			  size_t blob_len);
/* Delete a key (owner check included). */
TEE_Result otls_key_delete(struct otls_session *s,
			   const struct otls_label *l);
/* Sorted listing; at most max entries; *total = key objects found. */
TEE_Result otls_key_list(struct otls_session *s, TEE_Param *out,
			 uint32_t *written, uint32_t *total);
uint32_t otls_cache_count(const struct otls_session *s);
void otls_cache_clear(struct otls_session *s);

/* ---- policy.c --------------------------------------------------------- */

/* OTLS_ALLOW_* families this build implements. */
uint32_t otls_allow_implemented(void);
/* Families that make sense for a key type (implemented or not). */
uint32_t otls_allow_fit(uint32_t key_type);
/* Turn a requested policy into the stored one (allowed resolved). */
TEE_Result otls_policy_resolve(uint32_t key_type,
			       const struct otls_policy *req,
			       struct otls_policy *out);
/* Is a stored policy well formed for this key type? */
bool otls_policy_valid(uint32_t key_type, const struct otls_policy *p);
/* Read the client's login identity (at session open). */
void otls_client_identity(struct otls_session *s);
/* TEE_SUCCESS if the session's client may use a key with this policy,
 * TEE_ERROR_ACCESS_DENIED if not. */
TEE_Result otls_owner_check(struct otls_session *s,
			    const struct otls_policy *p);
/* Same, cached in the slot. */
TEE_Result otls_slot_owner_check(struct otls_session *s,
				 struct otls_slot *slot);

/* ---- keygen.c --------------------------------------------------------- */

/* TEE_SUCCESS if (key_type, bits) is supported, else NOT_SUPPORTED. */
TEE_Result otls_key_supported(uint32_t key_type, uint32_t bits);
/* GP object type of a key type; 0 if unknown. */
uint32_t otls_tee_type(uint32_t key_type);
/* Build the key description (public part only) into s->desc. */
TEE_Result otls_desc_build(struct otls_session *s, TEE_ObjectHandle obj,
			   struct otls_tk *tk, const struct otls_record *rec,
			   size_t *len);
TEE_Result otls_cmd_generate(struct otls_session *s,
			     TEE_Param params[TEE_NUM_PARAMS]);
TEE_Result otls_cmd_get_key(struct otls_session *s,
			    TEE_Param params[TEE_NUM_PARAMS]);

/* ---- tk_mbedtls.c: keys held and used in the TA (mbedTLS backend) ----- */

struct otls_tk;
#ifdef CFG_OPTEE_TLS_CRYPTO_MBEDTLS
/* Is a new key of this type and policy made as a TA-held key? */
bool otls_tk_wanted(uint32_t key_type, const struct otls_policy *p);
TEE_Result otls_tk_generate(uint32_t key_type, uint32_t bits,
			    struct otls_tk **out, uint8_t *blob, size_t max,
			    size_t *blob_len);
TEE_Result otls_tk_load(const struct otls_record *rec, const uint8_t *blob,
			size_t len, struct otls_tk **out);
void otls_tk_free(struct otls_tk *k);
/* EC: a = X, b = Y (a_len each); RSA: a = n (a_len), b = e. */
TEE_Result otls_tk_public(struct otls_tk *k, uint8_t *a, size_t a_len,
			  uint8_t *b, size_t b_max, size_t *b_len);
TEE_Result otls_tk_ecdsa(struct otls_tk *k, const uint8_t *digest,
			 size_t len, uint8_t *sig, size_t half);
TEE_Result otls_tk_pkcs1_sign(struct otls_tk *k, const uint8_t *t,
			      size_t tlen, uint8_t *sig);
TEE_Result otls_tk_pss_sign(struct otls_tk *k, const uint8_t *mhash,
			    size_t hlen, size_t salt_len, uint8_t *sig);
TEE_Result otls_tk_decrypt_pkcs1(struct otls_tk *k, const uint8_t *in,
				 uint8_t *out, size_t max, size_t *out_len);
#else
/* GP build: no TA-held keys; one made by an mbedTLS build is refused. */
static inline bool otls_tk_wanted(uint32_t key_type,
				  const struct otls_policy *p)
{
	(void)key_type;
	(void)p;
	return false;
}

static inline TEE_Result otls_tk_load(const struct otls_record *rec,
				      const uint8_t *blob, size_t len,
				      struct otls_tk **out)
{
	(void)rec;
	(void)blob;
	(void)len;
	(void)out;
	return TEE_ERROR_NOT_SUPPORTED;
}

static inline void otls_tk_free(struct otls_tk *k)
{
	(void)k;
}
#endif

/* ---- sign.c ----------------------------------------------------------- */

TEE_Result otls_cmd_sign(struct otls_session *s,
			 TEE_Param params[TEE_NUM_PARAMS]);
TEE_Result otls_cmd_decrypt(struct otls_session *s,
			    TEE_Param params[TEE_NUM_PARAMS]);

#endif /* TA_INTERNAL_H */
