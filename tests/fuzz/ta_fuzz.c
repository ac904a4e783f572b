// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz harness for the optee-tls TA: the TA sources and the simulator's
 * host Internal Core API (sim/src/tee_api_*.c, storage.c) linked into one
 * process, without the daemon. Every input is one session: open, up to
 * MAX_CMDS invocations with arbitrary parameter types, command ids, values
 * and buffers, close. See docs/development.md (Fuzzing).
 *
 * Input format (all integers little-endian):
 *   u8  session   bits 0-1: client login (0 public, 1 user uid=0,
 *                 2 user uid=1000, 3 group gid=5); bit 2: first try to
 *                 open the session with the u16 parameter types that follow
 *   [u16 types]   only with session bit 2
 *   then per command, until the input ends (at most MAX_CMDS):
 *   u8  cmd       command id
 *   u8  mode      bit 7 clear: the parameter types the protocol header gives
 *                 for cmd; bit 7 set: a raw u16 types word follows
 *   [u16 types]
 *   per parameter, by its type nibble:
 *     VALUE_*   u32 a, u32 b
 *     MEMREF_*  u8 flags (bit 0: NULL buffer; bit 1: size += 65536),
 *               u16 size, then for INPUT/INOUT `size` data bytes (missing
 *               bytes are zeros)
 *     others    nothing
 *
 * What counts as a crash (abort()):
 *   - a TA panic (TEE_Panic on normal-world input is a TA bug), ASan/UBSan;
 *   - an output memref whose size grew past its capacity without
 *     TEE_ERROR_SHORT_BUFFER, or bytes written past the size reported;
 *   - output buffers written on an error or SHORT_BUFFER answer;
 *   - input buffers written;
 *   - any 16-byte window of a stored private key in any output;
 *   - an open object (file descriptor) that is not one of the session's
 *     cached keys after a command: a handle leaked on some path.
 *
 * The key store is a fixed, committed one (tests/fuzz/store, made with
 * --make-store under the fixed HUK below) copied to a temporary directory
 * and put back as it was after every input, so every input runs against the
 * same keys (reproducible crashes) and RSA decryption seeds stay valid.
 * RSA key generation takes a pre-generated key of the right size (via
 * -Wl,--wrap=TEE_GenerateKey) to keep the fuzzer fast.
 *
 * Build: tests/fuzz/Makefile. libFuzzer: `make -C tests/fuzz fuzz`.
 * Without libFuzzer (-DTA_FUZZ_STANDALONE), main() takes:
 *   ta_fuzz_replay [-n N] [-s SEED] [PATH...]   replay files / directories,
 *                                               then N random inputs
 *   ta_fuzz_replay --make-store DIR             generate the key store
 *   ta_fuzz_replay --make-seeds DIR             write the seed corpus
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <tee_internal_api.h>
#include "sim_runtime.h"
#include "tee_api_private.h"
#include "ta_internal.h"

#ifndef TA_FUZZ_DIR
#define TA_FUZZ_DIR "tests/fuzz"
#endif

#define MAX_CMDS	16	/* > 8 keys: the session cache evicts */
#define CANARY		0xA5
#define SECRET_WIN	16

/* Entry points of the TA. */
TEE_Result TA_CreateEntryPoint(void);
void TA_DestroyEntryPoint(void);
TEE_Result TA_OpenSessionEntryPoint(uint32_t, TEE_Param[TEE_NUM_PARAMS],
				    void **);
void TA_CloseSessionEntryPoint(void *);
TEE_Result TA_InvokeCommandEntryPoint(void *, uint32_t, uint32_t,
				      TEE_Param[TEE_NUM_PARAMS]);

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ta_fuzz: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A TA panic is a finding. */
void sim_instance_panic(uint32_t code)
{
	die("TA panic 0x%08x", (unsigned int)code);
}

/* ---- Keys of the fixed store ------------------------------------------ */

static const uint8_t fuzz_huk[32] = {
	'o', 't', 'l', 's', '-', 'f', 'u', 'z', 'z', '-', 'h', 'u', 'k',
};

struct fixed_key {
	const char *label;
	uint32_t type, bits, allowed, owner_kind, owner_id;
};

static const struct fixed_key fixed_keys[] = {
	{ "p256", OTLS_KEY_EC, 256, 0, 0, 0 },
	{ "p384", OTLS_KEY_EC, 384, 0, 0, 0 },
	{ "p521", OTLS_KEY_EC, 521, 0, 0, 0 },
	{ "ed", OTLS_KEY_ED25519, 256, 0, 0, 0 },
	{ "rsa2048", OTLS_KEY_RSA, 2048, 0, 0, 0 },
	{ "rsa3072", OTLS_KEY_RSA, 3072, OTLS_ALLOW_RSA_PSS, 0, 0 },
	{ "rsa4096", OTLS_KEY_RSA, 4096, 0, 0, 0 },
	{ "rsadec", OTLS_KEY_RSA, 2048, OTLS_ALLOW_DECRYPT_PKCS1 |
	  OTLS_ALLOW_DECRYPT_OAEP | OTLS_ALLOW_RSA_PSS, 0, 0 },
	{ "own-u0", OTLS_KEY_EC, 256, 0, OTLS_OWNER_UID, 0 },
	{ "own-g5", OTLS_KEY_RSA, 2048, OTLS_ALLOW_DECRYPT_PKCS1,
	  OTLS_OWNER_GID, 5 },
};
#define NKEYS (sizeof(fixed_keys) / sizeof(fixed_keys[0]))

