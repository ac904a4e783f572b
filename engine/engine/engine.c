/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The optee ENGINE: identity, control commands, key loading and the
 * dynamic-engine entry points (ENGINE_by_id("optee") finds build/engines or
 * the system's ENGINESDIR optee.so through OPENSSL_ENGINES / dynamic_path).
 *
 * Key ids accepted by ENGINE_load_private_key / ENGINE_load_public_key:
 *   LABEL          a key label in the TA (e.g. tls-server)
 *   optee:LABEL    the URI form (also optee:label=LABEL)
 *   PATH           a key reference file (PEM "OPTEE TLS KEY"); taken as a
 *                  path when it contains '/' or names an existing file
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_local.h"

/* ---- Interned labels ----------------------------------------------------- */

struct label_entry {
	struct label_entry *next;
	char label[OTLS_LABEL_MAX + 1];
	unsigned char pub[32];
	size_t pub_len;
};

static _Atomic(struct label_entry *) label_head;
static pthread_mutex_t label_lock = PTHREAD_MUTEX_INITIALIZER;

static struct label_entry *label_find(const char *label,
				      const unsigned char *pub, size_t pub_len)
{
	struct label_entry *it;

	for (it = atomic_load_explicit(&label_head, memory_order_acquire);
	     it != NULL; it = it->next) {
		if (strcmp(it->label, label) == 0 && it->pub_len == pub_len &&
		    (pub_len == 0 || memcmp(it->pub, pub, pub_len) == 0))
			return it;
	}
	return NULL;
}

const char *engine_label_intern(const char *label, const unsigned char *pub,
				size_t pub_len)
{
	struct label_entry *it;

	if (label == NULL || strlen(label) > OTLS_LABEL_MAX ||
	    pub_len > sizeof(it->pub))
		return NULL;
	if (pub == NULL)
		pub_len = 0;
	it = label_find(label, pub, pub_len);
	if (it != NULL)
		return it->label;

	pthread_mutex_lock(&label_lock);
	it = label_find(label, pub, pub_len);
	if (it == NULL) {
		it = calloc(1, sizeof(*it));
		if (it != NULL) {
			strcpy(it->label, label);
			if (pub_len != 0)
				memcpy(it->pub, pub, pub_len);
			it->pub_len = pub_len;
			it->next = atomic_load_explicit(&label_head,
							memory_order_relaxed);
			atomic_store_explicit(&label_head, it,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&label_lock);
	return it != NULL ? it->label : NULL;
}

const char *engine_label_by_pub(const unsigned char *pub, size_t pub_len)
{
	struct label_entry *it;

	if (pub == NULL || pub_len == 0)
		return NULL;
	for (it = atomic_load_explicit(&label_head, memory_order_acquire);
	     it != NULL; it = it->next) {
		if (it->pub_len == pub_len && memcmp(it->pub, pub, pub_len) == 0)
			return it->label;
	}
	return NULL;
}

/* Only when no ENGINE instance (hence no key bound to one) remains. */
static void label_table_free(void)
{
	struct label_entry *it, *next;

	pthread_mutex_lock(&label_lock);
	it = atomic_exchange(&label_head, NULL);
	pthread_mutex_unlock(&label_lock);
	for (; it != NULL; it = next) {
		next = it->next;
		free(it);
	}
}

/* ---- Global state shared by every ENGINE instance of this module --------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_users;

static void global_cleanup_locked(void)
{
	engine_pkey_cleanup();
	engine_ec_cleanup();
	engine_rsa_cleanup();
	engine_err_unload();
	label_table_free();
}

static int global_get(void)
{
	int ok = 1;

	pthread_mutex_lock(&global_lock);
	if (global_users == 0) {
		ok = engine_err_load() && engine_rsa_init() &&
		     engine_ec_init() && engine_pkey_init();
		if (!ok)
			global_cleanup_locked();
	}
	if (ok)
		global_users++;
	pthread_mutex_unlock(&global_lock);
	return ok;
}

static void global_put(void)
{
	pthread_mutex_lock(&global_lock);
	if (global_users > 0 && --global_users == 0)
		global_cleanup_locked();
	pthread_mutex_unlock(&global_lock);
}

/* ---- Key ids --------------------------------------------------------------- */

#define REF_FILE_MAX	(64 * 1024)

static int read_ref_file(const char *path, char *label,
			 unsigned char **spki, size_t *spki_len)
{
	FILE *f;
	char *buf;
	size_t n;
	int rc;

	f = fopen(path, "rb");
	if (f == NULL) {
		OPTEE_ERR(OPTEE_R_BAD_REFERENCE_FILE,
			  "cannot open key reference file '%s': %s", path,
			  strerror(errno));
		return 0;
	}
	buf = malloc(REF_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		OPTEE_ERR(OPTEE_R_INTERNAL, "out of memory");
		return 0;
	}
	n = fread(buf, 1, REF_FILE_MAX + 1, f);
	fclose(f);
	if (n > REF_FILE_MAX) {
		free(buf);
		OPTEE_ERR(OPTEE_R_BAD_REFERENCE_FILE,
			  "'%s' is too large to be a key reference file", path);
		return 0;
	}
	buf[n] = '\0';
	rc = otls_ref_decode_pem(buf, n, label, spki, spki_len);
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (rc != OTLS_OK) {
		OPTEE_ERR(OPTEE_R_BAD_REFERENCE_FILE,
			  "'%s' is not a valid \"" OTLS_PEM_NAME
			  "\" key reference file: %s", path, otls_strerror(rc));
		return 0;
	}
	return 1;
}

static int is_regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * key_id -> label (label[OTLS_LABEL_MAX + 1]); for a reference file also
 * the SubjectPublicKeyInfo it records (*spki, malloc'd by libopteetls).
 */
static int parse_key_id(const char *key_id, char *label, unsigned char **spki,
			size_t *spki_len)
{
	int rc;

	*spki = NULL;
	*spki_len = 0;
	if (key_id == NULL || key_id[0] == '\0') {
		OPTEE_ERR(OPTEE_R_BAD_KEY_ID,
			  "no key id given (expected LABEL, optee:LABEL or a key reference file)");
		return 0;
	}
	if (strncmp(key_id, "optee:", 6) == 0) {
		rc = otls_uri_parse(key_id, label);
		if (rc != OTLS_OK) {
			OPTEE_ERR(OPTEE_R_BAD_KEY_ID,
				  "'%s' is not a valid optee key URI (expected optee:LABEL, LABEL being 1-%d characters of [A-Za-z0-9._-] starting with a letter or digit): %s",
				  key_id, OTLS_LABEL_MAX, otls_strerror(rc));
			return 0;
		}
		return 1;
	}
	if (strchr(key_id, '/') != NULL || is_regular_file(key_id))
		return read_ref_file(key_id, label, spki, spki_len);
	if (otls_label_check(key_id) != OTLS_OK) {
		OPTEE_ERR(OPTEE_R_BAD_KEY_ID,
			  "'%.64s' is neither a key label (1-%d characters of [A-Za-z0-9._-] starting with a letter or digit), an optee:LABEL URI nor a key reference file",
			  key_id, OTLS_LABEL_MAX);
		return 0;
	}
	strcpy(label, key_id);
	return 1;
}

/* ---- Loading keys ---------------------------------------------------------- */

static EVP_PKEY *public_only(const otls_key_info *info)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t der_len = 0;
	EVP_PKEY *pkey;
	int rc;

	rc = otls_key_spki_der(info, &der, &der_len);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, info->label, "encoding the public key of");
		return NULL;
	}
	p = der;
	pkey = d2i_PUBKEY(NULL, &p, (long)der_len);
	otls_free(der);
	if (pkey == NULL)
		OPTEE_ERR(OPTEE_R_INTERNAL, "cannot decode the public key of '%s'",
			  info->label);
	return pkey;
}

static int check_reference(const otls_key_info *info, const char *key_id,
			   const unsigned char *spki, size_t spki_len)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	int rc, same;

	rc = otls_key_spki_der(info, &der, &der_len);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, info->label, "encoding the public key of");
		return 0;
	}
	same = der_len == spki_len && memcmp(der, spki, spki_len) == 0;
	otls_free(der);
	if (!same) {
		OPTEE_ERR(OPTEE_R_REFERENCE_MISMATCH,
			  "'%s' was written for another key than the one now stored under label '%s'",
			  key_id, info->label);
		return 0;
	}
	return 1;
}

