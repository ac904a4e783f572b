// SPDX-License-Identifier: BSD-2-Clause
/*
 * optee-tls TA: labels, persistent key objects, their records, and the
 * per-session cache of opened keys.
 *
 * A key is one persistent object in TEE_STORAGE_PRIVATE whose id is
 * OTLS_OBJ_PREFIX + label. Its attributes are the key pair (usage
 * restricted so that nothing secret can be read back), its data stream a
 * struct otls_record. Objects are opened read-only with SHARE_READ so
 * that any number of sessions can use a key at once; delete opens with
 * WRITE_META, which OP-TEE refuses while anyone else has the object open.
 */
#include <string.h>
#include "ta_internal.h"

/* Bound on enumeration steps, in case storage keeps failing in place. */
#define OTLS_ENUM_GUARD	(1u << 16)

static bool label_char_ok(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (first)
		return false;
	return c == '.' || c == '_' || c == '-';
}

TEE_Result otls_label_parse(const void *buf, size_t len,
			    struct otls_label *out)
{
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!buf || !len || len > OTLS_LABEL_MAX)
		return TEE_ERROR_BAD_PARAMETERS;

	/* Validate the private copy: the source may change under us. */
	memcpy(out->str, buf, len);
	for (n = 0; n < len; n++) {
		if (!label_char_ok(out->str[n], n == 0)) {
			memset(out, 0, sizeof(*out));
			return TEE_ERROR_BAD_PARAMETERS;
		}
	}
	out->len = len;
	return TEE_SUCCESS;
}

static bool label_eq(const struct otls_label *a, const struct otls_label *b)
{
	return a->len == b->len && !memcmp(a->str, b->str, a->len);
}

/* Byte order, shorter first on a common prefix (strcmp order). */
static int label_cmp(const struct otls_label *a, const struct otls_label *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->str, b->str, n);

	if (r)
		return r;
	return (a->len > b->len) - (a->len < b->len);
}

static size_t obj_id(const struct otls_label *l, char id[OTLS_OBJ_ID_MAX])
{
	memcpy(id, OTLS_OBJ_PREFIX, OTLS_OBJ_PREFIX_LEN);
	memcpy(id + OTLS_OBJ_PREFIX_LEN, l->str, l->len);
	return OTLS_OBJ_PREFIX_LEN + l->len;
}

TEE_Result otls_record_check(const struct otls_record *rec,
			     uint32_t obj_type, uint32_t obj_bits)
{
	if (rec->magic != OTLS_REC_MAGIC)
		return TEE_ERROR_CORRUPT_OBJECT;
	if (otls_key_supported(rec->key_type, rec->bits) != TEE_SUCCESS)
		return TEE_ERROR_CORRUPT_OBJECT;
	if (rec->version == OTLS_REC_VERSION_TK) {
		if (obj_type != TEE_TYPE_DATA ||
		    (rec->key_type != OTLS_KEY_EC &&
		     rec->key_type != OTLS_KEY_RSA))
			return TEE_ERROR_CORRUPT_OBJECT;
	} else if (rec->version != OTLS_REC_VERSION ||
		   obj_type != otls_tee_type(rec->key_type) ||
		   obj_bits != rec->bits) {
		return TEE_ERROR_CORRUPT_OBJECT;
	}
	if (!otls_policy_valid(rec->key_type, &rec->policy))
		return TEE_ERROR_CORRUPT_OBJECT;
	return TEE_SUCCESS;
}

/* What a TA-held key may do, from its policy (it has no GP usage). */
static uint32_t tk_usage(const struct otls_record *rec)
{
	uint32_t usage = TEE_USAGE_SIGN | TEE_USAGE_VERIFY;

	if (rec->policy.allowed &
	    (OTLS_ALLOW_DECRYPT_PKCS1 | OTLS_ALLOW_DECRYPT_OAEP))
		usage |= TEE_USAGE_DECRYPT | TEE_USAGE_ENCRYPT;
	return usage;
}

/* The serialised key after the record, into TA memory (tk != NULL). */
static TEE_Result read_tk(TEE_ObjectHandle obj, const struct otls_record *rec,
			  size_t len, struct otls_tk **tk)
{
	uint8_t *blob = NULL;
	otls_len_t count = 0;
	TEE_Result res = TEE_SUCCESS;

	if (!len || len > OTLS_TK_BLOB_MAX)
		return TEE_ERROR_CORRUPT_OBJECT;
	blob = TEE_Malloc(len, TEE_MALLOC_FILL_ZERO);
	if (!blob)
		return TEE_ERROR_OUT_OF_MEMORY;
	res = TEE_ReadObjectData(obj, blob, len, &count);
	if (!res && count != len)
		res = TEE_ERROR_CORRUPT_OBJECT;
	if (!res)
		res = otls_tk_load(rec, blob, len, tk);
	memset(blob, 0, len);
	TEE_Free(blob);
	return res;
}