/* Private components of the stored keys, to look for in outputs. */
static struct { uint8_t *b; size_t len; } secrets[64];
static size_t nsecrets;
/* A pre-generated key per RSA size, for the wrapped TEE_GenerateKey. */
static EVP_PKEY *rsa_pool[3];
static bool use_rsa_pool;

TEE_Result __real_TEE_GenerateKey(TEE_ObjectHandle, uint32_t,
				  const TEE_Attribute *, uint32_t);
TEE_Result __wrap_TEE_GenerateKey(TEE_ObjectHandle object, uint32_t keySize,
				  const TEE_Attribute *params,
				  uint32_t paramCount);
TEE_Result __wrap_TEE_GenerateKey(TEE_ObjectHandle object, uint32_t keySize,
				  const TEE_Attribute *params,
				  uint32_t paramCount)
{
	TEE_ObjectHandle o = sim_obj_check(object);
	EVP_PKEY *k = NULL;

	if (use_rsa_pool && o->type == TEE_TYPE_RSA_KEYPAIR &&
	    !(o->flags & TEE_HANDLE_FLAG_INITIALIZED) &&
	    keySize <= o->max_size) {
		k = keySize == 2048 ? rsa_pool[0] : keySize == 3072 ?
		    rsa_pool[1] : keySize == 4096 ? rsa_pool[2] : NULL;
	}
	if (!k || !EVP_PKEY_up_ref(k))
		return __real_TEE_GenerateKey(object, keySize, params,
					      paramCount);
	o->pkey = k;
	o->size = keySize;
	o->flags |= TEE_HANDLE_FLAG_INITIALIZED;
	return TEE_SUCCESS;
}

static void add_secret(const uint8_t *b, size_t len)
{
	if (len < SECRET_WIN || nsecrets == sizeof(secrets) / sizeof(secrets[0]))
		return;
	secrets[nsecrets].b = malloc(len);
	if (!secrets[nsecrets].b)
		die("out of memory");
	memcpy(secrets[nsecrets].b, b, len);
	secrets[nsecrets].len = len;
	nsecrets++;
}

static void add_bn_secret(EVP_PKEY *pk, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t buf[1024];
	int n;

	if (!EVP_PKEY_get_bn_param(pk, name, &bn))
		return;
	n = BN_bn2bin(bn, buf);
	if (n > 0 && (size_t)n <= sizeof(buf))
		add_secret(buf, (size_t)n);
	BN_clear_free(bn);
}

/* Open every fixed key with the simulator's API and note its secrets. */
static void collect_secrets(void)
{
	static const char *rsa_names[] = { "d", "rsa-factor1", "rsa-factor2",
					   "rsa-exponent1", "rsa-exponent2",
					   "rsa-coefficient1" };
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		char id[64];
		size_t len = (size_t)snprintf(id, sizeof(id), "key:%s",
					      fixed_keys[i].label);
		TEE_ObjectHandle o = TEE_HANDLE_NULL;
		EVP_PKEY *pk;

		if (TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, len,
					     OTLS_OPEN_READ, &o))
			die("fixed key %s missing from the store",
			    fixed_keys[i].label);
		pk = o->pkey;
		if (fixed_keys[i].type == OTLS_KEY_RSA) {
			int slot = !strcmp(fixed_keys[i].label, "rsa2048") ? 0 :
				   !strcmp(fixed_keys[i].label, "rsa3072") ? 1 :
				   !strcmp(fixed_keys[i].label, "rsa4096") ? 2 :
				   -1;

			for (j = 0; j < sizeof(rsa_names) / sizeof(*rsa_names); j++)
				add_bn_secret(pk, rsa_names[j]);
			if (slot >= 0 && !rsa_pool[slot] && EVP_PKEY_up_ref(pk))
				rsa_pool[slot] = pk;
		} else if (fixed_keys[i].type == OTLS_KEY_EC) {
			add_bn_secret(pk, "priv");
		} else {
			uint8_t raw[32];
			size_t rl = sizeof(raw);

			if (EVP_PKEY_get_raw_private_key(pk, raw, &rl))
				add_secret(raw, rl);
		}
		TEE_CloseObject(o);
	}
}

/* ---- Store snapshot ------------------------------------------------------ */

struct snap_file {
	char name[256];
	uint8_t *data;
	size_t len;
	ino_t ino;
};

static char store_root[256];
static char ta_dir[512];
static struct snap_file snap[64];
static size_t nsnap;

static const TEE_UUID ta_uuid = OTLS_TA_UUID;

static void set_ta_dir(void)
{
	snprintf(ta_dir, sizeof(ta_dir), "%s/" OTLS_TA_UUID_STR, store_root);
}

/* dir/name into out, or die: paths here are short. */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap)
		die("path too long: %s/%s", dir, name);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		b = malloc(n ? (size_t)n : 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

static void write_file(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(b, 1, len, f) != len || fclose(f))
		die("cannot write %s: %s", path, strerror(errno));
}

static void copy_tree_files(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	struct dirent *de;

	if (!d)
		die("cannot read %s", src);
	mkdir(dst, 0700);
	while ((de = readdir(d))) {
		char sp[2048], dp[2048];
		uint8_t *b;
		size_t len = 0;

		if (de->d_name[0] == '.')
			continue;
		join(sp, sizeof(sp), src, de->d_name);
		join(dp, sizeof(dp), dst, de->d_name);
		b = read_file(sp, &len);
		if (!b)
			die("cannot read %s", sp);
		write_file(dp, b, len);
		free(b);
	}
	closedir(d);
}

