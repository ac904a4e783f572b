// SPDX-License-Identifier: BSD-2-Clause
/*
 * One connection of tee-simd, in its own forked process.
 *
 * The first message decides: a control request (daemon_ctl.c), or
 * OPEN_SESSION, after which this process is one TA instance serving one
 * session: TA_CreateEntryPoint, TA_OpenSessionEntryPoint, then
 * TA_InvokeCommandEntryPoint per INVOKE, and on CLOSE_SESSION (or when the
 * client's end of the socket closes) TA_CloseSessionEntryPoint and
 * TA_DestroyEntryPoint.
 *
 * The client identity follows the Linux TEE subsystem: PUBLIC is the nil
 * UUID, USER and GROUP are UUIDv5 (SHA-1) in a fixed namespace of
 * "uid=<euid in hex>" / "gid=<gid in hex>", taken from the socket's peer
 * credentials; GROUP requires the peer to be a member of that group.
 *
 * Every message is checked before use; a malformed one gets an error reply
 * or ends this process, never the daemon.
 */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "optee_tls_ta.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* The TA's entry points (GP TEE Internal Core API). */
TEE_Result TA_CreateEntryPoint(void);
void TA_DestroyEntryPoint(void);
TEE_Result TA_OpenSessionEntryPoint(uint32_t paramTypes, TEE_Param params[4],
				    void **sessionContext);
void TA_CloseSessionEntryPoint(void *sessionContext);
TEE_Result TA_InvokeCommandEntryPoint(void *sessionContext, uint32_t commandID,
				      uint32_t paramTypes, TEE_Param params[4]);

/* Namespace of client UUIDs (the Linux TEE subsystem's). */
static const uint8_t client_uuid_ns[16] = {
	0x58, 0xac, 0x9c, 0xa0, 0x20, 0x86, 0x46, 0x83,
	0xa1, 0xb8, 0xec, 0x4b, 0xc0, 0x8e, 0x01, 0xb6
};

static int inst_fd = -1;
static volatile int in_request;		/* a client waits for a reply */
static volatile sig_atomic_t panic_requested;
static void *sess_ctx;
static int session_open;

/* Operation parameters as the TA sees them, plus our own bookkeeping. */
struct inst_params {
	TEE_Param tp[4];
	void *buf[4];		/* our allocations (the TA may move tp) */
	uint32_t size[4];	/* sizes the client sent */
};

void sim_instance_panic(uint32_t code)
{
	if (sim_counters)
		atomic_fetch_add(&sim_counters->panics, 1);
	simd_log("TA panic 0x%x", (unsigned int)code);
	if (in_request && inst_fd >= 0)
		simd_reply_simple(inst_fd, SIMWIRE_ERR_TARGET_DEAD,
				  SIMWIRE_ORIGIN_TEE, NULL);
	_exit(SIMD_EXIT_PANIC);
}

static void on_sigusr1(int sig)
{
	(void)sig;
	panic_requested = 1;
}

static void uuid_v5(uint8_t out[16], const uint8_t ns[16], const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(c, ns, 16) ||
	    !EVP_DigestUpdate(c, name, strlen(name)) ||
	    !EVP_DigestFinal_ex(c, md, &mdlen) || mdlen < 16) {
		simd_log("SHA-1 failed while computing a client UUID");
		_exit(1);
	}
	EVP_MD_CTX_free(c);
	memcpy(out, md, 16);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);	/* version 5 */
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
}

static void uuid_from_octets(TEE_UUID *u, const uint8_t o[16])
{
	u->timeLow = (uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 |
		     (uint32_t)o[2] << 8 | o[3];
	u->timeMid = (uint16_t)(o[4] << 8 | o[5]);
	u->timeHiAndVersion = (uint16_t)(o[6] << 8 | o[7]);
	memcpy(u->clockSeqAndNode, o + 8, 8);
}

static void uuid_str(char s[37], const uint8_t o[16])
{
	snprintf(s, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], o[9],
		 o[10], o[11], o[12], o[13], o[14], o[15]);
}

/*
 * The peer's supplementary groups at connect time (SO_PEERGROUPS), in a
 * malloc'd array: 0, or -1 with errno (ENOPROTOOPT: the kernel is older
 * than 4.13). Nothing is read from the array unless the kernel filled it.
 */
