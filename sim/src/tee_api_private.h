/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals shared by the simulator's Internal Core API sources
 * (tee_api_*.c, storage.c). Not for TA code.
 */
#ifndef TEE_API_PRIVATE_H
#define TEE_API_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

/* Instance configuration, copied by sim_instance_init(). */
struct sim_api_state {
	bool initialized;
	char *store_dir;
	uint8_t huk[32];
	TEE_UUID ta_uuid;
	TEE_Identity client;
	/* Core crypto library: mbedTLS lacks what CFG_CRYPTO_RSASSA_NA1
	 * gives libtomcrypt (raw-DigestInfo PKCS#1 v1.5 signing). */
	bool core_mbedtls;
};
extern struct sim_api_state sim_api;

/* What a persistent-object handle adds to an object. */
struct sim_pobj {
	uint8_t id[TEE_OBJECT_ID_MAX_LEN];
	size_t id_len;
	int fd;			/* the object file, flock()ed for this handle */
	uint8_t *data;		/* the whole data stream, in memory */
	size_t data_len;
	size_t pos;
};

#define SIM_OBJ_MAGIC	0x4f424a31u	/* "OBJ1" */

struct __TEE_ObjectHandle {
	uint32_t magic;
	struct __TEE_ObjectHandle *next;	/* registry of live handles */
	uint32_t type;
	uint32_t size;		/* objectSize: key bits once initialized */
	uint32_t max_size;
	uint32_t usage;
	uint32_t flags;		/* handleFlags */
	uint32_t curve;		/* TEE_ECC_CURVE_* of ECDSA objects */
	EVP_PKEY *pkey;		/* NULL until initialized, and for TEE_TYPE_DATA */
	struct sim_pobj *pobj;	/* persistent objects only */
};

#define TEE_USAGE_DEFAULT	0xFFFFFFFFu

/* Handles: look up a live handle or TEE_Panic() (a TA bug on OP-TEE too). */
TEE_ObjectHandle sim_obj_alloc(void);
TEE_ObjectHandle sim_obj_check(TEE_ObjectHandle h);
bool sim_obj_is_live(TEE_ObjectHandle h);
void sim_obj_destroy(TEE_ObjectHandle h);

/* Key types the simulator supports. */
bool sim_type_is_supported(uint32_t type);
bool sim_type_is_keypair(uint32_t type);
TEE_Result sim_check_key_size(uint32_t type, uint32_t bits);

/* Key (de)serialisation for storage: DER (RSA, EC) or raw (Ed25519). */
TEE_Result sim_key_export(TEE_ObjectHandle o, uint8_t **buf, size_t *len);
TEE_Result sim_key_import(TEE_ObjectHandle o, const uint8_t *buf, size_t len);

/* Copy key material from src into an uninitialised transient dst. */
TEE_Result sim_obj_copy_key(TEE_ObjectHandle dst, TEE_ObjectHandle src);

/* ECC helpers shared by objects and operations. */
uint32_t sim_curve_bits(uint32_t curve);
size_t sim_curve_bytes(uint32_t curve);

/* Persistent side of generic object functions (tee_api_storage.c). */
void sim_pobj_close(TEE_ObjectHandle o);
TEE_Result sim_pobj_set_usage(TEE_ObjectHandle o, uint32_t usage);

/* Wipe, then free. */
void sim_free_secret(void *p, size_t len);

/* Counters (sim_counters may be NULL outside the daemon). */
enum sim_counter { SIM_CNT_OPENS, SIM_CNT_CREATES, SIM_CNT_DELETES };
void sim_count(enum sim_counter c);

#endif /* TEE_API_PRIVATE_H */
