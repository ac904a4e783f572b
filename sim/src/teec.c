// SPDX-License-Identifier: BSD-2-Clause
/*
 * libteec for the host TEE simulator: the GP TEE Client API over a Unix
 * socket to tee-simd (protocol in simwire.h).
 *
 * - A context only remembers the daemon's socket path; TEEC_InitializeContext
 *   checks that a daemon answers there (TEEC_ERROR_ITEM_NOT_FOUND if not,
 *   as the real library reports a missing /dev/teeN).
 * - Each session is its own connection; the daemon serves it with its own
 *   TA instance process. Calls on one session are serialised by a mutex
 *   (later callers wait, as OP-TEE queues them); distinct sessions run in
 *   parallel.
 * - Memrefs of every kind are copied to the daemon and back (shared memory
 *   is plain process memory here). On return, output sizes are updated and
 *   data is copied back only if it fits the caller's buffer.
 * - A connection that ends (instance crashed or panicked, daemon stopped)
 *   makes the session dead: TEEC_ERROR_TARGET_DEAD, origin TEE, on that
 *   call and every later one.
 */
#include <tee_client_api.h>

#include "simwire.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEEC_EXPORT __attribute__((visibility("default")))

#define CTX_MAGIC	0x54454543u	/* context initialised */
#define SHM_ALLOCATED	1u		/* imp.flags: buffer is ours */

struct sess_state {
	pthread_mutex_t lock;
	int dead;			/* connection unusable */
	TEEC_Result dead_result;
	uint32_t dead_origin;
};

/* An operation translated for the wire. */
struct marshal {
	struct simwire_op wop;
	struct simwire_chunk in[SIMWIRE_NUM_PARAMS];	/* input data */
	size_t nin;
	void *dst[SIMWIRE_NUM_PARAMS];	/* where output data goes */
};

static atomic_int shm_ids = 1;
static atomic_flag init_error_told = ATOMIC_FLAG_INIT;

static int debug_enabled(void)
{
	const char *d = getenv("OPTEE_SIM_DEBUG");

	return d && *d && strcmp(d, "0") != 0;
}

static void set_origin(uint32_t *origin, uint32_t value)
{
	if (origin)
		*origin = value;
}

/* The peer end of the connection is gone (instance or daemon ended). */
static int peer_gone(int err)
{
	return err == EPIPE || err == ECONNRESET || err == EPROTO ||
	       err == ENOTCONN;
}

static TEEC_Result io_failure(int err, uint32_t *origin)
{
	if (peer_gone(err)) {
		set_origin(origin, TEEC_ORIGIN_TEE);
		return TEEC_ERROR_TARGET_DEAD;
	}
	set_origin(origin, TEEC_ORIGIN_COMMS);
	return TEEC_ERROR_COMMUNICATION;
}

static uint32_t wire_memref_type(uint32_t dir_flags)
{
	const uint32_t inout = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT;

	if ((dir_flags & inout) == inout)
		return SIMWIRE_PT_MEMREF_INOUT;
	if (dir_flags & TEEC_MEM_INPUT)
		return SIMWIRE_PT_MEMREF_INPUT;
	if (dir_flags & TEEC_MEM_OUTPUT)
		return SIMWIRE_PT_MEMREF_OUTPUT;
	return SIMWIRE_PT_NONE;
}

static TEEC_Result marshal_memref(struct marshal *m, unsigned int i,
				  uint32_t wtype, void *buf, size_t size)
{
	struct simwire_param *p = &m->wop.p[i];

	if (size > SIMWIRE_MAX_MEMREF)
		return TEEC_ERROR_EXCESS_DATA;
	if (!buf && size)
		return TEEC_ERROR_BAD_PARAMETERS;
	m->wop.param_types |= wtype << (4 * i);
	p->a = (uint32_t)size;
	p->b = buf ? 0 : SIMWIRE_MEMREF_NULL;
	if (buf && wtype != SIMWIRE_PT_MEMREF_OUTPUT && size) {
		m->in[m->nin].data = buf;
		m->in[m->nin].len = size;
		m->nin++;
	}
	m->dst[i] = buf;
	return TEEC_SUCCESS;
}

