// SPDX-License-Identifier: BSD-2-Clause
/*
 * simwire helpers shared by libteec, tee-sim-ctl and tee-simd: message
 * framing, operation checks, socket connection. See simwire.h.
 */
#include "simwire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(sizeof(struct simwire_hdr) == 12, "simwire_hdr layout");
_Static_assert(sizeof(struct simwire_op) == 40, "simwire_op layout");
_Static_assert(sizeof(struct simwire_open_req) == 64, "open_req layout");
_Static_assert(sizeof(struct simwire_invoke_req) == 48, "invoke_req layout");
_Static_assert(sizeof(struct simwire_reply) == 56, "reply layout");

#define SIMWIRE_MAX_IOV 8

int simwire_send(int fd, uint16_t type, const void *fixed, size_t fixed_len,
		 const struct simwire_chunk *chunks, size_t nchunks)
{
	struct iovec iov[SIMWIRE_MAX_IOV];
	struct simwire_hdr hdr;
	size_t total = fixed_len;
	size_t n = 0;
	size_t i;

	if (nchunks > SIMWIRE_MAX_IOV - 2) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nchunks; i++)
		total += chunks[i].len;
	if (total > SIMWIRE_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = SIMWIRE_MAGIC;
	hdr.version = SIMWIRE_VERSION;
	hdr.type = type;
	hdr.len = (uint32_t)total;

	iov[n].iov_base = &hdr;
	iov[n++].iov_len = sizeof(hdr);
	if (fixed_len) {
		iov[n].iov_base = (void *)fixed;
		iov[n++].iov_len = fixed_len;
	}
	for (i = 0; i < nchunks; i++) {
		if (!chunks[i].len)
			continue;
		iov[n].iov_base = (void *)chunks[i].data;
		iov[n++].iov_len = chunks[i].len;
	}

	struct iovec *cur = iov;
	size_t left = n;

	while (left) {
		struct msghdr msg;
		ssize_t w;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = cur;
		msg.msg_iovlen = left;
		w = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Skip what was written. */
		while (left && (size_t)w >= cur->iov_len) {
			w -= (ssize_t)cur->iov_len;
			cur++;
			left--;
		}
		if (left) {
			cur->iov_base = (char *)cur->iov_base + w;
			cur->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int simwire_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (got == 0)
				return 1;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int simwire_recv_hdr(int fd, struct simwire_hdr *hdr)
{
	int r = simwire_read_full(fd, hdr, sizeof(*hdr));

	if (r)
		return r;
	if (hdr->magic != SIMWIRE_MAGIC || hdr->version != SIMWIRE_VERSION ||
	    hdr->len > SIMWIRE_MAX_PAYLOAD) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int pt_is_memref(uint32_t t)
{
	return t == SIMWIRE_PT_MEMREF_INPUT || t == SIMWIRE_PT_MEMREF_OUTPUT ||
	       t == SIMWIRE_PT_MEMREF_INOUT;
}

static int pt_is_value(uint32_t t)
{
	return t == SIMWIRE_PT_VALUE_INPUT || t == SIMWIRE_PT_VALUE_OUTPUT ||
	       t == SIMWIRE_PT_VALUE_INOUT;
}

int simwire_op_check(const struct simwire_op *op)
{
	unsigned int i;

	if (op->param_types >> (4 * SIMWIRE_NUM_PARAMS) || op->reserved)
		return -1;
	for (i = 0; i < SIMWIRE_NUM_PARAMS; i++) {
		uint32_t t = SIMWIRE_PT_GET(op->param_types, i);
		const struct simwire_param *p = &op->p[i];

		if (t == SIMWIRE_PT_NONE || pt_is_value(t))
			continue;
		if (!pt_is_memref(t))
			return -1;
		if (p->b & ~SIMWIRE_MEMREF_NULL)
			return -1;
		if (p->a > SIMWIRE_MAX_MEMREF)
			return -1;
		if ((p->b & SIMWIRE_MEMREF_NULL) && p->a)
			return -1;
	}
	return 0;
}

size_t simwire_op_in_len(const struct simwire_op *op)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < SIMWIRE_NUM_PARAMS; i++) {
		uint32_t t = SIMWIRE_PT_GET(op->param_types, i);

		if ((t == SIMWIRE_PT_MEMREF_INPUT ||
		     t == SIMWIRE_PT_MEMREF_INOUT) &&
		    !(op->p[i].b & SIMWIRE_MEMREF_NULL))
			len += op->p[i].a;
	}
	return len;
}

int simwire_reply_has_data(const struct simwire_op *req,
			   const struct simwire_op *rep, unsigned int i)
{
	uint32_t t = SIMWIRE_PT_GET(req->param_types, i);

	if (t != SIMWIRE_PT_MEMREF_OUTPUT && t != SIMWIRE_PT_MEMREF_INOUT)
		return 0;
	if (req->p[i].b & SIMWIRE_MEMREF_NULL)
		return 0;
	return rep->p[i].a <= req->p[i].a;
}

int simwire_reply_check(const struct simwire_op *req,
			const struct simwire_op *rep, size_t *out_len)
{
	size_t len = 0;
	unsigned int i;

	if (rep->param_types != req->param_types || rep->reserved)
		return -1;
	for (i = 0; i < SIMWIRE_NUM_PARAMS; i++) {
		uint32_t t = SIMWIRE_PT_GET(req->param_types, i);

		if (!pt_is_memref(t))
			continue;
		if (rep->p[i].b != req->p[i].b)
			return -1;
		if (simwire_reply_has_data(req, rep, i))
			len += rep->p[i].a;
	}
	*out_len = len;
	return 0;
}

const char *simwire_socket_path(void)
{
	const char *p = getenv(SIMWIRE_SOCKET_ENV);

	if (p && *p)
		return p;
	return SIMWIRE_DEFAULT_SOCKET;
}

int simwire_connect(const char *path, int cloexec)
{
	struct sockaddr_un addr;
	size_t len = strlen(path);
	int fd;

	if (len == 0 || len >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, len + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		return -1;
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EISCONN)
			break;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
