/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A scripted GP TEE Client API for tests/test_client_fake.py: LD_PRELOADed
 * in front of the real libteec, it lets a test play a TEE (or a buggy or
 * malicious TA) that answers whatever the test wants, which the simulator
 * (running the real TA) never does.
 *
 * Environment:
 *   FAKE_TEEC_INIT    hex TEEC_Result of TEEC_InitializeContext (default 0)
 *   FAKE_TEEC_OPEN    results of TEEC_OpenSession, used in order, the
 *                     last one repeated: "R1;R2;..." with each result
 *                     "RES:ORIGIN" (default 0:4)
 *   FAKE_TEEC_INVOKE  replies of TEEC_InvokeCommand, used in order, the
 *                     last one repeated: "R1;R2;..." with each reply
 *                     "RES:ORIGIN[:SIZE[:HEX[:A,B]]]" (RES hex, others
 *                     decimal): SIZE is written into the size of the
 *                     command's output memref (the last *_OUTPUT/INOUT
 *                     tmpref) and HEX copied into its buffer, as libteec
 *                     does: only if SIZE fits the size the caller gave
 *                     (never more than that many bytes). A,B go to a
 *                     VALUE_OUTPUT parameter. "-" keeps a field as it is.
 *   FAKE_TEEC_LOG     file that gets one line per call: "PID init|fini|
 *                     open|close|invoke CMD".
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tee_client_api.h>

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned next_reply;
static unsigned next_open;

static void logf_(const char *fmt, unsigned v)
{
	const char *path = getenv("FAKE_TEEC_LOG");
	char line[128];
	int fd, n;

	if (!path)
		return;
	n = snprintf(line, sizeof(line), "%d ", (int)getpid());
	n += snprintf(line + n, sizeof(line) - (size_t)n, fmt, v);
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) {
			/* nothing to do */
		}
		close(fd);
	}
}

static uint32_t hexnum(const char *s, uint32_t dflt)
{
	return s && *s ? (uint32_t)strtoul(s, NULL, 16) : dflt;
}

EXPORT TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *ctx)
{
	(void)name;
	memset(ctx, 0, sizeof(*ctx));
	logf_("init", 0);
	return hexnum(getenv("FAKE_TEEC_INIT"), 0);
}

EXPORT void TEEC_FinalizeContext(TEEC_Context *ctx)
{
	(void)ctx;
	logf_("fini", 0);
}

EXPORT TEEC_Result TEEC_OpenSession(TEEC_Context *ctx, TEEC_Session *sess,
				    const TEEC_UUID *uuid, uint32_t method,
				    const void *data, TEEC_Operation *op,
				    uint32_t *origin)
{
	const char *s = getenv("FAKE_TEEC_OPEN");
	uint32_t res = 0, org = TEEC_ORIGIN_TRUSTED_APP;

	(void)ctx;
	(void)uuid;
	(void)method;
	(void)data;
	(void)op;
	memset(sess, 0, sizeof(*sess));
	if (s && *s) {
		const char *c;
		unsigned i;

		pthread_mutex_lock(&mu);
		/* Skip to this call's result; stay on the last one. */
		for (i = 0; i < next_open; i++) {
			const char *semi = strchr(s, ';');

			if (!semi)
				break;
			s = semi + 1;
		}
		next_open++;
		pthread_mutex_unlock(&mu);
		c = strchr(s, ':');
		res = (uint32_t)strtoul(s, NULL, 16);
		if (c)
			org = (uint32_t)strtoul(c + 1, NULL, 10);
	}
	if (origin)
		*origin = org;
	logf_("open", 0);
	return res;
}

EXPORT void TEEC_CloseSession(TEEC_Session *sess)
{
	(void)sess;
	logf_("close", 0);
}

static int unhex(const char *s, size_t n, unsigned char *out, size_t max)
{
	size_t i;

	for (i = 0; 2 * i + 1 < n && i < max; i++) {
		char b[3] = { s[2 * i], s[2 * i + 1], 0 };

		out[i] = (unsigned char)strtoul(b, NULL, 16);
	}
	return (int)i;
}

EXPORT TEEC_Result TEEC_InvokeCommand(TEEC_Session *sess, uint32_t cmd,
				      TEEC_Operation *op, uint32_t *origin)
{
	const char *script = getenv("FAKE_TEEC_INVOKE");
	char reply[8192], *f[5] = { 0 };
	unsigned idx, k;
	uint32_t res;
	int out = -1, val = -1;

	(void)sess;
	logf_("invoke %u", cmd);
	if (!script || !*script) {
		if (origin)
			*origin = TEEC_ORIGIN_TRUSTED_APP;
		return TEEC_SUCCESS;
	}
	pthread_mutex_lock(&mu);
	idx = next_reply++;
	pthread_mutex_unlock(&mu);

	/* pick reply idx (or the last one) */
	for (k = 0;; k++) {
		const char *end = strchr(script, ';');

		if (k == idx || !end) {
			size_t n = end ? (size_t)(end - script) : strlen(script);

			if (n >= sizeof(reply))
				n = sizeof(reply) - 1;
			memcpy(reply, script, n);
			reply[n] = 0;
			break;
		}
		script = end + 1;
	}
	f[0] = reply;
	for (k = 1; k < 5; k++) {
		char *c = strchr(f[k - 1], ':');

		if (!c)
			break;
		*c = 0;
		f[k] = c + 1;
	}
	res = (uint32_t)strtoul(f[0], NULL, 16);
	if (origin)
		*origin = f[1] ? (uint32_t)strtoul(f[1], NULL, 10) :
			  TEEC_ORIGIN_TRUSTED_APP;

	for (k = 0; k < 4; k++) {
		uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, k);

		if (t == TEEC_MEMREF_TEMP_OUTPUT || t == TEEC_MEMREF_TEMP_INOUT)
			out = (int)k;
		if (t == TEEC_VALUE_OUTPUT || t == TEEC_VALUE_INOUT)
			val = (int)k;
	}
	if (out >= 0 && f[2] && strcmp(f[2], "-")) {
		TEEC_TempMemoryReference *t = &op->params[out].tmpref;
		size_t size = strtoul(f[2], NULL, 10);

		if (size <= t->size && t->buffer && f[3] && strcmp(f[3], "-"))
			unhex(f[3], strlen(f[3]), t->buffer, size);
		t->size = size;
	}
	if (val >= 0 && f[4]) {
		char *c = strchr(f[4], ',');

		op->params[val].value.a = (uint32_t)strtoul(f[4], NULL, 10);
		if (c)
			op->params[val].value.b = (uint32_t)strtoul(c + 1, NULL,
								    10);
	}
	return res;
}

/* Not used by libopteetls; here so that the preload is a complete API. */
EXPORT TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *ctx,
					     TEEC_SharedMemory *shm)
{
	(void)ctx;
	(void)shm;
	return TEEC_ERROR_NOT_SUPPORTED;
}

EXPORT TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *ctx,
					     TEEC_SharedMemory *shm)
{
	(void)ctx;
	(void)shm;
	return TEEC_ERROR_NOT_SUPPORTED;
}

EXPORT void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *shm)
{
	(void)shm;
}

EXPORT void TEEC_RequestCancellation(TEEC_Operation *op)
{
	(void)op;
}