static void take_snapshot(void)
{
	DIR *d = opendir(ta_dir);
	struct dirent *de;

	if (!d)
		die("cannot read %s", ta_dir);
	while ((de = readdir(d))) {
		char p[1024];
		struct stat st;
		struct snap_file *f;

		if (de->d_name[0] == '.')
			continue;
		if (nsnap == sizeof(snap) / sizeof(snap[0]))
			die("store too big");
		f = &snap[nsnap++];
		snprintf(f->name, sizeof(f->name), "%s", de->d_name);
		join(p, sizeof(p), ta_dir, de->d_name);
		f->data = read_file(p, &f->len);
		if (!f->data || stat(p, &st))
			die("cannot read %s", p);
		f->ino = st.st_ino;
	}
	closedir(d);
}

/* Put the store back as the snapshot has it. */
static void restore_store(void)
{
	DIR *d = opendir(ta_dir);
	struct dirent *de;
	size_t i;

	if (d) {
		while ((de = readdir(d))) {
			bool keep = false;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			for (i = 0; i < nsnap; i++)
				if (!strcmp(snap[i].name, de->d_name))
					keep = true;
			if (!keep)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	} else {
		mkdir(store_root, 0700);
		mkdir(ta_dir, 0700);
	}
	for (i = 0; i < nsnap; i++) {
		char p[1024];
		struct stat st;

		join(p, sizeof(p), ta_dir, snap[i].name);
		if (stat(p, &st) == 0 && st.st_ino == snap[i].ino)
			continue;
		unlink(p);
		write_file(p, snap[i].data, snap[i].len);
		if (stat(p, &st))
			die("cannot stat %s", p);
		snap[i].ino = st.st_ino;
	}
}

/* ---- Client identities ------------------------------------------------- */

static void uuid_v5(TEE_UUID *u, const char *name)
{
	static const uint8_t ns[16] = {
		0x58, 0xac, 0x9c, 0xa0, 0x20, 0x86, 0x46, 0x83,
		0xa1, 0xb8, 0xec, 0x4b, 0xc0, 0x8e, 0x01, 0xb6,
	};
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(c, ns, 16) ||
	    !EVP_DigestUpdate(c, name, strlen(name)) ||
	    !EVP_DigestFinal_ex(c, md, &mdlen))
		die("SHA-1");
	EVP_MD_CTX_free(c);
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
	u->timeLow = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
		     (uint32_t)md[2] << 8 | md[3];
	u->timeMid = (uint16_t)(md[4] << 8 | md[5]);
	u->timeHiAndVersion = (uint16_t)(md[6] << 8 | md[7]);
	memcpy(u->clockSeqAndNode, md + 8, 8);
}

static TEE_Identity identities[4];

static void make_identities(void)
{
	memset(identities, 0, sizeof(identities));
	identities[0].login = TEE_LOGIN_PUBLIC;
	identities[1].login = TEE_LOGIN_USER;
	uuid_v5(&identities[1].uuid, "uid=0");
	identities[2].login = TEE_LOGIN_USER;
	uuid_v5(&identities[2].uuid, "uid=3e8");
	identities[3].login = TEE_LOGIN_GROUP;
	uuid_v5(&identities[3].uuid, "gid=5");
}

/* ---- Setup --------------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

static void init_instance(const char *store)
{
	struct sim_instance_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_dir = store;
	memcpy(cfg.huk, fuzz_huk, sizeof(cfg.huk));
	cfg.ta_uuid = ta_uuid;
	sim_instance_init(&cfg);
	make_identities();
}

static const char *fuzz_dir(void)
{
	const char *d = getenv("TA_FUZZ_DIR");

	return d && *d ? d : TA_FUZZ_DIR;
}

static bool initialized;
static bool verbose;

static void setup(void)
{
	char src[1024];
	const char *tmp = getenv("TMPDIR");

	struct stat st;

	if (initialized)
		return;
	initialized = true;
	verbose = getenv("TA_FUZZ_VERBOSE") != NULL;
	/* tmpfs if there is one: the simulator fsync()s every write. */
	if (!(tmp && *tmp))
		tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
		      access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(store_root, sizeof(store_root), "%s/ta_fuzz.XXXXXX", tmp);
	if (!mkdtemp(store_root))
		die("mkdtemp: %s", strerror(errno));
	set_ta_dir();
	snprintf(src, sizeof(src), "%s/store/" OTLS_TA_UUID_STR, fuzz_dir());
	copy_tree_files(src, ta_dir);
	init_instance(store_root);
	if (TA_CreateEntryPoint() != TEE_SUCCESS)
		die("TA_CreateEntryPoint failed");
	collect_secrets();
	use_rsa_pool = rsa_pool[0] && rsa_pool[1] && rsa_pool[2];
	take_snapshot();
}

static void cleanup(void)
{
	size_t i;

	if (!initialized)
		return;
	for (i = 0; i < nsnap; i++) {
		char p[1024];

		join(p, sizeof(p), ta_dir, snap[i].name);
		unlink(p);
	}
	restore_store();	/* removes anything else */
	for (i = 0; i < nsnap; i++) {
		char p[1024];

		join(p, sizeof(p), ta_dir, snap[i].name);
		unlink(p);
	}
	rmdir(ta_dir);
	rmdir(store_root);
}

/* ---- One input ------------------------------------------------------------ */

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint8_t rd_u8(struct reader *r)
{
	uint8_t v = 0;

	if (r->left) {
		v = *r->p++;
		r->left--;
	}
	return v;
}

static uint16_t rd_u16(struct reader *r)
{
	uint16_t lo = rd_u8(r);

	return (uint16_t)(lo | rd_u8(r) << 8);
}

static uint32_t rd_u32(struct reader *r)
{
	uint32_t lo = rd_u16(r);

	return lo | (uint32_t)rd_u16(r) << 16;
}

