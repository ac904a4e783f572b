/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * optee-tls TA protocol: the one contract between the Trusted Application
 * and every normal-world client (client library, tests, simulator).
 *
 * All integers in memref buffers are little-endian uint32_t (both worlds
 * run on the same CPU); structures below have no padding by construction.
 *
 * Errors are plain GlobalPlatform TEE_Result codes, so a client needs no
 * table of its own to understand them:
 *   TEE_ERROR_BAD_PARAMETERS  wrong parameter types, sizes, malformed label,
 *                             bad policy, digest length that fits no hash
 *   TEE_ERROR_ITEM_NOT_FOUND  no key with that label
 *   TEE_ERROR_ACCESS_CONFLICT a key with that label exists (create) or the
 *                             key is open in another session (delete)
 *   TEE_ERROR_ACCESS_DENIED   the key's policy forbids the operation, or the
 *                             key has an owner and the caller is not it
 *   TEE_ERROR_NOT_SUPPORTED   key type/size or algorithm not supported,
 *                             algorithm that does not fit the key, or
 *                             unknown command
 *   TEE_ERROR_SHORT_BUFFER    output memref too small; its size field now
 *                             holds the size needed
 *   TEE_ERROR_CIPHERTEXT_INVALID  DECRYPT: bad padding (one answer for
 *                             every decryption failure)
 *   TEE_ERROR_CORRUPT_OBJECT  the stored key failed authentication (or its
 *                             record is not one this TA understands)
 *   TEE_ERROR_STORAGE_NO_SPACE, TEE_ERROR_OUT_OF_MEMORY as usual
 *
 * Memrefs: an input memref with a NULL buffer must have size 0 (else
 * TEE_ERROR_BAD_PARAMETERS). An output memref with a NULL buffer (or too
 * small) is a size query: TEE_ERROR_SHORT_BUFFER and the size needed. On
 * success an output memref's size is the number of bytes written.
 *
 * Sessions: TA_OpenSessionEntryPoint takes no parameters (all NONE). The
 * login method (TEEC_LOGIN_USER/GROUP) only matters for keys that have an
 * owner. Each session is its own TA instance and keeps up to 8 keys open,
 * so repeated use of a key costs no storage access.
 */
#ifndef OPTEE_TLS_TA_H
#define OPTEE_TLS_TA_H

#include <stdint.h>

/* 8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61 */
#define OTLS_TA_UUID \
	{ 0x8d3a5b12, 0x6c47, 0x4f0e, \
	  { 0x9a, 0x1d, 0x2b, 0x7c, 0x0e, 0x5f, 0x4a, 0x61 } }
#define OTLS_TA_UUID_STR "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61"

/* Bumped on any incompatible change of this header. */
#define OTLS_PROTOCOL_VERSION	1
#define OTLS_TA_VERSION_MAJOR	0
#define OTLS_TA_VERSION_MINOR	1
#define OTLS_TA_VERSION_PATCH	0

/* ---- Limits ---------------------------------------------------------- */

/* Labels: 1..32 bytes of [A-Za-z0-9._-], first byte alphanumeric. */
#define OTLS_LABEL_MAX		32
#define OTLS_MAX_DIGEST		64	/* ECDSA/RSA inputs: SHA-512 at most */
#define OTLS_MAX_DIGESTINFO	83	/* DigestInfo of SHA-512 (19 + 64) */
/* Ed25519 signs whole messages. OP-TEE's core copies the message onto its
 * own heap (192 KiB on QEMU, shared by every session and open key); a
 * 64 KiB message made the sign fail under load on real OP-TEE, and a failed
 * TEE_AsymmetricSignDigest panics the TA. TLS signs ~130 bytes, a TBS
 * certificate a few KiB. */
#define OTLS_MAX_MESSAGE	16384
#define OTLS_MAX_SIGNATURE	512	/* RSA-4096 */
#define OTLS_MAX_CIPHERTEXT	512	/* RSA-4096 */
#define OTLS_MAX_PUB_PART	512	/* one public component (RSA n) */
#define OTLS_MAX_KEYS		64	/* keys the TA lists in one call */

/* ---- Key types ------------------------------------------------------- */

#define OTLS_KEY_EC		1	/* bits: 256 (P-256), 384, 521 */
#define OTLS_KEY_RSA		2	/* bits: 2048, 3072, 4096; e = 65537 */
#define OTLS_KEY_ED25519	3	/* bits: 256 */

/* ---- Algorithms (CMD_SIGN / CMD_DECRYPT value a) --------------------- */

/* ECDSA over a digest of any length 20..64; the TA truncates it to the
 * curve's order size. Output: raw r || s, each half ceil(bits/8) bytes. */
