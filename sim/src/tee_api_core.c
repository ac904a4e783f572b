// SPDX-License-Identifier: BSD-2-Clause
/*
 * Host Internal Core API: instance state, panic, trace, memory, properties,
 * random numbers, time.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sim_runtime.h"
#include "tee_api_private.h"

struct sim_api_state sim_api;

/*
 * Defaults for a process without the daemon (the API's own tests). The
 * daemon's strong definitions win at link time.
 */
__attribute__((weak)) struct sim_counters *sim_counters;

__attribute__((weak, noreturn)) void sim_instance_panic(uint32_t code)
{
	fprintf(stderr, "tee-sim: TA panic 0x%08" PRIx32 " (no daemon: abort)\n",
		code);
	abort();
}

void sim_instance_init(const struct sim_instance_config *cfg)
{
	free(sim_api.store_dir);
	memset(&sim_api, 0, sizeof(sim_api));
	sim_api.store_dir = strdup(cfg->store_dir ? cfg->store_dir : ".");
	if (!sim_api.store_dir)
		abort();
	memcpy(sim_api.huk, cfg->huk, sizeof(sim_api.huk));
	sim_api.ta_uuid = cfg->ta_uuid;
	sim_api.client = cfg->client;
	sim_api.core_mbedtls = cfg->core_mbedtls != 0;
	sim_api.initialized = true;
}

void sim_count(enum sim_counter c)
{
	if (!sim_counters)
		return;
	switch (c) {
	case SIM_CNT_OPENS:
		atomic_fetch_add(&sim_counters->storage_opens, 1);
		break;
	case SIM_CNT_CREATES:
		atomic_fetch_add(&sim_counters->storage_creates, 1);
		break;
	case SIM_CNT_DELETES:
		atomic_fetch_add(&sim_counters->storage_deletes, 1);
		break;
	}
}

