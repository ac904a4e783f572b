/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simwire: the byte protocol between the simulator's libteec (teec.c),
 * tee-sim-ctl (ctl.c) and tee-simd (daemon*.c) over a Unix stream socket.
 *
 * Both ends run on the same host, so integers are in host byte order and
 * the structures below are sent as they are (they have no padding).
 *
 * Every message is a struct simwire_hdr followed by hdr.len payload bytes.
 * The first message on a connection decides what the connection is:
 *
 *   OPEN_SESSION  the connection becomes one session = one TA instance
 *                 process; then any number of INVOKE, then CLOSE_SESSION
 *                 (or just closing the socket, as when a client dies).
 *   CTL_*         one control request, one reply, then the daemon closes.
 *
 * Requests carrying an operation:
 *   OPEN_SESSION   struct simwire_open_req,   then input data
 *   INVOKE         struct simwire_invoke_req, then input data
 *   CLOSE_SESSION  no payload
 * "input data" is, in parameter order, the bytes of every MEMREF_INPUT and
 * MEMREF_INOUT parameter that is not null (p.a bytes each).
 *
 * Every request gets exactly one REPLY: struct simwire_reply, then
 *   - for OPEN_SESSION/INVOKE with SIMWIRE_REPLY_PARAMS set: "output data",
 *     in parameter order, for every MEMREF_OUTPUT/INOUT parameter that is
 *     not null and whose updated size (reply p.a) is at most the size sent
 *     (request p.a): reply p.a bytes each. A larger updated size (the TA
 *     answered TEE_ERROR_SHORT_BUFFER) carries no bytes.
 *   - for CTL_*: UTF-8 text (no NUL).
 *
 * Parameter types on the wire are the TA-side ones (TEE_PARAM_TYPE_*):
 * the client library turns WHOLE/PARTIAL/TEMP memrefs into plain
 * MEMREF_INPUT/OUTPUT/INOUT with a size, and copies data in and out.
 * A memref parameter: p.a = size, p.b = flags (SIMWIRE_MEMREF_NULL when the
 * client passed a NULL buffer; such a memref carries no data and has size
 * 0 in requests). A value parameter: p.a, p.b = value a, b.
 */
#ifndef SIMWIRE_H
#define SIMWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIMWIRE_MAGIC		0x5753544Fu	/* "OTSW" in memory */
#define SIMWIRE_VERSION		1
#define SIMWIRE_NUM_PARAMS	4

/* Largest single memref the simulator carries (1 MiB). */
#define SIMWIRE_MAX_MEMREF	(1u << 20)

/* Default socket when $OPTEE_SIM_SOCKET is unset. */
#define SIMWIRE_DEFAULT_SOCKET	"/run/tee-sim/socket"
#define SIMWIRE_SOCKET_ENV	"OPTEE_SIM_SOCKET"

enum simwire_type {
	SIMWIRE_OPEN_SESSION		= 1,
	SIMWIRE_INVOKE			= 2,
	SIMWIRE_CLOSE_SESSION		= 3,
	SIMWIRE_REPLY			= 16,
	SIMWIRE_CTL_PING		= 32,
	SIMWIRE_CTL_STATS		= 33,
	SIMWIRE_CTL_INSTANCES		= 34,
	SIMWIRE_CTL_PANIC_INSTANCES	= 35,
};

/* Parameter types on the wire (equal to TEE_PARAM_TYPE_* values). */
#define SIMWIRE_PT_NONE			0
#define SIMWIRE_PT_VALUE_INPUT		1
#define SIMWIRE_PT_VALUE_OUTPUT		2
#define SIMWIRE_PT_VALUE_INOUT		3
#define SIMWIRE_PT_MEMREF_INPUT		5
#define SIMWIRE_PT_MEMREF_OUTPUT	6
#define SIMWIRE_PT_MEMREF_INOUT		7
#define SIMWIRE_PT_GET(types, i)	(((types) >> ((i) * 4)) & 0xFu)

#define SIMWIRE_MEMREF_NULL		1u	/* p.b flag of a memref */

struct simwire_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;		/* enum simwire_type */
	uint32_t len;		/* payload bytes that follow */
};

struct simwire_param {
	uint32_t a;
	uint32_t b;
};

struct simwire_op {
	uint32_t param_types;	/* 4 nibbles of SIMWIRE_PT_* */
	uint32_t reserved;	/* 0 */
	struct simwire_param p[SIMWIRE_NUM_PARAMS];
};

