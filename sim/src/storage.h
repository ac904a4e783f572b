/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Simulated secure storage: encrypted, authenticated object files with
 * atomic updates and cross-process open/share locking (see storage.c).
 */
#ifndef SIM_STORAGE_H
#define SIM_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tee_internal_api.h>

/* Everything one object file holds. key/data are heap buffers. */
struct sim_record {
	uint8_t id[TEE_OBJECT_ID_MAX_LEN];
	size_t id_len;
	uint32_t type;
	uint32_t size;
	uint32_t max_size;
	uint32_t usage;
	uint32_t flags;		/* data flags given at creation */
	uint8_t *key;
	size_t key_len;
	uint8_t *data;
	size_t data_len;
};

void sim_record_clear(struct sim_record *r);

/*
 * lock is LOCK_SH or LOCK_EX: the flock() the returned fd holds for as long
 * as the handle lives. A held conflicting lock gives TEE_ERROR_ACCESS_CONFLICT.
 */
TEE_Result sim_store_open(const void *id, size_t id_len, int lock,
			  struct sim_record *r, int *fd);
TEE_Result sim_store_create(const struct sim_record *r, bool overwrite,
			    int lock, int *fd);
/* Write a new version of an object whose file *fd (locked) refers to. */
TEE_Result sim_store_replace(const struct sim_record *r, int lock, int *fd);
/* r carries the new id; the old file (locked *fd) disappears. */
TEE_Result sim_store_rename(const struct sim_record *r, const void *old_id,
			    size_t old_id_len, int lock, int *fd);
/* Remove the object whose locked file is fd, and close fd. */
TEE_Result sim_store_delete(const void *id, size_t id_len, int fd);

struct sim_store_enum;
TEE_Result sim_store_enum_open(struct sim_store_enum **e);
/* Next readable object (corrupt files are skipped); ITEM_NOT_FOUND at end. */
TEE_Result sim_store_enum_next(struct sim_store_enum *e, struct sim_record *r);
void sim_store_enum_close(struct sim_store_enum *e);

#endif /* SIM_STORAGE_H */