static TEEC_Result marshal_op(TEEC_Operation *op, struct marshal *m)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	if (!op)
		return TEEC_SUCCESS;

	for (i = 0; i < TEEC_CONFIG_PAYLOAD_REF_COUNT; i++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
		TEEC_Parameter *prm = &op->params[i];
		TEEC_SharedMemory *shm;
		uint32_t need = 0;
		TEEC_Result res;

		switch (t) {
		case TEEC_NONE:
			continue;
		case TEEC_VALUE_INPUT:
		case TEEC_VALUE_OUTPUT:
		case TEEC_VALUE_INOUT:
			m->wop.param_types |= t << (4 * i);
			m->wop.p[i].a = prm->value.a;
			m->wop.p[i].b = prm->value.b;
			continue;
		case TEEC_MEMREF_TEMP_INPUT:
		case TEEC_MEMREF_TEMP_OUTPUT:
		case TEEC_MEMREF_TEMP_INOUT:
			/* TEMP_x and wire MEMREF_x share the values 5..7. */
			res = marshal_memref(m, i, t, prm->tmpref.buffer,
					     prm->tmpref.size);
			break;
		case TEEC_MEMREF_WHOLE:
			shm = prm->memref.parent;
			if (!shm)
				return TEEC_ERROR_BAD_PARAMETERS;
			need = wire_memref_type(shm->flags);
			if (need == SIMWIRE_PT_NONE)
				return TEEC_ERROR_BAD_PARAMETERS;
			if (!shm->buffer)
				return TEEC_ERROR_BAD_PARAMETERS;
			res = marshal_memref(m, i, need, shm->buffer,
					     shm->size);
			break;
		case TEEC_MEMREF_PARTIAL_INPUT:
		case TEEC_MEMREF_PARTIAL_OUTPUT:
		case TEEC_MEMREF_PARTIAL_INOUT:
			shm = prm->memref.parent;
			if (!shm || !shm->buffer)
				return TEEC_ERROR_BAD_PARAMETERS;
			if (t != TEEC_MEMREF_PARTIAL_OUTPUT)
				need |= TEEC_MEM_INPUT;
			if (t != TEEC_MEMREF_PARTIAL_INPUT)
				need |= TEEC_MEM_OUTPUT;
			if ((shm->flags & need) != need)
				return TEEC_ERROR_BAD_PARAMETERS;
			if (prm->memref.offset + prm->memref.size <
				    prm->memref.offset ||
			    prm->memref.offset + prm->memref.size > shm->size)
				return TEEC_ERROR_BAD_PARAMETERS;
			res = marshal_memref(m, i, wire_memref_type(need),
					     (char *)shm->buffer +
						     prm->memref.offset,
					     prm->memref.size);
			break;
		default:
			return TEEC_ERROR_BAD_PARAMETERS;
		}
		if (res != TEEC_SUCCESS)
			return res;
	}
	return TEEC_SUCCESS;
}

/* Copy updated values and sizes of a reply into the caller's operation. */
static void unmarshal_op(TEEC_Operation *op, const struct simwire_op *rep)
{
	unsigned int i;

	if (!op)
		return;
	for (i = 0; i < TEEC_CONFIG_PAYLOAD_REF_COUNT; i++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
		TEEC_Parameter *prm = &op->params[i];

		switch (t) {
		case TEEC_VALUE_OUTPUT:
		case TEEC_VALUE_INOUT:
			prm->value.a = rep->p[i].a;
			prm->value.b = rep->p[i].b;
			break;
		case TEEC_MEMREF_TEMP_OUTPUT:
		case TEEC_MEMREF_TEMP_INOUT:
			prm->tmpref.size = rep->p[i].a;
			break;
		case TEEC_MEMREF_WHOLE:
			if (prm->memref.parent->flags & TEEC_MEM_OUTPUT)
				prm->memref.size = rep->p[i].a;
			break;
		case TEEC_MEMREF_PARTIAL_OUTPUT:
		case TEEC_MEMREF_PARTIAL_INOUT:
			prm->memref.size = rep->p[i].a;
			break;
		default:
			break;
		}
	}
}

static void discard(int fd, size_t len)
{
	char buf[4096];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (simwire_read_full(fd, buf, n))
			return;
		len -= n;
	}
}

/*
 * One request/reply exchange carrying an operation. On TEEC_SUCCESS the
 * reply header is in *rep (its result is the TEE's/TA's answer) and the
 * output data has been read into the caller's buffers. Any other return is
 * a transport failure with *origin set.
 */
