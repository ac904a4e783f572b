// SPDX-License-Identifier: BSD-2-Clause
/*
 * Simulated secure storage (TEE_STORAGE_PRIVATE) for the host TEE.
 *
 * Layout
 *   <store_dir>/<TA UUID, canonical text>/<name>
 *   name = hex(HMAC-SHA256(K_name, object id)): 64 lowercase hex digits, so
 *   object ids (key labels) never appear in file names.
 *
 * Keys (the way OP-TEE derives per-TA storage keys from the HUK)
 *   SSK    = HMAC-SHA256(HUK, "optee-sim chip id: secure storage key")
 *   TSK    = HMAC-SHA256(SSK, TA UUID as 16 big-endian bytes)
 *   K_enc  = HMAC-SHA256(TSK, "file encryption")
 *   K_name = HMAC-SHA256(TSK, "file name")
 *   Separate subkeys keep the name MAC and the cipher key independent.
 *
 * File format (integers little-endian)
 *   header   "OTSIMSO1" | u32 version (1) | 12-byte random IV     (24 bytes)
 *   body     AES-256-GCM(K_enc, IV, AAD = header) of
 *              u32 id_len | id | u32 type | u32 size | u32 max_size |
 *              u32 usage | u32 flags | u32 key_len | key | u32 data_len | data
 *            key: DER (i2d_PrivateKey / i2d_PUBKEY) or raw Ed25519 private
 *   tag      16 bytes
 *   Any failure to authenticate or parse - short file, bad magic, wrong HUK
 *   or TA, inner lengths that don't add up, an id that is not the one asked
 *   for - is TEE_ERROR_CORRUPT_OBJECT. Opening a corrupt object renames it to
 *   <name>.corrupt (out of sight, kept for forensics), as OP-TEE deletes it.
 *   No rollback protection (like OP-TEE's REE FS without RPMB).
 *
 * Atomicity
 *   Files are write-once: every change writes a complete new file under a
 *   temporary name (.tmp-<pid>-<random>), fsync()s it, then link()s it to
 *   the final name (creation: fails with EEXIST, so "create unless it
 *   exists" is atomic across processes) or rename()s it over (overwrite,
 *   update), and fsync()s the directory. A crash leaves no object or a whole
 *   one; temporary files of dead processes are removed later.
 *
 * Cross-process open rules (each TA instance is a process)
 *   A handle keeps its object file open with flock(): LOCK_SH for read-only
 *   shared access, LOCK_EX otherwise (see tee_api_storage.c). The lock is
 *   taken on the new file before it gets its final name, so an object never
 *   appears unlocked. Openers verify, after locking, that the name still
 *   refers to the inode they locked (it may have been replaced or removed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "storage.h"
#include "tee_api_private.h"

#define MAGIC		"OTSIMSO1"
#define MAGIC_LEN	8
#define VERSION		1u
#define IV_LEN		12
#define TAG_LEN		16
#define HDR_LEN		(MAGIC_LEN + 4 + IV_LEN)
#define NAME_LEN	64			/* hex of SHA-256 */
#define MAX_FILE	(64u * 1024 * 1024)	/* sanity bound on reads */
#define TMP_PREFIX	".tmp-"
#define CORRUPT_SUFFIX	".corrupt"

void sim_record_clear(struct sim_record *r)
{
	sim_free_secret(r->key, r->key_len);
	sim_free_secret(r->data, r->data_len);
	memset(r, 0, sizeof(*r));
}

/* ---- Keys and names ------------------------------------------------------ */

struct keys {
	uint8_t enc[32];
	uint8_t name[32];
};

static void hmac(const uint8_t key[32], const void *msg, size_t len,
		 uint8_t out[32])
{
	unsigned int olen = 32;

	if (!HMAC(EVP_sha256(), key, 32, msg, len, out, &olen))
		TEE_Panic(TEE_ERROR_GENERIC);
}