#define OTLS_ALG_ECDSA			0x0100
/* RSASSA-PKCS1-v1_5; input is the bare digest of the named hash. */
#define OTLS_ALG_RSA_PKCS1_SHA256	0x0201
#define OTLS_ALG_RSA_PKCS1_SHA384	0x0202
#define OTLS_ALG_RSA_PKCS1_SHA512	0x0203
/* RSASSA-PKCS1-v1_5; input is a caller-built DER DigestInfo. A DigestInfo
 * of SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512 works on every OP-TEE
 * core; other input (no digest) needs OP-TEE's raw-DigestInfo algorithm,
 * which a core built with mbedTLS lacks: TEE_ERROR_NOT_SUPPORTED there. */
#define OTLS_ALG_RSA_PKCS1_DIGESTINFO	0x0210
/* RSASSA-PSS with MGF1 of the same hash; value b is the salt length. */
#define OTLS_ALG_RSA_PSS_SHA256		0x0301
#define OTLS_ALG_RSA_PSS_SHA384		0x0302
#define OTLS_ALG_RSA_PSS_SHA512		0x0303
/* PureEdDSA over the whole message. */
#define OTLS_ALG_ED25519		0x0400
/* RSA decryption (TLS 1.2 RSA key exchange). */
#define OTLS_ALG_RSA_DECRYPT_PKCS1	0x0501
#define OTLS_ALG_RSA_DECRYPT_OAEP_SHA1	0x0502
#define OTLS_ALG_RSA_DECRYPT_OAEP_SHA256 0x0503

/* PSS salt length meaning "equal to the hash length" (what TLS 1.3 uses). */
#define OTLS_SALT_DIGEST_LEN	0xFFFFFFFFu

/* ---- Key policy ------------------------------------------------------ */

/* Bits of otls_policy.allowed: algorithm families the key may be used for. */
#define OTLS_ALLOW_ECDSA		(1u << 0)
#define OTLS_ALLOW_RSA_PKCS1		(1u << 1)	/* hashed variants */
#define OTLS_ALLOW_RSA_PKCS1_DIGESTINFO	(1u << 2)	/* caller DigestInfo */
#define OTLS_ALLOW_RSA_PSS		(1u << 3)
#define OTLS_ALLOW_ED25519		(1u << 4)
#define OTLS_ALLOW_DECRYPT_PKCS1	(1u << 8)
#define OTLS_ALLOW_DECRYPT_OAEP		(1u << 9)
/* allowed == 0 at generation means: every signature family that fits the
 * key type, and no decryption. */
#define OTLS_ALLOW_DEFAULT		0u

#define OTLS_OWNER_ANY		0	/* any client may use the key */
#define OTLS_OWNER_UID		1	/* only clients with TEE_LOGIN_USER as uid */
#define OTLS_OWNER_GID		2	/* only clients with TEE_LOGIN_GROUP as gid */

struct otls_policy {
	uint32_t allowed;	/* OTLS_ALLOW_* bits */
	uint32_t owner_kind;	/* OTLS_OWNER_* */
	uint32_t owner_id;	/* uid or gid; 0 with OTLS_OWNER_ANY */
	uint32_t reserved;	/* must be 0 */
};

/* ---- Output structures ----------------------------------------------- */

/*
 * Key description returned by GENERATE_KEY and GET_KEY: this header, then
 * pub_a_len bytes of component A, then pub_b_len bytes of component B.
 *   EC:      A = X, B = Y, each left-padded to ceil(bits/8) bytes
 *   RSA:     A = modulus left-padded to bits/8 bytes, B = public exponent,
 *            big-endian without leading zeros (01 00 01)
 *   Ed25519: A = the 32-byte public key, B empty
 * Nothing else is ever returned about a key: no private component leaves
 * the TA, not even to the TA itself (keys are stored non-extractable).
 */
struct otls_key_desc_hdr {
	uint32_t key_type;		/* OTLS_KEY_* */
	uint32_t bits;
	struct otls_policy policy;	/* allowed is never 0 here */
	uint32_t pub_a_len;
	uint32_t pub_b_len;
};

/* One entry of LIST_KEYS. label is NUL-padded. */
struct otls_list_entry {
	char label[OTLS_LABEL_MAX + 4];
	uint32_t key_type;
	uint32_t bits;
	struct otls_policy policy;
};