void sim_free_secret(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* ---- Panic and trace ------------------------------------------------ */

void TEE_Panic(TEE_Result panicCode)
{
	fprintf(stderr, "E/TA: TEE_Panic(0x%08" PRIx32 ")\n", panicCode);
	fflush(stderr);
	sim_instance_panic(panicCode);
}

static int trace_level(void)
{
	static int level = -1;

	if (level < 0) {
		const char *s = getenv("OPTEE_SIM_TA_LOG");

		level = (s && *s) ? atoi(s) : TRACE_INFO;
	}
	return level;
}

void sim_trace_printf(int level, const char *func, int line, int raw,
		      const char *fmt, ...)
{
	static const char tag[] = "?EIDF";
	char buf[1024];
	int n = 0;
	va_list ap;

	if (level > trace_level())
		return;
	if (!raw)
		n = snprintf(buf, sizeof(buf), "%c/TA:  %s:%d ",
			     tag[level > 0 && level < 5 ? level : 0], func, line);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per message so concurrent instances don't interleave. */
	fprintf(stderr, raw ? "%s" : "%s\n", buf);
}

/* ---- Memory ------------------------------------------------------------ */

/* Zero-sized allocations return a non-NULL pointer that faults if used. */
#define SIM_NULL_SIZED_VA	((void *)1)

void *TEE_Malloc(size_t size, uint32_t hint)
{
	switch (hint) {
	case TEE_MALLOC_FILL_ZERO:
	case TEE_MALLOC_NO_SHARE:
		return size ? calloc(1, size) : SIM_NULL_SIZED_VA;
	case TEE_MALLOC_NO_FILL:
		/* OP-TEE panics on NO_FILL without NO_SHARE. */
		EMSG("TEE_MALLOC_NO_FILL alone is not accepted");
		TEE_Panic(0);
	case TEE_MALLOC_NO_FILL | TEE_MALLOC_NO_SHARE:
	case TEE_USER_MEM_HINT_NO_FILL_ZERO:
		return size ? malloc(size) : SIM_NULL_SIZED_VA;
	default:
		EMSG("invalid TEE_Malloc hint 0x%08" PRIx32, hint);
		return NULL;
	}
}

void *TEE_Realloc(void *buffer, size_t newSize)
{
	size_t old = 0;
	uint8_t *p;

	if (buffer == SIM_NULL_SIZED_VA)
		buffer = NULL;
	if (!newSize) {
		free(buffer);
		return SIM_NULL_SIZED_VA;
	}
	if (buffer)
		old = malloc_usable_size(buffer);
	p = realloc(buffer, newSize);
	/* Grown bytes are zeroed, as OP-TEE does. */
	if (p && newSize > old)
		memset(p + old, 0, newSize - old);
	return p;
}

void TEE_Free(void *buffer)
{
	if (buffer != SIM_NULL_SIZED_VA)
		free(buffer);
}

void TEE_MemMove(void *dest, const void *src, size_t size)
{
	memmove(dest, src, size);
}

/* Constant time in the contents: only the size matters. */
int32_t TEE_MemCompare(const void *buffer1, const void *buffer2, size_t size)
{
	const uint8_t *a = buffer1;
	const uint8_t *b = buffer2;
	int32_t res = 0;
	size_t n;

	for (n = size; n > 0; n--) {
		int32_t d = (int32_t)a[n - 1] - (int32_t)b[n - 1];
		/* d != 0 overrides: the earliest difference wins. */
		int32_t mask = -(int32_t)(d != 0);

		res = (res & ~mask) | (d & mask);
	}
	return res > 0 ? 1 : (res < 0 ? -1 : 0);
}

void TEE_MemFill(void *buff, uint32_t x, size_t size)
{
	memset(buff, (int)(uint8_t)x, size);
}

TEE_Result TEE_CheckMemoryAccessRights(uint32_t accessFlags, void *buffer,
				       size_t size)
{
	(void)accessFlags;
	(void)buffer;
	(void)size;
	/* One address space on the host: every TA buffer is accessible. */
	return TEE_SUCCESS;
}

static const void *instance_data;

void TEE_SetInstanceData(const void *instanceData)
{
	instance_data = instanceData;
}

const void *TEE_GetInstanceData(void)
{
	return instance_data;
}

/* ---- Cancellation (never requested in the simulator) ------------------- */

static bool cancel_masked = true;

bool TEE_GetCancellationFlag(void)
{
	return false;
}

bool TEE_UnmaskCancellation(void)
{
	bool old = cancel_masked;

	cancel_masked = false;
	return old;
}

bool TEE_MaskCancellation(void)
{
	bool old = cancel_masked;

	cancel_masked = true;
	return old;
}

/* ---- Properties -------------------------------------------------------- */

enum prop_kind { P_BOOL, P_U32, P_STRING, P_UUID, P_IDENTITY };

struct prop {
	enum prop_kind kind;
	bool b;
	uint32_t u32;
	const char *str;
	TEE_UUID uuid;
	TEE_Identity id;
};

static bool prop_find(TEE_PropSetHandle set, const char *name, struct prop *p)
{
	memset(p, 0, sizeof(*p));
	if (set == TEE_PROPSET_CURRENT_TA) {
		if (!strcmp(name, "gpd.ta.appID")) {
			p->kind = P_UUID;
			p->uuid = sim_api.ta_uuid;
		} else if (!strcmp(name, "gpd.ta.singleInstance") ||
			   !strcmp(name, "gpd.ta.multiSession") ||
			   !strcmp(name, "gpd.ta.instanceKeepAlive")) {
			/* One process per session: a multi-instance TA. */
			p->kind = P_BOOL;
		} else if (!strcmp(name, "gpd.ta.dataSize")) {
			p->kind = P_U32;
			p->u32 = 1024 * 1024;
		} else if (!strcmp(name, "gpd.ta.stackSize")) {
			p->kind = P_U32;
			p->u32 = 64 * 1024;
		} else {
			return false;
		}
	} else if (set == TEE_PROPSET_CURRENT_CLIENT) {
		if (!strcmp(name, "gpd.client.identity")) {
			p->kind = P_IDENTITY;
			p->id = sim_api.client;
		} else if (!strcmp(name, "gpd.client.endian")) {
			p->kind = P_U32;
		} else {
			return false;
		}
	} else if (set == TEE_PROPSET_TEE_IMPLEMENTATION) {
		if (!strcmp(name, "gpd.tee.apiversion")) {
			p->kind = P_STRING;
			p->str = "1.3.1";
		} else if (!strcmp(name, "gpd.tee.internalCore.version")) {
			p->kind = P_U32;
			p->u32 = TEE_CORE_API_VERSION;
		} else if (!strcmp(name, "gpd.tee.description")) {
			p->kind = P_STRING;
			p->str = "optee-tls host TEE simulator";
		} else if (!strcmp(name, "gpd.tee.cryptography.ecc")) {
			p->kind = P_BOOL;
			p->b = true;
		} else if (!strcmp(name,
			   "gpd.tee.trustedStorage.antiRollback.protectionLevel")) {
			p->kind = P_U32;	/* no rollback protection */
		} else {
			return false;
		}
	} else {
		/* Property enumerators are not simulated. */
		EMSG("invalid property set handle %p", (void *)set);
		TEE_Panic(0);
	}
	return true;
}

static void uuid_to_str(const TEE_UUID *u, char out[37])
{
	snprintf(out, 37, "%08" PRIx32 "-%04" PRIx16 "-%04" PRIx16
		 "-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u->timeLow, u->timeMid, u->timeHiAndVersion,
		 u->clockSeqAndNode[0], u->clockSeqAndNode[1],
		 u->clockSeqAndNode[2], u->clockSeqAndNode[3],
		 u->clockSeqAndNode[4], u->clockSeqAndNode[5],
		 u->clockSeqAndNode[6], u->clockSeqAndNode[7]);
}

TEE_Result TEE_GetPropertyAsString(TEE_PropSetHandle propsetOrEnumerator,
				   const char *name, char *valueBuffer,
				   size_t *valueBufferLen)
{
	char tmp[64];
	const char *s = tmp;
	struct prop p;
	size_t need;

	if (!name || !valueBufferLen)
		TEE_Panic(0);
	if (!prop_find(propsetOrEnumerator, name, &p))
		return TEE_ERROR_ITEM_NOT_FOUND;
	switch (p.kind) {
	case P_BOOL:
		s = p.b ? "true" : "false";
		break;
	case P_U32:
		snprintf(tmp, sizeof(tmp), "%" PRIu32, p.u32);
		break;
	case P_STRING:
		s = p.str;
		break;
	case P_UUID:
		uuid_to_str(&p.uuid, tmp);
		break;
	case P_IDENTITY: {
		char u[37];

		uuid_to_str(&p.id.uuid, u);
		snprintf(tmp, sizeof(tmp), "%" PRIu32 ":%s", p.id.login, u);
		break;
	}
	}
	need = strlen(s) + 1;
	if (!valueBuffer || *valueBufferLen < need) {
		*valueBufferLen = need;
		return TEE_ERROR_SHORT_BUFFER;
	}
	memcpy(valueBuffer, s, need);
	*valueBufferLen = need;
	return TEE_SUCCESS;
}

TEE_Result TEE_GetPropertyAsBool(TEE_PropSetHandle propsetOrEnumerator,
				 const char *name, bool *value)
{
	struct prop p;

	if (!name || !value)
		TEE_Panic(0);
	if (!prop_find(propsetOrEnumerator, name, &p))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (p.kind != P_BOOL)
		return TEE_ERROR_BAD_FORMAT;
	*value = p.b;
	return TEE_SUCCESS;
}

TEE_Result TEE_GetPropertyAsU32(TEE_PropSetHandle propsetOrEnumerator,
				const char *name, uint32_t *value)
{
	struct prop p;

	if (!name || !value)
		TEE_Panic(0);
	if (!prop_find(propsetOrEnumerator, name, &p))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (p.kind != P_U32)
		return TEE_ERROR_BAD_FORMAT;
	*value = p.u32;
	return TEE_SUCCESS;
}

TEE_Result TEE_GetPropertyAsU64(TEE_PropSetHandle propsetOrEnumerator,
				const char *name, uint64_t *value)
{
	uint32_t v = 0;
	TEE_Result res = TEE_GetPropertyAsU32(propsetOrEnumerator, name, &v);

	if (res == TEE_SUCCESS)
		*value = v;
	return res;
}

TEE_Result TEE_GetPropertyAsUUID(TEE_PropSetHandle propsetOrEnumerator,
				 const char *name, TEE_UUID *value)
{
	struct prop p;

	if (!name || !value)
		TEE_Panic(0);
	if (!prop_find(propsetOrEnumerator, name, &p))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (p.kind != P_UUID)
		return TEE_ERROR_BAD_FORMAT;
	*value = p.uuid;
	return TEE_SUCCESS;
}

TEE_Result TEE_GetPropertyAsIdentity(TEE_PropSetHandle propsetOrEnumerator,
				     const char *name, TEE_Identity *value)
{
	struct prop p;

	if (!name || !value)
		TEE_Panic(0);
	if (!prop_find(propsetOrEnumerator, name, &p))
		return TEE_ERROR_ITEM_NOT_FOUND;
	if (p.kind != P_IDENTITY)
		return TEE_ERROR_BAD_FORMAT;
	*value = p.id;
	return TEE_SUCCESS;
}

/* ---- Random numbers ---------------------------------------------------- */

void TEE_GenerateRandom(void *randomBuffer, size_t randomBufferLen)
{
	if (!randomBufferLen)
		return;
	if (!randomBuffer || randomBufferLen > INT32_MAX ||
	    RAND_bytes(randomBuffer, (int)randomBufferLen) != 1)
		TEE_Panic(TEE_ERROR_GENERIC);
}

/* ---- Time -------------------------------------------------------------- */

static void time_from_clock(clockid_t id, TEE_Time *t)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	t->seconds = (uint32_t)ts.tv_sec;
	t->millis = (uint32_t)(ts.tv_nsec / 1000000);
}

void TEE_GetSystemTime(TEE_Time *time)
{
	time_from_clock(CLOCK_MONOTONIC, time);
}

void TEE_GetREETime(TEE_Time *time)
{
	time_from_clock(CLOCK_REALTIME, time);
}

TEE_Result TEE_Wait(uint32_t timeout)
{
	struct timespec ts = {
		.tv_sec = timeout / 1000,
		.tv_nsec = (long)(timeout % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return TEE_SUCCESS;
}