static EVP_PKEY *load_key(ENGINE *e, const char *key_id, int private)
{
	char label[OTLS_LABEL_MAX + 1];
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	otls_key_info *info;
	const char *interned;
	EVP_PKEY *pkey = NULL;
	int rc;

	info = OPENSSL_zalloc(sizeof(*info));
	if (info == NULL) {
		OPTEE_ERR(OPTEE_R_INTERNAL, "out of memory");
		return NULL;
	}
	if (!parse_key_id(key_id, label, &spki, &spki_len))
		goto out;
	rc = otls_key_get(label, info);
	if (rc != OTLS_OK) {
		OPTEE_ERR_OTLS(rc, label, "loading");
		goto out;
	}
	if (spki != NULL && !check_reference(info, key_id, spki, spki_len))
		goto out;
	if (!private) {
		pkey = public_only(info);
		goto out;
	}

	interned = engine_label_intern(label,
				       info->key_type == OTLS_KEY_ED25519 ?
				       info->pub_a : NULL,
				       info->key_type == OTLS_KEY_ED25519 ?
				       info->pub_a_len : 0);
	if (interned == NULL) {
		OPTEE_ERR(OPTEE_R_INTERNAL, "out of memory");
		goto out;
	}
	switch (info->key_type) {
	case OTLS_KEY_RSA:
		pkey = engine_rsa_pkey(e, info, interned);
		break;
	case OTLS_KEY_EC:
		pkey = engine_ec_pkey(e, info, interned);
		break;
	case OTLS_KEY_ED25519:
		pkey = engine_ed25519_pkey(e, info, interned);
		break;
	default:
		OPTEE_ERR(OPTEE_R_UNSUPPORTED, "key '%s' has unknown type %u",
			  label, info->key_type);
		break;
	}
out:
	otls_free(spki);
	OPENSSL_free(info);
	return pkey;
}