static TEEC_Result transact(int fd, uint16_t type, const void *fixed,
			    size_t fixed_len, struct marshal *m,
			    struct simwire_reply *rep, uint32_t *origin)
{
	struct simwire_hdr hdr;
	size_t out_len = 0;
	unsigned int i;
	int r;

	if (simwire_send(fd, type, fixed, fixed_len, m->in, m->nin)) {
		int e = errno;

		/* The daemon may have answered and closed before reading the
		 * request (a connection it refuses, e.g. too many sessions):
		 * that answer is still ours to read. */
		if (!peer_gone(e))
			return io_failure(e, origin);
		r = simwire_recv_hdr(fd, &hdr);
		if (r)
			return io_failure(e, origin);
	} else {
		r = simwire_recv_hdr(fd, &hdr);
	}
	if (r == 1)
		return io_failure(EPIPE, origin);
	if (r < 0)
		return io_failure(errno == EPROTO ? EBADMSG : errno, origin);
	if (hdr.type != SIMWIRE_REPLY || hdr.len < sizeof(*rep)) {
		set_origin(origin, TEEC_ORIGIN_COMMS);
		return TEEC_ERROR_COMMUNICATION;
	}
	r = simwire_read_full(fd, rep, sizeof(*rep));
	if (r)
		return io_failure(r == 1 ? EPIPE : errno, origin);

	if (!(rep->flags & SIMWIRE_REPLY_PARAMS)) {
		discard(fd, hdr.len - sizeof(*rep));
		return TEEC_SUCCESS;
	}
	if (simwire_reply_check(&m->wop, &rep->op, &out_len) ||
	    hdr.len != sizeof(*rep) + out_len) {
		set_origin(origin, TEEC_ORIGIN_COMMS);
		return TEEC_ERROR_COMMUNICATION;
	}
	for (i = 0; i < SIMWIRE_NUM_PARAMS; i++) {
		if (!simwire_reply_has_data(&m->wop, &rep->op, i))
			continue;
		r = simwire_read_full(fd, m->dst[i], rep->op.p[i].a);
		if (r)
			return io_failure(r == 1 ? EPIPE : errno, origin);
	}
	return TEEC_SUCCESS;
}

static void uuid_to_octets(uint8_t d[16], const TEEC_UUID *u)
{
	d[0] = (uint8_t)(u->timeLow >> 24);
	d[1] = (uint8_t)(u->timeLow >> 16);
	d[2] = (uint8_t)(u->timeLow >> 8);
	d[3] = (uint8_t)u->timeLow;
	d[4] = (uint8_t)(u->timeMid >> 8);
	d[5] = (uint8_t)u->timeMid;
	d[6] = (uint8_t)(u->timeHiAndVersion >> 8);
	d[7] = (uint8_t)u->timeHiAndVersion;
	memcpy(d + 8, u->clockSeqAndNode, 8);
}

TEEC_EXPORT
TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *ctx)
{
	const char *path = simwire_socket_path();
	struct simwire_reply rep;
	struct simwire_hdr hdr;
	TEEC_Result res = TEEC_SUCCESS;
	int fd;

	(void)name;
	if (!ctx)
		return TEEC_ERROR_BAD_PARAMETERS;

	fd = simwire_connect(path, 1);
	if (fd < 0) {
		int e = errno;

		if (!atomic_flag_test_and_set(&init_error_told) ||
		    debug_enabled())
			fprintf(stderr,
				"libteec (tee-sim): no TEE: cannot connect to "
				"the simulator socket %s: %s (start tee-simd, "
				"e.g. via sim/with-sim, or set "
				SIMWIRE_SOCKET_ENV ")\n",
				path, strerror(e));
		return TEEC_ERROR_ITEM_NOT_FOUND;
	}
	/* Make sure it is a tee-simd that answers. */
	if (simwire_send(fd, SIMWIRE_CTL_PING, NULL, 0, NULL, 0) ||
	    simwire_recv_hdr(fd, &hdr) || hdr.type != SIMWIRE_REPLY ||
	    hdr.len < sizeof(rep) || simwire_read_full(fd, &rep, sizeof(rep))) {
		fprintf(stderr, "libteec (tee-sim): %s does not answer as "
			"tee-simd\n", path);
		res = TEEC_ERROR_COMMUNICATION;
	} else if (rep.result != TEEC_SUCCESS) {
		res = rep.result;
	}
	close(fd);
	if (res != TEEC_SUCCESS)
		return res;

	memset(ctx, 0, sizeof(*ctx));
	ctx->imp.fd = -1;
	ctx->imp.reg_mem = true;
	ctx->imp.memref_null = true;
	ctx->imp.magic = CTX_MAGIC;
	/* Fits: simwire_connect accepted it. */
	snprintf(ctx->imp.socket_path, sizeof(ctx->imp.socket_path), "%s",
		 path);
	return TEEC_SUCCESS;
}