static void derive_keys(struct keys *k)
{
	static const char ssk_label[] = "optee-sim chip id: secure storage key";
	const TEE_UUID *u = &sim_api.ta_uuid;
	uint8_t ssk[32], tsk[32], uuid[16];

	uuid[0] = (uint8_t)(u->timeLow >> 24);
	uuid[1] = (uint8_t)(u->timeLow >> 16);
	uuid[2] = (uint8_t)(u->timeLow >> 8);
	uuid[3] = (uint8_t)u->timeLow;
	uuid[4] = (uint8_t)(u->timeMid >> 8);
	uuid[5] = (uint8_t)u->timeMid;
	uuid[6] = (uint8_t)(u->timeHiAndVersion >> 8);
	uuid[7] = (uint8_t)u->timeHiAndVersion;
	memcpy(uuid + 8, u->clockSeqAndNode, 8);

	hmac(sim_api.huk, ssk_label, sizeof(ssk_label) - 1, ssk);
	hmac(ssk, uuid, sizeof(uuid), tsk);
	hmac(tsk, "file encryption", 15, k->enc);
	hmac(tsk, "file name", 9, k->name);
	OPENSSL_cleanse(ssk, sizeof(ssk));
	OPENSSL_cleanse(tsk, sizeof(tsk));
}