struct simwire_open_req {
	uint8_t uuid[16];	/* TA UUID as RFC 4122 octets (big-endian) */
	uint32_t login;		/* TEEC_LOGIN_* */
	uint32_t gid;		/* TEEC_LOGIN_GROUP: the group asked for */
	struct simwire_op op;
};

struct simwire_invoke_req {
	uint32_t cmd;
	uint32_t reserved;	/* 0 */
	struct simwire_op op;
};

#define SIMWIRE_REPLY_PARAMS	1u	/* op and output data are valid */

struct simwire_reply {
	uint32_t result;	/* TEEC_Result / TEE_Result */
	uint32_t origin;	/* TEEC_ORIGIN_* */
	uint32_t session_id;	/* OPEN_SESSION: the instance's pid */
	uint32_t flags;		/* SIMWIRE_REPLY_* */
	struct simwire_op op;	/* updated sizes and values */
};

/* Largest payload of any message. */
#define SIMWIRE_MAX_PAYLOAD \
	(sizeof(struct simwire_open_req) + \
	 SIMWIRE_NUM_PARAMS * (size_t)SIMWIRE_MAX_MEMREF)

/* Result codes the wire helpers use (identical in TEEC_ and TEE_ names). */
#define SIMWIRE_SUCCESS			0x00000000u
#define SIMWIRE_ERR_ACCESS_DENIED	0xFFFF0001u
#define SIMWIRE_ERR_BAD_PARAMETERS	0xFFFF0006u
#define SIMWIRE_ERR_ITEM_NOT_FOUND	0xFFFF0008u
#define SIMWIRE_ERR_OUT_OF_MEMORY	0xFFFF000Cu
#define SIMWIRE_ERR_BUSY		0xFFFF000Du
#define SIMWIRE_ERR_COMMUNICATION	0xFFFF000Eu
#define SIMWIRE_ERR_TARGET_DEAD		0xFFFF3024u
#define SIMWIRE_ORIGIN_API		1u
#define SIMWIRE_ORIGIN_COMMS		2u
#define SIMWIRE_ORIGIN_TEE		3u
#define SIMWIRE_ORIGIN_TRUSTED_APP	4u

/* One chunk of a message being sent. */
struct simwire_chunk {
	const void *data;
	size_t len;
};

/*
 * Send header + fixed part + chunks as one message. Never raises SIGPIPE.
 * Returns 0, or -1 with errno (EPIPE/ECONNRESET: the peer is gone).
 */
int simwire_send(int fd, uint16_t type, const void *fixed, size_t fixed_len,
		 const struct simwire_chunk *chunks, size_t nchunks);

/*
 * Read exactly len bytes. Returns 0, 1 on end of stream before the first
 * byte, or -1 with errno (EPROTO: end of stream in the middle).
 */
int simwire_read_full(int fd, void *buf, size_t len);

/*
 * Read and check a header (magic, version, len <= SIMWIRE_MAX_PAYLOAD).
 * Returns 0, 1 on clean end of stream, or -1 with errno (EPROTO: bad
 * header).
 */
int simwire_recv_hdr(int fd, struct simwire_hdr *hdr);

/*
 * Check an operation of a request: known types, reserved bits zero,
 * memref sizes <= SIMWIRE_MAX_MEMREF, null memrefs of size 0, only known
 * flags. Returns 0 or -1.
 */
int simwire_op_check(const struct simwire_op *op);

/* Input data bytes a (checked) request op carries. */
size_t simwire_op_in_len(const struct simwire_op *op);

/*
 * Check a reply op against the request op it answers (same types, null
 * memrefs stay null) and compute the output data bytes it carries.
 * Returns 0 or -1.
 */
int simwire_reply_check(const struct simwire_op *req,
			const struct simwire_op *rep, size_t *out_len);

/* True if the memref parameter i of a reply carries output data. */
int simwire_reply_has_data(const struct simwire_op *req,
			   const struct simwire_op *rep, unsigned int i);

/* Socket path: $OPTEE_SIM_SOCKET if set and non-empty, else the default. */
const char *simwire_socket_path(void);

/*
 * Connect a stream socket to path. cloexec selects SOCK_CLOEXEC.
 * Returns the fd or -1 with errno (ENAMETOOLONG for a too long path).
 */
int simwire_connect(const char *path, int cloexec);

#endif /* SIMWIRE_H */