/* Read and check the record of a freshly opened key object; with tk,
 * also load a TA-held key (*tk stays NULL for core objects). */
static TEE_Result read_key(TEE_ObjectHandle obj, struct otls_record *rec,
			   uint32_t *usage, struct otls_tk **tk)
{
	TEE_ObjectInfo info = { 0 };
	otls_len_t count = 0;
	TEE_Result res = TEE_SUCCESS;

	res = TEE_GetObjectInfo1(obj, &info);
	if (res)
		return res;
	/* We never store an extractable key object; refuse to use one.
	 * (A data object has no key attributes: its usage bits mean
	 * nothing.) */
	if (info.objectType != TEE_TYPE_DATA &&
	    (info.objectUsage & TEE_USAGE_EXTRACTABLE))
		return TEE_ERROR_CORRUPT_OBJECT;
	if (info.dataSize < sizeof(*rec))
		return TEE_ERROR_CORRUPT_OBJECT;
	res = TEE_ReadObjectData(obj, rec, sizeof(*rec), &count);
	if (res)
		return res;
	if (count != sizeof(*rec))
		return TEE_ERROR_CORRUPT_OBJECT;
	res = otls_record_check(rec, info.objectType, info.objectSize);
	if (res)
		return res;
	if (rec->version == OTLS_REC_VERSION_TK) {
		*usage = tk_usage(rec);
		if (tk)
			return read_tk(obj, rec, info.dataSize - sizeof(*rec),
				       tk);
		return TEE_SUCCESS;
	}
	*usage = info.objectUsage;
	return TEE_SUCCESS;
}

/* Open the key object of label l with flags and read its record; on
 * failure nothing stays open. */
static TEE_Result open_key(const struct otls_label *l, uint32_t flags,
			   TEE_ObjectHandle *obj, struct otls_record *rec,
			   uint32_t *usage, struct otls_tk **tk)
{
	char id[OTLS_OBJ_ID_MAX];
	TEE_Result res = TEE_SUCCESS;

	res = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, obj_id(l, id),
				       flags, obj);
	if (res)
		return res;
	res = read_key(*obj, rec, usage, tk);
	if (res) {
		TEE_CloseObject(*obj);
		*obj = TEE_HANDLE_NULL;
	}
	return res;
}

/* ---- Cache ------------------------------------------------------------ */

static struct otls_slot *cache_find(struct otls_session *s,
				    const struct otls_label *l)
{
	size_t n = 0;

	for (n = 0; n < OTLS_CACHE_SLOTS; n++)
		if (s->slots[n].used && label_eq(&s->slots[n].label, l))
			return &s->slots[n];
	return NULL;
}

static void slot_close(struct otls_slot *slot)
{
	if (slot->used && slot->obj != TEE_HANDLE_NULL)
		TEE_CloseObject(slot->obj);
	if (slot->used)
		otls_tk_free(slot->tk);
	memset(slot, 0, sizeof(*slot));
}

/* A free slot, closing the least recently used key if all are taken. */
static struct otls_slot *cache_take(struct otls_session *s)
{
	struct otls_slot *lru = &s->slots[0];
	size_t n = 0;

	for (n = 0; n < OTLS_CACHE_SLOTS; n++) {
		if (!s->slots[n].used)
			return &s->slots[n];
		if (s->slots[n].last_use < lru->last_use)
			lru = &s->slots[n];
	}
	slot_close(lru);
	return lru;
}

static struct otls_slot *cache_put(struct otls_session *s,
				   const struct otls_label *l,
				   TEE_ObjectHandle obj,
				   const struct otls_record *rec,
				   uint32_t usage, struct otls_tk *tk)
{
	struct otls_slot *slot = cache_take(s);

	slot->used = true;
	slot->owner = OTLS_OWNER_UNCHECKED;
	slot->last_use = ++s->clock;
	slot->label = *l;
	slot->rec = *rec;
	slot->usage = usage;
	slot->obj = obj;
	slot->tk = tk;
	return slot;
}

uint32_t otls_cache_count(const struct otls_session *s)
{
	uint32_t count = 0;
	size_t n = 0;

	for (n = 0; n < OTLS_CACHE_SLOTS; n++)
		if (s->slots[n].used)
			count++;
	return count;
}

void otls_cache_clear(struct otls_session *s)
{
	size_t n = 0;

	for (n = 0; n < OTLS_CACHE_SLOTS; n++)
		slot_close(&s->slots[n]);
}

/* ---- Keys --------------------------------------------------------------- */