static void wipe_keys(struct keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static void object_name(const struct keys *k, const void *id, size_t id_len,
			char out[NAME_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mac[32];
	size_t n;

	hmac(k->name, id, id_len, mac);
	for (n = 0; n < 32; n++) {
		out[2 * n] = hex[mac[n] >> 4];
		out[2 * n + 1] = hex[mac[n] & 15];
	}
	out[NAME_LEN] = '\0';
}

static bool is_object_name(const char *s)
{
	size_t n;

	for (n = 0; n < NAME_LEN; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return s[NAME_LEN] == '\0';
}

/* <store_dir>/<uuid>[/<file>] */
static char *ta_path(const char *file)
{
	const TEE_UUID *u = &sim_api.ta_uuid;
	char *p = NULL;
	int n;

	if (!sim_api.initialized)
		return NULL;
	n = asprintf(&p, "%s/%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x%s%s",
		     sim_api.store_dir, u->timeLow, u->timeMid,
		     u->timeHiAndVersion, u->clockSeqAndNode[0],
		     u->clockSeqAndNode[1], u->clockSeqAndNode[2],
		     u->clockSeqAndNode[3], u->clockSeqAndNode[4],
		     u->clockSeqAndNode[5], u->clockSeqAndNode[6],
		     u->clockSeqAndNode[7], file ? "/" : "", file ? file : "");
	return n < 0 ? NULL : p;
}

static TEE_Result errno_result(int err)
{
	switch (err) {
	case ENOENT:
		return TEE_ERROR_ITEM_NOT_FOUND;
	case ENOSPC:
	case EDQUOT:
		return TEE_ERROR_STORAGE_NO_SPACE;
	case ENOMEM:
		return TEE_ERROR_OUT_OF_MEMORY;
	default:
		return TEE_ERROR_STORAGE_NOT_AVAILABLE;
	}
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static TEE_Result ensure_ta_dir(const char *dir)
{
	if (mkdir(sim_api.store_dir, 0700) && errno != EEXIST)
		return errno_result(errno);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return errno_result(errno);
	return TEE_SUCCESS;
}

/* Remove temporary files whose writer process is gone. */
static void clean_stale_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end = NULL;
		long pid;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(TMP_PREFIX), &end, 10);
		if (pid <= 0 || !end || *end != '-')
			continue;
		if (kill((pid_t)pid, 0) && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* ---- Serialisation and encryption --------------------------------------- */

static void put_u32(uint8_t **p, uint32_t v)
{
	(*p)[0] = (uint8_t)v;
	(*p)[1] = (uint8_t)(v >> 8);
	(*p)[2] = (uint8_t)(v >> 16);
	(*p)[3] = (uint8_t)(v >> 24);
	*p += 4;
}

static void put_bytes(uint8_t **p, const void *b, size_t len)
{
	if (len)
		memcpy(*p, b, len);
	*p += len;
}

/* Reader over a plaintext: every take fails once the input runs short. */
struct reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint32_t take_u32(struct reader *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
	    (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return v;
}

static const uint8_t *take_bytes(struct reader *r, size_t len)
{
	const uint8_t *b = r->p;

	if (r->bad || r->left < len) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	r->left -= len;
	return b;
}

/* The next len bytes into a new heap buffer *dst (left alone for none, or
 * when the input runs short: the reader says so). False: out of memory. */
static bool take_copy(struct reader *r, size_t len, uint8_t **dst)
{
	const uint8_t *b = take_bytes(r, len);

	if (b && len) {
		*dst = malloc(len);
		if (!*dst)
			return false;
		memcpy(*dst, b, len);
	}
	return true;
}

/* Whole file image of a record; *out is freed by the caller. */
static TEE_Result seal(const struct keys *k, const struct sim_record *r,
		       uint8_t **out, size_t *out_len)
{
	size_t plen = 4 + r->id_len + 5 * 4 + 4 + r->key_len + 4 + r->data_len;
	size_t flen = HDR_LEN + plen + TAG_LEN;
	uint8_t *plain = NULL, *file = NULL, *p;
	EVP_CIPHER_CTX *ctx = NULL;
	TEE_Result res = TEE_ERROR_GENERIC;
	int n = 0;

	if (r->key_len > UINT32_MAX || r->data_len > UINT32_MAX ||
	    flen > MAX_FILE || plen > INT_MAX)
		return TEE_ERROR_STORAGE_NO_SPACE;
	plain = malloc(plen);
	file = malloc(flen);
	if (!plain || !file) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	p = plain;
	put_u32(&p, (uint32_t)r->id_len);
	put_bytes(&p, r->id, r->id_len);
	put_u32(&p, r->type);
	put_u32(&p, r->size);
	put_u32(&p, r->max_size);
	put_u32(&p, r->usage);
	put_u32(&p, r->flags);
	put_u32(&p, (uint32_t)r->key_len);
	put_bytes(&p, r->key, r->key_len);
	put_u32(&p, (uint32_t)r->data_len);
	put_bytes(&p, r->data, r->data_len);

	p = file;
	put_bytes(&p, MAGIC, MAGIC_LEN);
	put_u32(&p, VERSION);
	if (RAND_bytes(p, IV_LEN) != 1)
		goto out;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->enc,
			       file + MAGIC_LEN + 4) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, file, HDR_LEN) != 1 ||
	    EVP_EncryptUpdate(ctx, file + HDR_LEN, &n, plain, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, file + HDR_LEN + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
				file + HDR_LEN + plen) != 1)
		goto out;
	*out = file;
	*out_len = flen;
	file = NULL;
	res = TEE_SUCCESS;
out:
	EVP_CIPHER_CTX_free(ctx);
	sim_free_secret(plain, plen);
	free(file);
	return res;
}

/* Decrypt and parse a file image. Any inconsistency: CORRUPT_OBJECT. */
static TEE_Result unseal(const struct keys *k, const uint8_t *file,
			 size_t flen, struct sim_record *r)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *plain = NULL;
	size_t plen;
	struct reader rd;
	const uint8_t *b;
	int n = 0;
	TEE_Result res = TEE_ERROR_CORRUPT_OBJECT;

	memset(r, 0, sizeof(*r));
	if (flen < HDR_LEN + TAG_LEN || flen > MAX_FILE ||
	    memcmp(file, MAGIC, MAGIC_LEN))
		return TEE_ERROR_CORRUPT_OBJECT;
	rd = (struct reader){ .p = file + MAGIC_LEN, .left = 4 };
	if (take_u32(&rd) != VERSION)
		return TEE_ERROR_CORRUPT_OBJECT;
	plen = flen - HDR_LEN - TAG_LEN;
	plain = malloc(plen ? plen : 1);
	if (!plain)
		return TEE_ERROR_OUT_OF_MEMORY;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->enc,
			       file + MAGIC_LEN + 4) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, file, HDR_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, plain, &n, file + HDR_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				(void *)(file + HDR_LEN + plen)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, plain + n, &n) != 1)
		goto out;	/* not authentic: wrong key, tampered, truncated */

	rd = (struct reader){ .p = plain, .left = plen };
	r->id_len = take_u32(&rd);
	if (r->id_len > TEE_OBJECT_ID_MAX_LEN)
		goto out;
	b = take_bytes(&rd, r->id_len);
	if (b)
		memcpy(r->id, b, r->id_len);
	r->type = take_u32(&rd);
	r->size = take_u32(&rd);
	r->max_size = take_u32(&rd);
	r->usage = take_u32(&rd);
	r->flags = take_u32(&rd);
	r->key_len = take_u32(&rd);
	if (!take_copy(&rd, r->key_len, &r->key)) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	r->data_len = take_u32(&rd);
	if (!take_copy(&rd, r->data_len, &r->data)) {
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	if (rd.bad || rd.left)
		goto out;
	res = TEE_SUCCESS;
out:
	if (res != TEE_SUCCESS)
		sim_record_clear(r);
	EVP_CIPHER_CTX_free(ctx);
	sim_free_secret(plain, plen ? plen : 1);
	return res;
}