static int peer_groups(int fd, gid_t **out, size_t *count)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *groups = NULL;
	int tries, e = ERANGE;

	for (tries = 0; tries < 3; tries++) {
		socklen_t got = len;
		gid_t *g = realloc(groups, len ? len : sizeof(gid_t));

		if (!g) {
			e = ENOMEM;
			break;
		}
		groups = g;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &got) == 0) {
			if (got > len) {	/* never: the kernel fits it */
				e = EPROTO;
				break;
			}
			*out = groups;
			*count = got / sizeof(gid_t);
			return 0;
		}
		e = errno;
		if (e != ERANGE)
			break;
		len = got;	/* the size the kernel needs; groups may grow */
	}
	free(groups);
	errno = e;
	return -1;
}

/*
 * Is the peer (credentials at connect time) a member of gid? When the
 * kernel cannot tell, the answer is no (logged): a group login is never
 * granted on a guess.
 */
static int peer_in_group(int fd, const struct ucred *cr, uint32_t gid)
{
	gid_t *groups;
	size_t i, n;
	int member = 0;

	if (cr->gid == gid)
		return 1;
	if (peer_groups(fd, &groups, &n) == 0) {
		for (i = 0; i < n; i++)
			if (groups[i] == gid)
				member = 1;
		free(groups);
		return member;
	}
	if (errno != ENOPROTOOPT) {
		simd_log("group login of pid %d refused: cannot read its "
			 "groups (SO_PEERGROUPS: %s)", (int)cr->pid,
			 strerror(errno));
		return 0;
	}

	/* Old kernel: read the peer's supplementary groups from /proc. */
	{
		char path[64], line[4096];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)cr->pid);
		f = fopen(path, "r");
		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f)) {
			char *p, *end;

			if (strncmp(line, "Groups:", 7))
				continue;
			for (p = line + 7;; p = end) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				if (g == gid)
					member = 1;
			}
		}
		fclose(f);
	}
	return member;
}

/*
 * Client identity for a login method (Linux TEE subsystem rules).
 * Returns TEE_SUCCESS or an error for the client (origin COMMS, as the
 * kernel's ioctl fails before the TEE sees anything).
 */
static uint32_t client_identity(int fd, const struct ucred *cr,
				uint32_t login, uint32_t gid,
				TEE_Identity *id, char uuid_text[37])
{
	uint8_t o[16];
	char name[32];

	memset(o, 0, sizeof(o));
	switch (login) {
	case TEE_LOGIN_PUBLIC:
		break;
	case TEE_LOGIN_USER:
		snprintf(name, sizeof(name), "uid=%x", (unsigned int)cr->uid);
		uuid_v5(o, client_uuid_ns, name);
		break;
	case TEE_LOGIN_GROUP:
		if (!peer_in_group(fd, cr, gid))
			return SIMWIRE_ERR_ACCESS_DENIED;
		snprintf(name, sizeof(name), "gid=%x", (unsigned int)gid);
		uuid_v5(o, client_uuid_ns, name);
		break;
	default:
		/* Application-based logins are not supported by Linux. */
		return SIMWIRE_ERR_BAD_PARAMETERS;
	}
	id->login = login;
	uuid_from_octets(&id->uuid, o);
	uuid_str(uuid_text, o);
	return SIMWIRE_SUCCESS;
}

/* Build the TA's parameters from a checked op and its input data. */
static int params_in(const struct simwire_op *op, const uint8_t *data,
		     struct inst_params *ip)
{
	size_t off = 0;
	unsigned int i;