#define PT(a, b, c, d) TEE_PARAM_TYPES(TEE_PARAM_TYPE_##a, \
				       TEE_PARAM_TYPE_##b, \
				       TEE_PARAM_TYPE_##c, \
				       TEE_PARAM_TYPE_##d)

static uint32_t canonical_types(uint32_t cmd)
{
	switch (cmd) {
	case OTLS_CMD_GET_INFO:
		return PT(MEMREF_OUTPUT, NONE, NONE, NONE);
	case OTLS_CMD_GENERATE_KEY:
	case OTLS_CMD_SIGN:
	case OTLS_CMD_DECRYPT:
		return PT(MEMREF_INPUT, VALUE_INPUT, MEMREF_INPUT,
			  MEMREF_OUTPUT);
	case OTLS_CMD_GET_KEY:
		return PT(MEMREF_INPUT, MEMREF_OUTPUT, NONE, NONE);
	case OTLS_CMD_LIST_KEYS:
		return PT(MEMREF_OUTPUT, VALUE_OUTPUT, NONE, NONE);
	case OTLS_CMD_DELETE_KEY:
		return PT(MEMREF_INPUT, NONE, NONE, NONE);
	default:
		return PT(NONE, NONE, NONE, NONE);
	}
}

struct pbuf {
	uint8_t *buf;		/* what the TA gets (NULL or exactly cap bytes) */
	uint8_t *copy;		/* input contents before the call */
	size_t cap;
	uint32_t type;
};

static bool is_memref(uint32_t t)
{
	return t == TEE_PARAM_TYPE_MEMREF_INPUT ||
	       t == TEE_PARAM_TYPE_MEMREF_OUTPUT ||
	       t == TEE_PARAM_TYPE_MEMREF_INOUT;
}

static void read_params(struct reader *r, uint32_t types, TEE_Param tp[4],
			struct pbuf pb[4])
{
	unsigned int i;

	memset(tp, 0, 4 * sizeof(*tp));
	memset(pb, 0, 4 * sizeof(*pb));
	for (i = 0; i < 4; i++) {
		uint32_t t = TEE_PARAM_TYPE_GET(types, i);

		pb[i].type = t;
		if (t == TEE_PARAM_TYPE_VALUE_INPUT ||
		    t == TEE_PARAM_TYPE_VALUE_OUTPUT ||
		    t == TEE_PARAM_TYPE_VALUE_INOUT) {
			tp[i].value.a = rd_u32(r);
			tp[i].value.b = rd_u32(r);
		} else if (is_memref(t)) {
			uint8_t flags = rd_u8(r);
			size_t size = rd_u16(r) + ((flags & 2) ? 65536u : 0);
			size_t n;

			tp[i].memref.size = size;
			if (flags & 1) {
				/* NULL buffer; input data still consumed so
				 * that flipping the flag keeps the rest. */
				if (t != TEE_PARAM_TYPE_MEMREF_OUTPUT) {
					n = size < r->left ? size : r->left;
					r->p += n;
					r->left -= n;
				}
				continue;
			}
			/* Exactly size bytes (at least one so that a zero
			 * size still has a distinct, non-NULL buffer). */
			pb[i].cap = size;
			pb[i].buf = malloc(size ? size : 1);
			if (!pb[i].buf)
				die("out of memory");
			memset(pb[i].buf, CANARY, size ? size : 1);
			if (t != TEE_PARAM_TYPE_MEMREF_OUTPUT) {
				memset(pb[i].buf, 0, size);
				n = size < r->left ? size : r->left;
				if (n)
					memcpy(pb[i].buf, r->p, n);
				r->p += n;
				r->left -= n;
				pb[i].copy = malloc(size ? size : 1);
				if (!pb[i].copy)
					die("out of memory");
				memcpy(pb[i].copy, pb[i].buf, size);
			}
			tp[i].memref.buffer = pb[i].buf;
		}
	}
}

static bool all_canary(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != CANARY)
			return false;
	return true;
}

static void check_secrets(const uint8_t *b, size_t len, uint32_t cmd)
{
	size_t i, off;

	for (i = 0; i < nsecrets; i++)
		for (off = 0; off + SECRET_WIN <= secrets[i].len;
		     off += SECRET_WIN)
			if (len >= SECRET_WIN &&
			    memmem(b, len, secrets[i].b + off, SECRET_WIN))
				die("cmd %u: private key material in an output",
				    cmd);
}

static void check_params(uint32_t cmd, TEE_Result res, TEE_Param tp[4],
			 struct pbuf pb[4])
{
	bool size_answer = false;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		uint32_t t = pb[i].type;
		size_t size = tp[i].memref.size;

		if (!is_memref(t))
			continue;
		if (tp[i].memref.buffer != pb[i].buf)
			die("cmd %u: memref %u buffer moved", cmd, i);
		if (t != TEE_PARAM_TYPE_MEMREF_OUTPUT) {
			if (pb[i].buf && memcmp(pb[i].buf, pb[i].copy, pb[i].cap) &&
			    !(t == TEE_PARAM_TYPE_MEMREF_INOUT && !res))
				die("cmd %u: input memref %u written", cmd, i);
			continue;
		}
		/* A size query answer: NULL buffer, or a size that grew. */
		if (!pb[i].buf || size > pb[i].cap)
			size_answer = true;
		if (!pb[i].buf)
			continue;
		if (res == TEE_SUCCESS) {
			if (size > pb[i].cap)
				die("cmd %u: output %u size %zu > capacity %zu on success",
				    cmd, i, size, pb[i].cap);
			if (!all_canary(pb[i].buf + size, pb[i].cap - size))
				die("cmd %u: output %u written past its size",
				    cmd, i);
			check_secrets(pb[i].buf, size, cmd);
			continue;
		}
		if (!all_canary(pb[i].buf, pb[i].cap))
			die("cmd %u: output %u written on error 0x%08x", cmd, i,
			    (unsigned int)res);
		if (res != TEE_ERROR_SHORT_BUFFER && size != pb[i].cap)
			die("cmd %u: output %u size changed on error 0x%08x",
			    cmd, i, (unsigned int)res);
	}
	if (res == TEE_ERROR_SHORT_BUFFER && !size_answer)
		die("cmd %u: SHORT_BUFFER without a size needed", cmd);
}

