/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-process TEEC context and a small pool of TA sessions.
 *
 * - Lazy: nothing is opened until the first call that needs the TA.
 * - Pool: up to OPTEE_TLS_SESSIONS sessions (default 4, 1..64) per
 *   process, each one TA instance, so threads sign in parallel. A thread
 *   takes an idle session, else opens a new one while under the limit,
 *   else waits for one to be released. The mutex is never held across a
 *   TA invocation or TEEC_OpenSession.
 * - Fork: a child must never use nor close its parent's sessions (closing
 *   would close them for the parent on real OP-TEE). The pthread_atfork
 *   child handler, and a getpid() check for children made without it,
 *   forget everything inherited: the child opens its own context and
 *   sessions on first use. The inherited /dev/tee0 descriptor is left
 *   open on purpose (one per fork generation).
 * - Reconnect: a session that answers TEEC_ERROR_TARGET_DEAD or
 *   TEEC_ERROR_COMMUNICATION is closed and a new one opened, once per
 *   call (see enum otls_retry). If opening on the existing context fails
 *   with a transport-level error the context is replaced too (the
 *   simulator or tee-supplicant may have been restarted).
 * - Contexts are reference counted: a replaced context is finalized when
 *   its last session is closed.
 * - Login: OPTEE_TLS_LOGIN=user (default) | public | group | group:GID.
 * - Diagnostics: with OPTEE_TLS_DEBUG=1 a reconnect prints one line on
 *   stderr; otherwise the library never writes to stderr.
 */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otls_internal.h"

#define POOL_DEFAULT	4
#define POOL_LIMIT	64

struct ctx_ref {
	TEEC_Context ctx;
	unsigned refs;		/* sessions on it, +1 while it is current */
};

enum slot_state {
	SLOT_EMPTY,
	SLOT_OPENING,		/* owned by a thread, no usable session */
	SLOT_IDLE,		/* open session, free to take */
	SLOT_BUSY,		/* open session, owned by a thread */
};

struct slot {
	TEEC_Session sess;
	struct ctx_ref *ctx;
	enum slot_state state;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static pid_t pool_pid;
static unsigned pool_size;		/* 0: not read from the env yet */
static struct ctx_ref *cur_ctx;
static struct slot slots[POOL_LIMIT];

static const TEEC_UUID ta_uuid = OTLS_TA_UUID;

/* ---- fork safety ------------------------------------------------------ */

/* Drop every inherited handle without any TEEC call. Only memory that is
 * this process's own copy is freed. */
static void forget_all(void)
{
	struct ctx_ref *seen[POOL_LIMIT + 1];
	size_t nseen = 0;

	if (cur_ctx)
		seen[nseen++] = cur_ctx;
	for (size_t i = 0; i < POOL_LIMIT; i++) {
		struct ctx_ref *c = slots[i].ctx;
		bool dup = false;

		if (c) {
			for (size_t j = 0; j < nseen; j++)
				dup |= seen[j] == c;
			if (!dup)
				seen[nseen++] = c;
		}
		memset(&slots[i], 0, sizeof(slots[i]));
		slots[i].state = SLOT_EMPTY;
	}
	for (size_t j = 0; j < nseen; j++)
		free(seen[j]);
	cur_ctx = NULL;
	pool_size = 0;
	pool_pid = getpid();
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&pool_mu);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&pool_mu);
}

static void atfork_child(void)
{
	/* The forking thread locked it in prepare; no other thread exists. */
	pthread_mutex_unlock(&pool_mu);
	pthread_cond_init(&pool_cv, NULL);
	forget_all();
}

__attribute__((constructor)) static void session_init(void)
{
	pool_pid = getpid();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- configuration ---------------------------------------------------- */

static unsigned read_pool_size(void)
{
	const char *s = getenv("OPTEE_TLS_SESSIONS");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return POOL_DEFAULT;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > POOL_LIMIT || s[0] == '-' || s[0] == '+')
		return POOL_DEFAULT;
	return (unsigned)v;
}