TEEC_EXPORT
void TEEC_FinalizeContext(TEEC_Context *ctx)
{
	if (ctx)
		ctx->imp.magic = 0;
}

TEEC_EXPORT
TEEC_Result TEEC_OpenSession(TEEC_Context *ctx, TEEC_Session *session,
			     const TEEC_UUID *destination,
			     uint32_t connectionMethod,
			     const void *connectionData,
			     TEEC_Operation *operation,
			     uint32_t *returnOrigin)
{
	struct simwire_open_req req;
	struct simwire_reply rep;
	struct sess_state *st;
	struct marshal m;
	TEEC_Result res;
	int fd;

	set_origin(returnOrigin, TEEC_ORIGIN_API);
	if (!ctx || ctx->imp.magic != CTX_MAGIC || !session || !destination)
		return TEEC_ERROR_BAD_PARAMETERS;
	memset(&req, 0, sizeof(req));
	uuid_to_octets(req.uuid, destination);
	req.login = connectionMethod;
	if (connectionMethod == TEEC_LOGIN_GROUP) {
		uint32_t gid;

		if (!connectionData)
			return TEEC_ERROR_BAD_PARAMETERS;
		/* connectionData points to a gid_t (32-bit on Linux). */
		memcpy(&gid, connectionData, sizeof(gid));
		req.gid = gid;
	}
	res = marshal_op(operation, &m);
	if (res != TEEC_SUCCESS)
		return res;
	req.op = m.wop;
	if (operation) {
		operation->started = 1;
		operation->imp.session = session;
	}

	st = calloc(1, sizeof(*st));
	if (!st)
		return TEEC_ERROR_OUT_OF_MEMORY;

	/* No close-on-exec: like /dev/tee0, the session is inherited. */
	fd = simwire_connect(ctx->imp.socket_path, 0);
	if (fd < 0) {
		if (debug_enabled())
			fprintf(stderr, "libteec (tee-sim): cannot connect to "
				"%s: %s\n", ctx->imp.socket_path,
				strerror(errno));
		free(st);
		set_origin(returnOrigin, TEEC_ORIGIN_COMMS);
		return TEEC_ERROR_COMMUNICATION;
	}

	res = transact(fd, SIMWIRE_OPEN_SESSION, &req, sizeof(req), &m, &rep,
		       returnOrigin);
	if (res != TEEC_SUCCESS)
		goto fail;
	if (rep.flags & SIMWIRE_REPLY_PARAMS)
		unmarshal_op(operation, &rep.op);
	set_origin(returnOrigin, rep.origin);
	res = rep.result;
	if (res != TEEC_SUCCESS)
		goto fail;

	if (pthread_mutex_init(&st->lock, NULL)) {
		res = TEEC_ERROR_OUT_OF_MEMORY;
		set_origin(returnOrigin, TEEC_ORIGIN_API);
		goto fail;
	}
	session->imp.ctx = ctx;
	session->imp.session_id = rep.session_id;
	session->imp.fd = fd;
	session->imp.state = st;
	return TEEC_SUCCESS;
fail:
	close(fd);
	free(st);
	return res;
}

TEEC_EXPORT
void TEEC_CloseSession(TEEC_Session *session)
{
	struct sess_state *st;

	if (!session || !session->imp.state)
		return;
	st = session->imp.state;
	pthread_mutex_lock(&st->lock);
	if (!st->dead &&
	    !simwire_send(session->imp.fd, SIMWIRE_CLOSE_SESSION, NULL, 0,
			  NULL, 0)) {
		struct simwire_hdr hdr;

		/* Wait until the TA has closed the session. */
		if (!simwire_recv_hdr(session->imp.fd, &hdr))
			discard(session->imp.fd, hdr.len);
	}
	close(session->imp.fd);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_destroy(&st->lock);
	free(st);
	session->imp.state = NULL;
	session->imp.fd = -1;
	session->imp.ctx = NULL;
}