	memset(ip, 0, sizeof(*ip));
	for (i = 0; i < 4; i++) {
		uint32_t t = SIMWIRE_PT_GET(op->param_types, i);
		const struct simwire_param *p = &op->p[i];

		switch (t) {
		case SIMWIRE_PT_VALUE_INPUT:
		case SIMWIRE_PT_VALUE_INOUT:
			ip->tp[i].value.a = p->a;
			ip->tp[i].value.b = p->b;
			break;
		case SIMWIRE_PT_VALUE_OUTPUT:
			ip->tp[i].value.a = 0;
			ip->tp[i].value.b = 0;
			break;
		case SIMWIRE_PT_MEMREF_INPUT:
		case SIMWIRE_PT_MEMREF_OUTPUT:
		case SIMWIRE_PT_MEMREF_INOUT:
			ip->size[i] = p->a;
			if (p->b & SIMWIRE_MEMREF_NULL) {
				ip->tp[i].memref.buffer = NULL;
				ip->tp[i].memref.size = 0;
				break;
			}
			/* Never NULL, even for size 0. */
			ip->buf[i] = calloc(1, p->a ? p->a : 1);
			if (!ip->buf[i])
				return -1;
			if (t != SIMWIRE_PT_MEMREF_OUTPUT) {
				memcpy(ip->buf[i], data + off, p->a);
				off += p->a;
			}
			ip->tp[i].memref.buffer = ip->buf[i];
			ip->tp[i].memref.size = p->a;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void params_free(struct inst_params *ip)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		free(ip->buf[i]);
		ip->buf[i] = NULL;
	}
}

/* Reply to a request with an operation: result, updated params, data. */
static int reply_params(uint32_t result, uint32_t origin, uint32_t sid,
			const struct simwire_op *req, struct inst_params *ip)
{
	struct simwire_chunk out[4];
	struct simwire_reply rep;
	size_t n = 0;
	unsigned int i;

	memset(&rep, 0, sizeof(rep));
	rep.result = result;
	rep.origin = origin;
	rep.session_id = sid;
	rep.flags = SIMWIRE_REPLY_PARAMS;
	rep.op.param_types = req->param_types;
	for (i = 0; i < 4; i++) {
		uint32_t t = SIMWIRE_PT_GET(req->param_types, i);
		size_t sz;

		rep.op.p[i] = req->p[i];
		switch (t) {
		case SIMWIRE_PT_VALUE_OUTPUT:
		case SIMWIRE_PT_VALUE_INOUT:
			rep.op.p[i].a = ip->tp[i].value.a;
			rep.op.p[i].b = ip->tp[i].value.b;
			break;
		case SIMWIRE_PT_MEMREF_OUTPUT:
		case SIMWIRE_PT_MEMREF_INOUT:
			sz = ip->tp[i].memref.size;
			rep.op.p[i].a = sz > UINT32_MAX ? UINT32_MAX :
							  (uint32_t)sz;
			if (simwire_reply_has_data(req, &rep.op, i)) {
				out[n].data = ip->buf[i];
				out[n].len = rep.op.p[i].a;
				n++;
			}
			break;
		default:
			break;
		}
	}
	return simwire_send(inst_fd, SIMWIRE_REPLY, &rep, sizeof(rep), out, n);
}

static void end_session(void)
{
	if (session_open) {
		session_open = 0;
		TA_CloseSessionEntryPoint(sess_ctx);
		TA_DestroyEntryPoint();
	}
}

/* Wait for the next request; a panic request is honoured here. */
static void wait_request(void)
{
	struct pollfd pfd = { .fd = inst_fd, .events = POLLIN };
	sigset_t mask;

	sigprocmask(SIG_SETMASK, NULL, &mask);
	sigdelset(&mask, SIGUSR1);
	for (;;) {
		int r;

		if (panic_requested)
			sim_instance_panic(SIMD_CTL_PANIC_CODE);
		r = ppoll(&pfd, 1, NULL, &mask);
		if (r > 0 || (r < 0 && errno != EINTR))
			return;
	}
}

/* Read a payload of len bytes (len already bounded by the header check). */
static uint8_t *read_payload(uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (!p) {
		simd_log("out of memory reading a %u-byte message", len);
		return NULL;
	}
	if (simwire_read_full(inst_fd, p, len)) {
		free(p);
		return NULL;
	}
	return p;
}

static void handle_invoke(const uint8_t *payload, uint32_t len)
{
	struct simwire_invoke_req req;
	struct inst_params ip;
	TEE_Result res;

	if (len < sizeof(req)) {
		simd_reply_simple(inst_fd, SIMWIRE_ERR_BAD_PARAMETERS,
				  SIMWIRE_ORIGIN_COMMS, NULL);
		return;
	}
	memcpy(&req, payload, sizeof(req));
	if (req.reserved || simwire_op_check(&req.op) ||
	    len != sizeof(req) + simwire_op_in_len(&req.op)) {
		simd_reply_simple(inst_fd, SIMWIRE_ERR_BAD_PARAMETERS,
				  SIMWIRE_ORIGIN_COMMS, NULL);
		return;
	}
	if (params_in(&req.op, payload + sizeof(req), &ip)) {
		params_free(&ip);
		simd_reply_simple(inst_fd, SIMWIRE_ERR_OUT_OF_MEMORY,
				  SIMWIRE_ORIGIN_TEE, NULL);
		return;
	}
	in_request = 1;
	atomic_fetch_add(&sim_counters->ta_invocations, 1);
	res = TA_InvokeCommandEntryPoint(sess_ctx, req.cmd,
					 req.op.param_types, ip.tp);
	reply_params(res, SIMWIRE_ORIGIN_TRUSTED_APP, 0, &req.op, &ip);
	in_request = 0;
	params_free(&ip);
}

static void session_loop(void) __attribute__((noreturn));
static void session_loop(void)
{
	for (;;) {
		struct simwire_hdr hdr;
		uint8_t *payload;
		int r;

		wait_request();
		r = simwire_recv_hdr(inst_fd, &hdr);
		if (r) {
			/* Client closed (or died), or spoke nonsense. */
			if (r < 0 && errno == EPROTO)
				simd_log("session %d: malformed message "
					 "header; closing the session",
					 (int)getpid());
			end_session();
			_exit(0);
		}
		payload = read_payload(hdr.len);
		if (!payload) {
			end_session();
			_exit(0);
		}
		switch (hdr.type) {
		case SIMWIRE_INVOKE:
			handle_invoke(payload, hdr.len);
			break;
		case SIMWIRE_CLOSE_SESSION:
			free(payload);
			in_request = 1;
			end_session();
			simd_reply_simple(inst_fd, SIMWIRE_SUCCESS,
					  SIMWIRE_ORIGIN_TEE, NULL);
			_exit(0);
		default:
			simd_reply_simple(inst_fd, SIMWIRE_ERR_BAD_PARAMETERS,
					  SIMWIRE_ORIGIN_COMMS, NULL);
			break;
		}
		free(payload);
	}
}

static void open_session(const uint8_t *payload, uint32_t len,
			 const struct ucred *cr, int slot)
	__attribute__((noreturn));
static void open_session(const uint8_t *payload, uint32_t len,
			 const struct ucred *cr, int slot)
{
	static const TEE_UUID ta_uuid = OTLS_TA_UUID;
	struct sim_instance_config cfg;
	struct simwire_open_req req;
	struct inst_params ip;
	struct sigaction sa;
	char uuid_text[37];
	uint8_t ta_octets[16];
	uint32_t err;
	TEE_Result res;

	if (len < sizeof(req)) {
		simd_reply_simple(inst_fd, SIMWIRE_ERR_BAD_PARAMETERS,
				  SIMWIRE_ORIGIN_COMMS, NULL);
		_exit(0);
	}
	memcpy(&req, payload, sizeof(req));
	if (simwire_op_check(&req.op) ||
	    len != sizeof(req) + simwire_op_in_len(&req.op)) {
		simd_reply_simple(inst_fd, SIMWIRE_ERR_BAD_PARAMETERS,
				  SIMWIRE_ORIGIN_COMMS, NULL);
		_exit(0);
	}

	memset(&cfg, 0, sizeof(cfg));
	err = client_identity(inst_fd, cr, req.login, req.gid, &cfg.client,
			      uuid_text);
	if (err != SIMWIRE_SUCCESS) {
		if (simd_cfg.verbose)
			simd_log("open refused: login %u by uid %u: 0x%x",
				 req.login, (unsigned int)cr->uid, err);
		simd_reply_simple(inst_fd, err, SIMWIRE_ORIGIN_COMMS, NULL);
		_exit(0);
	}

	ta_octets[0] = (uint8_t)(ta_uuid.timeLow >> 24);
	ta_octets[1] = (uint8_t)(ta_uuid.timeLow >> 16);
	ta_octets[2] = (uint8_t)(ta_uuid.timeLow >> 8);
	ta_octets[3] = (uint8_t)ta_uuid.timeLow;
	ta_octets[4] = (uint8_t)(ta_uuid.timeMid >> 8);
	ta_octets[5] = (uint8_t)ta_uuid.timeMid;
	ta_octets[6] = (uint8_t)(ta_uuid.timeHiAndVersion >> 8);
	ta_octets[7] = (uint8_t)ta_uuid.timeHiAndVersion;
	memcpy(ta_octets + 8, ta_uuid.clockSeqAndNode, 8);
	if (simd_cfg.without_ta || memcmp(req.uuid, ta_octets, 16)) {
		char want[37];

		uuid_str(want, req.uuid);
		if (simd_cfg.verbose)
			simd_log("open refused: TA %s is not installed", want);
		simd_reply_simple(inst_fd, SIMWIRE_ERR_ITEM_NOT_FOUND,
				  SIMWIRE_ORIGIN_TEE, NULL);
		_exit(0);
	}

	/* From here on this process is a TA instance. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;	/* no SA_RESTART: wakes ppoll() */
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&simd_shared->slots[slot].is_ta, 1);
	if (simd_cfg.verbose)
		simd_log("session: instance %d for client pid %d uid %u gid %u, "
			 "login %u, client identity %s", (int)getpid(),
			 (int)cr->pid, (unsigned int)cr->uid,
			 (unsigned int)cr->gid, req.login, uuid_text);

