// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host Internal Core API: persistent objects, enumerators, data streams.
 * File format, atomicity and locking live in storage.c. Which errors are
 * returned and which panic follows OP-TEE's libutee and core.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "storage.h"
#include "tee_api_private.h"

#define OPEN_FLAGS	(TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE | \
			 TEE_DATA_FLAG_ACCESS_WRITE_META | \
			 TEE_DATA_FLAG_SHARE_READ | TEE_DATA_FLAG_SHARE_WRITE)
#define CREATE_FLAGS	(OPEN_FLAGS | TEE_DATA_FLAG_OVERWRITE)

static bool storage_exists(uint32_t storage_id)
{
	return storage_id == TEE_STORAGE_PRIVATE ||
	       storage_id == TEE_STORAGE_PRIVATE_REE;
}

/*
 * GP share rules across processes, mapped onto flock(): only a handle that
 * merely reads and lets others read can coexist with others (LOCK_SH);
 * write access, meta access, or withholding SHARE_READ is exclusive.
 */
static int lock_for(uint32_t flags)
{
	if (flags & (TEE_DATA_FLAG_ACCESS_WRITE |
		     TEE_DATA_FLAG_ACCESS_WRITE_META))
		return LOCK_EX;
	if (!(flags & TEE_DATA_FLAG_SHARE_READ))
		return LOCK_EX;
	return LOCK_SH;
}

static int handle_lock(TEE_ObjectHandle o)
{
	return lock_for(o->flags & OPEN_FLAGS);
}

static TEE_ObjectHandle check_persistent(TEE_ObjectHandle object)
{
	TEE_ObjectHandle o;

	if (object == TEE_HANDLE_NULL)
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	o = sim_obj_check(object);
	if (!o->pobj)
		TEE_Panic(TEE_ERROR_BAD_STATE);
	return o;
}

void sim_pobj_close(TEE_ObjectHandle o)
{
	struct sim_pobj *p = o->pobj;

	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);	/* releases the flock */
	sim_free_secret(p->data, p->data_len);
	free(p);
	o->pobj = NULL;
}

/* The record that represents o (with data of the caller's choice). */
static TEE_Result record_of(TEE_ObjectHandle o, const void *id, size_t id_len,
			    const uint8_t *data, size_t data_len,
			    struct sim_record *r)
{
	TEE_Result res;

	memset(r, 0, sizeof(*r));
	memcpy(r->id, id, id_len);
	r->id_len = id_len;
	r->type = o ? o->type : TEE_TYPE_DATA;
	r->size = o ? o->size : 0;
	r->max_size = o ? o->max_size : 0;
	r->usage = o ? o->usage : TEE_USAGE_DEFAULT;
	r->flags = o ? (o->flags & CREATE_FLAGS) : 0;
	if (o) {
		res = sim_key_export(o, &r->key, &r->key_len);
		if (res != TEE_SUCCESS)
			return res;
	}
	/* Borrowed: callers detach data before sim_record_clear(). */
	r->data = (uint8_t *)data;
	r->data_len = data_len;
	return TEE_SUCCESS;
}

static void record_release(struct sim_record *r)
{
	r->data = NULL;
	r->data_len = 0;
	sim_record_clear(r);
}

/* Rewrite the object with new contents; on success the handle uses them. */
static TEE_Result write_back(TEE_ObjectHandle o, uint32_t usage,
			     uint8_t *data, size_t data_len)
{
	struct sim_pobj *p = o->pobj;
	uint32_t old_usage = o->usage;
	struct sim_record r;
	TEE_Result res;

	o->usage = usage;
	res = record_of(o, p->id, p->id_len, data, data_len, &r);
	if (res == TEE_SUCCESS)
		res = sim_store_replace(&r, handle_lock(o), &p->fd);
	record_release(&r);
	if (res != TEE_SUCCESS) {
		o->usage = old_usage;
		return res;
	}
	if (data != p->data) {
		sim_free_secret(p->data, p->data_len);
		p->data = data;
	}
	p->data_len = data_len;
	return TEE_SUCCESS;
}

TEE_Result sim_pobj_set_usage(TEE_ObjectHandle o, uint32_t usage)
{
	return write_back(o, usage, o->pobj->data, o->pobj->data_len);
}

/* ---- Open, create, delete, rename ----------------------------------- */