static void free_params(struct pbuf pb[4])
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		free(pb[i].buf);
		free(pb[i].copy);
	}
}

static int fd_base = -1;

static void run_input(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	TEE_Param tp[4];
	struct pbuf pb[4];
	void *sess = NULL;
	uint8_t sflags = rd_u8(&r);
	unsigned int n;
	TEE_Result res;

	setup();
	if (fd_base < 0)
		fd_base = count_fds();
	sim_api.client = identities[sflags & 3];

	if (sflags & 4) {
		uint32_t types = rd_u16(&r);

		read_params(&r, types, tp, pb);
		res = TA_OpenSessionEntryPoint(types, tp, &sess);
		free_params(pb);
		if (res == TEE_SUCCESS) {
			if (types != PT(NONE, NONE, NONE, NONE))
				die("session opened with parameters 0x%04x",
				    (unsigned int)types);
			TA_CloseSessionEntryPoint(sess);
		}
		sess = NULL;
	}
	memset(tp, 0, sizeof(tp));
	if (TA_OpenSessionEntryPoint(PT(NONE, NONE, NONE, NONE), tp, &sess))
		die("session open failed");

	for (n = 0; n < MAX_CMDS && r.left; n++) {
		uint32_t cmd = rd_u8(&r);
		uint8_t mode = rd_u8(&r);
		uint32_t types = (mode & 0x80) ? rd_u16(&r) :
			       canonical_types(cmd);
		int fds;

		read_params(&r, types, tp, pb);
		res = TA_InvokeCommandEntryPoint(sess, cmd, types, tp);
		if (verbose)
			fprintf(stderr, "  cmd %u types 0x%04x -> 0x%08x\n",
				cmd, (unsigned int)types, (unsigned int)res);
		check_params(cmd, res, tp, pb);
		free_params(pb);
		fds = count_fds();
		if (fd_base >= 0 && fds >= 0 &&
		    (uint32_t)(fds - fd_base) !=
		    otls_cache_count((struct otls_session *)sess))
			die("cmd %u: %d object files open, %u keys cached",
			    cmd, fds - fd_base,
			    otls_cache_count((struct otls_session *)sess));
	}
	TA_CloseSessionEntryPoint(sess);
	if (fd_base >= 0 && count_fds() != fd_base)
		die("object files left open after the session closed");
	restore_store();
}

#ifndef TA_FUZZ_STANDALONE

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_input(data, size);
	return 0;
}

#else /* TA_FUZZ_STANDALONE */

/* ---- Standalone driver: replay, random run, store and seed makers ------ */

struct out {
	uint8_t b[4096];
	size_t len;
};

static void o_u8(struct out *o, uint8_t v)
{
	if (o->len < sizeof(o->b))
		o->b[o->len++] = v;
}

static void o_u16(struct out *o, uint16_t v)
{
	o_u8(o, (uint8_t)v);
	o_u8(o, (uint8_t)(v >> 8));
}

static void o_u32(struct out *o, uint32_t v)
{
	o_u16(o, (uint16_t)v);
	o_u16(o, (uint16_t)(v >> 16));
}

static void o_mem(struct out *o, const void *b, size_t len)
{
	o_u8(o, len > 65535 ? 2 : 0);
	o_u16(o, (uint16_t)len);
	if (b)
		while (len-- && o->len < sizeof(o->b))
			o->b[o->len++] = *(const uint8_t *)b++;
}

static void o_memout(struct out *o, size_t cap)
{
	o_u8(o, 0);
	o_u16(o, (uint16_t)cap);
}

static void o_label(struct out *o, const char *l)
{
	o_mem(o, l, strlen(l));
}

static void o_policy(struct out *o, uint32_t allowed, uint32_t kind,
		     uint32_t id)
{
	uint8_t p[16];

	memset(p, 0, sizeof(p));
	memcpy(p, &allowed, 4);
	memcpy(p + 4, &kind, 4);
	memcpy(p + 8, &id, 4);
	o_mem(o, p, sizeof(p));
}

static void o_cmd(struct out *o, uint32_t cmd)
{
	o_u8(o, (uint8_t)cmd);
	o_u8(o, 0);
}

static void o_sign(struct out *o, const char *label, uint32_t alg,
		   uint32_t salt, const uint8_t *in, size_t in_len,
		   size_t out_cap)
{
	o_cmd(o, OTLS_CMD_SIGN);
	o_label(o, label);
	o_u32(o, alg);
	o_u32(o, salt);
	o_mem(o, in, in_len);
	o_memout(o, out_cap);
}

static void put_seed(const char *dir, const char *name, const struct out *o)
{
	char p[1024];

	join(p, sizeof(p), dir, name);
	write_file(p, o->b, o->len);
}