TEEC_EXPORT
TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t commandID,
			       TEEC_Operation *operation,
			       uint32_t *returnOrigin)
{
	struct simwire_invoke_req req;
	struct simwire_reply rep;
	struct sess_state *st;
	struct marshal m;
	TEEC_Result res;

	set_origin(returnOrigin, TEEC_ORIGIN_API);
	if (!session || !session->imp.state)
		return TEEC_ERROR_BAD_PARAMETERS;
	st = session->imp.state;

	res = marshal_op(operation, &m);
	if (res != TEEC_SUCCESS)
		return res;
	memset(&req, 0, sizeof(req));
	req.cmd = commandID;
	req.op = m.wop;
	if (operation) {
		operation->started = 1;
		operation->imp.session = session;
	}

	pthread_mutex_lock(&st->lock);
	if (st->dead) {
		set_origin(returnOrigin, st->dead_origin);
		res = st->dead_result;
		goto out;
	}
	res = transact(session->imp.fd, SIMWIRE_INVOKE, &req, sizeof(req),
		       &m, &rep, returnOrigin);
	if (res != TEEC_SUCCESS) {
		/* The stream can no longer be trusted: keep this answer. */
		st->dead = 1;
		st->dead_result = res;
		st->dead_origin = returnOrigin ? *returnOrigin :
			(res == TEEC_ERROR_TARGET_DEAD ? TEEC_ORIGIN_TEE :
							 TEEC_ORIGIN_COMMS);
		goto out;
	}
	if (rep.flags & SIMWIRE_REPLY_PARAMS)
		unmarshal_op(operation, &rep.op);
	set_origin(returnOrigin, rep.origin);
	res = rep.result;
	if (res == TEEC_ERROR_TARGET_DEAD && rep.origin == TEEC_ORIGIN_TEE) {
		st->dead = 1;
		st->dead_result = res;
		st->dead_origin = rep.origin;
	}
out:
	pthread_mutex_unlock(&st->lock);
	return res;
}

static TEEC_Result shm_check(TEEC_Context *ctx, TEEC_SharedMemory *shm)
{
	if (!ctx || !shm)
		return TEEC_ERROR_BAD_PARAMETERS;
	if (!shm->flags || (shm->flags & ~(TEEC_MEM_INPUT | TEEC_MEM_OUTPUT)))
		return TEEC_ERROR_BAD_PARAMETERS;
	return TEEC_SUCCESS;
}

TEEC_EXPORT
TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *ctx,
				      TEEC_SharedMemory *shm)
{
	TEEC_Result res = shm_check(ctx, shm);

	if (res != TEEC_SUCCESS)
		return res;
	if (!shm->buffer)
		return TEEC_ERROR_BAD_PARAMETERS;
	shm->imp.id = atomic_fetch_add(&shm_ids, 1);
	shm->imp.alloced_size = shm->size;
	shm->imp.shadow_buffer = NULL;
	shm->imp.registered_fd = -1;
	shm->imp.flags = 0;
	return TEEC_SUCCESS;
}

TEEC_EXPORT
TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *ctx,
				      TEEC_SharedMemory *shm)
{
	TEEC_Result res = shm_check(ctx, shm);
	size_t n;

	if (res != TEEC_SUCCESS)
		return res;
	n = shm->size ? shm->size : 8;
	shm->buffer = calloc(1, n);
	if (!shm->buffer)
		return TEEC_ERROR_OUT_OF_MEMORY;
	shm->imp.id = atomic_fetch_add(&shm_ids, 1);
	shm->imp.alloced_size = n;
	shm->imp.shadow_buffer = NULL;
	shm->imp.registered_fd = -1;
	shm->imp.flags = SHM_ALLOCATED;
	return TEEC_SUCCESS;
}

TEEC_EXPORT
void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *shm)
{
	if (!shm || shm->imp.id == -1)
		return;
	if (shm->imp.flags & SHM_ALLOCATED)
		free(shm->buffer);
	shm->buffer = NULL;
	shm->imp.id = -1;
	shm->imp.alloced_size = 0;
	shm->imp.shadow_buffer = NULL;
	shm->imp.registered_fd = -1;
	shm->imp.flags = 0;
}

TEEC_EXPORT
void TEEC_RequestCancellation(TEEC_Operation *operation)
{
	/* The simulated TA never observes cancellation. */
	(void)operation;
}