static int read_login(uint32_t *method, uint32_t *gid)
{
	const char *s = getenv("OPTEE_TLS_LOGIN");

	if (!s || !*s || !strcmp(s, "user")) {
		*method = TEEC_LOGIN_USER;
		return OTLS_OK;
	}
	if (!strcmp(s, "public")) {
		*method = TEEC_LOGIN_PUBLIC;
		return OTLS_OK;
	}
	if (!strcmp(s, "group")) {
		*method = TEEC_LOGIN_GROUP;
		*gid = (uint32_t)getegid();
		return OTLS_OK;
	}
	if (!strncmp(s, "group:", 6) && s[6] >= '0' && s[6] <= '9') {
		char *end;
		unsigned long v = strtoul(s + 6, &end, 10);

		if (*end || v > UINT32_MAX)
			return OTLS_ERR_BAD_INPUT;
		*method = TEEC_LOGIN_GROUP;
		*gid = (uint32_t)v;
		return OTLS_OK;
	}
	return OTLS_ERR_BAD_INPUT;
}

/* OPTEE_TLS_DEBUG=1: one line on stderr per reconnect or open retry. Read
 * each time (rare), so no state to reset after fork. */
static void debug_line(const char *what, uint32_t cmd, TEEC_Result r,
		       uint32_t origin, const char *why)
{
	const char *d = getenv("OPTEE_TLS_DEBUG");
	char line[240];
	int n;

	if (!d || strcmp(d, "1"))
		return;
	n = snprintf(line, sizeof(line),
		     "libopteetls[%d]: %s (TEEC result 0x%08x, origin %u, "
		     "command %u): %s\n", (int)getpid(), what, r, origin, cmd,
		     why);
	if (n > 0) {
		/* One write, so lines of concurrent threads never mix. */
		ssize_t w = write(STDERR_FILENO, line,
				  (size_t)n < sizeof(line) ? (size_t)n :
				  sizeof(line) - 1);
		(void)w;
	}
}

static void debug_reconnect(uint32_t cmd, TEEC_Result r, uint32_t origin,
			    const char *why)
{
	debug_line("TA session lost", cmd, r, origin, why);
}

/* ---- contexts (pool_mu held) ------------------------------------------ */

static int ctx_get_locked(struct ctx_ref **out, bool *created)
{
	*created = false;
	if (!cur_ctx) {
		struct ctx_ref *c = calloc(1, sizeof(*c));
		TEEC_Result r;

		if (!c)
			return OTLS_ERR_INTERNAL;
		r = TEEC_InitializeContext(NULL, &c->ctx);
		otls_set_last(r, TEEC_ORIGIN_API);
		if (r != TEEC_SUCCESS) {
			free(c);
			return otls_map_result(r, TEEC_ORIGIN_API,
					       OTLS_AT_CONTEXT);
		}
		c->refs = 1;
		cur_ctx = c;
		*created = true;
	}
	cur_ctx->refs++;
	*out = cur_ctx;
	return OTLS_OK;
}

static void ctx_put_locked(struct ctx_ref *c)
{
	if (c && --c->refs == 0) {
		TEEC_FinalizeContext(&c->ctx);
		free(c);
	}
}

/* Stop handing out c to new sessions; it lives on while sessions use it.
 * The caller holds a reference. */
static void ctx_retire_locked(struct ctx_ref *c)
{
	if (cur_ctx == c) {
		cur_ctx = NULL;
		c->refs--;
	}
}

/* ---- unload ----------------------------------------------------------- */

/* dlclose of the provider/ENGINE, or exit: close this process's idle
 * sessions so their TA instances end now rather than when the fd goes.
 * Busy slots (a thread still inside a call during exit) are left alone,
 * and inherited sessions of a parent are never touched (a child made
 * without our atfork hook, or a vfork child that calls exit(), shares or
 * copies the parent's table: pool_pid tells). Only libteec is called,
 * never OpenSSL (its atexit cleanup has already run at exit); libteec is
 * a dependency of this library, so it is still loaded. The lock is only
 * tried: exit() from a signal handler that interrupted a pool_mu section,
 * or from a thread racing one, must not hang; the kernel reclaims
 * whatever is left when the process ends. */