/* ---- File I/O ------------------------------------------------------------ */

static TEE_Result read_fd(int fd, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b;
	size_t got = 0;

	if (fstat(fd, &st))
		return errno_result(errno);
	if (st.st_size < 0 || (uint64_t)st.st_size > MAX_FILE)
		return TEE_ERROR_CORRUPT_OBJECT;
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b)
		return TEE_ERROR_OUT_OF_MEMORY;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, b + got, (size_t)st.st_size - got,
				  (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* shorter than stat said: still authenticated */
		got += (size_t)n;
	}
	*buf = b;
	*len = got;
	return TEE_SUCCESS;
}

static TEE_Result write_all(int fd, const uint8_t *b, size_t len)
{
	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno_result(errno);
		b += n;
		len -= (size_t)n;
	}
	return TEE_SUCCESS;
}

/*
 * Write a sealed record to a new temporary file in dir, durable and locked.
 * Returns its fd and name (to link or rename into place).
 */
static TEE_Result write_tmp(const struct keys *k, const char *dir,
			    const struct sim_record *r, int lock,
			    int *fd_out, char **tmp_out)
{
	uint8_t rnd[8];
	uint8_t *img = NULL;
	size_t img_len = 0;
	char *tmp = NULL;
	int fd = -1;
	TEE_Result res;

	res = seal(k, r, &img, &img_len);
	if (res != TEE_SUCCESS)
		return res;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    asprintf(&tmp, "%s/" TMP_PREFIX "%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
		     dir, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3],
		     rnd[4], rnd[5], rnd[6], rnd[7]) < 0) {
		tmp = NULL;
		res = TEE_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		res = errno_result(errno);
		goto out;
	}
	res = write_all(fd, img, img_len);
	if (res == TEE_SUCCESS && fsync(fd))
		res = errno_result(errno);
	/* Nobody else can know this file yet: the lock cannot fail. */
	if (res == TEE_SUCCESS && flock(fd, lock | LOCK_NB))
		res = TEE_ERROR_GENERIC;
out:
	free(img);
	if (res != TEE_SUCCESS) {
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return res;
	}
	*fd_out = fd;
	*tmp_out = tmp;
	return TEE_SUCCESS;
}

/*
 * Open and lock the file at path, making sure the name still refers to the
 * locked inode (it can be replaced or unlinked between open and flock).
 */
static TEE_Result open_locked(const char *path, int lock, int *fd_out)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		struct stat a, b;
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return errno_result(errno);
		if (flock(fd, lock | LOCK_NB)) {
			int err = errno;

			close(fd);
			return err == EWOULDBLOCK ? TEE_ERROR_ACCESS_CONFLICT :
						    errno_result(err);
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			*fd_out = fd;
			return TEE_SUCCESS;
		}
		close(fd);	/* replaced or removed meanwhile: look again */
	}
	return TEE_ERROR_ACCESS_CONFLICT;
}

/* Give the file tmp the name path, which must not exist yet. */
static TEE_Result link_new(const char *tmp, const char *path)
{
	if (link(tmp, path))
		return errno == EEXIST ? TEE_ERROR_ACCESS_CONFLICT :
					 errno_result(errno);
	return TEE_SUCCESS;
}