	cfg.store_dir = simd_cfg.store_dir;
	memcpy(cfg.huk, simd_cfg.huk, sizeof(cfg.huk));
	cfg.ta_uuid = ta_uuid;
	cfg.core_mbedtls = simd_cfg.core_mbedtls;
	sim_instance_init(&cfg);

	in_request = 1;
	res = TA_CreateEntryPoint();
	if (res != TEE_SUCCESS) {
		simd_reply_simple(inst_fd, res, SIMWIRE_ORIGIN_TRUSTED_APP,
				  NULL);
		_exit(0);
	}
	if (params_in(&req.op, payload + sizeof(req), &ip)) {
		TA_DestroyEntryPoint();
		simd_reply_simple(inst_fd, SIMWIRE_ERR_OUT_OF_MEMORY,
				  SIMWIRE_ORIGIN_TEE, NULL);
		_exit(0);
	}
	res = TA_OpenSessionEntryPoint(req.op.param_types, ip.tp, &sess_ctx);
	if (res != TEE_SUCCESS) {
		TA_DestroyEntryPoint();
		reply_params(res, SIMWIRE_ORIGIN_TRUSTED_APP, 0, &req.op, &ip);
		_exit(0);
	}
	session_open = 1;
	atomic_fetch_add(&sim_counters->sessions_opened, 1);
	if (reply_params(TEE_SUCCESS, SIMWIRE_ORIGIN_TRUSTED_APP,
			 (uint32_t)getpid(), &req.op, &ip)) {
		end_session();
		_exit(0);
	}
	in_request = 0;
	params_free(&ip);
	session_loop();
}