__attribute__((destructor)) static void session_fini(void)
{
	if (pthread_mutex_trylock(&pool_mu))
		return;
	if (pool_pid == getpid()) {
		for (size_t i = 0; i < POOL_LIMIT; i++) {
			if (slots[i].state != SLOT_IDLE)
				continue;
			TEEC_CloseSession(&slots[i].sess);
			ctx_put_locked(slots[i].ctx);
			memset(&slots[i], 0, sizeof(slots[i]));
			slots[i].state = SLOT_EMPTY;
		}
		if (cur_ctx) {
			struct ctx_ref *c = cur_ctx;

			cur_ctx = NULL;
			ctx_put_locked(c);
		}
	}
	pthread_mutex_unlock(&pool_mu);
}

/* ---- sessions (slot owned by the caller, pool_mu not held) ------------ */

static int slot_open(struct slot *sl)
{
	uint32_t method = TEEC_LOGIN_USER, gid = 0;
	int rc = read_login(&method, &gid);

	if (rc)
		return rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct ctx_ref *c = NULL;
		bool created;
		uint32_t origin = TEEC_ORIGIN_API;
		TEEC_Result r;

		pthread_mutex_lock(&pool_mu);
		rc = ctx_get_locked(&c, &created);
		pthread_mutex_unlock(&pool_mu);
		if (rc)
			return rc;

		memset(&sl->sess, 0, sizeof(sl->sess));
		r = TEEC_OpenSession(&c->ctx, &sl->sess, &ta_uuid, method,
				     method == TEEC_LOGIN_GROUP ? &gid : NULL,
				     NULL, &origin);
		otls_set_last(r, origin);
		if (r == TEEC_SUCCESS) {
			sl->ctx = c;
			return OTLS_OK;
		}

		pthread_mutex_lock(&pool_mu);
		/* A transport-level failure on a context that already existed:
		 * it may be stale (TEE side restarted); try a fresh one. */
		if (!created && origin != TEEC_ORIGIN_TEE &&
		    origin != TEEC_ORIGIN_TRUSTED_APP) {
			ctx_retire_locked(c);
			ctx_put_locked(c);
			pthread_mutex_unlock(&pool_mu);
			continue;
		}
		/* OP-TEE fails the first TA load after tee-supplicant restarts
		 * while another session holds storage open (a stale directory
		 * handle: TEEC_ERROR_GENERIC from the TEE), then recovers by
		 * itself. Seen on real OP-TEE 4.10; retry once. */
		if (attempt == 0 && r == TEEC_ERROR_GENERIC &&
		    origin == TEEC_ORIGIN_TEE) {
			ctx_put_locked(c);
			pthread_mutex_unlock(&pool_mu);
			debug_line("opening a TA session failed", 0, r, origin,
				   "retrying once");
			continue;
		}
		ctx_put_locked(c);
		pthread_mutex_unlock(&pool_mu);
		return otls_map_result(r, origin, OTLS_AT_OPEN);
	}
	return OTLS_ERR_TEE_UNREACHABLE;
}

static void slot_close(struct slot *sl)
{
	TEEC_CloseSession(&sl->sess);
	pthread_mutex_lock(&pool_mu);
	ctx_put_locked(sl->ctx);
	sl->ctx = NULL;
	pthread_mutex_unlock(&pool_mu);
}

static void slot_set(struct slot *sl, enum slot_state st)
{
	pthread_mutex_lock(&pool_mu);
	sl->state = st;
	pthread_cond_broadcast(&pool_cv);
	pthread_mutex_unlock(&pool_mu);
}

/* Close a dead session and open another in the same (owned) slot. On
 * failure the slot is given back empty. */
static int slot_reopen(struct slot *sl)
{
	int rc;

	slot_close(sl);
	rc = slot_open(sl);
	if (rc)
		slot_set(sl, SLOT_EMPTY);
	return rc;
}