static void move_aside(const char *path)
{
	char *dst = NULL;

	if (asprintf(&dst, "%s" CORRUPT_SUFFIX, path) < 0)
		return;
	if (rename(path, dst) == 0)
		EMSG("corrupt object moved to %s", dst);
	free(dst);
}

/* ---- Public functions ---------------------------------------------------- */

/* The TA's directory and the path of object id's file (both to free). */
static TEE_Result object_paths(const struct keys *k, const void *id,
			       size_t id_len, char **dir, char **path)
{
	char name[NAME_LEN + 1];

	object_name(k, id, id_len, name);
	*dir = ta_path(NULL);
	*path = ta_path(name);
	return *dir && *path ? TEE_SUCCESS : TEE_ERROR_STORAGE_NOT_AVAILABLE;
}

TEE_Result sim_store_open(const void *id, size_t id_len, int lock,
			  struct sim_record *r, int *fd_out)
{
	struct keys k;
	char name[NAME_LEN + 1];
	char *path;
	uint8_t *img = NULL;
	size_t img_len = 0;
	int fd = -1;
	TEE_Result res;

	derive_keys(&k);
	object_name(&k, id, id_len, name);
	path = ta_path(name);
	if (!path) {
		wipe_keys(&k);
		return TEE_ERROR_STORAGE_NOT_AVAILABLE;
	}
	res = open_locked(path, lock, &fd);
	if (res != TEE_SUCCESS)
		goto out;
	res = read_fd(fd, &img, &img_len);
	if (res == TEE_SUCCESS)
		res = unseal(&k, img, img_len, r);
	/* A valid file under another id's name was moved: also corrupt. */
	if (res == TEE_SUCCESS &&
	    (r->id_len != id_len || memcmp(r->id, id, id_len))) {
		sim_record_clear(r);
		res = TEE_ERROR_CORRUPT_OBJECT;
	}
	if (res == TEE_ERROR_CORRUPT_OBJECT)
		move_aside(path);
	if (res != TEE_SUCCESS) {
		close(fd);
		goto out;
	}
	*fd_out = fd;
out:
	free(img);
	free(path);
	wipe_keys(&k);
	return res;
}

TEE_Result sim_store_create(const struct sim_record *r, bool overwrite,
			    int lock, int *fd_out)
{
	struct keys k;
	char *dir = NULL, *path = NULL, *tmp = NULL;
	int old_fd = -1, fd = -1;
	TEE_Result res;

	derive_keys(&k);
	res = object_paths(&k, r->id, r->id_len, &dir, &path);
	if (res != TEE_SUCCESS)
		goto out;
	res = ensure_ta_dir(dir);
	if (res != TEE_SUCCESS)
		goto out;
	clean_stale_tmp(dir);

	/* Overwriting needs the old object unused by anyone. */
	if (overwrite) {
		res = open_locked(path, LOCK_EX, &old_fd);
		if (res == TEE_ERROR_ITEM_NOT_FOUND)
			res = TEE_SUCCESS;
		if (res != TEE_SUCCESS)
			goto out;
	}
	res = write_tmp(&k, dir, r, lock, &fd, &tmp);
	if (res != TEE_SUCCESS)
		goto out;
	if (overwrite) {
		if (rename(tmp, path))
			res = errno_result(errno);
	} else {
		res = link_new(tmp, path);
	}
	if (!overwrite || res != TEE_SUCCESS)
		unlink(tmp);
	if (res != TEE_SUCCESS) {
		close(fd);
		goto out;
	}
	fsync_dir(dir);
	*fd_out = fd;
out:
	if (old_fd >= 0)
		close(old_fd);
	free(tmp);
	free(path);
	free(dir);
	wipe_keys(&k);
	return res;
}

TEE_Result sim_store_replace(const struct sim_record *r, int lock, int *fd)
{
	struct keys k;
	char *dir = NULL, *path = NULL, *tmp = NULL;
	int new_fd = -1;
	TEE_Result res;

	derive_keys(&k);
	res = object_paths(&k, r->id, r->id_len, &dir, &path);
	if (res != TEE_SUCCESS)
		goto out;
	res = write_tmp(&k, dir, r, lock, &new_fd, &tmp);
	if (res != TEE_SUCCESS)
		goto out;
	if (rename(tmp, path)) {
		res = errno_result(errno);
		unlink(tmp);
		close(new_fd);
		goto out;
	}
	fsync_dir(dir);
	close(*fd);
	*fd = new_fd;
out:
	free(tmp);
	free(path);
	free(dir);
	wipe_keys(&k);
	return res;
}