static TEE_Result handle_from_record(struct sim_record *r, uint32_t flags,
				     int fd, TEE_ObjectHandle *out)
{
	TEE_ObjectHandle o = sim_obj_alloc();
	struct sim_pobj *p = calloc(1, sizeof(*p));
	TEE_Result res;

	if (!o || !p) {
		if (o)
			sim_obj_destroy(o);
		free(p);
		return TEE_ERROR_OUT_OF_MEMORY;
	}
	o->type = r->type;
	o->size = r->size;
	o->max_size = r->max_size;
	o->usage = r->usage;
	o->flags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED |
		   flags;
	res = sim_key_import(o, r->key, r->key_len);
	if (res != TEE_SUCCESS) {
		sim_obj_destroy(o);
		free(p);
		return res;
	}
	memcpy(p->id, r->id, r->id_len);
	p->id_len = r->id_len;
	p->fd = fd;
	p->data = r->data;
	p->data_len = r->data_len;
	r->data = NULL;
	r->data_len = 0;
	o->pobj = p;
	*out = o;
	return TEE_SUCCESS;
}

TEE_Result TEE_OpenPersistentObject(uint32_t storageID, const void *objectID,
				    size_t objectIDLen, uint32_t flags,
				    TEE_ObjectHandle *object)
{
	struct sim_record r;
	TEE_Result res;
	int fd = -1;

	sim_count(SIM_CNT_OPENS);
	if (!object || (objectIDLen && !objectID))
		TEE_Panic(0);
	*object = TEE_HANDLE_NULL;
	if (flags & ~OPEN_FLAGS) {
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	if (!storage_exists(storageID))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (objectIDLen > TEE_OBJECT_ID_MAX_LEN) {
		res = TEE_ERROR_BAD_PARAMETERS;
		goto out;
	}
	res = sim_store_open(objectID, objectIDLen, lock_for(flags), &r, &fd);
	if (res != TEE_SUCCESS)
		goto out;
	res = handle_from_record(&r, flags, fd, object);
	if (res != TEE_SUCCESS) {
		/* An authentic file whose key doesn't parse: corrupt too. */
		close(fd);
		if (res == TEE_ERROR_CORRUPT_OBJECT)
			EMSG("stored key does not match its record");
	}
	sim_record_clear(&r);
out:
	if (res != TEE_SUCCESS && res != TEE_ERROR_ITEM_NOT_FOUND &&
	    res != TEE_ERROR_ACCESS_CONFLICT && res != TEE_ERROR_OUT_OF_MEMORY &&
	    res != TEE_ERROR_CORRUPT_OBJECT &&
	    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

TEE_Result TEE_CreatePersistentObject(uint32_t storageID, const void *objectID,
				      size_t objectIDLen, uint32_t flags,
				      TEE_ObjectHandle attributes,
				      const void *initialData,
				      size_t initialDataLen,
				      TEE_ObjectHandle *object)
{
	TEE_ObjectHandle attr = TEE_HANDLE_NULL;
	TEE_ObjectHandle o = TEE_HANDLE_NULL;
	struct sim_pobj *p = NULL;
	struct sim_record r;
	uint8_t *data = NULL;
	TEE_Result res;
	int fd = -1;

	sim_count(SIM_CNT_CREATES);
	memset(&r, 0, sizeof(r));
	if (object)
		*object = TEE_HANDLE_NULL;
	if ((objectIDLen && !objectID) || (initialDataLen && !initialData))
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	if ((flags & ~CREATE_FLAGS) || objectIDLen > TEE_OBJECT_ID_MAX_LEN)
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	if (!storage_exists(storageID))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (initialDataLen > TEE_DATA_MAX_POSITION)
		TEE_Panic(TEE_ERROR_OVERFLOW);
	if (attributes != TEE_HANDLE_NULL) {
		attr = sim_obj_check(attributes);
		if (!(attr->flags & TEE_HANDLE_FLAG_INITIALIZED))
			TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	}

	if (initialDataLen) {
		data = malloc(initialDataLen);
		if (!data)
			return TEE_ERROR_OUT_OF_MEMORY;
		memcpy(data, initialData, initialDataLen);
	}
	res = record_of(attr, objectID, objectIDLen, data, initialDataLen, &r);
	if (res == TEE_SUCCESS)
		r.flags = flags;
	if (res == TEE_SUCCESS)
		res = sim_store_create(&r, flags & TEE_DATA_FLAG_OVERWRITE,
				       lock_for(flags), &fd);
	if (res != TEE_SUCCESS)
		goto out;

	/* Nobody to hand the object to: the file just stays. */
	if (!object && (!attr || attr->pobj)) {
		close(fd);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	memcpy(p->id, objectID, objectIDLen);
	p->id_len = objectIDLen;
	p->fd = fd;
	p->data = data;
	p->data_len = initialDataLen;
	data = NULL;

	if (object) {
		o = sim_obj_alloc();
		if (!o) {
			close(fd);
			sim_free_secret(p->data, p->data_len);
			free(p);
			res = TEE_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		o->type = r.type;
		o->size = r.size;
		o->max_size = r.max_size;
		o->usage = r.usage;
		if (attr && attr->pkey && EVP_PKEY_up_ref(attr->pkey)) {
			o->pkey = attr->pkey;
			o->curve = attr->curve;
		}
		*object = o;
	} else {
		/*
		 * GP 1.3.1 (as OP-TEE implements it): with no object handle
		 * requested, the transient attributes object itself becomes
		 * the handle of the new persistent object.
		 */
		o = attr;
	}
	o->flags = TEE_HANDLE_FLAG_PERSISTENT | TEE_HANDLE_FLAG_INITIALIZED |
		   flags;
	o->pobj = p;
out:
	record_release(&r);
	sim_free_secret(data, initialDataLen);
	if (res != TEE_SUCCESS && res != TEE_ERROR_ITEM_NOT_FOUND &&
	    res != TEE_ERROR_ACCESS_CONFLICT && res != TEE_ERROR_OUT_OF_MEMORY &&
	    res != TEE_ERROR_STORAGE_NO_SPACE &&
	    res != TEE_ERROR_CORRUPT_OBJECT &&
	    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

TEE_Result TEE_CloseAndDeletePersistentObject1(TEE_ObjectHandle object)
{
	TEE_ObjectHandle o;
	TEE_Result res;

	if (object == TEE_HANDLE_NULL)
		return TEE_SUCCESS;
	o = sim_obj_check(object);
	if (!o->pobj || !(o->flags & TEE_DATA_FLAG_ACCESS_WRITE_META)) {
		EMSG("deleting needs TEE_DATA_FLAG_ACCESS_WRITE_META");
		TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
	}
	sim_count(SIM_CNT_DELETES);
	res = sim_store_delete(o->pobj->id, o->pobj->id_len, o->pobj->fd);
	o->pobj->fd = -1;
	sim_pobj_close(o);
	sim_obj_destroy(o);
	if (res != TEE_SUCCESS && res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

void TEE_CloseAndDeletePersistentObject(TEE_ObjectHandle object)
{
	if (TEE_CloseAndDeletePersistentObject1(object) != TEE_SUCCESS)
		TEE_Panic(0);
}

TEE_Result TEE_RenamePersistentObject(TEE_ObjectHandle object,
				      const void *newObjectID,
				      size_t newObjectIDLen)
{
	TEE_ObjectHandle o;
	struct sim_pobj *p;
	struct sim_record r;
	TEE_Result res;

	if (object == TEE_HANDLE_NULL)
		TEE_Panic(TEE_ERROR_ITEM_NOT_FOUND);
	if (newObjectIDLen > TEE_OBJECT_ID_MAX_LEN ||
	    (newObjectIDLen && !newObjectID))
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	o = sim_obj_check(object);
	p = o->pobj;
	if (!p || !(o->flags & TEE_DATA_FLAG_ACCESS_WRITE_META))
		TEE_Panic(TEE_ERROR_BAD_STATE);

	res = record_of(o, newObjectID, newObjectIDLen, p->data, p->data_len,
			&r);
	if (res == TEE_SUCCESS)
		res = sim_store_rename(&r, p->id, p->id_len, handle_lock(o),
				       &p->fd);
	record_release(&r);
	if (res == TEE_SUCCESS) {
		memcpy(p->id, newObjectID, newObjectIDLen);
		p->id_len = newObjectIDLen;
	}
	if (res != TEE_SUCCESS && res != TEE_ERROR_ACCESS_CONFLICT &&
	    res != TEE_ERROR_CORRUPT_OBJECT &&
	    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
		TEE_Panic(res);
	return res;
}

/* ---- Enumeration --------------------------------------------------------- */

#define SIM_ENUM_MAGIC	0x454e554du	/* "ENUM" */

struct __TEE_ObjectEnumHandle {
	uint32_t magic;
	struct __TEE_ObjectEnumHandle *next;
	struct sim_store_enum *e;	/* NULL until started */
};

static TEE_ObjectEnumHandle live_enums;

static TEE_ObjectEnumHandle check_enum(TEE_ObjectEnumHandle h)
{
	TEE_ObjectEnumHandle e;

	for (e = live_enums; e; e = e->next)
		if (e == h && e->magic == SIM_ENUM_MAGIC)
			return e;
	EMSG("invalid enumerator handle %p", (void *)h);
	TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
}

TEE_Result TEE_AllocatePersistentObjectEnumerator(TEE_ObjectEnumHandle *
						  objectEnumerator)
{
	TEE_ObjectEnumHandle e;

	if (!objectEnumerator)
		TEE_Panic(0);
	e = calloc(1, sizeof(*e));
	if (!e)
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	e->magic = SIM_ENUM_MAGIC;
	e->next = live_enums;
	live_enums = e;
	*objectEnumerator = e;
	return TEE_SUCCESS;
}

void TEE_ResetPersistentObjectEnumerator(TEE_ObjectEnumHandle objectEnumerator)
{
	TEE_ObjectEnumHandle e;

	if (objectEnumerator == TEE_HANDLE_NULL)
		return;
	e = check_enum(objectEnumerator);
	sim_store_enum_close(e->e);
	e->e = NULL;
}

void TEE_FreePersistentObjectEnumerator(TEE_ObjectEnumHandle objectEnumerator)
{
	TEE_ObjectEnumHandle *pp;
	TEE_ObjectEnumHandle e;

	if (objectEnumerator == TEE_HANDLE_NULL)
		return;
	e = check_enum(objectEnumerator);
	for (pp = &live_enums; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	sim_store_enum_close(e->e);
	e->magic = 0;
	free(e);
}

TEE_Result TEE_StartPersistentObjectEnumerator(TEE_ObjectEnumHandle
					       objectEnumerator,
					       uint32_t storageID)
{
	TEE_ObjectEnumHandle e = check_enum(objectEnumerator);
	TEE_Result res;

	sim_store_enum_close(e->e);
	e->e = NULL;
	if (!storage_exists(storageID))
		return TEE_ERROR_ITEM_NOT_FOUND;
	res = sim_store_enum_open(&e->e);
	if (res != TEE_SUCCESS)
		TEE_Panic(res);
	return TEE_SUCCESS;
}

TEE_Result TEE_GetNextPersistentObject(TEE_ObjectEnumHandle objectEnumerator,
				       TEE_ObjectInfo *objectInfo,
				       void *objectID, size_t *objectIDLen)
{
	TEE_ObjectEnumHandle e = check_enum(objectEnumerator);
	struct sim_record r;
	TEE_Result res;

	if (!objectIDLen)
		TEE_Panic(0);
	if (!objectID)
		TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
	if (!e->e)
		return TEE_ERROR_ITEM_NOT_FOUND;
	res = sim_store_enum_next(e->e, &r);
	if (res == TEE_ERROR_ITEM_NOT_FOUND)
		return res;
	if (res != TEE_SUCCESS)
		TEE_Panic(res);
	if (objectInfo) {
		*objectInfo = (TEE_ObjectInfo){
			.objectType = r.type,
			.objectSize = r.size,
			.maxObjectSize = r.max_size,
			.objectUsage = r.usage,
			.dataSize = r.data_len,
			.dataPosition = 0,
			.handleFlags = TEE_HANDLE_FLAG_PERSISTENT |
				       TEE_HANDLE_FLAG_INITIALIZED,
		};
	}
	/* As on OP-TEE the buffer must hold TEE_OBJECT_ID_MAX_LEN bytes. */
	memcpy(objectID, r.id, r.id_len);
	*objectIDLen = r.id_len;
	sim_record_clear(&r);
	return TEE_SUCCESS;
}

/* ---- Data streams --------------------------------------------------------- */

TEE_Result TEE_ReadObjectData(TEE_ObjectHandle object, void *buffer,
			      size_t size, size_t *count)
{
	TEE_ObjectHandle o = check_persistent(object);
	struct sim_pobj *p = o->pobj;
	size_t n = 0;

	if (!count || (size && !buffer))
		TEE_Panic(0);
	if (!(o->flags & TEE_DATA_FLAG_ACCESS_READ))
		TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
	if (p->pos < p->data_len)
		n = p->data_len - p->pos < size ? p->data_len - p->pos : size;
	if (n)
		memcpy(buffer, p->data + p->pos, n);
	p->pos += n;
	*count = n;
	return TEE_SUCCESS;
}

/* Contents after writing len bytes at pos (a gap is zero-filled). */
static TEE_Result patched_data(const struct sim_pobj *p, size_t pos,
			       const void *buf, size_t len, size_t new_len,
			       uint8_t **out)
{
	uint8_t *d = calloc(1, new_len ? new_len : 1);

	if (!d)
		return TEE_ERROR_OUT_OF_MEMORY;
	memcpy(d, p->data, p->data_len < new_len ? p->data_len : new_len);
	if (len)
		memcpy(d + pos, buf, len);
	*out = d;
	return TEE_SUCCESS;
}

/* Store the data stream patched as patched_data() says; OP-TEE panics on
 * any failure but these three. */
static TEE_Result write_patched(TEE_ObjectHandle o, size_t pos,
				const void *buf, size_t len, size_t new_len)
{
	uint8_t *d = NULL;
	TEE_Result res;

	res = patched_data(o->pobj, pos, buf, len, new_len, &d);
	if (res == TEE_SUCCESS)
		res = write_back(o, o->usage, d, new_len);
	if (res != TEE_SUCCESS) {
		free(d);
		if (res != TEE_ERROR_STORAGE_NO_SPACE &&
		    res != TEE_ERROR_CORRUPT_OBJECT &&
		    res != TEE_ERROR_STORAGE_NOT_AVAILABLE)
			TEE_Panic(res);
	}
	return res;
}

TEE_Result TEE_WriteObjectData(TEE_ObjectHandle object, const void *buffer,
			       size_t size)
{
	TEE_ObjectHandle o = check_persistent(object);
	struct sim_pobj *p = o->pobj;
	size_t end;
	TEE_Result res;

	if (size && !buffer)
		TEE_Panic(0);
	if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE))
		TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
	if (size > TEE_DATA_MAX_POSITION ||
	    p->pos + size > TEE_DATA_MAX_POSITION)
		return TEE_ERROR_OVERFLOW;
	end = p->pos + size;
	res = write_patched(o, p->pos, buffer, size,
			    end > p->data_len ? end : p->data_len);
	if (res != TEE_SUCCESS)
		return res;
	p->pos = end;
	return TEE_SUCCESS;
}

TEE_Result TEE_TruncateObjectData(TEE_ObjectHandle object, size_t size)
{
	TEE_ObjectHandle o = check_persistent(object);

	if (!(o->flags & TEE_DATA_FLAG_ACCESS_WRITE))
		TEE_Panic(TEE_ERROR_ACCESS_CONFLICT);
	if (size > TEE_DATA_MAX_POSITION)
		TEE_Panic(TEE_ERROR_OVERFLOW);
	return write_patched(o, 0, NULL, 0, size);
}

TEE_Result TEE_SeekObjectData(TEE_ObjectHandle object, intmax_t offset,
			      TEE_Whence whence)
{
	TEE_ObjectHandle o = check_persistent(object);
	struct sim_pobj *p = o->pobj;
	intmax_t base;
	intmax_t pos;

	switch (whence) {
	case TEE_DATA_SEEK_SET:
		base = 0;
		break;
	case TEE_DATA_SEEK_CUR:
		base = (intmax_t)p->pos;
		break;
	case TEE_DATA_SEEK_END:
		base = (intmax_t)p->data_len;
		break;
	default:
		TEE_Panic(TEE_ERROR_ITEM_NOT_FOUND);
	}
	if (offset > 0 && offset > (intmax_t)TEE_DATA_MAX_POSITION - base)
		return TEE_ERROR_OVERFLOW;
	pos = base + offset;
	p->pos = pos < 0 ? 0 : (size_t)pos;
	return TEE_SUCCESS;
}