struct otls_info {
	uint32_t protocol_version;	/* OTLS_PROTOCOL_VERSION */
	uint32_t ta_version;		/* major << 16 | minor << 8 | patch */
	uint32_t key_types;		/* bit (1 << OTLS_KEY_*) per supported type */
	uint32_t allow_mask;		/* OTLS_ALLOW_* families implemented */
	uint32_t label_max;		/* OTLS_LABEL_MAX */
	uint32_t max_keys;		/* OTLS_MAX_KEYS */
	uint32_t open_keys;		/* keys cached open in this session */
	uint32_t reserved;
};

/* ---- Commands -------------------------------------------------------- */
/*
 * Parameter layouts. Unlisted parameters must be TEE_PARAM_TYPE_NONE.
 *
 * OTLS_CMD_GET_INFO
 *   P0 MEMREF_OUTPUT  struct otls_info
 *
 * OTLS_CMD_GENERATE_KEY  (never overwrites; atomic)
 *   P0 MEMREF_INPUT   label (no NUL)
 *   P1 VALUE_INPUT    a = key type, b = bits
 *   P2 MEMREF_INPUT   struct otls_policy (exactly its size)
 *   P3 MEMREF_OUTPUT  struct otls_key_desc_hdr + public components
 *   P3 is checked before anything is generated: on SHORT_BUFFER no key
 *   was made. Label taken: ACCESS_CONFLICT, the existing key untouched.
 *   Policy: reserved 0, owner_id 0 with OTLS_OWNER_ANY, allowed bits
 *   that fit the key type (else BAD_PARAMETERS).
 *
 * OTLS_CMD_GET_KEY  (anyone; public information)
 *   P0 MEMREF_INPUT   label
 *   P1 MEMREF_OUTPUT  struct otls_key_desc_hdr + public components
 *
 * OTLS_CMD_LIST_KEYS  (anyone; public information)
 *   P0 MEMREF_OUTPUT  struct otls_list_entry[], sorted by label
 *   P1 VALUE_OUTPUT   a = number of entries written, b = keys in storage
 *   At most OTLS_MAX_KEYS entries (the first ones by label). SHORT_BUFFER
 *   asks for room for all of those; a key that cannot be read (corrupt,
 *   being deleted) is left out, so a may be less than that.
 *
 * OTLS_CMD_DELETE_KEY  (owner only, if the key has one)
 *   P0 MEMREF_INPUT   label
 *   ACCESS_CONFLICT while another session has the key open (sessions
 *   keep used keys open until they close). Order: label, ITEM_NOT_FOUND,
 *   owner (ACCESS_DENIED), then ACCESS_CONFLICT.
 *
 * OTLS_CMD_SIGN
 *   P0 MEMREF_INPUT   label
 *   P1 VALUE_INPUT    a = OTLS_ALG_*, b = PSS salt length (else 0)
 *   P2 MEMREF_INPUT   digest, DigestInfo, or message (Ed25519)
 *   P3 MEMREF_OUTPUT  signature: EC 2 * ceil(bits/8), RSA bits/8, Ed25519 64
 *   Input: ECDSA 20..64 bytes; RSA PKCS1/PSS exactly the hash size;
 *   DigestInfo 1..OTLS_MAX_DIGESTINFO and at most bits/8 - 11; Ed25519
 *   0..OTLS_MAX_MESSAGE. PSS salt: emLen >= hLen + sLen + 2 with
 *   emLen = ceil((bits - 1) / 8). Else BAD_PARAMETERS.
 *
 * OTLS_CMD_DECRYPT  (only keys whose policy has OTLS_ALLOW_DECRYPT_*)
 *   P0 MEMREF_INPUT   label
 *   P1 VALUE_INPUT    a = OTLS_ALG_RSA_DECRYPT_*, b = 0
 *   P2 MEMREF_INPUT   ciphertext (exactly the modulus size)
 *   P3 MEMREF_OUTPUT  plaintext (OAEP: label empty, MGF1 with the same hash)
 *
 * SIGN and DECRYPT check, in this order: parameter types and label
 * (BAD_PARAMETERS), algorithm known for the command (NOT_SUPPORTED),
 * value b and input size limits (BAD_PARAMETERS), the key
 * (ITEM_NOT_FOUND), owner (ACCESS_DENIED), algorithm fits the key type
 * (NOT_SUPPORTED), policy (ACCESS_DENIED), exact input lengths for the
 * key (BAD_PARAMETERS), output room (SHORT_BUFFER).
 */
#define OTLS_CMD_GET_INFO	0
#define OTLS_CMD_GENERATE_KEY	1
#define OTLS_CMD_GET_KEY	2
#define OTLS_CMD_LIST_KEYS	3
#define OTLS_CMD_DELETE_KEY	4
#define OTLS_CMD_SIGN		5
#define OTLS_CMD_DECRYPT	6

#endif /* OPTEE_TLS_TA_H */