/* RSA public key of a fixed key, from GET_KEY through the TA. */
static EVP_PKEY *public_of(void *sess, const char *label)
{
	TEE_Param tp[4];
	uint8_t out[2048];
	const struct otls_key_desc_hdr *h = (const void *)out;
	BIGNUM *n, *e;
	EVP_PKEY *pk = NULL;
	RSA *rsa;

	memset(tp, 0, sizeof(tp));
	tp[0].memref.buffer = (void *)label;
	tp[0].memref.size = strlen(label);
	tp[1].memref.buffer = out;
	tp[1].memref.size = sizeof(out);
	if (TA_InvokeCommandEntryPoint(sess, OTLS_CMD_GET_KEY,
				       PT(MEMREF_INPUT, MEMREF_OUTPUT, NONE,
					  NONE), tp))
		die("GET_KEY %s", label);
	n = BN_bin2bn(out + sizeof(*h), (int)h->pub_a_len, NULL);
	e = BN_bin2bn(out + sizeof(*h) + h->pub_a_len, (int)h->pub_b_len, NULL);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	rsa = RSA_new();
	if (!rsa || !RSA_set0_key(rsa, n, e, NULL))
		die("RSA key");
	pk = EVP_PKEY_new();
	if (!pk || !EVP_PKEY_assign_RSA(pk, rsa))
		die("EVP_PKEY");
#pragma GCC diagnostic pop
	return pk;
}

static size_t rsa_encrypt(EVP_PKEY *pk, int pad, const EVP_MD *md,
			  const char *msg, uint8_t *ct, size_t cap)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t len = cap;

	if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, pad) <= 0 ||
	    (md && (EVP_PKEY_CTX_set_rsa_oaep_md(c, md) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) <= 0)) ||
	    EVP_PKEY_encrypt(c, ct, &len, (const uint8_t *)msg,
			     strlen(msg)) <= 0)
		die("RSA encrypt");
	EVP_PKEY_CTX_free(c);
	return len;
}