TEE_Result otls_key_load(struct otls_session *s, const struct otls_label *l,
			 struct otls_slot **out)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	struct otls_record rec = { 0 };
	struct otls_slot *slot = NULL;
	struct otls_tk *tk = NULL;
	uint32_t usage = 0;
	TEE_Result res = TEE_SUCCESS;

	slot = cache_find(s, l);
	if (slot) {
		slot->last_use = ++s->clock;
		*out = slot;
		return TEE_SUCCESS;
	}

	res = open_key(l, OTLS_OPEN_READ, &obj, &rec, &usage, &tk);
	if (res)
		return res;
	*out = cache_put(s, l, obj, &rec, usage, tk);
	return TEE_SUCCESS;
}

TEE_Result otls_key_absent(struct otls_session *s, const struct otls_label *l)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	char id[OTLS_OBJ_ID_MAX];
	TEE_Result res = TEE_SUCCESS;

	if (cache_find(s, l))
		return TEE_ERROR_ACCESS_CONFLICT;

	res = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, obj_id(l, id),
				       OTLS_OPEN_READ, &obj);
	switch (res) {
	case TEE_SUCCESS:
		TEE_CloseObject(obj);
		return TEE_ERROR_ACCESS_CONFLICT;
	case TEE_ERROR_ITEM_NOT_FOUND:
		return TEE_SUCCESS;
	default:
		/* ACCESS_CONFLICT (it exists, being deleted), CORRUPT... */
		return res;
	}
}

TEE_Result otls_key_store(struct otls_session *s, const struct otls_label *l,
			  TEE_ObjectHandle key, const struct otls_record *rec,
			  struct otls_tk *tk, const uint8_t *blob,
			  size_t blob_len)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	TEE_ObjectInfo info = { 0 };
	char id[OTLS_OBJ_ID_MAX];
	uint8_t *data = NULL;
	size_t len = sizeof(*rec) + (tk ? blob_len : 0);
	TEE_Result res = TEE_SUCCESS;

	data = TEE_Malloc(len, TEE_MALLOC_FILL_ZERO);
	if (!data)
		return TEE_ERROR_OUT_OF_MEMORY;
	memcpy(data, rec, sizeof(*rec));
	if (tk)
		memcpy(data + sizeof(*rec), blob, blob_len);
	/* No TEE_DATA_FLAG_OVERWRITE: an existing key makes this fail with
	 * TEE_ERROR_ACCESS_CONFLICT and stays untouched. Attributes (or the
	 * serialised TA-held key) and record are written in this one call,
	 * so a key is never seen half-made. */
	res = TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, obj_id(l, id),
					 OTLS_OPEN_READ,
					 tk ? TEE_HANDLE_NULL : key, data, len,
					 &obj);
	memset(data, 0, len);
	TEE_Free(data);
	if (res)
		return res;
	res = TEE_GetObjectInfo1(obj, &info);
	if (res) {
		TEE_CloseObject(obj);
		return res;
	}
	cache_put(s, l, obj, rec, tk ? tk_usage(rec) : info.objectUsage, tk);
	return TEE_SUCCESS;
}

TEE_Result otls_key_delete(struct otls_session *s, const struct otls_label *l)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	struct otls_record rec = { 0 };
	struct otls_slot *slot = NULL;
	uint32_t usage = 0;
	TEE_Result res = TEE_SUCCESS;

	/*
	 * Owner check first, through a shared read-only open (or the cache):
	 * a client that may not delete the key must neither take the
	 * exclusive WRITE_META open below (it would make the owner's own
	 * opens fail with ACCESS_CONFLICT meanwhile) nor learn from an
	 * ACCESS_CONFLICT whether someone is using the key.
	 */
	slot = cache_find(s, l);
	if (slot) {
		res = otls_slot_owner_check(s, slot);
		if (res)
			return res;
		/* Our own read handle would make the WRITE_META open fail. */
		slot_close(slot);
	} else {
		/* The record is enough: a TA-held key need not be loaded
		 * (nor be loadable by this build) to be deleted. */
		res = open_key(l, OTLS_OPEN_READ, &obj, &rec, &usage, NULL);
		if (res)
			return res;
		TEE_CloseObject(obj);
		obj = TEE_HANDLE_NULL;
		res = otls_owner_check(s, &rec.policy);
		if (res)
			return res;
	}

	res = open_key(l, TEE_DATA_FLAG_ACCESS_READ |
		       TEE_DATA_FLAG_ACCESS_WRITE_META, &obj, &rec, &usage,
		       NULL);
	if (res)
		return res;	/* ACCESS_CONFLICT: open in another session */
	res = otls_owner_check(s, &rec.policy);
	if (res) {
		TEE_CloseObject(obj);
		return res;
	}
	return TEE_CloseAndDeletePersistentObject1(obj);
}

/* ---- Listing -------------------------------------------------------------- */

/* Insert into a sorted array of at most OTLS_MAX_KEYS labels, keeping the
 * smallest ones. */