static EVP_PKEY *load_privkey(ENGINE *e, const char *key_id,
			      UI_METHOD *ui_method, void *callback_data)
{
	(void)ui_method;
	(void)callback_data;
	return load_key(e, key_id, 1);
}

static EVP_PKEY *load_pubkey(ENGINE *e, const char *key_id,
			     UI_METHOD *ui_method, void *callback_data)
{
	(void)ui_method;
	(void)callback_data;
	return load_key(e, key_id, 0);
}

/* ---- Control commands -------------------------------------------------------- */

#define OPTEE_CMD_CHECK_TEE	ENGINE_CMD_BASE
#define OPTEE_CMD_LIST_KEYS	(ENGINE_CMD_BASE + 1)

static const ENGINE_CMD_DEFN optee_cmds[] = {
	{ OPTEE_CMD_CHECK_TEE, "CHECK_TEE",
	  "Check that the TEE and the optee-tls TA answer",
	  ENGINE_CMD_FLAG_NO_INPUT },
	{ OPTEE_CMD_LIST_KEYS, "LIST_KEYS",
	  "Print the keys stored in the TA (label, type, bits) on stdout",
	  ENGINE_CMD_FLAG_NO_INPUT },
	{ 0, NULL, NULL, 0 }
};

static const char *key_type_name(uint32_t t)
{
	switch (t) {
	case OTLS_KEY_EC:	return "EC";
	case OTLS_KEY_RSA:	return "RSA";
	case OTLS_KEY_ED25519:	return "ED25519";
	default:		return "?";
	}
}