void simd_serve_connection(int fd, int slot)
{
	struct simwire_hdr hdr;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	uint8_t *payload;
	int r;

	inst_fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen)) {
		simd_log("SO_PEERCRED: %s", strerror(errno));
		_exit(1);
	}
	r = simwire_recv_hdr(fd, &hdr);
	if (r == 1)
		_exit(0);
	if (r < 0) {
		simd_log("dropping a connection from pid %d: %s",
			 (int)cr.pid, errno == EPROTO ?
				"not a simwire message" : strerror(errno));
		_exit(0);
	}
	payload = read_payload(hdr.len);
	if (!payload)
		_exit(0);

	switch (hdr.type) {
	case SIMWIRE_OPEN_SESSION:
		open_session(payload, hdr.len, &cr, slot);
	case SIMWIRE_CTL_PING:
	case SIMWIRE_CTL_STATS:
	case SIMWIRE_CTL_INSTANCES:
	case SIMWIRE_CTL_PANIC_INSTANCES:
		free(payload);
		simd_ctl_handle(fd, hdr.type, hdr.len, cr.uid);
	default:
		simd_log("dropping a connection from pid %d: first message "
			 "has type %u", (int)cr.pid, hdr.type);
		simd_reply_simple(fd, SIMWIRE_ERR_BAD_PARAMETERS,
				  SIMWIRE_ORIGIN_COMMS, NULL);
		_exit(0);
	}
}