static void make_seeds(const char *dir)
{
	static const uint8_t digest64[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t di_sha256[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
	};
	TEE_Param tp[4];
	void *sess = NULL;
	struct out o;
	uint8_t ct[512];
	size_t ctl;
	EVP_PKEY *dec;
	char name[64];
	size_t i;

	mkdir(dir, 0755);
	memset(tp, 0, sizeof(tp));
	sim_api.client = identities[0];
	if (TA_OpenSessionEntryPoint(0, tp, &sess))
		die("open");
	dec = public_of(sess, "rsadec");
	TA_CloseSessionEntryPoint(sess);

#define SEED(nm) do { put_seed(dir, nm, &o); memset(&o, 0, sizeof(o)); } while (0)
	memset(&o, 0, sizeof(o));
	o_u8(&o, 0);
	o_cmd(&o, OTLS_CMD_GET_INFO);
	o_memout(&o, sizeof(struct otls_info));
	SEED("get_info");

	o_u8(&o, 0);
	o_cmd(&o, OTLS_CMD_LIST_KEYS);
	o_memout(&o, 64 * sizeof(struct otls_list_entry));
	o_u32(&o, 0);
	o_u32(&o, 0);
	SEED("list");

	for (i = 0; i < NKEYS; i++) {
		o_u8(&o, 0);
		o_cmd(&o, OTLS_CMD_GET_KEY);
		o_label(&o, fixed_keys[i].label);
		o_memout(&o, 1200);
		snprintf(name, sizeof(name), "get_key_%s", fixed_keys[i].label);
		SEED(name);
	}

	/* Generate: EC, Ed25519, RSA (pooled key), owned; then use it. */
	{
		static const struct { const char *l; uint32_t t, b, a, k, id; }
		gens[] = {
			{ "new-ec", OTLS_KEY_EC, 384, 0, 0, 0 },
			{ "new-ed", OTLS_KEY_ED25519, 256, 0, 0, 0 },
			{ "new-rsa", OTLS_KEY_RSA, 2048,
			  OTLS_ALLOW_DECRYPT_OAEP | OTLS_ALLOW_RSA_PKCS1, 0, 0 },
			{ "new-own", OTLS_KEY_EC, 256, 0, OTLS_OWNER_UID, 0 },
		};
		for (i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
			o_u8(&o, gens[i].k ? 1 : 0);
			o_cmd(&o, OTLS_CMD_GENERATE_KEY);
			o_label(&o, gens[i].l);
			o_u32(&o, gens[i].t);
			o_u32(&o, gens[i].b);
			o_policy(&o, gens[i].a, gens[i].k, gens[i].id);
			o_memout(&o, 1200);
			o_sign(&o, gens[i].l, gens[i].t == OTLS_KEY_EC ?
			       OTLS_ALG_ECDSA : gens[i].t == OTLS_KEY_RSA ?
			       OTLS_ALG_RSA_PKCS1_SHA256 : OTLS_ALG_ED25519,
			       0, digest64, gens[i].t == OTLS_KEY_ED25519 ?
			       5 : 32, 600);
			o_cmd(&o, OTLS_CMD_LIST_KEYS);
			o_memout(&o, 64 * sizeof(struct otls_list_entry));
			o_u32(&o, 0);
			o_u32(&o, 0);
			o_cmd(&o, OTLS_CMD_DELETE_KEY);
			o_label(&o, gens[i].l);
			snprintf(name, sizeof(name), "generate_%s", gens[i].l);
			SEED(name);
		}
	}

	/* Signatures with every algorithm. */
	o_u8(&o, 0);
	o_sign(&o, "p256", OTLS_ALG_ECDSA, 0, digest64, 32, 64);
	o_sign(&o, "p384", OTLS_ALG_ECDSA, 0, digest64, 48, 96);
	o_sign(&o, "p521", OTLS_ALG_ECDSA, 0, digest64, 64, 132);
	SEED("sign_ecdsa");
	o_u8(&o, 0);
	o_sign(&o, "ed", OTLS_ALG_ED25519, 0, digest64, 64, 64);
	SEED("sign_ed25519");
	o_u8(&o, 0);
	o_sign(&o, "rsa2048", OTLS_ALG_RSA_PKCS1_SHA256, 0, digest64, 32, 256);
	o_sign(&o, "rsa2048", OTLS_ALG_RSA_PKCS1_SHA384, 0, digest64, 48, 256);
	o_sign(&o, "rsa4096", OTLS_ALG_RSA_PKCS1_SHA512, 0, digest64, 64, 512);
	SEED("sign_pkcs1");
	o_u8(&o, 0);
	o_sign(&o, "rsa2048", OTLS_ALG_RSA_PKCS1_DIGESTINFO, 0, di_sha256,
	       sizeof(di_sha256), 256);
	SEED("sign_digestinfo");
	o_u8(&o, 0);
	o_sign(&o, "rsa3072", OTLS_ALG_RSA_PSS_SHA256, OTLS_SALT_DIGEST_LEN,
	       digest64, 32, 384);
	o_sign(&o, "rsa3072", OTLS_ALG_RSA_PSS_SHA512, 318, digest64, 64, 384);
	o_sign(&o, "rsadec", OTLS_ALG_RSA_PSS_SHA384, 0, digest64, 48, 256);
	SEED("sign_pss");

	/* Owned keys, as their owner and as someone else. */
	for (i = 0; i < 4; i++) {
		o_u8(&o, (uint8_t)i);
		o_sign(&o, "own-u0", OTLS_ALG_ECDSA, 0, digest64, 32, 64);
		o_cmd(&o, OTLS_CMD_DELETE_KEY);
		o_label(&o, "own-u0");
		o_cmd(&o, OTLS_CMD_DELETE_KEY);
		o_label(&o, "own-g5");
		snprintf(name, sizeof(name), "owner_%zu", i);
		SEED(name);
	}

	/* Decryption with every padding. */
	ctl = rsa_encrypt(dec, RSA_PKCS1_PADDING, NULL, "pre-master secret",
			  ct, sizeof(ct));
	o_u8(&o, 0);
	o_cmd(&o, OTLS_CMD_DECRYPT);
	o_label(&o, "rsadec");
	o_u32(&o, OTLS_ALG_RSA_DECRYPT_PKCS1);
	o_u32(&o, 0);
	o_mem(&o, ct, ctl);
	o_memout(&o, 48);
	SEED("decrypt_pkcs1");
	ctl = rsa_encrypt(dec, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), "oaep",
			  ct, sizeof(ct));
	o_u8(&o, 0);
	o_cmd(&o, OTLS_CMD_DECRYPT);
	o_label(&o, "rsadec");
	o_u32(&o, OTLS_ALG_RSA_DECRYPT_OAEP_SHA256);
	o_u32(&o, 0);
	o_mem(&o, ct, ctl);
	o_memout(&o, 2);
	SEED("decrypt_oaep_short");
	ctl = rsa_encrypt(dec, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), "sha1",
			  ct, sizeof(ct));
	o_u8(&o, 3);
	o_cmd(&o, OTLS_CMD_DECRYPT);
	o_label(&o, "rsadec");
	o_u32(&o, OTLS_ALG_RSA_DECRYPT_OAEP_SHA1);
	o_u32(&o, 0);
	o_mem(&o, ct, ctl);
	o_memout(&o, 256);
	SEED("decrypt_oaep_sha1");

	/* Policy refusals: PKCS1 on a PSS-only key, decryption without. */
	o_u8(&o, 0);
	o_sign(&o, "rsa3072", OTLS_ALG_RSA_PKCS1_SHA256, 0, digest64, 32, 384);
	o_cmd(&o, OTLS_CMD_DECRYPT);
	o_label(&o, "rsa2048");
	o_u32(&o, OTLS_ALG_RSA_DECRYPT_PKCS1);
	o_u32(&o, 0);
	o_mem(&o, digest64, 64);
	o_memout(&o, 256);
	SEED("policy_denied");

	/* More keys than the session cache holds, then the evicted one. */
	o_u8(&o, 0);
	for (i = 0; i < NKEYS; i++) {
		o_cmd(&o, OTLS_CMD_GET_KEY);
		o_label(&o, fixed_keys[i].label);
		o_memout(&o, 1200);
	}
	o_sign(&o, "p256", OTLS_ALG_ECDSA, 0, digest64, 32, 64);
	o_cmd(&o, OTLS_CMD_GET_INFO);
	o_memout(&o, sizeof(struct otls_info));
	SEED("cache_evict");

	/* Delete and recreate in one session; null and raw-typed params. */
	o_u8(&o, 0);
	o_sign(&o, "p256", OTLS_ALG_ECDSA, 0, digest64, 32, 64);
	o_cmd(&o, OTLS_CMD_DELETE_KEY);
	o_label(&o, "p256");
	o_cmd(&o, OTLS_CMD_GENERATE_KEY);
	o_label(&o, "p256");
	o_u32(&o, OTLS_KEY_EC);
	o_u32(&o, 256);
	o_policy(&o, 0, 0, 0);
	o_memout(&o, 200);
	o_sign(&o, "p256", OTLS_ALG_ECDSA, 0, digest64, 32, 64);
	SEED("delete_recreate");
	o_u8(&o, 4);
	o_u16(&o, 0x0001);
	o_u32(&o, 1);
	o_u32(&o, 2);
	o_u8(&o, 5);
	o_u8(&o, 0x80);
	o_u16(&o, 0x6565);
	o_u8(&o, 1);
	o_u16(&o, 9);
	o_u8(&o, 1);
	o_u16(&o, 9);
	o_u8(&o, 0);
	o_u16(&o, 4);
	o_u8(&o, 0);
	o_u16(&o, 4);
	SEED("raw_types");