static int acquire(struct slot **out, bool *fresh)
{
	int rc;

	pthread_mutex_lock(&pool_mu);
	if (pool_pid != getpid())
		forget_all();	/* a child that did not run our atfork hook */
	if (!pool_size)
		pool_size = read_pool_size();

	for (;;) {
		struct slot *empty = NULL;
		unsigned used = 0;

		for (size_t i = 0; i < POOL_LIMIT; i++) {
			if (slots[i].state == SLOT_IDLE) {
				slots[i].state = SLOT_BUSY;
				pthread_mutex_unlock(&pool_mu);
				*out = &slots[i];
				*fresh = false;
				return OTLS_OK;
			}
			if (slots[i].state == SLOT_EMPTY) {
				if (!empty)
					empty = &slots[i];
			} else {
				used++;
			}
		}
		if (used < pool_size && empty) {
			empty->state = SLOT_OPENING;
			pthread_mutex_unlock(&pool_mu);
			rc = slot_open(empty);
			if (rc) {
				slot_set(empty, SLOT_EMPTY);
				return rc;
			}
			slot_set(empty, SLOT_BUSY);
			*out = empty;
			*fresh = true;
			return OTLS_OK;
		}
		pthread_cond_wait(&pool_cv, &pool_mu);
	}
}

static bool is_dead(TEEC_Result r)
{
	return r == TEEC_ERROR_TARGET_DEAD || r == TEEC_ERROR_COMMUNICATION;
}

static TEEC_Result probe(struct slot *sl, uint32_t *origin)
{
	struct otls_info info;
	TEEC_Operation op;

	memset(&op, 0, sizeof(op));
	op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE,
					 TEEC_NONE, TEEC_NONE);
	op.params[0].tmpref.buffer = &info;
	op.params[0].tmpref.size = sizeof(info);
	return TEEC_InvokeCommand(&sl->sess, OTLS_CMD_GET_INFO, &op, origin);
}

int otls_session_invoke(uint32_t cmd, TEEC_Operation *op,
			enum otls_retry retry, uint32_t *res, uint32_t *origin)
{
	struct slot *sl;
	bool fresh;
	TEEC_Operation saved = *op;
	TEEC_Result r;
	uint32_t o = TEEC_ORIGIN_API;
	int rc;

	rc = acquire(&sl, &fresh);
	if (rc)
		return rc;

	if (retry == OTLS_RETRY_NEVER && !fresh) {
		uint32_t po = TEEC_ORIGIN_API;

		r = probe(sl, &po);
		if (is_dead(r)) {
			debug_reconnect(OTLS_CMD_GET_INFO, r, po,
					"reopening it before a command that "
					"changes storage");
			rc = slot_reopen(sl);
			if (rc)
				return rc;
		}
	}

	r = TEEC_InvokeCommand(&sl->sess, cmd, op, &o);
	if (is_dead(r) && retry == OTLS_RETRY_ONCE) {
		otls_set_last(r, o);
		debug_reconnect(cmd, r, o, "reopening it and retrying once");
		rc = slot_reopen(sl);
		if (rc)
			return rc;
		*op = saved;
		o = TEEC_ORIGIN_API;
		r = TEEC_InvokeCommand(&sl->sess, cmd, op, &o);
	}
	otls_set_last(r, o);
	*res = r;
	*origin = o;
	if (is_dead(r)) {
		slot_close(sl);
		slot_set(sl, SLOT_EMPTY);
		return otls_map_result(r, o, OTLS_AT_INVOKE);
	}
	slot_set(sl, SLOT_IDLE);
	return OTLS_OK;
}

unsigned otls_session_drop_idle(void)
{
	struct slot *mine[POOL_LIMIT];
	unsigned n = 0;

	pthread_mutex_lock(&pool_mu);
	if (pool_pid != getpid())
		forget_all();
	for (size_t i = 0; i < POOL_LIMIT; i++) {
		if (slots[i].state == SLOT_IDLE) {
			slots[i].state = SLOT_OPENING;
			mine[n++] = &slots[i];
		}
	}
	pthread_mutex_unlock(&pool_mu);

	for (unsigned i = 0; i < n; i++) {
		slot_close(mine[i]);
		slot_set(mine[i], SLOT_EMPTY);
	}
	return n;
}