static int ctrl(ENGINE *e, int cmd, long i, void *p, void (*f)(void))
{
	struct otls_info ti;
	struct otls_list_entry *list = NULL;
	size_t count = 0, k;
	int rc;

	(void)e;
	(void)i;
	(void)p;
	(void)f;
	switch (cmd) {
	case OPTEE_CMD_CHECK_TEE:
		rc = otls_get_info(&ti);
		if (rc != OTLS_OK) {
			OPTEE_ERR_OTLS(rc, NULL, "reaching the optee-tls TA");
			return 0;
		}
		return 1;
	case OPTEE_CMD_LIST_KEYS:
		rc = otls_key_list(&list, &count);
		if (rc != OTLS_OK) {
			OPTEE_ERR_OTLS(rc, NULL, "listing keys");
			return 0;
		}
		for (k = 0; k < count; k++)
			printf("%.*s %s %u\n", OTLS_LABEL_MAX, list[k].label,
			       key_type_name(list[k].key_type), list[k].bits);
		fflush(stdout);
		otls_free(list);
		return 1;
	default:
		OPTEE_ERR(OPTEE_R_NOT_SUPPORTED_BY_TA,
			  "unknown control command %d", cmd);
		return 0;
	}
}

/* ---- ENGINE life cycle ----------------------------------------------------- */

static int engine_init(ENGINE *e)
{
	/* Deliberately no TEE access: an openssl.cnf "init = 1" must not make
	 * every OpenSSL program fail while the TEE is down. */
	(void)e;
	return 1;
}

static int engine_finish(ENGINE *e)
{
	(void)e;
	return 1;
}

static int engine_destroy(ENGINE *e)
{
	engine_pkey_unbind(e);
	global_put();
	return 1;
}

static int bind_optee(ENGINE *e)
{
	if (!global_get())
		return 0;
	if (!ENGINE_set_id(e, OPTEE_ENGINE_ID) ||
	    !ENGINE_set_name(e, OPTEE_ENGINE_NAME) ||
	    /* Key store, not an accelerator: never the default implicitly. */
	    !ENGINE_set_flags(e, ENGINE_FLAGS_NO_REGISTER_ALL) ||
	    !ENGINE_set_RSA(e, engine_rsa_method()) ||
	    !ENGINE_set_EC(e, engine_ec_method()) ||
	    !ENGINE_set_load_privkey_function(e, load_privkey) ||
	    !ENGINE_set_load_pubkey_function(e, load_pubkey) ||
	    !ENGINE_set_cmd_defns(e, optee_cmds) ||
	    !ENGINE_set_ctrl_function(e, ctrl) ||
	    !ENGINE_set_init_function(e, engine_init) ||
	    !ENGINE_set_finish_function(e, engine_finish) ||
	    !ENGINE_set_destroy_function(e, engine_destroy)) {
		global_put();
		return 0;
	}
	if (!engine_pkey_bind(e)) {
		ENGINE_set_destroy_function(e, NULL);
		global_put();
		return 0;
	}
	return 1;
}

static int bind_helper(ENGINE *e, const char *id)
{
	if (id != NULL && strcmp(id, OPTEE_ENGINE_ID) != 0)
		return 0;
	return bind_optee(e);
}

/* The two entry points the dynamic ENGINE looks up must be visible even
 * though the module is built with -fvisibility=hidden. */
#pragma GCC visibility push(default)
IMPLEMENT_DYNAMIC_CHECK_FN()
IMPLEMENT_DYNAMIC_BIND_FN(bind_helper)
#pragma GCC visibility pop