static void insert_sorted(struct otls_label *arr, uint32_t *count,
			  const struct otls_label *l)
{
	uint32_t kept = *count;
	uint32_t pos = 0;

	if (kept == OTLS_MAX_KEYS) {
		if (label_cmp(l, &arr[kept - 1]) >= 0)
			return;
		kept--;		/* the last one falls off */
	}
	pos = kept;
	while (pos > 0 && label_cmp(l, &arr[pos - 1]) < 0)
		pos--;
	memmove(&arr[pos + 1], &arr[pos], (kept - pos) * sizeof(*arr));
	arr[pos] = *l;
	*count = kept + 1;
}

static TEE_Result list_entry(struct otls_session *s,
			     const struct otls_label *l,
			     struct otls_list_entry *e)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	struct otls_record rec = { 0 };
	struct otls_slot *slot = NULL;
	uint32_t usage = 0;
	TEE_Result res = TEE_SUCCESS;

	slot = cache_find(s, l);
	if (slot) {
		rec = slot->rec;
	} else {
		res = open_key(l, OTLS_OPEN_READ, &obj, &rec, &usage, NULL);
		if (res)
			return res;
		TEE_CloseObject(obj);
	}

	memset(e, 0, sizeof(*e));
	memcpy(e->label, l->str, l->len);
	e->key_type = rec.key_type;
	e->bits = rec.bits;
	e->policy = rec.policy;
	return TEE_SUCCESS;
}

TEE_Result otls_key_list(struct otls_session *s, TEE_Param *out,
			 uint32_t *written, uint32_t *total)
{
	TEE_ObjectEnumHandle en = TEE_HANDLE_NULL;
	struct otls_label *labels = NULL;
	struct otls_list_entry entry;
	struct otls_label l = { 0 };
	TEE_ObjectInfo info = { 0 };
	char id[TEE_OBJECT_ID_MAX_LEN];
	otls_len_t id_len = 0;
	uint32_t count = 0;
	uint32_t found = 0;
	uint32_t done = 0;
	uint32_t n = 0;
	uint8_t *dst = NULL;
	TEE_Result res = TEE_SUCCESS;

	*written = 0;
	*total = 0;

	labels = TEE_Malloc(OTLS_MAX_KEYS * sizeof(*labels),
			    TEE_MALLOC_FILL_ZERO);
	if (!labels)
		return TEE_ERROR_OUT_OF_MEMORY;

	res = TEE_AllocatePersistentObjectEnumerator(&en);
	if (res)
		goto out;
	res = TEE_StartPersistentObjectEnumerator(en, TEE_STORAGE_PRIVATE);
	if (res == TEE_ERROR_ITEM_NOT_FOUND)
		res = TEE_SUCCESS;	/* nothing stored at all */
	else if (res)
		goto out;
	else
		for (n = 0; n < OTLS_ENUM_GUARD; n++) {
			id_len = sizeof(id);
			res = TEE_GetNextPersistentObject(en, &info, id,
							  &id_len);
			if (res == TEE_ERROR_ITEM_NOT_FOUND) {
				res = TEE_SUCCESS;
				break;
			}
			if (res == TEE_ERROR_CORRUPT_OBJECT)
				continue;
			if (res)
				goto out;
			if (id_len <= OTLS_OBJ_PREFIX_LEN ||
			    id_len > sizeof(id) ||
			    memcmp(id, OTLS_OBJ_PREFIX, OTLS_OBJ_PREFIX_LEN))
				continue;
			if (otls_label_parse(id + OTLS_OBJ_PREFIX_LEN,
					     id_len - OTLS_OBJ_PREFIX_LEN, &l))
				continue;
			if (info.objectType != TEE_TYPE_RSA_KEYPAIR &&
			    info.objectType != TEE_TYPE_ECDSA_KEYPAIR &&
			    info.objectType != TEE_TYPE_ED25519_KEYPAIR &&
			    info.objectType != TEE_TYPE_DATA)
				continue;
			found++;
			insert_sorted(labels, &count, &l);
		}
	*total = found;

	if (!otls_out_room(out, count * sizeof(entry))) {
		res = TEE_ERROR_SHORT_BUFFER;
		goto out;
	}
	dst = out->memref.buffer;
	for (n = 0; n < count; n++) {
		/* Unreadable (corrupt, being deleted) keys are left out. */
		if (list_entry(s, &labels[n], &entry) != TEE_SUCCESS)
			continue;
		memcpy(dst + done * sizeof(entry), &entry, sizeof(entry));
		done++;
	}
	out->memref.size = done * sizeof(entry);
	*written = done;
	res = TEE_SUCCESS;
out:
	if (en != TEE_HANDLE_NULL)
		TEE_FreePersistentObjectEnumerator(en);
	TEE_Free(labels);
	return res;
}