#undef SEED
	EVP_PKEY_free(dec);
}

/* Generate the fixed key store (real key generation) into dir. */
static void make_store(const char *dir)
{
	TEE_Param tp[4];
	void *sess = NULL;
	uint8_t out[1200];
	size_t i;

	snprintf(store_root, sizeof(store_root), "%s", dir);
	mkdir(store_root, 0755);
	set_ta_dir();
	init_instance(store_root);
	if (TA_CreateEntryPoint() || TA_OpenSessionEntryPoint(0, tp, &sess))
		die("open");
	for (i = 0; i < NKEYS; i++) {
		uint32_t pol[4] = { fixed_keys[i].allowed,
				    fixed_keys[i].owner_kind,
				    fixed_keys[i].owner_id, 0 };

		memset(tp, 0, sizeof(tp));
		tp[0].memref.buffer = (void *)fixed_keys[i].label;
		tp[0].memref.size = strlen(fixed_keys[i].label);
		tp[1].value.a = fixed_keys[i].type;
		tp[1].value.b = fixed_keys[i].bits;
		tp[2].memref.buffer = pol;
		tp[2].memref.size = sizeof(pol);
		tp[3].memref.buffer = out;
		tp[3].memref.size = sizeof(out);
		if (TA_InvokeCommandEntryPoint(sess, OTLS_CMD_GENERATE_KEY,
					       PT(MEMREF_INPUT, VALUE_INPUT,
						  MEMREF_INPUT, MEMREF_OUTPUT),
					       tp))
			die("generate %s", fixed_keys[i].label);
	}
	TA_CloseSessionEntryPoint(sess);
}

/* xorshift64*: the random run is the same on every machine. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

struct corpus {
	uint8_t **data;
	size_t *len;
	size_t n, cap;
};

static void corpus_add(struct corpus *c, uint8_t *d, size_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->data = realloc(c->data, c->cap * sizeof(*c->data));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
		if (!c->data || !c->len)
			die("out of memory");
	}
	c->data[c->n] = d;
	c->len[c->n++] = len;
}

static size_t replay_path(const char *path, struct corpus *c)
{
	struct stat st;
	size_t count = 0;

	if (stat(path, &st))
		die("%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		struct dirent **names = NULL;
		int n = scandir(path, &names, NULL, alphasort), i;

		for (i = 0; i < n; i++) {
			char p[1024];

			if (names[i]->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", path,
					 names[i]->d_name);
				count += replay_path(p, c);
			}
			free(names[i]);
		}
		free(names);
		return count;
	}
	{
		size_t len = 0;
		uint8_t *d = read_file(path, &len);

		if (!d)
			die("cannot read %s", path);
		fprintf(stderr, "replay %s\n", path);
		run_input(d, len);
		corpus_add(c, d, len);
	}
	return 1;
}

/* A mutation of a corpus entry (or random bytes). */
static size_t mutate(const struct corpus *c, uint8_t *buf, size_t cap)
{
	size_t len, k, nmut;

	if (!c->n || rng() % 8 == 0) {
		len = rng() % 200;
		for (k = 0; k < len; k++)
			buf[k] = (uint8_t)rng();
		return len;
	}
	k = rng() % c->n;
	len = c->len[k] < cap ? c->len[k] : cap;
	memcpy(buf, c->data[k], len);
	nmut = 1 + rng() % 4;
	while (nmut--) {
		size_t pos = len ? rng() % len : 0;

		switch (rng() % 6) {
		case 0:	/* flip a bit */
			if (len)
				buf[pos] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1:	/* random byte */
			if (len)
				buf[pos] = (uint8_t)rng();
			break;
		case 2:	/* interesting byte */
			if (len) {
				static const uint8_t v[] = { 0, 1, 0x7f, 0x80,
							     0xff, 0x20, 0x40 };
				buf[pos] = v[rng() % sizeof(v)];
			}
			break;
		case 3:	/* truncate */
			len = pos;
			break;
		case 4:	/* insert a byte */
			if (len < cap) {
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = (uint8_t)rng();
				len++;
			}
			break;
		default: /* splice the tail of another entry */
			{
				size_t o = rng() % c->n;
				size_t from = c->len[o] ? rng() % c->len[o] : 0;
				size_t n = c->len[o] - from;

				if (pos + n > cap)
					n = cap - pos;
				memcpy(buf + pos, c->data[o] + from, n);
				len = pos + n;
			}
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	struct corpus c = { 0 };
	unsigned long long iters = 0, i;
	uint64_t seed = 1;
	size_t files = 0;
	int a;

	if (argc == 3 && !strcmp(argv[1], "--make-store")) {
		make_store(argv[2]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--make-seeds")) {
		setup();
		make_seeds(argv[2]);
		cleanup();
		return 0;
	}
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-n") && a + 1 < argc) {
			iters = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "-s") && a + 1 < argc) {
			seed = strtoull(argv[++a], NULL, 0);
		} else {
			setup();
			files += replay_path(argv[a], &c);
		}
	}
	setup();
	rng_state = seed ? seed : 1;
	for (i = 0; i < iters; i++) {
		static uint8_t buf[8192];
		size_t len = mutate(&c, buf, sizeof(buf));

		run_input(buf, len);
	}
	fprintf(stderr, "ta_fuzz_replay: %zu files replayed, %llu random inputs, no crash\n",
		files, iters);
	cleanup();
	for (i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	return 0;
}

#endif /* TA_FUZZ_STANDALONE */