TEE_Result sim_store_rename(const struct sim_record *r, const void *old_id,
			    size_t old_id_len, int lock, int *fd)
{
	struct keys k;
	char old_name[NAME_LEN + 1];
	char *dir = NULL, *path = NULL, *old_path = NULL, *tmp = NULL;
	int new_fd = -1;
	TEE_Result res;

	derive_keys(&k);
	object_name(&k, old_id, old_id_len, old_name);
	old_path = ta_path(old_name);
	res = object_paths(&k, r->id, r->id_len, &dir, &path);
	if (res == TEE_SUCCESS && !old_path)
		res = TEE_ERROR_STORAGE_NOT_AVAILABLE;
	if (res != TEE_SUCCESS)
		goto out;
	res = write_tmp(&k, dir, r, lock, &new_fd, &tmp);
	if (res != TEE_SUCCESS)
		goto out;
	/* Never overwrites: link() fails if the new id exists. */
	res = link_new(tmp, path);
	if (res != TEE_SUCCESS)
		close(new_fd);
	unlink(tmp);
	if (res != TEE_SUCCESS)
		goto out;
	unlink(old_path);
	fsync_dir(dir);
	close(*fd);
	*fd = new_fd;
out:
	free(tmp);
	free(old_path);
	free(path);
	free(dir);
	wipe_keys(&k);
	return res;
}

TEE_Result sim_store_delete(const void *id, size_t id_len, int fd)
{
	struct keys k;
	char *dir, *path;
	TEE_Result res;

	derive_keys(&k);
	res = object_paths(&k, id, id_len, &dir, &path);
	wipe_keys(&k);
	if (res == TEE_SUCCESS) {
		if (unlink(path) && errno != ENOENT)
			res = errno_result(errno);
		else
			fsync_dir(dir);
	}
	close(fd);
	free(path);
	free(dir);
	return res;
}

struct sim_store_enum {
	DIR *dir;		/* NULL: the TA has no storage yet */
	struct keys k;
};

TEE_Result sim_store_enum_open(struct sim_store_enum **e_out)
{
	struct sim_store_enum *e = calloc(1, sizeof(*e));
	char *dir = ta_path(NULL);

	if (!e || !dir) {
		free(e);
		free(dir);
		return TEE_ERROR_OUT_OF_MEMORY;
	}
	clean_stale_tmp(dir);
	e->dir = opendir(dir);
	free(dir);
	derive_keys(&e->k);
	*e_out = e;
	return TEE_SUCCESS;
}

TEE_Result sim_store_enum_next(struct sim_store_enum *e, struct sim_record *r)
{
	struct dirent *de;

	if (!e->dir)
		return TEE_ERROR_ITEM_NOT_FOUND;
	while ((de = readdir(e->dir))) {
		uint8_t *img = NULL;
		size_t img_len = 0;
		char name[NAME_LEN + 1];
		TEE_Result res;
		int fd;

		if (!is_object_name(de->d_name))
			continue;
		fd = openat(dirfd(e->dir), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* deleted meanwhile */
		res = read_fd(fd, &img, &img_len);
		close(fd);
		if (res == TEE_SUCCESS)
			res = unseal(&e->k, img, img_len, r);
		free(img);
		if (res == TEE_ERROR_OUT_OF_MEMORY)
			return res;
		if (res != TEE_SUCCESS)
			continue;	/* corrupt: not listed */
		object_name(&e->k, r->id, r->id_len, name);
		if (strcmp(name, de->d_name)) {
			sim_record_clear(r);
			continue;	/* valid file under a foreign name */
		}
		return TEE_SUCCESS;
	}
	return TEE_ERROR_ITEM_NOT_FOUND;
}

void sim_store_enum_close(struct sim_store_enum *e)
{
	if (!e)
		return;
	if (e->dir)
		closedir(e->dir);
	wipe_keys(&e->k);
	free(e);
}
